//! Tests of the Terraform importer: the fixtures under `control/tests/fixtures/terraform/`
//! (a state, a plan with every resource kind, the three-tier plans for the end-to-end
//! test), the errors, and the round trip of `examples/demo.toml` through a Terraform
//! state.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dataplane::vpc::config::{DataplaneConfig, MappingTarget, RouteTarget, SgPeer};

use super::super::{EntryKind, ImportError, Imported};
use super::{export, import, import_str, looks_like_terraform};
use crate::model::{RulePeer, Topology};

/// A fixture's path.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/terraform")
        .join(name)
}

/// Imports a fixture, panicking with the errors.
fn imported(name: &str) -> Imported {
    match import(&fixture(name)) {
        Ok(i) => i,
        Err(e) => panic!(
            "{name}:\n{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Validates and compiles an imported topology (what `vpcctl import` promises), panicking
/// with the problems; also checks that the TOML written for it reads back the same.
fn checked(i: &Imported) -> (Topology, DataplaneConfig) {
    let mut t = i.topology.clone();
    if let Err(e) = crate::validate::validate(&mut t) {
        panic!(
            "the imported topology does not validate:\n{e}\n{}",
            toml::to_string(&i.topology).unwrap_or_default()
        );
    }
    let c = crate::compile::compile(&t).unwrap_or_else(|e| panic!("does not compile: {e}"));
    let text = super::super::write::toml(&i.topology, &i.report).expect("renders");
    assert_eq!(
        crate::validate::parse(&text).expect("the written TOML parses"),
        i.topology
    );
    (t, c)
}

/// The report entries of one kind as `resource.field: message` lines.
fn entries(i: &Imported, kind: EntryKind) -> Vec<String> {
    i.report
        .of(kind)
        .map(|e| format!("{}.{}: {}", e.resource, e.field, e.message))
        .collect()
}

/// Whether some entry of `kind` is about `resource` and its message contains `text`.
fn has(i: &Imported, kind: EntryKind, resource: &str, text: &str) -> bool {
    i.report
        .of(kind)
        .any(|e| e.resource == resource && e.message.contains(text))
}

/// Every rule, route, address and reference of compiled tables, keyed by kind and id,
/// with indices replaced by ids and order-free lists sorted: two topologies that compile
/// to the same tables (namespaces and MACs aside) have equal maps.
fn tables(c: &DataplaneConfig) -> BTreeMap<String, String> {
    let vpc = |i: u32| c.vpcs.get(i as usize).map_or("?".into(), |v| v.id.clone());
    let subnet = |i: u32| {
        c.subnets
            .get(i as usize)
            .map_or("?".into(), |v| v.id.clone())
    };
    let eni = |i: u32| c.enis.get(i as usize).map_or("?".into(), |v| v.id.clone());
    let sg = |i: u32| {
        c.security_groups
            .get(i as usize)
            .map_or("?".into(), |v| v.id.clone())
    };
    let mut out = BTreeMap::new();
    for v in &c.vpcs {
        out.insert(format!("vpc {}", v.id), format!("{:?}", v.cidrs));
    }
    for s in &c.subnets {
        let rtb = c
            .route_tables
            .get(s.route_table.0 as usize)
            .map(|r| r.id.clone());
        let acl = s
            .network_acl
            .and_then(|a| c.network_acls.get(a.0 as usize))
            .map(|a| a.id.clone());
        out.insert(
            format!("subnet {}", s.id),
            format!(
                "vpc {} {:?} {:?} table {rtb:?} acl {acl:?} router {}",
                vpc(s.vpc.0),
                s.ipv4_cidr,
                s.ipv6_cidr,
                s.router_mac
            ),
        );
    }
    for r in &c.route_tables {
        let mut routes: Vec<String> = r
            .routes
            .iter()
            .map(|x| {
                let target = match x.target {
                    RouteTarget::Local => "local".to_string(),
                    RouteTarget::Blackhole => format!("blackhole {:?}", x.deleted_target),
                    RouteTarget::Eni(e) => eni(e.0),
                    RouteTarget::InternetGateway(g) => c.internet_gateways[g.0 as usize].id.clone(),
                    RouteTarget::NatGateway(n) => c.nat_gateways[n.0 as usize].id.clone(),
                    RouteTarget::Peering(p) => c.peerings[p.0 as usize].id.clone(),
                };
                format!("{} → {target}", x.destination)
            })
            .collect();
        routes.sort();
        out.insert(
            format!("route_table {}", r.id),
            format!("vpc {} {routes:?}", vpc(r.vpc.0)),
        );
    }
    for e in &c.enis {
        let groups = e
            .security_groups
            .as_ref()
            .map(|g| g.iter().map(|s| sg(s.0)).collect::<Vec<_>>());
        out.insert(
            format!("eni {}", e.id),
            format!(
                "subnet {} {:?} {:?} check {} mtu {} groups {groups:?} {:?}",
                subnet(e.subnet.0),
                e.ipv4,
                e.ipv6,
                e.source_dest_check,
                e.mtu,
                e.conntrack
            ),
        );
    }
    for a in &c.network_acls {
        let sorted = |v: &Vec<dataplane::vpc::config::NaclEntry>| {
            let mut v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            v.sort();
            v
        };
        out.insert(
            format!("network_acl {}", a.id),
            format!(
                "vpc {} in {:?} out {:?}",
                vpc(a.vpc.0),
                sorted(&a.inbound),
                sorted(&a.outbound)
            ),
        );
    }
    for g in &c.security_groups {
        let rules = |v: &Vec<dataplane::vpc::config::SgRule>| {
            let mut v: Vec<String> = v
                .iter()
                .map(|r| {
                    let peer = match &r.peer {
                        SgPeer::Cidr(n) => n.to_string(),
                        SgPeer::Group(s) => sg(s.0),
                        SgPeer::PrefixList { id, cidrs } => format!("{id} {cidrs:?}"),
                    };
                    format!("{:?} {peer}", r.traffic)
                })
                .collect();
            v.sort();
            v
        };
        out.insert(
            format!("security_group {}", g.id),
            format!(
                "vpc {} in {:?} out {:?}",
                vpc(g.vpc.0),
                rules(&g.inbound),
                rules(&g.outbound)
            ),
        );
    }
    for g in &c.internet_gateways {
        let mut maps: Vec<String> = g
            .mappings
            .iter()
            .map(|m| {
                let target = match m.target {
                    MappingTarget::Eni(e) => eni(e.0),
                    MappingTarget::NatGateway(n) => c.nat_gateways[n.0 as usize].id.clone(),
                };
                format!("{} ⇄ {} {target} ({})", m.public, m.private, m.source)
            })
            .collect();
        maps.sort();
        out.insert(
            format!("internet_gateway {}", g.id),
            format!(
                "vpc {} mac {} {maps:?} uplink {:?}",
                vpc(g.vpc.0),
                g.mac,
                g.uplink
            ),
        );
    }
    for n in &c.nat_gateways {
        out.insert(
            format!("nat_gateway {}", n.id),
            format!(
                "{} subnet {} {:?} public {} {:?} {} {} {}",
                n.interface_id,
                subnet(n.subnet.0),
                n.addrs,
                n.public,
                n.ports,
                n.max_per_destination,
                n.idle_timeout_ms,
                n.max_connections
            ),
        );
    }
    for p in &c.peerings {
        out.insert(
            format!("peering {}", p.id),
            format!(
                "{} → {} active {}",
                vpc(p.requester.0),
                vpc(p.accepter.0),
                p.active
            ),
        );
    }
    out
}

/// Asserts that two compiled topologies agree in every rule, route and address.
fn assert_same_tables(expected: &DataplaneConfig, got: &DataplaneConfig) {
    let (a, b) = (tables(expected), tables(got));
    for (k, v) in &a {
        assert_eq!(Some(v), b.get(k), "{k}");
    }
    for k in b.keys() {
        assert!(a.contains_key(k), "unexpected {k}: {}", b[k]);
    }
}

/// The three-tier example's topology, without its internet host (a test fixture that
/// Terraform does not describe).
fn three_tier_example() -> Topology {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/tests/three-tier.toml");
    let text = std::fs::read_to_string(path).expect("examples/tests/three-tier.toml");
    let mut t = crate::validate::parse(&text).expect("parses");
    t.internet_hosts.clear();
    t
}

/// The three-tier plan's generated ids renamed to the example's, by Terraform address.
fn renamed_three_tier(i: &Imported) -> Topology {
    let names = [
        ("aws_vpc.three_tier", "vpc-3t"),
        ("aws_subnet.web", "subnet-web"),
        ("aws_subnet.app", "subnet-app"),
        ("aws_subnet.db", "subnet-db"),
        ("aws_internet_gateway.igw", "igw-3t"),
        ("aws_route_table.public", "rtb-public"),
        ("aws_route_table.private", "rtb-private"),
        ("aws_security_group.web", "sg-web"),
        ("aws_security_group.app", "sg-app"),
        ("aws_security_group.db", "sg-db"),
        ("aws_network_acl.db", "acl-db"),
        ("aws_eip.web1", "eipalloc-web1"),
    ];
    let mut text = toml::to_string(&i.topology).expect("serialises");
    for (address, id) in names {
        let generated = i
            .report
            .ids
            .get(address)
            .unwrap_or_else(|| panic!("no id for {address}"));
        text = text.replace(&format!("\"{generated}\""), &format!("\"{id}\""));
    }
    crate::validate::parse(&text).expect("parses")
}

#[test]
fn the_three_tier_plan_imports_as_the_three_tier_example() {
    let i = imported("three-tier-plan.json");
    checked(&i);
    // The instances' ENIs are named after their Name tags, and so are their namespaces.
    for (id, ns, ip) in [
        ("eni-web1", "web1", "10.0.1.10"),
        ("eni-app1", "app1", "10.0.2.10"),
        ("eni-db1", "db1", "10.0.3.10"),
    ] {
        let e = i
            .topology
            .enis
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("{id}"));
        assert_eq!(e.netns.as_deref(), Some(ns));
        assert_eq!(e.private_ip.to_string(), ip);
    }
    let eip = &i.topology.elastic_ips[0];
    assert_eq!(eip.public_ip.to_string(), "198.51.100.10");
    assert_eq!(eip.eni.as_deref(), Some("eni-web1"));
    assert!(
        i.report.of(EntryKind::Skipped).next().is_none(),
        "{:?}",
        entries(&i, EntryKind::Skipped)
    );
    assert!(i.report.of(EntryKind::Blackholed).next().is_none());
    // Same tables as the example, once the generated ids are renamed.
    let mut expected = three_tier_example();
    crate::validate::validate(&mut expected).expect("the example validates");
    let expected = crate::compile::compile(&expected).expect("compiles");
    let mut got = renamed_three_tier(&i);
    crate::validate::validate(&mut got).expect("validates");
    let got = crate::compile::compile(&got).expect("compiles");
    assert_same_tables(&expected, &got);
}

/// The ids the three-tier plans import with, as `control/tests/fixtures/terraform/README.md`
/// lists them for tests that refer to them (`from = "eni-web1"`).
#[test]
fn the_three_tier_plan_ids_are_the_documented_ones() {
    let i = imported("three-tier-plan.json");
    let readme = std::fs::read_to_string(fixture("README.md")).expect("README.md");
    for (address, id) in &i.report.ids {
        assert!(
            readme.contains(&format!("| `{address}` | `{id}` |")),
            "README.md does not list {address} → {id}"
        );
    }
    for e in &i.topology.enis {
        let ns = e.netns.clone().unwrap_or_default();
        assert!(
            readme.contains(&format!("`{}` | `{ns}`", e.id)),
            "README.md: {} in {ns}",
            e.id
        );
    }
}

#[test]
fn the_open22_plan_adds_exactly_one_web_rule_and_keeps_every_id() {
    let base = imported("three-tier-plan.json");
    let open = imported("three-tier-plan-open22.json");
    checked(&open);
    assert_eq!(
        base.report.ids, open.report.ids,
        "ids are stable across plans"
    );
    let web = base.report.ids["aws_security_group.web"].clone();
    let mut expected = base.topology.clone();
    let g = expected
        .security_groups
        .iter_mut()
        .find(|g| g.id == web)
        .expect("sg-web");
    let added: Vec<_> = open
        .topology
        .security_groups
        .iter()
        .find(|g| g.id == web)
        .expect("sg-web")
        .inbound
        .iter()
        .filter(|r| !g.inbound.contains(r))
        .cloned()
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0].protocol.to_string(), "tcp");
    assert_eq!(added[0].ports.map(|p| (p.from, p.to)), Some((22, 22)));
    assert_eq!(
        added[0].source,
        Some(RulePeer::Cidr("0.0.0.0/0".parse().expect("cidr")))
    );
    g.inbound.extend(added);
    assert_eq!(expected, open.topology);
}

