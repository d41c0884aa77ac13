//! Stage: the internet gateway — the VPC's edge, doing 1:1 NAT between public IPv4
//! addresses (public IPs, Elastic IPs) and the private addresses they are associated
//! with, and refusing what AWS's gateway refuses: egress from an address without a public
//! IP, traffic to or from RFC 1918 / RFC 6598 space across the edge, ingress for an
//! address that is no one's public IP. Security groups and the subnet's ACL see private
//! addresses only. The 1500-byte hop is enforced at transmit (see the engine).

use std::net::{IpAddr, Ipv4Addr};

use super::{
    classify, nacl::Direction, nacl_stage, natgw, router, rule_packet, sg_stage, srcdst, Action,
    Context, Note, Pending, Tracer,
};
use crate::vpc::config::MappingTarget;
use crate::vpc::tables::Tables;
use crate::vpc::verdict::{Delivery, DropReason, Nat, Verdict};
use crate::wire::ethernet::HEADER_LEN;
use crate::wire::rewrite::{set_quoted_ipv4_addr, End};
use crate::wire::{icmp_error_quote, IpMeta, PacketMeta, Quoted};

/// RFC 1918 private and RFC 6598 shared (carrier-grade NAT) space.
pub fn is_private(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
}

fn v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// A packet leaving the VPC through gateway `g`: where it goes and how it is rewritten.
pub(crate) fn egress<T: Tracer>(
    t: &Tables,
    g: u32,
    vpc: u32,
    ip: &IpMeta,
    frame: &mut [u8],
    quote: Option<&Quoted>,
    tr: &mut T,
) -> Result<Delivery, DropReason> {
    let igw = t.igws.get(g as usize).ok_or(DropReason::Malformed)?;
    if igw.vpc != vpc {
        return Err(DropReason::NoRoute);
    }
    let (Some(src), Some(dst)) = (v4(ip.src), v4(ip.dst)) else {
        return Err(DropReason::Ipv6NotForwarded);
    };
    if is_private(dst) {
        return Err(DropReason::IgwPrivateDestination);
    }
    let Some(&public) = igw.outbound.get(&src) else {
        return Err(DropReason::IgwNoPublicIp);
    };
    // An ICMP error about a packet that came in through the gateway quotes the private
    // address; the internet knows the public one.
    if let Some(q) = quote {
        if q.dst == ip.src {
            if let Some(ipb) = frame.get_mut(HEADER_LEN..) {
                set_quoted_ipv4_addr(ipb, End::Dst, public).map_err(|_| DropReason::Malformed)?;
            }
        }
    }
    tr.note(Note::InternetGateway {
        igw: g,
        inbound: false,
        from: src,
        to: public,
    });
    Ok(Delivery {
        port: igw.port,
        src_mac: igw.mac,
        dst_mac: igw.host_mac,
        nat: Nat::Src(public, None),
        mtu: igw.mtu,
    })
}

