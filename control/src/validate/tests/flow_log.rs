//! Flow logs and `[lab] flow_log_interval`.

use super::*;

#[test]
fn flow_logs_accept_the_documented_schema() {
    let (t, w) = ok(&format!(
        "{}{}{}{}[lab]\nflow_log_interval = 0.5\n",
        eni("eni-a", "10.0.1.10"),
        fl(
            "fl-vpc",
            &format!(
                "resource = \"vpc-demo\"\ntraffic_type = \"ALL\"\nmax_aggregation_interval = 60\nlog_destination = \"{}\"\n{}",
                fl_path("schema-vpc"),
                r#"log_format = "${version} ${vpc-id} ${srcaddr} ${dstaddr} ${tcp-flags} ${flow-direction} ${traffic-path}"
"#
            ),
        ),
        fl(
            "fl-subnet",
            &format!(
                "resource = \"subnet-a\"\ntraffic_type = \"reject\"\nlog_destination = \"{}\"\n",
                fl_path("schema-subnet")
            ),
        ),
        fl(
            "fl-eni",
            &format!(
                "resource = \"eni-a\"\ntraffic_type = \"Accept\"\nlog_destination = \"{}\"\n",
                fl_path("schema-eni")
            ),
        ),
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(t.flow_logs.len(), 3);
    assert_eq!(t.flow_logs[1].max_aggregation_interval, 600, "the default");
    assert_eq!(t.lab.clone().unwrap().flow_log_interval, Some(0.5));
}

#[test]
fn flow_log_ids_carry_their_prefix_and_are_unique() {
    expect(
        &fl("flow-1", &fl_on("id-1", "subnet-a", "")),
        "flow-1.id:",
        "must start with `fl-` (the AWS id prefix of a flow log)",
    );
    expect(
        &fl("fl-", &fl_on("id-2", "subnet-a", "")),
        "fl-.id:",
        "followed by letters",
    );
    expect(
        &format!("[[flow_log]]\n{}", fl_on("id-3", "subnet-a", "")),
        "flow_log[0].id:",
        "missing id",
    );
    expect(
        &format!(
            "{}{}",
            fl("fl-1", &fl_on("id-4", "subnet-a", "")),
            fl("fl-1", &fl_on("id-5", "vpc-demo", ""))
        ),
        "fl-1.id:",
        "duplicate id: flow_log[1] reuses the id of flow_log[0]",
    );
}

#[test]
fn flow_log_resource_is_an_existing_eni_subnet_or_vpc() {
    for (resource, needle) in [
        ("eni-nope", "no ENI with id `eni-nope`"),
        ("subnet-nope", "no subnet with id `subnet-nope`"),
        ("vpc-nope", "no VPC with id `vpc-nope`"),
        ("igw-x", "`igw-x` is not an ENI, a subnet or a VPC"),
        ("", "missing resource"),
    ] {
        expect(
            &fl("fl-1", &fl_on("resource", resource, "")),
            "fl-1.resource:",
            needle,
        );
    }
    // A resource that failed to parse is not reported again as missing.
    let e = errors(&format!(
        "[[eni]]\nid = \"eni-x\"\nsubnet = \"subnet-a\"\nprivate_ip = \"nope\"\n{}",
        fl("fl-1", &fl_on("resource-broken", "eni-x", ""))
    ));
    assert!(e.iter().all(|e| !e.starts_with("fl-1.")), "{e:?}");
}

#[test]
fn flow_log_traffic_type_is_all_accept_or_reject() {
    expect(
        &fl(
            "fl-1",
            &fl_on("traffic", "subnet-a", "").replace("\"ALL\"", "\"DENY\""),
        ),
        "fl-1.traffic_type:",
        "expected ALL, ACCEPT or REJECT",
    );
    expect(
        &fl(
            "fl-1",
            &fl_on("traffic", "subnet-a", "").replace("traffic_type = \"ALL\"\n", ""),
        ),
        "fl-1.traffic_type:",
        "missing traffic_type",
    );
    for v in ["all", "accept", "REJECT", "Reject"] {
        ok(&fl(
            "fl-1",
            &fl_on("traffic", "subnet-a", "").replace("\"ALL\"", &format!("\"{v}\"")),
        ));
    }
}

#[test]
fn flow_log_interval_is_60_or_600() {
    for (secs, good) in [
        (60, true),
        (600, true),
        (0, false),
        (1, false),
        (300, false),
    ] {
        let src = fl(
            "fl-1",
            &fl_on(
                "interval",
                "subnet-a",
                &format!("max_aggregation_interval = {secs}\n"),
            ),
        );
        if good {
            ok(&src);
        } else {
            expect(&src, "fl-1.max_aggregation_interval:", "60 or 600 seconds");
        }
    }
}

#[test]
fn flow_log_destination_is_an_absolute_file_in_an_existing_directory() {
    let with = |dest: &str| {
        fl(
            "fl-1",
            &format!(
                "resource = \"subnet-a\"\ntraffic_type = \"ALL\"\nlog_destination = \"{dest}\"\n"
            ),
        )
    };
    expect(
        &with("flow.log"),
        "fl-1.log_destination:",
        "not an absolute path",
    );
    expect(
        &with(&std::env::temp_dir().to_string_lossy()),
        "fl-1.log_destination:",
        "is a directory",
    );
    let missing = std::env::temp_dir().join("vpcctl-validate-no-such-dir/flow.log");
    expect(
        &with(&missing.to_string_lossy()),
        "fl-1.log_destination:",
        "does not exist",
    );
    expect(&with("/"), "fl-1.log_destination:", "is a directory");
    expect(
        &fl("fl-1", "resource = \"subnet-a\"\ntraffic_type = \"ALL\"\n"),
        "fl-1.log_destination:",
        "missing log_destination",
    );
}

#[test]
fn flow_log_format_is_known_fields_separated_by_spaces_each_once() {
    let with = |format: &str| {
        fl(
            "fl-1",
            &fl_on("format", "subnet-a", &format!("log_format = '{format}'\n")),
        )
    };
    ok(&with("${version}  ${srcaddr} ${traffic-path}"));
    for (format, needle) in [
        (
            "${version},${srcaddr}",
            "token 0 `${version},${srcaddr}` is not of the form",
        ),
        ("${version}\t${srcaddr}", "is not of the form `${field}`"),
        ("${version} srcaddr", "token 1 `srcaddr` is not of the form"),
        ("${version} $srcaddr", "token 1 `$srcaddr`"),
        (
            "${version} ${src-addr}",
            "unknown field `src-addr`; the fields are version,",
        ),
        (
            "${srcaddr} ${version} ${srcaddr}",
            "`${srcaddr}` appears more than once",
        ),
        ("   ", "empty; leave log_format out"),
    ] {
        expect(&with(format), "fl-1.log_format:", needle);
    }
    // Every bad token is reported.
    let e = errors(&with("a ${b} ${version} ${version}"));
    assert_eq!(
        e.iter()
            .filter(|e| e.starts_with("fl-1.log_format:"))
            .count(),
        3,
        "{e:?}"
    );
}

#[test]
fn flow_logs_writing_the_same_file_warn() {
    let (_, w) = ok(&format!(
        "{}{}",
        fl("fl-1", &fl_on("same", "subnet-a", "")),
        fl("fl-2", &fl_on("same", "vpc-demo", "")),
    ));
    assert!(
        w.iter().any(|w| w.starts_with("fl-2.log_destination:")
            && w.contains("also the destination of fl-1")),
        "{w:?}"
    );
    // The same file written differently is still the same file.
    let twice = fl_path("same").replace('/', "//");
    warns(
        &format!(
            "{}{}",
            fl("fl-1", &fl_on("same", "subnet-a", "")),
            fl(
                "fl-2",
                &format!("resource = \"vpc-demo\"\ntraffic_type = \"ALL\"\nlog_destination = \"{twice}\"\n"),
            ),
        ),
        "fl-2.log_destination:",
        "also the destination of fl-1",
    );
}

#[test]
fn flow_log_scope_without_enis_warns() {
    warns(
        &fl("fl-1", &fl_on("empty", "subnet-a", "")),
        "fl-1.resource:",
        "subnet-a has no ENIs",
    );
    let (_, w) = ok(&format!(
        "{}{}",
        eni("eni-a", "10.0.1.10"),
        fl("fl-1", &fl_on("empty", "vpc-demo", ""))
    ));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn lab_flow_log_interval_is_positive() {
    for (secs, good) in [
        ("0.05", true),
        ("1", true),
        ("0", false),
        ("-1", false),
        ("nan", false),
    ] {
        let src = format!("[lab]\nflow_log_interval = {secs}\n");
        if good {
            ok(&src);
        } else {
            expect(&src, "lab.flow_log_interval:", "greater than 0");
        }
    }
}

#[test]
fn flow_log_errors_are_reported_together() {
    let src = format!(
        "{}{}",
        fl(
            "fl-a",
            "resource = \"subnet-nope\"\nmax_aggregation_interval = 5\nlog_destination = \"x.log\"\nlog_format = \"${nope}\"\n",
        ),
        fl("fl-b", &fl_on("together", "igw-1", "")),
    );
    let e = errors(&src);
    for prefix in [
        "fl-a.resource:",
        "fl-a.traffic_type:",
        "fl-a.max_aggregation_interval:",
        "fl-a.log_destination:",
        "fl-a.log_format:",
        "fl-b.resource:",
    ] {
        assert!(e.iter().any(|e| e.starts_with(prefix)), "{prefix}: {e:?}");
    }
}

#[test]
fn flow_logs_may_name_a_nat_gateway_interface_and_count_it_in_its_subnet() {
    let private = "connectivity = \"private\"\n";
    // The derived interface id and a given one are both flow-log resources.
    ok(&format!(
        "{}{}{}{}",
        nat("nat-a", private),
        nat(
            "nat-b",
            &format!("{private}network_interface_id = \"eni-0b\"\n")
        ),
        fl("fl-a", &fl_on("nat-a", "eni-nat-a", "")),
        fl("fl-b", &fl_on("nat-b", "eni-0b", "")),
    ));
    // Once given another id, the derived one names nothing.
    expect(
        &format!(
            "{}{}",
            nat(
                "nat-b",
                &format!("{private}network_interface_id = \"eni-0b\"\n")
            ),
            fl("fl-b", &fl_on("nat-b-derived", "eni-nat-b", "")),
        ),
        "fl-b.resource:",
        "no ENI with id `eni-nat-b`",
    );
    // A subnet (or VPC) with a NAT gateway and no ENI is not empty.
    for scope in ["subnet-a", "vpc-demo"] {
        let (_, w) = ok(&format!(
            "{}{}",
            nat("nat-a", private),
            fl("fl-1", &fl_on("nat-scope", scope, ""))
        ));
        assert!(w.is_empty(), "{scope}: {w:?}");
    }
}

#[test]
fn flow_log_lab_interval_is_positive() {
    for (secs, good) in [
        ("0.05", true),
        ("2", true),
        ("0", false),
        ("-1", false),
        ("nan", false),
        ("inf", false),
    ] {
        let src = fl(
            "fl-1",
            &fl_on(
                "lab-interval",
                "subnet-a",
                &format!("lab_interval = {secs}\n"),
            ),
        );
        if good {
            ok(&src);
        } else {
            expect(&src, "fl-1.lab_interval:", "greater than 0");
        }
    }
    expect(
        &fl(
            "fl-1",
            &fl_on("lab-interval", "subnet-a", "lab_interval = \"1s\"\n"),
        ),
        "fl-1.lab_interval:",
        "",
    );
}
