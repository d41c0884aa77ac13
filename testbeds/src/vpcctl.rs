//! Driving the `vpcctl` binary end to end: `up`, `exec`, `show`, `apply`, `down`.
//!
//! [`Vpcctl`] runs the real binary against one control socket; [`VpcctlUp`] is the guard of a
//! lab that `vpcctl up` brought up (its own vpcd and namespaces) and runs `vpcctl down` on Drop,
//! so a failing test still removes what `up` created.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::run_command;

/// Deadline for one `vpcctl` invocation (`up` creates TAPs and namespaces; `down` waits for vpcd).
pub const VPCCTL_TIMEOUT: Duration = Duration::from_secs(60);

/// The `vpcctl` binary, bound to one control socket (every call passes `--socket`).
#[derive(Clone, Debug)]
pub struct Vpcctl {
    binary: PathBuf,
    socket: PathBuf,
}

impl Vpcctl {
    /// Locates the binary: `$VPCCTL_BIN`, else `vpcctl` next to the running test executable's
    /// profile dir (as [`crate::Vpcd::binary_path`] does for `vpcd`).
    pub fn binary_path() -> Result<PathBuf> {
        crate::vpcd::locate_binary("vpcctl", "VPCCTL_BIN").map_err(|detail| Error::BinaryNotFound {
            binary: "vpcctl".into(),
            detail,
        })
    }

    /// `vpcctl` (located with [`Vpcctl::binary_path`]) for the socket `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Result<Vpcctl> {
        Ok(Vpcctl {
            binary: Self::binary_path()?,
            socket: socket.into(),
        })
    }

    /// The binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The control socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Runs `vpcctl --socket SOCKET args…` to completion (killed by PID after `timeout`).
    /// A non-zero exit is returned in `Output::status`, not as an error.
    pub fn run(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--socket").arg(&self.socket).args(args);
        let desc = format!(
            "{} --socket {} {}",
            self.binary.display(),
            self.socket.display(),
            args.join(" ")
        );
        run_command(cmd, &desc, timeout)
    }

    /// Runs `vpcctl up FILE`; a non-zero exit is [`Error::Command`]. The returned guard runs
    /// `vpcctl down` when dropped (unless [`VpcctlUp::down`] already succeeded).
    pub fn up(&self, file: &Path) -> Result<VpcctlUp> {
        self.up_with(file, &[])
    }

    /// [`Vpcctl::up`] with extra arguments after `up FILE` (e.g. `--metrics 127.0.0.1:0`).
    pub fn up_with(&self, file: &Path, extra: &[&str]) -> Result<VpcctlUp> {
        let file_s = file.to_string_lossy();
        let mut args = vec!["up", &file_s];
        args.extend_from_slice(extra);
        let out = self.run(&args, VPCCTL_TIMEOUT)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(Error::Command {
                cmd: format!("vpcctl up {file_s}"),
                status: out.status.to_string(),
                stderr: format!(
                    "{}\nstdout: {stdout}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        Ok(VpcctlUp {
            ctl: self.clone(),
            up_stdout: stdout,
            down: false,
        })
    }
}

/// A lab brought up by `vpcctl up`; runs `vpcctl down` on Drop if it is still up.
#[derive(Debug)]
pub struct VpcctlUp {
    ctl: Vpcctl,
    up_stdout: String,
    down: bool,
}

impl VpcctlUp {
    /// The `vpcctl` it was brought up with.
    pub fn ctl(&self) -> &Vpcctl {
        &self.ctl
    }

    /// What `vpcctl up` printed on stdout.
    pub fn up_stdout(&self) -> &str {
        &self.up_stdout
    }

    /// The PID of the vpcd that `up` started (from its `started vpcd (pid N)` line), if it
    /// started one.
    pub fn vpcd_pid(&self) -> Option<u32> {
        let rest = self.up_stdout.split("started vpcd (pid ").nth(1)?;
        rest.split(')').next()?.trim().parse().ok()
    }

    /// Runs `vpcctl down` now and returns its output; after a successful exit, Drop does
    /// nothing more.
    pub fn down(&mut self) -> Result<Output> {
        let out = self.ctl.run(&["down"], VPCCTL_TIMEOUT)?;
        if out.status.success() {
            self.down = true;
        }
        Ok(out)
    }
}

impl Drop for VpcctlUp {
    fn drop(&mut self) {
        if self.down {
            return;
        }
        match self.down() {
            Ok(out) if out.status.success() => {}
            Ok(out) => tracing::warn!(
                status = %out.status,
                stderr = %String::from_utf8_lossy(&out.stderr).trim(),
                "vpcctl down failed"
            ),
            Err(e) => tracing::warn!(%e, "vpcctl down failed"),
        }
    }
}
