//! Open vSwitch's userspace datapath as a peer: a private `ovsdb-server` and
//! `ovs-vswitchd` (their database, sockets, pid files and logs in a per-run temporary
//! directory; the host's own Open vSwitch, if any, is never touched), one bridge with
//! `datapath_type=netdev`, and OpenFlow rules doing what the VPC does between its two
//! subnets: anti-spoofing, stateful filtering through conntrack, routing (TTL decrement,
//! MAC rewrite).
//!
//! Topology (every link MTU [`MTU`], IPv6 off):
//!
//! ```text
//! {p}-oc: {p}oc 10.0.1.10/24 ── {p}o0 ┐                        ┌ {p}o1 ── {p}os 10.0.2.20/24 :{p}-os
//!                                      └─ bridge {p}ob (netdev) ┘
//!                                         in {p}-ov, ovs-vswitchd's namespace
//! ```
//!
//! `ovs-vswitchd` runs in a namespace of its own, so the TAPs the userspace datapath
//! creates (`ovs-netdev`, the bridge's internal port) never appear on the host. The
//! namespace ends of the veths have TX checksum offload (and so TSO) off: the userspace
//! datapath reads them through `AF_PACKET` without vnet headers, so it needs complete
//! checksums and MTU-sized frames.
//!
//! The gateways 10.0.1.1 and 10.0.2.1 are static neighbour entries in the namespaces
//! pointing at [`GATEWAY_MAC`], like an instance's first ARP answer from the VPC router.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testbeds::names::check_ifname;
use testbeds::process::run_command_ok;
use testbeds::{veth_pair, Error, Netns, NsChild, Scratch, SpawnOpts};

use super::{Plane, MTU};

/// The MAC address both gateways answer with (the rules write it as the routed frames'
/// source).
pub const GATEWAY_MAC: &str = "02:00:00:00:00:01";
/// The client's MAC address (fixed so the rules can address it).
const CLIENT_MAC: &str = "02:00:0a:00:01:0a";
/// The server's MAC address.
const SERVER_MAC: &str = "02:00:0a:00:02:14";
/// The server's address.
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 20);
/// The conntrack zone of the VPC's connections.
const CT_ZONE: u16 = 1;
/// ovs-vsctl's own deadline (seconds) for reaching the database and for ovs-vswitchd to
/// apply a change.
const VSCTL_TIMEOUT_S: u32 = 30;
/// Our deadline around one OVS tool invocation.
const TOOL_TIMEOUT: Duration = Duration::from_secs(40);

/// The OpenFlow rules (ovs-ofctl's flow syntax, one per line). Ports: 1 is the client's
/// subnet, 2 the server's.
///
/// - table 0, anti-spoofing: IPv4 from the port's own address goes to conntrack; every
///   other frame (ARP included: the gateways are static neighbours) is dropped;
/// - table 1, the security groups: established and related traffic passes; a new TCP, UDP
///   or ICMP connection from the VPC (10.0.0.0/16) is committed and passes; anything else
///   (invalid, other protocols) is dropped;
/// - table 2, the route table: a packet for either subnet gets its TTL decremented and the
///   gateway's MAC as source;
/// - table 3, the neighbour table: the destination's MAC and port.
pub fn flows() -> String {
    let z = CT_ZONE;
    let gw = GATEWAY_MAC;
    let mut f = vec![
        format!("table=0,priority=100,ip,in_port=1,nw_src=10.0.1.10,actions=ct(table=1,zone={z})"),
        format!("table=0,priority=100,ip,in_port=2,nw_src=10.0.2.20,actions=ct(table=1,zone={z})"),
        "table=0,priority=0,actions=drop".to_owned(),
        "table=1,priority=100,ct_state=+trk+est-inv,ip,actions=resubmit(,2)".to_owned(),
        "table=1,priority=100,ct_state=+trk+rel-inv,ip,actions=resubmit(,2)".to_owned(),
    ];
    for proto in ["tcp", "udp", "icmp"] {
        f.push(format!(
            "table=1,priority=90,ct_state=+trk+new-inv,{proto},nw_src=10.0.0.0/16,\
             actions=ct(commit,zone={z}),resubmit(,2)"
        ));
    }
    f.push("table=1,priority=0,actions=drop".to_owned());
    for subnet in ["10.0.1.0/24", "10.0.2.0/24"] {
        f.push(format!(
            "table=2,priority=100,ip,nw_dst={subnet},actions=dec_ttl,mod_dl_src:{gw},resubmit(,3)"
        ));
    }
    f.push("table=2,priority=0,actions=drop".to_owned());
    f.push(format!(
        "table=3,priority=100,ip,nw_dst=10.0.1.10,actions=mod_dl_dst:{CLIENT_MAC},output:1"
    ));
    f.push(format!(
        "table=3,priority=100,ip,nw_dst=10.0.2.20,actions=mod_dl_dst:{SERVER_MAC},output:2"
    ));
    f.push("table=3,priority=0,actions=drop".to_owned());
    let mut s = f.join("\n");
    s.push('\n');
    s
}

