//! A test file resolved against its topologies: every topology version validated and
//! compiled (the initial one, then one per change), and every check's sender,
//! destination address and listening namespace known — before anything runs. A problem
//! anywhere is a [`SpecError`] naming the file, the check or change, and the field.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use dataplane::vpc::config::DataplaneConfig;

use super::report::Verdict;
use super::spec::{
    self, ChangeSpec, CheckProtocol, CheckSpec, Expect, Item, SpecError, TestFile, TopologySource,
};
use crate::model::{RouteState, Topology};

/// One version of the topology: the initial one (step 0) or the result of a change.
#[derive(Debug, Clone)]
pub struct Step {
    /// 0 for the initial topology, `k` after the `k`-th change.
    pub index: usize,
    /// What the change did, for reports.
    pub description: String,
    /// The validated model.
    pub topology: Topology,
}

/// A check, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCheck {
    /// Its position among the checks.
    pub index: usize,
    /// Its name for reports.
    pub name: String,
    /// The topology step it runs in.
    pub step: usize,
    /// What to do.
    pub kind: CheckKind,
}

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// Send traffic.
    Probe(ProbeCheck),
    /// Test a connection held by an earlier check.
    Held {
        /// The connection's name.
        connection: String,
        /// The index of the check that opened it.
        opened_by: usize,
        /// Whether it must still carry data.
        alive: bool,
    },
}

/// A traffic check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCheck {
    /// The sender's id (ENI or internet host).
    pub from: String,
    /// The sender's namespace (unprefixed).
    pub from_netns: String,
    /// The destination as written.
    pub to: String,
    /// The destination address.
    pub dst: Ipv4Addr,
    /// The namespace that answers at `dst` (unprefixed), if any holds it.
    pub dst_netns: Option<String>,
    /// The protocol.
    pub protocol: CheckProtocol,
    /// The destination port (TCP, UDP).
    pub port: Option<u16>,
    /// The source port asked for.
    pub source_port: Option<u16>,
    /// The expectation.
    pub expect: Verdict,
    /// The source the server must see.
    pub seen_source: Option<Ipv4Addr>,
    /// The expected explanation code.
    pub explanation: Option<String>,
    /// Keep the connection under this name.
    pub hold: Option<String>,
}

/// A test file, resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The test file.
    pub file: String,
    /// The topology's label (its path, or `inline`).
    pub topology_label: String,
    /// The topology versions.
    pub steps: Vec<Step>,
    /// The checks, in file order.
    pub checks: Vec<PlannedCheck>,
}

impl Plan {
    /// The compiled configuration of `step` with every namespace renamed by `ns`.
    pub fn config(
        &self,
        step: usize,
        ns: &dyn Fn(&str) -> String,
    ) -> Result<(Topology, DataplaneConfig), Vec<String>> {
        let mut t = self
            .steps
            .get(step)
            .map(|s| s.topology.clone())
            .unwrap_or_default();
        t.rename_namespaces(ns);
        let texts = |e: crate::ValidationErrors| -> Vec<String> {
            e.iter().map(|e| e.to_string()).collect()
        };
        crate::validate::validate(&mut t).map_err(texts)?;
        let config = crate::compile::compile(&t).map_err(texts)?;
        Ok((t, config))
    }
}

/// Loads and resolves test file `path`.
pub fn load(path: &Path) -> Result<Plan, Vec<SpecError>> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| {
        vec![SpecError::new(
            &file,
            "file",
            "",
            format!("cannot read: {e}"),
        )]
    })?;
    let spec = spec::parse(&file, &src)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    resolve(&file, &dir, &spec)
}

