//! A relay between the front end (QEMU) and the `vhost-user-backend` daemon, on the control
//! socket only (the data path is shared memory and eventfds and never passes here).
//!
//! Why: QEMU's virtio-net (7.2 here) sends `VHOST_USER_SET_VRING_ENABLE` at machine reset and at
//! every guest feature write, i.e. before `VHOST_USER_SET_FEATURES`, while the `vhost` crate's
//! request handler rejects that request until `VHOST_USER_F_PROTOCOL_FEATURES` is acked — and
//! ends the connection on the rejection. And QEMU does not send it again once the features are
//! set, so the rings would stay disabled. The relay therefore answers those early requests
//! itself (with an ack when one is asked for), keeps the last state asked for each ring, and
//! replays those right after it has passed `SET_FEATURES` on (without asking for a reply, so
//! nothing unexpected reaches QEMU). Everything else goes through unchanged, file descriptors
//! included.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn msg(req: u32, flags: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&req.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn early_ring_enables_are_acked_deferred_and_replayed_after_set_features() {
        let (front, mut qemu) = UnixStream::pair().unwrap();
        let (back, mut daemon) = UnixStream::pair().unwrap();
        let relay = Relay::start(front, back).unwrap();
        let enable = |ring: u32, on: u32| {
            let mut p = ring.to_le_bytes().to_vec();
            p.extend_from_slice(&on.to_le_bytes());
            p
        };
        // Ring 0 disabled then enabled (with a reply wanted), ring 1 enabled.
        qemu.write_all(&msg(SET_VRING_ENABLE, VERSION_1, &enable(0, 0)))
            .unwrap();
        qemu.write_all(&msg(
            SET_VRING_ENABLE,
            VERSION_1 | NEED_REPLY,
            &enable(0, 1),
        ))
        .unwrap();
        let mut reply = [0u8; 20];
        qemu.read_exact(&mut reply).unwrap();
        assert_eq!(
            reply[..12],
            msg(SET_VRING_ENABLE, VERSION_1 | REPLY, &[0; 8])[..12]
        );
        assert_eq!(reply[12..], [0; 8]);
        qemu.write_all(&msg(SET_VRING_ENABLE, VERSION_1, &enable(1, 1)))
            .unwrap();
        let features = msg(SET_FEATURES, VERSION_1, &(1u64 << 30).to_le_bytes());
        qemu.write_all(&features).unwrap();
        let mut got = vec![0u8; features.len() + 2 * 20];
        daemon.read_exact(&mut got).unwrap();
        assert_eq!(got[..features.len()], features[..]);
        let rest = &got[features.len()..];
        assert_eq!(
            rest[..20],
            msg(SET_VRING_ENABLE, VERSION_1, &enable(0, 1))[..]
        );
        assert_eq!(
            rest[20..],
            msg(SET_VRING_ENABLE, VERSION_1, &enable(1, 1))[..]
        );
        // After the features, the request goes through as is, and replies come back.
        let late = msg(SET_VRING_ENABLE, VERSION_1, &enable(1, 0));
        qemu.write_all(&late).unwrap();
        let mut got = vec![0u8; late.len()];
        daemon.read_exact(&mut got).unwrap();
        assert_eq!(got, late);
        daemon.write_all(b"reply").unwrap();
        let mut r = [0u8; 5];
        qemu.read_exact(&mut r).unwrap();
        assert_eq!(&r, b"reply");
        // An absurd size is garbage: the relay ends with an error and closes both sides.
        qemu.write_all(&[1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f])
            .unwrap();
        assert!(relay.join().is_err());
        assert_eq!(daemon.read(&mut r).unwrap(), 0);
    }
}
