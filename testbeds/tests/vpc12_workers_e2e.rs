//! End-to-end tests of `vpcd --workers 2` (VPC-12): two forwarding workers, flows sharded
//! by a symmetric hash, every TAP with one queue per worker, through real namespaces and
//! real clients.
//!
//! (a) Many TCP connections between two ENIs and through a NAT gateway to an internet
//! host: each one (a new source port, so spread over both workers) gets its page, both
//! workers report forwarded flows, the NAT gateway's connections add up over the
//! workers, `vpcctl trace` explains a flow, a ping gets its replies, and a configuration
//! with a packet capture is refused with a message that names the reason.
//!
//! (b) Instance metadata: a session token issued on one connection is accepted on the
//! following ones, whichever worker serves them.
//!
//! Readiness is a signal (the HTTP server's "Serving HTTP" line); nothing sleeps to
//! synchronise.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use dataplane::observe::trace::{TraceProtocol, TraceSpec};
use testbeds::vpcd::VpcdOptions;
use testbeds::{Lab, Netns};

mod common;
use common::{http_server, ping_ok, CMD};

const IGW: &str = "igw-w";
const NAT: &str = "nat-w";
const APP: &str = "eni-app";
const APP_IP: &str = "10.0.2.20";
const SRV: &str = "eni-srv";
const SRV_IP: &str = "10.0.3.30";
const HOST: &str = "203.0.113.5";
/// Connections per destination: the chance that all of them land on one worker is 2^-31.
const CONNECTIONS: usize = 32;

fn topology() -> String {
    format!(
        r#"
[[vpc]]
id = "vpc-w"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-main"
vpc = "vpc-w"
main = true

[[route_table]]
id = "rtb-public"
vpc = "vpc-w"
routes = [{{ destination = "0.0.0.0/0", target = "{IGW}" }}]

[[route_table]]
id = "rtb-priv"
vpc = "vpc-w"
routes = [{{ destination = "0.0.0.0/0", target = "{NAT}" }}]

[[subnet]]
id = "subnet-pub"
vpc = "vpc-w"
cidr = "10.0.1.0/24"
route_table = "rtb-public"

[[subnet]]
id = "subnet-priv"
vpc = "vpc-w"
cidr = "10.0.2.0/24"
route_table = "rtb-priv"

[[subnet]]
id = "subnet-srv"
vpc = "vpc-w"
cidr = "10.0.3.0/24"

[[internet_gateway]]
id = "{IGW}"
vpc = "vpc-w"
internet = {{ netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["{HOST}"] }}

[[nat_gateway]]
id = "{NAT}"
subnet = "subnet-pub"
connectivity = "public"
allocation_id = "eipalloc-w"
private_ip = "10.0.1.220"

[[elastic_ip]]
id = "eipalloc-w"
public_ip = "198.51.100.7"

[[security_group]]
id = "sg-open"
vpc = "vpc-w"
inbound = [{{ protocol = "-1", source = "0.0.0.0/0" }}]

[[eni]]
id = "{APP}"
subnet = "subnet-priv"
private_ip = "{APP_IP}"
netns = "app"
security_groups = ["sg-open"]

[[eni]]
id = "{SRV}"
subnet = "subnet-srv"
private_ip = "{SRV_IP}"
netns = "srv"
security_groups = ["sg-open"]
"#
    )
}

fn start_two_workers(toml: &str) -> Lab {
    let opts = VpcdOptions {
        extra_args: vec!["--workers".into(), "2".into()],
        ..VpcdOptions::default()
    };
    Lab::start_with(toml, opts).unwrap()
}

