//! End-to-end test of `vpcctl trace` (VPC-5): the verdict of a traced packet agrees with
//! what the same kind of packet really does when a namespace sends it, a trace leaves the
//! running state alone, and `--return` explains the way back through both gateways.
//!
//! One lab runs the demo topology (`examples/demo.toml`: subnets web, app, public and
//! private of vpc-demo; the internet gateway igw-demo with its internet namespace holding
//! 203.0.113.5; pub1's Elastic IP 198.51.100.40; the NAT gateway nat-demo with the Elastic
//! IP 198.51.100.7; acl-app, whose rule 90 denies TCP 23 into subnet-app; vpc-shared
//! peered through pcx-demo, where sg-shared admits vpc-demo's sg-web members on TCP 80).
//! `tcp-probe listen` runs in every namespace a matrix case sends to, on the case's port.
//!
//! 1. A held connection priv1 → 203.0.113.5:9000 through the NAT gateway gives the data
//!    plane live connection and translation state.
//! 2. A batch of traces (`vpcctl trace … --json`): every case of the matrix, `--return`
//!    variants, packets of the live connection (both ways: the translation the trace
//!    finds is the real one), and replies of connections that only a trace ever opened
//!    (they stay drops: the forward trace's committed state is not kept). The state
//!    `vpcctl show --json` reports (drop counters, forwarded frames, connection-table
//!    sizes, NAT gateway metrics, network-ACL denies, flow cache) is the same before and
//!    after the batch. IPv6 is switched off in the namespaces first, the state is read
//!    until two reads agree, and only what a trace could change is compared (an instance
//!    may still ARP for its router at any time).
//! 3. `--return` on priv1 → 203.0.113.5:80: the reply is delivered to eni-priv1, and the
//!    steps show the internet gateway's and the NAT gateway's rewrites (before/after), the
//!    mirror image of those of the forward leg.
//! 4. Each matrix case is then sent for real (tcp-probe connect, ping): a delivered case
//!    must connect and its listener must see the source address the trace delivered; a
//!    dropped case must raise the sender port's drop counter of the traced reason (and no
//!    other) while the connection does not open, and at the end no listener has seen
//!    a dropped case's sender. Drops of frames from the internet are charged to the
//!    gateway's uplink, all others to the sending ENI.
//!
//! Readiness is a signal (tcp-probe's `ready`/`accepted` lines, ping's and connect's
//! exits); counters are polled with a deadline; nothing sleeps to synchronise.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ChildStdin;
use std::time::{Duration, Instant};

use dataplane::observe::stats::{NatMetrics, PortCounters, StatsReport};
use dataplane::observe::trace::{Header, Outcome, TraceLeg, TraceReport, TraceStep};
use dataplane::vpc::verdict::DropReason;
use testbeds::process::Stream;
use testbeds::{Lab, Netns, NsChild, SpawnOpts, Vpcctl};

mod common;
use common::{ip, ping, start, sysctl, CMD, COUNTER_WAIT};

const DEMO: &str = include_str!("../../examples/demo.toml");
/// The `tcp-probe` helper binary of this crate.
const PROBE: &str = env!("CARGO_BIN_EXE_tcp-probe");

const IGW: &str = "igw-demo";
/// How trace names the internet side of igw-demo.
const INTERNET: &str = "igw-demo (internet)";
/// The internet host `client` on igw-demo's internet segment, and its address (the first
/// host on the segment: what `vpcctl trace igw-demo` sends from).
const HOST_ID: &str = "client";
const HOST: &str = "203.0.113.5";
/// nat-demo's private address and Elastic IP.
const NAT_IP: &str = "10.0.0.220";
const NAT_EIP: &str = "198.51.100.7";
/// pub1's Elastic IP.
const PUB_EIP: &str = "198.51.100.40";
/// The internet port of the connection held open through the NAT gateway.
const HELD_PORT: u16 = 9000;

/// Drop reasons of the instances' own background traffic (IPv6 multicast, broadcasts),
/// which no trace of an IPv4 unicast packet could count.
const BACKGROUND: [DropReason; 4] = [
    DropReason::Multicast,
    DropReason::Ipv6NotForwarded,
    DropReason::Broadcast,
    DropReason::NonIp,
];

