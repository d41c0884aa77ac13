//! Every counter of a [`StatsReport`] as Prometheus text (exposition format 0.0.4), for
//! `vpcd --metrics ADDR` (see [`crate::daemon::metrics_http`]) and `vpcctl stats`.
//!
//! Rendering works on a report, a copy the forwarding thread takes between batches, so
//! the fast path never formats anything: it only bumps the integers the report copies.
//!
//! Families (labels in braces; counters end in `_total`, the rest are gauges):
//!
//! ```text
//! vpcd_config_epoch                                      running configuration epoch
//! vpcd_eni_{rx,tx}_{packets,bytes}_total{eni}             ENI port traffic
//! vpcd_eni_{arp_replies,arp_ignored,icmp_echo_replies}_total{eni}
//! vpcd_eni_drops_total{eni,reason}                        every reason, zeros included
//! vpcd_eni_conntrack_entries{eni}, vpcd_eni_conntrack_max{eni}
//! vpcd_eni_attached{eni}                                  1 when the ENI has a port
//! vpcd_uplink_…{igw}                                      the same for internet gateways' uplinks
//! vpcd_nat_gateway_…{nat_gateway}                         the AWS/NATGateway metrics
//! vpcd_flow_cache_{hits,misses,evictions,stale_reclaimed}_total, vpcd_flow_cache_flows
//! vpcd_batches_total, vpcd_drops_total{reason}            engine-wide
//! vpcd_{flow_log_records,capture_packets}_dropped_total   the file writer's queue was full
//! vpcd_nacl_rule_denies_total{nacl,direction,rule}        rules that denied, this epoch
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::observe::stats::{EngineCounters, NatMetrics, PortCounters, StatsReport};
use crate::vpc::verdict::DropReason;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (reset when vpcd restarts, or per epoch where the help says so).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    /// The name in a `# TYPE` line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One series: its labels (name, value) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Label names and values, in output order.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: u64,
}

/// A metric family: name, help, type and its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The metric name (counters end in `_total`).
    pub name: String,
    /// The `# HELP` text.
    pub help: String,
    /// Counter or gauge.
    pub kind: Kind,
    /// The series.
    pub samples: Vec<Sample>,
}

impl Family {
    fn new(name: impl Into<String>, kind: Kind, help: impl Into<String>) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Vec<(&'static str, String)>, value: u64) {
        self.samples.push(Sample { labels, value });
    }
}

