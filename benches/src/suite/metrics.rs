//! The measurements, each run between a plane's client and server namespaces, and the
//! parsers of the tools' outputs (pure, unit-tested).
//!
//! - TCP: `iperf3 -J` with 1 and with 4 streams (`-P`), receiver-side Gbit/s; during the
//!   1-stream run, the data plane's CPU seconds (utime + stime of
//!   [`Plane::dataplane_pids`] from `/proc/PID/stat`) per GB moved.
//! - UDP: `iperf3 -u -l 18` (18-byte payloads: 64-byte Ethernet frames with the FCS).
//!   First unconstrained, at an offered rate ([`UDP_OFFERED_BPS`]) far above what any plane
//!   delivers: the packets per second the sender got out, those delivered, and the loss.
//!   Then the partial drop rate (PDR, [`super::pdr`]): the highest offered rate whose loss
//!   stays within [`UDP_PDR_LOSS_PCT`], found by a bisection of [`UDP_PDR_STEPS`] trials of
//!   [`UDP_PDR_TRIAL_SECS`] between [`UDP_PDR_LOW_PPS`] and the unconstrained sender's rate,
//!   then confirmed by a run of the measurement's seconds; its delivered packets per second.
//!   Skipped when the unconstrained run already loses no more than the threshold (that run
//!   is then the PDR). Bound, with `secs` the measurement's seconds: the unconstrained run,
//!   at most `UDP_PDR_STEPS + 1` trials and two confirmation runs, `3 × secs + 7` seconds
//!   of traffic (`2 × secs + 6` usually), plus some 20 ms per iperf3 start (10 at most).
//! - ping: [`PING_COUNT`] echoes [`PING_INTERVAL`] apart; average and p99 of the per-echo
//!   round-trip times.
//! - new TCP connections per second: the `connrate` program (next to this executable).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use testbeds::process::{run_command, Stream};
use testbeds::{NsChild, SpawnOpts};

use super::error::{Error, Result};
use super::pdr::{Pdr, PdrSearch};
use super::planes::Plane;

/// One figure the suite reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// iperf3 TCP, 1 stream, Gbit/s.
    Tcp1,
    /// iperf3 TCP, 4 streams, Gbit/s.
    Tcp4,
    /// 64-byte UDP frames the sender got out per second (the load it offered).
    UdpSent,
    /// 64-byte UDP frames delivered per second.
    UdpPps,
    /// Share of the 64-byte UDP frames lost, percent.
    UdpLoss,
    /// 64-byte UDP frames delivered per second at the partial drop rate: the highest
    /// offered rate losing at most [`UDP_PDR_LOSS_PCT`].
    UdpPdr,
    /// Average ping round trip, µs.
    PingAvg,
    /// 99th percentile ping round trip, µs.
    PingP99,
    /// New TCP connections per second.
    ConnRate,
    /// The data plane's CPU seconds per GB moved (during the 1-stream TCP run).
    CpuPerGb,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 10] = [
        Metric::Tcp1,
        Metric::Tcp4,
        Metric::UdpSent,
        Metric::UdpPps,
        Metric::UdpLoss,
        Metric::UdpPdr,
        Metric::PingAvg,
        Metric::PingP99,
        Metric::ConnRate,
        Metric::CpuPerGb,
    ];

    /// Short key (CSV, file names).
    pub fn key(self) -> &'static str {
        match self {
            Metric::Tcp1 => "tcp1_gbps",
            Metric::Tcp4 => "tcp4_gbps",
            Metric::UdpSent => "udp64_sent_kpps",
            Metric::UdpPps => "udp64_kpps",
            Metric::UdpLoss => "udp64_loss_pct",
            Metric::UdpPdr => "udp64_pdr_kpps",
            Metric::PingAvg => "ping_avg_us",
            Metric::PingP99 => "ping_p99_us",
            Metric::ConnRate => "tcp_conn_per_s",
            Metric::CpuPerGb => "cpu_s_per_gb",
        }
    }

    /// Human label with unit (tables, plot titles).
    pub fn label(self) -> &'static str {
        match self {
            Metric::Tcp1 => "TCP 1 stream (Gbit/s)",
            Metric::Tcp4 => "TCP 4 streams (Gbit/s)",
            Metric::UdpSent => "UDP 64-byte sent (kpps)",
            Metric::UdpPps => "UDP 64-byte delivered (kpps)",
            Metric::UdpLoss => "UDP 64-byte loss (%)",
            Metric::UdpPdr => "UDP 64-byte PDR, ≤ 5 % loss (kpps)",
            Metric::PingAvg => "ping average (µs)",
            Metric::PingP99 => "ping p99 (µs)",
            Metric::ConnRate => "new TCP connections (/s)",
            Metric::CpuPerGb => "data plane CPU (s/GB)",
        }
    }

    /// Whether a larger figure is better (for reading ratios).
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::Tcp1
                | Metric::Tcp4
                | Metric::UdpSent
                | Metric::UdpPps
                | Metric::UdpPdr
                | Metric::ConnRate
        )
    }
}

