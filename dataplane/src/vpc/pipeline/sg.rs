//! Stage: security groups — allow-only rules of all the ENI's groups (their union),
//! evaluated when a packet opens a connection; what they allow is then tracked by the
//! ENI's connection table ([`crate::vpc::conntrack`]) unless AWS would leave it untracked.

use std::collections::HashSet;
use std::net::IpAddr;

use foldhash::fast::FixedState;
use ipnet::IpNet;

use super::pending::{conn_key, Pending};
use super::{Action, Context, CtRef, CtTable, Note, SgPass, StageResult, Tracer};
use crate::vpc::config::{
    EniIdx, Protocol, SecurityGroupConfig, SgIdx, SgPeer, SgRule, TrafficMatch, VpcIdx,
};
use crate::vpc::conntrack::tcp_flags::SYN;
use crate::vpc::conntrack::{conn_dir, ConnDir, Origin, Touch};
use crate::vpc::pipeline::nacl::Direction;
use crate::vpc::rules::{is_all_addresses, traffic_matches, RulePacket};
use crate::vpc::verdict::DropReason;
use crate::wire::ipv4::PROTO_ICMP;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};
use crate::wire::{IpMeta, Quoted};

/// Private addresses of the members of each security group, by group index.
pub type Members = Vec<HashSet<IpAddr, FixedState>>;

/// Which rule of which group matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SgMatch {
    /// The group.
    pub group: SgIdx,
    /// The rule's index in that group's inbound or outbound list.
    pub rule: u32,
}

#[derive(Debug, Clone)]
enum Peer {
    Cidr(IpNet),
    /// The members of this group, which belong to this VPC: a packet matches only when
    /// its other end is in that VPC (two peers may use the same addresses).
    Members(SgIdx, VpcIdx),
}

#[derive(Debug, Clone)]
struct Rule {
    traffic: TrafficMatch,
    peer: Peer,
    at: SgMatch,
}

/// Rule indices of one direction by protocol, so that a packet only meets the rules
/// that can match its protocol (most rule sets are mostly TCP).
#[derive(Debug, Clone, Default)]
struct Index {
    /// Rules for one protocol number, ascending.
    by_proto: Vec<(u8, Vec<u32>)>,
    /// Rules for every protocol (`-1`), ascending.
    any: Vec<u32>,
    /// Rules whose peer is all addresses (`0.0.0.0/0`, `::/0`), for the untracked test.
    all_addresses: Vec<u32>,
}

impl Index {
    fn build(rules: &[Rule]) -> Index {
        let mut ix = Index::default();
        for (i, r) in rules.iter().enumerate() {
            let i = i as u32;
            match r.traffic.protocol {
                Protocol::All => ix.any.push(i),
                Protocol::Number(n) => match ix.by_proto.iter_mut().find(|(p, _)| *p == n) {
                    Some((_, v)) => v.push(i),
                    None => ix.by_proto.push((n, vec![i])),
                },
            }
            if matches!(&r.peer, Peer::Cidr(n) if is_all_addresses(n)) {
                ix.all_addresses.push(i);
            }
        }
        ix
    }

