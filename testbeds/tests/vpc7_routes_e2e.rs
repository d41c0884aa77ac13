//! End-to-end tests of VPC-7 item 5: routes whose target was deleted, and ENIs left
//! unattached — through real namespaces, real TAPs and `vpcd`, with real clients (ping,
//! curl against python's http.server) and the real `vpcctl` binary (`validate`, `apply`,
//! `show`, `trace`).
//!
//! 1. A private subnet routes `0.0.0.0/0` to a NAT gateway that was deleted from the file:
//!    the route stays, written `state = "blackhole"` as AWS shows it (without it the file
//!    is rejected and nothing changes). Pings and HTTP to the internet are dropped as
//!    `blackhole` (no fallback, nothing reaches the internet), `vpcctl trace` names the
//!    route and its deleted target with `BAD_STATE_ROUTE`, and `vpcctl show` renders the
//!    route in state blackhole. Bringing the gateway back (the same route, now active:
//!    `state = "blackhole"` with the gateway present is rejected) makes the same traffic
//!    flow through the gateway's Elastic IP, and the trace agrees; deleting it again
//!    blackholes the route again.
//! 2. An ENI without `netns`: `vpcctl validate` and the compile API warn about it (and
//!    about it only), `vpcctl show` marks it `(unattached)`, traffic to its address from
//!    another subnet (routed) and from its own subnet (layer 2) is dropped as
//!    `eni_not_attached` and `vpcctl trace` says `BAD_STATE_ATTACHMENT`; giving it a
//!    namespace attaches it and the same pings are answered.
//!
//! Every test builds its own topology on its own [`Lab`], so tests run in parallel.
//! Readiness is a signal (the servers' "Serving HTTP" line); counters are polled with a
//! deadline; nothing sleeps to synchronise.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::process::Output;

use dataplane::observe::trace::{Outcome, TraceReport};
use dataplane::vpc::verdict::DropReason;
use testbeds::{Lab, Netns, Scratch, Vpcctl};

mod common;
use common::{
    curl_blocked, curl_ok, drops, expect_drops, http_server, ping_ok, ping_unanswered, start,
    vpcctl_apply, CMD,
};

// --- topology text -------------------------------------------------------------------------

const IGW: &str = "igw-t";
const NAT: &str = "nat-t";
/// The NAT gateway's private address (in subnet-pub) and Elastic IP.
const NAT_IP: &str = "10.0.1.220";
const NAT_EIP: &str = "198.51.100.7";
/// The private instance.
const APP: &str = "eni-app1";
/// The internet host (the namespace of igw-t).
const HOST: &str = "203.0.113.5";

/// The route of subnet-priv's table to nat-t, with `state` (a TOML fragment, may be empty).
fn nat_route(state: &str) -> String {
    format!("{{ destination = \"0.0.0.0/0\", target = \"{NAT}\"{state} }}")
}

