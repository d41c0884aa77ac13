//! `[[vpc]]`: a VPC and its CIDR blocks.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

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
    /// The DHCP option set associated with the VPC (a `dopt-…` id of a
    /// `[[dhcp_options]]`); absent: AWS's default set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_options: Option<String>,
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
