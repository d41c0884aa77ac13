//! Helpers of the `flood` benchmark (`benches/src/bin/flood.rs`, `scripts/flood`): the
//! kernel's interface counters read with `ip -s -j link show`, a CPU-capped cgroup for the
//! flooder (v2 `cpu.max`, or v1 `cpu.cfs_quota_us` where only the v1 controller is
//! mounted), and the per-round ratios and PASS/MISS verdicts of the report.

use std::path::{Path, PathBuf};

use crate::suite::results::summarize;
use crate::suite::{Error, Result};

/// One interface's kernel counters (`ip -s -j link show dev IF`, `stats64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets the interface received (for a TAP's kernel side: frames vpcd wrote to it).
    pub rx_packets: u64,
    /// Received packets the kernel dropped.
    pub rx_dropped: u64,
    /// Packets the namespace sent into it (for a TAP: queued for vpcd to read).
    pub tx_packets: u64,
    /// Sent packets the kernel dropped (for a TAP: its queue was full, vpcd did not read).
    pub tx_dropped: u64,
}

impl LinkStats {
    /// `self - before`, per counter (saturating: a re-created interface starts at 0).
    pub fn since(&self, before: &LinkStats) -> LinkStats {
        LinkStats {
            rx_packets: self.rx_packets.saturating_sub(before.rx_packets),
            rx_dropped: self.rx_dropped.saturating_sub(before.rx_dropped),
            tx_packets: self.tx_packets.saturating_sub(before.tx_packets),
            tx_dropped: self.tx_dropped.saturating_sub(before.tx_dropped),
        }
    }
}

/// Parses `ip -s -j link show dev IF`: the first interface's `stats64` (or `stats`).
pub fn parse_link_stats(json: &str) -> Result<LinkStats> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::parse("ip -s -j link show", format!("{e}: {json:?}")))?;
    let link = v
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| Error::parse("ip -s -j link show", "no interface"))?;
    let stats = link
        .get("stats64")
        .or_else(|| link.get("stats"))
        .ok_or_else(|| Error::parse("ip -s -j link show", "no stats64"))?;
    let n = |dir: &str, what: &str| -> Result<u64> {
        stats
            .get(dir)
            .and_then(|d| d.get(what))
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| Error::parse("ip -s -j link show", format!("no {dir}.{what}")))
    };
    Ok(LinkStats {
        rx_packets: n("rx", "packets")?,
        rx_dropped: n("rx", "dropped")?,
        tx_packets: n("tx", "packets")?,
        tx_dropped: n("tx", "dropped")?,
    })
}

/// A cgroup whose processes share at most a fraction of one CPU, created under a unique
/// name and removed on drop (after its processes have gone: the caller stops them first).
#[derive(Debug)]
pub struct CpuCap {
    dir: PathBuf,
}

/// Where cgroups live: v2's unified hierarchy with the `cpu` controller, else v1's `cpu`.
fn cgroup_parent() -> Result<(PathBuf, bool)> {
    let v2 = Path::new("/sys/fs/cgroup");
    if std::fs::read_to_string(v2.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"))
    {
        return Ok((v2.to_path_buf(), true));
    }
    let v1 = Path::new("/sys/fs/cgroup/cpu");
    if v1.join("cpu.cfs_quota_us").is_file() {
        return Ok((v1.to_path_buf(), false));
    }
    Err(Error::Usage(
        "--flooder-cpu: no cgroup cpu controller (neither v2 /sys/fs/cgroup with `cpu` in \
         cgroup.controllers nor v1 /sys/fs/cgroup/cpu)"
            .into(),
    ))
}

impl CpuCap {
    /// Creates cgroup `name` limited to `pct` percent of one CPU (100 ms periods).
    pub fn new(name: &str, pct: f64) -> Result<CpuCap> {
        if !(pct > 0.0 && pct <= 100.0 * 1024.0) {
            return Err(Error::Usage(format!(
                "--flooder-cpu {pct}: a percentage of one CPU above 0"
            )));
        }
        let (parent, v2) = cgroup_parent()?;
        let dir = parent.join(name);
        std::fs::create_dir(&dir).map_err(|e| Error::io(format!("mkdir {}", dir.display()), e))?;
        let cap = CpuCap { dir };
        let period: u64 = 100_000;
        let quota = ((pct / 100.0) * period as f64).round().max(1000.0) as u64;
        let (file, text) = if v2 {
            ("cpu.max", format!("{quota} {period}"))
        } else {
            ("cpu.cfs_quota_us", quota.to_string())
        };
        if !v2 {
            cap.write("cpu.cfs_period_us", &period.to_string())?;
        }
        cap.write(file, &text)?;
        Ok(cap)
    }

    fn write(&self, file: &str, text: &str) -> Result<()> {
        let p = self.dir.join(file);
        std::fs::write(&p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))
    }

    /// Its `cgroup.procs`: a process writes its PID there to join (before it execs the
    /// flooder, so that no packet is sent outside the cap).
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        // A cgroup can be removed once empty; its processes were killed and reaped, but
        // the kernel may take a moment to account for it.
        for _ in 0..50 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        tracing::warn!(dir = %self.dir.display(), "could not remove the flooder's cgroup");
    }
}

