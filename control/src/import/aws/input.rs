//! Reading the input: files and directories, JSON (a syntax error names its line and
//! column), the kind of each file by its top-level key, and every record as its typed
//! shape (a value of the wrong type names its JSON path). Leftover fields become report
//! entries (see [`super::shapes::Fields`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::shapes::Instance;
use super::shapes::{
    Address, Fields, InternetGateway, ManagedPrefixList, NatGateway, NetworkAcl, NetworkInterface,
    Notes, PrefixListEntry, Reservation, RouteTable, SecurityGroup, SecurityGroupRule, Subnet, Vpc,
    VpcPeeringConnection,
};
use crate::import::{EntryKind, ImportError, ImportReport};

/// One record of the input: where it is and what it says.
#[derive(Debug, Clone)]
pub(super) struct Record<T> {
    /// The file it comes from.
    pub(super) file: String,
    /// Its JSON path in that file (`Subnets[3]`).
    pub(super) path: String,
    /// Its AWS id (or, without one, its path).
    pub(super) id: String,
    /// The record.
    pub(super) v: T,
}

/// The entries of one prefix list (`aws ec2 get-managed-prefix-list-entries`), whose id
/// comes from the file name.
#[derive(Debug, Clone)]
pub(super) struct EntriesFile {
    /// The file.
    pub(super) file: String,
    /// The prefix list's id, from the file name.
    pub(super) prefix_list: String,
    /// `Entries[]`.
    pub(super) entries: Vec<Record<PrefixListEntry>>,
}

/// Everything read, by kind, in input order.
#[derive(Debug, Default)]
pub(super) struct Input {
    /// `Vpcs[]`.
    pub(super) vpcs: Vec<Record<Vpc>>,
    /// `Subnets[]`.
    pub(super) subnets: Vec<Record<Subnet>>,
    /// `RouteTables[]`.
    pub(super) route_tables: Vec<Record<RouteTable>>,
    /// `NetworkAcls[]`.
    pub(super) network_acls: Vec<Record<NetworkAcl>>,
    /// `SecurityGroups[]`.
    pub(super) security_groups: Vec<Record<SecurityGroup>>,
    /// `SecurityGroupRules[]`.
    pub(super) security_group_rules: Vec<Record<SecurityGroupRule>>,
    /// The files that held `SecurityGroupRules`.
    pub(super) security_group_rule_files: BTreeSet<String>,
    /// `NetworkInterfaces[]`.
    pub(super) network_interfaces: Vec<Record<NetworkInterface>>,
    /// `Reservations[].Instances[]`.
    pub(super) instances: Vec<Record<Instance>>,
    /// `Addresses[]`.
    pub(super) addresses: Vec<Record<Address>>,
    /// `NatGateways[]`.
    pub(super) nat_gateways: Vec<Record<NatGateway>>,
    /// `InternetGateways[]`.
    pub(super) internet_gateways: Vec<Record<InternetGateway>>,
    /// `VpcPeeringConnections[]`.
    pub(super) peerings: Vec<Record<VpcPeeringConnection>>,
    /// `PrefixLists[]`.
    pub(super) prefix_lists: Vec<Record<ManagedPrefixList>>,
    /// `Entries[]` files.
    pub(super) prefix_list_entries: Vec<EntriesFile>,
}

/// The top-level keys this importer reads, with the AWS CLI command that prints each.
pub(super) const KINDS: &[(&str, &str)] = &[
    ("Vpcs", "aws ec2 describe-vpcs"),
    ("Subnets", "aws ec2 describe-subnets"),
    ("RouteTables", "aws ec2 describe-route-tables"),
    ("NetworkAcls", "aws ec2 describe-network-acls"),
    ("SecurityGroups", "aws ec2 describe-security-groups"),
    (
        "SecurityGroupRules",
        "aws ec2 describe-security-group-rules",
    ),
    ("NetworkInterfaces", "aws ec2 describe-network-interfaces"),
    ("Reservations", "aws ec2 describe-instances"),
    ("Addresses", "aws ec2 describe-addresses"),
    ("NatGateways", "aws ec2 describe-nat-gateways"),
    ("InternetGateways", "aws ec2 describe-internet-gateways"),
    (
        "VpcPeeringConnections",
        "aws ec2 describe-vpc-peering-connections",
    ),
    ("PrefixLists", "aws ec2 describe-managed-prefix-lists"),
    ("Entries", "aws ec2 get-managed-prefix-list-entries"),
];

