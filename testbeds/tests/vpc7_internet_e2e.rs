//! End-to-end tests of the internet as a test fixture (VPC-7): named internet hosts on the
//! shared internet segment, each in its own namespace, at addresses in several public
//! ranges (one in the same /24 as the VPC's Elastic IPs) and one that claims RFC 1918
//! space; a gateway without hosts; two VPCs that reach each other over the internet; the
//! host services (`vpcctl serve`); and `vpcctl up`/`exec`/`down` with hosts.
//!
//! Every test builds its own topology on its own [`Lab`] (namespaces prefixed per run), so
//! tests run in parallel. Readiness is a signal (the services' `ready`, the HTTP server's
//! `Serving HTTP` line, tcpdump's `listening on`); counters are polled with a deadline.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use dataplane::observe::trace::{Outcome, TraceProtocol, TraceSpec};
use dataplane::vpc::verdict::DropReason;
use testbeds::{Netns, RunPrefix, Scratch, Vpcctl};

mod common;
use common::{
    curl_ok, curl_url, drops, expect_drops, expect_uplink_drops, http_server, ping_ok,
    ping_unanswered, start, tcpdump, uplink, CMD,
};

const IGW: &str = "igw-t";
/// web's Elastic IP.
const WEB_EIP: &str = "198.51.100.40";

/// One VPC with a public subnet routing `0.0.0.0/0` to igw-t (on the shared segment), and
/// `eni-web` (10.0.1.10, Elastic IP 198.51.100.40) whose group lets in HTTP and ICMP from
/// anywhere. `hosts` is appended (internet hosts and more).
fn topology(hosts: &str) -> String {
    format!(
        r#"
[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-public"
vpc = "vpc-t"
main = true
routes = [{{ destination = "0.0.0.0/0", target = "{IGW}" }}]

[[subnet]]
id = "subnet-pub"
vpc = "vpc-t"
cidr = "10.0.1.0/24"

[[internet_gateway]]
id = "{IGW}"
vpc = "vpc-t"

[[security_group]]
id = "sg-web"
vpc = "vpc-t"
inbound = [
  {{ protocol = "tcp", ports = "80", source = "0.0.0.0/0" }},
  {{ protocol = "icmp", source = "0.0.0.0/0" }},
]

[[eni]]
id = "eni-web"
subnet = "subnet-pub"
private_ip = "10.0.1.10"
netns = "web"
security_groups = ["sg-web"]

[[elastic_ip]]
id = "eipalloc-web"
public_ip = "{WEB_EIP}"
eni = "eni-web"
{hosts}
"#
    )
}

/// Three named hosts: `client` in 203.0.113.0/24 running an HTTP service, `far` with
/// addresses in 192.0.2.0/24 and in the Elastic IP's own 198.51.100.0/24, and `bogon`,
/// which claims the private 10.99.0.5.
const HOSTS: &str = r#"
[[internet_host]]
id = "client"
addresses = ["203.0.113.10"]
services = [{ kind = "http", port = 80 }, { kind = "echo", protocol = "udp", port = 7 }]

[[internet_host]]
id = "far"
addresses = ["192.0.2.77", "198.51.100.200"]

[[internet_host]]
id = "bogon"
addresses = ["10.99.0.5"]
"#;

/// Sends `text` to UDP `dst:port` from `ns` with socat and returns the answer.
fn udp_echo(ns: &Netns, dst: &str, port: u16, text: &str) -> String {
    let script = format!("echo {text} | socat -T 2 - UDP:{dst}:{port}");
    ns.exec_ok(&["sh", "-c", &script], CMD).unwrap()
}

/// Named hosts in two public ranges and one private one, each by its namespace: the
/// internet reaches the instance's Elastic IP and the instance reaches every public host
/// (the one in the Elastic IP's own /24 too), the hosts reach each other directly, a host
/// service sees the instance's Elastic IP, and the gateway refuses the private host both
/// ways (`igw_private_source` on the uplink, `igw_private_destination` on the ENI).
#[test]
fn named_hosts_in_two_public_ranges_and_a_private_one() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology(HOSTS));
    let web = lab.ns("eni-web");
    let (client, far, bogon) = (lab.host("client"), lab.host("far"), lab.host("bogon"));
    assert_ne!(client.name(), far.name());

    // The internet to the Elastic IP, and the instance to the internet.
    let mut srv = http_server(web, "10.0.1.10", "web");
    curl_ok(client, WEB_EIP, "web");
    assert_eq!(srv.next_client("/").ip().to_string(), "203.0.113.10");
    let body = curl_url(web, "http://203.0.113.10/", 5).unwrap();
    assert!(
        body.starts_with(&format!("client saw {WEB_EIP}:")),
        "the host's HTTP service sees the Elastic IP: {body:?}"
    );
    assert_eq!(udp_echo(web, "203.0.113.10", 7, "hello").trim(), "hello");
    ping_ok(web, "192.0.2.77");
    ping_ok(web, "198.51.100.200");
    ping_ok(far, WEB_EIP);

    // Hosts talk to each other on the segment, without the gateway (which would drop a
    // packet to an address it does not map): of 5 echo requests and their 5 replies, the
    // gateway sees only the ARP broadcasts, which the bridge floods to every port.
    let before_c = uplink(&lab, IGW);
    let before = before_c.rx_packets;
    let (r, out) = common::ping(
        client,
        &["-c", "5", "-i", "0.2", "-W", "2", "198.51.100.200"],
    );
    assert!(r.all_received(), "{out}");
    let seen = uplink(&lab, IGW).rx_packets - before;
    let after = uplink(&lab, IGW);
    assert!(
        seen < 5,
        "host to host stays on the segment; the gateway saw {seen}: {before_c:?} -> {after:?}"
    );
    assert_eq!(
        after.drops[DropReason::Ipv6NotForwarded.index()],
        0,
        "no IPv6 chatter on the segment: {after:?}"
    );

    // The host in private space: refused at the gateway both ways.
    let before = uplink(&lab, IGW).drops[DropReason::IgwPrivateSource.index()];
    let r = ping_unanswered(bogon, WEB_EIP, 2, &[]);
    assert_eq!(r.received, 0);
    expect_uplink_drops(&lab, IGW, DropReason::IgwPrivateSource, before);
    let before = drops(&lab, "eni-web", DropReason::IgwPrivateDestination);
    let r = ping_unanswered(web, "10.99.0.5", 2, &[]);
    assert_eq!(r.received, 0);
    expect_drops(&lab, "eni-web", DropReason::IgwPrivateDestination, before);

    // trace agrees: from a host by name, through the gateway, to the instance.
    let spec = TraceSpec {
        from: "client".into(),
        src: None,
        dst: WEB_EIP.parse().unwrap(),
        protocol: TraceProtocol::Tcp,
        src_port: None,
        dst_port: Some(80),
        icmp_type: None,
        icmp_code: None,
        tcp_flags: None,
        return_path: true,
    };
    let t = control::client::trace(lab.vpcd().socket_path(), &spec).unwrap();
    assert!(
        matches!(t.forward.outcome, Outcome::Delivered { .. }),
        "{t}"
    );
    assert!(t.to_string().contains("203.0.113.10"), "{t}");
    let spec = TraceSpec {
        from: "bogon".into(),
        ..spec
    };
    let t = control::client::trace(lab.vpcd().socket_path(), &spec).unwrap();
    assert!(
        !matches!(t.forward.outcome, Outcome::Delivered { .. }),
        "{t}"
    );
}

