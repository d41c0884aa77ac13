//! The quiet-machine check: before every measurement, sample `/proc/stat` over about a
//! second; if the machine is busier than a threshold, wait (bounded) and sample again. The
//! outcome goes into the results, so a figure taken on a busy machine is marked as such.

use std::time::{Duration, Instant};

use super::error::{Error, Result};

/// Aggregate CPU time counters from the first (`cpu`) line of `/proc/stat`, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTimes {
    /// Ticks spent idle or waiting for I/O.
    pub idle: u64,
    /// All ticks (idle included).
    pub total: u64,
}

/// Parses the `cpu ` line of `/proc/stat` (user nice system idle iowait irq softirq steal …).
pub fn parse_proc_stat(text: &str) -> Result<CpuTimes> {
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| Error::parse("/proc/stat", "no `cpu ` line"))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::parse("/proc/stat", format!("{e}: {line}")))?;
    if fields.len() < 4 {
        return Err(Error::parse(
            "/proc/stat",
            format!("too few fields: {line}"),
        ));
    }
    let idle = fields[3] + fields.get(4).copied().unwrap_or(0);
    Ok(CpuTimes {
        idle,
        total: fields.iter().sum(),
    })
}

/// The busy fraction (0..=1, of all CPUs) between two samples.
pub fn busy_fraction(before: CpuTimes, after: CpuTimes) -> f64 {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return 0.0;
    }
    let idle = after.idle.saturating_sub(before.idle);
    1.0 - idle as f64 / total as f64
}

fn read_stat() -> Result<CpuTimes> {
    let text =
        std::fs::read_to_string("/proc/stat").map_err(|e| Error::io("reading /proc/stat", e))?;
    parse_proc_stat(&text)
}

/// Samples the machine's busy fraction over `interval`.
pub fn sample(interval: Duration) -> Result<f64> {
    let a = read_stat()?;
    std::thread::sleep(interval);
    let b = read_stat()?;
    Ok(busy_fraction(a, b))
}

/// How the check behaves.
#[derive(Clone, Copy, Debug)]
pub struct QuietCheck {
    /// The machine counts as quiet below this busy fraction (of all CPUs).
    pub threshold: f64,
    /// One sample's length.
    pub interval: Duration,
    /// How long to wait in total for a quiet machine before measuring anyway.
    pub max_wait: Duration,
}

impl Default for QuietCheck {
    fn default() -> Self {
        QuietCheck {
            threshold: 0.25,
            interval: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// What the check found before a measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quietness {
    /// Whether the last sample was below the threshold.
    pub quiet: bool,
    /// The last sample's busy fraction (0..=1).
    pub busy: f64,
    /// How long the check took, waiting included.
    pub waited: Duration,
}

impl QuietCheck {
    /// Samples until the machine is quiet or [`QuietCheck::max_wait`] has passed; never fails
    /// the run (an unreadable `/proc/stat` counts as not quiet, busy 1.0).
    pub fn wait(&self) -> Quietness {
        let start = Instant::now();
        loop {
            let busy = match sample(self.interval) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(%e, "quiet check cannot sample");
                    return Quietness {
                        quiet: false,
                        busy: 1.0,
                        waited: start.elapsed(),
                    };
                }
            };
            let quiet = busy < self.threshold;
            if quiet || start.elapsed() >= self.max_wait {
                if !quiet {
                    tracing::warn!(
                        busy_pct = busy * 100.0,
                        "machine still busy after {:?}; measuring anyway (marked not quiet)",
                        self.max_wait
                    );
                }
                return Quietness {
                    quiet,
                    busy,
                    waited: start.elapsed(),
                };
            }
            tracing::info!(busy_pct = busy * 100.0, "machine busy; waiting");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_computes_busy() {
        let a = parse_proc_stat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(
            a,
            CpuTimes {
                idle: 800,
                total: 1000
            }
        );
        let b = parse_proc_stat("cpu  200 0 200 1200 200 0 0 0 0 0\n").unwrap();
        assert!((busy_fraction(a, b) - 0.25).abs() < 1e-9);
        assert_eq!(busy_fraction(a, a), 0.0);
        assert!(parse_proc_stat("intr 1 2\n").is_err());
        assert!(parse_proc_stat("cpu  x y\n").is_err());
    }
}
