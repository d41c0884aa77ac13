//! End-to-end tests of the instance metadata service (issue VPC-10, item 3): `curl` in
//! real namespaces reads `http://169.254.169.254/latest/…` through vpcd, whose own TCP
//! endpoint (smoltcp) answers, under a deny-all network ACL and a security group with no
//! rules (the service is not behind them); a Rust client inside a namespace measures how
//! many requests per second the service answers.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dataplane::vpc::verdict::DropReason;
use testbeds::{Lab, Netns};

mod common;
use common::{in_netns, ping_unanswered, start, CMD};

/// One VPC, one subnet behind a network ACL without rules (deny all), two instances in a
/// security group without rules; the second one requires IMDSv2 tokens.
const TOPOLOGY: &str = r#"
[lab]
region = "eu-west-1"

[[vpc]]
id = "vpc-md"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-md"
cidr = "10.0.1.0/24"

[[network_acl]]
id = "acl-deny"
vpc = "vpc-md"
subnets = ["subnet-a"]

[[security_group]]
id = "sg-none"
vpc = "vpc-md"
inbound = []
outbound = []

[[eni]]
id = "eni-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
security_groups = ["sg-none"]
netns = "a"

[[eni]]
id = "eni-b"
subnet = "subnet-a"
private_ip = "10.0.1.20"
security_groups = ["sg-none"]
netns = "b"
metadata_options = { http_tokens = "required", http_put_response_hop_limit = 2 }
"#;

/// `curl -s ARGS… http://169.254.169.254PATH` in `ns`: (HTTP status, body).
fn curl(ns: &Netns, path: &str, args: &[&str]) -> (u16, String) {
    let url = format!("http://169.254.169.254{path}");
    let mut argv = vec!["curl", "-s", "-m", "5", "-w", "\n%{http_code}"];
    argv.extend_from_slice(args);
    argv.push(&url);
    let out = ns.exec(&argv, CMD).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn curl_reads_metadata_through_a_deny_all_acl_and_an_empty_group() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(TOPOLOGY);
    let a = lab.ns("eni-a");
    // The filters are on: a cannot reach b.
    assert_eq!(ping_unanswered(a, "10.0.1.20", 1, &[]).received, 0);

    assert_eq!(
        curl(a, "/latest/meta-data/local-ipv4", &[]),
        (200, "10.0.1.10".into())
    );
    let (code, hostname) = curl(a, "/latest/meta-data/local-hostname", &[]);
    assert_eq!(
        (code, hostname.as_str()),
        (200, "ip-10-0-1-10.eu-west-1.compute.internal")
    );
    let (code, az) = curl(a, "/latest/meta-data/placement/availability-zone", &[]);
    assert_eq!((code, az.as_str()), (200, "eu-west-1a"));
    let (code, mac) = curl(a, "/latest/meta-data/mac", &[]);
    assert_eq!(code, 200);
    let (code, subnet) = curl(
        a,
        &format!("/latest/meta-data/network/interfaces/macs/{mac}/subnet-id"),
        &[],
    );
    assert_eq!((code, subnet.as_str()), (200, "subnet-a"));
    let (code, groups) = curl(
        a,
        &format!("/latest/meta-data/network/interfaces/macs/{mac}/security-group-ids"),
        &[],
    );
    assert_eq!((code, groups.as_str()), (200, "sg-none"));
    let (code, doc) = curl(a, "/latest/dynamic/instance-identity/document", &[]);
    assert_eq!(code, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["privateIp"], "10.0.1.10");
    assert_eq!(doc["region"], "eu-west-1");
    assert_eq!(curl(a, "/latest/meta-data/no-such-thing", &[]).0, 404);

    // IMDSv2: a token, then a request with it; a forged one is refused.
    let (code, token) = curl(
        a,
        "/latest/api/token",
        &[
            "-X",
            "PUT",
            "-H",
            "X-aws-ec2-metadata-token-ttl-seconds: 60",
        ],
    );
    assert_eq!(code, 200);
    let header = format!("X-aws-ec2-metadata-token: {token}");
    assert_eq!(
        curl(a, "/latest/meta-data/instance-id", &["-H", &header]).0,
        200
    );
    assert_eq!(
        curl(
            a,
            "/latest/meta-data/instance-id",
            &["-H", "X-aws-ec2-metadata-token: AQAEAforged"]
        )
        .0,
        401
    );
    // A token is the instance's: b cannot use a's.
    assert_eq!(
        curl(lab.ns("eni-b"), "/latest/meta-data/", &["-H", &header]).0,
        401
    );

    // b requires tokens (IMDSv2 only): without one, 401; the token flow works.
    let b = lab.ns("eni-b");
    assert_eq!(curl(b, "/latest/meta-data/local-ipv4", &[]).0, 401);
    let (code, token_b) = curl(
        b,
        "/latest/api/token",
        &[
            "-X",
            "PUT",
            "-H",
            "X-aws-ec2-metadata-token-ttl-seconds: 21600",
        ],
    );
    assert_eq!(code, 200);
    assert_eq!(
        curl(
            b,
            "/latest/meta-data/local-ipv4",
            &["-H", &format!("X-aws-ec2-metadata-token: {token_b}")]
        ),
        (200, "10.0.1.20".into())
    );
    // A proxied token request is refused.
    assert_eq!(
        curl(
            b,
            "/latest/api/token",
            &[
                "-X",
                "PUT",
                "-H",
                "X-aws-ec2-metadata-token-ttl-seconds: 60",
                "-H",
                "X-Forwarded-For: 10.9.9.9"
            ]
        )
        .0,
        403
    );

    let c = lab.counters("eni-a").unwrap();
    assert!(c.metadata_requests >= 11, "{c:?}");
    assert!(c.metadata_errors >= 2, "{c:?}");
    assert_eq!(c.drops[DropReason::MetadataRefused.index()], 0);
    assert!(c.drops[DropReason::NaclDeny.index()] + c.drops[DropReason::SgNoMatch.index()] > 0);
}

