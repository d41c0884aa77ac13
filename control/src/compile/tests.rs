//! Tests of the compiler as a whole: indices in file order, VPCs, route tables, subnets,
//! ENIs, MACs, the wire format, unvalidated models and the demo topology.

use std::net::Ipv4Addr;

use dataplane::vpc::config::{
    Attachment, EniIdx, MappingTarget, NatIdx, PeeringConfig, PeeringIdx, RouteTableConfig,
    RouteTableIdx, RouteTarget, SgPeer, SubnetIdx, VpcIdx,
};

use super::units::idx;
use super::*;
use crate::compile_str;

/// The example of the schema: three subnets, a middlebox route, an implicit main.
const DEMO: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"
        secondary_cidrs = ["10.1.0.0/16"]
        ipv6_cidr = "2600:1f18:aa00:100::/56"

        [[vpc]]
        id = "vpc-other"
        cidr = "10.0.0.0/16"

        [[route_table]]
        id = "rtb-fw"
        vpc = "vpc-demo"
        routes = [
          { destination = "0.0.0.0/0", target = "blackhole" },
          { destination = "10.0.0.0/16", target = "eni-fw" },
          { destination = "10.0.2.0/24", target = "eni-fw" },
        ]

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
        route_table = "rtb-fw"

        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-demo"
        cidr = "10.0.2.0/24"
        ipv6_cidr = "2600:1f18:aa00:102::/64"

        [[subnet]]
        id = "subnet-fw"
        vpc = "vpc-demo"
        cidr = "10.1.3.0/24"

        [[subnet]]
        id = "subnet-o"
        vpc = "vpc-other"
        cidr = "10.0.1.0/24"

        [[eni]]
        id = "eni-a1"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        secondary_ips = ["10.0.1.11", "10.0.1.12"]
        netns = "ns-a1"

        [[eni]]
        id = "eni-fw"
        subnet = "subnet-fw"
        private_ip = "10.1.3.10"
        source_dest_check = false
        mtu = 1500
        mac = "02:aa:bb:cc:dd:ee"
        netns = "ns-fw"
        ifname = "fw0"

        [[eni]]
        id = "eni-b1"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
        ipv6_ips = ["2600:1f18:aa00:102::10"]
    "#;

pub(super) fn demo() -> DataplaneConfig {
    compile_str(DEMO).unwrap().config
}

pub(super) fn rtb<'a>(c: &'a DataplaneConfig, id: &str) -> &'a RouteTableConfig {
    c.route_tables.iter().find(|r| r.id == id).unwrap()
}

#[test]
fn fnv1a_test_vectors() {
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn generated_macs_are_stable_local_unicast_and_distinct() {
    let e = eni_mac("eni-a1");
    let r = router_mac("subnet-a");
    assert_eq!(e, eni_mac("eni-a1"));
    assert!(e.is_local_unicast() && r.is_local_unicast());
    assert_eq!(e.0[0], 0x02);
    assert_eq!(r.0[0], 0x06);
    assert_ne!(eni_mac("eni-a1"), eni_mac("eni-a2"));
    // Pinned so that a change of the derivation is a deliberate one.
    let h = mix64(fnv1a64(b"eni-a1")).to_be_bytes();
    assert_eq!(e.0[1..], h[..5]);
}

#[test]
fn indices_follow_file_order_with_implicit_mains_last() {
    let c = demo();
    let vpcs: Vec<&str> = c.vpcs.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(vpcs, ["vpc-demo", "vpc-other"]);
    let rts: Vec<&str> = c.route_tables.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(rts, ["rtb-fw", "rtb-main-demo", "rtb-main-other"]);
    let subnets: Vec<&str> = c.subnets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(subnets, ["subnet-a", "subnet-b", "subnet-fw", "subnet-o"]);
    let enis: Vec<&str> = c.enis.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(enis, ["eni-a1", "eni-fw", "eni-b1"]);
    assert_eq!(c.subnets[3].vpc, VpcIdx(1));
    assert_eq!(c.enis[1].subnet, SubnetIdx(2));
    assert_eq!(c.route_tables[2].vpc, VpcIdx(1));
}

#[test]
fn vpc_cidrs_primary_secondary_ipv6() {
    let c = demo();
    let cidrs: Vec<String> = c.vpcs[0].cidrs.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        cidrs,
        ["10.0.0.0/16", "10.1.0.0/16", "2600:1f18:aa00:100::/56"]
    );
}

