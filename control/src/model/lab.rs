//! The `[lab]` table: knobs of the lab that are not AWS settings.

use serde::{Deserialize, Serialize};

/// The default source ports of a NAT gateway, inclusive (AWS: 1024–65535).
pub const DEFAULT_NAT_GATEWAY_PORTS: [i64; 2] = [1024, 65_535];
/// The default idle timeout of a NAT gateway's translations, seconds (AWS: 350).
pub const DEFAULT_NAT_GATEWAY_IDLE_TIMEOUT: f64 = 350.0;

/// The `[lab]` table: knobs of the lab that are not AWS settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabSettings {
    /// Multiplies every connection-tracking timeout of the ENIs when compiling (so that a
    /// test can see a 30 s UDP timeout expire after 300 ms with `0.01`); in (0, 1],
    /// default 1. It does **not** apply to NAT gateways: see `nat_gateway_idle_timeout`.
    #[serde(default = "default_scale")]
    pub conntrack_time_scale: f64,
    /// The source ports every NAT gateway allocates from, `[from, to]` inclusive, within
    /// 1024..=65535 and `from <= to`; absent means AWS's 1024–65535. A small range lets a
    /// test exhaust the ports (`ErrorPortAllocation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_ports: Option<[i64; 2]>,
    /// The idle timeout of every NAT gateway's translations, seconds (a number > 0,
    /// fractions allowed); absent means AWS's 350. Not scaled by `conntrack_time_scale`.
    /// A NAT gateway's own `idle_timeout` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_idle_timeout: Option<f64>,
    /// The aggregation interval of every flow log, seconds (a number > 0, fractions
    /// allowed), instead of its `max_aggregation_interval` (60 or 600 s), so that a test
    /// sees records within a second. A flow log's own `lab_interval` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log_interval: Option<f64>,
    /// The lease time of the VPC router's DHCP server, seconds (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_lease_time: Option<u32>,
    /// The AWS region the lab stands for (`us-east-1` when absent): it names the
    /// instances' private DNS names (`ip-10-0-1-10.ec2.internal` in us-east-1,
    /// `ip-10-0-1-10.<region>.compute.internal` elsewhere) and the default DHCP domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The VPC resolver's upstream: the address of an `[[internet_host]]` on the internet
    /// segment (running a `dns` service) that the resolver asks for names outside every
    /// zone it knows; absent (the default), those get NXDOMAIN. The resolver asks from
    /// `[internet] resolver_address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_upstream: Option<std::net::Ipv4Addr>,
}

/// The region of a lab without `[lab] region`.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The domain of the instances' private DNS names in `region`.
pub fn instance_domain(region: &str) -> String {
    if region == "us-east-1" {
        "ec2.internal".into()
    } else {
        format!("{region}.compute.internal")
    }
}

impl Default for LabSettings {
    fn default() -> Self {
        LabSettings {
            conntrack_time_scale: 1.0,
            nat_gateway_ports: None,
            nat_gateway_idle_timeout: None,
            flow_log_interval: None,
            region: None,
            dhcp_lease_time: None,
            dns_upstream: None,
        }
    }
}

// Compared bit for bit, so that equality is reflexive even for NaN (which validation
// rejects anyway) and the model can stay `Eq`.
impl PartialEq for LabSettings {
    fn eq(&self, other: &Self) -> bool {
        self.conntrack_time_scale.to_bits() == other.conntrack_time_scale.to_bits()
            && self.nat_gateway_ports == other.nat_gateway_ports
            && self.nat_gateway_idle_timeout.map(f64::to_bits)
                == other.nat_gateway_idle_timeout.map(f64::to_bits)
            && self.flow_log_interval.map(f64::to_bits) == other.flow_log_interval.map(f64::to_bits)
            && self.region == other.region
            && self.dhcp_lease_time == other.dhcp_lease_time
            && self.dns_upstream == other.dns_upstream
    }
}

impl Eq for LabSettings {}

/// A number of seconds as written in the file (a TOML integer or float; a lab knob of a
/// resource, such as a NAT gateway's `idle_timeout`), compared bit for bit so that the
/// model can stay `Eq` (validation rejects NaN anyway).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seconds(pub f64);

impl PartialEq for Seconds {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Seconds {}

impl Seconds {
    /// Whether it is a usable duration: finite and greater than 0.
    pub fn is_positive(self) -> bool {
        self.0 > 0.0 && self.0.is_finite()
    }
}

/// `1.0`: the default `conntrack_time_scale` (real time).
fn default_scale() -> f64 {
    1.0
}
