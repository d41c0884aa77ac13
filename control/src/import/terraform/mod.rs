//! `terraform show -json` of a plan or a state as a topology.
//!
//! Input: the JSON that `terraform show -json PLANFILE` (resources under
//! `planned_values.root_module`, attributes unknown until apply listed in
//! `resource_changes[].change.after_unknown`, references kept in `configuration`) or
//! `terraform show -json` of a state (`values.root_module`) prints. Resources may sit in
//! `child_modules` (recursively) and carry `count` / `for_each` keys
//! (`module.net.aws_subnet.private[1]`).
//!
//! # Ids
//!
//! A known id that fits the project's id rules (`vpc-0a1b…`) is kept; a resource whose id
//! is unknown until apply gets a stable id from [`IdMap`](super::IdMap) keyed by its
//! address (`aws_vpc.main` → `vpc-` + 12 hex digits, the same on every run), listed in
//! the report's `ids`. An attribute that names another resource is followed by its known
//! id, or, when it is unknown, through the configuration's references
//! (`aws_vpc.main.id`; `var.x` to the module call's argument, `module.m.out` to the
//! child's output, `count.index` / `each.key` / `each.value` to the instance with the
//! same key).
//!
//! **Instances** (`aws_instance`) become their primary ENI: id
//! `primary_network_interface_id` when known, else `eni-<namespace>` (the namespace
//! below; `aws_instance.web1` tagged `Name = "web1"` → `eni-web1`), else (a clash) an
//! [`IdMap`](super::IdMap) id of `<address>.primary_network_interface_id`. Namespace: the
//! `Name` tag, else the address without the type (`module.app.aws_instance.web[1]` →
//! `app-web-1`), sanitised (letters, digits, `-`, `_`; at most 60 characters); instances
//! sharing a name get `-<key>` (or `-2`, `-3`, …) appended. ENIs attached to an instance
//! (`attachment`, `network_interface` blocks, `aws_network_interface_attachment`) join its
//! namespace as `eth<device_index>`; other ENIs get [`eni_netns`](super::eni_netns).
//!
//! # Mapping
//!
//! | Terraform | topology |
//! |---|---|
//! | `aws_vpc` (`cidr_block`, `ipv6_cidr_block`, `Name` tag) | `[[vpc]]` |
//! | `aws_vpc_ipv4_cidr_block_association` | the VPC's `secondary_cidrs` |
//! | `aws_subnet` | `[[subnet]]` (`availability_zone` when a zone of the lab's region) |
//! | `aws_route_table`, `aws_default_route_table` (inline `route`), `aws_route` | `[[route_table]]` and its routes |
//! | `aws_route_table_association`, `aws_main_route_table_association` | the subnet's `route_table`, the table's `main` |
//! | `aws_network_acl`, `aws_default_network_acl` (inline `ingress`/`egress`), `aws_network_acl_rule`, `aws_network_acl_association` | `[[network_acl]]` |
//! | `aws_security_group`, `aws_default_security_group` (inline rules), `aws_security_group_rule`, `aws_vpc_security_group_ingress_rule` / `_egress_rule` | `[[security_group]]`; one rule per peer (CIDR, IPv6 CIDR, prefix list, group, `self`) |
//! | `aws_network_interface`, `aws_network_interface_attachment` | `[[eni]]` |
//! | `aws_instance` | its primary `[[eni]]` (`private_ip`, `secondary_private_ips`, `vpc_security_group_ids`, `public_ip`, `source_dest_check`; `id` as `instance_id`, `instance_type`, `ami` as `image_id`, `metadata_options`) |
//! | `aws_eip` (`instance`, `network_interface`, `associate_with_private_ip`), `aws_eip_association` | `[[elastic_ip]]` |
//! | `aws_internet_gateway`, `aws_internet_gateway_attachment` | `[[internet_gateway]]` (on the shared internet segment) |
//! | `aws_nat_gateway` | `[[nat_gateway]]` |
//! | `aws_vpc_peering_connection`, `aws_vpc_peering_connection_accepter` | `[[peering_connection]]` |
//! | `aws_ec2_managed_prefix_list` (resource or data source), `aws_ec2_managed_prefix_list_entry` | `[[prefix_list]]` |
//!
//! Terraform removes the allow-all egress rule AWS gives a new security group, so a group
//! gets exactly the egress rules the document lists (`outbound = []` when none). A VPC's
//! default security group, network ACL or route table that something refers to without
//! an `aws_default_*` resource is written out with AWS's default contents.
//!
//! # The report
//!
//! Every resource gets an entry. **Skipped**: other `aws_*` resources (transit gateways,
//! VPC endpoints, VPN gateways, …), data sources other than prefix lists, resources of
//! other providers, resources this plan deletes, a VPC peering whose other VPC is not in
//! the document, an unattached internet gateway, a group or instance of the account's
//! default VPC (no `vpc_id` / `subnet_id`), security-group rules whose peer is not in the
//! document or, in a plan, whose unknown groups several inline rules share, and whatever
//! depends on a skipped resource (a rule of a skipped group). **Blackholed**: routes to targets that cannot be modelled
//! (`transit_gateway_id`, `vpc_endpoint_id`, a `gateway_id` that is not an internet
//! gateway, `egress_only_gateway_id`, `carrier_gateway_id`, `local_gateway_id`,
//! `core_network_arn`, and targets not in the document) become blackhole routes.
//! **Defaulted**: values unknown until apply that matter — an ENI's private address (the
//! lowest free assignable address of its subnet, in document order), a public address
//! (an Elastic IP's or an instance's: the lowest free of 192.0.2.0/24, then
//! 198.51.100.0/24, then 203.0.113.0/24, unless the Elastic IP's `address` names one), a
//! NAT gateway's address (the subnet's highest free one, the model's own rule) and
//! missing secondary addresses (the highest free ones), a peering's status, IPv6 blocks
//! (left out); a VPC's default security group, network ACL or main route table that
//! something names (written out with AWS's default contents); an Elastic IP that a NAT
//! gateway uses and the document does not manage (added, with the gateway's `public_ip`).
//!
//! # Errors
//!
//! Nothing is imported when the file cannot be read, is not JSON (a truncated document
//! names its line and column), is not a `terraform show -json` document, has an attribute
//! of the wrong type, or has a resource that refers to one the document does not have (a
//! subnet whose `vpc_id` resolves to nothing): each [`ImportError`] names the file, the
//! resource address and the field.

