//! Running a [`Plan`]: for each topology step, apply it, then run its checks — traffic
//! from the sender's namespace through the probe engine (in parallel, consecutive traffic
//! checks together) and a trace of the same packet (same addresses and ports) through
//! vpcd — and judge each: the traffic against the expectation (pass/fail), the trace
//! against the traffic (a disagreement is a bug in vpcd, reported on its own).
//!
//! A check whose trace predicts a drop waits only [`BLOCKED_WAIT`] for an answer; one
//! predicted to reach waits [`REACH_WAIT`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dataplane::observe::trace::{Outcome, TraceProtocol, TraceReport, TraceSpec};

use super::lab::{LabError, TestLab};
use super::plan::{CheckKind, Plan, PlannedCheck, ProbeCheck};
use super::report::{CheckReport, Status, StepReport, TestReport, Verdict};
use super::spec::CheckProtocol;
use crate::probe::{Held, Probe, ProbeOutcome, Prober, Proto};

/// How long a check predicted to reach waits for its answer.
pub const REACH_WAIT: Duration = Duration::from_secs(3);
/// How long a check predicted to be dropped waits for an answer that should not come.
pub const BLOCKED_WAIT: Duration = Duration::from_millis(300);
/// The first source port given to checks that name none (check `i` gets this + `i`).
pub const FIRST_SOURCE_PORT: u16 = 20_000;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Use the vpcd at this socket and the namespaces `vpcctl up` made, instead of a
    /// private vpcd and per-run namespaces.
    pub attach: Option<PathBuf>,
    /// The vpcd binary for a private run.
    pub vpcd: PathBuf,
    /// Probes in flight at once.
    pub parallelism: usize,
}

/// Why a run could not complete (a check failing is not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bringing the topology up.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// A topology step did not compile with the run's namespace names.
    #[error("step {step}: {errors}")]
    Compile {
        /// The step.
        step: usize,
        /// What was wrong.
        errors: String,
    },
    /// The probe engine could not start.
    #[error("probe engine: {0}")]
    Probe(String),
}

/// What a run produced: the report, and the trace of every traffic check (by check
/// index), for tools that read more than the report keeps (`vpcctl diff`).
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The report.
    pub report: TestReport,
    /// The traces.
    pub traces: BTreeMap<usize, TraceReport>,
}

/// Runs `plan`; `progress` is called after every check.
pub fn run(
    plan: &Plan,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&CheckReport),
) -> Result<RunOutput, RunError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let mut lab = match &opts.attach {
        Some(socket) => TestLab::attach(socket),
        None => TestLab::start(&opts.vpcd)?,
    };
    let prober = Prober::new(opts.parallelism).map_err(|e| RunError::Probe(e.to_string()))?;
    let mut held: BTreeMap<usize, Held> = BTreeMap::new();
    let mut reports: Vec<CheckReport> = Vec::new();
    let mut traces: BTreeMap<usize, TraceReport> = BTreeMap::new();
    for step in &plan.steps {
        let (t, config) =
            plan.config(step.index, &|n| lab.ns(n))
                .map_err(|e| RunError::Compile {
                    step: step.index,
                    errors: e.join("; "),
                })?;
        lab.apply(&t, &config)?;
        let checks: Vec<&PlannedCheck> = plan
            .checks
            .iter()
            .filter(|c| c.step == step.index)
            .collect();
        let mut i = 0;
        while i < checks.len() {
            match &checks[i].kind {
                CheckKind::Held {
                    opened_by, alive, ..
                } => {
                    let opener = plan.checks.iter().find_map(|c| match &c.kind {
                        CheckKind::Probe(p) if c.index == *opened_by => Some(p),
                        _ => None,
                    });
                    let r = held_check(checks[i], *opened_by, opener, *alive, &mut held);
                    progress(&r);
                    reports.push(r);
                    i += 1;
                }
                CheckKind::Probe(_) => {
                    let mut batch = Vec::new();
                    while let Some(
                        c @ PlannedCheck {
                            kind: CheckKind::Probe(p),
                            ..
                        },
                    ) = checks.get(i)
                    {
                        batch.push((*c, p));
                        i += 1;
                    }
                    for (r, t) in probe_batch(&batch, &lab, &prober, &mut held) {
                        progress(&r);
                        if let Some(t) = t {
                            traces.insert(r.index, t);
                        }
                        reports.push(r);
                    }
                }
            }
        }
    }
    reports.sort_by_key(|r| r.index);
    let report = TestReport {
        file: plan.file.clone(),
        topology: plan.topology_label.clone(),
        started: started_at,
        duration_ms: millis(started.elapsed()),
        steps: plan
            .steps
            .iter()
            .skip(1)
            .map(|s| StepReport {
                index: s.index,
                description: s.description.clone(),
            })
            .collect(),
        checks: reports,
    };
    Ok(RunOutput { report, traces })
}

