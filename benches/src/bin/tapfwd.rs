//! The TAP ceiling of the benchmark suite: a bare TAP-to-TAP forwarder.
//!
//! `tapfwd TAP_A NETNS_A TAP_B NETNS_B` creates two TAPs (`IFF_TAP | IFF_NO_PI |
//! IFF_VNET_HDR`, checksum and TSO offloads on, through the data plane's
//! [`dataplane::sys::tap::Tap`]), moves their kernel ends into the two namespaces, prints
//! `ready`, and then copies every frame, `virtio_net_hdr` included and unchanged, from one
//! TAP to the other with epoll: no parsing, no rewriting, no routing. The namespaces'
//! addressing is the caller's. It runs until killed.

use std::io;
use std::io::Write as _;

use dataplane::sys::epoll::{Epoll, Events};
use dataplane::sys::ip::{Ip, LinkAttr};
use dataplane::sys::tap::Tap;

/// Frames read from one TAP per wake-up before the other gets its turn.
const BATCH: usize = 64;
/// The TAPs' send buffer (`TUNSETSNDBUF`): room for bursts of 64 KB super-frames.
const SNDBUF: i32 = 16 << 20;
/// One frame: a 64 KB super-frame, its Ethernet header and the vnet header, with room.
const BUF_LEN: usize = 128 << 10;

fn usage() -> ! {
    eprintln!("usage: tapfwd TAP_A NETNS_A TAP_B NETNS_B");
    std::process::exit(2)
}

fn open(name: &str, netns: &str) -> Result<Tap, String> {
    let tap = Tap::create(name, SNDBUF).map_err(|e| e.to_string())?;
    Ip::link_set(None, name, &[LinkAttr::Netns(netns)])
        .run()
        .map_err(|e| e.to_string())?;
    tracing::debug!(tap = name, netns, "TAP created and moved");
    Ok(tap)
}

/// Reads up to [`BATCH`] frames from `from` and writes each to `to` as it came. Returns
/// (frames forwarded, frames dropped because `to` would not take them).
fn drain(from: &mut Tap, to: &mut Tap, buf: &mut [u8]) -> io::Result<(u64, u64)> {
    let (mut fwd, mut dropped) = (0, 0);
    for _ in 0..BATCH {
        let n = match from.read_frame(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The link is down (EIO) until the caller configures it: nothing to read.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => return Err(e),
        };
        match to.write_frame(&buf[..n]) {
            Ok(_) => fwd += 1,
            // A full send buffer or a peer that is down: drop, as a NIC would.
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::EIO) =>
            {
                dropped += 1
            }
            Err(e) => return Err(e),
        }
    }
    Ok((fwd, dropped))
}

fn run(a: (&str, &str), b: (&str, &str)) -> Result<(), String> {
    let mut taps = [open(a.0, a.1)?, open(b.0, b.1)?];
    let ep = Epoll::new().map_err(|e| format!("epoll: {e}"))?;
    for (i, t) in taps.iter().enumerate() {
        ep.add(t.fd(), i as u64)
            .map_err(|e| format!("epoll add {}: {e}", t.name()))?;
    }
    let mut buf = vec![0u8; BUF_LEN];
    let mut events = Events::with_capacity(2);
    let (mut fwd, mut dropped) = (0u64, 0u64);
    println!("ready");
    io::stdout().flush().map_err(|e| format!("stdout: {e}"))?;
    tracing::info!(a = a.0, b = b.0, "forwarding");
    loop {
        ep.wait(&mut events, -1)
            .map_err(|e| format!("epoll wait: {e}"))?;
        for i in 0..events.len() {
            let Some(tok) = events.token(i) else { continue };
            let [x, y] = &mut taps;
            let (from, to) = if tok == 0 { (x, y) } else { (y, x) };
            let (f, d) = drain(from, to, &mut buf).map_err(|e| format!("{}: {e}", from.name()))?;
            fwd += f;
            if d > 0 {
                dropped += d;
                tracing::debug!(fwd, dropped, "frames dropped on a full or down TAP");
            }
        }
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ta, na, tb, nb] = args.as_slice() else {
        usage()
    };
    if let Err(e) = run((ta, na), (tb, nb)) {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}
