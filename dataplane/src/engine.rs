//! The engine: tables, ports, flow cache and counters of one data plane, and the
//! per-frame work (parse → flow cache → slow path on a miss → rewrite → transmit).
//!
//! It is generic over [`Port`], so unit tests and benches run the exact forwarding code
//! on in-memory ports, and `vpcd` runs it on TAPs (see [`crate::daemon`]).

use crate::config::{DataplaneConfig, EniIdx};
use crate::flow::{FlowAction, FlowCache, FlowKey};
use crate::pipeline::{self, Action, NoTrace};
use crate::port::Port;
use crate::stats::{EngineCounters, EniReport, PortCounters, StatsReport};
use crate::tables::{TableError, Tables};
use crate::verdict::{Delivery, DropReason};
use crate::wire::ethernet::EthernetFrame;
use crate::wire::vnet::VNET_HDR_LEN;
use crate::wire::{parse_frame, L3};

/// Size of one packet buffer: a `virtio_net_hdr`, a 64 KB IP super-frame and its
/// Ethernet (and one VLAN) header.
pub const BUF_SIZE: usize = VNET_HDR_LEN + 14 + 4 + 65_535;
/// Frames read from one port before they are processed as a batch.
pub const BATCH: usize = 32;
/// Default flow-cache capacity.
pub const DEFAULT_FLOWS: usize = 65_536;

/// What happens to an ENI's port when a new configuration is installed.
#[derive(Debug)]
pub enum PortChange<P> {
    /// Keep the port the ENI had under its previous index (none if it had none).
    Keep,
    /// Use this new port (an old one is released).
    Replace(P),
    /// The ENI has no port any more (an old one is released).
    Remove,
}

/// How one ENI of a new configuration relates to the running one.
#[derive(Debug)]
pub struct EniPlan<P> {
    /// The ENI's index in the running configuration, if it existed there (same id);
    /// its counters carry over.
    pub previous: Option<EniIdx>,
    /// What happens to its port.
    pub port: PortChange<P>,
}

/// Preallocated packet buffers for one batch.
#[derive(Default)]
struct Pool {
    bufs: Vec<Box<[u8]>>,
    lens: Vec<usize>,
}

/// A refused install: why, and the plan handed back (its new ports are the caller's).
#[derive(Debug)]
pub struct InstallError<P> {
    /// Why the configuration could not be installed.
    pub error: TableError,
    /// The plan, returned unused.
    pub plan: Vec<EniPlan<P>>,
}

/// A completed install.
#[derive(Debug)]
pub struct Installed<P> {
    /// The new configuration epoch.
    pub epoch: u64,
    /// Ports no ENI uses any more (drop them to close them).
    pub released: Vec<P>,
}

/// One data plane: the running tables, the ports, the flow cache and the counters.
pub struct Dataplane<P: Port> {
    tables: Tables,
    epoch: u64,
    ports: Vec<Option<P>>,
    counters: Vec<PortCounters>,
    engine: EngineCounters,
    flows: FlowCache,
    pool: Pool,
}

impl<P: Port> Dataplane<P> {
    /// An empty data plane (no VPC) with room for `flow_capacity` cached flows.
    pub fn new(flow_capacity: usize) -> Dataplane<P> {
        #[allow(clippy::expect_used)]
        let tables = Tables::build(DataplaneConfig::default()).expect("empty config is valid");
        Dataplane {
            tables,
            epoch: 0,
            ports: Vec::new(),
            counters: Vec::new(),
            engine: EngineCounters::default(),
            flows: FlowCache::new(flow_capacity),
            pool: Pool {
                bufs: (0..BATCH)
                    .map(|_| vec![0u8; BUF_SIZE].into_boxed_slice())
                    .collect(),
                lens: vec![0; BATCH],
            },
        }
    }

