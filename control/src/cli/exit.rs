//! The exit status of every `vpcctl` verb, decided in one place (the rule of `grep` and
//! `diff`):
//!
//! | status | meaning | examples |
//! |---|---|---|
//! | 0 | success: the answer is yes | valid file, applied, traced packet delivered, lab up/down |
//! | 1 | the verb ran and the answer is no | invalid topology file (`validate`, `apply`, `up`), traced packet dropped, a check failed |
//! | 2 | usage or system error: no answer | bad arguments, unreadable file, vpcd not running or failing, I/O, namespaces |
//!
//! `vpcctl exec` is the exception: it exits with the status of the command it ran,
//! unchanged (128 + N when the command was killed by signal N); only its own failures
//! (unknown ENI, vpcd unreachable) are 2, so a command that itself exits 2 cannot be told
//! apart from them by the status alone.

use std::process::ExitCode;

use crate::client::ClientError;
use crate::LoadError;

/// Exit status 0.
pub const SUCCESS: u8 = 0;
/// Exit status 1: the answer is no.
pub const FAILED: u8 = 1;
/// Exit status 2: usage or system error (what clap also uses for usage errors).
pub const ERROR: u8 = 2;

/// How a verb ended; [`ExitKind::code`] is the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// The verb did what was asked and the answer is yes. Exit 0.
    Success,
    /// The verb ran and the answer is no: the file is invalid, a traced packet was
    /// dropped, a check failed. Exit 1.
    Failed,
    /// A usage or system error: bad arguments, an unreadable file, vpcd unreachable or
    /// refusing, I/O. Exit 2.
    Error,
    /// The status of the command `vpcctl exec` ran, passed through unchanged.
    Passthrough(u8),
}

impl ExitKind {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Success => SUCCESS,
            ExitKind::Failed => FAILED,
            ExitKind::Error => ERROR,
            ExitKind::Passthrough(c) => c,
        }
    }

    /// Success when `yes`, else [`ExitKind::Failed`].
    pub fn answer(yes: bool) -> Self {
        if yes {
            ExitKind::Success
        } else {
            ExitKind::Failed
        }
    }

    /// Whether this is exit status 0.
    pub fn is_success(self) -> bool {
        self.code() == SUCCESS
    }

    /// The status of a command run by `vpcctl exec`, as the shell reports it: its own
    /// status, or 128 + N when it was killed by signal N (see [`crate::lab::exit_code`]).
    pub fn passthrough(code: i32) -> Self {
        ExitKind::Passthrough(u8::try_from(code).unwrap_or(FAILED))
    }

    /// A topology file that could not be loaded: invalid is a "no" (1), unreadable is an
    /// error (2).
    pub fn of_load_error(e: &LoadError) -> Self {
        match e {
            LoadError::Invalid(_) => ExitKind::Failed,
            LoadError::Io { .. } => ExitKind::Error,
        }
    }

    /// A failed request to vpcd: always an error (2). The file was valid for `vpcctl`, so
    /// what vpcd refuses is the host's state (a missing namespace, a TAP it could not
    /// create, an interface name in use) or a mismatch between the two programs.
    pub fn of_client_error(_: &ClientError) -> Self {
        ExitKind::Error
    }
}

impl From<ExitKind> for ExitCode {
    fn from(k: ExitKind) -> Self {
        ExitCode::from(k.code())
    }
}

/// The rule as printed by `vpcctl --help` and in the man page's EXIT STATUS section.
pub const EXIT_STATUS_HELP: &str = "\
Exit status (every verb, as grep and diff):
  0  success: valid, applied, delivered, done
  1  the answer is no: the topology file is invalid (validate, apply, up), the traced
     packet was dropped (trace)
  2  usage or system error: bad arguments, an unreadable file, vpcd not running or
     refusing the request, I/O
`vpcctl exec` exits with the status of the command it ran (128+N when killed by signal N);
its own failures are 2.";

/// [`EXIT_STATUS_HELP`] without its heading line: the body of the man page's EXIT STATUS
/// section.
pub fn exit_status_body() -> &'static str {
    EXIT_STATUS_HELP
        .split_once('\n')
        .map_or(EXIT_STATUS_HELP, |(_, body)| body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ValidationError, ValidationErrors};
    use std::path::PathBuf;

    #[test]
    fn codes_follow_grep_and_diff() {
        assert_eq!(ExitKind::Success.code(), 0);
        assert_eq!(ExitKind::Failed.code(), 1);
        assert_eq!(ExitKind::Error.code(), 2);
        assert_eq!(ExitKind::Passthrough(7).code(), 7);
        assert_eq!(ExitKind::Passthrough(0), ExitKind::passthrough(0));
        assert!(ExitKind::Passthrough(0).is_success());
        assert!(!ExitKind::Passthrough(2).is_success());
        assert_eq!(ExitKind::answer(true), ExitKind::Success);
        assert_eq!(ExitKind::answer(false), ExitKind::Failed);
    }

    #[test]
    fn exec_status_passes_through() {
        assert_eq!(ExitKind::passthrough(7).code(), 7);
        assert_eq!(ExitKind::passthrough(128 + 15).code(), 143);
        // Not a status a process can have on Unix; still not a success.
        assert_eq!(ExitKind::passthrough(-1).code(), 1);
        assert_eq!(ExitKind::passthrough(256).code(), 1);
    }

    #[test]
    fn invalid_file_is_no_unreadable_file_is_error() {
        let invalid = LoadError::Invalid(ValidationErrors::from(ValidationError::new(
            "vpc-a", "cidr", "too big",
        )));
        assert_eq!(ExitKind::of_load_error(&invalid), ExitKind::Failed);
        let io = LoadError::Io {
            path: PathBuf::from("/nonexistent"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(ExitKind::of_load_error(&io), ExitKind::Error);
    }

    #[test]
    fn vpcd_failures_are_errors() {
        for e in [
            ClientError::NotRunning {
                socket: PathBuf::from("/nonexistent"),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
            ClientError::Rejected(vec!["eni-a: network namespace `x` does not exist".into()]),
            ClientError::NoResponse {
                socket: PathBuf::from("/s"),
            },
        ] {
            assert_eq!(ExitKind::of_client_error(&e), ExitKind::Error, "{e}");
        }
    }

    #[test]
    fn the_help_text_names_every_status() {
        for needle in [
            "0  success",
            "1  the answer is no",
            "2  usage or system error",
        ] {
            assert!(EXIT_STATUS_HELP.contains(needle), "{needle}");
            assert!(exit_status_body().contains(needle), "{needle}");
        }
        assert!(exit_status_body().starts_with("  0  success"));
    }
}
