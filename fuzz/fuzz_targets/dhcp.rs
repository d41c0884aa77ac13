//! The VPC router's DHCP server directly: arbitrary bytes as the payload of a client
//! message (UDP 68 → 67, broadcast, from ENI A's MAC), answered by `dhcp::serve` in a
//! packet buffer with room for the reply.
#![no_main]

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use dataplane::engine::buf::BUF_SIZE;
use dataplane::fixtures::{eni_mac, A};
use dataplane::vpc::pipeline::dhcp;
use dataplane::vpc::tables::Tables;
use dataplane::wire::{parse_frame, MacAddr};
use libfuzzer_sys::fuzz_target;

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| Tables::build(vpcd_fuzz::config(1)).expect("fixture tables"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let dst = if mode & 1 == 0 {
        Ipv4Addr::BROADCAST
    } else {
        vpcd_fuzz::ROUTER_A
    };
    let frame = vpcd_fuzz::udp(
        eni_mac(A),
        MacAddr([0xff; 6]),
        Ipv4Addr::UNSPECIFIED,
        dst,
        68,
        67,
        payload,
    );
    let Ok(meta) = parse_frame(&frame) else {
        return;
    };
    if !dhcp::is_client_message(&meta, vpcd_fuzz::ROUTER_A) {
        return;
    }
    let mut buf = vec![0u8; BUF_SIZE];
    buf[..frame.len()].copy_from_slice(&frame);
    let _ = dhcp::serve(tables(), A, &meta, &mut buf, frame.len());
    // A buffer just as long as the request: the answer must not overrun it.
    let mut tight = frame.clone();
    let _ = dhcp::serve(tables(), A, &meta, &mut tight, frame.len());
});
