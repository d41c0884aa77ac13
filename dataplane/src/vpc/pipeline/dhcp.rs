//! Stage: the VPC router's DHCP server (RFC 2131), as AWS's: every ENI gets its primary
//! private IPv4 address, the subnet's mask, the router (`.1`), and the VPC's DHCP options
//! (domain name servers, domain name, NTP servers), its MTU (option 26) and a lease.
//!
//! It answers only the ENI's own MAC (both the Ethernet source and `chaddr`), never
//! hands out another address (a REQUEST for one gets a NAK), and is not filtered by
//! network ACLs or security groups, nor recorded in flow logs. The DHCP wire format is
//! smoltcp's (`DhcpPacket`, `DhcpRepr`); the Ethernet, IPv4 and UDP headers around it are
//! written here. The reply is written in place over the request, and may be longer than
//! it: the caller passes the whole buffer, the request being its first `len` bytes.
//!
//! Malformed input never panics and never allocates: a message shorter than the BOOTP
//! header and magic cookie, an option running past the end of the message, a missing
//! END option, `htype`/`hlen` other than Ethernet/6, a message type out of range or
//! missing, or a UDP length the frame does not hold is dropped and counted
//! (`dhcp_malformed`). A BOOTREPLY, a `chaddr` or source MAC other than the ENI's, a
//! message using option overload (52), an INFORM from an address that is not the
//! ENI's, RELEASE and DECLINE are consumed without an answer (`dhcp_ignored`). A
//! fragment is not a client message: it takes the ordinary path (and its drops). The
//! answer's size does not depend on the request (its options are not echoed).

use std::net::Ipv4Addr;

use smoltcp::wire::{
    DhcpMessageType, DhcpOpCode, DhcpOption, DhcpPacket, DhcpRepr, DHCP_CLIENT_PORT,
    DHCP_SERVER_PORT,
};

use crate::vpc::config::EniIdx;
use crate::vpc::tables::Tables;
use crate::vpc::verdict::DropReason;
use crate::wire::ethernet::{ETHERTYPE_IPV4, HEADER_LEN};
use crate::wire::ipv4::PROTO_UDP;
use crate::wire::{checksum, IpMeta, MacAddr, PacketMeta, L3};

/// Length of the IPv4 header the router writes (no options).
const IP_HEADER_LEN: usize = 20;
/// Length of a UDP header.
const UDP_HEADER_LEN: usize = 8;
/// The smallest DHCP message a BOOTP relay or client must accept (RFC 2131 section 2;
/// RFC 951's 300-byte BOOTP message): shorter replies are padded with zeros.
const MIN_DHCP_LEN: usize = 300;
/// DHCP option codes the router sends that smoltcp's `DhcpRepr` has no field for.
const OPT_DOMAIN_NAME_SERVER: u8 = 6;
const OPT_DOMAIN_NAME: u8 = 15;
const OPT_INTERFACE_MTU: u8 = 26;
const OPT_NTP_SERVERS: u8 = 42;
const OPT_RENEWAL_TIME: u8 = 58;
const OPT_REBINDING_TIME: u8 = 59;
/// Option codes the server reads itself (smoltcp skips them).
const OPT_PAD: u8 = 0;
const OPT_OVERLOAD: u8 = 52;
const OPT_END: u8 = 255;
/// Where the options start: the BOOTP header (236 bytes) and the magic cookie.
const OPTIONS_START: usize = 240;

/// What the router's DHCP server did with a client message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpAction {
    /// The buffer now holds the answer (OFFER, ACK or NAK), a frame of `len` bytes, to
    /// send back out of the ingress port.
    Reply {
        /// The answer's length (Ethernet frame).
        len: usize,
        /// Which answer.
        kind: DhcpReply,
    },
    /// Nothing to answer: RELEASE, DECLINE, a message from a foreign MAC, a REQUEST
    /// addressed to another server, a server message sent by a client.
    Ignore,
    /// Dropped for this reason (a malformed message, a reply that does not fit).
    Drop(DropReason),
}

