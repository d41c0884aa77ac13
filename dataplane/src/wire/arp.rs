//! ARP for IPv4 over Ethernet (RFC 826).

use std::net::Ipv4Addr;

use super::{MacAddr, WireError};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// ARP operation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    /// Who has `target_ip`?
    Request,
    /// `sender_ip` is at `sender_mac`.
    Reply,
    /// Anything else.
    Other(u16),
}

impl From<u16> for ArpOp {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            o => ArpOp::Other(o),
        }
    }
}

impl From<ArpOp> for u16 {
    fn from(op: ArpOp) -> u16 {
        match op {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
            ArpOp::Other(o) => o,
        }
    }
}

/// A parsed Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Operation.
    pub op: ArpOp,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Parses the ARP payload of an Ethernet frame; only Ethernet/IPv4 ARP is accepted.
    pub fn parse(b: &[u8]) -> Result<ArpRepr, WireError> {
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated("arp"));
        }
        let htype = u16::from_be_bytes([b[0], b[1]]);
        let ptype = u16::from_be_bytes([b[2], b[3]]);
        if htype != 1 || ptype != 0x0800 || b[4] != 6 || b[5] != 4 {
            return Err(WireError::Unsupported("arp hardware/protocol type"));
        }
        let mac = |o: usize| MacAddr([b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5]]);
        let ip = |o: usize| Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]);
        Ok(ArpRepr {
            op: ArpOp::from(u16::from_be_bytes([b[6], b[7]])),
            sender_mac: mac(8),
            sender_ip: ip(14),
            target_mac: mac(18),
            target_ip: ip(24),
        })
    }

    /// Writes the 28-byte packet into the start of `b` (which must be long enough).
    pub fn emit(&self, b: &mut [u8]) -> Result<(), WireError> {
        let b = b
            .get_mut(..PACKET_LEN)
            .ok_or(WireError::Truncated("arp emit"))?;
        b[0..2].copy_from_slice(&1u16.to_be_bytes());
        b[2..4].copy_from_slice(&0x0800u16.to_be_bytes());
        b[4] = 6;
        b[5] = 4;
        b[6..8].copy_from_slice(&u16::from(self.op).to_be_bytes());
        b[8..14].copy_from_slice(&self.sender_mac.0);
        b[14..18].copy_from_slice(&self.sender_ip.octets());
        b[18..24].copy_from_slice(&self.target_mac.0);
        b[24..28].copy_from_slice(&self.target_ip.octets());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request "who has 10.0.1.1? tell 10.0.1.10" captured from Linux (payload only).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, op
        0x02, 0x00, 0x0a, 0x00, 0x01, 0x0a, 10, 0, 1, 10, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 1, 1, // target
    ];

    #[test]
    fn parses_request_fixture_and_round_trips() {
        let r = ArpRepr::parse(&REQUEST).unwrap();
        assert_eq!(r.op, ArpOp::Request);
        assert_eq!(r.sender_mac, MacAddr([2, 0, 10, 0, 1, 10]));
        assert_eq!(r.sender_ip, Ipv4Addr::new(10, 0, 1, 10));
        assert_eq!(r.target_ip, Ipv4Addr::new(10, 0, 1, 1));
        let mut out = [0u8; 28];
        r.emit(&mut out).unwrap();
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn rejects_non_ethernet_ipv4_and_short() {
        let mut bad = REQUEST;
        bad[5] = 16;
        assert!(ArpRepr::parse(&bad).is_err());
        assert!(ArpRepr::parse(&REQUEST[..27]).is_err());
    }
}
