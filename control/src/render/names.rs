//! Names for people of what the compiled configuration holds as indices: protocols, ports,
//! rule peers, route and mapping targets, ENIs, NAT gateways and VPCs.

use dataplane::vpc::config::{
    DataplaneConfig, EniIdx, Interface, MappingTarget, NatIdx, Protocol, RouteTarget, SgPeer,
    TrafficMatch, VpcIdx,
};

use super::text::plural;

/// The name of a rule's protocol: `all`, `tcp`, `udp`, `icmp`, `icmpv6`, or its number.
pub fn protocol_name(p: Protocol) -> String {
    match p {
        Protocol::All => "all".to_string(),
        Protocol::Number(6) => "tcp".to_string(),
        Protocol::Number(17) => "udp".to_string(),
        Protocol::Number(1) => "icmp".to_string(),
        Protocol::Number(58) => "icmpv6".to_string(),
        Protocol::Number(n) => n.to_string(),
    }
}

/// The ports or ICMP type/code a rule matches: `80`, `1024-65535`, `type 3 code 4`, `all`.
pub fn ports_text(t: &TrafficMatch) -> String {
    if let Some(p) = t.ports {
        return if p.from == p.to {
            p.from.to_string()
        } else {
            format!("{}-{}", p.from, p.to)
        };
    }
    match t.icmp {
        Some(i) => {
            let ty = i.icmp_type.map_or("any".to_string(), |v| v.to_string());
            match i.code {
                Some(c) => format!("type {ty} code {c}"),
                None => format!("type {ty}"),
            }
        }
        None => "all".to_string(),
    }
}

/// The other end of a security-group rule, with indices resolved to ids.
pub fn peer_name(config: &DataplaneConfig, peer: &SgPeer) -> String {
    match peer {
        SgPeer::Cidr(n) => n.to_string(),
        SgPeer::Group(i) => config
            .security_groups
            .get(i.idx())
            .map_or_else(|| format!("sg#{i}?"), |g| g.id.clone()),
        SgPeer::PrefixList { id, cidrs } => {
            format!("{id} ({})", plural(cidrs.len(), "entry", "entries"))
        }
    }
}

/// The name of a route target, with indices resolved to ids.
pub fn target_name(config: &DataplaneConfig, target: RouteTarget) -> String {
    match target {
        RouteTarget::Local => "local".to_string(),
        RouteTarget::Blackhole => "blackhole".to_string(),
        RouteTarget::Eni(i) => eni_name(config, i),
        RouteTarget::InternetGateway(i) => config
            .internet_gateways
            .get(i.idx())
            .map_or_else(|| format!("igw#{i}?"), |g| g.id.clone()),
        RouteTarget::NatGateway(i) => nat_name(config, i),
        RouteTarget::Peering(i) => config.peerings.get(i.idx()).map_or_else(
            || format!("pcx#{i}?"),
            |p| {
                if p.active {
                    p.id.clone()
                } else {
                    format!("{} (blackhole: pending-acceptance)", p.id)
                }
            },
        ),
    }
}

/// The id of ENI `i`.
pub(crate) fn eni_name(config: &DataplaneConfig, i: EniIdx) -> String {
    config
        .enis
        .get(i.idx())
        .map_or_else(|| format!("eni#{i}?"), |e| e.id.clone())
}

/// The id of interface `i`: an ENI's, or a NAT gateway's network interface.
pub(crate) fn interface_name(config: &DataplaneConfig, i: Interface) -> String {
    match i {
        Interface::Eni(e) => eni_name(config, e),
        Interface::NatGateway(n) => config
            .nat_gateways
            .get(n.idx())
            .map_or_else(|| format!("nat#{n}?"), |n| n.interface_id.clone()),
    }
}

/// The id of NAT gateway `i`.
pub(super) fn nat_name(config: &DataplaneConfig, i: NatIdx) -> String {
    config
        .nat_gateways
        .get(i.idx())
        .map_or_else(|| format!("nat#{i}?"), |n| n.id.clone())
}

/// The name of what a public address maps to: an ENI id or a NAT gateway id.
pub fn mapping_target_name(config: &DataplaneConfig, target: MappingTarget) -> String {
    match target {
        MappingTarget::Eni(i) => eni_name(config, i),
        MappingTarget::NatGateway(i) => nat_name(config, i),
    }
}

/// The id of VPC `i`.
pub(super) fn vpc_id(c: &DataplaneConfig, i: VpcIdx) -> String {
    c.vpcs
        .get(i.idx())
        .map_or_else(|| format!("vpc#{i}?"), |v| v.id.clone())
}

/// `vpc-a (10.0.0.0/16, 10.50.0.0/16)`: a VPC's id and CIDRs.
pub(super) fn vpc_with_cidrs(c: &DataplaneConfig, vpc: VpcIdx) -> String {
    c.vpcs.get(vpc.idx()).map_or_else(
        || format!("vpc#{vpc}?"),
        |v| {
            let cidrs: Vec<String> = v.cidrs.iter().map(|n| n.to_string()).collect();
            format!("{} ({})", v.id, cidrs.join(", "))
        },
    )
}
