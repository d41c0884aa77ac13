//! The compiled configuration: what `vpcctl` (the control crate's compiler) sends to `vpcd`.
//!
//! This is the contract between the control plane and the data plane. It is already
//! validated and resolved: every cross-reference is an index into one of the vectors of
//! [`DataplaneConfig`], the implicit local routes are explicit, MACs are assigned. The
//! data plane still re-checks every index when it builds its runtime tables
//! ([`crate::vpc::tables::Tables::build`]), so a malformed message is an error, never a panic.
//!
//! The schema covers IPv4 and IPv6 alike; resources that arrive with later issues
//! (network ACLs, security groups, gateways, peering) get their own vectors here and
//! their own [`RouteTarget`] variants.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::engine::port::PortIdx;
use crate::wire::MacAddr;

/// Declares an index newtype: a `u32` that serializes as a plain JSON number
/// (`#[serde(transparent)]`), so the wire format is that of a bare integer while the
/// compiler keeps an ENI index from being used as a subnet index or a port number.
macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// The index as a `usize`, for indexing its vector (`v.get(i.idx())`).
            #[inline]
            pub fn idx(self) -> usize {
                self.0 as usize
            }
        }

        impl From<u32> for $name {
            #[inline]
            fn from(i: u32) -> $name {
                $name(i)
            }
        }

        /// Prints the bare number.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

index_type!(
    /// Index of a VPC in [`DataplaneConfig::vpcs`].
    VpcIdx
);
index_type!(
    /// Index of a subnet in [`DataplaneConfig::subnets`].
    SubnetIdx
);
index_type!(
    /// Index of a route table in [`DataplaneConfig::route_tables`].
    RouteTableIdx
);
index_type!(
    /// Index of an ENI in [`DataplaneConfig::enis`]. ENI `i`'s engine port is port `i`
    /// (see the `From<EniIdx> for PortIdx` conversion below).
    EniIdx
);
index_type!(
    /// Index of a network ACL in [`DataplaneConfig::network_acls`].
    NaclIdx
);
index_type!(
    /// Index of a security group in [`DataplaneConfig::security_groups`].
    SgIdx
);
index_type!(
    /// Index of an internet gateway in [`DataplaneConfig::internet_gateways`]. Its uplink
    /// is engine port `enis.len() + g` ([`crate::vpc::verdict::OutPort::index`]).
    IgwIdx
);
index_type!(
    /// Index of a NAT gateway in [`DataplaneConfig::nat_gateways`].
    NatIdx
);
index_type!(
    /// Index of a VPC peering connection in [`DataplaneConfig::peerings`].
    PeeringIdx
);

/// ENI `i`'s port is port `i`: the engine numbers the ENIs' ports first, in
/// [`DataplaneConfig::enis`] order, then one uplink per internet gateway.
impl From<EniIdx> for PortIdx {
    #[inline]
    fn from(e: EniIdx) -> PortIdx {
        PortIdx(e.0)
    }
}

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
    /// Every network ACL (the VPCs' default ones included).
    #[serde(default)]
    pub network_acls: Vec<NetworkAclConfig>,
    /// Every security group (the VPCs' default ones included).
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupConfig>,
    /// Every internet gateway (at most one per VPC).
    #[serde(default)]
    pub internet_gateways: Vec<InternetGatewayConfig>,
    /// Every NAT gateway.
    #[serde(default)]
    pub nat_gateways: Vec<NatGatewayConfig>,
    /// Every VPC peering connection (active or pending).
    #[serde(default)]
    pub peerings: Vec<PeeringConfig>,
    /// Flow logs (VPC Flow Logs): per-ENI aggregated flow records written to files.
    #[serde(default)]
    pub flow_logs: Vec<FlowLogConfig>,
    /// Packet captures: per-ENI pcap files.
    #[serde(default)]
    pub captures: Vec<CaptureConfig>,
    /// Traffic mirroring sessions: copies of an ENI's packets, VXLAN-encapsulated, to a
    /// target ENI.
    #[serde(default)]
    pub mirror_sessions: Vec<MirrorSessionConfig>,
    /// The VPC resolver: instance names and private hosted zones.
    #[serde(default)]
    pub dns: DnsConfig,
    /// The AWS region the lab stands for (empty: [`DEFAULT_REGION`]); the instance
    /// metadata service reports it.
    #[serde(default)]
    pub region: String,
}

/// The region of a configuration that names none.
pub const DEFAULT_REGION: &str = "us-east-1";

