//! Packet captures and traffic mirroring (issue VPC-5; see the module documentation of
//! [`crate::validate`]): captures name an existing ENI and a pcap file of their own;
//! mirror targets name an existing ENI; filters have at most 10 rules, numbered and unique
//! per direction, of one address family, with ports for tcp/udp only; sessions name an
//! existing source ENI, target and filter, are numbered uniquely per source (at most 3
//! sources), and mirror to the source's VPC or a peered one.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ipnet::IpNet;

use super::context::{Lookups, Report};
use crate::model::{
    PacketCapture, PortSpec, RuleProtocol, Topology, TrafficMirrorFilter, TrafficMirrorSession,
    TrafficMirrorTarget, DEFAULT_SNAPLEN,
};

/// The largest snap length of a packet capture (libpcap's).
pub const MAX_SNAPLEN: i64 = dataplane::observe::capture::MAX_SNAPLEN as i64;
/// Bounds of a traffic mirror session number (AWS).
pub const SESSION_NUMBERS: std::ops::RangeInclusive<i64> = 1..=32_766;
/// Bounds of a traffic mirror filter rule number (AWS).
pub const MIRROR_RULE_NUMBERS: std::ops::RangeInclusive<i64> = 1..=32_766;
/// Bounds of a VXLAN network identifier (24 bits).
pub const VNIS: std::ops::RangeInclusive<i64> = 0..=dataplane::observe::mirror::MAX_VNI as i64;
/// Bounds of a session's packet length (AWS `PacketLength`: 1-8500).
pub const PACKET_LENGTHS: std::ops::RangeInclusive<i64> = 1..=8_500;
/// Sessions per source ENI (AWS quota, not adjustable).
pub const SESSIONS_PER_SOURCE_MAX: usize = 3;
/// Rules per traffic mirror filter (AWS quota, not adjustable).
pub const MIRROR_FILTER_RULES_MAX: usize = 10;

/// Resolves an `eni = "…"`-style reference, reporting it when missing or dangling.
fn eni_ref(
    r: &mut Report,
    eni_idx: &HashMap<String, usize>,
    broken: &HashSet<String>,
    at: (&str, &str),
    id: &str,
    what: &str,
) -> Option<usize> {
    let (res, field) = at;
    if id.is_empty() {
        r.err(
            res,
            field,
            format!("missing {field}; name the `eni-…` {what}"),
        );
        return None;
    }
    let found = eni_idx.get(id).copied();
    if found.is_none() && !broken.contains(id) {
        r.err(res, field, format!("no ENI with id `{id}`"));
    }
    found
}

/// Checks a port range of a mirror filter rule (bounds, order, TCP/UDP only).
fn check_ports(r: &mut Report, res: &str, field: &str, proto: RuleProtocol, p: PortSpec) {
    if !proto.has_ports() {
        r.err(
            res,
            field,
            format!("ports only apply to tcp and udp rules, not protocol {proto}"),
        );
    } else if p.from > 65_535 || p.to > 65_535 {
        r.err(res, field, format!("ports {p}: a port is 0..=65535"));
    } else if p.from > p.to {
        r.err(
            res,
            field,
            format!("ports {p}: the range must go from the lower port to the higher"),
        );
    }
}

/// Validates packet captures, traffic mirror targets, filters and sessions; normalises
/// their CIDRs.
pub(super) fn captures_and_mirrors(
    r: &mut Report,
    t: &mut Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
) {
    captures(r, &mut t.packet_captures, broken, l.eni);
    let target_eni = targets(r, &t.traffic_mirror_targets, broken, l.eni);
    let filter_rules = filters(r, &mut t.traffic_mirror_filters);
    sessions(r, t, broken, l, (&target_eni, &filter_rules));
}

