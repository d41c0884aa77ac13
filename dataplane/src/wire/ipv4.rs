//! IPv4 headers.

use std::net::Ipv4Addr;

use super::{checksum, WireError};

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// A checked view over an IPv4 packet (header plus payload).
#[derive(Debug)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buf` after checking version, header length and total length.
    ///
    /// `buf` may hold trailing bytes (Ethernet padding); they are not part of the packet.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < 20 {
            return Err(WireError::Truncated("ipv4"));
        }
        if b[0] >> 4 != 4 {
            return Err(WireError::Invalid("ipv4 version"));
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if ihl < 20 || total < ihl {
            return Err(WireError::Invalid("ipv4 header length"));
        }
        if total > b.len() {
            return Err(WireError::Truncated("ipv4 total length"));
        }
        Ok(Ipv4Packet { buf })
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[0] & 0x0f) * 4
    }

    /// Total length (header plus payload) in bytes.
    pub fn total_len(&self) -> usize {
        usize::from(u16::from_be_bytes([
            self.buf.as_ref()[2],
            self.buf.as_ref()[3],
        ]))
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        u16::from_be_bytes([self.buf.as_ref()[4], self.buf.as_ref()[5]])
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[8]
    }

    /// Protocol number.
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[9]
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.buf.as_ref()[10], self.buf.as_ref()[11]])
    }

    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// Whether the Don't Fragment flag is set.
    pub fn dont_fragment(&self) -> bool {
        self.buf.as_ref()[6] & 0x40 != 0
    }

    /// Whether More Fragments is set.
    pub fn more_fragments(&self) -> bool {
        self.buf.as_ref()[6] & 0x20 != 0
    }

    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        u16::from_be_bytes([self.buf.as_ref()[6] & 0x1f, self.buf.as_ref()[7]])
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.buf.as_ref()[..self.header_len()]) == 0
    }

    /// The payload (bounded by the total length, so padding is excluded).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the TTL, updating the header checksum incrementally.
    pub fn set_ttl(&mut self, ttl: u8) {
        let b = self.buf.as_mut();
        let old = u16::from_be_bytes([b[8], b[9]]);
        b[8] = ttl;
        let new = u16::from_be_bytes([b[8], b[9]]);
        let c = checksum::update16(u16::from_be_bytes([b[10], b[11]]), old, new);
        b[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// Swaps source and destination (the header checksum does not change).
    pub fn swap_addresses(&mut self) {
        let b = self.buf.as_mut();
        let mut src = [0u8; 4];
        src.copy_from_slice(&b[12..16]);
        b.copy_within(16..20, 12);
        b[16..20].copy_from_slice(&src);
    }

    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        let b = self.buf.as_mut();
        b[10] = 0;
        b[11] = 0;
        let c = checksum::checksum(&b[..hl]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// Mutable payload (bounded by the total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), self.total_len());
        &mut self.buf.as_mut()[h..t]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp_packet() -> Vec<u8> {
        let mut v = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
            .udp(4000, 53)
            .write(&mut v, b"hello")
            .unwrap();
        v
    }

    #[test]
    fn parses_builder_output() {
        let mut v = udp_packet();
        v.extend_from_slice(&[0, 0, 0]); // padding after the packet is not payload
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.src(), Ipv4Addr::new(10, 0, 1, 10));
        assert_eq!(p.dst(), Ipv4Addr::new(10, 0, 2, 20));
        assert_eq!(p.protocol(), PROTO_UDP);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.payload().len(), 8 + 5);
        assert!(p.verify_checksum());
    }

    #[test]
    fn ttl_update_keeps_checksum_valid_and_swap_keeps_it_too() {
        let mut v = udp_packet();
        let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
        p.set_ttl(63);
        p.swap_addresses();
        assert!(p.verify_checksum());
        assert_eq!(p.src(), Ipv4Addr::new(10, 0, 2, 20));
        let h = etherparse::Ipv4HeaderSlice::from_slice(&v).unwrap();
        assert_eq!(h.ttl(), 63);
    }

    #[test]
    fn rejects_bad_lengths() {
        let v = udp_packet();
        assert!(Ipv4Packet::new_checked(&v[..v.len() - 1]).is_err());
        let mut bad = v.clone();
        bad[0] = 0x44; // ihl 16 bytes
        assert!(Ipv4Packet::new_checked(&bad[..]).is_err());
        let mut bad = v.clone();
        bad[0] = 0x65;
        assert!(Ipv4Packet::new_checked(&bad[..]).is_err());
        let mut bad = v;
        bad[2] = 0;
        bad[3] = 10; // total < ihl
        assert!(Ipv4Packet::new_checked(&bad[..]).is_err());
    }
}
