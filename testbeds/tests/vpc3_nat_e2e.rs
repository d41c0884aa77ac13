//! End-to-end tests of the NAT gateway (VPC-3): a private subnet reaches the internet through
//! a public NAT gateway and its Elastic IP, and nothing reaches it back uninvited; per-
//! destination port exhaustion; the idle timeout and its RST; ICMP errors translated with
//! their quoted header; the gateway subnet's network ACL on the return path; a private NAT
//! gateway refused by the internet gateway; and refusals decided per packet against the
//! translations of the moment (an earlier refusal of the same 5-tuple is not remembered,
//! and every refused packet is counted) — through real namespaces, real TAPs and `vpcd`,
//! with real clients (curl, python3 http.server, ping, tcpdump, and `tcp-probe` from this
//! crate for connections that are held open and written to later).
//!
//! Every test builds its own topology on its own [`Lab`] (VPC 10.0.0.0/16; subnet-pub
//! 10.0.1.0/24 routing `0.0.0.0/0` to igw-t and holding nat-t at 10.0.1.220 with the Elastic
//! IP 198.51.100.7; subnet-priv 10.0.2.0/24 routing `0.0.0.0/0` to nat-t, with eni-app1 at
//! 10.0.2.20 in a group open to everything; the internet namespace on 203.0.113.0/24 with
//! the gateway at .1 and a host at .5), so tests run in parallel. Readiness is a signal (the
//! servers' "ready" lines, tcpdump's "listening on", tcp-probe's "connected"); counters and
//! the NAT gateway's metrics (synced from the fast path every 50 ms) are polled with a
//! deadline; nothing sleeps to synchronise.
//!
//! Drops of frames that came in from the internet are charged to the gateway's uplink;
//! drops of frames an ENI sent (also those the NAT gateway refused) are charged to that ENI.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::net::SocketAddr;
use std::time::Duration;

use dataplane::observe::stats::NatMetrics;
use dataplane::vpc::verdict::DropReason;
use testbeds::process::Stream;
use testbeds::{Lab, Netns, NsChild};

mod common;
use common::{
    curl_blocked, drops, expect_drops, expect_uplink_drops, hold, http_server, ip, nacl_denied,
    ping_ok, ping_unanswered, poll, probe_server, python_ready, start, tcpdump, uplink,
    vpcctl_apply, CMD, COUNTER_WAIT, PROBE,
};

// --- topology text -------------------------------------------------------------------------

const IGW: &str = "igw-t";
const NAT: &str = "nat-t";
/// The NAT gateway's private address (in subnet-pub).
const NAT_IP: &str = "10.0.1.220";
/// The NAT gateway's Elastic IP.
const NAT_EIP: &str = "198.51.100.7";
/// The private instance.
const APP: &str = "eni-app1";
const APP_IP: &str = "10.0.2.20";
/// The internet host (the namespace of igw-t).
const HOST: &str = "203.0.113.5";

