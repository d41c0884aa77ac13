//! The VPC resolver on in-memory ports: queries built with `hickory-proto` (and by hand
//! for the malformed ones), answers parsed back with it.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::datapath::Dataplane;
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, router_mac, A, B};
use crate::vpc::config::{
    DataplaneConfig, DnsRecordConfig, DnsRecordKind, HostedZoneConfig, VpcConfig, VpcIdx,
};
use crate::vpc::verdict::DropReason;
use crate::wire::vnet::VNET_HDR_LEN;

fn record(name: &str, kind: DnsRecordKind, values: &[&str]) -> DnsRecordConfig {
    DnsRecordConfig {
        name: name.into(),
        kind,
        values: values.iter().map(|v| v.to_string()).collect(),
        ttl: 300,
    }
}

/// The fixture, a second VPC, a zone `corp.internal` in VPC 0 and `other.internal` in
/// VPC 1 only.
fn config() -> DataplaneConfig {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.vpcs.push(VpcConfig {
        id: "vpc-2".into(),
        cidrs: vec!["10.1.0.0/16".parse().unwrap()],
        dhcp: Default::default(),
    });
    c.dns.zones = vec![
        HostedZoneConfig {
            id: "Zcorp".into(),
            name: "corp.internal".into(),
            vpcs: vec![VpcIdx(0)],
            records: vec![
                record("db.corp.internal", DnsRecordKind::A, &["10.0.3.10"]),
                record(
                    "www.corp.internal",
                    DnsRecordKind::Cname,
                    &["db.corp.internal"],
                ),
                record("txt.corp.internal", DnsRecordKind::Txt, &["hello"]),
                record("big.corp.internal", DnsRecordKind::A, &[]),
            ],
        },
        HostedZoneConfig {
            id: "Zother".into(),
            name: "other.internal".into(),
            vpcs: vec![VpcIdx(1)],
            records: vec![record("db.other.internal", DnsRecordKind::A, &["10.1.0.9"])],
        },
    ];
    // 40 addresses: an answer over 512 bytes.
    c.dns.zones[0].records[3].values = (1..=40).map(|i| format!("10.0.9.{i}")).collect();
    // No security group rule at all: the resolver is not behind them.
    c.enis[0].security_groups = Some(vec![]);
    c
}

fn dp() -> Dataplane<MemPort> {
    let mut dp = fixtures::mem_dataplane(config(), 1024, true).unwrap();
    dp.set_now(1_000);
    dp
}

fn query(name: &str, qtype: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0x4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

/// A UDP frame from A to `dst`:53 carrying `payload`, with a zero `virtio_net_hdr`.
fn frame(dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4([10, 0, 1, 10], dst, 64)
        .udp(40000, 53)
        .write(&mut v, payload)
        .unwrap();
    v
}

const PLUS2: [u8; 4] = [10, 0, 0, 2];

/// Sends `payload` to the resolver at `dst` and returns the parsed answer (checked:
/// MACs, addresses, ports, checksums), or `None` if nothing came back.
fn ask_at(dp: &mut Dataplane<MemPort>, dst: [u8; 4], payload: &[u8]) -> Option<Message> {
    let mut f = frame(dst, payload);
    dp.process(A, &mut f);
    let mut out = std::mem::take(&mut dp.port_mut(A).unwrap().tx);
    let reply = out.pop()?;
    assert!(out.is_empty());
    let p = etherparse::SlicedPacket::from_ethernet(&reply[VNET_HDR_LEN..]).unwrap();
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = p.link else {
        panic!("not ethernet")
    };
    assert_eq!(eth.source(), router_mac(0).0);
    assert_eq!(eth.destination(), eni_mac(A).0);
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not ipv4")
    };
    assert_eq!(ip.header().source(), dst);
    assert_eq!(ip.header().destination(), [10, 0, 1, 10]);
    let h = ip.header().to_header();
    assert_eq!(h.calc_header_checksum(), h.header_checksum);
    let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
        panic!("not udp")
    };
    assert_eq!((udp.source_port(), udp.destination_port()), (53, 40000));
    let uh = udp.to_header();
    assert_eq!(
        uh.calc_checksum_ipv4(&h, udp.payload()).unwrap(),
        uh.checksum,
        "UDP checksum"
    );
    Some(Message::from_vec(udp.payload()).unwrap())
}

