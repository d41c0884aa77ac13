//! The QEMU command line: NICs as raw `-netdev`/`-device` pairs, and the launch options.

use std::path::Path;
use std::time::Duration;

use super::{Accel, Initramfs, DEFAULT_BOOT_TIMEOUT, QEMU};
use crate::names::RunPrefix;
use crate::netns::MacAddr;

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

/// What [`super::Vm::launch`] / [`super::Vm::boot`] start.
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
    /// Raw QEMU arguments placed before the NICs (e.g. the `-chardev` and shared-memory
    /// `-object … -numa node,memdev=…` a vhost-user NIC needs). None by default.
    pub extra_args: Vec<String>,
    /// Extra kernel command line arguments (appended).
    pub append: String,
    /// How long [`Vm::boot`](super::Vm::boot) waits for the shell's ready marker.
    pub boot_timeout: Duration,
    /// SIGKILL QEMU when the thread that launched it exits (`PR_SET_PDEATHSIG`): right when the
    /// launching thread owns the VM (tests); turn off to hand the VM to another thread.
    pub die_with_thread: bool,
    /// Run QEMU in this network namespace (`ip netns exec`, which keeps QEMU's PID): a
    /// `-netdev tap,ifname=…` NIC opens a TAP of that namespace. `None`: the caller's.
    pub netns: Option<String>,
    /// A guest `reboot` resets the machine (QEMU keeps running, its NICs stay attached) instead
    /// of ending QEMU (`-no-reboot`, the default: a crashed guest must not loop).
    pub allow_reboot: bool,
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
            extra_args: Vec::new(),
            append: String::new(),
            boot_timeout: DEFAULT_BOOT_TIMEOUT,
            die_with_thread: true,
            netns: None,
            allow_reboot: false,
        }
    }

    /// Runs QEMU in the network namespace `ns` (see [`VmOptions::netns`]).
    pub fn netns(mut self, ns: impl Into<String>) -> VmOptions {
        self.netns = Some(ns.into());
        self
    }

    /// Lets a guest reboot in place (see [`VmOptions::allow_reboot`] and [`super::Vm::reboot`]).
    pub fn allow_reboot(mut self) -> VmOptions {
        self.allow_reboot = true;
        self
    }

    /// Adds a NIC.
    pub fn nic(mut self, nic: Nic) -> VmOptions {
        self.nics.push(nic);
        self
    }

    /// Adds raw QEMU arguments (placed before the NICs).
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> VmOptions {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The arguments a vhost-user NIC needs besides its `-netdev vhost-user,chardev=ID`: the
    /// `-chardev` connecting to the back end's socket `path`, and guest memory the back end can
    /// map (a shared memfd of [`VmOptions::memory_mib`], as the guest's only NUMA node).
    pub fn vhost_user_memory(self, chardev_id: &str, path: &Path) -> VmOptions {
        let mem = format!(
            "memory-backend-memfd,id=mem,size={}M,share=on",
            self.memory_mib
        );
        self.args([
            "-chardev".to_string(),
            format!("socket,id={chardev_id},path={}", path.display()),
            "-object".to_string(),
            mem,
            "-numa".to_string(),
            "node,memdev=mem".to_string(),
        ])
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

/// Kernel arguments [`Vm::launch`](super::Vm::launch) adds: the guest's shell turns console echo off (`stty -echo`),
/// so command output reads back exactly.
pub const HARNESS_APPEND: &str = "vm.harness=1";

/// The QEMU command line for `opts` with an already resolved accelerator: what [`Vm::launch`](super::Vm::launch)
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
    if !opts.allow_reboot {
        argv.push("-no-reboot".into());
    }
    argv.extend(opts.extra_args.iter().cloned());
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
