//! Compiling packet captures and traffic mirror sessions into the data plane's
//! [`CaptureConfig`] and [`MirrorSessionConfig`].

use std::collections::HashMap;

use dataplane::vpc::config::{
    CaptureConfig, CaptureFilter, MirrorRule, MirrorSessionConfig, PortRange,
};

use super::{fnv1a64, idx, mix64};
use crate::model::{
    MirrorAction, MirrorFilterRule, PortSpec, RuleProtocol, Topology, DEFAULT_SNAPLEN,
};
use crate::report::ValidationError;

/// The VNI of a session that sets none: derived from its id (24 bits), so it is stable
/// across applies and, in practice, different per session (AWS picks a random one that is
/// unique in the account).
pub fn default_vni(session_id: &str) -> u32 {
    (mix64(fnv1a64(session_id.as_bytes())) & u64::from(dataplane::observe::mirror::MAX_VNI)) as u32
}

fn port_range(p: PortSpec) -> PortRange {
    PortRange {
        from: u16::try_from(p.from).unwrap_or(u16::MAX),
        to: u16::try_from(p.to).unwrap_or(u16::MAX),
    }
}

fn mirror_rule(r: &MirrorFilterRule) -> MirrorRule {
    MirrorRule {
        rule_number: u16::try_from(r.rule).unwrap_or(u16::MAX),
        accept: r.action == MirrorAction::Accept,
        protocol: r.protocol.to_config(),
        source: r.source,
        destination: r.destination,
        source_ports: r.source_ports.map(port_range),
        destination_ports: r.destination_ports.map(port_range),
    }
}

/// The packet captures and mirror sessions of `t` (file order), with ENIs resolved
/// through `eni_idx` (model index = compiled index). Dangling references, which
/// validation reports, are pushed to `errors`.
pub(super) fn captures_and_mirrors(
    t: &Topology,
    eni_idx: &HashMap<&str, usize>,
    errors: &mut Vec<ValidationError>,
) -> (Vec<CaptureConfig>, Vec<MirrorSessionConfig>) {
    let mut captures = Vec::new();
    for c in &t.packet_captures {
        let Some(&ei) = eni_idx.get(c.eni.as_str()) else {
            errors.push(ValidationError::new(
                &c.id,
                "eni",
                format!("no ENI with id `{}`", c.eni),
            ));
            continue;
        };
        captures.push(CaptureConfig {
            id: c.id.clone(),
            eni: idx(ei),
            path: c.file.clone(),
            snaplen: u32::try_from(c.snaplen.unwrap_or(DEFAULT_SNAPLEN).max(1)).unwrap_or(u32::MAX),
            filter: c.filter.map(|f| CaptureFilter {
                protocol: match f.protocol {
                    Some(RuleProtocol::Number(n)) => Some(n),
                    Some(RuleProtocol::All) | None => None,
                },
                host: f.host,
                port: f.port.and_then(|p| u16::try_from(p).ok()),
            }),
        });
    }

    let targets: HashMap<&str, &str> = t
        .traffic_mirror_targets
        .iter()
        .map(|x| (x.id.as_str(), x.eni.as_str()))
        .collect();
    let filters: HashMap<&str, usize> = t
        .traffic_mirror_filters
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.as_str(), i))
        .collect();
    let mut sessions = Vec::new();
    for s in &t.traffic_mirror_sessions {
        let mut fail = |field: &str, message: String| {
            errors.push(ValidationError::new(&s.id, field, message));
        };
        let Some(&source) = eni_idx.get(s.source_eni.as_str()) else {
            fail("source_eni", format!("no ENI with id `{}`", s.source_eni));
            continue;
        };
        let Some(&target) = targets
            .get(s.target.as_str())
            .and_then(|eni| eni_idx.get(eni))
        else {
            fail(
                "target",
                format!(
                    "no traffic mirror target (with an ENI) with id `{}`",
                    s.target
                ),
            );
            continue;
        };
        let Some(&fi) = filters.get(s.filter.as_str()) else {
            fail(
                "filter",
                format!("no traffic mirror filter with id `{}`", s.filter),
            );
            continue;
        };
        let f = &t.traffic_mirror_filters[fi];
        sessions.push(MirrorSessionConfig {
            id: s.id.clone(),
            source: idx(source),
            target: idx(target),
            session_number: u16::try_from(s.session_number).unwrap_or(u16::MAX),
            vni: s
                .vni
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or_else(|| default_vni(&s.id)),
            packet_length: s.packet_length.and_then(|n| u32::try_from(n).ok()),
            inbound: f.inbound.iter().map(mirror_rule).collect(),
            outbound: f.outbound.iter().map(mirror_rule).collect(),
        });
    }
    (captures, sessions)
}

#[cfg(test)]
mod tests {
    use dataplane::vpc::config::{PortRange, Protocol};

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
            ("cap-web", 0, 262_144)
        );
        assert_eq!(web.path, format!("{dir}/web.pcap"));
        let f = web.filter.unwrap();
        assert_eq!((f.protocol, f.host, f.port), (Some(6), None, Some(80)));
        let ids = &d.captures[1];
        assert_eq!((ids.eni, ids.snaplen), (1, 128));
        let f = ids.filter.unwrap();
        assert_eq!(f.protocol, None, "all is no condition");
        assert_eq!(f.host.unwrap().to_string(), "10.0.1.0/24");

        assert_eq!(d.mirror_sessions.len(), 2);
        let s = &d.mirror_sessions[0];
        assert_eq!(
            (s.source, s.target, s.session_number, s.vni, s.packet_length),
            (0, 1, 5, 42, Some(100))
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
}
