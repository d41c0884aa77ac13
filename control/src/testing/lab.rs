//! Where `vpcctl test` runs: its own `vpcd` on a private socket with every namespace
//! named with a per-run prefix (`vct<PID>-`), removed on every exit path (Drop), and the
//! leftovers of crashed runs removed first (an interrupted run cleans up in the signal
//! handler, [`interrupted`]); or, with `--attach`, a running `vpcd` and
//! the namespaces `vpcctl up` made. In its own lab it runs a DHCP client for every ENI
//! with `addressing = "dhcp"` (the default), as `vpcctl up` does, stopped by PID at the
//! end (or when an apply recreated the interface under it).

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use dataplane::sys::ip::{self, Ip};
use dataplane::vpc::config::DataplaneConfig;

use crate::client::{self, ClientError};
use crate::dhcp_client::{self, ClientOptions};
use crate::lab;
use crate::lab::DhcpClientProcess;
use crate::model::{Addressing, Topology};
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
    /// A DHCP client got no lease.
    #[error("{eni}: {source}")]
    Dhcp {
        /// The ENI.
        eni: String,
        /// Why.
        #[source]
        source: dhcp_client::DhcpClientError,
    },
    /// `--attach`: a namespace the topology needs is missing.
    #[error("namespace {0} does not exist: bring the topology up with `vpcctl up` first, or run without --attach")]
    Missing(String),
}

/// The PID of the vpcd a test run started (0: none), for [`interrupted`].
static VPCD_PID: AtomicU32 = AtomicU32::new(0);
/// The DHCP clients a test run started, for `Drop` and [`interrupted`].
static DHCP_CLIENTS: Mutex<Vec<DhcpClientProcess>> = Mutex::new(Vec::new());

/// Stops every DHCP client this run started.
fn stop_dhcp_clients() {
    let clients = std::mem::take(&mut *DHCP_CLIENTS.lock().unwrap_or_else(|p| p.into_inner()));
    for c in clients {
        if let Err(e) = c.stop(Duration::from_secs(2)) {
            tracing::warn!(error = %e, "could not stop a DHCP client");
        }
    }
}

/// Cleans up after a run that is being interrupted (SIGINT, SIGTERM), where no `Drop`
/// will run: stops the vpcd this process started and deletes this process's namespaces.
/// For the binary's signal handler.
pub fn interrupted() {
    stop_dhcp_clients();
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
        let epoch = match client::apply(&self.socket, config) {
            Ok(a) if a.warnings.is_empty() => a.epoch,
            Ok(a) => {
                return Err(LabError::Vpcd(format!(
                    "committed as epoch {}, but: {}",
                    a.epoch,
                    a.warnings.join("; ")
                )))
            }
            Err(ClientError::Rejected(e)) => return Err(LabError::Vpcd(e.join("; "))),
            Err(e) => return Err(LabError::Vpcd(e.to_string())),
        };
        if let Some(dir) = &self.dir {
            dhcp_clients(t, &dir.join("dhcp"))?;
        }
        Ok(epoch)
    }
}

/// Starts a DHCP client for every attached ENI of `t` with `addressing = "dhcp"` that
/// has none running on an interface holding its lease (an apply may recreate the
/// interface), records and scripts under `dir`.
fn dhcp_clients(t: &Topology, dir: &Path) -> Result<(), LabError> {
    let mut clients = DHCP_CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    for e in &t.enis {
        let Some(ns) = &e.netns else { continue };
        // Only a TAP in a namespace is the instance's NIC (not an existing interface).
        if e.addressing != Addressing::Dhcp
            || e.attachment_kind() != Some(crate::model::EniAttachment::Namespace)
        {
            continue;
        }
        if let Some(i) = clients.iter().position(|c| c.eni == e.id) {
            let c = &clients[i];
            if c.netns == *ns
                && c.is_alive()
                && dhcp_client::has_address(ns, &e.ifname, e.private_ip)
            {
                continue;
            }
            if let Err(w) = c.stop(Duration::from_secs(5)) {
                tracing::warn!(error = %w, "could not stop a DHCP client");
            }
            clients.remove(i);
        }
        let opts = ClientOptions {
            secondary_ips: e.secondary_ips.clone(),
            netns_etc: Some(dhcp_client::netns_etc_dir(ns)),
        };
        let (_, c) = dhcp_client::start(&e.id, ns, &e.ifname, &dir.join(&e.id), &opts).map_err(
            |source| LabError::Dhcp {
                eni: e.id.clone(),
                source,
            },
        )?;
        clients.push(c);
    }
    Ok(())
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if self.dir.is_some() {
            stop_dhcp_clients();
        }
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

/// Removes the namespaces of test runs whose process is gone, and what their DHCP
/// clients wrote under `/etc/netns`.
pub fn cleanup_stale() {
    if let Ok(rd) = std::fs::read_dir("/etc/netns") {
        for ns in rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
        {
            if run_pid(&ns).is_some_and(|pid| !lab::pid_alive(pid)) {
                lab::remove_netns_etc(&ns);
            }
        }
    }
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