/// The VPC of the NAT gateway tests (as in `vpc3_nat_e2e`), without the NAT gateway:
/// subnet-pub (10.0.1.0/24) routes `0.0.0.0/0` to igw-t, whose internet side holds
/// 203.0.113.5; subnet-priv (10.0.2.0/24) routes `0.0.0.0/0` as `route` says; eni-app1
/// (10.0.2.20) is in subnet-priv with a group open to everything.
fn vpc(route: &str) -> String {
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
routes = [{route}]

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
private_ip = "10.0.2.20"
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

/// nat-t deleted from the file, its route kept in state blackhole (as AWS keeps it).
fn nat_deleted() -> String {
    vpc(&nat_route(r#", state = "blackhole""#))
}

/// nat-t present, its route active.
fn nat_present() -> String {
    vpc(&nat_route("")) + &public_nat()
}

// --- vpcctl --------------------------------------------------------------------------------

/// The lab's `vpcctl`.
fn ctl(lab: &Lab) -> Vpcctl {
    Vpcctl::new(lab.vpcd().socket_path()).unwrap()
}

/// `vpcctl ARGS…` (its exit status is the caller's to check).
fn run(ctl: &Vpcctl, args: &[&str]) -> Output {
    ctl.run(args, CMD).unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `vpcctl show` (text), asserting success.
fn show(ctl: &Vpcctl) -> String {
    let out = run(ctl, &["show"]);
    assert!(out.status.success(), "vpcctl show: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `vpcctl trace FROM DST ARGS…`: the text form and the JSON form (parsed), checking that
/// both exit 0 exactly when the packet is delivered.
fn trace(ctl: &Vpcctl, from: &str, dst: &str, args: &[&str]) -> (String, TraceReport) {
    let mut argv = vec!["trace", from, dst];
    argv.extend_from_slice(args);
    let plain = run(ctl, &argv);
    argv.push("--json");
    let json = run(ctl, &argv);
    let report: TraceReport = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
        panic!(
            "vpcctl {argv:?}: {e}; stdout {}, stderr {}",
            text(&json.stdout),
            text(&json.stderr)
        )
    });
    let delivered = matches!(report.forward.outcome, Outcome::Delivered { .. });
    for out in [&plain, &json] {
        assert_eq!(
            out.status.success(),
            delivered,
            "vpcctl {argv:?}: {report:#?}"
        );
    }
    (text(&plain.stdout), report)
}

/// The detail of the route-table step of a trace's forward leg.
fn route_step(r: &TraceReport) -> String {
    r.forward
        .steps
        .iter()
        .find(|s| s.kind == "route-table")
        .map(|s| s.detail.clone())
        .unwrap_or_else(|| panic!("no route-table step in {r:#?}"))
}

/// Asserts that the trace's forward packet was dropped for `reason` with `code` at
/// `component`.
#[track_caller]
fn assert_dropped(r: &TraceReport, reason: DropReason, code: &str, component: &str) {
    assert_eq!(
        r.forward.outcome,
        Outcome::Dropped {
            reason: reason.name().into(),
            code: code.into(),
            component: component.into(),
        },
        "{r:#?}"
    );
}

/// `vpcctl apply` (the real binary) of `toml` with this lab's namespace names: its output,
/// whatever its exit status.
fn vpcctl_apply_output(lab: &Lab, toml: &str, name: &str) -> Output {
    let toml = toml.replace(
        "netns = \"",
        &format!("netns = \"{}", lab.prefix().ns_name("")),
    );
    let dir = Scratch::new(&lab.prefix().ns_name(name)).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, toml).unwrap();
    run(&ctl(lab), &["apply", &file.to_string_lossy()])
}

/// The running configuration's epoch.
fn epoch(lab: &Lab) -> u64 {
    lab.show().unwrap().epoch
}

// --- 1. a route to a deleted NAT gateway ---------------------------------------------------------

/// Pings and a curl from the private instance to the internet host that must go nowhere,
/// each frame dropped as `blackhole` on eni-app1 (at least 2 pings + 1 SYN).
fn internet_blackholed(lab: &Lab, app: &Netns) {
    let before = drops(lab, APP, DropReason::Blackhole);
    let r = ping_unanswered(app, HOST, 2, &[]);
    assert_eq!(r.received, 0, "ping {HOST} was answered");
    let mid = expect_drops(lab, APP, DropReason::Blackhole, before + 1);
    curl_blocked(app, HOST);
    expect_drops(lab, APP, DropReason::Blackhole, mid);
}

/// Criterion (a). nat-t is deleted from the file while subnet-priv's default route to it
/// stays, written `state = "blackhole"`:
/// - the same file without `state` is rejected by validation (the error names the table,
///   the route's field and the fix), and `vpcctl apply` of it changes nothing;
/// - traffic matching the route is dropped and counted as `blackhole` (no fallback: the
///   internet host's server logs nothing), `vpcctl trace` names the route, its deleted
///   target and `BAD_STATE_ROUTE`, and `vpcctl show` renders the route in state blackhole;
/// - with the gateway back, `state = "blackhole"` on the route is rejected (the target
///   exists), and the same route without it is active: curl reaches the host from the
///   gateway's Elastic IP, ping is answered, the trace is delivered through nat-t;
/// - deleting the gateway again blackholes the route again at once.
#[test]
fn a_route_to_a_deleted_nat_gateway_is_a_blackhole_until_the_gateway_is_back() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let mut lab = start(&nat_deleted());
    let ctl = ctl(&lab);
    let mut host = http_server(lab.internet(IGW), HOST, "the internet");

    // The file that does not say so is an error, and vpcctl apply of it changes nothing.
    let errs = lab.compile(&vpc(&nat_route(""))).unwrap_err();
    assert_eq!(
        errs,
        [format!(
            "rtb-priv.routes[0].target: no NAT gateway with id `{NAT}`; if it was deleted, keep the route as AWS does by writing `state = \"blackhole\"` on it (it then drops what it catches), or remove the route"
        )]
    );
    let running = epoch(&lab);
    let out = vpcctl_apply_output(&lab, &vpc(&nat_route("")), "no-state");
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no-state.toml: 1 problem (nothing was changed):")
            && stderr.contains("rtb-priv.routes[0].target: no NAT gateway with id `nat-t`"),
        "{stderr}"
    );
    assert_eq!(epoch(&lab), running);

    // The blackhole: real traffic, the trace, show.
    internet_blackholed(&lab, lab.ns(APP));
    assert!(
        !host.log().contains("GET"),
        "reached the host: {}",
        host.log()
    );
    let (plain, r) = trace(&ctl, APP, HOST, &["--proto", "tcp", "--dport", "80"]);
    assert_dropped(&r, DropReason::Blackhole, "BAD_STATE_ROUTE", "rtb-priv");
    let step = format!("{HOST}: 0.0.0.0/0 → {NAT} (blackhole: target deleted)");
    assert_eq!(route_step(&r), step);
    assert!(
        plain.contains(&step)
            && plain.contains("=> DROPPED at rtb-priv: BAD_STATE_ROUTE (blackhole)"),
        "{plain}"
    );
    let shown = show(&ctl);
    assert!(
        shown.contains(&format!(
            "rtb-priv (vpc-t)\n  10.0.0.0/16  → local\n  0.0.0.0/0    → {NAT} (blackhole: target deleted)\n"
        )),
        "{shown}"
    );

    // The gateway is back: the marker is now wrong (rejected, nothing changes) ...
    let marked = nat_deleted() + &public_nat();
    let errs = lab.compile(&marked).unwrap_err();
    assert_eq!(
        errs,
        [format!(
            "rtb-priv.routes[0].state: {NAT} exists, so this route is active (AWS derives a route's state from its target): remove `state = \"blackhole\"`, or write `target = \"blackhole\"` to drop what this route catches"
        )]
    );
    assert!(!vpcctl_apply_output(&lab, &marked, "marked")
        .status
        .success());
    assert_eq!(epoch(&lab), running);

    // ... and the same route without it is active: traffic flows through nat-t.
    vpcctl_apply(&lab, &nat_present(), "present");
    let app = lab.ns(APP);
    let blackholed = drops(&lab, APP, DropReason::Blackhole);
    curl_ok(app, HOST, "the internet");
    let client = host.next_client("/");
    assert_eq!(client.ip(), common::ip(NAT_EIP), "{}", host.log());
    ping_ok(app, HOST);
    assert_eq!(drops(&lab, APP, DropReason::Blackhole), blackholed);
    let (plain, r) = trace(&ctl, APP, HOST, &["--proto", "tcp", "--dport", "80"]);
    assert_eq!(route_step(&r), format!("{HOST}: 0.0.0.0/0 → {NAT}"));
    assert!(
        r.forward.steps.iter().any(|s| s.kind == "nat-gateway"),
        "{plain}"
    );
    assert!(show(&ctl).contains(&format!("  0.0.0.0/0    → {NAT}\n")));

    // Deleted again: a blackhole again.
    lab.apply(&nat_deleted()).unwrap();
    internet_blackholed(&lab, lab.ns(APP));
    let (_, r) = trace(&ctl, APP, HOST, &["--proto", "icmp"]);
    assert_dropped(&r, DropReason::Blackhole, "BAD_STATE_ROUTE", "rtb-priv");
}

// --- 2. an unattached ENI ------------------------------------------------------------------------

/// subnet-a (10.0.1.0/24) holds eni-a1 (10.0.1.10, namespace a1) and eni-loose
/// (10.0.1.20, `loose` = its namespace line, empty for none); subnet-b (10.0.2.0/24) holds
/// eni-b1 (10.0.2.10, namespace b1). Every ENI is in a group open to everything.
fn loose_topology(loose: &str) -> String {
    let eni = |id: &str, subnet: &str, ip: &str, ns: &str| {
        format!(
            "\n[[eni]]\nid = \"{id}\"\nsubnet = \"{subnet}\"\nprivate_ip = \"{ip}\"\nsecurity_groups = [\"sg-open\"]\n{ns}"
        )
    };
    format!(
        r#"
[[vpc]]
id = "vpc-u"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-u"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-u"
cidr = "10.0.2.0/24"

[[security_group]]
id = "sg-open"
vpc = "vpc-u"
inbound = [{{ protocol = "-1", source = "0.0.0.0/0" }}]
{}{}{}"#,
        eni("eni-a1", "subnet-a", "10.0.1.10", "netns = \"a1\"\n"),
        eni("eni-loose", "subnet-a", "10.0.1.20", loose),
        eni("eni-b1", "subnet-b", "10.0.2.10", "netns = \"b1\"\n"),
    )
}

/// The warning `vpcctl validate` and the compile API give for eni-loose.
const LOOSE_WARNING: &str = "eni-loose.netns: not set, so the ENI is not attached: it has no port, and traffic to it is dropped (`eni_not_attached`); set `netns = \"NAME\"` to attach it to a network namespace (`vpcctl up` creates it)";

/// Two pings from `from` to eni-loose that go unanswered, each dropped as
/// `eni_not_attached` on `from`'s ENI.
fn loose_unreachable(lab: &Lab, from: &str) {
    let before = drops(lab, from, DropReason::EniNotAttached);
    let r = ping_unanswered(lab.ns(from), "10.0.1.20", 2, &[]);
    assert_eq!(r.received, 0, "{from}: ping 10.0.1.20 was answered");
    expect_drops(lab, from, DropReason::EniNotAttached, before + 1);
}

/// Criterion (b). eni-loose has no `netns`: `vpcctl validate` succeeds with one warning,
/// about it (the compile API gives the same, and only that); the lab comes up (validation
/// warnings are not vpcd's attachment warnings); `vpcctl show` marks it `(unattached)`;
/// pings to it from another subnet (routed) and from its own subnet (layer 2) are dropped
/// as `eni_not_attached` on the sender, and the trace says `BAD_STATE_ATTACHMENT`.
/// Attaching it (a namespace, `vpcctl apply`) makes the same pings answered.
#[test]
fn an_unattached_eni_is_warned_about_marked_in_show_and_its_traffic_dropped() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topology = loose_topology("");
    let compiled = control::compile_str(&topology).unwrap();
    assert_eq!(compiled.warnings, [LOOSE_WARNING]);

    let mut lab = start(&topology);
    let ctl = ctl(&lab);
    let dir = Scratch::new(&lab.prefix().ns_name("loose")).unwrap();
    let file = dir.join("loose.toml");
    std::fs::write(&file, &topology).unwrap();
    let out = run(&ctl, &["validate", &file.to_string_lossy()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("warning: {LOOSE_WARNING}\n"));

    let shown = show(&ctl);
    assert!(
        row_of(&shown, "eni-loose").contains(" (unattached) "),
        "{shown}"
    );
    assert!(row_of(&shown, "eni-a1").contains("/eth0 "), "{shown}");

    // Routed from subnet-b, and at layer 2 from subnet-a: dropped, nothing answers.
    loose_unreachable(&lab, "eni-b1");
    loose_unreachable(&lab, "eni-a1");
    ping_ok(lab.ns("eni-b1"), "10.0.1.10");
    let (_, r) = trace(&ctl, "eni-b1", "10.0.1.20", &["--proto", "icmp"]);
    assert_dropped(
        &r,
        DropReason::EniNotAttached,
        "BAD_STATE_ATTACHMENT",
        "eni-loose",
    );

    // Attached (the lab creates the namespace, then applies): the same pings are answered.
    lab.apply(&loose_topology("netns = \"loose\"\n")).unwrap();
    ping_ok(lab.ns("eni-b1"), "10.0.1.20");
    ping_ok(lab.ns("eni-a1"), "10.0.1.20");
    assert!(row_of(&show(&ctl), "eni-loose").contains("/eth0 "));
}

/// The row of `id` in a `vpcctl show` text.
fn row_of(shown: &str, id: &str) -> String {
    shown
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no row for {id} in\n{shown}"))
        .to_string()
}
