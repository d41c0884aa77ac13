//! What every check shares: the [`Report`] that collects errors and warnings, where each
//! parsed resource sits in the file ([`Origins`]) and how resources are named in messages,
//! the id → index [`Lookups`] built once per validation, and small helpers used by several
//! resource kinds (VPC references, address claims, CIDR overlap, interface names).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::names::reserved_ipv4_reason;
use crate::report::ValidationError;

/// The smallest IPv4 prefix length of a VPC or subnet CIDR (`/16`).
pub const MIN_V4_PREFIX: u8 = 16;
/// The largest IPv4 prefix length of a VPC or subnet CIDR (`/28`).
pub const MAX_V4_PREFIX: u8 = 28;

/// The addresses of `subnet` that an ENI may use (all but the five reserved ones).
pub fn assignable_ipv4(subnet: Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
    subnet
        .trunc()
        .hosts()
        .chain(std::iter::once(subnet.trunc().broadcast()))
        .filter(move |ip| reserved_ipv4_reason(subnet, *ip).is_none())
}

/// Whether `name` is a valid Linux interface name (what `dev_valid_name` accepts).
pub fn is_valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

/// Whether `name` is usable as a network namespace name (`ip netns add NAME` makes it a
/// file under `/run/netns`).
pub fn is_valid_netns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether two networks share an address.
pub(super) fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Collects errors and warnings.
#[derive(Default)]
pub(super) struct Report {
    /// The errors found so far, in the order they were found.
    pub(super) errors: Vec<ValidationError>,
    /// The warnings found so far, as displayed (`resource.field: message`).
    pub(super) warnings: Vec<String>,
    /// Where each parsed resource sits in the file.
    pub(super) origins: Origins,
}

/// The position in the file of each parsed resource, per kind (resources that failed to
/// parse are missing from the model, so model indices can differ from file indices).
#[derive(Debug, Default, Clone)]
pub(super) struct Origins {
    pub(super) vpc: Vec<usize>,
    pub(super) subnet: Vec<usize>,
    pub(super) route_table: Vec<usize>,
    pub(super) eni: Vec<usize>,
    pub(super) dhcp_options: Vec<usize>,
    pub(super) prefix_list: Vec<usize>,
    pub(super) network_acl: Vec<usize>,
    pub(super) security_group: Vec<usize>,
    pub(super) internet_gateway: Vec<usize>,
    pub(super) internet_host: Vec<usize>,
    pub(super) elastic_ip: Vec<usize>,
    pub(super) nat_gateway: Vec<usize>,
    pub(super) peering_connection: Vec<usize>,
    pub(super) flow_log: Vec<usize>,
    pub(super) packet_capture: Vec<usize>,
    pub(super) traffic_mirror_target: Vec<usize>,
    pub(super) traffic_mirror_filter: Vec<usize>,
    pub(super) traffic_mirror_session: Vec<usize>,
    pub(super) private_hosted_zone: Vec<usize>,
}

impl Origins {
    /// The file index of the `i`-th parsed resource of `kind` (`i` when unknown).
    pub(super) fn at(&self, kind: &str, i: usize) -> usize {
        let v: &[usize] = match kind {
            "vpc" => &self.vpc,
            "subnet" => &self.subnet,
            "route_table" => &self.route_table,
            "eni" => &self.eni,
            "dhcp_options" => &self.dhcp_options,
            "prefix_list" => &self.prefix_list,
            "network_acl" => &self.network_acl,
            "security_group" => &self.security_group,
            "internet_gateway" => &self.internet_gateway,
            "internet_host" => &self.internet_host,
            "elastic_ip" => &self.elastic_ip,
            "nat_gateway" => &self.nat_gateway,
            "peering_connection" => &self.peering_connection,
            "flow_log" => &self.flow_log,
            "packet_capture" => &self.packet_capture,
            "traffic_mirror_target" => &self.traffic_mirror_target,
            "traffic_mirror_filter" => &self.traffic_mirror_filter,
            "traffic_mirror_session" => &self.traffic_mirror_session,
            "private_hosted_zone" => &self.private_hosted_zone,
            _ => &[],
        };
        v.get(i).copied().unwrap_or(i)
    }
}

