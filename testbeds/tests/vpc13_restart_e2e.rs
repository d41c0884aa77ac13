//! Crash and restart (VPC-13): `vpcd --state FILE` keeps the last applied configuration;
//! after `kill -9` of vpcd, a new vpcd started on the same state file brings the
//! topology back by itself (no `vpcctl apply`): the instances' interfaces come back with
//! their addresses and traffic resumes within a second of the new vpcd's `ready`.
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
"#;

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
    if !testbeds::require_root_or_skip() {
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let scratch = Scratch::new(prefix.as_str()).unwrap();
    let state = scratch.join("config.json");
    let state_s = state.to_string_lossy().into_owned();
    let opts = VpcdOptions {
        extra_args: vec!["--state".into(), state_s.clone()],
        ..VpcdOptions::default()
    };
    let lab = Lab::start_with(TOPOLOGY, opts).unwrap();
    ping_ok(lab.ns("eni-a"), "10.0.2.20");
    assert!(state.exists(), "the applied configuration was saved");

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
    // Its TAPs went with it: the instance has no way out now.
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
    let report = control::client::show(&socket2).unwrap();
    assert_eq!(report.enis.len(), 2);
    assert!(
        report.enis.iter().all(|e| e.tap.is_some()),
        "{:?}",
        report.enis
    );
    drop(restarted);
}
