//! `vpcctl`: validate a topology file, push it to `vpcd`, inspect the running state, and
//! bring a whole lab (vpcd + namespaces) up and down.
//!
//! Every verb follows [`control::cli`]: exit status 0/1/2 ([`ExitKind`]), `--json` on
//! stdout (errors too), progress lines on stderr when it is a terminal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use control::cli::docs::{self, CompletionShell};
use control::cli::exit::{self, ExitKind};
use control::cli::json::{self, ApplyReport, DhcpLeaseReport, FileReport, UpReport};
use control::cli::progress::Progress;
use control::client::{self, ClientError, SOCKET_ENV};
use control::lab::{self, UpState};
mod import_cmd;
mod lab_cmd;
mod regress;

use control::segment::SegmentPlan;
use control::testing::run::RunOptions;
use control::{compile_file, render, Compiled, LoadError, ValidationErrors, DEFAULT_SOCKET};
use dataplane::sys::ip::{self, Ip};
use dataplane::vpc::config::DataplaneConfig;
use import_cmd::{import, ImportFrom};
use lab_cmd::{down, exec, up};
use regress::{diff, generate_matrix, test};

/// Control tool of the userspace virtual VPC data plane.
#[derive(Debug, Parser)]
#[command(
    name = "vpcctl",
    version,
    about = "Validate a VPC topology file and drive vpcd: apply, show, and the lab verbs up/exec/down",
    long_about = None,
    after_long_help = exit::EXIT_STATUS_HELP
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
    ///
    /// Exit status: 0 valid, 1 invalid, 2 unreadable file or bad arguments.
    #[command(after_help = "Example:\n  vpcctl validate examples/demo.toml")]
    Validate {
        /// The topology file (TOML).
        file: PathBuf,
        /// Print `{ok, file, summary, warnings, errors: [{resource, field, message}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Validate, compile and send a topology to the running vpcd (atomic: a rejected
    /// apply leaves the running configuration untouched).
    ///
    /// Exit status: 0 applied, 1 the file is invalid (nothing sent), 2 vpcd not running,
    /// refusing the configuration, or unable to finish an attachment (the new epoch runs).
    #[command(after_help = "Example:\n  vpcctl apply examples/demo.toml")]
    Apply {
        /// The topology file (TOML).
        file: PathBuf,
        /// Print validate's JSON plus `epoch`; vpcd's refusals are in `errors`.
        #[arg(long)]
        json: bool,
    },
    /// Show the running configuration, ports and counters.
    #[command(after_help = "Examples:\n  vpcctl show\n  vpcctl show --json | jq .engine")]
    Show {
        /// Print the raw report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the QEMU arguments that attach a VM to a `qemu-stream` or `vhost-user` ENI: a
    /// `-netdev stream` client on the ENI's socket, or a `-chardev socket` with a `-netdev
    /// vhost-user` on it plus the shared guest memory vhost-user needs
    /// (`memory-backend-memfd` of `--memory` MiB, which must equal QEMU's `-m`); and a
    /// virtio-net device with the ENI's MAC.
    ///
    /// Reads the running configuration from vpcd, or compiles FILE with `--file`.
    /// Exit status: 0 printed, 1 the ENI is not attached to a QEMU guest or the file is invalid,
    /// 2 vpcd not running or an unreadable file.
    #[command(
        after_help = "Example:\n  qemu-system-x86_64 -nodefaults -nic none -m 256 ... $(vpcctl vm-args eni-vm)\n\nUnder TCG (no KVM), append `,vectors=0` to a vhost-user NIC's -device value: QEMU 7.2\ncrashes setting up MSI-X for a vhost back end without irqfd (legacy INTx works)."
    )]
    VmArgs {
        /// The ENI id.
        eni: String,
        /// The guest's RAM in MiB, for a vhost-user ENI's shared memory (QEMU's `-m` must
        /// be the same).
        #[arg(long, value_name = "MIB", default_value_t = control::vm_args::DEFAULT_MEMORY_MIB)]
        memory: u32,
        /// Compile this topology file instead of asking the running vpcd.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print the arguments as a JSON array.
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
    ///
    /// Progress lines go to stderr when it is a terminal. Exit status: 0 up, 1 the file
    /// is invalid (nothing touched), 2 anything else failed (what this call created is
    /// removed again).
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
        /// Print apply's JSON plus `vpcd` and `namespaces_created`.
        #[arg(long)]
        json: bool,
    },
    /// Run a command in the network namespace of an ENI, an internet host, or an
    /// internet gateway's outside (its own namespace, or the internet segment's).
    ///
    /// Exit status: the command's, unchanged (128+N when killed by signal N); 2 when
    /// vpcctl itself fails (unknown target, vpcd not running).
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
        /// Capture the command's output and print `{ok, target, netns, status, stdout,
        /// stderr}` (the exit status is still the command's).
        #[arg(long)]
        json: bool,
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
        /// A service, KIND:PROTOCOL:PORT (http:tcp:80, echo:tcp:7, echo:udp:7,
        /// dns:udp:53); repeatable.
        #[arg(long = "service", required = true)]
        services: Vec<control::serve::ServiceSpec>,
        /// The address a dns service answers every A question with (the host's first).
        #[arg(long)]
        address: Option<std::net::Ipv4Addr>,
        /// Say ready as one JSON line, `{ready, name, services}`.
        #[arg(long)]
        json: bool,
    },
    /// Stop vpcd and remove the namespaces that `vpcctl up` created (idempotent).
    ///
    /// Exit status: 0 everything is gone (or was), 2 something could not be removed.
    #[command(after_help = "Example:\n  sudo vpcctl down")]
    Down {
        /// Print `{ok, vpcd, namespaces_deleted, namespaces_failed, warnings}`.
        #[arg(long)]
        json: bool,
    },
    /// Trace a packet through the running pipeline, hop by hop, without sending it:
    /// every component it passes (ENI, security group rule, network ACL rule, route,
    /// gateway, NAT rewrite, peering) and where it ends (delivered, or the blocking
    /// component with an explanation code). Live traffic and connections are untouched.
    ///
    /// Exit status: 0 delivered (both ways with --return), 1 dropped, 2 vpcd not running
    /// or the packet's description is wrong (unknown ENI, protocol).
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
    /// Run firewall-rule regression tests: bring each test file's topology up on its own
    /// vpcd and namespaces (or `--attach` to a running one), send real traffic for every
    /// check, trace the same packet, and report both. With `--generate TOPOLOGY`, write
    /// the topology's probe matrix as a test file instead.
    ///
    /// Exit status: 0 every check passed, 1 a check failed (or the trace disagreed with
    /// the traffic), 2 a test file is invalid (nothing runs) or a system error.
    #[command(
        after_help = "Examples:\n  sudo vpcctl test examples/tests/three-tier.test.toml\n  sudo vpcctl test examples/tests/*.test.toml --junit report.xml --html report.html\n  sudo vpcctl test --generate examples/tests/three-tier.toml > three-tier.matrix.toml"
    )]
    Test {
        /// The test files (TOML).
        #[arg(required_unless_present = "generate")]
        files: Vec<PathBuf>,
        /// Use the running vpcd (`--socket`) and the namespaces `vpcctl up` made; the test
        /// file's topology and its changes are applied to that vpcd.
        #[arg(long)]
        attach: bool,
        /// Write JUnit XML here.
        #[arg(long, value_name = "PATH")]
        junit: Option<PathBuf>,
        /// Write a self-contained HTML report here.
        #[arg(long, value_name = "PATH")]
        html: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write the probe matrix of this topology as a test file (stdout), expecting what
        /// the traffic does now.
        #[arg(long, value_name = "TOPOLOGY", conflicts_with = "files")]
        generate: Option<PathBuf>,
        /// Probes in flight at once.
        #[arg(long, default_value_t = 128)]
        parallel: usize,
        /// The vpcd binary (default: `vpcd` next to vpcctl, else on PATH).
        #[arg(long)]
        vpcd: Option<PathBuf>,
    },
    /// Run the same generated probe matrix against two topologies and print the
    /// reachability that changed ("tcp/22 from client to eni-db1: blocked → reach …").
    ///
    /// Exit status: 0 nothing changed, 1 something changed, 2 an error.
    #[command(
        after_help = "Example:\n  sudo vpcctl diff examples/tests/three-tier.toml three-tier-new.toml"
    )]
    Diff {
        /// The topology before.
        old: PathBuf,
        /// The topology after.
        new: PathBuf,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
        /// Probes in flight at once.
        #[arg(long, default_value_t = 128)]
        parallel: usize,
        /// The vpcd binary (default: `vpcd` next to vpcctl, else on PATH).
        #[arg(long)]
        vpcd: Option<PathBuf>,
    },
    /// Turn what you already run into a topology: `aws ec2 describe-* --output json`
    /// files (or a directory of them), or the JSON of `terraform show -json` for a plan
    /// or a state. Prints the TOML (or writes `-o FILE`) and, on stderr, what was left
    /// out or turned into a blackhole.
    ///
    /// Exit status: 0 imported (and valid), 1 imported but the topology is invalid
    /// (nothing written), 2 bad input (nothing written).
    #[command(
        after_help = "Examples:\n  vpcctl import aws describe/ -o vpc.toml\n  vpcctl import terraform plan.json --check\n  terraform show -json plan.out > plan.json && vpcctl import terraform plan.json -o vpc.toml"
    )]
    Import {
        /// `aws` or `terraform`.
        from: ImportFrom,
        /// The input: AWS JSON files or directories; one Terraform JSON file.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write the topology here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Validate only: write nothing.
        #[arg(long)]
        check: bool,
        /// Print the report (and errors) as JSON instead of the TOML.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script for bash, zsh or fish.
    #[command(
        after_help = "Examples:\n  source <(vpcctl completions bash)\n  vpcctl completions zsh > ~/.zfunc/_vpcctl\n  vpcctl completions fish > ~/.config/fish/completions/vpcctl.fish"
    )]
    Completions {
        /// The shell.
        shell: CompletionShell,
    },
    /// Print the man page (roff), or a verb's, or write them all to a directory.
    #[command(
        after_help = "Examples:\n  vpcctl man | man -l -\n  vpcctl man trace | man -l -\n  vpcctl man --dir target/man"
    )]
    Man {
        /// A verb, for its own page (`vpcctl-VERB.1`).
        verb: Option<String>,
        /// Write `vpcctl.1` and every `vpcctl-VERB.1` into this directory instead.
        #[arg(long, value_name = "DIR", conflicts_with = "verb")]
        dir: Option<PathBuf>,
    },
}

