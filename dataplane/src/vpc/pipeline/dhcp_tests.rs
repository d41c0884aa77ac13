//! The VPC router's DHCP server on in-memory ports: client messages built with smoltcp's
//! DHCP emitter inside `etherparse` frames, answers parsed back with smoltcp.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;
use smoltcp::wire::{DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress};

use crate::datapath::Dataplane;
use crate::engine::buf::BUF_SIZE;
use crate::engine::port::MemPort;
use crate::fixtures::{self, eni_mac, router_mac, A, A2};
use crate::vpc::config::{DataplaneConfig, DhcpConfig};
use crate::vpc::verdict::DropReason;
use crate::wire::vnet::VNET_HDR_LEN;
use crate::wire::MacAddr;

const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);

fn config() -> DataplaneConfig {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.vpcs[0].dhcp = DhcpConfig {
        dns_servers: vec![Ipv4Addr::new(10, 0, 0, 2)],
        domain_name: Some("ec2.internal".into()),
        ntp_servers: vec![Ipv4Addr::new(169, 254, 169, 123)],
        lease_secs: 600,
    };
    c.enis[0].mtu = 1500;
    // A security group without rules: DHCP is not filtered by it.
    c.enis[0].security_groups = Some(Vec::new());
    c
}

fn dp() -> Dataplane<MemPort> {
    fixtures::mem_dataplane(config(), 1024, true).unwrap()
}

/// A client message as udhcpc sends it: `ty` from `chaddr`, with these fields.
fn message(ty: DhcpMessageType, chaddr: MacAddr) -> DhcpRepr<'static> {
    DhcpRepr {
        message_type: ty,
        transaction_id: 0x1234_5678,
        secs: 0,
        client_hardware_address: EthernetAddress(chaddr.0),
        client_ip: Ipv4Addr::UNSPECIFIED,
        your_ip: Ipv4Addr::UNSPECIFIED,
        server_ip: Ipv4Addr::UNSPECIFIED,
        router: None,
        subnet_mask: None,
        relay_agent_ip: Ipv4Addr::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: Some(EthernetAddress(chaddr.0)),
        server_identifier: None,
        parameter_request_list: Some(&[1, 3, 6, 15, 26, 42]),
        dns_servers: None,
        max_size: Some(576),
        lease_duration: None,
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    }
}

/// `repr` in a UDP datagram 68 → 67 from `src` to `dst`, in an Ethernet frame from
/// `src_mac` to `dst_mac`, behind a zero `virtio_net_hdr`, in a full-size buffer; returns
/// the buffer and the frame's length.
fn frame(
    repr: &DhcpRepr<'_>,
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> (Vec<u8>, usize) {
    let mut dhcp = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut dhcp[..]))
        .unwrap();
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(src_mac.0, dst_mac.0)
        .ipv4(src.octets(), dst.octets(), 64)
        .udp(68, 67)
        .write(&mut v, &dhcp)
        .unwrap();
    let len = v.len();
    v.resize(BUF_SIZE, 0);
    (v, len)
}

/// A broadcast from 0.0.0.0 (DISCOVER, REQUEST while selecting) by ENI A.
fn broadcast(repr: &DhcpRepr<'_>) -> (Vec<u8>, usize) {
    frame(
        repr,
        eni_mac(A),
        MacAddr::BROADCAST,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
    )
}

fn send(dp: &mut Dataplane<MemPort>, (mut buf, len): (Vec<u8>, usize)) {
    dp.process_in(A, &mut buf, len);
}

/// The one frame A was sent: (Ethernet destination, IPv4 destination, DHCP message bytes).
fn answer(dp: &mut Dataplane<MemPort>) -> (MacAddr, Ipv4Addr, Vec<u8>) {
    let mut tx = std::mem::take(&mut dp.port_mut(A).unwrap().tx);
    assert_eq!(tx.len(), 1, "one answer");
    let f = tx.remove(0);
    let p = etherparse::SlicedPacket::from_ethernet(&f[VNET_HDR_LEN..]).unwrap();
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = p.link else {
        panic!("not Ethernet")
    };
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not IPv4")
    };
    let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
        panic!("not UDP")
    };
    assert_eq!(MacAddr(eth.source()), router_mac(0));
    assert_eq!(ip.header().source_addr(), ROUTER);
    assert_eq!((udp.source_port(), udp.destination_port()), (67, 68));
    let sum = udp
        .to_header()
        .calc_checksum_ipv4(&ip.header().to_header(), udp.payload())
        .unwrap();
    assert_eq!(sum, udp.checksum(), "UDP checksum");
    assert!(udp.payload().len() >= 300, "BOOTP minimum size");
    (
        MacAddr(eth.destination()),
        ip.header().destination_addr(),
        udp.payload().to_vec(),
    )
}