/// The source port (or ICMP identifier) check `c` uses.
fn source_port(c: &PlannedCheck, p: &ProbeCheck) -> u16 {
    p.source_port
        .unwrap_or_else(|| FIRST_SOURCE_PORT.wrapping_add((c.index % 40_000) as u16))
}

/// What a trace predicts, and the explanation code of a drop.
fn predicted(report: &TraceReport, proto: CheckProtocol) -> (Verdict, Option<String>) {
    let drop_code = |o: &Outcome| match o {
        Outcome::Dropped { code, .. } => Some(code.clone()),
        _ => None,
    };
    let forward_ok = match &report.forward.outcome {
        Outcome::Delivered { .. } => true,
        // The VPC router answers pings to its own addresses.
        Outcome::Answered { .. } => proto == CheckProtocol::Icmp,
        Outcome::Dropped { .. } => false,
    };
    if !forward_ok {
        return (Verdict::Blocked, drop_code(&report.forward.outcome));
    }
    match &report.reply {
        Some(r) if matches!(r.outcome, Outcome::Delivered { .. }) => (Verdict::Reach, None),
        Some(r) => (Verdict::Blocked, drop_code(&r.outcome)),
        // Answered by the router: no reply leg to trace.
        None => (Verdict::Reach, None),
    }
}

