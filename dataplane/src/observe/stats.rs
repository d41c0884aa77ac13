//! Counters: per ENI and per drop reason, plus engine-wide figures, and the report
//! `vpcd` sends to `vpcctl show`.
//!
//! The data-plane thread owns the counters and bumps plain integers; a report is a copy
//! taken between batches, so the fast path never formats or logs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::vpc::config::DataplaneConfig;
use crate::vpc::verdict::DropReason;

/// Counters of one ENI port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCounters {
    /// Frames read from the instance.
    pub rx_packets: u64,
    /// Bytes read from the instance (Ethernet frames, super-frames counted whole).
    pub rx_bytes: u64,
    /// Frames written to the instance.
    pub tx_packets: u64,
    /// Bytes written to the instance.
    pub tx_bytes: u64,
    /// ARP requests the VPC router answered for this ENI.
    pub arp_replies: u64,
    /// ARP frames the router ignored (gratuitous ARP, replies, requests for unassigned
    /// or foreign addresses).
    pub arp_ignored: u64,
    /// ICMP echo requests to the router that it answered.
    pub icmp_echo_replies: u64,
    /// DHCP client messages the router's DHCP server answered (OFFER, ACK, NAK).
    #[serde(default)]
    pub dhcp_replies: u64,
    /// DHCP client messages it consumed without an answer (RELEASE, DECLINE, a foreign
    /// MAC, a REQUEST for another server).
    #[serde(default)]
    pub dhcp_ignored: u64,
    /// Queries the VPC resolver answered for this ENI.
    #[serde(default)]
    pub dns_answers: u64,
    /// Of those, answers with no record for the question (NXDOMAIN or another error).
    #[serde(default)]
    pub dns_errors: u64,
    /// Queries the VPC resolver forwarded to its upstream for this ENI.
    #[serde(default)]
    pub dns_forwarded: u64,
    /// Of those, queries the upstream did not answer in time (answered SERVFAIL).
    #[serde(default)]
    pub dns_upstream_timeouts: u64,
    /// Requests the instance metadata service answered for this ENI (any status).
    #[serde(default)]
    pub metadata_requests: u64,
    /// Of those, answers with an error status (401 without a token, 404, 400, ...), and
    /// connections reset for a request that never completed.
    #[serde(default)]
    pub metadata_errors: u64,
    /// Frames dropped, by reason (charged to the ENI the frame came from or was going to).
    /// Serialised as a list in [`DropReason::ALL`] order; a shorter list (an older peer)
    /// reads as zeros for the missing reasons.
    #[serde(with = "drops_serde")]
    pub drops: [u64; DropReason::COUNT],
    /// Connections tracked now (a gauge, filled in reports).
    #[serde(default)]
    pub conntrack_entries: u64,
    /// The ENI's connection-table size.
    #[serde(default)]
    pub conntrack_max: u64,
}

impl Default for PortCounters {
    fn default() -> Self {
        PortCounters {
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
            arp_replies: 0,
            arp_ignored: 0,
            icmp_echo_replies: 0,
            dhcp_replies: 0,
            dhcp_ignored: 0,
            dns_answers: 0,
            dns_errors: 0,
            dns_forwarded: 0,
            dns_upstream_timeouts: 0,
            metadata_requests: 0,
            metadata_errors: 0,
            drops: [0; DropReason::COUNT],
            conntrack_entries: 0,
            conntrack_max: 0,
        }
    }
}

impl Default for EngineCounters {
    fn default() -> Self {
        EngineCounters {
            flow_hits: 0,
            flow_misses: 0,
            flow_evicted: 0,
            flow_stale_reclaimed: 0,
            flows: 0,
            batches: 0,
            drops: [0; DropReason::COUNT],
            flow_log_records_dropped: 0,
            capture_packets_dropped: 0,
            handed_off: 0,
            handoff_stale: 0,
            handoff_dropped: 0,
        }
    }
}

mod drops_serde {
    use super::DropReason;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &[u64; DropReason::COUNT], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(d.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[u64; DropReason::COUNT], D::Error> {
        let v = Vec::<u64>::deserialize(d)?;
        let mut out = [0; DropReason::COUNT];
        for (o, n) in out.iter_mut().zip(v) {
            *o = n;
        }
        Ok(out)
    }
}

impl PortCounters {
    /// The drops as a map from reason name to count, without zero entries.
    pub fn drop_map(&self) -> BTreeMap<String, u64> {
        DropReason::ALL
            .iter()
            .zip(self.drops.iter())
            .filter(|(_, &n)| n > 0)
            .map(|(r, &n)| (r.name().to_string(), n))
            .collect()
    }