/// The VPC without its NAT gateway: tables, subnets, the internet gateway, and eni-app1 in
/// subnet-priv (whose table sends `0.0.0.0/0` to nat-t) with `sg-open` (everything in, so
/// that only the NAT gateway stands between the internet and it).
fn vpc() -> String {
    format!(
        r#"
[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-main"
vpc = "vpc-t"
main = true

[[route_table]]
id = "rtb-public"
vpc = "vpc-t"
routes = [{{ destination = "0.0.0.0/0", target = "{IGW}" }}]

[[route_table]]
id = "rtb-priv"
vpc = "vpc-t"
routes = [{{ destination = "0.0.0.0/0", target = "{NAT}" }}]

[[subnet]]
id = "subnet-pub"
vpc = "vpc-t"
cidr = "10.0.1.0/24"
route_table = "rtb-public"

[[subnet]]
id = "subnet-priv"
vpc = "vpc-t"
cidr = "10.0.2.0/24"
route_table = "rtb-priv"

[[internet_gateway]]
id = "{IGW}"
vpc = "vpc-t"
internet = {{ netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["{HOST}"] }}

[[security_group]]
id = "sg-open"
vpc = "vpc-t"
inbound = [{{ protocol = "-1", source = "0.0.0.0/0" }}]

[[eni]]
id = "{APP}"
subnet = "subnet-priv"
private_ip = "{APP_IP}"
netns = "app1"
security_groups = ["sg-open"]
"#
    )
}

/// A public NAT gateway in subnet-pub with its Elastic IP.
fn public_nat() -> String {
    format!(
        r#"
[[nat_gateway]]
id = "{NAT}"
subnet = "subnet-pub"
connectivity = "public"
allocation_id = "eipalloc-nat"
private_ip = "{NAT_IP}"

[[elastic_ip]]
id = "eipalloc-nat"
public_ip = "{NAT_EIP}"
"#
    )
}

/// The VPC with a public NAT gateway and `lab` (lines of the `[lab]` table, may be empty).
fn topology(lab: &str) -> String {
    let lab = if lab.is_empty() {
        String::new()
    } else {
        format!("\n[lab]\n{lab}\n")
    };
    format!("{}{}{lab}", vpc(), public_nat())
}

// --- counters and metrics ------------------------------------------------------------------

/// nat-t's metrics as `vpcctl show --json` reports them.
fn nat_metrics(lab: &Lab) -> NatMetrics {
    lab.show()
        .unwrap()
        .nat_gateways
        .into_iter()
        .find(|n| n.id == NAT)
        .unwrap_or_else(|| panic!("vpcd reports no NAT gateway {NAT}"))
        .metrics
}

/// Polls nat-t's metrics until `done` holds (asserting it does within `timeout`).
fn wait_nat(
    lab: &Lab,
    what: &str,
    timeout: Duration,
    done: impl Fn(&NatMetrics) -> bool,
) -> NatMetrics {
    let m = poll(timeout, || nat_metrics(lab), &done);
    assert!(done(&m), "{NAT} metrics: {what}; got {m:#?}");
    m
}

// --- HTTP ----------------------------------------------------------------------------------

/// A curl of `/` that must return the page of server `name`; returns curl's local port.
fn curl_ok(ns: &Netns, dst: &str, name: &str) -> u16 {
    let t = "10";
    let out = ns
        .exec(
            &[
                "curl",
                "-sS",
                "--connect-timeout",
                t,
                "--max-time",
                t,
                "-w",
                "%{local_port}",
                &format!("http://{dst}/"),
            ],
            CMD + Duration::from_secs(10),
        )
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl {} -> {dst}: {} {}",
        ns.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let want = format!("hello from {name}\n");
    let port = stdout
        .strip_prefix(&want)
        .unwrap_or_else(|| panic!("curl {} -> {dst}: {stdout:?}, want {want:?}", ns.name()));
    port.trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl's local port {port:?}"))
}

// --- tcp-probe -----------------------------------------------------------------------------

/// The peer of the next `accepted PORT from IP:PORT` line of a probe server.
fn next_accepted(server: &mut NsChild, port: u16) -> SocketAddr {
    let prefix = format!("accepted {port} from ");
    let line = server
        .wait_for_line(|s, l| s == Stream::Stdout && l.starts_with(&prefix), CMD)
        .unwrap();
    line[prefix.len()..]
        .parse()
        .unwrap_or_else(|_| panic!("bad peer in {line:?}"))
}

/// A one-off `tcp-probe connect` that gives up after `secs`: its first output line.
fn connect_once(ns: &Netns, dst: &str, port: u16, secs: u32) -> String {
    let (p, t) = (port.to_string(), secs.to_string());
    let out = ns
        .exec(
            &[PROBE, "connect", dst, &p, &t],
            CMD + Duration::from_secs(u64::from(secs)),
        )
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn sock(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(addr), port)
}

// --- 1. outbound through the NAT gateway, nothing inbound --------------------------------------

/// A private instance fetches a page from the internet through nat-t: the server sees the
/// NAT gateway's Elastic IP with a source port in 1024–65535 (curl's own port, which was in
/// range and free), never the private address; ping goes through too. From the internet,
/// the Elastic IP opens nothing (HTTP or ping: `nat_no_translation` on the uplink, though
/// the instance's group would admit it), and neither the Elastic IP nor the private address
/// answers ping.
#[test]
fn private_subnet_reaches_the_internet_through_the_nat_gateway_and_not_back() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology(""));
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);

    let mut host = http_server(inet, HOST, "the internet");
    let local_port = curl_ok(app, HOST, "the internet");
    let client = host.next_client("/");
    assert_eq!(
        client.ip(),
        ip(NAT_EIP),
        "host's access log: {}",
        host.log()
    );
    assert!(
        (1024..=65535).contains(&client.port()),
        "source port {} outside 1024-65535",
        client.port()
    );
    assert_eq!(
        client.port(),
        local_port,
        "an in-range, free source port is kept"
    );
    ping_ok(app, HOST);
    assert!(
        !host.log().contains("10.0."),
        "a private address reached the internet: {}",
        host.log()
    );
    let m = wait_nat(
        &lab,
        "the curl and the ping were translated",
        COUNTER_WAIT,
        |m| {
            m.connection_attempt_count >= 2
                && m.connection_established_count >= 1
                && m.packets_out_to_destination >= 5
                && m.packets_in_from_destination >= 4
                && m.bytes_in_from_destination > 0
                && m.packets_out_to_source == m.packets_in_from_destination
        },
    );
    assert_eq!(m.error_port_allocation, 0, "{m:#?}");

    // Nothing comes in uninvited, though sg-open would admit it.
    let app_srv = http_server(app, APP_IP, "app1");
    let up0 = uplink(&lab, IGW).drops[DropReason::NatNoTranslation.index()];
    let app0 = drops(&lab, APP, DropReason::NatNoTranslation);
    curl_blocked(inet, NAT_EIP);
    let up1 = expect_uplink_drops(&lab, IGW, DropReason::NatNoTranslation, up0);
    let r = ping_unanswered(inet, NAT_EIP, 2, &[]);
    assert_eq!(r.received, 0, "the NAT gateway's Elastic IP answered ping");
    let up2 = expect_uplink_drops(&lab, IGW, DropReason::NatNoTranslation, up1);
    let r = ping_unanswered(app, NAT_IP, 2, &[]);
    assert_eq!(
        r.received, 0,
        "the NAT gateway's private address answered ping"
    );
    let app1 = expect_drops(&lab, APP, DropReason::NatNoTranslation, app0);
    assert!(!app_srv.log().contains("GET"), "{}", app_srv.log());
    // Every packet the gateway refused is one of PacketsDropCount (retransmitted SYNs and
    // repeated echo requests included).
    let refused = (up2 - up0) + (app1 - app0);
    assert!(refused >= 6, "2+ SYNs and 4 echo requests: {refused}");
    wait_nat(
        &lab,
        &format!("PacketsDropCount grows by the {refused} refused packets"),
        COUNTER_WAIT,
        |n| n.packets_drop_count == m.packets_drop_count + refused,
    );
}