/// Checks packet captures (ENI, file, snap length, filter); normalises the filters' host
/// CIDRs.
fn captures(
    r: &mut Report,
    captures: &mut [PacketCapture],
    broken: &HashSet<String>,
    eni_idx: &HashMap<String, usize>,
) {
    let mut files: HashMap<String, String> = HashMap::new();
    for (i, c) in captures.iter_mut().enumerate() {
        let res = r.label(&c.id, "packet_capture", i);
        eni_ref(r, eni_idx, broken, (&res, "eni"), &c.eni, "to capture");
        capture_file(r, c, &res, &mut files);
        if let Some(n) = c.snaplen {
            if !(1..=MAX_SNAPLEN).contains(&n) {
                r.err(
                    &res,
                    "snaplen",
                    format!("{n} is outside 1..={MAX_SNAPLEN} (bytes kept of each frame; default {DEFAULT_SNAPLEN})"),
                );
            }
        }
        let Some(f) = c.filter.as_mut() else { continue };
        if let Some(h) = f.host.as_mut() {
            r.normalise(h, &res, "filter.host");
        }
        if let Some(p) = f.port {
            if !(0..=65_535).contains(&p) {
                r.err(&res, "filter.port", format!("{p} is outside 0..=65535"));
            } else if let Some(proto) = f.protocol.filter(|p| *p != RuleProtocol::All) {
                if !proto.has_ports() {
                    r.err(
                        &res,
                        "filter.port",
                        format!("a port only matches tcp and udp, not protocol {proto}"),
                    );
                }
            }
        }
    }
}

/// Checks a capture's `file`: an absolute path of a file in an existing directory, written
/// by no other capture (`files` = file → capture so far).
fn capture_file(r: &mut Report, c: &PacketCapture, res: &str, files: &mut HashMap<String, String>) {
    let path = Path::new(&c.file);
    if c.file.is_empty() {
        r.err(
            res,
            "file",
            "missing file; give the absolute path of the pcap file to write",
        );
    } else if !path.is_absolute() {
        r.err(
            res,
            "file",
            format!(
                "`{}` is not an absolute path; vpcd writes the file, so give it in full (e.g. /var/tmp/web.pcap)",
                c.file
            ),
        );
    } else if c.file.ends_with('/') || path.is_dir() {
        r.err(
            res,
            "file",
            format!("{} is a directory; give the path of a file in it", c.file),
        );
    } else {
        match path.parent() {
            Some(dir) if dir.is_dir() => {
                if let Some(first) = files.get(&c.file) {
                    r.err(
                        res,
                        "file",
                        format!(
                            "{} is also the file of {first}; each capture writes its own file",
                            c.file
                        ),
                    );
                } else {
                    files.insert(c.file.clone(), res.to_string());
                }
            }
            Some(dir) => r.err(
                res,
                "file",
                format!(
                    "the directory {} does not exist (vpcd creates the file, not its directory)",
                    dir.display()
                ),
            ),
            None => r.err(res, "file", format!("{} names no file", c.file)),
        }
    }
}

/// Checks traffic mirror targets. Returns the ENI of each target (when it resolves), by id.
fn targets<'t>(
    r: &mut Report,
    targets: &'t [TrafficMirrorTarget],
    broken: &HashSet<String>,
    eni_idx: &HashMap<String, usize>,
) -> HashMap<&'t str, Option<usize>> {
    let mut target_eni: HashMap<&str, Option<usize>> = HashMap::new();
    for (i, tg) in targets.iter().enumerate() {
        let res = r.label(&tg.id, "traffic_mirror_target", i);
        let e = eni_ref(
            r,
            eni_idx,
            broken,
            (&res, "eni"),
            &tg.eni,
            "that receives the copies",
        );
        target_eni.entry(tg.id.as_str()).or_insert(e);
    }
    target_eni
}

