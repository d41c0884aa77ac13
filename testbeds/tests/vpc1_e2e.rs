//! End-to-end tests of the first VPC issue: real namespaces, real TAPs through `vpcd`, real
//! clients (ping, busybox arping, socat, tcpdump) and the real `vpcctl` binary.
//!
//! Each test runs its own `vpcd` on its own run prefix ([`testbeds::Lab`]), so tests run in
//! parallel. Waits use readiness signals (a ping's first reply, tcpdump's `listening on`) or
//! poll a counter with a deadline; never a fixed sleep. All foreign addresses are documentation
//! ranges that vpcd drops, so nothing ever leaves the namespaces.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::time::{Duration, Instant};

use dataplane::observe::stats::StatsReport;
use dataplane::vpc::verdict::DropReason;
use testbeds::netns::parse_ping_summary;
use testbeds::process::Stream;
use testbeds::{Lab, MacAddr, Netns, NsChild, RunPrefix, Scratch, Vpcctl};

mod common;
use common::{ip, ping, ping_unanswered, start, sysctl, CMD, COUNTER_WAIT};

/// The demo topology: subnet-web 10.0.1.0/24 (eni-web1 .10, eni-web2 .11 + .12), subnet-app
/// 10.0.2.0/24 (eni-app1 .20), main table with `203.0.113.0/24 → blackhole`.
const DEMO: &str = include_str!("../../examples/demo.toml");

/// A third subnet with an appliance ENI (source/destination check off) in namespace `fw`.
const FW: &str = r#"
[[subnet]]
id = "subnet-fw"
vpc = "vpc-demo"
cidr = "10.0.3.0/24"

[[eni]]
id = "eni-fw"
subnet = "subnet-fw"
private_ip = "10.0.3.10"
source_dest_check = false
netns = "fw"
"#;

/// The demo plus [`FW`].
fn demo_with_fw() -> String {
    format!("{DEMO}{FW}")
}

