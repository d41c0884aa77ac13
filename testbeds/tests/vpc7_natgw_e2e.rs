//! End-to-end tests of the NAT gateway's network interface and per-gateway lab knobs
//! (VPC-7): through real namespaces, real TAPs and `vpcd`, with real clients (socat and
//! `tcp-probe` from this crate).
//!
//! (a) A flow log on a NAT gateway's interface (`network_interface_id = "eni-0nat"`) while
//! a private instance sends a file to an internet host through the gateway: the four
//! records of AWS's "traffic through a NAT gateway" example — the instance's packets as
//! they arrive (`dstaddr` the gateway's private address, `pkt-dstaddr` the internet host),
//! as they leave translated (traffic path 8, the internet gateway), the replies as they
//! arrive (at the gateway's address) and as they leave for the instance (`srcaddr` the
//! gateway, `pkt-srcaddr` the internet host) — each checked field by field, with the
//! packets and bytes of each leg equal to the instance's own records, and the same records
//! in the flow log of the gateway's subnet. Both flow logs use their own `lab_interval`.
//!
//! (b) Two NAT gateways in one topology with different idle timeouts (`idle_timeout =
//! 1.5` on one, `[lab] nat_gateway_idle_timeout = 60` for the other): after the short
//! one's translation expires (its `IdleTimeoutCount`, polled), the next segment of its
//! connection is answered with a RST while the long one's connection still echoes.
//!
//! Readiness is a signal (socat's "listening on", tcp-probe's "ready"/"connected");
//! records and metrics are polled with a deadline; nothing sleeps to synchronise.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dataplane::observe::stats::NatMetrics;
use testbeds::process::Stream;
use testbeds::{Lab, Netns, NsChild, Scratch};

mod common;
use common::{hold, ip, poll, probe_server, socat_listener, start, CMD, COUNTER_WAIT};

const IGW: &str = "igw-t";
/// The internet host (the namespace of igw-t).
const HOST: &str = "203.0.113.5";

// --- flow-log records ------------------------------------------------------------------------

/// The fields of both flow logs of (a), in order.
const FIELDS: [&str; 21] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
];

/// The version 5 fields appended to [`FIELDS`].
const V5_FIELDS: [&str; 2] = ["flow-direction", "traffic-path"];

fn fields() -> Vec<&'static str> {
    FIELDS.iter().chain(&V5_FIELDS).copied().collect()
}

/// How long records may take: intervals close every second.
const RECORDS_WAIT: Duration = Duration::from_secs(15);

/// One record: field name → value.
#[derive(Debug, Clone)]
struct Record(HashMap<&'static str, String>);

impl Record {
    fn get(&self, field: &str) -> &str {
        self.0
            .get(field)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no field {field} in {self:?}"))
    }

    fn num(&self, field: &str) -> u64 {
        self.get(field)
            .parse()
            .unwrap_or_else(|_| panic!("{field} is not a number in {self:?}"))
    }
}

/// The complete lines of a flow log file, parsed with [`fields`]; no file yet means no
/// records.
fn read_records(path: &Path) -> Vec<Record> {
    let fields = fields();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|l| {
            let values: Vec<&str> = l.split(' ').collect();
            assert_eq!(values.len(), fields.len(), "{}: {l:?}", path.display());
            Record(
                fields
                    .iter()
                    .copied()
                    .zip(values.into_iter().map(str::to_string))
                    .collect(),
            )
        })
        .collect()
}

/// Polls the file until `done` holds for its records or `timeout` passes; returns the last
/// records read either way (the caller asserts).
fn wait_records(
    path: &Path,
    timeout: Duration,
    mut done: impl FnMut(&[Record]) -> bool,
) -> Vec<Record> {
    let deadline = Instant::now() + timeout;
    loop {
        let r = read_records(path);
        let now = Instant::now();
        if done(&r) || now >= deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50).min(deadline - now));
    }
}

