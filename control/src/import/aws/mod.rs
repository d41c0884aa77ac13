//! `vpcctl import aws`: the JSON that the AWS CLI prints (`aws ec2 describe-* --output
//! json`), as a [`Topology`].
//!
//! [`import`] takes files and directories (a directory = every `*.json` in it, sorted by
//! name). Each file is the output of one command, recognised by its top-level key, not by
//! its name:
//!
//! | command | top-level key | becomes |
//! |---|---|---|
//! | `describe-vpcs` | `Vpcs` | `[[vpc]]`: `CidrBlock`, the other associated `CidrBlockAssociationSet` blocks as `secondary_cidrs`, the first associated `/56` of `Ipv6CidrBlockAssociationSet`, the `Name` tag |
//! | `describe-subnets` | `Subnets` | `[[subnet]]`: `VpcId`, `CidrBlock`, the first associated IPv6 block inside the VPC's, `AvailabilityZone` (when a zone of the lab's region) |
//! | `describe-route-tables` | `RouteTables` | `[[route_table]]`: `Main` association → `main`, `SubnetId` associations → the subnet's `route_table`, `Routes` (below) |
//! | `describe-network-acls` | `NetworkAcls` | `[[network_acl]]`: `IsDefault`, `Associations`, `Entries` by `Egress` (rule 32767, the implicit deny, is left out) |
//! | `describe-security-groups` | `SecurityGroups` | `[[security_group]]`: one rule per peer of each `IpPermissions`/`IpPermissionsEgress` entry; `GroupName` `default` → `default = true` |
//! | `describe-security-group-rules` | `SecurityGroupRules` | the same rules, one per entry (used only without `describe-security-groups`) |
//! | `describe-network-interfaces` | `NetworkInterfaces` | `[[eni]]` (instance interfaces only; a `nat_gateway` interface completes its NAT gateway) |
//! | `describe-instances` | `Reservations` | ENI names and namespaces; `InstanceType`, `ImageId` and `MetadataOptions` (`HttpEndpoint`, `HttpTokens`, `HttpPutResponseHopLimit`) on every ENI of the instance, `InstanceId` (when of AWS's form) on its primary one; the ENIs of instances that `describe-network-interfaces` does not list |
//! | `describe-addresses` | `Addresses` | `[[elastic_ip]]` |
//! | `describe-nat-gateways` | `NatGateways` | `[[nat_gateway]]` (deleted and failed ones are skipped) |
//! | `describe-internet-gateways` | `InternetGateways` | `[[internet_gateway]]` on the shared internet segment |
//! | `describe-vpc-peering-connections` | `VpcPeeringConnections` | `[[peering_connection]]` (`active`, `pending-acceptance`; deleted, rejected, failed and expired ones are skipped) |
//! | `describe-managed-prefix-lists` | `PrefixLists` | `[[prefix_list]]` with `max_entries` |
//! | `get-managed-prefix-list-entries` | `Entries` | that list's `entries`; the list's id is taken from the file name (`pl-0123.json` or `….pl-0123.json`), since the output does not print it |
//!
//! `describe-managed-prefix-lists` does not print a list's entries, and a prefix list
//! without entries is not valid here: a list without an entries file is skipped, and so
//! are the rules that name it (both reported). Get them with `aws ec2
//! get-managed-prefix-list-entries --prefix-list-id pl-… --output json > pl-….json`.
//!
//! **Routes.** `GatewayId: local` on a VPC CIDR is the implicit local route (left out);
//! `igw-…`, `NatGatewayId`, `VpcPeeringConnectionId`, `NetworkInterfaceId` and
//! `InstanceId` (that instance's primary ENI) are kept. A route in `State: blackhole`, or
//! whose target was not imported (deleted, failed, or not in the input), keeps its target
//! id with `state = "blackhole"` (the model's rule for a deleted target); one whose target
//! exists here though AWS says `blackhole` becomes `target = "blackhole"`. Targets this
//! model has no element for (`TransitGatewayId`, `vgw-…`/`vpce-…` gateways,
//! `EgressOnlyInternetGatewayId`, `CarrierGatewayId`, `LocalGatewayId`, `CoreNetworkArn`,
//! `OdbNetworkArn`, a Route Server `IpAddress`) and IPv6 through an internet or NAT
//! gateway become `target = "blackhole"` routes (`Blackholed` entries) — unless the
//! destination is inside the VPC, where a blackhole cannot replace the local route, or is
//! a prefix list (`DestinationPrefixListId`), which a route here cannot name: then the
//! route is skipped. `State: filtered` routes are skipped.
//!
//! **ENIs.** Interfaces of type `interface` (or absent), `efa`, `efa-only`, `trunk` and
//! `branch` that are not requester-managed become ENIs: `PrivateIpAddresses` (`Primary`
//! first), `Ipv6Addresses` (when the subnet has an IPv6 block), `MacAddress`,
//! `SourceDestCheck`, `Groups` (up to 5, of those imported), `ConnectionTrackingConfiguration`,
//! and the primary address's public IP as `public_ip` unless an Elastic IP covers it. An
//! instance's primary interface (`DeviceIndex` 0) goes into a namespace named after the
//! instance id, every other into [`crate::import::eni_netns`]; names come from the interface's `Name`
//! tag, else its instance's. The MTU is not in the output: 9001, AWS's for current
//! instance types. A `nat_gateway` interface gives its NAT gateway its
//! `network_interface_id` (and addresses, when the gateway's own are missing); other
//! requester-managed interfaces (endpoints, load balancers, Lambda, …) are skipped.
//!
//! **Elastic IPs** come from `describe-addresses`; an address that a NAT gateway or an
//! ENI association names but that file does not list is created from what they print.
//! An Elastic IP held by a NAT gateway's interface is the gateway's (no `eni`).
//!
//! **Report.** Every resource imported is a `Used` entry; every default a `Defaulted`
//! one; every route kept as a blackhole a `Blackholed` one; everything not imported a
//! `Skipped` one with its reason: resources this model has no place for, fields that the
//! EC2 API documents but that mean nothing to the data plane (one entry per file and kind
//! listing them), and fields the importer does not know (one entry each, with its JSON
//! path). A syntax error, an unknown file shape, or a resource that refers to one the
//! input lacks when the topology cannot be built without it (a subnet whose VPC is not
//! there) is an [`ImportError`] naming the file, the resource's AWS id and the JSON path;
//! then nothing is imported.
//!
//! Ids go through [`IdMap`]: AWS ids fit the project's rules and are kept.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::import::{EntryKind, IdMap, ImportError, ImportReport, Imported};
use crate::model::Topology;

