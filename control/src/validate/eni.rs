//! ENIs: a unicast MAC unique in the file (a generated one must not collide either), an
//! MTU and a Linux interface name within bounds (a `qemu-stream` or `vhost-user` ENI: no namespace or
//! interface name, an absolute socket path that fits `sun_path`, used once), a namespace/interface pair used once (no
//! namespace at all is a warning: the ENI is left unattached), an existing subnet, addresses inside it that are not reserved and are used once per VPC;
//! then, with the firewalls, 1 to 5 distinct security groups of the ENI's VPC and
//! conntrack settings within AWS's bounds; and the instances behind the ENIs: an
//! `instance_id` of AWS's form (`i-` + 8 or 17 hex digits), named by ENIs of one namespace
//! only, one instance per namespace, a device index used once per instance, and one
//! instance type, image (`ami-` + 8 or 17 hex digits) and set of metadata options (hop
//! limit 1..=64) per instance.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use dataplane::wire::MacAddr;

use super::context::{claim, is_valid_ifname, is_valid_netns_name, Lookups, Report};
use crate::model::{Eni, EniAttachment, Topology, DEFAULT_IFNAME, MAX_MTU, MIN_MTU};
use crate::names::{
    eni_instances, eni_mac, igw_host_mac, igw_mac, reserved_ipv4_reason, reserved_ipv6_reason,
    router_mac,
};
use dataplane::sys::stream::MAX_SOCKET_PATH;

/// Security groups per ENI (AWS default quota).
pub const SGS_PER_ENI_MAX: usize = 5;
/// Bounds of `conntrack.max_entries`.
pub const CONNTRACK_ENTRIES: std::ops::RangeInclusive<i64> = 1..=1_000_000;
/// Bounds of `conntrack.tcp_established_timeout`, seconds (AWS).
pub const TCP_ESTABLISHED_TIMEOUT: std::ops::RangeInclusive<i64> = 60..=432_000;
/// Bounds of `conntrack.udp_timeout`, seconds (AWS).
pub const UDP_TIMEOUT: std::ops::RangeInclusive<i64> = 30..=60;
/// Bounds of `conntrack.udp_stream_timeout`, seconds (AWS).
pub const UDP_STREAM_TIMEOUT: std::ops::RangeInclusive<i64> = 60..=180;

/// Bounds of `metadata_options.http_put_response_hop_limit` (AWS).
pub const METADATA_HOP_LIMIT: std::ops::RangeInclusive<i64> = 1..=64;

