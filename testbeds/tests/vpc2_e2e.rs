//! End-to-end tests of the second VPC issue (firewalls): network ACLs at subnet boundaries
//! and stateful security groups per ENI, through real namespaces, real TAPs and `vpcd`, with
//! real clients (curl against busybox httpd, socat TCP and raw IP, ping, python sockets).
//!
//! Every test builds its own small topology (VPC 10.0.0.0/16, subnet-a 10.0.1.0/24,
//! subnet-b 10.0.2.0/24) on its own [`Lab`], so tests run in parallel. Waits use readiness
//! signals (socat's `listening on`, a listener in `ss`, a script's `ready` line) or poll a
//! counter with a deadline. The only sleeps are where a conntrack timeout has to pass: that
//! is the thing under test, and `[lab] conntrack_time_scale` keeps it short.
//!
//! Drop counters are charged to the ENI the dropped frame came from (its sender), also when
//! the receiver's security group or the destination subnet's ACL refused it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::io::{Read, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dataplane::observe::stats::NaclDenyReport;
use dataplane::vpc::verdict::DropReason;
use testbeds::process::Stream;
use testbeds::{Lab, Netns, NsChild, Scratch, SpawnOpts, Vpcctl};

mod common;
use common::{
    curl_url, drops, expect_drops, nacl_denied, ping_unanswered, python_ready, socat_listener,
    start, sysctl, CMD, COUNTER_WAIT,
};

// --- topology text -------------------------------------------------------------------------

/// The VPC, its main route table and two subnets.
const BASE: &str = r#"
[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-main"
vpc = "vpc-t"
main = true

[[subnet]]
id = "subnet-a"
vpc = "vpc-t"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-t"
cidr = "10.0.2.0/24"
"#;

/// Security-group rule: everything from inside the VPC.
const FROM_VPC: &str = r#"{ protocol = "-1", source = "10.0.0.0/16" }"#;
/// Network-ACL rule 100: allow everything.
const ACL_ALLOW_ALL: &str =
    r#"{ rule = 100, protocol = "-1", cidr = "0.0.0.0/0", action = "allow" }"#;

/// [`BASE`], preceded by a `[lab]` table when `scale` is given.
fn vpc(scale: Option<f64>) -> String {
    let lab = scale
        .map(|s| format!("[lab]\nconntrack_time_scale = {s}\n"))
        .unwrap_or_default();
    format!("{lab}{BASE}")
}

/// An ENI in namespace `id` without its `eni-` prefix; no groups = the VPC's default group.
fn eni(id: &str, subnet: &str, addr: &str, groups: &[&str], extra: &str) -> String {
    let ns = id.trim_start_matches("eni-");
    let groups = if groups.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
        format!("security_groups = [{}]\n", quoted.join(", "))
    };
    format!(
        "\n[[eni]]\nid = \"{id}\"\nsubnet = \"{subnet}\"\nprivate_ip = \"{addr}\"\nnetns = \"{ns}\"\n{groups}{extra}\n"
    )
}

fn rule_list(rules: &[&str]) -> String {
    format!("[\n  {}\n]", rules.join(",\n  "))
}

/// A security group; `outbound: None` keeps a new group's default (all traffic out).
fn sg(id: &str, inbound: &[&str], outbound: Option<&[&str]>) -> String {
    let out = outbound
        .map(|o| format!("outbound = {}\n", rule_list(o)))
        .unwrap_or_default();
    format!(
        "\n[[security_group]]\nid = \"{id}\"\nvpc = \"vpc-t\"\ninbound = {}\n{out}",
        rule_list(inbound)
    )
}

/// A network ACL associated with `subnets`.
fn nacl(id: &str, subnets: &[&str], inbound: &[&str], outbound: &[&str]) -> String {
    let subnets: Vec<String> = subnets.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "\n[[network_acl]]\nid = \"{id}\"\nvpc = \"vpc-t\"\nsubnets = [{}]\ninbound = {}\noutbound = {}\n",
        subnets.join(", "),
        rule_list(inbound),
        rule_list(outbound)
    )
}

// --- counters ------------------------------------------------------------------------------

fn nacl_report(lab: &Lab) -> Vec<NaclDenyReport> {
    lab.show().unwrap().nacl_denies
}

// --- servers and clients -------------------------------------------------------------------

/// Polls `ss` in `ns` until something listens on `port` (`proto`: `t` or `u`).
fn wait_listening(ns: &Netns, proto: char, port: u16) {
    let flags = format!("-Hl{proto}n");
    let filter = format!("sport = :{port}");
    let deadline = Instant::now() + CMD;
    let mut step = Duration::from_millis(2);
    loop {
        let out = ns.exec_ok(&["ss", &flags, &filter], CMD).unwrap();
        if !out.trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {proto}/{port} in {}",
            ns.name()
        );
        std::thread::sleep(step);
        step = (step * 2).min(Duration::from_millis(50));
    }
}

/// `busybox httpd` serving "hello from ENI" on IP:80 in the ENI's namespace.
struct Http {
    _child: NsChild,
    _dir: Scratch,
}

fn http_server(lab: &Lab, eni: &str) -> Http {
    let ns = lab.ns(eni);
    let dir = Scratch::new(&format!("{}-www", ns.name())).unwrap();
    std::fs::write(dir.join("index.html"), format!("hello from {eni}\n")).unwrap();
    let bind = format!("{}:80", lab.ip(eni));
    let child = ns
        .spawn(&[
            "busybox",
            "httpd",
            "-f",
            "-p",
            &bind,
            "-h",
            &dir.path().to_string_lossy(),
        ])
        .unwrap();
    wait_listening(ns, 't', 80);
    Http {
        _child: child,
        _dir: dir,
    }
}

/// `curl http://IP/` from `ns` with an overall deadline of `secs`: the body, or curl's error.
fn curl(ns: &Netns, dst: IpAddr, secs: u32) -> Result<String, String> {
    curl_url(ns, &format!("http://{dst}/"), secs)
}

/// A curl that must work and return ENI `to`'s page.
fn curl_ok(lab: &Lab, from: &str, to: &str) {
    let body =
        curl(lab.ns(from), lab.ip(to), 10).unwrap_or_else(|e| panic!("curl {from} -> {to}: {e}"));
    assert_eq!(body, format!("hello from {to}\n"), "curl {from} -> {to}");
}

