//! Element: an ENI. A frame starts its walk by leaving an ENI (router services, the
//! source check, the ENI's security groups outbound) and ends it by entering one (the
//! destination check, the security groups inbound, delivery to its port).

use super::pending::Pending;
use super::route::{self, NextHop};
use super::walk::{Element, Node, Origin, Step, Walk};
use super::{classify, dhcp, dns, router, rule_packet, sg, srcdst, Action, Context, Note, Tracer};
use crate::vpc::config::EniIdx;
use crate::vpc::metadata::{self, METADATA_IP};
use crate::vpc::verdict::{Charge, Delivery, DropReason, OutPort};
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};
use crate::wire::{icmp_error_quote, PacketMeta};
use std::net::IpAddr;

/// The ENI with this index, as an element of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eni(pub EniIdx);

impl Eni {
    /// A frame the ENI sent (`buf[..len]`; a DHCP answer may use the rest of `buf`): the
    /// first element of its walk. Returns the walk and where it goes next, or the final
    /// action (a router answer, a drop).
    pub(crate) fn leave<'f, T: Tracer>(
        self,
        cx: &mut Context<'_>,
        buf: &'f mut [u8],
        len: usize,
        meta: &PacketMeta,
        tr: &mut T,
    ) -> Result<(Walk<'f>, Step), Action> {
        let t = cx.tables;
        let in_eni = self.0;
        let Some(eni) = t.enis.get(in_eni.idx()) else {
            return Err(Action::drop(DropReason::Malformed));
        };
        let Some(subnet) = t.subnets.get(eni.subnet.idx()) else {
            return Err(Action::drop(DropReason::Malformed));
        };
        cx.owner = Some(Charge::sender(in_eni));
        // DHCP comes from 0.0.0.0 to the broadcast address before the instance has an
        // address: the router's server answers it ahead of the broadcast drop, the
        // source check, security groups and network ACLs.
        if dhcp::is_client_message(meta, subnet.router_ip4) {
            let a = dhcp::serve(t, in_eni, meta, buf, len);
            tr.note(Note::Dhcp(match a {
                dhcp::DhcpAction::Reply { kind, .. } => Some(kind),
                _ => None,
            }));
            return Err(a.into());
        }
        let Some(frame) = buf.get_mut(..len) else {
            return Err(Action::drop(DropReason::Malformed));
        };
        let ip = classify(meta, || router::arp(t, in_eni, frame))?;
        if ip.dst.is_ipv6() {
            return Err(Action::drop(DropReason::Ipv6NotForwarded));
        }
        srcdst::egress(eni, meta.src_mac, Some(ip.src))?;
        let to_router = meta.dst_mac == subnet.router_mac;
        if let (true, IpAddr::V4(dst), PROTO_UDP | PROTO_TCP, dns::PORT, false) =
            (to_router, ip.dst, ip.proto, ip.dst_port, ip.later_fragment)
        {
            if t.dns.is_resolver(eni.vpc, dst) {
                // Like the router, the resolver is not behind security groups or ACLs.
                let now = cx.now;
                return Err(
                    match dns::answer(
                        &t.dns,
                        cx.dns,
                        (in_eni, eni.vpc),
                        subnet.router_mac,
                        frame,
                        now,
                    ) {
                        Ok(a) if a.len == 0 && !a.forwarded => Action::Consumed,
                        Ok(a) => Action::Resolved(a),
                        Err(r) => Action::drop_uncached(r),
                    },
                );
            }
        }
        if to_router && ip.dst == IpAddr::V4(METADATA_IP) {
            // The instance metadata service, like the resolver, is not behind security
            // groups or network ACLs; the data plane's TCP endpoint answers it.
            let enabled = t
                .config
                .enis
                .get(in_eni.idx())
                .is_some_and(|c| c.instance.metadata.endpoint_enabled);
            return Err(match (enabled, ip.proto, ip.dst_port, ip.fragment) {
                (true, PROTO_TCP, metadata::stack::PORT, false) => Action::Metadata,
                (true, PROTO_TCP, metadata::stack::PORT, true) => {
                    Action::drop_uncached(DropReason::MetadataRefused)
                }
                _ => Action::drop_uncached(DropReason::MetadataDisabled),
            });
        }
        if to_router && router::is_router_address(t, eni.vpc, ip.dst) {
            // The router's own services are not filtered by security groups or ACLs.
            return Err(router::icmp_echo(subnet.router_mac, frame).into());
        }
        let quote = icmp_error_quote(frame, &ip);
        let mut w = Walk::new(frame, Origin::Eni(in_eni), meta, ip);
        w.quote = quote;
        w.vpc = eni.vpc;
        w.peer_vpc = Some(eni.vpc);
        // Group references in outbound rules match members of the VPC the packet goes
        // to, which the route decides (a peering leads into the peer VPC): the route is
        // looked up once, here, and the router applies its verdict after the group.
        if to_router {
            w.routed = Some(route::lookup(t, eni.vpc, subnet.route_table, ip.dst));
        }
        let dst_vpc = match w.routed {
            None | Some(Ok(NextHop::Eni(_))) => Some(eni.vpc),
            Some(Ok(NextHop::Peering { peer, .. })) => Some(peer),
            Some(_) => None,
        };
        let rp = rule_packet(&ip);
        let q = w.quote;
        sg::stage(
            cx,
            in_eni,
            true,
            &ip,
            &rp,
            q.as_ref(),
            &mut w.pending,
            dst_vpc,
            tr,
        )?;
        if to_router {
            return Ok((w, Step::Next(Node::Router(eni.subnet))));
        }
        // Layer 2 inside the subnet: no route table, no network ACL.
        let step = match subnet.macs.get(&meta.dst_mac) {
            None => DropReason::UnknownDestinationMac.into(),
            Some(&n) if n == in_eni => DropReason::HairpinLoop.into(),
            Some(&n) => {
                tr.note(Note::Layer2(n));
                w.layer2 = true;
                Step::Next(Node::Eni(n))
            }
        };
        Ok((w, step))
    }
}

impl Element for Eni {
    /// A packet arrives at the ENI: the destination check and its security groups
    /// inbound, then delivery to its port.
    fn enter<T: Tracer>(self, cx: &mut Context<'_>, w: &mut Walk<'_>, tr: &mut T) -> Step {
        let t = cx.tables;
        let e = self.0;
        let Some(d) = t.enis.get(e.idx()) else {
            return DropReason::Malformed.into();
        };
        if let Err(a) = srcdst::ingress(d, w.ip.dst) {
            return Step::Stop(a);
        }
        let (ip, quote) = (w.ip, w.quote);
        let rp = rule_packet(&ip);
        let pending: &mut Pending = &mut w.pending;
        if let Err(r) = sg::stage(
            cx,
            e,
            false,
            &ip,
            &rp,
            quote.as_ref(),
            pending,
            w.peer_vpc,
            tr,
        ) {
            return r.into();
        }
        let src_mac = match t.subnets.get(d.subnet.idx()) {
            _ if w.layer2 => w.src_mac,
            Some(s) => s.router_mac,
            None => return DropReason::Malformed.into(),
        };
        Step::Out(Delivery {
            to: OutPort::Eni(e),
            src_mac,
            dst_mac: d.mac,
            nat: w.nat,
            mtu: 0,
        })
    }
}
