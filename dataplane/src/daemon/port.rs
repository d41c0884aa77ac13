//! The daemon's port: whichever backend an ENI is attached through. One enum, so the
//! data plane runs over a single port type ([`crate::datapath::Dataplane`]`<AnyPort>`)
//! and a new backend is a new variant here plus its `Port` implementation.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::engine::handoff::RemotePort;
use crate::engine::port::Port;
use crate::observe::stats::PortStatus;
use crate::sys::packet::PacketPort;
use crate::sys::stream::StreamPort;
use crate::sys::tap::Tap;
use crate::sys::vhost_user::VhostUserPort;

/// A port of the daemon's data plane.
#[derive(Debug)]
pub enum AnyPort {
    /// A TAP device (its kernel end in the instance's namespace, or an uplink).
    Tap(Tap),
    /// A QEMU `-netdev stream` socket a guest connects to.
    Stream(StreamPort),
    /// A vhost-user socket a guest's QEMU connects to (the guest's rings in its shared
    /// memory).
    VhostUser(VhostUserPort),
    /// An existing interface read and written with `AF_PACKET`.
    Packet(PacketPort),
    /// A port with a single queue that another forwarding worker owns (one of the above):
    /// frames sent to it are handed to that worker.
    Remote(RemotePort),
}

impl AnyPort {
    /// What `vpcctl show` names the port by: the TAP's name, or the socket's path.
    pub fn name(&self) -> String {
        match self {
            AnyPort::Tap(t) => t.name().to_string(),
            AnyPort::Remote(_) => "(another worker's)".to_string(),
            AnyPort::Stream(s) => s.path().display().to_string(),
            AnyPort::VhostUser(v) => v.path().display().to_string(),
            AnyPort::Packet(p) => match p.netns() {
                Some(ns) => format!("{ns}/{}", p.name()),
                None => p.name().to_string(),
            },
        }
    }

    /// A socket-backed port's state (`None` for a TAP).
    pub fn status(&self) -> Option<PortStatus> {
        match self {
            AnyPort::Tap(_) | AnyPort::Remote(_) => None,
            AnyPort::Stream(s) => {
                let st = s.stats();
                Some(PortStatus {
                    connected: Some(s.connected()),
                    connections: st.connections,
                    disconnects: st.disconnects,
                    garbage: st.garbage,
                    tx_dropped: st.tx_dropped,
                })
            }
            AnyPort::VhostUser(v) => {
                let st = v.stats();
                Some(PortStatus {
                    // Connected and both rings set up: the guest's driver is up.
                    connected: Some(v.is_up()),
                    connections: st.connections,
                    disconnects: st.disconnects,
                    // Connections cut off for garbage on the socket.
                    garbage: st.protocol_errors,
                    // No guest, or no receive buffers posted.
                    tx_dropped: st.no_guest + st.no_rx_buffers,
                })
            }
            AnyPort::Packet(p) => {
                let st = p.stats();
                Some(PortStatus {
                    // The interface is there (not deleted under vpcd).
                    connected: Some(p.attached()),
                    connections: 0,
                    disconnects: 0,
                    // Frames that did not fit, or that no vnet header could describe.
                    garbage: st.rx_truncated + st.rx_unrepresentable,
                    tx_dropped: 0,
                })
            }
        }
    }
}

impl Port for AnyPort {
    #[inline]
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            AnyPort::Tap(t) => t.recv(buf),
            AnyPort::Stream(s) => s.recv(buf),
            AnyPort::VhostUser(v) => v.recv(buf),
            AnyPort::Packet(p) => p.recv(buf),
            AnyPort::Remote(r) => r.recv(buf),
        }
    }

    #[inline]
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        match self {
            AnyPort::Tap(t) => t.send(frame),
            AnyPort::Stream(s) => s.send(frame),
            AnyPort::VhostUser(v) => v.send(frame),
            AnyPort::Packet(p) => p.send(frame),
            AnyPort::Remote(r) => r.send(frame),
        }
    }

    #[inline]
    fn flush(&mut self) {
        if let AnyPort::VhostUser(v) = self {
            Port::flush(v);
        }
    }
}

/// The descriptor the run loop watches: the TAP's, the stream port's own epoll set, the
/// vhost-user port's readiness eventfd (both stable while guests come and go), or the
/// packet socket's; none (-1) for a port another worker reads.
impl AsRawFd for AnyPort {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            AnyPort::Tap(t) => t.as_raw_fd(),
            AnyPort::Stream(s) => s.as_raw_fd(),
            AnyPort::VhostUser(v) => v.as_raw_fd(),
            AnyPort::Packet(p) => p.as_raw_fd(),
            AnyPort::Remote(_) => -1,
        }
    }
}
