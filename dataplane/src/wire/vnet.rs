//! The `virtio_net_hdr` that precedes every frame on a TAP opened with `IFF_VNET_HDR`.
//!
//! It carries the offload state of a frame: whether the L4 checksum is still to be
//! completed (`NEEDS_CSUM`, with `csum_start`/`csum_offset`) and whether the frame is a
//! GSO super-frame (`gso_type`, `gso_size`, `hdr_len`). Every buffer in the engine holds
//! this header first, then the Ethernet frame. Fields are in native byte order (the TAP
//! default on little-endian hosts).

use super::WireError;

/// Length of the legacy `virtio_net_hdr` (no `num_buffers`).
pub const VNET_HDR_LEN: usize = 10;
/// `flags`: the L4 checksum must be completed from `csum_start` (partial checksum).
pub const F_NEEDS_CSUM: u8 = 1;
/// `gso_type`: not a GSO frame.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4 super-frame.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: UDP fragmentation offload.
pub const GSO_UDP: u8 = 3;
/// `gso_type`: TCP over IPv6 super-frame.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type` bit: ECN.
pub const GSO_ECN: u8 = 0x80;

/// The decoded `virtio_net_hdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHdr {
    /// `F_NEEDS_CSUM` and friends.
    pub flags: u8,
    /// `GSO_*`.
    pub gso_type: u8,
    /// Length of the headers to copy into each segment.
    pub hdr_len: u16,
    /// Segment payload size.
    pub gso_size: u16,
    /// Where checksumming starts (from the start of the Ethernet frame).
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Decodes the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<VnetHdr, WireError> {
        if b.len() < VNET_HDR_LEN {
            return Err(WireError::Truncated("virtio_net_hdr"));
        }
        let u = |o: usize| u16::from_ne_bytes([b[o], b[o + 1]]);
        Ok(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    /// Encodes the header into the start of `b`.
    pub fn emit(&self, b: &mut [u8]) -> Result<(), WireError> {
        let b = b
            .get_mut(..VNET_HDR_LEN)
            .ok_or(WireError::Truncated("virtio_net_hdr emit"))?;
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        Ok(())
    }

    /// Whether this frame is a GSO super-frame.
    pub fn is_gso(&self) -> bool {
        self.gso_type & !GSO_ECN != GSO_NONE
    }

    /// Checks the offload state a sender wrote against the Ethernet frame it precedes
    /// (`frame_len` bytes, parsed into `meta`), as the kernel's `tun_get_user` and
    /// `virtio_net_hdr_to_skb` do before they trust it (VPC-13): `hdr_len` within the
    /// frame; a partial checksum's `csum_start + csum_offset + 2` within the frame; a
    /// GSO type the TAP offers (TCPv4, TCPv6, with or without ECN; UDP on UDP) that
    /// matches the packet, with a non-zero `gso_size`. Garbage here would otherwise be
    /// forwarded to another tenant's port, or reach the MTU and segmentation paths
    /// (a `gso_size` of 0 made a super-frame "fit" any hop).
    pub fn check(&self, frame_len: usize, meta: &super::PacketMeta) -> Result<(), WireError> {
        if self.flags == 0 && self.gso_type == GSO_NONE && self.hdr_len == 0 {
            return Ok(());
        }
        if usize::from(self.hdr_len) > frame_len {
            return Err(WireError::Invalid("virtio_net_hdr hdr_len past the frame"));
        }
        if self.flags & F_NEEDS_CSUM != 0 {
            let end = usize::from(self.csum_start) + usize::from(self.csum_offset) + 2;
            if end > frame_len {
                return Err(WireError::Invalid("virtio_net_hdr csum_start/offset"));
            }
        }
        if !self.is_gso() {
            return Ok(());
        }
        if self.gso_size == 0 {
            return Err(WireError::Invalid("virtio_net_hdr gso_size 0"));
        }
        let super::L3::Ip(ip) = meta.l3 else {
            return Err(WireError::Invalid("gso of a non-IP frame"));
        };
        let ok = match self.gso_type & !GSO_ECN {
            GSO_TCPV4 => ip.src.is_ipv4() && ip.proto == super::ipv4::PROTO_TCP && !ip.fragment,
            GSO_TCPV6 => ip.src.is_ipv6() && ip.proto == super::ipv4::PROTO_TCP,
            GSO_UDP => ip.proto == super::ipv4::PROTO_UDP && !ip.fragment,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(WireError::Invalid(
                "virtio_net_hdr gso type does not match the packet",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut b = [0u8; VNET_HDR_LEN];
        h.emit(&mut b).unwrap();
        assert_eq!(VnetHdr::parse(&b).unwrap(), h);
        assert!(h.is_gso());
        assert!(!VnetHdr::default().is_gso());
        assert!(VnetHdr::parse(&b[..9]).is_err());
    }
}
