//! Tests of the harness itself: namespaces, veth, ping, socat/iperf3 traffic, stale cleanup,
//! guards under panic, and the vpcd guard against fake daemons.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use testbeds::names::{self, decode_pid, encode, RunPrefix};
use testbeds::{traffic, veth_pair, Error, Netns, Scratch, Vpcd, VpcdOptions};

/// Two namespaces `left`/`right` joined by a veth pair, 10.200.0.1/24 ↔ 10.200.0.2/24.
struct Pair {
    prefix: RunPrefix,
    left: Netns,
    right: Netns,
    left_if: String,
    right_if: String,
}

const LEFT_IP: &str = "10.200.0.1";
const RIGHT_IP: &str = "10.200.0.2";

fn pair() -> Pair {
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let left = prefix.netns("left").unwrap();
    let right = prefix.netns("right").unwrap();
    let left_if = prefix.ifname("l").unwrap();
    let right_if = prefix.ifname("r").unwrap();
    veth_pair(&left, &left_if, &right, &right_if).unwrap();
    left.add_addr(&left_if, format!("{LEFT_IP}/24").parse().unwrap())
        .unwrap();
    right
        .add_addr(&right_if, format!("{RIGHT_IP}/24").parse().unwrap())
        .unwrap();
    Pair {
        prefix,
        left,
        right,
        left_if,
        right_if,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn veth_ping_neigh_addr() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let p = pair();
    let r = p
        .left
        .ping(ip(RIGHT_IP), 3, Duration::from_secs(5))
        .unwrap();
    assert!(r.all_received(), "{r:?}");

    let right_mac = p.right.link_mac(&p.right_if).unwrap();
    let neigh = p.left.neigh(&p.left_if).unwrap();
    let entry = neigh
        .iter()
        .find(|n| n.ip == ip(RIGHT_IP))
        .expect("neighbour entry after ping");
    assert_eq!(entry.mac, Some(right_mac), "{neigh:?}");
    assert!(!entry.state.is_empty());

    let addrs = p.left.addr(&p.left_if).unwrap();
    assert!(
        addrs.contains(&format!("{LEFT_IP}/24").parse().unwrap()),
        "{addrs:?}"
    );

    // An address nobody has: loss is a result, not an error.
    let miss = p
        .left
        .ping(ip("10.200.0.77"), 1, Duration::from_secs(1))
        .unwrap();
    assert_eq!(miss.received, 0);

    let names = [p.left.name().to_owned(), p.right.name().to_owned()];
    assert!(names
        .iter()
        .all(|n| n.starts_with(p.prefix.as_str()) && netns_exists(n)));
    drop(p);
    assert!(
        names.iter().all(|n| !netns_exists(n)),
        "namespaces deleted on drop"
    );
}

#[test]
fn tcp_transfer_10mb_intact() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let p = pair();
    let bytes = 10 * 1024 * 1024;
    let r = traffic::tcp_transfer(&p.right, ip(RIGHT_IP), 9000, &p.left, bytes).unwrap();
    assert_eq!(r.bytes_received, bytes);
    assert!(r.intact(), "{r:?}");
    assert!(r.elapsed > Duration::ZERO);
}

#[test]
fn tcp_transfer_100mb_intact() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let p = pair();
    let bytes = 100 * 1000 * 1000;
    let r = traffic::tcp_transfer(&p.right, ip(RIGHT_IP), 9002, &p.left, bytes).unwrap();
    assert!(r.intact(), "{r:?}");
    eprintln!("100 MB in {:?} ({:.2} Gbit/s)", r.elapsed, r.gbps());
}

#[test]
fn tcp_transfer_to_nobody_fails_cleanly() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let p = pair();
    // The server listens on RIGHT_IP, so this bind fails in `left`: socat never says "listening".
    let t0 = Instant::now();
    let e = traffic::tcp_transfer(&p.left, ip(RIGHT_IP), 9001, &p.right, 1000).unwrap_err();
    assert!(matches!(e, Error::NotReady { .. }), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn iperf3_between_namespaces() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let p = pair();
    let gbps = traffic::iperf3(&p.right, ip(RIGHT_IP), &p.left, 1).unwrap();
    assert!(gbps > 0.01, "{gbps} Gbit/s");
}

