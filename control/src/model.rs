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
//!
//! Firewalls (issue VPC-2): `[[network_acl]]` ([`NetworkAcl`]), `[[security_group]]`
//! ([`SecurityGroup`]), `[[prefix_list]]` ([`PrefixList`]), the ENI fields
//! `security_groups` and `conntrack` ([`ConntrackSettings`]), and the `[lab]` table
//! ([`LabSettings`]). Rule fields accept several spellings:
//!
//! - `protocol`: `"tcp"`, `"udp"`, `"icmp"`, `"icmpv6"`, `"all"` (any case), `"-1"` or `-1`
//!   (all), or an IANA number 0..=255 as an integer (`47`) or a string (`"47"`).
//! - `ports`: `80`, `"80"` or `"1024-65535"` (inclusive); absent (or `"0-65535"`) is all
//!   ports. Only TCP and UDP have ports.
//! - `icmp_type` / `icmp_code`: 0..=255; absent or `-1` is any.
//! - Security-group peers (`source` inbound, `destination` outbound): a CIDR, an `sg-…` id
//!   or a `pl-…` id.
//!
//! Gateways (issue VPC-3): `[[internet_gateway]]` ([`InternetGateway`], with its optional
//! `internet` side [`InternetSide`]), `[[elastic_ip]]` ([`ElasticIp`]), the ENI field
//! `public_ip`, and the route target `igw-…`.
//!
//! NAT gateways: `[[nat_gateway]]` ([`NatGateway`]), the route target
//! `nat-…`, and the `[lab]` knobs `nat_gateway_ports` and `nat_gateway_idle_timeout`
//! ([`LabSettings`]):
//!
//! ```toml
//! [[nat_gateway]]
//! id = "nat-demo"
//! subnet = "subnet-public"        # required; a public NAT gateway belongs in a public subnet
//! connectivity = "public"         # "public" (default) or "private"
//! allocation_id = "eipalloc-nat"  # required when public, forbidden when private
//! private_ip = "10.0.0.220"       # optional, see below
//! secondary_private_ips = ["10.0.0.221"]          # optional, at most 7
//! secondary_allocation_ids = ["eipalloc-nat2"]    # public: one per secondary private IP
//! ```
//!
//! Without `private_ip` the gateway gets the **highest free assignable address** of its
//! subnet: the highest address that is not one of the five reserved ones, not an address
//! (primary or secondary) of an ENI of the VPC and not an address of another NAT gateway
//! (explicit addresses are taken first, then the gateways without `private_ip` are served
//! in file order); see [`crate::compile::nat_gateway_addresses`]. A public gateway's
//! primary address maps to the Elastic IP `allocation_id` and its `k`-th secondary address
//! to `secondary_allocation_ids[k]`, at the VPC's internet gateway.
//!
//! VPC peering (issue VPC-4): `[[peering_connection]]` ([`PeeringConnection`]) and the
//! route target `pcx-…`:
//!
//! ```toml
//! [[peering_connection]]
//! id = "pcx-demo"
//! name = "demo-shared"            # optional
//! requester_vpc = "vpc-demo"
//! accepter_vpc = "vpc-shared"
//! status = "active"               # "active" (default) or "pending-acceptance"
//!
//! [[route_table]]
//! id = "rtb-main"
//! vpc = "vpc-demo"
//! main = true
//! routes = [{ destination = "10.1.0.0/16", target = "pcx-demo" }]
//! ```
//!
//! A route to a pending peering is a blackhole until it is accepted; a route to a `pcx-…`
//! id that the file does not declare (a deleted peering) is accepted with a warning and
//! compiled as a blackhole. Security-group rules may name a group of a VPC peered through
//! an active peering connection; without one the rule is stale (it matches nothing).
//!
//! Flow logs: `[[flow_log]]` ([`FlowLog`]) and the `[lab]` knob `flow_log_interval`:
//!
//! ```toml
//! [[flow_log]]
//! id = "fl-app"
//! resource = "subnet-app"         # an eni-…, subnet-… (its ENIs) or vpc-… (all its ENIs)
//! traffic_type = "ALL"            # ALL | ACCEPT | REJECT (any case)
//! max_aggregation_interval = 60   # 60 or 600 (default) seconds
//! log_destination = "/var/log/vpc/app-flow.log"   # a file on vpcd's host
//! log_format = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${tcp-flags} ${action}"
//! ```
//!
//! Without `log_format` records have the default format (the version 2 fields); a custom
//! format's `version` is the highest version among its fields.
//!
//! Packet capture and traffic mirroring (issue VPC-5): `[[packet_capture]]`
//! ([`PacketCapture`]: a pcap file of an ENI's traffic, written by vpcd), and AWS Traffic
//! Mirroring's `[[traffic_mirror_target]]` ([`TrafficMirrorTarget`]),
//! `[[traffic_mirror_filter]]` ([`TrafficMirrorFilter`]) and `[[traffic_mirror_session]]`
//! ([`TrafficMirrorSession`]):
//!
//! ```toml
//! [[packet_capture]]
//! id = "cap-web"
//! eni = "eni-web1"
//! file = "/var/tmp/web.pcap"      # absolute; its directory must exist (on vpcd's host)
//! snaplen = 65535                 # optional, 1..=262144 (default 262144)
//! filter = { protocol = "tcp", host = "10.0.2.0/24", port = 80 }   # optional, every field too
//!
//! [[traffic_mirror_target]]
//! id = "tmt-ids"
//! eni = "eni-ids"
//!
//! [[traffic_mirror_filter]]
//! id = "tmf-https"
//! inbound = [{ rule = 10, action = "accept", protocol = "tcp", source = "0.0.0.0/0",
//!              destination = "0.0.0.0/0", destination_ports = "443" }]
//! outbound = []                   # no rules: nothing outbound is mirrored
//!
//! [[traffic_mirror_session]]
//! id = "tms-web"
//! source_eni = "eni-web1"
//! target = "tmt-ids"
//! filter = "tmf-https"
//! session_number = 1              # 1..=32766, unique per source ENI; lowest first
//! vni = 42                        # optional (default derived from the id), < 2^24
//! packet_length = 100             # optional, 1..=8500 (default: the whole packet)
//! ```

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
    /// `[[prefix_list]]` tables.
    #[serde(default, rename = "prefix_list", skip_serializing_if = "Vec::is_empty")]
    pub prefix_lists: Vec<PrefixList>,
    /// `[[network_acl]]` tables.
    #[serde(default, rename = "network_acl", skip_serializing_if = "Vec::is_empty")]
    pub network_acls: Vec<NetworkAcl>,
    /// `[[security_group]]` tables.
    #[serde(
        default,
        rename = "security_group",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub security_groups: Vec<SecurityGroup>,
    /// `[[internet_gateway]]` tables.
    #[serde(
        default,
        rename = "internet_gateway",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub internet_gateways: Vec<InternetGateway>,
    /// `[[elastic_ip]]` tables.
    #[serde(default, rename = "elastic_ip", skip_serializing_if = "Vec::is_empty")]
    pub elastic_ips: Vec<ElasticIp>,
    /// `[[nat_gateway]]` tables.
    #[serde(default, rename = "nat_gateway", skip_serializing_if = "Vec::is_empty")]
    pub nat_gateways: Vec<NatGateway>,
    /// `[[peering_connection]]` tables.
    #[serde(
        default,
        rename = "peering_connection",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peering_connections: Vec<PeeringConnection>,
    /// `[[flow_log]]` tables.
    #[serde(default, rename = "flow_log", skip_serializing_if = "Vec::is_empty")]
    pub flow_logs: Vec<FlowLog>,
    /// `[[packet_capture]]` tables.
    #[serde(
        default,
        rename = "packet_capture",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub packet_captures: Vec<PacketCapture>,
    /// `[[traffic_mirror_target]]` tables.
    #[serde(
        default,
        rename = "traffic_mirror_target",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub traffic_mirror_targets: Vec<TrafficMirrorTarget>,
    /// `[[traffic_mirror_filter]]` tables.
    #[serde(
        default,
        rename = "traffic_mirror_filter",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub traffic_mirror_filters: Vec<TrafficMirrorFilter>,
    /// `[[traffic_mirror_session]]` tables.
    #[serde(
        default,
        rename = "traffic_mirror_session",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub traffic_mirror_sessions: Vec<TrafficMirrorSession>,
    /// The optional `[lab]` table: knobs for test labs, not AWS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<LabSettings>,
    // New resource kinds: add them here, to `TOP_LEVEL_KEYS` in `crate::validate`, and,
    // when they are route targets, to the target kinds of `RouteTargetRef`.
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
    /// `"local"`, `"blackhole"`, an ENI id (`"eni-…"`), an internet gateway id (`"igw-…"`),
    /// a NAT gateway id (`"nat-…"`) or a VPC peering connection id (`"pcx-…"`).
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
    /// `"igw-…"`: an internet gateway of the route table's VPC.
    InternetGateway(&'a str),
    /// `"nat-…"`: a NAT gateway of the route table's VPC.
    NatGateway(&'a str),
    /// `"pcx-…"`: a VPC peering connection of the route table's VPC.
    Peering(&'a str),
    /// A gateway kind that later issues add (`eigw-`, `tgw-`, …); rejected for now.
    Unsupported(&'a str),
    /// Anything else.
    Invalid(&'a str),
}

/// Target id prefixes that AWS knows but this data plane does not implement yet.
pub const UNSUPPORTED_TARGET_PREFIXES: &[&str] =
    &["eigw-", "vgw-", "tgw-", "vpce-", "i-", "lgw-", "cagw-"];

impl<'a> RouteTargetRef<'a> {
    /// Classifies a target string.
    pub fn parse(s: &'a str) -> RouteTargetRef<'a> {
        match s {
            "local" => RouteTargetRef::Local,
            "blackhole" => RouteTargetRef::Blackhole,
            _ if s.starts_with("eni-") => RouteTargetRef::Eni(s),
            _ if s.starts_with("igw-") => RouteTargetRef::InternetGateway(s),
            _ if s.starts_with("nat-") => RouteTargetRef::NatGateway(s),
            _ if s.starts_with("pcx-") => RouteTargetRef::Peering(s),
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
    /// Its security groups (`sg-…` ids of its VPC, 1 to 5); absent means the VPC's default
    /// group. An empty list is an error: an ENI always has at least one group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// Connection-tracking table size and idle timeouts; absent fields keep AWS's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<ConntrackSettings>,
    /// An auto-assigned public IPv4 address, mapped 1:1 to the primary private IP by the
    /// VPC's internet gateway (an Elastic IP on the primary private IP is an error instead:
    /// in AWS the EIP replaces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Ipv4Addr>,
}

impl Eni {
    /// Every private IPv4 address: the primary first, then the secondaries.
    pub fn ipv4_addrs(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        std::iter::once(self.private_ip).chain(self.secondary_ips.iter().copied())
    }
}

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
    #[serde(default = "default_ifname")]
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
}

fn is_public(c: &NatConnectivity) -> bool {
    *c == NatConnectivity::Public
}

/// The state of a VPC peering connection (the two AWS states that matter to traffic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeeringStatus {
    /// `"active"` (the default): accepted; routes to it carry traffic between the two VPCs.
    #[default]
    #[serde(rename = "active")]
    Active,
    /// `"pending-acceptance"`: requested but not accepted yet; routes to it are blackholes
    /// and security-group rules cannot reference the peer's groups.
    #[serde(rename = "pending-acceptance")]
    PendingAcceptance,
}

impl PeeringStatus {
    /// `"active"` or `"pending-acceptance"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeeringStatus::Active => "active",
            PeeringStatus::PendingAcceptance => "pending-acceptance",
        }
    }
}

fn is_active(s: &PeeringStatus) -> bool {
    *s == PeeringStatus::Active
}

/// A VPC peering connection: a private link between two VPCs whose CIDRs do not overlap
/// (route target `pcx-…`). Traffic crosses it only between the two VPCs' own addresses:
/// no transitive peering, no edge-to-edge routing through the peer's gateways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeeringConnection {
    /// The id, `pcx-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The VPC that requested the peering (a `vpc-…` id).
    #[serde(default)]
    pub requester_vpc: String,
    /// The VPC that accepts it (a `vpc-…` id, not the requester).
    #[serde(default)]
    pub accepter_vpc: String,
    /// `"active"` (default) or `"pending-acceptance"`.
    #[serde(default, skip_serializing_if = "is_active")]
    pub status: PeeringStatus,
}

impl PeeringConnection {
    /// Whether the peering is active (accepted).
    pub fn is_active(&self) -> bool {
        self.status == PeeringStatus::Active
    }
}

/// Which traffic a flow log records (AWS `TrafficType`), written `"ALL"`, `"ACCEPT"` or
/// `"REJECT"` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowLogTrafficType {
    /// `"ALL"`: accepted and rejected traffic.
    All,
    /// `"ACCEPT"`: accepted traffic only.
    Accept,
    /// `"REJECT"`: traffic refused by a security group or a network ACL only.
    Reject,
}

impl FlowLogTrafficType {
    /// `"ALL"`, `"ACCEPT"` or `"REJECT"` (AWS's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            FlowLogTrafficType::All => "ALL",
            FlowLogTrafficType::Accept => "ACCEPT",
            FlowLogTrafficType::Reject => "REJECT",
        }
    }

    /// Parses `ALL`, `ACCEPT` or `REJECT`, in any case.
    pub fn parse(s: &str) -> Option<FlowLogTrafficType> {
        match s.to_ascii_uppercase().as_str() {
            "ALL" => Some(FlowLogTrafficType::All),
            "ACCEPT" => Some(FlowLogTrafficType::Accept),
            "REJECT" => Some(FlowLogTrafficType::Reject),
            _ => None,
        }
    }

    /// The data plane's form.
    pub fn to_config(self) -> dataplane::vpc::config::FlowLogTraffic {
        match self {
            FlowLogTrafficType::All => dataplane::vpc::config::FlowLogTraffic::All,
            FlowLogTrafficType::Accept => dataplane::vpc::config::FlowLogTraffic::Accept,
            FlowLogTrafficType::Reject => dataplane::vpc::config::FlowLogTraffic::Reject,
        }
    }
}

