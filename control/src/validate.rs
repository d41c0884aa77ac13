//! Whole-file validation: every problem of a topology file, each naming its resource and
//! field, reported together.
//!
//! Two passes:
//! 1. [`parse`] reads the TOML. A syntax error is one [`ValidationError`] for resource
//!    `file`. Otherwise every resource is deserialised on its own, so a bad value or an
//!    unknown field in one resource does not hide the problems of the others.
//! 2. [`validate`] checks the typed model as a whole (ids, references, CIDRs, addresses,
//!    routes, MACs, interfaces) and normalises it in place.
//!
//! **Normalisation.** Like the AWS API (which stores `100.68.0.18/18` as
//! `100.68.0.0/18`), a CIDR with host bits set — VPC, subnet or route destination — is
//! not an error: its host bits are cleared and a warning names the resource and field.
//!
//! **IPv6 routes in an IPv4-only VPC** are accepted without comment: they never match
//! (no ENI of such a VPC can hold an IPv6 address), exactly like an IPv6 route whose
//! target never sees IPv6 traffic.
//!
//! **Firewall rules** follow the AWS APIs: ports belong to TCP/UDP and ICMP type/code to
//! ICMP/ICMPv6 (the wrong one is an error); for `-1` and other protocol numbers AWS ignores
//! both, so they are accepted with a warning (scenario 17's `proto 47 ports 80-80` allows
//! all GRE); ICMPv6 with an IPv4 CIDR matches every ICMP type in AWS, so a type/code there
//! is ignored with a warning. Quotas: NACL rules per direction over 20 warn, over 40 are an
//! error; security-group rules per direction over 60 are an error, a prefix-list rule
//! counting as the list's `max_entries`; at most 5 groups per ENI.
//!
//! **NAT gateways** follow `CreateNatGateway`: a public gateway needs an internet gateway
//! in its VPC (else AWS's "Network vpc-… has no internet gateway attached") and an
//! existing Elastic IP per address (`allocation_id`, then one `secondary_allocation_ids`
//! entry per `secondary_private_ips` entry); a private one takes none. An Elastic IP is
//! used once: by one NAT gateway address or by its own `eni` association. Addresses are
//! assignable addresses of the gateway's subnet (the subnet always has an IPv4 CIDR in this
//! model), at most 8, and unique in the VPC together with the ENIs' (a clash is reported
//! on the NAT gateway). A `nat-…` route target is a NAT gateway of the table's VPC, for
//! IPv4 destinations (NAT64 is not supported), and like an ENI it may take a subnet's
//! CIDR or replace a local route. Warnings: a public gateway whose subnet has no route to
//! the internet gateway, more than 2 Elastic IPs (AWS's default quota), and a route of the
//! gateway's own subnet to the gateway itself.
//!
//! **VPC peering** follows `CreateVpcPeeringConnection` and the peering guide: both VPCs
//! exist and differ; their CIDRs do not overlap (every IPv4 block, primary or secondary,
//! and the IPv6 block; the error names both CIDRs); at most one peering joins two VPCs, in
//! either direction. VPCs that are not peered may overlap freely. A `pcx-…` route target
//! is a peering of the table's own VPC, and not for a destination equal to or inside one of
//! that VPC's CIDRs (routes more specific than local take NAT gateways and ENIs only).
//! Warnings, not errors: a route to a `pending-acceptance` peering (a blackhole until it is
//! accepted), a route to a `pcx-…` the file does not declare (a deleted peering: the route
//! is a blackhole), and a route whose destination holds none of the peer VPC's addresses.
//! A security-group rule may name a group of another VPC when an active peering joins the
//! two; otherwise it is accepted with a warning and matches nothing (AWS's "stale" rules).
//! An ENI's own groups still belong to its VPC.
//!
//! **Flow logs** follow `CreateFlowLogs`: `resource` is an existing ENI, subnet or VPC;
//! `traffic_type` is ALL, ACCEPT or REJECT (any case); `max_aggregation_interval` is 60 or
//! 600. `log_destination` is a file on vpcd's host: an absolute path, not a directory,
//! whose directory exists (checked where `vpcctl` runs). `log_format` is `${field}` tokens
//! separated by spaces, each a known field (`dataplane::observe::flowlog::FIELDS`) at most once.
//! Warnings: two flow logs writing the same file, and a subnet or VPC without ENIs.
//! `[lab] flow_log_interval` (seconds, > 0) replaces every interval.
//!
//! **Packet captures** name an existing ENI and write `file`: an absolute path, not a
//! directory, whose directory exists (checked where `vpcctl` runs), used by one capture
//! only; `snaplen` is 1..=262144; a filter's `port` is 0..=65535 and only goes with tcp,
//! udp or no protocol; a `host` CIDR with host bits set is normalised with a warning.
//! **Traffic mirroring** follows the EC2 API: a target names an existing ENI; a filter
//! has at most 10 rules, numbered 1..=32766 and unique per direction, whose source and
//! destination CIDRs are of one family and whose ports go with tcp/udp only; a session
//! names an existing source ENI, target and filter, has a session number 1..=32766
//! unique per source ENI (at most 3 sessions per source), a VNI below 2^24 and a
//! `packet_length` of 1..=8500; its target ENI is not the source and is in the source's
//! VPC or one joined to it by an active peering connection. A session whose filter has
//! no rules is accepted with a warning (it mirrors nothing).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dataplane::wire::MacAddr;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

mod taps;

pub use taps::{
    MAX_SNAPLEN, MIRROR_FILTER_RULES_MAX, MIRROR_RULE_NUMBERS, PACKET_LENGTHS,
    SESSIONS_PER_SOURCE_MAX, SESSION_NUMBERS, VNIS,
};

use crate::model::{
    NatConnectivity, PortSpec, RouteTargetRef, RulePeer, RuleProtocol, SgRuleSpec, Topology, Vpc,
    MAX_INTERNET_MTU, MAX_MTU, MIN_INTERNET_MTU, MIN_MTU, PROTO_ICMPV6,
};
use crate::names::{
    eni_mac, first_index, igw_host_mac, igw_mac, implicit_default_nacl_id, implicit_default_sg_id,
    implicit_main_id, router_mac,
};
pub use crate::names::{reserved_ipv4_reason, reserved_ipv6_reason};
pub use crate::report::{ValidationError, ValidationErrors};

/// The resource kinds a file may contain (top-level keys).
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "vpc",
    "subnet",
    "route_table",
    "eni",
    "prefix_list",
    "network_acl",
    "security_group",
    "internet_gateway",
    "elastic_ip",
    "nat_gateway",
    "peering_connection",
    "flow_log",
    "packet_capture",
    "traffic_mirror_target",
    "traffic_mirror_filter",
    "traffic_mirror_session",
    "lab",
];

/// Id prefixes, per resource kind.
pub const VPC_PREFIX: &str = "vpc-";
/// Id prefix of subnets.
pub const SUBNET_PREFIX: &str = "subnet-";
/// Id prefix of route tables.
pub const RTB_PREFIX: &str = "rtb-";
/// Id prefix of ENIs.
pub const ENI_PREFIX: &str = "eni-";
/// Id prefix of network ACLs.
pub const NACL_PREFIX: &str = "acl-";
/// Id prefix of security groups.
pub const SG_PREFIX: &str = "sg-";
/// Id prefix of prefix lists.
pub const PL_PREFIX: &str = "pl-";
/// Id prefix of internet gateways.
pub const IGW_PREFIX: &str = "igw-";
/// Id prefix of Elastic IPs (allocation ids).
pub const EIP_PREFIX: &str = "eipalloc-";
/// Id prefix of NAT gateways.
pub const NAT_PREFIX: &str = "nat-";
/// Id prefix of VPC peering connections.
pub const PCX_PREFIX: &str = "pcx-";
/// Id prefix of flow logs.
pub const FL_PREFIX: &str = "fl-";
/// Id prefix of packet captures.
pub const CAP_PREFIX: &str = "cap-";
/// Id prefix of traffic mirror targets.
pub const TMT_PREFIX: &str = "tmt-";
/// Id prefix of traffic mirror filters.
pub const TMF_PREFIX: &str = "tmf-";
/// Id prefix of traffic mirror sessions.
pub const TMS_PREFIX: &str = "tms-";
/// The most IPv4 addresses a NAT gateway has (1 primary + 7 secondary).
pub const NAT_GATEWAY_MAX_ADDRESSES: usize = 8;
/// Elastic IPs per public NAT gateway beyond which a warning is given (AWS's default
/// quota, raisable to 8).
pub const NAT_GATEWAY_EIPS_QUOTA: usize = 2;
/// The lowest port a NAT gateway may allocate (`[lab] nat_gateway_ports`).
pub const NAT_GATEWAY_MIN_PORT: i64 = 1024;
/// The highest port a NAT gateway may allocate.
pub const NAT_GATEWAY_MAX_PORT: i64 = 65_535;
/// The shortest prefix of an internet gateway's outside segment (`/8`).
pub const MIN_INTERNET_PREFIX: u8 = 8;
/// The longest prefix of an internet gateway's outside segment (`/30`: a gateway and a host).
pub const MAX_INTERNET_PREFIX: u8 = 30;

/// The smallest network ACL rule number.
pub const NACL_RULE_MIN: i64 = 1;
/// The largest network ACL rule number (32767 and up are reserved for the `*` rules).
pub const NACL_RULE_MAX: i64 = 32_766;
/// Network ACL rules per direction beyond which a warning is given (AWS default quota).
pub const NACL_RULES_QUOTA: usize = 20;
/// Network ACL rules per direction beyond which the file is rejected (AWS maximum quota).
pub const NACL_RULES_MAX: usize = 40;
/// Security group rules per direction (a prefix-list rule counts as the list's size).
pub const SG_RULES_MAX: usize = 60;
/// Security groups per ENI (AWS default quota).
pub const SGS_PER_ENI_MAX: usize = 5;
/// Bounds of `conntrack.max_entries`.
pub const CONNTRACK_ENTRIES: std::ops::RangeInclusive<i64> = 1..=1_000_000;
/// Bounds of `conntrack.tcp_established_timeout`, seconds (AWS).
pub const TCP_ESTABLISHED_TIMEOUT: std::ops::RangeInclusive<i64> = 60..=432_000;
/// Bounds of `conntrack.udp_timeout`, seconds (AWS).
pub const UDP_TIMEOUT: std::ops::RangeInclusive<i64> = 30..=60;
/// Bounds of `conntrack.udp_stream_timeout`, seconds (AWS).
pub const UDP_STREAM_TIMEOUT: std::ops::RangeInclusive<i64> = 60..=180;

/// The smallest IPv4 prefix length of a VPC or subnet CIDR (`/16`).
pub const MIN_V4_PREFIX: u8 = 16;
/// The largest IPv4 prefix length of a VPC or subnet CIDR (`/28`).
pub const MAX_V4_PREFIX: u8 = 28;
/// The prefix length of a VPC's IPv6 CIDR.
pub const VPC_V6_PREFIX: u8 = 56;
/// The prefix length of a subnet's IPv6 CIDR.
pub const SUBNET_V6_PREFIX: u8 = 64;

const LINK_LOCAL_V4: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(169, 254, 0, 0), 16) {
    Ok(n) => n,
    Err(_) => panic!("constant"),
};
const RESERVED_ROUTE_V4: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(169, 254, 168, 0), 22) {
    Ok(n) => n,
    Err(_) => panic!("constant"),
};
const RESERVED_ROUTE_V6: Ipv6Net =
    match Ipv6Net::new(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0), 32) {
        Ok(n) => n,
        Err(_) => panic!("constant"),
    };

// ---------------------------------------------------------------------------------------
// Pass 1: parsing
// ---------------------------------------------------------------------------------------

/// Parses a topology file. A TOML syntax error is one error for resource `file`; otherwise
/// every resource is deserialised separately and all their problems are returned together.
pub fn parse(src: &str) -> Result<Topology, ValidationErrors> {
    let p = parse_partial(src)?;
    if p.errors.is_empty() {
        Ok(p.topology)
    } else {
        Err(ValidationErrors(p.errors))
    }
}

/// Parses and validates a topology file, reporting the problems of both passes together
/// (resources that fail to parse are left out of the second pass, and references to them
/// are not reported as dangling). Returns the normalised model and the warnings.
pub fn check(src: &str) -> Result<(Topology, Vec<String>), ValidationErrors> {
    let mut p = parse_partial(src)?;
    let result = validate_inner(&mut p.topology, &p.broken_ids, p.origins.clone());
    match result {
        Ok(warnings) if p.errors.is_empty() => Ok((p.topology, warnings)),
        Ok(_) => Err(ValidationErrors(p.errors)),
        Err(more) => {
            p.errors.extend(more.0);
            Err(ValidationErrors(p.errors))
        }
    }
}

/// What parsing produced: the resources that deserialised, the errors of the others
/// (in file order), and the ids of those others.
struct Partial {
    topology: Topology,
    errors: Vec<ValidationError>,
    broken_ids: HashSet<String>,
    origins: Origins,
}

