//! The generic engine core: ports and their I/O backends, packet buffers, the flow
//! cache, and the run loop. It knows frames, ports and flows, not VPC words; the policy in [`crate::vpc`]
//! decides, the engine moves bytes.

pub mod buf;
pub mod clock;
pub mod flow;
pub mod gso;
pub mod handoff;
pub mod packet;
pub mod police;
pub mod port;
pub mod run;
pub mod steer;
pub mod stream;
pub mod tx;
