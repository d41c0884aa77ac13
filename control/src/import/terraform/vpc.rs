//! `aws_vpc`, `aws_vpc_ipv4_cidr_block_association` and `aws_subnet`.

use super::super::EntryKind;
use super::ctx::Ctx;
use super::doc::Val;
use crate::model::{Subnet, Vpc};
use crate::validate::is_zone_of;

/// Imports the VPCs and their secondary CIDR blocks.
pub(super) fn vpcs(cx: &mut Ctx<'_>) {
    for i in cx.of_type("aws_vpc") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let cidr = match cx.ok(o.cidr4("cidr_block")) {
            Some(Val::Known(c)) => c,
            Some(Val::Unknown) => {
                cx.fail(
                    i,
                    "cidr_block",
                    "unknown until apply (an IPAM pool?): a VPC needs a known CIDR",
                );
                continue;
            }
            Some(Val::Absent) => {
                cx.fail(i, "cidr_block", "missing");
                continue;
            }
            None => continue,
        };
        let ipv6_cidr = match cx.ok(o.cidr6("ipv6_cidr_block")) {
            Some(Val::Known(c)) => Some(c),
            Some(Val::Unknown) => {
                // Unknown is also how a plan shows a computed, unset block; only a block
                // asked for is worth a note.
                let asked = matches!(
                    o.bool("assign_generated_ipv6_cidr_block"),
                    Ok(Val::Known(true))
                ) || !matches!(o.raw("ipv6_ipam_pool_id"), Val::Absent);
                if asked {
                    cx.note(
                        EntryKind::Defaulted,
                        i,
                        "ipv6_cidr_block",
                        "unknown until apply: the VPC is imported without IPv6",
                    );
                }
                None
            }
            _ => None,
        };
        let name = cx.ok(o.name_tag()).flatten();
        cx.t.vpcs.push(Vpc {
            dhcp_options: None,
            id: id.clone(),
            name,
            cidr,
            secondary_cidrs: Vec::new(),
            ipv6_cidr,
        });
        cx.imported[i] = true;
        cx.note(EntryKind::Used, i, "", format!("vpc {id}"));
    }
    for i in cx.of_type("aws_vpc_ipv4_cidr_block_association") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let vpc = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        let Some((vpc, _)) = cx.required(i, "vpc_id", vpc, "aws_vpc") else {
            continue;
        };
        match cx.ok(o.cidr4("cidr_block")) {
            Some(Val::Known(c)) => {
                if let Some(v) = cx.t.vpcs.iter_mut().find(|v| v.id == vpc) {
                    if !v.secondary_cidrs.contains(&c) && v.cidr != c {
                        v.secondary_cidrs.push(c);
                    }
                }
                cx.imported[i] = true;
                cx.note(
                    EntryKind::Used,
                    i,
                    "",
                    format!("secondary CIDR {c} of {vpc}"),
                );
            }
            Some(_) => cx.note(
                EntryKind::Skipped,
                i,
                "cidr_block",
                "unknown until apply (an IPAM pool?): the secondary CIDR is left out",
            ),
            None => {}
        }
    }
}

/// Imports the subnets.
pub(super) fn subnets(cx: &mut Ctx<'_>) {
    for i in cx.of_type("aws_subnet") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let vpc = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        let Some((vpc, _)) = cx.required(i, "vpc_id", vpc, "aws_vpc") else {
            continue;
        };
        let cidr = match cx.ok(o.cidr4("cidr_block")) {
            Some(Val::Known(c)) => c,
            Some(Val::Unknown) => {
                cx.fail(
                    i,
                    "cidr_block",
                    "unknown until apply: a subnet needs a known CIDR",
                );
                continue;
            }
            Some(Val::Absent) => {
                cx.fail(
                    i,
                    "cidr_block",
                    "missing (an IPv6-only subnet cannot be imported)",
                );
                continue;
            }
            None => continue,
        };
        let vpc_v6 =
            cx.t.vpcs
                .iter()
                .find(|v| v.id == vpc)
                .and_then(|v| v.ipv6_cidr)
                .is_some();
        let ipv6_cidr = match cx.ok(o.cidr6("ipv6_cidr_block")) {
            Some(Val::Known(c)) if vpc_v6 => Some(c),
            Some(Val::Known(c)) => {
                cx.note(
                    EntryKind::Skipped,
                    i,
                    "ipv6_cidr_block",
                    format!("{c}: the VPC was imported without IPv6"),
                );
                None
            }
            Some(Val::Unknown) if cx.configured(i, "ipv6_cidr_block") => {
                cx.note(
                    EntryKind::Defaulted,
                    i,
                    "ipv6_cidr_block",
                    "unknown until apply: the subnet is imported without IPv6",
                );
                None
            }
            _ => None,
        };
        let name = cx.ok(o.name_tag()).flatten();
        let availability_zone = match cx.ok(o.str("availability_zone")) {
            Some(Val::Known(az)) if is_zone_of(az, cx.t.region()) => Some(az.to_string()),
            Some(Val::Known(az)) => {
                let region = cx.t.region().to_string();
                cx.note(
                    EntryKind::Defaulted,
                    i,
                    "availability_zone",
                    format!("`{az}` is not a zone of the lab's region {region}: the subnet gets {region}a"),
                );
                None
            }
            _ => None,
        };
        cx.t.subnets.push(Subnet {
            id: id.clone(),
            name,
            vpc,
            cidr,
            ipv6_cidr,
            route_table: None,
            availability_zone,
        });
        cx.imported[i] = true;
        cx.note(EntryKind::Used, i, "", format!("subnet {id}"));
    }
}
