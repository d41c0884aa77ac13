//! The last applied configuration on disk (`vpcd --state FILE`): written after every
//! apply that committed, atomically (a temporary file next to it, `fsync`, `rename`,
//! `fsync` of the directory), so a crash leaves the previous or the new file, never half
//! of one; read back when vpcd starts, so a restarted vpcd (by hand or by its systemd
//! unit) brings the same topology up again without a `vpcctl apply`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::vpc::config::DataplaneConfig;

/// Why the state file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file does not hold a configuration of this build.
    #[error("state file {path}: not a configuration of this vpcd: {source}")]
    Malformed {
        /// The file.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// Writes `config` to `path` atomically.
pub fn save(path: &Path, config: &DataplaneConfig) -> io::Result<()> {
    let json = serde_json::to_vec(config).map_err(io::Error::other)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself is durable once the directory is.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The configuration saved at `path` (`None`: no file yet).
pub fn load(path: &Path) -> Result<Option<DataplaneConfig>, StateError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Io {
                path: path.display().to_string(),
                source,
            })
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| StateError::Malformed {
            path: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_configuration_loads_back_and_garbage_is_an_error() {
        let dir = std::env::temp_dir().join(format!("vpcd-state-test-{}", std::process::id()));
        let path = dir.join("config.json");
        assert!(load(&path).unwrap().is_none(), "no file yet");
        let config = crate::fixtures::two_subnets_and_middlebox();
        save(&path, &config).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.enis.len(), config.enis.len());
        assert_eq!(back.enis[0].id, config.enis[0].id);
        // Saving again replaces it whole; no temporary file stays behind.
        save(&path, &DataplaneConfig::default()).unwrap();
        assert!(load(&path).unwrap().unwrap().enis.is_empty());
        let leftovers = fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1);
        fs::write(&path, b"{not json").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("not a configuration"),
            "{e}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
