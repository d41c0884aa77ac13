//! The shared internet segment (`[internet]`) and the internet hosts on it: a usable
//! namespace of its own and an MTU of 576 to 1500 for the segment; per host, at least one
//! unicast address (any range: a host may claim private space, which the gateways then
//! refuse), used by no other host and by no public address of the VPCs, gateways that
//! exist and sit on the segment, a namespace of its own, and services on distinct ports
//! (HTTP over TCP only).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use super::context::{is_valid_netns_name, Lookups, Report};
use super::elastic_ip::PublicSpace;
use crate::model::{
    ServiceKind, ServiceProtocol, Topology, DEFAULT_SEGMENT_NETNS, MAX_INTERNET_MTU,
    MIN_INTERNET_MTU,
};

/// Why `ip` cannot be an internet host's address, if it cannot (it must be unicast).
fn non_unicast_reason(ip: Ipv4Addr) -> Option<&'static str> {
    match ip.octets() {
        [0, ..] => Some("in 0.0.0.0/8 (\"this network\")"),
        [127, ..] => Some("a loopback address (127.0.0.0/8)"),
        [169, 254, ..] => Some("a link-local address (169.254.0.0/16)"),
        [a, ..] if (224..240).contains(&a) => Some("a multicast address (224.0.0.0/4)"),
        [a, ..] if a >= 240 => Some("a reserved or broadcast address (240.0.0.0/4)"),
        _ => None,
    }
}

/// Checks `[internet]` and every `[[internet_host]]` (after the Elastic IPs claimed the
/// public addresses in `space`).
pub(super) fn internet_hosts(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    space: &PublicSpace,
) {
    // Namespaces taken by others: the ENIs' and the gateways' own internet namespaces.
    let mut taken: HashMap<&str, String> = HashMap::new();
    for e in &t.enis {
        if let Some(ns) = &e.netns {
            taken.entry(ns.as_str()).or_insert_with(|| e.id.clone());
        }
    }
    for g in &t.internet_gateways {
        if let Some(inet) = &g.internet {
            taken
                .entry(inet.netns.as_str())
                .or_insert_with(|| format!("{}.internet", g.id));
        }
    }
    let on_segment = t
        .internet_gateways
        .iter()
        .filter(|g| g.internet.is_none())
        .count();

    // [internet]
    let seg = t.internet.clone().unwrap_or_default();
    let seg_ns = seg.netns.as_str();
    if t.uses_internet_segment() {
        if !is_valid_netns_name(seg_ns) {
            r.err(
                "internet",
                "netns",
                format!("`{seg_ns}` is not a usable namespace name (1 to 64 of letters, digits, `-`, `_`, `.`; not `.` or `..`)"),
            );
        } else if let Some(owner) = taken.get(seg_ns) {
            r.err(
                "internet",
                "netns",
                format!(
                    "`{seg_ns}` is the namespace of {owner}; the internet segment needs a namespace of its own{}",
                    if seg_ns == DEFAULT_SEGMENT_NETNS {
                        " (set `[internet] netns` to another name)"
                    } else {
                        ""
                    }
                ),
            );
        }
        if !(MIN_INTERNET_MTU..=MAX_INTERNET_MTU).contains(&seg.mtu) {
            r.err(
                "internet",
                "mtu",
                format!(
                    "{} is outside the allowed range {MIN_INTERNET_MTU}..={MAX_INTERNET_MTU} (an internet gateway forwards packets of up to 1500 bytes)",
                    seg.mtu
                ),
            );
        }
    }
    taken
        .entry(seg_ns)
        .or_insert_with(|| "the internet segment ([internet] netns)".to_string());

    if !t.internet_hosts.is_empty() && on_segment == 0 {
        r.warnings.push(format!(
            "internet_host: no internet gateway is on the internet segment (every one has its own `internet` namespace), so {} reach no VPC",
            if t.internet_hosts.len() == 1 { "the internet host does" } else { "the internet hosts do" }
        ));
    }

    let mut addrs: HashMap<Ipv4Addr, String> = HashMap::new();
    for (i, h) in t.internet_hosts.iter().enumerate() {
        let res = r.label(&h.id, "internet_host", i);
        if h.addresses.is_empty() {
            r.err(
                &res,
                "addresses",
                "give at least one address (any unicast IPv4 address; the first is the source of what it sends)",
            );
        }
        for (k, &a) in h.addresses.iter().enumerate() {
            let field = format!("addresses[{k}]");
            if let Some(why) = non_unicast_reason(a) {
                r.err(
                    &res,
                    &field,
                    format!("{a} is {why}; an internet host needs a unicast address"),
                );
            } else if let Some(holder) = space.holder(a) {
                r.err(
                    &res,
                    &field,
                    format!("{a} is the public address {holder}; the gateway answers for it on the internet segment, so a host cannot hold it too"),
                );
            } else if let Some(other) = addrs.get(&a) {
                r.err(&res, &field, format!("{a} is already {other}"));
            } else {
                addrs.insert(a, format!("{res}.{field}"));
            }
        }
        let mut seen = HashSet::new();
        for (k, g) in h.internet_gateways.iter().enumerate() {
            let field = format!("internet_gateways[{k}]");
            match l.igw.get(g) {
                None if broken.contains(g) => {}
                None => r.err(&res, &field, format!("no internet gateway with id `{g}`")),
                Some(&gi) if t.internet_gateways[gi].internet.is_some() => r.err(
                    &res,
                    &field,
                    format!("{g} has an internet namespace of its own (`internet = {{…}}`), not the shared internet segment; remove its `internet` table to put it on the segment"),
                ),
                Some(_) if !seen.insert(g.as_str()) => {
                    r.err(&res, &field, format!("{g} is listed twice"))
                }
                Some(_) => {}
            }
        }
        let ns = h.netns();
        if !is_valid_netns_name(ns) {
            r.err(
                &res,
                "netns",
                format!("`{ns}` is not a usable namespace name (1 to 64 of letters, digits, `-`, `_`, `.`; not `.` or `..`){}", if h.netns.is_none() { " (it defaults to the id; set `netns`)" } else { "" }),
            );
        } else if let Some(owner) = taken.get(ns) {
            r.err(
                &res,
                "netns",
                format!(
                    "`{ns}` is already the namespace of {owner}; each internet host needs its own"
                ),
            );
        } else {
            taken.insert(ns, res.clone());
        }
        let mut ports = HashMap::new();
        for (k, s) in h.services.iter().enumerate() {
            let field = format!("services[{k}]");
            if s.port == Some(0) {
                r.err(
                    &res,
                    format!("{field}.port"),
                    "0 is not a port; use 1..=65535",
                );
            } else if s.port() == 0 {
                r.err(
                    &res,
                    format!("{field}.port"),
                    "give the port it listens on (1..=65535)",
                );
            }
            if s.kind == ServiceKind::Http && s.protocol() != ServiceProtocol::Tcp {
                r.err(
                    &res,
                    format!("{field}.protocol"),
                    "an HTTP service runs over tcp",
                );
            }
            if s.kind == ServiceKind::Dns && s.protocol() != ServiceProtocol::Udp {
                r.err(
                    &res,
                    format!("{field}.protocol"),
                    "a DNS service runs over udp",
                );
            }
            if let Some(j) = ports.insert((s.protocol(), s.port()), k) {
                r.err(
                    &res,
                    format!("{field}.port"),
                    format!(
                        "{}/{} is already services[{j}]",
                        s.protocol().as_str(),
                        s.port()
                    ),
                );
            }
        }
    }
}
