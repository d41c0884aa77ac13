//! `aws_internet_gateway` (and `aws_internet_gateway_attachment`), `aws_eip` (and
//! `aws_eip_association`), `aws_nat_gateway`, `aws_vpc_peering_connection` (and
//! `aws_vpc_peering_connection_accepter`), and the public addresses unknown until apply.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::super::EntryKind;
use super::ctx::{Ctx, PendingPublic, Ref, Target, ENI_TYPES};
use super::doc::Val;
use crate::model::{
    ElasticIp, InternetGateway, NatConnectivity, NatGateway, PeeringConnection, PeeringStatus,
};

/// Imports the internet gateways; one without a VPC is skipped.
pub(super) fn internet_gateways(cx: &mut Ctx<'_>) {
    let mut attached: HashMap<usize, String> = HashMap::new();
    for a in cx.of_type("aws_internet_gateway_attachment") {
        cx.handled[a] = true;
        let o = cx.obj(a);
        let igw = cx.reference(
            a,
            &o,
            "internet_gateway_id",
            "internet_gateway_id",
            &["aws_internet_gateway"],
        );
        let vpc = cx.reference(a, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        let (Some(igw), Some((vpc, _))) = (
            cx.found(a, "internet_gateway_id", igw, "aws_internet_gateway"),
            cx.required(a, "vpc_id", vpc, "aws_vpc"),
        ) else {
            continue;
        };
        if let Target::Res(g) = igw {
            attached.insert(g, vpc.clone());
            cx.imported[a] = true;
            cx.note(
                EntryKind::Used,
                a,
                "",
                format!("attaches the gateway to {vpc}"),
            );
        }
    }
    for i in cx.of_type("aws_internet_gateway") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let r = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        let vpc = match r {
            Ok(Ref::Absent) => match attached.get(&i) {
                Some(v) => v.clone(),
                None => {
                    cx.note(
                        EntryKind::Skipped,
                        i,
                        "vpc_id",
                        "not attached to a VPC: left out (routes to it are blackholes)",
                    );
                    continue;
                }
            },
            r => match cx.required(i, "vpc_id", r, "aws_vpc") {
                Some((v, _)) => v,
                None => continue,
            },
        };
        // The gateway's model id lives in `imported` lookups; mark it before the EIPs and
        // routes look for it.
        cx.imported[i] = true;
        let name = cx.ok(o.name_tag()).flatten();
        cx.t.internet_gateways.push(InternetGateway {
            id: id.clone(),
            name,
            vpc,
            internet: None,
        });
        cx.note(
            EntryKind::Used,
            i,
            "",
            format!("internet gateway {id} (on the shared internet segment)"),
        );
    }
}

/// The `aws_eip` resources (by index) that NAT gateways use, primary or secondary.
fn nat_eips(cx: &Ctx<'_>) -> HashSet<usize> {
    let mut out = HashSet::new();
    for n in cx.of_type("aws_nat_gateway") {
        let o = cx.obj(n);
        if let Ok(Ref::Found(Target::Res(e))) =
            cx.reference(n, &o, "allocation_id", "allocation_id", &["aws_eip"])
        {
            out.insert(e);
        }
        if let Ok(refs) = cx.references(
            n,
            &o,
            "secondary_allocation_ids",
            "secondary_allocation_ids",
            &["aws_eip"],
        ) {
            for r in refs {
                if let Ref::Found(Target::Res(e)) = r {
                    out.insert(e);
                }
            }
        }
    }
    out
}

