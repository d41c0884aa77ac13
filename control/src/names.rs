//! Ids and derived names shared by validation and the compiler: generated MACs, the ids
//! of implicit resources, reserved and auto-assigned addresses, and the first-index map
//! of resource ids. One place, so that what validation checks is what compilation builds.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use dataplane::wire::MacAddr;
use ipnet::{Ipv4Net, Ipv6Net};

use crate::model::{NatGateway, Topology};

/// First octet of generated ENI MACs (locally administered, unicast).
pub const ENI_MAC_OUI: u8 = 0x02;
/// First octet of generated router MACs (locally administered, unicast; never equal to
/// a generated ENI MAC because the first octet differs).
pub const ROUTER_MAC_OUI: u8 = 0x06;

/// First octet of generated internet gateway MACs (locally administered, unicast).
pub const IGW_MAC_OUI: u8 = 0x0a;
/// First octet of the generated MAC of an internet gateway's outside namespace.
pub const IGW_HOST_MAC_OUI: u8 = 0x0e;

/// First octet of generated internet host MACs (locally administered, unicast).
pub const INTERNET_HOST_MAC_OUI: u8 = 0x16;

/// 64-bit FNV-1a over `bytes` (stable, unlike `std`'s randomised hasher).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The 64-bit finaliser of MurmurHash3: spreads FNV-1a's weak avalanche on the last
/// bytes, so ids that differ in one character get MACs that differ everywhere.
pub fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The five MAC bytes after the first octet for an id: `mix64(fnv1a64(id))`, big-endian.
fn mac_from(first: u8, id: &str) -> MacAddr {
    let h = mix64(fnv1a64(id.as_bytes())).to_be_bytes();
    MacAddr([first, h[0], h[1], h[2], h[3], h[4]])
}

/// The MAC an ENI gets when its `mac` is not set: `02:` + 5 bytes of the id's hash
/// (FNV-1a, then [`mix64`]).
pub fn eni_mac(id: &str) -> MacAddr {
    mac_from(ENI_MAC_OUI, id)
}

/// The MAC of the VPC router's interface in a subnet: `06:` + 5 bytes of the subnet id's
/// hash (FNV-1a, then [`mix64`]).
pub fn router_mac(subnet_id: &str) -> MacAddr {
    mac_from(ROUTER_MAC_OUI, subnet_id)
}

/// The MAC of an internet gateway on its uplink: `0a:` + 5 bytes of the id's hash.
pub fn igw_mac(igw_id: &str) -> MacAddr {
    mac_from(IGW_MAC_OUI, igw_id)
}

/// The MAC of the namespace side of an internet gateway's uplink (the internet hosts):
/// `0e:` + 5 bytes of the hash of `<igw id>:internet`.
pub fn igw_host_mac(igw_id: &str) -> MacAddr {
    mac_from(IGW_HOST_MAC_OUI, &format!("{igw_id}:internet"))
}

/// The MAC of internet host `host_id` on the internet segment.
pub fn internet_host_mac(host_id: &str) -> MacAddr {
    mac_from(INTERNET_HOST_MAC_OUI, host_id)
}

/// The interface name of internet gateway `igw_id`'s uplink in the internet segment's
/// namespace (`up-` and 8 hex digits: unique per id, at most 15 characters).
pub fn segment_uplink_ifname(igw_id: &str) -> String {
    format!("up-{:08x}", mix64(fnv1a64(igw_id.as_bytes())) as u32)
}

/// The interface name of internet host `host_id`'s link in the internet segment's
/// namespace (`h-` and 8 hex digits).
pub fn segment_host_ifname(host_id: &str) -> String {
    format!("h-{:08x}", mix64(fnv1a64(host_id.as_bytes())) as u32)
}

/// The instance id derived from `key`: `i-` + 17 lowercase hex digits of the key's hash
/// (FNV-1a, then [`mix64`]; the first digit is always `0`, as in most AWS ids).
fn derived_instance_id(key: &str) -> String {
    format!("i-{:017x}", mix64(fnv1a64(key.as_bytes())))
}

/// The id of the instance behind the ENIs of namespace `netns` that name none: derived
/// from the hash of `netns:<name>`.
pub fn netns_instance_id(netns: &str) -> String {
    derived_instance_id(&format!("netns:{netns}"))
}

