//! The JSON output of `vpcctl test`, for scripts (`jq`) and for keeping runs.
//!
//! The shape, one object:
//!
//! ```json
//! {
//!   "files": [ TestReport, … ],
//!   "passed": true
//! }
//! ```
//!
//! `files` holds one [`TestReport`] per test file, in the order they ran, with its fields
//! as named in [`super::report`] (verdicts `"reach"`/`"blocked"`, statuses `"pass"`,
//! `"fail"`, `"disagree"`, `"error"`, absent values `null`); `passed` is whether every check
//! of every file passed (`true` for no files). The JSON reads back into the same types.

use serde::Serialize;

use super::report::TestReport;

/// The document [`json`] writes.
#[derive(Debug, Serialize)]
struct Output<'a> {
    files: &'a [TestReport],
    passed: bool,
}

/// The run as pretty-printed JSON (see the module documentation for the shape).
pub fn json(reports: &[TestReport]) -> String {
    let output = Output {
        files: reports,
        passed: reports.iter().all(TestReport::passed),
    };
    // Only maps with non-string keys or a failing `Serialize` impl make serde_json fail;
    // these types have neither.
    serde_json::to_string_pretty(&output).expect("a test report is plain data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixtures::sample;
    use crate::testing::report::{Status, Verdict};

    #[test]
    fn json_has_the_documented_shape_and_reads_back() {
        let reports = sample();
        let text = json(&reports);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 2);
        assert_eq!(value["passed"], false);
        assert_eq!(value["files"][0]["file"], "tests/three-tier.toml");
        assert_eq!(value["files"][0]["checks"][1]["status"], "fail");
        assert_eq!(value["files"][0]["checks"][1]["expect"], "blocked");
        assert_eq!(
            value["files"][0]["checks"][3]["traffic"],
            serde_json::Value::Null
        );
        let files: Vec<TestReport> = serde_json::from_value(value["files"].clone()).unwrap();
        assert_eq!(files, reports);
        assert_eq!(files[0].checks[2].status, Status::Disagree);
        assert_eq!(files[0].checks[2].trace, Some(Verdict::Blocked));

        let passing = json(&reports[1..]);
        assert!(passing.ends_with("\"passed\": true\n}"));
        assert_eq!(json(&[]), "{\n  \"files\": [],\n  \"passed\": true\n}");
    }
}
