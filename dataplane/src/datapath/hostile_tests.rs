//! Adversarial frames (VPC-13, item 2), one test per kind of hostile input, on the
//! fixtures' topologies: every frame is either dropped and counted under a specific
//! reason on its ingress port, or handled (forwarded, answered, consumed), never a panic,
//! and every received frame is accounted for (see [`run`]). The table of what vpcd does
//! with each is `docs/hardening.md`.
//!
//! Frames are built with etherparse, then one field is corrupted by offset through a
//! named helper (`set_ihl`, `set_total_len`, …).

use etherparse::{
    Icmpv4Type, IpHeaders, IpNumber, Ipv4Header, Ipv4Options, PacketBuilder, SlicedPacket,
    TransportSlice, VlanId,
};

use crate::datapath::Dataplane;
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{
    self, eni_mac, router_mac, A, B, IGW_MAC, INTERNET_HOST as HOST, INTERNET_HOST_MAC as HOST_MAC,
    NAT_EIP, UPLINK,
};
use crate::vpc::config::{
    DataplaneConfig, PortRange, Protocol, SecurityGroupConfig, SgIdx, SgPeer, SgRule, TrafficMatch,
    VpcIdx,
};
use crate::vpc::conntrack::tcp_flags::{ACK, FIN, RST, SYN};
use crate::vpc::verdict::DropReason;
use crate::wire::checksum::checksum;
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, GSO_TCPV4, GSO_TCPV6, VNET_HDR_LEN};

use DropReason as R;

const A_IP: [u8; 4] = [10, 0, 1, 10];
const B_IP: [u8; 4] = [10, 0, 2, 20];
/// Where the IPv4 header starts in a buffer (after the `virtio_net_hdr` and Ethernet).
const IP: usize = VNET_HDR_LEN + 14;

// ---------------------------------------------------------------------------------------
// Outcomes and accounting
// ---------------------------------------------------------------------------------------

/// What became of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Dropped and counted under this reason on its ingress port.
    Dropped(DropReason),
    /// Sent (forwarded, or answered): this many frames left some port.
    Sent(u64),
    /// Consumed without an answer, and counted (ARP not for the router, DHCP ignored).
    Consumed,
}

/// Totals across every port: (rx, tx, consumed, per-reason drops).
fn totals(dp: &Dataplane<MemPort>) -> (u64, u64, u64, [u64; DropReason::COUNT]) {
    let (mut rx, mut tx, mut consumed) = (0, 0, 0);
    let mut drops = [0u64; DropReason::COUNT];
    for i in 0..dp.tables().port_count() {
        if let Some(c) = dp.counters(PortIdx(i as u32)) {
            rx += c.rx_packets;
            tx += c.tx_packets;
            consumed += c.arp_ignored + c.dhcp_ignored;
            for (d, n) in drops.iter_mut().zip(c.drops.iter()) {
                *d += n;
            }
        }
    }
    (rx, tx, consumed, drops)
}

/// Processes `frame` on `port` and says what became of it, checking the accounting: it
/// was received once, and is either dropped under exactly one reason (charged to the
/// ingress port and engine-wide), or sent, or consumed (rx = forwarded + dropped).
fn run(dp: &mut Dataplane<MemPort>, port: impl Into<PortIdx>, frame: &[u8]) -> Outcome {
    let port = port.into();
    let mut buf = frame.to_vec();
    let (rx0, tx0, c0, d0) = totals(dp);
    let in0 = dp
        .counters(port)
        .map_or([0; DropReason::COUNT], |c| c.drops);
    let e0 = dp.engine_counters().drops;
    dp.process(port, &mut buf);
    let (rx1, tx1, c1, d1) = totals(dp);
    let in1 = dp
        .counters(port)
        .map_or([0; DropReason::COUNT], |c| c.drops);
    let e1 = dp.engine_counters().drops;
    assert_eq!(rx1 - rx0, 1, "received once");
    let dropped: Vec<DropReason> = DropReason::ALL
        .iter()
        .copied()
        .filter(|r| d1[r.index()] != d0[r.index()])
        .collect();
    assert!(dropped.len() <= 1, "one reason at most: {dropped:?}");
    if let Some(&r) = dropped.first() {
        assert_eq!(d1[r.index()] - d0[r.index()], 1, "{r:?} counted once");
        assert_eq!(
            in1[r.index()] - in0[r.index()],
            1,
            "{r:?} on the ingress port"
        );
        assert_eq!(e1[r.index()] - e0[r.index()], 1, "{r:?} engine-wide");
        return Outcome::Dropped(r);
    }
    if tx1 > tx0 {
        return Outcome::Sent(tx1 - tx0);
    }
    assert_eq!(
        c1 - c0,
        1,
        "neither dropped, sent nor consumed: unaccounted"
    );
    Outcome::Consumed
}

/// The frames port `port` was sent since the last call.
fn take(dp: &mut Dataplane<MemPort>, port: impl Into<PortIdx>) -> Vec<Vec<u8>> {
    dp.port_mut(port)
        .map(|p| std::mem::take(&mut p.tx))
        .unwrap_or_default()
}

fn plain() -> Dataplane<MemPort> {
    let mut dp = fixtures::mem_dataplane(fixtures::two_subnets_and_middlebox(), 1024, true)
        .expect("fixture installs");
    dp.set_now(1_000);
    dp
}

fn natted() -> Dataplane<MemPort> {
    let mut dp = fixtures::mem_dataplane(fixtures::behind_nat_gateway((1024, 65535)), 1024, true)
        .expect("fixture installs");
    dp.set_now(1_000);
    dp
}

