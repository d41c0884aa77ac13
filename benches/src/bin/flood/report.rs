//! The flood benchmark's output: the figures it reports, `results.md` (medians, ratios to
//! idle and to the `cpu-hog` control, PASS/MISS) and `results.csv`.

use std::fmt::Write as _;

use benches::flood::{ratios, Verdict};
use benches::suite::planes::MTU;
use benches::suite::report::fmt_num;
use benches::suite::results::summarize;

use super::{
    Args, Figures, Kind, Phase, PING_AFTER, PING_ALONE, PING_INTERVAL_MS, PING_TARGET, TCP_TARGET,
};

/// Every figure: key, what it is. In table order.
const FIGURES: [(&str, &str); 23] = [
    ("tcp_gbps", "C→D TCP, Gbit/s"),
    ("ping_load_avg_ms", "C→D ping during iperf3, avg ms"),
    ("ping_load_p99_ms", "C→D ping during iperf3, p99 ms"),
    ("ping_avg_ms", "C→D ping alone, avg ms"),
    ("ping_p99_ms", "C→D ping alone, p99 ms"),
    ("ping_lost", "C→D echoes lost (both pings)"),
    ("ping_after_avg_ms", "C→D ping after the flood, avg ms"),
    ("flood_kpps", "A sent (kernel tx of A's interface), kpps"),
    (
        "a_tap_tx_dropped_kpps",
        "A's interface tx_dropped (TAP queue full), kpps",
    ),
    ("b_rx_kpps", "B received (kernel rx of B's interface), kpps"),
    (
        "a_pps_exceeded_kpps",
        "vpcd pps_allowance_exceeded on A, kpps",
    ),
    (
        "a_conntrack_exceeded",
        "vpcd conntrack_allowance_exceeded on A",
    ),
    (
        "b_conntrack_exceeded",
        "vpcd conntrack_allowance_exceeded on B",
    ),
    ("a_conntrack_entries", "A's tracked connections at the end"),
    ("b_tap_dropped", "B's interface rx+tx_dropped"),
    ("cd_tap_dropped", "C's and D's interfaces rx+tx_dropped"),
    ("flows", "vpcd flow cache: flows at the end"),
    (
        "flow_evicted_kps",
        "vpcd flow cache: evictions (cache full), k/s",
    ),
    ("vpcd_cpu", "vpcd CPU, cores"),
    ("rss_before_mib", "vpcd RSS before, MiB"),
    ("rss_peak_mib", "vpcd RSS peak during, MiB"),
    ("rss_after_mib", "vpcd RSS after, MiB"),
    ("busy_pct", "machine busy before the phase, %"),
];

/// One phase's outcome in one round.
pub(super) struct Row {
    pub(super) round: u32,
    pub(super) phase: String,
    pub(super) figures: Figures,
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

fn ratio_cell(r: &[f64]) -> String {
    match summarize(r) {
        Some(s) if s.n > 1 => format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max),
        Some(s) => format!("{:.2}×", s.median),
        None => "—".into(),
    }
}

/// The figure `key` of `phase` per round (`None` where not measured).
fn per_round(rows: &[Row], rounds: u32, phase: &str, key: &str) -> Vec<Option<f64>> {
    (1..=rounds)
        .map(|r| {
            rows.iter()
                .find(|x| x.round == r && x.phase == phase)
                .and_then(|x| x.figures.get(key).copied())
        })
        .collect()
}

