//! The result of a `vpcctl test` run: per check, what was expected, what the traffic did,
//! what the trace predicted, and the verdict. Every output (terminal, JSON, JUnit, HTML)
//! renders this one type.

use serde::{Deserialize, Serialize};

/// A whole run of one test file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    /// The test file, as given on the command line.
    pub file: String,
    /// The topology it ran (a path, or `inline`).
    pub topology: String,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// How long the whole run took, milliseconds.
    pub duration_ms: u64,
    /// The changes applied between checks, in order (step 0 is the topology as loaded).
    pub steps: Vec<StepReport>,
    /// Every check, in file order.
    pub checks: Vec<CheckReport>,
}

/// One change applied between checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// Its position (1 = the first change).
    pub index: usize,
    /// What it did, for people (`apply three-tier-v2.toml`, `remove sg-db inbound[0]`).
    pub description: String,
}

/// Whether a packet gets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It arrives and (for TCP, UDP, ICMP echo) the answer comes back.
    Reach,
    /// It does not.
    Blocked,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The traffic did what the check expects, and the trace agrees.
    Pass,
    /// The traffic did not do what the check expects (source address or explanation
    /// code included).
    Fail,
    /// The trace predicted something else than the traffic did: a bug in vpcd, reported
    /// on its own.
    Disagree,
    /// The check could not be run (a socket or vpcd error).
    Error,
}

/// One check of the file and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Its position in the file (0-based).
    pub index: usize,
    /// A name for people: the check's `name`, else `FROM → TO PROTO/PORT`.
    pub name: String,
    /// The change step it ran after (0 = none yet).
    pub step: usize,
    /// Where the traffic starts: an ENI id or an internet host id.
    pub from: String,
    /// The destination as written (an ENI id, an internet host id, a name of the file, or
    /// an address).
    pub to: String,
    /// The destination address.
    pub dst: String,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// The destination port (TCP and UDP).
    pub port: Option<u16>,
    /// What the check expects.
    pub expect: Verdict,
    /// What the traffic did (`None` when it could not be sent).
    pub traffic: Option<Verdict>,
    /// What the trace predicted (`None` when it could not be traced).
    pub trace: Option<Verdict>,
    /// The source address (and port) the server saw, when it was reached.
    pub seen_source: Option<String>,
    /// The source address the check expects the server to see.
    pub expected_source: Option<String>,
    /// The trace's explanation code when it predicts a drop (`ENI_SG_RULES_MISMATCH`, …).
    pub explanation: Option<String>,
    /// The explanation code the check expects.
    pub expected_explanation: Option<String>,
    /// The verdict.
    pub status: Status,
    /// Why it did not pass (empty when it passed).
    pub message: String,
    /// The trace, rendered as `vpcctl trace` prints it (kept for failures and
    /// disagreements; may be empty for passing checks).
    pub trace_text: String,
    /// How long the check took, milliseconds.
    pub duration_ms: u64,
}

impl TestReport {
    /// How many checks ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status == Status::Pass)
    }
}
