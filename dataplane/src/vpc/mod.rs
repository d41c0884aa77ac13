//! The VPC policy: the compiled tables (one per apply), connection tracking, NAT, routing,
//! and the pipeline of elements a packet walks. It knows no file or socket.

pub mod config;
pub mod conntrack;
pub mod frag;
pub mod lpm;
pub mod metadata;
pub mod nat;
pub mod observed;
pub mod pipeline;
pub mod rules;
pub mod tables;
pub mod verdict;
