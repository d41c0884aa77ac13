//! The data plane's form of a firewall rule's traffic (protocol, ports, ICMP fields), shared
//! by network ACLs and security groups.

use dataplane::vpc::config::{IcmpMatch, PortRange, Protocol, TrafficMatch};
use ipnet::IpNet;

use crate::model::{PortSpec, RuleProtocol, Vpc, PROTO_ICMPV6};

/// The "all traffic" destinations of a VPC: `0.0.0.0/0`, plus `::/0` when it has an IPv6
/// CIDR (the outbound rule of a new security group, the rules of a default NACL).
pub(super) fn everywhere(vpc: &Vpc) -> Vec<IpNet> {
    let mut v = vec![IpNet::V4(ipnet::Ipv4Net::default())];
    if vpc.ipv6_cidr.is_some() {
        v.push(IpNet::V6(ipnet::Ipv6Net::default()));
    }
    v
}

/// All protocols, all ports: the traffic of the implicit default rules.
pub(super) const ALL_TRAFFIC: TrafficMatch = TrafficMatch {
    protocol: Protocol::All,
    ports: None,
    icmp: None,
};

/// The data plane's form of a rule's protocol, ports and ICMP fields.
///
/// `-1` carries neither ports nor ICMP; TCP/UDP carry their range, `None` for all ports
/// (absent or `0-65535`); ICMP/ICMPv6 carry type/code, `None` when both are any (absent or
/// `-1`) and for ICMPv6 with an IPv4 CIDR (`ipv4 == Some(true)`: AWS matches every type);
/// any other protocol carries neither (AWS ignores ports there).
pub fn traffic_match(
    protocol: RuleProtocol,
    ports: Option<PortSpec>,
    icmp_type: Option<i64>,
    icmp_code: Option<i64>,
    ipv4: Option<bool>,
) -> TrafficMatch {
    let mut m = TrafficMatch {
        protocol: protocol.to_config(),
        ports: None,
        icmp: None,
    };
    if protocol.has_ports() {
        m.ports = ports.and_then(|p| {
            let from = u16::try_from(p.from).ok()?;
            let to = u16::try_from(p.to).ok()?;
            if (from, to) == (0, u16::MAX) {
                None
            } else {
                Some(PortRange { from, to })
            }
        });
    } else if protocol.is_icmp() {
        let any = |v: Option<i64>| v.and_then(|x| u8::try_from(x).ok());
        let icmp = IcmpMatch {
            icmp_type: any(icmp_type),
            code: any(icmp_code),
        };
        let ignored = protocol == RuleProtocol::Number(PROTO_ICMPV6) && ipv4 == Some(true);
        if icmp != IcmpMatch::default() && !ignored {
            m.icmp = Some(icmp);
        }
    }
    m
}
