//! Network namespace guards and in-namespace helpers (`ip`, `ping`, neighbours, addresses).

use std::net::IpAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use dataplane::sys::ip::Ip;
use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::names::{check_ifname, RunPrefix};
use crate::process::{check_output, describe, run_command, run_ip, NsChild, SpawnOpts};

/// A named network namespace (`ip netns add`), deleted (`ip netns del`) when the last clone drops.
///
/// Cloning is cheap; [`NsChild`] guards spawned inside hold a clone, so the namespace outlives
/// every process started in it. Interfaces inside (veth ends, moved TAPs) vanish with it.
#[derive(Clone, Debug)]
pub struct Netns {
    inner: Arc<NetnsInner>,
}

#[derive(Debug)]
struct NetnsInner {
    name: String,
    // Keeps the run prefix's slot reserved until the namespace is gone (dropped after `drop`).
    _prefix: Option<RunPrefix>,
}

impl Drop for NetnsInner {
    fn drop(&mut self) {
        match run_ip(&Ip::netns_delete(&self.name)) {
            Ok(_) => tracing::debug!(netns = %self.name, "deleted namespace"),
            Err(e) => tracing::warn!(netns = %self.name, %e, "deleting namespace failed"),
        }
    }
}

impl RunPrefix {
    /// Creates the namespace `{prefix}-{name}` (see [`Netns::create`]); the guard keeps this
    /// prefix's slot reserved while it lives.
    pub fn netns(&self, name: &str) -> Result<Netns> {
        Netns::create_with_prefix(&self.ns_name(name), Some(self.clone()))
    }
}

impl Netns {
    /// Creates the namespace `name` and brings its `lo` up.
    ///
    /// Prefer [`RunPrefix::netns`], which names it `{prefix}-{name}` so parallel runs never collide
    /// and crashed runs are found by [`crate::cleanup_stale`].
    pub fn create(name: &str) -> Result<Netns> {
        Self::create_with_prefix(name, None)
    }

    pub(crate) fn create_with_prefix(name: &str, prefix: Option<RunPrefix>) -> Result<Netns> {
        if name.is_empty() || name.len() > 64 || name.contains('/') || name.starts_with('.') {
            return Err(Error::InvalidName {
                name: name.to_owned(),
                reason: "namespace names must be 1..=64 chars, no '/', not starting with '.'"
                    .into(),
            });
        }
        run_ip(&Ip::netns_add(name))?;
        // From here on the guard exists, so any later failure deletes the namespace again.
        let ns = Netns {
            inner: Arc::new(NetnsInner {
                name: name.to_owned(),
                _prefix: prefix,
            }),
        };
        ns.run_ip(Ip::link_up(None, "lo"))?;
        tracing::debug!(netns = %name, "created namespace");
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A `Command` running `argv` inside the namespace (`ip netns exec NAME argv…`).
    ///
    /// `ip netns exec` execs the program directly, so the child's PID is the program's PID.
    pub fn command(&self, argv: &[&str]) -> Command {
        Ip::netns_exec(&self.inner.name, argv).command()
    }

    fn desc(&self, argv: &[&str]) -> String {
        format!("[{}] {}", self.inner.name, describe(argv))
    }

    /// Runs `argv` inside the namespace with a deadline (killed by PID on timeout).
    ///
    /// A non-zero exit is returned in `Output::status`, not as an error.
    pub fn exec(&self, argv: &[&str], timeout: Duration) -> Result<Output> {
        run_command(self.command(argv), &self.desc(argv), timeout)
    }

    /// Like [`Netns::exec`] but a non-zero exit is an error; returns stdout.
    pub fn exec_ok(&self, argv: &[&str], timeout: Duration) -> Result<String> {
        let desc = self.desc(argv);
        let out = run_command(self.command(argv), &desc, timeout)?;
        check_output(&desc, out)
    }

    /// Starts `argv` in the background inside the namespace (stdin `/dev/null`, output captured).
    pub fn spawn(&self, argv: &[&str]) -> Result<NsChild> {
        self.spawn_with(argv, SpawnOpts::default())
    }

    /// Starts `argv` in the background with explicit stdio wiring.
    pub fn spawn_with(&self, argv: &[&str], opts: SpawnOpts) -> Result<NsChild> {
        NsChild::spawn(
            self.command(argv),
            self.desc(argv),
            Some(Box::new(self.clone())),
            opts,
        )
    }

    /// Runs `ip -n NAME args…` (default deadline) and returns stdout; failure is an error.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        self.run_ip(Ip::new(args.iter().copied()))
    }

