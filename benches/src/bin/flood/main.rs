//! `flood`: exhaustion and fairness under floods (VPC-13, item 4), measured (run it through
//! `scripts/flood`, which builds first). One vpcd, one VPC, four ENIs in four namespaces:
//! A floods B, C → D is the third pair whose TCP throughput and ping are measured in every
//! phase: `idle`, `syn-flood` (hping3 SYNs to a closed port of B: B answers with RSTs),
//! `udp-flood` (64-byte UDP frames to B), `syn-flood-open` (SYNs to a listening port: B
//! answers with SYN-ACKs, A's kernel with RSTs), and with `--flooder-cpu PCT` each flood
//! again with the flooder in a cgroup capped at PCT % of one CPU (`…@cpuPCT`). Phases are
//! interleaved per round (order rotating), each on a fresh lab, with a quiet-machine check
//! first. Writes `results.md` (medians, min–max, per-round ratios to idle, PASS/MISS
//! against the targets) and `results.csv` to `--out`. Needs root.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::flood::{parse_link_stats, CpuCap, LinkStats};
use benches::suite::metrics::{cpu_seconds, mean, ns_command, parse_ping_times, quantile};
use benches::suite::planes::MTU;
use benches::suite::quiet::QuietCheck;
use benches::suite::report::fmt_num;
use benches::suite::{Error, Result};
use clap::Parser;
use dataplane::observe::stats::PortCounters;
use dataplane::vpc::verdict::DropReason;
use testbeds::process::{run_command, Stream};
use testbeds::{Lab, NsChild, SpawnOpts, VpcdOptions};

mod report;
use report::{csv, markdown, Row};

/// The targets (VPC-13): the third pair keeps ≥ 80 % of its TCP throughput and its ping
/// stays ≤ 2× its idle value during each flood.
const TCP_TARGET: f64 = 0.80;
const PING_TARGET: f64 = 2.0;
/// Ping: one echo every 10 ms (root may go below 200 ms).
const PING_INTERVAL_MS: u32 = 10;
/// Echoes of the ping without iperf3 (2 s).
const PING_ALONE: u32 = 200;
/// Echoes of the ping after the flood stopped (1 s).
const PING_AFTER: u32 = 100;
/// hping3's UDP payload: 18 bytes make 64-byte frames, as in the benchmark suite.
const UDP_PAYLOAD: &str = "18";
/// B's closed port (the kernel answers SYNs with RSTs) and its listening one.
const CLOSED_PORT: &str = "9";
const OPEN_PORT: u16 = 8080;
const IPERF_PORT: u16 = 5201;

const A: &str = "eni-a";
const B: &str = "eni-b";
const C: &str = "eni-c";
const D: &str = "eni-d";
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 20);
const D_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 40);

static STOP: AtomicBool = AtomicBool::new(false);

