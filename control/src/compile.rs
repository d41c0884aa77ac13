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
//! NAT gateways in file order, with their addresses from [`nat_gateway_addresses`] (the
//! primary first), the port range and idle timeout of `[lab]` (`nat_gateway_ports`,
//! default 1024–65535; `nat_gateway_idle_timeout`, default 350 s, not scaled by
//! `conntrack_time_scale`), AWS's 55,000 connections per address and destination, and
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
//! Flow logs in file order ([`FlowLogConfig`](dataplane::vpc::config::FlowLogConfig)): the ENIs
//! of the scope in ENI order (the ENI itself, the subnet's ENIs, or the ENIs of every
//! subnet of the VPC), the fields of `log_format` or the default version 2 fields
//! ([`dataplane::observe::flowlog::DEFAULT_FIELDS`]), and the interval of [`flow_log_interval_ms`]
//! (`[lab] flow_log_interval` when set, else `max_aggregation_interval`).
//!
//! Packet captures and traffic mirror sessions in file order: a capture's snap length
//! defaults to 262144 and a filter protocol of `all` is no condition; a session takes its
//! target's ENI and its filter's rules (in file order; the data plane sorts them by
//! number), and a VNI derived from its id when it sets none ([`default_vni`]).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use dataplane::vpc::config::{
    Attachment, ConntrackConfig, DataplaneConfig, EniConfig, IcmpMatch, InternetGatewayConfig,
    MappingTarget, NaclEntry, NatGatewayConfig, NetworkAclConfig, PeeringConfig, PortRange,
    Protocol, PublicMapping, RouteConfig, RouteTableConfig, RouteTarget, SecurityGroupConfig,
    SgPeer, SgRule, SubnetConfig, TrafficMatch, Uplink, VpcConfig,
};

use ipnet::IpNet;

use crate::model::{
    ConntrackSettings, LabSettings, NaclAction, NaclRule, NatConnectivity, PortSpec,
    RouteTargetRef, RulePeer, RuleProtocol, SgRuleSpec, Topology, Vpc,
    DEFAULT_CONNTRACK_MAX_ENTRIES, DEFAULT_TCP_ESTABLISHED_TIMEOUT, DEFAULT_UDP_STREAM_TIMEOUT,
    DEFAULT_UDP_TIMEOUT, ICMP_TIMEOUT, OTHER_TIMEOUT, PROTO_ICMPV6, TCP_TRANSITORY_TIMEOUT,
};
use crate::names::first_index;
pub use crate::names::{
    eni_mac, fnv1a64, highest_free_ipv4, igw_host_mac, igw_mac, implicit_default_nacl_id,
    implicit_default_sg_id, implicit_main_id, mix64, nat_gateway_addresses, router_mac,
    ENI_MAC_OUI, IGW_HOST_MAC_OUI, IGW_MAC_OUI, ROUTER_MAC_OUI,
};
use crate::report::{ValidationError, ValidationErrors};

mod taps;

pub use taps::default_vni;

/// The "all traffic" destinations of a VPC: `0.0.0.0/0`, plus `::/0` when it has an IPv6
/// CIDR (the outbound rule of a new security group, the rules of a default NACL).
fn everywhere(vpc: &Vpc) -> Vec<IpNet> {
    let mut v = vec![IpNet::V4(ipnet::Ipv4Net::default())];
    if vpc.ipv6_cidr.is_some() {
        v.push(IpNet::V6(ipnet::Ipv6Net::default()));
    }
    v
}

const ALL_TRAFFIC: TrafficMatch = TrafficMatch {
    protocol: Protocol::All,
    ports: None,
    icmp: None,
};

/// The data plane's form of a rule's protocol, ports and ICMP fields.
///
/// `-1` carries neither ports nor ICMP; TCP/UDP carry their range, `None` for all ports
/// (absent or `0-65535`); ICMP/ICMPv6 carry type/code, `None` when both are any (absent or
/// `-1`) and for ICMPv6 with an IPv4 CIDR (`ipv4 == Some(true)`: AWS matches every type);
/// any other protocol carries neither (AWS ignores ports there).
pub fn traffic_match(
    protocol: RuleProtocol,
    ports: Option<PortSpec>,
    icmp_type: Option<i64>,
    icmp_code: Option<i64>,
    ipv4: Option<bool>,
) -> TrafficMatch {
    let mut m = TrafficMatch {
        protocol: protocol.to_config(),
        ports: None,
        icmp: None,
    };
    if protocol.has_ports() {
        m.ports = ports.and_then(|p| {
            let from = u16::try_from(p.from).ok()?;
            let to = u16::try_from(p.to).ok()?;
            if (from, to) == (0, u16::MAX) {
                None
            } else {
                Some(PortRange { from, to })
            }
        });
    } else if protocol.is_icmp() {
        let any = |v: Option<i64>| v.and_then(|x| u8::try_from(x).ok());
        let icmp = IcmpMatch {
            icmp_type: any(icmp_type),
            code: any(icmp_code),
        };
        let ignored = protocol == RuleProtocol::Number(PROTO_ICMPV6) && ipv4 == Some(true);
        if icmp != IcmpMatch::default() && !ignored {
            m.icmp = Some(icmp);
        }
    }
    m
}

/// A network ACL rule, compiled (`None` for a rule number outside `u16`, which
/// validation rejects).
fn nacl_entry(rule: &NaclRule) -> Option<NaclEntry> {
    Some(NaclEntry {
        rule_number: u16::try_from(rule.rule).ok()?,
        traffic: traffic_match(
            rule.protocol,
            rule.ports,
            rule.icmp_type,
            rule.icmp_code,
            Some(matches!(rule.cidr, IpNet::V4(_))),
        ),
        cidr: rule.cidr,
        allow: rule.action == NaclAction::Allow,
    })
}

/// `secs` seconds in milliseconds, times `scale`, rounded, at least 1 ms.
pub fn scaled_ms(secs: u64, scale: f64) -> u64 {
    let ms = (secs as f64 * 1000.0 * scale).round();
    if ms.is_nan() || ms < 1.0 {
        1
    } else {
        // Saturating float-to-int conversion.
        ms as u64
    }
}

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

/// AWS's outbound rule of a new group: all traffic to everywhere.
fn allow_all_out(vpc: &Vpc) -> Vec<SgRule> {
    everywhere(vpc)
        .into_iter()
        .map(|cidr| SgRule {
            traffic: ALL_TRAFFIC,
            peer: SgPeer::Cidr(cidr),
        })
        .collect()
}

/// The index of VPC `vpc`, or `None` after recording that `owner` names no such VPC.
fn vpc_of(
    vpc_idx: &HashMap<&str, usize>,
    owner: &str,
    vpc: &str,
    errors: &mut Vec<ValidationError>,
) -> Option<usize> {
    let vi = vpc_idx.get(vpc).copied();
    if vi.is_none() {
        errors.push(ValidationError::new(
            owner,
            "vpc",
            format!("no VPC with id `{vpc}`"),
        ));
    }
    vi
}

/// `secs` seconds (a float) in whole milliseconds, rounded, at least 1 ms.
pub fn secs_to_ms(secs: f64) -> u64 {
    scaled_ms(1, secs)
}

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

/// The NAT gateways' idle timeout of `[lab]` in milliseconds, or AWS's 350 s when unset.
pub fn nat_gateway_idle_timeout_ms(lab: Option<&LabSettings>) -> u64 {
    lab.and_then(|l| l.nat_gateway_idle_timeout)
        .map_or(NatGatewayConfig::IDLE_TIMEOUT_MS, secs_to_ms)
}

/// The VPC pairs (by model index, lower first) that an active peering connection joins:
/// both VPCs resolve and differ. A security-group rule may reference a group of the other
/// VPC of such a pair; other cross-VPC references are stale.
pub fn active_peering_pairs(t: &Topology) -> HashSet<(usize, usize)> {
    let vpc_idx: HashMap<&str, usize> = first_index(&t.vpcs, |x| x.id.as_str());
    t.peering_connections
        .iter()
        .filter(|p| p.is_active())
        .filter_map(|p| {
            let a = *vpc_idx.get(p.requester_vpc.as_str())?;
            let b = *vpc_idx.get(p.accepter_vpc.as_str())?;
            (a != b).then_some((a.min(b), a.max(b)))
        })
        .collect()
}

/// The interval of flow log `f` in milliseconds: `[lab] flow_log_interval` when set, else
/// its `max_aggregation_interval`.
pub fn flow_log_interval_ms(f: &crate::model::FlowLog, lab: Option<&LabSettings>) -> u64 {
    match lab.and_then(|l| l.flow_log_interval) {
        Some(secs) => secs_to_ms(secs),
        None => u64::try_from(f.max_aggregation_interval)
            .unwrap_or(1)
            .saturating_mul(1000)
            .max(1),
    }
}

