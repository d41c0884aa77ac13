//! Starting and stopping the `vpcd` daemon as a guard.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::names::RunPrefix;
use crate::process::{kill_and_reap, terminate};
use crate::scratch::Scratch;

/// Locates a workspace binary: `$ENV_VAR` if set (it must be a file), else `name` next to the
/// running test executable's profile dir (`target/<profile>/deps/x` → `target/<profile>/name`).
/// The error says where it looked.
pub(crate) fn locate_binary(name: &str, env_var: &str) -> std::result::Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{env_var}={} is not a file", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let candidate = dir.join(name);
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "{env_var} unset and {} does not exist",
            candidate.display()
        ))
    }
}

/// Default deadline for vpcd's `ready` line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long Drop waits after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Options for [`Vpcd::start_with`].
#[derive(Clone, Debug)]
pub struct VpcdOptions {
    /// The binary; `None` means [`Vpcd::binary_path`].
    pub binary: Option<PathBuf>,
    /// Extra arguments after `--socket … --tap-prefix …`.
    pub extra_args: Vec<String>,
    /// Deadline for the `ready` line.
    pub ready_timeout: Duration,
    /// SIGKILL vpcd when the thread that started it exits (`PR_SET_PDEATHSIG`; default `true`), so
    /// a SIGKILLed test run leaves no orphan daemon. Set `false` if the guard is created on one
    /// thread and kept alive beyond it (e.g. a fixture shared between tests).
    pub die_with_thread: bool,
}

impl Default for VpcdOptions {
    fn default() -> Self {
        VpcdOptions {
            binary: None,
            extra_args: Vec::new(),
            ready_timeout: READY_TIMEOUT,
            die_with_thread: true,
        }
    }
}

/// A running `vpcd` (in the host namespace), stopped by PID and reaped on Drop.
///
/// Started as `vpcd --socket <tmpdir>/vpcd.sock --tap-prefix <RunPrefix>`, stdout piped (its first
/// line starting with `ready` is the readiness signal; later lines are logged via `tracing`),
/// stderr appended to `<tmpdir>/vpcd.log`. Drop sends SIGTERM, waits up to [`STOP_GRACE`], then
/// SIGKILL. The tmpdir is removed unless the dropping thread panics, in which case it is kept and
/// the log path printed.
#[derive(Debug)]
pub struct Vpcd {
    child: Child,
    exited: Option<ExitStatus>,
    socket: PathBuf,
    log: PathBuf,
    ready_line: String,
    prefix: RunPrefix,
    // Dropped after the process is stopped (fields drop after `Drop::drop`).
    scratch: Scratch,
}

impl Vpcd {
    /// Locates the binary: `$VPCD_BIN`, else `vpcd` next to the running test executable's profile
    /// dir (`target/<profile>/deps/x` → `target/<profile>/vpcd`), else [`Error::VpcdNotFound`].
    pub fn binary_path() -> Result<PathBuf> {
        locate_binary("vpcd", "VPCD_BIN").map_err(|detail| Error::VpcdNotFound { detail })
    }

    /// Starts vpcd with default options and waits for its `ready` line.
    pub fn start(prefix: &RunPrefix) -> Result<Vpcd> {
        Self::start_with(prefix, VpcdOptions::default())
    }

