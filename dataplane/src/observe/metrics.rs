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
//! vpcd_eni_{arp_replies,arp_ignored,icmp_echo_replies,dhcp_replies,dhcp_ignored}_total{eni}
//! vpcd_eni_drops_total{eni,reason}                        every reason, zeros included
//! vpcd_eni_conntrack_entries{eni}, vpcd_eni_conntrack_max{eni}
//! vpcd_eni_attached{eni}                                  1 when the ENI has a port
//! vpcd_eni_kernel_{rx,tx}_{packets,bytes,dropped,errors}_total{eni}
//!                                                        its TAP in the instance's namespace
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
fn port_counters(c: &PortCounters) -> [(&'static str, &'static str, &'static str, u64); 15] {
    let PortCounters {
        rx_packets,
        rx_bytes,
        tx_packets,
        tx_bytes,
        arp_replies,
        arp_ignored,
        icmp_echo_replies,
        dhcp_replies,
        dhcp_ignored,
        dns_answers,
        dns_errors,
        dns_forwarded,
        dns_upstream_timeouts,
        metadata_requests,
        metadata_errors,
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
        (
            "dhcp_replies_total",
            "DHCP client messages the VPC router's DHCP server answered (OFFER, ACK, NAK).",
            "DHCP answers on the uplink (none: the internet gateway serves no DHCP).",
            *dhcp_replies,
        ),
        (
            "dhcp_ignored_total",
            "DHCP client messages the VPC router consumed without an answer (RELEASE, foreign MAC).",
            "DHCP messages ignored on the uplink (none: the internet gateway serves no DHCP).",
            *dhcp_ignored,
        ),
        (
            "dns_answers_total",
            "Queries to the VPC resolver that it answered.",
            "Queries to the VPC resolver that it answered (none on an uplink).",
            *dns_answers,
        ),
        (
            "dns_errors_total",
            "VPC resolver answers with a non-zero response code (NXDOMAIN, FORMERR, ...).",
            "VPC resolver answers with a non-zero response code (none on an uplink).",
            *dns_errors,
        ),
        (
            "dns_forwarded_total",
            "Queries the VPC resolver forwarded to its upstream resolver.",
            "Queries forwarded to the upstream resolver (none on an uplink).",
            *dns_forwarded,
        ),
        (
            "dns_upstream_timeouts_total",
            "Forwarded queries the upstream resolver did not answer in time (answered SERVFAIL).",
            "Upstream resolver timeouts (none on an uplink).",
            *dns_upstream_timeouts,
        ),
        (
            "metadata_requests_total",
            "HTTP requests the instance metadata service (169.254.169.254) answered.",
            "Instance metadata requests (none on an uplink).",
            *metadata_requests,
        ),
        (
            "metadata_errors_total",
            "Instance metadata answers with an error status (401, 404, ...) and slow clients reset.",
            "Instance metadata errors (none on an uplink).",
            *metadata_errors,
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

/// The kernel's counters of the ENIs' TAPs, as the instances' namespaces see them
/// (`vpcd_eni_kernel_…`); ENIs without kernel figures have no series.
fn kernel_families(out: &mut Vec<Family>, report: &StatsReport) {
    use crate::sys::linkstats::LinkStats;
    /// (name after `vpcd_eni_kernel_`, help, the counter).
    type KernelFamily = (&'static str, &'static str, fn(&LinkStats) -> u64);
    let families: [KernelFamily; 8] = [
        (
            "tx_dropped_total",
            "Frames the instance sent that the kernel dropped in the TAP's queue before vpcd read them (the interface's tx_dropped in the instance's namespace).",
            |s| s.tx_dropped,
        ),
        (
            "rx_dropped_total",
            "Frames vpcd wrote to the TAP that the instance's kernel dropped (the interface's rx_dropped in the instance's namespace).",
            |s| s.rx_dropped,
        ),
        (
            "tx_packets_total",
            "Frames the instance sent through its TAP, as its kernel counts them.",
            |s| s.tx_packets,
        ),
        (
            "tx_bytes_total",
            "Bytes the instance sent through its TAP, as its kernel counts them.",
            |s| s.tx_bytes,
        ),
        (
            "rx_packets_total",
            "Frames the instance received on its TAP, as its kernel counts them.",
            |s| s.rx_packets,
        ),
        (
            "rx_bytes_total",
            "Bytes the instance received on its TAP, as its kernel counts them.",
            |s| s.rx_bytes,
        ),
        (
            "tx_errors_total",
            "Transmit errors of the instance's TAP, as its kernel counts them.",
            |s| s.tx_errors,
        ),
        (
            "rx_errors_total",
            "Receive errors of the instance's TAP, as its kernel counts them.",
            |s| s.rx_errors,
        ),
    ];
    for (name, help, get) in families {
        let mut f = Family::new(format!("vpcd_eni_kernel_{name}"), Kind::Counter, help);
        for e in &report.enis {
            if let Some(k) = &e.kernel {
                f.push(vec![("eni", e.id.clone())], get(&k.counters));
            }
        }
        out.push(f);
    }
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
    kernel_families(&mut out, report);
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
        handed_off,
        handoff_stale,
        handoff_dropped,
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
    out.push(single(
        "vpcd_worker_handoffs_total",
        Kind::Counter,
        "Frames read by one forwarding worker and handed to the worker that owns their flow.",
        *handed_off,
    ));
    out.push(single(
        "vpcd_worker_handoff_drops_total",
        Kind::Counter,
        "Frames handed between workers and dropped (the receiving worker's inbox was full, or an apply came between).",
        *handoff_dropped + *handoff_stale,
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
#[path = "metrics_tests.rs"]
mod tests;
