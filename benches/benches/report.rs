#![allow(missing_docs)] // criterion_group! generates undocumented items
//! What `vpcctl show`, a metrics scrape and `vpcctl trace` cost the forwarding thread, on
//! the demo topology (`examples/demo.toml`, 9 ENIs, 2 VPCs, gateways, flow logs):
//! - `report/forwarding_thread`: what the forwarding thread does for one report (copy
//!   the counters, share the tables);
//! - `report/assemble`: what the asking thread then does (join counters and tables);
//! - `trace/forwarding_thread`: one traced packet and its reply (an overlay of the
//!   connection tables it touches).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dataplane::observe::report::assemble;
use dataplane::observe::trace::{TraceProtocol, TraceSpec};

fn demo() -> dataplane::datapath::Dataplane<dataplane::engine::port::MemPort> {
    let toml = include_str!("../../examples/demo.toml");
    let compiled = match control::compile_str(toml) {
        Ok(c) => c,
        Err(e) => panic!("demo topology rejected: {e}"),
    };
    benches::dataplane_with_sinks(compiled.config, 65_536)
}

fn spec() -> TraceSpec {
    TraceSpec {
        from: "eni-web1".into(),
        src: None,
        dst: "10.0.1.11".parse().expect("address"),
        protocol: TraceProtocol::Tcp,
        src_port: None,
        dst_port: Some(80),
        icmp_type: None,
        icmp_code: None,
        tcp_flags: None,
        return_path: true,
    }
}

fn report(c: &mut Criterion) {
    let dp = demo();
    let names = |_: &dataplane::engine::port::MemPort| Some("vt0".to_string());
    c.bench_function("report/forwarding_thread", |b| {
        b.iter(|| black_box((dp.shared_tables(), dp.snapshot(names))))
    });
    let (tables, snap) = (dp.shared_tables(), dp.snapshot(names));
    c.bench_function("report/assemble", |b| {
        b.iter(|| black_box(assemble(&tables, snap.clone())))
    });
    let s = spec();
    assert!(dp.trace(&s).is_ok(), "the bench trace runs");
    c.bench_function("trace/forwarding_thread", |b| {
        b.iter(|| black_box(dp.trace(&s)))
    });
}

criterion_group!(benches, report);
criterion_main!(benches);
