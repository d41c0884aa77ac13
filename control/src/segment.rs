//! The shared internet segment on this host: what `vpcctl up` (and the test harness)
//! build for `[internet]` and the `[[internet_host]]`s of a topology.
//!
//! ```text
//!  namespace [internet] netns                         namespace of host "client"
//!  ┌──────────────────────────────────────────┐      ┌─────────────────────────────┐
//!  │ bridge inet0 ── up-xxxxxxxx (vpcd: igw-a) │      │ eth0 198.51.100.10/32        │
//!  │       │     ── up-yyyyyyyy (vpcd: igw-b)  │      │ default dev eth0 (on-link)   │
//!  │       └───── h-zzzzzzzz ═══ veth ═════════╪══════╡                              │
//!  └──────────────────────────────────────────┘      └─────────────────────────────┘
//! ```
//!
//! The gateways' uplinks join the bridge when vpcd attaches them. Each host holds its
//! addresses as `/32`s with every destination on-link: it asks by ARP, a gateway answers
//! for its public addresses (if the host is behind it), another host for its own. The
//! hosts' MACs are derived from their ids ([`internet_host_mac`]), which is how vpcd
//! knows where to send without asking. Building is idempotent: what exists is kept.

use std::net::IpAddr;

use dataplane::sys::ip::{self, Ip, IpError, LinkAttr};
use dataplane::wire::MacAddr;

use crate::model::{HostService, ServiceKind, Topology, SEGMENT_BRIDGE};
use crate::names::{internet_host_mac, segment_host_ifname};

/// The interface name of an internet host's link, inside its namespace.
pub const HOST_IFNAME: &str = "eth0";

/// Why building the segment failed.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// A namespace the segment needs does not exist (the caller creates them first).
    #[error("{what}: network namespace `{netns}` does not exist")]
    NoNamespace {
        /// The segment or the host.
        what: String,
        /// The namespace.
        netns: String,
    },
    /// An `ip` invocation failed.
    #[error("{what}: {source}")]
    Ip {
        /// The segment or the host.
        what: String,
        /// What `ip` said.
        #[source]
        source: IpError,
    },
}

/// The segment of a topology, ready to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentPlan {
    /// The segment's namespace.
    pub netns: String,
    /// Its MTU (the hosts' interfaces and the bridge).
    pub mtu: u32,
    /// When the VPC resolver has an upstream (`[lab] dns_upstream`): its own address on
    /// the segment, held by the bridge (`/32`), and the upstream's, routed on-link.
    pub resolver: Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)>,
    /// The hosts on it.
    pub hosts: Vec<HostPlan>,
}

/// One internet host of a [`SegmentPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    /// The host's id.
    pub id: String,
    /// Its namespace.
    pub netns: String,
    /// Its link's name in the segment's namespace.
    pub port: String,
    /// Its MAC.
    pub mac: MacAddr,
    /// Its addresses (the first is the source of what it sends).
    pub addresses: Vec<std::net::Ipv4Addr>,
    /// The services to start in it.
    pub services: Vec<HostService>,
}

impl SegmentPlan {
    /// The segment of a validated topology: `None` when no gateway sits on it and it has
    /// no hosts.
    pub fn of(t: &Topology) -> Option<SegmentPlan> {
        let used = t.internet_gateways.iter().any(|g| g.internet.is_none())
            || !t.internet_hosts.is_empty();
        if !used {
            return None;
        }
        let seg = t.internet.clone().unwrap_or_default();
        let upstream = t.lab.as_ref().and_then(|l| l.dns_upstream);
        Some(SegmentPlan {
            netns: seg.netns,
            mtu: seg.mtu,
            resolver: upstream.map(|u| (seg.resolver_address, u)),
            hosts: t
                .internet_hosts
                .iter()
                .map(|h| HostPlan {
                    id: h.id.clone(),
                    netns: h.netns().to_string(),
                    port: segment_host_ifname(&h.id),
                    mac: internet_host_mac(&h.id),
                    addresses: h.addresses.clone(),
                    services: h.services.clone(),
                })
                .collect(),
        })
    }

    /// Every namespace the segment needs: its own, then the hosts' (the caller creates
    /// the missing ones before [`SegmentPlan::build`]).
    pub fn namespaces(&self) -> Vec<&str> {
        std::iter::once(self.netns.as_str())
            .chain(self.hosts.iter().map(|h| h.netns.as_str()))
            .collect()
    }

