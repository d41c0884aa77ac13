//! One data plane: the engine's pieces (ports, buffers, flow cache, clock), the VPC
//! policy's state (tables, connection tables, NAT translations) and the observers' hooks,
//! tied together by the per-frame work:
//!
//! ```text
//! process.rs   port rx ─► parse ─► flow cache ─┬─ hit: touch its connections ─┐
//!                                              └─ miss: vpc::pipeline::slow_path (the hop
//!                                                 loop) ─► remember the decision ─┤
//! transmit.rs  rewrite (MACs, NAT) ─► MTU fit (fragment / frag-needed) ─► port tx ◄┘
//! flowlogs.rs, taps.rs   flow-log records, captures, mirror copies on the way
//! install.rs   the epoch swap between two batches     report.rs  counter snapshots
//! trace.rs     `vpcctl trace` on a copy-on-write overlay of the state
//! ```
//!
//! It is generic over [`Port`], so unit tests and benches run the exact forwarding code
//! on in-memory ports, and `vpcd` runs it on TAPs (see [`crate::daemon`]).

use std::time::Instant;

use crate::engine::flow::{FlowCache, FlowKey};
use crate::engine::port::{Port, PortIdx};
use crate::observe::flowlog::{FlowLogs, Path as FlowPath, RecordKey};
use crate::observe::stats::{EngineCounters, PortCounters, StatsReport};
use crate::observe::trace::{
    build_frame, describe, explanation_code, header_of, Header, Names, Outcome, TraceLeg,
    TraceProtocol, TraceReport, TraceSpec, TraceStep,
};
use crate::observe::writer::Writer;
use crate::vpc::config::{DataplaneConfig, EniIdx};
use crate::vpc::conntrack::{ConnTable, Touch};
use crate::vpc::frag::{FragKey, FragTable};
use crate::vpc::nat::NatState;
use crate::vpc::pipeline::{self, Action, Context, CtRef, NoTrace};
use std::sync::Arc;

use crate::vpc::tables::{TableError, Tables};
use crate::vpc::verdict::{Delivery, DropReason};
use crate::wire::ethernet::EthernetFrame;
use crate::wire::ethernet::HEADER_LEN;
use crate::wire::icmp;

use crate::wire::vnet::F_NEEDS_CSUM;
use crate::wire::vnet::VNET_HDR_LEN;
use crate::wire::{parse_frame, L3};
use std::net::IpAddr;

use crate::engine::buf::Pool;
use crate::engine::clock::Clock;
use crate::engine::tx::{complete_checksum, mtu_fit, rewrite, segments, Fit};

pub use crate::engine::buf::BUF_SIZE;
pub use flow_action::FlowAction;
pub use steering::Steering;
pub use trace::trace_flow;
pub use upstream::UpstreamLink;

mod driven;
mod flow_action;
#[cfg(test)]
mod flow_scan_tests;
mod flowlogs;
#[cfg(test)]
mod hostile_tests;
mod install;
mod metadata;
mod process;
mod report;
mod steering;
mod taps;
mod trace;
mod transmit;
mod upstream;

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

/// How one port of a new configuration (an ENI's, or an internet gateway's uplink)
/// relates to the running one.
#[derive(Debug)]
pub struct EniPlan<P> {
    /// The port's number in the running configuration, if its ENI or gateway existed
    /// there (same id); its counters (and an ENI's tracked connections) carry over.
    pub previous: Option<PortIdx>,
    /// What happens to its port.
    pub port: PortChange<P>,
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
    tables: Arc<Tables>,
    epoch: u64,
    ports: Vec<Option<P>>,
    counters: Vec<PortCounters>,
    engine: EngineCounters,
    flows: FlowCache<FlowAction>,
    pool: Pool,
    /// Ports sent to during the current batch (consecutive repeats folded), flushed
    /// ([`Port::flush`]) when the batch ends.
    sent_to: Vec<PortIdx>,
    conntrack: Vec<ConnTable>,
    /// NAT gateways' translations, by NAT gateway index.
    nats: Vec<NatState>,
    nacl_drops: Vec<u64>,
    /// The VPC resolver's rate limits and answer buffer.
    dns: crate::vpc::pipeline::dns::DnsState,
    /// The socket to the resolver's upstream, when there is one.
    upstream: Option<UpstreamLink>,
    /// The instance metadata service's endpoints and tokens.
    metadata: crate::vpc::metadata::MetadataService,
    /// Packets the metadata endpoints send (kept to reuse its allocation).
    metadata_out: crate::vpc::metadata::Output,
    clock: Clock,
    /// A spare buffer for packets the engine builds (ICMP errors, fragments).
    scratch: Box<[u8]>,
    /// Where the first fragments of recent datagrams went.
    frags: FragTable,
    /// Packet captures and traffic-mirroring sessions ([`taps`]).
    taps: taps::Taps,
    /// Flow logs and their current records.
    flowlogs: FlowLogs,
    /// Unix time (ms) of engine time 0, for flow-log timestamps.
    wall_base_ms: u64,
    /// The thread that writes flow-log and capture files (started with the first file;
    /// dropped last, after the files are closed, it writes what it holds and stops).
    writer: Writer,
    /// Which worker of how many this data plane is (see [`Dataplane::set_nat_shard`]).
    shard: (usize, usize),
    /// Its place among several forwarding workers, when there are several
    /// ([`Dataplane::set_steering`]).
    steering: Option<Steering>,
    /// Frames other workers handed over, being processed (kept for the allocation).
    handoffs: steering::Handoffs,
    /// Per ENI port, its packets-per-second allowance when it has one.
    police: Vec<Option<crate::engine::police::TokenBucket>>,
    /// Set when a frame of the batch being processed went over its sender's allowance.
    over_allowance: bool,
    /// How long the run loop should stop reading a port that went over its allowance
    /// ([`crate::engine::run::Driven::park`]).
    pause: Option<(PortIdx, std::time::Duration)>,
}

