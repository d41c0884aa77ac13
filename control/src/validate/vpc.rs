//! VPCs: the primary and secondary IPv4 CIDRs (host bits cleared with a warning, /16 to
//! /28, outside the link-local range, not overlapping each other) and the IPv6 CIDR (/56).

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

use super::context::{overlaps, Report};
use crate::model::Topology;

/// The prefix length of a VPC's IPv6 CIDR.
pub const VPC_V6_PREFIX: u8 = 56;

/// The link-local range, which no VPC CIDR may touch.
const LINK_LOCAL_V4: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(169, 254, 0, 0), 16) {
    Ok(n) => n,
    Err(_) => panic!("constant"),
};

/// Checks and normalises the CIDRs of every VPC.
pub(super) fn vpcs(r: &mut Report, t: &mut Topology) {
    for (i, v) in t.vpcs.iter_mut().enumerate() {
        let res = r.label(&v.id, "vpc", i);
        r.normalise4(&mut v.cidr, &res, "cidr");
        r.v4_size(v.cidr, &res, "cidr", "VPC");
        if overlaps(IpNet::V4(v.cidr), IpNet::V4(LINK_LOCAL_V4)) {
            r.err(
                &res,
                "cidr",
                format!(
                    "{} is in the link-local range {LINK_LOCAL_V4}, which cannot be used in a VPC",
                    v.cidr
                ),
            );
        }
        for j in 0..v.secondary_cidrs.len() {
            let field = format!("secondary_cidrs[{j}]");
            r.normalise4(&mut v.secondary_cidrs[j], &res, &field);
            let c = v.secondary_cidrs[j];
            r.v4_size(c, &res, &field, "VPC");
            if overlaps(IpNet::V4(c), IpNet::V4(LINK_LOCAL_V4)) {
                r.err(
                    &res,
                    &field,
                    format!("{c} is in the link-local range {LINK_LOCAL_V4}, which cannot be used in a VPC"),
                );
            }
            if overlaps(IpNet::V4(c), IpNet::V4(v.cidr)) {
                r.err(
                    &res,
                    &field,
                    format!("{c} overlaps the primary CIDR {}", v.cidr),
                );
            }
            for k in 0..j {
                let other = v.secondary_cidrs[k];
                if overlaps(IpNet::V4(c), IpNet::V4(other)) {
                    r.err(
                        &res,
                        &field,
                        format!("{c} overlaps secondary_cidrs[{k}] ({other})"),
                    );
                }
            }
        }
        if let Some(v6) = v.ipv6_cidr.as_mut() {
            r.normalise6(v6, &res, "ipv6_cidr");
            if v6.prefix_len() != VPC_V6_PREFIX {
                r.err(
                    &res,
                    "ipv6_cidr",
                    format!(
                        "{v6}: a VPC's IPv6 CIDR must be /{VPC_V6_PREFIX} (it is /{})",
                        v6.prefix_len()
                    ),
                );
            }
        }
    }
}
