//! The observers: `vpcctl trace`, flow logs, packet capture, traffic mirroring, counters
//! and metrics. They read what the data plane and the policy report; the flow-log and
//! capture files are written by a thread of their own ([`writer`]).

pub mod capture;
pub mod flowlog;
pub mod metrics;
pub mod mirror;
pub mod report;
pub mod stats;
pub mod trace;
pub mod writer;
