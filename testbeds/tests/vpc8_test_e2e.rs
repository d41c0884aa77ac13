//! End-to-end tests of `vpcctl test` and `vpcctl diff` (VPC-8), through the real binary:
//! the shipped example tests pass on real namespaces, with real traffic and a trace per
//! check, and their JUnit XML parses back; a copy with a deliberately broken rule fails
//! exactly the check it should, with the right explanation; a test file with errors runs
//! nothing; `--generate` writes a matrix that then passes; `vpcctl diff` reports exactly
//! the reachability that changed between two versions of the three-tier example.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use quick_xml::events::Event;
use testbeds::{Scratch, Vpcctl};

/// Deadline of one `vpcctl test` run.
const RUN: Duration = Duration::from_secs(120);

/// The repository's `examples/tests`.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests")
}

/// `vpcctl ARGS…` (the socket is unused: every run has its own vpcd).
fn vpcctl(scratch: &Scratch, args: &[&str]) -> Output {
    testbeds::init_tracing();
    let ctl = Vpcctl::new(scratch.join("unused.sock")).unwrap();
    ctl.run(args, RUN).unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// (test cases, failures + errors, names of the failed cases) of a JUnit document.
fn junit_counts(xml: &str) -> (usize, usize, Vec<String>) {
    let mut r = quick_xml::Reader::from_str(xml);
    let (mut cases, mut bad, mut failed) = (0, 0, Vec::new());
    let mut current = String::new();
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => {
                    cases += 1;
                    current = e
                        .try_get_attribute("name")
                        .unwrap()
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                        .unwrap_or_default();
                }
                b"failure" | b"error" => {
                    bad += 1;
                    failed.push(current.clone());
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    (cases, bad, failed)
}

#[test]
fn the_shipped_examples_pass_and_their_junit_reads_back() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let s = Scratch::new("vpc8-examples").unwrap();
    let junit = s.join("report.xml");
    let html = s.join("report.html");
    let files: Vec<String> = ["three-tier", "public-private", "peered", "nacl-traps"]
        .iter()
        .map(|n| {
            examples()
                .join(format!("{n}.test.toml"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["test"];
    args.extend(files.iter().map(String::as_str));
    let (j, h) = (junit.display().to_string(), html.display().to_string());
    args.extend(["--junit", &j, "--html", &h]);
    let out = vpcctl(&s, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = text(&out);
    assert!(summary.contains(" 0 failed"), "{summary}");
    let (cases, bad, _) = junit_counts(&std::fs::read_to_string(&junit).unwrap());
    assert!(cases >= 30, "{cases} test cases");
    assert_eq!(bad, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"reachability-matrix\""));
}

/// three-tier.toml with sg-web's HTTP rule on 8080 instead of 80: exactly the check of
/// HTTP from the internet fails, blocked by the security group, and the JSON says so.
#[test]
fn a_broken_rule_fails_exactly_the_checks_it_breaks() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let s = Scratch::new("vpc8-broken").unwrap();
    let topo = std::fs::read_to_string(examples().join("three-tier.toml")).unwrap();
    let rule = r#"{ protocol = "tcp", ports = "80", source = "0.0.0.0/0" },"#;
    assert_eq!(topo.matches(rule).count(), 1);
    std::fs::write(
        s.join("three-tier.toml"),
        topo.replace(rule, &rule.replace("\"80\"", "\"8080\"")),
    )
    .unwrap();
    std::fs::copy(
        examples().join("three-tier.test.toml"),
        s.join("three-tier.test.toml"),
    )
    .unwrap();
    let file = s.join("three-tier.test.toml").display().to_string();
    let junit = s.join("report.xml").display().to_string();
    let out = vpcctl(&s, &["test", &file, "--json", "--junit", &junit]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false);
    let checks = report["files"][0]["checks"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = checks.iter().filter(|c| c["status"] != "pass").collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["name"], "the internet reaches the web server");
    assert_eq!(failed[0]["status"], "fail");
    assert_eq!(failed[0]["traffic"], "blocked");
    assert_eq!(failed[0]["trace"], "blocked", "trace and traffic agree");
    assert_eq!(failed[0]["explanation"], "ENI_SG_RULES_MISMATCH");
    assert!(failed[0]["trace_text"].as_str().unwrap().contains("sg-web"));
    let (_, bad, names) = junit_counts(&std::fs::read_to_string(s.join("report.xml")).unwrap());
    assert_eq!(
        (bad, names),
        (1, vec!["the internet reaches the web server".to_string()])
    );
}

/// A test file with errors: each names the file, the check or change and the field, and
/// nothing runs (it returns at once, exit 2).
#[test]
fn a_bad_test_file_names_its_problems_and_runs_nothing() {
    let s = Scratch::new("vpc8-bad").unwrap();
    std::fs::copy(
        examples().join("three-tier.toml"),
        s.join("three-tier.toml"),
    )
    .unwrap();
    let bad = s.join("bad.test.toml");
    std::fs::write(
        &bad,
        r#"topology = "three-tier.toml"
[[check]]
from = "eni-nope"
to = "eni-db1"
port = 5432
expect = "reach"
[[check]]
from = "eni-app1"
to = "eni-db1"
protocol = "icmp"
port = 7
expect = "blocked"
[[change]]
remove_rule = { security_group = "sg-nope", direction = "inbound", index = 0 }
"#,
    )
    .unwrap();
    let file = bad.display().to_string();
    let t0 = Instant::now();
    let out = vpcctl(&s, &["test", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        format!("{file}: check[0].from: no ENI or internet host `eni-nope`"),
        format!("{file}: check[1].port: icmp has no ports"),
        format!("{file}: change[0].remove_rule.security_group: no security group `sg-nope`"),
        "nothing was run".to_string(),
    ] {
        assert!(err.contains(&needle), "{needle}\n{err}");
    }
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(t0.elapsed() < Duration::from_secs(10), "it ran something");
}

/// `--generate` writes the matrix expecting what the traffic does; saved next to the
/// topology, it passes.
#[test]
fn a_generated_matrix_passes() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let s = Scratch::new("vpc8-generate").unwrap();
    let topo = s.join("three-tier.toml");
    std::fs::copy(examples().join("three-tier.toml"), &topo).unwrap();
    let t = topo.display().to_string();
    let out = vpcctl(&s, &["test", "--generate", &t]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let matrix = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        matrix.contains("topology = \"three-tier.toml\""),
        "{matrix}"
    );
    let n = matrix.matches("[[check]]").count();
    assert!(n >= 40, "{n} checks");
    assert!(matrix.contains("expect = \"reach\"") && matrix.contains("expect = \"blocked\""));
    let file = s.join("matrix.test.toml");
    std::fs::write(&file, &matrix).unwrap();
    let f = file.display().to_string();
    let out = vpcctl(&s, &["test", &f, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"][0]["checks"].as_array().unwrap().len(), n);
}

/// three-tier-v2 opens SSH from the web tier to the app tier and closes HTTPS on the web
/// tier: `vpcctl diff` reports exactly those probes, with the rule that now allows and
/// what now blocks.
#[test]
fn diff_reports_exactly_the_reachability_that_changed() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let s = Scratch::new("vpc8-diff").unwrap();
    let (old, new) = (
        examples().join("three-tier.toml").display().to_string(),
        examples().join("three-tier-v2.toml").display().to_string(),
    );
    let out = vpcctl(&s, &["diff", &old, &new, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut changes: Vec<String> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}: {} → {}",
                c["probe"].as_str().unwrap(),
                c["old"].as_str().unwrap(),
                c["new"].as_str().unwrap()
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            "tcp/22 from eni-web1 to eni-app1: blocked → reach",
            "tcp/443 from client to 198.51.100.10: reach → blocked",
            "tcp/443 from eni-app1 to eni-web1: reach → blocked",
        ]
    );
    let reasons: Vec<&str> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"via sg-app inbound[1]"), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("ENI_SG_RULES_MISMATCH at sg-web")),
        "{reasons:?}"
    );
    // The same topology against itself: nothing changed, exit 0.
    let out = vpcctl(&s, &["diff", &old, &old]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("none of"), "{}", text(&out));
}

/// `--attach`: the checks run against a vpcd and namespaces that `vpcctl up` made (the
/// topology's namespaces renamed with this run's prefix).
#[test]
fn attach_runs_against_a_lab_brought_up_by_vpcctl_up() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let s = Scratch::new("vpc8-attach").unwrap();
    let prefix = testbeds::RunPrefix::new().unwrap();
    let mut topo = std::fs::read_to_string(examples().join("three-tier.toml")).unwrap();
    for ns in ["web1", "app1", "db1"] {
        let from = format!("netns = \"{ns}\"");
        assert_eq!(topo.matches(&from).count(), 1, "{from}");
        topo = topo.replace(&from, &format!("netns = \"{}\"", prefix.ns_name(ns)));
    }
    let host = "[[internet_host]]\nid = \"client\"\n";
    assert_eq!(topo.matches(host).count(), 1);
    topo = topo.replace(
        host,
        &format!("{host}netns = \"{}\"\n", prefix.ns_name("client")),
    );
    topo.push_str(&format!(
        "\n[internet]\nnetns = \"{}\"\n",
        prefix.ns_name("internet")
    ));
    std::fs::write(s.join("three-tier.toml"), &topo).unwrap();
    std::fs::copy(
        examples().join("three-tier.test.toml"),
        s.join("three-tier.test.toml"),
    )
    .unwrap();
    let ctl = Vpcctl::new(s.join("run").join("vpcd.sock")).unwrap();
    let mut up = ctl.up(&s.join("three-tier.toml")).unwrap();
    let file = s.join("three-tier.test.toml").display().to_string();
    let out = ctl.run(&["test", "--attach", &file], RUN).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("13 passed"), "{}", text(&out));
    let out = up.down().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
