//! The host kernel the guests boot, and the modules they load (resolved through `modules.dep`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::initramfs::command;
use crate::error::{Error, Result};
use crate::process::describe;

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

/// A module's file name inside the initramfs (compression suffix dropped: it is decompressed).
pub(super) fn module_file_name(rel: &str) -> String {
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
pub(super) fn read_module(path: &Path) -> Result<Vec<u8>> {
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
}
