//! The topology file's schema: serde types for the TOML that `vpcctl` reads.
//!
//! A topology file is a list of resources, each kind in its own array of tables:
//!
//! ```toml
//! [[vpc]]
//! id = "vpc-demo"
//! cidr = "10.0.0.0/16"
//!
//! [[subnet]]
//! id = "subnet-a"
//! vpc = "vpc-demo"
//! cidr = "10.0.1.0/24"
//!
//! [[eni]]
//! id = "eni-a1"
//! subnet = "subnet-a"
//! private_ip = "10.0.1.10"
//! netns = "ns-a1"
//! ```
//!
//! Every struct rejects unknown fields, so a typo is an error rather than a silently
//! ignored setting. Cross-references are by id (`vpc = "vpc-demo"`); the compiler
//! ([`crate::compile`]) resolves them to indices. Address fields are typed: a value that
//! does not parse as an address or CIDR is reported for its resource and field.
//!
//! Values are stored as written; [`crate::validate::validate`] normalises CIDRs with host
//! bits set (like the AWS API does) before compiling.

use std::net::{Ipv4Addr, Ipv6Addr};

use dataplane::wire::MacAddr;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// The default MTU of an ENI (jumbo frames, like current-generation EC2 instances).
pub const DEFAULT_MTU: u32 = 9001;
/// The smallest MTU an ENI may be configured with.
pub const MIN_MTU: u32 = 576;
/// The largest MTU an ENI may be configured with.
pub const MAX_MTU: u32 = 9001;
/// The default interface name of an ENI inside its namespace.
pub const DEFAULT_IFNAME: &str = "eth0";

/// A whole topology file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// `[[vpc]]` tables.
    #[serde(default, rename = "vpc")]
    pub vpcs: Vec<Vpc>,
    /// `[[subnet]]` tables.
    #[serde(default, rename = "subnet")]
    pub subnets: Vec<Subnet>,
    /// `[[route_table]]` tables.
    #[serde(default, rename = "route_table")]
    pub route_tables: Vec<RouteTable>,
    /// `[[eni]]` tables.
    #[serde(default, rename = "eni")]
    pub enis: Vec<Eni>,
    // Next resources (later issues), each as its own array of tables with its id prefix:
    //   network_acl        `[[network_acl]]`        id "acl-…",  subnet associations + numbered rules
    //   security_group     `[[security_group]]`     id "sg-…",   ingress/egress rules; ENIs list their groups
    //   prefix_list        `[[prefix_list]]`        id "pl-…",   usable as route destination / rule peer
    //   internet_gateway   `[[internet_gateway]]`   id "igw-…",  attached to one VPC; route target
    //   elastic_ip         `[[elastic_ip]]`         id "eipalloc-…", associated with an ENI private IPv4
    //   nat_gateway        `[[nat_gateway]]`        id "nat-…",  in a subnet, with an EIP; route target
    //   peering_connection `[[peering_connection]]` id "pcx-…",  between two VPCs; route target
    // When they arrive, add them here, to `TOP_LEVEL_KEYS` in `crate::validate`, and to
    // the target kinds of `RouteTargetRef`.
}

/// A VPC: an isolated address space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// The id, `vpc-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The primary IPv4 CIDR (`/16` to `/28`).
    pub cidr: Ipv4Net,
    /// Extra IPv4 CIDR blocks (each `/16` to `/28`, no overlaps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_cidrs: Vec<Ipv4Net>,
    /// The IPv6 block (`/56`), when the VPC is dual-stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_cidr: Option<Ipv6Net>,
}

impl Vpc {
    /// Every IPv4 CIDR of the VPC: the primary first, then the secondaries.
    pub fn ipv4_cidrs(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        std::iter::once(self.cidr).chain(self.secondary_cidrs.iter().copied())
    }

    /// Every CIDR of the VPC, in the order the compiled config lists them (primary IPv4,
    /// secondary IPv4, IPv6).
    pub fn all_cidrs(&self) -> Vec<IpNet> {
        self.ipv4_cidrs()
            .map(IpNet::V4)
            .chain(self.ipv6_cidr.map(IpNet::V6))
            .collect()
    }
}

/// A route table of one VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    /// The id, `rtb-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The VPC it belongs to (a `vpc-…` id).
    #[serde(default)]
    pub vpc: String,
    /// Whether this is the VPC's main table (used by subnets without an explicit table).
    #[serde(default)]
    pub main: bool,
    /// The user's routes; the local routes are implicit.
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// One route of a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The destination prefix (IPv4 or IPv6).
    pub destination: IpNet,
    /// `"local"`, `"blackhole"` or an ENI id (`"eni-…"`).
    pub target: String,
}

impl Route {
    /// The target, classified.
    pub fn target_ref(&self) -> RouteTargetRef<'_> {
        RouteTargetRef::parse(&self.target)
    }
}

