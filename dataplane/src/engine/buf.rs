//! Packet buffers: the size of one buffer and a preallocated pool for one batch, so the
//! forwarding path never allocates per packet.

use crate::wire::vnet::VNET_HDR_LEN;

/// Size of one packet buffer: a `virtio_net_hdr`, a 64 KB IP super-frame and its
/// Ethernet (and one VLAN) header.
pub const BUF_SIZE: usize = VNET_HDR_LEN + 14 + 4 + 65_535;
/// Frames read from one port before they are processed as a batch.
pub const BATCH: usize = 32;
/// Preallocated packet buffers for one batch.
#[derive(Default)]
pub struct Pool {
    /// The buffers, [`BUF_SIZE`] bytes each.
    pub bufs: Vec<Box<[u8]>>,
    /// How many bytes of each buffer hold a frame.
    pub lens: Vec<usize>,
}

impl Pool {
    /// [`BATCH`] buffers of [`BUF_SIZE`] bytes.
    pub fn new() -> Pool {
        Pool {
            bufs: (0..BATCH)
                .map(|_| vec![0u8; BUF_SIZE].into_boxed_slice())
                .collect(),
            lens: vec![0; BATCH],
        }
    }
}
