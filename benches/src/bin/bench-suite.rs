//! `bench-suite`: the one benchmark command (run it through `benches/run`, which builds
//! first). Builds the same topology on every data plane, measures them interleaved over
//! several rounds with a quiet-machine check before each measurement, prints the Markdown
//! table and writes it with the CSV files and PNG plots to `--out`. Needs root.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use benches::suite::metrics::{
    Measurement, Settings, PING_COUNT, PING_INTERVAL, UDP_OFFERED_BPS, UDP_PAYLOAD,
    UDP_PDR_LOSS_PCT, UDP_PDR_LOW_PPS, UDP_PDR_STEPS, UDP_PDR_TRIAL_SECS,
};
use benches::suite::quiet::QuietCheck;
use benches::suite::results::Results;
use benches::suite::{compare, report, runner, Error, Result};
use clap::Parser;

/// Benchmark vpcd against its peers (the kernel, …) on the same topology, in one run.
#[derive(Parser, Debug)]
#[command(name = "bench-suite", version)]
struct Args {
    /// Rounds (each round measures every plane once; medians over rounds).
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Seconds per iperf3 run (TCP, UDP unconstrained and the UDP PDR confirmation).
    #[arg(long, default_value_t = 5)]
    secs: u32,
    /// Planes, comma-separated: vpcd, kernel, ovs, tapfwd, vpcd-nat, kernel-masq, or all.
    #[arg(long, default_value = "all")]
    planes: String,
    /// Measurements, comma-separated: tcp1 (with vpcd's CPU s/GB), tcp4, udp, ping, conn, or all.
    #[arg(long, default_value = "all")]
    metrics: String,
    /// Output directory (default: target/bench-results/UTC-date-and-time; runs quoted in
    /// closing notes are copied to benches/results/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also run vpcd built at this git ref (planes vpcd@REF and vpcd-nat@REF).
    #[arg(long, value_name = "REF")]
    compare: Option<String>,
    /// New TCP connections per connection-rate measurement.
    #[arg(long, default_value_t = 10_000)]
    conns: u32,
    /// Busy share of all CPUs (percent) below which the machine counts as quiet.
    #[arg(long, default_value_t = 25.0)]
    quiet_pct: f64,
    /// Longest wait (seconds) for a quiet machine before measuring anyway.
    #[arg(long, default_value_t = 30)]
    quiet_wait: u64,
    /// Also measure QEMU guests (plane f): two VMs per vpcd attachment kind and on a Linux
    /// bridge with TAPs, iperf3 VM → namespace and VM → VM, the same rounds and seconds
    /// (testbeds::vm::bench; about a minute per round and plane under TCG). Comma-separated
    /// planes: qemu-stream, vhost-user, interface, bridge, or all.
    #[arg(long, value_name = "PLANES")]
    vms: Option<String>,
}