/// Floods from one ENI against a third pair's TCP and ping, on a fresh vpcd per phase.
#[derive(Parser, Debug)]
#[command(name = "flood", version)]
struct Args {
    /// Rounds (each runs every phase once, order rotating; medians over rounds).
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Seconds of the C → D iperf3 run in each phase (ping runs alongside it).
    #[arg(long, default_value_t = 5)]
    secs: u32,
    /// vpcd's --workers.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// A's packets-per-second allowance (`pps_allowance` of its ENI); 0: none.
    #[arg(long, default_value_t = 20_000)]
    pps_allowance: u32,
    /// A's connection-tracking allowance (`conntrack.max_entries`); absent: AWS's 65536.
    #[arg(long)]
    conntrack_max: Option<u32>,
    /// Phases, comma-separated: idle, cpu-hog (the control: a busy loop, no packets), syn-flood, udp-flood, syn-flood-open, or all.
    #[arg(long, default_value = "idle,cpu-hog,syn-flood,udp-flood")]
    phases: String,
    /// Also run every flood with the flooder in a cgroup capped at PCT % of one CPU
    /// (v2 cpu.max, or v1 cpu.cfs_quota_us), as a tenant's flood runs on its own vCPUs.
    #[arg(long, value_name = "PCT")]
    flooder_cpu: Option<f64>,
    /// The vpcd binary (default: $VPCD_BIN, else vpcd next to this executable).
    #[arg(long)]
    vpcd: Option<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "target/flood-results")]
    out: PathBuf,
    /// Busy share of all CPUs (percent) below which the machine counts as quiet.
    #[arg(long, default_value_t = 25.0)]
    quiet_pct: f64,
    /// Longest wait (seconds) for a quiet machine before measuring anyway.
    #[arg(long, default_value_t = 30)]
    quiet_wait: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Idle,
    /// The control: a busy loop in A's namespace, no packets. On a machine whose TCP
    /// needs every core, the flooder's own CPU costs the third pair as much as the
    /// flood's handling does; this phase takes that CPU (capped like the floods) so the
    /// floods can be compared with it.
    Hog,
    Syn,
    Udp,
    SynOpen,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Idle => "idle",
            Kind::Hog => "cpu-hog",
            Kind::Syn => "syn-flood",
            Kind::Udp => "udp-flood",
            Kind::SynOpen => "syn-flood-open",
        }
    }

    /// hping3's arguments (after `hping3`): unbounded (`--flood`), stopped by PID.
    fn hping_args(self) -> Vec<String> {
        let (b, open) = (B_IP.to_string(), OPEN_PORT.to_string());
        let v: Vec<&str> = match self {
            Kind::Idle | Kind::Hog => return Vec::new(),
            Kind::Syn => vec!["-q", "-S", "--flood", "-p", CLOSED_PORT, &b],
            Kind::SynOpen => vec!["-q", "-S", "--flood", "-p", &open, &b],
            Kind::Udp => vec![
                "-q",
                "--udp",
                "--flood",
                "-d",
                UDP_PAYLOAD,
                "-p",
                CLOSED_PORT,
                &b,
            ],
        };
        v.into_iter().map(str::to_owned).collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Phase {
    kind: Kind,
    /// The flooder's CPU cap (percent of one CPU), if any.
    cap: Option<f64>,
}

impl Phase {
    fn label(&self) -> String {
        match self.cap {
            Some(p) => format!("{}@cpu{}", self.kind.name(), fmt_num(p)),
            None => self.kind.name().to_owned(),
        }
    }
}

fn parse_phases(list: &str, cap: Option<f64>) -> Result<Vec<Phase>> {
    let all = [Kind::Idle, Kind::Hog, Kind::Syn, Kind::Udp, Kind::SynOpen];
    let mut kinds = Vec::new();
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if p == "all" {
            kinds.extend(all);
            continue;
        }
        let k = all.iter().find(|k| k.name() == p).ok_or_else(|| {
            Error::Usage(format!(
                "--phases: unknown phase {p:?} (idle, cpu-hog, syn-flood, udp-flood, syn-flood-open, all)"
            ))
        })?;
        kinds.push(*k);
    }
    kinds.sort();
    kinds.dedup();
    if !kinds.contains(&Kind::Idle) {
        // The ratios need the idle figures of the same round.
        kinds.insert(0, Kind::Idle);
    }
    let mut phases: Vec<Phase> = kinds
        .iter()
        .map(|&kind| Phase { kind, cap: None })
        .collect();
    if let Some(pct) = cap {
        phases.extend(
            kinds
                .iter()
                .filter(|k| **k != Kind::Idle)
                .map(|&kind| Phase {
                    kind,
                    cap: Some(pct),
                }),
        );
    }
    Ok(phases)
}

