//! The report `vpcctl show` prints and the metrics endpoint renders, assembled off the
//! forwarding thread: the forwarding thread publishes a [`CounterSnapshot`] (counters
//! only, no configuration), and the reader joins it with the tables it already holds.

use serde::{Deserialize, Serialize};

use crate::observe::capture::CaptureReport;
use crate::observe::mirror::MirrorSessionReport;
use crate::observe::stats::{
    EngineCounters, EniReport, NaclDenyReport, NatGatewayReport, NatMetrics, PortCounters,
    PortStatus, StatsReport, UplinkReport,
};
use crate::vpc::pipeline::nacl::Direction;
use crate::vpc::tables::Tables;

/// The counters of one data plane at one moment: what the forwarding thread copies for a
/// report (a few vectors of integers), never the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSnapshot {
    /// The configuration epoch the counters belong to.
    pub epoch: u64,
    /// Per port (ENIs, then uplinks): counters, with the ENIs' connection-table fill.
    pub ports: Vec<PortCounters>,
    /// Per port: the name of its device, when one is attached.
    pub port_names: Vec<Option<String>>,
    /// Per port: a socket-backed port's state (filled by the daemon; empty otherwise).
    #[serde(default)]
    pub port_status: Vec<Option<PortStatus>>,
    /// Engine-wide counters.
    pub engine: EngineCounters,
    /// Network-ACL deny counters, by slot.
    pub nacl_drops: Vec<u64>,
    /// Per NAT gateway, in configuration order.
    pub nat_gateways: Vec<NatMetrics>,
    /// Packet captures, in configuration order.
    pub captures: Vec<CaptureReport>,
    /// Traffic mirroring sessions, in configuration order.
    pub mirror_sessions: Vec<MirrorSessionReport>,
}

/// The report of `snap` taken under `tables` (the tables of the same epoch).
pub fn assemble(tables: &Tables, snap: CounterSnapshot) -> StatsReport {
    let c = &tables.config;
    let port = |i: usize| {
        (
            snap.port_names.get(i).cloned().flatten(),
            snap.ports.get(i).cloned().unwrap_or_default(),
        )
    };
    StatsReport {
        epoch: snap.epoch,
        config: c.clone(),
        enis: c
            .enis
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (tap, counters) = port(i);
                EniReport {
                    id: e.id.clone(),
                    tap,
                    port: snap.port_status.get(i).cloned().flatten(),
                    counters,
                }
            })
            .collect(),
        engine: snap.engine,
        nacl_denies: nacl_report(tables, &snap.nacl_drops),
        nat_gateways: c
            .nat_gateways
            .iter()
            .zip(snap.nat_gateways)
            .map(|(c, metrics)| NatGatewayReport {
                id: c.id.clone(),
                metrics,
            })
            .collect(),
        uplinks: c
            .internet_gateways
            .iter()
            .zip(&tables.igws)
            .map(|(g, t)| {
                let (tap, counters) = port(t.port.idx());
                UplinkReport {
                    igw: g.id.clone(),
                    tap,
                    counters,
                }
            })
            .collect(),
        captures: snap.captures,
        mirror_sessions: snap.mirror_sessions,
    }
}

/// Denies per network-ACL rule (non-zero only).
fn nacl_report(tables: &Tables, drops: &[u64]) -> Vec<NaclDenyReport> {
    let mut out = Vec::new();
    for (i, a) in tables.nacls.iter().enumerate() {
        for slot in a.first_slot..a.first_slot + a.slots() {
            let n = drops.get(slot as usize).copied().unwrap_or(0);
            let Some((dir, rule)) = a.describe_slot(slot) else {
                continue;
            };
            if n == 0 {
                continue;
            }
            out.push(NaclDenyReport {
                nacl: tables.config.network_acls[i].id.clone(),
                direction: match dir {
                    Direction::Inbound => "inbound".into(),
                    Direction::Outbound => "outbound".into(),
                },
                rule: rule.map_or_else(|| "*".to_string(), |r| r.to_string()),
                packets: n,
            });
        }
    }
    out
}
