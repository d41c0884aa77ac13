//! `vpcctl import`: what users already run, as a topology. The JSON that the AWS CLI
//! prints (`aws ec2 describe-* --output json`, in [`aws`]) or that Terraform prints
//! (`terraform show -json` of a plan or a state, in [`terraform`]) becomes a [`Topology`]
//! plus an [`ImportReport`] of what was used, defaulted, turned into a blackhole or
//! skipped — nothing is dropped silently. [`write`](self::write::toml) renders the result as readable TOML.
//!
//! Ids: an AWS id that fits the project's id rules (its kind's prefix followed by
//! letters, digits, `-` or `_`) is kept; any other (a Terraform address, a value unknown
//! until apply) gets a stable generated id from [`IdMap`], listed in the file's header.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Topology;
use crate::names::{fnv1a64, mix64};

pub mod aws;
pub mod source;
pub mod terraform;
pub mod write;

/// What happened to one thing of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Imported as it is.
    Used,
    /// Absent or unknown in the input; a default was used (said which).
    Defaulted,
    /// A route to something that cannot be modelled: kept as a blackhole.
    Blackholed,
    /// Not imported (cannot be modelled, or not needed): said why.
    Skipped,
}

impl EntryKind {
    /// `used`, `defaulted`, `blackholed` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Used => "used",
            EntryKind::Defaulted => "defaulted",
            EntryKind::Blackholed => "blackholed",
            EntryKind::Skipped => "skipped",
        }
    }
}

/// One line of the import report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// What happened.
    pub kind: EntryKind,
    /// The input file.
    pub file: String,
    /// The resource (its AWS id or Terraform address).
    pub resource: String,
    /// The field, if one is meant (`IpPermissions[0].PrefixListIds`).
    pub field: String,
    /// What and why.
    pub message: String,
}

/// What an import did, entry by entry, and the ids it generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// What was imported (`aws ec2 describe-* in DIR`, `terraform plan PLAN.json`).
    pub source: String,
    /// Every entry, in input order.
    pub entries: Vec<ReportEntry>,
    /// Original id → generated id, for ids that did not fit the project's rules.
    pub ids: BTreeMap<String, String>,
}

impl ImportReport {
    /// Records an entry.
    pub fn add(
        &mut self,
        kind: EntryKind,
        file: &str,
        resource: &str,
        field: &str,
        message: impl Into<String>,
    ) {
        self.entries.push(ReportEntry {
            kind,
            file: file.to_string(),
            resource: resource.to_string(),
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// The entries of one kind.
    pub fn of(&self, kind: EntryKind) -> impl Iterator<Item = &ReportEntry> {
        self.entries.iter().filter(move |e| e.kind == kind)
    }
}

/// A problem that stops an import (nothing is written): the file, the resource, the
/// field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct ImportError {
    /// The input file.
    pub file: String,
    /// The resource (AWS id, Terraform address), or `file`.
    pub resource: String,
    /// The field (a JSON path such as `SecurityGroups[2].IpPermissions[0].FromPort`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.resource)?;
        if !self.field.is_empty() {
            write!(f, ".{}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ImportError {
    /// An error of `resource.field` in `file`.
    pub fn new(
        file: &str,
        resource: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ImportError {
        ImportError {
            file: file.to_string(),
            resource: resource.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An imported topology and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The topology (not yet validated: [`crate::validate::validate`] it).
    pub topology: Topology,
    /// What was used, defaulted, blackholed and skipped.
    pub report: ImportReport,
}

/// Maps input ids to project ids: an id that fits (`prefix` + letters, digits, `-`,
/// `_`) is kept, any other gets `prefix` + 12 hex digits of its hash (stable across
/// runs), recorded in the report's `ids`.
#[derive(Debug, Default)]
pub struct IdMap {
    map: BTreeMap<String, String>,
}

impl IdMap {
    /// The project id for `original`, an id or address of a `prefix` kind (`sg-`, …).
    pub fn id(&mut self, prefix: &str, original: &str) -> String {
        if let Some(id) = self.map.get(original) {
            return id.clone();
        }
        let fits = original.len() > prefix.len()
            && original.starts_with(prefix)
            && original[prefix.len()..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let id = if fits {
            original.to_string()
        } else {
            format!("{prefix}{:012x}", mix64(fnv1a64(original.as_bytes())) >> 16)
        };
        self.map.insert(original.to_string(), id.clone());
        id
    }

    /// The ids that were generated (original → generated).
    pub fn generated(&self) -> BTreeMap<String, String> {
        self.map
            .iter()
            .filter(|(k, v)| k != v)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The namespace of an imported ENI: its id without `eni-` (an instance's primary ENI
/// gets the instance's namespace instead, by the importer).
pub fn eni_netns(eni_id: &str) -> String {
    eni_id.strip_prefix("eni-").unwrap_or(eni_id).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_fit_are_kept_others_get_stable_ones() {
        let mut m = IdMap::default();
        assert_eq!(m.id("sg-", "sg-0123abcd"), "sg-0123abcd");
        let a = m.id("sg-", "aws_security_group.web");
        assert!(a.starts_with("sg-") && a.len() == 15, "{a}");
        assert_eq!(m.id("sg-", "aws_security_group.web"), a);
        let mut other = IdMap::default();
        assert_eq!(
            other.id("sg-", "aws_security_group.web"),
            a,
            "stable across runs"
        );
        assert_ne!(m.id("sg-", "aws_security_group.db"), a);
        assert_eq!(m.generated().len(), 2);
        assert_eq!(eni_netns("eni-0a1b"), "0a1b");
    }

    #[test]
    fn errors_name_file_resource_and_field() {
        let e = ImportError::new("vpcs.json", "vpc-1", "CidrBlock", "not a CIDR");
        assert_eq!(e.to_string(), "vpcs.json: vpc-1.CidrBlock: not a CIDR");
    }
}
