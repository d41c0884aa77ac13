//! The test VMs' root file system: a gzipped newc cpio archive written here, in Rust.
//!
//! It holds the host's busybox (one symlink per applet) and, when installed, `iperf3`, each with the
//! shared libraries `ldd` lists; the kernel modules virtio-net over PCI needs (resolved through the
//! kernel's `modules.dep`, decompressed while building); a udhcpc event script; and an `/init` that
//! mounts proc/sys/dev, loads the modules, brings `lo` up and starts a shell on the serial console
//! that prints [`READY_MARKER`].

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flate2::write::GzEncoder;

use super::archive::Archive;
use super::kernel::{module_file_name, read_module, resolve_modules, Kernel};
use crate::error::{Error, Result};
use crate::process::run_command_ok;

/// Printed by the guest's login shell right before its first prompt (built by `printf` from two
/// halves, so nothing else on the console contains it).
pub const READY_MARKER: &str = "vm-shell-ready";

/// Printed by `/init` instead of starting a shell when the kernel command line has `vm.probe=1`
/// (then the guest powers off): the [`super::kvm_works`] probe.
pub const PROBE_MARKER: &str = "vm-probe-ok";

/// The kernel modules the guest loads (with their dependencies): virtio-net over PCI, and
/// `af_packet` for udhcpc. Names that are built into the kernel are skipped.
pub const GUEST_MODULES: &[&str] = &["virtio_pci", "virtio_net", "af_packet"];

const INIT: &str = r#"#!/bin/sh
# /init of a testbeds VM (see testbeds/src/vm/initramfs.rs).
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
dmesg -n 1
while read -r m; do
    insmod "/lib/modules/$m" || echo "vm-init: insmod $m failed"
done < /etc/modules.order
ip link set lo up
hostname vm
if grep -q 'vm.probe=1' /proc/cmdline; then
    printf '%s-%s\n' vm-probe ok
    exec poweroff -f
fi
cd /root
exec setsid cttyhack sh -l
"#;

const PROFILE: &str = r#"export PATH=/bin HOME=/root PS1='vm# '
# Under the harness (testbeds::vm::Vm) the console does not echo: busybox's line editing is off
# then, and the output is exactly what the commands print.
if grep -q 'vm.harness=1' /proc/cmdline; then stty -echo; fi
printf '%s-%s\n' vm-shell ready
"#;

/// udhcpc's event script in the guest: like `control::dhcp_client::SCRIPT`, but it configures the
/// guest itself (address, MTU, default route, `/etc/resolv.conf`) and records the lease in
/// `/run/udhcpc.lease`.
pub const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
# udhcpc event script of a testbeds VM: applies the lease to $interface.
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    ip addr add "$ip/${mask:-32}" dev "$interface" 2>/dev/null
    if [ -n "$mtu" ]; then ip link set "$interface" mtu "$mtu"; fi
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    {
        if [ -n "$domain" ]; then echo "search $domain"; fi
        for s in $dns; do echo "nameserver $s"; done
    } > /etc/resolv.conf
    mkdir -p /run
    {
        echo "event=$1"
        echo "ip=$ip"
        echo "mask=$mask"
        echo "router=$router"
        echo "dns=$dns"
        echo "domain=$domain"
        echo "mtu=$mtu"
        echo "lease=$lease"
        echo "serverid=$serverid"
    } > /run/udhcpc.lease
    ;;
esac
exit 0
"#;

/// A built initramfs archive (the file stays until its directory is removed).
#[derive(Debug, Clone)]
pub struct Initramfs {
    path: PathBuf,
    kernel: Kernel,
    modules: Vec<String>,
    iperf3: bool,
}

impl Initramfs {
    /// Writes `initramfs.cpio.gz` into `dir` for the newest installed kernel ([`Kernel::find`]).
    pub fn build(dir: &Path) -> Result<Initramfs> {
        Initramfs::build_for(dir, Kernel::find()?)
    }

    /// Writes `initramfs.cpio.gz` into `dir` with the modules of `kernel`.
    pub fn build_for(dir: &Path, kernel: Kernel) -> Result<Initramfs> {
        let path = dir.join("initramfs.cpio.gz");
        let file = File::create(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let gz = GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        let mut ar = Archive::new(gz);
        let io = |e| Error::io(format!("writing {}", path.display()), e);

        for d in [
            "proc",
            "sys",
            "dev",
            "tmp",
            "run",
            "root",
            "etc",
            "lib/modules",
        ] {
            ar.dir(d).map_err(io)?;
        }
        for link in ["sbin", "usr/bin", "usr/sbin"] {
            ar.symlink(link, "/bin").map_err(io)?;
        }
        // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
        ar.chardev("dev/console", 5, 1).map_err(io)?;

        let busybox = find_program("busybox").ok_or_else(|| Error::VmSetup {
            what: "busybox".into(),
            detail: "not found in PATH".into(),
        })?;
        ar.host_program(&busybox, "bin/busybox")?;
        let applets = run_command_ok(
            command(&[&busybox.to_string_lossy(), "--list"]),
            "busybox --list",
            Duration::from_secs(10),
        )?;
        for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
            ar.symlink(&format!("bin/{applet}"), "busybox")
                .map_err(io)?;
        }
        let iperf3 = match find_program("iperf3") {
            Some(p) => {
                ar.host_program(&p, "bin/iperf3")?;
                true
            }
            None => {
                tracing::info!("iperf3 not installed; the test VMs will not have it");
                false
            }
        };

        let modules = resolve_modules(&kernel, GUEST_MODULES)?;
        let mut order = String::new();
        for rel in &modules {
            let src = kernel.modules_dir.join(rel);
            let data = read_module(&src)?;
            let name = module_file_name(rel);
            ar.file(&format!("lib/modules/{name}"), 0o644, &data)
                .map_err(io)?;
            order.push_str(&name);
            order.push('\n');
        }
        ar.file("etc/modules.order", 0o644, order.as_bytes())
            .map_err(io)?;
        ar.file("init", 0o755, INIT.as_bytes()).map_err(io)?;
        ar.file("etc/profile", 0o644, PROFILE.as_bytes())
            .map_err(io)?;
        // Debian's busybox runs /etc/udhcpc/default.script; upstream's default is the other path.
        ar.file("etc/udhcpc/default.script", 0o755, UDHCPC_SCRIPT.as_bytes())
            .map_err(io)?;
        ar.symlink("usr/share/udhcpc", "/etc/udhcpc").map_err(io)?;
        ar.file("etc/resolv.conf", 0o644, b"").map_err(io)?;
        ar.file("etc/hosts", 0o644, b"127.0.0.1 localhost vm\n")
            .map_err(io)?;
        ar.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
            .map_err(io)?;
        ar.file("etc/group", 0o644, b"root:x:0:\n").map_err(io)?;
        ar.finish().map_err(io)?;
        tracing::debug!(path = %path.display(), kernel = %kernel.version, ?modules, "initramfs built");
        Ok(Initramfs {
            path,
            kernel,
            modules,
            iperf3,
        })
    }

    /// The archive (`initramfs.cpio.gz`), for QEMU's `-initrd`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kernel whose modules are inside (boot this one).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The modules the guest loads, in load order (paths relative to the modules directory).
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    /// Whether the guest has `iperf3`.
    pub fn has_iperf3(&self) -> bool {
        self.iperf3
    }
}

/// A [`Command`] for `argv` (non-empty, built from constants here).
pub(super) fn command(argv: &[&str]) -> Command {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// The first executable `name` in `$PATH` (plus the sbin directories).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}
