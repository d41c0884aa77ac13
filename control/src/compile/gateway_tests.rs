//! Tests of the gateways' compilation: internet gateways with their uplinks, MACs and 1:1
//! NAT tables, and NAT gateways.

use std::net::Ipv4Addr;

use dataplane::vpc::config::{
    Attachment, EniIdx, IgwIdx, MappingTarget, NatGatewayConfig, NatIdx, Outside, PortRange,
    RouteTarget, SubnetIdx, VpcIdx,
};

use super::tests::rtb;
use super::*;
use crate::compile_str;
use crate::names::segment_uplink_ifname;

const GATEWAYS: &str = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"
        route_table = "rtb-pub"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-b"
        cidr = "10.1.1.0/24"
        [[route_table]]
        id = "rtb-pub"
        vpc = "vpc-a"
        routes = [{ destination = "0.0.0.0/0", target = "igw-a" }]
        [[eni]]
        id = "eni-a1"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        secondary_ips = ["10.0.1.11"]
        public_ip = "198.51.100.10"
        [[eni]]
        id = "eni-a2"
        subnet = "subnet-a"
        private_ip = "10.0.1.20"
        [[eni]]
        id = "eni-b1"
        subnet = "subnet-b"
        private_ip = "10.1.1.10"
        public_ip = "198.51.100.30"
        [[internet_gateway]]
        id = "igw-bare"
        vpc = "vpc-b"
        [[internet_gateway]]
        id = "igw-a"
        vpc = "vpc-a"
        internet = { netns = "inet", ifname = "up0", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5", "203.0.113.6"], mtu = 1400 }
        [[elastic_ip]]
        id = "eipalloc-2"
        public_ip = "198.51.100.20"
        eni = "eni-a2"
        [[elastic_ip]]
        id = "eipalloc-1"
        public_ip = "198.51.100.11"
        eni = "eni-a1"
        private_ip = "10.0.1.11"
        [[elastic_ip]]
        id = "eipalloc-free"
        public_ip = "198.51.100.99"
    "#;

#[test]
fn internet_gateways_compile_in_file_order_with_uplink_and_macs() {
    let c = compile_str(GATEWAYS).unwrap().config;
    let ids: Vec<&str> = c.internet_gateways.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["igw-bare", "igw-a"]);
    let bare = &c.internet_gateways[0];
    assert_eq!(bare.vpc, VpcIdx(1));
    // Without an `internet` table of its own: on the shared segment, with no hosts.
    let seg = bare.uplink.as_ref().unwrap();
    assert_eq!(seg.attachment.netns, "internet");
    assert_eq!(seg.attachment.ifname, segment_uplink_ifname("igw-bare"));
    assert_eq!(
        seg.outside,
        Outside::Segment {
            bridge: "inet0".into(),
            neighbours: vec![]
        }
    );
    let g = &c.internet_gateways[1];
    assert_eq!(g.vpc, VpcIdx(0));
    assert_eq!(g.mac, igw_mac("igw-a"));
    assert_eq!(g.mac.0[0], IGW_MAC_OUI);
    let u = g.uplink.as_ref().unwrap();
    assert_eq!(
        u.attachment,
        Attachment {
            netns: "inet".into(),
            ifname: "up0".into(),
            dhcp: false,
            kind: Default::default(),
        }
    );
    let Outside::Namespace {
        cidr,
        gateway_ip,
        hosts,
    } = &u.outside
    else {
        panic!("{:?}", u.outside)
    };
    assert_eq!(*cidr, "203.0.113.0/24".parse::<ipnet::Ipv4Net>().unwrap());
    assert_eq!(
        *gateway_ip,
        "203.0.113.1".parse::<std::net::Ipv4Addr>().unwrap()
    );
    assert_eq!(hosts.len(), 2);
    assert_eq!(u.host_mac, igw_host_mac("igw-a"));
    assert_eq!(u.host_mac.0[0], IGW_HOST_MAC_OUI);
    assert_eq!(u.mtu, 1400);
    assert_eq!(
        rtb(&c, "rtb-pub").routes[1].target,
        RouteTarget::InternetGateway(IgwIdx(1))
    );
}

