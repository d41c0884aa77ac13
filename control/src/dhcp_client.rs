//! Running a real DHCP client in an ENI's namespace (an ENI with `addressing = "dhcp"`,
//! the default for an attached ENI): busybox's `udhcpc`, which stays running for the
//! lab's lifetime so it renews its lease. It puts itself in the background once bound
//! (its PID in `udhcpc.pid` of the run directory); [`ClientProcess::stop`] ends it by
//! that PID. An event script written here applies the lease (`ip addr`, `ip link … mtu`,
//! `ip route`), then the secondary addresses the static way (DHCP hands out only the
//! primary one; ec2-net-utils adds the others from instance metadata), and records what
//! udhcpc exported in the run's directory (`lease`, `events`, and a `resolv.conf` made of
//! the DNS servers and domain). With [`ClientOptions::netns_etc`] it also copies that
//! `resolv.conf` to `/etc/netns/<namespace>/`, which `ip netns exec` bind-mounts over
//! `/etc/resolv.conf`, so programs run in the namespace use the VPC's resolver.
//!
//! `vpcctl up`, `vpcctl test` and the test harness start it after the apply that
//! attached the ENI.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::lab::{netns_etc_dir, remove_netns_etc, DhcpClientProcess as ClientProcess};

/// The event script udhcpc runs (`-s`): `deconfig` clears the interface and notes the
/// time, `bound` and `renew` apply the lease (then the secondary addresses of
/// `$VPC_SECONDARY_IPS` with the lease's mask) and record it, every event is appended to
/// `events` (`<event> <ns since the epoch>`). `$VPC_DHCP_DIR` is where it writes;
/// `$VPC_NETNS_ETC`, when set, gets a copy of `resolv.conf` (replaced atomically).
pub const SCRIPT: &str = r#"#!/bin/sh
# udhcpc event script written by vpcctl: applies the lease to $interface and records it.
out="${VPC_DHCP_DIR:?}"
echo "$1 $(date +%s%N)" >> "$out/events"
case "$1" in
deconfig)
    date +%s%N > "$out/started_ns"
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    ip addr replace "$ip/${mask:-32}" dev "$interface"
    for a in ${VPC_SECONDARY_IPS:-}; do ip addr replace "$a/${mask:-32}" dev "$interface"; done
    if [ -n "$mtu" ]; then ip link set "$interface" mtu "$mtu"; fi
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    {
        if [ -n "$domain" ]; then echo "search $domain"; fi
        for s in $dns; do echo "nameserver $s"; done
    } > "$out/resolv.conf"
    if [ -n "${VPC_NETNS_ETC:-}" ]; then
        mkdir -p "$VPC_NETNS_ETC"
        cp "$out/resolv.conf" "$VPC_NETNS_ETC/resolv.conf.tmp"
        mv "$VPC_NETNS_ETC/resolv.conf.tmp" "$VPC_NETNS_ETC/resolv.conf"
    fi
    {
        echo "event=$1"
        echo "ip=$ip"
        echo "mask=$mask"
        echo "subnet=$subnet"
        echo "router=$router"
        echo "dns=$dns"
        echo "domain=$domain"
        echo "ntpsrv=$ntpsrv"
        echo "mtu=$mtu"
        echo "lease=$lease"
        echo "serverid=$serverid"
        echo "bound_ns=$(date +%s%N)"
    } > "$out/lease.tmp"
    mv "$out/lease.tmp" "$out/lease"
    ;;
esac
exit 0
"#;

/// What a client is started with besides its namespace and interface.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The ENI's secondary private addresses: the script adds them (with the lease's mask)
    /// after each `bound` and `renew`, as ec2-net-utils does from instance metadata.
    pub secondary_ips: Vec<Ipv4Addr>,
    /// Where to copy the lease's `resolv.conf` for `ip netns exec` (normally
    /// [`netns_etc_dir`]); none: only the run directory gets it.
    pub netns_etc: Option<PathBuf>,
}

