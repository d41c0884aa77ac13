//! The way out: MAC and address rewrites, the hop's MTU (fragmentation or "fragmentation
//! needed"), replies, the port write, and counting drops.

use super::*;
use crate::vpc::pipeline::dns::Answered;

impl<P: Port> Dataplane<P> {
    #[inline]
    pub(super) fn forward(&mut self, in_port: PortIdx, buf: &mut [u8], d: Delivery) {
        let fit = if d.mtu == 0 {
            Fit::Fits
        } else {
            mtu_fit(buf, d.mtu)
        };
        match fit {
            Fit::Fits | Fit::Fragment | Fit::Segment => {}
            Fit::NeedsFragNeeded => {
                self.frag_needed(in_port, buf, d.mtu);
                return;
            }
        }
        // Outbound traffic mirroring sees the frame as its sender sent it.
        if self.taps.mirroring {
            self.tap_forwarded(in_port, buf);
        }
        if let Ok(mut eth) = EthernetFrame::new_checked(&mut buf[VNET_HDR_LEN..]) {
            eth.set_src(d.src_mac);
            eth.set_dst(d.dst_mac);
        }
        let nat = rewrite(buf, d.nat);
        if nat.is_err() {
            self.drop_frame(in_port, DropReason::Malformed);
            return;
        }
        match fit {
            Fit::Fragment => self.fragment_out(in_port, buf, d),
            // Segmented after the rewrite: the segments carry the translated headers.
            Fit::Segment => self.segment_out(in_port, buf, d),
            _ => self.transmit(in_port, d.to.index(self.tables.enis.len()), buf),
        }
    }

    /// Sends a super-frame whose segments do not fit the hop (DF clear) as software
    /// segments ([`crate::engine::gso::segment`]), each through the hop's fit again: sent
    /// whole when it fits, as IPv4 fragments (built in place, in the same spare buffer)
    /// when it is still too big. Each segment and fragment counts as a sent packet.
    pub(super) fn segment_out(&mut self, in_port: PortIdx, buf: &[u8], d: Delivery) {
        let port = d.to.index(self.tables.enis.len());
        let head = VNET_HDR_LEN + HEADER_LEN;
        let mtu = d.mtu;
        let mut out = std::mem::take(&mut self.scratch);
        let mut failed = None;
        let result = crate::engine::gso::segment(buf, &mut out, |seg| match mtu_fit(seg, mtu) {
            Fit::Fits => self.transmit(in_port, port, seg),
            Fit::Fragment => {
                let sent = icmp::fragment_in_place(seg, head, usize::from(mtu), |f| {
                    self.transmit(in_port, port, f);
                });
                if sent.is_err() {
                    failed = Some(DropReason::Malformed);
                }
            }
            // A segment keeps the super-frame's DF (clear, or it would have been answered
            // "fragmentation needed" by its segment size) and has no GSO left.
            Fit::NeedsFragNeeded | Fit::Segment => failed = Some(DropReason::FragmentationNeeded),
        });
        if result.is_err() {
            failed = Some(DropReason::Malformed);
        }
        if let Some(r) = failed {
            self.drop_frame(in_port, r);
        }
        self.scratch = out;
    }

