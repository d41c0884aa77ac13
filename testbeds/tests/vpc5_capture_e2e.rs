//! End-to-end tests of packet capture and traffic mirroring (VPC-5 part 3), through real
//! namespaces, real TAPs and `vpcd`, with real clients (curl against python's http.server,
//! ping, a python UDP socket) and real readers (`tshark -r`, `tcpdump -r`, and tcpdump
//! capturing in the mirror target's namespace):
//!
//! 1. a `[[packet_capture]]` with a filter (tcp port 80) while curl and ping run: tshark and
//!    tcpdump read the file and show the HTTP exchange with the right addresses and no ICMP;
//!    an unfiltered capture with a snap length of 64 shows the ICMP too, every frame cut to
//!    64 bytes (`frame.cap_len`) with its original length kept (`frame.len`);
//! 2. scenario 44: a session with filter `10 accept tcp dst 443 0/0` (no outbound rules)
//!    and packet length 100 to a target ENI in its own namespace, which receives VXLAN
//!    copies (UDP 4789, the session's VNI, outer addresses source ENI → target ENI) of the
//!    inbound 443 packets only, each inner packet at most 100 bytes; the source's outbound
//!    traffic, other ports, ICMP and a 443 connection its security group refuses are not
//!    mirrored;
//! 3. a session whose filter has no rules mirrors nothing (tcpdump runs in the target all
//!    along); once the filter gets an accept-all inbound rule (an apply), the next packets
//!    are mirrored, whole when they fit and an 8996-byte packet cut to 8947 bytes for the
//!    9001-byte target MTU.
//!
//! Every test builds its own topology on its own [`Lab`] (VPC 10.0.0.0/16; subnet-app
//! 10.0.1.0/24 with eni-web 10.0.1.10 whose group admits TCP 80 from anywhere, TCP 443 from
//! eni-client only and ICMP, eni-client 10.0.1.20 and eni-other 10.0.1.40; subnet-mon
//! 10.0.2.0/24 with eni-ids 10.0.2.30, the mirror target), so tests run in parallel.
//! Readiness is a signal (servers' "ready" lines, tcpdump's "listening on"); capture files
//! (flushed by vpcd every 50 ms) and mirror counters are polled with a deadline; nothing
//! sleeps to synchronise. The target runs a UDP socket on 4789, as a real monitoring
//! appliance would, so that its kernel sends no "port unreachable" back to the source.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dataplane::observe::mirror::MirrorSessionReport;
use dataplane::vpc::verdict::DropReason;
use testbeds::process::Stream;
use testbeds::{Lab, Netns, NsChild, Scratch};

mod common;
use common::{
    curl_url_blocked, curl_url_ok, http_server_on, ping_ok_with, spawn_tied, start, tcpdump, CMD,
    COUNTER_WAIT,
};

// --- topology text -------------------------------------------------------------------------

const WEB: &str = "eni-web";
const WEB_IP: &str = "10.0.1.10";
const CLIENT: &str = "eni-client";
const CLIENT_IP: &str = "10.0.1.20";
const OTHER: &str = "eni-other";
const IDS: &str = "eni-ids";
const IDS_IP: &str = "10.0.2.30";

