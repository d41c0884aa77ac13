//! Element: the NAT gateway — a node in its subnet that translates the source address and
//! port of connections opened from inside (SNAT to one of its private addresses; for a
//! public gateway the internet gateway then maps that address to its Elastic IP), and
//! translates the replies back. It forwards TCP, UDP and ICMP echo, translates ICMP
//! errors including the packet they quote (RFC 5508), drops TCP and ICMP fragments,
//! never lets the outside open a connection, does not answer ping, and answers a TCP
//! packet from inside that belongs to no translation (an idle-timed-out one) with a RST.
//!
//! After translation the packet leaves the gateway like a packet of its subnet: the
//! subnet's route table decides the next hop, and the subnet's ACL applies when it
//! leaves the subnet (both ways, as in AWS).

use std::net::{IpAddr, Ipv4Addr};

use super::pending::Pending;
use super::walk::{Element, Node, Origin, Step, Walk};
use super::{Action, Context, CtRef, Note, Tracer};
use crate::vpc::config::{Interface, NatIdx};
use crate::vpc::conntrack::tcp_flags::{ACK, RST, SYN};
use crate::vpc::conntrack::{ConnDir, ConnKey};
use crate::vpc::nat::{AllocError, OutsideKey};
use crate::vpc::verdict::{Charge, DropReason, Nat, NatHop};
use crate::wire::ethernet::{EthernetFrame, HEADER_LEN};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::wire::rewrite::{set_quoted_ipv4_addr, set_quoted_l4_id, End};
use crate::wire::tcp::rewrite_as_rst;
use crate::wire::{IpMeta, MacAddr, Quoted};

/// Where the packet came to the NAT gateway from.
#[derive(Debug, Clone, Copy)]
pub enum Sender {
    /// An ENI, through its subnet's router: a RST goes back to `mac` from `router_mac`.
    Eni {
        /// The sender subnet's router MAC.
        router_mac: MacAddr,
        /// The sender's MAC.
        mac: MacAddr,
    },
    /// The internet gateway.
    Internet,
}

/// A translation to open once the packet passed every stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewBinding {
    /// The NAT gateway.
    pub nat: NatIdx,
    /// The inside connection.
    pub key: ConnKey,
    /// The gateway address chosen.
    pub addr: Ipv4Addr,
    /// The port (ICMP: identifier) chosen.
    pub port: u16,
    /// The TCP flags of the opening packet.
    pub flags: u8,
}

/// What translation did to a packet.
struct Translated {
    /// The packet as the next stages see it.
    ip: IpMeta,
    /// The rewrite to apply at transmit.
    nat: Nat,
    /// The quoted packet of an ICMP error, translated (the frame is rewritten already).
    quote: Option<Quoted>,
    /// From the inside host (`Orig`) or towards it.
    dir: ConnDir,
}

/// Why translation stopped.
enum Stop {
    Drop(DropReason),
    /// Answer the sender with a RST.
    Reset,
}

fn v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// TCP and UDP carry ports; ICMP echo its identifier in the source-port slot.
fn has_ports(proto: u8) -> bool {
    matches!(proto, PROTO_TCP | PROTO_UDP)
}

/// A NAT gateway, as an element of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatGateway(pub NatIdx);