    fn for_proto(&self, proto: u8) -> &[u32] {
        self.by_proto
            .iter()
            .find(|(p, _)| *p == proto)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

/// The compiled rules of one ENI: the union of its groups, per direction.
#[derive(Debug, Clone, Default)]
pub struct SgProgram {
    inbound: Vec<Rule>,
    outbound: Vec<Rule>,
    index: [Index; 2],
    /// `[direction][ipv6][udp]`: a rule of that direction allows that protocol on all ports
    /// to/from all addresses (what makes the other direction's flows untracked).
    all_open: [[[bool; 2]; 2]; 2],
}

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

fn compile(all: &[SecurityGroupConfig], rules: &[SgRule], group: SgIdx, out: &mut Vec<Rule>) {
    for (i, r) in rules.iter().enumerate() {
        let at = SgMatch {
            group,
            rule: i as u32,
        };
        match &r.peer {
            SgPeer::Cidr(n) => out.push(Rule {
                traffic: r.traffic,
                peer: Peer::Cidr(n.trunc()),
                at,
            }),
            SgPeer::Group(g) => out.push(Rule {
                traffic: r.traffic,
                peer: Peer::Members(*g, all.get(g.idx()).map_or(VpcIdx(u32::MAX), |x| x.vpc)),
                at,
            }),
            SgPeer::PrefixList { cidrs, .. } => out.extend(cidrs.iter().map(|n| Rule {
                traffic: r.traffic,
                peer: Peer::Cidr(n.trunc()),
                at,
            })),
        }
    }
}

fn opens_all_ports(t: &TrafficMatch, proto: u8) -> bool {
    match t.protocol {
        Protocol::All => true,
        Protocol::Number(n) => n == proto && t.ports.is_none_or(|r| r.from == 0 && r.to == 65535),
    }
}

impl SgProgram {
    /// Compiles the union of `groups` (indices into `all`; unknown indices are skipped).
    pub fn build(all: &[SecurityGroupConfig], groups: &[SgIdx]) -> SgProgram {
        let mut p = SgProgram::default();
        for &g in groups {
            let Some(sg) = all.get(g.idx()) else {
                continue;
            };
            compile(all, &sg.inbound, g, &mut p.inbound);
            compile(all, &sg.outbound, g, &mut p.outbound);
        }
        p.index = [Index::build(&p.inbound), Index::build(&p.outbound)];
        for (d, rules) in [(0, &p.inbound), (1, &p.outbound)] {
            for r in rules {
                let Peer::Cidr(n) = &r.peer else { continue };
                if !is_all_addresses(n) {
                    continue;
                }
                let v6 = usize::from(matches!(n, IpNet::V6(_)));
                for (u, proto) in [(0, PROTO_TCP), (1, PROTO_UDP)] {
                    if opens_all_ports(&r.traffic, proto) {
                        p.all_open[d][v6][u] = true;
                    }
                }
            }
        }
        p
    }

    /// The first rule of `dir` that allows `p` (peer = source inbound, destination
    /// outbound), if any. `peer_vpc` is the VPC of the other end (`None`: outside any
    /// VPC); a group reference matches only members of that VPC.
    pub fn evaluate(
        &self,
        dir: Direction,
        p: &RulePacket,
        members: &Members,
        peer_vpc: Option<VpcIdx>,
    ) -> Option<SgMatch> {
        let (rules, peer) = match dir {
            Direction::Inbound => (&self.inbound, p.src),
            Direction::Outbound => (&self.outbound, p.dst),
        };
        let ix = &self.index[dir_index(dir)];
        let hit = |list: &[u32]| {
            list.iter().copied().find(|&i| {
                let r = &rules[i as usize];
                traffic_matches(&r.traffic, p)
                    && match &r.peer {
                        Peer::Cidr(n) => n.contains(&peer),
                        Peer::Members(g, vpc) => {
                            peer_vpc == Some(*vpc)
                                && members.get(g.idx()).is_some_and(|m| m.contains(&peer))
                        }
                    }
            })
        };
        // The first matching rule in file order: the earlier of the two lists' firsts.
        let first = match (hit(ix.for_proto(p.proto)), hit(&ix.any)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        first.map(|i| rules[i as usize].at)
    }

    /// Whether a packet belongs to a flow AWS leaves untracked: TCP or UDP allowed
    /// from/to all addresses by a rule of one direction, with a rule of the other
    /// direction allowing all ports of that protocol to/from all addresses. The packet
    /// may open such a flow in `dir`, or answer one opened the other way.
    pub fn untracked(&self, dir: Direction, p: &RulePacket) -> bool {
        let reply = RulePacket {
            src: p.dst,
            dst: p.src,
            dst_port: p.src_port,
            src_port: p.dst_port,
            ..*p
        };
        let other = match dir {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        };
        self.opens_untracked(dir, p) || self.opens_untracked(other, &reply)
    }

    fn opens_untracked(&self, dir: Direction, p: &RulePacket) -> bool {
        let u = match p.proto {
            PROTO_TCP => 0,
            PROTO_UDP => 1,
            _ => return false,
        };
        let v6 = usize::from(p.src.is_ipv6());
        let other = 1 - dir_index(dir);
        if !self.all_open[other][v6][u] {
            return false;
        }
        let (rules, peer) = match dir {
            Direction::Inbound => (&self.inbound, p.src),
            Direction::Outbound => (&self.outbound, p.dst),
        };
        self.index[dir_index(dir)].all_addresses.iter().any(|&i| {
            let r = &rules[i as usize];
            matches!(&r.peer, Peer::Cidr(n) if n.contains(&peer)) && traffic_matches(&r.traffic, p)
        })
    }
}

/// The security-group stage of ENI `e` for a packet leaving it (`egress`) or entering it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stage<T: Tracer>(
    cx: &mut Context<'_>,
    e: EniIdx,
    egress: bool,
    ip: &IpMeta,
    rp: &RulePacket,
    quote: Option<&Quoted>,
    pending: &mut Pending,
    peer_vpc: Option<VpcIdx>,
    tr: &mut T,
) -> StageResult {
    let t = cx.tables;
    let Some(prog) = t.enis.get(e.idx()).and_then(|x| x.sg.as_ref()) else {
        return Ok(());
    };
    let Some(table) = cx.state.conntrack(e) else {
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
            let echo_request = ip.proto == PROTO_ICMP && ip.icmp.is_some_and(|t| t.ty == 8);
            let answer_type_ok = !(echo_request && dir == ConnDir::Reply);
            if answer_type_ok {
                match table.touch(conn, dir, ip.tcp_flags, cx.now) {
                    Touch::Ok => {
                        pending.existing[slot] = Some(CtRef {
                            table: CtTable::eni(e),
                            conn,
                            dir,
                        });
                        tr.note(note(SgPass::Tracked));
                        return Ok(());
                    }
                    Touch::Invalid => return Err(Action::drop(DropReason::InvalidTcpState)),
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
        return Err(Action::drop(DropReason::SgNoMatch));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpc::config::{IcmpMatch, PortRange};
    use proptest::prelude::*;

    fn rule(proto: Protocol, ports: Option<(u16, u16)>, peer: SgPeer) -> SgRule {
        SgRule {
            traffic: TrafficMatch {
                protocol: proto,
                ports: ports.map(|(from, to)| PortRange { from, to }),
                icmp: None,
            },
            peer,
        }
    }

    fn cidr(s: &str) -> SgPeer {
        SgPeer::Cidr(s.parse().unwrap())
    }

    fn sg(inbound: Vec<SgRule>, outbound: Vec<SgRule>) -> SecurityGroupConfig {
        SecurityGroupConfig {
            id: "sg-x".into(),
            vpc: VpcIdx(0),
            inbound,
            outbound,
        }
    }

    fn pkt(proto: u8, src: &str, dst: &str, port: u16) -> RulePacket {
        RulePacket {
            proto,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            dst_port: port,
            src_port: 0,
            icmp: None,
        }
    }

    #[test]
    fn union_of_groups_and_group_references_match_member_private_ips() {
        let groups = vec![
            sg(
                vec![rule(
                    Protocol::Number(6),
                    Some((22, 22)),
                    cidr("203.0.113.1/32"),
                )],
                vec![],
            ),
            sg(
                vec![rule(Protocol::All, None, SgPeer::Group(SgIdx(1)))],
                vec![],
            ),
        ];
        let p = SgProgram::build(&groups, &[SgIdx(0), SgIdx(1)]);
        let mut members: Members = vec![HashSet::default(), HashSet::default()];
        members[1].insert("10.0.1.11".parse().unwrap());
        let ssh = pkt(6, "203.0.113.1", "10.0.1.10", 22);
        assert_eq!(
            p.evaluate(Direction::Inbound, &ssh, &members, Some(VpcIdx(0))),
            Some(SgMatch {
                group: SgIdx(0),
                rule: 0
            })
        );
        let member = pkt(17, "10.0.1.11", "10.0.1.10", 53);
        assert_eq!(
            p.evaluate(Direction::Inbound, &member, &members, Some(VpcIdx(0))),
            Some(SgMatch {
                group: SgIdx(1),
                rule: 0
            })
        );
        assert_eq!(
            p.evaluate(
                Direction::Inbound,
                &pkt(17, "10.0.1.12", "10.0.1.10", 53),
                &members,
                Some(VpcIdx(0))
            ),
            None
        );
        // No outbound rule at all: nothing may be initiated.
        assert_eq!(
            p.evaluate(
                Direction::Outbound,
                &pkt(6, "10.0.1.10", "8.8.8.8", 443),
                &members,
                Some(VpcIdx(0))
            ),
            None
        );
    }

    #[test]
    fn tracked_versus_untracked_as_the_aws_example() {
        // Inbound TCP 22 from 203.0.113.1/32 and TCP 80 from 0.0.0.0/0, outbound all.
        let g = vec![sg(
            vec![
                rule(Protocol::Number(6), Some((22, 22)), cidr("203.0.113.1/32")),
                rule(Protocol::Number(6), Some((80, 80)), cidr("0.0.0.0/0")),
            ],
            vec![rule(Protocol::All, None, cidr("0.0.0.0/0"))],
        )];
        let p = SgProgram::build(&g, &[SgIdx(0)]);
        assert!(!p.untracked(Direction::Inbound, &pkt(6, "203.0.113.1", "10.0.1.10", 22)));
        assert!(p.untracked(Direction::Inbound, &pkt(6, "198.51.100.9", "10.0.1.10", 80)));
        // The answer of an untracked flow is untracked too (allowed by the outbound rule).
        let mut answer = pkt(6, "10.0.1.10", "198.51.100.9", 40000);
        answer.src_port = 80;
        assert!(p.untracked(Direction::Outbound, &answer));
        // Without the outbound all-rule, everything is tracked.
        let g = vec![sg(g[0].inbound.clone(), vec![])];
        let p = SgProgram::build(&g, &[SgIdx(0)]);
        assert!(!p.untracked(Direction::Inbound, &pkt(6, "198.51.100.9", "10.0.1.10", 80)));
        // ICMP is always tracked.
        let g = vec![sg(
            vec![rule(Protocol::All, None, cidr("0.0.0.0/0"))],
            vec![rule(Protocol::All, None, cidr("0.0.0.0/0"))],
        )];
        let p = SgProgram::build(&g, &[SgIdx(0)]);
        assert!(!p.untracked(Direction::Inbound, &pkt(1, "198.51.100.9", "10.0.1.10", 0)));
        assert!(p.untracked(
            Direction::Outbound,
            &pkt(17, "10.0.1.10", "198.51.100.9", 53)
        ));
    }

    #[test]
    fn icmp_type_code_rules() {
        let g = vec![sg(
            vec![SgRule {
                traffic: TrafficMatch {
                    protocol: Protocol::Number(1),
                    ports: None,
                    icmp: Some(IcmpMatch {
                        icmp_type: Some(8),
                        code: None,
                    }),
                },
                peer: cidr("10.0.0.0/16"),
            }],
            vec![],
        )];
        let p = SgProgram::build(&g, &[SgIdx(0)]);
        let mut echo = pkt(1, "10.0.2.20", "10.0.1.10", 0);
        echo.icmp = Some((8, 0));
        assert!(p
            .evaluate(Direction::Inbound, &echo, &Vec::new(), Some(VpcIdx(0)))
            .is_some());
        echo.icmp = Some((13, 0));
        assert!(p
            .evaluate(Direction::Inbound, &echo, &Vec::new(), Some(VpcIdx(0)))
            .is_none());
    }

    /// The naive reference: any rule of any group of the ENI that matches.
    fn naive(groups: &[SecurityGroupConfig], members: &Members, p: &RulePacket) -> bool {
        groups.iter().any(|g| {
            g.inbound.iter().any(|r| {
                let proto = match r.traffic.protocol {
                    Protocol::All => true,
                    Protocol::Number(n) => n == p.proto,
                };
                let ports = match (r.traffic.protocol, r.traffic.ports) {
                    (Protocol::Number(6 | 17), Some(pr)) => {
                        pr.from <= p.dst_port && p.dst_port <= pr.to
                    }
                    _ => true,
                };
                let peer = match &r.peer {
                    SgPeer::Cidr(n) => n.contains(&p.src),
                    SgPeer::Group(g) => members[g.idx()].contains(&p.src),
                    SgPeer::PrefixList { cidrs, .. } => cidrs.iter().any(|n| n.contains(&p.src)),
                };
                proto && ports && peer
            })
        })
    }

    proptest! {
        #[test]
        fn compiled_matcher_agrees_with_naive(
            raw in proptest::collection::vec(proptest::collection::vec(
                (prop_oneof![Just(Protocol::All), (5u8..8).prop_map(Protocol::Number), Just(Protocol::Number(17))],
                 proptest::option::of((0u16..100, 0u16..100)), 0u8..6), 0..12), 1..5),
            probes in proptest::collection::vec((5u8..18, 0u8..5, 0u16..100), 1..40),
        ) {
            let nets = ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "192.168.7.0/24"];
            let groups: Vec<SecurityGroupConfig> = raw.iter().map(|rules| sg(
                rules.iter().map(|(proto, ports, peer)| {
                    let ports = ports.map(|(a, b)| (a.min(b), a.max(b)));
                    let peer = match peer {
                        0..=3 => cidr(nets[*peer as usize]),
                        4 => SgPeer::Group(SgIdx(0)),
                        _ => SgPeer::PrefixList { id: "pl-1".into(), cidrs: vec!["192.168.0.0/16".parse().unwrap(), "8.8.8.0/24".parse().unwrap()] },
                    };
                    rule(*proto, ports, peer)
                }).collect(),
                vec![],
            )).collect();
            let mut members: Members = vec![HashSet::default(); groups.len()];
            members[0].insert("172.16.0.9".parse().unwrap());
            let idx: Vec<SgIdx> = (0..groups.len() as u32).map(SgIdx).collect();
            let prog = SgProgram::build(&groups, &idx);
            for (proto, src, port) in probes {
                let src = ["10.1.2.3", "192.168.7.7", "8.8.8.8", "172.16.0.9", "1.2.3.4"][src as usize];
                let p = pkt(proto, src, "10.0.0.5", port);
                prop_assert_eq!(prog.evaluate(Direction::Inbound, &p, &members, Some(VpcIdx(0))).is_some(), naive(&groups, &members, &p));
            }
        }
    }
}
