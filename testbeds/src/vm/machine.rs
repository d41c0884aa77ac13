//! A running guest: QEMU as a guarded child process, its serial console, commands between markers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::console::{Console, Found};
use super::{qemu_argv, which_qemu, Accel, VmOptions, HARNESS_APPEND, READY_MARKER};
use crate::error::{Error, Result};
use crate::names::RunPrefix;
use crate::process::{last_lines, NsChild, SpawnOpts};
use crate::scratch::Scratch;

/// A running QEMU guest with its serial console; Drop kills QEMU by its PID and removes its files.
pub struct Vm {
    name: String,
    accel: Accel,
    started: Instant,
    boot_time: Option<Duration>,
    seq: u64,
    console: Arc<Console>,
    // Drop order: stdin (EOF), the process (killed by PID and reaped), the reader, the files.
    stdin: Option<ChildStdin>,
    child: NsChild,
    reader: Option<JoinHandle<()>>,
    dir: Scratch,
    _prefix: RunPrefix,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("name", &self.name)
            .field("pid", &self.child.pid())
            .field("accel", &self.accel)
            .finish()
    }
}

impl Vm {
    /// Launches the VM and waits (up to `opts.boot_timeout`) for its shell; see [`Vm::boot_time`].
    pub fn boot(opts: VmOptions) -> Result<Vm> {
        let timeout = opts.boot_timeout;
        let mut vm = Vm::launch(opts)?;
        vm.wait_ready(timeout)?;
        Ok(vm)
    }

    /// Starts QEMU without waiting for the guest (then [`Vm::wait_ready`]); lets a caller start
    /// several VMs that boot in parallel.
    pub fn launch(opts: VmOptions) -> Result<Vm> {
        which_qemu()?;
        let prefix = match &opts.prefix {
            Some(p) => p.clone(),
            None => RunPrefix::new()?,
        };
        let name = prefix.ns_name(&opts.name);
        let accel = opts.accel.resolve();
        let dir = Scratch::new(&name)?.keep_on_panic(true);
        let mut opts = opts;
        opts.append = format!("{HARNESS_APPEND} {}", opts.append);
        let argv = qemu_argv(&opts, &name, accel);
        let log_path = dir.join("console.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
        // `ip netns exec` enters the namespace and execs QEMU: the child's PID is QEMU's.
        let argv: Vec<String> = match &opts.netns {
            Some(ns) => ["ip", "netns", "exec", ns.as_str()]
                .into_iter()
                .map(String::from)
                .chain(argv)
                .collect(),
            None => argv,
        };
        let desc = argv.join(" ");
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).current_dir(dir.path());
        tracing::info!(vm = %name, cmd = %desc, "launching VM");
        let started = Instant::now();
        let mut child = NsChild::spawn(
            cmd,
            desc,
            None,
            SpawnOpts {
                stdin_pipe: true,
                raw_stdout: true,
                die_with_thread: opts.die_with_thread,
            },
        )?;
        let stdin = child.take_stdin();
        let stdout = child
            .take_stdout()
            .ok_or_else(|| Error::parse("QEMU stdout", "no pipe"))?;
        let (console, reader) = Console::start(stdout, Some(log));
        Ok(Vm {
            name,
            accel,
            started,
            boot_time: None,
            seq: 0,
            console,
            stdin,
            child,
            reader: Some(reader),
            dir,
            _prefix: prefix,
        })
    }

    /// Reboots the guest in place (`reboot -f`: no clean shutdown, as a crashed guest's watchdog
    /// would) and waits up to `timeout` for its shell again; returns the time to the new shell.
    /// The VM must have been launched with [`VmOptions::allow_reboot`], else QEMU exits and this
    /// is an error. QEMU, its process and its NIC back ends stay; the guest's devices reset.
    pub fn reboot(&mut self, timeout: Duration) -> Result<Duration> {
        let from = self.console.end();
        let started = Instant::now();
        self.type_text("reboot -f\n")?;
        let marker = format!("{READY_MARKER}\n");
        self.wait_marker(marker.as_bytes(), from, started + timeout, "reboot")?;
        let t = started.elapsed();
        tracing::info!(vm = %self.name, took = ?t, "VM rebooted");
        Ok(t)
    }

