//! End-to-end tests of the metrics (VPC-5 part 4): `vpcd --metrics 127.0.0.1:0` serves
//! every counter as Prometheus text at the URL on its ready line, and the values are those
//! of `vpcctl show --json` and `vpcctl stats`; the endpoint is off by default, refuses
//! non-loopback addresses, stops with vpcd, and `vpcctl up --metrics` passes it through.
//!
//! Real namespaces, TAPs, `vpcd`, `vpcctl`, ping and curl (from the host: the endpoint is
//! on the host's loopback). Every vpcd binds port 0 and the test reads the port from the
//! ready line, so parallel tests never collide. Counters are read until two scrapes agree
//! (instances may send a stray frame at any time); nothing sleeps to synchronise.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use dataplane::observe::stats::StatsReport;
use dataplane::vpc::verdict::DropReason;
use testbeds::{Error, Lab, RunPrefix, Scratch, Vpcctl, Vpcd, VpcdOptions};

mod common;
use common::{ip, ping_unanswered, start, CMD, COUNTER_WAIT};

/// Two subnets on the main table (which blackholes a documentation range), one ENI each.
const TOPOLOGY: &str = r#"
[[vpc]]
id = "vpc-m"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-main"
vpc = "vpc-m"
main = true
routes = [{ destination = "203.0.113.0/24", target = "blackhole" }]

[[subnet]]
id = "subnet-a"
vpc = "vpc-m"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-m"
cidr = "10.0.2.0/24"

[[eni]]
id = "eni-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
netns = "a"

[[eni]]
id = "eni-b"
subnet = "subnet-b"
private_ip = "10.0.2.20"
netns = "b"
"#;

fn metrics_opts(addr: &str) -> VpcdOptions {
    VpcdOptions {
        extra_args: vec!["--metrics".into(), addr.into()],
        ..VpcdOptions::default()
    }
}

/// `curl -sS -D - URL` from the host: (status code, headers, body), or curl's error.
fn curl(url: &str) -> Result<(u16, String, String), String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "5", "-D", "-", url]);
    let out = testbeds::process::run_command(cmd, &format!("curl {url}"), CMD).unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {text}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head}"));
    Ok((status, head.to_string(), body.to_string()))
}

/// The series of a Prometheus text (or `vpcctl stats` output): `name{labels}` → value.
fn series(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l:?}"));
            (k.to_string(), v.parse().unwrap_or_else(|_| panic!("{l:?}")))
        })
        .collect()
}

/// What the metrics must say for a report (the families `vpcctl show` has numbers for).
fn expected(r: &StatsReport) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    m.insert("vpcd_config_epoch".to_string(), r.epoch);
    for e in &r.enis {
        let c = &e.counters;
        let l = format!("{{eni=\"{}\"}}", e.id);
        for (name, v) in [
            ("rx_packets_total", c.rx_packets),
            ("rx_bytes_total", c.rx_bytes),
            ("tx_packets_total", c.tx_packets),
            ("tx_bytes_total", c.tx_bytes),
            ("arp_replies_total", c.arp_replies),
            ("arp_ignored_total", c.arp_ignored),
            ("icmp_echo_replies_total", c.icmp_echo_replies),
            ("dhcp_replies_total", c.dhcp_replies),
            ("dhcp_ignored_total", c.dhcp_ignored),
            ("dns_answers_total", c.dns_answers),
            ("dns_errors_total", c.dns_errors),
            ("dns_forwarded_total", c.dns_forwarded),
            ("dns_upstream_timeouts_total", c.dns_upstream_timeouts),
            ("metadata_requests_total", c.metadata_requests),
            ("metadata_errors_total", c.metadata_errors),
            ("conntrack_entries", c.conntrack_entries),
            ("conntrack_max", c.conntrack_max),
            ("attached", u64::from(e.tap.is_some())),
        ] {
            m.insert(format!("vpcd_eni_{name}{l}"), v);
        }
        // The kernel's counters of the ENI's TAP, when the report has them.
        if let Some(k) = &e.kernel {
            let k = &k.counters;
            for (name, v) in [
                ("rx_packets_total", k.rx_packets),
                ("rx_bytes_total", k.rx_bytes),
                ("tx_packets_total", k.tx_packets),
                ("tx_bytes_total", k.tx_bytes),
                ("rx_dropped_total", k.rx_dropped),
                ("tx_dropped_total", k.tx_dropped),
                ("rx_errors_total", k.rx_errors),
                ("tx_errors_total", k.tx_errors),
            ] {
                m.insert(format!("vpcd_eni_kernel_{name}{l}"), v);
            }
        }
        for reason in DropReason::ALL {
            m.insert(
                format!(
                    "vpcd_eni_drops_total{{eni=\"{}\",reason=\"{}\"}}",
                    e.id,
                    reason.name()
                ),
                c.drops[reason.index()],
            );
        }
    }
    let g = &r.engine;
    for (name, v) in [
        ("vpcd_flow_cache_hits_total", g.flow_hits),
        ("vpcd_flow_cache_misses_total", g.flow_misses),
        ("vpcd_flow_cache_evictions_total", g.flow_evicted),
        (
            "vpcd_flow_cache_stale_reclaimed_total",
            g.flow_stale_reclaimed,
        ),
        ("vpcd_flow_cache_flows", g.flows),
        ("vpcd_batches_total", g.batches),
    ] {
        m.insert(name.to_string(), v);
    }
    for reason in DropReason::ALL {
        m.insert(
            format!("vpcd_drops_total{{reason=\"{}\"}}", reason.name()),
            g.drops[reason.index()],
        );
    }
    m
}

