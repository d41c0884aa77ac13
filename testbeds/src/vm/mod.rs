//! Real virtual machines for tests: QEMU guests booting the host's kernel with a busybox initramfs.
//!
//! - [`Initramfs::build`] writes the guest's root file system (busybox, iperf3, the virtio-net
//!   modules, an `/init` that gives a shell on the serial console);
//! - [`Vm::boot`] starts `qemu-system-x86_64` with NICs given as raw `-netdev`/`-device` pairs
//!   ([`Nic`]), waits for the shell's ready marker, and [`Vm::run`] types commands on the console
//!   and reads their output and exit code between unique markers;
//! - [`kvm_works`] decides between KVM and TCG by booting a probe guest (once per process).
//!
//! Network safety: the launcher passes `-nodefaults -nic none`, so a VM has exactly the NICs the
//! caller gives; never give it `-netdev user` (NAT to the host's network) or a host interface.

mod console;
pub mod initramfs;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use initramfs::{Initramfs, Kernel, PROBE_MARKER, READY_MARKER};

use self::console::{Console, Found};
use crate::error::{Error, Result};
use crate::names::RunPrefix;
use crate::netns::MacAddr;
use crate::process::{last_lines, NsChild, SpawnOpts};
use crate::scratch::Scratch;

/// The QEMU binary the launcher runs.
pub const QEMU: &str = "qemu-system-x86_64";

/// How long [`Vm::boot`] waits for the shell by default (TCG boots in about 5 s on an idle machine).
pub const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// How long the [`kvm_works`] probe guest may take to print its marker and power off.
pub const KVM_PROBE_DEADLINE: Duration = Duration::from_secs(15);

/// Environment variable that forces the accelerator for [`Accel::Auto`] (`tcg` or `kvm`).
pub const ACCEL_ENV: &str = "TESTBEDS_VM_ACCEL";

/// How QEMU executes the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accel {
    /// `$TESTBEDS_VM_ACCEL` if set, else KVM when [`kvm_works`], else TCG.
    #[default]
    Auto,
    /// Software emulation (`-accel tcg`): slow but works everywhere.
    Tcg,
    /// Hardware virtualisation (`-accel kvm -cpu host`).
    Kvm,
}

impl Accel {
    /// Resolves [`Accel::Auto`] (may run the [`kvm_works`] probe); other values are returned as is.
    pub fn resolve(self) -> Accel {
        match self {
            Accel::Auto => match std::env::var(ACCEL_ENV).as_deref() {
                Ok("tcg") => Accel::Tcg,
                Ok("kvm") => Accel::Kvm,
                _ if kvm_works() => Accel::Kvm,
                _ => Accel::Tcg,
            },
            other => other,
        }
    }

    /// QEMU's name for it (`tcg`, `kvm`); `auto` for an unresolved [`Accel::Auto`].
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Auto => "auto",
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// One guest NIC as the raw QEMU argument pair `-netdev NETDEV -device DEVICE`, so that any
/// attachment kind (stream socket, vhost-user, TAP) plugs in without changes here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The `-netdev` value, e.g. `stream,id=n0,server=on,addr.type=unix,addr.path=/tmp/x.sock`.
    pub netdev: String,
    /// The `-device` value, e.g. `virtio-net-pci,netdev=n0,mac=02:00:00:00:00:01,romfile=`.
    pub device: String,
}

impl Nic {
    /// A NIC from raw `-netdev` and `-device` values.
    pub fn new(netdev: impl Into<String>, device: impl Into<String>) -> Nic {
        Nic {
            netdev: netdev.into(),
            device: device.into(),
        }
    }

    /// A `virtio-net-pci` device on the backend `backend` (the `-netdev` value without `id=`, e.g.
    /// `stream,server=off,addr.type=unix,addr.path=…` or `tap,ifname=…,script=no,downscript=no`),
    /// both named `id`. `romfile=` is empty: the guest boots from `-kernel`, not from the network
    /// (and Debian's QEMU does not ship the iPXE ROM without `ipxe-qemu`).
    pub fn virtio(id: &str, backend: &str, mac: Option<MacAddr>) -> Nic {
        let (kind, rest) = backend.split_once(',').unwrap_or((backend, ""));
        let netdev = if rest.is_empty() {
            format!("{kind},id={id}")
        } else {
            format!("{kind},id={id},{rest}")
        };
        let mut device = format!("virtio-net-pci,netdev={id},romfile=");
        if let Some(mac) = mac {
            device.push_str(&format!(",mac={mac}"));
        }
        Nic { netdev, device }
    }

