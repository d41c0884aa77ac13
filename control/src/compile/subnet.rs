//! Subnets: in file order, each with its route table (the one it names, else its VPC's
//! main), its router MAC and its network ACL (the one that lists it, else its VPC's
//! default), and its availability zone (the one it names, else `<region>a`).

use dataplane::vpc::config::SubnetConfig;

use super::index::Index;
use super::network_acl::NetworkAcls;
use super::route_table::RouteTables;
use super::units::idx;
use crate::model::Topology;
use crate::names::router_mac;
use crate::report::ValidationError;

/// The subnets of `t` in file order (their index is their model index). A subnet whose
/// VPC or route table does not resolve is reported and left out.
pub(super) fn subnets(
    t: &Topology,
    ix: &Index<'_>,
    route_tables: &RouteTables<'_>,
    network_acls: &NetworkAcls<'_>,
    errors: &mut Vec<ValidationError>,
) -> Vec<SubnetConfig> {
    let region = t.region();
    let mut subnets = Vec::new();
    for s in &t.subnets {
        let Some(vi) = ix.vpc_of(&s.id, &s.vpc, errors) else {
            continue;
        };
        let rt = match &s.route_table {
            Some(id) => route_tables.by_id.get(id.as_str()).copied(),
            None => route_tables.main_of.get(&vi).copied(),
        };
        let Some(rt) = rt else {
            errors.push(ValidationError::new(
                &s.id,
                "route_table",
                "no such route table",
            ));
            continue;
        };
        subnets.push(SubnetConfig {
            id: s.id.clone(),
            vpc: idx(vi),
            ipv4_cidr: Some(s.cidr),
            ipv6_cidr: s.ipv6_cidr,
            route_table: idx(rt),
            router_mac: router_mac(&s.id),
            network_acl: network_acls
                .of_subnet
                .get(s.id.as_str())
                .or_else(|| network_acls.default_of.get(&vi))
                .map(|&ni| idx(ni)),
            availability_zone: s.availability_zone_in(region),
        });
    }
    subnets
}