/// A measurement the runner can be asked for (`--metrics`); each yields one or more
/// [`Metric`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measurement {
    /// TCP, 1 stream (and the data plane's CPU per GB): `tcp1`.
    Tcp1,
    /// TCP, 4 streams: `tcp4`.
    Tcp4,
    /// 64-byte UDP: `udp`.
    Udp,
    /// ping latency: `ping`.
    Ping,
    /// New TCP connections per second: `conn`.
    Conn,
}

impl Measurement {
    /// Every measurement, in run order.
    pub const ALL: [Measurement; 5] = [
        Measurement::Tcp1,
        Measurement::Tcp4,
        Measurement::Udp,
        Measurement::Ping,
        Measurement::Conn,
    ];

    /// Its name on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Measurement::Tcp1 => "tcp1",
            Measurement::Tcp4 => "tcp4",
            Measurement::Udp => "udp",
            Measurement::Ping => "ping",
            Measurement::Conn => "conn",
        }
    }

    /// Parses a comma-separated list of [`Measurement::key`]s (`all` for every one).
    pub fn parse_list(list: &str) -> Result<Vec<Measurement>> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                return Ok(Measurement::ALL.to_vec());
            }
            let m = Measurement::ALL
                .into_iter()
                .find(|m| m.key() == name)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown metric `{name}` (known: tcp1, tcp4, udp, ping, conn, all)"
                    ))
                })?;
            if !out.contains(&m) {
                out.push(m);
            }
        }
        if out.is_empty() {
            return Err(Error::Usage("--metrics is empty".into()));
        }
        Ok(out)
    }
}

/// How long and how hard the measurements run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// iperf3 seconds per TCP and UDP run.
    pub secs: u32,
    /// Connections per new-connection-rate run.
    pub conns: u32,
    /// Where `connrate` is (default: next to this executable).
    pub connrate: Option<PathBuf>,
}

/// The UDP offered rate (iperf3 `-b`, payload bits): 100 Mbit/s of 18-byte payloads is
/// 694 kpps, above what any plane (or one iperf3 sender) reaches on this machine class.
pub const UDP_OFFERED_BPS: u64 = 100_000_000;
/// The loss (percent) the UDP partial drop rate may have.
pub const UDP_PDR_LOSS_PCT: f64 = 5.0;
/// The lowest offered rate the PDR search tries, packets per second.
pub const UDP_PDR_LOW_PPS: f64 = 10_000.0;
/// Bisection steps of the PDR search (6: the bracket from 10 kpps to a 220 kpps sender
/// narrows to 3.3 kpps).
pub const UDP_PDR_STEPS: u32 = 6;
/// Seconds per PDR search trial.
pub const UDP_PDR_TRIAL_SECS: u32 = 1;
/// The UDP payload: 18 bytes + 8 UDP + 20 IPv4 + 14 Ethernet + 4 FCS = 64-byte frames.
pub const UDP_PAYLOAD: u32 = 18;
/// Echo requests per ping run.
pub const PING_COUNT: u32 = 200;
/// Interval between echo requests.
pub const PING_INTERVAL: Duration = Duration::from_millis(10);
/// Threads of the connection-rate client.
pub const CONN_THREADS: u32 = 4;
/// A command running `argv` in namespace `ns` (`ip netns exec NS argv…`).
pub fn ns_command(ns: &str, argv: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(argv);
    c
}

fn describe(ns: &str, argv: &[&str]) -> String {
    format!("[{ns}] {}", argv.join(" "))
}

