//! PNG plots with `plotters` (bitmap backend, text through `ab_glyph` with the DejaVu Sans
//! font of `fonts-dejavu-core`): a bar chart per metric, one bar per plane (the median,
//! with a min–max whisker), and the ping latency distribution (a CDF line per plane).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use super::error::{Error, Result};
use super::metrics::{quantile, Metric};
use super::results::{Group, Results};

/// The font file the plots' text is drawn with (Debian: `fonts-dejavu-core`).
pub const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const W: u32 = 900;
const H: u32 = 520;

static FONT_LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

fn load_font() -> Result<()> {
    FONT_LOADED
        .get_or_init(|| {
            let bytes = std::fs::read(FONT)
                .map_err(|e| format!("{FONT}: {e} (install fonts-dejavu-core: scripts/setup)"))?;
            // The registry keeps `&'static` font data; one leak per process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{FONT} is not a usable TrueType font"))
        })
        .clone()
        .map_err(|detail| Error::Plot {
            file: FONT.into(),
            detail,
        })
}

fn plot_err(file: &Path) -> impl Fn(String) -> Error + '_ {
    move |detail| Error::Plot {
        file: file.display().to_string(),
        detail,
    }
}

fn write_png(path: &Path, rgb: &[u8]) -> Result<()> {
    let f = std::fs::File::create(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), W, H);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc
        .write_header()
        .map_err(|e| plot_err(path)(e.to_string()))?;
    w.write_image_data(rgb)
        .map_err(|e| plot_err(path)(e.to_string()))
}

fn color(group: Group, i: usize) -> RGBColor {
    let routed = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(127, 127, 127),
    ];
    let nat = [
        RGBColor(214, 39, 40),
        RGBColor(23, 190, 207),
        RGBColor(188, 189, 34),
        RGBColor(227, 119, 194),
    ];
    match group {
        Group::Routed => routed[i % routed.len()],
        Group::Nat => nat[i % nat.len()],
    }
}

/// Draws `metric`'s bar chart to `path`: one bar per plane with figures (median, whisker
/// from min to max), routed planes first.
pub fn bars(r: &Results, metric: Metric, path: &Path) -> Result<()> {
    load_font()?;
    let rows: Vec<(String, Group, f64, f64, f64)> = r
        .planes
        .iter()
        .filter_map(|(p, g)| {
            let s = r.summary(p, metric)?;
            Some((p.clone(), *g, s.median, s.min, s.max))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let top = rows.iter().map(|r| r.4).fold(0.0, f64::max).max(1e-9) * 1.15;
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let e = plot_err(path);
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{} — median, min–max over {} rounds",
                    metric.label(),
                    r.rounds
                ),
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0..rows.len() - 1).into_segmented(), 0.0..top)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(rows.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    names.get(*i).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .y_desc(metric.label())
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let mut per_group = [0usize; 2];
        for (i, (_, g, med, lo, hi)) in rows.iter().enumerate() {
            let gi = Group::ALL.iter().position(|x| x == g).unwrap_or(0);
            let c = color(*g, per_group[gi]);
            per_group[gi] += 1;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *med),
                ],
                c.filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            chart
                .draw_series(std::iter::once(bar))
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![
                        (SegmentValue::CenterOf(i), *lo),
                        (SegmentValue::CenterOf(i), *hi),
                    ],
                    BLACK.stroke_width(2),
                )))
                .map_err(|x| e(x.to_string()))?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    write_png(path, &buf)
}

/// Draws the ping round-trip distribution to `path`: the CDF of every plane's echoes (all
/// rounds) on a logarithmic x axis up to the largest p99.9.
pub fn latency_cdf(r: &Results, path: &Path) -> Result<()> {
    load_font()?;
    let series: Vec<(String, Group, Vec<f64>)> = r
        .planes
        .iter()
        .filter_map(|(p, g)| {
            let mut t = r.ping_times(p);
            if t.is_empty() {
                return None;
            }
            t.sort_by(f64::total_cmp);
            Some((p.clone(), *g, t))
        })
        .collect();
    if series.is_empty() {
        return Ok(());
    }
    let xmax = series
        .iter()
        .filter_map(|(_, _, t)| quantile(t, 0.999))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.2;
    let xmin = series
        .iter()
        .filter_map(|(_, _, t)| t.first().copied())
        .fold(f64::INFINITY, f64::min)
        .clamp(0.1, xmax / 2.0)
        * 0.8;
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let e = plot_err(path);
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "ping round trip — cumulative distribution (log x axis)",
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((xmin..xmax).log_scale(), 0.0..1.0)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("round trip (µs)")
            .y_desc("share of echoes")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let mut per_group = [0usize; 2];
        for (name, g, t) in &series {
            let gi = Group::ALL.iter().position(|x| x == g).unwrap_or(0);
            let c = color(*g, per_group[gi]);
            per_group[gi] += 1;
            let n = t.len() as f64;
            chart
                .draw_series(LineSeries::new(
                    t.iter()
                        .enumerate()
                        .map(|(i, x)| (x.clamp(xmin, xmax), (i + 1) as f64 / n)),
                    c.stroke_width(2),
                ))
                .map_err(|x| e(x.to_string()))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    write_png(path, &buf)
}

/// Draws every plot into `dir` (`<metric>.png`, `latency_cdf.png`); returns the files
/// written.
pub fn all(r: &Results, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for m in r.metrics() {
        let p = dir.join(format!("{}.png", m.key()));
        bars(r, m, &p)?;
        out.push(p);
    }
    if !r.pings.is_empty() {
        let p = dir.join("latency_cdf.png");
        latency_cdf(r, &p)?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::results::tests::sample_results;

    #[test]
    fn draws_pngs() {
        if !Path::new(FONT).exists() {
            eprintln!("SKIP: {FONT} missing");
            return;
        }
        let dir = std::env::temp_dir().join(format!("suite-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = all(&sample_results(), &dir).unwrap();
        assert_eq!(files.len(), 2);
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{}", f.display());
            assert!(bytes.len() > 2000, "{}", f.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
