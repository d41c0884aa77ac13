//! The conventions every `vpcctl` verb follows, kept apart from the binary so that each
//! is written and tested once:
//!
//! - [`exit`]: the exit status (0 yes, 1 no, 2 usage or system error; `exec` passes its
//!   command's through);
//! - [`json`]: what `--json` prints, verb by verb, errors included;
//! - [`progress`]: progress lines on stderr when it is a terminal;
//! - [`docs`]: shell completions and man pages generated from the CLI definition.
//!
//! Nothing here prints: the binary writes what these return.

pub mod docs;
pub mod exit;
pub mod json;
pub mod progress;