fn topology(pps: u32, conntrack_max: Option<u32>) -> String {
    let eni = |id: &str, ip: &str, ns: &str, sg: &str, extra: &str| {
        format!(
            "\n[[eni]]\nid = \"{id}\"\nsubnet = \"subnet-f\"\nprivate_ip = \"{ip}\"\nnetns = \"{ns}\"\n\
             addressing = \"static\"\nmtu = {MTU}\nsecurity_groups = [\"{sg}\"]\n{extra}"
        )
    };
    let mut a_extra = String::new();
    if pps > 0 {
        let _ = writeln!(a_extra, "pps_allowance = {pps}");
    }
    if let Some(n) = conntrack_max {
        let _ = writeln!(a_extra, "conntrack = {{ max_entries = {n} }}");
    }
    let mut t = String::from(
        r#"
[[vpc]]
id = "vpc-f"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-f"
vpc = "vpc-f"
cidr = "10.0.1.0/24"

# Open to the VPC but not to 0.0.0.0/0: every connection is tracked (AWS untracks only
# flows that all-open rules allow both ways).
[[security_group]]
id = "sg-vpc"
vpc = "vpc-f"
inbound = [{ protocol = "-1", source = "10.0.0.0/16" }]
"#,
    );
    t.push_str(&eni(A, "10.0.1.10", "a", "sg-vpc", &a_extra));
    t.push_str(&eni(B, &B_IP.to_string(), "b", "sg-vpc", ""));
    t.push_str(&eni(C, "10.0.1.30", "c", "sg-vpc", ""));
    t.push_str(&eni(D, &D_IP.to_string(), "d", "sg-vpc", ""));
    t
}

/// The kernel counters of ENI `eni`'s interface in its namespace.
fn link_stats(lab: &Lab, eni: &str) -> Result<LinkStats> {
    let ifname = lab
        .topology
        .enis
        .iter()
        .find(|e| e.id == eni)
        .map(|e| e.ifname.clone())
        .ok_or_else(|| Error::Measurement(format!("no ENI {eni}")))?;
    let ns = lab.ns(eni).name().to_owned();
    let argv = ["ip", "-n", &ns, "-s", "-j", "link", "show", "dev", &ifname];
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    let out = run_command(cmd, &argv.join(" "), Duration::from_secs(10))?;
    parse_link_stats(&String::from_utf8_lossy(&out.stdout))
}

fn all_links(lab: &Lab) -> Result<[LinkStats; 4]> {
    Ok([
        link_stats(lab, A)?,
        link_stats(lab, B)?,
        link_stats(lab, C)?,
        link_stats(lab, D)?,
    ])
}

fn rss_mib(pid: u32) -> Result<f64> {
    Ok(testbeds::process::resident_bytes(&pid.to_string())? as f64 / f64::from(1 << 20))
}

/// `ping -c COUNT -i 0.01` from C to D: per-echo round trips (ms) and the echoes lost.
fn ping(lab: &Lab, count: u32) -> Result<(Vec<f64>, u32)> {
    ping_from(lab.ns(C).name(), count)
}

/// [`ping`] from namespace `ns` (by name: a [`Lab`] is not shared between threads).
fn ping_from(ns: &str, count: u32) -> Result<(Vec<f64>, u32)> {
    let (c, i, d) = (
        count.to_string(),
        format!("{:.3}", f64::from(PING_INTERVAL_MS) / 1000.0),
        D_IP.to_string(),
    );
    let argv = ["ping", "-n", "-c", &c, "-i", &i, "-W", "1", &d];
    let timeout =
        Duration::from_millis(u64::from(count * PING_INTERVAL_MS)) + Duration::from_secs(15);
    let out = run_command(ns_command(ns, &argv), &argv.join(" "), timeout)?;
    let times = parse_ping_times(&String::from_utf8_lossy(&out.stdout));
    let lost = count.saturating_sub(times.len() as u32);
    Ok((times, lost))
}

