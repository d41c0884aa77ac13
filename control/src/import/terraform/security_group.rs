//! `aws_security_group` and `aws_default_security_group` (inline `ingress`/`egress`),
//! `aws_security_group_rule`, `aws_vpc_security_group_ingress_rule` and
//! `aws_vpc_security_group_egress_rule`.
//!
//! One Terraform rule names several peers (`cidr_blocks`, `ipv6_cidr_blocks`,
//! `prefix_list_ids`, `security_groups`, `self`); the model has one peer per rule, so it
//! becomes one rule per peer, in that order. In a plan, the groups of an inline rule are
//! often unknown; the configuration gives the groups the whole `ingress` (or `egress`)
//! attribute names, which decide when only one rule has unknown groups or only one group
//! is named. A peer that is not in the document (another account's group, an AWS-managed
//! prefix list) leaves its rule out, reported as skipped.

use super::super::EntryKind;
use super::ctx::{Ctx, Ref, Target, PL_TYPES, SG_TYPES};
use super::doc::{parse_cidr, Obj, Val};
use super::rules::{traffic, Traffic};
use crate::model::{RulePeer, SecurityGroup, SgRuleSpec};

/// Inbound or outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// `ingress`: peers are sources.
    In,
    /// `egress`: peers are destinations.
    Out,
}

/// A rule of the model with this traffic and peer.
fn rule(t: Traffic, dir: Dir, peer: RulePeer, description: Option<String>) -> SgRuleSpec {
    let (source, destination) = match dir {
        Dir::In => (Some(peer), None),
        Dir::Out => (None, Some(peer)),
    };
    SgRuleSpec {
        protocol: t.protocol,
        ports: t.ports,
        icmp_type: t.icmp_type,
        icmp_code: t.icmp_code,
        source,
        destination,
        description,
    }
}

/// Imports the groups, then the standalone rules.
pub(super) fn security_groups(cx: &mut Ctx<'_>) {
    for (rtype, default) in [
        ("aws_security_group", false),
        ("aws_default_security_group", true),
    ] {
        for i in cx.of_type(rtype) {
            cx.handled[i] = true;
            group(cx, i, default);
        }
    }
    for i in cx.of_type("aws_security_group_rule") {
        cx.handled[i] = true;
        standalone(cx, i, false);
    }
    for i in cx.of_type("aws_vpc_security_group_ingress_rule") {
        cx.handled[i] = true;
        standalone(cx, i, true);
    }
    for i in cx.of_type("aws_vpc_security_group_egress_rule") {
        cx.handled[i] = true;
        standalone(cx, i, true);
    }
}

/// One `aws_security_group` or `aws_default_security_group`.
fn group(cx: &mut Ctx<'_>, i: usize, default: bool) {
    let o = cx.obj(i);
    let Some(id) = cx.model[i].clone() else {
        return;
    };
    let vpc = if default {
        cx.vpc_of_declared(i).and_then(|v| cx.vpc_model(v))
    } else {
        let r = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        if matches!(r, Ok(Ref::Absent)) {
            cx.note(
                EntryKind::Skipped,
                i,
                "vpc_id",
                "not set: a group of the account's default VPC, which is not in the document",
            );
            return;
        }
        cx.required(i, "vpc_id", r, "aws_vpc").map(|(v, _)| v)
    };
    let Some(vpc) = vpc else {
        if default {
            cx.fail(i, "vpc_id", "its VPC is not in the document");
        }
        return;
    };
    let name = cx
        .ok(o.str("name"))
        .and_then(Val::known)
        .map(str::to_string);
    let description = cx
        .ok(o.str("description"))
        .and_then(Val::known)
        .map(str::to_string);
    // Added before the rules so that rules may name the group itself.
    cx.t.security_groups.push(SecurityGroup {
        id: id.clone(),
        vpc,
        name: name.or(default.then(|| "default".to_string())),
        description,
        default,
        inbound: Vec::new(),
        outbound: Some(Vec::new()),
    });
    cx.imported[i] = true;
    let inbound = inline(cx, i, &o, Dir::In, &id);
    let outbound = inline(cx, i, &o, Dir::Out, &id);
    if let Some(g) = cx.t.security_groups.iter_mut().find(|g| g.id == id) {
        g.inbound = inbound;
        g.outbound = Some(outbound);
    }
    cx.note(EntryKind::Used, i, "", format!("security group {id}"));
}

