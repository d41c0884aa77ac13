//! End-to-end tests of flow logs (VPC Flow Logs): records written by `vpcd` for real
//! traffic between namespaces, read back from the log files and checked field by field.
//!
//! One scripted run on its own [`Lab`] (VPC 10.0.0.0/16; subnet-a 10.0.1.0/24 with eni-a at
//! 10.0.1.10 and the idle eni-c at 10.0.1.30; subnet-b 10.0.2.0/24 with eni-b at 10.0.2.20
//! behind acl-b, which lets everything in but out only TCP to ports 40000–40999 of
//! subnet-a; every ENI in the VPC's default group), with `[lab] flow_log_interval = 1` and
//! two flow logs writing into the test's scratch directory:
//!
//! - `fl-all` on the VPC, `ALL`, a custom version 5 format with 24 fields;
//! - `fl-rej` on subnet-b, `REJECT`, the default (version 2) format.
//!
//! It checks (a) a short TCP connection a → b:8080 from the fixed source port 40001 (socat
//! `sourceport=`): the four records of the flow (egress and ingress on both ENIs) field by
//! field, and the TCP flags OR-ed over every record of each direction (3 = SYN|FIN for the
//! client's packets, 19 = SYN-ACK|FIN for the server's, whichever intervals they fell in);
//! (b) a connection from source port 50001, whose SYN-ACK acl-b refuses: ACCEPT records for
//! the SYN on a's egress and b's ingress, a REJECT record on b's egress, nothing on a's
//! ingress; (c) `NODATA` records for the idle eni-c, one per interval, back to back; (d)
//! the `REJECT` flow log holds only REJECT records (and `NODATA`), in the default format.
//! Intervals close every second; the files are polled with a deadline, nothing sleeps to
//! synchronise.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testbeds::process::Stream;
use testbeds::{Lab, Netns, NsChild, Scratch};

mod common;
use common::{socat_listener, start, CMD};

const A: &str = "eni-a";
const A_IP: &str = "10.0.1.10";
const B: &str = "eni-b";
const B_IP: &str = "10.0.2.20";
const C: &str = "eni-c";
const PORT: u16 = 8080;
/// The client's source port of the accepted connection (inside acl-b's outbound range).
const OK_SPORT: u16 = 40001;
/// The client's source port of the connection whose reply acl-b refuses.
const DENIED_SPORT: u16 = 50001;

/// The fields of `fl-all`, in order: every field but `az-id`, `sublocation-type`,
/// `sublocation-id` and `pkt-src/dst-aws-service`, which are always `-` in a lab.
const ALL_FIELDS: [&str; 24] = [
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
    "region",
    "flow-direction",
    "traffic-path",
];

/// How long records may take: intervals close every second, a connection attempt that
/// times out takes a few.
const RECORDS_WAIT: Duration = Duration::from_secs(15);

fn topology(all_log: &Path, reject_log: &Path) -> String {
    let format: Vec<String> = ALL_FIELDS.iter().map(|f| format!("${{{f}}}")).collect();
    format!(
        r#"
[[vpc]]
id = "vpc-fl"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-fl"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-fl"
cidr = "10.0.2.0/24"

# Replies from subnet-b may go to subnet-a's ports 40000-40999 only.
[[network_acl]]
id = "acl-b"
vpc = "vpc-fl"
subnets = ["subnet-b"]
inbound = [{{ rule = 100, protocol = "-1", cidr = "0.0.0.0/0", action = "allow" }}]
outbound = [{{ rule = 100, protocol = "tcp", ports = "40000-40999", cidr = "10.0.1.0/24", action = "allow" }}]

[[eni]]
id = "{A}"
subnet = "subnet-a"
private_ip = "{A_IP}"
netns = "a"

[[eni]]
id = "{C}"
subnet = "subnet-a"
private_ip = "10.0.1.30"
netns = "c"

[[eni]]
id = "{B}"
subnet = "subnet-b"
private_ip = "{B_IP}"
netns = "b"

[[flow_log]]
id = "fl-all"
resource = "vpc-fl"
traffic_type = "ALL"
log_destination = "{}"
log_format = "{}"

[[flow_log]]
id = "fl-rej"
resource = "subnet-b"
traffic_type = "reject"
max_aggregation_interval = 60
log_destination = "{}"

[lab]
flow_log_interval = 1
"#,
        all_log.display(),
        format.join(" "),
        reject_log.display(),
    )
}