/// The fixture VPC with security groups: B takes TCP 22 and 80 and UDP 53 from
/// 10.0.1.0/24; every other ENI takes nothing unsolicited; all send anything. B reaches
/// A directly (the fixture's route through FW removed), so replies come back.
fn guarded_config() -> DataplaneConfig {
    let mut c = fixtures::two_subnets_and_middlebox();
    let rule = |proto: u8, ports: Option<(u16, u16)>, peer: &str| SgRule {
        traffic: TrafficMatch {
            protocol: Protocol::Number(proto),
            ports: ports.map(|(from, to)| PortRange { from, to }),
            icmp: None,
        },
        peer: SgPeer::Cidr(peer.parse().expect("cidr")),
    };
    let out_all = SgRule {
        traffic: TrafficMatch {
            protocol: Protocol::All,
            ports: None,
            icmp: None,
        },
        peer: SgPeer::Cidr("0.0.0.0/0".parse().expect("cidr")),
    };
    c.security_groups = vec![
        SecurityGroupConfig {
            id: "sg-closed".into(),
            vpc: VpcIdx(0),
            inbound: vec![],
            outbound: vec![out_all.clone()],
        },
        SecurityGroupConfig {
            id: "sg-b".into(),
            vpc: VpcIdx(0),
            inbound: vec![
                rule(6, Some((22, 22)), "10.0.1.0/24"),
                rule(6, Some((80, 80)), "10.0.1.0/24"),
                rule(17, Some((53, 53)), "10.0.1.0/24"),
            ],
            outbound: vec![out_all],
        },
    ];
    for (i, e) in c.enis.iter_mut().enumerate() {
        e.security_groups = Some(vec![SgIdx(u32::from(i == B.0 as usize))]);
    }
    c.route_tables[1]
        .routes
        .retain(|r| r.destination.prefix_len() != 24);
    c
}

fn guarded() -> Dataplane<MemPort> {
    let mut dp = fixtures::mem_dataplane(guarded_config(), 1024, true).expect("installs");
    dp.set_now(1_000);
    dp
}

// ---------------------------------------------------------------------------------------
// Frames (etherparse) and named corruptions
// ---------------------------------------------------------------------------------------

fn with_vnet(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    build(&mut v);
    v
}

/// UDP A → B through the router.
fn udp_ab(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4(A_IP, B_IP, 64)
            .udp(sport, dport)
            .write(v, payload)
            .expect("build")
    })
}

/// TCP A → B through the router with the TCP flag byte `flags`.
fn tcp_ab(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4(A_IP, B_IP, 64)
            .tcp(sport, dport, 1000, 64000)
            .write(v, payload)
            .expect("build")
    });
    set_tcp_flags(&mut f, flags);
    f
}

/// TCP B → A through B's router with the TCP flag byte `flags`.
fn tcp_ba(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut f = with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(B).0, router_mac(1).0)
            .ipv4(B_IP, A_IP, 64)
            .tcp(sport, dport, 5000, 64000)
            .write(v, &[])
            .expect("build")
    });
    set_tcp_flags(&mut f, flags);
    f
}

/// ICMP echo request A → B.
fn echo_ab() -> Vec<u8> {
    with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4(A_IP, B_IP, 64)
            .icmpv4_echo_request(7, 1)
            .write(v, b"ping")
            .expect("build")
    })
}

/// ARP request from A for its subnet's router (10.0.1.1).
fn arp_from_a() -> Vec<u8> {
    with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, [0xff; 6])
            .arp(
                etherparse::ArpPacket::new(
                    etherparse::ArpHardwareId::ETHERNET,
                    etherparse::EtherType::IPV4,
                    etherparse::ArpOperation::REQUEST,
                    &eni_mac(A).0,
                    &A_IP,
                    &[0; 6],
                    &[10, 0, 1, 1],
                )
                .expect("arp"),
            )
            .write(v)
            .expect("build")
    })
}

/// A TCP segment from A (behind the NAT gateway) to the internet host, with `payload`
/// and, when `options`, 4 bytes of IPv4 options (NOP, NOP, NOP, EOL).
fn tcp_a_to_host(sport: u16, flags: u8, payload: &[u8], options: bool) -> Vec<u8> {
    let mut ip = Ipv4Header::new(0, 64, IpNumber::TCP, A_IP, HOST).expect("header");
    ip.dont_fragment = false;
    if options {
        ip.options = Ipv4Options::from([1, 1, 1, 0]);
    }
    let mut f = with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ip(IpHeaders::Ipv4(ip, Default::default()))
            .tcp(sport, 443, 1000, 64000)
            .write(v, payload)
            .expect("build")
    });
    set_tcp_flags(&mut f, flags);
    f
}

/// A frame from the internet host to the NAT gateway's Elastic IP, on the uplink.
fn from_host(
    build: impl FnOnce(etherparse::PacketBuilderStep<IpHeaders>, &mut Vec<u8>),
) -> Vec<u8> {
    with_vnet(|v| {
        build(
            PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0).ipv4(HOST, NAT_EIP, 64),
            v,
        )
    })
}

fn ihl(f: &[u8]) -> usize {
    usize::from(f[IP] & 0x0f) * 4
}

/// Recomputes the IPv4 header checksum (over the header length the header claims, as
/// far as the frame holds it).
fn fix_ip_csum(f: &mut [u8]) {
    let end = (IP + ihl(f).max(20)).min(f.len());
    f[IP + 10..IP + 12].fill(0);
    let c = checksum(&f[IP..end]);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}

/// Sets the IPv4 header length field (in 32-bit words), checksum fixed.
fn set_ihl(f: &mut [u8], words: u8) {
    f[IP] = 0x40 | (words & 0x0f);
    fix_ip_csum(f);
}

/// Sets the IPv4 total length, checksum fixed.
fn set_total_len(f: &mut [u8], len: u16) {
    f[IP + 2..IP + 4].copy_from_slice(&len.to_be_bytes());
    fix_ip_csum(f);
}

/// Sets the TTL, checksum fixed.
fn set_ttl(f: &mut [u8], ttl: u8) {
    f[IP + 8] = ttl;
    fix_ip_csum(f);
}

/// Sets or clears Don't Fragment, checksum fixed.
fn set_df(f: &mut [u8], df: bool) {
    f[IP + 6] = (f[IP + 6] & !0x40) | if df { 0x40 } else { 0 };
    fix_ip_csum(f);
}

