//! VM throughput bench (VPC-11's closing figures): iperf3 TCP from a guest to a namespace and
//! from a guest to another guest, per attachment kind of vpcd, against the same two guests on a
//! plain Linux bridge with TAPs, in one run.
//!
//! A *plane* is one way of wiring two guests (VM1, VM2) and a namespace endpoint together:
//! - [`Plane::QemuStream`], [`Plane::VhostUser`], [`Plane::Interface`]: a private `vpcd` (a
//!   [`Lab`]) with VPC 10.0.0.0/16, VM1 in subnet-a (10.0.1.10), VM2 (10.0.2.10) and the
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
//! ([`Lab`], [`Netns`], [`Vm`], [`Scratch`]). No guest ever gets `-netdev user` or a host
//! interface.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::{Accel, Initramfs, Nic, Vm, VmOptions, DEFAULT_BOOT_TIMEOUT};
use crate::error::{Error, Result};
use crate::process::last_lines;
use crate::{veth_pair, Lab, MacAddr, Netns, RunPrefix, Scratch, Vpcctl};

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
const VM_CMD: Duration = Duration::from_secs(60);
/// Deadline of a short host command.
const HOST_CMD: Duration = Duration::from_secs(15);
/// How long a server may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(20);
/// Extra time an iperf3 client gets beyond its test duration (connect, TCG, the console).
const IPERF_SLACK: Duration = Duration::from_secs(60);

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

/// Everything one [`run`] measured, and how.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The accelerator the guests ran with (never [`Accel::Auto`]).
    pub accel: Accel,
    /// Whether the bridge plane's TAPs had `vhost=on` (`/dev/vhost-net` exists).
    pub vhost_net: bool,
    /// iperf3 duration, seconds.
    pub secs: u32,
    /// Rounds.
    pub rounds: u32,
    /// The planes, in run order.
    pub planes: Vec<Plane>,
    /// Every measurement, in the order taken.
    pub samples: Vec<Sample>,
}

impl BenchReport {
    /// One row per (plane, direction) in plane order; planes without samples are skipped.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let mut rows = Vec::new();
        for &plane in &self.planes {
            for direction in Direction::ALL {
                let of = |p: Plane| {
                    self.samples
                        .iter()
                        .filter(move |s| s.plane == p && s.direction == direction)
                };
                let mbps: Vec<f64> = of(plane).map(|s| s.iperf.mbps).collect();
                let Some(median_mbps) = median(&mbps) else {
                    continue;
                };
                let ratios: Vec<f64> = of(plane)
                    .filter_map(|s| {
                        let bridge = of(Plane::Bridge).find(|b| b.round == s.round)?;
                        ratio(s.iperf.mbps, bridge.iperf.mbps)
                    })
                    .collect();
                let vpcd: Vec<f64> = of(plane).filter_map(|s| s.vpcd_s_per_gb()).collect();
                let qemu: Vec<f64> = of(plane).filter_map(|s| s.qemu_s_per_gb()).collect();
                rows.push(SummaryRow {
                    plane,
                    direction,
                    median_mbps,
                    min_mbps: mbps.iter().copied().fold(f64::INFINITY, f64::min),
                    max_mbps: mbps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    ratio_to_bridge: median(&ratios),
                    vpcd_s_per_gb: median(&vpcd),
                    qemu_s_per_gb: median(&qemu),
                });
            }
        }
        rows
    }

    /// The header line: what was measured and how (accelerator, vhost-net, duration, rounds,
    /// MTU, guest size).
    pub fn header(&self) -> String {
        let vhost = if self.vhost_net {
            "bridge TAPs with vhost-net (vhost=on)"
        } else {
            "bridge TAPs without vhost-net (no /dev/vhost-net)"
        };
        format!(
            "VM throughput: iperf3 TCP, 1 stream, {} s x {} round{}; accelerator {}; {vhost}; \
             MTU {MTU} everywhere; 2 guests x {VM_MEMORY_MIB} MiB, 1 vCPU",
            self.secs,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.accel.as_str(),
        )
    }

    /// The header line, a Markdown table of [`BenchReport::summary`], and a note on what the
    /// CPU figures count.
    pub fn markdown(&self) -> String {
        let mut out = self.header();
        out.push_str("\n\n");
        out.push_str(
            "| plane | direction | Mbit/s, median (min–max) | ÷ bridge (median of per-round ratios) \
             | vpcd CPU s/GB | QEMU CPU s/GB |\n|---|---|---|---|---|---|\n",
        );
        for r in self.summary() {
            let ratio = match (r.plane, r.ratio_to_bridge) {
                (Plane::Bridge, _) => "1".to_string(),
                (_, Some(x)) => format!("{x:.2}"),
                (_, None) => "—".to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}–{}) | {ratio} | {} | {} |",
                r.plane,
                r.direction.label(),
                fmt_mbps(r.median_mbps),
                fmt_mbps(r.min_mbps),
                fmt_mbps(r.max_mbps),
                r.vpcd_s_per_gb
                    .map_or("—".to_string(), |x| format!("{x:.2}")),
                r.qemu_s_per_gb
                    .map_or("—".to_string(), |x| format!("{x:.1}")),
            );
        }
        out.push_str(
            "\nCPU per GB: CPU seconds (user + system, all threads) during the iperf3 run per \
             10^9 bytes received; vpcd = the vpcd process, QEMU = both guests' QEMU processes \
             together.\n",
        );
        out
    }

    /// One CSV row per sample (round, plane, direction) after a header row; absent values are
    /// empty fields.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "round,plane,direction,mbit_s,bytes,vpcd_cpu_s,qemu_cpu_s,vpcd_s_per_gb,qemu_s_per_gb\n",
        );
        let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.4}"));
        for s in &self.samples {
            let _ = writeln!(
                out,
                "{},{},{},{:.1},{},{},{:.4},{},{}",
                s.round,
                s.plane,
                s.direction.as_str(),
                s.iperf.mbps,
                s.iperf.bytes,
                opt(s.vpcd_cpu_s),
                s.qemu_cpu_s,
                opt(s.vpcd_s_per_gb()),
                opt(s.qemu_s_per_gb()),
            );
        }
        out
    }

    /// Writes `vm_throughput.md` ([`BenchReport::markdown`]) and `vm_throughput.csv`
    /// ([`BenchReport::csv`]) into `dir` (created if missing).
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        for (name, text) in [
            ("vm_throughput.md", self.markdown()),
            ("vm_throughput.csv", self.csv()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }
}

