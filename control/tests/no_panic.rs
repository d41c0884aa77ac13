//! No renderer may panic on what validation accepted (VPC-13): random topologies, mostly
//! valid (counts of VPCs, subnets, route tables and routes, ENIs, security groups and
//! rules, network ACLs; ids up to the 64-character limit; names and descriptions of
//! unicode, empty, up to 255 characters, with TOML's awkward characters), some not (ids
//! and names over the limits), go through parse → validate → compile; those that validate
//! are built into tables, run by a data plane with in-memory ports, reported and traced,
//! and every renderer of `vpcctl validate`, `show`, `stats` and `trace` (text and JSON)
//! renders them. Nothing may panic. 64 cases by default (`PROPTEST_CASES` for more).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use dataplane::observe::trace::{TraceProtocol, TraceSpec};
use proptest::prelude::*;

/// Characters an id may hold after its prefix.
const ID_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// A name or description: empty, short unicode, awkward for TOML, or long (up to the
/// limit).
fn text() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(String::new())),
        3 => "\\PC{0,40}".prop_map(Some),
        1 => Just(Some("quote \" backslash \\ dollar ${x} tab-less ' é 日本 🦀 \u{200b}".to_string())),
        1 => (1usize..=255).prop_map(|n| Some("é".repeat(n))),
        1 => Just(Some("x".repeat(255))),
    ]
    .boxed()
}

/// An id: `prefix`, then `seq` (unique per file), then a random tail; its total length is
/// up to 64 characters, sometimes exactly 64.
fn id(prefix: &'static str, seq: usize) -> BoxedStrategy<String> {
    let head = format!("{prefix}{seq}-");
    let room = 64usize.saturating_sub(head.len());
    prop_oneof![
        8 => proptest::collection::vec(proptest::sample::select(ID_CHARS), 0..=room),
        2 => Just(vec![b'z'; room]),
    ]
    .prop_map(move |tail| format!("{head}{}", String::from_utf8(tail).expect("ASCII")))
    .boxed()
}

/// A TOML string literal.
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// `name = "…"` (or nothing), for a table.
fn name_line(out: &mut String, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        let _ = writeln!(out, "{key} = {}", q(v));
    }
}

#[derive(Debug, Clone)]
struct Rule {
    proto: u8,
    port: u16,
    peer: u8,
    desc: Option<String>,
}

