//! Tests of VPC peering's compilation: peerings, routes to them, security-group
//! references across them, secondary CIDRs and overlapping VPCs.

use dataplane::vpc::config::{PeeringConfig, PeeringIdx, PortRange, RouteTarget, SgPeer, VpcIdx};

use super::tests::rtb;
use super::units::idx;
use super::*;
use crate::compile_str;

/// Three VPCs: vpc-a peers with vpc-b (active) and with vpc-c (pending), and routes to a
/// deleted peering `pcx-gone` (state blackhole); vpc-d is not peered and overlaps vpc-b. vpc-a has a secondary CIDR with a subnet in it.
const PEERING: &str = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        secondary_cidrs = ["10.50.0.0/16"]

        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"

        [[vpc]]
        id = "vpc-c"
        cidr = "10.2.0.0/16"

        [[vpc]]
        id = "vpc-d"
        cidr = "10.1.0.0/16"

        [[peering_connection]]
        id = "pcx-ab"
        requester_vpc = "vpc-a"
        accepter_vpc = "vpc-b"

        [[peering_connection]]
        id = "pcx-ca"
        name = "c-to-a"
        requester_vpc = "vpc-c"
        accepter_vpc = "vpc-a"
        status = "pending-acceptance"

        [[route_table]]
        id = "rtb-a"
        vpc = "vpc-a"
        main = true
        routes = [
          { destination = "10.1.0.0/16", target = "pcx-ab" },
          { destination = "10.2.0.0/16", target = "pcx-ca" },
          { destination = "10.9.0.0/16", target = "pcx-gone", state = "blackhole" },
        ]

        [[route_table]]
        id = "rtb-b"
        vpc = "vpc-b"
        main = true
        routes = [{ destination = "10.0.0.0/16", target = "pcx-ab" }]

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"

        [[subnet]]
        id = "subnet-a2"
        vpc = "vpc-a"
        cidr = "10.50.1.0/24"

        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-b"
        cidr = "10.1.1.0/24"

        [[subnet]]
        id = "subnet-d"
        vpc = "vpc-d"
        cidr = "10.1.1.0/24"

        [[security_group]]
        id = "sg-a"
        vpc = "vpc-a"
        inbound = [
          { protocol = "tcp", ports = 80, source = "sg-b" },
          { protocol = "tcp", ports = 81, source = "sg-c" },
          { protocol = "tcp", ports = 82, source = "sg-d" },
          { protocol = "tcp", ports = 83, source = "sg-a" },
          { protocol = "tcp", ports = 84, source = "sg-default-d" },
        ]
        outbound = [
          { protocol = "-1", destination = "sg-b" },
          { protocol = "-1", destination = "sg-d" },
        ]

        [[security_group]]
        id = "sg-b"
        vpc = "vpc-b"
        inbound = [{ protocol = "icmp", source = "sg-a" }]

        [[security_group]]
        id = "sg-c"
        vpc = "vpc-c"

        [[security_group]]
        id = "sg-d"
        vpc = "vpc-d"
        inbound = [{ protocol = "icmp", source = "sg-a" }]

        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-a"]

        [[eni]]
        id = "eni-a2"
        subnet = "subnet-a2"
        private_ip = "10.50.1.10"

        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.1.1.10"
        security_groups = ["sg-b"]

        [[eni]]
        id = "eni-d"
        subnet = "subnet-d"
        private_ip = "10.1.1.10"
        security_groups = ["sg-d"]
    "#;

fn peering() -> crate::Compiled {
    compile_str(PEERING).unwrap()
}

#[test]
fn peerings_compile_in_file_order_with_their_vpcs_and_status() {
    let c = peering().config;
    assert_eq!(
        c.peerings,
        [
            PeeringConfig {
                id: "pcx-ab".into(),
                requester: VpcIdx(0),
                accepter: VpcIdx(1),
                active: true,
            },
            PeeringConfig {
                id: "pcx-ca".into(),
                requester: VpcIdx(2),
                accepter: VpcIdx(0),
                active: false,
            },
        ]
    );
}

#[test]
fn routes_to_peerings_compile_to_their_index_and_deleted_ones_to_blackholes() {
    let c = peering();
    let routes: Vec<(String, RouteTarget)> = rtb(&c.config, "rtb-a")
        .routes
        .iter()
        .map(|r| (r.destination.to_string(), r.target))
        .collect();
    assert_eq!(
        routes,
        [
            ("10.0.0.0/16".to_string(), RouteTarget::Local),
            ("10.50.0.0/16".to_string(), RouteTarget::Local),
            (
                "10.1.0.0/16".to_string(),
                RouteTarget::Peering(PeeringIdx(0))
            ),
            // Pending: the data plane drops what it catches as `blackhole`.
            (
                "10.2.0.0/16".to_string(),
                RouteTarget::Peering(PeeringIdx(1))
            ),
            // Not declared (deleted, state blackhole): a blackhole that names it.
            ("10.9.0.0/16".to_string(), RouteTarget::Blackhole),
        ]
    );
    let deleted: Vec<Option<&str>> = rtb(&c.config, "rtb-a")
        .routes
        .iter()
        .map(|r| r.deleted_target.as_deref())
        .collect();
    assert_eq!(deleted, [None, None, None, None, Some("pcx-gone")]);
    assert_eq!(
        rtb(&c.config, "rtb-b").routes[1].target,
        RouteTarget::Peering(PeeringIdx(0))
    );
    // Validation warned about the pending one; the deleted one says what it is.
    let route_warnings: Vec<&String> = c
        .warnings
        .iter()
        .filter(|w| w.starts_with("rtb-"))
        .collect();
    assert_eq!(route_warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        route_warnings[0].starts_with(
            "rtb-a.routes[1].target: pcx-ca is pending-acceptance: the route is a blackhole"
        ),
        "{:?}",
        c.warnings
    );
}

