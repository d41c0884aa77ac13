//! The partial drop rate (PDR) search for the 64-byte UDP measurement: RFC 2544's
//! throughput search with a loss tolerance (FD.io CSIT's "PDR"), pure and unit-tested with
//! fake trials.
//!
//! An unconstrained run (the sender as fast as it goes) comes first, made by the caller. If
//! its loss is within [`PdrSearch::max_loss_pct`], that run is the PDR: the sender cannot
//! offer more. Otherwise a binary search of [`PdrSearch::steps`] short trials
//! ([`PdrSearch::trial_secs`] each) runs between [`PdrSearch::low_pps`] and the rate the
//! sender reached unconstrained; a trial passes when its loss is within the threshold. If
//! no trial passed, the low rate itself is tried; if it loses too, the search fails and says
//! so. The highest passing rate is then confirmed by one run of
//! [`PdrSearch::confirm_secs`]; if the confirmation loses more than the threshold, one more
//! run is made at the rate that confirmation delivered (at least one resolution step,
//! [`PdrSearch::resolution_pps`], lower; not below the low rate), and if that fails too
//! the search fails.
//!
//! The trials are bounded: at most `steps + 1` short trials and 2 confirmations
//! ([`PdrSearch::max_trial_secs`]), besides the unconstrained run.

use super::error::{Error, Result};
use super::metrics::UdpRun;

/// The search's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PdrSearch {
    /// The lowest offered rate tried, packets per second.
    pub low_pps: f64,
    /// Bisection steps (trials) between the low rate and the unconstrained rate.
    pub steps: u32,
    /// The loss a passing trial may have, percent.
    pub max_loss_pct: f64,
    /// Seconds per search trial.
    pub trial_secs: u32,
    /// Seconds of the confirmation run at the rate found.
    pub confirm_secs: u32,
}

/// One run the search made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trial {
    /// The rate offered (asked of the sender), packets per second.
    pub offered_pps: f64,
    /// Its length, seconds.
    pub secs: u32,
    /// What it measured.
    pub run: UdpRun,
    /// Whether its loss was within the threshold.
    pub passed: bool,
}

/// What the search found.
#[derive(Clone, Debug, PartialEq)]
pub struct Pdr {
    /// The highest offered rate whose loss stayed within the threshold, packets per second
    /// (the unconstrained sender's rate when that run already passed).
    pub offered_pps: f64,
    /// The run that confirmed it (the unconstrained run itself when that passed); its
    /// `delivered_pps` is the PDR figure.
    pub confirmed: UdpRun,
    /// Every run of the search, in order (confirmations included, the unconstrained run
    /// not).
    pub trials: Vec<Trial>,
}

impl PdrSearch {
    /// Whether `run` lost no more than the threshold.
    pub fn passes(&self, run: &UdpRun) -> bool {
        run.loss_pct <= self.max_loss_pct
    }

    /// The width of the bracket left after the bisection between the low rate and `high`:
    /// how far the rate found may be below the true limit.
    pub fn resolution_pps(&self, high_pps: f64) -> f64 {
        (high_pps - self.low_pps).max(0.0) / 2f64.powi(self.steps as i32)
    }

    /// The most seconds of runs one search takes (the unconstrained run excluded): every
    /// bisection step, the low rate, and two confirmations.
    pub fn max_trial_secs(&self) -> u32 {
        (self.steps + 1) * self.trial_secs + 2 * self.confirm_secs
    }

