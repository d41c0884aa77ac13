//! Security groups: the declared ones in file order, then one implicit default group (all
//! traffic from its own members in, all traffic out) per VPC that declares none. A group
//! without `outbound` gets all traffic to `0.0.0.0/0` (and `::/0` on dual-stack VPCs). A
//! rule that references a group of another VPC is compiled only when an active peering
//! joins the two VPCs; otherwise it is stale and left out (it matches nothing).

use std::collections::{HashMap, HashSet};

use dataplane::vpc::config::{SecurityGroupConfig, SgPeer, SgRule};
use ipnet::IpNet;

use super::index::Index;
use super::peering::active_peering_pairs;
use super::traffic::{everywhere, traffic_match, ALL_TRAFFIC};
use super::units::idx;
use crate::model::{RulePeer, SecurityGroup, SgRuleSpec, Topology, Vpc};
use crate::names::{first_index, implicit_default_sg_id};
use crate::report::ValidationError;

/// The compiled security groups and how ENIs find theirs.
pub(super) struct SecurityGroups {
    /// Declared groups in file order, then the implicit defaults.
    pub configs: Vec<SecurityGroupConfig>,
    /// The index of each group id, implicit defaults included.
    pub by_id: HashMap<String, usize>,
    /// The default group of each VPC (by VPC index).
    pub default_of: HashMap<usize, usize>,
}

/// AWS's outbound rule of a new group: all traffic to everywhere.
fn allow_all_out(vpc: &Vpc) -> Vec<SgRule> {
    everywhere(vpc)
        .into_iter()
        .map(|cidr| SgRule {
            traffic: ALL_TRAFFIC,
            peer: SgPeer::Cidr(cidr),
        })
        .collect()
}

/// The security groups of `t`: declared ones, then the implicit defaults. A group whose
/// VPC, or a rule whose peer, does not resolve is reported and left out.
pub(super) fn security_groups(
    t: &Topology,
    ix: &Index<'_>,
    errors: &mut Vec<ValidationError>,
) -> SecurityGroups {
    // Indices first (rules may name groups declared later), declared ones in file order,
    // then the implicit defaults.
    let mut sg_idx: HashMap<String, usize> = HashMap::new();
    let mut default_sg: HashMap<usize, usize> = HashMap::new();
    let mut declared: Vec<(usize, usize)> = Vec::new(); // (model index, VPC index)
    for (gi, g) in t.security_groups.iter().enumerate() {
        let Some(vi) = ix.vpc_of(&g.id, &g.vpc, errors) else {
            continue;
        };
        let si = declared.len();
        sg_idx.entry(g.id.clone()).or_insert(si);
        if g.default {
            default_sg.entry(vi).or_insert(si);
        }
        declared.push((gi, vi));
    }
    let mut implicit_sgs: Vec<usize> = Vec::new(); // VPC indices
    for vi in 0..t.vpcs.len() {
        if let std::collections::hash_map::Entry::Vacant(slot) = default_sg.entry(vi) {
            let si = declared.len() + implicit_sgs.len();
            slot.insert(si);
            sg_idx
                .entry(implicit_default_sg_id(&t.vpcs[vi].id))
                .or_insert(si);
            implicit_sgs.push(vi);
        }
    }
    let peers = Peers {
        t,
        sg_idx: &sg_idx,
        pl_idx: first_index(&t.prefix_lists, |x| x.id.as_str()),
        // The VPC of each compiled group, and the VPC pairs whose groups may reference
        // each other's (an active peering joins them).
        sg_vpc: declared
            .iter()
            .map(|&(_, vi)| vi)
            .chain(implicit_sgs.iter().copied())
            .collect(),
        peered: active_peering_pairs(t),
    };
    let mut security_groups = Vec::new();
    for &(gi, vi) in &declared {
        let g = &t.security_groups[gi];
        let inbound = peers.rules(g, vi, "inbound", &g.inbound, errors);
        let outbound = match &g.outbound {
            Some(specs) => peers.rules(g, vi, "outbound", specs, errors),
            None => allow_all_out(&t.vpcs[vi]),
        };
        security_groups.push(SecurityGroupConfig {
            id: g.id.clone(),
            vpc: idx(vi),
            inbound,
            outbound,
        });
    }
    for &vi in &implicit_sgs {
        let own = idx(security_groups.len());
        security_groups.push(SecurityGroupConfig {
            id: implicit_default_sg_id(&t.vpcs[vi].id),
            vpc: idx(vi),
            inbound: vec![SgRule {
                traffic: ALL_TRAFFIC,
                peer: SgPeer::Group(own),
            }],
            outbound: allow_all_out(&t.vpcs[vi]),
        });
    }
    SecurityGroups {
        configs: security_groups,
        by_id: sg_idx,
        default_of: default_sg,
    }
}

/// What the peers of security-group rules resolve through.
struct Peers<'a> {
    /// The topology (prefix lists' entries).
    t: &'a Topology,
    /// The compiled index of each group id.
    sg_idx: &'a HashMap<String, usize>,
    /// The index of each prefix list id.
    pl_idx: HashMap<&'a str, usize>,
    /// The VPC of each compiled group.
    sg_vpc: Vec<usize>,
    /// The VPC pairs that an active peering joins (see [`active_peering_pairs`]).
    peered: HashSet<(usize, usize)>,
}

impl Peers<'_> {
    /// The rules `specs` of direction `dir` of group `g` (of VPC `vi`), compiled. A rule
    /// without a peer or with one that does not resolve is reported and left out; a
    /// reference to a group of a VPC that no active peering joins is stale and left out.
    fn rules(
        &self,
        g: &SecurityGroup,
        vi: usize,
        dir: &str,
        specs: &[SgRuleSpec],
        errors: &mut Vec<ValidationError>,
    ) -> Vec<SgRule> {
        let mut out = Vec::new();
        for (k, spec) in specs.iter().enumerate() {
            let Some(peer) = spec.peer() else {
                errors.push(ValidationError::new(
                    &g.id,
                    format!("{dir}[{k}]"),
                    "rule without a peer",
                ));
                continue;
            };
            let (peer, ipv4) = match peer {
                RulePeer::Cidr(n) => (SgPeer::Cidr(*n), Some(matches!(n, IpNet::V4(_)))),
                RulePeer::Group(id) => match self.sg_idx.get(id) {
                    Some(&si) => {
                        let other = self.sg_vpc.get(si).copied().unwrap_or(vi);
                        if other != vi && !self.peered.contains(&(vi.min(other), vi.max(other))) {
                            // Stale (validation warns): it matches nothing.
                            continue;
                        }
                        (SgPeer::Group(idx(si)), None)
                    }
                    None => {
                        errors.push(ValidationError::new(
                            &g.id,
                            format!("{dir}[{k}]"),
                            format!("no security group with id `{id}`"),
                        ));
                        continue;
                    }
                },
                RulePeer::PrefixList(id) => match self.pl_idx.get(id.as_str()) {
                    Some(&pi) => (
                        SgPeer::PrefixList {
                            id: id.clone(),
                            cidrs: self.t.prefix_lists[pi].entries.clone(),
                        },
                        None,
                    ),
                    None => {
                        errors.push(ValidationError::new(
                            &g.id,
                            format!("{dir}[{k}]"),
                            format!("no prefix list with id `{id}`"),
                        ));
                        continue;
                    }
                },
            };
            out.push(SgRule {
                traffic: traffic_match(
                    spec.protocol,
                    spec.ports,
                    spec.icmp_type,
                    spec.icmp_code,
                    ipv4,
                ),
                peer,
            });
        }
        out
    }
}