use std::path::Path;

use serde_json::Value;

use super::{EntryKind, ImportError, Imported};

mod config;
mod ctx;
mod doc;
mod gateways;
mod interfaces;
mod network_acl;
mod prefix_list;
mod routes;
mod rules;
mod security_group;
mod vpc;

#[cfg(test)]
mod export;
#[cfg(test)]
mod tests;

use ctx::{id_prefix, Ctx, DefaultKind, Target};
use doc::{Mode, Val};

/// Whether `json` looks like `terraform show -json` output: it has `format_version` and
/// `planned_values` (a plan) or `values` (a state).
pub fn looks_like_terraform(json: &Value) -> bool {
    json.get("format_version").is_some()
        && (json.get("planned_values").is_some() || json.get("values").is_some())
}

/// Imports the `terraform show -json` document in `path` (a plan or a state).
pub fn import(path: &Path) -> Result<Imported, Vec<ImportError>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ImportError::new(
            &file,
            "file",
            "",
            format!("cannot read the file: {e}"),
        )]
    })?;
    import_str(&file, &text)
}

/// Imports a `terraform show -json` document given as text; `file` names it in errors
/// and in the report.
pub fn import_str(file: &str, text: &str) -> Result<Imported, Vec<ImportError>> {
    let json: Value = serde_json::from_str(text).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Eof => format!(
                "truncated JSON: the document ends early (line {}, column {})",
                e.line(),
                e.column()
            ),
            _ => format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        };
        vec![ImportError::new(file, "file", "", message)]
    })?;
    if !looks_like_terraform(&json) {
        return Err(vec![ImportError::new(
            file,
            "file",
            "",
            "not a `terraform show -json` document (expected `format_version` and `planned_values` or `values`)",
        )]);
    }
    let doc = doc::collect(file, &json)?;
    let source = format!(
        "terraform {} {file}",
        if doc.plan { "plan" } else { "state" }
    );
    tracing::debug!(
        resources = doc.resources.len(),
        plan = doc.plan,
        "terraform import"
    );
    let mut cx = Ctx::new(file, &doc, source);
    assign_ids(&mut cx);
    vpc::vpcs(&mut cx);
    prefix_list::prefix_lists(&mut cx);
    vpc::subnets(&mut cx);
    gateways::internet_gateways(&mut cx);
    security_group::security_groups(&mut cx);
    interfaces::interfaces(&mut cx);
    gateways::elastic_ips(&mut cx);
    gateways::nat_gateways(&mut cx);
    gateways::peerings(&mut cx);
    routes::route_tables(&mut cx);
    network_acl::network_acls(&mut cx);
    interfaces::default_addresses(&mut cx);
    gateways::public_addresses(&mut cx);
    security_group::dedupe(&mut cx);
    skipped(&mut cx);
    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    tracing::debug!(
        topology_resources = cx.t.vpcs.len() + cx.t.subnets.len() + cx.t.enis.len(),
        skipped = cx.report.of(EntryKind::Skipped).count(),
        blackholed = cx.report.of(EntryKind::Blackholed).count(),
        defaulted = cx.report.of(EntryKind::Defaulted).count(),
        "terraform import done"
    );
    let mut report = cx.report;
    report.ids = cx
        .ids
        .generated()
        .into_iter()
        .chain(std::mem::take(&mut report.ids))
        .collect();
    // Input order; entries about no resource of the document (deleted by the plan) last.
    let pos = |resource: &str| doc.by_address.get(resource).copied().unwrap_or(usize::MAX);
    report.entries.sort_by_key(|e| pos(&e.resource));
    Ok(Imported {
        topology: cx.t,
        report,
    })
}

