//! Connection tracking of one ENI, as its security groups need it: a bounded table of
//! connections with a TCP state machine, UDP single-exchange and stream timeouts, ICMP
//! echo by identifier and other protocols by addresses and protocol number.
//!
//! Expiry runs off the fast path: a packet only stamps `last_seen` (and runs the TCP
//! state machine when it carries SYN, FIN or RST); a timer wheel, advanced by the
//! forwarding loop, reclaims idle connections. A lookup also treats an idle-expired
//! connection as gone, so the answer never depends on when the wheel last ran.
//! Connections are referred to by [`ConnRef`] (slot plus generation), so a flow-cache
//! entry that outlives its connection notices.

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;

use crate::vpc::config::ConntrackConfig;
use crate::wire::ipv4::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// TCP flag bits.
pub use crate::wire::tcp::flags as tcp_flags;
use tcp_flags::{ACK, FIN, RST, SYN};

/// Wheel granularity.
const TICK_MS: u64 = 10;
/// Wheel size (slots); one revolution is `TICK_MS * WHEEL_SLOTS` ms.
const WHEEL_SLOTS: usize = 1024;
/// Connections a new table has room for before it first grows. Tables grow (amortised,
/// doubling) up to `max_entries`, which stays the bound; sizing every ENI's table for its
/// bound at start would cost 10,000 ENIs gigabytes before a single connection.
const INITIAL_CAPACITY: usize = 256;

/// A connection as seen from the ENI: its own address and port, and the other end's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// IP protocol.
    pub proto: u8,
    /// The ENI's address.
    pub local: IpAddr,
    /// The other end's address.
    pub remote: IpAddr,
    /// The ENI's port (ICMP echo: the identifier; other protocols: 0).
    pub local_port: u16,
    /// The other end's port (0 for ICMP and other protocols).
    pub remote_port: u16,
}

/// Which side opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The ENI opened it (egress first).
    Local,
    /// The other end opened it (ingress first).
    Remote,
}

/// A packet's direction relative to its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnDir {
    /// From the side that opened the connection.
    Orig,
    /// From the other side.
    Reply,
}

/// A handle to a tracked connection, valid while its generation matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnRef {
    slot: u32,
    gen: u32,
}

/// The outcome of a packet on an existing connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Allowed; state updated.
    Ok,
    /// The connection no longer exists (expired, reset, or the handle is stale).
    Gone,
    /// The packet does not fit the TCP state of the connection.
    Invalid,
}

/// Why a connection could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertError {
    /// The table holds `max_entries` live connections.
    Full,
    /// A TCP packet that cannot open a connection (anything but a SYN).
    InvalidTcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SynSent,
    SynRecv,
    Established,
    /// At least one FIN seen.
    Closing {
        fin_orig: bool,
        fin_reply: bool,
    },
    /// UDP with the number of replies seen (saturating).
    Udp {
        replies: u8,
    },
    Icmp,
    Other,
}

#[derive(Debug, Clone)]
struct Conn {
    key: ConnKey,
    origin: Origin,
    state: State,
    last_seen: u64,
    gen: u32,
    live: bool,
}

/// Something that happened to a connection, for owners that keep state beside it (a
/// NAT gateway's port bindings and metrics). Only tables made with
/// [`ConnTable::with_events`] record them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtEvent {
    /// The connection ended; `idle` when its idle timeout ran out.
    Ended {
        /// Its key.
        key: ConnKey,
        /// Ended by the idle timeout (not by a RST, a replacement or a removal).
        idle: bool,
    },
    /// A TCP connection completed its handshake.
    Established,
}

/// The connection table of one ENI.
#[derive(Debug, Clone)]
pub struct ConnTable {
    cfg: ConntrackConfig,
    map: HashMap<ConnKey, u32, RandomState>,
    conns: Vec<Conn>,
    free: Vec<u32>,
    /// Buckets of (slot, generation) due at a tick; stale pairs are skipped, so a slot
    /// is free for reuse the moment its connection ends.
    wheel: Vec<Vec<(u32, u32)>>,
    /// Next tick the wheel has to process.
    wheel_tick: u64,
    /// Whether `wheel_tick` has been set (by the first insert or expiry).
    wheel_started: bool,
    /// Entries in the wheel, stale ones included (a connection that ends early leaves
    /// its entry until its tick); compacted when they outnumber live connections.
    wheel_len: usize,
    /// Recorded events, when the owner asked for them.
    events: Option<Vec<CtEvent>>,
}

