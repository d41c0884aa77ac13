//! Element: the VPC router in a subnet. It looks the destination up in the subnet's route
//! table (longest prefix match), resolves the target to the next element, and refuses
//! what AWS's router refuses on the way (a hairpin to the sender, a peering for
//! addresses outside the two VPCs, a NAT gateway's traffic into a peering or another NAT
//! gateway).

use std::net::IpAddr;

use super::walk::{Element, Node, Origin, Step, Walk};
use super::{Context, Note, Tracer};
use crate::vpc::config::{
    EniIdx, IgwIdx, NatIdx, PeeringIdx, RouteTableIdx, RouteTarget, SubnetIdx, VpcIdx,
};
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
        peer: VpcIdx,
    },
}

/// Looks `dst` up in route table `rt` of VPC `vpc` and resolves the target.
#[inline]
pub fn lookup(
    t: &Tables,
    vpc: VpcIdx,
    rt: RouteTableIdx,
    dst: IpAddr,
) -> Result<NextHop, DropReason> {
    let Some((target, _prefix)) = t.route(rt, dst) else {
        return Err(DropReason::NoRoute);
    };
    match target {
        RouteTarget::Local => match t.owner(vpc, dst) {
            Some(e) => Ok(NextHop::Eni(e)),
            None => t
                .vpcs
                .get(vpc.idx())
                .and_then(|v| v.nat_addrs.get(&dst))
                .map(|&n| NextHop::NatGateway(n))
                .ok_or(DropReason::NoEniForAddress),
        },
        RouteTarget::Blackhole => Err(DropReason::Blackhole),
        RouteTarget::Eni(e) => Ok(NextHop::Eni(e)),
        RouteTarget::InternetGateway(g) => Ok(NextHop::InternetGateway(g)),
        RouteTarget::NatGateway(n) => Ok(NextHop::NatGateway(n)),
        RouteTarget::Peering(p) => {
            let pc = t.peerings.get(p.idx()).ok_or(DropReason::Malformed)?;
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

/// The VPC router of a subnet, as an element of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Router(pub SubnetIdx);

impl Element for Router {
    /// Routes the packet by the subnet's route table and names the next element.
    fn enter<T: Tracer>(self, cx: &mut Context<'_>, w: &mut Walk<'_>, tr: &mut T) -> Step {
        let t = cx.tables;
        let Some(s) = t.subnets.get(self.0.idx()) else {
            return DropReason::Malformed.into();
        };
        let table = s.route_table;
        tr.note(Note::RouteLookup {
            table,
            dst: w.ip.dst,
        });
        let routed = w
            .routed
            .take()
            .unwrap_or_else(|| lookup(t, s.vpc, table, w.ip.dst));
        let next = match routed {
            Ok(next) => next,
            Err(r) => return r.into(),
        };
        tr.note(Note::Routed { table, next });
        w.vpc = s.vpc;
        let after_nat = w.via_nat.is_some();
        match next {
            NextHop::Eni(e) if !after_nat && w.origin == Origin::Eni(e) => {
                DropReason::HairpinLoop.into()
            }
            NextHop::Eni(e) => Step::Next(Node::Eni(e)),
            NextHop::InternetGateway(g) => Step::Next(Node::InternetGateway(g)),
            NextHop::NatGateway(_) if after_nat => DropReason::HopLimit.into(),
            NextHop::NatGateway(n) => Step::Next(Node::NatGateway(n)),
            // A NAT gateway's traffic does not cross a peering (it would reach the peer
            // from an address of another VPC: edge-to-edge).
            NextHop::Peering { .. } if after_nat => DropReason::PcxAddressNotInVpcCidr.into(),
            NextHop::Peering { pcx, peer } => {
                // Only between the two VPCs' own addresses (no transitive peering, no
                // edge-to-edge routing through the peer's gateways).
                let inside = |v: VpcIdx, a| t.vpcs.get(v.idx()).is_some_and(|v| v.contains(a));
                if inside(s.vpc, w.ip.src) && inside(peer, w.ip.dst) {
                    Step::Next(Node::Peering { pcx, peer })
                } else {
                    DropReason::PcxAddressNotInVpcCidr.into()
                }
            }
        }
    }
}