/// Gives every resource that becomes a model object its model id, registers the known
/// input ids, finds the VPC of each `aws_default_*` resource, and names the instances'
/// ENIs and namespaces.
fn assign_ids(cx: &mut Ctx<'_>) {
    for i in 0..cx.doc.resources.len() {
        let r = cx.res(i);
        let Some(prefix) = id_prefix(r) else { continue };
        let o = cx.obj(i);
        let id = match o.str("id") {
            Ok(Val::Known(known)) => {
                cx.register(known, Target::Res(i));
                cx.ids.id(prefix, known)
            }
            _ => cx.ids.id(prefix, &r.address),
        };
        if r.rtype == "aws_nat_gateway" {
            if let Ok(Val::Known(eni)) = o.str("network_interface_id") {
                cx.register(eni, Target::Res(i));
            }
        }
        cx.model[i] = Some(id);
    }
    // The VPCs' declared default objects.
    for k in [
        DefaultKind::SecurityGroup,
        DefaultKind::NetworkAcl,
        DefaultKind::RouteTable,
    ] {
        for i in cx.of_type(k.rtype()) {
            let o = cx.obj(i);
            let own = match k {
                DefaultKind::SecurityGroup => "vpc_id",
                _ => k.vpc_attr(),
            };
            // A state names the VPC (`vpc_id`); a plan refers to the VPC's attribute.
            let vpc = match (o.str("vpc_id"), o.str(own)) {
                (Ok(Val::Known(v)), _) => cx.find_by_id(v),
                (_, Ok(Val::Known(d))) => cx.vpc_of_default(d, k),
                _ => None,
            }
            .or_else(|| {
                let c = cx.candidates(i, own, &["aws_vpc", k.rtype()], &[]);
                c.iter().find_map(|t| match *t {
                    Target::Res(v) if cx.res(v).rtype == "aws_vpc" => Some(v),
                    Target::Default(v, _) => Some(v),
                    _ => None,
                })
            });
            match vpc {
                Some(v) if cx.res(v).rtype == "aws_vpc" => {
                    cx.declared_defaults.entry((v, k)).or_insert(i);
                }
                _ => {
                    let msg = format!(
                        "{}: no aws_vpc in the document is its VPC",
                        if matches!(o.raw(own), Val::Unknown) {
                            "unknown until apply, and the configuration names"
                        } else {
                            "not resolved"
                        }
                    );
                    cx.fail(i, own, msg);
                }
            }
        }
    }
    interfaces::assign_instances(cx);
    cx.register_vpc_defaults();
}

/// Reports every resource no importer looked at, and what the plan deletes.
fn skipped(cx: &mut Ctx<'_>) {
    for i in 0..cx.doc.resources.len() {
        if cx.handled[i] {
            continue;
        }
        let r = cx.res(i);
        let message = match (r.mode, r.rtype.as_str()) {
            (Mode::Data, _) => format!("data source {}: not needed by the topology", r.rtype),
            (_, "aws_ec2_transit_gateway" | "aws_ec2_transit_gateway_vpc_attachment") => {
                "transit gateways cannot be modelled: routes to one are blackholes".to_string()
            }
            (_, "aws_vpc_endpoint") => {
                "VPC endpoints cannot be modelled: routes to one are blackholes".to_string()
            }
            (
                _,
                "aws_vpn_gateway" | "aws_egress_only_internet_gateway" | "aws_ec2_carrier_gateway",
            ) => {
                format!(
                    "{} cannot be modelled: routes to one are blackholes",
                    r.rtype
                )
            }
            (_, t) if t.starts_with("aws_") => format!("{t} is not part of the topology model"),
            (_, t) => format!("{t} is not an AWS resource"),
        };
        cx.note(EntryKind::Skipped, i, "", message);
    }
    for d in &cx.doc.deleted {
        cx.report
            .add(EntryKind::Skipped, cx.file, d, "", "deleted by this plan");
    }
}
