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
//!
//! [[eni]]
//! id = "eni-vm1"                   # a QEMU guest (VPC-11): `vpcctl vm-args eni-vm1`
//! subnet = "subnet-a"
//! private_ip = "10.0.1.11"
//! attachment = "qemu-stream"       # or "vhost-user"; default "namespace" (when netns is set)
//! socket = "/run/vpcd/eni-vm1.sock" # the default: /run/vpcd/<eni id>.sock
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
//! DHCP (issue VPC-10): `[[dhcp_options]]` ([`DhcpOptions`]) associated with a VPC by its
//! `dhcp_options` field (absent: AWS's default set, see [`default_domain_name`]), the ENI
//! field `addressing` ([`Addressing`]: `"dhcp"`, the default, or `"static"`), and the
//! `[lab]` knobs `region` (default [`DEFAULT_REGION`]) and `dhcp_lease_time` (seconds,
//! default 3600).
//!
//! Instances: the ENI fields `instance_id` (`i-` + 8 or 17 hex digits; absent: the id
//! another ENI of its namespace names, else one derived from the namespace, see
//! [`crate::names::eni_instances`]), `device_index` (absent: the instance's next free
//! index in file order), `instance_type` (default [`DEFAULT_INSTANCE_TYPE`]), `image_id`
//! (default [`DEFAULT_IMAGE_ID`]) and `metadata_options` ([`InstanceMetadataOptions`]:
//! `http_endpoint` `"enabled"`/`"disabled"`, `http_tokens` `"optional"`/`"required"`,
//! `http_put_response_hop_limit` 1..=64; defaults enabled, optional, 1), which the ENIs
//! of one instance share; and the subnet field `availability_zone` (a zone of `[lab]
//! region`; default `<region>a`).
//!
//! Gateways (issue VPC-3): `[[internet_gateway]]` ([`InternetGateway`], with its optional
//! `internet` side [`InternetSide`]), `[[elastic_ip]]` ([`ElasticIp`]), the ENI field
//! `public_ip`, and the route target `igw-…`.
//!
//! The internet as a test fixture (issue VPC-7): `[internet]` ([`InternetSegment`]) and
//! `[[internet_host]]` ([`InternetHost`]). Gateways without an `internet = {…}` namespace
//! of their own share one internet segment; each host is a namespace on it:
//!
//! ```toml
//! [internet]                      # optional
//! netns = "internet"              # the segment's namespace (default "internet")
//!
//! [[internet_host]]
//! id = "client"                   # `vpcctl exec client -- curl …`
//! addresses = ["198.51.100.10", "203.0.113.77"]   # any unicast IPv4, first = source
//! internet_gateways = ["igw-demo"]                # optional: default every gateway
//! services = [{ kind = "http", port = 80 }, { kind = "echo", protocol = "udp", port = 7 }]
//! ```
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
//! network_interface_id = "eni-nat-demo"           # optional (default: eni-<id>)
//! idle_timeout = 2.5              # lab knob, seconds > 0 (AWS: a fixed 350 s)
//! ```
//!
//! The gateway's network interface (AWS: a requester-managed ENI of interface type
//! `nat_gateway` in its subnet) holds its private addresses; flow logs can name it as
//! their `resource`, and subnet and VPC flow logs include it. Its id is
//! `network_interface_id` (starting with `eni-`, unique among ENIs and the other NAT
//! gateways' interfaces), else `eni-` + the gateway's id (see
//! [`crate::compile::nat_gateway_interface_id`]). `idle_timeout` overrides
//! `[lab] nat_gateway_idle_timeout` for this gateway.
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
//! A route to a pending peering is a blackhole until it is accepted. A route to a `pcx-…`
//! id that the file does not declare (a deleted peering) follows the rule of every deleted
//! target (see [`RouteState`]): it is accepted, as a blackhole, when it says
//! `state = "blackhole"`, and is an error otherwise. Security-group rules may name a group of a VPC peered through
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
//! format's `version` is the highest version among its fields. `lab_interval = <seconds>`
//! (a lab knob, > 0, fractions allowed) sets this flow log's aggregation interval for
//! tests, over `[lab] flow_log_interval` and `max_aggregation_interval`. `resource` may
//! also name a NAT gateway's network interface (`eni-…`).
//!
//! The VPC resolver (issue VPC-10): `[[private_hosted_zone]]` ([`PrivateHostedZone`])
//! and the `[lab]` knob `region` (default `us-east-1`, which names instances
//! `ip-10-0-1-10.ec2.internal`; other regions `ip-….<region>.compute.internal`):
//!
//! ```toml
//! [[private_hosted_zone]]
//! id = "Z0123456789ABC"              # Z, then letters or digits
//! name = "corp.internal"
//! vpcs = ["vpc-app"]                 # the VPCs whose resolver answers from it
//! records = [
//!   { name = "db", type = "A", values = ["10.0.3.10"] },                 # relative, or
//!   { name = "www.corp.internal", type = "CNAME", values = ["db.corp.internal"] },
//!   { name = "@", type = "TXT", values = ["v=1"], ttl = 60 },           # ttl: default 300
//! ]
//! ```
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
//!
//! One file per resource kind (the shared rule parts in `rules`); everything public is
//! re-exported here, so `crate::model::X` names every type.

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

