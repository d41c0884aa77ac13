//! The `vhost-user-backend` side: what the device offers, and what the vring worker thread does
//! on a guest kick or a deferred interrupt request.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use vhost::vhost_user::message::VhostUserProtocolFeatures;
use vhost_user_backend::{VhostUserBackend, VringMutex, VringT};
use virtio_bindings::bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::bindings::virtio_net::{
    VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4,
    VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
    VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF,
};
use virtio_bindings::bindings::virtio_ring::{
    VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
};
use vm_memory::GuestMemoryAtomic;
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};

use super::ring::{Mem, GUEST_HDR_LEN_MRG};
use super::{lock, Shared};
use crate::wire::vnet::VNET_HDR_LEN;

/// The guest memory as the crates share it between threads.
pub(super) type Gm = GuestMemoryAtomic<Mem>;
/// One virtqueue with its kick and call eventfds.
pub(super) type Vring = VringMutex<Gm>;

/// Queue 0: receive (us → guest).
pub(super) const RX_QUEUE: usize = 0;
/// Queue 1: transmit (guest → us).
pub(super) const TX_QUEUE: usize = 1;
const NUM_QUEUES: usize = 2;
/// The largest ring the guest may configure (QEMU's maximum for vhost-user).
pub const MAX_QUEUE_SIZE: usize = 1024;
/// The worker's epoll token for [`Shared::flush_evt`]: past the queues and the crate's own
/// (`NUM_QUEUES`) event.
pub(super) const FLUSH_EVENT: u64 = NUM_QUEUES as u64 + 1;

/// `VHOST_USER_F_PROTOCOL_FEATURES` (bit 30 of the device features).
pub const VHOST_USER_F_PROTOCOL_FEATURES: u64 = 1 << 30;

/// The virtio features the device offers: version 1, checksum and TSO (4, 6, ECN) offloads
/// both ways, merged receive buffers, event index, indirect descriptors, the MAC in config
/// space, and vhost-user protocol features.
pub const DEVICE_FEATURES: u64 = (1 << VIRTIO_F_VERSION_1)
    | (1 << VIRTIO_RING_F_EVENT_IDX)
    | (1 << VIRTIO_RING_F_INDIRECT_DESC)
    | (1 << VIRTIO_NET_F_CSUM)
    | (1 << VIRTIO_NET_F_GUEST_CSUM)
    | (1 << VIRTIO_NET_F_GUEST_TSO4)
    | (1 << VIRTIO_NET_F_GUEST_TSO6)
    | (1 << VIRTIO_NET_F_GUEST_ECN)
    | (1 << VIRTIO_NET_F_HOST_TSO4)
    | (1 << VIRTIO_NET_F_HOST_TSO6)
    | (1 << VIRTIO_NET_F_HOST_ECN)
    | (1 << VIRTIO_NET_F_MRG_RXBUF)
    | (1 << VIRTIO_NET_F_MAC)
    | VHOST_USER_F_PROTOCOL_FEATURES;

/// The protocol features offered: replies to requests that ask for one, and config space
/// reads (the MAC). QEMU's virtio-net takes its MAC from `-device …,mac=` whatever we say.
pub fn protocol_features() -> VhostUserProtocolFeatures {
    VhostUserProtocolFeatures::REPLY_ACK
}

/// What the guest negotiated, as the data path needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Length of the guest's `virtio_net_hdr`: 12 with `VERSION_1` or `MRG_RXBUF`, else 10.
    pub hdr_len: usize,
    /// Whether a received frame may span several receive buffers.
    pub mrg_rxbuf: bool,
}

impl Negotiated {
    /// From the acknowledged feature bits.
    pub fn from_features(acked: u64) -> Negotiated {
        let mrg_rxbuf = acked & (1 << VIRTIO_NET_F_MRG_RXBUF) != 0;
        let v1 = acked & (1 << VIRTIO_F_VERSION_1) != 0;
        Negotiated {
            hdr_len: if v1 || mrg_rxbuf {
                GUEST_HDR_LEN_MRG
            } else {
                VNET_HDR_LEN
            },
            mrg_rxbuf,
        }
    }
}

/// The device as one connection sees it. A fresh one per connection (`gen`), so that a worker
/// thread of a connection that is gone can never touch the next one's state.
pub(super) struct NetBackend {
    pub(super) shared: Arc<Shared>,
    pub(super) gen: u64,
    /// The consumer ends of the exit eventfds handed out by `exit_event`. `vhost-user-backend`
    /// (0.24) takes each with `into_raw_fd`, registers it in its worker's epoll and never
    /// closes it: one descriptor lost per connection, until `EMFILE` refuses every front end
    /// (found by the `vhost_user` fuzz target after about 20,000 connections). Closed when the
    /// backend is dropped.
    pub(super) exit_fds: Mutex<Vec<RawFd>>,
}

impl Drop for NetBackend {
    fn drop(&mut self) {
        for fd in lock(&self.exit_fds).drain(..) {
            // The last holder of the backend is gone, so is the daemon: its worker thread
            // (joined when its handler dropped) and that worker's epoll, the only user the
            // crate made of this descriptor after taking it with `into_raw_fd`. Nothing else
            // knows the number: closing it is ours to do, once.
            let _ = nix::unistd::close(fd);
        }
    }
}