/// The inline rules of direction `dir` of group resource `i` (model id `own`).
fn inline(cx: &mut Ctx<'_>, i: usize, o: &Obj<'_>, dir: Dir, own: &str) -> Vec<SgRuleSpec> {
    let key = match dir {
        Dir::In => "ingress",
        Dir::Out => "egress",
    };
    let blocks = match cx.ok(o.blocks(key)) {
        Some(Val::Known(b)) => b,
        // Unknown: not configured inline (standalone rules, below, fill it in).
        _ => return Vec::new(),
    };
    // Which groups and prefix lists the unknown elements may be.
    let mut unknown_sg = 0;
    let mut unknown_pl = 0;
    let mut known_targets: Vec<Target> = vec![Target::Res(i)];
    for b in &blocks {
        for (k, count, accept) in [
            ("security_groups", &mut unknown_sg, SG_TYPES),
            ("prefix_list_ids", &mut unknown_pl, PL_TYPES),
        ] {
            match b.strs(k) {
                Ok(Val::Unknown) => *count += 1,
                Ok(Val::Known(items)) => {
                    if items.iter().any(Val::is_unknown) {
                        *count += 1;
                    }
                    for id in items.into_iter().filter_map(Val::known) {
                        match cx.find_target(id) {
                            Some(t) if accept.contains(&cx.target_type(t).as_str()) => {
                                known_targets.push(t)
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let sg_candidates = cx.candidates(i, key, SG_TYPES, &known_targets);
    let pl_candidates = cx.candidates(i, key, PL_TYPES, &known_targets);
    let mut out = Vec::new();
    for b in &blocks {
        let Some(t) = cx.ok(traffic(b, "protocol", ("from_port", "to_port"), None)) else {
            continue;
        };
        let description = cx
            .ok(b.str("description"))
            .and_then(Val::known)
            .map(str::to_string);
        let noted = cx.report.entries.len();
        let mut peers: Vec<RulePeer> = Vec::new();
        for k in ["cidr_blocks", "ipv6_cidr_blocks"] {
            peers.extend(cidr_peers(cx, i, b, k));
        }
        for (k, accept, unknown, candidates) in [
            ("prefix_list_ids", PL_TYPES, unknown_pl, &pl_candidates),
            ("security_groups", SG_TYPES, unknown_sg, &sg_candidates),
        ] {
            let items = match cx.ok(b.strs(k)) {
                Some(Val::Known(items)) => items,
                Some(Val::Unknown) => vec![Val::Unknown],
                _ => Vec::new(),
            };
            let mut has_unknown = false;
            for item in items {
                match item {
                    Val::Known(id) => {
                        if let Some(p) = peer_by_id(cx, i, b, k, id, accept) {
                            peers.push(p);
                        }
                    }
                    Val::Unknown => has_unknown = true,
                    Val::Absent => {}
                }
            }
            if has_unknown {
                peers.extend(unknown_peers(cx, i, b, k, unknown, candidates));
            }
        }
        if matches!(cx.ok(b.bool("self")), Some(Val::Known(true))) {
            peers.push(RulePeer::Group(own.to_string()));
        }
        if peers.is_empty() && cx.report.entries.len() == noted {
            cx.note(
                EntryKind::Skipped,
                i,
                &b.path,
                "a rule without a peer (no CIDR, prefix list or group): left out",
            );
        }
        out.extend(
            peers
                .into_iter()
                .map(|p| rule(t, dir, p, description.clone())),
        );
    }
    out
}

/// The peers of a CIDR list field.
fn cidr_peers(cx: &mut Ctx<'_>, i: usize, b: &Obj<'_>, k: &str) -> Vec<RulePeer> {
    let mut out = Vec::new();
    match cx.ok(b.strs(k)) {
        Some(Val::Known(items)) => {
            for (n, item) in items.into_iter().enumerate() {
                match item {
                    Val::Known(s) => match parse_cidr(s) {
                        Some(c) => out.push(RulePeer::Cidr(c)),
                        None => {
                            cx.error(b.err(&format!("{k}[{n}]"), format!("`{s}` is not a CIDR")))
                        }
                    },
                    Val::Unknown => cx.note(
                        EntryKind::Skipped,
                        i,
                        &b.field(k),
                        "a CIDR unknown until apply: that peer is left out",
                    ),
                    Val::Absent => {}
                }
            }
        }
        Some(Val::Unknown) => cx.note(
            EntryKind::Skipped,
            i,
            &b.field(k),
            "unknown until apply: those peers are left out",
        ),
        _ => {}
    }
    out
}

/// The peer named by a known group or prefix-list id, or `None` (reported) when it is not
/// in the document.
fn peer_by_id(
    cx: &mut Ctx<'_>,
    i: usize,
    b: &Obj<'_>,
    k: &str,
    id: &str,
    accept: &[&str],
) -> Option<RulePeer> {
    match cx.find_target(id) {
        Some(t) if accept.contains(&cx.target_type(t).as_str()) => {
            let m = cx.model_of(t)?;
            Some(peer_of(accept, m))
        }
        Some(t) => {
            let msg = format!(
                "`{id}` is {} ({}), expected {}",
                cx.target_name(t),
                cx.target_type(t),
                accept.join(" or ")
            );
            cx.error(b.err(k, msg));
            None
        }
        None => {
            cx.note(
                EntryKind::Skipped,
                i,
                &b.field(k),
                format!("{id} is not in the document (another account's or an AWS-managed one?): that peer is left out"),
            );
            None
        }
    }
}

/// A group or prefix-list peer, by the kinds accepted.
fn peer_of(accept: &[&str], id: String) -> RulePeer {
    if accept == PL_TYPES {
        RulePeer::PrefixList(id)
    } else {
        RulePeer::Group(id)
    }
}

/// The peers of field `k` of an inline rule whose value is unknown until apply: the
/// configuration's candidates, when they can be told apart.
fn unknown_peers(
    cx: &mut Ctx<'_>,
    i: usize,
    b: &Obj<'_>,
    k: &str,
    unknown_rules: usize,
    candidates: &[Target],
) -> Vec<RulePeer> {
    let accept = if k == "prefix_list_ids" {
        PL_TYPES
    } else {
        SG_TYPES
    };
    if candidates.is_empty() {
        cx.error(b.err(
            k,
            "unknown until apply, and the plan's configuration names no such resource",
        ));
        return Vec::new();
    }
    if unknown_rules > 1 && candidates.len() > 1 {
        let names: Vec<String> = candidates.iter().map(|t| cx.target_name(*t)).collect();
        cx.note(
            EntryKind::Skipped,
            i,
            &b.field(k),
            format!(
                "unknown until apply, and several rules name several of {}: cannot tell which rule names which, that peer is left out (standalone aws_vpc_security_group_*_rule resources say it)",
                names.join(", ")
            ),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for &t in candidates {
        if let Some(m) = cx.model_of(t) {
            out.push(peer_of(accept, m));
        }
    }
    out
}

/// One standalone rule: `aws_security_group_rule` (`v2 == false`) or
/// `aws_vpc_security_group_{ingress,egress}_rule`.
fn standalone(cx: &mut Ctx<'_>, i: usize, v2: bool) {
    let o = cx.obj(i);
    let dir = if v2 {
        if cx.res(i).rtype.ends_with("egress_rule") {
            Dir::Out
        } else {
            Dir::In
        }
    } else {
        match cx.ok(o.str("type")) {
            Some(Val::Known("ingress")) => Dir::In,
            Some(Val::Known("egress")) => Dir::Out,
            Some(Val::Known(other)) => {
                cx.fail(i, "type", format!("`{other}`: expected ingress or egress"));
                return;
            }
            Some(_) => {
                cx.fail(i, "type", "missing or unknown until apply");
                return;
            }
            None => return,
        }
    };
    let r = cx.reference(i, &o, "security_group_id", "security_group_id", SG_TYPES);
    let Some((sg, _)) = cx.required(i, "security_group_id", r, "aws_security_group") else {
        return;
    };
    let t = if v2 {
        traffic(&o, "ip_protocol", ("from_port", "to_port"), None)
    } else {
        traffic(&o, "protocol", ("from_port", "to_port"), None)
    };
    let Some(t) = cx.ok(t) else { return };
    let description = cx
        .ok(o.str("description"))
        .and_then(Val::known)
        .map(str::to_string);
    let mut peers: Vec<RulePeer> = Vec::new();
    let (cidr_fields, pl_field, sg_field, self_field) = if v2 {
        (
            ["cidr_ipv4", "cidr_ipv6"],
            "prefix_list_id",
            "referenced_security_group_id",
            None,
        )
    } else {
        (
            ["cidr_blocks", "ipv6_cidr_blocks"],
            "prefix_list_ids",
            "source_security_group_id",
            Some("self"),
        )
    };
    for k in cidr_fields {
        if v2 {
            match cx.ok(o.str(k)) {
                Some(Val::Known(s)) => match parse_cidr(s) {
                    Some(c) => peers.push(RulePeer::Cidr(c)),
                    None => cx.error(o.err(k, format!("`{s}` is not a CIDR"))),
                },
                Some(Val::Unknown) => cx.note(
                    EntryKind::Skipped,
                    i,
                    k,
                    "unknown until apply: the rule is left out",
                ),
                _ => {}
            }
        } else {
            peers.extend(cidr_peers(cx, i, &o, k));
        }
    }
    peers.extend(ref_peers(cx, i, &o, pl_field, PL_TYPES, v2));
    peers.extend(ref_peers(cx, i, &o, sg_field, SG_TYPES, true));
    if let Some(k) = self_field {
        if matches!(cx.ok(o.bool(k)), Some(Val::Known(true))) {
            peers.push(RulePeer::Group(sg.clone()));
        }
    }
    if peers.is_empty() {
        if !cx
            .report
            .entries
            .iter()
            .any(|e| e.resource == cx.res(i).address)
        {
            cx.note(
                EntryKind::Skipped,
                i,
                "",
                "a rule without a peer in the document: left out",
            );
        }
        return;
    }
    let Some(g) = cx.t.security_groups.iter_mut().find(|g| g.id == sg) else {
        return;
    };
    let n = peers.len();
    for p in peers {
        let r = rule(t, dir, p, description.clone());
        match dir {
            Dir::In => g.inbound.push(r),
            Dir::Out => g.outbound.get_or_insert_with(Vec::new).push(r),
        }
    }
    cx.imported[i] = true;
    cx.note(
        EntryKind::Used,
        i,
        "",
        format!(
            "{n} {} rule(s) of {sg}",
            if dir == Dir::In {
                "inbound"
            } else {
                "outbound"
            }
        ),
    );
}

/// The peers of a reference field of a standalone rule: one id (`single`) or a list.
fn ref_peers(
    cx: &mut Ctx<'_>,
    i: usize,
    o: &Obj<'_>,
    k: &str,
    accept: &[&str],
    single: bool,
) -> Vec<RulePeer> {
    let refs = if single {
        cx.ok(cx.reference(i, o, k, k, accept)).map(|r| vec![r])
    } else {
        cx.ok(cx.references(i, o, k, k, accept))
    };
    let mut out = Vec::new();
    for r in refs.unwrap_or_default() {
        match r {
            Ref::Absent => {}
            Ref::Found(t) => {
                if let Some(m) = cx.model_of(t) {
                    out.push(peer_of(accept, m));
                }
            }
            Ref::External(id) => cx.note(
                EntryKind::Skipped,
                i,
                k,
                format!("{id} is not in the document (another account's or an AWS-managed one?): the rule is left out"),
            ),
            other => {
                let msg = cx.missing(&other, accept[0]);
                cx.fail(i, k, msg);
            }
        }
    }
    out
}

/// Removes repeated rules (a state lists the standalone rules inline too): the first of
/// equal rules (description aside) is kept.
pub(super) fn dedupe(cx: &mut Ctx<'_>) {
    let key = |r: &SgRuleSpec| SgRuleSpec {
        description: None,
        ..r.clone()
    };
    let uniq = |rules: &mut Vec<SgRuleSpec>| {
        let mut seen: Vec<SgRuleSpec> = Vec::new();
        rules.retain(|r| {
            let k = key(r);
            if seen.contains(&k) {
                false
            } else {
                seen.push(k);
                true
            }
        });
    };
    for g in &mut cx.t.security_groups {
        uniq(&mut g.inbound);
        if let Some(out) = &mut g.outbound {
            uniq(out);
        }
    }
}