/// The id of the instance behind an ENI without a namespace that names none: derived
/// from the hash of `eni:<id>`.
pub fn unattached_instance_id(eni_id: &str) -> String {
    derived_instance_id(&format!("eni:{eni_id}"))
}

/// The instance an ENI belongs to, as derived by [`eni_instances`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EniInstance {
    /// The instance id (`i-…`).
    pub id: String,
    /// The ENI's device index on it.
    pub device_index: u32,
}

/// The instance of every ENI of `t` (by model index), and its device index.
///
/// The id is the ENI's `instance_id`; else the first `instance_id` another ENI of its
/// namespace names (in file order), else [`netns_instance_id`] of its namespace; an ENI
/// without a namespace gets [`unattached_instance_id`] of its own id. The device index is
/// the ENI's `device_index`; else the lowest index that no ENI of the instance sets and
/// no earlier ENI of it took (so, when none sets one, its position among the instance's
/// ENIs in file order, 0 first). Validation reports two ENIs of an instance with the same
/// index.
pub fn eni_instances(t: &Topology) -> Vec<EniInstance> {
    let mut named_in_ns: HashMap<&str, &str> = HashMap::new();
    for e in &t.enis {
        if let (Some(ns), Some(id)) = (&e.netns, &e.instance_id) {
            named_in_ns.entry(ns.as_str()).or_insert(id.as_str());
        }
    }
    let ids: Vec<String> = t
        .enis
        .iter()
        .map(|e| match (&e.instance_id, &e.netns) {
            (Some(id), _) => id.clone(),
            (None, Some(ns)) => named_in_ns
                .get(ns.as_str())
                .map_or_else(|| netns_instance_id(ns), |id| id.to_string()),
            (None, None) => unattached_instance_id(&e.id),
        })
        .collect();
    let mut taken: HashMap<&str, HashSet<u32>> = HashMap::new();
    for (e, id) in t.enis.iter().zip(&ids) {
        if let Some(d) = e.device_index {
            taken.entry(id.as_str()).or_default().insert(d);
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for (e, id) in t.enis.iter().zip(&ids) {
        let device_index = match e.device_index {
            Some(d) => d,
            None => {
                let used = taken.entry(id.as_str()).or_default();
                let d = (0..).find(|d| !used.contains(d)).unwrap_or(0);
                used.insert(d);
                d
            }
        };
        out.push(EniInstance {
            id: id.clone(),
            device_index,
        });
    }
    out
}

/// The id of the implicit main route table of a VPC that declares none:
/// `rtb-main-<vpc id without "vpc-">`.
pub fn implicit_main_id(vpc_id: &str) -> String {
    format!("rtb-main-{}", vpc_id.strip_prefix("vpc-").unwrap_or(vpc_id))
}

/// The id of the implicit default network ACL of a VPC that declares none:
/// `acl-default-<vpc id without "vpc-">`.
pub fn implicit_default_nacl_id(vpc_id: &str) -> String {
    format!(
        "acl-default-{}",
        vpc_id.strip_prefix("vpc-").unwrap_or(vpc_id)
    )
}

/// The id of the implicit default security group of a VPC that declares none:
/// `sg-default-<vpc id without "vpc-">`.
pub fn implicit_default_sg_id(vpc_id: &str) -> String {
    format!(
        "sg-default-{}",
        vpc_id.strip_prefix("vpc-").unwrap_or(vpc_id)
    )
}

/// The id of a NAT gateway's network interface: its `network_interface_id`, else `eni-`
/// + the gateway's id (`nat-demo` → `eni-nat-demo`).
pub fn nat_gateway_interface_id(n: &NatGateway) -> String {
    n.network_interface_id
        .clone()
        .unwrap_or_else(|| format!("eni-{}", n.id))
}

/// Why an IPv4 address cannot be assigned to an ENI in `subnet`, if it is reserved.
///
/// AWS reserves the first four addresses of every subnet (network, VPC router, Amazon
/// DNS, future use) and the last (broadcast).
pub fn reserved_ipv4_reason(subnet: Ipv4Net, ip: Ipv4Addr) -> Option<&'static str> {
    let net = subnet.trunc();
    let offset = u32::from(ip).wrapping_sub(u32::from(net.network()));
    if ip == net.broadcast() {
        return Some("the subnet's broadcast address (broadcast is not supported in a VPC)");
    }
    match offset {
        0 => Some("the subnet's network address"),
        1 => Some("reserved for the VPC router (the subnet's .1)"),
        2 => Some("reserved for the Amazon DNS server (the subnet's .2)"),
        3 => Some("reserved by AWS for future use (the subnet's .3)"),
        _ => None,
    }
}

/// Why an IPv6 address cannot be assigned to an ENI in `subnet`, if it is reserved (the
/// first four addresses and the last one of the subnet).
pub fn reserved_ipv6_reason(subnet: Ipv6Net, ip: Ipv6Addr) -> Option<&'static str> {
    let net = subnet.trunc();
    let offset = u128::from(ip).wrapping_sub(u128::from(net.network()));
    if ip == net.broadcast() {
        return Some("the subnet's last address, reserved by AWS");
    }
    match offset {
        0 => Some("the subnet's network address"),
        1 => Some("reserved for the VPC router (the subnet's ::1)"),
        2 | 3 => Some("reserved by AWS (the first four addresses of a subnet are reserved)"),
        _ => None,
    }
}

