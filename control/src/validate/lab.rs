//! `[lab]`: the settings for tests and labs (`conntrack_time_scale` in (0, 1], the NAT
//! gateways' port range within 1024..=65535 and their idle timeout > 0). `[lab]
//! flow_log_interval` is checked with the flow logs.

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