impl<P: Port> Dataplane<P> {
    /// An empty data plane (no VPC) with room for `flow_capacity` cached flows.
    pub fn new(flow_capacity: usize) -> Dataplane<P> {
        #[allow(clippy::expect_used)]
        let tables = Tables::build(DataplaneConfig::default()).expect("empty config is valid");
        Dataplane {
            tables: Arc::new(tables),
            epoch: 0,
            ports: Vec::new(),
            counters: Vec::new(),
            engine: EngineCounters::default(),
            flows: FlowCache::new(flow_capacity),
            conntrack: Vec::new(),
            nats: Vec::new(),
            nacl_drops: Vec::new(),
            dns: Default::default(),
            upstream: None,
            metadata: Default::default(),
            metadata_out: Vec::new(),
            clock: Clock::Real(Instant::now(), 0),
            scratch: vec![0u8; BUF_SIZE].into_boxed_slice(),
            frags: FragTable::new(4096),
            taps: taps::Taps::default(),
            flowlogs: FlowLogs::default(),
            wall_base_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            writer: Writer::default(),
            pool: Pool::new(),
            sent_to: Vec::with_capacity(64),
            shard: (0, 1),
            steering: None,
            handoffs: Default::default(),
            police: Vec::new(),
            over_allowance: false,
            pause: None,
        }
    }

    /// Makes this data plane the shard of worker `worker` of `workers`: its NAT gateways
    /// take only public ports whose replies steer back to it
    /// ([`crate::engine::steer`]), now and after every install.
    pub fn set_nat_shard(&mut self, worker: usize, workers: usize) {
        self.shard = (worker, workers.max(1));
        for n in &mut self.nats {
            n.set_shard(worker, workers);
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

    /// The running tables, shared (a reader assembles reports with them off the
    /// forwarding thread).
    pub fn shared_tables(&self) -> Arc<Tables> {
        Arc::clone(&self.tables)
    }

    /// Port `port` (an ENI's: `EniIdx` converts, or an uplink), if attached.
    pub fn port(&self, port: impl Into<PortIdx>) -> Option<&P> {
        self.ports.get(port.into().idx())?.as_ref()
    }

    /// Mutable access to port `port` (tests inject and collect frames here).
    pub fn port_mut(&mut self, port: impl Into<PortIdx>) -> Option<&mut P> {
        self.ports.get_mut(port.into().idx())?.as_mut()
    }

    /// Every attached port with its number (ENIs' ports first, then the uplinks).
    pub fn ports(&self) -> impl Iterator<Item = (PortIdx, &P)> {
        self.ports
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (PortIdx(i as u32), p)))
    }

    /// Detaches port `port` (for example after a fatal I/O error) and returns it.
    pub fn detach(&mut self, port: impl Into<PortIdx>) -> Option<P> {
        self.ports.get_mut(port.into().idx())?.take()
    }

    /// The counters of port `port`.
    pub fn counters(&self, port: impl Into<PortIdx>) -> Option<&PortCounters> {
        self.counters.get(port.into().idx())
    }

    /// Engine-wide counters.
    pub fn engine_counters(&self) -> EngineCounters {
        let mut e = self.engine.clone();
        e.flows = self.flows.len() as u64;
        e.flow_evicted = self.flows.evictions();
        e.flow_stale_reclaimed = self.flows.stale_reclaimed();
        let o = self.writer.overflows();
        e.flow_log_records_dropped = o.flow_log_records;
        e.capture_packets_dropped = o.capture_packets;
        e.handoff_dropped = self.inbox_dropped();
        e
    }

    /// Sets the clock by hand (tests, benches); the engine stops reading the real clock.
    pub fn set_now(&mut self, ms: u64) {
        self.clock = Clock::Manual(ms);
        // A hand-set clock is its own wall time (deterministic flow-log timestamps).
        self.wall_base_ms = 0;
    }

    /// The engine's clock, in milliseconds.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    fn update_clock(&mut self) {
        if let Clock::Real(base, _) = self.clock {
            self.clock = Clock::Real(base, base.elapsed().as_millis() as u64);
        }
    }

    /// Advances connection-tracking expiry to now (and hands the flow logs' closed
    /// intervals and the captures' records to the writer thread); call it a few times a
    /// second.
    /// Returns how many idle connections expired.
    pub fn expire(&mut self) -> usize {
        self.update_clock();
        let now = self.clock.now();
        if self.taps.capturing {
            self.taps.captures.flush();
        }
        if self.flowlogs.active() {
            self.flowlogs.flush(now, self.wall_base_ms);
        }
        self.metadata_timers();
        self.upstream_timers(now);
        self.conntrack
            .iter_mut()
            .map(|t| t.expire(now))
            .sum::<usize>()
            + self.nats.iter_mut().map(|n| n.expire(now)).sum::<usize>()
    }

    /// Connections tracked now, all ENIs together.
    pub fn tracked_connections(&self) -> usize {
        self.conntrack.iter().map(ConnTable::len).sum()
    }
}
