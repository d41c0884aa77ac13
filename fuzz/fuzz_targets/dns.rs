//! The VPC resolver directly: arbitrary bytes as the DNS payload of a UDP datagram, or of
//! a TCP segment (byte 0 picks, and the TCP flags), from ENI A to the resolver, answered
//! by `dns::answer` from the fixture's tables (instance names, a hosted zone).
#![no_main]

use std::sync::OnceLock;

use dataplane::fixtures::{router_mac, A};
use dataplane::vpc::config::VpcIdx;
use dataplane::vpc::pipeline::dns::{self, DnsState, DnsTable};
use libfuzzer_sys::fuzz_target;
use vpcd_fuzz::{tcp_from_a, udp_from_a, RESOLVER};

fn table() -> &'static DnsTable {
    static T: OnceLock<DnsTable> = OnceLock::new();
    T.get_or_init(|| DnsTable::build(&vpcd_fuzz::config(1)).expect("fixture DNS table"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let frame = if mode & 0x80 == 0 {
        udp_from_a(RESOLVER, 40000, dns::PORT, payload)
    } else {
        tcp_from_a(RESOLVER, 40000, dns::PORT, 1, 1, mode & 0x1f, payload)
    };
    let mut st = DnsState::default();
    for now in [0, 1] {
        if let Ok(a) = dns::answer(table(), &mut st, (A, VpcIdx(0)), router_mac(0), &frame, now) {
            assert!(a.len == 0 || a.forwarded || a.len <= st.frame.len());
        }
    }
});