#[test]
fn local_routes_first_unless_replaced() {
    let c = demo();
    let fw = rtb(&c, "rtb-fw");
    let routes: Vec<(String, RouteTarget)> = fw
        .routes
        .iter()
        .map(|r| (r.destination.to_string(), r.target))
        .collect();
    assert_eq!(
        routes,
        [
            ("10.0.0.0/16".to_string(), RouteTarget::Eni(EniIdx(1))),
            ("10.1.0.0/16".to_string(), RouteTarget::Local),
            ("2600:1f18:aa00:100::/56".to_string(), RouteTarget::Local),
            ("0.0.0.0/0".to_string(), RouteTarget::Blackhole),
            ("10.0.2.0/24".to_string(), RouteTarget::Eni(EniIdx(1))),
        ]
    );
    let main = rtb(&c, "rtb-main-demo");
    assert_eq!(main.routes.len(), 3);
    assert!(main.routes.iter().all(|r| r.target == RouteTarget::Local));
}

#[test]
fn explicit_local_route_is_not_duplicated() {
    let c = compile_str(
        "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-x\"\nmain = true\nroutes = [{ destination = \"10.0.0.0/16\", target = \"local\" }]\n",
    )
    .unwrap()
    .config;
    assert_eq!(c.route_tables.len(), 1);
    assert_eq!(c.route_tables[0].routes.len(), 1);
    assert_eq!(c.route_tables[0].routes[0].target, RouteTarget::Local);
}

#[test]
fn scenario_12_main_vs_explicit_association() {
    let c = demo();
    // subnet-a is explicitly on rtb-fw; subnet-b and subnet-fw follow the main.
    assert_eq!(c.subnets[0].route_table, RouteTableIdx(0));
    assert_eq!(c.subnets[1].route_table, RouteTableIdx(1));
    assert_eq!(c.subnets[2].route_table, RouteTableIdx(1));
    assert_eq!(c.subnets[3].route_table, RouteTableIdx(2));
    // Making rtb-fw the main: implicit subnets follow it, no implicit main is made.
    let c = compile_str(&DEMO.replace(
        "id = \"rtb-fw\"\n        vpc = \"vpc-demo\"",
        "id = \"rtb-fw\"\n        vpc = \"vpc-demo\"\n        main = true",
    ))
    .unwrap()
    .config;
    assert!(!c.route_tables.iter().any(|r| r.id == "rtb-main-demo"));
    assert_eq!(c.subnets[1].route_table, RouteTableIdx(0));
}

#[test]
fn scenario_9_blackhole_compiles() {
    let c = demo();
    assert!(rtb(&c, "rtb-fw")
        .routes
        .iter()
        .any(|r| r.target == RouteTarget::Blackhole));
}

/// VPC-7: a route whose target the file no longer declares, in state `blackhole`,
/// compiles to a blackhole that keeps the target's id (for show and trace), and the data
/// plane accepts it; an explicit `blackhole` target keeps none. Compiling an unvalidated
/// model where such a route does not say `state = "blackhole"` reports it.
#[test]
fn routes_to_deleted_targets_compile_to_blackholes_that_name_them() {
    const SRC: &str = r#"
        [[vpc]]
        id = "vpc-x"
        cidr = "10.0.0.0/16"
        [[route_table]]
        id = "rtb-x"
        vpc = "vpc-x"
        main = true
        routes = [
          { destination = "0.0.0.0/0", target = "nat-gone", state = "blackhole" },
          { destination = "10.9.0.0/16", target = "eni-gone", state = "blackhole" },
          { destination = "10.8.0.0/16", target = "blackhole" },
        ]
        [[subnet]]
        id = "subnet-x"
        vpc = "vpc-x"
        cidr = "10.0.1.0/24"
    "#;
    let c = compile_str(SRC).unwrap();
    let routes: Vec<(String, RouteTarget, Option<&str>)> = rtb(&c.config, "rtb-x")
        .routes
        .iter()
        .map(|r| {
            (
                r.destination.to_string(),
                r.target,
                r.deleted_target.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("10.0.0.0/16".to_string(), RouteTarget::Local, None),
            (
                "0.0.0.0/0".to_string(),
                RouteTarget::Blackhole,
                Some("nat-gone")
            ),
            (
                "10.9.0.0/16".to_string(),
                RouteTarget::Blackhole,
                Some("eni-gone")
            ),
            ("10.8.0.0/16".to_string(), RouteTarget::Blackhole, None),
        ]
    );
    assert!(dataplane::vpc::tables::Tables::build(c.config).is_ok());
    let mut t = crate::validate::parse(SRC).unwrap();
    t.route_tables[0].routes[0].state = crate::model::RouteState::Active;
    let e = compile(&t).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rtb-x.routes[0].target: no NAT gateway with id `nat-gone`"
    );
}