#[test]
fn a_document_that_is_not_terraform_or_not_json_is_an_error() {
    assert!(looks_like_terraform(
        &serde_json::json!({"format_version": "1.0", "values": {}})
    ));
    assert!(looks_like_terraform(
        &serde_json::json!({"format_version": "1.2", "planned_values": {}})
    ));
    assert!(!looks_like_terraform(&serde_json::json!({"Vpcs": []})));
    let e = import(&fixture("no-such-file.json")).unwrap_err();
    assert_eq!((e[0].resource.as_str(), e.len()), ("file", 1));
    assert!(e[0].message.contains("cannot read"), "{}", e[0]);
    let text = std::fs::read_to_string(fixture("three-tier-plan.json")).expect("fixture");
    let e = import_str("cut.json", &text[..text.len() / 2]).unwrap_err();
    assert!(e[0].message.starts_with("truncated JSON"), "{}", e[0]);
    assert!(e[0].message.contains("line "), "{}", e[0]);
    let e = import_str("x.json", "{\"Vpcs\": []}").unwrap_err();
    assert!(
        e[0].message
            .contains("not a `terraform show -json` document"),
        "{}",
        e[0]
    );
    let e = import_str("x.json", "{\"format_version\": \"1.0\", \"values\": 3}").unwrap_err();
    assert_eq!(e[0].field, "values", "{}", e[0]);
}

