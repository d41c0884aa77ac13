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
    // after it leaves a message without its later options, which is answered.)
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