/// The per-round ratios `flood[i] / idle[i]` of the rounds where both were measured.
pub fn ratios(flood: &[Option<f64>], idle: &[Option<f64>]) -> Vec<f64> {
    flood
        .iter()
        .zip(idle)
        .filter_map(|(f, i)| match (f, i) {
            (Some(f), Some(i)) if *i > 0.0 => Some(f / i),
            _ => None,
        })
        .collect()
}

/// The verdict on a set of per-round ratios: the median against a bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// The median ratio meets the target.
    Pass(f64),
    /// It does not.
    Miss(f64),
    /// No ratio to judge.
    Unknown,
}

impl Verdict {
    /// `at_least`: TCP (the ratio must be ≥ `bound`); else ping (≤ `bound`).
    pub fn of(ratios: &[f64], bound: f64, at_least: bool) -> Verdict {
        match summarize(ratios) {
            None => Verdict::Unknown,
            Some(s) if (at_least && s.median >= bound) || (!at_least && s.median <= bound) => {
                Verdict::Pass(s.median)
            }
            Some(s) => Verdict::Miss(s.median),
        }
    }

    /// `PASS 0.93×`, `MISS 0.41×`, `—`.
    pub fn text(&self) -> String {
        match self {
            Verdict::Pass(m) => format!("PASS {m:.2}×"),
            Verdict::Miss(m) => format!("MISS {m:.2}×"),
            Verdict::Unknown => "—".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_link_stats() {
        let j = r#"[{"ifindex":2,"ifname":"eth0","stats64":{"rx":{"bytes":10,"packets":3,"errors":0,"dropped":1,"over_errors":0,"multicast":0},"tx":{"bytes":20,"packets":7,"errors":0,"dropped":5,"carrier_errors":0,"collisions":0}}}]"#;
        let s = parse_link_stats(j).unwrap();
        assert_eq!(
            s,
            LinkStats {
                rx_packets: 3,
                rx_dropped: 1,
                tx_packets: 7,
                tx_dropped: 5
            }
        );
        let later = LinkStats {
            tx_packets: 17,
            ..s
        };
        assert_eq!(later.since(&s).tx_packets, 10);
        assert_eq!(s.since(&later).tx_packets, 0);
        assert!(parse_link_stats("[]").is_err());
        assert!(parse_link_stats(r#"[{"ifname":"x"}]"#).is_err());
        assert!(parse_link_stats("garbage").is_err());
    }

    #[test]
    fn ratios_and_verdicts() {
        let r = ratios(
            &[Some(8.0), None, Some(9.0), Some(1.0)],
            &[Some(10.0), Some(10.0), Some(10.0), Some(0.0)],
        );
        assert_eq!(r, vec![0.8, 0.9]);
        assert_eq!(
            Verdict::of(&r, 0.8, true),
            Verdict::Pass(0.8500000000000001)
        );
        assert!(matches!(Verdict::of(&r, 0.9, true), Verdict::Miss(_)));
        assert!(matches!(Verdict::of(&[2.5], 2.0, false), Verdict::Miss(_)));
        assert!(matches!(Verdict::of(&[1.5], 2.0, false), Verdict::Pass(_)));
        assert_eq!(Verdict::of(&[], 2.0, false), Verdict::Unknown);
        assert_eq!(Verdict::Miss(0.41).text(), "MISS 0.41×");
    }
}
