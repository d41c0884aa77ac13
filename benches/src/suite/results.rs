//! What a run produced: one [`Sample`] per round × plane × metric, the ping round trips
//! for the latency distribution, and the statistics over them (medians, min–max, the
//! ratio of two planes computed per round). Pure: unit-tested without a network.

use super::metrics::Metric;

/// Which planes are compared with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// Client and server in two subnets of one VPC, routed (vpcd, the kernel, OVS, the
    /// TAP forwarder).
    Routed,
    /// A private instance reaching an internet host through source NAT (vpcd's NAT gateway
    /// and internet gateway, the kernel with nftables masquerade).
    Nat,
}

impl Group {
    /// Both groups, in table order.
    pub const ALL: [Group; 2] = [Group::Routed, Group::Nat];

    /// Short key (CSV).
    pub fn key(self) -> &'static str {
        match self {
            Group::Routed => "routed",
            Group::Nat => "nat",
        }
    }

    /// Heading of the group's table.
    pub fn title(self) -> &'static str {
        match self {
            Group::Routed => {
                "Routed: client 10.0.1.10 → server 10.0.2.20 in another subnet, every link MTU 9001"
            }
            Group::Nat => {
                "NAT: private client 10.0.1.10 → internet host 203.0.113.5 through source NAT \
                 (MTU 9001 inside, 1500 on the internet side, as an internet gateway has)"
            }
        }
    }
}

/// One figure of one plane in one round.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Round number, from 1.
    pub round: u32,
    /// The plane's name.
    pub plane: String,
    /// The plane's group.
    pub group: Group,
    /// What was measured.
    pub metric: Metric,
    /// The figure, in the metric's unit.
    pub value: f64,
    /// Whether the quiet check passed before the measurement.
    pub quiet: bool,
    /// The machine's busy fraction (0..=1) the quiet check saw last.
    pub busy: f64,
}

/// The ping round trips of one plane in one round (µs, in order).
#[derive(Clone, Debug, PartialEq)]
pub struct PingSeries {
    /// Round number, from 1.
    pub round: u32,
    /// The plane's name.
    pub plane: String,
    /// Round trips, µs.
    pub times_us: Vec<f64>,
}

/// What the quiet check saw before one measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct QuietRecord {
    /// Round number, from 1.
    pub round: u32,
    /// The plane's name.
    pub plane: String,
    /// The measurement's key (`tcp1`, `udp`, …).
    pub measurement: &'static str,
    /// Whether the machine was quiet.
    pub quiet: bool,
    /// The busy fraction (0..=1) of the last sample.
    pub busy: f64,
    /// Seconds spent waiting for quiet.
    pub waited_s: f64,
}

/// Everything a run measured.
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// The planes, in run order, with their group.
    pub planes: Vec<(String, Group)>,
    /// Every figure.
    pub samples: Vec<Sample>,
    /// Every ping series.
    pub pings: Vec<PingSeries>,
    /// The quiet check before every measurement.
    pub quiet_log: Vec<QuietRecord>,
    /// Rounds asked for.
    pub rounds: u32,
    /// What the run was asked to do, for the report's header (one line each).
    pub settings: Vec<String>,
    /// Things that went wrong but did not stop the run (failed setups or measurements).
    pub problems: Vec<String>,
}

/// Median, min and max of a set of figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The median (mean of the middle two for an even count).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// How many figures.
    pub n: usize,
}

/// The median of `values`; `None` if empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

/// Median, min and max of `values`; `None` if empty.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    Some(Summary {
        median: median(values)?,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        n: values.len(),
    })
}

