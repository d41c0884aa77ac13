//! `vpcd`: the control socket, the apply procedure, and the forwarding workers.
//!
//! A control thread and one or more forwarding threads (workers, `--workers N`). Each
//! worker owns a [`Dataplane`](crate::datapath::Dataplane) over its ports (TAPs, QEMU stream sockets and vhost-user
//! back ends, [`port::AnyPort`]) and runs a run-to-completion loop
//! ([`crate::engine::run`]): epoll over the port fds, each ready port drained in batches.
//! The control thread serves the Unix socket; for an apply it does the slow work (build
//! and check tables, create TAPs, move them into namespaces) without stopping
//! forwarding, then hands the result to every worker, which swaps it in between two
//! batches. A rejected apply never reaches a worker.
//!
//! With several workers, flows are sharded by a symmetric hash of their L4 identifiers
//! ([`crate::engine::steer`]): each worker has its own flow cache, connection tables and
//! NAT translations, and no lock on the per-packet path. Every TAP has one queue per
//! worker (`IFF_MULTI_QUEUE`); a port with a single queue (a socket, a vhost-user guest, a
//! packet socket) is read by worker 0, and the other workers hand what they send to it
//! to worker 0 ([`crate::engine::handoff`]). A frame read by a worker that does not own
//! its flow is handed to its owner. Reports sum the workers' counters; a trace runs on the
//! worker that owns the traced flow.

pub mod attach;
pub mod metrics_http;
pub mod port;
pub mod proto;
mod server;
pub mod state;
mod workers;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use crate::daemon::metrics_http::{MetricsError, MetricsServer};
use crate::daemon::port::AnyPort;
use crate::daemon::proto::Response;
use crate::datapath::{EniPlan, PortChange, DEFAULT_FLOWS};
use crate::engine::handoff::RemotePort;
use crate::engine::port::PortIdx;
use crate::sys::packet::PacketPort;
use crate::sys::stream::StreamPort;
use crate::sys::tap::Tap;
use crate::sys::vhost_user::VhostUserPort;
use crate::vpc::config::{AttachmentKind, DataplaneConfig};
use crate::vpc::tables::Tables;

/// How often connection tracking expires idle connections.
const EXPIRY_INTERVAL_MS: i32 = 50;

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct Options {
    /// The control socket path (created with mode 0600).
    pub socket: PathBuf,
    /// Prefix of the TAP names this daemon creates (at most 8 bytes).
    pub tap_prefix: String,
    /// Flow-cache capacity.
    pub flow_capacity: usize,
    /// TAP send buffer in bytes.
    pub sndbuf: i32,
    /// Serve Prometheus metrics over HTTP on this address (off by default).
    pub metrics: Option<MetricsOptions>,
    /// Adaptive polling: how long the forwarding thread keeps polling after traffic
    /// before it sleeps ([`RunLoop::with_spin`](crate::engine::run::RunLoop::with_spin)); [`DEFAULT_POLL_SPIN`] by default.
    pub poll_spin: std::time::Duration,
    /// Forwarding workers (threads), 1 to [`MAX_WORKERS`]; 1 by default.
    pub workers: usize,
    /// Where the last applied configuration is kept ([`state`]): written after every
    /// apply, applied again when vpcd starts. With it, TAPs are persistent (they outlive
    /// a crash of vpcd, and the next one adopts them). None by default.
    pub state_file: Option<PathBuf>,
}

/// The most forwarding workers (a TAP has at most this many queues).
pub const MAX_WORKERS: usize = 16;

/// Default of [`Options::poll_spin`].
pub const DEFAULT_POLL_SPIN: std::time::Duration = std::time::Duration::from_micros(0);

/// The opt-in metrics endpoint (see [`crate::daemon::metrics_http`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Where to listen (port 0: any free port, reported on the ready line).
    pub addr: SocketAddr,
    /// Allow a non-loopback address (refused otherwise).
    pub allow_remote: bool,
}

/// What the daemon tells its `ready` callback.
#[derive(Debug, Clone, Copy)]
pub struct Ready<'a> {
    /// The control socket, listening.
    pub socket: &'a Path,
    /// The metrics endpoint's actual address, when enabled.
    pub metrics: Option<SocketAddr>,
}