/// A state document with these root resources.
fn state(resources: serde_json::Value) -> String {
    serde_json::json!({
        "format_version": "1.0",
        "terraform_version": "1.9.8",
        "values": {"root_module": {"resources": resources}},
    })
    .to_string()
}

/// Errors of `text`, as `resource.field: message` lines.
fn errors(text: &str) -> Vec<ImportError> {
    match import_str("t.json", text) {
        Ok(i) => panic!("imported: {:?}", i.topology),
        Err(e) => e,
    }
}

#[test]
fn a_reference_to_a_missing_resource_or_a_wrong_type_is_an_error() {
    // A state: the subnet's VPC id is not in the document.
    let e = errors(&state(serde_json::json!([
        {"address": "aws_subnet.a", "mode": "managed", "type": "aws_subnet", "name": "a",
         "values": {"id": "subnet-1", "vpc_id": "vpc-gone", "cidr_block": "10.0.1.0/24"}},
    ])));
    assert_eq!(
        (e[0].resource.as_str(), e[0].field.as_str()),
        ("aws_subnet.a", "vpc_id"),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("vpc-gone"), "{}", e[0]);
    // A wrong type.
    let e = errors(&state(serde_json::json!([
        {"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
         "values": {"id": "vpc-1", "cidr_block": 10}},
    ])));
    assert_eq!(
        (e[0].resource.as_str(), e[0].field.as_str()),
        ("aws_vpc.main", "cidr_block")
    );
    assert!(
        e[0].message.contains("expected a string, found a number"),
        "{}",
        e[0]
    );
    // A nested field of the wrong type names its path.
    let e = errors(&state(serde_json::json!([
        {"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
         "values": {"id": "vpc-1", "cidr_block": "10.0.0.0/16"}},
        {"address": "aws_security_group.a", "mode": "managed", "type": "aws_security_group", "name": "a",
         "values": {"id": "sg-1", "vpc_id": "vpc-1", "ingress": [
            {"protocol": "tcp", "from_port": "eighty", "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]}]}},
    ])));
    assert_eq!(e[0].field, "ingress[0].from_port", "{}", e[0]);
    // A plan: the subnet's VPC is unknown until apply and its reference names nothing.
    let plan = serde_json::json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_subnet.a", "mode": "managed", "type": "aws_subnet", "name": "a",
             "values": {"cidr_block": "10.0.1.0/24", "vpc_id": null}}]}},
        "resource_changes": [{"address": "aws_subnet.a", "change": {"actions": ["create"],
            "after": {}, "after_unknown": {"id": true, "vpc_id": true}}}],
        "configuration": {"root_module": {"resources": [{"address": "aws_subnet.a",
            "mode": "managed", "type": "aws_subnet", "name": "a",
            "expressions": {"vpc_id": {"references": ["aws_vpc.gone.id", "aws_vpc.gone"]}}}]}},
    });
    let e = errors(&plan.to_string());
    assert_eq!(
        (
            e[0].file.as_str(),
            e[0].resource.as_str(),
            e[0].field.as_str()
        ),
        ("t.json", "aws_subnet.a", "vpc_id")
    );
    assert!(e[0].message.contains("unknown until apply"), "{}", e[0]);
    // A resource that is not an object.
    let e = errors(&state(
        serde_json::json!([{"address": "aws_vpc.x", "type": "aws_vpc", "name": "x", "values": []}]),
    ));
    assert_eq!(
        (e[0].resource.as_str(), e[0].field.as_str()),
        ("aws_vpc.x", "values")
    );
}

/// The ENI `id` of `i`.
fn eni<'a>(i: &'a Imported, id: &str) -> &'a crate::model::Eni {
    i.topology
        .enis
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| {
            panic!(
                "no {id} in {:?}",
                i.topology.enis.iter().map(|e| &e.id).collect::<Vec<_>>()
            )
        })
}

/// The generated id of a Terraform address.
fn id_of<'a>(i: &'a Imported, address: &str) -> &'a str {
    i.report
        .ids
        .get(address)
        .unwrap_or_else(|| panic!("no generated id for {address}"))
}

/// Every resource address of a fixture's document has a report entry.
fn every_resource_reported(i: &Imported, name: &str) {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let doc = super::doc::collect(name, &json).expect("collects");
    for r in &doc.resources {
        assert!(
            i.report.entries.iter().any(|e| e.resource == r.address),
            "{} has no report entry",
            r.address
        );
    }
}

