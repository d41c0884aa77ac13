//! Tests only: a topology as the AWS CLI would print it (`aws ec2 describe-* --output
//! json`, one file per command), for the round trip `Topology → AWS JSON → import →
//! Topology` and the `demo` fixture.
//!
//! What AWS has but a topology leaves implicit is written out as AWS would list it: each
//! VPC's main route table, default network ACL (with its `*` deny entries, rule 32767) and
//! default security group; the local routes; each ENI with a namespace as the primary
//! interface (device 0, or the next index for a second ENI in the same namespace) of an
//! instance `i-<namespace>`, each ENI without one unattached; a NAT gateway's interface.
//! A `target = "blackhole"` route, which AWS cannot create, is written as the route to a
//! deleted NAT gateway that AWS shows in state `blackhole`. Metadata (owner, zone, DNS
//! names, times) is filled with plausible constants.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use crate::model::{
    NatConnectivity, NetworkAcl, PeeringStatus, RouteState, RouteTargetRef, RulePeer, RuleProtocol,
    SecurityGroup, SgRuleSpec, Topology, Vpc, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
};
use crate::names::{
    eni_mac, fnv1a64, implicit_default_nacl_id, implicit_default_sg_id, implicit_main_id,
    nat_gateway_addresses, nat_gateway_interface_id,
};

/// The account that owns everything exported.
pub(super) const OWNER: &str = "123456789012";
/// The region.
const REGION: &str = "us-east-1";
/// The availability zone of every subnet.
const ZONE: &str = "us-east-1a";
/// A fixed time for every timestamp.
const TIME: &str = "2026-12-01T09:00:00+00:00";

/// `n` hex digits derived from `key` (stable fake ids: `rtbassoc-…`, `eni-attach-…`).
fn hex(key: &str, n: usize) -> String {
    let h = format!(
        "{:016x}{:016x}",
        fnv1a64(key.as_bytes()),
        fnv1a64(format!("{key}#").as_bytes())
    );
    h[..n.min(32)].to_string()
}

/// `Tags` with a `Name` when there is one.
fn tags(name: Option<&str>) -> Value {
    match name {
        Some(n) => json!([{ "Key": "Name", "Value": n }]),
        None => json!([]),
    }
}

/// The AWS CLI's private DNS name of an address.
fn dns(ip: Ipv4Addr) -> String {
    format!("ip-{}.ec2.internal", ip.to_string().replace('.', "-"))
}

/// What the export needs to look up.
struct Ctx<'a> {
    /// The topology.
    t: &'a Topology,
    /// Subnet id → VPC id.
    vpc_of_subnet: HashMap<&'a str, &'a str>,
    /// VPC id → its default security group's id (declared or implicit).
    default_sg: HashMap<&'a str, String>,
    /// Security group id → (VPC id, name).
    groups: HashMap<String, (String, String)>,
    /// ENI id → (instance id, device index), for ENIs with a namespace.
    instance_of: HashMap<&'a str, (String, usize)>,
    /// NAT gateway index → its addresses.
    nat_addrs: Vec<Vec<Ipv4Addr>>,
}

impl<'a> Ctx<'a> {
    /// Builds the lookups.
    fn new(t: &'a Topology) -> Ctx<'a> {
        let vpc_of_subnet = t
            .subnets
            .iter()
            .map(|s| (s.id.as_str(), s.vpc.as_str()))
            .collect();
        let mut default_sg = HashMap::new();
        let mut groups = HashMap::new();
        for v in &t.vpcs {
            let d = t
                .security_groups
                .iter()
                .find(|g| g.vpc == v.id && g.default)
                .map_or_else(|| implicit_default_sg_id(&v.id), |g| g.id.clone());
            groups.insert(d.clone(), (v.id.clone(), "default".to_string()));
            default_sg.insert(v.id.as_str(), d);
        }
        for g in &t.security_groups {
            let name = g.name.clone().unwrap_or_else(|| g.id.clone());
            groups.insert(g.id.clone(), (g.vpc.clone(), name));
        }
        let mut per_ns: HashMap<&str, usize> = HashMap::new();
        let mut instance_of = HashMap::new();
        for e in &t.enis {
            if let Some(ns) = &e.netns {
                let k = per_ns.entry(ns.as_str()).or_insert(0);
                instance_of.insert(e.id.as_str(), (format!("i-{ns}"), *k));
                *k += 1;
            }
        }
        let nat_addrs = nat_gateway_addresses(t)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        Ctx {
            t,
            vpc_of_subnet,
            default_sg,
            groups,
            instance_of,
            nat_addrs,
        }
    }

    /// The VPC of a subnet.
    fn vpc(&self, subnet: &str) -> &str {
        self.vpc_of_subnet.get(subnet).copied().unwrap_or_default()
    }

    /// The VPC record of an id.
    fn vpc_rec(&self, id: &str) -> Option<&'a Vpc> {
        self.t.vpcs.iter().find(|v| v.id == id)
    }
}

