//! `[[prefix_list]]`: customer-managed prefix lists (named sets of CIDRs).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A customer-managed prefix list: a named set of CIDRs of one address family, usable as
/// the peer of a security-group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixList {
    /// The id, `pl-…`.
    #[serde(default)]
    pub id: String,
    /// An optional display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The CIDRs (at least one; all IPv4 or all IPv6).
    #[serde(default)]
    pub entries: Vec<IpNet>,
    /// The list's capacity; `entries` must fit. A security-group rule that references the
    /// list counts as this many rules (as in AWS); absent means the number of entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<i64>,
}

impl PrefixList {
    /// How many rules a security-group rule referencing this list counts as.
    pub fn weight(&self) -> usize {
        self.max_entries
            .and_then(|m| usize::try_from(m).ok())
            .unwrap_or(self.entries.len())
            .max(1)
    }
}
