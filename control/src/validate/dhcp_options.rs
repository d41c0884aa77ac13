//! DHCP option sets and their associations: `domain_name_servers` (1 to 4 entries, each
//! an IPv4 address or `AmazonProvidedDNS`), `ntp_servers` (at most 4), a `domain_name`
//! of DNS labels (letters, digits, hyphens and dots, at most 255 characters; AWS also
//! takes several names separated by spaces, which the lab does not), each `[[vpc]]
//! dhcp_options` naming a declared set; `[lab] region` (lowercase letters, digits and
//! hyphens) and `dhcp_lease_time` (at least 10 s). (An ENI that uses DHCP addressing may
//! have secondary addresses: DHCP hands out only the primary one, as in AWS, and the
//! client's script adds the others after the lease, as ec2-net-utils does.)

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::context::Report;
use crate::model::{Topology, AMAZON_PROVIDED_DNS};

/// The most DNS servers, and NTP servers, an option set may list (AWS's limit for IPv4).
pub const MAX_DHCP_SERVERS: usize = 4;
/// The shortest lease `[lab] dhcp_lease_time` may set, seconds.
pub const MIN_DHCP_LEASE_TIME: u32 = 10;

/// Checks every option set, the VPCs' associations and the DHCP knobs of `[lab]`.
pub(super) fn dhcp_options(r: &mut Report, t: &Topology) {
    let mut ids = HashSet::new();
    for (i, d) in t.dhcp_options.iter().enumerate() {
        ids.insert(d.id.as_str());
        let res = r.label(&d.id, "dhcp_options", i);
        if d.domain_name_servers.len() > MAX_DHCP_SERVERS {
            r.err(
                &res,
                "domain_name_servers",
                format!(
                    "{} servers: an option set lists at most {MAX_DHCP_SERVERS}",
                    d.domain_name_servers.len()
                ),
            );
        }
        for (j, s) in d.domain_name_servers.iter().enumerate() {
            if s != AMAZON_PROVIDED_DNS && s.parse::<Ipv4Addr>().is_err() {
                r.err(
                    &res,
                    format!("domain_name_servers[{j}]"),
                    format!("`{s}` is neither an IPv4 address nor {AMAZON_PROVIDED_DNS}"),
                );
            }
        }
        if d.ntp_servers.len() > MAX_DHCP_SERVERS {
            r.err(
                &res,
                "ntp_servers",
                format!(
                    "{} servers: an option set lists at most {MAX_DHCP_SERVERS}",
                    d.ntp_servers.len()
                ),
            );
        }
        if let Some(name) = &d.domain_name {
            if let Err(why) = domain_name(name) {
                r.err(&res, "domain_name", format!("`{name}`: {why}"));
            }
        }
    }
    for (i, v) in t.vpcs.iter().enumerate() {
        if let Some(dopt) = &v.dhcp_options {
            if !ids.contains(dopt.as_str()) {
                let res = r.label(&v.id, "vpc", i);
                r.err(
                    &res,
                    "dhcp_options",
                    format!("`{dopt}` is not a declared [[dhcp_options]]"),
                );
            }
        }
    }
    if let Some(lab) = &t.lab {
        if let Some(region) = &lab.region {
            let ok = !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                r.err(
                    "lab",
                    "region",
                    format!("`{region}`: a region name is lowercase letters, digits and hyphens (us-east-1)"),
                );
            }
        }
        if let Some(secs) = lab.dhcp_lease_time {
            if secs < MIN_DHCP_LEASE_TIME {
                r.err(
                    "lab",
                    "dhcp_lease_time",
                    format!("{secs} s: the DHCP lease time is at least {MIN_DHCP_LEASE_TIME} s"),
                );
            }
        }
    }
}

/// Whether `name` is a usable domain name: dot-separated labels of letters, digits and
/// hyphens (1 to 63 characters, not starting or ending with a hyphen), 255 at most.
fn domain_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 255 {
        return Err("a domain name has 1 to 255 characters");
    }
    for label in name.trim_end_matches('.').split('.') {
        let ok = (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err("each dot-separated label is 1 to 63 letters, digits or inner hyphens");
        }
    }
    Ok(())
}
