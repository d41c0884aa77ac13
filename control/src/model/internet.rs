//! `[internet]` and `[[internet_host]]`: the internet as a test fixture. Every internet
//! gateway without an `internet = {…}` namespace of its own sits on one shared internet
//! segment (a bridge in the namespace `[internet] netns`, which `vpcctl up` builds);
//! each internet host is a namespace of its own on that segment, with its addresses on
//! one interface and every destination on-link: it asks by ARP, and a gateway answers
//! for its public addresses, another host for its own.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::gateways::DEFAULT_INTERNET_MTU;

/// The name of the bridge that is the internet segment, in `[internet] netns`.
pub const SEGMENT_BRIDGE: &str = "inet0";
/// The default namespace of the internet segment.
pub const DEFAULT_SEGMENT_NETNS: &str = "internet";
/// The default address of the VPC resolver on the segment (TEST-NET-1), the source of
/// the queries it forwards to `[lab] dns_upstream`.
pub const DEFAULT_RESOLVER_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);

/// The `[internet]` table: where the shared internet segment lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetSegment {
    /// The namespace holding the segment's bridge and the gateways' uplinks (default
    /// `internet`).
    #[serde(default = "default_segment_netns")]
    pub netns: String,
    /// The MTU of the segment: the gateways' hop and the hosts' interfaces (default
    /// 1500, allowed 576..=1500).
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// The VPC resolver's address on the segment (default 192.0.2.53): held by the
    /// segment's bridge when `[lab] dns_upstream` is set, the source of the queries the
    /// resolver forwards there.
    #[serde(default = "default_resolver_address")]
    pub resolver_address: Ipv4Addr,
}

impl Default for InternetSegment {
    fn default() -> Self {
        InternetSegment {
            netns: default_segment_netns(),
            mtu: DEFAULT_INTERNET_MTU,
            resolver_address: DEFAULT_RESOLVER_ADDRESS,
        }
    }
}

/// An internet host: a namespace on the internet segment holding one or more addresses
/// (any unicast IPv4 address, including ones the gateways must refuse, such as RFC 1918
/// space), optionally running test services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetHost {
    /// The id: what `vpcctl exec` and `vpcctl trace --from` take (letters, digits, `-`,
    /// `_`, `.`; unique among all ids of the file).
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its addresses (at least one; the first is the source of what it sends).
    pub addresses: Vec<Ipv4Addr>,
    /// The internet gateways it sits behind (`igw-…` ids of gateways on the segment);
    /// empty (the default) means all of them. Only these answer it and send to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internet_gateways: Vec<String>,
    /// Its namespace; default: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// Services that `vpcctl up` (and the test harness) start in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<HostService>,
}

impl InternetHost {
    /// Its namespace: `netns`, else the id.
    pub fn netns(&self) -> &str {
        self.netns.as_deref().unwrap_or(&self.id)
    }
}

/// A test service on an internet host (`{ kind = "http", port = 80 }`,
/// `{ kind = "dns" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostService {
    /// What it does.
    pub kind: ServiceKind,
    /// `tcp` or `udp` (echo and dns only); default: tcp, udp for dns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ServiceProtocol>,
    /// The port it listens on (1..=65535); required, except for dns (default 53).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl HostService {
    /// Its transport: as written, else the kind's (udp for dns, tcp otherwise).
    pub fn protocol(&self) -> ServiceProtocol {
        self.protocol.unwrap_or(match self.kind {
            ServiceKind::Dns => ServiceProtocol::Udp,
            ServiceKind::Http | ServiceKind::Echo => ServiceProtocol::Tcp,
        })
    }

    /// Its port: as written, else the kind's (53 for dns; 0, an error, otherwise).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.kind {
            ServiceKind::Dns => 53,
            ServiceKind::Http | ServiceKind::Echo => 0,
        })
    }
}

/// What a host service does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// An HTTP server: `GET` any path returns `200` and a one-line body naming the host
    /// and the client address and port it saw (`host-a saw 198.51.100.40:43512`).
    Http,
    /// Echo: TCP sends back what it reads; UDP sends each datagram back.
    Echo,
    /// A DNS server (UDP): every A question is answered with the host's first address,
    /// a name starting with `nx.` gets NXDOMAIN.
    Dns,
}

/// The transport of a host service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceProtocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl ServiceProtocol {
    /// `"tcp"` or `"udp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceProtocol::Tcp => "tcp",
            ServiceProtocol::Udp => "udp",
        }
    }
}

/// [`DEFAULT_SEGMENT_NETNS`].
fn default_segment_netns() -> String {
    DEFAULT_SEGMENT_NETNS.to_string()
}

/// [`DEFAULT_RESOLVER_ADDRESS`].
fn default_resolver_address() -> Ipv4Addr {
    DEFAULT_RESOLVER_ADDRESS
}

/// [`DEFAULT_INTERNET_MTU`].
fn default_mtu() -> u32 {
    DEFAULT_INTERNET_MTU
}