impl Report {
    /// The name of the `i`-th resource of `kind` in the model.
    pub(super) fn label(&self, id: &str, kind: &str, i: usize) -> String {
        label_at(id, kind, self.origins.at(kind, i))
    }

    /// Records an error of `resource.field`.
    pub(super) fn err(
        &mut self,
        resource: &str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors
            .push(ValidationError::new(resource, field, message));
    }

    /// Clears the host bits of an IPv4 CIDR, with a warning when there were any.
    pub(super) fn normalise4(&mut self, net: &mut Ipv4Net, resource: &str, field: &str) {
        let t = net.trunc();
        if t != *net {
            self.warnings.push(format!(
                "{resource}.{field}: {net} has host bits set; using {t} (as the AWS API does)"
            ));
            *net = t;
        }
    }

    /// Clears the host bits of an IPv6 CIDR, with a warning when there were any.
    pub(super) fn normalise6(&mut self, net: &mut Ipv6Net, resource: &str, field: &str) {
        let t = net.trunc();
        if t != *net {
            self.warnings.push(format!(
                "{resource}.{field}: {net} has host bits set; using {t} (as the AWS API does)"
            ));
            *net = t;
        }
    }

    /// Clears the host bits of a CIDR of either family, with a warning when there were any.
    pub(super) fn normalise(&mut self, net: &mut IpNet, resource: &str, field: &str) {
        match net {
            IpNet::V4(n) => self.normalise4(n, resource, field),
            IpNet::V6(n) => self.normalise6(n, resource, field),
        }
    }

    /// Checks that a VPC or subnet IPv4 CIDR is /16 to /28 (`what` names the owner kind).
    pub(super) fn v4_size(&mut self, net: Ipv4Net, resource: &str, field: &str, what: &str) {
        let p = net.prefix_len();
        if !(MIN_V4_PREFIX..=MAX_V4_PREFIX).contains(&p) {
            self.err(
                resource,
                field,
                format!(
                    "{net}: prefix /{p} is outside the allowed range; {what} IPv4 CIDRs must be /{MIN_V4_PREFIX} to /{MAX_V4_PREFIX}"
                ),
            );
        }
    }

    /// Checks the id of the `index`-th resource of `kind`: present, with its kind's prefix,
    /// then letters, digits, `-` or `_`.
    pub(super) fn id(&mut self, id: &str, prefix: &str, kind: &str, index: usize) {
        let resource = self.label(id, kind, index);
        if id.is_empty() {
            self.err(
                &resource,
                "id",
                format!("missing id; give it one like `{prefix}example`"),
            );
        } else if !id.starts_with(prefix) {
            self.err(
                &resource,
                "id",
                format!(
                    "`{id}` must start with `{prefix}` (the AWS id prefix of {})",
                    kind_name(kind)
                ),
            );
        } else if !id[prefix.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || id.len() == prefix.len()
        {
            self.err(
                &resource,
                "id",
                format!("`{id}` must be `{prefix}` followed by letters, digits, `-` or `_`"),
            );
        } else if id.len() > super::ids::ID_MAX_LEN {
            self.err(
                &resource,
                "id",
                format!(
                    "`{}…` is {} characters long; an id has at most {}",
                    &id[..super::ids::ID_MAX_LEN],
                    id.len(),
                    super::ids::ID_MAX_LEN
                ),
            );
        }
    }
}

/// How a kind is called in messages.
fn kind_name(kind: &str) -> &'static str {
    match kind {
        "vpc" => "a VPC",
        "subnet" => "a subnet",
        "route_table" => "a route table",
        "prefix_list" => "a prefix list",
        "network_acl" => "a network ACL",
        "security_group" => "a security group",
        "internet_gateway" => "an internet gateway",
        "internet_host" => "an internet host",
        "elastic_ip" => "an Elastic IP allocation",
        "nat_gateway" => "a NAT gateway",
        "peering_connection" => "a VPC peering connection",
        "flow_log" => "a flow log",
        "packet_capture" => "a packet capture",
        "traffic_mirror_target" => "a traffic mirror target",
        "traffic_mirror_filter" => "a traffic mirror filter",
        "traffic_mirror_session" => "a traffic mirror session",
        "private_hosted_zone" => "a private hosted zone",
        _ => "an ENI",
    }
}