    /// A `virtio-net-pci` NIC on a `-netdev stream` Unix socket at `path`: `server` listens there
    /// (create that VM first), otherwise it connects.
    pub fn stream_unix(id: &str, path: &Path, server: bool, mac: Option<MacAddr>) -> Nic {
        let on = if server { "on" } else { "off" };
        let backend = format!(
            "stream,server={on},addr.type=unix,addr.path={}",
            path.display()
        );
        Nic::virtio(id, &backend, mac)
    }
}

/// What [`Vm::launch`] / [`Vm::boot`] start.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Short name; the VM is called `{prefix}-{name}` (QEMU's `-name`, the scratch directory).
    pub name: String,
    /// The per-run prefix; `None` allocates a fresh [`RunPrefix`] for this VM.
    pub prefix: Option<RunPrefix>,
    /// The root file system; the VM boots the kernel it was built for.
    pub initramfs: Initramfs,
    /// Accelerator ([`Accel::Auto`] by default).
    pub accel: Accel,
    /// Guest memory in MiB (256).
    pub memory_mib: u32,
    /// Virtual CPUs (1).
    pub cpus: u32,
    /// The NICs, in PCI order (the guest names them eth0, eth1, …). None by default.
    pub nics: Vec<Nic>,
    /// Extra kernel command line arguments (appended).
    pub append: String,
    /// How long [`Vm::boot`] waits for the shell's ready marker.
    pub boot_timeout: Duration,
    /// SIGKILL QEMU when the thread that launched it exits (`PR_SET_PDEATHSIG`): right when the
    /// launching thread owns the VM (tests); turn off to hand the VM to another thread.
    pub die_with_thread: bool,
}

impl VmOptions {
    /// Defaults: [`Accel::Auto`], 256 MiB, 1 CPU, no NIC, [`DEFAULT_BOOT_TIMEOUT`].
    pub fn new(name: impl Into<String>, initramfs: &Initramfs) -> VmOptions {
        VmOptions {
            name: name.into(),
            prefix: None,
            initramfs: initramfs.clone(),
            accel: Accel::Auto,
            memory_mib: 256,
            cpus: 1,
            nics: Vec::new(),
            append: String::new(),
            boot_timeout: DEFAULT_BOOT_TIMEOUT,
            die_with_thread: true,
        }
    }

    /// Adds a NIC.
    pub fn nic(mut self, nic: Nic) -> VmOptions {
        self.nics.push(nic);
        self
    }

    /// Sets the accelerator.
    pub fn accel(mut self, accel: Accel) -> VmOptions {
        self.accel = accel;
        self
    }

    /// Uses this run prefix (so the VM's name matches the run's namespaces).
    pub fn prefix(mut self, prefix: &RunPrefix) -> VmOptions {
        self.prefix = Some(prefix.clone());
        self
    }
}

/// Kernel arguments [`Vm::launch`] adds: the guest's shell turns console echo off (`stty -echo`),
/// so command output reads back exactly.
pub const HARNESS_APPEND: &str = "vm.harness=1";