/// Starts a one-shot iperf3 server in the plane's server namespace and waits until it
/// listens.
fn iperf3_server(plane: &Plane, port: u16) -> Result<NsChild> {
    let ip = plane.server_ip.to_string();
    let port = port.to_string();
    let argv = ["iperf3", "-s", "-1", "-B", &ip, "-p", &port, "--forceflush"];
    server_ready(plane, &argv, |l| l.contains("Server listening"))
}

/// Starts `argv` in the plane's server namespace (killed with this thread) and waits, at
/// most 10 s, for a stdout line that `ready` accepts: its readiness signal.
fn server_ready(plane: &Plane, argv: &[&str], ready: impl Fn(&str) -> bool) -> Result<NsChild> {
    let mut server = NsChild::spawn(
        ns_command(&plane.server_ns, argv),
        describe(&plane.server_ns, argv),
        None,
        SpawnOpts {
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )?;
    server.wait_for_line(
        |s, l| s == Stream::Stdout && ready(l),
        Duration::from_secs(10),
    )?;
    Ok(server)
}

/// Runs an iperf3 client (`extra` arguments after `-c IP -p PORT -t SECS -J`) against a
/// fresh server and returns its JSON output.
fn iperf3_run(plane: &Plane, port: u16, secs: u32, extra: &[&str]) -> Result<String> {
    let mut server = iperf3_server(plane, port)?;
    let ip = plane.server_ip.to_string();
    let port_s = port.to_string();
    let secs_s = secs.max(1).to_string();
    let mut argv = vec![
        "iperf3",
        "-c",
        &ip,
        "-p",
        &port_s,
        "-t",
        &secs_s,
        "-J",
        "--connect-timeout",
        "5000",
    ];
    argv.extend_from_slice(extra);
    let out = run_command(
        ns_command(&plane.client_ns, &argv),
        &describe(&plane.client_ns, &argv),
        Duration::from_secs(u64::from(secs) + 30),
    )?;
    if server.wait_timeout(Duration::from_secs(5)).is_err() {
        server.terminate(Duration::from_secs(1));
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() && stdout.trim().is_empty() {
        return Err(Error::Measurement(format!(
            "iperf3 client failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(stdout)
}

/// The receiver side of an iperf3 TCP run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TcpRun {
    /// Receiver-side throughput, Gbit/s.
    pub gbps: f64,
    /// Bytes received.
    pub bytes: u64,
}

fn iperf3_json(json: &str) -> Result<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| Error::parse("iperf3 -J output", e.to_string()))?;
    if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        return Err(Error::Measurement(format!("iperf3: {err}")));
    }
    Ok(v)
}

fn f64_at(v: &serde_json::Value, ptr: &str) -> Result<f64> {
    v.pointer(ptr)
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| Error::parse("iperf3 -J output", format!("no number at {ptr}")))
}

/// Parses `iperf3 -J` TCP output: `end.sum_received` (all streams together).
pub fn parse_iperf3_tcp(json: &str) -> Result<TcpRun> {
    let v = iperf3_json(json)?;
    Ok(TcpRun {
        gbps: f64_at(&v, "/end/sum_received/bits_per_second")? / 1e9,
        bytes: f64_at(&v, "/end/sum_received/bytes")? as u64,
    })
}

/// The receiver side of an iperf3 UDP run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UdpRun {
    /// Datagrams the sender sent per second (the offered load it reached).
    pub offered_pps: f64,
    /// Datagrams the receiver got per second.
    pub delivered_pps: f64,
    /// Share lost, percent.
    pub loss_pct: f64,
}

