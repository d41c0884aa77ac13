//! The test file format of `vpcctl test` (TOML):
//!
//! ```toml
//! topology = "../three-tier.toml"   # relative to this file; or [topology] inline = """…"""
//!
//! [names]                            # DNS-free names for addresses
//! db = "10.0.3.10"
//!
//! [[check]]
//! name = "app reaches the database"  # optional
//! from = "eni-app1"                  # an ENI (with a namespace) or an internet host
//! to = "db"                          # an ENI, an internet host, a name of [names], or an IPv4 address
//! protocol = "tcp"                   # tcp (default), udp or icmp
//! port = 5432                        # tcp and udp
//! source_port = 40123                # optional
//! expect = "reach"                   # reach or blocked
//! seen_source = "10.0.2.10"          # optional (reach): the source the server must see
//! explanation = "ENI_SG_RULES_MISMATCH"  # optional (blocked): the expected explanation code
//! hold = "app-db"                    # optional (tcp, reach): keep the connection open
//!
//! [[change]]                         # applied before the checks after it in the file
//! remove_rule = { security_group = "sg-db", direction = "inbound", index = 0 }
//!
//! [[check]]
//! connection = "app-db"              # a connection held before the change
//! expect = "keeps"                   # keeps or cut
//! ```
//!
//! Checks and changes run in file order. A change is one of `apply = "other.toml"` (a
//! whole topology), `add_rule`/`remove_rule` (a security group's or a network ACL's rule),
//! `add_route`/`remove_route` (a route table's route).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::model::{NaclRule, SgRuleSpec};

/// Where the topology comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TopologySource {
    /// A topology file, relative to the test file.
    Path(String),
    /// The topology written in the test file.
    Inline {
        /// The topology's TOML text.
        inline: String,
    },
}

/// The protocol of a check.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CheckProtocol {
    /// TCP: connect, then data both ways.
    #[default]
    Tcp,
    /// UDP: a request and its answer.
    Udp,
    /// ICMP echo.
    Icmp,
}

impl CheckProtocol {
    /// `"tcp"`, `"udp"` or `"icmp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckProtocol::Tcp => "tcp",
            CheckProtocol::Udp => "udp",
            CheckProtocol::Icmp => "icmp",
        }
    }
}

/// What a check expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The traffic gets there and back.
    Reach,
    /// It does not.
    Blocked,
    /// A held connection still carries data both ways.
    Keeps,
    /// A held connection no longer does.
    Cut,
}

/// One `[[check]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// A name for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sender: an ENI id or an internet host id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The destination: an ENI id, an internet host id, a name of `[names]`, or an
    /// IPv4 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `tcp` (default), `udp` or `icmp`.
    #[serde(default)]
    pub protocol: CheckProtocol,
    /// The destination port (TCP and UDP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The source port (TCP and UDP); default: one chosen per check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    /// `reach` or `blocked`; for a held connection, `keeps` or `cut`.
    pub expect: Expect,
    /// The source address the server must see (reach only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_source: Option<String>,
    /// The explanation code the trace must give (blocked only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Keep the connection open under this name (TCP, reach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// Check a connection held by an earlier check (instead of `from`/`to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

/// A security group's or a network ACL's rule to add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRule {
    /// The security group (`sg-…`), or …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
    /// … the network ACL (`acl-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acl: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The rule, as written in the topology (a security-group rule or a NACL rule).
    pub rule: toml::Value,
}

/// A security group's or a network ACL's rule to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveRule {
    /// The security group (`sg-…`), or …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
    /// … the network ACL (`acl-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acl: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// A security group's rule: its position in the list (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// A network ACL's rule: its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<i64>,
}

/// A route to add to a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRoute {
    /// The route table (`rtb-…`).
    pub route_table: String,
    /// The destination CIDR.
    pub destination: String,
    /// The target, as in a topology.
    pub target: String,
}

/// A route to remove from a route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveRoute {
    /// The route table (`rtb-…`).
    pub route_table: String,
    /// The destination CIDR of the route.
    pub destination: String,
}

/// One `[[change]]`: exactly one of its fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeSpec {
    /// Apply another topology file (relative to the test file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
    /// Add a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_rule: Option<AddRule>,
    /// Remove a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_rule: Option<RemoveRule>,
    /// Add a route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_route: Option<AddRoute>,
    /// Remove a route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_route: Option<RemoveRoute>,
}

/// One item of a test file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A check, with its index among the checks.
    Check(usize, CheckSpec),
    /// A change, with its index among the changes.
    Change(usize, ChangeSpec),
}

/// A parsed test file.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    /// The topology.
    pub topology: TopologySource,
    /// `[names]`: name → address.
    pub names: BTreeMap<String, String>,
    /// Checks and changes, in file order.
    pub items: Vec<Item>,
}

