//! Security groups: an existing VPC with exactly one default group (or a free id for its
//! implicit one), and per direction at most 60 rules (a prefix-list rule counting as the
//! list's `max_entries`), each naming exactly one peer of its direction (a CIDR, host bits
//! cleared with a warning; an existing group, of the same VPC or of one joined by an active
//! peering, else a warning: the rule is stale; an existing prefix list) with the
//! protocol/port/ICMP fields of [`super::traffic`].

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;

use super::context::{check_vpc_ref, Lookups, PeeringLookup, Report};
use super::traffic::{check_traffic, TrafficFields};
use crate::model::{RulePeer, SgRuleSpec, Topology, Vpc};
use crate::names::implicit_default_sg_id;

/// Security group rules per direction (a prefix-list rule counts as the list's size).
pub const SG_RULES_MAX: usize = 60;

/// What the peers of a security group's rules resolve against.
struct Peers<'a> {
    /// The VPCs.
    vpcs: &'a [Vpc],
    /// Ids of resources that failed to parse.
    broken: &'a HashSet<String>,
    /// The declared peering connections.
    peerings: &'a PeeringLookup,
    /// The prefix lists' weights, by id.
    pl_weight: &'a HashMap<String, usize>,
    /// Every group id a rule may name, with its VPC.
    sg_vpc: &'a HashMap<String, Option<usize>>,
}

/// Checks and normalises every security group; `all_ids` = the declared ids (see
/// [`super::ids::declared_ids`]), `pl_weight` = the prefix lists' weights. Returns every
/// group id an ENI or a rule may name, with its VPC: the declared groups and the implicit
/// default groups of VPCs that declare none.
pub(super) fn security_groups(
    r: &mut Report,
    t: &mut Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    all_ids: &HashSet<String>,
    pl_weight: &HashMap<String, usize>,
) -> HashMap<String, Option<usize>> {
    let (default_sg, sg_vpc) = group_vpcs(r, t, l, all_ids);
    let peers = Peers {
        vpcs: &t.vpcs,
        broken,
        peerings: l.peerings,
        pl_weight,
        sg_vpc: &sg_vpc,
    };
    let mut seen_default: HashSet<usize> = HashSet::new();
    for (i, g) in t.security_groups.iter_mut().enumerate() {
        let res = r.label(&g.id, "security_group", i);
        let vpc = check_vpc_ref(r, l.vpc, broken, &res, &g.vpc);
        if let (Some(vi), true) = (vpc, g.default) {
            if !seen_default.insert(vi) {
                let first = default_sg.get(&vi).cloned().unwrap_or_default();
                r.err(
                    &res,
                    "default",
                    format!(
                        "{} already has a default security group ({first}); a VPC has exactly one",
                        g.vpc
                    ),
                );
            }
        }
        let dirs: [(&str, Option<&mut Vec<SgRuleSpec>>); 2] = [
            ("inbound", Some(&mut g.inbound)),
            ("outbound", g.outbound.as_mut()),
        ];
        for (dir, rules) in dirs {
            let Some(rules) = rules else { continue };
            direction(r, &peers, (&res, vpc), dir, rules);
        }
    }
    sg_vpc
}

/// The default group of each VPC (the first declared), and every group id an ENI or a rule
/// may name, with its VPC; reports a VPC without a default group whose implicit one's id
/// is taken.
#[allow(clippy::type_complexity)]
fn group_vpcs(
    r: &mut Report,
    t: &Topology,
    l: &Lookups<'_>,
    all_ids: &HashSet<String>,
) -> (HashMap<usize, String>, HashMap<String, Option<usize>>) {
    let mut default_sg: HashMap<usize, String> = HashMap::new();
    for (i, g) in t.security_groups.iter().enumerate() {
        if let (Some(&vi), true) = (l.vpc.get(&g.vpc), g.default) {
            default_sg
                .entry(vi)
                .or_insert_with(|| r.label(&g.id, "security_group", i));
        }
    }
    let mut sg_vpc: HashMap<String, Option<usize>> = HashMap::new();
    for g in &t.security_groups {
        if !g.id.is_empty() {
            sg_vpc
                .entry(g.id.clone())
                .or_insert_with(|| l.vpc.get(&g.vpc).copied());
        }
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if v.id.is_empty() || default_sg.contains_key(&vi) {
            continue;
        }
        let implicit = implicit_default_sg_id(&v.id);
        if all_ids.contains(&implicit) {
            r.err(
                &v.id,
                "",
                format!("the VPC declares no default security group, and the id of its implicit one, `{implicit}`, is taken; mark one security group `default = true`"),
            );
        } else {
            sg_vpc.insert(implicit, Some(vi));
        }
    }
    (default_sg, sg_vpc)
}

