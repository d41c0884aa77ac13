//! The verdict of every forwarding case, on in-memory ports, with frames built by
//! `etherparse` and replies compared with expected bytes.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

use crate::datapath::{Dataplane, EniPlan, PortChange};
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, router_mac, A, A2, B, D, FW};
use crate::vpc::config::DataplaneConfig;
use crate::vpc::verdict::DropReason;
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, GSO_TCPV4, VNET_HDR_LEN};
use crate::wire::MacAddr;

fn dp_with(config: DataplaneConfig) -> Dataplane<MemPort> {
    fixtures::mem_dataplane(config, 1024, true).unwrap()
}

fn dp() -> Dataplane<MemPort> {
    dp_with(fixtures::two_subnets_and_middlebox())
}

fn ip(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

/// A UDP frame with a zero `virtio_net_hdr` in front.
fn udp(src_mac: MacAddr, dst_mac: MacAddr, src: &str, dst: &str) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(src_mac.0, dst_mac.0)
        .ipv4(ip(src), ip(dst), 64)
        .udp(40000, 7)
        .write(&mut v, b"payload")
        .unwrap();
    v
}

fn send(dp: &mut Dataplane<MemPort>, from: impl Into<PortIdx>, mut frame: Vec<u8>) {
    dp.process(from, &mut frame);
}

fn take_tx(dp: &mut Dataplane<MemPort>, eni: impl Into<PortIdx>) -> Vec<Vec<u8>> {
    std::mem::take(&mut dp.port_mut(eni).unwrap().tx)
}

fn drops(dp: &Dataplane<MemPort>, eni: impl Into<PortIdx>, r: DropReason) -> u64 {
    dp.counters(eni).unwrap().drops[r.index()]
}

fn assert_nothing_sent(dp: &mut Dataplane<MemPort>) {
    for e in [A, A2, B, FW] {
        assert!(take_tx(dp, e).is_empty(), "eni {e} got a frame");
    }
}

#[test]
fn routed_across_subnets_rewrites_macs_keeps_ttl() {
    let mut dp = dp();
    send(
        &mut dp,
        A,
        udp(eni_mac(A), router_mac(0), "10.0.1.10", "10.0.2.20"),
    );
    let out = take_tx(&mut dp, B);
    assert_eq!(out.len(), 1);
    let (eth, rest) = etherparse::Ethernet2Header::from_slice(&out[0][VNET_HDR_LEN..]).unwrap();
    assert_eq!(
        MacAddr(eth.source),
        router_mac(1),
        "source is B's subnet router"
    );
    assert_eq!(MacAddr(eth.destination), eni_mac(B));
    let (iph, _) = etherparse::Ipv4Header::from_slice(rest).unwrap();
    assert_eq!(
        iph.time_to_live, 64,
        "intra-VPC forwarding does not decrement TTL"
    );
    assert_eq!(dp.counters(B).unwrap().tx_packets, 1);
    assert_eq!(dp.counters(A).unwrap().rx_packets, 1);
}

#[test]
fn same_subnet_neighbour_mac_is_layer2_without_rewrite() {
    let mut dp = dp();
    let f = udp(eni_mac(A), eni_mac(A2), "10.0.1.10", "10.0.1.12");
    send(&mut dp, A, f.clone());
    assert_eq!(take_tx(&mut dp, A2), vec![f]);
}

#[test]
fn layer2_to_neighbour_for_an_address_it_does_not_own_is_dropped() {
    let mut dp = dp();
    send(
        &mut dp,
        A,
        udp(eni_mac(A), eni_mac(A2), "10.0.1.10", "10.0.1.99"),
    );
    assert_nothing_sent(&mut dp);
    assert_eq!(drops(&dp, A, DropReason::DestinationNotOwned), 1);
}

#[test]
fn local_route_without_owner_no_route_and_blackhole() {
    let mut dp = dp();
    send(
        &mut dp,
        A,
        udp(eni_mac(A), router_mac(0), "10.0.1.10", "10.0.7.7"),
    );
    send(
        &mut dp,
        A,
        udp(eni_mac(A), router_mac(0), "10.0.1.10", "8.8.8.8"),
    );
    send(
        &mut dp,
        B,
        udp(eni_mac(B), router_mac(1), "10.0.2.20", "8.8.8.8"),
    );
    assert_nothing_sent(&mut dp);
    assert_eq!(drops(&dp, A, DropReason::NoEniForAddress), 1);
    assert_eq!(drops(&dp, A, DropReason::NoRoute), 1);
    assert_eq!(drops(&dp, B, DropReason::Blackhole), 1);
}

