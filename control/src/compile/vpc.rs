//! VPCs: in file order, each with all its CIDRs (primary, secondary ones, IPv6) and its
//! DHCP options: those of its `[[dhcp_options]]` set, else AWS's default set
//! (AmazonProvidedDNS, the region's internal domain, Amazon Time Sync as NTP server);
//! `AmazonProvidedDNS` is the VPC's primary CIDR base plus two; the lease time is `[lab]
//! dhcp_lease_time`, else 3600 s.

use std::net::Ipv4Addr;

use dataplane::vpc::config::{DhcpConfig, VpcConfig, DEFAULT_DHCP_LEASE_SECS};

use crate::model::{
    default_domain_name, Topology, Vpc, AMAZON_PROVIDED_DNS, DEFAULT_REGION, TIME_SYNC_ADDRESS,
};

/// The VPCs of `t` in file order (their index is their model index).
pub(super) fn vpcs(t: &Topology) -> Vec<VpcConfig> {
    t.vpcs
        .iter()
        .map(|v| VpcConfig {
            id: v.id.clone(),
            cidrs: v.all_cidrs(),
            dhcp: dhcp(t, v),
        })
        .collect()
}

/// The Amazon-provided DNS server of a VPC: its primary CIDR's base plus two.
fn amazon_dns(v: &Vpc) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(v.cidr.network()).wrapping_add(2))
}

/// The DHCP options the VPC router's server gives in VPC `v`.
fn dhcp(t: &Topology, v: &Vpc) -> DhcpConfig {
    let lab = t.lab.as_ref();
    let lease_secs = lab
        .and_then(|l| l.dhcp_lease_time)
        .unwrap_or(DEFAULT_DHCP_LEASE_SECS);
    let set = v
        .dhcp_options
        .as_ref()
        .and_then(|id| t.dhcp_options.iter().find(|d| &d.id == id));
    match set {
        Some(d) => DhcpConfig {
            dns_servers: d
                .domain_name_servers
                .iter()
                .filter_map(|s| match s.as_str() {
                    AMAZON_PROVIDED_DNS => Some(amazon_dns(v)),
                    a => a.parse().ok(),
                })
                .collect(),
            domain_name: d.domain_name.clone(),
            ntp_servers: d.ntp_servers.clone(),
            lease_secs,
        },
        None => DhcpConfig {
            dns_servers: vec![amazon_dns(v)],
            domain_name: Some(default_domain_name(
                lab.and_then(|l| l.region.as_deref())
                    .unwrap_or(DEFAULT_REGION),
            )),
            ntp_servers: vec![TIME_SYNC_ADDRESS],
            lease_secs,
        },
    }
}
