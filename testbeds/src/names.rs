//! Unique, decodable per-run name prefixes, and cleanup of leftovers from crashed runs.
//!
//! A [`RunPrefix`] is exactly 8 characters: `vt`, then the pid in base 36 (5 digits, zero-padded),
//! then a one-digit base-36 slot that is unique among the live prefixes of this process. Namespaces
//! are named `{prefix}-{name}` and interfaces `{prefix}{n}` (≤ 15 chars, Linux's `IFNAMSIZ - 1`).
//! Because the pid is part of every name, [`cleanup_stale`] can find namespaces and interfaces of
//! the `vt` family whose process is gone and delete them, leaving live runs alone.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dataplane::sys::ip::{self, Ip};

use crate::error::{Error, Result};
use crate::process::run_ip;

/// The leading characters shared by every name this harness creates.
pub const FAMILY: &str = "vt";

/// Length of a [`RunPrefix`] (family + 5 pid digits + 1 slot digit).
pub const PREFIX_LEN: usize = 8;

/// Linux's maximum interface name length (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = 15;

/// Number of distinct slots, i.e. live [`RunPrefix`]es one process may hold at once.
pub const SLOTS: usize = 36;

const PID_DIGITS: usize = 5;
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Interface kinds the stale cleanup may delete (never physical or other host devices).
const CLEANABLE_KINDS: &[&str] = &["veth", "tun", "dummy", "bridge"];

static SLOTS_IN_USE: Mutex<u64> = Mutex::new(0);
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

/// A unique name prefix for one harness instance (cheap to clone; the slot is released when the
/// last clone, including those held by [`crate::Netns`] guards, is dropped).
///
/// [`RunPrefix::netns`] (creating the namespace `{prefix}-{name}`) lives with [`crate::Netns`].
#[derive(Clone, Debug)]
pub struct RunPrefix {
    inner: Arc<PrefixInner>,
}

#[derive(Debug)]
struct PrefixInner {
    text: String,
    slot: usize,
}

impl Drop for PrefixInner {
    fn drop(&mut self) {
        let mut used = SLOTS_IN_USE.lock().unwrap_or_else(|p| p.into_inner());
        *used &= !(1u64 << self.slot);
    }
}

impl RunPrefix {
    /// Allocates a fresh prefix for this process.
    ///
    /// Slots whose names still exist on the machine (a leftover of a dead process that had the
    /// same pid) are skipped. Fails with [`Error::SlotsExhausted`] if 36 prefixes are live.
    pub fn new() -> Result<RunPrefix> {
        let pid = std::process::id();
        let existing = existing_names();
        let mut used = SLOTS_IN_USE.lock().unwrap_or_else(|p| p.into_inner());
        let start = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        for i in 0..SLOTS {
            let slot = (start + i) % SLOTS;
            if *used & (1u64 << slot) != 0 {
                continue;
            }
            let text = encode(pid, slot).ok_or_else(|| Error::InvalidName {
                name: pid.to_string(),
                reason: "pid does not fit 5 base-36 digits".into(),
            })?;
            if existing.iter().any(|n| n.starts_with(&text)) {
                tracing::warn!(prefix = %text, "prefix has leftovers from an earlier process; skipping slot");
                continue;
            }
            *used |= 1u64 << slot;
            NEXT_SLOT.store(slot + 1, Ordering::Relaxed);
            tracing::debug!(prefix = %text, "allocated run prefix");
            return Ok(RunPrefix {
                inner: Arc::new(PrefixInner { text, slot }),
            });
        }
        Err(Error::SlotsExhausted(SLOTS))
    }

    /// The prefix text (8 characters).
    pub fn as_str(&self) -> &str {
        &self.inner.text
    }

    /// The namespace name `{prefix}-{name}`.
    pub fn ns_name(&self, name: &str) -> String {
        format!("{}-{}", self.inner.text, name)
    }

    /// The interface name `{prefix}{suffix}`, checked against the 15-character limit.
    pub fn ifname(&self, suffix: impl std::fmt::Display) -> Result<String> {
        let name = format!("{}{}", self.inner.text, suffix);
        check_ifname(&name)?;
        Ok(name)
    }
}

impl std::fmt::Display for RunPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.inner.text)
    }
}

/// Checks a Linux interface name: 1..=15 bytes, no `/`, whitespace or `:`.
pub fn check_ifname(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > IFNAME_MAX {
        return bad("longer than 15 bytes (IFNAMSIZ)");
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || !b.is_ascii())
    {
        return bad("contains '/', ':', whitespace or non-ASCII");
    }
    Ok(())
}