impl Options {
    /// Defaults for `socket`, with a TAP prefix derived from our PID.
    pub fn new(socket: PathBuf) -> Options {
        Options {
            socket,
            tap_prefix: format!("vd{:x}", std::process::id()),
            flow_capacity: DEFAULT_FLOWS,
            sndbuf: i32::MAX,
            metrics: None,
            poll_spin: DEFAULT_POLL_SPIN,
            workers: 1,
            state_file: None,
        }
    }
}

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The TAP prefix is too long or has odd characters.
    #[error("tap prefix `{0}` must be 1 to 8 characters of [a-z0-9]")]
    BadPrefix(String),
    /// Another vpcd answers on the socket.
    #[error("another vpcd is already listening on {0}; stop it with `vpcctl --socket {0} down`")]
    AlreadyRunning(PathBuf),
    /// Socket setup failed.
    #[error("control socket {path}: {source}")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Epoll or thread setup failed.
    #[error("forwarding thread setup: {0}")]
    Setup(#[source] std::io::Error),
    /// The metrics endpoint could not start (or its address was refused).
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The number of workers is out of range.
    #[error("--workers {0}: give 1 to {MAX_WORKERS}")]
    BadWorkers(usize),
}

use workers::{fetch_report, start_workers, stop_workers, Cmd, Forwarder};

/// Runs the daemon until a shutdown request. `ready` is called once the socket listens.
pub fn run(opts: Options, ready: impl FnOnce(&Path)) -> Result<(), DaemonError> {
    run_with(opts, |r: &Ready<'_>| ready(r.socket))
}

/// [`run`], telling `ready` the metrics endpoint's address too.
pub fn run_with(opts: Options, ready: impl FnOnce(&Ready<'_>)) -> Result<(), DaemonError> {
    if opts.tap_prefix.is_empty()
        || opts.tap_prefix.len() > 8
        || !opts
            .tap_prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(DaemonError::BadPrefix(opts.tap_prefix));
    }
    if let Some(m) = opts.metrics {
        crate::daemon::metrics_http::check_addr(m.addr, m.allow_remote)?;
    }
    if opts.workers == 0 || opts.workers > MAX_WORKERS {
        return Err(DaemonError::BadWorkers(opts.workers));
    }
    let listener = bind(&opts.socket)?;
    let fwd = match start_workers(&opts) {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_file(&opts.socket);
            return Err(e);
        }
    };
    // Started before the workers take commands: requests wait in their queues.
    let metrics = match opts.metrics {
        None => None,
        Some(m) => {
            let links = fwd.links.clone();
            match MetricsServer::start(m.addr, m.allow_remote, move || fetch_report(&links)) {
                Ok(s) => Some(s),
                Err(e) => {
                    let _ = std::fs::remove_file(&opts.socket);
                    stop_workers(fwd);
                    return Err(e.into());
                }
            }
        }
    };
    ready(&Ready {
        socket: &opts.socket,
        metrics: metrics.as_ref().map(MetricsServer::local_addr),
    });
    let state = Mutex::new(ControlState {
        opts: opts.clone(),
        running: DataplaneConfig::default(),
        finished: HashSet::new(),
        next_tap: 0,
        epoch: 0,
    });
    if let Some(path) = &opts.state_file {
        server::restore(path, &state, &fwd);
    }
    server::serve(&listener, &opts.socket, &state, &fwd);
    // The endpoint first: it asks the forwarding thread for reports.
    if let Some(m) = metrics {
        m.stop();
    }
    stop_workers(fwd);
    let _ = std::fs::remove_file(&opts.socket);
    tracing::info!("vpcd stopped");
    Ok(())
}

fn bind(path: &Path) -> Result<UnixListener, DaemonError> {
    let err = |source| DaemonError::Socket {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(DaemonError::AlreadyRunning(path.to_path_buf()));
        }
        // A stale socket of a vpcd that died.
        std::fs::remove_file(path).map_err(err)?;
    }
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir).map_err(err)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    let l = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(l)
}

/// What the control thread knows of the running configuration.
struct ControlState {
    opts: Options,
    running: DataplaneConfig,
    /// ENIs (by id) whose attachment was completed (renamed, addressed, routed).
    finished: HashSet<String>,
    next_tap: u64,
    /// The running configuration epoch (every worker's).
    epoch: u64,
}

const GONE: &str = "the forwarding thread is gone; restart vpcd";

/// A TAP created (or adopted) for an apply and still to be finished after commit.
struct NewTap {
    port: usize,
    name: String,
    /// Left behind by an earlier vpcd and adopted: in place already.
    adopted: bool,
}

