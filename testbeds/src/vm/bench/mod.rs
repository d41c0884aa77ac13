//! VM throughput bench (VPC-11's closing figures): iperf3 TCP from a guest to a namespace and
//! from a guest to another guest, per attachment kind of vpcd, against the same two guests on a
//! plain Linux bridge with TAPs, in one run.
//!
//! A *plane* is one way of wiring two guests (VM1, VM2) and a namespace endpoint together:
//! - [`Plane::QemuStream`], [`Plane::VhostUser`], [`Plane::Interface`]: a private `vpcd` (a
//!   [`Lab`](crate::Lab)) with VPC 10.0.0.0/16, VM1 in subnet-a (10.0.1.10), VM2 (10.0.2.10) and the
//!   namespace ENI `eni-ns` (10.0.2.20) in subnet-b, one security group admitting everything from
//!   the VPC; the guests take their addresses by DHCP from the VPC router;
//! - [`Plane::Bridge`]: the peer. A namespace `{prefix}-br` holding a Linux bridge, one TAP per
//!   guest (QEMU runs in that namespace, with `vhost=on` where `/dev/vhost-net` exists) and a veth
//!   to the namespace `{prefix}-bns`; one L2 subnet 10.0.1.0/24 with static addresses.
//!
//! Every link is MTU [`MTU`] (the VPC's ENIs are 9001 too), the guests have the same memory and
//! CPUs on every plane. [`run`] goes through the planes in turn within each round (interleaved,
//! so a noisy neighbour spreads over all of them); per plane it boots both guests in parallel,
//! measures both directions, and tears everything down again. Around each iperf3 run it reads the
//! CPU time of vpcd and of the QEMU processes from `/proc/<pid>/stat`, so the figures can be put
//! per GB received: under TCG the guests bound the throughput, and vpcd's CPU per GB is what
//! compares the attachment kinds.
//!
//! Root-only; needs QEMU, a kernel, busybox and iperf3 (`scripts/setup`), and `vpcd`/`vpcctl`
//! next to the running executable (see [`crate::Vpcd::binary_path`]). Everything it creates
//! carries a per-run prefix and is removed on every exit path by the guards it holds
//! ([`Lab`](crate::Lab), [`Netns`](crate::Netns), [`Vm`], [`Scratch`]). No guest ever gets `-netdev user` or a host
//! interface.

mod parse;
mod planes;
mod report;
#[cfg(test)]
mod tests;

pub use crate::process::{parse_proc_stat_ticks, process_cpu_seconds};
pub use parse::{cpu_per_gb, median, parse_iperf3_receiver, ratio};
use planes::*;
use report::*;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::{Accel, Initramfs, Nic, Vm, VmOptions, DEFAULT_BOOT_TIMEOUT};
use crate::error::{Error, Result};
use crate::{RunPrefix, Scratch};

/// The MTU of every link of every plane (the VPC's ENIs have 9001).
pub const MTU: u32 = 9001;

/// Guest RAM in MiB on every plane (`vpcctl vm-args --memory` sizes a vhost-user guest's
/// shared memory for it).
pub const VM_MEMORY_MIB: u32 = 256;

/// The iperf3 port of both servers.
pub const IPERF3_PORT: u16 = 5201;

/// The device node whose presence decides `vhost=on` for the bridge plane's (and the
/// `interface` plane's) TAPs.
pub const VHOST_NET: &str = "/dev/vhost-net";

/// Deadline of a short guest console command (TCG on a busy 2-core machine is slow).
pub(super) const VM_CMD: Duration = Duration::from_secs(60);
/// Deadline of a short host command.
pub(super) const HOST_CMD: Duration = Duration::from_secs(15);
/// How long a server may take to listen.
pub(super) const LISTEN_TIMEOUT: Duration = Duration::from_secs(20);
/// Extra time an iperf3 client gets beyond its test duration (connect, TCG, the console).
pub(super) const IPERF_SLACK: Duration = Duration::from_secs(60);

/// One way of connecting the two guests and the namespace endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plane {
    /// vpcd, guests on `-netdev stream` Unix sockets (`attachment = "qemu-stream"`).
    QemuStream,
    /// vpcd, guests on vhost-user sockets (`attachment = "vhost-user"`).
    VhostUser,
    /// vpcd reading hypervisor TAPs with `AF_PACKET` (`attachment = "interface"`).
    Interface,
    /// No vpcd: a Linux bridge with the guests' TAPs and a veth to the namespace (the peer).
    Bridge,
}

impl Plane {
    /// Every plane, in the order of the report.
    pub const ALL: [Plane; 4] = [
        Plane::QemuStream,
        Plane::VhostUser,
        Plane::Interface,
        Plane::Bridge,
    ];

