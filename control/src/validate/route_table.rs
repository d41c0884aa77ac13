//! Route tables: each belongs to an existing VPC, a VPC has exactly one main table (or
//! the id of its implicit one is free), and every route has a unique destination (host
//! bits cleared with a warning) outside the ranges reserved for AWS services, and a target
//! that exists in the table's own VPC and suits the destination (only ENIs and NAT
//! gateways may take a subnet's CIDR or replace a local route; `local` only for a CIDR of
//! the VPC; internet and NAT gateways for IPv4 only).
//!
//! A route's `state` follows one rule for every kind of target (see
//! [`RouteState`](crate::model::RouteState)): a target id the file does not declare is
//! accepted only on a route that says `state = "blackhole"` (its target was deleted; AWS
//! keeps such routes in state `blackhole`), and is an error otherwise; `state =
//! "blackhole"` on a route whose target exists and is available is an error too (AWS
//! would show it active). A route to a declared peering that is `pending-acceptance` is a
//! blackhole either way, with a warning unless it says `state = "blackhole"`.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::context::{check_vpc_ref, Lookups, Report};
use super::peering::peering_route;
use crate::model::{InternetGateway, RouteState, RouteTargetRef, Subnet, Topology, Vpc};
use crate::names::implicit_main_id;

/// Link-local addresses of AWS services (IPv4); no route may point there.
const RESERVED_ROUTE_V4: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(169, 254, 168, 0), 22) {
    Ok(n) => n,
    Err(_) => panic!("constant"),
};
/// The IPv6 range of AWS services; no route may point there.
const RESERVED_ROUTE_V6: Ipv6Net =
    match Ipv6Net::new(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0), 32) {
        Ok(n) => n,
        Err(_) => panic!("constant"),
    };

/// Checks each route table's VPC and the one main table per VPC (a VPC that declares none
/// gets an implicit one, whose id must be free).
pub(super) fn main_tables(r: &mut Report, t: &Topology, broken: &HashSet<String>, l: &Lookups<'_>) {
    let mut main_of: HashMap<usize, String> = HashMap::new();
    for (i, rt) in t.route_tables.iter().enumerate() {
        let res = r.label(&rt.id, "route_table", i);
        let vpc = check_vpc_ref(r, l.vpc, broken, &res, &rt.vpc);
        if let (Some(vi), true) = (vpc, rt.main) {
            if let Some(first) = main_of.get(&vi) {
                r.err(
                    &res,
                    "main",
                    format!(
                        "{} already has a main route table ({first}); a VPC has exactly one",
                        rt.vpc
                    ),
                );
            } else {
                main_of.insert(vi, res.clone());
            }
        }
    }
    for (i, v) in t.vpcs.iter().enumerate() {
        if v.id.is_empty() || main_of.contains_key(&i) {
            continue;
        }
        let implicit = implicit_main_id(&v.id);
        if l.rtb.contains_key(&implicit) || l.subnet.contains_key(&implicit) {
            r.err(
                &v.id,
                "",
                format!(
                    "the VPC declares no main route table, and the id of its implicit main table, `{implicit}`, is taken; mark one route table `main = true`"
                ),
            );
        }
    }
}

/// One route, for the messages and the checks of its target.
#[derive(Clone, Copy)]
struct RouteAt<'a> {
    /// The route table's name.
    res: &'a str,
    /// `routes[j].destination`.
    dfield: &'a str,
    /// `routes[j].target`.
    tfield: &'a str,
    /// `routes[j].state`.
    sfield: &'a str,
    /// The route's state as written.
    state: RouteState,
    /// The destination, normalised.
    dest: IpNet,
    /// The route table's VPC, when it resolves.
    vpc: Option<usize>,
}

/// Checks and normalises every route (see the module documentation). Runs after the ENIs,
/// so that ENI targets resolve to their VPCs.
pub(super) fn routes(r: &mut Report, t: &mut Topology, broken: &HashSet<String>, l: &Lookups<'_>) {
    for (i, rt) in t.route_tables.iter_mut().enumerate() {
        let res = r.label(&rt.id, "route_table", i);
        let vpc = l.vpc.get(&rt.vpc).copied();
        let mut seen: HashMap<IpNet, usize> = HashMap::new();
        for j in 0..rt.routes.len() {
            let dfield = format!("routes[{j}].destination");
            let tfield = format!("routes[{j}].target");
            let sfield = format!("routes[{j}].state");
            r.normalise(&mut rt.routes[j].destination, &res, &dfield);
            let route = &rt.routes[j];
            let dest = route.destination;
            if let Some(k) = seen.get(&dest) {
                r.err(
                    &res,
                    &dfield,
                    format!("{dest} is already the destination of routes[{k}]"),
                );
            } else {
                seen.insert(dest, j);
            }
            let reserved = match dest {
                IpNet::V4(d) => RESERVED_ROUTE_V4
                    .contains(&d)
                    .then(|| RESERVED_ROUTE_V4.to_string()),
                IpNet::V6(d) => RESERVED_ROUTE_V6
                    .contains(&d)
                    .then(|| RESERVED_ROUTE_V6.to_string()),
            };
            if let Some(range) = reserved {
                r.err(
                    &res,
                    &dfield,
                    format!("{dest} is inside {range}, which is reserved for AWS services; routes there are not allowed"),
                );
            }
            let target = route.target_ref();
            let at = RouteAt {
                res: &res,
                dfield: &dfield,
                tfield: &tfield,
                sfield: &sfield,
                state: route.state,
                dest,
                vpc,
            };
            check_target(r, (&t.vpcs, &t.internet_gateways), broken, l, at, target);
            let Some(vi) = vpc else { continue };
            check_local(r, &t.vpcs[vi], &t.subnets, at, target);
        }
    }
}