/// The kind of an answer of the DHCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpReply {
    /// DHCPOFFER, to a DISCOVER.
    Offer,
    /// DHCPACK, to a REQUEST (selecting, init-reboot, renewing, rebinding) or an INFORM.
    Ack,
    /// DHCPNAK, to a REQUEST for an address that is not the ENI's.
    Nak,
}

/// Whether a parsed frame is a DHCP client message for the VPC router: IPv4 UDP from
/// port 68 to port 67, not a fragment, broadcast to `255.255.255.255` or unicast to
/// `router` (the subnet's `.1`, when renewing). One to another address (a DHCP server
/// an instance runs) is ordinary traffic.
#[inline]
pub fn is_client_message(meta: &PacketMeta, router: Ipv4Addr) -> bool {
    match meta.l3 {
        L3::Ip(IpMeta {
            src: std::net::IpAddr::V4(_),
            dst: std::net::IpAddr::V4(dst),
            proto: PROTO_UDP,
            src_port: DHCP_CLIENT_PORT,
            dst_port: DHCP_SERVER_PORT,
            fragment: false,
            ..
        }) => dst == Ipv4Addr::BROADCAST || dst == router,
        _ => false,
    }
}

/// Answers the DHCP client message in `buf[..len]` (an Ethernet frame, see
/// [`is_client_message`]) that ENI `in_eni` sent; `buf` is the whole packet buffer, so
/// the answer may be longer than the request.
pub fn serve(
    t: &Tables,
    in_eni: EniIdx,
    meta: &PacketMeta,
    buf: &mut [u8],
    len: usize,
) -> DhcpAction {
    let (Some(eni), Some(eni_cfg)) = (t.enis.get(in_eni.idx()), t.config.enis.get(in_eni.idx()))
    else {
        return DhcpAction::Drop(DropReason::Malformed);
    };
    // The server knows one client per port: the ENI's own MAC.
    if meta.src_mac != eni.mac {
        return DhcpAction::Ignore;
    }
    let (Some(subnet), Some(vpc)) = (
        t.subnets.get(eni.subnet.idx()),
        t.config.vpcs.get(eni.vpc.idx()),
    ) else {
        return DhcpAction::Drop(DropReason::Malformed);
    };
    let L3::Ip(ip) = meta.l3 else {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    };
    let start = usize::from(ip.l4_offset) + UDP_HEADER_LEN;
    let Some(payload) = buf.get(..len).and_then(|f| f.get(start..)) else {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    };
    // The UDP length bounds the message (the frame may carry Ethernet padding).
    let udp_len = buf
        .get(start - UDP_HEADER_LEN + 4..start - UDP_HEADER_LEN + 6)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let Some(payload) = payload.get(..udp_len.saturating_sub(UDP_HEADER_LEN)) else {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    };
    let Ok(packet) = DhcpPacket::new_checked(payload) else {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    };
    // A BOOTREPLY (or an unknown op) is not for a server.
    if packet.opcode() != DhcpOpCode::Request {
        return DhcpAction::Ignore;
    }
    // smoltcp stops quietly at an option that runs past the end and does not ask for
    // the END option: a message cut short would be answered from what is left.
    let Some(overload) = options_well_formed(payload) else {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    };
    let Ok(req) = DhcpRepr::parse(&packet) else {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    };
    // Options continued in `sname`/`file` (option 52) are not read by smoltcp: a
    // requested address or server identifier there would be missed, so such a message
    // is left unanswered rather than answered wrong.
    if overload {
        return DhcpAction::Ignore;
    }
    if req.client_hardware_address.as_bytes() != eni.mac.0 {
        return DhcpAction::Ignore;
    }
    let Some(&std::net::IpAddr::V4(address)) = eni.addrs.first() else {
        return DhcpAction::Ignore;
    };
    let router = subnet.router_ip4;
    let (kind, yiaddr) = match req.message_type {
        DhcpMessageType::Discover => (DhcpReply::Offer, address),
        DhcpMessageType::Request => {
            // SELECTING names the chosen server; an answer to another server's offer
            // is not ours to acknowledge.
            if req.server_identifier.is_some_and(|s| s != router) {
                return DhcpAction::Ignore;
            }
            // SELECTING and INIT-REBOOT ask with option 50; RENEWING and REBINDING
            // with `ciaddr`.
            let asked = req.requested_ip.unwrap_or(req.client_ip);
            if asked == address {
                (DhcpReply::Ack, address)
            } else {
                (DhcpReply::Nak, Ipv4Addr::UNSPECIFIED)
            }
        }
        // INFORM comes from a configured client: only from one of the ENI's addresses
        // (the ACK goes to `ciaddr`).
        DhcpMessageType::Inform if eni.addrs.contains(&std::net::IpAddr::V4(req.client_ip)) => {
            (DhcpReply::Ack, Ipv4Addr::UNSPECIFIED)
        }
        _ => return DhcpAction::Ignore,
    };
    let inform = req.message_type == DhcpMessageType::Inform;
    let cfg = &vpc.dhcp;
    let lease = cfg.lease_secs;
    let mut extra: [DhcpOption<'_>; 6] = [EMPTY; 6];
    let mut n = 0;
    let (mut dns, mut ntp) = ([0u8; 4 * 16], [0u8; 4 * 16]);
    let renew = (lease / 2).to_be_bytes();
    let rebind = (lease / 8 * 7).to_be_bytes();
    let mtu = u16::try_from(eni_cfg.mtu).unwrap_or(u16::MAX).to_be_bytes();
    if kind != DhcpReply::Nak {
        let mut push = |kind: u8, data| {
            extra[n] = DhcpOption { kind, data };
            n += 1;
        };
        if !inform {
            push(OPT_RENEWAL_TIME, &renew[..]);
            push(OPT_REBINDING_TIME, &rebind[..]);
        }
        if !cfg.dns_servers.is_empty() {
            push(
                OPT_DOMAIN_NAME_SERVER,
                addr_list(&cfg.dns_servers, &mut dns),
            );
        }
        if let Some(d) = cfg.domain_name.as_deref().filter(|d| d.len() <= 255) {
            push(OPT_DOMAIN_NAME, d.as_bytes());
        }
        if !cfg.ntp_servers.is_empty() {
            push(OPT_NTP_SERVERS, addr_list(&cfg.ntp_servers, &mut ntp));
        }
        push(OPT_INTERFACE_MTU, &mtu[..]);
    }
    let full = kind != DhcpReply::Nak;
    let reply = DhcpRepr {
        message_type: match kind {
            DhcpReply::Offer => DhcpMessageType::Offer,
            DhcpReply::Ack => DhcpMessageType::Ack,
            DhcpReply::Nak => DhcpMessageType::Nak,
        },
        transaction_id: req.transaction_id,
        secs: 0,
        client_hardware_address: req.client_hardware_address,
        client_ip: if inform {
            req.client_ip
        } else {
            Ipv4Addr::UNSPECIFIED
        },
        your_ip: yiaddr,
        server_ip: Ipv4Addr::UNSPECIFIED,
        router: full.then_some(router),
        subnet_mask: full.then(|| subnet.cidr4.netmask()),
        relay_agent_ip: Ipv4Addr::UNSPECIFIED,
        broadcast: req.broadcast,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(router),
        parameter_request_list: None,
        dns_servers: None,
        max_size: None,
        lease_duration: (full && !inform).then_some(lease),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &extra[..n],
    };
    // RFC 2131 section 4.1: to `ciaddr` when the client has one; a NAK, or a client
    // that asks for it (BROADCAST flag), gets a broadcast; otherwise unicast to the
    // offered address and `chaddr`.
    let (dst_ip, dst_mac) = if kind == DhcpReply::Nak {
        (Ipv4Addr::BROADCAST, MacAddr::BROADCAST)
    } else if !req.client_ip.is_unspecified() {
        (req.client_ip, eni.mac)
    } else if req.broadcast {
        (Ipv4Addr::BROADCAST, MacAddr::BROADCAST)
    } else {
        (yiaddr, eni.mac)
    };
    let dhcp_len = reply.buffer_len().max(MIN_DHCP_LEN);
    let total = HEADER_LEN + IP_HEADER_LEN + UDP_HEADER_LEN + dhcp_len;
    let Some(out) = buf.get_mut(..total) else {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    };
    out.fill(0);
    let dhcp_start = HEADER_LEN + IP_HEADER_LEN + UDP_HEADER_LEN;
    let mut packet = DhcpPacket::new_unchecked(&mut out[dhcp_start..]);
    if reply.emit(&mut packet).is_err() {
        return DhcpAction::Drop(DropReason::DhcpMalformed);
    }
    write_headers(out, subnet.router_mac, dst_mac, router, dst_ip, dhcp_len);
    DhcpAction::Reply { len: total, kind }
}

/// Walks the options field of the DHCP message `msg` (at least a BOOTP header and the
/// magic cookie long): every option must lie within the message and the END option must
/// close the list (RFC 2131 section 3). Returns whether the message says that options
/// continue in `sname`/`file` (option 52), or `None` if the field is malformed.
fn options_well_formed(msg: &[u8]) -> Option<bool> {
    let mut rest = msg.get(OPTIONS_START..)?;
    let mut overload = false;
    loop {
        match *rest {
            [OPT_END, ..] => return Some(overload),
            [OPT_PAD, ref tail @ ..] => rest = tail,
            [kind, len, ref tail @ ..] => {
                overload |= kind == OPT_OVERLOAD;
                rest = tail.get(usize::from(len)..)?;
            }
            // No END, or a code without its length.
            [] | [_] => return None,
        }
    }
}

/// A placeholder option, overwritten before use.
const EMPTY: DhcpOption<'static> = DhcpOption { kind: 0, data: &[] };

/// Writes up to 16 addresses into `out`, as a DHCP option's list.
fn addr_list<'b>(addrs: &[Ipv4Addr], out: &'b mut [u8; 64]) -> &'b [u8] {
    let n = addrs.len().min(16);
    for (chunk, a) in out.chunks_exact_mut(4).zip(addrs.iter().take(n)) {
        chunk.copy_from_slice(&a.octets());
    }
    &out[..4 * n]
}