/// Reads the metrics, `vpcctl show --json` and `vpcctl stats`, then the metrics again,
/// until the two scrapes agree (nothing moved in between); returns (scrape, show, stats).
fn quiet_snapshot(url: &str, ctl: &Vpcctl) -> (BTreeMap<String, u64>, StatsReport, String) {
    for _ in 0..50 {
        let (status, _, before) = curl(url).unwrap();
        assert_eq!(status, 200);
        let out = ctl.run(&["show", "--json"], CMD).unwrap();
        assert!(out.status.success(), "{out:?}");
        let shown: StatsReport = serde_json::from_slice(&out.stdout).unwrap();
        let out = ctl.run(&["stats"], CMD).unwrap();
        assert!(out.status.success(), "{out:?}");
        let stats = String::from_utf8_lossy(&out.stdout).into_owned();
        let (_, _, after) = curl(url).unwrap();
        if before == after {
            return (series(&before), shown, stats);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the counters never stood still for two scrapes");
}

#[test]
fn metrics_endpoint_serves_every_counter_as_show_reports_it() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let lab = Lab::start_with(TOPOLOGY, metrics_opts("127.0.0.1:0")).unwrap();
    let url = lab
        .vpcd()
        .metrics_url()
        .unwrap_or_else(|| panic!("ready line: {}", lab.vpcd().ready_line()))
        .to_string();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.strip_suffix("/metrics"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{url}"));
    assert_ne!(port, 0, "the actual port is reported");
    assert!(lab.vpcd().ready_line().starts_with("ready socket="));

    // Traffic: 5 echoes a → b (answered), 3 into the blackhole (dropped, counted on eni-a).
    let (tx, rx) = lab.ping("eni-a", ip("10.0.2.20"), 5).unwrap();
    assert_eq!((tx, rx), (5, 5));
    let r = ping_unanswered(lab.ns("eni-a"), "203.0.113.9", 3, &[]);
    assert_eq!(r.received, 0);
    let n = lab
        .wait_drops("eni-a", DropReason::Blackhole, 3, COUNTER_WAIT)
        .unwrap();
    assert_eq!(n, 3);

    let ctl = Vpcctl::new(lab.vpcd().socket_path()).unwrap();
    let (status, head, _) = curl(&url).unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let (scrape, shown, stats) = quiet_snapshot(&url, &ctl);

    // Every number `vpcctl show --json` has is on the endpoint with the same value.
    let want = expected(&shown);
    for (k, v) in &want {
        assert_eq!(scrape.get(k), Some(v), "{k}");
    }
    // And nothing per ENI that show does not know of.
    let extra: Vec<&String> = scrape
        .keys()
        .filter(|k| k.starts_with("vpcd_eni_") && !want.contains_key(*k))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
    assert!(scrape[r#"vpcd_eni_rx_packets_total{eni="eni-a"}"#] >= 5 + 3);
    assert!(scrape[r#"vpcd_eni_tx_packets_total{eni="eni-b"}"#] >= 5);
    assert!(scrape[r#"vpcd_eni_tx_packets_total{eni="eni-a"}"#] >= 5);
    assert_eq!(
        scrape[r#"vpcd_eni_drops_total{eni="eni-a",reason="blackhole"}"#],
        3
    );
    assert_eq!(scrape[r#"vpcd_drops_total{reason="blackhole"}"#], 3);
    assert!(scrape["vpcd_flow_cache_hits_total"] > 0, "echo replies hit");
    assert!(scrape[r#"vpcd_eni_conntrack_max{eni="eni-a"}"#] > 0);

    // `vpcctl stats` prints the same series, one per line.
    assert_eq!(series(&stats), scrape);
    let out = ctl.run(&["stats", "--eni", "eni-b"], CMD).unwrap();
    assert!(out.status.success(), "{out:?}");
    let only_b = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(only_b.lines().count() > DropReason::COUNT, "{only_b}");
    assert!(
        only_b.lines().all(|l| l.contains(r#"eni="eni-b""#)),
        "{only_b}"
    );
    let out = ctl.run(&["stats", "--eni", "eni-nope"], CMD).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = ctl.run(&["stats", "--json"], CMD).unwrap();
    assert!(out.status.success(), "{out:?}");
    let r: StatsReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r.enis.len(), 2);

    // Other paths are not found.
    let base = url.trim_end_matches("/metrics");
    for path in ["/", "/metrics/x", "/debug"] {
        let (status, _, _) = curl(&format!("{base}{path}")).unwrap();
        assert_eq!(status, 404, "{path}");
    }
}

/// TCP sockets that process `pid` holds (by inode, from `/proc/PID/fd` and
/// `/proc/net/tcp{,6}` of the host namespace, which vpcd runs in).
fn tcp_sockets_of(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.iter().any(|i| i == f[9]) {
                found.push(format!("{table}: {line}"));
            }
        }
    }
    found
}

#[test]
fn metrics_endpoint_is_off_by_default() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(TOPOLOGY);
    assert!(lab.vpcd().metrics_url().is_none());
    assert!(
        !lab.vpcd().ready_line().contains("metrics="),
        "{}",
        lab.vpcd().ready_line()
    );
    let tcp = tcp_sockets_of(lab.vpcd().pid());
    assert!(tcp.is_empty(), "vpcd holds TCP sockets: {tcp:?}");
    // The counters are still readable over the control socket.
    let ctl = Vpcctl::new(lab.vpcd().socket_path()).unwrap();
    let out = ctl.run(&["stats"], CMD).unwrap();
    assert!(out.status.success(), "{out:?}");
    let s = series(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(s["vpcd_config_epoch"], lab.show().unwrap().epoch);
}

#[test]
fn non_loopback_metrics_addresses_are_refused() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:9100"] {
        let prefix = RunPrefix::new().unwrap();
        match Vpcd::start_with(&prefix, metrics_opts(addr)) {
            Err(Error::NotReady { log_tail, .. }) => {
                assert!(log_tail.contains("not a loopback address"), "{log_tail}");
                assert!(log_tail.contains("--metrics-allow-remote"), "{log_tail}");
            }
            Ok(v) => panic!("vpcd started with --metrics {addr}: {}", v.ready_line()),
            Err(e) => panic!("{addr}: {e}"),
        }
    }
    // vpcctl up refuses before it touches anything.
    let prefix = RunPrefix::new().unwrap();
    let dir = Scratch::new(&format!("{prefix}-refuse")).unwrap();
    let socket = dir.join("run").join("vpcd.sock");
    let ctl = Vpcctl::new(&socket).unwrap();
    let file = dir.join("topology.toml");
    std::fs::write(&file, TOPOLOGY).unwrap();
    let out = ctl
        .run(
            &["up", &file.to_string_lossy(), "--metrics", "0.0.0.0:9100"],
            CMD,
        )
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address"), "{err}");
    assert!(!socket.parent().unwrap().exists(), "nothing was created");
}

#[test]
fn endpoint_stops_with_vpcd() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let mut vpcd = Vpcd::start_with(&prefix, metrics_opts("[::1]:0")).unwrap();
    let url = vpcd.metrics_url().unwrap().to_string();
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let (status, _, body) = curl(&url).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("vpcd_config_epoch 0\n"), "{body}");
    // A client that connected and never sent anything does not keep vpcd alive for long.
    let port: u16 = url
        .trim_start_matches("http://[::1]:")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap();
    let _idle = std::net::TcpStream::connect(("::1", port)).unwrap();
    control::client::shutdown(vpcd.socket_path()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = vpcd.try_wait() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "vpcd did not exit; log: {}",
            vpcd.log_tail(4096)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}: {}", vpcd.log_tail(4096));
    assert!(curl(&url).is_err(), "the endpoint is gone with vpcd");
}

#[test]
fn vpcctl_up_passes_metrics_through() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let dir = Scratch::new(&format!("{prefix}-up"))
        .unwrap()
        .keep_on_panic(true);
    let topo = TOPOLOGY
        .replace(
            "netns = \"a\"",
            &format!("netns = \"{}\"", prefix.ns_name("a")),
        )
        .replace(
            "netns = \"b\"",
            &format!("netns = \"{}\"", prefix.ns_name("b")),
        );
    let file = dir.join("topology.toml");
    std::fs::write(&file, &topo).unwrap();
    let socket = dir.join("run").join("vpcd.sock");
    let ctl = Vpcctl::new(&socket).unwrap();
    let mut up = ctl.up_with(&file, &["--metrics", "127.0.0.1:0"]).unwrap();
    let url = up
        .up_stdout()
        .lines()
        .find_map(|l| l.strip_prefix("metrics at "))
        .unwrap_or_else(|| panic!("{}", up.up_stdout()))
        .to_string();
    let (status, _, body) = curl(&url).unwrap();
    assert_eq!(status, 200);
    let s = series(&body);
    assert_eq!(s[r#"vpcd_eni_attached{eni="eni-a"}"#], 1);
    assert_eq!(s["vpcd_config_epoch"], 1);
    let out = up.down().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(curl(&url).is_err(), "the endpoint is gone after down");
}