#[test]
fn more_specific_route_goes_through_the_middlebox() {
    let mut dp = dp();
    // B's table sends 10.0.1.0/24 to FW (check off): delivered to FW, not to A.
    send(
        &mut dp,
        B,
        udp(eni_mac(B), router_mac(1), "10.0.2.20", "10.0.1.10"),
    );
    let out = take_tx(&mut dp, FW);
    assert_eq!(out.len(), 1);
    let eth = etherparse::Ethernet2Header::from_slice(&out[0][VNET_HDR_LEN..])
        .unwrap()
        .0;
    assert_eq!(MacAddr(eth.destination), eni_mac(FW));
    assert!(take_tx(&mut dp, A).is_empty());
    // FW (check off) may forward on behalf of B: A gets B's address as source.
    send(
        &mut dp,
        FW,
        udp(eni_mac(FW), router_mac(2), "10.0.2.20", "10.0.1.10"),
    );
    assert_eq!(take_tx(&mut dp, A).len(), 1);
}

#[test]
fn middlebox_with_check_on_drops_foreign_destination() {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.enis[FW.idx()].source_dest_check = true;
    let mut dp = dp_with(c);
    send(
        &mut dp,
        B,
        udp(eni_mac(B), router_mac(1), "10.0.2.20", "10.0.1.10"),
    );
    assert_nothing_sent(&mut dp);
    assert_eq!(drops(&dp, B, DropReason::DestinationNotOwned), 1);
}

#[test]
fn spoofed_source_ip_or_mac_is_dropped_and_counted() {
    let mut dp = dp();
    send(
        &mut dp,
        A,
        udp(eni_mac(A), router_mac(0), "10.0.1.99", "10.0.2.20"),
    );
    send(
        &mut dp,
        A,
        udp(
            MacAddr([2, 9, 9, 9, 9, 9]),
            router_mac(0),
            "10.0.1.10",
            "10.0.2.20",
        ),
    );
    // A's neighbour's address is not A's either.
    send(
        &mut dp,
        A,
        udp(eni_mac(A), router_mac(0), "10.0.1.11", "10.0.2.20"),
    );
    assert_nothing_sent(&mut dp);
    assert_eq!(drops(&dp, A, DropReason::SourceIpSpoofed), 2);
    assert_eq!(drops(&dp, A, DropReason::SourceMacSpoofed), 1);
    // A secondary address is the ENI's own.
    send(
        &mut dp,
        A2,
        udp(eni_mac(A2), router_mac(0), "10.0.1.12", "10.0.2.20"),
    );
    assert_eq!(take_tx(&mut dp, B).len(), 1);
}

#[test]
fn broadcast_multicast_non_ip_ipv6_and_unknown_mac_are_dropped() {
    let mut dp = dp();
    send(
        &mut dp,
        A,
        udp(eni_mac(A), MacAddr::BROADCAST, "10.0.1.10", "10.0.1.255"),
    );
    send(
        &mut dp,
        A,
        udp(
            eni_mac(A),
            MacAddr([1, 0, 0x5e, 0, 0, 1]),
            "10.0.1.10",
            "224.0.0.1",
        ),
    );
    send(
        &mut dp,
        A,
        udp(
            eni_mac(A),
            MacAddr([2, 7, 7, 7, 7, 7]),
            "10.0.1.10",
            "10.0.1.11",
        ),
    );
    let mut other = udp(eni_mac(A), router_mac(0), "10.0.1.10", "10.0.2.20");
    other[VNET_HDR_LEN + 12] = 0x88;
    other[VNET_HDR_LEN + 13] = 0xb5;
    send(&mut dp, A, other);
    let mut v6 = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv6([0xfd; 16], [0x20; 16], 64)
        .udp(1, 2)
        .write(&mut v6, b"")
        .unwrap();
    send(&mut dp, A, v6);
    assert_nothing_sent(&mut dp);
    for r in [
        DropReason::Broadcast,
        DropReason::Multicast,
        DropReason::UnknownDestinationMac,
        DropReason::NonIp,
        DropReason::Ipv6NotForwarded,
    ] {
        assert_eq!(drops(&dp, A, r), 1, "{r:?}");
    }
}