/// Imports the Elastic IPs and their associations.
pub(super) fn elastic_ips(cx: &mut Ctx<'_>) {
    let for_nat = nat_eips(cx);
    // aws_eip_association: EIP resource → (ENI id, private address).
    let mut assoc: HashMap<usize, (String, Option<Ipv4Addr>)> = HashMap::new();
    for a in cx.of_type("aws_eip_association") {
        cx.handled[a] = true;
        let o = cx.obj(a);
        let eip = cx.reference(a, &o, "allocation_id", "allocation_id", &["aws_eip"]);
        let Some(Target::Res(e)) = cx.found(a, "allocation_id", eip, "aws_eip") else {
            continue;
        };
        let mut eni = None;
        for (k, accept) in [
            ("network_interface_id", ENI_TYPES),
            ("instance_id", &["aws_instance"][..]),
        ] {
            let r = cx.reference(a, &o, k, k, accept);
            match cx.ok(r) {
                Some(Ref::Found(t)) => {
                    eni = cx.model_of(t);
                    break;
                }
                Some(Ref::Absent) | None => {}
                Some(other) => {
                    let msg = cx.missing(&other, accept[0]);
                    cx.fail(a, k, msg);
                }
            }
        }
        let private = cx.ok(o.ip4("private_ip_address")).and_then(Val::known);
        if let Some(eni) = eni {
            cx.imported[a] = true;
            cx.note(
                EntryKind::Used,
                a,
                "",
                format!("associates the Elastic IP with {eni}"),
            );
            assoc.insert(e, (eni, private));
        }
    }
    for i in cx.of_type("aws_eip") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let public = match cx.ok(o.ip4("public_ip")) {
            Some(Val::Known(a)) => Some(a),
            Some(_) => match cx.ok(o.ip4("address")) {
                Some(Val::Known(a)) => {
                    cx.note(
                        EntryKind::Used,
                        i,
                        "public_ip",
                        format!("unknown until apply: {a}, the requested `address`"),
                    );
                    Some(a)
                }
                _ => None,
            },
            None => continue,
        };
        let mut eni = None;
        let mut private = cx
            .ok(o.ip4("associate_with_private_ip"))
            .and_then(Val::known);
        if !for_nat.contains(&i) {
            for (k, accept) in [
                (
                    "network_interface",
                    &["aws_network_interface", "aws_instance", "aws_nat_gateway"][..],
                ),
                ("instance", &["aws_instance"][..]),
            ] {
                let r = cx.reference(i, &o, k, k, accept);
                match cx.ok(r) {
                    Some(Ref::Found(Target::Res(n))) if cx.res(n).rtype == "aws_nat_gateway" => {
                        break
                    }
                    Some(Ref::Found(t)) => {
                        eni = cx.model_of(t);
                        if eni.is_none() {
                            let msg = format!(
                                "{} is not imported: the Elastic IP is left unassociated",
                                cx.target_name(t)
                            );
                            cx.note(EntryKind::Skipped, i, k, msg);
                        }
                        break;
                    }
                    Some(Ref::External(x)) => {
                        cx.note(
                            EntryKind::Skipped,
                            i,
                            k,
                            format!(
                                "{x} is not in the document: the Elastic IP is left unassociated"
                            ),
                        );
                        break;
                    }
                    Some(Ref::Absent) | None => {}
                    Some(other) => {
                        let msg = cx.missing(&other, accept[0]);
                        cx.fail(i, k, msg);
                    }
                }
            }
        }
        if let Some((e, p)) = assoc.get(&i) {
            eni = Some(e.clone());
            private = p.or(private);
        }
        if eni.is_none() {
            private = None;
        }
        let name = cx.ok(o.name_tag()).flatten();
        cx.t.elastic_ips.push(ElasticIp {
            id: id.clone(),
            name,
            public_ip: public.unwrap_or(Ipv4Addr::UNSPECIFIED),
            eni,
            private_ip: private,
        });
        cx.imported[i] = true;
        if public.is_none() {
            cx.pending_public
                .push(PendingPublic::Eip(cx.t.elastic_ips.len() - 1, i));
        }
        cx.note(EntryKind::Used, i, "", format!("elastic ip {id}"));
    }
}

