//! Traffic mirroring (AWS Traffic Mirroring): copies of a source ENI's packets,
//! VXLAN-encapsulated (RFC 7348, UDP 4789), sent to a target ENI.
//!
//! What is mirrored, and when ([`crate::datapath`] calls in at two places):
//! - **outbound**: a frame the source sent that the pipeline forwarded (it passed the
//!   source's security groups and its subnet's network ACL), as the instance sent it
//!   (before the VPC's MAC rewrite and any NAT);
//! - **inbound**: a frame delivered to the source's port (so a packet its security group
//!   or network ACL refused is never mirrored), as the instance receives it;
//! - never: ARP and other non-IP frames, the VPC router's answers (they are not
//!   forwarded), and mirror copies themselves (a target that is also a source does not
//!   mirror what it receives as a target, so nothing loops).
//!
//! For each packet the sessions of its source are tried by ascending session number; the
//! first whose filter accepts the packet mirrors it, and only that one (AWS: each packet
//! is mirrored once). A filter's rules for the packet's direction are tried by ascending
//! rule number, and the first that matches decides (accept or reject); when none matches,
//! or there are no rules for that direction, nothing is mirrored.
//!
//! A copy is: outer Ethernet (the target subnet's router MAC → the target ENI's MAC),
//! outer IPv4 (source ENI's primary IPv4 → target ENI's primary IPv4, DF clear, TTL 64),
//! UDP (source port a hash of the inner flow in 49152–65535, destination 4789, checksum 0
//! as IPv4 allows), the VXLAN header (flags `0x08`, the session's VNI), then the inner
//! Ethernet frame cut to the session's packet length and so that the mirrored packet
//! plus 54 bytes fits the target's MTU (AWS's rule: at most 8947 bytes of IP packet to a
//! 9001-byte target). An inner frame that is sent whole with a partial (offloaded) L4
//! checksum gets its checksum completed in the copy; a truncated one keeps what it had
//! (AWS: truncated packets' checksums are not computed). A GSO super-frame is one packet
//! here: its copy is truncated like any other oversize packet.
//!
//! The copy is written to the target's port directly (not routed through the pipeline,
//! and the target's security groups are not consulted); it counts as a transmitted frame
//! of the target and shows in the target's packet captures.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::vpc::config::{EniIdx, MirrorRule, Protocol};
use crate::vpc::tables::Tables;
use crate::wire::checksum::checksum;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, VNET_HDR_LEN};
use crate::wire::{parse_frame, IpMeta, MacAddr, L3};

/// The VXLAN UDP port (IANA).
pub const VXLAN_PORT: u16 = 4789;
/// The VXLAN header's flags byte: the VNI is valid (`I`).
pub const VXLAN_FLAGS: u8 = 0x08;
/// Outer headers before the inner frame: Ethernet, IPv4, UDP, VXLAN.
pub const ENCAP_LEN: usize = ETH_LEN + 20 + 8 + 8;
/// AWS's margin: a mirrored packet is truncated when it plus this exceeds the target's
/// MTU (IPv4).
pub const AWS_MTU_MARGIN: usize = 54;
/// The outer IPv4 TTL.
pub const OUTER_TTL: u8 = 64;
/// The largest VNI (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// Which of the source's packets: received (inbound) or sent (outbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Packets delivered to the source ENI.
    Inbound,
    /// Packets the source ENI sent.
    Outbound,
}

/// Whether `rule` matches packet `ip` (protocol, CIDRs of the same family, and the port
/// ranges, which only TCP/UDP packets with an L4 header can match).
pub fn rule_matches(rule: &MirrorRule, ip: &IpMeta) -> bool {
    if let Protocol::Number(p) = rule.protocol {
        if p != ip.proto {
            return false;
        }
    }
    if !rule.source.contains(&ip.src) || !rule.destination.contains(&ip.dst) {
        return false;
    }
    if rule.source_ports.is_none() && rule.destination_ports.is_none() {
        return true;
    }
    if !matches!(ip.proto, PROTO_TCP | PROTO_UDP) || ip.later_fragment {
        return false;
    }
    let inside = |r: Option<crate::vpc::config::PortRange>, p: u16| match r {
        Some(r) => r.from <= p && p <= r.to,
        None => true,
    };
    inside(rule.source_ports, ip.src_port) && inside(rule.destination_ports, ip.dst_port)
}

