//! Attaching an ENI's TAP to its instance: the kernel end goes into the ENI's network
//! namespace and gets the ENI's MAC, MTU, addresses and a default route via the subnet
//! router — or, for an ENI attached with `dhcp`, only its MAC and MTU: a DHCP client in
//! the namespace takes the address and route from the VPC router's DHCP server. Done with `ip(8)`: this is control-plane work, run at
//! apply time, never on the forwarding path.

use std::net::Ipv4Addr;

use crate::sys::ip::{self, Ip, IpError, LinkAttr};
use crate::vpc::config::{Attachment, DataplaneConfig, Outside};
use crate::wire::MacAddr;

/// Why an attachment step failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The namespace named by the ENI does not exist.
    #[error("{eni}: network namespace `{netns}` does not exist (create it with `ip netns add {netns}`, or use `vpcctl up`)")]
    NoNamespace {
        /// The ENI id.
        eni: String,
        /// The namespace.
        netns: String,
    },
    /// The internet segment's bridge is missing from its namespace.
    #[error("{eni}: the internet segment's bridge `{bridge}` does not exist in namespace `{netns}` (`vpcctl up` builds the segment)")]
    NoBridge {
        /// The internet gateway id.
        eni: String,
        /// The namespace.
        netns: String,
        /// The bridge.
        bridge: String,
    },
    /// `ip` could not be run, or failed.
    #[error("{eni}: {source}")]
    Ip {
        /// The ENI id.
        eni: String,
        /// The invocation, and what `ip` said.
        #[source]
        source: IpError,
    },
}

/// Runs `steps` for the port `eni` as one `ip -batch` in `netns` ([`Ip::run_batch`]).
fn batch(eni: &str, netns: Option<&str>, steps: &[Ip]) -> Result<(), AttachError> {
    Ip::run_batch(netns, steps).map_err(|source| AttachError::Ip {
        eni: eni.to_string(),
        source,
    })
}

/// Whether network namespace `name` exists.
pub fn netns_exists(name: &str) -> bool {
    ip::netns_exists(name)
}

/// Everything about a port's kernel side. When it is unchanged across an apply (and
/// the port is healthy), the TAP is kept as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The resource behind the port (`eni-…`, or `igw-…` for an uplink).
    pub id: String,
    /// Where the kernel end goes; `None` = no port.
    pub attachment: Option<Attachment>,
    /// The MAC of the kernel end.
    pub mac: MacAddr,
    /// Its MTU.
    pub mtu: u32,
    /// Its IPv4 addresses.
    pub addrs: Vec<Ipv4Addr>,
    /// Their prefix length.
    pub prefix_len: u8,
    /// The default route's next hop (the subnet router, or the internet gateway);
    /// unspecified = no route.
    pub gateway: Ipv4Addr,
    /// The bridge the kernel end joins (an uplink on the shared internet segment): no
    /// addresses, no route.
    pub master: Option<String>,
    /// IPv6 addresses (part of the signature; not configured yet).
    pub ipv6: Vec<std::net::Ipv6Addr>,
}

