//! The TAP ceiling: two namespaces on one L2 segment made of two TAPs and the bare
//! forwarder `tapfwd` (`benches/src/bin/tapfwd.rs`) copying frames between them, vnet
//! headers and offloads included. No routing, no filtering: what any TAP-based data plane
//! could reach at best.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testbeds::names::check_ifname;
use testbeds::{Error, Netns, NsChild, SpawnOpts};

use super::{Plane, MTU};

/// The environment variable naming the `tapfwd` binary (else it is looked for next to the
/// running executable, as cargo lays out `target/<profile>/`).
pub const TAPFWD_ENV: &str = "TAPFWD";

/// How long the forwarder may take to print `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's address (on-link with the client's: one /16 segment).
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 20);

/// Finds the `tapfwd` binary: `$TAPFWD`, else next to the running executable (or its
/// parent when that is cargo's `deps/`).
pub fn binary_path() -> testbeds::Result<PathBuf> {
    let not_found = |detail: String| Error::BinaryNotFound {
        binary: "tapfwd".into(),
        detail,
    };
    if let Some(p) = std::env::var_os(TAPFWD_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(not_found(format!(
                "{TAPFWD_ENV}={} is not a file",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe().map_err(|e| not_found(format!("current_exe: {e}")))?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let candidate = dir.join("tapfwd");
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(not_found(format!(
            "{TAPFWD_ENV} unset and {} does not exist (cargo build -p benches --bin tapfwd)",
            candidate.display()
        )))
    }
}

/// Keeps the TAP plane up: the forwarder (killed by PID first, which removes both TAPs),
/// then the namespaces.
struct Guard {
    _fwd: NsChild,
    _client: Netns,
    _server: Netns,
}

/// Sets up the TAP ceiling with run prefix `prefix`: namespaces `{prefix}-tc` (client,
/// 10.0.1.10/16 on TAP `{prefix}ta`) and `{prefix}-ts` (server, 10.0.2.20/16 on TAP
/// `{prefix}tb`), MTU [`MTU`], IPv6 off, joined by a running `tapfwd` whose PID is the
/// plane's only data plane process. Label "tapfwd".
pub fn tapfwd(prefix: &str) -> testbeds::Result<Plane> {
    tapfwd_with(prefix, &binary_path()?)
}

/// [`tapfwd`] with an explicit forwarder binary.
pub fn tapfwd_with(prefix: &str, binary: &Path) -> testbeds::Result<Plane> {
    let tap_a = format!("{prefix}ta");
    let tap_b = format!("{prefix}tb");
    check_ifname(&tap_a)?;
    check_ifname(&tap_b)?;
    let client = Netns::create(&format!("{prefix}-tc"))?;
    let server = Netns::create(&format!("{prefix}-ts"))?;

    let args = [tap_a.as_str(), client.name(), tap_b.as_str(), server.name()];
    let mut cmd = Command::new(binary);
    cmd.args(args);
    let desc = format!("{} {}", binary.display(), args.join(" "));
    let mut fwd = NsChild::spawn(cmd, desc, None, SpawnOpts::default())?;
    fwd.wait_for_line(
        |s, l| matches!(s, testbeds::process::Stream::Stdout) && l == "ready",
        READY_TIMEOUT,
    )?;
    tracing::debug!(pid = fwd.pid(), "tapfwd ready");

    let mtu = MTU.to_string();
    for (ns, tap, addr) in [
        (&client, &tap_a, "10.0.1.10/16"),
        (&server, &tap_b, "10.0.2.20/16"),
    ] {
        ns.ip(&[
            "link",
            "set",
            "dev",
            tap,
            "mtu",
            &mtu,
            "addrgenmode",
            "none",
            "up",
        ])?;
        ns.ip(&["addr", "add", addr, "dev", tap])?;
    }
    let pid = fwd.pid();
    Ok(Plane {
        label: "tapfwd".into(),
        client_ns: client.name().to_owned(),
        server_ns: server.name().to_owned(),
        server_ip: SERVER_IP,
        dataplane_pids: vec![pid],
        guard: Box::new(Guard {
            _fwd: fwd,
            _client: client,
            _server: server,
        }),
    })
}