/// The fields of an answer the tests look at.
#[derive(Debug)]
struct Answer {
    message_type: DhcpMessageType,
    transaction_id: u32,
    your_ip: Ipv4Addr,
    client_ip: Ipv4Addr,
    subnet_mask: Option<Ipv4Addr>,
    router: Option<Ipv4Addr>,
    server_identifier: Option<Ipv4Addr>,
    lease_duration: Option<u32>,
    renew_duration: Option<u32>,
    rebind_duration: Option<u32>,
}

fn parse(bytes: &[u8]) -> Answer {
    let p = DhcpPacket::new_checked(bytes).unwrap();
    let r = DhcpRepr::parse(&p).unwrap();
    Answer {
        message_type: r.message_type,
        transaction_id: r.transaction_id,
        your_ip: r.your_ip,
        client_ip: r.client_ip,
        subnet_mask: r.subnet_mask,
        router: r.router,
        server_identifier: r.server_identifier,
        lease_duration: r.lease_duration,
        renew_duration: r.renew_duration,
        rebind_duration: r.rebind_duration,
    }
}

/// The value of option `kind` in a DHCP message.
fn option(bytes: &[u8], kind: u8) -> Option<Vec<u8>> {
    let p = DhcpPacket::new_checked(bytes).unwrap();
    let found = p
        .options()
        .find(|o| o.kind == kind)
        .map(|o| o.data.to_vec());
    found
}

#[test]
fn discover_gets_an_offer_of_the_primary_address_with_the_vpc_options() {
    let mut dp = dp();
    send(
        &mut dp,
        broadcast(&message(DhcpMessageType::Discover, eni_mac(A))),
    );
    let (mac, ip, bytes) = answer(&mut dp);
    // No BROADCAST flag: unicast to the offered address and chaddr.
    assert_eq!((mac, ip), (eni_mac(A), ADDR_A));
    let r = parse(&bytes);
    assert_eq!(r.message_type, DhcpMessageType::Offer);
    assert_eq!(r.transaction_id, 0x1234_5678);
    assert_eq!(r.your_ip, ADDR_A);
    assert_eq!(r.subnet_mask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(r.router, Some(ROUTER));
    assert_eq!(r.server_identifier, Some(ROUTER));
    assert_eq!(r.lease_duration, Some(600));
    assert_eq!(r.renew_duration, Some(300));
    assert_eq!(r.rebind_duration, Some(525));
    assert_eq!(option(&bytes, 6), Some(vec![10, 0, 0, 2]));
    assert_eq!(option(&bytes, 15), Some(b"ec2.internal".to_vec()));
    assert_eq!(option(&bytes, 42), Some(vec![169, 254, 169, 123]));
    assert_eq!(option(&bytes, 26), Some(1500u16.to_be_bytes().to_vec()));
    let c = dp.counters(A).unwrap();
    assert_eq!((c.dhcp_replies, c.dhcp_ignored), (1, 0));
    assert_eq!(c.drops.iter().sum::<u64>(), 0);
}

#[test]
fn broadcast_flag_gets_a_broadcast_answer() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Discover, eni_mac(A));
    m.broadcast = true;
    send(&mut dp, broadcast(&m));
    let (mac, ip, _) = answer(&mut dp);
    assert_eq!((mac, ip), (MacAddr::BROADCAST, Ipv4Addr::BROADCAST));
}

#[test]
fn request_for_the_offered_address_gets_an_ack() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Request, eni_mac(A));
    m.requested_ip = Some(ADDR_A);
    m.server_identifier = Some(ROUTER);
    send(&mut dp, broadcast(&m));
    let (_, _, bytes) = answer(&mut dp);
    let r = parse(&bytes);
    assert_eq!(r.message_type, DhcpMessageType::Ack);
    assert_eq!(r.your_ip, ADDR_A);
    assert_eq!(r.lease_duration, Some(600));
}

