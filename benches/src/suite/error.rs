//! The suite's error type.

use std::io;

/// Everything that can go wrong in the suite outside a plane's setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The harness (namespaces, processes, vpcd) failed.
    #[error(transparent)]
    Testbed(#[from] testbeds::Error),
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the suite was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A tool's output could not be understood.
    #[error("cannot parse {what}: {detail}")]
    Parse {
        /// Which output.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// A measurement ran but produced no usable figure (no replies, no bytes, …).
    #[error("{0}")]
    Measurement(String),
    /// Drawing a plot failed.
    #[error("plot {file}: {detail}")]
    Plot {
        /// The PNG being drawn.
        file: String,
        /// What went wrong.
        detail: String,
    },
    /// Building a reference vpcd for `--compare` failed.
    #[error("--compare {reference}: {detail}")]
    Compare {
        /// The git ref.
        reference: String,
        /// What went wrong.
        detail: String,
    },
    /// The command line asked for something that does not exist.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A parse error.
    pub fn parse(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Parse {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Result alias of the suite.
pub type Result<T, E = Error> = std::result::Result<T, E>;