/// Flow logs in file order, each with the ENIs of its scope (by index in `enis`, in ENI
/// order), its fields (`log_format`, else the default version 2 fields) and interval.
fn flow_logs(
    t: &Topology,
    vpcs: &[VpcConfig],
    subnets: &[SubnetConfig],
    enis: &[EniConfig],
    errors: &mut Vec<ValidationError>,
) -> Vec<dataplane::vpc::config::FlowLogConfig> {
    use crate::model::FlowLogScope;
    let mut out = Vec::new();
    for f in &t.flow_logs {
        let mut fail = |field: &str, message: String| {
            errors.push(ValidationError::new(&f.id, field, message));
        };
        let of_subnets = |keep: &dyn Fn(&SubnetConfig) -> bool| -> Vec<u32> {
            (0..enis.len())
                .filter(|&ei| subnets.get(enis[ei].subnet as usize).is_some_and(keep))
                .map(idx)
                .collect()
        };
        let covered = match f.scope() {
            FlowLogScope::Eni(id) => enis.iter().position(|e| e.id == id).map(|ei| vec![idx(ei)]),
            FlowLogScope::Subnet(id) => subnets
                .iter()
                .any(|s| s.id == id)
                .then(|| of_subnets(&|s| s.id == id)),
            FlowLogScope::Vpc(id) => vpcs
                .iter()
                .position(|v| v.id == id)
                .map(|vi| of_subnets(&|s| s.vpc as usize == vi)),
            FlowLogScope::Other(_) => None,
        };
        let Some(covered) = covered else {
            fail(
                "resource",
                format!("no ENI, subnet or VPC with id `{}`", f.resource),
            );
            continue;
        };
        let Some(traffic) = f.traffic_type else {
            fail("traffic_type", "missing traffic_type".to_string());
            continue;
        };
        let fields: Vec<String> = match f.format_tokens() {
            None => dataplane::observe::flowlog::DEFAULT_FIELDS
                .iter()
                .map(|n| n.to_string())
                .collect(),
            Some(tokens) => {
                let known = |n: &str| {
                    dataplane::observe::flowlog::FIELDS
                        .iter()
                        .any(|(k, _)| *k == n)
                };
                match tokens
                    .iter()
                    .map(|(_, name)| name.filter(|n| known(n)).map(str::to_string))
                    .collect::<Option<Vec<String>>>()
                {
                    Some(v) if !v.is_empty() => v,
                    _ => {
                        fail(
                            "log_format",
                            "not a list of known `${field}` tokens".to_string(),
                        );
                        continue;
                    }
                }
            }
        };
        out.push(dataplane::vpc::config::FlowLogConfig {
            id: f.id.clone(),
            enis: covered,
            traffic: traffic.to_config(),
            interval_ms: flow_log_interval_ms(f, t.lab.as_ref()),
            path: f.log_destination.clone(),
            fields,
        });
    }
    out
}

