//! Software TCP segmentation (TSO in software) of an IPv4 GSO super-frame, for an egress
//! that cannot take the super-frame whole: the internet gateway's 1500-byte uplink when a
//! super-frame's segments are themselves bigger than the hop (DF clear), where Linux's
//! `ip_finish_output_gso` segments and then fragments each segment.
//!
//! Hand-written because no crate does this on a byte buffer that starts with a
//! `virtio_net_hdr`: `etherparse` and `smoltcp` parse and build headers but do not split
//! an offloaded frame (with a partial pseudo-header checksum) into wire segments, and the
//! kernel's `tcp_gso_segment` works on `sk_buff`s. The rules follow `tcp_gso_segment`
//! (net/ipv4/tcp_offload.c) and `inet_gso_segment` (net/ipv4/af_inet.c): every segment
//! gets a copy of the headers, its own IPv4 total length, an IPv4 id incremented per
//! segment, a fresh header checksum, a sequence number advanced by the payload before it,
//! FIN and PSH only on the last segment, CWR only on the first, and a full TCP checksum
//! (the partial one of `NEEDS_CSUM` is discarded, not completed).

use super::super::wire::checksum::{fold, sum};
use super::super::wire::ethernet::HEADER_LEN;
use super::super::wire::ipv4::PROTO_TCP;
use super::super::wire::vnet::{VnetHdr, GSO_ECN, GSO_TCPV4, VNET_HDR_LEN};
use super::super::wire::WireError;

/// TCP flag bits `segment` treats per segment (byte 13 of the TCP header).
const FIN: u8 = 0x01;
/// Push: only on the last segment.
const PSH: u8 = 0x08;
/// Congestion window reduced: only on the first segment.
const CWR: u8 = 0x80;