    /// Runs the search. `unconstrained` is the run with the sender unthrottled;
    /// `trial(offered_pps, secs)` runs one trial at that offered rate.
    pub fn run(
        &self,
        unconstrained: &UdpRun,
        mut trial: impl FnMut(f64, u32) -> Result<UdpRun>,
    ) -> Result<Pdr> {
        if self.passes(unconstrained) {
            return Ok(Pdr {
                offered_pps: unconstrained.offered_pps,
                confirmed: *unconstrained,
                trials: Vec::new(),
            });
        }
        let mut trials = Vec::new();
        let mut run_one = |rate: f64, secs: u32, trials: &mut Vec<Trial>| -> Result<Trial> {
            let run = trial(rate, secs)?;
            let t = Trial {
                offered_pps: rate,
                secs,
                run,
                passed: self.passes(&run),
            };
            tracing::debug!(?t, "udp pdr trial");
            trials.push(t);
            Ok(t)
        };
        let high = unconstrained.offered_pps.max(self.low_pps);
        let (mut lo, mut hi) = (self.low_pps, high);
        let mut lo_passed = false;
        for _ in 0..self.steps {
            let mid = (lo + hi) / 2.0;
            if run_one(mid, self.trial_secs, &mut trials)?.passed {
                lo = mid;
                lo_passed = true;
            } else {
                hi = mid;
            }
        }
        if !lo_passed {
            let t = run_one(lo, self.trial_secs, &mut trials)?;
            if !t.passed {
                return Err(Error::Measurement(format!(
                    "UDP PDR: {:.1} % loss even at the lowest rate tried, {:.1} kpps \
                     (threshold {} %)",
                    t.run.loss_pct,
                    lo / 1000.0,
                    self.max_loss_pct
                )));
            }
        }
        let mut rate = lo;
        let mut t = run_one(rate, self.confirm_secs, &mut trials)?;
        if !t.passed {
            // Offer what the failed confirmation delivered (a plane capped at C pps loses
            // nothing at C), at least one resolution step lower.
            let lower = (rate - self.resolution_pps(high))
                .min(t.run.delivered_pps)
                .max(self.low_pps);
            if lower < rate {
                rate = lower;
                t = run_one(rate, self.confirm_secs, &mut trials)?;
            }
        }
        if !t.passed {
            return Err(Error::Measurement(format!(
                "UDP PDR not confirmed: {:.1} % loss at {:.1} kpps over {} s (threshold {} %)",
                t.run.loss_pct,
                rate / 1000.0,
                t.secs,
                self.max_loss_pct
            )));
        }
        Ok(Pdr {
            offered_pps: rate,
            confirmed: t.run,
            trials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEARCH: PdrSearch = PdrSearch {
        low_pps: 10_000.0,
        steps: 6,
        max_loss_pct: 5.0,
        trial_secs: 1,
        confirm_secs: 3,
    };

    /// A plane that delivers everything up to `limit` pps and drops what exceeds it.
    fn capped(limit: f64) -> impl FnMut(f64, u32) -> Result<UdpRun> {
        move |rate, _secs| {
            let delivered = rate.min(limit);
            Ok(UdpRun {
                offered_pps: rate,
                delivered_pps: delivered,
                loss_pct: 100.0 * (rate - delivered) / rate,
            })
        }
    }

    /// A plane that loses nothing up to `limit` pps and 30 % above it.
    fn cliff(limit: f64) -> impl FnMut(f64, u32) -> Result<UdpRun> {
        move |rate, _secs| {
            let loss = if rate <= limit { 0.0 } else { 30.0 };
            Ok(UdpRun {
                offered_pps: rate,
                delivered_pps: rate * (1.0 - loss / 100.0),
                loss_pct: loss,
            })
        }
    }

    fn unconstrained(sent: f64, delivered: f64) -> UdpRun {
        UdpRun {
            offered_pps: sent,
            delivered_pps: delivered,
            loss_pct: 100.0 * (sent - delivered) / sent,
        }
    }

    #[test]
    fn converges_within_one_step_of_the_limit() {
        let high = 220_000.0;
        let step = SEARCH.resolution_pps(high);
        assert!((step - 210_000.0 / 64.0).abs() < 1e-9);
        for limit in [
            11_000.0, 57_000.0, 115_000.0, 123_456.0, 200_000.0, 219_000.0,
        ] {
            let mut calls = 0;
            let mut f = cliff(limit);
            let pdr = SEARCH
                .run(&unconstrained(high, 115_000.0), |r, s| {
                    calls += 1;
                    f(r, s)
                })
                .unwrap();
            assert!(pdr.offered_pps <= limit, "{limit}: {pdr:?}");
            assert!(pdr.offered_pps > limit - step, "{limit}: {pdr:?}");
            assert_eq!(pdr.confirmed.delivered_pps, pdr.offered_pps);
            // Bisection, then one confirmation; the low rate is tried only when no step
            // passed (a limit within the lowest step).
            let low_trial = u32::from(limit < SEARCH.low_pps + step);
            assert_eq!(calls, SEARCH.steps + 1 + low_trial, "{limit}");
            assert_eq!(pdr.trials.len(), calls as usize);
            let last = pdr.trials.last().unwrap();
            assert_eq!((last.secs, last.passed), (SEARCH.confirm_secs, true));
        }
        // A plane that loses in proportion to the excess: 5 % loss at limit / 0.95.
        let pdr = SEARCH
            .run(&unconstrained(high, 115_000.0), capped(115_000.0))
            .unwrap();
        let edge = 115_000.0 / 0.95;
        assert!(
            pdr.offered_pps <= edge && pdr.offered_pps > edge - step,
            "{pdr:?}"
        );
        assert!(pdr.confirmed.delivered_pps > 115_000.0 - step, "{pdr:?}");
    }

    #[test]
    fn a_plane_that_always_loses_fails_and_says_so() {
        let mut calls = 0;
        let err = SEARCH
            .run(&unconstrained(220_000.0, 100_000.0), |rate, _| {
                calls += 1;
                Ok(UdpRun {
                    offered_pps: rate,
                    delivered_pps: rate * 0.5,
                    loss_pct: 50.0,
                })
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("even at the lowest rate tried, 10.0 kpps"),
            "{err}"
        );
        // Every step, then the low rate.
        assert_eq!(calls, SEARCH.steps + 1);
    }

    #[test]
    fn a_plane_that_passes_only_at_the_low_rate_gives_it() {
        let pdr = SEARCH
            .run(&unconstrained(220_000.0, 100_000.0), cliff(SEARCH.low_pps))
            .unwrap();
        assert_eq!(pdr.offered_pps, SEARCH.low_pps);
        assert_eq!(pdr.trials.len(), SEARCH.steps as usize + 2);
    }

    #[test]
    fn an_unconstrained_run_within_the_threshold_is_the_pdr() {
        let run = unconstrained(115_000.0, 114_300.0);
        let pdr = SEARCH
            .run(&run, |_, _| panic!("no trial expected"))
            .unwrap();
        assert_eq!(pdr.confirmed, run);
        assert_eq!(pdr.offered_pps, 115_000.0);
        assert!(pdr.trials.is_empty());
    }

    #[test]
    fn a_failed_confirmation_steps_down_once() {
        let high = 220_000.0;
        let step = SEARCH.resolution_pps(high);
        // The short trials pass up to 150 kpps, the long runs only up to 140 kpps (30 %
        // loss above: the fallback offers the 70 % delivered).
        let trial = |rate: f64, secs: u32| {
            let limit = if secs == SEARCH.confirm_secs {
                140_000.0
            } else {
                150_000.0
            };
            cliff(limit)(rate, secs)
        };
        let pdr = SEARCH.run(&unconstrained(high, 100_000.0), trial).unwrap();
        assert_eq!(pdr.trials.len(), SEARCH.steps as usize + 2);
        let first = pdr.trials[SEARCH.steps as usize];
        assert!(
            first.offered_pps > 150_000.0 - step && !first.passed,
            "{first:?}"
        );
        assert_eq!(pdr.offered_pps, first.run.delivered_pps);
        // A plane capped at 148 kpps (loss in proportion): the fallback offers its cap.
        let trial = |rate: f64, secs: u32| {
            let limit = if secs == SEARCH.confirm_secs {
                148_000.0
            } else {
                150_000.0
            };
            capped(limit)(rate, secs)
        };
        let pdr = SEARCH.run(&unconstrained(high, 100_000.0), trial).unwrap();
        // The trials pass up to 150 / 0.95 kpps; that loses 6 % over the long run.
        assert!(!pdr.trials[SEARCH.steps as usize].passed, "{pdr:?}");
        assert_eq!(pdr.offered_pps, 148_000.0);
        assert_eq!(pdr.confirmed.loss_pct, 0.0);
        let trial = |rate: f64, secs: u32| {
            let limit = if secs == SEARCH.confirm_secs {
                130_000.0
            } else {
                150_000.0
            };
            capped(limit)(rate, secs)
        };
        let pdr = SEARCH.run(&unconstrained(high, 100_000.0), trial).unwrap();
        assert_eq!(pdr.offered_pps, 130_000.0);
        assert_eq!(pdr.confirmed.loss_pct, 0.0);
        // A fallback never goes below the low rate.
        let trial = |rate: f64, secs: u32| {
            let loss = if secs == SEARCH.confirm_secs {
                99.0
            } else {
                0.0
            };
            Ok(UdpRun {
                offered_pps: rate,
                delivered_pps: rate * (1.0 - loss / 100.0),
                loss_pct: loss,
            })
        };
        let mut rates = Vec::new();
        let _ = SEARCH.run(&unconstrained(high, 100_000.0), |r, s| {
            rates.push(r);
            trial(r, s)
        });
        assert_eq!(rates.last(), Some(&SEARCH.low_pps));
        // Long runs never pass: the search fails after two confirmations.
        let mut calls = 0;
        let err = SEARCH
            .run(&unconstrained(high, 100_000.0), |rate, secs| {
                calls += 1;
                let limit = if secs == SEARCH.confirm_secs {
                    0.0
                } else {
                    150_000.0
                };
                cliff(limit)(rate, secs)
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("not confirmed"), "{err}");
        assert_eq!(calls, SEARCH.steps + 2);
        assert_eq!(SEARCH.max_trial_secs(), 7 + 6);
    }

    #[test]
    fn trial_errors_propagate() {
        let err = SEARCH
            .run(&unconstrained(220_000.0, 100_000.0), |_, _| {
                Err(Error::Measurement("iperf3 died".into()))
            })
            .unwrap_err();
        assert!(err.to_string().contains("iperf3 died"), "{err}");
    }
}
