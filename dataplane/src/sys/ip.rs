//! `ip(8)`, typed: one invocation is an [`Ip`] value (an optional namespace for `ip -n NS`
//! and the arguments), built by a constructor per operation the workspace needs (namespaces,
//! links, addresses, routes) and run with [`Ip::run`]. Callers that need their own runner
//! (a deadline, for example) take [`Ip::command`] and judge the output with [`Ip::check`].
//!
//! Control-plane work only (apply time, `vpcctl up`, test setup), never the forwarding path.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};

/// Where `ip netns` keeps its named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Why an `ip` invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum IpError {
    /// `ip` could not be started (iproute2 missing, fork failure, ...).
    #[error("cannot run `{command}`: {source} (install iproute2)")]
    Spawn {
        /// The invocation.
        command: Ip,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// `ip` ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The invocation.
        command: Ip,
        /// Its exit status.
        status: ExitStatus,
        /// What `ip` wrote on stderr, trimmed.
        stderr: String,
    },
}

/// One attribute of `ip link set dev IF …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAttr<'a> {
    /// `address MAC`: the link-layer address.
    Address([u8; 6]),
    /// `mtu N`.
    Mtu(u32),
    /// `netns NS`: move the interface into namespace `NS`.
    Netns(&'a str),
    /// `name NEW`: rename the interface.
    Name(&'a str),
    /// `up`.
    Up,
    /// `master BRIDGE`: make the interface a port of a bridge.
    Master(&'a str),
    /// `addrgenmode none`: no IPv6 link-local address, so an IPv4-only instance sends
    /// no router solicitations or multicast listener reports.
    NoIpv6LinkLocal,
    /// `alias TEXT`: the interface's description (`ifalias`; no whitespace here, so a
    /// batch line needs no quoting).
    Alias(&'a str),
}

/// One `ip(8)` invocation: `ip [-n NETNS] ARGS…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip {
    netns: Option<String>,
    args: Vec<String>,
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ip")?;
        for a in self.argv() {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

impl Ip {
    /// `ip ARGS…` in the caller's namespace.
    pub fn new<I, S>(args: I) -> Ip
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ip {
            netns: None,
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// The same arguments inside namespace `netns` (`ip -n NETNS ARGS…`); `None` = the
    /// caller's namespace.
    pub fn within(mut self, netns: Option<&str>) -> Ip {
        self.netns = netns.map(str::to_owned);
        self
    }

    /// The namespace the invocation runs in (`-n NETNS`), if any.
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// The arguments after `-n NETNS`.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Everything after `ip`: `-n NETNS` (if any), then the arguments.
    pub fn argv(&self) -> Vec<&str> {
        let ns = self.netns.as_deref().map(|ns| ["-n", ns]);
        ns.iter()
            .flatten()
            .copied()
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }

    /// `ip netns add NAME`.
    pub fn netns_add(name: &str) -> Ip {
        Ip::new(["netns", "add", name])
    }

    /// `ip netns del NAME`.
    pub fn netns_delete(name: &str) -> Ip {
        Ip::new(["netns", "del", name])
    }

    /// `ip netns exec NS ARGV…`: runs a program inside a namespace. `ip` execs the program
    /// directly, so the child's PID is the program's PID.
    pub fn netns_exec<S: AsRef<str>>(netns: &str, argv: &[S]) -> Ip {
        Ip::new(
            ["netns", "exec", netns]
                .into_iter()
                .chain(argv.iter().map(AsRef::as_ref)),
        )
    }

    /// `ip [-n NETNS] link show dev IF`.
    pub fn link_show(netns: Option<&str>, ifname: &str) -> Ip {
        Ip::new(["link", "show", "dev", ifname]).within(netns)
    }

    /// `ip [-n NETNS] -j -d link show`: every interface, as JSON with details.
    pub fn link_list_json(netns: Option<&str>) -> Ip {
        Ip::new(["-j", "-d", "link", "show"]).within(netns)
    }

    /// `ip [-n NETNS] link del dev IF`.
    pub fn link_delete(netns: Option<&str>, ifname: &str) -> Ip {
        Ip::new(["link", "del", "dev", ifname]).within(netns)
    }

    /// `ip [-n NETNS] link set dev IF ATTR…`, the attributes in the given order.
    pub fn link_set(netns: Option<&str>, ifname: &str, attrs: &[LinkAttr<'_>]) -> Ip {
        let mut args: Vec<String> = ["link", "set", "dev", ifname]
            .into_iter()
            .map(str::to_owned)
            .collect();
        for a in attrs {
            match *a {
                LinkAttr::Address(m) => args.extend([
                    "address".to_owned(),
                    format!(
                        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                        m[0], m[1], m[2], m[3], m[4], m[5]
                    ),
                ]),
                LinkAttr::Mtu(mtu) => args.extend(["mtu".to_owned(), mtu.to_string()]),
                LinkAttr::NoIpv6LinkLocal => {
                    args.extend(["addrgenmode".to_owned(), "none".to_owned()])
                }
                LinkAttr::Netns(ns) => args.extend(["netns".to_owned(), ns.to_owned()]),
                LinkAttr::Name(name) => args.extend(["name".to_owned(), name.to_owned()]),
                LinkAttr::Up => args.push("up".to_owned()),
                LinkAttr::Master(br) => args.extend(["master".to_owned(), br.to_owned()]),
                LinkAttr::Alias(text) => args.extend(["alias".to_owned(), text.to_owned()]),
            }
        }
        Ip::new(args).within(netns)
    }

    /// `ip [-n NETNS] link set dev IF up`.
    pub fn link_up(netns: Option<&str>, ifname: &str) -> Ip {
        Ip::link_set(netns, ifname, &[LinkAttr::Up])
    }

    /// `ip [-n NETNS] link add name IF type bridge`: a bridge (created down).
    pub fn bridge_add(netns: Option<&str>, ifname: &str) -> Ip {
        Ip::new(["link", "add", "name", ifname, "type", "bridge"]).within(netns)
    }

    /// `ip [-n NETNS] route replace default dev IF src SRC`: every destination on-link.
    pub fn route_replace_default_onlink(netns: Option<&str>, dev: &str, src: IpAddr) -> Ip {
        Ip::new([
            "route".to_owned(),
            "replace".to_owned(),
            "default".to_owned(),
            "dev".to_owned(),
            dev.to_owned(),
            "src".to_owned(),
            src.to_string(),
        ])
        .within(netns)
    }

    /// `ip [-n NETNS] link add name IF type veth peer name PEER netns PEER_NS`: a veth pair
    /// with its peer end created directly in namespace `peer_netns`.
    pub fn veth_add(netns: Option<&str>, ifname: &str, peer: &str, peer_netns: &str) -> Ip {
        Ip::new([
            "link", "add", "name", ifname, "type", "veth", "peer", "name", peer, "netns",
            peer_netns,
        ])
        .within(netns)
    }

    /// `ip [-n NETNS] addr add ADDR/PREFIX_LEN dev IF`.
    pub fn addr_add(netns: Option<&str>, ifname: &str, addr: IpAddr, prefix_len: u8) -> Ip {
        Ip::new([
            "addr".to_owned(),
            "add".to_owned(),
            format!("{addr}/{prefix_len}"),
            "dev".to_owned(),
            ifname.to_owned(),
        ])
        .within(netns)
    }

    /// `ip [-n NETNS] addr replace ADDR/PREFIX_LEN dev IF`: adds it, or keeps it if the
    /// interface has it already.
    pub fn addr_replace(netns: Option<&str>, ifname: &str, addr: IpAddr, prefix_len: u8) -> Ip {
        Ip::new([
            "addr".to_owned(),
            "replace".to_owned(),
            format!("{addr}/{prefix_len}"),
            "dev".to_owned(),
            ifname.to_owned(),
        ])
        .within(netns)
    }

    /// `ip [-n NETNS] route add DST via GW`, `DST` being `default` or a CIDR.
    pub fn route_add(netns: Option<&str>, dst: &str, via: IpAddr) -> Ip {
        Ip::new([
            "route".to_owned(),
            "add".to_owned(),
            dst.to_owned(),
            "via".to_owned(),
            via.to_string(),
        ])
        .within(netns)
    }

    /// `ip [-n NETNS] route replace default via GW dev IF`.
    pub fn route_replace_default(netns: Option<&str>, via: IpAddr, dev: &str) -> Ip {
        Ip::new([
            "route".to_owned(),
            "replace".to_owned(),
            "default".to_owned(),
            "via".to_owned(),
            via.to_string(),
            "dev".to_owned(),
            dev.to_owned(),
        ])
        .within(netns)
    }

    /// The invocation as a [`Command`] (program `ip`, the arguments; stdio left to the caller).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(self.argv());
        cmd
    }

    /// The error for an invocation that could not be started.
    pub fn spawn_error(&self, source: io::Error) -> IpError {
        IpError::Spawn {
            command: self.clone(),
            source,
        }
    }

    /// Judges a finished invocation: its stdout as text, or [`IpError::Failed`] with stderr.
    pub fn check(&self, out: &Output) -> Result<String, IpError> {
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(IpError::Failed {
                command: self.clone(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// Runs the invocation to completion (stdin `/dev/null`, output captured) and returns
    /// its stdout; a non-zero exit is [`IpError::Failed`].
    pub fn run(&self) -> Result<String, IpError> {
        tracing::debug!(cmd = %self, "run");
        let out = self
            .command()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.spawn_error(e))?;
        self.check(&out)
    }

    /// Runs `steps` (each an invocation in namespace `netns`; their own namespaces are
    /// ignored) as one `ip [-n NETNS] -batch -` process, one step per line of its stdin:
    /// the first step that fails stops the batch, as running them one by one with `?`
    /// would, at the cost of one process instead of one per step (starting `ip` is most
    /// of what attaching a port costs). Arguments must not contain white space or quotes
    /// (interface names, addresses and numbers do not).
    pub fn run_batch(netns: Option<&str>, steps: &[Ip]) -> Result<(), IpError> {
        use std::io::Write as _;
        let script: String = steps.iter().map(|s| s.args.join(" ") + "\n").collect();
        // The invocation as errors show it: the batch's lines after the command.
        let shown = Ip::new(
            ["-batch".to_owned(), "-".to_owned(), "<<".to_owned()]
                .into_iter()
                .chain(steps.iter().map(|s| format!("[{}]", s.args.join(" ")))),
        )
        .within(netns);
        let batch = Ip::new(["-batch", "-"]).within(netns);
        tracing::debug!(cmd = %shown, "run");
        let mut child = batch
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| shown.spawn_error(e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|e| shown.spawn_error(e))?;
        }
        let out = child.wait_with_output().map_err(|e| shown.spawn_error(e))?;
        shown.check(&out).map(drop)
    }

    /// Runs the invocation with inherited stdio and returns its exit status (for
    /// [`Ip::netns_exec`] of an interactive command).
    pub fn status(&self) -> Result<ExitStatus, IpError> {
        tracing::debug!(cmd = %self, "run");
        self.command().status().map_err(|e| self.spawn_error(e))
    }

    /// Runs the invocation with all stdio on `/dev/null` and says whether it succeeded (a
    /// question such as "does this link exist", where failure is an answer, not an error).
    pub fn succeeds(&self) -> bool {
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// Whether the named namespace `name` exists (`/run/netns/NAME`); names that cannot be a
/// namespace (empty, containing `/`) do not.
pub fn netns_exists(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && Path::new(NETNS_DIR).join(name).exists()
}

/// The names of all named namespaces (`/run/netns`; none if it does not exist).
pub fn netns_list() -> Vec<String> {
    match std::fs::read_dir(NETNS_DIR) {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Creates the named namespace `name` (`ip netns add NAME`).
pub fn netns_add(name: &str) -> Result<(), IpError> {
    Ip::netns_add(name).run().map(drop)
}

/// Deletes the named namespace `name` (`ip netns del NAME`); a missing one is fine.
pub fn netns_delete_if_exists(name: &str) -> Result<(), IpError> {
    if netns_exists(name) {
        Ip::netns_delete(name).run()?;
    }
    Ok(())
}

/// Whether interface `ifname` exists in namespace `netns` (`None`: the caller's).
pub fn link_exists(netns: Option<&str>, ifname: &str) -> bool {
    Ip::link_show(netns, ifname).succeeds()
}

/// The alias (`ifalias`) of interface `ifname` in namespace `netns` (`None`: the
/// caller's); `None` when it has none or does not exist.
pub fn link_alias(netns: Option<&str>, ifname: &str) -> Option<String> {
    let out = Ip::new(["-j", "link", "show", "dev", ifname])
        .within(netns)
        .run()
        .ok()?;
    alias_of(&out)
}

/// The `ifalias` of the single interface in `ip -j link show dev IF`'s output.
fn alias_of(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get(0)?.get("ifalias")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ip: &Ip) -> String {
        ip.to_string()
    }

    #[test]
    fn a_batch_runs_its_steps_in_one_process_and_stops_at_the_first_failure() {
        // /proc/self belongs to the effective user.
        let root = std::fs::metadata("/proc/self")
            .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
        if !root {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run as root"
            );
            return;
        }
        let ns = format!("vtb{}", std::process::id() % 100_000);
        Ip::netns_add(&ns).run().expect("netns add");
        let n = Some(ns.as_str());
        let ok = Ip::run_batch(
            n,
            &[
                Ip::link_up(n, "lo"),
                Ip::addr_add(n, "lo", "127.0.0.2".parse().unwrap(), 8),
            ],
        );
        let addrs = Ip::new(["-4", "addr", "show", "dev", "lo"]).within(n).run();
        let failed = Ip::run_batch(
            n,
            &[
                Ip::link_up(n, "nonexistent0"),
                Ip::addr_add(n, "lo", "127.0.0.3".parse().unwrap(), 8),
            ],
        );
        let after = Ip::new(["-4", "addr", "show", "dev", "lo"]).within(n).run();
        let _ = Ip::netns_delete(&ns).run();
        ok.expect("batch");
        assert!(addrs.unwrap().contains("127.0.0.2/8"));
        let e = failed.expect_err("a step fails").to_string();
        assert!(e.contains("nonexistent0"), "{e}");
        assert!(
            !after.unwrap().contains("127.0.0.3"),
            "the batch stopped at the failure"
        );
    }

    #[test]
    fn invocations_render_as_ip_command_lines() {
        assert_eq!(text(&Ip::netns_add("a")), "ip netns add a");
        assert_eq!(text(&Ip::netns_delete("a")), "ip netns del a");
        assert_eq!(
            text(&Ip::netns_exec("a", &["ping", "-c", "1", "10.0.0.1"])),
            "ip netns exec a ping -c 1 10.0.0.1"
        );
        assert_eq!(
            text(&Ip::link_show(Some("ns"), "eth0")),
            "ip -n ns link show dev eth0"
        );
        assert_eq!(text(&Ip::link_delete(None, "x")), "ip link del dev x");
        assert_eq!(
            text(&Ip::link_list_json(Some("ns"))),
            "ip -n ns -j -d link show"
        );
        assert_eq!(
            text(&Ip::link_set(
                None,
                "tap-1",
                &[
                    LinkAttr::Address([0x02, 0, 0, 0xab, 0x0c, 1]),
                    LinkAttr::Mtu(9001)
                ]
            )),
            "ip link set dev tap-1 address 02:00:00:ab:0c:01 mtu 9001"
        );
        assert_eq!(
            text(&Ip::link_set(None, "t", &[LinkAttr::Netns("ns")])),
            "ip link set dev t netns ns"
        );
        assert_eq!(
            text(&Ip::link_set(Some("ns"), "t", &[LinkAttr::Name("eth0")])),
            "ip -n ns link set dev t name eth0"
        );
        assert_eq!(
            text(&Ip::link_up(Some("ns"), "lo")),
            "ip -n ns link set dev lo up"
        );
        assert_eq!(
            text(&Ip::veth_add(Some("a"), "va", "vb", "b")),
            "ip -n a link add name va type veth peer name vb netns b"
        );
        let v4: IpAddr = "10.0.1.5".parse().unwrap();
        let v6: IpAddr = "fd00::5".parse().unwrap();
        assert_eq!(
            text(&Ip::addr_add(Some("ns"), "eth0", v4, 24)),
            "ip -n ns addr add 10.0.1.5/24 dev eth0"
        );
        assert_eq!(
            text(&Ip::addr_add(None, "eth0", v6, 64)),
            "ip addr add fd00::5/64 dev eth0"
        );
        assert_eq!(
            text(&Ip::route_add(Some("ns"), "default", v4)),
            "ip -n ns route add default via 10.0.1.5"
        );
        assert_eq!(
            text(&Ip::route_replace_default(Some("ns"), v4, "eth0")),
            "ip -n ns route replace default via 10.0.1.5 dev eth0"
        );
        let raw = Ip::new(["-j", "neigh", "show"]).within(Some("n"));
        assert_eq!(raw.netns(), Some("n"));
        assert_eq!(raw.args(), ["-j", "neigh", "show"]);
        assert_eq!(raw.argv(), ["-n", "n", "-j", "neigh", "show"]);
    }

    #[test]
    fn check_names_command_status_and_stderr() {
        let ip = Ip::link_show(Some("nope"), "eth0");
        let out = Command::new("sh")
            .args([
                "-c",
                "echo out; echo ' Cannot find device \"eth0\" ' >&2; exit 1",
            ])
            .output()
            .unwrap();
        let e = ip.check(&out).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`ip -n nope link show dev eth0` failed (exit status: 1): Cannot find device \"eth0\""
        );
        let ok = Command::new("sh")
            .args(["-c", "echo hello"])
            .output()
            .unwrap();
        assert_eq!(ip.check(&ok).unwrap(), "hello\n");
        let e = ip.spawn_error(io::Error::from(io::ErrorKind::NotFound));
        assert!(
            e.to_string()
                .starts_with("cannot run `ip -n nope link show dev eth0`: "),
            "{e}"
        );
        assert!(e.to_string().ends_with("(install iproute2)"), "{e}");
    }

    #[test]
    fn impossible_namespace_names_do_not_exist() {
        assert!(!netns_exists(""));
        assert!(!netns_exists("../netns"));
        assert!(!netns_exists("a/b"));
    }

    #[test]
    fn the_alias_is_set_and_read_back_from_ip_json() {
        let ip = Ip::link_set(Some("ns"), "eth0", &[LinkAttr::Alias("vpcd:eni-a")]);
        assert_eq!(text(&ip), "ip -n ns link set dev eth0 alias vpcd:eni-a");
        let json =
            r#"[{"ifindex":7,"ifname":"eth0","flags":["BROADCAST"],"ifalias":"vpcd:eni-a"}]"#;
        assert_eq!(alias_of(json).as_deref(), Some("vpcd:eni-a"));
        assert_eq!(alias_of(r#"[{"ifindex":7,"ifname":"eth0"}]"#), None);
        assert_eq!(alias_of("garbage"), None);
        assert_eq!(
            text(&Ip::addr_replace(
                None,
                "eth0",
                "10.0.1.10".parse().unwrap(),
                24
            )),
            "ip addr replace 10.0.1.10/24 dev eth0"
        );
    }
}