/// The port specs of a configuration: every ENI in order, then every internet gateway's
/// uplink (the engine's port order).
pub fn port_specs(c: &DataplaneConfig) -> Vec<PortSpec> {
    let enis = c.enis.iter().map(|e| {
        let cidr = c.subnets.get(e.subnet.idx()).and_then(|s| s.ipv4_cidr);
        // An instance that configures itself by DHCP gets a bare interface: its DHCP
        // client adds the address and route the VPC router hands out.
        let dhcp = e.attachment.as_ref().is_some_and(|a| a.dhcp);
        PortSpec {
            id: e.id.clone(),
            attachment: e.attachment.clone(),
            mac: e.mac,
            mtu: e.mtu,
            addrs: if dhcp { Vec::new() } else { e.ipv4.clone() },
            prefix_len: cidr.map_or(32, |n| n.prefix_len()),
            gateway: match cidr {
                Some(n) if !dhcp => Ipv4Addr::from(u32::from(n.network()).wrapping_add(1)),
                _ => Ipv4Addr::UNSPECIFIED,
            },
            ipv6: e.ipv6.clone(),
            master: None,
        }
    });
    let uplinks = c.internet_gateways.iter().map(|g| match &g.uplink {
        Some(u) => {
            let base = PortSpec {
                id: g.id.clone(),
                attachment: Some(u.attachment.clone()),
                mac: u.host_mac,
                mtu: u.mtu,
                addrs: Vec::new(),
                prefix_len: 32,
                gateway: Ipv4Addr::UNSPECIFIED,
                ipv6: Vec::new(),
                master: None,
            };
            match &u.outside {
                Outside::Namespace {
                    cidr,
                    gateway_ip,
                    hosts,
                } => PortSpec {
                    addrs: hosts.clone(),
                    prefix_len: cidr.prefix_len(),
                    gateway: *gateway_ip,
                    ..base
                },
                Outside::Segment { bridge, .. } => PortSpec {
                    master: Some(bridge.clone()),
                    ..base
                },
            }
        }
        None => PortSpec {
            id: g.id.clone(),
            attachment: None,
            mac: g.mac,
            mtu: 1500,
            addrs: Vec::new(),
            prefix_len: 32,
            gateway: Ipv4Addr::UNSPECIFIED,
            ipv6: Vec::new(),
            master: None,
        },
    });
    enis.chain(uplinks).collect()
}

/// Step 1, before commit: set the TAP's MAC and MTU and move it into the namespace under
/// its unique TAP name (so it cannot clash with an interface the port still has there).
pub fn prepare(tap: &str, spec: &PortSpec, att: &Attachment) -> Result<(), AttachError> {
    if !netns_exists(&att.netns) {
        return Err(AttachError::NoNamespace {
            eni: spec.id.clone(),
            netns: att.netns.clone(),
        });
    }
    if let Some(bridge) = &spec.master {
        if !ip::link_exists(Some(&att.netns), bridge) {
            return Err(AttachError::NoBridge {
                eni: spec.id.clone(),
                netns: att.netns.clone(),
                bridge: bridge.clone(),
            });
        }
    }
    batch(
        &spec.id,
        None,
        &[
            Ip::link_set(
                None,
                tap,
                &[LinkAttr::Address(spec.mac.0), LinkAttr::Mtu(spec.mtu)],
            ),
            Ip::link_set(None, tap, &[LinkAttr::Netns(&att.netns)]),
        ],
    )
}

/// Step 2, after commit (the port's previous TAP, if any, is gone): rename to the final
/// interface name, add the addresses, bring it up, and route via the gateway.
pub fn finish(tap: &str, spec: &PortSpec, att: &Attachment) -> Result<(), AttachError> {
    configure(tap, spec, att, false)
}

/// The same for a TAP adopted from a vpcd that died ([`left_behind`]): it is in its
/// namespace under its final name already; its MAC and MTU are set again (the
/// configuration may have changed meanwhile), its static addresses replaced (kept when
/// unchanged), and addresses a DHCP client gave it are left alone.
pub fn refresh(spec: &PortSpec, att: &Attachment) -> Result<(), AttachError> {
    configure(&att.ifname, spec, att, true)
}

