//! A NAT gateway's translation state: which inside connection uses which of its
//! addresses and source ports, per-destination port allocation, and the counters named
//! after AWS's CloudWatch metrics.
//!
//! Translations ride on a [`ConnTable`] keyed by the inside view of a connection (local
//! = the inside host, remote = the destination), so they share its TCP state machine,
//! idle timer wheel and generation-checked handles (the flow cache refers to a
//! translation like to any tracked connection). The table records [`CtEvent`]s; this
//! module drains them to free ports and count `IdleTimeoutCount` and
//! `ConnectionEstablishedCount`.
//!
//! Mapping: endpoint-dependent (a port is allocated per destination IP, port and
//! protocol, as AWS's "55,000 connections to each unique destination" implies), so the
//! same source port can serve different destinations at once. A new connection tries the
//! primary address first, then the secondary ones.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use foldhash::fast::RandomState;

use crate::vpc::config::{ConntrackConfig, NatGatewayConfig, PortRange};
use crate::vpc::conntrack::tcp_flags::{ACK, RST, SYN};
use crate::vpc::conntrack::{ConnDir, ConnKey, ConnRef, ConnTable, CtEvent, Origin, Touch};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// The outside view of a translation: what the destination's replies carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutsideKey {
    /// IP protocol.
    pub proto: u8,
    /// The NAT gateway's address.
    pub nat: Ipv4Addr,
    /// The allocated port (ICMP: identifier).
    pub nat_port: u16,
    /// The destination.
    pub remote: IpAddr,
    /// The destination's port (0 for ICMP).
    pub remote_port: u16,
}

impl OutsideKey {
    /// The outside view of inside connection `key` translated to `nat`:`nat_port`.
    pub fn of(key: &ConnKey, nat: Ipv4Addr, nat_port: u16) -> OutsideKey {
        OutsideKey {
            proto: key.proto,
            nat,
            nat_port,
            remote: key.remote,
            remote_port: key.remote_port,
        }
    }

    /// The destination (and gateway address) this translation counts against.
    fn dest(&self) -> DestKey {
        DestKey {
            proto: self.proto,
            nat: self.nat,
            remote: self.remote,
            remote_port: self.remote_port,
        }
    }
}

/// A destination of the per-destination limit: an [`OutsideKey`] without the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DestKey {
    proto: u8,
    nat: Ipv4Addr,
    remote: IpAddr,
    remote_port: u16,
}

/// One translation: the NAT side of an inside connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The connection in the gateway's table.
    pub conn: ConnRef,
    /// The inside key (local = inside host).
    pub inside: ConnKey,
    /// The gateway address used.
    pub nat: Ipv4Addr,
    /// The allocated port or identifier.
    pub nat_port: u16,
}

/// Why a new translation cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocError {
    /// Every address has its limit of connections to this destination, or no port of
    /// the range is free for it (`ErrorPortAllocation`).
    NoPort,
}

/// The translations and counters of one NAT gateway.
#[derive(Debug, Clone)]
pub struct NatState {
    /// The translations as connections, keyed by the inside view.
    pub conns: ConnTable,
    addrs: Vec<Ipv4Addr>,
    ports: PortRange,
    max_per_destination: u32,
    outside: HashMap<OutsideKey, Binding, RandomState>,
    inside: HashMap<ConnKey, OutsideKey, RandomState>,
    per_dest: HashMap<DestKey, u32, RandomState>,
    rng: u64,
    events: Vec<CtEvent>,
    /// This state's worker and the number of workers: with several, a new translation
    /// only takes public ports whose replies steer back to this worker
    /// ([`crate::engine::steer::steers_to`]).
    shard: (usize, usize),
    /// Counters (the gauges are filled in by [`NatState::metrics`]).
    pub metrics: NatMetrics,
}

/// How long a TCP translation that is opening or closing (FIN seen) is kept at most
/// (Linux conntrack's TIME_WAIT figure); AWS documents only the 350 s idle timeout.
const TCP_TRANSITORY_MS: u64 = 120_000;

