//! What `vpcctl VERB --json` prints on stdout, one type per shape. Every shape has `ok`;
//! a verb that fails with a usage or system error (exit 2) prints [`ErrorReport`] instead:
//! `{"ok": false, "error": "…"}`.
//!
//! | verb | shape |
//! |---|---|
//! | `validate` | [`FileReport`] |
//! | `apply` | [`ApplyReport`]: a [`FileReport`] plus `epoch` |
//! | `up` | [`UpReport`]: an [`ApplyReport`] plus `vpcd` and `namespaces_created` |
//! | `down` | [`DownReport`] |
//! | `exec` | [`ExecReport`] |
//! | `serve` | [`ServeReady`], one line, once listening |
//! | `show`, `stats`, `trace` | vpcd's own report types (`StatsReport`, `TraceReport`) |

use std::path::Path;

use serde::Serialize;

use crate::{render, Compiled, ValidationError, ValidationErrors};

/// The convention, as the man page's OUTPUT section states it.
pub const OUTPUT_HELP: &str = "\
Every verb but completions and man takes --json: one JSON document on stdout, with
\"ok\": true or false. validate, apply and up list problems as
{\"resource\", \"field\", \"message\", \"source\"} objects in \"errors\"; a usage or
system error (exit 2) prints {\"ok\": false, \"error\": \"...\"} instead.
Warnings, logs and progress go to stderr; progress lines (vpcctl up) only when stderr
is a terminal.";

/// Pretty JSON of a report, as every verb prints it.
pub fn pretty<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(value)
}

/// Which program found a [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemSource {
    /// `vpcctl`'s validation of the file (nothing was sent).
    Validate,
    /// `vpcd`, which refused the configuration or could not finish an attachment.
    Vpcd,
}

/// One problem, as an object: `{"resource": …, "field": …, "message": …, "source": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The resource's id (or `kind[index]`, or `file`); empty when vpcd's message names
    /// none.
    pub resource: String,
    /// The field, e.g. `routes[1].destination`; empty when the whole resource is meant.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Who found it.
    pub source: ProblemSource,
}

impl From<&ValidationError> for Problem {
    fn from(e: &ValidationError) -> Self {
        Problem {
            resource: e.resource.clone(),
            field: e.field.clone(),
            message: e.message.clone(),
            source: ProblemSource::Validate,
        }
    }
}

impl Problem {
    /// One of vpcd's error lines. vpcd writes them as validation does, `resource: message`
    /// or `resource.field: message`; a line without such a prefix is all message.
    pub fn from_vpcd(line: &str) -> Self {
        let plain = || Problem {
            resource: String::new(),
            field: String::new(),
            message: line.to_string(),
            source: ProblemSource::Vpcd,
        };
        let Some((head, message)) = line.split_once(": ") else {
            return plain();
        };
        let (resource, field) = head.split_once('.').unwrap_or((head, ""));
        let id_like = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '[' | ']'))
        };
        if !id_like(resource) || field.chars().any(char::is_whitespace) {
            return plain();
        }
        Problem {
            resource: resource.to_string(),
            field: field.to_string(),
            message: message.to_string(),
            source: ProblemSource::Vpcd,
        }
    }
}

/// `validate --json`: whether the file is valid, what it holds, and every problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// Valid (and, for `apply`/`up`, applied without problems).
    pub ok: bool,
    /// The file, as given.
    pub file: String,
    /// What the file holds (`1 VPC, 2 subnets, …`); null when it is invalid.
    pub summary: Option<String>,
    /// Accepted, but worth a look (e.g. a normalised CIDR, an unattached ENI).
    pub warnings: Vec<String>,
    /// Every problem; empty when `ok`.
    pub errors: Vec<Problem>,
}

impl FileReport {
    /// A valid file.
    pub fn valid(file: &Path, c: &Compiled) -> Self {
        FileReport {
            ok: true,
            file: file.display().to_string(),
            summary: Some(render::summary(&c.config)),
            warnings: c.warnings.clone(),
            errors: Vec::new(),
        }
    }

    /// An invalid file and all its problems.
    pub fn invalid(file: &Path, errors: &ValidationErrors) -> Self {
        FileReport {
            ok: false,
            file: file.display().to_string(),
            summary: None,
            warnings: Vec::new(),
            errors: errors.iter().map(Problem::from).collect(),
        }
    }
}

