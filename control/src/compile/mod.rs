//! The compiler: a validated [`Topology`] to the data plane's [`DataplaneConfig`].
//!
//! Every cross-reference becomes an index: VPCs in file order; subnets in file order;
//! route tables in file order followed by one implicit main table (id
//! `rtb-main-<vpc suffix>`, local routes only) per VPC that declares none; ENIs in file
//! order. Each route table starts with the VPC's local routes (one per CIDR, IPv4 then
//! IPv6) unless the user replaced one (a route with the same destination), in which case
//! the user's route takes that place. MACs that the file does not set are derived from
//! ids with FNV-1a (plus a finaliser), so they are stable across runs and machines.
//!
//! Firewalls: network ACLs in file order, then one implicit default NACL (id
//! `acl-default-<vpc suffix>`, rule 100 allow all `0.0.0.0/0` both ways, plus rule 101
//! `::/0` on dual-stack VPCs) per VPC that marks none `default = true`; every subnet gets
//! the NACL that lists it, else its VPC's default. NACL entries keep the file's order (the
//! data plane sorts by rule number) and never include the final `*` deny. Security groups
//! in file order, then one implicit default group (id `sg-default-<vpc suffix>`: all
//! traffic from its own members in, all traffic out) per VPC that declares none; a group
//! without `outbound` gets all traffic to `0.0.0.0/0` (and `::/0` on dual-stack VPCs).
//! Every ENI gets `Some` list of groups (its VPC's default when it names none) and its
//! conntrack settings in milliseconds, scaled by `[lab] conntrack_time_scale`. See
//! [`traffic_match`] for how protocol, ports and ICMP fields are encoded.
//!
//! Internet gateways in file order; each gets a generated MAC ([`igw_mac`], first octet
//! `0a`), its outside namespace one too ([`igw_host_mac`], `0e`), and the 1:1 NAT table
//! of its VPC: the associated Elastic IPs in file order (private address: the one named,
//! else the ENI's primary), then the ENIs' `public_ip`s in ENI order (primary private IP),
//! then the Elastic IPs of the VPC's public NAT gateways (NAT gateway order; per gateway
//! the primary address ↔ `allocation_id`, then secondary address `k` ↔
//! `secondary_allocation_ids[k]`), each with target [`MappingTarget::NatGateway`].
//!
//! NAT gateways in file order, with their network interface's id (`network_interface_id`,
//! else `eni-<nat id>`), their addresses from [`nat_gateway_addresses`] (the primary
//! first), the port range of `[lab]` (`nat_gateway_ports`, default 1024–65535), the idle
//! timeout of [`nat_gateway_idle_timeout_ms`] (the gateway's `idle_timeout`, else `[lab]
//! nat_gateway_idle_timeout`, else 350 s; not scaled by `conntrack_time_scale`), AWS's
//! 55,000 connections per address and destination, and
//! [`NatGatewayConfig::MAX_CONNECTIONS`] translations. A route to `nat-…` becomes
//! [`RouteTarget::NatGateway`].
//!
//! VPC peering connections in file order ([`PeeringConfig`], `active` unless the file
//! says `pending-acceptance`). A route to a declared `pcx-…` becomes
//! [`RouteTarget::Peering`] (the data plane drops what a pending one catches as
//! `blackhole`); a route to a `pcx-…` the file does not declare (a deleted peering)
//! becomes [`RouteTarget::Blackhole`], as in AWS. A security-group rule that references a
//! group of another VPC is compiled only when an active peering joins the two VPCs (see
//! [`active_peering_pairs`]); otherwise it is stale and left out (it matches nothing).
//! Every VPC CIDR, secondary ones included, gets its local route.
//!
//! Flow logs in file order ([`FlowLogConfig`](dataplane::vpc::config::FlowLogConfig)): the
//! interfaces of the scope (the ENI or NAT gateway interface itself, or those of the
//! subnet, or of every subnet of the VPC: ENIs in ENI order, then NAT gateways'
//! interfaces in NAT gateway order), the fields of `log_format` or the default version 2
//! fields ([`dataplane::observe::flowlog::DEFAULT_FIELDS`]), and the interval of
//! [`flow_log_interval_ms`] (the flow log's `lab_interval`, else `[lab]
//! flow_log_interval`, else `max_aggregation_interval`).
//!
//! Packet captures and traffic mirror sessions in file order: a capture's snap length
//! defaults to 262144 and a filter protocol of `all` is no condition; a session takes its
//! target's ENI and its filter's rules (in file order; the data plane sorts them by
//! number), and a VNI derived from its id when it sets none ([`default_vni`]).
//!
//! One file per resource kind; [`compile`] runs them in dependency order (peerings, VPCs,
//! route tables, network ACLs, security groups, subnets, ENIs, NAT gateways, internet
//! gateways, flow logs, captures and mirror sessions), which is also the order in which
//! the dangling references of an unvalidated model are reported.
//!
//! [`MappingTarget::NatGateway`]: dataplane::vpc::config::MappingTarget::NatGateway
//! [`NatGatewayConfig::MAX_CONNECTIONS`]: dataplane::vpc::config::NatGatewayConfig::MAX_CONNECTIONS
//! [`RouteTarget::NatGateway`]: dataplane::vpc::config::RouteTarget::NatGateway
//! [`RouteTarget::Peering`]: dataplane::vpc::config::RouteTarget::Peering
//! [`RouteTarget::Blackhole`]: dataplane::vpc::config::RouteTarget::Blackhole
//! [`PeeringConfig`]: dataplane::vpc::config::PeeringConfig

