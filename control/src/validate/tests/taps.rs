//! Packet captures and traffic mirroring: captures, mirror targets, filters and sessions.

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
netns = "web"

[[eni]]
id = "eni-db"
subnet = "subnet-a"
private_ip = "10.0.1.20"
netns = "db"

[[eni]]
id = "eni-ids"
subnet = "subnet-a"
private_ip = "10.0.1.30"
netns = "ids"

[[eni]]
id = "eni-peer"
subnet = "subnet-b"
private_ip = "10.1.1.10"
netns = "peer"

[[eni]]
id = "eni-far"
subnet = "subnet-c"
private_ip = "10.2.1.10"
netns = "far"

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
        &format!("[[packet_capture]]\nid = \"cap-x\"\neni = \"eni-nope\"\nfile = \"{d}/x.pcap\"\n"),
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
    let f =
        |rules: &str| format!("[[traffic_mirror_filter]]\nid = \"tmf-x\"\ninbound = [{rules}]\n");
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
