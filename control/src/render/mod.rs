//! Text for people: the one-line summary of `vpcctl validate` and the tables of
//! `vpcctl show`. Library code returns strings; the binary prints them.
//!
//! `show` is one section per resource kind, in the order `vpcctl show` prints them: VPCs,
//! subnets and route tables (`network`), internet and NAT gateways (`gateways`), peering
//! connections, flow logs, packet captures and mirror sessions (`taps`), network ACLs and
//! security groups (`firewalls`), ENIs and the engine. `names` resolves indices to ids;
//! `text` lays out tables.

use std::fmt::Write as _;

use dataplane::observe::stats::StatsReport;

mod engine;
mod enis;
mod firewalls;
mod flow_logs;
mod gateways;
mod names;
mod network;
mod peering;
mod summary;
mod taps;
mod text;

#[cfg(test)]
mod taps_tests;
#[cfg(test)]
mod tests;

pub use flow_logs::flow_logs;
pub use gateways::{internet_gateways, nat_gateways};
pub use names::{mapping_target_name, peer_name, ports_text, protocol_name, target_name};
pub use peering::peering_connections;
pub use summary::summary;
pub use taps::{capture_filter_text, mirror_sessions, packet_captures};
pub use text::table;

/// The human-readable report of `vpcctl show`.
pub fn show(report: &StatsReport) -> String {
    let c = &report.config;
    let mut out = String::new();
    let _ = writeln!(out, "epoch {}\n", report.epoch);
    out.push_str(&network::vpcs(c));
    out.push_str(&network::subnets(c));
    out.push_str(&network::route_tables(c));
    out.push_str(&internet_gateways(c, &report.uplinks));
    out.push_str(&nat_gateways(c, &report.nat_gateways));
    out.push_str(&peering_connections(c));
    out.push_str(&network::resolver(c, report));
    out.push_str(&flow_logs(c));
    out.push_str(&packet_captures(c, &report.captures));
    out.push_str(&mirror_sessions(c, &report.mirror_sessions));
    out.push_str(&firewalls::network_acls(c, report));
    out.push_str(&firewalls::security_groups(c));
    out.push_str(&enis::enis(c, report));
    out.push_str(&engine::engine(report));
    out
}