/// Imports the NAT gateways.
pub(super) fn nat_gateways(cx: &mut Ctx<'_>) {
    for i in cx.of_type("aws_nat_gateway") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let r = cx.reference(i, &o, "subnet_id", "subnet_id", &["aws_subnet"]);
        let Some((subnet, _)) = cx.required(i, "subnet_id", r, "aws_subnet") else {
            continue;
        };
        let connectivity = match cx.ok(o.str("connectivity_type")) {
            Some(Val::Known("private")) => NatConnectivity::Private,
            Some(Val::Known("public") | Val::Absent | Val::Unknown) => NatConnectivity::Public,
            Some(Val::Known(other)) => {
                cx.fail(
                    i,
                    "connectivity_type",
                    format!("`{other}`: expected public or private"),
                );
                continue;
            }
            None => continue,
        };
        let allocation_id = match connectivity {
            NatConnectivity::Private => None,
            NatConnectivity::Public => {
                let r = cx.reference(i, &o, "allocation_id", "allocation_id", &["aws_eip"]);
                let public = cx.ok(o.ip4("public_ip")).and_then(Val::known);
                match cx.ok(r) {
                    Some(Ref::External(alloc)) => {
                        Some(external_eip(cx, i, "allocation_id", &alloc, public))
                    }
                    Some(r) => match cx.required(i, "allocation_id", Ok(r), "aws_eip") {
                        Some((a, _)) => Some(a),
                        None => continue,
                    },
                    None => continue,
                }
            }
        };
        let private_ip = match cx.ok(o.ip4("private_ip")) {
            Some(Val::Known(a)) => Some(a),
            Some(Val::Unknown) => {
                cx.note(EntryKind::Defaulted, i, "private_ip", format!("unknown until apply: the highest free address of {subnet} (the model's rule)"));
                None
            }
            Some(Val::Absent) => None,
            None => continue,
        };
        let mut secondary_allocation_ids = Vec::new();
        if connectivity == NatConnectivity::Public {
            let refs = cx.ok(cx.references(
                i,
                &o,
                "secondary_allocation_ids",
                "secondary_allocation_ids",
                &["aws_eip"],
            ));
            for r in refs.unwrap_or_default() {
                match r {
                    Ref::Found(t) => {
                        if let Some(m) = cx.model_of(t) {
                            secondary_allocation_ids.push(m);
                        }
                    }
                    Ref::External(alloc) => {
                        let id = external_eip(cx, i, "secondary_allocation_ids", &alloc, None);
                        secondary_allocation_ids.push(id);
                    }
                    other => {
                        let msg = cx.missing(&other, "aws_eip");
                        cx.fail(i, "secondary_allocation_ids", msg);
                    }
                }
            }
        }
        let mut secondary_private_ips = Vec::new();
        let mut unknown = 0usize;
        if let Some(Val::Known(items)) = cx.ok(o.strs("secondary_private_ip_addresses")) {
            for item in items {
                match item {
                    Val::Known(s) => match s.parse::<Ipv4Addr>() {
                        Ok(a) => secondary_private_ips.push(a),
                        Err(_) => cx.error(o.err(
                            "secondary_private_ip_addresses",
                            format!("`{s}` is not an IPv4 address"),
                        )),
                    },
                    Val::Unknown => unknown += 1,
                    Val::Absent => {}
                }
            }
        }
        let wanted = match connectivity {
            NatConnectivity::Public => secondary_allocation_ids.len(),
            NatConnectivity::Private => cx
                .ok(o.int("secondary_private_ip_address_count"))
                .and_then(Val::known)
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(0),
        };
        let missing = wanted
            .saturating_sub(secondary_private_ips.len())
            .max(unknown);
        let network_interface_id = match cx.ok(o.str("network_interface_id")) {
            Some(Val::Known(e)) => Some(cx.ids.id("eni-", e)),
            _ => None,
        };
        let name = cx.ok(o.name_tag()).flatten();
        cx.t.nat_gateways.push(NatGateway {
            id: id.clone(),
            name,
            subnet,
            connectivity,
            allocation_id,
            private_ip,
            secondary_private_ips,
            secondary_allocation_ids,
            network_interface_id,
            idle_timeout: None,
        });
        cx.imported[i] = true;
        if missing > 0 {
            cx.pending_nat
                .push((cx.t.nat_gateways.len() - 1, i, missing));
        }
        cx.note(
            EntryKind::Used,
            i,
            "",
            format!("nat gateway {id} ({})", connectivity.as_str()),
        );
    }
}