impl Element for NatGateway {
    /// A packet arrives at the gateway (its subnet's ACL was applied on the way in):
    /// translate it, then route it on from the gateway's subnet.
    fn enter<T: Tracer>(self, cx: &mut Context<'_>, w: &mut Walk<'_>, tr: &mut T) -> Step {
        let n = self.0;
        let t = cx.tables;
        let Some(nt) = t.nats.get(n.idx()) else {
            return DropReason::Malformed.into();
        };
        let from = match w.origin {
            Origin::Eni(e) => match t
                .enis
                .get(e.idx())
                .and_then(|e| t.subnets.get(e.subnet.idx()))
            {
                Some(s) => Sender::Eni {
                    router_mac: s.router_mac,
                    mac: w.src_mac,
                },
                None => return DropReason::Malformed.into(),
            },
            Origin::Uplink(_) => Sender::Internet,
        };
        let ip = w.ip;
        let quote = w.quote;
        let bytes = w.frame.len().saturating_sub(HEADER_LEN) as u64;
        let towards_inside = nt.owns(ip.dst);
        // Only UDP fragments pass a NAT gateway; IPv4 only.
        let result = if ip.fragment && ip.proto != PROTO_UDP {
            Err(Stop::Drop(DropReason::NatFragment))
        } else if v4(ip.src).is_none() || v4(ip.dst).is_none() {
            Err(Stop::Drop(DropReason::Ipv6NotForwarded))
        } else if towards_inside {
            to_inside(cx, n, &ip, w.frame, quote.as_ref(), &mut w.pending)
        } else {
            from_inside(cx, n, &ip, w.frame, quote.as_ref(), &mut w.pending)
        };
        let x = match result {
            Ok(x) => x,
            Err(stop) => {
                if let Some(st) = cx.state.nat(n) {
                    st.count_drop(!towards_inside, bytes);
                    if matches!(stop, Stop::Reset) {
                        st.metrics.resets_sent += 1;
                    }
                }
                return Step::Stop(match stop {
                    Stop::Drop(r) => {
                        tr.note(Note::NatRefused(n));
                        Action::drop(r)
                    }
                    Stop::Reset => reset(n, from, w.frame, tr),
                });
            }
        };
        if let Some(st) = cx.state.nat(n) {
            st.count(x.dir, bytes);
        }
        let (before, after) = if towards_inside {
            ((ip.dst, ip.dst_port), (x.ip.dst, x.ip.dst_port))
        } else {
            ((ip.src, ip.src_port), (x.ip.src, x.ip.src_port))
        };
        tr.note(Note::NatGateway {
            nat: n,
            inbound: towards_inside,
            from: before,
            to: after,
        });
        let hop = NatHop {
            nat: n,
            before: w.nat,
            rewrite: x.nat,
        };
        w.ip = x.ip;
        w.quote = x.quote;
        w.nat = hop.after();
        w.via_nat = Some(hop);
        // It leaves through the gateway's interface: refusals from here on are charged
        // there (its subnet's ACL outbound), until it enters the next interface's side.
        cx.owner = Some(Charge {
            iface: Interface::NatGateway(n),
            ingress: false,
            seen: w.nat,
        });
        // The other end is outside (a reply) or the gateway itself: no group's member.
        w.peer_vpc = (x.dir == ConnDir::Orig).then_some(nt.vpc);
        Step::Next(Node::Router(nt.subnet))
    }
}

/// The RST for a TCP packet from inside without a translation, written over the frame.
fn reset<T: Tracer>(n: NatIdx, from: Sender, frame: &mut [u8], tr: &mut T) -> Action {
    let Sender::Eni { router_mac, mac } = from else {
        tr.note(Note::NatRefused(n));
        return Action::drop(DropReason::NatNoTranslation);
    };
    let len = match frame.get_mut(HEADER_LEN..).map(rewrite_as_rst) {
        Some(Ok(Some(len))) => len,
        _ => {
            tr.note(Note::NatRefused(n));
            return Action::drop(DropReason::NatNoTranslation);
        }
    };
    let Ok(mut eth) = EthernetFrame::new_checked(&mut frame[..]) else {
        return Action::drop(DropReason::Malformed);
    };
    eth.set_dst(mac);
    eth.set_src(router_mac);
    tr.note(Note::NatReset(n));
    Action::Reply {
        len: HEADER_LEN + len,
        drop: Some(DropReason::NatReset),
    }
}

