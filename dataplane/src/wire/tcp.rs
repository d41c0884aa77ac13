//! TCP segments the data plane emits itself: the RST a NAT gateway answers with when a
//! packet from inside belongs to no translation (for example after the idle timeout).

use self::flags::{ACK, FIN, RST, SYN};
use super::checksum::{fold, sum};
use super::ipv4::PROTO_TCP;
use super::WireError;

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Length of the IPv4 + TCP headers of a RST.
pub const RST_LEN: usize = 40;

/// Turns the IPv4 TCP packet at the start of `ip` into the RST that its receiver would
/// answer with (RFC 793 "reset generation"), in place, addressed back to its sender.
/// Returns the new IP packet length; `None` when the packet is not a TCP segment or is
/// itself a RST (a RST is never answered).
pub fn rewrite_as_rst(ip: &mut [u8]) -> Result<Option<usize>, WireError> {
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != PROTO_TCP {
        return Ok(None);
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let tcp = ip.get(ihl..ihl + 20).ok_or(WireError::Truncated("tcp"))?;
    let flags = tcp[13];
    if flags & RST != 0 {
        return Ok(None);
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let data_off = usize::from(tcp[12] >> 4) * 4;
    let payload = total.saturating_sub(ihl + data_off) as u32;
    let (sport, dport) = ([tcp[0], tcp[1]], [tcp[2], tcp[3]]);
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    let (src, dst) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
    );
    let (rseq, rack, rflags) = if flags & ACK != 0 {
        (ack, 0, RST)
    } else {
        let len = payload + u32::from(flags & SYN != 0) + u32::from(flags & FIN != 0);
        (0, seq.wrapping_add(len), RST | ACK)
    };
    let out = ip
        .get_mut(..RST_LEN)
        .ok_or(WireError::Truncated("rst buffer"))?;
    out[0] = 0x45;
    out[1] = 0;
    out[2..4].copy_from_slice(&(RST_LEN as u16).to_be_bytes());
    out[4..6].fill(0);
    out[6] = 0x40; // DF
    out[7] = 0;
    out[8] = 64;
    out[9] = PROTO_TCP;
    out[10..12].fill(0);
    out[12..16].copy_from_slice(&dst);
    out[16..20].copy_from_slice(&src);
    let c = !fold(sum(0, &out[..20]));
    out[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut out[20..40];
    t[0..2].copy_from_slice(&dport);
    t[2..4].copy_from_slice(&sport);
    t[4..8].copy_from_slice(&rseq.to_be_bytes());
    t[8..12].copy_from_slice(&rack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = rflags;
    t[14..20].fill(0); // window, checksum, urgent pointer
    let mut acc = sum(0, &out[12..20]);
    acc = acc.wrapping_add(u32::from(PROTO_TCP)).wrapping_add(20);
    let c = !fold(sum(acc, &out[20..40]));
    out[36..38].copy_from_slice(&c.to_be_bytes());
    Ok(Some(RST_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn segment(ack: Option<u32>, syn: bool, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let b =
            PacketBuilder::ipv4([10, 0, 1, 10], [203, 0, 113, 5], 64).tcp(40000, 443, 1000, 500);
        let b = if syn { b.syn() } else { b };
        let b = match ack {
            Some(a) => b.ack(a),
            None => b,
        };
        b.write(&mut v, payload).unwrap();
        v
    }

    fn parse(p: &[u8]) -> etherparse::TcpHeaderSlice<'_> {
        let s = SlicedPacket::from_ip(p).unwrap();
        let ip = match s.net {
            Some(etherparse::NetSlice::Ipv4(i)) => i,
            _ => panic!("not ipv4"),
        };
        assert_eq!(ip.header().source(), [203, 0, 113, 5]);
        assert_eq!(ip.header().destination(), [10, 0, 1, 10]);
        match s.transport {
            Some(TransportSlice::Tcp(t)) => {
                etherparse::TcpHeaderSlice::from_slice(&p[20..20 + t.header_len()]).unwrap()
            }
            _ => panic!("not tcp"),
        }
    }

    #[test]
    fn rst_to_a_segment_with_ack_uses_its_ack_as_sequence() {
        let mut p = segment(Some(7777), false, b"data after the timeout");
        let n = rewrite_as_rst(&mut p).unwrap().unwrap();
        let p = &p[..n];
        // Valid checksums, as the kernel verifies them.
        let h = etherparse::Ipv4HeaderSlice::from_slice(p).unwrap();
        assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
        let t = parse(p);
        assert!(t.rst() && !t.ack());
        assert_eq!((t.source_port(), t.destination_port()), (443, 40000));
        assert_eq!(t.sequence_number(), 7777);
        let calc = t
            .to_header()
            .calc_checksum_ipv4_raw([203, 0, 113, 5], [10, 0, 1, 10], &[])
            .unwrap();
        assert_eq!(calc, t.checksum());
    }

    #[test]
    fn rst_to_a_syn_acknowledges_it() {
        let mut p = segment(None, true, b"");
        let n = rewrite_as_rst(&mut p).unwrap().unwrap();
        let t = parse(&p[..n]);
        assert!(t.rst() && t.ack());
        assert_eq!(t.sequence_number(), 0);
        assert_eq!(t.acknowledgment_number(), 1001);
    }

    #[test]
    fn a_rst_or_non_tcp_is_not_answered() {
        let mut v = Vec::new();
        PacketBuilder::ipv4([10, 0, 1, 10], [203, 0, 113, 5], 64)
            .tcp(1, 2, 3, 4)
            .rst()
            .write(&mut v, b"")
            .unwrap();
        assert_eq!(rewrite_as_rst(&mut v).unwrap(), None);
        let mut u = Vec::new();
        PacketBuilder::ipv4([10, 0, 1, 10], [203, 0, 113, 5], 64)
            .udp(1, 2)
            .write(&mut u, b"x")
            .unwrap();
        assert_eq!(rewrite_as_rst(&mut u).unwrap(), None);
    }
}
