//! Tests of the compilation of packet captures and traffic mirror sessions.

use dataplane::vpc::config::{EniIdx, PortRange, Protocol};

use crate::compile_str;

#[test]
fn captures_and_sessions_compile_to_the_contract() {
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
filter = {{ protocol = "tcp", port = 80 }}

[[packet_capture]]
id = "cap-ids"
eni = "eni-ids"
file = "{dir}/ids.pcap"
snaplen = 128
filter = {{ protocol = "all", host = "10.0.1.0/24" }}

[[traffic_mirror_target]]
id = "tmt-ids"
eni = "eni-ids"

[[traffic_mirror_filter]]
id = "tmf-https"
inbound = [
  {{ rule = 20, action = "reject", source = "10.0.0.0/8", destination = "0.0.0.0/0" }},
  {{ rule = 10, action = "accept", protocol = "tcp", source = "0.0.0.0/0", destination = "0.0.0.0/0", destination_ports = "443", source_ports = "1024-65535" }},
]

[[traffic_mirror_session]]
id = "tms-web"
source_eni = "eni-web"
target = "tmt-ids"
filter = "tmf-https"
session_number = 5
vni = 42
packet_length = 100

[[traffic_mirror_session]]
id = "tms-web2"
source_eni = "eni-web"
target = "tmt-ids"
filter = "tmf-https"
session_number = 6
"#
    ))
    .unwrap();
    let d = &c.config;
    assert_eq!(d.captures.len(), 2);
    let web = &d.captures[0];
    assert_eq!(
        (web.id.as_str(), web.eni, web.snaplen),
        ("cap-web", EniIdx(0), 262_144)
    );
    assert_eq!(web.path, format!("{dir}/web.pcap"));
    let f = web.filter.unwrap();
    assert_eq!((f.protocol, f.host, f.port), (Some(6), None, Some(80)));
    let ids = &d.captures[1];
    assert_eq!((ids.eni, ids.snaplen), (EniIdx(1), 128));
    let f = ids.filter.unwrap();
    assert_eq!(f.protocol, None, "all is no condition");
    assert_eq!(f.host.unwrap().to_string(), "10.0.1.0/24");

    assert_eq!(d.mirror_sessions.len(), 2);
    let s = &d.mirror_sessions[0];
    assert_eq!(
        (s.source, s.target, s.session_number, s.vni, s.packet_length),
        (EniIdx(0), EniIdx(1), 5, 42, Some(100))
    );
    assert!(s.outbound.is_empty());
    assert_eq!(s.inbound.len(), 2);
    let r = &s.inbound[1];
    assert_eq!(
        (r.rule_number, r.accept, r.protocol),
        (10, true, Protocol::Number(6))
    );
    assert_eq!(r.destination_ports, Some(PortRange { from: 443, to: 443 }));
    assert_eq!(
        r.source_ports,
        Some(PortRange {
            from: 1024,
            to: 65535
        })
    );
    let r = &s.inbound[0];
    assert_eq!(
        (r.rule_number, r.accept, r.protocol),
        (20, false, Protocol::All)
    );
    let s2 = &d.mirror_sessions[1];
    assert_eq!(s2.vni, super::default_vni("tms-web2"));
    assert!(s2.vni <= dataplane::observe::mirror::MAX_VNI);
    assert_ne!(s2.vni, super::default_vni("tms-web"));
    assert_eq!(s2.packet_length, None);
    // The data plane takes it.
    assert!(dataplane::vpc::tables::Tables::build(c.config.clone()).is_ok());
}