/// Position of each id in `items`, keyed by `&str` or `String`; the first occurrence wins.
pub(crate) fn first_index<'a, T, K>(
    items: &'a [T],
    id: impl Fn(&'a T) -> &'a str,
) -> HashMap<K, usize>
where
    K: From<&'a str> + Eq + std::hash::Hash,
{
    let mut out = HashMap::new();
    for (i, x) in items.iter().enumerate() {
        out.entry(K::from(id(x))).or_insert(i);
    }
    out
}

/// The highest address of `subnet` that an ENI or a NAT gateway may hold (not one of the
/// five reserved ones) and that `taken` does not hold, if any.
pub fn highest_free_ipv4(subnet: Ipv4Net, taken: impl Fn(Ipv4Addr) -> bool) -> Option<Ipv4Addr> {
    let net = subnet.trunc();
    (u32::from(net.network())..=u32::from(net.broadcast()))
        .rev()
        .map(Ipv4Addr::from)
        .find(|&a| reserved_ipv4_reason(net, a).is_none() && !taken(a))
}

/// The private IPv4 addresses of every NAT gateway of `t` (by model index), the primary
/// first: `private_ip` when set, else the highest free assignable address of its subnet
/// (see [`highest_free_ipv4`]), where "free" means not an address (primary or secondary)
/// of an ENI of the same VPC, not an explicit address of any NAT gateway of that VPC, and
/// not auto-assigned to an earlier NAT gateway (file order). `None` when the subnet does
/// not resolve or it has no free address left.
pub fn nat_gateway_addresses(t: &Topology) -> Vec<Option<Vec<Ipv4Addr>>> {
    let subnet_idx: HashMap<&str, usize> = first_index(&t.subnets, |x| x.id.as_str());
    let vpc_of = |subnet: &str| -> Option<&str> {
        subnet_idx.get(subnet).map(|&si| t.subnets[si].vpc.as_str())
    };
    let mut taken: HashSet<(&str, Ipv4Addr)> = HashSet::new();
    for e in &t.enis {
        if let Some(v) = vpc_of(&e.subnet) {
            taken.extend(e.ipv4_addrs().map(|a| (v, a)));
        }
    }
    for n in &t.nat_gateways {
        if let Some(v) = vpc_of(&n.subnet) {
            taken.extend(
                n.private_ip
                    .iter()
                    .chain(&n.secondary_private_ips)
                    .map(|&a| (v, a)),
            );
        }
    }
    t.nat_gateways
        .iter()
        .map(|n| {
            let s = &t.subnets[*subnet_idx.get(n.subnet.as_str())?];
            let primary = match n.private_ip {
                Some(p) => p,
                None => {
                    let vpc = s.vpc.as_str();
                    let p = highest_free_ipv4(s.cidr, |a| taken.contains(&(vpc, a)))?;
                    taken.insert((vpc, p));
                    p
                }
            };
            Some(
                std::iter::once(primary)
                    .chain(n.secondary_private_ips.iter().copied())
                    .collect(),
            )
        })
        .collect()
}