/// Random port draws before a new translation falls back to scanning the range.
const RANDOM_PROBES: usize = 16;

/// The connection-table settings of a NAT gateway: the idle timeout for everything, and
/// at most [`TCP_TRANSITORY_MS`] for TCP that is not established, so closed connections
/// give their ports back sooner.
fn conntrack_config(c: &NatGatewayConfig) -> ConntrackConfig {
    let t = c.idle_timeout_ms;
    ConntrackConfig {
        max_entries: c.max_connections,
        tcp_established_ms: t,
        tcp_transitory_ms: t.min(TCP_TRANSITORY_MS),
        udp_ms: t,
        udp_stream_ms: t,
        icmp_ms: t,
        other_ms: t,
    }
}

impl NatState {
    /// A copy for a trace (see [`ConnTable::fork`]): the translations and port
    /// bookkeeping as they are, the connection table copied by what it holds.
    pub fn fork(&self) -> NatState {
        NatState {
            conns: self.conns.fork(),
            addrs: self.addrs.clone(),
            ports: self.ports,
            max_per_destination: self.max_per_destination,
            outside: self.outside.clone(),
            inside: self.inside.clone(),
            per_dest: self.per_dest.clone(),
            rng: self.rng,
            events: Vec::new(),
            shard: self.shard,
            metrics: self.metrics.clone(),
        }
    }

    /// Empty state for gateway `c`.
    pub fn new(c: &NatGatewayConfig) -> NatState {
        NatState {
            conns: ConnTable::with_events(conntrack_config(c)),
            addrs: c.addrs.clone(),
            ports: c.ports,
            max_per_destination: c.max_per_destination,
            outside: HashMap::default(),
            inside: HashMap::default(),
            per_dest: HashMap::default(),
            // Any odd seed; the sequence only spreads port choices.
            rng: 0x9e37_79b9_7f4a_7c15,
            events: Vec::new(),
            shard: (0, 1),
            metrics: NatMetrics::default(),
        }
    }

    /// Makes this the state of worker `worker` of `workers` (see [`NatState::allocate`]).
    pub fn set_shard(&mut self, worker: usize, workers: usize) {
        self.shard = (worker, workers.max(1));
    }

    /// Whether public port `port` of a new translation of `key` brings its replies back to
    /// this worker. Protocols without identifiers steer by protocol alone, whatever the port.
    fn port_steers_here(&self, key: &ConnKey, port: u16) -> bool {
        let (worker, workers) = self.shard;
        workers <= 1
            || !matches!(key.proto, PROTO_TCP | PROTO_UDP | PROTO_ICMP)
            || crate::engine::steer::steers_to(key.proto, port, key.remote_port, worker, workers)
    }

    /// Whether a running state can carry on under the new settings `c` (same addresses;
    /// limits and timeouts are taken over).
    pub fn compatible(&self, c: &NatGatewayConfig) -> bool {
        self.addrs == c.addrs && self.ports == c.ports
    }

    /// Takes over new limits and timeouts.
    pub fn reconfigure(&mut self, c: &NatGatewayConfig) {
        self.conns.reconfigure(conntrack_config(c));
        self.max_per_destination = c.max_per_destination;
    }

