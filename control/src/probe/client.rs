//! The TCP and UDP probes, and held TCP connections.
//!
//! Every socket is created by the source namespace's agent, then used here, on a worker thread,
//! non-blocking, with `poll` up to the probe's deadline: a blocked check costs its timeout on one
//! worker, never a process or a fixed wait in series.
//!
//! TCP sockets close with `SO_LINGER` 0 (a RST instead of a FIN): no `TIME_WAIT` is left behind,
//! so the next probe may use the same source port to the same destination at once.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::agent::Agent;
use super::sock::{self, drain_errors, errno_of, is_refusal, wait};
use super::wire::{self, Reply};
use super::{Probe, ProbeError, ProbeOutcome, Proto};

/// The largest answer a probe reads (a `SEEN` line and an echo of a short line).
const MAX_ANSWER: usize = 4096;

fn io_err<'a>(netns: &'a str, what: &'static str) -> impl FnOnce(io::Error) -> ProbeError + 'a {
    move |source| ProbeError::Io {
        netns: netns.to_owned(),
        what,
        source,
    }
}

/// A socket for a probe: created in the source namespace, non-blocking, with `IP_RECVERR`, and
/// bound to the probe's source port if it has one.
fn open(agent: &Agent, probe: &Probe, ty: Type, protocol: Protocol) -> Result<Socket, ProbeError> {
    let netns = probe.src_netns.as_str();
    let sock = agent.socket(Domain::IPV4, ty, protocol)?;
    sock.set_nonblocking(true)
        .map_err(io_err(netns, "set O_NONBLOCK"))?;
    sock::recv_errors(&sock).map_err(io_err(netns, "set IP_RECVERR"))?;
    if let (Some(port), Proto::Tcp | Proto::Udp) = (probe.src_port, probe.proto) {
        sock.set_reuse_address(true)
            .map_err(io_err(netns, "set SO_REUSEADDR"))?;
        let addr = SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        sock.bind(&addr).map_err(|source| ProbeError::Bind {
            netns: netns.to_owned(),
            proto: probe.proto,
            port,
            source,
        })?;
    }
    Ok(sock)
}

/// The outcome of a failed socket call: a refusal when the network (or the local routing or
/// firewall) said no, with the ICMP details if the error queue has them; an error otherwise.
pub(crate) fn refusal(
    probe: &Probe,
    sock: &Socket,
    e: io::Error,
    what: &'static str,
) -> Result<ProbeOutcome, ProbeError> {
    let errno = errno_of(&e);
    if errno == Errno::EADDRNOTAVAIL && probe.src_port.is_some() {
        // connect(2) with a bound port: the same 4-tuple is in use by another socket.
        return Err(ProbeError::Bind {
            netns: probe.src_netns.clone(),
            proto: probe.proto,
            port: probe.src_port.unwrap_or(0),
            source: e,
        });
    }
    if !is_refusal(errno) {
        return Err(ProbeError::Io {
            netns: probe.src_netns.clone(),
            what,
            source: e,
        });
    }
    let queued = drain_errors(sock.as_fd());
    let detail = match queued.last() {
        Some(q) => q.describe(),
        None => plain_refusal(probe.proto, errno),
    };
    Ok(ProbeOutcome::Refused { detail })
}

/// Words for a refusal the error queue has no details of.
fn plain_refusal(proto: Proto, errno: Errno) -> String {
    match (proto, errno) {
        (Proto::Tcp, Errno::ECONNREFUSED) => "connection refused (TCP RST)".to_owned(),
        (Proto::Tcp, Errno::ECONNRESET) => "connection reset (TCP RST)".to_owned(),
        (Proto::Udp, Errno::ECONNREFUSED) => "ICMP port unreachable".to_owned(),
        (_, Errno::EPERM | Errno::EACCES) => {
            format!("refused by the source's own stack: {}", errno.desc())
        }
        (_, errno) => errno.desc().to_owned(),
    }
}

/// A connected TCP probe socket and what the server answered.
pub(crate) struct Connected {
    pub(crate) sock: Socket,
    pub(crate) seen: Option<SocketAddrV4>,
    pub(crate) rtt: Duration,
    /// Bytes received after the answer to the probe line.
    pub(crate) rest: Vec<u8>,
}

