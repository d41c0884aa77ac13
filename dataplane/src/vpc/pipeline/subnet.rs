//! Element boundary: a subnet. A packet that leaves a subnet passes the subnet's network
//! ACL outbound; one that enters passes it inbound. The hop loop crosses boundaries in
//! one place (`walk::cross`), only when the packet's subnet changes: traffic routed
//! within a subnet sees no ACL.

use super::nacl::{self, Direction};
use super::{StageResult, Tracer};
use crate::vpc::config::SubnetIdx;
use crate::vpc::rules::RulePacket;
use crate::vpc::tables::Tables;

fn boundary<T: Tracer>(
    t: &Tables,
    s: SubnetIdx,
    dir: Direction,
    rp: &RulePacket,
    tr: &mut T,
) -> StageResult {
    match t.subnets.get(s.idx()).and_then(|s| s.network_acl) {
        Some(a) => nacl::stage(t, a, dir, rp, tr),
        None => Ok(()),
    }
}

/// A packet leaves subnet `s`: its network ACL, outbound rules.
pub(crate) fn leave<T: Tracer>(
    t: &Tables,
    s: SubnetIdx,
    rp: &RulePacket,
    tr: &mut T,
) -> StageResult {
    boundary(t, s, Direction::Outbound, rp, tr)
}

/// A packet enters subnet `s`: its network ACL, inbound rules.
pub(crate) fn enter<T: Tracer>(
    t: &Tables,
    s: SubnetIdx,
    rp: &RulePacket,
    tr: &mut T,
) -> StageResult {
    boundary(t, s, Direction::Inbound, rp, tr)
}
