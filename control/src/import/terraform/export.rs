//! Test only: a topology as the `terraform show -json` of a state that would have built
//! it, for the round-trip test (export, import back, compare the compiled tables).
//!
//! Every ENI becomes an `aws_instance` (its primary network interface; `Name` tag = its
//! namespace). The resources of the first VPC sit in the root module, those of the other
//! VPCs in `module.<vpc id>`. To cover every importer, the forms alternate: the first
//! VPC's main table is an `aws_route_table` with an `aws_main_route_table_association`,
//! other VPCs' an `aws_default_route_table`; a table's odd routes are `aws_route`
//! resources; a custom NACL's outbound rules are `aws_network_acl_rule` resources (and
//! listed inline too, as a state does); security-group rules naming a group are
//! `aws_vpc_security_group_{ingress,egress}_rule`, those naming a prefix list
//! `aws_security_group_rule`, the others inline. A `blackhole` route target becomes a
//! transit gateway (which the importer blackholes). Not exported: what Terraform has no
//! resource for here (internet hosts and segments, MTUs, conntrack settings, flow logs,
//! captures, mirrors, `[lab]`).

use std::collections::HashMap;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use crate::model::{
    NaclAction, NaclRule, PortSpec, Route, RouteState, RulePeer, RuleProtocol, SgRuleSpec, Topology,
};
use crate::names::{
    implicit_default_nacl_id, implicit_default_sg_id, implicit_main_id, nat_gateway_addresses,
    nat_gateway_interface_id,
};

/// Resources per module address (`""` = root), in order.
#[derive(Default)]
struct Modules {
    order: Vec<String>,
    resources: HashMap<String, Vec<Value>>,
}

impl Modules {
    /// Adds a resource of `rtype` named `name` with `values` to module `module`.
    fn add(&mut self, module: &str, rtype: &str, name: &str, values: Value) -> String {
        let local = format!("{rtype}.{}", tf_name(name));
        let address = if module.is_empty() {
            local
        } else {
            format!("{module}.{local}")
        };
        if !self.resources.contains_key(module) {
            self.order.push(module.to_string());
        }
        self.resources
            .entry(module.to_string())
            .or_default()
            .push(json!({
                "address": address,
                "mode": "managed",
                "type": rtype,
                "name": tf_name(name),
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "schema_version": 0,
                "values": values,
                "sensitive_values": {},
            }));
        address
    }
}

/// A Terraform resource name for an id.
fn tf_name(id: &str) -> String {
    id.replace(['.', '/'], "_")
}

/// `{"Name": name}` or `{}`.
fn tags(name: &Option<String>) -> Value {
    match name {
        Some(n) => json!({ "Name": n }),
        None => json!({}),
    }
}

/// Terraform's protocol string.
fn proto(p: RuleProtocol) -> String {
    match p {
        RuleProtocol::All => "-1".into(),
        RuleProtocol::Number(6) => "tcp".into(),
        RuleProtocol::Number(17) => "udp".into(),
        RuleProtocol::Number(1) => "icmp".into(),
        RuleProtocol::Number(n) => n.to_string(),
    }
}

/// `(from_port, to_port)` of a rule as the EC2 API writes it.
fn ports(p: RuleProtocol, ports: Option<PortSpec>, icmp: (Option<i64>, Option<i64>)) -> (i64, i64) {
    if p.has_ports() {
        ports.map_or((0, 65535), |s| (i64::from(s.from), i64::from(s.to)))
    } else if p.is_icmp() {
        (icmp.0.unwrap_or(-1), icmp.1.unwrap_or(-1))
    } else {
        (0, 0)
    }
}

