//! ENIs: in file order, each with its addresses, its MAC (the file's, else one derived
//! from its id), its attachment, `Some` list of security groups (its VPC's default when it
//! names none) and its conntrack settings in milliseconds, scaled by
//! `[lab] conntrack_time_scale`.

use dataplane::vpc::config::{Attachment, ConntrackConfig, EniConfig};

use super::index::Index;
use super::security_group::SecurityGroups;
use super::units::{idx, scaled_ms};
use crate::model::{
    Addressing, ConntrackSettings, Topology, DEFAULT_CONNTRACK_MAX_ENTRIES,
    DEFAULT_TCP_ESTABLISHED_TIMEOUT, DEFAULT_UDP_STREAM_TIMEOUT, DEFAULT_UDP_TIMEOUT, ICMP_TIMEOUT,
    OTHER_TIMEOUT, TCP_TRANSITORY_TIMEOUT,
};
use crate::names::eni_mac;
use crate::report::ValidationError;

/// An ENI's conntrack settings in milliseconds, scaled by `[lab] conntrack_time_scale`.
pub fn conntrack_config(settings: Option<&ConntrackSettings>, scale: f64) -> ConntrackConfig {
    let s = settings.copied().unwrap_or_default();
    let secs =
        |v: Option<i64>, default: u64| v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default);
    ConntrackConfig {
        max_entries: s
            .max_entries
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(DEFAULT_CONNTRACK_MAX_ENTRIES),
        tcp_established_ms: scaled_ms(
            secs(s.tcp_established_timeout, DEFAULT_TCP_ESTABLISHED_TIMEOUT),
            scale,
        ),
        tcp_transitory_ms: scaled_ms(TCP_TRANSITORY_TIMEOUT, scale),
        udp_ms: scaled_ms(secs(s.udp_timeout, DEFAULT_UDP_TIMEOUT), scale),
        udp_stream_ms: scaled_ms(
            secs(s.udp_stream_timeout, DEFAULT_UDP_STREAM_TIMEOUT),
            scale,
        ),
        icmp_ms: scaled_ms(ICMP_TIMEOUT, scale),
        other_ms: scaled_ms(OTHER_TIMEOUT, scale),
    }
}

/// The ENIs of `t` in file order (their index is their model index). An ENI whose subnet
/// does not resolve is reported and left out, and so is a group it names that does not.
pub(super) fn enis(
    t: &Topology,
    ix: &Index<'_>,
    security_groups: &SecurityGroups,
    errors: &mut Vec<ValidationError>,
) -> Vec<EniConfig> {
    let (sg_idx, default_sg) = (&security_groups.by_id, &security_groups.default_of);
    let scale = t.lab.as_ref().map_or(1.0, |l| l.conntrack_time_scale);
    let mut enis = Vec::new();
    for e in &t.enis {
        let Some(&si) = ix.subnet.get(e.subnet.as_str()) else {
            errors.push(ValidationError::new(
                &e.id,
                "subnet",
                format!("no subnet with id `{}`", e.subnet),
            ));
            continue;
        };
        let vi = ix.vpc.get(t.subnets[si].vpc.as_str()).copied();
        let groups = match &e.security_groups {
            Some(ids) => {
                let mut v = Vec::new();
                for (k, id) in ids.iter().enumerate() {
                    match sg_idx.get(id) {
                        Some(&gi) => v.push(idx(gi)),
                        None => errors.push(ValidationError::new(
                            &e.id,
                            format!("security_groups[{k}]"),
                            format!("no security group with id `{id}`"),
                        )),
                    }
                }
                v
            }
            None => vi
                .and_then(|vi| default_sg.get(&vi))
                .map(|&gi| vec![idx(gi)])
                .unwrap_or_default(),
        };
        enis.push(EniConfig {
            id: e.id.clone(),
            subnet: idx(si),
            mac: e.mac.unwrap_or_else(|| eni_mac(&e.id)),
            ipv4: e.ipv4_addrs().collect(),
            ipv6: e.ipv6_ips.clone(),
            source_dest_check: e.source_dest_check,
            mtu: e.mtu,
            attachment: e.netns.as_ref().map(|ns| Attachment {
                netns: ns.clone(),
                ifname: e.ifname.clone(),
                dhcp: e.addressing == Addressing::Dhcp,
            }),
            security_groups: Some(groups),
            conntrack: conntrack_config(e.conntrack.as_ref(), scale),
            instance: Default::default(),
        });
    }
    enis
}
