//! `vpcctl serve`: the test services of an internet host (`services = [...]`), run in
//! its namespace by `vpcctl up` and the test harness.
//!
//! - `http`: answers every request with `200` and one line naming the host and the
//!   client address and port it saw (`client saw 198.51.100.40:43512`), so a test can
//!   check what a gateway's translation looks like from the internet.
//! - `echo` over TCP sends back what it reads; over UDP, each datagram.
//! - `dns` (UDP): answers every A question with the host's first address (`--address`)
//!   and NXDOMAIN for names starting with `nx.`; other types get an empty NOERROR, what
//!   does not parse as a query gets nothing. Messages are hickory-proto's.
//!
//! Small by design: a thread per listener and per connection (at most
//! [`MAX_CONNECTIONS`] at once), bounded reads and timeouts. Request parsing is
//! `httparse`'s.

use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

use crate::model::{HostService, ServiceKind, ServiceProtocol};

/// Connections served at once, per service; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request head read.
const MAX_REQUEST: usize = 8192;
/// How long a connection may stay silent.
const IDLE: Duration = Duration::from_secs(30);

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A service specification did not parse.
    #[error("service `{0}`: expected KIND:PROTOCOL:PORT, KIND one of http, echo, dns; PROTOCOL tcp or udp (http: tcp only, dns: udp only); PORT 1..=65535")]
    Spec(String),
    /// A `dns` service was asked for without the address it answers with.
    #[error("service `{0}`: a dns service needs the address it answers with (--address)")]
    NoAddress(ServiceSpec),
    /// Binding the port failed.
    #[error("{spec}: cannot listen on port {port}: {source}")]
    Bind {
        /// The service.
        spec: ServiceSpec,
        /// The port.
        port: u16,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// One service as given on the command line: `http:tcp:80`, `echo:udp:7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpec(pub HostService);

impl From<HostService> for ServiceSpec {
    fn from(s: HostService) -> Self {
        ServiceSpec(s)
    }
}

impl fmt::Display for ServiceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.kind {
            ServiceKind::Http => "http",
            ServiceKind::Echo => "echo",
            ServiceKind::Dns => "dns",
        };
        write!(f, "{kind}:{}:{}", self.0.protocol().as_str(), self.0.port())
    }
}

impl FromStr for ServiceSpec {
    type Err = ServeError;
    fn from_str(s: &str) -> Result<Self, ServeError> {
        let bad = || ServeError::Spec(s.to_string());
        let mut it = s.split(':');
        let kind = match it.next() {
            Some("http") => ServiceKind::Http,
            Some("echo") => ServiceKind::Echo,
            Some("dns") => ServiceKind::Dns,
            _ => return Err(bad()),
        };
        let protocol = match it.next() {
            Some("tcp") if kind != ServiceKind::Dns => ServiceProtocol::Tcp,
            Some("udp") if kind != ServiceKind::Http => ServiceProtocol::Udp,
            _ => return Err(bad()),
        };
        let port = it
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|&p| p != 0)
            .ok_or_else(bad)?;
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(ServiceSpec(HostService {
            kind,
            protocol: Some(protocol),
            port: Some(port),
        }))
    }
}

/// Binds every service, calls `ready`, then serves until the process ends. `address`
/// is what a `dns` service answers with (the host's first address).
pub fn run(
    name: &str,
    specs: &[ServiceSpec],
    address: Option<Ipv4Addr>,
    ready: impl FnOnce(),
) -> Result<(), ServeError> {
    let mut threads = Vec::new();
    for &spec in specs {
        let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, spec.0.port()));
        let bind_err = |source| ServeError::Bind {
            spec,
            port: spec.0.port(),
            source,
        };
        let name = name.to_string();
        match (spec.0.protocol(), spec.0.kind) {
            (ServiceProtocol::Tcp, kind) => {
                let l = TcpListener::bind(any).map_err(bind_err)?;
                threads.push(thread::spawn(move || accept_loop(&l, kind, &name)));
            }
            (ServiceProtocol::Udp, ServiceKind::Dns) => {
                let answer = address.ok_or(ServeError::NoAddress(spec))?;
                let s = UdpSocket::bind(any).map_err(bind_err)?;
                threads.push(thread::spawn(move || udp_dns(&s, answer)));
            }
            (ServiceProtocol::Udp, _) => {
                let s = UdpSocket::bind(any).map_err(bind_err)?;
                threads.push(thread::spawn(move || udp_echo(&s)));
            }
        }
    }
    ready();
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// Accepts connections for one TCP service, each on a thread of its own.
fn accept_loop(l: &TcpListener, kind: ServiceKind, name: &str) {
    let live = Arc::new(AtomicUsize::new(0));
    for conn in l.incoming() {
        let Ok(stream) = conn else { continue };
        if live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            live.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("too many connections; closing one");
            continue;
        }
        let live = Arc::clone(&live);
        let name = name.to_string();
        thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(IDLE));
            let _ = stream.set_write_timeout(Some(IDLE));
            match kind {
                ServiceKind::Http => http(stream, &name),
                // (Validation and the spec parser keep dns off TCP.)
                ServiceKind::Echo | ServiceKind::Dns => tcp_echo(stream),
            }
            live.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Serves one HTTP request: `200` with the line `NAME saw IP:PORT`, or `400` for a