/// The events recorded in run directory `dir`, in order.
pub fn events(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("events"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The lease recorded in run directory `dir`, if any.
pub fn read_lease(dir: &Path) -> Option<Lease> {
    let text = std::fs::read_to_string(dir.join("lease")).ok()?;
    let started = std::fs::read_to_string(dir.join("started_ns")).ok();
    let resolv_conf = std::fs::read_to_string(dir.join("resolv.conf")).unwrap_or_default();
    parse_lease(&text, started.as_deref(), resolv_conf)
}

/// How many DISCOVERs udhcpc sends before it gives up (`-t`).
pub const DISCOVER_TRIES: u32 = 5;

/// Why no lease was obtained.
#[derive(Debug, thiserror::Error)]
pub enum DhcpClientError {
    /// Neither `udhcpc` nor `busybox` is on `PATH`.
    #[error("no DHCP client: install busybox (its udhcpc) to use addressing = \"dhcp\"")]
    NoClient,
    /// The run directory or the script could not be written.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// udhcpc could not be started.
    #[error("starting udhcpc in namespace {netns}: {source}")]
    Spawn {
        /// The namespace.
        netns: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// udhcpc exited without a lease.
    #[error("udhcpc in namespace {netns} on {ifname} got no lease (exit {code:?}): {output}")]
    NoLease {
        /// The namespace.
        netns: String,
        /// The interface.
        ifname: String,
        /// udhcpc's exit code.
        code: Option<i32>,
        /// What it printed.
        output: String,
    },
}

/// A lease as udhcpc exported it to the event script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The address (`yiaddr`).
    pub ip: Ipv4Addr,
    /// The prefix length (from the subnet mask).
    pub prefix_len: u8,
    /// The routers (option 3).
    pub routers: Vec<Ipv4Addr>,
    /// The DNS servers (option 6).
    pub dns: Vec<Ipv4Addr>,
    /// The domain name (option 15), if sent.
    pub domain: Option<String>,
    /// The NTP servers (option 42).
    pub ntp: Vec<Ipv4Addr>,
    /// The interface MTU (option 26), if sent.
    pub mtu: Option<u32>,
    /// The lease time, seconds (option 51).
    pub lease_secs: u32,
    /// The server identifier (option 54).
    pub server: Option<Ipv4Addr>,
    /// From udhcpc's first `deconfig` (just before its first DISCOVER) to `bound`.
    pub elapsed: Option<Duration>,
    /// The `resolv.conf` the script wrote.
    pub resolv_conf: String,
}

/// The program (and its first argument) that runs udhcpc: `udhcpc` when on `PATH`,
/// else `busybox udhcpc`.
fn client_command() -> Result<(PathBuf, Option<&'static str>), DhcpClientError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let find = |name: &str| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    if let Some(p) = find("udhcpc") {
        return Ok((p, None));
    }
    find("busybox")
        .map(|p| (p, Some("udhcpc")))
        .ok_or(DhcpClientError::NoClient)
}

/// Runs udhcpc on `ifname` in namespace `netns` until it is bound (or gives up after
/// [`DISCOVER_TRIES`] DISCOVERs), with its script, records and pid file in `dir`
/// (created); once bound it stays in the background and renews. Returns the lease and
/// the running client (for [`ClientProcess::stop`]).
pub fn start(
    eni: &str,
    netns: &str,
    ifname: &str,
    dir: &Path,
    opts: &ClientOptions,
) -> Result<(Lease, ClientProcess), DhcpClientError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DhcpClientError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let script = dir.join("udhcpc.script");
    std::fs::write(&script, SCRIPT).map_err(io(&script))?;
    set_executable(&script).map_err(io(&script))?;
    for f in ["lease", "events", "started_ns", "udhcpc.pid"] {
        let path = dir.join(f);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            _ => {}
        }
    }
    let log_path = dir.join("udhcpc.log");
    let log = std::fs::File::create(&log_path).map_err(io(&log_path))?;
    let log2 = log.try_clone().map_err(io(&log_path))?;
    let pid_file = dir.join("udhcpc.pid");
    let (program, first) = client_command()?;
    let tries = DISCOVER_TRIES.to_string();
    let secondary: Vec<String> = opts.secondary_ips.iter().map(|a| a.to_string()).collect();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns]).arg(&program);
    cmd.args(first);
    // -n: exit if no lease; without -f and -q it daemonizes once bound.
    cmd.args(["-i", ifname, "-n", "-t", &tries, "-p"])
        .arg(&pid_file)
        .arg("-s")
        .arg(&script)
        .env("VPC_DHCP_DIR", dir)
        .env("VPC_SECONDARY_IPS", secondary.join(" "))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    match &opts.netns_etc {
        Some(etc) => cmd.env("VPC_NETNS_ETC", etc),
        None => cmd.env_remove("VPC_NETNS_ETC"),
    };
    let spawn_err = |source| DhcpClientError::Spawn {
        netns: netns.to_string(),
        source,
    };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // `ip netns exec` execs udhcpc: this PID is the foreground udhcpc, which exits 0
    // once its background copy is bound, 1 when it gave up.
    let parent = child.id();
    let status = child.wait().map_err(spawn_err)?;
    let no_lease = || DhcpClientError::NoLease {
        netns: netns.to_string(),
        ifname: ifname.to_string(),
        code: status.code(),
        output: std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    if !status.success() {
        return Err(no_lease());
    }
    let lease = read_lease(dir).ok_or_else(no_lease)?;
    // The background copy rewrites the pid file right after the fork.
    let pid = wait_for_pid_file(&pid_file, parent, Duration::from_secs(5)).ok_or_else(no_lease)?;
    let process = ClientProcess {
        eni: eni.to_string(),
        netns: netns.to_string(),
        pid,
        start_time: crate::lab::pid_start_time(pid),
        dir: dir.to_path_buf(),
    };
    Ok((lease, process))
}