/// Every file, by name (`describe-vpcs.json`, …), of a validated topology.
pub(super) fn export(t: &Topology) -> BTreeMap<String, Value> {
    let cx = Ctx::new(t);
    let mut out = BTreeMap::new();
    out.insert("describe-vpcs.json".into(), json!({ "Vpcs": vpcs(&cx) }));
    out.insert(
        "describe-subnets.json".into(),
        json!({ "Subnets": subnets(&cx) }),
    );
    out.insert(
        "describe-route-tables.json".into(),
        json!({ "RouteTables": route_tables(&cx) }),
    );
    out.insert(
        "describe-network-acls.json".into(),
        json!({ "NetworkAcls": network_acls(&cx) }),
    );
    out.insert(
        "describe-security-groups.json".into(),
        json!({ "SecurityGroups": security_groups(&cx) }),
    );
    out.insert(
        "describe-network-interfaces.json".into(),
        json!({ "NetworkInterfaces": network_interfaces(&cx) }),
    );
    out.insert(
        "describe-instances.json".into(),
        json!({ "Reservations": reservations(&cx) }),
    );
    out.insert(
        "describe-addresses.json".into(),
        json!({ "Addresses": addresses(&cx) }),
    );
    out.insert(
        "describe-nat-gateways.json".into(),
        json!({ "NatGateways": nat_gateways(&cx) }),
    );
    out.insert(
        "describe-internet-gateways.json".into(),
        json!({ "InternetGateways": internet_gateways(&cx) }),
    );
    out.insert(
        "describe-vpc-peering-connections.json".into(),
        json!({ "VpcPeeringConnections": peerings(&cx) }),
    );
    out.insert(
        "describe-managed-prefix-lists.json".into(),
        json!({ "PrefixLists": prefix_lists(&cx) }),
    );
    for pl in &t.prefix_lists {
        let entries: Vec<Value> = pl
            .entries
            .iter()
            .map(|c| json!({ "Cidr": c.to_string() }))
            .collect();
        out.insert(
            format!("get-managed-prefix-list-entries.{}.json", pl.id),
            json!({ "Entries": entries }),
        );
    }
    out
}

/// `Vpcs[]`.
fn vpcs(cx: &Ctx<'_>) -> Vec<Value> {
    cx.t.vpcs
        .iter()
        .map(|v| {
            let assoc: Vec<Value> = v
                .ipv4_cidrs()
                .map(|c| {
                    json!({
                        "AssociationId": format!("vpc-cidr-assoc-{}", hex(&format!("{}{c}", v.id), 17)),
                        "CidrBlock": c.to_string(),
                        "CidrBlockState": { "State": "associated" }
                    })
                })
                .collect();
            let v6: Vec<Value> = v
                .ipv6_cidr
                .iter()
                .map(|c| {
                    json!({
                        "AssociationId": format!("vpc-cidr-assoc-{}", hex(&format!("{}{c}", v.id), 17)),
                        "Ipv6CidrBlock": c.to_string(),
                        "Ipv6CidrBlockState": { "State": "associated" },
                        "NetworkBorderGroup": REGION,
                        "Ipv6Pool": "Amazon",
                        "Ipv6AddressAttribute": "public",
                        "IpSource": "amazon"
                    })
                })
                .collect();
            let mut o = json!({
                "OwnerId": OWNER,
                "InstanceTenancy": "default",
                "CidrBlockAssociationSet": assoc,
                "IsDefault": false,
                "BlockPublicAccessStates": { "InternetGatewayBlockMode": "off" },
                "VpcId": v.id,
                "State": "available",
                "CidrBlock": v.cidr.to_string(),
                "DhcpOptionsId": "dopt-0a1b2c3d4e5f60718",
                "Tags": tags(v.name.as_deref()),
            });
            if !v6.is_empty() {
                o["Ipv6CidrBlockAssociationSet"] = Value::Array(v6);
            }
            o
        })
        .collect()
}

/// `Subnets[]`.
fn subnets(cx: &Ctx<'_>) -> Vec<Value> {
    cx.t.subnets
        .iter()
        .map(|s| {
            let v6: Vec<Value> = s
                .ipv6_cidr
                .iter()
                .map(|c| {
                    json!({
                        "AssociationId": format!("subnet-cidr-assoc-{}", hex(&s.id, 17)),
                        "Ipv6CidrBlock": c.to_string(),
                        "Ipv6CidrBlockState": { "State": "associated" },
                        "Ipv6AddressAttribute": "public",
                        "IpSource": "amazon"
                    })
                })
                .collect();
            let free = (1u64 << (32 - u32::from(s.cidr.prefix_len()))).saturating_sub(5);
            json!({
                "AvailabilityZoneId": "use1-az1",
                "MapCustomerOwnedIpOnLaunch": false,
                "OwnerId": OWNER,
                "AssignIpv6AddressOnCreation": false,
                "Ipv6CidrBlockAssociationSet": v6,
                "Tags": tags(s.name.as_deref()),
                "SubnetArn": format!("arn:aws:ec2:{REGION}:{OWNER}:subnet/{}", s.id),
                "EnableDns64": false,
                "Ipv6Native": false,
                "PrivateDnsNameOptionsOnLaunch": {
                    "HostnameType": "ip-name",
                    "EnableResourceNameDnsARecord": false,
                    "EnableResourceNameDnsAAAARecord": false
                },
                "BlockPublicAccessStates": { "InternetGatewayBlockMode": "off" },
                "SubnetId": s.id,
                "State": "available",
                "VpcId": s.vpc,
                "CidrBlock": s.cidr.to_string(),
                "AvailableIpAddressCount": free,
                "AvailabilityZone": ZONE,
                "DefaultForAz": false,
                "MapPublicIpOnLaunch": false
            })
        })
        .collect()
}

/// A route's destination fields.
fn destination(d: IpNet) -> Map<String, Value> {
    let mut m = Map::new();
    match d {
        IpNet::V4(_) => m.insert("DestinationCidrBlock".into(), json!(d.to_string())),
        IpNet::V6(_) => m.insert("DestinationIpv6CidrBlock".into(), json!(d.to_string())),
    };
    m
}

