//! The NAT gateway on in-memory frames: SNAT to the Elastic IP through the internet
//! gateway with valid checksums, replies translated back, per-destination port
//! allocation, no inbound initiation and no ping, the idle timeout and its RST, ICMP
//! echo and ICMP errors (quoted headers translated), fragments, and the ACL of the
//! gateway's subnet both ways.

use std::net::Ipv4Addr;

use etherparse::{IcmpEchoHeader, Icmpv4Type, PacketBuilder, SlicedPacket, TransportSlice};

use crate::datapath::Dataplane;
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, router_mac, A, A2, FW};
use crate::vpc::config::{
    DataplaneConfig, MappingTarget, NaclEntry, NaclIdx, NatIdx, NetworkAclConfig, PortRange,
    Protocol, PublicMapping, TrafficMatch, VpcIdx,
};
use crate::vpc::conntrack::tcp_flags::{ACK, RST, SYN};
use crate::vpc::verdict::DropReason;
use crate::wire::checksum::{checksum, fold, sum};
use crate::wire::vnet::{F_NEEDS_CSUM, VNET_HDR_LEN};
use crate::wire::MacAddr;

use crate::fixtures::{
    behind_nat_gateway as with_nat, IGW_MAC, INTERNET_HOST as HOST, INTERNET_HOST_MAC as HOST_MAC,
    NAT_EIP, NAT_IP, UPLINK,
};

const A_IP: [u8; 4] = [10, 0, 1, 10];

fn dp_with(c: DataplaneConfig) -> Dataplane<MemPort> {
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1);
    dp
}

fn dp() -> Dataplane<MemPort> {
    dp_with(with_nat((1024, 65535)))
}

fn take(dp: &mut Dataplane<MemPort>, port: impl Into<PortIdx>) -> Vec<Vec<u8>> {
    std::mem::take(&mut dp.port_mut(port).unwrap().tx)
}

fn tcp_from_a(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    let b = PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(A_IP, HOST, 64)
        .tcp(sport, dport, 1000, 64000);
    let b = if flags & SYN != 0 { b.syn() } else { b };
    let b = if flags & ACK != 0 { b.ack(500) } else { b };
    let b = if flags & RST != 0 { b.rst() } else { b };
    b.write(&mut v, payload).unwrap();
    v
}

fn from_host(
    dst: [u8; 4],
    build: impl FnOnce(etherparse::PacketBuilderStep<etherparse::IpHeaders>) -> Vec<u8>,
) -> Vec<u8> {
    let _ = dst;
    build(PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0).ipv4(HOST, dst, 64))
}

fn tcp_from_host(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    from_host(NAT_EIP, |b| {
        let mut v = vec![0u8; VNET_HDR_LEN];
        let b = b.tcp(sport, dport, 500, 64000);
        let b = if flags & SYN != 0 { b.syn() } else { b };
        let b = if flags & ACK != 0 { b.ack(1001) } else { b };
        b.write(&mut v, b"").unwrap();
        v
    })
}

/// The L4 checksum (TCP/UDP) over pseudo-header and segment verifies.
fn l4_ok(ip: &[u8]) -> bool {
    let len = ip.len() - 20;
    let acc = sum(0, &ip[12..20])
        .wrapping_add(u32::from(ip[9]))
        .wrapping_add(len as u32);
    !fold(sum(acc, &ip[20..])) == 0
}

fn ip_of(frame: &[u8]) -> &[u8] {
    &frame[VNET_HDR_LEN + 14..]
}

fn ports(ip: &[u8]) -> (u16, u16) {
    (
        u16::from_be_bytes([ip[20], ip[21]]),
        u16::from_be_bytes([ip[22], ip[23]]),
    )
}

fn drops(dp: &Dataplane<MemPort>, port: impl Into<PortIdx>, r: DropReason) -> u64 {
    dp.counters(port).unwrap().drops[r.index()]
}

fn metrics(dp: &mut Dataplane<MemPort>) -> crate::observe::stats::NatMetrics {
    dp.expire();
    dp.report(|_| None).nat_gateways[0].metrics.clone()
}