/// `apply --json`: a [`FileReport`] plus the epoch the configuration runs under. vpcd's
/// rejection (the running configuration unchanged, `epoch` null) and problems it found
/// after committing (`epoch` set: the configuration runs regardless) are in `errors`
/// with `source` `vpcd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// The file's report.
    #[serde(flatten)]
    pub file: FileReport,
    /// The epoch of the applied configuration; null when nothing was applied.
    pub epoch: Option<u64>,
}

impl ApplyReport {
    /// Nothing applied: the file is invalid.
    pub fn invalid(file: &Path, errors: &ValidationErrors) -> Self {
        ApplyReport {
            file: FileReport::invalid(file, errors),
            epoch: None,
        }
    }

    /// Committed under `epoch`; `post_commit` are vpcd's problems after the commit (an
    /// attachment it could not finish), which make the report not `ok`.
    pub fn applied(file: &Path, c: &Compiled, epoch: u64, post_commit: &[String]) -> Self {
        let mut report = FileReport::valid(file, c);
        report.ok = post_commit.is_empty();
        report
            .errors
            .extend(post_commit.iter().map(|l| Problem::from_vpcd(l)));
        ApplyReport {
            file: report,
            epoch: Some(epoch),
        }
    }

    /// vpcd refused the (valid) configuration; nothing changed.
    pub fn rejected(file: &Path, c: &Compiled, errors: &[String]) -> Self {
        let mut report = FileReport::valid(file, c);
        report.ok = false;
        report
            .errors
            .extend(errors.iter().map(|l| Problem::from_vpcd(l)));
        ApplyReport {
            file: report,
            epoch: None,
        }
    }
}

/// The vpcd that `vpcctl up` found or started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VpcdStatus {
    /// Whether this call started it (false: it was already running).
    pub started: bool,
    /// Its PID, when this call started it.
    pub pid: Option<u32>,
    /// Its log file, when this call started it.
    pub log: Option<String>,
    /// The URL of its metrics endpoint, when this call started it with `--metrics`.
    pub metrics: Option<String>,
}

/// `up --json`: an [`ApplyReport`] plus what `up` started and created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpReport {
    /// The file and the apply.
    #[serde(flatten)]
    pub apply: ApplyReport,
    /// The vpcd.
    pub vpcd: VpcdStatus,
    /// The namespaces this call created.
    pub namespaces_created: Vec<String>,
    /// What the DHCP clients of the ENIs with `addressing = "dhcp"` obtained.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dhcp: Vec<DhcpLeaseReport>,
}

/// The DHCP client run of one ENI by `vpcctl up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DhcpLeaseReport {
    /// The ENI.
    pub eni: String,
    /// The address and prefix length it was bound to (`10.0.1.10/24`), if it was.
    pub address: Option<String>,
    /// Its default router.
    pub router: Option<String>,
    /// The DNS servers.
    pub dns: Vec<String>,
    /// The domain name.
    pub domain: Option<String>,
    /// The interface MTU.
    pub mtu: Option<u32>,
    /// The lease time, seconds.
    pub lease_secs: Option<u32>,
    /// From the client's first DISCOVER to bound, milliseconds.
    pub elapsed_ms: Option<u64>,
    /// Why it got no lease.
    pub error: Option<String>,
}

/// `down --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DownReport {
    /// Everything `up` created is gone.
    pub ok: bool,
    /// `stopped`, `not running`, or why the shutdown request failed.
    pub vpcd: String,
    /// The namespaces deleted.
    pub namespaces_deleted: Vec<String>,
    /// The namespaces that could not be deleted (`vpcctl down` again retries them).
    pub namespaces_failed: Vec<String>,
    /// Things that went wrong on the way but did not stop it.
    pub warnings: Vec<String>,
}

/// `exec --json`: the command's output, captured, and its status (also the exit status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecReport {
    /// The command exited 0.
    pub ok: bool,
    /// The ENI, internet host or gateway named.
    pub target: String,
    /// The namespace the command ran in.
    pub netns: String,
    /// Its exit status (128 + N when killed by signal N).
    pub status: i32,
    /// Its standard output (lossy UTF-8).
    pub stdout: String,
    /// Its standard error (lossy UTF-8).
    pub stderr: String,
}

/// `serve --json`: the one-line readiness report, once every service listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServeReady {
    /// Always true.
    pub ready: bool,
    /// The host's name.
    pub name: String,
    /// The services, `KIND:PROTOCOL:PORT`.
    pub services: Vec<String>,
}