/// The direction of a packet relative to the connection it belongs to.
pub fn conn_dir(origin: Origin, egress: bool) -> ConnDir {
    match (origin, egress) {
        (Origin::Local, true) | (Origin::Remote, false) => ConnDir::Orig,
        _ => ConnDir::Reply,
    }
}

impl ConnTable {
    /// An empty table.
    pub fn new(cfg: ConntrackConfig) -> ConnTable {
        ConnTable {
            cfg,
            map: HashMap::with_capacity_and_hasher(
                (cfg.max_entries as usize).min(INITIAL_CAPACITY),
                RandomState::default(),
            ),
            conns: Vec::new(),
            free: Vec::new(),
            // Allocated with the first connection (an idle ENI's table stays small).
            wheel: Vec::new(),
            wheel_tick: 0,
            wheel_started: false,
            wheel_len: 0,
            events: None,
        }
    }

    /// A copy for a trace: the same connections and the same answers, but sized to the
    /// connections it holds rather than to the table's maximum, and with an empty timer
    /// wheel (a trace never expires anything). Far cheaper than a clone of a large table.
    pub fn fork(&self) -> ConnTable {
        let mut map = HashMap::with_capacity_and_hasher(self.map.len() + 8, RandomState::default());
        map.extend(self.map.iter().map(|(k, v)| (*k, *v)));
        ConnTable {
            cfg: self.cfg,
            map,
            conns: self.conns.clone(),
            free: self.free.clone(),
            wheel: Vec::new(),
            wheel_tick: self.wheel_tick,
            wheel_started: self.wheel_started,
            wheel_len: 0,
            events: self.events.as_ref().map(|_| Vec::new()),
        }
    }

    /// An empty table that records [`CtEvent`]s; the owner drains them with
    /// [`ConnTable::take_events`]. Sized at start for its bound (up to 65,536 entries): its
    /// owners (NAT gateways) are few and hold many connections, so growing by rehashing on
    /// the packet path near the bound is not worth the memory saved.
    pub fn with_events(cfg: ConntrackConfig) -> ConnTable {
        let mut t = ConnTable::new(cfg);
        t.map.reserve((cfg.max_entries as usize).min(1 << 16));
        ConnTable {
            events: Some(Vec::new()),
            ..t
        }
    }

    /// Moves the recorded events into `out` (oldest first).
    pub fn take_events(&mut self, out: &mut Vec<CtEvent>) {
        if let Some(e) = self.events.as_mut() {
            out.append(e);
        }
    }

    /// Whether `r` still names a live connection (idle expiry aside).
    pub fn is_live(&self, r: ConnRef) -> bool {
        self.conns
            .get(r.slot as usize)
            .is_some_and(|c| c.live && c.gen == r.gen)
    }

    /// Live TCP connections that are not closing (the NAT gateway's
    /// `ActiveConnectionCount`).
    pub fn open_tcp(&self) -> usize {
        self.conns
            .iter()
            .filter(|c| {
                c.live
                    && c.key.proto == PROTO_TCP
                    && matches!(
                        c.state,
                        State::SynSent | State::SynRecv | State::Established
                    )
            })
            .count()
    }

    /// Changes the limits and timeouts (existing connections stay).
    pub fn reconfigure(&mut self, cfg: ConntrackConfig) {
        self.cfg = cfg;
    }

