//! Live change under load (VPC-13): TCP keeps flowing while the topology is re-applied
//! over and over with rule changes that must not affect it, and a change that must cut a
//! flow cuts it at once.
//!
//! An iperf3 transfer A → B (tracked by B's security group) and a held `tcp-probe`
//! connection run while the configuration alternates between two variants that differ in
//! rules unrelated to them (a security-group rule for another port and source, a
//! network-ACL entry for another network). Afterwards: the transfer completed with its
//! bytes, B's kernel saw no TCP checksum error, the held connection still echoes, and
//! every apply committed (apply latency median and p99 printed). Then a network-ACL deny
//! of A's subnet on B's subnet (stateless: it applies to the next packet of every flow)
//! cuts the held connection at once.
//!
//! The CI run is short (`VPCD_SOAK_APPLIES`, default 100 applies over a 10-s transfer);
//! `scripts/soak` runs the long version (e.g. 3,000 applies over 180 s).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use testbeds::Lab;

mod common;
use common::{hold, probe_server, start};

fn topology(variant: bool, cut: bool) -> String {
    // Rules that concern neither A nor its traffic: they change with every apply.
    let (sg_extra, acl_extra) = if variant {
        (
            r#"{ protocol = "udp", ports = "9999", source = "10.9.0.0/16" },"#,
            r#"{ rule = 50, protocol = "tcp", ports = "1-65535", cidr = "10.9.9.0/24", action = "deny" },"#,
        )
    } else {
        ("", "")
    };
    let cut_rule = if cut {
        r#"{ rule = 10, protocol = "-1", cidr = "10.0.1.0/24", action = "deny" },"#
    } else {
        ""
    };
    format!(
        r#"
[[vpc]]
id = "vpc-s"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-s"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-s"
cidr = "10.0.2.0/24"

[[network_acl]]
id = "acl-b"
vpc = "vpc-s"
subnets = ["subnet-b"]
inbound = [
  {cut_rule}
  {acl_extra}
  {{ rule = 100, protocol = "-1", cidr = "0.0.0.0/0", action = "allow" }},
]
outbound = [{{ rule = 100, protocol = "-1", cidr = "0.0.0.0/0", action = "allow" }}]

[[security_group]]
id = "sg-a"
vpc = "vpc-s"
inbound = []

[[security_group]]
id = "sg-b"
vpc = "vpc-s"
inbound = [
  {sg_extra}
  {{ protocol = "tcp", ports = "5201", source = "10.0.1.0/24" }},
  {{ protocol = "tcp", ports = "7", source = "10.0.1.0/24" }},
]

[[eni]]
id = "eni-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
netns = "a"
addressing = "static"
security_groups = ["sg-a"]

[[eni]]
id = "eni-b"
subnet = "subnet-b"
private_ip = "10.0.2.20"
netns = "b"
addressing = "static"
security_groups = ["sg-b"]
"#
    )
}

/// B's kernel's count of TCP segments with a bad checksum.
fn tcp_csum_errors(lab: &Lab) -> u64 {
    let out = lab
        .ns("eni-b")
        .exec(&["nstat", "-az", "TcpInCsumErrors"], Duration::from_secs(5))
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("TcpInCsumErrors"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn tcp_survives_hundreds_of_live_reapplies_and_a_cut_cuts_at_once() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let applies = env_or("VPCD_SOAK_APPLIES", 100) as usize;
    let secs = env_or("VPCD_SOAK_SECS", 10) as u32;
    let lab = start(&topology(false, false));
    let configs = [
        lab.compile(&topology(true, false)).unwrap().1,
        lab.compile(&topology(false, false)).unwrap().1,
    ];
    let _echo = probe_server(lab.ns("eni-b"), "10.0.2.20", &[7]);
    let mut held = hold(lab.ns("eni-a"), "10.0.2.20", 7, 2);
    assert_eq!(held.send("before"), "echo before");
    let csum_before = tcp_csum_errors(&lab);

    let (a, b) = (lab.ns("eni-a"), lab.ns("eni-b"));
    let mut latencies = Vec::with_capacity(applies);
    let gbps = std::thread::scope(|s| {
        let transfer = s.spawn(|| testbeds::iperf3(b, "10.0.2.20".parse().unwrap(), a, secs));
        // Spread the applies over the transfer (starting once it runs).
        std::thread::sleep(Duration::from_millis(500));
        let gap = Duration::from_millis(u64::from(secs) * 1000 * 3 / 4 / applies.max(1) as u64);
        for i in 0..applies {
            let t = Instant::now();
            let epoch = lab.apply_config(&configs[i % 2]);
            latencies.push(t.elapsed());
            assert!(epoch.is_ok(), "apply {i}: {epoch:?}");
            std::thread::sleep(gap.saturating_sub(t.elapsed()));
        }
        transfer.join().unwrap()
    });
    let gbps = gbps.unwrap();
    latencies.sort_unstable();
    let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{applies} live applies during a {secs}-s transfer at {gbps:.2} Gbit/s: apply median {:?}, p99 {:?}",
        p(0.5),
        p(0.99)
    );
    assert!(gbps > 0.1, "the transfer moved data: {gbps} Gbit/s");
    assert_eq!(
        tcp_csum_errors(&lab),
        csum_before,
        "no TCP checksum error at B"
    );
    assert_eq!(
        held.send("after"),
        "echo after",
        "the held connection survived"
    );

    // A stateless deny of A's subnet cuts the tracked connection at the next packet.
    let cut = lab.compile(&topology(false, true)).unwrap().1;
    lab.apply_config(&cut).unwrap();
    assert_eq!(
        held.send("cut"),
        "timeout",
        "cut at once by the network ACL"
    );
}