/// The demo plus [`FW`], with subnet-web on its own table that sends 10.0.2.0/24 to eni-fw.
fn demo_with_middlebox() -> String {
    let web = "cidr = \"10.0.1.0/24\"\n";
    assert_eq!(DEMO.matches(web).count(), 1, "demo.toml changed shape");
    let demo = DEMO.replace(web, &format!("{web}route_table = \"rtb-web\"\n"));
    format!(
        "{demo}{FW}
[[route_table]]
id = \"rtb-web\"
vpc = \"vpc-demo\"
routes = [{{ destination = \"10.0.2.0/24\", target = \"eni-fw\" }}]
"
    )
}

/// The `ttl=` values of ping's reply lines.
fn reply_ttls(stdout: &str) -> Vec<u8> {
    stdout
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.split("ttl=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect()
}

/// `busybox arping -c 2 -w 3 -I eth0 TARGET` in `ns`: (answered, stdout).
fn arping(ns: &Netns, target: &str) -> (bool, String) {
    let out = ns
        .exec(
            &[
                "busybox", "arping", "-c", "2", "-w", "3", "-I", "eth0", target,
            ],
            CMD,
        )
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout)
}

/// Starts `tcpdump -c COUNT` on eth0 of `ns` with `filter` and waits until it captures.
fn tcpdump(ns: &Netns, count: u32, filter: &str) -> NsChild {
    let c = count.to_string();
    let mut child = ns
        .spawn(&["tcpdump", "-n", "-l", "-p", "-i", "eth0", "-c", &c, filter])
        .unwrap();
    child
        .wait_for_line(
            |s, l| s == Stream::Stderr && l.contains("listening on"),
            CMD,
        )
        .unwrap();
    child
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Names of the TUN/TAP devices in the host namespace.
fn host_taps() -> String {
    testbeds::process::run_ok(&["ip", "-o", "link", "show", "type", "tun"], CMD).unwrap()
}

// --- 1. reachability, the router's ping, TTL ---------------------------------------------

#[test]
fn subnets_reach_each_other_and_the_router_without_ttl_decrement() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    for (from, to) in [
        ("eni-web1", "10.0.2.20"),
        ("eni-app1", "10.0.1.10"),
        ("eni-app1", "10.0.1.12"), // web2's secondary address
        ("eni-web1", "10.0.1.11"), // same subnet, layer 2
        ("eni-web2", "10.0.1.10"),
    ] {
        let (tx, rx) = lab.ping(from, ip(to), 3).unwrap();
        assert_eq!((tx, rx), (3, 3), "{from} -> {to}");
    }

    // The VPC router answers at .1 of the own subnet and of the other subnet, and counts it.
    let before = lab.counters("eni-web1").unwrap().icmp_echo_replies;
    for router in ["10.0.1.1", "10.0.2.1"] {
        let (r, out) = ping(
            lab.ns("eni-web1"),
            &["-c", "2", "-i", "0.2", "-W", "2", router],
        );
        assert!(r.all_received(), "{router}: {out}");
        assert_eq!(
            reply_ttls(&out),
            [64, 64],
            "router replies with TTL 64: {out}"
        );
    }
    assert_eq!(
        lab.counters("eni-web1").unwrap().icmp_echo_replies,
        before + 4
    );

    // app1's kernel sends TTL 64; a reply routed across subnets arrives with TTL 64.
    let app1 = lab.ns("eni-app1");
    let ttl = app1
        .exec_ok(&["sysctl", "-n", "net.ipv4.ip_default_ttl"], CMD)
        .unwrap();
    assert_eq!(ttl.trim(), "64");
    let (r, out) = ping(
        lab.ns("eni-web1"),
        &["-c", "3", "-i", "0.2", "-W", "2", "10.0.2.20"],
    );
    assert!(r.all_received(), "{out}");
    assert_eq!(reply_ttls(&out), [64, 64, 64], "{out}");
    // And an odd TTL passes unchanged too (no decrement, no reset to 64).
    sysctl(app1, "net.ipv4.ip_default_ttl=50");
    let (r, out) = ping(
        lab.ns("eni-web1"),
        &["-c", "2", "-i", "0.2", "-W", "2", "10.0.2.20"],
    );
    assert!(r.all_received(), "{out}");
    assert_eq!(reply_ttls(&out), [50, 50], "{out}");

    // Dropping the lab removes its namespaces and TAPs.
    let prefix = lab.prefix().as_str().to_owned();
    let names: Vec<String> = ["eni-web1", "eni-web2", "eni-app1"]
        .iter()
        .map(|e| lab.ns(e).name().to_owned())
        .collect();
    drop(lab);
    assert!(names.iter().all(|n| !netns_exists(n)), "{names:?}");
    assert!(!host_taps().contains(&prefix));
}

// --- 2. bulk TCP across subnets ----------------------------------------------------------

#[test]
fn tcp_100mb_across_subnets_is_intact() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    let bytes = 100 * 1000 * 1000;
    let r = testbeds::tcp_transfer(
        lab.ns("eni-app1"),
        lab.ip("eni-app1"),
        9100,
        lab.ns("eni-web1"),
        bytes,
    )
    .unwrap();
    assert_eq!(r.bytes_received, bytes);
    assert!(r.intact(), "{r:?}");
    eprintln!(
        "100 MB web1 -> app1 through vpcd in {:?} ({:.2} Gbit/s)",
        r.elapsed,
        r.gbps()
    );
    // It went through vpcd: app1's port carried at least the payload.
    let c = lab.counters("eni-app1").unwrap();
    assert!(c.tx_bytes >= bytes, "{c:?}");
    assert_eq!(
        c.total_drops(),
        c.drops[DropReason::Multicast.index()],
        "{c:?}"
    );
}

// --- 3. ARP ------------------------------------------------------------------------------

#[test]
fn arp_answers_the_router_and_subnet_neighbours_only() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    let web1 = lab.ns("eni-web1");
    let router_mac = lab.router_mac("eni-web1").unwrap();
    let web2_mac = lab.eni_mac("eni-web2").unwrap();
    assert_ne!(router_mac, web2_mac);
    // The TAP's kernel end carries the ENI's MAC.
    assert_eq!(
        lab.ns("eni-web2").link_mac("eth0").unwrap(),
        web2_mac,
        "TAP MAC"
    );

    // The kernel's own resolution (ping fills the neighbour table).
    for dst in ["10.0.1.1", "10.0.1.11", "10.0.1.12", "10.0.2.20"] {
        let (tx, rx) = lab.ping("eni-web1", ip(dst), 1).unwrap();
        assert_eq!((tx, rx), (1, 1), "{dst}");
    }
    let neigh = web1.neigh("eth0").unwrap();
    let mac_of = |a: &str| neigh.iter().find(|n| n.ip == ip(a)).and_then(|n| n.mac);
    assert_eq!(mac_of("10.0.1.1"), Some(router_mac), "{neigh:?}");
    assert_eq!(mac_of("10.0.1.11"), Some(web2_mac), "{neigh:?}");
    assert_eq!(
        mac_of("10.0.1.12"),
        Some(web2_mac),
        "secondary IP: {neigh:?}"
    );
    assert!(
        neigh.iter().all(|n| n.ip != ip("10.0.2.20")),
        "other subnets are reached via the router, never resolved: {neigh:?}"
    );

    // arping (all at once): answered for the router and the neighbour, with their MACs; not
    // for an unassigned in-subnet address, another subnet's ENI, or another subnet's router.
    let before = lab.counters("eni-web1").unwrap();
    let probes = [
        ("10.0.1.1", Some(router_mac)),
        ("10.0.1.11", Some(web2_mac)),
        ("10.0.1.99", None),
        ("10.0.2.20", None),
        ("10.0.2.1", None),
    ];
    std::thread::scope(|s| {
        let runs: Vec<_> = probes
            .iter()
            .map(|&(t, mac)| s.spawn(move || (t, mac, arping(web1, t))))
            .collect();
        for h in runs {
            let (t, mac, (answered, out)) = h.join().unwrap();
            match mac {
                Some(mac) => {
                    assert!(answered, "{t}: {out}");
                    assert!(
                        out.contains(&format!("[{mac}]")),
                        "{t} answered by {mac}: {out}"
                    );
                }
                None => {
                    assert!(!answered, "{t} must get no ARP answer: {out}");
                    assert!(out.contains("Received 0 response"), "{t}: {out}");
                }
            }
        }
    });
    let c = lab
        .wait_counters("eni-web1", COUNTER_WAIT, |c| {
            c.arp_ignored >= before.arp_ignored + 6
        })
        .unwrap();
    assert!(c.arp_replies >= before.arp_replies + 4, "{c:?}");
    assert_eq!(c.arp_ignored, before.arp_ignored + 6, "{c:?}");

    // The kernel gives up on the unassigned address: no MAC, INCOMPLETE or FAILED.
    let r = ping_unanswered(web1, "10.0.1.99", 1, &[]);
    assert_eq!(r.received, 0);
    let neigh = web1.neigh("eth0").unwrap();
    let e = neigh
        .iter()
        .find(|n| n.ip == ip("10.0.1.99"))
        .unwrap_or_else(|| panic!("no entry for 10.0.1.99: {neigh:?}"));
    assert_eq!(e.mac, None, "{e:?}");
    assert!(
        e.state.contains("INCOMPLETE") || e.state.contains("FAILED"),
        "{e:?}"
    );
}

// --- 4. source/destination check ---------------------------------------------------------

#[test]
fn spoofed_source_ip_is_dropped_and_counted() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    let web1 = lab.ns("eni-web1");
    web1.ip(&["addr", "add", "10.0.1.77/32", "dev", "eth0"])
        .unwrap();
    let before = lab.drops("eni-web1", DropReason::SourceIpSpoofed).unwrap();
    let app1_tx = lab.counters("eni-app1").unwrap().tx_packets;
    let web2_tx = lab.counters("eni-web2").unwrap().tx_packets;

    // Routed (other subnet) and layer 2 (same subnet): both are checked.
    let r = ping_unanswered(web1, "10.0.2.20", 3, &["-I", "10.0.1.77"]);
    assert_eq!((r.transmitted, r.received), (3, 0));
    let r = ping_unanswered(web1, "10.0.1.11", 2, &["-I", "10.0.1.77"]);
    assert_eq!((r.transmitted, r.received), (2, 0));
    // UDP too (socat binds the foreign source address).
    web1.exec_ok(
        &[
            "sh",
            "-c",
            "echo spoof | socat -u STDIN UDP4-SENDTO:10.0.2.20:9999,bind=10.0.1.77",
        ],
        CMD,
    )
    .unwrap();
    let n = lab
        .wait_drops(
            "eni-web1",
            DropReason::SourceIpSpoofed,
            before + 6,
            COUNTER_WAIT,
        )
        .unwrap();
    assert!(n >= before + 6, "src_ip_spoofed {before} -> {n}");
    assert_eq!(
        lab.counters("eni-app1").unwrap().tx_packets,
        app1_tx,
        "nothing delivered to app1"
    );
    assert_eq!(
        lab.counters("eni-web2").unwrap().tx_packets,
        web2_tx,
        "nothing delivered to web2"
    );

    // The ENI's own address still works from the same namespace.
    let (r, out) = ping(
        web1,
        &["-c", "1", "-W", "2", "-I", "10.0.1.10", "10.0.2.20"],
    );
    assert!(r.all_received(), "{out}");
}