/// The VPC, then `extra` (captures, mirroring).
fn topology(extra: &str) -> String {
    format!(
        r#"
[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-app"
vpc = "vpc-t"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-mon"
vpc = "vpc-t"
cidr = "10.0.2.0/24"

[[security_group]]
id = "sg-web"
vpc = "vpc-t"
inbound = [
  {{ protocol = "tcp", ports = 80, source = "0.0.0.0/0" }},
  {{ protocol = "tcp", ports = 443, source = "{CLIENT_IP}/32" }},
  {{ protocol = "icmp", source = "0.0.0.0/0" }},
]

[[security_group]]
id = "sg-open"
vpc = "vpc-t"
inbound = [{{ protocol = "-1", source = "0.0.0.0/0" }}]

[[eni]]
id = "{WEB}"
subnet = "subnet-app"
private_ip = "{WEB_IP}"
netns = "web"
security_groups = ["sg-web"]

[[eni]]
id = "{CLIENT}"
subnet = "subnet-app"
private_ip = "{CLIENT_IP}"
netns = "client"
security_groups = ["sg-open"]

[[eni]]
id = "{OTHER}"
subnet = "subnet-app"
private_ip = "10.0.1.40"
netns = "other"
security_groups = ["sg-open"]

[[eni]]
id = "{IDS}"
subnet = "subnet-mon"
private_ip = "{IDS_IP}"
netns = "ids"
security_groups = ["sg-open"]
{extra}
"#
    )
}

/// The mirror target on eni-ids, filter `tmf-x` with `inbound` rules (TOML array body) and
/// no outbound rules, and session `tms-web` from eni-web with `session` lines.
fn mirroring(inbound: &str, session: &str) -> String {
    format!(
        r#"
[[traffic_mirror_target]]
id = "tmt-ids"
eni = "{IDS}"

[[traffic_mirror_filter]]
id = "tmf-x"
inbound = [{inbound}]

[[traffic_mirror_session]]
id = "tms-web"
source_eni = "{WEB}"
target = "tmt-ids"
filter = "tmf-x"
session_number = 1
{session}
"#
    )
}

// --- servers and clients -------------------------------------------------------------------

/// A UDP socket on 4789 in the mirror target's namespace (what a monitoring appliance
/// runs), so that the copies are consumed rather than answered with ICMP.
const VXLAN_SINK: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("0.0.0.0", 4789))
print("ready", flush=True)
while True:
    s.recv(65535)
"#;

fn vxlan_sink(ns: &Netns) -> NsChild {
    let mut c = spawn_tied(ns, &["python3", "-c", VXLAN_SINK]);
    c.wait_for_line(|s, l| s == Stream::Stdout && l == "ready", CMD)
        .unwrap();
    c
}

/// tcpdump writing what reaches eth0 of `ns` on UDP 4789 to `file`, packet by packet.
fn capture_vxlan(ns: &Netns, file: &Path) -> NsChild {
    let f = file.to_string_lossy();
    tcpdump(
        ns,
        &[
            "-n",
            "-p",
            "-Z",
            "root",
            "-U",
            "-s",
            "0",
            "-i",
            "eth0",
            "-w",
            &f,
            "udp port 4789",
        ],
    )
}

// --- reading pcap files --------------------------------------------------------------------

