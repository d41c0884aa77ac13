//! ICMPv4 errors the VPC router emits (for example "fragmentation needed" when a packet
//! with DF set is too big for a 1500-byte hop) and IPv4 fragmentation of packets without
//! DF for such a hop.

use std::net::Ipv4Addr;

use super::checksum::checksum;
use super::ipv4::PROTO_ICMP;
use super::WireError;

/// ICMP type "destination unreachable".
pub const DEST_UNREACHABLE: u8 = 3;
/// Code "fragmentation needed and DF set" (with the next-hop MTU).
pub const CODE_FRAG_NEEDED: u8 = 4;
/// How much of the offending packet an error quotes at most (RFC 1812: the error stays
/// within 576 bytes).
pub const MAX_QUOTE: usize = 576 - 20 - 8;

/// Writes an IPv4 packet holding an ICMP error from `src` to `dst` into `out`, quoting
/// the start of the offending IPv4 packet `quoted`. `rest` is the second header word
/// (for "fragmentation needed": the next-hop MTU in its low 16 bits). Returns the length.
pub fn write_error(
    out: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    icmp_type: u8,
    code: u8,
    rest: u32,
    quoted: &[u8],
) -> Result<usize, WireError> {
    let q = quoted.len().min(MAX_QUOTE);
    let total = 20 + 8 + q;
    let out = out
        .get_mut(..total)
        .ok_or(WireError::Truncated("icmp error buffer"))?;
    out[0] = 0x45;
    out[1] = 0xc0; // DSCP CS6, as routers send control traffic
    out[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    out[4..8].fill(0); // id 0, no fragmentation flags
    out[8] = 64;
    out[9] = PROTO_ICMP;
    out[10..12].fill(0);
    out[12..16].copy_from_slice(&src.octets());
    out[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&out[..20]);
    out[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut out[20..];
    icmp[0] = icmp_type;
    icmp[1] = code;
    icmp[2..4].fill(0);
    icmp[4..8].copy_from_slice(&rest.to_be_bytes());
    icmp[8..8 + q].copy_from_slice(&quoted[..q]);
    let c = checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(total)
}

/// Splits the IPv4 packet `packet` (no DF, no GSO) into fragments of at most `mtu`
/// bytes, calling `emit` with each fragment built in `scratch` after `headroom` bytes
/// that the caller has filled (for example a `virtio_net_hdr` and an Ethernet header);
/// `emit` gets the headroom and the fragment. Fragments of an already fragmented packet
/// keep their offsets and the original More-Fragments flag on the last piece. Returns
/// the number of fragments.
pub fn fragment(
    packet: &[u8],
    mtu: usize,
    scratch: &mut [u8],
    headroom: usize,
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, WireError> {
    if packet.len() < 20 {
        return Err(WireError::Truncated("ipv4"));
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    if ihl < 20 || total < ihl {
        return Err(WireError::Invalid("ipv4 header length"));
    }
    let chunk = (mtu.saturating_sub(ihl)) & !7;
    if chunk == 0 {
        return Err(WireError::Invalid("mtu too small to fragment"));
    }
    let flags = u16::from_be_bytes([packet[6], packet[7]]);
    let payload = &packet[ihl..total];
    let mut n = 0;
    let mut off = 0;
    while off < payload.len() {
        let len = chunk.min(payload.len() - off);
        let last = off + len == payload.len();
        let out = scratch
            .get_mut(headroom..headroom + ihl + len)
            .ok_or(WireError::Truncated("fragment buffer"))?;
        out[..ihl].copy_from_slice(&packet[..ihl]);
        out[ihl..].copy_from_slice(&payload[off..off + len]);
        fragment_header(&mut out[..ihl], flags, off, len, last);
        emit(&scratch[..headroom + ihl + len]);
        n += 1;
        off += len;
    }
    Ok(n)
}

/// Turns the copy `ip` of the original IPv4 header (whose flags word was `flags`) into
/// the header of the fragment holding `len` bytes at `off` of the original payload.
fn fragment_header(ip: &mut [u8], flags: u16, off: usize, len: usize, last: bool) {
    let ihl = ip.len();
    let base = (flags & 0x1fff) as usize * 8;
    let mf = !last || flags & 0x2000 != 0;
    ip[2..4].copy_from_slice(&((ihl + len) as u16).to_be_bytes());
    let f = (((base + off) / 8) as u16) | if mf { 0x2000 } else { 0 };
    ip[6..8].copy_from_slice(&f.to_be_bytes());
    ip[10..12].fill(0);
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// The most bytes [`fragment_in_place`] keeps in front of each fragment: a
/// `virtio_net_hdr`, an Ethernet header with a VLAN tag, and a 60-byte IPv4 header.
const MAX_IN_PLACE_HEAD: usize = 10 + 18 + 60;

/// Like [`fragment`], without a second buffer: `buf` holds `headroom` bytes (for example
/// a `virtio_net_hdr` and an Ethernet header), then the IPv4 packet (no DF, no GSO).
/// Each fragment is built where its data already lies, by writing the headroom and the
/// IPv4 header in front of it, over data of fragments already emitted; `emit` gets the
/// headroom and the fragment. `buf` is clobbered. Used on a segment that software
/// segmentation ([`crate::engine::gso`]) built in the only spare buffer. Returns the
/// number of fragments.
pub fn fragment_in_place(
    buf: &mut [u8],
    headroom: usize,
    mtu: usize,
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, WireError> {
    let packet = buf.get(headroom..).ok_or(WireError::Truncated("ipv4"))?;
    if packet.len() < 20 {
        return Err(WireError::Truncated("ipv4"));
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    if ihl < 20 || total < ihl {
        return Err(WireError::Invalid("ipv4 header length"));
    }
    let head_len = headroom + ihl;
    if head_len > MAX_IN_PLACE_HEAD {
        return Err(WireError::Unsupported(
            "headroom for in-place fragmentation",
        ));
    }
    let chunk = (mtu.saturating_sub(ihl)) & !7;
    if chunk == 0 {
        return Err(WireError::Invalid("mtu too small to fragment"));
    }
    let mut head = [0u8; MAX_IN_PLACE_HEAD];
    head[..head_len].copy_from_slice(&buf[..head_len]);
    let flags = u16::from_be_bytes([head[headroom + 6], head[headroom + 7]]);
    let data_len = total - ihl;
    let mut n = 0;
    let mut off = 0;
    while off < data_len {
        let len = chunk.min(data_len - off);
        let last = off + len == data_len;
        // This fragment's data starts at `head_len + off`: its headers go right before,
        // over the tail of data already sent.
        let out = &mut buf[off..off + head_len + len];
        out[..head_len].copy_from_slice(&head[..head_len]);
        fragment_header(&mut out[headroom..head_len], flags, off, len, last);
        emit(out);
        n += 1;
        off += len;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp(len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        PacketBuilder::ipv4([10, 0, 0, 40], [203, 0, 113, 5], 64)
            .udp(5000, 6000)
            .write(&mut v, &payload)
            .unwrap();
        v
    }

    #[test]
    fn frag_needed_quotes_the_packet_and_parses() {
        let offending = udp(3000);
        let mut out = [0u8; 600];
        let n = write_error(
            &mut out,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 40),
            DEST_UNREACHABLE,
            CODE_FRAG_NEEDED,
            1500,
            &offending,
        )
        .unwrap();
        assert_eq!(n, 576);
        let p = etherparse::SlicedPacket::from_ip(&out[..n]).unwrap();
        let Some(etherparse::TransportSlice::Icmpv4(icmp)) = p.transport else {
            panic!("not icmp")
        };
        match icmp.icmp_type() {
            etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu },
            ) => assert_eq!(next_hop_mtu, 1500),
            t => panic!("{t:?}"),
        }
        assert_eq!(checksum(&out[20..n]), 0);
        assert_eq!(
            &out[28..48],
            &offending[..20],
            "quotes the offending header"
        );
    }

    #[test]
    fn fragments_reassemble_to_the_original() {
        let p = udp(4000);
        let mut scratch = vec![0u8; 2000];
        let mut frags: Vec<Vec<u8>> = Vec::new();
        let n = fragment(&p, 1500, &mut scratch, 0, |f| frags.push(f.to_vec())).unwrap();
        assert_eq!(n, 3);
        let mut data = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= 1500);
            assert_eq!(checksum(&f[..20]), 0);
            let flags = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(usize::from(flags & 0x1fff) * 8, data.len());
            assert_eq!(flags & 0x2000 != 0, i + 1 < frags.len());
            data.extend_from_slice(&f[20..]);
        }
        assert_eq!(data, &p[20..]);
        assert!(fragment(&p, 20, &mut scratch, 0, |_| {}).is_err());
    }

    #[test]
    fn in_place_fragments_equal_the_copied_ones() {
        let p = udp(4001);
        for headroom in [0, 24] {
            let mut scratch = vec![0u8; 2000];
            scratch[..headroom].fill(0xaa);
            let mut copied: Vec<Vec<u8>> = Vec::new();
            fragment(&p, 1500, &mut scratch, headroom, |f| {
                copied.push(f.to_vec())
            })
            .unwrap();
            let mut buf = vec![0xaa; headroom];
            buf.extend_from_slice(&p);
            let mut in_place: Vec<Vec<u8>> = Vec::new();
            let n =
                fragment_in_place(&mut buf, headroom, 1500, |f| in_place.push(f.to_vec())).unwrap();
            assert_eq!(n, 3);
            assert_eq!(in_place, copied, "headroom {headroom}");
        }
        let mut buf = udp(100);
        assert!(fragment_in_place(&mut buf, 0, 20, |_| {}).is_err());
        assert!(fragment_in_place(&mut buf[..10], 0, 1500, |_| {}).is_err());
        assert!(fragment_in_place(&mut buf, 100, 1500, |_| {}).is_err());
    }
}