/// Keeps the OVS plane up (the [`Plane::guard`] of [`ovs_userspace`]; downcast it to look
/// inside the running instance). Fields drop in order: ovs-vswitchd and ovsdb-server are
/// killed by PID (and reaped), then the namespaces are deleted (with the veths), then the
/// temporary directory is removed.
pub struct OvsInstance {
    _vswitchd: NsChild,
    _ovsdb: NsChild,
    _client: Netns,
    _server: Netns,
    _switch: Netns,
    dirs: Dirs,
    bridge: String,
    _dir: Scratch,
}

impl OvsInstance {
    /// The bridge's OpenFlow rules with their packet counters (`ovs-ofctl dump-flows`).
    pub fn dump_flows(&self) -> testbeds::Result<String> {
        let mgmt = self.dirs.mgmt(&self.bridge);
        self.dirs
            .tool(&["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", &mgmt])
    }

    /// The userspace datapath's connection table (`ovs-appctl dpctl/dump-conntrack`).
    pub fn dump_conntrack(&self) -> testbeds::Result<String> {
        let target = format!(
            "--target={}",
            Dirs::path(&self.dirs.run.join("ovs-vswitchd.ctl"))
        );
        self.dirs
            .tool(&["ovs-appctl", &target, "dpctl/dump-conntrack"])
    }
}

/// The private instance's directories and the environment that points OVS's tools at them.
struct Dirs {
    run: PathBuf,
    db: PathBuf,
    log: PathBuf,
    etc: PathBuf,
}

impl Dirs {
    fn create(base: &Path) -> testbeds::Result<Dirs> {
        let d = Dirs {
            run: base.join("run"),
            db: base.join("db"),
            log: base.join("log"),
            etc: base.join("etc"),
        };
        for p in [&d.run, &d.db, &d.log, &d.etc] {
            std::fs::create_dir(p).map_err(|source| Error::Io {
                context: format!("creating {}", p.display()),
                source,
            })?;
        }
        Ok(d)
    }

    /// Points `cmd` at this instance (never at the host's default run directory).
    fn env(&self, cmd: &mut Command) {
        cmd.env("OVS_RUNDIR", &self.run)
            .env("OVS_DBDIR", &self.db)
            .env("OVS_LOGDIR", &self.log)
            .env("OVS_SYSCONFDIR", &self.etc);
    }

    /// The bridge's OpenFlow management socket.
    fn mgmt(&self, bridge: &str) -> String {
        format!(
            "unix:{}",
            Dirs::path(&self.run.join(format!("{bridge}.mgmt")))
        )
    }

    fn db_remote(&self) -> String {
        format!("unix:{}", self.run.join("db.sock").display())
    }

    fn path(p: &Path) -> String {
        p.display().to_string()
    }