#[test]
fn exec_timeout_kills_child() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let ns = prefix.netns("slow").unwrap();
    let t0 = Instant::now();
    let e = ns
        .exec(&["sleep", "30"], Duration::from_millis(300))
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(
        ns.exec_ok(&["echo", "hi"], Duration::from_secs(5))
            .unwrap()
            .trim(),
        "hi"
    );
    assert!(ns.exec_ok(&["false"], Duration::from_secs(5)).is_err());
}

#[test]
fn panicking_test_still_cleans_up() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let (tx, rx) = std::sync::mpsc::channel();
    let joined = std::thread::spawn(move || {
        let prefix = RunPrefix::new().unwrap();
        let ns = prefix.netns("doomed").unwrap();
        let child = ns.spawn(&["sleep", "30"]).unwrap();
        tx.send((ns.name().to_owned(), child.pid())).unwrap();
        let _keep = (ns, child);
        panic!("deliberate panic to exercise the guards");
    })
    .join();
    assert!(joined.is_err(), "the thread panicked");
    let (name, pid) = rx.recv().unwrap();
    assert!(!netns_exists(&name), "{name} deleted during unwinding");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "sleep {pid} killed and reaped"
    );
}

#[test]
fn cleanup_stale_removes_dead_runs_only() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let live = RunPrefix::new().unwrap();
    // Pids above PID_MAX_LIMIT (4194304) can never be alive; derive one from ours so that parallel
    // test binaries do not collide.
    let dead_pid = 4_194_305 + std::process::id() % 50_000_000;
    assert!(!names::pid_alive(dead_pid));
    let dead = encode(dead_pid, 0).unwrap();
    assert_eq!(decode_pid(&dead), Some(dead_pid));

    let live_ns = live.netns("keep").unwrap();
    // A bare `ip netns add` (no guard steps after it): a parallel test binary's own
    // cleanup_stale may legitimately delete this at any moment, which must not fail the test.
    let dead_name = format!("{dead}-stale");
    let _fallback = DelOnDrop(dead_name.clone());
    testbeds::process::run_ok(&["ip", "netns", "add", &dead_name], Duration::from_secs(10))
        .unwrap();

    let removed = testbeds::cleanup_stale().unwrap();
    assert!(
        !netns_exists(&dead_name),
        "stale namespace removed (removed: {removed:?})"
    );
    assert!(netns_exists(live_ns.name()), "live run left alone");

    // Interface cleanup, exercised inside our own namespace rather than the host's.
    let dead_a = format!("{dead}a");
    let live_a = live.ifname("a").unwrap();
    live_ns
        .ip(&[
            "link",
            "add",
            "name",
            &dead_a,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{dead}b"),
        ])
        .unwrap();
    live_ns
        .ip(&[
            "link",
            "add",
            "name",
            &live_a,
            "type",
            "veth",
            "peer",
            "name",
            &live.ifname("b").unwrap(),
        ])
        .unwrap();
    let removed = names::cleanup_stale_links(Some(live_ns.name())).unwrap();
    assert!(removed.iter().any(|n| n.starts_with(&dead)), "{removed:?}");
    let links = live_ns.ip(&["-br", "link"]).unwrap();
    assert!(!links.contains(&dead), "{links}");
    assert!(links.contains(&live_a), "{links}");
}

/// Deletes a namespace on drop if it still exists (fallback for a namespace made without a guard).
struct DelOnDrop(String);

impl Drop for DelOnDrop {
    fn drop(&mut self) {
        if netns_exists(&self.0) {
            let _ = testbeds::process::run_ok(
                &["ip", "netns", "del", &self.0],
                Duration::from_secs(10),
            );
        }
    }
}

// --- the vpcd guard, against fake daemons (the real vpcd may not exist yet) ---

