//! The slow path: every stage a frame passes when the flow cache has no answer for it.
//!
//! Each stage lives in its own module and returns a verdict; this module strings them
//! together and tells the [`Tracer`] what each decided, so the same code that forwards
//! can explain (`vpcctl trace` builds on it).

pub mod igw;
pub mod nacl;
pub mod natgw;
pub mod route;
pub mod router;
pub mod sg;
pub mod srcdst;

use std::net::IpAddr;

use crate::vpc::config::EniIdx;
use crate::vpc::conntrack::tcp_flags::SYN;
use crate::vpc::conntrack::{
    conn_dir, ConnDir, ConnKey, ConnRef, ConnTable, InsertError, Origin, Touch,
};
use crate::vpc::nat::NatState;
use crate::vpc::rules::RulePacket;
use crate::vpc::tables::Tables;
use crate::vpc::verdict::{Delivery, DropReason, Nat, Verdict};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::wire::{icmp_error_quote, IpMeta, PacketMeta, Quoted, L3};

use nacl::Direction;
use route::NextHop;
use router::RouterAction;
use sg::SgMatch;

/// Logical hops allowed per packet before it is dropped as a loop.
pub const HOP_BUDGET: u8 = 8;

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
    /// The frame left this ENI.
    FromEni(EniIdx),
    /// The VPC router answered (ARP or ICMP echo).
    RouterReply,
    /// The VPC router ignored an ARP frame.
    RouterIgnored,
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
        nacl: u32,
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
        table: u32,
        /// The destination looked up.
        dst: IpAddr,
    },
    /// Route table `table` sent the destination to this hop.
    Routed {
        /// Route table index.
        table: u32,
        /// The resolved next hop.
        next: NextHop,
    },
    /// Delivered to this port (an ENI, or an internet gateway's uplink).
    Delivered(u32),
    /// Internet gateway `igw` translated `from` into `to` (1:1 NAT), on the way in
    /// (`inbound`) or out.
    InternetGateway {
        /// The gateway index.
        igw: u32,
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
        nat: u32,
        /// Towards the inside host (destination rewritten) or away from it.
        inbound: bool,
        /// The address and port (ICMP: identifier) before.
        from: (std::net::IpAddr, u16),
        /// The address and port after.
        to: (std::net::IpAddr, u16),
    },
    /// A NAT gateway answered a TCP packet that belongs to no translation with a RST.
    NatReset(u32),
    /// NAT gateway `nat` refused the packet (no translation lets it in, no source port
    /// is free, a protocol or fragment it does not pass): the drop that follows is its.
    NatRefused(u32),
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
    /// Whose connection table: an ENI index, or the number of ENIs plus a NAT gateway
    /// index (see [`Context::table`]).
    pub table: u32,
    /// The connection.
    pub conn: ConnRef,
    /// The flow's direction in it.
    pub dir: ConnDir,
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
            ),
        }
    }
}

/// What the slow path works on: the tables, the ENIs' connection tables, the NAT
/// gateways' translations, the clock.
pub struct Context<'a> {
    /// The running tables.
    pub tables: &'a Tables,
    /// Connection tables, by ENI index.
    pub conntrack: &'a mut [ConnTable],
    /// NAT gateways' translations, by NAT gateway index.
    pub nat: &'a mut [NatState],
    /// Now, in milliseconds of the engine's clock.
    pub now: u64,
    /// The ENI a refusal is charged to in flow logs, and whether on its ingress side:
    /// the sender until the packet enters its destination's side, then the receiver.
    pub owner: Option<(EniIdx, bool)>,
}

/// The connection table that a [`CtRef::table`] names: ENIs first, then NAT gateways.
pub fn ct_table<'t>(
    conntrack: &'t mut [ConnTable],
    nat: &'t mut [NatState],
    table: u32,
) -> Option<&'t mut ConnTable> {
    let i = table as usize;
    match i.checked_sub(conntrack.len()) {
        None => conntrack.get_mut(i),
        Some(n) => nat.get_mut(n).map(|s| &mut s.conns),
    }
}

impl Context<'_> {
    /// The [`CtRef::table`] of NAT gateway `n`.
    pub fn nat_table(&self, n: u32) -> u32 {
        self.conntrack.len() as u32 + n
    }
}