    /// Waits for the shell's [`READY_MARKER`]; records [`Vm::boot_time`].
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        if let Some(t) = self.boot_time {
            return Ok(t);
        }
        let marker = format!("{READY_MARKER}\n");
        self.wait_marker(marker.as_bytes(), 0, Instant::now() + timeout, "boot")?;
        let t = self.started.elapsed();
        tracing::info!(vm = %self.name, accel = self.accel.as_str(), boot = ?t, "VM ready");
        self.boot_time = Some(t);
        Ok(t)
    }

    /// Waits for `marker` at or after console offset `from`; its (start, end) offsets.
    pub(super) fn wait_marker(
        &mut self,
        marker: &[u8],
        from: usize,
        deadline: Instant,
        what: &str,
    ) -> Result<(usize, usize)> {
        match self.console.wait_for(marker, from, deadline) {
            Found::At(end, start) => Ok((start, end)),
            Found::Eof => {
                // QEMU closed its stdout: it is exiting; give it a moment to report why.
                let status = self.child.wait_timeout(Duration::from_secs(2)).ok();
                Err(self.console_error(format!(
                    "{what}: console closed before `{}` (QEMU exit status: {status:?})",
                    String::from_utf8_lossy(marker).trim()
                )))
            }
            Found::Deadline => Err(self.console_error(format!(
                "{what}: no `{}` on the console in time",
                String::from_utf8_lossy(marker).trim()
            ))),
        }
    }

    /// Waits up to `timeout` for QEMU to exit by itself; whether it did.
    pub(super) fn wait_exit(&mut self, timeout: Duration) -> bool {
        self.child.wait_timeout(timeout).is_ok()
    }

    fn console_error(&self, detail: String) -> Error {
        Error::VmConsole {
            vm: self.name.clone(),
            detail,
            console_tail: self.console.tail(30),
            stderr: last_lines(&self.child.stderr_text(), 20),
        }
    }

    fn type_text(&mut self, text: &str) -> Result<()> {
        let res = match self.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(text.as_bytes())
                .and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        res.map_err(|e| self.console_error(format!("typing on the console: {e}")))
    }

    /// Types `cmd` on the console (stdin `/dev/null`) and returns its exit code and output (stdout
    /// and stderr interleaved as the console shows them, `\r` removed).
    ///
    /// The output is read between two markers unique to this call. On timeout the console gets a
    /// Ctrl-C (SIGINT to the command) and [`Error::Timeout`] is returned.
    pub fn run(&mut self, cmd: &str, timeout: Duration) -> Result<(i32, String)> {
        self.seq += 1;
        let n = self.seq;
        let deadline = Instant::now() + timeout;
        let from = self.console.end();
        // The markers are printed from two halves: the typed text never contains them whole.
        let line =
            format!("printf '%s%s\\n' @@vmb {n}; {{ {cmd}\n}} </dev/null 2>&1; printf '%s%s:%s\\n' @@vme {n} \"$?\"\n");
        self.type_text(&line)?;
        let begin = format!("@@vmb{n}\n");
        let end = format!("@@vme{n}:");
        let result = self
            .wait_marker(begin.as_bytes(), from, deadline, cmd)
            .and_then(|(_, out_start)| {
                let (out_end, after) =
                    self.wait_marker(end.as_bytes(), out_start, deadline, cmd)?;
                let (_, eol) = self.wait_marker(b"\n", after, deadline, cmd)?;
                Ok((out_start, out_end, after, eol))
            });
        match result {
            Ok((out_start, out_end, after, eol)) => {
                let output = self.console.slice(out_start, out_end);
                let code_text = self.console.slice(after, eol - 1);
                let code = code_text.trim().parse().map_err(|_| {
                    Error::parse("exit code on the VM console", format!("{code_text:?}"))
                })?;
                Ok((code, output))
            }
            Err(Error::VmConsole { .. }) if Instant::now() >= deadline => {
                let _ = self.type_text("\x03");
                Err(Error::Timeout {
                    cmd: format!("{cmd} (on VM {})", self.name),
                    timeout,
                    stderr: self.console.tail(20),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Like [`Vm::run`], but a non-zero exit code is [`Error::Command`]; returns the output.
    pub fn run_ok(&mut self, cmd: &str, timeout: Duration) -> Result<String> {
        let (code, output) = self.run(cmd, timeout)?;
        if code == 0 {
            Ok(output)
        } else {
            Err(Error::Command {
                cmd: format!("{cmd} (on VM {})", self.name),
                status: format!("exit code {code}"),
                stderr: last_lines(&output, 20),
            })
        }
    }

    /// The VM's name, `{prefix}-{name}`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// QEMU's PID.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The accelerator it runs with (never [`Accel::Auto`]).
    pub fn accel(&self) -> Accel {
        self.accel
    }

    /// From launching QEMU to the shell's ready marker (`None` before [`Vm::wait_ready`]).
    pub fn boot_time(&self) -> Option<Duration> {
        self.boot_time
    }

    /// The VM's own directory (its console log; removed on Drop unless the thread panics).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The whole console output so far is also in this file.
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// The last `n` lines of console output.
    pub fn console_tail(&self, n: usize) -> String {
        self.console.tail(n)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // SIGTERM makes QEMU exit at once; SIGKILL after the grace. By our child's PID only.
        self.child.terminate(Duration::from_secs(3));
        if let Some(reader) = self.reader.take() {
            // QEMU is gone, so its stdout is at EOF unless something inherited it: join only then.
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
    }
}