/// Parses `iperf3 -u -J` output (iperf3 ≥ 3.? reports `end.sum_sent` and
/// `end.sum_received` with `packets` and `lost_packets`; older ones only `end.sum`).
pub fn parse_iperf3_udp(json: &str) -> Result<UdpRun> {
    let v = iperf3_json(json)?;
    let recv = if v.pointer("/end/sum_received/packets").is_some() {
        "/end/sum_received"
    } else {
        "/end/sum"
    };
    let sent = if v.pointer("/end/sum_sent/packets").is_some() {
        "/end/sum_sent"
    } else {
        recv
    };
    let packets = f64_at(&v, &format!("{recv}/packets"))?;
    let lost = f64_at(&v, &format!("{recv}/lost_packets"))?;
    let secs = f64_at(&v, &format!("{recv}/seconds"))?;
    let sent_packets = f64_at(&v, &format!("{sent}/packets"))?;
    let sent_secs = f64_at(&v, &format!("{sent}/seconds"))?;
    if secs <= 0.0 || sent_secs <= 0.0 {
        return Err(Error::parse("iperf3 -u -J output", "zero-length run"));
    }
    Ok(UdpRun {
        offered_pps: sent_packets / sent_secs,
        delivered_pps: (packets - lost).max(0.0) / secs,
        loss_pct: if packets > 0.0 {
            100.0 * lost / packets
        } else {
            100.0
        },
    })
}

/// Per-echo round-trip times (ms) from `ping` output (`time=0.045 ms` on each reply line).
pub fn parse_ping_times(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| {
            let t = l.split("time=").nth(1)?;
            t.split_whitespace().next()?.parse::<f64>().ok()
        })
        .collect()
}

/// The `q`-quantile (0..=1) by nearest rank of `values` (need not be sorted); `None` if
/// empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len()) - 1).copied()
}

/// Mean of `values`; `None` if empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// CPU seconds used so far by all of `pids` together.
pub fn cpu_seconds(pids: &[u32]) -> Result<f64> {
    let mut secs = 0.0;
    for &pid in pids {
        secs += testbeds::process::process_cpu_seconds(pid)?;
    }
    Ok(secs)
}

/// TCP with `streams` streams; with `cpu`, also the data plane's CPU seconds per GB.
pub fn tcp(plane: &Plane, port: u16, secs: u32, streams: u32) -> Result<(TcpRun, Option<f64>)> {
    let before = if plane.dataplane_pids.is_empty() {
        None
    } else {
        Some(cpu_seconds(&plane.dataplane_pids)?)
    };
    let p = streams.to_string();
    let json = iperf3_run(plane, port, secs, &["-P", &p])?;
    let run = parse_iperf3_tcp(&json)?;
    if run.bytes == 0 {
        return Err(Error::Measurement("iperf3 moved no bytes".into()));
    }
    let cpu = match before {
        Some(b) => {
            let used = cpu_seconds(&plane.dataplane_pids)? - b;
            Some(used / (run.bytes as f64 / 1e9))
        }
        None => None,
    };
    tracing::info!(plane = %plane.label, streams, gbps = run.gbps, ?cpu, "tcp");
    Ok((run, cpu))
}

/// One 64-byte UDP run of `secs` at `bps` bits per second of payload (iperf3 `-b`).
fn udp_run(plane: &Plane, port: u16, secs: u32, bps: u64) -> Result<UdpRun> {
    let len = UDP_PAYLOAD.to_string();
    let rate = bps.max(1).to_string();
    let json = iperf3_run(plane, port, secs, &["-u", "-l", &len, "-b", &rate])?;
    parse_iperf3_udp(&json)
}

/// iperf3's `-b` (payload bits per second) for `pps` 64-byte frames per second.
pub fn udp_bps(pps: f64) -> u64 {
    (pps * f64::from(UDP_PAYLOAD) * 8.0).round() as u64
}

/// The PDR search the suite runs, with `secs` for the confirmation run.
pub fn udp_pdr_search(secs: u32) -> PdrSearch {
    PdrSearch {
        low_pps: UDP_PDR_LOW_PPS,
        steps: UDP_PDR_STEPS,
        max_loss_pct: UDP_PDR_LOSS_PCT,
        trial_secs: UDP_PDR_TRIAL_SECS,
        confirm_secs: secs.max(1),
    }
}

/// What the 64-byte UDP measurement found.
#[derive(Debug)]
pub struct UdpFigures {
    /// The unconstrained run, at [`UDP_OFFERED_BPS`].
    pub unconstrained: UdpRun,
    /// The partial drop rate search (an error when it found none or a trial failed; the
    /// unconstrained figures stand regardless).
    pub pdr: Result<Pdr>,
}