/// Opens A:`sport` → HOST:`dport` through the gateway; returns the public port.
fn open(dp: &mut Dataplane<MemPort>, sport: u16, dport: u16) -> u16 {
    dp.process(A, &mut tcp_from_a(sport, dport, SYN, b""));
    let out = take(dp, UPLINK);
    assert_eq!(out.len(), 1, "SYN {sport}→{dport} left through the gateway");
    ports(ip_of(&out[0])).0
}

#[test]
fn tcp_leaves_with_the_elastic_ip_and_replies_come_back_translated() {
    let mut dp = dp();
    dp.process(A, &mut tcp_from_a(40000, 443, SYN, b""));
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1);
    let ip = ip_of(&out[0]);
    assert_eq!(
        &ip[12..16],
        &NAT_EIP,
        "the server sees the NAT gateway's EIP"
    );
    let (sport, dport) = ports(ip);
    assert!(sport >= 1024 && dport == 443);
    assert_eq!(checksum(&ip[..20]), 0);
    assert!(l4_ok(ip));
    // The SYN-ACK to the EIP and that port reaches A on its own port.
    dp.process(UPLINK, &mut tcp_from_host(443, sport, SYN | ACK));
    let back = take(&mut dp, A);
    assert_eq!(back.len(), 1);
    let ip = ip_of(&back[0]);
    assert_eq!((&ip[12..16], &ip[16..20]), (&HOST[..], &A_IP[..]));
    assert_eq!(ports(ip), (443, 40000));
    assert!(l4_ok(ip));
    // The rest of the connection rides the flow cache, translations and all.
    let hits = dp.engine_counters().flow_hits;
    for _ in 0..3 {
        dp.process(A, &mut tcp_from_a(40000, 443, ACK, b"data"));
        dp.process(UPLINK, &mut tcp_from_host(443, sport, ACK));
    }
    assert!(dp.engine_counters().flow_hits >= hits + 4);
    for f in take(&mut dp, UPLINK) {
        assert_eq!(ports(ip_of(&f)), (sport, 443));
        assert!(l4_ok(ip_of(&f)));
    }
    assert_eq!(take(&mut dp, A).len(), 3);
    let m = metrics(&mut dp);
    assert_eq!(m.connection_attempt_count, 1);
    assert_eq!(m.connection_established_count, 1);
    assert_eq!(m.active_connection_count, 1);
    assert_eq!(m.packets_in_from_source, 4);
    assert_eq!(m.packets_out_to_source, 4);
    assert_eq!(m.packets_drop_count, 0);
    assert!(m.bytes_in_from_source > m.bytes_in_from_destination);
}

#[test]
fn a_small_port_range_runs_out_per_destination_only() {
    let mut dp = dp_with(with_nat((1024, 1025)));
    let a = open(&mut dp, 40000, 443);
    let b = open(&mut dp, 40001, 443);
    assert_ne!(a, b);
    dp.process(A, &mut tcp_from_a(40002, 443, SYN, b""));
    assert!(take(&mut dp, UPLINK).is_empty());
    assert_eq!(drops(&dp, A, DropReason::NatPortAllocation), 1);
    assert_eq!(metrics(&mut dp).error_port_allocation, 1);
    // Another destination port has its own ports.
    let c = open(&mut dp, 40002, 80);
    assert!((1024..=1025).contains(&c));
}

#[test]
fn the_outside_cannot_open_connections_or_ping_the_gateway() {
    let mut dp = dp();
    dp.process(UPLINK, &mut tcp_from_host(50000, 22, SYN));
    let ping = |dst: [u8; 4], eth: (MacAddr, MacAddr)| {
        let mut v = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(eth.0 .0, eth.1 .0)
            .ipv4(if eth.0 == HOST_MAC { HOST } else { A_IP }, dst, 64)
            .icmpv4_echo_request(9, 1)
            .write(&mut v, b"ping")
            .unwrap();
        v
    };
    dp.process(UPLINK, &mut ping(NAT_EIP, (HOST_MAC, IGW_MAC)));
    assert_eq!(drops(&dp, UPLINK, DropReason::NatNoTranslation), 2);
    // Its private address does not answer either.
    dp.process(A, &mut ping(NAT_IP, (eni_mac(A), router_mac(0))));
    assert_eq!(drops(&dp, A, DropReason::NatNoTranslation), 1);
    assert!(take(&mut dp, A).is_empty());
    assert!(take(&mut dp, UPLINK).is_empty());
    assert_eq!(metrics(&mut dp).packets_drop_count, 3);
}