impl DataplaneConfig {
    /// The region the lab stands for ([`DEFAULT_REGION`] when none is set).
    pub fn region(&self) -> &str {
        if self.region.is_empty() {
            DEFAULT_REGION
        } else {
            &self.region
        }
    }
}

/// The VPC resolver (the Amazon-provided DNS server at the VPC's `+2` address and
/// 169.254.169.253): what it knows and how fast it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// The domain of the instances' private DNS names: `ec2.internal` in us-east-1,
    /// `<region>.compute.internal` elsewhere.
    pub instance_domain: String,
    /// Queries per second each ENI may send the resolver (AWS: 1,024); the excess is
    /// dropped and counted (`dns_rate_limited`).
    pub max_pps: u32,
    /// Private hosted zones.
    #[serde(default)]
    pub zones: Vec<HostedZoneConfig>,
    /// Where queries for names outside every zone the resolver knows go (off by
    /// default: they get NXDOMAIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<DnsUpstream>,
}

/// The resolver's optional upstream: a DNS server on UDP port 53, reached from `source`
/// inside the network namespace `netns` (where vpcd opens a socket of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsUpstream {
    /// The upstream server's address (port 53).
    pub server: Ipv4Addr,
    /// The namespace the socket is opened in (empty: vpcd's own).
    pub netns: String,
    /// The socket's source address in that namespace.
    pub source: Ipv4Addr,
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        DnsConfig {
            instance_domain: "ec2.internal".into(),
            max_pps: 1024,
            zones: Vec::new(),
            upstream: None,
        }
    }
}

/// A private hosted zone and the VPCs it is associated with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedZoneConfig {
    /// The zone's id (`Z…`).
    pub id: String,
    /// The zone's apex, without the final dot (`corp.internal`).
    pub name: String,
    /// The VPCs whose resolver answers from it.
    pub vpcs: Vec<VpcIdx>,
    /// Its records (names fully qualified, without the final dot).
    pub records: Vec<DnsRecordConfig>,
}

/// One record set of a private hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecordConfig {
    /// The owner name, fully qualified without the final dot (`db.corp.internal`).
    pub name: String,
    /// The type.
    pub kind: DnsRecordKind,
    /// The values: IPv4 addresses (A), one target name (CNAME), strings (TXT).
    pub values: Vec<String>,
    /// Time to live, seconds.
    pub ttl: u32,
}

/// The record types a private hosted zone may hold here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRecordKind {
    /// An IPv4 address.
    A,
    /// An alias for another name.
    Cname,
    /// Text strings.
    Txt,
}

/// Which records a flow log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FlowLogTraffic {
    /// Accepted flows only.
    Accept,
    /// Rejected flows only.
    Reject,
    /// Both.
    All,
}

/// A network interface that flow logs record: an ENI, or the requester-managed interface
/// of a NAT gateway (AWS interface type `nat_gateway`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "index", rename_all = "snake_case")]
pub enum Interface {
    /// An ENI.
    Eni(EniIdx),
    /// The network interface of this NAT gateway.
    NatGateway(NatIdx),
}

impl From<EniIdx> for Interface {
    #[inline]
    fn from(e: EniIdx) -> Interface {
        Interface::Eni(e)
    }
}

impl From<NatIdx> for Interface {
    #[inline]
    fn from(n: NatIdx) -> Interface {
        Interface::NatGateway(n)
    }
}

/// A flow log (AWS VPC Flow Logs): for each of its interfaces, one record per flow
/// (5-tuple, direction, action) and aggregation interval, written one per line to `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLogConfig {
    /// The AWS-style id (`fl-…`).
    pub id: String,
    /// The interfaces it covers (an ENI or a NAT gateway's interface; every interface of
    /// a subnet, or of a VPC), resolved: ENIs in ENI order, then NAT gateways' interfaces
    /// in NAT gateway order.
    pub interfaces: Vec<Interface>,
    /// Which records it keeps.
    pub traffic: FlowLogTraffic,
    /// The maximum aggregation interval (AWS: 60 s or 600 s), in milliseconds.
    pub interval_ms: u64,
    /// The file the records are appended to (on vpcd's host).
    pub path: String,
    /// The record fields in order (AWS field names, `version` … `traffic-path`); the
    /// default format is the version 2 list.
    pub fields: Vec<String>,
}

/// A packet capture on one ENI's port: what the instance sends and what it receives,
/// written to a pcap file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureConfig {
    /// The capture's id (`cap-…`).
    pub id: String,
    /// The ENI.
    pub eni: EniIdx,
    /// The pcap file (on vpcd's host); created (truncated) when the capture starts.
    pub path: String,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// Which frames to keep (all when `None`).
    pub filter: Option<CaptureFilter>,
}

