//! VPC peering connections (`CreateVpcPeeringConnection`): both VPCs exist and differ,
//! their CIDRs do not overlap, at most one peering joins two VPCs; and the routes that
//! target a peering (`pcx-…`), which must join the route table's own VPC (a destination
//! outside the peer's CIDRs is a warning; pending and deleted peerings are route states,
//! checked in `route_table.rs`).

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;

use super::context::{overlaps, PeeringLookup, Report};
use crate::model::{Topology, Vpc};

/// Validates VPC peering connections: both VPCs exist and differ, their CIDRs (every IPv4
/// block, primary or secondary, and the IPv6 block) do not overlap, and at most one
/// peering joins a pair of VPCs (in either direction). Runs after the VPCs' CIDRs are
/// normalised.
pub(super) fn peering_connections(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    vpc_idx: &HashMap<String, usize>,
) -> PeeringLookup {
    let mut out = PeeringLookup::default();
    for (i, p) in t.peering_connections.iter().enumerate() {
        let res = r.label(&p.id, "peering_connection", i);
        let mut side = |field: &str, role: &str, vpc: &str| -> Option<usize> {
            if vpc.is_empty() {
                r.err(
                    &res,
                    field,
                    format!("missing {field}; name the `vpc-…` that {role} the peering"),
                );
                return None;
            }
            let found = vpc_idx.get(vpc).copied();
            if found.is_none() && !broken.contains(vpc) {
                r.err(&res, field, format!("no VPC with id `{vpc}`"));
            }
            found
        };
        let requester = side("requester_vpc", "requests", &p.requester_vpc);
        let accepter = side("accepter_vpc", "accepts", &p.accepter_vpc);
        if !p.id.is_empty() {
            out.by_id
                .entry(p.id.clone())
                .or_insert(([requester, accepter], p.is_active()));
        }
        let (Some(a), Some(b)) = (requester, accepter) else {
            continue;
        };
        if a == b {
            r.err(
                &res,
                "accepter_vpc",
                format!(
                    "{} is also the requester_vpc; a peering connection joins two different VPCs",
                    p.accepter_vpc
                ),
            );
            continue;
        }
        let (va, vb) = (&t.vpcs[a], &t.vpcs[b]);
        for cb in vb.all_cidrs() {
            for ca in va.all_cidrs() {
                if overlaps(ca, cb) {
                    r.err(
                        &res,
                        "accepter_vpc",
                        format!(
                            "{cb} of {} overlaps {ca} of {}; VPCs whose CIDRs overlap (any IPv4 block, primary or secondary, or the IPv6 block) cannot be peered",
                            vb.id, va.id
                        ),
                    );
                }
            }
        }
        match out.by_pair.get(&(a.min(b), a.max(b))) {
            Some((first, _)) => r.err(
                &res,
                "accepter_vpc",
                format!(
                    "{} and {} are already peered by {first}; only one peering connection may join two VPCs (in either direction)",
                    va.id, vb.id
                ),
            ),
            None => {
                out.by_pair
                    .insert((a.min(b), a.max(b)), (res.clone(), p.is_active()));
            }
        }
    }
    out
}

/// Checks a route whose target is the declared peering connection `id`, joining the VPCs
/// `ends` (when they resolve; `at` = resource and field of the target): the peering joins
/// the table's VPC (`vpc`) to another, and a destination that holds none of the peer VPC's
/// addresses is a warning (the peering carries only traffic to the peer's own CIDRs). The
/// route's state (a missing or pending peering) is checked with every other target's, in
/// `route_table.rs`.
pub(super) fn peering_route(
    r: &mut Report,
    vpcs: &[Vpc],
    ends: [Option<usize>; 2],
    vpc: Option<usize>,
    at: (&str, &str),
    dest: IpNet,
    id: &str,
) {
    let (res, field) = at;
    if let ([Some(a), Some(b)], Some(tv)) = (ends, vpc) {
        if tv != a && tv != b {
            r.err(
                res,
                field,
                format!(
                    "{id} joins {} and {}, but this route table belongs to {}; a route can only target a peering connection of its own VPC",
                    vpcs[a].id, vpcs[b].id, vpcs[tv].id
                ),
            );
        } else if a != b {
            let peer = &vpcs[if tv == a { b } else { a }];
            let cidrs = peer.all_cidrs();
            if !cidrs.iter().any(|c| overlaps(*c, dest)) {
                r.warnings.push(format!(
                    "{res}.{field}: {dest} holds no address of {} ({}): {id} carries only traffic to the peer VPC's own CIDRs, so what this route catches is dropped",
                    peer.id,
                    cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
}