#[derive(Debug, Clone)]
struct Eni {
    id: String,
    name: Option<String>,
    attached: bool,
    groups: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Subnet {
    id: String,
    name: Option<String>,
    table: Option<usize>,
    enis: Vec<Eni>,
}

#[derive(Debug, Clone)]
struct Route {
    dest: (u8, u8),
    target: u8,
    deleted: String,
}

#[derive(Debug, Clone)]
struct Table {
    id: String,
    name: Option<String>,
    routes: Vec<Route>,
}

#[derive(Debug, Clone)]
struct Group {
    id: String,
    name: Option<String>,
    desc: Option<String>,
    inbound: Vec<Rule>,
    outbound: Option<Vec<Rule>>,
}

#[derive(Debug, Clone)]
struct Vpc {
    id: String,
    name: Option<String>,
    subnets: Vec<Subnet>,
    tables: Vec<Table>,
    groups: Vec<Group>,
    acl: Option<(String, Option<String>, Vec<Rule>)>,
}

fn rule() -> impl Strategy<Value = Rule> {
    (0u8..4, 1u16..=65535, any::<u8>(), text()).prop_map(|(proto, port, peer, desc)| Rule {
        proto,
        port,
        peer,
        desc,
    })
}

fn eni(seq: usize) -> impl Strategy<Value = Eni> {
    (
        id("eni-", seq),
        text(),
        any::<bool>(),
        proptest::collection::vec(0usize..4, 0..3),
    )
        .prop_map(|(id, name, attached, groups)| Eni {
            id,
            name,
            attached,
            groups,
        })
}

fn vpc(v: usize) -> impl Strategy<Value = Vpc> {
    let subnets = proptest::collection::vec(0usize..4, 0..4).prop_flat_map(move |sizes| {
        sizes
            .into_iter()
            .enumerate()
            .map(|(s, n)| {
                let seq = v * 10 + s;
                (
                    id("subnet-", seq),
                    text(),
                    proptest::option::of(0usize..3),
                    (0..n).map(|e| eni(seq * 10 + e)).collect::<Vec<_>>(),
                )
                    .prop_map(|(id, name, table, enis)| Subnet {
                        id,
                        name,
                        table,
                        enis,
                    })
            })
            .collect::<Vec<_>>()
    });
    let tables =
        (0usize..=3).prop_flat_map(move |n| (0..n).map(|t| table(v, t)).collect::<Vec<_>>());
    let groups =
        (1usize..=4).prop_flat_map(move |n| (0..n).map(|g| group(v, g)).collect::<Vec<_>>());
    let acl = proptest::option::of((
        id("acl-", v),
        text(),
        proptest::collection::vec(rule(), 0..6),
    ));
    (id("vpc-", v), text(), subnets, tables, groups, acl).prop_map(
        |(id, name, subnets, tables, groups, acl)| Vpc {
            id,
            name,
            subnets,
            tables,
            groups,
            acl,
        },
    )
}

fn table(v: usize, t: usize) -> BoxedStrategy<Table> {
    let route = ((0u8..4, 0u8..=32), any::<u8>(), id("eni-gone", v * 10 + t)).prop_map(
        |(dest, target, deleted)| Route {
            dest,
            target,
            deleted,
        },
    );
    (
        id("rtb-", v * 10 + t),
        text(),
        proptest::collection::vec(route, 0..5),
    )
        .prop_map(|(id, name, routes)| Table { id, name, routes })
        .boxed()
}

fn group(v: usize, g: usize) -> BoxedStrategy<Group> {
    (
        id("sg-", v * 10 + g),
        text(),
        text(),
        proptest::collection::vec(rule(), 0..6),
        proptest::option::of(proptest::collection::vec(rule(), 0..4)),
    )
        .prop_map(|(id, name, desc, inbound, outbound)| Group {
            id,
            name,
            desc,
            inbound,
            outbound,
        })
        .boxed()
}

fn topology() -> impl Strategy<Value = Vec<Vpc>> {
    (1usize..=3).prop_flat_map(|n| (0..n).map(vpc).collect::<Vec<_>>())
}

/// A rule's protocol and port fields, and its peer (`sg` = the groups of its VPC).
fn rule_fields(r: &Rule, v: usize, groups: &[Group], peer_key: &str) -> String {
    let proto = match r.proto {
        0 => format!("protocol = \"tcp\", ports = \"{}\"", r.port),
        1 => format!("protocol = \"udp\", ports = \"{}-65535\"", r.port),
        2 => "protocol = \"icmp\"".to_string(),
        _ => "protocol = \"-1\"".to_string(),
    };
    let peer = match (r.peer % 3, groups.is_empty(), peer_key) {
        (0, false, "source" | "destination") => {
            groups[usize::from(r.peer) % groups.len()].id.clone()
        }
        (1, _, _) => format!("10.{v}.0.0/16"),
        _ => format!("{}.0.0.0/{}", r.peer % 224, 8),
    };
    let peer = if peer_key == "cidr" && peer.starts_with("sg-") {
        "0.0.0.0/0".to_string()
    } else {
        peer
    };
    format!("{proto}, {peer_key} = {}", q(&peer))
}

/// The topology file of `vpcs`.
fn render_toml(vpcs: &[Vpc]) -> String {
    let mut out = String::new();
    for (v, vpc) in vpcs.iter().enumerate() {
        let _ = writeln!(
            out,
            "[[vpc]]\nid = {}\ncidr = \"10.{v}.0.0/16\"",
            q(&vpc.id)
        );
        name_line(&mut out, "name", &vpc.name);
        for t in &vpc.tables {
            let _ = writeln!(
                out,
                "[[route_table]]\nid = {}\nvpc = {}",
                q(&t.id),
                q(&vpc.id)
            );
            name_line(&mut out, "name", &t.name);
            let routes: Vec<String> = t
                .routes
                .iter()
                .enumerate()
                .map(|(j, r)| {
                    let enis: Vec<&Eni> = vpc.subnets.iter().flat_map(|s| &s.enis).collect();
                    // Distinct per route: a default route, or 172.(16+j).(x).0/16..=24.
                    let dest = if j == 0 && r.dest.0 == 0 {
                        "0.0.0.0/0".to_string()
                    } else {
                        let len = r.dest.1.clamp(16, 24);
                        let third = if len > 16 { r.dest.0 } else { 0 };
                        format!("172.{}.{third}.0/{len}", 16 + j)
                    };
                    let (target, state) = match r.target % 3 {
                        0 => ("blackhole".to_string(), ""),
                        1 if !enis.is_empty() => {
                            (enis[usize::from(r.target) % enis.len()].id.clone(), "")
                        }
                        _ => (r.deleted.clone(), ", state = \"blackhole\""),
                    };
                    format!(
                        "{{ destination = {}, target = {}{state} }}",
                        q(&dest),
                        q(&target)
                    )
                })
                .collect();
            let _ = writeln!(out, "routes = [{}]", routes.join(", "));
        }
        for (s, sn) in vpc.subnets.iter().enumerate() {
            let _ = writeln!(
                out,
                "[[subnet]]\nid = {}\nvpc = {}\ncidr = \"10.{v}.{s}.0/24\"",
                q(&sn.id),
                q(&vpc.id)
            );
            name_line(&mut out, "name", &sn.name);
            if let Some(t) = sn.table.and_then(|t| vpc.tables.get(t)) {
                let _ = writeln!(out, "route_table = {}", q(&t.id));
            }
            for (e, en) in sn.enis.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "[[eni]]\nid = {}\nsubnet = {}\nprivate_ip = \"10.{v}.{s}.{}\"",
                    q(&en.id),
                    q(&sn.id),
                    10 + e
                );
                name_line(&mut out, "name", &en.name);
                if en.attached {
                    let _ = writeln!(out, "netns = \"ns{v}-{s}-{e}\"");
                }
                let mut groups: Vec<String> = en
                    .groups
                    .iter()
                    .filter_map(|g| vpc.groups.get(*g))
                    .map(|g| q(&g.id))
                    .collect();
                groups.dedup();
                if !groups.is_empty() {
                    let _ = writeln!(out, "security_groups = [{}]", groups.join(", "));
                }
            }
        }
        for (g, grp) in vpc.groups.iter().enumerate() {
            let _ = writeln!(
                out,
                "[[security_group]]\nid = {}\nvpc = {}",
                q(&grp.id),
                q(&vpc.id)
            );
            if g == 0 {
                let _ = writeln!(out, "default = true");
            }
            name_line(&mut out, "name", &grp.name);
            name_line(&mut out, "description", &grp.desc);
            let rules = |rules: &[Rule], key: &str| -> String {
                rules
                    .iter()
                    .map(|r| {
                        let mut s = rule_fields(r, v, &vpc.groups, key);
                        if let Some(d) = &r.desc {
                            let _ = write!(s, ", description = {}", q(d));
                        }
                        format!("{{ {s} }}")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(out, "inbound = [{}]", rules(&grp.inbound, "source"));
            if let Some(o) = &grp.outbound {
                let _ = writeln!(out, "outbound = [{}]", rules(o, "destination"));
            }
        }
        if let Some((id, name, rules)) = &vpc.acl {
            let _ = writeln!(out, "[[network_acl]]\nid = {}\nvpc = {}", q(id), q(&vpc.id));
            name_line(&mut out, "name", name);
            let subnets: Vec<String> = vpc.subnets.iter().map(|s| q(&s.id)).collect();
            let _ = writeln!(out, "subnets = [{}]", subnets.join(", "));
            for dir in ["inbound", "outbound"] {
                let entries: Vec<String> = rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let action = if r.peer % 2 == 0 { "allow" } else { "deny" };
                        format!(
                            "{{ rule = {}, action = \"{action}\", {} }}",
                            100 + i,
                            rule_fields(r, v, &[], "cidr")
                        )
                    })
                    .collect();
                let _ = writeln!(out, "{dir} = [{}]", entries.join(", "));
            }
        }
    }
    out
}

