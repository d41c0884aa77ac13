//! Running commands with deadlines, and background processes as guards.
//!
//! Every process started here is ended by its own PID (never by name) and reaped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dataplane::sys::ip::Ip;

use crate::error::{Error, Result};

/// Default deadline for short administrative commands (`ip …`, `ss …`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of each captured stream is kept (the tail).
const CAPTURE_LIMIT: usize = 256 * 1024;

/// How many unread output lines are queued for [`NsChild::wait_for_line`] before new ones are dropped.
const LINE_QUEUE: usize = 4096;

/// Renders an argv for messages.
pub(crate) fn describe(argv: &[&str]) -> String {
    argv.join(" ")
}

/// Polls `child.try_wait()` until it exits or `deadline` passes (short backoff, no fixed sleep).
///
/// Process exit has no readiness fd in std, so this is the "poll a condition with a deadline" case.
pub(crate) fn wait_deadline(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<ExitStatus>> {
    let mut step = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(step.min(deadline - now));
        step = (step * 2).min(Duration::from_millis(20));
    }
}

/// Sends SIGTERM, waits up to `grace`, then SIGKILL; always reaps. Returns the exit status if known.
pub(crate) fn terminate(child: &mut Child, grace: Duration, what: &str) -> Option<ExitStatus> {
    match child.try_wait() {
        Ok(Some(status)) => return Some(status),
        Ok(None) => {}
        Err(e) => tracing::warn!(%e, what, "try_wait failed"),
    }
    // Not reaped yet, so the pid still names our child (at worst a zombie): safe to signal.
    if let Err(e) = crate::sys::kill(child.id(), libc::SIGTERM) {
        tracing::warn!(%e, what, pid = child.id(), "SIGTERM failed");
    }
    match wait_deadline(child, Instant::now() + grace) {
        Ok(Some(status)) => return Some(status),
        Ok(None) => tracing::warn!(
            what,
            pid = child.id(),
            ?grace,
            "no exit after SIGTERM; sending SIGKILL"
        ),
        Err(e) => tracing::warn!(%e, what, "waiting after SIGTERM failed"),
    }
    kill_and_reap(child, what)
}

/// SIGKILLs the child by its PID (std's `Child::kill`) and reaps it.
pub(crate) fn kill_and_reap(child: &mut Child, what: &str) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    if let Err(e) = child.kill() {
        tracing::warn!(%e, what, pid = child.id(), "SIGKILL failed");
    }
    match child.wait() {
        Ok(status) => Some(status),
        Err(e) => {
            tracing::warn!(%e, what, pid = child.id(), "reaping failed");
            None
        }
    }
}

/// Appends `data` to a bounded tail buffer.
fn push_tail(buf: &Mutex<Vec<u8>>, data: &[u8]) {
    let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
    b.extend_from_slice(data);
    if b.len() > CAPTURE_LIMIT {
        let cut = b.len() - CAPTURE_LIMIT;
        b.drain(..cut);
    }
}

fn tail_text(buf: &Mutex<Vec<u8>>) -> String {
    let b = buf.lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(&b).into_owned()
}

/// Runs a prepared command to completion with a deadline, capturing stdout and stderr.
///
/// On timeout the child is killed by its PID and reaped, and [`Error::Timeout`] is returned.
/// A non-zero exit is *not* an error here: callers inspect `Output::status`.
///
/// The child is SIGKILLed if the calling thread dies (`PR_SET_PDEATHSIG`), which is right here
/// because this function waits for it on the same thread.
pub fn run_command(mut cmd: Command, desc: &str, timeout: Duration) -> Result<Output> {
    tracing::debug!(cmd = desc, "run");
    crate::sys::die_with_parent(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        cmd: desc.to_owned(),
        source,
    })?;
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        readers += 1;
        spawn_slurp(out, true, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        readers += 1;
        spawn_slurp(err, false, tx.clone());
    }
    drop(tx);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    // Block on the pipes' EOF (the usual "it exited" signal) with the deadline.
    while readers > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((is_out, data)) => {
                readers -= 1;
                if is_out {
                    stdout = data;
                } else {
                    stderr = data;
                }
            }
            Err(_) => break,
        }
    }
    let status = wait_deadline(&mut child, deadline)
        .map_err(|e| Error::io(format!("waiting for `{desc}`"), e))?;
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => {
            kill_and_reap(&mut child, desc);
            // Give the readers a moment to deliver what they have now that the pipes closed.
            let grace = Instant::now() + Duration::from_millis(500);
            while readers > 0 {
                match rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
                    Ok((false, data)) => {
                        readers -= 1;
                        stderr = data;
                    }
                    Ok((true, _)) => readers -= 1,
                    Err(_) => break,
                }
            }
            Err(Error::Timeout {
                cmd: desc.to_owned(),
                timeout,
                stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
            })
        }
    }
}

fn spawn_slurp<R: Read + Send + 'static>(
    mut r: R,
    is_out: bool,
    tx: mpsc::Sender<(bool, Vec<u8>)>,
) {
    thread::spawn(move || {
        let mut data = Vec::new();
        let _ = r.read_to_end(&mut data);
        let _ = tx.send((is_out, data));
    });
}

