//! End-to-end test of the HTML report of `vpcctl test` (VPC-8) in a real browser: a run
//! written by hand (no vpcd, no namespaces, no root) is rendered with
//! [`control::testing::html::html`], and headless Chromium
//!
//! 1. takes a screenshot of the page: a PNG of the window's size, not of one color, on which
//!    the matrix's green (reach) and grey (blocked) cells show;
//! 2. dumps the DOM it built from the page: the matrix has the id `reachability-matrix`, and
//!    as many cells carry the class `fail` (and `disagree`, `reach`, `blocked`) as the run has
//!    such checks.
//!
//! Chromium comes from `scripts/setup` (Debian's `chromium`). Without it the test fails
//! under CI (`CI=true`) and is skipped with a note elsewhere. Every Chromium invocation has
//! a deadline and its own profile directory; its stderr (GPU, D-Bus warnings) is ignored
//! unless it fails. With `VPC8_REPORT_OUT=DIR` the page and the screenshot are copied to
//! DIR, to look at.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use control::testing::html::{html, BLOCKED_RGB, REACH_RGB};
use control::testing::report::{CheckReport, Status, StepReport, TestReport, Verdict};
use testbeds::process::run_command;
use testbeds::Scratch;

/// How long one Chromium run may take (a cold start on a loaded 2-core machine included).
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(90);

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

/// The Chromium binary on `PATH` (`chromium`, or `chromium-browser` on some systems).
fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The Chromium binary; under CI its absence fails the test, elsewhere it skips with a note.
fn require_chromium_or_skip() -> Option<PathBuf> {
    match find_chromium() {
        Some(path) => Some(path),
        None if testbeds::privileges::in_ci() => {
            panic!(
                "chromium is not installed (scripts/setup installs it); CI must not skip this test"
            )
        }
        None => {
            // Straight to fd 2, so the note shows under libtest's capture.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: chromium not found on PATH (run scripts/setup as root to install it)"
            );
            None
        }
    }
}

/// Runs headless Chromium on `page` with `args`, its own profile under `scratch`, and a
/// deadline; returns stdout. A failure shows Chromium's stderr.
fn chromium(bin: &Path, scratch: &Scratch, profile: &str, args: &[&str], page: &Path) -> String {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--hide-scrollbars",
    ])
    .arg(format!(
        "--user-data-dir={}",
        scratch.join(profile).display()
    ))
    .args(args)
    .arg(format!("file://{}", page.display()));
    let desc = format!("{} {} {}", bin.display(), args.join(" "), page.display());
    let out = run_command(cmd, &desc, CHROMIUM_DEADLINE).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "`{desc}` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check(
    index: usize,
    step: usize,
    (from, to, dst): (&str, &str, &str),
    port: u16,
    expect: Verdict,
    traffic: Verdict,
    trace: Verdict,
) -> CheckReport {
    let status = match (traffic == expect, trace == traffic) {
        (_, false) => Status::Disagree,
        (true, true) => Status::Pass,
        (false, true) => Status::Fail,
    };
    let word = |v: Verdict| match v {
        Verdict::Reach => "reach",
        Verdict::Blocked => "blocked",
    };
    let message = match status {
        Status::Pass => String::new(),
        Status::Fail => format!(
            "expected {}, the traffic did {}",
            word(expect),
            word(traffic)
        ),
        _ => format!(
            "the traffic did {}, the trace predicts {}",
            word(traffic),
            word(trace)
        ),
    };
    let trace_text = if status == Status::Pass {
        String::new()
    } else {
        format!("1 {from} -> {dst} tcp/{port}\n2   sg rules: allow <rule 0> & deliver")
    };
    CheckReport {
        index,
        name: format!("{from} → {to} tcp/{port}"),
        step,
        from: from.to_owned(),
        to: to.to_owned(),
        dst: dst.to_owned(),
        protocol: "tcp".to_owned(),
        port: Some(port),
        expect,
        traffic: Some(traffic),
        trace: Some(trace),
        seen_source: (traffic == Verdict::Reach).then(|| "10.0.1.10:40000".to_owned()),
        expected_source: None,
        explanation: (trace == Verdict::Blocked).then(|| "ENI_SG_RULES_MISMATCH".to_owned()),
        expected_explanation: None,
        status,
        message,
        trace_text,
        duration_ms: 300,
    }
}

