//! The probe engine of `vpcctl test`: many reachability checks with real traffic between network
//! namespaces ("from namespace A, does TCP reach 10.0.3.10:5432, and which source address does
//! the server see?"), from one process, in parallel.
//!
//! ```text
//!   Prober::run(probes) ──► worker threads (the caller + parallelism-1 scoped threads)
//!                             │  each takes the next probe, and
//!                             ├─► agent of the source namespace: socket(2) there ──► a socket
//!                             │     (one thread per namespace, entered once with setns(2))
//!                             └─► connect / send / poll until answer or deadline ──► outcome
//!   Prober::listen(ns, proto, port) ──► agent of ns: socket, bind 0.0.0.0:port
//!                             └─► the server thread: poll(2) over every server socket and
//!                                 connection of every namespace; answers "SEEN ip:port\n" + echo
//! ```
//!
//! - No process per check: sockets are opened inside each namespace by that namespace's agent
//!   thread, then used from any thread: a socket belongs to the namespace it was created in for
//!   its whole life. The agent is the only thread that ever calls `setns`, once, and it never
//!   leaves; no shared thread changes namespace.
//! - No fixed wait in series: a probe waits for its own answer up to its own
//!   [`Probe::timeout`] on one worker while the others go on, so a thousand checks of which half
//!   are blocked at 200 ms take about `500 × 200 ms / parallelism`.
//! - What counts as an answer: [`ProbeOutcome`]. A TCP probe is reached only when data went both
//!   ways (the server's `SEEN` line and echo came back); a TCP RST or an ICMP error is a
//!   refusal, with the ICMP type and the address of the host that sent it when there was one.
//!
//! Choices, where the first sketch said otherwise:
//! - The workers are scoped threads of each [`Prober::run`] (the caller among them), not a
//!   long-lived pool: nothing idles between runs, a worker's panic cannot outlive its run, and
//!   starting 64 threads costs well under a millisecond next to a run.
//! - One server thread for every namespace, `poll(2)` over non-blocking sockets, rather than a
//!   thread per listener or connection: held connections and hundreds of concurrent probes cost
//!   one file descriptor each, not one thread.
//! - Probes close TCP with a RST (`SO_LINGER` 0), never a FIN: no `TIME_WAIT` is left, so a
//!   check may reuse a source port to the same destination at once (NACL tests pick ports).
//! - `IP_RECVERR` on every probe socket: the error queue says which ICMP error came back and
//!   who sent it, and gives UDP the "host unreachable" a connected socket otherwise ignores.
//! - UDP answers leave from the address the datagram was sent to (`IP_PKTINFO`), so a check of
//!   a secondary address is not lost to the client's connected socket.
//!
//! Measured on the 2-core development machine (debug build, two namespaces over a veth pair):
//! 1,000 probes, half reached (TCP, UDP, ICMP) and half silently dropped with a 200 ms timeout,
//! take 6.4 s at parallelism 16, 1.6 s at 64 and 0.44 s at 256; 1,000 probes that all reach take
//! about 40 ms at 64 (`thousand_mixed_probes_timing`, an ignored test).
//!
//! ICMP errors are rate-limited by the Linux kernel that sends them, so a run that expects many
//! refusals by ICMP from one namespace sees the later ones as [`ProbeOutcome::NoAnswer`]:
//! errors of a host's own stack (UDP "port unreachable") by `net.ipv4.icmp_ratelimit` and
//! `icmp_msgs_per_sec` for the types in `net.ipv4.icmp_ratemask` (per namespace: setting
//! `icmp_ratemask` to 0 in the servers' namespaces lifts both), errors of its routing
//! ("unreachable" and "prohibit" routes, no route while forwarding) by `net.ipv4.route.error_cost`
//! and `error_burst` (host-wide: 5 at once per client, then one a second). ICMP errors that
//! `vpcd` sends are its own business.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod agent;
mod client;
mod icmp;
mod server;
mod sock;
mod wire;

#[cfg(test)]
mod netns_tests;
#[cfg(test)]
mod testnet;

pub use client::Held;

/// Small stacks for the worker threads: a probe needs a few kilobytes.
const WORKER_STACK: usize = 128 * 1024;

/// The transport of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// A TCP connection carrying one line each way.
    Tcp,
    /// One UDP datagram each way.
    Udp,
    /// An ICMP echo request and reply.
    Icmp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        })
    }
}

/// One reachability check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The namespace the probe is sent from (a name under `/run/netns`).
    pub src_netns: String,
    /// Bind this source port (TCP/UDP), or use it as the ICMP echo identifier. `None`: the kernel
    /// picks an ephemeral port, and ICMP gets an identifier unique within this process.
    pub src_port: Option<u16>,
    /// The destination address.
    pub dst: Ipv4Addr,
    /// The transport.
    pub proto: Proto,
    /// The destination port (ignored for ICMP).
    pub dst_port: u16,
    /// How long to wait for an answer: short when a drop is expected, since a dropped probe costs
    /// exactly this.
    pub timeout: Duration,
}

