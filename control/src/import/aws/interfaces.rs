//! ENIs (`describe-network-interfaces`, the instances' `NetworkInterfaces` of
//! `describe-instances`), NAT gateways' interfaces, and Elastic IPs
//! (`describe-addresses`, and the associations the other outputs print).

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use dataplane::wire::MacAddr;

use super::input::Record;
use super::shapes::{tag_name, Address, Instance, IpAssociation, NetworkInterface};
use super::{Importer, Parent, Ref};
use crate::import::{eni_netns, EntryKind};
use crate::model::{self, ConntrackSettings, DEFAULT_MTU};
use crate::validate::{is_image_id, is_instance_id, SGS_PER_ENI_MAX};

/// Interface types that are an instance's ENI.
const ENI_TYPES: &[&str] = &["interface", "efa", "efa-only", "trunk", "branch"];
/// Interface types of a NAT gateway's interface (the API reference spells it
/// `natGateway`; the CLI prints `nat_gateway`).
const NAT_TYPES: &[&str] = &["nat_gateway", "natGateway"];

/// An Elastic IP that an association or a NAT gateway prints, to create when
/// `describe-addresses` does not list it.
#[derive(Debug, Clone)]
pub(super) struct PendingEip {
    /// The file that prints it.
    pub(super) file: String,
    /// The AWS id of the resource that prints it.
    pub(super) source: String,
    /// Its AWS allocation id, when printed.
    pub(super) allocation: Option<String>,
    /// The public address.
    pub(super) public_ip: Ipv4Addr,
    /// The AWS id of the ENI it is associated with.
    pub(super) eni: Option<String>,
    /// The private address it maps to.
    pub(super) private_ip: Option<Ipv4Addr>,
}

/// What `describe-instances` says about one interface.
#[derive(Debug, Clone)]
struct OnInstance {
    /// The instance id.
    instance: String,
    /// The instance's `Name` tag.
    name: Option<String>,
    /// The attachment's device index (0: primary).
    device_index: i64,
    /// The instance's type, image and metadata options, as `[[eni]]` fields (empty when
    /// `describe-instances` does not list the instance).
    settings: InstanceSettings,
}

/// What `describe-instances` says about an instance that `[[eni]]` holds.
#[derive(Debug, Clone, Default)]
struct InstanceSettings {
    /// `InstanceType`.
    instance_type: Option<String>,
    /// `ImageId`, when it is an `ami-…` id of AWS's form.
    image_id: Option<String>,
    /// `MetadataOptions`, when any of its three settings is printed.
    metadata: Option<model::InstanceMetadataOptions>,
}