mod firewall;
mod gateways;
mod input;
mod interfaces;
mod network;
mod routes;
mod shapes;

#[cfg(test)]
mod export;
#[cfg(test)]
mod tests;

use input::Input;

/// Imports the AWS CLI output in `paths` (files, or directories of `*.json` files):
/// the topology and what happened to every part of the input, or every problem that
/// stops the import (then nothing is imported). The topology is not validated yet (see
/// [`crate::validate::validate`]).
pub fn import(paths: &[PathBuf]) -> Result<Imported, Vec<ImportError>> {
    let files = input::files(paths)?;
    let mut im = Importer::default();
    im.report.source = format!(
        "aws ec2 describe-* in {}",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut input = Input::default();
    input::read(&files, &mut input, &mut im.report, &mut im.errors);
    if !im.errors.is_empty() {
        return Err(im.errors);
    }
    im.run(&input);
    if !im.errors.is_empty() {
        return Err(im.errors);
    }
    im.report.ids = im.ids.generated();
    tracing::debug!(
        entries = im.report.entries.len(),
        vpcs = im.t.vpcs.len(),
        enis = im.t.enis.len(),
        "imported"
    );
    Ok(Imported {
        topology: im.t,
        report: im.report,
    })
}

/// A reference from one resource to another, by AWS id.
enum Ref {
    /// Imported, at this index.
    Found(usize),
    /// In the input but not imported, for this reason.
    Gone(String),
    /// Not in the input.
    Missing,
}

/// The conversion's state: the topology so far, the report, the id map, and lookups by
/// AWS id.
#[derive(Default)]
struct Importer {
    /// The topology being built.
    t: Topology,
    /// What happened so far.
    report: ImportReport,
    /// Problems that stop the import.
    errors: Vec<ImportError>,
    /// AWS ids → project ids.
    ids: IdMap,
    /// AWS ids of resources that are in the input but not imported, with the reason.
    gone: HashMap<String, String>,
    /// AWS VPC id → index in `t.vpcs`.
    vpc: HashMap<String, usize>,
    /// Index in `t.vpcs` → the file that lists the VPC.
    vpc_file: Vec<String>,
    /// AWS subnet id → index in `t.subnets`.
    subnet: HashMap<String, usize>,
    /// AWS ENI id → index in `t.enis`.
    eni: HashMap<String, usize>,
    /// AWS NAT gateway id → index in `t.nat_gateways`.
    nat: HashMap<String, usize>,
    /// AWS internet gateway id → index in `t.internet_gateways`.
    igw: HashMap<String, usize>,
    /// AWS peering connection id → index in `t.peering_connections`.
    pcx: HashMap<String, usize>,
    /// AWS security group id → index in `t.security_groups`.
    sg: HashMap<String, usize>,
    /// AWS prefix list id → index in `t.prefix_lists`.
    pl: HashMap<String, usize>,
    /// AWS route table id → index in `t.route_tables`.
    rtb: HashMap<String, usize>,
    /// AWS network ACL id → index in `t.network_acls`.
    nacl: HashMap<String, usize>,
    /// AWS Elastic IP allocation id → index in `t.elastic_ips`.
    eip: HashMap<String, usize>,
    /// Instance id → the AWS id of its primary ENI.
    instance_primary: HashMap<String, String>,
    /// AWS id of a NAT gateway's interface → the AWS id of the NAT gateway.
    nat_eni: HashMap<String, String>,
    /// ENI index → the AWS group ids it names, with where (file, JSON path).
    eni_groups: Vec<(usize, String, String, Vec<String>)>,
    /// AWS security group id → its name, as the ENIs' `Groups` print it.
    group_names: HashMap<String, String>,
    /// Public IPs of ENIs' primary addresses that may become `public_ip` (unless an
    /// Elastic IP covers them): ENI index, address, file.
    public_ips: Vec<(usize, Ipv4Addr, String)>,
    /// Elastic IPs that associations print but `describe-addresses` may not list.
    pending_eips: Vec<interfaces::PendingEip>,
}

impl Importer {
    /// Converts everything, in dependency order.
    fn run(&mut self, input: &Input) {
        self.vpcs(&input.vpcs);
        self.subnets(&input.subnets);
        self.prefix_lists(&input.prefix_lists, &input.prefix_list_entries);
        self.peerings(&input.peerings);
        self.internet_gateways(&input.internet_gateways);
        self.nat_gateways(&input.nat_gateways);
        self.interfaces(&input.network_interfaces, &input.instances);
        self.elastic_ips(&input.addresses);
        self.security_groups(input);
        self.eni_groups();
        self.network_acls(&input.network_acls);
        self.route_tables(&input.route_tables);
        self.defaults();
    }

    /// Records a report entry.
    fn note(
        &mut self,
        kind: EntryKind,
        file: &str,
        resource: &str,
        field: &str,
        message: impl Into<String>,
    ) {
        self.report.add(kind, file, resource, field, message);
    }

    /// Records an error.
    fn err(
        &mut self,
        file: &str,
        resource: &str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors
            .push(ImportError::new(file, resource, field, message));
    }

    /// Marks `id` (of `file`) as not imported, for `why`, with a `Skipped` entry.
    fn skip(&mut self, file: &str, id: &str, field: &str, why: impl Into<String>) {
        let why = why.into();
        self.gone.insert(id.to_string(), why.clone());
        self.note(EntryKind::Skipped, file, id, field, why);
    }

    /// A required string field: its value, or an error naming it.
    fn required<'a>(
        &mut self,
        file: &str,
        res: &str,
        field: &str,
        v: &'a Option<String>,
    ) -> Option<&'a str> {
        match v.as_deref() {
            Some(s) if !s.is_empty() => Some(s),
            _ => {
                self.err(file, res, field, "missing");
                None
            }
        }
    }

    /// Whether a resource is listed again (`seen`); if so, says that its first listing is
    /// used.
    fn listed_again(&mut self, seen: bool, file: &str, res: &str, path: &str) -> bool {
        if seen {
            self.note(
                EntryKind::Skipped,
                file,
                res,
                path,
                "listed again: the first listing is used",
            );
        }
        seen
    }

    /// `s` parsed as a `T` (`what` for the message), or an error naming the field.
    fn parse<T: FromStr>(
        &mut self,
        file: &str,
        res: &str,
        field: &str,
        s: &str,
        what: &str,
    ) -> Option<T> {
        match s.trim().parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.err(file, res, field, format!("`{s}` is not {what}"));
                None
            }
        }
    }

    /// Where `id` is, in the lookup `map`.
    fn lookup(&self, map: &HashMap<String, usize>, id: &str) -> Ref {
        match map.get(id) {
            Some(&i) => Ref::Found(i),
            None => match self.gone.get(id) {
                Some(why) => Ref::Gone(why.clone()),
                None => Ref::Missing,
            },
        }
    }

    /// The VPC a resource must belong to: its index, or (when the VPC is not imported)
    /// the resource is skipped, or (when it is not in the input) an error.
    fn parent(
        &mut self,
        (file, res, field): (&str, &str, &str),
        kind: Parent,
        id: &str,
    ) -> Option<usize> {
        let map = match kind {
            Parent::Vpc => &self.vpc,
            Parent::Subnet => &self.subnet,
        };
        match self.lookup(map, id) {
            Ref::Found(i) => Some(i),
            Ref::Gone(why) => {
                self.skip(
                    file,
                    res,
                    field,
                    format!("its {} {id} is not imported ({why})", kind.word()),
                );
                None
            }
            Ref::Missing => {
                self.err(
                    file,
                    res,
                    field,
                    format!(
                        "{id} is not among the {}s of the input (add the output of `aws ec2 {}`)",
                        kind.word(),
                        kind.command()
                    ),
                );
                None
            }
        }
    }

    /// `Defaulted` entries for what every VPC has in AWS but the input does not list.
    fn defaults(&mut self) {
        for i in 0..self.t.vpcs.len() {
            let id = self.t.vpcs[i].id.clone();
            let file = self.vpc_file.get(i).cloned().unwrap_or_default();
            let checks = [
                (
                    self.t.route_tables.iter().any(|r| r.vpc == id && r.main),
                    "no main route table in the input: the VPC gets an implicit one with its local routes only",
                ),
                (
                    self.t.network_acls.iter().any(|n| n.vpc == id && n.default),
                    "no default network ACL in the input: the implicit one (allow everything both ways) applies to subnets no ACL lists",
                ),
                (
                    self.t.security_groups.iter().any(|g| g.vpc == id && g.default),
                    "no default security group in the input: the implicit one (its members in, everything out) applies to ENIs without groups",
                ),
            ];
            for (present, msg) in checks {
                if !present {
                    self.note(EntryKind::Defaulted, &file, &id, "", msg);
                }
            }
        }
    }
}

/// The kind of a required parent.
#[derive(Clone, Copy)]
enum Parent {
    /// A VPC.
    Vpc,
    /// A subnet.
    Subnet,
}

impl Parent {
    /// The word for messages.
    fn word(self) -> &'static str {
        match self {
            Parent::Vpc => "VPC",
            Parent::Subnet => "subnet",
        }
    }

    /// The command that lists it.
    fn command(self) -> &'static str {
        match self {
            Parent::Vpc => "describe-vpcs",
            Parent::Subnet => "describe-subnets",
        }
    }
}
