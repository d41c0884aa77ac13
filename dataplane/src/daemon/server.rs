//! The control socket: every client on a thread of its own with a deadline for its whole
//! request, applies serialised behind the control state's lock, `show` and `trace`
//! answered without it; and the restore of a saved configuration at start.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{state, Cmd, ControlState, Forwarder, GONE};
use crate::daemon::proto::{self, Request, Response};
use crate::engine::steer::{flow_hash, worker_of};

/// Largest request accepted on the socket.
const MAX_REQUEST: u64 = 64 << 20;
/// How long a client has to send its whole request.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Clients served at once; more are told that vpcd is busy.
const MAX_CLIENTS: usize = 32;

/// Applies the configuration saved at `path` by an earlier vpcd (after a crash or a
/// restart), before the socket serves anyone; a missing file is a first start, a bad one
/// is logged and left for the next apply to replace.
pub(super) fn restore(path: &Path, state: &Mutex<ControlState>, fwd: &Forwarder) {
    let config = match state::load(path) {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(%e, "not restoring the saved configuration");
            return;
        }
    };
    let Ok(mut st) = state.lock() else { return };
    match st.apply(config, fwd) {
        Response::Applied { epoch, warnings } => {
            tracing::info!(epoch, path = %path.display(), ?warnings, "saved configuration restored")
        }
        Response::Rejected { errors } => {
            tracing::error!(?errors, path = %path.display(), "saved configuration refused")
        }
        _ => {}
    }
}

/// Serves the control socket until a shutdown request: every client on a thread of its
/// own (at most [`MAX_CLIENTS`] at once), so a slow or idle client delays nobody; applies
/// take the control state's lock one at a time, `show` and `trace` need no lock.
pub(super) fn serve(
    listener: &UnixListener,
    path: &Path,
    state: &Mutex<ControlState>,
    fwd: &Forwarder,
) {
    let stop = AtomicBool::new(false);
    let clients = AtomicUsize::new(0);
    let me = nix::unistd::getuid().as_raw();
    thread::scope(|scope| {
        for conn in listener.incoming() {
            if stop.load(Ordering::Acquire) {
                break;
            }
            let Ok(mut conn) = conn else { continue };
            // The socket is mode 0600; root could still connect to another user's: only
            // our own user (or root) may drive this vpcd.
            if let Some(uid) = peer_uid(&conn) {
                if uid != me && uid != 0 {
                    let e = format!(
                        "permission denied: this vpcd runs as uid {me} and accepts requests \
                         from that user or root only (you are uid {uid})"
                    );
                    let _ = write_response(&mut conn, &Response::Rejected { errors: vec![e] });
                    continue;
                }
            }
            if clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                clients.fetch_sub(1, Ordering::AcqRel);
                let e = format!("vpcd is busy: {MAX_CLIENTS} clients are connected; try again");
                let _ = write_response(&mut conn, &Response::Rejected { errors: vec![e] });
                continue;
            }
            let (stop, clients) = (&stop, &clients);
            let spawned = thread::Builder::new()
                .name("control-client".into())
                .spawn_scoped(scope, move || {
                    if serve_client(conn, state, fwd) {
                        stop.store(true, Ordering::Release);
                        // Wake the accept loop so that it sees the flag.
                        let _ = UnixStream::connect(path);
                    }
                    clients.fetch_sub(1, Ordering::AcqRel);
                });
            if let Err(e) = spawned {
                clients.fetch_sub(1, Ordering::AcqRel);
                tracing::error!(%e, "cannot start a control client thread");
            }
        }
    });
}

/// One client: reads its request within [`REQUEST_DEADLINE`], answers it. Returns whether
/// it asked for a shutdown.
fn serve_client(mut conn: UnixStream, state: &Mutex<ControlState>, fwd: &Forwarder) -> bool {
    let req = match read_request(&mut conn, REQUEST_DEADLINE) {
        Ok(r) => r,
        Err(e) => {
            let _ = write_response(&mut conn, &Response::Rejected { errors: vec![e] });
            return false;
        }
    };
    let stop = matches!(req, Request::Shutdown);
    let resp = match req {
        Request::Apply { config } => match state.lock() {
            Ok(mut st) => st.apply(*config, fwd),
            Err(_) => Response::Rejected {
                errors: vec!["vpcd's control state is poisoned; restart vpcd".into()],
            },
        },
        other => handle(other, fwd),
    };
    let _ = conn.set_write_timeout(Some(REQUEST_DEADLINE));
    let _ = write_response(&mut conn, &resp);
    stop
}

/// The uid of the process at the other end of `conn` (`SO_PEERCRED`).
fn peer_uid(conn: &UnixStream) -> Option<u32> {
    nix::sys::socket::getsockopt(conn, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.uid())
}

/// Reads one request line: the whole of it within `deadline` (not per read, so a client
/// that drips a byte at a time is cut off), at most [`MAX_REQUEST`] bytes, in the
/// protocol version of this build ([`proto::VERSION`]).
fn read_request(conn: &mut UnixStream, deadline: Duration) -> Result<Request, String> {
    let until = Instant::now() + deadline;
    let mut line = Vec::new();
    let mut chunk = [0u8; 64 << 10];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "request not complete within {} s; closing the connection",
                deadline.as_secs()
            ));
        }
        conn.set_read_timeout(Some(left))
            .map_err(|e| format!("reading request: {e}"))?;
        let n = match conn.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(format!("reading request: {e}")),
        };
        if n == 0 {
            return Err("the client closed the connection before a whole request".into());
        }
        let got = &chunk[..n];
        let end = got.iter().position(|&b| b == b'\n');
        line.extend_from_slice(&got[..end.unwrap_or(n)]);
        if line.len() as u64 > MAX_REQUEST {
            return Err(format!(
                "request larger than {} MiB; refused",
                MAX_REQUEST >> 20
            ));
        }
        if end.is_some() {
            break;
        }
    }
    proto::decode_request(&line)
}

fn write_response(conn: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut s = proto::encode_response(r).map_err(std::io::Error::other)?;
    s.push('\n');
    conn.write_all(s.as_bytes())
}

/// Answers a request that needs no control state (everything but an apply).
fn handle(req: Request, fwd: &Forwarder) -> Response {
    match req {
        Request::Apply { .. } => Response::Rejected {
            errors: vec!["internal: an apply takes the control state".into()],
        },
        Request::Show => match fwd.report() {
            Some(r) => Response::State(Box::new(r)),
            None => Response::Rejected {
                errors: vec![GONE.into()],
            },
        },
        Request::Trace { spec } => {
            let (tx, rx) = mpsc::channel();
            // The worker that owns the traced flow (and its tracked connection).
            let (proto, a, b) = crate::datapath::trace_flow(&spec);
            let w = worker_of(flow_hash(proto, a, b), fwd.workers());
            if !fwd.send(w, Cmd::Trace { spec, reply: tx }) {
                return Response::Rejected {
                    errors: vec![GONE.into()],
                };
            }
            match rx.recv() {
                Ok(Ok(r)) => Response::Trace(Box::new(r)),
                Ok(Err(e)) => Response::Rejected { errors: vec![e] },
                Err(_) => Response::Rejected {
                    errors: vec![GONE.into()],
                },
            }
        }
        Request::Shutdown => Response::Ok,
    }
}
