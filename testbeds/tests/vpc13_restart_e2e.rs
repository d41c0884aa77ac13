//! Crash and restart (VPC-13): `vpcd --state FILE` keeps the last applied configuration
//! and makes its TAPs persistent; after `kill -9` of vpcd the instances keep their
//! interfaces (no carrier, same addresses, a DHCP lease included), and a new vpcd
//! started on the same state file adopts them (the same devices, no `vpcctl apply`):
//! traffic resumes within a second of the new vpcd's `ready`, and the DHCP client never
//! had to ask again.
//! Connection tracking and NAT translations are not kept (see README: a tracked flow
//! needs its next packet to be allowed as a new connection, as after an AWS failover).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testbeds::{Lab, RunPrefix, Scratch, Vpcd, VpcdOptions};

mod common;
use common::ping_ok;

const TOPOLOGY: &str = r#"
[[vpc]]
id = "vpc-r"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-r"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-r"
cidr = "10.0.2.0/24"

[[security_group]]
id = "sg-open"
vpc = "vpc-r"
inbound = [{ protocol = "-1", source = "10.0.0.0/16" }]

[[eni]]
id = "eni-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
netns = "a"
addressing = "static"
security_groups = ["sg-open"]

[[eni]]
id = "eni-b"
subnet = "subnet-b"
private_ip = "10.0.2.20"
netns = "b"
addressing = "static"
security_groups = ["sg-open"]

[[eni]]
id = "eni-c"
subnet = "subnet-b"
private_ip = "10.0.2.30"
netns = "c"
addressing = "dhcp"
security_groups = ["sg-open"]
"#;

/// `ip -j link show dev eth0` in `ns`: (ifindex, whether it has `10.0.x.y`).
fn link(ns: &testbeds::Netns, addr: &str) -> Option<(u64, bool)> {
    let out = ns
        .exec(
            &["ip", "-j", "addr", "show", "dev", "eth0"],
            Duration::from_secs(5),
        )
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let l = v.get(0)?;
    let has = l
        .get("addr_info")?
        .as_array()?
        .iter()
        .any(|a| a.get("local").and_then(|x| x.as_str()) == Some(addr));
    Some((l.get("ifindex")?.as_u64()?, has))
}

/// A vpcd this test started by hand: killed by its PID when dropped.
struct Restarted(Child);

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether process `pid` has exited (gone, or a zombie not yet reaped).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_killed_vpcd_restarted_on_its_state_file_brings_the_topology_back() {
    restart_keeps_the_instances_interfaces(1);
}

/// The same with two forwarding workers: multi-queue TAPs are adopted queue by queue.
#[test]
fn a_killed_vpcd_with_two_workers_adopts_its_multi_queue_taps() {
    restart_keeps_the_instances_interfaces(2);
}

fn restart_keeps_the_instances_interfaces(workers: usize) {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let scratch = Scratch::new(prefix.as_str()).unwrap();
    let state = scratch.join("config.json");
    let state_s = state.to_string_lossy().into_owned();
    let opts = VpcdOptions {
        extra_args: vec![
            "--state".into(),
            state_s.clone(),
            "--workers".into(),
            workers.to_string(),
        ],
        ..VpcdOptions::default()
    };
    let lab = Lab::start_with(TOPOLOGY, opts).unwrap();
    ping_ok(lab.ns("eni-a"), "10.0.2.20");
    ping_ok(lab.ns("eni-c"), "10.0.1.10");
    assert!(state.exists(), "the applied configuration was saved");
    let dhcp_dir = lab.dhcp_client("eni-c").unwrap().dir.clone();
    let binds = |dir: &std::path::Path| {
        control::dhcp_client::events(dir)
            .iter()
            .filter(|e| *e == "bound")
            .count()
    };
    let bound_before = binds(&dhcp_dir);
    assert_eq!(
        bound_before,
        1,
        "{:?}",
        control::dhcp_client::events(&dhcp_dir)
    );
    let (index_a, has_a) = link(lab.ns("eni-a"), "10.0.1.10").unwrap();
    let (index_c, has_c) = link(lab.ns("eni-c"), "10.0.2.30").unwrap();
    assert!(has_a && has_c, "static and DHCP addresses in place");

    // kill -9, by its PID.
    let pid = lab.vpcd().pid();
    let out = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exited(pid) {
        assert!(Instant::now() < deadline, "vpcd {pid} did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Its TAPs stay (persistent), with their addresses, the DHCP lease's included; but
    // nobody reads them: the instance has no way out now.
    assert_eq!(link(lab.ns("eni-a"), "10.0.1.10"), Some((index_a, true)));
    assert_eq!(link(lab.ns("eni-c"), "10.0.2.30"), Some((index_c, true)));
    let out = lab
        .ns("eni-a")
        .exec(
            &["ping", "-c", "1", "-W", "1", "10.0.2.20"],
            Duration::from_secs(5),
        )
        .unwrap();
    assert!(!out.status.success(), "no vpcd, no traffic");

    // A new vpcd on the same state file (another socket and TAP prefix).
    let prefix2 = RunPrefix::new().unwrap();
    let socket2 = scratch.join("vpcd2.sock");
    let mut child = Command::new(Vpcd::binary_path().unwrap())
        .arg("--socket")
        .arg(&socket2)
        .args(["--tap-prefix", prefix2.as_str(), "--state", &state_s])
        .args(["--workers", &workers.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let restarted = Restarted(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.starts_with("ready"), "{line:?}");
    let ready = Instant::now();

    // Traffic resumes without an apply; the instances kept their addresses.
    let a = lab.ns("eni-a");
    let resumed = loop {
        let out = a
            .exec(
                &["ping", "-c", "1", "-W", "1", "10.0.2.20"],
                Duration::from_secs(5),
            )
            .unwrap();
        if out.status.success() {
            break ready.elapsed();
        }
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "traffic did not resume"
        );
    };
    assert!(
        resumed < Duration::from_secs(1) + Duration::from_millis(500),
        "resumed {resumed:?} after ready"
    );
    ping_ok(lab.ns("eni-c"), "10.0.1.10");
    // The same devices (adopted, not re-created), and the DHCP client never re-bound.
    assert_eq!(link(lab.ns("eni-a"), "10.0.1.10"), Some((index_a, true)));
    assert_eq!(link(lab.ns("eni-c"), "10.0.2.30"), Some((index_c, true)));
    assert_eq!(
        binds(&dhcp_dir),
        bound_before,
        "{:?}",
        control::dhcp_client::events(&dhcp_dir)
    );
    let report = control::client::show(&socket2).unwrap();
    assert_eq!(report.enis.len(), 3);
    assert!(
        report.enis.iter().all(|e| e.tap.is_some()),
        "{:?}",
        report.enis
    );

    // `vpcctl down` (a shutdown request) removes the interfaces: persistence is for
    // crashes and restarts, not for a deliberate stop.
    control::client::shutdown(&socket2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while link(lab.ns("eni-a"), "10.0.1.10").is_some() {
        assert!(
            Instant::now() < deadline,
            "eth0 still in namespace a after down"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(restarted);
}