/// The model id of an Elastic IP that a NAT gateway (resource `i`) uses and the document
/// does not manage (allocated outside Terraform, or read by a data source): added, with
/// the gateway's known `public_ip` or a chosen address, and reported.
fn external_eip(
    cx: &mut Ctx<'_>,
    i: usize,
    field: &str,
    alloc: &str,
    public: Option<Ipv4Addr>,
) -> String {
    let id = cx.ids.id("eipalloc-", alloc);
    if !cx.t.elastic_ips.iter().any(|e| e.id == id) {
        cx.t.elastic_ips.push(ElasticIp {
            id: id.clone(),
            name: None,
            public_ip: public.unwrap_or(Ipv4Addr::UNSPECIFIED),
            eni: None,
            private_ip: None,
        });
        if public.is_none() {
            cx.pending_public
                .push(PendingPublic::Eip(cx.t.elastic_ips.len() - 1, i));
        }
        let how = match public {
            Some(p) => format!("with the gateway's public_ip {p}"),
            None => "with a chosen address".to_string(),
        };
        cx.note(
            EntryKind::Defaulted,
            i,
            field,
            format!("{alloc}: an Elastic IP the document does not manage; added as {id} {how}"),
        );
    }
    id
}

/// Imports the VPC peering connections; one whose other VPC is not in the document is
/// skipped (its routes become blackholes).
pub(super) fn peerings(cx: &mut Ctx<'_>) {
    let mut accepted: HashSet<usize> = HashSet::new();
    for a in cx.of_type("aws_vpc_peering_connection_accepter") {
        cx.handled[a] = true;
        let o = cx.obj(a);
        let r = cx.reference(
            a,
            &o,
            "vpc_peering_connection_id",
            "vpc_peering_connection_id",
            &["aws_vpc_peering_connection"],
        );
        match cx.ok(r) {
            Some(Ref::Found(Target::Res(p))) => {
                let auto = matches!(cx.ok(o.bool("auto_accept")), Some(Val::Known(true)));
                let active = matches!(cx.ok(o.str("accept_status")), Some(Val::Known("active")));
                if auto || active {
                    accepted.insert(p);
                }
                cx.imported[a] = true;
                cx.note(
                    EntryKind::Used,
                    a,
                    "",
                    format!("accepts {}", cx.res(p).address),
                );
            }
            Some(Ref::External(id)) => cx.note(
                EntryKind::Skipped,
                a,
                "vpc_peering_connection_id",
                format!("{id} is requested from outside the document: left out"),
            ),
            Some(other) => {
                let msg = cx.missing(&other, "aws_vpc_peering_connection");
                cx.fail(a, "vpc_peering_connection_id", msg);
            }
            None => {}
        }
    }
    for i in cx.of_type("aws_vpc_peering_connection") {
        cx.handled[i] = true;
        let o = cx.obj(i);
        let Some(id) = cx.model[i].clone() else {
            continue;
        };
        let r = cx.reference(i, &o, "vpc_id", "vpc_id", &["aws_vpc"]);
        let Some((requester, _)) = cx.required(i, "vpc_id", r, "aws_vpc") else {
            continue;
        };
        let r = cx.reference(i, &o, "peer_vpc_id", "peer_vpc_id", &["aws_vpc"]);
        let accepter = match cx.ok(r) {
            Some(Ref::External(peer)) => {
                cx.note(
                    EntryKind::Skipped,
                    i,
                    "peer_vpc_id",
                    format!("{peer} is not in the document (another account or region?): the peering is left out, routes to it are blackholes"),
                );
                continue;
            }
            Some(r) => match cx.required(i, "peer_vpc_id", Ok(r), "aws_vpc") {
                Some((v, _)) => v,
                None => continue,
            },
            None => continue,
        };
        let status = match cx.ok(o.str("accept_status")) {
            Some(Val::Known("active")) => PeeringStatus::Active,
            Some(Val::Known("pending-acceptance" | "provisioning" | "initiating-request")) => {
                if accepted.contains(&i) {
                    PeeringStatus::Active
                } else {
                    PeeringStatus::PendingAcceptance
                }
            }
            Some(Val::Known(other)) => {
                cx.note(
                    EntryKind::Skipped,
                    i,
                    "accept_status",
                    format!("`{other}`: the peering does not carry traffic; left out, routes to it are blackholes"),
                );
                continue;
            }
            Some(_) => {
                if matches!(cx.ok(o.bool("auto_accept")), Some(Val::Known(true)))
                    || accepted.contains(&i)
                {
                    PeeringStatus::Active
                } else {
                    cx.note(
                        EntryKind::Defaulted,
                        i,
                        "accept_status",
                        "unknown until apply, and nothing in the document accepts it: pending-acceptance",
                    );
                    PeeringStatus::PendingAcceptance
                }
            }
            None => continue,
        };
        let name = cx.ok(o.name_tag()).flatten();
        cx.t.peering_connections.push(PeeringConnection {
            id: id.clone(),
            name,
            requester_vpc: requester,
            accepter_vpc: accepter,
            status,
        });
        cx.imported[i] = true;
        cx.note(
            EntryKind::Used,
            i,
            "",
            format!("peering connection {id} ({})", status.as_str()),
        );
    }
}