/// Runs the slow path for `frame` (an Ethernet frame) that ENI `in_eni` sent.
///
/// `frame` may be rewritten in place (router replies). `meta` is its parse.
pub fn slow_path<T: Tracer>(
    cx: &mut Context<'_>,
    in_eni: EniIdx,
    frame: &mut [u8],
    meta: &PacketMeta,
    tr: &mut T,
) -> Action {
    tr.note(Note::FromEni(in_eni));
    let action = decide(cx, in_eni, frame, meta, tr);
    match action {
        Action::Drop { reason, .. } => tr.note(Note::Dropped(reason)),
        Action::Forward { delivery, .. } => tr.note(Note::Delivered(delivery.port)),
        Action::Reply { .. } => tr.note(Note::RouterReply),
        Action::Consumed => tr.note(Note::RouterIgnored),
    }
    action
}

fn decide<T: Tracer>(
    cx: &mut Context<'_>,
    in_eni: EniIdx,
    frame: &mut [u8],
    meta: &PacketMeta,
    tr: &mut T,
) -> Action {
    let t = cx.tables;
    if let Some((g, _)) = t.igw_of_port(in_eni) {
        return igw::ingress(cx, g, frame, meta, tr);
    }
    let Some(eni) = t.enis.get(in_eni as usize) else {
        return Action::drop(DropReason::Malformed);
    };
    cx.owner = Some((in_eni, false));
    let ip = match classify(meta, || router::arp(t, in_eni, frame)) {
        Ok(ip) => ip,
        Err(a) => return a,
    };
    if ip.dst.is_ipv6() {
        return Action::drop(DropReason::Ipv6NotForwarded);
    }
    if let Verdict::Drop(r) = srcdst::egress(eni, meta.src_mac, Some(ip.src)) {
        return Action::drop(r);
    }
    let subnet = &t.subnets[eni.subnet as usize];
    if meta.dst_mac == subnet.router_mac && router::is_router_address(t, eni.vpc, ip.dst) {
        // The router's own services are not filtered by security groups or ACLs.
        return router::icmp_echo(subnet.router_mac, frame).into();
    }
    let quote = icmp_error_quote(frame, &ip);
    let rp = rule_packet(&ip);
    let mut pending = Pending::default();

    // Security groups of the sender.
    // The VPC of the destination, for group references in outbound rules: decided by
    // the route the packet will take (a peering leads into the peer VPC).
    // The route is looked up once, here; its verdict is applied after the sender's group.
    let routed = (meta.dst_mac == subnet.router_mac)
        .then(|| route::lookup(t, eni.vpc, subnet.route_table, ip.dst));
    let dst_vpc = match routed {
        None => Some(eni.vpc),
        Some(Ok(NextHop::Eni(_))) => Some(eni.vpc),
        Some(Ok(NextHop::Peering { peer, .. })) => Some(peer),
        Some(_) => None,
    };
    match sg_stage(
        cx,
        in_eni,
        true,
        &ip,
        &rp,
        quote.as_ref(),
        &mut pending,
        dst_vpc,
        tr,
    ) {
        Ok(()) => {}
        Err(r) => return Action::drop(r),
    }
    let t = cx.tables;
    // Where does it go: layer 2 inside the subnet, or through the router.
    // The source subnet's ACL applies to traffic that leaves the subnet.
    let leave_subnet = |tr: &mut T| -> Result<(), Action> {
        match subnet.network_acl {
            Some(a) => nacl_stage(t, a, Direction::Outbound, &rp, tr),
            None => Ok(()),
        }
    };
    let (dst_eni, src_mac) = if let Some(routed) = routed {
        tr.note(Note::RouteLookup {
            table: subnet.route_table,
            dst: ip.dst,
        });
        let next = match routed {
            Err(r) => return Action::drop(r),
            Ok(next) => next,
        };
        tr.note(Note::Routed {
            table: subnet.route_table,
            next,
        });
        match next {
            NextHop::Eni(e) if e == in_eni => return Action::drop(DropReason::HairpinLoop),
            NextHop::Eni(e) => {
                let Some(d) = t.enis.get(e as usize) else {
                    return Action::drop(DropReason::Malformed);
                };
                let dst_subnet = &t.subnets[d.subnet as usize];
                // ACLs apply when the packet leaves its subnet and enters another, not
                // when it is routed within one.
                if d.subnet != eni.subnet {
                    if let Err(d) = leave_subnet(tr) {
                        return d;
                    }
                    cx.owner = Some((e, true));
                    if let Some(a) = dst_subnet.network_acl {
                        if let Err(d) = nacl_stage(t, a, Direction::Inbound, &rp, tr) {
                            return d;
                        }
                    }
                }
                cx.owner = Some((e, true));
                (e, dst_subnet.router_mac)
            }
            NextHop::InternetGateway(g) => {
                if let Err(d) = leave_subnet(tr) {
                    return d;
                }
                let out = match igw::egress(t, g, eni.vpc, &ip, frame, quote.as_ref(), tr) {
                    Ok(d) => d,
                    Err(r) => return Action::drop(r),
                };
                // Leaving the VPC: no destination ENI, no ingress group.
                let ct = match pending.commit(cx) {
                    Ok(ct) => ct,
                    Err(r) => return Action::drop(r),
                };
                return Action::Forward {
                    delivery: out,
                    ct,
                    cacheable: pending.cacheable(quote.as_ref()),
                };
            }
            NextHop::Peering { peer, .. } => {
                // Only between the two VPCs' own addresses (no transitive peering, no
                // edge-to-edge routing through the peer's gateways).
                let inside = |v: u32, a| t.vpcs.get(v as usize).is_some_and(|v| v.contains(a));
                if !inside(eni.vpc, ip.src) || !inside(peer, ip.dst) {
                    return Action::drop(DropReason::PcxAddressNotInVpcCidr);
                }
                if let Err(d) = leave_subnet(tr) {
                    return d;
                }
                // In the peer VPC the packet goes to the owner of its destination.
                let Some(e) = t.owner(peer, ip.dst) else {
                    return Action::drop(DropReason::NoEniForAddress);
                };
                cx.owner = Some((e, true));
                let d = &t.enis[e as usize];
                let dst_subnet = &t.subnets[d.subnet as usize];
                if let Some(a) = dst_subnet.network_acl {
                    if let Err(d) = nacl_stage(t, a, Direction::Inbound, &rp, tr) {
                        return d;
                    }
                }
                (e, dst_subnet.router_mac)
            }
            NextHop::NatGateway(n) => {
                let Some(nt) = t.nats.get(n as usize) else {
                    return Action::drop(DropReason::Malformed);
                };
                // The NAT gateway lives in its subnet: that subnet's ACL applies to what
                // enters it, unless the sender is in the same subnet.
                if nt.subnet != eni.subnet {
                    if let Err(d) = leave_subnet(tr) {
                        return d;
                    }
                    if let Some(a) = t.subnets[nt.subnet as usize].network_acl {
                        if let Err(d) = nacl_stage(t, a, Direction::Inbound, &rp, tr) {
                            return d;
                        }
                    }
                }
                let from = natgw::Sender::Eni {
                    router_mac: subnet.router_mac,
                    mac: meta.src_mac,
                };
                return natgw::enter(cx, n, from, &ip, frame, quote.as_ref(), pending, tr);
            }
        }
    } else {
        // Layer 2 inside the subnet: no route table, no network ACL.
        let Some(&n) = subnet.macs.get(&meta.dst_mac) else {
            return Action::drop(DropReason::UnknownDestinationMac);
        };
        if n == in_eni {
            return Action::drop(DropReason::HairpinLoop);
        }
        tr.note(Note::Layer2(n));
        cx.owner = Some((n, true));
        (n, meta.src_mac)
    };
    if let Verdict::Drop(r) = srcdst::ingress(&t.enis[dst_eni as usize], ip.dst) {
        return Action::drop(r);
    }
    // Security groups of the receiver.
    if let Err(r) = sg_stage(
        cx,
        dst_eni,
        false,
        &ip,
        &rp,
        quote.as_ref(),
        &mut pending,
        Some(eni.vpc),
        tr,
    ) {
        return Action::drop(r);
    }
    let t = cx.tables;
    // Everything passed: commit the new connections, then forward.
    let ct = match pending.commit(cx) {
        Ok(ct) => ct,
        Err(r) => return Action::drop(r),
    };
    Action::Forward {
        delivery: Delivery {
            port: dst_eni,
            src_mac,
            dst_mac: t.enis[dst_eni as usize].mac,
            nat: Nat::None,
            mtu: 0,
        },
        ct,
        cacheable: pending.cacheable(quote.as_ref()),
    }
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
        icmp: icmp.then_some(((ip.dst_port >> 8) as u8, ip.dst_port as u8)),
    }
}

