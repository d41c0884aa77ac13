//! One-pass parse of a frame into the metadata every pipeline stage reads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ethernet::{self, EthernetFrame};
use super::ipv4::{self, Ipv4Packet};
use super::{MacAddr, WireError};

/// What the pipeline knows about a frame after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// EtherType.
    pub ethertype: u16,
    /// The network layer.
    pub l3: L3,
}

/// The network layer of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3 {
    /// ARP (parsed by the router service when needed).
    Arp,
    /// IPv4 or IPv6.
    Ip(IpMeta),
    /// Any other EtherType.
    Other,
}

/// The IP header fields and L4 identifiers of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMeta {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol (IPv6: the first next-header).
    pub proto: u8,
    /// TTL or hop limit.
    pub ttl: u8,
    /// Offset of the L4 header from the start of the Ethernet frame.
    pub l4_offset: u16,
    /// TCP/UDP source port; ICMP echo identifier (it plays the port's part in connection
    /// tracking and NAT); 0 otherwise.
    pub src_port: u16,
    /// TCP/UDP destination port; 0 otherwise.
    pub dst_port: u16,
    /// ICMP (or ICMPv6) type and code; `None` for other protocols and for fragments after
    /// the first.
    pub icmp: Option<IcmpType>,
    /// A non-first fragment (no L4 header) or a first fragment with more to come.
    pub fragment: bool,
    /// A fragment after the first (no L4 header: it follows the first one's fate).
    pub later_fragment: bool,
    /// The IPv4 identification (fragments of one datagram share it).
    pub ip_id: u16,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
}

/// An ICMP message's type and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpType {
    /// The type (8: echo request, 0: echo reply, 3: destination unreachable, …).
    pub ty: u8,
    /// The code.
    pub code: u8,
}

impl IcmpType {
    /// Type and code as one word, `type << 8 | code` (flow keys and trace headers).
    #[inline]
    pub fn word(self) -> u16 {
        u16::from(self.ty) << 8 | u16::from(self.code)
    }
}

/// The IP and L4 identifiers quoted inside an ICMP error (the packet that caused it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// Quoted source.
    pub src: IpAddr,
    /// Quoted destination.
    pub dst: IpAddr,
    /// Quoted protocol.
    pub proto: u8,
    /// Quoted source port (ICMP echo: identifier).
    pub src_port: u16,
    /// Quoted destination port (ICMP echo: 0).
    pub dst_port: u16,
}

/// Whether an ICMPv4 type is an error that quotes the offending packet.
pub fn is_icmp_error(icmp_type: u8) -> bool {
    matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
}

