//! The hop loop: a packet walks the VPC's logical elements one at a time, with a budget.
//!
//! ```text
//! origin ─► Eni::leave | InternetGateway::inbound        (the element the frame came from)
//!   loop (at most HOP_BUDGET steps):
//!     Step::Next(node) ─► cross the subnet boundary (NACL out of the old subnet, NACL in
//!                         of the new one, when they differ) ─► node.enter()
//!     Step::Out(delivery) ─► open the pending connections ─► Action::Forward
//!     Step::Stop(action)  ─► drop, reply or consume
//! ```
//!
//! Each element ([`Node`]) is a type with one `enter` returning a [`Step`]; the loop knows
//! nothing about what an element does. The boundary between subnets is crossed in one
//! place (`cross`), so "leave a subnet" and "enter a subnet" exist once. A new gateway
//! kind is a new [`Node`] variant and its element, not a change to the loop.

use super::eni::Eni;
use super::igw::InternetGateway;
use super::natgw::NatGateway;
use super::peering::Peering;
use super::pending::Pending;
use super::route::{NextHop, Router};
use super::{subnet, Action, Context, Tracer};
use crate::vpc::config::{EniIdx, IgwIdx, Interface, NatIdx, PeeringIdx, SubnetIdx, VpcIdx};
use crate::vpc::tables::Tables;
use crate::vpc::verdict::{Charge, Delivery, DropReason, Nat, NatHop};
use crate::wire::{IpMeta, MacAddr, PacketMeta, Quoted};

/// Logical hops allowed per packet before it is dropped as a loop.
pub const HOP_BUDGET: u8 = 8;

/// A logical element of a VPC that a packet can be at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// An ENI: where a packet starts (leaving it) or ends (delivered to it).
    Eni(EniIdx),
    /// The VPC router in a subnet: routes by the subnet's route table.
    Router(SubnetIdx),
    /// An internet gateway: entered from inside the VPC on the way out, and the element
    /// a frame from its uplink (the internet) starts at.
    InternetGateway(IgwIdx),
    /// A NAT gateway (a node in its subnet).
    NatGateway(NatIdx),
    /// A peering connection, leading into VPC `peer`.
    Peering {
        /// The connection.
        pcx: PeeringIdx,
        /// The VPC on the other side.
        peer: VpcIdx,
    },
}

impl Node {
    /// The subnet the element sits in; `None` for the elements at a VPC's edge
    /// (gateways to the internet, peering connections).
    pub fn subnet(self, t: &Tables) -> Option<SubnetIdx> {
        match self {
            Node::Eni(e) => t.enis.get(e.idx()).map(|e| e.subnet),
            Node::Router(s) => Some(s),
            Node::NatGateway(n) => t.nats.get(n.idx()).map(|n| n.subnet),
            Node::InternetGateway(_) | Node::Peering { .. } => None,
        }
    }

    /// The element this node names, entered by the packet of `w`.
    fn enter<T: Tracer>(self, cx: &mut Context<'_>, w: &mut Walk<'_>, tr: &mut T) -> Step {
        match self {
            Node::Eni(e) => Eni(e).enter(cx, w, tr),
            Node::Router(s) => Router(s).enter(cx, w, tr),
            Node::InternetGateway(g) => InternetGateway(g).enter(cx, w, tr),
            Node::NatGateway(n) => NatGateway(n).enter(cx, w, tr),
            Node::Peering { pcx, peer } => Peering { pcx, peer }.enter(cx, w, tr),
        }
    }
}

/// The one interface of every element of the walk: a packet enters it, and it says what
/// comes next. An element that is also where a frame can start (an ENI, an internet
/// gateway's uplink) has a `leave`/`inbound` constructor of the walk besides.
pub(crate) trait Element {
    /// The packet of `w` arrives at this element.
    fn enter<T: Tracer>(self, cx: &mut Context<'_>, w: &mut Walk<'_>, tr: &mut T) -> Step;
}

/// What an element decided for the packet: the one verdict type of every element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on to this element.
    Next(Node),
    /// Leave through a port, rewritten as this delivery says.
    Out(Delivery),
    /// Stop here: drop, reply or consume.
    Stop(Action),
}

impl From<Action> for Step {
    fn from(a: Action) -> Step {
        Step::Stop(a)
    }
}

impl From<DropReason> for Step {
    fn from(r: DropReason) -> Step {
        Step::Stop(Action::drop(r))
    }
}

/// The port a frame arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An ENI's port.
    Eni(EniIdx),
    /// An internet gateway's uplink.
    Uplink(IgwIdx),
}