/// A state for `t`.
pub(super) fn state(t: &Topology) -> Value {
    let mut m = Modules::default();
    let module_of_vpc: HashMap<&str, String> = t
        .vpcs
        .iter()
        .enumerate()
        .map(|(n, v)| {
            (
                v.id.as_str(),
                if n == 0 {
                    String::new()
                } else {
                    format!("module.{}", tf_name(&v.id))
                },
            )
        })
        .collect();
    let vpc_of_subnet: HashMap<&str, &str> = t
        .subnets
        .iter()
        .map(|s| (s.id.as_str(), s.vpc.as_str()))
        .collect();
    let module = |vpc: &str| module_of_vpc.get(vpc).cloned().unwrap_or_default();
    let eni_module = |subnet: &str| module(vpc_of_subnet.get(subnet).copied().unwrap_or(""));
    let main_of = |vpc: &str| {
        t.route_tables
            .iter()
            .find(|r| r.vpc == vpc && r.main)
            .map_or_else(|| implicit_main_id(vpc), |r| r.id.clone())
    };
    let default_sg = |vpc: &str| {
        t.security_groups
            .iter()
            .find(|g| g.vpc == vpc && g.default)
            .map_or_else(|| implicit_default_sg_id(vpc), |g| g.id.clone())
    };
    let default_acl = |vpc: &str| {
        t.network_acls
            .iter()
            .find(|n| n.vpc == vpc && n.default)
            .map_or_else(|| implicit_default_nacl_id(vpc), |n| n.id.clone())
    };

    for v in &t.vpcs {
        m.add(
            &module(&v.id),
            "aws_vpc",
            &v.id,
            json!({
                "id": v.id,
                "cidr_block": v.cidr.to_string(),
                "ipv6_cidr_block": v.ipv6_cidr.map(|c| c.to_string()).unwrap_or_default(),
                "tags": tags(&v.name),
                "default_security_group_id": default_sg(&v.id),
                "default_network_acl_id": default_acl(&v.id),
                "default_route_table_id": main_of(&v.id),
                "main_route_table_id": main_of(&v.id),
            }),
        );
        for (n, c) in v.secondary_cidrs.iter().enumerate() {
            m.add(
                &module(&v.id),
                "aws_vpc_ipv4_cidr_block_association",
                &format!("{}-{n}", v.id),
                json!({
                    "id": format!("vpc-cidr-assoc-{n}"),
                    "vpc_id": v.id,
                    "cidr_block": c.to_string(),
                }),
            );
        }
    }
    for p in &t.prefix_lists {
        let family = if p.entries.iter().any(|e| matches!(e, IpNet::V6(_))) {
            "IPv6"
        } else {
            "IPv4"
        };
        m.add("", "aws_ec2_managed_prefix_list", &p.id, json!({
            "id": p.id,
            "name": p.name.clone().unwrap_or_default(),
            "address_family": family,
            "max_entries": p.max_entries.unwrap_or(p.entries.len() as i64),
            "entry": p.entries.iter().map(|e| json!({"cidr": e.to_string(), "description": ""})).collect::<Vec<_>>(),
        }));
    }
    for s in &t.subnets {
        m.add(
            &module(&s.vpc),
            "aws_subnet",
            &s.id,
            json!({
                "id": s.id,
                "vpc_id": s.vpc,
                "cidr_block": s.cidr.to_string(),
                "ipv6_cidr_block": s.ipv6_cidr.map(|c| c.to_string()).unwrap_or_default(),
                "map_public_ip_on_launch": false,
                "tags": tags(&s.name),
            }),
        );
    }
    for g in &t.internet_gateways {
        m.add(
            &module(&g.vpc),
            "aws_internet_gateway",
            &g.id,
            json!({
                "id": g.id, "vpc_id": g.vpc, "tags": tags(&g.name),
            }),
        );
    }
    // Security groups.
    let vpc_v6: HashMap<&str, bool> = t
        .vpcs
        .iter()
        .map(|v| (v.id.as_str(), v.ipv6_cidr.is_some()))
        .collect();
    for g in &t.security_groups {
        let md = module(&g.vpc);
        let mut inline = [Vec::new(), Vec::new()];
        let mut standalone = Vec::new();
        let outbound = g.outbound.clone().unwrap_or_else(|| {
            let mut all = vec![IpNet::V4(Default::default())];
            if vpc_v6.get(g.vpc.as_str()).copied().unwrap_or(false) {
                all.push(IpNet::V6(Default::default()));
            }
            all.into_iter()
                .map(|c| SgRuleSpec {
                    protocol: RuleProtocol::All,
                    ports: None,
                    icmp_type: None,
                    icmp_code: None,
                    source: None,
                    destination: Some(RulePeer::Cidr(c)),
                    description: None,
                })
                .collect()
        });
        for (n, rules) in [&g.inbound, &outbound].into_iter().enumerate() {
            for r in rules {
                match r.peer() {
                    Some(RulePeer::Group(_) | RulePeer::PrefixList(_)) => {
                        standalone.push((n == 1, r.clone()))
                    }
                    _ => inline[n].push(sg_element(r, &g.id)),
                }
            }
        }
        let [ingress, egress] = inline;
        let (rtype, mut values) = if g.default {
            (
                "aws_default_security_group",
                json!({"id": g.id, "vpc_id": g.vpc, "name": "default"}),
            )
        } else {
            (
                "aws_security_group",
                json!({"id": g.id, "vpc_id": g.vpc, "name": g.name.clone().unwrap_or_default()}),
            )
        };
        if let Some(o) = values.as_object_mut() {
            o.insert(
                "description".into(),
                json!(g.description.clone().unwrap_or_default()),
            );
            o.insert("ingress".into(), json!(ingress));
            o.insert("egress".into(), json!(egress));
        }
        m.add(&md, rtype, &g.id, values);
        for (n, (egress, r)) in standalone.into_iter().enumerate() {
            let (from, to) = ports(r.protocol, r.ports, (r.icmp_type, r.icmp_code));
            let name = format!("{}-{n}", g.id);
            match r.peer() {
                Some(RulePeer::Group(peer)) => {
                    let rtype = if egress {
                        "aws_vpc_security_group_egress_rule"
                    } else {
                        "aws_vpc_security_group_ingress_rule"
                    };
                    let all = r.protocol == RuleProtocol::All;
                    m.add(
                        &md,
                        rtype,
                        &name,
                        json!({
                            "id": format!("sgr-{n}"),
                            "security_group_id": g.id,
                            "ip_protocol": proto(r.protocol),
                            "from_port": if all { Value::Null } else { json!(from) },
                            "to_port": if all { Value::Null } else { json!(to) },
                            "referenced_security_group_id": peer,
                            "cidr_ipv4": null, "cidr_ipv6": null, "prefix_list_id": null,
                            "description": r.description,
                        }),
                    );
                }
                Some(RulePeer::PrefixList(pl)) => {
                    m.add(
                        &md,
                        "aws_security_group_rule",
                        &name,
                        json!({
                            "id": format!("sgrule-{n}"),
                            "type": if egress { "egress" } else { "ingress" },
                            "security_group_id": g.id,
                            "protocol": proto(r.protocol),
                            "from_port": from, "to_port": to,
                            "cidr_blocks": [], "ipv6_cidr_blocks": [],
                            "prefix_list_ids": [pl],
                            "source_security_group_id": null, "self": false,
                            "description": r.description,
                        }),
                    );
                }
                _ => {}
            }
        }
    }
    // Instances (one per ENI) and their Elastic IPs.
    for e in &t.enis {
        let suffix = e.id.strip_prefix("eni-").unwrap_or(&e.id);
        let vpc = vpc_of_subnet.get(e.subnet.as_str()).copied().unwrap_or("");
        let groups = e
            .security_groups
            .clone()
            .unwrap_or_else(|| vec![default_sg(vpc)]);
        let eip = t.elastic_ips.iter().find(|x| {
            x.eni.as_deref() == Some(&e.id) && x.private_ip.is_none_or(|p| p == e.private_ip)
        });
        let public = eip.map(|x| x.public_ip).or(e.public_ip);
        m.add(&eni_module(&e.subnet), "aws_instance", &e.id, json!({
            "id": format!("i-{suffix}"),
            "primary_network_interface_id": e.id,
            "subnet_id": e.subnet,
            "private_ip": e.private_ip.to_string(),
            "secondary_private_ips": e.secondary_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "ipv6_addresses": e.ipv6_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "vpc_security_group_ids": groups,
            "security_groups": [],
            "source_dest_check": e.source_dest_check,
            "associate_public_ip_address": e.public_ip.is_some(),
            "public_ip": public.map(|p| p.to_string()).unwrap_or_default(),
            "tags": tags(&e.netns.clone().or(e.name.clone())),
        }));
    }
    let nat_addrs = nat_gateway_addresses(t);
    for x in &t.elastic_ips {
        let nat = t.nat_gateways.iter().enumerate().find(|(_, n)| {
            n.allocation_id.as_deref() == Some(&x.id) || n.secondary_allocation_ids.contains(&x.id)
        });
        let (eni, instance, private) = match (&x.eni, nat) {
            (_, Some((k, n))) => {
                let addrs = nat_addrs[k].clone().unwrap_or_default();
                let at = if n.allocation_id.as_deref() == Some(&x.id) {
                    0
                } else {
                    1 + n
                        .secondary_allocation_ids
                        .iter()
                        .position(|a| *a == x.id)
                        .unwrap_or(0)
                };
                (
                    nat_gateway_interface_id(n),
                    String::new(),
                    addrs.get(at).map(ToString::to_string).unwrap_or_default(),
                )
            }
            (Some(eni), None) => {
                let primary = t.enis.iter().find(|e| &e.id == eni).map(|e| e.private_ip);
                let suffix = eni.strip_prefix("eni-").unwrap_or(eni);
                (
                    eni.clone(),
                    format!("i-{suffix}"),
                    x.private_ip
                        .or(primary)
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                )
            }
            (None, None) => (String::new(), String::new(), String::new()),
        };
        m.add(
            "",
            "aws_eip",
            &x.id,
            json!({
                "id": x.id,
                "allocation_id": x.id,
                "domain": "vpc",
                "public_ip": x.public_ip.to_string(),
                "network_interface": eni,
                "instance": instance,
                "private_ip": private,
                "associate_with_private_ip": x.private_ip.map(|p| p.to_string()),
                "tags": tags(&x.name),
            }),
        );
    }
    for (k, n) in t.nat_gateways.iter().enumerate() {
        let addrs = nat_addrs[k].clone().unwrap_or_default();
        m.add(&eni_module(&n.subnet), "aws_nat_gateway", &n.id, json!({
            "id": n.id,
            "subnet_id": n.subnet,
            "connectivity_type": n.connectivity.as_str(),
            "allocation_id": n.allocation_id,
            "private_ip": addrs.first().map(ToString::to_string).unwrap_or_default(),
            "secondary_private_ip_addresses": addrs.iter().skip(1).map(ToString::to_string).collect::<Vec<_>>(),
            "secondary_allocation_ids": n.secondary_allocation_ids,
            "network_interface_id": nat_gateway_interface_id(n),
            "tags": tags(&n.name),
        }));
    }
    for p in &t.peering_connections {
        m.add(
            "",
            "aws_vpc_peering_connection",
            &p.id,
            json!({
                "id": p.id,
                "vpc_id": p.requester_vpc,
                "peer_vpc_id": p.accepter_vpc,
                "accept_status": p.status.as_str(),
                "auto_accept": false,
                "tags": tags(&p.name),
            }),
        );
    }
    // Route tables, routes, associations.
    for (vn, v) in t.vpcs.iter().enumerate() {
        let md = module(&v.id);
        for r in t.route_tables.iter().filter(|r| r.vpc == v.id) {
            let inline: Vec<Value> = r
                .routes
                .iter()
                .step_by(2)
                .map(|x| route_element(x, true))
                .collect();
            if r.main && vn > 0 {
                m.add(
                    &md,
                    "aws_default_route_table",
                    &r.id,
                    json!({
                        "id": r.id, "default_route_table_id": r.id, "vpc_id": r.vpc,
                        "route": inline, "tags": tags(&r.name),
                    }),
                );
            } else {
                m.add(
                    &md,
                    "aws_route_table",
                    &r.id,
                    json!({
                        "id": r.id, "vpc_id": r.vpc, "route": inline, "tags": tags(&r.name),
                    }),
                );
                if r.main {
                    m.add(&md, "aws_main_route_table_association", &r.id, json!({
                        "id": format!("rtbassoc-main-{}", tf_name(&r.id)), "vpc_id": r.vpc, "route_table_id": r.id,
                    }));
                }
            }
            for (n, x) in r.routes.iter().enumerate().skip(1).step_by(2) {
                let mut values = route_element(x, false);
                if let Some(o) = values.as_object_mut() {
                    o.insert("route_table_id".into(), json!(r.id));
                    o.insert("id".into(), json!(format!("r-{}-{n}", r.id)));
                }
                m.add(&md, "aws_route", &format!("{}-{n}", r.id), values);
            }
        }
        for s in t.subnets.iter().filter(|s| s.vpc == v.id) {
            if let Some(rtb) = &s.route_table {
                m.add(&md, "aws_route_table_association", &s.id, json!({
                    "id": format!("rtbassoc-{}", tf_name(&s.id)), "subnet_id": s.id, "route_table_id": rtb, "gateway_id": "",
                }));
            }
        }
    }
    // Network ACLs.
    for a in &t.network_acls {
        let md = module(&a.vpc);
        let ingress: Vec<Value> = a.inbound.iter().map(nacl_element).collect();
        let egress: Vec<Value> = a.outbound.iter().map(nacl_element).collect();
        if a.default {
            m.add(&md, "aws_default_network_acl", &a.id, json!({
                "id": a.id, "default_network_acl_id": a.id, "vpc_id": a.vpc, "subnet_ids": a.subnets,
                "ingress": ingress, "egress": egress, "tags": tags(&a.name),
            }));
        } else {
            m.add(
                &md,
                "aws_network_acl",
                &a.id,
                json!({
                    "id": a.id, "vpc_id": a.vpc, "subnet_ids": a.subnets,
                    "ingress": ingress, "egress": egress, "tags": tags(&a.name),
                }),
            );
            for r in &a.outbound {
                let mut values = nacl_element(r);
                if let Some(o) = values.as_object_mut() {
                    let num = o.remove("rule_no").unwrap_or(Value::Null);
                    let action = o.remove("action").unwrap_or(Value::Null);
                    o.insert("rule_number".into(), num);
                    o.insert("rule_action".into(), action);
                    o.insert("egress".into(), json!(true));
                    o.insert("network_acl_id".into(), json!(a.id));
                }
                m.add(
                    &md,
                    "aws_network_acl_rule",
                    &format!("{}-out-{}", a.id, r.rule),
                    values,
                );
            }
        }
    }

    // The module tree: the root, then one child module per other VPC.
    let mut root = Map::new();
    root.insert(
        "resources".into(),
        json!(m.resources.remove("").unwrap_or_default()),
    );
    let children: Vec<Value> = m
        .order
        .iter()
        .filter(|a| !a.is_empty())
        .map(
            |a| json!({"address": a, "resources": m.resources.get(a).cloned().unwrap_or_default()}),
        )
        .collect();
    root.insert("child_modules".into(), json!(children));
    json!({
        "format_version": "1.0",
        "terraform_version": "1.9.8",
        "values": { "outputs": {}, "root_module": root },
    })
}

