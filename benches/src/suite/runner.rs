//! The runner: rounds × planes, interleaved. In every round each plane in turn is set up,
//! checked for reachability, measured (a quiet check before every measurement) and torn
//! down before the next plane comes up, so two planes are never up while one is measured.
//! The planes' order rotates from round to round, so no plane always runs first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use testbeds::RunPrefix;

use super::compare::RefBuild;
use super::error::{Error, Result};
use super::metrics::{self, Measurement, Metric, Settings};
use super::planes::{self, Plane};
use super::quiet::{QuietCheck, Quietness};
use super::results::{Group, PingSeries, QuietRecord, Results, Sample};
use super::{plot, report};

/// A function that sets a plane up; its argument is a fresh run prefix for the plane's
/// names.
pub type Build = Box<dyn Fn(&str) -> testbeds::Result<Plane>>;

/// A plane the suite knows how to build.
pub struct PlaneSpec {
    /// Its name in tables, CSV and plots.
    pub name: String,
    /// Which planes it is compared with.
    pub group: Group,
    /// Sets it up.
    pub build: Build,
}

impl std::fmt::Debug for PlaneSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaneSpec")
            .field("name", &self.name)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl PlaneSpec {
    /// A spec from a name, a group and a constructor.
    pub fn new(
        name: impl Into<String>,
        group: Group,
        build: impl Fn(&str) -> testbeds::Result<Plane> + 'static,
    ) -> PlaneSpec {
        PlaneSpec {
            name: name.into(),
            group,
            build: Box::new(build),
        }
    }
}

/// Every plane the suite can build, routed group first; with `compare`, `vpcd@REF` and
/// `vpcd-nat@REF` follow their current-build twins.
pub fn catalogue(compare: Option<&RefBuild>) -> Vec<PlaneSpec> {
    let mut v = vec![PlaneSpec::new("vpcd", Group::Routed, |_| {
        planes::vpcd::full("vpcd", None, 1)
    })];
    if let Some(c) = compare {
        let name = format!("vpcd@{}", c.reference);
        let (n, bin) = (name.clone(), c.vpcd.clone());
        v.push(PlaneSpec::new(name, Group::Routed, move |_| {
            planes::vpcd::full(&n, Some(&bin), 1)
        }));
    }
    v.push(PlaneSpec::new("vpcd-w2", Group::Routed, |_| {
        planes::vpcd::full("vpcd-w2", None, 2)
    }));
    v.push(PlaneSpec::new(
        "kernel",
        Group::Routed,
        planes::kernel::routed,
    ));
    v.push(PlaneSpec::new(
        "ovs",
        Group::Routed,
        planes::ovs::ovs_userspace,
    ));
    v.push(PlaneSpec::new(
        "tapfwd",
        Group::Routed,
        planes::tapfwd::tapfwd,
    ));
    v.push(PlaneSpec::new("vpcd-nat", Group::Nat, |_| {
        planes::vpcd::nat("vpcd-nat", None, 1)
    }));
    v.push(PlaneSpec::new("vpcd-nat-w2", Group::Nat, |_| {
        planes::vpcd::nat("vpcd-nat-w2", None, 2)
    }));
    if let Some(c) = compare {
        let name = format!("vpcd-nat@{}", c.reference);
        let (n, bin) = (name.clone(), c.vpcd.clone());
        v.push(PlaneSpec::new(name, Group::Nat, move |_| {
            planes::vpcd::nat(&n, Some(&bin), 1)
        }));
    }
    v.push(PlaneSpec::new(
        "kernel-masq",
        Group::Nat,
        planes::kernel::masquerade,
    ));
    v
}

/// Keeps the planes of `catalogue` named in the comma-separated `list` (`all` for every
/// one), in catalogue order; a `vpcd@REF` plane comes along with its twin.
pub fn select(catalogue: Vec<PlaneSpec>, list: &str) -> Result<Vec<PlaneSpec>> {
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if names.contains(&"all") {
        return Ok(catalogue);
    }
    for n in &names {
        if !catalogue.iter().any(|s| s.name == *n) {
            let known: Vec<&str> = catalogue.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::Usage(format!(
                "unknown plane `{n}` (known: {}, all)",
                known.join(", ")
            )));
        }
    }
    if names.is_empty() {
        return Err(Error::Usage("--planes is empty".into()));
    }
    Ok(catalogue
        .into_iter()
        .filter(|s| {
            let base = s.name.split('@').next().unwrap_or_default();
            names.contains(&s.name.as_str()) || names.contains(&base)
        })
        .collect())
}

