//! Connection state a packet's walk asks for: the tracked connections it would open
//! (security groups) and the NAT translation it would bind, created only once the packet
//! has passed every element, so a later refusal leaves nothing behind.

use std::net::IpAddr;

use super::{natgw, Context, CtRef, CtTable};
use crate::vpc::config::EniIdx;
use crate::vpc::conntrack::{ConnDir, ConnKey, ConnRef, InsertError, Origin};
use crate::vpc::verdict::DropReason;
use crate::wire::ipv4::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::wire::Quoted;

/// The connection key of a packet from the point of view of the ENI it leaves
/// (`egress`) or enters.
pub(crate) fn conn_key(
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    egress: bool,
) -> ConnKey {
    let (sport, dport) = match proto {
        PROTO_TCP | PROTO_UDP => (sport, dport),
        // ICMP: the echo identifier on both sides; others carry no ports.
        PROTO_ICMP | PROTO_ICMPV6 => (sport, sport),
        _ => (0, 0),
    };
    if egress {
        ConnKey {
            proto,
            local: src,
            remote: dst,
            local_port: sport,
            remote_port: if matches!(proto, PROTO_TCP | PROTO_UDP) {
                dport
            } else {
                0
            },
        }
    } else {
        ConnKey {
            proto,
            local: dst,
            remote: src,
            local_port: dport,
            remote_port: if matches!(proto, PROTO_TCP | PROTO_UDP) {
                sport
            } else {
                0
            },
        }
    }
}

/// Connections to create once the packet is known to pass every stage.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) new: [Option<(EniIdx, ConnKey, Origin, u8)>; 2],
    /// Existing connections: source egress, destination ingress, NAT translation.
    pub(crate) existing: [Option<CtRef>; 3],
    /// A NAT gateway translation to open.
    pub(crate) nat: Option<natgw::NewBinding>,
    pub(crate) related: bool,
    /// A decision that depends on more than the flow key (see `sg_stage`).
    pub(crate) uncacheable: bool,
}

impl Pending {
    /// Whether the flow cache may remember the decision.
    pub(crate) fn cacheable(&self, quote: Option<&Quoted>) -> bool {
        quote.is_none() && !self.related && !self.uncacheable
    }
}

impl Pending {
    /// Creates the pending connections (and NAT translation); on failure nothing of
    /// them stays, and a full connection table is charged to its ENI
    /// ([`Context::full_table`]).
    pub(crate) fn commit(&self, cx: &mut Context<'_>) -> Result<[Option<CtRef>; 3], DropReason> {
        let now = cx.now;
        let enis = cx.state.enis();
        let mut out = self.existing;
        let mut done: [Option<(EniIdx, ConnRef)>; 2] = [None, None];
        for (i, n) in self.new.iter().enumerate() {
            let Some((eni, key, origin, flags)) = *n else {
                continue;
            };
            let Some(table) = cx.state.conntrack(eni) else {
                continue;
            };
            match table.insert(key, origin, flags, now) {
                Ok(conn) => {
                    done[i] = Some((eni, conn));
                    out[i] = Some(CtRef {
                        table: CtTable::eni(eni),
                        conn,
                        dir: ConnDir::Orig,
                    });
                }
                Err(e) => {
                    // Undo what this packet created already.
                    for (eni, conn) in done.iter().flatten() {
                        if let Some(t) = cx.state.conntrack(*eni) {
                            t.remove(*conn);
                        }
                    }
                    return Err(match e {
                        InsertError::Full => {
                            // The sender's table, or the receiver's: AWS counts
                            // `conntrack_allowance_exceeded` on the ENI whose table it is.
                            cx.full_table = Some(eni);
                            DropReason::ConntrackFull
                        }
                        InsertError::InvalidTcp => DropReason::InvalidTcpState,
                    });
                }
            }
        }
        if let Some(b) = self.nat {
            let bound = cx
                .state
                .nat(b.nat)
                .map(|st| st.bind(b.key, b.addr, b.port, b.flags, now));
            match bound {
                Some(Ok(conn)) => {
                    out[2] = Some(CtRef {
                        table: CtTable::nat(enis, b.nat),
                        conn,
                        dir: ConnDir::Orig,
                    });
                }
                other => {
                    for (eni, conn) in done.iter().flatten() {
                        if let Some(t) = cx.state.conntrack(*eni) {
                            t.remove(*conn);
                        }
                    }
                    return Err(match other {
                        Some(Err(InsertError::InvalidTcp)) => DropReason::InvalidTcpState,
                        _ => DropReason::NatPortAllocation,
                    });
                }
            }
        }
        Ok(out)
    }
}