#[test]
fn spoofed_source_mac_is_dropped_and_counted() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    let web2 = lab.ns("eni-web2");
    let real = lab.eni_mac("eni-web2").unwrap();
    let (tx, rx) = lab.ping("eni-web2", ip("10.0.2.20"), 1).unwrap();
    assert_eq!((tx, rx), (1, 1), "reachable with its own MAC");

    let fake: MacAddr = "02:00:5e:00:99:99".parse().unwrap();
    web2.ip(&["link", "set", "dev", "eth0", "address", &fake.to_string()])
        .unwrap();
    assert_eq!(web2.link_mac("eth0").unwrap(), fake);
    let before = lab.drops("eni-web2", DropReason::SourceMacSpoofed).unwrap();
    let app1_tx = lab.counters("eni-app1").unwrap().tx_packets;
    let web1_tx = lab.counters("eni-web1").unwrap().tx_packets;

    let r = ping_unanswered(web2, "10.0.2.20", 3, &[]);
    assert_eq!((r.transmitted, r.received), (3, 0));
    let r = ping_unanswered(web2, "10.0.1.10", 2, &[]);
    assert_eq!((r.transmitted, r.received), (2, 0));
    // ARP from the spoofed MAC is refused as well.
    let (answered, out) = arping(web2, "10.0.1.1");
    assert!(!answered, "{out}");

    let n = lab
        .wait_drops(
            "eni-web2",
            DropReason::SourceMacSpoofed,
            before + 7,
            COUNTER_WAIT,
        )
        .unwrap();
    assert!(n >= before + 7, "src_mac_spoofed {before} -> {n}");
    assert_eq!(
        lab.counters("eni-app1").unwrap().tx_packets,
        app1_tx,
        "nothing delivered to app1"
    );
    assert_eq!(
        lab.counters("eni-web1").unwrap().tx_packets,
        web1_tx,
        "nothing delivered to web1"
    );

    // Back to the ENI's MAC: traffic flows again.
    web2.ip(&["link", "set", "dev", "eth0", "address", &real.to_string()])
        .unwrap();
    let (tx, rx) = lab.ping("eni-web2", ip("10.0.2.20"), 1).unwrap();
    assert_eq!((tx, rx), (1, 1));
}