/// The plain counters of a port: (name after `vpcd_eni_`/`vpcd_uplink_`, help for an ENI,
/// help for an uplink, value). Destructured in full so that a new field fails to compile
/// here until it is exported.
fn port_counters(c: &PortCounters) -> [(&'static str, &'static str, &'static str, u64); 7] {
    let PortCounters {
        rx_packets,
        rx_bytes,
        tx_packets,
        tx_bytes,
        arp_replies,
        arp_ignored,
        icmp_echo_replies,
        drops: _,
        conntrack_entries: _,
        conntrack_max: _,
    } = c;
    [
        (
            "rx_packets_total",
            "Frames read from the instance on the ENI's port.",
            "Frames read from the internet side on the internet gateway's uplink.",
            *rx_packets,
        ),
        (
            "rx_bytes_total",
            "Bytes read from the instance (Ethernet frames; super-frames counted whole).",
            "Bytes read from the internet side (Ethernet frames; super-frames counted whole).",
            *rx_bytes,
        ),
        (
            "tx_packets_total",
            "Frames written to the instance.",
            "Frames written to the internet side.",
            *tx_packets,
        ),
        (
            "tx_bytes_total",
            "Bytes written to the instance.",
            "Bytes written to the internet side.",
            *tx_bytes,
        ),
        (
            "arp_replies_total",
            "ARP requests the VPC router answered for the ENI.",
            "ARP requests the internet gateway answered on its uplink.",
            *arp_replies,
        ),
        (
            "arp_ignored_total",
            "ARP frames the VPC router ignored (gratuitous, replies, foreign addresses).",
            "ARP frames the internet gateway ignored on its uplink.",
            *arp_ignored,
        ),
        (
            "icmp_echo_replies_total",
            "ICMP echo requests to the VPC router that it answered.",
            "ICMP echo requests to the internet gateway that it answered.",
            *icmp_echo_replies,
        ),
    ]
}

/// The NAT gateway metrics: (name after `vpcd_nat_gateway_`, kind, help, value), named
/// after CloudWatch's `AWS/NATGateway` metrics. Destructured in full so that a new field
/// fails to compile here until it is exported.
fn nat_metrics(m: &NatMetrics) -> [(&'static str, Kind, &'static str, u64); 16] {
    let NatMetrics {
        active_connection_count,
        translations,
        connection_attempt_count,
        connection_established_count,
        error_port_allocation,
        idle_timeout_count,
        packets_drop_count,
        resets_sent,
        packets_in_from_source,
        bytes_in_from_source,
        packets_out_to_destination,
        bytes_out_to_destination,
        packets_in_from_destination,
        bytes_in_from_destination,
        packets_out_to_source,
        bytes_out_to_source,
    } = m;
    use Kind::{Counter, Gauge};
    [
        (
            "active_connections",
            Gauge,
            "TCP translations open now (ActiveConnectionCount).",
            *active_connection_count,
        ),
        (
            "translations",
            Gauge,
            "Translations of every protocol held now.",
            *translations,
        ),
        (
            "connection_attempts_total",
            Counter,
            "New translations opened from inside (ConnectionAttemptCount).",
            *connection_attempt_count,
        ),
        (
            "connections_established_total",
            Counter,
            "TCP translations that saw the destination's SYN-ACK (ConnectionEstablishedCount).",
            *connection_established_count,
        ),
        (
            "port_allocation_errors_total",
            Counter,
            "New connections refused for want of a free source port towards their destination (ErrorPortAllocation).",
            *error_port_allocation,
        ),
        (
            "idle_timeouts_total",
            Counter,
            "Translations that ended idle (IdleTimeoutCount).",
            *idle_timeout_count,
        ),
        (
            "packets_dropped_total",
            Counter,
            "Packets the NAT gateway dropped (PacketsDropCount).",
            *packets_drop_count,
        ),
        (
            "resets_sent_total",
            Counter,
            "TCP packets from inside without a translation, answered with a RST.",
            *resets_sent,
        ),
        (
            "packets_in_from_source_total",
            Counter,
            "Packets from the inside hosts (PacketsInFromSource).",
            *packets_in_from_source,
        ),
        (
            "bytes_in_from_source_total",
            Counter,
            "Bytes from the inside hosts (BytesInFromSource).",
            *bytes_in_from_source,
        ),
        (
            "packets_out_to_destination_total",
            Counter,
            "Packets sent on towards destinations (PacketsOutToDestination).",
            *packets_out_to_destination,
        ),
        (
            "bytes_out_to_destination_total",
            Counter,
            "Bytes sent on towards destinations (BytesOutToDestination).",
            *bytes_out_to_destination,
        ),
        (
            "packets_in_from_destination_total",
            Counter,
            "Packets from destinations (PacketsInFromDestination).",
            *packets_in_from_destination,
        ),
        (
            "bytes_in_from_destination_total",
            Counter,
            "Bytes from destinations (BytesInFromDestination).",
            *bytes_in_from_destination,
        ),
        (
            "packets_out_to_source_total",
            Counter,
            "Packets sent back to the inside hosts (PacketsOutToSource).",
            *packets_out_to_source,
        ),
        (
            "bytes_out_to_source_total",
            Counter,
            "Bytes sent back to the inside hosts (BytesOutToSource).",
            *bytes_out_to_source,
        ),
    ]
}

/// Port families (`vpcd_eni_…` or `vpcd_uplink_…`) for `ports`: (id, attached, counters).
fn port_families<'a>(
    out: &mut Vec<Family>,
    prefix: &str,
    label: &'static str,
    uplink: bool,
    ports: impl Iterator<Item = (&'a str, bool, &'a PortCounters)> + Clone,
) {
    let template = port_counters(&PortCounters::default());
    for (k, (name, eni_help, uplink_help, _)) in template.iter().enumerate() {
        let help = if uplink { uplink_help } else { eni_help };
        let mut f = Family::new(format!("{prefix}_{name}"), Kind::Counter, *help);
        for (id, _, c) in ports.clone() {
            f.push(vec![(label, id.to_string())], port_counters(c)[k].3);
        }
        out.push(f);
    }
    let mut f = Family::new(
        format!("{prefix}_drops_total"),
        Kind::Counter,
        if uplink {
            "Frames from the internet side dropped, by reason (every reason listed)."
        } else {
            "Frames dropped, by reason, charged to the ENI they came from or were going to (every reason listed)."
        },
    );
    for (id, _, c) in ports.clone() {
        for r in DropReason::ALL {
            f.push(
                vec![(label, id.to_string()), ("reason", r.name().to_string())],
                c.drops[r.index()],
            );
        }
    }
    out.push(f);
    if !uplink {
        let mut entries = Family::new(
            format!("{prefix}_conntrack_entries"),
            Kind::Gauge,
            "Connections the ENI tracks now.",
        );
        let mut max = Family::new(
            format!("{prefix}_conntrack_max"),
            Kind::Gauge,
            "The ENI's connection-table size (new connections beyond it are dropped).",
        );
        for (id, _, c) in ports.clone() {
            entries.push(vec![(label, id.to_string())], c.conntrack_entries);
            max.push(vec![(label, id.to_string())], c.conntrack_max);
        }
        out.push(entries);
        out.push(max);
    }
    let mut f = Family::new(
        format!("{prefix}_attached"),
        Kind::Gauge,
        if uplink {
            "1 when the internet gateway's uplink has a TAP in vpcd, else 0."
        } else {
            "1 when the ENI has a TAP in vpcd, else 0."
        },
    );
    for (id, attached, _) in ports {
        f.push(vec![(label, id.to_string())], u64::from(attached));
    }
    out.push(f);
}