/// Polls `path` until it names a live process other than `parent` (udhcpc's foreground
/// copy), up to `timeout`.
fn wait_for_pid_file(path: &Path, parent: u32, timeout: Duration) -> Option<u32> {
    let deadline = Instant::now() + timeout;
    let mut step = Duration::from_micros(500);
    loop {
        let pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&p| p != parent && crate::lab::pid_alive(p));
        let now = Instant::now();
        if pid.is_some() || now >= deadline {
            return pid;
        }
        std::thread::sleep(step.min(deadline - now));
        step = (step * 2).min(Duration::from_millis(20));
    }
}

/// Whether interface `ifname` in namespace `netns` has address `ip` (a running client's
/// interface survived the last apply).
pub fn has_address(netns: &str, ifname: &str, ip: Ipv4Addr) -> bool {
    Command::new("ip")
        .args(["-n", netns, "-4", "-o", "addr", "show", "dev", ifname])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|w| w.split('/').next() == Some(&ip.to_string()))
        })
}

/// Makes the script executable by its owner.
fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// Reads the `key=value` lines the script recorded; `None` without an address.
pub fn parse_lease(text: &str, started_ns: Option<&str>, resolv_conf: String) -> Option<Lease> {
    let kv: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let get = |k: &str| kv.get(k).copied().filter(|v| !v.is_empty());
    let addrs = |k: &str| -> Vec<Ipv4Addr> {
        get(k)
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let ns = |v: Option<&str>| v.and_then(|s| s.trim().parse::<u64>().ok());
    let elapsed = match (ns(started_ns), ns(get("bound_ns"))) {
        (Some(a), Some(b)) if b >= a => Some(Duration::from_nanos(b - a)),
        _ => None,
    };
    Some(Lease {
        ip: get("ip")?.parse().ok()?,
        prefix_len: get("mask").and_then(|m| m.parse().ok()).unwrap_or(32),
        routers: addrs("router"),
        dns: addrs("dns"),
        domain: get("domain").map(str::to_string),
        ntp: addrs("ntpsrv"),
        mtu: get("mtu").and_then(|m| m.parse().ok()),
        lease_secs: get("lease").and_then(|l| l.parse().ok()).unwrap_or(0),
        server: get("serverid").and_then(|s| s.parse().ok()),
        elapsed,
        resolv_conf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_records_parse() {
        let text = "event=bound\nip=10.0.1.10\nmask=24\nsubnet=255.255.255.0\nrouter=10.0.1.1\n\
                    dns=10.0.0.2 192.0.2.53\ndomain=ec2.internal\nntpsrv=169.254.169.123\n\
                    mtu=1500\nlease=3600\nserverid=10.0.1.1\nbound_ns=1000005000\n";
        let l = parse_lease(text, Some("1000000000\n"), "nameserver 10.0.0.2\n".into()).unwrap();
        assert_eq!(l.ip, Ipv4Addr::new(10, 0, 1, 10));
        assert_eq!(l.prefix_len, 24);
        assert_eq!(l.routers, vec![Ipv4Addr::new(10, 0, 1, 1)]);
        assert_eq!(
            l.dns,
            vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(192, 0, 2, 53)]
        );
        assert_eq!(l.domain.as_deref(), Some("ec2.internal"));
        assert_eq!(l.ntp, vec![Ipv4Addr::new(169, 254, 169, 123)]);
        assert_eq!((l.mtu, l.lease_secs), (Some(1500), 3600));
        assert_eq!(l.elapsed, Some(Duration::from_micros(5)));
        assert!(parse_lease("event=bound\nip=\n", None, String::new()).is_none());
    }
}
