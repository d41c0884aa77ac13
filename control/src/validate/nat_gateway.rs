//! NAT gateways (`CreateNatGateway`): an existing subnet, in a VPC with an internet
//! gateway when public; Elastic IPs required when public (one per address), forbidden when
//! private, existing, each used once across NAT gateways and ENI associations; at most 8
//! addresses, assignable addresses of the subnet, not held by an ENI or another NAT
//! gateway. Its network interface's id (`network_interface_id`, or the one derived from
//! the gateway's id) is an `eni-…` id that no ENI and no other NAT gateway's interface
//! has. The lab knob `idle_timeout` is a number of seconds > 0. Warnings: a public gateway whose subnet has no route to the internet gateway,
//! more Elastic IPs than AWS's default quota, and a route of the gateway's own subnet to
//! the gateway.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use super::context::{claim, Lookups, Report};
use crate::model::{NatConnectivity, NatGateway, RouteTargetRef, Subnet, Topology};
use crate::names::{first_index, reserved_ipv4_reason};

/// The most IPv4 addresses a NAT gateway has (1 primary + 7 secondary).
pub const NAT_GATEWAY_MAX_ADDRESSES: usize = 8;
/// Elastic IPs per public NAT gateway beyond which a warning is given (AWS's default
/// quota, raisable to 8).
pub const NAT_GATEWAY_EIPS_QUOTA: usize = 2;

/// Validates NAT gateways: their subnet (which must exist and, for a public gateway, be in a
/// VPC with an internet gateway), their Elastic IPs (required when public, forbidden when
/// private, existing, one per address, each used once across NAT gateways and ENI
/// associations) and their addresses (inside the subnet, not reserved, at most 8, not held
/// by an ENI or another NAT gateway: claimed in `ips` after the ENIs). Warns when a public
/// gateway's subnet has no route to an internet gateway, when it has more Elastic IPs than
/// AWS's default quota, and when the gateway's own subnet routes to it.
pub(super) fn nat_gateways(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    ips: &mut HashMap<(usize, IpAddr), String>,
) {
    let addrs = crate::names::nat_gateway_addresses(t);
    let eip_idx: HashMap<&str, usize> = first_index(&t.elastic_ips, |x| x.id.as_str());
    let rtb_idx: HashMap<&str, usize> = first_index(&t.route_tables, |x| x.id.as_str());
    let mut igw_of_vpc: HashMap<usize, &str> = HashMap::new();
    for g in &t.internet_gateways {
        if let Some(&vi) = l.vpc.get(&g.vpc) {
            igw_of_vpc.entry(vi).or_insert(g.id.as_str());
        }
    }
    // Who holds each Elastic IP: the ENI association written on the EIP itself first.
    let mut eip_user: HashMap<&str, String> = HashMap::new();
    for (i, e) in t.elastic_ips.iter().enumerate() {
        if let (Some(eni), false) = (&e.eni, e.id.is_empty()) {
            eip_user
                .entry(e.id.as_str())
                .or_insert_with(|| format!("{eni} ({}.eni)", r.label(&e.id, "elastic_ip", i)));
        }
    }
    // The first holder of each interface id: the ENIs, then the NAT gateways in order.
    let mut iface_user: HashMap<String, String> = t
        .enis
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.id.is_empty())
        .map(|(k, e)| (e.id.clone(), format!("ENI {}", r.label(&e.id, "eni", k))))
        .collect();
    for (i, n) in t.nat_gateways.iter().enumerate() {
        let res = r.label(&n.id, "nat_gateway", i);
        let public = n.connectivity == NatConnectivity::Public;
        interface(r, (n, &res), &mut iface_user);
        if let Some(secs) = n.idle_timeout.filter(|s| !s.is_positive()) {
            r.err(
                &res,
                "idle_timeout",
                format!(
                    "{}: the idle timeout is a number of seconds greater than 0 (a lab knob; AWS's is a fixed 350)",
                    secs.0
                ),
            );
        }
        allocations(r, (n, &res, public), broken, &eip_idx, &mut eip_user);
        if 1 + n.secondary_private_ips.len() > NAT_GATEWAY_MAX_ADDRESSES {
            r.err(
                &res,
                "secondary_private_ips",
                format!(
                    "{} secondary addresses; a NAT gateway has at most {} ({NAT_GATEWAY_MAX_ADDRESSES} IPv4 addresses in all)",
                    n.secondary_private_ips.len(),
                    NAT_GATEWAY_MAX_ADDRESSES - 1
                ),
            );
        }

        // Subnet and its VPC's internet gateway.
        if n.subnet.is_empty() {
            r.err(
                &res,
                "subnet",
                "missing subnet; name the `subnet-…` this NAT gateway lives in",
            );
            continue;
        }
        let Some(&si) = l.subnet.get(&n.subnet) else {
            if !broken.contains(&n.subnet) {
                r.err(&res, "subnet", format!("no subnet with id `{}`", n.subnet));
            }
            continue;
        };
        let s = &t.subnets[si];
        let vpc = l.vpc.get(&s.vpc).copied();
        let igw = vpc.and_then(|vi| igw_of_vpc.get(&vi).copied());
        if let (true, Some(vi), None) = (public, vpc, igw) {
            r.err(
                &res,
                "subnet",
                format!(
                    "Network {} has no internet gateway attached (a public NAT gateway needs one: attach an [[internet_gateway]] to {} or set connectivity = \"private\")",
                    t.vpcs[vi].id, t.vpcs[vi].id
                ),
            );
        }
        addresses(r, (n, i, &res), s, vpc, &addrs, ips);
        route_warnings(r, t, (n, &res), s, (public, igw), &rtb_idx);
    }
}