#[test]
fn source_dest_check_off_may_send_a_foreign_source() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&demo_with_fw());
    let fw = lab.ns("eni-fw");
    fw.ip(&["addr", "add", "10.0.1.77/32", "dev", "eth0"])
        .unwrap();
    let app1_before = lab.counters("eni-app1").unwrap();
    let capture = tcpdump(
        lab.ns("eni-app1"),
        3,
        "icmp[icmptype] == icmp-echo and src host 10.0.1.77",
    );
    let mut capture = capture;

    // Requests are delivered; app1's replies to 10.0.1.77 have nowhere to go.
    let r = ping_unanswered(fw, "10.0.2.20", 3, &["-I", "10.0.1.77"]);
    assert_eq!((r.transmitted, r.received), (3, 0));
    let got = capture.wait_ok(CMD).unwrap();
    assert_eq!(
        got.lines()
            .filter(|l| l.contains("10.0.1.77 > 10.0.2.20: ICMP echo request"))
            .count(),
        3,
        "{got}"
    );
    let c = lab
        .wait_counters("eni-app1", COUNTER_WAIT, |c| {
            c.drops[DropReason::NoEniForAddress.index()]
                >= app1_before.drops[DropReason::NoEniForAddress.index()] + 3
        })
        .unwrap();
    assert!(c.tx_packets >= app1_before.tx_packets + 3, "{c:?}");
    assert_eq!(
        c.drops[DropReason::NoEniForAddress.index()],
        app1_before.drops[DropReason::NoEniForAddress.index()] + 3,
        "app1's replies: {c:?}"
    );
    assert_eq!(lab.drops("eni-fw", DropReason::SourceIpSpoofed).unwrap(), 0);
}

// --- 5. drops by reason ------------------------------------------------------------------

#[test]
fn unroutable_destinations_are_dropped_by_reason() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    let web1 = lab.ns("eni-web1");
    let web2_mac = lab.eni_mac("eni-web2").unwrap();
    // Resolve the router first, so every frame below is an echo request.
    let (tx, rx) = lab.ping("eni-web1", ip("10.0.1.1"), 1).unwrap();
    assert_eq!((tx, rx), (1, 1));
    // Layer-2 cases: an in-subnet address that points at web2's MAC (web2 does not own it),
    // and one that points at a MAC no ENI has.
    web1.ip(&[
        "neigh",
        "replace",
        "10.0.1.200",
        "lladdr",
        &web2_mac.to_string(),
        "dev",
        "eth0",
    ])
    .unwrap();
    web1.ip(&[
        "neigh",
        "replace",
        "10.0.1.201",
        "lladdr",
        "02:00:5e:00:00:42",
        "dev",
        "eth0",
    ])
    .unwrap();

    let cases = [
        ("198.51.100.7", DropReason::NoRoute),
        ("203.0.113.9", DropReason::Blackhole),
        ("10.0.2.99", DropReason::NoEniForAddress),
        ("10.0.1.200", DropReason::DestinationNotOwned),
        ("10.0.1.201", DropReason::UnknownDestinationMac),
    ];
    let before = lab.counters("eni-web1").unwrap();
    let others = [
        lab.counters("eni-web2").unwrap().tx_packets,
        lab.counters("eni-app1").unwrap().tx_packets,
    ];
    std::thread::scope(|s| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(dst, _)| s.spawn(move || (dst, ping_unanswered(web1, dst, 2, &[]))))
            .collect();
        for h in runs {
            let (dst, r) = h.join().unwrap();
            assert_eq!((r.transmitted, r.received), (2, 0), "{dst}");
        }
    });
    let c = lab
        .wait_counters("eni-web1", COUNTER_WAIT, |c| {
            cases
                .iter()
                .all(|(_, why)| c.drops[why.index()] >= before.drops[why.index()] + 2)
        })
        .unwrap();
    for (dst, why) in cases {
        assert_eq!(
            c.drops[why.index()],
            before.drops[why.index()] + 2,
            "{dst}: {} in {:?}",
            why.name(),
            c.drop_map()
        );
    }
    // Nothing reached another ENI.
    assert_eq!(
        [
            lab.counters("eni-web2").unwrap().tx_packets,
            lab.counters("eni-app1").unwrap().tx_packets,
        ],
        others
    );
    // The engine-wide counters agree.
    let engine = lab.show().unwrap().engine;
    for (_, why) in cases {
        assert!(engine.drops[why.index()] >= 2, "{}", why.name());
    }
}