/// The name a resource goes by in messages: its id, or `kind[index]` when it has none or
/// one too long to repeat in every message.
fn label_at(id: &str, kind: &str, index: usize) -> String {
    if id.is_empty() || id.len() > super::ids::ID_MAX_LEN {
        format!("{kind}[{index}]")
    } else {
        id.to_string()
    }
}

/// Id → index maps shared by the checks (first occurrence of an id wins; duplicates are
/// reported by the id checks).
pub(super) struct Lookups<'a> {
    /// VPCs by id.
    pub(super) vpc: &'a HashMap<String, usize>,
    /// Subnets by id.
    pub(super) subnet: &'a HashMap<String, usize>,
    /// Route tables by id.
    pub(super) rtb: &'a HashMap<String, usize>,
    /// ENIs by id.
    pub(super) eni: &'a HashMap<String, usize>,
    /// Internet gateways by id.
    pub(super) igw: &'a HashMap<String, usize>,
    /// NAT gateways by id.
    pub(super) nat: &'a HashMap<String, usize>,
    /// The VPC of each ENI (by model index), when its subnet and VPC resolve.
    pub(super) eni_vpc: &'a [Option<usize>],
    /// The VPC of each NAT gateway (by model index), when its subnet and VPC resolve.
    pub(super) nat_vpc: &'a [Option<usize>],
    /// The declared peering connections.
    pub(super) peerings: &'a PeeringLookup,
}

/// What validation knows of the declared peering connections (first occurrence wins;
/// duplicates are reported).
#[derive(Debug, Default)]
pub(super) struct PeeringLookup {
    /// By id: the requester and accepter VPCs (when they resolve) and whether it is active.
    pub(super) by_id: HashMap<String, ([Option<usize>; 2], bool)>,
    /// By VPC pair (lower index first): the peering's id and whether it is active.
    pub(super) by_pair: HashMap<(usize, usize), (String, bool)>,
}

impl PeeringLookup {
    /// The peering connection between VPCs `a` and `b` (either direction): its id and
    /// whether it is active.
    pub(super) fn between(&self, a: usize, b: usize) -> Option<(&str, bool)> {
        self.by_pair
            .get(&(a.min(b), a.max(b)))
            .map(|(id, active)| (id.as_str(), *active))
    }
}

/// Resolves a `vpc = "…"` reference, reporting it when missing or dangling.
pub(super) fn check_vpc_ref(
    r: &mut Report,
    vpc_idx: &HashMap<String, usize>,
    broken: &HashSet<String>,
    res: &str,
    vpc: &str,
) -> Option<usize> {
    if vpc.is_empty() {
        r.err(res, "vpc", "missing vpc; name the `vpc-…` this belongs to");
        return None;
    }
    let found = vpc_idx.get(vpc).copied();
    if found.is_none() && !broken.contains(vpc) {
        r.err(res, "vpc", format!("no VPC with id `{vpc}`"));
    }
    found
}

/// Records that `res.field` holds `ip` in VPC `vpc`, reporting a duplicate.
pub(super) fn claim(
    r: &mut Report,
    ips: &mut HashMap<(usize, IpAddr), String>,
    vpc: usize,
    ip: IpAddr,
    res: &str,
    field: &str,
) {
    let owner = format!("{res}.{field}");
    match ips.get(&(vpc, ip)) {
        Some(other) => r.err(
            res,
            field,
            format!("{ip} is already assigned to {other}; an address is used once per VPC"),
        ),
        None => {
            ips.insert((vpc, ip), owner);
        }
    }
}