/// Encodes `pid` and `slot` as a prefix; `None` if they do not fit.
pub fn encode(pid: u32, slot: usize) -> Option<String> {
    if slot >= SLOTS {
        return None;
    }
    let mut digits = [b'0'; PID_DIGITS];
    let mut n = pid as u64;
    for d in digits.iter_mut().rev() {
        *d = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    if n != 0 {
        return None;
    }
    let mut s = String::with_capacity(PREFIX_LEN);
    s.push_str(FAMILY);
    s.extend(digits.iter().map(|&b| b as char));
    s.push(DIGITS[slot] as char);
    Some(s)
}

/// Decodes the pid from any name starting with a run prefix (namespace or interface name).
///
/// Returns `None` for names outside the `vt` family format.
pub fn decode_pid(name: &str) -> Option<u32> {
    let b = name.as_bytes();
    if b.len() < PREFIX_LEN || !name.starts_with(FAMILY) {
        return None;
    }
    let is_digit = |c: u8| c.is_ascii_digit() || c.is_ascii_lowercase();
    if !b[2..PREFIX_LEN].iter().all(|&c| is_digit(c)) {
        return None;
    }
    let mut pid: u64 = 0;
    for &c in &b[2..2 + PID_DIGITS] {
        let v = if c.is_ascii_digit() {
            c - b'0'
        } else {
            c - b'a' + 10
        };
        pid = pid * 36 + u64::from(v);
    }
    u32::try_from(pid).ok().filter(|p| *p > 0)
}

/// Decodes the pid from a *namespace* name: `{prefix}` or `{prefix}-…`.
pub fn decode_netns_pid(name: &str) -> Option<u32> {
    let rest = name.get(PREFIX_LEN..)?;
    if rest.is_empty() || rest.starts_with('-') {
        decode_pid(name)
    } else {
        None
    }
}

/// Whether a process with this pid exists (checks `/proc/PID`).
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Names currently present in `/run/netns` and the host's `/sys/class/net` (readable unprivileged).
fn existing_names() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for dir in [ip::NETNS_DIR, "/sys/class/net"] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            out.extend(
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok()),
            );
        }
    }
    out
}

/// Names of all `ip netns` namespaces.
pub fn list_netns() -> Vec<String> {
    ip::netns_list()
}

/// Deletes every namespace of the `vt` family whose pid is dead, and every host-namespace
/// interface of the family (kinds veth/tun/dummy/bridge only) whose pid is dead.
///
/// Live runs (pid alive, including this process) are left alone. Returns the deleted names.
/// Errors deleting single entries are logged, not returned (another run may race us).
pub fn cleanup_stale() -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for name in list_netns() {
        let Some(pid) = decode_netns_pid(&name) else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        match run_ip(&Ip::netns_delete(&name)) {
            Ok(_) => {
                tracing::info!(netns = %name, pid, "deleted stale namespace");
                removed.push(name);
            }
            Err(e) => tracing::warn!(netns = %name, %e, "stale netns delete failed"),
        }
    }
    // What DHCP clients wrote for `ip netns exec` (/etc/netns/<namespace>/resolv.conf).
    if let Ok(rd) = std::fs::read_dir("/etc/netns") {
        for name in rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
        {
            if decode_netns_pid(&name).is_some_and(|pid| !pid_alive(pid)) {
                control::dhcp_client::remove_netns_etc(&name);
            }
        }
    }
    removed.extend(cleanup_stale_links(None)?);
    Ok(removed)
}

/// Deletes stale family interfaces in the host namespace (`netns = None`) or in the named one.
///
/// Exposed so tests can exercise the interface cleanup inside a namespace of their own instead of
/// the host's.
pub fn cleanup_stale_links(netns: Option<&str>) -> Result<Vec<String>> {
    let text = run_ip(&Ip::link_list_json(netns))?;
    let mut removed = Vec::new();
    for (name, kind) in parse_link_kinds(&text)? {
        let Some(pid) = decode_pid(&name) else {
            continue;
        };
        if pid_alive(pid) || !CLEANABLE_KINDS.contains(&kind.as_str()) {
            continue;
        }
        match run_ip(&Ip::link_delete(netns, &name)) {
            Ok(_) => {
                tracing::info!(ifname = %name, kind = %kind, pid, "deleted stale interface");
                removed.push(name);
            }
            // A veth peer disappears with its partner: not worth a warning.
            Err(e @ Error::Ip(ip::IpError::Failed { .. })) => {
                tracing::debug!(ifname = %name, %e, "stale link delete failed")
            }
            Err(e) => tracing::warn!(ifname = %name, %e, "stale link delete failed"),
        }
    }
    Ok(removed)
}