/// A capture filter: every field that is set must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureFilter {
    /// IP protocol number.
    pub protocol: Option<u8>,
    /// Source or destination address inside this prefix.
    pub host: Option<IpNet>,
    /// TCP/UDP source or destination port.
    pub port: Option<u16>,
}

/// A traffic mirroring session (AWS Traffic Mirroring): packets of `source` that match
/// the filter are copied, truncated to `packet_length`, VXLAN-encapsulated (UDP 4789,
/// network identifier `vni`) and sent to the target ENI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorSessionConfig {
    /// The AWS-style id (`tms-…`).
    pub id: String,
    /// The mirrored ENI.
    pub source: EniIdx,
    /// The ENI that receives the copies (the mirror target).
    pub target: EniIdx,
    /// Session number (1–32766): when several sessions match a packet, the lowest wins.
    pub session_number: u16,
    /// The VXLAN network identifier (24 bits).
    pub vni: u32,
    /// Bytes of each mirrored packet kept (`None`: the whole packet, within the target's
    /// MTU).
    pub packet_length: Option<u32>,
    /// Rules for packets the source receives (inbound); none: nothing inbound is
    /// mirrored.
    pub inbound: Vec<MirrorRule>,
    /// Rules for packets the source sends (outbound).
    pub outbound: Vec<MirrorRule>,
}

/// One traffic-mirror filter rule: evaluated by ascending number, first match decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRule {
    /// 1–32766.
    pub rule_number: u16,
    /// Mirror (`true`, `accept`) or not (`reject`).
    pub accept: bool,
    /// The protocol (`All` for any).
    pub protocol: Protocol,
    /// Source prefix.
    pub source: IpNet,
    /// Destination prefix.
    pub destination: IpNet,
    /// Source port range (TCP/UDP), any when `None`.
    pub source_ports: Option<PortRange>,
    /// Destination port range (TCP/UDP), any when `None`.
    pub destination_ports: Option<PortRange>,
}

/// A VPC peering connection: a private link between two VPCs whose CIDRs do not overlap.
/// Traffic crosses it only when a route sends it there and its destination is inside
/// the other VPC's CIDRs (and its source inside the sender's); it is never routed on
/// from the other side (no transitive peering, no edge-to-edge routing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeeringConfig {
    /// The AWS-style id (`pcx-…`).
    pub id: String,
    /// The requester VPC.
    pub requester: VpcIdx,
    /// The accepter VPC.
    pub accepter: VpcIdx,
    /// `true` once accepted; routes to a pending peering are blackholes.
    pub active: bool,
}

/// A NAT gateway: a managed node in one subnet that translates the source address and
/// port of connections its route-table users open (SNAT to one of its private
/// addresses, with per-destination port allocation). For a public NAT gateway the
/// internet gateway then maps that private address to its Elastic IP (through an
/// ordinary [`PublicMapping`] whose target is the NAT gateway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatGatewayConfig {
    /// The AWS-style id (`nat-…`).
    pub id: String,
    /// The id of its network interface (`eni-…`, requester-managed, interface type
    /// `nat_gateway`): the `interface-id` of its flow-log records.
    #[serde(default)]
    pub interface_id: String,
    /// The subnet it lives in (its ACL applies to traffic entering and leaving it).
    pub subnet: SubnetIdx,
    /// Its private IPv4 addresses, the primary first (AWS: up to 8).
    pub addrs: Vec<Ipv4Addr>,
    /// `true` for a public NAT gateway (its addresses have Elastic IPs), `false` for a
    /// private one.
    pub public: bool,
    /// The source ports it allocates from (AWS: 1024–65535).
    pub ports: PortRange,
    /// Simultaneous connections per address to one destination (IP, port, protocol)
    /// (AWS: 55,000).
    pub max_per_destination: u32,
    /// Idle timeout of a translation, all protocols (AWS: 350 s); a TCP packet from
    /// inside that finds no translation is answered with a RST.
    pub idle_timeout_ms: u64,
    /// Bound of the translation table (memory); new connections beyond it are dropped
    /// and counted as `ErrorPortAllocation`.
    pub max_connections: u32,
}

