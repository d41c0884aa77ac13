//! The HTML output of `vpcctl test`: one self-contained page (inline CSS, no script, no
//! external resource) to open in a browser or keep as a CI artifact.
//!
//! The page:
//! - a header with the verdict of the run and its totals, and a legend;
//! - per file and per change step, a reachability matrix: rows are the sources (`from`),
//!   columns the destinations with their service (`eni-db1` over `tcp/5432`); each cell is a
//!   `<td>` whose classes say what the traffic did (`reach`, green; `blocked`, grey;
//!   `unknown` when nothing was sent) and how the check ended (`pass`; `fail`, a red border
//!   and ✗; `disagree`, an amber border and ≠; `error`, a purple dashed border and !), with a
//!   `title` tooltip giving expected, traffic, trace, explanation and message; a pair that no
//!   check covers is a `none` cell. Those class names are kept for matrix cells only, so a
//!   test can count them. The first matrix has the id `reachability-matrix`, the next ones
//!   `reachability-matrix-2`, `-3`, … (all have the class `reachability-matrix`);
//! - per file, a table of every check with its details, and under each check that did not
//!   pass its message and its trace (in `<pre>`).
//!
//! All text from the report is escaped ([`escape`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::report::{CheckReport, Status, TestReport, Verdict};
use super::totals::{duration_text, service, status_word, step_title, verdict_word, Totals};

/// The background of a matrix cell whose traffic reached (green), as RGB.
pub const REACH_RGB: [u8; 3] = [0x8f, 0xd1, 0x9e];
/// The background of a matrix cell whose traffic was blocked (grey), as RGB.
pub const BLOCKED_RGB: [u8; 3] = [0xc4, 0xc8, 0xcc];
/// The border of a failed check's cell (red).
const FAIL_COLOR: &str = "#d32f2f";
/// The border of a disagreement's cell (amber).
const DISAGREE_COLOR: &str = "#ffa000";
/// The border of a check that could not run (purple).
const ERROR_COLOR: &str = "#7b1fa2";

/// `s` made safe for HTML text and for attribute values in double or single quotes:
/// `&`, `<`, `>`, `"` and `'` become character references.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], for a `title` attribute: line breaks become `&#10;` as well, so that
/// the tooltip keeps its lines and the markup stays on one line.
fn escape_attr(s: &str) -> String {
    escape(s).replace('\n', "&#10;")
}

fn hex(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

/// The whole run as one HTML page (see the module documentation).
pub fn html(reports: &[TestReport]) -> String {
    let totals = Totals::of(reports);
    let verdict = if totals.all_passed() {
        "passed"
    } else {
        "failed"
    };
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>vpcctl test: {verdict}, {}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        escape(&totals.to_string()),
        css()
    );
    let _ = write!(
        out,
        "<header class=\"run-{verdict}\">\n<h1>vpcctl test: {verdict}</h1>\n\
         <p class=\"totals\">{} in {}</p>\n",
        escape(&totals.to_string()),
        duration_text(totals.duration_ms)
    );
    if let Some(first) = reports.first() {
        let _ = writeln!(
            out,
            "<p class=\"started\">started {}</p>",
            escape(&first.started)
        );
    }
    out.push_str(LEGEND);
    out.push_str("</header>\n");

    let mut matrices = 0;
    for report in reports {
        file_section(&mut out, report, &mut matrices);
    }
    out.push_str("</body>\n</html>\n");
    out
}

const LEGEND: &str = "<p class=\"legend\">\
<span class=\"swatch sw-reach\"></span> reached \
<span class=\"swatch sw-blocked\"></span> blocked \
<span class=\"swatch sw-fail\"></span> ✗ failed \
<span class=\"swatch sw-disagree\"></span> ≠ trace disagrees \
<span class=\"swatch sw-error\"></span> ! could not run</p>\n";

