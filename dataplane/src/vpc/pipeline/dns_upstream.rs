//! The VPC resolver's queries in flight to its upstream: a bounded table from the id a
//! forwarded query carries upstream to who asked (ENI, MACs, address and port, the
//! resolver address it asked, the original id and question) and until when.
//!
//! Pure state: no socket here. The resolver ([`super::dns`]) inserts into it when it
//! forwards, relays by it when an answer comes back, and the data plane's housekeeping
//! takes the expired entries (each answered SERVFAIL).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use foldhash::fast::FixedState;
use hickory_proto::op::Query;

use crate::vpc::config::EniIdx;
use crate::wire::MacAddr;

/// How many forwarded queries may wait for the upstream at once; a query beyond gets
/// SERVFAIL at once.
pub const MAX_PENDING: usize = 4096;
/// How long a forwarded query waits for the upstream before its client gets SERVFAIL
/// (ms).
pub const TIMEOUT_MS: u64 = 2000;
/// How many random ids are tried for a new query before it counts as an overflow.
const ID_TRIES: usize = 16;

/// One forwarded query waiting for the upstream's answer.
#[derive(Debug, Clone)]
pub struct PendingQuery {
    /// The ENI that asked (its port sends the answer).
    pub eni: EniIdx,
    /// The answer's MACs: (the subnet router's, the client's).
    pub macs: (MacAddr, MacAddr),
    /// The client's address and port.
    pub client: (Ipv4Addr, u16),
    /// The resolver address the client asked (the VPC's `+2` or 169.254.169.253): the
    /// answer comes from it.
    pub resolver: Ipv4Addr,
    /// The query's original id.
    pub id: u16,
    /// Its question.
    pub query: Query,
    /// Whether it asked for recursion (RD), echoed in a SERVFAIL.
    pub rd: bool,
    /// Whether it carried EDNS.
    pub edns: bool,
    /// The largest UDP answer the client takes.
    pub limit: usize,
    /// When it times out (data-plane clock, ms).
    pub deadline: u64,
}

/// The forwarded queries, by the id they carry upstream (at most [`MAX_PENDING`]).
#[derive(Debug)]
pub struct Pending {
    entries: HashMap<u16, PendingQuery, FixedState>,
    /// The id generator's state (xorshift).
    rng: u32,
    capacity: usize,
}

impl Default for Pending {
    fn default() -> Self {
        Pending::with_capacity(MAX_PENDING)
    }
}

impl Pending {
    /// An empty table holding at most `capacity` queries (at most 65,536).
    pub fn with_capacity(capacity: usize) -> Pending {
        // Seeded from the address of a stack value and the time: ids an off-path
        // sender cannot guess from the last one.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.subsec_nanos() ^ d.as_secs() as u32);
        Pending {
            entries: HashMap::default(),
            rng: seed | 1,
            capacity: capacity.min(usize::from(u16::MAX) + 1),
        }
    }

    /// How many queries wait now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn next_id(&mut self) -> u16 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        (x >> 8) as u16
    }

    /// Remembers `q` under a new, unused id, which it returns; `None` when the table is
    /// full.
    pub fn insert(&mut self, q: PendingQuery) -> Option<u16> {
        if self.entries.len() >= self.capacity {
            return None;
        }
        for _ in 0..ID_TRIES {
            let id = self.next_id();
            if let std::collections::hash_map::Entry::Vacant(v) = self.entries.entry(id) {
                v.insert(q);
                return Some(id);
            }
        }
        None
    }

    /// The query waiting under upstream id `id`.
    pub fn get(&self, id: u16) -> Option<&PendingQuery> {
        self.entries.get(&id)
    }

    /// Takes the query waiting under upstream id `id` (answered).
    pub fn take(&mut self, id: u16) -> Option<PendingQuery> {
        self.entries.remove(&id)
    }

    /// Takes every query whose deadline is `now` or earlier.
    pub fn expired(&mut self, now: u64) -> Vec<PendingQuery> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let ids: Vec<u16> = self
            .entries
            .iter()
            .filter(|(_, q)| q.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.entries.remove(&id))
            .collect()
    }

    /// Renumbers the ENIs after a new configuration: `map` gives an ENI's new index
    /// (`None`: it is gone, and so are its queries).
    pub fn remap(&mut self, map: impl Fn(EniIdx) -> Option<EniIdx>) {
        self.entries.retain(|_, q| match map(q.eni) {
            Some(e) => {
                q.eni = e;
                true
            }
            None => false,
        });
    }
}