/// An inline `ingress`/`egress` element of a security group for one rule.
fn sg_element(r: &SgRuleSpec, own: &str) -> Value {
    let (from, to) = ports(r.protocol, r.ports, (r.icmp_type, r.icmp_code));
    let (mut v4, mut v6, mut groups, mut own_rule) = (Vec::new(), Vec::new(), Vec::new(), false);
    match r.peer() {
        Some(RulePeer::Cidr(IpNet::V4(c))) => v4.push(c.to_string()),
        Some(RulePeer::Cidr(IpNet::V6(c))) => v6.push(c.to_string()),
        Some(RulePeer::Group(g)) if g == own => own_rule = true,
        Some(RulePeer::Group(g)) => groups.push(g.clone()),
        _ => {}
    }
    json!({
        "protocol": proto(r.protocol),
        "from_port": from,
        "to_port": to,
        "cidr_blocks": v4,
        "ipv6_cidr_blocks": v6,
        "prefix_list_ids": [],
        "security_groups": groups,
        "self": own_rule,
        "description": r.description.clone().unwrap_or_default(),
    })
}

/// An inline route element (`inline`) or the values of an `aws_route`.
fn route_element(r: &Route, inline: bool) -> Value {
    let (v4, v6) = match r.destination {
        IpNet::V4(c) => (c.to_string(), String::new()),
        IpNet::V6(c) => (String::new(), c.to_string()),
    };
    let mut o = Map::new();
    if inline {
        o.insert("cidr_block".into(), json!(v4));
        o.insert("ipv6_cidr_block".into(), json!(v6));
    } else {
        o.insert("destination_cidr_block".into(), json!(v4));
        o.insert("destination_ipv6_cidr_block".into(), json!(v6));
    }
    o.insert("destination_prefix_list_id".into(), json!(""));
    for k in [
        "gateway_id",
        "nat_gateway_id",
        "network_interface_id",
        "vpc_peering_connection_id",
        "transit_gateway_id",
        "vpc_endpoint_id",
        "egress_only_gateway_id",
        "carrier_gateway_id",
        "local_gateway_id",
        "core_network_arn",
    ] {
        o.insert(k.into(), json!(""));
    }
    let key = match r.target.as_str() {
        "blackhole" => "transit_gateway_id",
        t if t.starts_with("igw-") => "gateway_id",
        t if t.starts_with("nat-") => "nat_gateway_id",
        t if t.starts_with("eni-") => "network_interface_id",
        t if t.starts_with("pcx-") => "vpc_peering_connection_id",
        _ => "gateway_id",
    };
    let value = if r.target == "blackhole" {
        "tgw-blackhole".to_string()
    } else {
        r.target.clone()
    };
    o.insert(key.into(), json!(value));
    if r.state == RouteState::Blackhole {
        o.insert("state".into(), json!("blackhole"));
    }
    Value::Object(o)
}

/// An inline `ingress`/`egress` element of a network ACL.
fn nacl_element(r: &NaclRule) -> Value {
    let (from, to) = if r.protocol.has_ports() {
        r.ports
            .map_or((0, 65535), |s| (i64::from(s.from), i64::from(s.to)))
    } else {
        (0, 0)
    };
    let icmp = r.protocol.is_icmp();
    let (v4, v6) = match r.cidr {
        IpNet::V4(c) => (c.to_string(), String::new()),
        IpNet::V6(c) => (String::new(), c.to_string()),
    };
    json!({
        "rule_no": r.rule,
        "action": if r.action == NaclAction::Allow { "allow" } else { "deny" },
        "protocol": match r.protocol { RuleProtocol::All => "-1".to_string(), RuleProtocol::Number(n) => n.to_string() },
        "from_port": from,
        "to_port": to,
        "icmp_type": if icmp { r.icmp_type.unwrap_or(-1) } else { 0 },
        "icmp_code": if icmp { r.icmp_code.unwrap_or(-1) } else { 0 },
        "cidr_block": v4,
        "ipv6_cidr_block": v6,
    })
}
