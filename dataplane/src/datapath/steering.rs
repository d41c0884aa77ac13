//! One data plane as one of several forwarding workers: which frames it keeps, which it
//! hands to the worker that owns their flow ([`crate::engine::steer`],
//! [`crate::engine::handoff`]), and the frames other workers hand it.
//!
//! A worker keeps a frame whose flow hashes to it. A fragment after the first has no
//! ports to hash: it goes where its datagram's first fragment went, which the reader of
//! that first fragment records in a map all workers share ([`FragOwners`], locked only
//! by fragments). Frames handed across an apply (another epoch) are dropped and counted,
//! since port numbers may have changed.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::io;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use super::*;
use crate::engine::handoff::{Handoff, HandoffKind, Inbox};
use crate::engine::steer::{steer, worker_of, Steer};
use crate::vpc::frag::FRAGMENT_TIMEOUT_MS;
use crate::vpc::metadata::TokenKey;
use crate::wire::PacketMeta;

/// Datagrams whose first fragment's owner is remembered at once, all workers together.
const FRAG_OWNERS: usize = 4096;

/// Which worker owns each recent fragmented datagram (by its first fragment).
#[derive(Debug, Default)]
struct FragOwners {
    map: HashMap<FragKey, (usize, u64)>,
}

impl FragOwners {
    fn record(&mut self, key: FragKey, worker: usize, now: u64) {
        if self.map.len() >= FRAG_OWNERS {
            self.map.retain(|_, (_, until)| *until >= now);
            if self.map.len() >= FRAG_OWNERS {
                self.map.clear();
            }
        }
        self.map
            .insert(key, (worker, now.saturating_add(FRAGMENT_TIMEOUT_MS)));
    }

    fn owner(&self, key: &FragKey, now: u64) -> Option<usize> {
        match self.map.get(key) {
            Some(&(w, until)) if now <= until => Some(w),
            _ => None,
        }
    }
}

/// A data plane's place among the forwarding workers: its number, every worker's
/// inbox, and the shared fragment map.
#[derive(Debug)]
pub struct Steering {
    me: usize,
    inboxes: Arc<[Inbox]>,
    frags: Arc<Mutex<FragOwners>>,
    /// The key of the instance metadata service's session tokens, one for the group: a
    /// token issued by one worker is valid on every other.
    token_key: TokenKey,
}

impl Steering {
    /// The steering of a group of workers, one per wake-up descriptor in `wakers` (the
    /// write ends of each worker's run-loop wake-up socket), in worker order.
    pub fn group(wakers: Vec<UnixStream>) -> io::Result<Vec<Steering>> {
        let inboxes: Arc<[Inbox]> = wakers
            .into_iter()
            .map(Inbox::new)
            .collect::<io::Result<Vec<_>>>()?
            .into();
        let frags = Arc::new(Mutex::new(FragOwners::default()));
        let token_key = TokenKey::random();
        Ok((0..inboxes.len())
            .map(|me| Steering {
                me,
                inboxes: Arc::clone(&inboxes),
                frags: Arc::clone(&frags),
                token_key: token_key.clone(),
            })
            .collect())
    }

    /// This worker's number.
    pub fn worker(&self) -> usize {
        self.me
    }

    /// How many workers there are.
    pub fn workers(&self) -> usize {
        self.inboxes.len()
    }

    /// Every worker's inbox, shared (the daemon builds [`crate::engine::handoff::RemotePort`]s
    /// with it).
    pub fn inboxes(&self) -> Arc<[Inbox]> {
        Arc::clone(&self.inboxes)
    }

    /// The inbox of worker `w`.
    pub fn inbox(&self, w: usize) -> Option<&Inbox> {
        self.inboxes.get(w)
    }

    /// The worker that owns the frame read on `port` (parsed as `meta`), recording the
    /// owner of a first fragment for the rest of its datagram.
    fn owner(&self, port: PortIdx, meta: &PacketMeta, frame: &[u8], now: u64) -> usize {
        let n = self.inboxes.len();
        match steer(meta, frame) {
            Steer::Hash(h) => {
                let w = worker_of(h, n);
                if let L3::Ip(ip) = meta.l3 {
                    if ip.fragment {
                        if let Ok(mut f) = self.frags.lock() {
                            f.record(FragKey::new(port, &ip), w, now);
                        }
                    }
                }
                w
            }
            Steer::LaterFragment => match meta.l3 {
                L3::Ip(ip) => self
                    .frags
                    .lock()
                    .ok()
                    .and_then(|f| f.owner(&FragKey::new(port, &ip), now))
                    // Unknown: kept, and dropped here as unmatched like any such fragment.
                    .unwrap_or(self.me),
                _ => self.me,
            },
        }
    }
}

