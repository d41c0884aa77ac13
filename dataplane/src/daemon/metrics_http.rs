//! The opt-in metrics endpoint of `vpcd --metrics ADDR:PORT`: a small HTTP/1.1 server on
//! its own thread that answers `GET /metrics` with [`crate::observe::metrics::render`] of a fresh
//! report (asked from the forwarding thread like `vpcctl show` does), 404 for any other
//! path. One request per connection, served one connection at a time, each with a read
//! and write deadline; the thread stops (and is joined) when the server is dropped.
//!
//! Requests are parsed by `httparse` (hyper's parser). The connection handling stays
//! here: a crate server such as `tiny_http` keeps HTTP/1.1 connections alive (it drops a
//! `Connection: close` response header), has no read deadline nor head-size limit, and
//! does not close its listener when stopped, all of which this endpoint promises.
//!
//! Loopback only unless explicitly allowed ([`check_addr`]): the counters describe the
//! whole topology and are nobody else's business by default.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::observe::stats::StatsReport;
use crate::sys::epoll::{Epoll, Events};

/// How long a client may take to send its request, and to take the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 64;

const LISTEN_TOKEN: u64 = 0;
const STOP_TOKEN: u64 = 1;
const CONN_TOKEN: u64 = 2;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A non-loopback address without `--metrics-allow-remote`.
    #[error(
        "refusing to serve metrics on {0}: not a loopback address (use 127.0.0.1 or [::1], \
         or pass --metrics-allow-remote to expose the counters to the network)"
    )]
    NotLoopback(SocketAddr),
    /// Binding or thread setup failed.
    #[error("metrics endpoint {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Whether `addr` may be served: loopback addresses always, others only when
/// `allow_remote` (the unspecified address `0.0.0.0`/`[::]` is not loopback).
pub fn check_addr(addr: SocketAddr, allow_remote: bool) -> Result<(), MetricsError> {
    let ip = match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(MetricsError::NotLoopback(addr))
    }
}

/// Parses `ADDR:PORT` (`127.0.0.1:9100`, `[::1]:9100`) or `localhost:PORT`.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Some(port) = s.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{s}`: bad port `{port}`"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|_| {
        format!("`{s}` is not ADDR:PORT (for example 127.0.0.1:9100, [::1]:9100, localhost:9100)")
    })
}

