//! Prefix lists: at least one CIDR entry (host bits cleared with a warning), all of one
//! address family, and no more than `max_entries` (at least 1).

use std::collections::HashMap;

use ipnet::IpNet;

use super::context::Report;
use crate::model::Topology;

/// Checks and normalises every prefix list. Returns the weight of each (what a security
/// group rule naming it counts for), by id.
pub(super) fn prefix_lists(r: &mut Report, t: &mut Topology) -> HashMap<String, usize> {
    let mut pl_weight: HashMap<String, usize> = HashMap::new();
    for (i, pl) in t.prefix_lists.iter_mut().enumerate() {
        let res = r.label(&pl.id, "prefix_list", i);
        if pl.entries.is_empty() {
            r.err(
                &res,
                "entries",
                "a prefix list needs at least one CIDR entry",
            );
        }
        for j in 0..pl.entries.len() {
            let field = format!("entries[{j}]");
            r.normalise(&mut pl.entries[j], &res, &field);
        }
        if let Some(first) = pl.entries.first().copied() {
            for (j, e) in pl.entries.iter().enumerate().skip(1) {
                if matches!(first, IpNet::V4(_)) != matches!(e, IpNet::V4(_)) {
                    r.err(
                        &res,
                        format!("entries[{j}]"),
                        format!("{e} is not of the same address family as entries[0] ({first}); a prefix list holds IPv4 or IPv6 CIDRs, not both"),
                    );
                }
            }
        }
        if let Some(m) = pl.max_entries {
            if m < 1 {
                r.err(&res, "max_entries", format!("{m} must be at least 1"));
            } else if usize::try_from(m).is_ok_and(|m| pl.entries.len() > m) {
                r.err(
                    &res,
                    "entries",
                    format!(
                        "{} entries do not fit in max_entries = {m}",
                        pl.entries.len()
                    ),
                );
            }
        }
        if !pl.id.is_empty() {
            pl_weight
                .entry(pl.id.clone())
                .or_insert_with(|| pl.weight());
        }
    }
    pl_weight
}