/// Like [`run_command`] but a non-zero exit becomes [`Error::Command`]; returns stdout as text.
pub fn run_command_ok(cmd: Command, desc: &str, timeout: Duration) -> Result<String> {
    let out = run_command(cmd, desc, timeout)?;
    check_output(desc, out)
}

/// Turns a finished [`Output`] into stdout text, or [`Error::Command`] if it failed.
pub(crate) fn check_output(desc: &str, out: Output) -> Result<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Command {
            cmd: desc.to_owned(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Runs one `ip(8)` invocation with the default deadline (killed by PID on timeout) and
/// returns stdout; a non-zero exit is [`Error::Ip`] naming the command line and ip's stderr.
pub fn run_ip(ip: &Ip) -> Result<String> {
    let out = run_command(ip.command(), &ip.to_string(), DEFAULT_TIMEOUT)?;
    Ok(ip.check(&out)?)
}

/// Runs `argv` (no namespace) with a deadline and returns stdout; non-zero exit is an error.
pub fn run_ok(argv: &[&str], timeout: Duration) -> Result<String> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| Error::parse("argv", "empty command line"))?;
    let mut cmd = Command::new(prog);
    cmd.args(args);
    run_command_ok(cmd, &describe(argv), timeout)
}

/// Which stream an output line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The child's stdout.
    Stdout,
    /// The child's stderr.
    Stderr,
}

/// How [`crate::Netns::spawn_with`] wires the child's stdio.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpawnOpts {
    /// Give the child a stdin pipe (take it with [`NsChild::take_stdin`]); otherwise `/dev/null`.
    pub stdin_pipe: bool,
    /// Leave the child's stdout pipe raw for the caller ([`NsChild::take_stdout`]) instead of
    /// capturing it line by line.
    pub raw_stdout: bool,
    /// SIGKILL the child when the thread that spawned it exits (`PR_SET_PDEATHSIG`), so a test
    /// process that is itself SIGKILLed leaves no orphan. Only for children owned by the spawning
    /// thread (Linux ties this to the thread, not the process).
    pub die_with_thread: bool,
}

/// A background process (usually inside a namespace), killed by its PID and reaped on Drop.
///
/// stdout (unless raw) and stderr are read by background threads: lines are queued for
/// [`NsChild::wait_for_line`] and the tail is kept for error messages. The guard can hold
/// something that must outlive the process: [`crate::Netns::spawn`] gives it a clone of the
/// namespace, so the namespace is never deleted under a running process.
pub struct NsChild {
    child: Child,
    desc: String,
    lines: Receiver<(Stream, String)>,
    stdout_tail: Arc<Mutex<Vec<u8>>>,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    exited: Option<ExitStatus>,
    // Dropped after the child is killed (fields drop after `Drop::drop` runs).
    _keep_alive: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for NsChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsChild")
            .field("pid", &self.child.id())
            .field("cmd", &self.desc)
            .finish()
    }
}

impl NsChild {
    /// Spawns a prepared command as a guarded background process.
    ///
    /// `keep_alive` is dropped only after the child has been killed and reaped (for a process
    /// inside a namespace: the [`crate::Netns`] guard, so the namespace outlives the process).
    pub fn spawn(
        mut cmd: Command,
        desc: String,
        keep_alive: Option<Box<dyn Send + Sync>>,
        opts: SpawnOpts,
    ) -> Result<NsChild> {
        tracing::debug!(cmd = %desc, "spawn");
        if opts.die_with_thread {
            crate::sys::die_with_parent(&mut cmd);
        }
        cmd.stdin(if opts.stdin_pipe {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            cmd: desc.clone(),
            source,
        })?;
        let (tx, rx) = mpsc::sync_channel(LINE_QUEUE);
        let stdout_tail = Arc::new(Mutex::new(Vec::new()));
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if !opts.raw_stdout {
            if let Some(out) = child.stdout.take() {
                readers.push(spawn_lines(
                    out,
                    Stream::Stdout,
                    stdout_tail.clone(),
                    tx.clone(),
                ));
            }
        }
        if let Some(err) = child.stderr.take() {
            readers.push(spawn_lines(
                err,
                Stream::Stderr,
                stderr_tail.clone(),
                tx.clone(),
            ));
        }
        drop(tx);
        Ok(NsChild {
            child,
            desc,
            lines: rx,
            stdout_tail,
            stderr_tail,
            readers,
            exited: None,
            _keep_alive: keep_alive,
        })
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line, for messages.
    pub fn description(&self) -> &str {
        &self.desc
    }

    /// Takes the stdin pipe (only with [`SpawnOpts::stdin_pipe`]). Dropping it sends EOF.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Takes the raw stdout pipe (only with [`SpawnOpts::raw_stdout`]).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The captured stdout so far (bounded tail).
    pub fn stdout_text(&self) -> String {
        tail_text(&self.stdout_tail)
    }

    /// The captured stderr so far (bounded tail).
    pub fn stderr_text(&self) -> String {
        tail_text(&self.stderr_tail)
    }

    /// Blocks until a line (stdout or stderr) satisfies `pred`, returning it.
    ///
    /// This is the readiness signal for servers that announce themselves (socat `-d -d`,
    /// iperf3 `--forceflush`). Fails with [`Error::NotReady`] on EOF of both streams or deadline.
    pub fn wait_for_line(
        &mut self,
        mut pred: impl FnMut(Stream, &str) -> bool,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((stream, line)) => {
                    if pred(stream, &line) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(
                        self.not_ready(format!("no matching output line within {timeout:?}"))
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.try_wait().ok().flatten();
                    return Err(
                        self.not_ready(format!("output closed first (exit status: {status:?})"))
                    );
                }
            }
        }
    }

