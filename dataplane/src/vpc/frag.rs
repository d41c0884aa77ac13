//! Fragments after the first carry no ports, so no rule or connection can judge them;
//! they follow the first fragment of their datagram. When a first fragment is forwarded,
//! its delivery is remembered under (ingress port, source, destination, protocol, IP id)
//! for a short while (30 s, like Linux's reassembly timeout); later fragments with that
//! key go the same way, others are dropped (`fragment_unmatched`). Bounded; flushed whole
//! when full.

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;

use crate::engine::port::PortIdx;
use crate::vpc::verdict::Delivery;
use crate::wire::IpMeta;

/// How long a first fragment's verdict holds for the rest of its datagram.
pub const FRAGMENT_TIMEOUT_MS: u64 = 30_000;

/// Identifies the fragments of one datagram as seen on one ingress port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    port: PortIdx,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u16,
}

impl FragKey {
    /// The key of a fragment that arrived on `port`.
    pub fn new(port: PortIdx, ip: &IpMeta) -> FragKey {
        FragKey {
            port,
            src: ip.src,
            dst: ip.dst,
            proto: ip.proto,
            id: ip.ip_id,
        }
    }
}

/// First fragments' deliveries, for the rest of their datagrams.
#[derive(Debug)]
pub struct FragTable {
    map: HashMap<FragKey, (Delivery, u64), RandomState>,
    capacity: usize,
}

impl FragTable {
    /// A table of at most `capacity` datagrams.
    pub fn new(capacity: usize) -> FragTable {
        FragTable {
            map: HashMap::with_capacity_and_hasher(capacity, RandomState::default()),
            capacity,
        }
    }

    /// Remembers where the first fragment of a datagram went.
    pub fn record(&mut self, key: FragKey, delivery: Delivery, now: u64) {
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(key, (delivery, now + FRAGMENT_TIMEOUT_MS));
    }

    /// Datagrams remembered now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no datagram is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The most datagrams it remembers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets everything (a new configuration renumbers ports).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Where a later fragment goes, if its first fragment went somewhere recently.
    pub fn lookup(&self, key: &FragKey, now: u64) -> Option<Delivery> {
        match self.map.get(key) {
            Some(&(d, until)) if now <= until => Some(d),
            _ => None,
        }
    }
}