/// The command that prints top-level key `key`.
fn command(key: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("aws ec2", |(_, c)| c)
}

/// The files named by `paths`: each file as given, each directory's `*.json` files
/// sorted by name.
pub(super) fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<ImportError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let shown = p.display().to_string();
        match std::fs::metadata(p) {
            Err(e) => errors.push(ImportError::new(
                &shown,
                "file",
                "",
                format!("cannot read: {e}"),
            )),
            Ok(m) if m.is_dir() => match std::fs::read_dir(p) {
                Err(e) => errors.push(ImportError::new(
                    &shown,
                    "file",
                    "",
                    format!("cannot list the directory: {e}"),
                )),
                Ok(rd) => {
                    let mut found: Vec<PathBuf> = rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| f.extension().is_some_and(|x| x == "json") && f.is_file())
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        errors.push(ImportError::new(
                            &shown,
                            "file",
                            "",
                            "the directory holds no *.json file (the output of `aws ec2 describe-* --output json`)",
                        ));
                    }
                    out.extend(found);
                }
            },
            Ok(_) => out.push(p.clone()),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Reads every file into `input`, recording leftovers in `report` and problems in
/// `errors`.
pub(super) fn read(
    files: &[PathBuf],
    input: &mut Input,
    report: &mut ImportReport,
    errors: &mut Vec<ImportError>,
) {
    for f in files {
        let file = f.display().to_string();
        tracing::debug!(file, "reading");
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ImportError::new(
                    &file,
                    "file",
                    "",
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        let doc: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                let what = if e.is_eof() {
                    "the JSON ends too early (a truncated file?)"
                } else {
                    "not valid JSON"
                };
                errors.push(ImportError::new(
                    &file,
                    "file",
                    "",
                    format!("{what} at line {}, column {}: {e}", e.line(), e.column()),
                ));
                continue;
            }
        };
        let Value::Object(top) = doc else {
            errors.push(ImportError::new(
                &file,
                "file",
                "",
                "expected a JSON object (the output of `aws ec2 describe-* --output json`)",
            ));
            continue;
        };
        read_doc(f, &file, &top, input, report, errors);
    }
}