/// One direction of a flow at one interface, as its records show it: the interface's
/// `srcaddr`/`dstaddr` and the packet's `pkt-srcaddr`/`pkt-dstaddr`, ports, direction.
#[derive(Debug, Clone, Copy)]
struct Leg<'a> {
    iface: &'a str,
    direction: &'a str,
    addrs: (&'a str, &'a str),
    pkt: (&'a str, &'a str),
    ports: (u16, u16),
}

impl Leg<'_> {
    /// Its records among `records`.
    fn of<'r>(&self, records: &'r [Record]) -> Vec<&'r Record> {
        records
            .iter()
            .filter(|r| {
                r.get("log-status") == "OK"
                    && r.get("interface-id") == self.iface
                    && r.get("flow-direction") == self.direction
                    && r.get("srcaddr") == self.addrs.0
                    && r.get("dstaddr") == self.addrs.1
                    && r.get("pkt-srcaddr") == self.pkt.0
                    && r.get("pkt-dstaddr") == self.pkt.1
                    && r.get("srcport") == self.ports.0.to_string()
                    && r.get("dstport") == self.ports.1.to_string()
            })
            .collect()
    }
}

/// The TCP flags OR-ed over records.
fn flags(records: &[&Record]) -> u64 {
    records.iter().fold(0, |f, r| f | r.num("tcp-flags"))
}

fn packets(records: &[&Record]) -> u64 {
    records.iter().map(|r| r.num("packets")).sum()
}

