//! Peering connections (`describe-vpc-peering-connections`), internet gateways
//! (`describe-internet-gateways`) and NAT gateways (`describe-nat-gateways`).

use std::net::Ipv4Addr;

use super::input::Record;
use super::interfaces::PendingEip;
use super::shapes::{tag_name, InternetGateway, NatGateway, VpcPeeringConnection};
use super::{Importer, Parent, Ref};
use crate::import::EntryKind;
use crate::model::{self, NatConnectivity, PeeringStatus};

impl Importer {
    /// `[[peering_connection]]` from `VpcPeeringConnections[]`.
    pub(super) fn peerings(&mut self, recs: &[Record<VpcPeeringConnection>]) {
        for r in recs {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(
                file,
                &r.id,
                &format!("{path}.VpcPeeringConnectionId"),
                &r.v.vpc_peering_connection_id,
            ) else {
                continue;
            };
            if self.listed_again(self.pcx.contains_key(orig), file, orig, path) {
                continue;
            }
            let code =
                r.v.status
                    .as_ref()
                    .and_then(|s| s.code.as_deref())
                    .unwrap_or("active");
            let sfield = format!("{path}.Status.Code");
            let status = match code {
                "active" => PeeringStatus::Active,
                "pending-acceptance" => PeeringStatus::PendingAcceptance,
                "initiating-request" | "provisioning" => {
                    self.note(
                        EntryKind::Defaulted,
                        file,
                        orig,
                        &sfield,
                        format!(
                            "{code}: imported as pending-acceptance (routes to it are blackholes)"
                        ),
                    );
                    PeeringStatus::PendingAcceptance
                }
                other => {
                    self.skip(
                        file,
                        orig,
                        &sfield,
                        format!("the peering connection is {other}: not imported; routes to it are kept as blackholes"),
                    );
                    continue;
                }
            };
            let mut ends = Vec::new();
            for (side, info) in [
                ("RequesterVpcInfo", &r.v.requester_vpc_info),
                ("AccepterVpcInfo", &r.v.accepter_vpc_info),
            ] {
                let field = format!("{path}.{side}.VpcId");
                let vpc = info.as_ref().and_then(|i| i.vpc_id.clone());
                let Some(v) = self.required(file, orig, &field, &vpc) else {
                    break;
                };
                match self.lookup(&self.vpc, v) {
                    Ref::Found(i) => ends.push(self.t.vpcs[i].id.clone()),
                    Ref::Gone(why) => {
                        self.skip(file, orig, &field, format!("{v} is not imported ({why}); routes to the peering are kept as blackholes"));
                        break;
                    }
                    Ref::Missing => {
                        self.skip(file, orig, &field, format!("{v} is not in the input (a VPC of another account or region?): the peering cannot be modelled; routes to it are kept as blackholes"));
                        break;
                    }
                }
            }
            let [requester_vpc, accepter_vpc] = <[String; 2]>::try_from(ends).unwrap_or_default();
            if requester_vpc.is_empty() {
                continue;
            }
            let p = model::PeeringConnection {
                id: self.ids.id("pcx-", orig),
                name: tag_name(&r.v.tags),
                requester_vpc,
                accepter_vpc,
                status,
            };
            self.note(
                EntryKind::Used,
                file,
                orig,
                path,
                format!("[[peering_connection]] {} ({})", p.id, status.as_str()),
            );
            self.pcx
                .insert(orig.to_string(), self.t.peering_connections.len());
            self.t.peering_connections.push(p);
        }
    }

