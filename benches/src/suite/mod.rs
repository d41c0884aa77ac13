//! The benchmark suite (`benches/run`): the same two-namespace topology built on every
//! data plane ([`planes`]), measured interleaved in one run ([`runner`]) with a quiet-machine
//! check before each measurement ([`quiet`]); the figures ([`metrics`], UDP's partial drop
//! rate searched by [`pdr`], [`results`]) become a Markdown table, CSV files ([`report`])
//! and PNG plots ([`plot`]). `--compare REF` adds a vpcd built at another git ref
//! ([`compare`]).

pub mod compare;
pub mod error;
pub mod metrics;
pub mod pdr;
pub mod planes;
pub mod plot;
pub mod quiet;
pub mod report;
pub mod results;
pub mod runner;

pub use error::{Error, Result};