/// Mbit/s with 3 significant digits at most, as a whole number from 100 on.
fn fmt_mbps(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// `value / reference`; `None` when the reference is not a positive finite number.
pub fn ratio(value: f64, reference: f64) -> Option<f64> {
    (reference.is_finite() && reference > 0.0).then(|| value / reference)
}

/// CPU seconds per GB (10^9 bytes): `cpu_s / (bytes / 1e9)`; `None` for zero bytes.
pub fn cpu_per_gb(cpu_s: f64, bytes: u64) -> Option<f64> {
    (bytes > 0).then(|| cpu_s / (bytes as f64 / 1e9))
}

/// Parses an iperf3 client's text summary (`-f m` or any other unit) for its `receiver` line:
/// `[  5]   0.00-3.04  sec   111 MBytes   307 Mbits/sec    receiver`.
pub fn parse_iperf3_receiver(text: &str) -> Result<IperfSummary> {
    let err = |detail: &str| {
        Error::parse(
            "iperf3 client output",
            format!("{detail}:\n{}", last_lines(text, 8)),
        )
    };
    let line = text
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| l.ends_with("receiver"))
        .ok_or_else(|| err("no receiver line"))?;
    let toks: Vec<&str> = line.split_whitespace().collect();
    let value_before = |i: usize| -> Option<f64> {
        toks.get(i.checked_sub(1)?)?
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let rate_i = toks
        .iter()
        .position(|t| t.ends_with("bits/sec"))
        .ok_or_else(|| err("no bits/sec in the receiver line"))?;
    let rate_scale = match toks[rate_i] {
        "bits/sec" => 1e-6,
        "Kbits/sec" => 1e-3,
        "Mbits/sec" => 1.0,
        "Gbits/sec" => 1e3,
        "Tbits/sec" => 1e6,
        _ => return Err(err("unknown rate unit")),
    };
    let rate = value_before(rate_i).ok_or_else(|| err("no rate value"))?;
    let bytes_i = toks
        .iter()
        .position(|t| t.ends_with("Bytes"))
        .ok_or_else(|| err("no Bytes in the receiver line"))?;
    let byte_scale: f64 = match toks[bytes_i] {
        "Bytes" => 1.0,
        "KBytes" => 1024.0,
        "MBytes" => 1024.0 * 1024.0,
        "GBytes" => 1024.0 * 1024.0 * 1024.0,
        "TBytes" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(err("unknown byte unit")),
    };
    let transferred = value_before(bytes_i).ok_or_else(|| err("no transfer value"))?;
    Ok(IperfSummary {
        mbps: rate * rate_scale,
        bytes: (transferred * byte_scale).round() as u64,
    })
}

/// Parses `/proc/<pid>/stat` for the process's CPU time in clock ticks: `utime + stime`
/// (fields 14 and 15, counted after the parenthesised command name, which may hold spaces).
pub fn parse_proc_stat_ticks(stat: &str) -> Result<u64> {
    let err = |detail: &str| Error::parse("/proc/<pid>/stat", format!("{detail}: {stat:?}"));
    let (_, rest) = stat
        .rsplit_once(')')
        .ok_or_else(|| err("no ')' after the command name"))?;
    // `rest` starts at field 3 (state): utime (14) is its 12th token, stime (15) the 13th.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| err("utime/stime missing or not a number"))
    };
    Ok(field(11)? + field(12)?)
}

