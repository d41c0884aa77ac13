//! A run written by hand for the outputs' unit tests: two files, every status once.

use super::report::{CheckReport, Status, StepReport, TestReport, Verdict};

/// A check from `from` to `to` (`dst`) on `protocol/port` that expects `expect` and, unless
/// changed, passed with traffic and trace agreeing.
pub(crate) fn check(
    index: usize,
    from: &str,
    to: &str,
    dst: &str,
    protocol: &str,
    port: Option<u16>,
    expect: Verdict,
) -> CheckReport {
    let service = port.map_or(protocol.to_owned(), |p| format!("{protocol}/{p}"));
    CheckReport {
        index,
        name: format!("{from} → {to} {service}"),
        step: 0,
        from: from.to_owned(),
        to: to.to_owned(),
        dst: dst.to_owned(),
        protocol: protocol.to_owned(),
        port,
        expect,
        traffic: Some(expect),
        trace: Some(expect),
        seen_source: None,
        expected_source: None,
        explanation: None,
        expected_explanation: None,
        status: Status::Pass,
        message: String::new(),
        trace_text: String::new(),
        duration_ms: 120,
    }
}

/// File 1: a pass, a fail, a disagreement, and after a change an error. File 2: one pass.
pub(crate) fn sample() -> Vec<TestReport> {
    let mut pass = check(
        0,
        "eni-app1",
        "eni-db1",
        "10.0.3.10",
        "tcp",
        Some(5432),
        Verdict::Reach,
    );
    pass.seen_source = Some("10.0.2.10:43512".to_owned());

    let mut fail = check(
        1,
        "inet-client",
        "eni-db1",
        "10.0.3.10",
        "tcp",
        Some(5432),
        Verdict::Blocked,
    );
    fail.name = "nothing from the internet reaches the database".to_owned();
    fail.traffic = Some(Verdict::Reach);
    fail.trace = Some(Verdict::Reach);
    fail.seen_source = Some("198.51.100.40:40112".to_owned());
    fail.status = Status::Fail;
    fail.message = "expected blocked, but the connection was accepted".to_owned();
    fail.trace_text = "1 eni-db1 <- 198.51.100.40:40112 tcp/5432\n\
                       2   sg-db inbound rule 0: tcp/5432 from 0.0.0.0/0 -> allow\n\
                       3   delivered to eni-db1 & answered"
        .to_owned();
    fail.duration_ms = 1_050;

    let mut disagree = check(
        2,
        "eni-app1",
        "inet-web",
        "198.51.100.80",
        "tcp",
        Some(443),
        Verdict::Reach,
    );
    disagree.trace = Some(Verdict::Blocked);
    disagree.explanation = Some("ENI_SG_RULES_MISMATCH".to_owned());
    disagree.seen_source = Some("203.0.113.7:51000".to_owned());
    disagree.status = Status::Disagree;
    disagree.message = "the traffic reached inet-web, the trace predicts a drop".to_owned();
    disagree.trace_text = "1 eni-app1 -> 198.51.100.80 tcp/443\n\
                           2   sg-app outbound: no rule matches -> drop (ENI_SG_RULES_MISMATCH)"
        .to_owned();

    let mut error = check(
        3,
        "eni-db1",
        "10.0.9.9",
        "10.0.9.9",
        "icmp",
        None,
        Verdict::Blocked,
    );
    error.step = 1;
    error.traffic = None;
    error.trace = None;
    error.status = Status::Error;
    error.message = "vpcd: connection refused (/run/vpcd.sock)".to_owned();

    let mut other = check(
        0,
        "eni-web",
        "eni-app1",
        "10.0.2.10",
        "tcp",
        Some(8080),
        Verdict::Reach,
    );
    other.duration_ms = 250;

    vec![
        TestReport {
            file: "tests/three-tier.toml".to_owned(),
            topology: "examples/three-tier.toml".to_owned(),
            started: "2025-03-01T12:00:00Z".to_owned(),
            duration_ms: 3_400,
            steps: vec![StepReport {
                index: 1,
                description: "remove sg-db inbound[0]".to_owned(),
            }],
            checks: vec![pass, fail, disagree, error],
        },
        TestReport {
            file: "tests/web.toml".to_owned(),
            topology: "inline".to_owned(),
            started: "2025-03-01T12:00:04Z".to_owned(),
            duration_ms: 250,
            steps: Vec::new(),
            checks: vec![other],
        },
    ]
}
