//! The `Engine` section of `vpcctl show`: the flow cache and the drops of the engine.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dataplane::observe::stats::StatsReport;
use dataplane::vpc::verdict::DropReason;

use super::text::drops_text;

/// The `Engine` section of `vpcctl show`: flow cache hits, misses, evictions, cached
/// flows, batches, and the drops by reason (those that happened).
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
    out
}
