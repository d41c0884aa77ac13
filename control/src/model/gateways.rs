//! `[[internet_gateway]]`, `[[elastic_ip]]` and `[[nat_gateway]]`: the ways out of a VPC.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::lab::Seconds;

/// The default MTU of an internet gateway's outside hop (the gateway forwards packets of
/// up to 1500 bytes).
pub const DEFAULT_INTERNET_MTU: u32 = 1500;
/// The smallest MTU of an internet gateway's outside hop.
pub const MIN_INTERNET_MTU: u32 = 576;
/// The largest MTU of an internet gateway's outside hop.
pub const MAX_INTERNET_MTU: u32 = 1500;

/// An internet gateway: the edge of one VPC to the internet (1:1 NAT between public and
/// private IPv4 addresses), a route target `igw-…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetGateway {
    /// The id, `igw-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The VPC it is attached to (a `vpc-…` id; at most one gateway per VPC).
    #[serde(default)]
    pub vpc: String,
    /// The outside: a namespace that plays the internet. Absent leaves the gateway without
    /// a port (traffic routed to it is dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet: Option<InternetSide>,
}

/// The outside of an internet gateway as written
/// (`internet = { netns = "internet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }`):
/// a namespace (created by `vpcctl up` like the ENIs' ones) whose interface holds the
/// `hosts` addresses of `cidr` and routes everything else to `gateway`, the gateway's own
/// address on that segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetSide {
    /// The namespace that receives the kernel end of the uplink TAP.
    pub netns: String,
    /// The interface name inside the namespace (default `eth0`).
    #[serde(default = "super::eni::default_ifname")]
    pub ifname: String,
    /// The outside segment (`/8` to `/30`).
    pub cidr: Ipv4Net,
    /// The gateway's address on the segment (inside `cidr`, not its network or broadcast
    /// address).
    pub gateway: Ipv4Addr,
    /// The internet hosts: addresses configured in the namespace (at least one, inside
    /// `cidr`, distinct, not `gateway`).
    #[serde(default)]
    pub hosts: Vec<Ipv4Addr>,
    /// The MTU of the hop (default 1500, allowed 576..=1500).
    #[serde(default = "default_internet_mtu")]
    pub mtu: u32,
}

/// An Elastic IP: a public IPv4 address, optionally associated with a private IPv4 of an
/// ENI (the VPC's internet gateway maps one to the other 1:1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticIp {
    /// The allocation id, `eipalloc-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The public address (unicast, not private, shared, loopback, link-local or inside a
    /// VPC or an internet segment).
    pub public_ip: Ipv4Addr,
    /// The associated ENI (`eni-…`); absent means allocated but not associated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni: Option<String>,
    /// The private IPv4 of that ENI it maps to; default the ENI's primary private IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<Ipv4Addr>,
}

/// Whether a NAT gateway reaches the internet (AWS `ConnectivityType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NatConnectivity {
    /// `"public"` (the default): in a public subnet, each address with an Elastic IP; the
    /// VPC's internet gateway maps the addresses to their Elastic IPs.
    #[default]
    Public,
    /// `"private"`: no Elastic IP; it translates to its private addresses only (for
    /// traffic to other networks; the internet gateway drops what it sends there).
    Private,
}

impl NatConnectivity {
    /// `"public"` or `"private"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NatConnectivity::Public => "public",
            NatConnectivity::Private => "private",
        }
    }
}

/// A NAT gateway: source NAT for the subnets whose route tables send traffic to it (route
/// target `nat-…`), with per-destination port allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatGateway {
    /// The id, `nat-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The subnet it lives in (a `subnet-…` id); that subnet's network ACL applies to the
    /// traffic entering and leaving it, its route table to what it sends on.
    #[serde(default)]
    pub subnet: String,
    /// `"public"` (default) or `"private"`.
    #[serde(default, skip_serializing_if = "is_public")]
    pub connectivity: NatConnectivity,
    /// The Elastic IP of the primary address (`eipalloc-…`): required for a public gateway,
    /// forbidden for a private one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
    /// The primary private IPv4 address; absent means the highest free assignable address
    /// of the subnet (see the module documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<Ipv4Addr>,
    /// Secondary private IPv4 addresses (at most 7: 8 addresses in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_private_ips: Vec<Ipv4Addr>,
    /// The Elastic IPs of the secondary addresses, in the same order (public gateways: one
    /// per secondary private IP; private gateways: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_allocation_ids: Vec<String>,
    /// The id of the gateway's network interface (AWS/Terraform `network_interface_id`):
    /// a requester-managed ENI of interface type `nat_gateway` in its subnet, holding its
    /// private addresses, which flow logs can name. Starts with `eni-`, unique among the
    /// ENIs and the other NAT gateways' interfaces; absent means `eni-` + the gateway's
    /// id (see `crate::names::nat_gateway_interface_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    /// A lab knob: the idle timeout of this gateway's translations, seconds (a number
    /// greater than 0, fractions allowed), over `[lab] nat_gateway_idle_timeout`. AWS's
    /// is a fixed 350 s; not scaled by `conntrack_time_scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Seconds>,
}

/// Whether `connectivity` is the default (`public`), which is not written back.
fn is_public(c: &NatConnectivity) -> bool {
    *c == NatConnectivity::Public
}

/// [`DEFAULT_INTERNET_MTU`]: the default `mtu` of an internet gateway's outside.
fn default_internet_mtu() -> u32 {
    DEFAULT_INTERNET_MTU
}
