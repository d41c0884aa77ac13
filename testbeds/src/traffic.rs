//! Real traffic between namespaces with real clients: socat TCP transfers and iperf3.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::process::{last_lines, SpawnOpts, Stream};

/// Deadline for a server to announce it is listening.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The default port of [`iperf3`].
pub const IPERF3_PORT: u16 = 5201;

const CHUNK: usize = 64 * 1024;

/// The outcome of a [`tcp_transfer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferResult {
    /// Bytes the client sent.
    pub bytes_sent: u64,
    /// Bytes the server received.
    pub bytes_received: u64,
    /// SHA-256 of the sent stream.
    pub sha256_sent: [u8; 32],
    /// SHA-256 of the received stream.
    pub sha256_received: [u8; 32],
    /// From starting the client to the server having received everything.
    pub elapsed: Duration,
}

impl TransferResult {
    /// Same length and same digest.
    pub fn intact(&self) -> bool {
        self.bytes_sent == self.bytes_received && self.sha256_sent == self.sha256_received
    }

    /// Goodput in Gbit/s.
    pub fn gbps(&self) -> f64 {
        self.bytes_received as f64 * 8.0 / self.elapsed.as_secs_f64().max(1e-9) / 1e9
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), the payload of [`tcp_transfer`].
#[derive(Clone, Debug)]
pub struct PatternGen {
    state: u64,
}

impl PatternGen {
    /// A generator for `seed` (0 is mapped to a fixed non-zero seed).
    pub fn new(seed: u64) -> PatternGen {
        PatternGen {
            state: if seed == 0 {
                0x9e37_79b9_7f4a_7c15
            } else {
                seed
            },
        }
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let v = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&v[..rest.len()]);
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The payload stream of [`tcp_transfer`]: a 1 MiB [`PatternGen`] block, cut into chunks, each
/// stamped with its index in its first 8 bytes, so reordered, repeated or lost chunks change the
/// digest. Cheap enough (a copy per chunk) that a debug build is not bottlenecked by generation.
#[derive(Clone, Debug)]
pub struct PatternStream {
    block: Vec<u8>,
    offset: usize,
    index: u64,
}

const PATTERN_BLOCK: usize = 1 << 20;

impl PatternStream {
    /// A stream for `seed`.
    pub fn new(seed: u64) -> PatternStream {
        let mut block = vec![0u8; PATTERN_BLOCK];
        PatternGen::new(seed).fill(&mut block);
        PatternStream {
            block,
            offset: 0,
            index: 0,
        }
    }