/// Breaks the IPv4 header checksum (flips its bits).
fn corrupt_ip_csum(f: &mut [u8]) {
    f[IP + 10] ^= 0xff;
    f[IP + 11] ^= 0xff;
}

fn ip_csum_ok(f: &[u8]) -> bool {
    checksum(&f[IP..IP + ihl(f)]) == 0
}

/// Sets the IPv4 identification, checksum fixed.
fn set_ip_id(f: &mut [u8], id: u16) {
    f[IP + 4..IP + 6].copy_from_slice(&id.to_be_bytes());
    fix_ip_csum(f);
}

/// Sets the TCP flag byte (byte 13 of the TCP header).
fn set_tcp_flags(f: &mut [u8], flags: u8) {
    let at = IP + ihl(f) + 13;
    f[at] = flags;
}

/// Writes `h` as the frame's `virtio_net_hdr`.
fn set_vnet(f: &mut [u8], h: VnetHdr) {
    h.emit(f).expect("vnet header");
}

/// The fragment of the IPv4 datagram in `whole` holding `len` payload bytes at byte
/// offset `off` (a multiple of 8), with More Fragments `mf`.
fn fragment_of(whole: &[u8], off: usize, len: usize, mf: bool) -> Vec<u8> {
    let hl = ihl(whole);
    let mut f = whole[..IP + hl].to_vec();
    f.extend_from_slice(&whole[IP + hl + off..IP + hl + off + len]);
    let word = (off / 8) as u16 | if mf { 0x2000 } else { 0 };
    f[IP + 6..IP + 8].copy_from_slice(&word.to_be_bytes());
    set_total_len(&mut f, (hl + len) as u16);
    f
}

// ---------------------------------------------------------------------------------------
// Truncation
// ---------------------------------------------------------------------------------------

/// Every truncation of a valid TCP, UDP, ICMP and ARP frame (virtio header included):
/// no panic; every cut IPv4 frame is dropped `malformed` (its total length or a header
/// runs past the frame); a cut ARP frame is dropped or consumed, never answered; the
/// whole frames are forwarded or answered; rx = forwarded + dropped (+ consumed).
#[test]
fn every_truncation_of_tcp_udp_icmp_arp_is_dropped_or_handled_and_counted() {
    let mut dp = plain();
    let frames = [
        ("tcp", tcp_ab(40_000, 22, SYN, b"data")),
        ("udp", udp_ab(40_000, 53, b"query")),
        ("icmp", echo_ab()),
        ("arp", arp_from_a()),
    ];
    for (name, whole) in &frames {
        for cut in 0..whole.len() {
            let out = run(&mut dp, A, &whole[..cut]);
            if *name == "arp" {
                assert!(
                    matches!(out, Outcome::Dropped(_) | Outcome::Consumed),
                    "{name} cut at {cut}: {out:?}"
                );
            } else {
                assert_eq!(out, Outcome::Dropped(R::Malformed), "{name} cut at {cut}");
            }
        }
        assert_eq!(run(&mut dp, A, whole), Outcome::Sent(1), "{name} whole");
    }
    let (rx, tx, consumed, drops) = totals(&dp);
    assert_eq!(
        rx,
        tx + consumed + drops.iter().sum::<u64>(),
        "rx = sent + dropped"
    );
}

// ---------------------------------------------------------------------------------------
// IPv4 header
// ---------------------------------------------------------------------------------------

#[test]
fn ipv4_ihl_below_5_is_dropped_malformed() {
    let mut dp = plain();
    for words in 0..5 {
        let mut f = udp_ab(40_000, 53, b"query");
        set_ihl(&mut f, words);
        assert_eq!(
            run(&mut dp, A, &f),
            Outcome::Dropped(R::Malformed),
            "ihl {words}"
        );
    }
}

#[test]
fn ipv4_ihl_beyond_the_packet_is_dropped_malformed() {
    let mut dp = plain();
    // 60 bytes of header claimed by a 33-byte packet.
    let mut f = udp_ab(40_000, 53, b"query");
    set_ihl(&mut f, 15);
    assert_eq!(run(&mut dp, A, &f), Outcome::Dropped(R::Malformed));
    // A header that fits the packet but leaves no room for the UDP header.
    let mut f = udp_ab(40_000, 53, &[0; 20]);
    set_ihl(&mut f, 12);
    assert_eq!(run(&mut dp, A, &f), Outcome::Dropped(R::Malformed));
}

#[test]
fn ipv4_total_length_larger_than_the_frame_is_dropped_malformed() {
    let mut dp = plain();
    let mut f = udp_ab(40_000, 53, b"query");
    let real = (f.len() - IP) as u16;
    for claim in [real + 1, real + 100, u16::MAX] {
        set_total_len(&mut f, claim);
        assert_eq!(
            run(&mut dp, A, &f),
            Outcome::Dropped(R::Malformed),
            "{claim}"
        );
    }
}

/// Bytes past the total length are Ethernet padding: the packet is forwarded (frame as
/// it came); a total length that cuts into the headers is malformed.
#[test]
fn ipv4_total_length_smaller_than_the_frame_is_padding_or_malformed() {
    let mut dp = plain();
    let mut f = udp_ab(40_000, 53, b"query and trailing bytes");
    set_total_len(&mut f, 20 + 8 + 5);
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1));
    let out = take(&mut dp, B);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0][IP + 2..IP + 4], &33u16.to_be_bytes());
    for total in [0u16, 19, 20, 27] {
        set_total_len(&mut f, total);
        assert_eq!(
            run(&mut dp, A, &f),
            Outcome::Dropped(R::Malformed),
            "{total}"
        );
    }
}

