//! `vpcd`: the VPC data-plane daemon. Owns one TAP per attached ENI and forwards every
//! frame through the VPC pipeline. Configure it with `vpcctl apply` (or `vpcctl up`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The VPC data-plane daemon.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "The VPC data-plane daemon: forwards frames between TAP-attached ENIs",
    after_help = "Prints one line `ready socket=PATH pid=PID [metrics=URL]` on stdout once the control socket listens.\n\
                  Example: vpcd --socket /run/vpcd/vpcd.sock   (then: vpcctl apply topology.toml)\n\
                  Metrics: vpcd --metrics 127.0.0.1:9100   (then: curl http://127.0.0.1:9100/metrics)"
)]
struct Args {
    /// Control socket (created with mode 0600).
    #[arg(long, env = "VPCD_SOCKET", default_value = "/run/vpcd/vpcd.sock")]
    socket: PathBuf,
    /// Prefix for the TAP devices this daemon creates (1..8 chars of [a-z0-9]).
    #[arg(long)]
    tap_prefix: Option<String>,
    /// Flow-cache capacity (flows).
    #[arg(long, default_value_t = dataplane::datapath::DEFAULT_FLOWS)]
    flow_capacity: usize,
    /// Log filter (tracing env-filter syntax), also read from RUST_LOG.
    #[arg(long, default_value = "info")]
    log: String,
    /// Serve every counter as Prometheus text at http://ADDR:PORT/metrics (off by default;
    /// loopback only unless --metrics-allow-remote; port 0 picks a free port).
    #[arg(long, value_name = "ADDR:PORT", value_parser = dataplane::daemon::metrics_http::parse_addr)]
    metrics: Option<SocketAddr>,
    /// Allow --metrics on a non-loopback address (exposes the counters to the network).
    #[arg(long, requires = "metrics")]
    metrics_allow_remote: bool,
    /// Adaptive polling: microseconds the forwarding thread keeps polling after traffic
    /// before it sleeps (0: always sleep when idle).
    #[arg(long, env = "VPCD_POLL_US", default_value_t = dataplane::daemon::DEFAULT_POLL_SPIN.as_micros() as u64)]
    poll_us: u64,
    /// Forwarding workers (threads, 1 to 16): flows are sharded over them by a symmetric
    /// hash, and every TAP gets one queue per worker. Flow logs, captures and mirroring
    /// need 1.
    #[arg(long, env = "VPCD_WORKERS", default_value_t = 1)]
    workers: usize,
    /// Keep the last applied configuration in FILE (written atomically after every apply)
    /// and apply it again at start: a restarted vpcd brings its topology back by itself.
    /// TAPs are then persistent: they outlive a crash and the next vpcd adopts them.
    #[arg(long, env = "VPCD_STATE", value_name = "FILE")]
    state: Option<PathBuf>,
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
    opts.poll_spin = std::time::Duration::from_micros(args.poll_us);
    opts.workers = args.workers;
    opts.state_file = args.state;
    opts.metrics = args.metrics.map(|addr| dataplane::daemon::MetricsOptions {
        addr,
        allow_remote: args.metrics_allow_remote,
    });
    dataplane::daemon::run_with(opts, |r| {
        let socket = r.socket;
        let mut out = std::io::stdout().lock();
        // Fields are appended at the end, so readers of `ready socket=… pid=…` keep working.
        let metrics = r
            .metrics
            .map(|a| format!(" metrics=http://{a}/metrics"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "ready socket={} pid={}{metrics}",
            socket.display(),
            std::process::id()
        );
        let _ = out.flush();
        tracing::info!(socket = %socket.display(), metrics = ?r.metrics, "vpcd ready");
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn metrics_is_off_by_default_and_parses_addresses() {
        let a = Args::try_parse_from(["vpcd"]).unwrap();
        assert_eq!(a.metrics, None);
        assert!(!a.metrics_allow_remote);
        let a = Args::try_parse_from(["vpcd", "--metrics", "127.0.0.1:0"]).unwrap();
        assert_eq!(a.metrics, Some("127.0.0.1:0".parse().unwrap()));
        let a = Args::try_parse_from(["vpcd", "--metrics", "localhost:9100"]).unwrap();
        assert_eq!(a.metrics, Some("127.0.0.1:9100".parse().unwrap()));
        let a = Args::try_parse_from([
            "vpcd",
            "--metrics",
            "0.0.0.0:9100",
            "--metrics-allow-remote",
        ])
        .unwrap();
        assert!(a.metrics_allow_remote);
        assert!(Args::try_parse_from(["vpcd", "--metrics", "nowhere"]).is_err());
        assert!(Args::try_parse_from(["vpcd", "--metrics-allow-remote"]).is_err());
    }
}
