//! What the flow cache remembers per flow in this data plane: the slow path's decision,
//! in the VPC's words (the engine's [`FlowCache`](crate::engine::flow::FlowCache) stores
//! it without looking inside).

use crate::vpc::config::EniIdx;
use crate::vpc::pipeline::CtRef;
use crate::vpc::verdict::{Delivery, DropReason};

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
    },
    /// Drop, counted under this reason (and network-ACL rule slot).
    Drop {
        /// Why.
        reason: DropReason,
        /// The ACL counter slot for `NaclDeny`.
        nacl_slot: Option<u32>,
        /// The ENI a refusal is charged to in flow logs (ingress side when `true`).
        owner: Option<(EniIdx, bool)>,
    },
}
