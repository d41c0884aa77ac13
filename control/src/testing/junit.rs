//! The JUnit XML output of `vpcctl test`, for CI systems (Jenkins, GitLab, GitHub
//! actions that read test reports).
//!
//! The shape, written by the `quick-junit` crate:
//! - one `<testsuites name="vpcctl test">` with the counts and total time;
//! - one `<testsuite>` per test file (`name` = the file, `timestamp` = when it started,
//!   properties `topology` and `step N` = what each change did);
//! - one `<testcase>` per check: `classname` = the file, `name` = the check's name, `time`
//!   in seconds, `<system-out>` the outcome line (`expected …, traffic …, trace …, seen …`);
//! - a failed check has `<failure message="…" type="fail">`, a disagreement between traffic
//!   and trace `<error type="disagreement">`, a check that could not run
//!   `<error type="error">`; their body is the outcome line, then the trace as `vpcctl trace`
//!   prints it.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::report::{CheckReport, Status, TestReport};
use super::totals::outcome;

/// The `type` of a `<failure>` for a failed check.
pub const TYPE_FAIL: &str = "fail";
/// The `type` of an `<error>` for a check whose trace disagrees with its traffic.
pub const TYPE_DISAGREEMENT: &str = "disagreement";
/// The `type` of an `<error>` for a check that could not run.
pub const TYPE_ERROR: &str = "error";

/// Why the JUnit report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    /// The XML writer failed.
    #[error("cannot write the JUnit report: {0}")]
    Serialize(#[from] quick_junit::SerializeError),
}

/// The run as JUnit XML (see the module documentation for the shape).
pub fn junit(reports: &[TestReport]) -> Result<String, JunitError> {
    let mut report = Report::new("vpcctl test");
    let total: u64 = reports.iter().map(|r| r.duration_ms).sum();
    report.set_time(Duration::from_millis(total));
    if let Some(started) = reports.first().and_then(|r| timestamp(&r.started)) {
        report.set_timestamp(started);
    }
    report.add_test_suites(reports.iter().map(suite));
    Ok(report.to_string()?)
}

fn timestamp(rfc3339: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(rfc3339).ok()
}

fn suite(report: &TestReport) -> TestSuite {
    let mut suite = TestSuite::new(report.file.as_str());
    suite.set_time(Duration::from_millis(report.duration_ms));
    if let Some(started) = timestamp(&report.started) {
        suite.set_timestamp(started);
    }
    suite.add_property(Property::new("topology", report.topology.as_str()));
    suite.add_properties(
        report
            .steps
            .iter()
            .map(|s| Property::new(format!("step {}", s.index), s.description.as_str())),
    );
    suite.add_test_cases(report.checks.iter().map(|c| case(&report.file, c)));
    suite
}

fn case(file: &str, check: &CheckReport) -> TestCase {
    let line = outcome(check);
    let status = match check.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Fail => non_success(NonSuccessKind::Failure, TYPE_FAIL, check, &line),
        Status::Disagree => non_success(NonSuccessKind::Error, TYPE_DISAGREEMENT, check, &line),
        Status::Error => non_success(NonSuccessKind::Error, TYPE_ERROR, check, &line),
    };
    let mut case = TestCase::new(check.name.as_str(), status);
    case.set_classname(file)
        .set_time(Duration::from_millis(check.duration_ms))
        .set_system_out(line);
    case
}

