//! `[[eni]]`: elastic network interfaces, their MTU and interface-name defaults, and their
//! connection-tracking settings.

use std::net::{Ipv4Addr, Ipv6Addr};

use dataplane::wire::MacAddr;
use serde::{Deserialize, Serialize};

use super::Addressing;

/// The default MTU of an ENI (jumbo frames, like current-generation EC2 instances).
pub const DEFAULT_MTU: u32 = 9001;
/// The smallest MTU an ENI may be configured with.
pub const MIN_MTU: u32 = 576;
/// The largest MTU an ENI may be configured with.
pub const MAX_MTU: u32 = 9001;
/// The default interface name of an ENI inside its namespace.
pub const DEFAULT_IFNAME: &str = "eth0";

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
    /// How the ENI is attached: `namespace` (a TAP whose kernel end goes into `netns`;
    /// the default), `qemu-stream` (a Unix socket vpcd listens on for a QEMU guest's
    /// `-netdev stream`), `vhost-user` (a vhost-user back end's socket for a QEMU
    /// guest's `-netdev vhost-user`) or `interface` (an existing interface named by
    /// `interface`, in `netns` when set); the socket kinds have no `netns`/`ifname`. Absent:
    /// `namespace` when `netns` is set, else unattached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<EniAttachment>,
    /// The socket of a `qemu-stream` or `vhost-user` attachment (default
    /// [`DEFAULT_STREAM_DIR`]`/<eni id>.sock`; at most 107 bytes, `sun_path`'s limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<std::path::PathBuf>,
    /// The existing interface of an `interface` attachment (a hypervisor's TAP, a veth),
    /// in `netns` when set, else in vpcd's namespace; vpcd reads it with `AF_PACKET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Its security groups (`sg-…` ids of its VPC, 1 to 5); absent means the VPC's default
    /// group. An empty list is an error: an ENI always has at least one group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// Connection-tracking table size and idle timeouts; absent fields keep AWS's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<ConntrackSettings>,
    /// Packets per second the instance may send and receive through this ENI together
    /// (AWS applies a bidirectional per-instance PPS allowance and counts
    /// `pps_allowance_exceeded`); absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pps_allowance: Option<u32>,
    /// An auto-assigned public IPv4 address, mapped 1:1 to the primary private IP by the
    /// VPC's internet gateway (an Elastic IP on the primary private IP is an error instead:
    /// in AWS the EIP replaces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Ipv4Addr>,
    /// How the instance gets its IPv4 address: `dhcp` (default: a DHCP client in the
    /// namespace asks the VPC router) or `static` (`vpcd` configures the namespace).
    #[serde(default, skip_serializing_if = "Addressing::is_default")]
    pub addressing: Addressing,
    /// The instance it is attached to (`i-` + 8 or 17 hex digits). Absent: the instance
    /// of its namespace (the id another ENI of the namespace names, else one derived
    /// from the namespace's name; see [`crate::names::eni_instances`]); an ENI without a
    /// namespace gets one derived from its own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Its device index on the instance (0: the primary interface, `eth0`). Absent: the
    /// lowest index no other ENI of the instance takes, in file order (so its position
    /// among the instance's ENIs when none sets one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_index: Option<u32>,
    /// The instance's type (default [`DEFAULT_INSTANCE_TYPE`]); ENIs of one instance that
    /// set it agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// The image the instance was launched from, `ami-…` (default
    /// [`DEFAULT_IMAGE_ID`]); ENIs of one instance that set it agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The instance's metadata options (AWS `MetadataOptions`); ENIs of one instance that
    /// set them agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_options: Option<InstanceMetadataOptions>,
}

pub use dataplane::vpc::config::{DEFAULT_IMAGE_ID, DEFAULT_INSTANCE_TYPE};

/// Where a `qemu-stream` or `vhost-user` ENI's socket goes when `socket` is absent: vpcd's default run
/// directory (the directory of `vpcctl`'s default control socket, `/run/vpcd/vpcd.sock`),
/// as `<eni id>.sock`.
pub const DEFAULT_STREAM_DIR: &str = "/run/vpcd";

/// `attachment` of an `[[eni]]`: what kind of port the instance is behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EniAttachment {
    /// A TAP device whose kernel end goes into the ENI's `netns` as `ifname`.
    Namespace,
    /// A Unix socket speaking QEMU's `-netdev stream` framing, for one guest at a time
    /// (`vpcctl vm-args ENI` prints the QEMU arguments).
    QemuStream,
    /// A vhost-user back end's socket: the guest's virtio-net rings, in its shared memory,
    /// are read and written by vpcd directly; one guest at a time (`vpcctl vm-args ENI`
    /// prints the QEMU arguments, shared memory included).
    VhostUser,
    /// An existing interface (`interface`, in `netns` when set), read and written with
    /// `AF_PACKET` and its vnet header; vpcd neither creates nor deletes it.
    Interface,
}