    /// Starts vpcd and waits (up to `opts.ready_timeout`) for a stdout line starting with `ready`.
    ///
    /// EOF or the deadline first gives [`Error::NotReady`] with the log tail; the half-started
    /// process is stopped by the guard.
    pub fn start_with(prefix: &RunPrefix, opts: VpcdOptions) -> Result<Vpcd> {
        let binary = match opts.binary {
            Some(b) => b,
            None => Self::binary_path()?,
        };
        let scratch = Scratch::new(prefix.as_str())?.keep_on_panic(true);
        let socket = scratch.join("vpcd.sock");
        let log = scratch.join("vpcd.log");
        let log_file =
            File::create(&log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let mut cmd = Command::new(&binary);
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--tap-prefix")
            .arg(prefix.as_str())
            .args(&opts.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        if opts.die_with_thread {
            crate::sys::die_with_parent(&mut cmd);
        }
        let desc = format!(
            "{} --socket {} --tap-prefix {}",
            binary.display(),
            socket.display(),
            prefix
        );
        tracing::debug!(cmd = %desc, "starting vpcd");
        let mut child = cmd
            .spawn()
            .map_err(|source| Error::Spawn { cmd: desc, source })?;
        let stdout = child.stdout.take();
        let mut vpcd = Vpcd {
            child,
            exited: None,
            socket,
            log,
            ready_line: String::new(),
            prefix: prefix.clone(),
            scratch,
        };
        let Some(stdout) = stdout else {
            return Err(vpcd.not_ready("stdout was not piped".into()));
        };
        let (tx, rx) = mpsc::channel::<String>();
        let pid = vpcd.pid();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut tx = Some(tx);
            // Keep draining after `ready` so vpcd never blocks on a full stdout pipe.
            while let Some(Ok(line)) = lines.next() {
                match &tx {
                    Some(t) if line.starts_with("ready") => {
                        let _ = t.send(line);
                        tx = None;
                    }
                    _ => tracing::debug!(pid, line = %line, "vpcd stdout"),
                }
            }
        });
        match rx.recv_timeout(opts.ready_timeout) {
            Ok(line) => {
                tracing::info!(pid, %line, socket = %vpcd.socket.display(), "vpcd ready");
                vpcd.ready_line = line;
                Ok(vpcd)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(vpcd.not_ready(format!("no `ready` line within {:?}", opts.ready_timeout)))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stdout hit EOF: it probably exited; give it a moment to be reaped for the status.
                let status = crate::process::wait_deadline(
                    &mut vpcd.child,
                    Instant::now() + Duration::from_secs(1),
                )
                .ok()
                .flatten();
                vpcd.exited = status;
                Err(vpcd.not_ready(format!(
                    "stdout closed before `ready` (exit status: {status:?})"
                )))
            }
        }
    }

    fn not_ready(&self, detail: String) -> Error {
        Error::NotReady {
            what: format!("vpcd (pid {})", self.child.id()),
            detail,
            log_tail: self.log_tail(4096),
        }
    }

    /// The control socket path.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The stderr log path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The daemon's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `ready …` line vpcd printed.
    pub fn ready_line(&self) -> &str {
        &self.ready_line
    }

    /// The URL of the metrics endpoint (`metrics=URL` on the ready line), when vpcd was
    /// started with `--metrics`.
    pub fn metrics_url(&self) -> Option<&str> {
        control::lab::ready_field(&self.ready_line, "metrics")
    }

    /// The run prefix it was started with (its TAP names start with it).
    pub fn prefix(&self) -> &RunPrefix {
        &self.prefix
    }

    /// The per-daemon scratch directory (socket and log live here).
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The last `max_bytes` of the log, as text.
    pub fn log_tail(&self, max_bytes: u64) -> String {
        let Ok(mut f) = File::open(&self.log) else {
            return String::from("(no log)");
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(max_bytes)));
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Whether the process has exited (reaps it if so).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Stops vpcd now (SIGTERM, bounded wait, SIGKILL) and returns its exit status, so a test can
    /// assert that it shuts down cleanly.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = terminate(&mut self.child, STOP_GRACE, "vpcd");
        }
        self.exited
    }
}

impl Drop for Vpcd {
    fn drop(&mut self) {
        if self.exited.is_none() {
            self.exited = terminate(&mut self.child, STOP_GRACE, "vpcd");
            if self.exited.is_none() {
                kill_and_reap(&mut self.child, "vpcd");
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "testbeds: vpcd (pid {}) log kept at {}",
                self.child.id(),
                self.log.display()
            );
        }
    }
}