impl NatGatewayConfig {
    /// AWS's port range, 1024–65535.
    pub const PORTS: PortRange = PortRange {
        from: 1024,
        to: 65535,
    };
    /// AWS's limit of simultaneous connections per address and destination.
    pub const MAX_PER_DESTINATION: u32 = 55_000;
    /// AWS's idle timeout, 350 s.
    pub const IDLE_TIMEOUT_MS: u64 = 350_000;
    /// Default bound of the translation table.
    pub const MAX_CONNECTIONS: u32 = 1 << 20;
}

/// An internet gateway: the VPC's edge to the internet, doing 1:1 NAT between the
/// public IPv4 addresses (public IPs and Elastic IPs) and the private addresses they are
/// associated with. Its outside is a port like any other (the uplink).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGatewayConfig {
    /// The AWS-style id (`igw-…`).
    pub id: String,
    /// The VPC it is attached to.
    pub vpc: VpcIdx,
    /// Its MAC address on the uplink.
    pub mac: MacAddr,
    /// The outside port; `None` leaves the gateway without a port (egress is dropped
    /// as `eni_not_attached`).
    pub uplink: Option<Uplink>,
    /// The 1:1 NAT table: public address → ENI and private address.
    pub mappings: Vec<PublicMapping>,
}

/// One public IPv4 address and the private address it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicMapping {
    /// The public address.
    pub public: Ipv4Addr,
    /// What it is associated with (an ENI, or a NAT gateway).
    pub target: MappingTarget,
    /// The private address of that ENI or NAT gateway it maps to.
    pub private: Ipv4Addr,
    /// Where it comes from: an `eipalloc-…` id, or `public_ip` (an ENI's public IPv4).
    pub source: String,
}

/// What a public address is associated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "index", rename_all = "snake_case")]
pub enum MappingTarget {
    /// An ENI (its public IP or an Elastic IP on one of its private addresses).
    Eni(EniIdx),
    /// A public NAT gateway (the Elastic IP of one of its addresses).
    NatGateway(NatIdx),
}

/// The outside of an internet gateway: a TAP whose kernel end sits in a namespace that
/// plays the internet (never one of the host's own interfaces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uplink {
    /// The namespace and interface name of the kernel end.
    pub attachment: Attachment,
    /// The MAC of the kernel end. On a namespace of its own, every outbound frame goes
    /// to it; on the shared segment, a frame for an address no neighbour holds goes to
    /// it, and the segment's bridge takes it in and drops it (the internet loses it).
    pub host_mac: MacAddr,
    /// The MTU of the hop (1500: the internet gateway forwards packets up to 1500 bytes).
    pub mtu: u32,
    /// How the kernel end is set up.
    pub outside: Outside,
}

/// What is on the other side of an internet gateway's uplink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outside {
    /// A namespace of its own (the `internet = {…}` form): the kernel end holds the
    /// internet hosts' addresses and routes everything else to the gateway's address.
    Namespace {
        /// The outside segment (for example 203.0.113.0/24).
        cidr: ipnet::Ipv4Net,
        /// The gateway's own address on that segment (vpcd answers ARP and ping for
        /// it); the namespace's default route points to it.
        gateway_ip: Ipv4Addr,
        /// Addresses configured on the kernel end (the internet hosts).
        hosts: Vec<Ipv4Addr>,
    },
    /// A port of the shared internet segment: the kernel end joins bridge `bridge` in
    /// the namespace, where the internet hosts (and the other gateways) are on-link.
    /// vpcd answers ARP from a neighbour for the gateway's public addresses, and sends
    /// to a neighbour's MAC.
    Segment {
        /// The bridge in the namespace.
        bridge: String,
        /// Who is on the segment for this gateway: the internet hosts behind it, and the
        /// public addresses of the other gateways on the segment.
        neighbours: Vec<Neighbour>,
    },
}

/// An address on the internet segment and the MAC that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbour {
    /// The address.
    pub ip: Ipv4Addr,
    /// Its MAC on the segment.
    pub mac: MacAddr,
    /// Who holds it (an internet host's id, or an `igw-…`), for display.
    pub holder: String,
}

/// One VPC: an isolated address space with its own implicit router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcConfig {
    /// The AWS-style id (`vpc-…`), for display and counters.
    pub id: String,
    /// The VPC's CIDR blocks (IPv4 primary first, then secondary IPv4, then IPv6).
    pub cidrs: Vec<IpNet>,
    /// What the VPC router's DHCP server tells the VPC's ENIs besides their address.
    #[serde(default)]
    pub dhcp: DhcpConfig,
}

