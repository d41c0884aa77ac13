//! Shared setup for the criterion benches, and the end-to-end benchmark suite ([`suite`],
//! run by `benches/run`) that measures vpcd against its peers on the same topology.

pub mod flood;
pub mod scale;
pub mod suite;

use dataplane::datapath::Dataplane;
use dataplane::engine::port::MemPort;

/// A data plane over `config` whose attached ENIs have counting-only in-memory ports.
pub fn dataplane_with_sinks(config: DataplaneConfig, flow_capacity: usize) -> Dataplane<MemPort> {
    match dataplane::fixtures::mem_dataplane(config, flow_capacity, false) {
        Ok(dp) => dp,
        Err(e) => panic!("fixture config rejected: {e}"),
    }
}

use dataplane::vpc::config::{
    ConntrackConfig, DataplaneConfig, NaclEntry, NaclIdx, NetworkAclConfig, PortRange, Protocol,
    SecurityGroupConfig, SgIdx, SgPeer, SgRule, TrafficMatch, VpcIdx,
};

fn tm(protocol: Protocol, from: u16, to: u16) -> TrafficMatch {
    TrafficMatch {
        protocol,
        ports: Some(PortRange { from, to }),
        icmp: None,
    }
}

/// The "realistic rule set" on the two-subnet fixture: every subnet behind a
/// network ACL of 20 entries per direction (19 that do not match the bench traffic, then
/// the allow that does), and every ENI in 5 security groups of 60 inbound and 60
/// outbound rules each, the matching rule last. Connection tables of `conntrack_max`.
pub fn realistic_firewall(conntrack_max: u32) -> dataplane::vpc::config::DataplaneConfig {
    let mut c = dataplane::fixtures::two_subnets_and_middlebox();
    let nacl_dir = || {
        let mut v: Vec<NaclEntry> = (0..19u16)
            .map(|i| NaclEntry {
                rule_number: 10 + i * 5,
                traffic: tm(Protocol::Number(6), 20_000 + i, 20_000 + i),
                cidr: format!("192.168.{i}.0/24").parse().expect("cidr"),
                allow: i % 2 == 0,
            })
            .collect();
        v.push(NaclEntry {
            rule_number: 200,
            traffic: TrafficMatch {
                protocol: Protocol::All,
                ports: None,
                icmp: None,
            },
            cidr: "10.0.0.0/16".parse().expect("cidr"),
            allow: true,
        });
        v
    };
    c.network_acls = vec![NetworkAclConfig {
        id: "acl-bench".into(),
        vpc: VpcIdx(0),
        inbound: nacl_dir(),
        outbound: nacl_dir(),
    }];
    let rules = |last: SgRule| {
        let mut v: Vec<SgRule> = (0..59u16)
            .map(|i| SgRule {
                traffic: tm(Protocol::Number(6), 10_000 + i, 10_000 + i),
                peer: SgPeer::Cidr(format!("172.16.{i}.0/24").parse().expect("cidr")),
            })
            .collect();
        v.push(last);
        v
    };
    let udp_from_vpc = SgRule {
        traffic: tm(Protocol::Number(17), 1, 65535),
        peer: SgPeer::Cidr("10.0.0.0/16".parse().expect("cidr")),
    };
    c.security_groups = (0..5)
        .map(|g| SecurityGroupConfig {
            id: format!("sg-bench{g}"),
            vpc: VpcIdx(0),
            inbound: rules(udp_from_vpc.clone()),
            outbound: rules(udp_from_vpc.clone()),
        })
        .collect();
    for s in &mut c.subnets {
        s.network_acl = Some(NaclIdx(0));
    }
    for e in &mut c.enis {
        e.security_groups = Some((0..5).map(SgIdx).collect());
        e.conntrack = ConntrackConfig {
            max_entries: conntrack_max,
            ..ConntrackConfig::default()
        };
    }
    c
}
