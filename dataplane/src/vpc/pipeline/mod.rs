//! The slow path: what a frame meets when the flow cache has no answer for it.
//!
//! A packet walks the VPC's logical elements in one hop loop ([`walk`]): it leaves an
//! ENI ([`eni`]) or arrives from the internet ([`igw`]), crosses subnet boundaries
//! ([`subnet`]: network ACLs), is routed ([`route`]: the VPC router), and enters the next
//! element (an ENI, the internet gateway, a NAT gateway ([`natgw`]), a peering
//! ([`peering`])) until it is delivered, answered or dropped. Elements use the stages
//! ([`sg`], [`nacl`], [`srcdst`], [`router`] services) and tell the [`Tracer`] what each
//! decided, so the same code that forwards can explain (`vpcctl trace` builds on it).

pub mod dhcp;
pub mod dns;
pub mod dns_upstream;
pub mod eni;
pub mod igw;
pub mod nacl;
pub mod natgw;
pub mod peering;
pub mod pending;
pub mod route;
pub mod router;
pub mod sg;
pub mod srcdst;
pub mod state;
pub mod subnet;
pub mod walk;

use std::net::IpAddr;

use crate::engine::port::PortIdx;
use crate::vpc::config::{EniIdx, IgwIdx, NaclIdx, NatIdx, RouteTableIdx};
use crate::vpc::conntrack::{ConnDir, ConnRef, ConnTable};
use crate::vpc::nat::NatState;
use crate::vpc::rules::RulePacket;
use crate::vpc::tables::Tables;
use crate::vpc::verdict::{Charge, Delivery, DropReason, NatHop, OutPort};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::wire::{IpMeta, PacketMeta, L3};

use nacl::Direction;
use route::NextHop;
use router::RouterAction;
use sg::SgMatch;

pub use state::{FlowState, Live, Overlay};
use walk::Origin;
pub use walk::{Node, Step, HOP_BUDGET};

/// What every stage (security groups, network ACLs, the source/destination check)
/// returns: go on, or stop with this action (a drop, with its counter slot).
pub type StageResult = Result<(), Action>;

/// How a security group let a packet through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgPass {
    /// Part of a connection the ENI already tracks (rules are not consulted).
    Tracked,
    /// Opens a tracked connection; this rule allowed it.
    New(SgMatch),
    /// Allowed by this rule without tracking (all-open in both directions, as AWS does).
    Untracked(SgMatch),
    /// An ICMP error about a connection the ENI tracks.
    Related,
}

