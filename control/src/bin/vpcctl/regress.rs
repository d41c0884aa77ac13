//! `vpcctl test`, `vpcctl test --generate` and `vpcctl diff`: the regression-test verbs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use control::cli::exit::ExitKind;
use control::testing::{
    self,
    command::{self, CommandError},
    run::RunOptions,
};

use crate::print_json;

/// `vpcctl test FILE…`: every file's problems together (exit 2, nothing runs), or the run's
/// outputs and exit 0 only when every check passed.
pub(crate) fn test(
    files: &[PathBuf],
    opts: &RunOptions,
    junit_path: Option<&Path>,
    html_path: Option<&Path>,
    json_out: bool,
) -> Result<ExitKind> {
    let plans = match command::load_all(files) {
        Ok(p) => p,
        Err(CommandError::Spec(errors)) => {
            if json_out {
                print_json(&serde_json::json!({ "ok": false, "errors": errors }));
            } else {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!("{} problem(s); nothing was run", errors.len());
            }
            return Ok(ExitKind::Error);
        }
        Err(e) => return Err(e.into()),
    };
    install_interrupt_cleanup();
    let total: usize = plans.iter().map(|p| p.checks.len()).sum();
    let bar = testing::terminal::Progress::new(total as u64);
    let reports = command::run_all(&plans, opts, &mut |c| {
        bar.set_message(c.name.clone());
        bar.inc();
    })?;
    bar.finish();
    if let Some(p) = junit_path {
        std::fs::write(p, testing::junit::junit(&reports)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = html_path {
        std::fs::write(p, testing::html::html(&reports))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if json_out {
        println!("{}", testing::json::json(&reports));
    } else {
        use std::io::IsTerminal;
        print!(
            "{}",
            testing::terminal::summary(&reports, std::io::stdout().is_terminal())
        );
    }
    Ok(if reports.iter().all(|r| r.passed()) {
        ExitKind::Success
    } else {
        ExitKind::Failed
    })
}

/// On SIGINT or SIGTERM during `test`, `--generate` or `diff`: stop the run's vpcd and
/// delete its namespaces (no `Drop` runs when a signal ends the process), then exit 130.
fn install_interrupt_cleanup() {
    if let Err(e) = ctrlc::set_handler(|| {
        testing::lab::interrupted();
        std::process::exit(130);
    }) {
        eprintln!("warning: cannot clean up on interrupt: {e}");
    }
}

/// `vpcctl test --generate TOPOLOGY`: the matrix as a test file on stdout (the topology
/// referred to by its path as given).
pub(crate) fn generate_matrix(topology: &Path, opts: &RunOptions) -> Result<ExitKind> {
    // The test file is meant to be saved next to the topology: it names it by file name.
    install_interrupt_cleanup();
    let reference = topology.file_name().map_or_else(
        || topology.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match command::generate(topology, &reference, opts, &mut |_| {}) {
        Ok((text, report)) => {
            print!("{text}");
            let disagreements = report.count(testing::report::Status::Disagree);
            if disagreements > 0 {
                eprintln!("warning: the trace disagreed with the traffic on {disagreements} probe(s); the file expects what the traffic did");
            }
            Ok(ExitKind::Success)
        }
        Err(CommandError::Spec(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            Ok(ExitKind::Error)
        }
        Err(e) => Err(e.into()),
    }
}

/// `vpcctl diff OLD NEW`.
pub(crate) fn diff(old: &Path, new: &Path, opts: &RunOptions, json_out: bool) -> Result<ExitKind> {
    install_interrupt_cleanup();
    match command::diff(old, new, opts, &mut |_| {}) {
        Ok((changes, total)) => {
            if json_out {
                print_json(&serde_json::json!({ "ok": true, "probes": total, "changes": changes }));
            } else {
                print!("{}", testing::diff::render(&changes, total));
            }
            Ok(if changes.is_empty() {
                ExitKind::Success
            } else {
                ExitKind::Failed
            })
        }
        Err(CommandError::Spec(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            Ok(ExitKind::Error)
        }
        Err(e) => Err(e.into()),
    }
}