#[test]
fn request_for_another_address_gets_a_broadcast_nak() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Request, eni_mac(A));
    m.requested_ip = Some(Ipv4Addr::new(10, 0, 1, 11));
    send(&mut dp, broadcast(&m));
    let (mac, ip, bytes) = answer(&mut dp);
    assert_eq!((mac, ip), (MacAddr::BROADCAST, Ipv4Addr::BROADCAST));
    let r = parse(&bytes);
    assert_eq!(r.message_type, DhcpMessageType::Nak);
    assert_eq!(r.your_ip, Ipv4Addr::UNSPECIFIED);
    assert_eq!(r.lease_duration, None);
    assert_eq!(dp.counters(A).unwrap().dhcp_replies, 1);
}

#[test]
fn request_for_another_server_is_ignored() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Request, eni_mac(A));
    m.requested_ip = Some(ADDR_A);
    m.server_identifier = Some(Ipv4Addr::new(10, 0, 1, 99));
    send(&mut dp, broadcast(&m));
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    assert_eq!(dp.counters(A).unwrap().dhcp_ignored, 1);
}

#[test]
fn renew_unicast_to_the_router_gets_an_ack_to_ciaddr() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Request, eni_mac(A));
    m.client_ip = ADDR_A;
    send(
        &mut dp,
        frame(&m, eni_mac(A), router_mac(0), ADDR_A, ROUTER),
    );
    let (mac, ip, bytes) = answer(&mut dp);
    assert_eq!((mac, ip), (eni_mac(A), ADDR_A));
    assert_eq!(parse(&bytes).message_type, DhcpMessageType::Ack);
}

#[test]
fn rebind_broadcast_with_ciaddr_gets_an_ack() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Request, eni_mac(A));
    m.client_ip = ADDR_A;
    send(
        &mut dp,
        frame(
            &m,
            eni_mac(A),
            MacAddr::BROADCAST,
            ADDR_A,
            Ipv4Addr::BROADCAST,
        ),
    );
    let (_, ip, bytes) = answer(&mut dp);
    assert_eq!(ip, ADDR_A);
    assert_eq!(parse(&bytes).message_type, DhcpMessageType::Ack);
}

#[test]
fn inform_gets_an_ack_without_address_or_lease() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Inform, eni_mac(A));
    m.client_ip = ADDR_A;
    send(
        &mut dp,
        frame(&m, eni_mac(A), router_mac(0), ADDR_A, ROUTER),
    );
    let (mac, ip, bytes) = answer(&mut dp);
    assert_eq!((mac, ip), (eni_mac(A), ADDR_A));
    let r = parse(&bytes);
    assert_eq!(r.message_type, DhcpMessageType::Ack);
    assert_eq!(r.your_ip, Ipv4Addr::UNSPECIFIED);
    assert_eq!(r.client_ip, ADDR_A);
    assert_eq!(r.lease_duration, None);
    assert_eq!(option(&bytes, 6), Some(vec![10, 0, 0, 2]));
}

#[test]
fn release_and_decline_are_consumed_without_answer() {
    let mut dp = dp();
    let mut m = message(DhcpMessageType::Release, eni_mac(A));
    m.client_ip = ADDR_A;
    m.server_identifier = Some(ROUTER);
    send(
        &mut dp,
        frame(&m, eni_mac(A), router_mac(0), ADDR_A, ROUTER),
    );
    send(
        &mut dp,
        broadcast(&message(DhcpMessageType::Decline, eni_mac(A))),
    );
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    let c = dp.counters(A).unwrap();
    assert_eq!((c.dhcp_replies, c.dhcp_ignored), (0, 2));
}

#[test]
fn a_foreign_mac_is_ignored() {
    let mut dp = dp();
    // Another ENI's MAC as chaddr, from A's port.
    send(
        &mut dp,
        broadcast(&message(DhcpMessageType::Discover, eni_mac(A2))),
    );
    // A's chaddr, from another source MAC.
    let other = MacAddr([0x02, 0, 0, 0, 0, 0x99]);
    send(
        &mut dp,
        frame(
            &message(DhcpMessageType::Discover, eni_mac(A)),
            other,
            MacAddr::BROADCAST,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
        ),
    );
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    assert_eq!(dp.counters(A).unwrap().dhcp_ignored, 2);
}

