//! The vhost-user back end on what the front end (QEMU, and the guest behind it) controls.
//! Rings (most inputs): arbitrary guest memory holding a transmit and a receive split
//! virtqueue — descriptor chains with loops, out-of-range addresses and lengths, indirect
//! tables, avail indices far ahead — driven the way `VhostUserPort::recv_frame` and
//! `send_frame` drive them (`pop_frame`, `push_frame`, `add_used`, notifications); every
//! chain must end as a frame or a counted drop, never a panic or a hang. Messages (inputs
//! whose first byte is `3 mod 4`): the bytes go to a real back end's socket as the front
//! end's vhost-user messages (header and payload per request, through the relay and the
//! `vhost` crate's handler into our `NetBackend`), which must end the connection cleanly
//! and listen again.
#![no_main]

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use dataplane::engine::buf::BUF_SIZE;
use dataplane::sys::vhost_user::{
    pop_frame, push_frame, NotPushed, Popped, VhostUserPort, GUEST_HDR_LEN_MRG, MAX_QUEUE_SIZE,
};
use dataplane::wire::vnet::VNET_HDR_LEN;
use libfuzzer_sys::fuzz_target;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vpcd_fuzz::*;

thread_local! {
    static PORT: RefCell<Option<VhostUserPort>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Some((head, image)) = data.split_first_chunk::<VU_HEADER>() else {
        return;
    };
    if head[0] & 3 == 3 {
        messages(&data[1..]);
    } else {
        rings(head, image);
    }
});

/// A queue of `size` at the given table addresses, as `SET_VRING_*` would set it up.
fn queue(size: u16, desc: u64, avail: u64, used: u64, next_avail: u16, event_idx: bool) -> Queue {
    let mut q = Queue::new(MAX_QUEUE_SIZE as u16).expect("queue");
    q.set_size(size);
    q.set_desc_table_address(Some(desc as u32), Some(0));
    q.set_avail_ring_address(Some(avail as u32), Some(0));
    q.set_used_ring_address(Some(used as u32), Some(0));
    q.set_next_avail(next_avail);
    q.set_event_idx(event_idx);
    q.set_ready(true);
    q
}

fn rings(head: &[u8; VU_HEADER], image: &[u8]) {
    let regions: Vec<_> = VU_REGIONS
        .iter()
        .map(|&(a, l)| (GuestAddress(a), l))
        .collect();
    let mem: GuestMemoryMmap<()> = GuestMemoryMmap::from_ranges(&regions).expect("memory");
    // The image over the regions (the hole between them is skipped).
    for &(a, l) in &VU_REGIONS {
        let start = a as usize;
        if start >= image.len() {
            break;
        }
        let end = (start + l).min(image.len());
        mem.write_slice(&image[start..end], GuestAddress(a))
            .expect("image");
    }
    let size = 1u16 << (head[1] % 11);
    let hdr_len = if head[2] & VU_F_HDR12 != 0 {
        GUEST_HDR_LEN_MRG
    } else {
        VNET_HDR_LEN
    };
    let mrg = head[2] & VU_F_MRG != 0;
    let event_idx = head[2] & VU_F_EVENT_IDX != 0;
    let le = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);

    // Transmit (guest → us), as `recv_frame` drains it.
    let mut tx = queue(size, VU_TX_DESC, VU_TX_AVAIL, VU_TX_USED, le(3), event_idx);
    if tx.is_valid(&mem) {
        let mut buf = vec![0u8; BUF_SIZE];
        let mut rechecked = false;
        // Each pop consumes an avail entry; more than the ring holds twice over is a loop.
        let mut budget = 2 * usize::from(size) + 4;
        loop {
            assert!(budget > 0, "transmit drain does not end");
            budget -= 1;
            match pop_frame(&mut tx, &mem, hdr_len, &mut buf) {
                // A head the guest made up (past the ring) comes back as it is; the used
                // ring refuses it, as `recv_frame` expects.
                Popped::Frame { head, len } => {
                    assert!((VNET_HDR_LEN + 14..=buf.len()).contains(&len), "{len}");
                    let _ = tx.add_used(&mem, head, 0);
                }
                Popped::Dropped { head, .. } => {
                    let _ = tx.add_used(&mem, head, 0);
                }
                Popped::Empty => {
                    if rechecked || !tx.enable_notification(&mem).unwrap_or(false) {
                        break;
                    }
                    rechecked = true;
                }
            }
        }
        let _ = tx.needs_notification(&mem);
    }

    // Receive (us → guest), as `send_frame` fills it.
    let mut rx = queue(size, VU_RX_DESC, VU_RX_AVAIL, VU_RX_USED, le(5), event_idx);
    if rx.is_valid(&mem) {
        let mut used = Vec::new();
        for &l in &head[7..16] {
            let frame = vec![0x5au8; VNET_HDR_LEN + usize::from(l) * 97];
            let before = rx.next_avail();
            let r = push_frame(&mut rx, &mem, hdr_len, mrg, &frame, &mut used);
            for &(h, n) in &used {
                let _ = rx.add_used(&mem, h, n);
            }
            match r {
                Ok(()) => {
                    let total: usize = used.iter().map(|&(_, n)| n as usize).sum();
                    assert_eq!(total, hdr_len + frame.len() - VNET_HDR_LEN);
                    assert!(mrg || used.len() == 1);
                }
                Err(NotPushed::NoBuffers) => {
                    assert!(used.is_empty());
                    assert_eq!(rx.next_avail(), before, "chains consumed without a frame");
                }
                Err(NotPushed::Malformed) => assert!(used.iter().all(|&(_, n)| n == 0)),
                Err(NotPushed::ShortFrame) => unreachable!("frames have their header"),
            }
            let _ = rx.needs_notification(&mem);
        }
    }
}

