//! Public addresses: Elastic IPs (a public unicast address outside every VPC and internet
//! segment, used once; an optional association with an ENI's private IPv4, at most one per
//! private address) and the ENIs' `public_ip` (the same rules; not together with an
//! Elastic IP on the primary private IP). A public address in a VPC without an internet
//! gateway is unreachable: a warning.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::context::{Lookups, Report};
use crate::model::Topology;

/// Why `ip` cannot be a public IPv4 address (of an Elastic IP, an ENI's `public_ip`, or
/// the internet side of a gateway), if it cannot: private (RFC 1918), shared (RFC 6598),
/// `0.0.0.0/8`, loopback, link-local, multicast, reserved (`240.0.0.0/4`) or broadcast.
pub fn non_public_ipv4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    match ip.octets() {
        [0, ..] => Some("in 0.0.0.0/8 (\"this network\")"),
        [10, ..] => Some("a private address (RFC 1918, 10.0.0.0/8)"),
        [172, b, ..] if (16..32).contains(&b) => {
            Some("a private address (RFC 1918, 172.16.0.0/12)")
        }
        [192, 168, ..] => Some("a private address (RFC 1918, 192.168.0.0/16)"),
        [100, b, ..] if (64..128).contains(&b) => {
            Some("in the shared address space (RFC 6598, 100.64.0.0/10)")
        }
        [127, ..] => Some("a loopback address (127.0.0.0/8)"),
        [169, 254, ..] => Some("a link-local address (169.254.0.0/16)"),
        [255, 255, 255, 255] => Some("the broadcast address"),
        [a, ..] if (224..240).contains(&a) => Some("a multicast address (224.0.0.0/4)"),
        [a, ..] if a >= 240 => Some("a reserved address (240.0.0.0/4)"),
        _ => None,
    }
}

/// Where public addresses may not be: the VPCs' IPv4 CIDRs and the internet segments.
pub(super) struct PublicSpace {
    /// (VPC id, CIDR).
    pub(super) vpc_cidrs: Vec<(String, Ipv4Net)>,
    /// (internet gateway, its `internet.cidr`).
    pub(super) segments: Vec<(String, Ipv4Net)>,
    /// Public address → who holds it (`eipalloc-x.public_ip`).
    taken: HashMap<Ipv4Addr, String>,
}

impl PublicSpace {
    /// Who holds public address `ip` (`eipalloc-x.public_ip`), if it is taken.
    pub(super) fn holder(&self, ip: Ipv4Addr) -> Option<&str> {
        self.taken.get(&ip).map(String::as_str)
    }

    /// The public space of `t`, before the internet gateways add their segments.
    pub(super) fn new(t: &Topology) -> Self {
        PublicSpace {
            vpc_cidrs: t
                .vpcs
                .iter()
                .flat_map(|v| v.ipv4_cidrs().map(move |c| (v.id.clone(), c)))
                .collect(),
            segments: Vec::new(),
            taken: HashMap::new(),
        }
    }

    /// Checks that `res.field` = `ip` is usable as a public address and not taken yet.
    pub(super) fn claim(&mut self, r: &mut Report, res: &str, field: &str, ip: Ipv4Addr) {
        if let Some(why) = non_public_ipv4_reason(ip) {
            r.err(
                res,
                field,
                format!("{ip} is {why}; a public IPv4 address must be a public unicast address"),
            );
        }
        if let Some((vpc, c)) = self.vpc_cidrs.iter().find(|(_, c)| c.contains(&ip)) {
            r.err(
                res,
                field,
                format!(
                    "{ip} is inside {vpc}'s CIDR {c}; a public address must be outside every VPC"
                ),
            );
        }
        if let Some((igw, c)) = self.segments.iter().find(|(_, c)| c.contains(&ip)) {
            r.err(
                res,
                field,
                format!("{ip} is inside {igw}'s internet.cidr {c}, the internet hosts' own segment; pick a public address outside it"),
            );
        }
        match self.taken.get(&ip) {
            Some(other) => r.err(
                res,
                field,
                format!(
                    "{ip} is already the public address of {other}; a public address is used once"
                ),
            ),
            None => {
                self.taken.insert(ip, format!("{res}.{field}"));
            }
        }
    }
}

/// Checks the Elastic IPs and the ENIs' public IPs, claiming their addresses in `space`
/// (after the internet gateways recorded their segments); `igw_of_vpc` = the internet
/// gateway of each VPC.
pub(super) fn elastic_ips(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    space: &mut PublicSpace,
    igw_of_vpc: &HashMap<usize, String>,
) {
    // Public addresses are unreachable without an internet gateway in the ENI's VPC.
    let warn_unreachable = |r: &mut Report, ei: usize, what: String| {
        if let Some(vi) = l.eni_vpc.get(ei).copied().flatten() {
            if !igw_of_vpc.contains_key(&vi) {
                r.warnings.push(format!(
                    "{what}: {} has no internet gateway, so this public address is unreachable (as in AWS)",
                    t.vpcs[vi].id
                ));
            }
        }
    };

    // Elastic IPs.
    let mut assoc: HashMap<(usize, Ipv4Addr), String> = HashMap::new();
    for (i, e) in t.elastic_ips.iter().enumerate() {
        let res = r.label(&e.id, "elastic_ip", i);
        space.claim(r, &res, "public_ip", e.public_ip);
        let Some(eni) = &e.eni else {
            if e.private_ip.is_some() {
                r.err(
                    &res,
                    "private_ip",
                    "a private_ip needs an `eni` to associate the Elastic IP with",
                );
            }
            continue;
        };
        let Some(&ei) = l.eni.get(eni) else {
            if !broken.contains(eni) {
                r.err(&res, "eni", format!("no ENI with id `{eni}`"));
            }
            continue;
        };
        let n = &t.enis[ei];
        let (private, field) = match e.private_ip {
            Some(p) if n.ipv4_addrs().any(|a| a == p) => (p, "private_ip"),
            Some(p) => {
                let own: Vec<String> = n.ipv4_addrs().map(|a| a.to_string()).collect();
                r.err(
                    &res,
                    "private_ip",
                    format!("{p} is not a private IPv4 of {eni} ({})", own.join(", ")),
                );
                continue;
            }
            None => (n.private_ip, "eni"),
        };
        match assoc.get(&(ei, private)) {
            Some(other) => r.err(
                &res,
                field,
                format!("{private} of {eni} already has Elastic IP {other}; a private address has at most one"),
            ),
            None => {
                assoc.insert((ei, private), res.clone());
            }
        }
        warn_unreachable(r, ei, format!("{res}.eni"));
    }

    // The ENIs' public IPs.
    for (i, n) in t.enis.iter().enumerate() {
        let Some(ip) = n.public_ip else {
            continue;
        };
        let res = r.label(&n.id, "eni", i);
        space.claim(r, &res, "public_ip", ip);
        if let Some(eip) = assoc.get(&(i, n.private_ip)) {
            r.err(
                &res,
                "public_ip",
                format!(
                    "the primary private IP {} also has Elastic IP {eip}; in AWS the Elastic IP replaces the public IP: remove `public_ip` or associate {eip} with another private IP",
                    n.private_ip
                ),
            );
        }
        warn_unreachable(r, i, format!("{res}.public_ip"));
    }
}