// --- 6. rejected applies under traffic ---------------------------------------------------

#[test]
fn invalid_applies_change_nothing_while_traffic_flows() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let mut lab = start(DEMO);
    let before: StatsReport = lab.show().unwrap();
    let mut pinger = lab
        .ns("eni-web1")
        .spawn(&[
            "ping",
            "-n",
            "-i",
            "0.05",
            "-c",
            "100",
            "-W",
            "2",
            "10.0.2.20",
        ])
        .unwrap();
    // Traffic is flowing once the first reply is in.
    pinger
        .wait_for_line(|s, l| s == Stream::Stdout && l.contains("bytes from"), CMD)
        .unwrap();

    // 1. Invalid: an ENI address outside its subnet. Validation lists the problem.
    let outside = DEMO.replace("private_ip = \"10.0.2.20\"", "private_ip = \"10.0.3.20\"");
    assert_ne!(outside, DEMO);
    let errors = lab.apply(&outside).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("eni-app1.private_ip") && e.contains("outside subnet-app")),
        "{errors:?}"
    );

    // 2. Valid for the control plane, rejected by vpcd: a new ENI whose namespace does not
    //    exist (sent as compiled, bypassing the lab's namespace creation).
    let ghost_ns = lab.prefix().ns_name("nonexistent");
    let ghost = format!(
        "{DEMO}\n[[eni]]\nid = \"eni-ghost\"\nsubnet = \"subnet-app\"\nprivate_ip = \"10.0.2.30\"\nnetns = \"nonexistent\"\n"
    );
    let (_, config) = lab.compile(&ghost).unwrap();
    assert!(!netns_exists(&ghost_ns));
    let errors = lab.apply_config(&config).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("eni-ghost")
            && e.contains(&ghost_ns)
            && e.contains("does not exist")),
        "{errors:?}"
    );

    // Nothing changed: epoch, configuration and TAPs.
    let after = lab.show().unwrap();
    assert_eq!(after.epoch, before.epoch);
    assert_eq!(after.config, before.config);
    let taps = |r: &StatsReport| r.enis.iter().map(|e| e.tap.clone()).collect::<Vec<_>>();
    assert_eq!(taps(&after), taps(&before));
    assert!(
        !host_taps().contains(lab.prefix().as_str()),
        "no TAP left behind"
    );

    // The rejections happened while the ping ran, and it lost nothing.
    assert!(
        pinger.try_wait().unwrap().is_none(),
        "ping finished before the applies; the test proves nothing"
    );
    let status = pinger.wait_timeout(Duration::from_secs(30)).unwrap();
    let out = pinger.stdout_text();
    assert!(status.success(), "{out}");
    let r = parse_ping_summary(&out).unwrap();
    assert_eq!((r.transmitted, r.received), (100, 100), "{out}");

    // And a transfer after them is intact.
    let t = testbeds::tcp_transfer(
        lab.ns("eni-app1"),
        lab.ip("eni-app1"),
        9106,
        lab.ns("eni-web2"),
        10 * 1000 * 1000,
    )
    .unwrap();
    assert!(t.intact(), "{t:?}");
}

// --- 7. valid re-applies take effect at once ---------------------------------------------