/// IPv4 options are forwarded intact (the VPC router does not look inside them, as a
/// router that neither sources-routes nor records routes), and the NAT gateway rewrites
/// ports at the header length the packet states, not at 20.
#[test]
fn ipv4_options_are_forwarded_intact_and_nat_honours_the_header_length() {
    let mut dp = plain();
    let mut ip = Ipv4Header::new(0, 64, IpNumber::UDP, A_IP, B_IP).expect("header");
    ip.options = Ipv4Options::from([7, 7, 4, 0, 0, 0, 0, 0]); // record route, 1 slot
    let f = with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ip(IpHeaders::Ipv4(ip, Default::default()))
            .udp(40_000, 53)
            .write(v, b"query")
            .expect("build")
    });
    assert_eq!(ihl(&f), 28);
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1));
    let out = take(&mut dp, B);
    assert_eq!(
        &out[0][IP..],
        &f[IP..],
        "IP packet unchanged, options included"
    );

    let mut dp = natted();
    let f = tcp_a_to_host(40_000, SYN, b"", true);
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1));
    let out = take(&mut dp, UPLINK);
    let p = SlicedPacket::from_ethernet(&out[0][VNET_HDR_LEN..]).expect("parses");
    let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not ipv4")
    };
    assert_eq!(ip.header().source(), NAT_EIP);
    assert_eq!(ip.header().options(), &[1, 1, 1, 0]);
    assert!(ip_csum_ok(&out[0]));
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("not tcp")
    };
    assert_eq!(
        t.destination_port(),
        443,
        "the port after the options untouched"
    );
    assert!(t.syn());
}

/// The header checksum is not verified (the receiving stack does), but never laundered:
/// forwarded unchanged, and still wrong after the NAT gateway's incremental update.
#[test]
fn ipv4_bad_header_checksum_is_forwarded_unchanged_and_stays_bad_through_nat() {
    let mut dp = plain();
    let mut f = udp_ab(40_000, 53, b"query");
    corrupt_ip_csum(&mut f);
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1));
    let out = take(&mut dp, B);
    assert_eq!(&out[0][IP..], &f[IP..]);

    let mut dp = natted();
    let mut f = tcp_a_to_host(40_000, SYN, b"", false);
    corrupt_ip_csum(&mut f);
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1));
    let out = take(&mut dp, UPLINK);
    assert_eq!(&out[0][IP + 12..IP + 16], &NAT_EIP);
    assert!(!ip_csum_ok(&out[0]), "a bad checksum stays bad");
}

/// The VPC router is not a hop that decrements TTL (like AWS's): TTL 0 and 1 are
/// forwarded unchanged, no "time exceeded".
#[test]
fn ipv4_ttl_0_and_1_are_forwarded_unchanged() {
    let mut dp = plain();
    for ttl in [0, 1] {
        let mut f = udp_ab(40_000 + u16::from(ttl), 53, b"query");
        set_ttl(&mut f, ttl);
        assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1), "ttl {ttl}");
        let out = take(&mut dp, B);
        assert_eq!(out[0][IP + 8], ttl);
        assert!(ip_csum_ok(&out[0]));
    }
}

// ---------------------------------------------------------------------------------------
// Fragments
// ---------------------------------------------------------------------------------------

/// First, middle and last fragments of a datagram follow the first fragment; a middle
/// or last fragment whose first was never seen is dropped `fragment_unmatched`.
#[test]
fn fragments_first_middle_last_follow_the_first_and_orphans_are_unmatched() {
    let mut dp = plain();
    let mut whole = udp_ab(40_000, 53, &[0x5a; 64]); // 72 bytes of UDP
    set_ip_id(&mut whole, 77);
    let first = fragment_of(&whole, 0, 24, true);
    let middle = fragment_of(&whole, 24, 24, true);
    let last = fragment_of(&whole, 48, 24, false);
    // Orphans first: nothing remembered.
    assert_eq!(
        run(&mut dp, A, &middle),
        Outcome::Dropped(R::FragmentUnmatched)
    );
    assert_eq!(
        run(&mut dp, A, &last),
        Outcome::Dropped(R::FragmentUnmatched)
    );
    for f in [&first, &middle, &last] {
        assert_eq!(run(&mut dp, A, f), Outcome::Sent(1));
    }
    let out = take(&mut dp, B);
    assert_eq!(out.len(), 3);
    assert_eq!(&out[2][IP..], &last[IP..]);
    // Another datagram id from the same flow is unmatched.
    let mut other = last.clone();
    set_ip_id(&mut other, 78);
    assert_eq!(
        run(&mut dp, A, &other),
        Outcome::Dropped(R::FragmentUnmatched)
    );
}

/// Overlap (RFC 1858 section 3.2): a second "first" fragment (offset 0) with other ports
/// is judged afresh by the security group, so it cannot change the ports of an allowed
/// datagram; a fragment at offset 8 (overwriting TCP flags at reassembly) only goes
/// where its datagram's first fragment was allowed to go.
#[test]
fn overlapping_fragments_cannot_reach_a_port_the_security_group_denies() {
    let mut dp = guarded();
    let mut allowed = tcp_ab(40_000, 80, SYN, &[0x11; 48]);
    set_ip_id(&mut allowed, 9);
    let mut denied = tcp_ab(40_000, 23, SYN, &[0x11; 48]);
    set_ip_id(&mut denied, 9);
    assert_eq!(
        run(&mut dp, A, &fragment_of(&allowed, 0, 24, true)),
        Outcome::Sent(1)
    );
    assert_eq!(
        run(&mut dp, A, &fragment_of(&denied, 0, 24, true)),
        Outcome::Dropped(R::SgNoMatch),
        "an overlapping first fragment with a denied port"
    );
    // Offset 8: overlaps the TCP header from the sequence number on; it follows the
    // allowed first fragment to B, and nowhere else.
    assert_eq!(
        run(&mut dp, A, &fragment_of(&allowed, 8, 16, true)),
        Outcome::Sent(1)
    );
    assert_eq!(
        run(&mut dp, A, &fragment_of(&allowed, 24, 44, false)),
        Outcome::Sent(1)
    );
    let out = take(&mut dp, B);
    assert_eq!(out.len(), 3);
    assert!(out
        .iter()
        .all(|f| f[IP + 9] == 6 && f[IP + 16..IP + 20] == B_IP));
}

