//! `[[security_group]]`: stateful allow rules and their peers (CIDRs, groups, prefix
//! lists).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{PortSpec, RuleProtocol};

/// The other end of a security-group rule as written: a CIDR, a security group id
/// (`sg-…`, its members' private addresses) or a prefix list id (`pl-…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RulePeer {
    /// A CIDR block.
    Cidr(IpNet),
    /// A security group (`sg-…`).
    Group(String),
    /// A prefix list (`pl-…`).
    PrefixList(String),
}

impl std::fmt::Display for RulePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RulePeer::Cidr(n) => write!(f, "{n}"),
            RulePeer::Group(s) | RulePeer::PrefixList(s) => f.write_str(s),
        }
    }
}

serialize_as_display!(RulePeer);

impl<'de> Deserialize<'de> for RulePeer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.starts_with("sg-") {
            Ok(RulePeer::Group(s))
        } else if s.starts_with("pl-") {
            Ok(RulePeer::PrefixList(s))
        } else {
            s.parse::<IpNet>().map(RulePeer::Cidr).map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{s}` is not a CIDR (e.g. 10.0.0.0/16 or 10.0.0.5/32), a security group id (`sg-…`) or a prefix list id (`pl-…`)"
                ))
            })
        }
    }
}

/// One security-group rule. Inbound rules name a `source`, outbound rules a `destination`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgRuleSpec {
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
    /// Where inbound traffic comes from (inbound rules only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RulePeer>,
    /// Where outbound traffic goes (outbound rules only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<RulePeer>,
    /// An optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl SgRuleSpec {
    /// The peer: the source or the destination, whichever is set (source first).
    pub fn peer(&self) -> Option<&RulePeer> {
        self.source.as_ref().or(self.destination.as_ref())
    }
}

/// A security group: allow-only rules, applied statefully to its member ENIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// The id, `sg-…`.
    #[serde(default)]
    pub id: String,
    /// The VPC it belongs to (a `vpc-…` id).
    #[serde(default)]
    pub vpc: String,
    /// The optional group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether this is the VPC's default group (given to ENIs that name no group).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Inbound rules; absent means none (nothing may come in unless it is a response).
    #[serde(default)]
    pub inbound: Vec<SgRuleSpec>,
    /// Outbound rules; absent means AWS's new-group default (all traffic to `0.0.0.0/0`,
    /// and `::/0` when the VPC has an IPv6 CIDR); `[]` means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Vec<SgRuleSpec>>,
}
