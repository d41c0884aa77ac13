//! The engine: tables, ports, flow cache and counters of one data plane, and the
//! per-frame work (parse → flow cache → slow path on a miss → rewrite → transmit).
//!
//! It is generic over [`Port`], so unit tests and benches run the exact forwarding code
//! on in-memory ports, and `vpcd` runs it on TAPs (see [`crate::daemon`]).

use std::time::Instant;

use crate::engine::flow::{FlowCache, FlowKey};
use crate::engine::port::Port;
use crate::observe::flowlog::{FlowLogs, Path as FlowPath, RecordKey};
use crate::observe::stats::{
    EngineCounters, EniReport, NaclDenyReport, NatGatewayReport, PortCounters, StatsReport,
    UplinkReport,
};
use crate::observe::trace::{
    build_frame, describe, explanation_code, header_of, Header, Names, Outcome, TraceLeg,
    TraceProtocol, TraceReport, TraceSpec, TraceStep,
};
use crate::vpc::config::{DataplaneConfig, EniIdx};
use crate::vpc::conntrack::{ConnTable, Touch};
use crate::vpc::frag::{FragKey, FragTable};
use crate::vpc::nat::NatState;
use crate::vpc::pipeline::nacl::Direction;
use crate::vpc::pipeline::{self, Action, Context, CtRef, NoTrace};
use crate::vpc::tables::{TableError, Tables};
use crate::vpc::verdict::{Delivery, DropReason, Nat};
use crate::wire::ethernet::EthernetFrame;
use crate::wire::ethernet::HEADER_LEN;
use crate::wire::icmp;
use crate::wire::rewrite::{set_ipv4_addr, set_l4_id, End};
use crate::wire::vnet::VNET_HDR_LEN;
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM};
use crate::wire::{parse_frame, L3};
use std::net::IpAddr;

mod flow_action;
#[cfg(test)]
mod flow_scan_tests;
mod taps;

pub use flow_action::FlowAction;

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
    flows: FlowCache<FlowAction>,
    pool: Pool,
    conntrack: Vec<ConnTable>,
    /// NAT gateways' translations, by NAT gateway index.
    nats: Vec<NatState>,
    nacl_drops: Vec<u64>,
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
}

/// How a packet fits a hop with an MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    Fits,
    /// Too big, DF set: answer "fragmentation needed".
    NeedsFragNeeded,
    /// Too big, DF clear, not a super-frame: fragment.
    Fragment,
    /// Too big, DF clear, a super-frame we do not segment.
    Drop,
}

/// Whether the frame in `buf` fits `mtu`: for a GSO super-frame, its segments must.
fn mtu_fit(buf: &[u8], mtu: u16) -> Fit {
    let Some(ip) = buf.get(VNET_HDR_LEN + HEADER_LEN..VNET_HDR_LEN + HEADER_LEN + 20) else {
        return Fit::Fits;
    };
    let df = ip[6] & 0x40 != 0;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let hdr = VnetHdr::parse(buf).unwrap_or_default();
    let size = if hdr.is_gso() {
        let l4 = VNET_HDR_LEN + HEADER_LEN + ihl;
        let tcp_len = buf.get(l4 + 12).map_or(20, |b| usize::from(b >> 4) * 4);
        ihl + tcp_len + usize::from(hdr.gso_size)
    } else {
        usize::from(u16::from_be_bytes([ip[2], ip[3]]))
    };
    match (size <= usize::from(mtu), df, hdr.is_gso()) {
        (true, _, _) => Fit::Fits,
        (false, true, _) => Fit::NeedsFragNeeded,
        (false, false, false) => Fit::Fragment,
        (false, false, true) => Fit::Drop,
    }
}