fn idx(i: usize) -> u32 {
    // Validation bounds nothing here, but a file with 4 billion resources is not a file.
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Compiles a validated topology (see [`crate::validate::validate`]). A dangling
/// reference, which validation already reports, is returned as an error rather than
/// panicking, so calling this on an unvalidated model is safe.
pub fn compile(t: &Topology) -> Result<DataplaneConfig, ValidationErrors> {
    let mut errors = Vec::new();
    let vpc_idx: HashMap<&str, usize> = first_index(&t.vpcs, |x| x.id.as_str());
    let subnet_idx: HashMap<&str, usize> = first_index(&t.subnets, |x| x.id.as_str());
    let eni_idx: HashMap<&str, usize> = first_index(&t.enis, |x| x.id.as_str());
    let igw_idx: HashMap<&str, usize> = first_index(&t.internet_gateways, |x| x.id.as_str());
    let nat_idx: HashMap<&str, usize> = first_index(&t.nat_gateways, |x| x.id.as_str());

    // Peering connections in file order (their index is their position in `peerings`).
    let mut peerings = Vec::new();
    let mut pcx_idx: HashMap<&str, usize> = HashMap::new();
    for p in &t.peering_connections {
        let mut end = |field: &str, vpc: &str| {
            let vi = vpc_idx.get(vpc).copied();
            if vi.is_none() {
                errors.push(ValidationError::new(
                    &p.id,
                    field,
                    format!("no VPC with id `{vpc}`"),
                ));
            }
            vi
        };
        let requester = end("requester_vpc", &p.requester_vpc);
        let accepter = end("accepter_vpc", &p.accepter_vpc);
        let (Some(requester), Some(accepter)) = (requester, accepter) else {
            continue;
        };
        pcx_idx.entry(p.id.as_str()).or_insert(peerings.len());
        peerings.push(PeeringConfig {
            id: p.id.clone(),
            requester: idx(requester),
            accepter: idx(accepter),
            active: p.is_active(),
        });
    }

    let vpcs: Vec<VpcConfig> = t
        .vpcs
        .iter()
        .map(|v| VpcConfig {
            id: v.id.clone(),
            cidrs: v.all_cidrs(),
        })
        .collect();

    // Route tables: explicit ones, then the implicit mains.
    let mut route_tables = Vec::new();
    let mut rtb_idx: HashMap<&str, usize> = HashMap::new();
    let mut main_of: HashMap<usize, usize> = HashMap::new();
    for rt in &t.route_tables {
        let Some(vi) = vpc_of(&vpc_idx, &rt.id, &rt.vpc, &mut errors) else {
            continue;
        };
        rtb_idx.entry(rt.id.as_str()).or_insert(route_tables.len());
        if rt.main {
            main_of.entry(vi).or_insert(route_tables.len());
        }
        let vpc = &t.vpcs[vi];
        let mut routes: Vec<RouteConfig> = Vec::new();
        let mut used = vec![false; rt.routes.len()];
        let user_route = |j: usize, errors: &mut Vec<ValidationError>| -> Option<RouteConfig> {
            let route = &rt.routes[j];
            // Resolves `id` in `map` (the kind named `what` in the error), or reports it.
            let mut lookup = |map: &HashMap<&str, usize>, id: &str, what: &str| {
                let found = map.get(id).map(|&i| idx(i));
                if found.is_none() {
                    errors.push(ValidationError::new(
                        &rt.id,
                        format!("routes[{j}].target"),
                        format!("no {what} with id `{id}`"),
                    ));
                }
                found
            };
            let target = match route.target_ref() {
                RouteTargetRef::Local => RouteTarget::Local,
                RouteTargetRef::Blackhole => RouteTarget::Blackhole,
                RouteTargetRef::Eni(id) => RouteTarget::Eni(lookup(&eni_idx, id, "ENI")?),
                RouteTargetRef::InternetGateway(id) => {
                    RouteTarget::InternetGateway(lookup(&igw_idx, id, "internet gateway")?)
                }
                RouteTargetRef::NatGateway(id) => {
                    RouteTarget::NatGateway(lookup(&nat_idx, id, "NAT gateway")?)
                }
                // A peering the file does not declare was deleted: its routes are
                // blackholes (validation warns).
                RouteTargetRef::Peering(id) => pcx_idx
                    .get(id)
                    .map_or(RouteTarget::Blackhole, |&pi| RouteTarget::Peering(idx(pi))),
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
            })
        };
        for cidr in vpc.all_cidrs() {
            match rt.routes.iter().position(|r| r.destination == cidr) {
                Some(j) => {
                    used[j] = true;
                    if let Some(rc) = user_route(j, &mut errors) {
                        routes.push(rc);
                    }
                }
                None => routes.push(RouteConfig {
                    destination: cidr,
                    target: RouteTarget::Local,
                }),
            }
        }
        for (j, done) in used.iter().enumerate() {
            if !done {
                if let Some(rc) = user_route(j, &mut errors) {
                    routes.push(rc);
                }
            }
        }
        route_tables.push(RouteTableConfig {
            id: rt.id.clone(),
            vpc: idx(vi),
            routes,
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
                .map(|destination| RouteConfig {
                    destination,
                    target: RouteTarget::Local,
                })
                .collect(),
        });
    }

    // Network ACLs: declared ones, then the implicit defaults.
    let mut network_acls = Vec::new();
    let mut nacl_of_subnet: HashMap<&str, usize> = HashMap::new();
    let mut default_nacl: HashMap<usize, usize> = HashMap::new();
    for n in &t.network_acls {
        let Some(vi) = vpc_of(&vpc_idx, &n.id, &n.vpc, &mut errors) else {
            continue;
        };
        let ni = network_acls.len();
        if n.default {
            default_nacl.entry(vi).or_insert(ni);
        }
        for s in &n.subnets {
            nacl_of_subnet.entry(s.as_str()).or_insert(ni);
        }
        let mut entries = |dir: &str, rules: &[NaclRule]| -> Vec<NaclEntry> {
            rules
                .iter()
                .enumerate()
                .filter_map(|(k, rule)| {
                    let e = nacl_entry(rule);
                    if e.is_none() {
                        errors.push(ValidationError::new(
                            &n.id,
                            format!("{dir}[{k}].rule"),
                            "rule number out of range",
                        ));
                    }
                    e
                })
                .collect()
        };
        let inbound = entries("inbound", &n.inbound);
        let outbound = entries("outbound", &n.outbound);
        network_acls.push(NetworkAclConfig {
            id: n.id.clone(),
            vpc: idx(vi),
            inbound,
            outbound,
        });
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if default_nacl.contains_key(&vi) {
            continue;
        }
        default_nacl.insert(vi, network_acls.len());
        let allow_all: Vec<NaclEntry> = everywhere(v)
            .into_iter()
            .zip(100u16..)
            .map(|(cidr, rule_number)| NaclEntry {
                rule_number,
                traffic: ALL_TRAFFIC,
                cidr,
                allow: true,
            })
            .collect();
        network_acls.push(NetworkAclConfig {
            id: implicit_default_nacl_id(&v.id),
            vpc: idx(vi),
            inbound: allow_all.clone(),
            outbound: allow_all,
        });
    }

    // Security groups: indices first (rules may name groups declared later), declared
    // ones in file order, then the implicit defaults.
    let mut sg_idx: HashMap<String, usize> = HashMap::new();
    let mut default_sg: HashMap<usize, usize> = HashMap::new();
    let mut declared: Vec<(usize, usize)> = Vec::new(); // (model index, VPC index)
    for (gi, g) in t.security_groups.iter().enumerate() {
        let Some(vi) = vpc_of(&vpc_idx, &g.id, &g.vpc, &mut errors) else {
            continue;
        };
        let si = declared.len();
        sg_idx.entry(g.id.clone()).or_insert(si);
        if g.default {
            default_sg.entry(vi).or_insert(si);
        }
        declared.push((gi, vi));
    }
    let mut implicit_sgs: Vec<usize> = Vec::new(); // VPC indices
    for vi in 0..t.vpcs.len() {
        if let std::collections::hash_map::Entry::Vacant(slot) = default_sg.entry(vi) {
            let si = declared.len() + implicit_sgs.len();
            slot.insert(si);
            sg_idx
                .entry(implicit_default_sg_id(&t.vpcs[vi].id))
                .or_insert(si);
            implicit_sgs.push(vi);
        }
    }
    let pl_idx: HashMap<&str, usize> = first_index(&t.prefix_lists, |x| x.id.as_str());
    // The VPC of each compiled group, and the VPC pairs whose groups may reference each
    // other's (an active peering joins them).
    let sg_vpc: Vec<usize> = declared
        .iter()
        .map(|&(_, vi)| vi)
        .chain(implicit_sgs.iter().copied())
        .collect();
    let peered = active_peering_pairs(t);
    let mut security_groups = Vec::new();
    for &(gi, vi) in &declared {
        let g = &t.security_groups[gi];
        let mut rules = |dir: &str, specs: &[SgRuleSpec]| -> Vec<SgRule> {
            let mut out = Vec::new();
            for (k, spec) in specs.iter().enumerate() {
                let Some(peer) = spec.peer() else {
                    errors.push(ValidationError::new(
                        &g.id,
                        format!("{dir}[{k}]"),
                        "rule without a peer",
                    ));
                    continue;
                };
                let (peer, ipv4) = match peer {
                    RulePeer::Cidr(n) => (SgPeer::Cidr(*n), Some(matches!(n, IpNet::V4(_)))),
                    RulePeer::Group(id) => match sg_idx.get(id) {
                        Some(&si) => {
                            let other = sg_vpc.get(si).copied().unwrap_or(vi);
                            if other != vi && !peered.contains(&(vi.min(other), vi.max(other))) {
                                // Stale (validation warns): it matches nothing.
                                continue;
                            }
                            (SgPeer::Group(idx(si)), None)
                        }
                        None => {
                            errors.push(ValidationError::new(
                                &g.id,
                                format!("{dir}[{k}]"),
                                format!("no security group with id `{id}`"),
                            ));
                            continue;
                        }
                    },
                    RulePeer::PrefixList(id) => match pl_idx.get(id.as_str()) {
                        Some(&pi) => (
                            SgPeer::PrefixList {
                                id: id.clone(),
                                cidrs: t.prefix_lists[pi].entries.clone(),
                            },
                            None,
                        ),
                        None => {
                            errors.push(ValidationError::new(
                                &g.id,
                                format!("{dir}[{k}]"),
                                format!("no prefix list with id `{id}`"),
                            ));
                            continue;
                        }
                    },
                };
                out.push(SgRule {
                    traffic: traffic_match(
                        spec.protocol,
                        spec.ports,
                        spec.icmp_type,
                        spec.icmp_code,
                        ipv4,
                    ),
                    peer,
                });
            }
            out
        };
        let inbound = rules("inbound", &g.inbound);
        let outbound = match &g.outbound {
            Some(specs) => rules("outbound", specs),
            None => allow_all_out(&t.vpcs[vi]),
        };
        security_groups.push(SecurityGroupConfig {
            id: g.id.clone(),
            vpc: idx(vi),
            inbound,
            outbound,
        });
    }
    for &vi in &implicit_sgs {
        let own = idx(security_groups.len());
        security_groups.push(SecurityGroupConfig {
            id: implicit_default_sg_id(&t.vpcs[vi].id),
            vpc: idx(vi),
            inbound: vec![SgRule {
                traffic: ALL_TRAFFIC,
                peer: SgPeer::Group(own),
            }],
            outbound: allow_all_out(&t.vpcs[vi]),
        });
    }

    let mut subnets = Vec::new();
    for s in &t.subnets {
        let Some(vi) = vpc_of(&vpc_idx, &s.id, &s.vpc, &mut errors) else {
            continue;
        };
        let rt = match &s.route_table {
            Some(id) => rtb_idx.get(id.as_str()).copied(),
            None => main_of.get(&vi).copied(),
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
            network_acl: nacl_of_subnet
                .get(s.id.as_str())
                .or_else(|| default_nacl.get(&vi))
                .map(|&ni| idx(ni)),
        });
    }

    let scale = t.lab.map_or(1.0, |l| l.conntrack_time_scale);
    let mut enis = Vec::new();
    for e in &t.enis {
        let Some(&si) = subnet_idx.get(e.subnet.as_str()) else {
            errors.push(ValidationError::new(
                &e.id,
                "subnet",
                format!("no subnet with id `{}`", e.subnet),
            ));
            continue;
        };
        let vi = vpc_idx.get(t.subnets[si].vpc.as_str()).copied();
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
            attachment: e.netns.as_ref().map(|ns| Attachment {
                netns: ns.clone(),
                ifname: e.ifname.clone(),
            }),
            security_groups: Some(groups),
            conntrack: conntrack_config(e.conntrack.as_ref(), scale),
        });
    }

    // NAT gateways in file order (their index is their model index).
    let nat_addrs = nat_gateway_addresses(t);
    let ports = nat_gateway_ports(t.lab.as_ref());
    let idle_timeout_ms = nat_gateway_idle_timeout_ms(t.lab.as_ref());
    let mut nat_gateways = Vec::new();
    // (VPC, NAT gateway index, addresses) of each public NAT gateway, for the mappings.
    let mut public_nats: Vec<(usize, usize, &[Ipv4Addr])> = Vec::new();
    for (ni, (n, addrs)) in t.nat_gateways.iter().zip(&nat_addrs).enumerate() {
        let Some(&si) = subnet_idx.get(n.subnet.as_str()) else {
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
            if let Some(&vi) = vpc_idx.get(t.subnets[si].vpc.as_str()) {
                public_nats.push((vi, ni, addrs));
            }
        }
        nat_gateways.push(NatGatewayConfig {
            id: n.id.clone(),
            subnet: idx(si),
            addrs: addrs.clone(),
            public,
            ports,
            max_per_destination: NatGatewayConfig::MAX_PER_DESTINATION,
            idle_timeout_ms,
            max_connections: NatGatewayConfig::MAX_CONNECTIONS,
        });
    }
    let eip_idx: HashMap<&str, usize> = first_index(&t.elastic_ips, |x| x.id.as_str());

    // Internet gateways in file order, each with the 1:1 NAT table of its VPC: the
    // associated Elastic IPs (file order), then the ENIs' public IPs (ENI order), then the
    // Elastic IPs of its VPC's public NAT gateways. Public addresses of VPCs without a
    // gateway are dropped (validation warns about ENIs' and rejects NAT gateways').
    let eni_vpc = |ei: usize| -> Option<usize> {
        let si = subnet_idx.get(t.enis[ei].subnet.as_str())?;
        vpc_idx.get(t.subnets[*si].vpc.as_str()).copied()
    };
    let mut internet_gateways = Vec::new();
    for g in &t.internet_gateways {
        let Some(vi) = vpc_of(&vpc_idx, &g.id, &g.vpc, &mut errors) else {
            continue;
        };
        let mut mappings = Vec::new();
        for e in &t.elastic_ips {
            let Some(eni) = &e.eni else { continue };
            let Some(&ei) = eni_idx.get(eni.as_str()) else {
                errors.push(ValidationError::new(
                    &e.id,
                    "eni",
                    format!("no ENI with id `{eni}`"),
                ));
                continue;
            };
            if eni_vpc(ei) == Some(vi) {
                mappings.push(PublicMapping {
                    public: e.public_ip,
                    target: MappingTarget::Eni(idx(ei)),
                    private: e.private_ip.unwrap_or(t.enis[ei].private_ip),
                    source: e.id.clone(),
                });
            }
        }
        for (ei, n) in t.enis.iter().enumerate() {
            if let (Some(public), Some(true)) = (n.public_ip, eni_vpc(ei).map(|v| v == vi)) {
                mappings.push(PublicMapping {
                    public,
                    target: MappingTarget::Eni(idx(ei)),
                    private: n.private_ip,
                    source: "public_ip".to_string(),
                });
            }
        }
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
        internet_gateways.push(InternetGatewayConfig {
            id: g.id.clone(),
            vpc: idx(vi),
            mac: igw_mac(&g.id),
            uplink: g.internet.as_ref().map(|inet| Uplink {
                attachment: Attachment {
                    netns: inet.netns.clone(),
                    ifname: inet.ifname.clone(),
                },
                outside: inet.cidr,
                gateway_ip: inet.gateway,
                hosts: inet.hosts.clone(),
                host_mac: igw_host_mac(&g.id),
                mtu: inet.mtu,
            }),
            mappings,
        });
    }

    let flow_logs = flow_logs(t, &vpcs, &subnets, &enis, &mut errors);

    // Packet captures and traffic mirror sessions in file order.
    let (captures, mirror_sessions) = taps::captures_and_mirrors(t, &eni_idx, &mut errors);

    if errors.is_empty() {
        Ok(DataplaneConfig {
            vpcs,
            subnets,
            route_tables,
            enis,
            network_acls,
            security_groups,
            internet_gateways,
            nat_gateways,
            peerings,
            flow_logs,
            captures,
            mirror_sessions,
        })
    } else {
        Err(ValidationErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile_str;
    use dataplane::vpc::config::Attachment;

    /// The example of the schema: three subnets, a middlebox route, an implicit main.
    const DEMO: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"
        secondary_cidrs = ["10.1.0.0/16"]
        ipv6_cidr = "2600:1f18:aa00:100::/56"

        [[vpc]]
        id = "vpc-other"
        cidr = "10.0.0.0/16"

        [[route_table]]
        id = "rtb-fw"
        vpc = "vpc-demo"
        routes = [
          { destination = "0.0.0.0/0", target = "blackhole" },
          { destination = "10.0.0.0/16", target = "eni-fw" },
          { destination = "10.0.2.0/24", target = "eni-fw" },
        ]

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
        route_table = "rtb-fw"

        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-demo"
        cidr = "10.0.2.0/24"
        ipv6_cidr = "2600:1f18:aa00:102::/64"

        [[subnet]]
        id = "subnet-fw"
        vpc = "vpc-demo"
        cidr = "10.1.3.0/24"

        [[subnet]]
        id = "subnet-o"
        vpc = "vpc-other"
        cidr = "10.0.1.0/24"

        [[eni]]
        id = "eni-a1"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        secondary_ips = ["10.0.1.11", "10.0.1.12"]
        netns = "ns-a1"

        [[eni]]
        id = "eni-fw"
        subnet = "subnet-fw"
        private_ip = "10.1.3.10"
        source_dest_check = false
        mtu = 1500
        mac = "02:aa:bb:cc:dd:ee"
        netns = "ns-fw"
        ifname = "fw0"

        [[eni]]
        id = "eni-b1"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
        ipv6_ips = ["2600:1f18:aa00:102::10"]
    "#;

    fn demo() -> DataplaneConfig {
        compile_str(DEMO).unwrap().config
    }

    fn rtb<'a>(c: &'a DataplaneConfig, id: &str) -> &'a RouteTableConfig {
        c.route_tables.iter().find(|r| r.id == id).unwrap()
    }

    #[test]
    fn fnv1a_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn generated_macs_are_stable_local_unicast_and_distinct() {
        let e = eni_mac("eni-a1");
        let r = router_mac("subnet-a");
        assert_eq!(e, eni_mac("eni-a1"));
        assert!(e.is_local_unicast() && r.is_local_unicast());
        assert_eq!(e.0[0], 0x02);
        assert_eq!(r.0[0], 0x06);
        assert_ne!(eni_mac("eni-a1"), eni_mac("eni-a2"));
        // Pinned so that a change of the derivation is a deliberate one.
        let h = mix64(fnv1a64(b"eni-a1")).to_be_bytes();
        assert_eq!(e.0[1..], h[..5]);
    }

    #[test]
    fn indices_follow_file_order_with_implicit_mains_last() {
        let c = demo();
        let vpcs: Vec<&str> = c.vpcs.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(vpcs, ["vpc-demo", "vpc-other"]);
        let rts: Vec<&str> = c.route_tables.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(rts, ["rtb-fw", "rtb-main-demo", "rtb-main-other"]);
        let subnets: Vec<&str> = c.subnets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(subnets, ["subnet-a", "subnet-b", "subnet-fw", "subnet-o"]);
        let enis: Vec<&str> = c.enis.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(enis, ["eni-a1", "eni-fw", "eni-b1"]);
        assert_eq!(c.subnets[3].vpc, 1);
        assert_eq!(c.enis[1].subnet, 2);
        assert_eq!(c.route_tables[2].vpc, 1);
    }

    #[test]
    fn vpc_cidrs_primary_secondary_ipv6() {
        let c = demo();
        let cidrs: Vec<String> = c.vpcs[0].cidrs.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            cidrs,
            ["10.0.0.0/16", "10.1.0.0/16", "2600:1f18:aa00:100::/56"]
        );
    }

    #[test]
    fn local_routes_first_unless_replaced() {
        let c = demo();
        let fw = rtb(&c, "rtb-fw");
        let routes: Vec<(String, RouteTarget)> = fw
            .routes
            .iter()
            .map(|r| (r.destination.to_string(), r.target))
            .collect();
        assert_eq!(
            routes,
            [
                ("10.0.0.0/16".to_string(), RouteTarget::Eni(1)),
                ("10.1.0.0/16".to_string(), RouteTarget::Local),
                ("2600:1f18:aa00:100::/56".to_string(), RouteTarget::Local),
                ("0.0.0.0/0".to_string(), RouteTarget::Blackhole),
                ("10.0.2.0/24".to_string(), RouteTarget::Eni(1)),
            ]
        );
        let main = rtb(&c, "rtb-main-demo");
        assert_eq!(main.routes.len(), 3);
        assert!(main.routes.iter().all(|r| r.target == RouteTarget::Local));
    }

    #[test]
    fn explicit_local_route_is_not_duplicated() {
        let c = compile_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-x\"\nmain = true\nroutes = [{ destination = \"10.0.0.0/16\", target = \"local\" }]\n",
        )
        .unwrap()
        .config;
        assert_eq!(c.route_tables.len(), 1);
        assert_eq!(c.route_tables[0].routes.len(), 1);
        assert_eq!(c.route_tables[0].routes[0].target, RouteTarget::Local);
    }

    #[test]
    fn scenario_12_main_vs_explicit_association() {
        let c = demo();
        // subnet-a is explicitly on rtb-fw; subnet-b and subnet-fw follow the main.
        assert_eq!(c.subnets[0].route_table, 0);
        assert_eq!(c.subnets[1].route_table, 1);
        assert_eq!(c.subnets[2].route_table, 1);
        assert_eq!(c.subnets[3].route_table, 2);
        // Making rtb-fw the main: implicit subnets follow it, no implicit main is made.
        let c = compile_str(&DEMO.replace(
            "id = \"rtb-fw\"\n        vpc = \"vpc-demo\"",
            "id = \"rtb-fw\"\n        vpc = \"vpc-demo\"\n        main = true",
        ))
        .unwrap()
        .config;
        assert!(!c.route_tables.iter().any(|r| r.id == "rtb-main-demo"));
        assert_eq!(c.subnets[1].route_table, 0);
    }

    #[test]
    fn scenario_9_blackhole_compiles() {
        let c = demo();
        assert!(rtb(&c, "rtb-fw")
            .routes
            .iter()
            .any(|r| r.target == RouteTarget::Blackhole));
    }

    #[test]
    fn subnets_carry_cidrs_and_router_macs() {
        let c = demo();
        assert_eq!(c.subnets[0].ipv4_cidr.unwrap().to_string(), "10.0.1.0/24");
        assert_eq!(c.subnets[0].ipv6_cidr, None);
        assert_eq!(
            c.subnets[1].ipv6_cidr.unwrap().to_string(),
            "2600:1f18:aa00:102::/64"
        );
        assert_eq!(c.subnets[0].router_mac, router_mac("subnet-a"));
        let macs: std::collections::HashSet<_> = c
            .subnets
            .iter()
            .map(|s| s.router_mac)
            .chain(c.enis.iter().map(|e| e.mac))
            .collect();
        assert_eq!(macs.len(), c.subnets.len() + c.enis.len());
    }

    #[test]
    fn enis_carry_addresses_mac_and_attachment() {
        let c = demo();
        let a = &c.enis[0];
        let ips: Vec<String> = a.ipv4.iter().map(|i| i.to_string()).collect();
        assert_eq!(ips, ["10.0.1.10", "10.0.1.11", "10.0.1.12"]);
        assert_eq!(a.mac, eni_mac("eni-a1"));
        assert!(a.source_dest_check);
        assert_eq!(a.mtu, 9001);
        assert_eq!(
            a.attachment,
            Some(Attachment {
                netns: "ns-a1".into(),
                ifname: "eth0".into()
            })
        );
        let fw = &c.enis[1];
        assert_eq!(fw.mac.to_string(), "02:aa:bb:cc:dd:ee");
        assert!(!fw.source_dest_check);
        assert_eq!(fw.mtu, 1500);
        assert_eq!(fw.attachment.as_ref().unwrap().ifname, "fw0");
        let b = &c.enis[2];
        assert_eq!(b.attachment, None);
        assert_eq!(b.ipv6.len(), 1);
    }

    #[test]
    fn config_survives_the_wire() {
        let c = demo();
        let json = serde_json::to_string(&c).unwrap();
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn compile_of_unvalidated_model_reports_instead_of_panicking() {
        let mut t = crate::validate::parse(
            "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-x\"\nprivate_ip = \"10.0.0.10\"\n",
        )
        .unwrap();
        t.vpcs.clear();
        let e = compile(&t).unwrap_err();
        assert_eq!(e.0[0].resource, "eni-a");
    }

    /// A dual-stack VPC with two subnets, a prefix list, a custom NACL on subnet-b, groups.
    const FIREWALLS: &str = r#"
        [lab]
        conntrack_time_scale = 0.01

        [[vpc]]
        id = "vpc-x"
        cidr = "10.0.0.0/16"
        ipv6_cidr = "2600:1f18:aa00:100::/56"

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-x"
        cidr = "10.0.1.0/24"

        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-x"
        cidr = "10.0.2.0/24"

        [[prefix_list]]
        id = "pl-admins"
        entries = ["203.0.113.0/24", "198.51.100.7/32"]

        [[network_acl]]
        id = "acl-b"
        vpc = "vpc-x"
        subnets = ["subnet-b"]
        inbound = [
          { rule = 200, protocol = "tcp", ports = "1024-65535", cidr = "0.0.0.0/0", action = "allow" },
          { rule = 90, protocol = "tcp", ports = 23, cidr = "0.0.0.0/0", action = "deny" },
          { rule = 120, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr = "0.0.0.0/0", action = "allow" },
          { rule = 130, protocol = 47, ports = "80-80", cidr = "10.0.0.0/16", action = "allow" },
        ]

        [[network_acl]]
        id = "acl-empty"
        vpc = "vpc-x"

        [[security_group]]
        id = "sg-web"
        vpc = "vpc-x"
        inbound = [
          { protocol = "tcp", ports = "80", source = "0.0.0.0/0" },
          { protocol = "-1", source = "sg-web" },
          { protocol = "tcp", ports = "22", source = "pl-admins" },
          { protocol = "icmp", icmp_type = 8, source = "10.0.0.0/16" },
          { protocol = "udp", ports = "0-65535", source = "sg-app" },
        ]

        [[security_group]]
        id = "sg-app"
        vpc = "vpc-x"
        outbound = []

        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-web", "sg-app"]
        conntrack = { max_entries = 1024, udp_timeout = 60, tcp_established_timeout = 60 }

        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
    "#;

    fn firewalls() -> DataplaneConfig {
        compile_str(FIREWALLS).unwrap().config
    }

    #[test]
    fn implicit_default_nacl_allows_all_both_families() {
        let c = firewalls();
        let ids: Vec<&str> = c.network_acls.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["acl-b", "acl-empty", "acl-default-x"]);
        let d = &c.network_acls[2];
        for dir in [&d.inbound, &d.outbound] {
            let got: Vec<(u16, String, bool)> = dir
                .iter()
                .map(|e| (e.rule_number, e.cidr.to_string(), e.allow))
                .collect();
            assert_eq!(
                got,
                [(100, "0.0.0.0/0".into(), true), (101, "::/0".into(), true)]
            );
            assert!(dir.iter().all(|e| e.traffic == ALL_TRAFFIC));
        }
        // An IPv4-only VPC gets rule 100 only.
        let c = demo();
        let other = c
            .network_acls
            .iter()
            .find(|n| n.id == "acl-default-other")
            .unwrap();
        assert_eq!(other.inbound.len(), 1);
    }

    #[test]
    fn scenario_16_custom_nacl_without_rules_has_no_entries() {
        let c = firewalls();
        assert!(c.network_acls[1].inbound.is_empty() && c.network_acls[1].outbound.is_empty());
    }

    #[test]
    fn subnets_get_their_nacl_or_the_default() {
        let c = firewalls();
        assert_eq!(c.subnets[0].network_acl, Some(2));
        assert_eq!(c.subnets[1].network_acl, Some(0));
        // A declared default replaces the implicit one and is used as written.
        let src = FIREWALLS.replace(
            "id = \"acl-empty\"\n        vpc = \"vpc-x\"",
            "id = \"acl-empty\"\n        vpc = \"vpc-x\"\n        default = true",
        );
        let c = compile_str(&src).unwrap().config;
        assert_eq!(c.network_acls.len(), 2);
        assert_eq!(c.subnets[0].network_acl, Some(1));
        assert!(c.network_acls[1].inbound.is_empty());
    }

    #[test]
    fn nacl_entries_keep_file_order_and_compile_matches() {
        let c = firewalls();
        let b = &c.network_acls[0];
        let numbers: Vec<u16> = b.inbound.iter().map(|e| e.rule_number).collect();
        assert_eq!(numbers, [200, 90, 120, 130]);
        assert_eq!(
            b.inbound[0].traffic.ports,
            Some(PortRange {
                from: 1024,
                to: 65535
            })
        );
        assert!(!b.inbound[1].allow);
        assert_eq!(
            b.inbound[1].traffic.ports,
            Some(PortRange { from: 23, to: 23 })
        );
        assert_eq!(
            b.inbound[2].traffic,
            TrafficMatch {
                protocol: Protocol::Number(1),
                ports: None,
                icmp: Some(IcmpMatch {
                    icmp_type: Some(3),
                    code: Some(4)
                }),
            }
        );
        // Scenario 17: GRE with ports compiles to "all GRE".
        assert_eq!(
            b.inbound[3].traffic,
            TrafficMatch {
                protocol: Protocol::Number(47),
                ports: None,
                icmp: None
            }
        );
    }

    #[test]
    fn traffic_match_normalises_all_ports_and_any_icmp() {
        let tcp = RuleProtocol::Number(6);
        let all = traffic_match(tcp, Some(PortSpec { from: 0, to: 65535 }), None, None, None);
        assert_eq!(all.ports, None);
        assert_eq!(traffic_match(tcp, None, None, None, None).ports, None);
        let icmp = RuleProtocol::Number(1);
        assert_eq!(
            traffic_match(icmp, None, Some(-1), Some(-1), None).icmp,
            None
        );
        assert_eq!(
            traffic_match(icmp, None, Some(8), None, None).icmp,
            Some(IcmpMatch {
                icmp_type: Some(8),
                code: None
            })
        );
        let v6 = RuleProtocol::Number(58);
        assert_eq!(
            traffic_match(v6, None, Some(128), None, Some(true)).icmp,
            None
        );
        assert!(traffic_match(v6, None, Some(128), None, Some(false))
            .icmp
            .is_some());
        let any = traffic_match(
            RuleProtocol::All,
            Some(PortSpec { from: 1, to: 2 }),
            Some(3),
            None,
            None,
        );
        assert_eq!(any, ALL_TRAFFIC);
    }

    #[test]
    fn security_groups_compile_peers_and_outbound_defaults() {
        let c = firewalls();
        let ids: Vec<&str> = c.security_groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["sg-web", "sg-app", "sg-default-x"]);
        let web = &c.security_groups[0];
        let peers: Vec<&SgPeer> = web.inbound.iter().map(|r| &r.peer).collect();
        assert_eq!(
            peers,
            [
                &SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
                &SgPeer::Group(0),
                &SgPeer::PrefixList {
                    id: "pl-admins".into(),
                    cidrs: vec![
                        "203.0.113.0/24".parse().unwrap(),
                        "198.51.100.7/32".parse().unwrap()
                    ],
                },
                &SgPeer::Cidr("10.0.0.0/16".parse().unwrap()),
                &SgPeer::Group(1),
            ]
        );
        assert_eq!(web.inbound[4].traffic.ports, None, "0-65535 is all ports");
        // Outbound absent: all to 0.0.0.0/0 and ::/0 (dual-stack VPC).
        let out: Vec<String> = web
            .outbound
            .iter()
            .map(|r| match &r.peer {
                SgPeer::Cidr(n) => n.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(out, ["0.0.0.0/0", "::/0"]);
        assert!(web.outbound.iter().all(|r| r.traffic == ALL_TRAFFIC));
        // `outbound = []` and inbound absent: no rules at all.
        assert!(
            c.security_groups[1].inbound.is_empty() && c.security_groups[1].outbound.is_empty()
        );
    }

    #[test]
    fn scenario_20_implicit_default_group_admits_itself() {
        let c = firewalls();
        let d = &c.security_groups[2];
        assert_eq!(
            d.inbound,
            [SgRule {
                traffic: ALL_TRAFFIC,
                peer: SgPeer::Group(2)
            }]
        );
        assert_eq!(d.outbound.len(), 2);
        // ENIs without groups get it; others get theirs, in order.
        assert_eq!(c.enis[0].security_groups, Some(vec![0, 1]));
        assert_eq!(c.enis[1].security_groups, Some(vec![2]));
    }

    #[test]
    fn conntrack_is_scaled_milliseconds() {
        let c = firewalls();
        assert_eq!(
            c.enis[0].conntrack,
            ConntrackConfig {
                max_entries: 1024,
                tcp_established_ms: 600,
                tcp_transitory_ms: 1200,
                udp_ms: 600,
                udp_stream_ms: 1800,
                icmp_ms: 300,
                other_ms: 6000,
            }
        );
        assert_eq!(c.enis[1].conntrack.udp_ms, 300);
        assert_eq!(c.enis[1].conntrack.max_entries, 65_536);
        // Unscaled, the defaults are the data plane's defaults; tiny scales stay >= 1 ms.
        assert_eq!(conntrack_config(None, 1.0), ConntrackConfig::default());
        assert_eq!(scaled_ms(30, 1e-9), 1);
        assert_eq!(scaled_ms(30, 0.0123), 369);
    }

    #[test]
    fn firewalls_survive_the_wire() {
        let c = firewalls();
        let json = serde_json::to_string(&c).unwrap();
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    const GATEWAYS: &str = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"
        route_table = "rtb-pub"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-b"
        cidr = "10.1.1.0/24"
        [[route_table]]
        id = "rtb-pub"
        vpc = "vpc-a"
        routes = [{ destination = "0.0.0.0/0", target = "igw-a" }]
        [[eni]]
        id = "eni-a1"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        secondary_ips = ["10.0.1.11"]
        public_ip = "198.51.100.10"
        [[eni]]
        id = "eni-a2"
        subnet = "subnet-a"
        private_ip = "10.0.1.20"
        [[eni]]
        id = "eni-b1"
        subnet = "subnet-b"
        private_ip = "10.1.1.10"
        public_ip = "198.51.100.30"
        [[internet_gateway]]
        id = "igw-bare"
        vpc = "vpc-b"
        [[internet_gateway]]
        id = "igw-a"
        vpc = "vpc-a"
        internet = { netns = "inet", ifname = "up0", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5", "203.0.113.6"], mtu = 1400 }
        [[elastic_ip]]
        id = "eipalloc-2"
        public_ip = "198.51.100.20"
        eni = "eni-a2"
        [[elastic_ip]]
        id = "eipalloc-1"
        public_ip = "198.51.100.11"
        eni = "eni-a1"
        private_ip = "10.0.1.11"
        [[elastic_ip]]
        id = "eipalloc-free"
        public_ip = "198.51.100.99"
    "#;

    #[test]
    fn internet_gateways_compile_in_file_order_with_uplink_and_macs() {
        let c = compile_str(GATEWAYS).unwrap().config;
        let ids: Vec<&str> = c.internet_gateways.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["igw-bare", "igw-a"]);
        let bare = &c.internet_gateways[0];
        assert_eq!((bare.vpc, bare.uplink.is_none()), (1, true));
        let g = &c.internet_gateways[1];
        assert_eq!(g.vpc, 0);
        assert_eq!(g.mac, igw_mac("igw-a"));
        assert_eq!(g.mac.0[0], IGW_MAC_OUI);
        let u = g.uplink.as_ref().unwrap();
        assert_eq!(
            u.attachment,
            Attachment {
                netns: "inet".into(),
                ifname: "up0".into()
            }
        );
        assert_eq!(u.outside, "203.0.113.0/24".parse().unwrap());
        assert_eq!(
            u.gateway_ip,
            "203.0.113.1".parse::<std::net::Ipv4Addr>().unwrap()
        );
        assert_eq!(u.hosts.len(), 2);
        assert_eq!(u.host_mac, igw_host_mac("igw-a"));
        assert_eq!(u.host_mac.0[0], IGW_HOST_MAC_OUI);
        assert_eq!(u.mtu, 1400);
        assert_eq!(
            rtb(&c, "rtb-pub").routes[1].target,
            RouteTarget::InternetGateway(1)
        );
    }

    #[test]
    fn igw_macs_are_stable_local_unicast_and_distinct_from_enis_and_routers() {
        for id in ["igw-a", "igw-demo"] {
            let (m, h) = (igw_mac(id), igw_host_mac(id));
            assert_eq!(m, igw_mac(id));
            for mac in [m, h] {
                assert!(!mac.is_multicast() && mac.0[0] & 0x02 == 0x02, "{mac}");
            }
            assert_ne!(m, h);
            assert_ne!(m, eni_mac(id));
            assert_ne!(m, router_mac(id));
        }
        assert_ne!(igw_mac("igw-a"), igw_mac("igw-b"));
    }

    #[test]
    fn mappings_are_the_eips_then_the_public_ips_of_the_gateways_vpc() {
        let c = compile_str(GATEWAYS).unwrap().config;
        let m: Vec<(String, MappingTarget, String, &str)> = c.internet_gateways[1]
            .mappings
            .iter()
            .map(|m| {
                (
                    m.public.to_string(),
                    m.target,
                    m.private.to_string(),
                    m.source.as_str(),
                )
            })
            .collect();
        let eni = MappingTarget::Eni;
        assert_eq!(
            m,
            [
                (
                    "198.51.100.20".into(),
                    eni(1),
                    "10.0.1.20".into(),
                    "eipalloc-2"
                ),
                (
                    "198.51.100.11".into(),
                    eni(0),
                    "10.0.1.11".into(),
                    "eipalloc-1"
                ),
                (
                    "198.51.100.10".into(),
                    eni(0),
                    "10.0.1.10".into(),
                    "public_ip"
                ),
            ]
        );
        let b: Vec<_> = c.internet_gateways[0]
            .mappings
            .iter()
            .map(|m| (m.public.to_string(), m.target, m.source.clone()))
            .collect();
        assert_eq!(
            b,
            [("198.51.100.30".to_string(), eni(2), "public_ip".to_string())]
        );
    }

    #[test]
    fn public_addresses_of_a_vpc_without_gateway_are_dropped_with_a_warning() {
        let src = GATEWAYS.replace(
            "[[internet_gateway]]\n        id = \"igw-bare\"\n        vpc = \"vpc-b\"\n",
            "",
        );
        let c = compile_str(&src).unwrap();
        assert_eq!(c.config.internet_gateways.len(), 1);
        assert!(c
            .config
            .internet_gateways
            .iter()
            .flat_map(|g| &g.mappings)
            .all(|m| m.target != MappingTarget::Eni(2)));
        assert!(
            c.warnings.iter().any(|w| w.starts_with("eni-b1.public_ip:")
                && w.contains("vpc-b has no internet gateway")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn gateways_survive_the_wire() {
        let c = compile_str(GATEWAYS).unwrap().config;
        let json = serde_json::to_string(&c).unwrap();
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    /// A public subnet with a public NAT gateway (two addresses, two Elastic IPs) used by
    /// a private subnet, and a private NAT gateway with an auto-assigned address.
    const NAT: &str = r#"
        [lab]
        conntrack_time_scale = 0.01
        nat_gateway_ports = [2000, 2009]
        nat_gateway_idle_timeout = 0.5

        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        [[subnet]]
        id = "subnet-pub"
        vpc = "vpc-a"
        cidr = "10.0.0.0/24"
        route_table = "rtb-pub"
        [[subnet]]
        id = "subnet-priv"
        vpc = "vpc-a"
        cidr = "10.0.4.0/24"
        route_table = "rtb-priv"
        [[route_table]]
        id = "rtb-pub"
        vpc = "vpc-a"
        routes = [{ destination = "0.0.0.0/0", target = "igw-a" }]
        [[route_table]]
        id = "rtb-priv"
        vpc = "vpc-a"
        routes = [
          { destination = "0.0.0.0/0", target = "nat-a" },
          { destination = "192.168.0.0/16", target = "nat-p" },
        ]
        [[eni]]
        id = "eni-pub1"
        subnet = "subnet-pub"
        private_ip = "10.0.0.40"
        public_ip = "198.51.100.40"
        [[eni]]
        id = "eni-top"
        subnet = "subnet-priv"
        private_ip = "10.0.4.254"
        [[internet_gateway]]
        id = "igw-a"
        vpc = "vpc-a"
        [[nat_gateway]]
        id = "nat-p"
        subnet = "subnet-priv"
        connectivity = "private"
        [[nat_gateway]]
        id = "nat-a"
        subnet = "subnet-pub"
        allocation_id = "eipalloc-nat"
        private_ip = "10.0.0.220"
        secondary_private_ips = ["10.0.0.221"]
        secondary_allocation_ids = ["eipalloc-nat2"]
        [[elastic_ip]]
        id = "eipalloc-nat2"
        public_ip = "198.51.100.8"
        [[elastic_ip]]
        id = "eipalloc-nat"
        public_ip = "198.51.100.7"
    "#;

    fn nat() -> DataplaneConfig {
        compile_str(NAT).unwrap().config
    }

    #[test]
    fn nat_gateways_compile_in_file_order_with_their_addresses_and_lab_settings() {
        let c = nat();
        let ids: Vec<&str> = c.nat_gateways.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["nat-p", "nat-a"]);
        let ports = PortRange {
            from: 2000,
            to: 2009,
        };
        assert_eq!(
            c.nat_gateways[1],
            NatGatewayConfig {
                id: "nat-a".into(),
                subnet: 0,
                addrs: vec!["10.0.0.220".parse().unwrap(), "10.0.0.221".parse().unwrap()],
                public: true,
                ports,
                max_per_destination: 55_000,
                // 0.5 s, not scaled by conntrack_time_scale.
                idle_timeout_ms: 500,
                max_connections: NatGatewayConfig::MAX_CONNECTIONS,
            }
        );
        // The private one: the highest free address of its subnet (.254 is an ENI's).
        let p = &c.nat_gateways[0];
        assert_eq!((p.subnet, p.public), (1, false));
        assert_eq!(p.addrs, ["10.0.4.253".parse::<Ipv4Addr>().unwrap()]);
        assert_eq!(p.ports, ports);
    }

    #[test]
    fn nat_gateways_default_to_aws_settings() {
        let src = NAT.replace(
            "nat_gateway_ports = [2000, 2009]\n        nat_gateway_idle_timeout = 0.5\n",
            "",
        );
        let c = compile_str(&src).unwrap().config;
        for n in &c.nat_gateways {
            assert_eq!(n.ports, NatGatewayConfig::PORTS);
            assert_eq!(
                n.ports,
                PortRange {
                    from: 1024,
                    to: 65535
                }
            );
            assert_eq!(n.idle_timeout_ms, 350_000);
            assert_eq!(n.max_per_destination, NatGatewayConfig::MAX_PER_DESTINATION);
        }
        assert_eq!(nat_gateway_ports(None), NatGatewayConfig::PORTS);
        assert_eq!(
            nat_gateway_idle_timeout_ms(None),
            NatGatewayConfig::IDLE_TIMEOUT_MS
        );
        assert_eq!(secs_to_ms(0.0001), 1);
        assert_eq!(secs_to_ms(1.2345), 1235);
    }

    #[test]
    fn routes_to_nat_gateways_compile_to_their_index() {
        let c = nat();
        let routes: Vec<(String, RouteTarget)> = rtb(&c, "rtb-priv")
            .routes
            .iter()
            .map(|r| (r.destination.to_string(), r.target))
            .collect();
        assert_eq!(
            routes,
            [
                ("10.0.0.0/16".to_string(), RouteTarget::Local),
                ("0.0.0.0/0".to_string(), RouteTarget::NatGateway(1)),
                ("192.168.0.0/16".to_string(), RouteTarget::NatGateway(0)),
            ]
        );
    }

    #[test]
    fn public_nat_gateway_addresses_map_to_their_eips_at_the_internet_gateway() {
        let c = nat();
        let m: Vec<(String, MappingTarget, String, &str)> = c.internet_gateways[0]
            .mappings
            .iter()
            .map(|m| {
                (
                    m.public.to_string(),
                    m.target,
                    m.private.to_string(),
                    m.source.as_str(),
                )
            })
            .collect();
        assert_eq!(
            m,
            [
                (
                    "198.51.100.40".into(),
                    MappingTarget::Eni(0),
                    "10.0.0.40".into(),
                    "public_ip"
                ),
                (
                    "198.51.100.7".into(),
                    MappingTarget::NatGateway(1),
                    "10.0.0.220".into(),
                    "eipalloc-nat"
                ),
                (
                    "198.51.100.8".into(),
                    MappingTarget::NatGateway(1),
                    "10.0.0.221".into(),
                    "eipalloc-nat2"
                ),
            ]
        );
    }

    #[test]
    fn nat_gateways_survive_the_wire_and_the_data_plane_accepts_them() {
        let c = nat();
        let json = serde_json::to_string(&c).unwrap();
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        dataplane::vpc::tables::Tables::build(c).unwrap();
    }

    /// Three VPCs: vpc-a peers with vpc-b (active) and with vpc-c (pending); vpc-d is not
    /// peered and overlaps vpc-b. vpc-a has a secondary CIDR with a subnet in it.
    const PEERING: &str = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        secondary_cidrs = ["10.50.0.0/16"]

        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"

        [[vpc]]
        id = "vpc-c"
        cidr = "10.2.0.0/16"

        [[vpc]]
        id = "vpc-d"
        cidr = "10.1.0.0/16"

        [[peering_connection]]
        id = "pcx-ab"
        requester_vpc = "vpc-a"
        accepter_vpc = "vpc-b"

        [[peering_connection]]
        id = "pcx-ca"
        name = "c-to-a"
        requester_vpc = "vpc-c"
        accepter_vpc = "vpc-a"
        status = "pending-acceptance"

        [[route_table]]
        id = "rtb-a"
        vpc = "vpc-a"
        main = true
        routes = [
          { destination = "10.1.0.0/16", target = "pcx-ab" },
          { destination = "10.2.0.0/16", target = "pcx-ca" },
          { destination = "10.9.0.0/16", target = "pcx-gone" },
        ]

        [[route_table]]
        id = "rtb-b"
        vpc = "vpc-b"
        main = true
        routes = [{ destination = "10.0.0.0/16", target = "pcx-ab" }]

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"

        [[subnet]]
        id = "subnet-a2"
        vpc = "vpc-a"
        cidr = "10.50.1.0/24"

        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-b"
        cidr = "10.1.1.0/24"

        [[subnet]]
        id = "subnet-d"
        vpc = "vpc-d"
        cidr = "10.1.1.0/24"

        [[security_group]]
        id = "sg-a"
        vpc = "vpc-a"
        inbound = [
          { protocol = "tcp", ports = 80, source = "sg-b" },
          { protocol = "tcp", ports = 81, source = "sg-c" },
          { protocol = "tcp", ports = 82, source = "sg-d" },
          { protocol = "tcp", ports = 83, source = "sg-a" },
          { protocol = "tcp", ports = 84, source = "sg-default-d" },
        ]
        outbound = [
          { protocol = "-1", destination = "sg-b" },
          { protocol = "-1", destination = "sg-d" },
        ]

        [[security_group]]
        id = "sg-b"
        vpc = "vpc-b"
        inbound = [{ protocol = "icmp", source = "sg-a" }]

        [[security_group]]
        id = "sg-c"
        vpc = "vpc-c"

        [[security_group]]
        id = "sg-d"
        vpc = "vpc-d"
        inbound = [{ protocol = "icmp", source = "sg-a" }]

        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-a"]

        [[eni]]
        id = "eni-a2"
        subnet = "subnet-a2"
        private_ip = "10.50.1.10"

        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.1.1.10"
        security_groups = ["sg-b"]

        [[eni]]
        id = "eni-d"
        subnet = "subnet-d"
        private_ip = "10.1.1.10"
        security_groups = ["sg-d"]
    "#;

    fn peering() -> crate::Compiled {
        compile_str(PEERING).unwrap()
    }

    #[test]
    fn peerings_compile_in_file_order_with_their_vpcs_and_status() {
        let c = peering().config;
        assert_eq!(
            c.peerings,
            [
                PeeringConfig {
                    id: "pcx-ab".into(),
                    requester: 0,
                    accepter: 1,
                    active: true,
                },
                PeeringConfig {
                    id: "pcx-ca".into(),
                    requester: 2,
                    accepter: 0,
                    active: false,
                },
            ]
        );
    }

    #[test]
    fn routes_to_peerings_compile_to_their_index_and_deleted_ones_to_blackholes() {
        let c = peering();
        let routes: Vec<(String, RouteTarget)> = rtb(&c.config, "rtb-a")
            .routes
            .iter()
            .map(|r| (r.destination.to_string(), r.target))
            .collect();
        assert_eq!(
            routes,
            [
                ("10.0.0.0/16".to_string(), RouteTarget::Local),
                ("10.50.0.0/16".to_string(), RouteTarget::Local),
                ("10.1.0.0/16".to_string(), RouteTarget::Peering(0)),
                // Pending: the data plane drops what it catches as `blackhole`.
                ("10.2.0.0/16".to_string(), RouteTarget::Peering(1)),
                // Not declared (deleted): a blackhole.
                ("10.9.0.0/16".to_string(), RouteTarget::Blackhole),
            ]
        );
        assert_eq!(
            rtb(&c.config, "rtb-b").routes[1].target,
            RouteTarget::Peering(0)
        );
        // Validation said so.
        for needle in [
            "rtb-a.routes[1].target: pcx-ca is pending-acceptance: the route is a blackhole",
            "rtb-a.routes[2].target: pcx-gone does not exist (deleted?): the route is a blackhole",
        ] {
            assert!(
                c.warnings.iter().any(|w| w.starts_with(needle)),
                "{needle}: {:?}",
                c.warnings
            );
        }
    }

    #[test]
    fn sg_references_compile_across_an_active_peering_and_stale_ones_are_left_out() {
        let c = peering();
        let sg = |id: &str| {
            c.config
                .security_groups
                .iter()
                .position(|g| g.id == id)
                .unwrap()
        };
        let a = &c.config.security_groups[sg("sg-a")];
        let inbound: Vec<(Option<PortRange>, SgPeer)> = a
            .inbound
            .iter()
            .map(|r| (r.traffic.ports, r.peer.clone()))
            .collect();
        let port = |p: u16| Some(PortRange { from: p, to: p });
        // 81 (sg-c: pending peering), 82 (sg-d: not peered) and 84 (vpc-d's default
        // group) are stale.
        assert_eq!(
            inbound,
            [
                (port(80), SgPeer::Group(idx(sg("sg-b")))),
                (port(83), SgPeer::Group(idx(sg("sg-a")))),
            ]
        );
        assert_eq!(a.outbound.len(), 1);
        assert_eq!(a.outbound[0].peer, SgPeer::Group(idx(sg("sg-b"))));
        // sg-b's reference back across the peering stays; sg-d's is stale: no rules.
        assert_eq!(
            c.config.security_groups[sg("sg-b")].inbound[0].peer,
            SgPeer::Group(idx(sg("sg-a")))
        );
        assert!(c.config.security_groups[sg("sg-d")].inbound.is_empty());
        let stale = c
            .warnings
            .iter()
            .filter(|w| w.contains("the rule matches nothing (stale)"))
            .count();
        assert_eq!(stale, 5, "{:?}", c.warnings);
    }

    #[test]
    fn secondary_cidrs_get_local_routes_that_reach_their_subnets() {
        let c = peering().config;
        let t = dataplane::vpc::tables::Tables::build(c.clone()).unwrap();
        let a2: std::net::IpAddr = "10.50.1.10".parse().unwrap();
        // From the primary CIDR's subnet (and the other way round): the local route of
        // the secondary CIDR, and the ENI that owns the address.
        let table = c.subnets[0].route_table;
        assert_eq!(
            t.route(table, a2),
            Some((RouteTarget::Local, "10.50.0.0/16".parse().unwrap()))
        );
        assert_eq!(
            t.route(c.subnets[1].route_table, "10.0.1.10".parse().unwrap()),
            Some((RouteTarget::Local, "10.0.0.0/16".parse().unwrap()))
        );
        let owner = t.owner(0, a2).unwrap();
        assert_eq!(c.enis[owner as usize].id, "eni-a2");
        // The implicit main table of a VPC with a secondary CIDR has both local routes.
        let c = compile_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"100.64.0.0/16\"]\n",
        )
        .unwrap()
        .config;
        let dests: Vec<String> = c.route_tables[0]
            .routes
            .iter()
            .map(|r| format!("{} {:?}", r.destination, r.target))
            .collect();
        assert_eq!(dests, ["10.0.0.0/16 Local", "100.64.0.0/16 Local"]);
    }

    #[test]
    fn overlapping_vpcs_compile_side_by_side() {
        let c = peering().config;
        let b = &c.enis[2];
        let d = &c.enis[3];
        assert_eq!((b.id.as_str(), d.id.as_str()), ("eni-b", "eni-d"));
        assert_eq!(b.ipv4, d.ipv4);
        assert_ne!(
            c.subnets[b.subnet as usize].vpc,
            c.subnets[d.subnet as usize].vpc
        );
        assert_eq!(c.vpcs[1].cidrs, c.vpcs[3].cidrs);
    }

    #[test]
    fn peerings_survive_the_wire_and_the_data_plane_accepts_them() {
        let c = peering().config;
        let json = serde_json::to_string(&c).unwrap();
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        dataplane::vpc::tables::Tables::build(c).unwrap();
    }

    #[test]
    fn active_peering_pairs_are_ordered_and_skip_pending_and_unresolved() {
        let t = peering().topology;
        let pairs: Vec<(usize, usize)> = active_peering_pairs(&t).into_iter().collect();
        assert_eq!(pairs, [(0, 1)]);
        let mut t = t;
        t.peering_connections[0].accepter_vpc = "vpc-nope".into();
        assert!(active_peering_pairs(&t).is_empty());
        // Compiling such an unvalidated model reports instead of panicking.
        let e = compile(&t).unwrap_err();
        assert_eq!(
            (e.0[0].resource.as_str(), e.0[0].field.as_str()),
            ("pcx-ab", "accepter_vpc")
        );
    }

    #[test]
    fn the_demo_compiles_without_warnings_and_the_data_plane_accepts_it() {
        let c = compile_str(include_str!("../../examples/demo.toml")).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let n = &c.config.nat_gateways[0];
        assert_eq!(n.id, "nat-demo");
        assert_eq!(n.addrs, ["10.0.0.220".parse::<Ipv4Addr>().unwrap()]);
        assert!(n.public);
        assert!(c.config.internet_gateways[0].mappings.iter().any(|m| {
            m.target == MappingTarget::NatGateway(0)
                && m.public.to_string() == "198.51.100.7"
                && m.private == n.addrs[0]
        }));
        assert!(rtb(&c.config, "rtb-private")
            .routes
            .iter()
            .any(|r| r.target == RouteTarget::NatGateway(0)));
        // vpc-shared, peered with vpc-demo through pcx-demo, with routes both ways and a
        // group that admits vpc-demo's sg-web.
        let vpcs: Vec<&str> = c.config.vpcs.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(vpcs, ["vpc-demo", "vpc-shared"]);
        assert_eq!(
            c.config.peerings,
            [PeeringConfig {
                id: "pcx-demo".into(),
                requester: 0,
                accepter: 1,
                active: true,
            }]
        );
        let route = |table: &str, dest: &str| {
            rtb(&c.config, table)
                .routes
                .iter()
                .find(|r| r.destination.to_string() == dest)
                .map(|r| r.target)
        };
        assert_eq!(
            route("rtb-main", "10.1.0.0/16"),
            Some(RouteTarget::Peering(0))
        );
        assert_eq!(
            route("rtb-shared-main", "10.0.0.0/16"),
            Some(RouteTarget::Peering(0))
        );
        let sg = |id: &str| {
            c.config
                .security_groups
                .iter()
                .position(|g| g.id == id)
                .unwrap()
        };
        let shared = &c.config.security_groups[sg("sg-shared")];
        assert_eq!(shared.vpc, 1);
        assert_eq!(shared.inbound.len(), 2);
        assert!(shared
            .inbound
            .iter()
            .all(|r| r.peer == SgPeer::Group(idx(sg("sg-web")))));
        let eni = c
            .config
            .enis
            .iter()
            .find(|e| e.id == "eni-shared1")
            .unwrap();
        assert_eq!(eni.security_groups, Some(vec![idx(sg("sg-shared"))]));
        assert_eq!(eni.attachment.as_ref().unwrap().netns, "shared1");
        dataplane::vpc::tables::Tables::build(c.config).unwrap();
    }

    // --- flow logs -------------------------------------------------------------------------

    /// Two VPCs: vpc-a with subnets a1 (eni-a1, eni-a3) and a2 (eni-a2), vpc-b with eni-b1
    /// (listed between them), and flow logs on each kind of scope.
    fn flow_log_topology(lab: &str) -> String {
        let dir = std::env::temp_dir();
        let dest = |n: &str| {
            dir.join(format!("vpcctl-compile-{n}.log"))
                .display()
                .to_string()
        };
        format!(
            r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            [[vpc]]
            id = "vpc-b"
            cidr = "10.1.0.0/16"
            [[subnet]]
            id = "subnet-a1"
            vpc = "vpc-a"
            cidr = "10.0.1.0/24"
            [[subnet]]
            id = "subnet-b"
            vpc = "vpc-b"
            cidr = "10.1.1.0/24"
            [[subnet]]
            id = "subnet-a2"
            vpc = "vpc-a"
            cidr = "10.0.2.0/24"
            [[eni]]
            id = "eni-a1"
            subnet = "subnet-a1"
            private_ip = "10.0.1.10"
            [[eni]]
            id = "eni-b1"
            subnet = "subnet-b"
            private_ip = "10.1.1.10"
            [[eni]]
            id = "eni-a2"
            subnet = "subnet-a2"
            private_ip = "10.0.2.10"
            [[eni]]
            id = "eni-a3"
            subnet = "subnet-a1"
            private_ip = "10.0.1.30"
            [[flow_log]]
            id = "fl-vpc"
            resource = "vpc-a"
            traffic_type = "ALL"
            log_destination = "{}"
            [[flow_log]]
            id = "fl-subnet"
            resource = "subnet-a1"
            traffic_type = "reject"
            max_aggregation_interval = 60
            log_destination = "{}"
            log_format = "${{version}} ${{interface-id}} ${{tcp-flags}}  ${{flow-direction}}"
            [[flow_log]]
            id = "fl-eni"
            resource = "eni-b1"
            traffic_type = "Accept"
            log_destination = "{}"
            {lab}
            "#,
            dest("vpc"),
            dest("subnet"),
            dest("eni")
        )
    }

    #[test]
    fn flow_logs_compile_with_the_enis_of_their_scope_in_eni_order() {
        let c = compile_str(&flow_log_topology("")).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let f = &c.config.flow_logs;
        let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["fl-vpc", "fl-subnet", "fl-eni"]);
        let eni = |id: &str| idx(c.config.enis.iter().position(|e| e.id == id).unwrap());
        assert_eq!(f[0].enis, [eni("eni-a1"), eni("eni-a2"), eni("eni-a3")]);
        assert_eq!(f[1].enis, [eni("eni-a1"), eni("eni-a3")]);
        assert_eq!(f[2].enis, [eni("eni-b1")]);
        assert_eq!(
            f.iter().map(|f| f.traffic).collect::<Vec<_>>(),
            [
                dataplane::vpc::config::FlowLogTraffic::All,
                dataplane::vpc::config::FlowLogTraffic::Reject,
                dataplane::vpc::config::FlowLogTraffic::Accept,
            ]
        );
        assert!(
            f[0].path.ends_with("vpcctl-compile-vpc.log"),
            "{}",
            f[0].path
        );
    }

    #[test]
    fn flow_log_fields_and_intervals_compile() {
        let c = compile_str(&flow_log_topology("")).unwrap().config;
        let f = &c.flow_logs;
        assert_eq!(f[0].fields, dataplane::observe::flowlog::DEFAULT_FIELDS);
        assert_eq!(
            f[1].fields,
            ["version", "interface-id", "tcp-flags", "flow-direction"]
        );
        assert_eq!(dataplane::observe::flowlog::format_version(&f[1].fields), 5);
        assert_eq!(
            f.iter().map(|f| f.interval_ms).collect::<Vec<_>>(),
            [600_000, 60_000, 600_000]
        );
        // `[lab] flow_log_interval` replaces every interval.
        let c = compile_str(&flow_log_topology("[lab]\nflow_log_interval = 0.25"))
            .unwrap()
            .config;
        assert!(c.flow_logs.iter().all(|f| f.interval_ms == 250));
        // The data plane takes them, and they survive the wire.
        let json = serde_json::to_string(&c).unwrap();
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        dataplane::vpc::tables::Tables::build(c).unwrap();
    }

    #[test]
    fn an_unvalidated_flow_log_is_reported_instead_of_compiled() {
        let mut t = compile_str(&flow_log_topology("")).unwrap().topology;
        t.flow_logs[0].resource = "subnet-nope".into();
        t.flow_logs[1].traffic_type = None;
        t.flow_logs[2].log_format = Some("${version} ${nope}".into());
        let e = compile(&t).unwrap_err();
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.resource.as_str(), e.field.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("fl-vpc", "resource"),
                ("fl-subnet", "traffic_type"),
                ("fl-eni", "log_format")
            ]
        );
    }
}