/// The DHCP options of a VPC (its DHCP option set, or AWS's defaults), as the VPC
/// router's DHCP server hands them out. The address, mask, router and MTU come from the
/// ENI and its subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DhcpConfig {
    /// Domain name servers (option 6); empty: the option is not sent.
    pub dns_servers: Vec<Ipv4Addr>,
    /// The domain name (option 15); `None`: not sent.
    pub domain_name: Option<String>,
    /// NTP servers (option 42); empty: not sent.
    pub ntp_servers: Vec<Ipv4Addr>,
    /// The lease time, seconds (renewal at half of it, rebinding at seven eighths).
    pub lease_secs: u32,
}

/// The lease time the VPC router's DHCP server gives when none is configured (seconds).
pub const DEFAULT_DHCP_LEASE_SECS: u32 = 3600;

impl Default for DhcpConfig {
    fn default() -> Self {
        DhcpConfig {
            dns_servers: Vec::new(),
            domain_name: None,
            ntp_servers: Vec::new(),
            lease_secs: DEFAULT_DHCP_LEASE_SECS,
        }
    }
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
    /// The network ACL at the subnet boundary (explicit association or the VPC's default).
    /// `None` disables the stage (the compiler always sets it; bare fixtures may not).
    #[serde(default)]
    pub network_acl: Option<NaclIdx>,
    /// Its availability zone (`us-east-1a`); empty: the region's first zone (`<region>a`).
    #[serde(default)]
    pub availability_zone: String,
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
    /// For a route in AWS's state `blackhole` because its target was deleted: the id of
    /// that target as the topology wrote it (`nat-…`, `eni-…`, …), so that `vpcctl show`
    /// and `vpcctl trace` can name it; `target` is then [`RouteTarget::Blackhole`].
    /// `None` for every other route. Only a name: forwarding never reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_target: Option<String>,
}

impl RouteConfig {
    /// A route to `target` (not a deleted one).
    pub fn new(destination: IpNet, target: RouteTarget) -> Self {
        RouteConfig {
            destination,
            target,
            deleted_target: None,
        }
    }
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
    /// Out through this internet gateway.
    InternetGateway(IgwIdx),
    /// Through this NAT gateway.
    NatGateway(NatIdx),
    /// Over this VPC peering connection to the other VPC.
    Peering(PeeringIdx),
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
    /// Its security groups (at most 5). `None` disables the stage (the compiler always
    /// sets it, to the VPC's default group when the file names none).
    #[serde(default)]
    pub security_groups: Option<Vec<SgIdx>>,
    /// Its connection-tracking table size and idle timeouts.
    #[serde(default)]
    pub conntrack: ConntrackConfig,
    /// Packets per second it may send and receive together (AWS's bidirectional
    /// per-instance PPS allowance); more are dropped and counted as
    /// `pps_allowance_exceeded` on it. 0: no limit.
    #[serde(default)]
    pub pps_allowance: u32,
    /// The instance it is attached to, as the instance metadata service describes it.
    #[serde(default)]
    pub instance: InstanceConfig,
}

/// The instance an ENI is attached to, as the instance metadata service (169.254.169.254)
/// describes it. ENIs in one namespace belong to one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceConfig {
    /// The instance id (`i-…`); empty: derived from the ENI id.
    pub id: String,
    /// The instance type (`t3.micro`).
    pub instance_type: String,
    /// The image it was launched from (`ami-…`).
    pub image_id: String,
    /// The ENI's device index on the instance (0: the primary network interface).
    pub device_index: u32,
    /// The metadata service's options (AWS `MetadataOptions`).
    pub metadata: MetadataOptions,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            id: String::new(),
            instance_type: DEFAULT_INSTANCE_TYPE.into(),
            image_id: DEFAULT_IMAGE_ID.into(),
            device_index: 0,
            metadata: MetadataOptions::default(),
        }
    }
}

/// The instance type the metadata service reports when none is configured.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
/// The image id the metadata service reports when none is configured.
pub const DEFAULT_IMAGE_ID: &str = "ami-0abcdef1234567890";

/// An instance's metadata options, as AWS's `MetadataOptions`: whether the endpoint
/// answers, whether IMDSv2 session tokens are required, and the IP hop limit of the
/// token response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct MetadataOptions {
    /// `http_endpoint = "enabled"` (default): 169.254.169.254 answers; disabled, it is
    /// dropped (`metadata_disabled`).
    pub endpoint_enabled: bool,
    /// `http_tokens = "required"`: requests without a valid session token get 401
    /// (IMDSv2 only); `optional` (default) also answers IMDSv1 requests.
    pub tokens_required: bool,
    /// `http_put_response_hop_limit` (1..=64, default 1): the IP TTL of the token
    /// response, so a token does not reach past that many hops (a container's bridge).
    pub hop_limit: u8,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        MetadataOptions {
            endpoint_enabled: true,
            tokens_required: false,
            hop_limit: 1,
        }
    }
}