pub(super) fn markdown(args: &Args, phases: &[Phase], rows: &[Row], problems: &[String]) -> String {
    let mut out =
        String::from("# Flood: a third pair's TCP and ping while one ENI floods another\n\n");
    let allowance = if args.pps_allowance == 0 {
        "none".to_owned()
    } else {
        format!("{} pps", args.pps_allowance)
    };
    let _ = writeln!(
        out,
        "- vpcd --workers {}; A's pps_allowance {allowance}; A's conntrack allowance {}; MTU {MTU}\n\
         - {} rounds, phases interleaved (order rotating per round), each on a fresh vpcd and namespaces, \
         quiet check (busy < {} % of all CPUs, waiting ≤ {} s) before each\n\
         - per phase: the flood starts (hping3 in A's namespace{}), then C → D iperf3 TCP for {} s with \
         ping every {} ms alongside it, then ping alone ({} echoes) with the flood still on, then the flood \
         is killed and C pings D {} times (\"after\")\n\
         - flood rates from the kernel counters of the interfaces (`ip -s -j link`), vpcd's from its report; \
         RSS from /proc/PID/status, sampled every 50 ms\n\
         - targets: TCP ≥ {:.2}× idle and ping (alone, avg) ≤ {:.1}× idle, per round then median",
        args.workers,
        args.conntrack_max
            .map_or("65536 (default)".to_owned(), |n| n.to_string()),
        args.rounds,
        args.quiet_pct,
        args.quiet_wait,
        args.flooder_cpu.map_or(String::new(), |p| format!(
            "; `@cpu{}` phases: in a cgroup capped at {} % of one CPU",
            fmt_num(p),
            fmt_num(p)
        )),
        args.secs,
        PING_INTERVAL_MS,
        PING_ALONE,
        PING_AFTER,
        TCP_TARGET,
        PING_TARGET
    );
    let labels: Vec<String> = phases.iter().map(Phase::label).collect();
    out.push_str("\n## Figures: median (min–max) over rounds\n\n| |");
    for l in &labels {
        let _ = write!(out, " {l} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(labels.len()));
    out.push('\n');
    for (key, what) in FIGURES {
        let _ = write!(out, "| {what} |");
        for l in &labels {
            let v: Vec<f64> = per_round(rows, args.rounds, l, key)
                .into_iter()
                .flatten()
                .collect();
            let _ = write!(out, " {} |", cell(&v));
        }
        out.push('\n');
    }
    out.push_str(
        "\n## Against idle: per-round ratio, median (min–max)\n\n\
         | Phase | TCP | ping alone (avg) | ping alone (p99) | ping during iperf3 (avg) | TCP ≥ 0.80× | ping ≤ 2.0× |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut verdicts = Vec::new();
    for l in labels.iter().filter(|l| l.as_str() != "idle") {
        let r = |k: &str| {
            ratios(
                &per_round(rows, args.rounds, l, k),
                &per_round(rows, args.rounds, "idle", k),
            )
        };
        let (tcp, ping, p99, load) = (
            r("tcp_gbps"),
            r("ping_avg_ms"),
            r("ping_p99_ms"),
            r("ping_load_avg_ms"),
        );
        let vt = Verdict::of(&tcp, TCP_TARGET, true);
        let vp = Verdict::of(&ping, PING_TARGET, false);
        let _ = writeln!(
            out,
            "| {l} | {} | {} | {} | {} | {} | {} |",
            ratio_cell(&tcp),
            ratio_cell(&ping),
            ratio_cell(&p99),
            ratio_cell(&load),
            vt.text(),
            vp.text()
        );
        // The control is no flood: it has no target.
        if !l.starts_with(Kind::Hog.name()) {
            verdicts.push((l.clone(), vt, vp));
        }
    }
    // Against the control: the same CPU taken from the machine by a busy loop.
    let hog_rows: Vec<(String, String)> = phases
        .iter()
        .filter(|p| !matches!(p.kind, Kind::Idle | Kind::Hog))
        .map(|p| {
            let control = Phase {
                kind: Kind::Hog,
                cap: p.cap,
            };
            (p.label(), control.label())
        })
        .filter(|(_, c)| labels.contains(c))
        .collect();
    if !hog_rows.is_empty() {
        out.push_str(
            "\n## Against the same CPU taken by a busy loop (`cpu-hog`, same cap): per-round ratio, median (min–max)\n\n\
             What the flood costs the third pair beyond the flooder's own CPU: the data plane's share.\n\n\
             | Phase | control | TCP | ping alone (avg) | TCP ≥ 0.80× |\n|---|---|---|---|---|\n",
        );
        for (l, c) in &hog_rows {
            let r = |k: &str| {
                ratios(
                    &per_round(rows, args.rounds, l, k),
                    &per_round(rows, args.rounds, c, k),
                )
            };
            let (tcp, ping) = (r("tcp_gbps"), r("ping_avg_ms"));
            let _ = writeln!(
                out,
                "| {l} | {c} | {} | {} | {} |",
                ratio_cell(&tcp),
                ratio_cell(&ping),
                Verdict::of(&tcp, TCP_TARGET, true).text()
            );
        }
    }
    let pass = |v: &Verdict| matches!(v, Verdict::Pass(_));
    let missed: Vec<String> = verdicts
        .iter()
        .filter(|(_, t, p)| !pass(t) || !pass(p))
        .map(|(l, _, _)| l.clone())
        .collect();
    if verdicts.is_empty() {
        out.push_str("\nNo flood phase measured.\n");
    } else if missed.is_empty() {
        out.push_str("\n**PASS**: every flood phase meets both targets.\n");
    } else {
        let _ = writeln!(out, "\n**MISS**: {}.", missed.join(", "));
    }
    if !problems.is_empty() {
        out.push_str("\n## Problems\n\n");
        for p in problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    out
}

pub(super) fn csv(rows: &[Row]) -> String {
    let mut out = String::from("round,phase,figure,value\n");
    for r in rows {
        for (k, v) in &r.figures {
            let _ = writeln!(out, "{},{},{k},{v}", r.round, r.phase);
        }
    }
    out
}
