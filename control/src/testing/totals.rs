//! What the outputs of `vpcctl test` share: the totals of a run, and the words and
//! durations they print, so that the terminal, JUnit and HTML outputs say the same thing.

use std::fmt;
use std::fmt::Write as _;

use super::report::{CheckReport, Status, TestReport, Verdict};

/// How many checks of a run ended how, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Every check.
    pub checks: usize,
    /// Checks that passed.
    pub passed: usize,
    /// Checks whose traffic did not do what they expect.
    pub failed: usize,
    /// Checks whose trace predicted something else than the traffic did.
    pub disagreements: usize,
    /// Checks that could not be run.
    pub errors: usize,
    /// The files' durations added up, milliseconds.
    pub duration_ms: u64,
}

impl Totals {
    /// The totals over every file of a run.
    pub fn of(reports: &[TestReport]) -> Totals {
        reports.iter().fold(Totals::default(), |t, r| t.add(r))
    }

    /// The totals of one file.
    pub fn of_file(report: &TestReport) -> Totals {
        Totals::default().add(report)
    }

    fn add(mut self, report: &TestReport) -> Totals {
        self.checks += report.checks.len();
        self.passed += report.count(Status::Pass);
        self.failed += report.count(Status::Fail);
        self.disagreements += report.count(Status::Disagree);
        self.errors += report.count(Status::Error);
        self.duration_ms += report.duration_ms;
        self
    }

    /// Whether every check passed (true for no checks at all).
    pub fn all_passed(&self) -> bool {
        self.passed == self.checks
    }
}

/// `12 checks: 10 passed, 1 failed, 1 disagreement` (disagreements and errors only when
/// there are any; the duration is not part of it).
impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} passed, {} failed",
            plural(self.checks, "check", "checks"),
            self.passed,
            self.failed
        )?;
        if self.disagreements > 0 {
            let d = plural(self.disagreements, "disagreement", "disagreements");
            write!(f, ", {d}")?;
        }
        if self.errors > 0 {
            write!(f, ", {}", plural(self.errors, "error", "errors"))?;
        }
        Ok(())
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `reach`, `blocked`, or `n/a` when there is no verdict (not sent, not traced).
pub fn verdict_word(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Reach) => "reach",
        Some(Verdict::Blocked) => "blocked",
        None => "n/a",
    }
}

/// `PASS`, `FAIL`, `DISAGREE` or `ERROR`.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Disagree => "DISAGREE",
        Status::Error => "ERROR",
    }
}

/// `tcp/5432`, `udp/53`, `icmp`: the protocol and, when there is one, the port.
pub fn service(check: &CheckReport) -> String {
    match check.port {
        Some(port) => format!("{}/{port}", check.protocol),
        None => check.protocol.clone(),
    }
}

/// A duration for people: `850 ms`, `3.4 s`, `2 min 05 s`.
pub fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1000, ms % 1000 / 100)
    } else {
        let s = ms / 1000;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// The check's step, for people: `step 2: remove sg-db inbound[0]`, or `as loaded` for step
/// 0 (and a step the report does not describe is named by its number only).
pub fn step_title(report: &TestReport, step: usize) -> String {
    if step == 0 {
        return "as loaded".to_owned();
    }
    match report.steps.iter().find(|s| s.index == step) {
        Some(s) => format!("step {step}: {}", s.description),
        None => format!("step {step}"),
    }
}

/// What a check expected and what happened, on one line: `expected blocked, traffic
/// reach, trace reach (ENI_SG_RULES_MISMATCH), seen 10.0.2.10:43512 (expected
/// 203.0.113.7)`, followed by `[FROM → TO PROTO/PORT]` when the check has a name of its own.
pub fn outcome(check: &CheckReport) -> String {
    let mut s = format!("expected {}", verdict_word(Some(check.expect)));
    if let Some(code) = &check.expected_explanation {
        let _ = write!(s, " ({code})");
    }
    let _ = write!(
        s,
        ", traffic {}, trace {}",
        verdict_word(check.traffic),
        verdict_word(check.trace)
    );
    if let Some(code) = &check.explanation {
        let _ = write!(s, " ({code})");
    }
    if let Some(seen) = &check.seen_source {
        let _ = write!(s, ", seen {seen}");
    }
    if let Some(expected) = &check.expected_source {
        let _ = write!(s, " (expected {expected})");
    }
    // A name the file gave hides what the check sends: say it.
    let generated = format!("{} → {} {}", check.from, check.to, service(check));
    if check.name != generated {
        let _ = write!(s, " [{generated}]");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixtures::sample;

    #[test]
    fn totals_count_and_print_only_what_happened() {
        let reports = sample();
        let t = Totals::of(&reports);
        assert_eq!(
            t,
            Totals {
                checks: 5,
                passed: 2,
                failed: 1,
                disagreements: 1,
                errors: 1,
                duration_ms: 3_400 + 250,
            }
        );
        assert_eq!(
            t.to_string(),
            "5 checks: 2 passed, 1 failed, 1 disagreement, 1 error"
        );
        let one = Totals::of_file(&reports[1]);
        assert_eq!(one.to_string(), "1 check: 1 passed, 0 failed");
        assert!(one.all_passed() && !t.all_passed());
        assert!(Totals::of(&[]).all_passed());
    }

    #[test]
    fn durations_and_words() {
        assert_eq!(duration_text(850), "850 ms");
        assert_eq!(duration_text(3_456), "3.4 s");
        assert_eq!(duration_text(125_000), "2 min 05 s");
        assert_eq!(verdict_word(None), "n/a");
        assert_eq!(status_word(Status::Disagree), "DISAGREE");
        let reports = sample();
        assert_eq!(service(&reports[0].checks[0]), "tcp/5432");
        assert_eq!(step_title(&reports[0], 0), "as loaded");
        assert_eq!(
            step_title(&reports[0], 1),
            "step 1: remove sg-db inbound[0]"
        );
        assert_eq!(step_title(&reports[0], 7), "step 7");
    }
}