#[test]
fn igw_macs_are_stable_local_unicast_and_distinct_from_enis_and_routers() {
    for id in ["igw-a", "igw-demo"] {
        let (m, h) = (igw_mac(id), igw_host_mac(id));
        assert_eq!(m, igw_mac(id));
        for mac in [m, h] {
            assert!(!mac.is_multicast() && mac.0[0] & 0x02 == 0x02, "{mac}");
        }
        assert_ne!(m, h);
        assert_ne!(m, eni_mac(id));
        assert_ne!(m, router_mac(id));
    }
    assert_ne!(igw_mac("igw-a"), igw_mac("igw-b"));
}

#[test]
fn mappings_are_the_eips_then_the_public_ips_of_the_gateways_vpc() {
    let c = compile_str(GATEWAYS).unwrap().config;
    let m: Vec<(String, MappingTarget, String, &str)> = c.internet_gateways[1]
        .mappings
        .iter()
        .map(|m| {
            (
                m.public.to_string(),
                m.target,
                m.private.to_string(),
                m.source.as_str(),
            )
        })
        .collect();
    let eni = MappingTarget::Eni;
    assert_eq!(
        m,
        [
            (
                "198.51.100.20".into(),
                eni(EniIdx(1)),
                "10.0.1.20".into(),
                "eipalloc-2"
            ),
            (
                "198.51.100.11".into(),
                eni(EniIdx(0)),
                "10.0.1.11".into(),
                "eipalloc-1"
            ),
            (
                "198.51.100.10".into(),
                eni(EniIdx(0)),
                "10.0.1.10".into(),
                "public_ip"
            ),
        ]
    );
    let b: Vec<_> = c.internet_gateways[0]
        .mappings
        .iter()
        .map(|m| (m.public.to_string(), m.target, m.source.clone()))
        .collect();
    assert_eq!(
        b,
        [(
            "198.51.100.30".to_string(),
            eni(EniIdx(2)),
            "public_ip".to_string()
        )]
    );
}

#[test]
fn public_addresses_of_a_vpc_without_gateway_are_dropped_with_a_warning() {
    let src = GATEWAYS.replace(
        "[[internet_gateway]]\n        id = \"igw-bare\"\n        vpc = \"vpc-b\"\n",
        "",
    );
    let c = compile_str(&src).unwrap();
    assert_eq!(c.config.internet_gateways.len(), 1);
    assert!(c
        .config
        .internet_gateways
        .iter()
        .flat_map(|g| &g.mappings)
        .all(|m| m.target != MappingTarget::Eni(EniIdx(2))));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.starts_with("eni-b1.public_ip:")
                && w.contains("vpc-b has no internet gateway")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn gateways_survive_the_wire() {
    let c = compile_str(GATEWAYS).unwrap().config;
    let json = serde_json::to_string(&c).unwrap();
    let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}

/// A public subnet with a public NAT gateway (two addresses, two Elastic IPs) used by
/// a private subnet, and a private NAT gateway with an auto-assigned address.
const NAT: &str = r#"
        [lab]
        conntrack_time_scale = 0.01
        nat_gateway_ports = [2000, 2009]
        nat_gateway_idle_timeout = 0.5

        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        [[subnet]]
        id = "subnet-pub"
        vpc = "vpc-a"
        cidr = "10.0.0.0/24"
        route_table = "rtb-pub"
        [[subnet]]
        id = "subnet-priv"
        vpc = "vpc-a"
        cidr = "10.0.4.0/24"
        route_table = "rtb-priv"
        [[route_table]]
        id = "rtb-pub"
        vpc = "vpc-a"
        routes = [{ destination = "0.0.0.0/0", target = "igw-a" }]
        [[route_table]]
        id = "rtb-priv"
        vpc = "vpc-a"
        routes = [
          { destination = "0.0.0.0/0", target = "nat-a" },
          { destination = "192.168.0.0/16", target = "nat-p" },
        ]
        [[eni]]
        id = "eni-pub1"
        subnet = "subnet-pub"
        private_ip = "10.0.0.40"
        public_ip = "198.51.100.40"
        [[eni]]
        id = "eni-top"
        subnet = "subnet-priv"
        private_ip = "10.0.4.254"
        [[internet_gateway]]
        id = "igw-a"
        vpc = "vpc-a"
        [[nat_gateway]]
        id = "nat-p"
        subnet = "subnet-priv"
        connectivity = "private"
        [[nat_gateway]]
        id = "nat-a"
        subnet = "subnet-pub"
        allocation_id = "eipalloc-nat"
        private_ip = "10.0.0.220"
        secondary_private_ips = ["10.0.0.221"]
        secondary_allocation_ids = ["eipalloc-nat2"]
        [[elastic_ip]]
        id = "eipalloc-nat2"
        public_ip = "198.51.100.8"
        [[elastic_ip]]
        id = "eipalloc-nat"
        public_ip = "198.51.100.7"
    "#;

fn nat() -> DataplaneConfig {
    compile_str(NAT).unwrap().config
}

#[test]
fn nat_gateways_compile_in_file_order_with_their_addresses_and_lab_settings() {
    let c = nat();
    let ids: Vec<&str> = c.nat_gateways.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["nat-p", "nat-a"]);
    let ports = PortRange {
        from: 2000,
        to: 2009,
    };
    assert_eq!(
        c.nat_gateways[1],
        NatGatewayConfig {
            id: "nat-a".into(),
            interface_id: "eni-nat-a".into(),
            subnet: SubnetIdx(0),
            addrs: vec!["10.0.0.220".parse().unwrap(), "10.0.0.221".parse().unwrap()],
            public: true,
            ports,
            max_per_destination: 55_000,
            // 0.5 s, not scaled by conntrack_time_scale.
            idle_timeout_ms: 500,
            max_connections: NatGatewayConfig::MAX_CONNECTIONS,
        }
    );
    // The private one: the highest free address of its subnet (.254 is an ENI's).
    let p = &c.nat_gateways[0];
    assert_eq!((p.subnet, p.public), (SubnetIdx(1), false));
    assert_eq!(p.addrs, ["10.0.4.253".parse::<Ipv4Addr>().unwrap()]);
    assert_eq!(p.ports, ports);
}

