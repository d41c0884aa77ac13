//! The observers: `vpcctl trace`, flow logs, packet capture, traffic mirroring, counters
//! and metrics. They read what the data plane and the policy report.

pub mod capture;
pub mod flowlog;
pub mod metrics;
pub mod mirror;
pub mod report;
pub mod stats;
pub mod trace;
