//! `aws_network_interface`, `aws_network_interface_attachment` and `aws_instance` (its
//! primary network interface), the instances' namespaces and ENI ids, and the private
//! addresses that are unknown until apply. An instance's id, `instance_type`, `ami` and
//! `metadata_options` go on its primary ENI (the others of its namespace share them).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use super::super::{eni_netns, EntryKind};
use super::config::key_of;
use super::ctx::{Ctx, PendingIps, PendingPublic, Ref, Target, SG_TYPES};
use super::doc::{parse_ip6, Obj, Val};
use crate::model::{
    Eni, HttpEndpoint, HttpTokens, InstanceMetadataOptions, DEFAULT_IFNAME, DEFAULT_MTU,
};
use crate::validate::{assignable_ipv4, is_image_id, is_instance_id};

/// Namespace names are cut to this many characters.
const MAX_NS: usize = 60;

/// `s` as a namespace name and id suffix: letters, digits, `-` and `_`; other runs of
/// characters become one `-`.
fn sanitise(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    out.chars()
        .take(MAX_NS)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// An instance's name from its address: the module calls, the resource name and the key
/// (`module.app.aws_instance.web[1]` → `app-web-1`).
fn address_name(address: &str) -> String {
    let parts: Vec<&str> = address
        .split('.')
        .filter(|p| *p != "module" && *p != "aws_instance")
        .collect();
    sanitise(&parts.join("-"))
}

/// Names the instances' namespaces and primary ENIs (before anything refers to them).
pub(super) fn assign_instances(cx: &mut Ctx<'_>) {
    let instances = cx.of_type("aws_instance");
    let mut base: Vec<(usize, String)> = Vec::new();
    for &i in &instances {
        let o = cx.obj(i);
        let tag = o
            .name_tag()
            .ok()
            .flatten()
            .map(|n| sanitise(&n))
            .filter(|n| !n.is_empty());
        let name = tag.unwrap_or_else(|| address_name(&cx.res(i).address));
        let name = if name.is_empty() {
            "instance".to_string()
        } else {
            name
        };
        base.push((i, name));
        if let Ok(Val::Known(id)) = o.str("id") {
            cx.register(id, Target::Res(i));
        }
        if let Ok(Val::Known(eni)) = o.str("primary_network_interface_id") {
            cx.register(eni, Target::Res(i));
        }
    }
    let mut count: HashMap<String, usize> = HashMap::new();
    for (_, n) in &base {
        *count.entry(n.clone()).or_default() += 1;
    }
    let mut used: HashSet<String> = HashSet::new();
    for (i, n) in base {
        let mut name = n.clone();
        if count.get(&n).copied().unwrap_or(0) > 1 {
            if let Some(k) = &cx.res(i).index {
                name = sanitise(&format!("{n}-{}", key_of(k)));
            }
        }
        let mut k = 2;
        let stem = name.clone();
        while used.contains(&name) {
            name = format!("{stem}-{k}");
            k += 1;
        }
        used.insert(name.clone());
        cx.instance_ns.insert(i, name);
    }
    // ENI ids in use, so that a name-derived one does not clash.
    let mut taken: HashSet<String> = (0..cx.doc.resources.len())
        .filter(|&j| cx.res(j).rtype == "aws_network_interface")
        .filter_map(|j| cx.model[j].clone())
        .collect();
    for &i in &instances {
        let o = cx.obj(i);
        let address = cx.res(i).address.clone();
        let id = match o.str("primary_network_interface_id") {
            Ok(Val::Known(known)) => cx.ids.id("eni-", known),
            _ => {
                // An existing ENI attached as device 0 is the primary.
                if let Some(j) = primary_attached(cx, i) {
                    cx.model[j].clone().unwrap_or_default()
                } else {
                    let ns = cx.instance_ns.get(&i).cloned().unwrap_or_default();
                    let by_name = format!("eni-{ns}");
                    if !taken.contains(&by_name) {
                        cx.report.ids.insert(
                            format!("{address}.primary_network_interface_id"),
                            by_name.clone(),
                        );
                        by_name
                    } else {
                        cx.ids
                            .id("eni-", &format!("{address}.primary_network_interface_id"))
                    }
                }
            }
        };
        taken.insert(id.clone());
        cx.model[i] = Some(id);
    }
}

/// The `aws_network_interface` (resource index) that instance `i` attaches as device 0
/// through a `network_interface` block, if any.
fn primary_attached(cx: &Ctx<'_>, i: usize) -> Option<usize> {
    let o = cx.obj(i);
    let Ok(Val::Known(blocks)) = o.blocks("network_interface") else {
        return None;
    };
    blocks.iter().find_map(|b| {
        if !matches!(b.int("device_index"), Ok(Val::Known(0))) {
            return None;
        }
        match cx.reference(
            i,
            b,
            "network_interface_id",
            "network_interface",
            &["aws_network_interface"],
        ) {
            Ok(Ref::Found(Target::Res(j))) => Some(j),
            _ => None,
        }
    })
}

/// Imports the ENIs and the instances' primary ENIs.
pub(super) fn interfaces(cx: &mut Ctx<'_>) {
    // Which instance each aws_network_interface is attached to, as which device.
    let mut attached: HashMap<usize, (usize, i64)> = HashMap::new();
    for i in cx.of_type("aws_network_interface") {
        let o = cx.obj(i);
        if let Some(Val::Known(blocks)) = cx.ok(o.blocks("attachment")) {
            for b in blocks {
                let r = cx.reference(i, &b, "instance", "attachment", &["aws_instance"]);
                if let Some(Ref::Found(Target::Res(inst))) = cx.ok(r) {
                    let dev = cx
                        .ok(b.int("device_index"))
                        .and_then(Val::known)
                        .unwrap_or(1);
                    attached.insert(i, (inst, dev));
                }
            }
        }
    }
    for inst in cx.of_type("aws_instance") {
        let o = cx.obj(inst);
        if let Some(Val::Known(blocks)) = cx.ok(o.blocks("network_interface")) {
            for b in blocks {
                let r = cx.reference(
                    inst,
                    &b,
                    "network_interface_id",
                    "network_interface",
                    &["aws_network_interface"],
                );
                if let Some(Ref::Found(Target::Res(j))) = cx.ok(r) {
                    let dev = cx
                        .ok(b.int("device_index"))
                        .and_then(Val::known)
                        .unwrap_or(0);
                    attached.insert(j, (inst, dev));
                }
            }
        }
    }
    for a in cx.of_type("aws_network_interface_attachment") {
        cx.handled[a] = true;
        let o = cx.obj(a);
        let inst = cx.reference(a, &o, "instance_id", "instance_id", &["aws_instance"]);
        let eni = cx.reference(
            a,
            &o,
            "network_interface_id",
            "network_interface_id",
            &["aws_network_interface"],
        );
        let (Some(inst), Some(eni)) = (cx.ok(inst), cx.ok(eni)) else {
            continue;
        };
        match (inst, eni) {
            (Ref::Found(Target::Res(inst)), Ref::Found(Target::Res(j))) => {
                let dev = cx
                    .ok(o.int("device_index"))
                    .and_then(Val::known)
                    .unwrap_or(1);
                attached.insert(j, (inst, dev));
                cx.imported[a] = true;
                cx.note(
                    EntryKind::Used,
                    a,
                    "",
                    format!("attaches {} as eth{dev}", cx.target_name(Target::Res(j))),
                );
            }
            (inst, eni) => {
                let bad = if matches!(inst, Ref::Found(_)) {
                    ("network_interface_id", eni, "aws_network_interface")
                } else {
                    ("instance_id", inst, "aws_instance")
                };
                let msg = cx.missing(&bad.1, bad.2);
                cx.fail(a, bad.0, msg);
            }
        }
    }

    for i in cx.of_type("aws_network_interface") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let r = cx.reference(i, &o, "subnet_id", "subnet_id", &["aws_subnet"]);
        let Some((subnet, _)) = cx.required(i, "subnet_id", r, "aws_subnet") else {
            continue;
        };
        // Addresses: `private_ip` is the primary; `private_ip_list` is ordered, primary
        // first; `private_ips` is a set.
        let primary = cx.ok(o.ip4("private_ip")).and_then(Val::known);
        let mut addrs: Vec<Ipv4Addr> = Vec::new();
        let mut unknown = 0usize;
        for k in ["private_ip_list", "private_ips"] {
            match cx.ok(o.strs(k)) {
                Some(Val::Known(items)) if !items.is_empty() => {
                    for item in items {
                        match item {
                            Val::Known(s) => match s.parse::<Ipv4Addr>() {
                                Ok(a) if !addrs.contains(&a) => addrs.push(a),
                                Ok(_) => {}
                                Err(_) => {
                                    cx.error(o.err(k, format!("`{s}` is not an IPv4 address")))
                                }
                            },
                            Val::Unknown => unknown += 1,
                            Val::Absent => {}
                        }
                    }
                    break;
                }
                _ => {}
            }
        }
        let count = cx
            .ok(o.int("private_ips_count"))
            .and_then(Val::known)
            .unwrap_or(0);
        let primary_known = primary.or_else(|| {
            if addrs.is_empty() {
                None
            } else if cx.res(i).values.contains_key("private_ip_list") || addrs.len() == 1 {
                Some(addrs[0])
            } else {
                addrs.iter().min().copied()
            }
        });
        if primary.is_none() && addrs.len() > 1 && !cx.res(i).values.contains_key("private_ip_list")
        {
            if let Some(p) = primary_known {
                cx.note(EntryKind::Defaulted, i, "private_ip", format!("unknown until apply: {p}, the lowest of private_ips, is taken as the primary"));
            }
        }
        let secondary: Vec<Ipv4Addr> = addrs
            .iter()
            .copied()
            .filter(|a| Some(*a) != primary_known)
            .collect();
        let extra = usize::try_from(count)
            .unwrap_or(0)
            .saturating_sub(secondary.len())
            + unknown;
        // An ENI of its own gets a namespace of its own, apart from the instances' ones.
        let own = || {
            let ns = eni_netns(&id);
            if cx.instance_ns.values().any(|n| *n == ns) {
                format!("{ns}-eni")
            } else {
                ns
            }
        };
        let (ns, ifname, device_index) = match attached
            .get(&i)
            .and_then(|&(inst, dev)| Some((cx.instance_ns.get(&inst)?, dev)))
        {
            Some((ns, dev)) => (ns.clone(), format!("eth{dev}"), u32::try_from(dev).ok()),
            None => (own(), DEFAULT_IFNAME.to_string(), None),
        };
        let security_groups = groups(cx, i, &o, "security_groups");
        let source_dest_check = cx
            .ok(o.bool("source_dest_check"))
            .and_then(Val::known)
            .unwrap_or(true);
        let ipv6_ips = ipv6(cx, i, &o, &subnet);
        let name = cx.ok(o.name_tag()).flatten();
        let eni = Eni {
            addressing: Default::default(),
            id: id.clone(),
            name,
            subnet,
            private_ip: primary_known.unwrap_or(Ipv4Addr::UNSPECIFIED),
            secondary_ips: secondary,
            ipv6_ips,
            mac: None,
            source_dest_check,
            mtu: DEFAULT_MTU,
            netns: Some(ns),
            ifname,
            attachment: None,
            socket: None,
            interface: None,
            security_groups,
            conntrack: None,
            pps_allowance: None,
            public_ip: None,
            instance_id: None,
            device_index,
            instance_type: None,
            image_id: None,
            metadata_options: None,
        };
        push(cx, i, eni, primary_known.is_none(), extra);
        cx.note(EntryKind::Used, i, "", format!("eni {id}"));
    }

    for i in cx.of_type("aws_instance") {
        cx.handled[i] = true;
        instance(cx, i, &attached);
    }
}

