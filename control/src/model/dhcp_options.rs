//! `[[dhcp_options]]`: DHCP option sets, each associated with VPCs through their
//! `dhcp_options` field (AWS's `AssociateDhcpOptions`), and the ENIs' addressing mode.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The name that stands for the VPC's Amazon-provided DNS server (the VPC's primary CIDR
/// base plus two) in `domain_name_servers`, as in AWS.
pub const AMAZON_PROVIDED_DNS: &str = "AmazonProvidedDNS";
/// The Amazon Time Sync Service's address, the NTP server of the default option set.
pub const TIME_SYNC_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 123);

/// A DHCP option set (AWS `DhcpOptions`): what the VPC router's DHCP server tells the
/// instances of the VPCs it is associated with. A VPC without one gets AWS's default set
/// (AmazonProvidedDNS, the region's internal domain name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhcpOptions {
    /// The id, `dopt-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The domain name (option 15); absent: none is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Up to four IPv4 DNS servers (option 6), each an address or `AmazonProvidedDNS`
    /// (the VPC's `+2` address); absent or empty: none is sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_name_servers: Vec<String>,
    /// Up to four IPv4 NTP servers (option 42); absent or empty: none is sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ntp_servers: Vec<Ipv4Addr>,
}

/// How an ENI's instance configures its IPv4 address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Addressing {
    /// `vpcd` writes the addresses, mask and default route into the namespace when it
    /// attaches the ENI.
    Static,
    /// The namespace gets a bare interface and runs a DHCP client, which takes its
    /// address, route, DNS servers and MTU from the VPC router's DHCP server (the
    /// secondary addresses are added after the lease, as ec2-net-utils does). The default.
    #[default]
    Dhcp,
}

impl Addressing {
    /// Whether it is the default (`dhcp`), for serialisation.
    pub fn is_default(&self) -> bool {
        *self == Addressing::default()
    }
}

/// The domain name AWS's default option set gives in `region`: `ec2.internal` in
/// us-east-1, `<region>.compute.internal` elsewhere.
pub fn default_domain_name(region: &str) -> String {
    super::lab::instance_domain(region)
}
