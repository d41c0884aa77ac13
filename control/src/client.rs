//! A client for `vpcd`'s control socket: one JSON line request, one JSON line response
//! per connection (see [`dataplane::daemon::proto`]).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dataplane::daemon::proto::{ProtoError, Request, Response};
use dataplane::observe::stats::StatsReport;
use dataplane::observe::trace::{TraceReport, TraceSpec};
use dataplane::vpc::config::DataplaneConfig;

/// Where `vpcd` listens unless told otherwise (`--socket PATH` or env `VPCD_SOCKET`).
pub const DEFAULT_SOCKET: &str = "/run/vpcd/vpcd.sock";

/// The environment variable that overrides [`DEFAULT_SOCKET`].
pub const SOCKET_ENV: &str = "VPCD_SOCKET";

/// How long to wait for `vpcd`'s answer (an apply creates TAP devices, which takes a while).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request to `vpcd` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing accepts connections on the socket.
    #[error("cannot connect to vpcd at {} (is vpcd running? start it with `vpcctl up FILE`)", socket.display())]
    NotRunning {
        /// The socket path.
        socket: PathBuf,
        /// The connect error.
        #[source]
        source: std::io::Error,
    },
    /// The socket exists but this user may not use it (vpcd's socket is mode 0600).
    #[error("permission denied on vpcd's control socket {} (mode 0600, only vpcd's user may use it): run vpcctl as that user (usually root)", socket.display())]
    PermissionDenied {
        /// The socket path.
        socket: PathBuf,
        /// The connect error.
        #[source]
        source: std::io::Error,
    },
    /// vpcd did not answer in time.
    #[error("vpcd at {} did not answer within {secs} s; see its log (vpcd.log next to the socket)", socket.display())]
    Timeout {
        /// The socket path.
        socket: PathBuf,
        /// The time waited.
        secs: u64,
    },
    /// vpcd speaks another protocol version.
    #[error("vpcd answered in {0}")]
    Version(String),
    /// Reading or writing the socket failed.
    #[error("talking to vpcd at {}", socket.display())]
    Io {
        /// The socket path.
        socket: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// vpcd closed the connection without answering.
    #[error("vpcd at {} closed the connection without an answer; see its log (vpcd.log next to the socket)", socket.display())]
    NoResponse {
        /// The socket path.
        socket: PathBuf,
    },
    /// The answer is not valid protocol JSON.
    #[error("malformed protocol message (are vpcctl and vpcd from the same build?)")]
    Protocol {
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// vpcd refused the request; the running configuration is unchanged.
    #[error("vpcd rejected the request:\n{}", .0.join("\n"))]
    Rejected(Vec<String>),
    /// vpcd answered with a response that does not fit the request.
    #[error("vpcd answered `{0}`, which does not fit the request; are vpcctl and vpcd from the same build?")]
    Unexpected(String),
}

impl ClientError {
    /// Whether the error means that vpcd is not running (nothing listens on the socket).
    pub fn is_not_running(&self) -> bool {
        matches!(self, ClientError::NotRunning { .. })
    }
}

/// Sends one request and reads its response.
pub fn request(socket: &Path, req: &Request) -> Result<Response, ClientError> {
    let io = |source| ClientError::Io {
        socket: socket.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| {
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            ClientError::PermissionDenied {
                socket: socket.to_path_buf(),
                source,
            }
        } else {
            ClientError::NotRunning {
                socket: socket.to_path_buf(),
                source,
            }
        }
    })?;
    stream
        .set_read_timeout(Some(RESPONSE_TIMEOUT))
        .map_err(io)?;
    let mut line = dataplane::daemon::proto::encode_request(req)
        .map_err(|source| ClientError::Protocol { source })?
        .into_bytes();
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    stream.flush().map_err(io)?;
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    let n = reader.read_line(&mut answer).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ClientError::Timeout {
            socket: socket.to_path_buf(),
            secs: RESPONSE_TIMEOUT.as_secs(),
        },
        _ => io(e),
    })?;
    if n == 0 || answer.trim().is_empty() {
        return Err(ClientError::NoResponse {
            socket: socket.to_path_buf(),
        });
    }
    dataplane::daemon::proto::decode_response(answer.trim_end().as_bytes()).map_err(|e| match e {
        ProtoError::Malformed(source) => ClientError::Protocol { source },
        ProtoError::Version { .. } => ClientError::Version(e.to_string()),
    })
}

/// A short name of a response, for [`ClientError::Unexpected`].
fn describe(resp: &Response) -> String {
    match resp {
        Response::Applied { epoch, .. } => format!("applied (epoch {epoch})"),
        Response::Rejected { .. } => "rejected".to_string(),
        Response::State(_) => "state".to_string(),
        Response::Trace(_) => "trace".to_string(),
        Response::Ok => "ok".to_string(),
    }
}

/// A committed apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The epoch the new configuration runs under.
    pub epoch: u64,
    /// Problems found after the commit (the configuration runs regardless; the next apply
    /// retries the attachments named here).
    pub warnings: Vec<String>,
}

