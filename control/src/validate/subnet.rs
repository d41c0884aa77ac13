//! Subnets: an IPv4 CIDR (host bits cleared with a warning, /16 to /28) inside one of its
//! VPC's CIDRs and not overlapping another subnet of the VPC; an optional IPv6 CIDR (/64)
//! inside the VPC's; an existing VPC; an associated route table of the same VPC; an
//! availability zone of the lab's region (`us-east-1b`: the region and one letter).

use std::collections::{HashMap, HashSet};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::context::{check_vpc_ref, overlaps, Lookups, Report};
use crate::model::Topology;

/// The prefix length of a subnet's IPv6 CIDR.
pub const SUBNET_V6_PREFIX: u8 = 64;

/// Whether `zone` is an availability zone of `region`: the region's name followed by one
/// lowercase letter (`us-east-1b` in `us-east-1`).
pub fn is_zone_of(zone: &str, region: &str) -> bool {
    zone.strip_prefix(region)
        .is_some_and(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Checks and normalises every subnet.
pub(super) fn subnets(r: &mut Report, t: &mut Topology, broken: &HashSet<String>, l: &Lookups<'_>) {
    let mut v4_by_vpc: HashMap<usize, Vec<(String, Ipv4Net)>> = HashMap::new();
    let mut v6_by_vpc: HashMap<usize, Vec<(String, Ipv6Net)>> = HashMap::new();
    let region = t.region().to_string();
    for (i, s) in t.subnets.iter_mut().enumerate() {
        let res = r.label(&s.id, "subnet", i);
        if let Some(az) = &s.availability_zone {
            if !is_zone_of(az, &region) {
                r.err(
                    &res,
                    "availability_zone",
                    format!("`{az}` is not a zone of the lab's region {region}: the region's name and one letter ({region}a, {region}b, …)"),
                );
            }
        }
        r.normalise4(&mut s.cidr, &res, "cidr");
        r.v4_size(s.cidr, &res, "cidr", "subnet");
        if let Some(v6) = s.ipv6_cidr.as_mut() {
            r.normalise6(v6, &res, "ipv6_cidr");
            if v6.prefix_len() != SUBNET_V6_PREFIX {
                r.err(
                    &res,
                    "ipv6_cidr",
                    format!(
                        "{v6}: a subnet's IPv6 CIDR must be /{SUBNET_V6_PREFIX} (it is /{})",
                        v6.prefix_len()
                    ),
                );
            }
        }
        let Some(vi) = check_vpc_ref(r, l.vpc, broken, &res, &s.vpc) else {
            continue;
        };
        let vpc = &t.vpcs[vi];
        if !vpc.ipv4_cidrs().any(|c| c.contains(&s.cidr)) {
            let cidrs: Vec<String> = vpc.ipv4_cidrs().map(|c| c.to_string()).collect();
            r.err(
                &res,
                "cidr",
                format!(
                    "{} is not inside any IPv4 CIDR of {} ({})",
                    s.cidr,
                    vpc.id,
                    cidrs.join(", ")
                ),
            );
        }
        let peers = v4_by_vpc.entry(vi).or_default();
        for (other, c) in peers.iter() {
            if overlaps(IpNet::V4(s.cidr), IpNet::V4(*c)) {
                r.err(
                    &res,
                    "cidr",
                    format!(
                        "{} overlaps {other} ({c}); subnets of a VPC must not overlap",
                        s.cidr
                    ),
                );
            }
        }
        peers.push((res.clone(), s.cidr));
        if let Some(v6) = s.ipv6_cidr {
            match vpc.ipv6_cidr {
                None => r.err(
                    &res,
                    "ipv6_cidr",
                    format!("{} has no ipv6_cidr; give the VPC one first", vpc.id),
                ),
                Some(vc) if !vc.contains(&v6) => r.err(
                    &res,
                    "ipv6_cidr",
                    format!("{v6} is not inside {}'s IPv6 CIDR {vc}", vpc.id),
                ),
                Some(_) => {}
            }
            let peers = v6_by_vpc.entry(vi).or_default();
            for (other, c) in peers.iter() {
                if overlaps(IpNet::V6(v6), IpNet::V6(*c)) {
                    r.err(
                        &res,
                        "ipv6_cidr",
                        format!("{v6} overlaps {other} ({c}); subnets of a VPC must not overlap"),
                    );
                }
            }
            peers.push((res.clone(), v6));
        }
        if let Some(rtb) = &s.route_table {
            match l.rtb.get(rtb) {
                None if broken.contains(rtb) => {}
                None => r.err(
                    &res,
                    "route_table",
                    format!("no route table with id `{rtb}`"),
                ),
                Some(&ri) => {
                    let rt = &t.route_tables[ri];
                    if rt.vpc != s.vpc && l.vpc.contains_key(&rt.vpc) {
                        r.err(
                            &res,
                            "route_table",
                            format!(
                                "{rtb} belongs to {}, but this subnet is in {}; associate a route table of the same VPC",
                                rt.vpc, s.vpc
                            ),
                        );
                    }
                }
            }
        }
    }
}
