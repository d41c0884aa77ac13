//! End-to-end tests of DHCP in the VPC router (VPC-10): namespaces whose ENIs use
//! `addressing = "dhcp"` (the default) get a bare interface, and the harness runs busybox's
//! udhcpc in each (as `vpcctl up` does) until it is bound; the client then stays in the
//! background and renews. The subnet's network ACL denies everything and the ENIs' security
//! group has no rules: DHCP is not filtered by either. Waits are udhcpc's own signal (its
//! foreground copy exits once bound) or a bounded poll of what its script records; never a
//! fixed sleep.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use dataplane::vpc::verdict::DropReason;
use testbeds::{Lab, RunPrefix, Scratch, Vpcctl};

mod common;
use common::start;

/// VPC a (default DHCP options) with two DHCP ENIs behind a deny-all ACL and a rule-less
/// group; VPC b with one DHCP ENI and a DHCP option set.
const TOPOLOGY: &str = r#"
[lab]
dhcp_lease_time = 120

[[vpc]]
id = "vpc-a"
cidr = "10.20.0.0/16"

[[vpc]]
id = "vpc-b"
cidr = "10.30.0.0/16"
dhcp_options = "dopt-corp"

[[dhcp_options]]
id = "dopt-corp"
domain_name = "corp.example"
domain_name_servers = ["192.0.2.53", "AmazonProvidedDNS"]
ntp_servers = ["192.0.2.123"]

[[subnet]]
id = "subnet-a"
vpc = "vpc-a"
cidr = "10.20.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-b"
cidr = "10.30.4.0/22"

[[network_acl]]
id = "acl-deny-all"
vpc = "vpc-a"
subnets = ["subnet-a"]

[[security_group]]
id = "sg-none"
vpc = "vpc-a"
inbound = []
outbound = []

[[eni]]
id = "eni-a1"
subnet = "subnet-a"
private_ip = "10.20.1.10"
security_groups = ["sg-none"]
netns = "a1"
addressing = "dhcp"

[[eni]]
id = "eni-a2"
subnet = "subnet-a"
private_ip = "10.20.1.11"
security_groups = ["sg-none"]
mtu = 1500
netns = "a2"
addressing = "dhcp"

[[eni]]
id = "eni-b"
subnet = "subnet-b"
private_ip = "10.30.5.7"
netns = "b"
addressing = "dhcp"
"#;

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// The interface's IPv4 addresses, default route and MTU, as `ip` shows them.
fn kernel_view(lab: &Lab, eni: &str) -> (String, String, String) {
    let ns = lab.ns(eni);
    let addr = ns.ip(&["-4", "-o", "addr", "show", "dev", "eth0"]).unwrap();
    let route = ns.ip(&["-4", "route", "show", "default"]).unwrap();
    let link = ns.ip(&["-o", "link", "show", "dev", "eth0"]).unwrap();
    (addr, route, link)
}

#[test]
fn dhcp_configures_namespaces_through_deny_all_acl_and_rule_less_group() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(TOPOLOGY);

    for (eni, ip, mtu) in [
        ("eni-a1", "10.20.1.10", 9001),
        ("eni-a2", "10.20.1.11", 1500),
    ] {
        let l = lab.lease(eni).unwrap();
        eprintln!("{eni}: DISCOVER to bound in {:?}", l.elapsed);
        assert_eq!(l.ip, v4(ip), "{eni}: {l:?}");
        assert_eq!(l.prefix_len, 24);
        assert_eq!(l.routers, vec![v4("10.20.1.1")]);
        assert_eq!(l.server, Some(v4("10.20.1.1")));
        // AWS's default set: the VPC's +2, us-east-1's domain, Time Sync.
        assert_eq!(l.dns, vec![v4("10.20.0.2")]);
        assert_eq!(l.domain.as_deref(), Some("ec2.internal"));
        assert_eq!(l.ntp, vec![v4("169.254.169.123")]);
        assert_eq!(l.mtu, Some(mtu));
        assert_eq!(l.lease_secs, 120);
        assert_eq!(l.resolv_conf, "search ec2.internal\nnameserver 10.20.0.2\n");
        let (addr, route, link) = kernel_view(&lab, eni);
        assert!(addr.contains(&format!("inet {ip}/24")), "{eni}: {addr}");
        assert!(
            route.contains("default via 10.20.1.1 dev eth0"),
            "{eni}: {route}"
        );
        assert!(link.contains(&format!("mtu {mtu} ")), "{eni}: {link}");
        let c = lab.counters(eni).unwrap();
        // udhcpc: DISCOVER → OFFER, REQUEST → ACK.
        assert_eq!(c.dhcp_replies, 2, "{eni}: {c:?}");
        assert_eq!(c.drops[DropReason::NaclDeny.index()], 0);
        assert_eq!(c.drops[DropReason::SgNoMatch.index()], 0);
        assert_eq!(c.drops[DropReason::DhcpMalformed.index()], 0);
    }

    // The option set of vpc-b: its servers (AmazonProvidedDNS = 10.30.0.2) and domain.
    let l = lab.lease("eni-b").unwrap();
    assert_eq!(l.ip, v4("10.30.5.7"));
    assert_eq!(l.prefix_len, 22);
    assert_eq!(l.routers, vec![v4("10.30.4.1")]);
    assert_eq!(l.dns, vec![v4("192.0.2.53"), v4("10.30.0.2")]);
    assert_eq!(l.domain.as_deref(), Some("corp.example"));
    assert_eq!(l.ntp, vec![v4("192.0.2.123")]);
    assert_eq!(
        l.resolv_conf,
        "search corp.example\nnameserver 192.0.2.53\nnameserver 10.30.0.2\n"
    );
    let (addr, route, _) = kernel_view(&lab, "eni-b");
    assert!(addr.contains("inet 10.30.5.7/22"), "{addr}");
    assert!(route.contains("default via 10.30.4.1 dev eth0"), "{route}");
    assert_eq!(lab.counters("eni-b").unwrap().dhcp_replies, 2);
}

