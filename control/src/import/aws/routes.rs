//! Route tables (`describe-route-tables`): associations and routes (see the module
//! documentation of [`super`] for how each target is kept, blackholed or skipped).

use ipnet::IpNet;

use super::input::Record;
use super::shapes::{tag_name, Route, RouteTable};
use super::{Importer, Parent, Ref};
use crate::import::EntryKind;
use crate::model::{self, PeeringStatus, RouteState};

/// A route's target as AWS prints it.
enum Target<'a> {
    /// `GatewayId: local`.
    Local,
    /// `GatewayId: igw-…`.
    Igw(&'a str),
    /// `NatGatewayId`.
    Nat(&'a str),
    /// `VpcPeeringConnectionId`.
    Pcx(&'a str),
    /// `NetworkInterfaceId`.
    Eni(&'a str),
    /// `InstanceId` (without `NetworkInterfaceId`).
    Instance(&'a str),
    /// A target this model has no element for: what it is, its id.
    Unmodelled(&'static str, &'a str),
}

/// The target of `r`, if it names one.
fn target(r: &Route) -> Option<Target<'_>> {
    if let Some(g) = r.gateway_id.as_deref() {
        return Some(match g {
            "local" => Target::Local,
            _ if g.starts_with("igw-") => Target::Igw(g),
            _ if g.starts_with("vgw-") => Target::Unmodelled("a virtual private gateway (VPN)", g),
            _ if g.starts_with("vpce-") => Target::Unmodelled("a VPC endpoint", g),
            _ => Target::Unmodelled("a gateway of a kind this model lacks", g),
        });
    }
    let unmodelled = [
        (&r.transit_gateway_id, "a transit gateway"),
        (
            &r.egress_only_internet_gateway_id,
            "an egress-only internet gateway",
        ),
        (&r.carrier_gateway_id, "a carrier gateway"),
        (&r.local_gateway_id, "a local gateway (Outposts)"),
        (&r.core_network_arn, "a Cloud WAN core network"),
        (&r.odb_network_arn, "an ODB network"),
        (&r.vpc_endpoint_id, "a VPC endpoint"),
        (&r.ip_address, "a VPC Route Server next hop"),
    ];
    if let Some(x) = r.nat_gateway_id.as_deref() {
        Some(Target::Nat(x))
    } else if let Some(x) = r.vpc_peering_connection_id.as_deref() {
        Some(Target::Pcx(x))
    } else if let Some(x) = r.network_interface_id.as_deref() {
        Some(Target::Eni(x))
    } else if let Some(x) = r.instance_id.as_deref() {
        Some(Target::Instance(x))
    } else {
        unmodelled
            .into_iter()
            .find_map(|(v, what)| v.as_deref().map(|x| Target::Unmodelled(what, x)))
    }
}

/// Where a route is: file, route table (AWS id), JSON path.
type At<'a> = (&'a str, &'a str, &'a str);

impl Importer {
    /// `[[route_table]]` from `RouteTables[]`, and the subnets' `route_table`.
    pub(super) fn route_tables(&mut self, recs: &[Record<RouteTable>]) {
        for r in recs {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(
                file,
                &r.id,
                &format!("{path}.RouteTableId"),
                &r.v.route_table_id,
            ) else {
                continue;
            };
            if self.listed_again(self.rtb.contains_key(orig), file, orig, path) {
                continue;
            }
            let vfield = format!("{path}.VpcId");
            let Some(vpc_orig) = self.required(file, orig, &vfield, &r.v.vpc_id) else {
                continue;
            };
            let Some(vi) = self.parent((file, orig, &vfield), Parent::Vpc, vpc_orig) else {
                continue;
            };
            let mut rt = model::RouteTable {
                id: self.ids.id("rtb-", orig),
                name: tag_name(&r.v.tags),
                vpc: self.t.vpcs[vi].id.clone(),
                main: false,
                routes: Vec::new(),
            };
            self.associations(r, orig, &mut rt);
            for (k, g) in r.v.propagating_vgws.iter().enumerate() {
                let gw = g
                    .gateway_id
                    .as_deref()
                    .unwrap_or("a virtual private gateway");
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &format!("{path}.PropagatingVgws[{k}]"),
                    format!("route propagation from {gw}: VPN gateways cannot be modelled"),
                );
            }
            for (k, route) in r.v.routes.iter().enumerate() {
                let field = format!("{path}.Routes[{k}]");
                if let Some(x) = self.route((file, orig, &field), vi, route) {
                    rt.routes.push(x);
                }
            }
            self.note(
                EntryKind::Used,
                file,
                orig,
                path,
                format!("[[route_table]] {}", rt.id),
            );
            self.rtb.insert(orig.to_string(), self.t.route_tables.len());
            self.t.route_tables.push(rt);
        }
    }

    /// The table's associations: `Main`, and the subnets' `route_table`.
    fn associations(&mut self, r: &Record<RouteTable>, orig: &str, rt: &mut model::RouteTable) {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        for (k, a) in r.v.associations.iter().enumerate() {
            let field = format!("{path}.Associations[{k}]");
            let state = a
                .association_state
                .as_ref()
                .and_then(|s| s.state.as_deref())
                .unwrap_or("associated");
            if !matches!(state, "associated" | "associating") {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &field,
                    format!("association {state}"),
                );
                continue;
            }
            if a.main == Some(true) {
                rt.main = true;
            } else if let Some(s) = a.subnet_id.as_deref() {
                match self.lookup(&self.subnet, s) {
                    Ref::Found(si) if self.t.subnets[si].vpc != rt.vpc => self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{s} is in another VPC"),
                    ),
                    Ref::Found(si) => match &self.t.subnets[si].route_table {
                        Some(other) => {
                            let msg = format!("{s} is already associated with {other}");
                            self.note(EntryKind::Skipped, file, orig, &field, msg);
                        }
                        None => self.t.subnets[si].route_table = Some(rt.id.clone()),
                    },
                    Ref::Gone(why) => self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{s} is not imported ({why})"),
                    ),
                    Ref::Missing => self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{s} is not in the input"),
                    ),
                }
            } else if let Some(g) = a.gateway_id.as_deref() {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &field,
                    format!("an edge association with {g} (ingress routing): cannot be modelled"),
                );
            }
        }
    }

    /// One route of the table of VPC `vi` (`None` when it is implicit or skipped).
    fn route(&mut self, at: At<'_>, vi: usize, r: &Route) -> Option<model::Route> {
        let (file, orig, field) = at;
        let dest = if let Some(c) = r.destination_cidr_block.as_deref() {
            let f = format!("{field}.DestinationCidrBlock");
            self.parse::<IpNet>(file, orig, &f, c, "a CIDR")?
        } else if let Some(c) = r.destination_ipv6_cidr_block.as_deref() {
            let f = format!("{field}.DestinationIpv6CidrBlock");
            self.parse::<IpNet>(file, orig, &f, c, "a CIDR")?
        } else if let Some(pl) = r.destination_prefix_list_id.as_deref() {
            let to = match target(r) {
                Some(Target::Unmodelled(what, id)) => format!(" to {what} ({id})"),
                _ => String::new(),
            };
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                &format!("{field}.DestinationPrefixListId"),
                format!(
                    "a route to prefix list {pl}{to}: a route here has one CIDR as its destination"
                ),
            );
            return None;
        } else {
            self.note(EntryKind::Skipped, file, orig, field, "no destination");
            return None;
        };
        let state = r.state.as_deref().unwrap_or("active");
        if state == "filtered" {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                &format!("{field}.State"),
                format!("{dest}: filtered by VPC Route Server, not installed"),
            );
            return None;
        }
        let aws_blackhole = state == "blackhole";
        let Some(target) = target(r) else {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                field,
                format!("{dest}: no target this importer knows"),
            );
            return None;
        };
        let cidrs = self.t.vpcs[vi].all_cidrs();
        let inside = cidrs.iter().any(|c| c.contains(&dest));
        let v6 = dest.addr().is_ipv6();
        match target {
            Target::Local if cidrs.contains(&dest) => None,
            Target::Local if inside || !cidrs.iter().any(|c| dest.contains(&c.network())) => {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    field,
                    format!("{dest} → local: not a CIDR of the imported VPC"),
                );
                None
            }
            Target::Local => {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    field,
                    format!("{dest} → local: the local route of a CIDR block that is not imported"),
                );
                None
            }
            Target::Unmodelled(what, id) => self.blackholed(
                at,
                dest,
                inside,
                &format!("{id} is {what}, which this model lacks"),
            ),
            Target::Instance(iid) => match self.instance_primary.get(iid).cloned() {
                Some(eni) => self.route_to(at, dest, aws_blackhole, "eni-", &eni, None),
                None => self.blackholed(
                    at,
                    dest,
                    inside,
                    &format!("instance {iid} has no primary interface in the input"),
                ),
            },
            Target::Eni(e) => self.route_to(at, dest, aws_blackhole, "eni-", e, None),
            Target::Igw(g) if v6 => self.blackholed(
                at,
                dest,
                inside,
                &format!("IPv6 through an internet gateway ({g}) is not modelled yet"),
            ),
            Target::Igw(g) => self.route_to(at, dest, aws_blackhole, "igw-", g, None),
            Target::Nat(n) if v6 => self.blackholed(
                at,
                dest,
                inside,
                &format!("IPv6 through a NAT gateway ({n}, NAT64) is not modelled yet"),
            ),
            Target::Nat(n) => self.route_to(at, dest, aws_blackhole, "nat-", n, None),
            Target::Pcx(p) => {
                let pending = self.pcx.get(p).is_some_and(|&i| {
                    self.t.peering_connections[i].status == PeeringStatus::PendingAcceptance
                });
                self.route_to(at, dest, aws_blackhole, "pcx-", p, Some(pending))
            }
        }
    }

    /// A route to an ENI, internet gateway, NAT gateway or peering (`prefix`, AWS id
    /// `id`): active when the target is imported, else kept with `state = "blackhole"`
    /// (a deleted target); AWS's `blackhole` on an imported target becomes `target =
    /// "blackhole"`, except for a pending peering (a blackhole either way).
    fn route_to(
        &mut self,
        (file, orig, field): At<'_>,
        dest: IpNet,
        aws_blackhole: bool,
        prefix: &str,
        id: &str,
        pending: Option<bool>,
    ) -> Option<model::Route> {
        let map = match prefix {
            "eni-" => &self.eni,
            "igw-" => &self.igw,
            "nat-" => &self.nat,
            _ => &self.pcx,
        };
        let mapped = self.ids.id(prefix, id);
        let route = |target: String, state| model::Route {
            destination: dest,
            target,
            state,
        };
        match self.lookup(map, id) {
            Ref::Found(_) if !aws_blackhole => Some(route(mapped, RouteState::Active)),
            Ref::Found(_) if pending == Some(true) => Some(route(mapped, RouteState::Blackhole)),
            Ref::Found(_) => {
                self.note(
                    EntryKind::Blackholed,
                    file,
                    orig,
                    &format!("{field}.State"),
                    format!("{dest} → {id}: AWS shows the route as blackhole though {id} is imported: kept as target = \"blackhole\""),
                );
                Some(route("blackhole".to_string(), RouteState::Active))
            }
            Ref::Gone(why) => {
                self.note(
                    EntryKind::Blackholed,
                    file,
                    orig,
                    field,
                    format!("{dest} → {id}: {id} is not imported ({why}): kept with state = \"blackhole\""),
                );
                Some(route(mapped, RouteState::Blackhole))
            }
            Ref::Missing => {
                let why = if aws_blackhole {
                    "its target is gone (AWS shows it as blackhole)"
                } else {
                    "its target is not in the input"
                };
                self.note(
                    EntryKind::Blackholed,
                    file,
                    orig,
                    field,
                    format!("{dest} → {id}: {why}: kept with state = \"blackhole\""),
                );
                Some(route(mapped, RouteState::Blackhole))
            }
        }
    }

    /// A route whose target cannot be modelled: `target = "blackhole"`, unless the
    /// destination is inside the VPC (a blackhole cannot replace the local route there).
    fn blackholed(
        &mut self,
        (file, orig, field): At<'_>,
        dest: IpNet,
        inside: bool,
        why: &str,
    ) -> Option<model::Route> {
        if inside {
            self.note(
                EntryKind::Skipped,
                file,
                orig,
                field,
                format!("{dest}: {why}; inside the VPC a blackhole cannot replace the local route, so the route is left out"),
            );
            return None;
        }
        self.note(
            EntryKind::Blackholed,
            file,
            orig,
            field,
            format!("{dest}: {why}: kept as target = \"blackhole\""),
        );
        Some(model::Route {
            destination: dest,
            target: "blackhole".to_string(),
            state: RouteState::Active,
        })
    }
}
