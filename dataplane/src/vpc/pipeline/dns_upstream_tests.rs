//! The resolver's upstream on in-memory ports: which queries are forwarded, the pending
//! table (bounded, timeouts answered SERVFAIL, unknown and duplicate ids ignored), and
//! answers relayed with the original id from the address the client asked. The upstream
//! is a UDP socket on 127.0.0.1 in the test process.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

use hickory_proto::rr::rdata::A as ARecord;
use hickory_proto::rr::Record;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::*;
use crate::datapath::UpstreamLink;
use crate::vpc::config::DnsUpstream;
use crate::vpc::pipeline::dns_upstream::{Pending, PendingQuery, MAX_PENDING, TIMEOUT_MS};

const LINK_LOCAL: [u8; 4] = [169, 254, 169, 253];

/// The fixture with an upstream configured (the link is set by each test).
fn up_config(max_pps: u32) -> DataplaneConfig {
    let mut c = config();
    c.dns.max_pps = max_pps;
    c.dns.upstream = Some(DnsUpstream {
        server: Ipv4Addr::new(203, 0, 113, 53),
        netns: String::new(),
        source: Ipv4Addr::new(192, 0, 2, 53),
    });
    c
}

/// A data plane with an upstream, linked to a fresh server socket on 127.0.0.1.
fn linked(max_pps: u32) -> (Dataplane<MemPort>, UdpSocket) {
    let mut dp = fixtures::mem_dataplane(up_config(max_pps), 1024, true).unwrap();
    dp.set_now(1_000);
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_nonblocking(true).unwrap();
    dp.set_upstream(Some(UpstreamLink::new(sock, server.local_addr().unwrap())));
    (dp, server)
}

/// Sends `payload` from A to the resolver at `dst`; what went back out of A's port.
fn send(dp: &mut Dataplane<MemPort>, dst: [u8; 4], payload: &[u8]) -> Vec<Vec<u8>> {
    let mut f = frame(dst, payload);
    dp.process(A, &mut f);
    std::mem::take(&mut dp.port_mut(A).unwrap().tx)
}

/// The DNS message in an answer frame, checked: MACs, from `src`:53 to A:40000,
/// checksums.
fn parse(reply: &[u8], src: [u8; 4]) -> Message {
    let p = etherparse::SlicedPacket::from_ethernet(&reply[VNET_HDR_LEN..]).unwrap();
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = p.link else {
        panic!("not ethernet")
    };
    assert_eq!(eth.source(), router_mac(0).0);
    assert_eq!(eth.destination(), eni_mac(A).0);
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not ipv4")
    };
    assert_eq!(ip.header().source(), src);
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
        uh.checksum
    );
    Message::from_vec(udp.payload()).unwrap()
}

/// What the upstream server received: the message and where from.
fn received(server: &UdpSocket) -> (Message, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    (Message::from_vec(&buf[..n]).unwrap(), from)
}

/// The upstream's answer to `q`: its question, one A record, NOERROR.
fn upstream_answer(q: &Message, ip: Ipv4Addr) -> Vec<u8> {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.recursion_available = true;
    let question = q.queries[0].clone();
    let name = question.name().clone();
    m.add_query(question);
    m.add_answer(Record::from_rdata(name, 60, RData::A(ARecord(ip))));
    m.to_vec().unwrap()
}

/// Waits (readiness, not time) until the upstream socket has something to read, then
/// lets the data plane read it.
fn deliver(dp: &mut Dataplane<MemPort>) {
    let sock = dp.upstream_socket().unwrap();
    let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
    assert_eq!(poll(&mut fds, PollTimeout::from(5000u16)).unwrap(), 1);
    dp.poll_upstream();
}

fn counters(dp: &Dataplane<MemPort>) -> (u64, u64, u64, u64) {
    let c = dp.counters(PortIdx::from(A)).unwrap();
    (
        c.dns_answers,
        c.dns_errors,
        c.dns_forwarded,
        c.dns_upstream_timeouts,
    )
}

