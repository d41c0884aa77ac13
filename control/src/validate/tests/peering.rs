//! VPC peering connections and the routes and security-group rules that use them.

use super::*;

#[test]
fn peerings_accept_the_documented_schema() {
    let (t, w) = ok(&format!(
        "{OTHER_VPC}{THIRD_VPC}{}{}{}{}",
        pcx(
            "pcx-ab",
            "vpc-demo",
            "vpc-b",
            "name = \"demo-b\"\nstatus = \"active\"\n"
        ),
        pcx("pcx-ac", "vpc-demo", "vpc-c", ""),
        table(
            "rtb-x",
            "vpc-demo",
            r#"{ destination = "10.1.0.0/16", target = "pcx-ab" }, { destination = "10.2.0.0/16", target = "pcx-ac" }"#
        ),
        table(
            "rtb-b",
            "vpc-b",
            r#"{ destination = "10.0.0.0/16", target = "pcx-ab" }"#
        ),
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(t.peering_connections.len(), 2);
    assert!(t.peering_connections.iter().all(|p| p.is_active()));
    // A bad status is reported for its resource and field, with the other problems.
    let errs = errors(&format!(
        "{OTHER_VPC}{}{}",
        pcx("pcx-ab", "vpc-demo", "vpc-b", "status = \"accepted\"\n"),
        pcx("pcx-x", "vpc-demo", "vpc-nope", "")
    ));
    assert!(
        errs.iter().any(|e| e.starts_with("pcx-ab.status:")
            && e.contains("`active`")
            && e.contains("`pending-acceptance`")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with("pcx-x.accepter_vpc:")),
        "{errs:?}"
    );
}

#[test]
fn peering_ids_carry_their_prefix_and_are_unique() {
    expect(
        &format!("{OTHER_VPC}{}", pcx("peer-1", "vpc-demo", "vpc-b", "")),
        "peer-1.id:",
        "must start with `pcx-` (the AWS id prefix of a VPC peering connection)",
    );
    expect(
        &format!("{OTHER_VPC}{}", pcx("pcx-", "vpc-demo", "vpc-b", "")),
        "pcx-.id:",
        "followed by letters",
    );
    expect(
        "[[peering_connection]]\nrequester_vpc = \"vpc-demo\"\n",
        "peering_connection[0].id:",
        "missing id",
    );
    expect(
        &format!(
            "{OTHER_VPC}{THIRD_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            pcx("pcx-1", "vpc-demo", "vpc-c", "")
        ),
        "pcx-1.id:",
        "duplicate id: peering_connection[1] reuses the id of peering_connection[0]",
    );
}

#[test]
fn peering_vpcs_must_exist() {
    expect(
        &pcx("pcx-1", "vpc-nope", "vpc-demo", ""),
        "pcx-1.requester_vpc:",
        "no VPC with id `vpc-nope`",
    );
    expect(
        &pcx("pcx-1", "vpc-demo", "vpc-nope", ""),
        "pcx-1.accepter_vpc:",
        "no VPC with id `vpc-nope`",
    );
    let errs = errors("[[peering_connection]]\nid = \"pcx-1\"\n");
    for needle in [
        "pcx-1.requester_vpc: missing requester_vpc",
        "pcx-1.accepter_vpc: missing accepter_vpc",
    ] {
        assert!(errs.iter().any(|e| e.starts_with(needle)), "{errs:?}");
    }
}

#[test]
fn peering_joins_two_different_vpcs() {
    expect(
        &pcx("pcx-1", "vpc-demo", "vpc-demo", ""),
        "pcx-1.accepter_vpc:",
        "vpc-demo is also the requester_vpc; a peering connection joins two different VPCs",
    );
}

#[test]
fn peered_vpcs_must_not_overlap() {
    // Primary against primary.
    expect(
        &format!(
            "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.128.0/17\"\n{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", "")
        ),
        "pcx-1.accepter_vpc:",
        "10.0.128.0/17 of vpc-b overlaps 10.0.0.0/16 of vpc-demo",
    );
    // A secondary block of either side.
    expect(
        &format!(
            "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\nsecondary_cidrs = [\"10.0.5.0/24\"]\n{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", "")
        ),
        "pcx-1.accepter_vpc:",
        "10.0.5.0/24 of vpc-b overlaps 10.0.0.0/16 of vpc-demo",
    );
    expect(
        &format!(
            "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\nsecondary_cidrs = [\"10.3.0.0/16\"]\n[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.3.0.0/20\"\n{}",
            pcx("pcx-1", "vpc-b", "vpc-c", "")
        ),
        "pcx-1.accepter_vpc:",
        "10.3.0.0/20 of vpc-c overlaps 10.3.0.0/16 of vpc-b",
    );
    // IPv6 blocks.
    expect(
        &format!(
            "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.2.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n{}",
            pcx("pcx-1", "vpc-b", "vpc-c", "")
        ),
        "pcx-1.accepter_vpc:",
        "2600:1f18:aa00:100::/56 of vpc-c overlaps 2600:1f18:aa00:100::/56 of vpc-b",
    );
    // A VPC may peer with two VPCs that overlap each other.
    ok(&format!(
        "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.1.0.0/16\"\n{}{}",
        pcx("pcx-1", "vpc-demo", "vpc-b", ""),
        pcx("pcx-2", "vpc-demo", "vpc-c", "")
    ));
}

