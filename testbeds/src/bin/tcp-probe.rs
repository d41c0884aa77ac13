//! `tcp-probe`: TCP connections that a test holds open and drives line by line, for the
//! end-to-end tests of the NAT gateway (held connections exhaust its ports; an idle one
//! is written to after its translation timed out). Every outcome is one line on stdout,
//! flushed at once, so a test waits for lines instead of sleeping.
//!
//! ```text
//! tcp-probe listen ADDR PORT...
//!     prints `listening ADDR:PORT` per port, then `ready`; for every connection
//!     `accepted PORT from IP:PORT`, `got PORT TEXT from IP:PORT` per line received (each
//!     line is echoed back) and `closed PORT from IP:PORT` at its end.
//! tcp-probe connect ADDR PORT [TIMEOUT_SECS]
//!     prints `connected LOCAL_IP:PORT` (or `connect-error KIND: MESSAGE` and exits 1),
//!     then for each stdin line `send TEXT`: writes TEXT and a newline, waits for the echo
//!     (at most TIMEOUT_SECS, default 5) and prints `echo TEXT`, `reset`, `eof`,
//!     `timeout` or `error KIND: MESSAGE`. Exits 0 at the end of stdin.
//! ```

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// stdout is shared by the listener's threads: one whole line at a time.
static OUT: Mutex<()> = Mutex::new(());

fn say(line: &str) {
    let _guard = OUT.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("listen") => listen(&args[1..]),
        Some("connect") => connect(&args[1..]),
        _ => Err(anyhow::anyhow!(
            "usage: tcp-probe listen ADDR PORT... | tcp-probe connect ADDR PORT [TIMEOUT_SECS]"
        )),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tcp-probe: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn listen(args: &[String]) -> Result<ExitCode> {
    let Some((addr, ports)) = args.split_first() else {
        bail!("listen: ADDR and at least one PORT expected");
    };
    if ports.is_empty() {
        bail!("listen: at least one PORT expected");
    }
    let addr: IpAddr = addr
        .parse()
        .with_context(|| format!("bad address {addr}"))?;
    let mut listeners = Vec::new();
    for p in ports {
        let port: u16 = p.parse().with_context(|| format!("bad port {p}"))?;
        let l = TcpListener::bind(SocketAddr::new(addr, port))
            .with_context(|| format!("binding {addr}:{port}"))?;
        say(&format!("listening {addr}:{port}"));
        listeners.push((port, l));
    }
    say("ready");
    let mut threads = Vec::new();
    for (port, l) in listeners {
        threads.push(thread::spawn(move || accept_loop(port, l)));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(ExitCode::SUCCESS)
}

fn accept_loop(port: u16, l: TcpListener) {
    loop {
        match l.accept() {
            Ok((s, peer)) => {
                say(&format!("accepted {port} from {peer}"));
                thread::spawn(move || echo(port, peer, s));
            }
            Err(e) => {
                say(&format!("accept-error {port} {:?}: {e}", e.kind()));
                return;
            }
        }
    }
}

/// Echoes each line back until the peer closes or resets; the connection stays open (and
/// idle) as long as the peer keeps it so.
fn echo(port: u16, peer: SocketAddr, s: TcpStream) {
    let mut w = match s.try_clone() {
        Ok(w) => w,
        Err(e) => {
            say(&format!("closed {port} from {peer} ({e})"));
            return;
        }
    };
    let mut lines = BufReader::new(s).lines();
    let end = loop {
        match lines.next() {
            None => break "eof".to_string(),
            Some(Err(e)) => break format!("{:?}", e.kind()),
            Some(Ok(line)) => {
                say(&format!("got {port} {line} from {peer}"));
                if let Err(e) = writeln!(w, "{line}") {
                    break format!("{:?}", e.kind());
                }
            }
        }
    };
    say(&format!("closed {port} from {peer} ({end})"));
}

fn connect(args: &[String]) -> Result<ExitCode> {
    let (Some(addr), Some(port)) = (args.first(), args.get(1)) else {
        bail!("connect: ADDR PORT expected");
    };
    let addr: IpAddr = addr
        .parse()
        .with_context(|| format!("bad address {addr}"))?;
    let port: u16 = port.parse().with_context(|| format!("bad port {port}"))?;
    let secs: u64 = match args.get(2) {
        Some(t) => t.parse().with_context(|| format!("bad timeout {t}"))?,
        None => 5,
    };
    let timeout = Duration::from_secs(secs.max(1));
    let s = match TcpStream::connect_timeout(&SocketAddr::new(addr, port), timeout) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("connect-error {:?}: {e}", e.kind()));
            return Ok(ExitCode::from(1));
        }
    };
    let local = s.local_addr().context("local address")?;
    say(&format!("connected {local}"));
    s.set_read_timeout(Some(timeout))
        .context("setting the read timeout")?;
    let mut w = s.try_clone().context("cloning the socket")?;
    let mut r = BufReader::new(s);
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading stdin")?;
        let Some(text) = line.strip_prefix("send ") else {
            say(&format!("unknown command {line:?}"));
            continue;
        };
        if let Err(e) = writeln!(w, "{text}") {
            say(&outcome(&e));
            continue;
        }
        let mut reply = String::new();
        match r.read_line(&mut reply) {
            Ok(0) => say("eof"),
            Ok(_) => say(&format!("echo {}", reply.trim_end())),
            Err(e) => say(&outcome(&e)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn outcome(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionReset => "reset".to_string(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut => "timeout".to_string(),
        k => format!("error {k:?}: {e}"),
    }
}