/// The bytes as one front end's messages on a real back end's socket; the connection must
/// end (it is closed after them) and the port serve the next one.
fn messages(bytes: &[u8]) {
    if bytes.len() > 32 * 1024 {
        return;
    }
    PORT.with(|p| {
        let mut p = p.borrow_mut();
        let port = p.get_or_insert_with(|| {
            let path = std::env::temp_dir()
                .join(format!("vpcd-fuzz-vu-{}", std::process::id()))
                .join("vu.sock");
            VhostUserPort::listen(&path, [2, 0, 0, 0, 0, 1]).expect("listen")
        });
        let before = port.stats().disconnects;
        let mut front = UnixStream::connect(port.path()).expect("connect");
        front
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        // The whole input first (at most 32 KiB: less than the socket buffers, so neither
        // side blocks on the other), then the replies, read and dropped until the back end
        // closes the connection.
        let _ = front.write_all(bytes);
        let _ = front.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = front.read_to_end(&mut sink);
        drop(front);
        let deadline = Instant::now() + Duration::from_secs(8);
        while port.stats().disconnects == before {
            assert!(
                Instant::now() < deadline,
                "the back end did not end the connection: {:?}; threads: {}",
                port.stats(),
                threads()
            );
            std::thread::sleep(Duration::from_micros(50));
        }
        // With nobody connected the port is idle again.
        let mut buf = vec![0u8; BUF_SIZE];
        assert_eq!(port.recv_frame(&mut buf).expect("recv"), None);
    });
}

/// This process's threads (name, kernel wait channel, system call), for a hang's report.
fn threads() -> String {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return String::new();
    };
    let mut out = String::new();
    for t in dir.flatten() {
        let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
        out.push_str(&format!(
            "\n  {} {} [{}]",
            read("comm").trim(),
            read("wchan").trim(),
            read("syscall").split_whitespace().next().unwrap_or("")
        ));
    }
    let mut kinds = std::collections::BTreeMap::new();
    for fd in std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
    {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        let t = target.to_string_lossy();
        let kind = t.split(':').next().unwrap_or("").to_string();
        *kinds.entry(kind).or_insert(0u32) += 1;
    }
    out.push_str(&format!("\n  open descriptors: {kinds:?}"));
    out
}