/// A curl that must fail by timing out (its packets dropped, not refused by the server).
fn curl_blocked(lab: &Lab, from: &str, to: &str) {
    match curl(lab.ns(from), lab.ip(to), 2) {
        Ok(body) => panic!("curl {from} -> {to} got through: {body:?}"),
        Err(e) => assert!(
            e.contains("timed out") || e.contains("Timeout"),
            "curl {from} -> {to} failed, but not by a timeout: {e}"
        ),
    }
}

/// A ping that must be fully answered.
fn ping_ok(lab: &Lab, from: &str, to: &str) {
    let (tx, rx) = lab.ping(from, lab.ip(to), 2).unwrap();
    assert_eq!((tx, rx), (2, 2), "ping {from} -> {to}");
}

/// A ping that must get no answer at all.
fn ping_blocked(lab: &Lab, from: &str, to: &str) {
    let r = ping_unanswered(lab.ns(from), &lab.ip(to).to_string(), 2, &[]);
    assert_eq!(
        (r.transmitted, r.received),
        (2, 0),
        "ping {from} -> {to} must go unanswered"
    );
}

/// `socat` receiving raw IP protocol 47 (GRE) in `ns`; payload lines arrive on stdout.
fn gre_listener(ns: &Netns) -> NsChild {
    let mut child = ns
        .spawn(&["socat", "-d", "-d", "-u", "IP4-RECV:47", "STDOUT"])
        .unwrap();
    child
        .wait_for_line(
            |s, l| s == Stream::Stderr && l.contains("starting data transfer loop"),
            CMD,
        )
        .unwrap();
    child
}

/// Sends one GRE packet (IP protocol 47) carrying `msg` from `ns` to `dst` with socat.
fn gre_send(ns: &Netns, dst: IpAddr, msg: &str) {
    let cmd = format!("echo {msg} | socat -u - IP4-SENDTO:{dst}:47");
    ns.exec_ok(&["sh", "-c", &cmd], CMD).unwrap();
}

/// Whether `listener` prints `msg` within `timeout`.
fn gre_got(listener: &mut NsChild, msg: &str, timeout: Duration) -> bool {
    listener
        .wait_for_line(|s, l| s == Stream::Stdout && l.trim() == msg, timeout)
        .is_ok()
}

/// UDP server: a datagram `D:…` is answered with `re:D:…` after D milliseconds.
const UDP_SERVER: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(4096)
    try:
        delay = int(d.split(b":")[0])
    except ValueError:
        delay = 0
    time.sleep(delay / 1000)
    s.sendto(b"re:" + d, a)
"#;

/// UDP client: each argument `S/D` sends `D:S/D` on socket S (a connected socket, created on
/// first use, so each S is one flow) and waits D ms + margin for an answer; prints
/// `S/D ok|timeout|refused` (refused: ICMP port unreachable reached the socket).
const UDP_CLIENT: &str = r#"
import socket, sys
dst = (sys.argv[1], int(sys.argv[2]))
margin = int(sys.argv[3]) / 1000
socks = {}
for step in sys.argv[4:]:
    i, d = step.split("/")
    if i not in socks:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(dst)
        socks[i] = s
    s = socks[i]
    s.settimeout(int(d) / 1000 + margin)
    try:
        s.send(d.encode() + b":" + step.encode())
        s.recv(4096)
        r = "ok"
    except socket.timeout:
        r = "timeout"
    except ConnectionRefusedError:
        r = "refused"
    print(step, r, flush=True)
"#;

/// Starts [`UDP_SERVER`] on IP:port of ENI `eni`.
fn udp_server(lab: &Lab, eni: &str, port: u16) -> NsChild {
    let (addr, port) = (lab.ip(eni).to_string(), port.to_string());
    python_ready(lab.ns(eni), UDP_SERVER, &[&addr, &port])
}

/// Runs [`UDP_CLIENT`] in `ns` and returns the outcome of each step.
fn udp_client(ns: &Netns, dst: IpAddr, port: u16, margin_ms: u32, steps: &[&str]) -> Vec<String> {
    let (dst, port, margin) = (dst.to_string(), port.to_string(), margin_ms.to_string());
    let mut argv = vec!["python3", "-c", UDP_CLIENT, &dst, &port, &margin];
    argv.extend_from_slice(steps);
    let out = ns.exec_ok(&argv, Duration::from_secs(60)).unwrap();
    let got: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
        .collect();
    assert_eq!(got.len(), steps.len(), "{out}");
    got
}

/// TCP server: each line `D` of a connection is answered with `late` after D milliseconds.
const TCP_SERVER: &str = r#"
import socket, sys, threading, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(8)
print("ready", flush=True)
def serve(c):
    for line in c.makefile("rb"):
        time.sleep(int(line) / 1000)
        c.sendall(b"late\n")
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// TCP client: one connection; each argument D is sent as a line and the answer awaited
/// D ms + margin; prints `D ok|timeout`.
const TCP_CLIENT: &str = r#"
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
margin = int(sys.argv[3]) / 1000
for d in sys.argv[4:]:
    c.settimeout(int(d) / 1000 + margin)
    c.sendall(d.encode() + b"\n")
    try:
        r = "ok" if c.recv(64) else "eof"
    except socket.timeout:
        r = "timeout"
    print(d, r, flush=True)
"#;

/// A crafted ICMP "fragmentation needed" (3/4) from argv[1] to argv[2], quoting a TCP packet
/// argv[2]:80 -> argv[1]:40000, followed by the marker `MARK`.
const SEND_FRAG_NEEDED: &str = r#"
import socket, struct, sys
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return (~s) & 0xffff
src, dst = sys.argv[1], sys.argv[2]
iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0x4000, 64, 6, 0,
                  socket.inet_aton(dst), socket.inet_aton(src))
iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
body = struct.pack("!BBHHH", 3, 4, 0, 0, 1400) + iph + struct.pack("!HHI", 80, 40000, 1) + b"MARK"
body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(body, (dst, 0))
"#;

/// Prints `got TYPE CODE` for each ICMP message carrying `MARK` (raw socket).
const RECV_ICMP_MARKED: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("ready", flush=True)
while True:
    d = s.recv(65535)
    h = (d[0] & 15) * 4
    if b"MARK" in d:
        print("got", d[h], d[h + 1], flush=True)