    /// Answers a too-big packet with DF set: ICMP "fragmentation needed" (with the hop's
    /// MTU) from the sender's subnet router, back to the sender.
    pub(super) fn frag_needed(&mut self, in_port: PortIdx, buf: &[u8], mtu: u16) {
        self.drop_frame(in_port, DropReason::FragmentationNeeded);
        // Only an ENI's port has a subnet router to answer from.
        let Some(eni) = self
            .tables
            .eni_of_port(in_port)
            .and_then(|e| self.tables.enis.get(e.idx()))
        else {
            return;
        };
        let subnet = &self.tables.subnets[eni.subnet.idx()];
        let (router_ip, router_mac) = (subnet.router_ip4, subnet.router_mac);
        let Ok(orig) = EthernetFrame::new_checked(&buf[VNET_HDR_LEN..]) else {
            return;
        };
        let sender_mac = orig.src();
        let ip = &buf[VNET_HDR_LEN + HEADER_LEN..];
        let Some(src) = ip
            .get(12..16)
            .map(|b| std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        else {
            return;
        };
        let mut out = std::mem::take(&mut self.scratch);
        out[..VNET_HDR_LEN].fill(0);
        out[VNET_HDR_LEN..VNET_HDR_LEN + 6].copy_from_slice(&sender_mac.0);
        out[VNET_HDR_LEN + 6..VNET_HDR_LEN + 12].copy_from_slice(&router_mac.0);
        out[VNET_HDR_LEN + 12..VNET_HDR_LEN + 14].copy_from_slice(&[0x08, 0x00]);
        let start = VNET_HDR_LEN + HEADER_LEN;
        if let Ok(n) = icmp::write_error(
            &mut out[start..],
            router_ip,
            src,
            icmp::DEST_UNREACHABLE,
            icmp::CODE_FRAG_NEEDED,
            u32::from(mtu),
            ip,
        ) {
            self.transmit(in_port, in_port, &out[..start + n]);
        }
        self.scratch = out;
    }

    /// Sends a too-big packet without DF as IPv4 fragments (its checksum completed first
    /// when it was left partial).
    pub(super) fn fragment_out(&mut self, in_port: PortIdx, buf: &mut [u8], d: Delivery) {
        if buf[0] & F_NEEDS_CSUM != 0 {
            complete_checksum(buf);
        }
        let port = d.to.index(self.tables.enis.len());
        let mut out = std::mem::take(&mut self.scratch);
        out[..VNET_HDR_LEN].fill(0);
        let head = VNET_HDR_LEN + HEADER_LEN;
        out[VNET_HDR_LEN..head].copy_from_slice(&buf[VNET_HDR_LEN..head]);
        let result = icmp::fragment(&buf[head..], usize::from(d.mtu), &mut out, head, |f| {
            self.transmit(in_port, port, f);
        });
        if result.is_err() {
            self.drop_frame(in_port, DropReason::Malformed);
        }
        self.scratch = out;
    }

    /// Sends the reply in `buf` back out of `in_port`; the packet it answers counts as
    /// dropped for `drop` (a NAT gateway's RST) or as an ARP or echo answer.
    pub(super) fn reply(&mut self, in_port: PortIdx, buf: &mut [u8], drop: Option<DropReason>) {
        // The reply is complete (checksums computed): no offload state applies.
        let arp = buf.get(VNET_HDR_LEN + 12..VNET_HDR_LEN + 14) == Some(&[0x08, 0x06]);
        match drop {
            Some(r) => self.drop_frame(in_port, r),
            None => {
                if let Some(c) = self.counters.get_mut(in_port.idx()) {
                    if arp {
                        c.arp_replies += 1;
                    } else {
                        c.icmp_echo_replies += 1;
                    }
                }
            }
        }
        self.send_answer(in_port, buf);
    }

    /// Sends an answer of the router's (complete, checksums computed) in `buf` back out
    /// of `in_port`.
    pub(super) fn send_answer(&mut self, in_port: PortIdx, buf: &mut [u8]) {
        buf[..VNET_HDR_LEN].fill(0);
        self.transmit(in_port, in_port, buf);
    }

    /// Sends the VPC resolver's answer (in its own buffer) back out of `in_port`.
    pub(super) fn resolved(&mut self, in_port: PortIdx, a: Answered) {
        if a.forwarded {
            self.forward_upstream(in_port);
            return;
        }
        if let Some(c) = self.counters.get_mut(in_port.idx()).filter(|_| !a.segment) {
            c.dns_answers += 1;
            if a.rcode != 0 {
                c.dns_errors += 1;
            }
        }
        let out = std::mem::take(&mut self.dns.frame);
        if let Some(frame) = out.get(..VNET_HDR_LEN + a.len) {
            self.transmit(in_port, in_port, frame);
        }
        self.dns.frame = out;
    }

    #[inline]
    pub(super) fn transmit(&mut self, in_port: PortIdx, out: PortIdx, buf: &[u8]) {
        // The receiving ENI's allowance counts what it receives too (AWS's is
        // bidirectional): a flood's replies share the flooder's allowance with the flood.
        if let Some(Some(bucket)) = self.police.get_mut(out.idx()) {
            if !bucket.take(segments(buf), self.clock.now()) {
                self.drop_frame(out, DropReason::PpsAllowanceExceeded);
                return;
            }
        }
        let Some(Some(port)) = self.ports.get_mut(out.idx()) else {
            self.drop_frame(in_port, DropReason::EniNotAttached);
            return;
        };
        match port.send(buf) {
            Ok(()) => {
                self.note_sent(out);
                if let Some(c) = self.counters.get_mut(out.idx()) {
                    c.tx_packets += 1;
                    c.tx_bytes += (buf.len() - VNET_HDR_LEN) as u64;
                }
                // Captures of `out`, inbound mirroring (`taps`).
                if self.taps.active {
                    self.tap_delivered(in_port, out, buf);
                }
            }
            Err(_) => self.drop_frame(out, DropReason::TxFailed),
        }
    }

    /// Remembers that `out` was sent to in this batch (for [`Port::flush`] at its end).
    #[inline]
    pub(super) fn note_sent(&mut self, out: PortIdx) {
        if self.sent_to.last() != Some(&out) {
            self.sent_to.push(out);
        }
    }

    /// The end of a batch: flushes every port sent to since the last flush.
    pub(super) fn flush_sent(&mut self) {
        let mut sent = std::mem::take(&mut self.sent_to);
        for i in sent.drain(..) {
            if let Some(Some(p)) = self.ports.get_mut(i.idx()) {
                p.flush();
            }
        }
        // The same allocation next time.
        self.sent_to = sent;
    }

    #[inline]
    pub(super) fn drop_frame(&mut self, port: PortIdx, r: DropReason) {
        if let Some(c) = self.counters.get_mut(port.idx()) {
            c.drops[r.index()] += 1;
        }
        self.engine.drops[r.index()] += 1;
    }
}
