//! Network ACLs: an existing VPC with exactly one default ACL (or a free id for its
//! implicit one), subnets of the same VPC each associated with one ACL, and per direction at
//! most 40 rules (over 20 warns), numbered 1..=32766 and unique, with a CIDR (host bits
//! cleared with a warning) and the protocol/port/ICMP fields of [`super::traffic`].

use std::collections::{HashMap, HashSet};

use ipnet::IpNet;

use super::context::{check_vpc_ref, Lookups, Report};
use super::traffic::{check_traffic, TrafficFields};
use crate::model::{NetworkAcl, Subnet, Topology};
use crate::names::implicit_default_nacl_id;

/// The smallest network ACL rule number.
pub const NACL_RULE_MIN: i64 = 1;
/// The largest network ACL rule number (32767 and up are reserved for the `*` rules).
pub const NACL_RULE_MAX: i64 = 32_766;
/// Network ACL rules per direction beyond which a warning is given (AWS default quota).
pub const NACL_RULES_QUOTA: usize = 20;
/// Network ACL rules per direction beyond which the file is rejected (AWS maximum quota).
pub const NACL_RULES_MAX: usize = 40;

/// Checks and normalises every network ACL; `all_ids` = the declared ids (see
/// [`super::ids::declared_ids`]).
pub(super) fn network_acls(
    r: &mut Report,
    t: &mut Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    all_ids: &HashSet<String>,
) {
    let mut default_nacl: HashMap<usize, String> = HashMap::new();
    let mut associated: HashMap<String, String> = HashMap::new();
    for (i, n) in t.network_acls.iter_mut().enumerate() {
        let res = r.label(&n.id, "network_acl", i);
        let vpc = check_vpc_ref(r, l.vpc, broken, &res, &n.vpc);
        if let (Some(vi), true) = (vpc, n.default) {
            if let Some(first) = default_nacl.get(&vi) {
                r.err(
                    &res,
                    "default",
                    format!(
                        "{} already has a default network ACL ({first}); a VPC has exactly one",
                        n.vpc
                    ),
                );
            } else {
                default_nacl.insert(vi, res.clone());
            }
        }
        associations(r, (n, &res, vpc), &t.subnets, broken, l, &mut associated);
        rules(r, n, &res);
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if v.id.is_empty() || default_nacl.contains_key(&vi) {
            continue;
        }
        let implicit = implicit_default_nacl_id(&v.id);
        if all_ids.contains(&implicit) {
            r.err(
                &v.id,
                "",
                format!("the VPC declares no default network ACL, and the id of its implicit one, `{implicit}`, is taken; mark one network ACL `default = true`"),
            );
        }
    }
}

/// Checks the subnets of network ACL `n` (of VPC `vpc` when it resolves): existing, of the
/// same VPC, each associated once (`associated` = subnet → its ACL so far).
fn associations(
    r: &mut Report,
    (n, res, vpc): (&NetworkAcl, &str, Option<usize>),
    subnets: &[Subnet],
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    associated: &mut HashMap<String, String>,
) {
    for (j, sid) in n.subnets.iter().enumerate() {
        let field = format!("subnets[{j}]");
        match l.subnet.get(sid) {
            None if broken.contains(sid) => {}
            None => r.err(res, &field, format!("no subnet with id `{sid}`")),
            Some(&si) => {
                let s = &subnets[si];
                if vpc.is_some() && s.vpc != n.vpc && l.vpc.contains_key(&s.vpc) {
                    r.err(
                        res,
                        &field,
                        format!(
                            "{sid} is in {}, but this network ACL belongs to {}; associate a network ACL of the subnet's own VPC",
                            s.vpc, n.vpc
                        ),
                    );
                }
                match associated.get(sid) {
                    Some(other) if *other == res => {
                        r.err(res, &field, format!("{sid} is listed twice"))
                    }
                    Some(other) => r.err(
                        res,
                        &field,
                        format!("{sid} is already associated with {other}; a subnet has exactly one network ACL"),
                    ),
                    None => {
                        associated.insert(sid.clone(), res.to_string());
                    }
                }
            }
        }
    }
}

/// Checks and normalises the rules of network ACL `n`, per direction.
fn rules(r: &mut Report, n: &mut NetworkAcl, res: &str) {
    for (dir, rules) in [("inbound", &mut n.inbound), ("outbound", &mut n.outbound)] {
        if rules.len() > NACL_RULES_MAX {
            r.err(
                res,
                dir,
                format!(
                    "{} rules; a network ACL has at most {NACL_RULES_MAX} per direction (AWS's maximum quota)",
                    rules.len()
                ),
            );
        } else if rules.len() > NACL_RULES_QUOTA {
            r.warnings.push(format!(
                "{res}.{dir}: {} rules is more than AWS's default quota of {NACL_RULES_QUOTA} per direction (it can be raised to {NACL_RULES_MAX})",
                rules.len()
            ));
        }
        let mut numbers: HashMap<i64, usize> = HashMap::new();
        for (k, rule) in rules.iter_mut().enumerate() {
            let field = format!("{dir}[{k}]");
            if !(NACL_RULE_MIN..=NACL_RULE_MAX).contains(&rule.rule) {
                r.err(
                    res,
                    format!("{field}.rule"),
                    format!(
                        "rule number {} is outside {NACL_RULE_MIN}..={NACL_RULE_MAX} (higher numbers are reserved for the final `*` deny)",
                        rule.rule
                    ),
                );
            } else if let Some(first) = numbers.get(&rule.rule) {
                r.err(
                    res,
                    format!("{field}.rule"),
                    format!(
                        "rule number {} is already used by {dir}[{first}]; rule numbers are unique per direction",
                        rule.rule
                    ),
                );
            } else {
                numbers.insert(rule.rule, k);
            }
            r.normalise(&mut rule.cidr, res, &format!("{field}.cidr"));
            check_traffic(
                r,
                res,
                &TrafficFields {
                    protocol: rule.protocol,
                    ports: rule.ports,
                    icmp_type: rule.icmp_type,
                    icmp_code: rule.icmp_code,
                    ipv4: Some(matches!(rule.cidr, IpNet::V4(_))),
                    field: &field,
                },
            );
        }
    }
}