fn ask(dp: &mut Dataplane<MemPort>, name: &str, qtype: RecordType) -> Message {
    ask_at(dp, PLUS2, &query(name, qtype, false)).expect("an answer")
}

fn addrs(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn drops(dp: &Dataplane<MemPort>, r: DropReason) -> u64 {
    dp.counters(PortIdx::from(A)).unwrap().drops[r.index()]
}

#[test]
fn instance_name_a_at_both_addresses() {
    let mut dp = dp();
    let m = ask(&mut dp, "ip-10-0-2-20.ec2.internal.", RecordType::A);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_desired && m.metadata.recursion_available);
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(10, 0, 2, 20)]);
    // Case does not matter; a secondary address has a name too.
    let m = ask_at(
        &mut dp,
        [169, 254, 169, 253],
        &query("IP-10-0-1-12.EC2.internal.", RecordType::A, false),
    )
    .unwrap();
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(10, 0, 1, 12)]);
    let c = dp.counters(PortIdx::from(A)).unwrap();
    assert_eq!((c.dns_answers, c.dns_errors), (2, 0));
    assert_eq!(c.tx_packets, 2);
    // A resolver answer is never cached as a flow: the next query is answered too.
    assert!(ask_at(&mut dp, PLUS2, &query("x.", RecordType::A, false)).is_some());
}

