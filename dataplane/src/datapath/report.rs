//! The report `vpcctl show` prints and the metrics endpoint renders.

use super::*;

impl<P: Port> Dataplane<P> {
    /// The report `vpcctl show` prints; `tap_name` names an ENI's port.
    pub fn report(&self, tap_name: impl Fn(&P) -> Option<String>) -> StatsReport {
        StatsReport {
            epoch: self.epoch,
            config: self.tables.config.clone(),
            enis: self
                .tables
                .config
                .enis
                .iter()
                .enumerate()
                .map(|(i, e)| EniReport {
                    id: e.id.clone(),
                    tap: self
                        .ports
                        .get(i)
                        .and_then(|p| p.as_ref())
                        .and_then(&tap_name),
                    counters: {
                        let mut c = self.counters.get(i).cloned().unwrap_or_default();
                        if let Some(t) = self.conntrack.get(i) {
                            c.conntrack_entries = t.len() as u64;
                            c.conntrack_max = u64::from(t.config().max_entries);
                        }
                        c
                    },
                })
                .collect(),
            engine: self.engine_counters(),
            nacl_denies: self.nacl_report(),
            nat_gateways: self
                .tables
                .config
                .nat_gateways
                .iter()
                .zip(&self.nats)
                .map(|(c, st)| NatGatewayReport {
                    id: c.id.clone(),
                    metrics: st.metrics(),
                })
                .collect(),
            uplinks: self
                .tables
                .config
                .internet_gateways
                .iter()
                .zip(&self.tables.igws)
                .map(|(g, t)| UplinkReport {
                    igw: g.id.clone(),
                    tap: self
                        .ports
                        .get(t.port as usize)
                        .and_then(|p| p.as_ref())
                        .and_then(&tap_name),
                    counters: self
                        .counters
                        .get(t.port as usize)
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect(),
            captures: self.taps.captures.report(),
            mirror_sessions: self.taps.mirrors.report(),
        }
    }

    pub(super) fn nacl_report(&self) -> Vec<NaclDenyReport> {
        let mut out = Vec::new();
        for (i, a) in self.tables.nacls.iter().enumerate() {
            for slot in a.first_slot..a.first_slot + a.slots() {
                let n = self.nacl_drops.get(slot as usize).copied().unwrap_or(0);
                let Some((dir, rule)) = a.describe_slot(slot) else {
                    continue;
                };
                if n == 0 {
                    continue;
                }
                out.push(NaclDenyReport {
                    nacl: self.tables.config.network_acls[i].id.clone(),
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
}