#[test]
fn a_state_keeps_its_ids_and_reports_what_it_cannot_model() {
    let i = imported("state-small.json");
    let (_, c) = checked(&i);
    every_resource_reported(&i, "state-small.json");
    assert!(i.report.ids.is_empty(), "every id fits: {:?}", i.report.ids);
    assert_eq!(
        i.report.source,
        format!("terraform state {}", fixture("state-small.json").display())
    );
    assert_eq!(i.topology.vpcs[0].id, "vpc-0a1b2c3d4e5f60001");
    // The instance: its primary ENI keeps its id, its namespace is its Name tag.
    let web = eni(&i, "eni-0a1b2c3d4e5f60081");
    assert_eq!(web.netns.as_deref(), Some("web-server"));
    assert_eq!(
        web.public_ip.map(|p| p.to_string()).as_deref(),
        Some("203.0.113.25")
    );
    assert_eq!(
        web.security_groups.as_deref(),
        Some(
            &[
                "sg-0a1b2c3d4e5f60031".to_string(),
                "sg-0a1b2c3d4e5f60030".to_string()
            ][..]
        )
    );
    // …and carries the instance: its id, type and metadata options (`ami-0123` is not an
    // image id of AWS's form: the default image is used, and the report says so).
    assert_eq!(web.instance_id.as_deref(), Some("i-0a1b2c3d4e5f60071"));
    assert_eq!(web.instance_type.as_deref(), Some("t3.micro"));
    assert_eq!(web.image_id, None);
    assert!(has(&i, EntryKind::Skipped, "aws_instance.web", "ami-0123"));
    let m = web.metadata_options.expect("metadata options");
    assert!(m.tokens_required() && m.endpoint_enabled());
    assert_eq!(m.http_put_response_hop_limit, Some(2));
    let ci = c
        .enis
        .iter()
        .position(|e| e.id == web.id)
        .expect("compiled");
    assert_eq!(c.enis[ci].instance.id, "i-0a1b2c3d4e5f60071");
    assert_eq!(c.enis[ci].instance.metadata.hop_limit, 2);
    // Subnets keep a zone of the lab's region; another region's is defaulted.
    let az: Vec<Option<&str>> = i
        .topology
        .subnets
        .iter()
        .map(|s| s.availability_zone.as_deref())
        .collect();
    assert_eq!(az, [Some("us-east-1b"), None]);
    assert!(has(
        &i,
        EntryKind::Defaulted,
        "aws_subnet.private",
        "eu-west-1a"
    ));
    // The VPC's default group, named by id, is written out with AWS's defaults.
    let default = i
        .topology
        .security_groups
        .iter()
        .find(|g| g.default)
        .expect("default group");
    assert_eq!(default.id, "sg-0a1b2c3d4e5f60030");
    assert!(has(
        &i,
        EntryKind::Defaulted,
        "aws_vpc.main",
        "default security group"
    ));
    // The ENI: `private_ip` is the primary of the set `private_ips`; its Elastic IP.
    let db = eni(&i, "eni-0a1b2c3d4e5f60082");
    assert_eq!(
        (db.private_ip.to_string(), db.secondary_ips.len()),
        ("10.1.1.20".to_string(), 1)
    );
    assert_eq!(db.netns.as_deref(), Some("0a1b2c3d4e5f60082"));
    assert_eq!(
        i.topology.elastic_ips[0].eni.as_deref(),
        Some("eni-0a1b2c3d4e5f60082")
    );
    // A peering that is not in the document: kept, as AWS keeps it, a blackhole; a transit
    // gateway: a blackhole.
    let private = i
        .topology
        .route_tables
        .iter()
        .find(|r| r.id == "rtb-0a1b2c3d4e5f60052")
        .expect("table");
    assert_eq!(private.routes[0].target, "pcx-0a1b2c3d4e5f60099");
    assert_eq!(private.routes[0].state, crate::model::RouteState::Blackhole);
    assert_eq!(private.routes[1].target, "blackhole");
    // A virtual private gateway and a VPC endpoint: blackholes too.
    assert_eq!(
        (
            private.routes[2].target.as_str(),
            private.routes[3].target.as_str()
        ),
        ("blackhole", "blackhole")
    );
    let blackholed = entries(&i, EntryKind::Blackholed);
    assert_eq!(blackholed.len(), 4, "{blackholed:?}");
    assert!(
        blackholed[2].contains("vgw-0a1b2c3d4e5f60097") && blackholed[3].contains("vpce-"),
        "{blackholed:?}"
    );
    // Peers outside the document: their rules are left out, and said so.
    assert!(has(
        &i,
        EntryKind::Skipped,
        "aws_security_group.web",
        "pl-6da54004"
    ));
    assert!(has(
        &i,
        EntryKind::Skipped,
        "aws_security_group.db",
        "222233334444/sg-0ffff"
    ));
    let sg_web = i
        .topology
        .security_groups
        .iter()
        .find(|g| g.id == "sg-0a1b2c3d4e5f60031")
        .expect("web");
    assert_eq!(sg_web.inbound.len(), 3, "80, and 443 from two CIDRs");
    let sg_db = c
        .security_groups
        .iter()
        .find(|g| g.id == "sg-0a1b2c3d4e5f60032")
        .expect("db");
    assert!(
        sg_db.outbound.is_empty(),
        "Terraform removes AWS's default egress rule"
    );
}