    /// The configuration in force.
    pub fn config(&self) -> &ConntrackConfig {
        &self.cfg
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn timeout(&self, c: &Conn) -> u64 {
        match c.state {
            State::Established => self.cfg.tcp_established_ms,
            State::SynSent | State::SynRecv | State::Closing { .. } => self.cfg.tcp_transitory_ms,
            State::Udp { replies } if replies >= 2 => self.cfg.udp_stream_ms,
            State::Udp { .. } => self.cfg.udp_ms,
            State::Icmp => self.cfg.icmp_ms,
            State::Other => self.cfg.other_ms,
        }
    }

    /// Ends the connection in `slot` (`idle`: by its idle timeout) and frees the slot at
    /// once. An opening or closing TCP connection that times out is not counted as
    /// idle (it never was, or no longer is, active).
    fn kill(&mut self, slot: u32, idle: bool) {
        let c = &mut self.conns[slot as usize];
        let idle = idle
            && !matches!(
                c.state,
                State::SynSent | State::SynRecv | State::Closing { .. }
            );
        if c.live {
            c.live = false;
            let key = c.key;
            if self.map.get(&key) == Some(&slot) {
                self.map.remove(&key);
            }
            self.free.push(slot);
            if let Some(e) = self.events.as_mut() {
                e.push(CtEvent::Ended { key, idle });
            }
        }
    }

    /// Finds the connection of `key`; an idle-expired one is removed and not found.
    pub fn lookup(&mut self, key: &ConnKey, now: u64) -> Option<(ConnRef, Origin)> {
        let slot = *self.map.get(key)?;
        let c = &self.conns[slot as usize];
        if now.saturating_sub(c.last_seen) > self.timeout(c) {
            self.kill(slot, true);
            return None;
        }
        Some((ConnRef { slot, gen: c.gen }, c.origin))
    }

    /// Adds a connection opened by a packet from `origin` with TCP `flags` (0 for other
    /// protocols).
    pub fn insert(
        &mut self,
        key: ConnKey,
        origin: Origin,
        flags: u8,
        now: u64,
    ) -> Result<ConnRef, InsertError> {
        let state = match key.proto {
            PROTO_TCP if flags & RST != 0 => return Err(InsertError::InvalidTcp),
            // SYN with FIN is never a valid segment (Linux `tcp_valid_flags`); a scan or
            // an evasion attempt must not open a connection (VPC-13).
            PROTO_TCP if flags & SYN != 0 && flags & FIN != 0 => {
                return Err(InsertError::InvalidTcp)
            }
            PROTO_TCP if flags & SYN != 0 && flags & ACK != 0 => {
                return Err(InsertError::InvalidTcp)
            }
            PROTO_TCP if flags & SYN != 0 => State::SynSent,
            // No mid-stream pick-up: only a SYN opens a TCP connection.
            PROTO_TCP => return Err(InsertError::InvalidTcp),
            PROTO_UDP => State::Udp { replies: 0 },
            PROTO_ICMP | PROTO_ICMPV6 => State::Icmp,
            _ => State::Other,
        };
        if let Some(&old) = self.map.get(&key) {
            self.kill(old, false);
        }
        if self.map.len() >= self.cfg.max_entries as usize {
            return Err(InsertError::Full);
        }
        if !self.wheel_started {
            // The wheel starts at the first connection's time, so that it is scheduled
            // where the first `expire` will look.
            self.wheel_tick = now / TICK_MS;
            self.wheel_started = true;
        }
        let conn = Conn {
            key,
            origin,
            state,
            last_seen: now,
            gen: 0,
            live: true,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                let gen = self.conns[s as usize].gen.wrapping_add(1);
                self.conns[s as usize] = Conn { gen, ..conn };
                s
            }
            None => {
                self.conns.push(conn);
                (self.conns.len() - 1) as u32
            }
        };
        self.map.insert(key, slot);
        let due = now.saturating_add(self.timeout(&self.conns[slot as usize]));
        self.schedule(slot, due);
        Ok(ConnRef {
            slot,
            gen: self.conns[slot as usize].gen,
        })
    }