    /// Applies what happened in the connection table: frees the ports of ended
    /// translations and counts idle timeouts and established connections.
    pub fn sync(&mut self) {
        self.conns.take_events(&mut self.events);
        for e in self.events.drain(..) {
            match e {
                CtEvent::Established => self.metrics.connection_established_count += 1,
                CtEvent::Ended { key, idle } => {
                    if idle {
                        self.metrics.idle_timeout_count += 1;
                    }
                    if let Some(o) = self.inside.remove(&key) {
                        self.outside.remove(&o);
                        let d = o.dest();
                        if let Some(n) = self.per_dest.get_mut(&d) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                self.per_dest.remove(&d);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The translation of inside connection `key`, if live; the packet (direction
    /// `Orig`, TCP `flags`) is applied to it.
    pub fn from_inside(
        &mut self,
        key: &ConnKey,
        flags: u8,
        now: u64,
    ) -> Result<Option<Binding>, Touch> {
        self.sync();
        let Some((conn, _)) = self.conns.lookup(key, now) else {
            self.sync();
            return Ok(None);
        };
        let r = self.conns.touch(conn, ConnDir::Orig, flags, now);
        let b = self.binding_of(key, conn);
        // A new SYN on the 4-tuple of an open translation (the inside host restarted
        // or reused its port): the old translation is over, the SYN opens a new one.
        let fresh_syn = flags & (SYN | ACK | RST) == SYN && key.proto == PROTO_TCP;
        if r == Touch::Invalid && fresh_syn {
            self.conns.remove(conn);
            self.sync();
            return Ok(None);
        }
        self.sync();
        match r {
            Touch::Ok => Ok(b),
            Touch::Gone => Ok(None),
            Touch::Invalid => Err(Touch::Invalid),
        }
    }

    /// The live translation of inside connection `key`, without touching it (ICMP
    /// errors about it).
    pub fn inside_binding(&mut self, key: &ConnKey, now: u64) -> Option<Binding> {
        self.sync();
        let found = self.conns.lookup(key, now);
        self.sync();
        let (conn, _) = found?;
        self.binding_of(key, conn)
    }

    fn binding_of(&self, key: &ConnKey, conn: ConnRef) -> Option<Binding> {
        let o = self.inside.get(key)?;
        Some(Binding {
            conn,
            inside: *key,
            nat: o.nat,
            nat_port: o.nat_port,
        })
    }

    /// The translation a packet from outside (`o`: what it is addressed to) belongs
    /// to; the packet (direction `Reply`, TCP `flags`) is applied to it unless
    /// `inspect_only` (ICMP errors only look).
    pub fn from_outside(
        &mut self,
        o: &OutsideKey,
        flags: u8,
        now: u64,
        inspect_only: bool,
    ) -> Result<Option<Binding>, Touch> {
        self.sync();
        let Some(b) = self.outside.get(o).copied() else {
            return Ok(None);
        };
        // Idle expiry is decided by the table (lookup), not by the wheel's progress.
        if self.conns.lookup(&b.inside, now).is_none() {
            self.sync();
            return Ok(None);
        }
        if inspect_only {
            return Ok(Some(b));
        }
        let r = self.conns.touch(b.conn, ConnDir::Reply, flags, now);
        self.sync();
        match r {
            Touch::Ok => Ok(Some(b)),
            Touch::Gone => Ok(None),
            Touch::Invalid => Err(Touch::Invalid),
        }
    }

    /// Picks an address and port for new inside connection `key` without recording
    /// anything (the pipeline commits with [`NatState::bind`] once every stage passed).
    pub fn allocate(&mut self, key: &ConnKey) -> Result<(Ipv4Addr, u16), AllocError> {
        self.sync();
        if self.conns.len() >= self.conns.config().max_entries as usize {
            return Err(AllocError::NoPort);
        }
        let span = u32::from(self.ports.to.saturating_sub(self.ports.from)) + 1;
        // With several workers, this shard can use only the ports that steer back to it,
        // about span / workers of them, and holds its share of the per-destination limit
        // (15/16 of it: hashing spreads ports unevenly, and a shard that runs out of
        // eligible ports must see the cap first, not scan the whole range per packet).
        let (_, workers) = self.shard;
        let cap = if workers <= 1 {
            self.max_per_destination.min(span)
        } else {
            let w = workers as u32;
            (self.max_per_destination.min(span) / w * 15 / 16).max(1)
        };
        for ai in 0..self.addrs.len() {
            let nat = self.addrs[ai];
            // Keep the inside port when it is in range and free (as most NATs do),
            // otherwise probe from a random point of the range.
            let mut o = OutsideKey::of(key, nat, key.local_port);
            if self.per_dest.get(&o.dest()).copied().unwrap_or(0) >= cap {
                continue;
            }
            let in_range = (self.ports.from..=self.ports.to).contains(&key.local_port);
            if in_range
                && !self.outside.contains_key(&o)
                && self.port_steers_here(key, key.local_port)
            {
                return Ok((nat, key.local_port));
            }
            // Random draws first: kept source ports occupy contiguous runs, and a linear
            // probe that lands in one walks it; then a full scan, so a free port is
            // always found when one exists.
            for _ in 0..RANDOM_PROBES {
                o.nat_port = self.ports.from + (self.next_random() % u64::from(span)) as u16;
                if !self.outside.contains_key(&o) && self.port_steers_here(key, o.nat_port) {
                    return Ok((nat, o.nat_port));
                }
            }
            let start = (self.next_random() % u64::from(span)) as u32;
            for i in 0..span {
                let port = u32::from(self.ports.from) + (start + i) % span;
                o.nat_port = port as u16;
                if !self.outside.contains_key(&o) && self.port_steers_here(key, o.nat_port) {
                    return Ok((nat, o.nat_port));
                }
            }
        }
        Err(AllocError::NoPort)
    }

    /// The next number of a xorshift sequence (spreads port choices; not a secret).
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Records a new translation of inside connection `key` (opened by a packet with
    /// TCP `flags`) to `nat`:`nat_port`, as [`NatState::allocate`] chose.
    pub fn bind(
        &mut self,
        key: ConnKey,
        nat: Ipv4Addr,
        nat_port: u16,
        flags: u8,
        now: u64,
    ) -> Result<ConnRef, crate::vpc::conntrack::InsertError> {
        let conn = self.conns.insert(key, Origin::Local, flags, now)?;
        // An insert may have replaced an older connection of the same key.
        self.sync();
        let o = OutsideKey::of(&key, nat, nat_port);
        self.outside.insert(
            o,
            Binding {
                conn,
                inside: key,
                nat,
                nat_port,
            },
        );
        self.inside.insert(key, o);
        *self.per_dest.entry(o.dest()).or_insert(0) += 1;
        self.metrics.connection_attempt_count += 1;
        Ok(conn)
    }

    /// Advances idle expiry to `now`.
    pub fn expire(&mut self, now: u64) -> usize {
        let n = self.conns.expire(now);
        self.sync();
        n
    }

    /// The counters with the gauges filled in.
    pub fn metrics(&self) -> NatMetrics {
        NatMetrics {
            active_connection_count: self.conns.open_tcp() as u64,
            translations: self.conns.len() as u64,
            ..self.metrics.clone()
        }
    }

    /// Counts a packet of a translation: from the inside host (`Orig`) or from the
    /// destination, `bytes` long, passed on.
    #[inline]
    pub fn count(&mut self, dir: ConnDir, bytes: u64) {
        let m = &mut self.metrics;
        match dir {
            ConnDir::Orig => {
                m.packets_in_from_source += 1;
                m.bytes_in_from_source += bytes;
                m.packets_out_to_destination += 1;
                m.bytes_out_to_destination += bytes;
            }
            ConnDir::Reply => {
                m.packets_in_from_destination += 1;
                m.bytes_in_from_destination += bytes;
                m.packets_out_to_source += 1;
                m.bytes_out_to_source += bytes;
            }
        }
    }

    /// Counts a packet the gateway received and dropped.
    pub fn count_drop(&mut self, from_inside: bool, bytes: u64) {
        let m = &mut self.metrics;
        m.packets_drop_count += 1;
        if from_inside {
            m.packets_in_from_source += 1;
            m.bytes_in_from_source += bytes;
        } else {
            m.packets_in_from_destination += 1;
            m.bytes_in_from_destination += bytes;
        }
    }
}

/// A NAT gateway's counters, named after the CloudWatch metrics of `AWS/NATGateway`
/// (totals since the gateway appeared, except the gauges).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatMetrics {
    /// Gauge: TCP translations that are open now (`ActiveConnectionCount`).
    pub active_connection_count: u64,
    /// Gauge: translations of every protocol held now.
    pub translations: u64,
    /// New translations opened from inside (`ConnectionAttemptCount`).
    pub connection_attempt_count: u64,
    /// TCP translations that saw the destination's SYN-ACK
    /// (`ConnectionEstablishedCount`).
    pub connection_established_count: u64,
    /// New connections refused because no source port was free for their
    /// destination (`ErrorPortAllocation`).
    pub error_port_allocation: u64,
    /// Translations that ended idle (`IdleTimeoutCount`).
    pub idle_timeout_count: u64,
    /// Packets the gateway dropped (`PacketsDropCount`).
    pub packets_drop_count: u64,
    /// TCP packets from inside without a translation, answered with a RST.
    pub resets_sent: u64,
    /// Packets from the inside hosts (`PacketsInFromSource`).
    pub packets_in_from_source: u64,
    /// Bytes from the inside hosts (`BytesInFromSource`).
    pub bytes_in_from_source: u64,
    /// Packets sent on towards destinations (`PacketsOutToDestination`).
    pub packets_out_to_destination: u64,
    /// Bytes sent on towards destinations (`BytesOutToDestination`).
    pub bytes_out_to_destination: u64,
    /// Packets from destinations (`PacketsInFromDestination`).
    pub packets_in_from_destination: u64,
    /// Bytes from destinations (`BytesInFromDestination`).
    pub bytes_in_from_destination: u64,
    /// Packets sent back to the inside hosts (`PacketsOutToSource`).
    pub packets_out_to_source: u64,
    /// Bytes sent back to the inside hosts (`BytesOutToSource`).
    pub bytes_out_to_source: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpc::config::SubnetIdx;
    use crate::vpc::conntrack::tcp_flags::FIN;

    fn cfg(from: u16, to: u16, addrs: &[[u8; 4]]) -> NatGatewayConfig {
        NatGatewayConfig {
            id: "nat-1".into(),
            interface_id: "eni-nat-1".into(),
            subnet: SubnetIdx(0),
            addrs: addrs.iter().map(|a| Ipv4Addr::from(*a)).collect(),
            public: true,
            ports: PortRange { from, to },
            max_per_destination: NatGatewayConfig::MAX_PER_DESTINATION,
            idle_timeout_ms: 1_000,
            max_connections: 1000,
        }
    }

    fn key(proto: u8, sport: u16, remote: [u8; 4], dport: u16) -> ConnKey {
        ConnKey {
            proto,
            local: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10)),
            remote: IpAddr::V4(Ipv4Addr::from(remote)),
            local_port: sport,
            remote_port: dport,
        }
    }

    fn open(n: &mut NatState, k: ConnKey) -> Result<(Ipv4Addr, u16), AllocError> {
        let (a, p) = n.allocate(&k)?;
        n.bind(k, a, p, SYN, 0).unwrap();
        Ok((a, p))
    }

    #[test]
    fn a_worker_only_takes_ports_whose_replies_steer_back_to_it() {
        use crate::engine::steer::{flow_hash, worker_of};
        for worker in 0..4 {
            let mut n = NatState::new(&cfg(1024, 65535, &[[10, 0, 0, 220]]));
            n.set_shard(worker, 4);
            for sport in 40_000..40_200 {
                for (proto, dport) in [(PROTO_TCP, 443), (PROTO_UDP, 53), (PROTO_ICMP, 0)] {
                    let k = key(proto, sport, [203, 0, 113, 5], dport);
                    let (_, p) = open(&mut n, k).unwrap();
                    // The reply comes from dport to the public port p.
                    assert_eq!(
                        worker_of(flow_hash(proto, dport, p), 4),
                        worker,
                        "{k:?} → {p}"
                    );
                }
            }
            // A protocol without ports is not constrained (it steers by protocol alone).
            assert!(open(&mut n, key(47, 0, [203, 0, 113, 5], 0)).is_ok());
        }
        // One worker: the inside port is kept, as before.
        let mut n = NatState::new(&cfg(1024, 65535, &[[10, 0, 0, 220]]));
        assert_eq!(
            open(&mut n, key(PROTO_TCP, 40_000, [203, 0, 113, 5], 443))
                .unwrap()
                .1,
            40_000
        );
    }

    #[test]
    fn ports_are_per_destination_and_exhaust() {
        let mut n = NatState::new(&cfg(1024, 1027, &[[10, 0, 0, 220]]));
        let mut used = std::collections::HashSet::new();
        for sport in 40000..40004 {
            let (_, p) = open(&mut n, key(PROTO_TCP, sport, [203, 0, 113, 5], 443)).unwrap();
            assert!((1024..=1027).contains(&p));
            assert!(used.insert(p), "port {p} allocated twice");
        }
        assert_eq!(
            n.allocate(&key(PROTO_TCP, 40004, [203, 0, 113, 5], 443)),
            Err(AllocError::NoPort)
        );
        // Another destination port, another destination address, another protocol:
        // their own port space.
        for k in [
            key(PROTO_TCP, 40004, [203, 0, 113, 5], 80),
            key(PROTO_TCP, 40004, [203, 0, 113, 6], 443),
            key(PROTO_UDP, 40004, [203, 0, 113, 5], 443),
        ] {
            assert!(open(&mut n, k).is_ok(), "{k:?}");
        }
    }

    #[test]
    fn a_secondary_address_doubles_capacity() {
        let mut n = NatState::new(&cfg(1024, 1025, &[[10, 0, 0, 220], [10, 0, 0, 221]]));
        let mut by_addr = HashMap::new();
        for sport in 0..4 {
            let (a, _) =
                open(&mut n, key(PROTO_TCP, 50000 + sport, [203, 0, 113, 5], 443)).unwrap();
            *by_addr.entry(a).or_insert(0) += 1;
        }
        assert_eq!(by_addr.len(), 2);
        assert!(by_addr.values().all(|&c| c == 2));
        assert!(n
            .allocate(&key(PROTO_TCP, 50009, [203, 0, 113, 5], 443))
            .is_err());
    }

    #[test]
    fn the_per_destination_cap_holds_below_the_range() {
        let mut c = cfg(1024, 65535, &[[10, 0, 0, 220]]);
        c.max_per_destination = 3;
        let mut n = NatState::new(&c);
        for sport in 0..3 {
            open(&mut n, key(PROTO_TCP, 2000 + sport, [203, 0, 113, 5], 443)).unwrap();
        }
        assert!(n
            .allocate(&key(PROTO_TCP, 2003, [203, 0, 113, 5], 443))
            .is_err());
    }

    #[test]
    fn an_in_range_free_source_port_is_kept() {
        let mut n = NatState::new(&cfg(1024, 65535, &[[10, 0, 0, 220]]));
        let (_, p) = open(&mut n, key(PROTO_TCP, 40000, [203, 0, 113, 5], 443)).unwrap();
        assert_eq!(p, 40000);
        // A second inside host with the same port to the same destination: another port.
        let mut k = key(PROTO_TCP, 40000, [203, 0, 113, 5], 443);
        k.local = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 11));
        let (_, q) = open(&mut n, k).unwrap();
        assert_ne!(q, 40000);
        // Below the range: remapped into it.
        let (_, r) = open(&mut n, key(PROTO_UDP, 53, [203, 0, 113, 5], 53)).unwrap();
        assert!(r >= 1024);
    }

    #[test]
    fn idle_expiry_frees_the_port_and_counts() {
        let mut n = NatState::new(&cfg(1024, 1024, &[[10, 0, 0, 220]]));
        let k = key(PROTO_UDP, 5000, [203, 0, 113, 5], 53);
        let (a, p) = open(&mut n, k).unwrap();
        let o = OutsideKey::of(&k, a, p);
        assert!(n.from_outside(&o, 0, 500, false).unwrap().is_some());
        // Busy: the only port is taken.
        assert!(n
            .allocate(&key(PROTO_UDP, 5001, [203, 0, 113, 5], 53))
            .is_err());
        n.expire(5_000);
        assert_eq!(n.metrics().idle_timeout_count, 1);
        assert_eq!(n.metrics().translations, 0);
        assert!(n.from_outside(&o, 0, 5_000, false).unwrap().is_none());
        assert!(n
            .allocate(&key(PROTO_UDP, 5001, [203, 0, 113, 5], 53))
            .is_ok());
    }

    #[test]
    fn lookup_after_the_timeout_finds_nothing_before_the_wheel_runs() {
        let mut n = NatState::new(&cfg(1024, 65535, &[[10, 0, 0, 220]]));
        let k = key(PROTO_TCP, 40000, [203, 0, 113, 5], 443);
        let (a, p) = open(&mut n, k).unwrap();
        let o = OutsideKey::of(&k, a, p);
        n.from_outside(&o, SYN | ACK, 10, false).unwrap().unwrap();
        assert!(n.from_inside(&k, ACK, 999).is_ok());
        assert_eq!(n.from_inside(&k, ACK, 2_100), Ok(None));
        // An established connection that went quiet: an idle timeout.
        assert_eq!(n.metrics().idle_timeout_count, 1);
    }

    #[test]
    fn tcp_metrics_follow_the_handshake_and_a_reset_frees() {
        let mut n = NatState::new(&cfg(1024, 65535, &[[10, 0, 0, 220]]));
        let k = key(PROTO_TCP, 40000, [203, 0, 113, 5], 443);
        let (a, p) = open(&mut n, k).unwrap();
        let o = OutsideKey::of(&k, a, p);
        n.from_outside(&o, SYN | ACK, 1, false).unwrap().unwrap();
        n.from_inside(&k, ACK, 2).unwrap().unwrap();
        let m = n.metrics();
        assert_eq!(m.active_connection_count, 1);
        assert_eq!(m.connection_attempt_count, 1);
        assert_eq!(m.connection_established_count, 1);
        n.from_outside(&o, RST, 3, false).unwrap().unwrap();
        n.sync();
        assert_eq!(n.metrics().active_connection_count, 0);
        assert_eq!(n.metrics().idle_timeout_count, 0);
        assert!(n.from_outside(&o, ACK, 4, false).unwrap().is_none());
    }

    #[test]
    fn a_graceful_close_is_no_idle_timeout_and_a_new_syn_replaces_a_stale_binding() {
        let mut n = NatState::new(&cfg(1024, 65535, &[[10, 0, 0, 220]]));
        let k = key(PROTO_TCP, 40000, [203, 0, 113, 5], 443);
        let (a, p) = open(&mut n, k).unwrap();
        let o = OutsideKey::of(&k, a, p);
        n.from_outside(&o, SYN | ACK, 10, false).unwrap().unwrap();
        n.from_inside(&k, ACK, 20).unwrap().unwrap();
        // The server's SYN-ACK again (our ACK was lost upstream): it passes.
        assert!(n.from_outside(&o, SYN | ACK, 25, false).unwrap().is_some());
        n.from_inside(&k, FIN | ACK, 30).unwrap().unwrap();
        n.from_outside(&o, FIN | ACK, 40, false).unwrap().unwrap();
        n.from_inside(&k, ACK, 50).unwrap().unwrap();
        n.expire(200_000);
        assert_eq!(n.metrics().idle_timeout_count, 0);
        assert_eq!(n.metrics().translations, 0);
        // An established binding, then the inside host sends a fresh SYN on it.
        let (a1, p1) = n.allocate(&k).unwrap();
        n.bind(k, a1, p1, SYN, 200_005).unwrap();
        let o1 = OutsideKey { nat_port: p1, ..o };
        n.from_outside(&o1, SYN | ACK, 200_010, false)
            .unwrap()
            .unwrap();
        n.from_inside(&k, ACK, 200_020).unwrap().unwrap();
        assert_eq!(
            n.from_inside(&k, SYN, 200_030),
            Ok(None),
            "a new SYN opens anew"
        );
    }
}
