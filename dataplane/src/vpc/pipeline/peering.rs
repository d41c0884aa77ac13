//! Element: a VPC peering connection. A packet routed over it goes to the owner of its
//! destination in the peer VPC (no transitive peering: the router lets only the two
//! VPCs' own addresses over, and nothing that came through a NAT gateway).

use super::walk::{Element, Node, Step, Walk};
use super::{Context, Tracer};
use crate::vpc::config::{PeeringIdx, VpcIdx};
use crate::vpc::verdict::DropReason;

/// A peering connection, entered towards VPC `peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peering {
    /// The connection.
    pub pcx: PeeringIdx,
    /// The VPC on the other side.
    pub peer: VpcIdx,
}

impl Element for Peering {
    /// The packet crosses into the peer VPC, to the ENI that owns its destination.
    fn enter<T: Tracer>(self, cx: &mut Context<'_>, w: &mut Walk<'_>, _tr: &mut T) -> Step {
        match cx.tables.owner(self.peer, w.ip.dst) {
            Some(e) => {
                w.vpc = self.peer;
                Step::Next(Node::Eni(e))
            }
            None => DropReason::NoEniForAddress.into(),
        }
    }
}