#[test]
fn ptr_for_an_instance_address() {
    let mut dp = dp();
    let m = ask(&mut dp, "20.2.0.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let RData::PTR(p) = &m.answers[0].data else {
        panic!("{m:?}")
    };
    assert_eq!(p.0.to_ascii(), "ip-10-0-2-20.ec2.internal.");
    let m = ask(&mut dp, "99.2.0.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn hosted_zone_a_cname_txt_and_soa_on_negative_answers() {
    let mut dp = dp();
    let m = ask(&mut dp, "db.corp.internal.", RecordType::A);
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(10, 0, 3, 10)]);
    let m = ask(&mut dp, "www.corp.internal.", RecordType::A);
    assert_eq!(m.answers.len(), 2, "{m:?}");
    assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(10, 0, 3, 10)]);
    let m = ask(&mut dp, "www.corp.internal.", RecordType::CNAME);
    assert_eq!(m.answers.len(), 1);
    let m = ask(&mut dp, "txt.corp.internal.", RecordType::TXT);
    assert_eq!(m.answers[0].record_type(), RecordType::TXT);
    let m = ask(&mut dp, "nope.corp.internal.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    // A name with records but none of this type: NOERROR, empty, with the SOA.
    let m = ask(&mut dp, "db.corp.internal.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
}

#[test]
fn aaaa_for_an_instance_is_empty_noerror() {
    let mut dp = dp();
    let m = ask(&mut dp, "ip-10-0-1-10.ec2.internal.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
}

#[test]
fn unknown_names_and_other_vpcs_zones_are_nxdomain() {
    let mut dp = dp();
    for name in [
        "example.com.",
        "db.other.internal.",
        "ip-10-9-9-9.ec2.internal.",
    ] {
        let m = ask(&mut dp, name, RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(m.answers.is_empty());
    }
    assert_eq!(dp.counters(PortIdx::from(A)).unwrap().dns_errors, 3);
}

#[test]
fn unsupported_queries_get_notimp_or_formerr() {
    let mut dp = dp();
    let m = ask(&mut dp, "corp.internal.", RecordType::AXFR);
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    // Another opcode.
    let mut q = query("db.corp.internal.", RecordType::A, false);
    q[2] |= u8::from(OpCode::Status) << 3;
    let m = ask_at(&mut dp, PLUS2, &q).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    // qdcount 0 and 2.
    let mut m0 = Message::query();
    m0.metadata.id = 7;
    let m = ask_at(&mut dp, PLUS2, &m0.to_vec().unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    let mut m2 = Message::query();
    for n in ["a.corp.internal.", "b.corp.internal."] {
        m2.add_query(Query::query(Name::from_ascii(n).unwrap(), RecordType::A));
    }
    let m = ask_at(&mut dp, PLUS2, &m2.to_vec().unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn malformed_queries_are_formerr_or_counted_drops() {
    let mut dp = dp();
    // A truncated header: dropped and counted.
    assert!(ask_at(&mut dp, PLUS2, &[0x12, 0x34, 1, 0]).is_none());
    assert_eq!(drops(&dp, DropReason::DnsMalformed), 1);
    let header = |qd: u8| vec![0x12, 0x34, 1, 0, 0, qd, 0, 0, 0, 0, 0, 0];
    // A compression pointer to itself, after a complete header: FORMERR.
    let mut looped = header(1);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    // A label longer than 63 bytes.
    let mut long = header(1);
    long.push(64);
    long.extend_from_slice(&[b'a'; 64]);
    long.extend_from_slice(&[0, 0, 1, 0, 1]);
    // A question count past the message.
    let mut short = header(3);
    short.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
    // Random bytes after a header.
    let mut junk = header(1);
    junk.extend_from_slice(&[0xff; 40]);
    for q in [looped, long, short, junk] {
        let m = ask_at(&mut dp, PLUS2, &q).expect("a FORMERR answer");
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(m.metadata.id, 0x1234);
    }
}

#[test]
fn long_answers_are_truncated_without_edns_and_fit_with_it() {
    let mut dp = dp();
    let m = ask(&mut dp, "big.corp.internal.", RecordType::A);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    let m = ask_at(
        &mut dp,
        PLUS2,
        &query("big.corp.internal.", RecordType::A, true),
    )
    .unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(addrs(&m).len(), 40);
    assert!(m.edns.is_some());
}

#[test]
fn rate_limit_is_1024_per_second_per_eni() {
    let mut dp = dp();
    let q = query("ip-10-0-1-10.ec2.internal.", RecordType::A, false);
    for i in 0..1024 {
        assert!(ask_at(&mut dp, PLUS2, &q).is_some(), "query {i}");
    }
    assert!(
        ask_at(&mut dp, PLUS2, &q).is_none(),
        "the 1,025th is dropped"
    );
    assert_eq!(drops(&dp, DropReason::DnsRateLimited), 1);
    assert_eq!(dp.counters(PortIdx::from(A)).unwrap().dns_answers, 1024);
    // Another ENI has its own bucket.
    let mut f = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(B).0, router_mac(1).0)
        .ipv4([10, 0, 2, 20], PLUS2, 64)
        .udp(40000, 53)
        .write(&mut f, &q)
        .unwrap();
    dp.process(B, &mut f);
    assert_eq!(dp.counters(PortIdx::from(B)).unwrap().dns_answers, 1);
    // Tokens come back with time: 10 ms buys 10 queries.
    dp.set_now(1_010);
    for _ in 0..10 {
        assert!(ask_at(&mut dp, PLUS2, &q).is_some());
    }
    assert!(ask_at(&mut dp, PLUS2, &q).is_none());
    assert_eq!(drops(&dp, DropReason::DnsRateLimited), 2);
}

#[test]
fn other_ports_to_plus2_are_not_the_resolver() {
    let mut dp = dp();
    let mut f = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4([10, 0, 1, 10], PLUS2, 64)
        .udp(40000, 54)
        .write(&mut f, b"x")
        .unwrap();
    dp.process(A, &mut f);
    assert_eq!(dp.counters(PortIdx::from(A)).unwrap().dns_answers, 0);
}

/// A TCP segment from A (port 40000) to the resolver with these sequence numbers,
/// flags and data.
fn tcp_frame(seq: u32, ack: Option<u32>, syn: bool, fin: bool, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    let mut b = PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4([10, 0, 1, 10], PLUS2, 64)
        .tcp(40000, 53, seq, 64240);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    if fin {
        b = b.fin();
    }
    b.write(&mut v, data).unwrap();
    v
}

/// Sends a TCP segment and returns the reply's TCP header and payload, checked.
fn tcp_ask(dp: &mut Dataplane<MemPort>, f: Vec<u8>) -> Option<(etherparse::TcpHeader, Vec<u8>)> {
    let mut f = f;
    dp.process(A, &mut f);
    let reply = std::mem::take(&mut dp.port_mut(A).unwrap().tx).pop()?;
    let p = etherparse::SlicedPacket::from_ethernet(&reply[VNET_HDR_LEN..]).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not ipv4")
    };
    let h = ip.header().to_header();
    let Some(etherparse::TransportSlice::Tcp(tcp)) = p.transport else {
        panic!("not tcp")
    };
    let th = tcp.to_header();
    assert_eq!(
        th.calc_checksum_ipv4(&h, tcp.payload()).unwrap(),
        th.checksum,
        "TCP checksum"
    );
    assert_eq!((th.source_port, th.destination_port), (53, 40000));
    Some((th, tcp.payload().to_vec()))
}

#[test]
fn tcp_queries_are_answered_without_state() {
    let mut dp = dp();
    // SYN → SYN-ACK with an MSS.
    let (synack, _) = tcp_ask(&mut dp, tcp_frame(1000, None, true, false, &[])).unwrap();
    assert!(synack.syn && synack.ack && !synack.fin);
    assert_eq!(synack.acknowledgment_number, 1001);
    assert!(!synack.options.as_slice().is_empty());
    let isn = synack.sequence_number;
    // The handshake's ACK: nothing.
    assert!(tcp_ask(&mut dp, tcp_frame(1001, Some(isn + 1), false, false, &[])).is_none());
    // One length-prefixed query → the answer and FIN.
    let q = query("db.corp.internal.", RecordType::A, false);
    let mut data = (q.len() as u16).to_be_bytes().to_vec();
    data.extend_from_slice(&q);
    let (h, payload) =
        tcp_ask(&mut dp, tcp_frame(1001, Some(isn + 1), false, false, &data)).unwrap();
    assert!(h.ack && h.fin && h.psh);
    assert_eq!(h.sequence_number, isn + 1);
    assert_eq!(h.acknowledgment_number, 1001 + data.len() as u32);
    let n = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
    assert_eq!(n, payload.len() - 2);
    let m = Message::from_vec(&payload[2..]).unwrap();
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(10, 0, 3, 10)]);
    // The client's FIN → its ACK.
    let seq = 1001 + data.len() as u32;
    let (h, _) = tcp_ask(
        &mut dp,
        tcp_frame(seq, Some(isn + 2 + n as u32 + 2), false, true, &[]),
    )
    .unwrap();
    assert!(h.ack && !h.fin && !h.syn);
    assert_eq!(h.acknowledgment_number, seq + 1);
    // Over TCP the 40-address answer fits (no truncation at 512 bytes).
    let q = query("big.corp.internal.", RecordType::A, false);
    let mut data = (q.len() as u16).to_be_bytes().to_vec();
    data.extend_from_slice(&q);
    let (_, payload) = tcp_ask(&mut dp, tcp_frame(5, Some(isn + 1), false, false, &data)).unwrap();
    let m = Message::from_vec(&payload[2..]).unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(addrs(&m).len(), 40);
    // A query split over segments (only the length here) is not answered.
    assert!(tcp_ask(
        &mut dp,
        tcp_frame(5, Some(isn + 1), false, false, &data[..2])
    )
    .is_none());
    let c = dp.counters(PortIdx::from(A)).unwrap();
    assert_eq!(c.dns_answers, 2, "segments are not answers");
    assert_eq!(c.arp_ignored, 0);
}