/// A running metrics endpoint; dropping it stops and joins its thread.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: UnixStream,
    thread: Option<thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Checks `addr` ([`check_addr`]), binds it and serves on a new thread; `report`
    /// fetches a fresh report (`None`: the data plane is gone, answered with 503).
    pub fn start(
        addr: SocketAddr,
        allow_remote: bool,
        report: impl Fn() -> Option<StatsReport> + Send + 'static,
    ) -> Result<MetricsServer, MetricsError> {
        check_addr(addr, allow_remote)?;
        let io = |source| MetricsError::Io { addr, source };
        let listener = TcpListener::bind(addr).map_err(io)?;
        let local = listener.local_addr().map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let (stop, stop_rx) = UnixStream::pair().map_err(io)?;
        let epoll = Epoll::new().map_err(io)?;
        epoll.add(listener.as_raw_fd(), LISTEN_TOKEN).map_err(io)?;
        epoll.add(stop_rx.as_raw_fd(), STOP_TOKEN).map_err(io)?;
        // The connection being read waits here, with the stop signal but not the listener
        // (level-triggered, a waiting second client would wake it again and again).
        let conn_epoll = Epoll::new().map_err(io)?;
        conn_epoll
            .add(stop_rx.as_raw_fd(), STOP_TOKEN)
            .map_err(io)?;
        let thread = thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(listener, epoll, conn_epoll, stop_rx, report))
            .map_err(io)?;
        tracing::info!(addr = %local, "metrics endpoint listening");
        Ok(MetricsServer {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on (with the port the OS chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of the metrics page.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Stops the thread and waits for it (also while a client is still sending its request;
    /// an answer being written finishes first, within [`IO_TIMEOUT`]).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.write_all(&[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(
    listener: TcpListener,
    epoll: Epoll,
    conn_epoll: Epoll,
    _stop: UnixStream,
    report: impl Fn() -> Option<StatsReport>,
) {
    let mut events = Events::with_capacity(4);
    loop {
        if let Err(e) = epoll.wait(&mut events, -1) {
            tracing::error!(%e, "metrics endpoint: epoll_wait failed; it stops");
            return;
        }
        for i in 0..events.len() {
            match events.token(i) {
                Some(STOP_TOKEN) => return,
                Some(LISTEN_TOKEN) => loop {
                    match listener.accept() {
                        Ok((conn, peer)) => match handle(conn, &conn_epoll, &report) {
                            Ok(Served::Done) => {}
                            Ok(Served::Stop) => return,
                            Err(e) => tracing::debug!(%peer, %e, "metrics request failed"),
                        },
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            tracing::warn!(%e, "metrics endpoint: accept failed");
                            break;
                        }
                    }
                },
                _ => {}
            }
        }
    }
}

/// How a connection ended.
enum Served {
    /// Answered (or given up on).
    Done,
    /// The server was told to stop while the client was still sending.
    Stop,
}

/// A request head, as far as the endpoint cares.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// A well-formed HTTP/1.x request line and headers.
    Request {
        /// The method.
        method: String,
        /// The target without its query.
        path: String,
    },
    /// Not HTTP/1.x.
    Bad,
    /// Over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] headers.
    TooLarge,
}

/// Parses what was read so far (`None`: the head is not complete yet).
fn parse_head(buf: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {
            let (Some(method), Some(target)) = (req.method, req.path) else {
                return Some(Head::Bad);
            };
            let path = target.split('?').next().unwrap_or(target);
            Some(Head::Request {
                method: method.to_string(),
                path: path.to_string(),
            })
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Some(Head::TooLarge),
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(Head::TooLarge),
        Err(_) => Some(Head::Bad),
    }
}

/// Reads the request head of a non-blocking `conn` (registered in `epoll` as
/// [`CONN_TOKEN`]) until it parses, within [`IO_TIMEOUT`]. `None` when the server is told
/// to stop meanwhile.
fn read_head(conn: &mut TcpStream, epoll: &Epoll) -> io::Result<Option<Head>> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let mut events = Events::with_capacity(4);
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
                epoll.wait(&mut events, ms)?;
                if (0..events.len()).any(|i| events.token(i) == Some(STOP_TOKEN)) {
                    return Ok(None);
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&buf[..n]);
        if let Some(h) = parse_head(&head) {
            return Ok(Some(h));
        }
    }
}

/// What to answer: status, body, and whether to send the body (not for `HEAD`).
fn respond(head: Head, report: &impl Fn() -> Option<StatsReport>) -> (&'static str, String, bool) {
    let text = |status, body: &str| (status, format!("{body}\n"), true);
    let (method, path) = match head {
        Head::Request { method, path } => (method, path),
        Head::Bad => return text("400 Bad Request", "bad request"),
        Head::TooLarge => return text("431 Request Header Fields Too Large", "too large"),
    };
    if path != "/metrics" {
        return text("404 Not Found", "not found; the metrics are at /metrics");
    }
    let head_only = match method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => return text("405 Method Not Allowed", "only GET and HEAD"),
    };
    match report() {
        Some(r) => ("200 OK", crate::observe::metrics::render(&r), !head_only),
        None => text(
            "503 Service Unavailable",
            "the forwarding thread is gone; restart vpcd",
        ),
    }
}

