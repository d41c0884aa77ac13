//! End to end through the suite's peer planes (Open vSwitch userspace, the TAP ceiling):
//! ping and a 2-second iperf3 TCP stream from the client to the server, then nothing of
//! the run may remain once the plane is dropped.

use std::time::{Duration, Instant};

use benches::suite::planes::{ovs, tapfwd, Plane};
use testbeds::process::run_ok;
use testbeds::RunPrefix;

const CMD_TIMEOUT: Duration = Duration::from_secs(20);

fn in_ns(ns: &str, argv: &[&str]) -> std::process::Output {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(argv);
    std::process::Command::new(full[0])
        .args(&full[1..])
        .output()
        .expect("run ip netns exec")
}

/// Pings the server and pushes a 2-second iperf3 TCP stream through `plane`; returns the
/// bytes the server received.
fn exercise(plane: &Plane) -> u64 {
    let ip = plane.server_ip.to_string();
    let ping = in_ns(
        &plane.client_ns,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", &ip],
    );
    assert!(
        ping.status.success(),
        "{}: ping failed: {}{}",
        plane.label,
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr)
    );

    let port = "5301";
    let mut server = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &plane.server_ns,
            "iperf3",
            "-s",
            "-1",
            "-B",
            &ip,
            "-p",
            port,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start iperf3 server");
    // Readiness: the listener shows up in ss (bounded poll).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ss = in_ns(
            &plane.server_ns,
            &["ss", "-Hltn", &format!("sport = :{port}")],
        );
        if String::from_utf8_lossy(&ss.stdout).contains("LISTEN") {
            break;
        }
        assert!(Instant::now() < deadline, "iperf3 server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let client = in_ns(
        &plane.client_ns,
        &["iperf3", "-c", &ip, "-p", port, "-t", "2", "-J"],
    );
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        client.status.success(),
        "{}: iperf3 failed: {}",
        plane.label,
        String::from_utf8_lossy(&client.stdout)
    );
    let json = String::from_utf8_lossy(&client.stdout);
    let bytes = json
        .split("\"sum_received\"")
        .nth(1)
        .and_then(|s| s.split("\"bytes\":").nth(1))
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .expect("iperf3 JSON has sum_received.bytes") as u64;
    eprintln!(
        "{}: {bytes} bytes in 2 s ({:.2} Gbit/s)",
        plane.label,
        bytes as f64 * 8.0 / 2e9
    );
    bytes
}

/// Asserts that no namespace, interface (in the host namespace) or process mentions `prefix`.
fn assert_gone(prefix: &str) {
    let ns = run_ok(&["ip", "netns", "list"], CMD_TIMEOUT).expect("ip netns list");
    assert!(!ns.contains(prefix), "namespaces left: {ns}");
    let links = run_ok(&["ip", "-o", "link", "show"], CMD_TIMEOUT).expect("ip link");
    assert!(!links.contains(prefix), "interfaces left: {links}");
    let ps = run_ok(&["ps", "-eo", "pid,args"], CMD_TIMEOUT).expect("ps");
    let left: Vec<&str> = ps
        .lines()
        .filter(|l| l.contains(prefix) && !l.contains("ps -eo"))
        .collect();
    assert!(left.is_empty(), "processes left: {left:?}");
}

fn run_plane(make: fn(&str) -> testbeds::Result<Plane>) {
    testbeds::init_tracing();
    let prefix = RunPrefix::new().expect("prefix");
    let p = prefix.as_str().to_owned();
    let plane = make(&p).expect("plane set up");
    assert!(!plane.dataplane_pids.is_empty());
    for pid in &plane.dataplane_pids {
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
    let bytes = exercise(&plane);
    assert!(bytes > 1_000_000, "{}: only {bytes} bytes", plane.label);
    drop(plane);
    assert_gone(&p);
}

#[test]
fn tapfwd_plane_forwards_and_cleans_up() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    run_plane(tapfwd::tapfwd);
}

#[test]
fn ovs_userspace_plane_routes_filters_and_cleans_up() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    run_plane(ovs::ovs_userspace);
}
