//! A token bucket: how many packets a port may send per second, with a short burst.
//! Used for per-ENI packets-per-second allowances (AWS `pps_allowance_exceeded`).

/// A packets-per-second allowance: `rate` per second on average, up to `burst` at once.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    /// Capacity, in thousandths of a packet.
    burst_milli: u64,
    /// Tokens now, in thousandths of a packet (one packet per second adds one per ms).
    tokens_milli: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket of `rate` packets per second whose burst is 50 ms of it (at least
    /// 64 packets: one 64 KB TCP super-frame is about 45), starting at `now_ms`.
    pub fn new(rate: u32, now_ms: u64) -> TokenBucket {
        let rate = u64::from(rate);
        let burst = (rate / 20).max(64);
        TokenBucket {
            rate,
            burst_milli: burst * 1000,
            tokens_milli: burst * 1000,
            last_ms: now_ms,
        }
    }

    /// Takes `packets` tokens at `now_ms` if there are that many; returns whether it did.
    #[inline]
    pub fn take(&mut self, packets: u64, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        if elapsed > 0 {
            self.tokens_milli = self
                .tokens_milli
                .saturating_add(elapsed.saturating_mul(self.rate))
                .min(self.burst_milli);
            self.last_ms = now_ms;
        }
        let need = packets.saturating_mul(1000);
        if self.tokens_milli >= need {
            self.tokens_milli -= need;
            true
        } else {
            false
        }
    }
}

impl TokenBucket {
    /// Milliseconds from `now_ms` until `packets` tokens are there (0: now); a request
    /// above the burst waits for a full bucket.
    pub fn wait_ms(&self, packets: u64, now_ms: u64) -> u64 {
        if self.rate == 0 {
            return u64::MAX;
        }
        let elapsed = now_ms.saturating_sub(self.last_ms);
        let tokens = self
            .tokens_milli
            .saturating_add(elapsed.saturating_mul(self.rate))
            .min(self.burst_milli);
        let need = packets.saturating_mul(1000).min(self.burst_milli);
        need.saturating_sub(tokens).div_ceil(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(10_000, 0);
        // Burst: 500 packets (50 ms of 10,000/s).
        assert_eq!((0..1000).filter(|_| b.take(1, 0)).count(), 500);
        // Then 10 per ms.
        assert_eq!((0..100).filter(|_| b.take(1, 1)).count(), 10);
        assert_eq!((0..100).filter(|_| b.take(1, 11)).count(), 100);
        // A long pause refills to the burst, not beyond.
        assert_eq!((0..1000).filter(|_| b.take(1, 10_000)).count(), 500);
        // A super-frame takes its segments at once.
        let mut b = TokenBucket::new(100, 0);
        assert!(b.take(45, 0));
        assert!(!b.take(45, 0));
    }

    #[test]
    fn the_wait_for_a_batch_is_the_time_to_refill_it() {
        let mut b = TokenBucket::new(10_000, 0);
        assert_eq!(b.wait_ms(32, 0), 0);
        while b.take(1, 0) {}
        // 10 packets per ms: 32 take 4 ms (rounded up).
        assert_eq!(b.wait_ms(32, 0), 4);
        assert_eq!(b.wait_ms(32, 2), 2);
        assert_eq!(b.wait_ms(32, 4), 0);
        // More than the burst: as long as a full bucket.
        assert_eq!(b.wait_ms(10_000, 0), 50);
        let mut slow = TokenBucket::new(100, 0);
        while slow.take(1, 0) {}
        assert_eq!(slow.wait_ms(32, 0), 320);
    }
}
