//! The instance metadata service's side of the data plane: a TCP segment an ENI sent to
//! 169.254.169.254:80 goes to its endpoint ([`crate::vpc::metadata`]) as an IP packet,
//! and what the endpoint sends leaves by the ENI's port from the subnet router's MAC.

use super::*;
use crate::vpc::metadata::stack::Activity;
use crate::vpc::metadata::Output;
use crate::wire::vnet::VnetHdr;

impl<P: Port> Dataplane<P> {
    /// Hands the frame in `buf` (with its `virtio_net_hdr`) that came in on `in_port`
    /// to the ENI's metadata endpoint.
    pub(super) fn metadata_in(&mut self, in_port: PortIdx, buf: &mut [u8]) {
        let Some(eni) = self.tables.eni_of_port(in_port) else {
            self.drop_frame(in_port, DropReason::Malformed);
            return;
        };
        // A request is a few hundred bytes: a super-frame here is a client pushing a
        // body the service would refuse anyway.
        if VnetHdr::parse(buf).unwrap_or_default().is_gso() {
            self.drop_frame(in_port, DropReason::MetadataRefused);
            return;
        }
        if buf.first().is_some_and(|b| b & F_NEEDS_CSUM != 0) {
            complete_checksum(buf);
        }
        let Some(ip) = buf.get(VNET_HDR_LEN + HEADER_LEN..) else {
            self.drop_frame(in_port, DropReason::Malformed);
            return;
        };
        // Without the Ethernet padding of a short frame.
        let total = ip
            .get(2..4)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let ip = &ip[..total.min(ip.len())];
        let mut out = std::mem::take(&mut self.metadata_out);
        let now = self.clock.now();
        match self
            .metadata
            .input((&self.tables, self.epoch), eni, ip, now, &mut out)
        {
            Ok(a) => self.count_metadata(in_port, a),
            Err(_) => self.drop_frame(in_port, DropReason::MetadataRefused),
        }
        self.send_metadata(&mut out);
        self.metadata_out = out;
    }

    /// Runs the metadata endpoints' timers and sends what they send.
    pub(super) fn metadata_timers(&mut self) {
        if self.metadata.endpoints() == 0 {
            return;
        }
        let mut out = std::mem::take(&mut self.metadata_out);
        let now = self.clock.now();
        let mut acts = Vec::new();
        self.metadata
            .poll((&self.tables, self.epoch), now, &mut out, &mut acts);
        for (eni, a) in acts {
            self.count_metadata(PortIdx::from(eni), a);
        }
        self.send_metadata(&mut out);
        self.metadata_out = out;
    }

    fn count_metadata(&mut self, port: PortIdx, a: Activity) {
        if let Some(c) = self.counters.get_mut(port.idx()) {
            c.metadata_requests += a.ok + a.errors;
            c.metadata_errors += a.errors + a.timeouts;
        }
    }

    /// Sends the endpoints' IP packets, each to its ENI from its subnet router's MAC.
    fn send_metadata(&mut self, out: &mut Output) {
        let mut frame = std::mem::take(&mut self.scratch);
        for (eni, ip) in out.drain(..) {
            let Some(e) = self.tables.enis.get(eni.idx()) else {
                continue;
            };
            let Some(s) = self.tables.subnets.get(e.subnet.idx()) else {
                continue;
            };
            let start = VNET_HDR_LEN + HEADER_LEN;
            let Some(dst) = frame.get_mut(..start + ip.len()) else {
                continue;
            };
            dst[..VNET_HDR_LEN].fill(0);
            dst[VNET_HDR_LEN..VNET_HDR_LEN + 6].copy_from_slice(&e.mac.0);
            dst[VNET_HDR_LEN + 6..VNET_HDR_LEN + 12].copy_from_slice(&s.router_mac.0);
            dst[VNET_HDR_LEN + 12..start].copy_from_slice(&[0x08, 0x00]);
            dst[start..].copy_from_slice(&ip);
            let port = PortIdx::from(eni);
            self.transmit(port, port, dst);
        }
        self.scratch = frame;
    }
}