/// Connection tracking of one ENI: table size and idle timeouts, in milliseconds so that
/// tests can scale AWS's seconds down (`[lab] conntrack_time_scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ConntrackConfig {
    /// Maximum tracked connections; new ones beyond it are dropped and counted.
    pub max_entries: u32,
    /// Idle timeout of an established TCP connection (AWS `TcpEstablishedTimeout`).
    pub tcp_established_ms: u64,
    /// Idle timeout of a TCP connection that is opening or closing (not configurable in
    /// AWS; undocumented there).
    pub tcp_transitory_ms: u64,
    /// Idle timeout of a UDP flow that saw a single exchange (AWS `UdpTimeout`).
    pub udp_ms: u64,
    /// Idle timeout of a UDP stream (more than one exchange; AWS `UdpStreamTimeout`).
    pub udp_stream_ms: u64,
    /// Idle timeout of ICMP echo tracking.
    pub icmp_ms: u64,
    /// Idle timeout of other protocols (tracked by addresses and protocol, 600 s in AWS).
    pub other_ms: u64,
}

impl Default for ConntrackConfig {
    fn default() -> Self {
        ConntrackConfig {
            max_entries: 65_536,
            tcp_established_ms: 432_000_000,
            tcp_transitory_ms: 120_000,
            udp_ms: 30_000,
            udp_stream_ms: 180_000,
            icmp_ms: 30_000,
            other_ms: 600_000,
        }
    }
}

/// An IP protocol selector of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Every protocol (`-1`).
    All,
    /// This IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …).
    Number(u8),
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub from: u16,
    /// Last port (inclusive).
    pub to: u16,
}

/// An ICMP type/code selector; `None` matches any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct IcmpMatch {
    /// The ICMP type, or any.
    pub icmp_type: Option<u8>,
    /// The ICMP code, or any.
    pub code: Option<u8>,
}

/// What a rule matches besides addresses. Ports apply only to TCP and UDP and ICMP
/// type/code only to ICMP/ICMPv6; for any other protocol they are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrafficMatch {
    /// The protocol.
    pub protocol: Protocol,
    /// The port range (TCP/UDP); `None` means all ports.
    pub ports: Option<PortRange>,
    /// ICMP type/code (ICMP/ICMPv6); `None` means all.
    pub icmp: Option<IcmpMatch>,
}

/// A network ACL: numbered, stateless allow/deny rules at a subnet boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAclConfig {
    /// The AWS-style id (`acl-…`).
    pub id: String,
    /// The VPC it belongs to.
    pub vpc: VpcIdx,
    /// Rules for traffic entering the subnet (CIDR = source), any order; evaluated by
    /// ascending rule number, first match wins, then the implicit final deny.
    pub inbound: Vec<NaclEntry>,
    /// Rules for traffic leaving the subnet (CIDR = destination).
    pub outbound: Vec<NaclEntry>,
}

/// One numbered network ACL rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NaclEntry {
    /// 1..=32766.
    pub rule_number: u16,
    /// Protocol, ports, ICMP type/code.
    pub traffic: TrafficMatch,
    /// Source (inbound) or destination (outbound) prefix; IPv4 rules never match IPv6.
    pub cidr: IpNet,
    /// Allow (`true`) or deny.
    pub allow: bool,
}

/// A security group: allow-only rules, applied statefully per ENI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupConfig {
    /// The AWS-style id (`sg-…`).
    pub id: String,
    /// The VPC it belongs to.
    pub vpc: VpcIdx,
    /// Inbound rules (peer = source).
    pub inbound: Vec<SgRule>,
    /// Outbound rules (peer = destination).
    pub outbound: Vec<SgRule>,
}

/// One security-group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SgRule {
    /// Protocol, ports, ICMP type/code.
    pub traffic: TrafficMatch,
    /// The other end.
    pub peer: SgPeer,
}

/// The other end of a security-group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SgPeer {
    /// A CIDR block.
    Cidr(IpNet),
    /// The private addresses of the members of this group.
    Group(SgIdx),
    /// The entries of a prefix list.
    PrefixList {
        /// The prefix list id (`pl-…`), for display.
        id: String,
        /// Its entries.
        cidrs: Vec<IpNet>,
    },
}