impl ControlState {
    fn apply(&mut self, config: DataplaneConfig, fwd: &Forwarder) -> Response {
        // 1. Pure checks: tables build, namespaces exist. Nothing is touched yet.
        let tables = match check(&config) {
            Ok(t) => t,
            Err(errors) => return Response::Rejected { errors },
        };
        let workers = fwd.workers();
        if workers > 1
            && !(config.flow_logs.is_empty()
                && config.captures.is_empty()
                && config.mirror_sessions.is_empty())
        {
            return Response::Rejected {
                errors: vec![format!(
                    "flow logs, packet captures and traffic mirroring need one forwarding \
                     worker for now; this vpcd runs {workers} (start it without --workers)"
                )],
            };
        }
        // The epoch this apply installs (every worker installs every apply).
        let next_epoch = self.epoch + 1;
        // With several workers, what a port with a single queue becomes on the workers
        // that do not own it: a hand-off to worker 0.
        let remote = |i: usize| -> PortChange<AnyPort> {
            match &fwd.inboxes {
                Some(inboxes) => PortChange::Replace(AnyPort::Remote(RemotePort::new(
                    Arc::clone(inboxes),
                    0,
                    PortIdx(i as u32),
                    next_epoch,
                ))),
                None => PortChange::Remove,
            }
        };
        let mut errors = Vec::new();
        // 2. Plan: keep the TAPs of unchanged, healthy attachments; create the others
        //    (moved into their namespace under a unique name). Any failure drops the new
        //    TAPs: nothing changed.
        let (tx, rx) = mpsc::channel();
        if !fwd.send(0, Cmd::Attached { reply: tx }) {
            return Response::Rejected {
                errors: vec![GONE.into()],
            };
        }
        let Ok(has_port) = rx.recv() else {
            return Response::Rejected {
                errors: vec![GONE.into()],
            };
        };
        let specs = attach::port_specs(&config);
        let running = attach::port_specs(&self.running);
        let previous: Vec<Option<usize>> = specs
            .iter()
            .map(|p| running.iter().position(|o| o.id == p.id))
            .collect();
        let keep: Vec<bool> = specs
            .iter()
            .zip(&previous)
            .map(|(p, prev)| {
                prev.is_some_and(|i| {
                    let old = &running[i];
                    let healthy = has_port.get(i).copied().unwrap_or(false);
                    match &p.attachment {
                        // A socket port does not depend on the ENI's addresses, MAC or
                        // MTU (the guest learns them by DHCP): it is kept, with its
                        // guest connection, while the socket stays the same.
                        Some(a) if !a.is_namespace() => {
                            old.attachment.as_ref() == Some(a) && healthy
                        }
                        _ => {
                            old == p
                                && (old.attachment.is_none()
                                    || (healthy && self.finished.contains(&old.id)))
                        }
                    }
                })
            })
            .collect();
        // Interface names in namespaces that this apply frees (TAPs not kept).
        let kept: HashSet<&str> = specs
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| p.id.as_str())
            .collect();
        let freed: HashSet<(&str, &str)> = running
            .iter()
            .filter(|o| !kept.contains(o.id.as_str()))
            .filter_map(|o| o.attachment.as_ref())
            .filter(|a| a.is_namespace())
            .map(|a| (a.netns.as_str(), a.ifname.as_str()))
            .collect();
        // TAPs an earlier vpcd left behind in their namespaces (persistent, marked as
        // this ENI's): adopted instead of created, so the instance keeps its interface,
        // its addresses (a DHCP lease's too) and its routes across a vpcd restart.
        let mut adopt = vec![false; specs.len()];
        for (i, (p, k)) in specs.iter().zip(&keep).enumerate() {
            if let (Some(a), false) = (&p.attachment, k) {
                if a.is_namespace()
                    && !freed.contains(&(a.netns.as_str(), a.ifname.as_str()))
                    && attach::ifname_in_use(&a.netns, &a.ifname)
                {
                    if previous[i].is_none() && attach::left_behind(&a.netns, &a.ifname, &p.id) {
                        adopt[i] = true;
                        continue;
                    }
                    errors.push(format!(
                        "{}: namespace `{}` already has an interface `{}` that vpcd does not own; \
                         delete it or choose another ifname",
                        p.id, a.netns, a.ifname
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Response::Rejected { errors };
        }
        // One plan per worker: the same tables, each worker's own queue of every TAP.
        let mut plans: Vec<Vec<EniPlan<AnyPort>>> = (0..workers)
            .map(|_| Vec::with_capacity(specs.len()))
            .collect();
        let mut new_taps = Vec::new();
        let mut new_sockets = Vec::new();
        for (i, p) in specs.iter().enumerate() {
            // A port with one queue (not a TAP in a namespace) is worker 0's.
            let single_queue = p.attachment.as_ref().is_some_and(|a| !a.is_namespace());
            // Worker 0's change, and the others' (`None`: the same as worker 0's, or,
            // for a port with one queue, a hand-off to worker 0).
            let (first, others): (PortChange<AnyPort>, Option<Vec<AnyPort>>) =
                match (&p.attachment, keep[i]) {
                    (_, true) => (PortChange::Keep, None),
                    (None, false) => (PortChange::Remove, None),
                    (Some(att), false) if !att.is_namespace() => match single_queue_port(p, att) {
                        Ok((port, socket)) => {
                            if socket {
                                new_sockets.push(p.id.clone());
                            }
                            (PortChange::Replace(port), None)
                        }
                        Err(e) => return Response::Rejected { errors: vec![e] },
                    },
                    (Some(att), false) => match self.tap_for(p, att, workers, adopt[i]) {
                        Ok((name, adopted, q0, rest)) => {
                            new_taps.push(NewTap {
                                port: i,
                                name,
                                adopted,
                            });
                            (PortChange::Replace(q0), Some(rest))
                        }
                        Err(e) => return Response::Rejected { errors: vec![e] },
                    },
                };
            let previous = previous[i].map(|p| PortIdx(p as u32));
            let mut others = others.map(Vec::into_iter);
            for plan in plans.iter_mut().skip(1) {
                let port = if let Some(q) = others.as_mut().and_then(Iterator::next) {
                    PortChange::Replace(q)
                } else {
                    match &first {
                        PortChange::Remove => PortChange::Remove,
                        // Renumbered, or new: a fresh hand-off (it carries the number).
                        _ if single_queue => remote(i),
                        PortChange::Keep => PortChange::Keep,
                        PortChange::Replace(_) => PortChange::Remove,
                    }
                };
                plan.push(EniPlan { previous, port });
            }
            if let Some(plan) = plans.first_mut() {
                plan.push(EniPlan {
                    previous,
                    port: first,
                });
            }
        }
        // The resolver's upstream sockets (one per worker: a query's answer comes back to
        // the worker that forwarded it), opened in its namespace when it changed.
        let mut upstreams: Vec<Option<Option<crate::datapath::UpstreamLink>>> = Vec::new();
        for _ in 0..workers {
            let link = if config.dns.upstream == self.running.dns.upstream {
                None
            } else {
                match &config.dns.upstream {
                    None => Some(None),
                    Some(u) => match crate::sys::netns::udp_socket_in(&u.netns, u.source) {
                        Ok(s) => Some(Some(crate::datapath::UpstreamLink::new(
                            s,
                            std::net::SocketAddr::from((u.server, crate::vpc::pipeline::dns::PORT)),
                        ))),
                        Err(err) => {
                            return Response::Rejected {
                                errors: vec![format!(
                            "dns.upstream: cannot open a socket from {} in namespace `{}`: {err}",
                            u.source, u.netns
                        )],
                            }
                        }
                    },
                }
            };
            upstreams.push(link);
        }
        // 3. Commit: every worker swaps tables and ports between two batches.
        let mut replies = Vec::with_capacity(workers);
        for (w, (plan, upstream)) in plans.into_iter().zip(upstreams).enumerate() {
            let (tx, rx) = mpsc::channel();
            if !fwd.send(
                w,
                Cmd::Install {
                    tables: Arc::clone(&tables),
                    plan,
                    upstream,
                    reply: tx,
                },
            ) {
                return Response::Rejected {
                    errors: vec![GONE.into()],
                };
            }
            replies.push(rx);
        }
        let mut epoch = 0;
        for rx in replies {
            epoch = match rx.recv() {
                Ok(Ok(epoch)) => epoch,
                Ok(Err(e)) => return Response::Rejected { errors: vec![e] },
                Err(_) => {
                    return Response::Rejected {
                        errors: vec![GONE.into()],
                    }
                }
            };
        }
        self.epoch = epoch;
        self.running = config;
        let ids: HashSet<&str> = specs.iter().map(|p| p.id.as_str()).collect();
        self.finished.retain(|id| ids.contains(id.as_str()));
        // A socket port is complete once it listens.
        self.finished.extend(new_sockets);
        // 4. Finish the new attachments (old TAPs are gone now, so names are free).
        let mut warnings = self.finish(&specs, &new_taps);
        tracing::info!(epoch, enis = self.running.enis.len(), "applied");
        if let Some(path) = &self.opts.state_file {
            if let Err(e) = state::save(path, &self.running) {
                tracing::error!(%e, path = %path.display(), "cannot save the configuration");
                warnings.push(format!(
                    "applied, but not saved to {}: {e} (a restarted vpcd would not restore it)",
                    path.display()
                ));
            }
        }
        Response::Applied { epoch, warnings }
    }

    /// Creates the TAP of port `p` (one queue per worker) and moves it into its
    /// namespace under a unique name: the name, worker 0's queue and the others'.
    fn create_tap(
        &mut self,
        p: &attach::PortSpec,
        att: &crate::vpc::config::Attachment,
        workers: usize,
    ) -> Result<(String, AnyPort, Vec<AnyPort>), String> {
        let name = attach::tap_name(&self.opts.tap_prefix, self.next_tap);
        self.next_tap += 1;
        let created = if workers > 1 {
            Tap::create_queues(&name, workers, self.opts.sndbuf)
        } else {
            Tap::create(&name, self.opts.sndbuf).map(|t| vec![t])
        };
        let mut queues = created.map_err(|err| format!("{}: {err}", p.id))?;
        // With a state file, the TAP outlives a crash of vpcd, for the next one to adopt.
        if let Some(q0) = queues.first_mut() {
            if self.opts.state_file.is_some() {
                q0.set_persistent(true)
                    .map_err(|err| format!("{}: {err}", p.id))?;
            }
        }
        attach::prepare(&name, p, att).map_err(|err| err.to_string())?;
        let (q0, rest) = split_queues(p, queues)?;
        Ok((name, q0, rest))
    }

    /// The TAP of port `p`: the one an earlier vpcd left behind when `adopt` (and it can
    /// be adopted), else a new one. Its name, whether it was adopted, worker 0's queue
    /// and the others'.
    fn tap_for(
        &mut self,
        p: &attach::PortSpec,
        att: &crate::vpc::config::Attachment,
        workers: usize,
        adopt: bool,
    ) -> Result<(String, bool, AnyPort, Vec<AnyPort>), String> {
        if adopt {
            if let Some(queues) = self.adopt(p, att, workers)? {
                let (q0, rest) = split_queues(p, queues)?;
                return Ok((att.ifname.clone(), true, q0, rest));
            }
        }
        let (name, q0, rest) = self.create_tap(p, att, workers)?;
        Ok((name, false, q0, rest))
    }

    /// Adopts the TAP an earlier vpcd left behind for port `p` ([`attach::left_behind`]).
    /// `Ok(None)`: it cannot be (created with another number of queues), so it was
    /// deleted and the caller creates a new one; an error: another process holds it.
    fn adopt(
        &self,
        p: &attach::PortSpec,
        att: &crate::vpc::config::Attachment,
        workers: usize,
    ) -> Result<Option<Vec<Tap>>, String> {
        match Tap::adopt_queues(&att.netns, &att.ifname, workers, self.opts.sndbuf) {
            Ok(mut queues) => {
                if let Some(q0) = queues.first_mut() {
                    q0.set_persistent(self.opts.state_file.is_some())
                        .map_err(|err| format!("{}: {err}", p.id))?;
                }
                tracing::info!(eni = %p.id, netns = %att.netns, ifname = %att.ifname, "TAP adopted");
                Ok(Some(queues))
            }
            Err(crate::sys::tap::TapError::Ioctl { source, .. })
                if source.raw_os_error() == Some(libc::EBUSY) =>
            {
                Err(format!(
                    "{}: interface `{}` in namespace `{}` is a TAP another process holds \
                     (another vpcd?); stop it, or delete the interface",
                    p.id, att.ifname, att.netns
                ))
            }
            Err(err) => {
                tracing::warn!(eni = %p.id, %err, "left-behind TAP not adoptable; re-created");
                attach::delete(&p.id, &att.netns, &att.ifname).map_err(|err| err.to_string())?;
                Ok(None)
            }
        }
    }

    /// Finishes the attachments of the new TAPs (rename, address, routes in their
    /// namespace); returns a warning per attachment that could not be finished.
    fn finish(&mut self, specs: &[attach::PortSpec], new_taps: &[NewTap]) -> Vec<String> {
        let mut warnings = Vec::new();
        for t in new_taps {
            let p = &specs[t.port];
            let Some(att) = &p.attachment else { continue };
            let done = if t.adopted {
                attach::refresh(p, att)
            } else {
                attach::finish(&t.name, p, att)
            };
            match done {
                Ok(()) => {
                    self.finished.insert(p.id.clone());
                }
                Err(err) => {
                    // The next apply replaces this TAP (it is not in `finished`).
                    self.finished.remove(&p.id);
                    tracing::warn!(%err, "attachment incomplete");
                    warnings.push(err.to_string());
                }
            }
        }
        warnings
    }
}

/// A TAP's queues as ports: worker 0's, and the others'.
fn split_queues(p: &attach::PortSpec, queues: Vec<Tap>) -> Result<(AnyPort, Vec<AnyPort>), String> {
    let mut queues = queues.into_iter().map(AnyPort::Tap);
    let q0 = queues
        .next()
        .ok_or_else(|| format!("{}: no TAP queue", p.id))?;
    Ok((q0, queues.collect()))
}

/// The checks of an apply that touch nothing: the tables build (once, here, off the
/// forwarding thread) and every attachment's namespace exists.
fn check(config: &DataplaneConfig) -> Result<Arc<Tables>, Vec<String>> {
    let tables = Tables::build(config.clone()).map_err(|e| vec![e.to_string()])?;
    let errors: Vec<String> = attach::port_specs(config)
        .into_iter()
        .filter_map(|p| {
            // A TAP's namespace, or the namespace an existing interface lives in.
            let a = p.attachment.as_ref().filter(|a| {
                a.is_namespace()
                    || (matches!(a.kind, AttachmentKind::Interface { .. }) && !a.netns.is_empty())
            })?;
            (!attach::netns_exists(&a.netns)).then(|| {
                attach::AttachError::NoNamespace {
                    eni: p.id.clone(),
                    netns: a.netns.clone(),
                }
                .to_string()
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(Arc::new(tables))
    } else {
        Err(errors)
    }
}

/// The new port of an attachment that is not a TAP: an existing interface opened with
/// `AF_PACKET` where it lives, or a socket a guest connects to (then `true`).
fn single_queue_port(
    p: &attach::PortSpec,
    att: &crate::vpc::config::Attachment,
) -> Result<(AnyPort, bool), String> {
    if let AttachmentKind::Interface { name } = &att.kind {
        let ns = (!att.netns.is_empty()).then_some(att.netns.as_str());
        return PacketPort::open(name, ns)
            .map(|port| (AnyPort::Packet(port), false))
            .map_err(|err| format!("{}: interface `{name}`: {err}", p.id));
    }
    let Some(socket) = att.kind.socket() else {
        return Err(format!("{}: unsupported attachment kind", p.id));
    };
    socket_port(&att.kind, socket, p.mac)
        .map(|port| (port, true))
        .map_err(|err| format!("{}: {err}", p.id))
}

/// The port of a socket attachment kind, listening at `socket`: a `-netdev stream`
/// socket, or a vhost-user back end offering a NIC with the ENI's `mac`. Something at
/// `socket` that is not a socket is left alone (an error).
fn socket_port(
    kind: &AttachmentKind,
    socket: &std::path::Path,
    mac: crate::wire::MacAddr,
) -> Result<AnyPort, String> {
    match kind {
        AttachmentKind::VhostUser { .. } => {
            use std::os::unix::fs::FileTypeExt;
            if std::fs::symlink_metadata(socket).is_ok_and(|m| !m.file_type().is_socket()) {
                return Err(format!(
                    "{} exists and is not a socket; not replacing it",
                    socket.display()
                ));
            }
            VhostUserPort::listen(socket, mac.0)
                .map(AnyPort::VhostUser)
                .map_err(|e| e.to_string())
        }
        _ => StreamPort::bind(socket)
            .map(AnyPort::Stream)
            .map_err(|e| e.to_string()),
    }
}