// --- records -------------------------------------------------------------------------------

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

    fn text(&self, fields: &[&str]) -> String {
        fields
            .iter()
            .map(|f| self.get(f))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The complete lines of a flow log file (a line being written is left out), parsed with
/// `fields`; no file yet means no records.
fn read_records(path: &Path, fields: &[&'static str]) -> Vec<Record> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|l| {
            let values: Vec<&str> = l.split(' ').collect();
            assert_eq!(
                values.len(),
                fields.len(),
                "{}: line {l:?} has {} fields, the format {}",
                path.display(),
                values.len(),
                fields.len()
            );
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
    fields: &[&'static str],
    timeout: Duration,
    mut done: impl FnMut(&[Record]) -> bool,
) -> Vec<Record> {
    let deadline = Instant::now() + timeout;
    loop {
        let r = read_records(path, fields);
        let now = Instant::now();
        if done(&r) || now >= deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50).min(deadline - now));
    }
}

/// The records of one direction of a flow at one ENI (`fl-all`'s fields).
fn flow<'a>(
    records: &'a [Record],
    eni: &str,
    direction: &str,
    (src, sport): (&str, u16),
    (dst, dport): (&str, u16),
) -> Vec<&'a Record> {
    let (sport, dport) = (sport.to_string(), dport.to_string());
    records
        .iter()
        .filter(|r| {
            r.get("log-status") == "OK"
                && r.get("interface-id") == eni
                && r.get("flow-direction") == direction
                && r.get("pkt-srcaddr") == src
                && r.get("pkt-dstaddr") == dst
                && r.get("srcport") == sport
                && r.get("dstport") == dport
        })
        .collect()
}

/// The TCP flags OR-ed over records.
fn flags(records: &[&Record]) -> u64 {
    records.iter().fold(0, |f, r| f | r.num("tcp-flags"))
}