#[test]
fn nat_gateways_default_to_aws_settings() {
    let src = NAT.replace(
        "nat_gateway_ports = [2000, 2009]\n        nat_gateway_idle_timeout = 0.5\n",
        "",
    );
    let c = compile_str(&src).unwrap().config;
    for n in &c.nat_gateways {
        assert_eq!(n.ports, NatGatewayConfig::PORTS);
        assert_eq!(
            n.ports,
            PortRange {
                from: 1024,
                to: 65535
            }
        );
        assert_eq!(n.idle_timeout_ms, 350_000);
        assert_eq!(n.max_per_destination, NatGatewayConfig::MAX_PER_DESTINATION);
    }
    assert_eq!(nat_gateway_ports(None), NatGatewayConfig::PORTS);
    let t = crate::validate::parse(&src).unwrap();
    assert_eq!(
        nat_gateway_idle_timeout_ms(&t.nat_gateways[0], None),
        NatGatewayConfig::IDLE_TIMEOUT_MS
    );
    assert_eq!(secs_to_ms(0.0001), 1);
    assert_eq!(secs_to_ms(1.2345), 1235);
}

#[test]
fn nat_gateways_get_their_interface_id_and_their_own_idle_timeout() {
    // nat-p: derived interface id, its own idle timeout (over [lab]'s 0.5 s); nat-a: the
    // interface id written, [lab]'s idle timeout.
    let src = NAT
        .replace(
            "connectivity = \"private\"\n",
            "connectivity = \"private\"\n        idle_timeout = 2.25\n",
        )
        .replace(
            "allocation_id = \"eipalloc-nat\"\n",
            "allocation_id = \"eipalloc-nat\"\n        network_interface_id = \"eni-0natgw\"\n",
        );
    let c = compile_str(&src).unwrap().config;
    let got: Vec<(&str, &str, u64)> = c
        .nat_gateways
        .iter()
        .map(|n| (n.id.as_str(), n.interface_id.as_str(), n.idle_timeout_ms))
        .collect();
    assert_eq!(
        got,
        [("nat-p", "eni-nat-p", 2250), ("nat-a", "eni-0natgw", 500)]
    );
    // Without [lab]: the gateway's own, else AWS's 350 s.
    let t = crate::validate::parse(&src.replace("nat_gateway_idle_timeout = 0.5\n", "")).unwrap();
    let ms: Vec<u64> = t
        .nat_gateways
        .iter()
        .map(|n| nat_gateway_idle_timeout_ms(n, t.lab.as_ref()))
        .collect();
    assert_eq!(ms, [2250, 350_000]);
}