use dataplane::vpc::config::DataplaneConfig;

use crate::model::Topology;
pub use crate::names::{
    eni_mac, fnv1a64, highest_free_ipv4, igw_host_mac, igw_mac, implicit_default_nacl_id,
    implicit_default_sg_id, implicit_main_id, mix64, nat_gateway_addresses,
    nat_gateway_interface_id, router_mac, ENI_MAC_OUI, IGW_HOST_MAC_OUI, IGW_MAC_OUI,
    ROUTER_MAC_OUI,
};
use crate::report::ValidationErrors;

mod eni;
mod flow_log;
mod index;
mod internet_gateway;
mod nat_gateway;
mod network_acl;
mod peering;
mod private_hosted_zone;
mod route_table;
mod security_group;
mod subnet;
mod taps;
mod traffic;
mod units;
mod vpc;

#[cfg(test)]
mod firewall_tests;
#[cfg(test)]
mod flow_log_tests;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod peering_tests;
#[cfg(test)]
mod taps_tests;
#[cfg(test)]
mod tests;

pub use eni::conntrack_config;
pub use flow_log::flow_log_interval_ms;
pub use nat_gateway::{nat_gateway_idle_timeout_ms, nat_gateway_ports};
pub use peering::active_peering_pairs;
pub use taps::default_vni;
pub use traffic::traffic_match;
pub use units::{scaled_ms, secs_to_ms};

use index::Index;

/// Compiles a validated topology (see [`crate::validate::validate`]). A dangling
/// reference, which validation already reports, is returned as an error rather than
/// panicking, so calling this on an unvalidated model is safe.
pub fn compile(t: &Topology) -> Result<DataplaneConfig, ValidationErrors> {
    let mut errors = Vec::new();
    let ix = Index::new(t);
    let (peerings, pcx_idx) = peering::peerings(t, &ix, &mut errors);
    let vpcs = vpc::vpcs(t);
    let route_tables = route_table::route_tables(t, &ix, &pcx_idx, &mut errors);
    let network_acls = network_acl::network_acls(t, &ix, &mut errors);
    let security_groups = security_group::security_groups(t, &ix, &mut errors);
    let subnets = subnet::subnets(t, &ix, &route_tables, &network_acls, &mut errors);
    let enis = eni::enis(t, &ix, &security_groups, &mut errors);
    let nat_addrs = nat_gateway_addresses(t);
    let (nat_gateways, public_nats) = nat_gateway::nat_gateways(t, &ix, &nat_addrs, &mut errors);
    let internet_gateways = internet_gateway::internet_gateways(t, &ix, &public_nats, &mut errors);
    let flow_logs = flow_log::flow_logs(t, &vpcs, &subnets, (&enis, &nat_gateways), &mut errors);
    let (captures, mirror_sessions) = taps::captures_and_mirrors(t, &ix.eni, &mut errors);
    let dns = private_hosted_zone::dns(t, &ix, &mut errors);

    if errors.is_empty() {
        Ok(DataplaneConfig {
            vpcs,
            subnets,
            route_tables: route_tables.configs,
            enis,
            network_acls: network_acls.configs,
            security_groups: security_groups.configs,
            internet_gateways,
            nat_gateways,
            peerings,
            flow_logs,
            captures,
            mirror_sessions,
            dns,
            region: t
                .lab
                .as_ref()
                .and_then(|l| l.region.clone())
                .unwrap_or_default(),
        })
    } else {
        Err(ValidationErrors(errors))
    }
}
