//! Route tables and routes: destinations, local routes, targets, main tables.

use super::*;

#[test]
fn duplicate_destinations_in_one_table() {
    expect(
        "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{ destination = \"0.0.0.0/0\", target = \"blackhole\" }, { destination = \"0.0.0.1/0\", target = \"blackhole\" }]\n",
        "rtb-x.routes[1].destination:",
        "already the destination of routes[0]",
    );
}

#[test]
fn scenario_10_routes_more_specific_than_local() {
    ok(&rtb(
        r#"{ destination = "10.0.2.0/24", target = "eni-fw" }"#,
    ));
    expect(
        &rtb(r#"{ destination = "10.0.2.0/25", target = "eni-fw" }"#),
        "rtb-x.routes[0].destination:",
        "must equal the entire CIDR of a subnet",
    );
    expect(
        &rtb(r#"{ destination = "10.0.2.0/24", target = "blackhole" }"#),
        "rtb-x.routes[0].target:",
        "must target an ENI",
    );
}

#[test]
fn vpc_cidr_route_replaces_local_with_an_eni_only() {
    ok(&rtb(
        r#"{ destination = "10.0.0.0/16", target = "eni-fw" }"#,
    ));
    ok(&rtb(r#"{ destination = "10.0.0.0/16", target = "local" }"#));
    expect(
        &rtb(r#"{ destination = "10.0.0.0/16", target = "blackhole" }"#),
        "rtb-x.routes[0].target:",
        "only be replaced with an ENI",
    );
}

#[test]
fn local_target_only_for_a_vpc_cidr() {
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "local" }"#),
        "rtb-x.routes[0].target:",
        "`local` is only allowed",
    );
    expect(
        &rtb(r#"{ destination = "10.0.2.0/24", target = "local" }"#),
        "rtb-x.routes[0].target:",
        "`local` is only allowed",
    );
}

#[test]
fn link_local_service_routes_are_rejected() {
    for d in ["169.254.168.0/22", "169.254.169.0/24", "fd00:ec2::/40"] {
        expect(
            &rtb(&format!(
                "{{ destination = \"{d}\", target = \"blackhole\" }}"
            )),
            "rtb-x.routes[0].destination:",
            "reserved for AWS services",
        );
    }
    // A larger overlapping route is allowed.
    ok(&rtb(
        r#"{ destination = "169.254.0.0/16", target = "blackhole" }"#,
    ));
}

#[test]
fn ipv6_route_in_ipv4_only_vpc_is_accepted() {
    let (_, w) = ok(&rtb(r#"{ destination = "::/0", target = "eni-fw" }"#));
    assert!(w.is_empty());
}

#[test]
fn unsupported_and_unknown_targets() {
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "tgw-1" }"#),
        "rtb-x.routes[0].target:",
        "not supported yet",
    );
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "router" }"#),
        "rtb-x.routes[0].target:",
        "unknown target",
    );
}

#[test]
fn one_main_table_per_vpc() {
    expect(
        "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nmain = true\n[[route_table]]\nid = \"rtb-y\"\nvpc = \"vpc-demo\"\nmain = true\n",
        "rtb-y.main:",
        "already has a main route table (rtb-x)",
    );
}

#[test]
fn implicit_main_id_must_be_free() {
    expect(
        "[[route_table]]\nid = \"rtb-main-demo\"\nvpc = \"vpc-demo\"\n",
        "vpc-demo:",
        "is taken",
    );
}

/// VPC-7: one rule for every kind of target. A target id the file does not declare is an
/// error that names the table, the route's field and the fix; with `state = "blackhole"`
/// it is accepted (a deleted target, as AWS keeps it) without a warning.
#[test]
fn a_deleted_target_is_accepted_only_with_state_blackhole() {
    for (target, what) in [
        ("eni-gone", "ENI"),
        ("nat-gone", "NAT gateway"),
        ("igw-gone", "internet gateway"),
        ("pcx-gone", "peering connection"),
    ] {
        let route = |state: &str| {
            rtb(&format!(
                "{{ destination = \"0.0.0.0/0\", target = \"{target}\"{state} }}"
            ))
        };
        let errs = errors(&route(""));
        assert_eq!(
            errs,
            [format!(
                "rtb-x.routes[0].target: no {what} with id `{target}`; if it was deleted, keep the route as AWS does by writing `state = \"blackhole\"` on it (it then drops what it catches), or remove the route"
            )]
        );
        let (t, w) = ok(&route(", state = \"blackhole\""));
        assert!(w.is_empty(), "{target}: {w:?}");
        let r = &t.route_tables[0].routes[0];
        assert_eq!(
            (r.target.as_str(), r.state),
            (target, RouteState::Blackhole)
        );
        // `active` is the default, written or not.
        assert_eq!(errors(&route(", state = \"active\"")), errs);
    }
    // A deleted ENI or NAT gateway may still take a subnet's CIDR or the VPC's (as in AWS,
    // where the route outlives its target).
    ok(&rtb(
        r#"{ destination = "10.0.2.0/24", target = "nat-gone", state = "blackhole" }"#,
    ));
    ok(&rtb(
        r#"{ destination = "10.0.0.0/16", target = "eni-gone", state = "blackhole" }"#,
    ));
    // The target's form is still checked.
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "tgw-1", state = "blackhole" }"#),
        "rtb-x.routes[0].target:",
        "not supported yet",
    );
    expect(
        &rtb(r#"{ destination = "::/0", target = "nat-gone", state = "blackhole" }"#),
        "rtb-x.routes[0].destination:",
        "NAT64",
    );
    // Not a state AWS knows.
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "nat-gone", state = "deleted" }"#),
        "rtb-x.routes[0].state:",
        "unknown variant",
    );
}

/// `state = "blackhole"` on a route whose target exists and is available: an error on the
/// state field (AWS would show the route active), naming both ways out.
#[test]
fn state_blackhole_with_an_existing_target_is_an_error() {
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "eni-fw", state = "blackhole" }"#),
        "rtb-x.routes[0].state:",
        "eni-fw exists, so this route is active (AWS derives a route's state from its target): remove `state = \"blackhole\"`, or write `target = \"blackhole\"` to drop what this route catches",
    );
    expect(
        &format!(
            "{}{}",
            nat("nat-a", "connectivity = \"private\"\n"),
            rtb(r#"{ destination = "0.0.0.0/0", target = "nat-a", state = "blackhole" }"#)
        ),
        "rtb-x.routes[0].state:",
        "nat-a exists, so this route is active",
    );
    expect(
        &rtb(r#"{ destination = "10.0.0.0/16", target = "local", state = "blackhole" }"#),
        "rtb-x.routes[0].state:",
        "`local` (the VPC's own address space) exists",
    );
    // An explicit blackhole target is a blackhole: saying so is fine.
    ok(&rtb(
        r#"{ destination = "0.0.0.0/0", target = "blackhole", state = "blackhole" }"#,
    ));
}