fn configure(
    tap: &str,
    spec: &PortSpec,
    att: &Attachment,
    adopted: bool,
) -> Result<(), AttachError> {
    let ns = Some(att.netns.as_str());
    let mark = marker(&spec.id);
    let mut steps = Vec::new();
    // A new TAP got its MAC and MTU before the move and is renamed now; an adopted one
    // has its name and gets the (maybe changed) MAC and MTU.
    let mut attrs = if adopted {
        vec![LinkAttr::Address(spec.mac.0), LinkAttr::Mtu(spec.mtu)]
    } else {
        vec![LinkAttr::Name(&att.ifname)]
    };
    attrs.push(LinkAttr::Alias(&mark));
    // An ENI without IPv6 addresses is IPv4-only: its kernel end gets no link-local
    // address, so it sends no IPv6 chatter for the VPC router to drop. (Set here, in the
    // namespace: a move between namespaces resets the mode.)
    if spec.ipv6.is_empty() && spec.master.is_none() {
        attrs.push(LinkAttr::NoIpv6LinkLocal);
    }
    steps.push(Ip::link_set(ns, tap, &attrs));
    for a in &spec.addrs {
        steps.push(Ip::addr_replace(
            ns,
            &att.ifname,
            (*a).into(),
            spec.prefix_len,
        ));
    }
    if let Some(bridge) = &spec.master {
        steps.push(Ip::link_set(ns, &att.ifname, &[LinkAttr::Master(bridge)]));
        // A bridge port has no address of its own: no IGMP reports from it either.
        steps.push(Ip::new([
            "link",
            "set",
            "dev",
            att.ifname.as_str(),
            "multicast",
            "off",
        ]));
    }
    steps.push(Ip::link_up(ns, "lo"));
    steps.push(Ip::link_up(ns, &att.ifname));
    if !spec.gateway.is_unspecified() {
        steps.push(Ip::route_replace_default(
            ns,
            spec.gateway.into(),
            &att.ifname,
        ));
    }
    // One `ip` process for the whole sequence, in the namespace.
    batch(&spec.id, ns, &steps)
}

/// The alias vpcd gives the kernel end of an ENI's TAP: it marks the interface as
/// vpcd's, for that ENI, so a later vpcd may adopt it and nothing else.
pub fn marker(eni: &str) -> String {
    format!("vpcd:{eni}")
}

/// Whether `netns` holds, under `ifname`, the kernel end of ENI `eni`'s TAP that an
/// earlier vpcd left behind (persistent, marked with [`marker`]): a new vpcd adopts it
/// instead of creating a TAP, so the instance keeps its interface and addresses.
pub fn left_behind(netns: &str, ifname: &str, eni: &str) -> bool {
    ip::link_alias(Some(netns), ifname).is_some_and(|a| a == marker(eni))
}

/// Deletes interface `ifname` in `netns` (a left-behind TAP that cannot be adopted).
pub fn delete(eni: &str, netns: &str, ifname: &str) -> Result<(), AttachError> {
    batch(eni, Some(netns), &[Ip::link_delete(None, ifname)])
}

/// Whether interface `ifname` exists in namespace `netns`.
pub fn ifname_in_use(netns: &str, ifname: &str) -> bool {
    ip::link_exists(Some(netns), ifname)
}

/// The unique name of the `n`-th TAP this daemon creates.
pub fn tap_name(prefix: &str, n: u64) -> String {
    format!("{prefix}-{n}")
}

/// Whether `mac` could be set on a Linux interface (unicast).
pub fn usable_mac(mac: MacAddr) -> bool {
    !mac.is_multicast() && mac.0 != [0; 6]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DHCP attachment leaves the kernel end without addresses and default route;
    /// a static one gets both.
    #[test]
    fn dhcp_attachment_has_no_addresses_or_route() {
        let mut c = crate::fixtures::two_subnets_and_middlebox();
        let specs = port_specs(&c);
        assert_eq!(specs[0].addrs, vec![Ipv4Addr::new(10, 0, 1, 10)]);
        assert_eq!(specs[0].gateway, Ipv4Addr::new(10, 0, 1, 1));
        if let Some(a) = c.enis[0].attachment.as_mut() {
            a.dhcp = true;
        }
        let specs = port_specs(&c);
        assert!(specs[0].addrs.is_empty());
        assert!(specs[0].gateway.is_unspecified());
        assert_eq!(specs[0].mtu, 9001);
    }
}
