//! The `ENIs` section of `vpcctl show`, the NAT gateways' network interfaces included.

use dataplane::observe::stats::StatsReport;
use dataplane::vpc::config::{DataplaneConfig, EniConfig, MappingTarget, MetadataOptions};

use super::text::{drops_text, ids_or_dash, idx32, table};

/// The `ENIs` section of `vpcctl show`: each ENI with its subnet, groups, addresses, public
/// IPs, MAC, attachment (`(unattached)` for an ENI without a namespace: what is sent to it
/// is dropped as `eni_not_attached`; `(dhcp)` after one whose instance takes its address
/// by DHCP; `qemu-stream (guest connected)`, `vhost-user (no guest)` and the like for a
/// QEMU guest's socket,
/// whose path is in the TAP column), and its port and counters (the router's DHCP answers and ignored DHCP
/// messages among them) from `report`, when reported; then one line per ENI naming its
/// instance (see [`instance_line`]); then the NAT gateways' network interfaces.
pub(super) fn enis(c: &DataplaneConfig, report: &StatsReport) -> String {
    let mut out = String::from("\nENIs\n");
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
            let (tap, rx, tx, conns, dhcp, drops) = match port {
                Some(p) => (
                    p.tap.clone().unwrap_or_else(|| "-".to_string()),
                    format!("{}/{}", p.counters.rx_packets, p.counters.rx_bytes),
                    format!("{}/{}", p.counters.tx_packets, p.counters.tx_bytes),
                    format!(
                        "{}/{}",
                        p.counters.conntrack_entries, p.counters.conntrack_max
                    ),
                    format!("{}/{}", p.counters.dhcp_replies, p.counters.dhcp_ignored),
                    drops_text(&p.counters.drop_map()),
                ),
                None => (
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ),
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
                                .get(g.idx())
                                .map_or_else(|| format!("sg#{g}?"), |s| s.id.clone())
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                },
            );
            vec![
                e.id.clone(),
                c.subnets
                    .get(e.subnet.idx())
                    .map_or_else(|| format!("subnet#{}?", e.subnet), |s| s.id.clone()),
                groups,
                ips,
                ids_or_dash(public).replace(", ", ","),
                e.mac.to_string(),
                if e.source_dest_check { "on" } else { "off" }.to_string(),
                e.attachment.as_ref().map_or_else(
                    || "(unattached)".to_string(),
                    |a| {
                        if let dataplane::vpc::config::AttachmentKind::Interface { name } = &a.kind
                        {
                            let state = match port.and_then(|p| p.port.as_ref()?.connected) {
                                Some(true) => "",
                                Some(false) => " (gone)",
                                None => " (not open)",
                            };
                            return format!("interface {name}{state}");
                        }
                        if !a.is_namespace() {
                            // The socket's path is in the TAP column (the port's name).
                            let guest = match port.and_then(|p| p.port.as_ref()?.connected) {
                                Some(true) => " (guest connected)",
                                Some(false) => " (no guest)",
                                None => "",
                            };
                            return format!("{}{guest}", a.kind.as_str());
                        }
                        let dhcp = if a.dhcp { " (dhcp)" } else { "" };
                        format!("{}/{}{dhcp}", a.netns, a.ifname)
                    },
                ),
                tap,
                rx,
                tx,
                conns,
                dhcp,
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
            "DHCP ANSWERED/IGNORED",
            "DROPS",
        ],
        &rows,
    ));
    out.push_str(&kernel_taps(report));
    if !c.enis.is_empty() {
        out.push_str("\nInstances (metadata at 169.254.169.254)\n");
        for e in &c.enis {
            let served = report
                .enis
                .iter()
                .find(|p| p.id == e.id)
                .map(|p| (p.counters.metadata_requests, p.counters.metadata_errors))
                .filter(|&(n, _)| n > 0)
                .map(|(n, err)| format!(" · metadata requests {n} ({err} errors)"))
                .unwrap_or_default();
            out.push_str(&format!("  {}: {}{served}\n", e.id, instance_line(e)));
        }
    }
    out.push_str(&nat_interfaces(c));
    out
}

