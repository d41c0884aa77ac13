//! The control socket under hostile or clumsy clients (VPC-13): a real `vpcd`, raw socket
//! clients and the real `vpcctl`.
//!
//! - a client that drips its request a byte at a time and one that sends nothing delay
//!   nobody: `show` answers at once while they hang, and the dripping one is cut off at
//!   the whole-request deadline with a message;
//! - an oversized request, garbage, and a request of another protocol version each get
//!   an error that says what is wrong, and vpcd keeps serving;
//! - two applies at once are serialised (both commit, one epoch after the other);
//! - another user is refused with a message that says so.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use dataplane::daemon::proto::{decode_response, Response};
use dataplane::vpc::config::DataplaneConfig;
use testbeds::{RunPrefix, Vpcctl, Vpcd};

/// The response to what was written on `conn` (waits up to `timeout`).
fn answer(conn: UnixStream, timeout: Duration) -> Response {
    conn.set_read_timeout(Some(timeout)).unwrap();
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).unwrap();
    decode_response(line.trim_end().as_bytes()).unwrap()
}

fn rejected(r: Response) -> String {
    match r {
        Response::Rejected { errors } => errors.join("\n"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn show_takes(socket: &Path) -> Duration {
    let t = Instant::now();
    control::client::show(socket).unwrap();
    t.elapsed()
}

#[test]
fn slow_idle_oversized_and_garbage_clients_delay_nobody_and_get_errors() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let vpcd = Vpcd::start(&prefix).unwrap();
    let socket = vpcd.socket_path().to_path_buf();

    // Four idle clients and one that drips a byte a second.
    let idle: Vec<UnixStream> = (0..4)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    let drip_socket = socket.clone();
    let drip = std::thread::spawn(move || {
        let mut c = UnixStream::connect(&drip_socket).unwrap();
        let started = Instant::now();
        for b in br#"{"version":1,"op":"sh"#.iter() {
            if c.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(700));
            if started.elapsed() > Duration::from_secs(12) {
                break;
            }
        }
        (started, answer(c, Duration::from_secs(15)))
    });
    // Meanwhile show answers at once, again and again.
    for _ in 0..5 {
        let took = show_takes(&socket);
        assert!(took < Duration::from_secs(2), "show took {took:?}");
    }
    let (started, r) = drip.join().unwrap();
    let cut = started.elapsed();
    let msg = rejected(r);
    assert!(msg.contains("not complete within 10 s"), "{msg}");
    assert!(
        cut >= Duration::from_secs(9) && cut < Duration::from_secs(14),
        "cut off after {cut:?}"
    );
    drop(idle);

    // Garbage, another version, an unknown operation: each an error naming the problem.
    for (line, want) in [
        (&b"hello"[..], "malformed request"),
        (br#"{"op":"show"}"#, "protocol version 0"),
        (br#"{"version":9,"op":"show"}"#, "protocol version 9"),
        (br#"{"version":1,"op":"explode"}"#, "malformed request"),
    ] {
        let mut c = UnixStream::connect(&socket).unwrap();
        c.write_all(line).unwrap();
        c.write_all(b"\n").unwrap();
        let msg = rejected(answer(c, Duration::from_secs(5)));
        assert!(msg.contains(want), "{line:?}: {msg}");
    }

    // More than 64 MiB without a newline: refused, not buffered forever.
    let mut c = UnixStream::connect(&socket).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..70 {
        // vpcd answers and closes once the limit is passed: later writes may fail.
        if c.write_all(&chunk).is_err() {
            break;
        }
    }
    let msg = rejected(answer(c, Duration::from_secs(10)));
    assert!(msg.contains("larger than 64 MiB"), "{msg}");
    // Still serving.
    assert!(show_takes(&socket) < Duration::from_secs(2));
}

#[test]
fn two_applies_at_once_are_serialised() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let vpcd = Vpcd::start(&prefix).unwrap();
    let socket = vpcd.socket_path().to_path_buf();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let s = socket.clone();
            std::thread::spawn(move || {
                control::client::apply(&s, &DataplaneConfig::default())
                    .unwrap()
                    .epoch
            })
        })
        .collect();
    let mut epochs: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    epochs.sort_unstable();
    assert_eq!(
        epochs,
        vec![1, 2],
        "each apply its own epoch, one after the other"
    );
    assert_eq!(control::client::show(&socket).unwrap().epoch, 2);
}

#[test]
fn another_user_is_refused_with_a_message_that_says_so() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let prefix = RunPrefix::new().unwrap();
    let vpcd = Vpcd::start(&prefix).unwrap();
    let socket = vpcd.socket_path();
    // The scratch directory must be traversable for the socket's own mode to decide.
    let dir = socket.parent().unwrap();
    let old = std::fs::metadata(dir).unwrap().permissions();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(Vpcctl::binary_path().unwrap())
        .arg("--socket")
        .arg(socket)
        .arg("show")
        .output()
        .unwrap();
    std::fs::set_permissions(dir, old).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("permission denied on vpcd's control socket"),
        "{stderr}"
    );
}