/// `RouteTables[]`: the declared tables, plus the implicit main table of each VPC that
/// declares none.
fn route_tables(cx: &Ctx<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for v in &cx.t.vpcs {
        let mut tables: Vec<(String, Option<&str>, bool, &[crate::model::Route])> =
            cx.t.route_tables
                .iter()
                .filter(|r| r.vpc == v.id)
                .map(|r| (r.id.clone(), r.name.as_deref(), r.main, r.routes.as_slice()))
                .collect();
        if !tables.iter().any(|t| t.2) {
            tables.insert(0, (implicit_main_id(&v.id), None, true, &[]));
        }
        for (id, name, main, routes) in tables {
            let mut assoc = Vec::new();
            if main {
                assoc.push(json!({
                    "Main": true,
                    "RouteTableAssociationId": format!("rtbassoc-{}", hex(&id, 17)),
                    "RouteTableId": id,
                    "AssociationState": { "State": "associated" }
                }));
            }
            for s in
                cx.t.subnets
                    .iter()
                    .filter(|s| s.route_table.as_deref() == Some(id.as_str()))
            {
                assoc.push(json!({
                    "Main": false,
                    "RouteTableAssociationId": format!("rtbassoc-{}", hex(&format!("{id}{}", s.id), 17)),
                    "RouteTableId": id,
                    "SubnetId": s.id,
                    "AssociationState": { "State": "associated" }
                }));
            }
            let mut rs = Vec::new();
            for c in v.all_cidrs() {
                if routes.iter().any(|r| r.destination == c) {
                    continue;
                }
                let mut m = destination(c);
                m.insert("GatewayId".into(), json!("local"));
                m.insert("Origin".into(), json!("CreateRouteTable"));
                m.insert("State".into(), json!("active"));
                rs.push(Value::Object(m));
            }
            for r in routes {
                rs.push(route(cx, r));
            }
            out.push(json!({
                "Associations": assoc,
                "PropagatingVgws": [],
                "RouteTableId": id,
                "Routes": rs,
                "Tags": tags(name),
                "VpcId": v.id,
                "OwnerId": OWNER
            }));
        }
    }
    out
}

/// One route as AWS prints it.
fn route(cx: &Ctx<'_>, r: &crate::model::Route) -> Value {
    let mut m = destination(r.destination);
    let mut state = r.state;
    match r.target_ref() {
        RouteTargetRef::Local => {
            m.insert("GatewayId".into(), json!("local"));
        }
        RouteTargetRef::Blackhole => {
            // AWS has no explicit blackhole: a route to a deleted NAT gateway.
            let id = format!("nat-0{}", hex(&r.destination.to_string(), 16));
            m.insert("NatGatewayId".into(), json!(id));
            state = RouteState::Blackhole;
        }
        RouteTargetRef::Eni(e) => {
            if let Some((i, _)) = cx.instance_of.get(e) {
                m.insert("InstanceId".into(), json!(i));
                m.insert("InstanceOwnerId".into(), json!(OWNER));
            }
            m.insert("NetworkInterfaceId".into(), json!(e));
        }
        RouteTargetRef::InternetGateway(g) => {
            m.insert("GatewayId".into(), json!(g));
        }
        RouteTargetRef::NatGateway(n) => {
            m.insert("NatGatewayId".into(), json!(n));
        }
        RouteTargetRef::Peering(p) => {
            m.insert("VpcPeeringConnectionId".into(), json!(p));
            let pending =
                cx.t.peering_connections
                    .iter()
                    .any(|x| x.id == p && x.status == PeeringStatus::PendingAcceptance);
            if pending {
                state = RouteState::Blackhole;
            }
        }
        RouteTargetRef::Unsupported(x) | RouteTargetRef::Invalid(x) => {
            m.insert("GatewayId".into(), json!(x));
        }
    }
    m.insert("Origin".into(), json!("CreateRoute"));
    m.insert("State".into(), json!(state.as_str()));
    Value::Object(m)
}

/// A protocol as a network ACL entry prints it (`-1` or the number).
fn nacl_protocol(p: RuleProtocol) -> String {
    match p {
        RuleProtocol::All => "-1".into(),
        RuleProtocol::Number(n) => n.to_string(),
    }
}

/// One network ACL entry.
fn nacl_entry(
    egress: bool,
    rule: i64,
    protocol: RuleProtocol,
    ports: Option<crate::model::PortSpec>,
    icmp: (Option<i64>, Option<i64>),
    cidr: IpNet,
    allow: bool,
) -> Value {
    let mut m = Map::new();
    match cidr {
        IpNet::V4(_) => m.insert("CidrBlock".into(), json!(cidr.to_string())),
        IpNet::V6(_) => m.insert("Ipv6CidrBlock".into(), json!(cidr.to_string())),
    };
    m.insert("Egress".into(), json!(egress));
    if protocol.is_icmp() {
        m.insert(
            "IcmpTypeCode".into(),
            json!({ "Code": icmp.1.unwrap_or(-1), "Type": icmp.0.unwrap_or(-1) }),
        );
    }
    if protocol.has_ports() {
        let (from, to) = ports.map_or((0, 65535), |p| (p.from, p.to));
        m.insert("PortRange".into(), json!({ "From": from, "To": to }));
    }
    m.insert("Protocol".into(), json!(nacl_protocol(protocol)));
    m.insert(
        "RuleAction".into(),
        json!(if allow { "allow" } else { "deny" }),
    );
    m.insert("RuleNumber".into(), json!(rule));
    Value::Object(m)
}

