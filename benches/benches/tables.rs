#![allow(missing_docs)] // criterion_group! generates undocumented items
//! The policy's tables alone, at the sizes a large VPC reaches: longest-prefix match over
//! 10, 1,000 and 100,000 routes; connection tracking with 10,000 and 1,000,000 entries
//! (lookup of an established connection, and a new connection replacing an expired one);
//! and a NAT gateway choosing and recording a translation for a new connection.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::vpc::config::ConntrackConfig;
use dataplane::vpc::conntrack::{ConnDir, ConnKey, ConnTable, Origin};
use dataplane::vpc::lpm::IpLpm;
use dataplane::vpc::nat::NatState;

/// Spreads `i` over the 32-bit space (Knuth's multiplicative hash), so probes do not walk
/// memory in insertion order.
fn spread(i: u32) -> u32 {
    i.wrapping_mul(2_654_435_761)
}

fn lpm(c: &mut Criterion) {
    let mut g = c.benchmark_group("lpm_lookup");
    g.throughput(Throughput::Elements(1));
    for n in [10u32, 1_000, 100_000] {
        let mut t = IpLpm::default();
        for i in 0..n {
            // Prefixes of /16 to /28 inside 10.0.0.0/8, as route tables of many VPCs'
            // subnets, peerings and appliances would have.
            let len = 16 + (i % 13) as u8;
            let addr = Ipv4Addr::from(0x0a00_0000 | (spread(i) >> 8));
            let net = ipnet::Ipv4Net::new(addr, len).expect("prefix").trunc();
            t.insert(ipnet::IpNet::V4(net), i);
        }
        t.insert("0.0.0.0/0".parse().expect("default"), u32::MAX);
        let probes: Vec<IpAddr> = (0..4096u32)
            .map(|i| IpAddr::V4((0x0a00_0000 | (spread(i ^ 0x5555) >> 8)).into()))
            .collect();
        let mut i = 0usize;
        g.bench_function(format!("{n}_routes"), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(t.lookup(black_box(probes[i])))
            })
        });
    }
    g.finish();
}

/// UDP connection `i` of one ENI (10.0.1.10) to many peers.
fn key(i: u32) -> ConnKey {
    ConnKey {
        proto: 17,
        local: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10)),
        remote: IpAddr::V4(Ipv4Addr::from(0x0b00_0000 | (i >> 8))),
        local_port: 1024 + (i & 0xff) as u16,
        remote_port: 53,
    }
}

fn conntrack(c: &mut Criterion) {
    let mut g = c.benchmark_group("conntrack");
    g.throughput(Throughput::Elements(1));
    for n in [10_000u32, 1_000_000] {
        let cfg = ConntrackConfig {
            max_entries: n,
            ..ConntrackConfig::default()
        };
        let mut t = ConnTable::new(cfg);
        let now = 1_000;
        for i in 0..n {
            t.insert(key(i), Origin::Local, 0, now).expect("room");
        }
        assert_eq!(t.len(), n as usize);
        let probes: Vec<ConnKey> = (0..4096u32).map(|i| key(spread(i) % n)).collect();
        let mut i = 0usize;
        // What a packet of an established connection costs when its flow is not cached:
        // find it, then apply the packet to it.
        g.bench_function(format!("lookup_touch_{n}"), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                if let Some((r, _)) = t.lookup(black_box(&probes[i]), now) {
                    black_box(t.touch(r, ConnDir::Orig, 0, now));
                }
            })
        });
        // A full table: every new connection first removes an old one (as idle expiry
        // would free its slot), then is inserted.
        let mut next = n;
        g.bench_function(format!("replace_{n}"), |b| {
            b.iter(|| {
                let old = key(next - n);
                if let Some((r, _)) = t.lookup(&old, now) {
                    t.remove(r);
                }
                black_box(t.insert(key(next), Origin::Local, 0, now).ok());
                next = next.wrapping_add(1);
            })
        });
        assert_eq!(t.len(), n as usize, "the table stayed full");
    }
    g.finish();
}

fn nat(c: &mut Criterion) {
    let mut g = c.benchmark_group("nat_gateway");
    g.throughput(Throughput::Elements(1));
    let cfg = dataplane::fixtures::behind_nat_gateway((1024, 65535));
    let mut nat = NatState::new(&cfg.nat_gateways[0]);
    let now = 1_000;
    // 10,000 live translations first (TCP: a SYN opens each).
    const SYN: u8 = 0x02;
    let tcp = |i: u32| ConnKey {
        proto: 6,
        local: IpAddr::V4(Ipv4Addr::from(0x0a00_0100 | (i % 250 + 4))),
        remote: IpAddr::V4(Ipv4Addr::from(0xcb00_7100 | ((i >> 12) % 250))),
        local_port: 10_000 + (i & 0xfff) as u16,
        remote_port: 443,
    };
    for i in 0..10_000 {
        let k = tcp(i);
        let (a, p) = nat.allocate(&k).expect("a port");
        nat.bind(k, a, p, SYN, now).expect("bound");
    }
    // Choosing a public address and port for a new connection among 10,000 live ones
    // (nothing recorded: the state stays as it is).
    let mut n = 10_000u32;
    g.bench_function("allocate_10000_live", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            black_box(nat.allocate(black_box(&tcp(n))).ok())
        })
    });
    // Choosing and recording: every 8,192 connections the clock passes the idle timeout
    // (TCP opening: 120 s) and expiry reclaims them, so expiry is part of the cost.
    let mut now = now;
    let mut i = 0u32;
    g.bench_function("allocate_bind_expire", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            if i.is_multiple_of(8192) {
                now += 121_000;
                nat.expire(now);
            }
            let k = tcp(n.wrapping_add(i));
            if let Ok((a, p)) = nat.allocate(black_box(&k)) {
                black_box(nat.bind(k, a, p, SYN, now).ok());
            }
        })
    });
    assert!(nat.metrics().connection_attempt_count > 10_000);
    g.finish();
}

criterion_group!(benches, lpm, conntrack, nat);
criterion_main!(benches);