#[test]
fn after_the_idle_timeout_the_inside_host_gets_a_rst() {
    let mut dp = dp();
    let p = open(&mut dp, 40000, 443);
    dp.process(UPLINK, &mut tcp_from_host(443, p, SYN | ACK));
    dp.process(A, &mut tcp_from_a(40000, 443, ACK, b""));
    take(&mut dp, A);
    take(&mut dp, UPLINK);
    // Idle past the timeout: the next packet from A (a flow-cache hit until now) is
    // answered with a RST from the server's address, and nothing goes out.
    dp.set_now(20_000);
    dp.expire();
    dp.process(A, &mut tcp_from_a(40000, 443, ACK, b"late data"));
    assert!(take(&mut dp, UPLINK).is_empty());
    let rst = take(&mut dp, A);
    assert_eq!(rst.len(), 1);
    let s = SlicedPacket::from_ethernet(&rst[0][VNET_HDR_LEN..]).unwrap();
    let Some(TransportSlice::Tcp(t)) = s.transport else {
        panic!("not TCP")
    };
    assert!(t.rst());
    assert_eq!((t.source_port(), t.destination_port()), (443, 40000));
    assert_eq!(t.sequence_number(), 500, "RST carries the ACKed sequence");
    let ip = ip_of(&rst[0]);
    assert_eq!((&ip[12..16], &ip[16..20]), (&HOST[..], &A_IP[..]));
    assert!(l4_ok(ip));
    let m = metrics(&mut dp);
    assert_eq!(m.idle_timeout_count, 1);
    assert_eq!(m.resets_sent, 1);
    assert_eq!(m.active_connection_count, 0);
    assert_eq!(drops(&dp, A, DropReason::NatReset), 1);
    // The old public port is free and the server's late packets find nothing.
    dp.process(UPLINK, &mut tcp_from_host(443, p, ACK));
    assert!(take(&mut dp, A).is_empty());
    // A RST from inside is never answered.
    dp.process(A, &mut tcp_from_a(40000, 443, RST, b""));
    assert!(take(&mut dp, A).is_empty());
}

#[test]
fn ping_through_the_gateway_translates_the_identifier_both_ways() {
    let mut dp = dp_with(with_nat((2000, 2000)));
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(A_IP, HOST, 64)
        .icmpv4_echo_request(77, 1)
        .write(&mut v, b"hello")
        .unwrap();
    dp.process(A, &mut v);
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1);
    let ip = ip_of(&out[0]);
    assert_eq!(&ip[12..16], &NAT_EIP);
    assert_eq!(
        u16::from_be_bytes([ip[24], ip[25]]),
        2000,
        "identifier translated"
    );
    assert_eq!(checksum(&ip[20..]), 0);
    let mut r = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0)
        .ipv4(HOST, NAT_EIP, 64)
        .icmpv4(Icmpv4Type::EchoReply(IcmpEchoHeader { id: 2000, seq: 1 }))
        .write(&mut r, b"hello")
        .unwrap();
    dp.process(UPLINK, &mut r);
    let back = take(&mut dp, A);
    assert_eq!(back.len(), 1);
    let ip = ip_of(&back[0]);
    assert_eq!(&ip[16..20], &A_IP);
    assert_eq!(u16::from_be_bytes([ip[24], ip[25]]), 77);
    assert_eq!(checksum(&ip[20..]), 0);
    assert_eq!(checksum(&ip[..20]), 0);
}

fn udp_from_a(sport: u16, dport: u16) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(A_IP, HOST, 64)
        .udp(sport, dport)
        .write(&mut v, b"query")
        .unwrap();
    v
}

