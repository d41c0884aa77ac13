//! Helpers for `vpcctl up`, `exec` and `down`: the vpcd process, and the state file that
//! records what `up` created so that `down` removes exactly that. Network namespaces are
//! handled with [`dataplane::sys::ip`].

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The state file's name, in the socket's directory.
pub const STATE_FILE: &str = "vpcctl-up.json";
/// vpcd's log file's name, in the socket's directory.
pub const LOG_FILE: &str = "vpcd.log";

/// Why a lab operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A command could not be started at all.
    #[error("cannot run `{program}`{hint}")]
    Spawn {
        /// The program.
        program: String,
        /// The error.
        #[source]
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file operation failed.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not ours or is corrupt.
    #[error("{}: not a vpcctl state file (remove it if no lab is running)", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// vpcd (or a host service) exited, or closed stdout, before saying `ready`.
    #[error("{program} exited before it was ready; last lines of {}:\n{log_tail}", log.display())]
    NotReady {
        /// What did not get ready.
        program: String,
        /// Its log file.
        log: PathBuf,
        /// The end of that log.
        log_tail: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LabError + '_ {
    move |source| LabError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs a command to completion, turning a non-zero exit into [`LabError::Command`].
fn run(program: &str, args: &[&str]) -> Result<(), LabError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LabError::Spawn {
            program: program.to_string(),
            source,
            hint: "",
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Command {
            command: std::iter::once(program)
                .chain(args.iter().copied())
                .collect::<Vec<_>>()
                .join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The exit code a shell would report for `status`: the code, or 128 + the signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

/// Whether a process with this PID is alive (exists and is not a zombie).
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may contain spaces.
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// When a process started (field 22 of `/proc/PID/stat`, clock ticks since boot); with the
/// PID it identifies one process even after the PID is reused.
pub fn pid_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    // `rest` starts at field 3 (state), so field 22 is its 20th entry.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is still the vpcd that `state` recorded: alive, and with the recorded
/// start time (or, for state files without one, a command name starting with `vpcd`).
pub fn is_recorded_vpcd(state: &UpState, pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match state.vpcd_start_time {
        Some(t) => pid_start_time(pid) == Some(t),
        None => pid_comm(pid).is_some_and(|c| c.starts_with("vpcd")),
    }
}

/// The command name of a process (`/proc/PID/comm`), if it exists.
pub fn pid_comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Polls until the process exits or `timeout` passes; returns whether it exited.
pub fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !pid_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM to exactly this PID (`kill -TERM PID`).
pub fn terminate(pid: u32) -> Result<(), LabError> {
    run("kill", &["-TERM", &pid.to_string()])
}

/// What `vpcctl up` created, so that `vpcctl down` removes exactly that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpState {
    /// The vpcd that `up` started (none if one was already running).
    #[serde(default)]
    pub vpcd_pid: Option<u32>,
    /// That vpcd's start time ([`pid_start_time`]), so a reused PID is never signalled.
    #[serde(default)]
    pub vpcd_start_time: Option<u64>,
    /// Namespaces that `up` created (existing ones are never recorded, so never deleted).
    #[serde(default)]
    pub namespaces_created: Vec<String>,
    /// The internet hosts `up` built: id → namespace (for `vpcctl exec HOST`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub internet_hosts: std::collections::BTreeMap<String, String>,
    /// The host services `up` started (stopped by `down`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceProcess>,
    /// The DHCP clients `up` left running (stopped by `down`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dhcp_clients: Vec<DhcpClientProcess>,
}

/// A host service process that `vpcctl up` started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProcess {
    /// The internet host it serves.
    pub host: String,
    /// Its PID.
    pub pid: u32,
    /// Its start time ([`pid_start_time`]), so a reused PID is never signalled.
    pub start_time: Option<u64>,
}

impl ServiceProcess {
    /// Whether the PID is still this process.
    pub fn is_alive(&self) -> bool {
        pid_alive(self.pid) && pid_start_time(self.pid) == self.start_time
    }
}

/// A DHCP client ([`crate::dhcp_client`]) left running in the background to renew its
/// lease, identified by PID and start time so that only this process is ever signalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpClientProcess {
    /// The ENI it configures.
    pub eni: String,
    /// Its namespace.
    pub netns: String,
    /// Its PID.
    pub pid: u32,
    /// Its start time ([`pid_start_time`]).
    pub start_time: Option<u64>,
    /// Its run directory (script, records, pid file).
    pub dir: PathBuf,
}

impl DhcpClientProcess {
    /// Whether the PID is still this process.
    pub fn is_alive(&self) -> bool {
        pid_alive(self.pid) && pid_start_time(self.pid) == self.start_time
    }

    /// Ends it (SIGTERM to its PID, while that is still this process) and waits up to
    /// `timeout` for it to go; then removes what it wrote under `/etc/netns`.
    pub fn stop(&self, timeout: Duration) -> Result<(), String> {
        let result = if self.is_alive() {
            terminate(self.pid)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    if wait_gone(self.pid, timeout) {
                        Ok(())
                    } else {
                        Err(format!("did not exit within {timeout:?}"))
                    }
                })
                .map_err(|e| format!("the DHCP client of {} (pid {}): {e}", self.eni, self.pid))
        } else {
            Ok(())
        };
        remove_netns_etc(&self.netns);
        result
    }
}

