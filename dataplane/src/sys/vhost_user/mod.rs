//! A vhost-user net device back end as a `Port`: a QEMU guest's virtio-net NIC whose queues
//! live in the guest's memory, which we map and read and write directly.
//!
//! Built on the rust-vmm crates: `vhost` (the protocol and the Unix socket), `vhost-user-backend`
//! (the request handler, the memory table, a vring worker thread), `virtio-queue` (split rings,
//! descriptor chains checked against the memory map), `vm-memory` (the mapped guest memory).
//! Its only `unsafe` is in the `proxy` submodule (receiving file descriptors on the control
//! socket).
//!
//! # Threads
//! - *server* (`vhost-user:<path>`): listens on the socket, accepts one front end at a time,
//!   runs a fresh `VhostUserDaemon` per connection and waits for it to end; then drops it (its
//!   threads joined, the guest memory unmapped) and listens again — a rebooted guest or a
//!   restarted QEMU on the same socket is picked up.
//! - *protocol* (the daemon's): vhost-user requests (features, memory table, vring setup).
//! - *vring worker* (the daemon's): wakes on guest kicks. A transmit kick only disables further
//!   kicks and makes the port's eventfd readable; it moves no data.
//! - the caller's (the run loop's): `recv` ([`VhostUserPort::recv_frame`]) pops frames off the
//!   guest's transmit ring and `send` ([`VhostUserPort::send_frame`]) fills its receive ring,
//!   under the rings' mutexes. The `Port` impl is in `engine::port`, next to the TAP's, so
//!   that `sys` does not depend on `engine`.
//!
//! # Copies
//! One each way, the one the pipeline needs: `recv` copies guest memory straight into the
//! caller's buffer, `send` copies the caller's frame straight into guest buffers. There is no
//! queue of frames in between: the guest's transmit ring is the bounded queue (a guest that
//! sends faster than we drain waits on its own ring, as on a TAP), the receive ring the other.
//!
//! # Interrupts (call eventfd), batched
//! - transmit completions: signalled when `recv` finds the ring empty (the end of the run loop's
//!   drain) or every [`TX_SIGNAL_BATCH`] frames;
//! - receive: `send` never signals itself. The first `send` after a signal pokes an eventfd that
//!   the vring worker watches; the worker then signals once for everything added so far. A run
//!   loop batch of sends thus costs one eventfd write and one interrupt, and no caller has to
//!   remember a flush. [`VhostUserPort::flush`] signals at once, for a caller that knows its
//!   batch ended.
//!
//! With `VIRTIO_RING_F_EVENT_IDX` the guest further says which interrupts it wants.
//!
//! # A guest misbehaving or going away
//! Chains that point outside guest memory, are too short, or too large are returned to the guest
//! unused and counted ([`VhostUserStats`]); garbage on the socket ends that connection (counted)
//! and the server listens again. A guest that disconnects mid-frame leaves its mapping with us
//! until the daemon is dropped, so a half-read frame is never a fault.

mod backend;
#[allow(unsafe_code)]
mod proxy;
mod ring;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use vhost::vhost_user::Listener;

