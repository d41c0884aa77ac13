//! `vpcctl import aws|terraform`: what users already run, as a topology.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use control::cli::exit::ExitKind;

use crate::print_json;

/// Where `vpcctl import` reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ImportFrom {
    /// `aws ec2 describe-* --output json` files or directories.
    Aws,
    /// `terraform show -json` of a plan or a state.
    Terraform,
}

/// `vpcctl import aws|terraform PATH…`.
pub(crate) fn import(
    from: ImportFrom,
    paths: &[PathBuf],
    output: Option<&Path>,
    check: bool,
    json_out: bool,
) -> Result<ExitKind> {
    use control::import;
    let imported = match from {
        ImportFrom::Aws => import::aws::import(paths),
        ImportFrom::Terraform => match paths {
            [one] => import::terraform::import(one),
            _ => {
                anyhow::bail!("terraform: give one `terraform show -json` file")
            }
        },
    };
    let imported = match imported {
        Ok(i) => i,
        Err(errors) => {
            if json_out {
                print_json(&serde_json::json!({ "ok": false, "errors": errors }));
            } else {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!("{} problem(s); nothing was written", errors.len());
            }
            return Ok(ExitKind::Error);
        }
    };
    let mut checked = imported.topology.clone();
    let invalid = control::validate::validate(&mut checked).err();
    let text = import::write::toml(&imported.topology, &imported.report)?;
    if json_out {
        print_json(&serde_json::json!({
            "ok": invalid.is_none(),
            "report": imported.report,
            "errors": invalid.as_ref().map(|e| e.0.clone()).unwrap_or_default(),
        }));
    } else {
        for kind in [import::EntryKind::Skipped, import::EntryKind::Blackholed] {
            for e in imported.report.of(kind) {
                let field = if e.field.is_empty() {
                    String::new()
                } else {
                    format!(".{}", e.field)
                };
                eprintln!(
                    "{}: {}{field} ({}): {}",
                    kind.as_str(),
                    e.resource,
                    e.file,
                    e.message
                );
            }
        }
        let count = |k| imported.report.of(k).count();
        eprintln!(
            "imported from {}: {} used, {} defaulted, {} blackholed, {} skipped",
            imported.report.source,
            count(import::EntryKind::Used),
            count(import::EntryKind::Defaulted),
            count(import::EntryKind::Blackholed),
            count(import::EntryKind::Skipped)
        );
        if let Some(errors) = &invalid {
            for e in errors.iter() {
                eprintln!("invalid: {e}");
            }
        }
    }
    if invalid.is_some() {
        eprintln!("the imported topology is invalid; nothing was written");
        return Ok(ExitKind::Failed);
    }
    if !check && !json_out {
        match output {
            Some(p) => {
                std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?
            }
            None => print!("{text}"),
        }
    } else if let (false, Some(p)) = (check, output) {
        std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(ExitKind::Success)
}
