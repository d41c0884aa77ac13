//! Flow logs on a NAT gateway's network interface: the four records of AWS's "traffic
//! through a NAT gateway" example (the inside host's packet as it arrives, the translated
//! packet as it leaves, the reply as it arrives, the reply as it leaves for the host), on
//! the slow path and on flow-cache hits alike, and `REJECT` records charged to the
//! gateway's interface when its subnet's ACL refuses a packet on the way in or out.

use super::*;
use crate::datapath::Dataplane;
use crate::engine::port::MemPort;
use crate::fixtures::{
    self, eni_mac, router_mac, A, IGW_MAC, INTERNET_HOST, INTERNET_HOST_MAC, NAT_EIP, NAT_ENI,
    UPLINK,
};
use crate::vpc::config::{
    FlowLogConfig, Interface, NaclEntry, NaclIdx, NatIdx, NetworkAclConfig, PortRange, Protocol,
    TrafficMatch, VpcIdx,
};
use crate::vpc::conntrack::tcp_flags::{ACK, SYN};
use crate::wire::vnet::VNET_HDR_LEN;
use etherparse::PacketBuilder;

const A_IP: [u8; 4] = [10, 0, 1, 10];

/// Every field a record of the NAT gateway's interface is checked by.
const FIELDS: [&str; 16] = [
    "interface-id",
    "instance-id",
    "vpc-id",
    "subnet-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "protocol",
    "packets",
    "bytes",
    "action",
    "flow-direction",
    "traffic-path",
];

fn path(name: &str) -> String {
    let p = std::env::temp_dir().join(format!("vpcd-flnat-{}-{name}.log", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p.to_string_lossy().into_owned()
}

fn lines(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    text.lines().map(str::to_string).collect()
}

/// The NAT fixture with flow log `fl-nat` (ALL, [`FIELDS`]) on `interfaces`, and
/// `acl` (if any) on the NAT gateway's subnet.
fn setup(p: &str, interfaces: Vec<Interface>, acl: Option<NetworkAclConfig>) -> Dataplane<MemPort> {
    let mut c = fixtures::behind_nat_gateway((1024, 65535));
    if let Some(acl) = acl {
        c.network_acls = vec![acl];
        c.subnets[2].network_acl = Some(NaclIdx(0));
    }
    c.flow_logs = vec![FlowLogConfig {
        id: "fl-nat".into(),
        interfaces,
        traffic: FlowLogTraffic::All,
        interval_ms: 60_000,
        path: p.into(),
        fields: FIELDS.iter().map(|f| f.to_string()).collect(),
    }];
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    dp
}

fn tcp_from_a(dport: u16, flags: u8) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    let b = PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(A_IP, INTERNET_HOST, 64)
        .tcp(40000, dport, 1000, 64000);
    let b = if flags & SYN != 0 { b.syn() } else { b };
    let b = if flags & ACK != 0 { b.ack(1) } else { b };
    b.write(&mut v, b"").unwrap();
    v
}

fn tcp_from_host(dport: u16, flags: u8) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    let b = PacketBuilder::ethernet2(INTERNET_HOST_MAC.0, IGW_MAC.0)
        .ipv4(INTERNET_HOST, NAT_EIP, 64)
        .tcp(80, dport, 500, 64000);
    let b = if flags & SYN != 0 { b.syn() } else { b };
    let b = if flags & ACK != 0 { b.ack(1001) } else { b };
    b.write(&mut v, b"").unwrap();
    v
}

fn close(dp: &mut Dataplane<MemPort>) {
    dp.set_now(61_000);
    dp.expire();
    dp.sync_writes();
}

fn tm(ports: u16) -> TrafficMatch {
    TrafficMatch {
        protocol: Protocol::Number(6),
        ports: Some(PortRange {
            from: ports,
            to: ports,
        }),
        icmp: None,
    }
}

fn rule(n: u16, traffic: TrafficMatch, allow: bool) -> NaclEntry {
    NaclEntry {
        rule_number: n,
        traffic,
        cidr: "0.0.0.0/0".parse().unwrap(),
        allow,
    }
}