/// Checks and normalises traffic mirror filters. Returns the number of rules of each, by
/// id.
fn filters(r: &mut Report, filters: &mut [TrafficMirrorFilter]) -> HashMap<String, usize> {
    let mut filter_rules: HashMap<String, usize> = HashMap::new();
    for (i, f) in filters.iter_mut().enumerate() {
        let res = r.label(&f.id, "traffic_mirror_filter", i);
        let total = f.inbound.len() + f.outbound.len();
        if total > MIRROR_FILTER_RULES_MAX {
            r.err(
                &res,
                "",
                format!("{total} rules: a traffic mirror filter has at most {MIRROR_FILTER_RULES_MAX} (AWS quota, not adjustable)"),
            );
        }
        for (dir, rules) in [("inbound", &mut f.inbound), ("outbound", &mut f.outbound)] {
            let mut numbers: HashMap<i64, usize> = HashMap::new();
            for (k, rule) in rules.iter_mut().enumerate() {
                let field = format!("{dir}[{k}]");
                if !MIRROR_RULE_NUMBERS.contains(&rule.rule) {
                    r.err(
                        &res,
                        format!("{field}.rule"),
                        format!(
                            "{} is outside {}..={}",
                            rule.rule,
                            MIRROR_RULE_NUMBERS.start(),
                            MIRROR_RULE_NUMBERS.end()
                        ),
                    );
                } else if let Some(first) = numbers.get(&rule.rule) {
                    r.err(
                        &res,
                        format!("{field}.rule"),
                        format!(
                            "rule number {} is already used by {dir}[{first}]; rule numbers are unique per direction",
                            rule.rule
                        ),
                    );
                } else {
                    numbers.insert(rule.rule, k);
                }
                r.normalise(&mut rule.source, &res, &format!("{field}.source"));
                r.normalise(&mut rule.destination, &res, &format!("{field}.destination"));
                if matches!(rule.source, IpNet::V4(_)) != matches!(rule.destination, IpNet::V4(_)) {
                    r.err(
                        &res,
                        format!("{field}.destination"),
                        format!(
                            "{} and source {} are of different address families; a rule matches IPv4 or IPv6",
                            rule.destination, rule.source
                        ),
                    );
                }
                for (name, ports) in [
                    ("source_ports", rule.source_ports),
                    ("destination_ports", rule.destination_ports),
                ] {
                    if let Some(p) = ports {
                        check_ports(r, &res, &format!("{field}.{name}"), rule.protocol, p);
                    }
                }
            }
        }
        if !f.id.is_empty() {
            filter_rules.entry(f.id.clone()).or_insert(total);
        }
    }
    filter_rules
}

/// Checks traffic mirror sessions; `known` = the targets' ENIs and the filters' rule
/// counts, by id.
fn sessions(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    known: (&HashMap<&str, Option<usize>>, &HashMap<String, usize>),
) {
    // Per source ENI: (session number → session), and how many sessions.
    let mut per_source: HashMap<usize, (HashMap<i64, String>, usize)> = HashMap::new();
    for (i, s) in t.traffic_mirror_sessions.iter().enumerate() {
        let res = r.label(&s.id, "traffic_mirror_session", i);
        let source = eni_ref(
            r,
            l.eni,
            broken,
            (&res, "source_eni"),
            &s.source_eni,
            "to mirror",
        );
        let target = session_refs(r, (s, &res), broken, known);
        session_bounds(r, (s, &res));
        if let Some(src) = source {
            per_source_numbers(r, (s, &res), per_source.entry(src).or_default());
        }
        if let (Some(src), Some(tgt)) = (source, target) {
            session_vpcs(r, t, l, (s, &res), (src, tgt));
        }
    }
}

/// Checks a session's `target` and `filter` references (a filter without rules warns).
/// Returns the target's ENI when it resolves.
fn session_refs(
    r: &mut Report,
    (s, res): (&TrafficMirrorSession, &str),
    broken: &HashSet<String>,
    (target_eni, filter_rules): (&HashMap<&str, Option<usize>>, &HashMap<String, usize>),
) -> Option<usize> {
    let target = if s.target.is_empty() {
        r.err(
            res,
            "target",
            "missing target; name the `tmt-…` that receives the copies",
        );
        None
    } else {
        match target_eni.get(s.target.as_str()) {
            Some(e) => *e,
            None => {
                if !broken.contains(&s.target) {
                    r.err(
                        res,
                        "target",
                        format!("no traffic mirror target with id `{}`", s.target),
                    );
                }
                None
            }
        }
    };
    if s.filter.is_empty() {
        r.err(
            res,
            "filter",
            "missing filter; name the `tmf-…` whose rules choose the packets",
        );
    } else {
        match filter_rules.get(&s.filter) {
            Some(0) => r.warnings.push(format!(
                "{res}.filter: {} has no rules: the session mirrors nothing",
                s.filter
            )),
            Some(_) => {}
            None if broken.contains(&s.filter) => {}
            None => r.err(
                res,
                "filter",
                format!("no traffic mirror filter with id `{}`", s.filter),
            ),
        }
    }
    target
}

