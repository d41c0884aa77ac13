//! Tests of the flow logs: records written by a data plane, read back from the file.

use super::*;
use crate::datapath::Dataplane;
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, router_mac, A, B, FW, INTERNET_HOST};
use crate::vpc::config::{
    EniIdx, FlowLogConfig, MappingTarget, NaclEntry, NaclIdx, NetworkAclConfig, PortRange,
    Protocol, PublicMapping, SecurityGroupConfig, SgIdx, SgPeer, SgRule, TrafficMatch, VpcIdx,
};
use crate::vpc::conntrack::tcp_flags::{ACK, FIN, SYN};
use crate::wire::vnet::VNET_HDR_LEN;
use etherparse::PacketBuilder;

fn tm(proto: Protocol, ports: Option<(u16, u16)>) -> TrafficMatch {
    TrafficMatch {
        protocol: proto,
        ports: ports.map(|(from, to)| PortRange { from, to }),
        icmp: None,
    }
}

/// The NAT fixture; flow log `fl-1` (ALL, 60 s, default format unless `fields`)
/// on A, B and FW; B's group admits TCP 22 only; FW has the public IP
/// 198.51.100.30; subnet 1 (B) behind an ACL whose outbound rules are given.
fn setup(path: &str, fields: &[&str], b_outbound: Vec<NaclEntry>) -> Dataplane<MemPort> {
    let mut c = fixtures::behind_nat_gateway((1024, 65535));
    let all = tm(Protocol::All, None);
    c.security_groups = vec![SecurityGroupConfig {
        id: "sg-b".into(),
        vpc: VpcIdx(0),
        inbound: vec![SgRule {
            traffic: tm(Protocol::Number(6), Some((22, 22))),
            peer: SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
        }],
        outbound: vec![SgRule {
            traffic: all,
            peer: SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
        }],
    }];
    c.enis[B.idx()].security_groups = Some(vec![SgIdx(0)]);
    c.network_acls = vec![NetworkAclConfig {
        id: "acl-b".into(),
        vpc: VpcIdx(0),
        inbound: vec![NaclEntry {
            rule_number: 100,
            traffic: all,
            cidr: "0.0.0.0/0".parse().unwrap(),
            allow: true,
        }],
        outbound: b_outbound,
    }];
    c.subnets[1].network_acl = Some(NaclIdx(0));
    // B's table sends 10.0.1.0/24 to FW (a middlebox) in the fixture: route it
    // locally here.
    c.route_tables[1]
        .routes
        .retain(|r| r.target != crate::vpc::config::RouteTarget::Eni(FW));
    c.internet_gateways[0].mappings.push(PublicMapping {
        public: "198.51.100.30".parse().unwrap(),
        target: MappingTarget::Eni(FW),
        private: "10.0.3.30".parse().unwrap(),
        source: "eipalloc-fw".into(),
    });
    c.flow_logs = vec![FlowLogConfig {
        id: "fl-1".into(),
        interfaces: vec![A.into(), B.into(), FW.into()],
        traffic: FlowLogTraffic::All,
        interval_ms: 60_000,
        path: path.into(),
        fields: if fields.is_empty() {
            DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect()
        } else {
            fields.iter().map(|f| f.to_string()).collect()
        },
    }];
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    dp
}

fn allow_all_out() -> Vec<NaclEntry> {
    vec![NaclEntry {
        rule_number: 100,
        traffic: tm(Protocol::All, None),
        cidr: "0.0.0.0/0".parse().unwrap(),
        allow: true,
    }]
}

fn tcp(from: EniIdx, to: [u8; 4], from_ip: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let subnet = [0u8, 0, 1, 2, 1][from.idx()];
    let mut v = vec![0u8; VNET_HDR_LEN];
    let b = PacketBuilder::ethernet2(eni_mac(from).0, router_mac(subnet).0)
        .ipv4(from_ip, to, 64)
        .tcp(sport, dport, 1, 64000);
    let b = if flags & SYN != 0 { b.syn() } else { b };
    let b = if flags & ACK != 0 { b.ack(1) } else { b };
    let b = if flags & FIN != 0 { b.fin() } else { b };
    b.write(&mut v, b"").unwrap();
    v
}

const A_IP: [u8; 4] = [10, 0, 1, 10];
const B_IP: [u8; 4] = [10, 0, 2, 20];