/// The QEMU command line for `opts` with an already resolved accelerator: what [`Vm::launch`]
/// runs (it adds [`HARNESS_APPEND`] to `opts.append`), and what a human runs to boot a test VM by
/// hand (`vm-initramfs` prints it).
pub fn qemu_argv(opts: &VmOptions, full_name: &str, accel: Accel) -> Vec<String> {
    let kernel = opts.initramfs.kernel();
    let mut append = String::from("console=ttyS0 quiet panic=-1");
    if !opts.append.is_empty() {
        append.push(' ');
        append.push_str(&opts.append);
    }
    let mut argv: Vec<String> = [QEMU, "-name", full_name, "-accel", accel.as_str()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if accel == Accel::Kvm {
        argv.extend(["-cpu".into(), "host".into()]);
    }
    argv.extend(
        [
            "-m",
            &opts.memory_mib.to_string(),
            "-smp",
            &opts.cpus.to_string(),
            "-nographic",
            "-nodefaults",
            "-nic",
            "none",
            "-no-reboot",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-kernel",
            &kernel.image.to_string_lossy(),
            "-initrd",
            &opts.initramfs.path().to_string_lossy(),
            "-append",
            &append,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for nic in &opts.nics {
        argv.extend([
            "-netdev".into(),
            nic.netdev.clone(),
            "-device".into(),
            nic.device.clone(),
        ]);
    }
    argv
}

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
        let desc = argv.join(" ");
        let log_path = dir.join("console.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
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

    fn wait_marker(
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

/// The QEMU binary's path, or [`Error::VmSetup`].
fn which_qemu() -> Result<PathBuf> {
    initramfs::find_program(QEMU).ok_or_else(|| Error::VmSetup {
        what: QEMU.into(),
        detail: "not found in PATH".into(),
    })
}

/// Checks that this machine can run test VMs: QEMU, a kernel with modules, busybox.
pub fn check_vm_tools() -> Result<()> {
    which_qemu()?;
    Kernel::find()?;
    initramfs::find_program("busybox").ok_or_else(|| Error::VmSetup {
        what: "busybox".into(),
        detail: "not found in PATH".into(),
    })?;
    Ok(())
}

/// Start of every VM test, after [`crate::require_root_or_skip`]: `true` when [`check_vm_tools`]
/// passes. Otherwise under CI (`CI=true`) it panics with the reason (naming `scripts/setup`);
/// elsewhere it prints a SKIP note to stderr and returns `false`.
pub fn require_vm_or_skip() -> bool {
    match check_vm_tools() {
        Ok(()) => true,
        Err(e) if crate::privileges::in_ci() => panic!("VM tests cannot run under CI: {e}"),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "SKIP: VM test skipped: {e}");
            false
        }
    }
}

static KVM: OnceLock<bool> = OnceLock::new();

/// Whether KVM really runs guests here, decided once per process by booting a probe guest with
/// `-accel kvm` that must print [`PROBE_MARKER`] and power off within [`KVM_PROBE_DEADLINE`]
/// (`/dev/kvm` existing is not enough: under nested virtualisation a guest can stall in boot).
pub fn kvm_works() -> bool {
    *KVM.get_or_init(|| match probe_kvm() {
        Ok(works) => works,
        Err(e) => {
            tracing::warn!(%e, "KVM probe failed; using TCG");
            false
        }
    })
}

fn probe_kvm() -> Result<bool> {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        tracing::info!("no usable /dev/kvm; test VMs use TCG");
        return Ok(false);
    }
    let scratch = Scratch::new("kvmprobe")?;
    let initramfs = Initramfs::build(scratch.path())?;
    let mut opts = VmOptions::new("kvmprobe", &initramfs).accel(Accel::Kvm);
    opts.append = "vm.probe=1".into();
    let started = Instant::now();
    let mut vm = Vm::launch(opts)?;
    let marker = format!("{PROBE_MARKER}\n");
    let deadline = started + KVM_PROBE_DEADLINE;
    let works = match vm.wait_marker(marker.as_bytes(), 0, deadline, "KVM probe") {
        Ok(_) => vm
            .child
            .wait_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok(),
        Err(e) => {
            tracing::info!(%e, "KVM probe guest did not finish");
            false
        }
    };
    tracing::info!(works, elapsed = ?started.elapsed(), "KVM probe");
    Ok(works)
}

/// Waits until `path` exists (e.g. the Unix socket a `-netdev stream,server=on` VM listens on),
/// polling with a short backoff up to `timeout` (a file's appearance has no readiness fd here).
pub fn wait_for_path(path: &Path, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut step = Duration::from_millis(1);
    while !path.exists() {
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                cmd: format!("waiting for {}", path.display()),
                timeout,
                stderr: String::new(),
            });
        }
        std::thread::sleep(step.min(deadline - now));
        step = (step * 2).min(Duration::from_millis(20));
    }
    Ok(())
}