/// Every renderer of `vpcctl show`, `stats` and `trace` (text and JSON) on `config`.
fn render_everything(config: dataplane::vpc::config::DataplaneConfig, dst: Ipv4Addr) {
    let tables = dataplane::vpc::tables::Tables::build(config.clone()).expect("tables build");
    drop(tables);
    let dp = dataplane::fixtures::mem_dataplane(config.clone(), 1024, false).expect("data plane");
    let report = dp.report(|_| None);
    let _ = control::render::show(&report);
    let _ = control::render::summary(&report.config);
    let _ = serde_json::to_string_pretty(&report).expect("report JSON");
    let _ = dataplane::observe::metrics::render_samples(&report, None);
    for e in &report.enis {
        let _ = dataplane::observe::metrics::render_samples(&report, Some(&e.id));
        let _ = serde_json::to_value(e).expect("ENI JSON");
    }
    for (i, e) in config.enis.iter().enumerate() {
        let spec = TraceSpec {
            from: e.id.clone(),
            src: None,
            dst: IpAddr::V4(dst),
            protocol: [TraceProtocol::Tcp, TraceProtocol::Udp, TraceProtocol::Icmp][i % 3],
            src_port: None,
            dst_port: Some(443),
            icmp_type: None,
            icmp_code: None,
            tcp_flags: None,
            return_path: true,
        };
        if let Ok(t) = dp.trace(&spec) {
            let _ = t.to_string();
            let _ = serde_json::to_string(&t).expect("trace JSON");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn nothing_that_validates_makes_a_renderer_panic(
        mut vpcs in topology(),
        dst in any::<[u8; 4]>(),
        poison in 0u8..16,
    ) {
        // One case in four is hostile: an id or a name over its limit, or a control
        // character in a name. Validation must refuse it (and report it without panicking).
        let hostile = poison < 4;
        let v = &mut vpcs[0];
        match poison {
            0 => v.id = format!("vpc-{}", "w".repeat(100_000)),
            1 => v.name = Some("y".repeat(256)),
            2 => v.name = Some("line\nbreak".into()),
            3 => v.groups[0].id = format!("sg-{}", "w".repeat(70_000)),
            _ => {}
        }
        let toml = render_toml(&vpcs);
        match control::compile_str(&toml) {
            Ok(c) => {
                prop_assert!(!hostile, "validation accepted a hostile file:\n{toml}");
                // What `vpcctl validate` prints, then `show`, `stats` and `trace`.
                if std::env::var_os("NO_PANIC_DEBUG").is_some() {
                    eprintln!("VALID {}", control::render::summary(&c.config));
                }
                let _ = control::render::summary(&c.config);
                let _ = serde_json::to_string(&c.topology).unwrap();
                render_everything(c.config, Ipv4Addr::from(dst));
            }
            Err(errors) => {
                if std::env::var_os("NO_PANIC_DEBUG").is_some() {
                    eprintln!("INVALID {errors}");
                }
                let _ = errors.to_string();
                let _ = serde_json::to_string(&errors.0).unwrap();
            }
        }
    }
}