#[test]
fn middlebox_route_takes_effect_at_once_and_unchanged_enis_keep_their_taps() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let mut lab = start(&demo_with_fw());
    let fw = lab.ns("eni-fw").clone();
    sysctl(&fw, "net.ipv4.conf.all.send_redirects=0");
    sysctl(&fw, "net.ipv4.conf.eth0.send_redirects=0");
    sysctl(&fw, "net.ipv4.ip_forward=1");
    let web1_ip = lab.ip("eni-web1").to_string();
    let app1_ip = lab.ip("eni-app1").to_string();
    let through_fw = format!("icmp and src host {web1_ip} and dst host {app1_ip}");

    // Epoch 1: direct path, the appliance sees nothing.
    let epoch1 = lab.show().unwrap().epoch;
    let fw0 = lab.counters("eni-fw").unwrap();
    let (tx, rx) = lab.ping("eni-web1", ip(&app1_ip), 3).unwrap();
    assert_eq!((tx, rx), (3, 3));
    assert_eq!(lab.counters("eni-fw").unwrap().tx_packets, fw0.tx_packets);

    let taps1: Vec<_> = ["eni-web1", "eni-app1", "eni-fw"]
        .iter()
        .map(|e| lab.tap(e).unwrap().unwrap())
        .collect();
    let web1_c1 = lab.counters("eni-web1").unwrap();

    // Epoch 2: subnet-web's table sends 10.0.2.0/24 to eni-fw.
    let epoch2 = lab.apply(&demo_with_middlebox()).unwrap();
    assert_eq!(epoch2, epoch1 + 1);
    let taps2: Vec<_> = ["eni-web1", "eni-app1", "eni-fw"]
        .iter()
        .map(|e| lab.tap(e).unwrap().unwrap())
        .collect();
    assert_eq!(taps2, taps1, "unchanged ENIs keep their TAPs");
    let web1_c2 = lab.counters("eni-web1").unwrap();
    assert!(
        web1_c2.rx_packets >= web1_c1.rx_packets && web1_c2.tx_packets >= web1_c1.tx_packets,
        "counters carry over: {web1_c1:?} -> {web1_c2:?}"
    );

    let fw1 = lab.counters("eni-fw").unwrap();
    let mut capture = tcpdump(&fw, 3, &through_fw);
    let (tx, rx) = lab.ping("eni-web1", ip(&app1_ip), 3).unwrap();
    assert_eq!((tx, rx), (3, 3), "forwarded by the appliance");
    let got = capture.wait_ok(CMD).unwrap();
    assert_eq!(
        got.lines().filter(|l| l.contains("echo request")).count(),
        3,
        "{got}"
    );
    let fw2 = lab.counters("eni-fw").unwrap();
    assert!(fw2.tx_packets >= fw1.tx_packets + 3, "{fw1:?} -> {fw2:?}");
    assert!(fw2.rx_packets >= fw1.rx_packets + 3, "{fw1:?} -> {fw2:?}");
    let web1_c3 = lab.counters("eni-web1").unwrap();
    assert!(
        web1_c3.rx_packets >= web1_c2.rx_packets + 3,
        "keeps counting up"
    );
    // The appliance is the only path now: with forwarding off, web1 cannot reach app1.
    sysctl(&fw, "net.ipv4.ip_forward=0");
    let r = ping_unanswered(lab.ns("eni-web1"), &app1_ip, 2, &[]);
    assert_eq!(r.received, 0, "traffic still bypasses the appliance");

    // Epoch 3: the route is gone; the direct path is back at once (forwarding still off).
    let epoch3 = lab.apply(&demo_with_fw()).unwrap();
    assert_eq!(epoch3, epoch2 + 1);
    let fw3 = lab.counters("eni-fw").unwrap();
    let (tx, rx) = lab.ping("eni-web1", ip(&app1_ip), 3).unwrap();
    assert_eq!((tx, rx), (3, 3), "direct path restored");
    assert_eq!(lab.counters("eni-fw").unwrap().tx_packets, fw3.tx_packets);
    let taps3: Vec<_> = ["eni-web1", "eni-app1", "eni-fw"]
        .iter()
        .map(|e| lab.tap(e).unwrap().unwrap())
        .collect();
    assert_eq!(taps3, taps1);
}

// --- 8. vpcctl verbs ---------------------------------------------------------------------