impl Serialize for FlowLogTrafficType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FlowLogTrafficType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FlowLogTrafficType::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "traffic_type `{s}`: expected ALL, ACCEPT or REJECT (any case)"
            ))
        })
    }
}

/// AWS's default maximum aggregation interval of a flow log, seconds.
pub const DEFAULT_FLOW_LOG_INTERVAL: i64 = 600;

fn default_flow_log_interval() -> i64 {
    DEFAULT_FLOW_LOG_INTERVAL
}

/// What a flow log's `resource` names, classified by its id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowLogScope<'a> {
    /// `"eni-…"`: one ENI.
    Eni(&'a str),
    /// `"subnet-…"`: every ENI of the subnet.
    Subnet(&'a str),
    /// `"vpc-…"`: every ENI of the VPC's subnets.
    Vpc(&'a str),
    /// Anything else (flow logs attach to ENIs, subnets and VPCs only).
    Other(&'a str),
}

impl<'a> FlowLogScope<'a> {
    /// Classifies a `resource` string.
    pub fn parse(s: &'a str) -> FlowLogScope<'a> {
        if s.starts_with("eni-") {
            FlowLogScope::Eni(s)
        } else if s.starts_with("subnet-") {
            FlowLogScope::Subnet(s)
        } else if s.starts_with("vpc-") {
            FlowLogScope::Vpc(s)
        } else {
            FlowLogScope::Other(s)
        }
    }
}

/// A flow log (AWS VPC Flow Logs): per ENI of its scope, one record per flow and
/// aggregation interval, appended one per line to a file on vpcd's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLog {
    /// The id, `fl-…`.
    #[serde(default)]
    pub id: String,
    /// What it covers: an ENI (`eni-…`), every ENI of a subnet (`subnet-…`) or every ENI
    /// of a VPC (`vpc-…`).
    #[serde(default)]
    pub resource: String,
    /// `"ALL"`, `"ACCEPT"` or `"REJECT"` (any case); required, as in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_type: Option<FlowLogTrafficType>,
    /// The maximum aggregation interval, seconds: 60 or 600 (the default), as in AWS.
    /// `[lab] flow_log_interval` overrides it.
    #[serde(default = "default_flow_log_interval")]
    pub max_aggregation_interval: i64,
    /// The file the records are appended to: an absolute path on vpcd's host whose
    /// directory exists.
    #[serde(default)]
    pub log_destination: String,
    /// The record format in AWS syntax, `${field}` tokens separated by spaces (e.g.
    /// `"${version} ${interface-id} ${srcaddr} ${dstaddr} ${action}"`); absent means the
    /// default format (the version 2 fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
}

impl FlowLog {
    /// The scope, classified.
    pub fn scope(&self) -> FlowLogScope<'_> {
        FlowLogScope::parse(&self.resource)
    }

    /// The tokens of `log_format` (split on spaces), each with its field name when it has
    /// the form `${field}`; `None` without a `log_format`.
    pub fn format_tokens(&self) -> Option<Vec<(&str, Option<&str>)>> {
        self.log_format.as_deref().map(log_format_tokens)
    }
}

/// The tokens of a flow-log format (split on spaces), each with its field name when it
/// has the form `${field}` (the name itself is not checked).
pub fn log_format_tokens(format: &str) -> Vec<(&str, Option<&str>)> {
    format
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let name = t
                .strip_prefix("${")
                .and_then(|r| r.strip_suffix('}'))
                .filter(|n| !n.is_empty() && !n.contains(['$', '{', '}']));
            (t, name)
        })
        .collect()
}