/// Fetches `url` `n` times in one curl process (the server closes each connection, so
/// every fetch is a new connection from a new source port); returns each fetch's
/// "status body" line.
fn fetch_many(ns: &Netns, url: &str, n: usize) -> Vec<String> {
    let mut argv = vec![
        "curl",
        "-sS",
        "--connect-timeout",
        "5",
        "--max-time",
        "60",
        "-w",
        " %{http_code}\n",
    ];
    argv.extend(std::iter::repeat_n(url, n));
    let out = ns.exec(&argv, CMD + Duration::from_secs(60)).unwrap();
    assert!(
        out.status.success(),
        "curl in {}: {} {}",
        ns.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn two_workers_forward_every_connection_between_enis_and_through_nat() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start_two_workers(&topology());
    let app = lab.ns(APP);
    let _srv = http_server(lab.ns(SRV), SRV_IP, "srv");
    let _host = http_server(lab.internet(IGW), HOST, "host");

    for (dst, name) in [(SRV_IP, "srv"), (HOST, "host")] {
        let lines = fetch_many(app, &format!("http://{dst}/"), CONNECTIONS);
        // curl prints the body ("hello from NAME\n") then " 200\n" per fetch.
        let ok = lines.iter().filter(|l| l.trim() == "200").count();
        let pages = lines
            .iter()
            .filter(|l| l.as_str() == format!("hello from {name}"))
            .count();
        assert_eq!(
            (ok, pages),
            (CONNECTIONS, CONNECTIONS),
            "every connection to {dst} got its page: {lines:?}"
        );
    }
    ping_ok(app, SRV_IP);

    let report = lab.show().unwrap();
    assert_eq!(report.workers.len(), 2, "one engine report per worker");
    for (w, e) in report.workers.iter().enumerate() {
        assert!(
            e.flow_misses > 0 && e.flow_hits > 0,
            "worker {w} forwarded flows of its own: {e:?}"
        );
    }
    let sum: u64 = report.workers.iter().map(|e| e.flow_hits).sum();
    assert_eq!(report.engine.flow_hits, sum, "the engine total is the sum");
    let nat = report
        .nat_gateways
        .iter()
        .find(|n| n.id == NAT)
        .expect("the NAT gateway is reported");
    assert!(
        nat.metrics.connection_established_count >= CONNECTIONS as u64,
        "every connection through the NAT gateway counted, on whichever worker: {:?}",
        nat.metrics
    );
    let srv = report.enis.iter().find(|e| e.id == SRV).unwrap();
    assert!(
        srv.counters.tx_packets >= 3 * CONNECTIONS as u64,
        "{:?}",
        srv.counters
    );

    // A trace runs on the worker that owns the traced flow.
    let spec = TraceSpec {
        from: APP.into(),
        src: None,
        dst: SRV_IP.parse().unwrap(),
        protocol: TraceProtocol::Tcp,
        src_port: Some(40_001),
        dst_port: Some(80),
        icmp_type: None,
        icmp_code: None,
        tcp_flags: None,
        return_path: true,
    };
    let t = control::client::trace(lab.vpcd().socket_path(), &spec).unwrap();
    assert!(
        t.reply.is_some(),
        "the trace reached the server and came back: {t:?}"
    );

    // Observers need one worker: refused, and the running configuration stays.
    let capture = format!(
        "{}\n[[packet_capture]]\nid = \"cap-w\"\neni = \"{APP}\"\nfile = \"/tmp/never-written.pcap\"\n",
        topology()
    );
    let (_, cfg) = lab.compile(&capture).unwrap();
    let err = lab.apply_config(&cfg).unwrap_err();
    assert!(
        err.iter().any(|e| e.contains("one forwarding worker")),
        "{err:?}"
    );
    assert_eq!(lab.show().unwrap().epoch, report.epoch);
    assert_eq!(
        fetch_many(app, &format!("http://{SRV_IP}/"), 1).len(),
        2,
        "still forwarding"
    );
}

#[test]
fn a_metadata_token_is_accepted_on_every_worker() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start_two_workers(&topology());
    let app = lab.ns(APP);
    let out = app
        .exec(
            &[
                "curl",
                "-sS",
                "-m",
                "5",
                "-X",
                "PUT",
                "-H",
                "X-aws-ec2-metadata-token-ttl-seconds: 60",
                "http://169.254.169.254/latest/api/token",
            ],
            CMD,
        )
        .unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("AQAEA"), "a token: {token:?}");
    // New connections (one curl each: new source ports, so both workers) with the token.
    let header = format!("X-aws-ec2-metadata-token: {token}");
    let url = "http://169.254.169.254/latest/meta-data/local-ipv4";
    for i in 0..CONNECTIONS {
        let out = app
            .exec(
                &[
                    "curl",
                    "-sS",
                    "-m",
                    "5",
                    "-H",
                    &header,
                    "-w",
                    " %{http_code}",
                    url,
                ],
                CMD,
            )
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.trim(),
            format!("{APP_IP} 200"),
            "request {i} accepted the token"
        );
    }
    let report = lab.show().unwrap();
    assert!(
        report
            .workers
            .iter()
            .all(|e| e.flow_misses > 0 || e.handed_off > 0),
        "both workers saw metadata connections: {:?}",
        report.workers
    );
}