/// `tshark -n -r FILE [-Y FILTER] -T fields -e F…` (all occurrences of a field, comma-
/// separated): one row per packet. A file vpcd is still writing may end in the middle of a
/// record for a moment; `Err` carries tshark's complaint then (callers poll).
fn tshark(file: &Path, filter: Option<&str>, fields: &[&str]) -> Result<Vec<Vec<String>>, String> {
    let f = file.to_string_lossy();
    let mut argv = vec!["tshark", "-n", "-r", &f];
    if let Some(y) = filter {
        argv.extend_from_slice(&["-Y", y]);
    }
    argv.extend_from_slice(&["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]);
    for field in fields {
        argv.extend_from_slice(&["-e", field]);
    }
    let mut cmd = std::process::Command::new(argv[0]);
    cmd.args(&argv[1..]);
    let out = testbeds::process::run_command(cmd, &argv.join(" "), CMD).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(stdout
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect())
}

/// Polls `tshark` on `file` until `done` holds for its rows (asserting it does within
/// `COUNTER_WAIT`); returns the rows.
fn tshark_until(
    file: &Path,
    filter: Option<&str>,
    fields: &[&str],
    what: &str,
    done: impl Fn(&[Vec<String>]) -> bool,
) -> Vec<Vec<String>> {
    let deadline = Instant::now() + COUNTER_WAIT;
    let mut step = Duration::from_millis(20);
    loop {
        let r = tshark(file, filter, fields);
        if let Ok(rows) = &r {
            if done(rows) {
                return rows.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{}: {what}; tshark gave {r:?}",
            file.display()
        );
        std::thread::sleep(step);
        step = (step * 2).min(Duration::from_millis(200));
    }
}

/// The session's counters as vpcd reports them.
fn session(lab: &Lab, id: &str) -> MirrorSessionReport {
    lab.show()
        .unwrap()
        .mirror_sessions
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("vpcd reports no mirror session {id}"))
}

/// Waits until `file` (tcpdump in the target) holds as many VXLAN packets as `id` sent
/// and at least `at_least`; returns that count.
fn copies_arrived(lab: &Lab, id: &str, file: &Path, at_least: u64) -> u64 {
    let deadline = Instant::now() + COUNTER_WAIT;
    loop {
        let sent = session(lab, id).packets;
        let seen = tshark(file, None, &["frame.number"]).map_or(0, |r| r.len() as u64);
        if sent >= at_least && seen == sent {
            return sent;
        }
        assert!(
            Instant::now() < deadline,
            "{id}: sent {sent} copies (want at least {at_least}), the target's tcpdump saw {seen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

// --- 1. packet capture ------------------------------------------------------------------------

/// A capture of eni-web filtered to TCP port 80 while eni-client fetches a page and pings:
/// tshark decodes the HTTP request and response between the two addresses, tcpdump reads the
/// file too, and neither sees ICMP or ARP. An unfiltered capture of the same ENI with a
/// snap length of 64 has the pings, every frame cut to 64 bytes, original lengths kept.
#[test]
fn a_capture_shows_the_http_exchange_with_its_filter_and_snap_length() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let dir = Scratch::new("vpc5-cap").unwrap().keep_on_panic(true);
    let http_file = dir.join("web-http.pcap");
    let small_file = dir.join("web-64.pcap");
    let lab = start(&topology(&format!(
        r#"
[[packet_capture]]
id = "cap-http"
eni = "{WEB}"
file = "{}"
filter = {{ protocol = "tcp", port = 80 }}

[[packet_capture]]
id = "cap-small"
eni = "{WEB}"
file = "{}"
snaplen = 64
"#,
        http_file.display(),
        small_file.display()
    )));
    let (web, client) = (lab.ns(WEB), lab.ns(CLIENT));
    let _server = http_server_on(web, WEB_IP, 80, "web");
    let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    curl_url_ok(client, &format!("http://{WEB_IP}/"), "web");
    ping_ok_with(client, &[], WEB_IP);

    // tshark: the HTTP request and its response, between the two addresses.
    let http = tshark_until(
        &http_file,
        Some("http"),
        &[
            "ip.src",
            "ip.dst",
            "tcp.srcport",
            "tcp.dstport",
            "http.request.method",
            "http.request.uri",
            "http.response.code",
        ],
        "the HTTP request and response",
        |rows| rows.len() >= 2,
    );
    let request = http
        .iter()
        .find(|r| r[4] == "GET")
        .unwrap_or_else(|| panic!("no GET in {http:?}"));
    assert_eq!(
        (
            &request[0][..],
            &request[1][..],
            &request[3][..],
            &request[5][..]
        ),
        (CLIENT_IP, WEB_IP, "80", "/")
    );
    let response = http
        .iter()
        .find(|r| r[6] == "200")
        .unwrap_or_else(|| panic!("no 200 in {http:?}"));
    assert_eq!(
        (&response[0][..], &response[1][..], &response[2][..]),
        (WEB_IP, CLIENT_IP, "80")
    );
    // Every packet of the file: TCP port 80 between the two, stamped during the test.
    let all = tshark(
        &http_file,
        None,
        &[
            "ip.src",
            "ip.dst",
            "ip.proto",
            "tcp.srcport",
            "tcp.dstport",
            "frame.time_epoch",
            "frame.cap_len",
            "frame.len",
        ],
    )
    .unwrap();
    assert!(all.len() >= 6, "a whole TCP connection: {all:?}");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    for r in &all {
        let pair = [r[0].as_str(), r[1].as_str()];
        assert!(
            pair == [CLIENT_IP, WEB_IP] || pair == [WEB_IP, CLIENT_IP],
            "addresses {r:?}"
        );
        assert_eq!(r[2], "6", "only TCP: {r:?}");
        assert!(r[3] == "80" || r[4] == "80", "port 80: {r:?}");
        let t: f64 = r[5].parse().unwrap();
        assert!(
            t >= started.as_secs_f64() - 1.0 && t <= now.as_secs_f64() + 1.0,
            "timestamp {t} outside the test's time"
        );
        assert_eq!(
            r[6], r[7],
            "the default snap length keeps whole frames: {r:?}"
        );
    }
    for (what, filter) in [("ICMP", "icmp"), ("ARP", "arp")] {
        let rows = tshark(&http_file, Some(filter), &["frame.number"]).unwrap();
        assert!(
            rows.is_empty(),
            "{what} in the tcp-port-80 capture: {rows:?}"
        );
    }
    // tcpdump reads the same file.
    let out =
        testbeds::process::run_ok(&["tcpdump", "-n", "-r", &http_file.to_string_lossy()], CMD)
            .unwrap();
    assert_eq!(out.lines().count(), all.len(), "tcpdump -r:\n{out}");
    assert!(
        out.contains(&format!("{CLIENT_IP}."))
            && out.contains(&format!("> {WEB_IP}.80: Flags [S]"))
            && out.contains("HTTP"),
        "tcpdump -r:\n{out}"
    );
    assert!(!out.contains("ICMP"), "tcpdump -r:\n{out}");

    // The snap-length-64 capture: everything, cut to 64 bytes.
    let small = tshark_until(
        &small_file,
        None,
        &["frame.cap_len", "frame.len", "icmp.type", "ip.src"],
        "the pings (echo request and reply)",
        |rows| {
            rows.iter().any(|r| r[2] == "8" && r[3] == CLIENT_IP)
                && rows.iter().any(|r| r[2] == "0" && r[3] == WEB_IP)
        },
    );
    let mut cut = 0;
    for r in &small {
        let (cap, len) = (num(&r[0]), num(&r[1]));
        assert!(cap <= 64, "frame.cap_len {cap} over the snap length: {r:?}");
        assert_eq!(cap, len.min(64), "{r:?}");
        cut += u64::from(len > 64);
    }
    assert!(cut > 0, "some frames are longer than 64 bytes: {small:?}");
    let snaplen = testbeds::process::run_ok(
        &[
            "tcpdump",
            "-n",
            "-r",
            &small_file.to_string_lossy(),
            "-c",
            "1",
        ],
        CMD,
    );
    assert!(
        snaplen.is_ok(),
        "tcpdump -r of the snap-length file: {snaplen:?}"
    );

    // vpcd's report: what each capture wrote.
    let report = lab.show().unwrap();
    let caps: Vec<_> = report
        .captures
        .iter()
        .map(|c| (c.id.as_str(), c.eni.as_str(), c.error.clone()))
        .collect();
    assert_eq!(caps, [("cap-http", WEB, None), ("cap-small", WEB, None)]);
    assert!(report.captures[0].packets >= all.len() as u64);
    let text = control::render::show(&report);
    assert!(
        text.contains("tcp and port 80") && text.contains("writing"),
        "vpcctl show:\n{text}"
    );
}

// --- 2. scenario 44 ---------------------------------------------------------------------------

/// Scenario 44: inbound TCP 443 of eni-web, first 100 bytes, VNI 4242, to eni-ids; nothing
/// else (port 80, ICMP, eni-web's own connections, a 443 connection its group refuses).
#[test]
fn scenario_44_the_target_gets_vxlan_copies_of_inbound_443_only() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let dir = Scratch::new("vpc5-mirror").unwrap().keep_on_panic(true);
    let pcap = dir.join("ids.pcap");
    let lab = start(&topology(&mirroring(
        r#"{ rule = 10, action = "accept", protocol = "tcp", source = "0.0.0.0/0", destination = "0.0.0.0/0", destination_ports = "443" }"#,
        "vni = 4242\npacket_length = 100",
    )));
    let (web, client, other, ids) = (lab.ns(WEB), lab.ns(CLIENT), lab.ns(OTHER), lab.ns(IDS));
    let _sink = vxlan_sink(ids);
    let mut tcpdump = capture_vxlan(ids, &pcap);
    let _https = http_server_on(web, WEB_IP, 443, "web");
    let _http = http_server_on(web, WEB_IP, 80, "web");
    let _client_https = http_server_on(client, CLIENT_IP, 443, "client");

    curl_url_ok(client, &format!("http://{WEB_IP}:443/"), "web");
    let one_connection = copies_arrived(&lab, "tms-web", &pcap, 4);
    // Not mirrored: another port, ICMP, eni-web's own connection to 443 (outbound, and
    // its replies come from 443), a 443 connection eni-web's group refuses.
    curl_url_ok(client, &format!("http://{WEB_IP}/"), "web");
    ping_ok_with(client, &[], WEB_IP);
    curl_url_ok(web, &format!("http://{CLIENT_IP}:443/"), "client");
    let refused = lab.drops(OTHER, DropReason::SgNoMatch).unwrap();
    curl_url_blocked(other, &format!("http://{WEB_IP}:443/"));
    let refused_now = lab
        .wait_drops(OTHER, DropReason::SgNoMatch, refused + 1, COUNTER_WAIT)
        .unwrap();
    assert!(refused_now > refused, "eni-web's group refused eni-other");
    // A second connection to 443 from the client: mirrored like the first.
    curl_url_ok(client, &format!("http://{WEB_IP}:443/"), "web");
    let total = copies_arrived(&lab, "tms-web", &pcap, one_connection + 4);
    tcpdump.terminate(Duration::from_secs(2));

    let rows = tshark(
        &pcap,
        None,
        &[
            "vxlan.vni",
            "ip.src",
            "ip.dst",
            "udp.dstport",
            "udp.length",
            "ip.len",
            "tcp.srcport",
            "tcp.dstport",
            "frame.len",
        ],
    )
    .unwrap();
    assert_eq!(rows.len() as u64, total, "{rows:?}");
    let mut full = 0;
    for r in &rows {
        assert_eq!(r[0], "4242", "VNI: {r:?}");
        assert_eq!(
            r[1],
            format!("{WEB_IP},{CLIENT_IP}"),
            "outer source eni-web, inner source eni-client: {r:?}"
        );
        assert_eq!(
            r[2],
            format!("{IDS_IP},{WEB_IP}"),
            "outer destination eni-ids, inner destination eni-web: {r:?}"
        );
        assert_eq!(r[3], "4789", "{r:?}");
        assert_eq!(r[7], "443", "inner destination port: {r:?}");
        // Inner frame = UDP length - UDP header - VXLAN header: at most 100 bytes.
        let inner = num(&r[4]) - 16;
        assert!(inner <= 100, "inner frame of {inner} bytes: {r:?}");
        assert_eq!(num(&r[8]), 14 + 20 + 8 + 8 + inner, "{r:?}");
        full += u64::from(inner == 100);
    }
    assert!(
        full >= 2,
        "the requests (longer than 100 bytes) are cut to 100: {rows:?}"
    );
    let s = session(&lab, "tms-web");
    assert_eq!((s.packets, s.dropped), (total, 0));
    assert_eq!(s.truncated, full, "{s:?}");
    assert_eq!((s.source.as_str(), s.target.as_str()), (WEB, IDS));
    let c = lab.counters(IDS).unwrap();
    assert!(
        c.tx_packets >= total,
        "copies count as frames sent to eni-ids: {c:?}"
    );
}

// --- 3. no rules, then all inbound --------------------------------------------------------------

/// A filter without rules mirrors nothing: tcpdump in the target sees no VXLAN while eni-web
/// serves HTTP and answers pings. An apply gives the filter `100 accept all`: the next
/// pings are mirrored, a 1028-byte one whole and an 8996-byte one cut to the 8947 bytes that
/// fit the target's 9001-byte MTU with the 54 bytes of encapsulation AWS counts.
#[test]
fn a_filter_without_rules_mirrors_nothing_and_jumbo_packets_are_cut_to_the_target_mtu() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let dir = Scratch::new("vpc5-norules").unwrap().keep_on_panic(true);
    let pcap = dir.join("ids.pcap");
    let mut lab = start(&topology(&mirroring("", "vni = 7")));
    let _sink = vxlan_sink(lab.ns(IDS));
    let mut tcpdump = capture_vxlan(lab.ns(IDS), &pcap);
    let _http = http_server_on(lab.ns(WEB), WEB_IP, 80, "web");
    let _https = http_server_on(lab.ns(WEB), WEB_IP, 443, "web");
    curl_url_ok(lab.ns(CLIENT), &format!("http://{WEB_IP}/"), "web");
    curl_url_ok(lab.ns(CLIENT), &format!("http://{WEB_IP}:443/"), "web");
    ping_ok_with(lab.ns(CLIENT), &[], WEB_IP);
    assert_eq!(session(&lab, "tms-web").packets, 0);

    lab.apply(&topology(&mirroring(
        r#"{ rule = 100, action = "accept", source = "0.0.0.0/0", destination = "0.0.0.0/0" }"#,
        "vni = 7",
    )))
    .unwrap();
    ping_ok_with(lab.ns(CLIENT), &["-s", "1000"], WEB_IP);
    ping_ok_with(lab.ns(CLIENT), &["-s", "8968", "-M", "do"], WEB_IP);
    let total = copies_arrived(&lab, "tms-web", &pcap, 4);
    tcpdump.terminate(Duration::from_secs(2));

    let rows = tshark(
        &pcap,
        None,
        &[
            "vxlan.vni",
            "ip.len",
            "udp.length",
            "icmp.type",
            "tcp.dstport",
            "frame.len",
        ],
    )
    .unwrap();
    assert_eq!(rows.len() as u64, total, "{rows:?}");
    // Only the pings after the apply (echo requests: eni-web's replies are outbound, and
    // the filter has no outbound rules); nothing of the HTTP or pings before it.
    assert_eq!(total, 4, "{rows:?}");
    for r in &rows {
        assert_eq!((r[0].as_str(), r[3].as_str()), ("7", "8"), "{r:?}");
        assert!(
            r[4].is_empty(),
            "TCP mirrored before the filter had rules: {r:?}"
        );
    }
    let inner: Vec<u64> = rows.iter().map(|r| num(&r[2]) - 16).collect();
    // 1000 bytes of ICMP data: a 1028-byte IP packet in a 1042-byte frame, whole.
    assert_eq!(&inner[..2], &[1042, 1042], "{rows:?}");
    // 8968 bytes of data: an 8996-byte packet, cut to 8947 (+ its 14-byte Ethernet header).
    assert_eq!(&inner[2..], &[8961, 8961], "{rows:?}");
    for r in &rows[2..] {
        let outer_ip = r[1].split(',').next().map(num).unwrap();
        assert_eq!(outer_ip, 20 + 8 + 8 + 8961);
        assert!(outer_ip <= 9001, "the copy fits the target's MTU: {r:?}");
        assert_eq!(
            r[1].split(',').nth(1).map(num),
            Some(8996),
            "the inner IP header still says 8996: {r:?}"
        );
    }
    let s = session(&lab, "tms-web");
    assert_eq!((s.packets, s.truncated), (4, 2), "{s:?}");
}