/// request that does not parse.
fn http(mut s: TcpStream, name: &str) {
    let Ok(peer) = s.peer_addr() else { return };
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut n = 0;
    let complete = loop {
        let Some(free) = buf.get_mut(n..).filter(|f| !f.is_empty()) else {
            break false;
        };
        match s.read(free) {
            Ok(0) | Err(_) => break false,
            Ok(k) => n += k,
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        match httparse::Request::new(&mut headers).parse(&buf[..n]) {
            Ok(httparse::Status::Complete(_)) => break true,
            Ok(httparse::Status::Partial) => continue,
            Err(_) => break false,
        }
    };
    let (status, body) = if complete {
        (
            "200 OK",
            format!("{name} saw {}:{}\n", peer.ip(), peer.port()),
        )
    } else {
        ("400 Bad Request", "bad request\n".to_string())
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Sends back what it reads until the client closes.
fn tcp_echo(s: TcpStream) {
    let Ok(mut w) = s.try_clone() else { return };
    let mut r = s;
    let _ = std::io::copy(&mut r, &mut w);
}

/// Sends each datagram back to where it came from.
fn udp_echo(s: &UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match s.recv_from(&mut buf) {
            Ok((n, from)) => {
                let _ = s.send_to(&buf[..n], from);
            }
            Err(e) => tracing::warn!(error = %e, "udp echo"),
        }
    }
}

/// Answers each DNS query on `s` ([`dns_answer`]).
fn udp_dns(s: &UdpSocket, address: Ipv4Addr) {
    let mut buf = vec![0u8; 4096];
    loop {
        match s.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Some(reply) = buf.get(..n).and_then(|q| dns_answer(q, address)) {
                    let _ = s.send_to(&reply, from);
                }
            }
            Err(e) => tracing::warn!(error = %e, "dns"),
        }
    }
}

/// The answer to the DNS query `query`: every A question gets `address` (TTL 60), a
/// name starting with `nx.` NXDOMAIN, another type an empty NOERROR; `None` for what is
/// not a query with one question.
pub fn dns_answer(query: &[u8], address: Ipv4Addr) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    if q.metadata.message_type != MessageType::Query || q.metadata.op_code != OpCode::Query {
        return None;
    }
    let [question] = q.queries.as_slice() else {
        return None;
    };
    let mut out = Message::response(q.metadata.id, OpCode::Query);
    out.metadata.recursion_desired = q.metadata.recursion_desired;
    out.metadata.recursion_available = true;
    out.add_query(question.clone());
    let name = question.name();
    let nx = name
        .iter()
        .next()
        .is_some_and(|l| l.eq_ignore_ascii_case(b"nx"));
    if nx {
        out.metadata.response_code = ResponseCode::NXDomain;
    } else if question.query_type() == RecordType::A {
        out.add_answer(Record::from_rdata(name.clone(), 60, RData::A(A(address))));
    }
    out.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_reject_nonsense() {
        for s in ["http:tcp:80", "echo:tcp:7", "echo:udp:5353", "dns:udp:53"] {
            assert_eq!(s.parse::<ServiceSpec>().unwrap().to_string(), s);
        }
        for s in [
            "http:udp:80",
            "ftp:tcp:21",
            "echo:tcp:0",
            "echo:tcp",
            "echo:tcp:7:1",
            "echo:sctp:7",
            "echo:tcp:70000",
            "dns:tcp:53",
        ] {
            assert!(s.parse::<ServiceSpec>().is_err(), "{s}");
        }
    }

    #[test]
    fn http_names_the_host_and_the_client_it_saw() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        thread::spawn(move || accept_loop(&l, ServiceKind::Http, "server"));
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let me = c.local_addr().unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(
            out.ends_with(&format!("\r\n\r\nserver saw 127.0.0.1:{}\n", me.port())),
            "{out}"
        );

        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"\x00\x01 nonsense\r\n\r\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request"), "{out}");
    }

    #[test]
    fn echo_sends_back_over_tcp_and_udp() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        thread::spawn(move || accept_loop(&l, ServiceKind::Echo, "e"));
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");

        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        thread::spawn(move || udp_echo(&s));
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.send_to(b"ping", addr).unwrap();
        let mut got = [0u8; 16];
        let (n, from) = c.recv_from(&mut got).unwrap();
        assert_eq!((&got[..n], from), (&b"ping"[..], addr));
    }

    #[test]
    fn dns_answers_a_with_the_address_nx_names_nxdomain_and_ignores_nonsense() {
        use hickory_proto::rr::Name;
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        let me = Ipv4Addr::new(203, 0, 113, 53);
        thread::spawn(move || udp_dns(&s, me));
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let ask = |name: &str, t: RecordType| {
            let mut m = Message::query();
            m.metadata.id = 77;
            m.add_query(hickory_proto::op::Query::query(
                Name::from_ascii(name).unwrap(),
                t,
            ));
            c.send_to(&m.to_vec().unwrap(), addr).unwrap();
            let mut buf = [0u8; 1500];
            let n = c.recv(&mut buf).unwrap();
            Message::from_vec(&buf[..n]).unwrap()
        };
        let m = ask("www.example.com.", RecordType::A);
        assert_eq!(m.metadata.id, 77);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(matches!(&m.answers[..], [r] if r.data == RData::A(A(me))));
        let m = ask("nx.example.com.", RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.answers.is_empty());
        let m = ask("www.example.com.", RecordType::AAAA);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert_eq!(dns_answer(b"nonsense", me), None);
    }
}
