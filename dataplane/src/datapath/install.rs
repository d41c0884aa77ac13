//! Installing a new configuration: the epoch swap between two batches. Ports, counters,
//! tracked connections and NAT translations carry over by ENI and gateway id.

use super::*;
use crate::engine::police::TokenBucket;

impl<P: Port> Dataplane<P> {
    /// Builds tables for `config` and installs them with ports from `plan` (one entry
    /// per port: every ENI of `config` in order, then every internet gateway's uplink). Returns the new epoch and the ports that are no
    /// longer used. On error nothing changes (the plan, with its new ports, comes back).
    pub fn install(
        &mut self,
        config: DataplaneConfig,
        plan: Vec<EniPlan<P>>,
    ) -> Result<Installed<P>, InstallError<P>> {
        match Tables::build(config) {
            Ok(t) => self.install_tables(Arc::new(t), plan),
            Err(error) => Err(InstallError { error, plan }),
        }
    }

    /// Installs tables built already (the daemon builds them once, on its control
    /// thread, and keeps a reference for reports). See [`Dataplane::install`].
    pub fn install_tables(
        &mut self,
        tables: Arc<Tables>,
        plan: Vec<EniPlan<P>>,
    ) -> Result<Installed<P>, InstallError<P>> {
        if plan.len() != tables.port_count() {
            let error = TableError::BadIndex {
                resource: "plan".into(),
                field: "enis",
                index: plan.len() as u32,
            };
            return Err(InstallError { error, plan });
        }
        Ok(self.swap(tables, plan))
    }

    fn swap(&mut self, tables: Arc<Tables>, plan: Vec<EniPlan<P>>) -> Installed<P> {
        let mut old_ports: Vec<Option<P>> = std::mem::take(&mut self.ports);
        let old_counters = std::mem::take(&mut self.counters);
        let mut old_ct: Vec<Option<ConnTable>> = std::mem::take(&mut self.conntrack)
            .into_iter()
            .map(Some)
            .collect();
        let mut released = Vec::new();
        let mut ports = Vec::with_capacity(plan.len());
        let mut counters = Vec::with_capacity(plan.len());
        let mut conntrack = Vec::with_capacity(plan.len());
        for (i, p) in plan.into_iter().enumerate() {
            let prev = p.previous.map(|i| i.idx()).filter(|&i| i < old_ports.len());
            counters.push(
                prev.and_then(|i| old_counters.get(i).cloned())
                    .unwrap_or_default(),
            );
            // Tracked connections survive a new configuration (AWS: rule changes do not
            // interrupt tracked connections). Uplinks track nothing.
            if let Some(e) = tables.config.enis.get(i) {
                let mut cfg = e.conntrack;
                // With several workers, each holds a share of the ENI's table (its
                // connections are spread over them by the flow hash).
                let workers = self.shard.1.max(1) as u32;
                cfg.max_entries = cfg.max_entries.div_ceil(workers);
                let mut ct = prev
                    .and_then(|i| old_ct.get_mut(i).and_then(Option::take))
                    .unwrap_or_else(|| ConnTable::new(cfg));
                ct.reconfigure(cfg);
                conntrack.push(ct);
            }
            let old = prev.and_then(|i| old_ports[i].take());
            match p.port {
                PortChange::Keep => ports.push(old),
                PortChange::Replace(new) => {
                    released.extend(old);
                    ports.push(Some(new));
                }
                PortChange::Remove => {
                    released.extend(old);
                    ports.push(None);
                }
            }
        }
        released.extend(old_ports.into_iter().flatten());
        // NAT gateways keep their translations and counters across applies when their
        // addresses and port range stay the same.
        let mut old_nats: std::collections::HashMap<String, NatState> = self
            .tables
            .config
            .nat_gateways
            .iter()
            .map(|n| n.id.clone())
            .zip(std::mem::take(&mut self.nats))
            .collect();
        self.nats = tables
            .config
            .nat_gateways
            .iter()
            .map(|c| match old_nats.remove(&c.id) {
                Some(mut st) if st.compatible(c) => {
                    st.reconfigure(c);
                    st
                }
                _ => {
                    let mut st = NatState::new(c);
                    st.set_shard(self.shard.0, self.shard.1);
                    st
                }
            })
            .collect();
        self.nacl_drops = vec![0; tables.nacl_slots as usize];
        // Allowances start full at every apply; with several workers each polices its
        // share of the ENI's flows.
        let now = self.clock.now();
        let workers = self.shard.1.max(1) as u32;
        self.police = tables
            .config
            .enis
            .iter()
            .map(|e| {
                (e.pps_allowance > 0)
                    .then(|| TokenBucket::new(e.pps_allowance.div_ceil(workers), now))
            })
            .collect();
        // Flow logs: close the running intervals of the old configuration, then start
        // the new one's.
        let now = self.clock.now();
        self.flowlogs.flush_all(now, self.wall_base_ms);
        let (logs, _warnings) = FlowLogs::new(&tables.config, now, &self.writer);
        self.flowlogs = logs;
        self.taps.rebuild(&tables, &self.writer);
        self.remap_upstream(&tables);
        self.tables = tables;
        self.ports = ports;
        self.counters = counters;
        self.conntrack = conntrack;
        self.epoch += 1;
        // Indices may have moved: entries of the old epoch are misses from now on, and the
        // flow cache reclaims them as they are probed or as the clock hand passes (no
        // pause to clear a full table here).
        self.frags.clear();
        Installed {
            epoch: self.epoch,
            released,
        }
    }
}
