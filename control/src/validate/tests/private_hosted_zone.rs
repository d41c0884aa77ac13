//! Private hosted zones and `[lab] region`: ids, names, VPCs, record types and values,
//! duplicates.

use super::*;

fn zone(body: &str) -> String {
    format!("[[private_hosted_zone]]\nid = \"Zcorp\"\nname = \"corp.internal\"\nvpcs = [\"vpc-demo\"]\n{body}\n")
}

#[test]
fn a_good_zone_validates() {
    let (t, warnings) = ok(&zone(
        r#"records = [
            { name = "db", type = "A", values = ["10.0.3.10"] },
            { name = "www.corp.internal", type = "CNAME", values = ["db.corp.internal."] },
            { name = "@", type = "TXT", values = ["v=1"], ttl = 60 },
        ]"#,
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(t.private_hosted_zones[0].records.len(), 3);
    assert_eq!(
        t.private_hosted_zones[0].records[0].fqdn("corp.internal"),
        "db.corp.internal"
    );
}

#[test]
fn zone_errors_name_the_resource_and_field() {
    expect(
        "[[private_hosted_zone]]\nid = \"corp\"\nname = \"corp.internal\"\nvpcs = [\"vpc-demo\"]",
        "corp.id:",
        "not a hosted zone id",
    );
    expect(
        "[[private_hosted_zone]]\nid = \"Zx\"\nname = \"corp..internal\"\nvpcs = [\"vpc-demo\"]",
        "Zx.name:",
        "empty label",
    );
    expect(
        "[[private_hosted_zone]]\nid = \"Zx\"\nname = \"corp.internal\"\nvpcs = [\"vpc-nope\"]",
        "Zx.vpcs[0]:",
        "no VPC with id `vpc-nope`",
    );
    expect(
        "[[private_hosted_zone]]\nid = \"Zx\"\nname = \"corp.internal\"",
        "Zx.vpcs:",
        "at least one associated VPC",
    );
    expect(
        &format!(
            "{}\n[[private_hosted_zone]]\nid = \"Zy\"\nname = \"CORP.internal.\"\nvpcs = [\"vpc-demo\"]",
            zone("")
        ),
        "Zy.vpcs[0]:",
        "same name",
    );
    expect(
        &format!("{}\n{}", zone(""), zone("")),
        "Zcorp.id:",
        "used by another zone",
    );
    expect(&zone("unknown = 1"), "Zcorp.unknown:", "unknown field");
}

#[test]
fn record_errors_name_the_record_and_field() {
    let rec = |r: &str| zone(&format!("records = [{r}]"));
    expect(
        &rec(r#"{ name = "mx", type = "MX", values = ["10 mail"] }"#),
        "Zcorp.records[0].type:",
        "A, CNAME and TXT",
    );
    expect(
        &rec(r#"{ name = "db", type = "A", values = ["10.0.3"] }"#),
        "Zcorp.records[0].values[0]:",
        "not an IPv4 address",
    );
    expect(
        &rec(r#"{ name = "db", type = "A", values = [] }"#),
        "Zcorp.records[0].values:",
        "at least one value",
    );
    expect(
        &rec(r#"{ name = "bad name", type = "A", values = ["10.0.3.1"] }"#),
        "Zcorp.records[0].name:",
        "not allowed",
    );
    expect(
        &rec(&format!(
            r#"{{ name = "{}", type = "A", values = ["10.0.3.1"] }}"#,
            "a".repeat(64)
        )),
        "Zcorp.records[0].name:",
        "longer than 63",
    );
    expect(
        &rec(r#"{ name = "w", type = "CNAME", values = ["a.corp.internal", "b.corp.internal"] }"#),
        "Zcorp.records[0].values[1]:",
        "exactly one value",
    );
    expect(
        &rec(
            r#"{ name = "db", type = "A", values = ["10.0.3.1"] }, { name = "DB.corp.internal", type = "a", values = ["10.0.3.2"] }"#,
        ),
        "Zcorp.records[1].name:",
        "set twice",
    );
    expect(
        &rec(
            r#"{ name = "db", type = "A", values = ["10.0.3.1"] }, { name = "db", type = "CNAME", values = ["x.corp.internal"] }"#,
        ),
        "Zcorp.records[1].name:",
        "must be alone",
    );
    expect(
        &rec(r#"{ name = "db", type = "A", values = ["10.0.3.1"], ttl = -1 }"#),
        "Zcorp.records[0].ttl:",
        "within",
    );
}

#[test]
fn lab_region_is_checked() {
    ok("[lab]\nregion = \"eu-west-3\"");
    expect(
        "[lab]\nregion = \"Europe\"",
        "lab.region:",
        "not an AWS region",
    );
}
