//! The VPC forwarding engine, in layers (each imports only the ones above it here):
//!
//! - [`wire`]: checked views and rewrites over packet bytes; depends on nothing.
//! - [`sys`]: the host's system interfaces (TAP ioctls, epoll and `AF_PACKET` sockets: the
//!   crate's only unsafe code; QEMU `-netdev stream` sockets; `ip(8)`).
//! - [`engine`]: the generic core: ports and their I/O backends, buffers, the flow cache.
//!   It knows packets and ports, not VPC words.
//! - [`vpc`]: the policy: the compiled tables, connection tracking, NAT, and the
//!   elements a packet walks (ENI, subnet, router, gateways, peering) in one hop loop.
//! - [`observe`]: trace, flow logs, capture, mirroring, counters and metrics.
//! - [`datapath`]: one data plane: the per-frame work (parse, flow cache, slow path,
//!   rewrite, transmit) tying the engine, the policy and the observers together.
//! - [`daemon`]: `vpcd`: the control socket, apply, threads, the metrics endpoint.
//!
//! A frame's way (see `README.md`, "How it works"):
//!
//! ```text
//! port rx ─► parse (checked views) ─► flow cache ─┬─ hit: apply cached action ─► port tx
//!                                                 └─ miss: slow path ─► install flow ─► port tx
//! slow path (hop loop): ENI (router services, source/destination check, SG egress)
//!            │ subnet (NACL outbound) │ router (LPM) │ next element: ENI / internet gateway
//!            │ NAT gateway / peering │ subnet (NACL inbound) │ ENI (destination check, SG ingress)
//! ```

pub mod daemon;
pub mod datapath;
pub mod engine;
pub mod fixtures;
pub mod observe;
pub mod sys;
pub mod vpc;
pub mod wire;