"#;

/// The `Send-Q` of the established TCP connection(s) to `peer` in `ns` (`ss -Htn`).
fn send_q(ns: &Netns, peer: &str) -> u64 {
    let filter = format!("dst {peer}");
    let out = ns
        .exec_ok(&["ss", "-Htn", "state", "established", &filter], CMD)
        .unwrap();
    out.lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// socat `TCP4-LISTEN:port` (one connection, no forked children) on ENI `eni`; received
/// lines arrive on stdout.
fn line_server(lab: &Lab, eni: &str, port: u16) -> NsChild {
    let listen = format!("TCP4-LISTEN:{port},bind={},reuseaddr", lab.ip(eni));
    socat_listener(lab.ns(eni), &listen)
}

/// socat client from ENI `from` to `to`:port, fed through its stdin pipe.
fn line_client(lab: &Lab, from: &str, to: &str, port: u16) -> (NsChild, std::process::ChildStdin) {
    let connect = format!("TCP4:{}:{port},connect-timeout=5", lab.ip(to));
    let mut child = lab
        .ns(from)
        .spawn_with(
            &["socat", "-u", "STDIN", &connect],
            SpawnOpts {
                stdin_pipe: true,
                die_with_thread: true,
                ..SpawnOpts::default()
            },
        )
        .unwrap();
    let stdin = child.take_stdin().unwrap();
    (child, stdin)
}

fn send_line(w: &mut impl Write, line: &str) {
    writeln!(w, "{line}").unwrap();
    w.flush().unwrap();
}

fn got_line(server: &mut NsChild, line: &str, timeout: Duration) -> bool {
    server
        .wait_for_line(|s, l| s == Stream::Stdout && l == line, timeout)
        .is_ok()
}

/// A new TCP connection from ENI `from` to `to`:port must time out (SYN dropped). Had the
/// SYN got through, the kernel would have answered it (accepted, or refused with a reset
/// when nothing listens any more), so a timeout is the firewall's doing.
fn connect_times_out(lab: &Lab, from: &str, to: &str, port: u16) {
    let connect = format!("TCP4:{}:{port},connect-timeout=1", lab.ip(to));
    let out = lab
        .ns(from)
        .exec(&["socat", "-u", "/dev/null", &connect], CMD)
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "new connection {from} -> {to}:{port} was accepted"
    );
    assert!(
        !err.contains("refused"),
        "refused by the server rather than dropped: {err}"
    );
}

// --- network ACLs --------------------------------------------------------------------------

/// Scenario 16: a fresh custom NACL (only `*`) cuts its subnet off both ways; disassociated,
/// the subnet is back on the default (allow all). `vpcctl show` names the denying rule.
#[test]
fn s16_fresh_custom_nacl_denies_all_until_disassociated() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let enis = format!(
        "{}{}{}",
        sg("sg-open", &[FROM_VPC], None),
        eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
        eni("eni-b1", "subnet-b", "10.0.2.20", &["sg-open"], ""),
    );
    let associated = format!(
        "{}{enis}{}",
        vpc(None),
        nacl("acl-b", &["subnet-b"], &[], &[])
    );
    let mut lab = start(&associated);
    let _web = http_server(&lab, "eni-b1");

    let a_before = drops(&lab, "eni-a1", DropReason::NaclDeny);
    ping_blocked(&lab, "eni-a1", "eni-b1");
    curl_blocked(&lab, "eni-a1", "eni-b1");
    expect_drops(&lab, "eni-a1", DropReason::NaclDeny, a_before);
    let b_before = drops(&lab, "eni-b1", DropReason::NaclDeny);
    ping_blocked(&lab, "eni-b1", "eni-a1");
    expect_drops(&lab, "eni-b1", DropReason::NaclDeny, b_before);

    // Both directions were refused by the final `*` rule of acl-b, and only by it.
    let report = nacl_report(&lab);
    let inbound = nacl_denied(&lab, "acl-b", "inbound", "*");
    let outbound = nacl_denied(&lab, "acl-b", "outbound", "*");
    assert!(inbound >= 2 && outbound >= 2, "{report:?}");
    assert!(
        report.iter().all(|d| d.nacl == "acl-b" && d.rule == "*"),
        "{report:?}"
    );
    // vpcd's counters (at least as high as read above) are what the ACL table of
    // `vpcctl show` prints in its DENIED column.
    let ctl = Vpcctl::new(lab.vpcd().socket_path()).unwrap();
    let out = ctl.run(&["show"], CMD).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    let acl = text
        .find("acl-b (vpc-t), subnets: subnet-b")
        .unwrap_or_else(|| panic!("no acl-b section:\n{text}"));
    let star_rows: Vec<u64> = text[acl..]
        .lines()
        .filter(|l| l.trim_start().starts_with("* "))
        .take(2)
        .map(|l| l.split_whitespace().last().unwrap().parse().unwrap())
        .collect();
    assert_eq!(star_rows.len(), 2, "{text}");
    assert!(
        star_rows[0] >= inbound && star_rows[1] >= outbound,
        "{star_rows:?} vs {inbound}/{outbound}:\n{text}"
    );

    // Disassociated (the ACL still exists): the default NACL lets everything through.
    let disassociated = format!("{}{enis}{}", vpc(None), nacl("acl-b", &[], &[], &[]));
    lab.apply(&disassociated).unwrap();
    let a_before = drops(&lab, "eni-a1", DropReason::NaclDeny);
    ping_ok(&lab, "eni-a1", "eni-b1");
    ping_ok(&lab, "eni-b1", "eni-a1");
    curl_ok(&lab, "eni-a1", "eni-b1");
    assert_eq!(drops(&lab, "eni-a1", DropReason::NaclDeny), a_before);
    assert!(nacl_report(&lab).is_empty(), "{:?}", nacl_report(&lab));
}

