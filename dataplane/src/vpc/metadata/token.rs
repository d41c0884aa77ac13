//! IMDSv2 session tokens: handed out by `PUT latest/api/token` with a lifetime of 1 to
//! 21,600 s, valid only on the instance that asked.
//!
//! Tokens are stateless: nothing is remembered when one is issued. A token carries its
//! expiry (engine milliseconds) and a nonce, sealed by a MAC over (instance id, expiry,
//! nonce) under a [`TokenKey`]; checking one is recomputing the MAC. So any forwarding
//! worker whose service holds a clone of the same key validates a token another worker
//! issued (the `PUT` and the next `GET` are different TCP connections, and may be steered
//! to different workers), and a token costs no memory however many an instance asks for.
//! The instance is bound through the MAC only: a token of instance A is not valid for B.
//!
//! Format ([`TOKEN_LEN`] ASCII characters): `AQAEA`, then lower-case hex of the expiry
//! (16 digits), the nonce (16 digits) and the 128-bit MAC (32 digits). The MAC is two
//! keyed SipHash outputs (std's `RandomState`, seeded from the OS per process) with
//! different domain words. A token outlives neither the process (a restart draws a new
//! key) nor its expiry; it cannot be revoked earlier, which IMDSv2 does not offer either.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// The longest lifetime a token may ask for, seconds (AWS: six hours).
pub const MAX_TTL_SECS: u64 = 21_600;
/// What every token starts with.
pub const TOKEN_PREFIX: &str = "AQAEA";
/// A token's length: the prefix and 64 hex digits.
pub const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 64;

/// Domain words of the MAC's two halves, and of the nonce.
const MAC_HI: u64 = 0x696d_6473_2d6d_6163; // "imds-mac"
const MAC_LO: u64 = 0x696d_6473_2d6d_6132; // "imds-ma2"
const NONCE: u64 = 0x696d_6473_2d6e_6f6e; // "imds-non"

/// The secret that seals tokens: 128 bits of per-process randomness (the keys of a
/// `RandomState`, drawn from the OS). Clones seal and check identically: the daemon gives
/// every worker's [`super::MetadataService`] a clone of one key.
#[derive(Clone)]
pub struct TokenKey(RandomState);

impl TokenKey {
    /// A fresh random key.
    pub fn random() -> Self {
        Self(RandomState::new())
    }

    /// The MAC of (`instance`, `expiry`, `nonce`).
    fn mac(&self, instance: &str, expiry: u64, nonce: u64) -> (u64, u64) {
        let half = |domain: u64| {
            let mut h = self.0.build_hasher();
            h.write_u64(domain);
            h.write_u64(instance.len() as u64);
            h.write(instance.as_bytes());
            h.write_u64(expiry);
            h.write_u64(nonce);
            h.finish()
        };
        (half(MAC_HI), half(MAC_LO))
    }

    /// The token for `instance` expiring at `expiry` (ms) with `nonce`.
    pub fn seal(&self, instance: &str, expiry: u64, nonce: u64) -> String {
        let (hi, lo) = self.mac(instance, expiry, nonce);
        format!("{TOKEN_PREFIX}{expiry:016x}{nonce:016x}{hi:016x}{lo:016x}")
    }

    /// Whether `token` was sealed by this key (or a clone) for `instance` and is live at
    /// `now` (ms). Anything malformed (a guest writes this header) is simply invalid.
    pub fn valid(&self, token: &str, instance: &str, now: u64) -> bool {
        let Some([expiry, nonce, hi, lo]) = parse(token) else {
            return false;
        };
        let (h, l) = self.mac(instance, expiry, nonce);
        // Compared without an early exit.
        let mac_ok = ((h ^ hi) | (l ^ lo)) == 0;
        mac_ok && expiry > now
    }
}

impl Default for TokenKey {
    /// A fresh random key.
    fn default() -> Self {
        Self::random()
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// The four 64-bit fields of a well-formed token: exactly [`TOKEN_LEN`] bytes, the
/// prefix, then lower-case hex only (one spelling per token).
fn parse(token: &str) -> Option<[u64; 4]> {
    let b = token.as_bytes();
    if b.len() != TOKEN_LEN || !b.starts_with(TOKEN_PREFIX.as_bytes()) {
        return None;
    }
    let mut fields = [0u64; 4];
    for (field, digits) in fields
        .iter_mut()
        .zip(b[TOKEN_PREFIX.len()..].chunks_exact(16))
    {
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                _ => return None,
            };
            *field = (*field << 4) | u64::from(v);
        }
    }
    Some(fields)
}