/// The default connection-tracking table size of an ENI (entries).
pub const DEFAULT_CONNTRACK_MAX_ENTRIES: u32 = 65_536;
/// Default idle timeout of an established TCP connection, seconds (AWS `TcpEstablishedTimeout`).
pub const DEFAULT_TCP_ESTABLISHED_TIMEOUT: u64 = 432_000;
/// Default idle timeout of a single-exchange UDP flow, seconds (AWS `UdpTimeout`).
pub const DEFAULT_UDP_TIMEOUT: u64 = 30;
/// Default idle timeout of a UDP stream, seconds (AWS `UdpStreamTimeout`).
pub const DEFAULT_UDP_STREAM_TIMEOUT: u64 = 180;
/// Idle timeout of an opening or closing TCP connection, seconds (not configurable).
pub const TCP_TRANSITORY_TIMEOUT: u64 = 120;
/// Idle timeout of ICMP tracking, seconds (not configurable).
pub const ICMP_TIMEOUT: u64 = 30;
/// Idle timeout of other protocols' tracking, seconds (AWS: 600 s, not configurable).
pub const OTHER_TIMEOUT: u64 = 600;

/// Per-ENI connection-tracking settings as written (`conntrack = { … }` on an `[[eni]]`).
/// Timeouts are in seconds; every field is optional. Bounds (AWS's) are checked by
/// [`crate::validate::validate`]: `max_entries` 1..=1000000, `tcp_established_timeout`
/// 60..=432000, `udp_timeout` 30..=60, `udp_stream_timeout` 60..=180.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConntrackSettings {
    /// Maximum tracked connections (default 65536).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<i64>,
    /// Idle timeout of an established TCP connection, seconds (default 432000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_established_timeout: Option<i64>,
    /// Idle timeout of a UDP flow with one exchange, seconds (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_timeout: Option<i64>,
    /// Idle timeout of a UDP stream, seconds (default 180).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_stream_timeout: Option<i64>,
}