/// Parses `ip -j -d link show` into (ifname, info_kind) pairs (kind empty when absent).
pub fn parse_link_kinds(json: &str) -> Result<Vec<(String, String)>> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| Error::parse("ip -j link show", e.to_string()))?;
    let arr = v
        .as_array()
        .ok_or_else(|| Error::parse("ip -j link show", "not a JSON array"))?;
    Ok(arr
        .iter()
        .filter_map(|l| {
            let name = l.get("ifname")?.as_str()?.to_owned();
            let kind = l
                .get("linkinfo")
                .and_then(|i| i.get("info_kind"))
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_owned();
            Some((name, kind))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_roundtrip() {
        for pid in [1u32, 35, 36, 4242, 32768, 4_194_304, 60_466_175] {
            for slot in [0usize, 9, 35] {
                let p = encode(pid, slot).unwrap();
                assert_eq!(p.len(), PREFIX_LEN, "{p}");
                assert!(p.starts_with(FAMILY));
                assert_eq!(decode_pid(&p), Some(pid), "{p}");
                assert_eq!(decode_pid(&format!("{p}-ns1")), Some(pid));
                assert_eq!(decode_pid(&format!("{p}12")), Some(pid));
                assert_eq!(decode_netns_pid(&format!("{p}-a")), Some(pid));
            }
        }
        assert_eq!(encode(60_466_176, 0), None, "6 base-36 digits do not fit");
        assert_eq!(encode(1, 36), None);
        assert_eq!(encode(36, 1).as_deref(), Some("vt000101"));
    }

    #[test]
    fn decode_rejects_foreign_names() {
        for n in [
            "eth0",
            "lo",
            "vt",
            "vt0001",
            "vtABCDE1-x",
            "vt00_0a1",
            "veth1234",
            "vt00000",
            "vt000000",
        ] {
            assert_eq!(decode_pid(n), None, "{n}");
        }
        assert_eq!(
            decode_netns_pid("vt0000a1x"),
            None,
            "netns names need `-` after the prefix"
        );
        assert_eq!(decode_netns_pid("vt0000a1"), Some(10));
    }

    /// Serialises the tests that allocate slots (one of them takes all of them).
    static SLOT_TESTS: Mutex<()> = Mutex::new(());

    #[test]
    fn prefixes_unique_and_fit_ifnames() {
        let _g = SLOT_TESTS.lock().unwrap_or_else(|p| p.into_inner());
        let a = RunPrefix::new().unwrap();
        let b = RunPrefix::new().unwrap();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(decode_pid(a.as_str()), Some(std::process::id()));
        assert_eq!(a.as_str().len(), PREFIX_LEN);
        let ifn = a.ifname(1234567).unwrap();
        assert_eq!(ifn.len(), IFNAME_MAX);
        assert!(a.ifname(12345678).is_err());
        assert!(a.ns_name("left").starts_with(a.as_str()));
    }

    #[test]
    fn slots_are_released_and_bounded() {
        let _g = SLOT_TESTS.lock().unwrap_or_else(|p| p.into_inner());
        let held: Vec<_> = (0..=SLOTS).map_while(|_| RunPrefix::new().ok()).collect();
        // Slots with leftovers on the machine are skipped, so allow a few fewer.
        assert!(
            held.len() <= SLOTS && held.len() >= SLOTS - 4,
            "got {}",
            held.len()
        );
        assert!(matches!(RunPrefix::new(), Err(Error::SlotsExhausted(_))));
        let names: BTreeSet<_> = held.iter().map(|p| p.as_str().to_owned()).collect();
        assert_eq!(names.len(), held.len());
        let clone = held[0].clone();
        drop(held);
        assert!(RunPrefix::new().is_ok(), "released slots are reusable");
        drop(clone);
    }

    #[test]
    fn ifname_checks() {
        assert!(check_ifname("vt0000a1x").is_ok());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("0123456789abcdef").is_err());
    }

    #[test]
    fn link_kinds_parse() {
        let j = r#"[{"ifindex":1,"ifname":"lo","linkinfo":null},
            {"ifindex":2,"ifname":"vt00abc1x","linkinfo":{"info_kind":"veth"}},
            {"ifindex":3,"ifname":"eth0"}]"#;
        let v = parse_link_kinds(j).unwrap();
        assert_eq!(
            v,
            vec![
                ("lo".into(), "".into()),
                ("vt00abc1x".into(), "veth".into()),
                ("eth0".into(), "".into())
            ]
        );
    }
}
