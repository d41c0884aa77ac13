//! Text for people: the one-line summary of `vpcctl validate` and the tables of
//! `vpcctl show`. Library code returns strings; the binary prints them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dataplane::config::{DataplaneConfig, RouteTarget};
use dataplane::stats::StatsReport;
use dataplane::verdict::DropReason;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1 VPC, 2 subnets, 3 route tables, 3 ENIs` (route tables include implicit main tables).
pub fn summary(config: &DataplaneConfig) -> String {
    format!(
        "{}, {}, {}, {}",
        plural(config.vpcs.len(), "VPC", "VPCs"),
        plural(config.subnets.len(), "subnet", "subnets"),
        plural(config.route_tables.len(), "route table", "route tables"),
        plural(config.enis.len(), "ENI", "ENIs"),
    )
}

/// Lays out rows under headers, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// The name of a route target, with indices resolved to ids.
pub fn target_name(config: &DataplaneConfig, target: RouteTarget) -> String {
    match target {
        RouteTarget::Local => "local".to_string(),
        RouteTarget::Blackhole => "blackhole".to_string(),
        RouteTarget::Eni(i) => config
            .enis
            .get(i as usize)
            .map_or_else(|| format!("eni#{i}?"), |e| e.id.clone()),
    }
}

fn drops_text(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        "-".to_string()
    } else {
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The human-readable report of `vpcctl show`.
pub fn show(report: &StatsReport) -> String {
    let c = &report.config;
    let vpc_id = |i: u32| {
        c.vpcs
            .get(i as usize)
            .map_or_else(|| format!("vpc#{i}?"), |v| v.id.clone())
    };
    let mut out = String::new();
    let _ = writeln!(out, "epoch {}\n", report.epoch);

    out.push_str("VPCs\n");
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

    out.push_str("\nSubnets\n");
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
                vpc_id(s.vpc),
                cidr,
                c.route_tables
                    .get(s.route_table as usize)
                    .map_or_else(|| format!("rtb#{}?", s.route_table), |r| r.id.clone()),
                s.router_mac.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["ID", "VPC", "CIDR", "ROUTE TABLE", "ROUTER MAC"],
        &rows,
    ));

    out.push_str("\nRoute tables\n");
    for rt in &c.route_tables {
        let _ = writeln!(out, "{} ({})", rt.id, vpc_id(rt.vpc));
        let w = rt
            .routes
            .iter()
            .map(|r| r.destination.to_string().len())
            .max()
            .unwrap_or(0);
        for r in &rt.routes {
            let _ = writeln!(
                out,
                "  {:<w$}  → {}",
                r.destination.to_string(),
                target_name(c, r.target)
            );
        }
    }

    out.push_str("\nENIs\n");
    let rows: Vec<Vec<String>> = c
        .enis
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let port = report
                .enis
                .get(i)
                .filter(|p| p.id == e.id)
                .or_else(|| report.enis.iter().find(|p| p.id == e.id));
            let ips = e
                .ipv4
                .iter()
                .map(|a| a.to_string())
                .chain(e.ipv6.iter().map(|a| a.to_string()))
                .collect::<Vec<_>>()
                .join(",");
            let (tap, rx, tx, drops) = match port {
                Some(p) => (
                    p.tap.clone().unwrap_or_else(|| "-".to_string()),
                    format!("{}/{}", p.counters.rx_packets, p.counters.rx_bytes),
                    format!("{}/{}", p.counters.tx_packets, p.counters.tx_bytes),
                    drops_text(&p.counters.drop_map()),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            vec![
                e.id.clone(),
                c.subnets
                    .get(e.subnet as usize)
                    .map_or_else(|| format!("subnet#{}?", e.subnet), |s| s.id.clone()),
                ips,
                e.mac.to_string(),
                if e.source_dest_check { "on" } else { "off" }.to_string(),
                e.attachment
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |a| format!("{}/{}", a.netns, a.ifname)),
                tap,
                rx,
                tx,
                drops,
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "ID",
            "SUBNET",
            "IPS",
            "MAC",
            "SRC/DST CHECK",
            "NETNS/IFNAME",
            "TAP",
            "RX PKTS/BYTES",
            "TX PKTS/BYTES",
            "DROPS",
        ],
        &rows,
    ));

    let e = &report.engine;
    let engine_drops: BTreeMap<String, u64> = DropReason::ALL
        .iter()
        .zip(e.drops.iter())
        .filter(|(_, &n)| n > 0)
        .map(|(r, &n)| (r.name().to_string(), n))
        .collect();
    let _ = writeln!(
        out,
        "\nEngine\nflow hits {}, misses {}, evictions {}, cached flows {}, batches {}\ndrops: {}",
        e.flow_hits,
        e.flow_misses,
        e.flow_evictions,
        e.flows,
        e.batches,
        drops_text(&engine_drops)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::stats::{EniReport, PortCounters};

    const TOPO: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"
        [[route_table]]
        id = "rtb-fw"
        vpc = "vpc-demo"
        routes = [{ destination = "0.0.0.0/0", target = "eni-a" }]
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
        route_table = "rtb-fw"
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        netns = "ns-a"
    "#;

    #[test]
    fn summary_counts_implicit_main() {
        let c = crate::compile_str(TOPO).unwrap();
        assert_eq!(summary(&c.config), "1 VPC, 1 subnet, 2 route tables, 1 ENI");
    }

    #[test]
    fn show_lists_everything() {
        let c = crate::compile_str(TOPO).unwrap();
        let mut counters = PortCounters {
            rx_packets: 5,
            rx_bytes: 500,
            ..Default::default()
        };
        counters.drops[DropReason::NoRoute as usize] = 2;
        let mut engine = dataplane::stats::EngineCounters {
            flow_hits: 11,
            ..Default::default()
        };
        engine.drops[DropReason::NoRoute as usize] = 2;
        let report = StatsReport {
            epoch: 4,
            config: c.config,
            enis: vec![EniReport {
                id: "eni-a".into(),
                tap: Some("vpc0".into()),
                counters,
            }],
            engine,
        };
        let text = show(&report);
        for needle in [
            "epoch 4",
            "vpc-demo  10.0.0.0/16",
            "rtb-fw (vpc-demo)",
            "0.0.0.0/0    → eni-a",
            "10.0.0.0/16  → local",
            "rtb-main-demo",
            "ns-a/eth0",
            "vpc0",
            "5/500",
            "no_route=2",
            "flow hits 11",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn table_pads_columns() {
        let t = table(&["A", "B"], &[vec!["long".into(), "x".into()]]);
        assert_eq!(t, "A     B\nlong  x\n");
    }
}