/// One decision of one stage, for the tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// The frame arrived on this port: it left an ENI (port `i` is ENI `i`'s), or came
    /// in on an internet gateway's uplink.
    FromPort(PortIdx),
    /// The VPC router answered (ARP or ICMP echo).
    RouterReply,
    /// The VPC router ignored an ARP frame.
    RouterIgnored,
    /// The VPC router's DHCP server answered a client message with this (`None`: it
    /// ignored it: a RELEASE, a DECLINE, a foreign MAC).
    Dhcp(Option<dhcp::DhcpReply>),
    /// The VPC resolver answered a query.
    Resolver(dns::Answered),
    /// The instance metadata service (169.254.169.254:80) takes the packet.
    Metadata,
    /// A security group of `eni` let the packet pass (egress when `egress`).
    SecurityGroup {
        /// The ENI.
        eni: EniIdx,
        /// Leaving the ENI (`true`) or arriving at it.
        egress: bool,
        /// How.
        pass: SgPass,
    },
    /// Network ACL `nacl` allowed (`allow`) or denied the packet by rule `rule`
    /// (`None` = the final `*` deny).
    NetworkAcl {
        /// The ACL index.
        nacl: NaclIdx,
        /// Which rule list.
        direction: Direction,
        /// The deciding rule number.
        rule: Option<u16>,
        /// Allowed?
        allow: bool,
    },
    /// No security-group rule of `eni` allows the packet (and no tracked connection
    /// covers it), leaving it (`egress`) or arriving.
    SecurityGroupDenied {
        /// The ENI.
        eni: EniIdx,
        /// Leaving the ENI (`true`) or arriving at it.
        egress: bool,
    },
    /// Delivered at layer 2 to a neighbour in the same subnet (no route table).
    Layer2(EniIdx),
    /// Route table `table` is consulted for `dst`.
    RouteLookup {
        /// Route table index.
        table: RouteTableIdx,
        /// The destination looked up.
        dst: IpAddr,
    },
    /// Route table `table` sent the destination to this hop.
    Routed {
        /// Route table index.
        table: RouteTableIdx,
        /// The resolved next hop.
        next: NextHop,
    },
    /// Delivered to this port (an ENI, or an internet gateway's uplink).
    Delivered(OutPort),
    /// Internet gateway `igw` translated `from` into `to` (1:1 NAT), on the way in
    /// (`inbound`) or out.
    InternetGateway {
        /// The gateway index.
        igw: IgwIdx,
        /// Inbound (public → private) or outbound.
        inbound: bool,
        /// The address before.
        from: std::net::Ipv4Addr,
        /// The address after.
        to: std::net::Ipv4Addr,
    },
    /// NAT gateway `nat` translated the packet: the source (`inbound == false`, from an
    /// inside host) or the destination (a reply, towards the inside host).
    NatGateway {
        /// The NAT gateway index.
        nat: NatIdx,
        /// Towards the inside host (destination rewritten) or away from it.
        inbound: bool,
        /// The address and port (ICMP: identifier) before.
        from: (std::net::IpAddr, u16),
        /// The address and port after.
        to: (std::net::IpAddr, u16),
    },
    /// A NAT gateway answered a TCP packet that belongs to no translation with a RST.
    NatReset(NatIdx),
    /// NAT gateway `nat` refused the packet (no translation lets it in, no source port
    /// is free, a protocol or fragment it does not pass): the drop that follows is its.
    NatRefused(NatIdx),
    /// Dropped.
    Dropped(DropReason),
}

/// Receives the notes of the slow path; [`NoTrace`] compiles to nothing.
pub trait Tracer {
    /// Records one note.
    fn note(&mut self, note: Note);
}

/// A tracer that records nothing (the forwarding path).
pub struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn note(&mut self, _: Note) {}
}

impl Tracer for Vec<Note> {
    fn note(&mut self, note: Note) {
        self.push(note);
    }
}

/// A tracked connection a forwarded flow depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtRef {
    /// Whose connection table: an ENI's, or a NAT gateway's.
    pub table: CtTable,
    /// The connection.
    pub conn: ConnRef,
    /// The flow's direction in it.
    pub dir: ConnDir,
}

/// The number of a connection table, in its own numbering: ENIs first (ENI `i`'s table
/// is table `i`), then NAT gateways (NAT gateway `n`'s is the number of ENIs plus `n`).
/// It is neither an ENI index nor a port number, though ENIs come first in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtTable(pub u32);

impl CtTable {
    /// ENI `e`'s connection table.
    #[inline]
    pub fn eni(e: EniIdx) -> CtTable {
        CtTable(e.0)
    }

    /// NAT gateway `n`'s connection table, given how many ENIs there are.
    #[inline]
    pub fn nat(enis: usize, n: NatIdx) -> CtTable {
        CtTable(enis as u32 + n.0)
    }