/// A three-tier run: 8 checks before a change (2 failures, 1 disagreement, 3 × 3 matrix
/// with one pair unchecked), 1 after it.
fn run() -> Vec<TestReport> {
    use Verdict::{Blocked, Reach};
    const DB: (&str, &str) = ("eni-db1", "10.0.3.10");
    const APP: (&str, &str) = ("eni-app1", "10.0.2.10");
    const WEB: (&str, &str) = ("inet-web", "198.51.100.80");
    let pair = |from, (to, dst): (&'static str, &'static str)| (from, to, dst);
    let checks = vec![
        check(0, 0, pair("eni-app1", DB), 5432, Reach, Reach, Reach),
        check(1, 0, pair("eni-web1", DB), 5432, Blocked, Blocked, Blocked),
        check(2, 0, pair("inet-client", DB), 5432, Blocked, Reach, Reach),
        check(3, 0, pair("eni-web1", APP), 8080, Reach, Reach, Reach),
        check(4, 0, pair("inet-client", APP), 8080, Blocked, Reach, Reach),
        check(5, 0, pair("eni-app1", WEB), 443, Reach, Reach, Blocked),
        check(6, 0, pair("eni-web1", WEB), 443, Blocked, Blocked, Blocked),
        check(7, 0, pair("eni-app1", APP), 8080, Blocked, Blocked, Blocked),
        check(8, 1, pair("eni-app1", DB), 5432, Blocked, Blocked, Blocked),
    ];
    vec![TestReport {
        file: "tests/three-tier.toml".to_owned(),
        topology: "examples/three-tier.toml".to_owned(),
        started: "2025-03-01T12:00:00Z".to_owned(),
        duration_ms: 4_200,
        steps: vec![StepReport {
            index: 1,
            description: "remove sg-db inbound[0]".to_owned(),
        }],
        checks,
    }]
}

/// The class tokens of every element of `dom` that has a class attribute.
fn classes(dom: &str) -> Vec<HashSet<&str>> {
    dom.split("class=\"")
        .skip(1)
        .map(|rest| {
            rest.split('"')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect()
        })
        .collect()
}

fn cells_with(dom: &str, class: &str) -> usize {
    classes(dom)
        .iter()
        .filter(|c| c.contains("cell") && c.contains(class))
        .count()
}

/// The screenshot's pixels as RGB.
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap();
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        other => panic!("unexpected PNG color type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| match channels {
            1 | 2 => [p[0]; 3],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    (info.width, info.height, pixels)
}

/// How many pixels are within `tolerance` (per channel) of `rgb`.
fn count_near(pixels: &[[u8; 3]], rgb: [u8; 3], tolerance: u8) -> usize {
    pixels
        .iter()
        .filter(|p| (0..3).all(|i| p[i].abs_diff(rgb[i]) <= tolerance))
        .count()
}

#[test]
fn html_report_renders_in_headless_chromium() {
    testbeds::init_tracing();
    let Some(bin) = require_chromium_or_skip() else {
        return;
    };
    let reports = run();
    let fails = reports[0]
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    assert_eq!(fails, 2);

    let scratch = Scratch::new("vpc8-report").unwrap().keep_on_panic(true);
    let page = scratch.join("report.html");
    std::fs::write(&page, html(&reports)).unwrap();
    let shot = scratch.join("report.png");

    // 1. The screenshot.
    chromium(
        &bin,
        &scratch,
        "profile-shot",
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={WIDTH},{HEIGHT}"),
        ],
        &page,
    );
    let size = std::fs::metadata(&shot)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()))
        .len();
    assert!(
        size > 10 * 1024,
        "screenshot of {size} bytes: too small for the page"
    );
    let bytes = std::fs::read(&shot).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (width, height, pixels) = decode_png(&shot);
    assert_eq!((width, height), (WIDTH, HEIGHT));
    let distinct: HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(
        distinct.len() > 50,
        "only {} distinct colors: the page did not render",
        distinct.len()
    );
    // The matrix cells are about 100 × 34 px; the first matrix has 5 green ones and 3 grey.
    let green = count_near(&pixels, REACH_RGB, 4);
    let grey = count_near(&pixels, BLOCKED_RGB, 4);
    assert!(green > 3 * 1500, "{green} green (reach) pixels");
    assert!(grey > 3 * 1500, "{grey} grey (blocked) pixels");

    // 2. The DOM as Chromium built it.
    let dom = chromium(&bin, &scratch, "profile-dom", &["--dump-dom"], &page);
    assert!(dom.contains("id=\"reachability-matrix\""), "{dom}");
    assert!(dom.contains("id=\"reachability-matrix-2\""));
    assert_eq!(cells_with(&dom, "cell"), 9 + 1);
    assert_eq!(cells_with(&dom, "fail"), fails);
    assert_eq!(cells_with(&dom, "disagree"), 1);
    assert_eq!(cells_with(&dom, "reach"), 5);
    assert_eq!(cells_with(&dom, "blocked"), 4);
    assert_eq!(cells_with(&dom, "none"), 1);
    // The traces of the failures and the disagreement, text intact after parsing.
    assert_eq!(dom.matches("<pre>").count(), 3);
    assert!(dom.contains("sg rules: allow &lt;rule 0&gt; &amp; deliver"));

    if let Some(dir) = std::env::var_os("VPC8_REPORT_OUT") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&page, dir.join("report.html")).unwrap();
        std::fs::copy(&shot, dir.join("report.png")).unwrap();
    }
}
