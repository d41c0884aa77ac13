//! Tests of the AWS importer: the fixtures under `control/tests/fixtures/aws/` (one
//! directory per scenario), bad inputs, and the round trip of `examples/demo.toml`
//! through the test-only exporter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dataplane::vpc::config::{DataplaneConfig, MappingTarget, RouteTarget, SgPeer};
use serde_json::Value;

use super::export::{export, security_group_rules};
use super::import;
use crate::import::{EntryKind, ImportError, Imported, ReportEntry};
use crate::model::{RouteState, Topology};

/// The demo topology.
const DEMO: &str = include_str!("../../../../examples/demo.toml");

/// A fixture directory.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/aws")
        .join(name)
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vpcctl-aws-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

/// Writes `files` into `dir`.
fn write_files(dir: &Path, files: &BTreeMap<String, Value>) {
    for (name, v) in files {
        let text = serde_json::to_string_pretty(v).expect("json") + "\n";
        std::fs::write(dir.join(name), text).expect("write fixture");
    }
}

/// Validates and compiles an imported topology (the test helper the brief asks for):
/// the normalised topology and the data plane's tables, or a panic listing every
/// problem with the TOML that has it.
fn validate_and_compile(im: &Imported) -> (Topology, DataplaneConfig) {
    let mut t = im.topology.clone();
    let shown = crate::import::write::toml(&t, &im.report).unwrap_or_default();
    if let Err(e) = crate::validate::validate(&mut t) {
        panic!("the imported topology does not validate:\n{e}\n---\n{shown}");
    }
    match crate::compile::compile(&t) {
        Ok(cfg) => (t, cfg),
        Err(e) => panic!("the imported topology does not compile:\n{e}\n---\n{shown}"),
    }
}