#[test]
fn a_plan_with_modules_counts_and_every_resource_kind_imports() {
    let name = "plan-full.json";
    let i = imported(name);
    checked(&i);
    every_resource_reported(&i, name);
    assert!(i.report.source.starts_with("terraform plan "));
    let t = &i.topology;
    // Ids unknown until apply are generated from the addresses, stably.
    let main_vpc = id_of(&i, "aws_vpc.main");
    assert!(
        main_vpc.starts_with("vpc-") && main_vpc.len() == 16,
        "{main_vpc}"
    );
    assert_eq!(
        import(&fixture(name)).expect("imports").report.ids,
        i.report.ids
    );
    // module.net's subnets found their VPC through var.vpc_id; count instances are kept apart.
    let private = [
        id_of(&i, "module.net.aws_subnet.private[0]"),
        id_of(&i, "module.net.aws_subnet.private[1]"),
    ];
    for s in &t.subnets {
        if private.contains(&s.id.as_str()) {
            assert_eq!(s.vpc, main_vpc);
            assert_eq!(
                s.route_table.as_deref(),
                Some(id_of(&i, "module.net.aws_route_table.private"))
            );
        }
    }
    assert_eq!(
        t.vpcs[0].secondary_cidrs,
        vec!["10.21.0.0/16".parse::<ipnet::Ipv4Net>().expect("cidr")]
    );
    // count.index through a module output: app[n] in private[n], addresses chosen.
    for (n, subnet) in private.iter().enumerate() {
        let e = eni(&i, &format!("eni-app-{n}"));
        assert_eq!(e.subnet, *subnet);
        assert_eq!(e.netns.as_deref(), Some(format!("app-{n}").as_str()));
        assert!(has(
            &i,
            EntryKind::Defaulted,
            &format!("aws_instance.app[{n}]"),
            "the lowest free address"
        ));
    }
    assert_eq!(
        eni(&i, "eni-app-0").private_ip.to_string(),
        "10.20.10.6",
        "after the spare ENI's two"
    );
    // An ENI attached to an instance joins its namespace.
    let inside = eni(&i, id_of(&i, "aws_network_interface.appliance_inside"));
    assert_eq!(
        (inside.netns.as_deref(), inside.ifname.as_str()),
        (Some("appliance"), "eth1")
    );
    assert_eq!(
        inside.subnet, private[1],
        "module.net.private_subnet_ids[1]"
    );
    assert!(!eni(&i, "eni-appliance").source_dest_check);
    // Routes: to the NAT gateway, the internet gateway, the peering (both ways), an ENI;
    // to a transit gateway, inline and standalone: blackholes.
    let routes = |address: &str| {
        let id = id_of(&i, address);
        let r = t
            .route_tables
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{address}"));
        r.routes
            .iter()
            .map(|x| (x.destination.to_string(), x.target.clone()))
            .collect::<Vec<_>>()
    };
    let (nat, igw, pcx) = (
        id_of(&i, "module.net.aws_nat_gateway.main"),
        id_of(&i, "aws_internet_gateway.main"),
        id_of(&i, "aws_vpc_peering_connection.main_peer"),
    );
    assert_eq!(
        routes("module.net.aws_route_table.private"),
        vec![("0.0.0.0/0".into(), nat.to_string())]
    );
    assert_eq!(
        routes("aws_route_table.public"),
        vec![
            ("0.0.0.0/0".into(), igw.to_string()),
            ("10.30.0.0/16".into(), pcx.to_string()),
            ("172.16.0.0/12".into(), "blackhole".to_string()),
        ]
    );
    assert_eq!(
        routes("aws_route_table.main"),
        vec![
            ("10.99.0.0/16".into(), "eni-appliance".to_string()),
            ("192.168.0.0/16".into(), "blackhole".to_string())
        ]
    );
    assert_eq!(
        routes("aws_default_route_table.peer"),
        vec![
            ("10.20.0.0/16".into(), pcx.to_string()),
            ("10.21.0.0/16".into(), pcx.to_string())
        ]
    );
    let main_tables: Vec<_> = t
        .route_tables
        .iter()
        .filter(|r| r.main)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        main_tables,
        vec![
            id_of(&i, "aws_route_table.main"),
            id_of(&i, "aws_default_route_table.peer")
        ]
    );
    let blackholed = entries(&i, EntryKind::Blackholed);
    assert_eq!(blackholed.len(), 2, "{blackholed:?}");
    assert!(
        blackholed.iter().all(|e| e.contains("transit_gateway_id")),
        "{blackholed:?}"
    );
    // What cannot be modelled is skipped, and said so.
    for (address, text) in [
        ("aws_ec2_transit_gateway.tgw", "transit gateways"),
        ("aws_vpc_endpoint.s3", "VPC endpoints"),
        ("random_id.suffix", "not an AWS resource"),
        ("data.aws_availability_zones.available", "data source"),
        ("aws_instance.old", "deleted by this plan"),
    ] {
        assert!(
            has(&i, EntryKind::Skipped, address, text),
            "{address}: {:?}",
            entries(&i, EntryKind::Skipped)
        );
    }
    assert_eq!(
        entries(&i, EntryKind::Skipped).len(),
        5,
        "{:?}",
        entries(&i, EntryKind::Skipped)
    );
    // Security groups: an inline rule's unknown group and prefix list, standalone rules of
    // each kind, a rule on the VPC's default group.
    let group = |address: &str| {
        let id = id_of(&i, address);
        t.security_groups
            .iter()
            .find(|g| g.id == id)
            .unwrap_or_else(|| panic!("{address}"))
    };
    let (bastion, app, web, admins) = (
        id_of(&i, "aws_security_group.bastion"),
        id_of(&i, "aws_security_group.app"),
        id_of(&i, "aws_security_group.web"),
        id_of(&i, "aws_ec2_managed_prefix_list.admins"),
    );
    let peers = |rules: &[crate::model::SgRuleSpec]| {
        rules
            .iter()
            .map(|r| r.peer().map(ToString::to_string).unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        peers(&group("aws_security_group.app").inbound),
        vec![bastion, "10.20.0.0/16", app]
    );
    assert_eq!(
        peers(&group("aws_security_group.bastion").inbound),
        vec!["198.51.100.0/24", admins]
    );
    assert_eq!(
        peers(
            group("aws_security_group.bastion")
                .outbound
                .as_deref()
                .unwrap_or_default()
        ),
        vec!["0.0.0.0/0"]
    );
    assert_eq!(
        peers(&group("aws_security_group.web").inbound),
        vec!["0.0.0.0/0", app]
    );
    assert_eq!(
        peers(
            group("aws_security_group.web")
                .outbound
                .as_deref()
                .unwrap_or_default()
        ),
        vec![admins]
    );
    let default = t
        .security_groups
        .iter()
        .find(|g| g.default && g.vpc == main_vpc)
        .expect("default group");
    assert_eq!(
        peers(&default.inbound),
        vec![default.id.as_str(), "10.30.0.0/16"]
    );
    assert_eq!(
        eni(&i, "eni-appliance").security_groups,
        None,
        "no groups: the VPC's default"
    );
    let _ = web;
    // Network ACLs: inline and standalone rules; the subnets from a module output.
    let acl = t
        .network_acls
        .iter()
        .find(|a| a.id == id_of(&i, "aws_network_acl.private"))
        .expect("acl");
    let mut numbers: Vec<i64> = acl.inbound.iter().map(|r| r.rule).collect();
    numbers.sort();
    assert_eq!(numbers, vec![90, 100, 110, 120]);
    assert_eq!(acl.subnets, private.map(str::to_string).to_vec());
    assert!(t
        .network_acls
        .iter()
        .any(|a| a.default && a.id == id_of(&i, "aws_default_network_acl.peer")));
    // Gateways and addresses: the Elastic IP replaces the bastion's public IP; the web
    // instance's and the Elastic IPs' addresses are chosen (in document order: the root
    // module first); an Elastic IP on an ENI's secondary address.
    assert_eq!(eni(&i, "eni-bastion").public_ip, None);
    let eips: Vec<_> = t
        .elastic_ips
        .iter()
        .map(|e| {
            let private = e.private_ip.map(|p| p.to_string());
            (e.public_ip.to_string(), e.eni.as_deref(), private)
        })
        .collect();
    let inside = id_of(&i, "aws_network_interface.appliance_inside");
    assert_eq!(
        eips,
        vec![
            ("198.51.100.77".to_string(), Some("eni-bastion"), None),
            (
                "192.0.2.2".to_string(),
                Some(inside),
                Some("10.20.11.6".to_string())
            ),
            ("192.0.2.3".to_string(), None, None),
        ]
    );
    assert_eq!(
        eni(&i, "eni-web")
            .public_ip
            .map(|p| p.to_string())
            .as_deref(),
        Some("192.0.2.1")
    );
    assert!(has(
        &i,
        EntryKind::Defaulted,
        "aws_instance.web",
        "192.0.2.1"
    ));
    assert_eq!(
        t.nat_gateways[0].allocation_id.as_deref(),
        Some(id_of(&i, "module.net.aws_eip.nat"))
    );
    assert!(has(
        &i,
        EntryKind::Defaulted,
        "module.net.aws_nat_gateway.main",
        "highest free address"
    ));
    assert_eq!(
        t.peering_connections[0].status,
        crate::model::PeeringStatus::Active,
        "auto_accept"
    );
}

