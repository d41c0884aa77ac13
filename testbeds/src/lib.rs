//! Harness for network-namespace tests of the virtual VPC data plane.
//!
//! Building blocks, each a guard that cleans up on every exit path (including panics):
//! - [`RunPrefix`]: a unique 8-char name prefix per harness instance (`vt` + pid + slot), so
//!   parallel tests never collide and [`cleanup_stale`] can remove leftovers of crashed runs;
//! - [`Netns`]: a network namespace with `exec`/`spawn`/`ping`/`neigh` helpers, and [`veth_pair`];
//! - [`Vpcd`]: the daemon under test, started with a readiness handshake and stopped by PID;
//! - [`Lab`]: a topology file running on its own `vpcd` with per-run namespaces;
//! - [`Vpcctl`]: the `vpcctl` binary end to end, with a guard that runs `vpcctl down`;
//! - [`traffic`]: real socat/iperf3 traffic between namespaces;
//! - [`Scratch`]: per-run temporary directories;
//! - [`vm`]: QEMU guests (busybox initramfs, serial console commands, KVM/TCG probe).
//!
//! Every namespace test starts with `if !testbeds::require_root_or_skip() { return; }`.

pub mod error;
pub mod lab;
pub mod names;
pub mod netns;
pub mod privileges;
pub mod process;
pub mod scratch;
mod sys;
pub mod traffic;
pub mod vm;
pub mod vpcctl;
pub mod vpcd;

pub use error::{Error, Result};
pub use lab::Lab;
pub use names::{cleanup_stale, RunPrefix};
pub use netns::{veth_pair, MacAddr, Neighbor, Netns, PingResult};
pub use privileges::require_root_or_skip;
pub use process::{NsChild, SpawnOpts};
pub use scratch::Scratch;
pub use traffic::{iperf3, tcp_transfer, TransferResult};
pub use vm::{Initramfs, Nic, Vm, VmOptions};
pub use vpcctl::{Vpcctl, VpcctlUp};
pub use vpcd::{Vpcd, VpcdOptions};

/// Installs a `tracing` subscriber that writes through the test harness's capture (honours
/// `RUST_LOG`, default `info`). Safe to call from every test; only the first call installs.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