/// Whether `rules` (sorted by rule number) accept packet `ip`: the first rule that matches
/// decides; none (or no rules at all) means no.
pub fn filter_accepts(rules: &[MirrorRule], ip: &IpMeta) -> bool {
    rules
        .iter()
        .find(|r| rule_matches(r, ip))
        .is_some_and(|r| r.accept)
}

/// The outer UDP source port for an inner flow: a hash of its addresses, protocol and
/// ports in the dynamic range 49152–65535 (RFC 7348 section 5).
pub fn source_port(ip: &IpMeta) -> u16 {
    let bits = |a: IpAddr| match a {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            (v as u64) ^ ((v >> 64) as u64)
        }
    };
    let mut h = bits(ip.src)
        ^ bits(ip.dst).rotate_left(29)
        ^ (u64::from(ip.proto) << 56)
        ^ (u64::from(ip.src_port) << 16 | u64::from(ip.dst_port)).rotate_left(40);
    // splitmix64 finaliser
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    49152 + (h % 16384) as u16
}

/// The outer headers of one session's copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encap {
    /// Outer Ethernet source: the target subnet's router.
    pub src_mac: MacAddr,
    /// Outer Ethernet destination: the target ENI.
    pub dst_mac: MacAddr,
    /// Outer IPv4 source: the source ENI's primary address.
    pub src_ip: Ipv4Addr,
    /// Outer IPv4 destination: the target ENI's primary address.
    pub dst_ip: Ipv4Addr,
    /// The VXLAN network identifier (24 bits).
    pub vni: u32,
    /// The most bytes of the inner Ethernet frame a copy carries (packet length and the
    /// target's MTU).
    pub max_inner: usize,
}

impl Encap {
    /// The inner bytes a copy carries at most for `packet_length` (`None`: all) and a
    /// target with `mtu`: the mirrored (IP) packet plus [`AWS_MTU_MARGIN`] fits the MTU.
    pub fn max_inner(packet_length: Option<u32>, mtu: u32) -> usize {
        // The outer IPv4 length (36 bytes of headers and the inner frame) fits 16 bits.
        let by_mtu = ((mtu as usize).saturating_sub(AWS_MTU_MARGIN) + ETH_LEN)
            .min(usize::from(u16::MAX) - (ENCAP_LEN - ETH_LEN));
        packet_length.map_or(by_mtu, |l| (l as usize).min(by_mtu))
    }
}

/// Writes the VXLAN copy of `buf` (a frame with its `virtio_net_hdr`) into `out` (a
/// zeroed `virtio_net_hdr`, then the outer frame). Returns the copy's length (with the
/// `virtio_net_hdr`) and whether the inner frame was truncated; `None` when `out` is too
/// small or `buf` holds no frame.
pub fn encapsulate(
    out: &mut [u8],
    e: &Encap,
    buf: &[u8],
    ip_id: u16,
    sport: u16,
) -> Option<(usize, bool)> {
    let inner = buf.get(VNET_HDR_LEN..)?;
    let n = inner.len().min(e.max_inner);
    let truncated = n < inner.len();
    let total = VNET_HDR_LEN + ENCAP_LEN + n;
    let o = out.get_mut(..total)?;
    o[..VNET_HDR_LEN].fill(0);
    let (eth, rest) = o[VNET_HDR_LEN..].split_at_mut(ETH_LEN);
    eth[0..6].copy_from_slice(&e.dst_mac.0);
    eth[6..12].copy_from_slice(&e.src_mac.0);
    eth[12..14].copy_from_slice(&[0x08, 0x00]);
    let (ip, rest) = rest.split_at_mut(20);
    let ip_len = (20 + 8 + 8 + n) as u16;
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
    ip[6..8].fill(0); // DF clear, not a fragment
    ip[8] = OUTER_TTL;
    ip[9] = PROTO_UDP;
    ip[10..12].fill(0);
    ip[12..16].copy_from_slice(&e.src_ip.octets());
    ip[16..20].copy_from_slice(&e.dst_ip.octets());
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let (udp, rest) = rest.split_at_mut(8);
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&VXLAN_PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    udp[6..8].fill(0); // no checksum (IPv4)
    let (vx, body) = rest.split_at_mut(8);
    vx[0] = VXLAN_FLAGS;
    vx[1..4].fill(0);
    vx[4..7].copy_from_slice(&(e.vni & MAX_VNI).to_be_bytes()[1..4]);
    vx[7] = 0;
    body.copy_from_slice(&inner[..n]);
    // A whole packet whose L4 checksum the sender left to offload: complete it in the
    // copy, so that the target sees it as it would be on a wire.
    if !truncated && buf[0] & F_NEEDS_CSUM != 0 {
        if let Ok(h) = VnetHdr::parse(buf) {
            let start = usize::from(h.csum_start);
            let at = start + usize::from(h.csum_offset);
            if at + 2 <= body.len() && start <= body.len() {
                let c = checksum(&body[start..]);
                body[at..at + 2].copy_from_slice(&c.to_be_bytes());
            }
        }
    }
    Some((total, truncated))
}

