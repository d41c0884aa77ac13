//! Internet gateways: in file order, each with a generated MAC
//! ([`igw_mac`]), its uplink's kernel end's one ([`igw_host_mac`]) — on an outside
//! namespace of its own (`internet = {…}`) or on the shared internet segment, with the
//! internet hosts behind it and the other gateways' public addresses as neighbours — and
//! the 1:1 NAT table of
//! its VPC: the associated Elastic IPs in file order, then the ENIs' `public_ip`s in ENI
//! order, then the Elastic IPs of the VPC's public NAT gateways. Public addresses of VPCs
//! without a gateway are dropped (validation warns about ENIs' and rejects NAT gateways').

use std::collections::HashMap;

use std::net::Ipv4Addr;

use dataplane::vpc::config::{
    Attachment, InternetGatewayConfig, MappingTarget, Neighbour, Outside, PublicMapping, Uplink,
};
use dataplane::wire::MacAddr;

use super::index::Index;
use super::nat_gateway::PublicNat;
use super::units::idx;
use crate::model::{InternetSide, Topology, SEGMENT_BRIDGE};
use crate::names::{first_index, igw_host_mac, igw_mac, internet_host_mac, segment_uplink_ifname};
use crate::report::ValidationError;

/// The internet gateways of `t` in file order, each with the 1:1 NAT table of its VPC
/// (`public_nats`: the public NAT gateways, see
/// [`nat_gateways`](super::nat_gateway::nat_gateways)). A gateway whose VPC, or an
/// address whose ENI or Elastic IP, does not resolve is reported and left out.
pub(super) fn internet_gateways(
    t: &Topology,
    ix: &Index<'_>,
    public_nats: &[PublicNat<'_>],
    errors: &mut Vec<ValidationError>,
) -> Vec<InternetGatewayConfig> {
    let eip_idx: HashMap<&str, usize> = first_index(&t.elastic_ips, |x| x.id.as_str());
    let mut internet_gateways = Vec::new();
    for g in &t.internet_gateways {
        let Some(vi) = ix.vpc_of(&g.id, &g.vpc, errors) else {
            continue;
        };
        let mut mappings = elastic_ip_mappings(t, ix, vi, errors);
        mappings.extend(public_ip_mappings(t, ix, vi));
        mappings.extend(nat_gateway_mappings(t, &eip_idx, vi, public_nats, errors));
        internet_gateways.push(InternetGatewayConfig {
            id: g.id.clone(),
            vpc: idx(vi),
            mac: igw_mac(&g.id),
            uplink: Some(match &g.internet {
                Some(inet) => own_namespace(&g.id, inet),
                None => on_segment(t, &g.id),
            }),
            mappings,
        });
    }
    // On the shared segment, each gateway also knows where the others' public addresses
    // are: the internet routes between VPCs.
    let others: Vec<(String, MacAddr, Vec<Ipv4Addr>)> = internet_gateways
        .iter()
        .filter(|g| is_on_segment(g))
        .map(|g| {
            let publics = g.mappings.iter().map(|m| m.public).collect();
            (g.id.clone(), g.mac, publics)
        })
        .collect();
    for g in &mut internet_gateways {
        let id = g.id.clone();
        let Some(Uplink {
            outside: Outside::Segment { neighbours, .. },
            ..
        }) = g.uplink.as_mut()
        else {
            continue;
        };
        for (other, mac, publics) in others.iter().filter(|(o, _, _)| *o != id) {
            neighbours.extend(publics.iter().map(|&ip| Neighbour {
                ip,
                mac: *mac,
                holder: other.clone(),
            }));
        }
    }
    internet_gateways
}

/// Whether gateway `g` sits on the shared internet segment.
fn is_on_segment(g: &InternetGatewayConfig) -> bool {
    matches!(
        g.uplink,
        Some(Uplink {
            outside: Outside::Segment { .. },
            ..
        })
    )
}

/// The uplink of gateway `igw_id` to an outside namespace of its own.
fn own_namespace(igw_id: &str, inet: &InternetSide) -> Uplink {
    Uplink {
        attachment: Attachment {
            netns: inet.netns.clone(),
            ifname: inet.ifname.clone(),
            dhcp: false,
            kind: Default::default(),
        },
        host_mac: igw_host_mac(igw_id),
        mtu: inet.mtu,
        outside: Outside::Namespace {
            cidr: inet.cidr,
            gateway_ip: inet.gateway,
            hosts: inet.hosts.clone(),
        },
    }
}

/// The uplink of gateway `igw_id` on the shared internet segment, with the internet
/// hosts behind it (those that list it, or list none) as neighbours.
fn on_segment(t: &Topology, igw_id: &str) -> Uplink {
    let seg = t.internet.clone().unwrap_or_default();
    let neighbours = t
        .internet_hosts
        .iter()
        .filter(|h| {
            h.internet_gateways.is_empty() || h.internet_gateways.iter().any(|g| g == igw_id)
        })
        .flat_map(|h| {
            let mac = internet_host_mac(&h.id);
            h.addresses.iter().map(move |&ip| Neighbour {
                ip,
                mac,
                holder: h.id.clone(),
            })
        })
        .collect();
    Uplink {
        attachment: Attachment {
            netns: seg.netns,
            ifname: segment_uplink_ifname(igw_id),
            dhcp: false,
            kind: Default::default(),
        },
        host_mac: igw_host_mac(igw_id),
        mtu: seg.mtu,
        outside: Outside::Segment {
            bridge: SEGMENT_BRIDGE.to_string(),
            neighbours,
        },
    }
}

/// The Elastic IPs associated with ENIs of VPC `vi`, in file order (private address: the
/// one named, else the ENI's primary). An Elastic IP whose ENI does not resolve is
/// reported (once per gateway) and left out.
fn elastic_ip_mappings(
    t: &Topology,
    ix: &Index<'_>,
    vi: usize,
    errors: &mut Vec<ValidationError>,
) -> Vec<PublicMapping> {
    let mut mappings = Vec::new();
    for e in &t.elastic_ips {
        let Some(eni) = &e.eni else { continue };
        let Some(&ei) = ix.eni.get(eni.as_str()) else {
            errors.push(ValidationError::new(
                &e.id,
                "eni",
                format!("no ENI with id `{eni}`"),
            ));
            continue;
        };
        if ix.eni_vpc(t, ei) == Some(vi) {
            mappings.push(PublicMapping {
                public: e.public_ip,
                target: MappingTarget::Eni(idx(ei)),
                private: e.private_ip.unwrap_or(t.enis[ei].private_ip),
                source: e.id.clone(),
            });
        }
    }
    mappings
}

/// The `public_ip`s of the ENIs of VPC `vi`, in ENI order (to their primary private IP).
fn public_ip_mappings(t: &Topology, ix: &Index<'_>, vi: usize) -> Vec<PublicMapping> {
    let mut mappings = Vec::new();
    for (ei, n) in t.enis.iter().enumerate() {
        if let (Some(public), Some(true)) = (n.public_ip, ix.eni_vpc(t, ei).map(|v| v == vi)) {
            mappings.push(PublicMapping {
                public,
                target: MappingTarget::Eni(idx(ei)),
                private: n.private_ip,
                source: "public_ip".to_string(),
            });
        }
    }
    mappings
}

/// The Elastic IPs of the public NAT gateways of VPC `vi` (NAT gateway order; per gateway
/// the primary address ↔ `allocation_id`, then secondary address `k` ↔
/// `secondary_allocation_ids[k]`). An allocation that does not resolve is reported and
/// left out.
fn nat_gateway_mappings(
    t: &Topology,
    eip_idx: &HashMap<&str, usize>,
    vi: usize,
    public_nats: &[PublicNat<'_>],
    errors: &mut Vec<ValidationError>,
) -> Vec<PublicMapping> {
    let mut mappings = Vec::new();
    for &(_, ni, addrs) in public_nats.iter().filter(|(v, _, _)| *v == vi) {
        let n = &t.nat_gateways[ni];
        let allocations = n.allocation_id.iter().chain(&n.secondary_allocation_ids);
        for (k, (alloc, &private)) in allocations.zip(addrs).enumerate() {
            let Some(&ei) = eip_idx.get(alloc.as_str()) else {
                let field = match k {
                    0 => "allocation_id".to_string(),
                    k => format!("secondary_allocation_ids[{}]", k - 1),
                };
                errors.push(ValidationError::new(
                    &n.id,
                    field,
                    format!("no Elastic IP with id `{alloc}`"),
                ));
                continue;
            };
            mappings.push(PublicMapping {
                public: t.elastic_ips[ei].public_ip,
                target: MappingTarget::NatGateway(idx(ni)),
                private,
                source: alloc.clone(),
            });
        }
    }
    mappings
}
