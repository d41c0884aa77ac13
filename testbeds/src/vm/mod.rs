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

mod archive;
pub mod bench;
mod console;
pub mod initramfs;
pub mod kernel;
mod machine;
mod qemu;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use initramfs::{Initramfs, PROBE_MARKER, READY_MARKER};
pub use kernel::Kernel;
pub use machine::Vm;
pub use qemu::{qemu_argv, Nic, VmOptions, HARNESS_APPEND};

use crate::error::{Error, Result};
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

/// The QEMU binary's path, or [`Error::VmSetup`].
pub(crate) fn which_qemu() -> Result<PathBuf> {
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
        Ok(_) => vm.wait_exit(deadline.saturating_duration_since(Instant::now())),
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
