//! End-to-end tests of the VPC resolver (issue VPC-10, item 2): real namespaces whose
//! `/etc/resolv.conf` (through `ip netns exec`'s `/etc/netns/NAME/resolv.conf`) names the
//! VPC's `+2` address, real libc lookups (`getent hosts`) and `busybox nslookup`, under a
//! deny-all network ACL and security groups without a rule: the resolver is not behind
//! them. A Rust UDP client inside a namespace (a thread that entered it with `setns`)
//! measures how many queries per second the resolver answers and sees the 1,024 per
//! second limit.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use dataplane::vpc::verdict::DropReason;
use testbeds::{Lab, Netns};

mod common;
use common::{drops, getent, in_netns, ping_unanswered, start, ResolvConf, CMD};

/// One VPC, one subnet behind a network ACL without rules (deny all), two instances in a
/// security group without rules, and a private hosted zone.
const TOPOLOGY: &str = r#"
[[vpc]]
id = "vpc-dns"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-dns"
cidr = "10.0.1.0/24"

[[network_acl]]
id = "acl-deny"
vpc = "vpc-dns"
subnets = ["subnet-a"]

[[security_group]]
id = "sg-none"
vpc = "vpc-dns"
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

[[private_hosted_zone]]
id = "Zcorp"
name = "corp.internal"
vpcs = ["vpc-dns"]
records = [
  { name = "db", type = "A", values = ["10.0.3.10"] },
  { name = "www", type = "CNAME", values = ["db.corp.internal"] },
]
"#;

/// A DNS query (id `id`, RD) for the A record of `name`.
fn a_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn the_resolver_answers_through_a_deny_all_acl_and_empty_groups() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(TOPOLOGY);
    let b = lab.ns("eni-b");
    let _resolv = ResolvConf::write(b, "10.0.0.2");

    // The filters are on: b cannot reach a.
    assert_eq!(ping_unanswered(b, "10.0.1.10", 1, &[]).received, 0);

    let (code, out) = getent(b, "ip-10-0-1-10.ec2.internal");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "10.0.1.10       ip-10-0-1-10.ec2.internal");
    let (code, out) = getent(b, "www.corp.internal");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("10.0.3.10 "), "{out}");
    let (code, out) = getent(b, "10.0.1.10");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with("ip-10-0-1-10.ec2.internal"), "{out}");
    let (code, out) = getent(b, "nothing.corp.internal");
    assert_eq!(code, Some(2), "not found: {out}");
    // The link-local address answers too.
    let out = b
        .exec(
            &["busybox", "nslookup", "db.corp.internal", "169.254.169.253"],
            CMD,
        )
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("10.0.3.10"), "{text}");

    let c = lab.counters("eni-b").unwrap();
    assert!(c.dns_answers >= 5, "{c:?}");
    assert!(c.dns_errors >= 1, "{c:?}");
    assert!(c.drops[DropReason::NaclDeny.index()] + c.drops[DropReason::SgNoMatch.index()] > 0);
    let show = control::render::show(&lab.show().unwrap());
    assert!(show.contains("VPC resolver"), "{show}");
    assert!(show.contains("Zcorp corp.internal (2 records)"), "{show}");
}

/// Sends `n` queries from a socket in `ns`, at most `window` unanswered at a time (a
/// query unanswered after 5 ms counts as lost), and collects the answers until `wait`
/// after the last: (answered, seconds from the first query to the last answer).
fn burst(ns: &Netns, n: u16, window: u16, wait: Duration) -> (usize, f64) {
    in_netns(ns, move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.connect("10.0.0.2:53").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let mut buf = [0u8; 512];
        let (mut answered, mut settled) = (0usize, 0usize);
        let start = Instant::now();
        let mut last = start;
        for id in 0..n {
            s.send(&a_query(id, "ip-10-0-1-10.ec2.internal")).unwrap();
            while usize::from(id) + 1 - settled > usize::from(window) {
                settled += 1;
                if s.recv(&mut buf).is_ok() {
                    answered += 1;
                    last = Instant::now();
                }
            }
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if s.recv(&mut buf).is_ok() {
                answered += 1;
                last = Instant::now();
            }
        }
        (answered, (last - start).as_secs_f64())
    })
}

#[test]
fn queries_per_second_and_the_1024_per_second_limit() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(TOPOLOGY);
    let a = lab.ns("eni-a");
    // Within the bucket (1,024 queries): the resolver's own speed.
    let (answered, secs) = burst(a, 1000, 8, Duration::from_millis(300));
    assert_eq!(answered, 1000);
    eprintln!(
        "vpc10 dns: {answered} queries answered in {:.3} s: {:.0} queries/s",
        secs,
        answered as f64 / secs
    );
    // The bucket is nearly empty now: of 2,000 more sent at once, most are dropped and
    // counted.
    let before = drops(&lab, "eni-a", DropReason::DnsRateLimited);
    let (answered, secs) = burst(a, 2000, u16::MAX, Duration::from_millis(300));
    let dropped = drops(&lab, "eni-a", DropReason::DnsRateLimited) - before;
    eprintln!("vpc10 dns: then {answered} of 2000 answered in {secs:.3} s, {dropped} rate-limited");
    assert!(dropped >= 500, "dropped {dropped}");
    assert!(answered as u64 + dropped <= 2000 && answered < 1000);
    // Answers the namespace's kernel dropped (its queues overflow in such a burst) were
    // still sent: the counter is at least what arrived.
    let c = lab.counters("eni-a").unwrap();
    assert!(c.dns_answers >= 1000 + answered as u64, "{c:?}");
}

#[test]
fn tcp_53_answers_a_query_through_the_deny_all_acl() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(TOPOLOGY);
    let answer = in_netns(lab.ns("eni-b"), || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect_timeout(
            &"10.0.0.2:53".parse().unwrap(),
            Duration::from_secs(5),
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let q = a_query(7, "www.corp.internal");
        let mut msg = (q.len() as u16).to_be_bytes().to_vec();
        msg.extend_from_slice(&q);
        s.write_all(&msg).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    });
    let n = usize::from(u16::from_be_bytes([answer[0], answer[1]]));
    assert_eq!(n, answer.len() - 2, "{answer:?}");
    // id 7, a response, NOERROR, two answers (the CNAME and the A record).
    assert_eq!(&answer[2..4], &[0, 7]);
    assert_eq!(answer[4] & 0x80, 0x80);
    assert_eq!(answer[5] & 0x0f, 0);
    assert_eq!(&answer[8..10], &[0, 2]);
    assert!(answer.windows(4).any(|w| w == [10, 0, 3, 10]));
    assert_eq!(lab.counters("eni-b").unwrap().dns_answers, 1);
}
