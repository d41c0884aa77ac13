//! The newc cpio writer behind the initramfs (the `cpio` crate's entries in a gzip stream), and
//! copying host programs with the shared libraries `ldd` lists.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::write::GzEncoder;

use super::initramfs::command;
use crate::error::{Error, Result};
use crate::process::describe;

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
pub(super) struct Archive<W: Write> {
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
    pub(super) fn finish(self) -> std::io::Result<()> {
        let gz = cpio::newc::trailer(self.out)?;
        let mut inner = gz.finish()?;
        inner.flush()
    }
}

impl<W: Write> Archive<W> {
    pub(super) fn new(out: W) -> Self {
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

    pub(super) fn dir(&mut self, name: &str) -> std::io::Result<()> {
        if name.is_empty() || self.dirs.contains(name) {
            return Ok(());
        }
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.dir(parent)?;
        }
        self.dirs.insert(name.to_owned());
        self.entry(name, S_IFDIR | 0o755, &[], (0, 0))
    }

    pub(super) fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> std::io::Result<()> {
        if !self.files.insert(name.to_owned()) {
            return Ok(());
        }
        self.entry(name, S_IFREG | perm, data, (0, 0))
    }

    pub(super) fn symlink(&mut self, name: &str, target: &str) -> std::io::Result<()> {
        if !self.files.insert(name.to_owned()) {
            return Ok(());
        }
        self.entry(name, S_IFLNK | 0o777, target.as_bytes(), (0, 0))
    }

    pub(super) fn chardev(&mut self, name: &str, major: u32, minor: u32) -> std::io::Result<()> {
        self.entry(name, S_IFCHR | 0o600, &[], (major, minor))
    }

    /// Copies a host executable to `dest` and every shared library it needs to the path `ldd`
    /// reports (symlinks followed: the archive gets regular files).
    pub(super) fn host_program(&mut self, program: &Path, dest: &str) -> Result<()> {
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