/// Scenario 17: a rule for protocol 47 with ports allows all GRE (ports are ignored); an ACL
/// allowing only ICMP 3/4 denies echo requests but passes "fragmentation needed".
#[test]
fn s17_nacl_protocol_and_icmp_type_code_semantics() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = |inb: &[&str], outb: &[&str]| {
        format!(
            "{}{}{}{}{}",
            vpc(None),
            sg("sg-open", &[FROM_VPC], None),
            eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
            eni("eni-b1", "subnet-b", "10.0.2.20", &["sg-open"], ""),
            nacl("acl-b", &["subnet-b"], inb, outb),
        )
    };
    let gre80 =
        r#"{ rule = 100, protocol = 47, ports = 80, cidr = "0.0.0.0/0", action = "allow" }"#;
    let mut lab = start(&topo(&[gre80], &[gre80]));
    let (a1, b1) = (lab.ns("eni-a1").clone(), lab.ns("eni-b1").clone());
    let mut gre_a = gre_listener(&a1);
    let mut gre_b = gre_listener(&b1);

    gre_send(&a1, lab.ip("eni-b1"), "gre-in");
    assert!(gre_got(&mut gre_b, "gre-in", CMD), "GRE into subnet-b");
    gre_send(&b1, lab.ip("eni-a1"), "gre-out");
    assert!(gre_got(&mut gre_a, "gre-out", CMD), "GRE out of subnet-b");
    // Nothing but GRE: ping is refused by `*`.
    let before = drops(&lab, "eni-a1", DropReason::NaclDeny);
    ping_blocked(&lab, "eni-a1", "eni-b1");
    expect_drops(&lab, "eni-a1", DropReason::NaclDeny, before);
    assert!(nacl_denied(&lab, "acl-b", "inbound", "*") >= 2);
    assert_eq!(nacl_denied(&lab, "acl-b", "inbound", "100"), 0);

    // Only ICMP type 3 code 4, both ways.
    let frag = r#"{ rule = 100, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr = "0.0.0.0/0", action = "allow" }"#;
    lab.apply(&topo(&[frag], &[frag])).unwrap();
    let before = drops(&lab, "eni-a1", DropReason::NaclDeny);
    ping_blocked(&lab, "eni-a1", "eni-b1");
    expect_drops(&lab, "eni-a1", DropReason::NaclDeny, before);
    assert!(
        nacl_denied(&lab, "acl-b", "inbound", "*") >= 2,
        "echo requests fall through rule 100 to *: {:?}",
        nacl_report(&lab)
    );
    let mut icmp_b = python_ready(&b1, RECV_ICMP_MARKED, &[]);
    let (a_ip, b_ip) = (lab.ip("eni-a1").to_string(), lab.ip("eni-b1").to_string());
    a1.exec_ok(&["python3", "-c", SEND_FRAG_NEEDED, &a_ip, &b_ip], CMD)
        .unwrap();
    icmp_b
        .wait_for_line(|s, l| s == Stream::Stdout && l == "got 3 4", CMD)
        .unwrap();
    // GRE no longer passes.
    let before = drops(&lab, "eni-a1", DropReason::NaclDeny);
    gre_send(&a1, lab.ip("eni-b1"), "gre-late");
    expect_drops(&lab, "eni-a1", DropReason::NaclDeny, before);
    assert!(!gre_got(&mut gre_b, "gre-late", Duration::from_millis(300)));
}

/// Trap: an ACL that admits HTTP but has no outbound rule for the answers (to the client's
/// ephemeral port) breaks curl; adding the ephemeral range fixes it at once.
#[test]
fn trap_missing_outbound_ephemeral_rule_breaks_return_traffic() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let http_in =
        r#"{ rule = 100, protocol = "tcp", ports = 80, cidr = "0.0.0.0/0", action = "allow" }"#;
    let eph_out = r#"{ rule = 100, protocol = "tcp", ports = "1024-65535", cidr = "0.0.0.0/0", action = "allow" }"#;
    let topo = |outb: &[&str]| {
        format!(
            "{}{}{}{}{}",
            vpc(None),
            sg("sg-open", &[FROM_VPC], None),
            eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
            eni("eni-s1", "subnet-b", "10.0.2.20", &["sg-open"], ""),
            nacl("acl-b", &["subnet-b"], &[http_in], outb),
        )
    };
    let mut lab = start(&topo(&[]));
    let _web = http_server(&lab, "eni-s1");
    let before = drops(&lab, "eni-s1", DropReason::NaclDeny);
    curl_blocked(&lab, "eni-a1", "eni-s1");
    // The SYN got in (rule 100); the server's SYN-ACK was denied on the way out.
    expect_drops(&lab, "eni-s1", DropReason::NaclDeny, before);
    assert!(
        nacl_denied(&lab, "acl-b", "outbound", "*") >= 1,
        "{:?}",
        nacl_report(&lab)
    );
    assert_eq!(nacl_denied(&lab, "acl-b", "inbound", "*"), 0);

    lab.apply(&topo(&[eph_out])).unwrap();
    curl_ok(&lab, "eni-a1", "eni-s1");
    assert!(nacl_report(&lab).is_empty(), "{:?}", nacl_report(&lab));
}

/// Trap: return traffic allowed only on 32768-61000 (Linux's range) works for a Linux client
/// but not for one using 1025-5000 (old Windows).
#[test]
fn trap_ephemeral_range_fits_one_client_os_only() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let http_in =
        r#"{ rule = 100, protocol = "tcp", ports = 80, cidr = "0.0.0.0/0", action = "allow" }"#;
    let linux_out = r#"{ rule = 100, protocol = "tcp", ports = "32768-61000", cidr = "0.0.0.0/0", action = "allow" }"#;
    let topo = format!(
        "{}{}{}{}{}{}",
        vpc(None),
        sg("sg-open", &[FROM_VPC], None),
        eni("eni-linux", "subnet-a", "10.0.1.10", &["sg-open"], ""),
        eni("eni-win", "subnet-a", "10.0.1.11", &["sg-open"], ""),
        eni("eni-s1", "subnet-b", "10.0.2.20", &["sg-open"], ""),
        nacl("acl-b", &["subnet-b"], &[http_in], &[linux_out]),
    );
    let lab = start(&topo);
    sysctl(lab.ns("eni-win"), "net.ipv4.ip_local_port_range=1025 5000");
    let linux_range = lab
        .ns("eni-linux")
        .exec_ok(&["sysctl", "-n", "net.ipv4.ip_local_port_range"], CMD)
        .unwrap();
    let range: Vec<u32> = linux_range
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        range[0] >= 32768 && range[1] <= 61000,
        "the Linux default: {linux_range}"
    );
    let _web = http_server(&lab, "eni-s1");
    curl_ok(&lab, "eni-linux", "eni-s1");
    let before = drops(&lab, "eni-s1", DropReason::NaclDeny);
    curl_blocked(&lab, "eni-win", "eni-s1");
    expect_drops(&lab, "eni-s1", DropReason::NaclDeny, before);
    assert!(
        nacl_denied(&lab, "acl-b", "outbound", "*") >= 1,
        "{:?}",
        nacl_report(&lab)
    );
    assert_eq!(nacl_denied(&lab, "acl-b", "outbound", "100"), 0);
}

