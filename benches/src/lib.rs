//! Shared setup for the criterion benches and the end-to-end bench scripts in
//! `benches/scripts/`.

use dataplane::config::DataplaneConfig;
use dataplane::engine::{Dataplane, EniPlan, PortChange};
use dataplane::port::MemPort;

/// A data plane over `config` whose attached ENIs have counting-only in-memory ports.
pub fn dataplane_with_sinks(config: DataplaneConfig, flow_capacity: usize) -> Dataplane<MemPort> {
    let mut dp = Dataplane::new(flow_capacity);
    let plan = config
        .enis
        .iter()
        .map(|e| EniPlan {
            previous: None,
            port: match e.attachment {
                Some(_) => PortChange::Replace(MemPort::sink()),
                None => PortChange::Remove,
            },
        })
        .collect();
    if let Err(e) = dp.install(config, plan) {
        panic!("fixture config rejected: {}", e.error);
    }
    dp
}
