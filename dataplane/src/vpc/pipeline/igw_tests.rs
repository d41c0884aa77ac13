//! The internet gateway on in-memory frames: 1:1 NAT both ways with checksums kept,
//! the drops AWS's gateway makes, and the 1500-byte hop.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

use crate::datapath::Dataplane;
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, router_mac, A, A2};
use crate::vpc::config::Neighbour;
use crate::vpc::config::{
    Attachment, DataplaneConfig, IgwIdx, InternetGatewayConfig, MappingTarget, Outside,
    PublicMapping, RouteConfig, RouteTarget, Uplink, VpcIdx,
};
use crate::vpc::verdict::DropReason;
use crate::wire::checksum::checksum;
use crate::wire::vnet::VNET_HDR_LEN;
use crate::wire::MacAddr;

const IGW_MAC: MacAddr = MacAddr([0x0a, 0, 0, 0, 0, 1]);
const HOST_MAC: MacAddr = MacAddr([0x0e, 0, 0, 0, 0, 1]);
const EIP: [u8; 4] = [198, 51, 100, 40];
const HOST: [u8; 4] = [203, 0, 113, 5];

/// The fixture VPC plus an internet gateway whose uplink is port 5 (after the 5 ENIs);
/// A (10.0.1.10) has the EIP 198.51.100.40; A2 has no public address. The main table
/// sends 0.0.0.0/0 to the gateway.
fn with_igw() -> DataplaneConfig {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.internet_gateways = vec![InternetGatewayConfig {
        id: "igw-1".into(),
        vpc: VpcIdx(0),
        mac: IGW_MAC,
        uplink: Some(Uplink {
            attachment: Attachment {
                netns: "internet".into(),
                ifname: "eth0".into(),
                dhcp: false,
                kind: Default::default(),
            },
            host_mac: HOST_MAC,
            mtu: 1500,
            outside: Outside::Namespace {
                cidr: "203.0.113.0/24".parse().unwrap(),
                gateway_ip: Ipv4Addr::new(203, 0, 113, 1),
                hosts: vec![Ipv4Addr::from(HOST)],
            },
        }),
        mappings: vec![PublicMapping {
            public: Ipv4Addr::from(EIP),
            target: MappingTarget::Eni(A),
            private: Ipv4Addr::new(10, 0, 1, 10),
            source: "eipalloc-1".into(),
        }],
    }];
    c.route_tables[0].routes.push(RouteConfig {
        destination: "0.0.0.0/0".parse().unwrap(),
        target: RouteTarget::InternetGateway(IgwIdx(0)),
        deleted_target: None,
    });
    c
}

const UPLINK: PortIdx = PortIdx(5);

fn dp() -> Dataplane<MemPort> {
    fixtures::mem_dataplane(with_igw(), 1024, true).unwrap()
}

fn take(dp: &mut Dataplane<MemPort>, port: impl Into<PortIdx>) -> Vec<Vec<u8>> {
    std::mem::take(&mut dp.port_mut(port).unwrap().tx)
}

fn out_tcp(src: [u8; 4], from_mac: MacAddr, payload: usize, df: bool) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    let mut ip = etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::TCP, src, HOST).unwrap();
    ip.dont_fragment = df;
    PacketBuilder::ethernet2(from_mac.0, router_mac(0).0)
        .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
        .tcp(40000, 443, 1, 64000)
        .syn()
        .write(&mut v, &vec![7u8; payload])
        .unwrap();
    v
}

/// The TCP checksum over pseudo-header and segment verifies.
fn verify_l4(ip: &[u8]) -> bool {
    use crate::wire::checksum::{fold, sum};
    let len = ip.len() - 20;
    let acc = sum(0, &ip[12..20])
        .wrapping_add(u32::from(ip[9]))
        .wrapping_add(len as u32);
    !fold(sum(acc, &ip[20..])) == 0
}

#[test]
fn egress_is_translated_to_the_public_address_with_valid_checksums() {
    let mut dp = dp();
    let mut f = out_tcp([10, 0, 1, 10], eni_mac(A), 100, true);
    dp.process(A, &mut f);
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1);
    let eth = etherparse::Ethernet2Header::from_slice(&out[0][VNET_HDR_LEN..])
        .unwrap()
        .0;
    assert_eq!(
        (MacAddr(eth.source), MacAddr(eth.destination)),
        (IGW_MAC, HOST_MAC)
    );
    let ip = &out[0][VNET_HDR_LEN + 14..];
    assert_eq!(&ip[12..16], &EIP, "source is the Elastic IP");
    assert_eq!(checksum(&ip[..20]), 0);
    assert!(verify_l4(ip));
}