/// The default source ports of a NAT gateway, inclusive (AWS: 1024–65535).
pub const DEFAULT_NAT_GATEWAY_PORTS: [i64; 2] = [1024, 65_535];
/// The default idle timeout of a NAT gateway's translations, seconds (AWS: 350).
pub const DEFAULT_NAT_GATEWAY_IDLE_TIMEOUT: f64 = 350.0;

/// The `[lab]` table: knobs of the lab that are not AWS settings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabSettings {
    /// Multiplies every connection-tracking timeout of the ENIs when compiling (so that a
    /// test can see a 30 s UDP timeout expire after 300 ms with `0.01`); in (0, 1],
    /// default 1. It does **not** apply to NAT gateways: see `nat_gateway_idle_timeout`.
    #[serde(default = "default_scale")]
    pub conntrack_time_scale: f64,
    /// The source ports every NAT gateway allocates from, `[from, to]` inclusive, within
    /// 1024..=65535 and `from <= to`; absent means AWS's 1024–65535. A small range lets a
    /// test exhaust the ports (`ErrorPortAllocation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_ports: Option<[i64; 2]>,
    /// The idle timeout of every NAT gateway's translations, seconds (a number > 0,
    /// fractions allowed); absent means AWS's 350. Not scaled by `conntrack_time_scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_idle_timeout: Option<f64>,
    /// The aggregation interval of every flow log, seconds (a number > 0, fractions
    /// allowed), instead of its `max_aggregation_interval` (60 or 600 s), so that a test
    /// sees records within a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log_interval: Option<f64>,
}