impl Results {
    /// The figures of `plane` for `metric`, in round order.
    pub fn values(&self, plane: &str, metric: Metric) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|s| s.plane == plane && s.metric == metric)
            .map(|s| s.value)
            .collect()
    }

    /// Median, min and max of `plane`'s figures for `metric`.
    pub fn summary(&self, plane: &str, metric: Metric) -> Option<Summary> {
        summarize(&self.values(plane, metric))
    }

    /// `a / b` for `metric`, computed in every round where both have a figure (and `b`'s is
    /// not zero).
    pub fn ratios(&self, a: &str, b: &str, metric: Metric) -> Vec<f64> {
        let of = |plane: &str, round: u32| {
            self.samples
                .iter()
                .find(|s| s.plane == plane && s.metric == metric && s.round == round)
                .map(|s| s.value)
        };
        (1..=self.rounds)
            .filter_map(|r| match (of(a, r), of(b, r)) {
                (Some(x), Some(y)) if y != 0.0 => Some(x / y),
                _ => None,
            })
            .collect()
    }

    /// The planes of `group`, in run order.
    pub fn planes_in(&self, group: Group) -> Vec<&str> {
        self.planes
            .iter()
            .filter(|(_, g)| *g == group)
            .map(|(p, _)| p.as_str())
            .collect()
    }

    /// The metrics that have at least one figure, in table order.
    pub fn metrics(&self) -> Vec<Metric> {
        Metric::ALL
            .into_iter()
            .filter(|m| self.samples.iter().any(|s| s.metric == *m))
            .collect()
    }

    /// Every ping round trip of `plane` (µs), all rounds.
    pub fn ping_times(&self, plane: &str) -> Vec<f64> {
        self.pings
            .iter()
            .filter(|p| p.plane == plane)
            .flat_map(|p| p.times_us.iter().copied())
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two routed planes over 3 rounds, one NAT plane, a quiet miss.
    pub(crate) fn sample_results() -> Results {
        let mut r = Results {
            planes: vec![
                ("vpcd".into(), Group::Routed),
                ("kernel".into(), Group::Routed),
                ("vpcd-nat".into(), Group::Nat),
            ],
            rounds: 3,
            ..Results::default()
        };
        let mut push = |round, plane: &str, group, metric, value, quiet| {
            r.samples.push(Sample {
                round,
                plane: plane.into(),
                group,
                metric,
                value,
                quiet,
                busy: if quiet { 0.05 } else { 0.6 },
            })
        };
        for (round, v, k) in [(1, 8.0, 10.0), (2, 9.0, 12.0), (3, 12.0, 12.0)] {
            push(round, "vpcd", Group::Routed, Metric::Tcp1, v, round != 2);
            push(round, "kernel", Group::Routed, Metric::Tcp1, k, true);
            push(round, "vpcd-nat", Group::Nat, Metric::Tcp1, v - 1.0, true);
        }
        for (round, quiet) in [(1, true), (2, false), (3, true)] {
            r.quiet_log.push(QuietRecord {
                round,
                plane: "vpcd".into(),
                measurement: "tcp1",
                quiet,
                busy: if quiet { 0.05 } else { 0.6 },
                waited_s: 1.0,
            });
        }
        r.pings.push(PingSeries {
            round: 1,
            plane: "vpcd".into(),
            times_us: vec![40.0, 50.0, 60.0],
        });
        r
    }

    #[test]
    fn medians_and_summaries() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let s = summarize(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (3.0, 1.0, 5.0, 3));
    }

    #[test]
    fn ratios_per_round() {
        let r = sample_results();
        assert_eq!(
            r.ratios("vpcd", "kernel", Metric::Tcp1),
            vec![0.8, 0.75, 1.0]
        );
        // The median of per-round ratios, not the ratio of medians (9/12 = 0.75).
        assert_eq!(median(&r.ratios("vpcd", "kernel", Metric::Tcp1)), Some(0.8));
        assert!(r.ratios("vpcd", "kernel", Metric::Tcp4).is_empty());
        assert_eq!(r.planes_in(Group::Routed), vec!["vpcd", "kernel"]);
        assert_eq!(r.metrics(), vec![Metric::Tcp1]);
        assert_eq!(r.ping_times("vpcd").len(), 3);
    }
}
