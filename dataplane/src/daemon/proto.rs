//! The control protocol between `vpcctl` and `vpcd`: one JSON object per line over a Unix
//! stream socket (mode 0600), one request and one response per connection.

use serde::{Deserialize, Serialize};

use crate::observe::stats::StatsReport;
use crate::observe::trace::{TraceReport, TraceSpec};
use crate::vpc::config::DataplaneConfig;

/// A request from `vpcctl` to `vpcd`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Replace the running configuration atomically.
    Apply {
        /// The compiled topology.
        config: Box<DataplaneConfig>,
    },
    /// Report the running configuration, ports and counters.
    Show,
    /// Trace a described packet through the pipeline without disturbing anything.
    Trace {
        /// The packet.
        spec: TraceSpec,
    },
    /// Stop forwarding, remove every TAP and exit.
    Shutdown,
}

/// The answer of `vpcd` to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    /// The configuration was applied; traffic now runs under this epoch.
    Applied {
        /// The new configuration epoch.
        epoch: u64,
        /// Problems found after the commit (an attachment that could not be finished);
        /// the configuration runs regardless, and the next apply retries them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The request was refused; the running configuration is unchanged.
    Rejected {
        /// Why, one line per problem.
        errors: Vec<String>,
    },
    /// The running state.
    State(Box<StatsReport>),
    /// The answer to [`Request::Trace`].
    Trace(Box<TraceReport>),
    /// Done (shutdown acknowledged).
    Ok,
}
