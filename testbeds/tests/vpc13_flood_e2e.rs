//! Exhaustion and fairness under floods (VPC-13, item 4), end to end: bounds, not speeds
//! (the speeds are `scripts/flood`'s, the `flood` benchmark's).
//!
//! One VPC, one subnet, four ENIs in four namespaces: A (the flooder, a connection table of
//! [`A_TABLE`] entries and a flow log), B (the target), C and D (the third pair). The
//! floods are real `hping3` runs in A's namespace, bounded in packets (`-c`) and time
//! (each is waited for with a deadline, then killed by its PID by its guard).
//!
//! (a) A SYN flood from A to a port of B that B's kernel drops silently (an nftables rule
//! in B's namespace, so every SYN stays a half-open connection until the transitory
//! timeout, scaled by `[lab] conntrack_time_scale`): A's table fills to its allowance,
//! `conntrack_allowance_exceeded` is counted on A and not on B, B's table holds no more than
//! A's allowance (an undone insert leaves nothing behind), while C pings D without loss and a
//! 4 MB TCP transfer C → D arrives intact. Afterwards, once the half-open entries time out,
//! A opens a connection to B's echo port and gets its echo.
//!
//! (b) vpcd's resident memory (`VmRSS`) is sampled every 20 ms during each flood: its peak
//! stays under the RSS before the flood plus [`RSS_SLACK`] (vpcd runs with a flow cache of
//! [`FLOW_CAPACITY`] flows, so that a leak per packet would stand out), and C ↔ D still
//! answer after.
//!
//! (c) A UDP flood of one flow (`hping3 --udp -k`: a fixed source port) with a flow log on
//! A's ENI (1-s aggregation intervals): the flow's records add up to the packets vpcd
//! took from A (every packet in a record) in at most two records per interval (the flow's
//! and B's ICMP port-unreachable answers), so the log grows with intervals, not packets.
//!
//! (d) A flood of first fragments never completed (`hping3 --udp -x`: MF set, offset 0, a
//! new IP id each), three times the fragment table's 4096 datagrams, then orphan later
//! fragments (`-g`): the orphans are counted `fragment_unmatched` on A, memory stays bounded,
//! C ↔ D keep working and A still reaches B.
//!
//! Nothing sleeps to synchronise: servers announce readiness, counters and files are polled
//! with deadlines.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dataplane::vpc::verdict::DropReason;
use testbeds::{Lab, Netns, NsChild, Scratch, VpcdOptions};

mod common;
use common::{hold, ping, poll, probe_server, spawn_tied, CMD, COUNTER_WAIT};

const A: &str = "eni-a";
const A_IP: &str = "10.0.1.10";
const B: &str = "eni-b";
const B_IP: &str = "10.0.1.20";
const C: &str = "eni-c";
const D: &str = "eni-d";
const D_IP: &str = "10.0.1.40";

/// A's connection-tracking allowance (entries).
const A_TABLE: u64 = 1000;
/// `[lab] conntrack_time_scale`: the 120-s transitory timeout of a half-open connection
/// becomes 2.4 s, so A's table drains within the test.
const TIME_SCALE: f64 = 0.02;
/// B's port whose SYNs B's kernel drops (no RST: the half-open entries stay).
const SILENT_PORT: u16 = 9999;
/// B's echo port (tcp-probe).
const ECHO_PORT: u16 = 7;
/// The UDP flood's fixed source and destination ports.
const UDP_SPORT: u16 = 4000;
const UDP_DPORT: u16 = 9998;

/// vpcd's flow cache here (`--flow-capacity`; the default is 65,536 flows, which a SYN
/// flood of new source ports fills: about 56 MiB of RSS in `scripts/flood`). Smaller, so
/// that what the floods add is small against [`RSS_SLACK`] and a leak would show.
const FLOW_CAPACITY: &str = "4096";

