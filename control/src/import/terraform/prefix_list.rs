//! `aws_ec2_managed_prefix_list` (a resource with `entry` blocks, or a data source with
//! `entries`) and `aws_ec2_managed_prefix_list_entry`.

use ipnet::IpNet;

use super::super::EntryKind;
use super::ctx::{Ctx, Ref, PL_TYPES};
use super::doc::{parse_cidr, Mode, Obj, Val};
use crate::model::PrefixList;

/// The CIDRs of the `cidr` fields of blocks `k` of `o`.
fn cidrs(cx: &mut Ctx<'_>, i: usize, o: &Obj<'_>, k: &str) -> Vec<IpNet> {
    let mut out = Vec::new();
    let Some(Val::Known(blocks)) = cx.ok(o.blocks(k)) else {
        return out;
    };
    for b in blocks {
        match cx.ok(b.str("cidr")) {
            Some(Val::Known(s)) => match parse_cidr(s) {
                Some(c) if !out.contains(&c) => out.push(c),
                Some(_) => {}
                None => cx.error(b.err("cidr", format!("`{s}` is not a CIDR"))),
            },
            Some(Val::Unknown) => cx.note(
                EntryKind::Skipped,
                i,
                &b.field("cidr"),
                "unknown until apply: the entry is left out",
            ),
            _ => {}
        }
    }
    out
}

/// Imports the prefix lists and their standalone entries.
pub(super) fn prefix_lists(cx: &mut Ctx<'_>) {
    let lists: Vec<usize> = (0..cx.doc.resources.len())
        .filter(|&i| cx.res(i).rtype == "aws_ec2_managed_prefix_list")
        .collect();
    for i in lists {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let data = cx.res(i).mode == Mode::Data;
        let entries = cidrs(cx, i, &o, if data { "entries" } else { "entry" });
        // AWS-managed lists (data sources) may say 0: no capacity to respect.
        let max_entries = cx
            .ok(o.int("max_entries"))
            .and_then(Val::known)
            .filter(|&m| m > 0);
        let name = cx
            .ok(o.str("name"))
            .and_then(Val::known)
            .map(str::to_string);
        cx.t.prefix_lists.push(PrefixList {
            id: id.clone(),
            name,
            entries,
            max_entries,
        });
        cx.imported[i] = true;
        cx.note(
            EntryKind::Used,
            i,
            "",
            format!(
                "prefix list {id}{}",
                if data { " (data source)" } else { "" }
            ),
        );
    }
    for i in cx.of_type("aws_ec2_managed_prefix_list_entry") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let r = cx.reference(i, &o, "prefix_list_id", "prefix_list_id", PL_TYPES);
        let Some(r) = cx.ok(r) else { continue };
        if let Ref::External(id) = &r {
            cx.note(
                EntryKind::Skipped,
                i,
                "prefix_list_id",
                format!("{id} is not in the document"),
            );
            continue;
        }
        let Some((pl, _)) = cx.required(i, "prefix_list_id", Ok(r), "aws_ec2_managed_prefix_list")
        else {
            continue;
        };
        match cx.ok(o.str("cidr")) {
            Some(Val::Known(s)) => match parse_cidr(s) {
                Some(c) => {
                    if let Some(p) = cx.t.prefix_lists.iter_mut().find(|p| p.id == pl) {
                        if !p.entries.contains(&c) {
                            p.entries.push(c);
                        }
                    }
                    cx.imported[i] = true;
                    cx.note(EntryKind::Used, i, "", format!("entry {c} of {pl}"));
                }
                None => cx.error(o.err("cidr", format!("`{s}` is not a CIDR"))),
            },
            Some(_) => cx.note(
                EntryKind::Skipped,
                i,
                "cidr",
                "unknown until apply: the entry is left out",
            ),
            None => {}
        }
    }
}