fn css() -> String {
    let reach = hex(REACH_RGB);
    let blocked = hex(BLOCKED_RGB);
    format!(
        "body {{ font-family: system-ui, \"DejaVu Sans\", \"Liberation Sans\", sans-serif; margin: 24px; color: #1d2125; background: #ffffff; }}
header {{ padding: 12px 18px; border-radius: 6px; margin-bottom: 24px; }}
header.run-passed {{ background: #e8f5e9; border-left: 8px solid #2e7d32; }}
header.run-failed {{ background: #fdecea; border-left: 8px solid #c62828; }}
h1 {{ margin: 0 0 6px; font-size: 24px; }}
h2 {{ margin: 28px 0 4px; font-size: 19px; font-family: monospace; }}
h3 {{ margin: 18px 0 6px; font-size: 15px; }}
p {{ margin: 4px 0; }}
.meta {{ color: #5f6368; font-size: 13px; }}
.legend {{ font-size: 13px; margin-top: 8px; }}
.swatch {{ display: inline-block; width: 14px; height: 14px; vertical-align: middle; border: 2px solid transparent; border-radius: 3px; margin-left: 10px; }}
.sw-reach {{ background: {reach}; }}
.sw-blocked {{ background: {blocked}; }}
.sw-fail {{ border-color: {FAIL_COLOR}; }}
.sw-disagree {{ border-color: {DISAGREE_COLOR}; }}
.sw-error {{ border-color: {ERROR_COLOR}; border-style: dashed; }}
table.reachability-matrix {{ border-collapse: separate; border-spacing: 4px; font-size: 13px; }}
table.reachability-matrix th {{ font-weight: 600; padding: 4px 8px; font-family: monospace; }}
table.reachability-matrix thead th {{ text-align: center; vertical-align: bottom; }}
table.reachability-matrix th .svc {{ display: block; font-weight: normal; color: #5f6368; }}
table.reachability-matrix tbody th {{ text-align: right; }}
td.cell {{ min-width: 96px; height: 34px; text-align: center; border: 3px solid transparent; border-radius: 4px; }}
td.reach {{ background: {reach}; }}
td.blocked {{ background: {blocked}; }}
td.unknown {{ background: #ffffff; border-color: #e0e0e0; }}
td.none {{ background: #f7f7f7; color: #b0b0b0; }}
td.fail {{ border-color: {FAIL_COLOR}; }}
td.disagree {{ border-color: {DISAGREE_COLOR}; }}
td.error {{ border-color: {ERROR_COLOR}; border-style: dashed; }}
td.cell .mark {{ font-weight: bold; margin-left: 4px; }}
td.fail .mark {{ color: {FAIL_COLOR}; }}
td.disagree .mark {{ color: #b26a00; }}
td.error .mark {{ color: {ERROR_COLOR}; }}
table.checks {{ border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 12px; }}
table.checks th, table.checks td {{ border-bottom: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: top; }}
table.checks th {{ background: #f1f3f4; white-space: nowrap; }}
table.checks td {{ white-space: nowrap; }}
table.checks td.name, table.checks tr.detail td {{ white-space: normal; }}
table.checks tr.detail td {{ border-bottom: 2px solid #e0e0e0; }}
.badge {{ display: inline-block; padding: 1px 6px; border-radius: 3px; font-weight: bold; font-size: 11px; color: #ffffff; }}
.status-pass {{ background: #2e7d32; }}
.status-fail {{ background: {FAIL_COLOR}; }}
.status-disagree {{ background: #e69500; }}
.status-error {{ background: {ERROR_COLOR}; }}
.message {{ font-weight: 600; }}
pre {{ background: #f6f8fa; padding: 8px; border-radius: 4px; overflow-x: auto; font-size: 12px; margin: 4px 0; }}
"
    )
}

fn file_section(out: &mut String, report: &TestReport, matrices: &mut usize) {
    let totals = Totals::of_file(report);
    let _ = write!(
        out,
        "<section class=\"file\">\n<h2>{}</h2>\n\
         <p class=\"meta\">topology {} · started {} · {} · {}</p>\n",
        escape(&report.file),
        escape(&report.topology),
        escape(&report.started),
        duration_text(report.duration_ms),
        escape(&totals.to_string())
    );
    let mut steps: Vec<usize> = Vec::new();
    for check in &report.checks {
        if !steps.contains(&check.step) {
            steps.push(check.step);
        }
    }
    for step in steps {
        let checks: Vec<&CheckReport> = report.checks.iter().filter(|c| c.step == step).collect();
        let _ = writeln!(out, "<h3>{}</h3>", escape(&step_title(report, step)));
        *matrices += 1;
        matrix(out, &checks, *matrices);
    }
    checks_table(out, report);
    out.push_str("</section>\n");
}

/// The worst first: an error hides a disagreement, which hides a failure.
fn severity(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Fail => 1,
        Status::Disagree => 2,
        Status::Error => 3,
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Disagree => "disagree",
        Status::Error => "error",
    }
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "✓",
        Status::Fail => "✗",
        Status::Disagree => "≠",
        Status::Error => "!",
    }
}

/// One matrix: `number` is its position on the page (1 = the first).
fn matrix(out: &mut String, checks: &[&CheckReport], number: usize) {
    let mut rows: Vec<&str> = Vec::new();
    let mut cols: Vec<(&str, String, &str)> = Vec::new();
    for c in checks {
        if !rows.contains(&c.from.as_str()) {
            rows.push(&c.from);
        }
        let svc = service(c);
        if !cols.iter().any(|(to, s, _)| *to == c.to && *s == svc) {
            cols.push((&c.to, svc, &c.dst));
        }
    }
    let id = if number == 1 {
        "reachability-matrix".to_owned()
    } else {
        format!("reachability-matrix-{number}")
    };
    let _ = write!(
        out,
        "<table class=\"reachability-matrix\" id=\"{id}\">\n<thead><tr><th>from \\ to</th>"
    );
    for (to, svc, dst) in &cols {
        let _ = write!(
            out,
            "<th scope=\"col\" title=\"{}\">{}<span class=\"svc\">{}</span></th>",
            escape_attr(dst),
            escape(to),
            escape(svc)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for from in &rows {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", escape(from));
        for (to, svc, _) in &cols {
            let here: Vec<&CheckReport> = checks
                .iter()
                .copied()
                .filter(|c| c.from == *from && c.to == *to && service(c) == *svc)
                .collect();
            cell(out, &here);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// One cell: the checks of one (source, destination, service) in one step.
fn cell(out: &mut String, checks: &[&CheckReport]) {
    let Some(worst) = checks.iter().copied().max_by_key(|c| severity(c.status)) else {
        out.push_str("<td class=\"cell none\" title=\"not checked\">–</td>");
        return;
    };
    let verdict = match worst.traffic {
        Some(Verdict::Reach) => "reach",
        Some(Verdict::Blocked) => "blocked",
        None => "unknown",
    };
    let title = checks
        .iter()
        .map(|c| tooltip(c))
        .collect::<Vec<_>>()
        .join("\n\n");
    let _ = write!(
        out,
        "<td class=\"cell {verdict} {}\" title=\"{}\">{}<span class=\"mark\">{}</span></td>",
        status_class(worst.status),
        escape_attr(&title),
        verdict_word(worst.traffic),
        mark(worst.status)
    );
}

fn tooltip(c: &CheckReport) -> String {
    let mut t = format!(
        "{}\n{}: expected {}, traffic {}, trace {}",
        c.name,
        status_word(c.status),
        verdict_word(Some(c.expect)),
        verdict_word(c.traffic),
        verdict_word(c.trace)
    );
    if c.explanation.is_some() || c.expected_explanation.is_some() {
        let _ = write!(
            t,
            "\nexplanation: {}",
            c.explanation.as_deref().unwrap_or("none")
        );
        if let Some(e) = &c.expected_explanation {
            let _ = write!(t, " (expected {e})");
        }
    }
    if c.seen_source.is_some() || c.expected_source.is_some() {
        let _ = write!(
            t,
            "\nseen: {}",
            c.seen_source.as_deref().unwrap_or("nothing")
        );
        if let Some(e) = &c.expected_source {
            let _ = write!(t, " (expected {e})");
        }
    }
    if !c.message.is_empty() {
        let _ = write!(t, "\n{}", c.message);
    }
    t
}

const CHECK_COLUMNS: [&str; 12] = [
    "#",
    "status",
    "check",
    "step",
    "from",
    "to",
    "service",
    "expected",
    "traffic",
    "trace",
    "seen source",
    "time",
];

fn checks_table(out: &mut String, report: &TestReport) {
    out.push_str("<table class=\"checks\">\n<thead><tr>");
    for h in CHECK_COLUMNS {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for c in &report.checks {
        let class = status_class(c.status);
        let explanation = match &c.explanation {
            Some(e) => format!(" ({})", escape(e)),
            None => String::new(),
        };
        let expected = match &c.expected_explanation {
            Some(e) => format!(" ({})", escape(e)),
            None => String::new(),
        };
        let seen = match (&c.seen_source, &c.expected_source) {
            (Some(s), Some(e)) => format!("{} (expected {})", escape(s), escape(e)),
            (Some(s), None) => escape(s).into_owned(),
            (None, Some(e)) => format!("– (expected {})", escape(e)),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr class=\"row-{class}\"><td>{}</td><td><span class=\"badge status-{class}\">{}</span></td>\
             <td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{} <span class=\"meta\">{}</span></td><td>{}</td>\
             <td>{}{expected}</td><td>{}</td><td>{}{explanation}</td><td>{seen}</td><td>{}</td></tr>",
            c.index,
            status_word(c.status),
            escape(&c.name),
            c.step,
            escape(&c.from),
            escape(&c.to),
            escape(&c.dst),
            escape(&service(c)),
            verdict_word(Some(c.expect)),
            verdict_word(c.traffic),
            verdict_word(c.trace),
            duration_text(c.duration_ms)
        );
        if c.status != Status::Pass {
            let _ = write!(
                out,
                "<tr class=\"detail row-{class}\"><td></td><td colspan=\"{}\">",
                CHECK_COLUMNS.len() - 1
            );
            if !c.message.is_empty() {
                let _ = write!(out, "<p class=\"message\">{}</p>", escape(&c.message));
            }
            if !c.trace_text.is_empty() {
                let _ = write!(out, "<pre>{}</pre>", escape(&c.trace_text));
            }
            out.push_str("</td></tr>\n");
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixtures::{check, sample};

    /// The class lists of every `<td>` of the page.
    fn td_classes(page: &str) -> Vec<Vec<&str>> {
        page.split("<td class=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or("").split(' ').collect())
            .collect()
    }

    fn cells_with(page: &str, class: &str) -> usize {
        td_classes(page)
            .iter()
            .filter(|c| c.contains(&"cell") && c.contains(&class))
            .count()
    }

    #[test]
    fn escape_covers_text_and_attributes() {
        assert!(matches!(escape("eni-app1 → eni-db1"), Cow::Borrowed(_)));
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_attr("a\nb<"), "a&#10;b&lt;");
    }

    #[test]
    fn matrix_cells_carry_verdict_and_status_classes() {
        let mut reports = sample();
        // A blocked pass, so that both colors show.
        let mut blocked = check(
            4,
            "inet-client",
            "eni-app1",
            "10.0.2.10",
            "tcp",
            Some(22),
            Verdict::Blocked,
        );
        blocked.explanation = Some("ENI_SG_RULES_MISMATCH".to_owned());
        reports[0].checks.insert(3, blocked);
        let page = html(&reports);

        // File 1 step 0 (2 × 3), file 1 step 1 (1 × 1), file 2 (1 × 1).
        assert!(page.contains("<table class=\"reachability-matrix\" id=\"reachability-matrix\">"));
        assert!(page.contains("id=\"reachability-matrix-2\""));
        assert!(page.contains("id=\"reachability-matrix-3\""));
        assert!(!page.contains("id=\"reachability-matrix-4\""));
        assert_eq!(cells_with(&page, "cell"), 6 + 1 + 1);
        assert_eq!(cells_with(&page, "none"), 2);
        assert_eq!(cells_with(&page, "reach"), 4);
        assert_eq!(cells_with(&page, "blocked"), 1);
        assert_eq!(cells_with(&page, "unknown"), 1);
        assert_eq!(cells_with(&page, "pass"), 3);
        assert_eq!(cells_with(&page, "fail"), 1);
        assert_eq!(cells_with(&page, "disagree"), 1);
        assert_eq!(cells_with(&page, "error"), 1);
        // The status words are for matrix cells only.
        for classes in td_classes(&page) {
            if !classes.contains(&"cell") {
                assert!(
                    !["reach", "blocked", "fail", "disagree", "error", "pass"]
                        .iter()
                        .any(|w| classes.contains(w)),
                    "{classes:?}"
                );
            }
        }

        // The failed cell: red border class, ✗, a tooltip with expected/traffic/trace/message.
        let fail = page
            .split("<td class=\"cell reach fail\" title=\"")
            .nth(1)
            .unwrap();
        let (title, rest) = fail.split_once('"').unwrap();
        assert_eq!(
            title,
            "nothing from the internet reaches the database&#10;FAIL: expected blocked, traffic reach, \
             trace reach&#10;seen: 198.51.100.40:40112&#10;expected blocked, but the connection was accepted"
        );
        assert!(rest.starts_with(">reach<span class=\"mark\">✗</span></td>"));
        let blocked_cell = page
            .split("<td class=\"cell blocked pass\" title=\"")
            .nth(1)
            .unwrap();
        assert!(blocked_cell.contains("explanation: ENI_SG_RULES_MISMATCH"));
        assert!(page.contains("<td class=\"cell reach disagree\""));
        assert!(page.contains("<td class=\"cell unknown error\""));

        // Rows and columns of the first matrix, in order of appearance.
        let first = page.split("id=\"reachability-matrix\"").nth(1).unwrap();
        let first = first.split("</table>").next().unwrap();
        let heads: Vec<&str> = first.split("<th scope=\"col\"").skip(1).collect();
        assert_eq!(heads.len(), 3);
        assert!(heads[0].contains(">eni-db1<span class=\"svc\">tcp/5432</span>"));
        assert!(heads[0].starts_with(" title=\"10.0.3.10\""));
        assert!(heads[1].contains(">inet-web<span class=\"svc\">tcp/443</span>"));
        let rows: Vec<&str> = first.split("<th scope=\"row\">").skip(1).collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].starts_with("eni-app1</th>"));
        assert!(rows[1].starts_with("inet-client</th>"));
    }

    #[test]
    fn page_is_self_contained_with_totals_and_traces_of_failures() {
        let page = html(&sample());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.ends_with("</html>\n"));
        for external in ["<script", "<link", "src=", "http://", "https://", "url("] {
            assert!(!page.contains(external), "{external}");
        }
        assert!(page.contains("<header class=\"run-failed\">"));
        assert!(page.contains("<h1>vpcctl test: failed</h1>"));
        assert!(page.contains(
            "<p class=\"totals\">5 checks: 2 passed, 1 failed, 1 disagreement, 1 error in 3.6 s</p>"
        ));
        assert!(page.contains("<h3>as loaded</h3>"));
        assert!(page.contains("<h3>step 1: remove sg-db inbound[0]</h3>"));
        // Traces of the failure and the disagreement, escaped, in <pre>.
        assert_eq!(page.matches("<pre>").count(), 2);
        assert!(page.contains(
            "<pre>1 eni-db1 &lt;- 198.51.100.40:40112 tcp/5432\n2   sg-db inbound rule 0: tcp/5432 \
             from 0.0.0.0/0 -&gt; allow\n3   delivered to eni-db1 &amp; answered</pre>"
        ));
        assert!(page.contains("<p class=\"message\">vpcd: connection refused (/run/vpcd.sock)</p>"));
        // One row per check, and one detail row per check that did not pass.
        assert_eq!(page.matches("<tr class=\"row-").count(), 5);
        assert_eq!(page.matches("<tr class=\"detail row-").count(), 3);

        let passing = html(&sample()[1..]);
        assert!(passing.contains("<header class=\"run-passed\">"));
        assert!(!passing.contains("<pre>"));
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let mut reports = sample();
        let evil = "<script>alert(\"x\")</script> & 'q'";
        reports[0].file = evil.to_owned();
        reports[0].topology = evil.to_owned();
        reports[0].steps[0].description = evil.to_owned();
        let c = &mut reports[0].checks[1];
        c.name = evil.to_owned();
        c.from = evil.to_owned();
        c.to = evil.to_owned();
        c.dst = evil.to_owned();
        c.message = evil.to_owned();
        c.trace_text = evil.to_owned();
        c.seen_source = Some(evil.to_owned());
        c.explanation = Some(evil.to_owned());
        let page = html(&reports);
        assert!(!page.contains("<script"));
        assert!(!page.contains("'q'"));
        assert!(!page.contains("\"x\""));
        assert!(
            page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;")
        );
        // The page's own markup is intact: still one matrix cell per pair.
        assert_eq!(cells_with(&page, "fail"), 1);
    }

    #[test]
    fn an_empty_run_is_a_page_without_matrices() {
        let page = html(&[]);
        assert!(page.contains("<header class=\"run-passed\">"));
        assert!(page.contains("0 checks: 0 passed, 0 failed in 0 ms"));
        assert!(!page.contains("reachability-matrix\""));
    }
}
