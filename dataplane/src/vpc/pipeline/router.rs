//! Stage: services of the VPC's implicit router — ARP answers and ICMP echo to the
//! router's own addresses. Replies are written in place into the request's buffer and
//! sent back out of the port the request came in on.

use std::net::{IpAddr, Ipv4Addr};

use crate::vpc::config::{EniIdx, VpcIdx};
use crate::vpc::tables::Tables;
use crate::vpc::verdict::DropReason;
use crate::wire::arp::{ArpOp, ArpRepr};
use crate::wire::ethernet::{EthernetFrame, HEADER_LEN};
use crate::wire::ipv4::{Ipv4Packet, PROTO_ICMP};
use crate::wire::{checksum, MacAddr};

/// What the router did with a frame addressed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterAction {
    /// The frame now holds a reply of `len` bytes to send back out of the ingress port.
    Reply {
        /// The reply's length (the request's).
        len: usize,
    },
    /// Nothing to answer (gratuitous ARP, a request for an unassigned address, …).
    Ignore,
    /// Dropped for this reason.
    Drop(DropReason),
}

/// Answers an ARP request from `in_eni`, as the VPC's hypervisor does: the subnet's
/// `.1` resolves to the router MAC, an address of an ENI in the same subnet to that ENI's
/// MAC, anything else gets no answer. Replies and gratuitous ARP are ignored, so they
/// can never move an address.
pub fn arp(t: &Tables, in_eni: EniIdx, frame: &mut [u8]) -> RouterAction {
    let Some(eni) = t.enis.get(in_eni.idx()) else {
        return RouterAction::Drop(DropReason::Malformed);
    };
    let Ok(req) = ArpRepr::parse(&frame[HEADER_LEN.min(frame.len())..]) else {
        return RouterAction::Drop(DropReason::Malformed);
    };
    if eni.source_dest_check {
        if req.sender_mac != eni.mac {
            return RouterAction::Drop(DropReason::SourceMacSpoofed);
        }
        if !req.sender_ip.is_unspecified() && !eni.owns(IpAddr::V4(req.sender_ip)) {
            return RouterAction::Drop(DropReason::SourceIpSpoofed);
        }
    }
    if req.op != ArpOp::Request
        || req.sender_ip == req.target_ip
        || eni.owns(IpAddr::V4(req.target_ip))
    {
        return RouterAction::Ignore;
    }
    let subnet = &t.subnets[eni.subnet.idx()];
    let answer: Option<MacAddr> = if req.target_ip == subnet.router_ip4 {
        Some(subnet.router_mac)
    } else {
        t.owner(eni.vpc, IpAddr::V4(req.target_ip))
            .map(|o| &t.enis[o.idx()])
            .filter(|o| o.subnet == eni.subnet)
            .map(|o| o.mac)
    };
    let Some(mac) = answer else {
        return RouterAction::Ignore;
    };
    answer_arp(frame, &req, mac)
}

/// Answers with `mac` an ARP request whose (sender, target) addresses `answers` accepts
/// (an internet gateway's outside addresses); everything else, and gratuitous ARP, is
/// ignored.
pub fn arp_for(
    mac: MacAddr,
    frame: &mut [u8],
    answers: impl FnOnce(Ipv4Addr, Ipv4Addr) -> bool,
) -> RouterAction {
    let Ok(req) = ArpRepr::parse(&frame[HEADER_LEN.min(frame.len())..]) else {
        return RouterAction::Drop(DropReason::Malformed);
    };
    if req.op != ArpOp::Request
        || req.sender_ip == req.target_ip
        || !answers(req.sender_ip, req.target_ip)
    {
        return RouterAction::Ignore;
    }
    answer_arp(frame, &req, mac)
}

/// Rewrites the request `req` in `frame` into the reply "`req.target_ip` is at `mac`".
fn answer_arp(frame: &mut [u8], req: &ArpRepr, mac: MacAddr) -> RouterAction {
    let reply = ArpRepr {
        op: ArpOp::Reply,
        sender_mac: mac,
        sender_ip: req.target_ip,
        target_mac: req.sender_mac,
        target_ip: req.sender_ip,
    };
    let Ok(mut eth) = EthernetFrame::new_checked(&mut frame[..]) else {
        return RouterAction::Drop(DropReason::Malformed);
    };
    eth.set_dst(req.sender_mac);
    eth.set_src(mac);
    match reply.emit(&mut frame[HEADER_LEN..]) {
        Ok(()) => RouterAction::Reply { len: frame.len() },
        Err(_) => RouterAction::Drop(DropReason::Malformed),
    }
}

/// Answers an ICMP echo request to one of the router's addresses; anything else sent to
/// the router is dropped.
pub fn icmp_echo(router_mac: MacAddr, frame: &mut [u8]) -> RouterAction {
    let Some(ip_bytes) = frame.get_mut(HEADER_LEN..) else {
        return RouterAction::Drop(DropReason::Malformed);
    };
    let Ok(mut ip) = Ipv4Packet::new_checked(&mut ip_bytes[..]) else {
        return RouterAction::Drop(DropReason::RouterUnsupported);
    };
    if ip.protocol() != PROTO_ICMP || ip.frag_offset() != 0 || ip.more_fragments() {
        return RouterAction::Drop(DropReason::RouterUnsupported);
    }
    let icmp = ip.payload_mut();
    if icmp.len() < 8 || icmp[0] != 8 || icmp[1] != 0 {
        return RouterAction::Drop(DropReason::RouterUnsupported);
    }
    icmp[0] = 0; // echo reply
    icmp[2] = 0;
    icmp[3] = 0;
    let c = checksum::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ip.swap_addresses();
    ip.set_ttl(64);
    let mut eth = match EthernetFrame::new_checked(&mut frame[..]) {
        Ok(e) => e,
        Err(_) => return RouterAction::Drop(DropReason::Malformed),
    };
    let requester = eth.src();
    eth.set_dst(requester);
    eth.set_src(router_mac);
    RouterAction::Reply { len: frame.len() }
}

/// Whether `dst` is the router's own address in one of `vpc`'s subnets.
#[inline]
pub fn is_router_address(t: &Tables, vpc: VpcIdx, dst: IpAddr) -> bool {
    t.vpcs
        .get(vpc.idx())
        .is_some_and(|v| v.router_ips.contains_key(&dst))
}

/// The router's address in a subnet: the network address plus one.
pub fn router_ip(cidr: ipnet::Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(cidr.network()).wrapping_add(1))
}
