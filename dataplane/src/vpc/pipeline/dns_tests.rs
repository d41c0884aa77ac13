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
    // 100 addresses: an answer over the largest EDNS payload.
    let huge: Vec<String> = (1..=100).map(|i| format!("10.0.8.{i}")).collect();
    let huge: Vec<&str> = huge.iter().map(String::as_str).collect();
    c.dns.zones[0]
        .records
        .push(record("huge.corp.internal", DnsRecordKind::A, &huge));
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

// Malformed and hostile input: each built from a real query, with only the broken part
// written as bytes.

/// The 12-byte header of a real query (id 0x4242, RD, one question) followed by `rest`.
fn with_question(rest: &[u8]) -> Vec<u8> {
    let mut q = query("db.corp.internal.", RecordType::A, false);
    q.truncate(12);
    q.extend_from_slice(rest);
    q
}

/// The response code of the answer to `payload`, which must come.
fn rcode(dp: &mut Dataplane<MemPort>, payload: &[u8]) -> ResponseCode {
    let m = ask_at(dp, PLUS2, payload).expect("an answer");
    assert_eq!(m.metadata.id, u16::from_be_bytes([payload[0], payload[1]]));
    m.metadata.response_code
}

#[test]
fn compression_pointer_loops_and_pointers_past_the_end_get_formerr() {
    let mut dp = dp();
    let qtail = [0, 1, 0, 1];
    // Two pointers to each other (12 → 14 → 12).
    let mut two = vec![0xc0, 14, 0xc0, 12];
    two.extend_from_slice(&qtail);
    // A label, then a pointer back to it: `a.a.a.…` until the name is too long.
    let mut back = vec![1, b'a', 0xc0, 12];
    back.extend_from_slice(&qtail);
    // A pointer past the end of the message, and one into the header.
    let mut past = vec![0xc0, 0xff];
    past.extend_from_slice(&qtail);
    let mut far = vec![0xff, 0xff];
    far.extend_from_slice(&qtail);
    // A pointer cut in half.
    let half = vec![0xc0];
    for tail in [two, back, past, far, half] {
        assert_eq!(
            rcode(&mut dp, &with_question(&tail)),
            ResponseCode::FormErr,
            "{tail:?}"
        );
    }
    let c = dp.counters(PortIdx::from(A)).unwrap();
    assert_eq!((c.dns_answers, c.dns_errors), (5, 5));
}

#[test]
fn names_over_255_bytes_or_labels_over_63_get_formerr() {
    let mut dp = dp();
    // 127 one-letter labels: 255 bytes with the root, the longest name there is.
    let name = |labels: usize| {
        let mut n: Vec<u8> = std::iter::repeat_n([1, b'a'], labels).flatten().collect();
        n.extend_from_slice(&[0, 0, 1, 0, 1]);
        n
    };
    assert_eq!(
        rcode(&mut dp, &with_question(&name(127))),
        ResponseCode::NXDomain
    );
    for labels in [128, 255] {
        assert_eq!(
            rcode(&mut dp, &with_question(&name(labels))),
            ResponseCode::FormErr
        );
    }
    // A label of 63 bytes is fine, one of 64 (a length byte 0x40: neither a label nor a
    // pointer) is not.
    for (len, expect) in [(63, ResponseCode::NXDomain), (64, ResponseCode::FormErr)] {
        let mut tail = vec![len];
        tail.extend(std::iter::repeat_n(b'a', usize::from(len)));
        tail.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(rcode(&mut dp, &with_question(&tail)), expect, "{len}");
    }
}

#[test]
fn question_counts_other_than_one_get_formerr() {
    let mut dp = dp();
    // QDCOUNT 0 with a question after the header, QDCOUNT 2 with one question.
    let mut zero = query("db.corp.internal.", RecordType::A, false);
    zero[5] = 0;
    let mut two = query("db.corp.internal.", RecordType::A, false);
    two[5] = 2;
    // QDCOUNT 2 with two whole questions, and QDCOUNT 0xffff.
    let mut both = query("db.corp.internal.", RecordType::A, false);
    let question = both[12..].to_vec();
    both.extend_from_slice(&question);
    both[5] = 2;
    let mut many = query("db.corp.internal.", RecordType::A, false);
    many[4..6].copy_from_slice(&[0xff, 0xff]);
    for q in [zero, two, both, many] {
        assert_eq!(rcode(&mut dp, &q), ResponseCode::FormErr);
    }
}

