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
    if netns.is_empty() {
        return bind();
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
        .spawn(move || -> io::Result<UdpSocket> {
            setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            bind()
        })?
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))?
}
