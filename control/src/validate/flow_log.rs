//! Flow logs (`CreateFlowLogs`): `resource` is an existing ENI (a NAT gateway's network
//! interface included), subnet or VPC (one without ENIs or NAT gateways warns: nothing is
//! written); `traffic_type` is given; `max_aggregation_interval` is 60 or 600;
//! `log_destination` is an absolute path of a file in an existing directory (checked where
//! `vpcctl` runs; two flow logs writing one file warn); `log_format` is `${field}` tokens,
//! each a known field at most once. Also the lab knobs `[lab] flow_log_interval` and a
//! flow log's `lab_interval` (> 0).

use std::collections::HashSet;
use std::path::Path;

use super::context::{Lookups, Report};
use crate::model::{FlowLog, FlowLogScope, Topology};

/// Validates flow logs (see the module documentation) and `[lab] flow_log_interval`.
pub(super) fn flow_logs(r: &mut Report, t: &Topology, broken: &HashSet<String>, l: &Lookups<'_>) {
    if let Some(secs) = t.lab.as_ref().and_then(|lab| lab.flow_log_interval) {
        if !(secs > 0.0 && secs.is_finite()) {
            r.err(
                "lab",
                "flow_log_interval",
                format!("{secs} must be a number of seconds greater than 0 (it replaces every flow log's max_aggregation_interval)"),
            );
        }
    }
    // The first flow log writing each file (by path, compared component-wise).
    let mut files: Vec<(&Path, String)> = Vec::new();
    for (i, f) in t.flow_logs.iter().enumerate() {
        let res = r.label(&f.id, "flow_log", i);
        scope(r, t, broken, l, (f, &res));
        if let Some(secs) = f.lab_interval.filter(|s| !s.is_positive()) {
            r.err(
                &res,
                "lab_interval",
                format!("{}: the lab's aggregation interval is a number of seconds greater than 0 (it replaces this flow log's max_aggregation_interval for tests)", secs.0),
            );
        }
        if f.traffic_type.is_none() {
            r.err(
                &res,
                "traffic_type",
                "missing traffic_type; one of ALL, ACCEPT or REJECT",
            );
        }
        if !matches!(f.max_aggregation_interval, 60 | 600) {
            r.err(
                &res,
                "max_aggregation_interval",
                format!(
                    "{}: the maximum aggregation interval is 60 or 600 seconds (as in AWS); [lab] flow_log_interval sets a shorter one for tests",
                    f.max_aggregation_interval
                ),
            );
        }
        log_destination(r, (f, &res), &mut files);
        log_format(r, (f, &res));
    }
}

/// Checks a flow log's `resource`: an existing ENI (or NAT gateway interface), subnet or
/// VPC; warns when it covers no interface.
fn scope(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    (f, res): (&FlowLog, &str),
) {
    let (kind, covered) = match f.scope() {
        _ if f.resource.is_empty() => {
            r.err(
                res,
                "resource",
                "missing resource; name the `eni-…`, `subnet-…` or `vpc-…` whose traffic it logs",
            );
            ("", None)
        }
        FlowLogScope::Eni(id) => (
            "ENI",
            l.eni.get(id).map(|_| 1).or_else(|| {
                t.nat_gateways
                    .iter()
                    .any(|n| crate::names::nat_gateway_interface_id(n) == id)
                    .then_some(1)
            }),
        ),
        FlowLogScope::Subnet(id) => (
            "subnet",
            l.subnet.get(id).map(|_| {
                t.enis.iter().filter(|e| e.subnet == id).count()
                    + t.nat_gateways.iter().filter(|n| n.subnet == id).count()
            }),
        ),
        FlowLogScope::Vpc(id) => (
            "VPC",
            l.vpc.get(id).map(|&vi| {
                let of_vpc = |v: &[Option<usize>]| v.iter().filter(|&&x| x == Some(vi)).count();
                of_vpc(l.eni_vpc) + of_vpc(l.nat_vpc)
            }),
        ),
        FlowLogScope::Other(id) => {
            r.err(
                res,
                "resource",
                format!("`{id}` is not an ENI, a subnet or a VPC; a flow log covers an ENI (`eni-…`), every ENI of a subnet (`subnet-…`) or every ENI of a VPC (`vpc-…`)"),
            );
            ("", None)
        }
    };
    match covered {
        None if !kind.is_empty() && !broken.contains(&f.resource) => r.err(
            res,
            "resource",
            format!("no {kind} with id `{}`", f.resource),
        ),
        Some(0) => r.warnings.push(format!(
            "{res}.resource: {} has no ENIs (nor NAT gateways): the flow log writes nothing",
            f.resource
        )),
        _ => {}
    }
}

/// Checks a flow log's `log_destination`: an absolute path of a file (not a directory) in
/// an existing directory; warns when an earlier flow log (in `files`) writes it too.
fn log_destination<'t>(
    r: &mut Report,
    (f, res): (&'t FlowLog, &str),
    files: &mut Vec<(&'t Path, String)>,
) {
    let dest = Path::new(&f.log_destination);
    if f.log_destination.is_empty() {
        r.err(
            res,
            "log_destination",
            "missing log_destination; give the absolute path of the file to append the records to",
        );
    } else if !dest.is_absolute() {
        r.err(
            res,
            "log_destination",
            format!(
                "`{}` is not an absolute path; vpcd writes the file, so give it in full (e.g. /var/log/vpc/flow.log)",
                f.log_destination
            ),
        );
    } else if dest.is_dir() {
        r.err(
            res,
            "log_destination",
            format!(
                "{} is a directory; give the path of a file in it",
                f.log_destination
            ),
        );
    } else {
        match dest.parent() {
            Some(dir) if dir.is_dir() => {
                match files.iter().find(|(p, _)| *p == dest) {
                    Some((_, first)) => r.warnings.push(format!(
                        "{res}.log_destination: {} is also the destination of {first}: their records are interleaved in one file",
                        f.log_destination
                    )),
                    None => files.push((dest, res.to_string())),
                }
            }
            Some(dir) => r.err(
                res,
                "log_destination",
                format!(
                    "the directory {} does not exist (vpcd creates the file, not its directory)",
                    dir.display()
                ),
            ),
            None => r.err(
                res,
                "log_destination",
                format!("`{}` names no file", f.log_destination),
            ),
        }
    }
}

/// Checks a flow log's `log_format`: `${field}` tokens separated by spaces, each a known
/// field at most once.
fn log_format(r: &mut Report, (f, res): (&FlowLog, &str)) {
    if let Some(tokens) = f.format_tokens() {
        if tokens.is_empty() {
            r.err(
                res,
                "log_format",
                "empty; leave log_format out for the default format (the version 2 fields)",
            );
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for (k, (token, name)) in tokens.iter().enumerate() {
            let Some(name) = name else {
                r.err(
                    res,
                    "log_format",
                    format!("token {k} `{token}` is not of the form `${{field}}`; write each field as `${{name}}`, separated by spaces"),
                );
                continue;
            };
            if !dataplane::observe::flowlog::FIELDS
                .iter()
                .any(|(n, _)| n == name)
            {
                r.err(
                    res,
                    "log_format",
                    format!(
                        "unknown field `{name}`; the fields are {}",
                        dataplane::observe::flowlog::FIELDS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            } else if !seen.insert(name) {
                r.err(
                    res,
                    "log_format",
                    format!("`${{{name}}}` appears more than once; give each field once"),
                );
            }
        }
    }
}