/// A first fragment too short to hold the TCP header (RFC 1858 tiny fragment: ports
/// without flags, or not even ports) is malformed, so it never reaches the security
/// group; the rest of its datagram is then unmatched.
#[test]
fn tiny_first_fragment_is_dropped_malformed_and_never_passes_the_security_group() {
    let mut dp = guarded();
    let mut whole = tcp_ab(40_000, 80, SYN, &[0x22; 32]);
    set_ip_id(&mut whole, 5);
    for len in [8, 16] {
        assert_eq!(
            run(&mut dp, A, &fragment_of(&whole, 0, len, true)),
            Outcome::Dropped(R::Malformed),
            "{len}-byte first fragment"
        );
    }
    assert_eq!(
        run(&mut dp, A, &fragment_of(&whole, 16, 36, false)),
        Outcome::Dropped(R::FragmentUnmatched)
    );
    // UDP: a first fragment with fewer than the 8 header bytes.
    let mut u = udp_ab(40_000, 53, &[0; 32]);
    set_ip_id(&mut u, 6);
    let f = fragment_of(&u, 0, 8, true);
    assert_eq!(
        run(&mut dp, A, &f[..f.len() - 4]),
        Outcome::Dropped(R::Malformed)
    );
    assert!(take(&mut dp, B).is_empty());
}

/// A flood of datagrams whose later fragments never come: the fragment table stays
/// within its capacity (flushed whole when full), and orphan later fragments add
/// nothing to it.
#[test]
fn a_flood_of_never_completed_datagrams_keeps_the_fragment_table_bounded() {
    let mut dp = plain();
    let cap = dp.frags.capacity();
    let whole = udp_ab(40_000, 53, &[0; 64]);
    let mut first = fragment_of(&whole, 0, 24, true);
    let mut peak = 0;
    for i in 0..(3 * cap) {
        set_ip_id(&mut first, i as u16);
        let mut buf = first.clone();
        dp.process(A, &mut buf);
        peak = peak.max(dp.frags.len());
    }
    assert!(peak <= cap, "peak {peak} over capacity {cap}");
    assert_eq!(dp.port(B).map(|p| p.sent), Some(3 * cap as u64));
    let before = dp.frags.len();
    let mut last = fragment_of(&whole, 24, 48, false);
    for i in 0..1000u16 {
        set_ip_id(&mut last, 60_000 + i);
        assert_eq!(
            run(&mut dp, A, &last),
            Outcome::Dropped(R::FragmentUnmatched)
        );
    }
    assert_eq!(dp.frags.len(), before);
}

// ---------------------------------------------------------------------------------------
// Ethernet: VLAN tags, jumbo and runt frames
// ---------------------------------------------------------------------------------------

/// A VPC carries no 802.1Q: single-tagged and QinQ frames are dropped `non_ip`.
#[test]
fn vlan_and_qinq_tagged_frames_are_dropped_non_ip() {
    let mut dp = plain();
    let vid = |v| VlanId::try_new(v).expect("vlan id");
    let single = with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .single_vlan(vid(10))
            .ipv4(A_IP, B_IP, 64)
            .udp(40_000, 53)
            .write(v, b"query")
            .expect("build")
    });
    let double = with_vnet(|v| {
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .double_vlan(vid(10), vid(20))
            .ipv4(A_IP, B_IP, 64)
            .udp(40_000, 53)
            .write(v, b"query")
            .expect("build")
    });
    assert_eq!(run(&mut dp, A, &single), Outcome::Dropped(R::NonIp));
    assert_eq!(run(&mut dp, A, &double), Outcome::Dropped(R::NonIp));
}

/// Jumbo: a 9001-byte packet between ENIs (MTU 9001) is forwarded whole; through the
/// 1500-byte internet gateway hop it is answered "fragmentation needed" (DF) or
/// fragmented (no DF); a 64 KB total-length claim on a shorter frame is malformed.
#[test]
fn jumbo_frames_are_forwarded_fragmented_or_refused_and_64k_claims_malformed() {
    let mut dp = plain();
    let f = udp_ab(40_000, 53, &vec![0x33; 9001 - 28]);
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1));
    assert_eq!(take(&mut dp, B)[0].len(), f.len());
    let mut claim = f.clone();
    set_total_len(&mut claim, u16::MAX);
    assert_eq!(run(&mut dp, A, &claim), Outcome::Dropped(R::Malformed));

    let mut dp = natted();
    let mut df = tcp_a_to_host(40_000, SYN, &vec![0x44; 9001 - 40], false);
    set_df(&mut df, true);
    assert_eq!(
        run(&mut dp, A, &df),
        Outcome::Dropped(R::FragmentationNeeded)
    );
    let answer = take(&mut dp, A);
    assert_eq!(answer.len(), 1, "ICMP fragmentation needed back to A");
    assert_eq!(&answer[0][IP + 20..IP + 22], &[3, 4]);
    assert_eq!(&answer[0][IP + 26..IP + 28], &1500u16.to_be_bytes());
    let nodf = tcp_a_to_host(40_001, SYN, &vec![0x44; 9001 - 40], false);
    match run(&mut dp, A, &nodf) {
        Outcome::Sent(n) => assert_eq!(n, 9001usize.div_ceil(1480) as u64),
        other => panic!("{other:?}"),
    }
    assert!(take(&mut dp, UPLINK).iter().all(|f| f.len() - IP <= 1500));
}

/// Runts: shorter than an Ethernet header (or than the virtio header) is malformed; a
/// valid packet in a frame under the 60-byte minimum (unpadded) is forwarded, and so is
/// one with padding.
#[test]
fn runt_frames_are_malformed_and_unpadded_small_frames_forwarded() {
    let mut dp = plain();
    let f = udp_ab(40_000, 53, b"");
    assert_eq!(f.len() - VNET_HDR_LEN, 42);
    for n in 0..VNET_HDR_LEN + 14 {
        assert_eq!(
            run(&mut dp, A, &f[..n]),
            Outcome::Dropped(R::Malformed),
            "{n}"
        );
    }
    assert_eq!(
        run(&mut dp, A, &f),
        Outcome::Sent(1),
        "42 bytes, no padding"
    );
    let mut padded = f.clone();
    padded.resize(VNET_HDR_LEN + 60, 0);
    assert_eq!(
        run(&mut dp, A, &padded),
        Outcome::Sent(1),
        "60 bytes, padded"
    );
}

