//! End to end through the suite's peer planes (Open vSwitch userspace, the TAP ceiling):
//! ping and a 2-second iperf3 TCP stream from the client to the server, then nothing of
//! the run may remain once the plane is dropped. `PEERS_IPERF_SECS` lengthens the stream
//! (for a quick measurement; `TAPFWD` picks the forwarder binary, e.g. a release build).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use benches::suite::planes::{ovs, tapfwd, Plane};
use testbeds::process::{run_command, run_ok};
use testbeds::{NsChild, RunPrefix, SpawnOpts};

const CMD_TIMEOUT: Duration = Duration::from_secs(60);

fn ns_command(ns: &str, argv: &[&str]) -> (Command, String) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).args(argv);
    (cmd, format!("[{ns}] {}", argv.join(" ")))
}

/// Runs `argv` in namespace `ns` with a deadline.
fn in_ns(ns: &str, argv: &[&str]) -> Output {
    let (cmd, desc) = ns_command(ns, argv);
    run_command(cmd, &desc, CMD_TIMEOUT).expect("run in namespace")
}

/// Pings the server and pushes an iperf3 TCP stream (2 s, or `PEERS_IPERF_SECS`) through
/// `plane`; returns the bytes the server received.
fn exercise(plane: &Plane) -> u64 {
    let secs: u64 = std::env::var("PEERS_IPERF_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
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
    let (cmd, desc) = ns_command(
        &plane.server_ns,
        &["iperf3", "-s", "-1", "-B", &ip, "-p", port],
    );
    // Guarded: killed by PID if anything below fails.
    let _server = NsChild::spawn(cmd, desc, None, SpawnOpts::default()).expect("iperf3 -s");
    // Readiness: the listener shows up in ss (bounded poll).
    let deadline = Instant::now() + Duration::from_secs(10);
    let filter = format!("sport = :{port}");
    loop {
        let ss = in_ns(&plane.server_ns, &["ss", "-Hltn", &filter]);
        if String::from_utf8_lossy(&ss.stdout).contains("LISTEN") {
            break;
        }
        assert!(Instant::now() < deadline, "iperf3 server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let client = in_ns(
        &plane.client_ns,
        &[
            "iperf3",
            "-c",
            &ip,
            "-p",
            port,
            "-t",
            &secs.to_string(),
            "-J",
        ],
    );
    assert!(
        client.status.success(),
        "{}: iperf3 failed: {}",
        plane.label,
        String::from_utf8_lossy(&client.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&client.stdout).expect("iperf3 JSON");
    let bytes = json["end"]["sum_received"]["bytes"]
        .as_u64()
        .expect("end.sum_received.bytes");
    let gbps = json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_default()
        / 1e9;
    eprintln!(
        "{}: {bytes} bytes in {secs} s ({gbps:.2} Gbit/s)",
        plane.label
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
    let left: Vec<&str> = ps.lines().filter(|l| l.contains(prefix)).collect();
    assert!(left.is_empty(), "processes left: {left:?}");
    let tmp = std::env::temp_dir();
    let dirs: Vec<_> = std::fs::read_dir(&tmp)
        .expect("temp dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(prefix))
        .map(|e| e.path())
        .collect();
    assert!(dirs.is_empty(), "temporary directories left: {dirs:?}");
}

/// The OVS plane's rules are in the path: the iperf3 connection went through conntrack, and
/// a packet from an address that is not the client's is dropped (anti-spoofing).
fn check_ovs(plane: &Plane) {
    let ovs = plane
        .guard
        .downcast_ref::<ovs::OvsInstance>()
        .expect("the OVS plane's guard");
    let ct = ovs.dump_conntrack().expect("dump-conntrack");
    assert!(
        ct.contains("dst=10.0.2.20") && ct.contains("dport=5301"),
        "no iperf3 connection in conntrack: {ct}"
    );
    let flows = ovs.dump_flows().expect("dump-flows");
    assert!(
        flows
            .lines()
            .any(|l| l.contains("ct(commit") && l.contains("tcp") && !l.contains("n_packets=0,")),
        "the TCP commit rule never matched: {flows}"
    );
    // A second address on the client: its packets leave with a source the rules refuse.
    let dev = run_ok(
        &[
            "ip",
            "-n",
            &plane.client_ns,
            "-o",
            "route",
            "get",
            "10.0.2.20",
        ],
        CMD_TIMEOUT,
    )
    .expect("route get");
    let dev = dev
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .expect("route's dev")
        .to_owned();
    run_ok(
        &[
            "ip",
            "-n",
            &plane.client_ns,
            "addr",
            "add",
            "10.0.1.99/32",
            "dev",
            &dev,
        ],
        CMD_TIMEOUT,
    )
    .expect("second address");
    // The table-0 default drop: how many packets it refused so far.
    let table0_drops = || -> u64 {
        let flows = ovs.dump_flows().expect("dump-flows");
        flows
            .lines()
            .find(|l| l.contains("table=0") && l.contains("priority=0") && l.contains("drop"))
            .and_then(|l| {
                l.split([',', ' '])
                    .find_map(|f| f.trim().strip_prefix("n_packets="))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or_else(|| panic!("no table-0 drop rule with a count: {flows}"))
    };
    let before = table0_drops();
    let spoofed = in_ns(
        &plane.client_ns,
        &["ping", "-c", "1", "-W", "1", "-I", "10.0.1.99", "10.0.2.20"],
    );
    assert!(
        !spoofed.status.success(),
        "a packet from 10.0.1.99 got through the anti-spoofing rule"
    );
    assert!(
        table0_drops() > before,
        "the echo from 10.0.1.99 was not dropped by the anti-spoofing rule"
    );
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
    if plane.label == "ovs-userspace" {
        check_ovs(&plane);
    }
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
