//! The runtime tables the pipeline reads, built once per apply from a [`DataplaneConfig`].
//!
//! Immutable after [`Tables::build`]; a new configuration builds a new `Tables` and the
//! engine swaps it in between batches with a new epoch.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use foldhash::fast::FixedState;
use ipnet::IpNet;

use crate::engine::port::PortIdx;
use crate::vpc::config::{
    DataplaneConfig, EniIdx, IgwIdx, MappingTarget, NaclIdx, NatIdx, Outside, RouteTableIdx,
    RouteTarget, SgPeer, SubnetIdx, VpcIdx,
};
use crate::vpc::lpm::IpLpm;
use crate::vpc::pipeline::dns::DnsTable;
use crate::vpc::pipeline::nacl::NaclTable;
use crate::vpc::pipeline::sg::{Members, SgProgram};
use crate::wire::MacAddr;

/// Why a compiled configuration cannot be turned into tables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A cross-reference points past the end of its vector.
    #[error("{resource}.{field}: index {index} is out of range")]
    BadIndex {
        /// The resource holding the reference.
        resource: String,
        /// The field.
        field: &'static str,
        /// The bad index.
        index: u32,
    },
    /// Two ENIs of one VPC claim the same address.
    #[error("{resource}: address {addr} is already owned by {other} in the same VPC")]
    DuplicateAddress {
        /// The ENI.
        resource: String,
        /// The address.
        addr: IpAddr,
        /// The ENI that has it already.
        other: String,
    },
    /// Two ENIs or routers share a MAC.
    #[error("{resource}: MAC {mac} is already used by {other}")]
    DuplicateMac {
        /// The ENI or subnet.
        resource: String,
        /// The MAC.
        mac: MacAddr,
        /// Who has it already.
        other: String,
    },
    /// Two resources share an id (ports and counters are matched by id across applies).
    #[error("{0}: the id is used twice")]
    DuplicateId(String),
    /// A resource references one of another VPC.
    #[error("{resource}.{field}: refers to another VPC")]
    CrossVpc {
        /// The resource.
        resource: String,
        /// The field.
        field: &'static str,
    },
    /// A rule references a security group that does not exist.
    #[error("{resource}: security group index {index} is out of range")]
    BadGroup {
        /// The group or ENI holding the reference.
        resource: String,
        /// The bad index.
        index: u32,
    },
    /// A DNS name or record value the resolver cannot hold.
    #[error("{resource}.{field}: {name:?} is not a valid DNS name or value")]
    BadName {
        /// The hosted zone (or `dns`).
        resource: String,
        /// The field.
        field: &'static str,
        /// The name or value.
        name: String,
    },
    /// A subnet without an IPv4 CIDR (IPv6-only subnets arrive later).
    #[error("{resource}: a subnet needs an IPv4 CIDR")]
    NoIpv4Cidr {
        /// The subnet.
        resource: String,
    },
}

/// A VPC's runtime state.
#[derive(Debug, Clone)]
pub struct VpcTable {
    /// Which ENI owns each private address of the VPC.
    pub owners: HashMap<IpAddr, EniIdx, FixedState>,
    /// The VPC router's address in each subnet (`.1`), with that subnet.
    pub router_ips: HashMap<IpAddr, SubnetIdx, FixedState>,
    /// Which NAT gateway owns each of its private addresses.
    pub nat_addrs: HashMap<IpAddr, NatIdx, FixedState>,
    /// The VPC's CIDR blocks (primary and secondary IPv4, IPv6).
    pub cidrs: Vec<IpNet>,
}

impl VpcTable {
    /// Whether `a` is inside one of the VPC's CIDR blocks.
    #[inline]
    pub fn contains(&self, a: IpAddr) -> bool {
        self.cidrs.iter().any(|c| c.contains(&a))
    }
}