/// Applies the address (and port) rewrite `nat` to the frame in `buf` (with its
/// `virtio_net_hdr`), keeping checksums right; a fragment after the first only gets its
/// addresses changed (it has no L4 header).
pub(crate) fn rewrite(buf: &mut [u8], nat: Nat) -> Result<(), crate::wire::WireError> {
    let partial = buf.first().is_some_and(|b| b & F_NEEDS_CSUM != 0);
    let Some(ip) = buf.get_mut(VNET_HDR_LEN + HEADER_LEN..) else {
        return Err(crate::wire::WireError::Truncated("frame"));
    };
    let later_fragment = ip.len() >= 8 && (ip[6] & 0x1f != 0 || ip[7] != 0);
    match nat {
        Nat::None => Ok(()),
        Nat::Src(a, p) | Nat::Dst(a, p) => {
            let end = if matches!(nat, Nat::Src(..)) {
                End::Src
            } else {
                End::Dst
            };
            set_ipv4_addr(ip, end, a, partial)?;
            match p {
                Some(p) if !later_fragment => set_l4_id(ip, end, p, partial).map(|_| ()),
                _ => Ok(()),
            }
        }
    }
}

/// How many packets the frame in `buf` stands for on the wire: the segments of an
/// offloaded TCP super-frame, 1 otherwise.
fn segments(buf: &[u8]) -> u64 {
    let Ok(h) = VnetHdr::parse(buf) else { return 1 };
    if !h.is_gso() || h.gso_size == 0 {
        return 1;
    }
    let payload = buf
        .len()
        .saturating_sub(VNET_HDR_LEN + usize::from(h.hdr_len));
    payload.div_ceil(usize::from(h.gso_size)).max(1) as u64
}

/// Completes a partial L4 checksum (`NEEDS_CSUM`) in software and clears the flag.
fn complete_checksum(buf: &mut [u8]) {
    let Ok(h) = VnetHdr::parse(buf) else { return };
    let start = VNET_HDR_LEN + usize::from(h.csum_start);
    let at = start + usize::from(h.csum_offset);
    if at + 2 > buf.len() || start > buf.len() {
        return;
    }
    let c = crate::wire::checksum::checksum(&buf[start..]);
    buf[at..at + 2].copy_from_slice(&c.to_be_bytes());
    buf[0] &= !F_NEEDS_CSUM;
}

/// The engine's notion of now, in milliseconds.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Milliseconds since this instant (the daemon).
    Real(Instant, u64),
    /// Set by hand (tests and benches).
    Manual(u64),
}