/// The ranges public addresses unknown until apply are taken from (documentation ranges).
const PUBLIC_POOLS: [&str; 3] = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];

/// Drops an instance's public IP where an Elastic IP takes its primary address (as in
/// AWS), then chooses the public addresses that were unknown until apply.
pub(super) fn public_addresses(cx: &mut Ctx<'_>) {
    let mut eip_on: HashSet<(String, Ipv4Addr)> = HashSet::new();
    for e in &cx.t.elastic_ips {
        if let Some(eni) = &e.eni {
            let primary =
                cx.t.enis
                    .iter()
                    .find(|x| &x.id == eni)
                    .map(|x| x.private_ip);
            if let Some(p) = e.private_ip.or(primary) {
                eip_on.insert((eni.clone(), p));
            }
        }
    }
    // ENIs (by index) whose primary address has an Elastic IP: no public IP of their own.
    let mut eip_primary: HashSet<usize> = HashSet::new();
    for (n, eni) in cx.t.enis.iter_mut().enumerate() {
        if eip_on.contains(&(eni.id.clone(), eni.private_ip)) {
            eni.public_ip = None;
            eip_primary.insert(n);
        }
    }
    let vpc_cidrs: Vec<Ipv4Net> =
        cx.t.vpcs
            .iter()
            .flat_map(|v| v.ipv4_cidrs().collect::<Vec<_>>())
            .collect();
    let mut taken: HashSet<Ipv4Addr> =
        cx.t.elastic_ips
            .iter()
            .map(|e| e.public_ip)
            .chain(cx.t.enis.iter().filter_map(|e| e.public_ip))
            .collect();
    let pools: Vec<Ipv4Net> = PUBLIC_POOLS.iter().filter_map(|p| p.parse().ok()).collect();
    let mut next = || -> Option<Ipv4Addr> {
        let a = pools
            .iter()
            .flat_map(|p| p.hosts())
            .find(|a| !taken.contains(a) && !vpc_cidrs.iter().any(|c| c.contains(a)))?;
        taken.insert(a);
        Some(a)
    };
    let mut notes = Vec::new();
    for p in std::mem::take(&mut cx.pending_public) {
        match p {
            PendingPublic::Eni(n, res) => {
                if eip_primary.contains(&n) {
                    continue; // an Elastic IP replaces it
                }
                if let Some(a) = next() {
                    cx.t.enis[n].public_ip = Some(a);
                    notes.push((
                        res,
                        "public_ip",
                        format!("unknown until apply: {a} (a documentation address)"),
                    ));
                }
            }
            PendingPublic::Eip(n, res) => {
                if let Some(a) = next() {
                    cx.t.elastic_ips[n].public_ip = a;
                    notes.push((
                        res,
                        "public_ip",
                        format!("unknown until apply: {a} (a documentation address)"),
                    ));
                }
            }
        }
    }
    for (res, field, msg) in notes {
        cx.note(EntryKind::Defaulted, res, field, msg);
    }
}