#[test]
fn icmp_errors_are_translated_with_their_quoted_headers() {
    let mut dp = dp();
    dp.process(A, &mut udp_from_a(5000, 53));
    let out = take(&mut dp, UPLINK);
    let sent_ip = ip_of(&out[0]).to_vec();
    let (nport, _) = ports(&sent_ip);
    // The host answers "port unreachable", quoting what it got.
    let mut e = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0)
        .ipv4(HOST, NAT_EIP, 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut e, &sent_ip)
        .unwrap();
    dp.process(UPLINK, &mut e);
    let back = take(&mut dp, A);
    assert_eq!(back.len(), 1, "the error reaches the inside host");
    let ip = ip_of(&back[0]);
    assert_eq!(&ip[16..20], &A_IP);
    assert_eq!(checksum(&ip[..20]), 0);
    assert_eq!(checksum(&ip[20..]), 0, "ICMP checksum");
    let q = &ip[28..];
    assert_eq!(&q[12..16], &A_IP, "quoted source is the inside host");
    assert_eq!(ports(q), (5000, 53), "quoted ports are the inside ones");
    assert_eq!(checksum(&q[..20]), 0);
    assert!(l4_ok(q), "quoted UDP checksum");

    // The other way: the host's datagram to the public port reaches A, whose error
    // about it leaves with the EIP and the public port quoted.
    let mut d = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0)
        .ipv4(HOST, NAT_EIP, 64)
        .udp(53, nport)
        .write(&mut d, b"answer")
        .unwrap();
    dp.process(UPLINK, &mut d);
    let got = take(&mut dp, A);
    assert_eq!(got.len(), 1);
    let in_ip = ip_of(&got[0]).to_vec();
    let mut e = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(A_IP, HOST, 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut e, &in_ip)
        .unwrap();
    dp.process(A, &mut e);
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1);
    let ip = ip_of(&out[0]);
    assert_eq!(&ip[12..16], &NAT_EIP);
    assert_eq!(checksum(&ip[20..]), 0);
    let q = &ip[28..];
    assert_eq!(&q[16..20], &NAT_EIP, "quoted destination is the EIP");
    assert_eq!(ports(q), (53, nport));
    assert!(l4_ok(q));
}

#[test]
fn tcp_fragments_and_other_protocols_are_dropped_udp_fragments_pass() {
    let mut dp = dp();
    let frag = |proto: etherparse::IpNumber, mf: bool, offset: u16, payload: &[u8]| {
        let mut ip =
            etherparse::Ipv4Header::new(payload.len() as u16, 64, proto, A_IP, HOST).unwrap();
        ip.more_fragments = mf;
        ip.fragment_offset = etherparse::IpFragOffset::try_new(offset).unwrap();
        ip.identification = 99;
        ip.header_checksum = ip.calc_header_checksum();
        let mut v = vec![0u8; VNET_HDR_LEN];
        etherparse::Ethernet2Header {
            source: eni_mac(A).0,
            destination: router_mac(0).0,
            ether_type: etherparse::EtherType::IPV4,
        }
        .write(&mut v)
        .unwrap();
        ip.write(&mut v).unwrap();
        v.extend_from_slice(payload);
        v
    };
    // A TCP first fragment (header + some data).
    let mut tcp = Vec::new();
    PacketBuilder::ipv4(A_IP, HOST, 64)
        .tcp(40000, 443, 1, 1000)
        .syn()
        .write(&mut tcp, &[1u8; 16])
        .unwrap();
    dp.process(A, &mut frag(etherparse::IpNumber::TCP, true, 0, &tcp[20..]));
    assert_eq!(drops(&dp, A, DropReason::NatFragment), 1);
    // UDP: both fragments go out, the first translated, the second's payload intact.
    let mut udp = Vec::new();
    PacketBuilder::ipv4(A_IP, HOST, 64)
        .udp(5000, 53)
        .write(&mut udp, &[2u8; 32])
        .unwrap();
    dp.process(
        A,
        &mut frag(etherparse::IpNumber::UDP, true, 0, &udp[20..36]),
    );
    dp.process(
        A,
        &mut frag(etherparse::IpNumber::UDP, false, 2, &udp[36..]),
    );
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 2);
    for f in &out {
        let ip = ip_of(f);
        assert_eq!(&ip[12..16], &NAT_EIP);
        assert_eq!(checksum(&ip[..20]), 0);
    }
    assert_eq!(
        &ip_of(&out[1])[20..],
        &udp[36..],
        "later fragment untouched"
    );
    // GRE from inside: not something a NAT gateway translates.
    let mut gre = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ip(etherparse::IpHeaders::Ipv4(
            etherparse::Ipv4Header::new(4, 64, etherparse::IpNumber(47), A_IP, HOST).unwrap(),
            Default::default(),
        ))
        .write(&mut gre, etherparse::IpNumber(47), &[0, 0, 8, 0])
        .unwrap();
    dp.process(A, &mut gre);
    assert_eq!(drops(&dp, A, DropReason::NatUnsupportedProtocol), 1);
}

