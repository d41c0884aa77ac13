//! The engine's packet-capture and traffic-mirroring hooks (see [`crate::observe::capture`] and
//! [`crate::observe::mirror`]).
//!
//! Three calls from the per-frame work, each behind one branch on a flag that is false
//! when nothing is configured:
//! - [`Dataplane::tap_sent`], at the start of `process`: every frame an ENI sends is
//!   offered to its captures (also frames the pipeline then drops);
//! - [`Dataplane::tap_delivered`], when `transmit` delivered a frame to a port: the
//!   port's captures, and inbound mirroring when the port is a mirror source and the
//!   frame was forwarded to it (not an answer of the VPC router or of a NAT gateway to
//!   the frame's own sender: forwarding never sends a frame back out of the port it came
//!   from, see `DropReason::HairpinLoop`);
//! - [`Dataplane::tap_forwarded`], in `forward` before the MAC and NAT rewrites: outbound
//!   mirroring of a frame the pipeline decided to forward.
//!
//! A mirror copy is written to the target's port here, not through `transmit`: it is
//! counted and captured on the target, never mirrored again.

use super::Dataplane;
use crate::engine::port::{Port, PortIdx};
use crate::observe::capture::Captures;
use crate::observe::mirror::{Direction, Mirrors};
use crate::observe::writer::Writer;
use crate::vpc::config::EniIdx;
use crate::vpc::tables::Tables;
use crate::wire::vnet::VNET_HDR_LEN;

/// The captures and mirror sessions of the running configuration.
#[derive(Default)]
pub(super) struct Taps {
    pub(super) captures: Captures,
    pub(super) mirrors: Mirrors,
    /// Some capture is configured.
    pub(super) capturing: bool,
    /// Some mirror session is configured.
    pub(super) mirroring: bool,
    /// Either.
    pub(super) active: bool,
}

impl Taps {
    /// Rebuilds from `tables`' configuration (captures that go on keep their files,
    /// sessions keep their counters); `writer` writes the capture files.
    pub(super) fn rebuild(&mut self, tables: &Tables, writer: &Writer) {
        let old = std::mem::take(self);
        self.captures = Captures::rebuild(old.captures, &tables.config, writer);
        self.mirrors = Mirrors::rebuild(old.mirrors, tables);
        self.capturing = !self.captures.is_empty();
        self.mirroring = !self.mirrors.is_empty();
        self.active = self.capturing || self.mirroring;
    }
}

impl<P: Port> Dataplane<P> {
    /// A frame (with its `virtio_net_hdr`) that came in on port `port`, as read from it
    /// (captures are on ENIs' ports only).
    #[inline(never)]
    pub(super) fn tap_sent(&mut self, port: PortIdx, buf: &[u8]) {
        let Some(eni) = self.tables.eni_of_port(port) else {
            return;
        };
        if let Some(frame) = buf.get(VNET_HDR_LEN..) {
            self.taps.captures.frame(eni, frame);
        }
    }

    /// A frame that `transmit` delivered to port `out`; `from` is the port it came in on.
    #[inline(never)]
    pub(super) fn tap_delivered(&mut self, from: PortIdx, out: PortIdx, buf: &[u8]) {
        // Captures and mirror sessions are on ENIs' ports only.
        let Some(eni) = self.tables.eni_of_port(out) else {
            return;
        };
        if self.taps.capturing {
            if let Some(frame) = buf.get(VNET_HDR_LEN..) {
                self.taps.captures.frame(eni, frame);
            }
        }
        if self.taps.mirroring && from != out && self.taps.mirrors.mirrors(eni, Direction::Inbound)
        {
            self.mirror(eni, Direction::Inbound, buf);
        }
    }

    /// A frame that came in on port `from` and the pipeline forwards, before any rewrite
    /// (mirrored when `from` is a mirror source ENI's port).
    #[inline(never)]
    pub(super) fn tap_forwarded(&mut self, from: PortIdx, buf: &[u8]) {
        let Some(from) = self.tables.eni_of_port(from) else {
            return;
        };
        if self.taps.mirrors.mirrors(from, Direction::Outbound) {
            self.mirror(from, Direction::Outbound, buf);
        }
    }

    /// Mirrors `buf` (a frame with its `virtio_net_hdr`) of `source` in `dir`, if a
    /// session of `source` takes it.
    fn mirror(&mut self, source: EniIdx, dir: Direction, buf: &[u8]) {
        let Some(frame) = buf.get(VNET_HDR_LEN..) else {
            return;
        };
        let Some((s, ip)) = self.taps.mirrors.select(source, dir, frame) else {
            return;
        };
        let Some((target, len)) = self.taps.mirrors.copy(s, buf, &ip) else {
            return;
        };
        let copy = self.taps.mirrors.frame(len);
        let port = PortIdx::from(target);
        let sent = match self.ports.get_mut(port.idx()) {
            Some(Some(port)) => port.send(copy).is_ok(),
            _ => false,
        };
        if sent {
            if self.sent_to.last() != Some(&port) {
                self.sent_to.push(port);
            }
            if let Some(c) = self.counters.get_mut(port.idx()) {
                c.tx_packets += 1;
                c.tx_bytes += len.saturating_sub(VNET_HDR_LEN) as u64;
            }
            if self.taps.capturing {
                if let Some(f) = copy.get(VNET_HDR_LEN..) {
                    self.taps.captures.frame(target, f);
                }
            }
        }
        self.taps.mirrors.sent(s, len, sent);
    }
}

#[cfg(test)]
#[path = "taps_tests.rs"]
mod tests;
