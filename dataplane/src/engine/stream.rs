//! A QEMU `-netdev stream` socket ([`crate::sys::stream::StreamPort`]) as a port. The
//! stream carries plain Ethernet frames, so what the engine hands over with offloads
//! pending is finished here: a partial checksum (`NEEDS_CSUM`) is completed, and a TCP
//! super-frame is segmented in software ([`crate::engine::gso::segment`]) before it
//! goes out. What comes in gets a zeroed `virtio_net_hdr` (no offloads).

use std::cell::RefCell;
use std::io;

use crate::engine::buf::BUF_SIZE;
use crate::engine::gso::segment;
use crate::engine::port::Port;
use crate::engine::tx::complete_checksum;
use crate::sys::stream::StreamPort;
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, VNET_HDR_LEN};

thread_local! {
    /// One frame's room for a checksum completed or a segment built, per thread (the
    /// forwarding thread): no allocation per frame.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the thread's scratch buffer, [`BUF_SIZE`] bytes.
fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < BUF_SIZE {
            s.resize(BUF_SIZE, 0);
        }
        f(&mut s)
    })
}

/// A stream socket as a port: one length-prefixed plain frame per `virtio_net_hdr`
/// frame; a super-frame leaves as its segments. A frame that cannot go (no guest, the
/// output queue full, a GSO kind that cannot be segmented) is an error: the data plane
/// counts it as `tx_failed`.
impl Port for StreamPort {
    #[inline]
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.recv_frame(buf)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let bad = |what: &'static str| io::Error::new(io::ErrorKind::InvalidData, what);
        let h = VnetHdr::parse(frame).map_err(|_| bad("frame without virtio_net_hdr"))?;
        if h.is_gso() {
            return with_scratch(|scratch| {
                let mut result = Ok(());
                segment(frame, scratch, |seg| {
                    if let (Ok(()), Some(plain)) = (&result, seg.get(VNET_HDR_LEN..)) {
                        result = self.send_plain(plain);
                    }
                })
                .map_err(|_| bad("super-frame that cannot be segmented"))?;
                result
            });
        }
        if h.flags & F_NEEDS_CSUM != 0 {
            return with_scratch(|scratch| {
                let copy = scratch
                    .get_mut(..frame.len())
                    .ok_or_else(|| bad("frame too large"))?;
                copy.copy_from_slice(frame);
                complete_checksum(copy);
                self.send_plain(&copy[VNET_HDR_LEN..])
            });
        }
        self.send_plain(&frame[VNET_HDR_LEN..])
    }
}