/// CPU seconds (user + system, all threads) process `pid` has used so far.
pub fn process_cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("reading {path}"), e))?;
    let ticks = parse_proc_stat_ticks(&stat)?;
    let hz = crate::sys::clock_ticks_per_sec()
        .ok_or_else(|| Error::parse("sysconf(_SC_CLK_TCK)", "no positive value"))?;
    Ok(ticks as f64 / hz as f64)
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
fn is_scratch_of(name: &str, pid: u32) -> bool {
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

/// What every plane shares within one run.
struct Env {
    prefix: RunPrefix,
    initramfs: Initramfs,
    accel: Accel,
    vhost_net: bool,
}

/// The guard of the bridge plane: the namespaces `{prefix}-br` (bridge, TAPs, one veth end)
/// and `{prefix}-bns` (the other end, the namespace endpoint). Dropping it deletes both
/// namespaces ([`Netns`] guards), and with them every interface of the plane.
struct BridgeNet {
    br: Netns,
    bns: Netns,
}

/// What keeps a plane alive besides its guests.
enum PlaneGuard {
    /// A vpcd plane: the lab (vpcd, its namespaces), then the directory of its sockets.
    Vpcd { _lab: Box<Lab>, _dir: Scratch },
    /// The bridge plane.
    Bridge { _net: BridgeNet },
}

/// A plane with its two guests up and addressed. Field order is drop order: the guests
/// (QEMU killed by PID), the endpoint namespace's handle, then the plane itself.
struct Pair {
    vm1: Vm,
    vm2: Vm,
    ns: Netns,
    ns_ip: Ipv4Addr,
    vm2_ip: Ipv4Addr,
    vpcd_pid: Option<u32>,
    _guard: PlaneGuard,
}

/// One iperf3 run with the CPU it cost.
struct Measurement {
    iperf: IperfSummary,
    vpcd_cpu_s: Option<f64>,
    qemu_cpu_s: f64,
}

/// The vpcd planes' addresses.
const VPC_VM1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
const VPC_VM2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 10);
const VPC_NS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 20);
/// The bridge plane's addresses (one /24).
const BR_VM1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
const BR_VM2: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 11);
const BR_NS: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 20);

/// The hypervisor TAPs of the `interface` plane (in the endpoint's namespace `ns`).
const IF_TAPS: [&str; 2] = ["vif1", "vif2"];

/// `eni`'s attachment fields on `plane`.
fn attachment(plane: Plane, n: usize, dir: &Path) -> String {
    match plane {
        Plane::Interface => format!(
            "attachment = \"interface\"\ninterface = \"{}\"\nnetns = \"ns\"\n",
            IF_TAPS[n - 1]
        ),
        kind => format!(
            "attachment = \"{kind}\"\nsocket = \"{}\"\n",
            dir.join(format!("vm{n}.sock")).display()
        ),
    }
}