/// Connects, sends the probe line, and reads the answer: the socket when data went both ways,
/// the outcome otherwise.
pub(crate) fn tcp_exchange(
    agent: &Agent,
    probe: &Probe,
    nonce: u32,
) -> Result<Result<Connected, ProbeOutcome>, ProbeError> {
    let netns = probe.src_netns.as_str();
    let sock = open(agent, probe, Type::STREAM, Protocol::TCP)?;
    sock.set_linger(Some(Duration::ZERO))
        .map_err(io_err(netns, "set SO_LINGER"))?;
    sock.set_tcp_nodelay(true)
        .map_err(io_err(netns, "set TCP_NODELAY"))?;
    let start = Instant::now();
    let deadline = start + probe.timeout;
    let dst = SockAddr::from(SocketAddrV4::new(probe.dst, probe.dst_port));
    match sock.connect(&dst) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {
            let ready =
                wait(sock.as_fd(), PollFlags::POLLOUT, deadline).map_err(io_err(netns, "poll"))?;
            if ready.is_none() {
                return Ok(Err(ProbeOutcome::NoAnswer));
            }
            match sock.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return refusal(probe, &sock, e, "connect").map(Err),
            }
        }
        Err(e) => return refusal(probe, &sock, e, "connect").map(Err),
    }
    let sent = wire::probe_payload(nonce);
    if let Err(e) = sock.send(&sent) {
        return refusal(probe, &sock, e, "send").map(Err);
    }
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 512];
    loop {
        let ready =
            wait(sock.as_fd(), PollFlags::POLLIN, deadline).map_err(io_err(netns, "poll"))?;
        if ready.is_none() {
            // Connected, but the answer did not come back: data is not getting through.
            tracing::debug!(
                netns,
                dst = %probe.dst,
                port = probe.dst_port,
                received = buf.len(),
                "TCP connected but no complete answer before the deadline"
            );
            return Ok(Err(match wire::parse_reply(&buf, &sent) {
                // Something answered, just not all of it or not our way.
                Reply::Complete { seen } | Reply::OtherEcho { seen } => ProbeOutcome::Reached {
                    seen: Some(seen),
                    rtt: start.elapsed(),
                },
                _ if !buf.is_empty() => ProbeOutcome::Reached {
                    seen: None,
                    rtt: start.elapsed(),
                },
                _ => ProbeOutcome::NoAnswer,
            }));
        }
        match (&sock).read(&mut chunk) {
            Ok(0) => {
                let detail = if buf.is_empty() {
                    "connection closed by the server before it answered"
                } else {
                    "connection closed by the server in the middle of its answer"
                };
                return Ok(Err(ProbeOutcome::Refused {
                    detail: detail.to_owned(),
                }));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return refusal(probe, &sock, e, "receive").map(Err),
        }
        match wire::parse_reply(&buf, &sent) {
            Reply::Incomplete if buf.len() < MAX_ANSWER => {}
            Reply::Complete { seen } => {
                let rtt = start.elapsed();
                let answer_len = answer_len(&buf, &sent);
                let rest = buf.split_off(answer_len.min(buf.len()));
                return Ok(Ok(Connected {
                    sock,
                    seen: Some(seen),
                    rtt,
                    rest,
                }));
            }
            Reply::OtherEcho { seen } => {
                return Ok(Err(ProbeOutcome::Reached {
                    seen: Some(seen),
                    rtt: start.elapsed(),
                }))
            }
            // Not our servers' protocol: a foreign server answered, so data went both ways.
            Reply::Incomplete | Reply::Foreign => {
                return Ok(Err(ProbeOutcome::Reached {
                    seen: None,
                    rtt: start.elapsed(),
                }))
            }
        }
    }
}

/// The length of a complete answer (the `SEEN` line and the echo of `sent`) at the start of `buf`.
fn answer_len(buf: &[u8], sent: &[u8]) -> usize {
    buf.iter()
        .position(|&b| b == b'\n')
        .map_or(buf.len(), |nl| nl + 1 + sent.len())
}

/// A TCP probe: connect, send a line, read the `SEEN` line and the echo, close (with a RST).
pub(crate) fn tcp(agent: &Agent, probe: &Probe, nonce: u32) -> Result<ProbeOutcome, ProbeError> {
    Ok(match tcp_exchange(agent, probe, nonce)? {
        Ok(c) => ProbeOutcome::Reached {
            seen: c.seen,
            rtt: c.rtt,
        },
        Err(outcome) => outcome,
    })
}