impl<P: Port> Dataplane<P> {
    /// Makes this data plane one worker of a group ([`Steering::group`]): it keeps only
    /// the frames of its own flows, hands the others to their owner, and its NAT
    /// gateways take only ports that steer back to it; its metadata tokens are the
    /// group's.
    pub fn set_steering(&mut self, steering: Steering) {
        self.set_nat_shard(steering.me, steering.workers());
        self.metadata.set_token_key(steering.token_key.clone());
        self.steering = Some(steering);
    }

    /// Hands the frame in `whole[..len]`, read on `port`, to the worker that owns it when
    /// that is another one; returns whether it did (the frame is no longer ours).
    #[inline]
    pub(super) fn hand_off_rx(
        &mut self,
        port: PortIdx,
        meta: &PacketMeta,
        whole: &[u8],
        len: usize,
    ) -> bool {
        let Some(st) = &self.steering else {
            return false;
        };
        let frame = whole.get(VNET_HDR_LEN..len).unwrap_or_default();
        let to = st.owner(port, meta, frame, self.clock.now());
        if to == st.me {
            return false;
        }
        let queued = st.inboxes.get(to).is_some_and(|inbox| {
            inbox.push(
                HandoffKind::Rx,
                port,
                self.epoch,
                &whole[..len.min(whole.len())],
            )
        });
        if queued {
            self.engine.handed_off += 1;
        }
        true
    }

    /// Processes what other workers handed this one: frames of its flows read elsewhere
    /// (processed as if read here), and frames for ports whose only queue it owns
    /// (written as they are).
    pub fn drain_inbox(&mut self) {
        let Some(st) = &self.steering else { return };
        let mut items = std::mem::take(&mut self.handoffs);
        let me = st.me;
        if let Some(inbox) = st.inboxes.get(me) {
            inbox.take(&mut items);
        }
        if !items.is_empty() {
            self.update_clock();
        }
        while let Some(Handoff {
            kind,
            port,
            epoch,
            len,
            mut buf,
        }) = items.pop_front()
        {
            if epoch != self.epoch {
                self.engine.handoff_stale += 1;
            } else {
                match kind {
                    HandoffKind::Rx => self.process_in(port, &mut buf, len),
                    HandoffKind::Tx => self.send_handed(port, &buf[..len.min(buf.len())]),
                }
            }
            if let Some(inbox) = self.steering.as_ref().and_then(|s| s.inboxes.get(me)) {
                inbox.recycle(buf);
            }
        }
        self.handoffs = items;
        self.flush_sent();
    }

    /// Writes a frame another worker forwarded to `port` (it counted it already).
    fn send_handed(&mut self, port: PortIdx, frame: &[u8]) {
        let Some(Some(p)) = self.ports.get_mut(port.idx()) else {
            return;
        };
        if p.send(frame).is_ok() {
            self.note_sent(port);
        } else {
            self.drop_frame(port, DropReason::TxFailed);
        }
    }

    /// Frames other workers could not hand to this one (its inbox was full).
    pub(super) fn inbox_dropped(&self) -> u64 {
        self.steering
            .as_ref()
            .and_then(|s| s.inboxes.get(s.me))
            .map_or(0, Inbox::dropped)
    }
}

/// Frames handed between workers, kept for their buffers' allocation.
pub(super) type Handoffs = VecDeque<Handoff>;

#[cfg(test)]
mod tests {
    use etherparse::PacketBuilder;

    use super::*;
    use crate::engine::port::MemPort;
    use crate::engine::steer::flow_hash;
    use crate::fixtures::{self, eni_mac, router_mac, A, B};

