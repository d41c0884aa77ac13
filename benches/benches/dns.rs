#![allow(missing_docs)] // criterion_group! generates undocumented items
//! The VPC resolver on in-memory ports: ns per query, from the query frame read on the
//! ENI's port to the answer written back (parse, lookup, encode, frame), for an A query
//! of an instance name, a hosted-zone CNAME chain and an NXDOMAIN.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::fixtures::{self, eni_mac, router_mac, A};
use dataplane::vpc::config::{DnsRecordConfig, DnsRecordKind, HostedZoneConfig, VpcIdx};
use dataplane::wire::vnet::VNET_HDR_LEN;

/// A DNS query (id 1, RD) for `name` of type `qtype`, class IN, in a UDP frame from A
/// to the resolver at 10.0.0.2.
fn query_frame(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    let mut v = vec![0u8; VNET_HDR_LEN];
    etherparse::PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4([10, 0, 1, 10], [10, 0, 0, 2], 64)
        .udp(40_000, 53)
        .write(&mut v, &q)
        .expect("build frame");
    v
}

fn resolver(c: &mut Criterion) {
    let mut g = c.benchmark_group("dns");
    g.throughput(Throughput::Elements(1));
    let mut config = fixtures::two_subnets_and_middlebox();
    // No rate limit here: the bench measures the work per query.
    config.dns.max_pps = u32::MAX;
    config.dns.zones = vec![HostedZoneConfig {
        id: "Zcorp".into(),
        name: "corp.internal".into(),
        vpcs: vec![VpcIdx(0)],
        records: vec![
            DnsRecordConfig {
                name: "db.corp.internal".into(),
                kind: DnsRecordKind::A,
                values: vec!["10.0.3.10".into()],
                ttl: 300,
            },
            DnsRecordConfig {
                name: "www.corp.internal".into(),
                kind: DnsRecordKind::Cname,
                values: vec!["db.corp.internal".into()],
                ttl: 300,
            },
        ],
    }];
    let mut dp = benches::dataplane_with_sinks(config, 1024);
    for (bench, name) in [
        ("a_instance_name", "ip-10-0-2-20.ec2.internal"),
        ("a_zone_cname_chain", "www.corp.internal"),
        ("nxdomain", "nothing.example.com"),
    ] {
        let template = query_frame(name, 1);
        let mut buf = template.clone();
        let before = dp.counters(A).map_or(0, |c| c.dns_answers);
        g.bench_function(bench, |b| {
            b.iter(|| {
                buf.copy_from_slice(&template);
                dp.process(A, black_box(&mut buf));
            })
        });
        let answered = dp.counters(A).map_or(0, |c| c.dns_answers) - before;
        let rx = dp.counters(A).map_or(0, |c| c.rx_packets);
        assert!(answered > 0 && answered <= rx, "every query was answered");
    }
    g.finish();
}

criterion_group!(benches, resolver);
criterion_main!(benches);
