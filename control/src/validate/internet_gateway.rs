//! Internet gateways: an existing VPC with at most one gateway, and an optional internet
//! side whose segment (`internet.cidr`, /8 to /30, host bits cleared with a warning) is
//! outside every VPC, whose gateway and host addresses are distinct usable public
//! addresses of the segment, with an MTU of 576 to 1500 and valid interface and namespace
//! names (a namespace of its own).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::IpNet;

use super::context::{
    check_vpc_ref, is_valid_ifname, is_valid_netns_name, overlaps, Lookups, Report,
};
use super::elastic_ip::{non_public_ipv4_reason, PublicSpace};
use crate::model::{InternetSide, Topology, MAX_INTERNET_MTU, MIN_INTERNET_MTU};

/// The shortest prefix of an internet gateway's outside segment (`/8`).
pub const MIN_INTERNET_PREFIX: u8 = 8;
/// The longest prefix of an internet gateway's outside segment (`/30`: a gateway and a host).
pub const MAX_INTERNET_PREFIX: u8 = 30;

/// Checks and normalises every internet gateway, recording the internet segments in
/// `space`. Returns the internet gateway of each VPC (by index).
pub(super) fn internet_gateways(
    r: &mut Report,
    t: &mut Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    space: &mut PublicSpace,
) -> HashMap<usize, String> {
    let mut eni_netns: HashMap<&str, &str> = HashMap::new();
    for e in &t.enis {
        if let Some(ns) = &e.netns {
            eni_netns.entry(ns.as_str()).or_insert(e.id.as_str());
        }
    }

    let mut igw_of_vpc: HashMap<usize, String> = HashMap::new();
    let mut internet_ns: HashMap<String, String> = HashMap::new();
    for (i, g) in t.internet_gateways.iter_mut().enumerate() {
        let res = r.label(&g.id, "internet_gateway", i);
        if let Some(vi) = check_vpc_ref(r, l.vpc, broken, &res, &g.vpc) {
            match igw_of_vpc.get(&vi) {
                Some(first) => r.err(
                    &res,
                    "vpc",
                    format!(
                        "{} already has an internet gateway ({first}); a VPC has at most one",
                        g.vpc
                    ),
                ),
                None => {
                    igw_of_vpc.insert(vi, res.clone());
                }
            }
        }
        let Some(inet) = g.internet.as_mut() else {
            continue;
        };
        internet_side(r, &res, inet, space, (&eni_netns, &mut internet_ns));
    }
    igw_of_vpc
}

/// Checks and normalises the internet side of a gateway: its segment, gateway and host
/// addresses, MTU, interface and namespace (`netns` = the ENIs' namespaces, with an ENI of
/// each, and the internet namespaces taken so far).
fn internet_side(
    r: &mut Report,
    res: &str,
    inet: &mut InternetSide,
    space: &mut PublicSpace,
    (eni_netns, internet_ns): (&HashMap<&str, &str>, &mut HashMap<String, String>),
) {
    r.normalise4(&mut inet.cidr, res, "internet.cidr");
    let cidr = inet.cidr;
    let p = cidr.prefix_len();
    if !(MIN_INTERNET_PREFIX..=MAX_INTERNET_PREFIX).contains(&p) {
        r.err(
            res,
            "internet.cidr",
            format!("{cidr}: prefix /{p} is outside the allowed range /{MIN_INTERNET_PREFIX} to /{MAX_INTERNET_PREFIX}"),
        );
    }
    if let Some((vpc, c)) = space
        .vpc_cidrs
        .iter()
        .find(|(_, c)| overlaps(IpNet::V4(cidr), IpNet::V4(*c)))
    {
        r.err(
            res,
            "internet.cidr",
            format!(
                "{cidr} overlaps {vpc}'s CIDR {c}; the internet segment must be outside every VPC"
            ),
        );
    }
    space.segments.push((res.to_string(), cidr));
    // An address of the segment that a namespace or the gateway may hold.
    let usable = |r: &mut Report, field: &str, ip: Ipv4Addr| -> bool {
        if !cidr.contains(&ip) {
            r.err(res, field, format!("{ip} is outside internet.cidr {cidr}"));
        } else if ip == cidr.network() || ip == cidr.broadcast() {
            r.err(
                res,
                field,
                format!(
                    "{ip} is the {} address of {cidr}",
                    if ip == cidr.network() {
                        "network"
                    } else {
                        "broadcast"
                    }
                ),
            );
        } else if let Some(why) = non_public_ipv4_reason(ip) {
            r.err(
                res,
                field,
                format!("{ip} is {why}; the internet side needs public addresses (the gateway drops private and shared sources and destinations)"),
            );
        } else {
            return true;
        }
        false
    };
    usable(r, "internet.gateway", inet.gateway);
    if inet.hosts.is_empty() {
        r.err(
            res,
            "internet.hosts",
            format!("give at least one internet host address (inside {cidr}, not the gateway)"),
        );
    }
    let mut hosts: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (k, &h) in inet.hosts.iter().enumerate() {
        let field = format!("internet.hosts[{k}]");
        if !usable(r, &field, h) {
            continue;
        }
        if h == inet.gateway {
            r.err(
                res,
                &field,
                format!("{h} is the gateway's own address (internet.gateway)"),
            );
        } else if let Some(j) = hosts.get(&h) {
            r.err(res, &field, format!("{h} is already internet.hosts[{j}]"));
        } else {
            hosts.insert(h, k);
        }
    }
    if !(MIN_INTERNET_MTU..=MAX_INTERNET_MTU).contains(&inet.mtu) {
        r.err(
            res,
            "internet.mtu",
            format!(
                "{} is outside the allowed range {MIN_INTERNET_MTU}..={MAX_INTERNET_MTU} (an internet gateway forwards packets of up to 1500 bytes)",
                inet.mtu
            ),
        );
    }
    if !is_valid_ifname(&inet.ifname) {
        r.err(
            res,
            "internet.ifname",
            format!(
                "`{}` is not a valid Linux interface name (1 to 15 characters, no `/`, `:` or whitespace, not `.` or `..`)",
                inet.ifname
            ),
        );
    }
    let ns = &inet.netns;
    if !is_valid_netns_name(ns) {
        r.err(
            res,
            "internet.netns",
            format!("`{ns}` is not a usable namespace name (1 to 64 of letters, digits, `-`, `_`, `.`; not `.` or `..`)"),
        );
    } else if let Some(eni) = eni_netns.get(ns.as_str()) {
        r.err(
            res,
            "internet.netns",
            format!("`{ns}` is the namespace of {eni}; the internet needs a namespace of its own"),
        );
    } else if let Some(other) = internet_ns.get(ns) {
        r.err(
            res,
            "internet.netns",
            format!("`{ns}` is already the internet namespace of {other}; each internet gateway needs its own"),
        );
    } else {
        internet_ns.insert(ns.clone(), res.to_string());
    }
}
