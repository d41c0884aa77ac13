//! `vm-bench`: TCP throughput VM → namespace and VM → VM per vpcd attachment kind, against the
//! same guests on a Linux bridge with TAPs, in one run (see `testbeds::vm::bench`). Root-only.
//!
//! ```text
//! vm-bench [--secs N] [--rounds R] [--planes LIST] [--out DIR]
//!     --secs N       iperf3 duration in seconds (5)
//!     --rounds R     rounds; each measures every plane once, interleaved (3)
//!     --planes LIST  comma list of qemu-stream,vhost-user,interface,bridge (all)
//!     --out DIR      also write DIR/vm_throughput.md and DIR/vm_throughput.csv
//! ```
//!
//! Prints a header line and a Markdown table on stdout; progress goes to stderr (`RUST_LOG`).
//! Ctrl-C deletes what the run created ([`bench::interrupted`]) and exits 130.
//! Runs `vpcd` and `vpcctl` from its own directory (`cargo build --release -p dataplane -p
//! control -p testbeds --bins`, or `$VPCD_BIN`/`$VPCCTL_BIN`); `benches/scripts/vm_throughput.sh`
//! builds and runs it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use testbeds::vm::bench::{self, BenchOptions, Plane};

const USAGE: &str = "usage: vm-bench [--secs N] [--rounds R] \
                     [--planes qemu-stream,vhost-user,interface,bridge] [--out DIR]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vm-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The command line: the bench's options and the output directory.
fn parse_args(args: &[String]) -> Result<(BenchOptions, Option<PathBuf>)> {
    let mut opts = BenchOptions::default();
    let mut out = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            bail!("{USAGE}");
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--secs" => {
                opts.secs = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("--secs {value}: a positive number of seconds"))?;
            }
            "--rounds" => {
                opts.rounds = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("--rounds {value}: a positive number"))?;
            }
            "--planes" => opts.planes = Plane::parse_list(value)?,
            "--out" => out = Some(PathBuf::from(value)),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok((opts, out))
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, out) = parse_args(&args)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = testbeds::privileges::check_privileges() {
        bail!("needs root: {e}");
    }
    testbeds::vm::check_vm_tools()?;
    // Ctrl-C: no `Drop` runs when a signal ends the process; delete this run's namespaces
    // (and what runs in them) by hand. vpcd and QEMU die with the process (PR_SET_PDEATHSIG).
    if let Err(e) = ctrlc::set_handler(|| {
        bench::interrupted();
        std::process::exit(130);
    }) {
        eprintln!("vm-bench: warning: cannot clean up on interrupt: {e}");
    }
    let report = bench::run(&opts)?;
    print!("{}", report.markdown());
    if let Some(dir) = out {
        report.write_to(&dir)?;
        eprintln!("vm-bench: wrote {}/vm_throughput.{{md,csv}}", dir.display());
    }
    Ok(())
}