/// Splits the TCP-over-IPv4 GSO super-frame `frame` (its `virtio_net_hdr`, an Ethernet
/// header, IPv4, TCP, payload) into segments of `gso_size` payload bytes, each built in
/// `scratch` as a complete frame with a zeroed `virtio_net_hdr` (no offload left to the
/// device) and handed to `emit`, which may change it in place (fragment it, for example).
/// Returns the number of segments. Header lengths come from the headers themselves, not
/// from `hdr_len` (the kernel sets that to the linear part, which may hold payload too).
///
/// Errors, never panics, on: a frame that is not GSO TCPv4, `gso_size` 0, a non-IPv4 or
/// non-TCP packet, an IPv4 fragment, header lengths or total length past the frame, or a
/// `scratch` too small for one segment.
pub fn segment(
    frame: &[u8],
    scratch: &mut [u8],
    mut emit: impl FnMut(&mut [u8]),
) -> Result<usize, WireError> {
    let vnet = VnetHdr::parse(frame)?;
    if vnet.gso_type & !GSO_ECN != GSO_TCPV4 {
        return Err(WireError::Unsupported("gso type (not TCPv4)"));
    }
    let mss = usize::from(vnet.gso_size);
    if mss == 0 {
        return Err(WireError::Invalid("gso_size 0"));
    }
    if usize::from(vnet.hdr_len) > frame.len() - VNET_HDR_LEN {
        return Err(WireError::Truncated("gso hdr_len past the frame"));
    }
    let l3 = VNET_HDR_LEN + HEADER_LEN;
    let eth = frame
        .get(VNET_HDR_LEN..l3)
        .ok_or(WireError::Truncated("ethernet"))?;
    if eth[12..14] != [0x08, 0x00] {
        return Err(WireError::Unsupported("gso ethertype (not IPv4)"));
    }
    let ip = frame.get(l3..).ok_or(WireError::Truncated("ipv4"))?;
    if ip.len() < 20 {
        return Err(WireError::Truncated("ipv4"));
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 {
        return Err(WireError::Invalid("ipv4 version or header length"));
    }
    if ip[9] != PROTO_TCP {
        return Err(WireError::Unsupported("gso protocol (not TCP)"));
    }
    if ip[6] & 0x3f != 0 || ip[7] != 0 {
        return Err(WireError::Invalid("gso of an ipv4 fragment"));
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp_off = ip.get(ihl + 12).ok_or(WireError::Truncated("tcp header"))?;
    let thl = usize::from(tcp_off >> 4) * 4;
    let hdrs = ihl + thl;
    if thl < 20 || total < hdrs || total > ip.len() {
        return Err(WireError::Truncated("tcp header or ipv4 total length"));
    }
    let (head, payload) = ip[..total].split_at(hdrs);
    let out_head = l3 + hdrs;
    if scratch.len() < out_head + mss.min(payload.len()) {
        return Err(WireError::Truncated("segment buffer"));
    }
    let ip_id = u16::from_be_bytes([head[4], head[5]]);
    let seq = u32::from_be_bytes([head[ihl + 4], head[ihl + 5], head[ihl + 6], head[ihl + 7]]);
    let flags = head[ihl + 13];
    // The pseudo-header's addresses and protocol, the same for every segment.
    let pseudo = sum(0, &head[12..20]).wrapping_add(u32::from(PROTO_TCP));
    let count = payload.len().div_ceil(mss).max(1);
    for (i, chunk) in (0..count).map(|i| {
        let start = i * mss;
        (i, &payload[start..payload.len().min(start + mss)])
    }) {
        let len = hdrs + chunk.len();
        let out = &mut scratch[..l3 + len];
        out[..VNET_HDR_LEN].fill(0);
        out[VNET_HDR_LEN..l3].copy_from_slice(eth);
        out[l3..out_head].copy_from_slice(head);
        out[out_head..].copy_from_slice(chunk);
        let ip = &mut out[l3..];
        ip[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&ip_id.wrapping_add(i as u16).to_be_bytes());
        ip[10..12].fill(0);
        let c = !fold(sum(0, &ip[..ihl]));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let tcp = &mut ip[ihl..];
        let s = seq.wrapping_add((i * mss) as u32);
        tcp[4..8].copy_from_slice(&s.to_be_bytes());
        let mut f = flags;
        if i > 0 {
            f &= !CWR;
        }
        if i + 1 < count {
            f &= !(FIN | PSH);
        }
        tcp[13] = f;
        tcp[16..18].fill(0);
        let c = !fold(sum(pseudo.wrapping_add(tcp.len() as u32), tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        emit(out);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vnet::F_NEEDS_CSUM;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    const SRC: [u8; 4] = [10, 0, 1, 10];
    const DST: [u8; 4] = [203, 0, 113, 5];

    /// A super-frame of `payload` bytes with `gso_size` `mss`, PSH|FIN|CWR|ACK set, its
    /// TCP checksum left partial (the pseudo-header sum) when `partial`.
    fn super_frame(payload: &[u8], mss: u16, partial: bool) -> Vec<u8> {
        let mut f = vec![0u8; VNET_HDR_LEN];
        let mut ip =
            etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::TCP, SRC, DST).unwrap();
        ip.identification = 0xfffe;
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
            .tcp(40000, 443, 0xffff_f000, 64000)
            .ack(7)
            .psh()
            .fin()
            .cwr()
            .write(&mut f, payload)
            .unwrap();
        let at = VNET_HDR_LEN + HEADER_LEN + 20 + 16;
        if partial {
            let tcp_len = f.len() - VNET_HDR_LEN - HEADER_LEN - 20;
            let p = fold(
                sum(0, &SRC)
                    .wrapping_add(sum(0, &DST))
                    .wrapping_add(6)
                    .wrapping_add(tcp_len as u32),
            );
            f[at..at + 2].copy_from_slice(&p.to_be_bytes());
        }
        VnetHdr {
            flags: if partial { F_NEEDS_CSUM } else { 0 },
            gso_type: GSO_TCPV4,
            hdr_len: 54,
            gso_size: mss,
            csum_start: 34,
            csum_offset: 16,
        }
        .emit(&mut f)
        .unwrap();
        f
    }

    fn run(f: &[u8]) -> Result<Vec<Vec<u8>>, WireError> {
        let mut scratch = vec![0u8; 70_000];
        let mut out = Vec::new();
        let n = segment(f, &mut scratch, |s| out.push(s.to_vec()))?;
        assert_eq!(n, out.len());
        Ok(out)
    }

    /// Checks every segment (parses, checksums verify, headers per segment) and returns
    /// the payloads concatenated.
    fn check(segs: &[Vec<u8>], mss: usize) -> Vec<u8> {
        let mut data = Vec::new();
        let mut seq = 0xffff_f000u32;
        for (i, s) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            assert!(s[..VNET_HDR_LEN].iter().all(|&b| b == 0), "no offload left");
            let p = SlicedPacket::from_ethernet(&s[VNET_HDR_LEN..]).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
                panic!("not ipv4")
            };
            let iph = ip.header().to_header();
            assert_eq!(iph.calc_header_checksum(), iph.header_checksum);
            assert_eq!(iph.identification, 0xfffeu16.wrapping_add(i as u16));
            assert_eq!(usize::from(iph.total_len), s.len() - VNET_HDR_LEN - 14);
            let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
                panic!("not tcp")
            };
            let th = tcp.to_header();
            assert_eq!(
                th.calc_checksum_ipv4(&iph, tcp.payload()).unwrap(),
                th.checksum,
                "segment {i}"
            );
            assert_eq!(th.sequence_number, seq, "contiguous");
            assert_eq!(th.acknowledgment_number, 7);
            assert!(th.ack);
            assert_eq!((th.fin, th.psh), (last, last), "segment {i}");
            assert_eq!(th.cwr, i == 0, "segment {i}");
            if !last {
                assert_eq!(tcp.payload().len(), mss);
            }
            seq = seq.wrapping_add(tcp.payload().len() as u32);
            data.extend_from_slice(tcp.payload());
        }
        data
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn three_segments_partial_and_complete_checksum() {
        for partial in [true, false] {
            let p = payload(3 * 1448);
            let segs = run(&super_frame(&p, 1448, partial)).unwrap();
            assert_eq!(segs.len(), 3);
            for s in &segs {
                assert_eq!(s.len(), VNET_HDR_LEN + 14 + 40 + 1448);
            }
            assert_eq!(check(&segs, 1448), p, "partial {partial}");
        }
    }

    #[test]
    fn odd_last_segment_and_sequence_wrap() {
        let p = payload(2 * 1000 + 333);
        let segs = run(&super_frame(&p, 1000, true)).unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[2].len(), VNET_HDR_LEN + 14 + 40 + 333);
        assert_eq!(check(&segs, 1000), p);
        // Sequence numbers cross 2^32 (start 0xffff_f000) and the id wraps.
        let p = payload(20_000);
        let segs = run(&super_frame(&p, 1460, false)).unwrap();
        assert_eq!(segs.len(), 14);
        assert_eq!(check(&segs, 1460), p);
    }

    #[test]
    fn one_segment_and_empty_payload() {
        let p = payload(100);
        let segs = run(&super_frame(&p, 1448, true)).unwrap();
        assert_eq!(check(&segs, 1448), p);
        let segs = run(&super_frame(&[], 1448, true)).unwrap();
        assert_eq!(segs.len(), 1);
        assert_eq!(check(&segs, 1448), Vec::<u8>::new());
    }

    #[test]
    fn malformed_input_is_an_error() {
        let p = payload(3000);
        let good = super_frame(&p, 1448, true);
        let set = |f: &mut Vec<u8>, at: usize, v: &[u8]| f[at..at + v.len()].copy_from_slice(v);
        let mut cases: Vec<Vec<u8>> = Vec::new();
        let mut f = good.clone();
        set(&mut f, 4, &0u16.to_ne_bytes()); // gso_size 0
        cases.push(f);
        let mut f = good.clone();
        f[1] = 0; // not GSO
        cases.push(f);
        let mut f = good.clone();
        f[1] = 3; // UDP
        cases.push(f);
        let mut f = good.clone();
        set(&mut f, 2, &60_000u16.to_ne_bytes()); // hdr_len past the frame
        cases.push(f);
        let ip = VNET_HDR_LEN + 14;
        let mut f = good.clone();
        f[ip + 9] = 17; // not TCP
        cases.push(f);
        let mut f = good.clone();
        f[ip] = 0x4f; // IHL 60: the TCP header runs past where it should
        set(&mut f, ip + 2, &50u16.to_be_bytes());
        cases.push(f);
        let mut f = good.clone();
        f[ip + 20 + 12] = 0xf0; // data offset 60 past the total length
        set(&mut f, ip + 2, &70u16.to_be_bytes());
        cases.push(f);
        let mut f = good.clone();
        set(&mut f, ip + 2, &60_000u16.to_be_bytes()); // total length past the frame
        cases.push(f);
        let mut f = good.clone();
        f[ip + 6] = 0x20; // a fragment
        cases.push(f);
        let mut f = good.clone();
        f[VNET_HDR_LEN + 12] = 0x86; // not IPv4
        cases.push(f);
        cases.push(good[..VNET_HDR_LEN + 30].to_vec()); // truncated headers
        cases.push(good[..5].to_vec());
        for (i, f) in cases.iter().enumerate() {
            assert!(run(f).is_err(), "case {i}");
        }
        // A scratch too small for one segment.
        let mut small = vec![0u8; 100];
        assert!(segment(&good, &mut small, |_| {}).is_err());
        assert!(run(&good).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            mut f in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            mss in 0u16..300,
        ) {
            if f.len() >= 6 {
                f[1] = GSO_TCPV4;
                f[4..6].copy_from_slice(&mss.to_ne_bytes());
            }
            let mut scratch = vec![0u8; 600];
            let _ = segment(&f, &mut scratch, |_| {});
        }
    }
}
