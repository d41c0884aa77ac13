//! What a pipeline stage decides about a packet.

use serde::{Deserialize, Serialize};

use crate::engine::port::PortIdx;
use crate::vpc::config::{EniIdx, IgwIdx, Interface, NatIdx};
use crate::wire::MacAddr;

/// Why a frame was dropped. Counted per ENI and engine-wide; never logged per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum DropReason {
    /// The frame or a header in it is truncated or inconsistent.
    Malformed,
    /// Neither IPv4, IPv6 nor ARP.
    NonIp,
    /// Sent to the Ethernet broadcast address (broadcast is not supported in a VPC).
    Broadcast,
    /// Sent to an Ethernet multicast address (multicast is not supported in a VPC).
    Multicast,
    /// IPv6 is modelled but not forwarded yet.
    Ipv6NotForwarded,
    /// Source MAC is not the sending ENI's (source/destination check).
    SourceMacSpoofed,
    /// Source IP is not one of the sending ENI's addresses (source/destination check).
    SourceIpSpoofed,
    /// Destination IP is not one of the receiving ENI's addresses (source/destination check).
    DestinationNotOwned,
    /// Destination MAC is neither the router's nor a neighbour ENI's in the subnet.
    UnknownDestinationMac,
    /// No route matches the destination.
    NoRoute,
    /// The matching route is a blackhole.
    Blackhole,
    /// The local route matched but no ENI in the VPC owns the destination address.
    NoEniForAddress,
    /// The destination ENI has no attached port.
    EniNotAttached,
    /// Routed back out of the ENI it came from (a route to itself).
    HairpinLoop,
    /// Too many logical hops (a routing loop between middleboxes).
    HopLimit,
    /// The destination port refused the frame (its queue is full or it is gone).
    TxFailed,
    /// A packet for the VPC router that it does not serve (not an echo request).
    RouterUnsupported,
    /// A query to the VPC resolver over the ENI's 1,024 packets per second.
    DnsRateLimited,
    /// A packet to the VPC resolver's port 53 too short or fragmented to answer.
    DnsMalformed,
    /// Denied by a network ACL rule (or its final `*` deny).
    NaclDeny,
    /// No security-group rule allows it and it belongs to no tracked connection.
    SgNoMatch,
    /// A new connection while the ENI's connection table is full
    /// (AWS `conntrack_allowance_exceeded`).
    ConntrackFull,
    /// A TCP packet that does not fit its connection's state (for example a SYN-ACK
    /// nobody asked for, or data before the handshake).
    InvalidTcpState,
    /// Leaving through the internet gateway from an address without a public IP
    /// (`IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS`).
    IgwNoPublicIp,
    /// Leaving through the internet gateway towards an RFC 1918 or RFC 6598 address.
    IgwPrivateDestination,
    /// Arriving at the internet gateway from an RFC 1918 or RFC 6598 address.
    IgwPrivateSource,
    /// Arriving at the internet gateway for an address that is no one's public IP
    /// (`IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS`).
    IgwNoPublicMapping,
    /// Too big for the next hop with Don't Fragment set; the router answered with ICMP
    /// "fragmentation needed".
    FragmentationNeeded,
    /// A fragment after the first whose first fragment was not forwarded (or not seen).
    FragmentUnmatched,
    /// A protocol a NAT gateway does not translate (only TCP, UDP and ICMP echo and
    /// errors pass).
    NatUnsupportedProtocol,
    /// A TCP or ICMP fragment at a NAT gateway (only UDP fragments are forwarded).
    NatFragment,
    /// A packet for a NAT gateway's address that belongs to no translation: inbound
    /// initiation, a ping to the gateway, a reply after the translation ended.
    NatNoTranslation,
    /// A new connection for which the NAT gateway has no free source port towards its
    /// destination (`ErrorPortAllocation`).
    NatPortAllocation,
    /// A TCP packet from inside without a translation (idle-timed-out or unknown); the
    /// NAT gateway answered it with a RST.
    NatReset,
    /// Routed to a peering connection with a destination outside the peer VPC's CIDRs or
    /// a source outside the sender's (`PCX_REQUIRES_ADDRESS_IN_VPC_CIDR`): no transitive
    /// peering, no edge-to-edge routing.
    PcxAddressNotInVpcCidr,
    /// A DHCP client message the VPC router could not parse (truncated, bad options), or
    /// whose answer would not fit the packet buffer.
    DhcpMalformed,
    /// A packet to the instance metadata service (169.254.169.254) of an instance whose
    /// `http_endpoint` is disabled, or not TCP port 80.
    MetadataDisabled,
    /// A packet to the instance metadata service it cannot take: an offloaded
    /// super-frame, a full queue, too many endpoints.
    MetadataRefused,
    /// A packet over the sending ENI's packets-per-second allowance
    /// (AWS `pps_allowance_exceeded`).
    PpsAllowanceExceeded,
}

