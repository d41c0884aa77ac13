//! The `VPCs`, `Subnets` and `Route tables` sections of `vpcctl show`.

use std::fmt::Write as _;

use dataplane::vpc::config::DataplaneConfig;

use super::names::{target_name, vpc_id};
use super::text::{push_padded, table};

/// The `VPCs` section of `vpcctl show`: each VPC with its CIDRs.
pub(super) fn vpcs(c: &DataplaneConfig) -> String {
    let mut out = String::from("VPCs\n");
    let rows: Vec<Vec<String>> = c
        .vpcs
        .iter()
        .map(|v| {
            vec![
                v.id.clone(),
                v.cidrs
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    out.push_str(&table(&["ID", "CIDRS"], &rows));
    out
}

/// The `Subnets` section of `vpcctl show`: each subnet with its VPC, CIDRs, route table,
/// network ACL and router MAC.
pub(super) fn subnets(c: &DataplaneConfig) -> String {
    let mut out = String::from("\nSubnets\n");
    let rows: Vec<Vec<String>> = c
        .subnets
        .iter()
        .map(|s| {
            let cidr = [
                s.ipv4_cidr.map(|n| n.to_string()),
                s.ipv6_cidr.map(|n| n.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            vec![
                s.id.clone(),
                vpc_id(c, s.vpc),
                cidr,
                c.route_tables
                    .get(s.route_table.idx())
                    .map_or_else(|| format!("rtb#{}?", s.route_table), |r| r.id.clone()),
                s.network_acl.map_or_else(
                    || "-".to_string(),
                    |n| {
                        c.network_acls
                            .get(n.idx())
                            .map_or_else(|| format!("acl#{n}?"), |a| a.id.clone())
                    },
                ),
                s.router_mac.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "ID",
            "VPC",
            "CIDR",
            "ROUTE TABLE",
            "NETWORK ACL",
            "ROUTER MAC",
        ],
        &rows,
    ));
    out
}

/// The `Route tables` section of `vpcctl show`: each table with its VPC and routes; a
/// route in state `blackhole` for want of its target says so after the target's id
/// (`nat-x (blackhole: target deleted)`, `pcx-x (blackhole: pending-acceptance)`).
pub(super) fn route_tables(c: &DataplaneConfig) -> String {
    let mut out = String::from("\nRoute tables\n");
    for rt in &c.route_tables {
        let _ = writeln!(out, "{} ({})", rt.id, vpc_id(c, rt.vpc));
        let w = rt
            .routes
            .iter()
            .map(|r| r.destination.to_string().len())
            .max()
            .unwrap_or(0);
        for r in &rt.routes {
            // A route whose target was deleted names it, with its state, as AWS shows it.
            let target = match &r.deleted_target {
                Some(id) => format!("{id} (blackhole: target deleted)"),
                None => target_name(c, r.target),
            };
            out.push_str("  ");
            push_padded(&mut out, &r.destination.to_string(), w);
            let _ = writeln!(out, "  → {target}");
        }
    }
    out
}

/// The `VPC resolver` section of `vpcctl show`: per VPC its addresses, the private
/// hosted zones it answers from, and the queries its ENIs had answered (and, of those,
/// the errors: NXDOMAIN, FORMERR, …) by the running engine.
pub(super) fn resolver(
    c: &DataplaneConfig,
    report: &dataplane::observe::stats::StatsReport,
) -> String {
    let upstream = match &c.dns.upstream {
        Some(u) => format!("; upstream {} from {}", u.server, u.source),
        None => String::new(),
    };
    let mut out = format!(
        "\nVPC resolver (UDP 53; instances under {}; {} queries/s per ENI{upstream})\n",
        c.dns.instance_domain, c.dns.max_pps
    );
    let rows: Vec<Vec<String>> = c
        .vpcs
        .iter()
        .enumerate()
        .map(|(vi, v)| {
            let plus2 = v.cidrs.iter().find_map(|n| match n {
                ipnet::IpNet::V4(n) => Some(std::net::Ipv4Addr::from(
                    u32::from(n.network()).wrapping_add(2),
                )),
                ipnet::IpNet::V6(_) => None,
            });
            let zones: Vec<String> = c
                .dns
                .zones
                .iter()
                .filter(|z| z.vpcs.iter().any(|x| x.idx() == vi))
                .map(|z| format!("{} {} ({} records)", z.id, z.name, z.records.len()))
                .collect();
            let (mut answers, mut errors) = (0u64, 0u64);
            for (i, e) in c.enis.iter().enumerate() {
                if c.subnets.get(e.subnet.idx()).map(|s| s.vpc.idx()) != Some(vi) {
                    continue;
                }
                let port = report
                    .enis
                    .get(i)
                    .filter(|p| p.id == e.id)
                    .or_else(|| report.enis.iter().find(|p| p.id == e.id));
                if let Some(p) = port {
                    answers += p.counters.dns_answers;
                    errors += p.counters.dns_errors;
                }
            }
            vec![
                v.id.clone(),
                plus2.map_or_else(
                    || "169.254.169.253".to_string(),
                    |a| format!("{a}, 169.254.169.253"),
                ),
                if zones.is_empty() {
                    "-".into()
                } else {
                    zones.join(", ")
                },
                format!("{answers}/{errors}"),
            ]
        })
        .collect();
    out.push_str(&table(
        &["VPC", "ADDRESSES", "ZONES", "ANSWERS/ERRORS"],
        &rows,
    ));
    out
}
