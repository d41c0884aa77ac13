//! An imported topology as readable TOML: a header saying what was imported from where,
//! which ids were generated, and what was left out; then the resources in the model's
//! order (the order of [`Topology`]'s fields), each kind as `[[kind]]` tables.

use std::fmt::Write as _;

use super::{EntryKind, ImportReport};
use crate::model::Topology;

/// Why the topology could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the topology as TOML: {0}")]
pub struct WriteError(#[from] toml::ser::Error);

/// The TOML of `t` with a header from `report`.
pub fn toml(t: &Topology, report: &ImportReport) -> Result<String, WriteError> {
    let mut out = String::new();
    let _ = writeln!(out, "# Imported by `vpcctl import` from {}.", report.source);
    let _ = writeln!(
        out,
        "# One network namespace per instance (its ENIs) or per ENI; review before you rely on it."
    );
    if !report.ids.is_empty() {
        let _ = writeln!(
            out,
            "#\n# Generated ids (the original did not fit the id rules):"
        );
        for (from, to) in &report.ids {
            let _ = writeln!(out, "#   {to} = {from}");
        }
    }
    for (kind, title) in [
        (EntryKind::Skipped, "Left out"),
        (EntryKind::Blackholed, "Routes kept as blackholes"),
        (EntryKind::Defaulted, "Defaults used"),
    ] {
        let entries: Vec<_> = report.of(kind).collect();
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "#\n# {title}:");
        for e in entries {
            let field = if e.field.is_empty() {
                String::new()
            } else {
                format!(".{}", e.field)
            };
            let _ = writeln!(out, "#   {}{field} ({}): {}", e.resource, e.file, e.message);
        }
    }
    out.push('\n');
    out.push_str(&toml::to_string(t)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_lists_ids_and_what_was_left_out_and_the_body_reads_back() {
        let t = crate::validate::parse(
            "[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nid = \"subnet-a\"\nvpc = \"vpc-a\"\ncidr = \"10.0.1.0/24\"\n",
        )
        .unwrap();
        let mut r = ImportReport {
            source: "aws ec2 describe-* in fixtures/".into(),
            ..ImportReport::default()
        };
        r.ids.insert("aws_vpc.main".into(), "vpc-0123".into());
        r.add(
            EntryKind::Skipped,
            "tgw.json",
            "tgw-1",
            "",
            "transit gateways cannot be modelled",
        );
        r.add(EntryKind::Used, "vpcs.json", "vpc-a", "", "");
        let text = toml(&t, &r).unwrap();
        assert!(
            text.starts_with("# Imported by `vpcctl import` from aws ec2 describe-* in fixtures/.")
        );
        assert!(text.contains("#   vpc-0123 = aws_vpc.main"));
        assert!(text.contains("#   tgw-1 (tgw.json): transit gateways cannot be modelled"));
        assert_eq!(crate::validate::parse(&text).unwrap(), t);
    }
}
