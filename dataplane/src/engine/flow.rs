//! The flow cache: the composite result of the slow path per flow, so that every packet
//! after the first is one hash lookup.
//!
//! The cache is generic over the cached action `A` (the policy layer decides what a flow's
//! result is; the engine only stores it). An entry remembers the configuration epoch it
//! was computed under; after an apply, entries of older epochs are misses and re-run the
//! slow path, so a configuration change applies to the next packet of every flow.
//!
//! The table is sized at start and never grows. When it is full, one entry makes room
//! for the new one, chosen by a CLOCK (second-chance) sweep:
//!
//! - every entry has a *referenced* bit, set by each hit (the hit path stays one hash
//!   lookup and one store: no allocation, no reordering);
//! - every entry owns a slot of a ring; on an insert into a full table a hand walks the
//!   ring: an entry of an older epoch is taken at once; otherwise a referenced entry
//!   loses its bit and is passed, and the first unreferenced one is evicted. While any
//!   entry of an older epoch remains, the hand takes only those (current entries keep
//!   their bits), so a full table of stale entries admits new flows without evicting
//!   current ones.
//!
//! A sweep takes at most two turns of the ring (one when stale entries remain), and
//! amortised O(1) steps per insert: a step either evicts, or clears a bit a hit set, or
//! passes a current entry on the way to the stale ones (at most one turn in all per
//! epoch, since no entry turns stale until the next). So a scan of many one-packet flows
//! cycles through the unreferenced entries while the flows that keep sending keep their
//! place.
//!
//! An entry found with an older epoch is removed on lookup, and the hand reclaims the
//! others first, so old entries do not stay after an apply. Counters: [`FlowCache::evictions`]
//! (current entries evicted to make room) and [`FlowCache::stale_reclaimed`] (old-epoch
//! entries dropped). Epochs only grow.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;

use crate::engine::port::PortIdx;
use crate::wire::{IcmpType, IpMeta, MacAddr};