    /// Runs one OVS tool against this instance; a non-zero exit is an error.
    fn tool(&self, argv: &[&str]) -> testbeds::Result<String> {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]);
        self.env(&mut cmd);
        run_command_ok(cmd, &argv.join(" "), TOOL_TIMEOUT)
    }

    /// `ovs-vsctl --db=… --timeout=… ARGS…`.
    fn vsctl(&self, args: &[&str]) -> testbeds::Result<String> {
        let db = format!("--db={}", self.db_remote());
        let timeout = format!("--timeout={VSCTL_TIMEOUT_S}");
        let mut argv = vec!["ovs-vsctl", db.as_str(), timeout.as_str()];
        argv.extend_from_slice(args);
        self.tool(&argv)
    }
}

/// Where the OVS schema lives: `$OVS_PKGDATADIR` or Debian's `/usr/share/openvswitch`.
fn schema() -> testbeds::Result<PathBuf> {
    let dir = std::env::var_os("OVS_PKGDATADIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/openvswitch"));
    let p = dir.join("vswitch.ovsschema");
    if p.is_file() {
        Ok(p)
    } else {
        Err(Error::BinaryNotFound {
            binary: "openvswitch-switch".into(),
            detail: format!(
                "{} does not exist; install it with scripts/setup",
                p.display()
            ),
        })
    }
}

