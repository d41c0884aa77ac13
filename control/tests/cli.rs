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
    assert_eq!(out.status.code(), Some(1));
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
    for verb in ["validate", "apply", "show", "up", "exec", "down"] {
        let out = vpcctl().args([verb, "--help"]).output().unwrap();
        assert!(out.status.success(), "{verb}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example"),
            "{verb} --help has no example:\n{text}"
        );
    }
}