/// Issues and checks the tokens of the instance being served (see [`Tokens::serve`]):
/// a key, a nonce source, and no per-token state.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    key: TokenKey,
    /// Keys the nonces: random per service, so two workers' counters do not give the
    /// same nonce.
    nonces: TokenKey,
    issued: u64,
    /// The instance whose requests are answered now.
    instance: String,
}

impl Tokens {
    /// Tokens sealed with `key`.
    pub fn new(key: TokenKey) -> Self {
        Self {
            key,
            ..Self::default()
        }
    }

    /// Seals and checks with `key` from now on (tokens of the previous key stop being
    /// valid).
    pub fn set_key(&mut self, key: TokenKey) {
        self.key = key;
    }

    /// The key tokens are sealed with.
    pub fn key(&self) -> &TokenKey {
        &self.key
    }

    /// Answers for `instance` from now on: tokens are issued to it and checked against it.
    pub fn serve(&mut self, instance: &str) {
        if self.instance != instance {
            self.instance.clear();
            self.instance.push_str(instance);
        }
    }

    /// The instance being served.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Issues a token to the instance being served, living `ttl_secs` from `now` (ms).
    pub fn issue(&mut self, now: u64, ttl_secs: u64) -> String {
        self.issued += 1;
        let mut h = self.nonces.0.build_hasher();
        h.write_u64(NONCE);
        h.write_u64(self.issued);
        let nonce = h.finish();
        let expiry = now.saturating_add(ttl_secs.saturating_mul(1000));
        self.key.seal(&self.instance, expiry, nonce)
    }

    /// Whether `token` is live at `now` for the instance being served.
    pub fn valid(&self, token: &str, now: u64) -> bool {
        self.key.valid(token, &self.instance, now)
    }