impl Probe {
    /// The default [`Probe::timeout`]: long enough for a first packet through `vpcd`'s slow path
    /// and an ARP exchange, short enough that a dropped probe is cheap.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

    /// A probe from `src_netns` to `dst:dst_port` over `proto`, from an ephemeral port, with
    /// [`Probe::DEFAULT_TIMEOUT`].
    pub fn new(src_netns: impl Into<String>, proto: Proto, dst: Ipv4Addr, dst_port: u16) -> Probe {
        Probe {
            src_netns: src_netns.into(),
            src_port: None,
            dst,
            proto,
            dst_port,
            timeout: Probe::DEFAULT_TIMEOUT,
        }
    }

    /// The same probe from source port (or ICMP identifier) `port`.
    pub fn src_port(mut self, port: u16) -> Probe {
        self.src_port = Some(port);
        self
    }

    /// The same probe with another timeout.
    pub fn timeout(mut self, timeout: Duration) -> Probe {
        self.timeout = timeout;
        self
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {} → {}", self.src_netns, self.proto, self.dst)?;
        if self.proto != Proto::Icmp {
            write!(f, ":{}", self.dst_port)?;
        }
        if let Some(port) = self.src_port {
            let what = if self.proto == Proto::Icmp {
                "id"
            } else {
                "from port"
            };
            write!(f, " ({what} {port})")?;
        }
        Ok(())
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The server answered; `seen` = the source address and port the server saw (TCP/UDP), as the
    /// server reported it (`None` for ICMP, and when something other than a [`Prober`] server
    /// answered). `rtt`: from the first packet sent to the complete answer (for TCP, the
    /// handshake included).
    Reached {
        /// The client's address and port as the server saw them.
        seen: Option<SocketAddrV4>,
        /// The time from the first packet to the complete answer.
        rtt: Duration,
    },
    /// Actively refused: TCP RST, ICMP port/host unreachable, or an ICMP error for UDP/ICMP (or
    /// the source's own routing or firewall saying no).
    Refused {
        /// What said no: `connection refused (TCP RST)`, `ICMP port unreachable from 10.0.3.10`…
        detail: String,
    },
    /// Nothing came back within the timeout.
    NoAnswer,
}

impl ProbeOutcome {
    /// Whether the probe reached a server.
    pub fn is_reached(&self) -> bool {
        matches!(self, ProbeOutcome::Reached { .. })
    }
}

impl fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeOutcome::Reached { seen, rtt } => {
                write!(f, "reached")?;
                if let Some(seen) = seen {
                    write!(f, ", server saw {seen}")?;
                }
                write!(f, " ({:.1} ms)", rtt.as_secs_f64() * 1e3)
            }
            ProbeOutcome::Refused { detail } => write!(f, "refused: {detail}"),
            ProbeOutcome::NoAnswer => f.write_str("no answer"),
        }
    }
}