#[test]
fn subnets_carry_cidrs_and_router_macs() {
    let c = demo();
    assert_eq!(c.subnets[0].ipv4_cidr.unwrap().to_string(), "10.0.1.0/24");
    assert_eq!(c.subnets[0].ipv6_cidr, None);
    assert_eq!(
        c.subnets[1].ipv6_cidr.unwrap().to_string(),
        "2600:1f18:aa00:102::/64"
    );
    assert_eq!(c.subnets[0].router_mac, router_mac("subnet-a"));
    let macs: std::collections::HashSet<_> = c
        .subnets
        .iter()
        .map(|s| s.router_mac)
        .chain(c.enis.iter().map(|e| e.mac))
        .collect();
    assert_eq!(macs.len(), c.subnets.len() + c.enis.len());
}

#[test]
fn enis_carry_addresses_mac_and_attachment() {
    let c = demo();
    let a = &c.enis[0];
    let ips: Vec<String> = a.ipv4.iter().map(|i| i.to_string()).collect();
    assert_eq!(ips, ["10.0.1.10", "10.0.1.11", "10.0.1.12"]);
    assert_eq!(a.mac, eni_mac("eni-a1"));
    assert!(a.source_dest_check);
    assert_eq!(a.mtu, 9001);
    assert_eq!(
        a.attachment,
        Some(Attachment {
            netns: "ns-a1".into(),
            ifname: "eth0".into(),
            // The default addressing.
            dhcp: true,
            kind: Default::default(),
        })
    );
    let fw = &c.enis[1];
    assert_eq!(fw.mac.to_string(), "02:aa:bb:cc:dd:ee");
    assert!(!fw.source_dest_check);
    assert_eq!(fw.mtu, 1500);
    assert_eq!(fw.attachment.as_ref().unwrap().ifname, "fw0");
    let b = &c.enis[2];
    assert_eq!(b.attachment, None);
    assert_eq!(b.ipv6.len(), 1);
}

