//! The report `vpcctl show` prints and the metrics endpoint renders, assembled off the
//! forwarding thread: the forwarding thread publishes a [`CounterSnapshot`] (counters
//! only, no configuration), and the reader joins it with the tables it already holds.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::observe::capture::CaptureReport;
use crate::observe::mirror::MirrorSessionReport;
use crate::observe::stats::{
    EngineCounters, EniReport, KernelLinkReport, NaclDenyReport, NatGatewayReport, NatMetrics,
    PortCounters, PortStatus, StatsReport, UplinkReport,
};
use crate::sys::linkstats::{LinkStats, LinkStatsError};
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
    /// With several forwarding workers, each one's engine counters (filled by
    /// [`CounterSnapshot::merge`]; empty with one).
    #[serde(default)]
    pub workers: Vec<EngineCounters>,
}

impl CounterSnapshot {
    /// Adds the counters of `other`, another forwarding worker's snapshot of the same
    /// epoch: every counter and gauge is a sum over the workers' shards (per port, per
    /// NAT gateway, per network-ACL slot, engine-wide). Names, socket states, captures
    /// and mirror sessions stay this snapshot's (the worker that owns the devices).
    pub fn merge(&mut self, other: &CounterSnapshot) {
        if self.workers.is_empty() {
            self.workers.push(self.engine.clone());
        }
        self.workers.push(other.engine.clone());
        add_each(&mut self.ports, &other.ports);
        add_each(&mut self.nat_gateways, &other.nat_gateways);
        add_counters(&mut self.engine, &other.engine);
        for (a, b) in self.nacl_drops.iter_mut().zip(&other.nacl_drops) {
            *a += b;
        }
    }
}

/// Adds `b[i]` to `a[i]` for every `i` both have.
fn add_each<T: Serialize + serde::de::DeserializeOwned>(a: &mut [T], b: &[T]) {
    for (a, b) in a.iter_mut().zip(b) {
        add_counters(a, b);
    }
}

/// Adds every number of `b` to the same number of `a`: counter structs of plain integers
/// and integer arrays, summed field by field through their serialised form, so that a
/// counter added later is summed too without a list to keep up to date. Runs on the
/// control thread per report, never per packet.
fn add_counters<T: Serialize + serde::de::DeserializeOwned>(a: &mut T, b: &T) {
    fn add(a: &mut serde_json::Value, b: &serde_json::Value) {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                if let (Some(x1), Some(y1)) = (x.as_u64(), y.as_u64()) {
                    *x = x1.saturating_add(y1).into();
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                for (x, y) in x.iter_mut().zip(y) {
                    add(x, y);
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x.iter_mut() {
                    if let Some(w) = y.get(k) {
                        add(v, w);
                    }
                }
            }
            _ => {}
        }
    }
    let (Ok(mut x), Ok(y)) = (serde_json::to_value(&*a), serde_json::to_value(b)) else {
        return;
    };
    add(&mut x, &y);
    match serde_json::from_value(x) {
        Ok(sum) => *a = sum,
        Err(e) => tracing::error!(%e, "cannot sum counters"),
    }
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
                    kernel: None,
                }
            })
            .collect(),
        engine: snap.engine,
        workers: snap.workers,
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