/// Why a probe (or a server) could not be run at all. A blocked or refused probe is not an
/// error: it is a [`ProbeOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// There is no namespace by that name under `/run/netns` (or the name is not a plain file
    /// name).
    #[error("no network namespace `{netns}` (not under /run/netns)")]
    NoNamespace {
        /// The namespace.
        netns: String,
    },
    /// Entering the namespace failed (not root, or no `CAP_SYS_ADMIN`).
    #[error("cannot enter network namespace `{netns}` (setns needs root)")]
    Setns {
        /// The namespace.
        netns: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A port could not be bound: in use by another socket (`EADDRINUSE`), or for a client, the
    /// same source port is already connected to the same destination (`EADDRNOTAVAIL`).
    #[error("[{netns}] cannot bind {proto} port {port}")]
    Bind {
        /// The namespace.
        netns: String,
        /// The transport.
        proto: Proto,
        /// The port.
        port: u16,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A socket operation failed for a reason other than the network saying no.
    #[error("[{netns}] cannot {what}")]
    Io {
        /// The namespace.
        netns: String,
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A thread could not be started, or has stopped.
    #[error("{what} thread")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A namespace's agent thread has stopped.
    #[error("the agent of namespace `{netns}` has stopped")]
    AgentGone {
        /// The namespace.
        netns: String,
    },
    /// [`Prober::hold`] could not open a connection that carries data.
    #[error("{probe}: cannot hold a connection: {outcome}")]
    NotReached {
        /// The probe.
        probe: Box<Probe>,
        /// What happened instead.
        outcome: ProbeOutcome,
    },
    /// The operation does not apply to this transport ([`Prober::hold`] of UDP or ICMP).
    #[error("{0}")]
    Unsupported(&'static str),
    /// A worker thread panicked while running this probe.
    #[error("a probe worker panicked")]
    WorkerPanicked,
}

/// The probe engine: namespace agents, the server thread, and the worker threads of each
/// [`Prober::run`]. Dropping it stops the servers (closing their sockets) and the agents.
///
/// Agents and server sockets keep their namespaces alive even after `ip netns del`; call
/// [`Prober::forget`] (or drop the prober) before expecting a deleted namespace to vanish.
#[derive(Debug)]
pub struct Prober {
    parallelism: usize,
    // Dropped in this order: the servers first (their sockets), then the agents.
    servers: server::Servers,
    agents: agent::Agents,
    /// Numbers the probes: payload nonces, ICMP sequence numbers and default identifiers.
    counter: AtomicU32,
}

impl Prober {
    /// Starts a prober that runs up to `parallelism` probes at once (at least 1). Starts the
    /// server thread; namespace agents start on first use.
    pub fn new(parallelism: usize) -> Result<Prober, ProbeError> {
        Ok(Prober {
            parallelism: parallelism.max(1),
            servers: server::Servers::start()?,
            agents: agent::Agents::default(),
            // Start where another process's probes are unlikely to be (ICMP identifiers are
            // shared by every raw socket of a namespace).
            counter: AtomicU32::new(std::process::id().wrapping_mul(2_654_435_761)),
        })
    }

    /// How many probes run at once.
    pub fn parallelism(&self) -> usize {
        self.parallelism
    }

    /// Starts answering servers in `netns` for (`proto`, `port`) — idempotent. TCP: accept, read
    /// what the client sends, reply with one line `SEEN <ip>:<port>\n` followed by an echo of the
    /// data; UDP: reply to each datagram with `SEEN <ip>:<port>\n` + data. Binds 0.0.0.0:port.
    /// ICMP needs no server (the kernel answers echo requests); it only checks the namespace.
    pub fn listen(&self, netns: &str, proto: Proto, port: u16) -> Result<(), ProbeError> {
        let agent = self.agents.get(netns)?;
        self.servers.listen(&agent, proto, port)
    }

    /// Runs one probe on the calling thread.
    pub fn probe(&self, probe: &Probe) -> Result<ProbeOutcome, ProbeError> {
        let agent = self.agents.get(&probe.src_netns)?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let outcome = match probe.proto {
            Proto::Tcp => client::tcp(&agent, probe, n),
            Proto::Udp => client::udp(&agent, probe, n),
            Proto::Icmp => {
                let id = probe.src_port.unwrap_or((n >> 16) as u16 ^ n as u16);
                icmp::echo(&agent, probe, id, n as u16)
            }
        };
        match &outcome {
            Ok(o) => tracing::trace!(%probe, outcome = %o, "probe"),
            Err(e) => tracing::debug!(%probe, error = %e, "probe failed"),
        }
        outcome
    }

    /// Runs probes concurrently (bounded by the parallelism) and returns the outcomes in input
    /// order. The calling thread works too; the other workers are scoped threads of this call.
    pub fn run(&self, probes: &[Probe]) -> Vec<Result<ProbeOutcome, ProbeError>> {
        let next = AtomicU32::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(probe) = probes.get(i) else {
                    return done;
                };
                done.push((i, self.probe(probe)));
            }
        };
        let mut slots: Vec<Option<Result<ProbeOutcome, ProbeError>>> =
            probes.iter().map(|_| None).collect();
        let helpers = self.parallelism.min(probes.len()).saturating_sub(1);
        thread::scope(|scope| {
            let handles: Vec<_> = (0..helpers)
                .filter_map(|k| {
                    thread::Builder::new()
                        .name(format!("probe-worker-{k}"))
                        .stack_size(WORKER_STACK)
                        .spawn_scoped(scope, work)
                        .map_err(|e| tracing::warn!(%e, "cannot start a probe worker"))
                        .ok()
                })
                .collect();
            for (i, r) in work() {
                slots[i] = Some(r);
            }
            for h in handles {
                // A panicked worker's probes stay `None` and are reported below.
                if let Ok(done) = h.join() {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
            }
        });
        slots
            .into_iter()
            .map(|r| r.unwrap_or(Err(ProbeError::WorkerPanicked)))
            .collect()
    }

    /// Opens a TCP connection that stays open (for "connections open before a change keep
    /// working / are cut"): the probe's exchange, then the socket is kept. Fails with
    /// [`ProbeError::NotReached`] when the exchange does not go both ways.
    pub fn hold(&self, probe: &Probe) -> Result<Held, ProbeError> {
        if probe.proto != Proto::Tcp {
            return Err(ProbeError::Unsupported("only TCP connections can be held"));
        }
        let agent = self.agents.get(&probe.src_netns)?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        match client::tcp_exchange(&agent, probe, n)? {
            Ok(connected) => Ok(Held::new(connected)),
            Err(outcome) => Err(ProbeError::NotReached {
                probe: Box::new(probe.clone()),
                outcome,
            }),
        }
    }

    /// Closes the servers of `netns` and stops its agent, so that the prober no longer keeps it
    /// alive (before deleting or re-creating it). Later calls naming it start afresh. Held
    /// connections from it keep it alive until they are dropped.
    pub fn forget(&self, netns: &str) {
        self.servers.forget(netns);
        self.agents.forget(netns);
    }
}