fn handle(
    mut conn: TcpStream,
    epoll: &Epoll,
    report: &impl Fn() -> Option<StatsReport>,
) -> io::Result<Served> {
    conn.set_nonblocking(true)?;
    epoll.add(conn.as_raw_fd(), CONN_TOKEN)?;
    let head = read_head(&mut conn, epoll);
    let _ = epoll.delete(conn.as_raw_fd());
    let (status, body, send_body) = match head {
        Ok(Some(head)) => respond(head, report),
        Ok(None) => return Ok(Served::Stop),
        Err(e) => return Err(e),
    };
    conn.set_nonblocking(false)?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let content_type = if status.starts_with("200") {
        crate::observe::metrics::CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut extra = "";
    if status.starts_with("405") {
        extra = "Allow: GET, HEAD\r\n";
    }
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    if send_body {
        conn.write_all(body.as_bytes())?;
    }
    conn.flush()?;
    let _ = conn.shutdown(std::net::Shutdown::Write);
    Ok(Served::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn report(epoch: u64) -> StatsReport {
        StatsReport {
            workers: Vec::new(),
            epoch,
            config: Default::default(),
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        }
    }

    fn ask(addr: SocketAddr, request: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    fn loopback() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[test]
    fn serves_metrics_and_404_and_stops() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let srv = MetricsServer::start(loopback(), false, move || {
            Some(report(40 + c.fetch_add(1, Ordering::SeqCst)))
        })
        .unwrap();
        let addr = srv.local_addr();
        assert_ne!(addr.port(), 0);
        assert_eq!(srv.url(), format!("http://{addr}/metrics"));

        let r = ask(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(
            r.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            "{r}"
        );
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(body.contains("vpcd_config_epoch 40\n"), "{body}");
        // Fresh each time.
        let r = ask(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
        assert!(r.contains("vpcd_config_epoch 41\n"), "{r}");

        let r = ask(addr, "HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\n"), "no body for HEAD: {r}");

        for path in ["/", "/metricsx", "/favicon.ico"] {
            let r = ask(addr, &format!("GET {path} HTTP/1.1\r\n\r\n"));
            assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{path}: {r}");
        }
        let r = ask(addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 405 "), "{r}");
        assert!(r.contains("Allow: GET, HEAD\r\n"), "{r}");
        let r = ask(addr, "nonsense\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
        let r = ask(
            addr,
            &format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD + 10)),
        );
        assert!(r.starts_with("HTTP/1.1 431 "), "{r}");

        let t = Instant::now();
        srv.stop();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(
            TcpStream::connect(addr).is_err(),
            "the listener closed with the thread"
        );
    }

    #[test]
    fn a_silent_client_does_not_block_stop_forever_and_gone_data_plane_is_503() {
        let srv = MetricsServer::start(loopback(), false, || None).unwrap();
        let addr = srv.local_addr();
        let r = ask(addr, "GET /metrics HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
        // A client that connects and says nothing is dropped after IO_TIMEOUT.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.set_read_timeout(Some(IO_TIMEOUT * 3)).unwrap();
        let t = Instant::now();
        let mut buf = Vec::new();
        let _ = idle.read_to_end(&mut buf);
        let waited = t.elapsed();
        assert!(
            waited >= IO_TIMEOUT - Duration::from_millis(100) && waited < IO_TIMEOUT * 2,
            "{waited:?}"
        );
        // Nor does one keep the server from stopping.
        let _silent = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        drop(srv);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(TcpStream::connect(addr).is_err());
    }

    #[test]
    fn only_loopback_unless_allowed() {
        for ok in [
            "127.0.0.1:9100",
            "127.8.9.1:1",
            "[::1]:9100",
            "[::ffff:127.0.0.1]:80",
        ] {
            check_addr(ok.parse().unwrap(), false).unwrap();
        }
        for bad in [
            "0.0.0.0:9100",
            "[::]:9100",
            "192.0.2.1:9100",
            "[2001:db8::1]:1",
        ] {
            let a: SocketAddr = bad.parse().unwrap();
            let e = check_addr(a, false).unwrap_err();
            assert!(e.to_string().contains("--metrics-allow-remote"), "{e}");
            check_addr(a, true).unwrap();
        }
        assert!(matches!(
            MetricsServer::start("0.0.0.0:0".parse().unwrap(), false, || None),
            Err(MetricsError::NotLoopback(_))
        ));
    }

    #[test]
    fn heads_parse_with_httparse() {
        let req = |m: &str, p: &str| {
            Some(Head::Request {
                method: m.into(),
                path: p.into(),
            })
        };
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            req("GET", "/metrics")
        );
        assert_eq!(
            parse_head(b"HEAD /metrics?x=1 HTTP/1.0\n\n"),
            req("HEAD", "/metrics")
        );
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            parse_head(b"GET /metrics HTTP/2.0\r\n\r\n"),
            Some(Head::Bad)
        );
        assert_eq!(parse_head(b"nonsense\r\n\r\n"), Some(Head::Bad));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            parse_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            Some(Head::TooLarge)
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse_head(long.as_bytes()), Some(Head::TooLarge));
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(
            parse_addr("localhost:9100").unwrap(),
            "127.0.0.1:9100".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_addr("[::1]:0").unwrap(),
            "[::1]:0".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_addr("9100").is_err());
        assert!(parse_addr("localhost:x").is_err());
        assert!(parse_addr("example.com:80").is_err());
    }
}
