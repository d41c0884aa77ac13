//! A smoke run of the benchmark suite: 1 round, 1-second iperf3, the vpcd and kernel
//! planes, TCP with 1 stream and ping. Every figure must be positive and the report files
//! written. Needs root (namespaces); skips without it (fails under `CI=true`).

use std::time::Duration;

use benches::suite::metrics::{Measurement, Metric, Settings};
use benches::suite::quiet::QuietCheck;
use benches::suite::results::Results;
use benches::suite::runner;

#[test]
fn suite_smoke() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    testbeds::init_tracing();
    let specs = runner::select(runner::catalogue(None), "vpcd,kernel").expect("planes");
    let cfg = runner::RunConfig {
        rounds: 1,
        measurements: vec![Measurement::Tcp1, Measurement::Ping],
        settings: Settings {
            secs: 1,
            conns: 100,
            connrate: None,
        },
        // A CI machine is rarely quiet: check, but do not wait long.
        quiet: QuietCheck {
            max_wait: Duration::from_secs(2),
            ..QuietCheck::default()
        },
    };
    let mut results = Results::default();
    runner::run(&specs, &cfg, &mut results);
    assert!(results.problems.is_empty(), "{:#?}", results.problems);
    for (plane, metric) in [
        ("vpcd", Metric::Tcp1),
        ("vpcd", Metric::CpuPerGb),
        ("vpcd", Metric::PingAvg),
        ("vpcd", Metric::PingP99),
        ("kernel", Metric::Tcp1),
        ("kernel", Metric::PingAvg),
        ("kernel", Metric::PingP99),
    ] {
        let v = results.values(plane, metric);
        assert_eq!(v.len(), 1, "{plane} {metric:?}: {v:?}");
        assert!(v[0] > 0.0, "{plane} {metric:?}: {v:?}");
    }
    assert!(results.values("kernel", Metric::CpuPerGb).is_empty());
    assert_eq!(results.quiet_log.len(), 4);
    let dir = testbeds::Scratch::new("suite-smoke").expect("scratch dir");
    let files = runner::write_outputs(&mut results, dir.path()).expect("outputs");
    for name in ["results.md", "results.csv", "ping.csv"] {
        let p = dir.join(name);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", p.display());
    }
    if std::path::Path::new(benches::suite::plot::FONT).exists() {
        for name in ["tcp1_gbps.png", "ping_avg_us.png", "latency_cdf.png"] {
            assert!(dir.join(name).is_file(), "{name} missing: {files:?}");
        }
    }
    let md = std::fs::read_to_string(dir.join("results.md")).expect("results.md");
    assert!(md.contains("| ratio per round | vpcd / kernel |"), "{md}");
}
