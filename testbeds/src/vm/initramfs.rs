//! The test VMs' root file system: a gzipped newc cpio archive written here, in Rust.
//!
//! It holds the host's busybox (one symlink per applet) and, when installed, `iperf3`, each with the
//! shared libraries `ldd` lists; the kernel modules virtio-net over PCI needs (resolved through the
//! kernel's `modules.dep`, decompressed while building); a udhcpc event script; and an `/init` that
//! mounts proc/sys/dev, loads the modules, brings `lo` up and starts a shell on the serial console
//! that prints [`READY_MARKER`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flate2::write::GzEncoder;

use crate::error::{Error, Result};
use crate::process::{describe, run_command_ok};

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

/// The host kernel the guests boot: its image and its modules directory.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The release, e.g. `6.1.0-28-amd64`.
    pub version: String,
    /// `/boot/vmlinuz-{version}`.
    pub image: PathBuf,
    /// `/lib/modules/{version}`.
    pub modules_dir: PathBuf,
}

impl Kernel {
    /// The newest `/boot/vmlinuz-*` that has a `/lib/modules/<version>/modules.dep`.
    pub fn find() -> Result<Kernel> {
        let missing = |detail: String| Error::VmSetup {
            what: "a kernel (/boot/vmlinuz-*) with its modules".into(),
            detail,
        };
        let entries = std::fs::read_dir("/boot").map_err(|e| missing(format!("/boot: {e}")))?;
        let mut found: Vec<Kernel> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let version = name.strip_prefix("vmlinuz-")?.to_owned();
                let modules_dir = Path::new("/lib/modules").join(&version);
                modules_dir.join("modules.dep").is_file().then(|| Kernel {
                    image: e.path(),
                    modules_dir,
                    version,
                })
            })
            .collect();
        found.sort_by_key(|k| version_key(&k.version));
        found
            .pop()
            .ok_or_else(|| missing("no /boot/vmlinuz-<v> with /lib/modules/<v>/modules.dep".into()))
    }
}

/// Sort key for kernel releases: the numbers in it, in order.
fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

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

fn command(argv: &[&str]) -> Command {
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

/// A module's file name inside the initramfs (compression suffix dropped: it is decompressed).
fn module_file_name(rel: &str) -> String {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    let base = [".xz", ".zst", ".gz"]
        .iter()
        .find_map(|s| base.strip_suffix(s))
        .unwrap_or(base);
    base.to_owned()
}

/// A module's canonical name (`kernel/drivers/net/virtio_net.ko.xz` → `virtio_net`).
fn module_name(rel: &str) -> String {
    let f = module_file_name(rel);
    f.strip_suffix(".ko").unwrap_or(&f).replace('-', "_")
}

/// Resolves `wanted` and their dependencies through `modules.dep` into a load order (dependencies
/// first). A module listed in `modules.builtin` is skipped; one in neither is a [`Error::VmSetup`].
pub fn resolve_modules(kernel: &Kernel, wanted: &[&str]) -> Result<Vec<String>> {
    let read = |name: &str| {
        let p = kernel.modules_dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| Error::io(format!("reading {}", p.display()), e))
    };
    let dep_text = read("modules.dep")?;
    let builtin: BTreeSet<String> = read("modules.builtin")
        .unwrap_or_default()
        .lines()
        .map(module_name)
        .collect();
    resolve_in(&dep_text, &builtin, wanted, &kernel.version)
}

fn resolve_in(
    dep_text: &str,
    builtin: &BTreeSet<String>,
    wanted: &[&str],
    version: &str,
) -> Result<Vec<String>> {
    // name → (path, dependency paths)
    let mut deps: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for line in dep_text.lines() {
        let Some((path, rest)) = line.split_once(':') else {
            continue;
        };
        let list = rest.split_whitespace().map(str::to_owned).collect();
        deps.insert(module_name(path), (path.to_owned(), list));
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for w in wanted {
        let name = w.replace('-', "_");
        if builtin.contains(&name) && !deps.contains_key(&name) {
            continue;
        }
        let Some((path, _)) = deps.get(&name) else {
            return Err(Error::VmSetup {
                what: format!("kernel module {w}"),
                detail: format!("neither in modules.dep nor modules.builtin of {version}"),
            });
        };
        visit(path, &deps, &mut seen, &mut order);
    }
    Ok(order)
}

/// Post-order walk: every dependency lands in `order` before the module that needs it.
fn visit(
    path: &str,
    deps: &BTreeMap<String, (String, Vec<String>)>,
    seen: &mut BTreeSet<String>,
    order: &mut Vec<String>,
) {
    if !seen.insert(path.to_owned()) {
        return;
    }
    if let Some((_, list)) = deps.get(&module_name(path)) {
        for d in list {
            visit(d, deps, seen, order);
        }
    }
    order.push(path.to_owned());
}

/// Reads a module file, decompressing `.ko.gz` in process and `.ko.xz`/`.ko.zst` with `xz`/`zstd`.
fn read_module(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "gz" => {
            let f = File::open(path).map_err(|e| Error::io(format!("opening {shown}"), e))?;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(f)
                .read_to_end(&mut out)
                .map_err(|e| Error::io(format!("decompressing {shown}"), e))?;
            Ok(out)
        }
        "xz" | "zst" => {
            let tool = if ext == "xz" { "xz" } else { "zstd" };
            let argv = [tool, "-dc", &shown];
            let out = crate::process::run_command(
                command(&argv),
                &describe(&argv),
                Duration::from_secs(30),
            )?;
            if out.status.success() {
                Ok(out.stdout)
            } else {
                Err(Error::Command {
                    cmd: describe(&argv),
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                })
            }
        }
        _ => std::fs::read(path).map_err(|e| Error::io(format!("reading {shown}"), e)),
    }
}

