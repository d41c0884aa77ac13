//! Longest-prefix match.
//!
//! One hash map per prefix length that is present, probed from the longest length down.
//! Route tables hold few distinct lengths (a VPC typically has /16, /24 and /0), so a
//! lookup is a handful of hash probes whatever the table size, and the structure is
//! immutable once built (tables are rebuilt on every apply).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use foldhash::fast::FixedState;
use ipnet::IpNet;

/// An address type usable as an LPM key.
pub trait LpmKey: Copy + Eq + Hash {
    /// Address width in bits.
    const BITS: u8;
    /// The address with all bits past `len` cleared.
    fn masked(self, len: u8) -> Self;
}

impl LpmKey for u32 {
    const BITS: u8 = 32;
    fn masked(self, len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            self & (u32::MAX << (32 - u32::from(len.min(32))))
        }
    }
}

impl LpmKey for u128 {
    const BITS: u8 = 128;
    fn masked(self, len: u8) -> u128 {
        if len == 0 {
            0
        } else {
            self & (u128::MAX << (128 - u32::from(len.min(128))))
        }
    }
}

/// A longest-prefix-match table from prefixes of `K` to values `V`.
#[derive(Debug, Clone)]
pub struct Lpm<K, V> {
    /// Present prefix lengths, longest first, each with its exact-match map.
    levels: Vec<(u8, HashMap<K, V, FixedState>)>,
}

impl<K: LpmKey, V> Default for Lpm<K, V> {
    fn default() -> Self {
        Lpm { levels: Vec::new() }
    }
}

impl<K: LpmKey, V> Lpm<K, V> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts `prefix/len → value` (host bits are cleared); returns the value it replaced.
    pub fn insert(&mut self, prefix: K, len: u8, value: V) -> Option<V> {
        let len = len.min(K::BITS);
        let pos = match self.levels.iter().position(|(l, _)| *l <= len) {
            Some(p) if self.levels[p].0 == len => p,
            Some(p) => {
                self.levels.insert(p, (len, HashMap::default()));
                p
            }
            None => {
                self.levels.push((len, HashMap::default()));
                self.levels.len() - 1
            }
        };
        self.levels[pos].1.insert(prefix.masked(len), value)
    }

    /// The value of the longest prefix containing `addr`, with that prefix's length.
    #[inline]
    pub fn lookup(&self, addr: K) -> Option<(&V, u8)> {
        self.levels
            .iter()
            .find_map(|(len, map)| map.get(&addr.masked(*len)).map(|v| (v, *len)))
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.levels.iter().map(|(_, m)| m.len()).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dual-stack LPM table keyed by [`IpNet`] and looked up by [`IpAddr`].
#[derive(Debug, Clone)]
pub struct IpLpm<V> {
    v4: Lpm<u32, V>,
    v6: Lpm<u128, V>,
}

impl<V> Default for IpLpm<V> {
    fn default() -> Self {
        IpLpm {
            v4: Lpm::new(),
            v6: Lpm::new(),
        }
    }
}

impl<V> IpLpm<V> {
    /// Inserts a prefix; returns the value it replaced.
    pub fn insert(&mut self, net: IpNet, value: V) -> Option<V> {
        match net {
            IpNet::V4(n) => self.v4.insert(u32::from(n.addr()), n.prefix_len(), value),
            IpNet::V6(n) => self.v6.insert(u128::from(n.addr()), n.prefix_len(), value),
        }
    }

    /// Longest-prefix match of `addr`: IPv4 and IPv6 prefixes never match each other.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<(&V, u8)> {
        match addr {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)),
        }
    }

    /// Number of prefixes of both families.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(routes: &[(u32, u8, u32)], addr: u32) -> Option<(u32, u8)> {
        // Later duplicates replace earlier ones, as insert does.
        let mut best: Option<(u32, u8)> = None;
        for &(p, l, v) in routes {
            if addr.masked(l) == p.masked(l) {
                match best {
                    Some((_, bl)) if bl > l => {}
                    _ => best = Some((v, l)),
                }
            }
        }
        best
    }

    proptest! {
        #[test]
        fn matches_naive_reference(
            routes in proptest::collection::vec((any::<u32>(), 0u8..=32, any::<u32>()), 0..200),
            probes in proptest::collection::vec(any::<u32>(), 1..100),
        ) {
            let mut t = Lpm::new();
            for &(p, l, v) in &routes {
                t.insert(p, l, v);
            }
            // Probe random addresses and addresses inside each prefix.
            let inside = routes.iter().map(|&(p, l, _)| p.masked(l) | (!0u32).checked_shr(u32::from(l)).unwrap_or(0) & 0x5a5a5a5a);
            for a in probes.iter().copied().chain(inside) {
                let got = t.lookup(a).map(|(v, l)| (*v, l));
                prop_assert_eq!(got, naive(&routes, a), "addr {:08x}", a);
            }
        }
    }

    #[test]
    fn scenario_7_lpm_and_families() {
        let mut t = IpLpm::default();
        t.insert("10.0.0.0/16".parse().unwrap(), "local");
        t.insert("172.31.0.0/16".parse().unwrap(), "pcx-1");
        t.insert("0.0.0.0/0".parse().unwrap(), "igw");
        let l = |a: &str| t.lookup(a.parse().unwrap()).map(|(v, _)| *v);
        assert_eq!(l("172.31.5.5"), Some("pcx-1"));
        assert_eq!(l("8.8.8.8"), Some("igw"));
        assert_eq!(l("10.0.2.30"), Some("local"));
        // 0.0.0.0/0 does not cover IPv6.
        assert_eq!(l("2600::1"), None);
    }

    #[test]
    fn v6_prefixes() {
        let mut t = IpLpm::default();
        t.insert("2600:1f18::/56".parse().unwrap(), 1);
        t.insert("2600:1f18:0:1::/64".parse().unwrap(), 2);
        t.insert("::/0".parse().unwrap(), 3);
        let l = |a: &str| t.lookup(a.parse().unwrap()).map(|(v, len)| (*v, len));
        assert_eq!(l("2600:1f18:0:1::5"), Some((2, 64)));
        assert_eq!(l("2600:1f18:0:2::5"), Some((1, 56)));
        assert_eq!(l("2001:db8::1"), Some((3, 0)));
        assert_eq!(l("10.0.0.1"), None);
    }
}
