//! Security groups: rule counts, peers, directions, default groups.

use super::*;

#[test]
fn sg_rule_count_is_at_most_60_and_prefix_lists_count_their_size() {
    let rules = |n: usize| {
        (1..=n)
            .map(|i| format!("{{ protocol = \"tcp\", ports = {i}, source = \"0.0.0.0/0\" }}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    ok(&sg("sg-x", "", &rules(60)));
    expect(&sg("sg-x", "", &rules(61)), "sg-x.inbound:", "at most 60");
    let pl = "[[prefix_list]]\nid = \"pl-x\"\nentries = [\"10.9.0.0/16\"]\nmax_entries = 10\n";
    ok(&format!(
        "{pl}{}",
        sg(
            "sg-x",
            "",
            &format!("{}, {{ protocol = \"-1\", source = \"pl-x\" }}", rules(50))
        )
    ));
    let src = format!(
        "{pl}{}",
        sg(
            "sg-x",
            "",
            &format!("{}, {{ protocol = \"-1\", source = \"pl-x\" }}", rules(51))
        )
    );
    expect(&src, "sg-x.inbound:", "61 rules");
    assert_eq!(errors(&src).len(), 1);
}

#[test]
fn sg_peers_exist_and_groups_are_of_the_same_vpc() {
    expect(
        &sg("sg-x", "", "{ protocol = \"-1\", source = \"sg-nope\" }"),
        "sg-x.inbound[0].source:",
        "no security group with id `sg-nope`",
    );
    expect(
        &sg("sg-x", "", "{ protocol = \"-1\", source = \"pl-nope\" }"),
        "sg-x.inbound[0].source:",
        "no prefix list with id `pl-nope`",
    );
    // A group of another VPC: accepted, stale without an active peering (see
    // `sg_references_to_groups_of_other_vpcs_need_an_active_peering`).
    warns(
        &format!(
            "{OTHER_VPC}{}",
            sg("sg-x", "", "{ protocol = \"-1\", source = \"sg-b\" }")
        ),
        "sg-x.inbound[0].source:",
        "not peered",
    );
    expect(
        &sg("sg-x", "", "{ protocol = \"-1\", source = \"10.0.0.0\" }"),
        "sg-x.inbound[0].source:",
        "is not a CIDR",
    );
    // Itself, another group declared later, the implicit default group, a prefix list.
    ok(&format!(
        "[[prefix_list]]\nid = \"pl-x\"\nentries = [\"203.0.113.0/24\"]\n{}{}",
        sg(
            "sg-x",
            "",
            "{ protocol = \"-1\", source = \"sg-x\" }, { protocol = \"-1\", source = \"sg-y\" }, { protocol = \"-1\", source = \"sg-default-demo\" }, { protocol = \"tcp\", ports = 22, source = \"pl-x\" }"
        ),
        sg("sg-y", "", "")
    ));
}

#[test]
fn sg_rules_name_exactly_one_peer_of_their_direction() {
    expect(
        &sg("sg-x", "", "{ protocol = \"-1\" }"),
        "sg-x.inbound[0].source:",
        "missing source",
    );
    expect(
        &sg(
            "sg-x",
            "",
            "{ protocol = \"-1\", destination = \"0.0.0.0/0\" }",
        ),
        "sg-x.inbound[0].destination:",
        "inbound rules name a `source`",
    );
    expect(
        &sg(
            "sg-x",
            "outbound = [{ protocol = \"-1\", source = \"0.0.0.0/0\", destination = \"0.0.0.0/0\" }]\n",
            "",
        ),
        "sg-x.outbound[0].source:",
        "outbound rules name a `destination`",
    );
    expect(
        &sg("sg-x", "outbound = [{ protocol = \"-1\" }]\n", ""),
        "sg-x.outbound[0].destination:",
        "missing destination",
    );
}

#[test]
fn one_default_sg_per_vpc() {
    expect(
        &format!(
            "{}{}",
            sg("sg-x", "default = true\n", ""),
            sg("sg-y", "default = true\n", "")
        ),
        "sg-y.default:",
        "already has a default security group (sg-x)",
    );
}
