//! `[[route_table]]`: route tables, their routes and the forms of a route target.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A route table of one VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    /// The id, `rtb-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The VPC it belongs to (a `vpc-…` id).
    #[serde(default)]
    pub vpc: String,
    /// Whether this is the VPC's main table (used by subnets without an explicit table).
    #[serde(default)]
    pub main: bool,
    /// The user's routes; the local routes are implicit.
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// One route of a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The destination prefix (IPv4 or IPv6).
    pub destination: IpNet,
    /// `"local"`, `"blackhole"`, an ENI id (`"eni-…"`), an internet gateway id (`"igw-…"`),
    /// a NAT gateway id (`"nat-…"`) or a VPC peering connection id (`"pcx-…"`).
    pub target: String,
    /// `"active"` (the default) or `"blackhole"`: AWS's `RouteState`. Write `"blackhole"`
    /// on a route whose target was deleted from the file: the route stays, as in AWS, and
    /// drops what it catches. See [`RouteState`].
    #[serde(default, skip_serializing_if = "RouteState::is_active")]
    pub state: RouteState,
}

impl Route {
    /// The target, classified.
    pub fn target_ref(&self) -> RouteTargetRef<'_> {
        RouteTargetRef::parse(&self.target)
    }
}

/// The state of a route as AWS shows it (`RouteState`).
///
/// AWS derives it from the target: a route whose target was deleted (a NAT gateway, an
/// ENI, an internet gateway, a peering connection) stays in the table in state
/// `blackhole` and drops what it catches. A topology file cannot delete a route's target
/// without saying so, so the rule is one for every kind of target:
///
/// - the target id exists in the file: the route is active (a route to a peering that is
///   still `pending-acceptance` is a blackhole, as in AWS);
/// - the target id does not exist and the route says `state = "blackhole"`: accepted, a
///   blackhole (`vpcctl show` and `vpcctl trace` name the deleted target);
/// - the target id does not exist and the route does not say so: an error (a typo, or a
///   deletion the file should state);
/// - `state = "blackhole"` on a route whose target exists and is available: an error,
///   because AWS would show that route active; the file says what the data plane does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteState {
    /// `"active"` (the default): the target exists.
    #[default]
    Active,
    /// `"blackhole"`: the target was deleted; the route drops what it catches.
    Blackhole,
}

impl RouteState {
    /// `"active"` or `"blackhole"`, as AWS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteState::Active => "active",
            RouteState::Blackhole => "blackhole",
        }
    }

    /// Whether this is the default state (`active`), which is not written back.
    pub fn is_active(&self) -> bool {
        *self == RouteState::Active
    }
}

/// A route target as written in the file, classified by its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTargetRef<'a> {
    /// `"local"`: the VPC's own address space.
    Local,
    /// `"blackhole"`: drop silently (our extension, like Transit Gateway blackhole routes).
    Blackhole,
    /// `"eni-…"`: an ENI (middlebox / NAT instance pattern).
    Eni(&'a str),
    /// `"igw-…"`: an internet gateway of the route table's VPC.
    InternetGateway(&'a str),
    /// `"nat-…"`: a NAT gateway of the route table's VPC.
    NatGateway(&'a str),
    /// `"pcx-…"`: a VPC peering connection of the route table's VPC.
    Peering(&'a str),
    /// A gateway kind that later issues add (`eigw-`, `tgw-`, …); rejected for now.
    Unsupported(&'a str),
    /// Anything else.
    Invalid(&'a str),
}

/// Target id prefixes that AWS knows but this data plane does not implement yet.
pub const UNSUPPORTED_TARGET_PREFIXES: &[&str] =
    &["eigw-", "vgw-", "tgw-", "vpce-", "i-", "lgw-", "cagw-"];

impl<'a> RouteTargetRef<'a> {
    /// Classifies a target string.
    pub fn parse(s: &'a str) -> RouteTargetRef<'a> {
        match s {
            "local" => RouteTargetRef::Local,
            "blackhole" => RouteTargetRef::Blackhole,
            _ if s.starts_with("eni-") => RouteTargetRef::Eni(s),
            _ if s.starts_with("igw-") => RouteTargetRef::InternetGateway(s),
            _ if s.starts_with("nat-") => RouteTargetRef::NatGateway(s),
            _ if s.starts_with("pcx-") => RouteTargetRef::Peering(s),
            _ if UNSUPPORTED_TARGET_PREFIXES.iter().any(|p| s.starts_with(p)) => {
                RouteTargetRef::Unsupported(s)
            }
            _ => RouteTargetRef::Invalid(s),
        }
    }
}
