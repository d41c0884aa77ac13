//! The bench's results as a Markdown table and a CSV.

use super::*;
use std::fmt::Write as _;
use std::path::Path;

use super::Accel;
use crate::error::{Error, Result};

/// Everything one [`run`] measured, and how.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The accelerator the guests ran with (never [`Accel::Auto`]).
    pub accel: Accel,
    /// Whether the bridge plane's TAPs had `vhost=on` (`/dev/vhost-net` exists).
    pub vhost_net: bool,
    /// iperf3 duration, seconds.
    pub secs: u32,
    /// Rounds.
    pub rounds: u32,
    /// The planes, in run order.
    pub planes: Vec<Plane>,
    /// Every measurement, in the order taken.
    pub samples: Vec<Sample>,
}

impl BenchReport {
    /// One row per (plane, direction) in plane order; planes without samples are skipped.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let mut rows = Vec::new();
        for &plane in &self.planes {
            for direction in Direction::ALL {
                let of = |p: Plane| {
                    self.samples
                        .iter()
                        .filter(move |s| s.plane == p && s.direction == direction)
                };
                let mbps: Vec<f64> = of(plane).map(|s| s.iperf.mbps).collect();
                let Some(median_mbps) = median(&mbps) else {
                    continue;
                };
                let ratios: Vec<f64> = of(plane)
                    .filter_map(|s| {
                        let bridge = of(Plane::Bridge).find(|b| b.round == s.round)?;
                        ratio(s.iperf.mbps, bridge.iperf.mbps)
                    })
                    .collect();
                let vpcd: Vec<f64> = of(plane).filter_map(|s| s.vpcd_s_per_gb()).collect();
                let qemu: Vec<f64> = of(plane).filter_map(|s| s.qemu_s_per_gb()).collect();
                rows.push(SummaryRow {
                    plane,
                    direction,
                    median_mbps,
                    min_mbps: mbps.iter().copied().fold(f64::INFINITY, f64::min),
                    max_mbps: mbps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    ratio_to_bridge: median(&ratios),
                    vpcd_s_per_gb: median(&vpcd),
                    qemu_s_per_gb: median(&qemu),
                });
            }
        }
        rows
    }

    /// The header line: what was measured and how (accelerator, vhost-net, duration, rounds,
    /// MTU, guest size).
    pub fn header(&self) -> String {
        let vhost = if self.vhost_net {
            "bridge TAPs with vhost-net (vhost=on)"
        } else {
            "bridge TAPs without vhost-net (no /dev/vhost-net)"
        };
        format!(
            "VM throughput: iperf3 TCP, 1 stream, {} s x {} round{}; accelerator {}; {vhost}; \
             MTU {MTU} everywhere; 2 guests x {VM_MEMORY_MIB} MiB, 1 vCPU",
            self.secs,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.accel.as_str(),
        )
    }

    /// The header line, a Markdown table of [`BenchReport::summary`], and a note on what the
    /// CPU figures count.
    pub fn markdown(&self) -> String {
        let mut out = self.header();
        out.push_str("\n\n");
        out.push_str(
            "| plane | direction | Mbit/s, median (min–max) | ÷ bridge (median of per-round ratios) \
             | vpcd CPU s/GB | QEMU CPU s/GB |\n|---|---|---|---|---|---|\n",
        );
        for r in self.summary() {
            let ratio = match (r.plane, r.ratio_to_bridge) {
                (Plane::Bridge, _) => "1".to_string(),
                (_, Some(x)) => format!("{x:.2}"),
                (_, None) => "—".to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}–{}) | {ratio} | {} | {} |",
                r.plane,
                r.direction.label(),
                fmt_mbps(r.median_mbps),
                fmt_mbps(r.min_mbps),
                fmt_mbps(r.max_mbps),
                r.vpcd_s_per_gb
                    .map_or("—".to_string(), |x| format!("{x:.2}")),
                r.qemu_s_per_gb
                    .map_or("—".to_string(), |x| format!("{x:.1}")),
            );
        }
        out.push_str(
            "\nCPU per GB: CPU seconds (user + system, all threads) during the iperf3 run per \
             10^9 bytes received; vpcd = the vpcd process, QEMU = both guests' QEMU processes \
             together.\n",
        );
        out
    }

    /// One CSV row per sample (round, plane, direction) after a header row; absent values are
    /// empty fields.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "round,plane,direction,mbit_s,bytes,vpcd_cpu_s,qemu_cpu_s,vpcd_s_per_gb,qemu_s_per_gb\n",
        );
        let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.4}"));
        for s in &self.samples {
            let _ = writeln!(
                out,
                "{},{},{},{:.1},{},{},{:.4},{},{}",
                s.round,
                s.plane,
                s.direction.as_str(),
                s.iperf.mbps,
                s.iperf.bytes,
                opt(s.vpcd_cpu_s),
                s.qemu_cpu_s,
                opt(s.vpcd_s_per_gb()),
                opt(s.qemu_s_per_gb()),
            );
        }
        out
    }

    /// Writes `vm_throughput.md` ([`BenchReport::markdown`]) and `vm_throughput.csv`
    /// ([`BenchReport::csv`]) into `dir` (created if missing).
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        for (name, text) in [
            ("vm_throughput.md", self.markdown()),
            ("vm_throughput.csv", self.csv()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }
}

/// Mbit/s with 3 significant digits at most, as a whole number from 100 on.
pub(super) fn fmt_mbps(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