    /// Runs an `ip` invocation inside this namespace (`ip -n NAME …`, default deadline).
    fn run_ip(&self, ip: Ip) -> Result<String> {
        run_ip(&ip.within(Some(&self.inner.name)))
    }

    /// Sets an interface up.
    pub fn link_up(&self, ifname: &str) -> Result<()> {
        self.run_ip(Ip::link_up(None, ifname)).map(drop)
    }

    /// Adds an address (`10.0.0.1/24`) to an interface.
    pub fn add_addr(&self, ifname: &str, addr: IpNet) -> Result<()> {
        self.run_ip(Ip::addr_add(None, ifname, addr.addr(), addr.prefix_len()))
            .map(drop)
    }

    /// Adds a route `dst` (`default` or a CIDR) via `gw`.
    pub fn add_route(&self, dst: &str, gw: IpAddr) -> Result<()> {
        self.run_ip(Ip::route_add(None, dst, gw)).map(drop)
    }

    /// Pings `dst` from inside the namespace: up to `count` echo requests 0.2 s apart, stopping
    /// at `count` replies or after `timeout` (ping's `-w`, rounded up to whole seconds).
    ///
    /// Loss is reported in the result, not as an error; an unusable ping (exit 2) is an error.
    pub fn ping(&self, dst: IpAddr, count: u32, timeout: Duration) -> Result<PingResult> {
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        let secs = secs.max(1).to_string();
        let count = count.max(1).to_string();
        let dst_s = dst.to_string();
        let argv = ["ping", "-n", "-c", &count, "-i", "0.2", "-w", &secs, &dst_s];
        let out = self.exec(&argv, timeout + Duration::from_secs(5))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        match parse_ping_summary(&stdout) {
            Ok(r) => Ok(r),
            Err(e) if out.status.code() == Some(2) || !out.status.success() => {
                Err(Error::Command {
                    cmd: self.desc(&argv),
                    status: out.status.to_string(),
                    stderr: format!("{} ({e})", String::from_utf8_lossy(&out.stderr).trim()),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The neighbour (ARP/NDP) entries of `ifname` (`ip -j -n NAME neigh show dev IF`).
    pub fn neigh(&self, ifname: &str) -> Result<Vec<Neighbor>> {
        parse_neigh_json(&self.ip(&["-j", "neigh", "show", "dev", ifname])?)
    }

    /// The MAC address of `ifname`.
    pub fn link_mac(&self, ifname: &str) -> Result<MacAddr> {
        parse_link_mac_json(&self.ip(&["-j", "link", "show", "dev", ifname])?)
    }

    /// The addresses (with prefix length) on `ifname`, IPv4 and IPv6 (link-local included).
    pub fn addr(&self, ifname: &str) -> Result<Vec<IpNet>> {
        parse_addr_json(&self.ip(&["-j", "addr", "show", "dev", ifname])?)
    }
}

/// Creates a veth pair with one end in each namespace (`ip -n A link add name A_IF type veth peer
/// name B_IF netns B`) and sets both ends up. Nothing is created in the host namespace; the pair
/// disappears when either namespace is deleted.
pub fn veth_pair(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<()> {
    check_ifname(a_if)?;
    check_ifname(b_if)?;
    a.run_ip(Ip::veth_add(None, a_if, b_if, b.name()))?;
    a.link_up(a_if)?;
    b.link_up(b_if)
}

/// The data plane's MAC address type (one type across the workspace).
pub use dataplane::wire::MacAddr;

fn parse_mac(what: &str, s: &str) -> Result<MacAddr> {
    s.parse()
        .map_err(|_| Error::parse(what.to_owned(), format!("bad MAC address {s:?}")))
}

/// One neighbour-table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    /// The neighbour's IP address.
    pub ip: IpAddr,
    /// Its link-layer address (`None` for INCOMPLETE/FAILED entries).
    pub mac: Option<MacAddr>,
    /// The NUD state(s), e.g. `REACHABLE`, `STALE`, `INCOMPLETE` (comma-joined if several).
    pub state: String,
}

/// The summary of one `ping` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingResult {
    /// Echo requests sent.
    pub transmitted: u32,
    /// Echo replies received.
    pub received: u32,
}

impl PingResult {
    /// At least one request and every one answered.
    pub fn all_received(&self) -> bool {
        self.transmitted > 0 && self.received == self.transmitted
    }
}

/// Parses ping's summary line (iputils: `3 packets transmitted, 3 received, …`; busybox:
/// `3 packets transmitted, 3 packets received, …`).
pub fn parse_ping_summary(output: &str) -> Result<PingResult> {
    let line = output
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .ok_or_else(|| {
            Error::parse(
                "ping summary",
                format!("no 'packets transmitted' line in: {output:?}"),
            )
        })?;
    let mut fields = line.split(',');
    let lead = |f: Option<&str>, what: &str| -> Result<u32> {
        f.and_then(|f| f.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::parse("ping summary", format!("no {what} count in {line:?}")))
    };
    let transmitted = lead(fields.next(), "transmitted")?;
    let second = fields.next();
    if !second.is_some_and(|f| f.contains("received")) {
        return Err(Error::parse(
            "ping summary",
            format!("no received count in {line:?}"),
        ));
    }
    let received = lead(second, "received")?;
    Ok(PingResult {
        transmitted,
        received,
    })
}

fn json_array(what: &str, json: &str) -> Result<Vec<serde_json::Value>> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Array(a)) => Ok(a),
        Ok(_) => Err(Error::parse(what, "not a JSON array")),
        Err(e) => Err(Error::parse(what, format!("{e}: {json:?}"))),
    }
}

/// Parses `ip -j neigh show [dev IF]`.
pub fn parse_neigh_json(json: &str) -> Result<Vec<Neighbor>> {
    let mut out = Vec::new();
    for e in json_array("ip -j neigh", json)? {
        let dst = e
            .get("dst")
            .and_then(|d| d.as_str())
            .ok_or_else(|| Error::parse("ip -j neigh", format!("entry without dst: {e}")))?;
        let ip = dst
            .parse()
            .map_err(|_| Error::parse("ip -j neigh", format!("bad dst {dst:?}")))?;
        let mac = match e.get("lladdr").and_then(|m| m.as_str()) {
            Some(m) => Some(parse_mac("ip -j neigh", m)?),
            None => None,
        };
        let state = match e.get("state") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        out.push(Neighbor { ip, mac, state });
    }
    Ok(out)
}

/// Parses the MAC out of `ip -j link show dev IF`.
pub fn parse_link_mac_json(json: &str) -> Result<MacAddr> {
    let arr = json_array("ip -j link", json)?;
    let addr = arr
        .first()
        .and_then(|l| l.get("address"))
        .and_then(|a| a.as_str())
        .ok_or_else(|| Error::parse("ip -j link", format!("no address in {json:?}")))?;
    parse_mac("ip -j link", addr)
}

/// Parses the addresses out of `ip -j addr show dev IF`.
pub fn parse_addr_json(json: &str) -> Result<Vec<IpNet>> {
    let mut out = Vec::new();
    for link in json_array("ip -j addr", json)? {
        let Some(infos) = link.get("addr_info").and_then(|a| a.as_array()) else {
            continue;
        };
        for info in infos {
            let (Some(local), Some(len)) = (
                info.get("local").and_then(|l| l.as_str()),
                info.get("prefixlen").and_then(|p| p.as_u64()),
            ) else {
                continue;
            };
            let ip: IpAddr = local
                .parse()
                .map_err(|_| Error::parse("ip -j addr", format!("bad local {local:?}")))?;
            let len = u8::try_from(len)
                .map_err(|_| Error::parse("ip -j addr", format!("bad prefixlen {len}")))?;
            out.push(IpNet::new(ip, len).map_err(|e| Error::parse("ip -j addr", e.to_string()))?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_iputils() {
        let out = "PING 10.9.0.2 (10.9.0.2) 56(84) bytes of data.\n64 bytes from 10.9.0.2: icmp_seq=1 ttl=64 time=0.086 ms\n\n--- 10.9.0.2 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, time 204ms\nrtt min/avg/max/mdev = 0.015/0.050/0.086/0.035 ms\n";
        let r = parse_ping_summary(out).unwrap();
        assert_eq!(
            r,
            PingResult {
                transmitted: 2,
                received: 2
            }
        );
        assert!(r.all_received());
    }

    #[test]
    fn ping_loss_and_errors() {
        let out = "--- 10.9.0.5 ping statistics ---\n5 packets transmitted, 0 received, +5 errors, 100% packet loss, time 813ms\n";
        let r = parse_ping_summary(out).unwrap();
        assert_eq!(
            r,
            PingResult {
                transmitted: 5,
                received: 0
            }
        );
        assert!(!r.all_received());
    }

    #[test]
    fn ping_busybox() {
        let out = "--- 10.9.0.2 ping statistics ---\n2 packets transmitted, 2 packets received, 0% packet loss\nround-trip min/avg/max = 0.047/0.047/0.048 ms\n";
        assert_eq!(
            parse_ping_summary(out).unwrap(),
            PingResult {
                transmitted: 2,
                received: 2
            }
        );
    }

    #[test]
    fn ping_garbage() {
        assert!(parse_ping_summary("ping: connect: Network is unreachable\n").is_err());
        assert!(parse_ping_summary("x packets transmitted, 1 received").is_err());
    }

    #[test]
    fn neigh_json() {
        let j = r#"[{"dst":"10.9.0.5","state":["INCOMPLETE"]},{"dst":"10.9.0.2","lladdr":"de:e9:02:3c:95:4c","state":["REACHABLE"]},{"dst":"fe80::1","lladdr":"02:00:00:00:00:01","router":null,"state":["STALE","NOARP"]}]"#;
        let n = parse_neigh_json(j).unwrap();
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].ip, "10.9.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(n[0].mac, None);
        assert_eq!(n[0].state, "INCOMPLETE");
        assert_eq!(
            n[1].mac,
            Some(MacAddr([0xde, 0xe9, 0x02, 0x3c, 0x95, 0x4c]))
        );
        assert_eq!(n[1].state, "REACHABLE");
        assert_eq!(n[2].state, "STALE,NOARP");
        assert!(parse_neigh_json("[]").unwrap().is_empty());
        assert!(parse_neigh_json("garbage").is_err());
    }

    #[test]
    fn link_and_addr_json() {
        let j = r#"[{"ifindex":2,"link_index":2,"ifname":"a","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"address":"1a:ca:9c:55:66:01","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.9.0.1","prefixlen":24,"scope":"global","label":"a"},{"family":"inet6","local":"fe80::18ca:9cff:fe55:6601","prefixlen":64,"scope":"link","tentative":true}]}]"#;
        assert_eq!(
            parse_link_mac_json(j).unwrap().to_string(),
            "1a:ca:9c:55:66:01"
        );
        let a = parse_addr_json(j).unwrap();
        assert_eq!(
            a,
            vec![
                "10.9.0.1/24".parse::<IpNet>().unwrap(),
                "fe80::18ca:9cff:fe55:6601/64".parse().unwrap()
            ]
        );
        assert!(parse_link_mac_json("[]").is_err());
    }
}