/// Runs consecutive traffic checks together.
fn probe_batch(
    batch: &[(&PlannedCheck, &ProbeCheck)],
    lab: &TestLab,
    prober: &Prober,
    held: &mut BTreeMap<usize, Held>,
) -> Vec<(CheckReport, Option<TraceReport>)> {
    let t0 = Instant::now();
    // Servers where the traffic goes.
    let mut listeners = BTreeSet::new();
    for (_, p) in batch {
        if let (Some(ns), Some(port)) = (&p.dst_netns, p.port) {
            listeners.insert((lab.ns(ns), proto(p.protocol), port));
        }
    }
    let mut listen_errors: BTreeMap<(String, u16), String> = BTreeMap::new();
    for (ns, pr, port) in &listeners {
        if let Err(e) = prober.listen(ns, *pr, *port) {
            listen_errors.insert((ns.clone(), *port), e.to_string());
        }
    }
    // Traces first: they decide how long each probe waits.
    let traces: Vec<Result<TraceReport, String>> = batch
        .iter()
        .map(|(c, p)| {
            let spec = TraceSpec {
                from: p.from.clone(),
                src: None,
                dst: IpAddr::V4(p.dst),
                protocol: match p.protocol {
                    CheckProtocol::Tcp => TraceProtocol::Tcp,
                    CheckProtocol::Udp => TraceProtocol::Udp,
                    CheckProtocol::Icmp => TraceProtocol::Icmp,
                },
                src_port: Some(source_port(c, p)),
                dst_port: p.port,
                icmp_type: None,
                icmp_code: None,
                tcp_flags: None,
                return_path: true,
            };
            crate::client::trace(lab.socket(), &spec).map_err(|e| e.to_string())
        })
        .collect();
    let probes: Vec<Probe> = batch
        .iter()
        .zip(&traces)
        .map(|((c, p), tr)| {
            let reach = tr
                .as_ref()
                .map(|r| predicted(r, p.protocol).0 == Verdict::Reach)
                .unwrap_or(true);
            Probe {
                src_netns: lab.ns(&p.from_netns),
                src_port: Some(source_port(c, p)),
                dst: p.dst,
                proto: proto(p.protocol),
                dst_port: p.port.unwrap_or(0),
                timeout: if reach { REACH_WAIT } else { BLOCKED_WAIT },
            }
        })
        .collect();
    // Held connections are opened on their own; the rest run together.
    let mut outcomes: Vec<Option<Result<ProbeOutcome, String>>> = vec![None; batch.len()];
    let mut plain = Vec::new();
    for (k, ((c, p), probe)) in batch.iter().zip(&probes).enumerate() {
        if p.hold.is_some() {
            outcomes[k] = Some(match prober.hold(probe) {
                Ok(h) => {
                    let seen = h.seen();
                    held.insert(c.index, h);
                    Ok(ProbeOutcome::Reached {
                        seen,
                        rtt: Duration::ZERO,
                    })
                }
                Err(e) => Ok(ProbeOutcome::Refused {
                    detail: e.to_string(),
                }),
            });
        } else {
            plain.push(k);
        }
    }
    let run: Vec<Probe> = plain.iter().map(|&k| probes[k].clone()).collect();
    for (k, r) in plain.iter().zip(prober.run(&run)) {
        outcomes[*k] = Some(r.map_err(|e| e.to_string()));
    }
    let per = millis(t0.elapsed()) / batch.len().max(1) as u64;
    batch
        .iter()
        .zip(traces)
        .zip(outcomes)
        .map(|(((c, p), tr), out)| {
            let listen_error = match (&p.dst_netns, p.port) {
                (Some(ns), Some(port)) => listen_errors.get(&(lab.ns(ns), port)).cloned(),
                _ => None,
            };
            let kept = tr.as_ref().ok().cloned();
            (
                judge(
                    c,
                    p,
                    tr,
                    out.unwrap_or_else(|| Err("not run".into())),
                    listen_error,
                    per,
                ),
                kept,
            )
        })
        .collect()
}

/// The verdict of one traffic check.
fn judge(
    c: &PlannedCheck,
    p: &ProbeCheck,
    trace: Result<TraceReport, String>,
    outcome: Result<ProbeOutcome, String>,
    listen_error: Option<String>,
    duration_ms: u64,
) -> CheckReport {
    let mut r = CheckReport {
        index: c.index,
        name: c.name.clone(),
        step: c.step,
        from: p.from.clone(),
        to: p.to.clone(),
        dst: p.dst.to_string(),
        protocol: p.protocol.as_str().to_string(),
        port: p.port,
        expect: p.expect,
        traffic: None,
        trace: None,
        seen_source: None,
        expected_source: p.seen_source.map(|a| a.to_string()),
        explanation: None,
        expected_explanation: p.explanation.clone(),
        status: Status::Pass,
        message: String::new(),
        trace_text: String::new(),
        duration_ms,
    };
    let mut seen_ip: Option<Ipv4Addr> = None;
    match &trace {
        Ok(t) => {
            let (v, code) = predicted(t, p.protocol);
            r.trace = Some(v);
            r.explanation = code;
            r.trace_text = t.to_string();
        }
        Err(e) => {
            r.status = Status::Error;
            r.message = format!("trace failed: {e}");
        }
    }
    match outcome {
        Ok(ProbeOutcome::Reached { seen, .. }) => {
            r.traffic = Some(Verdict::Reach);
            seen_ip = seen.map(|s| *s.ip());
            r.seen_source = seen.map(|s| s.to_string());
        }
        Ok(ProbeOutcome::Refused { detail }) => {
            r.traffic = Some(Verdict::Blocked);
            if r.message.is_empty() {
                r.message = format!("refused: {detail}");
            }
        }
        Ok(ProbeOutcome::NoAnswer) => r.traffic = Some(Verdict::Blocked),
        Err(e) => {
            r.status = Status::Error;
            r.message = format!("probe failed: {e}");
        }
    }
    if let Some(e) = listen_error {
        r.status = Status::Error;
        r.message = format!("server could not listen: {e}");
    }
    if r.status == Status::Error {
        return r;
    }
    let mut problems = Vec::new();
    if r.traffic != Some(p.expect) {
        problems.push(format!(
            "expected {}, the traffic was {}",
            verdict(Some(p.expect)),
            verdict(r.traffic)
        ));
    }
    if let (Some(want), Verdict::Reach) = (p.seen_source, p.expect) {
        if r.traffic == Some(Verdict::Reach) && seen_ip != Some(want) {
            problems.push(format!(
                "the server saw {} instead of {want}",
                r.seen_source.as_deref().unwrap_or("no source")
            ));
        }
    }
    if let Some(want) = &p.explanation {
        if r.traffic == Some(Verdict::Blocked) && r.explanation.as_deref() != Some(want.as_str()) {
            problems.push(format!(
                "expected explanation {want}, the trace gives {}",
                r.explanation.as_deref().unwrap_or("none")
            ));
        }
    }
    if r.trace.is_some() && r.trace != r.traffic {
        r.status = Status::Disagree;
        r.message = format!(
            "trace predicted {} but the traffic was {} (a bug in vpcd){}",
            verdict(r.trace),
            verdict(r.traffic),
            if problems.is_empty() {
                String::new()
            } else {
                format!("; {}", problems.join("; "))
            }
        );
    } else if !problems.is_empty() {
        r.status = Status::Fail;
        r.message = problems.join("; ");
    }
    if r.status == Status::Pass {
        r.message.clear();
    }
    r
}