/// Every metric family of `report`, in output order.
pub fn families(report: &StatsReport) -> Vec<Family> {
    let mut out = Vec::new();
    let mut epoch = Family::new(
        "vpcd_config_epoch",
        Kind::Gauge,
        "The running configuration epoch (goes up with every apply).",
    );
    epoch.push(Vec::new(), report.epoch);
    out.push(epoch);

    port_families(
        &mut out,
        "vpcd_eni",
        "eni",
        false,
        report
            .enis
            .iter()
            .map(|e| (e.id.as_str(), e.tap.is_some(), &e.counters)),
    );
    port_families(
        &mut out,
        "vpcd_uplink",
        "igw",
        true,
        report
            .uplinks
            .iter()
            .map(|u| (u.igw.as_str(), u.tap.is_some(), &u.counters)),
    );

    let template = nat_metrics(&NatMetrics::default());
    for (k, (name, kind, help, _)) in template.iter().enumerate() {
        let mut f = Family::new(format!("vpcd_nat_gateway_{name}"), *kind, *help);
        for g in &report.nat_gateways {
            f.push(
                vec![("nat_gateway", g.id.clone())],
                nat_metrics(&g.metrics)[k].3,
            );
        }
        out.push(f);
    }

    engine_families(&mut out, &report.engine);

    let mut f = Family::new(
        "vpcd_nacl_rule_denies_total",
        Kind::Counter,
        "Packets denied per network-ACL rule (rule \"*\" is the final deny); rules that denied at least one packet, counted since the last apply.",
    );
    for d in &report.nacl_denies {
        f.push(
            vec![
                ("nacl", d.nacl.clone()),
                ("direction", d.direction.clone()),
                ("rule", d.rule.clone()),
            ],
            d.packets,
        );
    }
    out.push(f);
    out
}

