//! The slow path: every stage a frame passes when the flow cache has no answer for it.
//!
//! Each stage lives in its own module and returns a verdict; this module strings them
//! together and tells the [`Tracer`] what each decided, so the same code that forwards
//! can explain (`vpcctl trace` builds on it).

pub mod nacl;
pub mod route;
pub mod router;
pub mod sg;
pub mod srcdst;

use std::net::IpAddr;

use crate::config::EniIdx;
use crate::tables::Tables;
use crate::verdict::{Delivery, DropReason, Verdict};
use crate::wire::{PacketMeta, L3};

use route::NextHop;
use router::RouterAction;

/// Logical hops allowed per packet before it is dropped as a loop.
pub const HOP_BUDGET: u8 = 8;

/// One decision of one stage, for the tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// The frame left this ENI.
    FromEni(EniIdx),
    /// The VPC router answered (ARP or ICMP echo).
    RouterReply,
    /// The VPC router ignored an ARP frame.
    RouterIgnored,
    /// Delivered at layer 2 to a neighbour in the same subnet (no route table).
    Layer2(EniIdx),
    /// Route table `table` sent the destination to this hop.
    Routed {
        /// Route table index.
        table: u32,
        /// The resolved next hop.
        next: NextHop,
    },
    /// Delivered to this ENI.
    Delivered(EniIdx),
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

/// What the slow path decided for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send out of the destination ENI's port with these MACs.
    Forward(Delivery),
    /// Drop and count.
    Drop(DropReason),
    /// The buffer now holds a reply for the ingress port.
    Reply,
    /// Consumed without an answer (ignored ARP).
    Consumed,
}

impl Action {
    /// Whether the flow cache may remember this result for the frame's flow key.
    pub fn cacheable(&self) -> bool {
        matches!(self, Action::Forward(_) | Action::Drop(_))
    }
}

/// Runs the slow path for `frame` (an Ethernet frame) that ENI `in_eni` sent.
///
/// `frame` may be rewritten in place (router replies). `meta` is its parse.
pub fn slow_path<T: Tracer>(
    t: &Tables,
    in_eni: EniIdx,
    frame: &mut [u8],
    meta: &PacketMeta,
    tr: &mut T,
) -> Action {
    tr.note(Note::FromEni(in_eni));
    let action = decide(t, in_eni, frame, meta, tr);
    match action {
        Action::Drop(r) => tr.note(Note::Dropped(r)),
        Action::Forward(d) => tr.note(Note::Delivered(d.eni)),
        Action::Reply => tr.note(Note::RouterReply),
        Action::Consumed => tr.note(Note::RouterIgnored),
    }
    action
}

fn decide<T: Tracer>(
    t: &Tables,
    in_eni: EniIdx,
    frame: &mut [u8],
    meta: &PacketMeta,
    tr: &mut T,
) -> Action {
    let Some(eni) = t.enis.get(in_eni as usize) else {
        return Action::Drop(DropReason::Malformed);
    };
    let ip = match meta.l3 {
        L3::Arp => {
            return match router::arp(t, in_eni, frame) {
                RouterAction::Reply => Action::Reply,
                RouterAction::Ignore => Action::Consumed,
                RouterAction::Drop(r) => Action::Drop(r),
            }
        }
        _ if meta.dst_mac.is_broadcast() => return Action::Drop(DropReason::Broadcast),
        _ if meta.dst_mac.is_multicast() => return Action::Drop(DropReason::Multicast),
        L3::Other => return Action::Drop(DropReason::NonIp),
        L3::Ip(ip) => ip,
    };
    if ip.dst.is_ipv6() {
        return Action::Drop(DropReason::Ipv6NotForwarded);
    }
    if let Verdict::Drop(r) = srcdst::egress(eni, meta.src_mac, Some(ip.src)) {
        return Action::Drop(r);
    }
    let subnet = &t.subnets[eni.subnet as usize];
    if meta.dst_mac == subnet.router_mac {
        if router::is_router_address(t, eni.vpc, ip.dst) {
            return match router::icmp_echo(subnet.router_mac, frame) {
                RouterAction::Reply => Action::Reply,
                RouterAction::Ignore => Action::Consumed,
                RouterAction::Drop(r) => Action::Drop(r),
            };
        }
        return routed(t, in_eni, eni.vpc, subnet.route_table, ip.dst, tr);
    }
    // Layer 2 inside the subnet: no route table (and, later, no network ACL).
    let Some(&n) = subnet.macs.get(&meta.dst_mac) else {
        return Action::Drop(DropReason::UnknownDestinationMac);
    };
    if n == in_eni {
        return Action::Drop(DropReason::HairpinLoop);
    }
    tr.note(Note::Layer2(n));
    deliver(t, n, ip.dst, meta.src_mac)
}

/// The routed part: route lookup in the source subnet's table and resolution to an ENI.
///
/// Gateways and peerings (next issues) turn this into a loop over logical hops bounded
/// by [`HOP_BUDGET`]; today every routed packet ends at an ENI after one lookup.
fn routed<T: Tracer>(
    t: &Tables,
    in_eni: EniIdx,
    vpc: u32,
    table: u32,
    dst: IpAddr,
    tr: &mut T,
) -> Action {
    let next = match route::lookup(t, vpc, table, dst) {
        Err(r) => return Action::Drop(r),
        Ok(next) => next,
    };
    tr.note(Note::Routed { table, next });
    match next {
        NextHop::Eni(e) if e == in_eni => Action::Drop(DropReason::HairpinLoop),
        NextHop::Eni(e) => {
            let Some(dst_eni) = t.enis.get(e as usize) else {
                return Action::Drop(DropReason::Malformed);
            };
            let router_mac = t.subnets[dst_eni.subnet as usize].router_mac;
            deliver(t, e, dst, router_mac)
        }
    }
}

/// The last stage before an ENI's port: its destination check, then the MAC rewrite.
fn deliver(t: &Tables, e: EniIdx, dst: IpAddr, src_mac: crate::wire::MacAddr) -> Action {
    let eni = &t.enis[e as usize];
    match srcdst::ingress(eni, dst) {
        Verdict::Drop(r) => Action::Drop(r),
        _ => Action::Forward(Delivery {
            eni: e,
            src_mac,
            dst_mac: eni.mac,
        }),
    }
}

#[cfg(test)]
mod tests;
