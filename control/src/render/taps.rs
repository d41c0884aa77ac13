//! The `Packet captures` and `Traffic mirror sessions` sections of `vpcctl show`.

use std::fmt::Write as _;

use dataplane::observe::capture::CaptureReport;
use dataplane::observe::mirror::MirrorSessionReport;
use dataplane::vpc::config::{CaptureFilter, DataplaneConfig, MirrorRule, PortRange, Protocol};

use super::names::{eni_name, protocol_name};
use super::text::{indent, section, table};

/// A capture filter in tcpdump's words: `tcp and net 10.0.2.0/24 and port 80`; `-` for
/// none.
pub fn capture_filter_text(f: Option<&CaptureFilter>) -> String {
    let Some(f) = f else { return "-".into() };
    let mut parts = Vec::new();
    if let Some(p) = f.protocol {
        parts.push(protocol_name(Protocol::Number(p)));
    }
    if let Some(h) = f.host {
        let full = matches!(h, ipnet::IpNet::V4(n) if n.prefix_len() == 32)
            || matches!(h, ipnet::IpNet::V6(n) if n.prefix_len() == 128);
        parts.push(if full {
            format!("host {}", h.addr())
        } else {
            format!("net {h}")
        });
    }
    if let Some(p) = f.port {
        parts.push(format!("port {p}"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" and ")
    }
}

/// The `Packet captures` section: each capture with its ENI, file, snap length, filter and
/// what it wrote (from `reports`), or why it stopped.
pub fn packet_captures(c: &DataplaneConfig, reports: &[CaptureReport]) -> String {
    let rows: Vec<Vec<String>> = c
        .captures
        .iter()
        .enumerate()
        .map(|(i, cap)| {
            let r = reports
                .get(i)
                .filter(|r| r.id == cap.id)
                .or_else(|| reports.iter().find(|r| r.id == cap.id));
            let (packets, bytes, status) = match r {
                Some(r) => (
                    r.packets.to_string(),
                    r.bytes.to_string(),
                    r.error
                        .as_ref()
                        .map_or_else(|| "writing".to_string(), |e| format!("stopped: {e}")),
                ),
                None => ("-".into(), "-".into(), "not reported".into()),
            };
            vec![
                cap.id.clone(),
                eni_name(c, cap.eni),
                cap.path.clone(),
                cap.snaplen.to_string(),
                capture_filter_text(cap.filter.as_ref()),
                packets,
                bytes,
                status,
            ]
        })
        .collect();
    section(
        "Packet captures (pcap files on vpcd's host: what the ENI sends and receives)",
        &[
            "ID", "ENI", "FILE", "SNAPLEN", "FILTER", "PACKETS", "BYTES", "STATUS",
        ],
        &rows,
    )
}

fn ports(p: Option<PortRange>) -> String {
    match p {
        None => "all".into(),
        Some(r) if r.from == r.to => r.from.to_string(),
        Some(r) => format!("{}-{}", r.from, r.to),
    }
}

/// One direction of a session's filter as a table, by rule number.
fn mirror_rules(rules: &[MirrorRule]) -> String {
    let mut sorted: Vec<&MirrorRule> = rules.iter().collect();
    sorted.sort_by_key(|r| r.rule_number);
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|r| {
            vec![
                r.rule_number.to_string(),
                if r.accept { "ACCEPT" } else { "REJECT" }.to_string(),
                protocol_name(r.protocol),
                r.source.to_string(),
                ports(r.source_ports),
                r.destination.to_string(),
                ports(r.destination_ports),
            ]
        })
        .collect();
    table(
        &[
            "RULE",
            "ACTION",
            "PROTOCOL",
            "SOURCE",
            "SRC PORTS",
            "DESTINATION",
            "DST PORTS",
        ],
        &rows,
    )
}

/// The `Traffic mirror sessions` section: each session with its source, target, number,
/// VNI, packet length and counters (from `reports`), then its filter's rules per
/// direction.
pub fn mirror_sessions(c: &DataplaneConfig, reports: &[MirrorSessionReport]) -> String {
    let mut out = String::from(
        "\nTraffic mirror sessions (VXLAN, UDP 4789, to the target ENI; per source, the lowest session number whose filter accepts a packet mirrors it)\n",
    );
    if c.mirror_sessions.is_empty() {
        out.push_str("none\n");
        return out;
    }
    for (i, s) in c.mirror_sessions.iter().enumerate() {
        let r = reports
            .get(i)
            .filter(|r| r.id == s.id)
            .or_else(|| reports.iter().find(|r| r.id == s.id));
        let _ = writeln!(
            out,
            "{}: {} → {}, session number {}, VNI {}, packet length {}",
            s.id,
            eni_name(c, s.source),
            eni_name(c, s.target),
            s.session_number,
            s.vni,
            s.packet_length
                .map_or_else(|| "whole packet".to_string(), |n| n.to_string()),
        );
        match r {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "  mirrored {} packets ({} bytes), truncated {}, dropped {}",
                    r.packets, r.bytes, r.truncated, r.dropped
                );
            }
            None => out.push_str("  counters: not reported\n"),
        }
        for (dir, rules) in [("inbound", &s.inbound), ("outbound", &s.outbound)] {
            if rules.is_empty() {
                let _ = writeln!(out, "  {dir}: no rules (nothing mirrored)");
            } else {
                let _ = writeln!(out, "  {dir}:");
                out.push_str(&indent(&mirror_rules(rules), 4));
            }
        }
    }
    out
}
