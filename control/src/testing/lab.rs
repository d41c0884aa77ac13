//! Where `vpcctl test` runs: its own `vpcd` on a private socket with every namespace
//! named with a per-run prefix (`vct<PID>-`), removed on every exit path (Drop), and the
//! leftovers of crashed runs removed first (an interrupted run cleans up in the signal
//! handler, [`interrupted`]); or, with `--attach`, a running `vpcd` and
//! the namespaces `vpcctl up` made.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dataplane::sys::ip::{self, Ip};
use dataplane::vpc::config::DataplaneConfig;

use crate::client::{self, ClientError};
use crate::lab;
use crate::model::Topology;
use crate::segment::SegmentPlan;

/// The prefix of every namespace a test run creates: `vct`, the PID, `-`.
pub const NETNS_PREFIX: &str = "vct";

/// Why the lab failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Starting vpcd, or a file operation.
    #[error(transparent)]
    Lab(#[from] lab::LabError),
    /// An `ip` invocation.
    #[error(transparent)]
    Ip(#[from] ip::IpError),
    /// Building the internet segment.
    #[error(transparent)]
    Segment(#[from] crate::segment::SegmentError),
    /// vpcd refused or could not be reached.
    #[error("vpcd: {0}")]
    Vpcd(String),
    /// `--attach`: a namespace the topology needs is missing.
    #[error("namespace {0} does not exist: bring the topology up with `vpcctl up` first, or run without --attach")]
    Missing(String),
}

/// The PID of the vpcd a test run started (0: none), for [`interrupted`].
static VPCD_PID: AtomicU32 = AtomicU32::new(0);

/// Cleans up after a run that is being interrupted (SIGINT, SIGTERM), where no `Drop`
/// will run: stops the vpcd this process started and deletes this process's namespaces.
/// For the binary's signal handler.
pub fn interrupted() {
    let pid = VPCD_PID.swap(0, Ordering::SeqCst);
    if pid != 0 && lab::pid_alive(pid) {
        let _ = lab::terminate(pid);
        lab::wait_for_exit(pid, Duration::from_secs(5));
    }
    let ours = format!("{NETNS_PREFIX}{}-", std::process::id());
    for ns in ip::netns_list()
        .into_iter()
        .filter(|n| n.starts_with(&ours))
    {
        let _ = ip::netns_delete_if_exists(&ns);
    }
}

/// A running lab for one test run.
pub struct TestLab {
    socket: PathBuf,
    vpcd: Option<Child>,
    dir: Option<PathBuf>,
    prefix: String,
    created: Vec<String>,
}

impl TestLab {
    /// Starts `vpcd` (the binary `vpcd_bin`) on a private socket, after removing the
    /// namespaces of earlier runs whose process is gone.
    pub fn start(vpcd_bin: &Path) -> Result<TestLab, LabError> {
        cleanup_stale();
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("vpcctl-test-{pid}"));
        lab::create_private_dir(&dir)?;
        let socket = dir.join("vpcd.sock");
        let (child, _) = lab::start_vpcd_with(vpcd_bin, &socket, &[])?;
        VPCD_PID.store(child.id(), Ordering::SeqCst);
        Ok(TestLab {
            socket,
            vpcd: Some(child),
            dir: Some(dir),
            prefix: format!("{NETNS_PREFIX}{pid}-"),
            created: Vec::new(),
        })
    }

    /// Uses the vpcd at `socket` and the namespaces as named in the topology.
    pub fn attach(socket: &Path) -> TestLab {
        TestLab {
            socket: socket.to_path_buf(),
            vpcd: None,
            dir: None,
            prefix: String::new(),
            created: Vec::new(),
        }
    }

    /// The control socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The name of namespace `name` in this run.
    pub fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Makes sure every namespace of `t` (already renamed) exists — creating the missing
    /// ones, or, attached, reporting them — builds its internet segment, and applies
    /// `config`. Returns the epoch.
    pub fn apply(&mut self, t: &Topology, config: &DataplaneConfig) -> Result<u64, LabError> {
        let segment = SegmentPlan::of(t);
        let mut needed: Vec<String> = t
            .enis
            .iter()
            .filter_map(|e| e.netns.clone())
            .chain(
                t.internet_gateways
                    .iter()
                    .filter_map(|g| g.internet.as_ref().map(|i| i.netns.clone())),
            )
            .chain(
                segment
                    .iter()
                    .flat_map(|s| s.namespaces().into_iter().map(str::to_string)),
            )
            .collect();
        needed.sort();
        needed.dedup();
        for ns in needed {
            if ip::netns_exists(&ns) {
                continue;
            }
            if self.vpcd.is_none() {
                return Err(LabError::Missing(ns));
            }
            ip::netns_add(&ns)?;
            self.created.push(ns.clone());
            Ip::link_up(Some(&ns), "lo").run()?;
        }
        if let Some(seg) = &segment {
            seg.build()?;
        }
        match client::apply(&self.socket, config) {
            Ok(a) if a.warnings.is_empty() => Ok(a.epoch),
            Ok(a) => Err(LabError::Vpcd(format!(
                "committed as epoch {}, but: {}",
                a.epoch,
                a.warnings.join("; ")
            ))),
            Err(ClientError::Rejected(e)) => Err(LabError::Vpcd(e.join("; "))),
            Err(e) => Err(LabError::Vpcd(e.to_string())),
        }
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if let Some(mut child) = self.vpcd.take() {
            VPCD_PID.store(0, Ordering::SeqCst);
            lab::stop_child(&mut child, Duration::from_secs(5));
        }
        for ns in self.created.drain(..) {
            if let Err(e) = ip::netns_delete_if_exists(&ns) {
                tracing::warn!(%ns, error = %e, "could not delete namespace");
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The PID in a namespace name of a test run (`vct<PID>-…`).
fn run_pid(name: &str) -> Option<u32> {
    name.strip_prefix(NETNS_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Removes the namespaces of test runs whose process is gone.
pub fn cleanup_stale() {
    for ns in ip::netns_list() {
        if let Some(pid) = run_pid(&ns) {
            if !lab::pid_alive(pid) {
                if let Err(e) = ip::netns_delete_if_exists(&ns) {
                    tracing::warn!(%ns, error = %e, "could not delete a stale namespace");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_pids_come_from_our_prefix_only() {
        assert_eq!(run_pid("vct1234-web1"), Some(1234));
        assert_eq!(run_pid("vct1234-"), Some(1234));
        assert_eq!(run_pid("web1"), None);
        assert_eq!(run_pid("vctx-web1"), None);
    }
}
