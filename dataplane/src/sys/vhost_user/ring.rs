//! Moving one frame between a split virtqueue in guest memory and the engine's buffers.
//!
//! The guest's `virtio_net_hdr` is 12 bytes once `VIRTIO_F_VERSION_1` or `VIRTIO_NET_F_MRG_RXBUF`
//! is negotiated (the trailing `num_buffers`), 10 bytes otherwise; the engine's frames always
//! start with the 10-byte header ([`VNET_HDR_LEN`]). [`pop_frame`] copies a guest frame straight
//! from guest memory into the caller's buffer, dropping `num_buffers`; [`push_frame`] copies an
//! engine frame straight into the guest's receive buffers (merged when `MRG_RXBUF` is on), with
//! `num_buffers` filled in. The offload fields (flags, GSO type and size, checksum start and
//! offset) pass unchanged both ways, so super-frames survive as on a TAP. Header fields are in
//! the guest's byte order, little-endian under `VERSION_1`, the engine's native order on the
//! x86-64 and aarch64 hosts we run on.
//!
//! Nothing here trusts the guest: descriptor addresses and lengths are checked by
//! `virtio-queue`'s [`Reader`]/[`Writer`] against the memory map, and a chain that does not fit is
//! reported as [`Dropped`], never a panic.

use std::io::{Read, Write};

use virtio_queue::{Queue, QueueOwnedT, QueueT, Reader, Writer};
use vm_memory::GuestMemoryMmap;

use crate::wire::vnet::VNET_HDR_LEN;

/// The guest memory the rings live in (no dirty-page bitmap: no live migration).
pub(super) type Mem = GuestMemoryMmap<()>;

/// Length of the `virtio_net_hdr` with `num_buffers` (`VERSION_1` or `MRG_RXBUF`).
pub const GUEST_HDR_LEN_MRG: usize = 12;

/// The shortest frame accepted from a guest: the 10-byte header and an Ethernet header.
const MIN_FRAME: usize = VNET_HDR_LEN + 14;

/// Why a descriptor chain was consumed without carrying a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The chain points outside guest memory, is too short for a header and an Ethernet
    /// header, or could not be read or written: the guest wrote garbage.
    Malformed,
    /// The frame is larger than the buffer it was to be copied into.
    TooLarge,
}

/// What [`pop_frame`] found at the head of the guest's transmit queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popped {
    /// No chain is available.
    Empty,
    /// A frame of this many bytes (10-byte header included) is in the buffer; the chain
    /// `head` must be returned to the guest as used (length 0).
    Frame {
        /// The chain's head descriptor.
        head: u16,
        /// Bytes written to the caller's buffer.
        len: usize,
    },
    /// The chain `head` held no usable frame; return it as used all the same.
    Dropped {
        /// The chain's head descriptor.
        head: u16,
        /// Why.
        why: Dropped,
    },
}

/// Takes the next chain off a transmit queue (guest → us) and copies its frame into `buf`
/// (its 10-byte header first), skipping the guest header's bytes past the tenth. One copy:
/// guest memory to `buf`.
pub fn pop_frame(q: &mut Queue, mem: &Mem, guest_hdr_len: usize, buf: &mut [u8]) -> Popped {
    let Some(chain) = q.pop_descriptor_chain(mem) else {
        return Popped::Empty;
    };
    let head = chain.head_index();
    let dropped = |why| Popped::Dropped { head, why };
    let Ok(mut r) = Reader::new(mem, chain) else {
        return dropped(Dropped::Malformed);
    };
    let total = r.available_bytes();
    let Some(payload) = total.checked_sub(guest_hdr_len) else {
        return dropped(Dropped::Malformed);
    };
    let len = VNET_HDR_LEN + payload;
    if len < MIN_FRAME || guest_hdr_len < VNET_HDR_LEN {
        return dropped(Dropped::Malformed);
    }
    if len > buf.len() {
        return dropped(Dropped::TooLarge);
    }
    let Some(hdr) = buf.get_mut(..VNET_HDR_LEN) else {
        return dropped(Dropped::TooLarge);
    };
    if r.read_exact(hdr).is_err() {
        return dropped(Dropped::Malformed);
    }
    let mut skip = [0u8; GUEST_HDR_LEN_MRG];
    let rest = skip
        .get_mut(..guest_hdr_len - VNET_HDR_LEN)
        .unwrap_or_default();
    if r.read_exact(rest).is_err() {
        return dropped(Dropped::Malformed);
    }
    match buf
        .get_mut(VNET_HDR_LEN..len)
        .map(|body| r.read_exact(body))
    {
        Some(Ok(())) => Popped::Frame { head, len },
        _ => dropped(Dropped::Malformed),
    }
}