/// `NetworkAcls[]`: the declared ACLs, plus each VPC's default ACL when it declares none;
/// the default ACL lists the subnets no other ACL lists.
fn network_acls(cx: &Ctx<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for v in &cx.t.vpcs {
        let mut acls: Vec<NetworkAcl> =
            cx.t.network_acls
                .iter()
                .filter(|n| n.vpc == v.id)
                .cloned()
                .collect();
        if !acls.iter().any(|n| n.default) {
            let mut everywhere = vec![IpNet::V4(Default::default())];
            if v.ipv6_cidr.is_some() {
                everywhere.push(IpNet::V6(Default::default()));
            }
            let rules: Vec<crate::model::NaclRule> = everywhere
                .iter()
                .enumerate()
                .map(|(k, c)| crate::model::NaclRule {
                    rule: 100 + i64::try_from(k).unwrap_or(0),
                    protocol: RuleProtocol::All,
                    ports: None,
                    icmp_type: None,
                    icmp_code: None,
                    cidr: *c,
                    action: crate::model::NaclAction::Allow,
                })
                .collect();
            acls.insert(
                0,
                NetworkAcl {
                    id: implicit_default_nacl_id(&v.id),
                    name: None,
                    vpc: v.id.clone(),
                    default: true,
                    subnets: Vec::new(),
                    inbound: rules.clone(),
                    outbound: rules,
                },
            );
        }
        for n in &acls {
            let mut subnets = n.subnets.clone();
            if n.default {
                for s in cx.t.subnets.iter().filter(|s| s.vpc == v.id) {
                    if !acls.iter().any(|a| a.subnets.contains(&s.id)) {
                        subnets.push(s.id.clone());
                    }
                }
            }
            let assoc: Vec<Value> = subnets
                .iter()
                .map(|s| {
                    json!({
                        "NetworkAclAssociationId": format!("aclassoc-{}", hex(&format!("{}{s}", n.id), 17)),
                        "NetworkAclId": n.id,
                        "SubnetId": s
                    })
                })
                .collect();
            let mut entries = Vec::new();
            for (egress, rules) in [(true, &n.outbound), (false, &n.inbound)] {
                for r in rules {
                    entries.push(nacl_entry(
                        egress,
                        r.rule,
                        r.protocol,
                        r.ports,
                        (r.icmp_type, r.icmp_code),
                        r.cidr,
                        r.action == crate::model::NaclAction::Allow,
                    ));
                }
                let mut deny = vec![IpNet::V4(Default::default())];
                if v.ipv6_cidr.is_some() {
                    deny.push(IpNet::V6(Default::default()));
                }
                for c in deny {
                    entries.push(nacl_entry(
                        egress,
                        32767,
                        RuleProtocol::All,
                        None,
                        (None, None),
                        c,
                        false,
                    ));
                }
            }
            out.push(json!({
                "Associations": assoc,
                "Entries": entries,
                "IsDefault": n.default,
                "NetworkAclId": n.id,
                "Tags": tags(n.name.as_deref()),
                "VpcId": v.id,
                "OwnerId": OWNER
            }));
        }
    }
    out
}

/// `IpProtocol` of a security-group rule.
fn sg_protocol(p: RuleProtocol) -> String {
    match p {
        RuleProtocol::All => "-1".into(),
        RuleProtocol::Number(PROTO_TCP) => "tcp".into(),
        RuleProtocol::Number(PROTO_UDP) => "udp".into(),
        RuleProtocol::Number(PROTO_ICMP) => "icmp".into(),
        RuleProtocol::Number(PROTO_ICMPV6) => "icmpv6".into(),
        RuleProtocol::Number(n) => n.to_string(),
    }
}

/// `FromPort`/`ToPort` of a rule, if it prints them.
fn sg_ports(r: &SgRuleSpec) -> Option<(i64, i64)> {
    if r.protocol.has_ports() {
        Some(
            r.ports
                .map_or((0, 65535), |p| (i64::from(p.from), i64::from(p.to))),
        )
    } else if r.protocol.is_icmp() {
        Some((r.icmp_type.unwrap_or(-1), r.icmp_code.unwrap_or(-1)))
    } else {
        None
    }
}

/// The rules of a group, implicit defaults written out: (inbound, outbound).
fn group_rules(cx: &Ctx<'_>, g: &SecurityGroup) -> (Vec<SgRuleSpec>, Vec<SgRuleSpec>) {
    let outbound = g.outbound.clone().unwrap_or_else(|| {
        let v6 = cx.vpc_rec(&g.vpc).is_some_and(|v| v.ipv6_cidr.is_some());
        let mut out = vec![all_to(IpNet::V4(Default::default()), false)];
        if v6 {
            out.push(all_to(IpNet::V6(Default::default()), false));
        }
        out
    });
    (g.inbound.clone(), outbound)
}

/// All traffic to or from `c`.
fn all_to(c: IpNet, inbound: bool) -> SgRuleSpec {
    let peer = RulePeer::Cidr(c);
    SgRuleSpec {
        protocol: RuleProtocol::All,
        ports: None,
        icmp_type: None,
        icmp_code: None,
        source: inbound.then(|| peer.clone()),
        destination: (!inbound).then_some(peer),
        description: None,
    }
}

/// What groups rules into one `IpPermission`: protocol, `FromPort`/`ToPort`.
type PermKey = (RuleProtocol, Option<(i64, i64)>);