#[test]
fn the_nat_gateway_interface_records_both_legs_both_ways_as_aws_shows_them() {
    let p = path("legs");
    let nat = Interface::NatGateway(NatIdx(0));
    let mut dp = setup(&p, vec![A.into(), nat], None);
    // Handshake and one more packet each way: the second packet of each direction is a
    // flow-cache hit, and counts in the same records.
    dp.process(A, &mut tcp_from_a(80, SYN));
    let out = std::mem::take(&mut dp.port_mut(UPLINK).unwrap().tx);
    assert_eq!(out.len(), 1, "the SYN left through the gateways");
    dp.process(UPLINK, &mut tcp_from_host(40000, SYN | ACK));
    dp.process(A, &mut tcp_from_a(80, ACK));
    dp.process(UPLINK, &mut tcp_from_host(40000, ACK));
    assert_eq!(
        dp.port_mut(A).unwrap().tx.len(),
        2,
        "both replies delivered"
    );
    assert!(dp.engine_counters().flow_hits >= 2);
    close(&mut dp);
    // The gateway keeps the instance's port (free), 40000. Two 40-byte packets per
    // record. The gateway's interface: srcaddr/dstaddr show its primary private address
    // on its side, pkt-srcaddr/pkt-dstaddr the packet's; instance-id is `-`.
    assert_eq!(
        lines(&p),
        [
            "eni-0 - vpc-1 subnet-0 10.0.1.10 203.0.113.5 40000 80 10.0.1.10 203.0.113.5 6 2 80 ACCEPT egress 1",
            "eni-0 - vpc-1 subnet-0 203.0.113.5 10.0.1.10 80 40000 203.0.113.5 10.0.1.10 6 2 80 ACCEPT ingress -",
            "eni-nat-1 - vpc-1 subnet-2 10.0.1.10 10.0.3.220 40000 80 10.0.1.10 203.0.113.5 6 2 80 ACCEPT ingress -",
            "eni-nat-1 - vpc-1 subnet-2 10.0.3.220 10.0.1.10 80 40000 203.0.113.5 10.0.1.10 6 2 80 ACCEPT egress 1",
            "eni-nat-1 - vpc-1 subnet-2 10.0.3.220 203.0.113.5 40000 80 10.0.3.220 203.0.113.5 6 2 80 ACCEPT egress 8",
            "eni-nat-1 - vpc-1 subnet-2 203.0.113.5 10.0.3.220 80 40000 203.0.113.5 10.0.3.220 6 2 80 ACCEPT ingress -",
        ]
    );
    assert_eq!(NAT_ENI, "eni-nat-1");
}

#[test]
fn the_gateway_subnet_acl_refusals_are_charged_to_its_interface() {
    // The NAT gateway's subnet refuses TCP 81 on the way out (after translation) and TCP
    // 82 on the way in (before it).
    let p = path("reject");
    let all = TrafficMatch {
        protocol: Protocol::All,
        ports: None,
        icmp: None,
    };
    let acl = NetworkAclConfig {
        id: "acl-nat".into(),
        vpc: VpcIdx(0),
        inbound: vec![rule(10, tm(82), false), rule(100, all, true)],
        outbound: vec![rule(10, tm(81), false), rule(100, all, true)],
    };
    let nat = Interface::NatGateway(NatIdx(0));
    let mut dp = setup(&p, vec![A.into(), nat], Some(acl));
    for _ in 0..2 {
        dp.process(A, &mut tcp_from_a(81, SYN));
        dp.process(A, &mut tcp_from_a(82, SYN));
    }
    assert!(dp.port_mut(UPLINK).unwrap().tx.is_empty(), "nothing left");
    close(&mut dp);
    assert_eq!(
        lines(&p),
        [
            "eni-0 - vpc-1 subnet-0 10.0.1.10 203.0.113.5 40000 81 10.0.1.10 203.0.113.5 6 2 80 ACCEPT egress 1",
            "eni-0 - vpc-1 subnet-0 10.0.1.10 203.0.113.5 40000 82 10.0.1.10 203.0.113.5 6 2 80 ACCEPT egress 1",
            // 81: translated, then refused leaving the subnet: accepted in, rejected out.
            "eni-nat-1 - vpc-1 subnet-2 10.0.1.10 10.0.3.220 40000 81 10.0.1.10 203.0.113.5 6 2 80 ACCEPT ingress -",
            // 82: refused entering the gateway's subnet: a REJECT on its ingress.
            "eni-nat-1 - vpc-1 subnet-2 10.0.1.10 10.0.3.220 40000 82 10.0.1.10 203.0.113.5 6 2 80 REJECT ingress -",
            "eni-nat-1 - vpc-1 subnet-2 10.0.3.220 203.0.113.5 40000 81 10.0.3.220 203.0.113.5 6 2 80 REJECT egress -",
        ]
    );
}