#[test]
fn truncated_or_malformed_messages_are_counted_drops() {
    let mut dp = dp();
    let (full, len) = broadcast(&message(DhcpMessageType::Discover, eni_mac(A)));
    let dhcp_at = VNET_HDR_LEN + 14 + 20 + 8;
    let mut sent = 0;
    // Truncations of the DHCP message before its message-type option ends, with IPv4
    // and UDP lengths made consistent so that the frame still parses up to UDP. (A cut
    // after it leaves a message without its END option: see
    // `a_missing_end_option_is_a_counted_drop`.)
    for cut in (dhcp_at..dhcp_at + 240 + 3).step_by(7) {
        let mut buf = full.clone();
        let udp_len = (cut - dhcp_at + 8) as u16;
        let ip_len = udp_len + 20;
        buf[VNET_HDR_LEN + 14 + 2..VNET_HDR_LEN + 14 + 4].copy_from_slice(&ip_len.to_be_bytes());
        buf[VNET_HDR_LEN + 14 + 10..VNET_HDR_LEN + 14 + 12].fill(0);
        let c = crate::wire::checksum::checksum(&buf[VNET_HDR_LEN + 14..VNET_HDR_LEN + 34]);
        buf[VNET_HDR_LEN + 14 + 10..VNET_HDR_LEN + 14 + 12].copy_from_slice(&c.to_be_bytes());
        buf[VNET_HDR_LEN + 34 + 4..VNET_HDR_LEN + 34 + 6].copy_from_slice(&udp_len.to_be_bytes());
        dp.process_in(A, &mut buf, cut);
        sent += 1;
    }
    // An option whose length runs past the end of the message.
    let mut buf = full.clone();
    let opts = dhcp_at + 240;
    buf[opts + 1] = 200;
    dp.process_in(A, &mut buf, len);
    sent += 1;
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    let c = dp.counters(A).unwrap();
    assert_eq!(c.drops[DropReason::DhcpMalformed.index()], sent);
    assert_eq!(c.dhcp_replies, 0);
}

#[test]
fn an_answer_without_room_in_the_buffer_is_a_counted_drop() {
    let mut dp = dp();
    let (mut buf, len) = broadcast(&message(DhcpMessageType::Discover, eni_mac(A)));
    buf.truncate(len);
    dp.process(A, &mut buf);
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    assert_eq!(
        dp.counters(A).unwrap().drops[DropReason::DhcpMalformed.index()],
        1
    );
}

#[test]
fn dhcp_to_another_address_is_ordinary_traffic() {
    let mut dp = dp();
    // To a DHCP server A2 would run, at layer 2 in the subnet: A's rule-less group
    // refuses it, as any other packet.
    let mut m = message(DhcpMessageType::Request, eni_mac(A));
    m.client_ip = ADDR_A;
    send(
        &mut dp,
        frame(
            &m,
            eni_mac(A),
            eni_mac(A2),
            ADDR_A,
            Ipv4Addr::new(10, 0, 1, 11),
        ),
    );
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    let c = dp.counters(A).unwrap();
    assert_eq!((c.dhcp_replies, c.dhcp_ignored), (0, 0));
    assert_eq!(c.drops[DropReason::SgNoMatch.index()], 1);
}

#[test]
fn every_discover_is_answered_not_cached() {
    let mut dp = dp();
    for _ in 0..3 {
        send(
            &mut dp,
            broadcast(&message(DhcpMessageType::Discover, eni_mac(A))),
        );
        let _ = answer(&mut dp);
    }
    assert_eq!(dp.counters(A).unwrap().dhcp_replies, 3);
}

proptest::proptest! {
    /// Any bytes after the UDP header are answered, ignored or dropped, never a panic.
    #[test]
    fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let mut dp = dp();
        let mut v = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(eni_mac(A).0, MacAddr::BROADCAST.0)
            .ipv4([0; 4], [255; 4], 64)
            .udp(68, 67)
            .write(&mut v, &payload)
            .unwrap();
        let len = v.len();
        v.resize(BUF_SIZE, 0);
        dp.process_in(A, &mut v, len);
    }
}