/// Trap: rules are evaluated by number, first match wins. A deny numbered after a wider allow
/// is never reached; numbered before it, it blocks, and `nacl_denies` names it.
#[test]
fn trap_deny_after_a_wider_allow_is_never_reached() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = |deny_rule: u32| {
        let deny = format!(
            r#"{{ rule = {deny_rule}, protocol = "tcp", ports = 80, cidr = "10.0.1.10/32", action = "deny" }}"#
        );
        format!(
            "{}{}{}{}{}",
            vpc(None),
            sg("sg-open", &[FROM_VPC], None),
            eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
            eni("eni-s1", "subnet-b", "10.0.2.20", &["sg-open"], ""),
            nacl(
                "acl-b",
                &["subnet-b"],
                &[ACL_ALLOW_ALL, &deny],
                &[ACL_ALLOW_ALL]
            ),
        )
    };
    let mut lab = start(&topo(200));
    let _web = http_server(&lab, "eni-s1");
    curl_ok(&lab, "eni-a1", "eni-s1");
    assert!(nacl_report(&lab).is_empty(), "{:?}", nacl_report(&lab));

    lab.apply(&topo(90)).unwrap();
    let before = drops(&lab, "eni-a1", DropReason::NaclDeny);
    curl_blocked(&lab, "eni-a1", "eni-s1");
    expect_drops(&lab, "eni-a1", DropReason::NaclDeny, before);
    let report = nacl_report(&lab);
    assert!(
        nacl_denied(&lab, "acl-b", "inbound", "90") >= 1,
        "rule 90 named: {report:?}"
    );
    assert!(report.iter().all(|d| d.rule == "90"), "{report:?}");
    // Only TCP 80 from a1 is denied: ping still passes rule 100.
    ping_ok(&lab, "eni-a1", "eni-s1");
}

/// Trap: ACLs sit at the subnet boundary. Under a deny-all ACL, ENIs of the same subnet still
/// talk (layer 2, never evaluated); traffic to another subnet is denied.
#[test]
fn trap_nacl_is_not_evaluated_inside_a_subnet() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}{}{}{}",
        vpc(None),
        sg("sg-open", &[FROM_VPC], None),
        eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
        eni("eni-a2", "subnet-a", "10.0.1.11", &["sg-open"], ""),
        eni("eni-b1", "subnet-b", "10.0.2.20", &["sg-open"], ""),
        nacl("acl-a", &["subnet-a"], &[], &[]),
    );
    let lab = start(&topo);
    let _web = http_server(&lab, "eni-a2");
    ping_ok(&lab, "eni-a1", "eni-a2");
    ping_ok(&lab, "eni-a2", "eni-a1");
    curl_ok(&lab, "eni-a1", "eni-a2");
    assert!(nacl_report(&lab).is_empty(), "{:?}", nacl_report(&lab));
    assert_eq!(drops(&lab, "eni-a1", DropReason::NaclDeny), 0);

    ping_blocked(&lab, "eni-a1", "eni-b1");
    expect_drops(&lab, "eni-a1", DropReason::NaclDeny, 0);
    assert!(
        nacl_denied(&lab, "acl-a", "outbound", "*") >= 2,
        "{:?}",
        nacl_report(&lab)
    );
}

/// A deny added to an ACL mid-transfer stops the transfer with the next packet.
#[test]
fn nacl_deny_added_mid_transfer_stops_it_at_once() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let deny = r#"{ rule = 50, protocol = "-1", cidr = "10.0.1.0/24", action = "deny" }"#;
    let topo = |inb: &[&str]| {
        format!(
            "{}{}{}{}{}",
            vpc(None),
            sg("sg-open", &[FROM_VPC], None),
            eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
            eni("eni-s1", "subnet-b", "10.0.2.20", &["sg-open"], ""),
            nacl("acl-b", &["subnet-b"], inb, &[ACL_ALLOW_ALL]),
        )
    };
    let mut lab = start(&topo(&[ACL_ALLOW_ALL]));
    let listen = format!("TCP4-LISTEN:9000,bind={},reuseaddr", lab.ip("eni-s1"));
    let mut server = lab
        .ns("eni-s1")
        .spawn_with(
            &["socat", "-d", "-d", "-u", &listen, "STDOUT"],
            SpawnOpts {
                raw_stdout: true,
                die_with_thread: true,
                ..SpawnOpts::default()
            },
        )
        .unwrap();
    let mut sink = server.take_stdout().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let counted = received.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = sink.read(&mut buf) {
            if n == 0 {
                break;
            }
            counted.fetch_add(n as u64, Ordering::SeqCst);
        }
    });
    server
        .wait_for_line(
            |s, l| s == Stream::Stderr && l.contains("listening on"),
            CMD,
        )
        .unwrap();
    // A paced stream: 16 KiB every 5 ms (about 3 MB/s), until told to stop.
    let (mut client, mut pipe) = line_client(&lab, "eni-a1", "eni-s1", 9000);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 16 * 1024];
        while !stopped.load(Ordering::SeqCst) {
            if pipe.write_all(&chunk).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let deadline = Instant::now() + CMD;
    while received.load(Ordering::SeqCst) < 512 * 1024 {
        assert!(Instant::now() < deadline, "the transfer does not flow");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Still flowing right before the deny (polled: a fixed window would race the pacing).
    let tx_before = lab.counters("eni-s1").unwrap().tx_packets;
    lab.wait_counters("eni-s1", COUNTER_WAIT, |c| c.tx_packets > tx_before)
        .expect("the transfer was flowing");
    lab.apply(&topo(&[deny, ACL_ALLOW_ALL])).unwrap();
    // From the commit on, nothing more reaches eni-s1.
    let tx_at_apply = lab.counters("eni-s1").unwrap().tx_packets;
    let a_before = drops(&lab, "eni-a1", DropReason::NaclDeny);
    expect_drops(&lab, "eni-a1", DropReason::NaclDeny, a_before);
    // What the server's socket still held drains; after that nothing more arrives, while
    // the client keeps sending (retransmitting) into the deny.
    std::thread::sleep(Duration::from_millis(300));
    let bytes_then = received.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1000));
    let c = lab.counters("eni-s1").unwrap();
    assert_eq!(
        c.tx_packets, tx_at_apply,
        "frames still delivered to eni-s1 after the deny"
    );
    assert_eq!(
        received.load(Ordering::SeqCst),
        bytes_then,
        "bytes still arrive"
    );
    assert!(
        drops(&lab, "eni-a1", DropReason::NaclDeny) > a_before + 1,
        "the client kept trying"
    );
    assert!(
        nacl_denied(&lab, "acl-b", "inbound", "50") >= 2,
        "{:?}",
        nacl_report(&lab)
    );
    assert!(client.try_wait().unwrap().is_none(), "client still running");

    stop.store(true, Ordering::SeqCst);
    client.terminate(Duration::ZERO);
    server.terminate(Duration::ZERO);
    writer.join().unwrap();
    reader.join().unwrap();
}

