//! `[lab]`: the settings for tests and labs (`conntrack_time_scale` in (0, 1], the NAT
//! gateways' port range within 1024..=65535 and their idle timeout > 0). `[lab]
//! flow_log_interval` is checked with the flow logs. `dns_upstream` must be the address
//! of an internet host on the internet segment, and the resolver's own address there
//! (`[internet] resolver_address`) no host's.

use super::context::Report;
use crate::model::Topology;

/// The lowest port a NAT gateway may allocate (`[lab] nat_gateway_ports`).
pub const NAT_GATEWAY_MIN_PORT: i64 = 1024;
/// The highest port a NAT gateway may allocate.
pub const NAT_GATEWAY_MAX_PORT: i64 = 65_535;

/// Checks `[lab]`, except `flow_log_interval` (checked with the flow logs).
pub(super) fn lab(r: &mut Report, t: &Topology) {
    if let Some(lab) = &t.lab {
        let s = lab.conntrack_time_scale;
        if !(s > 0.0 && s <= 1.0) {
            r.err(
                "lab",
                "conntrack_time_scale",
                format!("{s} must be greater than 0 and at most 1 (it shortens conntrack timeouts for tests)"),
            );
        }
        if let Some([from, to]) = lab.nat_gateway_ports {
            let ports = NAT_GATEWAY_MIN_PORT..=NAT_GATEWAY_MAX_PORT;
            if !ports.contains(&from) || !ports.contains(&to) {
                r.err(
                    "lab",
                    "nat_gateway_ports",
                    format!("[{from}, {to}]: NAT gateway ports must be within {NAT_GATEWAY_MIN_PORT}..={NAT_GATEWAY_MAX_PORT} (AWS's range)"),
                );
            } else if from > to {
                r.err(
                    "lab",
                    "nat_gateway_ports",
                    format!("[{from}, {to}]: the range must go from the lower port to the higher"),
                );
            }
        }
        if let Some(up) = lab.dns_upstream {
            dns_upstream(r, t, up);
        }
        if let Some(secs) = lab.nat_gateway_idle_timeout {
            if !(secs > 0.0 && secs.is_finite()) {
                r.err(
                    "lab",
                    "nat_gateway_idle_timeout",
                    format!("{secs} must be a number of seconds greater than 0 (AWS's is 350)"),
                );
            }
        }
    }
}

/// Checks `[lab] dns_upstream = UP`: the topology uses the internet segment, an internet
/// host holds `up`, and none holds the resolver's own address on the segment.
fn dns_upstream(r: &mut Report, t: &Topology, up: std::net::Ipv4Addr) {
    if !t.uses_internet_segment() {
        r.err(
            "lab",
            "dns_upstream",
            format!("{up}: the resolver reaches its upstream on the internet segment, which this topology does not use (add an internet gateway and an `[[internet_host]]` holding {up})"),
        );
        return;
    }
    if !t.internet_hosts.iter().any(|h| h.addresses.contains(&up)) {
        r.err(
            "lab",
            "dns_upstream",
            format!("{up} is no internet host's address; give the address of an `[[internet_host]]` (running `services = [{{ kind = \"dns\" }}]`)"),
        );
    }
    let own = t.internet.clone().unwrap_or_default().resolver_address;
    if let Some(h) = t.internet_hosts.iter().find(|h| h.addresses.contains(&own)) {
        r.err(
            "internet",
            "resolver_address",
            format!("{own} is an address of internet host {}; the resolver needs an address of its own on the segment", h.id),
        );
    }
}
