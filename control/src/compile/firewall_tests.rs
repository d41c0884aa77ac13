//! Tests of the firewalls' compilation: network ACLs, security groups, traffic matches and
//! conntrack settings.

use dataplane::vpc::config::{
    ConntrackConfig, IcmpMatch, NaclIdx, PortRange, Protocol, SgIdx, SgPeer, SgRule, TrafficMatch,
};

use super::tests::demo;
use super::traffic::ALL_TRAFFIC;
use super::*;
use crate::compile_str;
use crate::model::{PortSpec, RuleProtocol};

/// A dual-stack VPC with two subnets, a prefix list, a custom NACL on subnet-b, groups.
const FIREWALLS: &str = r#"
        [lab]
        conntrack_time_scale = 0.01

        [[vpc]]
        id = "vpc-x"
        cidr = "10.0.0.0/16"
        ipv6_cidr = "2600:1f18:aa00:100::/56"

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-x"
        cidr = "10.0.1.0/24"

        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-x"
        cidr = "10.0.2.0/24"

        [[prefix_list]]
        id = "pl-admins"
        entries = ["203.0.113.0/24", "198.51.100.7/32"]

        [[network_acl]]
        id = "acl-b"
        vpc = "vpc-x"
        subnets = ["subnet-b"]
        inbound = [
          { rule = 200, protocol = "tcp", ports = "1024-65535", cidr = "0.0.0.0/0", action = "allow" },
          { rule = 90, protocol = "tcp", ports = 23, cidr = "0.0.0.0/0", action = "deny" },
          { rule = 120, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr = "0.0.0.0/0", action = "allow" },
          { rule = 130, protocol = 47, ports = "80-80", cidr = "10.0.0.0/16", action = "allow" },
        ]

        [[network_acl]]
        id = "acl-empty"
        vpc = "vpc-x"

        [[security_group]]
        id = "sg-web"
        vpc = "vpc-x"
        inbound = [
          { protocol = "tcp", ports = "80", source = "0.0.0.0/0" },
          { protocol = "-1", source = "sg-web" },
          { protocol = "tcp", ports = "22", source = "pl-admins" },
          { protocol = "icmp", icmp_type = 8, source = "10.0.0.0/16" },
          { protocol = "udp", ports = "0-65535", source = "sg-app" },
        ]

        [[security_group]]
        id = "sg-app"
        vpc = "vpc-x"
        outbound = []

        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-web", "sg-app"]
        conntrack = { max_entries = 1024, udp_timeout = 60, tcp_established_timeout = 60 }

        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
    "#;

fn firewalls() -> DataplaneConfig {
    compile_str(FIREWALLS).unwrap().config
}

#[test]
fn implicit_default_nacl_allows_all_both_families() {
    let c = firewalls();
    let ids: Vec<&str> = c.network_acls.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["acl-b", "acl-empty", "acl-default-x"]);
    let d = &c.network_acls[2];
    for dir in [&d.inbound, &d.outbound] {
        let got: Vec<(u16, String, bool)> = dir
            .iter()
            .map(|e| (e.rule_number, e.cidr.to_string(), e.allow))
            .collect();
        assert_eq!(
            got,
            [(100, "0.0.0.0/0".into(), true), (101, "::/0".into(), true)]
        );
        assert!(dir.iter().all(|e| e.traffic == ALL_TRAFFIC));
    }
    // An IPv4-only VPC gets rule 100 only.
    let c = demo();
    let other = c
        .network_acls
        .iter()
        .find(|n| n.id == "acl-default-other")
        .unwrap();
    assert_eq!(other.inbound.len(), 1);
}

#[test]
fn scenario_16_custom_nacl_without_rules_has_no_entries() {
    let c = firewalls();
    assert!(c.network_acls[1].inbound.is_empty() && c.network_acls[1].outbound.is_empty());
}

#[test]
fn subnets_get_their_nacl_or_the_default() {
    let c = firewalls();
    assert_eq!(c.subnets[0].network_acl, Some(NaclIdx(2)));
    assert_eq!(c.subnets[1].network_acl, Some(NaclIdx(0)));
    // A declared default replaces the implicit one and is used as written.
    let src = FIREWALLS.replace(
        "id = \"acl-empty\"\n        vpc = \"vpc-x\"",
        "id = \"acl-empty\"\n        vpc = \"vpc-x\"\n        default = true",
    );
    let c = compile_str(&src).unwrap().config;
    assert_eq!(c.network_acls.len(), 2);
    assert_eq!(c.subnets[0].network_acl, Some(NaclIdx(1)));
    assert!(c.network_acls[1].inbound.is_empty());
}

