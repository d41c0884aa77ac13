//! `aws_route_table` and `aws_default_route_table` (inline `route` blocks), `aws_route`,
//! `aws_route_table_association` and `aws_main_route_table_association`.
//!
//! A route's target: `gateway_id` of an internet gateway → `igw-…`; `nat_gateway_id` →
//! `nat-…`; `network_interface_id` / `instance_id` → `eni-…`; `vpc_peering_connection_id`
//! → `pcx-…`. A target of one of those kinds that is not in the document (or was
//! skipped) keeps its id with `state = "blackhole"`, as AWS keeps a route whose target
//! is gone; any other target (`transit_gateway_id`, `vpc_endpoint_id`, a virtual private
//! gateway, `egress_only_gateway_id`, `carrier_gateway_id`, `local_gateway_id`,
//! `core_network_arn`) becomes `target = "blackhole"`. Both are reported as blackholed.
//! `gateway_id = "local"` is the implicit local route. A `destination_prefix_list_id`
//! route becomes one route per entry of the list.

use std::collections::HashMap;

use ipnet::IpNet;

use super::super::EntryKind;
use super::ctx::{Ctx, DefaultKind, Ref, Target, ENI_TYPES, PL_TYPES};
use super::doc::{Obj, Val};
use crate::model::{Route, RouteState, RouteTable};

/// The route-table types (a reference may also name a VPC's `default_route_table_id`).
const RTB_TYPES: &[&str] = &["aws_route_table", "aws_default_route_table"];

/// Imports the route tables, the standalone routes and the associations.
pub(super) fn route_tables(cx: &mut Ctx<'_>) {
    for (rtype, default) in [
        ("aws_route_table", false),
        ("aws_default_route_table", true),
    ] {
        for i in cx.of_type(rtype) {
            cx.handled[i] = true;
            let o = cx.obj(i);
            let Some(id) = cx.model[i].clone() else {
                continue;
            };
            let vpc = if default {
                cx.vpc_of_declared(i).and_then(|v| cx.vpc_model(v))
            } else {
                let r = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
                cx.required(i, "vpc_id", r, "aws_vpc").map(|(v, _)| v)
            };
            let Some(vpc) = vpc else { continue };
            let name = cx.ok(o.name_tag()).flatten();
            cx.t.route_tables.push(RouteTable {
                id: id.clone(),
                name,
                vpc,
                main: default,
                routes: Vec::new(),
            });
            cx.imported[i] = true;
            let at = cx.t.route_tables.len() - 1;
            // Unknown: not configured inline (standalone aws_route resources fill it in).
            if let Some(Val::Known(blocks)) = cx.ok(o.blocks("route")) {
                for b in blocks {
                    add_routes(cx, i, &b, at, "route");
                }
            }
            cx.note(
                EntryKind::Used,
                i,
                "",
                format!(
                    "route table {id}{}",
                    if default { " (the VPC's default)" } else { "" }
                ),
            );
        }
    }
    for i in cx.of_type("aws_route") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let r = cx.reference(i, &o, "route_table_id", "route_table_id", RTB_TYPES);
        let Some(at) = table_of(cx, i, "route_table_id", r) else {
            continue;
        };
        let n = cx.t.route_tables[at].routes.len();
        add_routes(cx, i, &o, at, "");
        if cx.t.route_tables[at].routes.len() > n {
            cx.imported[i] = true;
            let id = cx.t.route_tables[at].id.clone();
            cx.note(EntryKind::Used, i, "", format!("route of {id}"));
        }
    }
    for i in cx.of_type("aws_route_table_association") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        if !matches!(cx.ok(o.str("gateway_id")), Some(Val::Absent) | None) {
            cx.note(
                EntryKind::Skipped,
                i,
                "gateway_id",
                "an edge association (gateway route table) cannot be modelled",
            );
            continue;
        }
        let r = cx.reference(i, &o, "subnet_id", "subnet_id", &["aws_subnet"]);
        let Some((subnet, _)) = cx.required(i, "subnet_id", r, "aws_subnet") else {
            continue;
        };
        let r = cx.reference(i, &o, "route_table_id", "route_table_id", RTB_TYPES);
        let Some(at) = table_of(cx, i, "route_table_id", r) else {
            continue;
        };
        let rtb = cx.t.route_tables[at].id.clone();
        if let Some(s) = cx.t.subnets.iter_mut().find(|s| s.id == subnet) {
            s.route_table = Some(rtb.clone());
        }
        cx.imported[i] = true;
        cx.note(EntryKind::Used, i, "", format!("{subnet} uses {rtb}"));
    }
    let mut main_of: HashMap<String, String> = HashMap::new();
    for i in cx.of_type("aws_main_route_table_association") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let r = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        let Some((vpc, _)) = cx.required(i, "vpc_id", r, "aws_vpc") else {
            continue;
        };
        let r = cx.reference(i, &o, "route_table_id", "route_table_id", RTB_TYPES);
        let Some(at) = table_of(cx, i, "route_table_id", r) else {
            continue;
        };
        let rtb = cx.t.route_tables[at].id.clone();
        main_of.insert(vpc.clone(), rtb.clone());
        cx.imported[i] = true;
        cx.note(
            EntryKind::Used,
            i,
            "",
            format!("{rtb} is the main table of {vpc}"),
        );
    }
    for t in &mut cx.t.route_tables {
        if let Some(m) = main_of.get(&t.vpc) {
            t.main = *m == t.id;
        }
    }
}