impl DropReason {
    /// How many reasons there are.
    pub const COUNT: usize = 39;

    /// Every reason, in discriminant order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Malformed,
        DropReason::NonIp,
        DropReason::Broadcast,
        DropReason::Multicast,
        DropReason::Ipv6NotForwarded,
        DropReason::SourceMacSpoofed,
        DropReason::SourceIpSpoofed,
        DropReason::DestinationNotOwned,
        DropReason::UnknownDestinationMac,
        DropReason::NoRoute,
        DropReason::Blackhole,
        DropReason::NoEniForAddress,
        DropReason::EniNotAttached,
        DropReason::HairpinLoop,
        DropReason::HopLimit,
        DropReason::TxFailed,
        DropReason::RouterUnsupported,
        DropReason::DnsRateLimited,
        DropReason::DnsMalformed,
        DropReason::NaclDeny,
        DropReason::SgNoMatch,
        DropReason::ConntrackFull,
        DropReason::InvalidTcpState,
        DropReason::IgwNoPublicIp,
        DropReason::IgwPrivateDestination,
        DropReason::IgwPrivateSource,
        DropReason::IgwNoPublicMapping,
        DropReason::FragmentationNeeded,
        DropReason::FragmentUnmatched,
        DropReason::NatUnsupportedProtocol,
        DropReason::NatFragment,
        DropReason::NatNoTranslation,
        DropReason::NatPortAllocation,
        DropReason::NatReset,
        DropReason::PcxAddressNotInVpcCidr,
        DropReason::DhcpMalformed,
        DropReason::MetadataDisabled,
        DropReason::MetadataRefused,
        DropReason::PpsAllowanceExceeded,
    ];

    /// The counter name, as `vpcctl show` prints it.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::NonIp => "non_ip",
            DropReason::Broadcast => "broadcast",
            DropReason::Multicast => "multicast",
            DropReason::Ipv6NotForwarded => "ipv6_not_forwarded",
            DropReason::SourceMacSpoofed => "src_mac_spoofed",
            DropReason::SourceIpSpoofed => "src_ip_spoofed",
            DropReason::DestinationNotOwned => "dst_not_owned",
            DropReason::UnknownDestinationMac => "unknown_dst_mac",
            DropReason::NoRoute => "no_route",
            DropReason::Blackhole => "blackhole",
            DropReason::NoEniForAddress => "no_eni_for_address",
            DropReason::EniNotAttached => "eni_not_attached",
            DropReason::HairpinLoop => "hairpin_loop",
            DropReason::HopLimit => "hop_limit",
            DropReason::TxFailed => "tx_failed",
            DropReason::RouterUnsupported => "router_unsupported",
            DropReason::DnsRateLimited => "dns_rate_limited",
            DropReason::DnsMalformed => "dns_malformed",
            DropReason::NaclDeny => "nacl_deny",
            DropReason::SgNoMatch => "sg_no_match",
            DropReason::ConntrackFull => "conntrack_allowance_exceeded",
            DropReason::InvalidTcpState => "invalid_tcp_state",
            DropReason::IgwNoPublicIp => "igw_no_public_ip",
            DropReason::IgwPrivateDestination => "igw_private_destination",
            DropReason::IgwPrivateSource => "igw_private_source",
            DropReason::IgwNoPublicMapping => "igw_no_public_mapping",
            DropReason::FragmentationNeeded => "frag_needed",
            DropReason::FragmentUnmatched => "fragment_unmatched",
            DropReason::NatUnsupportedProtocol => "nat_unsupported_protocol",
            DropReason::NatFragment => "nat_fragment",
            DropReason::NatNoTranslation => "nat_no_translation",
            DropReason::NatPortAllocation => "nat_port_allocation",
            DropReason::NatReset => "nat_reset",
            DropReason::PcxAddressNotInVpcCidr => "pcx_address_not_in_vpc_cidr",
            DropReason::DhcpMalformed => "dhcp_malformed",
            DropReason::MetadataDisabled => "metadata_disabled",
            DropReason::MetadataRefused => "metadata_refused",
            DropReason::PpsAllowanceExceeded => "pps_allowance_exceeded",
        }
    }

    /// The index of this reason in counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The rewrite and output port of a delivered packet: header transformations as data,
