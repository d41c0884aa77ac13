//! Matching one packet against the protocol/port/ICMP part of a rule, with AWS's
//! semantics: ports only constrain TCP and UDP, ICMP type/code only ICMP and ICMPv6, and
//! for any other protocol (or `-1`) a rule matches all traffic of that protocol.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::vpc::config::{Protocol, TrafficMatch};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// The fields of a packet that rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RulePacket {
    /// IP protocol.
    pub proto: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TCP/UDP destination port (0 otherwise).
    pub dst_port: u16,
    /// TCP/UDP source port (0 otherwise).
    pub src_port: u16,
    /// ICMP type and code (`None` for non-ICMP packets and non-first fragments).
    pub icmp: Option<(u8, u8)>,
}

/// Whether `m` (protocol, ports, ICMP) matches the packet.
#[inline]
pub fn traffic_matches(m: &TrafficMatch, p: &RulePacket) -> bool {
    match m.protocol {
        Protocol::All => true,
        Protocol::Number(n) if n != p.proto => false,
        Protocol::Number(PROTO_TCP | PROTO_UDP) => m
            .ports
            .is_none_or(|r| (r.from..=r.to).contains(&p.dst_port)),
        Protocol::Number(PROTO_ICMP | PROTO_ICMPV6) => match (m.icmp, p.icmp) {
            (None, _) => true,
            (Some(i), Some((t, c))) => {
                i.icmp_type.is_none_or(|x| x == t) && i.code.is_none_or(|x| x == c)
            }
            // A type/code rule cannot match a packet whose type is unknown (a fragment).
            (Some(i), None) => i.icmp_type.is_none() && i.code.is_none(),
        },
        Protocol::Number(_) => true,
    }
}

/// Whether `net` contains `addr` (an IPv4 prefix never contains an IPv6 address).
#[inline]
pub fn cidr_contains(net: &IpNet, addr: IpAddr) -> bool {
    net.contains(&addr)
}

/// Whether `net` is "all addresses" of its family (`0.0.0.0/0` or `::/0`).
pub fn is_all_addresses(net: &IpNet) -> bool {
    net.prefix_len() == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpc::config::{IcmpMatch, PortRange};

    fn pkt(proto: u8, port: u16, icmp: Option<(u8, u8)>) -> RulePacket {
        RulePacket {
            proto,
            src: "10.0.1.10".parse().unwrap(),
            dst: "10.0.2.20".parse().unwrap(),
            dst_port: port,
            src_port: 0,
            icmp,
        }
    }

    #[test]
    fn ports_only_for_tcp_udp_and_icmp_type_code_only_for_icmp() {
        let gre_80 = TrafficMatch {
            protocol: Protocol::Number(47),
            ports: Some(PortRange { from: 80, to: 80 }),
            icmp: None,
        };
        // Scenario 17: proto 47 with ports 80-80 allows all GRE.
        assert!(traffic_matches(&gre_80, &pkt(47, 0, None)));
        let tcp_80 = TrafficMatch {
            protocol: Protocol::Number(6),
            ports: Some(PortRange { from: 80, to: 80 }),
            icmp: None,
        };
        assert!(traffic_matches(&tcp_80, &pkt(6, 80, None)));
        assert!(!traffic_matches(&tcp_80, &pkt(6, 81, None)));
        assert!(!traffic_matches(&tcp_80, &pkt(17, 80, None)));
        let frag_needed = TrafficMatch {
            protocol: Protocol::Number(1),
            ports: None,
            icmp: Some(IcmpMatch {
                icmp_type: Some(3),
                code: Some(4),
            }),
        };
        assert!(traffic_matches(&frag_needed, &pkt(1, 0, Some((3, 4)))));
        assert!(!traffic_matches(&frag_needed, &pkt(1, 0, Some((8, 0)))));
        let all = TrafficMatch {
            protocol: Protocol::All,
            ports: Some(PortRange { from: 1, to: 1 }),
            icmp: None,
        };
        assert!(traffic_matches(&all, &pkt(6, 9999, None)));
    }
}