    /// Builds the bridge and each host's link, addresses and route (keeping what exists).
    pub fn build(&self) -> Result<(), SegmentError> {
        let seg = Some(self.netns.as_str());
        let what = || format!("internet segment ({})", self.netns);
        let run = |what: String, ip: Ip| {
            ip.run()
                .map(drop)
                .map_err(|source| SegmentError::Ip { what, source })
        };
        if !ip::netns_exists(&self.netns) {
            return Err(SegmentError::NoNamespace {
                what: what(),
                netns: self.netns.clone(),
            });
        }
        // No IPv6 on the segment: the bridge and the uplinks' kernel ends (which take the
        // namespace's defaults when vpcd moves them in) send no router or listener
        // reports that the gateways would count as dropped multicast.
        for key in ["default", "all"] {
            let setting = format!("net.ipv6.conf.{key}.disable_ipv6=1");
            run(
                what(),
                Ip::netns_exec(&self.netns, &["sysctl", "-q", "-w", setting.as_str()]),
            )?;
        }
        if !ip::link_exists(seg, SEGMENT_BRIDGE) {
            run(what(), Ip::bridge_add(seg, SEGMENT_BRIDGE))?;
        }
        // The bridge itself holds no address and joins no group: no IGMP reports.
        run(
            what(),
            Ip::new(["link", "set", "dev", SEGMENT_BRIDGE, "multicast", "off"]).within(seg),
        )?;
        run(
            what(),
            Ip::link_set(
                seg,
                SEGMENT_BRIDGE,
                &[LinkAttr::Mtu(self.mtu), LinkAttr::Up],
            ),
        )?;
        run(what(), Ip::link_up(seg, "lo"))?;
        // The resolver's own address: the hosts (every destination on-link) reach it by
        // ARP on the bridge, vpcd's upstream socket is bound to it.
        if let Some((own, upstream)) = self.resolver {
            let (own, upstream) = (own.to_string(), format!("{upstream}/32"));
            let addr = format!("{own}/32");
            run(
                what(),
                Ip::new(["addr", "replace", addr.as_str(), "dev", SEGMENT_BRIDGE]).within(seg),
            )?;
            run(
                what(),
                Ip::new([
                    "route",
                    "replace",
                    upstream.as_str(),
                    "dev",
                    SEGMENT_BRIDGE,
                    "src",
                    own.as_str(),
                ])
                .within(seg),
            )?;
        }
        for h in &self.hosts {
            let hw = || format!("internet host {}", h.id);
            let ns = Some(h.netns.as_str());
            if !ip::netns_exists(&h.netns) {
                return Err(SegmentError::NoNamespace {
                    what: hw(),
                    netns: h.netns.clone(),
                });
            }
            if !ip::link_exists(ns, HOST_IFNAME) {
                run(hw(), Ip::veth_add(seg, &h.port, HOST_IFNAME, &h.netns))?;
            }
            run(
                hw(),
                Ip::link_set(
                    seg,
                    &h.port,
                    &[
                        LinkAttr::Master(SEGMENT_BRIDGE),
                        LinkAttr::Mtu(self.mtu),
                        LinkAttr::Up,
                    ],
                ),
            )?;
            // No IPv6 link-local address: the host sends no router or neighbour
            // solicitations that the gateways would count as dropped.
            run(
                hw(),
                Ip::new(["link", "set", "dev", HOST_IFNAME, "addrgenmode", "none"]).within(ns),
            )?;
            run(
                hw(),
                Ip::link_set(
                    ns,
                    HOST_IFNAME,
                    &[LinkAttr::Address(h.mac.0), LinkAttr::Mtu(self.mtu)],
                ),
            )?;
            for a in &h.addresses {
                let addr = format!("{a}/32");
                run(
                    hw(),
                    Ip::new(["addr", "replace", addr.as_str(), "dev", HOST_IFNAME]).within(ns),
                )?;
            }
            run(hw(), Ip::link_up(ns, "lo"))?;
            run(hw(), Ip::link_up(ns, HOST_IFNAME))?;
            if let Some(first) = h.addresses.first() {
                run(
                    hw(),
                    Ip::route_replace_default_onlink(ns, HOST_IFNAME, IpAddr::V4(*first)),
                )?;
            }
        }
        Ok(())
    }
}

/// The arguments of `vpcctl serve` that run `host`'s services (empty: none).
pub fn serve_args(host: &HostPlan) -> Vec<String> {
    if host.services.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["serve".to_string(), "--name".to_string(), host.id.clone()];
    if host.services.iter().any(|s| s.kind == ServiceKind::Dns) {
        if let Some(first) = host.addresses.first() {
            args.push("--address".to_string());
            args.push(first.to_string());
        }
    }
    for s in &host.services {
        args.push("--service".to_string());
        args.push(crate::serve::ServiceSpec::from(*s).to_string());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_names_every_namespace_and_derives_macs_and_ports() {
        let t = crate::validate::parse(
            r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            [[internet_gateway]]
            id = "igw-a"
            vpc = "vpc-a"
            [internet]
            netns = "inet"
            [[internet_host]]
            id = "client"
            addresses = ["198.51.100.10", "10.9.9.9"]
            services = [{ kind = "http", port = 80 }]
            [[internet_host]]
            id = "server"
            netns = "srv"
            addresses = ["203.0.113.7"]
            "#,
        )
        .unwrap();
        let p = SegmentPlan::of(&t).unwrap();
        assert_eq!(p.namespaces(), ["inet", "client", "srv"]);
        assert_eq!(p.mtu, 1500);
        assert_eq!(p.hosts[0].mac, internet_host_mac("client"));
        assert_ne!(p.hosts[0].port, p.hosts[1].port);
        assert!(p.hosts[0].port.len() <= 15);
        assert_eq!(
            serve_args(&p.hosts[0]),
            ["serve", "--name", "client", "--service", "http:tcp:80"]
        );
        assert!(serve_args(&p.hosts[1]).is_empty());
    }

    #[test]
    fn no_segment_without_gateways_on_it_or_hosts() {
        let t = crate::validate::parse(
            r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            [[internet_gateway]]
            id = "igw-a"
            vpc = "vpc-a"
            internet = { netns = "internet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }
            "#,
        )
        .unwrap();
        assert_eq!(SegmentPlan::of(&t), None);
    }
}