/// A frame arriving from gateway `g`'s uplink (the internet).
pub(crate) fn ingress<T: Tracer>(
    cx: &mut Context<'_>,
    g: u32,
    frame: &mut [u8],
    meta: &PacketMeta,
    tr: &mut T,
) -> Action {
    let t = cx.tables;
    let Some(igw) = t.igws.get(g as usize) else {
        return Action::drop(DropReason::Malformed);
    };
    let ip = match classify(meta, || router::arp_for(igw.mac, igw.gateway_ip, frame)) {
        Ok(ip) => ip,
        Err(a) => return a,
    };
    if meta.dst_mac != igw.mac {
        return Action::drop(DropReason::UnknownDestinationMac);
    }
    let (Some(src), Some(dst)) = (v4(ip.src), v4(ip.dst)) else {
        return Action::drop(DropReason::Ipv6NotForwarded);
    };
    if Some(dst) == igw.gateway_ip {
        return router::icmp_echo(igw.mac, frame).into();
    }
    if is_private(src) {
        return Action::drop(DropReason::IgwPrivateSource);
    }
    let Some(&(target, private)) = igw.inbound.get(&dst) else {
        return Action::drop(DropReason::IgwNoPublicMapping);
    };
    tr.note(Note::InternetGateway {
        igw: g,
        inbound: true,
        from: dst,
        to: private,
    });
    // From here on the packet is seen with its private destination.
    let ip = IpMeta {
        dst: IpAddr::V4(private),
        ..ip
    };
    // An ICMP error about a packet that left through the gateway quotes the public
    // address: translate the quote.
    let mut quote = icmp_error_quote(frame, &ip);
    if let Some(q) = quote.as_mut() {
        if q.src == IpAddr::V4(dst) {
            q.src = IpAddr::V4(private);
            if let Some(ipb) = frame.get_mut(HEADER_LEN..) {
                if set_quoted_ipv4_addr(ipb, End::Src, private).is_err() {
                    return Action::drop(DropReason::Malformed);
                }
            }
        }
    }
    let e = match target {
        MappingTarget::Eni(e) => {
            cx.owner = Some((e, true));
            e
        }
        MappingTarget::NatGateway(n) => {
            return to_nat_gateway(cx, n, private, &ip, frame, quote.as_ref(), tr)
        }
    };
    let rp = rule_packet(&ip);
    let Some(eni) = t.enis.get(e as usize) else {
        return Action::drop(DropReason::Malformed);
    };
    let subnet = &t.subnets[eni.subnet as usize];
    if let Some(a) = subnet.network_acl {
        if let Err(d) = nacl_stage(t, a, Direction::Inbound, &rp, tr) {
            return d;
        }
    }
    if let Verdict::Drop(r) = srcdst::ingress(eni, ip.dst) {
        return Action::drop(r);
    }
    let mut pending = Pending::default();
    // From the internet: no group's member.
    if let Err(r) = sg_stage(
        cx,
        e,
        false,
        &ip,
        &rp,
        quote.as_ref(),
        &mut pending,
        None,
        tr,
    ) {
        return Action::drop(r);
    }
    let ct = match pending.commit(cx) {
        Ok(ct) => ct,
        Err(r) => return Action::drop(r),
    };
    let t = cx.tables;
    let eni = &t.enis[e as usize];
    Action::Forward {
        delivery: Delivery {
            port: e,
            src_mac: t.subnets[eni.subnet as usize].router_mac,
            dst_mac: eni.mac,
            nat: Nat::Dst(private, None),
            mtu: 0,
        },
        ct,
        cacheable: quote.is_none() && !pending.related,
    }
}

/// Inbound traffic for a public NAT gateway's Elastic IP: the gateway's subnet ACL,
/// then the gateway itself (which lets in only replies of its translations).
fn to_nat_gateway<T: Tracer>(
    cx: &mut Context<'_>,
    n: u32,
    private: Ipv4Addr,
    ip: &IpMeta,
    frame: &mut [u8],
    quote: Option<&Quoted>,
    tr: &mut T,
) -> Action {
    let t = cx.tables;
    let Some(nt) = t.nats.get(n as usize) else {
        return Action::drop(DropReason::Malformed);
    };
    if let Some(a) = t.subnets[nt.subnet as usize].network_acl {
        if let Err(d) = nacl_stage(t, a, Direction::Inbound, &rule_packet(ip), tr) {
            return d;
        }
    }
    let action = natgw::enter(
        cx,
        n,
        natgw::Sender::Internet,
        ip,
        frame,
        quote,
        Pending::default(),
        tr,
    );
    match action {
        // The gateway's 1:1 rewrite (public → `private`) comes first; the NAT gateway's
        // rewrite of the same end replaces it.
        Action::Forward {
            delivery,
            ct,
            cacheable,
        } => Action::Forward {
            delivery: Delivery {
                nat: Nat::Dst(private, None).then(delivery.nat),
                ..delivery
            },
            ct,
            cacheable,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_shared_space() {
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
        ] {
            assert!(is_private(a.parse().unwrap()), "{a}");
        }
        for a in [
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "203.0.113.5",
        ] {
            assert!(!is_private(a.parse().unwrap()), "{a}");
        }
    }
}