/// Resolves a parsed test file (`dir`: where relative paths start).
pub fn resolve(file: &str, dir: &Path, spec: &TestFile) -> Result<Plan, Vec<SpecError>> {
    let mut errors = Vec::new();
    let (topology_label, initial) = match &spec.topology {
        TopologySource::Path(p) => (
            p.clone(),
            load_topology(file, "file", "topology", &dir.join(p)),
        ),
        TopologySource::Inline { inline } => (
            "inline".to_string(),
            topology_text(file, "file", "topology", inline),
        ),
    };
    let initial = initial.map_err(|e| vec![e])?;
    let mut steps = vec![Step {
        index: 0,
        description: format!("topology {topology_label}"),
        topology: initial,
    }];
    let mut checks = Vec::new();
    let mut held: BTreeMap<String, usize> = BTreeMap::new();
    for item in &spec.items {
        match item {
            Item::Change(i, c) => {
                let prev = steps.last().map(|s| s.topology.clone()).unwrap_or_default();
                match change(file, dir, *i, c, prev) {
                    Ok((description, topology)) => steps.push(Step {
                        index: steps.len(),
                        description,
                        topology,
                    }),
                    Err(e) => {
                        errors.push(e);
                        // Later checks resolve against the last good topology.
                    }
                }
            }
            Item::Check(i, c) => {
                let step = steps.len() - 1;
                match check(file, *i, c, &steps[step].topology, &spec.names, &held) {
                    Ok(pc) => {
                        if let CheckKind::Probe(ProbeCheck { hold: Some(h), .. }) = &pc.kind {
                            held.insert(h.clone(), pc.index);
                        }
                        checks.push(PlannedCheck { step, ..pc });
                    }
                    Err(e) => errors.extend(e),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(Plan {
            file: file.to_string(),
            topology_label,
            steps,
            checks,
        })
    } else {
        Err(errors)
    }
}

/// Parses and validates a topology file.
fn load_topology(
    file: &str,
    what: &str,
    field: &str,
    path: &PathBuf,
) -> Result<Topology, SpecError> {
    // AWS descriptions and Terraform plans are imported on the fly.
    if !matches!(
        crate::import::source::kind(path),
        Ok(crate::import::source::SourceKind::Toml)
    ) {
        return crate::import::source::topology(path)
            .map_err(|e| SpecError::new(file, what, field, e.join("; ")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        SpecError::new(
            file,
            what,
            field,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    topology_text(file, what, field, &text).map_err(|mut e| {
        e.message = format!("{}: {}", path.display(), e.message);
        e
    })
}

/// Parses and validates a topology's text.
fn topology_text(file: &str, what: &str, field: &str, text: &str) -> Result<Topology, SpecError> {
    crate::validate::check(text).map(|(t, _)| t).map_err(|e| {
        let all: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        SpecError::new(
            file,
            what,
            field,
            format!("invalid topology: {}", all.join("; ")),
        )
    })
}

/// Applies change `i` to `t`: its description and the validated result.
fn change(
    file: &str,
    dir: &Path,
    i: usize,
    c: &ChangeSpec,
    mut t: Topology,
) -> Result<(String, Topology), SpecError> {
    let what = format!("change[{i}]");
    let err = |field: &str, msg: String| SpecError::new(file, &what, field, msg);
    let set = [
        c.apply.is_some(),
        c.add_rule.is_some(),
        c.remove_rule.is_some(),
        c.add_route.is_some(),
        c.remove_route.is_some(),
    ];
    if set.iter().filter(|&&b| b).count() != 1 {
        return Err(err(
            "",
            "give exactly one of apply, add_rule, remove_rule, add_route, remove_route".into(),
        ));
    }
    let description;
    if let Some(p) = &c.apply {
        let t = load_topology(file, &what, "apply", &dir.join(p))?;
        return Ok((format!("apply {p}"), t));
    } else if let Some(a) = &c.add_rule {
        let inbound = direction(&a.direction).map_err(|m| err("add_rule.direction", m))?;
        match (&a.security_group, &a.network_acl) {
            (Some(sg), None) => {
                let rule = spec::sg_rule(&a.rule).map_err(|m| err("add_rule.rule", m))?;
                let g = t
                    .security_groups
                    .iter_mut()
                    .find(|g| &g.id == sg)
                    .ok_or_else(|| {
                        err(
                            "add_rule.security_group",
                            format!("no security group `{sg}` in the topology"),
                        )
                    })?;
                if inbound {
                    g.inbound.push(rule);
                } else {
                    g.outbound.get_or_insert_with(Vec::new).push(rule);
                }
                description = format!("add a rule to {sg} {}", a.direction);
            }
            (None, Some(acl)) => {
                let rule = spec::nacl_rule(&a.rule).map_err(|m| err("add_rule.rule", m))?;
                let n = t
                    .network_acls
                    .iter_mut()
                    .find(|n| &n.id == acl)
                    .ok_or_else(|| {
                        err(
                            "add_rule.network_acl",
                            format!("no network ACL `{acl}` in the topology"),
                        )
                    })?;
                description = format!("add rule {} to {acl} {}", rule.rule, a.direction);
                if inbound {
                    n.inbound.push(rule)
                } else {
                    n.outbound.push(rule)
                }
            }
            _ => {
                return Err(err(
                    "add_rule",
                    "name one of security_group or network_acl".into(),
                ))
            }
        }
    } else if let Some(r) = &c.remove_rule {
        let inbound = direction(&r.direction).map_err(|m| err("remove_rule.direction", m))?;
        match (&r.security_group, &r.network_acl) {
            (Some(sg), None) => {
                let g = t
                    .security_groups
                    .iter_mut()
                    .find(|g| &g.id == sg)
                    .ok_or_else(|| {
                        err(
                            "remove_rule.security_group",
                            format!("no security group `{sg}` in the topology"),
                        )
                    })?;
                let idx = r.index.ok_or_else(|| {
                    err(
                        "remove_rule.index",
                        "give the rule's position (0-based) in the group's list".into(),
                    )
                })?;
                let list = if inbound {
                    Some(&mut g.inbound)
                } else {
                    g.outbound.as_mut()
                };
                match list {
                    Some(l) if idx < l.len() => {
                        l.remove(idx);
                    }
                    _ => {
                        return Err(err(
                            "remove_rule.index",
                            format!("{sg} has no {} rule {idx}", r.direction),
                        ))
                    }
                }
                description = format!("remove {sg} {}[{idx}]", r.direction);
            }
            (None, Some(acl)) => {
                let n = t
                    .network_acls
                    .iter_mut()
                    .find(|n| &n.id == acl)
                    .ok_or_else(|| {
                        err(
                            "remove_rule.network_acl",
                            format!("no network ACL `{acl}` in the topology"),
                        )
                    })?;
                let num = r
                    .rule
                    .ok_or_else(|| err("remove_rule.rule", "give the rule number".into()))?;
                let list = if inbound {
                    &mut n.inbound
                } else {
                    &mut n.outbound
                };
                let before = list.len();
                list.retain(|x| x.rule != num);
                if list.len() == before {
                    return Err(err(
                        "remove_rule.rule",
                        format!("{acl} has no {} rule {num}", r.direction),
                    ));
                }
                description = format!("remove {acl} {} rule {num}", r.direction);
            }
            _ => {
                return Err(err(
                    "remove_rule",
                    "name one of security_group or network_acl".into(),
                ))
            }
        }
    } else if let Some(a) = &c.add_route {
        let rt = t
            .route_tables
            .iter_mut()
            .find(|r| r.id == a.route_table)
            .ok_or_else(|| {
                err(
                    "add_route.route_table",
                    format!("no route table `{}` in the topology", a.route_table),
                )
            })?;
        let destination = a.destination.parse().map_err(|_| {
            err(
                "add_route.destination",
                format!("`{}` is not a CIDR", a.destination),
            )
        })?;
        rt.routes.push(crate::model::Route {
            destination,
            target: a.target.clone(),
            state: RouteState::Active,
        });
        description = format!(
            "add route {} → {} to {}",
            a.destination, a.target, a.route_table
        );
    } else if let Some(r) = &c.remove_route {
        let rt = t
            .route_tables
            .iter_mut()
            .find(|x| x.id == r.route_table)
            .ok_or_else(|| {
                err(
                    "remove_route.route_table",
                    format!("no route table `{}` in the topology", r.route_table),
                )
            })?;
        let before = rt.routes.len();
        rt.routes
            .retain(|x| x.destination.to_string() != r.destination);
        if rt.routes.len() == before {
            return Err(err(
                "remove_route.destination",
                format!("{} has no route to {}", r.route_table, r.destination),
            ));
        }
        description = format!("remove route {} from {}", r.destination, r.route_table);
    } else {
        return Err(err("", "empty change".into()));
    }
    let mut checked = t.clone();
    crate::validate::validate(&mut checked).map_err(|e| {
        let all: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        err(
            "",
            format!(
                "the topology after this change is invalid: {}",
                all.join("; ")
            ),
        )
    })?;
    Ok((description, checked))
}

/// `inbound` → true, `outbound` → false.
fn direction(d: &str) -> Result<bool, String> {
    match d {
        "inbound" => Ok(true),
        "outbound" => Ok(false),
        other => Err(format!("`{other}`: expected inbound or outbound")),
    }
}

/// Resolves check `i` against topology `t`.
fn check(
    file: &str,
    i: usize,
    c: &CheckSpec,
    t: &Topology,
    names: &BTreeMap<String, String>,
    held: &BTreeMap<String, usize>,
) -> Result<PlannedCheck, Vec<SpecError>> {
    let what = c
        .name
        .clone()
        .map_or_else(|| format!("check[{i}]"), |n| format!("check[{i}] ({n})"));
    let mut errors = Vec::new();
    let mut err = |field: &str, msg: String| errors.push(SpecError::new(file, &what, field, msg));
    if let Some(conn) = &c.connection {
        if c.from.is_some() || c.to.is_some() {
            err(
                "connection",
                "a check of a held connection names no `from` or `to`".into(),
            );
        }
        let alive = match c.expect {
            Expect::Keeps => true,
            Expect::Cut => false,
            _ => {
                err(
                    "expect",
                    "a held connection is expected to `keeps` or `cut`".into(),
                );
                true
            }
        };
        let Some(&opened_by) = held.get(conn) else {
            err(
                "connection",
                format!("no earlier check holds a connection named `{conn}` (`hold = \"{conn}\"`)"),
            );
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        return Ok(PlannedCheck {
            index: i,
            name: c.name.clone().unwrap_or_else(|| {
                format!("{conn} {}", if alive { "keeps working" } else { "is cut" })
            }),
            step: 0,
            kind: CheckKind::Held {
                connection: conn.clone(),
                opened_by,
                alive,
            },
        });
    }
    let expect = match c.expect {
        Expect::Reach => Verdict::Reach,
        Expect::Blocked => Verdict::Blocked,
        Expect::Keeps | Expect::Cut => {
            err("expect", "`keeps` and `cut` are for a held connection (`connection = …`); use reach or blocked".into());
            Verdict::Reach
        }
    };
    let (from, from_netns) = match &c.from {
        None => {
            err("from", "missing: the sending ENI or internet host".into());
            (String::new(), String::new())
        }
        Some(f) => match sender(t, f) {
            Ok(ns) => (f.clone(), ns),
            Err(m) => {
                err("from", m);
                (f.clone(), String::new())
            }
        },
    };
    let (to, dst, dst_netns) = match &c.to {
        None => {
            err(
                "to",
                "missing: an ENI, an internet host, a name of [names] or an IPv4 address".into(),
            );
            (String::new(), Ipv4Addr::UNSPECIFIED, None)
        }
        Some(to) => match destination(t, names, to) {
            Ok((a, ns)) => (to.clone(), a, ns),
            Err(m) => {
                err("to", m);
                (to.clone(), Ipv4Addr::UNSPECIFIED, None)
            }
        },
    };
    match (c.protocol, c.port) {
        (CheckProtocol::Icmp, Some(_)) => err("port", "icmp has no ports".into()),
        (CheckProtocol::Icmp, None) => {}
        (_, None) => err("port", format!("{} needs a port", c.protocol.as_str())),
        (_, Some(0)) => err("port", "0 is not a port".into()),
        _ => {}
    }
    if c.protocol == CheckProtocol::Icmp && c.source_port.is_some() {
        err("source_port", "icmp has no ports".into());
    }
    if c.source_port == Some(0) {
        err("source_port", "0 is not a port".into());
    }
    let seen_source = match &c.seen_source {
        None => None,
        Some(s) => {
            if expect != Verdict::Reach {
                err(
                    "seen_source",
                    "only a check that expects `reach` sees a source".into(),
                );
            }
            match names
                .get(s)
                .map_or(s.as_str(), String::as_str)
                .parse::<Ipv4Addr>()
            {
                Ok(a) => Some(a),
                Err(_) => {
                    err(
                        "seen_source",
                        format!("`{s}` is not an IPv4 address or a name of [names]"),
                    );
                    None
                }
            }
        }
    };
    if c.explanation.is_some() && expect != Verdict::Blocked {
        err(
            "explanation",
            "only a check that expects `blocked` has an explanation".into(),
        );
    }
    if c.hold.is_some() && (c.protocol != CheckProtocol::Tcp || expect != Verdict::Reach) {
        err(
            "hold",
            "only a tcp check that expects `reach` can hold its connection".into(),
        );
    }
    if let Some(h) = &c.hold {
        if held.contains_key(h) {
            err("hold", format!("a connection named `{h}` is already held"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let port = c.port;
    let name = c.name.clone().unwrap_or_else(|| match port {
        Some(p) => format!("{from} → {to} {}/{p}", c.protocol.as_str()),
        None => format!("{from} → {to} {}", c.protocol.as_str()),
    });
    Ok(PlannedCheck {
        index: i,
        name,
        step: 0,
        kind: CheckKind::Probe(ProbeCheck {
            from,
            from_netns,
            to,
            dst,
            dst_netns,
            protocol: c.protocol,
            port,
            source_port: c.source_port,
            expect,
            seen_source,
            explanation: c.explanation.clone(),
            hold: c.hold.clone(),
        }),
    })
}

/// The namespace of sender `id` (an attached ENI or an internet host).
fn sender(t: &Topology, id: &str) -> Result<String, String> {
    if let Some(e) = t.enis.iter().find(|e| e.id == id) {
        return e
            .netns
            .clone()
            .ok_or_else(|| format!("{id} has no `netns`: it is not attached, so it cannot send"));
    }
    if let Some(h) = t.internet_hosts.iter().find(|h| h.id == id) {
        return Ok(h.netns().to_string());
    }
    Err(format!("no ENI or internet host `{id}` in the topology"))
}

/// The address of destination `to` and the namespace that answers there.
fn destination(
    t: &Topology,
    names: &BTreeMap<String, String>,
    to: &str,
) -> Result<(Ipv4Addr, Option<String>), String> {
    if let Some(e) = t.enis.iter().find(|e| e.id == to) {
        return Ok((e.private_ip, e.netns.clone()));
    }
    if let Some(h) = t.internet_hosts.iter().find(|h| h.id == to) {
        let a = h
            .addresses
            .first()
            .copied()
            .ok_or_else(|| format!("{to} has no address"))?;
        return Ok((a, Some(h.netns().to_string())));
    }
    let text = names.get(to).map_or(to, String::as_str);
    let a: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("`{to}` is no ENI, internet host, name of [names] or IPv4 address"))?;
    Ok((a, owner(t, a)))
}

/// The namespace holding address `a`: an ENI by a private address, an Elastic IP or its
/// public IP; an internet host; or a gateway's own internet namespace.
pub fn owner(t: &Topology, a: Ipv4Addr) -> Option<String> {
    if let Some(e) = t
        .enis
        .iter()
        .find(|e| e.ipv4_addrs().any(|x| x == a) || e.public_ip == Some(a))
    {
        return e.netns.clone();
    }
    if let Some(eip) = t.elastic_ips.iter().find(|x| x.public_ip == a) {
        let eni = eip.eni.as_ref()?;
        return t
            .enis
            .iter()
            .find(|e| &e.id == eni)
            .and_then(|e| e.netns.clone());
    }
    if let Some(h) = t.internet_hosts.iter().find(|h| h.addresses.contains(&a)) {
        return Some(h.netns().to_string());
    }
    t.internet_gateways
        .iter()
        .filter_map(|g| g.internet.as_ref())
        .find(|i| i.hosts.contains(&a))
        .map(|i| i.netns.clone())
}

/// A plan of one probe per matrix entry against `topology` (each expecting `reach`: the
/// run's traffic verdicts are what its callers read). Probes whose sender or destination
/// the topology lacks are left out; the second value says, per probe, whether it is in.
pub fn matrix_plan(
    label: &str,
    topology: Topology,
    probes: &[super::generate::MatrixProbe],
) -> (Plan, Vec<Option<usize>>) {
    let mut checks = Vec::new();
    let mut slots = Vec::new();
    let names = BTreeMap::new();
    let held = BTreeMap::new();
    for p in probes {
        let spec = CheckSpec {
            name: Some(p.describe()),
            from: Some(p.from.clone()),
            to: Some(p.to.clone()),
            protocol: p.protocol,
            port: p.port,
            source_port: None,
            expect: Expect::Reach,
            seen_source: None,
            explanation: None,
            hold: None,
            connection: None,
        };
        match check(label, checks.len(), &spec, &topology, &names, &held) {
            Ok(c) => {
                slots.push(Some(checks.len()));
                checks.push(c);
            }
            Err(_) => slots.push(None),
        }
    }
    let plan = Plan {
        file: label.to_string(),
        topology_label: label.to_string(),
        steps: vec![Step {
            index: 0,
            description: format!("topology {label}"),
            topology,
        }],
        checks,
    };
    (plan, slots)
}
