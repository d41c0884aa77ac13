//! Flow steering: which of N forwarding workers owns a frame's flow.
//!
//! A worker owns a shard of the state (flow cache, connection tables, NAT translations),
//! so both directions of a connection must reach the same worker. The steering hash is
//! symmetric, and it reads only what no translation on the way changes for a flow:
//! the IP protocol and the unordered pair of L4 identifiers (TCP/UDP ports, the ICMP
//! echo identifier). Addresses are left out on purpose: the internet gateway rewrites
//! them (private ↔ public) and a reply must still land where its request was handled. A
//! NAT gateway, which rewrites the source port too, picks only ports that steer to the
//! worker that translates ([`steers_to`]).
//!
//! - ICMPv4 errors steer by the packet they quote (ports swapped, so the same worker as
//!   the connection they report on), read by the same parser the pipeline uses
//!   ([`crate::wire::icmp_error_quote`]); ICMPv6 errors steer by protocol alone (the
//!   pipeline forwards IPv4 only);
//! - fragments after the first carry no ports: the worker that saw the datagram's first
//!   fragment is remembered by the caller ([`Steer::LaterFragment`]);
//! - ARP, non-IP frames and packets without identifiers (other protocols) steer by
//!   protocol alone.

use crate::wire::{icmp_error_quote, IpMeta, PacketMeta, L3};

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    /// To the worker with this steering hash ([`worker_of`] maps it to a worker).
    Hash(u32),
    /// A fragment after the first: to wherever the first fragment of datagram
    /// (`src`, `dst`, `proto`, `ip_id`) went.
    LaterFragment,
}

/// The symmetric hash of a flow's protocol and unordered identifiers (`a`, `b`).
#[inline]
pub fn flow_hash(proto: u8, a: u16, b: u16) -> u32 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let x = (u64::from(proto) << 32) | (u64::from(lo) << 16) | u64::from(hi);
    // A 64-bit multiplicative mix (the golden ratio), folded: spreads neighbouring port
    // numbers over all workers.
    let m = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((m >> 32) ^ m) as u32
}

/// The worker (of `workers`) a hash goes to.
#[inline]
pub fn worker_of(hash: u32, workers: usize) -> usize {
    if workers <= 1 {
        0
    } else {
        ((u64::from(hash) * workers as u64) >> 32) as usize
    }
}

/// Whether a flow of `proto` between identifiers `a` and `b` steers to `worker` of
/// `workers` (a NAT gateway picks its public ports with it).
#[inline]
pub fn steers_to(proto: u8, a: u16, b: u16, worker: usize, workers: usize) -> bool {
    worker_of(flow_hash(proto, a, b), workers) == worker
}

/// Where the frame `frame` (without its `virtio_net_hdr`), parsed as `meta`, goes.
pub fn steer(meta: &PacketMeta, frame: &[u8]) -> Steer {
    match meta.l3 {
        L3::Ip(ip) if ip.later_fragment => Steer::LaterFragment,
        L3::Ip(ip) => Steer::Hash(ip_hash(&ip, frame)),
        L3::Arp | L3::Other => Steer::Hash(flow_hash(0, 0, 0)),
    }
}

fn ip_hash(ip: &IpMeta, frame: &[u8]) -> u32 {
    match icmp_error_quote(frame, ip) {
        Some(q) => flow_hash(q.proto, q.src_port, q.dst_port),
        None => flow_hash(ip.proto, ip.src_port, ip.dst_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_frame;
    use etherparse::PacketBuilder;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut v, b"payload")
            .unwrap();
        v
    }

    fn steer_of(f: &[u8]) -> Steer {
        steer(&parse_frame(f).unwrap(), f)
    }

    #[test]
    fn both_directions_and_translated_addresses_steer_alike() {
        let out = steer_of(&udp([10, 0, 1, 10], [10, 0, 2, 20], 40_000, 53));
        let back = steer_of(&udp([10, 0, 2, 20], [10, 0, 1, 10], 53, 40_000));
        assert_eq!(out, back);
        // The same flow after the internet gateway's 1:1 translation.
        let public = steer_of(&udp([203, 0, 113, 5], [198, 51, 100, 7], 53, 40_000));
        assert_eq!(out, public);
        let other = steer_of(&udp([10, 0, 1, 10], [10, 0, 2, 20], 40_001, 53));
        assert_ne!(out, other, "another port, another hash");
    }

    #[test]
    fn flows_spread_over_workers() {
        for workers in [2usize, 4, 16] {
            let mut count = vec![0u32; workers];
            for port in 32_768..(32_768 + 16_000u16) {
                count[worker_of(flow_hash(6, port, 5201), workers)] += 1;
            }
            let even = 16_000 / workers as u32;
            for c in &count {
                assert!(
                    (*c as f64 - even as f64).abs() < even as f64 * 0.1,
                    "{workers} workers: {count:?}"
                );
            }
        }
        assert_eq!(worker_of(u32::MAX, 1), 0);
        assert_eq!(worker_of(u32::MAX, 4), 3);
    }

    #[test]
    fn a_nat_gateway_can_pick_a_port_for_any_worker() {
        for w in 0..4 {
            let port = (1024..=65_535u16)
                .find(|&p| steers_to(17, p, 53, w, 4))
                .unwrap();
            assert_eq!(worker_of(flow_hash(17, 53, port), 4), w);
        }
    }

    #[test]
    fn icmp_errors_steer_like_the_connection_they_quote() {
        // A UDP datagram from 10.0.1.10:40000 to 10.0.2.20:53, then the port unreachable
        // that 10.0.2.20 sends back quoting it.
        let original = udp([10, 0, 1, 10], [10, 0, 2, 20], 40_000, 53);
        let quoted = &original[14..14 + 28];
        let mut err = Vec::new();
        PacketBuilder::ethernet2(B, A)
            .ipv4([10, 0, 2, 20], [10, 0, 1, 10], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut err, quoted)
            .unwrap();
        assert_eq!(steer_of(&err), steer_of(&original));
        // Echo request and reply share the identifier.
        let mut req = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
            .icmpv4_echo_request(0x77, 1)
            .write(&mut req, b"ping")
            .unwrap();
        let mut rep = Vec::new();
        PacketBuilder::ethernet2(B, A)
            .ipv4([10, 0, 2, 20], [10, 0, 1, 10], 64)
            .icmpv4_echo_reply(0x77, 1)
            .write(&mut rep, b"ping")
            .unwrap();
        assert_eq!(steer_of(&req), steer_of(&rep));
    }

    #[test]
    fn later_fragments_follow_their_first() {
        let mut f = udp([10, 0, 1, 10], [10, 0, 2, 20], 1, 2);
        // Fragment offset 8 (64 bytes) on the IPv4 header; the checksum is not checked here.
        f[14 + 6] = 0;
        f[14 + 7] = 8;
        assert_eq!(steer_of(&f), Steer::LaterFragment);
    }

    #[test]
    fn a_truncated_quote_steers_by_the_error_itself() {
        let original = udp([10, 0, 1, 10], [10, 0, 2, 20], 40_000, 53);
        let mut err = Vec::new();
        PacketBuilder::ethernet2(B, A)
            .ipv4([10, 0, 2, 20], [10, 0, 1, 10], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut err, &original[14..14 + 20])
            .unwrap();
        assert_eq!(steer_of(&err), Steer::Hash(flow_hash(1, 0, 0)));
    }
}
