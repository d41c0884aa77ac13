//! The per-frame work: read a batch from a port, parse, look the flow cache up, run the
//! slow path on a miss, remember its decision, and act on it.

use super::*;
use crate::vpc::pipeline::Live;
use crate::wire::vnet::VnetHdr;

/// The longest a port over its allowance goes unread.
const MAX_PAUSE_MS: u64 = 100;

impl<P: Port> Dataplane<P> {
    /// Reads up to [`crate::engine::buf::BATCH`] frames from port `port` (an ENI's, or an
    /// uplink) and processes them.
    /// Returns how many were read; an I/O error of the port is returned as is.
    pub fn poll(&mut self, port: impl Into<PortIdx>) -> std::io::Result<usize> {
        let in_port = port.into();
        let mut pool = std::mem::take(&mut self.pool);
        let mut n = 0;
        let mut result = Ok(());
        if let Some(Some(port)) = self.ports.get_mut(in_port.idx()) {
            while n < pool.bufs.len() {
                match port.recv(&mut pool.bufs[n]) {
                    Ok(Some(len)) => {
                        pool.lens[n] = len;
                        n += 1;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        if n > 0 {
            self.engine.batches += 1;
            self.update_clock();
        }
        self.over_allowance = false;
        for i in 0..n {
            let len = pool.lens[i];
            self.process_in(in_port, &mut pool.bufs[i], len);
        }
        self.pool = pool;
        self.pause = None;
        if self.over_allowance {
            // Over its allowance: stop reading the port until a batch's worth of tokens
            // is back (1–100 ms). Its sender's frames wait in the kernel's queue, which
            // drops the excess at the sender's cost, not the forwarding thread's.
            let now = self.clock.now();
            if let Some(Some(bucket)) = self.police.get(in_port.idx()) {
                let ms = bucket.wait_ms(n.max(1) as u64, now).clamp(1, MAX_PAUSE_MS);
                self.pause = Some((in_port, std::time::Duration::from_millis(ms)));
            }
        }
        self.flush_sent();
        result.map(|()| n)
    }

    /// How long to stop reading `port` after its last [`Dataplane::poll`] (it went over
    /// its packets-per-second allowance); taken once.
    pub fn take_pause(&mut self, port: impl Into<PortIdx>) -> Option<std::time::Duration> {
        let port = port.into();
        match self.pause {
            Some((p, d)) if p == port => {
                self.pause = None;
                Some(d)
            }
            _ => None,
        }
    }

    /// Processes one frame (with its `virtio_net_hdr`) that came in on port `in_port`
    /// (sent by an ENI, or arriving on an uplink).
    // One function on purpose (~160 lines): split into a hit function and a slow-path
    // function, the pipeline bench measured +2–3 ns per flow-cache hit and +20 ns per
    // miss (2026-12-06), on the path every packet takes.
    ///
    /// The frame fills `buf`: an answer longer than the request (a DHCP reply) does not
    /// fit and is dropped; [`Dataplane::process_in`] gives it room.
    #[inline]
    pub fn process(&mut self, in_port: impl Into<PortIdx>, buf: &mut [u8]) {
        let len = buf.len();
        self.process_in(in_port, buf, len);
    }

    /// Processes the frame (with its `virtio_net_hdr`) in `whole[..len]` that came in on
    /// port `in_port`; the rest of `whole` is room for an answer longer than the request
    /// (the VPC router's DHCP replies).
    #[inline]
    pub fn process_in(&mut self, in_port: impl Into<PortIdx>, whole: &mut [u8], len: usize) {
        let in_port = in_port.into();
        if in_port.idx() >= self.counters.len() {
            return;
        }
        let len = len.min(whole.len());
        let parsed = whole.get(VNET_HDR_LEN..len).map(parse_frame);
        // With several workers: a frame of another worker's flow goes there, uncounted
        // here (its owner counts it).
        if let (Some(_), Some(Ok(meta))) = (&self.steering, &parsed) {
            if self.hand_off_rx(in_port, meta, whole, len) {
                return;
            }
        }
        let buf = &mut whole[..len];
        if let Some(c) = self.counters.get_mut(in_port.idx()) {
            c.rx_packets += 1;
            c.rx_bytes += buf.len().saturating_sub(VNET_HDR_LEN) as u64;
        }
        if self.taps.capturing {
            self.tap_sent(in_port, buf);
        }
        let meta = match parsed {
            Some(Ok(m)) => m,
            _ => {
                self.drop_frame(in_port, DropReason::Malformed);
                return;
            }
        };
        // The sender's offload state is input too (VPC-13): a GSO type that does not
        // match the packet, a zero `gso_size`, a partial checksum or `hdr_len` past the
        // frame is dropped here, not forwarded to another port or segmented.
        let frame_len = buf.len().saturating_sub(VNET_HDR_LEN);
        let vnet_ok = VnetHdr::parse(buf).is_ok_and(|h| h.check(frame_len, &meta).is_ok());
        if !vnet_ok {
            self.drop_frame(in_port, DropReason::Malformed);
            return;
        }
        // The ENI's packets-per-second allowance (a super-frame counts its segments).
        if let Some(Some(bucket)) = self.police.get_mut(in_port.idx()) {
            if !bucket.take(segments(buf), self.clock.now()) {
                self.over_allowance = true;
                self.drop_frame(in_port, DropReason::PpsAllowanceExceeded);
                return;
            }
        }
        let Some(frame) = buf.get_mut(VNET_HDR_LEN..) else {
            self.drop_frame(in_port, DropReason::Malformed);
            return;
        };
        let mut first_fragment = None;
        let key = match meta.l3 {
            L3::Ip(ip) if ip.later_fragment => {
                // No ports: it follows its datagram's first fragment.
                match self
                    .frags
                    .lookup(&FragKey::new(in_port, &ip), self.clock.now())
                {
                    Some(d) => self.forward(in_port, buf, d),
                    None => self.drop_frame(in_port, DropReason::FragmentUnmatched),
                }
                return;
            }
            L3::Ip(ip) if ip.fragment => {
                // A first fragment: decided afresh each time, and remembered for the rest.
                first_fragment = Some(FragKey::new(in_port, &ip));
                None
            }
            L3::Ip(ip) => {
                let key = FlowKey::new(in_port, meta.src_mac, meta.dst_mac, &ip);
                match self.flows.get(&key, self.epoch) {
                    Some(FlowAction::Forward { delivery, ct, via }) => {
                        let bytes = frame.len().saturating_sub(HEADER_LEN) as u64;
                        match self.touch(&ct, ip.tcp_flags, bytes) {
                            Touch::Ok => {
                                self.engine.flow_hits += 1;
                                if self.flowlogs.active() {
                                    let n = segments(buf);
                                    self.log_forward(in_port, &ip, &delivery, via, bytes, n);
                                }
                                self.forward(in_port, buf, delivery);
                                return;
                            }
                            Touch::Invalid => {
                                self.engine.flow_hits += 1;
                                self.drop_frame(in_port, DropReason::InvalidTcpState);
                                return;
                            }
                            // A connection the flow relied on is gone: decide anew.
                            Touch::Gone => {}
                        }
                    }
                    Some(FlowAction::Drop {
                        reason,
                        nacl_slot,
                        owner,
                        via,
                    }) => {
                        self.engine.flow_hits += 1;
                        if self.flowlogs.active() {
                            let len = frame.len().saturating_sub(HEADER_LEN) as u64;
                            let n = segments(buf);
                            self.log_reject(in_port, (owner, via), reason, &ip, len, n);
                        }
                        self.count_nacl(nacl_slot);
                        self.drop_frame(in_port, reason);
                        return;
                    }
                    None => {}
                }
                self.engine.flow_misses += 1;
                Some(key)
            }
            _ => None,
        };
        let mut state = Live {
            conntrack: &mut self.conntrack,
            nats: &mut self.nats,
        };
        let mut cx = Context {
            tables: &self.tables,
            state: &mut state,
            now: self.clock.now(),
            owner: None,
            via_nat: None,
            full_table: None,
            dns: &mut self.dns,
        };
        let room = &mut whole[VNET_HDR_LEN..];
        let frame_len = len - VNET_HDR_LEN;
        let action = pipeline::slow_path(&mut cx, in_port, room, frame_len, &meta, &mut NoTrace);
        let buf = &mut whole[..len];
        let (owner, via, full_table) = (cx.owner, cx.via_nat, cx.full_table);
        if let Some(key) = key {
            match action {
                Action::Forward {
                    delivery,
                    ct,
                    cacheable: true,
                } => self
                    .flows
                    .insert(key, self.epoch, FlowAction::Forward { delivery, ct, via }),
                Action::Drop {
                    reason,
                    nacl_slot,
                    cacheable: true,
                } => self.flows.insert(
                    key,
                    self.epoch,
                    FlowAction::Drop {
                        reason,
                        nacl_slot,
                        owner,
                        via,
                    },
                ),
                _ => {}
            }
        }
        if let (Some(k), Action::Forward { delivery, .. }) = (first_fragment, action) {
            self.frags.record(k, delivery, self.clock.now());
        }
        if self.flowlogs.active() {
            if let L3::Ip(ip) = meta.l3 {
                let len = buf.len().saturating_sub(VNET_HDR_LEN + HEADER_LEN);
                let n = segments(buf);
                match action {
                    Action::Forward { delivery, .. } => {
                        self.log_forward(in_port, &ip, &delivery, via, len as u64, n)
                    }
                    // DHCP and instance metadata are not recorded in flow logs.
                    Action::Drop { reason, .. }
                        if !matches!(
                            reason,
                            DropReason::DhcpMalformed
                                | DropReason::MetadataDisabled
                                | DropReason::MetadataRefused
                        ) =>
                    {
                        self.log_reject(in_port, (owner, via), reason, &ip, len as u64, n)
                    }
                    _ => {}
                }
            }
        }
        match action {
            Action::Forward { delivery, .. } => self.forward(in_port, buf, delivery),
            Action::Drop {
                reason, nacl_slot, ..
            } => {
                self.count_nacl(nacl_slot);
                let charged = match (reason, full_table) {
                    (DropReason::ConntrackFull, Some(eni)) => PortIdx::from(eni),
                    _ => in_port,
                };
                self.drop_frame(charged, reason)
            }
            Action::Reply { len, drop } => {
                let end = (VNET_HDR_LEN + len).min(buf.len());
                self.reply(in_port, &mut buf[..end], drop)
            }
            Action::Consumed => {
                // (A TCP segment the resolver had nothing to answer is consumed too.)
                if let (Some(c), L3::Arp) = (self.counters.get_mut(in_port.idx()), meta.l3) {
                    c.arp_ignored += 1;
                }
            }
            Action::DhcpReply { len } => {
                if let Some(c) = self.counters.get_mut(in_port.idx()) {
                    c.dhcp_replies += 1;
                }
                let end = (VNET_HDR_LEN + len).min(whole.len());
                self.send_answer(in_port, &mut whole[..end]);
            }
            Action::DhcpIgnored => {
                if let Some(c) = self.counters.get_mut(in_port.idx()) {
                    c.dhcp_ignored += 1;
                }
            }
            Action::Resolved(a) => self.resolved(in_port, a),
            Action::Metadata => self.metadata_in(in_port, buf),
        }
    }

    /// Updates the tracked connections (and NAT translations, with their counters) a
    /// cached flow relies on; `bytes` is the packet's IP length.
    #[inline]
    pub(super) fn touch(&mut self, ct: &[Option<CtRef>; 3], flags: u8, bytes: u64) -> Touch {
        let now = self.clock.now();
        for c in ct.iter().flatten() {
            let Some(t) = pipeline::ct_table(&mut self.conntrack, &mut self.nats, c.table) else {
                return Touch::Gone;
            };
            match t.touch(c.conn, c.dir, flags, now) {
                Touch::Ok => {}
                other => return other,
            }
            if let Some(n) = c.table.idx().checked_sub(self.conntrack.len()) {
                if let Some(st) = self.nats.get_mut(n) {
                    st.count(c.dir, bytes);
                }
            }
        }
        Touch::Ok
    }

    #[inline]
    pub(super) fn count_nacl(&mut self, slot: Option<u32>) {
        if let Some(n) = slot.and_then(|s| self.nacl_drops.get_mut(s as usize)) {
            *n += 1;
        }
    }
}
