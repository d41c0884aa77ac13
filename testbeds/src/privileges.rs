//! Deciding whether namespace tests can run here.

use std::sync::OnceLock;

use crate::names::RunPrefix;
use crate::process::{run_ok, DEFAULT_TIMEOUT};

static PROBE: OnceLock<Result<(), String>> = OnceLock::new();

/// Whether the environment says this is CI (`CI` set to anything but empty/`0`/`false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !(v.is_empty() || v == "0" || v == "false")
    })
}

/// Checks once per process that we are root and can create a namespace (by creating and deleting
/// a probe namespace), and runs [`crate::cleanup_stale`] on success. `Err` carries the reason.
pub fn check_privileges() -> Result<(), String> {
    PROBE
        .get_or_init(|| {
            let euid = crate::sys::geteuid();
            if euid != 0 {
                return Err(format!("not root (euid {euid}); namespace tests need root"));
            }
            let prefix = RunPrefix::new().map_err(|e| e.to_string())?;
            let probe = prefix
                .netns("probe")
                .map_err(|e| format!("`ip netns add` impossible: {e}"))?;
            drop(probe);
            match crate::cleanup_stale() {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(?removed, "removed leftovers of crashed runs")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%e, "stale cleanup failed"),
            }
            // Cheap sanity check that the tools the helpers call exist.
            run_ok(&["ip", "-V"], DEFAULT_TIMEOUT).map_err(|e| e.to_string())?;
            Ok(())
        })
        .clone()
}

/// Start of every namespace test: `if !testbeds::require_root_or_skip() { return; }`.
///
/// Returns `true` when namespace tests can run. Otherwise: under CI (`CI=true`) it panics with the
/// reason, because CI must fail rather than silently skip; elsewhere it prints a SKIP note to
/// stderr (uncaptured, so it is visible in a normal `cargo test` run) and returns `false`.
pub fn require_root_or_skip() -> bool {
    match check_privileges() {
        Ok(()) => true,
        Err(reason) if in_ci() => panic!("namespace tests cannot run under CI: {reason}"),
        Err(reason) => {
            // Straight to fd 2, not `eprintln!`, so the note shows even under libtest's capture.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIP: namespace test skipped: {reason}");
            false
        }
    }
}
