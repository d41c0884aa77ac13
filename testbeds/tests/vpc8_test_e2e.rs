//! End-to-end tests of `vpcctl test` and `vpcctl diff` (VPC-8): the shipped example tests
//! pass on real namespaces, with real traffic and a trace per check; a copy with a
//! deliberately broken rule fails exactly the checks it should, each with the right
//! explanation; a test file with an error runs nothing; `--generate` writes a matrix that
//! then passes; `vpcctl diff` reports exactly the reachability that changed; JUnit XML is
//! parsed back.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};

use control::testing::command;
use control::testing::report::{Status, TestReport};
use control::testing::run::RunOptions;
use testbeds::Vpcd;

/// The repository's `examples/tests`.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests")
}

fn opts() -> RunOptions {
    RunOptions {
        attach: None,
        vpcd: Vpcd::binary_path().unwrap(),
        parallelism: 128,
    }
}

/// Runs test files through the library, as `vpcctl test` does.
fn run(files: &[PathBuf]) -> Vec<TestReport> {
    testbeds::init_tracing();
    let plans = command::load_all(files).unwrap();
    command::run_all(&plans, &opts(), &mut |_| {}).unwrap()
}

fn failures(r: &TestReport) -> Vec<String> {
    r.checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .map(|c| {
            format!(
                "{} [{:?}]: {}\n{}",
                c.name, c.status, c.message, c.trace_text
            )
        })
        .collect()
}

#[test]
fn the_shipped_examples_pass() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    for name in ["three-tier", "public-private", "peered", "nacl-traps"] {
        let file = examples().join(format!("{name}.test.toml"));
        let r = run(&[file]);
        let f = failures(&r[0]);
        assert!(f.is_empty(), "{name}:\n{}", f.join("\n"));
        assert!(r[0].checks.len() >= 5, "{name}");
    }
}