/// The memory a flood may add to vpcd, at most. What can grow under these floods, each
/// bounded by construction: A's and B's connection tables (A's allowance of 1000 entries;
/// B's holds only what A's admitted), the flow cache ([`FLOW_CAPACITY`] flows), the
/// fragment table (4096 datagrams, flushed when full), the flow log's records (one per
/// flow, interface and interval: (a)'s 30,000 SYNs are 30,000 flows of one interval each)
/// and the writer's queue. Together a few MiB (about 15 MiB measured on a debug build);
/// 32 MiB leaves room for allocator slack, and still catches growth per packet: every
/// flood sends 15,000 to 30,000 packets, so keeping even ~1–2 KiB per packet would pass it.
const RSS_SLACK: u64 = 32 << 20;

/// Deadline of a bounded flood: its packet count at its interval takes ~3 s.
const FLOOD_DEADLINE: Duration = Duration::from_secs(20);

fn topology(flow_log: &Path) -> String {
    format!(
        r#"
[lab]
conntrack_time_scale = {TIME_SCALE}
flow_log_interval = 1

[[vpc]]
id = "vpc-f"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-f"
vpc = "vpc-f"
cidr = "10.0.1.0/24"

[[security_group]]
id = "sg-a"
vpc = "vpc-f"
inbound = []

# Open to the VPC, but not to 0.0.0.0/0: every connection is tracked.
[[security_group]]
id = "sg-open"
vpc = "vpc-f"
inbound = [{{ protocol = "-1", source = "10.0.0.0/16" }}]

[[eni]]
id = "{A}"
subnet = "subnet-f"
private_ip = "{A_IP}"
netns = "a"
addressing = "static"
security_groups = ["sg-a"]
conntrack = {{ max_entries = {A_TABLE} }}

[[eni]]
id = "{B}"
subnet = "subnet-f"
private_ip = "{B_IP}"
netns = "b"
addressing = "static"
security_groups = ["sg-open"]

[[eni]]
id = "{C}"
subnet = "subnet-f"
private_ip = "10.0.1.30"
netns = "c"
addressing = "static"
security_groups = ["sg-open"]

[[eni]]
id = "{D}"
subnet = "subnet-f"
private_ip = "{D_IP}"
netns = "d"
addressing = "static"
security_groups = ["sg-open"]

[[flow_log]]
id = "fl-a"
resource = "{A}"
traffic_type = "ALL"
log_destination = "{}"
"#,
        flow_log.display()
    )
}

/// vpcd's resident memory in bytes.
fn rss(lab: &Lab) -> u64 {
    testbeds::process::resident_bytes(&lab.vpcd().pid().to_string()).unwrap()
}

/// Samples vpcd's RSS every 20 ms on a thread until the returned guard's `stop`: the peak.
struct RssSampler<'s> {
    stop: &'s AtomicBool,
    peak: &'s AtomicU64,
}