/// The packet quoted by an ICMPv4 error in `frame` (an Ethernet frame), if it is one
/// and the quote holds at least the IP header and 8 bytes of L4 header.
pub fn icmp_error_quote(frame: &[u8], ip: &IpMeta) -> Option<Quoted> {
    let error = ip.icmp.is_some_and(|t| is_icmp_error(t.ty));
    if ip.proto != ipv4::PROTO_ICMP || ip.fragment || !error {
        return None;
    }
    let inner = frame.get(usize::from(ip.l4_offset) + 8..)?;
    if inner.len() < 28 || inner[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(inner[0] & 0x0f) * 4;
    // A quoted header shorter than 20 bytes is no IPv4 header: its "ports" would be read
    // from inside the IP header, which a sender can craft to match a tracked connection
    // (VPC-13). Not a quote.
    if ihl < 20 {
        return None;
    }
    let l4 = inner.get(ihl..ihl + 8)?;
    let proto = inner[9];
    let a = |o: usize| {
        IpAddr::V4(Ipv4Addr::new(
            inner[o],
            inner[o + 1],
            inner[o + 2],
            inner[o + 3],
        ))
    };
    let (src_port, dst_port) = match proto {
        ipv4::PROTO_TCP | ipv4::PROTO_UDP => (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
        ),
        ipv4::PROTO_ICMP if matches!(l4[0], 0 | 8) => (u16::from_be_bytes([l4[4], l4[5]]), 0),
        _ => (0, 0),
    };
    Some(Quoted {
        src: a(12),
        dst: a(16),
        proto,
        src_port,
        dst_port,
    })
}

impl IpMeta {
    /// The source as IPv4, if it is.
    pub fn src_v4(&self) -> Option<Ipv4Addr> {
        match self.src {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }

    /// The destination as IPv4, if it is.
    pub fn dst_v4(&self) -> Option<Ipv4Addr> {
        match self.dst {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }
}

/// Parses an Ethernet frame (without the `virtio_net_hdr`).
///
/// Never panics; a frame whose headers are cut short or inconsistent is an error, which
/// the engine counts as `malformed` and drops.
pub fn parse_frame(frame: &[u8]) -> Result<PacketMeta, WireError> {
    let eth = EthernetFrame::new_checked(frame)?;
    let ethertype = eth.ethertype();
    let l3 = match ethertype {
        ethernet::ETHERTYPE_ARP => L3::Arp,
        ethernet::ETHERTYPE_IPV4 => L3::Ip(parse_ipv4(eth.payload())?),
        ethernet::ETHERTYPE_IPV6 => L3::Ip(parse_ipv6(eth.payload())?),
        _ => L3::Other,
    };
    Ok(PacketMeta {
        dst_mac: eth.dst(),
        src_mac: eth.src(),
        ethertype,
        l3,
    })
}

fn parse_ipv4(b: &[u8]) -> Result<IpMeta, WireError> {
    let p = Ipv4Packet::new_checked(b)?;
    let frag_off = p.frag_offset();
    let fragment = frag_off != 0 || p.more_fragments();
    let hl = p.header_len();
    let (src_port, dst_port, tcp_flags, icmp) = if frag_off == 0 {
        l4_ids(p.protocol(), p.payload())?
    } else {
        (0, 0, 0, None)
    };
    Ok(IpMeta {
        src: IpAddr::V4(p.src()),
        dst: IpAddr::V4(p.dst()),
        proto: p.protocol(),
        ttl: p.ttl(),
        l4_offset: (ethernet::HEADER_LEN + hl) as u16,
        src_port,
        dst_port,
        icmp,
        fragment,
        later_fragment: frag_off != 0,
        ip_id: p.ident(),
        tcp_flags,
    })
}

fn parse_ipv6(b: &[u8]) -> Result<IpMeta, WireError> {
    if b.len() < 40 {
        return Err(WireError::Truncated("ipv6"));
    }
    if b[0] >> 4 != 6 {
        return Err(WireError::Invalid("ipv6 version"));
    }
    let plen = usize::from(u16::from_be_bytes([b[4], b[5]]));
    // A payload length of 0 is a jumbogram or a GSO super-frame; take what is there.
    let end = if plen == 0 { b.len() } else { 40 + plen };
    if end > b.len() {
        return Err(WireError::Truncated("ipv6 payload length"));
    }
    let addr = |o: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[o..o + 16]);
        Ipv6Addr::from(a)
    };
    let proto = b[6];
    let (src_port, dst_port, tcp_flags, icmp) =
        l4_ids(proto, &b[40..end]).unwrap_or((0, 0, 0, None));
    Ok(IpMeta {
        src: IpAddr::V6(addr(8)),
        dst: IpAddr::V6(addr(24)),
        proto,
        ttl: b[7],
        l4_offset: (ethernet::HEADER_LEN + 40) as u16,
        src_port,
        dst_port,
        icmp,
        fragment: proto == 44,
        later_fragment: false,
        ip_id: 0,
        tcp_flags,
    })
}

/// The L4 identifiers: ports (TCP/UDP) or the echo identifier (ICMP), the TCP flags, and
/// the ICMP type and code.
type L4Ids = (u16, u16, u8, Option<IcmpType>);

/// The [`L4Ids`] of an L4 header.
fn l4_ids(proto: u8, l4: &[u8]) -> Result<L4Ids, WireError> {
    match proto {
        ipv4::PROTO_TCP | ipv4::PROTO_UDP => {
            let min = if proto == ipv4::PROTO_TCP { 20 } else { 8 };
            if l4.len() < min {
                return Err(WireError::Truncated("tcp/udp header"));
            }
            Ok((
                u16::from_be_bytes([l4[0], l4[1]]),
                u16::from_be_bytes([l4[2], l4[3]]),
                if proto == ipv4::PROTO_TCP { l4[13] } else { 0 },
                None,
            ))
        }
        ipv4::PROTO_ICMP | ipv4::PROTO_ICMPV6 => {
            if l4.len() < 8 {
                return Err(WireError::Truncated("icmp header"));
            }
            let typ = l4[0];
            // Echo request/reply carry an identifier; errors and others do not.
            let id = match (proto, typ) {
                (ipv4::PROTO_ICMP, 0 | 8) | (ipv4::PROTO_ICMPV6, 128 | 129) => {
                    u16::from_be_bytes([l4[4], l4[5]])
                }
                _ => 0,
            };
            let icmp = IcmpType {
                ty: typ,
                code: l4[1],
            };
            Ok((id, 0, 0, Some(icmp)))
        }
        _ => Ok((0, 0, 0, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn build(b: etherparse::PacketBuilderStep<etherparse::UdpHeader>) -> Vec<u8> {
        let mut v = Vec::new();
        b.write(&mut v, b"x").unwrap();
        v
    }

    #[test]
    fn udp_ports() {
        let f = build(
            PacketBuilder::ethernet2(A, B)
                .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
                .udp(1234, 53),
        );
        let m = parse_frame(&f).unwrap();
        assert_eq!(m.src_mac, MacAddr(A));
        let L3::Ip(ip) = m.l3 else { panic!() };
        assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10)));
        assert_eq!((ip.proto, ip.src_port, ip.dst_port), (17, 1234, 53));
        assert_eq!(ip.l4_offset, 34);
        assert!(!ip.fragment);
    }

    #[test]
    fn tcp_and_icmp_ids() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
            .tcp(40000, 80, 1, 1000)
            .syn()
            .write(&mut f, &[])
            .unwrap();
        let L3::Ip(ip) = parse_frame(&f).unwrap().l3 else {
            panic!()
        };
        assert_eq!((ip.proto, ip.src_port, ip.dst_port), (6, 40000, 80));

        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 1, 10], [10, 0, 1, 1], 64)
            .icmpv4_echo_request(0x77, 1)
            .write(&mut f, b"ping")
            .unwrap();
        let L3::Ip(ip) = parse_frame(&f).unwrap().l3 else {
            panic!()
        };
        assert_eq!((ip.proto, ip.src_port, ip.dst_port), (1, 0x77, 0));
        assert_eq!(ip.icmp, Some(IcmpType { ty: 8, code: 0 }));
        assert_eq!(ip.icmp.map(IcmpType::word), Some(0x0800));
    }

    #[test]
    fn ipv6_and_arp_and_other() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv6([0xfe; 16], [0x20; 16], 64)
            .udp(1, 2)
            .write(&mut f, b"")
            .unwrap();
        let L3::Ip(ip) = parse_frame(&f).unwrap().l3 else {
            panic!()
        };
        assert!(ip.src.is_ipv6());
        assert_eq!((ip.src_port, ip.dst_port), (1, 2));

        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(parse_frame(&arp).unwrap().l3, L3::Arp);
        arp[12] = 0x88;
        assert_eq!(parse_frame(&arp).unwrap().l3, L3::Other);
    }

    #[test]
    fn truncated_l4_is_an_error_not_a_panic() {
        let f = build(
            PacketBuilder::ethernet2(A, B)
                .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
                .udp(1234, 53),
        );
        for cut in 0..f.len() {
            let _ = parse_frame(&f[..cut]);
        }
        assert!(parse_frame(&f[..14 + 20 + 4]).is_err());
    }
}
