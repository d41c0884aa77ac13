//! The `Peering connections` section of `vpcctl show`.

use dataplane::vpc::config::DataplaneConfig;

use super::names::vpc_with_cidrs;
use super::text::section;

/// The `Peering connections` section of `vpcctl show`: each connection with its requester
/// and accepter VPCs (and their CIDRs) and its status.
pub fn peering_connections(c: &DataplaneConfig) -> String {
    let rows: Vec<Vec<String>> = c
        .peerings
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                vpc_with_cidrs(c, p.requester),
                vpc_with_cidrs(c, p.accepter),
                if p.active {
                    "active"
                } else {
                    "pending-acceptance"
                }
                .to_string(),
            ]
        })
        .collect();
    section(
        "Peering connections (traffic crosses only between the two VPCs' own CIDRs: no transitive or edge-to-edge routing; routes to a pending one are blackholes)",
        &["ID", "REQUESTER", "ACCEPTER", "STATUS"],
        &rows,
    )
}