// ---------------------------------------------------------------------------------------
// virtio_net_hdr
// ---------------------------------------------------------------------------------------

/// A TCPv4 GSO super-frame A → internet (DF clear) with `payload` bytes and `gso_size`.
fn super_frame(sport: u16, payload: usize, gso_size: u16) -> Vec<u8> {
    let mut f = tcp_a_to_host(sport, ACK, &vec![0x55; payload], false);
    set_vnet(
        &mut f,
        VnetHdr {
            flags: 0,
            gso_type: GSO_TCPV4,
            hdr_len: 54,
            gso_size,
            csum_start: 0,
            csum_offset: 0,
        },
    );
    f
}

/// Opens A:sport → host:443 through the NAT gateway (SYN, SYN-ACK), so that data of it
/// passes.
fn open_nat(dp: &mut Dataplane<MemPort>, sport: u16) -> u16 {
    assert_eq!(
        run(dp, A, &tcp_a_to_host(sport, SYN, b"", false)),
        Outcome::Sent(1)
    );
    let out = take(dp, UPLINK);
    let nat_port = u16::from_be_bytes([out[0][IP + 20], out[0][IP + 21]]);
    let synack = from_host(|b, v| {
        b.tcp(443, nat_port, 500, 64000)
            .syn()
            .ack(1001)
            .write(v, &[])
            .expect("build")
    });
    assert_eq!(run(dp, UPLINK, &synack), Outcome::Sent(1));
    take(dp, A);
    nat_port
}

/// Offload fields a guest got wrong are dropped `malformed` at ingress, whether the
/// frame would go to another ENI's port or through the segmentation path: gso_size 0
/// with a GSO type, csum_start/csum_offset past the frame, a GSO type that does not
/// match the packet (TCPv4 on UDP, TCPv6 on IPv4, an unknown type), hdr_len past the
/// frame.
#[test]
fn bad_virtio_net_hdr_fields_are_dropped_malformed() {
    let h = |flags, gso_type, hdr_len, gso_size, csum_start, csum_offset| VnetHdr {
        flags,
        gso_type,
        hdr_len,
        gso_size,
        csum_start,
        csum_offset,
    };
    let bad = [
        ("gso_size 0", h(0, GSO_TCPV4, 54, 0, 0, 0)),
        ("csum_start past", h(F_NEEDS_CSUM, 0, 0, 0, 9000, 16)),
        ("csum_offset past", h(F_NEEDS_CSUM, 0, 0, 0, 34, 60_000)),
        ("tcpv6 on ipv4", h(0, GSO_TCPV6, 54, 1448, 0, 0)),
        ("unknown gso type", h(0, 2, 54, 1448, 0, 0)),
        ("hdr_len past", h(0, GSO_TCPV4, u16::MAX, 1448, 0, 0)),
    ];
    // To another ENI's port (no MTU on the way).
    let mut dp = plain();
    for (name, hdr) in bad {
        let mut f = tcp_ab(40_000, 22, ACK, &[0; 3000]);
        set_vnet(&mut f, hdr);
        assert_eq!(
            run(&mut dp, A, &f),
            Outcome::Dropped(R::Malformed),
            "{name}"
        );
    }
    let mut u = udp_ab(40_000, 53, &[0; 3000]);
    set_vnet(&mut u, h(0, GSO_TCPV4, 42, 1448, 0, 0));
    assert_eq!(
        run(&mut dp, A, &u),
        Outcome::Dropped(R::Malformed),
        "tcpv4 on udp"
    );
    assert!(take(&mut dp, B).is_empty());
    // Through the NAT gateway to the 1500-byte uplink (the segmentation path).
    let mut dp = natted();
    let sport = 41_000;
    open_nat(&mut dp, sport);
    for (name, hdr) in bad {
        let mut f = super_frame(sport, 3000, 1448);
        set_vnet(&mut f, hdr);
        assert_eq!(
            run(&mut dp, A, &f),
            Outcome::Dropped(R::Malformed),
            "{name} via NAT"
        );
    }
    assert!(
        take(&mut dp, UPLINK).is_empty(),
        "nothing reached the uplink"
    );
}

/// Odd but harmless offload fields are handled: a gso_size larger than the payload (one
/// segment, fragmented for the 1500-byte hop), a hdr_len of 0 (a hint only: segments
/// take their header lengths from the headers); a valid super-frame is sent whole when
/// its segments fit the hop, segmented in software when they do not.
#[test]
fn odd_virtio_net_hdr_fields_are_segmented_correctly() {
    let mut dp = natted();
    let sport = 42_000;
    open_nat(&mut dp, sport);
    let check = |out: &[Vec<u8>]| {
        for f in out {
            assert!(f[..VNET_HDR_LEN].iter().all(|&b| b == 0), "no offload left");
            assert!(f.len() - IP <= 1500);
            assert!(ip_csum_ok(f));
            assert_eq!(&f[IP + 12..IP + 16], &NAT_EIP);
        }
    };
    // Valid, segments that fit the hop: sent whole, the offload left to the device.
    assert_eq!(
        run(&mut dp, A, &super_frame(sport, 3000, 1448)),
        Outcome::Sent(1)
    );
    assert_eq!(take(&mut dp, UPLINK)[0][1], GSO_TCPV4);
    // Valid, 2000-byte segments: segmented in software (2040 + 1040 bytes of IP), the
    // first segment then fragmented: three packets.
    assert_eq!(
        run(&mut dp, A, &super_frame(sport, 3000, 2000)),
        Outcome::Sent(3)
    );
    check(&take(&mut dp, UPLINK));
    // hdr_len 0 (a hint only): the same.
    let mut f = super_frame(sport, 3000, 2000);
    f[2..4].fill(0);
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(3));
    check(&take(&mut dp, UPLINK));
    // gso_size past the frame: one 3040-byte segment, fragmented in three.
    assert_eq!(
        run(&mut dp, A, &super_frame(sport, 3000, 60_000)),
        Outcome::Sent(3)
    );
    let out = take(&mut dp, UPLINK);
    check(&out);
    assert_eq!(out[0][IP + 6] & 0x20, 0x20, "fragments");
    // To another ENI's port, the same frame is delivered whole, offload state kept.
    let mut dp = plain();
    let mut f = tcp_ab(40_000, 22, ACK, &[0; 3000]);
    set_vnet(
        &mut f,
        VnetHdr {
            gso_type: GSO_TCPV4,
            hdr_len: 54,
            gso_size: 60_000,
            ..Default::default()
        },
    );
    assert_eq!(run(&mut dp, A, &f), Outcome::Sent(1));
}

