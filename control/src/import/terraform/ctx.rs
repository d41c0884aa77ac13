//! The state of one import: the document, the ids given to its resources, the topology
//! being built, the report and the errors; and the lookups every resource kind uses —
//! a reference attribute to the resource it names ([`Ctx::reference`]), a resource to its
//! model id, a VPC to its default security group, network ACL or route table.

use std::collections::HashMap;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::super::{EntryKind, IdMap, ImportError, ImportReport};
use super::config::Config;
use super::doc::{Doc, Mode, Obj, Res, Val};
use crate::model::{
    NaclAction, NaclRule, NetworkAcl, RouteTable, RulePeer, RuleProtocol, SecurityGroup,
    SgRuleSpec, Topology,
};
use crate::names::{implicit_default_nacl_id, implicit_default_sg_id, implicit_main_id};

/// Which default object of a VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum DefaultKind {
    /// The default security group (`default_security_group_id`).
    SecurityGroup,
    /// The default network ACL (`default_network_acl_id`).
    NetworkAcl,
    /// The route table created with the VPC (`default_route_table_id`).
    RouteTable,
}

impl DefaultKind {
    /// The Terraform resource type that manages it.
    pub(super) fn rtype(self) -> &'static str {
        match self {
            DefaultKind::SecurityGroup => "aws_default_security_group",
            DefaultKind::NetworkAcl => "aws_default_network_acl",
            DefaultKind::RouteTable => "aws_default_route_table",
        }
    }

    /// The `aws_vpc` attribute that holds its id.
    pub(super) fn vpc_attr(self) -> &'static str {
        match self {
            DefaultKind::SecurityGroup => "default_security_group_id",
            DefaultKind::NetworkAcl => "default_network_acl_id",
            DefaultKind::RouteTable => "default_route_table_id",
        }
    }

    /// Every kind.
    const ALL: [DefaultKind; 3] = [
        DefaultKind::SecurityGroup,
        DefaultKind::NetworkAcl,
        DefaultKind::RouteTable,
    ];
}

/// What a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// A resource of the document (by index).
    Res(usize),
    /// A default object of the VPC at this resource index.
    Default(usize, DefaultKind),
}

/// What a reference attribute resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ref {
    /// The attribute is not set.
    Absent,
    /// One target of an accepted kind.
    Found(Target),
    /// A known id that no resource of the document has.
    External(String),
    /// Unknown until apply, and the configuration names no resource of an accepted kind.
    Unresolved,
    /// Unknown until apply, and the configuration names several candidates.
    Ambiguous(Vec<Target>),
}

/// The prefix of the model ids of a resource type, for types that become one model object.
pub(super) fn id_prefix(r: &Res) -> Option<&'static str> {
    Some(match (r.mode, r.rtype.as_str()) {
        (Mode::Managed, "aws_vpc") => "vpc-",
        (Mode::Managed, "aws_subnet") => "subnet-",
        (Mode::Managed, "aws_route_table" | "aws_default_route_table") => "rtb-",
        (Mode::Managed, "aws_network_acl" | "aws_default_network_acl") => "acl-",
        (Mode::Managed, "aws_security_group" | "aws_default_security_group") => "sg-",
        (Mode::Managed, "aws_network_interface") => "eni-",
        (Mode::Managed, "aws_eip") => "eipalloc-",
        (Mode::Managed, "aws_internet_gateway") => "igw-",
        (Mode::Managed, "aws_nat_gateway") => "nat-",
        (Mode::Managed, "aws_vpc_peering_connection") => "pcx-",
        (_, "aws_ec2_managed_prefix_list") => "pl-",
        _ => return None,
    })
}