#[test]
fn ingress_is_translated_to_the_private_address_and_replies_flow() {
    let mut dp = dp();
    let mut f = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0)
        .ipv4(HOST, EIP, 64)
        .tcp(50000, 80, 1, 64000)
        .syn()
        .write(&mut f, b"")
        .unwrap();
    dp.process(UPLINK, &mut f);
    let out = take(&mut dp, A);
    assert_eq!(out.len(), 1);
    let ip = &out[0][VNET_HDR_LEN + 14..];
    assert_eq!(&ip[16..20], &[10, 0, 1, 10]);
    assert!(verify_l4(ip));
}

#[test]
fn gateway_drops_as_aws_does() {
    let mut dp = dp();
    // No public IP: dropped at the gateway.
    let mut f = out_tcp([10, 0, 1, 11], eni_mac(A2), 10, true);
    dp.process(A2, &mut f);
    assert_eq!(
        dp.counters(A2).unwrap().drops[DropReason::IgwNoPublicIp.index()],
        1
    );
    // Inbound from private space, or for an address nobody owns.
    for (src, dst, reason) in [
        ([192, 168, 1, 1], EIP, DropReason::IgwPrivateSource),
        ([100, 64, 0, 1], EIP, DropReason::IgwPrivateSource),
        (HOST, [198, 51, 100, 99], DropReason::IgwNoPublicMapping),
    ] {
        let mut f = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(HOST_MAC.0, IGW_MAC.0)
            .ipv4(src, dst, 64)
            .udp(1, 2)
            .write(&mut f, b"")
            .unwrap();
        dp.process(UPLINK, &mut f);
        assert!(
            dp.counters(UPLINK).unwrap().drops[reason.index()] >= 1,
            "{reason:?}"
        );
    }
    assert!(take(&mut dp, A).is_empty());
}

#[test]
fn too_big_with_df_gets_frag_needed_from_the_subnet_router_without_df_is_fragmented() {
    let mut dp = dp();
    let mut f = out_tcp([10, 0, 1, 10], eni_mac(A), 3000, true);
    dp.process(A, &mut f);
    assert!(take(&mut dp, UPLINK).is_empty());
    let back = take(&mut dp, A);
    assert_eq!(back.len(), 1);
    let ip = &back[0][VNET_HDR_LEN + 14..];
    assert_eq!(&ip[12..16], &[10, 0, 1, 1], "from the subnet router");
    assert_eq!((ip[20], ip[21]), (3, 4), "fragmentation needed");
    assert_eq!(u16::from_be_bytes([ip[26], ip[27]]), 1500, "next-hop MTU");
    assert_eq!(
        dp.counters(A).unwrap().drops[DropReason::FragmentationNeeded.index()],
        1
    );
    // Without DF: fragments of at most 1500 bytes, all from the public address.
    let mut f = out_tcp([10, 0, 1, 10], eni_mac(A), 3000, false);
    dp.process(A, &mut f);
    let frags = take(&mut dp, UPLINK);
    assert_eq!(frags.len(), 3);
    for fr in &frags {
        let ip = &fr[VNET_HDR_LEN + 14..];
        assert!(ip.len() <= 1500);
        assert_eq!(&ip[12..16], &EIP);
        assert_eq!(checksum(&ip[..20]), 0);
    }
}

/// A GSO super-frame from A to the internet host: `payload` bytes in segments of
/// `gso_size`, DF as given, TCP checksum left partial (`NEEDS_CSUM`), PSH|FIN on.
fn out_super_frame(payload: &[u8], gso_size: u16, df: bool) -> Vec<u8> {
    use crate::wire::checksum::{fold, sum};
    use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, GSO_TCPV4};
    let mut v = vec![0u8; VNET_HDR_LEN];
    let mut ip =
        etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::TCP, [10, 0, 1, 10], HOST)
            .unwrap();
    ip.dont_fragment = df;
    ip.identification = 100;
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
        .tcp(40000, 443, 1000, 64000)
        .ack(1)
        .psh()
        .fin()
        .write(&mut v, payload)
        .unwrap();
    let ip = VNET_HDR_LEN + 14;
    let pseudo = fold(
        sum(0, &v[ip + 12..ip + 20])
            .wrapping_add(6)
            .wrapping_add((v.len() - ip - 20) as u32),
    );
    v[ip + 36..ip + 38].copy_from_slice(&pseudo.to_be_bytes());
    VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 54,
        gso_size,
        csum_start: 34,
        csum_offset: 16,
    }
    .emit(&mut v)
    .unwrap();
    v
}