/// The vpcd planes' topology; `attached`: the guests' ENIs with their attachment.
fn topology(plane: Plane, dir: &Path, attached: bool) -> String {
    let att = |n| {
        if attached {
            attachment(plane, n, dir)
        } else {
            String::new()
        }
    };
    format!(
        r#"
[[vpc]]
id = "vpc-bench"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-bench"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-bench"
cidr = "10.0.2.0/24"

[[security_group]]
id = "sg-bench"
vpc = "vpc-bench"
inbound = [{{ protocol = "-1", source = "10.0.0.0/16" }}]
outbound = [{{ protocol = "-1", destination = "10.0.0.0/16" }}]

[[eni]]
id = "eni-vm1"
subnet = "subnet-a"
private_ip = "{VPC_VM1}"
security_groups = ["sg-bench"]
{}
[[eni]]
id = "eni-vm2"
subnet = "subnet-b"
private_ip = "{VPC_VM2}"
security_groups = ["sg-bench"]
{}
[[eni]]
id = "eni-ns"
subnet = "subnet-b"
private_ip = "{VPC_NS}"
security_groups = ["sg-bench"]
netns = "ns"
"#,
        att(1),
        att(2)
    )
}

/// The value after `flag` in `args`, mutably.
fn arg_after<'a>(args: &'a mut [String], flag: &str) -> Result<&'a mut String> {
    let i = args
        .iter()
        .position(|a| a == flag)
        .ok_or_else(|| Error::parse("vpcctl vm-args", format!("no {flag} in {args:?}")))?;
    let desc = format!("nothing after {flag}");
    args.get_mut(i + 1)
        .ok_or_else(|| Error::parse("vpcctl vm-args", desc))
}

impl Env {
    /// The guest options shared by every plane.
    fn vm_options(&self, name: &str) -> VmOptions {
        let mut o = VmOptions::new(name, &self.initramfs)
            .prefix(&self.prefix)
            .accel(self.accel);
        o.memory_mib = VM_MEMORY_MIB;
        o.cpus = 1;
        o
    }

