#![allow(missing_docs)] // criterion_group! generates undocumented items
//! The instance metadata service's work per request once the TCP bytes are in: parse
//! the HTTP request (`httparse`), check the token, build the instance's catalog from the
//! running tables (once per configuration epoch: measured apart) and write the answer. The TCP side (smoltcp) and the real kernel
//! client are measured end to end by `vpc10_metadata_e2e::requests_per_second`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dataplane::fixtures::{self, A};
use dataplane::vpc::metadata::catalog::Catalog;
use dataplane::vpc::metadata::http::{parse, Parsed};
use dataplane::vpc::metadata::respond;
use dataplane::vpc::metadata::token::Tokens;
use dataplane::vpc::tables::Tables;

fn metadata(c: &mut Criterion) {
    let mut g = c.benchmark_group("metadata");
    g.throughput(Throughput::Elements(1));
    let tables = Tables::build(fixtures::behind_nat_gateway((1024, 65535))).expect("fixture");
    let opts = tables.config.enis[A.idx()].instance.metadata;
    let mut tokens = Tokens::default();
    let token = tokens.issue(0, 21_600);
    // Built once per configuration epoch, as the service caches it.
    let catalog = Catalog::of(&tables, A);
    for (name, req) in [
        (
            "local-ipv4",
            "GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n".to_string(),
        ),
        (
            "identity-document+token",
            format!("GET /latest/dynamic/instance-identity/document HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n"),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let Parsed::Request(r, _) = parse(black_box(req.as_bytes())) else {
                    panic!("the fixture parses")
                };
                let reply = respond(&r, catalog.as_ref(), opts, &mut tokens, 1_000);
                assert_eq!(reply.status, 200);
                black_box(reply.bytes.len())
            })
        });
    }
    g.bench_function("catalog (once per epoch)", |b| {
        b.iter(|| black_box(Catalog::of(&tables, A)))
    });
    g.finish();
}

criterion_group!(benches, metadata);
criterion_main!(benches);
