//! The benchmark suite (`benches/run`): the same two-namespace topology built on every
//! data plane ([`planes`]), measured interleaved in one run.

pub mod planes;