/// One import in progress.
pub(super) struct Ctx<'a> {
    /// The input file, as named in errors and the report.
    pub(super) file: &'a str,
    /// The document.
    pub(super) doc: &'a Doc,
    /// Its configuration (plans).
    cfg: Config<'a>,
    /// Original ids and addresses → model ids.
    pub(super) ids: IdMap,
    /// The report.
    pub(super) report: ImportReport,
    /// The errors.
    pub(super) errors: Vec<ImportError>,
    /// The topology being built.
    pub(super) t: Topology,
    /// The model id of each resource (instances: their primary ENI's).
    pub(super) model: Vec<Option<String>>,
    /// Whether each resource became (part of) a model object.
    pub(super) imported: Vec<bool>,
    /// Whether each resource was looked at by the importer of its kind (the others are
    /// reported as skipped at the end).
    pub(super) handled: Vec<bool>,
    /// Known input ids → what they name.
    by_input_id: HashMap<String, Target>,
    /// The `aws_default_*` resource of each VPC (by resource index), per kind.
    pub(super) declared_defaults: HashMap<(usize, DefaultKind), usize>,
    /// The namespace of each instance (by resource index).
    pub(super) instance_ns: HashMap<usize, String>,
    /// ENIs whose addresses are unknown until apply, to be chosen at the end.
    pub(super) pending_ips: Vec<PendingIps>,
    /// Public addresses unknown until apply, to be chosen at the end.
    pub(super) pending_public: Vec<PendingPublic>,
    /// NAT gateways' secondary addresses unknown until apply: (NAT index in the
    /// topology, resource, how many).
    pub(super) pending_nat: Vec<(usize, usize, usize)>,
}

/// An ENI whose primary and/or some secondary addresses are unknown until apply.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingIps {
    /// The ENI's index in the topology.
    pub(super) eni: usize,
    /// The resource it comes from.
    pub(super) res: usize,
    /// Whether the primary address is to be chosen.
    pub(super) primary: bool,
    /// How many secondary addresses are to be chosen.
    pub(super) secondaries: usize,
}

/// A public address unknown until apply.
#[derive(Debug, Clone, Copy)]
pub(super) enum PendingPublic {
    /// An instance's auto-assigned public IP: (ENI index in the topology, resource).
    Eni(usize, usize),
    /// An Elastic IP's address: (index in the topology, resource).
    Eip(usize, usize),
}

/// The resource types a security-group reference may name.
pub(super) const SG_TYPES: &[&str] = &["aws_security_group", "aws_default_security_group"];
/// The resource types a prefix-list reference may name.
pub(super) const PL_TYPES: &[&str] = &[
    "aws_ec2_managed_prefix_list",
    "data.aws_ec2_managed_prefix_list",
];
/// The resource types that are (or hold) an ENI.
pub(super) const ENI_TYPES: &[&str] = &["aws_network_interface", "aws_instance"];