    /// The number as a `usize`.
    #[inline]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// What the slow path decided for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send out of the destination ENI's port with these MACs.
    Forward {
        /// Port and MAC rewrite.
        delivery: Delivery,
        /// The tracked connections (source egress, destination ingress, NAT gateway
        /// translation) the flow uses; each packet of the flow updates them.
        ct: [Option<CtRef>; 3],
        /// Whether the flow cache may remember this decision.
        cacheable: bool,
    },
    /// Drop and count.
    Drop {
        /// Why.
        reason: DropReason,
        /// The network-ACL counter slot, for `NaclDeny`.
        nacl_slot: Option<u32>,
        /// Whether the flow cache may remember this decision.
        cacheable: bool,
    },
    /// The buffer now holds a reply of `len` bytes (Ethernet frame) for the ingress port.
    Reply {
        /// The reply's length.
        len: usize,
        /// The packet it answers counts as dropped for this reason (a NAT gateway's RST);
        /// `None` for the router's own answers.
        drop: Option<DropReason>,
    },
    /// Consumed without an answer (ignored ARP).
    Consumed,
    /// The buffer now holds the VPC router's DHCP answer, a frame of `len` bytes, for
    /// the ingress port (possibly longer than the request).
    DhcpReply {
        /// The answer's length.
        len: usize,
    },
    /// A DHCP client message the router consumed without an answer (RELEASE, DECLINE,
    /// a foreign MAC, a REQUEST for another server).
    DhcpIgnored,
    /// The VPC resolver answered: the reply (a `virtio_net_hdr` and an Ethernet frame of
    /// `len` bytes) is in the context's [`dns::DnsState::frame`], for the ingress port.
    Resolved(dns::Answered),
    /// A TCP segment for the instance metadata service (169.254.169.254:80): the data
    /// plane's endpoint for the ingress ENI takes it.
    Metadata,
}

impl From<dhcp::DhcpAction> for Action {
    fn from(a: dhcp::DhcpAction) -> Action {
        match a {
            dhcp::DhcpAction::Reply { len, .. } => Action::DhcpReply { len },
            dhcp::DhcpAction::Ignore => Action::DhcpIgnored,
            dhcp::DhcpAction::Drop(r) => Action::drop(r),
        }
    }
}

impl From<RouterAction> for Action {
    fn from(a: RouterAction) -> Action {
        match a {
            RouterAction::Reply { len } => Action::Reply { len, drop: None },
            RouterAction::Ignore => Action::Consumed,
            RouterAction::Drop(r) => Action::drop(r),
        }
    }
}

/// The frames every port refuses before looking closer: broadcast, multicast, non-IP.
/// ARP goes to `arp`.
pub(crate) fn classify(
    meta: &PacketMeta,
    arp: impl FnOnce() -> RouterAction,
) -> Result<IpMeta, Action> {
    match meta.l3 {
        L3::Arp => Err(arp().into()),
        _ if meta.dst_mac.is_broadcast() => Err(Action::drop(DropReason::Broadcast)),
        _ if meta.dst_mac.is_multicast() => Err(Action::drop(DropReason::Multicast)),
        L3::Other => Err(Action::drop(DropReason::NonIp)),
        L3::Ip(ip) => Ok(ip),
    }
}

impl Action {
    /// A drop the flow cache must not remember (each packet is decided afresh).
    pub(crate) fn drop_uncached(reason: DropReason) -> Action {
        Action::Drop {
            reason,
            nacl_slot: None,
            cacheable: false,
        }
    }

    pub(crate) fn drop(reason: DropReason) -> Action {
        Action::Drop {
            reason,
            nacl_slot: None,
            // Stateless drops hold for the epoch; security-group and NAT gateway drops
            // depend on connection or translation state, which changes within an epoch
            // (and a NAT gateway counts every packet it drops).
            cacheable: !matches!(
                reason,
                DropReason::SgNoMatch
                    | DropReason::ConntrackFull
                    | DropReason::InvalidTcpState
                    | DropReason::NatNoTranslation
                    | DropReason::NatPortAllocation
                    | DropReason::NatUnsupportedProtocol
                    // DHCP is answered afresh every time.
                    | DropReason::DhcpMalformed
            ),
        }
    }
}