/// Checks that a route's target exists (or that the route says it was deleted: see the
/// module documentation), belongs to the table's VPC and suits the destination's family.
fn check_target(
    r: &mut Report,
    (vpcs, igws): (&[Vpc], &[InternetGateway]),
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    at: RouteAt<'_>,
    target: RouteTargetRef<'_>,
) {
    let RouteAt {
        res,
        dfield,
        tfield,
        dest,
        vpc,
        ..
    } = at;
    match target {
        RouteTargetRef::Local => available_target(r, at, "`local` (the VPC's own address space)"),
        RouteTargetRef::Blackhole => {}
        RouteTargetRef::Eni(id) => match l.eni.get(id) {
            None if broken.contains(id) => {}
            None => missing_target(r, at, "ENI", id),
            Some(&ei) => {
                available_target(r, at, id);
                own_vpc_target(
                    r,
                    vpcs,
                    (res, tfield),
                    id,
                    (l.eni_vpc[ei], vpc),
                    ("is in", "an ENI"),
                );
            }
        },
        RouteTargetRef::InternetGateway(id) => {
            match l.igw.get(id) {
                None if broken.contains(id) => {}
                None => missing_target(r, at, "internet gateway", id),
                Some(&gi) => {
                    available_target(r, at, id);
                    own_vpc_target(
                        r,
                        vpcs,
                        (res, tfield),
                        id,
                        (l.vpc.get(&igws[gi].vpc).copied(), vpc),
                        ("is attached to", "the internet gateway"),
                    );
                }
            }
            if dest.addr().is_ipv6() {
                r.err(
                    res,
                    dfield,
                    format!("{dest}: IPv6 through an internet gateway is not supported yet; route IPv4 destinations to {id}"),
                );
            }
        }
        RouteTargetRef::NatGateway(id) => {
            match l.nat.get(id) {
                None if broken.contains(id) => {}
                None => missing_target(r, at, "NAT gateway", id),
                Some(&ni) => {
                    available_target(r, at, id);
                    own_vpc_target(
                        r,
                        vpcs,
                        (res, tfield),
                        id,
                        (l.nat_vpc[ni], vpc),
                        ("is in", "a NAT gateway"),
                    );
                }
            }
            if dest.addr().is_ipv6() {
                r.err(
                    res,
                    dfield,
                    format!("{dest}: IPv6 through a NAT gateway (NAT64) is not supported yet; route IPv4 destinations to {id}"),
                );
            }
        }
        RouteTargetRef::Peering(id) => match l.peerings.by_id.get(id) {
            None if broken.contains(id) => {}
            None => missing_target(r, at, "peering connection", id),
            Some(&(ends, active)) => {
                peering_route(r, vpcs, ends, vpc, (res, tfield), dest, id);
                match (active, at.state) {
                    (true, _) => available_target(r, at, id),
                    // Pending: a blackhole whatever the route says, as in AWS; the file
                    // that says so needs no warning.
                    (false, RouteState::Blackhole) => {}
                    (false, RouteState::Active) => r.warnings.push(format!(
                        "{res}.{tfield}: {id} is pending-acceptance: the route is a blackhole until it is accepted (status = \"active\")"
                    )),
                }
            }
        },
        RouteTargetRef::Unsupported(s) => r.err(
            res,
            tfield,
            format!("target `{s}`: this kind of target is not supported yet; use `local`, `blackhole`, an ENI id, an internet gateway id, a NAT gateway id or a peering connection id"),
        ),
        RouteTargetRef::Invalid(s) => r.err(
            res,
            tfield,
            format!("unknown target `{s}`; expected `local`, `blackhole`, an ENI id (`eni-…`), an internet gateway id (`igw-…`), a NAT gateway id (`nat-…`) or a peering connection id (`pcx-…`)"),
        ),
    }
}

