//! Per-run temporary directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh directory under [`std::env::temp_dir`], removed (recursively) on Drop.
///
/// Named `testbeds-{label}-{pid}-{n}`; pass a [`crate::RunPrefix`] or namespace name as the label
/// so a kept directory can be matched to its run. With [`Scratch::keep_on_panic`] the directory is
/// kept when the dropping thread is panicking, and its path printed to stderr.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    keep_on_panic: bool,
}

impl Scratch {
    /// Creates the directory.
    pub fn new(label: &str) -> Result<Scratch> {
        let base = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("testbeds-{label}-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(Scratch {
                        path,
                        keep_on_panic: false,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
            }
        }
    }

    /// Keep the directory if the thread dropping it is panicking (for logs a failure needs).
    pub fn keep_on_panic(mut self, keep: bool) -> Scratch {
        self.keep_on_panic = keep;
        self
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep_on_panic && std::thread::panicking() {
            eprintln!(
                "testbeds: keeping {} for inspection (test panicked)",
                self.path.display()
            );
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), %e, "removing scratch dir failed");
        }
    }
}