#[test]
fn destination_without_port_is_counted() {
    let mut dp = dp();
    send(
        &mut dp,
        B,
        udp(eni_mac(B), eni_mac(D), "10.0.2.20", "10.0.2.40"),
    );
    assert_eq!(drops(&dp, B, DropReason::EniNotAttached), 1);
}

#[test]
fn malformed_frames_are_counted_never_panic() {
    let mut dp = dp();
    let good = udp(eni_mac(A), router_mac(0), "10.0.1.10", "10.0.2.20");
    for cut in 0..good.len() {
        let mut f = good[..cut].to_vec();
        dp.process(A, &mut f);
    }
    // Cuts inside the IP or UDP header and cuts of the UDP payload (IPv4 total length
    // then exceeds the frame) are malformed; nothing was forwarded.
    assert!(drops(&dp, A, DropReason::Malformed) >= (good.len() - VNET_HDR_LEN - 14) as u64);
    assert!(take_tx(&mut dp, B).is_empty());
}

/// Ethernet + ARP bytes: `op` from `sha`/`spa` about `tha`/`tpa`.
fn arp_frame(
    dst: MacAddr,
    op: u8,
    sha: MacAddr,
    spa: [u8; 4],
    tha: MacAddr,
    tpa: [u8; 4],
) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    v.extend_from_slice(&dst.0);
    v.extend_from_slice(&sha.0);
    v.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, op]);
    v.extend_from_slice(&sha.0);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&tha.0);
    v.extend_from_slice(&tpa);
    v
}

#[test]
fn arp_for_router_and_same_subnet_neighbour_is_answered_exactly() {
    let mut dp = dp();
    let zero = MacAddr([0; 6]);
    for (target, answer) in [("10.0.1.1", router_mac(0)), ("10.0.1.12", eni_mac(A2))] {
        let req = arp_frame(
            MacAddr::BROADCAST,
            1,
            eni_mac(A),
            ip("10.0.1.10"),
            zero,
            ip(target),
        );
        send(&mut dp, A, req);
        let out = take_tx(&mut dp, A);
        let expected = arp_frame(
            eni_mac(A),
            2,
            answer,
            ip(target),
            eni_mac(A),
            ip("10.0.1.10"),
        );
        // The reply's Ethernet source is the answered MAC, as on a real segment.
        let mut expected = expected;
        expected[VNET_HDR_LEN + 6..VNET_HDR_LEN + 12].copy_from_slice(&answer.0);
        assert_eq!(out, vec![expected], "reply for {target}");
    }
    assert_eq!(dp.counters(A).unwrap().arp_replies, 2);
}

#[test]
fn arp_without_answer_unassigned_other_subnet_gratuitous_and_replies() {
    let mut dp = dp();
    let zero = MacAddr([0; 6]);
    let a = eni_mac(A);
    let cases = [
        arp_frame(
            MacAddr::BROADCAST,
            1,
            a,
            ip("10.0.1.10"),
            zero,
            ip("10.0.1.50"),
        ), // unassigned
        arp_frame(
            MacAddr::BROADCAST,
            1,
            a,
            ip("10.0.1.10"),
            zero,
            ip("10.0.2.20"),
        ), // other subnet
        arp_frame(
            MacAddr::BROADCAST,
            1,
            a,
            ip("10.0.1.10"),
            zero,
            ip("10.0.1.10"),
        ), // gratuitous
        arp_frame(
            MacAddr::BROADCAST,
            2,
            a,
            ip("10.0.1.10"),
            a,
            ip("10.0.1.10"),
        ), // unsolicited reply
    ];
    for f in cases {
        send(&mut dp, A, f);
    }
    assert_nothing_sent(&mut dp);
    assert_eq!(dp.counters(A).unwrap().arp_ignored, 4);
    // Gratuitous ARP claiming A2's address cannot move it: A's source check refuses it,
    // and A2 is still what the router answers for 10.0.1.11.
    send(
        &mut dp,
        A,
        arp_frame(
            MacAddr::BROADCAST,
            2,
            a,
            ip("10.0.1.11"),
            a,
            ip("10.0.1.11"),
        ),
    );
    assert_eq!(drops(&dp, A, DropReason::SourceIpSpoofed), 1);
    send(
        &mut dp,
        B,
        udp(eni_mac(B), router_mac(1), "10.0.2.20", "10.0.3.30"),
    );
    send(
        &mut dp,
        FW,
        udp(eni_mac(FW), router_mac(2), "10.0.3.30", "10.0.1.11"),
    );
    assert_eq!(take_tx(&mut dp, A2).len(), 1);
}