#[test]
fn routes_to_nat_gateways_compile_to_their_index() {
    let c = nat();
    let routes: Vec<(String, RouteTarget)> = rtb(&c, "rtb-priv")
        .routes
        .iter()
        .map(|r| (r.destination.to_string(), r.target))
        .collect();
    assert_eq!(
        routes,
        [
            ("10.0.0.0/16".to_string(), RouteTarget::Local),
            ("0.0.0.0/0".to_string(), RouteTarget::NatGateway(NatIdx(1))),
            (
                "192.168.0.0/16".to_string(),
                RouteTarget::NatGateway(NatIdx(0))
            ),
        ]
    );
}

#[test]
fn public_nat_gateway_addresses_map_to_their_eips_at_the_internet_gateway() {
    let c = nat();
    let m: Vec<(String, MappingTarget, String, &str)> = c.internet_gateways[0]
        .mappings
        .iter()
        .map(|m| {
            (
                m.public.to_string(),
                m.target,
                m.private.to_string(),
                m.source.as_str(),
            )
        })
        .collect();
    assert_eq!(
        m,
        [
            (
                "198.51.100.40".into(),
                MappingTarget::Eni(EniIdx(0)),
                "10.0.0.40".into(),
                "public_ip"
            ),
            (
                "198.51.100.7".into(),
                MappingTarget::NatGateway(NatIdx(1)),
                "10.0.0.220".into(),
                "eipalloc-nat"
            ),
            (
                "198.51.100.8".into(),
                MappingTarget::NatGateway(NatIdx(1)),
                "10.0.0.221".into(),
                "eipalloc-nat2"
            ),
        ]
    );
}

#[test]
fn nat_gateways_survive_the_wire_and_the_data_plane_accepts_them() {
    let c = nat();
    let json = serde_json::to_string(&c).unwrap();
    let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    dataplane::vpc::tables::Tables::build(c).unwrap();
}

#[test]
fn gateways_on_the_segment_know_the_hosts_behind_them_and_each_others_addresses() {
    let c = compile_str(
        r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        public_ip = "198.51.100.40"
        [[internet_gateway]]
        id = "igw-a"
        vpc = "vpc-a"
        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-b"
        cidr = "10.1.1.0/24"
        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.1.1.10"
        public_ip = "203.0.113.50"
        [[internet_gateway]]
        id = "igw-b"
        vpc = "vpc-b"
        [internet]
        netns = "inet"
        mtu = 1400
        [[internet_host]]
        id = "everywhere"
        addresses = ["192.0.2.1", "192.0.2.2"]
        [[internet_host]]
        id = "only-b"
        addresses = ["192.0.2.9"]
        internet_gateways = ["igw-b"]
        "#,
    )
    .unwrap()
    .config;
    let neighbours = |g: usize| -> Vec<(String, String, dataplane::wire::MacAddr)> {
        let u = c.internet_gateways[g].uplink.as_ref().unwrap();
        assert_eq!((u.attachment.netns.as_str(), u.mtu), ("inet", 1400));
        match &u.outside {
            Outside::Segment { bridge, neighbours } => {
                assert_eq!(bridge, "inet0");
                neighbours
                    .iter()
                    .map(|n| (n.holder.clone(), n.ip.to_string(), n.mac))
                    .collect()
            }
            other => panic!("{other:?}"),
        }
    };
    let host = crate::names::internet_host_mac;
    assert_eq!(
        neighbours(0),
        [
            ("everywhere".into(), "192.0.2.1".into(), host("everywhere")),
            ("everywhere".into(), "192.0.2.2".into(), host("everywhere")),
            ("igw-b".into(), "203.0.113.50".into(), igw_mac("igw-b")),
        ]
    );
    assert_eq!(
        neighbours(1),
        [
            ("everywhere".into(), "192.0.2.1".into(), host("everywhere")),
            ("everywhere".into(), "192.0.2.2".into(), host("everywhere")),
            ("only-b".into(), "192.0.2.9".into(), host("only-b")),
            ("igw-a".into(), "198.51.100.40".into(), igw_mac("igw-a")),
        ]
    );
}