impl Default for LabSettings {
    fn default() -> Self {
        LabSettings {
            conntrack_time_scale: 1.0,
            nat_gateway_ports: None,
            nat_gateway_idle_timeout: None,
            flow_log_interval: None,
        }
    }
}

// Compared bit for bit, so that equality is reflexive even for NaN (which validation
// rejects anyway) and the model can stay `Eq`.
impl PartialEq for LabSettings {
    fn eq(&self, other: &Self) -> bool {
        self.conntrack_time_scale.to_bits() == other.conntrack_time_scale.to_bits()
            && self.nat_gateway_ports == other.nat_gateway_ports
            && self.nat_gateway_idle_timeout.map(f64::to_bits)
                == other.nat_gateway_idle_timeout.map(f64::to_bits)
            && self.flow_log_interval.map(f64::to_bits) == other.flow_log_interval.map(f64::to_bits)
    }
}

impl Eq for LabSettings {}

fn default_scale() -> f64 {
    1.0
}

/// A customer-managed prefix list: a named set of CIDRs of one address family, usable as
/// the peer of a security-group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixList {
    /// The id, `pl-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The CIDRs (at least one; all IPv4 or all IPv6).
    #[serde(default)]
    pub entries: Vec<IpNet>,
    /// The list's capacity; `entries` must fit. A security-group rule that references the
    /// list counts as this many rules (as in AWS); absent means the number of entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<i64>,
}

impl PrefixList {
    /// How many rules a security-group rule referencing this list counts as.
    pub fn weight(&self) -> usize {
        self.max_entries
            .and_then(|m| usize::try_from(m).ok())
            .unwrap_or(self.entries.len())
            .max(1)
    }
}

/// An IP protocol selector as written: a name (`tcp`, `udp`, `icmp`, `icmpv6`, `all`; any
/// case), `-1` (all), or an IANA protocol number 0..=255 as an integer or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleProtocol {
    /// Every protocol (`-1`, `all`).
    All,
    /// One IANA protocol number.
    Number(u8),
}

/// IANA protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IANA protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IANA protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IANA protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

impl RuleProtocol {
    /// Parses the string form (names, `-1`, numbers).
    pub fn parse(s: &str) -> Option<RuleProtocol> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "all" | "-1" => Some(RuleProtocol::All),
            "tcp" => Some(RuleProtocol::Number(PROTO_TCP)),
            "udp" => Some(RuleProtocol::Number(PROTO_UDP)),
            "icmp" => Some(RuleProtocol::Number(PROTO_ICMP)),
            "icmpv6" => Some(RuleProtocol::Number(PROTO_ICMPV6)),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse::<u8>().ok().map(RuleProtocol::Number)
            }
            _ => None,
        }
    }

    /// Whether ports apply (TCP or UDP).
    pub fn has_ports(self) -> bool {
        matches!(self, RuleProtocol::Number(PROTO_TCP | PROTO_UDP))
    }

    /// Whether ICMP type/code apply (ICMP or ICMPv6).
    pub fn is_icmp(self) -> bool {
        matches!(self, RuleProtocol::Number(PROTO_ICMP | PROTO_ICMPV6))
    }

    /// The data plane's form.
    pub fn to_config(self) -> dataplane::vpc::config::Protocol {
        match self {
            RuleProtocol::All => dataplane::vpc::config::Protocol::All,
            RuleProtocol::Number(n) => dataplane::vpc::config::Protocol::Number(n),
        }
    }
}

impl std::fmt::Display for RuleProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleProtocol::All => f.write_str("all"),
            RuleProtocol::Number(PROTO_TCP) => f.write_str("tcp"),
            RuleProtocol::Number(PROTO_UDP) => f.write_str("udp"),
            RuleProtocol::Number(PROTO_ICMP) => f.write_str("icmp"),
            RuleProtocol::Number(PROTO_ICMPV6) => f.write_str("icmpv6"),
            RuleProtocol::Number(n) => write!(f, "{n}"),
        }
    }
}