#[test]
fn only_names_outside_every_known_zone_are_forwarded() {
    let (mut dp, _server) = linked(1024);
    // Local answers, as without an upstream.
    for (name, qtype, rcode) in [
        (
            "ip-10-0-2-20.ec2.internal.",
            RecordType::A,
            ResponseCode::NoError,
        ),
        // Under the instance domain, not an instance: NXDOMAIN here.
        (
            "ip-10-9-9-9.ec2.internal.",
            RecordType::A,
            ResponseCode::NXDomain,
        ),
        ("db.corp.internal.", RecordType::A, ResponseCode::NoError),
        // In an associated zone without the name: NXDOMAIN with the zone's SOA.
        ("nx.corp.internal.", RecordType::A, ResponseCode::NXDomain),
        ("corp.internal.", RecordType::AAAA, ResponseCode::NXDomain),
    ] {
        let out = send(&mut dp, PLUS2, &query(name, qtype, false));
        assert_eq!(out.len(), 1, "{name}");
        assert_eq!(
            parse(&out[0], PLUS2).metadata.response_code,
            rcode,
            "{name}"
        );
    }
    assert_eq!(counters(&dp).2, 0);
    // Outside: the internet, and a zone associated with another VPC only.
    for name in ["www.example.com.", "db.other.internal.", "com."] {
        let out = send(&mut dp, PLUS2, &query(name, RecordType::A, false));
        assert!(out.is_empty(), "{name} was answered locally");
    }
    assert_eq!(counters(&dp).2, 3);
    // Over TCP the resolver answers locally (NXDOMAIN), upstream or not.
    let q = query("www.example.com.", RecordType::A, false);
    let _ = tcp_ask(&mut dp, tcp_frame(1000, None, true, false, &[])).unwrap();
    let (_, data) = tcp_ask(
        &mut dp,
        tcp_frame(1001, Some(1), false, false, &prefixed(&q)),
    )
    .unwrap();
    let m = Message::from_vec(&data[2..]).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(counters(&dp).2, 3);
}

#[test]
fn the_answer_is_relayed_with_the_original_id_from_the_address_asked() {
    let (mut dp, server) = linked(1024);
    for at in [LINK_LOCAL, PLUS2] {
        let q = query("www.example.com.", RecordType::A, true);
        assert!(send(&mut dp, at, &q).is_empty());
        let (up, from) = received(&server);
        assert_eq!(up.queries, Message::from_vec(&q).unwrap().queries);
        assert!(up.metadata.recursion_desired);
        assert!(up.edns.is_some(), "the query goes up as it came");
        let reply = upstream_answer(&up, Ipv4Addr::new(203, 0, 113, 53));
        server.send_to(&reply, from).unwrap();
        deliver(&mut dp);
        let out = std::mem::take(&mut dp.port_mut(A).unwrap().tx);
        assert_eq!(out.len(), 1);
        let m = parse(&out[0], at);
        assert_eq!(m.metadata.id, 0x4242);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addrs(&m), [Ipv4Addr::new(203, 0, 113, 53)]);

        // The same answer again (a duplicate), and one under an unknown id: ignored.
        server.send_to(&reply, from).unwrap();
        let mut unknown = reply.clone();
        unknown[0] ^= 0x55;
        server.send_to(&unknown, from).unwrap();
        deliver(&mut dp);
        assert!(dp.port_mut(A).unwrap().tx.is_empty());
    }
    assert_eq!(counters(&dp), (2, 0, 2, 0));
}

#[test]
fn an_answer_to_another_question_is_ignored_and_the_query_times_out_servfail() {
    let (mut dp, server) = linked(1024);
    let q = query("www.example.com.", RecordType::A, false);
    assert!(send(&mut dp, PLUS2, &q).is_empty());
    let (mut up, from) = received(&server);
    // A forged answer with the right id but another question.
    up.queries[0].set_name(Name::from_ascii("evil.example.").unwrap());
    server
        .send_to(&upstream_answer(&up, Ipv4Addr::new(192, 0, 2, 66)), from)
        .unwrap();
    deliver(&mut dp);
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    // Not yet.
    dp.set_now(1_000 + TIMEOUT_MS - 1);
    dp.expire();
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    dp.set_now(1_000 + TIMEOUT_MS);
    dp.expire();
    let out = std::mem::take(&mut dp.port_mut(A).unwrap().tx);
    assert_eq!(out.len(), 1);
    let m = parse(&out[0], PLUS2);
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.queries, Message::from_vec(&q).unwrap().queries);
    assert_eq!(counters(&dp), (1, 1, 1, 1));
    // Once.
    dp.set_now(1_000 + 3 * TIMEOUT_MS);
    dp.expire();
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
}