/// The index in the topology of the route table a reference names, or an error.
fn table_of(
    cx: &mut Ctx<'_>,
    i: usize,
    field: &str,
    r: Result<Ref, super::super::ImportError>,
) -> Option<usize> {
    let r = cx.ok(r)?;
    match r {
        Ref::Found(Target::Default(v, DefaultKind::RouteTable)) => cx
            .ensure_default(v, DefaultKind::RouteTable)
            .map(|(at, _)| at),
        Ref::Found(t) => {
            let id = cx.model_of(t);
            let at = id.and_then(|id| cx.t.route_tables.iter().position(|x| x.id == id));
            if at.is_none() {
                let msg = cx.missing(&Ref::Found(t), "aws_route_table");
                cx.fail(i, field, msg);
            }
            at
        }
        other => {
            let msg = cx.missing(&other, "aws_route_table");
            cx.fail(i, field, msg);
            None
        }
    }
}

/// The target fields of a route, in the order they are looked at.
const TARGETS: &[&str] = &[
    "gateway_id",
    "nat_gateway_id",
    "network_interface_id",
    "instance_id",
    "vpc_peering_connection_id",
    "transit_gateway_id",
    "vpc_endpoint_id",
    "egress_only_gateway_id",
    "carrier_gateway_id",
    "local_gateway_id",
    "core_network_arn",
];

/// Adds the routes of route `b` (an inline `route` block, `top = "route"`, or an
/// `aws_route`, `top = ""`) of resource `i` to route table `at`.
fn add_routes(cx: &mut Ctx<'_>, i: usize, b: &Obj<'_>, at: usize, top: &str) {
    let inline = !top.is_empty();
    let (v4, v6, pl) = if inline {
        (
            "cidr_block",
            "ipv6_cidr_block",
            "destination_prefix_list_id",
        )
    } else {
        (
            "destination_cidr_block",
            "destination_ipv6_cidr_block",
            "destination_prefix_list_id",
        )
    };
    let field = |k: &str| b.field(k);
    // The destinations.
    let mut dests: Vec<IpNet> = Vec::new();
    match cx.ok(b.cidr4(v4)) {
        Some(Val::Known(c)) => dests.push(IpNet::V4(c)),
        Some(Val::Unknown) => {
            cx.note(
                EntryKind::Skipped,
                i,
                &field(v4),
                "the destination is unknown until apply: the route is left out",
            );
            return;
        }
        Some(Val::Absent) => {}
        None => return,
    }
    match cx.ok(b.cidr6(v6)) {
        Some(Val::Known(c)) => dests.push(IpNet::V6(c)),
        Some(Val::Unknown) => {
            cx.note(
                EntryKind::Skipped,
                i,
                &field(v6),
                "the destination is unknown until apply: the route is left out",
            );
            return;
        }
        Some(Val::Absent) => {}
        None => return,
    }
    let key = if inline { top } else { pl };
    match cx.ok(cx.reference(i, b, pl, key, PL_TYPES)) {
        Some(Ref::Absent) | None => {}
        Some(Ref::Found(t)) => {
            let id = cx.model_of(t).unwrap_or_default();
            if let Some(p) = cx.t.prefix_lists.iter().find(|p| p.id == id) {
                dests.extend(p.entries.iter().copied());
                cx.note(
                    EntryKind::Used,
                    i,
                    &field(pl),
                    format!("one route per entry of {id}"),
                );
            }
        }
        Some(other) => {
            let what = match other {
                Ref::External(id) => format!("{id} is not in the document"),
                _ => "unknown until apply and not resolved".to_string(),
            };
            cx.note(
                EntryKind::Skipped,
                i,
                &field(pl),
                format!("destination prefix list {what}: the route is left out"),
            );
            return;
        }
    }
    if dests.is_empty() {
        cx.note(
            EntryKind::Skipped,
            i,
            &b.path,
            "a route without a destination: left out",
        );
        return;
    }
    let Some((target, state)) = target(cx, i, b, top) else {
        return;
    };
    let table = &mut cx.t.route_tables[at];
    let mut conflicts = Vec::new();
    for d in dests {
        match table.routes.iter().find(|r| r.destination == d) {
            Some(r) if r.target == target && r.state == state => {} // listed twice (a state)
            Some(r) => conflicts.push(format!("{d} is already routed to {}", r.target)),
            None => table.routes.push(Route {
                destination: d,
                target: target.clone(),
                state,
            }),
        }
    }
    for c in conflicts {
        cx.note(
            EntryKind::Skipped,
            i,
            &b.path,
            format!("{c}: this route is left out"),
        );
    }
}