/// iperf3 C → D for `secs` (a fresh one-shot server): receiver-side Gbit/s.
fn iperf3(lab: &Lab, secs: u32) -> Result<f64> {
    let (d, c) = (lab.ns(D).name().to_owned(), lab.ns(C).name().to_owned());
    let (ip, port) = (D_IP.to_string(), IPERF_PORT.to_string());
    let server_argv = ["iperf3", "-s", "-1", "-B", &ip, "-p", &port, "--forceflush"];
    let mut server = NsChild::spawn(
        ns_command(&d, &server_argv),
        server_argv.join(" "),
        None,
        SpawnOpts {
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )?;
    server.wait_for_line(
        |s, l| s == Stream::Stdout && l.contains("Server listening"),
        Duration::from_secs(10),
    )?;
    let t = secs.to_string();
    let argv = [
        "iperf3",
        "-c",
        &ip,
        "-p",
        &port,
        "-t",
        &t,
        "-J",
        "--connect-timeout",
        "5000",
    ];
    let out = run_command(
        ns_command(&c, &argv),
        &argv.join(" "),
        Duration::from_secs(u64::from(secs) + 30),
    )?;
    if server.wait_timeout(Duration::from_secs(5)).is_err() {
        server.terminate(Duration::from_secs(1));
    }
    let run = benches::suite::metrics::parse_iperf3_tcp(&String::from_utf8_lossy(&out.stdout))?;
    Ok(run.gbps)
}

/// Starts the flood of `phase` in A's namespace (in `cap`'s cgroup if given: the process
/// joins it before it execs hping3). Killed by its PID when dropped.
fn start_flood(lab: &Lab, phase: &Phase, cap: Option<&CpuCap>) -> Result<Option<NsChild>> {
    let mut args = phase.kind.hping_args();
    let program = if phase.kind == Kind::Hog {
        args = vec!["-c".into(), "while :; do :; done".into()];
        "sh"
    } else {
        "hping3"
    };
    if args.is_empty() {
        return Ok(None);
    }
    let ns = lab.ns(A).name().to_owned();
    let mut cmd = Command::new("sh");
    let procs = cap.map(|c| c.procs().to_string_lossy().into_owned());
    match &procs {
        // `$1` is cgroup.procs; the rest the command: the shell joins, then execs it.
        Some(p) => cmd.args(["-c", "echo $$ > \"$1\" && shift && exec \"$@\"", "sh", p]),
        None => cmd.args(["-c", "exec \"$@\"", "sh"]),
    };
    cmd.args(["ip", "netns", "exec", &ns, program]).args(&args);
    let desc = format!("[{ns}] {program} {}", args.join(" "));
    let child = NsChild::spawn(
        cmd,
        desc,
        None,
        SpawnOpts {
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )?;
    Ok(Some(child))
}

/// Waits (at most 5 s) until A's interface has sent `at_least` packets more than `base`:
/// the flood is on the wire.
fn wait_flooding(lab: &Lab, base: &LinkStats, at_least: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = link_stats(lab, A)?;
        if s.tx_packets.saturating_sub(base.tx_packets) >= at_least {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Measurement(format!(
                "the flood did not start: A sent {} packets in 5 s",
                s.tx_packets.saturating_sub(base.tx_packets)
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most 15 s) until C reaches D.
fn wait_reachable(lab: &Lab) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match ping(lab, 1) {
            Ok((t, 0)) if !t.is_empty() => return Ok(()),
            _ if Instant::now() >= deadline => {
                return Err(Error::Measurement("D unreachable from C".into()))
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn drop_of(c: &PortCounters, r: DropReason) -> u64 {
    c.drops[r.index()]
}

/// One phase's figures, by key (see [`FIGURES`]).
type Figures = BTreeMap<&'static str, f64>;

/// What the third pair measured in a phase.
struct Traffic {
    /// iperf3 C → D, Gbit/s.
    gbps: f64,
    /// Round trips (ms) of the ping alongside iperf3, and its echoes lost.
    load: Vec<f64>,
    load_lost: u32,
    /// Round trips (ms) of the ping alone, and its echoes lost.
    alone: Vec<f64>,
    alone_lost: u32,
}

fn run_phase(
    args: &Args,
    phase: &Phase,
    cap: Option<&CpuCap>,
    quiet: &QuietCheck,
) -> Result<Figures> {
    let opts = VpcdOptions {
        binary: args.vpcd.clone(),
        extra_args: if args.workers > 1 {
            vec!["--workers".into(), args.workers.to_string()]
        } else {
            Vec::new()
        },
        ..VpcdOptions::default()
    };
    let lab = Lab::start_with(&topology(args.pps_allowance, args.conntrack_max), opts)?;
    let pid = lab.vpcd().pid();
    wait_reachable(&lab)?;
    let _listener = if phase.kind == Kind::SynOpen {
        let ns = lab.ns(B).name().to_owned();
        let l = format!("TCP4-LISTEN:{OPEN_PORT},bind={B_IP},reuseaddr,fork");
        let argv = ["socat", "-d", "-d", &l, "OPEN:/dev/null"];
        let mut c = NsChild::spawn(
            ns_command(&ns, &argv),
            argv.join(" "),
            None,
            SpawnOpts {
                die_with_thread: true,
                ..SpawnOpts::default()
            },
        )?;
        c.wait_for_line(
            |s, l| s == Stream::Stderr && l.contains("listening on"),
            Duration::from_secs(10),
        )?;
        Some(c)
    } else {
        None
    };
    let q = quiet.wait();
    let mut f = Figures::new();
    f.insert("busy_pct", q.busy * 100.0);
    f.insert("rss_before_mib", rss_mib(pid)?);
    let a0 = lab.counters(A)?;
    let b0 = lab.counters(B)?;
    let links0 = all_links(&lab)?;

    let mut flooder = start_flood(&lab, phase, cap)?;
    if flooder.is_some() && phase.kind != Kind::Hog {
        wait_flooding(&lab, &links0[0], 1000)?;
    }
    // The window: from the flood on the wire to the end of the ping alone.
    let w0 = Instant::now();
    let links_w0 = all_links(&lab)?;
    let a_w0 = lab.counters(A)?;
    let engine_w0 = lab.show()?.engine;
    let cpu0 = cpu_seconds(&[pid])?;
    let stop = AtomicBool::new(false);
    let peak = AtomicU64::new(0);
    let measured = std::thread::scope(|s| -> Result<Traffic> {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(b) = testbeds::process::resident_bytes(&pid.to_string()) {
                    peak.fetch_max(b, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let r = (|| {
            let load_count = args.secs * 1000 / PING_INTERVAL_MS * 9 / 10;
            let c_ns = lab.ns(C).name().to_owned();
            let pinger = s.spawn(move || ping_from(&c_ns, load_count));
            let gbps = iperf3(&lab, args.secs);
            let (load, load_lost) = pinger
                .join()
                .map_err(|_| Error::Measurement("ping thread panicked".into()))??;
            let gbps = gbps?;
            let (alone, alone_lost) = ping(&lab, PING_ALONE)?;
            Ok(Traffic {
                gbps,
                load,
                load_lost,
                alone,
                alone_lost,
            })
        })();
        stop.store(true, Ordering::Relaxed);
        r
    });
    let window = w0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(&[pid])? - cpu0;
    let links_w1 = all_links(&lab)?;
    let a_w1 = lab.counters(A)?;
    let engine_w1 = lab.show()?.engine;
    if let Some(mut fl) = flooder.take() {
        fl.terminate(Duration::from_secs(2));
    }
    let Traffic {
        gbps,
        load,
        load_lost,
        alone,
        alone_lost,
    } = measured?;
    let (after, _) = ping(&lab, PING_AFTER)?;
    f.insert("rss_after_mib", rss_mib(pid)?);
    f.insert(
        "rss_peak_mib",
        peak.load(Ordering::Relaxed) as f64 / f64::from(1 << 20),
    );
    let a1 = lab.counters(A)?;
    let b1 = lab.counters(B)?;

    let put = |f: &mut Figures, k: &'static str, v: Option<f64>| {
        if let Some(v) = v {
            f.insert(k, v);
        }
    };
    f.insert("tcp_gbps", gbps);
    put(&mut f, "ping_load_avg_ms", mean(&load));
    put(&mut f, "ping_load_p99_ms", quantile(&load, 0.99));
    put(&mut f, "ping_avg_ms", mean(&alone));
    put(&mut f, "ping_p99_ms", quantile(&alone, 0.99));
    put(&mut f, "ping_after_avg_ms", mean(&after));
    f.insert("ping_lost", f64::from(load_lost + alone_lost));
    let d: Vec<LinkStats> = links_w1
        .iter()
        .zip(&links_w0)
        .map(|(a, b)| a.since(b))
        .collect();
    let kpps = |n: u64| n as f64 / window / 1000.0;
    f.insert("flood_kpps", kpps(d[0].tx_packets));
    f.insert("a_tap_tx_dropped_kpps", kpps(d[0].tx_dropped));
    f.insert("b_rx_kpps", kpps(d[1].rx_packets));
    f.insert("b_tap_dropped", (d[1].rx_dropped + d[1].tx_dropped) as f64);
    f.insert("flows", engine_w1.flows as f64);
    f.insert(
        "flow_evicted_kps",
        kpps(
            engine_w1
                .flow_evicted
                .saturating_sub(engine_w0.flow_evicted),
        ),
    );
    f.insert(
        "cd_tap_dropped",
        (d[2].rx_dropped + d[2].tx_dropped + d[3].rx_dropped + d[3].tx_dropped) as f64,
    );
    f.insert(
        "a_pps_exceeded_kpps",
        kpps(
            drop_of(&a_w1, DropReason::PpsAllowanceExceeded)
                - drop_of(&a_w0, DropReason::PpsAllowanceExceeded),
        ),
    );
    f.insert(
        "a_conntrack_exceeded",
        (drop_of(&a1, DropReason::ConntrackFull) - drop_of(&a0, DropReason::ConntrackFull)) as f64,
    );
    f.insert(
        "b_conntrack_exceeded",
        (drop_of(&b1, DropReason::ConntrackFull) - drop_of(&b0, DropReason::ConntrackFull)) as f64,
    );
    f.insert("a_conntrack_entries", a_w1.conntrack_entries as f64);
    f.insert("vpcd_cpu", cpu / window);
    tracing::info!(
        phase = %phase.label(),
        gbps,
        ping_ms = ?mean(&alone),
        flood_kpps = f.get("flood_kpps"),
        "phase done"
    );
    Ok(f)
}

fn run(args: Args) -> Result<String> {
    if let Err(reason) = testbeds::privileges::check_privileges() {
        return Err(Error::Usage(format!(
            "flood needs root (namespaces, TAPs, raw sockets): {reason}"
        )));
    }
    if args.rounds == 0 || args.secs == 0 {
        return Err(Error::Usage(
            "--rounds and --secs must be at least 1".into(),
        ));
    }
    let run_cmd = |argv: &[&str]| Command::new(argv[0]).args(&argv[1..]).output();
    if !run_cmd(&["hping3", "--version"]).is_ok_and(|o| o.status.success() || !o.stdout.is_empty())
    {
        return Err(Error::Usage(
            "hping3 is missing: sudo scripts/setup (or apt-get install hping3)".into(),
        ));
    }
    let phases = parse_phases(&args.phases, args.flooder_cpu)?;
    // The flooder's cgroup: a unique name per run, removed on every exit path (its guard).
    let prefix = testbeds::RunPrefix::new()?;
    let cap = match args.flooder_cpu {
        Some(pct) => Some(CpuCap::new(&format!("{}-flooder", prefix.as_str()), pct)?),
        None => None,
    };
    if let Err(e) = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed)) {
        tracing::warn!(%e, "no Ctrl-C handler");
    }
    let quiet = QuietCheck {
        threshold: args.quiet_pct / 100.0,
        max_wait: Duration::from_secs(args.quiet_wait),
        ..QuietCheck::default()
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    'rounds: for round in 1..=args.rounds {
        for k in 0..phases.len() {
            if STOP.load(Ordering::Relaxed) {
                problems.push(format!("stopped by the user in round {round}"));
                break 'rounds;
            }
            let phase = &phases[(k + round as usize - 1) % phases.len()];
            let label = phase.label();
            tracing::info!(round, phase = %label, "phase");
            let c = if phase.cap.is_some() {
                cap.as_ref()
            } else {
                None
            };
            match run_phase(&args, phase, c, &quiet) {
                Ok(figures) => rows.push(Row {
                    round,
                    phase: label,
                    figures,
                }),
                Err(e) => {
                    tracing::error!(round, phase = %label, %e, "phase failed");
                    problems.push(format!("round {round}, {label}: {e}"));
                }
            }
        }
    }
    drop(cap);
    if rows.is_empty() {
        return Err(Error::Measurement(format!(
            "nothing measured:\n  {}",
            problems.join("\n  ")
        )));
    }
    let md = markdown(&args, &phases, &rows, &problems);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::io(format!("creating {}", args.out.display()), e))?;
    for (name, text) in [("results.md", &md), ("results.csv", &csv(&rows))] {
        let p = args.out.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
        tracing::info!(file = %p.display(), "written");
    }
    Ok(md)
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(md) => {
            print!("{md}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flood: {e}");
            ExitCode::FAILURE
        }
    }
}