/// With the shortest lease allowed (10 s), the client that stays running renews (its T1):
/// its script records `renew`, the router answered once more, and the address stays,
/// through a deny-all network ACL and a security group without rules.
#[test]
fn the_running_client_renews_a_short_lease() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let min = control::validate::MIN_DHCP_LEASE_TIME;
    let topo = TOPOLOGY.replace("dhcp_lease_time = 120", &format!("dhcp_lease_time = {min}"));
    let lab = start(&topo);
    let eni = "eni-a1";
    assert_eq!(lab.lease(eni).unwrap().lease_secs, min);
    assert_eq!(lab.counters(eni).unwrap().dhcp_replies, 2);
    let client = lab.dhcp_client(eni).unwrap();
    assert!(client.is_alive(), "udhcpc stays in the background");
    let events = || control::dhcp_client::events(&client.dir);
    assert_eq!(events(), vec!["deconfig", "bound"]);
    // T1 is half the lease, but busybox's udhcpc (1.35) was seen to renew a 10 s lease
    // 15 s after `bound`, as if it were 30 s: allow half of 30 s plus the whole lease.
    let deadline = Instant::now() + Duration::from_secs(15 + u64::from(min.max(30)));
    let mut step = Duration::from_millis(50);
    while !events().iter().any(|e| e == "renew") && Instant::now() < deadline {
        std::thread::sleep(step);
        step = (step * 2).min(Duration::from_millis(500));
    }
    assert!(
        events().iter().any(|e| e == "renew"),
        "no renewal within 45 s: {:?}",
        events()
    );
    let renewed = control::dhcp_client::read_lease(&client.dir).unwrap();
    assert_eq!((renewed.ip, renewed.lease_secs), (v4("10.20.1.10"), min));
    let c = lab
        .wait_counters(eni, Duration::from_secs(2), |c| c.dhcp_replies >= 3)
        .unwrap();
    assert!(
        c.dhcp_replies >= 3,
        "the renewal's REQUEST was answered: {c:?}"
    );
    assert_eq!(c.drops[DropReason::NaclDeny.index()], 0);
    assert_eq!(c.drops[DropReason::SgNoMatch.index()], 0);
    let (addr, _, _) = kernel_view(&lab, eni);
    assert!(addr.contains("inet 10.20.1.10/24"), "{addr}");
}

/// `vpcctl up` runs udhcpc in the namespace of each DHCP ENI (the default), reports the
/// lease and leaves the client running; a static ENI next to it keeps vpcd's addressing.
/// `vpcctl down` ends the client by PID and removes its `/etc/netns` resolv.conf.
#[test]
fn vpcctl_up_runs_dhcp_clients() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let dir = Scratch::new(&format!("{prefix}-dhcp"))
        .unwrap()
        .keep_on_panic(true);
    let (dyn_ns, static_ns) = (prefix.ns_name("dyn"), prefix.ns_name("fixed"));
    let topo = format!(
        r#"
[lab]
region = "eu-west-1"

[[vpc]]
id = "vpc-a"
cidr = "10.40.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-a"
cidr = "10.40.1.0/24"

[[eni]]
id = "eni-dyn"
subnet = "subnet-a"
private_ip = "10.40.1.10"
netns = "{dyn_ns}"

[[eni]]
id = "eni-fixed"
subnet = "subnet-a"
private_ip = "10.40.1.11"
netns = "{static_ns}"
addressing = "static"
"#
    );
    let file = dir.path().join("topology.toml");
    std::fs::write(&file, &topo).unwrap();
    let ctl = Vpcctl::new(dir.path().join("run").join("vpcd.sock")).unwrap();
    let mut up = ctl.up(&file).unwrap();
    let out = up.up_stdout().to_string();
    assert!(
        out.contains("eni-dyn: DHCP lease 10.40.1.10/24 via 10.40.1.1 (dns 10.40.0.2; domain eu-west-1.compute.internal; mtu 9001; 3600 s)"),
        "{out}"
    );
    assert!(!out.contains("eni-fixed: DHCP"), "{out}");
    let addr = |eni: &str| {
        let o = ctl
            .run(
                &[
                    "exec", eni, "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0",
                ],
                common::CMD,
            )
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(addr("eni-dyn").contains("inet 10.40.1.10/24"));
    assert!(addr("eni-fixed").contains("inet 10.40.1.11/24"));
    // The two talk once configured: the DHCP one pings the static one.
    let o = ctl
        .run(
            &[
                "exec",
                "eni-dyn",
                "--",
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                "10.40.1.11",
            ],
            common::CMD,
        )
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // The client runs on, recorded for `down`; `vpcctl exec` sees the lease's resolver.
    let pid: u32 = std::fs::read_to_string(dir.path().join("run/dhcp/eni-dyn/udhcpc.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(control::lab::pid_alive(pid));
    let o = ctl
        .run(
            &["exec", "eni-dyn", "--", "cat", "/etc/resolv.conf"],
            common::CMD,
        )
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "search eu-west-1.compute.internal\nnameserver 10.40.0.2\n"
    );
    assert!(up.down().unwrap().status.success());
    assert!(!control::lab::pid_alive(pid), "down ended udhcpc {pid}");
    assert!(!control::dhcp_client::netns_etc_dir(&dyn_ns).exists());
}
