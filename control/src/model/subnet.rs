//! `[[subnet]]`: a slice of a VPC's address space.

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

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
    /// Its availability zone, a zone of the lab's region (`us-east-1b`); absent: the
    /// region's first zone, `<region>a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

impl Subnet {
    /// Its availability zone in `region`: `availability_zone`, else `<region>a`.
    pub fn availability_zone_in(&self, region: &str) -> String {
        self.availability_zone
            .clone()
            .unwrap_or_else(|| format!("{region}a"))
    }
}
