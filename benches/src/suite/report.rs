//! The run's outputs as text: the Markdown table (per group of planes: median and min–max
//! of every metric, then the ratio of every plane to each peer computed per round), the
//! CSV of every figure and the CSV of every ping round trip.

use std::fmt::Write as _;

use super::metrics::Metric;
use super::results::{median, summarize, Group, Results};

/// A figure with about three significant digits.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn cell(values: &[f64]) -> String {
    match summarize(values) {
        Some(s) if s.n > 1 => format!(
            "{} ({}–{})",
            fmt_num(s.median),
            fmt_num(s.min),
            fmt_num(s.max)
        ),
        Some(s) => fmt_num(s.median),
        None => "—".into(),
    }
}

fn ratio_cell(ratios: &[f64]) -> String {
    match summarize(ratios) {
        Some(s) if s.n > 1 => format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max),
        Some(s) => format!("{:.2}×", s.median),
        None => "—".into(),
    }
}

/// The Markdown report: a header with the settings, one section per group with planes.
pub fn markdown(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark suite");
    let _ = writeln!(out);
    for s in &r.settings {
        let _ = writeln!(out, "- {s}");
    }
    let _ = writeln!(
        out,
        "- cells: median of the rounds (min–max); ratios: a / b computed in each round, \
         then median (min–max); ↑ higher is better, ↓ lower is better"
    );
    for group in Group::ALL {
        let planes = r.planes_in(group);
        if planes.is_empty() {
            continue;
        }
        let metrics: Vec<Metric> = r
            .metrics()
            .into_iter()
            .filter(|m| planes.iter().any(|p| !r.values(p, *m).is_empty()))
            .collect();
        if metrics.is_empty() {
            continue;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "## {}", group.title());
        let _ = writeln!(out);
        let _ = writeln!(out, "| metric | {} |", planes.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(planes.len()));
        for m in &metrics {
            let arrow = if m.higher_is_better() { "↑" } else { "↓" };
            let cells: Vec<String> = planes.iter().map(|p| cell(&r.values(p, *m))).collect();
            let _ = writeln!(out, "| {} {arrow} | {} |", m.label(), cells.join(" | "));
        }
        let pairs: Vec<(&str, &str)> = planes
            .iter()
            .enumerate()
            .flat_map(|(i, a)| planes[i + 1..].iter().map(move |b| (*a, *b)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let _ = writeln!(out);
        let heads: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} / {b}")).collect();
        let _ = writeln!(out, "| ratio per round | {} |", heads.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(pairs.len()));
        for m in &metrics {
            let ratios: Vec<Vec<f64>> = pairs.iter().map(|(a, b)| r.ratios(a, b, *m)).collect();
            // A metric only one plane has (vpcd's CPU against the kernel's) has no ratio.
            if ratios.iter().all(Vec::is_empty) {
                continue;
            }
            let cells: Vec<String> = ratios.iter().map(|v| ratio_cell(v)).collect();
            let _ = writeln!(out, "| {} | {} |", m.label(), cells.join(" | "));
        }
    }
    let _ = writeln!(out);
    let total = r.quiet_log.len();
    let quiet = r.quiet_log.iter().filter(|q| q.quiet).count();
    let _ = writeln!(
        out,
        "Quiet check: {quiet} of {total} measurements started on a quiet machine \
         (figures measured on a busy one are marked `quiet=false` in results.csv)."
    );
    let loud: Vec<String> = r
        .quiet_log
        .iter()
        .filter(|q| !q.quiet)
        .map(|q| {
            format!(
                "{} r{} {} ({:.0} %)",
                q.plane,
                q.round,
                q.measurement,
                q.busy * 100.0
            )
        })
        .collect();
    const SHOWN: usize = 12;
    if !loud.is_empty() {
        let more = loud.len().saturating_sub(SHOWN);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "Not quiet (busy share of all CPUs): {}{tail}.",
            loud[..loud.len().min(SHOWN)].join("; ")
        );
    }
    if !r.problems.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Problems:");
        for p in &r.problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    out
}

/// One row per round × plane × metric:
/// `round,plane,group,metric,value,quiet,busy_pct`.
pub fn csv(r: &Results) -> String {
    let mut out = String::from("round,plane,group,metric,value,quiet,busy_pct\n");
    for s in &r.samples {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.1}",
            s.round,
            s.plane,
            s.group.key(),
            s.metric.key(),
            s.value,
            s.quiet,
            s.busy * 100.0
        );
    }
    out
}

/// One row per echo: `round,plane,seq,rtt_us`.
pub fn ping_csv(r: &Results) -> String {
    let mut out = String::from("round,plane,seq,rtt_us\n");
    for p in &r.pings {
        for (i, t) in p.times_us.iter().enumerate() {
            let _ = writeln!(out, "{},{},{},{t:.1}", p.round, p.plane, i + 1);
        }
    }
    out
}

/// The median ratio a / b of `metric` over the rounds (for callers that want one number).
pub fn median_ratio(r: &Results, a: &str, b: &str, metric: Metric) -> Option<f64> {
    median(&r.ratios(a, b, metric))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::results::tests::sample_results;

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(17412.3), "17412");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.234), "1.23");
        assert_eq!(fmt_num(0.1234), "0.123");
    }

    #[test]
    fn markdown_table() {
        let md = markdown(&sample_results());
        assert!(md.contains("| metric | vpcd | kernel |"), "{md}");
        assert!(
            md.contains("| TCP 1 stream (Gbit/s) ↑ | 9.00 (8.00–12.0) | 12.0 (10.0–12.0) |"),
            "{md}"
        );
        assert!(md.contains("| ratio per round | vpcd / kernel |"), "{md}");
        assert!(
            md.contains("| TCP 1 stream (Gbit/s) | 0.80× (0.75–1.00) |"),
            "{md}"
        );
        assert!(md.contains("## NAT"), "{md}");
        assert!(md.contains("| metric | vpcd-nat |"), "{md}");
        assert!(md.contains("2 of 3 measurements"), "{md}");
        assert!(md.contains("vpcd r2 tcp1 (60 %)"), "{md}");
    }

    #[test]
    fn csv_rows() {
        let r = sample_results();
        let c = csv(&r);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 1 + 9);
        assert_eq!(lines[0], "round,plane,group,metric,value,quiet,busy_pct");
        assert_eq!(lines[1], "1,vpcd,routed,tcp1_gbps,8,true,5.0");
        let p = ping_csv(&r);
        assert_eq!(p.lines().nth(2), Some("1,vpcd,2,50.0"));
        assert_eq!(median_ratio(&r, "vpcd", "kernel", Metric::Tcp1), Some(0.8));
    }
}
