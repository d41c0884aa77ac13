//! The terminal output of `vpcctl test`: a summary to read after the run, and a progress
//! bar on stderr while it runs.
//!
//! The summary, per file, one line per check (status, name, what was expected, what the
//! traffic did, what the trace predicted, the source the server saw), a marker line where a
//! change was applied, and under every check that did not pass its message and its trace,
//! indented; then the totals:
//!
//! ```text
//! tests/three-tier.toml (4 checks, topology examples/three-tier.toml, 3.4 s)
//!   PASS      eni-app1 → eni-db1 tcp/5432  expected reach, traffic reach, trace reach, seen 10.0.2.10:43512
//!   FAIL      internet → eni-db1 tcp/5432  expected blocked, traffic reach, trace reach, seen 198.51.100.40:40112
//!             expected blocked, but the connection was accepted
//!               1 eni-db1 <- 198.51.100.40:40112 tcp/5432
//!               …
//!
//! 12 checks: 10 passed, 1 failed, 1 disagreement in 3.4 s
//! ```

use std::fmt::Write as _;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report::{CheckReport, Status, TestReport};
use super::totals::{duration_text, outcome, status_word, step_title, Totals};

/// The widest name column; longer names push the rest of their line right.
const NAME_WIDTH_MAX: usize = 48;

/// The indentation of a check's message under its line, and of its trace under that.
const DETAIL_INDENT: &str = "            ";
const TRACE_INDENT: &str = "              ";

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";

/// ANSI styling, or none.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, codes: &str, text: &str) -> String {
        if self.0 {
            format!("{codes}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn status(self, status: Status) -> String {
        // Padded before painting, so that escape codes do not upset the alignment.
        let word = format!("{:<8}", status_word(status));
        let codes = match status {
            Status::Pass => GREEN,
            Status::Fail => RED,
            Status::Disagree => YELLOW,
            Status::Error => MAGENTA,
        };
        self.wrap(&format!("{BOLD}{codes}"), &word)
    }
}

/// The summary of a run for a terminal (see the module documentation); `color` adds ANSI
/// colors (give it `true` only when stdout is a terminal and `NO_COLOR` is not set).
pub fn summary(reports: &[TestReport], color: bool) -> String {
    let paint = Paint(color);
    let width = reports
        .iter()
        .flat_map(|r| &r.checks)
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(NAME_WIDTH_MAX);
    let mut out = String::new();
    for report in reports {
        file_summary(&mut out, report, width, paint);
        out.push('\n');
    }
    let totals = Totals::of(reports);
    let line = format!("{totals} in {}", duration_text(totals.duration_ms));
    let codes = if totals.all_passed() {
        format!("{BOLD}{GREEN}")
    } else {
        format!("{BOLD}{RED}")
    };
    out.push_str(&paint.wrap(&codes, &line));
    out.push('\n');
    out
}

fn file_summary(out: &mut String, report: &TestReport, width: usize, paint: Paint) {
    let header = format!(
        "{} ({}, topology {}, {})",
        report.file,
        match report.checks.len() {
            1 => "1 check".to_owned(),
            n => format!("{n} checks"),
        },
        report.topology,
        duration_text(report.duration_ms)
    );
    out.push_str(&paint.wrap(BOLD, &header));
    out.push('\n');
    let mut step = 0;
    for check in &report.checks {
        if check.step != step {
            step = check.step;
            let marker = format!("  -- {}", step_title(report, step));
            out.push_str(&paint.wrap(DIM, &marker));
            out.push('\n');
        }
        check_lines(out, check, width, paint);
    }
}

fn check_lines(out: &mut String, check: &CheckReport, width: usize, paint: Paint) {
    let pad = width.saturating_sub(check.name.chars().count());
    let _ = writeln!(
        out,
        "  {}  {}{}  {}",
        paint.status(check.status),
        check.name,
        " ".repeat(pad),
        outcome(check)
    );
    if check.status == Status::Pass {
        return;
    }
    for line in check.message.lines() {
        let _ = writeln!(out, "{DETAIL_INDENT}{line}");
    }
    for line in check.trace_text.lines() {
        let _ = writeln!(out, "{}", paint.wrap(DIM, &format!("{TRACE_INDENT}{line}")));
    }
}