/// The target of route `b`: `(target, state)`, or `None` when the route is left out
/// (reported) or is the implicit local route.
fn target(cx: &mut Ctx<'_>, i: usize, b: &Obj<'_>, top: &str) -> Option<(String, RouteState)> {
    let set: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|k| !matches!(b.raw(k), Val::Absent) && !matches!(b.str(k), Ok(Val::Absent)))
        .collect();
    let Some(&k) = set.first() else {
        cx.note(
            EntryKind::Skipped,
            i,
            &b.path,
            "a route without a target: left out",
        );
        return None;
    };
    let field = b.field(k);
    let key = if top.is_empty() { k } else { top };
    let blackhole = |cx: &mut Ctx<'_>, why: String| {
        cx.note(EntryKind::Blackholed, i, &field, why);
        Some(("blackhole".to_string(), RouteState::Active))
    };
    let (accept, prefix, what): (&[&str], &str, &str) = match k {
        "gateway_id" => (
            &["aws_internet_gateway", "aws_vpn_gateway"],
            "igw-",
            "internet gateway",
        ),
        "nat_gateway_id" => (&["aws_nat_gateway"], "nat-", "NAT gateway"),
        "network_interface_id" | "instance_id" => (ENI_TYPES, "eni-", "network interface"),
        "vpc_peering_connection_id" => (
            &["aws_vpc_peering_connection"],
            "pcx-",
            "peering connection",
        ),
        _ => {
            let v = match b.str(k) {
                Ok(Val::Known(v)) => v.to_string(),
                _ => "(unknown until apply)".to_string(),
            };
            return blackhole(
                cx,
                format!("{k} {v}: this kind of target cannot be modelled"),
            );
        }
    };
    if k == "gateway_id" && matches!(b.str(k), Ok(Val::Known("local"))) {
        return None; // the implicit local route
    }
    let r = cx.ok(cx.reference(i, b, k, key, accept))?;
    match r {
        Ref::Found(t) => {
            let ty = cx.target_type(t);
            if accept[0] != ty && !(prefix == "eni-" && ENI_TYPES.contains(&ty.as_str())) {
                return blackhole(
                    cx,
                    format!(
                        "{} ({ty}): this kind of target cannot be modelled",
                        cx.target_name(t)
                    ),
                );
            }
            match cx.model_of(t) {
                Some(id) => Some((id, RouteState::Active)),
                None => {
                    let known = b
                        .str(k)
                        .ok()
                        .and_then(Val::known)
                        .filter(|v| fits(v, prefix));
                    let why = format!("{} ({what}) is not imported", cx.target_name(t));
                    match known {
                        Some(v) => {
                            cx.note(
                                EntryKind::Blackholed,
                                i,
                                &field,
                                format!("{why}: kept as a route to a deleted target"),
                            );
                            Some((v.to_string(), RouteState::Blackhole))
                        }
                        None => blackhole(cx, why),
                    }
                }
            }
        }
        Ref::External(v) if fits(&v, prefix) => {
            cx.note(EntryKind::Blackholed, i, &field, format!("{v}: no {what} in the document has this id; kept as a route to a deleted target"));
            Some((v, RouteState::Blackhole))
        }
        Ref::External(v) => blackhole(cx, format!("{v}: this kind of target cannot be modelled")),
        Ref::Absent => None,
        Ref::Ambiguous(c) => {
            let names: Vec<String> = c.iter().map(|t| cx.target_name(*t)).collect();
            blackhole(cx, format!("unknown until apply, and the configuration names several candidates ({}): cannot tell which", names.join(", ")))
        }
        other => {
            let msg = cx.missing(&other, what);
            cx.fail(i, &field, msg);
            None
        }
    }
}

/// Whether `id` is a usable id of the `prefix` kind.
fn fits(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len()
        && id.starts_with(prefix)
        && id[prefix.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
