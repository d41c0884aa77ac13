//! The flow cache: the composite result of the slow path per flow, so that every packet
//! after the first is one hash lookup.
//!
//! An entry remembers the configuration epoch it was computed under; after an apply,
//! entries of older epochs are misses and re-run the slow path, so a configuration change
//! applies to the next packet of every flow. The table is sized at start and never grows:
//! when it is full it is flushed whole (counted), which keeps the fast path free of
//! eviction bookkeeping.

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;

use crate::vpc::config::EniIdx;
use crate::vpc::pipeline::CtRef;
use crate::vpc::verdict::{Delivery, DropReason};
use crate::wire::{IcmpType, IpMeta, MacAddr};

/// What identifies a flow: everything the slow path's decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// The ENI the frame came from.
    pub in_eni: EniIdx,
    /// Ethernet source (spoofing check).
    pub src_mac: MacAddr,
    /// Ethernet destination (router or neighbour).
    pub dst_mac: MacAddr,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// IP protocol.
    pub proto: u8,
    /// Source port or ICMP identifier.
    pub src_port: u16,
    /// Destination port or ICMP type/code.
    pub dst_port: u16,
}

/// An address as 128 bits (IPv4 mapped, with the family in the top bit).
#[inline]
fn addr_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)) | 1 << 127,
        IpAddr::V6(v) => u128::from(v),
    }
}

#[inline]
fn mac_bits(m: MacAddr) -> u64 {
    let b = m.0;
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], 0, 0])
}

/// Hashes the key as seven machine words (the derived hash feeds a dozen small writes,
/// which shows in the fast path's profile).
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let (s, d) = (addr_bits(self.src), addr_bits(self.dst));
        h.write_u64(
            u64::from(self.in_eni) | u64::from(self.proto) << 32 | u64::from(self.src_port) << 40,
        );
        h.write_u64(mac_bits(self.src_mac) | u64::from(self.dst_port) << 48);
        h.write_u64(mac_bits(self.dst_mac));
        h.write_u64(s as u64);
        h.write_u64((s >> 64) as u64);
        h.write_u64(d as u64);
        h.write_u64((d >> 64) as u64);
    }
}

impl FlowKey {
    /// The key of a parsed IP frame.
    #[inline]
    pub fn new(in_eni: EniIdx, src_mac: MacAddr, dst_mac: MacAddr, ip: &IpMeta) -> FlowKey {
        FlowKey {
            in_eni,
            src_mac,
            dst_mac,
            src: ip.src,
            dst: ip.dst,
            proto: ip.proto,
            src_port: ip.src_port,
            // ICMP: type and code in the port's place (echo requests and replies of one
            // identifier are different flows).
            dst_port: ip.icmp.map_or(ip.dst_port, IcmpType::word),
        }
    }
}

/// The cached decision for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowAction {
    /// Rewrite MACs and send out of the ENI's port; every packet updates the tracked
    /// connections in `ct` (and falls back to the slow path if one is gone).
    Forward {
        /// Port and MAC rewrite.
        delivery: Delivery,
        /// Tracked connections the flow belongs to.
        ct: [Option<CtRef>; 3],
    },
    /// Drop, counted under this reason (and network-ACL rule slot).
    Drop {
        /// Why.
        reason: DropReason,
        /// The ACL counter slot for `NaclDeny`.
        nacl_slot: Option<u32>,
        /// The ENI a refusal is charged to in flow logs (ingress side when `true`).
        owner: Option<(u32, bool)>,
    },
}

#[derive(Debug, Clone, Copy)]
struct FlowEntry {
    epoch: u64,
    action: FlowAction,
}

/// A bounded exact-match flow table.
#[derive(Debug)]
pub struct FlowCache {
    map: HashMap<FlowKey, FlowEntry, RandomState>,
    capacity: usize,
    flushes: u64,
}

impl FlowCache {
    /// A cache holding at most `capacity` flows, allocated now.
    pub fn new(capacity: usize) -> FlowCache {
        let capacity = capacity.max(16);
        FlowCache {
            map: HashMap::with_capacity_and_hasher(capacity, RandomState::default()),
            capacity,
            flushes: 0,
        }
    }

    /// The cached action for `key`, if it was computed under `epoch`.
    #[inline]
    pub fn get(&self, key: &FlowKey, epoch: u64) -> Option<FlowAction> {
        match self.map.get(key) {
            Some(e) if e.epoch == epoch => Some(e.action),
            _ => None,
        }
    }

    /// Remembers `action` for `key` under `epoch`.
    #[inline]
    pub fn insert(&mut self, key: FlowKey, epoch: u64, action: FlowAction) {
        if self.map.len() >= self.capacity && !self.map.contains_key(&key) {
            self.map.clear();
            self.flushes += 1;
        }
        self.map.insert(key, FlowEntry { epoch, action });
    }

    /// Drops every entry (for example when ports are renumbered).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Flows cached now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Times the cache was full and flushed.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            in_eni: 0,
            src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            dst_mac: MacAddr([6, 0, 0, 0, 0, 1]),
            src: "10.0.1.10".parse().unwrap(),
            dst: "10.0.2.20".parse().unwrap(),
            proto: 6,
            src_port: port,
            dst_port: 80,
        }
    }

    #[test]
    fn epoch_mismatch_is_a_miss() {
        let mut c = FlowCache::new(16);
        c.insert(
            key(1),
            1,
            FlowAction::Drop {
                reason: DropReason::NoRoute,
                nacl_slot: None,
                owner: None,
            },
        );
        assert_eq!(
            c.get(&key(1), 1),
            Some(FlowAction::Drop {
                reason: DropReason::NoRoute,
                nacl_slot: None,
                owner: None,
            })
        );
        assert_eq!(c.get(&key(1), 2), None);
        assert_eq!(c.get(&key(2), 1), None);
    }

    #[test]
    fn bounded_and_flushes_when_full() {
        let mut c = FlowCache::new(16);
        let cap_before = c.map.capacity();
        for p in 0..100 {
            c.insert(
                key(p),
                1,
                FlowAction::Drop {
                    reason: DropReason::NoRoute,
                    nacl_slot: None,
                    owner: None,
                },
            );
            assert!(c.len() <= 16);
        }
        assert!(c.flushes() >= 5);
        assert_eq!(c.map.capacity(), cap_before, "no growth");
    }
}