/// Writes the Ethernet, IPv4 and UDP headers (with checksums) in front of the DHCP
/// message of `dhcp_len` bytes at the end of `out`.
fn write_headers(
    out: &mut [u8],
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dhcp_len: usize,
) {
    out[0..6].copy_from_slice(&dst_mac.0);
    out[6..12].copy_from_slice(&src_mac.0);
    out[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let udp_len = (UDP_HEADER_LEN + dhcp_len) as u16;
    let ip_len = IP_HEADER_LEN as u16 + udp_len;
    let ip = &mut out[HEADER_LEN..HEADER_LEN + IP_HEADER_LEN];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = PROTO_UDP;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = checksum::checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp_start = HEADER_LEN + IP_HEADER_LEN;
    let udp = &mut out[udp_start..];
    udp[0..2].copy_from_slice(&DHCP_SERVER_PORT.to_be_bytes());
    udp[2..4].copy_from_slice(&DHCP_CLIENT_PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    let mut acc = checksum::sum(0, &src.octets());
    acc = checksum::sum(acc, &dst.octets());
    acc = checksum::sum(acc, &[0, PROTO_UDP]);
    acc = checksum::sum(acc, &udp_len.to_be_bytes());
    acc = checksum::sum(acc, udp);
    let c = match !checksum::fold(acc) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
#[path = "dhcp_tests.rs"]
mod tests;
