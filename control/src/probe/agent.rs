//! Namespace agents: one long-lived thread per network namespace, which entered it with
//! `setns(2)` when it started and stays there, creating sockets on request.
//!
//! A socket belongs to the network namespace of the thread that created it, for its whole life,
//! whichever thread uses it later: binding, connecting, sending and receiving all happen in that
//! namespace. So only `socket(2)` needs the agent; the probes' worker threads and the server
//! thread never change namespace (a thread that did would have to be kept apart from every other
//! use, which is exactly what an agent is).
//!
//! An agent keeps its namespace alive while it runs (as does every socket created in it), even
//! after `ip netns del`. Agents are keyed by the name *and* the identity (device and inode) of
//! `/run/netns/NAME`, so a namespace deleted and created again under the same name gets a new
//! agent, and the old one stops.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};

use nix::sched::{setns, CloneFlags};
use socket2::{Domain, Protocol, Socket, Type};

use super::ProbeError;

/// Small stacks: an agent only runs `socket(2)` calls.
const AGENT_STACK: usize = 64 * 1024;

/// The identity of a namespace: device and inode of its `nsfs` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct NsId {
    dev: u64,
    ino: u64,
}

impl NsId {
    fn of(meta: &std::fs::Metadata) -> NsId {
        NsId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// The path of a named namespace, `/run/netns/NAME`; the name must be a plain file name.
fn ns_path(netns: &str) -> Result<PathBuf, ProbeError> {
    let plain = !netns.is_empty()
        && netns != "."
        && netns != ".."
        && !netns.contains('/')
        && !netns.contains('\0');
    if !plain {
        return Err(ProbeError::NoNamespace {
            netns: netns.to_owned(),
        });
    }
    Ok(Path::new(dataplane::sys::ip::NETNS_DIR).join(netns))
}

fn open_error(netns: &str, source: io::Error) -> ProbeError {
    if source.kind() == io::ErrorKind::NotFound {
        ProbeError::NoNamespace {
            netns: netns.to_owned(),
        }
    } else {
        ProbeError::Io {
            netns: netns.to_owned(),
            what: "open the namespace file",
            source,
        }
    }
}

/// The current identity of the namespace named `netns`.
fn current_id(netns: &str) -> Result<NsId, ProbeError> {
    let meta = std::fs::metadata(ns_path(netns)?).map_err(|e| open_error(netns, e))?;
    Ok(NsId::of(&meta))
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A thread inside one network namespace that runs jobs (socket creations) there.
#[derive(Debug)]
pub(crate) struct Agent {
    netns: String,
    id: NsId,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    /// Starts a thread and moves it into the namespace `netns`.
    fn spawn(netns: &str) -> Result<Agent, ProbeError> {
        let file = File::open(ns_path(netns)?).map_err(|e| open_error(netns, e))?;
        let id = NsId::of(&file.metadata().map_err(|e| open_error(netns, e))?);
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = thread::Builder::new()
            .name(format!("probe-ns:{netns}"))
            .stack_size(AGENT_STACK)
            .spawn(move || {
                let entered = setns(&file, CloneFlags::CLONE_NEWNET);
                drop(file);
                let ok = entered.is_ok();
                // The receiver waits for this; if it is gone there is nobody to serve.
                if ready_tx.send(entered).is_err() || !ok {
                    return;
                }
                for job in rx {
                    job();
                }
            })
            .map_err(|source| ProbeError::Thread {
                what: "namespace agent",
                source,
            })?;
        let netns = netns.to_owned();
        match ready_rx.recv() {
            Ok(Ok(())) => {
                tracing::debug!(%netns, "namespace agent started");
                Ok(Agent {
                    netns,
                    id,
                    jobs: Some(jobs),
                    thread: Some(thread),
                })
            }
            Ok(Err(errno)) => {
                let _ = thread.join();
                Err(ProbeError::Setns {
                    netns,
                    source: errno.into(),
                })
            }
            Err(_) => {
                let _ = thread.join();
                Err(ProbeError::AgentGone { netns })
            }
        }
    }

    /// The namespace's name.
    pub(crate) fn netns(&self) -> &str {
        &self.netns
    }

    /// The namespace's identity.
    pub(crate) fn id(&self) -> NsId {
        self.id
    }

    /// Runs `f` on the agent's thread, inside the namespace, and returns its result.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ProbeError> {
        let gone = || ProbeError::AgentGone {
            netns: self.netns.clone(),
        };
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            // The caller may have given up waiting; then the result is simply dropped.
            let _ = tx.send(f());
        });
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())
    }

    /// Creates a socket inside the namespace.
    pub(crate) fn socket(
        &self,
        domain: Domain,
        ty: Type,
        protocol: Protocol,
    ) -> Result<Socket, ProbeError> {
        self.call(move || Socket::new(domain, ty, Some(protocol)))?
            .map_err(|source| ProbeError::Io {
                netns: self.netns.clone(),
                what: "create a socket",
                source,
            })
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Closing the job channel ends the agent's loop.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!(netns = %self.netns, "namespace agent panicked");
            }
        }
        tracing::debug!(netns = %self.netns, "namespace agent stopped");
    }
}

/// The agents of one [`super::Prober`], by namespace name.
#[derive(Debug, Default)]
pub(crate) struct Agents {
    by_name: Mutex<HashMap<String, Arc<Agent>>>,
}

impl Agents {
    /// The agent of `netns`, started on first use (and again when the namespace was re-created).
    pub(crate) fn get(&self, netns: &str) -> Result<Arc<Agent>, ProbeError> {
        let id = current_id(netns)?;
        let mut by_name = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(agent) = by_name.get(netns) {
            if agent.id == id {
                return Ok(Arc::clone(agent));
            }
            tracing::info!(%netns, "namespace was re-created; starting a new agent");
        }
        let agent = Arc::new(Agent::spawn(netns)?);
        // The old agent (if any) stops when its last user lets go of it.
        by_name.insert(netns.to_owned(), Arc::clone(&agent));
        Ok(agent)
    }

    /// Stops the agent of `netns` (when nobody else holds it), so that it no longer keeps the
    /// namespace alive.
    pub(crate) fn forget(&self, netns: &str) {
        let old = self
            .by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(netns);
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_malformed_namespaces() {
        let agents = Agents::default();
        for name in ["", ".", "..", "a/b", "vpcctl-probe-no-such-namespace"] {
            match agents.get(name) {
                Err(ProbeError::NoNamespace { netns }) => assert_eq!(netns, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