/// Polls (from 1 ms, doubling to 20 ms) until `pid` is gone or `timeout` passes.
fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut step = Duration::from_millis(1);
    loop {
        if !pid_alive(pid) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(step.min(deadline - now));
        step = (step * 2).min(Duration::from_millis(20));
    }
}

/// Where `ip netns exec NETNS` finds files to bind-mount over `/etc` (`/etc/netns/NETNS`).
pub fn netns_etc_dir(netns: &str) -> PathBuf {
    Path::new("/etc/netns").join(netns)
}

/// Removes the `resolv.conf` a client wrote for namespace `netns` under `/etc/netns`,
/// and the namespace's directory there if that leaves it empty (anything else in it is
/// not ours and stays).
pub fn remove_netns_etc(netns: &str) {
    if netns.is_empty() || netns.contains('/') || netns.starts_with('.') {
        return;
    }
    let dir = netns_etc_dir(netns);
    for f in ["resolv.conf", "resolv.conf.tmp"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    // Fails (and keeps it) unless empty.
    let _ = std::fs::remove_dir(&dir);
}

/// Starts `binary ARGS…` in namespace `netns` (`ip netns exec`, which execs, so the PID
/// is the service's) in its own process group, stdin null, stderr appended to `log`,
/// and blocks until it prints a line starting with `ready` on stdout.
pub fn start_in_netns(
    binary: &Path,
    netns: &str,
    args: &[String],
    log: &Path,
) -> Result<Child, LabError> {
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log)
        .map_err(io_err(log))?;
    let log_start = log_file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = Command::new("ip")
        .args(["netns", "exec", netns])
        .arg(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .process_group(0)
        .spawn()
        .map_err(|source| LabError::Spawn {
            program: "ip".to_string(),
            source,
            hint: " (install iproute2)",
        })?;
    let ready = child.stdout.take().is_some_and(|out| {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.starts_with("ready"))
    });
    if ready {
        Ok(child)
    } else {
        stop_child(&mut child, Duration::from_secs(2));
        Err(LabError::NotReady {
            program: format!("service in namespace {netns}"),
            log: log.to_path_buf(),
            log_tail: log_tail_since(log, log_start, 20),
        })
    }
}

/// The state file for a socket: `<socket dir>/vpcctl-up.json`.
pub fn state_path(socket: &Path) -> PathBuf {
    socket_dir(socket).join(STATE_FILE)
}

/// vpcd's log file for a socket: `<socket dir>/vpcd.log`.
pub fn log_path(socket: &Path) -> PathBuf {
    socket_dir(socket).join(LOG_FILE)
}

