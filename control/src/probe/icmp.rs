//! The ICMP echo probe, over a raw socket.
//!
//! Ping sockets (`SOCK_DGRAM`, `IPPROTO_ICMP`) would be simpler, but a fresh namespace disables
//! them (`net.ipv4.ping_group_range = 1 0`), so the probe uses a raw socket (root, or
//! `CAP_NET_RAW`) and builds the echo request itself. A raw ICMP socket receives a copy of every
//! ICMP packet of its namespace; connecting it to the destination makes the kernel keep only
//! those from the destination's address, and the reply is matched by identifier and sequence
//! number on top. ICMP errors from routers on the way (host unreachable, prohibited) come through
//! `IP_RECVERR`'s error queue, which quotes the echo request they are about, so they are matched
//! by identifier and sequence number too: every raw socket connected to the same destination gets
//! a copy of them.

use std::io::{self, Read};
use std::net::SocketAddrV4;
use std::os::fd::AsFd;
use std::time::Instant;

use nix::poll::PollFlags;
use socket2::{Domain, Protocol, SockAddr, Type};

use super::agent::Agent;
use super::client::refusal;
use super::sock::{self, drain_errors, wait};
use super::{wire, Probe, ProbeError, ProbeOutcome};

/// The echo request's payload (after identifier and sequence number).
const PAYLOAD: &[u8] = b"vpcctl probe";

/// An ICMP echo probe with identifier `id` and sequence number `seq`.
pub(crate) fn echo(
    agent: &Agent,
    probe: &Probe,
    id: u16,
    seq: u16,
) -> Result<ProbeOutcome, ProbeError> {
    let netns = probe.src_netns.as_str();
    let io_err = |what: &'static str| {
        move |source| ProbeError::Io {
            netns: netns.to_owned(),
            what,
            source,
        }
    };
    let sock = agent.socket(Domain::IPV4, Type::RAW, Protocol::ICMPV4)?;
    sock.set_nonblocking(true)
        .map_err(io_err("set O_NONBLOCK"))?;
    sock::recv_errors(&sock).map_err(io_err("set IP_RECVERR"))?;
    let start = Instant::now();
    let deadline = start + probe.timeout;
    if let Err(e) = sock.connect(&SockAddr::from(SocketAddrV4::new(probe.dst, 0))) {
        return refusal(probe, &sock, e, "connect");
    }
    if let Err(e) = sock.send(&wire::echo_request(id, seq, PAYLOAD)) {
        return refusal(probe, &sock, e, "send");
    }
    let mut buf = [0u8; 1500];
    loop {
        let Some(events) =
            wait(sock.as_fd(), PollFlags::POLLIN, deadline).map_err(io_err("poll"))?
        else {
            return Ok(ProbeOutcome::NoAnswer);
        };
        if events.contains(PollFlags::POLLERR) {
            let ours = drain_errors(sock.as_fd())
                .into_iter()
                .find(|q| wire::quoted_echo(&q.quoted) == Some((id, seq)));
            // Reading the queue clears the pending error; clear it anyway so `recv` works.
            let _ = sock.take_error();
            if let Some(q) = ours {
                return Ok(ProbeOutcome::Refused {
                    detail: q.describe(),
                });
            }
        }
        // Drain what arrived: replies to other probes to the same destination come here too.
        loop {
            match (&sock).read(&mut buf) {
                Ok(n) => {
                    if wire::is_echo_reply(&buf[..n], probe.dst, id, seq) {
                        return Ok(ProbeOutcome::Reached {
                            seen: None,
                            rtt: start.elapsed(),
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A pending error that was not about this probe: it has been read, go on.
                Err(e) if sock::is_refusal(sock::errno_of(&e)) => break,
                Err(e) => return Err(io_err("receive")(e)),
            }
        }
    }
}