impl Cmd {
    /// Whether the verb was asked for JSON (its errors are then JSON too).
    fn json(&self) -> bool {
        match self {
            Cmd::Validate { json, .. }
            | Cmd::Apply { json, .. }
            | Cmd::Show { json }
            | Cmd::Stats { json, .. }
            | Cmd::VmArgs { json, .. }
            | Cmd::Up { json, .. }
            | Cmd::Exec { json, .. }
            | Cmd::Serve { json, .. }
            | Cmd::Down { json }
            | Cmd::Trace { json, .. }
            | Cmd::Test { json, .. }
            | Cmd::Import { json, .. }
            | Cmd::Diff { json, .. } => *json,
            Cmd::Completions { .. } | Cmd::Man { .. } => false,
        }
    }
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version exit 0; usage errors exit 2 (clap's rule and ours), as JSON
        // when --json was among the arguments.
        Err(e) if e.use_stderr() && json_requested(std::env::args_os()) => {
            let text = e.render().to_string();
            let text = text.trim_end();
            print_json(&json::ErrorReport::new(
                text.strip_prefix("error: ").unwrap_or(text),
            ));
            return ExitKind::Error.into();
        }
        Err(e) => e.exit(),
    };
    let json = cli.command.json();
    match run(cli) {
        Ok(kind) => kind.into(),
        Err(e) => {
            if json {
                print_json(&json::ErrorReport::new(format!("{e:#}")));
            } else {
                eprintln!("error: {e:#}");
            }
            ExitKind::Error.into()
        }
    }
}

