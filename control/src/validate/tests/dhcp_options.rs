//! DHCP option sets, their association with VPCs, the DHCP knobs of `[lab]`, and the
//! ENIs' addressing mode.

use super::*;

/// A VPC associated with `dopt`, and `extra`.
fn with_set(dopt: &str, extra: &str) -> Result<(Topology, Vec<String>), Vec<String>> {
    check_str(&format!(
        "[[vpc]]\nid = \"vpc-demo\"\ncidr = \"10.0.0.0/16\"\ndhcp_options = \"{dopt}\"\n{extra}"
    ))
}

fn set_errors(body: &str) -> Vec<String> {
    with_set(
        "dopt-x",
        &format!("[[dhcp_options]]\nid = \"dopt-x\"\n{body}\n"),
    )
    .err()
    .unwrap_or_default()
}

fn has(errors: &[String], prefix: &str, needle: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(prefix) && e.contains(needle)),
        "no `{prefix}` error with `{needle}` in {errors:#?}"
    );
}

#[test]
fn option_sets_list_servers_and_a_domain_name_within_aws_limits() {
    let e = set_errors("domain_name_servers = [\"10.0.0.2\", \"1.1.1.1\", \"8.8.8.8\", \"9.9.9.9\", \"AmazonProvidedDNS\"]");
    has(&e, "dopt-x.domain_name_servers:", "at most 4");
    let e = set_errors("domain_name_servers = [\"AmazonProvided\"]");
    has(
        &e,
        "dopt-x.domain_name_servers[0]:",
        "neither an IPv4 address nor AmazonProvidedDNS",
    );
    let e = set_errors(
        "ntp_servers = [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\", \"10.0.0.4\", \"10.0.0.5\"]",
    );
    has(&e, "dopt-x.ntp_servers:", "at most 4");
    let e = set_errors("domain_name = \"bad_name.example\"");
    has(&e, "dopt-x.domain_name:", "label");
    let e = set_errors("domain_name = \"\"");
    has(&e, "dopt-x.domain_name:", "1 to 255");
    assert!(set_errors(
        "domain_name = \"corp.example.com\"\ndomain_name_servers = [\"AmazonProvidedDNS\", \"10.0.0.53\"]\nntp_servers = [\"169.254.169.123\"]"
    )
    .is_empty());
}

#[test]
fn ids_and_associations_name_declared_sets() {
    let e = with_set("dopt-missing", "").err().unwrap_or_default();
    has(
        &e,
        "vpc-demo.dhcp_options:",
        "`dopt-missing` is not a declared [[dhcp_options]]",
    );
    let e = with_set("dopt-x", "[[dhcp_options]]\nid = \"opts-x\"\n")
        .err()
        .unwrap_or_default();
    has(&e, "opts-x.id:", "dopt-");
}

#[test]
fn lab_region_and_lease_time_are_checked() {
    expect(
        "[lab]\nregion = \"EU West\"",
        "lab.region:",
        "lowercase letters",
    );
    expect(
        "[lab]\ndhcp_lease_time = 5",
        "lab.dhcp_lease_time:",
        "at least 10",
    );
    ok("[lab]\nregion = \"eu-west-1\"\ndhcp_lease_time = 60");
}

#[test]
fn eni_addressing_is_static_or_dhcp() {
    let e = errors("[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\naddressing = \"bootp\"");
    assert!(
        e.iter()
            .any(|e| e.contains("addressing") && e.contains("bootp")),
        "{e:#?}"
    );
    // DHCP is the default; secondary addresses are fine with it (the client's script
    // adds them after the lease).
    let (t, w) = ok("[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\nsecondary_ips = [\"10.0.1.11\"]");
    assert_eq!(t.enis[0].addressing, crate::model::Addressing::Dhcp);
    assert!(!w.iter().any(|w| w.contains("addressing")), "{w:#?}");
    let (t, _) = ok("[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\naddressing = \"static\"");
    assert_eq!(t.enis[0].addressing, crate::model::Addressing::Static);
}