// Malformed and hostile input: each built from a real message, with only the broken
// part written as bytes.

/// The DHCP message bytes smoltcp emits for `repr` (its last byte is the END option).
fn dhcp_bytes(repr: &DhcpRepr<'_>) -> Vec<u8> {
    let mut dhcp = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut dhcp[..]))
        .unwrap();
    assert_eq!(dhcp.last(), Some(&255), "END closes the options");
    dhcp
}

/// `dhcp` (any bytes) broadcast by ENI A from 0.0.0.0, 68 → 67, with consistent IPv4
/// and UDP lengths, in a full-size buffer.
fn raw_broadcast(dhcp: &[u8]) -> (Vec<u8>, usize) {
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, MacAddr::BROADCAST.0)
        .ipv4([0; 4], [255; 4], 64)
        .udp(68, 67)
        .write(&mut v, dhcp)
        .unwrap();
    let len = v.len();
    v.resize(BUF_SIZE, 0);
    (v, len)
}

fn discover() -> DhcpRepr<'static> {
    message(DhcpMessageType::Discover, eni_mac(A))
}

/// Asserts that nothing was sent and the counters say (dhcp_malformed drops, ignored).
fn assert_unanswered(dp: &mut Dataplane<MemPort>, malformed: u64, ignored: u64) {
    assert!(dp.port_mut(A).unwrap().tx.is_empty(), "no answer");
    let c = dp.counters(A).unwrap();
    assert_eq!(c.dhcp_replies, 0);
    assert_eq!(c.drops[DropReason::DhcpMalformed.index()], malformed);
    assert_eq!(c.dhcp_ignored, ignored);
    assert_eq!(c.drops.iter().sum::<u64>(), malformed, "no other drop");
}

#[test]
fn an_option_running_past_the_end_is_a_counted_drop() {
    let mut dp = dp();
    // After the message type (which smoltcp would have read), an option whose length
    // claims 10 bytes where 3 are left, and no END.
    let mut m = dhcp_bytes(&discover());
    m.pop();
    m.extend_from_slice(&[77, 10, 1, 2, 3]);
    send(&mut dp, raw_broadcast(&m));
    // A code without its length byte.
    let mut m = dhcp_bytes(&discover());
    *m.last_mut().unwrap() = 77;
    send(&mut dp, raw_broadcast(&m));
    assert_unanswered(&mut dp, 2, 0);
}

#[test]
fn a_missing_end_option_is_a_counted_drop() {
    let mut dp = dp();
    let mut m = dhcp_bytes(&discover());
    m.pop();
    send(&mut dp, raw_broadcast(&m));
    // Padding is not an END either.
    *m.last_mut().unwrap() = 0;
    m.extend_from_slice(&[0; 8]);
    send(&mut dp, raw_broadcast(&m));
    assert_unanswered(&mut dp, 2, 0);
}

#[test]
fn option_overload_with_options_in_sname_and_file_is_ignored() {
    let mut dp = dp();
    // Option 52 = 3 (both fields), and `file` asking for another address: smoltcp does
    // not read `sname`/`file`, so the server does not answer what it cannot read.
    let overload = [smoltcp::wire::DhcpOption {
        kind: 52,
        data: &[3],
    }];
    let mut r = message(DhcpMessageType::Request, eni_mac(A));
    r.requested_ip = Some(ADDR_A);
    r.additional_options = &overload;
    let mut m = dhcp_bytes(&r);
    // sname: 44..108, file: 108..236.
    m[44..51].copy_from_slice(&[54, 4, 10, 0, 1, 99, 255]);
    m[108..115].copy_from_slice(&[50, 4, 10, 0, 1, 11, 255]);
    send(&mut dp, raw_broadcast(&m));
    // Malformed options in `file` under overload: still not read, still ignored.
    m[108..111].copy_from_slice(&[50, 200, 1]);
    send(&mut dp, raw_broadcast(&m));
    assert_unanswered(&mut dp, 0, 2);
}