impl Clock {
    fn now(&self) -> u64 {
        match *self {
            Clock::Real(_, ms) | Clock::Manual(ms) => ms,
        }
    }
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
            conntrack: Vec::new(),
            nats: Vec::new(),
            nacl_drops: Vec::new(),
            clock: Clock::Real(Instant::now(), 0),
            scratch: vec![0u8; BUF_SIZE].into_boxed_slice(),
            frags: FragTable::new(4096),
            taps: taps::Taps::default(),
            flowlogs: FlowLogs::default(),
            wall_base_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            pool: Pool {
                bufs: (0..BATCH)
                    .map(|_| vec![0u8; BUF_SIZE].into_boxed_slice())
                    .collect(),
                lens: vec![0; BATCH],
            },
        }
    }

    /// Builds tables for `config` and installs them with ports from `plan` (one entry
    /// per port: every ENI of `config` in order, then every internet gateway's uplink). Returns the new epoch and the ports that are no
    /// longer used. On error nothing changes (the plan, with its new ports, comes back).
    pub fn install(
        &mut self,
        config: DataplaneConfig,
        plan: Vec<EniPlan<P>>,
    ) -> Result<Installed<P>, InstallError<P>> {
        if plan.len() != config.enis.len() + config.internet_gateways.len() {
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
        let mut old_ct: Vec<Option<ConnTable>> = std::mem::take(&mut self.conntrack)
            .into_iter()
            .map(Some)
            .collect();
        let mut released = Vec::new();
        let mut ports = Vec::with_capacity(plan.len());
        let mut counters = Vec::with_capacity(plan.len());
        let mut conntrack = Vec::with_capacity(plan.len());
        for (i, p) in plan.into_iter().enumerate() {
            let prev = p
                .previous
                .map(|i| i as usize)
                .filter(|&i| i < old_ports.len());
            counters.push(
                prev.and_then(|i| old_counters.get(i).cloned())
                    .unwrap_or_default(),
            );
            // Tracked connections survive a new configuration (AWS: rule changes do not
            // interrupt tracked connections). Uplinks track nothing.
            if let Some(e) = tables.config.enis.get(i) {
                let cfg = e.conntrack;
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
                _ => NatState::new(c),
            })
            .collect();
        self.nacl_drops = vec![0; tables.nacl_slots as usize];
        // Flow logs: close the running intervals of the old configuration, then start
        // the new one's.
        let now = self.clock.now();
        self.flowlogs.flush_all(now, self.wall_base_ms);
        let (logs, _warnings) = FlowLogs::new(&tables.config, now);
        self.flowlogs = logs;
        self.taps.rebuild(&tables);
        self.tables = tables;
        self.ports = ports;
        self.counters = counters;
        self.conntrack = conntrack;
        self.epoch += 1;
        // Indices may have moved: entries of the old epoch are already misses; drop them
        // to keep the table small.
        self.flows.clear();
        self.frags.clear();
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
        e.flow_evicted = self.flows.evictions();
        e.flow_stale_reclaimed = self.flows.stale_reclaimed();
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

    /// Advances connection-tracking expiry to now (and writes buffered packet-capture
    /// records to their files); call it a few times a second.
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
            self.update_clock();
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
        if self.taps.capturing {
            self.tap_sent(in_eni, buf);
        }
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
        let mut first_fragment = None;
        let key = match meta.l3 {
            L3::Ip(ip) if ip.later_fragment => {
                // No ports: it follows its datagram's first fragment.
                match self
                    .frags
                    .lookup(&FragKey::new(in_eni, &ip), self.clock.now())
                {
                    Some(d) => self.forward(in_eni, buf, d),
                    None => self.drop_frame(in_eni, DropReason::FragmentUnmatched),
                }
                return;
            }
            L3::Ip(ip) if ip.fragment => {
                // A first fragment: decided afresh each time, and remembered for the rest.
                first_fragment = Some(FragKey::new(in_eni, &ip));
                None
            }
            L3::Ip(ip) => {
                let key = FlowKey::new(in_eni, meta.src_mac, meta.dst_mac, &ip);
                match self.flows.get(&key, self.epoch) {
                    Some(FlowAction::Forward { delivery, ct }) => {
                        let bytes = frame.len().saturating_sub(HEADER_LEN) as u64;
                        match self.touch(&ct, ip.tcp_flags, bytes) {
                            Touch::Ok => {
                                self.engine.flow_hits += 1;
                                if self.flowlogs.active() {
                                    let n = segments(buf);
                                    self.log_forward(in_eni, &ip, &delivery, bytes, n);
                                }
                                self.forward(in_eni, buf, delivery);
                                return;
                            }
                            Touch::Invalid => {
                                self.engine.flow_hits += 1;
                                self.drop_frame(in_eni, DropReason::InvalidTcpState);
                                return;
                            }
                            // A connection the flow relied on is gone: decide anew.
                            Touch::Gone => {}
                        }
                    }
                    Some(FlowAction::Drop {
                        reason,
                        nacl_slot,
                        owner,
                    }) => {
                        self.engine.flow_hits += 1;
                        if self.flowlogs.active() {
                            let len = frame.len().saturating_sub(HEADER_LEN) as u64;
                            let n = segments(buf);
                            self.log_reject(in_eni, owner, reason, &ip, len, n);
                        }
                        self.count_nacl(nacl_slot);
                        self.drop_frame(in_eni, reason);
                        return;
                    }
                    None => {}
                }
                self.engine.flow_misses += 1;
                Some(key)
            }
            _ => None,
        };
        let mut cx = Context {
            tables: &self.tables,
            conntrack: &mut self.conntrack,
            nat: &mut self.nats,
            now: self.clock.now(),
            owner: None,
        };
        let action = pipeline::slow_path(&mut cx, in_eni, frame, &meta, &mut NoTrace);
        let owner = cx.owner;
        if let Some(key) = key {
            match action {
                Action::Forward {
                    delivery,
                    ct,
                    cacheable: true,
                } => self
                    .flows
                    .insert(key, self.epoch, FlowAction::Forward { delivery, ct }),
                Action::Drop {
                    reason,
                    nacl_slot,
                    cacheable: true,
                } => self.flows.insert(
                    key,
                    self.epoch,
                    FlowAction::Drop {
                        reason,
                        nacl_slot,
                        owner,
                    },
                ),
                _ => {}
            }
        }
        if let (Some(k), Action::Forward { delivery, .. }) = (first_fragment, action) {
            self.frags.record(k, delivery, self.clock.now());
        }
        if self.flowlogs.active() {
            if let L3::Ip(ip) = meta.l3 {
                let len = buf.len().saturating_sub(VNET_HDR_LEN + HEADER_LEN);
                let n = segments(buf);
                match action {
                    Action::Forward { delivery, .. } => {
                        self.log_forward(in_eni, &ip, &delivery, len as u64, n)
                    }
                    Action::Drop { reason, .. } => {
                        self.log_reject(in_eni, owner, reason, &ip, len as u64, n)
                    }
                    _ => {}
                }
            }
        }
        match action {
            Action::Forward { delivery, .. } => self.forward(in_eni, buf, delivery),
            Action::Drop {
                reason, nacl_slot, ..
            } => {
                self.count_nacl(nacl_slot);
                self.drop_frame(in_eni, reason)
            }
            Action::Reply { len, drop } => {
                let end = (VNET_HDR_LEN + len).min(buf.len());
                self.reply(in_eni, &mut buf[..end], drop)
            }
            Action::Consumed => {
                if let Some(c) = self.counters.get_mut(in_eni as usize) {
                    c.arp_ignored += 1;
                }
            }
        }
    }

    /// Writes the flow logs' running intervals now (before the data plane stops).
    pub fn close_flow_logs(&mut self) {
        self.update_clock();
        let now = self.clock.now();
        self.flowlogs.flush_all(now, self.wall_base_ms);
    }

    /// Counts a forwarded packet in the flow logs: egress on the sending ENI, ingress on
    /// the receiving one (with the addresses it is delivered with).
    fn log_forward(
        &mut self,
        in_port: u32,
        ip: &crate::wire::IpMeta,
        d: &Delivery,
        bytes: u64,
        packets: u64,
    ) {
        let now = self.clock.now();
        let n_enis = self.tables.enis.len() as u32;
        if in_port < n_enis && self.flowlogs.covers(in_port) {
            let path = match d.nat {
                // Through a NAT gateway (port translated) the next hop is in the VPC.
                _ if d.port < n_enis => self.path_between(in_port, d.port),
                Nat::Src(_, Some(_)) => FlowPath::SameVpc,
                _ => FlowPath::InternetGateway,
            };
            let k = RecordKey::of(in_port, false, true, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, Some(path), now);
        }
        if d.port < n_enis && self.flowlogs.covers(d.port) {
            // The receiver sees the packet as delivered (after any translation).
            let k = RecordKey::of(d.port, true, true, ip).translated(d.nat);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, None, now);
        }
    }

    /// `traffic-path` of a packet from ENI `from` to ENI `to`.
    fn path_between(&self, from: u32, to: u32) -> FlowPath {
        let vpc = |e: u32| self.tables.enis.get(e as usize).map(|e| e.vpc);
        if vpc(from) == vpc(to) {
            FlowPath::SameVpc
        } else {
            FlowPath::Peering
        }
    }

    /// Counts a refused packet (by a security group or network ACL) in the flow logs of
    /// the ENI it is charged to; `bytes` is its IP length.
    fn log_reject(
        &mut self,
        in_port: u32,
        owner: Option<(u32, bool)>,
        reason: DropReason,
        ip: &crate::wire::IpMeta,
        bytes: u64,
        packets: u64,
    ) {
        let Some((eni, ingress)) = owner else { return };
        if !crate::observe::flowlog::rejects(reason) {
            return;
        }
        let now = self.clock.now();
        let n_enis = self.tables.enis.len() as u32;
        if ingress && in_port < n_enis && in_port != eni && self.flowlogs.covers(in_port) {
            // Refused at the receiver: it did leave the sender.
            let path = self.path_between(in_port, eni);
            let k = RecordKey::of(in_port, false, true, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, Some(path), now);
        }
        if self.flowlogs.covers(eni) {
            let k = RecordKey::of(eni, ingress, false, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, None, now);
        }
    }

    /// Updates the tracked connections (and NAT translations, with their counters) a
    /// cached flow relies on; `bytes` is the packet's IP length.
    #[inline]
    fn touch(&mut self, ct: &[Option<CtRef>; 3], flags: u8, bytes: u64) -> Touch {
        let now = self.clock.now();
        for c in ct.iter().flatten() {
            let Some(t) = pipeline::ct_table(&mut self.conntrack, &mut self.nats, c.table) else {
                return Touch::Gone;
            };
            match t.touch(c.conn, c.dir, flags, now) {
                Touch::Ok => {}
                other => return other,
            }
            if let Some(n) = (c.table as usize).checked_sub(self.conntrack.len()) {
                if let Some(st) = self.nats.get_mut(n) {
                    st.count(c.dir, bytes);
                }
            }
        }
        Touch::Ok
    }

    #[inline]
    fn count_nacl(&mut self, slot: Option<u32>) {
        if let Some(n) = slot.and_then(|s| self.nacl_drops.get_mut(s as usize)) {
            *n += 1;
        }
    }

    #[inline]
    fn forward(&mut self, in_eni: EniIdx, buf: &mut [u8], d: Delivery) {
        let fit = if d.mtu == 0 {
            Fit::Fits
        } else {
            mtu_fit(buf, d.mtu)
        };
        match fit {
            Fit::Fits | Fit::Fragment => {}
            Fit::NeedsFragNeeded => {
                self.frag_needed(in_eni, buf, d.mtu);
                return;
            }
            Fit::Drop => {
                self.drop_frame(in_eni, DropReason::FragmentationNeeded);
                return;
            }
        }
        // Outbound traffic mirroring sees the frame as its sender sent it.
        if self.taps.mirroring {
            self.tap_forwarded(in_eni, buf);
        }
        if let Ok(mut eth) = EthernetFrame::new_checked(&mut buf[VNET_HDR_LEN..]) {
            eth.set_src(d.src_mac);
            eth.set_dst(d.dst_mac);
        }
        let nat = rewrite(buf, d.nat);
        if nat.is_err() {
            self.drop_frame(in_eni, DropReason::Malformed);
            return;
        }
        if fit == Fit::Fragment {
            self.fragment_out(in_eni, buf, d);
        } else {
            self.transmit(in_eni, d.port, buf);
        }
    }

    /// Answers a too-big packet with DF set: ICMP "fragmentation needed" (with the hop's
    /// MTU) from the sender's subnet router, back to the sender.
    fn frag_needed(&mut self, in_eni: EniIdx, buf: &[u8], mtu: u16) {
        self.drop_frame(in_eni, DropReason::FragmentationNeeded);
        let Some(eni) = self.tables.enis.get(in_eni as usize) else {
            return;
        };
        let subnet = &self.tables.subnets[eni.subnet as usize];
        let (router_ip, router_mac) = (subnet.router_ip4, subnet.router_mac);
        let Ok(orig) = EthernetFrame::new_checked(&buf[VNET_HDR_LEN..]) else {
            return;
        };
        let sender_mac = orig.src();
        let ip = &buf[VNET_HDR_LEN + HEADER_LEN..];
        let Some(src) = ip
            .get(12..16)
            .map(|b| std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        else {
            return;
        };
        let mut out = std::mem::take(&mut self.scratch);
        out[..VNET_HDR_LEN].fill(0);
        out[VNET_HDR_LEN..VNET_HDR_LEN + 6].copy_from_slice(&sender_mac.0);
        out[VNET_HDR_LEN + 6..VNET_HDR_LEN + 12].copy_from_slice(&router_mac.0);
        out[VNET_HDR_LEN + 12..VNET_HDR_LEN + 14].copy_from_slice(&[0x08, 0x00]);
        let start = VNET_HDR_LEN + HEADER_LEN;
        if let Ok(n) = icmp::write_error(
            &mut out[start..],
            router_ip,
            src,
            icmp::DEST_UNREACHABLE,
            icmp::CODE_FRAG_NEEDED,
            u32::from(mtu),
            ip,
        ) {
            self.transmit(in_eni, in_eni, &out[..start + n]);
        }
        self.scratch = out;
    }

    /// Sends a too-big packet without DF as IPv4 fragments (its checksum completed first
    /// when it was left partial).
    fn fragment_out(&mut self, in_eni: EniIdx, buf: &mut [u8], d: Delivery) {
        if buf[0] & F_NEEDS_CSUM != 0 {
            complete_checksum(buf);
        }
        let mut out = std::mem::take(&mut self.scratch);
        out[..VNET_HDR_LEN].fill(0);
        let head = VNET_HDR_LEN + HEADER_LEN;
        out[VNET_HDR_LEN..head].copy_from_slice(&buf[VNET_HDR_LEN..head]);
        let result = icmp::fragment(&buf[head..], usize::from(d.mtu), &mut out, head, |f| {
            self.transmit(in_eni, d.port, f);
        });
        if result.is_err() {
            self.drop_frame(in_eni, DropReason::Malformed);
        }
        self.scratch = out;
    }

    /// Sends the reply in `buf` back out of `in_eni`; the packet it answers counts as
    /// dropped for `drop` (a NAT gateway's RST) or as an ARP or echo answer.
    fn reply(&mut self, in_eni: EniIdx, buf: &mut [u8], drop: Option<DropReason>) {
        // The reply is complete (checksums computed): no offload state applies.
        buf[..VNET_HDR_LEN].fill(0);
        let arp = buf.get(VNET_HDR_LEN + 12..VNET_HDR_LEN + 14) == Some(&[0x08, 0x06]);
        match drop {
            Some(r) => self.drop_frame(in_eni, r),
            None => {
                if let Some(c) = self.counters.get_mut(in_eni as usize) {
                    if arp {
                        c.arp_replies += 1;
                    } else {
                        c.icmp_echo_replies += 1;
                    }
                }
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
                // Captures of `out`, inbound mirroring (`taps`).
                if self.taps.active {
                    self.tap_delivered(in_eni, out, buf);
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

    /// Traces the packet `spec` describes through the pipeline (and its reply, when
    /// asked), on copies of the connection and NAT state: nothing of the running state,
    /// counters or flow cache changes. See [`crate::observe::trace`].
    pub fn trace(&self, spec: &TraceSpec) -> Result<TraceReport, String> {
        let t = &self.tables;
        let c = &t.config;
        let (port, src_mac, dst_mac, default_src, from) =
            if let Some(g) = c.internet_gateways.iter().position(|g| g.id == spec.from) {
                let igw = &t.igws[g];
                let host = c.internet_gateways[g]
                    .uplink
                    .as_ref()
                    .and_then(|u| u.hosts.first().copied())
                    .map(IpAddr::V4);
                (
                    igw.port,
                    igw.host_mac,
                    igw.mac,
                    host,
                    format!("{} (internet)", spec.from),
                )
            } else if let Some(e) = c.enis.iter().position(|e| e.id == spec.from) {
                let eni = &t.enis[e];
                let subnet = &t.subnets[eni.subnet as usize];
                // Like the instance's kernel: a neighbour's MAC inside the subnet, the
                // router's otherwise.
                let neighbour = match spec.dst {
                    IpAddr::V4(d) if subnet.cidr4.contains(&d) => t
                        .owner(eni.vpc, spec.dst)
                        .filter(|&o| t.enis[o as usize].subnet == eni.subnet)
                        .map(|o| t.enis[o as usize].mac),
                    _ => None,
                };
                (
                    e as u32,
                    eni.mac,
                    neighbour.unwrap_or(subnet.router_mac),
                    eni.addrs.first().copied(),
                    spec.from.clone(),
                )
            } else {
                return Err(format!(
                    "{}: no ENI or internet gateway with this id",
                    spec.from
                ));
            };
        let src = spec
            .src
            .or(default_src)
            .ok_or_else(|| format!("{}: give the source address (--src)", spec.from))?;
        let protocol = match spec.protocol {
            TraceProtocol::Tcp => 6,
            TraceProtocol::Udp => 17,
            TraceProtocol::Icmp => 1,
        };
        let header = Header {
            src,
            dst: spec.dst,
            protocol,
            src_port: spec.src_port.unwrap_or(40000),
            dst_port: match spec.protocol {
                TraceProtocol::Tcp => spec.dst_port.unwrap_or(80),
                TraceProtocol::Udp => spec.dst_port.unwrap_or(53),
                TraceProtocol::Icmp => {
                    u16::from(spec.icmp_type.unwrap_or(8)) << 8
                        | u16::from(spec.icmp_code.unwrap_or(0))
                }
            },
        };
        let flags = spec
            .tcp_flags
            .unwrap_or(crate::vpc::conntrack::tcp_flags::SYN);
        let mut conntrack = self.conntrack.clone();
        let mut nats = self.nats.clone();
        let now = self.clock.now();
        let buf = build_frame(VNET_HDR_LEN, src_mac.0, dst_mac.0, &header, flags)?;
        let (forward, delivered) =
            self.trace_leg(&mut conntrack, &mut nats, now, port, buf, header, from)?;
        let reply = match delivered {
            Some((d, h)) if spec.return_path => {
                let back = Header {
                    src: h.dst,
                    dst: h.src,
                    protocol: h.protocol,
                    src_port: if protocol == 1 {
                        h.src_port
                    } else {
                        h.dst_port
                    },
                    dst_port: if protocol == 1 {
                        // An echo request is answered by an echo reply.
                        if h.dst_port >> 8 == 8 {
                            0
                        } else {
                            h.dst_port
                        }
                    } else {
                        h.src_port
                    },
                };
                use crate::vpc::conntrack::tcp_flags::{ACK, SYN};
                let rflags = if flags & SYN != 0 && flags & ACK == 0 {
                    SYN | ACK
                } else {
                    ACK
                };
                let buf = build_frame(VNET_HDR_LEN, d.dst_mac.0, d.src_mac.0, &back, rflags)?;
                let name = Names::port_name(t, d.port);
                Some(
                    self.trace_leg(&mut conntrack, &mut nats, now, d.port, buf, back, name)?
                        .0,
                )
            }
            _ => None,
        };
        Ok(TraceReport { forward, reply })
    }

    #[allow(clippy::too_many_arguments)]
    fn trace_leg(
        &self,
        conntrack: &mut [ConnTable],
        nats: &mut [NatState],
        now: u64,
        port: u32,
        mut buf: Vec<u8>,
        header: Header,
        from: String,
    ) -> Result<(TraceLeg, Option<(Delivery, Header)>), String> {
        let frame = &mut buf[VNET_HDR_LEN..];
        let meta = parse_frame(frame).map_err(|e| format!("parsing the traced packet: {e}"))?;
        let mut notes = Vec::new();
        let mut cx = Context {
            tables: &self.tables,
            conntrack,
            nat: nats,
            now,
            owner: None,
        };
        let action = pipeline::slow_path(&mut cx, port, frame, &meta, &mut notes);
        let (mut steps, blocking) = describe(&self.tables, header, &notes);
        let drop = |r: DropReason, component: String| Outcome::Dropped {
            reason: r.name().into(),
            code: explanation_code(r).into(),
            component,
        };
        let mut delivered = None;
        let outcome = match action {
            Action::Forward { delivery, .. } => {
                let fit = if delivery.mtu == 0 {
                    Fit::Fits
                } else {
                    mtu_fit(&buf, delivery.mtu)
                };
                if fit == Fit::NeedsFragNeeded || fit == Fit::Drop {
                    drop(
                        DropReason::FragmentationNeeded,
                        format!("{}-byte hop", delivery.mtu),
                    )
                } else if self.port(delivery.port).is_none() {
                    drop(
                        DropReason::EniNotAttached,
                        Names::port_name(&self.tables, delivery.port),
                    )
                } else {
                    rewrite(&mut buf, delivery.nat)
                        .map_err(|e| format!("rewriting the traced packet: {e}"))?;
                    let h = header_of(&buf[VNET_HDR_LEN..])
                        .ok_or_else(|| "the rewritten packet does not parse".to_string())?;
                    delivered = Some((delivery, h));
                    Outcome::Delivered {
                        to: Names::port_name(&self.tables, delivery.port),
                        header: h,
                    }
                }
            }
            Action::Drop { reason, .. } => drop(reason, blocking),
            Action::Reply { drop, .. } => Outcome::Answered {
                by: match drop {
                    Some(_) => "the NAT gateway (RST)",
                    None => "the VPC router",
                }
                .into(),
            },
            Action::Consumed => Outcome::Answered {
                by: "the VPC router (ignored)".into(),
            },
        };
        if let Outcome::Delivered { to, .. } = &outcome {
            steps.push(TraceStep {
                kind: "eni".into(),
                component: to.clone(),
                detail: "out of its port".into(),
                rewrite: None,
            });
        }
        Ok((
            TraceLeg {
                from,
                header,
                steps,
                outcome,
            },
            delivered,
        ))
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

    fn nacl_report(&self) -> Vec<NaclDenyReport> {
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
