//! `vpcctl diff OLD NEW`: the same probe matrix (the union of both topologies'
//! [`matrix`](super::generate::matrix)) run against each, and what changed between them
//! — "tcp/22 from client to 198.51.100.10: blocked → reach (sg-web inbound\[3\])".

use std::collections::BTreeSet;
use std::fmt::Write as _;

use dataplane::observe::trace::{Outcome, TraceLeg, TraceReport};
use serde::{Deserialize, Serialize};

use super::generate::MatrixProbe;
use super::report::Verdict;

/// What one probe did against one topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// It got there and back.
    Reach,
    /// It did not.
    Blocked,
    /// The topology lacks its sender or destination.
    Absent,
}

impl Reachability {
    fn as_str(self) -> &'static str {
        match self {
            Reachability::Reach => "reach",
            Reachability::Blocked => "blocked",
            Reachability::Absent => "absent",
        }
    }
}

impl From<Option<Verdict>> for Reachability {
    fn from(v: Option<Verdict>) -> Self {
        match v {
            Some(Verdict::Reach) => Reachability::Reach,
            _ => Reachability::Blocked,
        }
    }
}

/// One probe whose reachability changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `tcp/22 from client to eni-db1`.
    pub probe: String,
    /// Before.
    pub old: Reachability,
    /// After.
    pub new: Reachability,
    /// Why, from the traces: the rules and routes that now let it through, or what now
    /// drops it.
    pub reason: String,
}

/// The security-group, network-ACL and route components a trace leg passed.
fn components(leg: &TraceLeg) -> Vec<String> {
    leg.steps
        .iter()
        .filter(|s| {
            matches!(
                s.kind.as_str(),
                "security-group" | "network-acl" | "route-table"
            )
        })
        .map(|s| {
            if s.kind == "route-table" {
                format!("{} {}", s.component, s.detail)
            } else {
                s.component.clone()
            }
        })
        .collect()
}

/// Why the probe with traces `old` → `new` changed.
pub fn reason(old: Option<&TraceReport>, new: Option<&TraceReport>, now: Reachability) -> String {
    let legs = |t: Option<&TraceReport>| -> Vec<String> {
        t.map(|t| {
            let mut c = components(&t.forward);
            if let Some(r) = &t.reply {
                c.extend(components(r));
            }
            c
        })
        .unwrap_or_default()
    };
    match (now, new) {
        (Reachability::Blocked, Some(t)) => {
            let dropped = std::iter::once(&t.forward.outcome)
                .chain(t.reply.as_ref().map(|r| &r.outcome))
                .find_map(|o| match o {
                    Outcome::Dropped {
                        code, component, ..
                    } => Some(format!("{code} at {component}")),
                    _ => None,
                });
            dropped.unwrap_or_else(|| "no answer".to_string())
        }
        (Reachability::Reach, Some(_)) => {
            let before: BTreeSet<String> = legs(old).into_iter().collect();
            let mut added: Vec<String> = legs(new)
                .into_iter()
                .filter(|c| !before.contains(c))
                .collect();
            added.dedup();
            // The rules that now allow it say the most; routes only when no rule changed.
            let rules: Vec<String> = added
                .iter()
                .filter(|c| c.contains('[') || c.contains(" rule "))
                .cloned()
                .collect();
            if !rules.is_empty() {
                added = rules;
            }
            if added.is_empty() {
                "the same path now answers".to_string()
            } else {
                format!("via {}", added.join(", "))
            }
        }
        (Reachability::Absent, _) => "not in the new topology".to_string(),
        _ => String::new(),
    }
}

/// The changes between two runs of `probes` (verdicts and traces per probe).
pub fn changes(
    probes: &[MatrixProbe],
    old: &[(Reachability, Option<TraceReport>)],
    new: &[(Reachability, Option<TraceReport>)],
) -> Vec<Change> {
    probes
        .iter()
        .zip(old.iter().zip(new))
        .filter(|(_, ((a, _), (b, _)))| a != b)
        .map(|(p, ((a, ta), (b, tb)))| Change {
            probe: p.describe(),
            old: *a,
            new: *b,
            reason: reason(ta.as_ref(), tb.as_ref(), *b),
        })
        .collect()
}

/// The changes as text, one per line (`none` when nothing changed).
pub fn render(changes: &[Change], total: usize) -> String {
    let mut out = String::new();
    for c in changes {
        let _ = writeln!(
            out,
            "{}: {} → {} ({})",
            c.probe,
            c.old.as_str(),
            c.new.as_str(),
            c.reason
        );
    }
    let _ = writeln!(
        out,
        "{} of {total} probes changed",
        if changes.is_empty() {
            "none".to_string()
        } else {
            changes.len().to_string()
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::spec::CheckProtocol;
    use super::*;

    #[test]
    fn only_changed_probes_are_listed() {
        let p = |port| MatrixProbe {
            from: "client".into(),
            to: "eni-db1".into(),
            protocol: CheckProtocol::Tcp,
            port: Some(port),
        };
        let probes = [p(22), p(80)];
        let old = [(Reachability::Blocked, None), (Reachability::Reach, None)];
        let new = [(Reachability::Reach, None), (Reachability::Reach, None)];
        let c = changes(&probes, &old, &new);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].probe, "tcp/22 from client to eni-db1");
        let text = render(&c, 2);
        assert!(
            text.starts_with("tcp/22 from client to eni-db1: blocked → reach"),
            "{text}"
        );
        assert!(text.ends_with("1 of 2 probes changed\n"), "{text}");
        assert_eq!(render(&[], 2), "none of 2 probes changed\n");
    }
}