/// What `vpcctl show` reports of one mirror session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorSessionReport {
    /// The session id.
    pub id: String,
    /// The source ENI id.
    pub source: String,
    /// The target ENI id.
    pub target: String,
    /// Copies sent to the target.
    pub packets: u64,
    /// Bytes of the copies sent (outer frames).
    pub bytes: u64,
    /// Copies whose inner packet was cut (packet length or the target's MTU).
    pub truncated: u64,
    /// Copies that could not be sent (the target has no port, or it refused the frame),
    /// or packets that could not be mirrored (the source or the target has no IPv4).
    pub dropped: u64,
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    packets: u64,
    bytes: u64,
    truncated: u64,
    dropped: u64,
}

/// One running session.
struct Session {
    id: String,
    source_id: String,
    target: EniIdx,
    target_id: String,
    /// Rules sorted by rule number.
    inbound: Vec<MirrorRule>,
    outbound: Vec<MirrorRule>,
    /// `None` when the source or the target has no IPv4 address.
    encap: Option<Encap>,
    counters: Counters,
}

/// Every mirror session of the running configuration, indexed by source ENI, and the
/// buffer copies are built in.
#[derive(Default)]
pub struct Mirrors {
    sessions: Vec<Session>,
    /// Per source ENI: its sessions with inbound rules, by ascending session number.
    inbound: Vec<Vec<u32>>,
    /// Per source ENI: its sessions with outbound rules, by ascending session number.
    outbound: Vec<Vec<u32>>,
    /// Where copies are built (allocated once, when a session exists).
    buf: Box<[u8]>,
    /// The outer IPv4 identification of the next copy.
    ip_id: u16,
}

