//! `vpcctl test` and `vpcctl diff`: firewall-rule regression tests as a product. A test
//! file names a topology and ordered checks ("eni-app1 reaches 10.0.3.10 on tcp/5432",
//! "nothing from the internet reaches eni-db1"), with changes between them; the runner
//! brings the topology up on real namespaces, sends real traffic for every check, traces
//! the same packet, and reports both.
//!
//! - [`spec`]: the test file format; [`plan`]: a test file resolved against its
//!   topologies before anything runs; [`lab`]: the run's own vpcd and namespaces;
//!   `run`: traffic and trace per check; [`generate`] and [`diff`]: the probe matrix
//!   of `vpcctl test --generate` and `vpcctl diff`.
//! - [`report`]: what a run produced, the one type every output reads.
//! - its outputs: [`terminal`] (a summary and a progress bar), [`junit`] (JUnit XML for
//!   CI), [`html`] (one self-contained page with a reachability matrix), [`json`]; the
//!   totals and words they share in [`totals`].

pub mod command;
pub mod diff;
#[cfg(test)]
mod fixtures;
pub mod generate;
pub mod html;
pub mod json;
pub mod junit;
pub mod lab;
pub mod plan;
pub mod report;
pub mod run;
pub mod spec;
pub mod terminal;
pub mod totals;