/// A peering connection's runtime state.
#[derive(Debug, Clone)]
pub struct PeeringTable {
    /// The two VPCs (requester, accepter).
    pub vpcs: [VpcIdx; 2],
    /// Accepted (routes to a pending one are blackholes).
    pub active: bool,
}

/// A subnet's runtime state.
#[derive(Debug, Clone)]
pub struct SubnetTable {
    /// The VPC.
    pub vpc: VpcIdx,
    /// The IPv4 CIDR.
    pub cidr4: ipnet::Ipv4Net,
    /// The router's address (`.1`).
    pub router_ip4: Ipv4Addr,
    /// The router's MAC in this subnet.
    pub router_mac: MacAddr,
    /// The route table for traffic leaving the subnet.
    pub route_table: RouteTableIdx,
    /// Neighbour ENIs by MAC, for layer-2 delivery inside the subnet.
    pub macs: HashMap<MacAddr, EniIdx, FixedState>,
    /// The network ACL at its boundary (`None`: no ACL stage).
    pub network_acl: Option<NaclIdx>,
}

/// A route table's LPM.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Destination prefix → target.
    pub lpm: IpLpm<RouteTarget>,
}

/// An ENI's runtime state.
#[derive(Debug, Clone)]
pub struct EniTable {
    /// The subnet.
    pub subnet: SubnetIdx,
    /// The VPC.
    pub vpc: VpcIdx,
    /// The MAC.
    pub mac: MacAddr,
    /// Every private address (IPv4 and IPv6), primary IPv4 first.
    pub addrs: Vec<IpAddr>,
    /// Source/destination check.
    pub source_dest_check: bool,
    /// The compiled rules of its security groups (`None`: no security-group stage).
    pub sg: Option<SgProgram>,
}

impl EniTable {
    /// Whether `addr` is one of this ENI's addresses.
    #[inline]
    pub fn owns(&self, addr: IpAddr) -> bool {
        self.addrs.contains(&addr)
    }
}

/// Every runtime table of one configuration.
#[derive(Debug, Clone)]
pub struct Tables {
    /// The configuration these tables were built from.
    pub config: DataplaneConfig,
    /// Per VPC, by index.
    pub vpcs: Vec<VpcTable>,
    /// Per subnet, by index.
    pub subnets: Vec<SubnetTable>,
    /// Per route table, by index.
    pub route_tables: Vec<RouteTable>,
    /// Per ENI, by index.
    pub enis: Vec<EniTable>,
    /// Per network ACL, by index.
    pub nacls: Vec<NaclTable>,
    /// Deny-counter slots used by all network ACLs together.
    pub nacl_slots: u32,
    /// Private addresses of each security group's members, by group index.
    pub sg_members: Members,
    /// Per internet gateway, by index.
    pub igws: Vec<IgwTable>,
    /// Per NAT gateway, by index.
    pub nats: Vec<NatTable>,
    /// Per peering connection, by index.
    pub peerings: Vec<PeeringTable>,
    /// The VPC resolver's names and zones.
    pub dns: DnsTable,
}

/// A NAT gateway's runtime settings (its translations live in the engine's
/// [`crate::vpc::nat::NatState`]).
#[derive(Debug, Clone)]
pub struct NatTable {
    /// The VPC.
    pub vpc: VpcIdx,
    /// The subnet it lives in.
    pub subnet: SubnetIdx,
    /// Its private addresses, primary first.
    pub addrs: Vec<Ipv4Addr>,
}

impl NatTable {
    /// Whether `a` is one of its addresses.
    #[inline]
    pub fn owns(&self, a: IpAddr) -> bool {
        matches!(a, IpAddr::V4(a) if self.addrs.contains(&a))
    }
}

