//! `[[flow_log]]`: flow logs, their scope, traffic type and record format.

use serde::{Deserialize, Serialize};

use super::lab::Seconds;

/// Which traffic a flow log records (AWS `TrafficType`), written `"ALL"`, `"ACCEPT"` or
/// `"REJECT"` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowLogTrafficType {
    /// `"ALL"`: accepted and rejected traffic.
    All,
    /// `"ACCEPT"`: accepted traffic only.
    Accept,
    /// `"REJECT"`: traffic refused by a security group or a network ACL only.
    Reject,
}

impl FlowLogTrafficType {
    /// `"ALL"`, `"ACCEPT"` or `"REJECT"` (AWS's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            FlowLogTrafficType::All => "ALL",
            FlowLogTrafficType::Accept => "ACCEPT",
            FlowLogTrafficType::Reject => "REJECT",
        }
    }

    /// Parses `ALL`, `ACCEPT` or `REJECT`, in any case.
    pub fn parse(s: &str) -> Option<FlowLogTrafficType> {
        match s.to_ascii_uppercase().as_str() {
            "ALL" => Some(FlowLogTrafficType::All),
            "ACCEPT" => Some(FlowLogTrafficType::Accept),
            "REJECT" => Some(FlowLogTrafficType::Reject),
            _ => None,
        }
    }

    /// The data plane's form.
    pub fn to_config(self) -> dataplane::vpc::config::FlowLogTraffic {
        match self {
            FlowLogTrafficType::All => dataplane::vpc::config::FlowLogTraffic::All,
            FlowLogTrafficType::Accept => dataplane::vpc::config::FlowLogTraffic::Accept,
            FlowLogTrafficType::Reject => dataplane::vpc::config::FlowLogTraffic::Reject,
        }
    }
}

impl Serialize for FlowLogTrafficType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FlowLogTrafficType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FlowLogTrafficType::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "traffic_type `{s}`: expected ALL, ACCEPT or REJECT (any case)"
            ))
        })
    }
}

/// AWS's default maximum aggregation interval of a flow log, seconds.
pub const DEFAULT_FLOW_LOG_INTERVAL: i64 = 600;

/// [`DEFAULT_FLOW_LOG_INTERVAL`]: the default `max_aggregation_interval`.
fn default_flow_log_interval() -> i64 {
    DEFAULT_FLOW_LOG_INTERVAL
}

/// What a flow log's `resource` names, classified by its id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowLogScope<'a> {
    /// `"eni-…"`: one ENI (or a NAT gateway's network interface).
    Eni(&'a str),
    /// `"subnet-…"`: every ENI of the subnet.
    Subnet(&'a str),
    /// `"vpc-…"`: every ENI of the VPC's subnets.
    Vpc(&'a str),
    /// Anything else (flow logs attach to ENIs, subnets and VPCs only).
    Other(&'a str),
}

impl<'a> FlowLogScope<'a> {
    /// Classifies a `resource` string.
    pub fn parse(s: &'a str) -> FlowLogScope<'a> {
        if s.starts_with("eni-") {
            FlowLogScope::Eni(s)
        } else if s.starts_with("subnet-") {
            FlowLogScope::Subnet(s)
        } else if s.starts_with("vpc-") {
            FlowLogScope::Vpc(s)
        } else {
            FlowLogScope::Other(s)
        }
    }
}

/// A flow log (AWS VPC Flow Logs): per ENI of its scope, one record per flow and
/// aggregation interval, appended one per line to a file on vpcd's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLog {
    /// The id, `fl-…`.
    #[serde(default)]
    pub id: String,
    /// What it covers: an ENI (`eni-…`, a NAT gateway's network interface included), every
    /// ENI of a subnet (`subnet-…`) or every ENI of a VPC (`vpc-…`), NAT gateways'
    /// interfaces included.
    #[serde(default)]
    pub resource: String,
    /// `"ALL"`, `"ACCEPT"` or `"REJECT"` (any case); required, as in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_type: Option<FlowLogTrafficType>,
    /// The maximum aggregation interval, seconds: 60 or 600 (the default), as in AWS.
    /// `lab_interval` or `[lab] flow_log_interval` overrides it.
    #[serde(default = "default_flow_log_interval")]
    pub max_aggregation_interval: i64,
    /// A lab knob (not an AWS setting): this flow log's aggregation interval, seconds (a
    /// number > 0, fractions allowed), over `[lab] flow_log_interval` and
    /// `max_aggregation_interval`, so that a test sees its records within a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_interval: Option<Seconds>,
    /// The file the records are appended to: an absolute path on vpcd's host whose
    /// directory exists.
    #[serde(default)]
    pub log_destination: String,
    /// The record format in AWS syntax, `${field}` tokens separated by spaces (e.g.
    /// `"${version} ${interface-id} ${srcaddr} ${dstaddr} ${action}"`); absent means the
    /// default format (the version 2 fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
}

impl FlowLog {
    /// The scope, classified.
    pub fn scope(&self) -> FlowLogScope<'_> {
        FlowLogScope::parse(&self.resource)
    }

    /// The tokens of `log_format` (split on spaces), each with its field name when it has
    /// the form `${field}`; `None` without a `log_format`.
    pub fn format_tokens(&self) -> Option<Vec<(&str, Option<&str>)>> {
        self.log_format.as_deref().map(log_format_tokens)
    }
}

/// The tokens of a flow-log format (split on spaces), each with its field name when it
/// has the form `${field}` (the name itself is not checked).
pub fn log_format_tokens(format: &str) -> Vec<(&str, Option<&str>)> {
    format
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let name = t
                .strip_prefix("${")
                .and_then(|r| r.strip_suffix('}'))
                .filter(|n| !n.is_empty() && !n.contains(['$', '{', '}']));
            (t, name)
        })
        .collect()
}