/// `IpPermissions`: rules grouped by protocol and ports, as AWS lists them.
fn permissions(cx: &Ctx<'_>, g: &SecurityGroup, rules: &[SgRuleSpec]) -> Vec<Value> {
    let mut order: Vec<PermKey> = Vec::new();
    let mut by: HashMap<PermKey, Map<String, Value>> = HashMap::new();
    for r in rules {
        let key = (r.protocol, sg_ports(r));
        let m = by.entry(key).or_insert_with(|| {
            order.push(key);
            let mut m = Map::new();
            m.insert("IpProtocol".into(), json!(sg_protocol(r.protocol)));
            if let Some((f, t)) = key.1 {
                m.insert("FromPort".into(), json!(f));
                m.insert("ToPort".into(), json!(t));
            }
            for k in [
                "UserIdGroupPairs",
                "IpRanges",
                "Ipv6Ranges",
                "PrefixListIds",
            ] {
                m.insert(k.into(), json!([]));
            }
            m
        });
        let mut peer = Map::new();
        if let Some(d) = &r.description {
            peer.insert("Description".into(), json!(d));
        }
        let list = match r.peer() {
            Some(RulePeer::Cidr(c @ IpNet::V4(_))) => {
                peer.insert("CidrIp".into(), json!(c.to_string()));
                "IpRanges"
            }
            Some(RulePeer::Cidr(c)) => {
                peer.insert("CidrIpv6".into(), json!(c.to_string()));
                "Ipv6Ranges"
            }
            Some(RulePeer::PrefixList(pl)) => {
                peer.insert("PrefixListId".into(), json!(pl));
                "PrefixListIds"
            }
            Some(RulePeer::Group(id)) => {
                peer.insert("UserId".into(), json!(OWNER));
                peer.insert("GroupId".into(), json!(id));
                if let Some((vpc, _)) = cx.groups.get(id) {
                    if vpc != &g.vpc {
                        peer.insert("VpcId".into(), json!(vpc));
                        let pcx = cx.t.peering_connections.iter().find(|p| {
                            (p.requester_vpc == *vpc && p.accepter_vpc == g.vpc)
                                || (p.accepter_vpc == *vpc && p.requester_vpc == g.vpc)
                        });
                        if let Some(p) = pcx {
                            peer.insert("VpcPeeringConnectionId".into(), json!(p.id));
                            peer.insert("PeeringStatus".into(), json!(p.status.as_str()));
                        }
                    }
                }
                "UserIdGroupPairs"
            }
            None => continue,
        };
        if let Some(Value::Array(a)) = m.get_mut(list) {
            a.push(Value::Object(peer));
        }
    }
    order
        .into_iter()
        .filter_map(|k| by.remove(&k).map(Value::Object))
        .collect()
}

/// Every group, the implicit default groups included (first for their VPC).
fn all_groups(cx: &Ctx<'_>) -> Vec<SecurityGroup> {
    let mut out = Vec::new();
    for v in &cx.t.vpcs {
        let declared = cx.t.security_groups.iter().filter(|g| g.vpc == v.id);
        if !cx
            .t
            .security_groups
            .iter()
            .any(|g| g.vpc == v.id && g.default)
        {
            let id = implicit_default_sg_id(&v.id);
            out.push(SecurityGroup {
                id: id.clone(),
                vpc: v.id.clone(),
                name: Some("default".into()),
                description: Some("default VPC security group".into()),
                default: true,
                inbound: vec![SgRuleSpec {
                    source: Some(RulePeer::Group(id)),
                    ..all_to(IpNet::V4(Default::default()), true)
                }],
                outbound: None,
            });
        }
        out.extend(declared.cloned());
    }
    out
}

/// `SecurityGroups[]`.
fn security_groups(cx: &Ctx<'_>) -> Vec<Value> {
    all_groups(cx)
        .iter()
        .map(|g| {
            let (inbound, outbound) = group_rules(cx, g);
            json!({
                "GroupId": g.id,
                "IpPermissionsEgress": permissions(cx, g, &outbound),
                "Tags": [],
                "VpcId": g.vpc,
                "SecurityGroupArn": format!("arn:aws:ec2:{REGION}:{OWNER}:security-group/{}", g.id),
                "OwnerId": OWNER,
                "GroupName": g.name.clone().unwrap_or_else(|| g.id.clone()),
                "Description": g.description.clone().unwrap_or_else(|| "imported".into()),
                "IpPermissions": permissions(cx, g, &inbound),
            })
        })
        .collect()
}

/// `SecurityGroupRules[]` (`aws ec2 describe-security-group-rules`): the same rules, one
/// per entry.
pub(super) fn security_group_rules(t: &Topology) -> Value {
    let cx = Ctx::new(t);
    let mut out = Vec::new();
    for g in all_groups(&cx) {
        let (inbound, outbound) = group_rules(&cx, &g);
        for (egress, rules) in [(false, inbound), (true, outbound)] {
            for r in rules {
                let id = format!("sgr-{}", hex(&format!("{}{}{r:?}", g.id, egress), 17));
                let mut m = Map::new();
                m.insert("SecurityGroupRuleId".into(), json!(id));
                m.insert("GroupId".into(), json!(g.id));
                m.insert("GroupOwnerId".into(), json!(OWNER));
                m.insert("IsEgress".into(), json!(egress));
                m.insert("IpProtocol".into(), json!(sg_protocol(r.protocol)));
                let (f, to) = sg_ports(&r).unwrap_or((-1, -1));
                m.insert("FromPort".into(), json!(f));
                m.insert("ToPort".into(), json!(to));
                match r.peer() {
                    Some(RulePeer::Cidr(c @ IpNet::V4(_))) => {
                        m.insert("CidrIpv4".into(), json!(c.to_string()));
                    }
                    Some(RulePeer::Cidr(c)) => {
                        m.insert("CidrIpv6".into(), json!(c.to_string()));
                    }
                    Some(RulePeer::PrefixList(p)) => {
                        m.insert("PrefixListId".into(), json!(p));
                    }
                    Some(RulePeer::Group(x)) => {
                        let vpc = cx.groups.get(x).map(|v| v.0.clone());
                        m.insert(
                            "ReferencedGroupInfo".into(),
                            json!({ "GroupId": x, "UserId": OWNER, "VpcId": vpc }),
                        );
                    }
                    None => {}
                }
                if let Some(d) = &r.description {
                    m.insert("Description".into(), json!(d));
                }
                m.insert("Tags".into(), json!([]));
                m.insert(
                    "SecurityGroupRuleArn".into(),
                    json!(format!(
                        "arn:aws:ec2:{REGION}:{OWNER}:security-group-rule/{id}"
                    )),
                );
                out.push(Value::Object(m));
            }
        }
    }
    json!({ "SecurityGroupRules": out })
}

