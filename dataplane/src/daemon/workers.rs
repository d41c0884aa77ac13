//! The forwarding workers: one thread each with its own data plane and run loop, the
//! commands the control thread sends them (install, report, trace, …) and the fan-out
//! of those commands over the workers.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc};
use std::thread;

use super::{AnyPort, DaemonError, Options, EXPIRY_INTERVAL_MS};
use crate::datapath::{Dataplane, EniPlan, Steering};
use crate::engine::handoff::Inbox;
use crate::engine::port::PortIdx;
use crate::engine::run::{Next, RunLoop};
use crate::observe::report::{add_kernel_stats, assemble, CounterSnapshot};
use crate::observe::stats::StatsReport;
use crate::vpc::tables::Tables;

pub(super) enum Cmd {
    Install {
        tables: Arc<Tables>,
        plan: Vec<EniPlan<AnyPort>>,
        /// The resolver's new upstream link (`Some(None)`: none any more; `None`: keep
        /// the running one).
        upstream: Option<Option<crate::datapath::UpstreamLink>>,
        reply: mpsc::Sender<Result<u64, String>>,
    },
    /// The counters now, with the tables they belong to: the report is assembled by the
    /// asking thread, not the forwarding one.
    Report {
        reply: mpsc::Sender<(Arc<Tables>, CounterSnapshot)>,
    },
    /// Trace a packet on copies of the state.
    Trace {
        spec: crate::observe::trace::TraceSpec,
        reply: mpsc::Sender<Result<crate::observe::trace::TraceReport, String>>,
    },
    /// Which ENIs of the running configuration still have a port.
    Attached {
        reply: mpsc::Sender<Vec<bool>>,
    },
    Stop,
}

/// The way to one forwarding worker: its command queue and the descriptor that wakes it.
#[derive(Clone)]
pub(super) struct Link {
    tx: mpsc::Sender<Cmd>,
    wake: Arc<UnixStream>,
}

impl Link {
    /// Queues `cmd` for the worker and wakes it.
    pub(super) fn send(&self, cmd: Cmd) -> bool {
        if self.tx.send(cmd).is_err() {
            return false;
        }
        (&*self.wake).write_all(&[1]).is_ok()
    }
}

/// Handles to the forwarding workers.
pub(super) struct Forwarder {
    pub(super) links: Vec<Link>,
    threads: Vec<thread::JoinHandle<()>>,
    /// Every worker's inbox, when there are several (ports with a single queue are
    /// reached through worker 0's).
    pub(super) inboxes: Option<Arc<[Inbox]>>,
}

impl Forwarder {
    pub(super) fn workers(&self) -> usize {
        self.links.len()
    }

    /// Sends `cmd` to worker `w`.
    pub(super) fn send(&self, w: usize, cmd: Cmd) -> bool {
        self.links.get(w).is_some_and(|l| l.send(cmd))
    }

    /// A fresh report, the workers' counters summed (`None`: a worker is gone).
    pub(super) fn report(&self) -> Option<StatsReport> {
        fetch_report(&self.links)
    }
}

/// Asks every worker for its counters, taken between two batches, sums them, and
/// assembles the report (what `vpcctl show` and the metrics endpoint serve) on the
/// calling thread: the workers only copy counters. The kernel's counters of the ENIs'
/// TAPs are read here too, on the calling (control or metrics) thread, one rtnetlink dump
/// per namespace ([`add_kernel_stats`]).
pub(super) fn fetch_report(links: &[Link]) -> Option<StatsReport> {
    let pending: Vec<_> = links
        .iter()
        .map(|l| {
            let (reply, rx) = mpsc::channel();
            l.send(Cmd::Report { reply }).then_some(rx)
        })
        .collect::<Option<_>>()?;
    let mut replies = pending.into_iter();
    let (tables, mut snap) = replies.next()?.recv().ok()?;
    for rx in replies {
        let (_, other) = rx.recv().ok()?;
        snap.merge(&other);
    }
    let mut report = assemble(&tables, snap);
    add_kernel_stats(&mut report, crate::sys::linkstats::read_namespace);
    Some(report)
}