#[test]
fn demo_round_trips_through_a_terraform_state() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.toml");
    let text = std::fs::read_to_string(path).expect("examples/demo.toml");
    let mut demo = crate::validate::parse(&text).expect("parses");
    // Internet hosts are a test fixture that Terraform does not describe.
    demo.internet_hosts.clear();
    demo.internet = None;
    crate::validate::validate(&mut demo).expect("the demo validates");
    let expected = crate::compile::compile(&demo).expect("compiles");
    let state = serde_json::to_string_pretty(&export::state(&demo)).expect("serialises");
    let i = match import_str("demo-state.json", &state) {
        Ok(i) => i,
        Err(e) => panic!(
            "{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let (_, got) = checked(&i);
    assert!(
        i.report.ids.is_empty(),
        "every id is kept: {:?}",
        i.report.ids
    );
    assert_same_tables(&expected, &got);
    let expected_tables = tables(&expected);
    let kinds: std::collections::BTreeMap<&str, usize> =
        expected_tables.keys().fold(Default::default(), |mut m, k| {
            *m.entry(k.split(' ').next().unwrap_or_default())
                .or_default() += 1;
            m
        });
    let want = [
        ("eni", 6),
        ("internet_gateway", 1),
        ("nat_gateway", 1),
        ("network_acl", 3),
        ("peering", 1),
        ("route_table", 4),
        ("security_group", 6),
        ("subnet", 5),
        ("vpc", 2),
    ];
    assert_eq!(kinds, want.into_iter().collect(), "every kind is compared");
    // The comparison sees a changed rule.
    let mut changed = i.topology.clone();
    if let Some(r) = changed
        .security_groups
        .iter_mut()
        .find(|g| g.id == "sg-web")
        .and_then(|g| g.inbound.first_mut())
    {
        r.ports = Some(crate::model::PortSpec { from: 81, to: 81 });
    }
    crate::validate::validate(&mut changed).expect("validates");
    let changed = crate::compile::compile(&changed).expect("compiles");
    assert_ne!(tables(&changed), tables(&expected));
    // The explicit blackhole went out as a transit gateway and came back a blackhole.
    assert_eq!(
        entries(&i, EntryKind::Blackholed).len(),
        1,
        "{:?}",
        entries(&i, EntryKind::Blackholed)
    );
    assert!(
        i.report.of(EntryKind::Skipped).next().is_none(),
        "{:?}",
        entries(&i, EntryKind::Skipped)
    );
}

#[test]
fn for_each_attachments_associations_and_prefix_lists_import() {
    let name = "plan-more.json";
    let i = imported(name);
    checked(&i);
    every_resource_reported(&i, name);
    let t = &i.topology;
    // for_each: each.value of the ENIs names the subnet with the same key.
    let (sa, sb) = (
        id_of(&i, "aws_subnet.s[\"a\"]"),
        id_of(&i, "aws_subnet.s[\"b\"]"),
    );
    let (na, nb) = (
        id_of(&i, "aws_network_interface.n[\"a\"]"),
        id_of(&i, "aws_network_interface.n[\"b\"]"),
    );
    assert_eq!(eni(&i, na).subnet, sa);
    assert_eq!(eni(&i, nb).subnet, sb);
    // An existing ENI as an instance's device 0: in the instance's namespace.
    assert_eq!(eni(&i, nb).netns.as_deref(), Some("box"));
    assert_eq!(eni(&i, na).netns.as_deref(), Some(&na["eni-".len()..]));
    // An attached internet gateway; an associated Elastic IP.
    assert_eq!(t.internet_gateways[0].vpc, "vpc-0a5a5a5a5a5a5a5a5");
    assert_eq!(t.elastic_ips[0].eni.as_deref(), Some(na));
    // A standalone entry of a prefix list; a route to it, one per entry; a data source.
    let partners = t
        .prefix_lists
        .iter()
        .find(|p| p.id == "pl-0p5p5p5p5p5p5p5p5")
        .expect("list");
    assert_eq!(
        partners.entries,
        vec!["198.51.100.0/24".parse::<ipnet::IpNet>().expect("cidr")]
    );
    let table = t
        .route_tables
        .iter()
        .find(|r| r.id == id_of(&i, "aws_route_table.t"))
        .expect("table");
    assert_eq!(table.routes[0].destination.to_string(), "198.51.100.0/24");
    let s3 = t
        .prefix_lists
        .iter()
        .find(|p| p.id == "pl-6da54004")
        .expect("data source");
    assert_eq!(s3.max_entries, None);
    let sg = t
        .security_groups
        .iter()
        .find(|g| g.id == id_of(&i, "aws_security_group.sg"))
        .expect("sg");
    assert_eq!(
        sg.outbound
            .as_ref()
            .map(|o| o[0].peer().map(ToString::to_string)),
        Some(Some("pl-6da54004".into()))
    );
    // A NACL association moves the subnet; a rule on the VPC's default NACL makes it explicit.
    let acl = t
        .network_acls
        .iter()
        .find(|a| a.id == id_of(&i, "aws_network_acl.acl"))
        .expect("acl");
    assert_eq!(acl.subnets, vec![sb.to_string()]);
    let default = t
        .network_acls
        .iter()
        .find(|a| a.default)
        .expect("default acl");
    assert_eq!(default.id, "acl-0d5d5d5d5d5d5d5d5");
    assert_eq!(
        default.outbound.iter().map(|r| r.rule).collect::<Vec<_>>(),
        vec![100, 50]
    );
    // A peering with a VPC of another account: left out, its route a blackhole on the
    // VPC's main table (named through `main_route_table_id`).
    assert!(has(
        &i,
        EntryKind::Skipped,
        "aws_vpc_peering_connection.partner",
        "vpc-0f0f0f0f0f0f0f0f0"
    ));
    assert!(t.peering_connections.is_empty());
    let main = t.route_tables.iter().find(|r| r.main).expect("main table");
    assert_eq!(
        (main.id.as_str(), main.routes[0].target.as_str()),
        ("rtb-0d5d5d5d5d5d5d5d5", "blackhole")
    );
    assert!(has(
        &i,
        EntryKind::Blackholed,
        "aws_route.to_partner",
        "not imported"
    ));
    // A private NAT gateway's secondary addresses, unknown until apply: the highest free.
    let nat = &t.nat_gateways[0];
    assert_eq!(nat.connectivity, crate::model::NatConnectivity::Private);
    assert_eq!(
        nat.secondary_private_ips
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["10.5.1.254", "10.5.1.253"]
    );
}

#[test]
fn what_depends_on_something_left_out_is_left_out_and_outside_eips_are_added() {
    let r = |t: &str, n: &str, v: serde_json::Value| serde_json::json!({"address": format!("{t}.{n}"), "mode": "managed", "type": t, "name": n, "values": v});
    let text = state(serde_json::json!([
        r(
            "aws_vpc",
            "v",
            serde_json::json!({"id": "vpc-01", "cidr_block": "10.9.0.0/16"})
        ),
        r(
            "aws_subnet",
            "s",
            serde_json::json!({"id": "subnet-01", "vpc_id": "vpc-01", "cidr_block": "10.9.1.0/24"})
        ),
        // A group of the account's default VPC, and what refers to it.
        r(
            "aws_security_group",
            "classic",
            serde_json::json!({"id": "sg-0classic", "name": "classic", "ingress": []})
        ),
        r(
            "aws_security_group_rule",
            "r",
            serde_json::json!({"type": "ingress", "security_group_id": "sg-0classic",
            "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]})
        ),
        r(
            "aws_instance",
            "x",
            serde_json::json!({"id": "i-01", "subnet_id": "subnet-01", "private_ip": "10.9.1.10",
            "vpc_security_group_ids": ["sg-0classic"], "tags": {"Name": "01"}})
        ),
        // A standalone ENI whose namespace would be the instance's.
        r(
            "aws_network_interface",
            "e",
            serde_json::json!({"id": "eni-01", "subnet_id": "subnet-01",
            "private_ip": "10.9.1.11", "private_ips": ["10.9.1.11"]})
        ),
        // A NAT gateway whose Elastic IP the document does not manage.
        r(
            "aws_internet_gateway",
            "g",
            serde_json::json!({"id": "igw-01", "vpc_id": "vpc-01"})
        ),
        r(
            "aws_nat_gateway",
            "n",
            serde_json::json!({"id": "nat-01", "subnet_id": "subnet-01",
            "connectivity_type": "public", "allocation_id": "eipalloc-0elsewhere", "public_ip": "203.0.113.77",
            "private_ip": "10.9.1.100", "network_interface_id": "eni-0natnat"})
        ),
    ]));
    let i = import_str("t.json", &text).unwrap_or_else(|e| panic!("{e:?}"));
    checked(&i);
    assert!(has(
        &i,
        EntryKind::Skipped,
        "aws_security_group.classic",
        "default VPC"
    ));
    assert!(has(
        &i,
        EntryKind::Skipped,
        "aws_security_group_rule.r",
        "aws_security_group.classic is left out"
    ));
    assert!(has(
        &i,
        EntryKind::Skipped,
        "aws_instance.x",
        "aws_security_group.classic is left out"
    ));
    assert_eq!(eni(&i, "eni-01").netns.as_deref(), Some("01-eni"));
    // `eni-01` (from the Name tag) is taken: the instance's ENI gets a generated id.
    let x = id_of(&i, "aws_instance.x.primary_network_interface_id");
    assert!(x.starts_with("eni-") && x.len() == 16, "{x}");
    assert_eq!(eni(&i, x).netns.as_deref(), Some("01"));
    let eip = &i.topology.elastic_ips[0];
    assert_eq!(
        (eip.id.as_str(), eip.public_ip.to_string()),
        ("eipalloc-0elsewhere", "203.0.113.77".to_string())
    );
    assert!(has(
        &i,
        EntryKind::Defaulted,
        "aws_nat_gateway.n",
        "does not manage"
    ));
    assert_eq!(
        i.topology.nat_gateways[0].network_interface_id.as_deref(),
        Some("eni-0natnat")
    );
}

#[test]
fn references_follow_variables_and_outputs_through_nested_and_counted_modules() {
    use serde_json::json;
    let res = |address: &str, t: &str, n: &str, v: serde_json::Value| json!({"address": address, "mode": "managed", "type": t, "name": n, "values": v});
    let change = |address: &str, unknown: serde_json::Value| json!({"address": address, "change": {"actions": ["create"], "after_unknown": unknown}});
    let refs = |r: &[&str]| json!({ "references": r });
    let subnet_cfg = json!({"address": "aws_subnet.s", "mode": "managed", "type": "aws_subnet", "name": "s",
        "expressions": {"vpc_id": refs(&["var.vpc"])}});
    let plan = json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {
            "resources": [
                res("aws_vpc.main", "aws_vpc", "main", json!({"cidr_block": "10.7.0.0/16"})),
                res("aws_route_table.r", "aws_route_table", "r", json!({})),
            ],
            "child_modules": [
                {"address": "module.a", "child_modules": [{"address": "module.a.module.b", "resources": [
                    res("module.a.module.b.aws_subnet.s", "aws_subnet", "s", json!({"cidr_block": "10.7.1.0/24"})),
                ]}]},
                {"address": "module.c[0]", "resources": [
                    res("module.c[0].aws_subnet.s", "aws_subnet", "s", json!({"cidr_block": "10.7.2.0/24"})),
                ]},
                {"address": "module.c[1]", "resources": [
                    res("module.c[1].aws_subnet.s", "aws_subnet", "s", json!({"cidr_block": "10.7.3.0/24"})),
                ]},
            ],
        }},
        "resource_changes": [
            change("aws_vpc.main", json!({"id": true})),
            change("aws_route_table.r", json!({"id": true, "vpc_id": true, "route": true})),
            change("module.a.module.b.aws_subnet.s", json!({"id": true, "vpc_id": true})),
            change("module.c[0].aws_subnet.s", json!({"id": true, "vpc_id": true})),
            change("module.c[1].aws_subnet.s", json!({"id": true, "vpc_id": true})),
        ],
        "configuration": {"root_module": {
            "resources": [
                {"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
                 "expressions": {"cidr_block": {"constant_value": "10.7.0.0/16"}}},
                {"address": "aws_route_table.r", "mode": "managed", "type": "aws_route_table", "name": "r",
                 "expressions": {"vpc_id": refs(&["module.a.vpc", "module.a"])}},
            ],
            "module_calls": {
                "a": {"expressions": {"vpc_id": refs(&["aws_vpc.main.id", "aws_vpc.main"])}, "module": {
                    "outputs": {"vpc": {"expression": refs(&["module.b.vpc", "module.b"])}},
                    "module_calls": {"b": {"expressions": {"vpc": refs(&["var.vpc_id"])}, "module": {
                        "outputs": {"vpc": {"expression": refs(&["var.vpc"])}},
                        "resources": [subnet_cfg.clone()],
                    }}},
                }},
                "c": {"count_expression": {"constant_value": 2},
                      "expressions": {"vpc": refs(&["aws_vpc.main.id", "aws_vpc.main"])},
                      "module": {"resources": [subnet_cfg]}},
            },
        }},
    });
    let i = import_str("nested.json", &plan.to_string()).unwrap_or_else(|e| panic!("{e:?}"));
    checked(&i);
    let vpc = id_of(&i, "aws_vpc.main");
    for s in &i.topology.subnets {
        assert_eq!(s.vpc, vpc, "{}", s.id);
    }
    assert_eq!(i.topology.subnets.len(), 3);
    assert_eq!(
        i.topology.route_tables[0].vpc, vpc,
        "through two outputs and two variables"
    );
}