/// Replaces the running configuration; returns the new epoch and any post-commit warnings.
pub fn apply(socket: &Path, config: &DataplaneConfig) -> Result<Applied, ClientError> {
    match request(
        socket,
        &Request::Apply {
            config: Box::new(config.clone()),
        },
    )? {
        Response::Applied { epoch, warnings } => Ok(Applied { epoch, warnings }),
        Response::Rejected { errors } => Err(ClientError::Rejected(errors)),
        other => Err(ClientError::Unexpected(describe(&other))),
    }
}

/// Fetches the running configuration, ports and counters.
pub fn show(socket: &Path) -> Result<StatsReport, ClientError> {
    match request(socket, &Request::Show)? {
        Response::State(report) => Ok(*report),
        Response::Rejected { errors } => Err(ClientError::Rejected(errors)),
        other => Err(ClientError::Unexpected(describe(&other))),
    }
}

/// Traces a described packet through the running pipeline (nothing changes).
pub fn trace(socket: &Path, spec: &TraceSpec) -> Result<TraceReport, ClientError> {
    match request(socket, &Request::Trace { spec: spec.clone() })? {
        Response::Trace(report) => Ok(*report),
        Response::Rejected { errors } => Err(ClientError::Rejected(errors)),
        other => Err(ClientError::Unexpected(describe(&other))),
    }
}

/// Asks vpcd to remove its TAPs and exit.
pub fn shutdown(socket: &Path) -> Result<(), ClientError> {
    match request(socket, &Request::Shutdown)? {
        Response::Ok => Ok(()),
        Response::Rejected { errors } => Err(ClientError::Rejected(errors)),
        other => Err(ClientError::Unexpected(describe(&other))),
    }
}

/// Whether something accepts connections on the socket.
pub fn is_listening(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::thread;

    fn temp_socket(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vpcctl-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("s.sock")
    }

    /// A one-shot fake vpcd that answers `answer` and returns the request it got.
    fn fake_vpcd(socket: &Path, answer: &'static str) -> thread::JoinHandle<String> {
        let listener = UnixListener::bind(socket).unwrap();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut w = stream;
            w.write_all(answer.as_bytes()).unwrap();
            line
        })
    }

    #[test]
    fn connect_failure_says_what_to_do() {
        let socket = temp_socket("none");
        let err = show(&socket).unwrap_err();
        assert!(err.is_not_running());
        let msg = err.to_string();
        assert!(
            msg.contains("is vpcd running? start it with `vpcctl up FILE`"),
            "{msg}"
        );
    }

    #[test]
    fn apply_returns_epoch() {
        let socket = temp_socket("apply");
        let h = fake_vpcd(
            &socket,
            "{\"version\":1,\"status\":\"applied\",\"epoch\":7}\n",
        );
        let applied = apply(&socket, &DataplaneConfig::default()).unwrap();
        assert_eq!(
            applied,
            Applied {
                epoch: 7,
                warnings: vec![]
            }
        );
        let req = h.join().unwrap();
        assert!(req.starts_with("{\"version\":1,\"op\":\"apply\""), "{req}");
        assert!(req.ends_with('\n'));
    }

    #[test]
    fn rejection_carries_errors() {
        let socket = temp_socket("reject");
        let h = fake_vpcd(
            &socket,
            "{\"version\":1,\"status\":\"rejected\",\"errors\":[\"a\",\"b\"]}\n",
        );
        match apply(&socket, &DataplaneConfig::default()) {
            Err(ClientError::Rejected(e)) => assert_eq!(e, vec!["a", "b"]),
            other => panic!("{other:?}"),
        }
        h.join().unwrap();
    }

    #[test]
    fn shutdown_ok_and_garbage() {
        let socket = temp_socket("shutdown");
        let h = fake_vpcd(&socket, "{\"version\":1,\"status\":\"ok\"}\n");
        shutdown(&socket).unwrap();
        h.join().unwrap();

        let socket = temp_socket("garbage");
        let h = fake_vpcd(&socket, "not json\n");
        assert!(matches!(
            shutdown(&socket),
            Err(ClientError::Protocol { .. })
        ));
        h.join().unwrap();

        let socket = temp_socket("empty");
        let h = fake_vpcd(&socket, "");
        assert!(matches!(
            shutdown(&socket),
            Err(ClientError::NoResponse { .. })
        ));
        h.join().unwrap();
    }

    #[test]
    fn show_unwraps_state() {
        let socket = temp_socket("show");
        let report = StatsReport {
            workers: Vec::new(),
            epoch: 3,
            config: DataplaneConfig::default(),
            enis: vec![],
            engine: Default::default(),
            nacl_denies: vec![],
            uplinks: vec![],
            nat_gateways: vec![],
            captures: vec![],
            mirror_sessions: vec![],
        };
        let answer = dataplane::daemon::proto::encode_response(&Response::State(Box::new(report)))
            .unwrap()
            + "\n";
        let answer: &'static str = Box::leak(answer.into_boxed_str());
        let h = fake_vpcd(&socket, answer);
        assert_eq!(show(&socket).unwrap().epoch, 3);
        h.join().unwrap();
    }
}