/// Where an ENI's port is attached: by default the kernel end of a TAP device in a
/// network namespace ([`AttachmentKind::Namespace`]); or a Unix socket a QEMU guest
/// connects to ([`AttachmentKind::QemuStream`], [`AttachmentKind::VhostUser`]), where
/// `netns` and `ifname` are empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    /// The network namespace that receives the kernel end of the TAP (must exist); empty
    /// for a kind without a namespace.
    pub netns: String,
    /// The interface name inside that namespace (for example `eth0`); empty for a kind
    /// without a namespace.
    pub ifname: String,
    /// The instance configures its address by DHCP: the kernel end is left without
    /// addresses and route (`vpcctl up` runs a DHCP client in the namespace).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dhcp: bool,
    /// What the port is (absent in JSON written before VPC-11: a namespace TAP).
    #[serde(default, skip_serializing_if = "AttachmentKind::is_namespace")]
    pub kind: AttachmentKind,
}

impl Attachment {
    /// A QEMU guest's `-netdev stream` socket at `socket`. `dhcp` is off: it says what
    /// to do with a namespace's kernel end, and there is none (the guest configures
    /// itself, by DHCP from the VPC router or from its own console).
    pub fn qemu_stream(socket: impl Into<std::path::PathBuf>) -> Attachment {
        Attachment {
            netns: String::new(),
            ifname: String::new(),
            dhcp: false,
            kind: AttachmentKind::QemuStream {
                socket: socket.into(),
            },
        }
    }

    /// A QEMU guest's vhost-user NIC (`-chardev socket,path=SOCKET -netdev vhost-user`)
    /// whose back end listens at `socket`; `dhcp` is off as for [`Attachment::qemu_stream`].
    pub fn vhost_user(socket: impl Into<std::path::PathBuf>) -> Attachment {
        Attachment {
            netns: String::new(),
            ifname: String::new(),
            dhcp: false,
            kind: AttachmentKind::VhostUser {
                socket: socket.into(),
            },
        }
    }

    /// An existing interface `name` (a hypervisor's TAP, a veth), in namespace `netns`
    /// (`None`: vpcd's own), read and written with `AF_PACKET` and its vnet header;
    /// `dhcp` is off: the guest behind it configures itself.
    pub fn interface(name: impl Into<String>, netns: Option<String>) -> Attachment {
        Attachment {
            netns: netns.unwrap_or_default(),
            ifname: String::new(),
            dhcp: false,
            kind: AttachmentKind::Interface { name: name.into() },
        }
    }

    /// Whether this is a TAP whose kernel end lives in a namespace (the kind whose
    /// `netns` and `ifname` mean something).
    pub fn is_namespace(&self) -> bool {
        self.kind.is_namespace()
    }
}

/// The kinds of port an ENI can be attached through. An enum so that later kinds (a
/// vhost-user socket, an existing interface) are new variants, not new fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum AttachmentKind {
    /// A TAP device whose kernel end goes into `netns` as `ifname` (the default).
    #[default]
    Namespace,
    /// A Unix socket vpcd listens on, speaking QEMU's `-netdev stream` framing (each
    /// Ethernet frame after a 4-byte big-endian length), for one guest at a time.
    QemuStream {
        /// The socket path (created mode 0600; a stale file there is replaced).
        socket: std::path::PathBuf,
    },
    /// A vhost-user socket vpcd's back end listens on (created mode 0600): the guest's
    /// virtio-net rings live in its shared memory, which vpcd maps and reads and writes
    /// directly; one guest at a time.
    VhostUser {
        /// The socket path (a stale file there is replaced).
        socket: std::path::PathBuf,
    },
    /// An existing interface (a hypervisor's TAP, a veth) vpcd reads and writes with
    /// `AF_PACKET` and a vnet header, so offloads survive; it lives in the attachment's
    /// `netns` (empty: vpcd's namespace). vpcd neither creates nor deletes it.
    Interface {
        /// The interface's name.
        name: String,
    },
}

impl AttachmentKind {
    /// Whether this is [`AttachmentKind::Namespace`].
    pub fn is_namespace(&self) -> bool {
        matches!(self, AttachmentKind::Namespace)
    }