    /// Two workers over the same in-memory ports (as if each held one queue of every TAP).
    fn pair() -> (Vec<Dataplane<MemPort>>, Vec<UnixStream>) {
        let (mut wakers, mut woken) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let (a, b) = UnixStream::pair().unwrap();
            wakers.push(a);
            woken.push(b);
        }
        let steering = Steering::group(wakers).unwrap();
        let dps = steering
            .into_iter()
            .map(|s| {
                let mut dp =
                    fixtures::mem_dataplane(fixtures::two_subnets_and_middlebox(), 1024, true)
                        .unwrap();
                dp.set_now(1000);
                dp.set_steering(s);
                dp
            })
            .collect();
        (dps, woken)
    }

    /// A UDP frame A → B through the router, with a zero `virtio_net_hdr` in front.
    fn udp(src_port: u16, dst_port: u16) -> Vec<u8> {
        let mut v = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
            .udp(src_port, dst_port)
            .write(&mut v, b"payload")
            .unwrap();
        v
    }

    /// A source port whose flow to port 53 steers to `worker` of 2.
    fn port_for(worker: usize) -> u16 {
        (1024..u16::MAX)
            .find(|&p| worker_of(flow_hash(17, p, 53), 2) == worker)
            .unwrap()
    }

    fn sent(dp: &Dataplane<MemPort>) -> usize {
        dp.port(B).map_or(0, |p| p.tx.len())
    }

    #[test]
    fn a_frame_read_by_the_wrong_worker_is_forwarded_by_its_owner() {
        let (mut dps, _woken) = pair();
        // Worker 0 reads a frame of worker 1's flow: handed over, nothing sent.
        dps[0]
            .port_mut(A)
            .unwrap()
            .rx
            .push_back(udp(port_for(1), 53));
        dps[0].poll(A).unwrap();
        assert_eq!(sent(&dps[0]), 0);
        assert_eq!(dps[0].engine_counters().handed_off, 1);
        assert_eq!(dps[0].counters(A).unwrap().rx_packets, 0);
        assert_eq!(dps[0].engine_counters().flow_misses, 0);
        // Worker 1 forwards it (on its own queue of B) and caches the flow.
        dps[1].drain_inbox();
        assert_eq!(sent(&dps[1]), 1);
        assert_eq!(dps[1].counters(A).unwrap().rx_packets, 1);
        assert_eq!(dps[1].engine_counters().flow_misses, 1);
        // A frame of worker 0's own flow stays there.
        dps[0]
            .port_mut(A)
            .unwrap()
            .rx
            .push_back(udp(port_for(0), 53));
        dps[0].poll(A).unwrap();
        assert_eq!(sent(&dps[0]), 1);
        assert_eq!(dps[0].engine_counters().handed_off, 1);
    }

    #[test]
    fn a_frame_handed_across_an_apply_is_dropped_and_counted() {
        let (mut dps, _woken) = pair();
        dps[0]
            .port_mut(A)
            .unwrap()
            .rx
            .push_back(udp(port_for(1), 53));
        dps[0].poll(A).unwrap();
        // Worker 1 installs a new configuration before it drains.
        let cfg = dps[1].tables().config.clone();
        let plan = (0..dps[1].tables().port_count())
            .map(|i| EniPlan {
                previous: Some(PortIdx(i as u32)),
                port: PortChange::Keep,
            })
            .collect();
        dps[1].install(cfg, plan).unwrap();
        dps[1].drain_inbox();
        assert_eq!(dps[1].engine_counters().handoff_stale, 1);
        assert_eq!(sent(&dps[1]), 0);
    }

    #[test]
    fn later_fragments_follow_their_first_fragment_to_its_worker() {
        let (mut dps, _woken) = pair();
        // A 3000-byte UDP datagram of worker 1's flow, fragmented at 1500.
        let mut big = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
            .udp(port_for(1), 53)
            .write(&mut big, &[7u8; 3000])
            .unwrap();
        let frags = fragments(&big, 1480);
        assert!(frags.len() >= 3);
        // Worker 0 reads them all: every one goes to worker 1.
        for f in &frags {
            dps[0].port_mut(A).unwrap().rx.push_back(f.clone());
        }
        dps[0].poll(A).unwrap();
        assert_eq!(dps[0].engine_counters().handed_off, frags.len() as u64);
        dps[1].drain_inbox();
        assert_eq!(sent(&dps[1]), frags.len());
    }

    /// Splits the IPv4 packet of `frame` (vnet header, Ethernet, IPv4 without options)
    /// into fragments carrying at most `payload` bytes each (a multiple of 8).
    fn fragments(frame: &[u8], payload: usize) -> Vec<Vec<u8>> {
        let head = VNET_HDR_LEN + 14;
        let ip = &frame[head..];
        let body = &ip[20..];
        let mut out = Vec::new();
        let mut off = 0;
        while off < body.len() {
            let end = (off + payload).min(body.len());
            let mut f = frame[..head + 20].to_vec();
            f.extend_from_slice(&body[off..end]);
            let more = end < body.len();
            let total = (20 + end - off) as u16;
            let fo = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
            f[head + 2..head + 4].copy_from_slice(&total.to_be_bytes());
            f[head + 6..head + 8].copy_from_slice(&fo.to_be_bytes());
            f[head + 10..head + 12].copy_from_slice(&[0, 0]);
            let sum = crate::wire::checksum::checksum(&f[head..head + 20]);
            f[head + 10..head + 12].copy_from_slice(&sum.to_be_bytes());
            out.push(f);
            off = end;
        }
        out
    }
}