    fn not_ready(&self, detail: String) -> Error {
        Error::NotReady {
            what: self.desc.clone(),
            detail,
            log_tail: last_lines(&format!("{}{}", self.stdout_text(), self.stderr_text()), 30),
        }
    }

    /// Non-blocking exit check (reaps if exited).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.exited {
            return Ok(Some(s));
        }
        let s = self
            .child
            .try_wait()
            .map_err(|e| Error::io(format!("try_wait on `{}`", self.desc), e))?;
        self.exited = s;
        Ok(s)
    }

    /// Waits for exit up to `timeout` without killing; [`Error::Timeout`] if still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if let Some(s) = self.exited {
            return Ok(s);
        }
        let status = wait_deadline(&mut self.child, Instant::now() + timeout)
            .map_err(|e| Error::io(format!("waiting for `{}`", self.desc), e))?;
        match status {
            Some(s) => {
                self.exited = Some(s);
                self.join_readers();
                Ok(s)
            }
            None => Err(Error::Timeout {
                cmd: self.desc.clone(),
                timeout,
                stderr: last_lines(&self.stderr_text(), 20),
            }),
        }
    }

    /// Waits up to `timeout` and requires a successful exit; returns captured stdout.
    pub fn wait_ok(&mut self, timeout: Duration) -> Result<String> {
        let status = self.wait_timeout(timeout)?;
        if status.success() {
            Ok(self.stdout_text())
        } else {
            Err(Error::Command {
                cmd: self.desc.clone(),
                status: status.to_string(),
                stderr: last_lines(&self.stderr_text(), 20),
            })
        }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL; reaps. Returns the exit status if known.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = terminate(&mut self.child, grace, &self.desc);
        }
        self.exited
    }

    /// Joins the output readers if they are done (they end at EOF, which follows exit unless a
    /// grandchild inherited the pipes; in that case they are left detached).
    fn join_readers(&mut self) {
        let (done, pending): (Vec<_>, Vec<_>) =
            self.readers.drain(..).partition(|h| h.is_finished());
        for h in done {
            let _ = h.join();
        }
        self.readers = pending;
    }
}

impl Drop for NsChild {
    fn drop(&mut self) {
        if self.exited.is_none() {
            self.exited = kill_and_reap(&mut self.child, &self.desc);
        }
        self.join_readers();
    }
}

fn spawn_lines<R: Read + Send + 'static>(
    r: R,
    stream: Stream,
    tail: Arc<Mutex<Vec<u8>>>,
    tx: SyncSender<(Stream, String)>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    push_tail(&tail, &line);
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    // Queue full means nobody is waiting for lines: dropping is fine, the tail has it.
                    let _ = tx.try_send((stream, text));
                }
            }
        }
    })
}

/// The last `n` lines of `text`.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Parses `/proc/<pid>/stat` for the process's CPU time in clock ticks: `utime + stime`
/// (fields 14 and 15, counted after the parenthesised command name, which may hold spaces).
pub fn parse_proc_stat_ticks(stat: &str) -> Result<u64> {
    let err = |detail: &str| Error::parse("/proc/<pid>/stat", format!("{detail}: {stat:?}"));
    let (_, rest) = stat
        .rsplit_once(')')
        .ok_or_else(|| err("no ')' after the command name"))?;
    // `rest` starts at field 3 (state): utime (14) is its 12th token, stime (15) the 13th.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| err("utime/stime missing or not a number"))
    };
    Ok(field(11)? + field(12)?)
}

/// CPU seconds (user + system, all threads) process `pid` has used so far.
pub fn process_cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("reading {path}"), e))?;
    let ticks = parse_proc_stat_ticks(&stat)?;
    let hz = crate::sys::clock_ticks_per_sec()
        .ok_or_else(|| Error::parse("sysconf(_SC_CLK_TCK)", "no positive value"))?;
    Ok(ticks as f64 / hz as f64)
}

/// Resident memory of process `pid` in bytes (`VmRSS` of `/proc/<pid>/status`; `self` for
/// the caller).
pub fn resident_bytes(pid: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("reading {path}"), e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| Error::parse(path, "no VmRSS line"))
}