    /// `vpcctl vm-args ENI --json --memory MIB` against `lab`'s vpcd, adjusted for this host:
    /// `vectors=0` on a vhost-user device under TCG (QEMU 7.2 under TCG, without irqfd,
    /// crashes in `msix_set_vector_notifiers` when a vhost back end starts; see
    /// tests/vpc11_stream_e2e.rs), `vhost=on` on an `interface` TAP where vhost-net exists.
    fn vm_args(&self, lab: &Lab, plane: Plane, eni: &str) -> Result<Vec<String>> {
        let mem = VM_MEMORY_MIB.to_string();
        let ctl = Vpcctl::new(lab.vpcd().socket_path())?;
        let argv = ["vm-args", eni, "--json", "--memory", &mem];
        let out = ctl.run(&argv, HOST_CMD)?;
        if !out.status.success() {
            return Err(Error::Command {
                cmd: format!("vpcctl {}", argv.join(" ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        let mut args: Vec<String> = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::parse("vpcctl vm-args --json", e.to_string()))?;
        if plane == Plane::VhostUser && self.accel == Accel::Tcg {
            arg_after(&mut args, "-device")?.push_str(",vectors=0");
        }
        if plane == Plane::Interface && self.vhost_net {
            arg_after(&mut args, "-netdev")?.push_str(",vhost=on");
        }
        Ok(args)
    }

    /// A vpcd plane: the lab, both guests booted (in parallel) on `kind` and addressed by DHCP.
    fn vpcd_plane(&self, kind: Plane) -> Result<Pair> {
        let dir = Scratch::new(&self.prefix.ns_name(kind.as_str()))?;
        let lab = if kind == Plane::Interface {
            // The TAPs must exist before the ENIs are attached to them: the VPC first (which
            // creates the namespace `ns`), then the TAPs in it, then the attachments.
            let mut lab = Lab::start(&topology(kind, dir.path(), false))?;
            let ns = lab
                .try_ns("eni-ns")
                .ok_or_else(|| Error::Control("the lab has no namespace for eni-ns".into()))?;
            for tap in IF_TAPS {
                create_tap(ns, tap, None)?;
            }
            lab.apply(&topology(kind, dir.path(), true))
                .map_err(Error::Topology)?;
            lab
        } else {
            Lab::start(&topology(kind, dir.path(), true))?
        };
        let ns = lab
            .try_ns("eni-ns")
            .ok_or_else(|| Error::Control("the lab has no namespace for eni-ns".into()))?
            .clone();
        let qemu_ns = (kind == Plane::Interface).then(|| ns.name().to_owned());
        let mut opts = Vec::new();
        for (n, eni) in [(1, "eni-vm1"), (2, "eni-vm2")] {
            let args = self.vm_args(&lab, kind, eni)?;
            let mut o = self.vm_options(&format!("{kind}-vm{n}")).args(args);
            if let Some(q) = &qemu_ns {
                o = o.netns(q.clone());
            }
            opts.push(o);
        }
        let [o1, o2] = <[VmOptions; 2]>::try_from(opts)
            .map_err(|_| Error::Control("two guests' options expected".into()))?;
        let (mut vm1, mut vm2) = boot_pair(o1, o2)?;
        for (vm, ip) in [(&mut vm1, VPC_VM1), (&mut vm2, VPC_VM2)] {
            let lease = vm.run_ok(
                "udhcpc -i eth0 -n -q -t 10 -T 2 && cat /run/udhcpc.lease",
                VM_CMD,
            )?;
            if !lease.contains(&format!("ip={ip}")) {
                return Err(Error::parse(
                    format!("DHCP lease of {}", vm.name()),
                    format!("expected ip={ip}: {lease}"),
                ));
            }
        }
        let vpcd_pid = Some(lab.vpcd().pid());
        let mut pair = Pair {
            vm1,
            vm2,
            ns,
            ns_ip: VPC_NS,
            vm2_ip: VPC_VM2,
            vpcd_pid,
            _guard: PlaneGuard::Vpcd {
                _lab: Box::new(lab),
                _dir: dir,
            },
        };
        pair.check_reachable()?;
        Ok(pair)
    }

    /// The bridge plane: namespaces, bridge, TAPs, veth; both guests booted (in parallel) on
    /// the TAPs (QEMU in `{prefix}-br`) and addressed statically.
    fn bridge_plane(&self) -> Result<Pair> {
        let net = BridgeNet {
            br: self.prefix.netns("br")?,
            bns: self.prefix.netns("bns")?,
        };
        let mtu = MTU.to_string();
        net.br.ip(&["link", "add", "br0", "type", "bridge"])?;
        net.br
            .ip(&["link", "set", "dev", "br0", "mtu", &mtu, "up"])?;
        for tap in ["tap1", "tap2"] {
            create_tap(&net.br, tap, Some("br0"))?;
        }
        veth_pair(&net.br, "vbr", &net.bns, "vns")?;
        net.br
            .ip(&["link", "set", "dev", "vbr", "mtu", &mtu, "master", "br0"])?;
        net.bns.ip(&["link", "set", "dev", "vns", "mtu", &mtu])?;
        net.bns
            .ip(&["addr", "add", &format!("{BR_NS}/24"), "dev", "vns"])?;
        // Ports joined after the bridge's MTU was set may have lowered it: set it again.
        net.br.ip(&["link", "set", "dev", "br0", "mtu", &mtu])?;
        let vhost = if self.vhost_net { ",vhost=on" } else { "" };
        let mut opts = Vec::new();
        for n in 1..=2u8 {
            let backend = format!("tap,ifname=tap{n},script=no,downscript=no{vhost}");
            let mac = MacAddr([0x02, 0x00, 0x0a, 0x00, 0x01, 0x10 + n]);
            opts.push(
                self.vm_options(&format!("bridge-vm{n}"))
                    .netns(net.br.name())
                    .nic(Nic::virtio("n0", &backend, Some(mac))),
            );
        }
        let [o1, o2] = <[VmOptions; 2]>::try_from(opts)
            .map_err(|_| Error::Control("two guests' options expected".into()))?;
        let (mut vm1, mut vm2) = boot_pair(o1, o2)?;
        for (vm, ip) in [(&mut vm1, BR_VM1), (&mut vm2, BR_VM2)] {
            vm.run_ok(
                &format!("ip addr add {ip}/24 dev eth0 && ip link set eth0 mtu {MTU} up"),
                VM_CMD,
            )?;
        }
        let ns = net.bns.clone();
        let mut pair = Pair {
            vm1,
            vm2,
            ns,
            ns_ip: BR_NS,
            vm2_ip: BR_VM2,
            vpcd_pid: None,
            _guard: PlaneGuard::Bridge { _net: net },
        };
        pair.check_reachable()?;
        Ok(pair)
    }
}

/// Creates the TAP `name` in `ns` (with a vnet header, MTU [`MTU`], no addresses), on the
/// bridge `master` if given, and sets it up; QEMU opens it by name.
fn create_tap(ns: &Netns, name: &str, master: Option<&str>) -> Result<()> {
    let mtu = MTU.to_string();
    ns.ip(&["tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"])?;
    ns.ip(&[
        "link",
        "set",
        "dev",
        name,
        "mtu",
        &mtu,
        "addrgenmode",
        "none",
    ])?;
    if let Some(br) = master {
        ns.ip(&["link", "set", "dev", name, "master", br])?;
    }
    ns.ip(&["link", "set", "dev", name, "up"])?;
    Ok(())
}

/// Launches both guests, then waits for both shells (they boot in parallel).
fn boot_pair(o1: VmOptions, o2: VmOptions) -> Result<(Vm, Vm)> {
    let mut vm1 = Vm::launch(o1)?;
    let mut vm2 = Vm::launch(o2)?;
    vm1.wait_ready(DEFAULT_BOOT_TIMEOUT)?;
    vm2.wait_ready(DEFAULT_BOOT_TIMEOUT)?;
    Ok((vm1, vm2))
}

/// Waits until something listens on TCP `port` in `ns` (`ss -Hltn`, polled, bounded).
fn wait_listening_ns(ns: &Netns, port: u16) -> Result<()> {
    let filter = format!("sport = :{port}");
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    loop {
        let out = ns.exec_ok(&["ss", "-Hltn", &filter], HOST_CMD)?;
        if !out.trim().is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                cmd: format!("[{}] waiting for a listener on :{port}", ns.name()),
                timeout: LISTEN_TIMEOUT,
                stderr: String::new(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until something listens on TCP `port` in the guest (`netstat -ltn`, polled, bounded).
fn wait_listening_vm(vm: &mut Vm, port: u16) -> Result<()> {
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    let needle = format!(":{port} ");
    loop {
        let out = vm.run_ok("netstat -ltn", VM_CMD)?;
        if out.lines().any(|l| l.contains(&needle)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                cmd: format!("waiting for a listener on :{port} in {}", vm.name()),
                timeout: LISTEN_TIMEOUT,
                stderr: out,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Pair {
    /// CPU seconds so far of vpcd (if any) and of both QEMU processes together.
    fn cpu(&self) -> Result<(Option<f64>, f64)> {
        let vpcd = self.vpcd_pid.map(process_cpu_seconds).transpose()?;
        let qemu = process_cpu_seconds(self.vm1.pid())? + process_cpu_seconds(self.vm2.pid())?;
        Ok((vpcd, qemu))
    }

    /// VM1 pings the namespace endpoint and VM2 (the first frames also resolve ARP and set
    /// up vpcd's flows before anything is measured).
    fn check_reachable(&mut self) -> Result<()> {
        for ip in [self.ns_ip, self.vm2_ip] {
            self.vm1.run_ok(&format!("ping -c 2 -w 20 {ip}"), VM_CMD)?;
        }
        Ok(())
    }

    /// One iperf3 run in `direction` (client in VM1, `secs` long) with its CPU costs.
    fn measure(&mut self, direction: Direction, secs: u32) -> Result<Measurement> {
        let port = IPERF3_PORT.to_string();
        let mut server = None;
        let server_ip = match direction {
            Direction::VmToNs => {
                let ip = self.ns_ip.to_string();
                server = Some(
                    self.ns
                        .spawn(&["iperf3", "-s", "-1", "-B", &ip, "-p", &port])?,
                );
                wait_listening_ns(&self.ns, IPERF3_PORT)?;
                ip
            }
            Direction::VmToVm => {
                self.vm2
                    .run_ok(&format!("iperf3 -s -1 -D -p {port}"), VM_CMD)?;
                wait_listening_vm(&mut self.vm2, IPERF3_PORT)?;
                self.vm2_ip.to_string()
            }
        };
        let cmd = format!("iperf3 -c {server_ip} -p {port} -t {secs} -f m");
        let timeout = Duration::from_secs(u64::from(secs)) + IPERF_SLACK;
        let (vpcd0, qemu0) = self.cpu()?;
        let out = self.vm1.run_ok(&cmd, timeout)?;
        let (vpcd1, qemu1) = self.cpu()?;
        let iperf = parse_iperf3_receiver(&out)?;
        if let Some(mut s) = server {
            if let Err(e) = s.wait_timeout(Duration::from_secs(5)) {
                tracing::warn!(%e, "iperf3 server did not exit after its one test");
            }
        }
        Ok(Measurement {
            iperf,
            vpcd_cpu_s: vpcd0.zip(vpcd1).map(|(a, b)| b - a),
            qemu_cpu_s: qemu1 - qemu0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPERF_OUT: &str = "\
Connecting to host 10.0.2.20, port 5201
[  5] local 10.0.1.10 port 40112 connected to 10.0.2.20 port 5201
[ ID] Interval           Transfer     Bitrate         Retr  Cwnd
[  5]   0.00-1.00   sec  37.5 MBytes   314 Mbits/sec    0   1.02 MBytes
[  5]   1.00-2.00   sec  36.2 MBytes   304 Mbits/sec    0   1.02 MBytes
- - - - - - - - - - - - - - - - - - - - - - - - -
[ ID] Interval           Transfer     Bitrate         Retr
[  5]   0.00-3.00   sec   112 MBytes   313 Mbits/sec    0             sender
[  5]   0.00-3.04   sec   111 MBytes   307 Mbits/sec                  receiver

iperf Done.
";

    #[test]
    fn iperf3_receiver_line_is_parsed() {
        let r = parse_iperf3_receiver(IPERF_OUT).unwrap();
        assert_eq!(r.mbps, 307.0);
        assert_eq!(r.bytes, 111 * 1024 * 1024);
    }

    #[test]
    fn iperf3_units_are_scaled() {
        let line = "[  5]   0.00-5.00   sec  10.2 GBytes  17.5 Gbits/sec   receiver";
        let r = parse_iperf3_receiver(line).unwrap();
        assert_eq!(r.mbps, 17_500.0);
        assert_eq!(
            r.bytes,
            (10.2 * 1024.0 * 1024.0 * 1024.0_f64).round() as u64
        );
        let line = "[  5]   0.00-1.00   sec   512 KBytes  4.19 Mbits/sec   receiver";
        let r = parse_iperf3_receiver(line).unwrap();
        assert_eq!(r.bytes, 512 * 1024);
        let line = "[  5]   0.00-1.00   sec  1000 Bytes  8000 bits/sec   receiver";
        let r = parse_iperf3_receiver(line).unwrap();
        assert_eq!((r.mbps, r.bytes), (0.008, 1000));
    }

    #[test]
    fn iperf3_errors_are_parse_errors() {
        let e = parse_iperf3_receiver("iperf3: error - unable to connect to server\n");
        assert!(matches!(e, Err(Error::Parse { .. })), "{e:?}");
        let e = parse_iperf3_receiver("[  5] 0.00-1.00 sec 1 MBytes lots Mbits/sec receiver");
        assert!(matches!(e, Err(Error::Parse { .. })), "{e:?}");
        let e = parse_iperf3_receiver("[  5] 0.00-1.00 sec 1 PBytes 3 Mbits/sec receiver");
        assert!(matches!(e, Err(Error::Parse { .. })), "{e:?}");
    }

    #[test]
    fn proc_stat_cpu_ticks() {
        // A command name with spaces and a ')' inside, as /proc allows.
        let stat = "4242 (qemu (x) 1) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    150 75 0 0 20 0 3 0 100 1000000 500 18446744073709551615";
        assert_eq!(parse_proc_stat_ticks(stat).unwrap(), 225);
        assert!(parse_proc_stat_ticks("4242 (short) S 1 2").is_err());
        assert!(parse_proc_stat_ticks("garbage").is_err());
    }

    #[test]
    fn own_cpu_time_is_readable() {
        let s = process_cpu_seconds(std::process::id()).unwrap();
        assert!(s.is_finite() && s >= 0.0);
    }

    #[test]
    fn median_ratio_and_per_gb() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(ratio(2.0, 4.0), Some(0.5));
        assert_eq!(ratio(2.0, 0.0), None);
        assert_eq!(cpu_per_gb(1.5, 3_000_000_000), Some(0.5));
        assert_eq!(cpu_per_gb(1.5, 0), None);
    }

    #[test]
    fn scratch_names_of_this_process() {
        assert!(is_scratch_of("testbeds-vt000n81-interface-vm1-836-6", 836));
        assert!(is_scratch_of("testbeds-vt000n83-836-4", 836));
        assert!(!is_scratch_of("testbeds-vt000n83-8360-4", 836));
        assert!(!is_scratch_of("testbeds-vt000n83-836-x", 836));
        assert!(!is_scratch_of("testbeds-836-4", 836));
        assert!(!is_scratch_of("other-vt000n83-836-4", 836));
    }

    #[test]
    fn planes_parse() {
        assert_eq!(
            Plane::parse_list("vhost-user, bridge,vhost-user").unwrap(),
            vec![Plane::VhostUser, Plane::Bridge]
        );
        assert!(Plane::parse_list("bridge,tap").is_err());
        assert!(Plane::parse_list(",").is_err());
        for p in Plane::ALL {
            assert_eq!(p.as_str().parse::<Plane>().unwrap(), p);
        }
    }

    fn sample(round: u32, plane: Plane, direction: Direction, mbps: f64) -> Sample {
        Sample {
            round,
            plane,
            direction,
            iperf: IperfSummary {
                mbps,
                bytes: 1_000_000_000,
            },
            vpcd_cpu_s: plane.is_vpcd().then_some(0.5),
            qemu_cpu_s: 2.0,
        }
    }

    #[test]
    fn summary_takes_the_median_of_per_round_ratios() {
        let mut samples = Vec::new();
        // Round figures chosen so that the median of ratios (0.5) differs from the ratio of
        // medians (200 / 300).
        for (round, v, b) in [(1, 100.0, 200.0), (2, 200.0, 400.0), (3, 300.0, 300.0)] {
            samples.push(sample(round, Plane::VhostUser, Direction::VmToNs, v));
            samples.push(sample(round, Plane::Bridge, Direction::VmToNs, b));
        }
        let report = BenchReport {
            accel: Accel::Tcg,
            vhost_net: false,
            secs: 3,
            rounds: 3,
            planes: vec![Plane::VhostUser, Plane::Bridge],
            samples,
        };
        let rows = report.summary();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let v = &rows[0];
        assert_eq!(
            (v.plane, v.direction),
            (Plane::VhostUser, Direction::VmToNs)
        );
        assert_eq!(
            (v.median_mbps, v.min_mbps, v.max_mbps),
            (200.0, 100.0, 300.0)
        );
        assert_eq!(v.ratio_to_bridge, Some(0.5));
        assert_eq!(v.vpcd_s_per_gb, Some(0.5));
        assert_eq!(v.qemu_s_per_gb, Some(2.0));
        assert_eq!(rows[1].vpcd_s_per_gb, None);
        let md = report.markdown();
        assert!(
            md.starts_with("VM throughput: iperf3 TCP, 1 stream, 3 s x 3 rounds; accelerator tcg")
        );
        assert!(
            md.contains("| vhost-user | VM → namespace | 200 (100–300) | 0.50 | 0.50 | 2.0 |"),
            "{md}"
        );
        assert!(
            md.contains("| bridge | VM → namespace | 300 (200–400) | 1 | — | 2.0 |"),
            "{md}"
        );
        let csv = report.csv();
        assert_eq!(csv.lines().count(), 7);
        assert!(
            csv.contains("\n1,vhost-user,vm-ns,100.0,1000000000,0.5000,2.0000,0.5000,2.0000\n"),
            "{csv}"
        );
        assert!(
            csv.contains("\n1,bridge,vm-ns,200.0,1000000000,,2.0000,,2.0000\n"),
            "{csv}"
        );
    }

    #[test]
    fn topology_attaches_per_kind() {
        let dir = Path::new("/tmp/x");
        let t = topology(Plane::VhostUser, dir, true);
        assert!(t.contains("attachment = \"vhost-user\"\nsocket = \"/tmp/x/vm2.sock\""));
        let t = topology(Plane::Interface, dir, true);
        assert!(t.contains("interface = \"vif1\"\nnetns = \"ns\""));
        let t = topology(Plane::Interface, dir, false);
        assert!(!t.contains("attachment"));
        control::validate::parse(&topology(Plane::QemuStream, dir, true)).unwrap();
    }
}