/// 64-byte UDP: unconstrained at [`UDP_OFFERED_BPS`], then the PDR search
/// ([`udp_pdr_search`]). Consecutive iperf3 runs use ports `port`, `port + 1`, … (a fresh
/// one-shot server each).
pub fn udp(plane: &Plane, port: u16, secs: u32) -> Result<UdpFigures> {
    let unconstrained = udp_run(plane, port, secs, UDP_OFFERED_BPS)?;
    tracing::info!(plane = %plane.label, run = ?unconstrained, "udp unconstrained");
    let started = std::time::Instant::now();
    let mut next_port = port;
    let pdr = udp_pdr_search(secs).run(&unconstrained, |pps, s| {
        next_port = next_port.wrapping_add(1);
        udp_run(plane, next_port, s, udp_bps(pps))
    });
    match &pdr {
        Ok(p) => tracing::info!(
            plane = %plane.label,
            offered_kpps = p.offered_pps / 1000.0,
            delivered_kpps = p.confirmed.delivered_pps / 1000.0,
            loss_pct = p.confirmed.loss_pct,
            trials = p.trials.len(),
            took = ?started.elapsed(),
            "udp pdr"
        ),
        Err(e) => tracing::warn!(plane = %plane.label, %e, "udp pdr"),
    }
    Ok(UdpFigures { unconstrained, pdr })
}