/// A route target as written in the file, classified by its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTargetRef<'a> {
    /// `"local"`: the VPC's own address space.
    Local,
    /// `"blackhole"`: drop silently (our extension, like Transit Gateway blackhole routes).
    Blackhole,
    /// `"eni-…"`: an ENI (middlebox / NAT instance pattern).
    Eni(&'a str),
    /// A gateway kind that later issues add (`igw-`, `nat-`, `pcx-`, …); rejected for now.
    Unsupported(&'a str),
    /// Anything else.
    Invalid(&'a str),
}

/// Target id prefixes that AWS knows but this data plane does not implement yet.
pub const UNSUPPORTED_TARGET_PREFIXES: &[&str] = &[
    "igw-", "eigw-", "nat-", "pcx-", "vgw-", "tgw-", "vpce-", "i-", "lgw-", "cagw-",
];

impl<'a> RouteTargetRef<'a> {
    /// Classifies a target string.
    pub fn parse(s: &'a str) -> RouteTargetRef<'a> {
        match s {
            "local" => RouteTargetRef::Local,
            "blackhole" => RouteTargetRef::Blackhole,
            _ if s.starts_with("eni-") => RouteTargetRef::Eni(s),
            _ if UNSUPPORTED_TARGET_PREFIXES.iter().any(|p| s.starts_with(p)) => {
                RouteTargetRef::Unsupported(s)
            }
            _ => RouteTargetRef::Invalid(s),
        }
    }
}

/// A subnet: a slice of a VPC's address space, bound to one route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// The id, `subnet-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The VPC it belongs to (a `vpc-…` id).
    #[serde(default)]
    pub vpc: String,
    /// The IPv4 CIDR (`/16` to `/28`, inside one of the VPC's IPv4 CIDRs).
    pub cidr: Ipv4Net,
    /// The IPv6 CIDR (`/64`, inside the VPC's IPv6 CIDR), when dual-stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_cidr: Option<Ipv6Net>,
    /// The explicitly associated route table (`rtb-…`); none means the VPC's main table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table: Option<String>,
}

/// An elastic network interface: one virtual NIC, a TAP device in the data plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eni {
    /// The id, `eni-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The subnet it lives in (a `subnet-…` id).
    #[serde(default)]
    pub subnet: String,
    /// The primary private IPv4 address.
    pub private_ip: Ipv4Addr,
    /// Secondary private IPv4 addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_ips: Vec<Ipv4Addr>,
    /// IPv6 addresses (inside the subnet's IPv6 CIDR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_ips: Vec<Ipv6Addr>,
    /// The MAC address; generated stably from the id when absent
    /// (see [`crate::compile::eni_mac`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Whether the source/destination check is on (default `true`).
    #[serde(default = "default_true")]
    pub source_dest_check: bool,
    /// The instance-side MTU (default 9001, allowed 576..=9001).
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// The network namespace the TAP's kernel end goes into; none leaves the ENI unattached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// The interface name inside the namespace (default `eth0`).
    #[serde(default = "default_ifname")]
    pub ifname: String,
}

impl Eni {
    /// Every private IPv4 address: the primary first, then the secondaries.
    pub fn ipv4_addrs(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        std::iter::once(self.private_ip).chain(self.secondary_ips.iter().copied())
    }
}

fn default_true() -> bool {
    true
}

fn default_mtu() -> u32 {
    DEFAULT_MTU
}

fn default_ifname() -> String {
    DEFAULT_IFNAME.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let eni: Eni = toml::from_str(
            r#"
            id = "eni-a"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            "#,
        )
        .unwrap();
        assert!(eni.source_dest_check);
        assert_eq!(eni.mtu, DEFAULT_MTU);
        assert_eq!(eni.ifname, "eth0");
        assert_eq!(eni.mac, None);
        assert_eq!(eni.netns, None);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = toml::from_str::<Vpc>("id = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\ncidrs = []\n")
            .unwrap_err();
        assert!(err.message().contains("unknown field `cidrs`"), "{err}");
    }

    #[test]
    fn route_targets_classify() {
        assert_eq!(RouteTargetRef::parse("local"), RouteTargetRef::Local);
        assert_eq!(
            RouteTargetRef::parse("blackhole"),
            RouteTargetRef::Blackhole
        );
        assert_eq!(
            RouteTargetRef::parse("eni-fw"),
            RouteTargetRef::Eni("eni-fw")
        );
        assert_eq!(
            RouteTargetRef::parse("igw-1"),
            RouteTargetRef::Unsupported("igw-1")
        );
        assert_eq!(RouteTargetRef::parse("foo"), RouteTargetRef::Invalid("foo"));
    }

    #[test]
    fn round_trips_through_toml() {
        let src = r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            ipv6_cidr = "2600:1f18:aa00:100::/56"

            [[route_table]]
            id = "rtb-a"
            vpc = "vpc-a"
            main = true
            routes = [{ destination = "0.0.0.0/0", target = "blackhole" }]
        "#;
        let t: Topology = toml::from_str(src).unwrap();
        let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(t, again);
    }
}