/// A usage or system error under `--json` (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// Always false.
    pub ok: bool,
    /// The error and its causes, `: `-separated.
    pub error: String,
}

impl ErrorReport {
    /// An error report.
    pub fn new(error: impl Into<String>) -> Self {
        ErrorReport {
            ok: false,
            error: error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn value<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn invalid_file_lists_resource_field_and_message() {
        let errors = ValidationErrors(vec![
            ValidationError::new("eni-a1", "private_ip", "reserved"),
            ValidationError::new("vpc[2]", "", "no id"),
        ]);
        let v = value(&FileReport::invalid(Path::new("t.toml"), &errors));
        assert_eq!(
            v,
            json!({
                "ok": false,
                "file": "t.toml",
                "summary": null,
                "warnings": [],
                "errors": [
                    {"resource": "eni-a1", "field": "private_ip", "message": "reserved", "source": "validate"},
                    {"resource": "vpc[2]", "field": "", "message": "no id", "source": "validate"},
                ]
            })
        );
        // The report type serialises the same fields.
        assert_eq!(
            value(&errors)[0],
            json!({"resource": "eni-a1", "field": "private_ip", "message": "reserved"})
        );
    }

    #[test]
    fn apply_reports_epoch_and_vpcd_problems() {
        let c = crate::compile_str("[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\n").unwrap();
        let f = Path::new("a.toml");
        let v = value(&ApplyReport::applied(f, &c, 4, &[]));
        assert_eq!(v["ok"], true);
        assert_eq!(v["epoch"], 4);
        assert_eq!(v["file"], "a.toml");
        assert!(v["summary"].as_str().unwrap().starts_with("1 VPC"), "{v}");

        let v = value(&ApplyReport::rejected(
            f,
            &c,
            &["eni-x: network namespace `n` does not exist".into()],
        ));
        assert_eq!(v["ok"], false);
        assert_eq!(v["epoch"], Value::Null);
        assert_eq!(
            v["errors"][0],
            json!({"resource": "eni-x", "field": "", "message": "network namespace `n` does not exist", "source": "vpcd"})
        );

        let v = value(&ApplyReport::applied(
            f,
            &c,
            5,
            &["eni-y: ip failed".into()],
        ));
        assert_eq!(
            (v["ok"].clone(), v["epoch"].clone()),
            (json!(false), json!(5))
        );
        assert_eq!(v["errors"][0]["resource"], "eni-y");

        let v = value(&ApplyReport::invalid(f, &ValidationErrors::default()));
        assert_eq!(v["epoch"], Value::Null);
    }

    #[test]
    fn vpcd_lines_split_like_validation_errors() {
        let p = Problem::from_vpcd("rtb-a.routes[1].target: index 9 is out of range");
        assert_eq!(
            (p.resource.as_str(), p.field.as_str(), p.message.as_str()),
            ("rtb-a", "routes[1].target", "index 9 is out of range")
        );
        for plain in [
            "the forwarding thread is gone; restart vpcd",
            "malformed request: expected value",
            "/dev/net/tun: permission denied",
            "",
        ] {
            let p = Problem::from_vpcd(plain);
            assert_eq!((p.resource.as_str(), p.field.as_str()), ("", ""), "{plain}");
            assert_eq!(p.message, plain);
        }
    }

    #[test]
    fn up_flattens_the_apply() {
        let c = crate::compile_str("[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\n").unwrap();
        let r = UpReport {
            apply: ApplyReport::applied(Path::new("a.toml"), &c, 1, &[]),
            vpcd: VpcdStatus {
                started: true,
                pid: Some(42),
                log: Some("/run/vpcd/vpcd.log".into()),
                metrics: None,
            },
            namespaces_created: vec!["web1".into()],
            dhcp: Vec::new(),
        };
        let v = value(&r);
        assert_eq!(v["ok"], true);
        assert_eq!(v["epoch"], 1);
        assert_eq!(v["vpcd"]["pid"], 42);
        assert_eq!(v["namespaces_created"], json!(["web1"]));
    }

    #[test]
    fn error_report_is_ok_false() {
        assert_eq!(
            value(&ErrorReport::new("cannot read x")),
            json!({"ok": false, "error": "cannot read x"})
        );
        assert!(pretty(&ErrorReport::new("e")).unwrap().contains('\n'));
    }
}