fn bytes(records: &[&Record]) -> u64 {
    records.iter().map(|r| r.num("bytes")).sum()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// --- (a) flow logs on the NAT gateway's interface ----------------------------------------------

const NAT: &str = "nat-t";
/// The NAT gateway's network interface (given in the file).
const NAT_ENI: &str = "eni-0nat";
const NAT_IP: &str = "10.0.1.220";
const NAT_EIP: &str = "198.51.100.7";
const APP: &str = "eni-app1";
const APP_IP: &str = "10.0.2.20";
const PORT: u16 = 8080;
/// The instance's source port (free at the gateway, so it keeps it).
const SPORT: u16 = 40001;

/// A VPC with subnet-pub (routing to igw-t, holding nat-t with `eni-0nat`) and
/// subnet-priv (routing to nat-t, holding eni-app1), with flow logs on the gateway's
/// interface (`nat_log`), its subnet (`subnet_log`) and the instance (`app_log`), each
/// with a 1 s `lab_interval` and [`fields`].
fn flow_log_topology(nat_log: &Path, subnet_log: &Path, app_log: &Path) -> String {
    let format: Vec<String> = fields().iter().map(|f| format!("${{{f}}}")).collect();
    let format = format.join(" ");
    let log = |id: &str, resource: &str, path: &Path| {
        format!(
            r#"
[[flow_log]]
id = "{id}"
resource = "{resource}"
traffic_type = "ALL"
max_aggregation_interval = 60
lab_interval = 1
log_destination = "{}"
log_format = "{format}"
"#,
            path.display()
        )
    };
    format!(
        r#"
[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

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

[[nat_gateway]]
id = "{NAT}"
subnet = "subnet-pub"
allocation_id = "eipalloc-nat"
private_ip = "{NAT_IP}"
network_interface_id = "{NAT_ENI}"

[[elastic_ip]]
id = "eipalloc-nat"
public_ip = "{NAT_EIP}"

[[eni]]
id = "{APP}"
subnet = "subnet-priv"
private_ip = "{APP_IP}"
netns = "app1"
{}{}{}"#,
        log("fl-nat", NAT_ENI, nat_log),
        log("fl-pub", "subnet-pub", subnet_log),
        log("fl-app", APP, app_log),
    )
}

/// Sends the contents of `file` from `ns` to `dst:PORT` from source port `sport` and
/// closes (socat; a file, not `SYSTEM:echo`, whose exit would interrupt the connect).
fn send(ns: &Netns, dst: &str, sport: u16, file: &Path) {
    let from = format!("GOPEN:{}", file.display());
    let connect = format!("TCP4:{dst}:{PORT},sourceport={sport},reuseaddr,connect-timeout=5");
    let out = ns.exec(&["socat", "-u", &from, &connect], CMD).unwrap();
    assert!(
        out.status.success(),
        "socat {} -> {dst}:{PORT}: {}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Checks every field of the records of `leg` that does not count (constants, addresses,
/// ports, protocol, action, direction, path) and that counts and times are plausible.
fn check_leg(records: &[&Record], leg: &Leg<'_>, subnet: &str, path: &str, since: u64) {
    assert!(!records.is_empty(), "no records of {leg:?}");
    let now = unix_now();
    for r in records {
        let want = [
            ("version", "5".to_string()),
            ("account-id", "000000000000".to_string()),
            ("interface-id", leg.iface.to_string()),
            ("srcaddr", leg.addrs.0.to_string()),
            ("dstaddr", leg.addrs.1.to_string()),
            ("srcport", leg.ports.0.to_string()),
            ("dstport", leg.ports.1.to_string()),
            ("protocol", "6".to_string()),
            ("action", "ACCEPT".to_string()),
            ("log-status", "OK".to_string()),
            ("vpc-id", "vpc-t".to_string()),
            ("subnet-id", subnet.to_string()),
            // A requester-managed interface has no instance (and the lab has none).
            ("instance-id", "-".to_string()),
            ("type", "IPv4".to_string()),
            ("pkt-srcaddr", leg.pkt.0.to_string()),
            ("pkt-dstaddr", leg.pkt.1.to_string()),
            ("flow-direction", leg.direction.to_string()),
            ("traffic-path", path.to_string()),
        ];
        for (field, value) in want {
            assert_eq!(r.get(field), value, "{field} of {r:?}");
        }
        let (n, b) = (r.num("packets"), r.num("bytes"));
        assert!(n >= 1 && b >= 40 * n, "packets/bytes of {r:?}");
        let (start, end) = (r.num("start"), r.num("end"));
        assert!(
            since <= start && start <= end && end <= now + 1,
            "start/end {start}..{end} outside {since}..{now}: {r:?}"
        );
    }
}

#[test]
fn a_flow_log_on_the_nat_gateway_interface_records_both_legs_field_by_field() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let scratch = Scratch::new("vpc7-natgw-fl").unwrap().keep_on_panic(true);
    let (nat_log, pub_log, app_log) = (
        scratch.join("nat.log"),
        scratch.join("pub.log"),
        scratch.join("app.log"),
    );
    let since = unix_now();
    let lab: Lab = start(&flow_log_topology(&nat_log, &pub_log, &app_log));
    let (inet, app) = (lab.internet(IGW), lab.ns(APP));
    let listen = format!("TCP4-LISTEN:{PORT},bind={HOST},reuseaddr,fork");
    let mut srv = socat_listener(inet, &listen);
    let payload = scratch.join("payload.txt");
    let line = "x".repeat(3000);
    std::fs::write(&payload, format!("{line}\nnat-done\n")).unwrap();
    send(app, HOST, SPORT, &payload);
    srv.wait_for_line(|s, l| s == Stream::Stdout && l == "nat-done", CMD)
        .unwrap();

    // The gateway keeps the instance's port (in range and free).
    let p = SPORT;
    let legs = [
        // The instance's packets arriving at the gateway's interface: dstaddr is the
        // gateway's private address, pkt-dstaddr the internet host.
        Leg {
            iface: NAT_ENI,
            direction: "ingress",
            addrs: (APP_IP, NAT_IP),
            pkt: (APP_IP, HOST),
            ports: (SPORT, PORT),
        },
        // Leaving translated, to the internet gateway (traffic path 8).
        Leg {
            iface: NAT_ENI,
            direction: "egress",
            addrs: (NAT_IP, HOST),
            pkt: (NAT_IP, HOST),
            ports: (p, PORT),
        },
        // The replies arriving at the gateway's address (the internet gateway mapped the
        // Elastic IP to it).
        Leg {
            iface: NAT_ENI,
            direction: "ingress",
            addrs: (HOST, NAT_IP),
            pkt: (HOST, NAT_IP),
            ports: (PORT, p),
        },
        // Leaving for the instance: srcaddr is the gateway, pkt-srcaddr the host.
        Leg {
            iface: NAT_ENI,
            direction: "egress",
            addrs: (NAT_IP, APP_IP),
            pkt: (HOST, APP_IP),
            ports: (PORT, SPORT),
        },
    ];
    let app_legs = [
        Leg {
            iface: APP,
            direction: "egress",
            addrs: (APP_IP, HOST),
            pkt: (APP_IP, HOST),
            ports: (SPORT, PORT),
        },
        Leg {
            iface: APP,
            direction: "ingress",
            addrs: (HOST, APP_IP),
            pkt: (HOST, APP_IP),
            ports: (PORT, SPORT),
        },
    ];
    // The client's SYN and FIN (3) and the server's SYN-ACK and FIN (19) on every leg;
    // and what left the instance is what reached the gateway (the logs' intervals differ,
    // so their totals are compared once both have every packet).
    let complete = |nat: &[Record], app: &[Record]| {
        let f = |leg: &Leg<'_>, rs: &[Record]| flags(&leg.of(rs));
        f(&legs[0], nat) == 3
            && f(&legs[1], nat) == 3
            && f(&legs[2], nat) == 19
            && f(&legs[3], nat) == 19
            && f(&app_legs[0], app) == 3
            && f(&app_legs[1], app) == 19
            && packets(&legs[0].of(nat)) == packets(&app_legs[0].of(app))
            && packets(&legs[3].of(nat)) == packets(&app_legs[1].of(app))
    };
    let mut app_records = Vec::new();
    let nat_records = wait_records(&nat_log, RECORDS_WAIT, |r| {
        app_records = read_records(&app_log);
        complete(r, &app_records)
    });
    let dump = |rs: &[Record]| {
        rs.iter()
            .map(|r| {
                fields()
                    .iter()
                    .map(|f| r.get(f))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let dump_both = || {
        format!(
            "fl-nat:\n{}\nfl-app:\n{}",
            dump(&nat_records),
            dump(&app_records)
        )
    };
    assert!(complete(&nat_records, &app_records), "{}", dump_both());
    for (leg, path, want) in [
        (&legs[0], "-", 3),
        (&legs[1], "8", 3),
        (&legs[2], "-", 19),
        (&legs[3], "1", 19),
    ] {
        let rs = leg.of(&nat_records);
        check_leg(&rs, leg, "subnet-pub", path, since);
        assert_eq!(flags(&rs), want, "{leg:?}\n{}", dump_both());
    }
    // Only those four flows, and only accepted traffic, on the gateway's interface.
    for r in &nat_records {
        assert!(
            r.get("log-status") == "NODATA"
                || legs
                    .iter()
                    .any(|l| !l.of(std::slice::from_ref(r)).is_empty()),
            "an unexpected record on {NAT_ENI}: {r:?}\n{}",
            dump_both()
        );
        assert_eq!(r.get("interface-id"), NAT_ENI);
    }
    // Each leg in carries what the leg out carries (the gateway rewrites headers only),
    // and the instance's records agree with the gateway's: same packets, same bytes.
    let count = |leg: &Leg<'_>, rs: &[Record]| (packets(&leg.of(rs)), bytes(&leg.of(rs)));
    assert_eq!(count(&legs[0], &nat_records), count(&legs[1], &nat_records));
    assert_eq!(count(&legs[2], &nat_records), count(&legs[3], &nat_records));
    assert_eq!(
        count(&legs[0], &nat_records),
        count(&app_legs[0], &app_records)
    );
    assert_eq!(
        count(&legs[3], &nat_records),
        count(&app_legs[1], &app_records)
    );
    // The payload went through: its 3010 bytes towards the host, and more than headers
    // back (an offloaded super-frame counts its segments as packets, one IP header in
    // bytes).
    let (n, b) = count(&legs[1], &nat_records);
    assert!(
        b > 3010 && n >= 3,
        "{n} packets, {b} bytes:\n{}",
        dump_both()
    );
    for (leg, path) in app_legs.iter().zip(["1", "-"]) {
        check_leg(&leg.of(&app_records), leg, "subnet-priv", path, since);
    }

    // The subnet's flow log holds the gateway's interface too, with the same flows (read
    // with the gateway's own log, both complete).
    let mut latest = Vec::new();
    let pub_records = wait_records(&pub_log, RECORDS_WAIT, |r| {
        latest = read_records(&nat_log);
        legs.iter()
            .all(|l| flags(&l.of(r)) == flags(&l.of(&latest)) && count(l, r) == count(l, &latest))
    });
    for leg in &legs {
        assert_eq!(
            (flags(&leg.of(&pub_records)), count(leg, &pub_records)),
            (flags(&leg.of(&latest)), count(leg, &latest)),
            "{leg:?} in fl-pub:\n{}\nfl-nat:\n{}",
            dump(&pub_records),
            dump(&latest)
        );
        assert!(!leg.of(&pub_records).is_empty(), "{leg:?}");
    }

    // `vpcctl show` lists the interface under its subnet and names it in the flow logs.
    let text = control::render::show(&lab.show().unwrap());
    let row = |first: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(&format!("{first} ")))
            .unwrap_or_else(|| panic!("no {first} row in\n{text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row(NAT_ENI),
        [NAT_ENI, "nat_gateway", "subnet-pub", NAT_IP, NAT_EIP, NAT]
    );
    assert_eq!(
        row("fl-nat")[..5],
        ["fl-nat", NAT_ENI, NAT_ENI, "ALL", "1s"]
    );
    assert_eq!(
        row("fl-pub")[..5],
        ["fl-pub", NAT_ENI, NAT_ENI, "ALL", "1s"]
    );
    drop(srv);
}

// --- (b) two NAT gateways, two idle timeouts ---------------------------------------------------

const SHORT: &str = "nat-short";
const SHORT_EIP: &str = "198.51.100.7";
const LONG: &str = "nat-long";
const LONG_EIP: &str = "198.51.100.8";
const APP_A: &str = "eni-a";
const APP_B: &str = "eni-b";

/// subnet-a routes to nat-short (`idle_timeout = 1.5`), subnet-b to nat-long (no
/// `idle_timeout`: `[lab] nat_gateway_idle_timeout = 60`); both gateways in subnet-pub.
fn two_gateways() -> String {
    format!(
        r#"
[lab]
nat_gateway_idle_timeout = 60

[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-public"
vpc = "vpc-t"
routes = [{{ destination = "0.0.0.0/0", target = "{IGW}" }}]

[[route_table]]
id = "rtb-a"
vpc = "vpc-t"
routes = [{{ destination = "0.0.0.0/0", target = "{SHORT}" }}]

[[route_table]]
id = "rtb-b"
vpc = "vpc-t"
routes = [{{ destination = "0.0.0.0/0", target = "{LONG}" }}]

[[subnet]]
id = "subnet-pub"
vpc = "vpc-t"
cidr = "10.0.1.0/24"
route_table = "rtb-public"

[[subnet]]
id = "subnet-a"
vpc = "vpc-t"
cidr = "10.0.2.0/24"
route_table = "rtb-a"

[[subnet]]
id = "subnet-b"
vpc = "vpc-t"
cidr = "10.0.3.0/24"
route_table = "rtb-b"

[[internet_gateway]]
id = "{IGW}"
vpc = "vpc-t"
internet = {{ netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["{HOST}"] }}

[[nat_gateway]]
id = "{SHORT}"
subnet = "subnet-pub"
allocation_id = "eipalloc-short"
idle_timeout = 1.5

[[nat_gateway]]
id = "{LONG}"
subnet = "subnet-pub"
allocation_id = "eipalloc-long"

[[elastic_ip]]
id = "eipalloc-short"
public_ip = "{SHORT_EIP}"

[[elastic_ip]]
id = "eipalloc-long"
public_ip = "{LONG_EIP}"

[[eni]]
id = "{APP_A}"
subnet = "subnet-a"
private_ip = "10.0.2.20"
netns = "a"

[[eni]]
id = "{APP_B}"
subnet = "subnet-b"
private_ip = "10.0.3.20"
netns = "b"
"#
    )
}

/// A NAT gateway's metrics as `vpcctl show --json` reports them.
fn nat_metrics(lab: &Lab, id: &str) -> NatMetrics {
    lab.show()
        .unwrap()
        .nat_gateways
        .into_iter()
        .find(|n| n.id == id)
        .unwrap_or_else(|| panic!("vpcd reports no NAT gateway {id}"))
        .metrics
}

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

#[test]
fn two_nat_gateways_keep_their_own_idle_timeouts() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&two_gateways());
    // The compiled timeouts: the gateway's own, and [lab]'s for the other.
    let timeouts: Vec<(String, String, u64)> = lab
        .show()
        .unwrap()
        .config
        .nat_gateways
        .iter()
        .map(|n| (n.id.clone(), n.interface_id.clone(), n.idle_timeout_ms))
        .collect();
    assert_eq!(
        timeouts,
        [
            (SHORT.into(), format!("eni-{SHORT}"), 1_500),
            (LONG.into(), format!("eni-{LONG}"), 60_000)
        ]
    );
    let inet = lab.internet(IGW);
    let mut srv = probe_server(inet, HOST, &[8001, 8002]);

    // One connection through each gateway, each seen from its Elastic IP.
    let mut short = hold(lab.ns(APP_A), HOST, 8001, 5);
    let mut long = hold(lab.ns(APP_B), HOST, 8002, 5);
    assert_eq!(short.send("before"), "echo before");
    assert_eq!(long.send("before"), "echo before");
    assert_eq!(next_accepted(&mut srv, 8001).ip(), ip(SHORT_EIP));
    assert_eq!(next_accepted(&mut srv, 8002).ip(), ip(LONG_EIP));

    // The readiness signal of the short timeout is its metric.
    let m = poll(
        COUNTER_WAIT + Duration::from_secs(2),
        || nat_metrics(&lab, SHORT),
        |m| m.idle_timeout_count >= 1,
    );
    assert!(
        m.idle_timeout_count == 1 && m.translations == 0 && m.active_connection_count == 0,
        "{SHORT}'s translation expired: {m:#?}"
    );
    // The long one still holds its translation, idle as long.
    let l = nat_metrics(&lab, LONG);
    assert!(
        l.idle_timeout_count == 0 && l.translations == 1 && l.active_connection_count == 1,
        "{LONG} keeps its translation: {l:#?}"
    );

    // The short gateway answers the next segment with a RST; the long one forwards it.
    assert_eq!(
        short.send("after"),
        "reset",
        "tcp-probe:\n{}",
        short.child.stdout_text()
    );
    assert_eq!(long.send("after"), "echo after");
    assert!(
        !srv.stdout_text().contains("got 8001 after"),
        "the segment after the timeout reached the server:\n{}",
        srv.stdout_text()
    );
    let m = poll(
        COUNTER_WAIT,
        || nat_metrics(&lab, SHORT),
        |m| m.resets_sent >= 1,
    );
    assert!(m.resets_sent >= 1, "{m:#?}");
    assert_eq!(nat_metrics(&lab, LONG).resets_sent, 0);

    // A new connection through the short gateway opens a new translation.
    let attempts = m.connection_attempt_count;
    let mut again = hold(lab.ns(APP_A), HOST, 8001, 5);
    assert_eq!(again.send("again"), "echo again");
    assert_eq!(next_accepted(&mut srv, 8001).ip(), ip(SHORT_EIP));
    let m = poll(
        COUNTER_WAIT,
        || nat_metrics(&lab, SHORT),
        |m| m.translations == 1,
    );
    assert!(
        m.translations == 1 && m.connection_attempt_count > attempts,
        "{m:#?}"
    );
}
