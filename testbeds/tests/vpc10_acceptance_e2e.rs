//! Acceptance of VPC-10 (DHCP, the resolver, instance metadata, the MTU): instances that configure
//! themselves only by DHCP, as EC2 instances do. The harness runs busybox's udhcpc in each
//! namespace (the default `addressing`; nothing else writes an address or route there);
//! the lease gives the address, the default route, the resolver (copied to
//! `/etc/netns/<namespace>/resolv.conf`, which `ip netns exec` puts over
//! `/etc/resolv.conf`, so glibc's resolver in `getent` asks the VPC's) and MTU 9001
//! (option 26). The first test runs behind a deny-all network ACL and a security group
//! without rules, which filter neither DHCP, DNS nor instance metadata (`curl`, IMDSv2
//! tokens required on one instance); the second sends a TCP stream from a
//! DHCP-configured jumbo-frame instance to a named internet host through the internet
//! gateway's 1500-byte hop, where path-MTU discovery (the subnet router's "fragmentation
//! needed") makes it through, and a DF ping that fills 9001 bytes gets that ICMP.
//!
//! Waits are readiness signals (udhcpc is bound when the harness returns; socat's
//! `listening on`); the transfer is bounded in time.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::net::Ipv4Addr;
use std::path::Path;

use dataplane::vpc::verdict::DropReason;
use testbeds::{Lab, Netns};

mod common;
use common::{drops, getent, ip, ping_unanswered, start, CMD};

/// One VPC in eu-west-1; subnet-a behind a custom network ACL without rules (deny all);
/// two instances whose only security group has no rules at all; a private hosted zone.
const ISOLATED: &str = r#"
[lab]
region = "eu-west-1"

[[vpc]]
id = "vpc-acc"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-acc"
cidr = "10.0.1.0/24"

[[network_acl]]
id = "acl-deny-all"
vpc = "vpc-acc"
subnets = ["subnet-a"]

[[security_group]]
id = "sg-none"
vpc = "vpc-acc"
inbound = []
outbound = []

[[eni]]
id = "eni-web1"
subnet = "subnet-a"
private_ip = "10.0.1.10"
security_groups = ["sg-none"]
netns = "web1"

[[eni]]
id = "eni-web2"
subnet = "subnet-a"
private_ip = "10.0.1.20"
secondary_ips = ["10.0.1.21"]
security_groups = ["sg-none"]
netns = "web2"
metadata_options = { http_tokens = "required" }