#[test]
fn vpcs_that_are_not_peered_may_overlap() {
    // Same CIDRs, same subnet, same ENI address: isolated VPCs do not interfere.
    let (t, w) = ok(&format!(
        "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"10.1.0.0/16\"]\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n{}[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.0.1.10\"\nnetns = \"b\"\n",
        eni("eni-a", "10.0.1.10")
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(t.vpcs.len(), 2);
}

#[test]
fn one_peering_per_pair_of_vpcs() {
    expect(
        &format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            pcx(
                "pcx-2",
                "vpc-demo",
                "vpc-b",
                "status = \"pending-acceptance\"\n"
            )
        ),
        "pcx-2.accepter_vpc:",
        "vpc-demo and vpc-b are already peered by pcx-1",
    );
    // In the other direction too.
    expect(
        &format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            pcx("pcx-2", "vpc-b", "vpc-demo", "")
        ),
        "pcx-2.accepter_vpc:",
        "vpc-b and vpc-demo are already peered by pcx-1",
    );
}

#[test]
fn peering_route_target_must_join_the_tables_vpc() {
    // vpc-c's table cannot use the peering of vpc-demo and vpc-b (no transitive peering).
    expect(
        &format!(
            "{OTHER_VPC}{THIRD_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            table(
                "rtb-c",
                "vpc-c",
                r#"{ destination = "10.1.0.0/16", target = "pcx-1" }"#
            )
        ),
        "rtb-c.routes[0].target:",
        "pcx-1 joins vpc-demo and vpc-b, but this route table belongs to vpc-c",
    );
    // Both ends may route to it.
    ok(&format!(
        "{OTHER_VPC}{}{}{}",
        pcx("pcx-1", "vpc-demo", "vpc-b", ""),
        table(
            "rtb-a",
            "vpc-demo",
            r#"{ destination = "10.1.0.0/16", target = "pcx-1" }"#
        ),
        table(
            "rtb-b",
            "vpc-b",
            r#"{ destination = "10.0.0.0/16", target = "pcx-1" }"#
        )
    ));
}

#[test]
fn peering_is_not_a_target_inside_the_vpc() {
    let routes = |d: &str| {
        format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            table(
                "rtb-x",
                "vpc-demo",
                &format!("{{ destination = \"{d}\", target = \"pcx-1\" }}")
            )
        )
    };
    // Equal to the VPC's CIDR (replacing the local route).
    expect(
        &routes("10.0.0.0/16"),
        "rtb-x.routes[0].target:",
        "10.0.0.0/16 is a CIDR of vpc-demo: a peering connection (pcx-1) is not a valid target",
    );
    // A subnet's CIDR, or any other range inside the VPC.
    for d in ["10.0.1.0/24", "10.0.9.0/24", "10.0.1.10/32"] {
        expect(
            &routes(d),
            "rtb-x.routes[0].target:",
            "is more specific than the local route 10.0.0.0/16: a peering connection (pcx-1) is not a valid target",
        );
    }
    // Inside a secondary CIDR too.
    expect(
        &format!(
            "{OTHER_VPC}[[vpc]]\nid = \"vpc-s\"\ncidr = \"10.5.0.0/16\"\nsecondary_cidrs = [\"10.6.0.0/16\"]\n{}{}",
            pcx("pcx-1", "vpc-s", "vpc-b", ""),
            table("rtb-s", "vpc-s", r#"{ destination = "10.6.1.0/24", target = "pcx-1" }"#)
        ),
        "rtb-s.routes[0].target:",
        "more specific than the local route 10.6.0.0/16",
    );
    // A wider range that covers the VPC is fine: the local route is more specific.
    let (_, w) = ok(&routes("10.0.0.0/8"));
    assert!(w.is_empty(), "{w:?}");
}