/// The connection key of a packet from the point of view of the ENI it leaves
/// (`egress`) or enters.
fn conn_key(proto: u8, src: IpAddr, dst: IpAddr, sport: u16, dport: u16, egress: bool) -> ConnKey {
    let (sport, dport) = match proto {
        PROTO_TCP | PROTO_UDP => (sport, dport),
        // ICMP: the echo identifier on both sides; others carry no ports.
        PROTO_ICMP | PROTO_ICMPV6 => (sport, sport),
        _ => (0, 0),
    };
    if egress {
        ConnKey {
            proto,
            local: src,
            remote: dst,
            local_port: sport,
            remote_port: if matches!(proto, PROTO_TCP | PROTO_UDP) {
                dport
            } else {
                0
            },
        }
    } else {
        ConnKey {
            proto,
            local: dst,
            remote: src,
            local_port: dport,
            remote_port: if matches!(proto, PROTO_TCP | PROTO_UDP) {
                sport
            } else {
                0
            },
        }
    }
}

/// Connections to create once the packet is known to pass every stage.
#[derive(Default)]
pub(crate) struct Pending {
    new: [Option<(EniIdx, ConnKey, Origin, u8)>; 2],
    /// Existing connections: source egress, destination ingress, NAT translation.
    existing: [Option<CtRef>; 3],
    /// A NAT gateway translation to open.
    nat: Option<natgw::NewBinding>,
    related: bool,
    /// A decision that depends on more than the flow key (see `sg_stage`).
    uncacheable: bool,
}