#[test]
fn offloaded_super_frames_keep_a_correct_partial_checksum() {
    let mut dp = dp();
    let mut f = tcp_from_a(40000, 443, SYN, b"");
    dp.process(A, &mut f);
    take(&mut dp, UPLINK);
    // A segment whose TCP checksum is left to the device: the field holds the
    // pseudo-header sum, which must follow the new source address (not the port).
    let mut f = tcp_from_a(40000, 443, ACK, &[5u8; 3000]);
    let ip_start = VNET_HDR_LEN + 14;
    let seg_len = f.len() - ip_start - 20;
    let pseudo = |ip: &[u8]| {
        fold(
            sum(0, &ip[12..20])
                .wrapping_add(6)
                .wrapping_add(seg_len as u32),
        )
    };
    let p = pseudo(&f[ip_start..]);
    f[ip_start + 36..ip_start + 38].copy_from_slice(&p.to_be_bytes());
    // A GSO super-frame of two 1500-byte segments, checksum left partial.
    f[0] = F_NEEDS_CSUM;
    f[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
    f[2..4].copy_from_slice(&54u16.to_ne_bytes()); // hdr_len
    f[4..6].copy_from_slice(&1460u16.to_ne_bytes()); // gso_size
    f[6..8].copy_from_slice(&34u16.to_ne_bytes()); // csum_start (from the frame)
    f[8..10].copy_from_slice(&16u16.to_ne_bytes()); // csum_offset
    dp.process(A, &mut f);
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1, "the super-frame passes whole");
    assert_eq!(out[0][..10], f[..10], "with its virtio_net_hdr");
    let ip = ip_of(&out[0]);
    assert_eq!(&ip[12..16], &NAT_EIP);
    let field = u16::from_be_bytes([ip[36], ip[37]]);
    assert_eq!(
        field,
        pseudo(ip),
        "partial checksum follows the translated address"
    );
}

fn acl(inbound: Vec<NaclEntry>, outbound: Vec<NaclEntry>) -> NetworkAclConfig {
    NetworkAclConfig {
        id: "acl-public".into(),
        vpc: VpcIdx(0),
        inbound,
        outbound,
    }
}

fn rule(n: u16, ports: Option<(u16, u16)>, cidr: &str) -> NaclEntry {
    NaclEntry {
        rule_number: n,
        traffic: TrafficMatch {
            protocol: ports.map_or(Protocol::All, |_| Protocol::Number(6)),
            ports: ports.map(|(from, to)| PortRange { from, to }),
            icmp: None,
        },
        cidr: cidr.parse().unwrap(),
        allow: true,
    }
}