// --- the matrix ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Proto {
    Tcp(u16),
    Icmp,
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Sent out of port `to` (an ENI id or [`INTERNET`]); the receiver sees source `seen`.
    Delivered {
        to: &'static str,
        seen: &'static str,
    },
    /// Dropped for `reason`; the explanation code and blocking component, where checked.
    Dropped {
        reason: DropReason,
        code: Option<&'static str>,
        component: Option<&'static str>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Case {
    /// The sending ENI, or [`IGW`] for the internet host.
    from: &'static str,
    dst: &'static str,
    proto: Proto,
    expect: Expect,
    /// Where a TCP listener waits on the case's port (an ENI id, or [`IGW`]).
    at: Option<&'static str>,
}

const fn delivered(
    from: &'static str,
    dst: &'static str,
    proto: Proto,
    to: &'static str,
    seen: &'static str,
    at: Option<&'static str>,
) -> Case {
    Case {
        from,
        dst,
        proto,
        expect: Expect::Delivered { to, seen },
        at,
    }
}

const fn dropped(
    from: &'static str,
    dst: &'static str,
    proto: Proto,
    reason: DropReason,
    code: Option<&'static str>,
    component: Option<&'static str>,
    at: Option<&'static str>,
) -> Case {
    Case {
        from,
        dst,
        proto,
        expect: Expect::Dropped {
            reason,
            code,
            component,
        },
        at,
    }
}

/// Ordered so that no two consecutive drops share a sender and a reason (a straggler of
/// one cannot count for the next).
const MATRIX: [Case; 15] = [
    delivered(
        "eni-web1",
        "10.0.2.20",
        Proto::Tcp(5001),
        "eni-app1",
        "10.0.1.10",
        Some("eni-app1"),
    ),
    delivered(
        "eni-web1",
        "10.0.2.20",
        Proto::Icmp,
        "eni-app1",
        "10.0.1.10",
        None,
    ),
    // sg-shared admits ping from vpc-demo's sg-web members only.
    dropped(
        "eni-app1",
        "10.1.1.10",
        Proto::Icmp,
        DropReason::SgNoMatch,
        Some("ENI_SG_RULES_MISMATCH"),
        Some("sg-shared of eni-shared1"),
        None,
    ),
    // acl-app's rule 90, before the rule that admits the VPC.
    dropped(
        "eni-web1",
        "10.0.2.20",
        Proto::Tcp(23),
        DropReason::NaclDeny,
        Some("SUBNET_ACL_RESTRICTION"),
        Some("acl-app inbound rule 90"),
        Some("eni-app1"),
    ),
    // sg-web admits 80, ICMP, its members and ssh from the admins: not app1 on 5001.
    dropped(
        "eni-app1",
        "10.0.1.10",
        Proto::Tcp(5001),
        DropReason::SgNoMatch,
        Some("ENI_SG_RULES_MISMATCH"),
        Some("sg-web of eni-web1"),
        Some("eni-web1"),
    ),
    // rtb-main blackholes 203.0.113.0/24.
    dropped(
        "eni-web1",
        HOST,
        Proto::Tcp(8081),
        DropReason::Blackhole,
        Some("BAD_STATE_ROUTE"),
        Some("rtb-main"),
        Some(IGW),
    ),
    delivered(
        "eni-priv1",
        HOST,
        Proto::Tcp(80),
        INTERNET,
        NAT_EIP,
        Some(IGW),
    ),
    delivered(
        "eni-pub1",
        HOST,
        Proto::Tcp(443),
        INTERNET,
        PUB_EIP,
        Some(IGW),
    ),
    // sg-public: HTTP and ICMP from anywhere.
    delivered(
        IGW,
        PUB_EIP,
        Proto::Tcp(80),
        "eni-pub1",
        HOST,
        Some("eni-pub1"),
    ),
    dropped(
        IGW,
        NAT_EIP,
        Proto::Tcp(22),
        DropReason::NatNoTranslation,
        Some("NGW_NO_INBOUND_INITIATION"),
        Some("nat-demo"),
        None,
    ),
    dropped(
        IGW,
        PUB_EIP,
        Proto::Tcp(22),
        DropReason::SgNoMatch,
        Some("ENI_SG_RULES_MISMATCH"),
        Some("sg-public of eni-pub1"),
        Some("eni-pub1"),
    ),
    // vpc-shared's default route over the peering: no edge-to-edge routing.
    dropped(
        "eni-shared1",
        HOST,
        Proto::Tcp(8080),
        DropReason::PcxAddressNotInVpcCidr,
        Some("PCX_REQUIRES_ADDRESS_IN_VPC_CIDR"),
        Some("pcx-demo"),
        Some(IGW),
    ),
    // sg-shared admits the members of vpc-demo's sg-web across the peering ...
    delivered(
        "eni-web1",
        "10.1.1.10",
        Proto::Tcp(80),
        "eni-shared1",
        "10.0.1.10",
        Some("eni-shared1"),
    ),
    // ... and nobody else.
    dropped(
        "eni-app1",
        "10.1.1.10",
        Proto::Tcp(80),
        DropReason::SgNoMatch,
        Some("ENI_SG_RULES_MISMATCH"),
        Some("sg-shared of eni-shared1"),
        Some("eni-shared1"),
    ),
    delivered("eni-priv1", HOST, Proto::Icmp, INTERNET, NAT_EIP, None),
];

