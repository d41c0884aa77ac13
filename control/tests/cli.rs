//! The `vpcctl` binary, run as a user would (no root, no vpcd needed).
#![allow(clippy::unwrap_used)] // a test file: panicking on setup failure is the point

use std::path::PathBuf;
use std::process::Command;

fn vpcctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vpcctl"));
    c.env_remove("VPCD_SOCKET");
    c
}

fn write(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vpcctl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

const GOOD: &str = r#"
[[vpc]]
id = "vpc-demo"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-mid"
vpc = "vpc-demo"
routes = [{ destination = "10.0.2.0/24", target = "eni-fw" }]

[[route_table]]
id = "rtb-b"
vpc = "vpc-demo"

[[subnet]]
id = "subnet-a"
vpc = "vpc-demo"
cidr = "10.0.1.7/24"
route_table = "rtb-mid"

[[subnet]]
id = "subnet-b"
vpc = "vpc-demo"
cidr = "10.0.2.0/24"

[[eni]]
id = "eni-a1"
subnet = "subnet-a"
private_ip = "10.0.1.10"

[[eni]]
id = "eni-b1"
subnet = "subnet-b"
private_ip = "10.0.2.10"

[[eni]]
id = "eni-fw"
subnet = "subnet-b"
private_ip = "10.0.2.20"
source_dest_check = false
"#;

#[test]
fn validate_ok_prints_summary_and_warnings() {
    let f = write("good.toml", GOOD);
    let out = vpcctl().arg("validate").arg(&f).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!(
            "{}: ok (1 VPC, 2 subnets, 3 route tables, 3 ENIs, 1 network ACL, 1 security group)",
            f.display()
        )
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: subnet-a.cidr:"), "{stderr}");
}

#[test]
fn validate_lists_every_error_and_exits_1() {
    let bad = GOOD
        .replace("10.0.1.10", "10.0.1.1")
        .replace("10.0.2.10", "10.0.2.255")
        .replace("rtb-b", "rt-b");
    let f = write("bad.toml", &bad);
    let out = vpcctl().arg("validate").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "eni-a1.private_ip:",
        "eni-b1.private_ip:",
        "rt-b.id:",
        "3 problems",
    ] {
        assert!(stderr.contains(needle), "missing {needle}:\n{stderr}");
    }
}

/// VPC-7: a route to a target the file does not declare is an error naming the file, the
/// table, the route's field and the fix; with `state = "blackhole"` the file is valid. ENIs
/// without `netns` are warned about (they are left unattached).
#[test]
fn validate_names_deleted_route_targets_and_unattached_enis() {
    let missing = GOOD.replace(r#"target = "eni-fw""#, r#"target = "eni-gone""#);
    let f = write("deleted.toml", &missing);
    let out = vpcctl().arg("validate").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        format!("{}: 1 problem (nothing was changed):", f.display()),
        "  rtb-mid.routes[0].target: no ENI with id `eni-gone`; if it was deleted, keep the route as AWS does by writing `state = \"blackhole\"` on it".to_string(),
    ] {
        assert!(stderr.contains(&needle), "missing {needle}:\n{stderr}");
    }
    let kept = GOOD.replace(
        r#"target = "eni-fw" }"#,
        r#"target = "eni-gone", state = "blackhole" }"#,
    );
    let f = write("kept.toml", &kept);
    let out = vpcctl().arg("validate").arg(&f).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for eni in ["eni-a1", "eni-b1", "eni-fw"] {
        let needle = format!("warning: {eni}.netns: not set, so the ENI is not attached");
        assert!(stderr.contains(&needle), "missing {needle}:\n{stderr}");
    }
}

