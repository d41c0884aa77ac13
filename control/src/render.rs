//! Text for people: the one-line summary of `vpcctl validate` and the tables of
//! `vpcctl show`. Library code returns strings; the binary prints them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dataplane::observe::stats::{NatGatewayReport, StatsReport, UplinkReport};
use dataplane::vpc::config::{
    DataplaneConfig, MappingTarget, NaclEntry, Protocol, RouteTarget, SgPeer, SgRule, TrafficMatch,
};
use dataplane::vpc::verdict::DropReason;

mod taps;

pub use taps::{capture_filter_text, mirror_sessions, packet_captures};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1 VPC, 2 subnets, 3 route tables, 3 ENIs, 2 network ACLs, 3 security groups` (the
/// implicit main tables, default NACLs and default groups included), then
/// `, 1 internet gateway`, `, 1 NAT gateway`, `, 1 peering connection`, `, 1 flow log`,
/// `, 1 packet capture` and `, 1 mirror session` when there are any.
pub fn summary(config: &DataplaneConfig) -> String {
    let igws = match config.internet_gateways.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "internet gateway", "internet gateways")),
    };
    let nats = match config.nat_gateways.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "NAT gateway", "NAT gateways")),
    };
    let pcxs = match config.peerings.len() {
        0 => String::new(),
        n => format!(
            ", {}",
            plural(n, "peering connection", "peering connections")
        ),
    };
    let fls = match config.flow_logs.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "flow log", "flow logs")),
    };
    let caps = match config.captures.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "packet capture", "packet captures")),
    };
    let tms = match config.mirror_sessions.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "mirror session", "mirror sessions")),
    };
    format!(
        "{}, {}, {}, {}, {}, {}{igws}{nats}{pcxs}{fls}{caps}{tms}",
        plural(config.vpcs.len(), "VPC", "VPCs"),
        plural(config.subnets.len(), "subnet", "subnets"),
        plural(config.route_tables.len(), "route table", "route tables"),
        plural(config.enis.len(), "ENI", "ENIs"),
        plural(config.network_acls.len(), "network ACL", "network ACLs"),
        plural(
            config.security_groups.len(),
            "security group",
            "security groups"
        ),
    )
}

/// The name of a rule's protocol: `all`, `tcp`, `udp`, `icmp`, `icmpv6`, or its number.
pub fn protocol_name(p: Protocol) -> String {
    match p {
        Protocol::All => "all".to_string(),
        Protocol::Number(6) => "tcp".to_string(),
        Protocol::Number(17) => "udp".to_string(),
        Protocol::Number(1) => "icmp".to_string(),
        Protocol::Number(58) => "icmpv6".to_string(),
        Protocol::Number(n) => n.to_string(),
    }
}

/// The ports or ICMP type/code a rule matches: `80`, `1024-65535`, `type 3 code 4`, `all`.
pub fn ports_text(t: &TrafficMatch) -> String {
    if let Some(p) = t.ports {
        return if p.from == p.to {
            p.from.to_string()
        } else {
            format!("{}-{}", p.from, p.to)
        };
    }
    match t.icmp {
        Some(i) => {
            let ty = i.icmp_type.map_or("any".to_string(), |v| v.to_string());
            match i.code {
                Some(c) => format!("type {ty} code {c}"),
                None => format!("type {ty}"),
            }
        }
        None => "all".to_string(),
    }
}

/// The other end of a security-group rule, with indices resolved to ids.
pub fn peer_name(config: &DataplaneConfig, peer: &SgPeer) -> String {
    match peer {
        SgPeer::Cidr(n) => n.to_string(),
        SgPeer::Group(i) => config
            .security_groups
            .get(*i as usize)
            .map_or_else(|| format!("sg#{i}?"), |g| g.id.clone()),
        SgPeer::PrefixList { id, cidrs } => {
            format!("{id} ({})", plural(cidrs.len(), "entry", "entries"))
        }
    }
}

/// Indents every line of `text` by `n` spaces.
fn indent(text: &str, n: usize) -> String {
    text.lines().map(|l| format!("{:n$}{l}\n", "")).collect()
}

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
fn sg_rules(config: &DataplaneConfig, vpc: u32, rules: &[SgRule], peer: &str) -> String {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            let mut name = peer_name(config, &r.peer);
            if let SgPeer::Group(i) = r.peer {
                let other = config.security_groups.get(i as usize).map(|g| g.vpc);
                if let Some(v) = other.filter(|&v| v != vpc) {
                    let id = config
                        .vpcs
                        .get(v as usize)
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

fn ids_or_dash(ids: Vec<String>) -> String {
    if ids.is_empty() {
        "-".to_string()
    } else {
        ids.join(", ")
    }
}

/// A section of `vpcctl show`: its title line, then `rows` under `headers`, or `none`.
pub(crate) fn section(title: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let body = if rows.is_empty() {
        "none\n".to_string()
    } else {
        table(headers, rows)
    };
    format!("\n{title}\n{body}")
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
        RouteTarget::Eni(i) => eni_name(config, i),
        RouteTarget::InternetGateway(i) => config
            .internet_gateways
            .get(i as usize)
            .map_or_else(|| format!("igw#{i}?"), |g| g.id.clone()),
        RouteTarget::NatGateway(i) => nat_name(config, i),
        RouteTarget::Peering(i) => config.peerings.get(i as usize).map_or_else(
            || format!("pcx#{i}?"),
            |p| {
                if p.active {
                    p.id.clone()
                } else {
                    format!("{} (pending-acceptance: blackhole)", p.id)
                }
            },
        ),
    }
}

/// The id of ENI `i`.
pub(crate) fn eni_name(config: &DataplaneConfig, i: u32) -> String {
    config
        .enis
        .get(i as usize)
        .map_or_else(|| format!("eni#{i}?"), |e| e.id.clone())
}

/// The id of NAT gateway `i`.
fn nat_name(config: &DataplaneConfig, i: u32) -> String {
    config
        .nat_gateways
        .get(i as usize)
        .map_or_else(|| format!("nat#{i}?"), |n| n.id.clone())
}

/// The name of what a public address maps to: an ENI id or a NAT gateway id.
pub fn mapping_target_name(config: &DataplaneConfig, target: MappingTarget) -> String {
    match target {
        MappingTarget::Eni(i) => eni_name(config, i),
        MappingTarget::NatGateway(i) => nat_name(config, i),
    }
}

fn idx32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
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

/// The `Internet gateways` section of `vpcctl show`: each gateway with its uplink (and the
/// uplink's port and counters from `uplinks`, when reported) and its 1:1 NAT table.
pub fn internet_gateways(c: &DataplaneConfig, uplinks: &[UplinkReport]) -> String {
    let mut out = String::from("\nInternet gateways (1:1 NAT between public and private IPv4)\n");
    if c.internet_gateways.is_empty() {
        out.push_str("none\n");
        return out;
    }
    for g in &c.internet_gateways {
        let vpc = c
            .vpcs
            .get(g.vpc as usize)
            .map_or_else(|| format!("vpc#{}?", g.vpc), |v| v.id.clone());
        let _ = writeln!(out, "{} ({vpc}), mac {}", g.id, g.mac);
        match &g.uplink {
            Some(u) => {
                let hosts: Vec<String> = u.hosts.iter().map(|h| h.to_string()).collect();
                let _ = writeln!(
                    out,
                    "  uplink: {}/{}, outside {}, gateway {}, hosts {}, host mac {}, mtu {}",
                    u.attachment.netns,
                    u.attachment.ifname,
                    u.outside,
                    u.gateway_ip,
                    ids_or_dash(hosts),
                    u.host_mac,
                    u.mtu
                );
            }
            None => out.push_str("  uplink: none (traffic routed here is dropped)\n"),
        }
        if let Some(p) = uplinks.iter().find(|p| p.igw == g.id) {
            let _ = writeln!(
                out,
                "  port: tap {}, rx {}/{}, tx {}/{}, drops {}",
                p.tap.as_deref().unwrap_or("-"),
                p.counters.rx_packets,
                p.counters.rx_bytes,
                p.counters.tx_packets,
                p.counters.tx_bytes,
                drops_text(&p.counters.drop_map())
            );
        }
        if g.mappings.is_empty() {
            out.push_str("  public addresses: none\n");
            continue;
        }
        let rows: Vec<Vec<String>> = g
            .mappings
            .iter()
            .map(|m| {
                vec![
                    m.public.to_string(),
                    mapping_target_name(c, m.target),
                    m.private.to_string(),
                    m.source.clone(),
                ]
            })
            .collect();
        // `ENI` while only ENIs have public addresses, `TARGET` once a NAT gateway has one.
        let target = if g
            .mappings
            .iter()
            .all(|m| matches!(m.target, MappingTarget::Eni(_)))
        {
            "ENI"
        } else {
            "TARGET"
        };
        out.push_str(&indent(
            &table(&["PUBLIC", target, "PRIVATE", "SOURCE"], &rows),
            2,
        ));
    }
    out
}

/// `vpc-a (10.0.0.0/16, 10.50.0.0/16)`: a VPC's id and CIDRs.
fn vpc_with_cidrs(c: &DataplaneConfig, vpc: u32) -> String {
    c.vpcs.get(vpc as usize).map_or_else(
        || format!("vpc#{vpc}?"),
        |v| {
            let cidrs: Vec<String> = v.cidrs.iter().map(|n| n.to_string()).collect();
            format!("{} ({})", v.id, cidrs.join(", "))
        },
    )
}

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

/// The `NAT gateways` section of `vpcctl show`: each gateway with its subnet, kind, port
/// range, idle timeout and limits, its addresses with their Elastic IPs (from the internet
/// gateways' mappings), and its metrics from `reports` under their CloudWatch names
/// (`AWS/NATGateway`). The traffic table reads as metric names: row `InFromSource`,
/// column `PACKETS` is `PacketsInFromSource`.
pub fn nat_gateways(c: &DataplaneConfig, reports: &[NatGatewayReport]) -> String {
    let mut out = String::from(
        "\nNAT gateways (source NAT to their private IPv4; a public one's addresses map to Elastic IPs at the internet gateway)\n",
    );
    if c.nat_gateways.is_empty() {
        out.push_str("none\n");
        return out;
    }
    for (i, n) in c.nat_gateways.iter().enumerate() {
        let subnet = c.subnets.get(n.subnet as usize);
        let vpc = subnet
            .and_then(|s| c.vpcs.get(s.vpc as usize))
            .map_or_else(|| "vpc?".to_string(), |v| v.id.clone());
        let _ = writeln!(
            out,
            "{} ({vpc}), {}, subnet {}, ports {}-{}, idle timeout {}, {} per address and destination, up to {} translations",
            n.id,
            if n.public { "public" } else { "private" },
            subnet.map_or_else(|| format!("subnet#{}?", n.subnet), |s| s.id.clone()),
            n.ports.from,
            n.ports.to,
            duration_text(n.idle_timeout_ms),
            n.max_per_destination,
            n.max_connections,
        );
        let eips: Vec<_> = c
            .internet_gateways
            .iter()
            .flat_map(|g| &g.mappings)
            .filter(|m| m.target == MappingTarget::NatGateway(idx32(i)))
            .collect();
        let rows: Vec<Vec<String>> = n
            .addrs
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let eip = eips.iter().find(|m| m.private == *a);
                vec![
                    a.to_string(),
                    if k == 0 { "primary" } else { "secondary" }.to_string(),
                    eip.map_or_else(|| "-".to_string(), |m| m.public.to_string()),
                    eip.map_or_else(|| "-".to_string(), |m| m.source.clone()),
                ]
            })
            .collect();
        out.push_str(&indent(
            &table(&["PRIVATE", "ADDRESS", "ELASTIC IP", "ALLOCATION"], &rows),
            2,
        ));
        let Some(r) = reports
            .get(i)
            .filter(|r| r.id == n.id)
            .or_else(|| reports.iter().find(|r| r.id == n.id))
        else {
            out.push_str("  metrics: not reported\n");
            continue;
        };
        let m = &r.metrics;
        let _ = writeln!(
            out,
            "  ActiveConnectionCount {}, ConnectionAttemptCount {}, ConnectionEstablishedCount {}, ErrorPortAllocation {}, IdleTimeoutCount {}, PacketsDropCount {} (translations {}, resets sent {})",
            m.active_connection_count,
            m.connection_attempt_count,
            m.connection_established_count,
            m.error_port_allocation,
            m.idle_timeout_count,
            m.packets_drop_count,
            m.translations,
            m.resets_sent,
        );
        let rows: Vec<Vec<String>> = [
            (
                "InFromSource",
                m.packets_in_from_source,
                m.bytes_in_from_source,
            ),
            (
                "OutToDestination",
                m.packets_out_to_destination,
                m.bytes_out_to_destination,
            ),
            (
                "InFromDestination",
                m.packets_in_from_destination,
                m.bytes_in_from_destination,
            ),
            (
                "OutToSource",
                m.packets_out_to_source,
                m.bytes_out_to_source,
            ),
        ]
        .into_iter()
        .map(|(name, p, b)| vec![name.to_string(), p.to_string(), b.to_string()])
        .collect();
        out.push_str(&indent(&table(&["TRAFFIC", "PACKETS", "BYTES"], &rows), 2));
    }
    out
}

/// The scope of a flow log as the running configuration shows it (it keeps the covered
/// ENIs, not the resource named): the ENI when there is one, else the subnet or the VPC
/// whose ENIs are exactly these, else their number.
fn flow_log_scope(c: &DataplaneConfig, enis: &[u32]) -> String {
    let covered = |keep: &dyn Fn(u32, &dataplane::vpc::config::SubnetConfig) -> bool| -> Vec<u32> {
        c.enis
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                c.subnets
                    .get(e.subnet as usize)
                    .is_some_and(|s| keep(e.subnet, s))
            })
            .map(|(i, _)| idx32(i))
            .collect()
    };
    if let [e] = enis {
        if let Some(eni) = c.enis.get(*e as usize) {
            return eni.id.clone();
        }
    }
    if enis.is_empty() {
        return "- (no ENIs)".to_string();
    }
    if let Some(s) = (0..c.subnets.len()).find(|&si| covered(&|i, _| i as usize == si) == enis) {
        return c.subnets[s].id.clone();
    }
    if let Some(v) = (0..c.vpcs.len()).find(|&vi| covered(&|_, s| s.vpc as usize == vi) == enis) {
        return c.vpcs[v].id.clone();
    }
    plural(enis.len(), "ENI", "ENIs")
}

/// The `Flow logs` section of `vpcctl show`: each flow log with its scope (see
/// [`flow_log_scope`]), ENIs, traffic type, aggregation interval, destination file and
/// record format (its version; `default` for the version 2 fields).
pub fn flow_logs(c: &DataplaneConfig) -> String {
    let rows: Vec<Vec<String>> = c
        .flow_logs
        .iter()
        .map(|f| {
            let enis: Vec<String> = f.enis.iter().map(|&e| eni_name(c, e)).collect();
            let version = dataplane::observe::flowlog::format_version(&f.fields);
            let format = if f.fields == dataplane::observe::flowlog::DEFAULT_FIELDS {
                format!("v{version} default")
            } else {
                format!(
                    "v{version} custom ({})",
                    plural(f.fields.len(), "field", "fields")
                )
            };
            vec![
                f.id.clone(),
                flow_log_scope(c, &f.enis),
                ids_or_dash(enis).replace(", ", ","),
                match f.traffic {
                    dataplane::vpc::config::FlowLogTraffic::All => "ALL",
                    dataplane::vpc::config::FlowLogTraffic::Accept => "ACCEPT",
                    dataplane::vpc::config::FlowLogTraffic::Reject => "REJECT",
                }
                .to_string(),
                duration_text(f.interval_ms),
                f.path.clone(),
                format,
            ]
        })
        .collect();
    section(
        "Flow logs (one record per flow, ENI and aggregation interval, appended to a file on vpcd's host)",
        &[
            "ID",
            "SCOPE",
            "ENIS",
            "TRAFFIC",
            "INTERVAL",
            "DESTINATION",
            "FORMAT",
        ],
        &rows,
    )
}

/// A duration in milliseconds as `350s` or `1.5s` (whole seconds without a fraction).
fn duration_text(ms: u64) -> String {
    let (secs, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("{secs}s")
    } else {
        let frac = format!("{frac:03}");
        format!("{secs}.{}s", frac.trim_end_matches('0'))
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
                s.network_acl.map_or_else(
                    || "-".to_string(),
                    |n| {
                        c.network_acls
                            .get(n as usize)
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

    out.push_str(&internet_gateways(c, &report.uplinks));
    out.push_str(&nat_gateways(c, &report.nat_gateways));
    out.push_str(&peering_connections(c));
    out.push_str(&flow_logs(c));
    out.push_str(&packet_captures(c, &report.captures));
    out.push_str(&mirror_sessions(c, &report.mirror_sessions));

    out.push_str("\nNetwork ACLs (stateless; lowest rule number first, first match wins)\n");
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
            vpc_id(n.vpc),
            ids_or_dash(users)
        );
        let dual = c
            .vpcs
            .get(n.vpc as usize)
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

    out.push_str("\nSecurity groups (stateful; allow rules of all of an ENI's groups)\n");
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
            vpc_id(g.vpc),
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
            let (tap, rx, tx, conns, drops) = match port {
                Some(p) => (
                    p.tap.clone().unwrap_or_else(|| "-".to_string()),
                    format!("{}/{}", p.counters.rx_packets, p.counters.rx_bytes),
                    format!("{}/{}", p.counters.tx_packets, p.counters.tx_bytes),
                    format!(
                        "{}/{}",
                        p.counters.conntrack_entries, p.counters.conntrack_max
                    ),
                    drops_text(&p.counters.drop_map()),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
            };
            let public: Vec<String> = c
                .internet_gateways
                .iter()
                .flat_map(|g| &g.mappings)
                .filter(|m| m.target == MappingTarget::Eni(idx32(i)))
                .map(|m| m.public.to_string())
                .collect();
            let groups = e.security_groups.as_ref().map_or_else(
                || "-".to_string(),
                |gs| {
                    gs.iter()
                        .map(|&g| {
                            c.security_groups
                                .get(g as usize)
                                .map_or_else(|| format!("sg#{g}?"), |s| s.id.clone())
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                },
            );
            vec![
                e.id.clone(),
                c.subnets
                    .get(e.subnet as usize)
                    .map_or_else(|| format!("subnet#{}?", e.subnet), |s| s.id.clone()),
                groups,
                ips,
                ids_or_dash(public).replace(", ", ","),
                e.mac.to_string(),
                if e.source_dest_check { "on" } else { "off" }.to_string(),
                e.attachment
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |a| format!("{}/{}", a.netns, a.ifname)),
                tap,
                rx,
                tx,
                conns,
                drops,
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "ID",
            "SUBNET",
            "SECURITY GROUPS",
            "IPS",
            "PUBLIC IP",
            "MAC",
            "SRC/DST CHECK",
            "NETNS/IFNAME",
            "TAP",
            "RX PKTS/BYTES",
            "TX PKTS/BYTES",
            "CONNTRACK",
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
        "\nEngine\nflow hits {}, misses {}, evicted {}, stale reclaimed {}, cached flows {}, batches {}\ndrops: {}",
        e.flow_hits,
        e.flow_misses,
        e.flow_evicted,
        e.flow_stale_reclaimed,
        e.flows,
        e.batches,
        drops_text(&engine_drops)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::observe::stats::{EniReport, NaclDenyReport, PortCounters};

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
        assert_eq!(
            summary(&c.config),
            "1 VPC, 1 subnet, 2 route tables, 1 ENI, 1 network ACL, 1 security group"
        );
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
        let mut engine = dataplane::observe::stats::EngineCounters {
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
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
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
    fn show_lists_internet_gateways_and_public_ips() {
        let topo = format!(
            "{TOPO}
            [[eni]]
            id = \"eni-b\"
            subnet = \"subnet-a\"
            private_ip = \"10.0.1.11\"
            secondary_ips = [\"10.0.1.12\"]
            public_ip = \"198.51.100.41\"
            [[internet_gateway]]
            id = \"igw-a\"
            vpc = \"vpc-demo\"
            internet = {{ netns = \"inet\", cidr = \"203.0.113.0/24\", gateway = \"203.0.113.1\", hosts = [\"203.0.113.5\", \"203.0.113.6\"] }}
            [[elastic_ip]]
            id = \"eipalloc-a\"
            public_ip = \"198.51.100.40\"
            eni = \"eni-a\"
            [[elastic_ip]]
            id = \"eipalloc-b\"
            public_ip = \"198.51.100.42\"
            eni = \"eni-b\"
            private_ip = \"10.0.1.12\"
            "
        );
        let c = crate::compile_str(&topo).unwrap();
        assert!(summary(&c.config).ends_with(", 1 internet gateway"));
        let report = StatsReport {
            epoch: 1,
            config: c.config,
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        };
        let text = show(&report);
        for needle in [
            "Internet gateways",
            "igw-a (vpc-demo), mac 0a:",
            "  uplink: inet/eth0, outside 203.0.113.0/24, gateway 203.0.113.1, hosts 203.0.113.5, 203.0.113.6, host mac 0e:",
            ", mtu 1500",
            "  PUBLIC         ENI    PRIVATE    SOURCE",
            "  198.51.100.40  eni-a  10.0.1.10  eipalloc-a",
            "  198.51.100.42  eni-b  10.0.1.12  eipalloc-b",
            "  198.51.100.41  eni-b  10.0.1.11  public_ip",
            "PUBLIC IP",
            "10.0.1.11,10.0.1.12  198.51.100.42,198.51.100.41  ",
            "10.0.1.10            198.51.100.40                ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let plain = show(&StatsReport {
            epoch: 1,
            config: crate::compile_str(TOPO).unwrap().config,
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        });
        assert!(
            plain.contains("Internet gateways (1:1 NAT between public and private IPv4)\nnone\n")
        );
    }

    #[test]
    fn table_pads_columns() {
        let t = table(&["A", "B"], &[vec!["long".into(), "x".into()]]);
        assert_eq!(t, "A     B\nlong  x\n");
    }

    const FIREWALLS: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-demo"
        cidr = "10.0.2.0/24"
        [[prefix_list]]
        id = "pl-admins"
        entries = ["203.0.113.0/24", "198.51.100.7/32"]
        [[network_acl]]
        id = "acl-b"
        vpc = "vpc-demo"
        subnets = ["subnet-b"]
        inbound = [
          { rule = 100, protocol = "-1", cidr = "10.0.0.0/16", action = "allow" },
          { rule = 90, protocol = "tcp", ports = "23", cidr = "0.0.0.0/0", action = "deny" },
          { rule = 120, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr = "0.0.0.0/0", action = "allow" },
        ]
        [[security_group]]
        id = "sg-web"
        vpc = "vpc-demo"
        inbound = [
          { protocol = "tcp", ports = "80", source = "0.0.0.0/0" },
          { protocol = "-1", source = "sg-web" },
          { protocol = "tcp", ports = "22", source = "pl-admins" },
        ]
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-web"]
        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
    "#;

    #[test]
    fn show_lists_nacls_and_security_groups() {
        let c = crate::compile_str(FIREWALLS).unwrap();
        let report = StatsReport {
            epoch: 1,
            config: c.config,
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![
                NaclDenyReport {
                    nacl: "acl-b".into(),
                    direction: "inbound".into(),
                    rule: "90".into(),
                    packets: 7,
                },
                NaclDenyReport {
                    nacl: "acl-b".into(),
                    direction: "outbound".into(),
                    rule: "*".into(),
                    packets: 3,
                },
            ],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        };
        let text = show(&report);
        let pos = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("missing {needle:?} in\n{text}"))
        };
        // Subnet and ENI columns.
        assert!(
            text.contains("subnet-a  vpc-demo  10.0.1.0/24  rtb-main-demo  acl-default-demo"),
            "{text}"
        );
        assert!(
            text.contains("subnet-b  vpc-demo  10.0.2.0/24  rtb-main-demo  acl-b "),
            "{text}"
        );
        assert!(text.contains("eni-a  subnet-a  sg-web "), "{text}");
        assert!(text.contains("eni-b  subnet-b  sg-default-demo "), "{text}");
        // NACL entries sorted by rule number, then the `*` deny.
        pos("acl-b (vpc-demo), subnets: subnet-b");
        pos("acl-default-demo (vpc-demo), subnets: subnet-a");
        let r90 = pos("    90    tcp       23             0.0.0.0/0    DENY    7");
        let r100 = pos("    100   all       all            10.0.0.0/16  ALLOW   -");
        let r120 = pos("    120   icmp      type 3 code 4  0.0.0.0/0    ALLOW   -");
        let star = pos("    *     all       all            0.0.0.0/0    DENY    0");
        assert!(r90 < r100 && r100 < r120 && r120 < star, "{text}");
        pos("    *     all       all    0.0.0.0/0  DENY    3");
        // Security groups with their members and resolved peers.
        pos("sg-web (vpc-demo), members: eni-a");
        pos("sg-default-demo (vpc-demo), members: eni-b");
        pos("    tcp       22     pl-admins (2 entries)");
        pos("    all       all    sg-web");
        pos("    all       all    sg-default-demo");
        pos("    all       all    0.0.0.0/0");
    }

    /// TOPO plus a public subnet with a public NAT gateway (two addresses) that subnet-a
    /// uses, and a private NAT gateway.
    fn nat_topology() -> String {
        TOPO.replace(
            "routes = [{ destination = \"0.0.0.0/0\", target = \"eni-a\" }]",
            "routes = [{ destination = \"0.0.0.0/0\", target = \"nat-a\" }]",
        ) + r#"
        [lab]
        nat_gateway_idle_timeout = 1.5
        [[subnet]]
        id = "subnet-pub"
        vpc = "vpc-demo"
        cidr = "10.0.0.0/24"
        route_table = "rtb-pub"
        [[route_table]]
        id = "rtb-pub"
        vpc = "vpc-demo"
        routes = [{ destination = "0.0.0.0/0", target = "igw-a" }]
        [[internet_gateway]]
        id = "igw-a"
        vpc = "vpc-demo"
        [[eni]]
        id = "eni-pub"
        subnet = "subnet-pub"
        private_ip = "10.0.0.40"
        public_ip = "198.51.100.40"
        [[nat_gateway]]
        id = "nat-a"
        subnet = "subnet-pub"
        allocation_id = "eipalloc-nat"
        private_ip = "10.0.0.220"
        secondary_private_ips = ["10.0.0.221"]
        secondary_allocation_ids = ["eipalloc-nat2"]
        [[nat_gateway]]
        id = "nat-p"
        subnet = "subnet-a"
        connectivity = "private"
        [[elastic_ip]]
        id = "eipalloc-nat"
        public_ip = "198.51.100.7"
        [[elastic_ip]]
        id = "eipalloc-nat2"
        public_ip = "198.51.100.8"
        "#
    }

    #[test]
    fn show_lists_nat_gateways_with_their_metrics() {
        let c = crate::compile_str(&nat_topology()).unwrap();
        assert!(
            summary(&c.config).ends_with(", 1 internet gateway, 2 NAT gateways"),
            "{}",
            summary(&c.config)
        );
        let report = StatsReport {
            epoch: 1,
            config: c.config,
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![NatGatewayReport {
                id: "nat-a".into(),
                metrics: dataplane::observe::stats::NatMetrics {
                    active_connection_count: 3,
                    translations: 5,
                    connection_attempt_count: 10,
                    connection_established_count: 9,
                    error_port_allocation: 2,
                    idle_timeout_count: 1,
                    packets_drop_count: 4,
                    resets_sent: 6,
                    packets_in_from_source: 100,
                    bytes_in_from_source: 8000,
                    packets_out_to_destination: 99,
                    bytes_out_to_destination: 7900,
                    packets_in_from_destination: 80,
                    bytes_in_from_destination: 120_000,
                    packets_out_to_source: 79,
                    bytes_out_to_source: 119_000,
                },
            }],
            captures: vec![],
            mirror_sessions: vec![],
        };
        let text = show(&report);
        for needle in [
            "0.0.0.0/0    → nat-a",
            // The internet gateway's table names the NAT gateway.
            "  PUBLIC         TARGET   PRIVATE     SOURCE",
            "  198.51.100.40  eni-pub  10.0.0.40   public_ip",
            "  198.51.100.7   nat-a    10.0.0.220  eipalloc-nat",
            "  198.51.100.8   nat-a    10.0.0.221  eipalloc-nat2",
            "\nNAT gateways (",
            "nat-a (vpc-demo), public, subnet subnet-pub, ports 1024-65535, idle timeout 1.5s, 55000 per address and destination, up to 1048576 translations\n",
            "  PRIVATE     ADDRESS    ELASTIC IP    ALLOCATION\n",
            "  10.0.0.220  primary    198.51.100.7  eipalloc-nat\n",
            "  10.0.0.221  secondary  198.51.100.8  eipalloc-nat2\n",
            "  ActiveConnectionCount 3, ConnectionAttemptCount 10, ConnectionEstablishedCount 9, ErrorPortAllocation 2, IdleTimeoutCount 1, PacketsDropCount 4 (translations 5, resets sent 6)\n",
            "  TRAFFIC            PACKETS  BYTES\n",
            "  InFromSource       100      8000\n",
            "  OutToDestination   99       7900\n",
            "  InFromDestination  80       120000\n",
            "  OutToSource        79       119000\n",
            "nat-p (vpc-demo), private, subnet subnet-a, ports 1024-65535, idle timeout 1.5s,",
            "  10.0.1.254  primary  -           -\n",
            "  metrics: not reported\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // eni-pub's public address is listed, not the NAT gateway's.
        assert!(text.contains("10.0.0.40  198.51.100.40  "), "{text}");
        // Without NAT gateways the section says so.
        let plain = show(&StatsReport {
            epoch: 1,
            config: crate::compile_str(TOPO).unwrap().config,
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        });
        assert!(plain.contains("\nNAT gateways ("), "{plain}");
        assert!(
            plain.contains("Elastic IPs at the internet gateway)\nnone\n"),
            "{plain}"
        );
    }

    /// Two peered VPCs (and a pending peering with a third), routes both ways, a group of
    /// one VPC that references a group of the other, and a fourth VPC that overlaps the
    /// second (not peered).
    const PEERED: &str = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        secondary_cidrs = ["10.50.0.0/16"]
        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"
        [[vpc]]
        id = "vpc-c"
        cidr = "10.2.0.0/16"
        [[vpc]]
        id = "vpc-d"
        cidr = "10.1.0.0/16"
        [[peering_connection]]
        id = "pcx-ab"
        requester_vpc = "vpc-a"
        accepter_vpc = "vpc-b"
        [[peering_connection]]
        id = "pcx-ac"
        requester_vpc = "vpc-a"
        accepter_vpc = "vpc-c"
        status = "pending-acceptance"
        [[route_table]]
        id = "rtb-a"
        vpc = "vpc-a"
        main = true
        routes = [
          { destination = "10.1.0.0/16", target = "pcx-ab" },
          { destination = "10.2.0.0/16", target = "pcx-ac" },
        ]
        [[route_table]]
        id = "rtb-b"
        vpc = "vpc-b"
        main = true
        routes = [{ destination = "10.0.0.0/16", target = "pcx-ab" }]
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-b"
        cidr = "10.1.1.0/24"
        [[subnet]]
        id = "subnet-d"
        vpc = "vpc-d"
        cidr = "10.1.1.0/24"
        [[security_group]]
        id = "sg-b"
        vpc = "vpc-b"
        inbound = [{ protocol = "tcp", ports = 80, source = "sg-a" }]
        [[security_group]]
        id = "sg-a"
        vpc = "vpc-a"
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-a"]
        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.1.1.10"
        security_groups = ["sg-b"]
        [[eni]]
        id = "eni-d"
        subnet = "subnet-d"
        private_ip = "10.1.1.10"
    "#;

    fn bare_report(config: DataplaneConfig) -> StatsReport {
        StatsReport {
            epoch: 1,
            config,
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        }
    }

    #[test]
    fn show_lists_peering_connections_and_several_vpcs() {
        let c = crate::compile_str(PEERED).unwrap();
        assert_eq!(
            summary(&c.config),
            "4 VPCs, 3 subnets, 4 route tables, 3 ENIs, 4 network ACLs, 6 security groups, 2 peering connections"
        );
        let text = show(&bare_report(c.config.clone()));
        for needle in [
            // Every VPC, the overlapping ones included.
            "vpc-a  10.0.0.0/16, 10.50.0.0/16\n",
            "vpc-b  10.1.0.0/16\n",
            "vpc-d  10.1.0.0/16\n",
            "subnet-b  vpc-b  10.1.1.0/24",
            "subnet-d  vpc-d  10.1.1.0/24",
            // Route targets name the peering; a pending one says what it does.
            "rtb-a (vpc-a)\n",
            "  10.1.0.0/16   → pcx-ab\n",
            "  10.2.0.0/16   → pcx-ac (pending-acceptance: blackhole)\n",
            "rtb-b (vpc-b)\n  10.1.0.0/16  → local\n  10.0.0.0/16  → pcx-ab\n",
            // The section.
            "\nPeering connections (traffic crosses only between the two VPCs' own CIDRs: no transitive or edge-to-edge routing; routes to a pending one are blackholes)\n",
            "ID      REQUESTER                          ACCEPTER             STATUS\n",
            "pcx-ab  vpc-a (10.0.0.0/16, 10.50.0.0/16)  vpc-b (10.1.0.0/16)  active\n",
            "pcx-ac  vpc-a (10.0.0.0/16, 10.50.0.0/16)  vpc-c (10.2.0.0/16)  pending-acceptance\n",
            // A group of vpc-b whose rule names a group of vpc-a.
            "sg-b (vpc-b), members: eni-b\n",
            // (a group of another VPC is named with its VPC).
            "    tcp       80     sg-a (vpc-a)\n",
            // The ENIs of the overlapping VPCs, told apart by their subnets.
            "eni-b  subnet-b",
            "eni-d  subnet-d",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // The section comes after the NAT gateways and before the network ACLs.
        let at = |n: &str| text.find(n).unwrap();
        assert!(at("\nNAT gateways (") < at("\nPeering connections ("));
        assert!(at("\nPeering connections (") < at("\nNetwork ACLs ("));
        // JSON carries the peerings as the data plane has them.
        let json = serde_json::to_value(bare_report(c.config)).unwrap();
        assert_eq!(
            json["config"]["peerings"][1],
            serde_json::json!({ "id": "pcx-ac", "requester": 0, "accepter": 2, "active": false })
        );
        // Without peerings the section says so and the summary does not mention them.
        let plain = crate::compile_str(TOPO).unwrap().config;
        assert!(!summary(&plain).contains("peering"));
        assert!(
            show(&bare_report(plain)).contains("routes to a pending one are blackholes)\nnone\n")
        );
    }

    #[test]
    fn durations_print_as_seconds() {
        assert_eq!(duration_text(350_000), "350s");
        assert_eq!(duration_text(1_500), "1.5s");
        assert_eq!(duration_text(1), "0.001s");
        assert_eq!(duration_text(0), "0s");
    }

    #[test]
    fn show_lists_flow_logs_with_scope_traffic_interval_destination_and_format() {
        let dir = std::env::temp_dir();
        let dest = |n: &str| {
            dir.join(format!("vpcctl-render-{n}.log"))
                .display()
                .to_string()
        };
        let src = format!(
            r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            [[subnet]]
            id = "subnet-a"
            vpc = "vpc-a"
            cidr = "10.0.1.0/24"
            [[subnet]]
            id = "subnet-b"
            vpc = "vpc-a"
            cidr = "10.0.2.0/24"
            [[eni]]
            id = "eni-a1"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            [[eni]]
            id = "eni-a2"
            subnet = "subnet-a"
            private_ip = "10.0.1.20"
            [[eni]]
            id = "eni-b1"
            subnet = "subnet-b"
            private_ip = "10.0.2.10"
            [[flow_log]]
            id = "fl-vpc"
            resource = "vpc-a"
            traffic_type = "ALL"
            log_destination = "{}"
            [[flow_log]]
            id = "fl-sub"
            resource = "subnet-a"
            traffic_type = "REJECT"
            max_aggregation_interval = 60
            log_destination = "{}"
            log_format = "${{version}} ${{srcaddr}} ${{flow-direction}}"
            [[flow_log]]
            id = "fl-eni"
            resource = "eni-b1"
            traffic_type = "accept"
            log_destination = "{}"
            [lab]
            flow_log_interval = 1.5
            "#,
            dest("vpc"),
            dest("sub"),
            dest("eni"),
        );
        let c = crate::compile_str(&src).unwrap().config;
        assert!(summary(&c).ends_with(", 3 flow logs"), "{}", summary(&c));
        let text = show(&bare_report(c.clone()));
        let section = flow_logs(&c);
        assert!(text.contains(&section), "{text}");
        let lines: Vec<&str> = section.lines().collect();
        assert!(
            lines[1].starts_with("Flow logs (one record per flow, ENI and aggregation interval"),
            "{section}"
        );
        let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            cells(lines[2]),
            [
                "ID",
                "SCOPE",
                "ENIS",
                "TRAFFIC",
                "INTERVAL",
                "DESTINATION",
                "FORMAT"
            ]
        );
        let row = |id: &str| {
            cells(
                lines
                    .iter()
                    .find(|l| l.starts_with(id))
                    .unwrap_or_else(|| panic!("no {id} in\n{section}")),
            )
        };
        assert_eq!(
            row("fl-vpc"),
            [
                "fl-vpc",
                "vpc-a",
                "eni-a1,eni-a2,eni-b1",
                "ALL",
                "1.5s",
                &dest("vpc"),
                "v2",
                "default"
            ]
        );
        assert_eq!(
            row("fl-sub"),
            [
                "fl-sub",
                "subnet-a",
                "eni-a1,eni-a2",
                "REJECT",
                "1.5s",
                &dest("sub"),
                "v5",
                "custom",
                "(3",
                "fields)"
            ]
        );
        assert_eq!(
            row("fl-eni"),
            [
                "fl-eni",
                "eni-b1",
                "eni-b1",
                "ACCEPT",
                "1.5s",
                &dest("eni"),
                "v2",
                "default"
            ]
        );
        // Without flow logs the section says so and the summary does not mention them.
        let plain = crate::compile_str(TOPO).unwrap().config;
        assert!(!summary(&plain).contains("flow log"));
        assert!(flow_logs(&plain).ends_with("file on vpcd's host)\nnone\n"));
        // A subnet with one ENI shows as that ENI; ENIs matching no resource are counted.
        let mut c = c;
        c.flow_logs[0].enis = vec![0, 2];
        c.flow_logs[1].enis = vec![];
        assert_eq!(flow_log_scope(&c, &c.flow_logs[0].enis), "2 ENIs");
        assert_eq!(flow_log_scope(&c, &[]), "- (no ENIs)");
        assert_eq!(flow_log_scope(&c, &[2]), "eni-b1");
    }
}