fn engine_families(out: &mut Vec<Family>, e: &EngineCounters) {
    let EngineCounters {
        flow_hits,
        flow_misses,
        flow_evicted,
        flow_stale_reclaimed,
        flows,
        batches,
        drops,
        flow_log_records_dropped,
        capture_packets_dropped,
    } = e;
    let single = |name: &str, kind, help: &str, v: u64| {
        let mut f = Family::new(name, kind, help);
        f.push(Vec::new(), v);
        f
    };
    out.push(single(
        "vpcd_flow_cache_hits_total",
        Kind::Counter,
        "Frames forwarded from the flow cache (fast path).",
        *flow_hits,
    ));
    out.push(single(
        "vpcd_flow_cache_misses_total",
        Kind::Counter,
        "Frames that took the slow path (flow-cache misses).",
        *flow_misses,
    ));
    out.push(single(
        "vpcd_flow_cache_evictions_total",
        Kind::Counter,
        "Flow-cache entries evicted to make room for a new flow (the cache was full).",
        *flow_evicted,
    ));
    out.push(single(
        "vpcd_flow_cache_stale_reclaimed_total",
        Kind::Counter,
        "Flow-cache entries of an older configuration epoch dropped.",
        *flow_stale_reclaimed,
    ));
    out.push(single(
        "vpcd_flow_cache_flows",
        Kind::Gauge,
        "Flows in the flow cache now.",
        *flows,
    ));
    out.push(single(
        "vpcd_batches_total",
        Kind::Counter,
        "Batches read (one per ready port per loop turn).",
        *batches,
    ));
    let mut f = Family::new(
        "vpcd_drops_total",
        Kind::Counter,
        "Frames dropped, by reason, all ports together (every reason listed).",
    );
    for r in DropReason::ALL {
        f.push(vec![("reason", r.name().to_string())], drops[r.index()]);
    }
    out.push(f);
    out.push(single(
        "vpcd_flow_log_records_dropped_total",
        Kind::Counter,
        "Flow-log records dropped because the file writer's queue was full.",
        *flow_log_records_dropped,
    ));
    out.push(single(
        "vpcd_capture_packets_dropped_total",
        Kind::Counter,
        "Captured packets dropped because the file writer's queue was full.",
        *capture_packets_dropped,
    ));
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label_value(s: &str) -> Cow<'_, str> {
    if !s.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    Cow::Owned(o)
}

/// Escapes `# HELP` text: backslash and line feed.
fn escape_help(s: &str) -> Cow<'_, str> {
    if !s.contains(['\\', '\n']) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace('\\', "\\\\").replace('\n', "\\n"))
}

fn write_sample(out: &mut String, name: &str, s: &Sample) {
    out.push_str(name);
    if !s.labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in s.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label_value(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", s.value);
}

/// The whole report as Prometheus text: `# HELP` and `# TYPE` per family, then its series.
pub fn render(report: &StatsReport) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for f in families(report) {
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.name());
        for s in &f.samples {
            write_sample(&mut out, &f.name, s);
        }
    }
    out
}