/// An internet gateway's runtime state.
#[derive(Debug, Clone)]
pub struct IgwTable {
    /// The VPC it is attached to.
    pub vpc: VpcIdx,
    /// Its port (after the ENIs' ports).
    pub port: PortIdx,
    /// Its MAC on the uplink.
    pub mac: MacAddr,
    /// Its address on the outside segment (answers ARP and ping).
    pub gateway_ip: Option<Ipv4Addr>,
    /// The MAC of the uplink's kernel end: where an outbound frame goes when no
    /// neighbour holds its destination.
    pub host_mac: MacAddr,
    /// On the shared internet segment: who holds which address there (the internet
    /// hosts behind the gateway, the other gateways' public addresses). `None` on a
    /// namespace of its own.
    pub neighbours: Option<HashMap<Ipv4Addr, MacAddr, FixedState>>,
    /// The outside hop's MTU.
    pub mtu: u16,
    /// Public → (ENI or NAT gateway, private).
    pub inbound: HashMap<Ipv4Addr, (MappingTarget, Ipv4Addr), FixedState>,
    /// Private → public, within the gateway's VPC.
    pub outbound: HashMap<Ipv4Addr, Ipv4Addr, FixedState>,
}

impl IgwTable {
    /// Whether the gateway answers an ARP request from `sender` for `target`: its own
    /// address on a namespace of its own; on the shared segment, one of its public
    /// addresses asked for by one of its neighbours (an internet host behind it).
    pub fn answers_arp(&self, sender: Ipv4Addr, target: Ipv4Addr) -> bool {
        match &self.neighbours {
            None => Some(target) == self.gateway_ip,
            Some(n) => n.contains_key(&sender) && self.inbound.contains_key(&target),
        }
    }

    /// The MAC an outbound packet to `dst` goes to: the neighbour holding `dst`, else the
    /// uplink's kernel end.
    #[inline]
    pub fn next_hop_mac(&self, dst: Ipv4Addr) -> MacAddr {
        self.neighbours
            .as_ref()
            .and_then(|n| n.get(&dst).copied())
            .unwrap_or(self.host_mac)
    }
}

impl Tables {
    /// Number of ports: one per ENI, then one per internet gateway.
    pub fn port_count(&self) -> usize {
        self.enis.len() + self.igws.len()
    }

    /// The ENI whose port is port `port`, if it is one (ENI `i`'s port is port `i`).
    #[inline]
    pub fn eni_of_port(&self, port: PortIdx) -> Option<EniIdx> {
        (port.idx() < self.enis.len()).then_some(EniIdx(port.0))
    }

    /// The internet gateway whose uplink is port `port`, if it is one.
    pub fn igw_of_port(&self, port: PortIdx) -> Option<(IgwIdx, &IgwTable)> {
        let i = port.idx().checked_sub(self.enis.len())?;
        self.igws.get(i).map(|g| (IgwIdx(i as u32), g))
    }
}

fn check(len: usize, index: u32, resource: &str, field: &'static str) -> Result<(), TableError> {
    if (index as usize) < len {
        Ok(())
    } else {
        Err(TableError::BadIndex {
            resource: resource.to_string(),
            field,
            index,
        })
    }
}

impl Tables {
    /// Builds and cross-checks the tables; a malformed configuration is an error.
    pub fn build(config: DataplaneConfig) -> Result<Tables, TableError> {
        // Every check in the order the errors were always reported: ids, then each
        // resource kind, then the references that need more than one kind.
        let c = &config;
        unique_ids(c)?;
        let mut vpcs = vpc_tables(c);
        let route_tables = route_tables(c)?;
        let (nacls, nacl_slots) = nacl_tables(c)?;
        check_group_references(c)?;
        let mut sg_members: Members = vec![Default::default(); c.security_groups.len()];
        let mut macs: HashMap<MacAddr, String> = HashMap::new();
        let mut subnets = subnet_tables(c, &mut vpcs, &mut macs)?;
        let enis = eni_tables(c, &mut vpcs, &mut subnets, &mut macs, &mut sg_members)?;
        let igws = igw_tables(c, enis.len(), &mut macs)?;
        let nats = nat_tables(c, &mut vpcs)?;
        let peerings = peering_tables(c)?;
        crate::vpc::observed::flow_logs(c)?;
        crate::vpc::observed::captures(c)?;
        crate::vpc::observed::mirror_sessions(c)?;
        check_route_targets(c, &peerings, &nats)?;
        let dns = DnsTable::build(c)?;
        Ok(Tables {
            config,
            vpcs,
            subnets,
            route_tables,
            enis,
            nacls,
            nacl_slots,
            sg_members,
            igws,
            nats,
            peerings,
            dns,
        })
    }