/// What the runner does.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Rounds.
    pub rounds: u32,
    /// The measurements, in order.
    pub measurements: Vec<Measurement>,
    /// Their parameters.
    pub settings: Settings,
    /// The quiet check before each measurement.
    pub quiet: QuietCheck,
}

/// Set by a Ctrl-C handler: the runner stops after the current measurement, tears the
/// plane down and reports what it has.
pub static STOP: AtomicBool = AtomicBool::new(false);

fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Waits until the client reaches the server (ARP, routes, NAT ready), bounded.
fn wait_reachable(plane: &Plane) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match metrics::ping_times(&plane.client_ns, plane.server_ip, 1) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::Measurement(format!(
                    "{}: {} unreachable from {}: {e}",
                    plane.label, plane.server_ip, plane.client_ns
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// What one measurement produced: its figures, the ping round trips if it pinged, and a
/// part of it that failed while the rest stands (UDP's PDR search).
struct Measured {
    figures: Vec<(Metric, f64)>,
    ping: Option<Vec<f64>>,
    problem: Option<String>,
}

impl From<Vec<(Metric, f64)>> for Measured {
    fn from(figures: Vec<(Metric, f64)>) -> Self {
        Measured {
            figures,
            ping: None,
            problem: None,
        }
    }
}

/// Ports each measurement may use from its first one (UDP's PDR search runs a fresh
/// iperf3 server per trial, each on the next port).
const PORTS_PER_MEASUREMENT: u16 = 16;

/// Runs one measurement on a plane.
fn measure(plane: &Plane, m: Measurement, port: u16, settings: &Settings) -> Result<Measured> {
    Ok(match m {
        Measurement::Tcp1 => {
            let (run, cpu) = metrics::tcp(plane, port, settings.secs, 1)?;
            let mut v = vec![(Metric::Tcp1, run.gbps)];
            if let Some(c) = cpu {
                v.push((Metric::CpuPerGb, c));
            }
            v.into()
        }
        Measurement::Tcp4 => {
            let (run, _) = metrics::tcp(plane, port, settings.secs, 4)?;
            vec![(Metric::Tcp4, run.gbps)].into()
        }
        Measurement::Udp => {
            let udp = metrics::udp(plane, port, settings.secs)?;
            let run = udp.unconstrained;
            let mut figures = vec![
                (Metric::UdpSent, run.offered_pps / 1000.0),
                (Metric::UdpPps, run.delivered_pps / 1000.0),
                (Metric::UdpLoss, run.loss_pct),
            ];
            let problem = match udp.pdr {
                Ok(p) => {
                    figures.push((Metric::UdpPdr, p.confirmed.delivered_pps / 1000.0));
                    None
                }
                Err(e) => Some(format!("UDP PDR: {e}")),
            };
            Measured {
                figures,
                ping: None,
                problem,
            }
        }
        Measurement::Ping => {
            let t = metrics::ping(plane)?;
            let avg = metrics::mean(&t).unwrap_or_default();
            let p99 = metrics::quantile(&t, 0.99).unwrap_or_default();
            Measured {
                figures: vec![(Metric::PingAvg, avg), (Metric::PingP99, p99)],
                ping: Some(t),
                problem: None,
            }
        }
        Measurement::Conn => {
            vec![(Metric::ConnRate, metrics::connrate(plane, port, settings)?)].into()
        }
    })
}

/// Runs every round over `specs`, appending to `results` (which also collects the
/// problems: a plane that fails to come up or a measurement that fails is recorded and
/// skipped, the run goes on).
pub fn run(specs: &[PlaneSpec], cfg: &RunConfig, results: &mut Results) {
    results.rounds = cfg.rounds;
    results.planes = specs.iter().map(|s| (s.name.clone(), s.group)).collect();
    for round in 1..=cfg.rounds {
        let n = specs.len();
        for k in 0..n {
            if stopped() {
                results
                    .problems
                    .push(format!("stopped by the user in round {round}"));
                return;
            }
            let spec = &specs[(k + round as usize - 1) % n];
            run_plane(spec, round, cfg, results);
        }
    }
}

fn run_plane(spec: &PlaneSpec, round: u32, cfg: &RunConfig, results: &mut Results) {
    let started = Instant::now();
    let plane = RunPrefix::new()
        .map_err(Error::from)
        .and_then(|prefix| {
            let plane = (spec.build)(prefix.as_str())?;
            Ok((prefix, plane))
        })
        .and_then(|(prefix, plane)| wait_reachable(&plane).map(|()| (prefix, plane)));
    let (_prefix, plane) = match plane {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(plane = %spec.name, round, %e, "plane setup failed");
            results
                .problems
                .push(format!("round {round}: {} did not come up: {e}", spec.name));
            return;
        }
    };
    tracing::info!(plane = %spec.name, round, setup = ?started.elapsed(), "plane up");
    let mut port = 5201u16;
    for &m in &cfg.measurements {
        if stopped() {
            break;
        }
        let q: Quietness = cfg.quiet.wait();
        results.quiet_log.push(QuietRecord {
            round,
            plane: spec.name.clone(),
            measurement: m.key(),
            quiet: q.quiet,
            busy: q.busy,
            waited_s: q.waited.as_secs_f64(),
        });
        port += PORTS_PER_MEASUREMENT;
        match measure(&plane, m, port, &cfg.settings) {
            Ok(Measured {
                figures,
                ping,
                problem,
            }) => {
                if let Some(p) = problem {
                    tracing::error!(plane = %spec.name, round, measurement = m.key(), %p, "measurement partly failed");
                    results
                        .problems
                        .push(format!("round {round}: {} {}: {p}", spec.name, m.key()));
                }
                for (metric, value) in figures {
                    results.samples.push(Sample {
                        round,
                        plane: spec.name.clone(),
                        group: spec.group,
                        metric,
                        value,
                        quiet: q.quiet,
                        busy: q.busy,
                    });
                }
                if let Some(times_us) = ping {
                    results.pings.push(PingSeries {
                        round,
                        plane: spec.name.clone(),
                        times_us,
                    });
                }
            }
            Err(e) => {
                tracing::error!(plane = %spec.name, round, measurement = m.key(), %e, "measurement failed");
                results
                    .problems
                    .push(format!("round {round}: {} {}: {e}", spec.name, m.key()));
            }
        }
    }
    drop(plane);
    tracing::info!(plane = %spec.name, round, "plane down");
}

/// Writes `results.md`, `results.csv`, `ping.csv` and the plots into `dir` (created);
/// returns the files written. A plot that cannot be drawn is a problem in the report, not
/// an error.
pub fn write_outputs(results: &mut Results, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut files = Vec::new();
    let write = |name: &str, text: &str| -> Result<PathBuf> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
        Ok(p)
    };
    files.push(write("results.csv", &report::csv(results))?);
    files.push(write("ping.csv", &report::ping_csv(results))?);
    match plot::all(results, dir) {
        Ok(p) => files.extend(p),
        Err(e) => {
            tracing::warn!(%e, "plots not drawn");
            results.problems.push(format!("plots not drawn: {e}"));
        }
    }
    files.push(write("results.md", &report::markdown(results))?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        let names = |v: Vec<PlaneSpec>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(
            names(select(catalogue(None), "all").unwrap()),
            vec![
                "vpcd",
                "vpcd-w2",
                "kernel",
                "ovs",
                "tapfwd",
                "vpcd-nat",
                "vpcd-nat-w2",
                "kernel-masq"
            ]
        );
        assert_eq!(
            names(select(catalogue(None), "kernel, vpcd").unwrap()),
            vec!["vpcd", "kernel"]
        );
        let c = RefBuild {
            reference: "main".into(),
            commit: "abc".into(),
            vpcd: "/nonexistent".into(),
        };
        assert_eq!(
            names(select(catalogue(Some(&c)), "vpcd,vpcd-nat").unwrap()),
            vec!["vpcd", "vpcd@main", "vpcd-nat", "vpcd-nat@main"]
        );
        assert!(select(catalogue(None), "ovs9").is_err());
        assert!(select(catalogue(None), " ").is_err());
    }
}
