//! What the flow cache remembers per flow in this data plane: the slow path's decision,
//! in the VPC's words (the engine's [`FlowCache`](crate::engine::flow::FlowCache) stores
//! it without looking inside).

use crate::vpc::pipeline::CtRef;
use crate::vpc::verdict::{Charge, Delivery, DropReason, NatHop};

/// The cached decision for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowAction {
    /// Rewrite MACs and send out of the ENI's port; every packet updates the tracked
    /// connections in `ct` (and falls back to the slow path if one is gone).
    Forward {
        /// Port and MAC rewrite.
        delivery: Delivery,
        /// Tracked connections the flow belongs to.
        ct: [Option<CtRef>; 3],
        /// The NAT gateway the flow goes through, and what its interface sees (for its
        /// flow logs).
        via: Option<NatHop>,
    },
    /// Drop, counted under this reason (and network-ACL rule slot).
    Drop {
        /// Why.
        reason: DropReason,
        /// The ACL counter slot for `NaclDeny`.
        nacl_slot: Option<u32>,
        /// The interface a refusal is charged to in flow logs.
        owner: Option<Charge>,
        /// The NAT gateway the packet went through before it was refused, if any.
        via: Option<NatHop>,
    },
}