// --- 2. port exhaustion per destination ----------------------------------------------------------

/// With two ports (1024–1025), two held connections to HOST:8001 take both; a third to the
/// same destination is dropped (`nat_port_allocation` on the ENI, `ErrorPortAllocation`),
/// while HOST:8002 — another destination — still gets a connection (from one of the same
/// two ports), and the held connections keep working.
#[test]
fn port_range_exhaustion_is_per_destination() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology("nat_gateway_ports = [1024, 1025]"));
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);
    let mut srv = probe_server(inet, HOST, &[8001, 8002]);

    let mut held = [hold(app, HOST, 8001, 5), hold(app, HOST, 8001, 5)];
    let mut seen = Vec::new();
    for (i, h) in held.iter_mut().enumerate() {
        assert_eq!(h.send(&format!("held{i}")), format!("echo held{i}"));
        seen.push(next_accepted(&mut srv, 8001));
    }
    seen.sort();
    assert_eq!(
        seen,
        [sock(NAT_EIP, 1024), sock(NAT_EIP, 1025)],
        "the two connections use the two ports of the Elastic IP (inside ports {} and {})",
        held[0].local,
        held[1].local
    );
    wait_nat(&lab, "two open TCP connections", COUNTER_WAIT, |m| {
        m.active_connection_count == 2 && m.connection_established_count == 2
    });

    let before = drops(&lab, APP, DropReason::NatPortAllocation);
    let errors = nat_metrics(&lab).error_port_allocation;
    let third = connect_once(app, HOST, 8001, 2);
    assert!(
        third.starts_with("connect-error TimedOut"),
        "a third connection to {HOST}:8001: {third:?}"
    );
    expect_drops(&lab, APP, DropReason::NatPortAllocation, before);
    // Each refused SYN (the first and its retransmissions) is one ErrorPortAllocation.
    let (refused, m) = poll(
        COUNTER_WAIT,
        || {
            (
                drops(&lab, APP, DropReason::NatPortAllocation) - before,
                nat_metrics(&lab),
            )
        },
        |(n, m)| m.error_port_allocation - errors == *n,
    );
    assert!(
        refused >= 1 && m.error_port_allocation - errors == refused,
        "{refused} SYNs refused on {APP}, ErrorPortAllocation {m:#?}"
    );
    assert!(m.packets_drop_count >= refused, "{m:#?}");

    // Another destination port is another destination.
    let mut other = hold(app, HOST, 8002, 5);
    assert_eq!(other.send("other"), "echo other");
    let peer = next_accepted(&mut srv, 8002);
    assert_eq!(peer.ip(), ip(NAT_EIP));
    assert!((1024..=1025).contains(&peer.port()), "{peer}");
    // The held ones are unaffected.
    for (i, h) in held.iter_mut().enumerate() {
        assert_eq!(h.send(&format!("again{i}")), format!("echo again{i}"));
    }
    let accepted_8001 = srv
        .stdout_text()
        .lines()
        .filter(|l| l.starts_with("accepted 8001 "))
        .count();
    assert_eq!(accepted_8001, 2, "server log:\n{}", srv.stdout_text());
}