/// A problem with a test file: the file, what in it (a check, a change, a resource), the
/// field, and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{file}: {what}{}: {message}", if field.is_empty() { String::new() } else { format!(".{field}") })]
pub struct SpecError {
    /// The file.
    pub file: String,
    /// The check (`check[3]` or its name), change (`change[1]`), or resource.
    pub what: String,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl SpecError {
    /// An error of `what.field` in `file`.
    pub fn new(
        file: &str,
        what: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> SpecError {
        SpecError {
            file: file.to_string(),
            what: what.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses a test file's text (`file` names it in errors). Every problem is returned.
pub fn parse(file: &str, src: &str) -> Result<TestFile, Vec<SpecError>> {
    let doc =
        DeTable::parse(src).map_err(|e| vec![SpecError::new(file, "file", "", e.to_string())])?;
    let mut errors = Vec::new();
    let mut topology = None;
    let mut names = BTreeMap::new();
    let mut items: Vec<(usize, Item)> = Vec::new();
    let (mut checks, mut changes) = (0, 0);
    for (key, value) in doc.get_ref().iter() {
        match key.get_ref().as_ref() {
            "topology" => match TopologySource::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(t) => topology = Some(t),
                Err(_) => errors.push(SpecError::new(
                    file,
                    "file",
                    "topology",
                    "expected a path (`topology = \"three-tier.toml\"`) or an inline topology ([topology] inline = \"\"\"…\"\"\")",
                )),
            },
            "names" => match BTreeMap::<String, String>::deserialize(ValueDeserializer::from(
                value.clone(),
            )) {
                Ok(n) => names = n,
                Err(e) => errors.push(SpecError::new(file, "names", "", e.message().to_string())),
            },
            kind @ ("check" | "change") => {
                let DeValue::Array(list) = value.get_ref() else {
                    errors.push(SpecError::new(
                        file,
                        "file",
                        kind,
                        format!("write each one as [[{kind}]]"),
                    ));
                    continue;
                };
                for item in list {
                    let pos = item.span().start;
                    if kind == "check" {
                        let what = format!("check[{checks}]");
                        match CheckSpec::deserialize(ValueDeserializer::from(item.clone())) {
                            Ok(c) => items.push((pos, Item::Check(checks, c))),
                            Err(e) => errors.push(SpecError::new(
                                file,
                                what,
                                field_of(e.message()),
                                e.message().to_string(),
                            )),
                        }
                        checks += 1;
                    } else {
                        let what = format!("change[{changes}]");
                        match ChangeSpec::deserialize(ValueDeserializer::from(item.clone())) {
                            Ok(c) => items.push((pos, Item::Change(changes, c))),
                            Err(e) => errors.push(SpecError::new(
                                file,
                                what,
                                field_of(e.message()),
                                e.message().to_string(),
                            )),
                        }
                        changes += 1;
                    }
                }
            }
            other => errors.push(SpecError::new(
                file,
                "file",
                other,
                "unknown key; expected topology, [names], [[check]] or [[change]]",
            )),
        }
    }
    let Some(topology) = topology else {
        errors.push(SpecError::new(
            file,
            "file",
            "topology",
            "missing: name the topology file (`topology = \"three-tier.toml\"`)",
        ));
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    items.sort_by_key(|(pos, _)| *pos);
    Ok(TestFile {
        topology,
        names,
        items: items.into_iter().map(|(_, i)| i).collect(),
    })
}

/// The field a serde message names (`unknown field `x``, `missing field `x``).
fn field_of(message: &str) -> String {
    for lead in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(lead) {
            return rest.split('`').next().unwrap_or_default().to_string();
        }
    }
    String::new()
}

/// A security-group rule parsed from a change's `rule`.
pub fn sg_rule(v: &toml::Value) -> Result<SgRuleSpec, String> {
    v.clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}

/// A network-ACL rule parsed from a change's `rule`.
pub fn nacl_rule(v: &toml::Value) -> Result<NaclRule, String> {
    v.clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_changes_keep_file_order() {
        let t = parse(
            "t.toml",
            r#"
            topology = "x.toml"
            [names]
            db = "10.0.3.10"
            [[check]]
            from = "eni-a"
            to = "db"
            port = 5432
            expect = "reach"
            hold = "c"
            [[change]]
            remove_rule = { security_group = "sg-db", direction = "inbound", index = 0 }
            [[check]]
            connection = "c"
            expect = "keeps"
            [[check]]
            from = "eni-a"
            to = "10.0.3.10"
            protocol = "icmp"
            expect = "blocked"
            explanation = "ENI_SG_RULES_MISMATCH"
            "#,
        )
        .unwrap();
        assert_eq!(t.topology, TopologySource::Path("x.toml".into()));
        assert_eq!(t.names["db"], "10.0.3.10");
        let kinds: Vec<String> = t
            .items
            .iter()
            .map(|i| match i {
                Item::Check(n, _) => format!("check{n}"),
                Item::Change(n, _) => format!("change{n}"),
            })
            .collect();
        assert_eq!(kinds, ["check0", "change0", "check1", "check2"]);
    }

    #[test]
    fn errors_name_the_file_the_check_and_the_field() {
        let e = parse(
            "t.toml",
            "topology = \"x.toml\"\n[[check]]\nfrom = \"a\"\nto = \"b\"\nexpect = \"maybe\"\n[[check]]\nfrom = \"a\"\nexpect = \"reach\"\nport = 99999\nbogus = 1\n",
        )
        .unwrap_err();
        let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert!(text[0].starts_with("t.toml: check[0]"), "{text:?}");
        assert!(text[0].contains("maybe"), "{text:?}");
        assert!(
            text.iter().any(|t| t.starts_with("t.toml: check[1]")),
            "{text:?}"
        );
        let e = parse("t.toml", "[[check]]\nfrom = \"a\"\nexpect = \"reach\"\n").unwrap_err();
        assert!(e.iter().any(|e| e.field == "topology"), "{e:?}");
    }

    #[test]
    fn inline_topologies_parse() {
        let t = parse(
            "t.toml",
            "[topology]\ninline = \"[[vpc]]\\nid = \\\"vpc-a\\\"\\n\"\n",
        )
        .unwrap();
        assert!(matches!(t.topology, TopologySource::Inline { .. }));
    }
}