#[test]
fn headers_shorter_than_12_bytes_are_counted_drops() {
    let mut dp = dp();
    let q = query("db.corp.internal.", RecordType::A, false);
    for cut in [0, 1, 2, 11] {
        assert!(ask_at(&mut dp, PLUS2, &q[..cut]).is_none());
    }
    assert_eq!(drops(&dp, DropReason::DnsMalformed), 4);
    assert_eq!(dp.counters(PortIdx::from(A)).unwrap().dns_answers, 0);
}

#[test]
fn a_response_sent_to_the_resolver_is_dropped_not_answered() {
    let mut dp = dp();
    // A real response (as another resolver would send): answering it, even with
    // FORMERR, could start a loop between two servers.
    let mut m = Message::response(0x4242, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("db.corp.internal.").unwrap(),
        RecordType::A,
    ));
    m.metadata.response_code = ResponseCode::NXDomain;
    assert!(ask_at(&mut dp, PLUS2, &m.to_vec().unwrap()).is_none());
    // QR set on a message that does not even parse.
    let mut junk = with_question(&[0xc0, 12]);
    junk[2] |= 0x80;
    assert!(ask_at(&mut dp, PLUS2, &junk).is_none());
    // Over TCP too.
    let r = m.to_vec().unwrap();
    let mut data = (r.len() as u16).to_be_bytes().to_vec();
    data.extend_from_slice(&r);
    assert!(tcp_ask(&mut dp, tcp_frame(1, Some(1), false, false, &data)).is_none());
    assert_eq!(drops(&dp, DropReason::DnsMalformed), 3);
    assert_eq!(dp.counters(PortIdx::from(A)).unwrap().dns_answers, 0);
}

#[test]
fn opcodes_other_than_query_get_notimp() {
    let mut dp = dp();
    for op in [OpCode::Status, OpCode::Notify, OpCode::Update] {
        let mut q = query("db.corp.internal.", RecordType::A, false);
        q[2] = (q[2] & 0x87) | (u8::from(op) << 3);
        assert_eq!(rcode(&mut dp, &q), ResponseCode::NotImp, "{op:?}");
    }
}

/// The UDP payload length of the one frame A was sent.
fn answer_len(dp: &mut Dataplane<MemPort>, payload: &[u8]) -> (usize, Message) {
    let mut f = frame(PLUS2, payload);
    dp.process(A, &mut f);
    let reply = std::mem::take(&mut dp.port_mut(A).unwrap().tx)
        .pop()
        .unwrap();
    let p = etherparse::SlicedPacket::from_ethernet(&reply[VNET_HDR_LEN..]).unwrap();
    let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
        panic!("not udp")
    };
    (
        udp.payload().len(),
        Message::from_vec(udp.payload()).unwrap(),
    )
}