impl Mirrors {
    /// The sessions of `tables`' configuration; a session of `old` with the same id
    /// keeps its counters. References must have been checked (`Tables::build` does).
    pub fn rebuild(old: Mirrors, tables: &Tables) -> Mirrors {
        let c = &tables.config;
        let n = c.enis.len();
        let mut m = Mirrors {
            sessions: Vec::with_capacity(c.mirror_sessions.len()),
            inbound: vec![Vec::new(); n],
            outbound: vec![Vec::new(); n],
            buf: if c.mirror_sessions.is_empty() {
                Box::default()
            } else if old.buf.is_empty() {
                vec![0u8; crate::engine::buf::BUF_SIZE + ENCAP_LEN].into_boxed_slice()
            } else {
                old.buf
            },
            ip_id: old.ip_id,
        };
        let primary4 = |e: EniIdx| {
            tables.enis.get(e.idx()).and_then(|t| {
                t.addrs.iter().find_map(|a| match a {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                })
            })
        };
        for s in &c.mirror_sessions {
            let sorted = |rules: &[MirrorRule]| {
                let mut v = rules.to_vec();
                v.sort_by_key(|r| r.rule_number);
                v
            };
            let target = tables.enis.get(s.target.idx());
            let encap = match (primary4(s.source), primary4(s.target), target) {
                (Some(src_ip), Some(dst_ip), Some(t)) => Some(Encap {
                    src_mac: tables.subnets[t.subnet.idx()].router_mac,
                    dst_mac: t.mac,
                    src_ip,
                    dst_ip,
                    vni: s.vni & MAX_VNI,
                    max_inner: Encap::max_inner(
                        s.packet_length,
                        c.enis.get(s.target.idx()).map_or(1500, |e| e.mtu),
                    ),
                }),
                _ => None,
            };
            let counters = old
                .sessions
                .iter()
                .find(|o| o.id == s.id)
                .map(|o| o.counters)
                .unwrap_or_default();
            let name = |e: EniIdx| {
                c.enis
                    .get(e.idx())
                    .map_or_else(String::new, |e| e.id.clone())
            };
            m.sessions.push(Session {
                id: s.id.clone(),
                source_id: name(s.source),
                target: s.target,
                target_id: name(s.target),
                inbound: sorted(&s.inbound),
                outbound: sorted(&s.outbound),
                encap,
                counters,
            });
        }
        let mut order: Vec<usize> = (0..c.mirror_sessions.len()).collect();
        order.sort_by_key(|&i| (c.mirror_sessions[i].session_number, i));
        for i in order {
            let s = &c.mirror_sessions[i];
            let src = s.source.idx();
            if src >= n {
                continue;
            }
            // A session without rules for a direction mirrors nothing of it: leave it out.
            if !s.inbound.is_empty() {
                m.inbound[src].push(i as u32);
            }
            if !s.outbound.is_empty() {
                m.outbound[src].push(i as u32);
            }
        }
        m
    }

    /// Whether any session is configured.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Whether ENI `eni` has a session for `dir`.
    #[inline]
    pub fn mirrors(&self, eni: EniIdx, dir: Direction) -> bool {
        let lists = match dir {
            Direction::Inbound => &self.inbound,
            Direction::Outbound => &self.outbound,
        };
        lists.get(eni.idx()).is_some_and(|v| !v.is_empty())
    }

    /// The session that mirrors `frame` (an Ethernet frame) of ENI `eni` in `dir`: the
    /// lowest-numbered one whose filter accepts it; with the packet's metadata.
    pub fn select(&self, eni: EniIdx, dir: Direction, frame: &[u8]) -> Option<(u32, IpMeta)> {
        let list = match dir {
            Direction::Inbound => self.inbound.get(eni.idx())?,
            Direction::Outbound => self.outbound.get(eni.idx())?,
        };
        if list.is_empty() {
            return None;
        }
        let L3::Ip(ip) = parse_frame(frame).ok()?.l3 else {
            return None;
        };
        list.iter().copied().find_map(|s| {
            let session = self.sessions.get(s as usize)?;
            let rules = match dir {
                Direction::Inbound => &session.inbound,
                Direction::Outbound => &session.outbound,
            };
            filter_accepts(rules, &ip).then_some((s, ip))
        })
    }

    /// Builds session `s`'s copy of `buf` (a frame with its `virtio_net_hdr`) in the
    /// mirror buffer; returns the target and the copy's length (see [`Mirrors::frame`]).
    pub fn copy(&mut self, s: u32, buf: &[u8], ip: &IpMeta) -> Option<(EniIdx, usize)> {
        let session = self.sessions.get_mut(s as usize)?;
        let Some(e) = session.encap else {
            session.counters.dropped += 1;
            return None;
        };
        self.ip_id = self.ip_id.wrapping_add(1);
        match encapsulate(&mut self.buf, &e, buf, self.ip_id, source_port(ip)) {
            Some((len, truncated)) => {
                session.counters.truncated += u64::from(truncated);
                Some((session.target, len))
            }
            None => {
                session.counters.dropped += 1;
                None
            }
        }
    }

    /// The copy [`Mirrors::copy`] built, `len` bytes with its `virtio_net_hdr`.
    pub fn frame(&self, len: usize) -> &[u8] {
        &self.buf[..len.min(self.buf.len())]
    }