// ---------------------------------------------------------------------------------------
// TCP flags
// ---------------------------------------------------------------------------------------

/// All 256 flag bytes opening a new connection A → B:22 (security groups on both):
/// SYN with ACK, RST or FIN is `invalid_tcp_state`; a SYN opens a connection; anything
/// without SYN is allowed by B's rule but tracked as nothing (it passes untracked).
#[test]
fn every_tcp_flag_combination_on_a_new_connection() {
    let mut dp = guarded();
    for flags in 0..=255u8 {
        let sport = 10_000 + u16::from(flags);
        let expected = if flags & SYN != 0 && flags & (ACK | RST | FIN) != 0 {
            Outcome::Dropped(R::InvalidTcpState)
        } else {
            Outcome::Sent(1)
        };
        let out = run(&mut dp, A, &tcp_ab(sport, 22, flags, b""));
        assert_eq!(out, expected, "flags {flags:#04x}");
    }
}

/// All 256 flag bytes on an established connection A → B:22 (after SYN, SYN-ACK, ACK):
/// any SYN from the initiator is `invalid_tcp_state` (SYN with FIN or RST included, and
/// it does not end the connection); a RST passes and ends it; the rest pass.
#[test]
fn every_tcp_flag_combination_on_an_established_connection() {
    let mut dp = guarded();
    for flags in 0..=255u8 {
        let sport = 20_000 + u16::from(flags);
        assert_eq!(
            run(&mut dp, A, &tcp_ab(sport, 22, SYN, b"")),
            Outcome::Sent(1)
        );
        assert_eq!(
            run(&mut dp, B, &tcp_ba(22, sport, SYN | ACK)),
            Outcome::Sent(1)
        );
        assert_eq!(
            run(&mut dp, A, &tcp_ab(sport, 22, ACK, b"")),
            Outcome::Sent(1)
        );
        let expected = if flags & SYN != 0 {
            Outcome::Dropped(R::InvalidTcpState)
        } else {
            Outcome::Sent(1)
        };
        let out = run(&mut dp, A, &tcp_ab(sport, 22, flags, b"x"));
        assert_eq!(out, expected, "flags {flags:#04x}");
        if flags & SYN != 0 {
            // Refused without effect: the connection still carries data both ways.
            assert_eq!(run(&mut dp, B, &tcp_ba(22, sport, ACK)), Outcome::Sent(1));
        }
    }
    take(&mut dp, A);
    take(&mut dp, B);
}

// ---------------------------------------------------------------------------------------
// ICMP errors quoting garbage
// ---------------------------------------------------------------------------------------

/// The first 28 bytes of a TCP packet `src:sport → dst:dport` (what an ICMP error
/// quotes).
fn quote_tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 64000)
        .syn()
        .write(&mut v, &[])
        .expect("build");
    v.truncate(28);
    v
}

/// Sets the protocol of a quoted IPv4 header.
fn set_quoted_proto(q: &mut [u8], proto: u8) {
    q[9] = proto;
}

/// Sets the header length of a quoted IPv4 header (32-bit words).
fn set_quoted_ihl(q: &mut [u8], words: u8) {
    q[0] = 0x40 | (words & 0x0f);
}

/// Sets the total length of a quoted IPv4 header.
fn set_quoted_total_len(q: &mut [u8], len: u16) {
    q[2..4].copy_from_slice(&len.to_be_bytes());
}

/// The garbage quotes of `good`: truncated, another protocol, IHL below 5 crafted so
/// that "ports" read from the IP header itself equal the good quote's (0x4500 would be
/// version/IHL and TOS, then the total length), IHL past the quote.
fn garbage_quotes(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut other = good.to_vec();
    set_quoted_proto(&mut other, 17);
    let mut short_ihl = good.to_vec();
    set_quoted_ihl(&mut short_ihl, 0);
    let dport = u16::from_be_bytes([good[22], good[23]]);
    set_quoted_total_len(&mut short_ihl, dport);
    let mut long_ihl = good.to_vec();
    set_quoted_ihl(&mut long_ihl, 15);
    vec![
        ("truncated quote", good[..20].to_vec()),
        ("quote of another protocol", other),
        ("quote with ihl 0", short_ihl),
        ("quote with ihl past it", long_ihl),
    ]
}

/// B answers A's connection with an ICMP error: a quote of it is related and passes
/// A's closed security group; garbage quotes are not related (`sg_no_match`).
#[test]
fn icmp_errors_quoting_garbage_are_not_related_traffic() {
    let mut dp = guarded();
    // "Ports" of a quote read at IHL 0: 0x4000 | TOS, then the total length.
    let sport = 0x4000;
    assert_eq!(
        run(&mut dp, A, &tcp_ab(sport, 22, SYN, b"")),
        Outcome::Sent(1)
    );
    let error = |quote: &[u8]| {
        with_vnet(|v| {
            PacketBuilder::ethernet2(eni_mac(B).0, router_mac(1).0)
                .ipv4(B_IP, A_IP, 64)
                .icmpv4(Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::Port,
                ))
                .write(v, quote)
                .expect("build")
        })
    };
    let good = quote_tcp(A_IP, B_IP, sport, 22);
    assert_eq!(run(&mut dp, B, &error(&good)), Outcome::Sent(1), "related");
    for (name, q) in garbage_quotes(&good) {
        assert_eq!(
            run(&mut dp, B, &error(&q)),
            Outcome::Dropped(R::SgNoMatch),
            "{name}"
        );
    }
}