    /// The ENI of `vpc` that owns `addr`.
    #[inline]
    pub fn owner(&self, vpc: VpcIdx, addr: IpAddr) -> Option<EniIdx> {
        self.vpcs.get(vpc.idx())?.owners.get(&addr).copied()
    }

    /// The route for `dst` in route table `rt`.
    #[inline]
    pub fn route(&self, rt: RouteTableIdx, dst: IpAddr) -> Option<(RouteTarget, IpNet)> {
        let (target, len) = self.route_tables.get(rt.idx())?.lpm.lookup(dst)?;
        let net = IpNet::new(dst, len).ok()?.trunc();
        Some((*target, net))
    }
}

/// Every resource id appears once.
fn unique_ids(c: &DataplaneConfig) -> Result<(), TableError> {
    let mut ids = std::collections::HashSet::new();
    let all_ids = c
        .vpcs
        .iter()
        .map(|v| &v.id)
        .chain(c.subnets.iter().map(|s| &s.id))
        .chain(c.route_tables.iter().map(|r| &r.id))
        .chain(c.enis.iter().map(|e| &e.id))
        .chain(c.network_acls.iter().map(|a| &a.id))
        .chain(c.security_groups.iter().map(|g| &g.id))
        .chain(c.internet_gateways.iter().map(|g| &g.id))
        .chain(c.nat_gateways.iter().map(|n| &n.id))
        // A NAT gateway's interface is named like an ENI (flow logs tell them apart by
        // id); an older message may not name it.
        .chain(
            c.nat_gateways
                .iter()
                .map(|n| &n.interface_id)
                .filter(|id| !id.is_empty()),
        )
        .chain(c.peerings.iter().map(|p| &p.id));
    for id in all_ids {
        if !ids.insert(id.as_str()) {
            return Err(TableError::DuplicateId(id.clone()));
        }
    }
    Ok(())
}

/// One empty table per VPC (filled by the subnets, ENIs and NAT gateways).
fn vpc_tables(c: &DataplaneConfig) -> Vec<VpcTable> {
    c.vpcs
        .iter()
        .map(|v| VpcTable {
            owners: HashMap::default(),
            router_ips: HashMap::default(),
            nat_addrs: HashMap::default(),
            cidrs: v.cidrs.clone(),
        })
        .collect()
}

/// The route tables' LPMs.
fn route_tables(c: &DataplaneConfig) -> Result<Vec<RouteTable>, TableError> {
    let mut route_tables = Vec::with_capacity(c.route_tables.len());
    for rt in &c.route_tables {
        check(c.vpcs.len(), rt.vpc.0, &rt.id, "vpc")?;
        let mut t = RouteTable::default();
        for r in &rt.routes {
            if let RouteTarget::Eni(e) = r.target {
                check(c.enis.len(), e.0, &rt.id, "routes.target")?;
            }
            t.lpm.insert(r.destination.trunc(), r.target);
        }
        route_tables.push(t);
    }
    Ok(route_tables)
}

/// The network ACLs' programs and the number of deny-counter slots they use.
fn nacl_tables(c: &DataplaneConfig) -> Result<(Vec<NaclTable>, u32), TableError> {
    let mut nacls = Vec::with_capacity(c.network_acls.len());
    let mut nacl_slots = 0u32;
    for a in &c.network_acls {
        check(c.vpcs.len(), a.vpc.0, &a.id, "vpc")?;
        let t = NaclTable::build(a, nacl_slots);
        nacl_slots += t.slots();
        nacls.push(t);
    }
    Ok((nacls, nacl_slots))
}