#[test]
fn config_survives_the_wire() {
    let c = demo();
    let json = serde_json::to_string(&c).unwrap();
    let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn compile_of_unvalidated_model_reports_instead_of_panicking() {
    let mut t = crate::validate::parse(
        "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-x\"\nprivate_ip = \"10.0.0.10\"\n",
    )
    .unwrap();
    t.vpcs.clear();
    let e = compile(&t).unwrap_err();
    assert_eq!(e.0[0].resource, "eni-a");
}

#[test]
fn the_demo_compiles_without_warnings_and_the_data_plane_accepts_it() {
    let c = compile_str(include_str!("../../../examples/demo.toml")).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let n = &c.config.nat_gateways[0];
    assert_eq!(n.id, "nat-demo");
    assert_eq!(n.addrs, ["10.0.0.220".parse::<Ipv4Addr>().unwrap()]);
    assert!(n.public);
    assert!(c.config.internet_gateways[0].mappings.iter().any(|m| {
        m.target == MappingTarget::NatGateway(NatIdx(0))
            && m.public.to_string() == "198.51.100.7"
            && m.private == n.addrs[0]
    }));
    assert!(rtb(&c.config, "rtb-private")
        .routes
        .iter()
        .any(|r| r.target == RouteTarget::NatGateway(NatIdx(0))));
    // vpc-shared, peered with vpc-demo through pcx-demo, with routes both ways and a
    // group that admits vpc-demo's sg-web.
    let vpcs: Vec<&str> = c.config.vpcs.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(vpcs, ["vpc-demo", "vpc-shared"]);
    assert_eq!(
        c.config.peerings,
        [PeeringConfig {
            id: "pcx-demo".into(),
            requester: VpcIdx(0),
            accepter: VpcIdx(1),
            active: true,
        }]
    );
    let route = |table: &str, dest: &str| {
        rtb(&c.config, table)
            .routes
            .iter()
            .find(|r| r.destination.to_string() == dest)
            .map(|r| r.target)
    };
    assert_eq!(
        route("rtb-main", "10.1.0.0/16"),
        Some(RouteTarget::Peering(PeeringIdx(0)))
    );
    assert_eq!(
        route("rtb-shared-main", "10.0.0.0/16"),
        Some(RouteTarget::Peering(PeeringIdx(0)))
    );
    let sg = |id: &str| {
        c.config
            .security_groups
            .iter()
            .position(|g| g.id == id)
            .unwrap()
    };
    let shared = &c.config.security_groups[sg("sg-shared")];
    assert_eq!(shared.vpc, VpcIdx(1));
    assert_eq!(shared.inbound.len(), 2);
    assert!(shared
        .inbound
        .iter()
        .all(|r| r.peer == SgPeer::Group(idx(sg("sg-web")))));
    let eni = c
        .config
        .enis
        .iter()
        .find(|e| e.id == "eni-shared1")
        .unwrap();
    assert_eq!(eni.security_groups, Some(vec![idx(sg("sg-shared"))]));
    assert_eq!(eni.attachment.as_ref().unwrap().netns, "shared1");
    dataplane::vpc::tables::Tables::build(c.config).unwrap();
}

/// The DHCP options of each VPC: AWS's default set (the VPC's `+2`, the region's domain,
/// Time Sync) or its associated set, with `AmazonProvidedDNS` resolved; the lease time of
/// `[lab]`; a DHCP ENI's attachment says so.
#[test]
fn dhcp_options_compile_per_vpc() {
    use dataplane::vpc::config::DEFAULT_DHCP_LEASE_SECS;
    let src = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"
        dhcp_options = "dopt-corp"
        [[dhcp_options]]
        id = "dopt-corp"
        domain_name = "corp.example"
        domain_name_servers = ["192.0.2.53", "AmazonProvidedDNS"]
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        netns = "a"
        [[eni]]
        id = "eni-b"
        subnet = "subnet-a"
        private_ip = "10.0.1.11"
        netns = "b"
        addressing = "static"
    "#;
    let c = crate::compile_str(src).unwrap().config;
    let a = &c.vpcs[0].dhcp;
    assert_eq!(a.dns_servers, vec![Ipv4Addr::new(10, 0, 0, 2)]);
    assert_eq!(a.domain_name.as_deref(), Some("ec2.internal"));
    assert_eq!(a.ntp_servers, vec![Ipv4Addr::new(169, 254, 169, 123)]);
    assert_eq!(a.lease_secs, DEFAULT_DHCP_LEASE_SECS);
    let b = &c.vpcs[1].dhcp;
    assert_eq!(
        b.dns_servers,
        vec![Ipv4Addr::new(192, 0, 2, 53), Ipv4Addr::new(10, 1, 0, 2)]
    );
    assert_eq!(b.domain_name.as_deref(), Some("corp.example"));
    assert!(b.ntp_servers.is_empty());
    // DHCP is the default; `static` opts out.
    assert!(c.enis[0].attachment.as_ref().unwrap().dhcp);
    assert!(!c.enis[1].attachment.as_ref().unwrap().dhcp);

    let other = format!("{src}\n[lab]\nregion = \"eu-west-1\"\ndhcp_lease_time = 120\n");
    let c = crate::compile_str(&other).unwrap().config;
    assert_eq!(
        c.vpcs[0].dhcp.domain_name.as_deref(),
        Some("eu-west-1.compute.internal")
    );
    assert_eq!(c.vpcs[0].dhcp.lease_secs, 120);
    assert_eq!(c.vpcs[1].dhcp.lease_secs, 120);
}

#[test]
fn private_hosted_zones_and_region_compile_for_the_resolver() {
    let src = r#"
        [lab]
        region = "eu-west-3"

        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"

        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"

        [[private_hosted_zone]]
        id = "Zcorp"
        name = "Corp.Internal."
        vpcs = ["vpc-b"]
        records = [
            { name = "db", type = "a", values = ["10.1.3.10"] },
            { name = "www.corp.internal", type = "CNAME", values = ["db.corp.internal."], ttl = 60 },
        ]
    "#;
    let c = compile_str(src).unwrap().config;
    assert_eq!(c.dns.instance_domain, "eu-west-3.compute.internal");
    assert_eq!(c.dns.max_pps, 1024);
    let z = &c.dns.zones[0];
    assert_eq!((z.id.as_str(), z.name.as_str()), ("Zcorp", "Corp.Internal"));
    assert_eq!(z.vpcs, vec![VpcIdx(1)]);
    assert_eq!(z.records[0].name, "db.Corp.Internal");
    assert_eq!(z.records[0].kind, dataplane::vpc::config::DnsRecordKind::A);
    assert_eq!(z.records[0].ttl, 300);
    assert_eq!(z.records[1].name, "www.corp.internal");
    assert_eq!(z.records[1].values, vec!["db.corp.internal".to_string()]);
    assert_eq!(z.records[1].ttl, 60);
    // The tables build: the data plane accepts it.
    dataplane::vpc::tables::Tables::build(c).unwrap();
    // us-east-1 (the default) names instances under ec2.internal.
    let c = compile_str("[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/16\"")
        .unwrap()
        .config;
    assert_eq!(c.dns.instance_domain, "ec2.internal");
}

/// ENIs sharing a namespace belong to one instance, with a derived id and device indexes
/// in file order; an ENI without a namespace is an instance of its own; the instance's
/// settings reach every ENI; subnets get `<region>a` unless they name a zone.
#[test]
fn instances_and_availability_zones_compile() {
    let src = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-a"
        cidr = "10.0.2.0/24"
        availability_zone = "eu-west-1c"
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        netns = "web"
        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
        netns = "web"
        ifname = "eth1"
        instance_type = "c5.large"
        metadata_options = { http_tokens = "required", http_put_response_hop_limit = 2 }
        [[eni]]
        id = "eni-c"
        subnet = "subnet-a"
        private_ip = "10.0.1.11"
        [[eni]]
        id = "eni-d"
        subnet = "subnet-a"
        private_ip = "10.0.1.12"
        netns = "db"
        instance_id = "i-0123abcd"
        image_id = "ami-0123abcd"
        [lab]
        region = "eu-west-1"
    "#;
    let c = compile_str(src).unwrap().config;
    let [a, b, cc, d] = [0, 1, 2, 3].map(|i| &c.enis[i].instance);
    assert_eq!(a.id, crate::names::netns_instance_id("web"));
    assert_eq!(a.id.len(), 2 + 17);
    assert!(a.id.starts_with("i-") && crate::validate::is_instance_id(&a.id));
    assert_eq!(b.id, a.id);
    assert_eq!((a.device_index, b.device_index), (0, 1));
    // eni-b's settings are the instance's, so eni-a's too.
    for i in [a, b] {
        assert_eq!(i.instance_type, "c5.large");
        assert_eq!(i.image_id, dataplane::vpc::config::DEFAULT_IMAGE_ID);
        assert!(i.metadata.tokens_required && i.metadata.endpoint_enabled);
        assert_eq!(i.metadata.hop_limit, 2);
    }
    assert_eq!(cc.id, crate::names::unattached_instance_id("eni-c"));
    assert_ne!(cc.id, a.id);
    assert_eq!(cc.device_index, 0);
    assert_eq!(
        cc.instance_type,
        dataplane::vpc::config::DEFAULT_INSTANCE_TYPE
    );
    assert_eq!(
        cc.metadata,
        dataplane::vpc::config::MetadataOptions::default()
    );
    assert_eq!(
        (d.id.as_str(), d.image_id.as_str()),
        ("i-0123abcd", "ami-0123abcd")
    );
    // Stable: the same file derives the same ids.
    assert_eq!(compile_str(src).unwrap().config.enis[0].instance.id, a.id);
    assert_eq!(c.region, "eu-west-1");
    assert_eq!(c.subnets[0].availability_zone, "eu-west-1a");
    assert_eq!(c.subnets[1].availability_zone, "eu-west-1c");
}
