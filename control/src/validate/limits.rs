//! Length and count limits: what keeps a file that is otherwise valid from making `apply`
//! or a renderer pathological. Ids are limited in `ids.rs` ([`super::ids::ID_MAX_LEN`]);
//! here: names and descriptions (at most [`TEXT_MAX_LEN`] characters, no control
//! characters; AWS's limit for tag values and security-group descriptions), file paths
//! (at most [`PATH_MAX_LEN`] bytes, Linux's `PATH_MAX` less the NUL), the flow-log format
//! and `[lab] region` (bounded like the ids), and hard counts above AWS's quotas: routes
//! per table and entries per prefix list (AWS's maximum, 1,000), records per private hosted
//! zone (AWS's default quota, 10,000).

use super::context::Report;
use super::ids::ID_MAX_LEN;
use crate::model::Topology;

/// The longest name or description, in characters.
pub const TEXT_MAX_LEN: usize = 255;
/// The longest file path (`file`, `log_destination`), in bytes.
pub const PATH_MAX_LEN: usize = 4095;
/// The longest `log_format`, in characters.
pub const LOG_FORMAT_MAX_LEN: usize = 4096;
/// Routes per route table (a hard limit; AWS's default quota is 50, its maximum 1,000).
pub const ROUTES_MAX: usize = 1000;
/// CIDR entries per prefix list (AWS's `max_entries` maximum).
pub const PREFIX_LIST_ENTRIES_MAX: usize = 1000;
/// Records per private hosted zone (AWS's default quota).
pub const ZONE_RECORDS_MAX: usize = 10_000;

/// Why `text` is not an acceptable name or description, if it is not.
pub fn bad_text(text: &str) -> Option<String> {
    let n = text.chars().count();
    if n > TEXT_MAX_LEN {
        return Some(format!(
            "{n} characters is longer than {TEXT_MAX_LEN} (AWS's limit for names and descriptions)"
        ));
    }
    text.chars().find(|c| c.is_control()).map(|c| {
        format!(
            "control character {:?} is not allowed (names and descriptions are one line of text)",
            c
        )
    })
}

/// Checks an optional name or description.
fn text(r: &mut Report, res: &str, field: &str, value: Option<&str>) {
    if let Some(why) = value.and_then(bad_text) {
        r.err(res, field, why);
    }
}

/// Checks a length in bytes or characters (`unit`) against `max`.
fn length(r: &mut Report, res: &str, field: &str, len: usize, max: usize, unit: &str) {
    if len > max {
        r.err(res, field, format!("{len} {unit} is longer than {max}"));
    }
}

/// Checks the names, descriptions, paths and counts of every resource.
pub(super) fn limits(r: &mut Report, t: &Topology) {
    macro_rules! names {
        ($($field:ident: $kind:literal;)*) => {$(
            for (i, x) in t.$field.iter().enumerate() {
                let res = r.label(&x.id, $kind, i);
                text(r, &res, "name", x.name.as_deref());
            }
        )*};
    }
    names! {
        vpcs: "vpc";
        subnets: "subnet";
        route_tables: "route_table";
        enis: "eni";
        dhcp_options: "dhcp_options";
        prefix_lists: "prefix_list";
        network_acls: "network_acl";
        security_groups: "security_group";
        internet_gateways: "internet_gateway";
        internet_hosts: "internet_host";
        elastic_ips: "elastic_ip";
        nat_gateways: "nat_gateway";
        peering_connections: "peering_connection";
        packet_captures: "packet_capture";
        traffic_mirror_targets: "traffic_mirror_target";
        traffic_mirror_filters: "traffic_mirror_filter";
        traffic_mirror_sessions: "traffic_mirror_session";
    }
    for (i, g) in t.security_groups.iter().enumerate() {
        let res = r.label(&g.id, "security_group", i);
        text(r, &res, "description", g.description.as_deref());
        let dirs = [
            ("inbound", Some(&g.inbound)),
            ("outbound", g.outbound.as_ref()),
        ];
        for (dir, rules) in dirs {
            for (j, rule) in rules.into_iter().flatten().enumerate() {
                let field = format!("{dir}[{j}].description");
                text(r, &res, &field, rule.description.as_deref());
            }
        }
    }
    for (i, f) in t.traffic_mirror_filters.iter().enumerate() {
        let res = r.label(&f.id, "traffic_mirror_filter", i);
        for (dir, rules) in [("inbound", &f.inbound), ("outbound", &f.outbound)] {
            for (j, rule) in rules.iter().enumerate() {
                let field = format!("{dir}[{j}].description");
                text(r, &res, &field, rule.description.as_deref());
            }
        }
    }
    for (i, rt) in t.route_tables.iter().enumerate() {
        let res = r.label(&rt.id, "route_table", i);
        length(r, &res, "routes", rt.routes.len(), ROUTES_MAX, "routes");
        for (j, route) in rt.routes.iter().enumerate() {
            let field = format!("routes[{j}].target");
            length(
                r,
                &res,
                &field,
                route.target.chars().count(),
                ID_MAX_LEN,
                "characters",
            );
        }
    }
    for (i, pl) in t.prefix_lists.iter().enumerate() {
        let res = r.label(&pl.id, "prefix_list", i);
        let n = pl.entries.len();
        length(r, &res, "entries", n, PREFIX_LIST_ENTRIES_MAX, "entries");
        if pl
            .max_entries
            .is_some_and(|m| m > PREFIX_LIST_ENTRIES_MAX as i64)
        {
            r.err(
                &res,
                "max_entries",
                format!("at most {PREFIX_LIST_ENTRIES_MAX} (AWS's maximum)"),
            );
        }
    }
    for (i, z) in t.private_hosted_zones.iter().enumerate() {
        let res = r.label(&z.id, "private_hosted_zone", i);
        length(r, &res, "id", z.id.len(), ID_MAX_LEN, "characters");
        length(
            r,
            &res,
            "records",
            z.records.len(),
            ZONE_RECORDS_MAX,
            "records",
        );
    }
    for (i, f) in t.flow_logs.iter().enumerate() {
        let res = r.label(&f.id, "flow_log", i);
        let dest = f.log_destination.len();
        length(r, &res, "log_destination", dest, PATH_MAX_LEN, "bytes");
        if let Some(fmt) = &f.log_format {
            let n = fmt.chars().count();
            length(r, &res, "log_format", n, LOG_FORMAT_MAX_LEN, "characters");
        }
    }
    for (i, c) in t.packet_captures.iter().enumerate() {
        let res = r.label(&c.id, "packet_capture", i);
        length(r, &res, "file", c.file.len(), PATH_MAX_LEN, "bytes");
    }
    if let Some(region) = t.lab.as_ref().and_then(|l| l.region.as_deref()) {
        length(
            r,
            "lab",
            "region",
            region.chars().count(),
            ID_MAX_LEN,
            "characters",
        );
    }
}
