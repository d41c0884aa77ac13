//! Limits: ids at most 64 characters, names and descriptions at most 255 characters of
//! one line, paths, route targets and counts.

use super::*;

#[test]
fn ids_have_at_most_64_characters() {
    let at_limit = format!("eni-{}", "a".repeat(ID_MAX_LEN - 4));
    ok(&eni(&at_limit, "10.0.1.10"));
    let long = format!("eni-{}", "a".repeat(100_000));
    let errs = errors(&eni_unattached(&long, "10.0.1.10"));
    // Named by position, not by the 100,000-character id, and reported once.
    assert!(
        errs.iter().any(|e| e.starts_with("eni[0].id:")
            && e.contains("100004 characters long; an id has at most 64")),
        "{errs:?}"
    );
    assert!(errs.iter().all(|e| e.len() < 500), "{errs:?}");
    let sg = format!("sg-{}", "b".repeat(65_536));
    expect(
        &super::sg(&sg, "", ""),
        "security_group[0].id:",
        "an id has at most 64",
    );
}

#[test]
fn names_and_descriptions_have_at_most_255_characters_of_one_line() {
    let name = "é".repeat(TEXT_MAX_LEN);
    ok(&format!(
        "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nname = \"{name}\"\n"
    ));
    ok(&sg(
        "sg-x",
        "name = \"日本 🦀 \\\" quote\"\ndescription = \"\"\n",
        "",
    ));
    expect(
        &format!(
            "{}name = \"{}\"\n",
            eni("eni-a", "10.0.1.10"),
            "x".repeat(256)
        ),
        "eni-a.name:",
        "256 characters is longer than 255",
    );
    expect(
        &sg(
            "sg-x",
            &format!("description = \"{}\"\n", "d".repeat(300)),
            "",
        ),
        "sg-x.description:",
        "300 characters is longer than 255",
    );
    expect(
        &sg(
            "sg-x",
            "",
            &format!("{{ protocol = \"tcp\", ports = \"22\", source = \"10.0.0.0/8\", description = \"{}\" }}", "r".repeat(256)),
        ),
        "sg-x.inbound[0].description:",
        "longer than 255",
    );
    expect(
        &sg("sg-x", "name = \"two\\nlines\"\n", ""),
        "sg-x.name:",
        "control character",
    );
}

#[test]
fn route_targets_and_counts_are_bounded() {
    let gone = format!("eni-{}", "g".repeat(70_000));
    expect(
        &rtb(&format!(
            "{{ destination = \"172.16.0.0/16\", target = \"{gone}\", state = \"blackhole\" }}"
        )),
        "rtb-x.routes[0].target:",
        "70004 characters is longer than 64",
    );
    let routes: Vec<String> = (0..=ROUTES_MAX)
        .map(|i| {
            format!(
                "{{ destination = \"172.{}.{}.0/24\", target = \"blackhole\" }}",
                16 + i / 256,
                i % 256
            )
        })
        .collect();
    expect(
        &rtb(&routes.join(", ")),
        "rtb-x.routes:",
        "1001 routes is longer than 1000",
    );
    expect(
        "[[prefix_list]]\nid = \"pl-x\"\nentries = [\"10.0.0.0/8\"]\nmax_entries = 1001\n",
        "pl-x.max_entries:",
        "at most 1000",
    );
}