impl Pending {
    /// Whether the flow cache may remember the decision.
    fn cacheable(&self, quote: Option<&Quoted>) -> bool {
        quote.is_none() && !self.related && !self.uncacheable
    }
}

impl Pending {
    /// Creates the pending connections (and NAT translation); on failure nothing of
    /// them stays.
    pub(crate) fn commit(&self, cx: &mut Context<'_>) -> Result<[Option<CtRef>; 3], DropReason> {
        let now = cx.now;
        let nat_base = cx.conntrack.len() as u32;
        let tables = &mut *cx.conntrack;
        let mut out = self.existing;
        let mut done: [Option<(EniIdx, ConnRef)>; 2] = [None, None];
        for (i, n) in self.new.iter().enumerate() {
            let Some((eni, key, origin, flags)) = *n else {
                continue;
            };
            let Some(table) = tables.get_mut(eni as usize) else {
                continue;
            };
            match table.insert(key, origin, flags, now) {
                Ok(conn) => {
                    done[i] = Some((eni, conn));
                    out[i] = Some(CtRef {
                        table: eni,
                        conn,
                        dir: ConnDir::Orig,
                    });
                }
                Err(e) => {
                    // Undo what this packet created already.
                    for (eni, conn) in done.iter().flatten() {
                        if let Some(t) = tables.get_mut(*eni as usize) {
                            t.remove(*conn);
                        }
                    }
                    return Err(match e {
                        InsertError::Full => DropReason::ConntrackFull,
                        InsertError::InvalidTcp => DropReason::InvalidTcpState,
                    });
                }
            }
        }
        if let Some(b) = self.nat {
            let bound = cx
                .nat
                .get_mut(b.nat as usize)
                .map(|st| st.bind(b.key, b.addr, b.port, b.flags, now));
            match bound {
                Some(Ok(conn)) => {
                    out[2] = Some(CtRef {
                        table: nat_base + b.nat,
                        conn,
                        dir: ConnDir::Orig,
                    });
                }
                other => {
                    for (eni, conn) in done.iter().flatten() {
                        if let Some(t) = cx.conntrack.get_mut(*eni as usize) {
                            t.remove(*conn);
                        }
                    }
                    return Err(match other {
                        Some(Err(InsertError::InvalidTcp)) => DropReason::InvalidTcpState,
                        _ => DropReason::NatPortAllocation,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The security-group stage of ENI `e` for a packet leaving it (`egress`) or entering it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sg_stage<T: Tracer>(
    cx: &mut Context<'_>,
    e: EniIdx,
    egress: bool,
    ip: &IpMeta,
    rp: &RulePacket,
    quote: Option<&Quoted>,
    pending: &mut Pending,
    peer_vpc: Option<u32>,
    tr: &mut T,
) -> Result<(), DropReason> {
    let t = cx.tables;
    let Some(prog) = t.enis.get(e as usize).and_then(|x| x.sg.as_ref()) else {
        return Ok(());
    };
    let Some(table) = cx.conntrack.get_mut(e as usize) else {
        return Ok(());
    };
    let slot = usize::from(!egress);
    let note = |pass| Note::SecurityGroup {
        eni: e,
        egress,
        pass,
    };
    let key = conn_key(ip.proto, ip.src, ip.dst, ip.src_port, ip.dst_port, egress);
    if quote.is_none() {
        if let Some((conn, origin)) = table.lookup(&key, cx.now) {
            let dir = conn_dir(origin, egress);
            // An echo request never answers an echo: it must find its own way in.
            let echo_request = ip.proto == PROTO_ICMP && (ip.dst_port >> 8) == 8;
            let answer_type_ok = !(echo_request && dir == ConnDir::Reply);
            if answer_type_ok {
                match table.touch(conn, dir, ip.tcp_flags, cx.now) {
                    Touch::Ok => {
                        pending.existing[slot] = Some(CtRef {
                            table: e,
                            conn,
                            dir,
                        });
                        tr.note(note(SgPass::Tracked));
                        return Ok(());
                    }
                    Touch::Invalid => return Err(DropReason::InvalidTcpState),
                    Touch::Gone => {}
                }
            }
        }
    }
    if let Some(q) = quote {
        // An ICMP error about a packet of a tracked connection is related traffic: the
        // quoted packet travelled the other way, so egress here means it came in.
        let k = conn_key(q.proto, q.src, q.dst, q.src_port, q.dst_port, !egress);
        if table.lookup(&k, cx.now).is_some() {
            pending.related = true;
            tr.note(note(SgPass::Related));
            return Ok(());
        }
    }
    let dir = if egress {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let Some(m) = prog.evaluate(dir, rp, &t.sg_members, peer_vpc) else {
        tr.note(Note::SecurityGroupDenied { eni: e, egress });
        return Err(DropReason::SgNoMatch);
    };
    // Only a SYN opens a tracked TCP connection (no mid-stream pick-up, like Linux with
    // `nf_conntrack_tcp_loose=0`): other TCP packets that the rules allow pass without
    // creating state, so a flow whose tracking lapsed, or an untracked flow whose rule
    // went, cannot come back to life through the other direction's rules.
    let tcp_without_syn = ip.proto == PROTO_TCP && ip.tcp_flags & SYN == 0;
    if tcp_without_syn && !prog.untracked(dir, rp) {
        // Passes, but a later SYN of this 5-tuple must still open a connection: the
        // flow cache must not remember this decision (its key has no TCP flags).
        pending.uncacheable = true;
    }
    if quote.is_some() || tcp_without_syn || prog.untracked(dir, rp) {
        tr.note(note(SgPass::Untracked(m)));
        return Ok(());
    }
    let origin = if egress {
        Origin::Local
    } else {
        Origin::Remote
    };
    pending.new[slot] = Some((e, key, origin, ip.tcp_flags));
    tr.note(note(SgPass::New(m)));
    Ok(())
}

/// The network-ACL stage: `Err` carries the drop action.
pub(crate) fn nacl_stage<T: Tracer>(
    t: &Tables,
    nacl: u32,
    dir: Direction,
    rp: &RulePacket,
    tr: &mut T,
) -> Result<(), Action> {
    let Some(table) = t.nacls.get(nacl as usize) else {
        return Err(Action::drop(DropReason::Malformed));
    };
    let v = table.evaluate(dir, rp);
    tr.note(Note::NetworkAcl {
        nacl,
        direction: dir,
        rule: v.rule_number,
        allow: v.allow,
    });
    if v.allow {
        Ok(())
    } else {
        Err(Action::Drop {
            reason: DropReason::NaclDeny,
            nacl_slot: Some(v.slot),
            cacheable: true,
        })
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