    /// Its name on the command line and in the report (`qemu-stream`, `vhost-user`,
    /// `interface`, `bridge`; the first three are the ENI's `attachment` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Plane::QemuStream => "qemu-stream",
            Plane::VhostUser => "vhost-user",
            Plane::Interface => "interface",
            Plane::Bridge => "bridge",
        }
    }

    /// Whether vpcd forwards on this plane (everything but [`Plane::Bridge`]).
    pub fn is_vpcd(self) -> bool {
        self != Plane::Bridge
    }

    /// Parses a comma-separated list (`vhost-user,bridge`); duplicates are dropped, order kept.
    pub fn parse_list(list: &str) -> Result<Vec<Plane>> {
        let mut planes = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let p: Plane = name.parse()?;
            if !planes.contains(&p) {
                planes.push(p);
            }
        }
        if planes.is_empty() {
            return Err(Error::parse(
                "plane list",
                format!("{list:?} names no plane"),
            ));
        }
        Ok(planes)
    }
}

impl std::fmt::Display for Plane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plane {
    type Err = Error;

    fn from_str(s: &str) -> Result<Plane> {
        Plane::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                Error::parse(
                    "plane",
                    format!("{s:?} (one of qemu-stream, vhost-user, interface, bridge)"),
                )
            })
    }
}

/// Which way the measured TCP stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// iperf3 client in VM1, server in the namespace endpoint.
    VmToNs,
    /// iperf3 client in VM1, server in VM2.
    VmToVm,
}

impl Direction {
    /// Both directions, in the order they are measured and reported.
    pub const ALL: [Direction; 2] = [Direction::VmToNs, Direction::VmToVm];

    /// Its name in the CSV (`vm-ns`, `vm-vm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::VmToNs => "vm-ns",
            Direction::VmToVm => "vm-vm",
        }
    }

    /// Its name in the Markdown table.
    pub fn label(self) -> &'static str {
        match self {
            Direction::VmToNs => "VM → namespace",
            Direction::VmToVm => "VM → VM",
        }
    }
}

/// What [`run`] measures.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// iperf3 test duration in seconds (5).
    pub secs: u32,
    /// Rounds; in each, every plane is measured once (3).
    pub rounds: u32,
    /// The planes, in the order they run within a round (all of [`Plane::ALL`]).
    pub planes: Vec<Plane>,
    /// The accelerator of the guests ([`Accel::Auto`]: KVM if it really works, else TCG).
    pub accel: Accel,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            secs: 5,
            rounds: 3,
            planes: Plane::ALL.to_vec(),
            accel: Accel::Auto,
        }
    }
}

/// One iperf3 run's receiver-side result, from the client's summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IperfSummary {
    /// Receiver throughput in Mbit/s (10^6 bit/s).
    pub mbps: f64,
    /// Bytes the receiver got (from the `Transfer` column; iperf3's byte units are 1024-based,
    /// so the value carries the 3 significant digits iperf3 prints).
    pub bytes: u64,
}

/// One measurement: a (round, plane, direction) with its CPU costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The round, from 1.
    pub round: u32,
    /// The plane.
    pub plane: Plane,
    /// The direction.
    pub direction: Direction,
    /// Receiver throughput and bytes.
    pub iperf: IperfSummary,
    /// vpcd's CPU seconds (user + system) during the iperf3 run; `None` on the bridge plane.
    pub vpcd_cpu_s: Option<f64>,
    /// Both QEMU processes' CPU seconds (user + system, all threads) during the iperf3 run.
    pub qemu_cpu_s: f64,
}

impl Sample {
    /// vpcd's CPU seconds per GB (10^9 bytes) received; `None` on the bridge plane.
    pub fn vpcd_s_per_gb(&self) -> Option<f64> {
        self.vpcd_cpu_s
            .and_then(|cpu| cpu_per_gb(cpu, self.iperf.bytes))
    }

    /// The QEMU processes' CPU seconds per GB received (`None` if nothing was received).
    pub fn qemu_s_per_gb(&self) -> Option<f64> {
        cpu_per_gb(self.qemu_cpu_s, self.iperf.bytes)
    }
}

/// The summary of one (plane, direction) over all rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The plane.
    pub plane: Plane,
    /// The direction.
    pub direction: Direction,
    /// Median throughput over the rounds, Mbit/s.
    pub median_mbps: f64,
    /// Lowest round, Mbit/s.
    pub min_mbps: f64,
    /// Highest round, Mbit/s.
    pub max_mbps: f64,
    /// Median over the rounds of (this plane's figure / the bridge plane's figure of the same
    /// round and direction); `None` without bridge samples.
    pub ratio_to_bridge: Option<f64>,
    /// Median of vpcd's CPU s/GB over the rounds (vpcd planes only).
    pub vpcd_s_per_gb: Option<f64>,
    /// Median of the QEMU processes' CPU s/GB over the rounds.
    pub qemu_s_per_gb: Option<f64>,
}

