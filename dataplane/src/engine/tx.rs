//! What the engine does to a frame on its way out, whatever decided its fate: the
//! address and port rewrite (with checksums kept right, offloaded or not), the hop's MTU
//! fit, software checksum completion, and how many wire packets a super-frame stands for.

use std::net::Ipv4Addr;

use crate::wire::ethernet::HEADER_LEN;
use crate::wire::rewrite::{set_ipv4_addr, set_l4_id, End};
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, VNET_HDR_LEN};

/// How a packet fits a hop with an MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Fits as it is.
    Fits,
    /// Too big, DF set: answer "fragmentation needed".
    NeedsFragNeeded,
    /// Too big, DF clear, not a super-frame: fragment.
    Fragment,
    /// Too big, DF clear, a GSO super-frame: segment it in software
    /// ([`crate::engine::gso::segment`]), then send each segment through the fit again
    /// (whole, or fragmented when a segment is still too big), as Linux's
    /// `ip_finish_output_gso` does.
    Segment,
}

/// Whether the frame in `buf` fits `mtu`: for a GSO super-frame, its segments must (so a
/// super-frame with DF set is answered "fragmentation needed" by its segment size, never
/// dropped silently).
pub fn mtu_fit(buf: &[u8], mtu: u16) -> Fit {
    let Some(ip) = buf.get(VNET_HDR_LEN + HEADER_LEN..VNET_HDR_LEN + HEADER_LEN + 20) else {
        return Fit::Fits;
    };
    let df = ip[6] & 0x40 != 0;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let hdr = VnetHdr::parse(buf).unwrap_or_default();
    let size = if hdr.is_gso() {
        let l4 = VNET_HDR_LEN + HEADER_LEN + ihl;
        let tcp_len = buf.get(l4 + 12).map_or(20, |b| usize::from(b >> 4) * 4);
        ihl + tcp_len + usize::from(hdr.gso_size)
    } else {
        usize::from(u16::from_be_bytes([ip[2], ip[3]]))
    };
    match (size <= usize::from(mtu), df, hdr.is_gso()) {
        (true, _, _) => Fit::Fits,
        (false, true, _) => Fit::NeedsFragNeeded,
        (false, false, false) => Fit::Fragment,
        (false, false, true) => Fit::Segment,
    }
}

/// Applies the address (and port) rewrite `nat` to the frame in `buf` (with its
/// `virtio_net_hdr`), keeping checksums right; a fragment after the first only gets its
/// addresses changed (it has no L4 header).
pub fn rewrite(buf: &mut [u8], nat: Nat) -> Result<(), crate::wire::WireError> {
    let partial = buf.first().is_some_and(|b| b & F_NEEDS_CSUM != 0);
    let Some(ip) = buf.get_mut(VNET_HDR_LEN + HEADER_LEN..) else {
        return Err(crate::wire::WireError::Truncated("frame"));
    };
    let later_fragment = ip.len() >= 8 && (ip[6] & 0x1f != 0 || ip[7] != 0);
    let (src, dst) = nat.ends();
    for (end, rewrite) in [(End::Src, src), (End::Dst, dst)] {
        let Some((a, p)) = rewrite else { continue };
        set_ipv4_addr(ip, end, a, partial)?;
        if let (Some(p), false) = (p, later_fragment) {
            set_l4_id(ip, end, p, partial)?;
        }
    }
    Ok(())
}

/// How many packets the frame in `buf` stands for on the wire: the segments of an
/// offloaded TCP super-frame, 1 otherwise.
pub fn segments(buf: &[u8]) -> u64 {
    let Ok(h) = VnetHdr::parse(buf) else { return 1 };
    if !h.is_gso() || h.gso_size == 0 {
        return 1;
    }
    let payload = buf
        .len()
        .saturating_sub(VNET_HDR_LEN + usize::from(h.hdr_len));
    payload.div_ceil(usize::from(h.gso_size)).max(1) as u64
}

/// Completes a partial L4 checksum (`NEEDS_CSUM`) in software and clears the flag.
pub fn complete_checksum(buf: &mut [u8]) {
    let Ok(h) = VnetHdr::parse(buf) else { return };
    let start = VNET_HDR_LEN + usize::from(h.csum_start);
    let at = start + usize::from(h.csum_offset);
    if at + 2 > buf.len() || start > buf.len() {
        return;
    }
    let c = crate::wire::checksum::checksum(&buf[start..]);
    buf[at..at + 2].copy_from_slice(&c.to_be_bytes());
    buf[0] &= !F_NEEDS_CSUM;
}

/// An IPv4 address rewrite, with the TCP/UDP port or ICMP echo identifier of the same
/// end when `Some`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nat {
    /// None.
    None,
    /// Replace the source address (and port).
    Src(Ipv4Addr, Option<u16>),
    /// Replace the destination address (and port).
    Dst(Ipv4Addr, Option<u16>),
    /// Replace both ends (a packet that leaves and comes back in through a 1:1 NAT: the
    /// internet gateway's hairpin).
    Both {
        /// The new source address (and port).
        src: (Ipv4Addr, Option<u16>),
        /// The new destination address (and port).
        dst: (Ipv4Addr, Option<u16>),
    },
}

/// One end's rewrite: the address, and the port when it changes too.
type EndRewrite = (Ipv4Addr, Option<u16>);

impl Nat {
    /// The rewrite of each end (source, destination).
    #[inline]
    pub fn ends(self) -> (Option<EndRewrite>, Option<EndRewrite>) {
        match self {
            Nat::None => (None, None),
            Nat::Src(a, p) => (Some((a, p)), None),
            Nat::Dst(a, p) => (None, Some((a, p))),
            Nat::Both { src, dst } => (Some(src), Some(dst)),
        }
    }

    /// The rewrite of these ends.
    fn of_ends(src: Option<EndRewrite>, dst: Option<EndRewrite>) -> Nat {
        match (src, dst) {
            (None, None) => Nat::None,
            (Some((a, p)), None) => Nat::Src(a, p),
            (None, Some((a, p))) => Nat::Dst(a, p),
            (Some(src), Some(dst)) => Nat::Both { src, dst },
        }
    }

    /// This rewrite followed by `later` on the same packet: per end, a later rewrite wins,
    /// keeping this one's port when it brings none.
    pub fn then(self, later: Nat) -> Nat {
        let end = |a: Option<EndRewrite>, b: Option<EndRewrite>| match (a, b) {
            (x, None) => x,
            (Some((_, p)), Some((addr, None))) => Some((addr, p)),
            (_, y) => y,
        };
        let ((s1, d1), (s2, d2)) = (self.ends(), later.ends());
        Nat::of_ends(end(s1, s2), end(d1, d2))
    }
}