use vhost_user_backend::{VhostUserDaemon, VringT};
use virtio_queue::QueueT;
use vm_memory::{GuestAddressSpace, GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

pub use backend::{
    protocol_features, Negotiated, DEVICE_FEATURES, MAX_QUEUE_SIZE, VHOST_USER_F_PROTOCOL_FEATURES,
};
pub use ring::{pop_frame, push_frame, Dropped, NotPushed, Popped, GUEST_HDR_LEN_MRG};

use backend::{signal, Gm, NetBackend, Vring, FLUSH_EVENT, RX_QUEUE, TX_QUEUE};

/// Transmit completions are signalled at least every this many frames within one drain.
pub const TX_SIGNAL_BATCH: u32 = 64;

/// How often the server thread looks at its stop flag while no front end is connected.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// Why a [`VhostUserPort`] could not be created.
#[derive(Debug, thiserror::Error)]
pub enum VhostUserError {
    /// The socket could not be bound.
    #[error("cannot listen on vhost-user socket {path}: {source}")]
    Listen {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An eventfd, an epoll set or the server thread could not be created.
    #[error("vhost-user port setup ({what}): {source}")]
    Setup {
        /// What failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Counters of one port, over all its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VhostUserStats {
    /// Front ends accepted.
    pub connections: u64,
    /// Front ends gone (closed the socket, were killed, or were cut off for garbage).
    pub disconnects: u64,
    /// Connections that ended on a protocol error (garbage on the socket) rather than a close.
    pub protocol_errors: u64,
    /// Frames taken from the guest (its transmit ring).
    pub from_guest: u64,
    /// Bytes of those frames (10-byte header included).
    pub from_guest_bytes: u64,
    /// Frames given to the guest (its receive ring).
    pub to_guest: u64,
    /// Bytes of those frames (10-byte header included).
    pub to_guest_bytes: u64,
    /// Descriptor chains the guest made that were unusable (outside its memory, too short,
    /// unreadable): returned unused and dropped.
    pub malformed: u64,
    /// Guest frames larger than the caller's buffer: dropped.
    pub too_large: u64,
    /// Frames for the guest dropped because it had no receive buffers posted (or not enough).
    pub no_rx_buffers: u64,
    /// Frames for the guest dropped because no guest was connected or its ring was not up.
    pub no_guest: u64,
    /// Interrupts sent to the guest (call eventfd writes).
    pub interrupts: u64,
    /// Super-frames (GSO) taken from the guest.
    pub from_guest_gso: u64,
}

#[derive(Debug, Default)]
struct AtomicStats {
    connections: AtomicU64,
    disconnects: AtomicU64,
    protocol_errors: AtomicU64,
    from_guest: AtomicU64,
    from_guest_bytes: AtomicU64,
    to_guest: AtomicU64,
    to_guest_bytes: AtomicU64,
    malformed: AtomicU64,
    too_large: AtomicU64,
    no_rx_buffers: AtomicU64,
    no_guest: AtomicU64,
    interrupts: AtomicU64,
    from_guest_gso: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl AtomicStats {
    fn snapshot(&self) -> VhostUserStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        VhostUserStats {
            connections: g(&self.connections),
            disconnects: g(&self.disconnects),
            protocol_errors: g(&self.protocol_errors),
            from_guest: g(&self.from_guest),
            from_guest_bytes: g(&self.from_guest_bytes),
            to_guest: g(&self.to_guest),
            to_guest_bytes: g(&self.to_guest_bytes),
            malformed: g(&self.malformed),
            too_large: g(&self.too_large),
            no_rx_buffers: g(&self.no_rx_buffers),
            no_guest: g(&self.no_guest),
            interrupts: g(&self.interrupts),
            from_guest_gso: g(&self.from_guest_gso),
        }
    }
}

/// The state of the connected front end, filled in by the protocol and worker threads.
struct Conn {
    gen: u64,
    mem: Option<Gm>,
    vrings: Option<Vec<Vring>>,
    negotiated: Negotiated,
}

/// What the port, the server thread and each connection's backend share.
struct Shared {
    /// The current connection, if any.
    conn: Mutex<Option<Conn>>,
    /// Readable while the guest's transmit ring may hold frames: the port's fd.
    ready: EventFd,
    /// Written by `send` when a receive interrupt becomes due; watched by the vring worker.
    flush_notifier: EventNotifier,
    /// The worker's end of `flush_notifier`.
    flush_consumer: EventConsumer,
    /// Receive used entries were added and not yet signalled.
    rx_signal_pending: AtomicBool,
    /// The port is being dropped.
    stop: AtomicBool,
    /// The current front end's socket, to cut it off (on drop).
    shutdown: Mutex<Option<UnixStream>>,
    mac: [u8; 6],
    stats: AtomicStats,
}

/// Locks `m`, taking over a lock poisoned by a panicked thread (the state stays consistent:
/// every critical section leaves it whole).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A vhost-user net back end listening on a Unix socket, a `Port` of the engine. Its fd
/// ([`AsRawFd`]) is readable (level-triggered) while the guest may have frames for us.
pub struct VhostUserPort {
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
    path: PathBuf,
    used: Vec<(u16, u32)>,
    tx_unsignalled: u32,
}

impl std::fmt::Debug for VhostUserPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VhostUserPort")
            .field("path", &self.path)
            .field("stats", &self.stats())
            .finish()
    }
}

impl VhostUserPort {
    /// Listens on `path` (mode 0600; an existing file there is replaced; the parent directory
    /// is created, mode 0700, when missing) for a front end (QEMU
    /// `-chardev socket,path=…,id=c -netdev vhost-user,chardev=c`), offering a NIC with `mac`
    /// in its config space. The guest's memory must be shared (`memory-backend-memfd,share=on`).
    /// The socket file goes with the port (unless another port has replaced it meanwhile).
    pub fn listen(path: &Path, mac: [u8; 6]) -> Result<VhostUserPort, VhostUserError> {
        let setup = |what| move |source| VhostUserError::Setup { what, source };
        let listen_err = |source| VhostUserError::Listen {
            path: path.to_path_buf(),
            source,
        };
        let _ = std::fs::remove_file(path);
        let listener = crate::sys::stream::bind_restricted(path).map_err(|(_, e)| listen_err(e))?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        let ino = std::fs::metadata(path).map_err(listen_err)?.ino();
        // The daemon listens on a private abstract socket; the relay (`proxy`) connects it
        // to each front end.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "vpcd-vhost-user-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let inner_addr = SocketAddr::from_abstract_name(name.as_bytes()).map_err(listen_err)?;
        let inner = UnixListener::bind_addr(&inner_addr).map_err(listen_err)?;
        let ready = EventFd::new(EFD_NONBLOCK).map_err(setup("eventfd"))?;
        let (flush_consumer, flush_notifier) =
            new_event_consumer_and_notifier(EventFlag::NONBLOCK | EventFlag::CLOEXEC)
                .map_err(setup("eventfd"))?;
        let shared = Arc::new(Shared {
            conn: Mutex::new(None),
            ready,
            flush_notifier,
            flush_consumer,
            rx_signal_pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            shutdown: Mutex::new(None),
            mac,
            stats: AtomicStats::default(),
        });
        let poll = Epoll::new().map_err(setup("epoll"))?;
        poll.ctl(
            ControlOperation::Add,
            listener.as_raw_fd(),
            EpollEvent::new(EventSet::IN, 0),
        )
        .map_err(setup("epoll"))?;
        let s = shared.clone();
        let server_path = path.to_path_buf();
        let name = format!("vhost-user:{}", path.display());
        let server = std::thread::Builder::new()
            .name("vhost-user".into())
            .spawn(move || {
                let inner = Inner {
                    listener: Listener::from(inner),
                    addr: inner_addr,
                };
                serve(&s, &listener, inner, &poll, &name);
                // Only our own socket file: a later port may have replaced it already.
                if std::fs::metadata(&server_path).is_ok_and(|m| m.ino() == ino) {
                    let _ = std::fs::remove_file(&server_path);
                }
            })
            .map_err(setup("server thread"))?;
        Ok(VhostUserPort {
            shared,
            server: Some(server),
            path: path.to_path_buf(),
            used: Vec::with_capacity(64),
            tx_unsignalled: 0,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counters so far.
    pub fn stats(&self) -> VhostUserStats {
        self.shared.stats.snapshot()
    }

    /// Whether a front end is connected and has set up both rings (the guest driver is up).
    pub fn is_up(&self) -> bool {
        let conn = lock(&self.shared.conn);
        conn.as_ref()
            .and_then(|c| c.vrings.as_ref())
            .is_some_and(|v| {
                v.iter()
                    .all(|r| r.get_ref().get_queue().ready() && r.get_ref().is_enabled())
            })
    }

    /// Signals the guest now for the frames `send` gave it (instead of leaving it to the
    /// worker thread): for a caller at the end of its batch.
    pub fn flush(&mut self) {
        if self.shared.rx_signal_pending.swap(false, Ordering::AcqRel) {
            let conn = lock(&self.shared.conn);
            if let Some(rx) = conn
                .as_ref()
                .and_then(|c| c.vrings.as_ref())
                .and_then(|v| v.get(RX_QUEUE))
            {
                signal(rx, &self.shared);
            }
        }
    }

    fn signal_tx(&mut self, conn: &Conn) {
        if self.tx_unsignalled > 0 {
            self.tx_unsignalled = 0;
            if let Some(tx) = conn.vrings.as_ref().and_then(|v| v.get(TX_QUEUE)) {
                signal(tx, &self.shared);
            }
        }
    }
}

impl VhostUserPort {
    /// Takes the next frame the guest sent (its 10-byte `virtio_net_hdr` first) into `buf`;
    /// `None` when none is waiting (or no guest is up). Never fails on guest data: unusable
    /// chains are counted and skipped. (`Port::recv` in `engine::port`.)
    pub fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let shared = self.shared.clone();
        let conn = lock(&shared.conn);
        let Some(c) = conn.as_ref() else {
            let _ = shared.ready.read();
            return Ok(None);
        };
        let (Some(mem), Some(tx)) = (&c.mem, c.vrings.as_ref().and_then(|v| v.get(TX_QUEUE)))
        else {
            let _ = shared.ready.read();
            return Ok(None);
        };
        let hdr_len = c.negotiated.hdr_len;
        let guard = mem.memory();
        let mut rechecked = false;
        loop {
            let popped = {
                let mut st = tx.get_mut();
                if !st.get_queue().ready() || !st.is_enabled() {
                    drop(st);
                    let _ = shared.ready.read();
                    return Ok(None);
                }
                let p = ring::pop_frame(st.get_queue_mut(), &guard, hdr_len, buf);
                match p {
                    Popped::Frame { head, .. } | Popped::Dropped { head, .. } => {
                        // A head the guest made up is its own problem; nothing to undo.
                        let _ = st.add_used(head, 0);
                    }
                    Popped::Empty => {
                        if !rechecked {
                            // Reset the readiness before asking for kicks again, so that a
                            // kick from here on makes the fd readable anew.
                            let _ = shared.ready.read();
                            rechecked = true;
                            if st.enable_notification().unwrap_or(false) {
                                continue;
                            }
                        }
                    }
                }
                p
            };
            match popped {
                Popped::Frame { len, .. } => {
                    let s = &shared.stats;
                    add(&s.from_guest, 1);
                    add(&s.from_guest_bytes, len as u64);
                    if buf.get(1).is_some_and(|g| g & 0x7f != 0) {
                        add(&s.from_guest_gso, 1);
                    }
                    self.tx_unsignalled += 1;
                    if self.tx_unsignalled >= TX_SIGNAL_BATCH {
                        self.signal_tx(c);
                    }
                    return Ok(Some(len));
                }
                Popped::Dropped { why, .. } => {
                    self.tx_unsignalled += 1;
                    match why {
                        Dropped::Malformed => add(&shared.stats.malformed, 1),
                        Dropped::TooLarge => add(&shared.stats.too_large, 1),
                    }
                    tracing::debug!(?why, path = %self.path.display(), "guest frame dropped");
                }
                Popped::Empty => {
                    self.signal_tx(c);
                    return Ok(None);
                }
            }
        }
    }

    /// Gives `frame` (its 10-byte `virtio_net_hdr` first) to the guest, or drops and counts it
    /// (no guest, no receive buffers). The interrupt follows per batch (see the module doc).
    /// (`Port::send` in `engine::port`.)
    pub fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let shared = self.shared.clone();
        let s = &shared.stats;
        let conn = lock(&shared.conn);
        let (Some(c), true) = (
            conn.as_ref(),
            frame.len() >= crate::wire::vnet::VNET_HDR_LEN,
        ) else {
            add(&s.no_guest, 1);
            return Ok(());
        };
        let (Some(mem), Some(rx)) = (&c.mem, c.vrings.as_ref().and_then(|v| v.get(RX_QUEUE)))
        else {
            add(&s.no_guest, 1);
            return Ok(());
        };
        let guard = mem.memory();
        {
            let mut st = rx.get_mut();
            if !st.get_queue().ready() || !st.is_enabled() {
                add(&s.no_guest, 1);
                return Ok(());
            }
            let n = c.negotiated;
            let r = ring::push_frame(
                st.get_queue_mut(),
                &guard,
                n.hdr_len,
                n.mrg_rxbuf,
                frame,
                &mut self.used,
            );
            for &(head, len) in &self.used {
                let _ = st.add_used(head, len);
            }
            match r {
                Ok(()) => {
                    add(&s.to_guest, 1);
                    add(&s.to_guest_bytes, frame.len() as u64);
                }
                Err(NotPushed::NoBuffers) => add(&s.no_rx_buffers, 1),
                Err(NotPushed::Malformed) => add(&s.malformed, 1),
                Err(NotPushed::ShortFrame) => add(&s.no_guest, 1),
            }
        }
        if !self.used.is_empty() && !shared.rx_signal_pending.swap(true, Ordering::AcqRel) {
            let _ = shared.flush_notifier.notify();
        }
        Ok(())
    }
}

impl AsRawFd for VhostUserPort {
    fn as_raw_fd(&self) -> RawFd {
        self.shared.ready.as_raw_fd()
    }
}

impl Drop for VhostUserPort {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(front) = lock(&self.shared.shutdown).take() {
            let _ = front.shutdown(std::net::Shutdown::Both);
        }
        if let Some(t) = self.server.take() {
            if t.join().is_err() {
                tracing::error!(path = %self.path.display(), "vhost-user server thread panicked");
            }
        }
    }
}

/// The daemon's private listener and its address.
struct Inner {
    listener: Listener,
    addr: SocketAddr,
}

/// The server thread: one front end at a time, a fresh daemon (and relay) for each.
fn serve(
    shared: &Arc<Shared>,
    listener: &UnixListener,
    mut inner: Inner,
    poll: &Epoll,
    name: &str,
) {
    let mut events = vec![EpollEvent::default(); 1];
    let mut gen = 0u64;
    while !shared.stop.load(Ordering::Acquire) {
        match poll.wait(ACCEPT_POLL.as_millis() as i32, &mut events) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!(%e, name, "vhost-user listener poll failed; port stops listening");
                return;
            }
        }
        let front = match listener.accept() {
            Ok((front, _)) => front,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                tracing::warn!(%e, name, "vhost-user accept failed");
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        gen += 1;
        serve_one(shared, front, &mut inner, gen, name);
    }
}