// --- security groups -----------------------------------------------------------------------

/// Scenario 19: a fresh group admits nothing in, lets everything out (answers come back);
/// with `outbound = []` its ENI cannot start anything.
#[test]
fn s19_fresh_security_group_defaults_and_no_outbound() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = |fresh: String| {
        format!(
            "{}{}{fresh}{}{}",
            vpc(None),
            sg("sg-open", &[FROM_VPC], None),
            eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
            eni("eni-b1", "subnet-b", "10.0.2.20", &["sg-fresh"], ""),
        )
    };
    let mut lab = start(&topo(sg("sg-fresh", &[], None)));
    let _web_a = http_server(&lab, "eni-a1");
    let _web_b = http_server(&lab, "eni-b1");

    let before = drops(&lab, "eni-a1", DropReason::SgNoMatch);
    ping_blocked(&lab, "eni-a1", "eni-b1");
    curl_blocked(&lab, "eni-a1", "eni-b1");
    expect_drops(&lab, "eni-a1", DropReason::SgNoMatch, before);

    ping_ok(&lab, "eni-b1", "eni-a1");
    curl_ok(&lab, "eni-b1", "eni-a1");
    assert!(lab.counters("eni-b1").unwrap().conntrack_entries >= 1);

    lab.apply(&topo(sg("sg-fresh", &[], Some(&[])))).unwrap();
    let before = drops(&lab, "eni-b1", DropReason::SgNoMatch);
    ping_blocked(&lab, "eni-b1", "eni-a1");
    curl_blocked(&lab, "eni-b1", "eni-a1");
    expect_drops(&lab, "eni-b1", DropReason::SgNoMatch, before);
}

/// Scenario 20: members of the default group (self reference) talk on every protocol; an ENI
/// of another group is refused.
#[test]
fn s20_default_group_members_talk_others_are_refused() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}{}{}",
        vpc(None),
        sg("sg-other", &[], None),
        eni("eni-a1", "subnet-a", "10.0.1.10", &[], ""),
        eni("eni-a2", "subnet-b", "10.0.2.20", &[], ""),
        eni("eni-c1", "subnet-a", "10.0.1.30", &["sg-other"], ""),
    );
    let lab = start(&topo);
    let _web = http_server(&lab, "eni-a2");
    let _udp = udp_server(&lab, "eni-a2", 5000);
    let mut gre_a2 = gre_listener(lab.ns("eni-a2"));

    ping_ok(&lab, "eni-a1", "eni-a2");
    ping_ok(&lab, "eni-a2", "eni-a1");
    curl_ok(&lab, "eni-a1", "eni-a2");
    let r = udp_client(lab.ns("eni-a1"), lab.ip("eni-a2"), 5000, 2000, &["0/0"]);
    assert_eq!(r, ["ok"]);
    gre_send(lab.ns("eni-a1"), lab.ip("eni-a2"), "gre-member");
    assert!(gre_got(&mut gre_a2, "gre-member", CMD));
    assert_eq!(drops(&lab, "eni-a1", DropReason::SgNoMatch), 0);

    // c1 (same subnet as a1, other group): refused by a1's and a2's default group.
    let before = drops(&lab, "eni-c1", DropReason::SgNoMatch);
    ping_blocked(&lab, "eni-c1", "eni-a1");
    curl_blocked(&lab, "eni-c1", "eni-a2");
    gre_send(lab.ns("eni-c1"), lab.ip("eni-a2"), "gre-stranger");
    expect_drops(&lab, "eni-c1", DropReason::SgNoMatch, before + 2);
    assert!(!gre_got(
        &mut gre_a2,
        "gre-stranger",
        Duration::from_millis(300)
    ));
}

/// Scenario 22's lab: a1 in an open group, b1 in `sg-ssh` with these inbound rules.
fn ssh_topology(inbound: &[&str]) -> String {
    format!(
        "{}{}{}{}{}",
        vpc(None),
        sg("sg-open", &[FROM_VPC], None),
        sg("sg-ssh", inbound, None),
        eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
        eni("eni-b1", "subnet-b", "10.0.2.20", &["sg-ssh"], ""),
    )
}

/// Scenario 22: a tracked session (inbound rule from a /32) survives the removal of its rule;
/// a new connection is refused.
#[test]
fn s22_tracked_session_survives_rule_removal() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let ssh = r#"{ protocol = "tcp", ports = 22, source = "10.0.1.10/32" }"#;
    let topo = ssh_topology;
    let mut lab = start(&topo(&[ssh]));
    let mut server = line_server(&lab, "eni-b1", 22);
    let (_client, mut pipe) = line_client(&lab, "eni-a1", "eni-b1", 22);
    send_line(&mut pipe, "before");
    assert!(got_line(&mut server, "before", CMD));
    assert!(
        lab.counters("eni-b1").unwrap().conntrack_entries >= 1,
        "tracked on b1"
    );

    lab.apply(&topo(&[])).unwrap();
    let before = drops(&lab, "eni-a1", DropReason::SgNoMatch);
    connect_times_out(&lab, "eni-a1", "eni-b1", 22);
    expect_drops(&lab, "eni-a1", DropReason::SgNoMatch, before);
    // The established session goes on, after the refusal of the new one.
    for i in 0..3 {
        let line = format!("after-{i}");
        send_line(&mut pipe, &line);
        assert!(got_line(&mut server, &line, CMD), "{line} lost");
    }
}