/// A gateway with no internet hosts is valid and forwards to the segment: what the
/// instance sends leaves on the bridge (tcpdump there sees it, from the Elastic IP) and
/// is lost, as on the internet.
#[test]
fn gateway_without_hosts_forwards_to_the_segment() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology(""));
    let mut dump = tcpdump(lab.segment(), &["-l", "-n", "-i", "inet0", "icmp"]);
    let sent = uplink(&lab, IGW).tx_packets;
    let r = ping_unanswered(lab.ns("eni-web"), "203.0.113.9", 1, &[]);
    assert_eq!(r.received, 0);
    let line = dump
        .wait_for_line(
            |_, l| l.contains(&format!("{WEB_EIP} > 203.0.113.9: ICMP echo request")),
            Duration::from_secs(5),
        )
        .unwrap();
    assert!(!line.is_empty());
    assert!(uplink(&lab, IGW).tx_packets > sent);
}

/// Two VPCs, each with its gateway on the segment: an instance of one reaches the other's
/// Elastic IP over the internet (the server sees the client's Elastic IP), and a host
/// behind only one gateway gets no answer from the other's addresses.
#[test]
fn two_vpcs_meet_on_the_internet_and_hosts_sit_behind_chosen_gateways() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let second = r#"
[[vpc]]
id = "vpc-b"
cidr = "10.1.0.0/16"