    /// `[[internet_gateway]]` from `InternetGateways[]`: attached ones, one per VPC.
    pub(super) fn internet_gateways(&mut self, recs: &[Record<InternetGateway>]) {
        for r in recs {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(
                file,
                &r.id,
                &format!("{path}.InternetGatewayId"),
                &r.v.internet_gateway_id,
            ) else {
                continue;
            };
            if self.listed_again(self.igw.contains_key(orig), file, orig, path) {
                continue;
            }
            let Some(vpc) = self.igw_vpc(r, orig) else {
                continue;
            };
            let g = model::InternetGateway {
                id: self.ids.id("igw-", orig),
                name: tag_name(&r.v.tags),
                vpc,
                internet: None,
            };
            self.note(
                EntryKind::Used,
                file,
                orig,
                path,
                format!("[[internet_gateway]] {}", g.id),
            );
            self.note(
                EntryKind::Defaulted,
                file,
                orig,
                "",
                "on the shared internet segment, without internet hosts (add [[internet_host]] tables to test with some)",
            );
            self.igw
                .insert(orig.to_string(), self.t.internet_gateways.len());
            self.t.internet_gateways.push(g);
        }
    }

    /// The VPC an internet gateway is imported into: that of its first usable
    /// attachment, unless the VPC already has a gateway; `None` (reported) otherwise.
    fn igw_vpc(&mut self, r: &Record<InternetGateway>, orig: &str) -> Option<String> {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        let mut found: Option<(String, String)> = None;
        for (k, a) in r.v.attachments.iter().enumerate() {
            let field = format!("{path}.Attachments[{k}]");
            let state = a.state.as_deref().unwrap_or("attached");
            if !matches!(state, "attached" | "available" | "attaching") {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &field,
                    format!("attachment {state}"),
                );
                continue;
            }
            let vfield = format!("{field}.VpcId");
            let Some(v) = self.required(file, orig, &vfield, &a.vpc_id) else {
                continue;
            };
            let Some(vi) = self.parent((file, orig, &vfield), Parent::Vpc, v) else {
                continue;
            };
            if found.is_some() {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &field,
                    "an internet gateway here is attached to one VPC; the first attachment is used",
                );
                continue;
            }
            found = Some((self.t.vpcs[vi].id.clone(), field));
        }
        let Some((vpc, field)) = found else {
            self.skip(
                file,
                orig,
                &format!("{path}.Attachments"),
                "not attached to a VPC: an internet gateway here belongs to one",
            );
            return None;
        };
        if let Some(other) = self.t.internet_gateways.iter().find(|g| g.vpc == vpc) {
            let why = format!(
                "{vpc} already has an internet gateway ({}): one per VPC; routes to this one are kept as blackholes",
                other.id
            );
            self.skip(file, orig, &field, why);
            return None;
        }
        Some(vpc)
    }

    /// `[[nat_gateway]]` from `NatGateways[]`: pending and available ones; the Elastic
    /// IPs they print are remembered for [`Importer::elastic_ips`].
    pub(super) fn nat_gateways(&mut self, recs: &[Record<NatGateway>]) {
        for r in recs {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(
                file,
                &r.id,
                &format!("{path}.NatGatewayId"),
                &r.v.nat_gateway_id,
            ) else {
                continue;
            };
            if self.listed_again(self.nat.contains_key(orig), file, orig, path) {
                continue;
            }
            let state = r.v.state.as_deref().unwrap_or("available");
            if !matches!(state, "available" | "pending") {
                self.skip(
                    file,
                    orig,
                    &format!("{path}.State"),
                    format!("the NAT gateway is {state}: not imported; routes to it are kept as blackholes"),
                );
                continue;
            }
            let sfield = format!("{path}.SubnetId");
            let Some(subnet_orig) = r.v.subnet_id.as_deref() else {
                let mode = r.v.availability_mode.as_deref().unwrap_or("zonal");
                self.skip(
                    file,
                    orig,
                    &sfield,
                    format!("no subnet (availability mode {mode}): a NAT gateway here lives in one subnet"),
                );
                continue;
            };
            let Some(si) = self.parent((file, orig, &sfield), Parent::Subnet, subnet_orig) else {
                continue;
            };
            let connectivity = match r.v.connectivity_type.as_deref() {
                Some("private") => NatConnectivity::Private,
                Some("public") => NatConnectivity::Public,
                None => {
                    self.note(
                        EntryKind::Defaulted,
                        file,
                        orig,
                        &format!("{path}.ConnectivityType"),
                        "absent: public (the AWS default)",
                    );
                    NatConnectivity::Public
                }
                Some(other) => {
                    self.err(
                        file,
                        orig,
                        format!("{path}.ConnectivityType"),
                        format!("`{other}`: expected public or private"),
                    );
                    continue;
                }
            };
            let id = self.ids.id("nat-", orig);
            let mut n = model::NatGateway {
                id: id.clone(),
                name: tag_name(&r.v.tags),
                subnet: self.t.subnets[si].id.clone(),
                connectivity,
                allocation_id: None,
                private_ip: None,
                secondary_private_ips: Vec::new(),
                secondary_allocation_ids: Vec::new(),
                network_interface_id: None,
                idle_timeout: None,
            };
            // The primary address first (`IsPrimary`, else the first one listed).
            let addrs = &r.v.nat_gateway_addresses;
            let primary = addrs
                .iter()
                .position(|a| a.is_primary == Some(true))
                .unwrap_or(0);
            let order = std::iter::once(primary).chain((0..addrs.len()).filter(|&k| k != primary));
            for k in order {
                let Some(a) = addrs.get(k) else { continue };
                let field = format!("{path}.NatGatewayAddresses[{k}]");
                let status = a.status.as_deref().unwrap_or("succeeded");
                if !matches!(status, "succeeded" | "assigning" | "associating") {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("address {status}"),
                    );
                    continue;
                }
                let ip = match a.private_ip.as_deref() {
                    Some(s) => {
                        let Some(ip) = self.parse::<Ipv4Addr>(
                            file,
                            orig,
                            &format!("{field}.PrivateIp"),
                            s,
                            "an IPv4 address",
                        ) else {
                            continue;
                        };
                        Some(ip)
                    }
                    None => None,
                };
                let alloc = a
                    .allocation_id
                    .as_deref()
                    .map(|x| self.ids.id("eipalloc-", x));
                if let (Some(x), Some(public)) = (&a.allocation_id, &a.public_ip) {
                    if let Ok(public) = public.parse::<Ipv4Addr>() {
                        self.pending_eips.push(PendingEip {
                            file: file.to_string(),
                            source: orig.to_string(),
                            allocation: Some(x.clone()),
                            public_ip: public,
                            eni: None,
                            private_ip: None,
                        });
                    }
                }
                if let (None, Some(e)) = (&n.network_interface_id, &a.network_interface_id) {
                    n.network_interface_id = Some(self.ids.id("eni-", e));
                    self.nat_eni.insert(e.clone(), orig.to_string());
                }
                if k == primary {
                    n.private_ip = ip;
                    n.allocation_id = alloc.filter(|_| connectivity == NatConnectivity::Public);
                    continue;
                }
                let Some(ip) = ip else {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        "a secondary address without PrivateIp",
                    );
                    continue;
                };
                match (connectivity, alloc) {
                    (NatConnectivity::Private, _) => n.secondary_private_ips.push(ip),
                    (NatConnectivity::Public, Some(al)) => {
                        n.secondary_private_ips.push(ip);
                        n.secondary_allocation_ids.push(al);
                    }
                    (NatConnectivity::Public, None) => self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        "a secondary address of a public NAT gateway without an Elastic IP",
                    ),
                }
            }
            if connectivity == NatConnectivity::Public && n.allocation_id.is_none() {
                self.skip(
                    file,
                    orig,
                    &format!("{path}.NatGatewayAddresses"),
                    "a public NAT gateway without an Elastic IP on its primary address: not imported; routes to it are kept as blackholes",
                );
                continue;
            }
            if n.private_ip.is_none() {
                self.note(
                    EntryKind::Defaulted,
                    file,
                    orig,
                    &format!("{path}.NatGatewayAddresses"),
                    "no private IP listed: taken from its network interface if the input has it, else the subnet's highest free address",
                );
            }
            self.note(
                EntryKind::Used,
                file,
                orig,
                path,
                format!("[[nat_gateway]] {id}"),
            );
            self.nat.insert(orig.to_string(), self.t.nat_gateways.len());
            self.t.nat_gateways.push(n);
        }
    }
}