    /// How many tokens were issued (none is remembered).
    pub fn issued(&self) -> u64 {
        self.issued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: &str = "i-0123456789abcdef0";

    fn tokens(key: &TokenKey, instance: &str) -> Tokens {
        let mut t = Tokens::new(key.clone());
        t.serve(instance);
        t
    }

    #[test]
    fn a_token_lives_its_ttl_and_no_longer() {
        let mut t = tokens(&TokenKey::random(), I);
        let a = t.issue(1_000, 2);
        let b = t.issue(1_000, 2);
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert!(t.valid(&a, 2_999));
        assert!(!t.valid(&a, 3_000));
        assert!(!t.valid("AQAEAforged", 1_500));
        assert_eq!(t.issued(), 2);
    }

    #[test]
    fn a_clone_of_the_key_validates_on_another_service() {
        let key = TokenKey::random();
        let mut worker_a = tokens(&key, I);
        let worker_b = tokens(&key, I);
        let tok = worker_a.issue(0, 60);
        assert!(worker_b.valid(&tok, 59_999));
        assert!(!worker_b.valid(&tok, 60_000), "not after expiry");
        // Two services, one key: their tokens still differ.
        let mut worker_b = worker_b;
        assert_ne!(worker_b.issue(0, 60), tok);
    }

    #[test]
    fn another_key_or_instance_refuses() {
        let key = TokenKey::random();
        let mut t = tokens(&key, I);
        let tok = t.issue(0, 60);
        assert!(!tokens(&TokenKey::random(), I).valid(&tok, 1));
        assert!(!tokens(&key, "i-0fedcba9876543210").valid(&tok, 1));
        assert!(!key.valid(&tok, "", 1));
        // The instance is not printed in the token.
        assert!(!tok.contains("0123456789abcdef0"));
        // A new key (a restart) ends the old tokens.
        t.set_key(TokenKey::random());
        assert!(!t.valid(&tok, 1));
        let tok = t.issue(0, 60);
        assert!(t.valid(&tok, 1));
    }

    #[test]
    fn the_expiry_cannot_be_extended() {
        let key = TokenKey::random();
        let mut t = tokens(&key, I);
        let tok = t.issue(0, 1);
        assert!(t.valid(&tok, 999));
        // Rewrite the expiry field to the far future: the MAC no longer matches.
        let forged = format!(
            "{TOKEN_PREFIX}{:016x}{}",
            u64::MAX,
            &tok[TOKEN_PREFIX.len() + 16..]
        );
        assert_eq!(forged.len(), TOKEN_LEN);
        assert!(!t.valid(&forged, 2_000));
    }

    #[test]
    fn the_longest_ttl_does_not_overflow() {
        let mut t = tokens(&TokenKey::random(), I);
        let tok = t.issue(u64::MAX - 5, MAX_TTL_SECS);
        // Saturated at u64::MAX: still live just before it.
        assert!(t.valid(&tok, u64::MAX - 1));
        assert!(!t.valid(&tok, u64::MAX));
    }

    #[test]
    fn garbage_is_invalid() {
        let mut t = tokens(&TokenKey::random(), I);
        let tok = t.issue(0, 60);
        let upper = format!("{TOKEN_PREFIX}{}", tok[TOKEN_PREFIX.len()..].to_uppercase());
        let mut wrong_prefix = tok.clone();
        wrong_prefix.replace_range(0..1, "B");
        let mut cases = vec![
            String::new(),
            "AQAEA".into(),
            "AQAEAforged".into(),
            wrong_prefix,
            tok[..TOKEN_LEN - 1].to_string(),
            format!("{tok}0"),
            format!("{}g", &tok[..TOKEN_LEN - 1]),
            format!("{}+{}", TOKEN_PREFIX, &tok[TOKEN_PREFIX.len() + 1..]),
            format!("{} ", &tok[..TOKEN_LEN - 1]),
            // Multi-byte characters at the field boundaries.
            format!("{}é{}", TOKEN_PREFIX, &tok[TOKEN_PREFIX.len() + 2..]),
            format!("{}\u{20ac}{}", &tok[..20], &tok[23..]),
            "A".repeat(TOKEN_LEN),
            "0".repeat(TOKEN_LEN),
            "x".repeat(1 << 20),
        ];
        if upper != tok {
            cases.push(upper);
        }
        // Every bit of every digit flipped to another hex digit (MAC, nonce, expiry).
        for i in TOKEN_PREFIX.len()..TOKEN_LEN {
            let mut b = tok.clone().into_bytes();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            cases.push(String::from_utf8(b).expect("ascii"));
        }
        for c in &cases {
            assert!(!t.valid(c, 1), "{c:?}");
        }
        assert!(t.valid(&tok, 1));
    }

    #[test]
    fn a_flipped_mac_bit_is_invalid() {
        let key = TokenKey::random();
        let mut t = tokens(&key, I);
        let tok = t.issue(0, 60);
        let f = parse(&tok).expect("well-formed");
        for bit in 0..128 {
            let (mut hi, mut lo) = (f[2], f[3]);
            if bit < 64 {
                hi ^= 1 << bit;
            } else {
                lo ^= 1 << (bit - 64);
            }
            let forged = format!("{TOKEN_PREFIX}{:016x}{:016x}{hi:016x}{lo:016x}", f[0], f[1]);
            assert!(!t.valid(&forged, 1), "bit {bit}");
        }
    }

    #[test]
    fn the_key_is_not_printed() {
        let t = Tokens::default();
        assert_eq!(format!("{:?}", TokenKey::random()), "TokenKey(..)");
        let dbg = format!("{t:?}");
        assert!(dbg.contains("TokenKey(..)"), "{dbg}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_validates_nor_panics(s in ".{0,100}") {
            let t = tokens(&TokenKey::random(), I);
            proptest::prop_assert!(!t.valid(&s, 0));
        }

        #[test]
        fn well_formed_random_tokens_are_invalid(
            s in "[0-9a-f]{64}",
        ) {
            let t = tokens(&TokenKey::random(), I);
            let tok = format!("{TOKEN_PREFIX}{s}");
            proptest::prop_assert!(!t.valid(&tok, 0));
        }
    }
}
