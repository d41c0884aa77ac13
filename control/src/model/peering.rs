//! `[[peering_connection]]`: VPC peering connections and their status.

use serde::{Deserialize, Serialize};

/// The state of a VPC peering connection (the two AWS states that matter to traffic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeeringStatus {
    /// `"active"` (the default): accepted; routes to it carry traffic between the two VPCs.
    #[default]
    #[serde(rename = "active")]
    Active,
    /// `"pending-acceptance"`: requested but not accepted yet; routes to it are blackholes
    /// and security-group rules cannot reference the peer's groups.
    #[serde(rename = "pending-acceptance")]
    PendingAcceptance,
}

impl PeeringStatus {
    /// `"active"` or `"pending-acceptance"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeeringStatus::Active => "active",
            PeeringStatus::PendingAcceptance => "pending-acceptance",
        }
    }
}

/// Whether `status` is the default (`active`), which is not written back.
fn is_active(s: &PeeringStatus) -> bool {
    *s == PeeringStatus::Active
}

/// A VPC peering connection: a private link between two VPCs whose CIDRs do not overlap
/// (route target `pcx-…`). Traffic crosses it only between the two VPCs' own addresses:
/// no transitive peering, no edge-to-edge routing through the peer's gateways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeeringConnection {
    /// The id, `pcx-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The VPC that requested the peering (a `vpc-…` id).
    #[serde(default)]
    pub requester_vpc: String,
    /// The VPC that accepts it (a `vpc-…` id, not the requester).
    #[serde(default)]
    pub accepter_vpc: String,
    /// `"active"` (default) or `"pending-acceptance"`.
    #[serde(default, skip_serializing_if = "is_active")]
    pub status: PeeringStatus,
}

impl PeeringConnection {
    /// Whether the peering is active (accepted).
    pub fn is_active(&self) -> bool {
        self.status == PeeringStatus::Active
    }
}