/// applied the same way on the slow path and on every flow-cache hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// Where it leaves: an ENI's port or an internet gateway's uplink.
    pub to: OutPort,
    /// New source MAC (the router's, when routed; unchanged at layer 2).
    pub src_mac: MacAddr,
    /// New destination MAC.
    pub dst_mac: MacAddr,
    /// An address (and port) rewrite: the internet gateway's 1:1 NAT, a NAT gateway's
    /// translation, or both composed.
    pub nat: Nat,
    /// The hop's MTU when it is smaller than what instances may send (0: no limit).
    pub mtu: u16,
}

pub use crate::engine::tx::Nat;

/// What a NAT gateway's network interface saw of a packet that went through it (for its
/// flow-log records): the packet arrived rewritten by `before` (the internet gateway's
/// translation on the way in, or nothing), and left rewritten by `before` then `rewrite`
/// (the gateway's own translation). Kept with the flow, so a flow-cache hit reports it
/// as the slow path did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatHop {
    /// The NAT gateway.
    pub nat: NatIdx,
    /// The rewrite of the packet before it reached the gateway.
    pub before: Nat,
    /// The gateway's own translation.
    pub rewrite: Nat,
}

impl NatHop {
    /// The rewrite of the packet as it left the gateway (before, then the gateway's).
    #[inline]
    pub fn after(&self) -> Nat {
        self.before.then(self.rewrite)
    }
}

/// The interface a refused packet is charged to in flow logs (a `REJECT` record): the
/// sender until the packet enters its next interface's side, then that one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Charge {
    /// The interface (an ENI, or a NAT gateway's).
    pub iface: Interface,
    /// On its ingress side (`true`) or its egress side.
    pub ingress: bool,
    /// The rewrite the packet had at that point (its addresses as the interface saw
    /// them).
    pub seen: Nat,
}

impl Charge {
    /// The egress side of the ENI that sent the packet.
    #[inline]
    pub fn sender(e: EniIdx) -> Charge {
        Charge {
            iface: Interface::Eni(e),
            ingress: false,
            seen: Nat::None,
        }
    }
}

/// Where a delivered packet leaves the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutPort {
    /// The port of this ENI.
    Eni(EniIdx),
    /// The uplink of this internet gateway.
    Uplink(IgwIdx),
}

impl OutPort {
    /// The engine's port number, given how many ENIs there are: ENIs first, then one
    /// uplink per internet gateway.
    #[inline]
    pub fn index(self, enis: usize) -> PortIdx {
        match self {
            OutPort::Eni(e) => PortIdx::from(e),
            OutPort::Uplink(g) => PortIdx(enis as u32 + g.0),
        }
    }

    /// The ENI, when the port is one.
    #[inline]
    pub fn eni(self) -> Option<EniIdx> {
        match self {
            OutPort::Eni(e) => Some(e),
            OutPort::Uplink(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order_and_names_unique() {
        let mut names = std::collections::HashSet::new();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(names.insert(r.name()));
        }
    }
}
