//! `vpcctl`: validate a topology file, push it to `vpcd`, inspect the running state, and
//! bring a whole lab (vpcd + namespaces) up and down.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use control::client::{self, ClientError, SOCKET_ENV};
use control::lab::{self, UpState};
use control::segment::SegmentPlan;
use control::{compile_file, render, Compiled, LoadError, DEFAULT_SOCKET};
use dataplane::sys::ip::{self, Ip};

/// Control tool of the userspace virtual VPC data plane.
#[derive(Debug, Parser)]
#[command(
    name = "vpcctl",
    version,
    about = "Validate a VPC topology file and drive vpcd: apply, show, and the lab verbs up/exec/down",
    long_about = None
)]
struct Cli {
    /// The vpcd control socket [env: VPCD_SOCKET] [default: /run/vpcd/vpcd.sock].
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Check a topology file and report every problem in it.
    #[command(after_help = "Example:\n  vpcctl validate examples/demo.toml")]
    Validate {
        /// The topology file (TOML).
        file: PathBuf,
    },
    /// Validate, compile and send a topology to the running vpcd (atomic: a rejected
    /// apply leaves the running configuration untouched).
    #[command(after_help = "Example:\n  vpcctl apply examples/demo.toml")]
    Apply {
        /// The topology file (TOML).
        file: PathBuf,
    },
    /// Show the running configuration, ports and counters.
    #[command(after_help = "Examples:\n  vpcctl show\n  vpcctl show --json | jq .engine")]
    Show {
        /// Print the raw report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print every counter, one `name{labels} value` per line (the series of the
    /// Prometheus endpoint `vpcd --metrics`): per ENI and drop reason, per internet
    /// gateway uplink, per NAT gateway, flow cache, conntrack, network-ACL rules.
    #[command(
        after_help = "Examples:\n  vpcctl stats | grep drops_total | grep -v ' 0$'\n  vpcctl stats --eni eni-web1\n  vpcctl stats --json | jq .engine"
    )]
    Stats {
        /// Print the report as JSON (with --eni: that ENI's entry).
        #[arg(long)]
        json: bool,
        /// Only the counters of this ENI.
        #[arg(long, value_name = "ID")]
        eni: Option<String>,
    },
    /// Start vpcd if needed, create the namespaces of the ENIs and of the internet
    /// gateways' internet sides, build the internet segment and its hosts (and start
    /// their services), and apply the topology.
    #[command(
        after_help = "Example:\n  sudo vpcctl up examples/demo.toml\n  sudo vpcctl exec eni-web1 -- ping -c1 10.0.2.20\n  sudo vpcctl exec client -- curl -s http://198.51.100.40/\n  sudo vpcctl down"
    )]
    Up {
        /// The topology file (TOML).
        file: PathBuf,
        /// The vpcd binary (default: `vpcd` next to vpcctl, else on PATH).
        #[arg(long)]
        vpcd: Option<PathBuf>,
        /// Have the vpcd this starts serve Prometheus metrics at http://ADDR:PORT/metrics
        /// (loopback only; ignored when vpcd is already running).
        #[arg(long, value_name = "ADDR:PORT", value_parser = dataplane::daemon::metrics_http::parse_addr)]
        metrics: Option<std::net::SocketAddr>,
    },
    /// Run a command in the network namespace of an ENI, an internet host, or an
    /// internet gateway's outside (its own namespace, or the internet segment's).
    #[command(
        after_help = "Examples:\n  sudo vpcctl exec eni-web1 -- ip addr show eth0\n  sudo vpcctl exec client -- ping -c1 198.51.100.40\n  sudo vpcctl exec igw-demo -- tcpdump -ni inet0"
    )]
    Exec {
        /// An ENI id, an internet host id, or an internet gateway id (`igw-…`) for the
        /// namespace of its outside.
        eni: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Run an internet host's test services in the current namespace until killed
    /// (`vpcctl up` runs this in each host's namespace; prints `ready` once listening).
    #[command(
        after_help = "Example:\n  sudo ip netns exec client vpcctl serve --name client --service http:tcp:80 --service echo:udp:7"
    )]
    Serve {
        /// The host's name, shown in HTTP answers.
        #[arg(long)]
        name: String,
        /// A service, KIND:PROTOCOL:PORT (http:tcp:80, echo:tcp:7, echo:udp:7); repeatable.
        #[arg(long = "service", required = true)]
        services: Vec<control::serve::ServiceSpec>,
    },
    /// Stop vpcd and remove the namespaces that `vpcctl up` created (idempotent).
    #[command(after_help = "Example:\n  sudo vpcctl down")]
    Down,
    /// Trace a packet through the running pipeline, hop by hop, without sending it:
    /// every component it passes (ENI, security group rule, network ACL rule, route,
    /// gateway, NAT rewrite, peering) and where it ends (delivered, or the blocking
    /// component with an explanation code). Live traffic and connections are untouched.
    #[command(
        after_help = "Examples:\n  vpcctl trace eni-web1 10.0.2.20 --proto tcp --dport 5001\n  vpcctl trace eni-priv1 203.0.113.5 --dport 443 --return\n  vpcctl trace client 198.51.100.40 --dport 80 --json"
    )]
    Trace {
        /// Where the packet starts: an ENI id, an internet host id, or an internet gateway
        /// id for a packet from its internet side.
        from: String,
        /// The destination address.
        dst: std::net::IpAddr,
        /// tcp, udp or icmp.
        #[arg(long, default_value = "tcp")]
        proto: String,
        /// The source address (default: the ENI's primary IPv4, or the internet host).
        #[arg(long)]
        src: Option<std::net::IpAddr>,
        /// Source port (TCP/UDP) or ICMP echo identifier (default 40000).
        #[arg(long)]
        sport: Option<u16>,
        /// Destination port (default 80 for TCP, 53 for UDP).
        #[arg(long)]
        dport: Option<u16>,
        /// ICMP type (default 8, echo request).
        #[arg(long)]
        icmp_type: Option<u8>,
        /// ICMP code (default 0).
        #[arg(long)]
        icmp_code: Option<u8>,
        /// TCP flags, comma-separated (SYN, ACK, FIN, RST, PSH); default SYN.
        #[arg(long)]
        flags: Option<String>,
        /// Also trace the reply to the delivered packet.
        #[arg(long = "return")]
        return_path: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parses `SYN,ACK`-style TCP flags.
fn parse_flags(s: &str) -> Result<u8> {
    let mut f = 0;
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        f |= match name.to_ascii_uppercase().as_str() {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            other => anyhow::bail!("--flags: unknown TCP flag `{other}` (SYN, ACK, FIN, RST, PSH)"),
        };
    }
    Ok(f)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let socket = cli
        .socket
        .or_else(|| {
            std::env::var_os(SOCKET_ENV)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let socket = socket.as_path();
    match cli.command {
        Cmd::Validate { file } => Ok(match load(&file)? {
            Some(c) => {
                println!("{}: ok ({})", file.display(), render::summary(&c.config));
                print_warnings(&c);
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        }),
        Cmd::Apply { file } => {
            let Some(c) = load(&file)? else {
                return Ok(ExitCode::FAILURE);
            };
            print_warnings(&c);
            // `apply` pushes the configuration only; the internet segment is built by `up`.
            if let Some(seg) = SegmentPlan::of(&c.topology) {
                for ns in seg
                    .namespaces()
                    .into_iter()
                    .filter(|ns| !ip::netns_exists(ns))
                {
                    eprintln!("warning: namespace {ns} of the internet segment does not exist; `vpcctl up FILE` builds the segment and its hosts");
                }
            }
            apply(socket, &c)
        }
        Cmd::Show { json } => {
            let report = client::show(socket)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render::show(&report));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Stats { json, eni } => stats(socket, json, eni.as_deref()),
        Cmd::Up {
            file,
            vpcd,
            metrics,
        } => up(socket, &file, vpcd, metrics),
        Cmd::Exec { eni, command } => exec(socket, &eni, &command),
        Cmd::Down => down(socket),
        Cmd::Serve { name, services } => {
            control::serve::run(&name, &services, || println!("ready"))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Trace {
            from,
            dst,
            proto,
            src,
            sport,
            dport,
            icmp_type,
            icmp_code,
            flags,
            return_path,
            json,
        } => {
            use dataplane::observe::trace::{Outcome, TraceProtocol, TraceSpec};
            let protocol = match proto.to_ascii_lowercase().as_str() {
                "tcp" => TraceProtocol::Tcp,
                "udp" => TraceProtocol::Udp,
                "icmp" => TraceProtocol::Icmp,
                other => anyhow::bail!("--proto: `{other}` is not tcp, udp or icmp"),
            };
            let spec = TraceSpec {
                from,
                src,
                dst,
                protocol,
                src_port: sport,
                dst_port: dport,
                icmp_type,
                icmp_code,
                tcp_flags: flags.as_deref().map(parse_flags).transpose()?,
                return_path,
            };
            let report = client::trace(socket, &spec)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            // Exit status 0 when delivered (both ways when the return path was asked).
            let delivered = |o: &Outcome| matches!(o, Outcome::Delivered { .. });
            let ok = delivered(&report.forward.outcome)
                && (!return_path || report.reply.as_ref().is_some_and(|r| delivered(&r.outcome)));
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Loads a topology; prints every problem and returns `None` when it is invalid.
fn load(file: &Path) -> Result<Option<Compiled>> {
    match compile_file(file) {
        Ok(c) => Ok(Some(c)),
        Err(LoadError::Invalid(errors)) => {
            eprintln!(
                "{}: {} problem{} (nothing was changed):",
                file.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            for e in errors.iter() {
                eprintln!("  {e}");
            }
            Ok(None)
        }
        Err(e @ LoadError::Io { .. }) => Err(e.into()),
    }
}

fn print_warnings(c: &Compiled) {
    for w in &c.warnings {
        eprintln!("warning: {w}");
    }
}

fn apply(socket: &Path, c: &Compiled) -> Result<ExitCode> {
    match client::apply(socket, &c.config) {
        Ok(client::Applied { epoch, warnings }) => {
            println!("applied: epoch {epoch} ({})", render::summary(&c.config));
            Ok(report_post_commit(epoch, &warnings))
        }
        Err(ClientError::Rejected(errors)) => {
            eprintln!("vpcd rejected the configuration (the running configuration is unchanged):");
            for e in errors {
                eprintln!("  {e}");
            }
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints the problems vpcd found after committing `epoch`; failure if there were any.
fn report_post_commit(epoch: u64, warnings: &[String]) -> ExitCode {
    if warnings.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "epoch {epoch} is running, but some attachments are incomplete (fix the cause and apply again):"
    );
    for w in warnings {
        eprintln!("  {w}");
    }
    ExitCode::FAILURE
}

/// The vpcd binary to start: `--vpcd`, else `vpcd` next to this executable, else on PATH.
fn vpcd_binary(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(p) = explicit {
        return p;
    }
    if let Some(sibling) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("vpcd")))
        .filter(|p| p.is_file())
    {
        return sibling;
    }
    PathBuf::from("vpcd")
}

/// `vpcctl stats`: every counter as `name{labels} value` lines, or JSON.
fn stats(socket: &Path, json: bool, eni: Option<&str>) -> Result<ExitCode> {
    let report = client::show(socket)?;
    if let Some(id) = eni {
        if !report.enis.iter().any(|e| e.id == id) {
            let known: Vec<&str> = report.enis.iter().map(|e| e.id.as_str()).collect();
            bail!(
                "no ENI `{id}` in the running configuration; known ENIs: {}",
                known.join(", ")
            );
        }
    }
    if json {
        let value = match eni {
            Some(id) => serde_json::to_value(report.enis.iter().find(|e| e.id == id))?,
            None => serde_json::to_value(&report)?,
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!(
            "{}",
            dataplane::observe::metrics::render_samples(&report, eni)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn up(
    socket: &Path,
    file: &Path,
    vpcd: Option<PathBuf>,
    metrics: Option<std::net::SocketAddr>,
) -> Result<ExitCode> {
    // Fail before touching anything.
    if let Some(addr) = metrics {
        dataplane::daemon::metrics_http::check_addr(addr, false)?;
    }
    let Some(c) = load(file)? else {
        return Ok(ExitCode::FAILURE);
    };
    print_warnings(&c);
    let state_path = lab::state_path(socket);
    let previous = UpState::load(&state_path)?;
    lab::create_private_dir(&lab::socket_dir(socket))?;

    let mut started = None;
    if client::is_listening(socket) {
        println!("vpcd already running on {}", socket.display());
        if metrics.is_some() {
            eprintln!("warning: --metrics ignored: vpcd is already running (restart it with `vpcctl down` first)");
        }
    } else {
        let bin = vpcd_binary(vpcd);
        let args: Vec<std::ffi::OsString> = metrics
            .map(|a| vec!["--metrics".into(), a.to_string().into()])
            .unwrap_or_default();
        let (child, ready) = lab::start_vpcd_with(&bin, socket, &args)
            .with_context(|| format!("starting {}", bin.display()))?;
        println!(
            "started vpcd (pid {}), log {}",
            child.id(),
            lab::log_path(socket).display()
        );
        if let Some(url) = lab::ready_field(&ready, "metrics") {
            println!("metrics at {url}");
        }
        started = Some(child);
    }

    let segment = SegmentPlan::of(&c.topology);
    let mut created = Vec::new();
    let mut namespaces: Vec<&str> = c
        .config
        .enis
        .iter()
        .filter_map(|e| e.attachment.as_ref())
        .chain(
            c.config
                .internet_gateways
                .iter()
                .filter_map(|g| g.uplink.as_ref().map(|u| &u.attachment)),
        )
        .map(|a| a.netns.as_str())
        .chain(segment.iter().flat_map(SegmentPlan::namespaces))
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let mut failure: Option<anyhow::Error> = None;
    for ns in namespaces {
        if ip::netns_exists(ns) {
            continue;
        }
        // A fresh namespace's loopback is down; bring it up like a host's.
        match ip::netns_add(ns).and_then(|()| Ip::link_up(Some(ns), "lo").run().map(drop)) {
            Ok(()) => created.push(ns.to_string()),
            Err(e) => {
                failure = Some(anyhow::Error::new(e).context(format!("creating namespace {ns}")));
                break;
            }
        }
    }

    let mut services = Vec::new();
    if let (None, Some(seg)) = (&failure, &segment) {
        match build_segment(seg, socket) {
            Ok(started) => services = started,
            Err(e) => failure = Some(e),
        }
    }

    let mut state = previous.clone();
    if let Some(seg) = &segment {
        for h in &seg.hosts {
            state.internet_hosts.insert(h.id.clone(), h.netns.clone());
        }
    }
    state.services.extend(services.iter().cloned());
    if let Some(child) = &started {
        state.vpcd_pid = Some(child.id());
        state.vpcd_start_time = lab::pid_start_time(child.id());
    }
    for ns in &created {
        if !state.namespaces_created.contains(ns) {
            state.namespaces_created.push(ns.clone());
        }
    }
    if failure.is_none() {
        if let Err(e) = state.save(&state_path) {
            failure = Some(e.into());
        }
    }

    let outcome = match failure {
        Some(e) => Err(e),
        None => match client::apply(socket, &c.config) {
            Ok(client::Applied { epoch, warnings }) => {
                println!(
                    "up: epoch {epoch} ({}); namespaces created: {}",
                    render::summary(&c.config),
                    if created.is_empty() {
                        "none".to_string()
                    } else {
                        created.join(", ")
                    }
                );
                // Committed: nothing is undone, even with warnings.
                return Ok(report_post_commit(epoch, &warnings));
            }
            Err(ClientError::Rejected(errors)) => Err(anyhow::anyhow!(
                "vpcd rejected the configuration:\n  {}",
                errors.join("\n  ")
            )),
            Err(e) => Err(e.into()),
        },
    };

    // Undo what this call did, and only that.
    stop_services(&services);
    for ns in &created {
        if let Err(e) = ip::netns_delete_if_exists(ns) {
            eprintln!("warning: could not delete namespace {ns}: {e}");
        }
    }
    if let Some(mut child) = started {
        lab::stop_child(&mut child, Duration::from_secs(5));
    }
    if previous == UpState::default() {
        let _ = UpState::remove(&state_path);
    } else {
        let _ = previous.save(&state_path);
    }
    outcome.context("vpcctl up failed; what this call created has been removed")
}

/// Builds the internet segment and its hosts, and starts the hosts' services that are
/// not running yet (those a previous `up` started and that still run are kept).
fn build_segment(seg: &SegmentPlan, socket: &Path) -> Result<Vec<lab::ServiceProcess>> {
    seg.build()?;
    let running = UpState::load(&lab::state_path(socket))?.services;
    let me = std::env::current_exe().context("finding the vpcctl binary for host services")?;
    let log = lab::socket_dir(socket).join("services.log");
    let mut started = Vec::new();
    for h in &seg.hosts {
        let args = control::segment::serve_args(h);
        if args.is_empty() || running.iter().any(|p| p.host == h.id && p.is_alive()) {
            continue;
        }
        match lab::start_in_netns(&me, &h.netns, &args, &log) {
            Ok(child) => started.push(lab::ServiceProcess {
                host: h.id.clone(),
                pid: child.id(),
                start_time: lab::pid_start_time(child.id()),
            }),
            Err(e) => {
                stop_services(&started);
                return Err(
                    anyhow::Error::new(e).context(format!("starting the services of {}", h.id))
                );
            }
        }
    }
    Ok(started)
}

/// Stops host services by PID (only while each PID is still that process).
fn stop_services(services: &[lab::ServiceProcess]) {
    for p in services.iter().filter(|p| p.is_alive()) {
        if let Err(e) = lab::terminate(p.pid) {
            eprintln!(
                "warning: could not stop the services of {} (pid {}): {e}",
                p.host, p.pid
            );
        } else if !lab::wait_for_exit(p.pid, Duration::from_secs(5)) {
            eprintln!(
                "warning: the services of {} (pid {}) did not exit",
                p.host, p.pid
            );
        }
    }
}

fn exec(socket: &Path, eni: &str, command: &[String]) -> Result<ExitCode> {
    let run_in = |netns: &str| -> Result<ExitCode> {
        let status = Ip::netns_exec(netns, command).status()?;
        let code = lab::exit_code(status);
        Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
    };
    let up = UpState::load(&lab::state_path(socket))?;
    if let Some(ns) = up.internet_hosts.get(eni) {
        return run_in(ns);
    }
    let report = client::show(socket)?;
    if let Some(g) = report.config.internet_gateways.iter().find(|g| g.id == eni) {
        let Some(up) = &g.uplink else {
            bail!(
                "{eni} has no internet side; set `internet` on it in the topology and apply again"
            );
        };
        let status = Ip::netns_exec(&up.attachment.netns, command).status()?;
        let code = lab::exit_code(status);
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    if report.config.nat_gateways.iter().any(|n| n.id == eni) {
        bail!("{eni} is a NAT gateway: it runs inside vpcd and has no namespace to run a command in; exec into an ENI behind it instead");
    }
    let Some(e) = report.config.enis.iter().find(|e| e.id == eni) else {
        let known: Vec<&str> = report
            .config
            .enis
            .iter()
            .map(|e| e.id.as_str())
            .chain(up.internet_hosts.keys().map(String::as_str))
            .collect();
        bail!(
            "no ENI or internet host `{eni}` in the running lab; known: {}",
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let Some(att) = &e.attachment else {
        bail!("{eni} is not attached to a namespace; set `netns` on it in the topology and apply again");
    };
    let status = Ip::netns_exec(&att.netns, command).status()?;
    let code = lab::exit_code(status);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn down(socket: &Path) -> Result<ExitCode> {
    match client::shutdown(socket) {
        Ok(()) => println!("vpcd is shutting down"),
        Err(e) if e.is_not_running() => println!("vpcd is not running on {}", socket.display()),
        Err(e) => eprintln!("warning: shutdown request failed: {e}"),
    }
    let state_path = lab::state_path(socket);
    let state = UpState::load(&state_path)?;
    if let Some(pid) = state.vpcd_pid {
        if !lab::wait_for_exit(pid, Duration::from_secs(5)) {
            // Only signal the PID we recorded, and only while it is still that process.
            if lab::is_recorded_vpcd(&state, pid) {
                eprintln!("vpcd (pid {pid}) did not exit; sending SIGTERM");
                lab::terminate(pid)?;
                if !lab::wait_for_exit(pid, Duration::from_secs(5)) {
                    bail!("vpcd (pid {pid}) is still running after SIGTERM; stop it by hand (kill -KILL {pid}) and run `vpcctl down` again");
                }
            }
        }
    }
    stop_services(&state.services);
    let mut failed = Vec::new();
    for ns in &state.namespaces_created {
        match ip::netns_delete_if_exists(ns) {
            Ok(()) => println!("deleted namespace {ns}"),
            Err(e) => {
                eprintln!("warning: {e}");
                failed.push(ns.clone());
            }
        }
    }
    if failed.is_empty() {
        UpState::remove(&state_path)?;
        println!("down");
        Ok(ExitCode::SUCCESS)
    } else {
        UpState {
            namespaces_created: failed,
            ..UpState::default()
        }
        .save(&state_path)?;
        bail!("some namespaces could not be deleted; fix the cause and run `vpcctl down` again")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exec_takes_the_command_after_dashes() {
        let cli = Cli::try_parse_from(["vpcctl", "exec", "eni-a", "--", "ping", "-c1", "10.0.1.1"])
            .unwrap();
        match cli.command {
            Cmd::Exec { eni, command } => {
                assert_eq!(eni, "eni-a");
                assert_eq!(command, ["ping", "-c1", "10.0.1.1"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["vpcctl", "exec", "eni-a"]).is_err());
    }

    #[test]
    fn socket_is_global() {
        let cli = Cli::try_parse_from(["vpcctl", "show", "--socket", "/tmp/x.sock"]).unwrap();
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/x.sock")));
    }

    #[test]
    fn stats_and_up_metrics_parse() {
        let cli = Cli::try_parse_from(["vpcctl", "stats"]).unwrap();
        assert!(matches!(
            cli.command,
            Cmd::Stats {
                json: false,
                eni: None
            }
        ));
        let cli = Cli::try_parse_from(["vpcctl", "stats", "--json", "--eni", "eni-a"]).unwrap();
        match cli.command {
            Cmd::Stats { json, eni } => {
                assert!(json);
                assert_eq!(eni.as_deref(), Some("eni-a"));
            }
            other => panic!("{other:?}"),
        }
        let cli =
            Cli::try_parse_from(["vpcctl", "up", "t.toml", "--metrics", "127.0.0.1:9100"]).unwrap();
        match cli.command {
            Cmd::Up { metrics, .. } => {
                assert_eq!(metrics, Some("127.0.0.1:9100".parse().unwrap()));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["vpcctl", "up", "t.toml"]).unwrap();
        assert!(matches!(cli.command, Cmd::Up { metrics: None, .. }));
        assert!(Cli::try_parse_from(["vpcctl", "up", "t.toml", "--metrics", "x"]).is_err());
    }

    #[test]
    fn explicit_vpcd_binary_wins() {
        assert_eq!(
            vpcd_binary(Some(PathBuf::from("/opt/vpcd"))),
            PathBuf::from("/opt/vpcd")
        );
    }
}