impl Case {
    fn trace_args(&self) -> Vec<String> {
        let mut a = vec![self.from.to_string(), self.dst.to_string()];
        match self.proto {
            Proto::Tcp(p) => a.extend([
                "--proto".into(),
                "tcp".into(),
                "--dport".into(),
                p.to_string(),
            ]),
            Proto::Icmp => a.extend(["--proto".into(), "icmp".into()]),
        }
        a
    }

    fn describe(&self) -> String {
        match self.proto {
            Proto::Tcp(p) => format!("{} -> {}:{p}/tcp", self.from, self.dst),
            Proto::Icmp => format!("{} -> {}/icmp", self.from, self.dst),
        }
    }
}

// --- vpcctl trace ----------------------------------------------------------------------------

/// `vpcctl trace ARGS… --json`, parsed; checks the exit status (0 only when delivered,
/// both ways with `--return`).
fn trace(ctl: &Vpcctl, args: &[&str]) -> TraceReport {
    let mut argv = vec!["trace"];
    argv.extend_from_slice(args);
    argv.push("--json");
    let out = ctl.run(&argv, CMD).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: TraceReport = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "vpcctl {argv:?}: {e}; status {}, stdout {stdout}, stderr {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let is_delivered = |o: &Outcome| matches!(o, Outcome::Delivered { .. });
    let want_ok = is_delivered(&report.forward.outcome)
        && (!args.contains(&"--return")
            || report
                .reply
                .as_ref()
                .is_some_and(|r| is_delivered(&r.outcome)));
    assert_eq!(
        out.status.success(),
        want_ok,
        "vpcctl {argv:?}: exit status {} for {report:#?}",
        out.status
    );
    report
}

fn trace_case(ctl: &Vpcctl, c: &Case) -> TraceReport {
    let args = c.trace_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    trace(ctl, &args)
}

/// Checks a traced verdict against what the case expects.
fn check_trace(c: &Case, r: &TraceReport) {
    let o = &r.forward.outcome;
    match (c.expect, o) {
        (Expect::Delivered { to, seen }, Outcome::Delivered { to: got, header }) => {
            assert_eq!(got, to, "{}: delivered elsewhere:\n{}", c.describe(), r);
            assert_eq!(
                header.src,
                ip(seen),
                "{}: delivered source:\n{}",
                c.describe(),
                r
            );
        }
        (
            Expect::Dropped {
                reason,
                code,
                component,
            },
            Outcome::Dropped {
                reason: got,
                code: got_code,
                component: got_component,
            },
        ) => {
            assert_eq!(got, reason.name(), "{}:\n{}", c.describe(), r);
            if let Some(code) = code {
                assert_eq!(got_code, code, "{}:\n{}", c.describe(), r);
            }
            if let Some(component) = component {
                assert_eq!(got_component, component, "{}:\n{}", c.describe(), r);
            }
        }
        _ => panic!("{}: expected {:?}, traced:\n{}", c.describe(), c.expect, r),
    }
}

