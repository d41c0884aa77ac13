//! End-to-end tests of the VPC resolver's optional upstream (issue VPC-10, item 2): an
//! internet host on the shared internet segment runs a `dns` service, `[lab]
//! dns_upstream` names its address, and real libc lookups (`getent hosts`) in an
//! instance namespace whose `/etc/netns/NAME/resolv.conf` names the VPC's `+2` address
//! get internet names from it, while instance names and hosted-zone names still come
//! from the resolver itself. The instance sits behind a deny-all network ACL and a
//! security group without rules, which do not matter: the resolver is not behind them.
//! Without `dns_upstream` the same lookup fails (NXDOMAIN).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use testbeds::{Lab, Netns};

mod common;
use common::{getent, start, ResolvConf, CMD};

/// The upstream host's address (TEST-NET-3).
const UPSTREAM: &str = "203.0.113.53";

/// One VPC with an internet gateway (which puts the lab on the internet segment), one
/// subnet behind a network ACL without rules (deny all), an instance in a security group
/// without rules, a private hosted zone, and the internet host `ns1` running `dns`;
/// `lab` is the `[lab]` table's body.
fn topology(lab: &str) -> String {
    format!(
        r#"
[[vpc]]
id = "vpc-up"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-up"
cidr = "10.0.1.0/24"

[[internet_gateway]]
id = "igw-up"
vpc = "vpc-up"

[[network_acl]]
id = "acl-deny"
vpc = "vpc-up"
subnets = ["subnet-a"]

[[security_group]]
id = "sg-none"
vpc = "vpc-up"
inbound = []
outbound = []

[[eni]]
id = "eni-a"
subnet = "subnet-a"
private_ip = "10.0.1.10"
security_groups = ["sg-none"]
netns = "a"

[[private_hosted_zone]]
id = "Zcorp"
name = "corp.internal"
vpcs = ["vpc-up"]
records = [{{ name = "db", type = "A", values = ["10.0.3.10"] }}]

[[internet_host]]
id = "ns1"
addresses = ["{UPSTREAM}"]
services = [{{ kind = "dns" }}]

[lab]
{lab}
"#
    )
}

/// The names the resolver knows itself still resolve.
fn local_names_resolve(a: &Netns) {
    let (code, out) = getent(a, "ip-10-0-1-10.ec2.internal");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "10.0.1.10       ip-10-0-1-10.ec2.internal");
    let (code, out) = getent(a, "db.corp.internal");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("10.0.3.10 "), "{out}");
    // A missing name of a zone it knows is NXDOMAIN from the resolver, not asked upstream.
    let (code, out) = getent(a, "nothing.corp.internal");
    assert_eq!(code, Some(2), "not found: {out}");
}

#[test]
fn internet_names_come_from_the_upstream_host_through_a_deny_all_acl() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(&topology(&format!("dns_upstream = \"{UPSTREAM}\"")));
    let a = lab.ns("eni-a");
    let _resolv = ResolvConf::write(a, "10.0.0.2");

    let (code, out) = getent(a, "www.example.com");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        [UPSTREAM, "www.example.com"]
    );
    // The upstream's NXDOMAIN comes back as such.
    let (code, out) = getent(a, "nx.example.com");
    assert_eq!(code, Some(2), "not found: {out}");
    local_names_resolve(a);

    let c = lab.counters("eni-a").unwrap();
    assert!(c.dns_forwarded >= 2, "{c:?}");
    assert_eq!(c.dns_upstream_timeouts, 0, "{c:?}");
    // The bridge holds the resolver's address on the segment.
    let out = lab
        .segment()
        .exec_ok(&["ip", "-4", "addr", "show", "dev", "inet0"], CMD)
        .unwrap();
    assert!(out.contains("192.0.2.53/32"), "{out}");
}

#[test]
fn without_dns_upstream_internet_names_are_nxdomain() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(&topology(""));
    let a = lab.ns("eni-a");
    let _resolv = ResolvConf::write(a, "10.0.0.2");

    let (code, out) = getent(a, "www.example.com");
    assert_eq!(code, Some(2), "not found: {out}");
    local_names_resolve(a);
    assert_eq!(lab.counters("eni-a").unwrap().dns_forwarded, 0);
}