    /// Fills `buf` (at most 1 MiB) with the next chunk.
    pub fn next_chunk(&mut self, buf: &mut [u8]) {
        let n = buf.len().min(PATTERN_BLOCK);
        let first = n.min(PATTERN_BLOCK - self.offset);
        buf[..first].copy_from_slice(&self.block[self.offset..self.offset + first]);
        buf[first..n].copy_from_slice(&self.block[..n - first]);
        for (b, s) in buf.iter_mut().zip(self.index.to_le_bytes()) {
            *b ^= s;
        }
        self.offset = (self.offset + n) % PATTERN_BLOCK;
        self.index += 1;
    }
}

/// A deadline generous enough for `bytes` over a slow (debug-build) data plane: 30 s + 1 s/5 MB.
pub fn default_transfer_timeout(bytes: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_secs_f64(bytes as f64 / 5e6)
}

/// Sends `bytes` of deterministic data over TCP from `client_ns` to `server_ip:port` in `server_ns`
/// with socat on both ends, and reports sizes and SHA-256 digests of both sides.
///
/// Server: `socat -d -d -u TCP-LISTEN:port,reuseaddr,bind=IP STDOUT`; its stdout is hashed by
/// this process as it arrives. Readiness: socat's own `listening on` stderr line (`-d -d`), no
/// polling. Client: `socat -u STDIN TCP:IP:port,connect-timeout=5`, fed from a generator thread.
/// No files are written. The whole transfer is bounded by [`default_transfer_timeout`].
pub fn tcp_transfer(
    server_ns: &Netns,
    server_ip: IpAddr,
    port: u16,
    client_ns: &Netns,
    bytes: u64,
) -> Result<TransferResult> {
    tcp_transfer_timeout(
        server_ns,
        server_ip,
        port,
        client_ns,
        bytes,
        default_transfer_timeout(bytes),
    )
}

/// [`tcp_transfer`] with an explicit overall deadline; on expiry both socats are killed by PID.
pub fn tcp_transfer_timeout(
    server_ns: &Netns,
    server_ip: IpAddr,
    port: u16,
    client_ns: &Netns,
    bytes: u64,
    timeout: Duration,
) -> Result<TransferResult> {
    let deadline = Instant::now() + timeout;
    let (listen, connect) = match server_ip {
        IpAddr::V4(ip) => (
            format!("TCP4-LISTEN:{port},reuseaddr,bind={ip}"),
            format!("TCP4:{ip}:{port},connect-timeout=5"),
        ),
        IpAddr::V6(ip) => (
            format!("TCP6-LISTEN:{port},reuseaddr,bind=[{ip}]"),
            format!("TCP6:[{ip}]:{port},connect-timeout=5"),
        ),
    };
    let mut server = server_ns.spawn_with(
        &["socat", "-d", "-d", "-u", &listen, "STDOUT"],
        SpawnOpts {
            raw_stdout: true,
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )?;
    let mut sink = server
        .take_stdout()
        .ok_or_else(|| Error::parse("socat server", "stdout not piped"))?;
    let receiver = thread::spawn(move || -> std::io::Result<(u64, [u8; 32])> {
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = sink.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        Ok((total, hasher.finalize().into()))
    });
    server.wait_for_line(
        |s, l| s == Stream::Stderr && l.contains("listening on"),
        LISTEN_TIMEOUT.min(deadline.saturating_duration_since(Instant::now())),
    )?;

    let start = Instant::now();
    let mut client = client_ns.spawn_with(
        &["socat", "-u", "STDIN", &connect],
        SpawnOpts {
            stdin_pipe: true,
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )?;
    let mut pipe = client
        .take_stdin()
        .ok_or_else(|| Error::parse("socat client", "stdin not piped"))?;
    let sender = thread::spawn(move || -> std::io::Result<[u8; 32]> {
        let mut stream = PatternStream::new(bytes ^ 0x5eed);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            stream.next_chunk(&mut buf[..n]);
            hasher.update(&buf[..n]);
            pipe.write_all(&buf[..n])?;
            left -= n as u64;
        }
        // Dropping the pipe is the EOF that makes socat finish the connection.
        drop(pipe);
        Ok(hasher.finalize().into())
    });

    let left = deadline.saturating_duration_since(Instant::now());
    let server_status = server.wait_timeout(left);
    let elapsed = start.elapsed();
    let client_status = client.wait_timeout(
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1)),
    );
    if server_status.is_err() || client_status.is_err() {
        // Kill both (by PID) so the helper threads see EOF/EPIPE and can be joined.
        server.terminate(Duration::ZERO);
        client.terminate(Duration::ZERO);
    }
    let sent = sender.join();
    let received = receiver.join();
    let server_status = server_status?;
    let client_status = client_status?;
    let diag = || {
        format!(
            "server stderr: {}\nclient stderr: {}",
            last_lines(&server.stderr_text(), 10),
            last_lines(&client.stderr_text(), 10)
        )
    };
    if !client_status.success() || !server_status.success() {
        return Err(Error::Command {
            cmd: format!("socat transfer {} -> {server_ip}:{port}", client_ns.name()),
            status: format!("client {client_status}, server {server_status}"),
            stderr: diag(),
        });
    }
    let sha256_sent = match sent {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Err(Error::io(format!("feeding socat client; {}", diag()), e)),
        Err(_) => return Err(Error::parse("sender thread", "panicked")),
    };
    let (bytes_received, sha256_received) = match received {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(Error::io("reading socat server output", e)),
        Err(_) => return Err(Error::parse("receiver thread", "panicked")),
    };
    let result = TransferResult {
        bytes_sent: bytes,
        bytes_received,
        sha256_sent,
        sha256_received,
        elapsed,
    };
    tracing::info!(
        bytes,
        bytes_received,
        ?elapsed,
        gbps = result.gbps(),
        intact = result.intact(),
        "tcp transfer"
    );
    Ok(result)
}

/// Runs a one-off iperf3 test (`seconds` long) from `client_ns` to `server_ip` in `server_ns` and
/// returns the receiver-side throughput in Gbit/s.
///
/// Server: `iperf3 -s -1 -B IP -p 5201 --forceflush`; readiness is its `Server listening` stdout
/// line (`--forceflush` makes it arrive unbuffered). Client: `iperf3 -c IP -t N -J
/// --connect-timeout 5000`, parsed by [`parse_iperf3_json`]. Bounded by `seconds + 30 s`.
pub fn iperf3(
    server_ns: &Netns,
    server_ip: IpAddr,
    client_ns: &Netns,
    seconds: u32,
) -> Result<f64> {
    let ip = server_ip.to_string();
    let port = IPERF3_PORT.to_string();
    let mut server = server_ns.spawn_with(
        &["iperf3", "-s", "-1", "-B", &ip, "-p", &port, "--forceflush"],
        SpawnOpts {
            die_with_thread: true,
            ..SpawnOpts::default()
        },
    )?;
    server.wait_for_line(
        |s, l| s == Stream::Stdout && l.contains("Server listening"),
        LISTEN_TIMEOUT,
    )?;
    let secs = seconds.max(1).to_string();
    let timeout = Duration::from_secs(u64::from(seconds) + 30);
    let argv = [
        "iperf3",
        "-c",
        &ip,
        "-p",
        &port,
        "-t",
        &secs,
        "-J",
        "--connect-timeout",
        "5000",
    ];
    let out = client_ns.exec(&argv, timeout)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let gbps = parse_iperf3_json(&stdout).map_err(|e| match e {
        Error::Parse { what, detail } if !out.status.success() => Error::Parse {
            what,
            detail: format!(
                "{detail}; iperf3 exit {}; stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        },
        e => e,
    })?;
    if let Err(e) = server.wait_timeout(Duration::from_secs(5)) {
        tracing::warn!(%e, "iperf3 server did not exit after its one test");
    }
    tracing::info!(gbps, seconds, "iperf3");
    Ok(gbps)
}

/// Extracts `end.sum_received.bits_per_second` (as Gbit/s) from `iperf3 -J` output; an `error`
/// field becomes an error.
pub fn parse_iperf3_json(json: &str) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::parse("iperf3 -J output", format!("{e}: {}", last_lines(json, 5))))?;
    if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        return Err(Error::parse(
            "iperf3 -J output",
            format!("iperf3 error: {err}"),
        ));
    }
    v.pointer("/end/sum_received/bits_per_second")
        .and_then(|b| b.as_f64())
        .map(|bps| bps / 1e9)
        .ok_or_else(|| Error::parse("iperf3 -J output", "no end.sum_received.bits_per_second"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_deterministic_and_chunking_independent() {
        let mut a = PatternGen::new(7);
        let mut whole = vec![0u8; 1000];
        a.fill(&mut whole);
        let mut b = PatternGen::new(7);
        let mut first = vec![0u8; 1000];
        b.fill(&mut first);
        assert_eq!(whole, first);
        assert_ne!(whole, {
            let mut c = PatternGen::new(8);
            let mut v = vec![0u8; 1000];
            c.fill(&mut v);
            v
        });
        // Not all-zero, not constant.
        assert!(whole.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn pattern_stream_chunks_differ() {
        let mut s = PatternStream::new(1);
        let mut a = vec![0u8; CHUNK];
        let mut b = vec![0u8; CHUNK];
        s.next_chunk(&mut a);
        for _ in 0..(PATTERN_BLOCK / CHUNK - 1) {
            s.next_chunk(&mut b);
        }
        // One full block later the same bytes come round again, but with another stamp.
        s.next_chunk(&mut b);
        assert_ne!(a, b);
        assert_eq!(a[8..], b[8..]);
        let mut t = PatternStream::new(1);
        let mut c = vec![0u8; CHUNK];
        t.next_chunk(&mut c);
        assert_eq!(a, c, "deterministic");
    }

    #[test]
    fn iperf3_json() {
        let j = r#"{"start":{},"intervals":[],"end":{"sum_sent":{"bits_per_second":2.1e10},"sum_received":{"bits_per_second":20500000000.0}}}"#;
        assert!((parse_iperf3_json(j).unwrap() - 20.5).abs() < 1e-9);
        let e = r#"{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}"#;
        assert!(parse_iperf3_json(e)
            .unwrap_err()
            .to_string()
            .contains("Connection refused"));
        assert!(parse_iperf3_json("iperf3: error").is_err());
    }

    #[test]
    fn transfer_result_math() {
        let r = TransferResult {
            bytes_sent: 125_000_000,
            bytes_received: 125_000_000,
            sha256_sent: [1; 32],
            sha256_received: [1; 32],
            elapsed: Duration::from_secs(1),
        };
        assert!(r.intact());
        assert!((r.gbps() - 1.0).abs() < 1e-9);
        assert!(!TransferResult {
            sha256_received: [2; 32],
            ..r.clone()
        }
        .intact());
        assert!(!TransferResult {
            bytes_received: 1,
            ..r
        }
        .intact());
    }
}