[[private_hosted_zone]]
id = "Zacc"
name = "corp.internal"
vpcs = ["vpc-acc"]
records = [{ name = "db", type = "A", values = ["10.0.1.20"] }]
"#;

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn dhcp_only_instances_get_address_route_resolver_and_mtu_through_deny_all_filters() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab: Lab = start(ISOLATED);
    // vpcd attached both ENIs bare: only the DHCP client configured them.
    let report = lab.show().unwrap();
    for e in &report.config.enis {
        assert!(
            e.attachment.as_ref().is_some_and(|a| a.dhcp),
            "{} is not attached for DHCP",
            e.id
        );
    }
    let resolv = "search eu-west-1.compute.internal\nnameserver 10.0.0.2\n";
    for (eni, addr) in [("eni-web1", "10.0.1.10"), ("eni-web2", "10.0.1.20")] {
        let l = lab.lease(eni).unwrap();
        eprintln!("{eni}: DISCOVER to bound in {:?}", l.elapsed);
        assert_eq!(l.ip, v4(addr), "{eni}: {l:?}");
        assert_eq!(l.prefix_len, 24);
        assert_eq!(l.routers, vec![v4("10.0.1.1")]);
        assert_eq!(l.dns, vec![v4("10.0.0.2")]);
        assert_eq!(l.domain.as_deref(), Some("eu-west-1.compute.internal"));
        assert_eq!(l.mtu, Some(9001));
        let ns = lab.ns(eni);
        let a = ns.ip(&["-4", "-o", "addr", "show", "dev", "eth0"]).unwrap();
        assert!(a.contains(&format!("inet {addr}/24")), "{eni}: {a}");
        let r = ns.ip(&["-4", "route", "show", "default"]).unwrap();
        assert!(r.contains("default via 10.0.1.1 dev eth0"), "{eni}: {r}");
        let link = ns.ip(&["-o", "link", "show", "dev", "eth0"]).unwrap();
        assert!(link.contains("mtu 9001 "), "{eni}: {link}");
        // What programs in the namespace read as /etc/resolv.conf.
        let seen = ns.exec_ok(&["cat", "/etc/resolv.conf"], CMD).unwrap();
        assert_eq!(seen, resolv, "{eni}: /etc/resolv.conf in the namespace");
        let c = lab.counters(eni).unwrap();
        assert_eq!(
            c.dhcp_replies, 2,
            "{eni}: DISCOVER/OFFER, REQUEST/ACK: {c:?}"
        );
    }
    // The secondary address is not in DHCP; it is added after the lease, as ec2-net-utils
    // does from the instance metadata.
    let a = lab
        .ns("eni-web2")
        .ip(&["-4", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    assert!(a.contains("inet 10.0.1.21/24"), "{a}");

    // The filters are on: web1 and web2 cannot talk.
    let (web1, web2) = (lab.ns("eni-web1"), lab.ns("eni-web2"));
    assert_eq!(ping_unanswered(web1, "10.0.1.20", 1, &[]).received, 0);

    // glibc's resolver, through /etc/netns: the private DNS name of another instance,
    // the short name through the lease's search domain, and the private hosted zone.
    let (code, out) = getent(web2, "ip-10-0-1-10.eu-west-1.compute.internal");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "10.0.1.10       ip-10-0-1-10.eu-west-1.compute.internal"
    );
    let (code, out) = getent(web1, "ip-10-0-1-20");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("10.0.1.20 "), "{out}");
    let (code, out) = getent(web1, "db.corp.internal");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("10.0.1.20 "), "{out}");
    let (code, out) = getent(web1, "nothing.corp.internal");
    assert_eq!(code, Some(2), "not found: {out}");
    let c = lab.counters("eni-web1").unwrap();
    assert!(c.dns_answers >= 3, "{c:?}");
    assert!(
        c.drops[DropReason::NaclDeny.index()] + c.drops[DropReason::SgNoMatch.index()] > 0,
        "the ping met the filters: {c:?}"
    );

    // Instance metadata, under the same deny-all filters: curl reads the ENI's address;
    // web2 requires IMDSv2 tokens, so only the token flow works there.
    let imds = |ns: &Netns, path: &str, args: &[&str]| -> (String, String) {
        let url = format!("http://169.254.169.254/latest/{path}");
        let mut argv = vec!["curl", "-s", "-m", "5", "-w", "\n%{http_code}"];
        argv.extend_from_slice(args);
        argv.push(&url);
        let out = ns.exec_ok(&argv, CMD).unwrap();
        let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
        (code.to_string(), body.to_string())
    };
    assert_eq!(
        imds(web1, "meta-data/local-ipv4", &[]),
        ("200".into(), "10.0.1.10".into())
    );
    assert_eq!(
        imds(web1, "meta-data/local-hostname", &[]).1,
        "ip-10-0-1-10.eu-west-1.compute.internal"
    );
    assert_eq!(imds(web2, "meta-data/local-ipv4", &[]).0, "401");
    let (code, token) = imds(
        web2,
        "api/token",
        &[
            "-X",
            "PUT",
            "-H",
            "X-aws-ec2-metadata-token-ttl-seconds: 300",
        ],
    );
    assert_eq!(code, "200");
    let header = format!("X-aws-ec2-metadata-token: {token}");
    let (code, mac) = imds(web2, "meta-data/mac", &["-H", &header]);
    assert_eq!(code, "200");
    // Where ec2-net-utils reads the secondary addresses from.
    assert_eq!(
        imds(
            web2,
            &format!("meta-data/network/interfaces/macs/{mac}/local-ipv4s"),
            &["-H", &header]
        ),
        ("200".into(), "10.0.1.20\n10.0.1.21".into())
    );
    let c = lab.counters("eni-web2").unwrap();
    assert_eq!((c.metadata_requests, c.metadata_errors), (4, 1), "{c:?}");

    // Dropping the lab ends the clients by PID and removes /etc/netns/<namespace>.
    let clients: Vec<(u32, String)> = ["eni-web1", "eni-web2"]
        .iter()
        .map(|e| {
            let c = lab.dhcp_client(e).unwrap();
            assert!(c.is_alive(), "{e}: the client runs for the lab's lifetime");
            (c.pid, c.netns.clone())
        })
        .collect();
    drop(lab);
    for (pid, ns) in clients {
        assert!(
            !control::lab::pid_alive(pid),
            "udhcpc {pid} still runs after the lab"
        );
        let etc = control::dhcp_client::netns_etc_dir(&ns);
        assert!(!Path::new(&etc).exists(), "{} left behind", etc.display());
    }
}