/// The shared libraries `ldd` lists for `program` (absolute paths, the dynamic loader included).
fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>> {
    let shown = program.to_string_lossy();
    let argv = ["ldd", shown.as_ref()];
    let out =
        crate::process::run_command(command(&argv), &describe(&argv), Duration::from_secs(10))?;
    // ldd exits 1 for a static binary ("not a dynamic executable"): then there is nothing to copy.
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(parse_ldd(&text))
}

fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Writes newc entries into a gzip stream, creating parent directories on first use.
struct Archive<W: Write> {
    out: W,
    ino: u32,
    dirs: BTreeSet<String>,
    files: BTreeSet<String>,
}

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

impl<W: Write> Archive<GzEncoder<W>> {
    fn finish(self) -> std::io::Result<()> {
        let gz = cpio::newc::trailer(self.out)?;
        let mut inner = gz.finish()?;
        inner.flush()
    }
}

impl<W: Write> Archive<W> {
    fn new(out: W) -> Self {
        Archive {
            out,
            ino: 1,
            dirs: BTreeSet::new(),
            files: BTreeSet::new(),
        }
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> std::io::Result<()> {
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.dir(parent)?;
        }
        let size = u32::try_from(data.len())
            .map_err(|_| std::io::Error::other(format!("{name}: file too large for cpio")))?;
        self.ino += 1;
        let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
        let mut w = cpio::newc::Builder::new(name)
            .ino(self.ino)
            .mode(mode)
            .nlink(nlink)
            .rdev_major(rdev.0)
            .rdev_minor(rdev.1)
            .write(&mut self.out, size);
        w.write_all(data)?;
        w.finish()?;
        Ok(())
    }

    fn dir(&mut self, name: &str) -> std::io::Result<()> {
        if name.is_empty() || self.dirs.contains(name) {
            return Ok(());
        }
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.dir(parent)?;
        }
        self.dirs.insert(name.to_owned());
        self.entry(name, S_IFDIR | 0o755, &[], (0, 0))
    }

    fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> std::io::Result<()> {
        if !self.files.insert(name.to_owned()) {
            return Ok(());
        }
        self.entry(name, S_IFREG | perm, data, (0, 0))
    }

    fn symlink(&mut self, name: &str, target: &str) -> std::io::Result<()> {
        if !self.files.insert(name.to_owned()) {
            return Ok(());
        }
        self.entry(name, S_IFLNK | 0o777, target.as_bytes(), (0, 0))
    }

    fn chardev(&mut self, name: &str, major: u32, minor: u32) -> std::io::Result<()> {
        self.entry(name, S_IFCHR | 0o600, &[], (major, minor))
    }

    /// Copies a host executable to `dest` and every shared library it needs to the path `ldd`
    /// reports (symlinks followed: the archive gets regular files).
    fn host_program(&mut self, program: &Path, dest: &str) -> Result<()> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| Error::io(format!("reading {}", p.display()), e))
        };
        let io = |e| Error::io(format!("adding {} to the initramfs", program.display()), e);
        let data = read(program)?;
        self.file(dest, 0o755, &data).map_err(io)?;
        for lib in shared_libraries(program)? {
            let name = lib.to_string_lossy().trim_start_matches('/').to_owned();
            if self.files.contains(&name) {
                continue;
            }
            let data = read(&lib)?;
            self.file(&name, 0o755, &data).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn resolves_dependencies_first_and_skips_builtins() {
        let dep = "kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz\n\
                   kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz\n\
                   kernel/net/core/failover.ko.xz:\n\
                   kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko\n\
                   kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n";
        let builtin: BTreeSet<String> = ["af_packet".to_owned()].into();
        let order = resolve_in(
            dep,
            &builtin,
            &["virtio_pci", "virtio_net", "af_packet"],
            "t",
        )
        .unwrap();
        assert_eq!(
            order,
            [
                "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                "kernel/drivers/virtio/virtio_pci.ko",
                "kernel/net/core/failover.ko.xz",
                "kernel/drivers/net/net_failover.ko.xz",
                "kernel/drivers/net/virtio_net.ko.xz",
            ]
        );
        assert!(resolve_in(dep, &builtin, &["nope"], "t").is_err());
        assert_eq!(module_file_name("a/b/virtio_net.ko.zst"), "virtio_net.ko");
    }

    #[test]
    fn parses_ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x2)\n";
        assert_eq!(
            parse_ldd(text),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
    }
}