#[test]
fn sg_references_compile_across_an_active_peering_and_stale_ones_are_left_out() {
    let c = peering();
    let sg = |id: &str| {
        c.config
            .security_groups
            .iter()
            .position(|g| g.id == id)
            .unwrap()
    };
    let a = &c.config.security_groups[sg("sg-a")];
    let inbound: Vec<(Option<PortRange>, SgPeer)> = a
        .inbound
        .iter()
        .map(|r| (r.traffic.ports, r.peer.clone()))
        .collect();
    let port = |p: u16| Some(PortRange { from: p, to: p });
    // 81 (sg-c: pending peering), 82 (sg-d: not peered) and 84 (vpc-d's default
    // group) are stale.
    assert_eq!(
        inbound,
        [
            (port(80), SgPeer::Group(idx(sg("sg-b")))),
            (port(83), SgPeer::Group(idx(sg("sg-a")))),
        ]
    );
    assert_eq!(a.outbound.len(), 1);
    assert_eq!(a.outbound[0].peer, SgPeer::Group(idx(sg("sg-b"))));
    // sg-b's reference back across the peering stays; sg-d's is stale: no rules.
    assert_eq!(
        c.config.security_groups[sg("sg-b")].inbound[0].peer,
        SgPeer::Group(idx(sg("sg-a")))
    );
    assert!(c.config.security_groups[sg("sg-d")].inbound.is_empty());
    let stale = c
        .warnings
        .iter()
        .filter(|w| w.contains("the rule matches nothing (stale)"))
        .count();
    assert_eq!(stale, 5, "{:?}", c.warnings);
}

#[test]
fn secondary_cidrs_get_local_routes_that_reach_their_subnets() {
    let c = peering().config;
    let t = dataplane::vpc::tables::Tables::build(c.clone()).unwrap();
    let a2: std::net::IpAddr = "10.50.1.10".parse().unwrap();
    // From the primary CIDR's subnet (and the other way round): the local route of
    // the secondary CIDR, and the ENI that owns the address.
    let table = c.subnets[0].route_table;
    assert_eq!(
        t.route(table, a2),
        Some((RouteTarget::Local, "10.50.0.0/16".parse().unwrap()))
    );
    assert_eq!(
        t.route(c.subnets[1].route_table, "10.0.1.10".parse().unwrap()),
        Some((RouteTarget::Local, "10.0.0.0/16".parse().unwrap()))
    );
    let owner = t.owner(VpcIdx(0), a2).unwrap();
    assert_eq!(c.enis[owner.idx()].id, "eni-a2");
    // The implicit main table of a VPC with a secondary CIDR has both local routes.
    let c = compile_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"100.64.0.0/16\"]\n",
    )
    .unwrap()
    .config;
    let dests: Vec<String> = c.route_tables[0]
        .routes
        .iter()
        .map(|r| format!("{} {:?}", r.destination, r.target))
        .collect();
    assert_eq!(dests, ["10.0.0.0/16 Local", "100.64.0.0/16 Local"]);
}

#[test]
fn overlapping_vpcs_compile_side_by_side() {
    let c = peering().config;
    let b = &c.enis[2];
    let d = &c.enis[3];
    assert_eq!((b.id.as_str(), d.id.as_str()), ("eni-b", "eni-d"));
    assert_eq!(b.ipv4, d.ipv4);
    assert_ne!(c.subnets[b.subnet.idx()].vpc, c.subnets[d.subnet.idx()].vpc);
    assert_eq!(c.vpcs[1].cidrs, c.vpcs[3].cidrs);
}

#[test]
fn peerings_survive_the_wire_and_the_data_plane_accepts_them() {
    let c = peering().config;
    let json = serde_json::to_string(&c).unwrap();
    let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    dataplane::vpc::tables::Tables::build(c).unwrap();
}

#[test]
fn active_peering_pairs_are_ordered_and_skip_pending_and_unresolved() {
    let t = peering().topology;
    let pairs: Vec<(usize, usize)> = active_peering_pairs(&t).into_iter().collect();
    assert_eq!(pairs, [(0, 1)]);
    let mut t = t;
    t.peering_connections[0].accepter_vpc = "vpc-nope".into();
    assert!(active_peering_pairs(&t).is_empty());
    // Compiling such an unvalidated model reports instead of panicking.
    let e = compile(&t).unwrap_err();
    assert_eq!(
        (e.0[0].resource.as_str(), e.0[0].field.as_str()),
        ("pcx-ab", "accepter_vpc")
    );
}