fn non_success(kind: NonSuccessKind, ty: &str, check: &CheckReport, line: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    let message = if check.message.is_empty() {
        line
    } else {
        check.message.as_str()
    };
    let mut body = line.to_owned();
    if !check.trace_text.is_empty() {
        body.push_str("\n\n");
        body.push_str(&check.trace_text);
    }
    status
        .set_message(message)
        .set_type(ty)
        .set_description(body);
    status
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;
    use quick_xml::Reader;

    use super::*;
    use crate::testing::fixtures::sample;

    /// One element of the XML read back: its name, attributes and text.
    #[derive(Debug, Default)]
    struct Element {
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
    }

    impl Element {
        fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// Reads the XML with an independent parser: every element in document order, its text
    /// unescaped, plus the path of names that leads to it.
    fn parse(xml: &str) -> Vec<(Vec<String>, Element)> {
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<String> = Vec::new();
        let mut out: Vec<(Vec<String>, Element)> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let element = |e: &quick_xml::events::BytesStart| Element {
            name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
            attrs: e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned();
                    (key, value)
                })
                .collect(),
            text: String::new(),
        };
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) => {
                    let el = element(&e);
                    stack.push(el.name.clone());
                    open.push(out.len());
                    out.push((stack.clone(), el));
                }
                Event::Empty(e) => {
                    let el = element(&e);
                    let mut path = stack.clone();
                    path.push(el.name.clone());
                    out.push((path, el));
                }
                Event::End(_) => {
                    stack.pop();
                    open.pop();
                }
                Event::Text(t) => {
                    if let Some(&i) = open.last() {
                        out[i].1.text.push_str(&t.decode().unwrap());
                    }
                }
                Event::CData(t) => {
                    if let Some(&i) = open.last() {
                        out[i].1.text.push_str(&t.decode().unwrap());
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().unwrap() {
                        Some(c) => c.to_string(),
                        None => {
                            let name = r.decode().unwrap();
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .unwrap()
                                .to_owned()
                        }
                    };
                    if let Some(&i) = open.last() {
                        out[i].1.text.push_str(&resolved);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
        out
    }

    #[test]
    fn junit_reads_back_with_suites_cases_failures_and_errors() {
        let xml = junit(&sample()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        let elements = parse(&xml);
        let named = |n: &str| -> Vec<&(Vec<String>, Element)> {
            elements.iter().filter(|(_, e)| e.name == n).collect()
        };

        let root = named("testsuites");
        assert_eq!(root.len(), 1);
        let root = &root[0].1;
        assert_eq!(root.attr("name"), Some("vpcctl test"));
        assert_eq!(root.attr("tests"), Some("5"));
        assert_eq!(root.attr("failures"), Some("1"));
        assert_eq!(root.attr("errors"), Some("2"));
        assert_eq!(root.attr("time"), Some("3.650"));

        let suites = named("testsuite");
        assert_eq!(suites.len(), 2);
        let s0 = &suites[0].1;
        assert_eq!(s0.attr("name"), Some("tests/three-tier.toml"));
        assert_eq!(s0.attr("tests"), Some("4"));
        assert_eq!(s0.attr("failures"), Some("1"));
        assert_eq!(s0.attr("errors"), Some("2"));
        assert_eq!(s0.attr("time"), Some("3.400"));
        assert!(s0
            .attr("timestamp")
            .unwrap()
            .starts_with("2025-03-01T12:00:00"));
        assert_eq!(suites[1].1.attr("tests"), Some("1"));
        assert_eq!(suites[1].1.attr("failures"), Some("0"));

        let props: Vec<_> = named("property")
            .iter()
            .map(|(_, p)| (p.attr("name").unwrap(), p.attr("value").unwrap()))
            .collect();
        assert!(props.contains(&("topology", "examples/three-tier.toml")));
        assert!(props.contains(&("step 1", "remove sg-db inbound[0]")));

        let cases = named("testcase");
        let names: Vec<_> = cases.iter().map(|(_, c)| c.attr("name").unwrap()).collect();
        assert_eq!(
            names,
            [
                "eni-app1 → eni-db1 tcp/5432",
                "nothing from the internet reaches the database",
                "eni-app1 → inet-web tcp/443",
                "eni-db1 → 10.0.9.9 icmp",
                "eni-web → eni-app1 tcp/8080",
            ]
        );
        assert_eq!(cases[0].1.attr("classname"), Some("tests/three-tier.toml"));
        assert_eq!(cases[4].1.attr("classname"), Some("tests/web.toml"));
        assert_eq!(cases[1].1.attr("time"), Some("1.050"));

        let failures = named("failure");
        assert_eq!(failures.len(), 1);
        let (path, f) = failures[0];
        assert_eq!(
            path[..3],
            ["testsuites", "testsuite", "testcase"].map(String::from)
        );
        assert_eq!(
            f.attr("message"),
            Some("expected blocked, but the connection was accepted")
        );
        assert_eq!(f.attr("type"), Some(TYPE_FAIL));
        // The body: the outcome, then the trace, its `<`, `&` and `->` intact.
        assert!(f
            .text
            .starts_with("expected blocked, traffic reach, trace reach, seen 198.51.100.40:40112"));
        assert!(f
            .text
            .contains("\n\n1 eni-db1 <- 198.51.100.40:40112 tcp/5432\n"));
        assert!(f.text.ends_with("3   delivered to eni-db1 & answered"));

        let errors = named("error");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].1.attr("type"), Some(TYPE_DISAGREEMENT));
        assert_eq!(
            errors[0].1.attr("message"),
            Some("the traffic reached inet-web, the trace predicts a drop")
        );
        assert!(errors[0].1.text.contains("drop (ENI_SG_RULES_MISMATCH)"));
        assert_eq!(errors[1].1.attr("type"), Some(TYPE_ERROR));
        assert_eq!(
            errors[1].1.attr("message"),
            Some("vpcd: connection refused (/run/vpcd.sock)")
        );

        // Every case says what happened on its own output.
        let outs = named("system-out");
        assert_eq!(outs.len(), 5);
        assert_eq!(
            outs[0].1.text,
            "expected reach, traffic reach, trace reach, seen 10.0.2.10:43512"
        );
    }

    #[test]
    fn junit_escapes_and_falls_back_to_the_outcome_as_message() {
        let mut reports = sample();
        let check = &mut reports[0].checks[1];
        check.name = "a \"quoted\" <name> & more".to_owned();
        check.message.clear();
        // ANSI escapes and control characters are not XML; they are dropped.
        check.trace_text = "\x1b[31mred\x1b[0m\x07 ]]> done".to_owned();
        let xml = junit(&reports).unwrap();
        let elements = parse(&xml);
        assert!(elements
            .iter()
            .any(|(_, e)| e.name == "testcase"
                && e.attr("name") == Some("a \"quoted\" <name> & more")));
        let f = &elements
            .iter()
            .find(|(_, e)| e.name == "failure")
            .unwrap()
            .1;
        assert!(f
            .attr("message")
            .unwrap()
            .starts_with("expected blocked, traffic reach"));
        assert!(f.text.ends_with("\n\nred ]]> done"), "{:?}", f.text);
    }

    #[test]
    fn an_empty_run_is_a_valid_document() {
        let xml = junit(&[]).unwrap();
        let elements = parse(&xml);
        assert_eq!(elements.len(), 1);
        assert_eq!(elements[0].1.attr("tests"), Some("0"));
    }
}
