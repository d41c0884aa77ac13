//! The `Engine` section of `vpcctl show`: the flow cache and the drops of the engine.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dataplane::observe::stats::StatsReport;
use dataplane::vpc::verdict::DropReason;

use super::text::drops_text;

/// The `Engine` section of `vpcctl show`: flow cache hits, misses, evictions, stale
/// reclaims, cached flows, batches, the drops by reason (those that happened), and what
/// the file writer had to drop, if anything.
pub(super) fn engine(report: &StatsReport) -> String {
    let mut out = String::new();
    let e = &report.engine;
    let engine_drops: BTreeMap<String, u64> = DropReason::ALL
        .iter()
        .zip(e.drops.iter())
        .filter(|(_, &n)| n > 0)
        .map(|(r, &n)| (r.name().to_string(), n))
        .collect();
    let _ = writeln!(
        out,
        "\nEngine\nflow hits {}, misses {}, evicted {}, stale reclaimed {}, cached flows {}, batches {}\ndrops: {}",
        e.flow_hits,
        e.flow_misses,
        e.flow_evicted,
        e.flow_stale_reclaimed,
        e.flows,
        e.batches,
        drops_text(&engine_drops)
    );
    // Several forwarding workers: each one's share.
    for (w, e) in report.workers.iter().enumerate() {
        let _ = writeln!(
            out,
            "worker {w}: flow hits {}, misses {}, cached flows {}, batches {}, handed off {}, hand-offs dropped {}",
            e.flow_hits,
            e.flow_misses,
            e.flows,
            e.batches,
            e.handed_off,
            e.handoff_dropped + e.handoff_stale
        );
    }
    // The file writer fell behind: say so (nothing is printed while it keeps up).
    if e.flow_log_records_dropped > 0 || e.capture_packets_dropped > 0 {
        let _ = writeln!(
            out,
            "file writer behind: flow-log records dropped {}, capture packets dropped {}",
            e.flow_log_records_dropped, e.capture_packets_dropped
        );
    }
    out
}