#[test]
fn the_gateway_subnet_acl_applies_both_ways_and_the_return_rule_matters() {
    // The public subnet lets the private subnet in on 443 and out to the internet on
    // 443, but has no inbound rule for the replies' ephemeral ports.
    let mut c = with_nat((1024, 65535));
    let without = acl(
        vec![rule(100, Some((443, 443)), "10.0.1.0/24")],
        vec![
            rule(100, Some((443, 443)), "0.0.0.0/0"),
            rule(110, Some((1024, 65535)), "10.0.1.0/24"),
        ],
    );
    c.network_acls = vec![without.clone()];
    c.subnets[2].network_acl = Some(NaclIdx(0));
    let mut dp = dp_with(c.clone());
    let p = open(&mut dp, 40000, 443);
    dp.process(UPLINK, &mut tcp_from_host(443, p, SYN | ACK));
    assert!(take(&mut dp, A).is_empty(), "return traffic denied");
    assert_eq!(drops(&dp, UPLINK, DropReason::NaclDeny), 1);
    // Add the return rule: the reply passes (the translation is still there).
    let mut with = without;
    with.inbound
        .push(rule(110, Some((1024, 65535)), "0.0.0.0/0"));
    c.network_acls = vec![with];
    let plan = (0..6)
        .map(|i| crate::datapath::EniPlan {
            previous: Some(PortIdx(i)),
            port: crate::datapath::PortChange::Keep,
        })
        .collect();
    dp.install(c, plan).unwrap();
    dp.process(UPLINK, &mut tcp_from_host(443, p, SYN | ACK));
    assert_eq!(take(&mut dp, A).len(), 1);
    // Traffic from the private subnet to other ports is refused on the way in.
    dp.process(A, &mut tcp_from_a(40001, 80, SYN, b""));
    assert!(take(&mut dp, UPLINK).is_empty());
}

#[test]
fn a_private_nat_gateway_is_refused_by_the_internet_gateway() {
    let mut c = with_nat((1024, 65535));
    c.nat_gateways[0].public = false;
    c.internet_gateways[0].mappings.clear();
    let mut dp = dp_with(c);
    dp.process(A, &mut tcp_from_a(40000, 443, SYN, b""));
    assert!(take(&mut dp, UPLINK).is_empty());
    assert_eq!(drops(&dp, A, DropReason::IgwNoPublicIp), 1);
}

#[test]
fn a_second_address_takes_over_when_the_first_is_full() {
    let mut c = with_nat((1024, 1024));
    c.nat_gateways[0].addrs.push(Ipv4Addr::new(10, 0, 3, 221));
    c.internet_gateways[0].mappings.push(PublicMapping {
        public: Ipv4Addr::new(198, 51, 100, 8),
        target: MappingTarget::NatGateway(NatIdx(0)),
        private: Ipv4Addr::new(10, 0, 3, 221),
        source: "eipalloc-nat2".into(),
    });
    let mut dp = dp_with(c);
    dp.process(A, &mut tcp_from_a(40000, 443, SYN, b""));
    dp.process(A, &mut tcp_from_a(40001, 443, SYN, b""));
    dp.process(A, &mut tcp_from_a(40002, 443, SYN, b""));
    let out = take(&mut dp, UPLINK);
    let srcs: Vec<&[u8]> = out.iter().map(|f| &ip_of(f)[12..16]).collect();
    assert_eq!(srcs, vec![&NAT_EIP[..], &[198, 51, 100, 8][..]]);
    assert_eq!(drops(&dp, A, DropReason::NatPortAllocation), 1);
}

#[test]
fn a_middlebox_in_another_subnet_can_use_the_gateway_too() {
    // FW (10.0.3.30, subnet 2 = the gateway's own subnet, main table → IGW) has no
    // public IP; A2 in the private subnet goes through the gateway like A.
    let mut dp = dp();
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A2).0, router_mac(0).0)
        .ipv4([10, 0, 1, 11], HOST, 64)
        .udp(6000, 53)
        .write(&mut v, b"q")
        .unwrap();
    dp.process(A2, &mut v);
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1);
    assert_eq!(&ip_of(&out[0])[12..16], &NAT_EIP);
    // FW uses its own table (IGW) and has no public IP: dropped there.
    let mut w = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(FW).0, router_mac(2).0)
        .ipv4([10, 0, 3, 30], HOST, 64)
        .udp(6000, 53)
        .write(&mut w, b"q")
        .unwrap();
    dp.process(FW, &mut w);
    assert_eq!(drops(&dp, FW, DropReason::IgwNoPublicIp), 1);
}

