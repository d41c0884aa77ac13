//! A QEMU `-netdev stream` socket ([`crate::sys::stream::StreamPort`]) as a port. The
//! stream carries plain Ethernet frames, so what the engine hands over with offloads
//! pending is finished here: a partial checksum (`NEEDS_CSUM`) is completed, and a TCP
//! super-frame is segmented in software ([`crate::engine::gso::segment`]) before it
//! goes out. What comes in gets a zeroed `virtio_net_hdr` (no offloads).

use std::cell::RefCell;
use std::io;

use crate::engine::buf::BUF_SIZE;
use crate::engine::gso::segment;
use crate::engine::port::Port;
use crate::engine::tx::complete_checksum;
use crate::sys::stream::StreamPort;
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, VNET_HDR_LEN};

thread_local! {
    /// One frame's room for a checksum completed or a segment built, per thread (the
    /// forwarding thread): no allocation per frame.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the thread's scratch buffer, [`BUF_SIZE`] bytes.
fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < BUF_SIZE {
            s.resize(BUF_SIZE, 0);
        }
        f(&mut s)
    })
}

/// A stream socket as a port: one length-prefixed plain frame per `virtio_net_hdr`
/// frame; a super-frame leaves as its segments. A frame that cannot go (no guest, the
/// output queue full, a GSO kind that cannot be segmented) is an error: the data plane
/// counts it as `tx_failed`.
impl Port for StreamPort {
    #[inline]
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.recv_frame(buf)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let bad = |what: &'static str| io::Error::new(io::ErrorKind::InvalidData, what);
        let h = VnetHdr::parse(frame).map_err(|_| bad("frame without virtio_net_hdr"))?;
        if h.is_gso() {
            return with_scratch(|scratch| {
                let mut result = Ok(());
                segment(frame, scratch, |seg| {
                    if let (Ok(()), Some(plain)) = (&result, seg.get(VNET_HDR_LEN..)) {
                        result = self.send_plain(plain);
                    }
                })
                .map_err(|_| bad("super-frame that cannot be segmented"))?;
                result
            });
        }
        if h.flags & F_NEEDS_CSUM != 0 {
            return with_scratch(|scratch| {
                let copy = scratch
                    .get_mut(..frame.len())
                    .ok_or_else(|| bad("frame too large"))?;
                copy.copy_from_slice(frame);
                complete_checksum(copy);
                self.send_plain(&copy[VNET_HDR_LEN..])
            });
        }
        self.send_plain(&frame[VNET_HDR_LEN..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::{fold, sum};
    use crate::wire::vnet::GSO_TCPV4;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    const SRC: [u8; 4] = [10, 0, 2, 20];
    const DST: [u8; 4] = [10, 0, 1, 10];

    /// A TCP frame of `payload` bytes with its checksum left partial (`NEEDS_CSUM`), as a
    /// super-frame of `mss`-byte segments when `mss` is set.
    fn partial_frame(payload: &[u8], mss: Option<u16>) -> Vec<u8> {
        let mut f = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(SRC, DST, 64)
            .tcp(80, 40000, 1000, 64000)
            .ack(1)
            .write(&mut f, payload)
            .unwrap();
        let tcp_len = f.len() - VNET_HDR_LEN - 14 - 20;
        let pseudo = fold(
            sum(0, &SRC)
                .wrapping_add(sum(0, &DST))
                .wrapping_add(6)
                .wrapping_add(tcp_len as u32),
        );
        let at = VNET_HDR_LEN + 34 + 16;
        f[at..at + 2].copy_from_slice(&pseudo.to_be_bytes());
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: if mss.is_some() { GSO_TCPV4 } else { 0 },
            hdr_len: 54,
            gso_size: mss.unwrap_or(0),
            csum_start: 34,
            csum_offset: 16,
        }
        .emit(&mut f)
        .unwrap();
        f
    }

    /// Reads one length-prefixed frame from the guest's end and checks its TCP checksum;
    /// returns the payload length.
    fn read_checked(guest: &mut UnixStream) -> usize {
        let mut len = [0u8; 4];
        guest.read_exact(&mut len).unwrap();
        let mut f = vec![0u8; u32::from_be_bytes(len) as usize];
        guest.read_exact(&mut f).unwrap();
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not ipv4")
        };
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            panic!("not tcp")
        };
        let iph = ip.header().to_header();
        let th = tcp.to_header();
        assert_eq!(
            th.calc_checksum_ipv4(&iph, tcp.payload()).unwrap(),
            th.checksum
        );
        tcp.payload().len()
    }

    #[test]
    fn offloads_are_finished_before_the_stream() {
        let dir = std::env::temp_dir().join(format!("vpcd-estream-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("eni.sock");
        let mut port = StreamPort::bind(&path).unwrap();
        let mut guest = UnixStream::connect(&path).unwrap();
        // Not a frame: accept the guest on the way (as the run loop would).
        let mut buf = vec![0u8; BUF_SIZE];
        while !port.connected() {
            assert_eq!(port.recv(&mut buf).unwrap(), None);
        }
        let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        // A partial checksum is completed.
        port.send(&partial_frame(&payload[..100], None)).unwrap();
        assert_eq!(read_checked(&mut guest), 100);
        // A super-frame leaves as its segments.
        port.send(&partial_frame(&payload, Some(1000))).unwrap();
        for _ in 0..3 {
            assert_eq!(read_checked(&mut guest), 1000);
        }
        assert_eq!(port.stats().tx_dropped, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