/// Checks a session's number, VNI and packet length against their bounds.
fn session_bounds(r: &mut Report, (s, res): (&TrafficMirrorSession, &str)) {
    if !SESSION_NUMBERS.contains(&s.session_number) {
        r.err(
            res,
            "session_number",
            format!(
                "{} is outside {}..={} (1 is evaluated first)",
                s.session_number,
                SESSION_NUMBERS.start(),
                SESSION_NUMBERS.end()
            ),
        );
    }
    if let Some(v) = s.vni {
        if !VNIS.contains(&v) {
            r.err(
                res,
                "vni",
                format!(
                    "{v} is outside 0..={} (a VXLAN network identifier has 24 bits)",
                    VNIS.end()
                ),
            );
        }
    }
    if let Some(n) = s.packet_length {
        if !PACKET_LENGTHS.contains(&n) {
            r.err(
                res,
                "packet_length",
                format!(
                    "{n} is outside {}..={} (bytes after the VXLAN header; leave it out to mirror whole packets)",
                    PACKET_LENGTHS.start(),
                    PACKET_LENGTHS.end()
                ),
            );
        }
    }
}

/// Counts a session on its source ENI (at most 3) and checks that its number is unique
/// there (`numbers` = session number → session so far, `count` = sessions so far).
fn per_source_numbers(
    r: &mut Report,
    (s, res): (&TrafficMirrorSession, &str),
    (numbers, count): &mut (HashMap<i64, String>, usize),
) {
    *count += 1;
    if *count == SESSIONS_PER_SOURCE_MAX + 1 {
        r.err(
            res,
            "source_eni",
            format!(
                "{} already has {SESSIONS_PER_SOURCE_MAX} sessions, the most a source ENI can have (AWS quota, not adjustable)",
                s.source_eni
            ),
        );
    }
    if SESSION_NUMBERS.contains(&s.session_number) {
        match numbers.get(&s.session_number) {
            Some(first) => r.err(
                res,
                "session_number",
                format!(
                    "{} is already the number of {first} on {}; session numbers are unique per source ENI",
                    s.session_number, s.source_eni
                ),
            ),
            None => {
                numbers.insert(s.session_number, res.to_string());
            }
        }
    }
}

/// Checks that a session's target ENI (`tgt`) is not its source (`src`) and is in the
/// source's VPC or one joined to it by an active peering connection.
fn session_vpcs(
    r: &mut Report,
    t: &Topology,
    l: &Lookups<'_>,
    (s, res): (&TrafficMirrorSession, &str),
    (src, tgt): (usize, usize),
) {
    if src == tgt {
        r.err(
            res,
            "target",
            format!(
                "{} is the target's ENI too; a session cannot mirror an ENI to itself",
                s.source_eni
            ),
        );
    } else if let (Some(a), Some(b)) = (
        l.eni_vpc.get(src).copied().flatten(),
        l.eni_vpc.get(tgt).copied().flatten(),
    ) {
        if a != b {
            let target_eni = &t.enis[tgt].id;
            match l.peerings.between(a, b) {
                Some((_, true)) => {}
                Some((pcx, false)) => r.err(
                    res,
                    "target",
                    format!(
                        "{} ({target_eni}) is in another VPC, and {pcx} that joins them is not active; the target must be in the source's VPC or a peered one",
                        s.target
                    ),
                ),
                None => r.err(
                    res,
                    "target",
                    format!(
                        "{} ({target_eni}) is in another VPC that no peering connection joins to the source's; the target must be in the source's VPC or a peered one",
                        s.target
                    ),
                ),
            }
        }
    }
}
