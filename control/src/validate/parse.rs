//! Pass 1: the TOML file to a [`Topology`]. A syntax error is one error for resource
//! `file`; otherwise every resource is deserialised on its own, so a bad value or an unknown
//! field in one resource does not hide the problems of the others. Errors name the
//! resource (its id, or `kind[index]`), the field (a dotted path such as
//! `routes[1].destination`) and the line and column.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::context::Origins;
use crate::model::Topology;
use crate::report::{ValidationError, ValidationErrors};

/// The resource kinds a file may contain (top-level keys).
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "vpc",
    "subnet",
    "route_table",
    "eni",
    "dhcp_options",
    "prefix_list",
    "network_acl",
    "security_group",
    "internet_gateway",
    "internet_host",
    "internet",
    "elastic_ip",
    "nat_gateway",
    "peering_connection",
    "flow_log",
    "packet_capture",
    "traffic_mirror_target",
    "traffic_mirror_filter",
    "traffic_mirror_session",
    "private_hosted_zone",
    "lab",
];

/// What parsing produced: the resources that deserialised, the errors of the others
/// (in file order), and the ids of those others.
pub(super) struct Partial {
    /// The resources that deserialised.
    pub(super) topology: Topology,
    /// The errors of the others, in file order.
    pub(super) errors: Vec<ValidationError>,
    /// The ids of the resources that failed to deserialise (references to them are not
    /// reported as dangling).
    pub(super) broken_ids: HashSet<String>,
    /// Where each parsed resource sits in the file.
    pub(super) origins: Origins,
}