#[test]
fn udp_answers_stay_within_512_bytes_or_the_capped_edns_size() {
    let mut dp = dp();
    // Without EDNS: 40 addresses do not fit 512 bytes, TC is set.
    let (len, m) = answer_len(&mut dp, &query("big.corp.internal.", RecordType::A, false));
    assert!(len <= 512, "{len}");
    assert!(m.metadata.truncation && m.answers.is_empty());
    // EDNS asking for 65,535 bytes gets at most 1,232: 100 addresses are truncated.
    let mut q = Message::query();
    q.metadata.id = 9;
    q.add_query(Query::query(
        Name::from_ascii("huge.corp.internal.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(u16::MAX);
    q.set_edns(e);
    let (len, m) = answer_len(&mut dp, &q.to_vec().unwrap());
    assert!(len <= 1232, "{len}");
    assert!(m.metadata.truncation);
    assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(1232));
    // EDNS asking for less than 512 is read as 512.
    let mut e = Edns::new();
    e.set_max_payload(1);
    q.set_edns(e);
    let (len, m) = answer_len(&mut dp, &q.to_vec().unwrap());
    assert!(len <= 512, "{len}");
    assert!(m.metadata.truncation);
}

/// `q`, length-prefixed as over TCP.
fn prefixed(q: &[u8]) -> Vec<u8> {
    let mut d = (q.len() as u16).to_be_bytes().to_vec();
    d.extend_from_slice(q);
    d
}

#[test]
fn tcp_length_prefixes_that_do_not_match_the_segment_are_counted_drops() {
    let mut dp = dp();
    let q = query("db.corp.internal.", RecordType::A, false);
    // A prefix claiming more than the segment holds (the rest would come later: not
    // reassembled), one claiming less, a prefix shorter than a header, one lone byte.
    let mut more = prefixed(&q);
    more[0..2].copy_from_slice(&(q.len() as u16 + 100).to_be_bytes());
    let mut less = prefixed(&q);
    less[0..2].copy_from_slice(&(q.len() as u16 - 3).to_be_bytes());
    let mut tiny = prefixed(&q[..11]);
    tiny.truncate(13);
    for data in [more, less, tiny, vec![0]] {
        assert!(
            tcp_ask(&mut dp, tcp_frame(1, Some(1), false, false, &data)).is_none(),
            "{data:?}"
        );
    }
    // Data without ACK (neither SYN nor RST).
    assert!(tcp_ask(&mut dp, tcp_frame(1, None, false, false, &prefixed(&q))).is_none());
    assert_eq!(drops(&dp, DropReason::DnsMalformed), 5);
    assert_eq!(dp.counters(PortIdx::from(A)).unwrap().dns_answers, 0);
}

#[test]
fn tcp_segments_with_several_queries_get_all_answers_in_one_segment() {
    let mut dp = dp();
    // A and AAAA pipelined, as glibc sends them.
    let mut data = prefixed(&query("db.corp.internal.", RecordType::A, false));
    data.extend(prefixed(&query(
        "db.corp.internal.",
        RecordType::AAAA,
        false,
    )));
    let (h, payload) = tcp_ask(&mut dp, tcp_frame(7, Some(1), false, false, &data)).unwrap();
    assert_eq!(h.acknowledgment_number, 7 + data.len() as u32);
    let n = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
    let first = Message::from_vec(&payload[2..2 + n]).unwrap();
    let rest = &payload[2 + n..];
    let n2 = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    assert_eq!(rest.len(), 2 + n2);
    let second = Message::from_vec(&rest[2..]).unwrap();
    assert_eq!(addrs(&first), vec![Ipv4Addr::new(10, 0, 3, 10)]);
    assert_eq!(second.queries[0].query_type(), RecordType::AAAA);
    assert!(second.answers.is_empty());
    // Four queries for 40 addresses each: every answer truncated to its share, the
    // segment within 1,400 bytes of messages.
    let big = prefixed(&query("big.corp.internal.", RecordType::A, false));
    let data = big.repeat(4);
    let (_, payload) = tcp_ask(&mut dp, tcp_frame(7, Some(1), false, false, &data)).unwrap();
    assert!(payload.len() <= 1400 + 8, "{}", payload.len());
    let mut rest = &payload[..];
    for _ in 0..4 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        assert!(
            Message::from_vec(&rest[2..2 + n])
                .unwrap()
                .metadata
                .truncation
        );
        rest = &rest[2 + n..];
    }
    assert!(rest.is_empty());
    // Five is more than a segment is answered for.
    let data = big.repeat(5);
    assert!(tcp_ask(&mut dp, tcp_frame(7, Some(1), false, false, &data)).is_none());
    assert_eq!(drops(&dp, DropReason::DnsMalformed), 1);
    assert_eq!(dp.counters(PortIdx::from(A)).unwrap().dns_answers, 2);
}

/// A deterministic generator (xorshift64*), so that a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutates `b` in place: a few bit flips, a truncation, or a byte inserted.
fn mutate(rng: &mut Rng, b: &mut Vec<u8>) {
    match rng.below(4) {
        0 => {
            let at = rng.below(b.len() + 1);
            b.truncate(at);
        }
        1 => {
            let at = rng.below(b.len() + 1);
            b.insert(at, rng.next() as u8);
        }
        _ => {
            for _ in 0..=rng.below(4) {
                if !b.is_empty() {
                    let at = rng.below(b.len());
                    b[at] ^= 1 << rng.below(8);
                }
            }
        }
    }
}

/// Everything the counters say happened to frames: drops (engine-wide), frames sent
/// (answers, SYN-ACKs, forwards), frames consumed without an answer.
fn outcomes(dp: &Dataplane<MemPort>) -> u64 {
    let mut n: u64 = dp.engine_counters().drops.iter().sum();
    for (p, _) in dp.ports() {
        let c = dp.counters(p).unwrap();
        n += c.tx_packets + c.dhcp_ignored + c.arp_ignored;
    }
    n
}

/// Whether `frame` (after the `virtio_net_hdr`) is a TCP segment to port 53 that the
/// resolver may consume without a word: a pure ACK or a RST.
fn silent_tcp(frame: &[u8]) -> bool {
    let Ok(p) = etherparse::SlicedPacket::from_ethernet(frame) else {
        return false;
    };
    match p.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => {
            t.destination_port() == 53
                && (t.rst() || (t.ack() && !t.syn() && !t.fin() && t.payload().is_empty()))
        }
        _ => false,
    }
}