impl<'a> Ctx<'a> {
    /// A new import of `doc`.
    pub(super) fn new(file: &'a str, doc: &'a Doc, source: String) -> Ctx<'a> {
        Ctx {
            file,
            doc,
            cfg: Config::new(doc),
            ids: IdMap::default(),
            report: ImportReport {
                source,
                ..ImportReport::default()
            },
            errors: Vec::new(),
            t: Topology::default(),
            model: vec![None; doc.resources.len()],
            imported: vec![false; doc.resources.len()],
            handled: vec![false; doc.resources.len()],
            by_input_id: HashMap::new(),
            declared_defaults: HashMap::new(),
            instance_ns: HashMap::new(),
            pending_ips: Vec::new(),
            pending_public: Vec::new(),
            pending_nat: Vec::new(),
        }
    }

    /// Resource `i`.
    pub(super) fn res(&self, i: usize) -> &'a Res {
        &self.doc.resources[i]
    }

    /// The attributes of resource `i`.
    pub(super) fn obj(&self, i: usize) -> Obj<'a> {
        self.doc.resources[i].obj(self.file)
    }

    /// Indices of the managed resources of type `rtype`, in document order.
    pub(super) fn of_type(&self, rtype: &str) -> Vec<usize> {
        self.doc
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.mode == Mode::Managed && r.rtype == rtype)
            .map(|(i, _)| i)
            .collect()
    }

    /// Records a report entry about resource `i`.
    pub(super) fn note(
        &mut self,
        kind: EntryKind,
        i: usize,
        field: &str,
        message: impl Into<String>,
    ) {
        let address = self.doc.resources[i].address.clone();
        self.report.add(kind, self.file, &address, field, message);
    }

    /// Records an error.
    pub(super) fn error(&mut self, e: ImportError) {
        self.errors.push(e);
    }

    /// Records an error about resource `i`.
    pub(super) fn fail(&mut self, i: usize, field: &str, message: impl Into<String>) {
        let address = self.doc.resources[i].address.clone();
        self.errors
            .push(ImportError::new(self.file, address, field, message));
    }

    /// `Some(v)` of a `Result`, recording the error otherwise.
    pub(super) fn ok<T>(&mut self, r: Result<T, ImportError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// What known input id `id` names, if anything in the document.
    pub(super) fn find_target(&self, id: &str) -> Option<Target> {
        self.by_input_id.get(id).copied()
    }

    /// The resource with known input id `id`, if any.
    pub(super) fn find_by_id(&self, id: &str) -> Option<usize> {
        match self.by_input_id.get(id) {
            Some(&Target::Res(i)) => Some(i),
            Some(&Target::Default(v, _)) => Some(v),
            None => None,
        }
    }

    /// The `aws_vpc` whose default object of kind `k` has the known id `id`.
    pub(super) fn vpc_of_default(&self, id: &str, k: DefaultKind) -> Option<usize> {
        self.of_type("aws_vpc").into_iter().find(|&v| {
            let o = self.obj(v);
            let attrs: &[&str] = match k {
                DefaultKind::RouteTable => &["default_route_table_id", "main_route_table_id"],
                _ => &[k.vpc_attr()],
            };
            attrs
                .iter()
                .any(|a| matches!(o.str(a), Ok(Val::Known(x)) if x == id))
        })
    }

    /// The VPC (resource index) of a declared `aws_default_*` resource.
    pub(super) fn vpc_of_declared(&self, i: usize) -> Option<usize> {
        self.declared_defaults
            .iter()
            .find(|(_, &d)| d == i)
            .map(|(&(v, _), _)| v)
    }

    /// Registers a known input id of resource `i` (first registration wins).
    pub(super) fn register(&mut self, id: &str, target: Target) {
        self.by_input_id.entry(id.to_string()).or_insert(target);
    }

    /// The resource type a target counts as (`aws_default_security_group` for a VPC's
    /// default group; `data.` + type for data sources).
    pub(super) fn target_type(&self, t: Target) -> String {
        match t {
            Target::Res(i) => {
                let r = self.res(i);
                match r.mode {
                    Mode::Managed => r.rtype.clone(),
                    Mode::Data => format!("data.{}", r.rtype),
                }
            }
            Target::Default(_, k) => k.rtype().to_string(),
        }
    }

    /// A target as the report names it.
    pub(super) fn target_name(&self, t: Target) -> String {
        match t {
            Target::Res(i) => self.res(i).address.clone(),
            Target::Default(v, k) => format!("{}.{}", self.res(v).address, k.vpc_attr()),
        }
    }

    /// A configuration target as this import sees it: an `aws_vpc`'s default-object
    /// attributes name the default object, a declared `aws_default_*` when there is one.
    fn config_target(&self, t: &super::config::Target) -> Target {
        if self.res(t.res).rtype == "aws_vpc" && self.res(t.res).mode == Mode::Managed {
            for k in DefaultKind::ALL {
                let named = t.attr.as_deref() == Some(k.vpc_attr())
                    || (k == DefaultKind::RouteTable
                        && t.attr.as_deref() == Some("main_route_table_id"));
                if named {
                    return match self.declared_defaults.get(&(t.res, k)) {
                        Some(&d) => Target::Res(d),
                        None => Target::Default(t.res, k),
                    };
                }
            }
        }
        Target::Res(t.res)
    }

    /// Whether attribute `attr` of resource `i` is set by the configuration (`true` too
    /// when the plan has no configuration to tell): an attribute unknown until apply that
    /// the configuration does not set is merely computed.
    pub(super) fn configured(&self, i: usize, attr: &str) -> bool {
        self.cfg.sets(self.res(i), attr) != Some(false)
    }

    /// The configuration's targets of attribute `top` of resource `i` whose type is in
    /// `accept`, minus `exclude`.
    pub(super) fn candidates(
        &self,
        i: usize,
        top: &str,
        accept: &[&str],
        exclude: &[Target],
    ) -> Vec<Target> {
        let mut out: Vec<Target> = Vec::new();
        for t in self.cfg.references(self.doc, self.res(i), top) {
            let t = self.config_target(&t);
            if accept.contains(&self.target_type(t).as_str())
                && !exclude.contains(&t)
                && !out.contains(&t)
            {
                out.push(t);
            }
        }
        out
    }

    /// What a known id names: a target of an accepted type, else an error (the id names a
    /// resource of another kind) or [`Ref::External`].
    fn by_id(&self, obj: &Obj<'_>, k: &str, id: &str, accept: &[&str]) -> Result<Ref, ImportError> {
        match self.by_input_id.get(id) {
            Some(&t) if accept.contains(&self.target_type(t).as_str()) => Ok(Ref::Found(t)),
            Some(&t) => Err(obj.err(
                k,
                format!(
                    "`{id}` is {} ({}), expected {}",
                    self.target_name(t),
                    self.target_type(t),
                    accept.join(" or ")
                ),
            )),
            None => Ok(Ref::External(id.to_string())),
        }
    }

    /// Resolves the reference attribute `k` of `obj` (a block of resource `i`; `top` is
    /// the resource's attribute that holds it, for the configuration) to one target whose
    /// type is in `accept`.
    pub(super) fn reference(
        &self,
        i: usize,
        obj: &Obj<'_>,
        k: &str,
        top: &str,
        accept: &[&str],
    ) -> Result<Ref, ImportError> {
        match obj.str(k)? {
            Val::Absent => Ok(Ref::Absent),
            Val::Known(id) => self.by_id(obj, k, id, accept),
            Val::Unknown if self.cfg.sets(self.res(i), top) == Some(false) => Ok(Ref::Absent),
            Val::Unknown => {
                let c = self.candidates(i, top, accept, &[]);
                Ok(match c.len() {
                    0 => Ref::Unresolved,
                    1 => Ref::Found(c[0]),
                    _ => Ref::Ambiguous(c),
                })
            }
        }
    }

    /// Resolves a list of references (`vpc_security_group_ids`): known ids one by one,
    /// unknown elements through the configuration (every candidate not already named).
    pub(super) fn references(
        &self,
        i: usize,
        obj: &Obj<'_>,
        k: &str,
        top: &str,
        accept: &[&str],
    ) -> Result<Vec<Ref>, ImportError> {
        let items = match obj.strs(k)? {
            Val::Absent => return Ok(Vec::new()),
            Val::Unknown if self.cfg.sets(self.res(i), top) == Some(false) => return Ok(Vec::new()),
            Val::Unknown => vec![Val::Unknown],
            Val::Known(items) => items,
        };
        let mut out = Vec::new();
        let mut unknown = 0;
        for item in items {
            match item {
                Val::Known(id) => out.push(self.by_id(obj, k, id, accept)?),
                Val::Unknown => unknown += 1,
                Val::Absent => {}
            }
        }
        if unknown > 0 {
            let found: Vec<Target> = out
                .iter()
                .filter_map(|r| match r {
                    Ref::Found(t) => Some(*t),
                    _ => None,
                })
                .collect();
            let c = self.candidates(i, top, accept, &found);
            if c.is_empty() {
                out.push(Ref::Unresolved);
            } else {
                out.extend(c.into_iter().map(Ref::Found));
            }
        }
        Ok(out)
    }

    /// The message of a reference that must name something and does not.
    pub(super) fn missing(&self, r: &Ref, what: &str) -> String {
        match r {
            Ref::Absent => format!("not set: expected the {what} it belongs to"),
            Ref::External(id) => format!("`{id}`: no {what} in the document has this id"),
            Ref::Unresolved => format!(
                "unknown until apply, and the plan's configuration names no {what} for it"
            ),
            Ref::Ambiguous(c) => format!(
                "unknown until apply, and the configuration names several candidates ({}); cannot tell which",
                c.iter().map(|t| self.target_name(*t)).collect::<Vec<_>>().join(", ")
            ),
            Ref::Found(t) => format!("{} is not imported", self.target_name(*t)),
        }
    }

    /// The model id of an imported target, making a VPC's default object explicit when
    /// a reference needs it.
    pub(super) fn model_of(&mut self, t: Target) -> Option<String> {
        match t {
            Target::Res(i) if self.imported[i] => self.model[i].clone(),
            Target::Res(_) => None,
            Target::Default(v, k) => {
                let (_, id) = self.ensure_default(v, k)?;
                Some(id)
            }
        }
    }

    /// Resolves a reference that must name an imported resource of a type in `accept`:
    /// its model id and target, or an error recorded for resource `i`, field `field`.
    pub(super) fn required(
        &mut self,
        i: usize,
        field: &str,
        r: Result<Ref, ImportError>,
        what: &str,
    ) -> Option<(String, Target)> {
        let r = self.ok(r)?;
        if let Ref::Found(t) = r {
            if let Some(id) = self.model_of(t) {
                return Some((id, t));
            }
            if self.was_skipped(t) {
                let msg = format!(
                    "{} is left out (see its entry), and so is this",
                    self.target_name(t)
                );
                self.note(EntryKind::Skipped, i, field, msg);
                return None;
            }
        }
        let msg = self.missing(&r, what);
        self.fail(i, field, msg);
        None
    }

    /// Whether target `t` is a resource that its importer looked at and left out (reported
    /// as skipped), so that what depends on it is left out too rather than an error.
    pub(super) fn was_skipped(&self, t: Target) -> bool {
        match t {
            Target::Res(j) => {
                self.handled[j]
                    && !self.imported[j]
                    && self
                        .report
                        .of(EntryKind::Skipped)
                        .any(|e| e.resource == self.doc.resources[j].address)
            }
            Target::Default(..) => false,
        }
    }

    /// Resolves a reference that must name a resource of the document (imported yet or
    /// not): its target, or an error recorded for resource `i`, field `field`.
    pub(super) fn found(
        &mut self,
        i: usize,
        field: &str,
        r: Result<Ref, ImportError>,
        what: &str,
    ) -> Option<Target> {
        match self.ok(r)? {
            Ref::Found(t) => Some(t),
            other => {
                let msg = self.missing(&other, what);
                self.fail(i, field, msg);
                None
            }
        }
    }

    /// The VPC (resource index) of a VPC default object's declaring resource or id.
    pub(super) fn vpc_model(&self, v: usize) -> Option<String> {
        if self.imported[v] {
            self.model[v].clone()
        } else {
            None
        }
    }

    /// The model index and id of VPC `v`'s default object of kind `k`, created (with
    /// AWS's default contents) when the file does not have it yet. `None` when the VPC is
    /// not imported.
    pub(super) fn ensure_default(&mut self, v: usize, k: DefaultKind) -> Option<(usize, String)> {
        let vpc = self.vpc_model(v)?;
        if let Some(&d) = self.declared_defaults.get(&(v, k)) {
            let id = self.model[d].clone()?;
            let at = match k {
                DefaultKind::SecurityGroup => {
                    self.t.security_groups.iter().position(|g| g.id == id)
                }
                DefaultKind::NetworkAcl => self.t.network_acls.iter().position(|n| n.id == id),
                DefaultKind::RouteTable => self.t.route_tables.iter().position(|r| r.id == id),
            }?;
            return Some((at, id));
        }
        let known = self.obj(v).str(k.vpc_attr()).ok().and_then(Val::known);
        let id = match known {
            Some(known) => self.ids.id(&prefix_of(k), known),
            None => match k {
                DefaultKind::SecurityGroup => implicit_default_sg_id(&vpc),
                DefaultKind::NetworkAcl => implicit_default_nacl_id(&vpc),
                DefaultKind::RouteTable => implicit_main_id(&vpc),
            },
        };
        let v6 = self
            .t
            .vpcs
            .iter()
            .find(|x| x.id == vpc)
            .and_then(|x| x.ipv6_cidr)
            .is_some();
        let mut everywhere = vec![IpNet::V4(Ipv4Net::default())];
        if v6 {
            everywhere.push(IpNet::V6(Ipv6Net::default()));
        }
        let at = match k {
            DefaultKind::SecurityGroup => {
                if let Some(at) = self.t.security_groups.iter().position(|g| g.id == id) {
                    return Some((at, id));
                }
                self.t.security_groups.push(SecurityGroup {
                    id: id.clone(),
                    vpc,
                    name: Some("default".into()),
                    description: Some("default VPC security group".into()),
                    default: true,
                    inbound: vec![all_rule(Some(RulePeer::Group(id.clone())), None)],
                    outbound: Some(
                        everywhere
                            .into_iter()
                            .map(|c| all_rule(None, Some(RulePeer::Cidr(c))))
                            .collect(),
                    ),
                });
                self.t.security_groups.len() - 1
            }
            DefaultKind::NetworkAcl => {
                if let Some(at) = self.t.network_acls.iter().position(|n| n.id == id) {
                    return Some((at, id));
                }
                let rules: Vec<NaclRule> = everywhere
                    .into_iter()
                    .zip(100..)
                    .map(|(cidr, rule)| NaclRule {
                        rule,
                        protocol: RuleProtocol::All,
                        ports: None,
                        icmp_type: None,
                        icmp_code: None,
                        cidr,
                        action: NaclAction::Allow,
                    })
                    .collect();
                self.t.network_acls.push(NetworkAcl {
                    id: id.clone(),
                    name: None,
                    vpc,
                    default: true,
                    subnets: Vec::new(),
                    inbound: rules.clone(),
                    outbound: rules,
                });
                self.t.network_acls.len() - 1
            }
            DefaultKind::RouteTable => {
                if let Some(at) = self.t.route_tables.iter().position(|r| r.id == id) {
                    return Some((at, id));
                }
                self.t.route_tables.push(RouteTable {
                    id: id.clone(),
                    name: None,
                    vpc,
                    main: true,
                    routes: Vec::new(),
                });
                self.t.route_tables.len() - 1
            }
        };
        self.report.add(
            EntryKind::Defaulted,
            self.file,
            &self.doc.resources[v].address,
            k.vpc_attr(),
            format!("{id}: the VPC's default {}, written out with AWS's default contents because something refers to it", match k {
                DefaultKind::SecurityGroup => "security group",
                DefaultKind::NetworkAcl => "network ACL",
                DefaultKind::RouteTable => "(main) route table",
            }),
        );
        Some((at, id))
    }

    /// Registers the known default-object ids of every VPC (after the declared resources,
    /// which win).
    pub(super) fn register_vpc_defaults(&mut self) {
        for v in self.of_type("aws_vpc") {
            for k in DefaultKind::ALL {
                let target = match self.declared_defaults.get(&(v, k)) {
                    Some(&d) => Target::Res(d),
                    None => Target::Default(v, k),
                };
                let o = self.obj(v);
                let attrs: &[&str] = match k {
                    DefaultKind::RouteTable => &["default_route_table_id", "main_route_table_id"],
                    _ => &[k.vpc_attr()],
                };
                for a in attrs {
                    if let Ok(Val::Known(id)) = o.str(a) {
                        self.register(id, target);
                    }
                }
            }
        }
    }
}

/// The id prefix of a default kind.
fn prefix_of(k: DefaultKind) -> String {
    match k {
        DefaultKind::SecurityGroup => "sg-".into(),
        DefaultKind::NetworkAcl => "acl-".into(),
        DefaultKind::RouteTable => "rtb-".into(),
    }
}

/// An all-traffic security-group rule with this source or destination.
fn all_rule(source: Option<RulePeer>, destination: Option<RulePeer>) -> SgRuleSpec {
    SgRuleSpec {
        protocol: RuleProtocol::All,
        ports: None,
        icmp_type: None,
        icmp_code: None,
        source,
        destination,
        description: None,
    }
}
