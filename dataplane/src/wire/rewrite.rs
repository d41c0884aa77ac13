//! Header rewrites for NAT (internet gateway 1:1 NAT, NAT gateway SNAT): addresses and
//! ports of IPv4 packets with their checksums kept right, the way the kernel does it
//! (`inet_proto_csum_replace4` in net/core/utils.c):
//!
//! - the IPv4 header checksum is always updated incrementally (RFC 1624);
//! - on a frame whose `virtio_net_hdr` says `NEEDS_CSUM` (*partial*), the TCP/UDP
//!   checksum field holds the folded pseudo-header sum, not a checksum: an address change
//!   adjusts it by the difference, a port change leaves it alone (the final checksum is
//!   computed later over the rewritten header);
//! - otherwise both are RFC 1624 updates of the final checksum, and a UDP checksum of 0
//!   (none) stays 0.

use std::net::Ipv4Addr;

use super::checksum::fold;
use super::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use super::WireError;

/// Which end of the packet to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The source.
    Src,
    /// The destination.
    Dst,
}

/// Adds the 32-bit difference `old → new` to a one's-complement sum.
fn adjust(acc: u32, old: u32, new: u32) -> u32 {
    let words = |v: u32| [(v >> 16) as u16, v as u16];
    let mut acc = acc;
    for (o, n) in words(old).into_iter().zip(words(new)) {
        acc = acc.wrapping_add(u32::from(!o)).wrapping_add(u32::from(n));
    }
    acc
}

/// RFC 1624 update of a final checksum for a 32-bit field change.
fn update_final(check: u16, old: u32, new: u32) -> u16 {
    !fold(adjust(u32::from(!check), old, new))
}

/// Update of a partial (pseudo-header) checksum for a 32-bit field change: the field
/// holds a non-complemented folded sum.
fn update_partial(check: u16, old: u32, new: u32) -> u16 {
    fold(adjust(u32::from(check), old, new))
}

fn get16(b: &[u8], o: usize) -> Result<u16, WireError> {
    b.get(o..o + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(WireError::Truncated("rewrite"))
}

fn put16(b: &mut [u8], o: usize, v: u16) -> Result<(), WireError> {
    b.get_mut(o..o + 2)
        .ok_or(WireError::Truncated("rewrite"))?
        .copy_from_slice(&v.to_be_bytes());
    Ok(())
}

/// Offset of the L4 checksum field from the start of the L4 header, for protocols whose
/// checksum covers the IPv4 pseudo-header.
fn pseudo_csum_offset(proto: u8) -> Option<usize> {
    match proto {
        PROTO_TCP => Some(16),
        PROTO_UDP => Some(6),
        _ => None,
    }
}

/// Rewrites the source or destination address of the IPv4 packet at `ip` (the slice
/// starts at the IPv4 header). `partial`: the frame's L4 checksum is a partial one
/// (`NEEDS_CSUM`). Returns the old address.
pub fn set_ipv4_addr(
    ip: &mut [u8],
    end: End,
    new: Ipv4Addr,
    partial: bool,
) -> Result<Ipv4Addr, WireError> {
    if ip.len() < 20 {
        return Err(WireError::Truncated("ipv4"));
    }
    let at = match end {
        End::Src => 12,
        End::Dst => 16,
    };
    let old = Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]);
    let (o, n) = (u32::from(old), u32::from(new));
    ip[at..at + 4].copy_from_slice(&new.octets());
    let hc = get16(ip, 10)?;
    put16(ip, 10, update_final(hc, o, n))?;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let first_fragment = u16::from_be_bytes([ip[6] & 0x1f, ip[7]]) == 0;
    if let (Some(off), true) = (pseudo_csum_offset(ip[9]), first_fragment) {
        let at = ihl + off;
        if ip.len() >= at + 2 {
            let c = get16(ip, at)?;
            let c = if partial {
                update_partial(c, o, n)
            } else if ip[9] == PROTO_UDP && c == 0 {
                0
            } else {
                let u = update_final(c, o, n);
                // A UDP checksum that computes to 0 is sent as 0xffff.
                if ip[9] == PROTO_UDP && u == 0 {
                    0xffff
                } else {
                    u
                }
            };
            put16(ip, at, c)?;
        }
    }
    Ok(old)
}

