//! End-to-end test of the kernel's TAP counters in vpcd's report: frames that die in the
//! kernel, on either side of vpcd, are counted by the kernel alone (the TAP's `tx_dropped`
//! in the instance's namespace: its queue to vpcd was full; `rx_dropped`: vpcd wrote a frame
//! the instance's kernel refused) and `vpcctl show`, its JSON and the metrics endpoint must
//! show them next to vpcd's own counters, with the figures `ip -s link` has.
//!
//! Made deterministic without racing vpcd: for `tx_dropped`, vpcd is stopped (SIGSTOP)
//! while the instance sends a burst larger than its TAP's queue (`txqueuelen 16`); for
//! `rx_dropped`, the instance's interface is set down, so the kernel refuses (EIO) and
//! counts every frame vpcd writes to it.
//!
//! Tools: ip, ping, curl.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use dataplane::observe::stats::{EniReport, StatsReport};
use dataplane::sys::linkstats::LinkStats;
use dataplane::vpc::verdict::DropReason;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testbeds::{Lab, Netns, Vpcctl, VpcdOptions};

mod common;
use common::{ip, ping_unanswered, poll, CMD, COUNTER_WAIT};

/// One subnet, two ENIs (the default group lets them talk).
const TOPOLOGY: &str = r#"
[[vpc]]
id = "vpc-k"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-main"
vpc = "vpc-k"
main = true

[[subnet]]
id = "subnet-a"
vpc = "vpc-k"
cidr = "10.0.1.0/24"

[[eni]]
id = "eni-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
netns = "a"

[[eni]]
id = "eni-b"
subnet = "subnet-a"
private_ip = "10.0.1.20"
netns = "b"
"#;

/// Datagrams in the burst sent while vpcd is stopped.
const BURST: u64 = 2000;
/// The TAP queue length set for the burst.
const QUEUE: u64 = 16;

/// Sends SIGCONT to vpcd when dropped, so that a failing assertion never leaves it stopped.
struct Stopped(Pid);

impl Stopped {
    /// Stops `pid` and returns once every one of its threads is stopped (the signal is
    /// delivered asynchronously: a forwarding thread could read a few hundred frames more).
    fn new(pid: u32) -> Stopped {
        let p = Pid::from_raw(pid as i32);
        kill(p, Signal::SIGSTOP).unwrap();
        let stopped = Stopped(p);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !all_threads_stopped(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "vpcd {pid} did not stop"
            );
            std::thread::yield_now();
        }
        stopped
    }
}

/// Whether every thread of `pid` is in state `T` (stopped).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).all(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['T', 't']))
        })
    })
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

/// `ip -s` figures of `ifname` in `ns` (`ip -j -s link show dev IF`): the cross-check.
fn ip_stats(ns: &Netns, ifname: &str) -> LinkStats {
    let out = ns
        .exec_ok(&["ip", "-j", "-s", "link", "show", "dev", ifname], CMD)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let s = &v[0]["stats64"];
    let n = |dir: &str, k: &str| {
        s[dir][k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {dir}.{k} in {out}"))
    };
    LinkStats {
        rx_packets: n("rx", "packets"),
        rx_bytes: n("rx", "bytes"),
        tx_packets: n("tx", "packets"),
        tx_bytes: n("tx", "bytes"),
        rx_dropped: n("rx", "dropped"),
        tx_dropped: n("tx", "dropped"),
        rx_errors: n("rx", "errors"),
        tx_errors: n("tx", "errors"),
    }
}

fn eni<'a>(r: &'a StatsReport, id: &str) -> &'a EniReport {
    r.enis.iter().find(|e| e.id == id).unwrap()
}

/// The kernel figures of `id`'s TAP in a fresh report (asserting there are some).
fn kernel(lab: &Lab, id: &str) -> LinkStats {
    let r = lab.show().unwrap();
    let k = eni(&r, id)
        .kernel
        .clone()
        .unwrap_or_else(|| panic!("{id}: no kernel figures in the report: {:?}", eni(&r, id)));
    assert_eq!(k.netns, lab.ns(id).name());
    assert_eq!(k.ifname, "eth0");
    k.counters
}