#[test]
fn a_df_clear_super_frame_too_big_for_the_uplink_leaves_segmented_never_dropped() {
    let mut dp = dp();
    // Segments of 8949 bytes (an instance on a 9001-byte ENI) do not fit the 1500-byte
    // uplink: segmented in software, each segment then fragmented.
    let payload: Vec<u8> = (0..3 * 8949 + 777).map(|i| (i % 251) as u8).collect();
    let mut f = out_super_frame(&payload, 8949, false);
    dp.process(A, &mut f);
    let out = take(&mut dp, UPLINK);
    assert!(take(&mut dp, A).is_empty(), "no ICMP error back");
    let a = dp.counters(A).unwrap();
    assert_eq!(a.drops.iter().sum::<u64>(), 0, "nothing dropped");
    assert_eq!(
        dp.counters(UPLINK).unwrap().tx_packets,
        out.len() as u64,
        "every frame on the wire counted"
    );
    // Reassemble each segment from its fragments (grouped by IPv4 id).
    let mut segments: Vec<(u16, Vec<u8>, Vec<u8>)> = Vec::new();
    for fr in &out {
        assert!(
            fr[..VNET_HDR_LEN].iter().all(|&b| b == 0),
            "no offload left"
        );
        let ip = &fr[VNET_HDR_LEN + 14..];
        assert!(ip.len() <= 1500, "fits the uplink");
        assert_eq!(&ip[12..16], &EIP, "translated before segmenting");
        assert_eq!(checksum(&ip[..20]), 0);
        let id = u16::from_be_bytes([ip[4], ip[5]]);
        let off = usize::from(u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff) * 8;
        if off == 0 {
            segments.push((id, ip[..20].to_vec(), Vec::new()));
        }
        let seg = segments.last_mut().unwrap();
        assert_eq!((seg.0, seg.2.len()), (id, off), "fragments in order");
        seg.2.extend_from_slice(&ip[20..]);
    }
    assert_eq!(segments.len(), 4);
    let mut data = Vec::new();
    let mut seq = 1000u32;
    for (i, (id, head, l4)) in segments.iter().enumerate() {
        assert_eq!(*id, 100 + i as u16, "id incremented per segment");
        let mut ip = head.clone();
        ip.extend_from_slice(l4);
        assert!(verify_l4(&ip), "segment {i}: full TCP checksum");
        let (tcp, rest) = etherparse::TcpHeader::from_slice(l4).unwrap();
        assert_eq!(tcp.sequence_number, seq, "contiguous");
        let last = i + 1 == segments.len();
        assert_eq!((tcp.fin, tcp.psh), (last, last));
        seq += rest.len() as u32;
        data.extend_from_slice(rest);
    }
    assert_eq!(data, payload);
    // With DF set, the same super-frame is answered by its segment size instead.
    let mut f = out_super_frame(&payload, 8949, true);
    dp.process(A, &mut f);
    assert!(take(&mut dp, UPLINK).is_empty());
    let back = take(&mut dp, A);
    assert_eq!(back.len(), 1);
    let ip = &back[0][VNET_HDR_LEN + 14..];
    assert_eq!((ip[20], ip[21]), (3, 4), "fragmentation needed");
    assert_eq!(u16::from_be_bytes([ip[26], ip[27]]), 1500);
}

#[test]
fn a_super_frame_whose_segments_fit_the_uplink_passes_whole() {
    let mut dp = dp();
    let payload = vec![9u8; 3 * 1460];
    let mut f = out_super_frame(&payload, 1460, false);
    let len = f.len();
    dp.process(A, &mut f);
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1, "the kernel behind the uplink segments it");
    assert_eq!(out[0].len(), len);
    assert_eq!(out[0][..VNET_HDR_LEN], f[..VNET_HDR_LEN]);
}

#[test]
fn gateway_answers_arp_and_ping_on_its_outside_address() {
    let mut dp = dp();
    let mut arp = vec![0u8; VNET_HDR_LEN];
    arp.extend_from_slice(&[0xff; 6]);
    arp.extend_from_slice(&HOST_MAC.0);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&HOST_MAC.0);
    arp.extend_from_slice(&HOST);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[203, 0, 113, 1]);
    dp.process(UPLINK, &mut arp);
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0][VNET_HDR_LEN + 22..VNET_HDR_LEN + 28], &IGW_MAC.0);
}

/// An ARP request from `sender` (at `mac`) for `target`, as it arrives on the uplink.
fn arp_request(mac: MacAddr, sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut arp = vec![0u8; VNET_HDR_LEN];
    arp.extend_from_slice(&[0xff; 6]);
    arp.extend_from_slice(&mac.0);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&mac.0);
    arp.extend_from_slice(&sender);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&target);
    arp
}

