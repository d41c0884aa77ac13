//! Progress lines for a person watching a long verb (`vpcctl up`, `vpcctl test`):
//! `vpcctl up: creating namespaces…` on stderr, and only when stderr is a terminal, so
//! scripts, logs and `--json` consumers never see them.

use std::io::{IsTerminal, Stderr, Write};

/// Where progress lines go, if anywhere.
#[derive(Debug)]
pub struct Progress<W: Write> {
    verb: &'static str,
    out: Option<W>,
}

impl Progress<Stderr> {
    /// Progress of `verb` on stderr when stderr is a terminal; silent otherwise.
    pub fn stderr_if_terminal(verb: &'static str) -> Self {
        let err = std::io::stderr();
        let out = err.is_terminal().then_some(err);
        Progress { verb, out }
    }
}

impl<W: Write> Progress<W> {
    /// Progress of `verb` written to `out` (`None`: silent).
    pub fn new(verb: &'static str, out: Option<W>) -> Self {
        Progress { verb, out }
    }

    /// Whether lines are written at all.
    pub fn is_enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Reports the step that starts now: `vpcctl VERB: WHAT…`. A failed write (a closed
    /// terminal) is ignored: progress is never worth failing the verb for.
    pub fn step(&mut self, what: &str) {
        if let Some(out) = &mut self.out {
            let _ = writeln!(out, "vpcctl {}: {what}…", self.verb);
            let _ = out.flush();
        }
    }

    /// The writer, back (tests).
    pub fn into_inner(self) -> Option<W> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_lines_naming_the_verb() {
        let mut p = Progress::new("up", Some(Vec::new()));
        assert!(p.is_enabled());
        p.step("starting vpcd");
        p.step("applying");
        let text = String::from_utf8(p.into_inner().unwrap()).unwrap();
        assert_eq!(text, "vpcctl up: starting vpcd…\nvpcctl up: applying…\n");
    }

    #[test]
    fn silent_progress_writes_nothing() {
        let mut p: Progress<Vec<u8>> = Progress::new("up", None);
        assert!(!p.is_enabled());
        p.step("anything");
        assert!(p.into_inner().is_none());
    }
}
