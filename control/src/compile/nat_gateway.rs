//! NAT gateways: in file order, with their network interface's id
//! ([`nat_gateway_interface_id`](crate::names::nat_gateway_interface_id)), their addresses from
//! [`nat_gateway_addresses`](crate::names::nat_gateway_addresses) (the primary first), the
//! port range of `[lab]`, the idle timeout of [`nat_gateway_idle_timeout_ms`] (not scaled
//! by `conntrack_time_scale`), AWS's 55,000 connections per address and destination, and
//! [`NatGatewayConfig::MAX_CONNECTIONS`] translations.

use std::net::Ipv4Addr;

use dataplane::vpc::config::{NatGatewayConfig, PortRange};

use super::index::Index;
use super::units::{idx, secs_to_ms};
use crate::model::{LabSettings, NatConnectivity, NatGateway, Topology};
use crate::report::ValidationError;

/// The NAT gateways' port range of `[lab]`, or AWS's 1024–65535 when unset (or, in an
/// unvalidated model, out of range).
pub fn nat_gateway_ports(lab: Option<&LabSettings>) -> PortRange {
    lab.and_then(|l| l.nat_gateway_ports)
        .and_then(|[from, to]| {
            let (from, to) = (u16::try_from(from).ok()?, u16::try_from(to).ok()?);
            (from <= to).then_some(PortRange { from, to })
        })
        .unwrap_or(NatGatewayConfig::PORTS)
}

/// The idle timeout of NAT gateway `n` in milliseconds: its own `idle_timeout` when set,
/// else `[lab] nat_gateway_idle_timeout`, else AWS's 350 s.
pub fn nat_gateway_idle_timeout_ms(n: &NatGateway, lab: Option<&LabSettings>) -> u64 {
    match n.idle_timeout {
        Some(secs) => secs_to_ms(secs.0),
        None => lab
            .and_then(|l| l.nat_gateway_idle_timeout)
            .map_or(NatGatewayConfig::IDLE_TIMEOUT_MS, secs_to_ms),
    }
}

/// A public NAT gateway, for the 1:1 NAT table of its VPC's internet gateway: its VPC
/// index, its NAT gateway index and its addresses (the primary first).
pub(super) type PublicNat<'a> = (usize, usize, &'a [Ipv4Addr]);

/// The NAT gateways of `t` in file order (their index is their model index), given their
/// addresses `nat_addrs` (see [`nat_gateway_addresses`](crate::names::nat_gateway_addresses)),
/// and the public ones. A gateway whose subnet does not resolve or that has no address is
/// reported and left out.
pub(super) fn nat_gateways<'a>(
    t: &Topology,
    ix: &Index<'_>,
    nat_addrs: &'a [Option<Vec<Ipv4Addr>>],
    errors: &mut Vec<ValidationError>,
) -> (Vec<NatGatewayConfig>, Vec<PublicNat<'a>>) {
    let ports = nat_gateway_ports(t.lab.as_ref());
    let mut nat_gateways = Vec::new();
    // (VPC, NAT gateway index, addresses) of each public NAT gateway, for the mappings.
    let mut public_nats: Vec<PublicNat<'a>> = Vec::new();
    for (ni, (n, addrs)) in t.nat_gateways.iter().zip(nat_addrs).enumerate() {
        let Some(&si) = ix.subnet.get(n.subnet.as_str()) else {
            errors.push(ValidationError::new(
                &n.id,
                "subnet",
                format!("no subnet with id `{}`", n.subnet),
            ));
            continue;
        };
        let Some(addrs) = addrs else {
            errors.push(ValidationError::new(
                &n.id,
                "private_ip",
                format!("{} has no free address to assign", n.subnet),
            ));
            continue;
        };
        let public = n.connectivity == NatConnectivity::Public;
        if public {
            if let Some(&vi) = ix.vpc.get(t.subnets[si].vpc.as_str()) {
                public_nats.push((vi, ni, addrs));
            }
        }
        nat_gateways.push(NatGatewayConfig {
            id: n.id.clone(),
            interface_id: crate::names::nat_gateway_interface_id(n),
            subnet: idx(si),
            addrs: addrs.clone(),
            public,
            ports,
            max_per_destination: NatGatewayConfig::MAX_PER_DESTINATION,
            idle_timeout_ms: nat_gateway_idle_timeout_ms(n, t.lab.as_ref()),
            max_connections: NatGatewayConfig::MAX_CONNECTIONS,
        });
    }
    (nat_gateways, public_nats)
}
