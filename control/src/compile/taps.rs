//! Compiling packet captures and traffic mirror sessions into the data plane's
//! [`CaptureConfig`] and [`MirrorSessionConfig`].

use std::collections::HashMap;

use dataplane::vpc::config::{
    CaptureConfig, CaptureFilter, MirrorRule, MirrorSessionConfig, PortRange,
};

use super::units::idx;
use crate::model::{
    MirrorAction, MirrorFilterRule, PortSpec, RuleProtocol, Topology, DEFAULT_SNAPLEN,
};
use crate::names::{fnv1a64, mix64};
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
