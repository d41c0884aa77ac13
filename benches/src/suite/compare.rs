//! `--compare REF`: builds vpcd at a git ref into a target directory of its own, from a
//! temporary `git worktree` (removed again as soon as the build is done), so the run can
//! add `vpcd@REF` planes next to the current build's.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::{Error, Result};

/// A vpcd built at a git ref.
#[derive(Clone, Debug)]
pub struct RefBuild {
    /// The ref as given (used in plane names: `vpcd@REF`).
    pub reference: String,
    /// The commit it resolved to.
    pub commit: String,
    /// The binary.
    pub vpcd: PathBuf,
}

/// A temporary worktree, removed on drop (every exit path).
struct Worktree {
    repo: PathBuf,
    path: PathBuf,
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.repo)
            .args(["worktree", "remove", "--force"])
            .arg(&self.path)
            .output();
        match out {
            Ok(o) if o.status.success() => {
                tracing::debug!(path = %self.path.display(), "removed worktree")
            }
            Ok(o) => tracing::warn!(
                path = %self.path.display(),
                stderr = %String::from_utf8_lossy(&o.stderr).trim(),
                "git worktree remove failed"
            ),
            Err(e) => tracing::warn!(%e, "git worktree remove failed"),
        }
        if self.path.exists() {
            let _ = std::fs::remove_dir_all(&self.path);
            let _ = Command::new("git")
                .arg("-C")
                .arg(&self.repo)
                .args(["worktree", "prune"])
                .output();
        }
    }
}

fn git(repo: &Path, args: &[&str], reference: &str) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| Error::io("running git", e))?;
    if !out.status.success() {
        return Err(Error::Compare {
            reference: reference.into(),
            detail: format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The top of the git repository containing the current directory.
pub fn repo_root() -> Result<PathBuf> {
    git(Path::new("."), &["rev-parse", "--show-toplevel"], "HEAD").map(PathBuf::from)
}

/// Builds `vpcd` (release) at `reference` of the repository `repo` in the target directory
/// `<repo>/target/compare` (shared by every ref, so the dependencies are built once) and
/// keeps the binary as `<repo>/target/compare/vpcd-<commit>` (a second run with the same
/// ref does not build again).
pub fn build_ref(repo: &Path, reference: &str) -> Result<RefBuild> {
    let commit = git(
        repo,
        &["rev-parse", "--verify", &format!("{reference}^{{commit}}")],
        reference,
    )?;
    let short: String = commit.chars().take(12).collect();
    let target = repo.join("target").join("compare");
    let vpcd = target.join(format!("vpcd-{short}"));
    if vpcd.is_file() {
        tracing::info!(reference, commit = %short, "vpcd at ref already built");
        return Ok(RefBuild {
            reference: reference.into(),
            commit: short,
            vpcd,
        });
    }
    let path = std::env::temp_dir().join(format!("vpcd-compare-{short}-{}", std::process::id()));
    let p = path.to_string_lossy().into_owned();
    git(
        repo,
        &["worktree", "add", "--detach", &p, &commit],
        reference,
    )?;
    let wt = Worktree {
        repo: repo.to_path_buf(),
        path,
    };
    tracing::info!(reference, commit = %short, target = %target.display(), "building vpcd at ref (release)");
    let status = Command::new("cargo")
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "dataplane",
            "--bin",
            "vpcd",
        ])
        .current_dir(&wt.path)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .map_err(|e| Error::io("running cargo", e))?;
    drop(wt);
    if !status.success() {
        return Err(Error::Compare {
            reference: reference.into(),
            detail: format!("cargo build of vpcd failed ({status})"),
        });
    }
    let built = target.join("release").join("vpcd");
    std::fs::copy(&built, &vpcd).map_err(|e| Error::Compare {
        reference: reference.into(),
        detail: format!("copying {} to {}: {e}", built.display(), vpcd.display()),
    })?;
    Ok(RefBuild {
        reference: reference.into(),
        commit: short,
        vpcd,
    })
}