/// Why [`push_frame`] delivered nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPushed {
    /// The guest has not posted enough receive buffers (or, without `MRG_RXBUF`, the first one
    /// is too small for the frame); nothing was consumed.
    NoBuffers,
    /// The frame is shorter than its 10-byte header (an engine bug, not the guest's).
    ShortFrame,
    /// A receive chain was malformed; the chains taken for this frame were returned unused
    /// (length 0) — the guest hurt only itself.
    Malformed,
}

/// Copies `frame` (10-byte header, then the Ethernet frame) into the guest's receive queue
/// (us → guest): into one chain, or with `mrg` across as many as it takes, `num_buffers` set in
/// the first. Returns the used entries (head, bytes written) in `used`, to be added to the used
/// ring by the caller; on [`NotPushed::NoBuffers`] `used` is empty and the queue is as it was.
pub fn push_frame(
    q: &mut Queue,
    mem: &Mem,
    guest_hdr_len: usize,
    mrg: bool,
    frame: &[u8],
    used: &mut Vec<(u16, u32)>,
) -> Result<(), NotPushed> {
    used.clear();
    let (Some(hdr), Some(payload)) = (frame.get(..VNET_HDR_LEN), frame.get(VNET_HDR_LEN..)) else {
        return Err(NotPushed::ShortFrame);
    };
    let mut hdr_buf = [0u8; GUEST_HDR_LEN_MRG];
    hdr_buf[..VNET_HDR_LEN].copy_from_slice(hdr);
    let guest_hdr = hdr_buf
        .get_mut(..guest_hdr_len)
        .ok_or(NotPushed::ShortFrame)?;
    let mut first: Option<Writer<'_>> = None;
    let mut off = 0usize;
    let mut popped = 0usize;
    let mut malformed = false;
    while let Some(chain) = q.pop_descriptor_chain(mem) {
        popped += 1;
        let head = chain.head_index();
        let Ok(mut w) = Writer::new(mem, chain) else {
            used.push((head, 0));
            malformed = true;
            break;
        };
        let mut written = 0usize;
        if first.is_none() {
            if w.available_bytes() < guest_hdr_len {
                used.push((head, 0));
                malformed = true;
                break;
            }
            // The header goes in now with num_buffers = 1, rewritten below when merged.
            let mut at_hdr = w.clone();
            if guest_hdr_len == GUEST_HDR_LEN_MRG {
                guest_hdr[VNET_HDR_LEN..].copy_from_slice(&1u16.to_le_bytes());
            }
            if w.write_all(guest_hdr).is_err() {
                used.push((head, 0));
                malformed = true;
                break;
            }
            written += guest_hdr_len;
            match at_hdr.split_at(guest_hdr_len) {
                Ok(_) => first = Some(at_hdr),
                Err(_) => {
                    used.push((head, 0));
                    malformed = true;
                    break;
                }
            }
        }
        let n = w.available_bytes().min(payload.len() - off);
        if w.write_all(&payload[off..off + n]).is_err() {
            used.push((head, 0));
            malformed = true;
            break;
        }
        off += n;
        written += n;
        used.push((head, written as u32));
        if off == payload.len() || !mrg {
            break;
        }
    }
    if malformed {
        for u in used.iter_mut() {
            u.1 = 0;
        }
        return Err(NotPushed::Malformed);
    }
    if off < payload.len() || used.is_empty() {
        // Not enough room: put every chain back for a later frame.
        for _ in 0..popped {
            q.go_to_previous_position();
        }
        used.clear();
        return Err(NotPushed::NoBuffers);
    }
    if mrg && used.len() > 1 {
        let n = u16::try_from(used.len()).unwrap_or(u16::MAX);
        guest_hdr[VNET_HDR_LEN..].copy_from_slice(&n.to_le_bytes());
        if let Some(w) = first.as_mut() {
            // The first chain was at least a header long, so this cannot fall short.
            if w.write_all(guest_hdr).is_err() {
                return Err(NotPushed::Malformed);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use virtio_bindings::bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
    use virtio_queue::desc::{split::Descriptor, RawDescriptor};
    use virtio_queue::mock::MockSplitQueue;
    use vm_memory::{Bytes, GuestAddress};

    const BUF_BASE: u64 = 0x10_0000;

    fn mem() -> Mem {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x20_0000)]).unwrap()
    }

    fn frame(payload_len: usize) -> Vec<u8> {
        let mut f = vec![0u8; VNET_HDR_LEN + payload_len];
        // flags NEEDS_CSUM, gso TCPV4, hdr_len 54, gso_size 1448, csum 34/16
        f[..VNET_HDR_LEN].copy_from_slice(&[1, 1, 54, 0, 0xa8, 5, 34, 0, 16, 0]);
        for (i, b) in f[VNET_HDR_LEN..].iter_mut().enumerate() {
            *b = i as u8;
        }
        f
    }

    #[test]
    fn tx_frame_split_over_descriptors_is_read_whole_without_num_buffers() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let f = frame(3000);
        // The guest's 12-byte header in its own descriptor, the frame in two more.
        let mut guest = f[..VNET_HDR_LEN].to_vec();
        guest.extend_from_slice(&[0, 0]);
        guest.extend_from_slice(&f[VNET_HDR_LEN..]);
        m.write_slice(&guest, GuestAddress(BUF_BASE)).unwrap();
        let descs = [
            RawDescriptor::from(Descriptor::new(BUF_BASE, 12, VRING_DESC_F_NEXT as u16, 1)),
            RawDescriptor::from(Descriptor::new(
                BUF_BASE + 12,
                1000,
                VRING_DESC_F_NEXT as u16,
                2,
            )),
            RawDescriptor::from(Descriptor::new(BUF_BASE + 1012, 2000, 0, 0)),
        ];
        vq.build_desc_chain(&descs).unwrap();
        let mut q: Queue = vq.create_queue().unwrap();
        let mut buf = vec![0u8; 65_550];
        let p = pop_frame(&mut q, &m, 12, &mut buf);
        assert_eq!(
            p,
            Popped::Frame {
                head: 0,
                len: f.len()
            }
        );
        assert_eq!(&buf[..f.len()], &f[..]);
        assert_eq!(pop_frame(&mut q, &m, 12, &mut buf), Popped::Empty);
    }

    #[test]
    fn garbage_tx_chains_are_dropped_not_panicked_on() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        // Out of guest memory; too short; too large for the buffer.
        let descs = [
            RawDescriptor::from(Descriptor::new(0xffff_ffff_0000, 100, 0, 0)),
            RawDescriptor::from(Descriptor::new(BUF_BASE, 8, 0, 0)),
            RawDescriptor::from(Descriptor::new(BUF_BASE, 4000, 0, 0)),
        ];
        vq.add_desc_chains(&descs, 0).unwrap();
        let mut q: Queue = vq.create_queue().unwrap();
        let mut buf = vec![0u8; 2048];
        let mut whys = Vec::new();
        loop {
            match pop_frame(&mut q, &m, 12, &mut buf) {
                Popped::Empty => break,
                Popped::Dropped { why, .. } => whys.push(why),
                Popped::Frame { .. } => panic!("garbage accepted"),
            }
        }
        assert_eq!(
            whys,
            [Dropped::Malformed, Dropped::Malformed, Dropped::TooLarge]
        );
    }

    fn rx_queue<'a>(m: &'a Mem, bufs: u16, buf_len: u32) -> MockSplitQueue<'a, Mem> {
        let vq = MockSplitQueue::new(m, 64);
        let descs: Vec<RawDescriptor> = (0..bufs)
            .map(|i| {
                RawDescriptor::from(Descriptor::new(
                    BUF_BASE + u64::from(i) * 0x1_0000,
                    buf_len,
                    VRING_DESC_F_WRITE as u16,
                    0,
                ))
            })
            .collect();
        vq.add_desc_chains(&descs, 0).unwrap();
        vq
    }

    #[test]
    fn rx_super_frame_spreads_over_merged_buffers_with_num_buffers() {
        let m = mem();
        let vq = rx_queue(&m, 8, 2048);
        let mut q: Queue = vq.create_queue().unwrap();
        let f = frame(5000);
        let mut used = Vec::new();
        push_frame(&mut q, &m, 12, true, &f, &mut used).unwrap();
        // 12 + 5000 bytes in 2048-byte buffers: 3 of them.
        assert_eq!(used, [(0, 2048), (1, 2048), (2, 12 + 5000 - 4096)]);
        let mut got = vec![0u8; 12];
        m.read_slice(&mut got, GuestAddress(BUF_BASE)).unwrap();
        assert_eq!(&got[..VNET_HDR_LEN], &f[..VNET_HDR_LEN]);
        assert_eq!(u16::from_le_bytes([got[10], got[11]]), 3);
        let mut body = Vec::new();
        for (i, (_, len)) in used.iter().enumerate() {
            let mut b = vec![0u8; *len as usize];
            m.read_slice(&mut b, GuestAddress(BUF_BASE + i as u64 * 0x1_0000))
                .unwrap();
            body.extend_from_slice(&b);
        }
        assert_eq!(&body[12..], &f[VNET_HDR_LEN..]);
    }

    #[test]
    fn rx_without_room_consumes_nothing() {
        let m = mem();
        let vq = rx_queue(&m, 2, 2048);
        let mut q: Queue = vq.create_queue().unwrap();
        let mut used = Vec::new();
        let big = frame(5000);
        assert_eq!(
            push_frame(&mut q, &m, 12, true, &big, &mut used),
            Err(NotPushed::NoBuffers)
        );
        assert!(used.is_empty());
        // The two buffers are still there for a frame that fits.
        push_frame(&mut q, &m, 12, true, &frame(3000), &mut used).unwrap();
        assert_eq!(used.len(), 2);
        // Without MRG_RXBUF one buffer must hold the frame.
        let vq = rx_queue(&m, 2, 2048);
        let mut q: Queue = vq.create_queue().unwrap();
        assert_eq!(
            push_frame(&mut q, &m, 12, false, &big, &mut used),
            Err(NotPushed::NoBuffers)
        );
        assert_eq!(
            push_frame(&mut q, &m, 12, false, &[0; 4], &mut used),
            Err(NotPushed::ShortFrame)
        );
    }

    #[test]
    fn rx_chain_outside_memory_is_malformed() {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let descs = [RawDescriptor::from(Descriptor::new(
            0xffff_ffff_0000,
            2048,
            VRING_DESC_F_WRITE as u16,
            0,
        ))];
        vq.add_desc_chains(&descs, 0).unwrap();
        let mut q: Queue = vq.create_queue().unwrap();
        let mut used = Vec::new();
        assert_eq!(
            push_frame(&mut q, &m, 12, true, &frame(100), &mut used),
            Err(NotPushed::Malformed)
        );
        assert_eq!(used, [(0, 0)]);
    }
}