// --- 3. idle timeout and RST ------------------------------------------------------------------

/// With a 2 s idle timeout, an idle connection's translation expires (`IdleTimeoutCount`);
/// the next segment from inside is answered with a RST from the destination's address (the
/// inside socket reports "connection reset"; `resets_sent`, `nat_reset` on the ENI), and
/// the segment never reaches the destination. A new connection works at once.
#[test]
fn idle_translation_expires_and_the_next_segment_gets_a_reset() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology("nat_gateway_idle_timeout = 2"));
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);
    let srv = probe_server(inet, HOST, &[8001]);

    let mut conn = hold(app, HOST, 8001, 5);
    assert_eq!(conn.send("before"), "echo before");
    wait_nat(&lab, "one open TCP connection", COUNTER_WAIT, |m| {
        m.active_connection_count == 1 && m.translations == 1
    });
    // The readiness signal of the timeout is the metric itself.
    let m = wait_nat(
        &lab,
        "the idle translation expired",
        COUNTER_WAIT + Duration::from_secs(2),
        |m| m.idle_timeout_count >= 1,
    );
    assert_eq!(
        (m.active_connection_count, m.translations, m.resets_sent),
        (0, 0, 0),
        "{m:#?}"
    );

    let before = drops(&lab, APP, DropReason::NatReset);
    assert_eq!(
        conn.send("after"),
        "reset",
        "tcp-probe:\n{}",
        conn.child.stdout_text()
    );
    expect_drops(&lab, APP, DropReason::NatReset, before);
    wait_nat(&lab, "the RST is counted", COUNTER_WAIT, |m| {
        m.resets_sent >= 1
    });
    assert!(
        !srv.stdout_text().contains("got 8001 after"),
        "the segment after the timeout reached the server:\n{}",
        srv.stdout_text()
    );

    let mut fresh = hold(app, HOST, 8001, 5);
    assert_eq!(fresh.send("fresh"), "echo fresh");
}