/// [`with_igw`] with the gateway on the shared internet segment: the host 203.0.113.5
/// and, for another gateway, 192.0.2.50 are its neighbours.
fn on_segment() -> Dataplane<MemPort> {
    const OTHER_IGW: MacAddr = MacAddr([0x0a, 0, 0, 0, 0, 2]);
    let mut c = with_igw();
    if let Some(u) = c.internet_gateways[0].uplink.as_mut() {
        u.outside = Outside::Segment {
            bridge: "inet0".into(),
            neighbours: vec![
                Neighbour {
                    ip: Ipv4Addr::from(HOST),
                    mac: SEG_HOST_MAC,
                    holder: "client".into(),
                },
                Neighbour {
                    ip: Ipv4Addr::new(192, 0, 2, 50),
                    mac: OTHER_IGW,
                    holder: "igw-2".into(),
                },
            ],
        };
    }
    fixtures::mem_dataplane(c, 1024, true).unwrap()
}

const SEG_HOST_MAC: MacAddr = MacAddr([0x16, 0, 0, 0, 0, 5]);

#[test]
fn on_the_segment_the_gateway_answers_its_hosts_for_its_public_addresses_only() {
    let mut dp = on_segment();
    // A neighbour asks for the Elastic IP: answered with the gateway's MAC.
    dp.process(UPLINK, &mut arp_request(SEG_HOST_MAC, HOST, EIP));
    let out = take(&mut dp, UPLINK);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0][VNET_HDR_LEN + 22..VNET_HDR_LEN + 28], &IGW_MAC.0);
    assert_eq!(&out[0][VNET_HDR_LEN..VNET_HDR_LEN + 6], &SEG_HOST_MAC.0);
    // Not for an address it does not map, not for a host that is not behind it, and
    // there is no gateway address on the segment.
    for (sender, target) in [
        (HOST, [198, 51, 100, 99]),
        ([198, 51, 100, 7], EIP),
        (HOST, [203, 0, 113, 1]),
    ] {
        dp.process(UPLINK, &mut arp_request(SEG_HOST_MAC, sender, target));
        assert!(
            take(&mut dp, UPLINK).is_empty(),
            "{sender:?} asks for {target:?}"
        );
    }
}

#[test]
fn on_the_segment_egress_goes_to_the_neighbour_holding_the_destination() {
    let mut dp = on_segment();
    let dst_mac = |dp: &mut Dataplane<MemPort>, dst: [u8; 4]| {
        let mut v = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4([10, 0, 1, 10], dst, 64)
            .udp(4000, 53)
            .write(&mut v, b"q")
            .unwrap();
        dp.process(A, &mut v);
        let out = take(dp, UPLINK);
        assert_eq!(out.len(), 1, "{dst:?}");
        MacAddr(out[0][VNET_HDR_LEN..VNET_HDR_LEN + 6].try_into().unwrap())
    };
    assert_eq!(dst_mac(&mut dp, HOST), SEG_HOST_MAC);
    assert_eq!(
        dst_mac(&mut dp, [192, 0, 2, 50]),
        MacAddr([0x0a, 0, 0, 0, 0, 2])
    );
    // Nobody holds it: to the uplink's kernel end, where the segment drops it.
    assert_eq!(dst_mac(&mut dp, [192, 0, 2, 99]), HOST_MAC);
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whatever bytes arrive on whichever port, the engine counts and moves on:
        /// never a panic, and every frame is accounted for.
        #[test]
        fn arbitrary_frames_never_panic(
            port in 0u32..6,
            ethertype in prop_oneof![Just([0x08u8, 0x00]), Just([0x08, 0x06]), Just([0x86, 0xdd]), any::<[u8; 2]>()],
            to_router in any::<bool>(),
            vnet in any::<[u8; 10]>(),
            body in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let port = PortIdx(port);
            let mut dp = dp();
            let mut f = vnet.to_vec();
            let dst = if to_router { router_mac(0) } else { IGW_MAC };
            f.extend_from_slice(&dst.0);
            f.extend_from_slice(&eni_mac(A).0);
            f.extend_from_slice(&ethertype);
            f.extend_from_slice(&body);
            dp.process(port, &mut f);
            let c = dp.counters(port).unwrap();
            prop_assert_eq!(c.rx_packets, 1);
        }
    }
}

/// FW's Elastic IP in [`with_hairpin`].
const FW_EIP: [u8; 4] = [198, 51, 100, 41];