fn packets(records: &[&Record]) -> u64 {
    records.iter().map(|r| r.num("packets")).sum()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Checks the fields every record of a flow shares: the constants, addresses (the ENI's
/// own side is its primary address, which is also the packet's here), ports, protocol,
/// counts and times (within `since..=unix_now()`).
#[allow(clippy::too_many_arguments)]
fn check_flow_records(
    records: &[&Record],
    eni: &str,
    subnet: &str,
    direction: &str,
    (src, sport): (&str, u16),
    (dst, dport): (&str, u16),
    action: &str,
    since: u64,
) {
    assert!(
        !records.is_empty(),
        "no {direction} record of {src}:{sport} -> {dst}:{dport} on {eni}"
    );
    // Egress that left goes to a resource of the same VPC (1); what was refused on its way
    // out went nowhere (`-`), like ingress.
    let path = if direction == "egress" && action == "ACCEPT" {
        "1"
    } else {
        "-"
    };
    let now = unix_now();
    for r in records {
        let want = [
            ("version", "5".to_string()),
            ("account-id", "000000000000".to_string()),
            ("interface-id", eni.to_string()),
            ("srcaddr", src.to_string()),
            ("dstaddr", dst.to_string()),
            ("srcport", sport.to_string()),
            ("dstport", dport.to_string()),
            ("protocol", "6".to_string()),
            ("action", action.to_string()),
            ("log-status", "OK".to_string()),
            ("vpc-id", "vpc-fl".to_string()),
            ("subnet-id", subnet.to_string()),
            ("instance-id", "-".to_string()),
            ("type", "IPv4".to_string()),
            ("pkt-srcaddr", src.to_string()),
            ("pkt-dstaddr", dst.to_string()),
            ("region", "lab".to_string()),
            ("flow-direction", direction.to_string()),
            ("traffic-path", path.to_string()),
        ];
        for (field, value) in want {
            assert_eq!(r.get(field), value, "{field} of {r:?}");
        }
        let (n, bytes) = (r.num("packets"), r.num("bytes"));
        assert!(n >= 1, "packets of {r:?}");
        assert!(
            bytes >= 40 * n,
            "bytes: {n} TCP/IPv4 packets are >= 40 bytes each: {r:?}"
        );
        let (start, end) = (r.num("start"), r.num("end"));
        assert!(
            since <= start && start <= end && end <= now + 1,
            "start/end {start}..{end} outside {since}..{now}: {r:?}"
        );
    }
}

// --- traffic ---------------------------------------------------------------------------------

/// `socat -u TCP4-LISTEN:8080,fork STDOUT` on `ip` in `ns`: every connection's data on its
/// stdout. Ready when socat says it is listening.
fn server(ns: &Netns, ip: &str) -> NsChild {
    let listen = format!("TCP4-LISTEN:{PORT},bind={ip},reuseaddr,fork");
    socat_listener(ns, &listen)
}

/// Sends the contents of `file` from `ns` to `dst:8080` from source port `sport` and
/// closes; `Err` with socat's complaint when it cannot connect within `timeout_secs`.
/// (A file, not `SYSTEM:echo`: the exit of socat's child would interrupt a pending connect.)
fn send(ns: &Netns, dst: &str, sport: u16, file: &Path, timeout_secs: u32) -> Result<(), String> {
    let from = format!("GOPEN:{}", file.display());
    let connect =
        format!("TCP4:{dst}:{PORT},sourceport={sport},reuseaddr,connect-timeout={timeout_secs}");
    let out = ns.exec(&["socat", "-u", &from, &connect], CMD).unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

// --- the test ----------------------------------------------------------------------------------

#[test]
fn flow_logs_record_accepted_rejected_and_idle_traffic_field_by_field() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let scratch = Scratch::new("vpc5-flowlog").unwrap().keep_on_panic(true);
    let all_log = scratch.join("all.log");
    let reject_log = scratch.join("reject.log");
    let since = unix_now();
    let lab: Lab = start(&topology(&all_log, &reject_log));
    let (a, b) = (lab.ns(A), lab.ns(B));
    let mut srv = server(b, B_IP);

    // (a) A short connection a -> b:8080, accepted both ways.
    let hello = scratch.join("hello.txt");
    std::fs::write(&hello, "hello-a\n").unwrap();
    send(a, B_IP, OK_SPORT, &hello, 5).unwrap();
    srv.wait_for_line(|s, l| s == Stream::Stdout && l == "hello-a", CMD)
        .unwrap();
    let client = (A_IP, OK_SPORT);
    let server_end = (B_IP, PORT);
    // Both ends' records of both directions, with every flag of the connection: the
    // client's SYN and FIN (3), the server's SYN-ACK and FIN (19).
    let records = wait_records(&all_log, &ALL_FIELDS, RECORDS_WAIT, |r| {
        flags(&flow(r, A, "egress", client, server_end)) == 3
            && flags(&flow(r, B, "ingress", client, server_end)) == 3
            && flags(&flow(r, B, "egress", server_end, client)) == 19
            && flags(&flow(r, A, "ingress", server_end, client)) == 19
    });
    let dump = || {
        records
            .iter()
            .map(|r| r.text(&ALL_FIELDS))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (eni, subnet, dir, from, to, want_flags) in [
        (A, "subnet-a", "egress", client, server_end, 3),
        (B, "subnet-b", "ingress", client, server_end, 3),
        (B, "subnet-b", "egress", server_end, client, 19),
        (A, "subnet-a", "ingress", server_end, client, 19),
    ] {
        let rs = flow(&records, eni, dir, from, to);
        assert_eq!(
            flags(&rs),
            want_flags,
            "tcp-flags OR-ed over {eni}'s {dir} records of the connection; fl-all:\n{}",
            dump()
        );
        check_flow_records(&rs, eni, subnet, dir, from, to, "ACCEPT", since);
        // Handshake, data and FIN from the client; SYN-ACK and FIN (and ACKs) back.
        assert!(
            packets(&rs) >= 2,
            "{eni} {dir}: {} packets; fl-all:\n{}",
            packets(&rs),
            dump()
        );
    }
    // What left one end arrived at the other: the same packets and bytes.
    for (from, to, src, dst) in [(A, B, client, server_end), (B, A, server_end, client)] {
        let sent = flow(&records, from, "egress", src, dst);
        let got = flow(&records, to, "ingress", src, dst);
        assert_eq!(packets(&sent), packets(&got), "{from} -> {to}:\n{}", dump());
        let bytes = |rs: &[&Record]| rs.iter().map(|r| r.num("bytes")).sum::<u64>();
        assert_eq!(bytes(&sent), bytes(&got), "{from} -> {to}:\n{}", dump());
    }

    // (b) From source port 50001 the SYN gets through, but acl-b refuses the SYN-ACK: a
    // REJECT on b's egress (where it was refused), nothing ever reaches a.
    let err = send(a, B_IP, DENIED_SPORT, &hello, 2).unwrap_err();
    assert!(
        err.to_ascii_lowercase().contains("timed out"),
        "the connection from port {DENIED_SPORT} should time out: {err}"
    );
    let denied = (A_IP, DENIED_SPORT);
    let records = wait_records(&all_log, &ALL_FIELDS, RECORDS_WAIT, |r| {
        !flow(r, A, "egress", denied, server_end).is_empty()
            && !flow(r, B, "ingress", denied, server_end).is_empty()
            && r.iter().any(|x| {
                x.get("interface-id") == B
                    && x.get("action") == "REJECT"
                    && x.get("dstport") == DENIED_SPORT.to_string()
            })
    });
    let dump = || {
        records
            .iter()
            .map(|r| r.text(&ALL_FIELDS))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let syn_out = flow(&records, A, "egress", denied, server_end);
    check_flow_records(
        &syn_out, A, "subnet-a", "egress", denied, server_end, "ACCEPT", since,
    );
    assert_eq!(flags(&syn_out), 2, "only SYNs left a:\n{}", dump());
    let syn_in = flow(&records, B, "ingress", denied, server_end);
    check_flow_records(
        &syn_in, B, "subnet-b", "ingress", denied, server_end, "ACCEPT", since,
    );
    assert_eq!(flags(&syn_in), 2, "only SYNs reached b:\n{}", dump());
    let reply = flow(&records, B, "egress", server_end, denied);
    check_flow_records(
        &reply, B, "subnet-b", "egress", server_end, denied, "REJECT", since,
    );
    assert_eq!(flags(&reply), 18, "b's refused SYN-ACKs:\n{}", dump());
    assert!(
        flow(&records, A, "ingress", server_end, denied).is_empty(),
        "nothing of the refused reply may reach a:\n{}",
        dump()
    );

    // (c) The idle eni-c: NODATA, one record per interval, each starting where the
    // previous one ended, with every flow field `-`.
    let records = wait_records(&all_log, &ALL_FIELDS, RECORDS_WAIT, |r| {
        r.iter().filter(|x| x.get("interface-id") == C).count() >= 3
    });
    let dump = || {
        records
            .iter()
            .map(|r| r.text(&ALL_FIELDS))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut idle: Vec<&Record> = records
        .iter()
        .filter(|r| r.get("interface-id") == C)
        .collect();
    assert!(idle.len() >= 3, "eni-c's records:\n{}", dump());
    idle.sort_by_key(|r| r.num("start"));
    for r in &idle {
        assert_eq!(
            r.text(&ALL_FIELDS[..3]),
            format!("5 000000000000 {C}"),
            "{r:?}"
        );
        assert_eq!(r.get("log-status"), "NODATA", "eni-c is idle: {r:?}");
        for f in [
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "action",
            "tcp-flags",
            "type",
            "pkt-srcaddr",
            "pkt-dstaddr",
            "flow-direction",
            "traffic-path",
        ] {
            assert_eq!(r.get(f), "-", "{f} of a NODATA record: {r:?}");
        }
        assert_eq!(
            r.text(&["vpc-id", "subnet-id", "instance-id", "region"]),
            "vpc-fl subnet-a - lab"
        );
        let (start, end) = (r.num("start"), r.num("end"));
        assert!(
            start < end && end <= start + 3,
            "a 1 s interval, in whole seconds (a flush may come late): {r:?}"
        );
    }
    for w in idle.windows(2) {
        assert_eq!(
            w[1].num("start"),
            w[0].num("end"),
            "consecutive intervals:\n{}",
            dump()
        );
    }

    // (d) fl-rej (subnet-b, REJECT, default format): b's refused replies and nothing that
    // was accepted, though b accepted and sent plenty; intervals without a REJECT are
    // NODATA (or nothing, when everything was accepted).
    let default: Vec<&'static str> = dataplane::observe::flowlog::DEFAULT_FIELDS.to_vec();
    let rejected = wait_records(&reject_log, &default, RECORDS_WAIT, |r| {
        r.iter().any(|x| x.get("action") == "REJECT")
    });
    let dump = || {
        rejected
            .iter()
            .map(|r| r.text(&default))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        rejected.iter().any(|r| r.get("action") == "REJECT"),
        "fl-rej:\n{}",
        dump()
    );
    for r in &rejected {
        match r.get("log-status") {
            "OK" => {
                let fields = r.text(&default);
                let want = format!(
                    "2 000000000000 {B} {B_IP} {A_IP} {PORT} {DENIED_SPORT} 6 {} {} {} {} REJECT OK",
                    r.get("packets"),
                    r.get("bytes"),
                    r.get("start"),
                    r.get("end"),
                );
                assert_eq!(fields, want, "fl-rej keeps b's refused replies only");
            }
            "NODATA" => assert_eq!(r.text(&default[..3]), format!("2 000000000000 {B}")),
            other => panic!("log-status {other}: {r:?}"),
        }
    }

    // `vpcctl show` lists both flow logs: id, scope, ENIs, traffic, interval, file, format.
    let text = control::render::show(&lab.show().unwrap());
    assert!(text.contains("\nFlow logs ("), "{text}");
    let row = |id: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} in\n{text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let (all, rej) = (
        all_log.display().to_string(),
        reject_log.display().to_string(),
    );
    assert_eq!(
        row("fl-all"),
        [
            "fl-all",
            "vpc-fl",
            "eni-a,eni-c,eni-b",
            "ALL",
            "1s",
            &all,
            "v5",
            "custom",
            "(24",
            "fields)"
        ]
    );
    // (A subnet with one ENI shows as that ENI.)
    assert_eq!(
        row("fl-rej"),
        ["fl-rej", "eni-b", "eni-b", "REJECT", "1s", &rej, "v2", "default"]
    );
    drop(srv);
}
