//! `[[private_hosted_zone]]`: Route 53 private hosted zones, answered by the VPC resolver
//! of the VPCs they are associated with.

use serde::{Deserialize, Serialize};

/// A private hosted zone: a domain (`corp.internal`) whose records the VPC resolver of
/// each associated VPC answers; other VPCs get NXDOMAIN for its names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateHostedZone {
    /// The zone id, `Z` and letters or digits (`Z0123456789ABC`), as Route 53 prints it.
    #[serde(default)]
    pub id: String,
    /// The domain, without the final dot (`corp.internal`; a trailing dot is accepted).
    #[serde(default)]
    pub name: String,
    /// The VPCs (`vpc-…`) whose resolver answers from the zone (at least one).
    #[serde(default)]
    pub vpcs: Vec<String>,
    /// The records.
    #[serde(default)]
    pub records: Vec<DnsRecord>,
}

/// One record set of a private hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRecord {
    /// The owner name: relative to the zone (`db`, or `@` for the apex), or fully
    /// qualified inside it (`db.corp.internal`).
    #[serde(default)]
    pub name: String,
    /// `A`, `CNAME` or `TXT`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// IPv4 addresses (A), one fully qualified target (CNAME, resolved within the zone
    /// when it is inside it), strings of at most 255 bytes (TXT).
    #[serde(default)]
    pub values: Vec<String>,
    /// Time to live, seconds (0..=2147483647; default 300, as the Route 53 console).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

/// The default TTL of a record, seconds.
pub const DEFAULT_RECORD_TTL: i64 = 300;

impl DnsRecord {
    /// The owner name, fully qualified without the final dot, in zone `zone` (already
    /// without its final dot): `@` and the empty name are the apex, a name ending in the
    /// zone stays as it is, anything else is relative.
    pub fn fqdn(&self, zone: &str) -> String {
        let zone = zone.trim_end_matches('.');
        let n = self.name.trim_end_matches('.');
        if n.is_empty() || n == "@" {
            zone.to_string()
        } else if n.eq_ignore_ascii_case(zone)
            || n.to_ascii_lowercase()
                .ends_with(&format!(".{}", zone.to_ascii_lowercase()))
        {
            n.to_string()
        } else {
            format!("{n}.{zone}")
        }
    }
}