fn delivered_header(leg: &TraceLeg) -> Header {
    match &leg.outcome {
        Outcome::Delivered { header, .. } => *header,
        o => panic!("not delivered: {o:?}\n{leg}"),
    }
}

/// The steps of `kind` that rewrote the packet: (before, after).
fn rewrites(leg: &TraceLeg, kind: &str) -> Vec<(Header, Header)> {
    leg.steps
        .iter()
        .filter(|s: &&TraceStep| s.kind == kind)
        .filter_map(|s| s.rewrite)
        .collect()
}

// --- state a trace could change ----------------------------------------------------------------

/// One port's counters, without what the instances' background traffic moves (ARP with
/// the VPC router, multicast and broadcast drops).
#[derive(Debug, PartialEq, Eq)]
struct PortState {
    /// Frames received, less ARP and background drops.
    received: i64,
    /// Frames written to the port, less the router's own ARP and ping answers.
    sent: i64,
    drops: BTreeMap<&'static str, u64>,
    conntrack: u64,
}

fn port_state(c: &PortCounters) -> PortState {
    let n = |v: u64| i64::try_from(v).unwrap();
    let background: u64 = BACKGROUND.iter().map(|r| c.drops[r.index()]).sum();
    PortState {
        received: n(c.rx_packets) - n(c.arp_replies) - n(c.arp_ignored) - n(background),
        sent: n(c.tx_packets) - n(c.arp_replies) - n(c.icmp_echo_replies),
        drops: DropReason::ALL
            .iter()
            .filter(|r| !BACKGROUND.contains(r))
            .map(|r| (r.name(), c.drops[r.index()]))
            .filter(|&(_, n)| n > 0)
            .collect(),
        conntrack: c.conntrack_entries,
    }
}

/// What of `vpcctl show --json` a trace could change, were it to leak.
#[derive(Debug, PartialEq, Eq)]
struct State {
    ports: BTreeMap<String, PortState>,
    nat: BTreeMap<String, NatMetrics>,
    nacl_denies: Vec<(String, String, String, u64)>,
    flows: u64,
    flow_misses: u64,
}

fn show_json(ctl: &Vpcctl) -> StatsReport {
    let out = ctl.run(&["show", "--json"], CMD).unwrap();
    assert!(
        out.status.success(),
        "vpcctl show --json: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn state(ctl: &Vpcctl) -> State {
    let r = show_json(ctl);
    let mut ports: BTreeMap<String, PortState> = r
        .enis
        .iter()
        .map(|e| (e.id.clone(), port_state(&e.counters)))
        .collect();
    ports.extend(
        r.uplinks
            .iter()
            .map(|u| (u.igw.clone(), port_state(&u.counters))),
    );
    State {
        ports,
        nat: r
            .nat_gateways
            .into_iter()
            .map(|n| (n.id, n.metrics))
            .collect(),
        nacl_denies: r
            .nacl_denies
            .into_iter()
            .map(|d| (d.nacl, d.direction, d.rule, d.packets))
            .collect(),
        flows: r.engine.flows,
        flow_misses: r.engine.flow_misses,
    }
}

/// Reads the state until two reads 100 ms apart agree (deadline `COUNTER_WAIT`).
fn stable_state(ctl: &Vpcctl) -> State {
    let deadline = Instant::now() + COUNTER_WAIT;
    let mut last = state(ctl);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = state(ctl);
        if now == last {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the state did not settle: {last:#?} then {now:#?}"
        );
        last = now;
    }
}

// --- real traffic ------------------------------------------------------------------------------

/// The counters of port `name` (an ENI id, or an internet gateway id for its uplink), as
/// `vpcctl show --json` reports them.
fn counters(ctl: &Vpcctl, name: &str) -> PortCounters {
    let r = show_json(ctl);
    if name.starts_with("igw-") {
        let u = r.uplinks.into_iter().find(|u| u.igw == name).unwrap();
        assert!(u.tap.is_some(), "{name}: uplink not attached");
        u.counters
    } else {
        r.enis.into_iter().find(|e| e.id == name).unwrap().counters
    }
}

/// The namespace of `name` (an ENI id, or an internet gateway id for the internet host).
fn ns<'a>(lab: &'a Lab, name: &str) -> &'a Netns {
    if name.starts_with("igw-") {
        lab.host(HOST_ID)
    } else {
        lab.ns(name)
    }
}