/// The Elastic IP on an ENI's private address, if any.
fn eip_on<'a>(
    cx: &Ctx<'a>,
    eni: &crate::model::Eni,
    ip: Ipv4Addr,
) -> Option<&'a crate::model::ElasticIp> {
    cx.t.elastic_ips.iter().find(|e| {
        e.eni.as_deref() == Some(eni.id.as_str()) && e.private_ip.unwrap_or(eni.private_ip) == ip
    })
}

/// An ENI as `describe-network-interfaces` (`instance` false) or `describe-instances`
/// prints it.
fn eni_json(cx: &Ctx<'_>, e: &crate::model::Eni, in_instance: bool) -> Value {
    let vpc = cx.vpc(&e.subnet);
    let groups: Vec<Value> = e
        .security_groups
        .clone()
        .unwrap_or_else(|| cx.default_sg.get(vpc).cloned().into_iter().collect())
        .iter()
        .map(|g| {
            let name = cx.groups.get(g).map(|x| x.1.clone()).unwrap_or_default();
            json!({ "GroupId": g, "GroupName": name })
        })
        .collect();
    let assoc = |ip: Ipv4Addr, primary: bool| -> Option<Value> {
        if let Some(eip) = eip_on(cx, e, ip) {
            let mut a = json!({
                "IpOwnerId": OWNER,
                "PublicDnsName": "",
                "PublicIp": eip.public_ip.to_string()
            });
            if !in_instance {
                a["AllocationId"] = json!(eip.id);
                a["AssociationId"] = json!(format!("eipassoc-{}", hex(&eip.id, 17)));
            }
            return Some(a);
        }
        let public = e.public_ip.filter(|_| primary)?;
        Some(json!({
            "IpOwnerId": "amazon",
            "PublicDnsName": format!("ec2-{}.compute-1.amazonaws.com", public.to_string().replace('.', "-")),
            "PublicIp": public.to_string()
        }))
    };
    let addrs: Vec<Value> = e
        .ipv4_addrs()
        .enumerate()
        .map(|(k, ip)| {
            let mut a = json!({
                "Primary": k == 0,
                "PrivateDnsName": dns(ip),
                "PrivateIpAddress": ip.to_string()
            });
            if let Some(x) = assoc(ip, k == 0) {
                a["Association"] = x;
            }
            a
        })
        .collect();
    let mac = e.mac.unwrap_or_else(|| eni_mac(&e.id));
    let mut m = json!({
        "Description": "",
        "Groups": groups,
        "InterfaceType": "interface",
        "Ipv6Addresses": e.ipv6_ips.iter().map(|a| json!({ "Ipv6Address": a.to_string(), "IsPrimaryIpv6": false })).collect::<Vec<_>>(),
        "MacAddress": mac.to_string(),
        "NetworkInterfaceId": e.id,
        "OwnerId": OWNER,
        "PrivateDnsName": dns(e.private_ip),
        "PrivateIpAddress": e.private_ip.to_string(),
        "PrivateIpAddresses": addrs,
        "SourceDestCheck": e.source_dest_check,
        "Status": if e.netns.is_some() { "in-use" } else { "available" },
        "SubnetId": e.subnet,
        "VpcId": vpc,
    });
    if let Some(a) = assoc(e.private_ip, true) {
        m["Association"] = a;
    }
    if let Some(c) = &e.conntrack {
        let mut ct = Map::new();
        for (k, v) in [
            ("TcpEstablishedTimeout", c.tcp_established_timeout),
            ("UdpStreamTimeout", c.udp_stream_timeout),
            ("UdpTimeout", c.udp_timeout),
        ] {
            if let Some(v) = v {
                ct.insert(k.into(), json!(v));
            }
        }
        m["ConnectionTrackingConfiguration"] = Value::Object(ct);
    }
    if let Some((inst, dev)) = cx.instance_of.get(e.id.as_str()) {
        let mut att = json!({
            "AttachTime": TIME,
            "AttachmentId": format!("eni-attach-{}", hex(&e.id, 17)),
            "DeleteOnTermination": *dev == 0,
            "DeviceIndex": dev,
            "NetworkCardIndex": 0,
            "Status": "attached"
        });
        if !in_instance {
            att["InstanceId"] = json!(inst);
            att["InstanceOwnerId"] = json!(OWNER);
        }
        m["Attachment"] = att;
    }
    if !in_instance {
        m["AvailabilityZone"] = json!(ZONE);
        m["RequesterManaged"] = json!(false);
        m["TagSet"] = tags(e.name.as_deref());
    }
    m
}

