//! Route tables: the declared ones in file order, then one implicit main table (local
//! routes only) per VPC that declares none. Each table starts with the VPC's local routes
//! (one per CIDR) unless the user replaced one, in which case the user's route takes that
//! place; the table's other routes follow in file order. A route in state `blackhole`
//! whose target the file does not declare (a deleted target) is a blackhole that keeps
//! the target's id for `vpcctl show` and `vpcctl trace`.

use std::collections::HashMap;

use dataplane::vpc::config::{RouteConfig, RouteTableConfig, RouteTarget};

use super::index::Index;
use super::units::idx;
use crate::model::{RouteState, RouteTable, RouteTargetRef, Topology, Vpc};
use crate::names::implicit_main_id;
use crate::report::ValidationError;

/// The compiled route tables and how subnets find theirs.
pub(super) struct RouteTables<'a> {
    /// Declared tables in file order, then the implicit mains.
    pub configs: Vec<RouteTableConfig>,
    /// The index of each declared table id.
    pub by_id: HashMap<&'a str, usize>,
    /// The main table of each VPC (by VPC index).
    pub main_of: HashMap<usize, usize>,
}

/// The route tables of `t`: explicit ones, then the implicit mains. Targets resolve
/// through `ix` and, for peerings, `pcx_idx`; a table whose VPC or a route whose target
/// does not resolve is reported and left out.
pub(super) fn route_tables<'a>(
    t: &'a Topology,
    ix: &Index<'_>,
    pcx_idx: &HashMap<&str, usize>,
    errors: &mut Vec<ValidationError>,
) -> RouteTables<'a> {
    let mut route_tables = Vec::new();
    let mut rtb_idx: HashMap<&str, usize> = HashMap::new();
    let mut main_of: HashMap<usize, usize> = HashMap::new();
    for rt in &t.route_tables {
        let Some(vi) = ix.vpc_of(&rt.id, &rt.vpc, errors) else {
            continue;
        };
        rtb_idx.entry(rt.id.as_str()).or_insert(route_tables.len());
        if rt.main {
            main_of.entry(vi).or_insert(route_tables.len());
        }
        route_tables.push(RouteTableConfig {
            id: rt.id.clone(),
            vpc: idx(vi),
            routes: routes(&t.vpcs[vi], rt, ix, pcx_idx, errors),
        });
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if main_of.contains_key(&vi) {
            continue;
        }
        main_of.insert(vi, route_tables.len());
        route_tables.push(RouteTableConfig {
            id: implicit_main_id(&v.id),
            vpc: idx(vi),
            routes: v
                .all_cidrs()
                .into_iter()
                .map(|destination| RouteConfig::new(destination, RouteTarget::Local))
                .collect(),
        });
    }
    RouteTables {
        configs: route_tables,
        by_id: rtb_idx,
        main_of,
    }
}

/// The routes of table `rt` of VPC `vpc`: one local route per VPC CIDR (the user's route
/// in its place when the table has one with that destination), then the table's other
/// routes in file order.
fn routes(
    vpc: &Vpc,
    rt: &RouteTable,
    ix: &Index<'_>,
    pcx_idx: &HashMap<&str, usize>,
    errors: &mut Vec<ValidationError>,
) -> Vec<RouteConfig> {
    let mut routes: Vec<RouteConfig> = Vec::new();
    let mut used = vec![false; rt.routes.len()];
    for cidr in vpc.all_cidrs() {
        match rt.routes.iter().position(|r| r.destination == cidr) {
            Some(j) => {
                used[j] = true;
                if let Some(rc) = user_route(rt, j, ix, pcx_idx, errors) {
                    routes.push(rc);
                }
            }
            None => routes.push(RouteConfig::new(cidr, RouteTarget::Local)),
        }
    }
    for (j, done) in used.iter().enumerate() {
        if !done {
            if let Some(rc) = user_route(rt, j, ix, pcx_idx, errors) {
                routes.push(rc);
            }
        }
    }
    routes
}

/// Route `j` of table `rt`, compiled, or `None` after reporting a target that does not
/// resolve. A target the file does not declare, on a route that says `state =
/// "blackhole"`, compiles to [`RouteTarget::Blackhole`] remembering the target's id
/// (validation rejects `state = "blackhole"` on a route whose target exists; here a target
/// that resolves always wins, as AWS derives the state from the target).
fn user_route(
    rt: &RouteTable,
    j: usize,
    ix: &Index<'_>,
    pcx_idx: &HashMap<&str, usize>,
    errors: &mut Vec<ValidationError>,
) -> Option<RouteConfig> {
    let route = &rt.routes[j];
    let deleted = route.state == RouteState::Blackhole;
    let mut deleted_target = None;
    // Resolves `id` in `map` (the kind named `what` in the error) to `make(index)`; a
    // missing id is a blackhole when the route says so, else reported.
    let mut lookup = |map: &HashMap<&str, usize>,
                      id: &str,
                      what: &str,
                      make: fn(usize) -> RouteTarget| {
        match map.get(id) {
            Some(&i) => Some(make(i)),
            None if deleted => {
                deleted_target = Some(id.to_string());
                Some(RouteTarget::Blackhole)
            }
            None => {
                errors.push(ValidationError::new(
                    &rt.id,
                    format!("routes[{j}].target"),
                    format!("no {what} with id `{id}`"),
                ));
                None
            }
        }
    };
    let target = match route.target_ref() {
        RouteTargetRef::Local => RouteTarget::Local,
        RouteTargetRef::Blackhole => RouteTarget::Blackhole,
        RouteTargetRef::Eni(id) => lookup(&ix.eni, id, "ENI", |i| RouteTarget::Eni(idx(i)))?,
        RouteTargetRef::InternetGateway(id) => lookup(&ix.igw, id, "internet gateway", |i| {
            RouteTarget::InternetGateway(idx(i))
        })?,
        RouteTargetRef::NatGateway(id) => lookup(&ix.nat, id, "NAT gateway", |i| {
            RouteTarget::NatGateway(idx(i))
        })?,
        RouteTargetRef::Peering(id) => lookup(pcx_idx, id, "peering connection", |i| {
            RouteTarget::Peering(idx(i))
        })?,
        RouteTargetRef::Unsupported(s) | RouteTargetRef::Invalid(s) => {
            errors.push(ValidationError::new(
                &rt.id,
                format!("routes[{j}].target"),
                format!("unsupported target `{s}`"),
            ));
            return None;
        }
    };
    Some(RouteConfig {
        destination: route.destination,
        target,
        deleted_target,
    })
}
