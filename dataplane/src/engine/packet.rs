//! An interface attached with `AF_PACKET` ([`crate::sys::packet::PacketPort`]) as a port.
//! The socket carries the `virtio_net_hdr` both ways, so offloads pass untouched: a
//! super-frame leaves whole (the kernel or the device segments it) and one that arrives
//! is handed to the engine whole.

use std::io;

use crate::engine::port::Port;
use crate::sys::packet::PacketPort;

/// An `AF_PACKET` socket as a port: one frame per `recv`/`send`, its `virtio_net_hdr`
/// first; nothing waiting is `None`; the interface down or deleted is an error.
impl Port for PacketPort {
    #[inline]
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.recv_frame(buf)
    }

    #[inline]
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.send_frame(frame)
    }
}