#[test]
fn nacl_entries_keep_file_order_and_compile_matches() {
    let c = firewalls();
    let b = &c.network_acls[0];
    let numbers: Vec<u16> = b.inbound.iter().map(|e| e.rule_number).collect();
    assert_eq!(numbers, [200, 90, 120, 130]);
    assert_eq!(
        b.inbound[0].traffic.ports,
        Some(PortRange {
            from: 1024,
            to: 65535
        })
    );
    assert!(!b.inbound[1].allow);
    assert_eq!(
        b.inbound[1].traffic.ports,
        Some(PortRange { from: 23, to: 23 })
    );
    assert_eq!(
        b.inbound[2].traffic,
        TrafficMatch {
            protocol: Protocol::Number(1),
            ports: None,
            icmp: Some(IcmpMatch {
                icmp_type: Some(3),
                code: Some(4)
            }),
        }
    );
    // Scenario 17: GRE with ports compiles to "all GRE".
    assert_eq!(
        b.inbound[3].traffic,
        TrafficMatch {
            protocol: Protocol::Number(47),
            ports: None,
            icmp: None
        }
    );
}

#[test]
fn traffic_match_normalises_all_ports_and_any_icmp() {
    let tcp = RuleProtocol::Number(6);
    let all = traffic_match(tcp, Some(PortSpec { from: 0, to: 65535 }), None, None, None);
    assert_eq!(all.ports, None);
    assert_eq!(traffic_match(tcp, None, None, None, None).ports, None);
    let icmp = RuleProtocol::Number(1);
    assert_eq!(
        traffic_match(icmp, None, Some(-1), Some(-1), None).icmp,
        None
    );
    assert_eq!(
        traffic_match(icmp, None, Some(8), None, None).icmp,
        Some(IcmpMatch {
            icmp_type: Some(8),
            code: None
        })
    );
    let v6 = RuleProtocol::Number(58);
    assert_eq!(
        traffic_match(v6, None, Some(128), None, Some(true)).icmp,
        None
    );
    assert!(traffic_match(v6, None, Some(128), None, Some(false))
        .icmp
        .is_some());
    let any = traffic_match(
        RuleProtocol::All,
        Some(PortSpec { from: 1, to: 2 }),
        Some(3),
        None,
        None,
    );
    assert_eq!(any, ALL_TRAFFIC);
}

#[test]
fn security_groups_compile_peers_and_outbound_defaults() {
    let c = firewalls();
    let ids: Vec<&str> = c.security_groups.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["sg-web", "sg-app", "sg-default-x"]);
    let web = &c.security_groups[0];
    let peers: Vec<&SgPeer> = web.inbound.iter().map(|r| &r.peer).collect();
    assert_eq!(
        peers,
        [
            &SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
            &SgPeer::Group(SgIdx(0)),
            &SgPeer::PrefixList {
                id: "pl-admins".into(),
                cidrs: vec![
                    "203.0.113.0/24".parse().unwrap(),
                    "198.51.100.7/32".parse().unwrap()
                ],
            },
            &SgPeer::Cidr("10.0.0.0/16".parse().unwrap()),
            &SgPeer::Group(SgIdx(1)),
        ]
    );
    assert_eq!(web.inbound[4].traffic.ports, None, "0-65535 is all ports");
    // Outbound absent: all to 0.0.0.0/0 and ::/0 (dual-stack VPC).
    let out: Vec<String> = web
        .outbound
        .iter()
        .map(|r| match &r.peer {
            SgPeer::Cidr(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(out, ["0.0.0.0/0", "::/0"]);
    assert!(web.outbound.iter().all(|r| r.traffic == ALL_TRAFFIC));
    // `outbound = []` and inbound absent: no rules at all.
    assert!(c.security_groups[1].inbound.is_empty() && c.security_groups[1].outbound.is_empty());
}

#[test]
fn scenario_20_implicit_default_group_admits_itself() {
    let c = firewalls();
    let d = &c.security_groups[2];
    assert_eq!(
        d.inbound,
        [SgRule {
            traffic: ALL_TRAFFIC,
            peer: SgPeer::Group(SgIdx(2))
        }]
    );
    assert_eq!(d.outbound.len(), 2);
    // ENIs without groups get it; others get theirs, in order.
    assert_eq!(c.enis[0].security_groups, Some(vec![SgIdx(0), SgIdx(1)]));
    assert_eq!(c.enis[1].security_groups, Some(vec![SgIdx(2)]));
}

#[test]
fn conntrack_is_scaled_milliseconds() {
    let c = firewalls();
    assert_eq!(
        c.enis[0].conntrack,
        ConntrackConfig {
            max_entries: 1024,
            tcp_established_ms: 600,
            tcp_transitory_ms: 1200,
            udp_ms: 600,
            udp_stream_ms: 1800,
            icmp_ms: 300,
            other_ms: 6000,
        }
    );
    assert_eq!(c.enis[1].conntrack.udp_ms, 300);
    assert_eq!(c.enis[1].conntrack.max_entries, 65_536);
    // Unscaled, the defaults are the data plane's defaults; tiny scales stay >= 1 ms.
    assert_eq!(conntrack_config(None, 1.0), ConntrackConfig::default());
    assert_eq!(scaled_ms(30, 1e-9), 1);
    assert_eq!(scaled_ms(30, 0.0123), 369);
}

#[test]
fn firewalls_survive_the_wire() {
    let c = firewalls();
    let json = serde_json::to_string(&c).unwrap();
    let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}
