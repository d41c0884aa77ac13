//! A relay between the front end (QEMU) and the `vhost-user-backend` daemon, on the control
//! socket only (the data path is shared memory and eventfds and never passes here).
//!
//! Why: QEMU's virtio-net sends `VHOST_USER_SET_VRING_ENABLE` at machine reset and at every
//! guest feature write, i.e. before `VHOST_USER_SET_FEATURES`, while the `vhost` crate's request
//! handler rejects that request until `VHOST_USER_F_PROTOCOL_FEATURES` is acked — and ends the
//! connection on the rejection. Offering no protocol features is no way out: QEMU 7.2 then fails
//! to restore the ring state when the guest driver starts and crashes. So the relay answers
//! those early requests itself (with an ack when one is asked for) and passes everything else
//! through unchanged, file descriptors included. QEMU enables the rings again once it has set
//! the features (`vhost_net_start`), so nothing is lost.
//!
//! Each message is relayed whole: the 12-byte header (request, flags, size), then `size`
//! bytes; a size above [`MAX_PAYLOAD`] is garbage and ends the connection.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use vmm_sys_util::sock_ctrl_msg::ScmSocket;

use super::lock;

/// `VHOST_USER_SET_FEATURES`.
const SET_FEATURES: u32 = 2;
/// `VHOST_USER_SET_VRING_ENABLE`.
const SET_VRING_ENABLE: u32 = 18;
/// Header flags: protocol version 1, a reply, a reply wanted.
const VERSION_1: u32 = 0x1;
const REPLY: u32 = 0x4;
const NEED_REPLY: u32 = 0x8;
/// The largest payload relayed (the protocol's largest messages are a few KiB).
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// The most file descriptors one message may carry (`VHOST_MEMORY_BASELINE_NREGIONS` is 8).
const MAX_FDS: usize = 32;

/// The two relay threads of one connection.
pub(super) struct Relay {
    up: JoinHandle<io::Result<()>>,
    down: JoinHandle<()>,
}

impl Relay {
    /// Starts relaying between `front` (QEMU) and `back` (the daemon).
    pub(super) fn start(front: UnixStream, back: UnixStream) -> io::Result<Relay> {
        let front_w = Arc::new(Mutex::new(front.try_clone()?));
        let back_r = back.try_clone()?;
        let fw = front_w.clone();
        let up = std::thread::Builder::new()
            .name("vhost-user-up".into())
            .spawn(move || {
                let r = front_to_back(&front, &back, &fw);
                let _ = back.shutdown(Shutdown::Both);
                let _ = front.shutdown(Shutdown::Both);
                r
            })?;
        let down = std::thread::Builder::new()
            .name("vhost-user-down".into())
            .spawn(move || {
                back_to_front(&back_r, &front_w);
                let _ = back_r.shutdown(Shutdown::Both);
                let _ = lock(&front_w).shutdown(Shutdown::Both);
            })?;
        Ok(Relay { up, down })
    }

    /// Waits for both threads; an error is garbage from the front end.
    pub(super) fn join(self) -> io::Result<()> {
        let r = self
            .up
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("relay thread panicked")));
        let _ = self.down.join();
        r
    }
}

/// Receives up to `buf.len()` bytes and any file descriptors sent with them.
fn recv_with_fds(s: &UnixStream, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut raw: [RawFd; MAX_FDS] = [-1; MAX_FDS];
    let mut iov = [libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }];
    // SAFETY: the iovec points at `buf`, live and writable for its length for the whole call;
    // `raw` has room for MAX_FDS descriptors and the call reports how many it filled.
    let (n, nfds) = unsafe { s.recv_with_fds(&mut iov, &mut raw) }.map_err(io::Error::from)?;
    for &fd in raw.iter().take(nfds) {
        if fd >= 0 {
            // SAFETY: the kernel just installed `fd` in our table for this message; nothing
            // else knows it, so OwnedFd may own (and close) it.
            fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Ok(n)
}

fn front_to_back(
    front: &UnixStream,
    mut back: &UnixStream,
    front_w: &Mutex<UnixStream>,
) -> io::Result<()> {
    let mut features_set = false;
    // The last early SET_VRING_ENABLE of each ring (header with NEED_REPLY cleared, payload),
    // replayed right after SET_FEATURES.
    let mut deferred: Vec<([u8; 12], Vec<u8>)> = Vec::new();
    let mut payload = Vec::with_capacity(4096);
    loop {
        let mut hdr = [0u8; 12];
        let mut fds = Vec::new();
        let n = recv_with_fds(front, &mut hdr, &mut fds)?;
        if n == 0 {
            return Ok(()); // the front end hung up between messages
        }
        (&*front).read_exact(&mut hdr[n..])?;
        let word = |i: usize| u32::from_le_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
        let (req, flags, size) = (word(0), word(4), word(8) as usize);
        if size > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("vhost-user message {req} of {size} bytes"),
            ));
        }
        payload.resize(size, 0);
        (&*front).read_exact(&mut payload)?;
        match req {
            SET_FEATURES => features_set = true,
            SET_VRING_ENABLE if !features_set => {
                let index = payload.get(..4).map(|b| b.to_vec());
                tracing::debug!(
                    state = ?payload,
                    "vhost-user: early SET_VRING_ENABLE answered by the relay, deferred"
                );
                let mut h = hdr;
                h[4..8].copy_from_slice(&(flags & !NEED_REPLY).to_le_bytes());
                deferred.retain(|(_, p)| p.get(..4).map(|b| b.to_vec()) != index);
                deferred.push((h, payload.clone()));
                if flags & NEED_REPLY != 0 {
                    let mut reply = [0u8; 20];
                    reply[..4].copy_from_slice(&req.to_le_bytes());
                    reply[4..8].copy_from_slice(&(VERSION_1 | REPLY).to_le_bytes());
                    reply[8..12].copy_from_slice(&8u32.to_le_bytes());
                    lock(front_w).write_all(&reply)?;
                }
                continue;
            }
            _ => {}
        }
        tracing::trace!(
            req,
            flags,
            size,
            fds = fds.len(),
            "vhost-user request relayed"
        );
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let total = hdr.len() + payload.len();
        let sent = back
            .send_with_fds(&[&hdr[..], &payload[..]], &raw)
            .map_err(io::Error::from)?;
        // The descriptors went with the first byte; the rest (rarely any) goes plainly.
        if sent < hdr.len() {
            back.write_all(&hdr[sent..])?;
            back.write_all(&payload)?;
        } else if sent < total {
            back.write_all(&payload[sent - hdr.len()..])?;
        }
        drop(fds);
        if req == SET_FEATURES {
            for (h, p) in deferred.drain(..) {
                back.write_all(&h)?;
                back.write_all(&p)?;
            }
        }
    }
}

fn back_to_front(mut back: &UnixStream, front_w: &Mutex<UnixStream>) {
    let mut buf = [0u8; 4096];
    loop {
        match back.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if lock(front_w).write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