#[test]
fn an_idle_nat_gateway_interface_gets_a_nodata_record() {
    let p = path("nodata");
    let mut dp = setup(&p, vec![Interface::NatGateway(NatIdx(0))], None);
    close(&mut dp);
    assert_eq!(
        lines(&p),
        ["eni-nat-1 - vpc-1 subnet-2 - - - - - - - - - - - -"]
    );
}

#[test]
fn a_reply_refused_at_the_instance_passed_the_gateway_interface_both_ways() {
    // The instance's subnet refuses the reply (TCP to port 40000 inbound): the gateway's
    // interface accepted it in and out; the instance's ingress REJECT shows the packet as
    // it arrived there (translated back to the instance's address and port).
    let p = path("reject-at-a");
    let mut c = fixtures::behind_nat_gateway((1024, 65535));
    let all = TrafficMatch {
        protocol: Protocol::All,
        ports: None,
        icmp: None,
    };
    c.network_acls = vec![NetworkAclConfig {
        id: "acl-a".into(),
        vpc: VpcIdx(0),
        inbound: vec![rule(10, tm(40000), false), rule(100, all, true)],
        outbound: vec![rule(100, all, true)],
    }];
    c.subnets[0].network_acl = Some(NaclIdx(0));
    c.flow_logs = vec![FlowLogConfig {
        id: "fl-nat".into(),
        interfaces: vec![A.into(), Interface::NatGateway(NatIdx(0))],
        traffic: FlowLogTraffic::All,
        interval_ms: 60_000,
        path: p.clone(),
        fields: FIELDS.iter().map(|f| f.to_string()).collect(),
    }];
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    dp.process(A, &mut tcp_from_a(80, SYN));
    dp.process(UPLINK, &mut tcp_from_host(40000, SYN | ACK));
    assert!(
        dp.port_mut(A).unwrap().tx.is_empty(),
        "the reply was refused"
    );
    close(&mut dp);
    assert_eq!(
        lines(&p),
        [
            "eni-0 - vpc-1 subnet-0 10.0.1.10 203.0.113.5 40000 80 10.0.1.10 203.0.113.5 6 1 40 ACCEPT egress 1",
            "eni-0 - vpc-1 subnet-0 203.0.113.5 10.0.1.10 80 40000 203.0.113.5 10.0.1.10 6 1 40 REJECT ingress -",
            "eni-nat-1 - vpc-1 subnet-2 10.0.1.10 10.0.3.220 40000 80 10.0.1.10 203.0.113.5 6 1 40 ACCEPT ingress -",
            "eni-nat-1 - vpc-1 subnet-2 10.0.3.220 10.0.1.10 80 40000 203.0.113.5 10.0.1.10 6 1 40 ACCEPT egress 1",
            "eni-nat-1 - vpc-1 subnet-2 10.0.3.220 203.0.113.5 40000 80 10.0.3.220 203.0.113.5 6 1 40 ACCEPT egress 8",
            "eni-nat-1 - vpc-1 subnet-2 203.0.113.5 10.0.3.220 80 40000 203.0.113.5 10.0.3.220 6 1 40 ACCEPT ingress -",
        ]
    );
}