/// Serves one front end until it goes; then forgets everything of it.
fn serve_one(shared: &Arc<Shared>, front: UnixStream, inner: &mut Inner, gen: u64, name: &str) {
    let backend = Arc::new(NetBackend {
        shared: shared.clone(),
        gen,
        exit_fds: Mutex::new(Vec::new()),
    });
    let mem = GuestMemoryAtomic::new(GuestMemoryMmap::new());
    let mut daemon = match VhostUserDaemon::new(name.to_string(), backend, mem) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(%e, name, "cannot create vhost-user daemon");
            return;
        }
    };
    for h in daemon.get_epoll_handlers() {
        if let Err(e) =
            h.register_listener(shared.flush_consumer.as_raw_fd(), EventSet::IN, FLUSH_EVENT)
        {
            tracing::error!(%e, name, "cannot watch the interrupt eventfd");
        }
    }
    *lock(&shared.conn) = Some(Conn {
        gen,
        mem: None,
        vrings: None,
        negotiated: Negotiated::from_features(0),
    });
    let started = UnixStream::connect_addr(&inner.addr)
        .map_err(|e| e.to_string())
        .and_then(|back| {
            daemon
                .start(&mut inner.listener)
                .map_err(|e| e.to_string())?;
            let cut = front.try_clone().map_err(|e| e.to_string())?;
            let relay = proxy::Relay::start(front, back).map_err(|e| e.to_string())?;
            Ok((relay, cut))
        });
    let (relay, cut) = match started {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%e, name, "vhost-user connection setup failed");
            *lock(&shared.conn) = None;
            return;
        }
    };
    add(&shared.stats.connections, 1);
    tracing::info!(name, gen, "vhost-user front end connected");
    if shared.stop.load(Ordering::Acquire) {
        let _ = cut.shutdown(std::net::Shutdown::Both);
    }
    *lock(&shared.shutdown) = Some(cut);
    let result = daemon.wait();
    let relayed = relay.join();
    *lock(&shared.shutdown) = None;
    // Forget the rings and the memory map before the daemon goes: with its handler (and the
    // worker thread it joins) they were the last holders of the guest mapping.
    *lock(&shared.conn) = None;
    shared.rx_signal_pending.store(false, Ordering::Release);
    drop(daemon);
    let _ = shared.ready.write(1);
    add(&shared.stats.disconnects, 1);
    // The front end going away (even mid-message) is a disconnect, not garbage.
    let result = match result {
        Err(vhost_user_backend::Error::HandleRequest(
            vhost::vhost_user::Error::Disconnected
            | vhost::vhost_user::Error::PartialMessage
            | vhost::vhost_user::Error::SocketBroken(_),
        )) => Ok(()),
        r => r,
    };
    match (result, relayed) {
        (Ok(()), Ok(())) => tracing::info!(name, gen, "vhost-user front end disconnected"),
        (Err(e), _) => {
            add(&shared.stats.protocol_errors, 1);
            tracing::warn!(%e, name, gen, "vhost-user front end cut off");
        }
        (_, Err(e)) => {
            add(&shared.stats.protocol_errors, 1);
            tracing::warn!(%e, name, gen, "vhost-user front end cut off by the relay");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Open descriptors of this process.
    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    /// Regression (the `vhost_user` fuzz target's hang, `fuzz/regressions/vhost_user/`):
    /// `vhost-user-backend` leaked each connection's exit eventfd, and after about 20,000
    /// front ends every new one was refused with `EMFILE` (and not even counted).
    #[test]
    fn connections_leave_no_descriptor_behind() {
        let dir = std::env::temp_dir().join(format!("vu-fd-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fds.sock");
        let port = VhostUserPort::listen(&path, [2, 0, 0, 0, 0, 1]).unwrap();
        // GET_FEATURES, then a hang-up.
        let get_features = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        let round = |n: u64| {
            let mut s = UnixStream::connect(&path).unwrap();
            s.write_all(&get_features).unwrap();
            let mut reply = [0u8; 20];
            s.read_exact(&mut reply).unwrap();
            drop(s);
            wait_until("the disconnect", || port.stats().disconnects == n);
        };
        round(1);
        let before = open_fds();
        for n in 2..=65 {
            round(n);
        }
        // Other tests open descriptors meanwhile; a leak would be one per connection (64).
        let grown = open_fds().saturating_sub(before);
        assert!(grown < 32, "{grown} descriptors more after 64 connections");
        assert_eq!(port.stats().connections, 65);
        drop(port);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_on_the_socket_is_counted_and_the_port_listens_again() {
        let dir = std::env::temp_dir().join(format!("vu-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("garbage.sock");
        let mut port = VhostUserPort::listen(&path, [2, 0, 0, 0, 0, 1]).unwrap();
        assert!(!port.is_up());
        let mut buf = vec![0u8; 2048];
        assert_eq!(port.recv_frame(&mut buf).unwrap(), None);
        // No guest: sending drops and counts.
        port.send_frame(&[0u8; 60]).unwrap();
        assert_eq!(port.stats().no_guest, 1);

        for round in 1..=2u64 {
            let mut s = UnixStream::connect(&path).unwrap();
            // A header claiming request 0xdead with a huge payload, then a hang-up mid-message.
            s.write_all(&[0xad, 0xde, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0, 0, 7, 7])
                .unwrap();
            drop(s);
            wait_until("the disconnect", || port.stats().disconnects == round);
            let st = port.stats();
            assert_eq!(st.connections, round);
            assert_eq!(st.protocol_errors, round, "{st:?}");
        }
        assert_eq!(port.recv_frame(&mut buf).unwrap(), None);
        // A front end that connects and says nothing: dropping the port cuts it off.
        let mut idle = UnixStream::connect(&path).unwrap();
        wait_until("the idle connection", || port.stats().connections == 3);
        drop(port);
        let mut b = [0u8; 1];
        assert_eq!(idle.read(&mut b).unwrap(), 0);
        // The listener's socket file goes with the port.
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
