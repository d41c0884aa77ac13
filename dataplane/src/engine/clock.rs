//! The engine's clock: milliseconds since start, read once per batch (never per
//! packet), or set by hand in tests and benches.

use std::time::Instant;

/// The engine's notion of now, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// Milliseconds since this instant (the daemon).
    Real(Instant, u64),
    /// Set by hand (tests and benches).
    Manual(u64),
}

impl Clock {
    /// Reads the real clock (a hand-set one stays as it is).
    pub fn tick(&mut self) {
        if let Clock::Real(base, _) = *self {
            *self = Clock::Real(base, base.elapsed().as_millis() as u64);
        }
    }

    /// Now, in milliseconds.
    pub fn now(&self) -> u64 {
        match *self {
            Clock::Real(_, ms) | Clock::Manual(ms) => ms,
        }
    }
}