/// Sets up the Open vSwitch userspace-datapath peer with run prefix `prefix`: namespaces
/// `{prefix}-oc` (client), `{prefix}-os` (server) and `{prefix}-ov` (ovs-vswitchd), the
/// private OVS instance in a temporary directory named after the prefix, the bridge
/// `{prefix}ob` and the rules of [`flows`]. [`Plane::dataplane_pids`] is ovs-vswitchd's
/// PID. Label "ovs-userspace".
pub fn ovs_userspace(prefix: &str) -> testbeds::Result<Plane> {
    let bridge = format!("{prefix}ob");
    let (c_if, s_if) = (format!("{prefix}oc"), format!("{prefix}os"));
    let (p1, p2) = (format!("{prefix}o0"), format!("{prefix}o1"));
    for n in [&bridge, &c_if, &s_if, &p1, &p2] {
        check_ifname(n)?;
    }
    let schema = schema()?;
    let dir = Scratch::new(prefix)?.keep_on_panic(true);
    let dirs = Dirs::create(dir.path())?;
    let client = Netns::create(&format!("{prefix}-oc"))?;
    let server = Netns::create(&format!("{prefix}-os"))?;
    let switch = Netns::create(&format!("{prefix}-ov"))?;

    // The database and its server (not detached: guarded and killed by PID).
    let conf_db = dirs.db.join("conf.db");
    dirs.tool(&[
        "ovsdb-tool",
        "create",
        &Dirs::path(&conf_db),
        &Dirs::path(&schema),
    ])?;
    let remote = format!("--remote=p{}", dirs.db_remote());
    let pidfile = format!(
        "--pidfile={}",
        Dirs::path(&dirs.run.join("ovsdb-server.pid"))
    );
    let unixctl = format!(
        "--unixctl={}",
        Dirs::path(&dirs.run.join("ovsdb-server.ctl"))
    );
    let log = format!(
        "--log-file={}",
        Dirs::path(&dirs.log.join("ovsdb-server.log"))
    );
    let argv = [
        "ovsdb-server",
        &Dirs::path(&conf_db),
        &remote,
        &pidfile,
        &unixctl,
        &log,
        "--no-chdir",
    ];
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    dirs.env(&mut cmd);
    let ovsdb = NsChild::spawn(cmd, argv.join(" "), None, SpawnOpts::default())?;
    // Readiness: ovs-vsctl --retry waits (bounded by --timeout) for the socket to answer.
    dirs.vsctl(&["--retry", "--no-wait", "init"])?;
    tracing::debug!(pid = ovsdb.pid(), "ovsdb-server ready");

    // ovs-vswitchd in its own namespace, without the kernel datapath or the host's routes.
    let pidfile = format!(
        "--pidfile={}",
        Dirs::path(&dirs.run.join("ovs-vswitchd.pid"))
    );
    let unixctl = format!(
        "--unixctl={}",
        Dirs::path(&dirs.run.join("ovs-vswitchd.ctl"))
    );
    let log = format!(
        "--log-file={}",
        Dirs::path(&dirs.log.join("ovs-vswitchd.log"))
    );
    let db = dirs.db_remote();
    let argv = [
        "ovs-vswitchd",
        db.as_str(),
        "--disable-system",
        "--disable-system-route",
        &pidfile,
        &unixctl,
        &log,
        "--no-chdir",
    ];
    let mut cmd = switch.command(&argv);
    dirs.env(&mut cmd);
    let vswitchd = NsChild::spawn(
        cmd,
        format!("[{}] {}", switch.name(), argv.join(" ")),
        Some(Box::new(switch.clone())),
        SpawnOpts::default(),
    )?;

    // The links: a veth from each endpoint namespace to the switch's.
    veth_pair(&client, &c_if, &switch, &p1)?;
    veth_pair(&server, &s_if, &switch, &p2)?;
    let mtu = MTU.to_string();
    for (ns, ifname, mac, addr, gw) in [
        (&client, &c_if, CLIENT_MAC, "10.0.1.10/24", "10.0.1.1"),
        (&server, &s_if, SERVER_MAC, "10.0.2.20/24", "10.0.2.1"),
    ] {
        ns.ip(&[
            "link",
            "set",
            "dev",
            ifname,
            "address",
            mac,
            "mtu",
            &mtu,
            "addrgenmode",
            "none",
        ])?;
        ns.exec_ok(
            &["ethtool", "-K", ifname, "tx", "off"],
            Duration::from_secs(10),
        )?;
        ns.ip(&["addr", "add", addr, "dev", ifname])?;
        ns.ip(&[
            "neigh",
            "replace",
            gw,
            "lladdr",
            GATEWAY_MAC,
            "dev",
            ifname,
            "nud",
            "permanent",
        ])?;
        ns.ip(&["route", "add", "default", "via", gw, "dev", ifname])?;
    }
    for p in [&p1, &p2] {
        switch.ip(&["link", "set", "dev", p, "mtu", &mtu, "addrgenmode", "none"])?;
    }

    // The bridge. Without --no-wait, ovs-vsctl returns once ovs-vswitchd has applied it:
    // that is ovs-vswitchd's readiness.
    let mtu_request = format!("mtu_request={MTU}");
    dirs.vsctl(&[
        "add-br",
        &bridge,
        "--",
        "set",
        "bridge",
        &bridge,
        "datapath_type=netdev",
        "fail_mode=secure",
        "--",
        "add-port",
        &bridge,
        &p1,
        "--",
        "set",
        "interface",
        &p1,
        "ofport_request=1",
        &mtu_request,
        "--",
        "add-port",
        &bridge,
        &p2,
        "--",
        "set",
        "interface",
        &p2,
        "ofport_request=2",
        &mtu_request,
    ])?;
    let flows_file = dir.join("flows.txt");
    std::fs::write(&flows_file, flows()).map_err(|source| Error::Io {
        context: format!("writing {}", flows_file.display()),
        source,
    })?;
    let mgmt = format!(
        "unix:{}",
        Dirs::path(&dirs.run.join(format!("{bridge}.mgmt")))
    );
    dirs.tool(&[
        "ovs-ofctl",
        "-O",
        "OpenFlow13",
        "replace-flows",
        &mgmt,
        &Dirs::path(&flows_file),
    ])?;
    tracing::debug!(pid = vswitchd.pid(), %bridge, "ovs-vswitchd ready, rules installed");

    let pid = vswitchd.pid();
    Ok(Plane {
        label: "ovs-userspace".into(),
        client_ns: client.name().to_owned(),
        server_ns: server.name().to_owned(),
        server_ip: SERVER_IP,
        dataplane_pids: vec![pid],
        guard: Box::new(OvsInstance {
            _vswitchd: vswitchd,
            _ovsdb: ovsdb,
            _client: client,
            _server: server,
            _switch: switch,
            dirs,
            bridge,
            _dir: dir,
        }),
    })
}
