//! Handing frames from one forwarding worker to another.
//!
//! Each worker owns a shard of the flows ([`crate::engine::steer`]). A frame can be read
//! by a worker that does not own its flow: the kernel spreads a multi-queue TAP's frames
//! over the queues by a hash of its own (and learns, per flow, the queue its frames are
//! written on, so this stops after a flow's first packets), and a port with a single
//! queue (a socket, a vhost-user guest) is read by one worker only. Such a frame goes to
//! its owner's [`Inbox`] as [`HandoffKind::Rx`]. A frame a worker forwards to a port with
//! a single queue owned by another worker goes to that worker's inbox as
//! [`HandoffKind::Tx`], to be written as is.
//!
//! The inbox is a short mutex-protected queue: it is only taken on these cross-worker
//! paths, never by a frame its reader owns (the hit path). Buffers are recycled through
//! the inbox's free list, so a steady flow of handoffs allocates nothing; the queue is
//! bounded ([`INBOX_FRAMES`]) and a frame that finds it full is dropped and counted. The
//! owner is woken through its run loop's wake-up descriptor, once per burst (a flag says
//! whether a wake-up is already on its way).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::buf::BUF_SIZE;
use crate::engine::port::{Port, PortIdx};

/// Frames one inbox holds before it drops (at most this many buffers of
/// [`BUF_SIZE`] bytes are kept per worker, about 33 MiB when all are in use).
pub const INBOX_FRAMES: usize = 512;

/// What the receiving worker does with a handed-off frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffKind {
    /// Process it as if read from `port` (its flow is the receiver's).
    Rx,
    /// Write it, unchanged, to `port` (whose only queue the receiver owns).
    Tx,
}

/// One frame handed to another worker: the whole buffer (a `virtio_net_hdr`, then the
/// Ethernet frame in `buf[..len]`, and room after it for a longer answer).
#[derive(Debug)]
pub struct Handoff {
    /// Receive or transmit.
    pub kind: HandoffKind,
    /// The port it came in on (`Rx`) or goes out of (`Tx`).
    pub port: PortIdx,
    /// The configuration epoch the port number belongs to: a frame handed across an
    /// apply is dropped rather than attributed to a renumbered port.
    pub epoch: u64,
    /// Bytes of `buf` that hold the frame.
    pub len: usize,
    /// A [`BUF_SIZE`] buffer; give it back with [`Inbox::recycle`].
    pub buf: Box<[u8]>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Handoff>,
    free: Vec<Box<[u8]>>,
}