#[test]
fn vpcctl_up_exec_show_down() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let dir = Scratch::new(&format!("{prefix}-vpcctl"))
        .unwrap()
        .keep_on_panic(true);
    let names: Vec<(String, String)> = ["web1", "web2", "app1", "pub1", "priv1", "shared1"]
        .iter()
        .map(|n| (format!("eni-{n}"), prefix.ns_name(n)))
        .collect();
    let mut topo = DEMO.to_owned();
    for (eni, ns) in &names {
        let short = &eni["eni-".len()..];
        let from = format!("netns = \"{short}\"");
        assert_eq!(topo.matches(&from).count(), 1, "{from}");
        topo = topo.replace(&from, &format!("netns = \"{ns}\""));
    }
    // The internet segment's and the internet hosts' namespaces too: nothing global.
    let internet = prefix.ns_name("internet");
    topo.push_str(&format!("\n[internet]\nnetns = \"{internet}\"\n"));
    let mut hosts = vec![internet.clone()];
    for host in ["client", "far", "bogon"] {
        let from = format!("[[internet_host]]\nid = \"{host}\"\n");
        assert_eq!(topo.matches(&from).count(), 1, "{from}");
        let ns = prefix.ns_name(host);
        topo = topo.replace(&from, &format!("{from}netns = \"{ns}\"\n"));
        hosts.push(ns);
    }
    let file = dir.join("topology.toml");
    std::fs::write(&file, &topo).unwrap();
    let socket = dir.join("run").join("vpcd.sock");
    let ctl = Vpcctl::new(&socket).unwrap();
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let mut up = ctl.up(&file).unwrap();
    let vpcd_pid = up
        .vpcd_pid()
        .unwrap_or_else(|| panic!("{}", up.up_stdout()));
    assert!(socket.exists());
    for (_, ns) in &names {
        assert!(netns_exists(ns), "{ns}");
        assert!(up.up_stdout().contains(ns.as_str()), "{}", up.up_stdout());
    }

    // exec: the command's exit status is passed through.
    let out = ctl
        .run(
            &[
                "exec",
                "eni-web1",
                "--",
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                "10.0.2.20",
            ],
            CMD,
        )
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 received"), "{}", text(&out));
    let out = ctl.run(&["exec", "eni-web1", "--", "false"], CMD).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = ctl
        .run(&["exec", "eni-app1", "--", "sh", "-c", "exit 7"], CMD)
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    // vpcctl's own failure is a usage error (2, VPC-8); under --json it is JSON.
    let out = ctl.run(&["exec", "eni-nope", "--", "true"], CMD).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no ENI or internet host `eni-nope`"),
        "{}",
        text(&out)
    );
    let out = ctl
        .run(&["exec", "--json", "eni-nope", "--", "true"], CMD)
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["error"].as_str().unwrap().contains("eni-nope"), "{v}");
    // exec --json captures the command's output; the status is still the command's.
    let out = ctl
        .run(
            &[
                "exec",
                "--json",
                "eni-app1",
                "--",
                "sh",
                "-c",
                "echo hi; exit 3",
            ],
            CMD,
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["ok"], &v["status"], &v["stdout"], &v["target"]),
        (
            &serde_json::json!(false),
            &serde_json::json!(3),
            &serde_json::json!("hi\n"),
            &serde_json::json!("eni-app1")
        ),
        "{v}"
    );
    // An internet host by name: its HTTP service names the client it saw.
    for ns in &hosts {
        assert!(netns_exists(ns), "{ns}");
    }
    let out = ctl
        .run(
            &[
                "exec",
                "client",
                "--",
                "curl",
                "-sS",
                "-m",
                "5",
                "http://127.0.0.1/",
            ],
            CMD,
        )
        .unwrap();
    assert!(
        out.status.success() && text(&out).starts_with("client saw 127.0.0.1:"),
        "{}",
        text(&out)
    );

    // show: ENIs, namespaces and counters, as text and as JSON.
    let out = ctl.run(&["show"], CMD).unwrap();
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    for needle in [
        "epoch 1",
        "RX PKTS/BYTES",
        "DROPS",
        "203.0.113.0/24",
        "Engine",
    ] {
        assert!(shown.contains(needle), "{needle}: {shown}");
    }
    for (eni, ns) in &names {
        let row = shown
            .lines()
            .find(|l| l.starts_with(eni.as_str()))
            .unwrap_or_else(|| panic!("{eni}: {shown}"));
        assert!(row.contains(&format!("{ns}/eth0")), "{row}");
    }
    let out = ctl.run(&["show", "--json"], CMD).unwrap();
    let report: StatsReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.epoch, 1);
    let web1 = report.enis.iter().find(|e| e.id == "eni-web1").unwrap();
    assert!(
        web1.counters.rx_packets > 0 && web1.counters.tx_packets > 0,
        "{web1:?}"
    );
    assert!(web1.tap.is_some());

    // An invalid apply through vpcctl changes nothing.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, topo.replace("10.0.2.20", "10.0.9.20")).unwrap();
    let out = ctl.run(&["apply", &bad.to_string_lossy()], CMD).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing was changed"), "{}", text(&out));
    let out = ctl.run(&["show", "--json"], CMD).unwrap();
    let report: StatsReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.epoch, 1);
    // The same under --json: the problems as objects, exit 1.
    let out = ctl
        .run(&["apply", "--json", &bad.to_string_lossy()], CMD)
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["ok"], &v["epoch"]),
        (&serde_json::json!(false), &serde_json::Value::Null),
        "{v}"
    );
    assert_eq!(v["errors"][0]["resource"], "eni-app1", "{v}");
    assert_eq!(v["errors"][0]["field"], "private_ip", "{v}");

    // up --json again: vpcd already runs, nothing to create, the file applied as epoch 2.
    let out = ctl
        .run(&["up", "--json", &file.to_string_lossy()], CMD)
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["epoch"], 2, "{v}");
    assert_eq!(v["vpcd"]["started"], false, "{v}");
    assert_eq!(v["namespaces_created"], serde_json::json!([]), "{v}");
    assert!(v["summary"].as_str().unwrap().contains("ENIs"), "{v}");

    // down: vpcd exits, its socket and the namespaces `up` created are gone.
    let out = up.down().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for ns in names.iter().map(|(_, ns)| ns).chain(&hosts) {
        assert!(!netns_exists(ns), "{ns} still exists");
        assert!(
            text(&out).contains(&format!("deleted namespace {ns}")),
            "{}",
            text(&out)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while control::lab::pid_alive(vpcd_pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !control::lab::pid_alive(vpcd_pid),
        "vpcd {vpcd_pid} still runs"
    );
    assert!(!socket.exists(), "socket left behind");
    assert!(!host_taps().contains(&format!("vd{vpcd_pid:x}-")));
    // down again is harmless.
    let out = ctl.run(&["down"], CMD).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not running"), "{}", text(&out));
    let out = ctl.run(&["down", "--json"], CMD).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["ok"], &v["vpcd"]),
        (&serde_json::json!(true), &serde_json::json!("not running")),
        "{v}"
    );
    // Nothing listens any more: asking vpcd is a system error (2).
    let out = ctl.run(&["show"], CMD).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

