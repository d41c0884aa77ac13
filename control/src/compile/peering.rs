//! VPC peering connections: in file order, `active` unless the file says
//! `pending-acceptance`, and the VPC pairs whose security groups may reference each other's.

use std::collections::{HashMap, HashSet};

use dataplane::vpc::config::PeeringConfig;

use super::index::Index;
use super::units::idx;
use crate::model::Topology;
use crate::names::first_index;
use crate::report::ValidationError;

/// The VPC pairs (by model index, lower first) that an active peering connection joins:
/// both VPCs resolve and differ. A security-group rule may reference a group of the other
/// VPC of such a pair; other cross-VPC references are stale.
pub fn active_peering_pairs(t: &Topology) -> HashSet<(usize, usize)> {
    let vpc_idx: HashMap<&str, usize> = first_index(&t.vpcs, |x| x.id.as_str());
    t.peering_connections
        .iter()
        .filter(|p| p.is_active())
        .filter_map(|p| {
            let a = *vpc_idx.get(p.requester_vpc.as_str())?;
            let b = *vpc_idx.get(p.accepter_vpc.as_str())?;
            (a != b).then_some((a.min(b), a.max(b)))
        })
        .collect()
}

/// The peering connections of `t` in file order (their index is their position in the
/// result) and the index of each id. A connection whose VPC does not resolve is reported
/// and left out.
pub(super) fn peerings<'a>(
    t: &'a Topology,
    ix: &Index<'_>,
    errors: &mut Vec<ValidationError>,
) -> (Vec<PeeringConfig>, HashMap<&'a str, usize>) {
    let mut peerings = Vec::new();
    let mut pcx_idx: HashMap<&str, usize> = HashMap::new();
    for p in &t.peering_connections {
        let mut end = |field: &str, vpc: &str| {
            let vi = ix.vpc.get(vpc).copied();
            if vi.is_none() {
                errors.push(ValidationError::new(
                    &p.id,
                    field,
                    format!("no VPC with id `{vpc}`"),
                ));
            }
            vi
        };
        let requester = end("requester_vpc", &p.requester_vpc);
        let accepter = end("accepter_vpc", &p.accepter_vpc);
        let (Some(requester), Some(accepter)) = (requester, accepter) else {
            continue;
        };
        pcx_idx.entry(p.id.as_str()).or_insert(peerings.len());
        peerings.push(PeeringConfig {
            id: p.id.clone(),
            requester: idx(requester),
            accepter: idx(accepter),
            active: p.is_active(),
        });
    }
    (peerings, pcx_idx)
}