/// `NetworkInterfaces[]`: the ENIs, then the NAT gateways' interfaces.
fn network_interfaces(cx: &Ctx<'_>) -> Vec<Value> {
    let mut out: Vec<Value> = cx.t.enis.iter().map(|e| eni_json(cx, e, false)).collect();
    for (k, n) in cx.t.nat_gateways.iter().enumerate() {
        let id = nat_gateway_interface_id(n);
        let addrs = cx.nat_addrs.get(k).cloned().unwrap_or_default();
        let allocs: Vec<Option<&String>> = std::iter::once(n.allocation_id.as_ref())
            .chain(n.secondary_allocation_ids.iter().map(Some))
            .collect();
        let list: Vec<Value> = addrs
            .iter()
            .enumerate()
            .map(|(j, ip)| {
                let mut a = json!({
                    "Primary": j == 0,
                    "PrivateDnsName": dns(*ip),
                    "PrivateIpAddress": ip.to_string()
                });
                let eip = allocs
                    .get(j)
                    .copied()
                    .flatten()
                    .and_then(|al| cx.t.elastic_ips.iter().find(|e| &e.id == al));
                if let Some(eip) = eip {
                    a["Association"] = json!({
                        "AllocationId": eip.id,
                        "AssociationId": format!("eipassoc-{}", hex(&eip.id, 17)),
                        "IpOwnerId": OWNER,
                        "PublicDnsName": "",
                        "PublicIp": eip.public_ip.to_string()
                    });
                }
                a
            })
            .collect();
        let mut m = json!({
            "AvailabilityZone": ZONE,
            "Description": format!("Interface for NAT Gateway {}", n.id),
            "Groups": [],
            "InterfaceType": "nat_gateway",
            "Ipv6Addresses": [],
            "MacAddress": eni_mac(&id).to_string(),
            "NetworkInterfaceId": id,
            "OwnerId": OWNER,
            "PrivateIpAddresses": list,
            "RequesterId": "441000012345",
            "RequesterManaged": true,
            "SourceDestCheck": false,
            "Status": "in-use",
            "SubnetId": n.subnet,
            "TagSet": [],
            "VpcId": cx.vpc(&n.subnet)
        });
        if let Some(p) = addrs.first() {
            m["PrivateIpAddress"] = json!(p.to_string());
            m["PrivateDnsName"] = json!(dns(*p));
        }
        out.push(m);
    }
    out
}

/// `Reservations[]`: one instance per namespace.
fn reservations(cx: &Ctx<'_>) -> Vec<Value> {
    let mut by_instance: BTreeMap<String, Vec<&crate::model::Eni>> = BTreeMap::new();
    let mut order = Vec::new();
    for e in &cx.t.enis {
        if let Some((i, _)) = cx.instance_of.get(e.id.as_str()) {
            if !by_instance.contains_key(i) {
                order.push(i.clone());
            }
            by_instance.entry(i.clone()).or_default().push(e);
        }
    }
    order
        .iter()
        .map(|i| {
            let enis = by_instance.get(i).cloned().unwrap_or_default();
            let Some(primary) = enis.first() else {
                return json!({});
            };
            let vpc = cx.vpc(&primary.subnet);
            let name = primary
                .name
                .clone()
                .or_else(|| primary.netns.clone())
                .unwrap_or_default();
            let nis: Vec<Value> = enis.iter().map(|e| eni_json(cx, e, true)).collect();
            let groups = eni_json(cx, primary, true)["Groups"].clone();
            let mut inst = json!({
                "AmiLaunchIndex": 0,
                "ImageId": "ami-0c02fb55956c7d316",
                "InstanceId": i,
                "InstanceType": "t3.micro",
                "LaunchTime": TIME,
                "Monitoring": { "State": "disabled" },
                "Placement": { "AvailabilityZone": ZONE, "GroupName": "", "Tenancy": "default" },
                "PrivateDnsName": dns(primary.private_ip),
                "PrivateIpAddress": primary.private_ip.to_string(),
                "ProductCodes": [],
                "PublicDnsName": "",
                "State": { "Code": 16, "Name": "running" },
                "StateTransitionReason": "",
                "SubnetId": primary.subnet,
                "VpcId": vpc,
                "Architecture": "x86_64",
                "BlockDeviceMappings": [],
                "ClientToken": "",
                "EbsOptimized": false,
                "EnaSupport": true,
                "Hypervisor": "xen",
                "NetworkInterfaces": nis,
                "RootDeviceName": "/dev/xvda",
                "RootDeviceType": "ebs",
                "SecurityGroups": groups,
                "SourceDestCheck": primary.source_dest_check,
                "Tags": [{ "Key": "Name", "Value": name }],
                "VirtualizationType": "hvm",
                "CpuOptions": { "CoreCount": 1, "ThreadsPerCore": 2 },
                "MetadataOptions": {
                    "State": "applied",
                    "HttpTokens": "required",
                    "HttpPutResponseHopLimit": 2,
                    "HttpEndpoint": "enabled",
                    "HttpProtocolIpv6": "disabled",
                    "InstanceMetadataTags": "disabled"
                },
                "PlatformDetails": "Linux/UNIX",
                "UsageOperation": "RunInstances",
                "UsageOperationUpdateTime": TIME,
                "CurrentInstanceBootMode": "legacy-bios"
            });
            let public = eip_on(cx, primary, primary.private_ip)
                .map(|e| e.public_ip)
                .or(primary.public_ip);
            if let Some(p) = public {
                inst["PublicIpAddress"] = json!(p.to_string());
            }
            json!({
                "Groups": [],
                "Instances": [inst],
                "OwnerId": OWNER,
                "ReservationId": format!("r-{}", hex(i, 17))
            })
        })
        .collect()
}