/// Starts `opts.workers` forwarding threads, each with its own data plane and run loop
/// (and, with several, their place in the group: [`Steering`]).
pub(super) fn start_workers(opts: &Options) -> Result<Forwarder, DaemonError> {
    let n = opts.workers;
    let mut wakes = Vec::with_capacity(n);
    for _ in 0..n {
        wakes.push(UnixStream::pair().map_err(DaemonError::Setup)?);
    }
    let mut steering: Vec<Option<Steering>> = if n > 1 {
        let wakers = wakes
            .iter()
            .map(|(tx, _)| tx.try_clone())
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(DaemonError::Setup)?;
        Steering::group(wakers)
            .map_err(DaemonError::Setup)?
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![None]
    };
    let inboxes = steering
        .first()
        .and_then(Option::as_ref)
        .map(Steering::inboxes);
    let mut fwd = Forwarder {
        links: Vec::with_capacity(n),
        threads: Vec::with_capacity(n),
        inboxes,
    };
    for (w, (wake_tx, wake_rx)) in wakes.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel();
        let run = match RunLoop::new(wake_rx, EXPIRY_INTERVAL_MS) {
            Ok(r) => r.with_spin(opts.poll_spin),
            Err(e) => {
                stop_workers(fwd);
                return Err(DaemonError::Setup(e));
            }
        };
        let mut dp = Dataplane::new(opts.flow_capacity);
        if let Some(st) = steering.get_mut(w).and_then(Option::take) {
            dp.set_steering(st);
        }
        let name = if n > 1 {
            format!("forwarding-{w}")
        } else {
            "forwarding".into()
        };
        match thread::Builder::new()
            .name(name)
            .spawn(move || forwarding_loop(dp, run, rx))
        {
            Ok(t) => fwd.threads.push(t),
            Err(e) => {
                stop_workers(fwd);
                return Err(DaemonError::Setup(e));
            }
        }
        fwd.links.push(Link {
            tx,
            wake: Arc::new(wake_tx),
        });
    }
    Ok(fwd)
}

/// Stops every worker (each writes its running flow-log intervals first) and waits.
pub(super) fn stop_workers(fwd: Forwarder) {
    for l in &fwd.links {
        l.send(Cmd::Stop);
    }
    for t in fwd.threads {
        let _ = t.join();
    }
}

/// The forwarding thread: the engine's run loop over the data plane, taking the control
/// thread's commands between two batches.
fn forwarding_loop(mut dp: Dataplane<AnyPort>, mut run: RunLoop, rx: mpsc::Receiver<Cmd>) {
    run.run(&mut dp, |dp, watched| {
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                Cmd::Stop => {
                    // The running flow-log intervals are written before exiting.
                    dp.close_flow_logs();
                    return Next::Stop;
                }
                Cmd::Report { reply } => {
                    let mut snap = dp.snapshot(|p| Some(p.name()));
                    snap.port_status = (0..snap.ports.len() as u32)
                        .map(|i| dp.port(PortIdx(i)).and_then(AnyPort::status))
                        .collect();
                    let _ = reply.send((dp.shared_tables(), snap));
                }
                Cmd::Trace { spec, reply } => {
                    let _ = reply.send(dp.trace(&spec));
                }
                Cmd::Attached { reply } => {
                    let n = dp.tables().port_count() as u32;
                    let _ = reply.send((0..n).map(|i| dp.port(PortIdx(i)).is_some()).collect());
                }
                Cmd::Install {
                    tables,
                    plan,
                    upstream,
                    reply,
                } => match dp.install_tables(tables, plan) {
                    Ok(crate::datapath::Installed { epoch, released }) => {
                        drop(released);
                        if let Some(link) = upstream {
                            dp.set_upstream(link);
                        }
                        watched.sync(dp);
                        let _ = reply.send(Ok(epoch));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.error.to_string()));
                    }
                },
            }
        }
        // Frames other workers handed over (a wake-up may be for them alone).
        dp.drain_inbox();
        Next::Continue
    });
}