fn path(name: &str) -> String {
    let p = std::env::temp_dir().join(format!("vpcd-fl-{}-{name}.log", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p.to_string_lossy().into_owned()
}

fn lines(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    text.lines().map(str::to_string).collect()
}

/// A short TCP connection A → B:22 (handshake, FINs both ways).
fn short_connection(dp: &mut Dataplane<MemPort>) {
    dp.process(A, &mut tcp(A, B_IP, A_IP, 40000, 22, SYN));
    dp.process(B, &mut tcp(B, A_IP, B_IP, 22, 40000, SYN | ACK));
    dp.process(A, &mut tcp(A, B_IP, A_IP, 40000, 22, ACK));
    dp.process(A, &mut tcp(A, B_IP, A_IP, 40000, 22, FIN | ACK));
    dp.process(B, &mut tcp(B, A_IP, B_IP, 22, 40000, FIN | ACK));
    dp.process(A, &mut tcp(A, B_IP, A_IP, 40000, 22, ACK));
}

#[test]
fn default_format_records_field_by_field_with_nodata_for_the_idle_eni() {
    let p = path("default");
    let mut dp = setup(&p, &[], allow_all_out());
    short_connection(&mut dp);
    dp.set_now(61_000);
    dp.expire();
    dp.sync_writes();
    let got = lines(&p);
    // 40 bytes per segment (IPv4 + TCP headers, no payload).
    let expect = [
        "2 000000000000 eni-0 10.0.1.10 10.0.2.20 40000 22 6 4 160 1 1 ACCEPT OK",
        "2 000000000000 eni-0 10.0.2.20 10.0.1.10 22 40000 6 2 80 1 1 ACCEPT OK",
        "2 000000000000 eni-2 10.0.1.10 10.0.2.20 40000 22 6 4 160 1 1 ACCEPT OK",
        "2 000000000000 eni-2 10.0.2.20 10.0.1.10 22 40000 6 2 80 1 1 ACCEPT OK",
        "2 000000000000 eni-3 - - - - - - - 0 61 - NODATA",
    ];
    assert_eq!(got, expect);
}

#[test]
fn tcp_flags_are_or_ed_and_a_v5_field_makes_version_5() {
    let p = path("flags");
    let fields = [
        "version",
        "interface-id",
        "srcaddr",
        "dstaddr",
        "tcp-flags",
        "flow-direction",
        "traffic-path",
        "pkt-dstaddr",
    ];
    let mut dp = setup(&p, &fields, allow_all_out());
    short_connection(&mut dp);
    // FW (public IP 198.51.100.30) to the internet: traffic path 8 (IGW).
    dp.process(
        FW,
        &mut tcp(FW, INTERNET_HOST, [10, 0, 3, 30], 50000, 443, SYN),
    );
    dp.set_now(61_000);
    dp.expire();
    dp.sync_writes();
    let got = lines(&p);
    assert_eq!(
        got,
        [
            "5 eni-0 10.0.1.10 10.0.2.20 3 egress 1 10.0.2.20",
            "5 eni-0 10.0.2.20 10.0.1.10 19 ingress - 10.0.1.10",
            "5 eni-2 10.0.1.10 10.0.2.20 3 ingress - 10.0.2.20",
            "5 eni-2 10.0.2.20 10.0.1.10 19 egress 1 10.0.1.10",
            "5 eni-3 10.0.3.30 203.0.113.5 2 egress 8 203.0.113.5",
        ]
    );
}

#[test]
fn a_nacl_reject_on_the_return_path_and_an_sg_reject_inbound() {
    // B's subnet lets nothing out: the SYN-ACK is refused there (B egress REJECT),
    // after the SYN was accepted at both ends.
    let p = path("reject");
    let mut dp = setup(&p, &[], vec![]);
    dp.process(A, &mut tcp(A, B_IP, A_IP, 40000, 22, SYN));
    dp.process(B, &mut tcp(B, A_IP, B_IP, 22, 40000, SYN | ACK));
    dp.process(B, &mut tcp(B, A_IP, B_IP, 22, 40000, SYN | ACK));
    // B's group refuses port 80: one REJECT, on B's ingress; A's egress accepted.
    dp.process(A, &mut tcp(A, B_IP, A_IP, 40001, 80, SYN));
    dp.set_now(61_000);
    dp.expire();
    dp.sync_writes();
    let got = lines(&p);
    assert_eq!(
        got,
        [
            "2 000000000000 eni-0 10.0.1.10 10.0.2.20 40000 22 6 1 40 1 1 ACCEPT OK",
            "2 000000000000 eni-0 10.0.1.10 10.0.2.20 40001 80 6 1 40 1 1 ACCEPT OK",
            "2 000000000000 eni-2 10.0.1.10 10.0.2.20 40000 22 6 1 40 1 1 ACCEPT OK",
            "2 000000000000 eni-2 10.0.1.10 10.0.2.20 40001 80 6 1 40 1 1 REJECT OK",
            "2 000000000000 eni-2 10.0.2.20 10.0.1.10 22 40000 6 2 80 1 1 REJECT OK",
            "2 000000000000 eni-3 - - - - - - - 0 61 - NODATA",
        ]
    );
}

#[test]
fn only_the_chosen_traffic_is_kept_and_intervals_restart() {
    let p = path("accept-only");
    let mut dp = setup(&p, &[], vec![]);
    {
        // Make the log ACCEPT-only through a fresh install.
        let mut c = dp.tables().config.clone();
        c.flow_logs[0].traffic = FlowLogTraffic::Accept;
        let plan = (0..6)
            .map(|i| crate::datapath::EniPlan {
                previous: Some(PortIdx(i)),
                port: crate::datapath::PortChange::Keep,
            })
            .collect();
        dp.install(c, plan).unwrap();
    }
    dp.process(A, &mut tcp(A, B_IP, A_IP, 40001, 80, SYN));
    dp.set_now(61_000);
    dp.expire();
    dp.set_now(121_000);
    dp.expire();
    dp.sync_writes();
    let got = lines(&p);
    assert!(got.iter().all(|l| !l.contains("REJECT")), "{got:?}");
    assert!(got
        .iter()
        .any(|l| l.contains("eni-0") && l.contains("ACCEPT")));
    // The second interval is idle: NODATA for every covered ENI.
    assert_eq!(
        got.iter()
            .filter(|l| l.ends_with("61 121 - NODATA"))
            .count(),
        3
    );
}

#[test]
fn format_versions_follow_the_newest_field() {
    let f = |v: &[&str]| format_version(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(f(&DEFAULT_FIELDS), 2);
    assert_eq!(f(&["version", "vpc-id"]), 3);
    assert_eq!(f(&["az-id"]), 4);
    assert_eq!(f(&["srcaddr", "traffic-path"]), 5);
    assert_eq!(logged_flags(ACK), 0);
    assert_eq!(logged_flags(SYN | ACK), 18);
    assert_eq!(logged_flags(FIN | ACK), 1);
}

#[test]
fn the_resolvers_answers_and_drops_are_not_in_flow_logs() {
    let p = path("resolver");
    let mut dp = setup(&p, &[], allow_all_out());
    let udp = |payload: &[u8]| {
        let mut v = vec![0u8; crate::wire::vnet::VNET_HDR_LEN];
        etherparse::PacketBuilder::ethernet2(
            crate::fixtures::eni_mac(A).0,
            crate::fixtures::router_mac(0).0,
        )
        .ipv4(A_IP, [10, 0, 0, 2], 64)
        .udp(40000, 53)
        .write(&mut v, payload)
        .unwrap();
        v
    };
    // A query for `.` (answered, NXDOMAIN) and a message too short to be one (dropped).
    dp.process(
        A,
        &mut udp(&[0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]),
    );
    dp.process(A, &mut udp(&[0, 1]));
    let c = dp.counters(A).unwrap();
    assert_eq!(c.dns_answers, 1);
    assert_eq!(
        c.drops[crate::vpc::verdict::DropReason::DnsMalformed.index()],
        1
    );
    dp.set_now(61_000);
    dp.expire();
    dp.sync_writes();
    let got = lines(&p);
    assert!(got.iter().all(|l| !l.contains("10.0.0.2")), "{got:#?}");
    assert!(got
        .iter()
        .any(|l| l.contains("eni-0") && l.ends_with("NODATA")));
}

#[test]
fn the_metadata_service_is_not_in_flow_logs() {
    let p = path("metadata");
    let mut dp = setup(&p, &[], allow_all_out());
    let tcp = |dport: u16, syn: bool| {
        let mut v = vec![0u8; crate::wire::vnet::VNET_HDR_LEN];
        let b = etherparse::PacketBuilder::ethernet2(
            crate::fixtures::eni_mac(A).0,
            crate::fixtures::router_mac(0).0,
        )
        .ipv4(A_IP, [169, 254, 169, 254], 64)
        .tcp(40000, dport, 1, 1024);
        let b = if syn { b.syn() } else { b };
        b.write(&mut v, &[]).unwrap();
        v
    };
    // A SYN to the service (answered with a SYN-ACK) and one to a port it does not
    // serve (dropped).
    dp.process(A, &mut tcp(80, true));
    dp.process(A, &mut tcp(443, true));
    let c = dp.counters(A).unwrap();
    assert_eq!(
        c.drops[crate::vpc::verdict::DropReason::MetadataDisabled.index()],
        1
    );
    assert_eq!(c.tx_packets, 1, "the SYN-ACK");
    dp.set_now(61_000);
    dp.expire();
    dp.sync_writes();
    let got = lines(&p);
    assert!(
        got.iter().all(|l| !l.contains("169.254.169.254")),
        "{got:#?}"
    );
    assert!(got
        .iter()
        .any(|l| l.contains("eni-0") && l.ends_with("NODATA")));
}