#[test]
fn a_hairpin_through_the_nat_gateway_shows_the_public_addresses_it_saw() {
    // A reaches FW's Elastic IP through the NAT gateway; the internet gateway turns both
    // ways around. The gateway's interface sees FW's Elastic IP on both legs of the
    // reply (the internet gateway rewrote its source before it arrived).
    const FW_EIP: [u8; 4] = [198, 51, 100, 41];
    let p = path("hairpin");
    let mut c = fixtures::behind_nat_gateway((1024, 65535));
    c.internet_gateways[0]
        .mappings
        .push(crate::vpc::config::PublicMapping {
            public: FW_EIP.into(),
            target: crate::vpc::config::MappingTarget::Eni(fixtures::FW),
            private: [10, 0, 3, 30].into(),
            source: "eipalloc-fw".into(),
        });
    c.flow_logs = vec![FlowLogConfig {
        id: "fl-nat".into(),
        interfaces: vec![A.into(), fixtures::FW.into(), NatIdx(0).into()],
        traffic: FlowLogTraffic::All,
        interval_ms: 60_000,
        path: p.clone(),
        fields: FIELDS.iter().map(|f| f.to_string()).collect(),
    }];
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    let frame = |from: crate::vpc::config::EniIdx,
                 subnet: u8,
                 (src, sport): ([u8; 4], u16),
                 (dst, dport): ([u8; 4], u16),
                 flags: u8| {
        let mut v = vec![0u8; VNET_HDR_LEN];
        let b = PacketBuilder::ethernet2(eni_mac(from).0, router_mac(subnet).0)
            .ipv4(src, dst, 64)
            .tcp(sport, dport, 1000, 64000);
        let b = if flags & SYN != 0 { b.syn() } else { b };
        let b = if flags & ACK != 0 { b.ack(1) } else { b };
        b.write(&mut v, b"").unwrap();
        v
    };
    for flags in [SYN, ACK] {
        dp.process(A, &mut frame(A, 0, (A_IP, 40000), (FW_EIP, 80), flags));
        dp.process(
            fixtures::FW,
            &mut frame(
                fixtures::FW,
                2,
                ([10, 0, 3, 30], 80),
                (NAT_EIP, 40000),
                flags | ACK,
            ),
        );
    }
    assert_eq!(
        dp.port_mut(A).unwrap().tx.len(),
        2,
        "both replies reached A"
    );
    close(&mut dp);
    assert_eq!(
        lines(&p),
        [
            "eni-0 - vpc-1 subnet-0 10.0.1.10 198.51.100.41 40000 80 10.0.1.10 198.51.100.41 6 2 80 ACCEPT egress 1",
            "eni-0 - vpc-1 subnet-0 198.51.100.41 10.0.1.10 80 40000 198.51.100.41 10.0.1.10 6 2 80 ACCEPT ingress -",
            "eni-3 - vpc-1 subnet-2 10.0.3.30 198.51.100.7 80 40000 10.0.3.30 198.51.100.7 6 2 80 ACCEPT egress 1",
            "eni-3 - vpc-1 subnet-2 198.51.100.7 10.0.3.30 40000 80 198.51.100.7 10.0.3.30 6 2 80 ACCEPT ingress -",
            "eni-nat-1 - vpc-1 subnet-2 10.0.1.10 10.0.3.220 40000 80 10.0.1.10 198.51.100.41 6 2 80 ACCEPT ingress -",
            "eni-nat-1 - vpc-1 subnet-2 10.0.3.220 10.0.1.10 80 40000 198.51.100.41 10.0.1.10 6 2 80 ACCEPT egress 1",
            "eni-nat-1 - vpc-1 subnet-2 10.0.3.220 198.51.100.41 40000 80 10.0.3.220 198.51.100.41 6 2 80 ACCEPT egress 1",
            "eni-nat-1 - vpc-1 subnet-2 198.51.100.41 10.0.3.220 80 40000 198.51.100.41 10.0.3.220 6 2 80 ACCEPT ingress -",
        ]
    );
}
