//! The `Network ACLs` and `Security groups` sections of `vpcctl show`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dataplane::observe::stats::StatsReport;
use dataplane::vpc::config::{DataplaneConfig, NaclEntry, SgPeer, SgRule, VpcIdx};

use super::names::{peer_name, ports_text, protocol_name, vpc_id};
use super::text::{ids_or_dash, idx32, indent, table};

/// A network ACL direction as a table: the entries by rule number, then the final `*`
/// deny; deny rules show the packets they denied this epoch (`denied`, by rule text).
fn nacl_rules(entries: &[NaclEntry], star_cidrs: &str, denied: &BTreeMap<&str, u64>) -> String {
    let mut sorted: Vec<&NaclEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.rule_number);
    let count = |rule: &str| denied.get(rule).copied().unwrap_or(0).to_string();
    let mut rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|e| {
            let rule = e.rule_number.to_string();
            vec![
                rule.clone(),
                protocol_name(e.traffic.protocol),
                ports_text(&e.traffic),
                e.cidr.to_string(),
                if e.allow { "ALLOW" } else { "DENY" }.to_string(),
                if e.allow {
                    "-".to_string()
                } else {
                    count(&rule)
                },
            ]
        })
        .collect();
    rows.push(vec![
        "*".into(),
        "all".into(),
        "all".into(),
        star_cidrs.to_string(),
        "DENY".into(),
        count("*"),
    ]);
    table(
        &["RULE", "PROTOCOL", "PORTS", "CIDR", "ACTION", "DENIED"],
        &rows,
    )
}

/// A security-group direction of a group of VPC `vpc` as a table; a peer that is a group
/// of another (peered) VPC is named with its VPC: `sg-web (vpc-demo)`.
fn sg_rules(config: &DataplaneConfig, vpc: VpcIdx, rules: &[SgRule], peer: &str) -> String {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            let mut name = peer_name(config, &r.peer);
            if let SgPeer::Group(i) = r.peer {
                let other = config.security_groups.get(i.idx()).map(|g| g.vpc);
                if let Some(v) = other.filter(|&v| v != vpc) {
                    let id = config
                        .vpcs
                        .get(v.idx())
                        .map_or_else(|| format!("vpc#{v}?"), |x| x.id.clone());
                    let _ = write!(name, " ({id})");
                }
            }
            vec![
                protocol_name(r.traffic.protocol),
                ports_text(&r.traffic),
                name,
            ]
        })
        .collect();
    table(&["PROTOCOL", "PORTS", peer], &rows)
}

/// The `Network ACLs` section of `vpcctl show`: each NACL with its VPC, subnets and rules
/// both ways (deny rules with the packets they denied, from `report`).
pub(super) fn network_acls(c: &DataplaneConfig, report: &StatsReport) -> String {
    let mut out =
        String::from("\nNetwork ACLs (stateless; lowest rule number first, first match wins)\n");
    for (i, n) in c.network_acls.iter().enumerate() {
        let users: Vec<String> = c
            .subnets
            .iter()
            .filter(|s| s.network_acl == Some(idx32(i)))
            .map(|s| s.id.clone())
            .collect();
        let _ = writeln!(
            out,
            "{} ({}), subnets: {}",
            n.id,
            vpc_id(c, n.vpc),
            ids_or_dash(users)
        );
        let dual = c
            .vpcs
            .get(n.vpc.idx())
            .is_some_and(|v| v.cidrs.iter().any(|x| matches!(x, ipnet::IpNet::V6(_))));
        let star = if dual { "0.0.0.0/0, ::/0" } else { "0.0.0.0/0" };
        for (dir, entries) in [("inbound", &n.inbound), ("outbound", &n.outbound)] {
            let denied: BTreeMap<&str, u64> = report
                .nacl_denies
                .iter()
                .filter(|d| d.nacl == n.id && d.direction == dir)
                .map(|d| (d.rule.as_str(), d.packets))
                .collect();
            let _ = writeln!(out, "  {dir}:");
            out.push_str(&indent(&nacl_rules(entries, star, &denied), 4));
        }
    }
    out
}

/// The `Security groups` section of `vpcctl show`: each group with its VPC, members and
/// rules both ways.
pub(super) fn security_groups(c: &DataplaneConfig) -> String {
    let mut out =
        String::from("\nSecurity groups (stateful; allow rules of all of an ENI's groups)\n");
    for (i, g) in c.security_groups.iter().enumerate() {
        let members: Vec<String> = c
            .enis
            .iter()
            .filter(|e| {
                e.security_groups
                    .as_ref()
                    .is_some_and(|gs| gs.contains(&idx32(i)))
            })
            .map(|e| e.id.clone())
            .collect();
        let _ = writeln!(
            out,
            "{} ({}), members: {}",
            g.id,
            vpc_id(c, g.vpc),
            ids_or_dash(members)
        );
        for (dir, rules, peer) in [
            ("inbound", &g.inbound, "SOURCE"),
            ("outbound", &g.outbound, "DESTINATION"),
        ] {
            if rules.is_empty() {
                let _ = writeln!(out, "  {dir}: no rules");
            } else {
                let _ = writeln!(out, "  {dir}:");
                out.push_str(&indent(&sg_rules(c, g.vpc, rules, peer), 4));
            }
        }
    }
    out
}
