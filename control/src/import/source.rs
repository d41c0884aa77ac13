//! Where a topology comes from, for every verb that takes one (`vpcctl test`, `diff`,
//! `import`): a TOML topology file, a directory of `aws ec2 describe-*` JSON, one such
//! JSON file, or a `terraform show -json` plan or state — told apart by content.

use std::path::Path;

use super::{aws, terraform, ImportError, Imported};
use crate::model::Topology;

/// What a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A topology file (TOML).
    Toml,
    /// AWS CLI descriptions (a directory, or a JSON file with a describe-* shape).
    Aws,
    /// A Terraform plan or state (`terraform show -json`).
    Terraform,
}

/// Tells what `path` holds: a directory is AWS descriptions; a file whose first
/// non-blank character is `{` is JSON (Terraform when it looks like `terraform show
/// -json`, AWS otherwise); anything else is TOML.
pub fn kind(path: &Path) -> Result<SourceKind, ImportError> {
    let file = path.display().to_string();
    if path.is_dir() {
        return Ok(SourceKind::Aws);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ImportError::new(&file, "file", "", format!("cannot read: {e}")))?;
    if !text.trim_start().starts_with('{') {
        return Ok(SourceKind::Toml);
    }
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        ImportError::new(
            &file,
            "file",
            "",
            format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(if terraform::looks_like_terraform(&json) {
        SourceKind::Terraform
    } else {
        SourceKind::Aws
    })
}

/// Imports `path` if it is AWS descriptions or a Terraform document; `None` for TOML.
pub fn import(path: &Path) -> Result<Option<Imported>, Vec<ImportError>> {
    match kind(path).map_err(|e| vec![e])? {
        SourceKind::Toml => Ok(None),
        SourceKind::Aws => aws::import(&[path.to_path_buf()]).map(Some),
        SourceKind::Terraform => terraform::import(path).map(Some),
    }
}

/// The topology at `path` (imported when it is not TOML), validated; errors as text
/// lines naming the file, the resource and the field.
pub fn topology(path: &Path) -> Result<Topology, Vec<String>> {
    let file = path.display().to_string();
    let mut t =
        match import(path).map_err(|e| e.iter().map(ToString::to_string).collect::<Vec<_>>())? {
            Some(imported) => imported.topology,
            None => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| vec![format!("{file}: cannot read: {e}")])?;
                return crate::validate::check(&text)
                    .map(|(t, _)| t)
                    .map_err(|e| e.iter().map(|e| format!("{file}: {e}")).collect());
            }
        };
    crate::validate::validate(&mut t).map_err(|e| {
        e.iter()
            .map(|e| format!("{file} (imported): {e}"))
            .collect::<Vec<String>>()
    })?;
    Ok(t)
}
