//! VPCs (`describe-vpcs`) and subnets (`describe-subnets`).

use ipnet::{Ipv4Net, Ipv6Net};

use super::input::Record;
use super::shapes::{tag_name, Ipv6CidrBlockAssociation, StateOnly, Subnet, Vpc};
use super::{Importer, Parent};
use crate::import::EntryKind;
use crate::model;
use crate::validate::{is_zone_of, SUBNET_V6_PREFIX, VPC_V6_PREFIX};

/// Whether a CIDR association in state `state` is in use (associated, or on its way).
fn associated(state: &Option<StateOnly>) -> Result<(), String> {
    match state.as_ref().and_then(|s| s.state.as_deref()) {
        None | Some("associated" | "associating") => Ok(()),
        Some(other) => Err(other.to_string()),
    }
}

impl Importer {
    /// `[[vpc]]` from `Vpcs[]`.
    pub(super) fn vpcs(&mut self, recs: &[Record<Vpc>]) {
        for r in recs {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) = self.required(file, &r.id, &format!("{path}.VpcId"), &r.v.vpc_id)
            else {
                continue;
            };
            if self.listed_again(self.vpc.contains_key(orig), file, orig, path) {
                continue;
            }
            let field = format!("{path}.CidrBlock");
            let Some(cidr_s) = self.required(file, orig, &field, &r.v.cidr_block) else {
                continue;
            };
            let Some(cidr) = self.parse::<Ipv4Net>(file, orig, &field, cidr_s, "an IPv4 CIDR")
            else {
                continue;
            };
            let mut vpc = model::Vpc {
                dhcp_options: None,
                id: self.ids.id("vpc-", orig),
                name: tag_name(&r.v.tags),
                cidr,
                secondary_cidrs: Vec::new(),
                ipv6_cidr: None,
            };
            for (k, a) in r.v.cidr_block_association_set.iter().enumerate() {
                let field = format!("{path}.CidrBlockAssociationSet[{k}]");
                let Some(s) = a.cidr_block.as_deref() else {
                    continue;
                };
                let Some(c) = self.parse::<Ipv4Net>(file, orig, &field, s, "an IPv4 CIDR") else {
                    continue;
                };
                if c == cidr {
                    continue;
                }
                if let Err(state) = associated(&a.cidr_block_state) {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{c} is {state}, not associated"),
                    );
                    continue;
                }
                vpc.secondary_cidrs.push(c);
            }
            self.vpc_ipv6(r, orig, &mut vpc);
            self.note(
                EntryKind::Used,
                file,
                orig,
                path,
                format!("[[vpc]] {}", vpc.id),
            );
            self.vpc.insert(orig.to_string(), self.t.vpcs.len());
            self.vpc_file.push(file.to_string());
            self.t.vpcs.push(vpc);
        }
    }

    /// The VPC's IPv6 block: the first associated `/56` (this model holds one).
    fn vpc_ipv6(&mut self, r: &Record<Vpc>, orig: &str, vpc: &mut model::Vpc) {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        for (k, a) in r.v.ipv6_cidr_block_association_set.iter().enumerate() {
            let field = format!("{path}.Ipv6CidrBlockAssociationSet[{k}]");
            let Some(c) = self.ipv6_block(file, orig, &field, a) else {
                continue;
            };
            if c.prefix_len() != VPC_V6_PREFIX {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &field,
                    format!("{c}: a VPC's IPv6 block is a /{VPC_V6_PREFIX} in this model"),
                );
            } else if let Some(first) = vpc.ipv6_cidr {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &field,
                    format!("{c}: this model holds one IPv6 block per VPC ({first} is imported)"),
                );
            } else {
                vpc.ipv6_cidr = Some(c);
            }
        }
    }

    /// An associated IPv6 block, or `None` (with an entry or an error).
    fn ipv6_block(
        &mut self,
        file: &str,
        res: &str,
        field: &str,
        a: &Ipv6CidrBlockAssociation,
    ) -> Option<Ipv6Net> {
        let s = a.ipv6_cidr_block.as_deref()?;
        let c = self.parse::<Ipv6Net>(file, res, field, s, "an IPv6 CIDR")?;
        if let Err(state) = associated(&a.ipv6_cidr_block_state) {
            self.note(
                EntryKind::Skipped,
                file,
                res,
                field,
                format!("{c} is {state}, not associated"),
            );
            return None;
        }
        Some(c)
    }

    /// `[[subnet]]` from `Subnets[]`.
    pub(super) fn subnets(&mut self, recs: &[Record<Subnet>]) {
        for r in recs {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(orig) =
                self.required(file, &r.id, &format!("{path}.SubnetId"), &r.v.subnet_id)
            else {
                continue;
            };
            if self.listed_again(self.subnet.contains_key(orig), file, orig, path) {
                continue;
            }
            let vfield = format!("{path}.VpcId");
            let Some(vpc_orig) = self.required(file, orig, &vfield, &r.v.vpc_id) else {
                continue;
            };
            let Some(vi) = self.parent((file, orig, &vfield), Parent::Vpc, vpc_orig) else {
                continue;
            };
            let field = format!("{path}.CidrBlock");
            let Some(cidr_s) = r.v.cidr_block.as_deref() else {
                self.skip(
                    file,
                    orig,
                    &field,
                    "an IPv6-only subnet: a subnet here has an IPv4 CIDR",
                );
                continue;
            };
            let Some(cidr) = self.parse::<Ipv4Net>(file, orig, &field, cidr_s, "an IPv4 CIDR")
            else {
                continue;
            };
            let mut ipv6_cidr = None;
            for (k, a) in r.v.ipv6_cidr_block_association_set.iter().enumerate() {
                let field = format!("{path}.Ipv6CidrBlockAssociationSet[{k}]");
                let Some(c) = self.ipv6_block(file, orig, &field, a) else {
                    continue;
                };
                let inside = self.t.vpcs[vi].ipv6_cidr.is_some_and(|v| v.contains(&c));
                if c.prefix_len() != SUBNET_V6_PREFIX || !inside || ipv6_cidr.is_some() {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &field,
                        format!("{c}: a subnet here has one /{SUBNET_V6_PREFIX} inside its VPC's imported IPv6 block"),
                    );
                    continue;
                }
                ipv6_cidr = Some(c);
            }
            let availability_zone = r.v.availability_zone.clone().filter(|az| {
                let region = self.t.region().to_string();
                let ok = is_zone_of(az, &region);
                if !ok {
                    self.note(
                        EntryKind::Defaulted,
                        file,
                        orig,
                        &format!("{path}.AvailabilityZone"),
                        format!("`{az}` is not a zone of the lab's region {region}: the subnet gets {region}a"),
                    );
                }
                ok
            });
            let s = model::Subnet {
                id: self.ids.id("subnet-", orig),
                name: tag_name(&r.v.tags),
                vpc: self.t.vpcs[vi].id.clone(),
                cidr,
                ipv6_cidr,
                route_table: None,
                availability_zone,
            };
            self.note(
                EntryKind::Used,
                file,
                orig,
                path,
                format!("[[subnet]] {}", s.id),
            );
            self.subnet.insert(orig.to_string(), self.t.subnets.len());
            self.t.subnets.push(s);
        }
    }
}