/// The directory of the socket (`.` for a bare file name).
pub fn socket_dir(socket: &Path) -> PathBuf {
    match socket.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl UpState {
    /// Reads the state file; a missing file is the empty state.
    pub fn load(path: &Path) -> Result<UpState, LabError> {
        match fs::read_to_string(path) {
            Ok(s) => serde_json::from_str(&s).map_err(|source| LabError::State {
                path: path.to_path_buf(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UpState::default()),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    /// Writes the state file (mode 0600, replaced atomically).
    pub fn save(&self, path: &Path) -> Result<(), LabError> {
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_string_pretty(self).map_err(|source| LabError::State {
            path: path.to_path_buf(),
            source,
        })?;
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err(&tmp))?;
            std::io::Write::write_all(&mut f, body.as_bytes()).map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, path).map_err(io_err(path))
    }

    /// Removes the state file; a missing one is fine.
    pub fn remove(path: &Path) -> Result<(), LabError> {
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(path)(e)),
        }
    }
}

/// Creates a directory (and its parents) with mode 0700 if it does not exist.
pub fn create_private_dir(dir: &Path) -> Result<(), LabError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// The last `lines` lines of a file (empty if unreadable), reading at most its last 64 KiB.
pub fn log_tail(path: &Path, lines: usize) -> String {
    log_tail_since(path, 0, lines)
}

/// The last `lines` lines of what a file holds after byte `offset` (at most 64 KiB).
pub fn log_tail_since(path: &Path, offset: u64, lines: usize) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024).max(offset)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts `vpcd --socket SOCKET` in its own process group (so it outlives the terminal),
/// stdin null, stderr appended to `<socket dir>/vpcd.log`, and blocks until it prints
/// its readiness line (a line starting with `ready`) on stdout.
pub fn start_vpcd(binary: &Path, socket: &Path) -> Result<Child, LabError> {
    start_vpcd_with(binary, socket, &[]).map(|(child, _)| child)
}

/// [`start_vpcd`] with `extra_args` after `--socket SOCKET` (for example
/// `--metrics 127.0.0.1:9100`); returns the child and its readiness line.
pub fn start_vpcd_with(
    binary: &Path,
    socket: &Path,
    extra_args: &[std::ffi::OsString],
) -> Result<(Child, String), LabError> {
    let dir = socket_dir(socket);
    create_private_dir(&dir)?;
    let log = log_path(socket);
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .map_err(io_err(&log))?;
    let log_start = log_file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = Command::new(binary)
        .arg("--socket")
        .arg(socket)
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .process_group(0)
        .spawn()
        .map_err(|source| LabError::Spawn {
            program: binary.display().to_string(),
            source,
            hint: " (build it with `cargo build --release -p dataplane`, or pass --vpcd PATH)",
        })?;
    let ready = match child.stdout.take() {
        Some(out) => {
            let mut reader = BufReader::new(out);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break None,
                    Ok(_) if line.starts_with("ready") => break Some(line.trim_end().to_string()),
                    Ok(_) => continue,
                }
            }
            // The pipe's read end closes here; vpcd only prints the readiness line.
        }
        None => None,
    };
    if let Some(line) = ready {
        Ok((child, line))
    } else {
        let _ = child.kill();
        let _ = child.wait();
        let tail = log_tail_since(&log, log_start, 20);
        Err(LabError::NotReady {
            program: "vpcd".to_string(),
            log_tail: if tail.is_empty() {
                "(vpcd wrote nothing)".to_string()
            } else {
                tail
            },
            log,
        })
    }
}

