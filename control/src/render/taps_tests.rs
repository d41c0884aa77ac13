//! Tests of the `Packet captures` and `Traffic mirror sessions` sections of `vpcctl show`.

use dataplane::observe::capture::CaptureReport;
use dataplane::observe::mirror::MirrorSessionReport;
use dataplane::vpc::config::DataplaneConfig;

use super::*;
use crate::compile_str;

#[test]
fn show_lists_captures_and_sessions_with_their_counters() {
    let dir = std::env::temp_dir()
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    let c = compile_str(&format!(
        r#"
[[vpc]]
id = "vpc-a"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-a"
cidr = "10.0.1.0/24"

[[eni]]
id = "eni-web"
subnet = "subnet-a"
private_ip = "10.0.1.10"

[[eni]]
id = "eni-ids"
subnet = "subnet-a"
private_ip = "10.0.1.30"

[[packet_capture]]
id = "cap-web"
eni = "eni-web"
file = "{dir}/web.pcap"
snaplen = 96
filter = {{ protocol = "tcp", host = "10.0.1.30/32", port = 80 }}

[[packet_capture]]
id = "cap-ids"
eni = "eni-ids"
file = "{dir}/ids.pcap"

[[traffic_mirror_target]]
id = "tmt-ids"
eni = "eni-ids"

[[traffic_mirror_filter]]
id = "tmf-https"
inbound = [{{ rule = 10, action = "accept", protocol = "tcp", source = "0.0.0.0/0", destination = "0.0.0.0/0", destination_ports = "443" }}]

[[traffic_mirror_session]]
id = "tms-web"
source_eni = "eni-web"
target = "tmt-ids"
filter = "tmf-https"
session_number = 1
vni = 42
packet_length = 100
"#
    ))
    .unwrap();
    let caps = packet_captures(
        &c.config,
        &[
            CaptureReport {
                id: "cap-web".into(),
                eni: "eni-web".into(),
                path: format!("{dir}/web.pcap"),
                packets: 12,
                bytes: 1152,
                errors: 0,
                error: None,
            },
            CaptureReport {
                id: "cap-ids".into(),
                eni: "eni-ids".into(),
                path: format!("{dir}/ids.pcap"),
                packets: 0,
                bytes: 0,
                errors: 1,
                error: Some("opening x: denied".into()),
            },
        ],
    );
    for needle in [
        "ID       ENI      FILE",
        "tcp and host 10.0.1.30 and port 80",
        "  12       1152   writing",
        "stopped: opening x: denied",
        "262144",
    ] {
        assert!(caps.contains(needle), "{needle:?} in\n{caps}");
    }
    let sessions = mirror_sessions(
        &c.config,
        &[MirrorSessionReport {
            id: "tms-web".into(),
            source: "eni-web".into(),
            target: "eni-ids".into(),
            packets: 3,
            bytes: 450,
            truncated: 3,
            dropped: 0,
        }],
    );
    for needle in [
        "tms-web: eni-web → eni-ids, session number 1, VNI 42, packet length 100\n",
        "  mirrored 3 packets (450 bytes), truncated 3, dropped 0\n",
        "  inbound:\n    RULE  ACTION  PROTOCOL  SOURCE     SRC PORTS  DESTINATION  DST PORTS\n    10    ACCEPT  tcp       0.0.0.0/0  all        0.0.0.0/0    443\n",
        "  outbound: no rules (nothing mirrored)\n",
    ] {
        assert!(sessions.contains(needle), "{needle:?} in\n{sessions}");
    }
    assert!(
        super::summary(&c.config).ends_with(", 2 packet captures, 1 mirror session"),
        "{}",
        super::summary(&c.config)
    );
    let empty = DataplaneConfig::default();
    assert!(packet_captures(&empty, &[]).ends_with("none\n"));
    assert!(mirror_sessions(&empty, &[]).ends_with("none\n"));
    assert_eq!(capture_filter_text(None), "-");
}