    /// The total of all drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// Engine-wide counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineCounters {
    /// Frames processed from the flow cache.
    pub flow_hits: u64,
    /// Frames that took the slow path.
    pub flow_misses: u64,
    /// Flow-cache entries evicted to make room for a new flow (the cache was full).
    #[serde(default)]
    pub flow_evicted: u64,
    /// Flow-cache entries of an older configuration epoch dropped (found on lookup, or
    /// taken first when the cache was full).
    #[serde(default)]
    pub flow_stale_reclaimed: u64,
    /// Flows currently cached.
    pub flows: u64,
    /// Batches read (one per ready port per loop turn).
    pub batches: u64,
    /// Drops by reason, all ENIs together.
    #[serde(with = "drops_serde")]
    pub drops: [u64; DropReason::COUNT],
    /// Flow-log records dropped because the writer thread's queue was full.
    #[serde(default)]
    pub flow_log_records_dropped: u64,
    /// Captured packets dropped because the writer thread's queue was full.
    #[serde(default)]
    pub capture_packets_dropped: u64,
    /// Frames read by this worker and handed to the worker that owns their flow
    /// ([`crate::engine::handoff`]; zero with one worker).
    #[serde(default)]
    pub handed_off: u64,
    /// Frames handed to this worker that it dropped because an apply came between
    /// (their port numbers belonged to the previous configuration).
    #[serde(default)]
    pub handoff_stale: u64,
    /// Frames other workers could not hand to this one (its inbox was full).
    #[serde(default)]
    pub handoff_dropped: u64,
}

/// The report for `vpcctl show`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatsReport {
    /// The running configuration epoch.
    pub epoch: u64,
    /// The running configuration.
    pub config: DataplaneConfig,
    /// Per-ENI state, in the order of `config.enis`.
    pub enis: Vec<EniReport>,
    /// Engine-wide counters.
    pub engine: EngineCounters,
    /// With several forwarding workers, each one's engine counters (`engine` is their
    /// sum); empty with one.
    #[serde(default)]
    pub workers: Vec<EngineCounters>,
    /// Packets denied per network-ACL rule (non-zero only), this epoch.
    #[serde(default)]
    pub nacl_denies: Vec<NaclDenyReport>,
    /// Internet gateways' uplinks, in the order of `config.internet_gateways`.
    #[serde(default)]
    pub uplinks: Vec<UplinkReport>,
    /// NAT gateways' metrics, in the order of `config.nat_gateways`.
    #[serde(default)]
    pub nat_gateways: Vec<NatGatewayReport>,
    /// Packet captures, in the order of `config.captures`.
    #[serde(default)]
    pub captures: Vec<crate::observe::capture::CaptureReport>,
    /// Traffic mirroring sessions, in the order of `config.mirror_sessions`.
    #[serde(default)]
    pub mirror_sessions: Vec<crate::observe::mirror::MirrorSessionReport>,
}

/// One NAT gateway's metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatGatewayReport {
    /// The NAT gateway id.
    pub id: String,
    /// Its counters.
    pub metrics: NatMetrics,
}

pub use crate::vpc::nat::NatMetrics;

/// Denies of one network-ACL rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NaclDenyReport {
    /// The ACL id.
    pub nacl: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The rule number, or `*` for the final deny.
    pub rule: String,
    /// Packets denied.
    pub packets: u64,
}

/// An internet gateway's uplink port and counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UplinkReport {
    /// The internet gateway id.
    pub igw: String,
    /// The TAP name in vpcd's namespace, when attached.
    pub tap: Option<String>,
    /// Its counters (rx: from the internet; tx: to it; drops of frames it brought in).
    pub counters: PortCounters,
}

/// What a socket-backed port (a QEMU `-netdev stream` socket, a vhost-user back end)
/// reports besides the counters every port has: whether a guest is connected, and the
/// socket's own events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStatus {
    /// Whether a guest is connected now (vhost-user: connected and both rings set up;
    /// `None`: the port kind has no such notion).
    pub connected: Option<bool>,
    /// Guests accepted since the port was created.
    #[serde(default)]
    pub connections: u64,
    /// Guest connections that ended.
    #[serde(default)]
    pub disconnects: u64,
    /// Connections dropped for garbage (a stream frame length out of bounds, a
    /// vhost-user protocol error).
    #[serde(default)]
    pub garbage: u64,
    /// Frames that could not be written (no guest, output queue full; vhost-user: no
    /// guest, no receive buffers).
    #[serde(default)]
    pub tx_dropped: u64,
}

/// One ENI's port and counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EniReport {
    /// The ENI id.
    pub id: String,
    /// The TAP name in vpcd's namespace, when attached (a stream socket: its path).
    pub tap: Option<String>,
    /// A socket-backed port's state (absent for TAPs and unattached ENIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortStatus>,
    /// Its counters.
    pub counters: PortCounters,
    /// The kernel's counters of the TAP's end in the instance's namespace, read when the
    /// report was made (absent: not a namespace TAP, or the namespace or interface is
    /// gone). Where vpcd's own counters stop: `tx_dropped` there is what the instance sent
    /// that the kernel dropped before vpcd read it, `rx_dropped` what vpcd wrote that the
    /// instance's kernel dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelLinkReport>,
}

/// The kernel's statistics of an ENI's TAP as its instance's namespace sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelLinkReport {
    /// The namespace.
    pub netns: String,
    /// The interface in it.
    pub ifname: String,
    /// Its counters (`IFLA_STATS64`, what `ip -s -n NETNS link show dev IFNAME` shows).
    pub counters: crate::sys::linkstats::LinkStats,
}
