//! Helpers shared by the end-to-end test files (`mod common;` in each).
//!
//! Not every test file uses every helper, hence the `dead_code` allowance.

#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ChildStdin;
use std::time::{Duration, Instant};

use dataplane::observe::stats::PortCounters;
use dataplane::vpc::verdict::DropReason;
use testbeds::netns::parse_ping_summary;
use testbeds::process::Stream;
use testbeds::{Lab, Netns, NsChild, PingResult, Scratch, SpawnOpts, Vpcctl};

/// Counter waits: vpcd counts a frame when its forwarding thread processes it.
pub const COUNTER_WAIT: Duration = Duration::from_secs(5);
/// Deadline for short commands in a namespace.
pub const CMD: Duration = Duration::from_secs(15);

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn start(toml: &str) -> Lab {
    testbeds::init_tracing();
    Lab::start(toml).unwrap()
}

/// Runs `ping -n ARGS…` in `ns` and returns its summary and stdout (loss is not an error).
pub fn ping(ns: &Netns, args: &[&str]) -> (PingResult, String) {
    let mut argv = vec!["ping", "-n"];
    argv.extend_from_slice(args);
    let out = ns.exec(&argv, CMD).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let r = parse_ping_summary(&stdout).unwrap_or_else(|e| {
        panic!(
            "{argv:?}: {e}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (r, stdout)
}

/// `count` echo requests 0.2 s apart, each awaited at most 1 s: for destinations that never answer.
pub fn ping_unanswered(ns: &Netns, dst: &str, count: u32, extra: &[&str]) -> PingResult {
    let c = count.to_string();
    let mut args = vec!["-c", &c, "-i", "0.2", "-W", "1"];
    args.extend_from_slice(extra);
    args.push(dst);
    ping(ns, &args).0
}

/// `sysctl -w SETTING` in `ns`.
pub fn sysctl(ns: &Netns, setting: &str) {
    ns.exec_ok(&["sysctl", "-q", "-w", setting], CMD).unwrap();
}

/// `curl URL` from `ns` with an overall deadline of `secs`: the body, or curl's error.
pub fn curl_url(ns: &Netns, url: &str, secs: u32) -> Result<String, String> {
    let t = secs.to_string();
    let out = ns
        .exec(
            &[
                "curl",
                "-sS",
                "--connect-timeout",
                &t,
                "--max-time",
                &t,
                url,
            ],
            CMD + Duration::from_secs(u64::from(secs)),
        )
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

// --- counters ------------------------------------------------------------------------------

/// `eni`'s drop counter for `r`.
pub fn drops(lab: &Lab, eni: &str, r: DropReason) -> u64 {
    lab.drops(eni, r).unwrap()
}

/// Waits for `eni`'s `r` counter to pass `before` and returns it (asserting it did).
pub fn expect_drops(lab: &Lab, eni: &str, r: DropReason, before: u64) -> u64 {
    let n = lab.wait_drops(eni, r, before + 1, COUNTER_WAIT).unwrap();
    assert!(
        n > before,
        "{eni}: {} stayed at {before}; counters: {:?}",
        r.name(),
        lab.counters(eni).unwrap().drop_map()
    );
    n
}

/// The deny count of one ACL rule (`"*"` for the final deny) this epoch.
pub fn nacl_denied(lab: &Lab, acl: &str, dir: &str, rule: &str) -> u64 {
    lab.show()
        .unwrap()
        .nacl_denies
        .iter()
        .filter(|d| d.nacl == acl && d.direction == dir && d.rule == rule)
        .map(|d| d.packets)
        .sum()
}

/// Polls `read` until `done` holds for its value or `timeout` passes; returns the last value.
pub fn poll<T>(
    timeout: Duration,
    mut read: impl FnMut() -> T,
    mut done: impl FnMut(&T) -> bool,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut step = Duration::from_millis(2);
    loop {
        let v = read();
        let now = Instant::now();
        if done(&v) || now >= deadline {
            return v;
        }
        std::thread::sleep(step.min(deadline - now));
        step = (step * 2).min(Duration::from_millis(50));
    }
}

/// The counters of internet gateway `igw`'s uplink (asserting it is attached).
pub fn uplink(lab: &Lab, igw: &str) -> PortCounters {
    let r = lab.show().unwrap();
    let u = r
        .uplinks
        .into_iter()
        .find(|u| u.igw == igw)
        .unwrap_or_else(|| panic!("vpcd reports no uplink for {igw}"));
    assert!(u.tap.is_some(), "{igw}: uplink not attached");
    u.counters
}

/// Waits for `igw`'s uplink `r` counter to pass `before` and returns it (asserting it did).
pub fn expect_uplink_drops(lab: &Lab, igw: &str, r: DropReason, before: u64) -> u64 {
    let c = poll(
        COUNTER_WAIT,
        || uplink(lab, igw),
        |c| c.drops[r.index()] > before,
    );
    let n = c.drops[r.index()];
    assert!(
        n > before,
        "uplink: {} stayed at {before}; counters: {:?}",
        r.name(),
        c.drop_map()
    );
    n
}

// --- HTTP ----------------------------------------------------------------------------------

/// An HTTP server: python's `http.server` handler without the reverse lookup of its own
/// address that `HTTPServer.server_bind` does (`getfqdn`, which waits for an unreachable
/// resolver in a namespace), logging each client as `IP:PORT`.
/// Args: address, port, directory. Access log on stderr.
const HTTP_SERVER: &str = r#"
import functools, http.server, socketserver, sys
class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class Handler(http.server.SimpleHTTPRequestHandler):
    def address_string(self):
        return "%s:%d" % self.client_address[:2]
handler = functools.partial(Handler, directory=sys.argv[3])
server = Server((sys.argv[1], int(sys.argv[2])), handler)
print("Serving HTTP on", sys.argv[1], flush=True)
server.serve_forever()
"#;

/// An HTTP server serving `index.html` ("hello from NAME") and whatever the test puts in its
/// directory; its access log (stderr) names each client as `IP:PORT`.
pub struct Http {
    child: NsChild,
    dir: Scratch,
}

/// An [`Http`] server on `bind:80` in `ns`, ready.
pub fn http_server(ns: &Netns, bind: &str, name: &str) -> Http {
    http_server_on(ns, bind, 80, name)
}

/// An [`Http`] server on `bind:port` in `ns`, ready.
pub fn http_server_on(ns: &Netns, bind: &str, port: u16, name: &str) -> Http {
    let dir = Scratch::new(&format!("{}-www", ns.name())).unwrap();
    std::fs::write(dir.join("index.html"), format!("hello from {name}\n")).unwrap();
    let d = dir.path().to_string_lossy().into_owned();
    let p = port.to_string();
    let mut child = spawn_tied(ns, &["python3", "-c", HTTP_SERVER, bind, &p, &d]);
    child
        .wait_for_line(|_, l| l.contains("Serving HTTP"), CMD)
        .unwrap();
    Http { child, dir }
}

impl Http {
    /// The server's document directory.
    pub fn dir(&self) -> &Scratch {
        &self.dir
    }

    /// The client (address and port) of the next logged request for `path` (waits for the
    /// log line).
    pub fn next_client(&mut self, path: &str) -> SocketAddr {
        let needle = format!("\"GET {path} ");
        let line = self
            .child
            .wait_for_line(
                |s, l| s == Stream::Stderr && l.contains(&needle),
                Duration::from_secs(5),
            )
            .unwrap();
        let first = line.split_whitespace().next().unwrap_or_default();
        first
            .parse()
            .unwrap_or_else(|_| panic!("no IP:PORT at the start of {line:?}"))
    }

    /// Every request line logged so far.
    pub fn log(&self) -> String {
        self.child.stderr_text()
    }
}

/// A curl of `url` that must return the page of server `name`.
pub fn curl_url_ok(ns: &Netns, url: &str, name: &str) {
    match curl_url(ns, url, 10) {
        Ok(body) => assert_eq!(
            body,
            format!("hello from {name}\n"),
            "curl {} -> {url}",
            ns.name()
        ),
        Err(e) => panic!("curl {} -> {url}: {e}", ns.name()),
    }
}

/// A curl of `http://DST/` that must return the page of server `name`.
pub fn curl_ok(ns: &Netns, dst: &str, name: &str) {
    curl_url_ok(ns, &format!("http://{dst}/"), name);
}

/// A curl of `url` that must fail by timing out (its packets dropped, not refused).
pub fn curl_url_blocked(ns: &Netns, url: &str) {
    match curl_url(ns, url, 2) {
        Ok(body) => panic!("curl {} -> {url} got through: {body:?}", ns.name()),
        Err(e) => assert!(
            e.contains("timed out") || e.contains("Timeout"),
            "curl {} -> {url} failed, but not by a timeout: {e}",
            ns.name()
        ),
    }
}

/// A curl of `http://DST/` that must fail by timing out (its packets dropped, not refused).
pub fn curl_blocked(ns: &Netns, dst: &str) {
    curl_url_blocked(ns, &format!("http://{dst}/"));
}

// --- ping ----------------------------------------------------------------------------------

/// Two pings (0.2 s apart, each awaited 2 s) with `extra` options that must be fully answered.
pub fn ping_ok_with(ns: &Netns, extra: &[&str], dst: &str) {
    let mut args = vec!["-c", "2", "-i", "0.2", "-W", "2"];
    args.extend_from_slice(extra);
    args.push(dst);
    let (r, out) = ping(ns, &args);
    assert!(r.all_received(), "ping {} -> {dst}: {out}", ns.name());
}

/// Two pings that must be fully answered.
pub fn ping_ok(ns: &Netns, dst: &str) {
    ping_ok_with(ns, &[], dst);
}

// --- tcpdump -------------------------------------------------------------------------------

/// `tcpdump ARGS…` in `ns` (killed with the test's thread), once it is listening.
pub fn tcpdump(ns: &Netns, args: &[&str]) -> NsChild {
    let mut argv = vec!["tcpdump"];
    argv.extend_from_slice(args);
    let mut c = spawn_tied(ns, &argv);
    c.wait_for_line(
        |s, l| s == Stream::Stderr && l.contains("listening on"),
        CMD,
    )
    .unwrap();
    c
}

// --- tcp-probe -----------------------------------------------------------------------------

/// The `tcp-probe` helper binary of this crate.
pub const PROBE: &str = env!("CARGO_BIN_EXE_tcp-probe");

/// `tcp-probe listen ADDR PORTS…` in `ns`, ready.
pub fn probe_server(ns: &Netns, addr: &str, ports: &[u16]) -> NsChild {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut argv = vec![PROBE, "listen", addr];
    argv.extend(ports.iter().map(String::as_str));
    let mut c = spawn_tied(ns, &argv);
    c.wait_for_line(|s, l| s == Stream::Stdout && l == "ready", CMD)
        .unwrap();
    c
}

/// A TCP connection held open by `tcp-probe connect` in a namespace, driven by lines.
pub struct Held {
    /// The `tcp-probe connect` process (its stdout holds every outcome line).
    pub child: NsChild,
    stdin: ChildStdin,
    /// The inside socket's address.
    pub local: SocketAddr,
}

/// Connects from `ns` to `dst:port` (echo timeout `secs`) and holds the connection
/// (asserting it connected).
pub fn hold(ns: &Netns, dst: &str, port: u16, secs: u32) -> Held {
    let (p, t) = (port.to_string(), secs.to_string());
    let mut child = ns
        .spawn_with(
            &[PROBE, "connect", dst, &p, &t],
            SpawnOpts {
                stdin_pipe: true,
                die_with_thread: true,
                ..SpawnOpts::default()
            },
        )
        .unwrap();
    let stdin = child.take_stdin().unwrap();
    let line = child
        .wait_for_line(
            |s, l| {
                s == Stream::Stdout
                    && (l.starts_with("connected ") || l.starts_with("connect-error"))
            },
            CMD,
        )
        .unwrap();
    let local = line
        .strip_prefix("connected ")
        .unwrap_or_else(|| panic!("tcp-probe {} -> {dst}:{port}: {line}", ns.name()))
        .parse()
        .unwrap();
    Held {
        child,
        stdin,
        local,
    }
}

impl Held {
    /// Sends `text` and returns the outcome line (`echo TEXT`, `reset`, `timeout`, …).
    pub fn send(&mut self, text: &str) -> String {
        writeln!(self.stdin, "send {text}").unwrap();
        self.stdin.flush().unwrap();
        self.child
            .wait_for_line(
                |s, l| {
                    s == Stream::Stdout
                        && (l.starts_with("echo ")
                            || l == "reset"
                            || l == "eof"
                            || l == "timeout"
                            || l.starts_with("error "))
                },
                CMD,
            )
            .unwrap()
    }
}

// --- vpcctl --------------------------------------------------------------------------------

/// `vpcctl apply` (the real binary) of `toml` as the file `NAME.toml`, with this lab's
/// namespace names; asserts success.
pub fn vpcctl_apply(lab: &Lab, toml: &str, name: &str) {
    let text = toml.replace(
        "netns = \"",
        &format!("netns = \"{}", lab.prefix().ns_name("")),
    );
    let dir = Scratch::new(&lab.prefix().ns_name(name)).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let ctl = Vpcctl::new(lab.vpcd().socket_path()).unwrap();
    let out = ctl.run(&["apply", &file.to_string_lossy()], CMD).unwrap();
    assert!(
        out.status.success(),
        "vpcctl apply: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- python helpers --------------------------------------------------------------------------

/// `python3 -c SCRIPT ARGS…` in `ns`, once the script has printed `ready` on stdout.
pub fn python_ready(ns: &Netns, script: &str, args: &[&str]) -> NsChild {
    let mut argv = vec!["python3", "-c", script];
    argv.extend_from_slice(args);
    let mut c = ns.spawn(&argv).unwrap();
    c.wait_for_line(|s, l| s == Stream::Stdout && l == "ready", CMD)
        .unwrap();
    c
}

/// Starts `argv` in `ns` in the background, killed when the calling (test) thread exits.
pub fn spawn_tied(ns: &Netns, argv: &[&str]) -> NsChild {
    ns.spawn_with(
        argv,
        SpawnOpts {
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )
    .unwrap()
}

/// `socat -d -d -u LISTEN STDOUT` in `ns` (`listen`: a socat address such as
/// `TCP4-LISTEN:…`): received data on its stdout; ready once socat says it is listening.
pub fn socat_listener(ns: &Netns, listen: &str) -> NsChild {
    let mut child = ns
        .spawn(&["socat", "-d", "-d", "-u", listen, "STDOUT"])
        .unwrap();
    child
        .wait_for_line(
            |s, l| s == Stream::Stderr && l.contains("listening on"),
            CMD,
        )
        .unwrap();
    child
}

/// `/etc/netns/NAME/resolv.conf` for a namespace, removed on drop.
pub struct ResolvConf(PathBuf);

impl ResolvConf {
    pub fn write(ns: &Netns, nameserver: &str) -> ResolvConf {
        let dir = PathBuf::from("/etc/netns").join(ns.name());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("resolv.conf"),
            format!("nameserver {nameserver}\noptions timeout:2 attempts:2\n"),
        )
        .unwrap();
        ResolvConf(dir)
    }
}

impl Drop for ResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `f` on a thread inside namespace `ns` (sockets it opens live there).
pub fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = File::open(PathBuf::from("/run/netns").join(ns.name())).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// `getent hosts KEY` in `ns` (glibc's resolver, `/etc/resolv.conf` as `ip netns exec`
/// shows it): (exit code, stdout).
pub fn getent(ns: &Netns, key: &str) -> (Option<i32>, String) {
    let out = ns.exec(&["getent", "hosts", key], CMD).unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}