#[test]
fn twenty_thousand_mutations_are_all_answered_or_counted() {
    let mut dp = dp();
    let mut rng = Rng(0x5eed_0d25_0053);
    let udp = query("db.corp.internal.", RecordType::A, true);
    let tcp = prefixed(&query("www.corp.internal.", RecordType::A, false));
    let frames = [
        frame(PLUS2, &udp),
        tcp_frame(1001, Some(5), false, false, &tcp),
    ];
    let (mut silent, mut answered) = (0, 0);
    for i in 0..20_000u64 {
        // Tokens for every query: the rate limit is not what is tested here.
        dp.set_now(1_000 + 10 * i);
        let k = (i % 2) as usize;
        // Half the mutations hit the DNS message inside consistent headers; the rest
        // hit the frame itself.
        let mut f = if i % 4 < 2 {
            let mut m = [&udp, &tcp][k].clone();
            mutate(&mut rng, &mut m);
            if k == 0 {
                frame(PLUS2, &m)
            } else {
                tcp_frame(1001, Some(5), false, false, &m)
            }
        } else {
            let mut f = frames[k][VNET_HDR_LEN..].to_vec();
            mutate(&mut rng, &mut f);
            let mut v = vec![0u8; VNET_HDR_LEN];
            v.extend_from_slice(&f);
            v
        };
        let before = outcomes(&dp);
        let answers = dp.counters(PortIdx::from(A)).unwrap().dns_answers;
        dp.process(A, &mut f);
        let after = outcomes(&dp);
        if after == before && silent_tcp(&f[VNET_HDR_LEN..]) {
            silent += 1;
        } else {
            assert_eq!(after, before + 1, "mutation {i} unaccounted: {f:?}");
        }
        answered += dp.counters(PortIdx::from(A)).unwrap().dns_answers - answers;
        for p in dp.ports().map(|(p, _)| p).collect::<Vec<_>>() {
            dp.port_mut(p).unwrap().tx.clear();
        }
    }
    let c = dp.counters(PortIdx::from(A)).unwrap();
    assert_eq!(c.rx_packets, 20_000);
    assert!(answered > 1_000 && c.drops[DropReason::DnsMalformed.index()] > 0);
    assert!(silent < 2_000, "{silent}");
}

#[path = "dns_upstream_tests.rs"]
mod upstream;