/// Adds an ENI of resource `i`, remembering the addresses still to choose.
fn push(cx: &mut Ctx<'_>, i: usize, eni: Eni, primary: bool, secondaries: usize) {
    cx.t.enis.push(eni);
    cx.imported[i] = true;
    if primary || secondaries > 0 {
        cx.pending_ips.push(PendingIps {
            eni: cx.t.enis.len() - 1,
            res: i,
            primary,
            secondaries,
        });
    }
}

/// The IPv6 addresses of `ipv6_addresses` (none, reported, when `subnet` has no IPv6 CIDR).
fn ipv6(cx: &mut Ctx<'_>, i: usize, o: &Obj<'_>, subnet: &str) -> Vec<std::net::Ipv6Addr> {
    let mut out = Vec::new();
    let v6 =
        cx.t.subnets
            .iter()
            .any(|s| s.id == subnet && s.ipv6_cidr.is_some());
    match cx.ok(o.strs("ipv6_addresses")) {
        Some(Val::Known(items)) => {
            for s in items.into_iter().filter_map(Val::known) {
                match parse_ip6(s) {
                    Some(a) => out.push(a),
                    None => {
                        cx.error(o.err("ipv6_addresses", format!("`{s}` is not an IPv6 address")))
                    }
                }
            }
        }
        Some(Val::Unknown)
            if cx
                .res(i)
                .values
                .get("ipv6_address_count")
                .is_some_and(|c| c.as_i64().unwrap_or(0) > 0) =>
        {
            cx.note(
                EntryKind::Defaulted,
                i,
                "ipv6_addresses",
                "unknown until apply: left out",
            );
        }
        _ => {}
    }
    if !v6 && !out.is_empty() {
        cx.note(
            EntryKind::Skipped,
            i,
            "ipv6_addresses",
            format!("{subnet} was imported without IPv6: the IPv6 addresses are left out"),
        );
        out.clear();
    }
    out
}