/// `Addresses[]`.
fn addresses(cx: &Ctx<'_>) -> Vec<Value> {
    cx.t.elastic_ips
        .iter()
        .map(|e| {
            let mut m = json!({
                "AllocationId": e.id,
                "Domain": "vpc",
                "PublicIp": e.public_ip.to_string(),
                "PublicIpv4Pool": "amazon",
                "NetworkBorderGroup": REGION,
                "Tags": tags(e.name.as_deref()),
            });
            let mut held = None;
            if let Some(eni) = e
                .eni
                .as_ref()
                .and_then(|x| cx.t.enis.iter().find(|y| &y.id == x))
            {
                held = Some((eni.id.clone(), e.private_ip.unwrap_or(eni.private_ip)));
                if let Some((i, _)) = cx.instance_of.get(eni.id.as_str()) {
                    m["InstanceId"] = json!(i);
                }
            }
            for (k, n) in cx.t.nat_gateways.iter().enumerate() {
                let allocs = std::iter::once(n.allocation_id.as_ref())
                    .chain(n.secondary_allocation_ids.iter().map(Some));
                for (j, al) in allocs.enumerate() {
                    if al == Some(&e.id) {
                        let ip = cx.nat_addrs.get(k).and_then(|a| a.get(j)).copied();
                        if let Some(ip) = ip {
                            held = Some((nat_gateway_interface_id(n), ip));
                        }
                    }
                }
            }
            if let Some((eni, ip)) = held {
                m["AssociationId"] = json!(format!("eipassoc-{}", hex(&e.id, 17)));
                m["NetworkInterfaceId"] = json!(eni);
                m["NetworkInterfaceOwnerId"] = json!(OWNER);
                m["PrivateIpAddress"] = json!(ip.to_string());
            }
            m
        })
        .collect()
}

/// `NatGateways[]`.
fn nat_gateways(cx: &Ctx<'_>) -> Vec<Value> {
    cx.t.nat_gateways
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let addrs = cx.nat_addrs.get(k).cloned().unwrap_or_default();
            let eni = nat_gateway_interface_id(n);
            let allocs: Vec<Option<&String>> = std::iter::once(n.allocation_id.as_ref())
                .chain(n.secondary_allocation_ids.iter().map(Some))
                .collect();
            let list: Vec<Value> = addrs
                .iter()
                .enumerate()
                .map(|(j, ip)| {
                    let mut a = json!({
                        "NetworkInterfaceId": eni,
                        "PrivateIp": ip.to_string(),
                        "IsPrimary": j == 0,
                        "Status": "succeeded"
                    });
                    let al = allocs.get(j).copied().flatten();
                    if let (NatConnectivity::Public, Some(al)) = (n.connectivity, al) {
                        a["AllocationId"] = json!(al);
                        a["AssociationId"] = json!(format!("eipassoc-{}", hex(al, 17)));
                        if let Some(e) = cx.t.elastic_ips.iter().find(|e| &e.id == al) {
                            a["PublicIp"] = json!(e.public_ip.to_string());
                        }
                    }
                    a
                })
                .collect();
            json!({
                "CreateTime": TIME,
                "NatGatewayAddresses": list,
                "NatGatewayId": n.id,
                "State": "available",
                "SubnetId": n.subnet,
                "VpcId": cx.vpc(&n.subnet),
                "Tags": tags(n.name.as_deref()),
                "ConnectivityType": n.connectivity.as_str(),
                "AvailabilityMode": "zonal"
            })
        })
        .collect()
}

/// `InternetGateways[]`.
fn internet_gateways(cx: &Ctx<'_>) -> Vec<Value> {
    cx.t.internet_gateways
        .iter()
        .map(|g| {
            json!({
                "Attachments": [{ "State": "available", "VpcId": g.vpc }],
                "InternetGatewayId": g.id,
                "OwnerId": OWNER,
                "Tags": tags(g.name.as_deref())
            })
        })
        .collect()
}

/// One side of a peering connection.
fn peer_info(cx: &Ctx<'_>, vpc: &str, with_cidrs: bool) -> Value {
    let mut m = json!({
        "OwnerId": OWNER,
        "VpcId": vpc,
        "Region": REGION
    });
    if let (true, Some(v)) = (with_cidrs, cx.vpc_rec(vpc)) {
        m["CidrBlock"] = json!(v.cidr.to_string());
        m["CidrBlockSet"] = json!(v
            .ipv4_cidrs()
            .map(|c| json!({ "CidrBlock": c.to_string() }))
            .collect::<Vec<_>>());
        m["PeeringOptions"] = json!({
            "AllowDnsResolutionFromRemoteVpc": false,
            "AllowEgressFromLocalClassicLinkToRemoteVpc": false,
            "AllowEgressFromLocalVpcToRemoteClassicLink": false
        });
    }
    m
}

/// `VpcPeeringConnections[]`.
fn peerings(cx: &Ctx<'_>) -> Vec<Value> {
    cx.t.peering_connections
        .iter()
        .map(|p| {
            let active = p.status == PeeringStatus::Active;
            let message = if active {
                "Active".to_string()
            } else {
                format!("Pending Acceptance by {OWNER}")
            };
            json!({
                "AccepterVpcInfo": peer_info(cx, &p.accepter_vpc, active),
                "RequesterVpcInfo": peer_info(cx, &p.requester_vpc, true),
                "Status": { "Code": p.status.as_str(), "Message": message },
                "Tags": tags(p.name.as_deref()),
                "VpcPeeringConnectionId": p.id
            })
        })
        .collect()
}

/// `PrefixLists[]`.
fn prefix_lists(cx: &Ctx<'_>) -> Vec<Value> {
    cx.t.prefix_lists
        .iter()
        .map(|pl| {
            let family = if pl.entries.first().is_some_and(|e| e.addr().is_ipv6()) {
                "IPv6"
            } else {
                "IPv4"
            };
            let max = pl
                .max_entries
                .unwrap_or(i64::try_from(pl.entries.len()).unwrap_or(1));
            json!({
                "PrefixListId": pl.id,
                "AddressFamily": family,
                "State": "create-complete",
                "PrefixListArn": format!("arn:aws:ec2:{REGION}:{OWNER}:prefix-list/{}", pl.id),
                "PrefixListName": pl.name.clone().unwrap_or_else(|| pl.id.clone()),
                "MaxEntries": max,
                "Version": 1,
                "Tags": [],
                "OwnerId": OWNER
            })
        })
        .collect()
}
