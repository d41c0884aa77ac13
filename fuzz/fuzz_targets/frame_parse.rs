//! The checked wire views on arbitrary bytes: `parse_frame` and every `new_checked` /
//! `parse`, then every accessor (which must not panic once the view is built).
#![no_main]

use dataplane::engine::{gso, tx};
use dataplane::wire::{self, arp::ArpRepr, ethernet, ipv4, vnet::VnetHdr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(meta) = wire::parse_frame(data) {
        if let wire::L3::Ip(ip) = &meta.l3 {
            let _ = (ip.src_v4(), ip.dst_v4());
            let _ = wire::icmp_error_quote(data, ip);
        }
        let _ = format!("{meta:?}");
    }
    if let Ok(e) = ethernet::EthernetFrame::new_checked(data) {
        let _ = (e.dst(), e.src(), e.ethertype(), e.payload().len());
        if let Ok(a) = ArpRepr::parse(e.payload()) {
            let mut out = [0u8; 64];
            let _ = a.emit(&mut out);
        }
        if let Ok(ip) = ipv4::Ipv4Packet::new_checked(e.payload()) {
            let _ = (
                ip.header_len(),
                ip.total_len(),
                ip.ident(),
                ip.ttl(),
                ip.protocol(),
            );
            let _ = (ip.checksum(), ip.src(), ip.dst(), ip.dont_fragment());
            let _ = (ip.more_fragments(), ip.frag_offset(), ip.verify_checksum());
            let _ = ip.payload().len();
        }
    }
    let _ = ArpRepr::parse(data);
    if let Ok(ip) = ipv4::Ipv4Packet::new_checked(data) {
        let _ = (
            ip.header_len(),
            ip.total_len(),
            ip.frag_offset(),
            ip.payload().len(),
        );
    }
    if let Ok(h) = VnetHdr::parse(data) {
        let _ = h.is_gso();
    }
    // The rewriters on a copy: a RST in place of a TCP segment.
    let mut copy = data.to_vec();
    let _ = wire::tcp::rewrite_as_rst(&mut copy);
    // The engine's work on a frame after its `virtio_net_hdr` (guest-controlled with
    // vhost-user): MTU check, segment count, checksum completion, software GSO.
    let _ = tx::mtu_fit(data, 1500);
    let _ = tx::mtu_fit(data, 68);
    let _ = tx::segments(data);
    let mut copy = data.to_vec();
    tx::complete_checksum(&mut copy);
    let mut scratch = vec![0u8; dataplane::engine::buf::BUF_SIZE];
    let mut n = 0usize;
    let _ = gso::segment(data, &mut scratch, |seg| n += seg.len());
});