    /// Builds tables for `config` and installs them with ports from `plan` (one entry
    /// per ENI of `config`, in order). Returns the new epoch and the ports that are no
    /// longer used. On error nothing changes (the plan, with its new ports, comes back).
    pub fn install(
        &mut self,
        config: DataplaneConfig,
        plan: Vec<EniPlan<P>>,
    ) -> Result<Installed<P>, InstallError<P>> {
        if plan.len() != config.enis.len() {
            let error = TableError::BadIndex {
                resource: "plan".into(),
                field: "enis",
                index: plan.len() as u32,
            };
            return Err(InstallError { error, plan });
        }
        let tables = match Tables::build(config) {
            Ok(t) => t,
            Err(error) => return Err(InstallError { error, plan }),
        };
        Ok(self.swap(tables, plan))
    }

    fn swap(&mut self, tables: Tables, plan: Vec<EniPlan<P>>) -> Installed<P> {
        let mut old_ports: Vec<Option<P>> = std::mem::take(&mut self.ports);
        let old_counters = std::mem::take(&mut self.counters);
        let mut released = Vec::new();
        let mut ports = Vec::with_capacity(plan.len());
        let mut counters = Vec::with_capacity(plan.len());
        for p in plan {
            let prev = p
                .previous
                .map(|i| i as usize)
                .filter(|&i| i < old_ports.len());
            counters.push(
                prev.and_then(|i| old_counters.get(i).cloned())
                    .unwrap_or_default(),
            );
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
        self.tables = tables;
        self.ports = ports;
        self.counters = counters;
        self.epoch += 1;
        // Indices may have moved: entries of the old epoch are already misses; drop them
        // to keep the table small.
        self.flows.clear();
        Installed {
            epoch: self.epoch,
            released,
        }
    }

    /// The running configuration epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The running tables.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The port of ENI `eni`, if attached.
    pub fn port(&self, eni: EniIdx) -> Option<&P> {
        self.ports.get(eni as usize)?.as_ref()
    }

    /// Mutable access to the port of ENI `eni` (tests inject and collect frames here).
    pub fn port_mut(&mut self, eni: EniIdx) -> Option<&mut P> {
        self.ports.get_mut(eni as usize)?.as_mut()
    }

    /// Every attached port with its ENI index.
    pub fn ports(&self) -> impl Iterator<Item = (EniIdx, &P)> {
        self.ports
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (i as EniIdx, p)))
    }

    /// Detaches the port of `eni` (for example after a fatal I/O error) and returns it.
    pub fn detach(&mut self, eni: EniIdx) -> Option<P> {
        self.ports.get_mut(eni as usize)?.take()
    }

    /// The counters of ENI `eni`.
    pub fn counters(&self, eni: EniIdx) -> Option<&PortCounters> {
        self.counters.get(eni as usize)
    }

    /// Engine-wide counters.
    pub fn engine_counters(&self) -> EngineCounters {
        let mut e = self.engine.clone();
        e.flows = self.flows.len() as u64;
        e.flow_evictions = self.flows.flushes();
        e
    }

    /// Reads up to [`BATCH`] frames from ENI `eni`'s port and processes them.
    /// Returns how many were read; an I/O error of the port is returned as is.
    pub fn poll(&mut self, eni: EniIdx) -> std::io::Result<usize> {
        let mut pool = std::mem::take(&mut self.pool);
        let mut n = 0;
        let mut result = Ok(());
        if let Some(Some(port)) = self.ports.get_mut(eni as usize) {
            while n < pool.bufs.len() {
                match port.recv(&mut pool.bufs[n]) {
                    Ok(Some(len)) => {
                        pool.lens[n] = len;
                        n += 1;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        if n > 0 {
            self.engine.batches += 1;
        }
        for i in 0..n {
            let len = pool.lens[i];
            self.process(eni, &mut pool.bufs[i][..len]);
        }
        self.pool = pool;
        result.map(|()| n)
    }

    /// Processes one frame (with its `virtio_net_hdr`) that ENI `in_eni` sent.
    #[inline]
    pub fn process(&mut self, in_eni: EniIdx, buf: &mut [u8]) {
        let Some(c) = self.counters.get_mut(in_eni as usize) else {
            return;
        };
        c.rx_packets += 1;
        c.rx_bytes += buf.len().saturating_sub(VNET_HDR_LEN) as u64;
        let Some(frame) = buf.get_mut(VNET_HDR_LEN..) else {
            self.drop_frame(in_eni, DropReason::Malformed);
            return;
        };
        let meta = match parse_frame(frame) {
            Ok(m) => m,
            Err(_) => {
                self.drop_frame(in_eni, DropReason::Malformed);
                return;
            }
        };
        let key = match meta.l3 {
            L3::Ip(ip) => {
                let key = FlowKey::new(in_eni, meta.src_mac, meta.dst_mac, &ip);
                if let Some(a) = self.flows.get(&key, self.epoch) {
                    self.engine.flow_hits += 1;
                    match a {
                        FlowAction::Forward(d) => self.forward(in_eni, buf, d),
                        FlowAction::Drop(r) => self.drop_frame(in_eni, r),
                    }
                    return;
                }
                self.engine.flow_misses += 1;
                Some(key)
            }
            _ => None,
        };
        let action = pipeline::slow_path(&self.tables, in_eni, frame, &meta, &mut NoTrace);
        if let Some(key) = key {
            match action {
                Action::Forward(d) => self.flows.insert(key, self.epoch, FlowAction::Forward(d)),
                Action::Drop(r) => self.flows.insert(key, self.epoch, FlowAction::Drop(r)),
                Action::Reply | Action::Consumed => {}
            }
        }
        match action {
            Action::Forward(d) => self.forward(in_eni, buf, d),
            Action::Drop(r) => self.drop_frame(in_eni, r),
            Action::Reply => self.reply(in_eni, buf),
            Action::Consumed => {
                if let Some(c) = self.counters.get_mut(in_eni as usize) {
                    c.arp_ignored += 1;
                }
            }
        }
    }

    #[inline]
    fn forward(&mut self, in_eni: EniIdx, buf: &mut [u8], d: Delivery) {
        if let Ok(mut eth) = EthernetFrame::new_checked(&mut buf[VNET_HDR_LEN..]) {
            eth.set_src(d.src_mac);
            eth.set_dst(d.dst_mac);
        }
        self.transmit(in_eni, d.eni, buf);
    }

    fn reply(&mut self, in_eni: EniIdx, buf: &mut [u8]) {
        // The reply is complete (checksums computed): no offload state applies.
        buf[..VNET_HDR_LEN].fill(0);
        if let Some(c) = self.counters.get_mut(in_eni as usize) {
            match buf.get(VNET_HDR_LEN + 12..VNET_HDR_LEN + 14) {
                Some([0x08, 0x06]) => c.arp_replies += 1,
                _ => c.icmp_echo_replies += 1,
            }
        }
        self.transmit(in_eni, in_eni, buf);
    }

    #[inline]
    fn transmit(&mut self, in_eni: EniIdx, out: EniIdx, buf: &[u8]) {
        let Some(Some(port)) = self.ports.get_mut(out as usize) else {
            self.drop_frame(in_eni, DropReason::EniNotAttached);
            return;
        };
        match port.send(buf) {
            Ok(()) => {
                if let Some(c) = self.counters.get_mut(out as usize) {
                    c.tx_packets += 1;
                    c.tx_bytes += (buf.len() - VNET_HDR_LEN) as u64;
                }
            }
            Err(_) => self.drop_frame(out, DropReason::TxFailed),
        }
    }

    #[inline]
    fn drop_frame(&mut self, eni: EniIdx, r: DropReason) {
        if let Some(c) = self.counters.get_mut(eni as usize) {
            c.drops[r.index()] += 1;
        }
        self.engine.drops[r.index()] += 1;
    }

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
                    counters: self.counters.get(i).cloned().unwrap_or_default(),
                })
                .collect(),
            engine: self.engine_counters(),
        }
    }
}