#[test]
fn without_a_link_a_forwarded_query_gets_servfail_at_once() {
    let mut dp = fixtures::mem_dataplane(up_config(1024), 1024, true).unwrap();
    dp.set_now(1_000);
    let out = send(
        &mut dp,
        PLUS2,
        &query("www.example.com.", RecordType::A, false),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        parse(&out[0], PLUS2).metadata.response_code,
        ResponseCode::ServFail
    );
    assert_eq!(counters(&dp), (1, 1, 1, 0));
}

#[test]
fn without_an_upstream_outside_names_stay_nxdomain() {
    let mut dp = dp();
    let m = ask(&mut dp, "www.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(counters(&dp).2, 0);
}

#[test]
fn a_full_pending_table_answers_servfail_at_once() {
    let (mut dp, _server) = linked(1_000_000);
    for i in 0..MAX_PENDING {
        let out = send(
            &mut dp,
            PLUS2,
            &query("www.example.com.", RecordType::A, false),
        );
        assert!(out.is_empty(), "query {i} was answered");
    }
    let out = send(
        &mut dp,
        PLUS2,
        &query("www.example.com.", RecordType::A, false),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        parse(&out[0], PLUS2).metadata.response_code,
        ResponseCode::ServFail
    );
    // Forwarded ones only count.
    assert_eq!(counters(&dp), (1, 1, MAX_PENDING as u64, 0));
    // They all time out into SERVFAIL, and then there is room again.
    dp.set_now(1_000 + TIMEOUT_MS);
    dp.expire();
    let out = std::mem::take(&mut dp.port_mut(A).unwrap().tx);
    assert_eq!(out.len(), MAX_PENDING);
    assert!(send(
        &mut dp,
        PLUS2,
        &query("www.example.com.", RecordType::A, false)
    )
    .is_empty());
}

#[test]
fn the_rate_limit_applies_before_forwarding() {
    let (mut dp, _server) = linked(2);
    for _ in 0..3 {
        let _ = send(
            &mut dp,
            PLUS2,
            &query("www.example.com.", RecordType::A, false),
        );
    }
    assert_eq!(counters(&dp).2, 2);
    assert_eq!(drops(&dp, DropReason::DnsRateLimited), 1);
}

fn pending(deadline: u64) -> PendingQuery {
    PendingQuery {
        eni: A,
        macs: (router_mac(0), eni_mac(A)),
        client: (Ipv4Addr::new(10, 0, 1, 10), 40000),
        resolver: Ipv4Addr::new(10, 0, 0, 2),
        id: 7,
        query: Query::query(Name::from_ascii("x.").unwrap(), RecordType::A),
        rd: true,
        edns: false,
        limit: 512,
        deadline,
    }
}

#[test]
fn the_pending_table_is_bounded_ids_are_unique_and_expiry_takes_only_due_ones() {
    let mut p = Pending::with_capacity(100);
    let mut ids = std::collections::HashSet::new();
    for i in 0..100 {
        let id = p.insert(pending(1000 + i)).unwrap();
        assert!(ids.insert(id), "id {id} given twice");
    }
    assert_eq!(p.insert(pending(5000)), None);
    assert_eq!(p.len(), 100);
    assert_eq!(p.expired(1049).len(), 50);
    assert_eq!(p.len(), 50);
    let id = *ids.iter().find(|&&id| p.get(id).is_some()).unwrap();
    assert_eq!(p.take(id).unwrap().id, 7);
    assert!(p.take(id).is_none(), "taken once");
    p.remap(|_| None);
    assert!(p.is_empty());
    assert!(Pending::default().insert(pending(0)).is_some());
}
