//! `vpcd`: the VPC data-plane daemon. Owns one TAP per attached ENI and forwards every
//! frame through the VPC pipeline. Configure it with `vpcctl apply` (or `vpcctl up`).

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

/// The VPC data-plane daemon.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "The VPC data-plane daemon: forwards frames between TAP-attached ENIs",
    after_help = "Prints one line `ready socket=PATH pid=PID` on stdout once the control socket listens.\n\
                  Example: vpcd --socket /run/vpcd/vpcd.sock   (then: vpcctl apply topology.toml)"
)]
struct Args {
    /// Control socket (created with mode 0600).
    #[arg(long, env = "VPCD_SOCKET", default_value = "/run/vpcd/vpcd.sock")]
    socket: PathBuf,
    /// Prefix for the TAP devices this daemon creates (1..8 chars of [a-z0-9]).
    #[arg(long)]
    tap_prefix: Option<String>,
    /// Flow-cache capacity (flows).
    #[arg(long, default_value_t = dataplane::engine::DEFAULT_FLOWS)]
    flow_capacity: usize,
    /// Log filter (tracing env-filter syntax), also read from RUST_LOG.
    #[arg(long, default_value = "info")]
    log: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut opts = dataplane::daemon::Options::new(args.socket);
    if let Some(p) = args.tap_prefix {
        opts.tap_prefix = p;
    }
    opts.flow_capacity = args.flow_capacity;
    dataplane::daemon::run(opts, |socket| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "ready socket={} pid={}",
            socket.display(),
            std::process::id()
        );
        let _ = out.flush();
        tracing::info!(socket = %socket.display(), "vpcd ready");
    })?;
    Ok(())
}