    /// Counts the outcome of sending session `s`'s copy of `len` bytes.
    pub fn sent(&mut self, s: u32, len: usize, ok: bool) {
        if let Some(session) = self.sessions.get_mut(s as usize) {
            if ok {
                session.counters.packets += 1;
                session.counters.bytes += len.saturating_sub(VNET_HDR_LEN) as u64;
            } else {
                session.counters.dropped += 1;
            }
        }
    }

    /// The sessions' counters, in configuration order.
    pub fn report(&self) -> Vec<MirrorSessionReport> {
        self.sessions
            .iter()
            .map(|s| MirrorSessionReport {
                id: s.id.clone(),
                source: s.source_id.clone(),
                target: s.target_id.clone(),
                packets: s.counters.packets,
                bytes: s.counters.bytes,
                truncated: s.counters.truncated,
                dropped: s.counters.dropped,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpc::config::PortRange;

    fn rule(n: u16, accept: bool, proto: Protocol, dports: Option<(u16, u16)>) -> MirrorRule {
        MirrorRule {
            rule_number: n,
            accept,
            protocol: proto,
            source: "0.0.0.0/0".parse().unwrap(),
            destination: "0.0.0.0/0".parse().unwrap(),
            source_ports: None,
            destination_ports: dports.map(|(from, to)| PortRange { from, to }),
        }
    }

    fn meta(frame: &[u8]) -> IpMeta {
        match parse_frame(frame).unwrap().l3 {
            L3::Ip(ip) => ip,
            other => panic!("not IP: {other:?}"),
        }
    }

    fn tcp(dport: u16, payload: usize) -> Vec<u8> {
        let mut v = vec![0u8; VNET_HDR_LEN];
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 1, 10], [10, 0, 1, 11], 64)
            .tcp(40000, dport, 1, 1000)
            .write(&mut v, &vec![7u8; payload])
            .unwrap();
        v
    }

    #[test]
    fn first_rule_by_number_decides_and_no_rules_mean_no() {
        let https = meta(&tcp(443, 0)[VNET_HDR_LEN..]);
        let ssh = meta(&tcp(22, 0)[VNET_HDR_LEN..]);
        let tcp6 = Protocol::Number(6);
        let rules = [
            rule(10, false, tcp6, Some((22, 22))),
            rule(20, true, tcp6, None),
        ];
        assert!(filter_accepts(&rules, &https));
        assert!(!filter_accepts(&rules, &ssh), "rule 10 rejects first");
        assert!(!filter_accepts(&[], &https), "no rules: nothing");
        let only_443 = [rule(10, true, tcp6, Some((443, 443)))];
        assert!(filter_accepts(&only_443, &https));
        assert!(!filter_accepts(&only_443, &ssh), "no rule matches: nothing");
        let udp_only = [rule(1, true, Protocol::Number(17), None)];
        assert!(!filter_accepts(&udp_only, &https));
        let mut narrow = rule(1, true, Protocol::All, None);
        narrow.destination = "10.0.2.0/24".parse().unwrap();
        assert!(!rule_matches(&narrow, &https));
        narrow.destination = "10.0.1.11/32".parse().unwrap();
        assert!(rule_matches(&narrow, &https));
        // An IPv6 CIDR never matches an IPv4 packet.
        narrow.destination = "::/0".parse().unwrap();
        assert!(!rule_matches(&narrow, &https));
        let mut sports = rule(1, true, tcp6, None);
        sports.source_ports = Some(PortRange {
            from: 1024,
            to: 65535,
        });
        assert!(rule_matches(&sports, &https));
        sports.source_ports = Some(PortRange { from: 1, to: 1023 });
        assert!(!rule_matches(&sports, &https));
    }

    #[test]
    fn vxlan_headers_are_exact() {
        let buf = tcp(443, 200);
        let e = Encap {
            src_mac: MacAddr([6, 0, 0, 0, 3, 1]),
            dst_mac: MacAddr([2, 0, 0, 0, 0, 4]),
            src_ip: Ipv4Addr::new(10, 0, 1, 11),
            dst_ip: Ipv4Addr::new(10, 0, 3, 30),
            vni: 0x0a0b0c,
            max_inner: Encap::max_inner(Some(100), 9001),
        };
        let mut out = vec![0xeeu8; 2048];
        let (len, truncated) = encapsulate(&mut out, &e, &buf, 0x1234, 50000).unwrap();
        assert!(truncated);
        assert_eq!(len, VNET_HDR_LEN + ENCAP_LEN + 100);
        let o = &out[..len];
        assert_eq!(&o[..VNET_HDR_LEN], &[0; VNET_HDR_LEN]);
        let f = &o[VNET_HDR_LEN..];
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 4], "outer dst: the target ENI");
        assert_eq!(&f[6..12], &[6, 0, 0, 0, 3, 1], "outer src: the router");
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        let ip = &f[14..34];
        let mut expect_ip = vec![
            0x45, 0, 0, 136, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 1, 11, 10, 0, 3, 30,
        ];
        let c = checksum(&expect_ip);
        expect_ip[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(ip, &expect_ip[..]);
        assert_eq!(checksum(ip), 0, "header checksum verifies");
        assert_eq!(
            &f[34..42],
            &[0xc3, 0x50, 0x12, 0xb5, 0, 116, 0, 0],
            "UDP 50000 → 4789, length 116, no checksum"
        );
        assert_eq!(&f[42..50], &[0x08, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0]);
        assert_eq!(&f[50..], &buf[VNET_HDR_LEN..VNET_HDR_LEN + 100]);
        // Cross-check with etherparse: UDP 4789 carrying 108 bytes.
        let p = etherparse::SlicedPacket::from_ethernet(f).unwrap();
        match p.transport {
            Some(etherparse::TransportSlice::Udp(u)) => {
                assert_eq!(u.destination_port(), 4789);
                assert_eq!(u.payload().len(), 108);
            }
            other => panic!("{other:?}"),
        }
        // Too small a buffer is refused, not a panic.
        assert!(encapsulate(&mut [0u8; 60], &e, &buf, 1, 1).is_none());
    }