/// Reads one file's top-level object.
fn read_doc(
    path: &Path,
    file: &str,
    top: &Map<String, Value>,
    input: &mut Input,
    report: &mut ImportReport,
    errors: &mut Vec<ImportError>,
) {
    let kinds: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| KINDS.iter().any(|(x, _)| x == k))
        .collect();
    if kinds.is_empty() {
        let keys: Vec<&str> = top.keys().map(String::as_str).collect();
        errors.push(ImportError::new(
            file,
            "file",
            "",
            format!(
                "not the output of a supported AWS CLI command: its top-level keys are [{}]; expected one of {} (the output of `aws ec2 describe-* --output json`)",
                keys.join(", "),
                KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            ),
        ));
        return;
    }
    for (k, v) in top {
        match k.as_str() {
            "NextToken" if !v.is_null() => {
                report.add(
                    EntryKind::Skipped,
                    file,
                    "file",
                    "NextToken",
                    "this file is one page of a paginated output: the resources of the other pages are not in it (the AWS CLI fetches every page unless --max-items or --no-paginate is used)",
                );
            }
            "NextToken" | "ResponseMetadata" => {}
            _ if !kinds.contains(&k.as_str()) => report.add(
                EntryKind::Skipped,
                file,
                "file",
                k,
                "not a top-level key of the AWS CLI's output that this importer knows; ignored",
            ),
            _ => {}
        }
    }
    for key in kinds {
        let Some(list) = top.get(key).and_then(Value::as_array) else {
            errors.push(ImportError::new(
                file,
                "file",
                key,
                format!("expected a list (the output of `{}`)", command(key)),
            ));
            continue;
        };
        let mut notes = Notes::default();
        let mut r = Reader {
            file,
            key,
            report: &mut *report,
            errors: &mut *errors,
            notes: &mut notes,
        };
        match key {
            "Vpcs" => input.vpcs.extend(r.records(list, "VpcId")),
            "Subnets" => input.subnets.extend(r.records(list, "SubnetId")),
            "RouteTables" => input.route_tables.extend(r.records(list, "RouteTableId")),
            "NetworkAcls" => input.network_acls.extend(r.records(list, "NetworkAclId")),
            "SecurityGroups" => input.security_groups.extend(r.records(list, "GroupId")),
            "SecurityGroupRules" => {
                input
                    .security_group_rules
                    .extend(r.records(list, "SecurityGroupRuleId"));
                input.security_group_rule_files.insert(file.to_string());
            }
            "NetworkInterfaces" => input
                .network_interfaces
                .extend(r.records(list, "NetworkInterfaceId")),
            "Reservations" => {
                for res in r.records::<Reservation>(list, "ReservationId") {
                    for (j, inst) in res.v.instances.into_iter().enumerate() {
                        let path = format!("{}.Instances[{j}]", res.path);
                        let id = inst.instance_id.clone().unwrap_or_else(|| path.clone());
                        input.instances.push(Record {
                            file: file.to_string(),
                            path,
                            id,
                            v: inst,
                        });
                    }
                }
            }
            "Addresses" => input
                .addresses
                .extend(r.records(list, "AllocationId|PublicIp")),
            "NatGateways" => input.nat_gateways.extend(r.records(list, "NatGatewayId")),
            "InternetGateways" => input
                .internet_gateways
                .extend(r.records(list, "InternetGatewayId")),
            "VpcPeeringConnections" => input
                .peerings
                .extend(r.records(list, "VpcPeeringConnectionId")),
            "PrefixLists" => input.prefix_lists.extend(r.records(list, "PrefixListId")),
            "Entries" => {
                let entries = r.records(list, "Cidr");
                match prefix_list_of(path) {
                    Some(pl) => input.prefix_list_entries.push(EntriesFile {
                        file: file.to_string(),
                        prefix_list: pl,
                        entries,
                    }),
                    None => errors.push(ImportError::new(
                        file,
                        "file",
                        "Entries",
                        "cannot tell which prefix list these entries (`aws ec2 get-managed-prefix-list-entries`) belong to: put its id in the file name, e.g. `pl-0123abcd.json` or `get-managed-prefix-list-entries.pl-0123abcd.json`",
                    )),
                }
            }
            _ => {}
        }
        if !notes.ignored.is_empty() {
            let prefix = format!("{key}[].");
            let fields: Vec<String> = notes
                .ignored
                .iter()
                .map(|p| p.strip_prefix(&prefix).unwrap_or(p).to_string())
                .collect();
            report.add(
                EntryKind::Skipped,
                file,
                &format!("{key}[*]"),
                "",
                format!(
                    "not imported, no meaning for the data plane: {}",
                    fields.join(", ")
                ),
            );
        }
    }
}

/// The prefix list id in a file name: the stem itself (`pl-0123abcd.json`) or its last
/// `.`-separated part (`get-managed-prefix-list-entries.pl-0123abcd.json`).
fn prefix_list_of(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    stem.rsplit('.')
        .next()
        .filter(|s| s.starts_with("pl-") && s.len() > 3)
        .map(str::to_string)
}

/// Reads the records of one top-level list.
struct Reader<'a> {
    /// The file.
    file: &'a str,
    /// The top-level key (`Vpcs`).
    key: &'a str,
    /// Where leftovers go.
    report: &'a mut ImportReport,
    /// Where problems go.
    errors: &'a mut Vec<ImportError>,
    /// Documented fields left out, for the file's summary.
    notes: &'a mut Notes,
}