/// A check of a held connection.
fn held_check(
    c: &PlannedCheck,
    opened_by: usize,
    opener: Option<&ProbeCheck>,
    alive: bool,
    held: &mut BTreeMap<usize, Held>,
) -> CheckReport {
    let t0 = Instant::now();
    let expect = if alive {
        Verdict::Reach
    } else {
        Verdict::Blocked
    };
    let traffic = held.get_mut(&opened_by).map(|h| {
        if h.alive(if alive {
            REACH_WAIT
        } else {
            Duration::from_millis(800)
        }) {
            Verdict::Reach
        } else {
            Verdict::Blocked
        }
    });
    let (status, message) = match traffic {
        None => (
            Status::Error,
            format!("check {opened_by} did not leave a connection open"),
        ),
        Some(v) if v == expect => (Status::Pass, String::new()),
        Some(_) => (
            Status::Fail,
            if alive {
                "the connection no longer carries data".to_string()
            } else {
                "the connection still carries data".to_string()
            },
        ),
    };
    CheckReport {
        index: c.index,
        name: c.name.clone(),
        step: c.step,
        from: opener.map(|p| p.from.clone()).unwrap_or_default(),
        to: opener.map(|p| p.to.clone()).unwrap_or_default(),
        dst: opener.map(|p| p.dst.to_string()).unwrap_or_default(),
        protocol: "tcp".to_string(),
        port: opener.and_then(|p| p.port),
        expect,
        traffic,
        trace: None,
        seen_source: None,
        expected_source: None,
        explanation: None,
        expected_explanation: None,
        status,
        message,
        trace_text: String::new(),
        duration_ms: millis(t0.elapsed()),
    }
}

fn proto(p: CheckProtocol) -> Proto {
    match p {
        CheckProtocol::Tcp => Proto::Tcp,
        CheckProtocol::Udp => Proto::Udp,
        CheckProtocol::Icmp => Proto::Icmp,
    }
}

fn verdict(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Reach) => "reach",
        Some(Verdict::Blocked) => "blocked",
        None => "unknown",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Now as RFC 3339 UTC (seconds), as the reports carry it.
fn now_rfc3339() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Where relative paths of a test file start.
pub fn base_dir(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}