/// The address `name` sends from.
fn sender_ip(lab: &Lab, name: &str) -> IpAddr {
    if name.starts_with("igw-") {
        ip(HOST)
    } else {
        lab.ip(name)
    }
}

/// `tcp-probe listen 0.0.0.0 PORTS…` in `ns`, ready.
fn listener(ns: &Netns, ports: &[u16]) -> NsChild {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut argv = vec![PROBE, "listen", "0.0.0.0"];
    argv.extend(ports.iter().map(String::as_str));
    let mut c = ns
        .spawn_with(
            &argv,
            SpawnOpts {
                die_with_thread: true,
                ..SpawnOpts::default()
            },
        )
        .unwrap();
    c.wait_for_line(|s, l| s == Stream::Stdout && l == "ready", CMD)
        .unwrap();
    c
}

/// The peer of the next `accepted PORT from IP:PORT` line of a listener.
fn next_accepted(l: &mut NsChild, port: u16) -> SocketAddr {
    let prefix = format!("accepted {port} from ");
    let line = l
        .wait_for_line(|s, l| s == Stream::Stdout && l.starts_with(&prefix), CMD)
        .unwrap();
    line[prefix.len()..]
        .parse()
        .unwrap_or_else(|_| panic!("bad peer in {line:?}"))
}

