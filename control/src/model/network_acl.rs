//! `[[network_acl]]`: stateless numbered rules at the boundary of subnets.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{PortSpec, RuleProtocol};

/// Allow or deny, for a network ACL rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NaclAction {
    /// Let the packet through.
    Allow,
    /// Drop the packet.
    Deny,
}

/// One numbered rule of a network ACL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaclRule {
    /// The rule number, 1..=32766; rules are evaluated in ascending order, first match wins.
    pub rule: i64,
    /// The protocol.
    pub protocol: RuleProtocol,
    /// The port range (TCP/UDP only); absent means all ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortSpec>,
    /// The ICMP type (ICMP/ICMPv6 only), 0..=255; absent or -1 means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i64>,
    /// The ICMP code (ICMP/ICMPv6 only), 0..=255; absent or -1 means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<i64>,
    /// Source (inbound) or destination (outbound) CIDR; IPv4 rules never match IPv6.
    pub cidr: IpNet,
    /// `allow` or `deny`.
    pub action: NaclAction,
}

/// A network ACL: stateless numbered rules at the boundary of the subnets it is
/// associated with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAcl {
    /// The id, `acl-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The VPC it belongs to (a `vpc-…` id).
    #[serde(default)]
    pub vpc: String,
    /// Whether this is the VPC's default NACL (used by every subnet that no NACL lists).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// The subnets associated with it (each subnet with at most one NACL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// Rules for traffic entering the subnet (CIDR = source).
    #[serde(default)]
    pub inbound: Vec<NaclRule>,
    /// Rules for traffic leaving the subnet (CIDR = destination).
    #[serde(default)]
    pub outbound: Vec<NaclRule>,
}
