//! Stage: network ACLs at the subnet boundary — stateless, numbered rules evaluated in
//! ascending order, first match wins, then the implicit final deny (`*`).
//!
//! Evaluated when traffic leaves its subnet (outbound rules of the source subnet's ACL)
//! and when it enters another (inbound rules of the destination subnet's ACL), never for
//! traffic that stays inside one subnet.

use super::{Action, Note, StageResult, Tracer};
use crate::vpc::config::{NaclEntry, NaclIdx, NetworkAclConfig};
use crate::vpc::rules::{traffic_matches, RulePacket};
use crate::vpc::tables::Tables;
use crate::vpc::verdict::DropReason;

/// Which rule list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Traffic entering the subnet (rule CIDR = source).
    Inbound,
    /// Traffic leaving the subnet (rule CIDR = destination).
    Outbound,
}

/// A network ACL ready for evaluation: entries sorted by rule number.
#[derive(Debug, Clone)]
pub struct NaclTable {
    /// Inbound entries, ascending rule number.
    pub inbound: Vec<NaclEntry>,
    /// Outbound entries, ascending rule number.
    pub outbound: Vec<NaclEntry>,
    /// Index of this ACL's first counter slot (see [`NaclVerdict::slot`]).
    pub first_slot: u32,
}

/// The outcome of evaluating one direction of a network ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NaclVerdict {
    /// Allowed?
    pub allow: bool,
    /// The rule that decided; `None` is the implicit final deny (`*`).
    pub rule_number: Option<u16>,
    /// A per-(ACL, direction, rule) index for deny counters, unique across all ACLs.
    pub slot: u32,
}

impl NaclTable {
    /// Builds the table; `first_slot` is where its counter slots start. It uses
    /// `inbound.len() + outbound.len() + 2` slots (one per rule and one `*` per direction).
    pub fn build(c: &NetworkAclConfig, first_slot: u32) -> NaclTable {
        let mut inbound = c.inbound.clone();
        let mut outbound = c.outbound.clone();
        inbound.sort_by_key(|e| e.rule_number);
        outbound.sort_by_key(|e| e.rule_number);
        NaclTable {
            inbound,
            outbound,
            first_slot,
        }
    }

    /// Counter slots this table uses.
    pub fn slots(&self) -> u32 {
        (self.inbound.len() + self.outbound.len() + 2) as u32
    }

    /// Evaluates `p` against one direction.
    pub fn evaluate(&self, dir: Direction, p: &RulePacket) -> NaclVerdict {
        let (entries, base, peer) = match dir {
            Direction::Inbound => (&self.inbound, self.first_slot, p.src),
            Direction::Outbound => (
                &self.outbound,
                self.first_slot + self.inbound.len() as u32 + 1,
                p.dst,
            ),
        };
        for (i, e) in entries.iter().enumerate() {
            if e.cidr.contains(&peer) && traffic_matches(&e.traffic, p) {
                return NaclVerdict {
                    allow: e.allow,
                    rule_number: Some(e.rule_number),
                    slot: base + i as u32,
                };
            }
        }
        NaclVerdict {
            allow: false,
            rule_number: None,
            slot: base + entries.len() as u32,
        }
    }

    /// The (direction, rule number) a counter slot of this table stands for.
    pub fn describe_slot(&self, slot: u32) -> Option<(Direction, Option<u16>)> {
        let i = slot.checked_sub(self.first_slot)? as usize;
        let n_in = self.inbound.len();
        if i < n_in {
            Some((Direction::Inbound, Some(self.inbound[i].rule_number)))
        } else if i == n_in {
            Some((Direction::Inbound, None))
        } else if i - n_in - 1 < self.outbound.len() {
            Some((
                Direction::Outbound,
                Some(self.outbound[i - n_in - 1].rule_number),
            ))
        } else if i - n_in - 1 == self.outbound.len() {
            Some((Direction::Outbound, None))
        } else {
            None
        }
    }
}