/// A public subnet routing to igw-t on the shared internet segment, with the named
/// internet host `far`; permissive network ACL (the default) and security group.
const PUBLIC: &str = r#"
[[vpc]]
id = "vpc-acc"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-public"
vpc = "vpc-acc"
main = true
routes = [{ destination = "0.0.0.0/0", target = "igw-t" }]

[[subnet]]
id = "subnet-pub"
vpc = "vpc-acc"
cidr = "10.0.1.0/24"

[[internet_gateway]]
id = "igw-t"
vpc = "vpc-acc"

[[security_group]]
id = "sg-open"
vpc = "vpc-acc"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[eni]]
id = "eni-web"
subnet = "subnet-pub"
private_ip = "10.0.1.10"
public_ip = "198.51.100.40"
security_groups = ["sg-open"]
netns = "web"

[[internet_host]]
id = "far"
addresses = ["192.0.2.77", "192.0.2.78"]
"#;

/// `far`'s address the TCP stream goes to.
const FAR: &str = "192.0.2.77";
/// `far`'s other address, which the ping tries (no path MTU cached for it yet).
const FAR_PING: &str = "192.0.2.78";

#[test]
fn dhcp_jumbo_instance_sends_through_the_1500_byte_internet_hop_by_path_mtu_discovery() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(PUBLIC);
    let web = lab.ns("eni-web");
    let far = lab.host("far");
    let l = lab.lease("eni-web").unwrap();
    assert_eq!((l.ip, l.mtu), (v4("10.0.1.10"), Some(9001)), "{l:?}");
    let link = web.ip(&["-o", "link", "show", "dev", "eth0"]).unwrap();
    assert!(link.contains("mtu 9001 "), "MTU from option 26: {link}");

    // The host's side takes jumbo frames, so it advertises MSS 8961: web sends 9001-byte
    // segments with DF set until the subnet router's ICMP teaches it 1500.
    far.ip(&["link", "set", "dev", "eth0", "mtu", "9001"])
        .unwrap();
    let route = |ns: &Netns, dst: &str| ns.ip(&["-4", "route", "get", dst]).unwrap();
    assert!(
        !route(web, FAR).contains("mtu"),
        "no PMTU yet: {}",
        route(web, FAR)
    );
    let before = drops(&lab, "eni-web", DropReason::FragmentationNeeded);
    let t = testbeds::tcp_transfer(far, ip(FAR), 9300, web, 4 << 20).unwrap();
    assert!(t.intact(), "4 MiB to the internet host: {t:?}");
    assert!(
        drops(&lab, "eni-web", DropReason::FragmentationNeeded) > before,
        "the oversized segments met the router's frag-needed"
    );
    assert!(
        route(web, FAR).contains("mtu 1500"),
        "web learned the path MTU: {}",
        route(web, FAR)
    );

    // A DF ping that fills the 9001-byte MTU (8973 bytes of data; `-s 9000` would make a
    // 9028-byte packet, which the kernel refuses locally) to far's other address (nothing
    // cached for it) gets "Frag needed … mtu = 1500" from the subnet router.
    assert!(
        !route(web, FAR_PING).contains("mtu"),
        "{}",
        route(web, FAR_PING)
    );
    let out = web
        .exec(
            &[
                "ping", "-n", "-M", "do", "-s", "8973", "-c", "1", "-W", "2", FAR_PING,
            ],
            CMD,
        )
        .unwrap();
    // Errors are expected output here: stdout and stderr together.
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.contains("From 10.0.1.1") && out.contains("Frag needed") && out.contains("mtu = 1500"),
        "ping -M do -s 8973: {out}"
    );
}
