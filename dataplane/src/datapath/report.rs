//! Counters for `vpcctl show` and the metrics endpoint: the forwarding thread copies its
//! counters ([`CounterSnapshot`]); the report is assembled by the reader
//! ([`crate::observe::report::assemble`]).

use super::*;
use crate::observe::report::{assemble, CounterSnapshot};

impl<P: Port> Dataplane<P> {
    /// The counters now, without the configuration; `port_name` names a port's device.
    pub fn snapshot(&self, port_name: impl Fn(&P) -> Option<String>) -> CounterSnapshot {
        let mut ports = self.counters.clone();
        for (c, t) in ports.iter_mut().zip(&self.conntrack) {
            c.conntrack_entries = t.len() as u64;
            c.conntrack_max = u64::from(t.config().max_entries);
        }
        CounterSnapshot {
            epoch: self.epoch,
            ports,
            port_status: Vec::new(),
            port_names: self
                .ports
                .iter()
                .map(|p| p.as_ref().and_then(&port_name))
                .collect(),
            engine: self.engine_counters(),
            nacl_drops: self.nacl_drops.clone(),
            nat_gateways: self.nats.iter().map(NatState::metrics).collect(),
            captures: self.taps.captures.report(),
            mirror_sessions: self.taps.mirrors.report(),
            workers: Vec::new(),
        }
    }

    /// The report `vpcctl show` prints; `port_name` names a port's device. (The daemon
    /// assembles it on the control thread from [`Dataplane::snapshot`] instead.)
    pub fn report(&self, port_name: impl Fn(&P) -> Option<String>) -> StatsReport {
        assemble(&self.tables, self.snapshot(port_name))
    }
}