    #[test]
    fn copies_fit_the_target_mtu_like_aws() {
        // AWS: 8947 bytes of IP packet go untruncated to a 9001 target; more are cut.
        assert_eq!(Encap::max_inner(None, 9001), 8947 + 14);
        assert_eq!(Encap::max_inner(Some(100), 9001), 100);
        assert_eq!(Encap::max_inner(Some(60_000), 1500), 1446 + 14);
        assert_eq!(
            Encap::max_inner(None, u32::MAX),
            65_535 - 36,
            "a 16-bit IP length"
        );
        let e = Encap {
            src_mac: MacAddr([6, 0, 0, 0, 3, 1]),
            dst_mac: MacAddr([2, 0, 0, 0, 0, 4]),
            src_ip: Ipv4Addr::new(10, 0, 1, 11),
            dst_ip: Ipv4Addr::new(10, 0, 3, 30),
            vni: 1,
            max_inner: Encap::max_inner(None, 9001),
        };
        let mut out = vec![0u8; 20_000];
        // An 8996-byte IP packet is cut; the outer packet fits 9001.
        let big = tcp(443, 8996 - 40);
        let (len, truncated) = encapsulate(&mut out, &e, &big, 1, 50000).unwrap();
        assert!(truncated);
        let outer_ip = len - VNET_HDR_LEN - 14;
        assert!(outer_ip <= 9001, "{outer_ip}");
        assert_eq!(len - VNET_HDR_LEN - ENCAP_LEN - 14, 8947);
        // An 8947-byte one is not.
        let fits = tcp(443, 8947 - 40);
        let (len, truncated) = encapsulate(&mut out, &e, &fits, 1, 50000).unwrap();
        assert!(!truncated);
        assert_eq!(len - VNET_HDR_LEN - ENCAP_LEN, fits.len() - VNET_HDR_LEN);
    }

    #[test]
    fn source_ports_are_dynamic_and_per_flow() {
        let a = meta(&tcp(443, 0)[VNET_HDR_LEN..]);
        let b = meta(&tcp(444, 0)[VNET_HDR_LEN..]);
        for m in [a, b] {
            assert!((49152..=65535).contains(&source_port(&m)));
        }
        assert_eq!(source_port(&a), source_port(&a));
        assert_ne!(source_port(&a), source_port(&b));
    }
}