/// The series alone, one `name{labels} value` per line (for `vpcctl stats`). With
/// `eni`, only the series labelled with that ENI.
pub fn render_samples(report: &StatsReport, eni: Option<&str>) -> String {
    let mut out = String::new();
    for f in families(report) {
        for s in &f.samples {
            let keep = match eni {
                None => true,
                Some(id) => s.labels.iter().any(|(k, v)| *k == "eni" && v == id),
            };
            if keep {
                write_sample(&mut out, &f.name, s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use etherparse::PacketBuilder;

    use super::*;
    use crate::fixtures::{self, eni_mac, router_mac, A, B};
    use crate::observe::stats::{NaclDenyReport, NatGatewayReport};
    use crate::wire::vnet::VNET_HDR_LEN;

    /// A parsed sample line: name, labels, value.
    type Parsed = (String, Vec<(String, String)>, f64);

    fn is_name(s: &str, colon: bool) -> bool {
        let mut cs = s.chars();
        let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
        cs.next().is_some_and(first_ok)
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    }

    /// Parses `name{a="b",…} value`; panics with the line on a syntax error.
    fn parse_sample(line: &str) -> Parsed {
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line:?}"));
        let name = &line[..name_end];
        assert!(is_name(name, true), "metric name {name:?} in {line:?}");
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find('=').unwrap_or_else(|| panic!("{line:?}"));
                let lname = &rest[..eq];
                assert!(is_name(lname, false), "label name {lname:?} in {line:?}");
                assert!(!lname.starts_with("__"), "reserved label in {line:?}");
                rest = rest[eq + 1..]
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        Some((i, '"')) => break i,
                        Some((_, '\n')) => panic!("raw newline in {line:?}"),
                        Some((_, c)) => value.push(c),
                        None => panic!("unterminated label value in {line:?}"),
                    }
                };
                labels.push((lname.to_string(), value));
                rest = &rest[end + 1..];
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else {
                    assert!(rest.starts_with('}'), "expected , or }} in {line:?}");
                }
            }
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value in {line:?}"));
        assert!(!value.contains(' '), "timestamps are not used: {line:?}");
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value {value:?} in {line:?}"));
        (name.to_string(), labels, v)
    }

    /// Checks exposition-format rules line by line and returns every series
    /// (`name{sorted labels}` → value).
    fn validate(text: &str) -> BTreeMap<String, f64> {
        assert!(text.ends_with('\n'), "output ends with a newline");
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helps: HashSet<String> = HashSet::new();
        let mut finished: HashSet<String> = HashSet::new();
        let mut current: Option<String> = None;
        let mut series = BTreeMap::new();
        for line in text.lines() {
            assert!(!line.is_empty(), "no empty lines");
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                assert!(is_name(name, true), "{line:?}");
                assert!(!help.is_empty(), "empty help: {line:?}");
                assert!(helps.insert(name.to_string()), "second HELP: {line:?}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
                assert!(is_name(name, true), "{line:?}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line:?}"
                );
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "counter without _total: {line:?}");
                } else {
                    assert!(!name.ends_with("_total"), "gauge with _total: {line:?}");
                }
                assert!(
                    types.insert(name.to_string(), kind.to_string()).is_none(),
                    "second TYPE: {line:?}"
                );
                assert!(helps.contains(name), "TYPE before HELP: {line:?}");
                if let Some(prev) = current.replace(name.to_string()) {
                    finished.insert(prev);
                }
                continue;
            }
            assert!(!line.starts_with('#'), "stray comment {line:?}");
            let (name, mut labels, value) = parse_sample(line);
            assert_eq!(
                current.as_deref(),
                Some(name.as_str()),
                "sample outside its family (TYPE first, families contiguous): {line:?}"
            );
            assert!(!finished.contains(&name), "family split: {line:?}");
            assert!(value >= 0.0 && value.fract() == 0.0, "{line:?}");
            labels.sort();
            let n = labels.len();
            labels.dedup_by(|a, b| a.0 == b.0);
            assert_eq!(n, labels.len(), "duplicate label name: {line:?}");
            let key = format!(
                "{name}{{{}}}",
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            assert!(
                series.insert(key, value).is_none(),
                "duplicate series: {line:?}"
            );
        }
        series
    }

    fn get(series: &BTreeMap<String, f64>, key: &str) -> u64 {
        *series
            .get(key)
            .unwrap_or_else(|| panic!("no series {key}; have {:?}", series.keys())) as u64
    }

    fn ip(s: &str) -> [u8; 4] {
        s.parse::<std::net::Ipv4Addr>().unwrap().octets()
    }

    fn udp(src_mac: crate::wire::MacAddr, dst: &str) -> Vec<u8> {
        let mut v = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(src_mac.0, router_mac(0).0)
            .ipv4(ip("10.0.1.10"), ip(dst), 64)
            .udp(40000, 7)
            .write(&mut v, b"payload")
            .unwrap();
        v
    }

    #[test]
    fn report_of_a_running_data_plane_renders_valid_text_with_its_counters() {
        let mut dp =
            fixtures::mem_dataplane(fixtures::two_subnets_and_middlebox(), 64, true).unwrap();
        // A → B twice (a miss, then a flow-cache hit), and one to an address nobody owns.
        for _ in 0..2 {
            let mut f = udp(eni_mac(A), "10.0.2.20");
            dp.process(A, &mut f);
        }
        let mut f = udp(eni_mac(A), "10.0.7.7");
        dp.process(A, &mut f);
        let report = dp.report(|_| Some("tap0".into()));
        let text = render(&report);
        let s = validate(&text);

        let a = &report.enis[A as usize];
        let b = &report.enis[B as usize];
        assert_eq!(a.counters.rx_packets, 3);
        assert_eq!(get(&s, r#"vpcd_eni_rx_packets_total{eni="eni-0"}"#), 3);
        assert_eq!(
            get(&s, r#"vpcd_eni_rx_bytes_total{eni="eni-0"}"#),
            a.counters.rx_bytes
        );
        assert_eq!(get(&s, r#"vpcd_eni_tx_packets_total{eni="eni-2"}"#), 2);
        assert_eq!(
            get(&s, r#"vpcd_eni_tx_bytes_total{eni="eni-2"}"#),
            b.counters.tx_bytes
        );
        assert!(b.counters.tx_bytes > 0);
        let nobody = DropReason::NoEniForAddress.name();
        assert_eq!(
            get(
                &s,
                &format!(r#"vpcd_eni_drops_total{{eni="eni-0",reason="{nobody}"}}"#)
            ),
            1
        );
        assert_eq!(
            get(&s, &format!(r#"vpcd_drops_total{{reason="{nobody}"}}"#)),
            1
        );
        assert_eq!(
            get(&s, "vpcd_flow_cache_hits_total{}"),
            report.engine.flow_hits
        );
        assert_eq!(
            get(&s, "vpcd_flow_cache_misses_total{}"),
            report.engine.flow_misses
        );
        assert!(report.engine.flow_hits >= 1 && report.engine.flow_misses >= 1);
        assert_eq!(
            get(&s, "vpcd_flow_cache_evictions_total{}"),
            report.engine.flow_evicted
        );
        assert_eq!(
            get(&s, "vpcd_flow_cache_stale_reclaimed_total{}"),
            report.engine.flow_stale_reclaimed
        );
        assert_eq!(get(&s, "vpcd_flow_cache_flows{}"), report.engine.flows);
        assert_eq!(get(&s, "vpcd_config_epoch{}"), report.epoch);
        assert_eq!(get(&s, "vpcd_flow_log_records_dropped_total{}"), 0);
        assert_eq!(get(&s, "vpcd_capture_packets_dropped_total{}"), 0);
        assert!(text.contains("# TYPE vpcd_capture_packets_dropped_total counter\n"));
        assert_eq!(
            get(&s, r#"vpcd_eni_conntrack_max{eni="eni-0"}"#),
            a.counters.conntrack_max
        );
        assert_eq!(get(&s, r#"vpcd_eni_attached{eni="eni-0"}"#), 1);
        assert_eq!(get(&s, r#"vpcd_eni_attached{eni="eni-4"}"#), 0);
        // Every reason of every ENI, zeros included, so the series exist from the start.
        let drop_series = s
            .keys()
            .filter(|k| k.starts_with("vpcd_eni_drops_total{"))
            .count();
        assert_eq!(drop_series, report.enis.len() * DropReason::COUNT);
        assert!(text.contains("# TYPE vpcd_eni_rx_packets_total counter\n"));
        assert!(text.contains("# TYPE vpcd_eni_conntrack_entries gauge\n"));
        // The series alone, as `vpcctl stats` prints them, are the same values.
        let samples = render_samples(&report, None);
        assert_eq!(
            samples.lines().count(),
            text.lines().filter(|l| !l.starts_with('#')).count()
        );
        let only_b = render_samples(&report, Some("eni-2"));
        assert!(!only_b.is_empty());
        assert!(
            only_b.lines().all(|l| l.contains(r#"eni="eni-2""#)),
            "{only_b}"
        );
        assert!(only_b.contains("vpcd_eni_tx_packets_total{eni=\"eni-2\"} 2\n"));
    }

    #[test]
    fn nat_gateway_and_uplink_families() {
        use crate::fixtures::{INTERNET_HOST, UPLINK};
        let mut dp =
            fixtures::mem_dataplane(fixtures::behind_nat_gateway((1024, 65535)), 64, true).unwrap();
        dp.set_now(1);
        // A SYN from the private ENI to the internet: a NAT translation.
        let mut v = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4(ip("10.0.1.10"), INTERNET_HOST, 64)
            .tcp(40000, 443, 1000, 64000)
            .syn()
            .write(&mut v, b"")
            .unwrap();
        dp.process(A, &mut v);
        let report = dp.report(|_| None);
        let s = validate(&render(&report));
        let m = &report.nat_gateways[0].metrics;
        assert_eq!(m.connection_attempt_count, 1, "{m:?}");
        assert_eq!(
            get(
                &s,
                r#"vpcd_nat_gateway_connection_attempts_total{nat_gateway="nat-1"}"#
            ),
            1
        );
        assert_eq!(
            get(
                &s,
                r#"vpcd_nat_gateway_packets_in_from_source_total{nat_gateway="nat-1"}"#
            ),
            m.packets_in_from_source
        );
        assert_eq!(
            get(
                &s,
                r#"vpcd_nat_gateway_active_connections{nat_gateway="nat-1"}"#
            ),
            m.active_connection_count
        );
        let up = &report.uplinks[0].counters;
        assert_eq!(up.tx_packets, 1, "the SYN left through the uplink");
        assert_eq!(UPLINK as usize, report.enis.len());
        assert_eq!(get(&s, r#"vpcd_uplink_tx_packets_total{igw="igw-1"}"#), 1);
        assert_eq!(
            s.keys()
                .filter(|k| k.starts_with("vpcd_uplink_drops_total{igw=\"igw-1\","))
                .count(),
            DropReason::COUNT
        );
        // No conntrack gauges for uplinks (they track nothing).
        assert!(!s.keys().any(|k| k.starts_with("vpcd_uplink_conntrack")));
    }

    #[test]
    fn every_nat_metric_is_exported_with_its_value() {
        // Distinct values per field, set through the field names.
        let names: Vec<String> = match serde_json::to_value(NatMetrics::default()).unwrap() {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            other => panic!("{other:?}"),
        };
        let obj: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), serde_json::Value::from(1000 + i as u64)))
            .collect();
        let metrics: NatMetrics = serde_json::from_value(serde_json::Value::Object(obj)).unwrap();
        let report = StatsReport {
            epoch: 7,
            config: Default::default(),
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![NatGatewayReport {
                id: "nat-x".into(),
                metrics,
            }],
            captures: vec![],
            mirror_sessions: vec![],
        };
        let s = validate(&render(&report));
        let mut values: Vec<u64> = s
            .iter()
            .filter(|(k, _)| k.starts_with("vpcd_nat_gateway_"))
            .map(|(_, v)| *v as u64)
            .collect();
        values.sort_unstable();
        let expected: Vec<u64> = (0..names.len() as u64).map(|i| 1000 + i).collect();
        assert_eq!(values, expected, "one family per NatMetrics field");
        let text = render(&report);
        assert!(text.contains("# TYPE vpcd_nat_gateway_active_connections gauge\n"));
        assert!(text.contains("(ActiveConnectionCount)"));
        assert_eq!(get(&s, "vpcd_config_epoch{}"), 7);
        // Families without series still say what they are.
        assert!(text.contains("# TYPE vpcd_eni_rx_packets_total counter\n"));
    }

    #[test]
    fn labels_are_escaped_and_nacl_denies_exported() {
        let mut report = StatsReport {
            epoch: 1,
            config: Default::default(),
            enis: vec![crate::observe::stats::EniReport {
                id: "eni-\"odd\"\\name\nx".into(),
                tap: None,
                counters: PortCounters {
                    rx_packets: 5,
                    ..Default::default()
                },
            }],
            engine: Default::default(),
            nacl_denies: vec![
                NaclDenyReport {
                    nacl: "acl-1".into(),
                    direction: "inbound".into(),
                    rule: "100".into(),
                    packets: 3,
                },
                NaclDenyReport {
                    nacl: "acl-1".into(),
                    direction: "outbound".into(),
                    rule: "*".into(),
                    packets: 9,
                },
            ],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        };
        report.engine.drops[DropReason::NaclDeny.index()] = 12;
        let text = render(&report);
        assert!(
            text.contains(r#"vpcd_eni_rx_packets_total{eni="eni-\"odd\"\\name\nx"} 5"#),
            "{text}"
        );
        let s = validate(&text);
        assert_eq!(
            get(
                &s,
                r#"vpcd_eni_rx_packets_total{eni="eni-\"odd\"\\name\nx"}"#
            ),
            5
        );
        assert_eq!(
            get(
                &s,
                r#"vpcd_nacl_rule_denies_total{direction="inbound",nacl="acl-1",rule="100"}"#
            ),
            3
        );
        assert_eq!(
            get(
                &s,
                r#"vpcd_nacl_rule_denies_total{direction="outbound",nacl="acl-1",rule="*"}"#
            ),
            9
        );
        assert_eq!(get(&s, r#"vpcd_drops_total{reason="nacl_deny"}"#), 12);
        assert_eq!(escape_label_value("plain"), Cow::Borrowed("plain"));
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn validator_catches_mistakes() {
        let bad = [
            "# HELP x_total h\n# TYPE x_total counter\nx_total 1\nx_total 2\n",
            "# HELP x h\n# TYPE x counter\nx 1\n",
            "# HELP x h\n# TYPE x gauge\n# HELP x h\n",
            "# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n",
            "# HELP x h\n# TYPE x gauge\nx{a=\"\\q\"} 1\n",
            "# HELP x h\n# TYPE x gauge\ny 1\n",
            "# HELP 1x h\n# TYPE 1x gauge\n",
        ];
        for b in bad {
            assert!(
                std::panic::catch_unwind(|| validate(b)).is_err(),
                "accepted {b:?}"
            );
        }
        validate("# HELP x h\n# TYPE x gauge\nx{a=\"\\\"\"} 1\n");
    }
}