/// The value of field `key` (`key=value`) of vpcd's readiness line, e.g. `metrics`.
pub fn ready_field<'a>(ready_line: &'a str, key: &str) -> Option<&'a str> {
    ready_line
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Stops a vpcd that this process started: SIGTERM, wait up to `timeout`, then SIGKILL.
pub fn stop_child(child: &mut Child, timeout: Duration) {
    let _ = terminate(child.id());
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Retries `f` while exec fails with "text file busy": a script just written can
    /// still be open for writing in a child that another test thread forked at that
    /// moment, until that child execs.
    fn retry_busy<T>(mut f: impl FnMut() -> Result<T, LabError>) -> Result<T, LabError> {
        for _ in 0..50 {
            match f() {
                Err(LabError::Spawn { source, .. })
                    if source.kind() == std::io::ErrorKind::ExecutableFileBusy =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
        f()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vpcctl-lab-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn state_round_trips_and_missing_is_empty() {
        let dir = temp_dir("state");
        create_private_dir(&dir).unwrap();
        let path = state_path(&dir.join("vpcd.sock"));
        assert_eq!(UpState::load(&path).unwrap(), UpState::default());
        let st = UpState {
            vpcd_pid: Some(42),
            vpcd_start_time: Some(7),
            namespaces_created: vec!["ns-a".into()],
            internet_hosts: [("client".to_string(), "ns-client".to_string())].into(),
            services: vec![ServiceProcess {
                host: "client".into(),
                pid: 43,
                start_time: Some(8),
            }],
            dhcp_clients: vec![DhcpClientProcess {
                eni: "eni-a".into(),
                netns: "ns-a".into(),
                pid: 44,
                start_time: Some(9),
                dir: dir.join("dhcp/eni-a"),
            }],
        };
        st.save(&path).unwrap();
        assert_eq!(UpState::load(&path).unwrap(), st);
        UpState::remove(&path).unwrap();
        UpState::remove(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn private_dir_is_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("private").join("sub");
        create_private_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn exit_codes_pass_through() {
        let st = Command::new("sh").args(["-c", "exit 3"]).status().unwrap();
        assert_eq!(exit_code(st), 3);
        let st = Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .status()
            .unwrap();
        assert_eq!(exit_code(st), 128 + 15);
    }

    #[test]
    fn liveness_of_own_and_dead_processes() {
        assert!(pid_alive(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(pid) || pid_comm(pid).as_deref() != Some("true"));
        assert!(
            wait_for_exit(pid, Duration::from_millis(200))
                || pid_comm(pid).as_deref() != Some("true")
        );
    }

    #[test]
    fn start_vpcd_waits_for_ready_or_reports_log() {
        let dir = temp_dir("start");
        let socket = dir.join("vpcd.sock");
        create_private_dir(&dir).unwrap();
        // A stand-in daemon: logs, says ready, exits.
        let good = dir.join("good.sh");
        fs::write(&good, "#!/bin/sh\necho starting >&2\necho ready\n").unwrap();
        let bad = dir.join("bad.sh");
        fs::write(
            &bad,
            "#!/bin/sh\necho 'cannot open /dev/net/tun' >&2\nexit 1\n",
        )
        .unwrap();
        for f in [&good, &bad] {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(f, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut child = retry_busy(|| start_vpcd(&good, &socket)).unwrap();
        child.wait().unwrap();
        // Extra arguments reach the daemon; the readiness line comes back.
        let echo = dir.join("echo.sh");
        fs::write(&echo, "#!/bin/sh\necho \"ready args=$*\"\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&echo, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let (mut child, line) = retry_busy(|| {
            start_vpcd_with(&echo, &socket, &["--metrics".into(), "127.0.0.1:0".into()])
        })
        .unwrap();
        child.wait().unwrap();
        assert_eq!(
            line,
            format!(
                "ready args=--socket {} --metrics 127.0.0.1:0",
                socket.display()
            )
        );
        match retry_busy(|| start_vpcd(&bad, &socket)) {
            Err(LabError::NotReady { log_tail, .. }) => {
                assert!(log_tail.contains("cannot open /dev/net/tun"), "{log_tail}");
                assert!(!log_tail.contains("starting"), "{log_tail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ready_line_fields() {
        let l = "ready socket=/run/vpcd/vpcd.sock pid=7 metrics=http://127.0.0.1:9100/metrics";
        assert_eq!(ready_field(l, "pid"), Some("7"));
        assert_eq!(
            ready_field(l, "metrics"),
            Some("http://127.0.0.1:9100/metrics")
        );
        assert_eq!(ready_field("ready socket=/x pid=7", "metrics"), None);
    }

    #[test]
    fn start_time_identifies_a_process() {
        let me = std::process::id();
        let t = pid_start_time(me).unwrap();
        assert_eq!(pid_start_time(me), Some(t));
        let state = UpState {
            vpcd_pid: Some(me),
            vpcd_start_time: Some(t),
            ..UpState::default()
        };
        assert!(is_recorded_vpcd(&state, me));
        let reused = UpState {
            vpcd_start_time: Some(t + 1),
            ..state
        };
        assert!(!is_recorded_vpcd(&reused, me));
    }

    #[test]
    fn log_tail_keeps_last_lines() {
        let dir = temp_dir("tail");
        create_private_dir(&dir).unwrap();
        let p = dir.join("log");
        fs::write(&p, "1\n2\n3\n4\n").unwrap();
        assert_eq!(log_tail(&p, 2), "3\n4");
        assert_eq!(log_tail(&dir.join("missing"), 2), "");
    }

    #[test]
    fn socket_dir_of_bare_name() {
        assert_eq!(socket_dir(Path::new("vpcd.sock")), PathBuf::from("."));
        assert_eq!(
            state_path(Path::new("/run/vpcd/vpcd.sock")),
            PathBuf::from("/run/vpcd/vpcctl-up.json")
        );
    }
}