    /// A packet of connection `r` in direction `dir` with TCP `flags`.
    #[inline]
    pub fn touch(&mut self, r: ConnRef, dir: ConnDir, flags: u8, now: u64) -> Touch {
        let Some(c) = self.conns.get(r.slot as usize) else {
            return Touch::Gone;
        };
        if c.gen != r.gen || !c.live {
            return Touch::Gone;
        }
        if now.saturating_sub(c.last_seen) > self.timeout(c) {
            self.kill(r.slot, true);
            return Touch::Gone;
        }
        let next = match c.state {
            State::Udp { replies } if dir == ConnDir::Reply => State::Udp {
                replies: replies.saturating_add(1),
            },
            s @ (State::Udp { .. } | State::Icmp | State::Other) => s,
            // SYN with FIN or RST is never a valid segment (Linux `tcp_valid_flags`):
            // dropped, and it neither ends nor changes the connection (VPC-13).
            _ if flags & SYN != 0 && flags & (FIN | RST) != 0 => return Touch::Invalid,
            _ if flags & RST != 0 => {
                // The reset passes; the connection ends now.
                self.kill(r.slot, false);
                return Touch::Ok;
            }
            State::Closing {
                fin_orig: true,
                fin_reply: true,
            } if flags & SYN != 0 && flags & ACK == 0 => {
                // A new connection on the 4-tuple of a closed one (TIME-WAIT reuse): the
                // old one is over; the caller decides on the new one from the rules.
                self.kill(r.slot, false);
                return Touch::Gone;
            }
            s if flags & (SYN | FIN) == 0 => match (s, dir) {
                (State::SynRecv, ConnDir::Orig) if flags & ACK != 0 => State::Established,
                (State::SynSent, ConnDir::Reply) => return Touch::Invalid,
                (s, _) => s,
            },
            s => match tcp_transition(s, dir, flags) {
                Some(n) => n,
                None => return Touch::Invalid,
            },
        };
        let c = &mut self.conns[r.slot as usize];
        c.last_seen = now;
        if next == State::Established && c.state != State::Established {
            if let Some(e) = self.events.as_mut() {
                e.push(CtEvent::Established);
            }
        }
        c.state = next;
        Touch::Ok
    }

    /// Ends connection `r` now (its slot is reclaimed by the wheel).
    pub fn remove(&mut self, r: ConnRef) {
        if self
            .conns
            .get(r.slot as usize)
            .is_some_and(|c| c.gen == r.gen)
        {
            self.kill(r.slot, false);
        }
    }

    /// Advances the wheel to `now`, reclaiming idle and closed connections. Returns how
    /// many idle connections expired. Work is bounded by the wheel size per call.
    pub fn expire(&mut self, now: u64) -> usize {
        let target = now / TICK_MS;
        if !self.wheel_started {
            self.wheel_tick = target;
            self.wheel_started = true;
        }
        let mut expired = 0;
        let mut steps = 0;
        if self.wheel.is_empty() {
            // Nothing was ever scheduled.
            self.wheel_tick = self.wheel_tick.max(target + 1);
            return 0;
        }
        while self.wheel_tick <= target && steps < WHEEL_SLOTS {
            let idx = (self.wheel_tick % WHEEL_SLOTS as u64) as usize;
            let mut bucket = std::mem::take(&mut self.wheel[idx]);
            self.wheel_len = self.wheel_len.saturating_sub(bucket.len());
            for &(slot, gen) in &bucket {
                let Some(c) = self.conns.get(slot as usize) else {
                    continue;
                };
                if !c.live || c.gen != gen {
                    continue; // ended already; the slot may serve another connection
                }
                let due = c.last_seen.saturating_add(self.timeout(c));
                if due <= now {
                    self.kill(slot, true);
                    expired += 1;
                } else {
                    self.schedule(slot, due);
                }
            }
            // Keep the bucket's capacity; keep what was scheduled into it meanwhile.
            bucket.clear();
            let added = std::mem::replace(&mut self.wheel[idx], bucket);
            self.wheel[idx].extend(added);
            self.wheel_tick += 1;
            steps += 1;
        }
        if self.wheel_tick <= target {
            // More than a revolution behind: everything was visited once; catch up.
            self.wheel_tick = target + 1;
        }
        expired
    }