/// The kernel's counters of the ENIs' TAPs as the instances' namespaces see them, where
/// vpcd's own counters stop: frames the instance sent that the kernel dropped before vpcd
/// read them (the interface's `tx_dropped`), and frames vpcd wrote that the instance's
/// kernel dropped (`rx_dropped`). Empty when no ENI has kernel figures.
pub(super) fn kernel_taps(report: &StatsReport) -> String {
    let rows: Vec<Vec<String>> = report
        .enis
        .iter()
        .filter_map(|e| {
            let k = e.kernel.as_ref()?;
            let s = &k.counters;
            Some(vec![
                e.id.clone(),
                format!("{}/{}", k.netns, k.ifname),
                format!("{}/{}", s.tx_packets, s.tx_bytes),
                s.tx_dropped.to_string(),
                format!("{}/{}", s.rx_packets, s.rx_bytes),
                s.rx_dropped.to_string(),
                format!("{}/{}", s.rx_errors, s.tx_errors),
            ])
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\nENI TAPs in the instances' kernels (sent: by the instance; dropped before vpcd read: \
         the TAP's queue was full; dropped after vpcd wrote: the instance's kernel refused)\n{}",
        table(
            &[
                "ID",
                "NETNS/IFNAME",
                "SENT PKTS/BYTES",
                "DROPPED BEFORE VPCD READ",
                "RECEIVED PKTS/BYTES",
                "DROPPED AFTER VPCD WROTE",
                "ERRORS RX/TX",
            ],
            &rows,
        )
    )
}

/// The instance of ENI `e` in one line: its id, the ENI's interface name and device
/// index, and the metadata options when they are not AWS's defaults
/// (`instance i-0a1b… (eth0 device 0) · metadata: tokens required, hop limit 2`).
pub(super) fn instance_line(e: &EniConfig) -> String {
    let i = &e.instance;
    let id = if i.id.is_empty() { "-" } else { i.id.as_str() };
    let place = match &e.attachment {
        Some(a) => format!("{} device {}", a.ifname, i.device_index),
        None => format!("device {}", i.device_index),
    };
    let mut line = format!("instance {id} ({place})");
    let m = &i.metadata;
    if *m != MetadataOptions::default() {
        let mut parts = Vec::new();
        if !m.endpoint_enabled {
            parts.push("endpoint disabled".to_string());
        }
        if m.tokens_required {
            parts.push("tokens required".to_string());
        }
        if m.hop_limit != MetadataOptions::default().hop_limit {
            parts.push(format!("hop limit {}", m.hop_limit));
        }
        line.push_str(&format!(" · metadata: {}", parts.join(", ")));
    }
    line
}

/// The NAT gateways' network interfaces (requester-managed, interface type
/// `nat_gateway`), listed after the ENIs: each with its subnet, private addresses (the
/// primary first), Elastic IPs and gateway; empty without NAT gateways.
fn nat_interfaces(c: &DataplaneConfig) -> String {
    if c.nat_gateways.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = c
        .nat_gateways
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let public: Vec<String> = c
                .internet_gateways
                .iter()
                .flat_map(|g| &g.mappings)
                .filter(|m| m.target == MappingTarget::NatGateway(idx32(i)))
                .map(|m| m.public.to_string())
                .collect();
            vec![
                if n.interface_id.is_empty() {
                    "-".to_string()
                } else {
                    n.interface_id.clone()
                },
                "nat_gateway".to_string(),
                c.subnets
                    .get(n.subnet.idx())
                    .map_or_else(|| format!("subnet#{}?", n.subnet), |s| s.id.clone()),
                n.addrs
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                ids_or_dash(public).replace(", ", ","),
                n.id.clone(),
            ]
        })
        .collect();
    format!(
        "\nNAT gateway network interfaces (requester-managed)\n{}",
        table(
            &["ID", "TYPE", "SUBNET", "IPS", "PUBLIC IP", "NAT GATEWAY"],
            &rows
        )
    )
}
