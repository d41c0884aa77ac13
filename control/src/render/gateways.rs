//! The `Internet gateways` and `NAT gateways` sections of `vpcctl show`.

use std::fmt::Write as _;

use dataplane::observe::stats::{NatGatewayReport, UplinkReport};
use dataplane::vpc::config::{DataplaneConfig, MappingTarget, Neighbour, Outside};

use super::names::mapping_target_name;
use super::text::{drops_text, duration_text, ids_or_dash, idx32, indent, table};

/// The internet hosts (and other gateways) on the segment as seen by one gateway: one
/// line per holder with its addresses and MAC.
fn internet_hosts(neighbours: &[Neighbour]) -> String {
    if neighbours.is_empty() {
        return "  internet hosts: none (what it sends leaves on the segment and is lost)\n"
            .to_string();
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for n in neighbours {
        match rows.iter_mut().find(|r| r[0] == n.holder) {
            Some(r) => r[1] = format!("{}, {}", r[1], n.ip),
            None => rows.push(vec![n.holder.clone(), n.ip.to_string(), n.mac.to_string()]),
        }
    }
    let mut out = String::from("  on the segment:\n");
    out.push_str(&indent(&table(&["HOST", "ADDRESSES", "MAC"], &rows), 4));
    out
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
            .get(g.vpc.idx())
            .map_or_else(|| format!("vpc#{}?", g.vpc), |v| v.id.clone());
        let _ = writeln!(out, "{} ({vpc}), mac {}", g.id, g.mac);
        match &g.uplink {
            Some(u) => match &u.outside {
                Outside::Namespace {
                    cidr,
                    gateway_ip,
                    hosts,
                } => {
                    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
                    let _ = writeln!(
                        out,
                        "  uplink: {}/{}, outside {cidr}, gateway {gateway_ip}, hosts {}, host mac {}, mtu {}",
                        u.attachment.netns,
                        u.attachment.ifname,
                        ids_or_dash(hosts),
                        u.host_mac,
                        u.mtu
                    );
                }
                Outside::Segment { bridge, neighbours } => {
                    let _ = writeln!(
                        out,
                        "  uplink: internet segment {}/{} (bridge {bridge}), mtu {}",
                        u.attachment.netns, u.attachment.ifname, u.mtu
                    );
                    out.push_str(&internet_hosts(neighbours));
                }
            },
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
        let subnet = c.subnets.get(n.subnet.idx());
        let vpc = subnet
            .and_then(|s| c.vpcs.get(s.vpc.idx()))
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
