//! The harness's error type.

use std::io;
use std::time::Duration;

/// Everything that can go wrong while building or driving a testbed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command could not be started at all (binary missing, fork failure, ...).
    #[error("failed to start `{cmd}`: {source}")]
    Spawn {
        /// The command line, for humans.
        cmd: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A command did not finish within its deadline; it was killed by its PID.
    #[error("`{cmd}` timed out after {timeout:?} and was killed; stderr: {stderr}")]
    Timeout {
        /// The command line, for humans.
        cmd: String,
        /// The deadline that passed.
        timeout: Duration,
        /// Whatever the command wrote to stderr before it was killed.
        stderr: String,
    },
    /// A command ran but exited unsuccessfully.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line, for humans.
        cmd: String,
        /// Its exit status, rendered.
        status: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// An `ip(8)` invocation could not be started or failed (its command line and stderr).
    #[error(transparent)]
    Ip(#[from] dataplane::sys::ip::IpError),
    /// Some other I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Output of a tool could not be understood.
    #[error("cannot parse {what}: {detail}")]
    Parse {
        /// Which output (e.g. "ping summary").
        what: String,
        /// What was wrong, usually with the offending text.
        detail: String,
    },
    /// A namespace or interface name is not acceptable (too long, bad characters).
    #[error("invalid name `{name}`: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// All per-process run-prefix slots are taken by live harness instances.
    #[error("all {0} run-prefix slots of this process are in use")]
    SlotsExhausted(usize),
    /// The `vpcd` binary could not be located.
    #[error("vpcd binary not found ({detail}); build it: cargo build -p dataplane --bin vpcd")]
    VpcdNotFound {
        /// Where the harness looked.
        detail: String,
    },
    /// Another workspace binary (e.g. `vpcctl`) could not be located.
    #[error("{binary} binary not found ({detail}); build it: cargo build --workspace --bins")]
    BinaryNotFound {
        /// Which binary.
        binary: String,
        /// Where the harness looked.
        detail: String,
    },
    /// A background process did not signal readiness (EOF or deadline first).
    #[error("{what} did not become ready: {detail}\n--- log tail ---\n{log_tail}")]
    NotReady {
        /// Which process.
        what: String,
        /// EOF, deadline, exit status, ...
        detail: String,
        /// The end of its log / stderr.
        log_tail: String,
    },
    /// A topology was rejected (by validation or by vpcd); every problem, one per entry.
    #[error("topology rejected:\n  {}", .0.join("\n  "))]
    Topology(Vec<String>),
    /// Something a test VM needs (QEMU, a kernel, its modules, busybox) is missing on this machine.
    #[error("test VMs need {what}: {detail}; install it: scripts/setup")]
    VmSetup {
        /// What is missing (e.g. "qemu-system-x86_64").
        what: String,
        /// Where the harness looked, or what went wrong.
        detail: String,
    },
    /// A test VM's serial console closed (QEMU exited) before the awaited output.
    #[error(
        "VM {vm}: {detail}\n--- console tail ---\n{console_tail}\n--- qemu stderr ---\n{stderr}"
    )]
    VmConsole {
        /// The VM's name.
        vm: String,
        /// What was awaited and what happened.
        detail: String,
        /// The end of the serial console output.
        console_tail: String,
        /// QEMU's stderr (tail).
        stderr: String,
    },
    /// Talking to vpcd over its socket failed.
    #[error("vpcd control: {0}")]
    Control(String),
}

impl Error {
    /// Wraps an I/O error with a description of what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Builds a parse error.
    pub(crate) fn parse(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Parse {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Result alias used throughout the harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;
