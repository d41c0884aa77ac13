//! Ports: where frames enter and leave the engine. A TAP device in production
//! ([`crate::sys::tap::Tap`]), a vhost-user back end for VMs
//! ([`crate::sys::vhost_user::VhostUserPort`]), an existing interface attached with
//! `AF_PACKET` ([`crate::sys::packet::PacketPort`], its impl in [`crate::engine::packet`]),
//! an in-memory queue in unit tests and benches ([`MemPort`]).
//!
//! Every frame a port carries starts with a `virtio_net_hdr`
//! ([`crate::wire::vnet::VNET_HDR_LEN`] bytes), then the Ethernet frame.

use std::collections::VecDeque;
use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

/// The number of one of the engine's ports. The engine only numbers its ports; the
/// layer above decides what each is (the VPC layer: ENIs first, then one uplink per
/// internet gateway).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct PortIdx(pub u32);

impl PortIdx {
    /// The number as a `usize`, for indexing per-port vectors (`v.get(p.idx())`).
    #[inline]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// Prints the bare number.
impl fmt::Display for PortIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A source and sink of frames (each prefixed by a `virtio_net_hdr`).
pub trait Port {
    /// Reads one frame into `buf`; `Ok(None)` when none is waiting.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Sends one frame.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
    /// The end of a batch: hands over what `send` left pending (a vhost-user guest's
    /// interrupt). Nothing for a port whose `send` is complete on return (the default).
    #[inline]
    fn flush(&mut self) {}
}

/// An in-memory port: frames pushed into `rx` are received by the engine; frames the
/// engine sends land in `tx` (or are only counted when `keep_tx` is off, for benches).
#[derive(Debug, Default)]
pub struct MemPort {
    /// Frames waiting to be received by the engine.
    pub rx: VecDeque<Vec<u8>>,
    /// Frames the engine sent (when `keep_tx`).
    pub tx: Vec<Vec<u8>>,
    /// Whether to keep sent frames.
    pub keep_tx: bool,
    /// Frames sent.
    pub sent: u64,
    /// Bytes sent.
    pub sent_bytes: u64,
    /// Times the engine flushed it ([`Port::flush`], at the end of a batch that sent to it).
    pub flushes: u64,
}

impl MemPort {
    /// A port that keeps what it is sent.
    pub fn new() -> MemPort {
        MemPort {
            keep_tx: true,
            ..MemPort::default()
        }
    }

    /// A port that only counts what it is sent.
    pub fn sink() -> MemPort {
        MemPort::default()
    }
}

impl Port for MemPort {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(f) = self.rx.pop_front() else {
            return Ok(None);
        };
        let dst = buf
            .get_mut(..f.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
        dst.copy_from_slice(&f);
        Ok(Some(f.len()))
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.sent += 1;
        self.sent_bytes += frame.len() as u64;
        if self.keep_tx {
            self.tx.push(frame.to_vec());
        }
        Ok(())
    }

    fn flush(&mut self) {
        self.flushes += 1;
    }
}

/// A TAP device ([`crate::sys::tap`]) as a port: one frame per read or write, its
/// `virtio_net_hdr` first; an empty queue is `None`, not an error.
impl Port for crate::sys::tap::Tap {
    #[inline]
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.read_frame(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }

    #[inline]
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let n = self.write_frame(frame)?;
        if n != frame.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short TAP write"));
        }
        Ok(())
    }
}

/// A vhost-user back end ([`crate::sys::vhost_user`]) as a port: frames straight from and to
/// the guest's rings, its `virtio_net_hdr` first; no guest or an empty ring is `None`.
impl Port for crate::sys::vhost_user::VhostUserPort {
    #[inline]
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.recv_frame(buf)
    }

    #[inline]
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.send_frame(frame)
    }

    /// Interrupts the guest now for what this batch gave it (an atomic swap when nothing
    /// is pending), rather than one thread hop later by the vring worker.
    #[inline]
    fn flush(&mut self) {
        crate::sys::vhost_user::VhostUserPort::flush(self);
    }
}