impl Reader<'_> {
    /// Every element of `list` as a `T`; `id_key` names the field that holds its id
    /// (alternatives separated by `|`).
    fn records<T: DeserializeOwned + Fields>(
        &mut self,
        list: &[Value],
        id_key: &str,
    ) -> Vec<Record<T>> {
        let mut out = Vec::new();
        for (i, elem) in list.iter().enumerate() {
            let path = format!("{}[{i}]", self.key);
            let id = id_key
                .split('|')
                .find_map(|k| elem.get(k).and_then(Value::as_str))
                .map_or_else(|| path.clone(), str::to_string);
            if !elem.is_object() {
                self.errors.push(ImportError::new(
                    self.file,
                    &id,
                    &path,
                    "expected an object",
                ));
                continue;
            }
            match typed::<T>(elem) {
                Ok(v) => {
                    let mut n = Notes::default();
                    v.notes(&path, &mut n);
                    for u in n.unknown {
                        // An instance's own fields are reported on the instance.
                        let res = unknown_owner(elem, &path, &u).unwrap_or_else(|| id.clone());
                        self.report.add(
                            EntryKind::Skipped,
                            self.file,
                            &res,
                            &u,
                            format!(
                                "not a field of `{}` output that this importer knows; ignored",
                                command(self.key)
                            ),
                        );
                    }
                    self.notes.ignored.extend(n.ignored);
                    out.push(Record {
                        file: self.file.to_string(),
                        path,
                        id,
                        v,
                    });
                }
                Err((sub, msg)) => self.errors.push(ImportError::new(
                    self.file,
                    &id,
                    format!("{path}{sub}"),
                    msg,
                )),
            }
        }
        out
    }
}

/// For an unknown field at `path` inside `Reservations[i].Instances[j]`, the instance's
/// id.
fn unknown_owner(elem: &Value, record: &str, path: &str) -> Option<String> {
    let rest = path.strip_prefix(record)?.strip_prefix(".Instances[")?;
    let j: usize = rest.split(']').next()?.parse().ok()?;
    elem.get("Instances")?
        .get(j)?
        .get("InstanceId")?
        .as_str()
        .map(str::to_string)
}

/// One step of a JSON path.
enum Step {
    /// A member of an object.
    Key(String),
    /// An element of a list (its index, for the path).
    Index(usize),
}

/// `leaf` inside the skeleton of `path` (one member per object, one element per list),
/// so that deserialising it exercises that branch alone.
fn skeleton(path: &[Step], leaf: Value) -> Value {
    path.iter().rev().fold(leaf, |inner, step| match step {
        Step::Key(k) => Value::Object(Map::from_iter([(k.clone(), inner)])),
        Step::Index(_) => Value::Array(vec![inner]),
    })
}

/// `v` as a `T`; on failure, the JSON path below `v` (`.Entries[0].RuleNumber`) of the
/// deepest value that alone fails, and the message.
fn typed<T: DeserializeOwned>(v: &Value) -> Result<T, (String, String)> {
    let e = match T::deserialize(v) {
        Ok(x) => return Ok(x),
        Err(e) => e,
    };
    let mut msg = e.to_string();
    let mut path: Vec<Step> = Vec::new();
    let mut cur = v;
    loop {
        let children: Vec<(Step, &Value)> = match cur {
            Value::Object(m) => m.iter().map(|(k, x)| (Step::Key(k.clone()), x)).collect(),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| (Step::Index(i), x))
                .collect(),
            _ => break,
        };
        let failing = children.into_iter().find_map(|(step, x)| {
            path.push(step);
            let r = T::deserialize(skeleton(&path, x.clone())).err();
            let step = path.pop();
            r.zip(step).map(|(e, step)| (step, x, e))
        });
        let Some((step, x, e)) = failing else { break };
        path.push(step);
        msg = e.to_string();
        cur = x;
    }
    let shown: String = path
        .iter()
        .map(|s| match s {
            Step::Key(k) => format!(".{k}"),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect();
    Err((shown, msg))
}