/// Whether `s` is `prefix` followed by 8 or 17 lowercase hex digits (AWS's short and long
/// resource ids).
fn is_aws_hex_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|h| {
        matches!(h.len(), 8 | 17) && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Whether `id` is an instance id of AWS's form: `i-` + 8 or 17 lowercase hex digits.
pub fn is_instance_id(id: &str) -> bool {
    is_aws_hex_id(id, "i-")
}

/// Whether `id` is an image id of AWS's form: `ami-` + 8 or 17 lowercase hex digits.
pub fn is_image_id(id: &str) -> bool {
    is_aws_hex_id(id, "ami-")
}

/// Whether `t` is an instance type of AWS's form: a family and a size joined by a dot
/// (`t3.micro`, `c6gn.16xlarge`), lowercase letters, digits and `-`.
fn is_instance_type(t: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    t.split_once('.')
        .is_some_and(|(family, size)| part(family) && part(size))
}

/// The MACs that ENIs must not take, with their holders: the routers of the subnets and
/// both sides of the internet gateways.
fn reserved_macs(t: &Topology) -> HashMap<MacAddr, String> {
    let mut macs: HashMap<MacAddr, String> = HashMap::new();
    for s in &t.subnets {
        if !s.id.is_empty() {
            macs.entry(router_mac(&s.id))
                .or_insert_with(|| format!("the router of {}", s.id));
        }
    }
    for g in &t.internet_gateways {
        if !g.id.is_empty() {
            macs.entry(igw_mac(&g.id))
                .or_insert_with(|| format!("internet gateway {}", g.id));
            macs.entry(igw_host_mac(&g.id))
                .or_insert_with(|| format!("the internet side of {}", g.id));
        }
    }
    macs
}

/// Checks every ENI's MAC, interface, subnet and addresses. Returns the addresses claimed,
/// per VPC (the NAT gateways claim theirs next).
pub(super) fn enis(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
) -> HashMap<(usize, IpAddr), String> {
    let mut macs = reserved_macs(t);
    let mut ips: HashMap<(usize, IpAddr), String> = HashMap::new();
    let mut ifaces: HashMap<(String, String), String> = HashMap::new();
    let mut sockets: HashMap<std::path::PathBuf, String> = HashMap::new();
    for (i, e) in t.enis.iter().enumerate() {
        let res = r.label(&e.id, "eni", i);
        check_mac(r, e, &res, &mut macs);
        if let Some(kind) = e.attachment_kind().filter(|k| k.is_socket()) {
            check_stream(r, e, kind, &res, &mut sockets);
        } else if e.attachment == Some(EniAttachment::Interface) {
            check_existing_interface(r, e, &res, &mut ifaces);
        } else {
            check_interface(r, e, &res, &mut ifaces);
        }
        check_addresses(r, t, broken, l, (e, &res), &mut ips);
    }
    ips
}

/// Checks an ENI's MAC: unicast, not all zeros, and not already used (a generated MAC of
/// an ENI without an id is not claimed).
fn check_mac(r: &mut Report, e: &Eni, res: &str, macs: &mut HashMap<MacAddr, String>) {
    let (mac, generated) = match e.mac {
        Some(m) => (m, false),
        None => (eni_mac(&e.id), true),
    };
    if !generated {
        if mac.is_broadcast() {
            r.err(
                res,
                "mac",
                format!("{mac} is the broadcast address; an ENI needs a unicast MAC"),
            );
        } else if mac.is_multicast() {
            r.err(
                res,
                "mac",
                format!("{mac} is a multicast address (group bit set); an ENI needs a unicast MAC"),
            );
        } else if mac.0 == [0; 6] {
            r.err(res, "mac", "00:00:00:00:00:00 is not a usable MAC address");
        }
    }
    if !e.id.is_empty() || !generated {
        match macs.get(&mac) {
            Some(other) if generated => r.err(
                res,
                "mac",
                format!("the generated MAC {mac} collides with {other}; set `mac` explicitly"),
            ),
            Some(other) => r.err(res, "mac", format!("{mac} is already used by {other}")),
            None => {
                macs.insert(mac, res.to_string());
            }
        }
    }
}

/// Checks a `qemu-stream` or `vhost-user` ENI (`kind`): no `netns` or `ifname` (the guest
/// names its own interface), an MTU within bounds, and a socket path that is absolute,
/// fits `sun_path` and is used once (by either kind).
fn check_stream(
    r: &mut Report,
    e: &Eni,
    kind: EniAttachment,
    res: &str,
    sockets: &mut HashMap<std::path::PathBuf, String>,
) {
    if !(MIN_MTU..=MAX_MTU).contains(&e.mtu) {
        r.err(
            res,
            "mtu",
            format!(
                "{} is outside the allowed range {MIN_MTU}..={MAX_MTU}",
                e.mtu
            ),
        );
    }
    if let Some(ns) = &e.netns {
        r.err(
            res,
            "netns",
            format!("a {} attachment has no namespace; remove `netns = \"{ns}\"` (or use attachment = \"namespace\")", kind.as_str()),
        );
    }
    if e.ifname != DEFAULT_IFNAME {
        r.err(
            res,
            "ifname",
            format!("a {} attachment has no interface in a namespace (the guest names its own); remove `ifname = \"{}\"`", kind.as_str(), e.ifname),
        );
    }
    let Some(socket) = e.stream_socket() else {
        return;
    };
    let len = socket.as_os_str().len();
    if !socket.is_absolute() {
        r.err(
            res,
            "socket",
            format!(
                "`{}` must be an absolute path (vpcd resolves it, not vpcctl)",
                socket.display()
            ),
        );
    } else if len > MAX_SOCKET_PATH {
        r.err(
            res,
            "socket",
            format!(
                "`{}` is {len} bytes; a Unix socket path has at most {MAX_SOCKET_PATH} (sun_path)",
                socket.display()
            ),
        );
    } else if let Some(other) = sockets.get(&socket) {
        r.err(
            res,
            "socket",
            format!("`{}` is already used by {other}", socket.display()),
        );
    } else {
        sockets.insert(socket, res.to_string());
    }
}

/// Checks an ENI's MTU, interface name and namespace (each namespace/interface pair is
/// used once; none is a warning).
fn check_interface(
    r: &mut Report,
    e: &Eni,
    res: &str,
    ifaces: &mut HashMap<(String, String), String>,
) {
    if !(MIN_MTU..=MAX_MTU).contains(&e.mtu) {
        r.err(
            res,
            "mtu",
            format!(
                "{} is outside the allowed range {MIN_MTU}..={MAX_MTU}",
                e.mtu
            ),
        );
    }
    if !is_valid_ifname(&e.ifname) {
        r.err(
            res,
            "ifname",
            format!(
                "`{}` is not a valid Linux interface name (1 to 15 characters, no `/`, `:` or whitespace, not `.` or `..`)",
                e.ifname
            ),
        );
    }
    if e.socket.is_some() {
        r.err(
            res,
            "socket",
            "only a qemu-stream or vhost-user attachment has a socket; add attachment = \"qemu-stream\" (or \"vhost-user\") or remove it",
        );
    }
    if let Some(ns) = &e.netns {
        if !is_valid_netns_name(ns) {
            r.err(
                res,
                "netns",
                format!("`{ns}` is not a usable namespace name (1 to 64 of letters, digits, `-`, `_`, `.`; not `.` or `..`)"),
            );
        } else {
            let key = (ns.clone(), e.ifname.clone());
            if let Some(other) = ifaces.get(&key) {
                r.err(
                    res,
                    "ifname",
                    format!("{} in netns {ns} is already used by {other}", e.ifname),
                );
            } else {
                ifaces.insert(key, res.to_string());
            }
        }
    } else if e.attachment == Some(EniAttachment::Namespace) {
        r.err(
            res,
            "netns",
            "attachment = \"namespace\" needs the namespace: set `netns`",
        );
    } else {
        r.warnings.push(unattached_warning(res));
    }
}

/// Checks an `interface` attachment: the interface is named (a valid Linux name), used by
/// one ENI only, its namespace (if any) is a usable name, and neither `ifname` nor
/// `socket` is set (the interface is the instance's NIC as it is).
fn check_existing_interface(
    r: &mut Report,
    e: &Eni,
    res: &str,
    ifaces: &mut HashMap<(String, String), String>,
) {
    let Some(name) = &e.interface else {
        r.err(
            res,
            "interface",
            "attachment = \"interface\" needs the existing interface's name: set `interface`",
        );
        return;
    };
    if !is_valid_ifname(name) {
        r.err(
            res,
            "interface",
            format!("`{name}` is not a valid Linux interface name (1 to 15 characters, no `/`, `:` or whitespace)"),
        );
    }
    if e.socket.is_some() {
        r.err(
            res,
            "socket",
            "an interface attachment has no socket; remove it",
        );
    }
    if e.ifname != DEFAULT_IFNAME {
        r.err(
            res,
            "ifname",
            format!(
                "an interface attachment keeps the interface's own name; remove `ifname = \"{}\"`",
                e.ifname
            ),
        );
    }
    let ns = e.netns.clone().unwrap_or_default();
    if !ns.is_empty() && !is_valid_netns_name(&ns) {
        r.err(
            res,
            "netns",
            format!("`{ns}` is not a usable namespace name (1 to 64 of letters, digits, `-`, `_`, `.`; not `.` or `..`)"),
        );
    }
    let key = (ns.clone(), name.clone());
    if let Some(other) = ifaces.get(&key) {
        r.err(
            res,
            "interface",
            format!("{name} is already used by {other}"),
        );
    } else {
        ifaces.insert(key, res.to_string());
    }
}

/// The warning for ENI `res` without `netns`: valid (it keeps its addresses, MAC and
/// groups, as a detached ENI does in AWS), but it has no port, so what is sent to it is
/// dropped.
pub(super) fn unattached_warning(res: &str) -> String {
    format!(
        "{res}.netns: not set, so the ENI is not attached: it has no port, and traffic to it is dropped (`eni_not_attached`); set `netns = \"NAME\"` to attach it to a network namespace (`vpcctl up` creates it)"
    )
}

/// Checks an ENI's subnet and its addresses (inside the subnet, not reserved, claimed in
/// `ips` once per VPC).
fn check_addresses(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    (e, res): (&Eni, &str),
    ips: &mut HashMap<(usize, IpAddr), String>,
) {
    if e.subnet.is_empty() {
        r.err(
            res,
            "subnet",
            "missing subnet; name the `subnet-…` this ENI lives in",
        );
        return;
    }
    let Some(&si) = l.subnet.get(&e.subnet) else {
        if !broken.contains(&e.subnet) {
            r.err(res, "subnet", format!("no subnet with id `{}`", e.subnet));
        }
        return;
    };
    let s = &t.subnets[si];
    let vpc = l.vpc.get(&s.vpc).copied();
    let v4: Vec<(String, Ipv4Addr)> = std::iter::once(("private_ip".to_string(), e.private_ip))
        .chain(
            e.secondary_ips
                .iter()
                .enumerate()
                .map(|(k, ip)| (format!("secondary_ips[{k}]"), *ip)),
        )
        .collect();
    for (field, ip) in v4 {
        if !s.cidr.contains(&ip) {
            r.err(
                res,
                &field,
                format!("{ip} is outside {} ({})", s.id, s.cidr),
            );
        } else if let Some(why) = reserved_ipv4_reason(s.cidr, ip) {
            r.err(
                res,
                &field,
                format!("{ip} is {why}; it cannot be assigned to an ENI"),
            );
        }
        if let Some(vi) = vpc {
            claim(r, ips, vi, IpAddr::V4(ip), res, &field);
        }
    }
    for (k, ip) in e.ipv6_ips.iter().enumerate() {
        let field = format!("ipv6_ips[{k}]");
        match s.ipv6_cidr {
            None => r.err(
                res,
                &field,
                format!(
                    "{} has no ipv6_cidr, so its ENIs cannot have IPv6 addresses",
                    s.id
                ),
            ),
            Some(c) if !c.contains(ip) => {
                r.err(res, &field, format!("{ip} is outside {} ({c})", s.id))
            }
            Some(c) => {
                if let Some(why) = reserved_ipv6_reason(c, *ip) {
                    r.err(
                        res,
                        &field,
                        format!("{ip} is {why}; it cannot be assigned to an ENI"),
                    );
                }
            }
        }
        if let Some(vi) = vpc {
            claim(r, ips, vi, IpAddr::V6(*ip), res, &field);
        }
    }
}

/// Checks the security groups and conntrack settings of every ENI. `sg_vpc` holds every
/// group id an ENI may name, with its VPC.
pub(super) fn groups_and_conntrack(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    l: &Lookups<'_>,
    sg_vpc: &HashMap<String, Option<usize>>,
) {
    for (i, e) in t.enis.iter().enumerate() {
        let res = r.label(&e.id, "eni", i);
        let eni_vpc = l.eni_vpc.get(i).copied().flatten();
        security_groups(r, t, broken, (e, &res, eni_vpc), sg_vpc);
        conntrack(r, e, &res);
    }
}

/// Checks an ENI's `security_groups`: 1 to 5 distinct existing groups of its VPC.
fn security_groups(
    r: &mut Report,
    t: &Topology,
    broken: &HashSet<String>,
    (e, res, eni_vpc): (&Eni, &str, Option<usize>),
    sg_vpc: &HashMap<String, Option<usize>>,
) {
    if let Some(groups) = &e.security_groups {
        if groups.is_empty() {
            r.err(
                res,
                "security_groups",
                "an ENI always has at least one security group; leave `security_groups` out to use the VPC's default group",
            );
        } else if groups.len() > SGS_PER_ENI_MAX {
            r.err(
                res,
                "security_groups",
                format!(
                    "{} groups; an ENI has at most {SGS_PER_ENI_MAX} (AWS's default quota)",
                    groups.len()
                ),
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (k, gid) in groups.iter().enumerate() {
            let field = format!("security_groups[{k}]");
            if let Some(first) = seen.get(gid.as_str()) {
                r.err(
                    res,
                    &field,
                    format!("{gid} is already listed at security_groups[{first}]"),
                );
                continue;
            }
            seen.insert(gid, k);
            match sg_vpc.get(gid) {
                None if broken.contains(gid) => {}
                None => r.err(res, &field, format!("no security group with id `{gid}`")),
                Some(&Some(gv)) if eni_vpc.is_some_and(|ev| ev != gv) => r.err(
                    res,
                    &field,
                    format!(
                        "{gid} belongs to {}, but this ENI is in {}; an ENI's groups belong to its VPC",
                        t.vpcs[gv].id,
                        eni_vpc.map_or("", |ev| t.vpcs[ev].id.as_str())
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

/// Checks an ENI's conntrack settings against AWS's bounds.
fn conntrack(r: &mut Report, e: &Eni, res: &str) {
    if e.pps_allowance == Some(0) {
        r.err(
            res,
            "pps_allowance",
            "must be at least 1 packet per second (leave it out for no limit)".to_string(),
        );
    }
    if let Some(ct) = &e.conntrack {
        let checks = [
            ("conntrack.max_entries", ct.max_entries, &CONNTRACK_ENTRIES),
            (
                "conntrack.tcp_established_timeout",
                ct.tcp_established_timeout,
                &TCP_ESTABLISHED_TIMEOUT,
            ),
            ("conntrack.udp_timeout", ct.udp_timeout, &UDP_TIMEOUT),
            (
                "conntrack.udp_stream_timeout",
                ct.udp_stream_timeout,
                &UDP_STREAM_TIMEOUT,
            ),
        ];
        for (field, value, range) in checks {
            if let Some(v) = value {
                if !range.contains(&v) {
                    let unit = if field.ends_with("max_entries") {
                        ""
                    } else {
                        " seconds"
                    };
                    r.err(
                        res,
                        field,
                        format!(
                            "{v} is outside the allowed range {}..={}{unit}",
                            range.start(),
                            range.end()
                        ),
                    );
                }
            }
        }
    }
}

/// The first ENI of an instance that set one of its settings: the ENI's label and the
/// value it wrote.
type FirstSetting<'a, T> = HashMap<&'a str, (String, T)>;

/// Checks the instances behind the ENIs: the forms of `instance_id`, `instance_type`,
/// `image_id` and the metadata hop limit; an instance named in one namespace only and one
/// instance per namespace; a device index used once per instance; one instance type,
/// image and set of metadata options per instance (the second ENI that disagrees is
/// reported, naming the first).
pub(super) fn instances(r: &mut Report, t: &Topology) {
    let derived = eni_instances(t);
    let mut ns_of: HashMap<&str, (String, Option<&str>)> = HashMap::new();
    let mut id_of_ns: HashMap<&str, (String, &str)> = HashMap::new();
    let mut devices: HashMap<(&str, u32), String> = HashMap::new();
    let mut types: FirstSetting<'_, &str> = HashMap::new();
    let mut images: FirstSetting<'_, &str> = HashMap::new();
    let mut metadata: FirstSetting<'_, (bool, bool, i64)> = HashMap::new();
    for (i, (e, inst)) in t.enis.iter().zip(&derived).enumerate() {
        let res = r.label(&e.id, "eni", i);
        let iid = inst.id.as_str();
        if let Some(id) = &e.instance_id {
            if !is_instance_id(id) {
                r.err(
                    &res,
                    "instance_id",
                    format!("`{id}` is not an instance id: `i-` and 8 or 17 lowercase hex digits (i-0123456789abcdef0)"),
                );
            }
            let ns = e.netns.as_deref();
            match ns_of.get(id.as_str()) {
                Some((other, other_ns)) if *other_ns != ns => r.err(
                    &res,
                    "instance_id",
                    format!(
                        "{id} is also named by {other}, in {}, but this ENI is in {}; the ENIs of one instance share its namespace",
                        ns_text(*other_ns),
                        ns_text(ns)
                    ),
                ),
                Some(_) => {}
                None => {
                    ns_of.insert(id, (res.clone(), ns));
                }
            }
            if let Some(ns) = ns {
                match id_of_ns.get(ns) {
                    Some((other, other_id)) if *other_id != id => r.err(
                        &res,
                        "instance_id",
                        format!("netns {ns} is already instance {other_id} ({other}); the ENIs of one namespace belong to one instance"),
                    ),
                    Some(_) => {}
                    None => {
                        id_of_ns.insert(ns, (res.clone(), id));
                    }
                }
            }
        }
        match devices.get(&(iid, inst.device_index)) {
            Some(other) => r.err(
                &res,
                "device_index",
                format!(
                    "device index {} of instance {iid} is already {other}'s; each ENI of an instance has its own",
                    inst.device_index
                ),
            ),
            None => {
                devices.insert((iid, inst.device_index), res.clone());
            }
        }
        if let Some(ty) = &e.instance_type {
            if !is_instance_type(ty) {
                r.err(
                    &res,
                    "instance_type",
                    format!(
                        "`{ty}` is not an instance type: a family and a size, such as t3.micro"
                    ),
                );
            }
            agree(r, &res, "instance_type", (iid, ty.as_str()), &mut types);
        }
        if let Some(ami) = &e.image_id {
            if !is_image_id(ami) {
                r.err(
                    &res,
                    "image_id",
                    format!("`{ami}` is not an image id: `ami-` and 8 or 17 lowercase hex digits"),
                );
            }
            agree(r, &res, "image_id", (iid, ami.as_str()), &mut images);
        }
        if let Some(m) = &e.metadata_options {
            let hop = m.hop_limit();
            if !METADATA_HOP_LIMIT.contains(&hop) {
                r.err(
                    &res,
                    "metadata_options.http_put_response_hop_limit",
                    format!(
                        "{hop} is outside the allowed range {}..={}",
                        METADATA_HOP_LIMIT.start(),
                        METADATA_HOP_LIMIT.end()
                    ),
                );
            }
            agree(
                r,
                &res,
                "metadata_options",
                (iid, m.resolved()),
                &mut metadata,
            );
        }
    }
}

/// A namespace as messages name it.
fn ns_text(ns: Option<&str>) -> String {
    ns.map_or_else(|| "no namespace".to_string(), |n| format!("netns {n}"))
}

/// Records `value` of `field` for instance `iid`, or reports ENI `res` when an earlier
/// ENI of the instance set another one.
fn agree<'a, T: PartialEq + std::fmt::Debug>(
    r: &mut Report,
    res: &str,
    field: &str,
    (iid, value): (&'a str, T),
    first: &mut FirstSetting<'a, T>,
) {
    match first.get(iid) {
        Some((other, v)) if *v != value => r.err(
            res,
            field,
            format!("differs from {other}'s, another ENI of instance {iid}; an instance has one {field}: set it on one ENI, or the same on each"),
        ),
        Some(_) => {}
        None => {
            first.insert(iid, (res.to_string(), value));
        }
    }
}