impl NetBackend {
    /// Runs `f` on this connection's state if it is still the current one.
    fn with_conn(&self, f: impl FnOnce(&mut super::Conn)) {
        let mut conn = lock(&self.shared.conn);
        if let Some(c) = conn.as_mut().filter(|c| c.gen == self.gen) {
            f(c);
        }
    }
}

impl VhostUserBackend for NetBackend {
    type Bitmap = ();
    type Vring = Vring;

    fn num_queues(&self) -> usize {
        NUM_QUEUES
    }

    fn max_queue_size(&self) -> usize {
        MAX_QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        DEVICE_FEATURES
    }

    fn acked_features(&self, features: u64) {
        tracing::debug!(
            features = format_args!("{features:#x}"),
            "vhost-user features acked"
        );
        self.with_conn(|c| c.negotiated = Negotiated::from_features(features));
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        protocol_features()
    }

    fn reset_device(&self) {
        self.shared
            .rx_signal_pending
            .store(false, Ordering::Relaxed);
    }

    fn set_event_idx(&self, _enabled: bool) {
        // The vrings know (the handler sets it on each); the data path only asks them.
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        // struct virtio_net_config: mac[6], status (LE u16; VIRTIO_NET_S_LINK_UP = 1).
        let mut cfg = [0u8; 8];
        cfg[..6].copy_from_slice(&self.shared.mac);
        cfg[6] = 1;
        let start = (offset as usize).min(cfg.len());
        let end = start.saturating_add(size as usize).min(cfg.len());
        let mut out = cfg[start..end].to_vec();
        out.resize(size as usize, 0);
        out
    }

    fn update_memory(&self, mem: Gm) -> io::Result<()> {
        self.with_conn(|c| c.mem = Some(mem));
        Ok(())
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        // Without it the worker thread would never leave its loop and dropping the daemon
        // (which joins it) would hang.
        let (consumer, notifier) =
            new_event_consumer_and_notifier(EventFlag::NONBLOCK | EventFlag::CLOEXEC).ok()?;
        lock(&self.exit_fds).push(consumer.as_raw_fd());
        Some((consumer, notifier))
    }

    fn handle_event(
        &self,
        device_event: u16,
        _evset: EventSet,
        vrings: &[Vring],
        _thread_id: usize,
    ) -> io::Result<()> {
        // Never an error: an error would stop the worker thread for the rest of the connection.
        self.with_conn(|c| {
            if c.vrings.is_none() {
                c.vrings = Some(vrings.to_vec());
            }
        });
        match usize::from(device_event) {
            TX_QUEUE => {
                // The run loop drains the ring; the guest need not kick again until it is
                // empty (recv re-enables notifications then).
                if let Some(tx) = vrings.get(TX_QUEUE) {
                    let _ = tx.disable_notification();
                }
                let _ = self.shared.ready.write(1);
            }
            RX_QUEUE => {
                // New receive buffers: nothing waits for them (a frame without room is dropped
                // at once, as a full TAP queue drops).
            }
            _ if u64::from(device_event) == FLUSH_EVENT => {
                let _ = self.shared.flush_consumer.consume();
                if self.shared.rx_signal_pending.swap(false, Ordering::AcqRel) {
                    if let Some(rx) = vrings.get(RX_QUEUE) {
                        signal(rx, &self.shared);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Interrupts the guest for `vring`'s used entries, if it asked to be (event index).
pub(super) fn signal(vring: &Vring, shared: &Shared) {
    if vring.needs_notification().unwrap_or(true) && vring.signal_used_queue().is_ok() {
        shared.stats.interrupts.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_the_offloads_and_negotiates_the_header_length() {
        for bit in [
            VIRTIO_NET_F_CSUM,
            VIRTIO_NET_F_GUEST_CSUM,
            VIRTIO_NET_F_GUEST_TSO4,
            VIRTIO_NET_F_GUEST_TSO6,
            VIRTIO_NET_F_HOST_TSO4,
            VIRTIO_NET_F_HOST_TSO6,
            VIRTIO_NET_F_MRG_RXBUF,
            VIRTIO_F_VERSION_1,
            VIRTIO_RING_F_EVENT_IDX,
        ] {
            assert_ne!(DEVICE_FEATURES & (1 << bit), 0, "feature bit {bit}");
        }
        assert_eq!(DEVICE_FEATURES & VHOST_USER_F_PROTOCOL_FEATURES, 1 << 30);
        // Values from the virtio spec, not only the bindings.
        assert_eq!(
            DEVICE_FEATURES & 0xffff_ffff,
            (1 << 0)
                | (1 << 1)
                | (1 << 5)
                | (1 << 7)
                | (1 << 8)
                | (1 << 9)
                | (1 << 11)
                | (1 << 12)
                | (1 << 13)
                | (1 << 15)
                | (1 << 28)
                | (1 << 29)
                | (1 << 30)
        );
        assert_eq!(DEVICE_FEATURES >> 32, 1, "VIRTIO_F_VERSION_1 is bit 32");

        assert_eq!(
            Negotiated::from_features(DEVICE_FEATURES),
            Negotiated {
                hdr_len: 12,
                mrg_rxbuf: true
            }
        );
        assert_eq!(Negotiated::from_features(0).hdr_len, 10);
        assert_eq!(
            Negotiated::from_features(1 << VIRTIO_F_VERSION_1).hdr_len,
            12
        );
        assert_eq!(
            Negotiated::from_features(1 << VIRTIO_NET_F_MRG_RXBUF).hdr_len,
            12
        );
    }
}