/// VPC-7: a deleted peering follows the rule of every deleted target (it used to be a
/// warning on its own): an error unless the route says `state = "blackhole"`.
#[test]
fn route_to_an_undeclared_peering_needs_state_blackhole() {
    let route = |state: &str| {
        table(
            "rtb-x",
            "vpc-demo",
            &format!("{{ destination = \"10.1.0.0/16\", target = \"pcx-gone\"{state} }}"),
        )
    };
    expect(
        &route(""),
        "rtb-x.routes[0].target:",
        "no peering connection with id `pcx-gone`; if it was deleted, keep the route as AWS does by writing `state = \"blackhole\"`",
    );
    let (t, w) = ok(&route(", state = \"blackhole\""));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(t.route_tables[0].routes[0].state, RouteState::Blackhole);
    // A peering that failed to parse is reported as such, not as deleted.
    let errs = errors(&format!(
        "{OTHER_VPC}{}{}",
        pcx("pcx-1", "vpc-demo", "vpc-b", "status = 1\n"),
        table(
            "rtb-x",
            "vpc-demo",
            r#"{ destination = "10.1.0.0/16", target = "pcx-1" }"#
        )
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("pcx-1.status:"), "{errs:?}");
}

#[test]
fn route_to_a_pending_peering_warns_that_it_is_a_blackhole() {
    let src = |state: &str| {
        format!(
            "{OTHER_VPC}{}{}",
            pcx(
                "pcx-1",
                "vpc-demo",
                "vpc-b",
                "status = \"pending-acceptance\"\n"
            ),
            table(
                "rtb-x",
                "vpc-demo",
                &format!("{{ destination = \"10.1.0.0/16\", target = \"pcx-1\"{state} }}")
            )
        )
    };
    warns(
        &src(""),
        "rtb-x.routes[0].target:",
        "pcx-1 is pending-acceptance: the route is a blackhole until it is accepted",
    );
    // The route that says so is what AWS shows: no warning.
    let (_, w) = ok(&src(", state = \"blackhole\""));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn route_to_a_peering_outside_the_peer_cidrs_warns() {
    let src = |d: &str| {
        format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            table(
                "rtb-x",
                "vpc-demo",
                &format!("{{ destination = \"{d}\", target = \"pcx-1\" }}")
            )
        )
    };
    warns(
        &src("192.168.0.0/16"),
        "rtb-x.routes[0].target:",
        "192.168.0.0/16 holds no address of vpc-b (10.1.0.0/16): pcx-1 carries only traffic to the peer VPC's own CIDRs",
    );
    // Part of the peer, or a range that holds it: no warning.
    for d in ["10.1.1.0/24", "0.0.0.0/0"] {
        let (_, w) = ok(&src(d));
        assert!(w.is_empty(), "{d}: {w:?}");
    }
}

#[test]
fn sg_references_to_groups_of_other_vpcs_need_an_active_peering() {
    let rules = "{ protocol = \"tcp\", ports = 80, source = \"sg-b\" }";
    let out = "outbound = [{ protocol = \"-1\", destination = \"sg-b\" }]\n";
    // Active peering: a valid reference, no warning.
    let (_, w) = ok(&format!(
        "{OTHER_VPC}{}{}",
        pcx("pcx-1", "vpc-b", "vpc-demo", ""),
        sg("sg-x", out, rules)
    ));
    assert!(w.is_empty(), "{w:?}");
    // No peering: stale, in both directions.
    let src = format!("{OTHER_VPC}{}", sg("sg-x", out, rules));
    warns(
        &src,
        "sg-x.inbound[0].source:",
        "sg-x references sg-b of vpc-b, which is not peered with vpc-demo (no peering connection joins them): the rule matches nothing (stale)",
    );
    warns(
        &src,
        "sg-x.outbound[0].destination:",
        "matches nothing (stale)",
    );
    // A pending peering does not make the reference valid.
    warns(
        &format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", "status = \"pending-acceptance\"\n"),
            sg("sg-x", "", rules)
        ),
        "sg-x.inbound[0].source:",
        "(pcx-1 is pending-acceptance, and a reference needs an active peering): the rule matches nothing (stale)",
    );
    // The implicit default group of a peered VPC can be referenced too.
    let (_, w) = ok(&format!(
        "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n{}{}",
        pcx("pcx-1", "vpc-b", "vpc-demo", ""),
        sg(
            "sg-x",
            "",
            "{ protocol = \"-1\", source = \"sg-default-b\" }"
        )
    ));
    assert!(w.is_empty(), "{w:?}");
}