fn fake_vpcd(dir: &Scratch, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn opts(binary: std::path::PathBuf, ready_timeout: Duration) -> VpcdOptions {
    VpcdOptions {
        binary: Some(binary),
        ready_timeout,
        ..VpcdOptions::default()
    }
}

#[test]
fn vpcd_guard_ready_and_stop() {
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let bin_dir = Scratch::new("fakebin").unwrap();
    // Logs to stderr, announces readiness, then idles; `exec` so SIGTERM reaches the same PID.
    let bin = fake_vpcd(
        &bin_dir,
        "vpcd-ok",
        "echo \"args: $*\" >&2\necho banner\necho \"ready $2\"\nexec sleep 30",
    );
    let vpcd = Vpcd::start_with(&prefix, opts(bin, Duration::from_secs(10))).unwrap();
    assert!(vpcd.ready_line().starts_with("ready"));
    assert!(
        vpcd.ready_line().ends_with("vpcd.sock"),
        "{}",
        vpcd.ready_line()
    );
    assert_eq!(vpcd.socket_path().file_name().unwrap(), "vpcd.sock");
    let log = std::fs::read_to_string(vpcd.log_path()).unwrap();
    assert!(log.contains(&format!("--tap-prefix {prefix}")), "{log}");
    let (pid, dir) = (vpcd.pid(), vpcd.dir().to_owned());
    drop(vpcd);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "stopped and reaped"
    );
    assert!(!dir.exists(), "tmpdir removed when not panicking");
}

#[test]
fn vpcd_guard_reports_early_exit_with_log() {
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let bin_dir = Scratch::new("fakebin").unwrap();
    let bin = fake_vpcd(
        &bin_dir,
        "vpcd-dies",
        "echo 'cannot open /dev/net/tun' >&2\nexit 3",
    );
    let e = Vpcd::start_with(&prefix, opts(bin, Duration::from_secs(10))).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::NotReady { .. }), "{msg}");
    assert!(msg.contains("cannot open /dev/net/tun"), "{msg}");
}

#[test]
fn vpcd_guard_times_out_and_kills() {
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let bin_dir = Scratch::new("fakebin").unwrap();
    let bin = fake_vpcd(
        &bin_dir,
        "vpcd-mute",
        "echo 'still starting' >&2\nexec sleep 30",
    );
    let t0 = Instant::now();
    let e = Vpcd::start_with(&prefix, opts(bin, Duration::from_millis(500))).unwrap_err();
    assert!(matches!(e, Error::NotReady { .. }), "{e}");
    assert!(e.to_string().contains("still starting"), "{e}");
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "killed promptly: {:?}",
        t0.elapsed()
    );
}

#[test]
fn vpcd_missing_binary_is_a_spawn_error() {
    let prefix = RunPrefix::new().unwrap();
    let e = Vpcd::start_with(
        &prefix,
        opts("/nonexistent/vpcd".into(), Duration::from_secs(1)),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Spawn { .. }), "{e}");
    // The lookup error names the build command.
    let hint = Error::VpcdNotFound { detail: "x".into() }.to_string();
    assert!(hint.contains("cargo build -p dataplane --bin vpcd"));
}

#[test]
fn die_with_thread_leaves_no_orphan() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let ns = prefix.netns("orphan").unwrap();
    // The leaked guard below keeps a clone of `ns` alive forever, so delete it by name at the end.
    let _fallback = DelOnDrop(ns.name().to_owned());
    let ns2 = ns.clone();
    // Simulate a crash: the guard is leaked (never killed by Drop) and its thread ends.
    let pid = std::thread::spawn(move || {
        let child = ns2
            .spawn_with(
                &["sleep", "30"],
                testbeds::SpawnOpts {
                    die_with_thread: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let pid = child.pid();
        std::mem::forget(child);
        pid
    })
    .join()
    .unwrap();
    // Dead means gone or a zombie (we leaked the handle that would reap it). Poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(5);
    let dead = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    };
    while !dead() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // (It stays a zombie until this test process exits: harmless.)
    assert!(dead(), "sleep {pid} outlived its spawning thread");
}

#[test]
fn real_vpcd_starts_and_stops() {
    testbeds::init_tracing();
    if let Err(e) = Vpcd::binary_path() {
        if testbeds::privileges::in_ci() {
            panic!("{e}");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIP: {e}");
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let mut vpcd = Vpcd::start(&prefix).unwrap();
    assert!(
        vpcd.ready_line().starts_with("ready"),
        "{}",
        vpcd.ready_line()
    );
    assert!(vpcd.socket_path().exists(), "socket listens once ready");
    let status = vpcd.stop().expect("vpcd reaped");
    assert!(
        status.success()
            || std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGTERM),
        "{status}; log:\n{}",
        vpcd.log_tail(4096)
    );
}