/// Scenario 22, untracked variant: inbound from 0.0.0.0/0 with outbound all is not tracked, so
/// removing the rule cuts the existing session at once.
#[test]
fn s22_untracked_session_is_cut_when_its_rule_goes() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let ssh = r#"{ protocol = "tcp", ports = 22, source = "0.0.0.0/0" }"#;
    let topo = ssh_topology;
    let mut lab = start(&topo(&[ssh]));
    let mut server = line_server(&lab, "eni-b1", 22);
    let (_client, mut pipe) = line_client(&lab, "eni-a1", "eni-b1", 22);
    send_line(&mut pipe, "before");
    assert!(got_line(&mut server, "before", CMD));
    assert_eq!(
        lab.counters("eni-b1").unwrap().conntrack_entries,
        0,
        "untracked on b1"
    );
    // Everything sent is acknowledged: no answer of b1 is still under way.
    let peer = format!("{}:22", lab.ip("eni-b1"));
    let deadline = Instant::now() + CMD;
    while send_q(lab.ns("eni-a1"), &peer) > 0 {
        assert!(Instant::now() < deadline, "data stays unacknowledged");
        std::thread::sleep(Duration::from_millis(10));
    }

    lab.apply(&topo(&[])).unwrap();
    let before = drops(&lab, "eni-a1", DropReason::SgNoMatch);
    send_line(&mut pipe, "after");
    expect_drops(&lab, "eni-a1", DropReason::SgNoMatch, before);
    assert!(
        !got_line(&mut server, "after", Duration::from_millis(1500)),
        "the untracked session went on after its rule was removed"
    );
    assert!(
        send_q(lab.ns("eni-a1"), &peer) > 0,
        "the data was not acknowledged"
    );
}

/// Scenario 24: inbound HTTP from anywhere and no outbound rules: the server answers (the
/// flow is tracked, answers pass by state) but cannot open anything itself.
#[test]
fn s24_stateful_answers_without_outbound_rules() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}{}{}",
        vpc(None),
        sg("sg-open", &[FROM_VPC], None),
        sg(
            "sg-web",
            &[r#"{ protocol = "tcp", ports = 80, source = "0.0.0.0/0" }"#],
            Some(&[])
        ),
        eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
        eni("eni-w1", "subnet-b", "10.0.2.20", &["sg-web"], ""),
    );
    let lab = start(&topo);
    let _web_a = http_server(&lab, "eni-a1");
    let _web_w = http_server(&lab, "eni-w1");
    for _ in 0..3 {
        curl_ok(&lab, "eni-a1", "eni-w1");
    }
    assert!(
        lab.counters("eni-w1").unwrap().conntrack_entries >= 1,
        "tracked without an outbound rule"
    );
    assert_eq!(drops(&lab, "eni-w1", DropReason::SgNoMatch), 0);

    let before = drops(&lab, "eni-w1", DropReason::SgNoMatch);
    curl_blocked(&lab, "eni-w1", "eni-a1");
    ping_blocked(&lab, "eni-w1", "eni-a1");
    expect_drops(&lab, "eni-w1", DropReason::SgNoMatch, before + 2);
}

/// Scenario 26: other protocols are tracked by addresses and protocol: after b1 sent GRE to
/// x1, x1's GRE to b1 passes without an inbound rule until 600 s (scaled) of idleness.
#[test]
fn s26_gre_answers_pass_until_the_600s_timeout() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    // 600 s * 0.003 = 1.8 s.
    let topo = format!(
        "{}{}{}{}{}",
        vpc(Some(0.003)),
        sg("sg-open", &[FROM_VPC], None),
        sg("sg-closed", &[], None),
        eni("eni-x1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
        eni("eni-b1", "subnet-b", "10.0.2.20", &["sg-closed"], ""),
    );
    let lab = start(&topo);
    let (x1, b1) = (lab.ns("eni-x1"), lab.ns("eni-b1"));
    let mut gre_x = gre_listener(x1);
    let mut gre_b = gre_listener(b1);

    // Unsolicited: refused.
    let before = drops(&lab, "eni-x1", DropReason::SgNoMatch);
    gre_send(x1, lab.ip("eni-b1"), "unsolicited");
    expect_drops(&lab, "eni-x1", DropReason::SgNoMatch, before);

    // b1 speaks first; x1's answer within the timeout passes.
    gre_send(b1, lab.ip("eni-x1"), "hello");
    assert!(gre_got(&mut gre_x, "hello", CMD));
    gre_send(x1, lab.ip("eni-b1"), "answer");
    assert!(gre_got(&mut gre_b, "answer", CMD), "answer within 600 s");
    assert!(!gre_got(&mut gre_b, "unsolicited", Duration::ZERO));

    // Idle past the (scaled) 600 s: refused again.
    std::thread::sleep(Duration::from_millis(2600));
    let before = drops(&lab, "eni-x1", DropReason::SgNoMatch);
    gre_send(x1, lab.ip("eni-b1"), "too-late");
    expect_drops(&lab, "eni-x1", DropReason::SgNoMatch, before);
    assert!(!gre_got(&mut gre_b, "too-late", Duration::from_millis(300)));
}

