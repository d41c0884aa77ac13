//! The verbs on top of the runner: `vpcctl test FILE…`, `vpcctl test --generate
//! TOPOLOGY` and `vpcctl diff OLD NEW`. The binary prints; these return values.

use std::collections::BTreeSet;
use std::path::Path;

use dataplane::observe::trace::TraceReport;

use super::diff::{self, Change, Reachability};
use super::generate::{self, MatrixProbe};
use super::plan::{self, Plan};
use super::report::{CheckReport, TestReport};
use super::run::{self, RunError, RunOptions};
use super::spec::SpecError;

/// Why a verb could not complete.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A test or topology file has problems: nothing ran.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Spec(Vec<SpecError>),
    /// Running failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Loads every test file; all their problems together, and nothing runs if there is one.
pub fn load_all(files: &[impl AsRef<Path>]) -> Result<Vec<Plan>, CommandError> {
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match plan::load(f.as_ref()) {
            Ok(p) => plans.push(p),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(CommandError::Spec(errors))
    }
}

/// Runs the plans one after the other.
pub fn run_all(
    plans: &[Plan],
    opts: &RunOptions,
    progress: &mut dyn FnMut(&CheckReport),
) -> Result<Vec<TestReport>, CommandError> {
    plans
        .iter()
        .map(|p| {
            run::run(p, opts, progress)
                .map(|o| o.report)
                .map_err(CommandError::from)
        })
        .collect()
}

/// Loads a topology file for the matrix verbs.
fn topology(path: &Path) -> Result<crate::model::Topology, CommandError> {
    let file = path.display().to_string();
    // AWS descriptions and Terraform plans are imported on the fly.
    if !matches!(
        crate::import::source::kind(path),
        Ok(crate::import::source::SourceKind::Toml)
    ) {
        return crate::import::source::topology(path).map_err(|e| {
            CommandError::Spec(
                e.into_iter()
                    .map(|m| SpecError::new(&file, "file", "", m))
                    .collect(),
            )
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        CommandError::Spec(vec![SpecError::new(
            &file,
            "file",
            "",
            format!("cannot read: {e}"),
        )])
    })?;
    crate::validate::check(&text).map(|(t, _)| t).map_err(|e| {
        CommandError::Spec(
            e.iter()
                .map(|e| {
                    SpecError::new(
                        &file,
                        e.resource.clone(),
                        e.field.clone(),
                        e.message.clone(),
                    )
                })
                .collect(),
        )
    })
}

/// `vpcctl test --generate TOPOLOGY`: the matrix of the topology run once; returns the
/// test file expecting what the traffic did (relative to the test file's directory,
/// the topology is `topology_ref`), and the run's report.
pub fn generate(
    topology_path: &Path,
    topology_ref: &str,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&CheckReport),
) -> Result<(String, TestReport), CommandError> {
    let t = topology(topology_path)?;
    let probes = generate::matrix(&t);
    let (plan, slots) = plan::matrix_plan(&topology_path.display().to_string(), t, &probes);
    let kept: Vec<MatrixProbe> = probes
        .iter()
        .zip(&slots)
        .filter(|(_, s)| s.is_some())
        .map(|(p, _)| p.clone())
        .collect();
    let out = run::run(&plan, opts, progress)?;
    Ok((
        generate::test_file(topology_ref, &kept, &out.report),
        out.report,
    ))
}

/// One topology's verdicts (and traces) for `probes`.
fn reachability(
    path: &Path,
    probes: &[MatrixProbe],
    opts: &RunOptions,
    progress: &mut dyn FnMut(&CheckReport),
) -> Result<Vec<(Reachability, Option<TraceReport>)>, CommandError> {
    let t = topology(path)?;
    let (plan, slots) = plan::matrix_plan(&path.display().to_string(), t, probes);
    let out = run::run(&plan, opts, progress)?;
    Ok(slots
        .iter()
        .map(|s| match s {
            None => (Reachability::Absent, None),
            Some(i) => (
                out.report
                    .checks
                    .get(*i)
                    .map_or(Reachability::Blocked, |c| c.traffic.into()),
                out.traces.get(i).cloned(),
            ),
        })
        .collect())
}

/// `vpcctl diff OLD NEW`: the union of both matrices run against each; the changes and
/// how many probes ran.
pub fn diff(
    old: &Path,
    new: &Path,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&CheckReport),
) -> Result<(Vec<Change>, usize), CommandError> {
    let (to, tn) = (topology(old)?, topology(new)?);
    let mut seen = BTreeSet::new();
    let probes: Vec<MatrixProbe> = generate::matrix(&to)
        .into_iter()
        .chain(generate::matrix(&tn))
        .filter(|p| seen.insert(p.clone()))
        .collect();
    let a = reachability(old, &probes, opts, progress)?;
    let b = reachability(new, &probes, opts, progress)?;
    Ok((diff::changes(&probes, &a, &b), probes.len()))
}
