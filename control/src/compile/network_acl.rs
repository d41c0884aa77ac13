//! Network ACLs: the declared ones in file order, then one implicit default NACL (rule 100
//! allow all `0.0.0.0/0` both ways, plus rule 101 `::/0` on dual-stack VPCs) per VPC that
//! marks none `default = true`. Entries keep the file's order (the data plane sorts by rule
//! number) and never include the final `*` deny.

use std::collections::HashMap;

use dataplane::vpc::config::{NaclEntry, NetworkAclConfig};
use ipnet::IpNet;

use super::index::Index;
use super::traffic::{everywhere, traffic_match, ALL_TRAFFIC};
use super::units::idx;
use crate::model::{NaclAction, NaclRule, NetworkAcl, Topology, Vpc};
use crate::names::implicit_default_nacl_id;
use crate::report::ValidationError;

/// The compiled network ACLs and how subnets find theirs.
pub(super) struct NetworkAcls<'a> {
    /// Declared NACLs in file order, then the implicit defaults.
    pub configs: Vec<NetworkAclConfig>,
    /// The NACL that lists each subnet id (the first one that does).
    pub of_subnet: HashMap<&'a str, usize>,
    /// The default NACL of each VPC (by VPC index).
    pub default_of: HashMap<usize, usize>,
}

/// A network ACL rule, compiled (`None` for a rule number outside `u16`, which
/// validation rejects).
fn nacl_entry(rule: &NaclRule) -> Option<NaclEntry> {
    Some(NaclEntry {
        rule_number: u16::try_from(rule.rule).ok()?,
        traffic: traffic_match(
            rule.protocol,
            rule.ports,
            rule.icmp_type,
            rule.icmp_code,
            Some(matches!(rule.cidr, IpNet::V4(_))),
        ),
        cidr: rule.cidr,
        allow: rule.action == NaclAction::Allow,
    })
}

/// The network ACLs of `t`: declared ones, then the implicit defaults. A NACL whose VPC
/// does not resolve, or a rule whose number is out of range, is reported and left out.
pub(super) fn network_acls<'a>(
    t: &'a Topology,
    ix: &Index<'_>,
    errors: &mut Vec<ValidationError>,
) -> NetworkAcls<'a> {
    let mut network_acls = Vec::new();
    let mut nacl_of_subnet: HashMap<&str, usize> = HashMap::new();
    let mut default_nacl: HashMap<usize, usize> = HashMap::new();
    for n in &t.network_acls {
        let Some(vi) = ix.vpc_of(&n.id, &n.vpc, errors) else {
            continue;
        };
        let ni = network_acls.len();
        if n.default {
            default_nacl.entry(vi).or_insert(ni);
        }
        for s in &n.subnets {
            nacl_of_subnet.entry(s.as_str()).or_insert(ni);
        }
        let inbound = entries(n, "inbound", &n.inbound, errors);
        let outbound = entries(n, "outbound", &n.outbound, errors);
        network_acls.push(NetworkAclConfig {
            id: n.id.clone(),
            vpc: idx(vi),
            inbound,
            outbound,
        });
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if default_nacl.contains_key(&vi) {
            continue;
        }
        default_nacl.insert(vi, network_acls.len());
        network_acls.push(implicit_default(v, vi));
    }
    NetworkAcls {
        configs: network_acls,
        of_subnet: nacl_of_subnet,
        default_of: default_nacl,
    }
}

/// The entries of direction `dir` of NACL `n`, in file order; a rule whose number is out
/// of range is reported and left out.
fn entries(
    n: &NetworkAcl,
    dir: &str,
    rules: &[NaclRule],
    errors: &mut Vec<ValidationError>,
) -> Vec<NaclEntry> {
    rules
        .iter()
        .enumerate()
        .filter_map(|(k, rule)| {
            let e = nacl_entry(rule);
            if e.is_none() {
                errors.push(ValidationError::new(
                    &n.id,
                    format!("{dir}[{k}].rule"),
                    "rule number out of range",
                ));
            }
            e
        })
        .collect()
}

/// The implicit default NACL of VPC `v` (index `vi`): allow all, both ways, both families
/// of the VPC.
fn implicit_default(v: &Vpc, vi: usize) -> NetworkAclConfig {
    let allow_all: Vec<NaclEntry> = everywhere(v)
        .into_iter()
        .zip(100u16..)
        .map(|(cidr, rule_number)| NaclEntry {
            rule_number,
            traffic: ALL_TRAFFIC,
            cidr,
            allow: true,
        })
        .collect();
    NetworkAclConfig {
        id: implicit_default_nacl_id(&v.id),
        vpc: idx(vi),
        inbound: allow_all.clone(),
        outbound: allow_all,
    }
}