/// Scenario 27: UDP single-exchange (30 s) and stream (180 s) timeouts, the established TCP
/// timeout, and the bounds of `tcp_established_timeout`; all scaled by 0.01.
#[test]
fn s27_udp_and_tcp_idle_timeouts() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = |tcp_timeout: u32| {
        format!(
            "{}{}{}{}{}",
            vpc(Some(0.01)),
            sg("sg-open", &[FROM_VPC], None),
            sg("sg-client", &[], None),
            eni("eni-x1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
            eni(
                "eni-b1",
                "subnet-b",
                "10.0.2.20",
                &["sg-client"],
                &format!("conntrack = {{ tcp_established_timeout = {tcp_timeout} }}\n")
            ),
        )
    };
    // Validation: AWS's minimum is 60 s.
    let lab_toml = topo(60);
    let lab = start(&lab_toml);
    let errors = lab.compile(&topo(59)).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("eni-b1") && e.contains("tcp_established_timeout")),
        "{errors:?}"
    );
    assert!(lab.compile(&lab_toml).is_ok());

    let _udp = udp_server(&lab, "eni-x1", 53);
    let b1 = lab.ns("eni-b1");
    let x1_ip = lab.ip("eni-x1");
    let before = drops(&lab, "eni-x1", DropReason::SgNoMatch);
    // One query each (UdpTimeout 30 s -> 300 ms): an answer after 150 ms passes, one after
    // 600 ms is dropped.
    let r = udp_client(b1, x1_ip, 53, 400, &["0/150", "1/600"]);
    assert_eq!(r, ["ok", "timeout"]);
    let after_single = expect_drops(&lab, "eni-x1", DropReason::SgNoMatch, before);
    // A stream (two exchanges, UdpStreamTimeout 180 s -> 1.8 s): 1.2 s of idleness is fine
    // (four times the single-exchange timeout), 2.4 s is not.
    let r = udp_client(b1, x1_ip, 53, 400, &["2/0", "2/0", "2/1200", "2/2400"]);
    assert_eq!(r, ["ok", "ok", "ok", "timeout"]);
    expect_drops(&lab, "eni-x1", DropReason::SgNoMatch, after_single);

    // TCP established, 60 s -> 600 ms: an answer after 200 ms passes, after 1.5 s idle not.
    let (x1_s, port) = (x1_ip.to_string(), "7000".to_string());
    let _tcp = python_ready(lab.ns("eni-x1"), TCP_SERVER, &[&x1_s, &port]);
    let before = drops(&lab, "eni-x1", DropReason::SgNoMatch);
    let out = b1
        .exec_ok(
            &[
                "python3", "-c", TCP_CLIENT, &x1_s, &port, "500", "200", "1500",
            ],
            CMD,
        )
        .unwrap();
    assert_eq!(out, "200 ok\n1500 timeout\n");
    expect_drops(&lab, "eni-x1", DropReason::SgNoMatch, before);
}

/// Scenario 28: a per-ENI table of N entries: the N+1th tracked flow is dropped and counted,
/// established flows keep working, untracked flows are unaffected.
#[test]
fn s28_conntrack_table_limit() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}{}{}",
        vpc(None),
        sg("sg-open", &[FROM_VPC], None),
        // HTTP from anywhere + outbound all: untracked.
        sg(
            "sg-b",
            &[r#"{ protocol = "tcp", ports = 80, source = "0.0.0.0/0" }"#],
            None
        ),
        eni("eni-x1", "subnet-a", "10.0.1.10", &["sg-open"], ""),
        eni(
            "eni-b1",
            "subnet-b",
            "10.0.2.20",
            &["sg-b"],
            "conntrack = { max_entries = 4 }\n"
        ),
    );
    let lab = start(&topo);
    let _udp = udp_server(&lab, "eni-x1", 5353);
    let _web = http_server(&lab, "eni-b1");
    let c = lab.counters("eni-b1").unwrap();
    assert_eq!((c.conntrack_entries, c.conntrack_max), (0, 4));

    let r = udp_client(
        lab.ns("eni-b1"),
        lab.ip("eni-x1"),
        5353,
        1000,
        &["0/0", "1/0", "2/0", "3/0", "4/0", "0/0", "3/0"],
    );
    assert_eq!(r, ["ok", "ok", "ok", "ok", "timeout", "ok", "ok"]);
    let c = lab.counters("eni-b1").unwrap();
    assert_eq!(c.conntrack_entries, 4, "{c:?}");
    let full = c.drops[DropReason::ConntrackFull.index()];
    assert!(full >= 1, "{:?}", c.drop_map());

    // ICMP is always tracked: no room.
    ping_blocked(&lab, "eni-b1", "eni-x1");
    expect_drops(&lab, "eni-b1", DropReason::ConntrackFull, full);
    // Untracked HTTP into b1 is unaffected.
    curl_ok(&lab, "eni-x1", "eni-b1");
    assert_eq!(lab.counters("eni-b1").unwrap().conntrack_entries, 4);
}

/// An ICMP error about a tracked UDP flow is related traffic: the port unreachable reaches
/// the sender although its group admits no ICMP. For an untracked flow it needs a rule.
#[test]
fn icmp_port_unreachable_is_related_to_the_tracked_udp_flow() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = |client_inbound: &[&str]| {
        format!(
            "{}{}{}{}{}",
            vpc(None),
            sg("sg-client", client_inbound, None),
            // Inbound UDP from the VPC, nothing out: the ICMP error leaves as related too.
            sg(
                "sg-udp",
                &[r#"{ protocol = "udp", source = "10.0.0.0/16" }"#],
                Some(&[])
            ),
            eni("eni-a1", "subnet-a", "10.0.1.10", &["sg-client"], ""),
            eni("eni-s1", "subnet-b", "10.0.2.20", &["sg-udp"], ""),
        )
    };
    let mut lab = start(&topo(&[]));
    let s1_ip = lab.ip("eni-s1");
    // Nothing listens on 5555 in s1: its kernel answers with ICMP port unreachable.
    let r = udp_client(lab.ns("eni-a1"), s1_ip, 5555, 1500, &["0/0"]);
    assert_eq!(r, ["refused"], "ECONNREFUSED on the connected socket");
    let c = lab.counters("eni-s1").unwrap();
    assert_eq!(
        c.drops[DropReason::SgNoMatch.index()],
        0,
        "{:?}",
        c.drop_map()
    );
    assert!(lab.counters("eni-a1").unwrap().conntrack_entries >= 1);

    // UDP from anywhere on all ports + outbound all: a1's UDP is untracked, and its group
    // has no ICMP rule, so the error is refused.
    lab.apply(&topo(&[r#"{ protocol = "udp", source = "0.0.0.0/0" }"#]))
        .unwrap();
    let r = udp_client(lab.ns("eni-a1"), s1_ip, 5556, 1000, &["0/0"]);
    assert_eq!(r, ["timeout"]);
    expect_drops(&lab, "eni-s1", DropReason::SgNoMatch, 0);
}