/// What identifies a flow: everything the slow path's decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// The index of the port the frame came in on.
    pub in_port: PortIdx,
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
            u64::from(self.in_port.0)
                | u64::from(self.proto) << 32
                | u64::from(self.src_port) << 40,
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
    /// The key of a parsed IP frame that came in on port `in_port`.
    #[inline]
    pub fn new(in_port: PortIdx, src_mac: MacAddr, dst_mac: MacAddr, ip: &IpMeta) -> FlowKey {
        FlowKey {
            in_port,
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

/// A cached flow: the action, its epoch and its ring slot.
#[derive(Debug, Clone, Copy)]
struct Entry<A> {
    action: A,
    epoch: u64,
    slot: u32,
}

/// One slot of the clock ring: the key that owns it and that entry's epoch, so the hand
/// decides without a hash lookup.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: FlowKey,
    epoch: u64,
}

/// A bounded exact-match flow table with CLOCK eviction, caching an action `A` per flow.
#[derive(Debug)]
pub struct FlowCache<A> {
    map: HashMap<FlowKey, Entry<A>, RandomState>,
    /// The key owning each slot; slots listed in `free` own nothing.
    ring: Vec<Slot>,
    /// The CLOCK bits, one per slot: set on a hit, cleared by the passing hand (a
    /// bitmap of a few KB that stays in cache, so a hit writes no further cache line
    /// than its entry's and the sweep tests bits, not hash entries).
    refs: Vec<u64>,
    /// Slots given back by removals, reused before the ring grows or the hand sweeps.
    free: Vec<u32>,
    /// The next slot the clock hand looks at.
    hand: usize,
    capacity: usize,
    /// The newest epoch seen.
    epoch: u64,
    /// Entries of `epoch` (the others are stale).
    current: usize,
    evictions: u64,
    stale_reclaimed: u64,
}

impl<A: Copy> FlowCache<A> {
    /// A cache holding at most `capacity` flows (at least 16), allocated now.
    pub fn new(capacity: usize) -> FlowCache<A> {
        let capacity = capacity.clamp(16, u32::MAX as usize);
        FlowCache {
            // Room for twice the flows: evictions leave tombstones in the map, which it
            // clears by rehashing in place while at most half its room is in use, and by
            // growing otherwise (a 65,536-flow cache takes 262,144 buckets either way).
            map: HashMap::with_capacity_and_hasher(
                capacity.saturating_mul(2),
                RandomState::default(),
            ),
            ring: Vec::with_capacity(capacity),
            refs: vec![0; capacity.div_ceil(64)],
            free: Vec::with_capacity(capacity),
            hand: 0,
            capacity,
            epoch: 0,
            current: 0,
            evictions: 0,
            stale_reclaimed: 0,
        }
    }

    /// The cached action for `key`, if it was computed under `epoch` (which marks it
    /// referenced). An entry of another epoch is removed.
    #[inline]
    pub fn get(&mut self, key: &FlowKey, epoch: u64) -> Option<A> {
        let e = self.map.get(key)?;
        if e.epoch == epoch {
            let (action, slot) = (e.action, e.slot as usize);
            if let Some(w) = self.refs.get_mut(slot / 64) {
                *w |= 1 << (slot % 64);
            }
            return Some(action);
        }
        self.reclaim_stale(key, epoch);
        None
    }

    /// Removes the entry of `key`, found stale by a lookup under `epoch`.
    #[cold]
    fn reclaim_stale(&mut self, key: &FlowKey, epoch: u64) {
        self.advance(epoch);
        if let Some(e) = self.map.remove(key) {
            self.release(&e);
            self.free.push(e.slot);
            self.stale_reclaimed += 1;
        }
    }

    /// Remembers `action` for `key` under `epoch`, making room if the cache is full.
    #[inline]
    pub fn insert(&mut self, key: FlowKey, epoch: u64, action: A) {
        self.advance(epoch);
        // The slot first (the sweep may remove entries), then one probe for the key. A
        // key already cached (decided again because a connection it relied on was gone)
        // gives the slot back; if the cache was full, that cost an eviction (rare).
        let slot = self.place(key);
        match self.map.entry(key) {
            MapEntry::Vacant(v) => {
                v.insert(Entry {
                    action,
                    epoch,
                    slot,
                });
                self.set_slot(slot, epoch, false);
                if epoch == self.epoch {
                    self.current += 1;
                }
            }
            MapEntry::Occupied(mut o) => {
                let e = o.get_mut();
                let was_current = e.epoch == self.epoch;
                e.action = action;
                e.epoch = epoch;
                let own = e.slot;
                self.set_slot(own, epoch, true);
                match (was_current, epoch == self.epoch) {
                    (false, true) => {
                        self.current += 1;
                        self.stale_reclaimed += 1;
                    }
                    (true, false) => self.current -= 1,
                    _ => {}
                }
                self.free.push(slot);
            }
        }
    }

    /// Records slot `s`'s epoch and CLOCK bit.
    #[inline]
    fn set_slot(&mut self, s: u32, epoch: u64, referenced: bool) {
        let s = s as usize;
        if let Some(slot) = self.ring.get_mut(s) {
            slot.epoch = epoch;
        }
        if let Some(w) = self.refs.get_mut(s / 64) {
            let bit = 1u64 << (s % 64);
            *w = if referenced { *w | bit } else { *w & !bit };
        }
    }

    /// Notes `epoch` as the newest if it is: every entry then is stale.
    #[inline]
    fn advance(&mut self, epoch: u64) {
        if epoch > self.epoch {
            self.epoch = epoch;
            self.current = 0;
        }
    }

    /// Accounts for the removal of entry `e` from the map.
    #[inline]
    fn release(&mut self, e: &Entry<A>) {
        if e.epoch == self.epoch {
            self.current -= 1;
        }
    }

    /// A slot for `key`: a free one, a new one, or one the clock hand empties.
    #[inline]
    fn place(&mut self, key: FlowKey) -> u32 {
        if let Some(s) = self.free.pop() {
            if let Some(k) = self.ring.get_mut(s as usize) {
                k.key = key;
                return s;
            }
        }
        if self.ring.len() < self.capacity {
            self.ring.push(Slot { key, epoch: 0 });
            return (self.ring.len() - 1) as u32;
        }
        let s = self.sweep();
        self.ring[s].key = key;
        s as u32
    }

    /// Empties one slot of the full ring and returns it: the first stale entry after the
    /// hand if there is one, else the first entry the hand finds unreferenced (clearing
    /// the bits it passes). Only the chosen entry is looked up in the map.
    #[cold]
    fn sweep(&mut self) -> usize {
        let n = self.ring.len();
        let stale_left = self.current < self.map.len();
        // One turn finds a stale entry if there is one; otherwise the first turn clears
        // every bit, so the second finds an unreferenced entry at its first step.
        for _ in 0..2 * n {
            let s = self.hand;
            self.hand = if s + 1 >= n { 0 } else { s + 1 };
            let stale = self.ring[s].epoch != self.epoch;
            if !stale {
                if stale_left {
                    continue;
                }
                let (w, bit) = (s / 64, 1u64 << (s % 64));
                if self.refs[w] & bit != 0 {
                    self.refs[w] &= !bit;
                    continue;
                }
            }
            self.remove_slot_owner(s, stale);
            return s;
        }
        // Not reached (see above); take the slot under the hand regardless.
        let s = self.hand;
        self.hand = if s + 1 >= n { 0 } else { s + 1 };
        self.remove_slot_owner(s, false);
        s
    }

    /// Removes the entry owning slot `s`, counted as a stale reclaim or an eviction.
    fn remove_slot_owner(&mut self, s: usize, stale: bool) {
        let Some(e) = self.ring.get(s).and_then(|k| self.map.remove(&k.key)) else {
            return;
        };
        self.release(&e);
        if stale {
            self.stale_reclaimed += 1;
        } else {
            self.evictions += 1;
        }
    }

    /// Drops every entry (for example when ports are renumbered); counters are kept.
    pub fn clear(&mut self) {
        self.map.clear();
        self.ring.clear();
        self.refs.fill(0);
        self.free.clear();
        self.hand = 0;
        self.current = 0;
    }

    /// Flows cached now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The most flows the cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries of the newest epoch evicted to make room for new flows.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Entries of an older epoch dropped (on lookup, or taken by the clock hand).
    pub fn stale_reclaimed(&self) -> u64 {
        self.stale_reclaimed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            in_port: PortIdx(0),
            src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            dst_mac: MacAddr([6, 0, 0, 0, 0, 1]),
            src: "10.0.1.10".parse().unwrap(),
            dst: "10.0.2.20".parse().unwrap(),
            proto: 6,
            src_port: port,
            dst_port: 80,
        }
    }

    /// Keys beyond one port range: `i` spread over source and destination ports.
    fn wide_key(i: u32) -> FlowKey {
        FlowKey {
            dst_port: (i >> 16) as u16,
            ..key(i as u16)
        }
    }

    /// Checks the internal invariants: every cached key owns its slot, free slots own
    /// nothing, `current` counts the newest epoch's entries.
    fn check(c: &FlowCache<u32>) {
        assert!(c.len() <= c.capacity());
        assert!(c.ring.len() <= c.capacity());
        assert_eq!(c.len() + c.free.len(), c.ring.len());
        for (k, e) in &c.map {
            assert_eq!(&c.ring[e.slot as usize].key, k, "the slot's owner");
            assert_eq!(c.ring[e.slot as usize].epoch, e.epoch, "the slot's epoch");
            assert!(!c.free.contains(&e.slot));
        }
        let current = c.map.values().filter(|e| e.epoch == c.epoch).count();
        assert_eq!(c.current, current);
    }

    #[test]
    fn epoch_mismatch_is_a_miss() {
        let mut c = FlowCache::new(16);
        c.insert(key(1), 1, 7u32);
        assert_eq!(c.get(&key(1), 1), Some(7));
        assert_eq!(c.get(&key(2), 1), None);
        assert_eq!(c.get(&key(1), 2), None);
        assert_eq!(c.get(&key(1), 1), None, "removed when found stale");
        check(&c);
    }

    #[test]
    fn capacity_bound_holds_without_growth() {
        let mut c = FlowCache::new(16);
        let room = c.map.capacity();
        for i in 0..10_000u32 {
            c.insert(wide_key(i), 1, i);
            assert!(c.len() <= 16);
            if i % 3 == 0 {
                // Hits set bits the hand must clear.
                let _ = c.get(&wide_key(i), 1);
            }
        }
        check(&c);
        assert_eq!(c.len(), 16);
        assert_eq!(c.evictions(), 10_000 - 16);
        assert_eq!(c.stale_reclaimed(), 0);
        assert_eq!(c.map.capacity(), room, "no growth");
        assert_eq!(c.ring.capacity(), 16, "no growth");
    }

    #[test]
    fn a_hot_entry_survives_a_scan() {
        let cap = 64;
        let mut c = FlowCache::new(cap);
        let hot = key(0);
        c.insert(hot, 1, 0u32);
        for i in 1..=(10 * cap as u32) {
            assert_eq!(c.get(&hot, 1), Some(0), "hot key lost before scan key {i}");
            c.insert(wide_key(1_000 + i), 1, i);
        }
        assert_eq!(c.get(&hot, 1), Some(0));
        assert!(c.evictions() >= 9 * cap as u64);
        check(&c);
    }

    #[test]
    fn unreferenced_entries_go_first() {
        let mut c = FlowCache::new(16);
        for i in 0..16u16 {
            c.insert(key(i), 1, u32::from(i));
        }
        for i in 0..8u16 {
            assert!(c.get(&key(i), 1).is_some());
        }
        // Eight new flows take the eight unreferenced slots; the referenced ones stay.
        for i in 100..108u16 {
            c.insert(key(i), 1, u32::from(i));
        }
        for i in 0..8u16 {
            assert!(c.get(&key(i), 1).is_some(), "referenced {i} kept");
        }
        for i in 8..16u16 {
            assert!(c.get(&key(i), 1).is_none(), "unreferenced {i} evicted");
        }
        assert_eq!(c.evictions(), 8);
        check(&c);
    }

    #[test]
    fn stale_entries_are_reclaimed_on_lookup() {
        let mut c = FlowCache::new(16);
        for i in 0..10u16 {
            c.insert(key(i), 1, 1u32);
        }
        for i in 0..10u16 {
            assert_eq!(c.get(&key(i), 2), None);
        }
        assert!(c.is_empty(), "every stale entry dropped when looked up");
        assert_eq!(c.stale_reclaimed(), 10);
        assert_eq!(c.evictions(), 0);
        check(&c);
        // Their slots are reused.
        for i in 0..16u16 {
            c.insert(key(100 + i), 2, 2);
        }
        assert_eq!(c.len(), 16);
        assert_eq!(c.ring.len(), 16);
        assert_eq!(c.evictions(), 0);
        check(&c);
    }

    #[test]
    fn a_full_table_of_stale_entries_admits_new_ones_without_evicting_current_ones() {
        let cap = 32;
        let mut c = FlowCache::new(cap);
        for i in 0..cap as u16 {
            c.insert(key(i), 1, 1u32);
            // Referenced: the bit must not protect a stale entry.
            let _ = c.get(&key(i), 1);
        }
        // A new epoch: each new flow takes a stale slot, never a current entry, even
        // unreferenced ones.
        for i in 0..cap as u16 {
            c.insert(key(1_000 + i), 2, 2);
            check(&c);
        }
        assert_eq!(c.evictions(), 0);
        assert_eq!(c.stale_reclaimed(), cap as u64);
        for i in 0..cap as u16 {
            assert_eq!(c.get(&key(1_000 + i), 2), Some(2));
        }
        // Mixed: half stale (epoch 2), half current (epoch 3): the stale half goes first.
        for i in 0..(cap / 2) as u16 {
            c.insert(key(2_000 + i), 3, 3);
        }
        assert_eq!(c.evictions(), 0);
        assert_eq!(c.stale_reclaimed(), cap as u64 + cap as u64 / 2);
        for i in 0..(cap / 2) as u16 {
            assert_eq!(c.get(&key(2_000 + i), 3), Some(3));
        }
        check(&c);
    }

    #[test]
    fn reinsert_updates_in_place() {
        let mut c = FlowCache::new(16);
        c.insert(key(1), 1, 1u32);
        c.insert(key(1), 1, 2);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&key(1), 1), Some(2));
        // An older epoch's entry replaced under the new one counts as reclaimed.
        c.insert(key(1), 2, 3);
        assert_eq!(c.get(&key(1), 2), Some(3));
        assert_eq!(c.stale_reclaimed(), 1);
        check(&c);
    }

    #[test]
    fn clear_empties_and_keeps_the_bound() {
        let mut c = FlowCache::new(16);
        for i in 0..40u16 {
            c.insert(key(i), 1, 0u32);
        }
        c.clear();
        assert!(c.is_empty());
        check(&c);
        for i in 0..40u16 {
            c.insert(key(i), 1, 0);
        }
        assert_eq!(c.len(), 16);
        check(&c);
    }
}
