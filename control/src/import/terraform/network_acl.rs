//! `aws_network_acl` and `aws_default_network_acl` (inline `ingress`/`egress` with
//! `rule_no`, `action`, `protocol`, `from_port`/`to_port`, `icmp_type`/`icmp_code`,
//! `cidr_block` or `ipv6_cidr_block`), `aws_network_acl_rule` and
//! `aws_network_acl_association`.
//!
//! A state lists a NACL's standalone rules and associations inline as well: a rule
//! number already present with the same rule, or a subnet already listed, is not added
//! twice. A subnet belongs to one NACL: an association moves it, and a default NACL does
//! not list a subnet that another NACL lists.

use ipnet::IpNet;

use super::super::{EntryKind, ImportError};
use super::ctx::{Ctx, DefaultKind, Ref, Target};
use super::doc::{parse_cidr, Obj, Val};
use super::rules::traffic;
use crate::model::{NaclAction, NaclRule, NetworkAcl};

/// The NACL types (a reference may also name a VPC's `default_network_acl_id`).
const ACL_TYPES: &[&str] = &["aws_network_acl", "aws_default_network_acl"];

/// Imports the network ACLs, their standalone rules and associations.
pub(super) fn network_acls(cx: &mut Ctx<'_>) {
    for (rtype, default) in [
        ("aws_network_acl", false),
        ("aws_default_network_acl", true),
    ] {
        for i in cx.of_type(rtype) {
            cx.handled[i] = true;
            acl(cx, i, default);
        }
    }
    for i in cx.of_type("aws_network_acl_rule") {
        cx.handled[i] = true;
        standalone(cx, i);
    }
    for i in cx.of_type("aws_network_acl_association") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let r = cx.reference(i, &o, "network_acl_id", "network_acl_id", ACL_TYPES);
        let Some(at) = acl_of(cx, i, r) else { continue };
        let r = cx.reference(i, &o, "subnet_id", "subnet_id", &["aws_subnet"]);
        let Some((subnet, _)) = cx.required(i, "subnet_id", r, "aws_subnet") else {
            continue;
        };
        for n in &mut cx.t.network_acls {
            n.subnets.retain(|s| *s != subnet);
        }
        cx.t.network_acls[at].subnets.push(subnet.clone());
        cx.imported[i] = true;
        let id = cx.t.network_acls[at].id.clone();
        cx.note(EntryKind::Used, i, "", format!("{subnet} uses {id}"));
    }
    // A subnet that a custom NACL lists is not the default's.
    let custom: Vec<String> =
        cx.t.network_acls
            .iter()
            .filter(|n| !n.default)
            .flat_map(|n| n.subnets.clone())
            .collect();
    for n in cx.t.network_acls.iter_mut().filter(|n| n.default) {
        n.subnets.retain(|s| !custom.contains(s));
    }
}

/// One `aws_network_acl` or `aws_default_network_acl`.
fn acl(cx: &mut Ctx<'_>, i: usize, default: bool) {
    let o = cx.obj(i);
    let Some(id) = cx.model[i].clone() else {
        return;
    };
    let vpc = if default {
        cx.vpc_of_declared(i).and_then(|v| cx.vpc_model(v))
    } else {
        let r = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        cx.required(i, "vpc_id", r, "aws_vpc").map(|(v, _)| v)
    };
    let Some(vpc) = vpc else { return };
    let mut rules = [Vec::new(), Vec::new()];
    for (n, key) in ["ingress", "egress"].into_iter().enumerate() {
        // Unknown: not configured inline (standalone rules fill it in).
        if let Some(Val::Known(blocks)) = cx.ok(o.blocks(key)) {
            for b in blocks {
                if let Some(r) = cx.ok(rule(&b, "rule_no", "action")) {
                    rules[n].push(r);
                }
            }
        }
    }
    let mut subnets: Vec<String> = Vec::new();
    let refs = cx.ok(cx.references(i, &o, "subnet_ids", "subnet_ids", &["aws_subnet"]));
    for r in refs.unwrap_or_default() {
        match r {
            Ref::Found(t) => {
                if let Some(s) = cx.model_of(t) {
                    if !subnets.contains(&s) {
                        subnets.push(s);
                    }
                }
            }
            other => {
                let msg = cx.missing(&other, "aws_subnet");
                cx.fail(i, "subnet_ids", msg);
            }
        }
    }
    let [inbound, outbound] = rules;
    let name = cx.ok(o.name_tag()).flatten();
    cx.t.network_acls.push(NetworkAcl {
        id: id.clone(),
        name,
        vpc,
        default,
        subnets,
        inbound,
        outbound,
    });
    cx.imported[i] = true;
    cx.note(
        EntryKind::Used,
        i,
        "",
        format!(
            "network acl {id}{}",
            if default { " (the VPC's default)" } else { "" }
        ),
    );
}