// --- 4. UDP and ICMP errors -------------------------------------------------------------------

/// One UDP query, answered with `r` × N. Args: host, port, reply size.
const UDP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    print("from", peer[0], peer[1], flush=True)
    s.sendto(b"r" * int(sys.argv[3]), peer)
"#;

/// A connected UDP socket bound to a given local address and port sends one datagram and
/// reports the answer, "refused" (ICMP port unreachable) or "timeout".
/// Args: local address, local port, host, port.
const UDP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.bind((sys.argv[1], int(sys.argv[2])))
s.connect((sys.argv[3], int(sys.argv[4])))
s.send(b"q")
try:
    print("got", len(s.recv(65535)))
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
"#;

/// The inside source port of the ICMP-error test: below 1024, so the gateway must remap it.
const UDP_INSIDE_PORT: u16 = 999;

/// One UDP query from `ns` (eni-app1's namespace), from APP_IP:`local_port` to HOST:`port`:
/// `got N`, `refused` or `timeout`.
fn udp_ask(ns: &Netns, local_port: u16, port: u16) -> String {
    let (l, p) = (local_port.to_string(), port.to_string());
    ns.exec_ok(&["python3", "-c", UDP_CLIENT, APP_IP, &l, HOST, &p], CMD)
        .unwrap()
        .trim()
        .to_string()
}

/// A UDP server on HOST:`port` answering 100 bytes, ready.
fn udp_server(inet: &Netns, port: u16) -> NsChild {
    let p = port.to_string();
    python_ready(inet, UDP_SERVER, &[HOST, &p, "100"])
}

/// The source (address, port) of the next datagram the UDP server logs.
fn udp_next_from(srv: &mut NsChild) -> SocketAddr {
    let line = srv
        .wait_for_line(|_, l| l.starts_with("from "), CMD)
        .unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    match (f.get(1), f.get(2).and_then(|p| p.parse().ok())) {
        (Some(a), Some(p)) => sock(a, p),
        _ => panic!("bad server line {line:?}"),
    }
}

/// UDP out and back through nat-t from inside port 999 (out of the gateway's range, so
/// remapped); the host sees the Elastic IP and a port in range. A datagram to a closed port
/// draws an ICMP port unreachable that quotes the Elastic IP and the gateway's port
/// (tcpdump on the host); it reaches the inside socket as "connection refused", which the
/// kernel delivers only if the quoted header was translated back to 10.0.2.20:999 (its
/// socket lookup uses the quoted addresses and ports) with a correct ICMP checksum.
#[test]
fn udp_and_its_icmp_port_unreachable_are_translated() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology(""));
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);
    let mut dump = tcpdump(inet, &["-l", "-n", "-v", "-i", "eth0", "udp or icmp"]);
    let mut srv = udp_server(inet, 5353);

    assert_eq!(udp_ask(app, UDP_INSIDE_PORT, 5353), "got 100");
    let from = udp_next_from(&mut srv);
    assert_eq!(from.ip(), ip(NAT_EIP), "{from}");
    assert!((1024..=65535).contains(&from.port()), "{from}");

    assert_eq!(
        udp_ask(app, UDP_INSIDE_PORT, 5354),
        "refused",
        "ICMP port unreachable"
    );
    // tcpdump -v: the datagram, then the error, then the datagram it quotes.
    let sent = format!("> {HOST}.5354: UDP, length 1");
    let out = dump
        .wait_for_line(|s, l| s == Stream::Stdout && l.contains(&sent), CMD)
        .unwrap();
    let out = out.trim().to_string();
    assert!(
        out.starts_with(&format!("{NAT_EIP}.")),
        "the datagram left with the Elastic IP: {out}"
    );
    dump.wait_for_line(
        |s, l| {
            s == Stream::Stdout
                && l.contains(&format!(
                    "{HOST} > {NAT_EIP}: ICMP {HOST} udp port 5354 unreachable"
                ))
        },
        CMD,
    )
    .unwrap();
    let quoted = dump
        .wait_for_line(|s, l| s == Stream::Stdout && l.contains(&sent), CMD)
        .unwrap();
    assert_eq!(
        quoted.trim(),
        out,
        "the ICMP error quotes the datagram as it left (Elastic IP and gateway port)"
    );
    assert!(
        !dump.stdout_text().contains("10.0."),
        "a private address reached the internet:\n{}",
        dump.stdout_text()
    );
    let m = wait_nat(&lab, "the ICMP error was passed back", COUNTER_WAIT, |m| {
        m.packets_in_from_destination >= 2 && m.packets_out_to_source >= 2
    });
    assert_eq!(m.packets_drop_count, 0, "{m:#?}");
}