/// Checks the id of a NAT gateway's network interface: `network_interface_id` is `eni-`
/// followed by letters, digits, `-` or `_`; it (or the id derived from the gateway's)
/// is no ENI's and no earlier NAT gateway's interface's (`users`: who holds each id).
fn interface(r: &mut Report, (n, res): (&NatGateway, &str), users: &mut HashMap<String, String>) {
    let prefix = super::ids::ENI_PREFIX;
    if let Some(id) = &n.network_interface_id {
        let rest = id.strip_prefix(prefix);
        let ok = rest.is_some_and(|r| {
            !r.is_empty()
                && id.len() <= super::ids::ID_MAX_LEN
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
        if !ok {
            r.err(
                res,
                "network_interface_id",
                format!("`{id}` must be `{prefix}` followed by letters, digits, `-` or `_`, at most {} characters (a NAT gateway's network interface is an ENI)", super::ids::ID_MAX_LEN),
            );
            return;
        }
    } else if n.id.is_empty() {
        // No id to derive one from (the id check reports it).
        return;
    }
    let id = crate::names::nat_gateway_interface_id(n);
    let how = if n.network_interface_id.is_some() {
        ""
    } else {
        " (derived from the gateway's id)"
    };
    match users.get(&id) {
        Some(other) => r.err(
            res,
            "network_interface_id",
            format!("`{id}`{how} is already the id of {other}; give this NAT gateway's interface another id with network_interface_id = \"eni-…\""),
        ),
        None => {
            users.insert(id, format!("NAT gateway {res}'s network interface"));
        }
    }
}

/// Checks the Elastic IPs of a NAT gateway: required when public (one per address),
/// forbidden when private, existing, and each used once (`eip_user` = who holds each
/// Elastic IP so far).
fn allocations<'t>(
    r: &mut Report,
    (n, res, public): (&'t NatGateway, &str, bool),
    broken: &HashSet<String>,
    eip_idx: &HashMap<&str, usize>,
    eip_user: &mut HashMap<&'t str, String>,
) {
    match (&n.allocation_id, public) {
        (None, true) => r.err(
            res,
            "allocation_id",
            "a public NAT gateway needs an Elastic IP: set allocation_id = \"eipalloc-…\" (or connectivity = \"private\")",
        ),
        (Some(_), false) => r.err(
            res,
            "allocation_id",
            "a private NAT gateway has no Elastic IP; remove allocation_id or set connectivity = \"public\"",
        ),
        _ => {}
    }
    if !public && !n.secondary_allocation_ids.is_empty() {
        r.err(
            res,
            "secondary_allocation_ids",
            "a private NAT gateway has no Elastic IPs; remove secondary_allocation_ids",
        );
    }
    if public && n.secondary_allocation_ids.len() != n.secondary_private_ips.len() {
        r.err(
            res,
            "secondary_allocation_ids",
            format!(
                "{} allocation ids for {} secondary_private_ips; each secondary address of a public NAT gateway has its own Elastic IP: give exactly one per secondary private IP, in the same order",
                n.secondary_allocation_ids.len(),
                n.secondary_private_ips.len()
            ),
        );
    }
    if public {
        let allocations = n
            .allocation_id
            .iter()
            .map(|a| ("allocation_id".to_string(), a))
            .chain(
                n.secondary_allocation_ids
                    .iter()
                    .enumerate()
                    .map(|(k, a)| (format!("secondary_allocation_ids[{k}]"), a)),
            );
        let mut count = 0;
        for (field, alloc) in allocations {
            count += 1;
            if !eip_idx.contains_key(alloc.as_str()) {
                if !broken.contains(alloc) {
                    r.err(res, &field, format!("no Elastic IP with id `{alloc}`"));
                }
                continue;
            }
            match eip_user.get(alloc.as_str()) {
                Some(other) => r.err(
                    res,
                    &field,
                    format!("{alloc} is already associated with {other}; an Elastic IP is associated with one address at a time"),
                ),
                None => {
                    eip_user.insert(alloc.as_str(), format!("{res}.{field}"));
                }
            }
        }
        if count > NAT_GATEWAY_EIPS_QUOTA {
            r.warnings.push(format!(
                "{res}.secondary_allocation_ids: {count} Elastic IPs is more than AWS's default quota of {NAT_GATEWAY_EIPS_QUOTA} per public NAT gateway (it can be raised to {NAT_GATEWAY_MAX_ADDRESSES})"
            ));
        }
    }
}

/// Checks and claims the addresses of NAT gateway `n` (the `i`-th) in subnet `s` of VPC
/// `vpc`: the written ones, or the one chosen for it (`addrs`) when `private_ip` is left
/// out.
fn addresses(
    r: &mut Report,
    (n, i, res): (&NatGateway, usize, &str),
    s: &Subnet,
    vpc: Option<usize>,
    addrs: &[Option<Vec<Ipv4Addr>>],
    ips: &mut HashMap<(usize, IpAddr), String>,
) {
    let written = n
        .private_ip
        .map(|a| ("private_ip".to_string(), a))
        .into_iter()
        .chain(
            n.secondary_private_ips
                .iter()
                .enumerate()
                .map(|(k, &a)| (format!("secondary_private_ips[{k}]"), a)),
        );
    for (field, ip) in written {
        if !s.cidr.contains(&ip) {
            r.err(
                res,
                &field,
                format!("{ip} is outside {} ({})", s.id, s.cidr),
            );
        } else if let Some(why) = reserved_ipv4_reason(s.cidr, ip) {
            r.err(
                res,
                &field,
                format!("{ip} is {why}; it cannot be assigned to a NAT gateway"),
            );
        }
        if let Some(vi) = vpc {
            claim(r, ips, vi, IpAddr::V4(ip), res, &field);
        }
    }
    if n.private_ip.is_none() {
        match addrs
            .get(i)
            .and_then(|a| a.as_ref())
            .and_then(|a| a.first())
        {
            Some(&ip) => {
                if let Some(vi) = vpc {
                    claim(r, ips, vi, IpAddr::V4(ip), res, "private_ip");
                }
            }
            None => r.err(
                res,
                "private_ip",
                format!(
                    "{} ({}) has no free address left to assign; free one or set private_ip",
                    s.id, s.cidr
                ),
            ),
        }
    }
}

/// Warns about the route table of a NAT gateway's subnet: a public gateway (whose VPC has
/// internet gateway `igw`) needs a route to the internet gateway, and a route of its own
/// subnet to the gateway sends its traffic back to it.
fn route_warnings(
    r: &mut Report,
    t: &Topology,
    (n, res): (&NatGateway, &str),
    s: &Subnet,
    (public, igw): (bool, Option<&str>),
    rtb_idx: &HashMap<&str, usize>,
) {
    // The subnet's route table: a public NAT gateway needs a way to the internet, and
    // a route of its own subnet to itself would send its traffic back to it.
    let table = match &s.route_table {
        Some(id) => rtb_idx.get(id.as_str()).copied(),
        None => t
            .route_tables
            .iter()
            .position(|rt| rt.main && rt.vpc == s.vpc),
    };
    let routes = table.map_or(&[][..], |ti| t.route_tables[ti].routes.as_slice());
    let table_name = table.map_or_else(
        || crate::names::implicit_main_id(&s.vpc),
        |ti| r.label(&t.route_tables[ti].id, "route_table", ti),
    );
    if let (true, Some(igw)) = (public, igw) {
        let to_igw = routes.iter().any(|rt| {
            rt.destination.addr().is_ipv4()
                && matches!(rt.target_ref(), RouteTargetRef::InternetGateway(_))
        });
        if !to_igw {
            r.warnings.push(format!(
                "{res}.subnet: {}'s route table {table_name} has no route to {igw}, so this public NAT gateway cannot reach the internet (in AWS a public NAT gateway belongs in a public subnet)",
                s.id
            ));
        }
    }
    if !n.id.is_empty() {
        for (k, rt) in routes.iter().enumerate() {
            if rt.target_ref() == RouteTargetRef::NatGateway(n.id.as_str()) {
                r.warnings.push(format!(
                    "{table_name}.routes[{k}].target: {} lives in {}, which uses this route table, so what it sends to {} comes back to it",
                    n.id, s.id, rt.destination
                ));
            }
        }
    }
}