/// [`PING_COUNT`] echoes [`PING_INTERVAL`] apart to `dst` from namespace `ns`; the
/// per-echo round trips in µs (at least one reply, else an error).
pub fn ping_times(ns: &str, dst: Ipv4Addr, count: u32) -> Result<Vec<f64>> {
    let interval = format!("{:.3}", PING_INTERVAL.as_secs_f64());
    let count_s = count.max(1).to_string();
    let dst_s = dst.to_string();
    let argv = [
        "ping", "-n", "-c", &count_s, "-i", &interval, "-W", "1", &dst_s,
    ];
    let timeout = PING_INTERVAL * count + Duration::from_secs(10);
    let out = run_command(ns_command(ns, &argv), &describe(ns, &argv), timeout)?;
    let times: Vec<f64> = parse_ping_times(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .map(|ms| ms * 1000.0)
        .collect();
    if times.is_empty() {
        return Err(Error::Measurement(format!(
            "no echo replies from {dst} ({})",
            out.status
        )));
    }
    Ok(times)
}

/// The plane's ping figures: per-echo µs.
pub fn ping(plane: &Plane) -> Result<Vec<f64>> {
    let t = ping_times(&plane.client_ns, plane.server_ip, PING_COUNT)?;
    tracing::info!(plane = %plane.label, replies = t.len(), avg_us = mean(&t), "ping");
    Ok(t)
}

/// Parses connrate's client line `12345 conn/s (…)`.
pub fn parse_connrate(output: &str) -> Result<f64> {
    output
        .lines()
        .find_map(|l| {
            let (n, rest) = l.trim().split_once(' ')?;
            rest.starts_with("conn/s").then(|| n.parse::<f64>().ok())?
        })
        .ok_or_else(|| Error::parse("connrate output", output.trim().to_owned()))
}

fn connrate_path(settings: &Settings) -> Result<PathBuf> {
    if let Some(p) = &settings.connrate {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("current_exe", e))?;
    let mut dir = exe
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let p = dir.join("connrate");
    if p.is_file() {
        Ok(p)
    } else {
        Err(Error::Measurement(format!(
            "{} missing: cargo build --release -p benches --bins",
            p.display()
        )))
    }
}

/// New TCP connections per second ([`Settings::conns`] connections, [`CONN_THREADS`]
/// threads, connect + 1 byte + close each).
pub fn connrate(plane: &Plane, port: u16, settings: &Settings) -> Result<f64> {
    let bin = connrate_path(settings)?;
    let bin = bin.to_string_lossy().into_owned();
    let addr = format!("{}:{port}", plane.server_ip);
    let sargv = [bin.as_str(), "serve", &addr];
    let mut server = server_ready(plane, &sargv, |l| l.starts_with("ready"))?;
    let count = settings.conns.to_string();
    let threads = CONN_THREADS.to_string();
    let cargv = [bin.as_str(), "client", &addr, &count, &threads];
    let out = run_command(
        ns_command(&plane.client_ns, &cargv),
        &describe(&plane.client_ns, &cargv),
        Duration::from_secs(120),
    )?;
    server.terminate(Duration::from_secs(1));
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        tracing::warn!(plane = %plane.label, stderr = %String::from_utf8_lossy(&out.stderr).trim(), "connrate reported failed connections");
    }
    let rate = parse_connrate(&text)?;
    tracing::info!(plane = %plane.label, rate, "connrate");
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP_JSON: &str = r#"{"start":{},"intervals":[],"end":{
        "sum_sent":{"bytes":6000000000,"bits_per_second":9.6e9},
        "sum_received":{"seconds":5.0,"bytes":5000000000,"bits_per_second":8.0e9}}}"#;

    const UDP_JSON: &str = r#"{"end":{
        "sum":{"seconds":1.0001,"packets":157857,"lost_packets":55020,"lost_percent":34.85},
        "sum_sent":{"seconds":1.0,"packets":157857,"lost_packets":0},
        "sum_received":{"seconds":1.0,"packets":157857,"lost_packets":55020}}}"#;

    #[test]
    fn iperf3_tcp() {
        let r = parse_iperf3_tcp(TCP_JSON).unwrap();
        assert_eq!(r.gbps, 8.0);
        assert_eq!(r.bytes, 5_000_000_000);
        assert!(parse_iperf3_tcp(r#"{"error":"unable to connect"}"#).is_err());
        assert!(parse_iperf3_tcp("not json").is_err());
        assert!(parse_iperf3_tcp(r#"{"end":{}}"#).is_err());
    }

    #[test]
    fn iperf3_udp() {
        let r = parse_iperf3_udp(UDP_JSON).unwrap();
        assert_eq!(r.offered_pps, 157857.0);
        assert_eq!(r.delivered_pps, 102837.0);
        assert!((r.loss_pct - 34.854).abs() < 0.01);
        // Old iperf3: only end.sum.
        let old = r#"{"end":{"sum":{"seconds":2.0,"packets":1000,"lost_packets":0}}}"#;
        let r = parse_iperf3_udp(old).unwrap();
        assert_eq!(r.delivered_pps, 500.0);
        assert_eq!(r.loss_pct, 0.0);
    }

    #[test]
    fn udp_rates() {
        // 694 kpps of 18-byte payloads is the unconstrained 100 Mbit/s.
        assert_eq!(udp_bps(694_444.4), 99_999_994);
        assert_eq!(udp_bps(115_000.0), 16_560_000);
        let s = udp_pdr_search(3);
        assert_eq!((s.confirm_secs, s.max_trial_secs()), (3, 13));
        assert_eq!(udp_pdr_search(0).confirm_secs, 1);
        assert!(Metric::UdpPdr.higher_is_better());
        assert_eq!(Metric::ALL.len(), 10);
    }

    #[test]
    fn ping_lines_and_quantiles() {
        let out = "PING 10.0.2.20 (10.0.2.20) 56(84) bytes of data.\n\
            64 bytes from 10.0.2.20: icmp_seq=1 ttl=63 time=0.045 ms\n\
            64 bytes from 10.0.2.20: icmp_seq=2 ttl=63 time=1.50 ms\n\
            From 10.0.1.1 icmp_seq=3 Destination Host Unreachable\n\
            64 bytes from 10.0.2.20: icmp_seq=4 ttl=63 time=0.055 ms\n\
            \n--- 10.0.2.20 ping statistics ---\n\
            rtt min/avg/max/mdev = 0.045/0.533/1.500/0.6 ms\n";
        assert_eq!(parse_ping_times(out), vec![0.045, 1.5, 0.055]);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.99), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
    }

    #[test]
    fn connrate_line() {
        assert_eq!(
            parse_connrate("14012 conn/s (20000 connections in 1.43 s, 0 failed)\n").unwrap(),
            14012.0
        );
        assert!(parse_connrate("connrate: bind: x").is_err());
    }

    #[test]
    fn measurement_lists() {
        assert_eq!(
            Measurement::parse_list("tcp1, ping").unwrap(),
            vec![Measurement::Tcp1, Measurement::Ping]
        );
        assert_eq!(Measurement::parse_list("all").unwrap().len(), 5);
        assert!(Measurement::parse_list("tcp9").is_err());
        assert!(Measurement::parse_list("").is_err());
    }
}