mod dhcp_options;
mod dns;
mod eni;
mod flow_log;
mod gateways;
mod internet;
mod lab;
mod network_acl;
mod peering;
mod prefix_list;
mod route_table;
mod rules;
mod security_group;
mod subnet;
mod taps;
mod topology;
mod vpc;

#[cfg(test)]
mod tests;

pub use dhcp_options::{
    default_domain_name, Addressing, DhcpOptions, AMAZON_PROVIDED_DNS, TIME_SYNC_ADDRESS,
};
pub use dns::{DnsRecord, PrivateHostedZone, DEFAULT_RECORD_TTL};
pub use eni::{
    ConntrackSettings, Eni, EniAttachment, HttpEndpoint, HttpTokens, InstanceMetadataOptions,
    DEFAULT_CONNTRACK_MAX_ENTRIES, DEFAULT_IFNAME, DEFAULT_IMAGE_ID, DEFAULT_INSTANCE_TYPE,
    DEFAULT_METADATA_HOP_LIMIT, DEFAULT_MTU, DEFAULT_STREAM_DIR, DEFAULT_TCP_ESTABLISHED_TIMEOUT,
    DEFAULT_UDP_STREAM_TIMEOUT, DEFAULT_UDP_TIMEOUT, ICMP_TIMEOUT, MAX_MTU, MIN_MTU, OTHER_TIMEOUT,
    TCP_TRANSITORY_TIMEOUT,
};
pub use flow_log::{
    log_format_tokens, FlowLog, FlowLogScope, FlowLogTrafficType, DEFAULT_FLOW_LOG_INTERVAL,
};
pub use gateways::{
    ElasticIp, InternetGateway, InternetSide, NatConnectivity, NatGateway, DEFAULT_INTERNET_MTU,
    MAX_INTERNET_MTU, MIN_INTERNET_MTU,
};
pub use internet::{
    HostService, InternetHost, InternetSegment, ServiceKind, ServiceProtocol,
    DEFAULT_RESOLVER_ADDRESS, DEFAULT_SEGMENT_NETNS, SEGMENT_BRIDGE,
};
pub use lab::{
    instance_domain, LabSettings, Seconds, DEFAULT_NAT_GATEWAY_IDLE_TIMEOUT,
    DEFAULT_NAT_GATEWAY_PORTS, DEFAULT_REGION,
};
pub use network_acl::{NaclAction, NaclRule, NetworkAcl};
pub use peering::{PeeringConnection, PeeringStatus};
pub use prefix_list::PrefixList;
pub use route_table::{Route, RouteState, RouteTable, RouteTargetRef, UNSUPPORTED_TARGET_PREFIXES};
pub use rules::{PortSpec, RuleProtocol, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
pub use security_group::{RulePeer, SecurityGroup, SgRuleSpec};
pub use subnet::Subnet;
pub use taps::{
    CaptureFilterSpec, MirrorAction, MirrorFilterRule, PacketCapture, TrafficMirrorFilter,
    TrafficMirrorSession, TrafficMirrorTarget, DEFAULT_SNAPLEN,
};
pub use topology::Topology;
pub use vpc::Vpc;