/// The body of the metrics endpoint at `url`.
fn metrics(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The value of the series `key` (`name{labels}`) in a Prometheus text.
fn sample(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn frames_the_kernel_drops_on_either_side_of_vpcd_are_reported() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let opts = VpcdOptions {
        extra_args: vec!["--metrics".into(), "127.0.0.1:0".into()],
        ..VpcdOptions::default()
    };
    let lab = Lab::start_with(TOPOLOGY, opts).unwrap();
    let (a, b) = (lab.ns("eni-a"), lab.ns("eni-b"));

    // Both ENIs have kernel figures from the start, the same as `ip -s link`'s (quiet).
    let before = kernel(&lab, "eni-a");
    assert_eq!(before.tx_dropped, ip_stats(a, "eth0").tx_dropped);
    let _ = kernel(&lab, "eni-b");
    // a knows b's MAC before vpcd stops (no ARP during the burst).
    let (sent, got) = lab.ping("eni-a", ip("10.0.1.20"), 2).unwrap();
    assert_eq!((sent, got), (2, 2));

    // --- dropped before vpcd read them: the instance's TAP queue overflows ---------------
    a.exec_ok(
        &[
            "ip",
            "link",
            "set",
            "eth0",
            "txqueuelen",
            &QUEUE.to_string(),
        ],
        CMD,
    )
    .unwrap();
    let sock = dataplane::sys::netns::udp_socket_in(a.name(), Ipv4Addr::new(10, 0, 1, 10)).unwrap();
    let to = SocketAddr::from(([10, 0, 1, 20], 9));
    let mut burst_sent = 0u64;
    {
        let _stopped = Stopped::new(lab.vpcd().pid());
        for _ in 0..BURST {
            if sock.send_to(&[0x42; 64], to).is_ok() {
                burst_sent += 1;
            }
        }
        // What the kernel dropped is counted when sent, while vpcd is still stopped.
        let mid = ip_stats(a, "eth0");
        assert!(
            mid.tx_dropped >= before.tx_dropped + burst_sent.saturating_sub(QUEUE + 64),
            "{burst_sent} sent into a queue of {QUEUE} with vpcd stopped; ip -s: {mid:?}"
        );
    }
    let after = kernel(&lab, "eni-a");
    let lost = after.tx_dropped - before.tx_dropped;
    assert!(
        burst_sent > QUEUE && lost >= burst_sent - QUEUE - 64,
        "{burst_sent} sent, {lost} reported dropped before vpcd read them: {after:?}"
    );
    // vpcd itself saw only what the queue held.
    let read = lab.counters("eni-a").unwrap().rx_packets;
    assert!(read < burst_sent, "vpcd read {read} of {burst_sent}");
    // The figures are the kernel's: those of `ip -s link` (drops are quiet now).
    let cross = ip_stats(a, "eth0");
    assert_eq!(after.tx_dropped, cross.tx_dropped);
    assert!(after.tx_packets <= cross.tx_packets);
    assert!(after.tx_packets >= before.tx_packets + burst_sent - lost);

    // --- dropped after vpcd wrote them: the instance's interface is down ----------------
    let rx_before = kernel(&lab, "eni-a");
    let failed_before = lab.drops("eni-a", DropReason::TxFailed).unwrap();
    a.exec_ok(&["ip", "link", "set", "eth0", "down"], CMD)
        .unwrap();
    // b resolves a's address through the VPC router and sends; vpcd writes to a's TAP.
    let r = ping_unanswered(b, "10.0.1.10", 5, &[]);
    assert_eq!(r.received, 0);
    let k = poll(
        COUNTER_WAIT,
        || kernel(&lab, "eni-a"),
        |k| k.rx_dropped >= rx_before.rx_dropped + 5,
    );
    assert!(
        k.rx_dropped >= rx_before.rx_dropped + 5,
        "5 echoes written to a downed interface; kernel figures: {k:?}"
    );
    // vpcd saw its writes fail and counted them too; the kernel says why.
    assert!(lab.drops("eni-a", DropReason::TxFailed).unwrap() >= failed_before + 5);
    let cross = ip_stats(a, "eth0");
    assert_eq!(k.rx_dropped, cross.rx_dropped);

    // --- where a user looks: vpcctl show, its JSON, the metrics -------------------------
    let ctl = Vpcctl::new(lab.vpcd().socket_path()).unwrap();
    let out = ctl.run(&["show"], CMD).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = text
        .lines()
        .skip_while(|l| !l.contains("DROPPED BEFORE VPCD READ"))
        .find(|l| l.trim_start().starts_with("eni-a"))
        .unwrap_or_else(|| panic!("no kernel line for eni-a in\n{text}"));
    assert!(
        line.contains(&format!("{}/eth0", a.name()))
            && line.contains(&k.tx_dropped.to_string())
            && line.contains(&k.rx_dropped.to_string()),
        "{line}"
    );
    let out = ctl.run(&["show", "--json"], CMD).unwrap();
    let report: StatsReport = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let ja = eni(&report, "eni-a").kernel.clone().unwrap();
    assert_eq!(
        (ja.counters.tx_dropped, ja.counters.rx_dropped),
        (k.tx_dropped, k.rx_dropped)
    );
    let url = lab.vpcd().metrics_url().unwrap().to_string();
    let m = metrics(&url);
    assert_eq!(
        sample(&m, r#"vpcd_eni_kernel_tx_dropped_total{eni="eni-a"}"#),
        Some(k.tx_dropped),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"vpcd_eni_kernel_rx_dropped_total{eni="eni-a"}"#),
        Some(k.rx_dropped)
    );

    // --- an interface that vanished yields no kernel figures, and no error -------------
    // (Renamed, not deleted: vpcd still holds the TAP.)
    a.exec_ok(&["ip", "link", "set", "eth0", "name", "gone0"], CMD)
        .unwrap();
    let r = poll(
        Duration::from_secs(5),
        || lab.show().unwrap(),
        |r| eni(r, "eni-a").kernel.is_none(),
    );
    assert!(eni(&r, "eni-a").kernel.is_none());
    assert!(eni(&r, "eni-b").kernel.is_some());
}