#[test]
fn inline_rules_whose_groups_cannot_be_told_apart_are_reported() {
    use serde_json::json;
    // Two inline rules, each naming a group unknown until apply; the configuration
    // names two groups for the whole `ingress`, so which is which cannot be told.
    let rule = |port: u16| {
        json!({"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": [],
               "security_groups": null, "self": false})
    };
    let sg = |name: &str, ingress: serde_json::Value| {
        json!({"address": format!("aws_security_group.{name}"), "mode": "managed",
               "type": "aws_security_group", "name": name,
               "values": {"vpc_id": "vpc-01", "name": name, "ingress": ingress, "egress": []}})
    };
    let change = |name: &str, unknown: serde_json::Value| {
        json!({"address": format!("aws_security_group.{name}"),
               "change": {"actions": ["create"], "after_unknown": unknown}})
    };
    let cfg = |name: &str, refs: &[&str]| {
        json!({"address": format!("aws_security_group.{name}"), "mode": "managed",
               "type": "aws_security_group", "name": name,
               "expressions": {"vpc_id": {"constant_value": "vpc-01"}, "ingress": {"references": refs}}})
    };
    let plan = json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_vpc.v", "mode": "managed", "type": "aws_vpc", "name": "v",
             "values": {"id": "vpc-01", "cidr_block": "10.9.0.0/16"}},
            sg("a", json!([])), sg("b", json!([])),
            sg("two", json!([rule(80), rule(443)])),
            sg("one", json!([rule(80), rule(443)])),
        ]}},
        "resource_changes": [
            change("a", json!({"id": true})), change("b", json!({"id": true})),
            change("two", json!({"id": true, "ingress": [{"security_groups": true}, {"security_groups": true}]})),
            change("one", json!({"id": true, "ingress": [{"security_groups": true}, {"security_groups": true}]})),
        ],
        "configuration": {"root_module": {"resources": [
            cfg("a", &[]), cfg("b", &[]),
            cfg("two", &["aws_security_group.a.id", "aws_security_group.a", "aws_security_group.b.id", "aws_security_group.b"]),
            cfg("one", &["aws_security_group.a.id", "aws_security_group.a"]),
        ]}},
    });
    let i = import_str("sg.json", &plan.to_string()).unwrap_or_else(|e| panic!("{e:?}"));
    checked(&i);
    let group = |address: &str| {
        let id = id_of(&i, address);
        i.topology
            .security_groups
            .iter()
            .find(|g| g.id == id)
            .expect("group")
    };
    assert!(group("aws_security_group.two").inbound.is_empty());
    let skipped = entries(&i, EntryKind::Skipped);
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped[0].starts_with("aws_security_group.two.ingress[0].security_groups: "),
        "{skipped:?}"
    );
    assert!(skipped[0].contains("cannot tell which rule"), "{skipped:?}");
    // One group named: every rule whose group is unknown names it.
    let a = id_of(&i, "aws_security_group.a");
    let peers: Vec<_> = group("aws_security_group.one")
        .inbound
        .iter()
        .map(|r| r.peer().map(ToString::to_string))
        .collect();
    assert_eq!(peers, vec![Some(a.to_string()), Some(a.to_string())]);
}

#[test]
#[ignore = "prints a fixture's import, for a look"]
fn print_import() {
    let name = std::env::var("TF_FIXTURE").unwrap_or_else(|_| "three-tier-plan.json".into());
    let i = imported(&name);
    println!(
        "{}",
        super::super::write::toml(&i.topology, &i.report).expect("renders")
    );
}