[[route_table]]
id = "rtb-b"
vpc = "vpc-b"
main = true
routes = [{ destination = "0.0.0.0/0", target = "igw-b" }]

[[subnet]]
id = "subnet-b"
vpc = "vpc-b"
cidr = "10.1.1.0/24"

[[internet_gateway]]
id = "igw-b"
vpc = "vpc-b"

[[security_group]]
id = "sg-b"
vpc = "vpc-b"
inbound = [{ protocol = "icmp", source = "0.0.0.0/0" }]

[[eni]]
id = "eni-b"
subnet = "subnet-b"
private_ip = "10.1.1.10"
netns = "b"
security_groups = ["sg-b"]

[[elastic_ip]]
id = "eipalloc-b"
public_ip = "203.0.113.50"
eni = "eni-b"

[[internet_host]]
id = "only-t"
addresses = ["192.0.2.5"]
internet_gateways = ["igw-t"]
"#;
    let lab = start(&topology(second));
    let mut srv = http_server(lab.ns("eni-web"), "10.0.1.10", "web");
    // b → web's Elastic IP: out of igw-b, across the segment, in through igw-t.
    ping_ok(lab.ns("eni-b"), WEB_EIP);
    let sg_b_allows_no_http = curl_url(lab.ns("eni-web"), "http://203.0.113.50/", 2);
    assert!(sg_b_allows_no_http.is_err(), "{sg_b_allows_no_http:?}");
    let body = curl_url(lab.ns("eni-b"), &format!("http://{WEB_EIP}/"), 5).unwrap();
    assert_eq!(body, "hello from web\n");
    assert_eq!(srv.next_client("/").ip().to_string(), "203.0.113.50");

    let only_t = lab.host("only-t");
    ping_ok(only_t, WEB_EIP);
    let r = ping_unanswered(only_t, "203.0.113.50", 2, &[]);
    assert_eq!(
        r.received, 0,
        "igw-b does not answer a host that is not behind it"
    );
}

/// `vpcctl up` builds the segment and the hosts and starts their services; `vpcctl exec
/// HOST` runs in the host's namespace; `vpcctl down` stops the services and removes every
/// namespace it created.
#[test]
fn vpcctl_up_exec_down_with_internet_hosts() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let prefix = RunPrefix::new().unwrap();
    let dir = Scratch::new(&format!("{prefix}-inet")).unwrap();
    let (web_ns, seg_ns, client_ns) = (
        prefix.ns_name("web"),
        prefix.ns_name("internet"),
        prefix.ns_name("client"),
    );
    let hosts = format!(
        "[internet]\nnetns = \"{seg_ns}\"\n\n[[internet_host]]\nid = \"client\"\nnetns = \"{client_ns}\"\naddresses = [\"203.0.113.10\"]\nservices = [{{ kind = \"http\", port = 80 }}]\n"
    );
    let topo = topology(&hosts).replace("netns = \"web\"", &format!("netns = \"{web_ns}\""));
    let file = dir.join("topology.toml");
    std::fs::write(&file, &topo).unwrap();
    let ctl = Vpcctl::new(dir.join("run").join("vpcd.sock")).unwrap();
    let mut up = ctl.up(&file).unwrap();
    for ns in [&web_ns, &seg_ns, &client_ns] {
        assert!(
            dataplane::sys::ip::netns_exists(ns),
            "{ns}: {}",
            up.up_stdout()
        );
    }
    let out = ctl
        .run(
            &[
                "exec", "client", "--", "ip", "-4", "-o", "addr", "show", "eth0",
            ],
            CMD,
        )
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("203.0.113.10/32"));
    // The service answers from the host's namespace, through the gateway, to the instance.
    let out = ctl
        .run(
            &[
                "exec",
                "eni-web",
                "--",
                "curl",
                "-sS",
                "--max-time",
                "5",
                "http://203.0.113.10/",
            ],
            CMD,
        )
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.starts_with(&format!("client saw {WEB_EIP}:")),
        "{out:?}"
    );
    let show = ctl.run(&["show"], CMD).unwrap();
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("internet segment"), "{show}");
    assert!(
        show.contains("client") && show.contains("203.0.113.10"),
        "{show}"
    );

    let out = up.down().unwrap();
    assert!(out.status.success(), "{out:?}");
    for ns in [&web_ns, &seg_ns, &client_ns] {
        assert!(!dataplane::sys::ip::netns_exists(ns), "{ns} still exists");
    }
}