/// Rewrites the TCP/UDP source or destination port, or the ICMP echo identifier (`end`
/// is ignored for ICMP), of the IPv4 packet at `ip`. Returns the old value.
pub fn set_l4_id(ip: &mut [u8], end: End, new: u16, partial: bool) -> Result<u16, WireError> {
    if ip.len() < 20 {
        return Err(WireError::Truncated("ipv4"));
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let proto = ip[9];
    let (field, csum) = match proto {
        PROTO_TCP | PROTO_UDP => (
            ihl + if end == End::Src { 0 } else { 2 },
            pseudo_csum_offset(proto).map(|o| ihl + o),
        ),
        PROTO_ICMP => (ihl + 4, Some(ihl + 2)),
        _ => return Err(WireError::Unsupported("protocol without ports")),
    };
    let old = get16(ip, field)?;
    put16(ip, field, new)?;
    if let Some(at) = csum {
        let c = get16(ip, at)?;
        // A partial TCP/UDP checksum does not cover ports yet; ICMP is never partial.
        let skip = (partial && proto != PROTO_ICMP) || (proto == PROTO_UDP && c == 0);
        if !skip {
            let u = !fold(
                u32::from(!c)
                    .wrapping_add(u32::from(!old))
                    .wrapping_add(u32::from(new)),
            );
            put16(
                ip,
                at,
                if proto == PROTO_UDP && u == 0 {
                    0xffff
                } else {
                    u
                },
            )?;
        }
    }
    Ok(old)
}

/// Rewrites an address of the packet quoted inside the ICMPv4 error at `ip` (the outer
/// IPv4 header), keeping the quoted header's checksum and the ICMP checksum right, as a
/// NAT must for errors about translated packets (RFC 5508). Returns the old address.
pub fn set_quoted_ipv4_addr(ip: &mut [u8], end: End, new: Ipv4Addr) -> Result<Ipv4Addr, WireError> {
    let ihl = usize::from(*ip.first().ok_or(WireError::Truncated("ipv4"))? & 0x0f) * 4;
    let inner = ihl + 8;
    let at = inner
        + match end {
            End::Src => 12,
            End::Dst => 16,
        };
    let old_bytes: [u8; 4] = ip
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .ok_or(WireError::Truncated("quoted ipv4"))?;
    let old = Ipv4Addr::from(old_bytes);
    let (o, n) = (u32::from(old), u32::from(new));
    ip[at..at + 4].copy_from_slice(&new.octets());
    let old_hc = get16(ip, inner + 10)?;
    let new_hc = update_final(old_hc, o, n);
    put16(ip, inner + 10, new_hc)?;
    // The ICMP checksum covers the quoted bytes: every change.
    let c = get16(ip, ihl + 2)?;
    let c = update_final(c, o, n);
    let mut c = !fold(
        u32::from(!c)
            .wrapping_add(u32::from(!old_hc))
            .wrapping_add(u32::from(new_hc)),
    );
    // The quoted TCP/UDP checksum covers the address through the pseudo-header, when
    // the quote holds it (UDP "no checksum" stays).
    let inner_ihl = usize::from(ip[inner] & 0x0f) * 4;
    let proto = ip[inner + 9];
    if let Some(off) = pseudo_csum_offset(proto) {
        let at = inner + inner_ihl + off;
        if ip.len() >= at + 2 {
            let qc = get16(ip, at)?;
            if !(proto == PROTO_UDP && qc == 0) {
                let nq = update_final(qc, o, n);
                put16(ip, at, nq)?;
                c = !fold(
                    u32::from(!c)
                        .wrapping_add(u32::from(!qc))
                        .wrapping_add(u32::from(nq)),
                );
            }
        }
    }
    put16(ip, ihl + 2, c)?;
    Ok(old)
}

/// Rewrites the TCP/UDP port (`end`) or the ICMP echo identifier of the packet quoted
/// inside the ICMPv4 error at `ip`, keeping the quoted L4 checksum (when the quote holds
/// it and it is not a UDP "no checksum") and the ICMP checksum right. Returns the old
/// value.
pub fn set_quoted_l4_id(ip: &mut [u8], end: End, new: u16) -> Result<u16, WireError> {
    let ihl = usize::from(*ip.first().ok_or(WireError::Truncated("ipv4"))? & 0x0f) * 4;
    let inner = ihl + 8;
    let b0 = *ip.get(inner).ok_or(WireError::Truncated("quoted ipv4"))?;
    let inner_l4 = inner + usize::from(b0 & 0x0f) * 4;
    let proto = *ip
        .get(inner + 9)
        .ok_or(WireError::Truncated("quoted ipv4"))?;
    let (field, csum) = match proto {
        PROTO_TCP | PROTO_UDP => (
            inner_l4 + if end == End::Src { 0 } else { 2 },
            pseudo_csum_offset(proto).map(|o| inner_l4 + o),
        ),
        PROTO_ICMP => (inner_l4 + 4, Some(inner_l4 + 2)),
        _ => return Err(WireError::Unsupported("quoted protocol without ports")),
    };
    let old = get16(ip, field)?;
    put16(ip, field, new)?;
    let icmp_csum = ihl + 2;
    let mut c = get16(ip, icmp_csum)?;
    c = !fold(
        u32::from(!c)
            .wrapping_add(u32::from(!old))
            .wrapping_add(u32::from(new)),
    );
    // The quoted L4 checksum, when the quote holds it.
    if let Some(at) = csum.filter(|&at| ip.len() >= at + 2) {
        let qc = get16(ip, at)?;
        if !(proto == PROTO_UDP && qc == 0) {
            let nq = !fold(
                u32::from(!qc)
                    .wrapping_add(u32::from(!old))
                    .wrapping_add(u32::from(new)),
            );
            put16(ip, at, nq)?;
            c = !fold(
                u32::from(!c)
                    .wrapping_add(u32::from(!qc))
                    .wrapping_add(u32::from(nq)),
            );
        }
    }
    put16(ip, icmp_csum, c)?;
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::{checksum, sum};
    use etherparse::PacketBuilder;

    fn tcp() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, 1, 10], [203, 0, 113, 5], 64)
            .tcp(40000, 443, 7, 1000)
            .ack(9)
            .write(&mut v, b"some payload bytes")
            .unwrap();
        v
    }

    fn udp(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, 1, 10], [203, 0, 113, 5], 64)
            .udp(33000, 53)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    /// The L4 checksum over pseudo-header and segment (0 when correct).
    fn l4_verify(ip: &[u8]) -> u16 {
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let len = ip.len() - ihl;
        let mut acc = sum(0, &ip[12..20]);
        acc = acc.wrapping_add(u32::from(ip[9])).wrapping_add(len as u32);
        !fold(sum(acc, &ip[ihl..]))
    }

    #[test]
    fn address_and_port_rewrite_keep_final_checksums_valid() {
        for mut p in [tcp(), udp(b"query")] {
            assert_eq!(l4_verify(&p), 0);
            let old =
                set_ipv4_addr(&mut p, End::Src, Ipv4Addr::new(198, 51, 100, 40), false).unwrap();
            assert_eq!(old, Ipv4Addr::new(10, 0, 1, 10));
            set_l4_id(&mut p, End::Src, 1024, false).unwrap();
            set_ipv4_addr(&mut p, End::Dst, Ipv4Addr::new(192, 0, 2, 9), false).unwrap();
            assert_eq!(checksum(&p[..20]), 0, "IPv4 header checksum");
            assert_eq!(l4_verify(&p), 0, "L4 checksum");
            let h = etherparse::SlicedPacket::from_ip(&p).unwrap();
            match h.transport {
                Some(etherparse::TransportSlice::Tcp(t)) => assert_eq!(t.source_port(), 1024),
                Some(etherparse::TransportSlice::Udp(u)) => assert_eq!(u.source_port(), 1024),
                _ => panic!(),
            }
        }
    }

    #[test]
    fn udp_without_checksum_stays_without() {
        let mut p = udp(b"x");
        p[26] = 0;
        p[27] = 0;
        set_ipv4_addr(&mut p, End::Src, Ipv4Addr::new(198, 51, 100, 40), false).unwrap();
        set_l4_id(&mut p, End::Src, 2000, false).unwrap();
        assert_eq!((p[26], p[27]), (0, 0));
        assert_eq!(checksum(&p[..20]), 0);
    }

    #[test]
    fn partial_checksum_adjusts_for_addresses_not_ports() {
        // What the kernel hands us with NEEDS_CSUM: the field holds the folded
        // pseudo-header sum; whoever completes it sums the segment from csum_start.
        let mut p = tcp();
        let ihl = 20;
        let len = (p.len() - ihl) as u32;
        let pseudo = |p: &[u8]| {
            fold(
                sum(0, &p[12..20])
                    .wrapping_add(u32::from(p[9]))
                    .wrapping_add(len),
            )
        };
        let field = pseudo(&p);
        p[ihl + 16..ihl + 18].copy_from_slice(&field.to_be_bytes());
        set_ipv4_addr(&mut p, End::Src, Ipv4Addr::new(198, 51, 100, 40), true).unwrap();
        set_l4_id(&mut p, End::Src, 5555, true).unwrap();
        // The field must equal the pseudo-header sum of the rewritten packet...
        assert_eq!(u16::from_be_bytes([p[ihl + 16], p[ihl + 17]]), pseudo(&p));
        // ...so completing it (sum of the segment with the field as is) gives a valid one.
        let done = !fold(sum(0, &p[ihl..]));
        p[ihl + 16..ihl + 18].copy_from_slice(&done.to_be_bytes());
        assert_eq!(l4_verify(&p), 0);
    }

    #[test]
    fn icmp_echo_identifier_rewrite() {
        let mut p = Vec::new();
        PacketBuilder::ipv4([10, 0, 1, 10], [203, 0, 113, 5], 64)
            .icmpv4_echo_request(77, 3)
            .write(&mut p, b"ping")
            .unwrap();
        assert_eq!(set_l4_id(&mut p, End::Src, 1234, false).unwrap(), 77);
        set_ipv4_addr(&mut p, End::Src, Ipv4Addr::new(198, 51, 100, 40), false).unwrap();
        assert_eq!(checksum(&p[20..]), 0, "ICMP checksum (no pseudo-header)");
        assert_eq!(checksum(&p[..20]), 0);
    }

    #[test]
    fn quoted_address_rewrite_keeps_both_checksums() {
        let offending = udp(b"query");
        let mut err = vec![0u8; 600];
        let n = crate::wire::icmp::write_error(
            &mut err,
            Ipv4Addr::new(203, 0, 113, 5),
            Ipv4Addr::new(198, 51, 100, 40),
            3,
            3,
            0,
            &offending,
        )
        .unwrap();
        err.truncate(n);
        let old = set_quoted_ipv4_addr(&mut err, End::Src, Ipv4Addr::new(192, 168, 9, 9)).unwrap();
        assert_eq!(old, Ipv4Addr::new(10, 0, 1, 10));
        assert_eq!(checksum(&err[20..]), 0, "ICMP checksum");
        assert_eq!(checksum(&err[28..48]), 0, "quoted header checksum");
        assert_eq!(&err[40..44], &[192, 168, 9, 9]);
    }

    #[test]
    fn short_input_is_an_error() {
        assert!(set_ipv4_addr(&mut [0u8; 19], End::Src, Ipv4Addr::LOCALHOST, false).is_err());
        let mut p = tcp();
        p.truncate(25);
        assert!(set_l4_id(&mut p, End::Src, 1, false).is_err());
    }

    #[test]
    fn quoted_port_rewrite_keeps_icmp_and_quoted_checksums_valid() {
        // A port unreachable from 203.0.113.5 about a UDP datagram 198.51.100.7:1024 → :53.
        let mut quoted = Vec::new();
        PacketBuilder::ipv4([198, 51, 100, 7], [203, 0, 113, 5], 64)
            .udp(1024, 53)
            .write(&mut quoted, b"query payload")
            .unwrap();
        let mut p = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 5], [198, 51, 100, 7], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut p, &quoted)
            .unwrap();
        assert_eq!(checksum(&p[20..]), 0);
        set_quoted_ipv4_addr(&mut p, End::Src, Ipv4Addr::new(10, 0, 0, 220)).unwrap();
        let old = set_quoted_l4_id(&mut p, End::Src, 40000).unwrap();
        assert_eq!(old, 1024);
        assert_eq!(checksum(&p[20..]), 0, "ICMP checksum");
        let inner = &p[28..];
        assert_eq!(checksum(&inner[..20]), 0, "quoted IPv4 header checksum");
        assert_eq!(
            l4_verify(inner),
            0,
            "quoted UDP checksum (whole datagram quoted)"
        );
        assert_eq!(u16::from_be_bytes([inner[20], inner[21]]), 40000);
    }
}