#[test]
fn show_without_vpcd_says_what_to_do() {
    let out = vpcctl()
        .args(["show", "--socket", "/nonexistent/vpcd.sock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("start it with `vpcctl up FILE`"),
        "{stderr}"
    );
}

#[test]
fn socket_comes_from_the_environment() {
    let out = vpcctl()
        .env("VPCD_SOCKET", "/nonexistent/env.sock")
        .arg("show")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/env.sock"), "{stderr}");
}

#[test]
fn every_verb_has_an_example() {
    for verb in [
        "validate",
        "apply",
        "show",
        "stats",
        "up",
        "exec",
        "down",
        "trace",
        "serve",
        "completions",
        "man",
    ] {
        let out = vpcctl().args([verb, "--help"]).output().unwrap();
        assert!(out.status.success(), "{verb}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example"),
            "{verb} --help has no example:\n{text}"
        );
    }
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// VPC-8: 0 yes, 1 no (an invalid file), 2 usage or system error (a missing file, a bad
/// flag, vpcd not running), as grep and diff.
#[test]
fn exit_status_is_0_yes_1_no_2_error() {
    let good = write("exit-good.toml", GOOD);
    let bad = write("exit-bad.toml", &GOOD.replace("10.0.1.10", "10.0.1.1"));
    let none = "/nonexistent/vpcd.sock";
    let cases: Vec<(Vec<String>, i32)> = vec![
        (vec!["validate".into(), good.display().to_string()], 0),
        (vec!["validate".into(), bad.display().to_string()], 1),
        (vec!["validate".into(), "/nonexistent/t.toml".into()], 2),
        (
            vec![
                "validate".into(),
                "--bogus".into(),
                good.display().to_string(),
            ],
            2,
        ),
        (vec!["validate".into()], 2),
        (vec!["frobnicate".into()], 2),
        // An invalid file is a "no" before vpcd is asked anything.
        (
            vec![
                "apply".into(),
                bad.display().to_string(),
                "--socket".into(),
                none.into(),
            ],
            1,
        ),
        (
            vec![
                "apply".into(),
                good.display().to_string(),
                "--socket".into(),
                none.into(),
            ],
            2,
        ),
        (
            vec![
                "up".into(),
                bad.display().to_string(),
                "--socket".into(),
                none.into(),
            ],
            1,
        ),
        (vec!["show".into(), "--socket".into(), none.into()], 2),
        (vec!["stats".into(), "--socket".into(), none.into()], 2),
        (
            vec![
                "trace".into(),
                "eni-a1".into(),
                "10.0.2.10".into(),
                "--socket".into(),
                none.into(),
            ],
            2,
        ),
        (
            vec![
                "trace".into(),
                "eni-a1".into(),
                "10.0.2.10".into(),
                "--proto".into(),
                "sctp".into(),
                "--socket".into(),
                none.into(),
            ],
            2,
        ),
        (
            vec![
                "exec".into(),
                "eni-a1".into(),
                "--socket".into(),
                none.into(),
                "--".into(),
                "true".into(),
            ],
            2,
        ),
        // down is idempotent: nothing running, nothing to remove.
        (vec!["down".into(), "--socket".into(), none.into()], 0),
        (vec!["--help".into()], 0),
        (vec!["--version".into()], 0),
    ];
    for (args, code) in cases {
        let out = vpcctl().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "vpcctl {}\nstdout: {}\nstderr: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = vpcctl().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit status"), "{help}");
}