/// A progress bar on stderr for a long run: `[00:12] ████░░░░ 4/12 eni-app1 → eni-db1 tcp/5432`.
///
/// It draws only when stderr is a terminal; otherwise every method does nothing visible,
/// so logs and CI output stay clean.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `total` checks (drawn only if stderr is a terminal).
    pub fn new(total: u64) -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress::with_target(total, target)
    }

    /// A bar that never draws (for `--quiet`, or when the output goes elsewhere).
    pub fn hidden(total: u64) -> Progress {
        Progress::with_target(total, ProgressDrawTarget::hidden())
    }

    fn with_target(total: u64, target: ProgressDrawTarget) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let style = ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress { bar }
    }

    /// Names what runs now (the check's name).
    pub fn set_message(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// One more check done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// How many checks are done.
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Whether it draws anything (stderr is a terminal).
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// The run is over: removes the bar from the terminal, so that the summary that follows
    /// stands alone.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixtures::sample;

    #[test]
    fn plain_summary_lists_every_check_details_of_failures_and_totals() {
        let text = summary(&sample(), false);
        assert!(!text.contains('\x1b'), "no color asked: {text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "tests/three-tier.toml (4 checks, topology examples/three-tier.toml, 3.4 s)"
        );
        assert!(lines[1].starts_with("  PASS      eni-app1 → eni-db1 tcp/5432 "));
        assert!(lines[1]
            .ends_with("  expected reach, traffic reach, trace reach, seen 10.0.2.10:43512"));
        // A given name keeps the generated one in brackets.
        assert!(lines[2].starts_with("  FAIL      nothing from the internet reaches the database  expected blocked, traffic reach, trace reach"));
        assert!(lines[2].ends_with("[inet-client → eni-db1 tcp/5432]"));
        assert_eq!(
            lines[3],
            "            expected blocked, but the connection was accepted"
        );
        assert_eq!(
            lines[4],
            "              1 eni-db1 <- 198.51.100.40:40112 tcp/5432"
        );
        assert!(lines[7].starts_with("  DISAGREE  eni-app1 → inet-web tcp/443 "));
        assert!(lines[7].contains("trace blocked (ENI_SG_RULES_MISMATCH)"));
        assert_eq!(lines[11], "  -- step 1: remove sg-db inbound[0]");
        assert!(lines[12].starts_with("  ERROR     eni-db1 → 10.0.9.9 icmp "));
        assert!(lines[12].contains("traffic n/a, trace n/a"));
        assert_eq!(
            lines[13],
            "            vpcd: connection refused (/run/vpcd.sock)"
        );
        assert_eq!(lines[14], "");
        assert!(lines[15].starts_with("tests/web.toml (1 check, topology inline, 250 ms)"));
        // A passing check shows neither message nor trace.
        assert!(lines[16].starts_with("  PASS      eni-web → eni-app1 tcp/8080"));
        assert_eq!(
            lines.last().copied(),
            Some("5 checks: 2 passed, 1 failed, 1 disagreement, 1 error in 3.6 s")
        );
        // Columns line up: every outcome starts at the same character.
        let at = |l: &str| l.find("  expected ").map(|b| l[..b].chars().count());
        assert_eq!(at(lines[1]), at(lines[7]));
    }

    #[test]
    fn colored_summary_paints_statuses_and_totals() {
        let text = summary(&sample(), true);
        assert!(text.contains("\x1b[1m\x1b[32mPASS    \x1b[0m"));
        assert!(text.contains("\x1b[1m\x1b[31mFAIL    \x1b[0m"));
        assert!(text.contains("\x1b[1m\x1b[33mDISAGREE\x1b[0m"));
        assert!(text.ends_with("in 3.6 s\x1b[0m\n"));
        let all_pass = summary(&sample()[1..], true);
        assert!(all_pass.contains("\x1b[1m\x1b[32m1 check: 1 passed, 0 failed in 250 ms"));
        // Without the escapes, the same text.
        let stripped = text
            .split('\x1b')
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    s
                } else {
                    &s[s.find('m').map_or(0, |m| m + 1)..]
                }
            })
            .collect::<String>();
        assert_eq!(stripped, summary(&sample(), false));
    }

    #[test]
    fn an_empty_run_says_so() {
        assert_eq!(
            summary(&[], false),
            "0 checks: 0 passed, 0 failed in 0 ms\n"
        );
    }

    #[test]
    fn progress_counts_without_drawing_off_a_terminal() {
        let p = Progress::hidden(3);
        p.set_message("eni-app1 → eni-db1 tcp/5432");
        p.inc();
        p.inc();
        assert_eq!(p.position(), 2);
        assert!(!p.is_visible());
        p.finish();
        // Under the test harness stderr is a pipe or a terminal; both must work.
        let q = Progress::new(1);
        q.inc();
        q.finish();
        assert_eq!(q.position(), 1);
    }
}