/// A packet from an inside host (not addressed to the gateway): find or open its
/// translation and rewrite the source.
fn from_inside(
    cx: &mut Context<'_>,
    n: NatIdx,
    ip: &IpMeta,
    frame: &mut [u8],
    quote: Option<&Quoted>,
    pending: &mut Pending,
) -> Result<Translated, Stop> {
    let now = cx.now;
    let nat_table = cx.nat_table(n);
    let st = cx.state.nat(n).ok_or(Stop::Drop(DropReason::Malformed))?;
    if ip.proto == PROTO_ICMP {
        if let Some(q) = quote {
            // An error about a packet that came in to the inside host: the quote's
            // destination is the inside host; it must show the gateway's address.
            let key = ConnKey {
                proto: q.proto,
                local: q.dst,
                remote: q.src,
                local_port: if has_ports(q.proto) {
                    q.dst_port
                } else {
                    q.src_port
                },
                remote_port: if has_ports(q.proto) { q.src_port } else { 0 },
            };
            let Some(b) = st.inside_binding(&key, now) else {
                return Err(Stop::Drop(DropReason::NatNoTranslation));
            };
            let ipb = frame
                .get_mut(HEADER_LEN..)
                .ok_or(Stop::Drop(DropReason::Malformed))?;
            let end = if has_ports(q.proto) {
                End::Dst
            } else {
                End::Src
            };
            set_quoted_ipv4_addr(ipb, End::Dst, b.nat)
                .and_then(|_| set_quoted_l4_id(ipb, end, b.nat_port))
                .map_err(|_| Stop::Drop(DropReason::Malformed))?;
            let mut q2 = *q;
            q2.dst = IpAddr::V4(b.nat);
            if has_ports(q.proto) {
                q2.dst_port = b.nat_port;
            } else {
                q2.src_port = b.nat_port;
            }
            pending.uncacheable = true;
            return Ok(Translated {
                ip: IpMeta {
                    src: IpAddr::V4(b.nat),
                    ..*ip
                },
                nat: Nat::Src(b.nat, None),
                quote: Some(q2),
                dir: ConnDir::Orig,
            });
        }
        if ip.icmp.map(|t| t.ty) != Some(8) {
            // Only echo requests open translations; other ICMP from inside has none.
            return Err(Stop::Drop(DropReason::NatUnsupportedProtocol));
        }
    } else if !has_ports(ip.proto) {
        return Err(Stop::Drop(DropReason::NatUnsupportedProtocol));
    }
    let key = ConnKey {
        proto: ip.proto,
        local: ip.src,
        remote: ip.dst,
        local_port: ip.src_port,
        remote_port: if has_ports(ip.proto) { ip.dst_port } else { 0 },
    };
    let (addr, port) = match st.from_inside(&key, ip.tcp_flags, now) {
        Err(_) => return Err(Stop::Drop(DropReason::InvalidTcpState)),
        Ok(Some(b)) => {
            pending.existing[2] = Some(CtRef {
                table: nat_table,
                conn: b.conn,
                dir: ConnDir::Orig,
            });
            (b.nat, b.nat_port)
        }
        Ok(None) => {
            let f = ip.tcp_flags;
            if ip.proto == PROTO_TCP && (f & SYN == 0 || f & (ACK | RST) != 0) {
                // Only a SYN opens a translation; anything else of TCP is a connection
                // the gateway does not know (for example one that went idle).
                return Err(if f & RST != 0 {
                    Stop::Drop(DropReason::NatNoTranslation)
                } else {
                    Stop::Reset
                });
            }
            let (addr, port) = match st.allocate(&key) {
                Ok(x) => x,
                Err(AllocError::NoPort) => {
                    st.metrics.error_port_allocation += 1;
                    return Err(Stop::Drop(DropReason::NatPortAllocation));
                }
            };
            pending.nat = Some(NewBinding {
                nat: n,
                key,
                addr,
                port,
                flags: f,
            });
            (addr, port)
        }
    };
    Ok(Translated {
        ip: IpMeta {
            src: IpAddr::V4(addr),
            src_port: port,
            ..*ip
        },
        nat: Nat::Src(addr, Some(port)),
        quote: None,
        dir: ConnDir::Orig,
    })
}