/// Imports `paths`, panicking with the errors.
fn import_ok(paths: &[PathBuf]) -> Imported {
    match import(paths) {
        Ok(im) => im,
        Err(e) => panic!(
            "import failed:\n{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The entries of `kind` about `resource` whose field contains `field` and whose
/// message contains `msg`.
fn find<'a>(
    im: &'a Imported,
    kind: EntryKind,
    resource: &str,
    field: &str,
    msg: &str,
) -> Vec<&'a ReportEntry> {
    im.report
        .entries
        .iter()
        .filter(|e| {
            e.kind == kind
                && e.resource == resource
                && e.field.contains(field)
                && e.message.contains(msg)
        })
        .collect()
}

/// Asserts that there is such an entry.
#[track_caller]
fn has(im: &Imported, kind: EntryKind, resource: &str, field: &str, msg: &str) {
    if find(im, kind, resource, field, msg).is_empty() {
        let all: Vec<String> = im
            .report
            .entries
            .iter()
            .filter(|e| e.resource == resource)
            .map(|e| format!("{:?} {} {} {}", e.kind, e.resource, e.field, e.message))
            .collect();
        panic!(
            "no {kind:?} entry for {resource} / {field} / {msg}; entries of {resource}:\n{}",
            all.join("\n")
        );
    }
}

/// Everything the data plane does with a compiled configuration, by id, as sorted
/// lines: addresses, routes, rules, gateways, peerings (indices resolved to ids; MACs of
/// ENIs included, namespaces and gateway uplinks not).
fn summary(c: &DataplaneConfig) -> Vec<String> {
    let vpc = |i: u32| c.vpcs.get(i as usize).map_or("?", |v| v.id.as_str());
    let subnet = |i: u32| c.subnets.get(i as usize).map_or("?", |v| v.id.as_str());
    let eni = |i: u32| c.enis.get(i as usize).map_or("?", |v| v.id.as_str());
    let sg = |i: u32| {
        c.security_groups
            .get(i as usize)
            .map_or("?", |v| v.id.as_str())
    };
    let mut out = Vec::new();
    for v in &c.vpcs {
        out.push(format!("vpc {} {:?}", v.id, v.cidrs));
    }
    for s in &c.subnets {
        let rt = c
            .route_tables
            .get(s.route_table.0 as usize)
            .map_or("?", |r| r.id.as_str());
        let acl = s
            .network_acl
            .and_then(|a| c.network_acls.get(a.0 as usize))
            .map_or("-", |a| a.id.as_str());
        out.push(format!(
            "subnet {} {} {:?} {:?} rtb {rt} acl {acl}",
            s.id,
            vpc(s.vpc.0),
            s.ipv4_cidr,
            s.ipv6_cidr
        ));
    }
    for r in &c.route_tables {
        for x in &r.routes {
            let target = match x.target {
                RouteTarget::Local => "local".to_string(),
                RouteTarget::Blackhole => "blackhole".to_string(),
                RouteTarget::Eni(i) => eni(i.0).to_string(),
                RouteTarget::InternetGateway(i) => c.internet_gateways[i.0 as usize].id.clone(),
                RouteTarget::NatGateway(i) => c.nat_gateways[i.0 as usize].id.clone(),
                RouteTarget::Peering(i) => c.peerings[i.0 as usize].id.clone(),
            };
            out.push(format!(
                "route {} {} {} -> {target}",
                r.id,
                vpc(r.vpc.0),
                x.destination
            ));
        }
    }
    for e in &c.enis {
        let mut sgs: Vec<&str> = e
            .security_groups
            .iter()
            .flatten()
            .map(|g| sg(g.0))
            .collect();
        sgs.sort_unstable();
        out.push(format!(
            "eni {} {} mac {} ipv4 {:?} ipv6 {:?} sdc {} mtu {} sgs {sgs:?} conntrack {:?}",
            e.id,
            subnet(e.subnet.0),
            e.mac,
            e.ipv4,
            e.ipv6,
            e.source_dest_check,
            e.mtu,
            e.conntrack
        ));
    }
    for a in &c.network_acls {
        for (dir, list) in [("in", &a.inbound), ("out", &a.outbound)] {
            for r in list {
                out.push(format!(
                    "acl {} {} {dir} {} {:?} {} allow {}",
                    a.id,
                    vpc(a.vpc.0),
                    r.rule_number,
                    r.traffic,
                    r.cidr,
                    r.allow
                ));
            }
        }
    }
    for g in &c.security_groups {
        for (dir, list) in [("in", &g.inbound), ("out", &g.outbound)] {
            for r in list {
                let peer = match &r.peer {
                    SgPeer::Cidr(n) => n.to_string(),
                    SgPeer::Group(i) => sg(i.0).to_string(),
                    SgPeer::PrefixList { id, cidrs } => format!("{id} {cidrs:?}"),
                };
                out.push(format!(
                    "sg {} {} {dir} {:?} {peer}",
                    g.id,
                    vpc(g.vpc.0),
                    r.traffic
                ));
            }
        }
    }
    for g in &c.internet_gateways {
        out.push(format!("igw {} {}", g.id, vpc(g.vpc.0)));
        for m in &g.mappings {
            let target = match m.target {
                MappingTarget::Eni(i) => eni(i.0).to_string(),
                MappingTarget::NatGateway(i) => c.nat_gateways[i.0 as usize].id.clone(),
            };
            out.push(format!(
                "igw {} map {} -> {target} {} ({})",
                g.id, m.public, m.private, m.source
            ));
        }
    }
    for n in &c.nat_gateways {
        out.push(format!(
            "nat {} if {} {} {:?} public {} ports {:?} idle {}",
            n.id,
            n.interface_id,
            subnet(n.subnet.0),
            n.addrs,
            n.public,
            n.ports,
            n.idle_timeout_ms
        ));
    }
    for p in &c.peerings {
        out.push(format!(
            "pcx {} {} {} active {}",
            p.id,
            vpc(p.requester.0),
            vpc(p.accepter.0),
            p.active
        ));
    }
    out.sort();
    out
}

/// The demo, validated.
fn demo() -> Topology {
    let (t, _) = crate::validate::check(DEMO).expect("the demo validates");
    t
}

/// Prints the differences of two sorted line lists.
fn diff(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_b: Vec<&String> = b.iter().filter(|x| !a.contains(x)).collect();
    format!("only before:\n  {only_a:#?}\nonly after:\n  {only_b:#?}")
}

#[test]
fn the_demo_round_trips_through_the_aws_cli_json() {
    let t = demo();
    let before = crate::compile::compile(&t).expect("the demo compiles");
    let dir = scratch("round-trip");
    write_files(&dir, &export(&t));
    let im = import_ok(std::slice::from_ref(&dir));
    let (t2, after) = validate_and_compile(&im);
    let (a, b) = (summary(&before), summary(&after));
    assert_eq!(a, b, "{}", diff(&a, &b));
    // What may differ: namespaces (from the instance ids) and names.
    let web1 = t2
        .enis
        .iter()
        .find(|e| e.id == "eni-web1")
        .expect("eni-web1");
    assert_eq!(web1.netns.as_deref(), Some("i-web1"));
    assert_eq!(web1.name.as_deref(), Some("web1"));
    // The demo's `target = "blackhole"` route went out as a route to a deleted NAT
    // gateway (AWS's blackhole) and comes back as one.
    let rt = t2
        .route_tables
        .iter()
        .find(|r| r.id == "rtb-main")
        .expect("rtb-main");
    let bh = rt
        .routes
        .iter()
        .find(|r| r.destination.to_string() == "203.0.113.0/24")
        .expect("the blackhole route");
    assert_eq!(bh.state, RouteState::Blackhole);
    assert!(bh.target.starts_with("nat-0"), "{bh:?}");
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-main",
        "Routes[",
        "203.0.113.0/24",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_committed_demo_fixture_is_the_exporters_output() {
    let dir = fixture("demo");
    let files = export(&demo());
    if std::env::var_os("UPDATE_AWS_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).expect("fixture directory");
        write_files(&dir, &files);
    }
    for (name, v) in &files {
        let text = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e} (UPDATE_AWS_FIXTURES=1 writes it)"));
        let got: Value = serde_json::from_str(&text).expect("fixture JSON");
        assert_eq!(
            &got, v,
            "{name} differs from the exporter's output (UPDATE_AWS_FIXTURES=1 rewrites it)"
        );
    }
}

#[test]
fn the_demo_fixture_imports_validates_and_compiles() {
    let im = import_ok(&[fixture("demo")]);
    let (t, cfg) = validate_and_compile(&im);
    assert_eq!(t.vpcs.len(), 2);
    assert_eq!(cfg.enis.len(), 6);
    assert!(t
        .enis
        .iter()
        .all(|e| e.netns.as_deref().is_some_and(|n| n.starts_with("i-"))));
    let nat = &t.nat_gateways[0];
    assert_eq!(nat.network_interface_id.as_deref(), Some("eni-nat-demo"));
    assert_eq!(nat.allocation_id.as_deref(), Some("eipalloc-nat"));
    let eip = t
        .elastic_ips
        .iter()
        .find(|e| e.id == "eipalloc-nat")
        .expect("eip");
    assert_eq!(
        eip.eni, None,
        "the NAT gateway's Elastic IP is the gateway's"
    );
    has(&im, EntryKind::Used, "eni-nat-demo", "", "nat-demo");
    has(&im, EntryKind::Skipped, "Vpcs[*]", "", "OwnerId");
    has(
        &im,
        EntryKind::Skipped,
        "Reservations[*]",
        "",
        "Instances[].Placement",
    );
    // The instance's type, image and metadata options go on its ENIs; its id (`i-web1`,
    // not of AWS's form) is left to be derived from the namespace.
    let web1 = t
        .enis
        .iter()
        .find(|e| e.id == "eni-web1")
        .expect("eni-web1");
    assert_eq!(web1.instance_type.as_deref(), Some("t3.micro"));
    assert_eq!(web1.image_id.as_deref(), Some("ami-0c02fb55956c7d316"));
    let m = web1.metadata_options.expect("metadata options");
    assert!(m.tokens_required() && m.endpoint_enabled());
    assert_eq!(m.http_put_response_hop_limit, Some(2));
    assert_eq!(web1.instance_id, None);
    assert_eq!(cfg.enis[0].instance.metadata.hop_limit, 2);
    assert!(t
        .subnets
        .iter()
        .all(|s| s.availability_zone.as_deref() == Some("us-east-1a")));
    assert!(im
        .report
        .of(EntryKind::Skipped)
        .all(|e| !e.message.contains("knows")));
    // The TOML written from it reads back as the same topology.
    let text = crate::import::write::toml(&im.topology, &im.report).expect("toml");
    assert_eq!(crate::validate::parse(&text).expect("parses"), im.topology);
}

/// The demo with vpc-shared's default group declared and used, so that
/// `describe-security-group-rules` (which prints no group names) can tell it.
fn demo_with_named_defaults() -> Topology {
    let mut t = demo();
    let d = crate::model::SecurityGroup {
        id: "sg-shared-default".into(),
        vpc: "vpc-shared".into(),
        name: Some("default".into()),
        description: None,
        default: true,
        inbound: vec![crate::model::SgRuleSpec {
            protocol: crate::model::RuleProtocol::All,
            ports: None,
            icmp_type: None,
            icmp_code: None,
            source: Some(crate::model::RulePeer::Group("sg-shared-default".into())),
            destination: None,
            description: None,
        }],
        outbound: None,
    };
    t.security_groups.push(d);
    for e in &mut t.enis {
        if e.id == "eni-shared1" {
            e.security_groups = Some(vec!["sg-shared".into(), "sg-shared-default".into()]);
        }
    }
    t
}

#[test]
fn security_group_rules_alone_give_the_same_rules_and_with_groups_are_not_needed() {
    let t = demo_with_named_defaults();
    let before = summary(&crate::compile::compile(&t).expect("compiles"));
    let mut files = export(&t);
    files.remove("describe-security-groups.json");
    files.insert(
        "describe-security-group-rules.json".into(),
        security_group_rules(&t),
    );
    let dir = scratch("sg-rules");
    write_files(&dir, &files);
    let im = import_ok(std::slice::from_ref(&dir));
    let (_, cfg) = validate_and_compile(&im);
    let after = summary(&cfg);
    assert_eq!(before, after, "{}", diff(&before, &after));
    has(&im, EntryKind::Defaulted, "sg-web", "", "from the ENIs");

    // Both: the groups are used, the rules reported as not needed, nothing doubled.
    write_files(&dir, &export(&t));
    let im = import_ok(std::slice::from_ref(&dir));
    let (_, cfg) = validate_and_compile(&im);
    let after = summary(&cfg);
    assert_eq!(before, after, "{}", diff(&before, &after));
    has(
        &im,
        EntryKind::Skipped,
        "SecurityGroupRules",
        "",
        "not needed",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_full_scenario_imports_every_kind_and_reports_what_it_left_out() {
    let im = import_ok(&[fixture("full")]);
    let (t, cfg) = validate_and_compile(&im);

    // VPCs: secondary CIDRs (the disassociated one left out), IPv6, names.
    let prod = &t.vpcs[0];
    assert_eq!(prod.id, "vpc-0a1");
    assert_eq!(prod.name.as_deref(), Some("prod"));
    assert_eq!(prod.secondary_cidrs.len(), 1);
    assert!(prod.ipv6_cidr.is_some());
    has(
        &im,
        EntryKind::Skipped,
        "vpc-0a1",
        "CidrBlockAssociationSet[2]",
        "disassociated",
    );
    // An IPv6-only subnet cannot be modelled.
    has(
        &im,
        EntryKind::Skipped,
        "subnet-0v6only",
        "CidrBlock",
        "IPv6-only",
    );
    assert!(t.subnets.iter().all(|s| s.id != "subnet-0v6only"));

    // Route tables: main, associations, every kind of target.
    let main = t
        .route_tables
        .iter()
        .find(|r| r.id == "rtb-0main")
        .expect("main");
    assert!(main.main);
    let route = |rt: &str, dest: &str| {
        t.route_tables
            .iter()
            .find(|r| r.id == rt)
            .and_then(|r| r.routes.iter().find(|x| x.destination.to_string() == dest))
            .map(|r| (r.target.clone(), r.state))
    };
    assert_eq!(
        route("rtb-0main", "0.0.0.0/0"),
        Some(("nat-0pub".into(), RouteState::Active))
    );
    assert_eq!(
        route("rtb-0main", "10.50.0.0/16"),
        Some(("pcx-0act".into(), RouteState::Active))
    );
    assert_eq!(
        route("rtb-0main", "10.60.0.0/16"),
        Some(("pcx-0pend".into(), RouteState::Blackhole))
    );
    assert_eq!(
        route("rtb-0main", "198.18.0.0/15"),
        Some(("nat-0gone".into(), RouteState::Blackhole))
    );
    assert_eq!(
        route("rtb-0main", "10.99.0.0/16"),
        Some(("pcx-0del".into(), RouteState::Blackhole))
    );
    for d in [
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "10.200.0.0/16",
        "10.201.0.0/16",
        "::/0",
    ] {
        assert_eq!(
            route("rtb-0main", d),
            Some(("blackhole".into(), RouteState::Active)),
            "{d}"
        );
    }
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0main",
        "Routes[",
        "tgw-0abc is a transit gateway",
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0main",
        "Routes[",
        "vgw-0abc is a virtual private gateway",
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0main",
        "Routes[",
        "eigw-0abc is an egress-only internet gateway",
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0main",
        "Routes[",
        "cagw-0abc is a carrier gateway",
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0main",
        "Routes[",
        "lgw-0abc is a local gateway",
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0main",
        "Routes[",
        "Cloud WAN",
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0main",
        "Routes[",
        "nat-0gone is not imported",
    );
    has(
        &im,
        EntryKind::Skipped,
        "rtb-0main",
        "DestinationPrefixListId",
        "pl-63a5400a",
    );
    has(
        &im,
        EntryKind::Skipped,
        "rtb-0main",
        "PropagatingVgws[0]",
        "vgw-0abc",
    );
    assert_eq!(
        route("rtb-0pub", "0.0.0.0/0"),
        Some(("igw-0a1".into(), RouteState::Active))
    );
    assert_eq!(
        route("rtb-0pub", "::/0"),
        Some(("blackhole".into(), RouteState::Active))
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-0pub",
        "Routes[",
        "IPv6 through an internet gateway",
    );
    assert_eq!(
        route("rtb-0pub", "10.10.1.0/24"),
        Some(("eni-0web2".into(), RouteState::Active))
    );
    assert_eq!(
        route("rtb-0pub", "10.20.2.0/24"),
        Some(("eni-0deleted".into(), RouteState::Blackhole))
    );
    assert_eq!(
        route("rtb-0pub", "203.0.113.0/24"),
        Some(("eni-0app".into(), RouteState::Active)),
        "InstanceId → its primary ENI"
    );
    assert_eq!(
        route("rtb-0app", "0.0.0.0/0"),
        Some(("nat-0priv".into(), RouteState::Active))
    );
    has(
        &im,
        EntryKind::Skipped,
        "rtb-0edge",
        "Associations[0]",
        "edge association",
    );
    let subnet_rt = |s: &str| {
        t.subnets
            .iter()
            .find(|x| x.id == s)
            .and_then(|x| x.route_table.clone())
    };
    assert_eq!(subnet_rt("subnet-0pub").as_deref(), Some("rtb-0pub"));
    assert_eq!(subnet_rt("subnet-0db"), None, "the main table");

    // Network ACLs: Egress, PortRange, IcmpTypeCode, numbers, 32767 left out.
    let acl = t
        .network_acls
        .iter()
        .find(|n| n.id == "acl-0app")
        .expect("acl-0app");
    assert_eq!(acl.subnets, ["subnet-0app", "subnet-0db"]);
    assert_eq!(acl.inbound.len(), 6);
    assert_eq!(acl.outbound.len(), 2);
    let r90 = &acl.inbound[0];
    assert_eq!(
        (
            r90.rule,
            r90.protocol.to_string(),
            r90.ports.map(|p| p.to_string())
        ),
        (90, "tcp".into(), Some("23".into()))
    );
    let r120 = acl
        .inbound
        .iter()
        .find(|r| r.rule == 120)
        .expect("rule 120");
    assert_eq!((r120.icmp_type, r120.icmp_code), (Some(3), Some(4)));
    let r140 = acl
        .inbound
        .iter()
        .find(|r| r.rule == 140)
        .expect("rule 140");
    assert_eq!(
        (
            r140.protocol.to_string(),
            r140.icmp_type,
            r140.cidr.to_string()
        ),
        ("icmpv6".into(), None, "::/0".into())
    );
    assert!(acl
        .inbound
        .iter()
        .chain(&acl.outbound)
        .all(|r| r.rule != 32767));
    let def = t
        .network_acls
        .iter()
        .find(|n| n.id == "acl-0def")
        .expect("acl-0def");
    assert!(def.default);
    has(
        &im,
        EntryKind::Skipped,
        "acl-0def",
        "Associations[1]",
        "subnet-0v6only",
    );

    // Security groups: one rule per peer, ICMP type/code from FromPort/ToPort, -1.
    let sg = |id: &str| t.security_groups.iter().find(|g| g.id == id).expect(id);
    let web = sg("sg-0web");
    assert!(!web.default);
    assert!(sg("sg-0def").default);
    let http: Vec<_> = web
        .inbound
        .iter()
        .filter(|r| r.ports.map(|p| p.from) == Some(80))
        .collect();
    assert_eq!(http.len(), 2, "0.0.0.0/0 and ::/0");
    assert_eq!(http[0].description.as_deref(), Some("http"));
    let ssh: Vec<_> = web
        .inbound
        .iter()
        .filter(|r| r.ports.map(|p| p.from) == Some(22))
        .collect();
    assert_eq!(ssh.len(), 1, "pl-0adm; the AWS-managed list has no entries");
    assert_eq!(
        ssh[0].source.as_ref().map(|p| p.to_string()).as_deref(),
        Some("pl-0adm")
    );
    let echo = web
        .inbound
        .iter()
        .find(|r| r.icmp_type == Some(8))
        .expect("echo");
    assert_eq!(echo.icmp_code, Some(0));
    assert!(web
        .inbound
        .iter()
        .any(|r| r.protocol.to_string() == "icmp" && r.icmp_type.is_none()));
    assert!(web.inbound.iter().any(|r| r.protocol.to_string() == "all"
        && r.source.as_ref().map(|p| p.to_string()).as_deref() == Some("sg-0web")));
    has(
        &im,
        EntryKind::Skipped,
        "sg-0web",
        "UserIdGroupPairs[1]",
        "another account (999999999999)",
    );
    has(
        &im,
        EntryKind::Skipped,
        "sg-0web",
        "PrefixListIds[1]",
        "pl-63a5400a is not imported",
    );
    let app = sg("sg-0app");
    assert!(app.inbound.iter().any(|r| r.protocol.to_string() == "50"));
    assert_eq!(sg("sg-0db").outbound, Some(vec![]));
    assert!(sg("sg-0db").inbound.iter().any(|r| r
        .source
        .as_ref()
        .map(|p| p.to_string())
        .as_deref()
        == Some("sg-0shr")));
    has(
        &im,
        EntryKind::Skipped,
        "pl-63a5400a",
        "",
        "get-managed-prefix-list-entries",
    );

    // ENIs and instances.
    let eni = |id: &str| t.enis.iter().find(|e| e.id == id).expect(id);
    let web1 = eni("eni-0web");
    assert_eq!(web1.netns.as_deref(), Some("i-0web"));
    assert_eq!(web1.name.as_deref(), Some("web"));
    assert_eq!(web1.secondary_ips.len(), 1);
    assert_eq!(web1.ipv6_ips.len(), 1);
    assert_eq!(
        web1.mac.map(|m| m.to_string()).as_deref(),
        Some("0a:11:22:33:44:01")
    );
    assert_eq!(
        web1.public_ip.map(|p| p.to_string()).as_deref(),
        Some("198.51.100.10")
    );
    assert_eq!(
        web1.conntrack.and_then(|c| c.tcp_established_timeout),
        Some(3600)
    );
    let web2 = eni("eni-0web2");
    assert_eq!(web2.netns.as_deref(), Some("0web2"));
    assert!(!web2.source_dest_check);
    has(
        &im,
        EntryKind::Skipped,
        "eni-0web2",
        "Ipv4Prefixes",
        "prefix delegation",
    );
    let app1 = eni("eni-0app");
    assert_eq!(
        app1.netns.as_deref(),
        Some("i-0app"),
        "from describe-instances alone"
    );
    assert_eq!(app1.security_groups, Some(vec!["sg-0app".to_string()]));
    has(
        &im,
        EntryKind::Skipped,
        "eni-0app",
        "Groups[1]",
        "sg-0gone is not in the input",
    );
    assert_eq!(
        eni("eni-0db").netns.as_deref(),
        Some("0db"),
        "unattached: its own namespace"
    );
    assert_eq!(eni("eni-0pend").security_groups, None);
    has(
        &im,
        EntryKind::Skipped,
        "eni-0vpce",
        "InterfaceType",
        "vpc_endpoint",
    );
    assert!(t.enis.iter().all(|e| !e.id.starts_with("eni-0nat")));
    has(
        &im,
        EntryKind::Skipped,
        "i-0old",
        "State.Name",
        "terminated",
    );

    // Elastic IPs, NAT gateways, internet gateways, peerings, prefix lists.
    let eip = |id: &str| t.elastic_ips.iter().find(|e| e.id == id).expect(id);
    assert_eq!(eip("eipalloc-0web2").eni.as_deref(), Some("eni-0web"));
    assert_eq!(
        eip("eipalloc-0web2")
            .private_ip
            .map(|p| p.to_string())
            .as_deref(),
        Some("10.10.0.11")
    );
    assert_eq!(eip("eipalloc-0nat1").eni, None);
    assert_eq!(eip("eipalloc-0free").eni, None);
    assert_eq!(eip("eipalloc-0nat2").public_ip.to_string(), "198.51.100.21");
    has(&im, EntryKind::Defaulted, "nat-0pub", "", "eipalloc-0nat2");
    has(
        &im,
        EntryKind::Skipped,
        "198.51.100.99",
        "Domain",
        "EC2-Classic",
    );
    let nat = t
        .nat_gateways
        .iter()
        .find(|n| n.id == "nat-0pub")
        .expect("nat-0pub");
    assert_eq!(nat.network_interface_id.as_deref(), Some("eni-0nat1"));
    assert_eq!(nat.secondary_private_ips.len(), 1);
    assert_eq!(nat.secondary_allocation_ids, ["eipalloc-0nat2"]);
    let private = t
        .nat_gateways
        .iter()
        .find(|n| n.id == "nat-0priv")
        .expect("nat-0priv");
    assert_eq!(private.connectivity, crate::model::NatConnectivity::Private);
    has(&im, EntryKind::Skipped, "nat-0gone", "State", "deleted");
    assert_eq!(t.internet_gateways.len(), 1);
    has(
        &im,
        EntryKind::Skipped,
        "igw-0old",
        "Attachments",
        "not attached",
    );
    assert_eq!(t.peering_connections.len(), 2);
    has(
        &im,
        EntryKind::Skipped,
        "pcx-0del",
        "Status.Code",
        "deleted",
    );
    assert_eq!(t.prefix_lists.len(), 1);
    assert_eq!(t.prefix_lists[0].max_entries, Some(10));
    // Defaults for what the input does not list.
    has(
        &im,
        EntryKind::Defaulted,
        "vpc-0c3",
        "",
        "no default security group",
    );
    assert_eq!(cfg.vpcs.len(), 3);
}

/// Imports a directory holding `files` (name → text).
fn import_texts(name: &str, files: &[(&str, &str)]) -> Result<Imported, Vec<ImportError>> {
    let dir = scratch(name);
    for (f, text) in files {
        std::fs::write(dir.join(f), text).expect("write");
    }
    let r = import(std::slice::from_ref(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// A VPC and a subnet, as the AWS CLI prints them.
const VPCS: &str =
    r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "State": "available"}]}"#;

#[test]
fn a_truncated_file_is_an_error_with_line_and_column() {
    let e = import_texts(
        "truncated",
        &[(
            "describe-vpcs.json",
            "{\"Vpcs\": [\n  {\"VpcId\": \"vpc-1\",\n",
        )],
    )
    .expect_err("truncated");
    assert_eq!(e.len(), 1);
    assert!(e[0].file.ends_with("describe-vpcs.json"), "{:?}", e[0]);
    assert!(e[0].message.contains("ends too early"), "{}", e[0].message);
    assert!(e[0].message.contains("line 3"), "{}", e[0].message);
}

#[test]
fn invalid_json_and_an_unknown_shape_are_errors() {
    let e = import_texts("invalid", &[("a.json", "{\"Vpcs\": [}")]).expect_err("invalid");
    assert!(
        e[0].message.contains("not valid JSON at line 1, column"),
        "{}",
        e[0].message
    );
    let e = import_texts("shape", &[("a.json", "{\"Buckets\": []}")]).expect_err("shape");
    assert!(
        e[0].message.contains("top-level keys are [Buckets]"),
        "{}",
        e[0].message
    );
    let e = import_texts("list", &[("a.json", "[1, 2]")]).expect_err("list");
    assert!(
        e[0].message.contains("expected a JSON object"),
        "{}",
        e[0].message
    );
    let e = import(&[PathBuf::from("/nonexistent/describe-vpcs.json")]).expect_err("missing file");
    assert!(e[0].message.starts_with("cannot read"), "{}", e[0].message);
    let e = import_texts("empty", &[("notes.txt", "")]).expect_err("no json");
    assert!(e[0].message.contains("no *.json"), "{}", e[0].message);
}

#[test]
fn a_missing_referenced_resource_is_an_error_naming_file_resource_and_field() {
    let subnets = r#"{"Subnets": [
        {"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"},
        {"SubnetId": "subnet-2", "VpcId": "vpc-9", "CidrBlock": "10.9.1.0/24"}]}"#;
    let e = import_texts("missing", &[("vpcs.json", VPCS), ("subnets.json", subnets)])
        .expect_err("missing VPC");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].file.ends_with("subnets.json"));
    assert_eq!(e[0].resource, "subnet-2");
    assert_eq!(e[0].field, "Subnets[1].VpcId");
    assert!(
        e[0].message.contains("vpc-9 is not among the VPCs"),
        "{}",
        e[0].message
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_path() {
    let acls = r#"{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1",
        "Entries": [{"RuleNumber": "ten", "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"}]}]}"#;
    let e = import_texts("type", &[("vpcs.json", VPCS), ("acls.json", acls)]).expect_err("type");
    assert_eq!(e[0].resource, "acl-1");
    assert_eq!(e[0].field, "NetworkAcls[0].Entries[0].RuleNumber");
    assert!(e[0].message.contains("invalid type"), "{}", e[0].message);
}

