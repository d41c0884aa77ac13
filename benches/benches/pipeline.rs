#![allow(missing_docs)] // criterion_group! generates undocumented items
//! The pipeline on in-memory ports: ns per 64-byte frame on a flow-cache hit (the fast
//! path) and a miss (parse, slow path, flow install), the flow cache alone and under a
//! scan, plus the parser and software segmentation of a super-frame alone (the tables:
//! `--bench tables`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::engine::flow::{FlowCache, FlowKey};
use dataplane::engine::port::PortIdx;
use dataplane::fixtures::{self, eni_mac, router_mac, A, B};
use dataplane::wire::vnet::VNET_HDR_LEN;

/// A 64-byte Ethernet frame (UDP, 18 bytes of payload) A → B through the router.
fn frame64(src_port: u16) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    etherparse::PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
        .udp(src_port, 5001)
        .write(&mut v, &[0u8; 18])
        .expect("build frame");
    assert_eq!(
        v.len() - VNET_HDR_LEN,
        60,
        "64 bytes on the wire with the FCS"
    );
    v
}

fn pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline_64B");
    g.throughput(Throughput::Elements(1));

    let mut dp = benches::dataplane_with_sinks(fixtures::two_subnets_and_middlebox(), 65_536);
    let template = frame64(40_000);
    let mut buf = template.clone();
    g.bench_function("flow_cache_hit", |b| {
        b.iter(|| {
            buf.copy_from_slice(&template);
            dp.process(A, black_box(&mut buf));
        })
    });
    assert_eq!(
        dp.port(B).map(|p| p.sent),
        dp.counters(A).map(|c| c.rx_packets),
        "every frame was forwarded"
    );

    // The same hit path with a flow log on both ENIs (records counted per packet,
    // written when the 600 s interval closes; the file is /dev/null).
    let mut logged = fixtures::two_subnets_and_middlebox();
    logged.flow_logs = vec![dataplane::vpc::config::FlowLogConfig {
        id: "fl-bench".into(),
        interfaces: vec![A.into(), B.into()],
        traffic: dataplane::vpc::config::FlowLogTraffic::All,
        interval_ms: 600_000,
        path: "/dev/null".into(),
        fields: dataplane::observe::flowlog::DEFAULT_FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect(),
    }];
    let mut dp = benches::dataplane_with_sinks(logged, 65_536);
    dp.set_now(1_000);
    let mut buf = template.clone();
    g.bench_function("flow_cache_hit_flow_logged", |b| {
        b.iter(|| {
            buf.copy_from_slice(&template);
            dp.process(A, black_box(&mut buf));
        })
    });

    // A cache of 16 flows and a new source port each time: every frame misses.
    let mut dp = benches::dataplane_with_sinks(fixtures::two_subnets_and_middlebox(), 16);
    let mut port: u16 = 0;
    let mut buf = template.clone();
    g.bench_function("flow_cache_miss", |b| {
        b.iter(|| {
            port = port.wrapping_add(1);
            buf.copy_from_slice(&template);
            buf[VNET_HDR_LEN + 34..VNET_HDR_LEN + 36].copy_from_slice(&port.to_be_bytes());
            dp.process(A, black_box(&mut buf));
        })
    });
    let e = dp.engine_counters();
    assert!(
        e.flow_misses + e.flow_hits == 0 || e.flow_misses > e.flow_hits,
        "the miss bench must miss"
    );

    // The same two cases behind the realistic rule set (NACL of 20 entries per
    // direction on both subnets, 5 security groups of 60 rules per direction on both
    // ENIs, tracked at both ends).
    let mut dp = benches::dataplane_with_sinks(benches::realistic_firewall(1 << 20), 65_536);
    dp.set_now(1_000);
    let mut buf = template.clone();
    g.bench_function("firewalled_flow_cache_hit", |b| {
        b.iter(|| {
            buf.copy_from_slice(&template);
            dp.process(A, black_box(&mut buf));
        })
    });
    assert_eq!(
        dp.port(B).map(|p| p.sent),
        dp.counters(A).map(|c| c.rx_packets),
        "every frame was forwarded"
    );

    // Every frame a new connection: flow-cache miss, ACL and group evaluation, two
    // connection-table inserts; the clock jumps past the UDP timeout every 65,536
    // frames and the wheel reclaims them, so expiry is part of the cost.
    let mut dp = benches::dataplane_with_sinks(benches::realistic_firewall(1 << 20), 16);
    let mut now = 1_000u64;
    dp.set_now(now);
    let mut n: u32 = 0;
    let mut buf = template.clone();
    g.bench_function("firewalled_new_connection", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            if n.is_multiple_of(65_536) {
                now += 31_000;
                dp.set_now(now);
                dp.expire();
            }
            buf.copy_from_slice(&template);
            let sport = (n & 0xffff) as u16;
            let dport = 1024 + ((n >> 16) & 0x3fff) as u16;
            buf[VNET_HDR_LEN + 34..VNET_HDR_LEN + 36].copy_from_slice(&sport.to_be_bytes());
            buf[VNET_HDR_LEN + 36..VNET_HDR_LEN + 38].copy_from_slice(&dport.to_be_bytes());
            dp.process(A, black_box(&mut buf));
        })
    });
    let sent = dp.port(B).map(|p| p.sent);
    let r = dp.report(|_| None);
    assert!(
        sent == dp.counters(A).map(|c| c.rx_packets) && r.engine.drops.iter().sum::<u64>() == 0,
        "every new connection was forwarded, none dropped: {:?}",
        r.engine.drops
    );

    // Through the NAT gateway to the internet gateway (SNAT to the EIP, source port
    // rewritten): an established flow on the fast path, and every frame a new
    // connection (port allocation, translation insert, flow install; the clock jumps
    // past the idle timeout every 32,768 frames so expiry is part of the cost).
    let nat_frame = |sport: u16, dport: u16| {
        let mut v = vec![0u8; VNET_HDR_LEN];
        etherparse::PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
            .ipv4([10, 0, 1, 10], fixtures::INTERNET_HOST, 64)
            .udp(sport, dport)
            .write(&mut v, &[0u8; 18])
            .expect("build frame");
        v
    };
    let mut dp = benches::dataplane_with_sinks(fixtures::behind_nat_gateway((1024, 65535)), 65_536);
    dp.set_now(1_000);
    let template = nat_frame(40_000, 53);
    let mut buf = template.clone();
    g.bench_function("nat_gateway_flow_cache_hit", |b| {
        b.iter(|| {
            buf.copy_from_slice(&template);
            dp.process(A, black_box(&mut buf));
        })
    });
    assert_eq!(
        dp.port(fixtures::UPLINK).map(|p| p.sent),
        dp.counters(A).map(|c| c.rx_packets),
        "every frame was forwarded"
    );
    // The same hit with a flow log on the instance and the NAT gateway's interface (four
    // records per packet: the instance's egress, the gateway's ingress and egress).
    let mut logged = fixtures::behind_nat_gateway((1024, 65535));
    logged.flow_logs = vec![dataplane::vpc::config::FlowLogConfig {
        id: "fl-bench".into(),
        interfaces: vec![
            A.into(),
            dataplane::vpc::config::Interface::NatGateway(dataplane::vpc::config::NatIdx(0)),
        ],
        traffic: dataplane::vpc::config::FlowLogTraffic::All,
        interval_ms: 600_000,
        path: "/dev/null".into(),
        fields: dataplane::observe::flowlog::DEFAULT_FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect(),
    }];
    let mut dp = benches::dataplane_with_sinks(logged, 65_536);
    dp.set_now(1_000);
    g.bench_function("nat_gateway_flow_cache_hit_flow_logged", |b| {
        b.iter(|| {
            buf.copy_from_slice(&template);
            dp.process(A, black_box(&mut buf));
        })
    });
    assert_eq!(
        dp.port(fixtures::UPLINK).map(|p| p.sent),
        dp.counters(A).map(|c| c.rx_packets),
        "every frame was forwarded"
    );
    let mut dp = benches::dataplane_with_sinks(fixtures::behind_nat_gateway((1024, 65535)), 16);
    let mut now = 1_000u64;
    dp.set_now(now);
    let mut n: u32 = 0;
    g.bench_function("nat_gateway_new_connection", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            if n.is_multiple_of(32_768) {
                now += 11_000;
                dp.set_now(now);
                dp.expire();
            }
            buf.copy_from_slice(&template);
            let sport = (n & 0xffff) as u16;
            let dport = 1 + ((n >> 16) & 0x3fff) as u16;
            buf[VNET_HDR_LEN + 34..VNET_HDR_LEN + 36].copy_from_slice(&sport.to_be_bytes());
            buf[VNET_HDR_LEN + 36..VNET_HDR_LEN + 38].copy_from_slice(&dport.to_be_bytes());
            dp.process(A, black_box(&mut buf));
        })
    });
    let r = dp.report(|_| None);
    assert!(
        dp.port(fixtures::UPLINK).map(|p| p.sent) == dp.counters(A).map(|c| c.rx_packets)
            && r.engine.drops.iter().sum::<u64>() == 0,
        "every new connection was translated and forwarded: {:?}",
        r.engine.drops
    );
    g.finish();
}

