//! The one-line summary of `vpcctl validate` and `vpcctl apply`.

use dataplane::vpc::config::{DataplaneConfig, Outside};

use super::text::plural;

/// `1 VPC, 2 subnets, 3 route tables, 3 ENIs, 2 network ACLs, 3 security groups` (the
/// implicit main tables, default NACLs and default groups included), then
/// `, 1 internet gateway` (with ` (3 internet hosts)` on the segment), `, 1 NAT gateway`, `, 1 peering connection`, `, 1 flow log`,
/// `, 1 packet capture` and `, 1 mirror session` when there are any.
pub fn summary(config: &DataplaneConfig) -> String {
    let igws = match config.internet_gateways.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "internet gateway", "internet gateways")),
    };
    let igw_ids: std::collections::HashSet<&str> = config
        .internet_gateways
        .iter()
        .map(|g| g.id.as_str())
        .collect();
    let hosts: std::collections::BTreeSet<&str> = config
        .internet_gateways
        .iter()
        .filter_map(|g| match &g.uplink.as_ref()?.outside {
            Outside::Segment { neighbours, .. } => Some(neighbours),
            Outside::Namespace { .. } => None,
        })
        .flatten()
        .map(|n| n.holder.as_str())
        .filter(|h| !igw_ids.contains(h))
        .collect();
    let hosts = match hosts.len() {
        0 => String::new(),
        n => format!(" ({})", plural(n, "internet host", "internet hosts")),
    };
    let nats = match config.nat_gateways.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "NAT gateway", "NAT gateways")),
    };
    let pcxs = match config.peerings.len() {
        0 => String::new(),
        n => format!(
            ", {}",
            plural(n, "peering connection", "peering connections")
        ),
    };
    let fls = match config.flow_logs.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "flow log", "flow logs")),
    };
    let caps = match config.captures.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "packet capture", "packet captures")),
    };
    let tms = match config.mirror_sessions.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "mirror session", "mirror sessions")),
    };
    format!(
        "{}, {}, {}, {}, {}, {}{igws}{hosts}{nats}{pcxs}{fls}{caps}{tms}",
        plural(config.vpcs.len(), "VPC", "VPCs"),
        plural(config.subnets.len(), "subnet", "subnets"),
        plural(config.route_tables.len(), "route table", "route tables"),
        plural(config.enis.len(), "ENI", "ENIs"),
        plural(config.network_acls.len(), "network ACL", "network ACLs"),
        plural(
            config.security_groups.len(),
            "security group",
            "security groups"
        ),
    )
}