#[test]
fn a_parameter_request_list_of_255_entries_is_answered_as_usual() {
    let mut dp = dp();
    let all: Vec<u8> = (1..=255).collect();
    let mut m = discover();
    m.parameter_request_list = Some(&all);
    send(&mut dp, broadcast(&m));
    let (_, _, bytes) = answer(&mut dp);
    assert_eq!(parse(&bytes).message_type, DhcpMessageType::Offer);
    // The answer does not grow with the list (nothing is echoed).
    send(&mut dp, broadcast(&discover()));
    let (_, _, plain) = answer(&mut dp);
    assert_eq!(bytes.len(), plain.len());
}

#[test]
fn a_huge_client_identifier_is_answered_within_bounds() {
    let mut dp = dp();
    // RFC 3396: a long option split into several instances (3 × 255 bytes of option 61).
    let id = [0x42u8; 255];
    let parts = [smoltcp::wire::DhcpOption {
        kind: 61,
        data: &id,
    }; 3];
    let mut m = discover();
    m.client_identifier = None;
    m.additional_options = &parts;
    send(&mut dp, broadcast(&m));
    let (_, _, bytes) = answer(&mut dp);
    assert_eq!(parse(&bytes).message_type, DhcpMessageType::Offer);
    assert_eq!(option(&bytes, 61), None, "the client id is not echoed");
    assert!(bytes.len() <= 576, "{} bytes", bytes.len());
    // An Ethernet-sized client id whose hardware type is not Ethernet: smoltcp refuses it.
    let mut m = dhcp_bytes(&discover());
    assert_eq!(&m[243..245], &[61, 7]);
    m[245] = 6;
    send(&mut dp, raw_broadcast(&m));
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    assert_eq!(
        dp.counters(A).unwrap().drops[DropReason::DhcpMalformed.index()],
        1
    );
}

#[test]
fn a_message_shorter_than_the_bootp_header_is_a_counted_drop() {
    let mut dp = dp();
    let m = dhcp_bytes(&discover());
    // No message at all, half a header, a header without the magic cookie, a header
    // with half of it.
    for cut in [0, 100, 236, 238] {
        send(&mut dp, raw_broadcast(&m[..cut]));
    }
    // A wrong magic cookie.
    let mut bad = m.clone();
    bad[236] ^= 0xff;
    send(&mut dp, raw_broadcast(&bad));
    assert_unanswered(&mut dp, 5, 0);
}

#[test]
fn a_udp_length_past_the_frame_is_a_counted_drop() {
    let mut dp = dp();
    let (mut buf, len) = broadcast(&discover());
    let udp = VNET_HDR_LEN + 14 + 20;
    buf[udp + 4..udp + 6].copy_from_slice(&1400u16.to_be_bytes());
    dp.process_in(A, &mut buf, len);
    // A UDP length shorter than its header.
    let (mut buf, len) = broadcast(&discover());
    buf[udp + 4..udp + 6].copy_from_slice(&3u16.to_be_bytes());
    dp.process_in(A, &mut buf, len);
    let c = dp.counters(A).unwrap();
    assert_eq!(c.dhcp_replies, 0);
    // (The frame parser may refuse the first before DHCP sees it.)
    assert_eq!(c.drops.iter().sum::<u64>(), 2);
}

#[test]
fn a_bootreply_from_a_client_is_ignored() {
    let mut dp = dp();
    // A server message (op BOOTREPLY, type OFFER) sent by the instance.
    send(
        &mut dp,
        broadcast(&message(DhcpMessageType::Offer, eni_mac(A))),
    );
    // op BOOTREPLY on a DISCOVER, and an unknown op.
    for op in [2, 7] {
        let mut m = dhcp_bytes(&discover());
        m[0] = op;
        send(&mut dp, raw_broadcast(&m));
    }
    assert_unanswered(&mut dp, 0, 3);
}

#[test]
fn a_hardware_address_other_than_ethernet_is_a_counted_drop() {
    let mut dp = dp();
    let m = dhcp_bytes(&discover());
    // hlen 16, hlen 0, htype 6 (IEEE 802).
    for (at, v) in [(2, 16), (2, 0), (1, 6)] {
        let mut b = m.clone();
        b[at] = v;
        send(&mut dp, raw_broadcast(&b));
    }
    assert_unanswered(&mut dp, 3, 0);
}

