//! Helpers shared by the end-to-end test files (`mod common;` in each).
//!
//! Not every test file uses every helper, hence the `dead_code` allowance.

#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::net::IpAddr;
use std::time::Duration;

use testbeds::netns::parse_ping_summary;
use testbeds::{Lab, Netns, PingResult};

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