/// Parses `src` resource by resource (see the module documentation); `Err` only for a TOML
/// syntax error.
pub(super) fn parse_partial(src: &str) -> Result<Partial, ValidationErrors> {
    let doc = DeTable::parse(src)
        .map_err(|e| ValidationErrors::from(ValidationError::new("file", "", located(src, &e))))?;
    let mut topo = Topology::default();
    let mut errors: Vec<(usize, ValidationError)> = Vec::new();
    let mut broken_ids = HashSet::new();
    let mut origins = Origins::default();
    for (key, value) in doc.get_ref().iter() {
        let mut cx = Collect {
            src,
            errors: &mut errors,
            broken_ids: &mut broken_ids,
        };
        match key.get_ref().as_ref() {
            "vpc" => cx.collect(&mut topo.vpcs, &mut origins.vpc, "vpc", value),
            "subnet" => cx.collect(&mut topo.subnets, &mut origins.subnet, "subnet", value),
            "route_table" => cx.collect(
                &mut topo.route_tables,
                &mut origins.route_table,
                "route_table",
                value,
            ),
            "eni" => cx.collect(&mut topo.enis, &mut origins.eni, "eni", value),
            "dhcp_options" => cx.collect(
                &mut topo.dhcp_options,
                &mut origins.dhcp_options,
                "dhcp_options",
                value,
            ),
            "prefix_list" => cx.collect(
                &mut topo.prefix_lists,
                &mut origins.prefix_list,
                "prefix_list",
                value,
            ),
            "network_acl" => cx.collect(
                &mut topo.network_acls,
                &mut origins.network_acl,
                "network_acl",
                value,
            ),
            "security_group" => cx.collect(
                &mut topo.security_groups,
                &mut origins.security_group,
                "security_group",
                value,
            ),
            "internet_gateway" => cx.collect(
                &mut topo.internet_gateways,
                &mut origins.internet_gateway,
                "internet_gateway",
                value,
            ),
            "internet_host" => cx.collect(
                &mut topo.internet_hosts,
                &mut origins.internet_host,
                "internet_host",
                value,
            ),
            "internet" => cx.collect_table(&mut topo.internet, "internet", value),
            "elastic_ip" => cx.collect(
                &mut topo.elastic_ips,
                &mut origins.elastic_ip,
                "elastic_ip",
                value,
            ),
            "nat_gateway" => cx.collect(
                &mut topo.nat_gateways,
                &mut origins.nat_gateway,
                "nat_gateway",
                value,
            ),
            "peering_connection" => cx.collect(
                &mut topo.peering_connections,
                &mut origins.peering_connection,
                "peering_connection",
                value,
            ),
            "flow_log" => cx.collect(
                &mut topo.flow_logs,
                &mut origins.flow_log,
                "flow_log",
                value,
            ),
            "packet_capture" => cx.collect(
                &mut topo.packet_captures,
                &mut origins.packet_capture,
                "packet_capture",
                value,
            ),
            "traffic_mirror_target" => cx.collect(
                &mut topo.traffic_mirror_targets,
                &mut origins.traffic_mirror_target,
                "traffic_mirror_target",
                value,
            ),
            "traffic_mirror_filter" => cx.collect(
                &mut topo.traffic_mirror_filters,
                &mut origins.traffic_mirror_filter,
                "traffic_mirror_filter",
                value,
            ),
            "traffic_mirror_session" => cx.collect(
                &mut topo.traffic_mirror_sessions,
                &mut origins.traffic_mirror_session,
                "traffic_mirror_session",
                value,
            ),
            "private_hosted_zone" => cx.collect(
                &mut topo.private_hosted_zones,
                &mut origins.private_hosted_zone,
                "private_hosted_zone",
                value,
            ),
            "lab" => cx.collect_table(&mut topo.lab, "lab", value),
            other => errors.push((
                key.span().start,
                ValidationError::new(
                    "file",
                    other,
                    format!(
                        "{}unknown resource kind `{other}`; expected one of {}",
                        position_prefix(src, key.span().start),
                        TOP_LEVEL_KEYS
                            .iter()
                            .map(|&k| if k == "lab" || k == "internet" {
                                format!("[{k}]")
                            } else {
                                format!("[[{k}]]")
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            )),
        }
    }
    errors.sort_by_key(|(pos, _)| *pos);
    Ok(Partial {
        topology: topo,
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        broken_ids,
        origins,
    })
}

/// Deserialises the resources of one top-level key, recording errors with their byte
/// position (so that they can be sorted into file order).
struct Collect<'a, 's> {
    src: &'s str,
    errors: &'a mut Vec<(usize, ValidationError)>,
    broken_ids: &'a mut HashSet<String>,
}

impl Collect<'_, '_> {
    /// Deserialises a single `[kind]` table (errors are reported for resource `kind`).
    fn collect_table<T: DeserializeOwned>(
        &mut self,
        out: &mut Option<T>,
        kind: &str,
        value: &Spanned<DeValue<'_>>,
    ) {
        let src = self.src;
        if !matches!(value.get_ref(), DeValue::Table(_)) {
            self.errors.push((
                value.span().start,
                ValidationError::new(
                    "file",
                    kind,
                    format!(
                        "{}`{kind}` must be a single table: write it as [{kind}]",
                        position_prefix(src, value.span().start)
                    ),
                ),
            ));
            return;
        }
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => *out = Some(v),
            Err(e) => {
                let field = error_field(&e, value);
                let pos = e.span().map_or(value.span().start, |sp| sp.start);
                self.errors
                    .push((pos, ValidationError::new(kind, field, located(src, &e))));
            }
        }
    }

    /// Deserialises every element of one `[[kind]]` array on its own.
    fn collect<T: DeserializeOwned>(
        &mut self,
        out: &mut Vec<T>,
        origins: &mut Vec<usize>,
        kind: &str,
        value: &Spanned<DeValue<'_>>,
    ) {
        let src = self.src;
        let DeValue::Array(items) = value.get_ref() else {
            self.errors.push((
                value.span().start,
                ValidationError::new(
                    "file",
                    kind,
                    format!(
                        "{}`{kind}` must be an array of tables: write each one as [[{kind}]]",
                        position_prefix(src, value.span().start)
                    ),
                ),
            ));
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let DeValue::Table(table) = item.get_ref() else {
                self.errors.push((
                    item.span().start,
                    ValidationError::new(
                        format!("{kind}[{i}]"),
                        "",
                        format!(
                            "{}expected a table ([[{kind}]])",
                            position_prefix(src, item.span().start)
                        ),
                    ),
                ));
                continue;
            };
            let id = table
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == "id")
                .and_then(|(_, v)| match v.get_ref() {
                    DeValue::String(s) if !s.is_empty() => Some(s.to_string()),
                    _ => None,
                });
            let resource = id.clone().unwrap_or_else(|| format!("{kind}[{i}]"));
            match T::deserialize(ValueDeserializer::from(item.clone())) {
                Ok(v) => {
                    out.push(v);
                    origins.push(i);
                }
                Err(e) => {
                    let field = error_field(&e, item);
                    let pos = e.span().map_or(item.span().start, |sp| sp.start);
                    self.errors
                        .push((pos, ValidationError::new(resource, field, located(src, &e))));
                    self.broken_ids.extend(id);
                }
            }
        }
    }
}

/// The field a deserialisation error of `value` is about: the field a "missing field"
/// message names; for an unknown field, its dotted path when the error points at it
/// (`metadata_options.hop_limit`), else its name; otherwise the path of the value the
/// error points at.
fn error_field(e: &toml::de::Error, value: &Spanned<DeValue<'_>>) -> String {
    let at = e.span().and_then(|sp| path_at(value, sp.start));
    match named_field(e.message()) {
        Some(name) if e.message().starts_with("unknown field") => at
            .filter(|p| p == &name || p.ends_with(&format!(".{name}")))
            .unwrap_or(name),
        Some(name) => name,
        None => at.unwrap_or_default(),
    }
}

/// The field a serde "unknown field" / "missing field" message names.
fn named_field(message: &str) -> Option<String> {
    for lead in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(lead) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// The dotted path (`routes[1].destination`) of the innermost value at byte `pos`.
fn path_at(value: &Spanned<DeValue<'_>>, pos: usize) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(t) => t.iter().find_map(|(k, v)| {
            let span = v.span();
            if span.start <= pos && pos < span.end.max(span.start + 1) || k.span().contains(&pos) {
                let key = k.get_ref().to_string();
                Some(match path_at(v, pos) {
                    Some(rest) if rest.starts_with('[') => format!("{key}{rest}"),
                    Some(rest) => format!("{key}.{rest}"),
                    None => key,
                })
            } else {
                None
            }
        }),
        DeValue::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            let span = v.span();
            if span.start <= pos && pos < span.end.max(span.start + 1) {
                Some(match path_at(v, pos) {
                    Some(rest) if rest.starts_with('[') => format!("[{i}]{rest}"),
                    Some(rest) => format!("[{i}].{rest}"),
                    None => format!("[{i}]"),
                })
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// `line L, column C: ` for a byte offset.
fn position_prefix(src: &str, pos: usize) -> String {
    let pos = pos.min(src.len());
    let before = src.get(..pos).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: ")
}

/// A TOML error as one line, prefixed with its position when known.
fn located(src: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => format!("{}{msg}", position_prefix(src, span.start)),
        None => msg,
    }
}