/// A NACL rule from block or resource `o`: rule number in `number`, action in `action`.
fn rule(o: &Obj<'_>, number: &str, action: &str) -> Result<NaclRule, ImportError> {
    let rule = match o.int(number)? {
        Val::Known(n) => n,
        _ => return Err(o.err(number, "missing or unknown until apply")),
    };
    let action = match o.str(action)? {
        Val::Known(a) if a.eq_ignore_ascii_case("allow") => NaclAction::Allow,
        Val::Known(a) if a.eq_ignore_ascii_case("deny") => NaclAction::Deny,
        Val::Known(a) => return Err(o.err(action, format!("`{a}`: expected allow or deny"))),
        _ => return Err(o.err(action, "missing or unknown until apply")),
    };
    let t = traffic(
        o,
        "protocol",
        ("from_port", "to_port"),
        Some(("icmp_type", "icmp_code")),
    )?;
    let cidr = cidr(o, "cidr_block")?.or(cidr(o, "ipv6_cidr_block")?);
    let Some(cidr) = cidr else {
        return Err(o.err(
            "cidr_block",
            "missing: a rule needs cidr_block or ipv6_cidr_block",
        ));
    };
    Ok(NaclRule {
        rule,
        protocol: t.protocol,
        ports: t.ports,
        icmp_type: t.icmp_type,
        icmp_code: t.icmp_code,
        cidr,
        action,
    })
}

/// A CIDR field; unknown is an error.
fn cidr(o: &Obj<'_>, k: &str) -> Result<Option<IpNet>, ImportError> {
    match o.str(k)? {
        Val::Known(s) => parse_cidr(s)
            .map(Some)
            .ok_or_else(|| o.err(k, format!("`{s}` is not a CIDR"))),
        Val::Absent => Ok(None),
        Val::Unknown => Err(o.err(k, "unknown until apply: the rule's CIDR must be known")),
    }
}

/// The index in the topology of the NACL a reference names, or an error.
fn acl_of(cx: &mut Ctx<'_>, i: usize, r: Result<Ref, ImportError>) -> Option<usize> {
    let r = cx.ok(r)?;
    match r {
        Ref::Found(Target::Default(v, DefaultKind::NetworkAcl)) => cx
            .ensure_default(v, DefaultKind::NetworkAcl)
            .map(|(at, _)| at),
        Ref::Found(t) => {
            let id = cx.model_of(t);
            let at = id.and_then(|id| cx.t.network_acls.iter().position(|x| x.id == id));
            if at.is_none() {
                let msg = cx.missing(&Ref::Found(t), "aws_network_acl");
                cx.fail(i, "network_acl_id", msg);
            }
            at
        }
        other => {
            let msg = cx.missing(&other, "aws_network_acl");
            cx.fail(i, "network_acl_id", msg);
            None
        }
    }
}

/// One `aws_network_acl_rule`.
fn standalone(cx: &mut Ctx<'_>, i: usize) {
    let o = cx.obj(i);
    let r = cx.reference(i, &o, "network_acl_id", "network_acl_id", ACL_TYPES);
    let Some(at) = acl_of(cx, i, r) else { return };
    let egress = matches!(cx.ok(o.bool("egress")), Some(Val::Known(true)));
    let Some(rule) = cx.ok(rule(&o, "rule_number", "rule_action")) else {
        return;
    };
    let acl = &mut cx.t.network_acls[at];
    let id = acl.id.clone();
    let list = if egress {
        &mut acl.outbound
    } else {
        &mut acl.inbound
    };
    let dir = if egress { "outbound" } else { "inbound" };
    match list.iter().find(|r| r.rule == rule.rule) {
        Some(r) if *r == rule => {}
        Some(_) => {
            cx.note(
                EntryKind::Skipped,
                i,
                "rule_number",
                format!(
                    "{id} already has another {dir} rule {}: left out",
                    rule.rule
                ),
            );
            return;
        }
        None => list.push(rule.clone()),
    }
    cx.imported[i] = true;
    cx.note(
        EntryKind::Used,
        i,
        "",
        format!("{dir} rule {} of {id}", rule.rule),
    );
}