/// Sequential requests on one kept-alive connection, then one connection per request:
/// (requests per second kept alive, requests per second with a connection each).
#[test]
fn requests_per_second() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(TOPOLOGY);
    let (alive, fresh) = in_netns(lab.ns("eni-a"), || {
        let req = b"GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";
        let read_one = |s: &mut TcpStream, buf: &mut Vec<u8>| {
            buf.clear();
            let mut chunk = [0u8; 1024];
            while !buf.ends_with(b"10.0.1.10") {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "closed early: {}", String::from_utf8_lossy(buf));
                buf.extend_from_slice(&chunk[..n]);
            }
            assert!(buf.starts_with(b"HTTP/1.1 200 OK"));
        };
        let mut buf = Vec::new();
        let n = 2000;
        let mut s = TcpStream::connect("169.254.169.254:80").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_nodelay(true).unwrap();
        let t = Instant::now();
        for _ in 0..n {
            s.write_all(req).unwrap();
            read_one(&mut s, &mut buf);
        }
        let alive = f64::from(n) / t.elapsed().as_secs_f64();
        drop(s);
        let m = 300;
        let t = Instant::now();
        for _ in 0..m {
            let mut s = TcpStream::connect("169.254.169.254:80").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.set_nodelay(true).unwrap();
            s.write_all(req).unwrap();
            read_one(&mut s, &mut buf);
        }
        (alive, f64::from(m) / t.elapsed().as_secs_f64())
    });
    eprintln!(
        "metadata: {alive:.0} requests/s kept alive, {fresh:.0} requests/s with a connection each"
    );
    let c = lab.counters("eni-a").unwrap();
    assert_eq!(c.metadata_requests, 2300, "{c:?}");
    assert_eq!(c.metadata_errors, 0, "{c:?}");
}
