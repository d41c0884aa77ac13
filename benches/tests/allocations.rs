//! Zero allocations per packet on the fast path: frames of established flows (plain,
//! behind the realistic rule set, through the NAT gateway, and with flow logs on) are
//! processed with a counting global allocator installed (`allocation-counter`), after
//! warm-up, and must not allocate at all. The slow path's count is checked too: a new
//! connection allocates only when a table grows (amortised).

use dataplane::fixtures::{self, eni_mac, router_mac, A};
use dataplane::vpc::config::{DataplaneConfig, FlowLogConfig, FlowLogTraffic, Interface};
use dataplane::wire::vnet::VNET_HDR_LEN;

/// A 64-byte UDP frame from A to `dst` through the router.
fn frame(dst: [u8; 4], sport: u16) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    etherparse::PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4([10, 0, 1, 10], dst, 64)
        .udp(sport, 5001)
        .write(&mut v, &[0u8; 18])
        .expect("build frame");
    v
}

/// A flow log on `interfaces`, written to /dev/null every 600 s.
fn flow_log(interfaces: Vec<Interface>) -> FlowLogConfig {
    FlowLogConfig {
        id: "fl-alloc".into(),
        interfaces,
        traffic: FlowLogTraffic::All,
        interval_ms: 600_000,
        path: "/dev/null".into(),
        fields: dataplane::observe::flowlog::DEFAULT_FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect(),
    }
}

/// Allocations made by 10,000 frames of one established flow (after 100 warm-up frames),
/// and how many of them hit the flow cache.
fn allocations_per_hit(config: DataplaneConfig, template: &[u8]) -> (u64, u64) {
    let mut dp = benches::dataplane_with_sinks(config, 65_536);
    dp.set_now(1_000);
    let mut buf = template.to_vec();
    for _ in 0..100 {
        buf.copy_from_slice(template);
        dp.process(A, &mut buf);
    }
    let hits_before = dp.engine_counters().flow_hits;
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            buf.copy_from_slice(template);
            dp.process(A, &mut buf);
        }
    });
    let hits = dp.engine_counters().flow_hits - hits_before;
    (info.count_total, hits)
}

#[test]
fn the_fast_path_never_allocates() {
    let b = frame([10, 0, 2, 20], 40_000);
    let internet = frame(fixtures::INTERNET_HOST, 40_000);
    let mut logged = fixtures::two_subnets_and_middlebox();
    logged.flow_logs = vec![flow_log(vec![A.into(), fixtures::B.into()])];
    let cases = [
        ("flow cache hit", fixtures::two_subnets_and_middlebox(), &b),
        (
            "behind 20-entry ACLs and 5x60-rule groups",
            benches::realistic_firewall(1 << 20),
            &b,
        ),
        (
            "through the NAT gateway",
            fixtures::behind_nat_gateway((1024, 65535)),
            &internet,
        ),
        ("with flow logs on both ENIs", logged, &b),
    ];
    for (name, config, template) in cases {
        let (allocs, hits) = allocations_per_hit(config, template);
        assert_eq!(hits, 10_000, "{name}: every frame hit the flow cache");
        assert_eq!(allocs, 0, "{name}: {allocs} allocations in 10,000 frames");
        eprintln!("{name}: 0 allocations in 10,000 frames");
    }
}

#[test]
fn new_connections_allocate_only_as_tables_grow() {
    let mut dp = benches::dataplane_with_sinks(benches::realistic_firewall(1 << 20), 16);
    dp.set_now(1_000);
    let template = frame([10, 0, 2, 20], 0);
    let mut buf = template.clone();
    let n = 10_000u32;
    let before = dp.tracked_connections();
    let info = allocation_counter::measure(|| {
        for i in 0..n {
            buf.copy_from_slice(&template);
            buf[VNET_HDR_LEN + 34..VNET_HDR_LEN + 36].copy_from_slice(&(i as u16).to_be_bytes());
            dp.process(A, &mut buf);
        }
    });
    assert!(
        dp.tracked_connections() >= before + n as usize,
        "every frame opened a connection"
    );
    let per = info.count_total as f64 / f64::from(n);
    eprintln!(
        "new connection: {per:.3} allocations per frame ({} in {n})",
        info.count_total
    );
    // Amortised growth only: far below one allocation per connection.
    assert!(per < 0.1, "{per} allocations per new connection");
}