/// What the slow path works on: the tables, the ENIs' connection tables, the NAT
/// gateways' translations, the clock.
pub struct Context<'a> {
    /// The running tables.
    pub tables: &'a Tables,
    /// The connection tables and NAT translations (the running ones, or an overlay).
    pub state: &'a mut dyn FlowState,
    /// Now, in milliseconds of the engine's clock.
    pub now: u64,
    /// The interface a refusal is charged to in flow logs: the sender's egress until the
    /// packet enters the next interface's side (a NAT gateway's, the receiver's), then
    /// that one.
    pub owner: Option<Charge>,
    /// What the NAT gateway the packet went through saw of it, if it went through one
    /// (set when the walk ends).
    pub via_nat: Option<NatHop>,
    /// The ENI whose connection table was full, when the packet was dropped for it
    /// (`conntrack_allowance_exceeded` is counted on that ENI, not always the sender).
    pub full_table: Option<EniIdx>,
    /// The VPC resolver's rate limits and answer buffer.
    pub dns: &'a mut dns::DnsState,
}

/// The connection table that a [`CtRef::table`] names: ENIs first, then NAT gateways.
pub fn ct_table<'t>(
    conntrack: &'t mut [ConnTable],
    nat: &'t mut [NatState],
    table: CtTable,
) -> Option<&'t mut ConnTable> {
    let i = table.idx();
    match i.checked_sub(conntrack.len()) {
        None => conntrack.get_mut(i),
        Some(n) => nat.get_mut(n).map(|s| &mut s.conns),
    }
}

impl Context<'_> {
    /// The [`CtRef::table`] of NAT gateway `n`.
    pub fn nat_table(&self, n: NatIdx) -> CtTable {
        CtTable::nat(self.state.enis(), n)
    }
}

/// Runs the slow path for `frame` (an Ethernet frame) that arrived on `port`: an ENI's
/// port, or after them an internet gateway's uplink. It walks the VPC's elements in the
/// hop loop ([`walk`]).
///
/// The frame is `buf[..len]`; it may be rewritten in place (router replies), and a
/// DHCP answer may use the rest of `buf`. `meta` is its parse.
pub fn slow_path<T: Tracer>(
    cx: &mut Context<'_>,
    port: PortIdx,
    buf: &mut [u8],
    len: usize,
    meta: &PacketMeta,
    tr: &mut T,
) -> Action {
    tr.note(Note::FromPort(port));
    let origin = match cx.tables.igw_of_port(port) {
        Some((g, _)) => Origin::Uplink(g),
        // Below the uplinks, port `i` is ENI `i`'s.
        None => Origin::Eni(EniIdx(port.0)),
    };
    let action = walk::walk(cx, origin, buf, len, meta, tr);
    match action {
        Action::Drop { reason, .. } => tr.note(Note::Dropped(reason)),
        Action::Forward { delivery, .. } => tr.note(Note::Delivered(delivery.to)),
        Action::Reply { .. } => tr.note(Note::RouterReply),
        Action::Consumed => tr.note(Note::RouterIgnored),
        Action::DhcpReply { .. } | Action::DhcpIgnored => {}
        Action::Resolved(a) => tr.note(Note::Resolver(a)),
        Action::Metadata => tr.note(Note::Metadata),
    }
    action
}

/// The fields rules look at.
pub(crate) fn rule_packet(ip: &IpMeta) -> RulePacket {
    let icmp = matches!(ip.proto, PROTO_ICMP | PROTO_ICMPV6) && !ip.fragment;
    RulePacket {
        proto: ip.proto,
        src: ip.src,
        dst: ip.dst,
        dst_port: if matches!(ip.proto, PROTO_TCP | PROTO_UDP) {
            ip.dst_port
        } else {
            0
        },
        src_port: if matches!(ip.proto, PROTO_TCP | PROTO_UDP) {
            ip.src_port
        } else {
            0
        },
        icmp: ip.icmp.filter(|_| icmp).map(|t| (t.ty, t.code)),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod firewall_tests;

#[cfg(test)]
mod igw_tests;

#[cfg(test)]
mod natgw_tests;

#[cfg(test)]
mod peering_tests;