/// The same through the NAT gateway: an error from the internet quoting a translated
/// packet is translated back to A; garbage quotes belong to no translation
/// (`nat_no_translation`); an error from inside with a garbage quote is not translated.
#[test]
fn icmp_errors_quoting_garbage_through_the_nat_gateway() {
    let mut dp = natted();
    let sport = 43_000;
    let nat_port = open_nat(&mut dp, sport);
    let error = |quote: &[u8]| {
        from_host(|b, v| {
            b.icmpv4(Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(v, quote)
            .expect("build")
        })
    };
    let good = quote_tcp(NAT_EIP, HOST, nat_port, 443);
    assert_eq!(
        run(&mut dp, UPLINK, &error(&good)),
        Outcome::Sent(1),
        "translated"
    );
    let out = take(&mut dp, A);
    assert_eq!(&out[0][IP + 16..IP + 20], &A_IP);
    assert_eq!(
        &out[0][IP + 28 + 12..IP + 28 + 16],
        &A_IP,
        "quote translated"
    );
    for (name, q) in garbage_quotes(&good) {
        assert_eq!(
            run(&mut dp, UPLINK, &error(&q)),
            Outcome::Dropped(R::NatNoTranslation),
            "{name}"
        );
    }
    // From inside: an error quoting garbage opens nothing.
    let inside = |quote: &[u8]| {
        with_vnet(|v| {
            PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
                .ipv4(A_IP, HOST, 64)
                .icmpv4(Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::Port,
                ))
                .write(v, quote)
                .expect("build")
        })
    };
    let about = quote_tcp(HOST, A_IP, 443, sport);
    for (name, q) in garbage_quotes(&about) {
        let out = run(&mut dp, A, &inside(&q));
        assert!(
            matches!(
                out,
                Outcome::Dropped(R::NatUnsupportedProtocol | R::NatNoTranslation)
            ),
            "{name}: {out:?}"
        );
    }
    assert!(take(&mut dp, UPLINK).is_empty());
}

#[test]
fn a_flood_over_the_pps_allowance_is_dropped_and_counted_on_the_sender_only() {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.enis[A.idx()].pps_allowance = 1_000;
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    // A floods: the burst (64 packets: 50 ms of 1,000/s, at least 64) passes, the rest
    // of this millisecond is dropped.
    let sent = (0..200)
        .filter(|i| {
            matches!(
                run(&mut dp, A, &udp_ab(5000 + i, 7, b"x")),
                Outcome::Sent(_)
            )
        })
        .count();
    assert_eq!(sent, 64);
    let drops = dp.counters(A).unwrap().drops[R::PpsAllowanceExceeded.index()];
    assert_eq!(drops, 136);
    // 100 ms later, 100 more are allowed (1 per ms), up to the burst.
    dp.set_now(1_100);
    let sent = (0..200)
        .filter(|i| {
            matches!(
                run(&mut dp, A, &udp_ab(6000 + i, 7, b"x")),
                Outcome::Sent(_)
            )
        })
        .count();
    assert_eq!(sent, 64, "refilled to the burst, not beyond");
    // B has no allowance: it is never policed.
    assert_eq!(
        dp.counters(B).unwrap().drops[R::PpsAllowanceExceeded.index()],
        0
    );
}

#[test]
fn a_port_over_its_allowance_asks_the_run_loop_to_stop_reading_it_for_a_while() {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.enis[A.idx()].pps_allowance = 1_000;
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    for i in 0..200 {
        dp.port_mut(A)
            .unwrap()
            .rx
            .push_back(udp_ab(5000 + i, 7, b"x"));
        dp.port_mut(B)
            .unwrap()
            .rx
            .push_back(udp_ab(7, 5000 + i, b"y"));
    }
    // Two batches fit the burst (64): no pause.
    for _ in 0..2 {
        assert_eq!(dp.poll(A).unwrap(), crate::engine::buf::BATCH);
        assert_eq!(dp.take_pause(A), None);
    }
    // The third goes over: a pause until a batch's worth is back (32 ms at 1,000/s).
    assert_eq!(dp.poll(A).unwrap(), crate::engine::buf::BATCH);
    assert_eq!(dp.take_pause(B), None, "the pause is A's");
    assert_eq!(dp.take_pause(A), Some(std::time::Duration::from_millis(32)));
    assert_eq!(dp.take_pause(A), None, "taken once");
    // B has no allowance: never paused.
    for _ in 0..4 {
        dp.poll(B).unwrap();
        assert_eq!(dp.take_pause(B), None);
    }
}

#[test]
fn the_allowance_is_bidirectional_what_an_eni_receives_counts_on_it_too() {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.enis[B.idx()].pps_allowance = 1_000;
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1_000);
    // A (no allowance) sends 200 to B: B's burst (64) is delivered, the rest dropped and
    // counted on B, the ENI whose allowance it was.
    // (Not `run`: the drops are counted on the egress ENI, not on the sender.)
    for i in 0..200 {
        dp.process(A, &mut udp_ab(5000 + i, 7, b"x"));
    }
    assert_eq!(take(&mut dp, B).len(), 64);
    assert_eq!(
        dp.counters(B).unwrap().drops[R::PpsAllowanceExceeded.index()],
        136
    );
    assert_eq!(
        dp.counters(A).unwrap().drops[R::PpsAllowanceExceeded.index()],
        0
    );
    // What B received used its allowance up: what it sends now waits for the refill.
    assert_eq!(
        run(&mut dp, B, &tcp_ba(7, 5000, 0x02)),
        Outcome::Dropped(R::PpsAllowanceExceeded)
    );
    dp.set_now(1_010);
    assert!(matches!(
        run(&mut dp, B, &tcp_ba(7, 5000, 0x02)),
        Outcome::Sent(_)
    ));
}