impl RssSampler<'_> {
    fn run(&self, pid: u32) {
        let pid = pid.to_string();
        while !self.stop.load(Ordering::Relaxed) {
            if let Ok(b) = testbeds::process::resident_bytes(&pid) {
                self.peak.fetch_max(b, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sets its flag when dropped.
struct StopOnDrop<'s>(&'s AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `hping3 ARGS…` in `ns` (bounded by `-c` in `args`) while `during` runs, sampling
/// vpcd's RSS; waits for hping3 to finish (at most [`FLOOD_DEADLINE`]). Returns `during`'s
/// result, hping3's transmitted count and vpcd's peak RSS.
fn flood<T>(lab: &Lab, ns: &Netns, args: &[&str], during: impl FnOnce() -> T) -> (T, u64, u64) {
    let mut argv = vec!["hping3"];
    argv.extend_from_slice(args);
    let stop = AtomicBool::new(false);
    let peak = AtomicU64::new(rss(lab));
    let pid = lab.vpcd().pid();
    let (out, mut hping) = std::thread::scope(|s| {
        let sampler = RssSampler {
            stop: &stop,
            peak: &peak,
        };
        let sampling = s.spawn(move || sampler.run(pid));
        // Stops the sampler on every exit path: a panic in `during` would otherwise
        // leave the scope waiting for it forever.
        let _stop = StopOnDrop(&stop);
        let mut hping: NsChild = spawn_tied(ns, &argv);
        let out = during();
        let status = hping.wait_timeout(FLOOD_DEADLINE);
        stop.store(true, Ordering::Relaxed);
        sampling.join().unwrap();
        let status = status.unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        assert!(
            status.success() || status.code() == Some(1),
            "{argv:?}: {status}; {}",
            hping.stderr_text()
        );
        (out, hping)
    });
    // hping3's summary, on stdout or stderr: "N packets tramitted, M packets received, …"
    // (sic).
    let text = format!("{}\n{}", hping.stdout_text(), hping.stderr_text());
    let sent = text
        .lines()
        .find(|l| l.contains("packets tra"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{argv:?}: no summary in {text:?}"));
    hping.terminate(Duration::from_secs(1));
    (out, sent, peak.load(Ordering::Relaxed))
}

/// C pings D 10 times 0.1 s apart and sends it 4 MB over TCP: both must succeed.
fn third_pair_works(lab: &Lab) -> (u32, u32, bool) {
    let (c, d) = (lab.ns(C), lab.ns(D));
    std::thread::scope(|s| {
        let p = s.spawn(|| ping(c, &["-c", "10", "-i", "0.1", "-W", "2", D_IP]).0);
        let t = testbeds::tcp_transfer(d, D_IP.parse().unwrap(), 5001, c, 4 << 20).unwrap();
        let p = p.join().unwrap();
        (p.transmitted, p.received, t.intact())
    })
}

fn assert_third_pair(lab: &Lab, when: &str) {
    let (tx, rx, intact) = third_pair_works(lab);
    assert!(
        tx == 10 && rx == tx,
        "{when}: C → D ping lost {} of {tx}",
        tx - rx
    );
    assert!(
        intact,
        "{when}: C → D transfer of 4 MB incomplete or corrupted"
    );
}

/// A connects to B's echo port and gets its echo.
fn a_reaches_b(lab: &Lab) {
    let mut held = hold(lab.ns(A), B_IP, ECHO_PORT, 2);
    assert_eq!(held.send("hello"), "echo hello", "A → B:{ECHO_PORT}");
}

/// The flow log's records (default format: … srcport dstport protocol packets …).
fn records(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|f| f.len() >= 14)
        .collect()
}

fn mib(b: u64) -> f64 {
    b as f64 / f64::from(1 << 20)
}

#[test]
fn floods_from_one_eni_fill_only_its_table_and_leave_memory_and_neighbours_bounded() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let dir = Scratch::new("vpc13-flood").unwrap();
    let log = dir.join("fl-a.log");
    testbeds::init_tracing();
    let opts = VpcdOptions {
        extra_args: vec!["--flow-capacity".into(), FLOW_CAPACITY.into()],
        ..VpcdOptions::default()
    };
    let lab = Lab::start_with(&topology(&log), opts).unwrap();
    let _echo = probe_server(lab.ns(B), B_IP, &[ECHO_PORT]);
    // B's kernel drops SYNs to SILENT_PORT silently: no RST ends the half-open connection.
    let silent = format!(
        "table inet flood {{ chain input {{ type filter hook input priority 0; tcp dport {SILENT_PORT} drop; }}; }}"
    );
    lab.ns(B)
        .exec_ok(&["nft", &silent], CMD)
        .unwrap_or_else(|e| panic!("nft in B's namespace: {e}"));
    a_reaches_b(&lab);
    assert_third_pair(&lab, "before the floods");

    // --- (a) SYN flood: A's table, A's counter; C ↔ D unharmed. -------------------------
    let rss_before = rss(&lab);
    let full_b_before = lab.drops(B, DropReason::ConntrackFull).unwrap();
    let port = SILENT_PORT.to_string();
    let args = ["-S", "-p", &port, "-i", "u100", "-c", "30000", B_IP];
    let ((a_full, pair), sent, peak) = flood(&lab, lab.ns(A), &args, || {
        // A's table fills: the allowance's drops are counted on A.
        let a = lab
            .wait_counters(A, COUNTER_WAIT, |c| {
                c.drops[DropReason::ConntrackFull.index()] > 0
            })
            .unwrap();
        (a, third_pair_works(&lab))
    });
    let rss_after = rss(&lab);
    let a_full_drops = a_full.drops[DropReason::ConntrackFull.index()];
    println!(
        "SYN flood: {sent} SYNs sent; A's table {}/{} when full, {a_full_drops} conntrack_allowance_exceeded on A; \
         vpcd RSS {:.1} → peak {:.1} → {:.1} MiB",
        a_full.conntrack_entries,
        a_full.conntrack_max,
        mib(rss_before),
        mib(peak),
        mib(rss_after)
    );
    assert!(sent >= 10_000, "hping3 sent only {sent} SYNs");
    assert!(a_full_drops > 0, "A's full table was counted on A");
    assert_eq!(a_full.conntrack_max, A_TABLE, "A's allowance as configured");
    assert!(
        a_full.conntrack_entries <= A_TABLE,
        "A's table stays within its allowance: {}",
        a_full.conntrack_entries
    );
    let b = lab.counters(B).unwrap();
    assert_eq!(
        b.drops[DropReason::ConntrackFull.index()],
        full_b_before,
        "nothing counted on B: the table was A's"
    );
    assert!(
        b.conntrack_entries <= A_TABLE + 10,
        "B's table holds no more than A admitted: {}",
        b.conntrack_entries
    );
    let (tx, rx, intact) = pair;
    assert!(
        tx == 10 && rx == tx,
        "during the SYN flood: C → D ping lost {} of {tx}",
        tx - rx
    );
    assert!(intact, "during the SYN flood: C → D transfer incomplete");
    // (b) memory.
    assert!(
        peak <= rss_before + RSS_SLACK,
        "SYN flood: vpcd RSS peak {:.1} MiB > {:.1} + {} MiB",
        mib(peak),
        mib(rss_before),
        RSS_SLACK >> 20
    );
    // Half-open entries time out (2.4 s scaled); then A may open connections again.
    let drained = poll(
        Duration::from_secs(10),
        || lab.counters(A).unwrap().conntrack_entries,
        |n| *n < A_TABLE / 2,
    );
    assert!(
        drained < A_TABLE / 2,
        "A's half-open entries expired: {drained} left"
    );
    a_reaches_b(&lab);

    // --- (c) UDP flood of one flow with a flow log on A. ----------------------------------
    let rss_before = rss(&lab);
    let a_rx_before = lab.counters(A).unwrap().rx_packets;
    let t0 = Instant::now();
    // Records of (a)'s SYNs (one per SYN: each is a flow of its own, TCP to SILENT_PORT)
    // are in the log already, those of its last second maybe not yet; (c)'s start from
    // now on.
    let c_start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let (sp, dp) = (UDP_SPORT.to_string(), UDP_DPORT.to_string());
    let args = [
        "--udp", "-k", "-s", &sp, "-p", &dp, "-d", "22", "-i", "u100", "-c", "30000", B_IP,
    ];
    let (pair, sent, peak) = flood(&lab, lab.ns(A), &args, || third_pair_works(&lab));
    let flood_secs = t0.elapsed().as_secs_f64();
    let a_rx = lab.counters(A).unwrap().rx_packets - a_rx_before;
    let is_flow = |f: &Vec<String>| f[5] == sp && f[6] == dp && f[7] == "17";
    // Records come when intervals close (every second): wait for the flood's packets.
    let recs = poll(
        Duration::from_secs(10),
        || records(&log),
        |r| {
            r.iter()
                .filter(|f| is_flow(f))
                .map(|f| f[8].parse::<u64>().unwrap_or(0))
                .sum::<u64>()
                >= sent
        },
    );
    let recs: Vec<_> = recs
        .into_iter()
        .filter(|f| f[10].parse::<u64>().is_ok_and(|t| t >= c_start))
        .filter(|f| !(f[6] == SILENT_PORT.to_string() && f[7] == "6"))
        .collect();
    let flow_recs: Vec<_> = recs.iter().filter(|f| is_flow(f)).collect();
    let logged: u64 = flow_recs.iter().map(|f| f[8].parse::<u64>().unwrap()).sum();
    let size: usize = recs.iter().map(|f| f.join(" ").len() + 1).sum();
    let intervals = flood_secs.ceil() as usize + 3;
    println!(
        "UDP flood: {sent} packets in {flood_secs:.1} s (vpcd took {a_rx} from A); flow log: {} records \
         of the flow with {logged} packets, {} records and {size} bytes in all since the flood began; vpcd RSS {:.1} → peak {:.1} MiB",
        flow_recs.len(),
        recs.len(),
        mib(rss_before),
        mib(peak)
    );
    assert!(sent >= 10_000, "hping3 sent only {sent} datagrams");
    assert_eq!(logged, sent, "every datagram of the flow is in a record");
    assert!(
        flow_recs.len() <= intervals,
        "one record per interval for the flow: {} records over ≤ {intervals} intervals",
        flow_recs.len()
    );
    assert!(
        recs.len() <= 20 + 4 * intervals,
        "the log grows with intervals, not packets: {} records, e.g. {:?}",
        recs.len(),
        recs.iter()
            .filter(|f| !is_flow(f))
            .take(20)
            .collect::<Vec<_>>()
    );
    assert!(
        size < 64 << 10,
        "flow log of {size} bytes for {sent} packets"
    );
    let (tx, rx, intact) = pair;
    assert!(
        tx == 10 && rx == tx && intact,
        "during the UDP flood: C → D ping {rx}/{tx}, transfer intact {intact}"
    );
    assert!(
        peak <= rss_before + RSS_SLACK,
        "UDP flood: vpcd RSS peak {:.1} MiB > {:.1} + {} MiB",
        mib(peak),
        mib(rss_before),
        RSS_SLACK >> 20
    );

    // --- (d) Never-completed fragments, then orphans. -------------------------------------
    let rss_before = rss(&lab);
    let unmatched_before = lab.drops(A, DropReason::FragmentUnmatched).unwrap();
    let firsts = [
        "--udp", "-x", "-k", "-s", "4001", "-p", "9997", "-d", "64", "-i", "u100", "-c", "15000",
        B_IP,
    ];
    let (pair, sent_firsts, peak_firsts) =
        flood(&lab, lab.ns(A), &firsts, || third_pair_works(&lab));
    let orphans = [
        "--udp", "-x", "-g", "64", "-k", "-s", "4002", "-p", "9996", "-d", "64", "-i", "u200",
        "-c", "2000", B_IP,
    ];
    let ((), sent_orphans, peak_orphans) = flood(&lab, lab.ns(A), &orphans, || ());
    let unmatched = lab
        .wait_drops(
            A,
            DropReason::FragmentUnmatched,
            unmatched_before + sent_orphans * 9 / 10,
            COUNTER_WAIT,
        )
        .unwrap()
        - unmatched_before;
    let peak = peak_firsts.max(peak_orphans);
    println!(
        "fragments: {sent_firsts} first fragments never completed, {sent_orphans} orphans \
         ({unmatched} fragment_unmatched on A); vpcd RSS {:.1} → peak {:.1} MiB",
        mib(rss_before),
        mib(peak)
    );
    assert!(
        sent_firsts >= 3 * 4096,
        "hping3 sent {sent_firsts} first fragments, fewer than 3 × the table's 4096"
    );
    // An orphan whose IP id happens to be that of a first fragment still in the table
    // (hping3 counts ids up from a random start in each run) is matched, not an orphan:
    // a few percent; the rest must be counted.
    assert!(
        unmatched >= sent_orphans / 2 && unmatched <= sent_orphans,
        "orphan later fragments are fragment_unmatched on A: {unmatched} of {sent_orphans}"
    );
    let (tx, rx, intact) = pair;
    assert!(
        tx == 10 && rx == tx && intact,
        "during the fragment flood: C → D ping {rx}/{tx}, transfer intact {intact}"
    );
    assert!(
        peak <= rss_before + RSS_SLACK,
        "fragment flood: vpcd RSS peak {:.1} MiB > {:.1} + {} MiB",
        mib(peak),
        mib(rss_before),
        RSS_SLACK >> 20
    );
    assert_third_pair(&lab, "after the floods");
    a_reaches_b(&lab);
    println!("vpcd RSS at the end: {:.1} MiB", mib(rss(&lab)));
}