    fn schedule(&mut self, slot: u32, due: u64) {
        let tick = (due / TICK_MS).max(self.wheel_tick + 1);
        let idx = (tick % WHEEL_SLOTS as u64) as usize;
        let gen = self.conns[slot as usize].gen;
        if self.wheel.is_empty() {
            self.wheel = vec![Vec::new(); WHEEL_SLOTS];
        }
        self.wheel[idx].push((slot, gen));
        self.wheel_len += 1;
        // Connections that end early (RST, replaced) leave stale entries behind; under
        // churn they would pile up for a whole timeout. Drop them once they outnumber
        // the live connections (amortised: the wheel at least doubled since the last
        // compaction).
        if self.wheel_len > 4 * self.map.len() + 4 * WHEEL_SLOTS {
            self.compact();
        }
    }

    /// Removes the wheel entries of connections that ended.
    fn compact(&mut self) {
        let conns = &self.conns;
        for b in &mut self.wheel {
            b.retain(|&(s, g)| conns.get(s as usize).is_some_and(|c| c.live && c.gen == g));
        }
        self.wheel_len = self.wheel.iter().map(Vec::len).sum();
    }

    /// Entries held by the timer wheel (for tests and diagnostics).
    pub fn wheel_entries(&self) -> usize {
        self.wheel_len
    }
}