/// Checks and normalises the rules of one direction (`inbound` or `outbound`) of a group
/// (`res`, of VPC `vpc` when it resolves).
fn direction(
    r: &mut Report,
    peers: &Peers<'_>,
    (res, vpc): (&str, Option<usize>),
    dir: &str,
    rules: &mut [SgRuleSpec],
) {
    let (want, wrong) = if dir == "inbound" {
        ("source", "destination")
    } else {
        ("destination", "source")
    };
    let weight: usize = rules
        .iter()
        .map(|rule| match rule.peer() {
            Some(RulePeer::PrefixList(p)) => peers.pl_weight.get(p).copied().unwrap_or(1),
            _ => 1,
        })
        .sum();
    if weight > SG_RULES_MAX {
        r.err(
                res,
                dir,
                format!(
                    "{weight} rules (a prefix-list rule counts as the list's max_entries); a security group has at most {SG_RULES_MAX} per direction"
                ),
            );
    }
    for (k, rule) in rules.iter_mut().enumerate() {
        let field = format!("{dir}[{k}]");
        let (peer, other) = if dir == "inbound" {
            (&mut rule.source, &rule.destination)
        } else {
            (&mut rule.destination, &rule.source)
        };
        if other.is_some() {
            r.err(
                res,
                format!("{field}.{wrong}"),
                format!("{dir} rules name a `{want}`, not a `{wrong}`"),
            );
        }
        let Some(peer) = peer.as_mut() else {
            if other.is_none() {
                r.err(
                        res,
                        format!("{field}.{want}"),
                        format!("missing {want}: a CIDR, a security group id (`sg-…`) or a prefix list id (`pl-…`)"),
                    );
            }
            continue;
        };
        let pfield = format!("{field}.{want}");
        let mut ipv4 = None;
        match peer {
            RulePeer::Cidr(n) => {
                r.normalise(n, res, &pfield);
                ipv4 = Some(matches!(n, IpNet::V4(_)));
            }
            RulePeer::Group(id) => match peers.sg_vpc.get(id.as_str()) {
                None if peers.broken.contains(id.as_str()) => {}
                None => r.err(res, &pfield, format!("no security group with id `{id}`")),
                Some(&Some(ov)) => {
                    if let Some(vi) = vpc.filter(|&vi| vi != ov) {
                        let (this, other) = (&peers.vpcs[vi].id, &peers.vpcs[ov].id);
                        let why = match peers.peerings.between(vi, ov) {
                                Some((_, true)) => None,
                                Some((pcx, false)) => Some(format!(
                                    "{pcx} is pending-acceptance, and a reference needs an active peering"
                                )),
                                None => Some("no peering connection joins them".to_string()),
                            };
                        if let Some(why) = why {
                            r.warnings.push(format!(
                                    "{res}.{pfield}: {res} references {id} of {other}, which is not peered with {this} ({why}): the rule matches nothing (stale)"
                                ));
                        }
                    }
                }
                Some(None) => {}
            },
            RulePeer::PrefixList(id) => {
                if !peers.pl_weight.contains_key(id.as_str()) && !peers.broken.contains(id.as_str())
                {
                    r.err(res, &pfield, format!("no prefix list with id `{id}`"));
                }
            }
        }
        check_traffic(
            r,
            res,
            &TrafficFields {
                protocol: rule.protocol,
                ports: rule.ports,
                icmp_type: rule.icmp_type,
                icmp_code: rule.icmp_code,
                ipv4,
                field: &field,
            },
        );
    }
}