#[test]
fn unknown_fields_are_reported_not_errors() {
    let vpcs = r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16",
        "ShinyNewField": 1,
        "CidrBlockAssociationSet": [{"CidrBlock": "10.0.0.0/16", "Frobnicated": true}]}],
        "NextToken": "abc", "Extra": {}}"#;
    let im = import_texts("unknown", &[("describe-vpcs.json", vpcs)]).expect("imports");
    has(
        &im,
        EntryKind::Skipped,
        "vpc-1",
        "Vpcs[0].ShinyNewField",
        "not a field of `aws ec2 describe-vpcs` output",
    );
    has(
        &im,
        EntryKind::Skipped,
        "vpc-1",
        "Vpcs[0].CidrBlockAssociationSet[0].Frobnicated",
        "knows",
    );
    has(&im, EntryKind::Skipped, "file", "NextToken", "one page");
    has(&im, EntryKind::Skipped, "file", "Extra", "top-level key");
    let entry = &find(&im, EntryKind::Skipped, "vpc-1", "ShinyNewField", "")[0];
    assert!(entry.file.ends_with("describe-vpcs.json"));
    validate_and_compile(&im);
}

#[test]
fn prefix_list_entries_need_the_list_id_in_the_file_name() {
    let e = import_texts(
        "entries",
        &[("entries.json", r#"{"Entries": [{"Cidr": "10.0.0.0/8"}]}"#)],
    )
    .expect_err("no id");
    assert!(e[0].message.contains("file name"), "{}", e[0].message);
    let im = import_texts(
        "entries-ok",
        &[(
            "get-managed-prefix-list-entries.pl-0abc.json",
            r#"{"Entries": [{"Cidr": "10.0.0.0/8", "Description": "x"}]}"#,
        )],
    )
    .expect("imports");
    assert_eq!(im.topology.prefix_lists[0].id, "pl-0abc");
    has(
        &im,
        EntryKind::Defaulted,
        "pl-0abc",
        "",
        "not listed by describe-managed-prefix-lists",
    );
}

#[test]
fn ids_that_do_not_fit_get_generated_ones_listed_in_the_report() {
    let vpcs = r#"{"Vpcs": [{"VpcId": "vpc-0a/b", "CidrBlock": "10.0.0.0/16"}]}"#;
    let im = import_texts("ids", &[("describe-vpcs.json", vpcs)]).expect("imports");
    let id = &im.topology.vpcs[0].id;
    assert!(id.starts_with("vpc-") && id != "vpc-0a/b");
    assert_eq!(im.report.ids.get("vpc-0a/b"), Some(id));
    validate_and_compile(&im);
}

#[test]
fn every_field_the_ec2_api_documents_is_read_or_known_to_be_ignored() {
    // One record of each output with every member of its shape (generated from the EC2
    // API model, see the fixture's README): no error, no field unknown to the importer.
    let files = super::input::files(&[fixture("every-field")]).expect("files");
    let mut input = super::input::Input::default();
    let mut report = crate::import::ImportReport::default();
    let mut errors = Vec::new();
    super::input::read(&files, &mut input, &mut report, &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    let unknown: Vec<String> = report
        .entries
        .iter()
        .filter(|e| e.message.contains("knows"))
        .map(|e| e.field.clone())
        .collect();
    assert!(
        unknown.is_empty(),
        "fields neither read nor listed as ignored: {unknown:#?}"
    );
    for (kind, n) in [
        ("vpcs", input.vpcs.len()),
        ("subnets", input.subnets.len()),
        ("route tables", input.route_tables.len()),
        ("network ACLs", input.network_acls.len()),
        ("security groups", input.security_groups.len()),
        ("security group rules", input.security_group_rules.len()),
        ("network interfaces", input.network_interfaces.len()),
        ("instances", input.instances.len()),
        ("addresses", input.addresses.len()),
        ("NAT gateways", input.nat_gateways.len()),
        ("internet gateways", input.internet_gateways.len()),
        ("peerings", input.peerings.len()),
        ("prefix lists", input.prefix_lists.len()),
        ("prefix list entry files", input.prefix_list_entries.len()),
    ] {
        assert_eq!(n, 1, "{kind}");
    }
}

#[test]
fn gateways_and_interfaces_that_cannot_be_modelled_as_given_are_reported() {
    let subnets =
        r#"{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}]}"#;
    let igws = r#"{"InternetGateways": [
        {"InternetGatewayId": "igw-1", "Attachments": [{"State": "available", "VpcId": "vpc-1"}]},
        {"InternetGatewayId": "igw-2", "Attachments": [{"State": "available", "VpcId": "vpc-1"}]}]}"#;
    // The NAT gateway does not name its interface; the interface's description does.
    let nats = r#"{"NatGateways": [{"NatGatewayId": "nat-1", "SubnetId": "subnet-1", "State": "available",
        "ConnectivityType": "private", "NatGatewayAddresses": [{"IsPrimary": true, "Status": "succeeded"}]}]}"#;
    let enis = r#"{"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-n", "SubnetId": "subnet-1", "InterfaceType": "nat_gateway", "RequesterManaged": true,
         "Description": "Interface for NAT Gateway nat-1", "PrivateIpAddress": "10.0.1.99",
         "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.1.99"}]},
        {"NetworkInterfaceId": "eni-a", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.10",
         "Attachment": {"InstanceId": "i-a", "DeviceIndex": 0}},
        {"NetworkInterfaceId": "eni-l", "SubnetId": "subnet-1", "InterfaceType": "lambda", "PrivateIpAddress": "10.0.1.20"}]}"#;
    let rtbs = r#"{"RouteTables": [{"RouteTableId": "rtb-1", "VpcId": "vpc-1",
        "Associations": [{"Main": true}],
        "Routes": [
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-2", "State": "blackhole"},
            {"DestinationCidrBlock": "192.0.2.0/24", "NetworkInterfaceId": "eni-a", "State": "blackhole"},
            {"DestinationCidrBlock": "198.51.100.0/24", "InstanceId": "i-gone", "State": "blackhole"},
            {"DestinationCidrBlock": "203.0.113.0/24", "NetworkInterfaceId": "eni-l", "State": "active"},
            {"DestinationCidrBlock": "10.0.1.0/24", "TransitGatewayId": "tgw-1", "State": "active"},
            {"DestinationCidrBlock": "172.16.0.0/12", "State": "filtered", "IpAddress": "10.0.1.5"}]}]}"#;
    let im = import_texts(
        "unmodelled",
        &[
            ("describe-vpcs.json", VPCS),
            ("describe-subnets.json", subnets),
            ("describe-internet-gateways.json", igws),
            ("describe-nat-gateways.json", nats),
            ("describe-network-interfaces.json", enis),
            ("describe-route-tables.json", rtbs),
        ],
    )
    .expect("imports");
    let (t, _) = validate_and_compile(&im);
    has(
        &im,
        EntryKind::Skipped,
        "igw-2",
        "Attachments[0]",
        "already has an internet gateway (igw-1)",
    );
    let nat = &t.nat_gateways[0];
    assert_eq!(nat.network_interface_id.as_deref(), Some("eni-n"));
    assert_eq!(
        nat.private_ip.map(|p| p.to_string()).as_deref(),
        Some("10.0.1.99")
    );
    has(
        &im,
        EntryKind::Skipped,
        "eni-l",
        "InterfaceType",
        "lambda interface",
    );
    assert_eq!(t.enis.len(), 1);
    assert_eq!(t.enis[0].netns.as_deref(), Some("i-a"));
    let routes: Vec<(String, String, RouteState)> = t.route_tables[0]
        .routes
        .iter()
        .map(|r| (r.destination.to_string(), r.target.clone(), r.state))
        .collect();
    assert_eq!(
        routes,
        [
            (
                "0.0.0.0/0".to_string(),
                "igw-2".to_string(),
                RouteState::Blackhole
            ),
            (
                "192.0.2.0/24".into(),
                "blackhole".into(),
                RouteState::Active
            ),
            (
                "198.51.100.0/24".into(),
                "blackhole".into(),
                RouteState::Active
            ),
            (
                "203.0.113.0/24".into(),
                "eni-l".into(),
                RouteState::Blackhole
            ),
        ]
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-1",
        "Routes[2].State",
        "AWS shows the route as blackhole though eni-a is imported",
    );
    has(
        &im,
        EntryKind::Blackholed,
        "rtb-1",
        "Routes[3]",
        "instance i-gone has no primary interface",
    );
    has(
        &im,
        EntryKind::Skipped,
        "rtb-1",
        "Routes[5]",
        "inside the VPC a blackhole cannot replace the local route",
    );
    has(
        &im,
        EntryKind::Skipped,
        "rtb-1",
        "Routes[6].State",
        "filtered",
    );
    has(
        &im,
        EntryKind::Defaulted,
        "vpc-1",
        "",
        "no default network ACL",
    );
}