/// Serializes a type as its `Display` text.
macro_rules! serialize_as_display {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

const PROTOCOL_EXPECTED: &str =
    "tcp, udp, icmp, icmpv6, all, -1, or an IANA protocol number 0..=255";

serialize_as_display!(RuleProtocol);

impl<'de> Deserialize<'de> for RuleProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RuleProtocol;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(PROTOCOL_EXPECTED)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RuleProtocol, E> {
                match v {
                    -1 => Ok(RuleProtocol::All),
                    _ => u8::try_from(v).map(RuleProtocol::Number).map_err(|_| {
                        E::custom(format!("protocol {v}: expected {PROTOCOL_EXPECTED}"))
                    }),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RuleProtocol, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RuleProtocol, E> {
                RuleProtocol::parse(v).ok_or_else(|| {
                    E::custom(format!("protocol `{v}`: expected {PROTOCOL_EXPECTED}"))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A port range as written: `80`, `"80"` or `"1024-65535"` (inclusive). Bounds and order
/// are checked by [`crate::validate::validate`] (0..=65535, from <= to); `"0-65535"` means
/// all ports, like leaving `ports` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// First port.
    pub from: u32,
    /// Last port (inclusive).
    pub to: u32,
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

const PORTS_EXPECTED: &str = "a port or an inclusive range: 80, \"80\" or \"1024-65535\"";

serialize_as_display!(PortSpec);

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PortSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(PORTS_EXPECTED)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PortSpec, E> {
                let p = u32::try_from(v)
                    .map_err(|_| E::custom(format!("ports {v}: expected {PORTS_EXPECTED}")))?;
                Ok(PortSpec { from: p, to: p })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PortSpec, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PortSpec, E> {
                let bad = || E::custom(format!("ports `{v}`: expected {PORTS_EXPECTED}"));
                let num = |s: &str| -> Result<u32, E> {
                    let s = s.trim();
                    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad());
                    }
                    s.parse::<u32>().map_err(|_| bad())
                };
                match v.split_once('-') {
                    Some((a, b)) => Ok(PortSpec {
                        from: num(a)?,
                        to: num(b)?,
                    }),
                    None => {
                        let p = num(v)?;
                        Ok(PortSpec { from: p, to: p })
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

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

/// A packet capture as written (`[[packet_capture]]`): vpcd writes what ENI `eni` sends
/// and receives, as seen on the instance's interface, to the pcap file `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketCapture {
    /// The id, `cap-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The captured ENI (an `eni-…` id).
    #[serde(default)]
    pub eni: String,
    /// The pcap file on vpcd's host: an absolute path in an existing directory; created
    /// (truncated) when the capture starts.
    #[serde(default)]
    pub file: String,
    /// Bytes kept of each frame, 1..=262144 (default 262144, tcpdump's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snaplen: Option<i64>,
    /// Which frames to keep (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<CaptureFilterSpec>,
}

/// The default snap length of a packet capture (tcpdump's).
pub const DEFAULT_SNAPLEN: i64 = 262_144;

/// A capture filter as written: every field that is given must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureFilterSpec {
    /// The IP protocol (`tcp`, `udp`, `icmp`, a number; `all` is no condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<RuleProtocol>,
    /// Source or destination inside this CIDR (`10.0.2.0/24`, `10.0.2.5/32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<IpNet>,
    /// TCP or UDP source or destination port, 0..=65535.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

/// A traffic mirror target (`[[traffic_mirror_target]]`): the ENI mirror sessions send
/// their VXLAN copies to (AWS also allows load balancers; this model has ENIs only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficMirrorTarget {
    /// The id, `tmt-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The target ENI (an `eni-…` id).
    #[serde(default)]
    pub eni: String,
}

/// Accept (mirror) or reject (do not), for a traffic mirror filter rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MirrorAction {
    /// Mirror the packet.
    Accept,
    /// Do not mirror it.
    Reject,
}

/// One numbered rule of a traffic mirror filter (AWS `CreateTrafficMirrorFilterRule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorFilterRule {
    /// The rule number, 1..=32766, unique per direction; lowest first, first match wins.
    pub rule: i64,
    /// `accept` or `reject`.
    pub action: MirrorAction,
    /// The protocol (default: all).
    #[serde(default = "all_protocols")]
    pub protocol: RuleProtocol,
    /// The source CIDR (same family as `destination`).
    pub source: IpNet,
    /// The destination CIDR.
    pub destination: IpNet,
    /// Source ports (TCP/UDP only): `80`, `"80"` or `"1024-65535"`; absent means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ports: Option<PortSpec>,
    /// Destination ports (TCP/UDP only); absent means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_ports: Option<PortSpec>,
    /// An optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn all_protocols() -> RuleProtocol {
    RuleProtocol::All
}

/// A traffic mirror filter (`[[traffic_mirror_filter]]`): rules for inbound and outbound
/// packets of a session's source; a direction without rules mirrors nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficMirrorFilter {
    /// The id, `tmf-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Rules for packets the source receives.
    #[serde(default)]
    pub inbound: Vec<MirrorFilterRule>,
    /// Rules for packets the source sends.
    #[serde(default)]
    pub outbound: Vec<MirrorFilterRule>,
}

/// A traffic mirror session (`[[traffic_mirror_session]]`): the packets of `source_eni`
/// that `filter` accepts, VXLAN-encapsulated to `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficMirrorSession {
    /// The id, `tms-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The mirrored ENI (an `eni-…` id).
    #[serde(default)]
    pub source_eni: String,
    /// The target (a `tmt-…` id).
    #[serde(default)]
    pub target: String,
    /// The filter (a `tmf-…` id).
    #[serde(default)]
    pub filter: String,
    /// 1..=32766, unique per source ENI; when several sessions of one source would mirror
    /// a packet, the lowest number does (and only it).
    #[serde(default)]
    pub session_number: i64,
    /// The VXLAN network identifier, 0..=16777215 (default: derived from the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<i64>,
    /// Bytes of each packet to mirror (after the VXLAN header), 1..=8500; absent mirrors
    /// whole packets (cut to fit the target's MTU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_length: Option<i64>,
}

fn default_true() -> bool {
    true
}

fn default_mtu() -> u32 {
    DEFAULT_MTU
}

fn default_internet_mtu() -> u32 {
    DEFAULT_INTERNET_MTU
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
            RouteTargetRef::InternetGateway("igw-1")
        );
        assert_eq!(
            RouteTargetRef::parse("eigw-1"),
            RouteTargetRef::Unsupported("eigw-1")
        );
        assert_eq!(
            RouteTargetRef::parse("nat-1"),
            RouteTargetRef::NatGateway("nat-1")
        );
        assert_eq!(
            RouteTargetRef::parse("pcx-1"),
            RouteTargetRef::Peering("pcx-1")
        );
        assert_eq!(
            RouteTargetRef::parse("tgw-1"),
            RouteTargetRef::Unsupported("tgw-1")
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

    #[test]
    fn firewalls_round_trip_through_toml() {
        let src = r#"
            [lab]
            conntrack_time_scale = 0.01

            [[prefix_list]]
            id = "pl-a"
            entries = ["203.0.113.0/24"]
            max_entries = 4

            [[network_acl]]
            id = "acl-a"
            vpc = "vpc-a"
            default = true
            subnets = ["subnet-a"]
            inbound = [
              { rule = 100, protocol = "TCP", ports = "1024-65535", cidr = "0.0.0.0/0", action = "allow" },
              { rule = 110, protocol = 47, ports = 80, cidr = "0.0.0.0/0", action = "deny" },
              { rule = 120, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr = "0.0.0.0/0", action = "allow" },
            ]

            [[security_group]]
            id = "sg-a"
            vpc = "vpc-a"
            name = "a"
            inbound = [
              { protocol = -1, source = "sg-a" },
              { protocol = "17", ports = "53", source = "pl-a", description = "dns" },
            ]
            outbound = []

            [[eni]]
            id = "eni-a"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            security_groups = ["sg-a"]
            conntrack = { udp_timeout = 60 }
        "#;
        let t: Topology = toml::from_str(src).unwrap();
        let n = &t.network_acls[0];
        assert_eq!(n.inbound[0].protocol, RuleProtocol::Number(PROTO_TCP));
        assert_eq!(
            n.inbound[0].ports,
            Some(PortSpec {
                from: 1024,
                to: 65535
            })
        );
        assert_eq!(n.inbound[1].ports, Some(PortSpec { from: 80, to: 80 }));
        assert_eq!(n.inbound[1].action, NaclAction::Deny);
        let g = &t.security_groups[0];
        assert_eq!(g.inbound[0].protocol, RuleProtocol::All);
        assert_eq!(g.inbound[0].source, Some(RulePeer::Group("sg-a".into())));
        assert_eq!(
            g.inbound[1].source,
            Some(RulePeer::PrefixList("pl-a".into()))
        );
        assert_eq!(g.outbound, Some(vec![]));
        assert_eq!(t.enis[0].conntrack.unwrap().udp_timeout, Some(60));
        assert_eq!(t.lab.unwrap().conntrack_time_scale, 0.01);
        let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(t, again);
    }

    #[test]
    fn gateways_round_trip_through_toml() {
        let src = r#"
            [[internet_gateway]]
            id = "igw-a"
            vpc = "vpc-a"
            internet = { netns = "internet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }

            [[internet_gateway]]
            id = "igw-b"
            vpc = "vpc-b"

            [[elastic_ip]]
            id = "eipalloc-a"
            public_ip = "198.51.100.40"
            eni = "eni-a"
            private_ip = "10.0.1.11"

            [[elastic_ip]]
            id = "eipalloc-free"
            public_ip = "198.51.100.41"

            [[eni]]
            id = "eni-a"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            public_ip = "198.51.100.42"
        "#;
        let t: Topology = toml::from_str(src).unwrap();
        let inet = t.internet_gateways[0].internet.as_ref().unwrap();
        assert_eq!(inet.ifname, "eth0");
        assert_eq!(inet.mtu, DEFAULT_INTERNET_MTU);
        assert_eq!(t.internet_gateways[1].internet, None);
        assert_eq!(t.elastic_ips[1].eni, None);
        assert_eq!(t.enis[0].public_ip, Some(Ipv4Addr::new(198, 51, 100, 42)));
        let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(t, again);
        let err =
            toml::from_str::<InternetGateway>("id = \"igw-a\"\nvpc = \"vpc-a\"\nnat = true\n")
                .unwrap_err();
        assert!(err.message().contains("unknown field `nat`"), "{err}");
    }

    #[test]
    fn nat_gateways_round_trip_through_toml() {
        let src = r#"
            [lab]
            nat_gateway_ports = [2000, 2009]
            nat_gateway_idle_timeout = 2.5

            [[nat_gateway]]
            id = "nat-a"
            name = "a"
            subnet = "subnet-a"
            allocation_id = "eipalloc-a"
            private_ip = "10.0.0.220"
            secondary_private_ips = ["10.0.0.221"]
            secondary_allocation_ids = ["eipalloc-b"]

            [[nat_gateway]]
            id = "nat-p"
            subnet = "subnet-a"
            connectivity = "private"
        "#;
        let t: Topology = toml::from_str(src).unwrap();
        let a = &t.nat_gateways[0];
        assert_eq!(a.connectivity, NatConnectivity::Public, "the default");
        assert_eq!(a.private_ip, Some(Ipv4Addr::new(10, 0, 0, 220)));
        assert_eq!(a.secondary_allocation_ids, ["eipalloc-b"]);
        let p = &t.nat_gateways[1];
        assert_eq!(p.connectivity, NatConnectivity::Private);
        assert_eq!((p.allocation_id.as_ref(), p.private_ip), (None, None));
        let lab = t.lab.unwrap();
        assert_eq!(lab.nat_gateway_ports, Some([2000, 2009]));
        assert_eq!(lab.nat_gateway_idle_timeout, Some(2.5));
        assert_eq!(lab.conntrack_time_scale, 1.0);
        let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(t, again);
        let err =
            toml::from_str::<NatGateway>("id = \"nat-a\"\nconnectivity = \"both\"\n").unwrap_err();
        assert!(
            err.message().contains("expected `public` or `private`"),
            "{err}"
        );
    }

    #[test]
    fn peerings_round_trip_through_toml() {
        let src = r#"
            [[peering_connection]]
            id = "pcx-a"
            name = "a-b"
            requester_vpc = "vpc-a"
            accepter_vpc = "vpc-b"

            [[peering_connection]]
            id = "pcx-p"
            requester_vpc = "vpc-a"
            accepter_vpc = "vpc-c"
            status = "pending-acceptance"

            [[route_table]]
            id = "rtb-a"
            vpc = "vpc-a"
            routes = [{ destination = "10.1.0.0/16", target = "pcx-a" }]
        "#;
        let t: Topology = toml::from_str(src).unwrap();
        let a = &t.peering_connections[0];
        assert_eq!(a.status, PeeringStatus::Active, "the default");
        assert!(a.is_active());
        assert_eq!(a.name.as_deref(), Some("a-b"));
        let p = &t.peering_connections[1];
        assert_eq!(p.status, PeeringStatus::PendingAcceptance);
        assert_eq!(p.status.as_str(), "pending-acceptance");
        assert!(!p.is_active());
        assert_eq!(
            t.route_tables[0].routes[0].target_ref(),
            RouteTargetRef::Peering("pcx-a")
        );
        let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(t, again);
        let err = toml::from_str::<PeeringConnection>(
            "id = \"pcx-a\"\nrequester_vpc = \"vpc-a\"\naccepter_vpc = \"vpc-b\"\nstatus = \"pending\"\n",
        )
        .unwrap_err();
        assert!(
            err.message().contains("`active`") && err.message().contains("`pending-acceptance`"),
            "{err}"
        );
        let err =
            toml::from_str::<PeeringConnection>("id = \"pcx-a\"\nvpc = \"vpc-a\"\n").unwrap_err();
        assert!(err.message().contains("unknown field `vpc`"), "{err}");
    }

    #[test]
    fn flow_logs_round_trip_through_toml() {
        let src = r#"
            [lab]
            flow_log_interval = 0.5

            [[flow_log]]
            id = "fl-a"
            resource = "subnet-a"
            traffic_type = "reject"
            max_aggregation_interval = 60
            log_destination = "/tmp/a.log"
            log_format = "${version}  ${srcaddr} ${tcp-flags}"

            [[flow_log]]
            id = "fl-b"
            resource = "eni-b"
            traffic_type = "ALL"
            log_destination = "/tmp/b.log"
        "#;
        let t: Topology = toml::from_str(src).unwrap();
        let a = &t.flow_logs[0];
        assert_eq!(a.traffic_type, Some(FlowLogTrafficType::Reject));
        assert_eq!(a.scope(), FlowLogScope::Subnet("subnet-a"));
        assert_eq!(
            a.format_tokens().unwrap(),
            [
                ("${version}", Some("version")),
                ("${srcaddr}", Some("srcaddr")),
                ("${tcp-flags}", Some("tcp-flags"))
            ]
        );
        let b = &t.flow_logs[1];
        assert_eq!(b.max_aggregation_interval, DEFAULT_FLOW_LOG_INTERVAL);
        assert_eq!(b.format_tokens(), None);
        assert_eq!(b.scope(), FlowLogScope::Eni("eni-b"));
        assert_eq!(t.lab.unwrap().flow_log_interval, Some(0.5));
        let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(t, again);
        assert_eq!(
            log_format_tokens("$version ${} ${a}x ${b}"),
            [
                ("$version", None),
                ("${}", None),
                ("${a}x", None),
                ("${b}", Some("b"))
            ]
        );
        assert_eq!(FlowLogScope::parse("igw-1"), FlowLogScope::Other("igw-1"));
        let err =
            toml::from_str::<FlowLog>("id = \"fl-a\"\ntraffic_type = \"some\"\n").unwrap_err();
        assert!(
            err.message().contains("expected ALL, ACCEPT or REJECT"),
            "{err}"
        );
    }

    #[test]
    fn protocols_parse_by_name_and_number() {
        for (s, p) in [
            ("tcp", RuleProtocol::Number(6)),
            ("UDP", RuleProtocol::Number(17)),
            ("Icmp", RuleProtocol::Number(1)),
            ("icmpv6", RuleProtocol::Number(58)),
            ("all", RuleProtocol::All),
            ("-1", RuleProtocol::All),
            ("47", RuleProtocol::Number(47)),
        ] {
            assert_eq!(RuleProtocol::parse(s), Some(p), "{s}");
        }
        for s in ["", "256", "gre", "+6", "-2"] {
            assert_eq!(RuleProtocol::parse(s), None, "{s}");
        }
        assert_eq!(RuleProtocol::Number(6).to_string(), "tcp");
        assert_eq!(RuleProtocol::Number(47).to_string(), "47");
    }
}
