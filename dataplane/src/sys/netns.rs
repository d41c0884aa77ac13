//! Sockets in another network namespace: a short-lived thread enters the namespace
//! (`setns`, through `nix`), opens the socket and ends; the socket keeps the namespace it
//! was created in, so the data plane uses it from its own thread.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use nix::sched::{setns, CloneFlags};

use super::ip::NETNS_DIR;

/// A non-blocking UDP socket bound to `source` (an ephemeral port) inside the named
/// namespace `netns` (`/run/netns/NAME`; empty: the caller's own namespace).
pub fn udp_socket_in(netns: &str, source: Ipv4Addr) -> io::Result<UdpSocket> {
    let bind = move || -> io::Result<UdpSocket> {
        let s = UdpSocket::bind(SocketAddr::from((source, 0)))?;
        s.set_nonblocking(true)?;
        Ok(s)
    };
    in_netns(netns, bind)
}

/// Runs `f` inside the named namespace `netns` (`/run/netns/NAME`; empty: the caller's
/// own namespace, on the caller's thread) and returns what it returns. A socket created
/// by `f` keeps the namespace it was created in. The namespace is entered by a
/// short-lived thread, so the caller's thread never changes namespace.
pub fn in_netns<T, F>(netns: &str, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    if netns.is_empty() {
        return f();
    }
    if netns.contains('/') || netns == "." || netns == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{netns}` is not a namespace name"),
        ));
    }
    let ns = File::open(format!("{NETNS_DIR}/{netns}"))?;
    std::thread::Builder::new()
        .name("netns-socket".into())
        .spawn(move || -> io::Result<T> {
            setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            f()
        })?
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))?
}