// --- 5. the gateway subnet's network ACL -------------------------------------------------------

/// The subnet ACL of the NAT gateway: inbound allows only the VPC (what the private subnet
/// sends in), so the internet's replies to the gateway's ephemeral ports meet the final deny
/// (curl times out; `nacl_deny` on the uplink, the `*` rule counted). `vpcctl apply` of the
/// same file with an inbound rule for TCP 1024–65535 from 0.0.0.0/0 fixes it at once.
#[test]
fn gateway_subnet_acl_needs_the_return_rule() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = |return_rule: bool| {
        let ret = if return_rule {
            r#"  { rule = 110, protocol = "tcp", ports = "1024-65535", cidr = "0.0.0.0/0", action = "allow" },
"#
        } else {
            ""
        };
        format!(
            r#"{}
[[network_acl]]
id = "acl-pub"
vpc = "vpc-t"
subnets = ["subnet-pub"]
inbound = [
  {{ rule = 100, protocol = "-1", cidr = "10.0.0.0/16", action = "allow" }},
{ret}]
outbound = [{{ rule = 100, protocol = "-1", cidr = "0.0.0.0/0", action = "allow" }}]
"#,
            topology("")
        )
    };
    let lab = start(&topo(false));
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);
    let mut host = http_server(inet, HOST, "the internet");

    let before = uplink(&lab, IGW).drops[DropReason::NaclDeny.index()];
    let opened = nat_metrics(&lab).connection_attempt_count;
    curl_blocked(app, HOST);
    expect_uplink_drops(&lab, IGW, DropReason::NaclDeny, before);
    assert!(
        nacl_denied(&lab, "acl-pub", "inbound", "*") > 0,
        "{:?}",
        lab.show().unwrap().nacl_denies
    );
    assert_eq!(
        drops(&lab, APP, DropReason::NaclDeny),
        0,
        "the way out is open"
    );
    // The SYN did go out through the gateway: only the reply was refused.
    wait_nat(&lab, "the SYN opened a translation", COUNTER_WAIT, |m| {
        m.connection_attempt_count > opened && m.connection_established_count == 0
    });
    assert!(!host.log().contains("GET"), "{}", host.log());

    // The real `vpcctl apply` of the fixed file, with this lab's namespace names.
    vpcctl_apply(&lab, &topo(true), "fixed");

    let before = uplink(&lab, IGW).drops[DropReason::NaclDeny.index()];
    curl_ok(app, HOST, "the internet");
    assert_eq!(host.next_client("/").ip(), ip(NAT_EIP));
    assert_eq!(
        uplink(&lab, IGW).drops[DropReason::NaclDeny.index()],
        before
    );
}

// --- 6. a private NAT gateway behind an internet gateway -----------------------------------------