/// `tcp-probe connect DST PORT` in `ns`, in the background (stdin piped when `hold`).
fn connect(ns: &Netns, dst: &str, port: u16, hold: bool) -> NsChild {
    let p = port.to_string();
    ns.spawn_with(
        &[PROBE, "connect", dst, &p, "3"],
        SpawnOpts {
            stdin_pipe: hold,
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )
    .unwrap()
}

/// The local address of a `tcp-probe connect` that must connect.
fn connected(c: &mut NsChild, what: &str) -> SocketAddr {
    let line = c
        .wait_for_line(
            |s, l| {
                s == Stream::Stdout
                    && (l.starts_with("connected ") || l.starts_with("connect-error"))
            },
            CMD,
        )
        .unwrap();
    line.strip_prefix("connected ")
        .unwrap_or_else(|| panic!("{what}: {line}"))
        .parse()
        .unwrap()
}

/// A TCP connection held open (its stdin keeps tcp-probe alive).
struct Held {
    _child: NsChild,
    _stdin: ChildStdin,
    local: SocketAddr,
}

/// Sends the case for real and checks it does what its trace said.
fn send_for_real(
    lab: &Lab,
    ctl: &Vpcctl,
    listeners: &mut BTreeMap<&str, NsChild>,
    c: &Case,
    r: &TraceReport,
) {
    let from = ns(lab, c.from);
    let what = c.describe();
    match (c.expect, c.proto) {
        (Expect::Delivered { .. }, Proto::Tcp(port)) => {
            let header = delivered_header(&r.forward);
            let mut probe = connect(from, c.dst, port, false);
            connected(&mut probe, &what);
            let l = listeners.get_mut(c.at.unwrap()).unwrap();
            let peer = next_accepted(l, port);
            assert_eq!(
                peer.ip(),
                header.src,
                "{what}: the listener saw {peer}, the trace delivered {header}"
            );
            probe.wait_timeout(CMD).unwrap();
        }
        (Expect::Delivered { .. }, Proto::Icmp) => {
            let (p, out) = ping(from, &["-c", "1", "-W", "3", c.dst]);
            assert!(p.all_received(), "{what}: traced as delivered, but: {out}");
        }
        (Expect::Dropped { reason, .. }, proto) => {
            let before = counters(ctl, c.from);
            let mut child = match proto {
                Proto::Tcp(port) => connect(from, c.dst, port, false),
                Proto::Icmp => from
                    .spawn_with(
                        &["ping", "-n", "-c", "5", "-i", "0.2", "-W", "1", c.dst],
                        SpawnOpts {
                            die_with_thread: true,
                            ..SpawnOpts::default()
                        },
                    )
                    .unwrap(),
            };
            let deadline = Instant::now() + COUNTER_WAIT;
            let after = loop {
                let now = counters(ctl, c.from);
                let raised = DropReason::ALL.iter().any(|r| {
                    !BACKGROUND.contains(r) && now.drops[r.index()] > before.drops[r.index()]
                });
                if raised || Instant::now() >= deadline {
                    break now;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            child.terminate(Duration::from_millis(200));
            let raised: Vec<&str> = DropReason::ALL
                .iter()
                .filter(|r| {
                    !BACKGROUND.contains(r) && after.drops[r.index()] > before.drops[r.index()]
                })
                .map(|r| r.name())
                .collect();
            assert_eq!(
                raised,
                [reason.name()],
                "{what}: drop counters of {} that rose; traced:\n{r}",
                c.from
            );
            assert!(
                !child.stdout_text().contains("connected"),
                "{what}: traced as dropped, but it connected"
            );
        }
    }
}

// --- the test ----------------------------------------------------------------------------------

#[test]
fn trace_verdicts_agree_with_real_traffic_and_leave_the_state_alone() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let t0 = Instant::now();
    // The matrix runs its own listeners on the internet host, port 80 included: without
    // the demo's HTTP service there.
    let service = "services = [{ kind = \"http\", port = 80 }]\n";
    assert_eq!(DEMO.matches(service).count(), 1, "demo.toml changed shape");
    let lab = start(&DEMO.replace(service, ""));
    let ctl = Vpcctl::new(lab.vpcd().socket_path()).unwrap();
    // No IPv6 chatter (router solicitations, MLD reports) in the counters and flow cache.
    let enis: Vec<String> = lab.topology.enis.iter().map(|e| e.id.clone()).collect();
    for n in enis
        .iter()
        .filter_map(|e| lab.try_ns(e))
        .chain([lab.host(HOST_ID)])
    {
        sysctl(n, "net.ipv6.conf.all.disable_ipv6=1");
    }

    // Listeners on every port a TCP case sends to, and the held connection's.
    let mut ports: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    ports.entry(IGW).or_default().push(HELD_PORT);
    for c in &MATRIX {
        if let (Some(at), Proto::Tcp(p)) = (c.at, c.proto) {
            let v = ports.entry(at).or_default();
            if !v.contains(&p) {
                v.push(p);
            }
        }
    }
    let mut listeners: BTreeMap<&str, NsChild> = ports
        .iter()
        .map(|(&at, p)| (at, listener(ns(&lab, at), p)))
        .collect();

    // 1. A connection held open through the NAT gateway.
    let held = {
        let mut child = connect(lab.ns("eni-priv1"), HOST, HELD_PORT, true);
        let stdin = child.take_stdin().unwrap();
        let local = connected(&mut child, "priv1 -> internet (held)");
        Held {
            _child: child,
            _stdin: stdin,
            local,
        }
    };
    let held_public = next_accepted(listeners.get_mut(IGW).unwrap(), HELD_PORT);
    assert_eq!(held_public.ip(), ip(NAT_EIP));

    // 2. A batch of traces, which changes nothing.
    let before = stable_state(&ctl);
    assert_eq!(
        (
            before.nat["nat-demo"].translations,
            before.ports["eni-priv1"].conntrack
        ),
        (1, 1),
        "the held connection: {before:#?}"
    );
    let traced: Vec<TraceReport> = MATRIX
        .iter()
        .map(|c| {
            let r = trace_case(&ctl, c);
            check_trace(c, &r);
            r
        })
        .collect();
    let nat_way = trace(&ctl, &["eni-priv1", HOST, "--dport", "80", "--return"]);
    replies_of_traced_connections_stay_drops(&ctl, &nat_way);
    live_connection_is_traced_with_its_translation(&ctl, &held, held_public);
    let text = ctl
        .run(&["trace", "eni-web1", "10.0.2.20", "--dport", "23"], CMD)
        .unwrap();
    let text_out = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.status.code() == Some(1)
            && text_out.contains(
                "=> DROPPED at acl-app inbound rule 90: SUBNET_ACL_RESTRICTION (nacl_deny)"
            ),
        "vpcctl trace (text): {}\n{text_out}",
        text.status
    );
    let after = state(&ctl);
    assert_eq!(before, after, "a batch of traces changed the state");

    // 3. The return path of priv1 -> HOST:80 through nat-demo and igw-demo.
    check_nat_return(&nat_way);

    // 4. The same packets for real.
    for (c, r) in MATRIX.iter().zip(&traced) {
        send_for_real(&lab, &ctl, &mut listeners, c, r);
    }
    // No listener ever saw a dropped case's sender.
    for c in &MATRIX {
        if let (Expect::Dropped { .. }, Some(at), Proto::Tcp(port)) = (c.expect, c.at, c.proto) {
            let needle = format!("accepted {port} from {}:", sender_ip(&lab, c.from));
            let log = listeners[at].stdout_text();
            assert!(
                !log.contains(&needle),
                "{}: traced and counted as dropped, but the listener in {at} accepted it:\n{log}",
                c.describe()
            );
        }
    }
    drop(held);
    tracing::info!(elapsed = ?t0.elapsed(), "vpc5_trace_e2e done");
}

/// A forward trace commits its connections on copies only: the reply it traced passes
/// as part of the connection, the same reply traced alone afterwards is a drop (at web1's
/// group; at the NAT gateway for the reply to the translation `nat_way` traced).
fn replies_of_traced_connections_stay_drops(ctl: &Vpcctl, nat_way: &TraceReport) {
    let sg_way = trace(
        ctl,
        &[
            "eni-web1",
            "10.0.2.20",
            "--dport",
            "5001",
            "--sport",
            "41001",
            "--return",
        ],
    );
    let reply = sg_way.reply.as_ref().unwrap();
    assert_eq!(reply.from, "eni-app1", "{sg_way}");
    assert!(
        matches!(&reply.outcome, Outcome::Delivered { to, .. } if to == "eni-web1"),
        "{sg_way}"
    );
    assert!(
        reply.steps.iter().any(
            |s| s.kind == "security-group" && s.detail.contains("part of a tracked connection")
        ),
        "the reply passes sg-web as part of the connection:\n{sg_way}"
    );
    let stray = trace(
        ctl,
        &[
            "eni-app1",
            "10.0.1.10",
            "--sport",
            "5001",
            "--dport",
            "41001",
            "--flags",
            "SYN,ACK",
        ],
    );
    assert!(
        matches!(&stray.forward.outcome,
            Outcome::Dropped { reason, component, .. }
                if reason == "sg_no_match" && component == "sg-web of eni-web1"),
        "a reply of a connection only a trace opened:\n{stray}"
    );

    let fwd = delivered_header(&nat_way.forward);
    let dport = fwd.src_port.to_string();
    let nat_stray = trace(
        ctl,
        &[
            IGW, NAT_EIP, "--sport", "80", "--dport", &dport, "--flags", "SYN,ACK",
        ],
    );
    assert!(
        matches!(&nat_stray.forward.outcome,
            Outcome::Dropped { reason, component, .. }
                if reason == "nat_no_translation" && component == "nat-demo"),
        "a reply to a translation only a trace made:\n{nat_stray}"
    );
}

/// Packets of the held connection, both ways, are traced through its real translation
/// (`public`, the address and port the internet host saw).
fn live_connection_is_traced_with_its_translation(ctl: &Vpcctl, held: &Held, public: SocketAddr) {
    let (sport, held_port) = (held.local.port().to_string(), HELD_PORT.to_string());
    let out = trace(
        ctl,
        &[
            "eni-priv1",
            HOST,
            "--sport",
            &sport,
            "--dport",
            &held_port,
            "--flags",
            "ACK",
        ],
    );
    let h = delivered_header(&out.forward);
    assert_eq!(
        (h.src, h.src_port),
        (public.ip(), public.port()),
        "the held connection's translation:\n{out}"
    );
    let pport = public.port().to_string();
    let back = trace(
        ctl,
        &[
            IGW, NAT_EIP, "--sport", &held_port, "--dport", &pport, "--flags", "ACK",
        ],
    );
    let h = delivered_header(&back.forward);
    assert!(
        matches!(&back.forward.outcome, Outcome::Delivered { to, .. } if to == "eni-priv1")
            && (h.dst, h.dst_port) == (held.local.ip(), held.local.port()),
        "a reply of the held connection:\n{back}"
    );
}

/// `--return` on priv1 -> HOST:80: forward through nat-demo (source 10.0.4.10:40000 →
/// 10.0.0.220:P) and igw-demo (10.0.0.220 → the Elastic IP), the reply back through
/// igw-demo (destination the Elastic IP → 10.0.0.220) and nat-demo (10.0.0.220:P →
/// 10.0.4.10:40000), delivered to eni-priv1.
fn check_nat_return(r: &TraceReport) {
    let priv1 = ip("10.0.4.10");
    let fwd = delivered_header(&r.forward);
    assert_eq!(
        r.forward.outcome,
        Outcome::Delivered {
            to: INTERNET.into(),
            header: fwd
        },
        "{r}"
    );
    assert_eq!(
        (fwd.src, fwd.dst, fwd.dst_port),
        (ip(NAT_EIP), ip(HOST), 80),
        "{r}"
    );
    let p = fwd.src_port;
    let nat = rewrites(&r.forward, "nat-gateway");
    let igw = rewrites(&r.forward, "internet-gateway");
    assert_eq!(nat.len(), 1, "{r}");
    assert_eq!(igw.len(), 1, "{r}");
    let (b, a) = nat[0];
    assert_eq!((b.src, b.src_port, b.dst), (priv1, 40000, ip(HOST)), "{r}");
    assert_eq!((a.src, a.src_port, a.dst), (ip(NAT_IP), p, ip(HOST)), "{r}");
    let (b, a) = igw[0];
    assert_eq!((b.src, a.src), (ip(NAT_IP), ip(NAT_EIP)), "{r}");

    let back = r
        .reply
        .as_ref()
        .unwrap_or_else(|| panic!("no return leg:\n{r}"));
    assert_eq!(back.from, INTERNET, "{r}");
    assert_eq!(
        (
            back.header.src,
            back.header.src_port,
            back.header.dst,
            back.header.dst_port
        ),
        (ip(HOST), 80, ip(NAT_EIP), p),
        "{r}"
    );
    let h = delivered_header(back);
    assert_eq!(
        back.outcome,
        Outcome::Delivered {
            to: "eni-priv1".into(),
            header: h
        },
        "{r}"
    );
    assert_eq!(
        (h.src, h.src_port, h.dst, h.dst_port),
        (ip(HOST), 80, priv1, 40000),
        "{r}"
    );
    let igw = rewrites(back, "internet-gateway");
    let nat = rewrites(back, "nat-gateway");
    assert_eq!(igw.len(), 1, "{r}");
    assert_eq!(nat.len(), 1, "{r}");
    let (b, a) = igw[0];
    assert_eq!((b.dst, a.dst), (ip(NAT_EIP), ip(NAT_IP)), "{r}");
    let (b, a) = nat[0];
    assert_eq!((b.dst, b.dst_port), (ip(NAT_IP), p), "{r}");
    assert_eq!((a.dst, a.dst_port), (priv1, 40000), "{r}");
    // The internet gateway rewrites before the NAT gateway on the way in.
    let kinds: Vec<&str> = back.steps.iter().map(|s| s.kind.as_str()).collect();
    let gi = kinds.iter().position(|&k| k == "internet-gateway").unwrap();
    let ni = kinds.iter().position(|&k| k == "nat-gateway").unwrap();
    assert!(gi < ni, "{kinds:?}\n{r}");
}