/// `YYYY-MM-DD-HHMMSS` (UTC) of now.
fn stamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn run(args: Args) -> Result<String> {
    if let Err(reason) = testbeds::privileges::check_privileges() {
        return Err(Error::Usage(format!(
            "bench-suite needs root (it creates namespaces, TAPs and veths): {reason}; \
             run it as root: sudo benches/run …"
        )));
    }
    let measurements = Measurement::parse_list(&args.metrics)?;
    if args.rounds == 0 || args.secs == 0 {
        return Err(Error::Usage(
            "--rounds and --secs must be at least 1".into(),
        ));
    }
    let reference = match &args.compare {
        Some(r) => Some(compare::build_ref(&compare::repo_root()?, r)?),
        None => None,
    };
    let specs = runner::select(runner::catalogue(reference.as_ref()), &args.planes)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/bench-results").join(stamp()));
    let cfg = runner::RunConfig {
        rounds: args.rounds,
        measurements,
        settings: Settings {
            secs: args.secs,
            conns: args.conns,
            connrate: None,
        },
        quiet: QuietCheck {
            threshold: args.quiet_pct / 100.0,
            max_wait: std::time::Duration::from_secs(args.quiet_wait),
            ..QuietCheck::default()
        },
    };
    let mut results = Results {
        settings: vec![
            format!(
                "{} rounds, planes interleaved (order rotating per round), each plane set up and torn down per round",
                cfg.rounds
            ),
            format!(
                "iperf3 {} s per run; UDP {}-byte payloads (64-byte frames) offered at {} Mbit/s of payload; \
                 ping {} echoes every {} ms; {} new TCP connections from {} threads",
                cfg.settings.secs,
                UDP_PAYLOAD,
                UDP_OFFERED_BPS / 1_000_000,
                PING_COUNT,
                PING_INTERVAL.as_millis(),
                cfg.settings.conns,
                benches::suite::metrics::CONN_THREADS
            ),
            format!(
                "quiet check before each measurement: busy < {} % of all CPUs over 1 s, waiting up to {} s",
                args.quiet_pct, args.quiet_wait
            ),
            format!(
                "UDP partial drop rate (PDR): the highest offered rate losing ≤ {} %, bisected in {} trials of {} s \
                 between {} kpps and the unconstrained sender's rate, confirmed by a {} s run (its delivered kpps); \
                 the unconstrained run is the PDR when it loses ≤ {} % itself; at most {} s of UDP traffic per plane and round",
                UDP_PDR_LOSS_PCT,
                UDP_PDR_STEPS,
                UDP_PDR_TRIAL_SECS,
                UDP_PDR_LOW_PPS / 1000.0,
                cfg.settings.secs,
                UDP_PDR_LOSS_PCT,
                cfg.settings.secs
                    + benches::suite::metrics::udp_pdr_search(cfg.settings.secs).max_trial_secs()
            ),
            "data plane CPU: utime + stime of the data plane's processes (vpcd, ovs-vswitchd, tapfwd; none for the kernel) during the 1-stream TCP run, per GB received".into(),
        ],
        ..Results::default()
    };
    if let Some(r) = &reference {
        results.settings.push(format!(
            "compared with vpcd built at {} ({}): {}",
            r.reference,
            r.commit,
            r.vpcd.display()
        ));
    }
    if let Err(e) = ctrlc::set_handler(|| runner::STOP.store(true, Ordering::Relaxed)) {
        tracing::warn!(%e, "no Ctrl-C handler; an interrupted run leaves its namespaces to the next run's cleanup");
    }
    runner::run(&specs, &cfg, &mut results);
    if results.samples.is_empty() {
        return Err(Error::Measurement(format!(
            "no figures measured:\n  {}",
            results.problems.join("\n  ")
        )));
    }
    let files = runner::write_outputs(&mut results, &out)?;
    for f in &files {
        tracing::info!(file = %f.display(), "written");
    }
    let mut table = report::markdown(&results);
    if let Some(list) = &args.vms {
        table.push_str(&vm_planes(list, &args, &out)?);
    }
    Ok(table)
}

/// Plane (f): the VM pairs of `testbeds::vm::bench`, after the namespace planes (one
/// set of guests at a time, torn down between planes); its table goes to
/// `vm_throughput.md` and `vm_throughput.csv` in `out` and is returned.
fn vm_planes(list: &str, args: &Args, out: &std::path::Path) -> Result<String, Error> {
    use testbeds::vm::bench;
    let planes = if list.trim() == "all" {
        bench::Plane::ALL.to_vec()
    } else {
        list.split(',')
            .map(|p| p.trim().parse::<bench::Plane>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Usage(format!("--vms: {e}")))?
    };
    let opts = bench::BenchOptions {
        secs: args.secs,
        rounds: args.rounds,
        planes,
        ..bench::BenchOptions::default()
    };
    let report = bench::run(&opts)?;
    report.write_to(out)?;
    Ok(format!(
        "\n## VMs: QEMU guests per attachment kind against a Linux bridge\n\n{}",
        report.markdown()
    ))
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()) {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-suite: {e}");
            ExitCode::FAILURE
        }
    }
}
