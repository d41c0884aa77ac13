//! The VPC forwarding engine.
//!
//! A frame's way through the engine (see `README.md` and `../shared/design.md`):
//!
//! ```text
//! port rx ─► parse (checked views) ─► flow cache ─┬─ hit: apply cached action ─► port tx
//!                                                 └─ miss: slow path ─► install flow ─► port tx
//! slow path: router services (ARP, ICMP echo to the router) │ source/destination check
//!            │ [SG egress] │ [NACL egress] │ route lookup (LPM) │ hop: local ENI / middlebox ENI
//!            │ [NACL ingress] │ [SG ingress] │ destination check
//! ```
//! (stages in brackets arrive with later issues.)

pub mod attach;
pub mod capture;
pub mod config;
pub mod conntrack;
pub mod daemon;
pub mod engine;
pub mod fixtures;
pub mod flow;
pub mod flowlog;
pub mod frag;
pub mod lpm;
pub mod metrics;
pub mod metrics_http;
pub mod mirror;
pub mod nat;
pub mod pipeline;
pub mod port;
pub mod proto;
pub mod rules;
pub mod stats;
pub mod sys;
pub mod tables;
pub mod trace;
pub mod verdict;
pub mod wire;