/// The network-ACL stage: `Err` carries the drop action.
pub(crate) fn stage<T: Tracer>(
    t: &Tables,
    nacl: NaclIdx,
    dir: Direction,
    rp: &RulePacket,
    tr: &mut T,
) -> StageResult {
    let Some(table) = t.nacls.get(nacl.idx()) else {
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
mod tests {
    use super::*;
    use crate::vpc::config::{PortRange, Protocol, TrafficMatch, VpcIdx};
    use proptest::prelude::*;

    fn entry(
        n: u16,
        proto: Protocol,
        ports: Option<(u16, u16)>,
        cidr: &str,
        allow: bool,
    ) -> NaclEntry {
        NaclEntry {
            rule_number: n,
            traffic: TrafficMatch {
                protocol: proto,
                ports: ports.map(|(from, to)| PortRange { from, to }),
                icmp: None,
            },
            cidr: cidr.parse().unwrap(),
            allow,
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

    fn acl(inbound: Vec<NaclEntry>, outbound: Vec<NaclEntry>) -> NaclTable {
        NaclTable::build(
            &NetworkAclConfig {
                id: "acl-1".into(),
                vpc: VpcIdx(0),
                inbound,
                outbound,
            },
            10,
        )
    }

    #[test]
    fn lowest_rule_number_first_and_final_deny() {
        // Written out of order: the deny at 90 must win over the allow at 100.
        let t = acl(
            vec![
                entry(
                    100,
                    Protocol::Number(6),
                    Some((0, 65535)),
                    "0.0.0.0/0",
                    true,
                ),
                entry(90, Protocol::Number(6), Some((23, 23)), "0.0.0.0/0", false),
            ],
            vec![],
        );
        let telnet = t.evaluate(Direction::Inbound, &pkt(6, "203.0.113.5", "10.0.1.10", 23));
        assert_eq!((telnet.allow, telnet.rule_number), (false, Some(90)));
        let http = t.evaluate(Direction::Inbound, &pkt(6, "203.0.113.5", "10.0.1.10", 80));
        assert_eq!((http.allow, http.rule_number), (true, Some(100)));
        let udp = t.evaluate(Direction::Inbound, &pkt(17, "203.0.113.5", "10.0.1.10", 80));
        assert_eq!((udp.allow, udp.rule_number), (false, None));
        // A custom ACL with no rules denies both ways; outbound is independent.
        let out = t.evaluate(Direction::Outbound, &pkt(6, "10.0.1.10", "203.0.113.5", 80));
        assert_eq!((out.allow, out.rule_number), (false, None));
        assert_eq!(t.describe_slot(out.slot), Some((Direction::Outbound, None)));
        assert_eq!(
            t.describe_slot(telnet.slot),
            Some((Direction::Inbound, Some(90)))
        );
    }

    #[test]
    fn ipv4_rules_never_match_ipv6() {
        let t = acl(
            vec![entry(100, Protocol::All, None, "0.0.0.0/0", true)],
            vec![],
        );
        let v = t.evaluate(
            Direction::Inbound,
            &pkt(6, "2001:db8::1", "2001:db8::2", 80),
        );
        assert_eq!((v.allow, v.rule_number), (false, None));
    }

    /// The naive reference: sort by number, take the first matching rule.
    fn naive(entries: &[NaclEntry], peer: std::net::IpAddr, p: &RulePacket) -> (bool, Option<u16>) {
        let mut v: Vec<&NaclEntry> = entries.iter().collect();
        v.sort_by_key(|e| e.rule_number);
        for e in v {
            let proto_ok = match e.traffic.protocol {
                Protocol::All => true,
                Protocol::Number(n) => n == p.proto,
            };
            let ports_ok = match (e.traffic.protocol, e.traffic.ports) {
                (Protocol::Number(6 | 17), Some(r)) => r.from <= p.dst_port && p.dst_port <= r.to,
                _ => true,
            };
            if e.cidr.contains(&peer) && proto_ok && ports_ok {
                return (e.allow, Some(e.rule_number));
            }
        }
        (false, None)
    }

    proptest! {
        #[test]
        fn matches_naive_evaluator(
            rules in proptest::collection::vec(
                (1u16..200, prop_oneof![Just(Protocol::All), (0u8..20).prop_map(Protocol::Number)],
                 proptest::option::of((0u16..100, 0u16..100)), 0u8..4, any::<bool>()), 0..20),
            probes in proptest::collection::vec((0u8..20, 0u8..4, 0u16..100), 1..40),
        ) {
            let mut seen = std::collections::HashSet::new();
            let entries: Vec<NaclEntry> = rules.into_iter()
                .filter(|r| seen.insert(r.0))
                .map(|(n, proto, ports, net, allow)| {
                    let cidr = ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/16"][net as usize];
                    let ports = ports.map(|(a, b)| (a.min(b), a.max(b)));
                    entry(n, proto, ports, cidr, allow)
                })
                .collect();
            let t = acl(entries.clone(), vec![]);
            for (proto, src, port) in probes {
                let src = ["10.1.2.3", "10.2.0.1", "192.168.1.1", "8.8.8.8"][src as usize];
                let p = pkt(proto, src, "10.0.0.5", port);
                let v = t.evaluate(Direction::Inbound, &p);
                prop_assert_eq!((v.allow, v.rule_number), naive(&entries, p.src, &p));
            }
        }
    }
}