/// A worker's inbox: frames other workers hand it.
pub struct Inbox {
    queue: Mutex<Queue>,
    /// A wake-up is on its way (set by the first sender of a burst, cleared by the
    /// receiver before it drains).
    pending: AtomicBool,
    /// The write end of the worker's wake-up descriptor (non-blocking).
    waker: UnixStream,
    /// Frames dropped because the inbox was full (or a frame did not fit a buffer).
    dropped: AtomicU64,
    /// Frames queued here so far.
    received: AtomicU64,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .field("received", &self.received.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox that wakes its worker by writing a byte to `waker` (made non-blocking
    /// here: a full wake-up socket means the worker has a wake-up pending already).
    pub fn new(waker: UnixStream) -> io::Result<Inbox> {
        waker.set_nonblocking(true)?;
        Ok(Inbox {
            queue: Mutex::new(Queue::default()),
            pending: AtomicBool::new(false),
            waker,
            dropped: AtomicU64::new(0),
            received: AtomicU64::new(0),
        })
    }

    /// Queues a copy of `frame` for the worker, waking it if no wake-up is on its way.
    /// Returns false (and counts a drop) when the inbox is full or the frame is larger
    /// than a buffer.
    pub fn push(&self, kind: HandoffKind, port: PortIdx, epoch: u64, frame: &[u8]) -> bool {
        if frame.len() > BUF_SIZE {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        {
            let Ok(mut q) = self.queue.lock() else {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            };
            if q.items.len() >= INBOX_FRAMES {
                drop(q);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            let mut buf = q
                .free
                .pop()
                .unwrap_or_else(|| vec![0u8; BUF_SIZE].into_boxed_slice());
            buf[..frame.len()].copy_from_slice(frame);
            q.items.push_back(Handoff {
                kind,
                port,
                epoch,
                len: frame.len(),
                buf,
            });
        }
        self.received.fetch_add(1, Ordering::Relaxed);
        if !self.pending.swap(true, Ordering::AcqRel) {
            // WouldBlock: the socket is full of wake-ups the worker has not read yet.
            let _ = (&self.waker).write(&[1]);
        }
        true
    }

    /// Moves every queued frame to `out` (the receiving worker calls this after a
    /// wake-up; later pushes wake it again).
    pub fn take(&self, out: &mut VecDeque<Handoff>) {
        self.pending.store(false, Ordering::Release);
        if let Ok(mut q) = self.queue.lock() {
            out.append(&mut q.items);
        }
    }

    /// Gives a handed-off frame's buffer back for the next handoff.
    pub fn recycle(&self, buf: Box<[u8]>) {
        if let Ok(mut q) = self.queue.lock() {
            if q.free.len() < INBOX_FRAMES {
                q.free.push(buf);
            }
        }
    }

    /// Frames dropped because the inbox was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Frames queued here so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// A port whose only queue another worker owns (a socket, a vhost-user guest, a packet
/// socket): what this worker sends to it is handed to that worker
/// ([`HandoffKind::Tx`]), which writes it. Nothing is ever read from it here.
#[derive(Debug)]
pub struct RemotePort {
    inboxes: Arc<[Inbox]>,
    owner: usize,
    port: PortIdx,
    epoch: u64,
}

impl RemotePort {
    /// Port `port` (its number in configuration epoch `epoch`) owned by worker `owner`
    /// of the group whose inboxes are `inboxes`.
    pub fn new(inboxes: Arc<[Inbox]>, owner: usize, port: PortIdx, epoch: u64) -> RemotePort {
        RemotePort {
            inboxes,
            owner,
            port,
            epoch,
        }
    }
}

impl Port for RemotePort {
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<Option<usize>> {
        Ok(None)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let queued = self
            .inboxes
            .get(self.owner)
            .is_some_and(|inbox| inbox.push(HandoffKind::Tx, self.port, self.epoch, frame));
        if queued {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the owning worker's inbox is full",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn frames_arrive_in_order_with_one_wake_up_per_burst_and_buffers_are_reused() {
        let (waker, mut woken) = UnixStream::pair().unwrap();
        let inbox = Inbox::new(waker).unwrap();
        assert!(inbox.push(HandoffKind::Rx, PortIdx(3), 7, b"first"));
        assert!(inbox.push(HandoffKind::Tx, PortIdx(1), 7, b"second"));
        woken.set_nonblocking(true).unwrap();
        let mut b = [0u8; 8];
        assert_eq!(woken.read(&mut b).unwrap(), 1, "one wake-up for the burst");
        let mut out = VecDeque::new();
        inbox.take(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].kind, HandoffKind::Rx);
        assert_eq!(out[0].port, PortIdx(3));
        assert_eq!(&out[0].buf[..out[0].len], b"first");
        assert_eq!(&out[1].buf[..out[1].len], b"second");
        let first = out.pop_front().unwrap().buf;
        let ptr = first.as_ptr();
        inbox.recycle(first);
        // After a take, the next push wakes again, and reuses the recycled buffer.
        assert!(inbox.push(HandoffKind::Rx, PortIdx(0), 8, b"third"));
        assert_eq!(woken.read(&mut b).unwrap(), 1);
        let mut out = VecDeque::new();
        inbox.take(&mut out);
        assert_eq!(out[0].buf.as_ptr(), ptr);
        assert_eq!(inbox.received(), 3);
    }

    #[test]
    fn a_full_inbox_drops_and_counts() {
        let (waker, _woken) = UnixStream::pair().unwrap();
        let inbox = Inbox::new(waker).unwrap();
        for _ in 0..INBOX_FRAMES {
            assert!(inbox.push(HandoffKind::Rx, PortIdx(0), 1, b"x"));
        }
        assert!(!inbox.push(HandoffKind::Rx, PortIdx(0), 1, b"x"));
        assert!(!inbox.push(HandoffKind::Rx, PortIdx(0), 1, &vec![0; BUF_SIZE + 1]));
        assert_eq!(inbox.dropped(), 2);
    }
}
