//! Topology model, validation and compiler, and the pieces of the `vpcctl` tool.
//!
//! ```text
//! topology.toml ─► validate::parse ─► model::Topology ─► validate::validate ─► compile::compile
//!                  (TOML, per resource)                  (whole file, all errors)  ─► DataplaneConfig
//!                                                                                    ─► client::apply ─► vpcd
//! ```
//!
//! [`compile_str`] and [`compile_file`] run the whole chain and report every problem of a
//! file at once. [`client`] talks to `vpcd`; [`lab`] holds the namespace and process
//! helpers of `vpcctl up`/`exec`/`down`; [`render`] formats reports for people; [`cli`]
//! holds the conventions every `vpcctl` verb follows (exit status, `--json`, progress,
//! completions and man pages).

use std::path::{Path, PathBuf};

pub mod cli;
pub mod client;
pub mod compile;
pub mod dhcp_client;
pub mod import;
pub mod lab;
pub mod model;
pub mod names;
pub mod probe;
pub mod render;
pub mod report;
pub mod segment;
pub mod serve;
pub mod testing;
pub mod validate;
pub mod vm_args;

pub use client::DEFAULT_SOCKET;
pub use validate::{ValidationError, ValidationErrors};

/// A validated and compiled topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The model, normalised (CIDR host bits cleared).
    pub topology: model::Topology,
    /// What `vpcd` runs.
    pub config: dataplane::vpc::config::DataplaneConfig,
    /// Things that were accepted but deserve a look (for example normalised CIDRs).
    pub warnings: Vec<String>,
}

/// Parses, validates and compiles a topology file's text. The error lists every problem.
pub fn compile_str(toml: &str) -> Result<Compiled, ValidationErrors> {
    let (topology, warnings) = validate::check(toml)?;
    let config = compile::compile(&topology)?;
    Ok(Compiled {
        topology,
        config,
        warnings,
    })
}

/// Why a topology file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file has problems (all of them listed).
    #[error("{0}")]
    Invalid(ValidationErrors),
}

/// Reads, validates and compiles a topology file.
pub fn compile_file(path: &Path) -> Result<Compiled, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    compile_str(&text).map_err(LoadError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_file_reports_io_and_validation_errors() {
        let missing = Path::new("/nonexistent/topology.toml");
        assert!(matches!(compile_file(missing), Err(LoadError::Io { .. })));

        let dir = std::env::temp_dir().join(format!("vpcctl-lib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/8\"\n").unwrap();
        match compile_file(&bad) {
            Err(LoadError::Invalid(e)) => assert_eq!(e.0[0].resource, "vpc-a"),
            other => panic!("{other:?}"),
        }
        let good = dir.join("good.toml");
        std::fs::write(&good, "[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\n").unwrap();
        let c = compile_file(&good).unwrap();
        assert_eq!(c.config.route_tables[0].id, "rtb-main-a");
    }
}
