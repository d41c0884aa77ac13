//! Prints the scale figures of issue VPC-12 as Markdown (see `benches::scale`):
//! `scale [MAX_ENIS=10000]`.

use benches::scale;

fn main() -> anyhow::Result<()> {
    let max: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 10_000,
    };
    println!("| ENIs | file | validate | compile | install | re-apply | memory |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in [10usize, 100, 1_000, 10_000]
        .into_iter()
        .filter(|&n| n <= max)
    {
        let f = scale::apply_figures(n, dataplane::datapath::DEFAULT_FLOWS)?;
        println!(
            "| {} | {} KB | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} MB |",
            f.enis,
            f.toml_bytes / 1024,
            f.validate.as_secs_f64() * 1e3,
            f.compile.as_secs_f64() * 1e3,
            f.install.as_secs_f64() * 1e3,
            f.reapply.as_secs_f64() * 1e3,
            f.memory as f64 / 1e6
        );
    }
    // Root only: the real-vpcd figures create namespaces and TAPs.
    if std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
    {
        println!();
        println!("| ENIs (vpcd, TAPs) | first apply (with namespaces) | unchanged | rule changed | detach all | attach all | vpcd memory |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for n in [10usize, 100, 1_000].into_iter().filter(|&n| n <= max) {
            let f = scale::vpcd_apply_figures(n)?;
            let ms = |d: std::time::Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.1} MB |",
                f.enis,
                ms(f.first),
                ms(f.noop),
                ms(f.change),
                ms(f.detach),
                ms(f.attach),
                f.vpcd_rss as f64 / 1e6
            );
        }
    }
    println!();
    let per = scale::memory_per_connection(1_000_000);
    println!("Connection tracking: {per:.0} bytes of resident memory per connection (1,000,000 tracked).");
    let s = scale::scan_figures(dataplane::datapath::DEFAULT_FLOWS, 1_000_000)?;
    println!(
        "Flow cache ({} flows) under a scan of {} new flows interleaved with 64 established ones: \
         established {:.1} % hits, all frames {:.1} % hits, {:.0} frames/s.",
        s.capacity,
        s.scanned,
        s.hot_hit_rate * 100.0,
        s.overall_hit_rate * 100.0,
        s.frames_per_sec
    );
    println!();
    println!("| workers | established flows (Mframes/s) | new NAT connections (k/s) |");
    println!("|---:|---:|---:|");
    for w in [1usize, 2, 4] {
        let f = scale::worker_figures(w, 5_000_000)?;
        println!(
            "| {w} | {:.2} | {:.0} |",
            f.hit_fps / 1e6,
            f.nat_new_per_sec / 1e3
        );
    }
    Ok(())
}