/// The security groups of reference list `k` (model ids), `None` for the VPC's default.
fn groups(cx: &mut Ctx<'_>, i: usize, o: &Obj<'_>, k: &str) -> Option<Vec<String>> {
    let refs = cx.ok(cx.references(i, o, k, k, SG_TYPES))?;
    let mut out = Vec::new();
    for r in refs {
        match r {
            Ref::Found(t) => match cx.model_of(t) {
                Some(m) if !out.contains(&m) => out.push(m),
                Some(_) => {}
                None => {
                    let msg = format!("{} is left out: so is its membership", cx.target_name(t));
                    cx.note(EntryKind::Skipped, i, k, msg);
                }
            },
            Ref::Absent => {}
            other => {
                let msg = cx.missing(&other, "aws_security_group");
                cx.fail(i, k, msg);
            }
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// One instance: its primary ENI (unless an `aws_network_interface` is its device 0).
fn instance(cx: &mut Ctx<'_>, i: usize, attached: &HashMap<usize, (usize, i64)>) {
    let o = cx.obj(i);
    let Some(id) = cx.model[i].clone() else {
        return;
    };
    let ns = cx.instance_ns.get(&i).cloned().unwrap_or_default();
    if let Some((&j, _)) = attached
        .iter()
        .find(|(_, &(inst, dev))| inst == i && dev == 0)
    {
        let eni_id = cx.model[j].clone().unwrap_or_default();
        let settings = instance_settings(cx, i, &o);
        if let Some(e) = cx.t.enis.iter_mut().find(|e| e.id == eni_id) {
            settings.apply(e);
        }
        cx.imported[i] = cx.imported[j];
        cx.note(
            EntryKind::Used,
            i,
            "",
            format!("its primary network interface is {eni_id} (namespace {ns})"),
        );
        return;
    }
    let r = cx.reference(i, &o, "subnet_id", "subnet_id", &["aws_subnet"]);
    if matches!(r, Ok(Ref::Absent)) {
        cx.note(
            EntryKind::Skipped,
            i,
            "subnet_id",
            "not set: launched into the account's default VPC, which is not in the document",
        );
        return;
    }
    let Some((subnet, subnet_t)) = cx.required(i, "subnet_id", r, "aws_subnet") else {
        return;
    };
    let primary = match cx.ok(o.ip4("private_ip")) {
        Some(Val::Known(a)) => Some(a),
        Some(_) => None,
        None => return,
    };
    let mut secondary = Vec::new();
    if let Some(Val::Known(items)) = cx.ok(o.strs("secondary_private_ips")) {
        for s in items.into_iter().filter_map(Val::known) {
            match s.parse::<Ipv4Addr>() {
                Ok(a) => secondary.push(a),
                Err(_) => cx.error(o.err(
                    "secondary_private_ips",
                    format!("`{s}` is not an IPv4 address"),
                )),
            }
        }
    }
    let mut security_groups = groups(cx, i, &o, "vpc_security_group_ids");
    if security_groups.is_none() {
        security_groups = groups_by_name(cx, i, &o, &subnet);
    }
    let source_dest_check = cx
        .ok(o.bool("source_dest_check"))
        .and_then(Val::known)
        .unwrap_or(true);
    // A public IP: known, or asked for (`associate_public_ip_address`, else the subnet's
    // `map_public_ip_on_launch`) and unknown until apply.
    let public_known = cx.ok(o.ip4("public_ip")).and_then(Val::known);
    let wants_public = match cx.ok(o.bool("associate_public_ip_address")) {
        Some(Val::Known(b)) => b,
        _ => match subnet_t {
            Target::Res(s) => matches!(
                cx.obj(s).bool("map_public_ip_on_launch"),
                Ok(Val::Known(true))
            ),
            Target::Default(..) => false,
        },
    };
    let ipv6_ips = ipv6(cx, i, &o, &subnet);
    let name = cx.ok(o.name_tag()).flatten();
    let settings = instance_settings(cx, i, &o);
    let mut eni = Eni {
        addressing: Default::default(),
        id: id.clone(),
        name,
        subnet,
        private_ip: primary.unwrap_or(Ipv4Addr::UNSPECIFIED),
        secondary_ips: secondary,
        ipv6_ips,
        mac: None,
        source_dest_check,
        mtu: DEFAULT_MTU,
        netns: Some(ns.clone()),
        ifname: DEFAULT_IFNAME.to_string(),
        attachment: None,
        socket: None,
        interface: None,
        security_groups,
        conntrack: None,
        pps_allowance: None,
        public_ip: public_known,
        instance_id: None,
        device_index: None,
        instance_type: None,
        image_id: None,
        metadata_options: None,
    };
    settings.apply(&mut eni);
    push(cx, i, eni, primary.is_none(), 0);
    if public_known.is_none() && wants_public {
        cx.pending_public
            .push(PendingPublic::Eni(cx.t.enis.len() - 1, i));
    }
    cx.note(
        EntryKind::Used,
        i,
        "",
        format!("eni {id} in namespace {ns}"),
    );
}

/// What an `aws_instance` says about the instance, as `[[eni]]` fields.
#[derive(Debug, Default)]
struct InstanceSettings {
    /// `id`, when known and of AWS's form.
    instance_id: Option<String>,
    /// `instance_type`.
    instance_type: Option<String>,
    /// `ami`, when of AWS's form.
    image_id: Option<String>,
    /// The `metadata_options` block, when it sets anything.
    metadata: Option<InstanceMetadataOptions>,
}

impl InstanceSettings {
    /// Writes the settings into the instance's primary ENI.
    fn apply(self, e: &mut Eni) {
        e.instance_id = self.instance_id;
        e.instance_type = self.instance_type;
        e.image_id = self.image_id;
        e.metadata_options = self.metadata;
    }
}

/// The id, `instance_type`, `ami` and `metadata_options` (`http_endpoint`, `http_tokens`,
/// `http_put_response_hop_limit`) of instance `i`; a value this model cannot hold is
/// noted and left out (the default, or a derived id, is used).
fn instance_settings(cx: &mut Ctx<'_>, i: usize, o: &Obj<'_>) -> InstanceSettings {
    let mut out = InstanceSettings::default();
    if let Some(Val::Known(id)) = cx.ok(o.str("id")) {
        if is_instance_id(id) {
            out.instance_id = Some(id.to_string());
        } else {
            cx.note(
                EntryKind::Defaulted,
                i,
                "id",
                format!("`{id}` is not an `i-` id of 8 or 17 hex digits: the instance id is derived from the namespace"),
            );
        }
    }
    if let Some(Val::Known(ty)) = cx.ok(o.str("instance_type")) {
        out.instance_type = Some(ty.to_string());
    }
    if let Some(Val::Known(ami)) = cx.ok(o.str("ami")) {
        if is_image_id(ami) {
            out.image_id = Some(ami.to_string());
        } else {
            cx.note(
                EntryKind::Skipped,
                i,
                "ami",
                format!(
                    "`{ami}` is not an `ami-` id of 8 or 17 hex digits: the default image is used"
                ),
            );
        }
    }
    let Some(Val::Known(blocks)) = cx.ok(o.blocks("metadata_options")) else {
        return out;
    };
    let Some(b) = blocks.first() else {
        return out;
    };
    let mut m = InstanceMetadataOptions::default();
    match cx.ok(b.str("http_endpoint")) {
        Some(Val::Known("enabled")) => m.http_endpoint = Some(HttpEndpoint::Enabled),
        Some(Val::Known("disabled")) => m.http_endpoint = Some(HttpEndpoint::Disabled),
        Some(Val::Known(other)) => cx.note(
            EntryKind::Skipped,
            i,
            "metadata_options.http_endpoint",
            format!("`{other}` is neither `enabled` nor `disabled`: enabled is used"),
        ),
        _ => {}
    }
    match cx.ok(b.str("http_tokens")) {
        Some(Val::Known("optional")) => m.http_tokens = Some(HttpTokens::Optional),
        Some(Val::Known("required")) => m.http_tokens = Some(HttpTokens::Required),
        Some(Val::Known(other)) => cx.note(
            EntryKind::Skipped,
            i,
            "metadata_options.http_tokens",
            format!("`{other}` is neither `optional` nor `required`: optional is used"),
        ),
        _ => {}
    }
    if let Some(Val::Known(hops)) = cx.ok(b.int("http_put_response_hop_limit")) {
        m.http_put_response_hop_limit = Some(hops);
    }
    out.metadata = (m != InstanceMetadataOptions::default()).then_some(m);
    out
}

/// The groups of `security_groups` (group names, the default VPC's way) of instance `i`.
fn groups_by_name(cx: &mut Ctx<'_>, i: usize, o: &Obj<'_>, subnet: &str) -> Option<Vec<String>> {
    let Some(Val::Known(names)) = cx.ok(o.strs("security_groups")) else {
        return None;
    };
    let vpc = cx.t.subnets.iter().find(|s| s.id == subnet)?.vpc.clone();
    let mut out = Vec::new();
    for n in names.into_iter().filter_map(Val::known) {
        match cx
            .t
            .security_groups
            .iter()
            .find(|g| g.vpc == vpc && g.name.as_deref() == Some(n))
        {
            Some(g) => out.push(g.id.clone()),
            None => cx.note(
                EntryKind::Skipped,
                i,
                "security_groups",
                format!("no group named `{n}` in {vpc}: left out"),
            ),
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// Chooses the private addresses that were unknown until apply: the lowest free
/// assignable addresses of each ENI's subnet, in document order, after every known
/// address (ENIs' and NAT gateways') is taken; then the NAT gateways' missing secondary
/// addresses, the highest free ones (as the model assigns a NAT gateway's primary).
pub(super) fn default_addresses(cx: &mut Ctx<'_>) {
    let vpc_of: HashMap<String, String> =
        cx.t.subnets
            .iter()
            .map(|s| (s.id.clone(), s.vpc.clone()))
            .collect();
    let mut taken: HashSet<(String, Ipv4Addr)> = HashSet::new();
    for e in &cx.t.enis {
        if let Some(v) = vpc_of.get(&e.subnet) {
            taken.extend(
                e.ipv4_addrs()
                    .filter(|a| !a.is_unspecified())
                    .map(|a| (v.clone(), a)),
            );
        }
    }
    for n in &cx.t.nat_gateways {
        if let Some(v) = vpc_of.get(&n.subnet) {
            taken.extend(
                n.private_ip
                    .iter()
                    .chain(&n.secondary_private_ips)
                    .map(|&a| (v.clone(), a)),
            );
        }
    }
    for p in std::mem::take(&mut cx.pending_ips) {
        let subnet_id = cx.t.enis[p.eni].subnet.clone();
        let Some(s) = cx.t.subnets.iter().find(|s| s.id == subnet_id) else {
            continue;
        };
        let (cidr, vpc) = (s.cidr, s.vpc.clone());
        let mut chosen = Vec::new();
        for _ in 0..(usize::from(p.primary) + p.secondaries) {
            match assignable_ipv4(cidr).find(|a| !taken.contains(&(vpc.clone(), *a))) {
                Some(a) => {
                    taken.insert((vpc.clone(), a));
                    chosen.push(a);
                }
                None => {
                    cx.fail(p.res, "private_ip", format!("unknown until apply, and {subnet_id} ({cidr}) has no free address left"));
                    break;
                }
            }
        }
        let mut it = chosen.into_iter();
        if p.primary {
            if let Some(a) = it.next() {
                cx.t.enis[p.eni].private_ip = a;
                cx.note(
                    EntryKind::Defaulted,
                    p.res,
                    "private_ip",
                    format!(
                        "unknown until apply: {a}, the lowest free address of {subnet_id} ({cidr})"
                    ),
                );
            }
        }
        let rest: Vec<Ipv4Addr> = it.collect();
        if !rest.is_empty() {
            let list = rest
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            cx.t.enis[p.eni].secondary_ips.extend(rest);
            cx.note(
                EntryKind::Defaulted,
                p.res,
                "private_ips",
                format!("unknown until apply: {list}, the next free addresses of {subnet_id}"),
            );
        }
    }
    for (n, res, count) in std::mem::take(&mut cx.pending_nat) {
        let subnet_id = cx.t.nat_gateways[n].subnet.clone();
        let Some(s) = cx.t.subnets.iter().find(|s| s.id == subnet_id) else {
            continue;
        };
        let (cidr, vpc) = (s.cidr, s.vpc.clone());
        let mut chosen = Vec::new();
        for _ in 0..count {
            match crate::names::highest_free_ipv4(cidr, |a| taken.contains(&(vpc.clone(), a))) {
                Some(a) => {
                    taken.insert((vpc.clone(), a));
                    chosen.push(a);
                }
                None => {
                    cx.fail(
                        res,
                        "secondary_private_ip_addresses",
                        format!("unknown until apply, and {subnet_id} has no free address left"),
                    );
                    break;
                }
            }
        }
        if !chosen.is_empty() {
            let list = chosen
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            cx.t.nat_gateways[n].secondary_private_ips.extend(chosen);
            cx.note(
                EntryKind::Defaulted,
                res,
                "secondary_private_ip_addresses",
                format!("unknown until apply: {list}, the highest free addresses of {subnet_id}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_namespace_names() {
        assert_eq!(sanitise("web1"), "web1");
        assert_eq!(sanitise("Web Server #1"), "Web-Server-1");
        assert_eq!(sanitise("..a..b.."), "a-b");
        assert_eq!(address_name("module.app.aws_instance.web[1]"), "app-web-1");
        assert_eq!(address_name("aws_instance.db[\"a\"]"), "db-a");
        assert_eq!(sanitise(&"x".repeat(100)).len(), MAX_NS);
    }
}
