//! IMDSv2 session tokens: handed out by `PUT latest/api/token` with a lifetime of 1 to
//! 21,600 s, valid only on the instance that asked, at most [`MAX_TOKENS`] alive per
//! instance (the oldest goes first).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// The most tokens one instance holds at once.
pub const MAX_TOKENS: usize = 256;
/// The longest lifetime a token may ask for, seconds (AWS: six hours).
pub const MAX_TTL_SECS: u64 = 21_600;

/// One instance's live tokens.
#[derive(Debug, Default)]
pub struct Tokens {
    /// Token → expiry (engine milliseconds).
    live: HashMap<String, u64>,
    /// Random state: a fresh seed per process, so tokens cannot be guessed from a
    /// previous run.
    seed: std::collections::hash_map::RandomState,
    issued: u64,
}

impl Tokens {
    /// Issues a token living `ttl_secs` from `now` (ms).
    pub fn issue(&mut self, now: u64, ttl_secs: u64) -> String {
        self.expire(now);
        if self.live.len() >= MAX_TOKENS {
            if let Some(oldest) = self
                .live
                .iter()
                .min_by_key(|(_, &e)| e)
                .map(|(k, _)| k.clone())
            {
                self.live.remove(&oldest);
            }
        }
        self.issued += 1;
        let mut token = String::from("AQAEA");
        for i in 0..4u64 {
            let mut h = self.seed.build_hasher();
            h.write_u64(self.issued);
            h.write_u64(i);
            h.write_u64(now);
            token.push_str(&format!("{:016x}", h.finish()));
        }
        self.live
            .insert(token.clone(), now.saturating_add(ttl_secs * 1000));
        token
    }

    /// Whether `token` is live at `now`.
    pub fn valid(&self, token: &str, now: u64) -> bool {
        self.live.get(token).is_some_and(|&e| e > now)
    }

    /// Forgets expired tokens.
    pub fn expire(&mut self, now: u64) {
        self.live.retain(|_, e| *e > now);
    }

    /// How many tokens are live.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no token is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lives_its_ttl_and_no_longer() {
        let mut t = Tokens::default();
        let a = t.issue(1_000, 2);
        let b = t.issue(1_000, 2);
        assert_ne!(a, b);
        assert!(t.valid(&a, 2_999));
        assert!(!t.valid(&a, 3_000));
        assert!(!t.valid("AQAEAforged", 1_500));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Tokens::default();
        let first = t.issue(0, 100);
        for i in 0..MAX_TOKENS as u64 {
            t.issue(i + 1, 100);
        }
        assert_eq!(t.len(), MAX_TOKENS);
        assert!(!t.valid(&first, 10), "the oldest went first");
    }
}
