//! Reading iperf3's output and a process's CPU time, and the arithmetic of the figures.

use super::*;

use crate::error::{Error, Result};
use crate::process::last_lines;

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// `value / reference`; `None` when the reference is not a positive finite number.
pub fn ratio(value: f64, reference: f64) -> Option<f64> {
    (reference.is_finite() && reference > 0.0).then(|| value / reference)
}

/// CPU seconds per GB (10^9 bytes): `cpu_s / (bytes / 1e9)`; `None` for zero bytes.
pub fn cpu_per_gb(cpu_s: f64, bytes: u64) -> Option<f64> {
    (bytes > 0).then(|| cpu_s / (bytes as f64 / 1e9))
}

/// Parses an iperf3 client's text summary (`-f m` or any other unit) for its `receiver` line:
/// `[  5]   0.00-3.04  sec   111 MBytes   307 Mbits/sec    receiver`.
pub fn parse_iperf3_receiver(text: &str) -> Result<IperfSummary> {
    let err = |detail: &str| {
        Error::parse(
            "iperf3 client output",
            format!("{detail}:\n{}", last_lines(text, 8)),
        )
    };
    let line = text
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| l.ends_with("receiver"))
        .ok_or_else(|| err("no receiver line"))?;
    let toks: Vec<&str> = line.split_whitespace().collect();
    let value_before = |i: usize| -> Option<f64> {
        toks.get(i.checked_sub(1)?)?
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let rate_i = toks
        .iter()
        .position(|t| t.ends_with("bits/sec"))
        .ok_or_else(|| err("no bits/sec in the receiver line"))?;
    let rate_scale = match toks[rate_i] {
        "bits/sec" => 1e-6,
        "Kbits/sec" => 1e-3,
        "Mbits/sec" => 1.0,
        "Gbits/sec" => 1e3,
        "Tbits/sec" => 1e6,
        _ => return Err(err("unknown rate unit")),
    };
    let rate = value_before(rate_i).ok_or_else(|| err("no rate value"))?;
    let bytes_i = toks
        .iter()
        .position(|t| t.ends_with("Bytes"))
        .ok_or_else(|| err("no Bytes in the receiver line"))?;
    let byte_scale: f64 = match toks[bytes_i] {
        "Bytes" => 1.0,
        "KBytes" => 1024.0,
        "MBytes" => 1024.0 * 1024.0,
        "GBytes" => 1024.0 * 1024.0 * 1024.0,
        "TBytes" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(err("unknown byte unit")),
    };
    let transferred = value_before(bytes_i).ok_or_else(|| err("no transfer value"))?;
    Ok(IperfSummary {
        mbps: rate * rate_scale,
        bytes: (transferred * byte_scale).round() as u64,
    })
}
