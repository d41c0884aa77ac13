//! Two network namespaces joined by a veth pair, for the probe engine's tests, deleted when the
//! guard drops (on every exit path of a test, panics included).
//!
//! Names follow the testbeds harness's run-prefix format (`vt`, the pid in five base-36 digits,
//! a slot digit, then `-name`), so `testbeds::cleanup_stale` removes what a crashed run left.
//! Control cannot depend on testbeds; the few lines of `require_root_or_skip` are repeated here.
//!
//! ```text
//!  [a] va 10.77.0.1/24 ──veth── vb 10.77.0.2/24 [b]   (b forwards)
//!  a: 10.77.8.0/24 and 10.77.9.0/24 via b
//!  b: prohibit 10.77.8.0/24   (an ICMP "administratively prohibited" from 10.77.0.2)
//!     blackhole 10.77.9.0/24  (silence)
//!     icmp_ratemask 0         (ICMP errors are not rate-limited)
//! ```

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// a's address.
pub(crate) const A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// b's address.
pub(crate) const B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// An address behind b's `prohibit` route.
pub(crate) const PROHIBITED: Ipv4Addr = Ipv4Addr::new(10, 77, 8, 8);
/// An address behind b's `blackhole` route.
pub(crate) const DROPPED: Ipv4Addr = Ipv4Addr::new(10, 77, 9, 9);

static SLOT: AtomicUsize = AtomicUsize::new(0);
static PRIVILEGES: OnceLock<Result<(), String>> = OnceLock::new();

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !(v.is_empty() || v == "0" || v == "false")
    })
}

/// A run prefix in the testbeds format: `vt` + pid (5 base-36 digits) + a slot digit.
fn prefix() -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = u64::from(std::process::id());
    let mut pid = [b'0'; 5];
    for d in pid.iter_mut().rev() {
        *d = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    let slot = DIGITS[SLOT.fetch_add(1, Ordering::Relaxed) % 36];
    format!("vt{}{}", String::from_utf8_lossy(&pid), char::from(slot))
}

/// Runs a command; `Err` with its stderr when it fails.
fn run(argv: &[&str]) -> Result<(), String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed ({}): {}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Start of every namespace test: `if !require_root_or_skip() { return; }`.
///
/// `true` when namespaces can be made here (root, and `ip netns add` works). Otherwise: under CI
/// (`CI` set and not `0`/`false`) it panics with the reason, because CI must fail rather than
/// silently skip; elsewhere it writes a SKIP note to stderr and returns `false`.
pub(crate) fn require_root_or_skip() -> bool {
    let checked = PRIVILEGES.get_or_init(|| {
        let euid = nix::unistd::geteuid();
        if !euid.is_root() {
            return Err(format!("not root (euid {euid}); namespace tests need root"));
        }
        let name = format!("{}-check", prefix());
        run(&["ip", "netns", "add", &name])
            .map_err(|e| format!("`ip netns add` impossible: {e}"))?;
        run(&["ip", "netns", "del", &name])
    });
    match checked {
        Ok(()) => true,
        Err(reason) if in_ci() => panic!("namespace tests cannot run under CI: {reason}"),
        Err(reason) => {
            // Straight to fd 2, not `eprintln!`, so the note shows even under libtest's capture.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIP: namespace test skipped: {reason}");
            false
        }
    }
}

/// The guard: namespaces `a` and `b` (see the module documentation), deleted on drop.
#[derive(Debug)]
pub(crate) struct TestNet {
    /// The client side's namespace.
    pub(crate) a: String,
    /// The server side's namespace.
    pub(crate) b: String,
    created: Vec<String>,
}

impl TestNet {
    /// Builds the two namespaces; panics (after cleaning up) if that fails.
    pub(crate) fn new() -> TestNet {
        let p = prefix();
        let mut net = TestNet {
            a: format!("{p}-a"),
            b: format!("{p}-b"),
            created: Vec::new(),
        };
        if let Err(e) = net.build() {
            panic!("cannot build the test namespaces: {e}");
        }
        net
    }

    fn build(&mut self) -> Result<(), String> {
        let (a, b) = (self.a.clone(), self.b.clone());
        for ns in [&a, &b] {
            run(&["ip", "netns", "add", ns])?;
            self.created.push(ns.clone());
            self.ip(ns, &["link", "set", "lo", "up"])?;
        }
        self.ip(
            &a,
            &[
                "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b,
            ],
        )?;
        self.ip(&a, &["addr", "add", "10.77.0.1/24", "dev", "va"])?;
        self.ip(&b, &["addr", "add", "10.77.0.2/24", "dev", "vb"])?;
        self.ip(&a, &["link", "set", "va", "up"])?;
        self.ip(&b, &["link", "set", "vb", "up"])?;
        self.ip(&a, &["route", "add", "10.77.8.0/24", "via", "10.77.0.2"])?;
        self.ip(&a, &["route", "add", "10.77.9.0/24", "via", "10.77.0.2"])?;
        self.ip(&b, &["route", "add", "prohibit", "10.77.8.0/24"])?;
        self.ip(&b, &["route", "add", "blackhole", "10.77.9.0/24"])?;
        self.sysctl(&b, "net/ipv4/ip_forward", "1")?;
        self.sysctl(&b, "net/ipv4/icmp_ratemask", "0")?;
        Ok(())
    }

    /// `ip -n NS args…`.
    pub(crate) fn ip(&self, ns: &str, args: &[&str]) -> Result<(), String> {
        let mut argv = vec!["ip", "-n", ns];
        argv.extend_from_slice(args);
        run(&argv)
    }

    /// Writes `/proc/sys/KEY` inside `ns`.
    pub(crate) fn sysctl(&self, ns: &str, key: &str, value: &str) -> Result<(), String> {
        let script = format!("echo {value} > /proc/sys/{key}");
        run(&["ip", "netns", "exec", ns, "sh", "-c", &script])
    }

    /// Deletes namespace `ns` and creates it again, empty but for `lo` (same name, new identity).
    pub(crate) fn recreate(&self, ns: &str) -> Result<(), String> {
        run(&["ip", "netns", "del", ns])?;
        run(&["ip", "netns", "add", ns])?;
        self.ip(ns, &["link", "set", "lo", "up"])
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for ns in self.created.drain(..) {
            if let Err(e) = run(&["ip", "netns", "del", &ns]) {
                tracing::warn!(%ns, %e, "deleting a test namespace failed");
            }
        }
    }
}