/// The namespace of an instance's primary ENI: its instance id (characters a namespace
/// name cannot hold become `-`).
pub(super) fn instance_netns(instance_id: &str) -> String {
    instance_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

impl Importer {
    /// `[[eni]]` from `NetworkInterfaces[]` and the instances' interfaces that it does
    /// not list; NAT gateways' interfaces complete their gateways.
    pub(super) fn interfaces(
        &mut self,
        nis: &[Record<NetworkInterface>],
        instances: &[Record<Instance>],
    ) {
        let mut on: HashMap<String, OnInstance> = HashMap::new();
        let mut from_instances: Vec<Record<NetworkInterface>> = Vec::new();
        for r in instances {
            let (file, path) = (r.file.as_str(), r.path.as_str());
            let Some(iid) =
                self.required(file, &r.id, &format!("{path}.InstanceId"), &r.v.instance_id)
            else {
                continue;
            };
            let state = r.v.state.as_ref().and_then(|s| s.name.as_deref());
            if matches!(state, Some("terminated" | "shutting-down")) {
                self.skip(
                    file,
                    iid,
                    &format!("{path}.State.Name"),
                    "the instance is terminated: its interfaces are gone",
                );
                continue;
            }
            let name = tag_name(&r.v.tags);
            let settings = self.instance_settings(r, iid);
            for (j, ni) in r.v.network_interfaces.iter().enumerate() {
                let npath = format!("{path}.NetworkInterfaces[{j}]");
                let Some(id) = self.required(
                    file,
                    iid,
                    &format!("{npath}.NetworkInterfaceId"),
                    &ni.network_interface_id,
                ) else {
                    continue;
                };
                let device_index = ni
                    .attachment
                    .as_ref()
                    .and_then(|a| a.device_index)
                    .unwrap_or(i64::try_from(j).unwrap_or(i64::MAX));
                on.insert(
                    id.to_string(),
                    OnInstance {
                        instance: iid.to_string(),
                        name: name.clone(),
                        device_index,
                        settings: settings.clone(),
                    },
                );
                from_instances.push(Record {
                    file: file.to_string(),
                    path: npath,
                    id: id.to_string(),
                    v: ni.clone(),
                });
            }
            let msg = match state {
                Some(s) => format!("instance ({s}): its interfaces' names and namespaces"),
                None => "instance: its interfaces' names and namespaces".to_string(),
            };
            self.note(EntryKind::Used, file, iid, path, msg);
        }
        for r in nis {
            let Some(a) = &r.v.attachment else { continue };
            let (Some(iid), Some(id)) = (&a.instance_id, &r.v.network_interface_id) else {
                continue;
            };
            on.entry(id.clone()).or_insert_with(|| OnInstance {
                instance: iid.clone(),
                name: None,
                device_index: a.device_index.unwrap_or(0),
                settings: InstanceSettings::default(),
            });
        }
        for (id, o) in &on {
            if o.device_index == 0 {
                self.instance_primary.insert(o.instance.clone(), id.clone());
            }
        }
        let listed: HashSet<&str> = nis
            .iter()
            .filter_map(|r| r.v.network_interface_id.as_deref())
            .collect();
        let rest = from_instances
            .iter()
            .filter(|r| !listed.contains(r.id.as_str()));
        for r in nis.iter().chain(rest) {
            let o = r.v.network_interface_id.as_ref().and_then(|id| on.get(id));
            self.interface(r, o);
        }
    }

    /// An instance's type, image and metadata options (`HttpEndpoint`, `HttpTokens`,
    /// `HttpPutResponseHopLimit`); a value this model cannot hold is noted and left out.
    fn instance_settings(&mut self, r: &Record<Instance>, iid: &str) -> InstanceSettings {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        let image_id = r.v.image_id.clone().filter(|ami| {
            let ok = is_image_id(ami);
            if !ok {
                self.skip(
                    file,
                    iid,
                    &format!("{path}.ImageId"),
                    format!("`{ami}` is not an `ami-` id of 8 or 17 hex digits: the default image is used"),
                );
            }
            ok
        });
        let metadata = r.v.metadata_options.as_ref().and_then(|m| {
            let mut o = model::InstanceMetadataOptions {
                http_put_response_hop_limit: m.http_put_response_hop_limit,
                ..Default::default()
            };
            let field = format!("{path}.MetadataOptions");
            match m.http_endpoint.as_deref() {
                None => {}
                Some("enabled") => o.http_endpoint = Some(model::HttpEndpoint::Enabled),
                Some("disabled") => o.http_endpoint = Some(model::HttpEndpoint::Disabled),
                Some(other) => self.skip(
                    file,
                    iid,
                    &format!("{field}.HttpEndpoint"),
                    format!("`{other}` is neither `enabled` nor `disabled`: enabled is used"),
                ),
            }
            match m.http_tokens.as_deref() {
                None => {}
                Some("optional") => o.http_tokens = Some(model::HttpTokens::Optional),
                Some("required") => o.http_tokens = Some(model::HttpTokens::Required),
                Some(other) => self.skip(
                    file,
                    iid,
                    &format!("{field}.HttpTokens"),
                    format!("`{other}` is neither `optional` nor `required`: optional is used"),
                ),
            }
            (o != model::InstanceMetadataOptions::default()).then_some(o)
        });
        InstanceSettings {
            instance_type: r.v.instance_type.clone(),
            image_id,
            metadata,
        }
    }

    /// One interface.
    fn interface(&mut self, r: &Record<NetworkInterface>, on: Option<&OnInstance>) {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        let v = &r.v;
        let Some(orig) = self.required(
            file,
            &r.id,
            &format!("{path}.NetworkInterfaceId"),
            &v.network_interface_id,
        ) else {
            return;
        };
        if self.listed_again(self.eni.contains_key(orig), file, orig, path) {
            return;
        }
        let itype = v.interface_type.as_deref().unwrap_or("interface");
        if NAT_TYPES.contains(&itype) {
            self.nat_interface(r, orig);
            return;
        }
        if v.requester_managed == Some(true) || !ENI_TYPES.contains(&itype) {
            let desc = v
                .description
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let managed = if v.requester_managed == Some(true) {
                "requester-managed "
            } else {
                ""
            };
            self.skip(
                file,
                orig,
                &format!("{path}.InterfaceType"),
                format!("a {managed}{itype} interface{desc}: not an instance's ENI, this model has no place for it; routes to it are kept as blackholes"),
            );
            return;
        }
        let sfield = format!("{path}.SubnetId");
        let Some(subnet_orig) = self.required(file, orig, &sfield, &v.subnet_id) else {
            return;
        };
        let Some(si) = self.parent((file, orig, &sfield), Parent::Subnet, subnet_orig) else {
            return;
        };
        let Some((private_ip, secondary_ips, assocs)) = self.private_ips(r, orig) else {
            return;
        };
        let id = self.ids.id("eni-", orig);
        let ipv6_ips = self.eni_ipv6(r, orig, si);
        let mac = v
            .mac_address
            .as_deref()
            .and_then(|m| match m.parse::<MacAddr>() {
                Ok(mac) => Some(mac),
                Err(_) => {
                    self.note(
                        EntryKind::Skipped,
                        file,
                        orig,
                        &format!("{path}.MacAddress"),
                        format!(
                            "`{m}` is not a MAC address: a stable one is generated from the id"
                        ),
                    );
                    None
                }
            });
        let conntrack = v.connection_tracking_configuration.as_ref().and_then(|c| {
            let s = ConntrackSettings {
                max_entries: None,
                tcp_established_timeout: c.tcp_established_timeout,
                udp_timeout: c.udp_timeout,
                udp_stream_timeout: c.udp_stream_timeout,
            };
            (s != ConntrackSettings::default()).then_some(s)
        });
        for (what, n) in [
            ("Ipv4Prefixes", v.ipv4_prefixes.len()),
            ("Ipv6Prefixes", v.ipv6_prefixes.len()),
        ] {
            if n > 0 {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &format!("{path}.{what}"),
                    format!("{n} delegated prefix(es): prefix delegation cannot be modelled; their addresses are not the ENI's here"),
                );
            }
        }
        let (netns, ns_why) = match on {
            Some(o) if o.device_index == 0 => (
                instance_netns(&o.instance),
                format!("the namespace of instance {}", o.instance),
            ),
            Some(o) => (
                eni_netns(&id),
                format!(
                    "a namespace of its own (device {} of instance {})",
                    o.device_index, o.instance
                ),
            ),
            None => (eni_netns(&id), "a namespace of its own".to_string()),
        };
        let name = tag_name(&v.tag_set).or_else(|| {
            on.and_then(|o| {
                o.name.as_ref().map(|n| {
                    if o.device_index == 0 {
                        n.clone()
                    } else {
                        format!("{n} (device {})", o.device_index)
                    }
                })
            })
        });
        // The instance id goes on its primary interface only: the others get namespaces
        // of their own here, and the ENIs of one instance share one.
        let instance_id = on
            .filter(|o| o.device_index == 0)
            .map(|o| o.instance.clone())
            .filter(|iid| {
                let ok = is_instance_id(iid);
                if !ok {
                    self.note(
                        EntryKind::Defaulted,
                        file,
                        orig,
                        "",
                        format!("instance_id: `{iid}` is not an `i-` id of 8 or 17 hex digits: one is derived from the namespace"),
                    );
                }
                ok
            });
        let settings = on.map(|o| o.settings.clone()).unwrap_or_default();
        let ei = self.t.enis.len();
        self.note(EntryKind::Used, file, orig, path, format!("[[eni]] {id}"));
        self.note(
            EntryKind::Defaulted,
            file,
            orig,
            "",
            format!("netns = \"{netns}\" ({ns_why}), mtu = {DEFAULT_MTU} (the AWS CLI does not print the instance's MTU)"),
        );
        self.t.enis.push(model::Eni {
            addressing: Default::default(),
            id,
            name,
            subnet: self.t.subnets[si].id.clone(),
            private_ip,
            secondary_ips,
            ipv6_ips,
            mac,
            source_dest_check: v.source_dest_check.unwrap_or(true),
            mtu: DEFAULT_MTU,
            netns: Some(netns),
            ifname: model::DEFAULT_IFNAME.to_string(),
            attachment: None,
            socket: None,
            interface: None,
            security_groups: None,
            conntrack,
            pps_allowance: None,
            public_ip: None,
            instance_id,
            device_index: None,
            instance_type: settings.instance_type,
            image_id: settings.image_id,
            metadata_options: settings.metadata,
        });
        self.eni.insert(orig.to_string(), ei);
        let groups: Vec<String> = v.groups.iter().filter_map(|g| g.group_id.clone()).collect();
        for g in &v.groups {
            if let (Some(id), Some(name)) = (&g.group_id, &g.group_name) {
                self.group_names.entry(id.clone()).or_insert(name.clone());
            }
        }
        self.eni_groups
            .push((ei, file.to_string(), format!("{path}.Groups"), groups));
        for (k, a, ip, primary) in assocs {
            let field = match k {
                Some(k) => format!("{path}.PrivateIpAddresses[{k}].Association"),
                None => format!("{path}.Association"),
            };
            self.association((file, orig, &field), &a, ei, ip, primary);
        }
    }

    /// An interface's private IPv4 addresses (primary, secondaries) and the public
    /// associations on them (index in `PrivateIpAddresses`, association, private address,
    /// whether primary); `None` (with an error) without a primary address.
    #[allow(clippy::type_complexity)]
    fn private_ips(
        &mut self,
        r: &Record<NetworkInterface>,
        orig: &str,
    ) -> Option<(
        Ipv4Addr,
        Vec<Ipv4Addr>,
        Vec<(Option<usize>, IpAssociation, Ipv4Addr, bool)>,
    )> {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        let v = &r.v;
        let mut primary = None;
        let mut secondary = Vec::new();
        let mut assocs = Vec::new();
        for (k, p) in v.private_ip_addresses.iter().enumerate() {
            let field = format!("{path}.PrivateIpAddresses[{k}].PrivateIpAddress");
            let Some(s) = p.private_ip_address.as_deref() else {
                continue;
            };
            let ip = self.parse::<Ipv4Addr>(file, orig, &field, s, "an IPv4 address")?;
            let is_primary = p.primary == Some(true) && primary.is_none();
            if is_primary {
                primary = Some(ip);
            } else {
                secondary.push(ip);
            }
            if let Some(a) = &p.association {
                assocs.push((Some(k), a.clone(), ip, is_primary));
            }
        }
        if let Some(s) = v.private_ip_address.as_deref() {
            let field = format!("{path}.PrivateIpAddress");
            let ip = self.parse::<Ipv4Addr>(file, orig, &field, s, "an IPv4 address")?;
            match primary {
                None => {
                    secondary.retain(|x| *x != ip);
                    primary = Some(ip);
                }
                Some(p) if p != ip => {
                    self.err(
                        file,
                        orig,
                        field,
                        format!("{ip} is not the primary address of PrivateIpAddresses ({p})"),
                    );
                    return None;
                }
                Some(_) => {}
            }
        }
        let Some(primary) = primary else {
            self.err(
                file,
                orig,
                format!("{path}.PrivateIpAddress"),
                "missing: an ENI here has a primary private IPv4 address",
            );
            return None;
        };
        if !assocs.iter().any(|(_, _, _, p)| *p) {
            if let Some(a) = &v.association {
                assocs.push((None, a.clone(), primary, true));
            }
        }
        Some((primary, secondary, assocs))
    }

    /// An interface's IPv6 addresses, when its subnet has an IPv6 block.
    fn eni_ipv6(&mut self, r: &Record<NetworkInterface>, orig: &str, si: usize) -> Vec<Ipv6Addr> {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        let mut out = Vec::new();
        for (k, a) in r.v.ipv6_addresses.iter().enumerate() {
            let field = format!("{path}.Ipv6Addresses[{k}].Ipv6Address");
            let Some(s) = a.ipv6_address.as_deref() else {
                continue;
            };
            let Some(ip) = self.parse::<Ipv6Addr>(file, orig, &field, s, "an IPv6 address") else {
                continue;
            };
            if self.t.subnets[si]
                .ipv6_cidr
                .is_some_and(|c| c.contains(&ip))
            {
                out.push(ip);
            } else {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &field,
                    format!("{ip} is not inside its subnet's imported IPv6 block"),
                );
            }
        }
        out
    }

    /// A public address on ENI `ei`'s private address `private`: an auto-assigned public
    /// IP (primary only) or an Elastic IP.
    fn association(
        &mut self,
        (file, orig, field): (&str, &str, &str),
        a: &IpAssociation,
        ei: usize,
        private: Ipv4Addr,
        primary: bool,
    ) {
        for (what, v) in [
            (
                "a carrier IP (Wavelength) cannot be modelled",
                &a.carrier_ip,
            ),
            (
                "a customer-owned IP (Outposts) cannot be modelled",
                &a.customer_owned_ip,
            ),
        ] {
            if let Some(ip) = v {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    field,
                    format!("{ip}: {what}"),
                );
            }
        }
        let Some(s) = a.public_ip.as_deref() else {
            return;
        };
        let Some(public) = self.parse::<Ipv4Addr>(
            file,
            orig,
            &format!("{field}.PublicIp"),
            s,
            "an IPv4 address",
        ) else {
            return;
        };
        let amazon = a.ip_owner_id.as_deref().is_none_or(|o| o == "amazon");
        if a.allocation_id.is_none() && amazon && primary {
            self.public_ips.push((ei, public, file.to_string()));
            return;
        }
        self.pending_eips.push(PendingEip {
            file: file.to_string(),
            source: orig.to_string(),
            allocation: a.allocation_id.clone(),
            public_ip: public,
            eni: Some(orig.to_string()),
            private_ip: Some(private),
        });
    }

    /// A NAT gateway's interface: its id (and its addresses, when the gateway printed
    /// none) complete the gateway; it is not an ENI.
    fn nat_interface(&mut self, r: &Record<NetworkInterface>, orig: &str) {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        let by_desc = r.v.description.as_deref().and_then(|d| {
            d.split_whitespace()
                .find(|w| w.starts_with("nat-"))
                .map(|w| {
                    w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                        .to_string()
                })
        });
        let nat_orig = self.nat_eni.get(orig).cloned().or(by_desc);
        let found = nat_orig.as_deref().and_then(|n| self.nat.get(n).copied());
        let Some(ni) = found else {
            let which = nat_orig.unwrap_or_else(|| "(unknown)".to_string());
            self.skip(
                file,
                orig,
                &format!("{path}.InterfaceType"),
                format!("the network interface of NAT gateway {which}, which is not imported"),
            );
            return;
        };
        let id = self.ids.id("eni-", orig);
        let addrs = self.private_ips(r, orig);
        let n = &mut self.t.nat_gateways[ni];
        let nat_id = n.id.clone();
        if n.network_interface_id.is_none() {
            n.network_interface_id = Some(id);
        }
        if let (None, Some((primary, secondary, _))) = (n.private_ip, addrs) {
            n.private_ip = Some(primary);
            if n.connectivity == model::NatConnectivity::Private {
                n.secondary_private_ips = secondary;
            }
        }
        self.gone.insert(
            orig.to_string(),
            format!("the network interface of NAT gateway {nat_id}; routes name the gateway"),
        );
        self.note(
            EntryKind::Used,
            file,
            orig,
            path,
            format!("the network interface of [[nat_gateway]] {nat_id}"),
        );
    }

    /// `[[elastic_ip]]` from `Addresses[]`, then the Elastic IPs that associations and NAT
    /// gateways print but that list lacks; then the ENIs' public IPs that no Elastic IP
    /// covers.
    pub(super) fn elastic_ips(&mut self, recs: &[Record<Address>]) {
        for r in recs {
            self.address(r);
        }
        for p in std::mem::take(&mut self.pending_eips) {
            self.pending_eip(p);
        }
        for (ei, ip, file) in std::mem::take(&mut self.public_ips) {
            let eni = &self.t.enis[ei];
            if let Some(e) = self.t.elastic_ips.iter().find(|e| e.public_ip == ip) {
                let (eid, eni_id) = (e.id.clone(), eni.id.clone());
                self.note(
                    EntryKind::Skipped,
                    &file,
                    &eni_id,
                    "public_ip",
                    format!("{ip} is the Elastic IP {eid}"),
                );
                continue;
            }
            self.t.enis[ei].public_ip = Some(ip);
        }
    }

    /// One `Addresses[]` entry.
    fn address(&mut self, r: &Record<Address>) {
        let (file, path) = (r.file.as_str(), r.path.as_str());
        let v = &r.v;
        if v.domain.as_deref() == Some("standard") {
            self.skip(
                file,
                &r.id,
                &format!("{path}.Domain"),
                "an EC2-Classic address (domain standard)",
            );
            return;
        }
        let Some(orig) = v.allocation_id.as_deref() else {
            self.skip(
                file,
                &r.id,
                &format!("{path}.AllocationId"),
                "no allocation id (EC2-Classic)",
            );
            return;
        };
        if self.listed_again(self.eip.contains_key(orig), file, orig, path) {
            return;
        }
        let field = format!("{path}.PublicIp");
        let Some(s) = self.required(file, orig, &field, &v.public_ip) else {
            return;
        };
        let Some(public_ip) = self.parse::<Ipv4Addr>(file, orig, &field, s, "an IPv4 address")
        else {
            return;
        };
        for (f, x) in [
            ("CustomerOwnedIp", &v.customer_owned_ip),
            ("CarrierIp", &v.carrier_ip),
        ] {
            if let Some(x) = x {
                self.note(
                    EntryKind::Skipped,
                    file,
                    orig,
                    &format!("{path}.{f}"),
                    format!("{x}: cannot be modelled"),
                );
            }
        }
        let private = match v.private_ip_address.as_deref() {
            Some(s) => self.parse::<Ipv4Addr>(
                file,
                orig,
                &format!("{path}.PrivateIpAddress"),
                s,
                "an IPv4 address",
            ),
            None => None,
        };
        let mut eip = model::ElasticIp {
            id: self.ids.id("eipalloc-", orig),
            name: tag_name(&v.tags),
            public_ip,
            eni: None,
            private_ip: None,
        };
        if let Some(e) = v.network_interface_id.as_deref() {
            let field = format!("{path}.NetworkInterfaceId");
            self.associate(&mut eip, (file, orig, &field), e, private);
        }
        self.note(
            EntryKind::Used,
            file,
            orig,
            path,
            format!("[[elastic_ip]] {}", eip.id),
        );
        self.eip.insert(orig.to_string(), self.t.elastic_ips.len());
        self.t.elastic_ips.push(eip);
    }

    /// Associates `eip` with the ENI `eni_orig` (on `private`, default its primary), if
    /// that is an imported ENI holding that address.
    fn associate(
        &mut self,
        eip: &mut model::ElasticIp,
        (file, orig, field): (&str, &str, &str),
        eni_orig: &str,
        private: Option<Ipv4Addr>,
    ) {
        if let Some(nat) = self.nat_eni.get(eni_orig) {
            let nat = nat.clone();
            self.note(
                EntryKind::Used,
                file,
                orig,
                field,
                format!("held by NAT gateway {nat} (its allocation_id)"),
            );
            return;
        }
        match self.lookup(&self.eni, eni_orig) {
            Ref::Found(ei) => {
                let e = &self.t.enis[ei];
                match private {
                    Some(p) if !e.ipv4_addrs().any(|x| x == p) => {
                        let msg = format!("{p} is not an address of {eni_orig}: kept unassociated");
                        self.note(EntryKind::Skipped, file, orig, field, msg);
                    }
                    _ => {
                        eip.eni = Some(e.id.clone());
                        eip.private_ip = private.filter(|p| *p != e.private_ip);
                    }
                }
            }
            Ref::Gone(why) => self.note(
                EntryKind::Skipped,
                file,
                orig,
                field,
                format!(
                    "associated with {eni_orig}, which is not imported ({why}): kept unassociated"
                ),
            ),
            Ref::Missing => self.note(
                EntryKind::Skipped,
                file,
                orig,
                field,
                format!("associated with {eni_orig}, which is not in the input: kept unassociated"),
            ),
        }
    }

    /// An Elastic IP printed by an association or a NAT gateway: created unless
    /// `describe-addresses` listed it.
    fn pending_eip(&mut self, p: PendingEip) {
        let listed = match &p.allocation {
            Some(a) => self.eip.contains_key(a),
            None => self
                .t
                .elastic_ips
                .iter()
                .any(|e| e.public_ip == p.public_ip),
        };
        if listed {
            return;
        }
        let key = p
            .allocation
            .clone()
            .unwrap_or_else(|| format!("Elastic IP {}", p.public_ip));
        let mut eip = model::ElasticIp {
            id: self.ids.id("eipalloc-", &key),
            name: None,
            public_ip: p.public_ip,
            eni: None,
            private_ip: None,
        };
        if let Some(e) = &p.eni {
            self.associate(&mut eip, (&p.file, &p.source, ""), e, p.private_ip);
        }
        let how = if p.allocation.is_some() {
            ""
        } else {
            " (its allocation id is not printed: a generated one)"
        };
        self.note(
            EntryKind::Defaulted,
            &p.file,
            &p.source,
            "",
            format!(
                "Elastic IP {} ({}) is not listed by describe-addresses: created from what {} prints{how}",
                eip.id, p.public_ip, p.source
            ),
        );
        self.eip.insert(key, self.t.elastic_ips.len());
        self.t.elastic_ips.push(eip);
    }

    /// Each ENI's security groups: those imported, at most 5; none left means the VPC's
    /// default group.
    pub(super) fn eni_groups(&mut self) {
        for (ei, file, field, groups) in std::mem::take(&mut self.eni_groups) {
            let eni_id = self.t.enis[ei].id.clone();
            let mut out = Vec::new();
            for (k, g) in groups.iter().enumerate() {
                let f = format!("{field}[{k}]");
                match self.lookup(&self.sg, g) {
                    Ref::Found(i) if out.len() < SGS_PER_ENI_MAX => {
                        out.push(self.t.security_groups[i].id.clone());
                    }
                    Ref::Found(_) => self.note(
                        EntryKind::Skipped,
                        &file,
                        &eni_id,
                        &f,
                        format!("{g}: an ENI here has at most {SGS_PER_ENI_MAX} groups"),
                    ),
                    Ref::Gone(why) => self.note(
                        EntryKind::Skipped,
                        &file,
                        &eni_id,
                        &f,
                        format!("{g} is not imported ({why})"),
                    ),
                    Ref::Missing => self.note(
                        EntryKind::Skipped,
                        &file,
                        &eni_id,
                        &f,
                        format!("{g} is not in the input (add the output of `aws ec2 describe-security-groups`)"),
                    ),
                }
            }
            if out.is_empty() {
                self.note(
                    EntryKind::Defaulted,
                    &file,
                    &eni_id,
                    &field,
                    "no imported security group: the VPC's default group",
                );
            } else {
                self.t.enis[ei].security_groups = Some(out);
            }
        }
    }
}
