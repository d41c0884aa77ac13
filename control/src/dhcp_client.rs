//! Running a real DHCP client in an ENI's namespace (an ENI with `addressing = "dhcp"`):
//! busybox's `udhcpc`, in the foreground, until it has a lease (`-q`), with an event
//! script written here that applies the lease (`ip addr`, `ip link … mtu`, `ip route`)
//! and records what udhcpc exported in the run's directory (`lease`, and a
//! `resolv.conf` made of the DNS servers and domain: a namespace shares the host's
//! `/etc`, so the script never writes there).
//!
//! `vpcctl up` and the test harness run it after the apply that attached the ENI.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The event script udhcpc runs (`-s`): `deconfig` clears the interface and notes the
/// time, `bound` and `renew` apply the lease and record it, `leasefail` and `nak` are
/// logged. `$VPC_DHCP_DIR` is where it writes.
pub const SCRIPT: &str = r#"#!/bin/sh
# udhcpc event script written by vpcctl: applies the lease to $interface and records it.
out="${VPC_DHCP_DIR:?}"
case "$1" in
deconfig)
    date +%s%N > "$out/started_ns"
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    ip addr replace "$ip/${mask:-32}" dev "$interface"
    if [ -n "$mtu" ]; then ip link set "$interface" mtu "$mtu"; fi
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    {
        if [ -n "$domain" ]; then echo "search $domain"; fi
        for s in $dns; do echo "nameserver $s"; done
    } > "$out/resolv.conf"
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
leasefail|nak)
    echo "$1" >> "$out/events"
    ;;
esac
exit 0
"#;

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
/// [`DISCOVER_TRIES`] DISCOVERs), with its script and records in `dir` (created).
pub fn obtain_lease(netns: &str, ifname: &str, dir: &Path) -> Result<Lease, DhcpClientError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DhcpClientError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let script = dir.join("udhcpc.script");
    std::fs::write(&script, SCRIPT).map_err(io(&script))?;
    set_executable(&script).map_err(io(&script))?;
    let lease_file = dir.join("lease");
    match std::fs::remove_file(&lease_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&lease_file)(e)),
        _ => {}
    }
    let (program, first) = client_command()?;
    let tries = DISCOVER_TRIES.to_string();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns]).arg(&program);
    cmd.args(first);
    cmd.args(["-i", ifname, "-f", "-q", "-n", "-t", &tries, "-s"])
        .arg(&script)
        .env("VPC_DHCP_DIR", dir);
    let out = cmd.output().map_err(|source| DhcpClientError::Spawn {
        netns: netns.to_string(),
        source,
    })?;
    let no_lease = || DhcpClientError::NoLease {
        netns: netns.to_string(),
        ifname: ifname.to_string(),
        code: out.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .trim()
        .to_string(),
    };
    if !out.status.success() {
        return Err(no_lease());
    }
    let text = std::fs::read_to_string(&lease_file).map_err(|_| no_lease())?;
    let started = std::fs::read_to_string(dir.join("started_ns")).ok();
    let resolv_conf = std::fs::read_to_string(dir.join("resolv.conf")).unwrap_or_default();
    parse_lease(&text, started.as_deref(), resolv_conf).ok_or_else(no_lease)
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