/// The flow cache alone (65,536 flows) and under a scan in the pipeline.
fn flow_cache(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_cache");
    g.throughput(Throughput::Elements(1));
    let key = |i: u32| FlowKey {
        in_port: PortIdx(i % 4),
        src_mac: eni_mac(A),
        dst_mac: router_mac(0),
        src: std::net::Ipv4Addr::from(0x0a00_0000 | (i >> 8)).into(),
        dst: [10, 0, 2, 20].into(),
        proto: 17,
        src_port: i as u16,
        dst_port: 5001,
    };
    const N: u32 = 65_536;
    let mut cache = FlowCache::<u64>::new(N as usize);
    for i in 0..N {
        cache.insert(key(i), 1, u64::from(i));
    }
    // Hits spread over the whole table (a large working set, not one hot line).
    let probes: Vec<FlowKey> = (0..4096u32)
        .map(|i| key(i.wrapping_mul(2_654_435_761) % N))
        .collect();
    let mut i = 0usize;
    g.bench_function("hit_65536", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(cache.get(black_box(&probes[i]), 1))
        })
    });
    // Every insert a new flow into the full table: one CLOCK eviction each.
    let mut n = N;
    g.bench_function("insert_evict_65536", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            cache.insert(black_box(key(n)), 1, u64::from(n));
        })
    });
    assert_eq!(cache.len(), N as usize);

    // The pipeline with a cache of 1,024 flows: per iteration one frame of a new flow
    // (a scan, one new destination port each time) and one of four established flows.
    let mut dp = benches::dataplane_with_sinks(fixtures::two_subnets_and_middlebox(), 1024);
    let hot: Vec<Vec<u8>> = (0..4).map(|f| frame64(50_000 + f)).collect();
    let scan = frame64(40_000);
    let mut buf = scan.clone();
    // The established flows are cached before the scan starts.
    for h in &hot {
        dp.process(A, &mut h.clone());
    }
    let hits_before = dp.engine_counters().flow_hits;
    let (mut n, mut hot_sent) = (0u32, 0u64);
    g.throughput(Throughput::Elements(2));
    g.bench_function("scan_with_hot_flows", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            buf.copy_from_slice(&scan);
            buf[VNET_HDR_LEN + 34..VNET_HDR_LEN + 36].copy_from_slice(&(n as u16).to_be_bytes());
            buf[VNET_HDR_LEN + 36..VNET_HDR_LEN + 38]
                .copy_from_slice(&(1 + (n >> 16) as u16).to_be_bytes());
            dp.process(A, black_box(&mut buf));
            buf.copy_from_slice(&hot[(n & 3) as usize]);
            dp.process(A, black_box(&mut buf));
            hot_sent += 1;
        })
    });
    // Only the established flows can hit (every scan frame is a new flow).
    let hits = dp.engine_counters().flow_hits - hits_before;
    assert!(
        hits * 10 >= hot_sent * 9,
        "the established flows stay cached under the scan: {hits} hits of {hot_sent}"
    );
    g.finish();
}

