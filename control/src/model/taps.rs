//! `[[packet_capture]]`, `[[traffic_mirror_target]]`, `[[traffic_mirror_filter]]` and
//! `[[traffic_mirror_session]]`: packet captures and traffic mirroring.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{PortSpec, RuleProtocol};

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

/// [`RuleProtocol::All`]: the default `protocol` of a mirror filter rule.
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