/// A packet addressed to one of the gateway's addresses: a reply of a translation (or
/// an ICMP error about one), or nothing the gateway lets in.
fn to_inside(
    cx: &mut Context<'_>,
    n: NatIdx,
    ip: &IpMeta,
    frame: &mut [u8],
    quote: Option<&Quoted>,
    pending: &mut Pending,
) -> Result<Translated, Stop> {
    let now = cx.now;
    let nat_table = cx.nat_table(n);
    let st = cx.state.nat(n).ok_or(Stop::Drop(DropReason::Malformed))?;
    let dst = v4(ip.dst).ok_or(Stop::Drop(DropReason::Ipv6NotForwarded))?;
    let no = Stop::Drop(DropReason::NatNoTranslation);
    if ip.proto == PROTO_ICMP {
        if let Some(q) = quote {
            // An error about a packet the gateway sent out for an inside host.
            let nat = v4(q.src).ok_or(Stop::Drop(DropReason::NatNoTranslation))?;
            let o = OutsideKey {
                proto: q.proto,
                nat,
                nat_port: q.src_port,
                remote: q.dst,
                remote_port: if has_ports(q.proto) { q.dst_port } else { 0 },
            };
            let b = match st.from_outside(&o, 0, now, true) {
                Ok(Some(b)) => b,
                _ => return Err(no),
            };
            let inside = v4(b.inside.local).ok_or(Stop::Drop(DropReason::Malformed))?;
            let ipb = frame
                .get_mut(HEADER_LEN..)
                .ok_or(Stop::Drop(DropReason::Malformed))?;
            set_quoted_ipv4_addr(ipb, End::Src, inside)
                .and_then(|_| set_quoted_l4_id(ipb, End::Src, b.inside.local_port))
                .map_err(|_| Stop::Drop(DropReason::Malformed))?;
            let q2 = Quoted {
                src: b.inside.local,
                src_port: b.inside.local_port,
                ..*q
            };
            pending.uncacheable = true;
            return Ok(Translated {
                ip: IpMeta {
                    dst: b.inside.local,
                    ..*ip
                },
                nat: Nat::Dst(inside, None),
                quote: Some(q2),
                dir: ConnDir::Reply,
            });
        }
        if ip.icmp.map(|t| t.ty) != Some(0) {
            // Echo requests to the gateway (it does not answer ping) and anything else.
            return Err(no);
        }
    } else if !has_ports(ip.proto) {
        return Err(Stop::Drop(DropReason::NatUnsupportedProtocol));
    }
    let o = OutsideKey {
        proto: ip.proto,
        nat: dst,
        nat_port: if has_ports(ip.proto) {
            ip.dst_port
        } else {
            ip.src_port
        },
        remote: ip.src,
        remote_port: if has_ports(ip.proto) { ip.src_port } else { 0 },
    };
    let b = match st.from_outside(&o, ip.tcp_flags, now, false) {
        Err(_) => return Err(Stop::Drop(DropReason::InvalidTcpState)),
        Ok(None) => return Err(no),
        Ok(Some(b)) => b,
    };
    let inside = v4(b.inside.local).ok_or(Stop::Drop(DropReason::Malformed))?;
    pending.existing[2] = Some(CtRef {
        table: nat_table,
        conn: b.conn,
        dir: ConnDir::Reply,
    });
    let mut ip2 = IpMeta {
        dst: b.inside.local,
        ..*ip
    };
    if has_ports(ip.proto) {
        ip2.dst_port = b.inside.local_port;
    } else {
        ip2.src_port = b.inside.local_port;
    }
    Ok(Translated {
        ip: ip2,
        nat: Nat::Dst(inside, Some(b.inside.local_port)),
        quote: None,
        dir: ConnDir::Reply,
    })
}
