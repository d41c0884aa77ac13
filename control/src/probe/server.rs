//! The answering servers: one thread serves every listening socket of a [`super::Prober`], in
//! every namespace, with non-blocking sockets and `poll(2)`.
//!
//! The listening sockets are created by the namespace's agent (so they live in that namespace)
//! and handed over to this thread. Each TCP connection gets `SEEN <ip>:<port>\n` before the echo
//! of its first bytes, then the echo of everything it sends, until it closes; each UDP datagram
//! gets one datagram back: the `SEEN` line and the echo, sent from the address the datagram was
//! sent to (`IP_PKTINFO`), so a client of a secondary address gets its answer from that address.
//! One thread is plenty: an answer is a handful of system calls (accept, read, write), and the
//! probes wait on the network, not on the server.

use std::collections::HashSet;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Mutex};
use std::thread::{self, JoinHandle};

use nix::errno::Errno;
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn,
};
use socket2::{Domain, Protocol, SockAddr, Type};

use super::agent::{Agent, NsId};
use super::{wire, ProbeError, Proto};

/// Largest datagram (and read chunk) the servers handle.
const BUF: usize = 64 * 1024;
/// Stop reading a connection whose unsent echo exceeds this, until the peer reads some.
const MAX_PENDING: usize = 1024 * 1024;
/// Datagrams or connections handled per socket and wake-up, so one busy socket cannot starve the
/// others.
const BATCH: usize = 256;
const LISTEN_BACKLOG: i32 = 4096;

/// What a server socket is registered under: the same key twice is the same server.
type Key = (String, NsId, Proto, u16);

enum Cmd {
    Tcp {
        netns: String,
        sock: TcpListener,
    },
    Udp {
        netns: String,
        sock: UdpSocket,
    },
    /// Close everything in `netns`, then say so on `done`.
    Forget {
        netns: String,
        done: mpsc::SyncSender<()>,
    },
}

/// The handle of the server thread.
#[derive(Debug)]
pub(crate) struct Servers {
    cmds: mpsc::Sender<Cmd>,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
    registered: Mutex<HashSet<Key>>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Tcp { netns, .. } => write!(f, "Tcp({netns})"),
            Cmd::Udp { netns, .. } => write!(f, "Udp({netns})"),
            Cmd::Forget { netns, .. } => write!(f, "Forget({netns})"),
        }
    }
}

impl Servers {
    /// Starts the server thread (with nothing to serve yet).
    pub(crate) fn start() -> Result<Servers, ProbeError> {
        let thread_err = |source| ProbeError::Thread {
            what: "server",
            source,
        };
        let (wake, wake_rx) = UnixStream::pair().map_err(thread_err)?;
        wake_rx.set_nonblocking(true).map_err(thread_err)?;
        wake.set_nonblocking(true).map_err(thread_err)?;
        let (cmds, rx) = mpsc::channel();
        let reactor = Reactor {
            wake: wake_rx,
            cmds: rx,
            listeners: Vec::new(),
            conns: Vec::new(),
            buf: vec![0; BUF],
        };
        let thread = thread::Builder::new()
            .name("probe-servers".into())
            .spawn(move || reactor.run())
            .map_err(thread_err)?;
        Ok(Servers {
            cmds,
            wake,
            thread: Some(thread),
            registered: Mutex::new(HashSet::new()),
        })
    }

