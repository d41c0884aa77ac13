//! Stage: route lookup (longest prefix match in the subnet's route table) and resolution
//! of the target to the next logical hop.

use std::net::IpAddr;

use crate::vpc::config::{EniIdx, IgwIdx, NatIdx, PeeringIdx, RouteTarget};
use crate::vpc::tables::Tables;
use crate::vpc::verdict::DropReason;

/// Where a routed packet goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop {
    /// To this ENI (the owner of the destination, or a middlebox).
    Eni(EniIdx),
    /// Out through this internet gateway.
    InternetGateway(IgwIdx),
    /// Through this NAT gateway (a route to it, or one of its addresses as destination).
    NatGateway(NatIdx),
    /// Over this active peering connection, into the other VPC.
    Peering {
        /// The peering connection.
        pcx: PeeringIdx,
        /// The VPC on the other side.
        peer: u32,
    },
}

/// Looks `dst` up in route table `rt` of VPC `vpc` and resolves the target.
#[inline]
pub fn lookup(t: &Tables, vpc: u32, rt: u32, dst: IpAddr) -> Result<NextHop, DropReason> {
    let Some((target, _prefix)) = t.route(rt, dst) else {
        return Err(DropReason::NoRoute);
    };
    match target {
        RouteTarget::Local => match t.owner(vpc, dst) {
            Some(e) => Ok(NextHop::Eni(e)),
            None => t
                .vpcs
                .get(vpc as usize)
                .and_then(|v| v.nat_addrs.get(&dst))
                .map(|&n| NextHop::NatGateway(n))
                .ok_or(DropReason::NoEniForAddress),
        },
        RouteTarget::Blackhole => Err(DropReason::Blackhole),
        RouteTarget::Eni(e) => Ok(NextHop::Eni(e)),
        RouteTarget::InternetGateway(g) => Ok(NextHop::InternetGateway(g)),
        RouteTarget::NatGateway(n) => Ok(NextHop::NatGateway(n)),
        RouteTarget::Peering(p) => {
            let pc = t.peerings.get(p as usize).ok_or(DropReason::Malformed)?;
            // A route to a pending peering is a blackhole until it is accepted.
            if !pc.active {
                return Err(DropReason::Blackhole);
            }
            let peer = match pc.vpcs {
                [a, b] if a == vpc => b,
                [a, b] if b == vpc => a,
                _ => return Err(DropReason::NoRoute),
            };
            Ok(NextHop::Peering { pcx: p, peer })
        }
    }
}
