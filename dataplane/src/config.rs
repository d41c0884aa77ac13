//! The compiled configuration: what `vpcctl` (the control crate's compiler) sends to `vpcd`.
//!
//! This is the contract between the control plane and the data plane. It is already
//! validated and resolved: every cross-reference is an index into one of the vectors of
//! [`DataplaneConfig`], the implicit local routes are explicit, MACs are assigned. The
//! data plane still re-checks every index when it builds its runtime tables
//! ([`crate::tables::Tables::build`]), so a malformed message is an error, never a panic.
//!
//! The schema covers IPv4 and IPv6 alike; resources that arrive with later issues
//! (network ACLs, security groups, gateways, peering) get their own vectors here and
//! their own [`RouteTarget`] variants.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::wire::MacAddr;

/// Index of a VPC in [`DataplaneConfig::vpcs`].
pub type VpcIdx = u32;
/// Index of a subnet in [`DataplaneConfig::subnets`].
pub type SubnetIdx = u32;
/// Index of a route table in [`DataplaneConfig::route_tables`].
pub type RouteTableIdx = u32;
/// Index of an ENI in [`DataplaneConfig::enis`].
pub type EniIdx = u32;

/// The whole compiled topology that one `vpcd` runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataplaneConfig {
    /// Every VPC.
    pub vpcs: Vec<VpcConfig>,
    /// Every subnet of every VPC.
    pub subnets: Vec<SubnetConfig>,
    /// Every route table of every VPC.
    pub route_tables: Vec<RouteTableConfig>,
    /// Every ENI (attached or not).
    pub enis: Vec<EniConfig>,
}

/// One VPC: an isolated address space with its own implicit router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcConfig {
    /// The AWS-style id (`vpc-…`), for display and counters.
    pub id: String,
    /// The VPC's CIDR blocks (IPv4 primary first, then secondary IPv4, then IPv6).
    pub cidrs: Vec<IpNet>,
}

/// One subnet: a slice of a VPC's address space bound to one route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetConfig {
    /// The AWS-style id (`subnet-…`).
    pub id: String,
    /// The VPC it belongs to.
    pub vpc: VpcIdx,
    /// The IPv4 CIDR (host bits clear).
    pub ipv4_cidr: Option<ipnet::Ipv4Net>,
    /// The IPv6 CIDR (host bits clear), when the subnet is dual-stack.
    pub ipv6_cidr: Option<ipnet::Ipv6Net>,
    /// The route table that applies to traffic leaving this subnet (explicit or main).
    pub route_table: RouteTableIdx,
    /// The MAC address of the VPC router's interface in this subnet (answers ARP for `.1`).
    pub router_mac: MacAddr,
}

/// One route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTableConfig {
    /// The AWS-style id (`rtb-…`).
    pub id: String,
    /// The VPC it belongs to.
    pub vpc: VpcIdx,
    /// Every route, the implicit local routes included.
    pub routes: Vec<RouteConfig>,
}

/// One route: a destination prefix and where matching packets go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteConfig {
    /// The destination prefix (host bits clear).
    pub destination: IpNet,
    /// The target.
    pub target: RouteTarget,
}

/// Where a route sends a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "index", rename_all = "snake_case")]
pub enum RouteTarget {
    /// The VPC's local route: deliver to the ENI that owns the destination address.
    Local,
    /// Drop silently (an explicit blackhole, or a route whose target is unavailable).
    Blackhole,
    /// Deliver to this ENI (middlebox / NAT instance pattern).
    Eni(EniIdx),
    // Next issues add: InternetGateway(idx), NatGateway(idx), Peering(idx).
}

/// One elastic network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniConfig {
    /// The AWS-style id (`eni-…`).
    pub id: String,
    /// The subnet it lives in.
    pub subnet: SubnetIdx,
    /// Its MAC address.
    pub mac: MacAddr,
    /// Its private IPv4 addresses; the primary first.
    pub ipv4: Vec<Ipv4Addr>,
    /// Its IPv6 addresses.
    pub ipv6: Vec<Ipv6Addr>,
    /// Whether the source/destination check is on (the default).
    pub source_dest_check: bool,
    /// The MTU configured on the instance side.
    pub mtu: u32,
    /// Where its TAP's kernel end goes; `None` keeps the ENI in the tables without a port.
    pub attachment: Option<Attachment>,
}

/// Where an ENI's TAP device is attached.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    /// The network namespace that receives the kernel end of the TAP (must exist).
    pub netns: String,
    /// The interface name inside that namespace (for example `eth0`).
    pub ifname: String,
}