/// Whether `--json` is among the arguments (before a `--`), for usage errors that clap
/// reports before anything is parsed.
fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Prints a `--json` report on stdout.
fn print_json<T: serde::Serialize + ?Sized>(value: &T) {
    match json::pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}

fn run(cli: Cli) -> Result<ExitKind> {
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
        Cmd::Validate { file, json } => Ok(match load(&file)? {
            Ok(c) => {
                if json {
                    print_json(&FileReport::valid(&file, &c));
                } else {
                    println!("{}: ok ({})", file.display(), render::summary(&c.config));
                    print_warnings(&c.warnings);
                }
                ExitKind::Success
            }
            Err(errors) => {
                if json {
                    print_json(&FileReport::invalid(&file, &errors));
                } else {
                    print_problems(&file, &errors);
                }
                ExitKind::Failed
            }
        }),
        Cmd::Apply { file, json } => {
            let c = match load(&file)? {
                Ok(c) => c,
                Err(errors) => {
                    if json {
                        print_json(&ApplyReport::invalid(&file, &errors));
                    } else {
                        print_problems(&file, &errors);
                    }
                    return Ok(ExitKind::Failed);
                }
            };
            // `apply` pushes the configuration only; the internet segment is built by `up`.
            let mut warnings = c.warnings.clone();
            if let Some(seg) = SegmentPlan::of(&c.topology) {
                for ns in seg
                    .namespaces()
                    .into_iter()
                    .filter(|ns| !ip::netns_exists(ns))
                {
                    warnings.push(format!("namespace {ns} of the internet segment does not exist; `vpcctl up FILE` builds the segment and its hosts"));
                }
            }
            apply(socket, &file, &c, warnings, json)
        }
        Cmd::Show { json } => {
            let report = client::show(socket)?;
            if json {
                print_json(&report);
            } else {
                print!("{}", render::show(&report));
            }
            Ok(ExitKind::Success)
        }
        Cmd::Stats { json, eni } => stats(socket, json, eni.as_deref()),
        Cmd::VmArgs {
            eni,
            file,
            json,
            memory,
        } => vm_args(socket, &eni, file.as_deref(), json, memory),
        Cmd::Up {
            file,
            vpcd,
            metrics,
            json,
        } => up(socket, &file, vpcd, metrics, json),
        Cmd::Exec { eni, command, json } => exec(socket, &eni, &command, json),
        Cmd::Down { json } => down(socket, json),
        Cmd::Serve {
            name,
            services,
            address,
            json,
        } => {
            let ready = json::ServeReady {
                ready: true,
                name: name.clone(),
                services: services.iter().map(ToString::to_string).collect(),
            };
            control::serve::run(&name, &services, address, || {
                if json {
                    // One line: whoever waits for readiness reads lines.
                    match serde_json::to_string(&ready) {
                        Ok(line) => println!("{line}"),
                        Err(e) => eprintln!("error: cannot write JSON: {e}"),
                    }
                } else {
                    println!("ready");
                }
            })?;
            Ok(ExitKind::Success)
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
                print_json(&report);
            } else {
                print!("{report}");
            }
            // Exit status 0 when delivered (both ways when the return path was asked),
            // 1 when dropped.
            let delivered = |o: &Outcome| matches!(o, Outcome::Delivered { .. });
            let ok = delivered(&report.forward.outcome)
                && (!return_path || report.reply.as_ref().is_some_and(|r| delivered(&r.outcome)));
            Ok(ExitKind::answer(ok))
        }
        Cmd::Test {
            files,
            attach,
            junit,
            html,
            json,
            generate,
            parallel,
            vpcd,
        } => {
            let opts = RunOptions {
                attach: attach.then(|| socket.to_path_buf()),
                vpcd: vpcd_binary(vpcd),
                parallelism: parallel.max(1),
            };
            match generate {
                Some(topology) => generate_matrix(&topology, &opts),
                None => test(&files, &opts, junit.as_deref(), html.as_deref(), json),
            }
        }
        Cmd::Diff {
            old,
            new,
            json,
            parallel,
            vpcd,
        } => {
            let opts = RunOptions {
                attach: None,
                vpcd: vpcd_binary(vpcd),
                parallelism: parallel.max(1),
            };
            diff(&old, &new, &opts, json)
        }
        Cmd::Import {
            from,
            paths,
            output,
            check,
            json,
        } => import(from, &paths, output.as_deref(), check, json),
        Cmd::Completions { shell } => {
            print!("{}", docs::completions(&mut Cli::command(), shell));
            Ok(ExitKind::Success)
        }
        Cmd::Man { verb, dir } => man(verb.as_deref(), dir.as_deref()),
    }
}

