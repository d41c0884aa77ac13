//! The VPC resolver's upstream link: the socket forwarded queries leave by (opened by
//! the daemon in the namespace the upstream lives in, [`crate::sys::netns`]), the
//! answers relayed back out of the asking ENI's port, and the timeouts answered SERVFAIL.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use super::*;
use crate::vpc::pipeline::dns;

/// How many answers one readiness of the upstream socket reads at most.
const UPSTREAM_BATCH: usize = 64;
/// The largest upstream answer read (a longer one is cut, and then does not parse).
const UPSTREAM_BUF: usize = 4096;

/// The socket to the upstream resolver and where it sends.
#[derive(Debug)]
pub struct UpstreamLink {
    socket: UdpSocket,
    server: SocketAddr,
    buf: Vec<u8>,
}

impl UpstreamLink {
    /// A link sending to `server` over `socket` (non-blocking, bound in the namespace
    /// the server is reached from).
    pub fn new(socket: UdpSocket, server: SocketAddr) -> UpstreamLink {
        UpstreamLink {
            socket,
            server,
            buf: vec![0; UPSTREAM_BUF],
        }
    }

    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl<P: Port> Dataplane<P> {
    /// Sets (or, with `None`, closes) the resolver's upstream link. Queries in flight
    /// stay pending: they are answered if the new link's server answers them, SERVFAIL
    /// otherwise.
    pub fn set_upstream(&mut self, link: Option<UpstreamLink>) {
        self.upstream = link;
    }

    /// The upstream socket, if there is a link (tests wait on it for readiness).
    pub fn upstream_socket(&self) -> Option<&UdpSocket> {
        self.upstream.as_ref().map(|l| &l.socket)
    }

    /// The upstream socket's descriptor, if there is a link.
    pub fn upstream_fd(&self) -> Option<RawFd> {
        self.upstream.as_ref().map(UpstreamLink::fd)
    }

    /// Sends the query the resolver just forwarded for `in_port`; if it cannot leave
    /// (no link, a send error), its client gets SERVFAIL at once.
    pub(super) fn forward_upstream(&mut self, in_port: PortIdx) {
        if let Some(c) = self.counters.get_mut(in_port.idx()) {
            c.dns_forwarded += 1;
        }
        let sent = self
            .upstream
            .as_ref()
            .is_some_and(|l| l.socket.send_to(&self.dns.upstream_query, l.server).is_ok());
        if !sent {
            if let Some(p) = self.dns.pending.take(self.dns.upstream_id) {
                if let Some(a) = dns::fail(&mut self.dns, &p) {
                    self.resolved(PortIdx::from(p.eni), a);
                }
            }
        }
    }

    /// Reads the upstream's answers waiting on the socket and relays each to its client.
    pub fn poll_upstream(&mut self) {
        let Some(mut link) = self.upstream.take() else {
            return;
        };
        self.update_clock();
        for _ in 0..UPSTREAM_BATCH {
            let (n, from) = match link.socket.recv_from(&mut link.buf) {
                Ok(r) => r,
                // WouldBlock: drained; another error: try again at the next readiness.
                Err(_) => break,
            };
            if from != link.server {
                continue;
            }
            let Some(reply) = link.buf.get(..n) else {
                continue;
            };
            if let Some((eni, a)) = dns::relay(&mut self.dns, reply) {
                self.resolved(PortIdx::from(eni), a);
            }
        }
        self.upstream = Some(link);
    }

    /// Answers SERVFAIL to every forwarded query whose time is up (housekeeping).
    pub(super) fn upstream_timers(&mut self, now: u64) {
        if self.dns.pending.is_empty() {
            return;
        }
        for p in self.dns.pending.expired(now) {
            let port = PortIdx::from(p.eni);
            if let Some(c) = self.counters.get_mut(port.idx()) {
                c.dns_upstream_timeouts += 1;
            }
            if let Some(a) = dns::fail(&mut self.dns, &p) {
                self.resolved(port, a);
            }
        }
    }

    /// Renumbers the forwarded queries' ENIs from the running tables to `new` (by ENI
    /// id); queries of ENIs that are gone are forgotten.
    pub(super) fn remap_upstream(&mut self, new: &Tables) {
        if self.dns.pending.is_empty() {
            return;
        }
        let ids: std::collections::HashMap<&str, usize> = new
            .config
            .enis
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        let old = &self.tables.config.enis;
        self.dns.pending.remap(|e| {
            old.get(e.idx())
                .and_then(|c| ids.get(c.id.as_str()))
                .map(|&i| EniIdx(i as u32))
        });
    }
}
