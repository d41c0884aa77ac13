//! End-to-end tests of importing what users already run (VPC-9): a Terraform plan of a
//! three-tier VPC imported on the fly by `vpcctl test`, and a second plan that opens one
//! port more changes exactly that check; `vpcctl diff` of the two plans in one command;
//! the AWS CLI descriptions of the demo imported, their generated matrix passing; and
//! `vpcctl import` writing a topology that validates, or nothing on bad input.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use testbeds::{Scratch, Vpcctl};

const RUN: Duration = Duration::from_secs(180);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../control/tests/fixtures")
}

fn vpcctl(scratch: &Scratch, args: &[&str]) -> Output {
    testbeds::init_tracing();
    Vpcctl::new(scratch.join("unused.sock"))
        .unwrap()
        .run(args, RUN)
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The checks of the three-tier plans (instances `eni-web1`, `eni-app1`, `eni-db1`).
fn test_file(plan: &Path) -> String {
    format!(
        r#"topology = "{}"

[[check]]
from = "eni-web1"
to = "eni-app1"
port = 8080
expect = "reach"

[[check]]
from = "eni-app1"
to = "eni-db1"
port = 5432
expect = "reach"

[[check]]
from = "eni-web1"
to = "eni-db1"
port = 5432
expect = "blocked"
explanation = "SUBNET_ACL_RESTRICTION"

[[check]]
name = "nobody reaches the web tier over SSH"
from = "eni-app1"
to = "eni-web1"
port = 22
expect = "blocked"
explanation = "ENI_SG_RULES_MISMATCH"
"#,
        plan.display()
    )
}

#[test]
fn a_terraform_plan_is_tested_on_real_packets_and_one_more_open_port_changes_one_check() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let s = Scratch::new("vpc9-plan").unwrap();
    let tf = fixtures().join("terraform");
    let (plan, open22) = (
        tf.join("three-tier-plan.json"),
        tf.join("three-tier-plan-open22.json"),
    );
    let run = |plan: &Path| -> serde_json::Value {
        let file = s.join(format!(
            "{}.test.toml",
            plan.file_stem().unwrap().to_string_lossy()
        ));
        std::fs::write(&file, test_file(plan)).unwrap();
        let f = file.display().to_string();
        let out = vpcctl(&s, &["test", &f, "--json"]);
        assert!(out.status.code().is_some_and(|c| c < 2), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = run(&plan);
    assert_eq!(before["passed"], true, "{before:#}");
    let after = run(&open22);
    let failed: Vec<&str> = after["files"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["nobody reaches the web tier over SSH"],
        "{after:#}"
    );

    // The same in one command: the reachability that changed between the plans.
    let (a, b) = (plan.display().to_string(), open22.display().to_string());
    let out = vpcctl(&s, &["diff", &a, &b, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes: Vec<String> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}→{}",
                c["probe"].as_str().unwrap(),
                c["old"].as_str().unwrap(),
                c["new"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        changes,
        ["tcp/22 from eni-app1 to eni-web1 blocked→reach"],
        "{d:#}"
    );
}

#[test]
fn the_aws_descriptions_of_the_demo_import_and_their_matrix_passes() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let s = Scratch::new("vpc9-aws").unwrap();
    let dir = fixtures().join("aws").join("demo").display().to_string();
    let out = vpcctl(&s, &["test", "--generate", &dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let matrix = String::from_utf8_lossy(&out.stdout)
        .replace("topology = \"demo\"", &format!("topology = \"{dir}\""));
    let n = matrix.matches("[[check]]").count();
    assert!(n > 100, "{n} checks");
    let file = s.join("demo-matrix.test.toml");
    std::fs::write(&file, &matrix).unwrap();
    let f = file.display().to_string();
    let out = vpcctl(&s, &["test", &f]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{n} checks: {n} passed")),
        "{}",
        text(&out)
    );
}

#[test]
fn import_writes_a_valid_topology_or_nothing() {
    let s = Scratch::new("vpc9-import").unwrap();
    let out_file = s.join("three-tier.toml");
    let o = out_file.display().to_string();
    let plan = fixtures()
        .join("terraform/three-tier-plan.json")
        .display()
        .to_string();
    let out = vpcctl(&s, &["import", "terraform", &plan, "-o", &o]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(&out_file).unwrap();
    assert!(written.starts_with("# Imported by `vpcctl import` from terraform plan"));
    let out = vpcctl(&s, &["validate", &o]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A truncated plan: an error naming the file, nothing written.
    let text_in = std::fs::read_to_string(&plan).unwrap();
    let bad = s.join("truncated.json");
    std::fs::write(&bad, &text_in[..text_in.len() / 2]).unwrap();
    let b = bad.display().to_string();
    let none = s.join("none.toml");
    let n = none.display().to_string();
    let out = vpcctl(&s, &["import", "terraform", &b, "-o", &n]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&b), "{}", text(&out));
    assert!(!none.exists(), "nothing is written");
    // --check validates and writes nothing.
    let dir = fixtures().join("aws/demo").display().to_string();
    let out = vpcctl(&s, &["import", "aws", &dir, "--check", "-o", &n]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stdout.is_empty());
    assert!(!none.exists());
}
