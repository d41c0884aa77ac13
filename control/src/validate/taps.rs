//! Validation of packet captures and traffic mirroring (issue VPC-5; see the module
//! documentation of [`crate::validate`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ipnet::IpNet;

use super::{Lookups, Report};
use crate::model::{PortSpec, RuleProtocol, Topology, DEFAULT_SNAPLEN};

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
    eni_idx: &HashMap<String, usize>,
) {
    // --- packet captures ------------------------------------------------------------------
    let mut files: HashMap<String, String> = HashMap::new();
    for i in 0..t.packet_captures.len() {
        let res = r.label(&t.packet_captures[i].id, "packet_capture", i);
        let c = &mut t.packet_captures[i];
        eni_ref(r, eni_idx, broken, (&res, "eni"), &c.eni, "to capture");
        let path = Path::new(&c.file);
        if c.file.is_empty() {
            r.err(
                &res,
                "file",
                "missing file; give the absolute path of the pcap file to write",
            );
        } else if !path.is_absolute() {
            r.err(
                &res,
                "file",
                format!(
                    "`{}` is not an absolute path; vpcd writes the file, so give it in full (e.g. /var/tmp/web.pcap)",
                    c.file
                ),
            );
        } else if c.file.ends_with('/') || path.is_dir() {
            r.err(
                &res,
                "file",
                format!("{} is a directory; give the path of a file in it", c.file),
            );
        } else {
            match path.parent() {
                Some(dir) if dir.is_dir() => {
                    if let Some(first) = files.get(&c.file) {
                        r.err(
                            &res,
                            "file",
                            format!("{} is also the file of {first}; each capture writes its own file", c.file),
                        );
                    } else {
                        files.insert(c.file.clone(), res.clone());
                    }
                }
                Some(dir) => r.err(
                    &res,
                    "file",
                    format!(
                        "the directory {} does not exist (vpcd creates the file, not its directory)",
                        dir.display()
                    ),
                ),
                None => r.err(&res, "file", format!("{} names no file", c.file)),
            }
        }
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

    // --- targets --------------------------------------------------------------------------
    let mut target_eni: HashMap<&str, Option<usize>> = HashMap::new();
    for (i, tg) in t.traffic_mirror_targets.iter().enumerate() {
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

    // --- filters --------------------------------------------------------------------------
    let mut filter_rules: HashMap<String, usize> = HashMap::new();
    for i in 0..t.traffic_mirror_filters.len() {
        let res = r.label(&t.traffic_mirror_filters[i].id, "traffic_mirror_filter", i);
        let f = &mut t.traffic_mirror_filters[i];
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

    // --- sessions -------------------------------------------------------------------------
    // Per source ENI: (session number → session), and how many sessions.
    let mut per_source: HashMap<usize, (HashMap<i64, String>, usize)> = HashMap::new();
    for (i, s) in t.traffic_mirror_sessions.iter().enumerate() {
        let res = r.label(&s.id, "traffic_mirror_session", i);
        let source = eni_ref(
            r,
            eni_idx,
            broken,
            (&res, "source_eni"),
            &s.source_eni,
            "to mirror",
        );
        let target = if s.target.is_empty() {
            r.err(
                &res,
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
                            &res,
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
                &res,
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
                    &res,
                    "filter",
                    format!("no traffic mirror filter with id `{}`", s.filter),
                ),
            }
        }
        if !SESSION_NUMBERS.contains(&s.session_number) {
            r.err(
                &res,
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
                    &res,
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
                    &res,
                    "packet_length",
                    format!(
                        "{n} is outside {}..={} (bytes after the VXLAN header; leave it out to mirror whole packets)",
                        PACKET_LENGTHS.start(),
                        PACKET_LENGTHS.end()
                    ),
                );
            }
        }
        if let Some(src) = source {
            let (numbers, count) = per_source.entry(src).or_default();
            *count += 1;
            if *count == SESSIONS_PER_SOURCE_MAX + 1 {
                r.err(
                    &res,
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
                        &res,
                        "session_number",
                        format!(
                            "{} is already the number of {first} on {}; session numbers are unique per source ENI",
                            s.session_number, s.source_eni
                        ),
                    ),
                    None => {
                        numbers.insert(s.session_number, res.clone());
                    }
                }
            }
        }
        if let (Some(src), Some(tgt)) = (source, target) {
            if src == tgt {
                r.err(
                    &res,
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
                            &res,
                            "target",
                            format!(
                                "{} ({target_eni}) is in another VPC, and {pcx} that joins them is not active; the target must be in the source's VPC or a peered one",
                                s.target
                            ),
                        ),
                        None => r.err(
                            &res,
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
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::check;

    /// A VPC with three ENIs, a peered VPC with one and an unpeered VPC with one; `more`
    /// is appended.
    fn topo(more: &str) -> String {
        format!(
            r#"
[[vpc]]
id = "vpc-a"
cidr = "10.0.0.0/16"

[[vpc]]
id = "vpc-b"
cidr = "10.1.0.0/16"

[[vpc]]
id = "vpc-c"
cidr = "10.2.0.0/16"

[[peering_connection]]
id = "pcx-ab"
requester_vpc = "vpc-a"
accepter_vpc = "vpc-b"

[[subnet]]
id = "subnet-a"
vpc = "vpc-a"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-b"
cidr = "10.1.1.0/24"

[[subnet]]
id = "subnet-c"
vpc = "vpc-c"
cidr = "10.2.1.0/24"

[[eni]]
id = "eni-web"
subnet = "subnet-a"
private_ip = "10.0.1.10"

[[eni]]
id = "eni-db"
subnet = "subnet-a"
private_ip = "10.0.1.20"

[[eni]]
id = "eni-ids"
subnet = "subnet-a"
private_ip = "10.0.1.30"

[[eni]]
id = "eni-peer"
subnet = "subnet-b"
private_ip = "10.1.1.10"

[[eni]]
id = "eni-far"
subnet = "subnet-c"
private_ip = "10.2.1.10"

[[traffic_mirror_target]]
id = "tmt-ids"
eni = "eni-ids"

[[traffic_mirror_filter]]
id = "tmf-https"
inbound = [{{ rule = 10, action = "accept", protocol = "tcp", source = "0.0.0.0/0", destination = "0.0.0.0/0", destination_ports = "443" }}]
{more}
"#
        )
    }

    fn errors(more: &str) -> Vec<String> {
        match check(&topo(more)) {
            Ok((_, w)) => panic!("accepted (warnings {w:?})"),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn one_error(more: &str, needle: &str) {
        let errs = errors(more);
        assert!(
            errs.len() == 1 && errs[0].contains(needle),
            "want one error with {needle:?}, got {errs:#?}"
        );
    }

    fn ok(more: &str) -> (crate::model::Topology, Vec<String>) {
        check(&topo(more)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn dir() -> String {
        std::env::temp_dir()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string()
    }

    fn session(extra: &str) -> String {
        format!(
            r#"
[[traffic_mirror_session]]
id = "tms-web"
source_eni = "eni-web"
target = "tmt-ids"
filter = "tmf-https"
session_number = 1
{extra}
"#
        )
    }

    #[test]
    fn a_complete_file_is_accepted() {
        let d = dir();
        let (t, w) = ok(&format!(
            r#"
[[packet_capture]]
id = "cap-web"
eni = "eni-web"
file = "{d}/web.pcap"
snaplen = 65535
filter = {{ protocol = "tcp", host = "10.0.1.7/24", port = 80 }}

[[traffic_mirror_target]]
id = "tmt-peer"
eni = "eni-peer"

[[traffic_mirror_session]]
id = "tms-db"
source_eni = "eni-db"
target = "tmt-peer"
filter = "tmf-https"
session_number = 32766
vni = 16777215
packet_length = 8500
{}"#,
            session("vni = 0\npacket_length = 1")
        ));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("cap-web.filter.host"), "host bits: {w:?}");
        assert_eq!(
            t.packet_captures[0]
                .filter
                .unwrap()
                .host
                .unwrap()
                .to_string(),
            "10.0.1.0/24"
        );
    }

    #[test]
    fn capture_eni_and_file_are_checked() {
        let d = dir();
        one_error(
            &format!(
                "[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-nope\"\nfile = \"{d}/x.pcap\"\n"
            ),
            "cap-x.eni: no ENI with id `eni-nope`",
        );
        one_error(
            &format!("[[packet_capture]]\nid = \"cap-x\"\nfile = \"{d}/x.pcap\"\n"),
            "cap-x.eni: missing eni",
        );
        one_error(
            "[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-web\"\nfile = \"x.pcap\"\n",
            "cap-x.file: `x.pcap` is not an absolute path",
        );
        one_error(
            "[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-web\"\n",
            "cap-x.file: missing file",
        );
        one_error(
            &format!("[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-web\"\nfile = \"{d}\"\n"),
            "is a directory",
        );
        one_error(
            "[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-web\"\nfile = \"/nonexistent-vpcctl-dir/x.pcap\"\n",
            "cap-x.file: the directory /nonexistent-vpcctl-dir does not exist",
        );
        one_error(
            &format!(
                "[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-web\"\nfile = \"{d}/x.pcap\"\n\
                 [[packet_capture]]\nid = \"cap-y\"\neni = \"eni-db\"\nfile = \"{d}/x.pcap\"\n"
            ),
            "cap-y.file: ",
        );
        one_error(
            &format!("[[packet_capture]]\nid = \"x\"\neni = \"eni-web\"\nfile = \"{d}/x.pcap\"\n"),
            "must start with `cap-`",
        );
    }

    #[test]
    fn capture_snaplen_and_filter_are_checked() {
        let d = dir();
        let cap = |extra: &str| {
            format!("[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-web\"\nfile = \"{d}/x.pcap\"\n{extra}\n")
        };
        one_error(
            &cap("snaplen = 0"),
            "cap-x.snaplen: 0 is outside 1..=262144",
        );
        one_error(&cap("snaplen = 262145"), "cap-x.snaplen: 262145 is outside");
        ok(&cap("snaplen = 1"));
        ok(&cap("snaplen = 262144"));
        one_error(
            &cap("filter = { protocol = \"icmp\", port = 80 }"),
            "cap-x.filter.port: a port only matches tcp and udp",
        );
        one_error(
            &cap("filter = { port = 70000 }"),
            "cap-x.filter.port: 70000",
        );
        ok(&cap("filter = { protocol = \"udp\", port = 53 }"));
        ok(&cap("filter = { protocol = \"all\", port = 53 }"));
        ok(&cap("filter = { host = \"10.0.1.10/32\" }"));
        let errs = errors(&cap("filter = { proto = \"tcp\" }"));
        assert!(errs[0].contains("unknown field `proto`"), "{errs:?}");
    }

    #[test]
    fn sessions_refer_to_existing_resources() {
        one_error(
            &session("").replace("eni-web", "eni-nope"),
            "tms-web.source_eni: no ENI with id `eni-nope`",
        );
        one_error(
            &session("").replace("\"tmt-ids\"", "\"tmt-nope\""),
            "tms-web.target: no traffic mirror target with id `tmt-nope`",
        );
        one_error(
            &session("").replace("\"tmf-https\"", "\"tmf-nope\""),
            "tms-web.filter: no traffic mirror filter with id `tmf-nope`",
        );
        one_error(
            "[[traffic_mirror_target]]\nid = \"tmt-x\"\neni = \"eni-nope\"\n",
            "tmt-x.eni: no ENI with id `eni-nope`",
        );
        one_error(
            "[[traffic_mirror_session]]\nid = \"tms-x\"\nsession_number = 1\ntarget = \"tmt-ids\"\nfilter = \"tmf-https\"\n",
            "tms-x.source_eni: missing source_eni",
        );
    }

    #[test]
    fn session_numbers_are_1_to_32766_and_unique_per_source() {
        one_error(
            &session("").replace("session_number = 1", "session_number = 0"),
            "tms-web.session_number: 0 is outside 1..=32766",
        );
        one_error(
            &session("").replace("session_number = 1", "session_number = 32767"),
            "tms-web.session_number: 32767",
        );
        let twice = format!(
            "{}{}",
            session(""),
            session("").replace("tms-web", "tms-web2")
        );
        one_error(
            &twice,
            "tms-web2.session_number: 1 is already the number of tms-web on eni-web",
        );
        // The same number on another source is fine.
        ok(&format!(
            "{}{}",
            session(""),
            session("")
                .replace("tms-web", "tms-db")
                .replace("eni-web", "eni-db")
        ));
    }

    #[test]
    fn at_most_three_sessions_per_source() {
        let s: String = (1..=4)
            .map(|n| {
                session("")
                    .replace("tms-web", &format!("tms-{n}"))
                    .replace("session_number = 1", &format!("session_number = {n}"))
            })
            .collect();
        one_error(&s, "tms-4.source_eni: eni-web already has 3 sessions");
    }

    #[test]
    fn vni_and_packet_length_are_bounded() {
        one_error(
            &session("vni = 16777216"),
            "tms-web.vni: 16777216 is outside 0..=16777215",
        );
        one_error(&session("vni = -1"), "tms-web.vni: -1");
        one_error(
            &session("packet_length = 0"),
            "tms-web.packet_length: 0 is outside 1..=8500",
        );
        one_error(
            &session("packet_length = 8501"),
            "tms-web.packet_length: 8501",
        );
    }

    #[test]
    fn targets_are_another_eni_of_the_vpc_or_a_peered_one() {
        one_error(
            &session("").replace("eni-web", "eni-ids"),
            "tms-web.target: eni-ids is the target's ENI too",
        );
        let far = "[[traffic_mirror_target]]\nid = \"tmt-far\"\neni = \"eni-far\"\n";
        one_error(
            &format!("{far}{}", session("").replace("\"tmt-ids\"", "\"tmt-far\"")),
            "tms-web.target: tmt-far (eni-far) is in another VPC that no peering connection joins",
        );
        let peer = "[[traffic_mirror_target]]\nid = \"tmt-peer\"\neni = \"eni-peer\"\n";
        let to_peer = format!(
            "{peer}{}",
            session("").replace("\"tmt-ids\"", "\"tmt-peer\"")
        );
        ok(&to_peer);
        let pending = topo(&to_peer).replace(
            "accepter_vpc = \"vpc-b\"",
            "accepter_vpc = \"vpc-b\"\nstatus = \"pending-acceptance\"",
        );
        let errs: Vec<String> = match check(&pending) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        };
        assert!(
            errs.iter()
                .any(|e| e.contains("pcx-ab that joins them is not active")),
            "{errs:?}"
        );
    }

    #[test]
    fn filter_rules_are_checked_like_aws() {
        let f = |rules: &str| {
            format!("[[traffic_mirror_filter]]\nid = \"tmf-x\"\ninbound = [{rules}]\n")
        };
        let r = |extra: &str| {
            format!("{{ rule = 10, action = \"accept\", source = \"0.0.0.0/0\", destination = \"0.0.0.0/0\"{extra} }}")
        };
        ok(&f(&r("")));
        one_error(
            &f(&r("").replace("10", "0")),
            "tmf-x.inbound[0].rule: 0 is outside 1..=32766",
        );
        one_error(
            &f(&r("").replace("rule = 10", "rule = 32767")),
            "tmf-x.inbound[0].rule: 32767",
        );
        one_error(
            &f(&format!("{}, {}", r(""), r(""))),
            "tmf-x.inbound[1].rule: rule number 10 is already used by inbound[0]",
        );
        // The same number in the other direction is fine.
        ok(&format!("{}outbound = [{}]\n", f(&r("")), r("")));
        one_error(
            &f(&r(", destination_ports = \"443\"")),
            "tmf-x.inbound[0].destination_ports: ports only apply to tcp and udp rules, not protocol all",
        );
        one_error(
            &f(&r(", protocol = \"icmp\", source_ports = 80")),
            "tmf-x.inbound[0].source_ports: ports only apply to tcp and udp",
        );
        one_error(
            &f(&r(", protocol = \"tcp\", destination_ports = \"90-80\"")),
            "from the lower port to the higher",
        );
        one_error(
            &f(&r(", protocol = \"udp\", destination_ports = \"70000\"")),
            "a port is 0..=65535",
        );
        one_error(
            &f(&r("").replace("destination = \"0.0.0.0/0\"", "destination = \"::/0\"")),
            "tmf-x.inbound[0].destination: ::/0 and source 0.0.0.0/0 are of different address families",
        );
        one_error(
            &f(&r("").replace("action = \"accept\"", "action = \"allow\"")),
            "unknown variant `allow`",
        );
        let eleven: Vec<String> = (1..=11)
            .map(|n| r("").replace("rule = 10", &format!("rule = {n}")))
            .collect();
        one_error(
            &f(&eleven.join(", ")),
            "tmf-x: 11 rules: a traffic mirror filter has at most 10",
        );
        let (t, w) = ok(&f(&r("").replace("0.0.0.0/0\" }", "10.0.1.9/24\" }")));
        assert!(
            w.iter().any(|w| w.contains("tmf-x.inbound[0].destination")),
            "{w:?}"
        );
        assert_eq!(
            t.traffic_mirror_filters[1].inbound[0]
                .destination
                .to_string(),
            "10.0.1.0/24"
        );
    }

    #[test]
    fn a_filter_without_rules_is_a_warning() {
        let (_, w) = ok(&format!(
            "[[traffic_mirror_filter]]\nid = \"tmf-empty\"\n{}",
            session("").replace("\"tmf-https\"", "\"tmf-empty\"")
        ));
        assert!(
            w.iter()
                .any(|w| w.contains("tms-web.filter: tmf-empty has no rules")),
            "{w:?}"
        );
    }

    #[test]
    fn ids_carry_their_prefixes() {
        one_error(
            "[[traffic_mirror_target]]\nid = \"ids\"\neni = \"eni-ids\"\n",
            "must start with `tmt-`",
        );
        one_error(
            "[[traffic_mirror_filter]]\nid = \"filter\"\n",
            "must start with `tmf-`",
        );
        one_error(
            &session("").replace("\"tms-web\"", "\"web\""),
            "must start with `tms-`",
        );
    }
}