    /// The word `vpcctl show` and the topology file use: `namespace`, `qemu-stream`,
    /// `vhost-user`, `interface`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttachmentKind::Namespace => "namespace",
            AttachmentKind::QemuStream { .. } => "qemu-stream",
            AttachmentKind::VhostUser { .. } => "vhost-user",
            AttachmentKind::Interface { .. } => "interface",
        }
    }

    /// The socket of a socket-backed kind.
    pub fn socket(&self) -> Option<&std::path::Path> {
        match self {
            AttachmentKind::Namespace | AttachmentKind::Interface { .. } => None,
            AttachmentKind::QemuStream { socket } | AttachmentKind::VhostUser { socket } => {
                Some(socket)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index types are `#[serde(transparent)]`: on the wire every index is a plain
    /// JSON number, exactly as when they were bare `u32`s, and the message round-trips.
    #[test]
    fn indices_are_plain_json_numbers_and_round_trip() {
        let mut c = crate::fixtures::behind_nat_gateway((1024, 65535));
        c.enis[0].security_groups = Some(vec![SgIdx(0)]);
        c.subnets[0].network_acl = Some(NaclIdx(0));
        c.peerings.push(PeeringConfig {
            id: "pcx-1".into(),
            requester: VpcIdx(0),
            accepter: VpcIdx(0),
            active: false,
        });
        c.route_tables[0].routes.push(RouteConfig {
            destination: "10.9.0.0/16".parse().unwrap(),
            target: RouteTarget::Peering(PeeringIdx(0)),
            deleted_target: None,
        });
        c.captures.push(CaptureConfig {
            id: "cap-1".into(),
            eni: EniIdx(2),
            path: "/tmp/cap.pcap".into(),
            snaplen: 128,
            filter: None,
        });
        let json = serde_json::to_string(&c).unwrap();
        for needle in [
            r#""subnet":0,"#,
            r#""subnet":2,"#,
            r#""vpc":0,"#,
            r#""route_table":1,"#,
            r#""route_table":2,"#,
            r#""network_acl":0,"#,
            r#""security_groups":[0]"#,
            r#""target":{"kind":"eni","index":3}"#,
            r#""target":{"kind":"internet_gateway","index":0}"#,
            r#""target":{"kind":"nat_gateway","index":0}"#,
            r#""target":{"kind":"peering","index":0}"#,
            r#""requester":0,"accepter":0"#,
            r#""eni":2,"#,
        ] {
            assert!(json.contains(needle), "{needle} not in {json}");
        }
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        // A message written with bare numbers (as the control plane always sent it) reads.
        assert_eq!(serde_json::from_str::<EniIdx>("7").unwrap(), EniIdx(7));
        assert_eq!(serde_json::to_string(&PortIdx(5)).unwrap(), "5");
        assert_eq!(EniIdx(7).to_string(), "7");
        assert_eq!(VpcIdx::from(3).idx(), 3);
    }

    /// A route's deleted target travels only when there is one: a message without the
    /// field (an older control plane) reads as `None`, and the name round-trips.
    #[test]
    fn a_deleted_route_target_is_optional_on_the_wire() {
        let plain = RouteConfig::new("0.0.0.0/0".parse().unwrap(), RouteTarget::Blackhole);
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(
            json,
            r#"{"destination":"0.0.0.0/0","target":{"kind":"blackhole"}}"#
        );
        assert_eq!(serde_json::from_str::<RouteConfig>(&json).unwrap(), plain);
        let deleted = RouteConfig {
            deleted_target: Some("nat-gone".into()),
            ..plain
        };
        let json = serde_json::to_string(&deleted).unwrap();
        assert!(json.contains(r#""deleted_target":"nat-gone""#), "{json}");
        assert_eq!(serde_json::from_str::<RouteConfig>(&json).unwrap(), deleted);
    }

    /// The socket kinds carry their path under a `type` tag; a namespace attachment
    /// writes no kind at all (JSON from before VPC-11 reads the same).
    #[test]
    fn attachment_kinds_round_trip_with_their_tag() {
        let vu = Attachment::vhost_user("/run/vpcd/eni-1.sock");
        let json = serde_json::to_string(&vu).unwrap();
        assert!(
            json.contains(r#""kind":{"type":"vhost-user","socket":"/run/vpcd/eni-1.sock"}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Attachment>(&json).unwrap(), vu);
        assert_eq!(vu.kind.as_str(), "vhost-user");
        assert_eq!(
            vu.kind.socket(),
            Some(std::path::Path::new("/run/vpcd/eni-1.sock"))
        );
        assert!(!vu.is_namespace());
        assert_ne!(vu, Attachment::qemu_stream("/run/vpcd/eni-1.sock"));
    }
}