// --- apply consistency and repair ----------------------------------------------------------
//
// These fail against the current daemon (dataplane/src/daemon.rs): an ENI's TAP is kept or
// replaced purely on a comparison of configurations, and an apply that fails after commit is
// answered as a rejection.

/// Polls `done` until it holds or `timeout` passes; returns whether it held.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The demo plus `eni-y` (10.0.2.31) in namespace `y`, addressed by vpcd itself
/// (`static`): these tests are about vpcd finishing the attachment, address included.
fn demo_with_eni_y() -> String {
    format!(
        "{DEMO}\n[[eni]]\nid = \"eni-y\"\nsubnet = \"subnet-app\"\nprivate_ip = \"10.0.2.31\"\nnetns = \"y\"\naddressing = \"static\"\n"
    )
}

/// Namespace `y` of `lab`, already holding an `eth0` (a veth), so that attaching an ENI there
/// fails after vpcd has committed the configuration (the rename of its TAP to `eth0`).
fn namespace_with_clashing_eth0(lab: &Lab) -> Netns {
    let y = lab.prefix().netns("y").unwrap();
    y.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
    ])
    .unwrap();
    y
}

#[test]
fn an_apply_answered_as_rejected_leaves_the_running_state_unchanged() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    let _y = namespace_with_clashing_eth0(&lab);
    let (_, config) = lab.compile(&demo_with_eni_y()).unwrap();
    let before = lab.show().unwrap();
    let answer = lab.apply_config(&config);
    let now = lab.show().unwrap();
    match answer {
        Ok(epoch) => assert_eq!(now.epoch, epoch),
        Err(errors) => {
            // `ClientError::Rejected`: "vpcd refused the request; the running configuration
            // is unchanged" -- and `vpcctl apply` prints exactly that.
            assert_eq!(
                (now.epoch, &now.config),
                (before.epoch, &before.config),
                "vpcd answered `rejected` ({errors:?}) but now runs epoch {} with {} ENIs",
                now.epoch,
                now.config.enis.len()
            );
        }
    }
}

#[test]
fn reapply_finishes_an_attachment_once_its_cause_is_fixed() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(DEMO);
    let y = namespace_with_clashing_eth0(&lab);
    let (_, config) = lab.compile(&demo_with_eni_y()).unwrap();
    let first = lab.apply_config(&config);
    assert!(first.is_err(), "the clash is reported: {first:?}");
    // Fix what the error named and apply the same configuration again.
    y.ip(&["link", "del", "eth0"]).unwrap();
    let epoch = lab.apply_config(&config).unwrap();
    let addrs = y.addr("eth0");
    assert!(
        matches!(&addrs, Ok(a) if a.contains(&"10.0.2.31/24".parse().unwrap())),
        "epoch {epoch} accepted, but eni-y has no working eth0: {addrs:?}; links:\n{}",
        y.ip(&["-br", "link"]).unwrap()
    );
    let (r, out) = ping(&y, &["-c", "1", "-W", "2", "10.0.2.20"]);
    assert!(r.all_received(), "{out}");
}

#[test]
fn reapply_recreates_a_lost_tap() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let mut lab = start(DEMO);
    let web2 = lab.ns("eni-web2").clone();
    // The instance side loses its interface (deleted by hand, or the namespace was recreated).
    web2.ip(&["link", "del", "eth0"]).unwrap();
    assert!(
        wait_until(COUNTER_WAIT, || lab.tap("eni-web2").unwrap().is_none()),
        "vpcd notices the lost TAP"
    );
    // Applying the topology again must bring the ENI back.
    let epoch = lab.apply(DEMO).unwrap();
    let tap = lab.tap("eni-web2").unwrap();
    assert!(
        tap.is_some(),
        "epoch {epoch} accepted, but eni-web2 stays detached"
    );
    let (tx, rx) = lab.ping("eni-web2", ip("10.0.2.20"), 1).unwrap();
    assert_eq!((tx, rx), (1, 1));
}
