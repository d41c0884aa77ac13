//! The one-line summary of `vpcctl validate` and `vpcctl apply`.

use dataplane::vpc::config::DataplaneConfig;

use super::text::plural;

/// `1 VPC, 2 subnets, 3 route tables, 3 ENIs, 2 network ACLs, 3 security groups` (the
/// implicit main tables, default NACLs and default groups included), then
/// `, 1 internet gateway`, `, 1 NAT gateway`, `, 1 peering connection`, `, 1 flow log`,
/// `, 1 packet capture` and `, 1 mirror session` when there are any.
pub fn summary(config: &DataplaneConfig) -> String {
    let igws = match config.internet_gateways.len() {
        0 => String::new(),
        n => format!(", {}", plural(n, "internet gateway", "internet gateways")),
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
        "{}, {}, {}, {}, {}, {}{igws}{nats}{pcxs}{fls}{caps}{tms}",
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