/// `validate --json` lists every problem as an object naming resource and field.
#[test]
fn validate_json_has_structured_errors() {
    let bad = GOOD
        .replace("10.0.1.10", "10.0.1.1")
        .replace("10.0.2.10", "10.0.2.255");
    let f = write("json-bad.toml", &bad);
    let out = vpcctl()
        .args(["validate", "--json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["file"], f.display().to_string());
    assert!(v["summary"].is_null(), "{v}");
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{v}");
    for (e, resource) in errors.iter().zip(["eni-a1", "eni-b1"]) {
        assert_eq!(e["resource"], resource, "{v}");
        assert_eq!(e["field"], "private_ip", "{v}");
        assert!(!e["message"].as_str().unwrap().is_empty(), "{v}");
        assert_eq!(e["source"], "validate", "{v}");
    }
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let f = write("json-good.toml", GOOD);
    let out = vpcctl()
        .args(["validate", "--json"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json_of(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["summary"],
        "1 VPC, 2 subnets, 3 route tables, 3 ENIs, 1 network ACL, 1 security group"
    );
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("subnet-a.cidr:")),
        "{v}"
    );
}

/// `apply --json` and `up --json` on an invalid file: validate's shape plus `epoch` null,
/// exit 1, nothing asked of vpcd.
#[test]
fn apply_and_up_json_on_an_invalid_file() {
    let f = write("json-apply-bad.toml", &GOOD.replace("rtb-b", "rt-b"));
    for verb in ["apply", "up"] {
        let out = vpcctl()
            .args([verb, "--json", "--socket", "/nonexistent/vpcd.sock"])
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{verb}");
        let v = json_of(&out);
        assert_eq!(v["ok"], false, "{verb}: {v}");
        assert!(v["epoch"].is_null(), "{verb}: {v}");
        assert_eq!(v["errors"][0]["resource"], "rt-b", "{verb}: {v}");
        assert_eq!(v["errors"][0]["field"], "id", "{verb}: {v}");
        // Not a terminal: no progress lines.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("vpcctl up:"), "{verb}: {stderr}");
    }
}

/// Under `--json`, usage and system errors are JSON too: `{"ok": false, "error": …}`, exit 2.
#[test]
fn json_errors_are_json_with_exit_2() {
    let good = write("json-err-good.toml", GOOD);
    let none = "/nonexistent/vpcd.sock";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "validate".into(),
                "--json".into(),
                "/nonexistent/t.toml".into(),
            ],
            "cannot read /nonexistent/t.toml",
        ),
        (
            vec!["validate".into(), "--json".into(), "--bogus".into()],
            "unexpected argument '--bogus'",
        ),
        (
            vec![
                "apply".into(),
                "--json".into(),
                good.display().to_string(),
                "--socket".into(),
                none.into(),
            ],
            "cannot connect to vpcd",
        ),
        (
            vec![
                "show".into(),
                "--json".into(),
                "--socket".into(),
                none.into(),
            ],
            "cannot connect to vpcd",
        ),
        (
            vec![
                "stats".into(),
                "--json".into(),
                "--socket".into(),
                none.into(),
            ],
            "cannot connect to vpcd",
        ),
        (
            vec![
                "trace".into(),
                "--json".into(),
                "eni-a1".into(),
                "10.0.2.10".into(),
                "--socket".into(),
                none.into(),
            ],
            "cannot connect to vpcd",
        ),
        (
            vec![
                "exec".into(),
                "--json".into(),
                "eni-a1".into(),
                "--socket".into(),
                none.into(),
                "--".into(),
                "true".into(),
            ],
            "cannot connect to vpcd",
        ),
    ];
    for (args, needle) in cases {
        let out = vpcctl().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "vpcctl {}", args.join(" "));
        let v = json_of(&out);
        assert_eq!(v["ok"], false, "{v}");
        let error = v["error"].as_str().unwrap();
        assert!(error.contains(needle), "vpcctl {}: {error}", args.join(" "));
    }
    let out = vpcctl()
        .args(["down", "--json", "--socket", none])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json_of(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["vpcd"], "not running", "{v}");
}

#[test]
fn completions_for_bash_zsh_and_fish_name_every_verb() {
    for shell in ["bash", "zsh", "fish"] {
        let out = vpcctl().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for verb in [
            "validate", "apply", "show", "stats", "up", "exec", "down", "trace", "serve",
        ] {
            assert!(script.contains(verb), "{shell}: {verb}");
        }
    }
    let out = vpcctl().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_come_from_the_cli_definition() {
    let out = vpcctl().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH vpcctl 1"), "{page}");
    for verb in ["validate", "apply", "show", "up", "exec", "down", "trace"] {
        assert!(page.contains(&format!("vpcctl\\-{verb}(1)")), "{verb}");
    }
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");

    let out = vpcctl().args(["man", "apply"]).output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH vpcctl-apply 1  \"vpcctl "), "{page}");
    assert!(page.contains("\\-\\-json"), "{page}");

    let out = vpcctl().args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let dir = std::env::temp_dir().join(format!("vpcctl-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = vpcctl().arg("man").arg("--dir").arg(&dir).output().unwrap();
    assert!(out.status.success());
    for file in ["vpcctl.1", "vpcctl-validate.1", "vpcctl-trace.1"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(text.contains(".TH"), "{file}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Progress lines go to stderr only when it is a terminal: under `script(1)` (a pty) `up`
/// says what it starts; with a pipe it does not. (No root needed: the vpcd binary given
/// does not exist, so `up` stops at its first step, with exit 2.)
#[test]
fn up_shows_progress_only_on_a_terminal() {
    let f = write("progress.toml", GOOD);
    let dir = std::env::temp_dir().join(format!("vpcctl-cli-progress-{}", std::process::id()));
    let socket = dir.join("vpcd.sock");
    let args = [
        "up".to_string(),
        f.display().to_string(),
        "--vpcd".into(),
        "/nonexistent/vpcd".into(),
        "--socket".into(),
        socket.display().to_string(),
    ];
    let out = vpcctl().args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("vpcctl up:"), "{stderr}");
    assert!(stderr.contains("/nonexistent/vpcd"), "{stderr}");

    // The same on a pseudo-terminal.
    let line = format!("{} {}", env!("CARGO_BIN_EXE_vpcctl"), args.join(" "));
    let Ok(out) = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("VPCD_SOCKET")
        .output()
    else {
        eprintln!("script(1) is not installed; the terminal half is skipped");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("vpcctl up: starting vpcd…"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