#[test]
fn a_refusal_is_not_cached_against_a_later_translation() {
    // A stray datagram to the EIP's port 40000 is refused; then A opens a flow whose
    // translation keeps port 40000 towards that very peer: its replies (the same
    // 5-tuple as the stray one) must reach A, and every refusal is counted.
    let mut dp = dp();
    let stray = || {
        let mut v = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0)
            .ipv4(HOST, NAT_EIP, 64)
            .udp(5353, 40000)
            .write(&mut v, b"stray")
            .unwrap();
        v
    };
    dp.process(UPLINK, &mut stray());
    dp.process(UPLINK, &mut stray());
    assert_eq!(drops(&dp, UPLINK, DropReason::NatNoTranslation), 2);
    assert_eq!(metrics(&mut dp).packets_drop_count, 2);
    dp.process(A, &mut udp_from_a(40000, 5353));
    assert_eq!(ports(ip_of(&take(&mut dp, UPLINK)[0])).0, 40000);
    dp.process(UPLINK, &mut stray());
    assert_eq!(take(&mut dp, A).len(), 1, "the reply reaches A");
}

#[test]
fn a_retransmitted_syn_ack_reaches_the_client() {
    // A's ACK left through the gateway but was lost upstream: the server sends its
    // SYN-ACK again, which must reach A (Linux conntrack lets it pass too).
    let mut dp = dp();
    let port = open(&mut dp, 40000, 443);
    dp.process(UPLINK, &mut tcp_from_host(443, port, SYN | ACK));
    assert_eq!(take(&mut dp, A).len(), 1);
    dp.process(A, &mut tcp_from_a(40000, 443, ACK, b""));
    assert_eq!(take(&mut dp, UPLINK).len(), 1);
    dp.process(UPLINK, &mut tcp_from_host(443, port, SYN | ACK));
    assert_eq!(take(&mut dp, A).len(), 1);
    assert_eq!(drops(&dp, UPLINK, DropReason::InvalidTcpState), 0);
}

/// A private instance reaches another instance's Elastic IP through its NAT gateway:
/// the internet gateway turns the packet around (the receiver sees the NAT gateway's
/// Elastic IP), and the reply, sent to that Elastic IP, turns around too and goes back
/// through the gateway's translation. Nothing leaves on the uplink.
#[test]
fn a_hairpin_through_the_nat_gateway_and_back() {
    const FW_EIP: [u8; 4] = [198, 51, 100, 41];
    let mut c = with_nat((1024, 65535));
    c.internet_gateways[0].mappings.push(PublicMapping {
        public: Ipv4Addr::from(FW_EIP),
        target: MappingTarget::Eni(FW),
        private: Ipv4Addr::new(10, 0, 3, 30),
        source: "eipalloc-fw".into(),
    });
    let mut dp = dp_with(c);
    let mut syn = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(A_IP, FW_EIP, 64)
        .tcp(40000, 80, 1000, 64000)
        .syn()
        .write(&mut syn, b"")
        .unwrap();
    dp.process(A, &mut syn);
    let got = take(&mut dp, FW);
    assert_eq!(got.len(), 1, "delivered to FW");
    let ip = ip_of(&got[0]);
    assert_eq!(
        &ip[12..16],
        &NAT_EIP,
        "FW sees the NAT gateway's Elastic IP"
    );
    assert_eq!(&ip[16..20], &[10, 0, 3, 30]);
    assert!(l4_ok(ip));
    let (public_port, dport) = ports(ip);
    assert_eq!(dport, 80);
    // FW answers the address it saw.
    let mut reply = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(FW).0, router_mac(2).0)
        .ipv4([10, 0, 3, 30], NAT_EIP, 64)
        .tcp(80, public_port, 500, 64000)
        .syn()
        .ack(1001)
        .write(&mut reply, b"")
        .unwrap();
    dp.process(FW, &mut reply);
    let back = take(&mut dp, A);
    assert_eq!(back.len(), 1, "the reply reached A through the NAT gateway");
    let ip = ip_of(&back[0]);
    assert_eq!(&ip[12..16], &FW_EIP, "A sees FW's Elastic IP");
    assert_eq!(&ip[16..20], &A_IP);
    assert_eq!(ports(ip), (80, 40000));
    assert!(l4_ok(ip));
    assert!(take(&mut dp, UPLINK).is_empty(), "nothing on the uplink");
}
