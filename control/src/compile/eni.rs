//! ENIs: in file order, each with its addresses, its MAC (the file's, else one derived
//! from its id), its attachment (a namespace TAP, or a `qemu-stream` or `vhost-user`
//! socket at `socket`, default `/run/vpcd/<eni id>.sock`), `Some` list of security groups (its VPC's default when it
//! names none) and its conntrack settings in milliseconds, scaled by
//! `[lab] conntrack_time_scale`; and the instance it belongs to (its id and device index
//! from [`crate::names::eni_instances`], the instance's type, image and metadata options
//! from the first of its ENIs that sets each, else the defaults).

use std::collections::HashMap;

use dataplane::vpc::config::{
    Attachment, AttachmentKind, ConntrackConfig, EniConfig, InstanceConfig, MetadataOptions,
};

use super::index::Index;
use super::security_group::SecurityGroups;
use super::units::{idx, scaled_ms};
use crate::model::{
    Addressing, ConntrackSettings, EniAttachment, InstanceMetadataOptions, Topology,
    DEFAULT_CONNTRACK_MAX_ENTRIES, DEFAULT_TCP_ESTABLISHED_TIMEOUT, DEFAULT_UDP_STREAM_TIMEOUT,
    DEFAULT_UDP_TIMEOUT, ICMP_TIMEOUT, OTHER_TIMEOUT, TCP_TRANSITORY_TIMEOUT,
};
use crate::names::{eni_instances, eni_mac};
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

/// An instance's metadata options as the data plane holds them (validated: the hop
/// limit is 1..=64; one out of range is clamped).
pub fn metadata_options(m: &InstanceMetadataOptions) -> MetadataOptions {
    MetadataOptions {
        endpoint_enabled: m.endpoint_enabled(),
        tokens_required: m.tokens_required(),
        hop_limit: u8::try_from(m.hop_limit().clamp(1, 64)).unwrap_or(1),
    }
}

/// The instance of every ENI of `t` (by model index): its id and the ENI's device index
/// from [`eni_instances`]; the type, image and metadata options of the first ENI of the
/// instance that sets each (validation makes the others agree), else the defaults.
fn instance_configs(t: &Topology) -> Vec<InstanceConfig> {
    let derived = eni_instances(t);
    let mut shared: HashMap<&str, InstanceConfig> = HashMap::new();
    let mut set: HashMap<&str, [bool; 3]> = HashMap::new();
    for (e, inst) in t.enis.iter().zip(&derived) {
        let c = shared
            .entry(inst.id.as_str())
            .or_insert_with(|| InstanceConfig {
                id: inst.id.clone(),
                ..InstanceConfig::default()
            });
        let done = set.entry(inst.id.as_str()).or_default();
        if let (Some(ty), false) = (&e.instance_type, done[0]) {
            c.instance_type = ty.clone();
            done[0] = true;
        }
        if let (Some(ami), false) = (&e.image_id, done[1]) {
            c.image_id = ami.clone();
            done[1] = true;
        }
        if let (Some(m), false) = (&e.metadata_options, done[2]) {
            c.metadata = metadata_options(m);
            done[2] = true;
        }
    }
    derived
        .iter()
        .map(|inst| InstanceConfig {
            device_index: inst.device_index,
            ..shared.get(inst.id.as_str()).cloned().unwrap_or_default()
        })
        .collect()
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
    let instances = instance_configs(t);
    let mut enis = Vec::new();
    for (e, instance) in t.enis.iter().zip(instances) {
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
            attachment: match e.attachment_kind() {
                Some(EniAttachment::QemuStream) => e.stream_socket().map(Attachment::qemu_stream),
                Some(EniAttachment::VhostUser) => e.stream_socket().map(Attachment::vhost_user),
                Some(EniAttachment::Interface) => e
                    .interface
                    .as_ref()
                    .map(|name| Attachment::interface(name, e.netns.clone())),
                Some(EniAttachment::Namespace) | None => e.netns.as_ref().map(|ns| Attachment {
                    netns: ns.clone(),
                    ifname: e.ifname.clone(),
                    dhcp: e.addressing == Addressing::Dhcp,
                    kind: AttachmentKind::Namespace,
                }),
            },
            security_groups: Some(groups),
            conntrack: conntrack_config(e.conntrack.as_ref(), scale),
            pps_allowance: e.pps_allowance.unwrap_or(0),
            instance,
        });
    }
    enis
}