fn stages(c: &mut Criterion) {
    let f = frame64(40_000);
    c.bench_function("parse_frame_64B", |b| {
        b.iter(|| dataplane::wire::parse_frame(black_box(&f[VNET_HDR_LEN..])))
    });
    // Software segmentation of a 64 KB super-frame (45 segments of 1448 bytes), what an
    // MTU-limited hop pays for a super-frame it cannot pass whole.
    let mut sf = vec![0u8; VNET_HDR_LEN];
    etherparse::PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4([10, 0, 1, 10], [10, 0, 2, 20], 64)
        .tcp(40_000, 5001, 1, 64_000)
        .ack(1)
        .write(&mut sf, &vec![0x5a; 45 * 1448])
        .expect("build super-frame");
    dataplane::wire::vnet::VnetHdr {
        gso_type: dataplane::wire::vnet::GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1448,
        ..Default::default()
    }
    .emit(&mut sf)
    .expect("vnet header");
    let mut scratch = vec![0u8; dataplane::engine::buf::BUF_SIZE];
    let mut g = c.benchmark_group("gso");
    g.throughput(Throughput::Bytes((sf.len() - VNET_HDR_LEN) as u64));
    g.bench_function("segment_64KB_into_1448", |b| {
        b.iter(|| {
            dataplane::engine::gso::segment(black_box(&sf), &mut scratch, |s| {
                black_box(s);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, pipeline, flow_cache, stages);
criterion_main!(benches);
