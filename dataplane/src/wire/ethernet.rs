//! Ethernet II frames.

use super::{MacAddr, WireError};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

/// A checked view over an Ethernet II frame.
#[derive(Debug)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buf` after checking it holds at least a full header.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated("ethernet"));
        }
        Ok(EthernetFrame { buf })
    }

    /// The destination MAC.
    pub fn dst(&self) -> MacAddr {
        let b = self.buf.as_ref();
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// The source MAC.
    pub fn src(&self) -> MacAddr {
        let b = self.buf.as_ref();
        MacAddr([b[6], b[7], b[8], b[9], b[10], b[11]])
    }

    /// The EtherType.
    pub fn ethertype(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[12], b[13]])
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC.
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buf.as_mut()[0..6].copy_from_slice(&mac.0);
    }

    /// Sets the source MAC.
    pub fn set_src(&mut self, mac: MacAddr) {
        self.buf.as_mut()[6..12].copy_from_slice(&mac.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_builder_output_and_rewrites_macs() {
        let mut bytes = Vec::new();
        etherparse::Ethernet2Header {
            source: [2, 0, 0, 0, 0, 1],
            destination: [2, 0, 0, 0, 0, 2],
            ether_type: etherparse::EtherType::IPV4,
        }
        .write(&mut bytes)
        .unwrap();
        bytes.extend_from_slice(&[0xaa; 4]);
        let mut f = EthernetFrame::new_checked(&mut bytes[..]).unwrap();
        assert_eq!(f.src(), MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.dst(), MacAddr([2, 0, 0, 0, 0, 2]));
        assert_eq!(f.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(f.payload(), &[0xaa; 4]);
        f.set_dst(MacAddr([6, 1, 1, 1, 1, 1]));
        f.set_src(MacAddr([6, 2, 2, 2, 2, 2]));
        let parsed = etherparse::Ethernet2Header::from_slice(&bytes).unwrap().0;
        assert_eq!(parsed.destination, [6, 1, 1, 1, 1, 1]);
        assert_eq!(parsed.source, [6, 2, 2, 2, 2, 2]);
    }

    #[test]
    fn rejects_short() {
        assert!(EthernetFrame::new_checked(&[0u8; 13][..]).is_err());
    }
}