/// A UDP probe: a connected socket sends a datagram and waits for the answer; an ICMP error
/// (port unreachable from the server's host, or anything from a router) is a refusal.
pub(crate) fn udp(agent: &Agent, probe: &Probe, nonce: u32) -> Result<ProbeOutcome, ProbeError> {
    let netns = probe.src_netns.as_str();
    let sock = open(agent, probe, Type::DGRAM, Protocol::UDP)?;
    let start = Instant::now();
    let deadline = start + probe.timeout;
    let dst = SockAddr::from(SocketAddrV4::new(probe.dst, probe.dst_port));
    if let Err(e) = sock.connect(&dst) {
        return refusal(probe, &sock, e, "connect");
    }
    let sent = wire::probe_payload(nonce);
    if let Err(e) = sock.send(&sent) {
        return refusal(probe, &sock, e, "send");
    }
    let mut buf = vec![0u8; MAX_ANSWER];
    loop {
        let Some(events) =
            wait(sock.as_fd(), PollFlags::POLLIN, deadline).map_err(io_err(netns, "poll"))?
        else {
            return Ok(ProbeOutcome::NoAnswer);
        };
        if events.contains(PollFlags::POLLERR) {
            // The socket is connected, so every error queued on it is about its own datagram.
            let queued = drain_errors(sock.as_fd());
            let pending = sock.take_error().ok().flatten();
            if let Some(q) = queued.last() {
                return Ok(ProbeOutcome::Refused {
                    detail: q.describe(),
                });
            }
            if let Some(e) = pending {
                return refusal(probe, &sock, e, "receive");
            }
        }
        match (&sock).read(&mut buf) {
            Ok(n) => match wire::parse_reply(&buf[..n], &sent) {
                Reply::Complete { seen } => {
                    return Ok(ProbeOutcome::Reached {
                        seen: Some(seen),
                        rtt: start.elapsed(),
                    })
                }
                // A late answer to an earlier probe from the same port: keep waiting.
                Reply::OtherEcho { seen } => {
                    tracing::debug!(netns, %seen, "ignoring an answer to an earlier datagram");
                }
                // A datagram is whole: anything else came from a foreign server.
                Reply::Incomplete | Reply::Foreign => {
                    return Ok(ProbeOutcome::Reached {
                        seen: None,
                        rtt: start.elapsed(),
                    })
                }
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return refusal(probe, &sock, e, "receive"),
        }
    }
}

/// A TCP connection kept open, to see whether it keeps working across a change (see
/// [`super::Prober::hold`]). It is a socket of its own, usable from any thread; dropping it
/// resets the connection (RST), like every probe's.
#[derive(Debug)]
pub struct Held {
    sock: Socket,
    seen: Option<SocketAddrV4>,
    /// Echoed bytes received and not yet matched.
    buf: Vec<u8>,
    next: u64,
    dead: bool,
}

impl Held {
    pub(crate) fn new(c: Connected) -> Held {
        Held {
            sock: c.sock,
            seen: c.seen,
            buf: c.rest,
            next: 1,
            dead: false,
        }
    }

    /// The source address and port the server saw when the connection was opened.
    pub fn seen(&self) -> Option<SocketAddrV4> {
        self.seen
    }

    /// Sends a line and waits up to `timeout` for its echo: `true` if the connection still
    /// carries data both ways.
    ///
    /// Each call sends a line of its own (`alive N`) and looks for that line's echo, skipping
    /// the echoes of earlier lines that arrive late, so a connection that was stalled and
    /// recovered reads as alive again. Once the connection is closed or reset, every later call
    /// returns `false` at once.
    pub fn alive(&mut self, timeout: Duration) -> bool {
        if self.dead {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let line = format!("alive {}\n", self.next);
        self.next += 1;
        match self.sock.send(line.as_bytes()) {
            Ok(n) if n == line.len() => {}
            // A partial send (or none) means the send buffer is full of unacknowledged data:
            // the connection is stalled.
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) => {
                tracing::debug!(%e, "held connection failed");
                self.dead = true;
                return false;
            }
        }
        let mut chunk = [0u8; 512];
        loop {
            if let Some(end) = find_line(&self.buf, line.as_bytes()) {
                self.buf.drain(..end);
                return true;
            }
            match wait(self.sock.as_fd(), PollFlags::POLLIN, deadline) {
                Ok(Some(_)) => {}
                Ok(None) => return false,
                Err(e) => {
                    tracing::debug!(%e, "poll on a held connection failed");
                    return false;
                }
            }
            match (&self.sock).read(&mut chunk) {
                Ok(0) => {
                    self.dead = true;
                    return false;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if self.buf.len() > 1 << 20 {
                        // Never matched: keep the tail that may still hold the line.
                        let keep = self.buf.len() - line.len();
                        self.buf.drain(..keep);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(%e, "held connection failed");
                    self.dead = true;
                    return false;
                }
            }
        }
    }
}

/// The end of the first occurrence of `line` in `buf`.
fn find_line(buf: &[u8], line: &[u8]) -> Option<usize> {
    buf.windows(line.len())
        .position(|w| w == line)
        .map(|at| at + line.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_length_and_lines() {
        let sent = wire::probe_payload(3);
        let buf = b"SEEN 10.0.0.1:5\nprobe 3\nalive 1\n";
        let n = answer_len(buf, &sent);
        assert_eq!(&buf[n..], b"alive 1\n");
        assert_eq!(find_line(b"alive 1\nalive 2\n", b"alive 2\n"), Some(16));
        assert_eq!(find_line(b"alive 1\n", b"alive 2\n"), None);
        assert_eq!(find_line(b"", b"alive 2\n"), None);
    }

    #[test]
    fn plain_refusal_words() {
        assert_eq!(
            plain_refusal(Proto::Tcp, Errno::ECONNREFUSED),
            "connection refused (TCP RST)"
        );
        assert_eq!(
            plain_refusal(Proto::Udp, Errno::ECONNREFUSED),
            "ICMP port unreachable"
        );
        assert_eq!(
            plain_refusal(Proto::Icmp, Errno::EPERM),
            "refused by the source's own stack: Operation not permitted"
        );
        assert_eq!(
            plain_refusal(Proto::Tcp, Errno::ENETUNREACH),
            "Network is unreachable"
        );
    }
}
