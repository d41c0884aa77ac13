//! Element: the internet gateway — the VPC's edge, doing 1:1 NAT between public IPv4
//! addresses (public IPs, Elastic IPs) and the private addresses they are associated
//! with, and refusing what AWS's gateway refuses: egress from an address without a public
//! IP, traffic to or from RFC 1918 / RFC 6598 space across the edge, ingress for an
//! address that is no one's public IP. Security groups and the subnet's ACL see private
//! addresses only. The 1500-byte hop is enforced at transmit (see the engine).

use std::net::{IpAddr, Ipv4Addr};

use super::walk::{Element, Node, Origin, Step, Walk};
use super::{classify, router, Action, Context, Note, Tracer};
use crate::vpc::config::{IgwIdx, MappingTarget, VpcIdx};
use crate::vpc::tables::Tables;
use crate::vpc::verdict::{Delivery, DropReason, Nat, OutPort};
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

/// An internet gateway, as an element of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternetGateway(pub IgwIdx);

impl Element for InternetGateway {
    /// A packet routed to the gateway from inside the VPC: its source is translated to
    /// its public address, and it leaves through the uplink, or, when its destination is
    /// a public address of this gateway (another instance's, or a NAT gateway's Elastic
    /// IP), turns back in translated to the private address (the hairpin, as AWS does:
    /// the receiver's subnet ACL and security groups see the sender's public address).
    fn enter<T: Tracer>(self, cx: &mut Context<'_>, w: &mut Walk<'_>, tr: &mut T) -> Step {
        let t = cx.tables;
        let d = match egress(t, self.0, w.vpc, &w.ip, w.frame, w.quote.as_ref(), tr) {
            Ok(d) => d,
            Err(r) => return r.into(),
        };
        let mapped = t
            .igws
            .get(self.0.idx())
            .zip(w.ip.dst_v4())
            .and_then(|(igw, dst)| igw.inbound.get(&dst).map(|&m| (dst, m)));
        match (mapped, d.nat) {
            (Some((public_dst, mapping)), Nat::Src(public_src, _)) => {
                self.hairpin(w, public_src, public_dst, mapping, tr)
            }
            _ => Step::Out(Delivery {
                nat: w.nat.then(d.nat),
                ..d
            }),
        }
    }
}

impl InternetGateway {
    /// Turns a packet from `public_src` to `public_dst` back in to `target` at `private`.
    fn hairpin<T: Tracer>(
        self,
        w: &mut Walk<'_>,
        public_src: Ipv4Addr,
        public_dst: Ipv4Addr,
        (target, private): (MappingTarget, Ipv4Addr),
        tr: &mut T,
    ) -> Step {
        tr.note(Note::InternetGateway {
            igw: self.0,
            inbound: true,
            from: public_dst,
            to: private,
        });
        w.ip = IpMeta {
            src: IpAddr::V4(public_src),
            dst: IpAddr::V4(private),
            ..w.ip
        };
        if let Err(r) = translate_quote(w.quote.as_mut(), w.frame, public_dst, private) {
            return r.into();
        }
        w.nat = w
            .nat
            .then(Nat::Src(public_src, None))
            .then(Nat::Dst(private, None));
        // From a public address: no group's member.
        w.peer_vpc = None;
        Step::Next(match target {
            MappingTarget::Eni(e) => Node::Eni(e),
            MappingTarget::NatGateway(n) => Node::NatGateway(n),
        })
    }

    /// A frame arriving from the gateway's uplink (the internet): the first element of
    /// its walk. Gateway services (ARP, ping of the gateway address), the edge's filters,
    /// then the 1:1 translation of the destination to the private address it maps to.
    pub(crate) fn inbound<'f, T: Tracer>(
        self,
        cx: &mut Context<'_>,
        frame: &'f mut [u8],
        meta: &PacketMeta,
        tr: &mut T,
    ) -> Result<(Walk<'f>, Step), Action> {
        let g = self.0;
        let t = cx.tables;
        let drop = |r| Err(Action::drop(r));
        let Some(igw) = t.igws.get(g.idx()) else {
            return drop(DropReason::Malformed);
        };
        let ip = classify(meta, || {
            router::arp_for(igw.mac, frame, |sender, target| {
                igw.answers_arp(sender, target)
            })
        })?;
        if meta.dst_mac != igw.mac {
            return drop(DropReason::UnknownDestinationMac);
        }
        let (Some(src), Some(dst)) = (v4(ip.src), v4(ip.dst)) else {
            return drop(DropReason::Ipv6NotForwarded);
        };
        if Some(dst) == igw.gateway_ip {
            return Err(router::icmp_echo(igw.mac, frame).into());
        }
        if is_private(src) {
            return drop(DropReason::IgwPrivateSource);
        }
        let Some(&(target, private)) = igw.inbound.get(&dst) else {
            return drop(DropReason::IgwNoPublicMapping);
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
        let mut quote = icmp_error_quote(frame, &ip);
        if let Err(r) = translate_quote(quote.as_mut(), frame, dst, private) {
            return drop(r);
        }
        let mut w = Walk::new(frame, Origin::Uplink(g), meta, ip);
        w.quote = quote;
        w.vpc = igw.vpc;
        // From the internet: no group's member.
        w.peer_vpc = None;
        w.nat = Nat::Dst(private, None);
        let next = match target {
            MappingTarget::Eni(e) => Node::Eni(e),
            // A public NAT gateway's Elastic IP: the gateway lets in only replies of its
            // translations (and rewrites the destination again).
            MappingTarget::NatGateway(n) => Node::NatGateway(n),
        };
        Ok((w, Step::Next(next)))
    }
}

/// An ICMP error coming in (from the internet, or turned around in the gateway) about a
/// packet that left with source `public`: the quote, and the frame's quoted header, show
/// the `private` address the packet really came from.
fn translate_quote(
    quote: Option<&mut Quoted>,
    frame: &mut [u8],
    public: Ipv4Addr,
    private: Ipv4Addr,
) -> Result<(), DropReason> {
    let Some(q) = quote.filter(|q| q.src == IpAddr::V4(public)) else {
        return Ok(());
    };
    q.src = IpAddr::V4(private);
    match frame.get_mut(HEADER_LEN..) {
        Some(ipb) => set_quoted_ipv4_addr(ipb, End::Src, private)
            .map(|_| ())
            .map_err(|_| DropReason::Malformed),
        None => Ok(()),
    }
}

/// A packet leaving the VPC of `vpc` through gateway `g`: where it goes and how it is
/// rewritten.
fn egress<T: Tracer>(
    t: &Tables,
    g: IgwIdx,
    vpc: VpcIdx,
    ip: &IpMeta,
    frame: &mut [u8],
    quote: Option<&Quoted>,
    tr: &mut T,
) -> Result<Delivery, DropReason> {
    let igw = t.igws.get(g.idx()).ok_or(DropReason::Malformed)?;
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
        to: OutPort::Uplink(g),
        src_mac: igw.mac,
        dst_mac: igw.next_hop_mac(dst),
        nat: Nat::Src(public, None),
        mtu: igw.mtu,
    })
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