#[test]
fn a_message_type_out_of_range_or_missing_is_a_counted_drop() {
    let mut dp = dp();
    let m = dhcp_bytes(&discover());
    assert_eq!(&m[240..242], &[53, 1]);
    for ty in [0, 9, 200, 255] {
        let mut b = m.clone();
        b[242] = ty;
        send(&mut dp, raw_broadcast(&b));
    }
    // The option replaced by another one.
    let mut b = m.clone();
    b[240] = 77;
    send(&mut dp, raw_broadcast(&b));
    assert_unanswered(&mut dp, 5, 0);
}

#[test]
fn inform_from_an_address_that_is_not_the_enis_is_ignored() {
    let mut dp = dp();
    for ciaddr in [Ipv4Addr::new(10, 0, 1, 99), Ipv4Addr::UNSPECIFIED] {
        let mut m = message(DhcpMessageType::Inform, eni_mac(A));
        m.client_ip = ciaddr;
        send(
            &mut dp,
            frame(&m, eni_mac(A), router_mac(0), ciaddr, ROUTER),
        );
    }
    assert_unanswered(&mut dp, 0, 2);
}

#[test]
fn a_fragmented_message_to_port_67_is_not_served() {
    let mut dp = dp();
    // A first fragment (MF set) of a DISCOVER: not a client message; from 0.0.0.0 to
    // the broadcast MAC it is dropped as any broadcast.
    let (mut buf, len) = broadcast(&discover());
    let ip = VNET_HDR_LEN + 14;
    buf[ip + 6] |= 0x20;
    buf[ip + 10..ip + 12].fill(0);
    let c = crate::wire::checksum::checksum(&buf[ip..ip + 20]);
    buf[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    dp.process_in(A, &mut buf, len);
    assert!(dp.port_mut(A).unwrap().tx.is_empty());
    let c = dp.counters(A).unwrap();
    assert_eq!((c.dhcp_replies, c.dhcp_ignored), (0, 0));
    assert_eq!(c.drops[DropReason::DhcpMalformed.index()], 0);
    assert_eq!(c.drops[DropReason::Broadcast.index()], 1, "{:?}", c.drops);
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
/// (answers, forwards), and frames consumed without an answer.
fn outcomes(dp: &Dataplane<MemPort>) -> u64 {
    let drops: u64 = dp.engine_counters().drops.iter().sum();
    let mut n = drops;
    for (p, _) in dp.ports() {
        let c = dp.counters(p).unwrap();
        n += c.tx_packets + c.dhcp_ignored + c.arp_ignored;
    }
    n
}

#[test]
fn twenty_thousand_mutations_are_all_answered_ignored_or_counted() {
    let mut dp = dp();
    let mut rng = Rng(0x5eed_0d4c_9001);
    let mut r = message(DhcpMessageType::Request, eni_mac(A));
    r.requested_ip = Some(ADDR_A);
    r.server_identifier = Some(ROUTER);
    let seeds = [dhcp_bytes(&discover()), dhcp_bytes(&r)];
    let (whole, whole_len) = broadcast(&discover());
    let whole = whole[..whole_len].to_vec();
    for i in 0..20_000u32 {
        // Most mutations hit the DHCP message inside consistent headers; the rest hit
        // the frame itself.
        let (mut buf, len) = if i % 4 != 0 {
            let mut m = seeds[i as usize % 2].clone();
            mutate(&mut rng, &mut m);
            raw_broadcast(&m)
        } else {
            let mut f = whole[VNET_HDR_LEN..].to_vec();
            mutate(&mut rng, &mut f);
            let mut v = vec![0u8; VNET_HDR_LEN];
            v.extend_from_slice(&f);
            let len = v.len();
            v.resize(BUF_SIZE, 0);
            (v, len)
        };
        let before = outcomes(&dp);
        dp.process_in(A, &mut buf, len);
        let after = outcomes(&dp);
        assert!(
            after == before + 1,
            "mutation {i} unaccounted: {:?}",
            &buf[..len]
        );
        for (p, _) in dp.ports().map(|(p, _)| (p, ())).collect::<Vec<_>>() {
            dp.port_mut(p).unwrap().tx.clear();
        }
    }
    let c = dp.counters(A).unwrap();
    assert_eq!(c.rx_packets, 20_000);
    assert!(c.dhcp_replies > 0 && c.drops[DropReason::DhcpMalformed.index()] > 0);
}
