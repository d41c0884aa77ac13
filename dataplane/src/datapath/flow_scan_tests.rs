//! The flow cache under a scan, end to end on in-memory ports: a scan of more flows than
//! the cache holds does not evict the established flows' entries wholesale (their hit
//! rate stays high), and the cache stays within its bound. And the end of a batch flushes
//! the ports it sent to.

use etherparse::PacketBuilder;

use crate::datapath::Dataplane;
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, router_mac, A, B};
use crate::wire::vnet::VNET_HDR_LEN;

/// Flows the cache holds.
const CAPACITY: usize = 256;
/// Established flows, each sending one packet per round.
const ESTABLISHED: u16 = 4;
/// New flows of the scan between two rounds of the established flows.
const SCAN_PER_ROUND: u32 = 64;
/// Flows the scan opens in all (16 times the cache).
const SCAN_FLOWS: u32 = 16 * CAPACITY as u32;

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

/// Sends one packet of each established flow; returns the (hits, misses) they made.
fn established_round(dp: &mut Dataplane<MemPort>) -> (u64, u64) {
    let before = dp.engine_counters();
    for f in 0..ESTABLISHED {
        dp.process(A, &mut udp(50_000 + f, 7));
    }
    let after = dp.engine_counters();
    (
        after.flow_hits - before.flow_hits,
        after.flow_misses - before.flow_misses,
    )
}

#[test]
fn a_scan_larger_than_the_flow_cache_keeps_established_flows_cached() {
    let mut dp =
        fixtures::mem_dataplane(fixtures::two_subnets_and_middlebox(), CAPACITY, false).unwrap();
    // Warm-up: the established flows are cached.
    let (_, misses) = established_round(&mut dp);
    assert_eq!(misses, u64::from(ESTABLISHED));
    let (mut hits, mut misses) = (0, 0);
    let mut sent = u64::from(ESTABLISHED);
    let mut scan = 0u32;
    while scan < SCAN_FLOWS {
        // The scan: new flows (one datagram each to a distinct port), all misses.
        for _ in 0..SCAN_PER_ROUND {
            let before = dp.engine_counters().flow_misses;
            dp.process(A, &mut udp(40_000, 1_000 + scan as u16));
            assert_eq!(dp.engine_counters().flow_misses, before + 1, "a new flow");
            scan += 1;
        }
        let (h, m) = established_round(&mut dp);
        hits += h;
        misses += m;
        sent += u64::from(SCAN_PER_ROUND) + u64::from(ESTABLISHED);
        assert!(dp.engine_counters().flows <= CAPACITY as u64, "bounded");
    }
    let e = dp.engine_counters();
    assert_eq!(
        dp.port(B).map(|p| p.sent),
        Some(sent),
        "everything forwarded"
    );
    assert!(
        e.flow_evicted >= u64::from(SCAN_FLOWS) - CAPACITY as u64,
        "the scan made room for itself: {e:?}"
    );
    assert_eq!(e.flow_stale_reclaimed, 0);
    let rate = hits as f64 / (hits + misses) as f64;
    assert!(
        rate >= 0.9,
        "established flows' hit rate {rate:.3} ({hits} hits, {misses} misses) under a scan"
    );
}

#[test]
fn an_apply_leaves_old_entries_to_be_reclaimed_not_cleared() {
    let config = fixtures::two_subnets_and_middlebox();
    let mut dp = fixtures::mem_dataplane(config.clone(), CAPACITY, false).unwrap();
    for f in 0..ESTABLISHED {
        dp.process(A, &mut udp(50_000 + f, 7));
    }
    assert_eq!(dp.engine_counters().flows, u64::from(ESTABLISHED));
    // The same configuration again: a new epoch, every port kept.
    let plan = (0..dp.tables().port_count())
        .map(|i| crate::datapath::EniPlan {
            previous: Some(PortIdx(i as u32)),
            port: crate::datapath::PortChange::Keep,
        })
        .collect();
    dp.install(config, plan).unwrap();
    // The install did not walk the cache; the next packet of each flow finds its stale
    // entry, drops it and runs the slow path under the new epoch.
    assert_eq!(dp.engine_counters().flows, u64::from(ESTABLISHED));
    let (hits, misses) = established_round(&mut dp);
    assert_eq!((hits, misses), (0, u64::from(ESTABLISHED)));
    let e = dp.engine_counters();
    assert_eq!(e.flow_stale_reclaimed, u64::from(ESTABLISHED));
    assert_eq!(e.flows, u64::from(ESTABLISHED));
    let (hits, misses) = established_round(&mut dp);
    assert_eq!((hits, misses), (u64::from(ESTABLISHED), 0));
}

/// A batch that sends to a port flushes it once at its end (a vhost-user guest gets one
/// interrupt per batch); a port the batch did not send to is not flushed.
#[test]
fn a_batch_flushes_each_port_it_sent_to_once() {
    let mut dp =
        fixtures::mem_dataplane(fixtures::two_subnets_and_middlebox(), CAPACITY, false).unwrap();
    let a = PortIdx::from(A);
    for f in 0..3 {
        dp.port_mut(a).unwrap().rx.push_back(udp(50_000 + f, 7));
    }
    assert_eq!(dp.poll(a).unwrap(), 3);
    assert_eq!(dp.port(B).map(|p| (p.sent, p.flushes)), Some((3, 1)));
    assert_eq!(dp.port(A).map(|p| p.flushes), Some(0));
    // Nothing read: nothing flushed.
    assert_eq!(dp.poll(a).unwrap(), 0);
    assert_eq!(dp.port(B).map(|p| p.flushes), Some(1));
}