/// The packet on its walk: what elements read and change on the way.
pub(crate) struct Walk<'f> {
    /// The frame (Ethernet header first); elements may rewrite it in place (replies,
    /// quoted headers of ICMP errors).
    pub frame: &'f mut [u8],
    /// The port it arrived on.
    pub origin: Origin,
    /// The Ethernet source it arrived with.
    pub src_mac: MacAddr,
    /// The IP header as the next element sees it (after translations so far).
    pub ip: IpMeta,
    /// The packet an ICMP error quotes, as the next element sees it.
    pub quote: Option<Quoted>,
    /// The address rewrite so far, applied at transmit.
    pub nat: Nat,
    /// The VPC the packet is in now (the sender's, or the one whose router sent it on).
    pub vpc: VpcIdx,
    /// The VPC whose security-group members the source may be (`None`: from outside).
    pub peer_vpc: Option<VpcIdx>,
    /// Delivered at layer 2 inside a subnet: the Ethernet source stays the sender's.
    pub layer2: bool,
    /// The route the sender's security group already looked up (reused by the router).
    pub routed: Option<Result<NextHop, DropReason>>,
    /// The NAT gateway the packet went through, if any, and what its interface saw.
    pub via_nat: Option<NatHop>,
    /// Connections and translations to open once every element passed.
    pub pending: Pending,
}

impl<'f> Walk<'f> {
    /// A walk for the IP packet `ip` of `frame`, arrived from `origin`.
    pub fn new(frame: &'f mut [u8], origin: Origin, meta: &PacketMeta, ip: IpMeta) -> Walk<'f> {
        Walk {
            frame,
            origin,
            src_mac: meta.src_mac,
            ip,
            quote: None,
            nat: Nat::None,
            vpc: VpcIdx(0),
            peer_vpc: None,
            layer2: false,
            routed: None,
            via_nat: None,
            pending: Pending::default(),
        }
    }
}

/// Runs the hop loop for a frame from `origin`.
pub(crate) fn walk<T: Tracer>(
    cx: &mut Context<'_>,
    origin: Origin,
    buf: &mut [u8],
    len: usize,
    meta: &PacketMeta,
    tr: &mut T,
) -> Action {
    let first = match origin {
        Origin::Eni(e) => Eni(e).leave(cx, buf, len, meta, tr),
        Origin::Uplink(g) => match buf.get_mut(..len) {
            Some(frame) => InternetGateway(g).inbound(cx, frame, meta, tr),
            None => Err(Action::drop(DropReason::Malformed)),
        },
    };
    let (mut w, step) = match first {
        Ok(x) => x,
        Err(a) => return a,
    };
    let at = match origin {
        Origin::Eni(e) => Node::Eni(e),
        Origin::Uplink(g) => Node::InternetGateway(g),
    };
    let action = hops(cx, &mut w, at, step, tr);
    cx.via_nat = w.via_nat;
    action
}

/// The hops of the walk `w` from element `at`, which decided `step`.
fn hops<T: Tracer>(
    cx: &mut Context<'_>,
    w: &mut Walk<'_>,
    mut at: Node,
    mut step: Step,
    tr: &mut T,
) -> Action {
    for _ in 0..HOP_BUDGET {
        let next = match step {
            Step::Next(n) => n,
            Step::Out(d) => return finish(cx, w, d),
            Step::Stop(a) => return a,
        };
        if let Err(a) = cross(cx, w, at, next, tr) {
            return a;
        }
        step = next.enter(cx, w, tr);
        at = next;
    }
    Action::drop(DropReason::HopLimit)
}

/// Moves the packet from element `at` to `next`: when their subnets differ it leaves the
/// old subnet (its network ACL, outbound) and enters the new one (inbound). Refusals are
/// charged, in flow logs, to the interface the packet last left (the sender's, or a NAT
/// gateway's) until it enters the side of the next interface (the destination ENI's, or
/// a NAT gateway's), then to that one.
fn cross<T: Tracer>(
    cx: &mut Context<'_>,
    w: &Walk<'_>,
    at: Node,
    next: Node,
    tr: &mut T,
) -> Result<(), Action> {
    let t = cx.tables;
    let (from, to) = (at.subnet(t), next.subnet(t));
    let receiver = match next {
        Node::Eni(e) => Some(Interface::Eni(e)),
        Node::NatGateway(n) => Some(Interface::NatGateway(n)),
        _ => None,
    };
    let charge = receiver.map(|iface| Charge {
        iface,
        ingress: true,
        seen: w.nat,
    });
    if from != to {
        let rp = super::rule_packet(&w.ip);
        if let Some(s) = from {
            subnet::leave(t, s, &rp, tr)?;
        }
        if charge.is_some() {
            cx.owner = charge;
        }
        if let Some(s) = to {
            subnet::enter(t, s, &rp, tr)?;
        }
    } else if charge.is_some() {
        cx.owner = charge;
    }
    Ok(())
}

/// The packet passed every element: open its pending connections, then forward.
fn finish(cx: &mut Context<'_>, w: &Walk<'_>, delivery: Delivery) -> Action {
    match w.pending.commit(cx) {
        Ok(ct) => Action::Forward {
            delivery,
            ct,
            cacheable: w.pending.cacheable(w.quote.as_ref()),
        },
        Err(r) => {
            if let (DropReason::NatPortAllocation, Some(h)) = (r, w.via_nat) {
                if let Some(st) = cx.state.nat(h.nat) {
                    st.metrics.error_port_allocation += 1;
                }
            }
            Action::drop(r)
        }
    }
}