    /// Starts serving (`proto`, `port`) on 0.0.0.0 in the agent's namespace, unless it already is.
    pub(crate) fn listen(&self, agent: &Agent, proto: Proto, port: u16) -> Result<(), ProbeError> {
        let key = (agent.netns().to_owned(), agent.id(), proto, port);
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        if registered.contains(&key) {
            return Ok(());
        }
        let netns = agent.netns().to_owned();
        let io_err = |what: &'static str| {
            let netns = netns.clone();
            move |source| ProbeError::Io {
                netns,
                what,
                source,
            }
        };
        let (ty, protocol) = match proto {
            Proto::Tcp => (Type::STREAM, Protocol::TCP),
            Proto::Udp => (Type::DGRAM, Protocol::UDP),
            // The kernel answers echo requests itself.
            Proto::Icmp => return Ok(()),
        };
        let sock = agent.socket(Domain::IPV4, ty, protocol)?;
        sock.set_reuse_address(true)
            .map_err(io_err("set SO_REUSEADDR"))?;
        sock.set_nonblocking(true)
            .map_err(io_err("set O_NONBLOCK"))?;
        let addr = SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        sock.bind(&addr).map_err(|source| ProbeError::Bind {
            netns: netns.clone(),
            proto,
            port,
            source,
        })?;
        let cmd = match proto {
            Proto::Tcp => {
                sock.listen(LISTEN_BACKLOG).map_err(io_err("listen"))?;
                Cmd::Tcp {
                    netns: netns.clone(),
                    sock: sock.into(),
                }
            }
            _ => {
                setsockopt(&sock, sockopt::Ipv4PacketInfo, &true)
                    .map_err(|e| io_err("set IP_PKTINFO")(e.into()))?;
                Cmd::Udp {
                    netns: netns.clone(),
                    sock: sock.into(),
                }
            }
        };
        self.send(cmd)?;
        registered.insert(key);
        tracing::debug!(%netns, %proto, port, "serving");
        Ok(())
    }

    /// Closes every server socket and connection in `netns`, and returns when they are closed
    /// (so that the ports can be bound again at once).
    pub(crate) fn forget(&self, netns: &str) {
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        registered.retain(|(n, ..)| n != netns);
        let (done, closed) = mpsc::sync_channel(1);
        let cmd = Cmd::Forget {
            netns: netns.to_owned(),
            done,
        };
        // If the thread is gone, so are its sockets.
        if self.send(cmd).is_ok() && closed.recv().is_err() {
            tracing::warn!(%netns, "server thread stopped while forgetting a namespace");
        }
    }

    fn send(&self, cmd: Cmd) -> Result<(), ProbeError> {
        let gone = || ProbeError::Thread {
            what: "server",
            source: io::Error::other("the server thread has stopped"),
        };
        self.cmds.send(cmd).map_err(|_| gone())?;
        self.poke();
        Ok(())
    }

    fn poke(&self) {
        // A full wake-up pipe already wakes the thread: WouldBlock is fine.
        let _ = (&self.wake).write(&[1]);
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        // Closing the command channel and poking the thread makes it return.
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.cmds, dead));
        self.poke();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("probe server thread panicked");
            }
        }
    }
}

enum Listener {
    Tcp { netns: String, sock: TcpListener },
    Udp { netns: String, sock: UdpSocket },
}

impl Listener {
    fn netns(&self) -> &str {
        match self {
            Listener::Tcp { netns, .. } | Listener::Udp { netns, .. } => netns,
        }
    }
}

/// One accepted TCP connection.
struct Conn {
    netns: String,
    stream: TcpStream,
    peer: SocketAddrV4,
    /// Bytes to send (the `SEEN` line, then the echo).
    out: Vec<u8>,
    greeted: bool,
    /// The peer has finished sending: close once `out` is sent.
    eof: bool,
    /// The connection failed: drop it.
    dead: bool,
}

impl Conn {
    fn interest(&self) -> PollFlags {
        let mut events = PollFlags::empty();
        if !self.eof && self.out.len() < MAX_PENDING {
            events |= PollFlags::POLLIN;
        }
        if !self.out.is_empty() {
            events |= PollFlags::POLLOUT;
        }
        events
    }

    fn read(&mut self, buf: &mut [u8]) {
        for _ in 0..BATCH {
            if self.eof || self.out.len() >= MAX_PENDING {
                return;
            }
            match self.stream.read(buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    if !self.greeted {
                        self.out
                            .extend_from_slice(wire::seen_line(self.peer).as_bytes());
                        self.greeted = true;
                    }
                    self.out.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::trace!(peer = %self.peer, %e, "connection failed");
                    self.dead = true;
                    return;
                }
            }
        }
    }

    fn flush(&mut self) {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::trace!(peer = %self.peer, %e, "connection failed");
                    self.dead = true;
                    return;
                }
            }
        }
    }

    fn finished(&self) -> bool {
        self.dead || (self.eof && self.out.is_empty())
    }
}

struct Reactor {
    wake: UnixStream,
    cmds: mpsc::Receiver<Cmd>,
    listeners: Vec<Listener>,
    conns: Vec<Conn>,
    buf: Vec<u8>,
}