/// A private NAT gateway (no Elastic IP) in a subnet whose table sends `0.0.0.0/0` to the
/// internet gateway: it translates, but the internet gateway has no public address for its
/// private one and drops the traffic (`igw_no_public_ip`, charged to the sender); nothing
/// leaves for the internet.
#[test]
fn private_nat_gateway_traffic_is_dropped_at_the_internet_gateway() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        r#"{}
[[nat_gateway]]
id = "{NAT}"
subnet = "subnet-pub"
connectivity = "private"
private_ip = "{NAT_IP}"
"#,
        vpc()
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);
    let host = http_server(inet, HOST, "the internet");

    let before = drops(&lab, APP, DropReason::IgwNoPublicIp);
    curl_blocked(app, HOST);
    let before = expect_drops(&lab, APP, DropReason::IgwNoPublicIp, before);
    let r = ping_unanswered(app, HOST, 2, &[]);
    assert_eq!(r.received, 0, "ping through a private NAT gateway");
    expect_drops(&lab, APP, DropReason::IgwNoPublicIp, before);
    let c = uplink(&lab, IGW);
    assert_eq!(
        c.tx_packets,
        c.arp_replies + c.icmp_echo_replies,
        "nothing but the gateway's own answers may leave through {IGW}: {c:?}"
    );
    assert!(!host.log().contains("GET"), "{}", host.log());
}

// --- 7. refusals are decided per packet, against the translations of the moment --------------

/// Sends one UDP datagram from `src:sport` to `dst:dport` in `ns` (a stray packet).
const UDP_STRAY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.sendto(b"stray", (sys.argv[3], int(sys.argv[4])))
"#;

/// An unsolicited datagram from HOST:5353 to the Elastic IP's port 40000 is refused
/// (`nat_no_translation`); when eni-app1 then talks from port 40000 to HOST:5353 (the
/// gateway keeps the in-range port), the same 5-tuple is now a reply of a translation and
/// must come in: the earlier refusal may not be remembered.
#[test]
fn an_earlier_refusal_does_not_block_a_later_translation() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology(""));
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);

    let b = uplink(&lab, IGW).drops[DropReason::NatNoTranslation.index()];
    inet.exec_ok(
        &["python3", "-c", UDP_STRAY, HOST, "5353", NAT_EIP, "40000"],
        CMD,
    )
    .unwrap();
    expect_uplink_drops(&lab, IGW, DropReason::NatNoTranslation, b);

    let mut srv = udp_server(inet, 5353);
    assert_eq!(
        udp_ask(app, 40000, 5353),
        "got 100",
        "the reply to {NAT_EIP}:40000; uplink drops {:?}",
        uplink(&lab, IGW).drop_map()
    );
    assert_eq!(udp_next_from(&mut srv), sock(NAT_EIP, 40000));
}

/// With a single port (1024) and a 2 s idle timeout: one UDP flow to HOST:5353 takes the
/// port, a second one (another inside port) is refused (`nat_port_allocation`,
/// `ErrorPortAllocation`); once the first translation has gone idle (`IdleTimeoutCount`),
/// the second flow's next datagram gets the port.
#[test]
fn a_port_freed_by_the_idle_timeout_serves_a_refused_flow() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&topology(
        "nat_gateway_ports = [1024, 1024]\nnat_gateway_idle_timeout = 2",
    ));
    let inet = lab.internet(IGW);
    let app = lab.ns(APP);
    let mut srv = udp_server(inet, 5353);

    assert_eq!(udp_ask(app, 2000, 5353), "got 100");
    assert_eq!(udp_next_from(&mut srv), sock(NAT_EIP, 1024));
    let before = drops(&lab, APP, DropReason::NatPortAllocation);
    assert_eq!(
        udp_ask(app, 2001, 5353),
        "timeout",
        "no port for a second flow"
    );
    expect_drops(&lab, APP, DropReason::NatPortAllocation, before);
    wait_nat(&lab, "ErrorPortAllocation", COUNTER_WAIT, |m| {
        m.error_port_allocation >= 1
    });
    wait_nat(
        &lab,
        "the first flow went idle",
        COUNTER_WAIT + Duration::from_secs(2),
        |m| m.idle_timeout_count >= 1 && m.translations == 0,
    );
    assert_eq!(
        udp_ask(app, 2001, 5353),
        "got 100",
        "the freed port; {APP} drops {:?}",
        lab.counters(APP).unwrap().drop_map()
    );
    assert_eq!(udp_next_from(&mut srv), sock(NAT_EIP, 1024));
}