impl EniAttachment {
    /// Whether the kind is a socket a QEMU guest connects to (`qemu-stream`,
    /// `vhost-user`), with a `socket` and no namespace.
    pub fn is_socket(self) -> bool {
        matches!(self, EniAttachment::QemuStream | EniAttachment::VhostUser)
    }

    /// The word the topology file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            EniAttachment::Namespace => "namespace",
            EniAttachment::QemuStream => "qemu-stream",
            EniAttachment::VhostUser => "vhost-user",
            EniAttachment::Interface => "interface",
        }
    }
}

impl Eni {
    /// The attachment kind, defaults applied: the written one, else `namespace` when
    /// `netns` is set; `None`: unattached.
    pub fn attachment_kind(&self) -> Option<EniAttachment> {
        self.attachment
            .or_else(|| self.netns.as_ref().map(|_| EniAttachment::Namespace))
    }

    /// The socket of a `qemu-stream` or `vhost-user` ENI, default applied
    /// ([`DEFAULT_STREAM_DIR`]`/<eni id>.sock`); `None` for other kinds.
    pub fn stream_socket(&self) -> Option<std::path::PathBuf> {
        self.attachment_kind()
            .is_some_and(EniAttachment::is_socket)
            .then(|| {
                self.socket.clone().unwrap_or_else(|| {
                    std::path::Path::new(DEFAULT_STREAM_DIR).join(format!("{}.sock", self.id))
                })
            })
    }
}

/// The default `http_put_response_hop_limit` of an instance's metadata options (AWS's).
pub const DEFAULT_METADATA_HOP_LIMIT: i64 = 1;

/// An instance's metadata options as written (`metadata_options = { … }` on an
/// `[[eni]]`), in AWS's `MetadataOptions` vocabulary; every field is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceMetadataOptions {
    /// Whether 169.254.169.254 answers: `enabled` (default) or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_endpoint: Option<HttpEndpoint>,
    /// Whether IMDSv2 session tokens are required: `optional` (default) or `required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tokens: Option<HttpTokens>,
    /// The IP hop limit of the token response, 1..=64 (default 1; checked by
    /// [`crate::validate::validate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_put_response_hop_limit: Option<i64>,
}

impl InstanceMetadataOptions {
    /// Whether the endpoint answers (`http_endpoint` is not `disabled`).
    pub fn endpoint_enabled(&self) -> bool {
        self.http_endpoint != Some(HttpEndpoint::Disabled)
    }

    /// Whether session tokens are required (`http_tokens = "required"`).
    pub fn tokens_required(&self) -> bool {
        self.http_tokens == Some(HttpTokens::Required)
    }

    /// The hop limit, defaults filled in ([`DEFAULT_METADATA_HOP_LIMIT`]).
    pub fn hop_limit(&self) -> i64 {
        self.http_put_response_hop_limit
            .unwrap_or(DEFAULT_METADATA_HOP_LIMIT)
    }

    /// The options with every default filled in, for comparing two ENIs' settings.
    pub fn resolved(&self) -> (bool, bool, i64) {
        (
            self.endpoint_enabled(),
            self.tokens_required(),
            self.hop_limit(),
        )
    }
}

/// `http_endpoint` of an instance's metadata options (AWS `HttpEndpoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpEndpoint {
    /// The metadata service answers (the default).
    Enabled,
    /// Requests to 169.254.169.254 are dropped.
    Disabled,
}

/// `http_tokens` of an instance's metadata options (AWS `HttpTokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpTokens {
    /// IMDSv1 and IMDSv2 requests are answered (the default).
    Optional,
    /// Only requests with a valid session token are answered (IMDSv2).
    Required,
}

impl Eni {
    /// Every private IPv4 address: the primary first, then the secondaries.
    pub fn ipv4_addrs(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        std::iter::once(self.private_ip).chain(self.secondary_ips.iter().copied())
    }
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

/// `true`: the default of `source_dest_check`.
fn default_true() -> bool {
    true
}

/// [`DEFAULT_MTU`]: the default of an ENI's `mtu`.
fn default_mtu() -> u32 {
    DEFAULT_MTU
}

/// [`DEFAULT_IFNAME`]: the default `ifname` of an ENI and of an internet gateway's
/// outside.
pub(super) fn default_ifname() -> String {
    DEFAULT_IFNAME.to_string()
}