impl Reactor {
    fn run(mut self) {
        loop {
            let (woken, ready_listeners, ready_conns) = match self.wait() {
                Ok(ready) => ready,
                Err(e) => {
                    tracing::error!(%e, "probe servers: poll failed; stopping");
                    return;
                }
            };
            // The indices are those of the poll: serve them before any command changes the lists.
            for (i, events) in ready_conns {
                let conn = &mut self.conns[i];
                if events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    conn.read(&mut self.buf);
                }
                conn.flush();
            }
            for i in ready_listeners {
                self.serve_listener(i);
            }
            self.conns.retain(|c| !c.finished());
            if woken && !self.commands() {
                tracing::debug!("probe servers stopped");
                return;
            }
        }
    }

    /// Polls everything; returns whether the wake-up socket fired and the ready listeners and
    /// connections (by index).
    #[allow(clippy::type_complexity)]
    fn wait(&mut self) -> io::Result<(bool, Vec<usize>, Vec<(usize, PollFlags)>)> {
        loop {
            let mut fds = Vec::with_capacity(1 + self.listeners.len() + self.conns.len());
            fds.push(PollFd::new(self.wake.as_fd(), PollFlags::POLLIN));
            for l in &self.listeners {
                let fd = match l {
                    Listener::Tcp { sock, .. } => sock.as_fd(),
                    Listener::Udp { sock, .. } => sock.as_fd(),
                };
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            for c in &self.conns {
                fds.push(PollFd::new(c.stream.as_fd(), c.interest()));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let revents = |fd: &PollFd| fd.revents().unwrap_or(PollFlags::empty());
            let woken = !revents(&fds[0]).is_empty();
            let n = self.listeners.len();
            let listeners = (0..n)
                .filter(|i| !revents(&fds[1 + i]).is_empty())
                .collect();
            let conns = (0..self.conns.len())
                .map(|i| (i, revents(&fds[1 + n + i])))
                .filter(|(_, e)| !e.is_empty())
                .collect();
            return Ok((woken, listeners, conns));
        }
    }

    /// Drains the wake-up socket and applies the commands; `false` when the handle is gone.
    fn commands(&mut self) -> bool {
        let mut sink = [0u8; 64];
        while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        loop {
            match self.cmds.try_recv() {
                Ok(Cmd::Tcp { netns, sock }) => self.listeners.push(Listener::Tcp { netns, sock }),
                Ok(Cmd::Udp { netns, sock }) => self.listeners.push(Listener::Udp { netns, sock }),
                Ok(Cmd::Forget { netns, done }) => {
                    self.listeners.retain(|l| l.netns() != netns);
                    self.conns.retain(|c| c.netns != netns);
                    let _ = done.send(());
                }
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn serve_listener(&mut self, i: usize) {
        match &self.listeners[i] {
            Listener::Tcp { netns, sock } => {
                for _ in 0..BATCH {
                    match sock.accept() {
                        Ok((stream, SocketAddr::V4(peer))) => {
                            if let Err(e) = stream.set_nonblocking(true) {
                                tracing::warn!(%netns, %e, "cannot make a connection non-blocking");
                                continue;
                            }
                            self.conns.push(Conn {
                                netns: netns.clone(),
                                stream,
                                peer,
                                out: Vec::new(),
                                greeted: false,
                                eof: false,
                                dead: false,
                            });
                        }
                        Ok((_, SocketAddr::V6(_))) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // ECONNABORTED and the like: the next connection may be fine.
                        Err(e) => {
                            tracing::debug!(%netns, %e, "accept failed");
                            break;
                        }
                    }
                }
            }
            Listener::Udp { netns, sock } => {
                for _ in 0..BATCH {
                    match answer_datagram(sock, &mut self.buf) {
                        Ok(()) => {}
                        Err(Errno::EAGAIN) => break,
                        Err(Errno::EINTR) => {}
                        Err(e) => {
                            // An ICMP error about an earlier answer, for example.
                            tracing::trace!(%netns, %e, "udp server");
                        }
                    }
                }
            }
        }
    }
}

/// Receives one datagram and answers it from the address it was sent to.
fn answer_datagram(sock: &UdpSocket, buf: &mut [u8]) -> Result<(), Errno> {
    let fd = sock.as_raw_fd();
    let mut cmsg = nix::cmsg_space!(libc::in_pktinfo);
    let (n, peer, local) = {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrIn>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_DONTWAIT)?;
        let local = msg.cmsgs().ok().and_then(|mut c| {
            c.find_map(|c| match c {
                ControlMessageOwned::Ipv4PacketInfo(info) => Some(info.ipi_addr),
                _ => None,
            })
        });
        (msg.bytes, msg.address, local)
    };
    let Some(peer) = peer else {
        return Ok(());
    };
    let peer_v4 = SocketAddrV4::from(peer);
    let head = wire::seen_line(peer_v4);
    let iov = [IoSlice::new(head.as_bytes()), IoSlice::new(&buf[..n])];
    let info;
    let mut cmsgs = Vec::new();
    if let Some(local) = local {
        info = libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: local,
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        cmsgs.push(ControlMessage::Ipv4PacketInfo(&info));
    }
    sendmsg(fd, &iov, &cmsgs, MsgFlags::MSG_DONTWAIT, Some(&peer))?;
    Ok(())
}