fn parse_partial(src: &str) -> Result<Partial, ValidationErrors> {
    let doc = DeTable::parse(src)
        .map_err(|e| ValidationErrors::from(ValidationError::new("file", "", located(src, &e))))?;
    let mut topo = Topology::default();
    let mut errors: Vec<(usize, ValidationError)> = Vec::new();
    let mut broken_ids = HashSet::new();
    let mut origins = Origins::default();
    for (key, value) in doc.get_ref().iter() {
        let mut cx = Collect {
            src,
            errors: &mut errors,
            broken_ids: &mut broken_ids,
        };
        match key.get_ref().as_ref() {
            "vpc" => cx.collect(&mut topo.vpcs, &mut origins.vpc, "vpc", value),
            "subnet" => cx.collect(&mut topo.subnets, &mut origins.subnet, "subnet", value),
            "route_table" => cx.collect(
                &mut topo.route_tables,
                &mut origins.route_table,
                "route_table",
                value,
            ),
            "eni" => cx.collect(&mut topo.enis, &mut origins.eni, "eni", value),
            "prefix_list" => cx.collect(
                &mut topo.prefix_lists,
                &mut origins.prefix_list,
                "prefix_list",
                value,
            ),
            "network_acl" => cx.collect(
                &mut topo.network_acls,
                &mut origins.network_acl,
                "network_acl",
                value,
            ),
            "security_group" => cx.collect(
                &mut topo.security_groups,
                &mut origins.security_group,
                "security_group",
                value,
            ),
            "internet_gateway" => cx.collect(
                &mut topo.internet_gateways,
                &mut origins.internet_gateway,
                "internet_gateway",
                value,
            ),
            "elastic_ip" => cx.collect(
                &mut topo.elastic_ips,
                &mut origins.elastic_ip,
                "elastic_ip",
                value,
            ),
            "nat_gateway" => cx.collect(
                &mut topo.nat_gateways,
                &mut origins.nat_gateway,
                "nat_gateway",
                value,
            ),
            "peering_connection" => cx.collect(
                &mut topo.peering_connections,
                &mut origins.peering_connection,
                "peering_connection",
                value,
            ),
            "flow_log" => cx.collect(
                &mut topo.flow_logs,
                &mut origins.flow_log,
                "flow_log",
                value,
            ),
            "packet_capture" => cx.collect(
                &mut topo.packet_captures,
                &mut origins.packet_capture,
                "packet_capture",
                value,
            ),
            "traffic_mirror_target" => cx.collect(
                &mut topo.traffic_mirror_targets,
                &mut origins.traffic_mirror_target,
                "traffic_mirror_target",
                value,
            ),
            "traffic_mirror_filter" => cx.collect(
                &mut topo.traffic_mirror_filters,
                &mut origins.traffic_mirror_filter,
                "traffic_mirror_filter",
                value,
            ),
            "traffic_mirror_session" => cx.collect(
                &mut topo.traffic_mirror_sessions,
                &mut origins.traffic_mirror_session,
                "traffic_mirror_session",
                value,
            ),
            "lab" => cx.collect_table(&mut topo.lab, "lab", value),
            other => errors.push((
                key.span().start,
                ValidationError::new(
                    "file",
                    other,
                    format!(
                        "{}unknown resource kind `{other}`; expected one of {}",
                        position_prefix(src, key.span().start),
                        TOP_LEVEL_KEYS
                            .iter()
                            .map(|&k| if k == "lab" {
                                format!("[{k}]")
                            } else {
                                format!("[[{k}]]")
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            )),
        }
    }
    errors.sort_by_key(|(pos, _)| *pos);
    Ok(Partial {
        topology: topo,
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        broken_ids,
        origins,
    })
}

struct Collect<'a, 's> {
    src: &'s str,
    errors: &'a mut Vec<(usize, ValidationError)>,
    broken_ids: &'a mut HashSet<String>,
}

impl Collect<'_, '_> {
    /// Deserialises a single `[kind]` table (errors are reported for resource `kind`).
    fn collect_table<T: DeserializeOwned>(
        &mut self,
        out: &mut Option<T>,
        kind: &str,
        value: &Spanned<DeValue<'_>>,
    ) {
        let src = self.src;
        if !matches!(value.get_ref(), DeValue::Table(_)) {
            self.errors.push((
                value.span().start,
                ValidationError::new(
                    "file",
                    kind,
                    format!(
                        "{}`{kind}` must be a single table: write it as [{kind}]",
                        position_prefix(src, value.span().start)
                    ),
                ),
            ));
            return;
        }
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => *out = Some(v),
            Err(e) => {
                let field = named_field(e.message())
                    .or_else(|| e.span().and_then(|sp| path_at(value, sp.start)))
                    .unwrap_or_default();
                let pos = e.span().map_or(value.span().start, |sp| sp.start);
                self.errors
                    .push((pos, ValidationError::new(kind, field, located(src, &e))));
            }
        }
    }

    /// Deserialises every element of one `[[kind]]` array on its own.
    fn collect<T: DeserializeOwned>(
        &mut self,
        out: &mut Vec<T>,
        origins: &mut Vec<usize>,
        kind: &str,
        value: &Spanned<DeValue<'_>>,
    ) {
        let src = self.src;
        let DeValue::Array(items) = value.get_ref() else {
            self.errors.push((
                value.span().start,
                ValidationError::new(
                    "file",
                    kind,
                    format!(
                        "{}`{kind}` must be an array of tables: write each one as [[{kind}]]",
                        position_prefix(src, value.span().start)
                    ),
                ),
            ));
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let DeValue::Table(table) = item.get_ref() else {
                self.errors.push((
                    item.span().start,
                    ValidationError::new(
                        format!("{kind}[{i}]"),
                        "",
                        format!(
                            "{}expected a table ([[{kind}]])",
                            position_prefix(src, item.span().start)
                        ),
                    ),
                ));
                continue;
            };
            let id = table
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == "id")
                .and_then(|(_, v)| match v.get_ref() {
                    DeValue::String(s) if !s.is_empty() => Some(s.to_string()),
                    _ => None,
                });
            let resource = id.clone().unwrap_or_else(|| format!("{kind}[{i}]"));
            match T::deserialize(ValueDeserializer::from(item.clone())) {
                Ok(v) => {
                    out.push(v);
                    origins.push(i);
                }
                Err(e) => {
                    let field = named_field(e.message())
                        .or_else(|| e.span().and_then(|sp| path_at(item, sp.start)))
                        .unwrap_or_default();
                    let pos = e.span().map_or(item.span().start, |sp| sp.start);
                    self.errors
                        .push((pos, ValidationError::new(resource, field, located(src, &e))));
                    self.broken_ids.extend(id);
                }
            }
        }
    }
}

/// The field a serde "unknown field" / "missing field" message names.
fn named_field(message: &str) -> Option<String> {
    for lead in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(lead) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// The dotted path (`routes[1].destination`) of the innermost value at byte `pos`.
fn path_at(value: &Spanned<DeValue<'_>>, pos: usize) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(t) => t.iter().find_map(|(k, v)| {
            let span = v.span();
            if span.start <= pos && pos < span.end.max(span.start + 1) || k.span().contains(&pos) {
                let key = k.get_ref().to_string();
                Some(match path_at(v, pos) {
                    Some(rest) if rest.starts_with('[') => format!("{key}{rest}"),
                    Some(rest) => format!("{key}.{rest}"),
                    None => key,
                })
            } else {
                None
            }
        }),
        DeValue::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            let span = v.span();
            if span.start <= pos && pos < span.end.max(span.start + 1) {
                Some(match path_at(v, pos) {
                    Some(rest) if rest.starts_with('[') => format!("[{i}]{rest}"),
                    Some(rest) => format!("[{i}].{rest}"),
                    None => format!("[{i}]"),
                })
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// `line L, column C: ` for a byte offset.
fn position_prefix(src: &str, pos: usize) -> String {
    let pos = pos.min(src.len());
    let before = src.get(..pos).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: ")
}

/// A TOML error as one line, prefixed with its position when known.
fn located(src: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => format!("{}{msg}", position_prefix(src, span.start)),
        None => msg,
    }
}

// ---------------------------------------------------------------------------------------
// Pass 2: whole-model checks
// ---------------------------------------------------------------------------------------

/// The addresses of `subnet` that an ENI may use (all but the five reserved ones).
pub fn assignable_ipv4(subnet: Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
    subnet
        .trunc()
        .hosts()
        .chain(std::iter::once(subnet.trunc().broadcast()))
        .filter(move |ip| reserved_ipv4_reason(subnet, *ip).is_none())
}

/// Whether `name` is a valid Linux interface name (what `dev_valid_name` accepts).
pub fn is_valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

/// Whether `name` is usable as a network namespace name (`ip netns add NAME` makes it a
/// file under `/run/netns`).
pub fn is_valid_netns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Collects errors and warnings.
#[derive(Default)]
struct Report {
    errors: Vec<ValidationError>,
    warnings: Vec<String>,
    origins: Origins,
}

/// The position in the file of each parsed resource, per kind (resources that failed to
/// parse are missing from the model, so model indices can differ from file indices).
#[derive(Debug, Default, Clone)]
struct Origins {
    vpc: Vec<usize>,
    subnet: Vec<usize>,
    route_table: Vec<usize>,
    eni: Vec<usize>,
    prefix_list: Vec<usize>,
    network_acl: Vec<usize>,
    security_group: Vec<usize>,
    internet_gateway: Vec<usize>,
    elastic_ip: Vec<usize>,
    nat_gateway: Vec<usize>,
    peering_connection: Vec<usize>,
    flow_log: Vec<usize>,
    packet_capture: Vec<usize>,
    traffic_mirror_target: Vec<usize>,
    traffic_mirror_filter: Vec<usize>,
    traffic_mirror_session: Vec<usize>,
}

impl Origins {
    fn at(&self, kind: &str, i: usize) -> usize {
        let v: &[usize] = match kind {
            "vpc" => &self.vpc,
            "subnet" => &self.subnet,
            "route_table" => &self.route_table,
            "eni" => &self.eni,
            "prefix_list" => &self.prefix_list,
            "network_acl" => &self.network_acl,
            "security_group" => &self.security_group,
            "internet_gateway" => &self.internet_gateway,
            "elastic_ip" => &self.elastic_ip,
            "nat_gateway" => &self.nat_gateway,
            "peering_connection" => &self.peering_connection,
            "flow_log" => &self.flow_log,
            "packet_capture" => &self.packet_capture,
            "traffic_mirror_target" => &self.traffic_mirror_target,
            "traffic_mirror_filter" => &self.traffic_mirror_filter,
            "traffic_mirror_session" => &self.traffic_mirror_session,
            _ => &[],
        };
        v.get(i).copied().unwrap_or(i)
    }
}

impl Report {
    /// The name of the `i`-th resource of `kind` in the model.
    fn label(&self, id: &str, kind: &str, i: usize) -> String {
        label_at(id, kind, self.origins.at(kind, i))
    }

    fn err(&mut self, resource: &str, field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(ValidationError::new(resource, field, message));
    }

    fn normalise4(&mut self, net: &mut Ipv4Net, resource: &str, field: &str) {
        let t = net.trunc();
        if t != *net {
            self.warnings.push(format!(
                "{resource}.{field}: {net} has host bits set; using {t} (as the AWS API does)"
            ));
            *net = t;
        }
    }

    fn normalise6(&mut self, net: &mut Ipv6Net, resource: &str, field: &str) {
        let t = net.trunc();
        if t != *net {
            self.warnings.push(format!(
                "{resource}.{field}: {net} has host bits set; using {t} (as the AWS API does)"
            ));
            *net = t;
        }
    }

    fn normalise(&mut self, net: &mut IpNet, resource: &str, field: &str) {
        match net {
            IpNet::V4(n) => self.normalise4(n, resource, field),
            IpNet::V6(n) => self.normalise6(n, resource, field),
        }
    }

    fn v4_size(&mut self, net: Ipv4Net, resource: &str, field: &str, what: &str) {
        let p = net.prefix_len();
        if !(MIN_V4_PREFIX..=MAX_V4_PREFIX).contains(&p) {
            self.err(
                resource,
                field,
                format!(
                    "{net}: prefix /{p} is outside the allowed range; {what} IPv4 CIDRs must be /{MIN_V4_PREFIX} to /{MAX_V4_PREFIX}"
                ),
            );
        }
    }

    fn id(&mut self, id: &str, prefix: &str, kind: &str, index: usize) {
        let resource = self.label(id, kind, index);
        if id.is_empty() {
            self.err(
                &resource,
                "id",
                format!("missing id; give it one like `{prefix}example`"),
            );
        } else if !id.starts_with(prefix) {
            self.err(
                &resource,
                "id",
                format!(
                    "`{id}` must start with `{prefix}` (the AWS id prefix of {})",
                    kind_name(kind)
                ),
            );
        } else if !id[prefix.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || id.len() == prefix.len()
        {
            self.err(
                &resource,
                "id",
                format!("`{id}` must be `{prefix}` followed by letters, digits, `-` or `_`"),
            );
        }
    }
}

/// How a kind is called in messages.
fn kind_name(kind: &str) -> &'static str {
    match kind {
        "vpc" => "a VPC",
        "subnet" => "a subnet",
        "route_table" => "a route table",
        "prefix_list" => "a prefix list",
        "network_acl" => "a network ACL",
        "security_group" => "a security group",
        "internet_gateway" => "an internet gateway",
        "elastic_ip" => "an Elastic IP allocation",
        "nat_gateway" => "a NAT gateway",
        "peering_connection" => "a VPC peering connection",
        "flow_log" => "a flow log",
        "packet_capture" => "a packet capture",
        "traffic_mirror_target" => "a traffic mirror target",
        "traffic_mirror_filter" => "a traffic mirror filter",
        "traffic_mirror_session" => "a traffic mirror session",
        _ => "an ENI",
    }
}

/// The name a resource goes by in messages: its id, or `kind[index]`.
fn label_at(id: &str, kind: &str, index: usize) -> String {
    if id.is_empty() {
        format!("{kind}[{index}]")
    } else {
        id.to_string()
    }
}

/// Checks a parsed topology as a whole and normalises it in place (CIDR host bits).
/// Returns the warnings, or every error found.
pub fn validate(t: &mut Topology) -> Result<Vec<String>, ValidationErrors> {
    validate_inner(t, &HashSet::new(), Origins::default())
}

/// [`validate`], not reporting references to `broken` ids (resources that failed to parse).
fn validate_inner(
    t: &mut Topology,
    broken: &HashSet<String>,
    origins: Origins,
) -> Result<Vec<String>, ValidationErrors> {
    let mut r = Report {
        origins,
        ..Report::default()
    };

    // --- ids: prefixes and uniqueness across every resource -----------------------------
    {
        // (kind, id prefix, ids) of every resource kind, in declaration order.
        macro_rules! ids_by_kind {
            ($($field:ident: $kind:literal, $prefix:expr;)*) => {
                [$((
                    $kind,
                    $prefix,
                    t.$field.iter().map(|x| x.id.as_str()).collect::<Vec<&str>>(),
                )),*]
            };
        }
        let kinds = ids_by_kind! {
            vpcs: "vpc", VPC_PREFIX;
            subnets: "subnet", SUBNET_PREFIX;
            route_tables: "route_table", RTB_PREFIX;
            enis: "eni", ENI_PREFIX;
            prefix_lists: "prefix_list", PL_PREFIX;
            network_acls: "network_acl", NACL_PREFIX;
            security_groups: "security_group", SG_PREFIX;
            internet_gateways: "internet_gateway", IGW_PREFIX;
            elastic_ips: "elastic_ip", EIP_PREFIX;
            nat_gateways: "nat_gateway", NAT_PREFIX;
            peering_connections: "peering_connection", PCX_PREFIX;
            flow_logs: "flow_log", FL_PREFIX;
            packet_captures: "packet_capture", CAP_PREFIX;
            traffic_mirror_targets: "traffic_mirror_target", TMT_PREFIX;
            traffic_mirror_filters: "traffic_mirror_filter", TMF_PREFIX;
            traffic_mirror_sessions: "traffic_mirror_session", TMS_PREFIX;
        };
        for (kind, prefix, ids) in &kinds {
            for (i, id) in ids.iter().enumerate() {
                r.id(id, prefix, kind, i);
            }
        }
        let all = kinds.iter().flat_map(|(kind, _, ids)| {
            let r = &r;
            ids.iter()
                .enumerate()
                .map(move |(i, id)| (*id, format!("{kind}[{}]", r.origins.at(kind, i))))
        });
        let mut seen: HashMap<&str, String> = HashMap::new();
        let mut dups = Vec::new();
        for (id, slot) in all {
            if id.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(id) {
                dups.push((
                    id.to_string(),
                    format!("duplicate id: {slot} reuses the id of {first}"),
                ));
            } else {
                seen.insert(id, slot);
            }
        }
        for (id, msg) in dups {
            r.err(&id, "id", msg);
        }
    }

    // Lookup maps (first occurrence wins; duplicates are already reported).
    let vpc_idx: HashMap<String, usize> = first_index(&t.vpcs, |x| x.id.as_str());
    let subnet_idx: HashMap<String, usize> = first_index(&t.subnets, |x| x.id.as_str());
    let rtb_idx: HashMap<String, usize> = first_index(&t.route_tables, |x| x.id.as_str());
    let eni_idx: HashMap<String, usize> = first_index(&t.enis, |x| x.id.as_str());
    let igw_idx: HashMap<String, usize> = first_index(&t.internet_gateways, |x| x.id.as_str());
    let nat_idx: HashMap<String, usize> = first_index(&t.nat_gateways, |x| x.id.as_str());

    // --- VPCs ----------------------------------------------------------------------------
    for (i, v) in t.vpcs.iter_mut().enumerate() {
        let res = r.label(&v.id, "vpc", i);
        r.normalise4(&mut v.cidr, &res, "cidr");
        r.v4_size(v.cidr, &res, "cidr", "VPC");
        if overlaps(IpNet::V4(v.cidr), IpNet::V4(LINK_LOCAL_V4)) {
            r.err(
                &res,
                "cidr",
                format!(
                    "{} is in the link-local range {LINK_LOCAL_V4}, which cannot be used in a VPC",
                    v.cidr
                ),
            );
        }
        for j in 0..v.secondary_cidrs.len() {
            let field = format!("secondary_cidrs[{j}]");
            r.normalise4(&mut v.secondary_cidrs[j], &res, &field);
            let c = v.secondary_cidrs[j];
            r.v4_size(c, &res, &field, "VPC");
            if overlaps(IpNet::V4(c), IpNet::V4(LINK_LOCAL_V4)) {
                r.err(
                    &res,
                    &field,
                    format!("{c} is in the link-local range {LINK_LOCAL_V4}, which cannot be used in a VPC"),
                );
            }
            if overlaps(IpNet::V4(c), IpNet::V4(v.cidr)) {
                r.err(
                    &res,
                    &field,
                    format!("{c} overlaps the primary CIDR {}", v.cidr),
                );
            }
            for k in 0..j {
                let other = v.secondary_cidrs[k];
                if overlaps(IpNet::V4(c), IpNet::V4(other)) {
                    r.err(
                        &res,
                        &field,
                        format!("{c} overlaps secondary_cidrs[{k}] ({other})"),
                    );
                }
            }
        }
        if let Some(v6) = v.ipv6_cidr.as_mut() {
            r.normalise6(v6, &res, "ipv6_cidr");
            if v6.prefix_len() != VPC_V6_PREFIX {
                r.err(
                    &res,
                    "ipv6_cidr",
                    format!(
                        "{v6}: a VPC's IPv6 CIDR must be /{VPC_V6_PREFIX} (it is /{})",
                        v6.prefix_len()
                    ),
                );
            }
        }
    }

    // --- VPC peering connections ---------------------------------------------------------
    let peerings = peering_connections(&mut r, t, broken, &vpc_idx);

    // --- route tables: vpc, main ---------------------------------------------------------
    let mut main_of: HashMap<usize, String> = HashMap::new();
    for (i, rt) in t.route_tables.iter().enumerate() {
        let res = r.label(&rt.id, "route_table", i);
        let vpc = check_vpc_ref(&mut r, &vpc_idx, broken, &res, &rt.vpc);
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
        if rtb_idx.contains_key(&implicit) || subnet_idx.contains_key(&implicit) {
            r.err(
                &v.id,
                "",
                format!(
                    "the VPC declares no main route table, and the id of its implicit main table, `{implicit}`, is taken; mark one route table `main = true`"
                ),
            );
        }
    }

    // --- subnets -------------------------------------------------------------------------
    let mut v4_by_vpc: HashMap<usize, Vec<(String, Ipv4Net)>> = HashMap::new();
    let mut v6_by_vpc: HashMap<usize, Vec<(String, Ipv6Net)>> = HashMap::new();
    for (i, s) in t.subnets.iter_mut().enumerate() {
        let res = r.label(&s.id, "subnet", i);
        r.normalise4(&mut s.cidr, &res, "cidr");
        r.v4_size(s.cidr, &res, "cidr", "subnet");
        if let Some(v6) = s.ipv6_cidr.as_mut() {
            r.normalise6(v6, &res, "ipv6_cidr");
            if v6.prefix_len() != SUBNET_V6_PREFIX {
                r.err(
                    &res,
                    "ipv6_cidr",
                    format!(
                        "{v6}: a subnet's IPv6 CIDR must be /{SUBNET_V6_PREFIX} (it is /{})",
                        v6.prefix_len()
                    ),
                );
            }
        }
        let Some(vi) = check_vpc_ref(&mut r, &vpc_idx, broken, &res, &s.vpc) else {
            continue;
        };
        let vpc = &t.vpcs[vi];
        if !vpc.ipv4_cidrs().any(|c| c.contains(&s.cidr)) {
            let cidrs: Vec<String> = vpc.ipv4_cidrs().map(|c| c.to_string()).collect();
            r.err(
                &res,
                "cidr",
                format!(
                    "{} is not inside any IPv4 CIDR of {} ({})",
                    s.cidr,
                    vpc.id,
                    cidrs.join(", ")
                ),
            );
        }
        let peers = v4_by_vpc.entry(vi).or_default();
        for (other, c) in peers.iter() {
            if overlaps(IpNet::V4(s.cidr), IpNet::V4(*c)) {
                r.err(
                    &res,
                    "cidr",
                    format!(
                        "{} overlaps {other} ({c}); subnets of a VPC must not overlap",
                        s.cidr
                    ),
                );
            }
        }
        peers.push((res.clone(), s.cidr));
        if let Some(v6) = s.ipv6_cidr {
            match vpc.ipv6_cidr {
                None => r.err(
                    &res,
                    "ipv6_cidr",
                    format!("{} has no ipv6_cidr; give the VPC one first", vpc.id),
                ),
                Some(vc) if !vc.contains(&v6) => r.err(
                    &res,
                    "ipv6_cidr",
                    format!("{v6} is not inside {}'s IPv6 CIDR {vc}", vpc.id),
                ),
                Some(_) => {}
            }
            let peers = v6_by_vpc.entry(vi).or_default();
            for (other, c) in peers.iter() {
                if overlaps(IpNet::V6(v6), IpNet::V6(*c)) {
                    r.err(
                        &res,
                        "ipv6_cidr",
                        format!("{v6} overlaps {other} ({c}); subnets of a VPC must not overlap"),
                    );
                }
            }
            peers.push((res.clone(), v6));
        }
        if let Some(rtb) = &s.route_table {
            match rtb_idx.get(rtb) {
                None if broken.contains(rtb) => {}
                None => r.err(
                    &res,
                    "route_table",
                    format!("no route table with id `{rtb}`"),
                ),
                Some(&ri) => {
                    let rt = &t.route_tables[ri];
                    if rt.vpc != s.vpc && vpc_idx.contains_key(&rt.vpc) {
                        r.err(
                            &res,
                            "route_table",
                            format!(
                                "{rtb} belongs to {}, but this subnet is in {}; associate a route table of the same VPC",
                                rt.vpc, s.vpc
                            ),
                        );
                    }
                }
            }
        }
    }

    // --- ENIs ----------------------------------------------------------------------------
    // VPC of each ENI (by index), for route targets.
    let eni_vpc: Vec<Option<usize>> = t
        .enis
        .iter()
        .map(|e| {
            subnet_idx
                .get(&e.subnet)
                .and_then(|&si| vpc_idx.get(&t.subnets[si].vpc).copied())
        })
        .collect();
    let mut macs: HashMap<MacAddr, String> = HashMap::new();
    for s in &t.subnets {
        if !s.id.is_empty() {
            macs.entry(router_mac(&s.id))
                .or_insert_with(|| format!("the router of {}", s.id));
        }
    }
    for g in &t.internet_gateways {
        if !g.id.is_empty() {
            macs.entry(igw_mac(&g.id))
                .or_insert_with(|| format!("internet gateway {}", g.id));
            macs.entry(igw_host_mac(&g.id))
                .or_insert_with(|| format!("the internet side of {}", g.id));
        }
    }
    let mut ips: HashMap<(usize, IpAddr), String> = HashMap::new();
    let mut ifaces: HashMap<(String, String), String> = HashMap::new();
    for (i, e) in t.enis.iter().enumerate() {
        let res = r.label(&e.id, "eni", i);
        // MAC
        let (mac, generated) = match e.mac {
            Some(m) => (m, false),
            None => (eni_mac(&e.id), true),
        };
        if !generated {
            if mac.is_broadcast() {
                r.err(
                    &res,
                    "mac",
                    format!("{mac} is the broadcast address; an ENI needs a unicast MAC"),
                );
            } else if mac.is_multicast() {
                r.err(
                    &res,
                    "mac",
                    format!(
                        "{mac} is a multicast address (group bit set); an ENI needs a unicast MAC"
                    ),
                );
            } else if mac.0 == [0; 6] {
                r.err(&res, "mac", "00:00:00:00:00:00 is not a usable MAC address");
            }
        }
        if !e.id.is_empty() || !generated {
            match macs.get(&mac) {
                Some(other) if generated => r.err(
                    &res,
                    "mac",
                    format!("the generated MAC {mac} collides with {other}; set `mac` explicitly"),
                ),
                Some(other) => r.err(&res, "mac", format!("{mac} is already used by {other}")),
                None => {
                    macs.insert(mac, res.clone());
                }
            }
        }
        // MTU, interface
        if !(MIN_MTU..=MAX_MTU).contains(&e.mtu) {
            r.err(
                &res,
                "mtu",
                format!(
                    "{} is outside the allowed range {MIN_MTU}..={MAX_MTU}",
                    e.mtu
                ),
            );
        }
        if !is_valid_ifname(&e.ifname) {
            r.err(
                &res,
                "ifname",
                format!(
                    "`{}` is not a valid Linux interface name (1 to 15 characters, no `/`, `:` or whitespace, not `.` or `..`)",
                    e.ifname
                ),
            );
        }
        if let Some(ns) = &e.netns {
            if !is_valid_netns_name(ns) {
                r.err(
                    &res,
                    "netns",
                    format!("`{ns}` is not a usable namespace name (1 to 64 of letters, digits, `-`, `_`, `.`; not `.` or `..`)"),
                );
            } else {
                let key = (ns.clone(), e.ifname.clone());
                if let Some(other) = ifaces.get(&key) {
                    r.err(
                        &res,
                        "ifname",
                        format!("{} in netns {ns} is already used by {other}", e.ifname),
                    );
                } else {
                    ifaces.insert(key, res.clone());
                }
            }
        }
        // Subnet and addresses
        if e.subnet.is_empty() {
            r.err(
                &res,
                "subnet",
                "missing subnet; name the `subnet-…` this ENI lives in",
            );
            continue;
        }
        let Some(&si) = subnet_idx.get(&e.subnet) else {
            if !broken.contains(&e.subnet) {
                r.err(&res, "subnet", format!("no subnet with id `{}`", e.subnet));
            }
            continue;
        };
        let s = &t.subnets[si];
        let vpc = vpc_idx.get(&s.vpc).copied();
        let v4: Vec<(String, Ipv4Addr)> = std::iter::once(("private_ip".to_string(), e.private_ip))
            .chain(
                e.secondary_ips
                    .iter()
                    .enumerate()
                    .map(|(k, ip)| (format!("secondary_ips[{k}]"), *ip)),
            )
            .collect();
        for (field, ip) in v4 {
            if !s.cidr.contains(&ip) {
                r.err(
                    &res,
                    &field,
                    format!("{ip} is outside {} ({})", s.id, s.cidr),
                );
            } else if let Some(why) = reserved_ipv4_reason(s.cidr, ip) {
                r.err(
                    &res,
                    &field,
                    format!("{ip} is {why}; it cannot be assigned to an ENI"),
                );
            }
            if let Some(vi) = vpc {
                claim(&mut r, &mut ips, vi, IpAddr::V4(ip), &res, &field);
            }
        }
        for (k, ip) in e.ipv6_ips.iter().enumerate() {
            let field = format!("ipv6_ips[{k}]");
            match s.ipv6_cidr {
                None => r.err(
                    &res,
                    &field,
                    format!(
                        "{} has no ipv6_cidr, so its ENIs cannot have IPv6 addresses",
                        s.id
                    ),
                ),
                Some(c) if !c.contains(ip) => {
                    r.err(&res, &field, format!("{ip} is outside {} ({c})", s.id))
                }
                Some(c) => {
                    if let Some(why) = reserved_ipv6_reason(c, *ip) {
                        r.err(
                            &res,
                            &field,
                            format!("{ip} is {why}; it cannot be assigned to an ENI"),
                        );
                    }
                }
            }
            if let Some(vi) = vpc {
                claim(&mut r, &mut ips, vi, IpAddr::V6(*ip), &res, &field);
            }
        }
    }

    // --- routes --------------------------------------------------------------------------
    // VPC of each NAT gateway (by index), for route targets.
    let nat_vpc: Vec<Option<usize>> = t
        .nat_gateways
        .iter()
        .map(|n| {
            subnet_idx
                .get(&n.subnet)
                .and_then(|&si| vpc_idx.get(&t.subnets[si].vpc).copied())
        })
        .collect();
    for (i, rt) in t.route_tables.iter_mut().enumerate() {
        let res = r.label(&rt.id, "route_table", i);
        let vpc = vpc_idx.get(&rt.vpc).copied();
        let mut seen: HashMap<IpNet, usize> = HashMap::new();
        for j in 0..rt.routes.len() {
            let dfield = format!("routes[{j}].destination");
            let tfield = format!("routes[{j}].target");
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
            match target {
                RouteTargetRef::Local | RouteTargetRef::Blackhole => {}
                RouteTargetRef::Eni(id) => match eni_idx.get(id) {
                    None if broken.contains(id) => {}
                    None => r.err(&res, &tfield, format!("no ENI with id `{id}`")),
                    Some(&ei) => own_vpc_target(
                        &mut r,
                        &t.vpcs,
                        (&res, &tfield),
                        id,
                        (eni_vpc[ei], vpc),
                        ("is in", "an ENI"),
                    ),
                },
                RouteTargetRef::InternetGateway(id) => {
                    match igw_idx.get(id) {
                        None if broken.contains(id) => {}
                        None => r.err(
                            &res,
                            &tfield,
                            format!("no internet gateway with id `{id}`"),
                        ),
                        Some(&gi) => own_vpc_target(
                            &mut r,
                            &t.vpcs,
                            (&res, &tfield),
                            id,
                            (vpc_idx.get(&t.internet_gateways[gi].vpc).copied(), vpc),
                            ("is attached to", "the internet gateway"),
                        ),
                    }
                    if dest.addr().is_ipv6() {
                        r.err(
                            &res,
                            &dfield,
                            format!("{dest}: IPv6 through an internet gateway is not supported yet; route IPv4 destinations to {id}"),
                        );
                    }
                }
                RouteTargetRef::NatGateway(id) => {
                    match nat_idx.get(id) {
                        None if broken.contains(id) => {}
                        None => r.err(&res, &tfield, format!("no NAT gateway with id `{id}`")),
                        Some(&ni) => own_vpc_target(
                            &mut r,
                            &t.vpcs,
                            (&res, &tfield),
                            id,
                            (nat_vpc[ni], vpc),
                            ("is in", "a NAT gateway"),
                        ),
                    }
                    if dest.addr().is_ipv6() {
                        r.err(
                            &res,
                            &dfield,
                            format!("{dest}: IPv6 through a NAT gateway (NAT64) is not supported yet; route IPv4 destinations to {id}"),
                        );
                    }
                }
                RouteTargetRef::Peering(id) => {
                    peering_route(&mut r, &t.vpcs, &peerings, broken, vpc, (&res, &tfield), dest, id)
                }
                RouteTargetRef::Unsupported(s) => r.err(
                    &res,
                    &tfield,
                    format!("target `{s}`: this kind of target is not supported yet; use `local`, `blackhole`, an ENI id, an internet gateway id, a NAT gateway id or a peering connection id"),
                ),
                RouteTargetRef::Invalid(s) => r.err(
                    &res,
                    &tfield,
                    format!("unknown target `{s}`; expected `local`, `blackhole`, an ENI id (`eni-…`), an internet gateway id (`igw-…`), a NAT gateway id (`nat-…`) or a peering connection id (`pcx-…`)"),
                ),
            }
            let Some(vi) = vpc else { continue };
            let v = &t.vpcs[vi];
            let cidrs = v.all_cidrs();
            if cidrs.contains(&dest) {
                if target == RouteTargetRef::Blackhole {
                    r.err(
                        &res,
                        &tfield,
                        format!("{dest} is a CIDR of {}: its local route can only be replaced with an ENI or a NAT gateway target (middlebox), not `blackhole`", v.id),
                    );
                } else if let RouteTargetRef::InternetGateway(id) = target {
                    r.err(
                        &res,
                        &tfield,
                        format!("{dest} is a CIDR of {}: an internet gateway ({id}) is not a valid target for routes more specific than or equal to the local route", v.id),
                    );
                } else if let RouteTargetRef::Peering(id) = target {
                    r.err(
                        &res,
                        &tfield,
                        format!("{dest} is a CIDR of {}: a peering connection ({id}) is not a valid target for routes more specific than or equal to the local route (route the peer VPC's CIDRs to it)", v.id),
                    );
                }
            } else if let Some(covering) = cidrs.iter().find(|c| c.contains(&dest)) {
                let is_subnet = t.subnets.iter().any(|s| {
                    s.vpc == v.id
                        && (IpNet::V4(s.cidr) == dest || s.ipv6_cidr.map(IpNet::V6) == Some(dest))
                });
                match target {
                    RouteTargetRef::Local => r.err(
                        &res,
                        &tfield,
                        format!("`local` is only allowed for a destination equal to a CIDR of {} ({})", v.id, cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")),
                    ),
                    RouteTargetRef::InternetGateway(id) => r.err(
                        &res,
                        &tfield,
                        format!("{dest} is more specific than the local route {covering}: an internet gateway ({id}) is not a valid target for routes more specific than or equal to the local route"),
                    ),
                    RouteTargetRef::Peering(id) => r.err(
                        &res,
                        &tfield,
                        format!("{dest} is more specific than the local route {covering}: a peering connection ({id}) is not a valid target for routes more specific than or equal to the local route (route the peer VPC's CIDRs to it)"),
                    ),
                    _ if !is_subnet => r.err(
                        &res,
                        &dfield,
                        format!("{dest} is more specific than the local route {covering}; such a route must equal the entire CIDR of a subnet of {}", v.id),
                    ),
                    RouteTargetRef::Eni(_) | RouteTargetRef::NatGateway(_) => {}
                    _ => r.err(
                        &res,
                        &tfield,
                        format!("{dest} is more specific than the local route {covering}; such a route must target an ENI or a NAT gateway"),
                    ),
                }
            } else if target == RouteTargetRef::Local {
                r.err(
                    &res,
                    &tfield,
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
    }

    // --- internet gateways, Elastic IPs, public IPs ----------------------------------------
    gateways(
        &mut r,
        t,
        broken,
        &Lookups {
            vpc: &vpc_idx,
            subnet: &subnet_idx,
            eni_vpc: &eni_vpc,
            peerings: &peerings,
        },
        &eni_idx,
    );

    // --- NAT gateways ----------------------------------------------------------------------
    nat_gateways(
        &mut r,
        t,
        broken,
        &Lookups {
            vpc: &vpc_idx,
            subnet: &subnet_idx,
            eni_vpc: &eni_vpc,
            peerings: &peerings,
        },
        &mut ips,
    );

    // --- firewalls: prefix lists, network ACLs, security groups, ENI groups, [lab] --------
    firewalls(
        &mut r,
        t,
        broken,
        &Lookups {
            vpc: &vpc_idx,
            subnet: &subnet_idx,
            eni_vpc: &eni_vpc,
            peerings: &peerings,
        },
    );

    // --- flow logs -------------------------------------------------------------------------
    flow_logs(
        &mut r,
        t,
        broken,
        &Lookups {
            vpc: &vpc_idx,
            subnet: &subnet_idx,
            eni_vpc: &eni_vpc,
            peerings: &peerings,
        },
        &eni_idx,
    );

    // --- packet captures and traffic mirroring ---------------------------------------------
    taps::captures_and_mirrors(
        &mut r,
        t,
        broken,
        &Lookups {
            vpc: &vpc_idx,
            subnet: &subnet_idx,
            eni_vpc: &eni_vpc,
            peerings: &peerings,
        },
        &eni_idx,
    );

    if r.errors.is_empty() {
        Ok(r.warnings)
    } else {
        Err(ValidationErrors(r.errors))
    }
}

/// Id → index maps that the firewall checks share with the rest of validation.
struct Lookups<'a> {
    vpc: &'a HashMap<String, usize>,
    subnet: &'a HashMap<String, usize>,
    /// The VPC of each ENI (by model index), when its subnet and VPC resolve.
    eni_vpc: &'a [Option<usize>],
    /// The declared peering connections.
    peerings: &'a PeeringLookup,
}

/// The protocol, ports and ICMP fields of one rule, and the family of its CIDR when known.
struct TrafficFields<'a> {
    protocol: RuleProtocol,
    ports: Option<PortSpec>,
    icmp_type: Option<i64>,
    icmp_code: Option<i64>,
    /// `Some(true)` for an IPv4 CIDR, `Some(false)` for IPv6, `None` for other peers.
    ipv4: Option<bool>,
    /// `inbound[3]`, for the field names.
    field: &'a str,
}

/// Protocol/port/ICMP rules shared by network ACL and security group rules.
///
/// Ports: TCP/UDP only (bounds 0..=65535, from <= to); with ICMP/ICMPv6 an error; with
/// `-1` or another protocol number AWS ignores them, so they are accepted with a warning.
/// ICMP type/code: -1..=255 (-1 = any); ICMP/ICMPv6 only (an error with TCP/UDP, ignored
/// with a warning for `-1` and other protocols); a code needs a type; ICMPv6 with an IPv4
/// CIDR matches every type in AWS, so a type/code there is ignored with a warning.
fn check_traffic(r: &mut Report, res: &str, f: &TrafficFields<'_>) {
    let field = f.field;
    let proto = f.protocol;
    let proto_text = match proto {
        RuleProtocol::All => "all (-1)".to_string(),
        p => format!("{p}"),
    };
    if let Some(p) = f.ports {
        let pfield = format!("{field}.ports");
        if proto.has_ports() {
            if p.from > 65_535 || p.to > 65_535 {
                r.err(res, &pfield, format!("ports {p}: a port is 0..=65535"));
            } else if p.from > p.to {
                r.err(
                    res,
                    &pfield,
                    format!("ports {p}: the range must go from the lower port to the higher"),
                );
            }
        } else if proto.is_icmp() {
            r.err(
                res,
                &pfield,
                format!("ports do not apply to protocol {proto}; use icmp_type/icmp_code"),
            );
        } else {
            r.warnings.push(format!(
                "{res}.{pfield}: ports are ignored for protocol {proto_text}; the rule matches all of its traffic (as in AWS)"
            ));
        }
    }
    let given = [("icmp_type", f.icmp_type), ("icmp_code", f.icmp_code)];
    if given.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    let mut in_range = true;
    for (name, v) in given {
        if let Some(v) = v {
            if !(-1..=255).contains(&v) {
                in_range = false;
                r.err(
                    res,
                    format!("{field}.{name}"),
                    format!("{v} is outside 0..=255 (-1 or leaving it out means any)"),
                );
            }
        }
    }
    let specific = |v: Option<i64>| matches!(v, Some(x) if x >= 0);
    if proto.has_ports() {
        let name = if f.icmp_type.is_some() {
            "icmp_type"
        } else {
            "icmp_code"
        };
        r.err(
            res,
            format!("{field}.{name}"),
            format!("icmp_type/icmp_code only apply to icmp and icmpv6, not {proto}; use ports"),
        );
    } else if !proto.is_icmp() {
        r.warnings.push(format!(
            "{res}.{field}: icmp_type/icmp_code are ignored for protocol {proto_text}; the rule matches all of its traffic (as in AWS)"
        ));
    } else if in_range && specific(f.icmp_code) && !specific(f.icmp_type) {
        r.err(
            res,
            format!("{field}.icmp_code"),
            "an icmp_code needs an icmp_type (any type means any code)",
        );
    } else if proto == RuleProtocol::Number(PROTO_ICMPV6)
        && f.ipv4 == Some(true)
        && (specific(f.icmp_type) || specific(f.icmp_code))
    {
        r.warnings.push(format!(
            "{res}.{field}: icmpv6 with an IPv4 CIDR matches all ICMP types and codes (as in AWS); icmp_type/icmp_code are ignored"
        ));
    }
}

/// Validates prefix lists, network ACLs, security groups, the ENIs' groups and conntrack
/// settings, and `[lab]`; normalises their CIDRs.
fn firewalls(r: &mut Report, t: &mut Topology, broken: &HashSet<String>, l: &Lookups<'_>) {
    let all_ids: HashSet<String> = t
        .vpcs
        .iter()
        .map(|x| &x.id)
        .chain(t.subnets.iter().map(|x| &x.id))
        .chain(t.route_tables.iter().map(|x| &x.id))
        .chain(t.enis.iter().map(|x| &x.id))
        .chain(t.prefix_lists.iter().map(|x| &x.id))
        .chain(t.network_acls.iter().map(|x| &x.id))
        .chain(t.security_groups.iter().map(|x| &x.id))
        .chain(t.internet_gateways.iter().map(|x| &x.id))
        .chain(t.elastic_ips.iter().map(|x| &x.id))
        .chain(t.nat_gateways.iter().map(|x| &x.id))
        .chain(t.peering_connections.iter().map(|x| &x.id))
        .chain(t.flow_logs.iter().map(|x| &x.id))
        .filter(|id| !id.is_empty())
        .cloned()
        .collect();

    // --- [lab] ---------------------------------------------------------------------------
    if let Some(lab) = &t.lab {
        let s = lab.conntrack_time_scale;
        if !(s > 0.0 && s <= 1.0) {
            r.err(
                "lab",
                "conntrack_time_scale",
                format!("{s} must be greater than 0 and at most 1 (it shortens conntrack timeouts for tests)"),
            );
        }
        if let Some([from, to]) = lab.nat_gateway_ports {
            let ports = NAT_GATEWAY_MIN_PORT..=NAT_GATEWAY_MAX_PORT;
            if !ports.contains(&from) || !ports.contains(&to) {
                r.err(
                    "lab",
                    "nat_gateway_ports",
                    format!("[{from}, {to}]: NAT gateway ports must be within {NAT_GATEWAY_MIN_PORT}..={NAT_GATEWAY_MAX_PORT} (AWS's range)"),
                );
            } else if from > to {
                r.err(
                    "lab",
                    "nat_gateway_ports",
                    format!("[{from}, {to}]: the range must go from the lower port to the higher"),
                );
            }
        }
        if let Some(secs) = lab.nat_gateway_idle_timeout {
            if !(secs > 0.0 && secs.is_finite()) {
                r.err(
                    "lab",
                    "nat_gateway_idle_timeout",
                    format!("{secs} must be a number of seconds greater than 0 (AWS's is 350)"),
                );
            }
        }
    }

    // --- prefix lists ----------------------------------------------------------------------
    let mut pl_weight: HashMap<String, usize> = HashMap::new();
    for (i, pl) in t.prefix_lists.iter_mut().enumerate() {
        let res = r.label(&pl.id, "prefix_list", i);
        if pl.entries.is_empty() {
            r.err(
                &res,
                "entries",
                "a prefix list needs at least one CIDR entry",
            );
        }
        for j in 0..pl.entries.len() {
            let field = format!("entries[{j}]");
            r.normalise(&mut pl.entries[j], &res, &field);
        }
        if let Some(first) = pl.entries.first().copied() {
            for (j, e) in pl.entries.iter().enumerate().skip(1) {
                if matches!(first, IpNet::V4(_)) != matches!(e, IpNet::V4(_)) {
                    r.err(
                        &res,
                        format!("entries[{j}]"),
                        format!("{e} is not of the same address family as entries[0] ({first}); a prefix list holds IPv4 or IPv6 CIDRs, not both"),
                    );
                }
            }
        }
        if let Some(m) = pl.max_entries {
            if m < 1 {
                r.err(&res, "max_entries", format!("{m} must be at least 1"));
            } else if usize::try_from(m).is_ok_and(|m| pl.entries.len() > m) {
                r.err(
                    &res,
                    "entries",
                    format!(
                        "{} entries do not fit in max_entries = {m}",
                        pl.entries.len()
                    ),
                );
            }
        }
        if !pl.id.is_empty() {
            pl_weight
                .entry(pl.id.clone())
                .or_insert_with(|| pl.weight());
        }
    }

    // --- network ACLs ----------------------------------------------------------------------
    let mut default_nacl: HashMap<usize, String> = HashMap::new();
    let mut associated: HashMap<String, String> = HashMap::new();
    for (i, n) in t.network_acls.iter_mut().enumerate() {
        let res = r.label(&n.id, "network_acl", i);
        let vpc = check_vpc_ref(r, l.vpc, broken, &res, &n.vpc);
        if let (Some(vi), true) = (vpc, n.default) {
            if let Some(first) = default_nacl.get(&vi) {
                r.err(
                    &res,
                    "default",
                    format!(
                        "{} already has a default network ACL ({first}); a VPC has exactly one",
                        n.vpc
                    ),
                );
            } else {
                default_nacl.insert(vi, res.clone());
            }
        }
        for (j, sid) in n.subnets.iter().enumerate() {
            let field = format!("subnets[{j}]");
            match l.subnet.get(sid) {
                None if broken.contains(sid) => {}
                None => r.err(&res, &field, format!("no subnet with id `{sid}`")),
                Some(&si) => {
                    let s = &t.subnets[si];
                    if vpc.is_some() && s.vpc != n.vpc && l.vpc.contains_key(&s.vpc) {
                        r.err(
                            &res,
                            &field,
                            format!(
                                "{sid} is in {}, but this network ACL belongs to {}; associate a network ACL of the subnet's own VPC",
                                s.vpc, n.vpc
                            ),
                        );
                    }
                    match associated.get(sid) {
                        Some(other) if *other == res => {
                            r.err(&res, &field, format!("{sid} is listed twice"))
                        }
                        Some(other) => r.err(
                            &res,
                            &field,
                            format!("{sid} is already associated with {other}; a subnet has exactly one network ACL"),
                        ),
                        None => {
                            associated.insert(sid.clone(), res.clone());
                        }
                    }
                }
            }
        }
        for (dir, rules) in [("inbound", &mut n.inbound), ("outbound", &mut n.outbound)] {
            if rules.len() > NACL_RULES_MAX {
                r.err(
                    &res,
                    dir,
                    format!(
                        "{} rules; a network ACL has at most {NACL_RULES_MAX} per direction (AWS's maximum quota)",
                        rules.len()
                    ),
                );
            } else if rules.len() > NACL_RULES_QUOTA {
                r.warnings.push(format!(
                    "{res}.{dir}: {} rules is more than AWS's default quota of {NACL_RULES_QUOTA} per direction (it can be raised to {NACL_RULES_MAX})",
                    rules.len()
                ));
            }
            let mut numbers: HashMap<i64, usize> = HashMap::new();
            for (k, rule) in rules.iter_mut().enumerate() {
                let field = format!("{dir}[{k}]");
                if !(NACL_RULE_MIN..=NACL_RULE_MAX).contains(&rule.rule) {
                    r.err(
                        &res,
                        format!("{field}.rule"),
                        format!(
                            "rule number {} is outside {NACL_RULE_MIN}..={NACL_RULE_MAX} (higher numbers are reserved for the final `*` deny)",
                            rule.rule
                        ),
                    );
                } else if let Some(first) = numbers.get(&rule.rule) {
                    r.err(
                        &res,
                        format!("{field}.rule"),
                        format!(
                            "rule number {} is already used by {dir}[{first}]; rule numbers are unique per direction",
                            rule.rule
                        ),
                    );
                } else {
                    numbers.insert(rule.rule, k);
                }
                r.normalise(&mut rule.cidr, &res, &format!("{field}.cidr"));
                check_traffic(
                    r,
                    &res,
                    &TrafficFields {
                        protocol: rule.protocol,
                        ports: rule.ports,
                        icmp_type: rule.icmp_type,
                        icmp_code: rule.icmp_code,
                        ipv4: Some(matches!(rule.cidr, IpNet::V4(_))),
                        field: &field,
                    },
                );
            }
        }
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if v.id.is_empty() || default_nacl.contains_key(&vi) {
            continue;
        }
        let implicit = implicit_default_nacl_id(&v.id);
        if all_ids.contains(&implicit) {
            r.err(
                &v.id,
                "",
                format!("the VPC declares no default network ACL, and the id of its implicit one, `{implicit}`, is taken; mark one network ACL `default = true`"),
            );
        }
    }

    // --- security groups -------------------------------------------------------------------
    // Every group id an ENI or a rule may name, with its VPC: the declared groups and the
    // implicit default groups of VPCs that declare none.
    let mut default_sg: HashMap<usize, String> = HashMap::new();
    for (i, g) in t.security_groups.iter().enumerate() {
        if let (Some(&vi), true) = (l.vpc.get(&g.vpc), g.default) {
            default_sg
                .entry(vi)
                .or_insert_with(|| r.label(&g.id, "security_group", i));
        }
    }
    let mut sg_vpc: HashMap<String, Option<usize>> = HashMap::new();
    for g in &t.security_groups {
        if !g.id.is_empty() {
            sg_vpc
                .entry(g.id.clone())
                .or_insert_with(|| l.vpc.get(&g.vpc).copied());
        }
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if v.id.is_empty() || default_sg.contains_key(&vi) {
            continue;
        }
        let implicit = implicit_default_sg_id(&v.id);
        if all_ids.contains(&implicit) {
            r.err(
                &v.id,
                "",
                format!("the VPC declares no default security group, and the id of its implicit one, `{implicit}`, is taken; mark one security group `default = true`"),
            );
        } else {
            sg_vpc.insert(implicit, Some(vi));
        }
    }
    let mut seen_default: HashSet<usize> = HashSet::new();
    for (i, g) in t.security_groups.iter_mut().enumerate() {
        let res = r.label(&g.id, "security_group", i);
        let vpc = check_vpc_ref(r, l.vpc, broken, &res, &g.vpc);
        if let (Some(vi), true) = (vpc, g.default) {
            if !seen_default.insert(vi) {
                let first = default_sg.get(&vi).cloned().unwrap_or_default();
                r.err(
                    &res,
                    "default",
                    format!(
                        "{} already has a default security group ({first}); a VPC has exactly one",
                        g.vpc
                    ),
                );
            }
        }
        let dirs: [(&str, Option<&mut Vec<SgRuleSpec>>); 2] = [
            ("inbound", Some(&mut g.inbound)),
            ("outbound", g.outbound.as_mut()),
        ];
        for (dir, rules) in dirs {
            let Some(rules) = rules else { continue };
            let (want, wrong) = if dir == "inbound" {
                ("source", "destination")
            } else {
                ("destination", "source")
            };
            let weight: usize = rules
                .iter()
                .map(|rule| match rule.peer() {
                    Some(RulePeer::PrefixList(p)) => pl_weight.get(p).copied().unwrap_or(1),
                    _ => 1,
                })
                .sum();
            if weight > SG_RULES_MAX {
                r.err(
                    &res,
                    dir,
                    format!(
                        "{weight} rules (a prefix-list rule counts as the list's max_entries); a security group has at most {SG_RULES_MAX} per direction"
                    ),
                );
            }
            for (k, rule) in rules.iter_mut().enumerate() {
                let field = format!("{dir}[{k}]");
                let (peer, other) = if dir == "inbound" {
                    (&mut rule.source, &rule.destination)
                } else {
                    (&mut rule.destination, &rule.source)
                };
                if other.is_some() {
                    r.err(
                        &res,
                        format!("{field}.{wrong}"),
                        format!("{dir} rules name a `{want}`, not a `{wrong}`"),
                    );
                }
                let Some(peer) = peer.as_mut() else {
                    if other.is_none() {
                        r.err(
                            &res,
                            format!("{field}.{want}"),
                            format!("missing {want}: a CIDR, a security group id (`sg-…`) or a prefix list id (`pl-…`)"),
                        );
                    }
                    continue;
                };
                let pfield = format!("{field}.{want}");
                let mut ipv4 = None;
                match peer {
                    RulePeer::Cidr(n) => {
                        r.normalise(n, &res, &pfield);
                        ipv4 = Some(matches!(n, IpNet::V4(_)));
                    }
                    RulePeer::Group(id) => match sg_vpc.get(id.as_str()) {
                        None if broken.contains(id.as_str()) => {}
                        None => r.err(&res, &pfield, format!("no security group with id `{id}`")),
                        Some(&Some(ov)) => {
                            if let Some(vi) = vpc.filter(|&vi| vi != ov) {
                                let (this, other) = (&t.vpcs[vi].id, &t.vpcs[ov].id);
                                let why = match l.peerings.between(vi, ov) {
                                    Some((_, true)) => None,
                                    Some((pcx, false)) => Some(format!(
                                        "{pcx} is pending-acceptance, and a reference needs an active peering"
                                    )),
                                    None => Some("no peering connection joins them".to_string()),
                                };
                                if let Some(why) = why {
                                    r.warnings.push(format!(
                                        "{res}.{pfield}: {res} references {id} of {other}, which is not peered with {this} ({why}): the rule matches nothing (stale)"
                                    ));
                                }
                            }
                        }
                        Some(None) => {}
                    },
                    RulePeer::PrefixList(id) => {
                        if !pl_weight.contains_key(id.as_str()) && !broken.contains(id.as_str()) {
                            r.err(&res, &pfield, format!("no prefix list with id `{id}`"));
                        }
                    }
                }
                check_traffic(
                    r,
                    &res,
                    &TrafficFields {
                        protocol: rule.protocol,
                        ports: rule.ports,
                        icmp_type: rule.icmp_type,
                        icmp_code: rule.icmp_code,
                        ipv4,
                        field: &field,
                    },
                );
            }
        }
    }

    // --- ENIs: groups and conntrack ------------------------------------------------------
    for (i, e) in t.enis.iter().enumerate() {
        let res = r.label(&e.id, "eni", i);
        let eni_vpc = l.eni_vpc.get(i).copied().flatten();
        if let Some(groups) = &e.security_groups {
            if groups.is_empty() {
                r.err(
                    &res,
                    "security_groups",
                    "an ENI always has at least one security group; leave `security_groups` out to use the VPC's default group",
                );
            } else if groups.len() > SGS_PER_ENI_MAX {
                r.err(
                    &res,
                    "security_groups",
                    format!(
                        "{} groups; an ENI has at most {SGS_PER_ENI_MAX} (AWS's default quota)",
                        groups.len()
                    ),
                );
            }
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (k, gid) in groups.iter().enumerate() {
                let field = format!("security_groups[{k}]");
                if let Some(first) = seen.get(gid.as_str()) {
                    r.err(
                        &res,
                        &field,
                        format!("{gid} is already listed at security_groups[{first}]"),
                    );
                    continue;
                }
                seen.insert(gid, k);
                match sg_vpc.get(gid) {
                    None if broken.contains(gid) => {}
                    None => r.err(&res, &field, format!("no security group with id `{gid}`")),
                    Some(&Some(gv)) if eni_vpc.is_some_and(|ev| ev != gv) => r.err(
                        &res,
                        &field,
                        format!(
                            "{gid} belongs to {}, but this ENI is in {}; an ENI's groups belong to its VPC",
                            t.vpcs[gv].id,
                            eni_vpc.map_or("", |ev| t.vpcs[ev].id.as_str())
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        if let Some(ct) = &e.conntrack {
            let checks = [
                ("conntrack.max_entries", ct.max_entries, &CONNTRACK_ENTRIES),
                (
                    "conntrack.tcp_established_timeout",
                    ct.tcp_established_timeout,
                    &TCP_ESTABLISHED_TIMEOUT,
                ),
                ("conntrack.udp_timeout", ct.udp_timeout, &UDP_TIMEOUT),
                (
                    "conntrack.udp_stream_timeout",
                    ct.udp_stream_timeout,
                    &UDP_STREAM_TIMEOUT,
                ),
            ];
            for (field, value, range) in checks {
                if let Some(v) = value {
                    if !range.contains(&v) {
                        let unit = if field.ends_with("max_entries") {
                            ""
                        } else {
                            " seconds"
                        };
                        r.err(
                            &res,
                            field,
                            format!(
                                "{v} is outside the allowed range {}..={}{unit}",
                                range.start(),
                                range.end()
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Why `ip` cannot be a public IPv4 address (of an Elastic IP, an ENI's `public_ip`, or
/// the internet side of a gateway), if it cannot: private (RFC 1918), shared (RFC 6598),
/// `0.0.0.0/8`, loopback, link-local, multicast, reserved (`240.0.0.0/4`) or broadcast.
pub fn non_public_ipv4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    match ip.octets() {
        [0, ..] => Some("in 0.0.0.0/8 (\"this network\")"),
        [10, ..] => Some("a private address (RFC 1918, 10.0.0.0/8)"),
        [172, b, ..] if (16..32).contains(&b) => {
            Some("a private address (RFC 1918, 172.16.0.0/12)")
        }
        [192, 168, ..] => Some("a private address (RFC 1918, 192.168.0.0/16)"),
        [100, b, ..] if (64..128).contains(&b) => {
            Some("in the shared address space (RFC 6598, 100.64.0.0/10)")
        }
        [127, ..] => Some("a loopback address (127.0.0.0/8)"),
        [169, 254, ..] => Some("a link-local address (169.254.0.0/16)"),
        [255, 255, 255, 255] => Some("the broadcast address"),
        [a, ..] if (224..240).contains(&a) => Some("a multicast address (224.0.0.0/4)"),
        [a, ..] if a >= 240 => Some("a reserved address (240.0.0.0/4)"),
        _ => None,
    }
}

/// Where public addresses may not be: the VPCs' IPv4 CIDRs and the internet segments.
struct PublicSpace {
    /// (VPC id, CIDR).
    vpc_cidrs: Vec<(String, Ipv4Net)>,
    /// (internet gateway, its `internet.cidr`).
    segments: Vec<(String, Ipv4Net)>,
    /// Public address → who holds it (`eipalloc-x.public_ip`).
    taken: HashMap<Ipv4Addr, String>,
}

impl PublicSpace {
    /// Checks that `res.field` = `ip` is usable as a public address and not taken yet.
    fn claim(&mut self, r: &mut Report, res: &str, field: &str, ip: Ipv4Addr) {
        if let Some(why) = non_public_ipv4_reason(ip) {
            r.err(
                res,
                field,
                format!("{ip} is {why}; a public IPv4 address must be a public unicast address"),
            );
        }
        if let Some((vpc, c)) = self.vpc_cidrs.iter().find(|(_, c)| c.contains(&ip)) {
            r.err(
                res,
                field,
                format!(
                    "{ip} is inside {vpc}'s CIDR {c}; a public address must be outside every VPC"
                ),
            );
        }
        if let Some((igw, c)) = self.segments.iter().find(|(_, c)| c.contains(&ip)) {
            r.err(
                res,
                field,
                format!("{ip} is inside {igw}'s internet.cidr {c}, the internet hosts' own segment; pick a public address outside it"),
            );
        }
        match self.taken.get(&ip) {
            Some(other) => r.err(
                res,
                field,
                format!(
                    "{ip} is already the public address of {other}; a public address is used once"
                ),
            ),
            None => {
                self.taken.insert(ip, format!("{res}.{field}"));
            }
        }
    }
}

/// Validates internet gateways (one per VPC, their internet side), Elastic IPs and the
/// ENIs' public IPs; normalises `internet.cidr`.
fn gateways(
    r: &mut Report,
    t: &mut Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    eni_idx: &HashMap<String, usize>,
) {
    let mut space = PublicSpace {
        vpc_cidrs: t
            .vpcs
            .iter()
            .flat_map(|v| v.ipv4_cidrs().map(move |c| (v.id.clone(), c)))
            .collect(),
        segments: Vec::new(),
        taken: HashMap::new(),
    };
    let mut eni_netns: HashMap<&str, &str> = HashMap::new();
    for e in &t.enis {
        if let Some(ns) = &e.netns {
            eni_netns.entry(ns.as_str()).or_insert(e.id.as_str());
        }
    }

    // Internet gateways.
    let mut igw_of_vpc: HashMap<usize, String> = HashMap::new();
    let mut internet_ns: HashMap<String, String> = HashMap::new();
    for (i, g) in t.internet_gateways.iter_mut().enumerate() {
        let res = r.label(&g.id, "internet_gateway", i);
        if let Some(vi) = check_vpc_ref(r, l.vpc, broken, &res, &g.vpc) {
            match igw_of_vpc.get(&vi) {
                Some(first) => r.err(
                    &res,
                    "vpc",
                    format!(
                        "{} already has an internet gateway ({first}); a VPC has at most one",
                        g.vpc
                    ),
                ),
                None => {
                    igw_of_vpc.insert(vi, res.clone());
                }
            }
        }
        let Some(inet) = g.internet.as_mut() else {
            continue;
        };
        r.normalise4(&mut inet.cidr, &res, "internet.cidr");
        let cidr = inet.cidr;
        let p = cidr.prefix_len();
        if !(MIN_INTERNET_PREFIX..=MAX_INTERNET_PREFIX).contains(&p) {
            r.err(
                &res,
                "internet.cidr",
                format!("{cidr}: prefix /{p} is outside the allowed range /{MIN_INTERNET_PREFIX} to /{MAX_INTERNET_PREFIX}"),
            );
        }
        if let Some((vpc, c)) = space
            .vpc_cidrs
            .iter()
            .find(|(_, c)| overlaps(IpNet::V4(cidr), IpNet::V4(*c)))
        {
            r.err(
                &res,
                "internet.cidr",
                format!("{cidr} overlaps {vpc}'s CIDR {c}; the internet segment must be outside every VPC"),
            );
        }
        space.segments.push((res.clone(), cidr));
        // An address of the segment that a namespace or the gateway may hold.
        let usable = |r: &mut Report, field: &str, ip: Ipv4Addr| -> bool {
            if !cidr.contains(&ip) {
                r.err(&res, field, format!("{ip} is outside internet.cidr {cidr}"));
            } else if ip == cidr.network() || ip == cidr.broadcast() {
                r.err(
                    &res,
                    field,
                    format!(
                        "{ip} is the {} address of {cidr}",
                        if ip == cidr.network() {
                            "network"
                        } else {
                            "broadcast"
                        }
                    ),
                );
            } else if let Some(why) = non_public_ipv4_reason(ip) {
                r.err(
                    &res,
                    field,
                    format!("{ip} is {why}; the internet side needs public addresses (the gateway drops private and shared sources and destinations)"),
                );
            } else {
                return true;
            }
            false
        };
        usable(r, "internet.gateway", inet.gateway);
        if inet.hosts.is_empty() {
            r.err(
                &res,
                "internet.hosts",
                format!("give at least one internet host address (inside {cidr}, not the gateway)"),
            );
        }
        let mut hosts: HashMap<Ipv4Addr, usize> = HashMap::new();
        for (k, &h) in inet.hosts.iter().enumerate() {
            let field = format!("internet.hosts[{k}]");
            if !usable(r, &field, h) {
                continue;
            }
            if h == inet.gateway {
                r.err(
                    &res,
                    &field,
                    format!("{h} is the gateway's own address (internet.gateway)"),
                );
            } else if let Some(j) = hosts.get(&h) {
                r.err(&res, &field, format!("{h} is already internet.hosts[{j}]"));
            } else {
                hosts.insert(h, k);
            }
        }
        if !(MIN_INTERNET_MTU..=MAX_INTERNET_MTU).contains(&inet.mtu) {
            r.err(
                &res,
                "internet.mtu",
                format!(
                    "{} is outside the allowed range {MIN_INTERNET_MTU}..={MAX_INTERNET_MTU} (an internet gateway forwards packets of up to 1500 bytes)",
                    inet.mtu
                ),
            );
        }
        if !is_valid_ifname(&inet.ifname) {
            r.err(
                &res,
                "internet.ifname",
                format!(
                    "`{}` is not a valid Linux interface name (1 to 15 characters, no `/`, `:` or whitespace, not `.` or `..`)",
                    inet.ifname
                ),
            );
        }
        let ns = &inet.netns;
        if !is_valid_netns_name(ns) {
            r.err(
                &res,
                "internet.netns",
                format!("`{ns}` is not a usable namespace name (1 to 64 of letters, digits, `-`, `_`, `.`; not `.` or `..`)"),
            );
        } else if let Some(eni) = eni_netns.get(ns.as_str()) {
            r.err(
                &res,
                "internet.netns",
                format!(
                    "`{ns}` is the namespace of {eni}; the internet needs a namespace of its own"
                ),
            );
        } else if let Some(other) = internet_ns.get(ns) {
            r.err(
                &res,
                "internet.netns",
                format!("`{ns}` is already the internet namespace of {other}; each internet gateway needs its own"),
            );
        } else {
            internet_ns.insert(ns.clone(), res.clone());
        }
    }

    // Public addresses are unreachable without an internet gateway in the ENI's VPC.
    let warn_unreachable = |r: &mut Report, ei: usize, what: String| {
        if let Some(vi) = l.eni_vpc.get(ei).copied().flatten() {
            if !igw_of_vpc.contains_key(&vi) {
                r.warnings.push(format!(
                    "{what}: {} has no internet gateway, so this public address is unreachable (as in AWS)",
                    t.vpcs[vi].id
                ));
            }
        }
    };

    // Elastic IPs.
    let mut assoc: HashMap<(usize, Ipv4Addr), String> = HashMap::new();
    for (i, e) in t.elastic_ips.iter().enumerate() {
        let res = r.label(&e.id, "elastic_ip", i);
        space.claim(r, &res, "public_ip", e.public_ip);
        let Some(eni) = &e.eni else {
            if e.private_ip.is_some() {
                r.err(
                    &res,
                    "private_ip",
                    "a private_ip needs an `eni` to associate the Elastic IP with",
                );
            }
            continue;
        };
        let Some(&ei) = eni_idx.get(eni) else {
            if !broken.contains(eni) {
                r.err(&res, "eni", format!("no ENI with id `{eni}`"));
            }
            continue;
        };
        let n = &t.enis[ei];
        let (private, field) = match e.private_ip {
            Some(p) if n.ipv4_addrs().any(|a| a == p) => (p, "private_ip"),
            Some(p) => {
                let own: Vec<String> = n.ipv4_addrs().map(|a| a.to_string()).collect();
                r.err(
                    &res,
                    "private_ip",
                    format!("{p} is not a private IPv4 of {eni} ({})", own.join(", ")),
                );
                continue;
            }
            None => (n.private_ip, "eni"),
        };
        match assoc.get(&(ei, private)) {
            Some(other) => r.err(
                &res,
                field,
                format!("{private} of {eni} already has Elastic IP {other}; a private address has at most one"),
            ),
            None => {
                assoc.insert((ei, private), res.clone());
            }
        }
        warn_unreachable(r, ei, format!("{res}.eni"));
    }

    // The ENIs' public IPs.
    for (i, n) in t.enis.iter().enumerate() {
        let Some(ip) = n.public_ip else {
            continue;
        };
        let res = r.label(&n.id, "eni", i);
        space.claim(r, &res, "public_ip", ip);
        if let Some(eip) = assoc.get(&(i, n.private_ip)) {
            r.err(
                &res,
                "public_ip",
                format!(
                    "the primary private IP {} also has Elastic IP {eip}; in AWS the Elastic IP replaces the public IP: remove `public_ip` or associate {eip} with another private IP",
                    n.private_ip
                ),
            );
        }
        warn_unreachable(r, i, format!("{res}.public_ip"));
    }
}

/// Validates NAT gateways: their subnet (which must exist and, for a public gateway, be in a
/// VPC with an internet gateway), their Elastic IPs (required when public, forbidden when
/// private, existing, one per address, each used once across NAT gateways and ENI
/// associations) and their addresses (inside the subnet, not reserved, at most 8, not held
/// by an ENI or another NAT gateway: claimed in `ips` after the ENIs). Warns when a public
/// gateway's subnet has no route to an internet gateway, when it has more Elastic IPs than
/// AWS's default quota, and when the gateway's own subnet routes to it.
fn nat_gateways(
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
    for (i, n) in t.nat_gateways.iter().enumerate() {
        let res = r.label(&n.id, "nat_gateway", i);
        let public = n.connectivity == NatConnectivity::Public;

        // Elastic IPs.
        match (&n.allocation_id, public) {
            (None, true) => r.err(
                &res,
                "allocation_id",
                "a public NAT gateway needs an Elastic IP: set allocation_id = \"eipalloc-…\" (or connectivity = \"private\")",
            ),
            (Some(_), false) => r.err(
                &res,
                "allocation_id",
                "a private NAT gateway has no Elastic IP; remove allocation_id or set connectivity = \"public\"",
            ),
            _ => {}
        }
        if !public && !n.secondary_allocation_ids.is_empty() {
            r.err(
                &res,
                "secondary_allocation_ids",
                "a private NAT gateway has no Elastic IPs; remove secondary_allocation_ids",
            );
        }
        if public && n.secondary_allocation_ids.len() != n.secondary_private_ips.len() {
            r.err(
                &res,
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
                        r.err(&res, &field, format!("no Elastic IP with id `{alloc}`"));
                    }
                    continue;
                }
                match eip_user.get(alloc.as_str()) {
                    Some(other) => r.err(
                        &res,
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

        // Addresses.
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
                    &res,
                    &field,
                    format!("{ip} is outside {} ({})", s.id, s.cidr),
                );
            } else if let Some(why) = reserved_ipv4_reason(s.cidr, ip) {
                r.err(
                    &res,
                    &field,
                    format!("{ip} is {why}; it cannot be assigned to a NAT gateway"),
                );
            }
            if let Some(vi) = vpc {
                claim(r, ips, vi, IpAddr::V4(ip), &res, &field);
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
                        claim(r, ips, vi, IpAddr::V4(ip), &res, "private_ip");
                    }
                }
                None => r.err(
                    &res,
                    "private_ip",
                    format!(
                        "{} ({}) has no free address left to assign; free one or set private_ip",
                        s.id, s.cidr
                    ),
                ),
            }
        }

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
}

/// What validation knows of the declared peering connections (first occurrence wins;
/// duplicates are reported).
#[derive(Debug, Default)]
struct PeeringLookup {
    /// By id: the requester and accepter VPCs (when they resolve) and whether it is active.
    by_id: HashMap<String, ([Option<usize>; 2], bool)>,
    /// By VPC pair (lower index first): the peering's id and whether it is active.
    by_pair: HashMap<(usize, usize), (String, bool)>,
}

impl PeeringLookup {
    /// The peering connection between VPCs `a` and `b` (either direction): its id and
    /// whether it is active.
    fn between(&self, a: usize, b: usize) -> Option<(&str, bool)> {
        self.by_pair
            .get(&(a.min(b), a.max(b)))
            .map(|(id, active)| (id.as_str(), *active))
    }
}

/// Validates VPC peering connections: both VPCs exist and differ, their CIDRs (every IPv4
/// block, primary or secondary, and the IPv6 block) do not overlap, and at most one
/// peering joins a pair of VPCs (in either direction). Runs after the VPCs' CIDRs are
/// normalised.
fn peering_connections(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    vpc_idx: &HashMap<String, usize>,
) -> PeeringLookup {
    let mut out = PeeringLookup::default();
    for (i, p) in t.peering_connections.iter().enumerate() {
        let res = r.label(&p.id, "peering_connection", i);
        let mut side = |field: &str, role: &str, vpc: &str| -> Option<usize> {
            if vpc.is_empty() {
                r.err(
                    &res,
                    field,
                    format!("missing {field}; name the `vpc-…` that {role} the peering"),
                );
                return None;
            }
            let found = vpc_idx.get(vpc).copied();
            if found.is_none() && !broken.contains(vpc) {
                r.err(&res, field, format!("no VPC with id `{vpc}`"));
            }
            found
        };
        let requester = side("requester_vpc", "requests", &p.requester_vpc);
        let accepter = side("accepter_vpc", "accepts", &p.accepter_vpc);
        if !p.id.is_empty() {
            out.by_id
                .entry(p.id.clone())
                .or_insert(([requester, accepter], p.is_active()));
        }
        let (Some(a), Some(b)) = (requester, accepter) else {
            continue;
        };
        if a == b {
            r.err(
                &res,
                "accepter_vpc",
                format!(
                    "{} is also the requester_vpc; a peering connection joins two different VPCs",
                    p.accepter_vpc
                ),
            );
            continue;
        }
        let (va, vb) = (&t.vpcs[a], &t.vpcs[b]);
        for cb in vb.all_cidrs() {
            for ca in va.all_cidrs() {
                if overlaps(ca, cb) {
                    r.err(
                        &res,
                        "accepter_vpc",
                        format!(
                            "{cb} of {} overlaps {ca} of {}; VPCs whose CIDRs overlap (any IPv4 block, primary or secondary, or the IPv6 block) cannot be peered",
                            vb.id, va.id
                        ),
                    );
                }
            }
        }
        match out.by_pair.get(&(a.min(b), a.max(b))) {
            Some((first, _)) => r.err(
                &res,
                "accepter_vpc",
                format!(
                    "{} and {} are already peered by {first}; only one peering connection may join two VPCs (in either direction)",
                    va.id, vb.id
                ),
            ),
            None => {
                out.by_pair
                    .insert((a.min(b), a.max(b)), (res.clone(), p.is_active()));
            }
        }
    }
    out
}

/// Reports a route target `id` of another VPC than the route table's: `vpcs` = (the
/// target's, the table's) indices, `words` = (how the target relates to its VPC, what it
/// is) for the message.
fn own_vpc_target(
    r: &mut Report,
    all: &[crate::model::Vpc],
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

/// Checks a route whose target is peering connection `id` (`at` = resource and field of
/// the target): the peering joins the table's VPC (`vpc`) to another. A `pcx-…` id that
/// the file does not declare (a deleted peering) and a pending peering are accepted with a
/// warning (the route is a blackhole); so is a destination that holds none of the peer
/// VPC's addresses (the peering carries only traffic to the peer's own CIDRs).
#[allow(clippy::too_many_arguments)]
fn peering_route(
    r: &mut Report,
    vpcs: &[Vpc],
    peerings: &PeeringLookup,
    broken: &HashSet<String>,
    vpc: Option<usize>,
    at: (&str, &str),
    dest: IpNet,
    id: &str,
) {
    let (res, field) = at;
    let Some(&(ends, active)) = peerings.by_id.get(id) else {
        if !broken.contains(id) {
            r.warnings.push(format!(
                "{res}.{field}: {id} does not exist (deleted?): the route is a blackhole"
            ));
        }
        return;
    };
    if let ([Some(a), Some(b)], Some(tv)) = (ends, vpc) {
        if tv != a && tv != b {
            r.err(
                res,
                field,
                format!(
                    "{id} joins {} and {}, but this route table belongs to {}; a route can only target a peering connection of its own VPC",
                    vpcs[a].id, vpcs[b].id, vpcs[tv].id
                ),
            );
        } else if a != b {
            let peer = &vpcs[if tv == a { b } else { a }];
            let cidrs = peer.all_cidrs();
            if !cidrs.iter().any(|c| overlaps(*c, dest)) {
                r.warnings.push(format!(
                    "{res}.{field}: {dest} holds no address of {} ({}): {id} carries only traffic to the peer VPC's own CIDRs, so what this route catches is dropped",
                    peer.id,
                    cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    if !active {
        r.warnings.push(format!(
            "{res}.{field}: {id} is pending-acceptance: the route is a blackhole until it is accepted (status = \"active\")"
        ));
    }
}

/// Validates flow logs (see the module documentation) and `[lab] flow_log_interval`.
fn flow_logs(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    eni_idx: &HashMap<String, usize>,
) {
    use crate::model::FlowLogScope;
    if let Some(secs) = t.lab.as_ref().and_then(|lab| lab.flow_log_interval) {
        if !(secs > 0.0 && secs.is_finite()) {
            r.err(
                "lab",
                "flow_log_interval",
                format!("{secs} must be a number of seconds greater than 0 (it replaces every flow log's max_aggregation_interval)"),
            );
        }
    }
    // The first flow log writing each file (by path, compared component-wise).
    let mut files: Vec<(&std::path::Path, String)> = Vec::new();
    for (i, f) in t.flow_logs.iter().enumerate() {
        let res = r.label(&f.id, "flow_log", i);
        // --- resource: an ENI, a subnet or a VPC; a scope without ENIs logs nothing ----
        let (kind, covered) = match f.scope() {
            _ if f.resource.is_empty() => {
                r.err(
                    &res,
                    "resource",
                    "missing resource; name the `eni-…`, `subnet-…` or `vpc-…` whose traffic it logs",
                );
                ("", None)
            }
            FlowLogScope::Eni(id) => ("ENI", eni_idx.get(id).map(|_| 1)),
            FlowLogScope::Subnet(id) => (
                "subnet",
                l.subnet
                    .get(id)
                    .map(|_| t.enis.iter().filter(|e| e.subnet == id).count()),
            ),
            FlowLogScope::Vpc(id) => (
                "VPC",
                l.vpc.get(id).map(|&vi| {
                    t.enis
                        .iter()
                        .enumerate()
                        .filter(|&(ei, _)| l.eni_vpc.get(ei).copied().flatten() == Some(vi))
                        .count()
                }),
            ),
            FlowLogScope::Other(id) => {
                r.err(
                    &res,
                    "resource",
                    format!("`{id}` is not an ENI, a subnet or a VPC; a flow log covers an ENI (`eni-…`), every ENI of a subnet (`subnet-…`) or every ENI of a VPC (`vpc-…`)"),
                );
                ("", None)
            }
        };
        match covered {
            None if !kind.is_empty() && !broken.contains(&f.resource) => r.err(
                &res,
                "resource",
                format!("no {kind} with id `{}`", f.resource),
            ),
            Some(0) => r.warnings.push(format!(
                "{res}.resource: {} has no ENIs: the flow log writes nothing",
                f.resource
            )),
            _ => {}
        }
        // --- traffic type and interval -------------------------------------------------
        if f.traffic_type.is_none() {
            r.err(
                &res,
                "traffic_type",
                "missing traffic_type; one of ALL, ACCEPT or REJECT",
            );
        }
        if !matches!(f.max_aggregation_interval, 60 | 600) {
            r.err(
                &res,
                "max_aggregation_interval",
                format!(
                    "{}: the maximum aggregation interval is 60 or 600 seconds (as in AWS); [lab] flow_log_interval sets a shorter one for tests",
                    f.max_aggregation_interval
                ),
            );
        }
        // --- destination: an absolute path to a file in an existing directory ----------
        let dest = std::path::Path::new(&f.log_destination);
        if f.log_destination.is_empty() {
            r.err(
                &res,
                "log_destination",
                "missing log_destination; give the absolute path of the file to append the records to",
            );
        } else if !dest.is_absolute() {
            r.err(
                &res,
                "log_destination",
                format!(
                    "`{}` is not an absolute path; vpcd writes the file, so give it in full (e.g. /var/log/vpc/flow.log)",
                    f.log_destination
                ),
            );
        } else if dest.is_dir() {
            r.err(
                &res,
                "log_destination",
                format!(
                    "{} is a directory; give the path of a file in it",
                    f.log_destination
                ),
            );
        } else {
            match dest.parent() {
                Some(dir) if dir.is_dir() => {
                    match files.iter().find(|(p, _)| *p == dest) {
                        Some((_, first)) => r.warnings.push(format!(
                            "{res}.log_destination: {} is also the destination of {first}: their records are interleaved in one file",
                            f.log_destination
                        )),
                        None => files.push((dest, res.clone())),
                    }
                }
                Some(dir) => r.err(
                    &res,
                    "log_destination",
                    format!(
                        "the directory {} does not exist (vpcd creates the file, not its directory)",
                        dir.display()
                    ),
                ),
                None => r.err(
                    &res,
                    "log_destination",
                    format!("`{}` names no file", f.log_destination),
                ),
            }
        }
        // --- format: `${field}` tokens separated by spaces, known, each once -----------
        if let Some(tokens) = f.format_tokens() {
            if tokens.is_empty() {
                r.err(
                    &res,
                    "log_format",
                    "empty; leave log_format out for the default format (the version 2 fields)",
                );
            }
            let mut seen: HashSet<&str> = HashSet::new();
            for (k, (token, name)) in tokens.iter().enumerate() {
                let Some(name) = name else {
                    r.err(
                        &res,
                        "log_format",
                        format!("token {k} `{token}` is not of the form `${{field}}`; write each field as `${{name}}`, separated by spaces"),
                    );
                    continue;
                };
                if !dataplane::observe::flowlog::FIELDS
                    .iter()
                    .any(|(n, _)| n == name)
                {
                    r.err(
                        &res,
                        "log_format",
                        format!(
                            "unknown field `{name}`; the fields are {}",
                            dataplane::observe::flowlog::FIELDS
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                } else if !seen.insert(name) {
                    r.err(
                        &res,
                        "log_format",
                        format!("`${{{name}}}` appears more than once; give each field once"),
                    );
                }
            }
        }
    }
}

/// Resolves a `vpc = "…"` reference, reporting it when missing or dangling.
fn check_vpc_ref(
    r: &mut Report,
    vpc_idx: &HashMap<String, usize>,
    broken: &HashSet<String>,
    res: &str,
    vpc: &str,
) -> Option<usize> {
    if vpc.is_empty() {
        r.err(res, "vpc", "missing vpc; name the `vpc-…` this belongs to");
        return None;
    }
    let found = vpc_idx.get(vpc).copied();
    if found.is_none() && !broken.contains(vpc) {
        r.err(res, "vpc", format!("no VPC with id `{vpc}`"));
    }
    found
}

/// Records that `res.field` holds `ip` in VPC `vpc`, reporting a duplicate.
fn claim(
    r: &mut Report,
    ips: &mut HashMap<(usize, IpAddr), String>,
    vpc: usize,
    ip: IpAddr,
    res: &str,
    field: &str,
) {
    let owner = format!("{res}.{field}");
    match ips.get(&(vpc, ip)) {
        Some(other) => r.err(
            res,
            field,
            format!("{ip} is already assigned to {other}; an address is used once per VPC"),
        ),
        None => {
            ips.insert((vpc, ip), owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
    "#;

    fn check_str(src: &str) -> Result<(Topology, Vec<String>), Vec<String>> {
        check(src).map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
    }

    /// The errors of `BASE + extra`, as displayed.
    fn errors(extra: &str) -> Vec<String> {
        match check_str(&format!("{BASE}\n{extra}")) {
            Ok(_) => vec![],
            Err(e) => e,
        }
    }

    fn ok(extra: &str) -> (Topology, Vec<String>) {
        match check_str(&format!("{BASE}\n{extra}")) {
            Ok(v) => v,
            Err(e) => panic!("unexpected errors:\n{}", e.join("\n")),
        }
    }

    #[track_caller]
    fn expect(extra: &str, prefix: &str, needle: &str) {
        let errs = errors(extra);
        assert!(
            errs.iter()
                .any(|e| e.starts_with(prefix) && e.contains(needle)),
            "expected an error `{prefix}…{needle}…`, got:\n{}",
            errs.join("\n")
        );
    }

    fn eni(id: &str, ip: &str) -> String {
        format!("[[eni]]\nid = \"{id}\"\nsubnet = \"subnet-a\"\nprivate_ip = \"{ip}\"\n")
    }

    #[test]
    fn base_is_valid() {
        let (t, w) = ok("");
        assert_eq!(t.vpcs.len(), 1);
        assert!(w.is_empty());
    }

    #[test]
    fn syntax_error_is_one_file_error_with_position() {
        let e = check("[[vpc]\nid = 1").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e.0[0].resource, "file");
        assert!(e.0[0].message.starts_with("line 1, column"), "{}", e.0[0]);
    }

    #[test]
    fn unknown_fields_and_kinds_are_errors() {
        expect(
            "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\nsrc_dst_check = false\n",
            "eni-a.src_dst_check:",
            "unknown field",
        );
        expect(
            "[[vpcs]]\nid = \"vpc-x\"\n",
            "file.vpcs:",
            "unknown resource kind",
        );
    }

    #[test]
    fn bad_values_name_resource_and_field() {
        expect(
            "[[route_table]]\nid = \"rtb-a\"\nvpc = \"vpc-demo\"\nroutes = [{ destination = \"10.0.0.0/16\", target = \"local\" }, { destination = \"nope\", target = \"blackhole\" }]\n",
            "rtb-a.routes[1].destination:",
            "invalid",
        );
        expect(&eni("eni-a", "10.0.1.300"), "eni-a.private_ip:", "line ");
    }

    #[test]
    fn every_error_of_the_file_is_reported() {
        let src = format!(
            "{BASE}\n{}\n{}\n[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/8\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.0.0/29\"\nbogus = 1\n",
            eni("eni-a", "10.0.1.1"),
            eni("eni-b", "10.0.1.255"),
        );
        let e = check(&src).unwrap_err();
        let text = e.to_string();
        assert_eq!(text.lines().count(), e.len());
        for needle in [
            "eni-a.private_ip",
            "eni-b.private_ip",
            "vpc-b.cidr",
            "subnet-b.bogus",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn display_formats() {
        let e = ValidationError::new("subnet-a", "cidr", "bad");
        assert_eq!(e.to_string(), "subnet-a.cidr: bad");
        assert_eq!(ValidationError::new("file", "", "x").to_string(), "file: x");
        let all = ValidationErrors(vec![e.clone(), e]);
        assert_eq!(all.to_string(), "subnet-a.cidr: bad\nsubnet-a.cidr: bad");
    }

    #[test]
    fn missing_id_is_named_by_kind_and_file_index() {
        let errs = check_str(
            "[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\n[[vpc]]\nid = \"vpc-b\"\ncidr = \"x\"\n[[vpc]]\ncidr = \"10.1.0.0/16\"\n",
        )
        .unwrap_err();
        assert!(
            errs.iter().any(|e| e.starts_with("vpc[2].id: missing id")),
            "{errs:?}"
        );
    }

    #[test]
    fn scenario_2_cidr_bounds() {
        // VPC /15 → error; /16 ok.
        let e = check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/15\"\n").unwrap_err();
        assert!(
            e[0].starts_with("vpc-x.cidr:") && e[0].contains("/16 to /28"),
            "{e:?}"
        );
        check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n").unwrap();
        // Subnet /29 → error; /28 ok.
        expect(
            "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/29\"\n",
            "subnet-b.cidr:",
            "/16 to /28",
        );
        ok("[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/28\"\n");
        // Overlapping subnet → error.
        expect(
            "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.1.128/25\"\n",
            "subnet-b.cidr:",
            "overlaps subnet-a",
        );
        // 10.0.1.7/24 is stored as 10.0.1.0/24.
        let (t, w) = check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.1.7/24\"\n",
        )
        .unwrap();
        assert_eq!(t.subnets[0].cidr.to_string(), "10.0.1.0/24");
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("subnet-x.cidr:"), "{w:?}");
    }

    #[test]
    fn vpc_prefix_too_long() {
        let e = check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/29\"\n").unwrap_err();
        assert!(e[0].starts_with("vpc-x.cidr:"), "{e:?}");
    }

    #[test]
    fn ipv6_sizes() {
        let e = check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00::/48\"\n",
        )
        .unwrap_err();
        assert!(
            e[0].starts_with("vpc-x.ipv6_cidr:") && e[0].contains("/56"),
            "{e:?}"
        );
        let e = check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/24\"\nipv6_cidr = \"2600:1f18:aa00:100::/60\"\n",
        )
        .unwrap_err();
        assert!(
            e[0].starts_with("subnet-x.ipv6_cidr:") && e[0].contains("/64"),
            "{e:?}"
        );
    }

    #[test]
    fn subnet_ipv6_must_fit_the_vpc() {
        expect(
            "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/24\"\nipv6_cidr = \"2600:1f18:aa00:100::/64\"\n",
            "subnet-b.ipv6_cidr:",
            "has no ipv6_cidr",
        );
        let e = check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/24\"\nipv6_cidr = \"2600:1f18:bb00:100::/64\"\n",
        )
        .unwrap_err();
        assert!(e[0].contains("is not inside"), "{e:?}");
    }

    #[test]
    fn host_bits_are_normalised_with_warnings() {
        let (t, w) = check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.3.4/16\"\nipv6_cidr = \"2600:1f18:aa00:1ff::/56\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-x\"\nroutes = [{ destination = \"0.0.0.1/0\", target = \"blackhole\" }]\n",
        )
        .unwrap();
        assert_eq!(t.vpcs[0].cidr.to_string(), "10.0.0.0/16");
        assert_eq!(
            t.vpcs[0].ipv6_cidr.unwrap().to_string(),
            "2600:1f18:aa00:100::/56"
        );
        assert_eq!(
            t.route_tables[0].routes[0].destination.to_string(),
            "0.0.0.0/0"
        );
        assert!(w.iter().any(|w| w.starts_with("vpc-x.cidr:")));
        assert!(w.iter().any(|w| w.starts_with("vpc-x.ipv6_cidr:")));
        assert!(w
            .iter()
            .any(|w| w.starts_with("rtb-x.routes[0].destination:")));
    }

    #[test]
    fn link_local_vpc_cidr_is_rejected() {
        let e = check_str("[[vpc]]\nid = \"vpc-x\"\ncidr = \"169.254.0.0/16\"\n").unwrap_err();
        assert!(
            e[0].starts_with("vpc-x.cidr:") && e[0].contains("link-local"),
            "{e:?}"
        );
        let e = check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"169.254.10.0/24\"]\n",
        )
        .unwrap_err();
        assert!(e[0].starts_with("vpc-x.secondary_cidrs[0]:"), "{e:?}");
    }

    #[test]
    fn secondary_cidrs_must_not_overlap() {
        let e = check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"10.0.128.0/17\", \"10.1.0.0/16\", \"10.1.2.0/24\", \"10.2.0.0/30\"]\n",
        )
        .unwrap_err();
        assert!(
            e.iter()
                .any(|e| e.starts_with("vpc-x.secondary_cidrs[0]:") && e.contains("primary")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.starts_with("vpc-x.secondary_cidrs[2]:")
                    && e.contains("secondary_cidrs[1]")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.starts_with("vpc-x.secondary_cidrs[3]:") && e.contains("/16 to /28")),
            "{e:?}"
        );
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn subnet_must_be_inside_a_vpc_cidr() {
        expect(
            "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.1.0.0/24\"\n",
            "subnet-b.cidr:",
            "not inside any IPv4 CIDR of vpc-demo",
        );
        // In a secondary CIDR, or equal to the VPC CIDR: fine.
        check_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"10.1.0.0/16\"]\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.1.5.0/24\"\n[[subnet]]\nid = \"subnet-y\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n",
        )
        .unwrap();
    }

    #[test]
    fn subnets_of_different_vpcs_may_overlap() {
        ok("[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n");
    }

    #[test]
    fn eni_ip_outside_subnet() {
        expect(
            &eni("eni-a", "10.0.2.10"),
            "eni-a.private_ip:",
            "outside subnet-a",
        );
        let src = format!(
            "{}secondary_ips = [\"10.0.1.11\", \"10.0.9.9\"]\n",
            eni("eni-a", "10.0.1.10")
        );
        expect(&src, "eni-a.secondary_ips[1]:", "outside subnet-a");
    }

    #[test]
    fn scenario_1_reserved_addresses() {
        for (ip, why) in [
            ("10.0.1.0", "network address"),
            ("10.0.1.1", "VPC router"),
            ("10.0.1.2", "Amazon DNS"),
            ("10.0.1.3", "future use"),
            ("10.0.1.255", "broadcast"),
        ] {
            expect(&eni("eni-a", ip), "eni-a.private_ip:", why);
        }
        ok(&format!(
            "{}{}",
            eni("eni-a", "10.0.1.4"),
            eni("eni-b", "10.0.1.254")
        ));
        // A /28 has exactly 11 assignable addresses.
        let net: Ipv4Net = "10.0.2.16/28".parse().unwrap();
        assert_eq!(assignable_ipv4(net).count(), 11);
        // …and the validator agrees: 16 ENIs, one per address, give 5 errors.
        let mut src = String::from(
            "[[subnet]]\nid = \"subnet-s\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.16/28\"\n",
        );
        for (i, ip) in net
            .hosts()
            .chain([net.network(), net.broadcast()])
            .enumerate()
        {
            src.push_str(&format!(
                "[[eni]]\nid = \"eni-{i}\"\nsubnet = \"subnet-s\"\nprivate_ip = \"{ip}\"\n"
            ));
        }
        assert_eq!(errors(&src).len(), 5, "{:?}", errors(&src));
    }

    #[test]
    fn ipv6_reserved_addresses() {
        let net: Ipv6Net = "2600:1f18:aa00:101::/64".parse().unwrap();
        for ip in [
            "2600:1f18:aa00:101::",
            "2600:1f18:aa00:101::1",
            "2600:1f18:aa00:101::3",
            "2600:1f18:aa00:101:ffff:ffff:ffff:ffff",
        ] {
            assert!(
                reserved_ipv6_reason(net, ip.parse().unwrap()).is_some(),
                "{ip}"
            );
        }
        assert!(reserved_ipv6_reason(net, "2600:1f18:aa00:101::4".parse().unwrap()).is_none());
        let src = "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[subnet]]\nid = \"subnet-x\"\nvpc = \"vpc-x\"\ncidr = \"10.0.0.0/24\"\nipv6_cidr = \"2600:1f18:aa00:101::/64\"\n[[eni]]\nid = \"eni-x\"\nsubnet = \"subnet-x\"\nprivate_ip = \"10.0.0.10\"\nipv6_ips = [\"2600:1f18:aa00:101::1\", \"2600:1f18:aa00:101::10\", \"2600:1f18:aa00:102::10\"]\n";
        let e = check_str(src).unwrap_err();
        assert!(
            e.iter()
                .any(|e| e.starts_with("eni-x.ipv6_ips[0]:") && e.contains("router")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.starts_with("eni-x.ipv6_ips[2]:") && e.contains("outside")),
            "{e:?}"
        );
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn duplicate_ips_within_a_vpc() {
        expect(
            &format!("{}{}", eni("eni-a", "10.0.1.10"), eni("eni-b", "10.0.1.10")),
            "eni-b.private_ip:",
            "already assigned to eni-a.private_ip",
        );
        expect(
            &format!(
                "{}secondary_ips = [\"10.0.1.10\"]\n",
                eni("eni-a", "10.0.1.10")
            ),
            "eni-a.secondary_ips[0]:",
            "already assigned to eni-a.private_ip",
        );
        // The same address in another VPC is fine.
        ok(&format!(
            "{}[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.0.1.10\"\n",
            eni("eni-a", "10.0.1.10")
        ));
    }

    #[test]
    fn duplicate_macs_across_the_file() {
        let a = format!("{}mac = \"02:00:00:00:00:01\"\n", eni("eni-a", "10.0.1.10"));
        let b = format!("{}mac = \"02:00:00:00:00:01\"\n", eni("eni-b", "10.0.1.11"));
        expect(&format!("{a}{b}"), "eni-b.mac:", "already used by eni-a");
        // An explicit MAC equal to another ENI's generated one.
        let generated = crate::names::eni_mac("eni-a");
        let b = format!("{}mac = \"{generated}\"\n", eni("eni-b", "10.0.1.11"));
        expect(
            &format!("{}{b}", eni("eni-a", "10.0.1.10")),
            "eni-b.mac:",
            "already used by eni-a",
        );
        // An explicit MAC equal to a subnet router's.
        let router = crate::names::router_mac("subnet-a");
        let b = format!("{}mac = \"{router}\"\n", eni("eni-b", "10.0.1.11"));
        expect(&b, "eni-b.mac:", "router of subnet-a");
    }

    #[test]
    fn group_macs_are_rejected() {
        expect(
            &format!("{}mac = \"01:00:5e:00:00:01\"\n", eni("eni-a", "10.0.1.10")),
            "eni-a.mac:",
            "multicast",
        );
        expect(
            &format!("{}mac = \"ff:ff:ff:ff:ff:ff\"\n", eni("eni-a", "10.0.1.10")),
            "eni-a.mac:",
            "broadcast",
        );
    }

    #[test]
    fn netns_ifname_pairs_are_unique() {
        let a = format!("{}netns = \"ns-1\"\n", eni("eni-a", "10.0.1.10"));
        let b = format!("{}netns = \"ns-1\"\n", eni("eni-b", "10.0.1.11"));
        expect(&format!("{a}{b}"), "eni-b.ifname:", "already used by eni-a");
        let c = format!(
            "{}netns = \"ns-1\"\nifname = \"eth1\"\n",
            eni("eni-c", "10.0.1.12")
        );
        ok(&format!("{a}{c}"));
        // Unattached ENIs never clash.
        ok(&format!(
            "{}{}",
            eni("eni-a", "10.0.1.10"),
            eni("eni-b", "10.0.1.11")
        ));
        expect(
            &format!("{}netns = \"../etc\"\n", eni("eni-a", "10.0.1.10")),
            "eni-a.netns:",
            "namespace name",
        );
    }

    #[test]
    fn duplicate_ids_across_kinds() {
        expect(
            "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\n",
            "rtb-x.id:",
            "route_table[1] reuses the id of route_table[0]",
        );
        // Same id under different kinds (wrong prefix too, but the duplicate is reported).
        expect(
            "[[eni]]\nid = \"subnet-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\n",
            "subnet-a.id:",
            "eni[0] reuses the id of subnet[0]",
        );
    }

    #[test]
    fn ids_carry_their_kind_prefix() {
        expect(
            "[[route_table]]\nid = \"rt-x\"\nvpc = \"vpc-demo\"\n",
            "rt-x.id:",
            "must start with `rtb-`",
        );
        expect(
            &eni("nic-a", "10.0.1.10"),
            "nic-a.id:",
            "must start with `eni-`",
        );
        expect(&eni("eni-", "10.0.1.10"), "eni-.id:", "followed by");
        let e = check_str("[[vpc]]\nid = \"demo\"\ncidr = \"10.0.0.0/16\"\n").unwrap_err();
        assert!(e[0].contains("must start with `vpc-`"), "{e:?}");
    }

    #[test]
    fn dangling_references() {
        expect(
            "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-nope\"\ncidr = \"10.0.2.0/24\"\n",
            "subnet-b.vpc:",
            "no VPC",
        );
        expect("[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/24\"\nroute_table = \"rtb-nope\"\n", "subnet-b.route_table:", "no route table");
        expect(
            "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-nope\"\n",
            "rtb-x.vpc:",
            "no VPC",
        );
        expect(
            "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-nope\"\nprivate_ip = \"10.0.1.10\"\n",
            "eni-a.subnet:",
            "no subnet",
        );
        expect(
            "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{ destination = \"0.0.0.0/0\", target = \"eni-nope\" }]\n",
            "rtb-x.routes[0].target:",
            "no ENI",
        );
        expect(
            "[[route_table]]\nid = \"rtb-x\"\n",
            "rtb-x.vpc:",
            "missing vpc",
        );
    }

    #[test]
    fn references_across_vpcs() {
        let other = "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n[[route_table]]\nid = \"rtb-b\"\nvpc = \"vpc-b\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.1.1.0/24\"\n[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.1.1.10\"\n";
        expect(
            &format!("{other}[[subnet]]\nid = \"subnet-c\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.3.0/24\"\nroute_table = \"rtb-b\"\n"),
            "subnet-c.route_table:",
            "rtb-b belongs to vpc-b",
        );
        expect(
            &format!("{other}[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{{ destination = \"0.0.0.0/0\", target = \"eni-b\" }}]\n"),
            "rtb-x.routes[0].target:",
            "eni-b is in vpc-b",
        );
    }

    #[test]
    fn duplicate_destinations_in_one_table() {
        expect(
            "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{ destination = \"0.0.0.0/0\", target = \"blackhole\" }, { destination = \"0.0.0.1/0\", target = \"blackhole\" }]\n",
            "rtb-x.routes[1].destination:",
            "already the destination of routes[0]",
        );
    }

    const FW: &str = "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/24\"\n[[subnet]]\nid = \"subnet-fw\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.3.0/24\"\n[[eni]]\nid = \"eni-fw\"\nsubnet = \"subnet-fw\"\nprivate_ip = \"10.0.3.10\"\nsource_dest_check = false\n";

    fn rtb(routes: &str) -> String {
        format!("{FW}[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{routes}]\n")
    }

    #[test]
    fn scenario_10_routes_more_specific_than_local() {
        ok(&rtb(
            r#"{ destination = "10.0.2.0/24", target = "eni-fw" }"#,
        ));
        expect(
            &rtb(r#"{ destination = "10.0.2.0/25", target = "eni-fw" }"#),
            "rtb-x.routes[0].destination:",
            "must equal the entire CIDR of a subnet",
        );
        expect(
            &rtb(r#"{ destination = "10.0.2.0/24", target = "blackhole" }"#),
            "rtb-x.routes[0].target:",
            "must target an ENI",
        );
    }

    #[test]
    fn vpc_cidr_route_replaces_local_with_an_eni_only() {
        ok(&rtb(
            r#"{ destination = "10.0.0.0/16", target = "eni-fw" }"#,
        ));
        ok(&rtb(r#"{ destination = "10.0.0.0/16", target = "local" }"#));
        expect(
            &rtb(r#"{ destination = "10.0.0.0/16", target = "blackhole" }"#),
            "rtb-x.routes[0].target:",
            "only be replaced with an ENI",
        );
    }

    #[test]
    fn local_target_only_for_a_vpc_cidr() {
        expect(
            &rtb(r#"{ destination = "0.0.0.0/0", target = "local" }"#),
            "rtb-x.routes[0].target:",
            "`local` is only allowed",
        );
        expect(
            &rtb(r#"{ destination = "10.0.2.0/24", target = "local" }"#),
            "rtb-x.routes[0].target:",
            "`local` is only allowed",
        );
    }

    #[test]
    fn link_local_service_routes_are_rejected() {
        for d in ["169.254.168.0/22", "169.254.169.0/24", "fd00:ec2::/40"] {
            expect(
                &rtb(&format!(
                    "{{ destination = \"{d}\", target = \"blackhole\" }}"
                )),
                "rtb-x.routes[0].destination:",
                "reserved for AWS services",
            );
        }
        // A larger overlapping route is allowed.
        ok(&rtb(
            r#"{ destination = "169.254.0.0/16", target = "blackhole" }"#,
        ));
    }

    #[test]
    fn ipv6_route_in_ipv4_only_vpc_is_accepted() {
        let (_, w) = ok(&rtb(r#"{ destination = "::/0", target = "eni-fw" }"#));
        assert!(w.is_empty());
    }

    #[test]
    fn unsupported_and_unknown_targets() {
        expect(
            &rtb(r#"{ destination = "0.0.0.0/0", target = "tgw-1" }"#),
            "rtb-x.routes[0].target:",
            "not supported yet",
        );
        expect(
            &rtb(r#"{ destination = "0.0.0.0/0", target = "router" }"#),
            "rtb-x.routes[0].target:",
            "unknown target",
        );
    }

    #[test]
    fn one_main_table_per_vpc() {
        expect(
            "[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nmain = true\n[[route_table]]\nid = \"rtb-y\"\nvpc = \"vpc-demo\"\nmain = true\n",
            "rtb-y.main:",
            "already has a main route table (rtb-x)",
        );
    }

    #[test]
    fn vpc_without_subnets_is_fine() {
        check_str("[[vpc]]\nid = \"vpc-empty\"\ncidr = \"10.9.0.0/16\"\n").unwrap();
    }

    #[test]
    fn implicit_main_id_must_be_free() {
        expect(
            "[[route_table]]\nid = \"rtb-main-demo\"\nvpc = \"vpc-demo\"\n",
            "vpc-demo:",
            "is taken",
        );
    }

    #[test]
    fn mtu_bounds() {
        for (mtu, good) in [
            (575, false),
            (576, true),
            (1500, true),
            (9001, true),
            (9002, false),
        ] {
            let src = format!("{}mtu = {mtu}\n", eni("eni-a", "10.0.1.10"));
            if good {
                ok(&src);
            } else {
                expect(&src, "eni-a.mtu:", "576..=9001");
            }
        }
    }

    #[test]
    fn ifname_must_be_a_linux_name() {
        for bad in ["", "sixteen-chars-xx", "a b", "a/b", "a:b", ".", ".."] {
            assert!(!is_valid_ifname(bad), "{bad:?}");
            expect(
                &format!("{}ifname = \"{bad}\"\n", eni("eni-a", "10.0.1.10")),
                "eni-a.ifname:",
                "not a valid Linux interface name",
            );
        }
        assert!(is_valid_ifname("eth0") && is_valid_ifname("fifteen-chars-x"));
    }

    #[test]
    fn references_to_unparseable_resources_are_not_dangling() {
        let src = format!(
            "{BASE}\n[[eni]]\nid = \"eni-fw\"\nsubnet = \"subnet-a\"\nprivate_ip = \"bad\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{{ destination = \"0.0.0.0/0\", target = \"eni-fw\" }}]\n"
        );
        let e = check_str(&src).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("eni-fw.private_ip:"));
    }

    // --- firewalls: prefix lists, network ACLs, security groups, conntrack, [lab] ----------

    /// A NACL of vpc-demo with the given inbound rules (TOML inline tables).
    fn nacl(id: &str, extra: &str, inbound: &str) -> String {
        format!(
            "[[network_acl]]\nid = \"{id}\"\nvpc = \"vpc-demo\"\n{extra}inbound = [{inbound}]\n"
        )
    }

    /// A security group of vpc-demo with the given inbound rules.
    fn sg(id: &str, extra: &str, inbound: &str) -> String {
        format!(
            "[[security_group]]\nid = \"{id}\"\nvpc = \"vpc-demo\"\n{extra}inbound = [{inbound}]\n"
        )
    }

    const OTHER_VPC: &str = "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.1.1.0/24\"\n[[security_group]]\nid = \"sg-b\"\nvpc = \"vpc-b\"\n";

    #[track_caller]
    fn warns(extra: &str, prefix: &str, needle: &str) {
        let (_, w) = ok(extra);
        assert!(
            w.iter()
                .any(|w| w.starts_with(prefix) && w.contains(needle)),
            "expected a warning `{prefix}…{needle}…`, got:\n{}",
            w.join("\n")
        );
    }

    #[test]
    fn firewall_ids_carry_their_prefix() {
        expect(
            &nacl("nacl-x", "", ""),
            "nacl-x.id:",
            "must start with `acl-`",
        );
        expect(
            &sg("group-x", "", ""),
            "group-x.id:",
            "must start with `sg-`",
        );
        expect(
            "[[prefix_list]]\nid = \"list-x\"\nentries = [\"10.9.0.0/16\"]\n",
            "list-x.id:",
            "must start with `pl-`",
        );
    }

    #[test]
    fn firewall_ids_are_unique_across_kinds() {
        expect(
            &format!("{}{}", nacl("acl-x", "", ""), nacl("acl-x", "", "")),
            "acl-x.id:",
            "network_acl[1] reuses the id of network_acl[0]",
        );
        expect(
            &format!("{}{}", sg("sg-x", "", ""), sg("sg-x", "", "")),
            "sg-x.id:",
            "security_group[1] reuses the id of security_group[0]",
        );
    }

    #[test]
    fn nacl_rule_numbers_are_1_to_32766() {
        for (n, good) in [
            (0, false),
            (1, true),
            (32766, true),
            (32767, false),
            (-5, false),
        ] {
            let src = nacl(
                "acl-x",
                "",
                &format!(
                    "{{ rule = {n}, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"allow\" }}"
                ),
            );
            if good {
                ok(&src);
            } else {
                expect(&src, "acl-x.inbound[0].rule:", "outside 1..=32766");
            }
        }
    }

    #[test]
    fn nacl_rule_numbers_are_unique_per_direction() {
        let r = "{ rule = 100, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"allow\" }";
        expect(
            &nacl("acl-x", "", &format!("{r}, {r}")),
            "acl-x.inbound[1].rule:",
            "already used by inbound[0]",
        );
        // The same number in the other direction is fine.
        ok(&nacl("acl-x", &format!("outbound = [{r}]\n"), r));
    }

    #[test]
    fn nacl_action_is_allow_or_deny() {
        expect(
            &nacl(
                "acl-x",
                "",
                "{ rule = 1, protocol = \"-1\", cidr = \"0.0.0.0/0\", action = \"permit\" }",
            ),
            "acl-x.inbound[0].action:",
            "unknown variant `permit`",
        );
        expect(
            &nacl(
                "acl-x",
                "",
                "{ rule = 1, protocol = \"-1\", cidr = \"0.0.0.0/0\" }",
            ),
            "acl-x.action:",
            "missing field",
        );
    }

    #[test]
    fn ports_with_icmp_are_an_error() {
        expect(
            &nacl(
                "acl-x",
                "",
                "{ rule = 1, protocol = \"icmp\", ports = \"80\", cidr = \"0.0.0.0/0\", action = \"allow\" }",
            ),
            "acl-x.inbound[0].ports:",
            "use icmp_type/icmp_code",
        );
        expect(
            &sg(
                "sg-x",
                "",
                "{ protocol = \"icmpv6\", ports = 80, source = \"::/0\" }",
            ),
            "sg-x.inbound[0].ports:",
            "use icmp_type/icmp_code",
        );
    }

    #[test]
    fn scenario_17_ports_of_other_protocols_are_ignored_with_a_warning() {
        warns(
            &nacl(
                "acl-x",
                "",
                "{ rule = 1, protocol = 47, ports = \"80-80\", cidr = \"0.0.0.0/0\", action = \"allow\" }",
            ),
            "acl-x.inbound[0].ports:",
            "ignored for protocol 47",
        );
        warns(
            &sg(
                "sg-x",
                "",
                "{ protocol = \"-1\", ports = \"22\", source = \"10.0.0.0/16\" }",
            ),
            "sg-x.inbound[0].ports:",
            "ignored for protocol all (-1)",
        );
    }

    #[test]
    fn port_ranges_are_ordered_and_bounded() {
        for (ports, needle) in [
            ("\"2000-1000\"", "lower port to the higher"),
            ("\"1-65536\"", "0..=65535"),
            ("70000", "0..=65535"),
        ] {
            expect(
                &sg(
                    "sg-x",
                    "",
                    &format!("{{ protocol = \"tcp\", ports = {ports}, source = \"0.0.0.0/0\" }}"),
                ),
                "sg-x.inbound[0].ports:",
                needle,
            );
        }
        for bad in ["\"80-\"", "\"x\"", "-1", "\"1-2-3\""] {
            expect(
                &sg(
                    "sg-x",
                    "",
                    &format!("{{ protocol = \"tcp\", ports = {bad}, source = \"0.0.0.0/0\" }}"),
                ),
                "sg-x.inbound[0].ports:",
                "expected a port",
            );
        }
        ok(&sg(
            "sg-x",
            "",
            "{ protocol = \"udp\", ports = \"0-65535\", source = \"0.0.0.0/0\" }, { protocol = \"tcp\", ports = 443, source = \"0.0.0.0/0\" }",
        ));
    }

    #[test]
    fn icmp_fields_only_with_icmp() {
        expect(
            &sg(
                "sg-x",
                "",
                "{ protocol = \"tcp\", icmp_type = 8, source = \"0.0.0.0/0\" }",
            ),
            "sg-x.inbound[0].icmp_type:",
            "only apply to icmp and icmpv6",
        );
        warns(
            &sg(
                "sg-x",
                "",
                "{ protocol = \"all\", icmp_type = 8, source = \"0.0.0.0/0\" }",
            ),
            "sg-x.inbound[0]:",
            "icmp_type/icmp_code are ignored for protocol all",
        );
        expect(
            &sg(
                "sg-x",
                "",
                "{ protocol = \"icmp\", icmp_type = 256, source = \"0.0.0.0/0\" }",
            ),
            "sg-x.inbound[0].icmp_type:",
            "outside 0..=255",
        );
        expect(
            &sg(
                "sg-x",
                "",
                "{ protocol = \"icmp\", icmp_code = 4, source = \"0.0.0.0/0\" }",
            ),
            "sg-x.inbound[0].icmp_code:",
            "needs an icmp_type",
        );
        ok(&sg(
            "sg-x",
            "",
            "{ protocol = \"icmp\", icmp_type = 3, icmp_code = 4, source = \"0.0.0.0/0\" }, { protocol = \"icmp\", icmp_type = -1, icmp_code = -1, source = \"0.0.0.0/0\" }",
        ));
    }

    #[test]
    fn icmpv6_with_an_ipv4_cidr_warns() {
        warns(
            &nacl(
                "acl-x",
                "",
                "{ rule = 1, protocol = \"icmpv6\", icmp_type = 128, cidr = \"0.0.0.0/0\", action = \"allow\" }",
            ),
            "acl-x.inbound[0]:",
            "matches all ICMP types",
        );
        let (_, w) = ok(&nacl(
            "acl-x",
            "",
            "{ rule = 1, protocol = \"icmpv6\", icmp_type = 128, cidr = \"::/0\", action = \"allow\" }",
        ));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn protocols_by_name_number_or_minus_one() {
        for p in [
            "\"TCP\"",
            "\"Udp\"",
            "\"icmp\"",
            "\"ICMPv6\"",
            "\"all\"",
            "\"-1\"",
            "-1",
            "47",
            "\"47\"",
            "0",
            "255",
        ] {
            ok(&sg(
                "sg-x",
                "",
                &format!("{{ protocol = {p}, source = \"0.0.0.0/0\" }}"),
            ));
        }
        for p in ["256", "-2", "\"gre\"", "\"\"", "\"4 7\""] {
            expect(
                &sg(
                    "sg-x",
                    "",
                    &format!("{{ protocol = {p}, source = \"0.0.0.0/0\" }}"),
                ),
                "sg-x.inbound[0].protocol:",
                "IANA protocol number",
            );
        }
    }

    #[test]
    fn nacl_cidr_must_parse_and_is_normalised() {
        expect(
            &nacl(
                "acl-x",
                "",
                "{ rule = 1, protocol = \"-1\", cidr = \"10.0.0.0/33\", action = \"allow\" }",
            ),
            "acl-x.inbound[0].cidr:",
            "invalid",
        );
        warns(
            &nacl(
                "acl-x",
                "",
                "{ rule = 1, protocol = \"-1\", cidr = \"10.0.3.4/16\", action = \"allow\" }",
            ),
            "acl-x.inbound[0].cidr:",
            "using 10.0.0.0/16",
        );
    }

    #[test]
    fn nacl_subnets_exist_and_belong_to_its_vpc() {
        expect(
            &nacl("acl-x", "subnets = [\"subnet-nope\"]\n", ""),
            "acl-x.subnets[0]:",
            "no subnet with id `subnet-nope`",
        );
        expect(
            &format!(
                "{OTHER_VPC}{}",
                nacl("acl-x", "subnets = [\"subnet-b\"]\n", "")
            ),
            "acl-x.subnets[0]:",
            "subnet-b is in vpc-b, but this network ACL belongs to vpc-demo",
        );
    }

    #[test]
    fn a_subnet_has_one_nacl() {
        expect(
            &format!(
                "{}{}",
                nacl("acl-x", "subnets = [\"subnet-a\"]\n", ""),
                nacl("acl-y", "subnets = [\"subnet-a\"]\n", "")
            ),
            "acl-y.subnets[0]:",
            "already associated with acl-x",
        );
        expect(
            &nacl("acl-x", "subnets = [\"subnet-a\", \"subnet-a\"]\n", ""),
            "acl-x.subnets[1]:",
            "listed twice",
        );
    }

    #[test]
    fn one_default_nacl_per_vpc() {
        expect(
            &format!(
                "{}{}",
                nacl("acl-x", "default = true\n", ""),
                nacl("acl-y", "default = true\n", "")
            ),
            "acl-y.default:",
            "already has a default network ACL (acl-x)",
        );
    }

    #[test]
    fn nacl_rule_quota_warns_beyond_20_and_rejects_beyond_40() {
        let rules = |n: usize| {
            (1..=n)
                .map(|i| format!("{{ rule = {i}, protocol = \"-1\", cidr = \"10.{i}.0.0/16\", action = \"deny\" }}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (_, w) = ok(&nacl("acl-x", "", &rules(20)));
        assert!(w.is_empty(), "{w:?}");
        warns(
            &nacl("acl-x", "", &rules(21)),
            "acl-x.inbound:",
            "default quota of 20",
        );
        ok(&nacl("acl-x", "", &rules(40)));
        expect(
            &nacl("acl-x", "", &rules(41)),
            "acl-x.inbound:",
            "at most 40",
        );
    }

    #[test]
    fn implicit_default_ids_must_be_free() {
        expect(
            &nacl("acl-default-demo", "", ""),
            "vpc-demo:",
            "`acl-default-demo`, is taken",
        );
        expect(
            &sg("sg-default-demo", "", ""),
            "vpc-demo:",
            "`sg-default-demo`, is taken",
        );
        // Declared as the default, the id is fine.
        ok(&sg("sg-default-demo", "default = true\n", ""));
    }

    #[test]
    fn sg_rule_count_is_at_most_60_and_prefix_lists_count_their_size() {
        let rules = |n: usize| {
            (1..=n)
                .map(|i| format!("{{ protocol = \"tcp\", ports = {i}, source = \"0.0.0.0/0\" }}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        ok(&sg("sg-x", "", &rules(60)));
        expect(&sg("sg-x", "", &rules(61)), "sg-x.inbound:", "at most 60");
        let pl = "[[prefix_list]]\nid = \"pl-x\"\nentries = [\"10.9.0.0/16\"]\nmax_entries = 10\n";
        ok(&format!(
            "{pl}{}",
            sg(
                "sg-x",
                "",
                &format!("{}, {{ protocol = \"-1\", source = \"pl-x\" }}", rules(50))
            )
        ));
        let src = format!(
            "{pl}{}",
            sg(
                "sg-x",
                "",
                &format!("{}, {{ protocol = \"-1\", source = \"pl-x\" }}", rules(51))
            )
        );
        expect(&src, "sg-x.inbound:", "61 rules");
        assert_eq!(errors(&src).len(), 1);
    }

    #[test]
    fn sg_peers_exist_and_groups_are_of_the_same_vpc() {
        expect(
            &sg("sg-x", "", "{ protocol = \"-1\", source = \"sg-nope\" }"),
            "sg-x.inbound[0].source:",
            "no security group with id `sg-nope`",
        );
        expect(
            &sg("sg-x", "", "{ protocol = \"-1\", source = \"pl-nope\" }"),
            "sg-x.inbound[0].source:",
            "no prefix list with id `pl-nope`",
        );
        // A group of another VPC: accepted, stale without an active peering (see
        // `sg_references_to_groups_of_other_vpcs_need_an_active_peering`).
        warns(
            &format!(
                "{OTHER_VPC}{}",
                sg("sg-x", "", "{ protocol = \"-1\", source = \"sg-b\" }")
            ),
            "sg-x.inbound[0].source:",
            "not peered",
        );
        expect(
            &sg("sg-x", "", "{ protocol = \"-1\", source = \"10.0.0.0\" }"),
            "sg-x.inbound[0].source:",
            "is not a CIDR",
        );
        // Itself, another group declared later, the implicit default group, a prefix list.
        ok(&format!(
            "[[prefix_list]]\nid = \"pl-x\"\nentries = [\"203.0.113.0/24\"]\n{}{}",
            sg(
                "sg-x",
                "",
                "{ protocol = \"-1\", source = \"sg-x\" }, { protocol = \"-1\", source = \"sg-y\" }, { protocol = \"-1\", source = \"sg-default-demo\" }, { protocol = \"tcp\", ports = 22, source = \"pl-x\" }"
            ),
            sg("sg-y", "", "")
        ));
    }

    #[test]
    fn sg_rules_name_exactly_one_peer_of_their_direction() {
        expect(
            &sg("sg-x", "", "{ protocol = \"-1\" }"),
            "sg-x.inbound[0].source:",
            "missing source",
        );
        expect(
            &sg(
                "sg-x",
                "",
                "{ protocol = \"-1\", destination = \"0.0.0.0/0\" }",
            ),
            "sg-x.inbound[0].destination:",
            "inbound rules name a `source`",
        );
        expect(
            &sg(
                "sg-x",
                "outbound = [{ protocol = \"-1\", source = \"0.0.0.0/0\", destination = \"0.0.0.0/0\" }]\n",
                "",
            ),
            "sg-x.outbound[0].source:",
            "outbound rules name a `destination`",
        );
        expect(
            &sg("sg-x", "outbound = [{ protocol = \"-1\" }]\n", ""),
            "sg-x.outbound[0].destination:",
            "missing destination",
        );
    }

    #[test]
    fn one_default_sg_per_vpc() {
        expect(
            &format!(
                "{}{}",
                sg("sg-x", "default = true\n", ""),
                sg("sg-y", "default = true\n", "")
            ),
            "sg-y.default:",
            "already has a default security group (sg-x)",
        );
    }

    #[test]
    fn eni_security_groups_are_1_to_5_distinct_of_its_vpc() {
        let e = |groups: &str| {
            format!(
                "{}security_groups = [{groups}]\n",
                eni("eni-a", "10.0.1.10")
            )
        };
        let groups: String = (1..=6).map(|i| sg(&format!("sg-{i}"), "", "")).collect();
        expect(
            &e(""),
            "eni-a.security_groups:",
            "at least one security group",
        );
        expect(
            &format!(
                "{groups}{}",
                e("\"sg-1\", \"sg-2\", \"sg-3\", \"sg-4\", \"sg-5\", \"sg-6\"")
            ),
            "eni-a.security_groups:",
            "at most 5",
        );
        ok(&format!(
            "{groups}{}",
            e("\"sg-1\", \"sg-2\", \"sg-3\", \"sg-4\", \"sg-5\"")
        ));
        expect(
            &format!("{groups}{}", e("\"sg-1\", \"sg-1\"")),
            "eni-a.security_groups[1]:",
            "already listed",
        );
        expect(
            &e("\"sg-nope\""),
            "eni-a.security_groups[0]:",
            "no security group",
        );
        expect(
            &format!("{OTHER_VPC}{}", e("\"sg-b\"")),
            "eni-a.security_groups[0]:",
            "sg-b belongs to vpc-b, but this ENI is in vpc-demo",
        );
        // Even when the VPCs are peered.
        expect(
            &format!(
                "{OTHER_VPC}{}{}",
                pcx("pcx-a", "vpc-demo", "vpc-b", ""),
                e("\"sg-b\"")
            ),
            "eni-a.security_groups[0]:",
            "sg-b belongs to vpc-b, but this ENI is in vpc-demo",
        );
        ok(&e("\"sg-default-demo\""));
    }

    #[test]
    fn scenario_27_conntrack_bounds() {
        let e = |ct: &str| format!("{}conntrack = {{ {ct} }}\n", eni("eni-a", "10.0.1.10"));
        for (ct, good) in [
            ("tcp_established_timeout = 59", false),
            ("tcp_established_timeout = 60", true),
            ("tcp_established_timeout = 432000", true),
            ("tcp_established_timeout = 432001", false),
            ("udp_timeout = 29", false),
            ("udp_timeout = 30", true),
            ("udp_timeout = 60", true),
            ("udp_timeout = 61", false),
            ("udp_stream_timeout = 59", false),
            ("udp_stream_timeout = 60", true),
            ("udp_stream_timeout = 180", true),
            ("udp_stream_timeout = 181", false),
            ("max_entries = 0", false),
            ("max_entries = 1", true),
            ("max_entries = 1000000", true),
            ("max_entries = 1000001", false),
        ] {
            if good {
                ok(&e(ct));
            } else {
                let field = ct.split(' ').next().unwrap_or_default();
                expect(
                    &e(ct),
                    &format!("eni-a.conntrack.{field}:"),
                    "outside the allowed range",
                );
            }
        }
        expect(&e("idle = 5"), "eni-a.idle:", "unknown field");
    }

    #[test]
    fn prefix_lists_hold_one_family_within_their_size() {
        let pl = |body: &str| format!("[[prefix_list]]\nid = \"pl-x\"\n{body}\n");
        expect(&pl("entries = []"), "pl-x.entries:", "at least one");
        expect(&pl(""), "pl-x.entries:", "at least one");
        expect(
            &pl("entries = [\"10.0.0.0/8\", \"2001:db8::/32\"]"),
            "pl-x.entries[1]:",
            "same address family",
        );
        expect(
            &pl("entries = [\"10.0.0.0/8\", \"192.0.2.0/24\"]\nmax_entries = 1"),
            "pl-x.entries:",
            "do not fit in max_entries = 1",
        );
        expect(
            &pl("entries = [\"10.0.0.0/8\"]\nmax_entries = 0"),
            "pl-x.max_entries:",
            "at least 1",
        );
        expect(&pl("entries = [\"nope\"]"), "pl-x.entries[0]:", "invalid");
        warns(
            &pl("entries = [\"198.51.100.7/24\"]"),
            "pl-x.entries[0]:",
            "using 198.51.100.0/24",
        );
    }

    #[test]
    fn lab_time_scale_is_in_0_to_1() {
        for (scale, good) in [
            ("0.0", false),
            ("-0.5", false),
            ("1.5", false),
            ("nan", false),
            ("0.01", true),
            ("1", true),
        ] {
            let src = format!("[lab]\nconntrack_time_scale = {scale}\n");
            if good {
                ok(&src);
            } else {
                expect(
                    &src,
                    "lab.conntrack_time_scale:",
                    "greater than 0 and at most 1",
                );
            }
        }
        expect("[lab]\nscale = 0.5\n", "lab.scale:", "unknown field");
        expect(
            "[[lab]]\nconntrack_time_scale = 0.5\n",
            "file.lab:",
            "single table",
        );
    }

    // --- internet gateways, Elastic IPs, public IPs -----------------------------------------

    /// An internet gateway of vpc-demo with an internet side (`inet` = the inline table's
    /// fields; empty for no internet side).
    fn igw(id: &str, inet: &str) -> String {
        let inet = if inet.is_empty() {
            String::new()
        } else {
            format!("internet = {{ {inet} }}\n")
        };
        format!("[[internet_gateway]]\nid = \"{id}\"\nvpc = \"vpc-demo\"\n{inet}")
    }

    const INET: &str = r#"netns = "internet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"]"#;

    fn eip(id: &str, public: &str, extra: &str) -> String {
        format!("[[elastic_ip]]\nid = \"{id}\"\npublic_ip = \"{public}\"\n{extra}")
    }

    /// An ENI 10.0.1.10 (+ .11) with a public IP.
    fn eni_pub(id: &str, ip: &str, public: &str) -> String {
        format!("{}public_ip = \"{public}\"\n", eni(id, ip))
    }

    #[test]
    fn gateways_accept_the_documented_schema() {
        let (t, w) = ok(&format!(
            "{}{}{}{}{}",
            igw("igw-a", INET),
            eni("eni-a", "10.0.1.10"),
            eni_pub("eni-b", "10.0.1.11", "198.51.100.41"),
            eip(
                "eipalloc-a",
                "198.51.100.40",
                "eni = \"eni-a\"\nprivate_ip = \"10.0.1.10\"\n"
            ),
            eip("eipalloc-free", "198.51.100.50", ""),
        ));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(t.internet_gateways.len(), 1);
        assert_eq!(t.elastic_ips.len(), 2);
    }

    #[test]
    fn gateway_ids_carry_their_prefix_and_are_unique() {
        expect(&igw("gw-a", ""), "gw-a.id:", "must start with `igw-`");
        expect(
            &eip("eip-a", "198.51.100.40", ""),
            "eip-a.id:",
            "must start with `eipalloc-`",
        );
        expect(
            &format!("{}{}", igw("igw-a", ""), igw("igw-a", "")),
            "igw-a.id:",
            "internet_gateway[1] reuses the id of internet_gateway[0]",
        );
        expect(
            &format!(
                "{}{}",
                eip("eipalloc-a", "198.51.100.40", ""),
                eip("eipalloc-a", "198.51.100.41", "")
            ),
            "eipalloc-a.id:",
            "elastic_ip[1] reuses the id of elastic_ip[0]",
        );
        let e = errors("[[internet_gateway]]\nvpc = \"vpc-demo\"\n");
        assert!(
            e.iter().any(|e| e.starts_with("internet_gateway[0].id:")),
            "{e:?}"
        );
    }

    #[test]
    fn internet_gateway_vpc_must_exist() {
        expect(
            "[[internet_gateway]]\nid = \"igw-a\"\nvpc = \"vpc-nope\"\n",
            "igw-a.vpc:",
            "no VPC with id `vpc-nope`",
        );
        expect(
            "[[internet_gateway]]\nid = \"igw-a\"\n",
            "igw-a.vpc:",
            "missing vpc",
        );
    }

    #[test]
    fn one_internet_gateway_per_vpc() {
        expect(
            &format!("{}{}", igw("igw-a", ""), igw("igw-b", "")),
            "igw-b.vpc:",
            "vpc-demo already has an internet gateway (igw-a)",
        );
        // A VPC may have none, and another VPC its own.
        ok(&format!(
            "{OTHER_VPC}{}[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\n",
            igw("igw-a", "")
        ));
    }

    #[test]
    fn igw_route_target_must_exist() {
        expect(
            &rtb(r#"{ destination = "0.0.0.0/0", target = "igw-nope" }"#),
            "rtb-x.routes[0].target:",
            "no internet gateway with id `igw-nope`",
        );
        let (t, _) = ok(&format!(
            "{}{}",
            igw("igw-a", ""),
            rtb(r#"{ destination = "0.0.0.0/0", target = "igw-a" }"#)
        ));
        assert_eq!(
            t.route_tables[0].routes[0].target_ref(),
            RouteTargetRef::InternetGateway("igw-a")
        );
    }

    #[test]
    fn igw_route_target_must_be_of_the_same_vpc() {
        expect(
            &format!(
                "{OTHER_VPC}[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\n{}",
                rtb(r#"{ destination = "0.0.0.0/0", target = "igw-b" }"#)
            ),
            "rtb-x.routes[0].target:",
            "igw-b is attached to vpc-b, but this route table belongs to vpc-demo",
        );
    }

    #[test]
    fn igw_is_not_a_target_for_routes_inside_the_vpc() {
        for dest in ["10.0.0.0/16", "10.0.1.0/24", "10.0.1.128/25"] {
            let src = format!(
                "{}{}",
                igw("igw-a", ""),
                rtb(&format!(
                    "{{ destination = \"{dest}\", target = \"igw-a\" }}"
                ))
            );
            let errs = errors(&src);
            assert!(
                errs.iter().any(|e| e.contains(
                    "not a valid target for routes more specific than or equal to the local route"
                )),
                "{dest}: {errs:?}"
            );
        }
    }

    #[test]
    fn ipv6_routes_to_an_igw_are_not_supported_yet() {
        expect(
            &format!(
                "{}{}",
                igw("igw-a", ""),
                rtb(r#"{ destination = "::/0", target = "igw-a" }"#)
            ),
            "rtb-x.routes[0].destination:",
            "IPv6 through an internet gateway is not supported yet",
        );
    }

    #[test]
    fn public_addresses_must_be_public_unicast() {
        for (bad, why) in [
            ("0.1.2.3", "0.0.0.0/8"),
            ("10.9.9.9", "RFC 1918"),
            ("172.16.0.1", "RFC 1918"),
            ("172.31.255.254", "RFC 1918"),
            ("192.168.1.1", "RFC 1918"),
            ("100.64.0.1", "RFC 6598"),
            ("100.127.255.254", "RFC 6598"),
            ("127.0.0.1", "loopback"),
            ("169.254.1.1", "link-local"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.255", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            expect(&eip("eipalloc-a", bad, ""), "eipalloc-a.public_ip:", why);
            expect(&eni_pub("eni-a", "10.0.1.10", bad), "eni-a.public_ip:", why);
        }
        for good in [
            "172.15.0.1",
            "172.32.0.1",
            "100.63.0.1",
            "100.128.0.1",
            "198.51.100.40",
        ] {
            assert_eq!(
                non_public_ipv4_reason(good.parse().unwrap()),
                None,
                "{good}"
            );
        }
    }

    #[test]
    fn public_addresses_must_be_outside_every_vpc() {
        // A VPC may use public space (AWS allows it); its addresses are not public IPs then.
        let vpc = "[[vpc]]\nid = \"vpc-pub\"\ncidr = \"198.51.100.0/24\"\n";
        expect(
            &format!("{vpc}{}", eip("eipalloc-a", "198.51.100.40", "")),
            "eipalloc-a.public_ip:",
            "inside vpc-pub's CIDR 198.51.100.0/24",
        );
    }

    #[test]
    fn public_addresses_are_unique_across_vpcs() {
        // Each VPC has its own internet gateway, but a public address is used once.
        let other = "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\n[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.0.1.10\"\npublic_ip = \"198.51.100.40\"\n";
        ok(&format!(
            "{other}{}{}",
            igw("igw-a", ""),
            eni_pub("eni-a", "10.0.1.10", "198.51.100.41")
        ));
        expect(
            &format!(
                "{other}{}{}",
                igw("igw-a", ""),
                eni_pub("eni-a", "10.0.1.10", "198.51.100.40")
            ),
            "eni-a.public_ip:",
            "already the public address of eni-b.public_ip",
        );
    }

    #[test]
    fn public_addresses_are_unique() {
        expect(
            &format!(
                "{}{}",
                eip("eipalloc-a", "198.51.100.40", ""),
                eip("eipalloc-b", "198.51.100.40", "")
            ),
            "eipalloc-b.public_ip:",
            "already the public address of eipalloc-a.public_ip",
        );
        expect(
            &format!(
                "{}{}",
                eip("eipalloc-a", "198.51.100.40", ""),
                eni_pub("eni-a", "10.0.1.10", "198.51.100.40")
            ),
            "eni-a.public_ip:",
            "already the public address of eipalloc-a.public_ip",
        );
        expect(
            &format!(
                "{}{}",
                eni_pub("eni-a", "10.0.1.10", "198.51.100.40"),
                eni_pub("eni-b", "10.0.1.11", "198.51.100.40")
            ),
            "eni-b.public_ip:",
            "already the public address of eni-a.public_ip",
        );
    }

    #[test]
    fn public_addresses_are_outside_the_internet_segments() {
        expect(
            &format!(
                "{}{}",
                igw("igw-a", INET),
                eip("eipalloc-a", "203.0.113.40", "")
            ),
            "eipalloc-a.public_ip:",
            "inside igw-a's internet.cidr 203.0.113.0/24",
        );
    }

    #[test]
    fn eip_eni_must_exist() {
        expect(
            &eip("eipalloc-a", "198.51.100.40", "eni = \"eni-nope\"\n"),
            "eipalloc-a.eni:",
            "no ENI with id `eni-nope`",
        );
    }

    #[test]
    fn eip_private_ip_must_be_one_of_the_enis() {
        let base = format!(
            "{}secondary_ips = [\"10.0.1.11\"]\n",
            eni("eni-a", "10.0.1.10")
        );
        ok(&format!(
            "{base}{}",
            eip(
                "eipalloc-a",
                "198.51.100.40",
                "eni = \"eni-a\"\nprivate_ip = \"10.0.1.11\"\n"
            )
        ));
        expect(
            &format!(
                "{base}{}",
                eip(
                    "eipalloc-a",
                    "198.51.100.40",
                    "eni = \"eni-a\"\nprivate_ip = \"10.0.1.12\"\n"
                )
            ),
            "eipalloc-a.private_ip:",
            "10.0.1.12 is not a private IPv4 of eni-a (10.0.1.10, 10.0.1.11)",
        );
        expect(
            &eip(
                "eipalloc-a",
                "198.51.100.40",
                "private_ip = \"10.0.1.10\"\n",
            ),
            "eipalloc-a.private_ip:",
            "needs an `eni`",
        );
    }

    #[test]
    fn two_eips_on_one_private_ip() {
        // The second one names the primary explicitly, the first one by default.
        expect(
            &format!(
                "{}{}{}",
                eni("eni-a", "10.0.1.10"),
                eip("eipalloc-a", "198.51.100.40", "eni = \"eni-a\"\n"),
                eip(
                    "eipalloc-b",
                    "198.51.100.41",
                    "eni = \"eni-a\"\nprivate_ip = \"10.0.1.10\"\n"
                )
            ),
            "eipalloc-b.private_ip:",
            "10.0.1.10 of eni-a already has Elastic IP eipalloc-a",
        );
    }

    #[test]
    fn eni_public_ip_and_an_eip_on_its_primary_conflict() {
        expect(
            &format!(
                "{}{}",
                eni_pub("eni-a", "10.0.1.10", "198.51.100.41"),
                eip("eipalloc-a", "198.51.100.40", "eni = \"eni-a\"\n")
            ),
            "eni-a.public_ip:",
            "also has Elastic IP eipalloc-a",
        );
        // An EIP on a secondary address is fine.
        ok(&format!(
            "{}secondary_ips = [\"10.0.1.11\"]\n{}",
            eni_pub("eni-a", "10.0.1.10", "198.51.100.41"),
            eip(
                "eipalloc-a",
                "198.51.100.40",
                "eni = \"eni-a\"\nprivate_ip = \"10.0.1.11\"\n"
            )
        ));
    }

    #[test]
    fn public_addresses_without_an_internet_gateway_warn() {
        let src = format!(
            "{}{}",
            eni_pub("eni-a", "10.0.1.10", "198.51.100.41"),
            eip("eipalloc-b", "198.51.100.40", "eni = \"eni-b\"\n")
        ) + &eni("eni-b", "10.0.1.11");
        warns(&src, "eipalloc-b.eni:", "vpc-demo has no internet gateway");
        warns(&src, "eni-a.public_ip:", "unreachable (as in AWS)");
        let (_, w) = ok(&format!("{src}{}", igw("igw-a", "")));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn internet_cidr_is_8_to_30_and_normalised() {
        for (cidr, good) in [
            ("12.0.0.0/7", false),
            ("12.0.0.0/8", true),
            ("203.0.113.0/30", true),
            ("203.0.113.0/31", false),
        ] {
            let net: Ipv4Net = cidr.parse().unwrap();
            let gw = Ipv4Addr::from(u32::from(net.network()) + 1);
            let host = Ipv4Addr::from(u32::from(net.network()) + 2);
            let src = igw(
                "igw-a",
                &format!(
                    "netns = \"inet\", cidr = \"{cidr}\", gateway = \"{gw}\", hosts = [\"{host}\"]"
                ),
            );
            if good {
                ok(&src);
            } else {
                expect(&src, "igw-a.internet.cidr:", "/8 to /30");
            }
        }
        warns(
            &igw(
                "igw-a",
                r#"netns = "inet", cidr = "203.0.113.7/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"]"#,
            ),
            "igw-a.internet.cidr:",
            "host bits set; using 203.0.113.0/24",
        );
        expect(
            &igw(
                "igw-a",
                r#"netns = "inet", cidr = "10.0.0.0/8", gateway = "10.0.0.1", hosts = ["10.0.0.5"]"#,
            ),
            "igw-a.internet.cidr:",
            "overlaps vpc-demo's CIDR 10.0.0.0/16",
        );
    }

    #[test]
    fn internet_gateway_address_is_a_usable_address_of_the_cidr() {
        for (gw, needle) in [
            ("198.51.100.1", "outside internet.cidr 203.0.113.0/24"),
            ("203.0.113.0", "network address"),
            ("203.0.113.255", "broadcast address"),
        ] {
            expect(
                &igw(
                    "igw-a",
                    &format!(
                        "netns = \"inet\", cidr = \"203.0.113.0/24\", gateway = \"{gw}\", hosts = [\"203.0.113.5\"]"
                    ),
                ),
                "igw-a.internet.gateway:",
                needle,
            );
        }
        // The internet side is public: the gateway drops private sources and destinations.
        expect(
            &igw(
                "igw-a",
                r#"netns = "inet", cidr = "192.168.0.0/24", gateway = "192.168.0.1", hosts = ["192.168.0.5"]"#,
            ),
            "igw-a.internet.gateway:",
            "RFC 1918",
        );
    }

    #[test]
    fn internet_hosts_are_distinct_usable_addresses_other_than_the_gateway() {
        let with_hosts = |hosts: &str| {
            igw(
                "igw-a",
                &format!("netns = \"inet\", cidr = \"203.0.113.0/24\", gateway = \"203.0.113.1\", hosts = [{hosts}]"),
            )
        };
        expect(&with_hosts(""), "igw-a.internet.hosts:", "at least one");
        expect(
            &igw(
                "igw-a",
                r#"netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1""#,
            ),
            "igw-a.internet.hosts:",
            "at least one",
        );
        expect(
            &with_hosts(r#""203.0.113.5", "198.51.100.5""#),
            "igw-a.internet.hosts[1]:",
            "outside internet.cidr",
        );
        expect(
            &with_hosts(r#""203.0.113.255""#),
            "igw-a.internet.hosts[0]:",
            "broadcast address",
        );
        expect(
            &with_hosts(r#""203.0.113.5", "203.0.113.1""#),
            "igw-a.internet.hosts[1]:",
            "the gateway's own address",
        );
        expect(
            &with_hosts(r#""203.0.113.5", "203.0.113.6", "203.0.113.5""#),
            "igw-a.internet.hosts[2]:",
            "already internet.hosts[0]",
        );
    }

    #[test]
    fn internet_mtu_is_576_to_1500() {
        for (mtu, good) in [(575, false), (576, true), (1500, true), (1501, false)] {
            let src = igw("igw-a", &format!("{INET}, mtu = {mtu}"));
            if good {
                ok(&src);
            } else {
                expect(&src, "igw-a.internet.mtu:", "576..=1500");
            }
        }
    }

    #[test]
    fn internet_netns_and_ifname_are_valid_names() {
        expect(
            &igw(
                "igw-a",
                r#"netns = "in ternet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"]"#,
            ),
            "igw-a.internet.netns:",
            "not a usable namespace name",
        );
        expect(
            &igw("igw-a", &format!("{INET}, ifname = \"a/b\"")),
            "igw-a.internet.ifname:",
            "not a valid Linux interface name",
        );
    }

    #[test]
    fn internet_netns_is_its_own() {
        expect(
            &format!(
                "{}netns = \"internet\"\n{}",
                eni("eni-a", "10.0.1.10"),
                igw("igw-a", INET)
            ),
            "igw-a.internet.netns:",
            "`internet` is the namespace of eni-a",
        );
        expect(
            &format!(
                "{OTHER_VPC}{}[[internet_gateway]]\nid = \"igw-b\"\nvpc = \"vpc-b\"\ninternet = {{ {INET} }}\n",
                igw("igw-a", INET)
            ),
            "igw-b.internet.netns:",
            "already the internet namespace of igw-a",
        );
    }

    #[test]
    fn generated_gateway_macs_are_claimed() {
        let m = crate::names::igw_mac("igw-a");
        expect(
            &format!(
                "{}{}mac = \"{m}\"\n",
                igw("igw-a", ""),
                eni("eni-a", "10.0.1.10")
            ),
            "eni-a.mac:",
            "already used by internet gateway igw-a",
        );
    }

    #[test]
    fn gateway_errors_are_reported_together() {
        let src = format!(
            "{}{}{}{}",
            igw(
                "igw-a",
                r#"netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.0", hosts = []"#
            ),
            igw("igw-b", ""),
            eip("eipalloc-a", "10.1.2.3", "eni = \"eni-nope\"\n"),
            rtb(r#"{ destination = "10.0.0.0/16", target = "igw-a" }"#),
        );
        let e = errors(&src);
        for prefix in [
            "igw-a.internet.gateway:",
            "igw-a.internet.hosts:",
            "igw-b.vpc:",
            "eipalloc-a.public_ip:",
            "eipalloc-a.eni:",
            "rtb-x.routes[0].target:",
        ] {
            assert!(e.iter().any(|e| e.starts_with(prefix)), "{prefix}: {e:?}");
        }
        let e = check_str(&format!(
            "{BASE}[[elastic_ip]]\nid = \"eipalloc-a\"\npublic_ip = \"nope\"\n[[internet_gateway]]\nid = \"igw-a\"\nvpc = \"vpc-demo\"\ninternet = {{ netns = \"x\" }}\n"
        ))
        .unwrap_err();
        assert!(
            e.iter().any(|e| e.starts_with("eipalloc-a.public_ip:")),
            "{e:?}"
        );
        // A field missing from the inline table is named without its table (as for
        // the other kinds' nested tables).
        assert!(
            e.iter()
                .any(|e| e.starts_with("igw-a.cidr:") && e.contains("missing field `cidr`")),
            "{e:?}"
        );
    }

    // --- NAT gateways --------------------------------------------------------------------

    // --- VPC peering ---------------------------------------------------------------------

    /// A peering connection; `extra` adds fields (e.g. a status).
    fn pcx(id: &str, requester: &str, accepter: &str, extra: &str) -> String {
        format!(
            "[[peering_connection]]\nid = \"{id}\"\nrequester_vpc = \"{requester}\"\naccepter_vpc = \"{accepter}\"\n{extra}"
        )
    }

    /// A route table `id` of `vpc` with the given routes.
    fn table(id: &str, vpc: &str, routes: &str) -> String {
        format!("[[route_table]]\nid = \"{id}\"\nvpc = \"{vpc}\"\nroutes = [{routes}]\n")
    }

    /// vpc-c (10.2.0.0/16), a third VPC.
    const THIRD_VPC: &str = "[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.2.0.0/16\"\n";

    #[test]
    fn peerings_accept_the_documented_schema() {
        let (t, w) = ok(&format!(
            "{OTHER_VPC}{THIRD_VPC}{}{}{}{}",
            pcx(
                "pcx-ab",
                "vpc-demo",
                "vpc-b",
                "name = \"demo-b\"\nstatus = \"active\"\n"
            ),
            pcx("pcx-ac", "vpc-demo", "vpc-c", ""),
            table(
                "rtb-x",
                "vpc-demo",
                r#"{ destination = "10.1.0.0/16", target = "pcx-ab" }, { destination = "10.2.0.0/16", target = "pcx-ac" }"#
            ),
            table(
                "rtb-b",
                "vpc-b",
                r#"{ destination = "10.0.0.0/16", target = "pcx-ab" }"#
            ),
        ));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(t.peering_connections.len(), 2);
        assert!(t.peering_connections.iter().all(|p| p.is_active()));
        // A bad status is reported for its resource and field, with the other problems.
        let errs = errors(&format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-ab", "vpc-demo", "vpc-b", "status = \"accepted\"\n"),
            pcx("pcx-x", "vpc-demo", "vpc-nope", "")
        ));
        assert!(
            errs.iter().any(|e| e.starts_with("pcx-ab.status:")
                && e.contains("`active`")
                && e.contains("`pending-acceptance`")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with("pcx-x.accepter_vpc:")),
            "{errs:?}"
        );
    }

    #[test]
    fn peering_ids_carry_their_prefix_and_are_unique() {
        expect(
            &format!("{OTHER_VPC}{}", pcx("peer-1", "vpc-demo", "vpc-b", "")),
            "peer-1.id:",
            "must start with `pcx-` (the AWS id prefix of a VPC peering connection)",
        );
        expect(
            &format!("{OTHER_VPC}{}", pcx("pcx-", "vpc-demo", "vpc-b", "")),
            "pcx-.id:",
            "followed by letters",
        );
        expect(
            "[[peering_connection]]\nrequester_vpc = \"vpc-demo\"\n",
            "peering_connection[0].id:",
            "missing id",
        );
        expect(
            &format!(
                "{OTHER_VPC}{THIRD_VPC}{}{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", ""),
                pcx("pcx-1", "vpc-demo", "vpc-c", "")
            ),
            "pcx-1.id:",
            "duplicate id: peering_connection[1] reuses the id of peering_connection[0]",
        );
    }

    #[test]
    fn peering_vpcs_must_exist() {
        expect(
            &pcx("pcx-1", "vpc-nope", "vpc-demo", ""),
            "pcx-1.requester_vpc:",
            "no VPC with id `vpc-nope`",
        );
        expect(
            &pcx("pcx-1", "vpc-demo", "vpc-nope", ""),
            "pcx-1.accepter_vpc:",
            "no VPC with id `vpc-nope`",
        );
        let errs = errors("[[peering_connection]]\nid = \"pcx-1\"\n");
        for needle in [
            "pcx-1.requester_vpc: missing requester_vpc",
            "pcx-1.accepter_vpc: missing accepter_vpc",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(needle)), "{errs:?}");
        }
    }

    #[test]
    fn peering_joins_two_different_vpcs() {
        expect(
            &pcx("pcx-1", "vpc-demo", "vpc-demo", ""),
            "pcx-1.accepter_vpc:",
            "vpc-demo is also the requester_vpc; a peering connection joins two different VPCs",
        );
    }

    #[test]
    fn peered_vpcs_must_not_overlap() {
        // Primary against primary.
        expect(
            &format!(
                "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.128.0/17\"\n{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", "")
            ),
            "pcx-1.accepter_vpc:",
            "10.0.128.0/17 of vpc-b overlaps 10.0.0.0/16 of vpc-demo",
        );
        // A secondary block of either side.
        expect(
            &format!(
                "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\nsecondary_cidrs = [\"10.0.5.0/24\"]\n{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", "")
            ),
            "pcx-1.accepter_vpc:",
            "10.0.5.0/24 of vpc-b overlaps 10.0.0.0/16 of vpc-demo",
        );
        expect(
            &format!(
                "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\nsecondary_cidrs = [\"10.3.0.0/16\"]\n[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.3.0.0/20\"\n{}",
                pcx("pcx-1", "vpc-b", "vpc-c", "")
            ),
            "pcx-1.accepter_vpc:",
            "10.3.0.0/20 of vpc-c overlaps 10.3.0.0/16 of vpc-b",
        );
        // IPv6 blocks.
        expect(
            &format!(
                "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.2.0.0/16\"\nipv6_cidr = \"2600:1f18:aa00:100::/56\"\n{}",
                pcx("pcx-1", "vpc-b", "vpc-c", "")
            ),
            "pcx-1.accepter_vpc:",
            "2600:1f18:aa00:100::/56 of vpc-c overlaps 2600:1f18:aa00:100::/56 of vpc-b",
        );
        // A VPC may peer with two VPCs that overlap each other.
        ok(&format!(
            "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.1.0.0/16\"\n{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            pcx("pcx-2", "vpc-demo", "vpc-c", "")
        ));
    }

    #[test]
    fn vpcs_that_are_not_peered_may_overlap() {
        // Same CIDRs, same subnet, same ENI address: isolated VPCs do not interfere.
        let (t, w) = ok(&format!(
            "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"10.1.0.0/16\"]\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.1.0/24\"\n{}[[eni]]\nid = \"eni-b\"\nsubnet = \"subnet-b\"\nprivate_ip = \"10.0.1.10\"\n",
            eni("eni-a", "10.0.1.10")
        ));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(t.vpcs.len(), 2);
    }

    #[test]
    fn one_peering_per_pair_of_vpcs() {
        expect(
            &format!(
                "{OTHER_VPC}{}{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", ""),
                pcx(
                    "pcx-2",
                    "vpc-demo",
                    "vpc-b",
                    "status = \"pending-acceptance\"\n"
                )
            ),
            "pcx-2.accepter_vpc:",
            "vpc-demo and vpc-b are already peered by pcx-1",
        );
        // In the other direction too.
        expect(
            &format!(
                "{OTHER_VPC}{}{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", ""),
                pcx("pcx-2", "vpc-b", "vpc-demo", "")
            ),
            "pcx-2.accepter_vpc:",
            "vpc-b and vpc-demo are already peered by pcx-1",
        );
    }

    #[test]
    fn peering_route_target_must_join_the_tables_vpc() {
        // vpc-c's table cannot use the peering of vpc-demo and vpc-b (no transitive peering).
        expect(
            &format!(
                "{OTHER_VPC}{THIRD_VPC}{}{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", ""),
                table(
                    "rtb-c",
                    "vpc-c",
                    r#"{ destination = "10.1.0.0/16", target = "pcx-1" }"#
                )
            ),
            "rtb-c.routes[0].target:",
            "pcx-1 joins vpc-demo and vpc-b, but this route table belongs to vpc-c",
        );
        // Both ends may route to it.
        ok(&format!(
            "{OTHER_VPC}{}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", ""),
            table(
                "rtb-a",
                "vpc-demo",
                r#"{ destination = "10.1.0.0/16", target = "pcx-1" }"#
            ),
            table(
                "rtb-b",
                "vpc-b",
                r#"{ destination = "10.0.0.0/16", target = "pcx-1" }"#
            )
        ));
    }

    #[test]
    fn peering_is_not_a_target_inside_the_vpc() {
        let routes = |d: &str| {
            format!(
                "{OTHER_VPC}{}{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", ""),
                table(
                    "rtb-x",
                    "vpc-demo",
                    &format!("{{ destination = \"{d}\", target = \"pcx-1\" }}")
                )
            )
        };
        // Equal to the VPC's CIDR (replacing the local route).
        expect(
            &routes("10.0.0.0/16"),
            "rtb-x.routes[0].target:",
            "10.0.0.0/16 is a CIDR of vpc-demo: a peering connection (pcx-1) is not a valid target",
        );
        // A subnet's CIDR, or any other range inside the VPC.
        for d in ["10.0.1.0/24", "10.0.9.0/24", "10.0.1.10/32"] {
            expect(
                &routes(d),
                "rtb-x.routes[0].target:",
                "is more specific than the local route 10.0.0.0/16: a peering connection (pcx-1) is not a valid target",
            );
        }
        // Inside a secondary CIDR too.
        expect(
            &format!(
                "{OTHER_VPC}[[vpc]]\nid = \"vpc-s\"\ncidr = \"10.5.0.0/16\"\nsecondary_cidrs = [\"10.6.0.0/16\"]\n{}{}",
                pcx("pcx-1", "vpc-s", "vpc-b", ""),
                table("rtb-s", "vpc-s", r#"{ destination = "10.6.1.0/24", target = "pcx-1" }"#)
            ),
            "rtb-s.routes[0].target:",
            "more specific than the local route 10.6.0.0/16",
        );
        // A wider range that covers the VPC is fine: the local route is more specific.
        let (_, w) = ok(&routes("10.0.0.0/8"));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn route_to_an_undeclared_peering_is_a_blackhole_with_a_warning() {
        warns(
            &table(
                "rtb-x",
                "vpc-demo",
                r#"{ destination = "10.1.0.0/16", target = "pcx-gone" }"#,
            ),
            "rtb-x.routes[0].target:",
            "pcx-gone does not exist (deleted?): the route is a blackhole",
        );
        // A peering that failed to parse is reported as such, not as deleted.
        let errs = errors(&format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-1", "vpc-demo", "vpc-b", "status = 1\n"),
            table(
                "rtb-x",
                "vpc-demo",
                r#"{ destination = "10.1.0.0/16", target = "pcx-1" }"#
            )
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("pcx-1.status:"), "{errs:?}");
    }

    #[test]
    fn route_to_a_pending_peering_warns_that_it_is_a_blackhole() {
        warns(
            &format!(
                "{OTHER_VPC}{}{}",
                pcx(
                    "pcx-1",
                    "vpc-demo",
                    "vpc-b",
                    "status = \"pending-acceptance\"\n"
                ),
                table(
                    "rtb-x",
                    "vpc-demo",
                    r#"{ destination = "10.1.0.0/16", target = "pcx-1" }"#
                )
            ),
            "rtb-x.routes[0].target:",
            "pcx-1 is pending-acceptance: the route is a blackhole until it is accepted",
        );
    }

    #[test]
    fn route_to_a_peering_outside_the_peer_cidrs_warns() {
        let src = |d: &str| {
            format!(
                "{OTHER_VPC}{}{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", ""),
                table(
                    "rtb-x",
                    "vpc-demo",
                    &format!("{{ destination = \"{d}\", target = \"pcx-1\" }}")
                )
            )
        };
        warns(
            &src("192.168.0.0/16"),
            "rtb-x.routes[0].target:",
            "192.168.0.0/16 holds no address of vpc-b (10.1.0.0/16): pcx-1 carries only traffic to the peer VPC's own CIDRs",
        );
        // Part of the peer, or a range that holds it: no warning.
        for d in ["10.1.1.0/24", "0.0.0.0/0"] {
            let (_, w) = ok(&src(d));
            assert!(w.is_empty(), "{d}: {w:?}");
        }
    }

    #[test]
    fn sg_references_to_groups_of_other_vpcs_need_an_active_peering() {
        let rules = "{ protocol = \"tcp\", ports = 80, source = \"sg-b\" }";
        let out = "outbound = [{ protocol = \"-1\", destination = \"sg-b\" }]\n";
        // Active peering: a valid reference, no warning.
        let (_, w) = ok(&format!(
            "{OTHER_VPC}{}{}",
            pcx("pcx-1", "vpc-b", "vpc-demo", ""),
            sg("sg-x", out, rules)
        ));
        assert!(w.is_empty(), "{w:?}");
        // No peering: stale, in both directions.
        let src = format!("{OTHER_VPC}{}", sg("sg-x", out, rules));
        warns(
            &src,
            "sg-x.inbound[0].source:",
            "sg-x references sg-b of vpc-b, which is not peered with vpc-demo (no peering connection joins them): the rule matches nothing (stale)",
        );
        warns(
            &src,
            "sg-x.outbound[0].destination:",
            "matches nothing (stale)",
        );
        // A pending peering does not make the reference valid.
        warns(
            &format!(
                "{OTHER_VPC}{}{}",
                pcx("pcx-1", "vpc-demo", "vpc-b", "status = \"pending-acceptance\"\n"),
                sg("sg-x", "", rules)
            ),
            "sg-x.inbound[0].source:",
            "(pcx-1 is pending-acceptance, and a reference needs an active peering): the rule matches nothing (stale)",
        );
        // The implicit default group of a peered VPC can be referenced too.
        let (_, w) = ok(&format!(
            "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n{}{}",
            pcx("pcx-1", "vpc-b", "vpc-demo", ""),
            sg(
                "sg-x",
                "",
                "{ protocol = \"-1\", source = \"sg-default-b\" }"
            )
        ));
        assert!(w.is_empty(), "{w:?}");
    }

    /// A NAT gateway in subnet-a (`extra`: more fields).
    fn nat(id: &str, extra: &str) -> String {
        format!("[[nat_gateway]]\nid = \"{id}\"\nsubnet = \"subnet-a\"\n{extra}")
    }

    /// subnet-a made public: an internet gateway and a main table routing 0.0.0.0/0 to it.
    fn public_subnet() -> String {
        format!(
            "{}[[route_table]]\nid = \"rtb-pub\"\nvpc = \"vpc-demo\"\nmain = true\nroutes = [{{ destination = \"0.0.0.0/0\", target = \"igw-a\" }}]\n",
            igw("igw-a", INET)
        )
    }

    /// A public subnet, an Elastic IP `eipalloc-n` and a public NAT gateway `nat-a` using
    /// it (`extra`: more fields of the gateway).
    fn public_nat(extra: &str) -> String {
        format!(
            "{}{}{}",
            public_subnet(),
            eip("eipalloc-n", "198.51.100.50", ""),
            nat("nat-a", &format!("allocation_id = \"eipalloc-n\"\n{extra}"))
        )
    }

    #[test]
    fn nat_gateways_accept_the_documented_schema() {
        let (t, w) = ok(&format!(
            "{}{}{}{}",
            public_nat(
                "name = \"demo\"\nprivate_ip = \"10.0.1.220\"\nsecondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-n2\"]\n"
            ),
            eip("eipalloc-n2", "198.51.100.51", ""),
            nat(
                "nat-p",
                "connectivity = \"private\"\nsecondary_private_ips = [\"10.0.1.230\"]\n"
            ),
            rtb(r#"{ destination = "0.0.0.0/0", target = "nat-a" }"#),
        ));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(t.nat_gateways.len(), 2);
        assert_eq!(t.nat_gateways[1].connectivity, NatConnectivity::Private);
        assert_eq!(
            t.route_tables[1].routes[0].target_ref(),
            RouteTargetRef::NatGateway("nat-a")
        );
    }

    #[test]
    fn nat_gateway_ids_carry_their_prefix_and_are_unique() {
        expect(
            &nat("ngw-a", "connectivity = \"private\"\n"),
            "ngw-a.id:",
            "must start with `nat-`",
        );
        expect(
            &format!(
                "{}{}",
                nat("nat-a", "connectivity = \"private\"\n"),
                nat("nat-a", "connectivity = \"private\"\n")
            ),
            "nat-a.id:",
            "nat_gateway[1] reuses the id of nat_gateway[0]",
        );
        let e = errors("[[nat_gateway]]\nsubnet = \"subnet-a\"\nconnectivity = \"private\"\n");
        assert!(
            e.iter().any(|e| e.starts_with("nat_gateway[0].id:")),
            "{e:?}"
        );
    }

    #[test]
    fn nat_gateway_fields_are_typed() {
        expect(
            &nat("nat-a", "connectivity = \"public-ish\"\n"),
            "nat-a.connectivity:",
            "unknown variant `public-ish`",
        );
        expect(
            &nat("nat-a", "eip = \"eipalloc-n\"\n"),
            "nat-a.eip:",
            "unknown field",
        );
        expect(
            &nat("nat-a", "private_ip = \"10.0.1.300\"\n"),
            "nat-a.private_ip:",
            "line ",
        );
    }

    #[test]
    fn nat_gateway_subnet_must_exist() {
        expect(
            "[[nat_gateway]]\nid = \"nat-a\"\nconnectivity = \"private\"\n",
            "nat-a.subnet:",
            "missing subnet",
        );
        expect(
            "[[nat_gateway]]\nid = \"nat-a\"\nsubnet = \"subnet-nope\"\nconnectivity = \"private\"\n",
            "nat-a.subnet:",
            "no subnet with id `subnet-nope`",
        );
    }

    #[test]
    fn public_nat_gateway_needs_an_internet_gateway() {
        expect(
            &format!(
                "{}{}",
                eip("eipalloc-n", "198.51.100.50", ""),
                nat("nat-a", "allocation_id = \"eipalloc-n\"\n")
            ),
            "nat-a.subnet:",
            "Network vpc-demo has no internet gateway attached",
        );
        // A private one does not.
        ok(&nat("nat-a", "connectivity = \"private\"\n"));
    }

    #[test]
    fn public_nat_gateway_needs_an_allocation_id_and_a_private_one_has_none() {
        expect(
            &format!("{}{}", public_subnet(), nat("nat-a", "")),
            "nat-a.allocation_id:",
            "a public NAT gateway needs an Elastic IP",
        );
        expect(
            &format!(
                "{}{}",
                eip("eipalloc-n", "198.51.100.50", ""),
                nat(
                    "nat-a",
                    "connectivity = \"private\"\nallocation_id = \"eipalloc-n\"\n"
                )
            ),
            "nat-a.allocation_id:",
            "a private NAT gateway has no Elastic IP",
        );
    }

    #[test]
    fn nat_gateway_allocation_ids_must_exist() {
        expect(
            &format!(
                "{}{}",
                public_subnet(),
                nat("nat-a", "allocation_id = \"eipalloc-nope\"\n")
            ),
            "nat-a.allocation_id:",
            "no Elastic IP with id `eipalloc-nope`",
        );
        expect(
            &public_nat(
                "secondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-nope\"]\n"
            ),
            "nat-a.secondary_allocation_ids[0]:",
            "no Elastic IP with id `eipalloc-nope`",
        );
    }

    #[test]
    fn an_elastic_ip_is_used_once() {
        // By two NAT gateways.
        expect(
            &format!(
                "{}{}",
                public_nat(""),
                nat("nat-b", "allocation_id = \"eipalloc-n\"\n")
            ),
            "nat-b.allocation_id:",
            "eipalloc-n is already associated with nat-a.allocation_id",
        );
        // By an ENI association and a NAT gateway.
        expect(
            &format!(
                "{}{}{}{}",
                public_subnet(),
                eni("eni-a", "10.0.1.10"),
                eip("eipalloc-e", "198.51.100.52", "eni = \"eni-a\"\n"),
                nat("nat-a", "allocation_id = \"eipalloc-e\"\n")
            ),
            "nat-a.allocation_id:",
            "eipalloc-e is already associated with eni-a (eipalloc-e.eni)",
        );
        // Twice within one NAT gateway.
        expect(
            &public_nat(
                "secondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-n\"]\n"
            ),
            "nat-a.secondary_allocation_ids[0]:",
            "eipalloc-n is already associated with nat-a.allocation_id",
        );
    }

    #[test]
    fn nat_gateway_addresses_are_assignable_addresses_of_its_subnet() {
        for (ip, needle) in [
            ("10.0.2.10", "is outside subnet-a (10.0.1.0/24)"),
            ("10.0.1.0", "the subnet's network address"),
            ("10.0.1.1", "reserved for the VPC router"),
            ("10.0.1.2", "reserved for the Amazon DNS server"),
            ("10.0.1.3", "reserved by AWS for future use"),
            ("10.0.1.255", "broadcast"),
        ] {
            expect(
                &public_nat(&format!("private_ip = \"{ip}\"\n")),
                "nat-a.private_ip:",
                needle,
            );
            expect(
                &nat(
                    "nat-p",
                    &format!("connectivity = \"private\"\nsecondary_private_ips = [\"{ip}\"]\n"),
                ),
                "nat-p.secondary_private_ips[0]:",
                needle,
            );
        }
    }

    #[test]
    fn nat_gateway_addresses_are_not_used_twice() {
        // An ENI's primary or secondary address.
        let src = format!(
            "{}secondary_ips = [\"10.0.1.11\"]\n{}{}",
            eni("eni-a", "10.0.1.10"),
            nat("nat-p", "connectivity = \"private\"\nprivate_ip = \"10.0.1.10\"\n"),
            nat(
                "nat-q",
                "connectivity = \"private\"\nprivate_ip = \"10.0.1.12\"\nsecondary_private_ips = [\"10.0.1.11\", \"10.0.1.12\"]\n"
            ),
        );
        expect(
            &src,
            "nat-p.private_ip:",
            "10.0.1.10 is already assigned to eni-a.private_ip",
        );
        expect(
            &src,
            "nat-q.secondary_private_ips[0]:",
            "10.0.1.11 is already assigned to eni-a.secondary_ips[0]",
        );
        // Twice within one gateway.
        expect(
            &src,
            "nat-q.secondary_private_ips[1]:",
            "10.0.1.12 is already assigned to nat-q.private_ip",
        );
        // Another NAT gateway's.
        expect(
            &format!(
                "{}{}",
                nat(
                    "nat-p",
                    "connectivity = \"private\"\nprivate_ip = \"10.0.1.20\"\n"
                ),
                nat(
                    "nat-q",
                    "connectivity = \"private\"\nprivate_ip = \"10.0.1.20\"\n"
                ),
            ),
            "nat-q.private_ip:",
            "10.0.1.20 is already assigned to nat-p.private_ip",
        );
    }

    #[test]
    fn nat_gateway_has_at_most_8_addresses() {
        let ips = |n: usize| {
            (0..n)
                .map(|k| format!("\"10.0.1.{}\"", 100 + k))
                .collect::<Vec<_>>()
                .join(", ")
        };
        ok(&nat(
            "nat-p",
            &format!(
                "connectivity = \"private\"\nsecondary_private_ips = [{}]\n",
                ips(7)
            ),
        ));
        expect(
            &nat(
                "nat-p",
                &format!(
                    "connectivity = \"private\"\nsecondary_private_ips = [{}]\n",
                    ips(8)
                ),
            ),
            "nat-p.secondary_private_ips:",
            "8 secondary addresses; a NAT gateway has at most 7",
        );
    }

    #[test]
    fn public_nat_gateway_has_one_allocation_id_per_secondary_address() {
        expect(
            &public_nat("secondary_private_ips = [\"10.0.1.221\", \"10.0.1.222\"]\n"),
            "nat-a.secondary_allocation_ids:",
            "0 allocation ids for 2 secondary_private_ips",
        );
        expect(
            &nat(
                "nat-p",
                "connectivity = \"private\"\nsecondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-n\"]\n",
            ),
            "nat-p.secondary_allocation_ids:",
            "a private NAT gateway has no Elastic IPs",
        );
    }

    #[test]
    fn public_nat_gateway_eips_beyond_the_default_quota_warn() {
        warns(
            &format!(
                "{}{}{}",
                public_nat(
                    "secondary_private_ips = [\"10.0.1.221\", \"10.0.1.222\"]\nsecondary_allocation_ids = [\"eipalloc-n2\", \"eipalloc-n3\"]\n"
                ),
                eip("eipalloc-n2", "198.51.100.51", ""),
                eip("eipalloc-n3", "198.51.100.52", ""),
            ),
            "nat-a.secondary_allocation_ids:",
            "3 Elastic IPs is more than AWS's default quota of 2",
        );
    }

    #[test]
    fn nat_gateway_private_ip_defaults_to_the_highest_free_address() {
        // .254 is an ENI's, .253 another gateway's explicit address: nat-a gets .252 and
        // nat-b, later in the file, .251.
        let src = format!(
            "{}{}{}{}",
            eni("eni-a", "10.0.1.254"),
            nat("nat-a", "connectivity = \"private\"\n"),
            nat("nat-b", "connectivity = \"private\"\n"),
            nat(
                "nat-c",
                "connectivity = \"private\"\nprivate_ip = \"10.0.1.253\"\n"
            ),
        );
        let (t, _) = ok(&src);
        let addrs = crate::names::nat_gateway_addresses(&t);
        let primary = |i: usize| addrs[i].as_ref().map(|a| a[0].to_string());
        assert_eq!(primary(0).as_deref(), Some("10.0.1.252"));
        assert_eq!(primary(1).as_deref(), Some("10.0.1.251"));
        assert_eq!(primary(2).as_deref(), Some("10.0.1.253"));
        // ENIs' addresses count wherever the ENI is in the file: one written after the
        // gateway still keeps .254, and the gateway takes the next one down.
        let (t, _) = ok(&format!(
            "{}{}",
            nat("nat-a", "connectivity = \"private\"\n"),
            eni("eni-z", "10.0.1.254")
        ));
        let addrs = crate::names::nat_gateway_addresses(&t);
        assert_eq!(
            addrs[0].as_ref().map(|a| a[0].to_string()).as_deref(),
            Some("10.0.1.253")
        );
    }

    #[test]
    fn nat_gateway_without_a_free_address_is_an_error() {
        // A /28 has 11 assignable addresses (.4 to .14): three ENIs and an 8-address
        // gateway take them all.
        let src = "[[subnet]]\nid = \"subnet-s\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.9.0/28\"\n\
            [[eni]]\nid = \"eni-1\"\nsubnet = \"subnet-s\"\nprivate_ip = \"10.0.9.4\"\nsecondary_ips = [\"10.0.9.5\", \"10.0.9.6\"]\n\
            [[nat_gateway]]\nid = \"nat-full\"\nsubnet = \"subnet-s\"\nconnectivity = \"private\"\nprivate_ip = \"10.0.9.7\"\n\
            secondary_private_ips = [\"10.0.9.8\", \"10.0.9.9\", \"10.0.9.10\", \"10.0.9.11\", \"10.0.9.12\", \"10.0.9.13\", \"10.0.9.14\"]\n\
            [[nat_gateway]]\nid = \"nat-late\"\nsubnet = \"subnet-s\"\nconnectivity = \"private\"\n";
        expect(
            src,
            "nat-late.private_ip:",
            "subnet-s (10.0.9.0/28) has no free address left to assign",
        );
    }

    #[test]
    fn nat_route_target_must_exist_and_be_of_the_same_vpc() {
        expect(
            &rtb(r#"{ destination = "0.0.0.0/0", target = "nat-nope" }"#),
            "rtb-x.routes[0].target:",
            "no NAT gateway with id `nat-nope`",
        );
        expect(
            &format!(
                "{OTHER_VPC}[[nat_gateway]]\nid = \"nat-b\"\nsubnet = \"subnet-b\"\nconnectivity = \"private\"\n{}",
                rtb(r#"{ destination = "0.0.0.0/0", target = "nat-b" }"#)
            ),
            "rtb-x.routes[0].target:",
            "nat-b is in vpc-b, but this route table belongs to vpc-demo",
        );
    }

    #[test]
    fn nat_gateway_may_replace_the_local_route_or_take_a_subnet_cidr() {
        let p = nat("nat-p", "connectivity = \"private\"\n");
        for dest in ["10.0.0.0/16", "10.0.2.0/24"] {
            ok(&format!(
                "{p}{}",
                rtb(&format!(
                    "{{ destination = \"{dest}\", target = \"nat-p\" }}"
                ))
            ));
        }
        expect(
            &format!(
                "{p}{}",
                rtb(r#"{ destination = "10.0.2.0/25", target = "nat-p" }"#)
            ),
            "rtb-x.routes[0].destination:",
            "must equal the entire CIDR of a subnet",
        );
    }

    #[test]
    fn ipv6_routes_to_a_nat_gateway_are_not_supported_yet() {
        expect(
            &format!(
                "{}{}",
                nat("nat-p", "connectivity = \"private\"\n"),
                rtb(r#"{ destination = "64:ff9b::/96", target = "nat-p" }"#)
            ),
            "rtb-x.routes[0].destination:",
            "NAT64",
        );
    }

    #[test]
    fn public_nat_gateway_outside_a_public_subnet_warns() {
        let src = format!(
            "{}{}{}",
            igw("igw-a", INET),
            eip("eipalloc-n", "198.51.100.50", ""),
            nat("nat-a", "allocation_id = \"eipalloc-n\"\n")
        );
        warns(
            &src,
            "nat-a.subnet:",
            "subnet-a's route table rtb-main-demo has no route to igw-a",
        );
        let (_, w) = ok(&public_nat(""));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_route_of_the_gateways_own_subnet_to_it_warns() {
        warns(
            &public_nat("").replace(
                "target = \"igw-a\" }]",
                "target = \"igw-a\" }, { destination = \"198.51.100.0/24\", target = \"nat-a\" }]",
            ),
            "rtb-pub.routes[1].target:",
            "nat-a lives in subnet-a, which uses this route table",
        );
    }

    #[test]
    fn lab_nat_gateway_ports_are_an_ordered_range_within_1024_to_65535() {
        for (ports, error) in [
            ("[1024, 65535]", None),
            ("[2000, 2000]", None),
            ("[1023, 2000]", Some("must be within 1024..=65535")),
            ("[2000, 65536]", Some("must be within 1024..=65535")),
            ("[3000, 2000]", Some("from the lower port to the higher")),
        ] {
            let src = format!("[lab]\nnat_gateway_ports = {ports}\n");
            match error {
                None => {
                    ok(&src);
                }
                Some(needle) => expect(&src, "lab.nat_gateway_ports:", needle),
            }
        }
        expect(
            "[lab]\nnat_gateway_ports = [2000]\n",
            "lab.nat_gateway_ports:",
            "",
        );
    }

    #[test]
    fn lab_nat_gateway_idle_timeout_is_positive() {
        for (secs, good) in [
            ("0.0", false),
            ("-1", false),
            ("nan", false),
            ("inf", false),
            ("0.5", true),
            ("350", true),
        ] {
            let src = format!("[lab]\nnat_gateway_idle_timeout = {secs}\n");
            if good {
                ok(&src);
            } else {
                expect(&src, "lab.nat_gateway_idle_timeout:", "greater than 0");
            }
        }
    }

    #[test]
    fn nat_gateway_errors_are_reported_together() {
        let src = format!(
            "{}{}{}",
            nat(
                "nat-a",
                "allocation_id = \"eipalloc-nope\"\nprivate_ip = \"10.0.1.1\"\n"
            ),
            nat(
                "nat-b",
                "connectivity = \"private\"\nsecondary_allocation_ids = [\"eipalloc-x\"]\n"
            ),
            rtb(r#"{ destination = "0.0.0.0/0", target = "nat-c" }"#),
        );
        let e = errors(&src);
        for prefix in [
            "nat-a.allocation_id:",
            "nat-a.subnet:",
            "nat-a.private_ip:",
            "nat-b.secondary_allocation_ids:",
            "rtb-x.routes[0].target:",
        ] {
            assert!(e.iter().any(|e| e.starts_with(prefix)), "{prefix}: {e:?}");
        }
    }

    // --- flow logs -------------------------------------------------------------------------

    /// A path in the temporary directory (which exists) for a flow log file.
    fn fl_path(name: &str) -> String {
        std::env::temp_dir()
            .join(format!("vpcctl-validate-{name}.log"))
            .to_string_lossy()
            .into_owned()
    }

    /// A flow log `id` with the given body (TOML lines after the id).
    fn fl(id: &str, body: &str) -> String {
        format!("[[flow_log]]\nid = \"{id}\"\n{body}")
    }

    /// A valid flow log body on `resource` with `extra` lines, writing to its own file.
    fn fl_on(name: &str, resource: &str, extra: &str) -> String {
        format!(
            "resource = \"{resource}\"\ntraffic_type = \"ALL\"\nlog_destination = \"{}\"\n{extra}",
            fl_path(name)
        )
    }

    #[test]
    fn flow_logs_accept_the_documented_schema() {
        let (t, w) = ok(&format!(
            "{}{}{}{}[lab]\nflow_log_interval = 0.5\n",
            eni("eni-a", "10.0.1.10"),
            fl(
                "fl-vpc",
                &format!(
                    "resource = \"vpc-demo\"\ntraffic_type = \"ALL\"\nmax_aggregation_interval = 60\nlog_destination = \"{}\"\n{}",
                    fl_path("schema-vpc"),
                    r#"log_format = "${version} ${vpc-id} ${srcaddr} ${dstaddr} ${tcp-flags} ${flow-direction} ${traffic-path}"
"#
                ),
            ),
            fl(
                "fl-subnet",
                &format!(
                    "resource = \"subnet-a\"\ntraffic_type = \"reject\"\nlog_destination = \"{}\"\n",
                    fl_path("schema-subnet")
                ),
            ),
            fl(
                "fl-eni",
                &format!(
                    "resource = \"eni-a\"\ntraffic_type = \"Accept\"\nlog_destination = \"{}\"\n",
                    fl_path("schema-eni")
                ),
            ),
        ));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(t.flow_logs.len(), 3);
        assert_eq!(t.flow_logs[1].max_aggregation_interval, 600, "the default");
        assert_eq!(t.lab.unwrap().flow_log_interval, Some(0.5));
    }

    #[test]
    fn flow_log_ids_carry_their_prefix_and_are_unique() {
        expect(
            &fl("flow-1", &fl_on("id-1", "subnet-a", "")),
            "flow-1.id:",
            "must start with `fl-` (the AWS id prefix of a flow log)",
        );
        expect(
            &fl("fl-", &fl_on("id-2", "subnet-a", "")),
            "fl-.id:",
            "followed by letters",
        );
        expect(
            &format!("[[flow_log]]\n{}", fl_on("id-3", "subnet-a", "")),
            "flow_log[0].id:",
            "missing id",
        );
        expect(
            &format!(
                "{}{}",
                fl("fl-1", &fl_on("id-4", "subnet-a", "")),
                fl("fl-1", &fl_on("id-5", "vpc-demo", ""))
            ),
            "fl-1.id:",
            "duplicate id: flow_log[1] reuses the id of flow_log[0]",
        );
    }

    #[test]
    fn flow_log_resource_is_an_existing_eni_subnet_or_vpc() {
        for (resource, needle) in [
            ("eni-nope", "no ENI with id `eni-nope`"),
            ("subnet-nope", "no subnet with id `subnet-nope`"),
            ("vpc-nope", "no VPC with id `vpc-nope`"),
            ("igw-x", "`igw-x` is not an ENI, a subnet or a VPC"),
            ("", "missing resource"),
        ] {
            expect(
                &fl("fl-1", &fl_on("resource", resource, "")),
                "fl-1.resource:",
                needle,
            );
        }
        // A resource that failed to parse is not reported again as missing.
        let e = errors(&format!(
            "[[eni]]\nid = \"eni-x\"\nsubnet = \"subnet-a\"\nprivate_ip = \"nope\"\n{}",
            fl("fl-1", &fl_on("resource-broken", "eni-x", ""))
        ));
        assert!(e.iter().all(|e| !e.starts_with("fl-1.")), "{e:?}");
    }

    #[test]
    fn flow_log_traffic_type_is_all_accept_or_reject() {
        expect(
            &fl(
                "fl-1",
                &fl_on("traffic", "subnet-a", "").replace("\"ALL\"", "\"DENY\""),
            ),
            "fl-1.traffic_type:",
            "expected ALL, ACCEPT or REJECT",
        );
        expect(
            &fl(
                "fl-1",
                &fl_on("traffic", "subnet-a", "").replace("traffic_type = \"ALL\"\n", ""),
            ),
            "fl-1.traffic_type:",
            "missing traffic_type",
        );
        for v in ["all", "accept", "REJECT", "Reject"] {
            ok(&fl(
                "fl-1",
                &fl_on("traffic", "subnet-a", "").replace("\"ALL\"", &format!("\"{v}\"")),
            ));
        }
    }

    #[test]
    fn flow_log_interval_is_60_or_600() {
        for (secs, good) in [
            (60, true),
            (600, true),
            (0, false),
            (1, false),
            (300, false),
        ] {
            let src = fl(
                "fl-1",
                &fl_on(
                    "interval",
                    "subnet-a",
                    &format!("max_aggregation_interval = {secs}\n"),
                ),
            );
            if good {
                ok(&src);
            } else {
                expect(&src, "fl-1.max_aggregation_interval:", "60 or 600 seconds");
            }
        }
    }

    #[test]
    fn flow_log_destination_is_an_absolute_file_in_an_existing_directory() {
        let with = |dest: &str| {
            fl(
                "fl-1",
                &format!("resource = \"subnet-a\"\ntraffic_type = \"ALL\"\nlog_destination = \"{dest}\"\n"),
            )
        };
        expect(
            &with("flow.log"),
            "fl-1.log_destination:",
            "not an absolute path",
        );
        expect(
            &with(&std::env::temp_dir().to_string_lossy()),
            "fl-1.log_destination:",
            "is a directory",
        );
        let missing = std::env::temp_dir().join("vpcctl-validate-no-such-dir/flow.log");
        expect(
            &with(&missing.to_string_lossy()),
            "fl-1.log_destination:",
            "does not exist",
        );
        expect(&with("/"), "fl-1.log_destination:", "is a directory");
        expect(
            &fl("fl-1", "resource = \"subnet-a\"\ntraffic_type = \"ALL\"\n"),
            "fl-1.log_destination:",
            "missing log_destination",
        );
    }

    #[test]
    fn flow_log_format_is_known_fields_separated_by_spaces_each_once() {
        let with = |format: &str| {
            fl(
                "fl-1",
                &fl_on("format", "subnet-a", &format!("log_format = '{format}'\n")),
            )
        };
        ok(&with("${version}  ${srcaddr} ${traffic-path}"));
        for (format, needle) in [
            (
                "${version},${srcaddr}",
                "token 0 `${version},${srcaddr}` is not of the form",
            ),
            ("${version}\t${srcaddr}", "is not of the form `${field}`"),
            ("${version} srcaddr", "token 1 `srcaddr` is not of the form"),
            ("${version} $srcaddr", "token 1 `$srcaddr`"),
            (
                "${version} ${src-addr}",
                "unknown field `src-addr`; the fields are version,",
            ),
            (
                "${srcaddr} ${version} ${srcaddr}",
                "`${srcaddr}` appears more than once",
            ),
            ("   ", "empty; leave log_format out"),
        ] {
            expect(&with(format), "fl-1.log_format:", needle);
        }
        // Every bad token is reported.
        let e = errors(&with("a ${b} ${version} ${version}"));
        assert_eq!(
            e.iter()
                .filter(|e| e.starts_with("fl-1.log_format:"))
                .count(),
            3,
            "{e:?}"
        );
    }

    #[test]
    fn flow_logs_writing_the_same_file_warn() {
        let (_, w) = ok(&format!(
            "{}{}",
            fl("fl-1", &fl_on("same", "subnet-a", "")),
            fl("fl-2", &fl_on("same", "vpc-demo", "")),
        ));
        assert!(
            w.iter().any(|w| w.starts_with("fl-2.log_destination:")
                && w.contains("also the destination of fl-1")),
            "{w:?}"
        );
        // The same file written differently is still the same file.
        let twice = fl_path("same").replace('/', "//");
        warns(
            &format!(
                "{}{}",
                fl("fl-1", &fl_on("same", "subnet-a", "")),
                fl(
                    "fl-2",
                    &format!("resource = \"vpc-demo\"\ntraffic_type = \"ALL\"\nlog_destination = \"{twice}\"\n"),
                ),
            ),
            "fl-2.log_destination:",
            "also the destination of fl-1",
        );
    }

    #[test]
    fn flow_log_scope_without_enis_warns() {
        warns(
            &fl("fl-1", &fl_on("empty", "subnet-a", "")),
            "fl-1.resource:",
            "subnet-a has no ENIs",
        );
        let (_, w) = ok(&format!(
            "{}{}",
            eni("eni-a", "10.0.1.10"),
            fl("fl-1", &fl_on("empty", "vpc-demo", ""))
        ));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn lab_flow_log_interval_is_positive() {
        for (secs, good) in [
            ("0.05", true),
            ("1", true),
            ("0", false),
            ("-1", false),
            ("nan", false),
        ] {
            let src = format!("[lab]\nflow_log_interval = {secs}\n");
            if good {
                ok(&src);
            } else {
                expect(&src, "lab.flow_log_interval:", "greater than 0");
            }
        }
    }

    #[test]
    fn flow_log_errors_are_reported_together() {
        let src = format!(
            "{}{}",
            fl(
                "fl-a",
                "resource = \"subnet-nope\"\nmax_aggregation_interval = 5\nlog_destination = \"x.log\"\nlog_format = \"${nope}\"\n",
            ),
            fl("fl-b", &fl_on("together", "igw-1", "")),
        );
        let e = errors(&src);
        for prefix in [
            "fl-a.resource:",
            "fl-a.traffic_type:",
            "fl-a.max_aggregation_interval:",
            "fl-a.log_destination:",
            "fl-a.log_format:",
            "fl-b.resource:",
        ] {
            assert!(e.iter().any(|e| e.starts_with(prefix)), "{prefix}: {e:?}");
        }
    }
}
