//! Private hosted zones and `[lab] region`: a zone id `Z…`, a valid domain name, at
//! least one associated VPC that exists (and no two zones of the same name in one
//! VPC), records of a supported type (A, CNAME, TXT) inside the zone with valid values,
//! no record set twice, and a CNAME alone at its name.

use std::collections::{HashMap, HashSet};

use super::context::{Lookups, Report};
use crate::model::Topology;

/// The record types the VPC resolver serves from a zone.
pub const RECORD_TYPES: &[&str] = &["A", "CNAME", "TXT"];

/// Why `name` (without the final dot) is not a valid DNS name, if it is not: labels of
/// 1–63 letters, digits, `-` or `_`, at most 253 bytes in all.
pub fn bad_dns_name(name: &str) -> Option<String> {
    let n = name.strip_suffix('.').unwrap_or(name);
    if n.is_empty() {
        return Some("the name is empty".into());
    }
    if n.len() > 253 {
        return Some(format!("{} bytes is longer than 253", n.len()));
    }
    for label in n.split('.') {
        if label.is_empty() {
            return Some("it has an empty label (two dots in a row)".into());
        }
        if label.len() > 63 {
            return Some(format!("the label `{label}` is longer than 63 bytes"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Some(format!(
                "`{c}` is not allowed (letters, digits, `-` and `_` only)"
            ));
        }
    }
    None
}

/// Checks `[lab] region`: `xx-name-N` (`us-east-1`, `eu-west-3`, `us-gov-west-1`).
pub(super) fn region(r: &mut Report, t: &Topology) {
    let Some(region) = t.lab.as_ref().and_then(|l| l.region.as_deref()) else {
        return;
    };
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        r.err(
            "lab",
            "region",
            format!("`{region}` is not an AWS region name (like `us-east-1` or `eu-west-3`)"),
        );
    }
}

/// Checks every private hosted zone.
pub(super) fn private_hosted_zones(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
) {
    // (VPC, zone name) → the zone that has it.
    let mut names_in_vpc: HashMap<(usize, String), String> = HashMap::new();
    let mut ids: HashSet<&str> = HashSet::new();
    for (i, z) in t.private_hosted_zones.iter().enumerate() {
        let res = r.label(&z.id, "private_hosted_zone", i);
        if !z.id.is_empty() && !ids.insert(&z.id) {
            r.err(&res, "id", format!("`{}` is used by another zone", z.id));
        }
        if z.id.is_empty() {
            r.err(&res, "id", "missing id; give it one like `Z0123456789ABC`");
        } else if !z.id.starts_with('Z')
            || z.id.len() < 2
            || !z.id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            r.err(
                &res,
                "id",
                format!(
                    "`{}` is not a hosted zone id: `Z` then letters or digits",
                    z.id
                ),
            );
        }
        let zone = z.name.trim_end_matches('.').to_ascii_lowercase();
        let zone_ok = match bad_dns_name(&z.name) {
            Some(why) => {
                r.err(&res, "name", format!("`{}`: {why}", z.name));
                false
            }
            None => true,
        };
        if z.vpcs.is_empty() {
            r.err(
                &res,
                "vpcs",
                "a private hosted zone needs at least one associated VPC",
            );
        }
        for (j, v) in z.vpcs.iter().enumerate() {
            match l.vpc.get(v) {
                Some(&vi) => {
                    if let Some(other) = names_in_vpc.insert((vi, zone.clone()), res.clone()) {
                        r.err(
                            &res,
                            format!("vpcs[{j}]"),
                            format!(
                                "{other} is a zone of the same name associated with `{v}` already"
                            ),
                        );
                    }
                }
                None if broken.contains(v) => {}
                None => r.err(&res, format!("vpcs[{j}]"), format!("no VPC with id `{v}`")),
            }
        }
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let mut cnames: HashSet<String> = HashSet::new();
        let mut others: HashSet<String> = HashSet::new();
        for (k, rec) in z.records.iter().enumerate() {
            let f = |field: &str| format!("records[{k}].{field}");
            let kind = rec.kind.to_ascii_uppercase();
            if !RECORD_TYPES.contains(&kind.as_str()) {
                r.err(
                    &res,
                    f("type"),
                    format!(
                        "`{}` is not supported; the VPC resolver serves A, CNAME and TXT records",
                        rec.kind
                    ),
                );
            }
            let owner = rec.fqdn(&z.name).to_ascii_lowercase();
            if rec.name != "@" && !rec.name.is_empty() {
                if let Some(why) = bad_dns_name(&rec.name) {
                    r.err(&res, f("name"), format!("`{}`: {why}", rec.name));
                } else if zone_ok && bad_dns_name(&owner).is_some() {
                    r.err(&res, f("name"), format!("`{owner}` is too long"));
                }
            }
            if let Some(first) = seen.insert((owner.clone(), kind.clone()), k) {
                r.err(
                    &res,
                    f("name"),
                    format!("`{owner}` {kind} is set twice (records[{first}] too); put every value in one record"),
                );
            }
            if kind == "CNAME" {
                cnames.insert(owner.clone());
            } else {
                others.insert(owner.clone());
            }
            if cnames.contains(&owner) && others.contains(&owner) {
                r.err(
                    &res,
                    f("name"),
                    format!("`{owner}` has a CNAME and other records; a CNAME must be alone at its name"),
                );
            }
            if let Some(ttl) = rec.ttl {
                if !(0..=i64::from(i32::MAX)).contains(&ttl) {
                    r.err(
                        &res,
                        f("ttl"),
                        format!("{ttl} must be within 0..=2147483647"),
                    );
                }
            }
            if rec.values.is_empty() {
                r.err(&res, f("values"), "a record needs at least one value");
            }
            for (m, v) in rec.values.iter().enumerate() {
                let field = format!("records[{k}].values[{m}]");
                match kind.as_str() {
                    "A" if v.parse::<std::net::Ipv4Addr>().is_err() => {
                        r.err(&res, field, format!("`{v}` is not an IPv4 address"));
                    }
                    "CNAME" => {
                        if m > 0 {
                            r.err(&res, field, "a CNAME has exactly one value");
                        } else if let Some(why) = bad_dns_name(v) {
                            r.err(&res, field, format!("`{v}`: {why}"));
                        }
                    }
                    "TXT" if v.len() > 255 => {
                        r.err(&res, field, format!("{} bytes is longer than 255", v.len()));
                    }
                    _ => {}
                }
            }
        }
    }
}