/// [`with_igw`] plus an Elastic IP for FW (10.0.3.30, subnet 2, also routed to the
/// gateway by the main table).
fn with_hairpin() -> DataplaneConfig {
    let mut c = with_igw();
    c.internet_gateways[0].mappings.push(PublicMapping {
        public: Ipv4Addr::from(FW_EIP),
        target: MappingTarget::Eni(crate::fixtures::FW),
        private: Ipv4Addr::new(10, 0, 3, 30),
        source: "eipalloc-2".into(),
    });
    c
}

fn tcp(
    from: MacAddr,
    to: MacAddr,
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    syn_ack: bool,
) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    let b = PacketBuilder::ethernet2(from.0, to.0)
        .ipv4(src, dst, 64)
        .tcp(ports.0, ports.1, 1, 64000)
        .syn();
    let b = if syn_ack { b.ack(2) } else { b };
    b.write(&mut v, b"hello").unwrap();
    v
}

#[test]
fn a_packet_to_another_instances_elastic_ip_turns_back_in_at_the_gateway() {
    use crate::fixtures::FW;
    let mut dp = fixtures::mem_dataplane(with_hairpin(), 1024, true).unwrap();
    // A → FW's Elastic IP: out through the gateway and straight back in.
    for _ in 0..2 {
        let mut f = tcp(
            eni_mac(A),
            router_mac(0),
            [10, 0, 1, 10],
            FW_EIP,
            (40000, 80),
            false,
        );
        dp.process(A, &mut f);
    }
    assert!(
        take(&mut dp, UPLINK).is_empty(),
        "nothing reaches the internet"
    );
    let got = take(&mut dp, FW);
    assert_eq!(got.len(), 2, "delivered (the second from the flow cache)");
    for g in &got {
        let eth = etherparse::Ethernet2Header::from_slice(&g[VNET_HDR_LEN..])
            .unwrap()
            .0;
        assert_eq!(MacAddr(eth.destination), eni_mac(FW));
        assert_eq!(MacAddr(eth.source), router_mac(2));
        let ip = &g[VNET_HDR_LEN + 14..];
        assert_eq!(
            &ip[12..16],
            &EIP,
            "the receiver sees the sender's Elastic IP"
        );
        assert_eq!(&ip[16..20], &[10, 0, 3, 30], "at its own private address");
        assert_eq!(checksum(&ip[..20]), 0);
        assert!(verify_l4(ip));
    }
    // The reply to A's Elastic IP turns back in the same way.
    let mut f = tcp(
        eni_mac(FW),
        router_mac(2),
        [10, 0, 3, 30],
        EIP,
        (80, 40000),
        true,
    );
    dp.process(FW, &mut f);
    let back = take(&mut dp, A);
    assert_eq!(back.len(), 1);
    let ip = &back[0][VNET_HDR_LEN + 14..];
    assert_eq!(&ip[12..16], &FW_EIP);
    assert_eq!(&ip[16..20], &[10, 0, 1, 10]);
    assert!(verify_l4(ip));
    assert!(take(&mut dp, UPLINK).is_empty());
}

#[test]
fn a_hairpin_from_an_instance_without_a_public_address_is_dropped_at_the_gateway() {
    use crate::fixtures::FW;
    let mut dp = fixtures::mem_dataplane(with_hairpin(), 1024, true).unwrap();
    let mut f = tcp(
        eni_mac(A2),
        router_mac(0),
        [10, 0, 1, 11],
        FW_EIP,
        (40000, 80),
        false,
    );
    dp.process(A2, &mut f);
    assert!(take(&mut dp, FW).is_empty());
    assert!(take(&mut dp, UPLINK).is_empty());
    assert_eq!(
        dp.counters(A2).unwrap().drops[DropReason::IgwNoPublicIp.index()],
        1
    );
}

#[test]
fn rewrites_of_both_ends_compose_per_end() {
    use crate::vpc::verdict::Nat;
    let a = Ipv4Addr::new(10, 0, 3, 220);
    let eip = Ipv4Addr::new(198, 51, 100, 7);
    let private = Ipv4Addr::new(10, 0, 3, 30);
    // A NAT gateway's port survives the internet gateway's address; the hairpin adds
    // the destination.
    let n = Nat::Src(a, Some(1024))
        .then(Nat::Src(eip, None))
        .then(Nat::Dst(private, None));
    assert_eq!(
        n,
        Nat::Both {
            src: (eip, Some(1024)),
            dst: (private, None)
        }
    );
    assert_eq!(n.then(Nat::None), n);
    assert_eq!(
        Nat::Dst(private, None).then(Nat::Dst(a, Some(7))),
        Nat::Dst(a, Some(7))
    );
}