/// Fills in [`EniReport::kernel`]: for every ENI attached through a namespace TAP, the
/// kernel's counters of its interface, read by `read` (one call per namespace:
/// [`crate::sys::linkstats::read_namespace`] in the daemon). A namespace that cannot be
/// read, or an interface that is not in it (gone), leaves those ENIs without kernel figures
/// (logged at debug level); the rest of the report stands. Runs on the thread asking for
/// the report, never a forwarding one.
pub fn add_kernel_stats(
    report: &mut StatsReport,
    mut read: impl FnMut(&str) -> Result<HashMap<String, LinkStats>, LinkStatsError>,
) {
    let mut namespaces: HashMap<String, Option<HashMap<String, LinkStats>>> = HashMap::new();
    let StatsReport { config, enis, .. } = report;
    for (e, r) in config.enis.iter().zip(enis.iter_mut()) {
        r.kernel = None;
        let Some(a) = e.attachment.as_ref().filter(|a| a.is_namespace()) else {
            continue;
        };
        if r.id != e.id || r.tap.is_none() || a.netns.is_empty() || a.ifname.is_empty() {
            continue;
        }
        let links = namespaces.entry(a.netns.clone()).or_insert_with(|| {
            read(&a.netns)
                .map_err(|e| tracing::debug!(%e, netns = %a.netns, "no kernel statistics"))
                .ok()
        });
        r.kernel = links
            .as_ref()
            .and_then(|l| l.get(&a.ifname))
            .map(|&counters| KernelLinkReport {
                netns: a.netns.clone(),
                ifname: a.ifname.clone(),
                counters,
            });
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

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn merged_snapshots_sum_every_counter_of_every_port_and_gateway() {
        let mut a = CounterSnapshot {
            ports: vec![PortCounters::default(); 2],
            nacl_drops: vec![1, 0],
            nat_gateways: vec![NatMetrics::default()],
            ..CounterSnapshot::default()
        };
        a.ports[1].rx_packets = 3;
        a.ports[1].drops[2] = 1;
        a.ports[1].conntrack_max = 500;
        a.engine.flow_hits = 10;
        let mut b = a.clone();
        b.ports[0].tx_bytes = 7;
        b.ports[1].drops[2] = 4;
        b.nat_gateways[0].active_connection_count = 2;
        b.engine.handed_off = 5;
        a.merge(&b);
        assert_eq!(a.ports[0].tx_bytes, 7);
        assert_eq!(a.ports[1].rx_packets, 6);
        assert_eq!(a.ports[1].drops[2], 5);
        assert_eq!(a.ports[1].conntrack_max, 1000);
        assert_eq!(a.nacl_drops, vec![2, 0]);
        assert_eq!(a.nat_gateways[0].active_connection_count, 2);
        assert_eq!(a.engine.flow_hits, 20);
        assert_eq!(a.engine.handed_off, 5);
        assert_eq!(a.workers.len(), 2);
        assert_eq!(a.workers[1].handed_off, 5);
        assert_eq!(a.workers[0].flow_hits, 10);
    }
}

#[cfg(test)]
mod kernel_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::vpc::config::Attachment;

    #[test]
    fn kernel_counters_go_to_namespace_taps_one_read_per_namespace() {
        let mut config = crate::fixtures::two_subnets_and_middlebox();
        assert!(config.enis.len() >= 3);
        let ns = |netns: &str, ifname: &str| Attachment {
            netns: netns.into(),
            ifname: ifname.into(),
            dhcp: false,
            kind: Default::default(),
        };
        config.enis[0].attachment = Some(ns("ns-a", "eth0"));
        config.enis[1].attachment = Some(ns("ns-a", "eth1"));
        config.enis[2].attachment = Some(ns("ns-gone", "eth0"));
        for e in &mut config.enis[3..] {
            e.attachment = None;
        }
        let tables = Tables::build(config.clone()).unwrap();
        let snap = CounterSnapshot {
            ports: vec![PortCounters::default(); config.enis.len()],
            port_names: (0..config.enis.len())
                .map(|i| Some(format!("vpc{i}")))
                .collect(),
            ..CounterSnapshot::default()
        };
        let mut report = assemble(&tables, snap);
        let mut reads = Vec::new();
        add_kernel_stats(&mut report, |netns| {
            reads.push(netns.to_string());
            if netns == "ns-gone" {
                return Err(LinkStatsError::Malformed("gone".into()));
            }
            let eth0 = LinkStats {
                tx_dropped: 12,
                rx_dropped: 3,
                ..LinkStats::default()
            };
            Ok(HashMap::from([("eth0".to_string(), eth0)]))
        });
        assert_eq!(reads, ["ns-a", "ns-gone"]);
        let k = report.enis[0].kernel.as_ref().unwrap();
        assert_eq!((k.netns.as_str(), k.ifname.as_str()), ("ns-a", "eth0"));
        assert_eq!((k.counters.tx_dropped, k.counters.rx_dropped), (12, 3));
        // eth1 is not in the namespace any more; ns-gone could not be read.
        assert!(report.enis[1].kernel.is_none());
        assert!(report.enis[2].kernel.is_none());
        assert!(report.enis[3..].iter().all(|e| e.kernel.is_none()));
        // Backward compatible: a report without the field reads back, and none is written.
        let json = serde_json::to_value(&report.enis[1]).unwrap();
        assert!(json.get("kernel").is_none());
        let back: EniReport = serde_json::from_value(json).unwrap();
        assert!(back.kernel.is_none());
        let json = serde_json::to_string(&report.enis[0]).unwrap();
        assert!(json.contains(r#""tx_dropped":12"#), "{json}");
    }
}