/// Loads a topology: the compiled file, or every problem of an invalid one (exit 1);
/// an unreadable file is an error (exit 2).
fn load(file: &Path) -> Result<Result<Compiled, ValidationErrors>> {
    match compile_file(file) {
        Ok(c) => Ok(Ok(c)),
        Err(LoadError::Invalid(errors)) => Ok(Err(errors)),
        Err(e @ LoadError::Io { .. }) => Err(e.into()),
    }
}

/// Prints every problem of an invalid file on stderr.
fn print_problems(file: &Path, errors: &ValidationErrors) {
    eprintln!(
        "{}: {} problem{} (nothing was changed):",
        file.display(),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for e in errors.iter() {
        eprintln!("  {e}");
    }
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// `vpcctl apply`: 0 applied, 2 refused by vpcd (nothing changed) or applied with
/// attachments left incomplete (the new epoch runs).
fn apply(
    socket: &Path,
    file: &Path,
    c: &Compiled,
    warnings: Vec<String>,
    json: bool,
) -> Result<ExitKind> {
    if !json {
        print_warnings(&warnings);
    }
    match client::apply(socket, &c.config) {
        Ok(client::Applied {
            epoch,
            warnings: post_commit,
        }) => {
            if json {
                let mut report = ApplyReport::applied(file, c, epoch, &post_commit);
                report.file.warnings = warnings;
                print_json(&report);
            } else {
                println!("applied: epoch {epoch} ({})", render::summary(&c.config));
                report_post_commit(epoch, &post_commit);
            }
            Ok(post_commit_exit(&post_commit))
        }
        Err(ClientError::Rejected(errors)) => {
            if json {
                let mut report = ApplyReport::rejected(file, c, &errors);
                report.file.warnings = warnings;
                print_json(&report);
            } else {
                eprintln!(
                    "vpcd rejected the configuration (the running configuration is unchanged):"
                );
                for e in &errors {
                    eprintln!("  {e}");
                }
            }
            Ok(ExitKind::Error)
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints the problems vpcd found after committing `epoch`, if any.
fn report_post_commit(epoch: u64, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    eprintln!(
        "epoch {epoch} is running, but some attachments are incomplete (fix the cause and apply again):"
    );
    for w in warnings {
        eprintln!("  {w}");
    }
}

/// A committed apply is a success unless vpcd could not finish an attachment: a host
/// problem (exit 2), though the new epoch runs.
fn post_commit_exit(warnings: &[String]) -> ExitKind {
    if warnings.is_empty() {
        ExitKind::Success
    } else {
        ExitKind::Error
    }
}

/// The sections the main man page adds to what clap knows.
fn man_sections() -> [docs::Section<'static>; 2] {
    [
        docs::Section {
            title: "EXIT STATUS",
            body: exit::exit_status_body(),
        },
        docs::Section {
            title: "OUTPUT",
            body: json::OUTPUT_HELP,
        },
    ]
}

/// `vpcctl man`: the main page, a verb's, or all of them written to `dir`.
fn man(verb: Option<&str>, dir: Option<&Path>) -> Result<ExitKind> {
    let extra = man_sections();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for page in docs::man_pages(Cli::command(), &extra)? {
                let path = dir.join(&page.file_name);
                std::fs::write(&path, page.text)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("{}", path.display());
            }
        }
        None => print!("{}", docs::man_page(Cli::command(), verb, &extra)?.text),
    }
    Ok(ExitKind::Success)
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
fn stats(socket: &Path, json: bool, eni: Option<&str>) -> Result<ExitKind> {
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
        print_json(&value);
    } else {
        print!(
            "{}",
            dataplane::observe::metrics::render_samples(&report, eni)
        );
    }
    Ok(ExitKind::Success)
}

/// `vpcctl vm-args`: the QEMU arguments of a `qemu-stream` or `vhost-user` ENI (a guest of
/// `memory_mib` MiB), from the running configuration or from `file`.
fn vm_args(
    socket: &Path,
    eni: &str,
    file: Option<&Path>,
    json: bool,
    memory_mib: u32,
) -> Result<ExitKind> {
    let config = match file {
        Some(f) => match load(f)? {
            Ok(c) => c.config,
            Err(errors) => {
                print_problems(f, &errors);
                return Ok(ExitKind::Failed);
            }
        },
        None => client::show(socket)?.config,
    };
    match control::vm_args::qemu_args(&config.enis, eni, memory_mib) {
        Ok(args) => {
            if json {
                print_json(&args);
            } else {
                println!("{}", control::vm_args::shell_line(&args));
            }
            Ok(ExitKind::Success)
        }
        Err(e) => {
            if json {
                print_json(&serde_json::json!({ "ok": false, "error": e.to_string() }));
            } else {
                eprintln!("vpcctl: {e}");
            }
            Ok(ExitKind::Failed)
        }
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
            Cmd::Exec { eni, command, .. } => {
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

    /// Every verb takes `--json`, except those whose output is a file format of its own.
    #[test]
    fn every_verb_has_json() {
        let cmd = Cli::command();
        for verb in cmd.get_subcommands() {
            let name = verb.get_name();
            let has = verb.get_arguments().any(|a| a.get_id() == "json");
            assert_eq!(
                has,
                !["completions", "man"].contains(&name),
                "{name}: --json"
            );
            let rest: &[&str] = match name {
                "validate" | "apply" | "up" => &["f.toml"],
                "exec" => &["eni-a", "--", "true"],
                "serve" => &["--name", "h", "--service", "http:tcp:80"],
                "trace" => &["eni-a", "10.0.0.1"],
                "test" => &["t.test.toml"],
                "diff" => &["a.toml", "b.toml"],
                // A verb with required arguments this test does not know: --json is there.
                _ if verb.get_arguments().any(|a| a.is_required_set()) => continue,
                _ => &[],
            };
            if has {
                let mut args = vec!["vpcctl", name, "--json"];
                args.extend(rest);
                let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
                assert!(cli.command.json(), "{args:?}");
            }
        }
    }

    #[test]
    fn json_is_seen_before_dashes_only() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(json_requested(args(&[
            "vpcctl", "validate", "--json", "--x"
        ])));
        assert!(!json_requested(args(&["vpcctl", "validate", "f"])));
        assert!(!json_requested(args(&[
            "vpcctl", "exec", "eni-a", "--", "cmd", "--json"
        ])));
    }

    #[test]
    fn completions_name_every_verb() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let script = docs::completions(&mut Cli::command(), shell);
            for verb in Cli::command().get_subcommands() {
                assert!(
                    script.contains(verb.get_name()),
                    "{shell:?}: {}",
                    verb.get_name()
                );
            }
        }
        let cli = Cli::try_parse_from(["vpcctl", "completions", "fish"]).unwrap();
        assert!(matches!(
            cli.command,
            Cmd::Completions {
                shell: CompletionShell::Fish
            }
        ));
        assert!(Cli::try_parse_from(["vpcctl", "completions", "tcsh"]).is_err());
    }

    #[test]
    fn man_page_lists_every_verb_and_the_exit_status() {
        let page = docs::man_page(Cli::command(), None, &man_sections()).unwrap();
        assert_eq!(page.file_name, "vpcctl.1");
        assert!(page.text.contains(".TH vpcctl 1"), "{}", page.text);
        for verb in Cli::command().get_subcommands() {
            // roff escapes every hyphen, the verb's own too (`vm\-args`).
            let needle = format!("vpcctl\\-{}(1)", verb.get_name().replace('-', "\\-"));
            assert!(page.text.contains(&needle), "{needle}: {}", page.text);
        }
        for needle in [".SH \"EXIT STATUS\"\n.nf\n  0  success", ".SH \"OUTPUT\""] {
            assert!(page.text.contains(needle), "{needle}: {}", page.text);
        }
        let pages = docs::man_pages(Cli::command(), &[]).unwrap();
        assert_eq!(pages.len(), 1 + Cli::command().get_subcommands().count());
        let validate = docs::man_page(Cli::command(), Some("validate"), &[]).unwrap();
        assert!(validate.text.contains("\\-\\-json"), "{}", validate.text);
        assert!(Cli::try_parse_from(["vpcctl", "man", "up", "--dir", "d"]).is_err());
    }

    #[test]
    fn explicit_vpcd_binary_wins() {
        assert_eq!(
            vpcd_binary(Some(PathBuf::from("/opt/vpcd"))),
            PathBuf::from("/opt/vpcd")
        );
    }
}