/// Security groups belong to a VPC and reference existing groups.
fn check_group_references(c: &DataplaneConfig) -> Result<(), TableError> {
    for g in &c.security_groups {
        check(c.vpcs.len(), g.vpc.0, &g.id, "vpc")?;
        for r in g.inbound.iter().chain(&g.outbound) {
            if let SgPeer::Group(i) = r.peer {
                if i.idx() >= c.security_groups.len() {
                    return Err(TableError::BadGroup {
                        resource: g.id.clone(),
                        index: i.0,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The subnets (router addresses and MACs registered in their VPC).
fn subnet_tables(
    c: &DataplaneConfig,
    vpcs: &mut [VpcTable],
    macs: &mut HashMap<MacAddr, String>,
) -> Result<Vec<SubnetTable>, TableError> {
    let mut subnets = Vec::with_capacity(c.subnets.len());
    for (i, s) in c.subnets.iter().enumerate() {
        check(c.vpcs.len(), s.vpc.0, &s.id, "vpc")?;
        check(c.route_tables.len(), s.route_table.0, &s.id, "route_table")?;
        if let Some(a) = s.network_acl {
            check(c.network_acls.len(), a.0, &s.id, "network_acl")?;
            if c.network_acls[a.idx()].vpc != s.vpc {
                return Err(TableError::CrossVpc {
                    resource: s.id.clone(),
                    field: "network_acl",
                });
            }
        }
        if c.route_tables[s.route_table.idx()].vpc != s.vpc {
            return Err(TableError::CrossVpc {
                resource: s.id.clone(),
                field: "route_table",
            });
        }
        let cidr4 = s.ipv4_cidr.ok_or_else(|| TableError::NoIpv4Cidr {
            resource: s.id.clone(),
        })?;
        let router_ip4 = Ipv4Addr::from(u32::from(cidr4.network()).wrapping_add(1));
        if let Some(other) = macs.insert(s.router_mac, s.id.clone()) {
            return Err(TableError::DuplicateMac {
                resource: s.id.clone(),
                mac: s.router_mac,
                other,
            });
        }
        vpcs[s.vpc.idx()]
            .router_ips
            .insert(IpAddr::V4(router_ip4), SubnetIdx(i as u32));
        subnets.push(SubnetTable {
            vpc: s.vpc,
            cidr4,
            router_ip4,
            router_mac: s.router_mac,
            route_table: s.route_table,
            macs: HashMap::default(),
            network_acl: s.network_acl,
        });
    }
    Ok(subnets)
}

/// The ENIs (addresses owned in their VPC, MACs in their subnet, group members).
fn eni_tables(
    c: &DataplaneConfig,
    vpcs: &mut [VpcTable],
    subnets: &mut [SubnetTable],
    macs: &mut HashMap<MacAddr, String>,
    sg_members: &mut Members,
) -> Result<Vec<EniTable>, TableError> {
    let mut enis = Vec::with_capacity(c.enis.len());
    for (i, e) in c.enis.iter().enumerate() {
        check(c.subnets.len(), e.subnet.0, &e.id, "subnet")?;
        if let Some(other) = macs.insert(e.mac, e.id.clone()) {
            return Err(TableError::DuplicateMac {
                resource: e.id.clone(),
                mac: e.mac,
                other,
            });
        }
        let subnet = &mut subnets[e.subnet.idx()];
        subnet.macs.insert(e.mac, EniIdx(i as u32));
        let vpc = subnet.vpc;
        let addrs: Vec<IpAddr> = e
            .ipv4
            .iter()
            .map(|a| IpAddr::V4(*a))
            .chain(e.ipv6.iter().map(|a| IpAddr::V6(*a)))
            .collect();
        for a in &addrs {
            if let Some(other) = vpcs[vpc.idx()].owners.insert(*a, EniIdx(i as u32)) {
                return Err(TableError::DuplicateAddress {
                    resource: e.id.clone(),
                    addr: *a,
                    other: c.enis[other.idx()].id.clone(),
                });
            }
        }
        let sg = match &e.security_groups {
            None => None,
            Some(groups) => {
                for &g in groups {
                    let Some(m) = sg_members.get_mut(g.idx()) else {
                        return Err(TableError::BadGroup {
                            resource: e.id.clone(),
                            index: g.0,
                        });
                    };
                    m.extend(addrs.iter().copied());
                }
                Some(SgProgram::build(&c.security_groups, groups))
            }
        };
        enis.push(EniTable {
            subnet: e.subnet,
            vpc,
            mac: e.mac,
            addrs,
            source_dest_check: e.source_dest_check,
            sg,
        });
    }
    Ok(enis)
}

/// The internet gateways (ports after the `n_enis` ENIs, 1:1 mappings).
fn igw_tables(
    c: &DataplaneConfig,
    n_enis: usize,
    macs: &mut HashMap<MacAddr, String>,
) -> Result<Vec<IgwTable>, TableError> {
    let mut igws = Vec::with_capacity(c.internet_gateways.len());
    for (i, g) in c.internet_gateways.iter().enumerate() {
        check(c.vpcs.len(), g.vpc.0, &g.id, "vpc")?;
        let mut t = IgwTable {
            vpc: g.vpc,
            port: PortIdx((n_enis + i) as u32),
            mac: g.mac,
            gateway_ip: g.uplink.as_ref().and_then(|u| match u.outside {
                Outside::Namespace { gateway_ip, .. } => Some(gateway_ip),
                Outside::Segment { .. } => None,
            }),
            host_mac: g.uplink.as_ref().map_or(g.mac, |u| u.host_mac),
            neighbours: g.uplink.as_ref().and_then(|u| match &u.outside {
                Outside::Namespace { .. } => None,
                Outside::Segment { neighbours, .. } => {
                    Some(neighbours.iter().map(|n| (n.ip, n.mac)).collect())
                }
            }),
            mtu: g
                .uplink
                .as_ref()
                .map_or(1500, |u| u16::try_from(u.mtu).unwrap_or(1500)),
            inbound: HashMap::default(),
            outbound: HashMap::default(),
        };
        for m in &g.mappings {
            match m.target {
                MappingTarget::Eni(e) => check(c.enis.len(), e.0, &g.id, "mappings.eni")?,
                MappingTarget::NatGateway(n) => {
                    check(c.nat_gateways.len(), n.0, &g.id, "mappings.nat_gateway")?
                }
            }
            t.inbound.insert(m.public, (m.target, m.private));
            t.outbound.insert(m.private, m.public);
        }
        if let Some(other) = macs.insert(g.mac, g.id.clone()) {
            return Err(TableError::DuplicateMac {
                resource: g.id.clone(),
                mac: g.mac,
                other,
            });
        }
        igws.push(t);
    }
    Ok(igws)
}

/// The NAT gateways (their addresses registered in their VPC).
fn nat_tables(c: &DataplaneConfig, vpcs: &mut [VpcTable]) -> Result<Vec<NatTable>, TableError> {
    let mut nats = Vec::with_capacity(c.nat_gateways.len());
    for n in &c.nat_gateways {
        check(c.subnets.len(), n.subnet.0, &n.id, "subnet")?;
        let vpc = c.subnets[n.subnet.idx()].vpc;
        if n.addrs.is_empty() {
            return Err(TableError::BadIndex {
                resource: n.id.clone(),
                field: "addrs",
                index: 0,
            });
        }
        for &a in &n.addrs {
            let v = &mut vpcs[vpc.idx()];
            if let Some(&e) = v.owners.get(&IpAddr::V4(a)) {
                return Err(TableError::DuplicateAddress {
                    resource: n.id.clone(),
                    addr: IpAddr::V4(a),
                    other: c.enis[e.idx()].id.clone(),
                });
            }
            if let Some(other) = v.nat_addrs.insert(IpAddr::V4(a), NatIdx(nats.len() as u32)) {
                return Err(TableError::DuplicateAddress {
                    resource: n.id.clone(),
                    addr: IpAddr::V4(a),
                    other: c.nat_gateways[other.idx()].id.clone(),
                });
            }
        }
        nats.push(NatTable {
            vpc,
            subnet: n.subnet,
            addrs: n.addrs.clone(),
        });
    }
    Ok(nats)
}

/// The peering connections.
fn peering_tables(c: &DataplaneConfig) -> Result<Vec<PeeringTable>, TableError> {
    let mut peerings = Vec::with_capacity(c.peerings.len());
    for p in &c.peerings {
        check(c.vpcs.len(), p.requester.0, &p.id, "requester")?;
        check(c.vpcs.len(), p.accepter.0, &p.id, "accepter")?;
        peerings.push(PeeringTable {
            vpcs: [p.requester, p.accepter],
            active: p.active,
        });
    }
    Ok(peerings)
}

/// Route targets that need the other kinds built: peerings of the route table's VPC,
/// internet and NAT gateways that exist (NAT gateways of the same VPC).
fn check_route_targets(
    c: &DataplaneConfig,
    peerings: &[PeeringTable],
    nats: &[NatTable],
) -> Result<(), TableError> {
    for rt in &c.route_tables {
        for r in &rt.routes {
            match r.target {
                RouteTarget::Peering(p) => {
                    check(c.peerings.len(), p.0, &rt.id, "routes.target")?;
                    if !peerings[p.idx()].vpcs.contains(&rt.vpc) {
                        return Err(TableError::CrossVpc {
                            resource: rt.id.clone(),
                            field: "routes.target",
                        });
                    }
                }
                RouteTarget::InternetGateway(g) => {
                    check(c.internet_gateways.len(), g.0, &rt.id, "routes.target")?
                }
                RouteTarget::NatGateway(n) => {
                    check(c.nat_gateways.len(), n.0, &rt.id, "routes.target")?;
                    if nats[n.idx()].vpc != rt.vpc {
                        return Err(TableError::CrossVpc {
                            resource: rt.id.clone(),
                            field: "routes.target",
                        });
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_configs_are_errors_not_panics() {
        let good = crate::fixtures::two_subnets_and_middlebox();
        assert!(Tables::build(good.clone()).is_ok());
        let mut dup = good.clone();
        dup.enis[1].id = dup.enis[0].id.clone();
        assert!(matches!(
            Tables::build(dup),
            Err(TableError::DuplicateId(_))
        ));
        let mut bad = good.clone();
        bad.subnets[0].route_table = RouteTableIdx(99);
        assert!(matches!(
            Tables::build(bad),
            Err(TableError::BadIndex { .. })
        ));
        let mut cross = good.clone();
        cross.vpcs.push(crate::vpc::config::VpcConfig {
            id: "vpc-2".into(),
            cidrs: vec![],
            dhcp: Default::default(),
        });
        cross.route_tables[0].vpc = VpcIdx(1);
        assert!(matches!(
            Tables::build(cross),
            Err(TableError::CrossVpc { .. })
        ));
        let mut eni = good;
        eni.enis[0].subnet = SubnetIdx(42);
        assert!(Tables::build(eni).is_err());
    }

    #[test]
    fn peerings_and_nat_gateways_are_checked() {
        use crate::vpc::config::{
            NatGatewayConfig, PeeringConfig, PeeringIdx, RouteConfig, VpcConfig,
        };
        let mut c = crate::fixtures::two_subnets_and_middlebox();
        c.vpcs.push(VpcConfig {
            id: "vpc-2".into(),
            cidrs: vec!["10.1.0.0/16".parse().unwrap()],
            dhcp: Default::default(),
        });
        c.vpcs.push(VpcConfig {
            id: "vpc-3".into(),
            cidrs: vec!["10.2.0.0/16".parse().unwrap()],
            dhcp: Default::default(),
        });
        // A peering between vpc-2 and vpc-3 is not vpc-1's to route to.
        c.peerings.push(PeeringConfig {
            id: "pcx-1".into(),
            requester: VpcIdx(1),
            accepter: VpcIdx(2),
            active: true,
        });
        let mut foreign = c.clone();
        foreign.route_tables[0].routes.push(RouteConfig {
            destination: "10.1.0.0/16".parse().unwrap(),
            target: RouteTarget::Peering(PeeringIdx(0)),
            deleted_target: None,
        });
        assert!(matches!(
            Tables::build(foreign),
            Err(TableError::CrossVpc { .. })
        ));
        let mut missing = c.clone();
        missing.route_tables[0].routes.push(RouteConfig {
            destination: "10.1.0.0/16".parse().unwrap(),
            target: RouteTarget::Peering(PeeringIdx(7)),
            deleted_target: None,
        });
        assert!(matches!(
            Tables::build(missing),
            Err(TableError::BadIndex { .. })
        ));
        let mut ok = c.clone();
        ok.peerings[0].accepter = VpcIdx(0);
        ok.route_tables[0].routes.push(RouteConfig {
            destination: "10.1.0.0/16".parse().unwrap(),
            target: RouteTarget::Peering(PeeringIdx(0)),
            deleted_target: None,
        });
        let t = Tables::build(ok).unwrap();
        assert!(t.vpcs[1].contains("10.1.2.3".parse().unwrap()));
        assert!(!t.vpcs[1].contains("10.2.0.1".parse().unwrap()));
        // A NAT gateway address that an ENI owns already.
        let mut nat = crate::fixtures::behind_nat_gateway((1024, 65535));
        nat.nat_gateways[0].addrs = vec!["10.0.3.30".parse().unwrap()];
        assert!(matches!(
            Tables::build(nat),
            Err(TableError::DuplicateAddress { .. })
        ));
        let mut empty = crate::fixtures::behind_nat_gateway((1024, 65535));
        empty.nat_gateways[0] = NatGatewayConfig {
            addrs: vec![],
            ..empty.nat_gateways[0].clone()
        };
        assert!(Tables::build(empty).is_err());
    }

    #[test]
    fn flow_log_interfaces_and_nat_interface_ids_are_checked() {
        use crate::vpc::config::{FlowLogConfig, FlowLogTraffic, Interface, NatIdx};
        let mut c = crate::fixtures::behind_nat_gateway((1024, 65535));
        c.flow_logs.push(FlowLogConfig {
            id: "fl-1".into(),
            interfaces: vec![Interface::Eni(EniIdx(0)), Interface::NatGateway(NatIdx(0))],
            traffic: FlowLogTraffic::All,
            interval_ms: 1000,
            path: "/dev/null".into(),
            fields: vec!["version".into()],
        });
        assert!(Tables::build(c.clone()).is_ok());
        let mut bad = c.clone();
        bad.flow_logs[0].interfaces[1] = Interface::NatGateway(NatIdx(1));
        assert!(matches!(
            Tables::build(bad),
            Err(TableError::BadIndex {
                field: "interfaces.nat_gateway",
                index: 1,
                ..
            })
        ));
        let mut bad = c.clone();
        bad.flow_logs[0].interfaces[0] = Interface::Eni(EniIdx(9));
        assert!(matches!(
            Tables::build(bad),
            Err(TableError::BadIndex {
                field: "interfaces.eni",
                ..
            })
        ));
        // The NAT gateway's interface id is an id like an ENI's.
        let mut dup = c;
        dup.nat_gateways[0].interface_id = dup.enis[0].id.clone();
        assert!(matches!(Tables::build(dup), Err(TableError::DuplicateId(id)) if id == "eni-0"));
    }
}