/// Cleans up after a run that a signal is ending (no `Drop` runs then): for every namespace of
/// this process (its run prefixes encode the PID, see [`RunPrefix`]), kills the processes inside
/// it by their PIDs (`ip netns pids`: iperf3 servers, DHCP clients, QEMU on a TAP; all started
/// by this run), deletes it and its `/etc/netns` entry; removes this process's scratch
/// directories. vpcd and the other QEMUs die with this
/// process (`PR_SET_PDEATHSIG`). For the binary's SIGINT handler.
pub fn interrupted() {
    let me = std::process::id();
    for ns in crate::names::list_netns()
        .into_iter()
        .filter(|n| crate::names::decode_netns_pid(n) == Some(me))
    {
        if let Ok(pids) = crate::process::run_ok(&["ip", "netns", "pids", &ns], HOST_CMD) {
            for pid in pids.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                if pid != me {
                    let _ = crate::sys::kill(pid, libc::SIGKILL);
                }
            }
        }
        if let Err(e) = crate::process::run_ok(&["ip", "netns", "del", &ns], HOST_CMD) {
            tracing::warn!(netns = %ns, %e, "deleting namespace");
        }
        control::dhcp_client::remove_netns_etc(&ns);
    }
    // This process's scratch directories ([`Scratch`]: `testbeds-{label}-{pid}-{n}`).
    let tmp = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&tmp) else {
        return;
    };
    for name in entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        if is_scratch_of(&name, me) {
            let _ = std::fs::remove_dir_all(tmp.join(&name));
        }
    }
}

/// Whether `name` is a [`Scratch`] directory name of process `pid` (`testbeds-{label}-{pid}-{n}`).
pub(super) fn is_scratch_of(name: &str, pid: u32) -> bool {
    let Some(rest) = name.strip_prefix("testbeds-") else {
        return false;
    };
    let mut parts = rest.rsplitn(3, '-');
    let (Some(n), Some(p), Some(label)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !label.is_empty()
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u32>() == Ok(pid)
}

/// Runs the bench: for each round, each plane in turn (boot both guests, measure both
/// directions, tear down). Root-only; see the module doc.
pub fn run(opts: &BenchOptions) -> Result<BenchReport> {
    if opts.secs == 0 || opts.rounds == 0 || opts.planes.is_empty() {
        return Err(Error::parse(
            "bench options",
            format!(
                "secs {} and rounds {} must be > 0, planes {:?} not empty",
                opts.secs, opts.rounds, opts.planes
            ),
        ));
    }
    let prefix = RunPrefix::new()?;
    let scratch = Scratch::new(&prefix.ns_name("vmbench"))?;
    let initramfs = Initramfs::build(scratch.path())?;
    if !initramfs.has_iperf3() {
        return Err(Error::VmSetup {
            what: "iperf3".into(),
            detail: "not installed on the host, so not in the guests' initramfs".into(),
        });
    }
    let accel = opts.accel.resolve();
    let vhost_net = Path::new(VHOST_NET).exists();
    tracing::info!(accel = accel.as_str(), vhost_net, "VM bench");
    let env = Env {
        prefix,
        initramfs,
        accel,
        vhost_net,
    };
    let mut samples = Vec::new();
    for round in 1..=opts.rounds {
        for &plane in &opts.planes {
            let started = Instant::now();
            let mut pair = match plane {
                Plane::Bridge => env.bridge_plane()?,
                kind => env.vpcd_plane(kind)?,
            };
            for direction in Direction::ALL {
                let m = pair.measure(direction, opts.secs)?;
                tracing::info!(
                    round,
                    plane = plane.as_str(),
                    direction = direction.as_str(),
                    mbps = m.iperf.mbps,
                    vpcd_cpu_s = ?m.vpcd_cpu_s,
                    qemu_cpu_s = m.qemu_cpu_s,
                    "measured"
                );
                samples.push(Sample {
                    round,
                    plane,
                    direction,
                    iperf: m.iperf,
                    vpcd_cpu_s: m.vpcd_cpu_s,
                    qemu_cpu_s: m.qemu_cpu_s,
                });
            }
            drop(pair);
            tracing::info!(round, plane = plane.as_str(), took = ?started.elapsed(), "plane done");
        }
    }
    Ok(BenchReport {
        accel,
        vhost_net,
        secs: opts.secs,
        rounds: opts.rounds,
        planes: opts.planes.clone(),
        samples,
    })
}