/// TCP state changes on SYN or FIN (RST is handled by the caller); `None` = invalid.
fn tcp_transition(s: State, dir: ConnDir, flags: u8) -> Option<State> {
    let syn = flags & SYN != 0;
    let ack = flags & ACK != 0;
    let fin = flags & FIN != 0;
    match s {
        State::SynSent if syn && !ack && dir == ConnDir::Orig => Some(State::SynSent),
        State::SynSent if syn && ack && dir == ConnDir::Reply => Some(State::SynRecv),
        State::SynRecv if syn && ack && dir == ConnDir::Reply => Some(State::SynRecv),
        State::SynRecv if syn && !ack && dir == ConnDir::Orig => Some(State::SynRecv),
        State::SynSent | State::SynRecv if syn => None,
        // A retransmitted SYN-ACK (our ACK was lost on the way) passes, as in Linux
        // conntrack; the state stays.
        State::Established | State::Closing { .. } if syn && ack && dir == ConnDir::Reply => {
            Some(s)
        }
        // Any other SYN on an open connection is invalid (a new one needs the old one
        // gone).
        State::Established | State::Closing { .. } if syn => None,
        _ if fin => {
            let (fo, fr) = match s {
                State::Closing {
                    fin_orig,
                    fin_reply,
                } => (fin_orig, fin_reply),
                _ => (false, false),
            };
            Some(State::Closing {
                fin_orig: fo || dir == ConnDir::Orig,
                fin_reply: fr || dir == ConnDir::Reply,
            })
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ConntrackConfig {
        ConntrackConfig {
            max_entries: 3,
            tcp_established_ms: 60_000,
            tcp_transitory_ms: 5_000,
            udp_ms: 30_000,
            udp_stream_ms: 180_000,
            icmp_ms: 30_000,
            other_ms: 600_000,
        }
    }

    fn key(proto: u8, port: u16) -> ConnKey {
        ConnKey {
            proto,
            local: "10.0.1.10".parse().unwrap(),
            remote: "203.0.113.5".parse().unwrap(),
            local_port: port,
            remote_port: 53,
        }
    }

    #[test]
    fn a_fork_answers_like_the_table_and_changes_only_itself() {
        let mut t = ConnTable::new(cfg());
        let a = t.insert(key(17, 1000), Origin::Local, 0, 0).unwrap();
        let b = t
            .insert(key(6, 2000), Origin::Remote, tcp_flags::SYN, 0)
            .unwrap();
        let mut f = t.fork();
        assert_eq!(f.len(), 2);
        assert_eq!(f.lookup(&key(17, 1000), 10), Some((a, Origin::Local)));
        assert_eq!(f.lookup(&key(6, 2000), 10), Some((b, Origin::Remote)));
        // A change in the fork (a new connection; the table holds 3) stays there.
        f.insert(key(17, 1001), Origin::Local, 0, 10).unwrap();
        assert_eq!(
            f.insert(key(17, 1002), Origin::Local, 0, 10),
            Err(InsertError::Full)
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(&key(17, 1001), 10), None);
        // Idle timeouts are the table's: the UDP connection is gone at +31 s in both.
        assert_eq!(f.lookup(&key(17, 1000), 31_000), None);
        assert_eq!(t.lookup(&key(17, 1000), 31_000), None);
    }

    #[test]
    fn udp_single_exchange_then_stream_timeouts() {
        // Scenario 27: one query, the reply at +29 s passes, at +31 s it does not.
        let mut t = ConnTable::new(cfg());
        let r = t.insert(key(17, 1000), Origin::Local, 0, 0).unwrap();
        assert_eq!(t.lookup(&key(17, 1000), 29_000).map(|x| x.0), Some(r));
        let mut t2 = ConnTable::new(cfg());
        t2.insert(key(17, 1000), Origin::Local, 0, 0).unwrap();
        assert_eq!(t2.lookup(&key(17, 1000), 31_000), None);
        // Two exchanges make a stream: 179 s idle is fine, 181 s is not.
        let mut now = 1_000;
        for dir in [ConnDir::Reply, ConnDir::Orig, ConnDir::Reply] {
            assert_eq!(t.touch(r, dir, 0, now), Touch::Ok);
            now += 1_000;
        }
        let last = now - 1_000;
        assert!(t.lookup(&key(17, 1000), last + 179_000).is_some());
        assert!(t.lookup(&key(17, 1000), last + 179_000 + 181_000).is_none());
    }

    #[test]
    fn other_protocols_600s_and_icmp() {
        let mut t = ConnTable::new(cfg());
        t.insert(key(47, 0), Origin::Local, 0, 0).unwrap();
        assert!(t.lookup(&key(47, 0), 599_000).is_some());
        assert!(t.lookup(&key(47, 0), 599_000 + 601_000).is_none());
    }

    #[test]
    fn tcp_handshake_fin_and_rst() {
        let mut t = ConnTable::new(cfg());
        assert_eq!(
            t.insert(key(6, 40000), Origin::Local, SYN | ACK, 0),
            Err(InsertError::InvalidTcp)
        );
        let r = t.insert(key(6, 40000), Origin::Local, SYN, 0).unwrap();
        // Data from the server before its SYN-ACK is invalid.
        assert_eq!(t.touch(r, ConnDir::Reply, ACK, 1), Touch::Invalid);
        assert_eq!(t.touch(r, ConnDir::Reply, SYN | ACK, 2), Touch::Ok);
        assert_eq!(t.touch(r, ConnDir::Orig, ACK, 3), Touch::Ok);
        // Established: the long timeout applies (transitory is 5 s).
        assert_eq!(t.touch(r, ConnDir::Reply, ACK, 50_000), Touch::Ok);
        assert_eq!(t.touch(r, ConnDir::Orig, SYN, 50_001), Touch::Invalid);
        assert_eq!(t.touch(r, ConnDir::Orig, FIN | ACK, 50_002), Touch::Ok);
        assert_eq!(t.touch(r, ConnDir::Reply, FIN | ACK, 50_003), Touch::Ok);
        // Closing: transitory timeout.
        assert!(t.lookup(&key(6, 40000), 50_003 + 4_000).is_some());
        // Both FINs seen: a new SYN on the same 4-tuple ends the old connection.
        let mut t2 = ConnTable::new(cfg());
        let r2 = t2.insert(key(6, 1), Origin::Local, SYN, 0).unwrap();
        t2.touch(r2, ConnDir::Reply, SYN | ACK, 1);
        t2.touch(r2, ConnDir::Orig, FIN | ACK, 2);
        t2.touch(r2, ConnDir::Reply, FIN | ACK, 3);
        assert_eq!(t2.touch(r2, ConnDir::Orig, SYN, 4), Touch::Gone);
        assert!(t2.insert(key(6, 1), Origin::Local, SYN, 5).is_ok());
        assert_eq!(t.touch(r, ConnDir::Orig, RST, 50_004 + 4_000), Touch::Ok);
        assert_eq!(t.touch(r, ConnDir::Orig, ACK, 50_005 + 4_000), Touch::Gone);
        assert!(t.lookup(&key(6, 40000), 50_006 + 4_000).is_none());
    }

    #[test]
    fn full_table_refuses_new_connections_only() {
        let mut t = ConnTable::new(cfg());
        let refs: Vec<_> = (0..3)
            .map(|p| t.insert(key(17, p), Origin::Local, 0, 0).unwrap())
            .collect();
        assert_eq!(
            t.insert(key(17, 9), Origin::Local, 0, 0),
            Err(InsertError::Full)
        );
        // Established ones keep working.
        assert_eq!(t.touch(refs[0], ConnDir::Reply, 0, 10), Touch::Ok);
    }

    #[test]
    fn slots_are_reused_at_once_so_churn_does_not_grow_the_slab() {
        let mut t = ConnTable::new(cfg());
        for i in 0..100_000u32 {
            let r = t
                .insert(
                    key(6, (i % 60_000) as u16),
                    Origin::Local,
                    SYN,
                    u64::from(i),
                )
                .unwrap();
            assert_eq!(t.touch(r, ConnDir::Reply, RST, u64::from(i)), Touch::Ok);
            if i % 1000 == 0 {
                t.expire(u64::from(i));
            }
        }
        assert_eq!(t.len(), 0);
        assert!(t.conns.len() <= 1, "slab grew to {}", t.conns.len());
        // Huge timeouts from a raw config do not overflow.
        let mut huge = cfg();
        huge.udp_ms = u64::MAX;
        let mut t = ConnTable::new(huge);
        let r = t.insert(key(17, 1), Origin::Local, 0, 5).unwrap();
        t.expire(1_000_000);
        assert_eq!(t.touch(r, ConnDir::Reply, 0, 2_000_000), Touch::Ok);
    }

    #[test]
    fn wheel_reclaims_idle_connections_and_stale_handles_notice() {
        let mut t = ConnTable::new(cfg());
        t.expire(0);
        let r = t.insert(key(17, 1), Origin::Local, 0, 0).unwrap();
        assert_eq!(t.expire(29_000), 0);
        assert_eq!(t.len(), 1);
        assert_eq!(t.expire(31_000), 1);
        assert_eq!(t.len(), 0);
        assert_eq!(t.touch(r, ConnDir::Orig, 0, 31_001), Touch::Gone);
        // The slot is reused with a new generation: the old handle stays stale.
        let r2 = t.insert(key(17, 2), Origin::Local, 0, 31_002).unwrap();
        assert_ne!(r, r2);
        assert_eq!(t.touch(r, ConnDir::Orig, 0, 31_003), Touch::Gone);
        assert_eq!(t.touch(r2, ConnDir::Orig, 0, 31_003), Touch::Ok);
        // Long timeouts survive many revolutions of the wheel.
        let r3 = t.insert(key(47, 0), Origin::Local, 0, 40_000).unwrap();
        let mut now = 40_000;
        while now < 40_000 + 590_000 {
            now += 7_000;
            t.expire(now);
        }
        assert_eq!(t.touch(r3, ConnDir::Reply, 0, now), Touch::Ok);
    }

    #[test]
    fn churn_of_short_connections_does_not_grow_the_wheel() {
        let mut t = ConnTable::new(ConntrackConfig {
            max_entries: 1000,
            tcp_transitory_ms: 120_000,
            ..cfg()
        });
        // SYN then RST on ever new ports: every connection ends at once, its wheel
        // entry would otherwise stay for 120 s.
        for p in 0..200_000u32 {
            let k = ConnKey {
                proto: PROTO_TCP,
                local: "10.0.0.1".parse().unwrap(),
                remote: "10.0.0.2".parse().unwrap(),
                local_port: (p % 60_000) as u16,
                remote_port: (p / 60_000) as u16 + 1,
            };
            let r = t.insert(k, Origin::Local, SYN, 1).unwrap();
            assert_eq!(t.touch(r, ConnDir::Reply, RST, 1), Touch::Ok);
        }
        assert!(t.is_empty());
        assert!(
            t.wheel_entries() <= 4 * WHEEL_SLOTS + 1,
            "{}",
            t.wheel_entries()
        );
    }
}