/// A target id (`what` names its kind) that the file does not declare: accepted on a
/// route in state `blackhole` (a deleted target, kept as AWS keeps it), an error otherwise.
fn missing_target(r: &mut Report, at: RouteAt<'_>, what: &str, id: &str) {
    if at.state == RouteState::Blackhole {
        return;
    }
    r.err(
        at.res,
        at.tfield,
        format!(
            "no {what} with id `{id}`; if it was deleted, keep the route as AWS does by writing `state = \"blackhole\"` on it (it then drops what it catches), or remove the route"
        ),
    );
}

/// A target that exists and is available (`what` names it): the route is active, so
/// `state = "blackhole"` on it is an error. AWS derives a route's state from its target
/// and never lets it be set; a file that said `blackhole` while the route forwards would
/// mislead its reader (a marker left behind after the target came back, or an attempt to
/// drop traffic, which is `target = "blackhole"`), so both fixes are named.
fn available_target(r: &mut Report, at: RouteAt<'_>, what: &str) {
    if at.state != RouteState::Blackhole {
        return;
    }
    r.err(
        at.res,
        at.sfield,
        format!(
            "{what} exists, so this route is active (AWS derives a route's state from its target): remove `state = \"blackhole\"`, or write `target = \"blackhole\"` to drop what this route catches"
        ),
    );
}

/// Checks a route against the CIDRs of the table's VPC `v`: a destination equal to one of
/// them replaces the local route (ENI or NAT gateway targets only), one inside them must
/// be a subnet's CIDR, and `local` is for a VPC CIDR only.
fn check_local(
    r: &mut Report,
    v: &Vpc,
    subnets: &[Subnet],
    at: RouteAt<'_>,
    target: RouteTargetRef<'_>,
) {
    let RouteAt {
        res,
        dfield,
        tfield,
        dest,
        ..
    } = at;
    let cidrs = v.all_cidrs();
    if cidrs.contains(&dest) {
        if target == RouteTargetRef::Blackhole {
            r.err(
                res,
                tfield,
                format!("{dest} is a CIDR of {}: its local route can only be replaced with an ENI or a NAT gateway target (middlebox), not `blackhole`", v.id),
            );
        } else if let RouteTargetRef::InternetGateway(id) = target {
            r.err(
                res,
                tfield,
                format!("{dest} is a CIDR of {}: an internet gateway ({id}) is not a valid target for routes more specific than or equal to the local route", v.id),
            );
        } else if let RouteTargetRef::Peering(id) = target {
            r.err(
                res,
                tfield,
                format!("{dest} is a CIDR of {}: a peering connection ({id}) is not a valid target for routes more specific than or equal to the local route (route the peer VPC's CIDRs to it)", v.id),
            );
        }
    } else if let Some(covering) = cidrs.iter().find(|c| c.contains(&dest)) {
        let is_subnet = subnets.iter().any(|s| {
            s.vpc == v.id && (IpNet::V4(s.cidr) == dest || s.ipv6_cidr.map(IpNet::V6) == Some(dest))
        });
        match target {
            RouteTargetRef::Local => r.err(
                res,
                tfield,
                format!("`local` is only allowed for a destination equal to a CIDR of {} ({})", v.id, cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")),
            ),
            RouteTargetRef::InternetGateway(id) => r.err(
                res,
                tfield,
                format!("{dest} is more specific than the local route {covering}: an internet gateway ({id}) is not a valid target for routes more specific than or equal to the local route"),
            ),
            RouteTargetRef::Peering(id) => r.err(
                res,
                tfield,
                format!("{dest} is more specific than the local route {covering}: a peering connection ({id}) is not a valid target for routes more specific than or equal to the local route (route the peer VPC's CIDRs to it)"),
            ),
            _ if !is_subnet => r.err(
                res,
                dfield,
                format!("{dest} is more specific than the local route {covering}; such a route must equal the entire CIDR of a subnet of {}", v.id),
            ),
            RouteTargetRef::Eni(_) | RouteTargetRef::NatGateway(_) => {}
            _ => r.err(
                res,
                tfield,
                format!("{dest} is more specific than the local route {covering}; such a route must target an ENI or a NAT gateway"),
            ),
        }
    } else if target == RouteTargetRef::Local {
        r.err(
            res,
            tfield,
            format!(
                "`local` is only allowed for a destination equal to a CIDR of {} ({})",
                v.id,
                cidrs
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

/// Reports a route target `id` of another VPC than the route table's: `vpcs` = (the
/// target's, the table's) indices, `words` = (how the target relates to its VPC, what it
/// is) for the message.
fn own_vpc_target(
    r: &mut Report,
    all: &[Vpc],
    (res, field): (&str, &str),
    id: &str,
    vpcs: (Option<usize>, Option<usize>),
    (verb, what): (&str, &str),
) {
    if let (Some(v), Some(tv)) = vpcs {
        if v != tv {
            r.err(
                res,
                field,
                format!(
                    "{id} {verb} {}, but this route table belongs to {}; a route can only target {what} of its own VPC",
                    all[v].id, all[tv].id
                ),
            );
        }
    }
}
