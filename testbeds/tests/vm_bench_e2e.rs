//! VPC-11's VM throughput bench, smoke-sized: one 1-second round of the vhost-user and bridge
//! planes through `testbeds::vm::bench` (two guests each, VM → namespace and VM → VM), checking
//! that every figure is there and positive. The real run is `benches/scripts/vm_throughput.sh`.
//!
//! Root-only; needs `scripts/setup` (QEMU, a kernel, iperf3) and `cargo build -p dataplane -p
//! control --bins` (the harness runs vpcd and vpcctl from next to the test binary).

#![allow(clippy::unwrap_used)]

use testbeds::vm::bench::{self, BenchOptions, Direction, Plane};

#[test]
fn vm_bench_measures_vhost_user_and_bridge() {
    testbeds::init_tracing();
    if !testbeds::require_root_or_skip() || !testbeds::vm::require_vm_or_skip() {
        return;
    }
    let opts = BenchOptions {
        secs: 1,
        rounds: 1,
        planes: vec![Plane::VhostUser, Plane::Bridge],
        ..BenchOptions::default()
    };
    let report = bench::run(&opts).unwrap();
    eprintln!("{}", report.markdown());
    assert_eq!(report.samples.len(), 4, "{:?}", report.samples);
    for plane in [Plane::VhostUser, Plane::Bridge] {
        for direction in Direction::ALL {
            let s = report
                .samples
                .iter()
                .find(|s| s.plane == plane && s.direction == direction)
                .unwrap();
            assert!(s.iperf.mbps > 0.0, "{s:?}");
            assert!(s.iperf.bytes > 0, "{s:?}");
            let qemu = s.qemu_s_per_gb().unwrap();
            assert!(qemu.is_finite() && qemu > 0.0, "{s:?}");
            match plane {
                Plane::Bridge => assert_eq!(s.vpcd_s_per_gb(), None, "{s:?}"),
                _ => {
                    let vpcd = s.vpcd_s_per_gb().unwrap();
                    assert!(vpcd.is_finite() && vpcd > 0.0, "{s:?}");
                }
            }
        }
    }
    let rows = report.summary();
    assert_eq!(rows.len(), 4, "{rows:?}");
    for r in &rows {
        assert!(r.median_mbps > 0.0, "{r:?}");
        let ratio = r.ratio_to_bridge.unwrap();
        assert!(ratio.is_finite() && ratio > 0.0, "{r:?}");
    }
    let csv = report.csv();
    assert_eq!(csv.lines().count(), 5, "{csv}");
}