#[test]
fn icmp_echo_to_router_gets_an_exact_reply() {
    let mut dp = dp();
    let mut req = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(ip("10.0.1.10"), ip("10.0.1.1"), 17)
        .icmpv4_echo_request(0x1234, 7)
        .write(&mut req, b"abcdefgh")
        .unwrap();
    // The request's IP id and flags must survive; build the expected reply from them.
    let req_ip = etherparse::Ipv4Header::from_slice(&req[VNET_HDR_LEN + 14..])
        .unwrap()
        .0;
    send(&mut dp, A, req);
    let out = take_tx(&mut dp, A);
    assert_eq!(out.len(), 1);
    let mut expected = vec![0u8; VNET_HDR_LEN];
    let mut iph = etherparse::Ipv4Header::new(
        16,
        64,
        etherparse::IpNumber::ICMP,
        ip("10.0.1.1"),
        ip("10.0.1.10"),
    )
    .unwrap();
    iph.identification = req_ip.identification;
    iph.dont_fragment = req_ip.dont_fragment;
    PacketBuilder::ethernet2(router_mac(0).0, eni_mac(A).0)
        .ip(etherparse::IpHeaders::Ipv4(iph, Default::default()))
        .icmpv4_echo_reply(0x1234, 7)
        .write(&mut expected, b"abcdefgh")
        .unwrap();
    assert_eq!(out[0], expected);
    assert_eq!(dp.counters(A).unwrap().icmp_echo_replies, 1);
    // Any subnet's router address answers; other traffic to the router is dropped.
    let mut udp_to_router = udp(eni_mac(A), router_mac(0), "10.0.1.10", "10.0.2.1");
    dp.process(A, &mut udp_to_router);
    assert_eq!(drops(&dp, A, DropReason::RouterUnsupported), 1);
}

#[test]
fn flow_cache_hits_and_epoch_bump_reevaluates() {
    let mut dp = dp();
    let f = udp(eni_mac(A), router_mac(0), "10.0.1.10", "10.0.2.20");
    send(&mut dp, A, f.clone());
    send(&mut dp, A, f.clone());
    assert_eq!(take_tx(&mut dp, B).len(), 2);
    let e = dp.engine_counters();
    assert_eq!((e.flow_misses, e.flow_hits), (1, 1));
    // New config: main table's local route becomes... B's address now unowned (B removed).
    let mut c = fixtures::two_subnets_and_middlebox();
    c.enis.remove(B.idx());
    let plan = (0..c.enis.len())
        .map(|i| EniPlan {
            previous: Some(PortIdx(if i as u32 >= B.0 {
                i as u32 + 1
            } else {
                i as u32
            })),
            port: PortChange::Keep,
        })
        .collect();
    let done = dp.install(c, plan).map_err(|e| e.error).unwrap();
    assert_eq!(done.epoch, 2);
    assert_eq!(done.released.len(), 1, "B's port is released");
    send(&mut dp, A, f);
    assert_eq!(drops(&dp, A, DropReason::NoEniForAddress), 1);
    assert_eq!(
        dp.counters(A).unwrap().rx_packets,
        3,
        "A's counters carried over"
    );
}

#[test]
fn gso_super_frame_passes_whole_with_vnet_header_intact() {
    let mut dp = dp();
    let payload = vec![0x5a; 65_000];
    let mut f = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(ip("10.0.1.10"), ip("10.0.2.20"), 64)
        .tcp(40000, 5001, 1, 64000)
        .ack(1)
        .write(&mut f, &payload)
        .unwrap();
    let hdr = VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 54,
        gso_size: 8949,
        csum_start: 34,
        csum_offset: 16,
    };
    hdr.emit(&mut f).unwrap();
    let len = f.len();
    send(&mut dp, A, f);
    let out = take_tx(&mut dp, B);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), len);
    assert_eq!(VnetHdr::parse(&out[0]).unwrap(), hdr);
    assert_eq!(&out[0][len - 100..], &payload[payload.len() - 100..]);
}
