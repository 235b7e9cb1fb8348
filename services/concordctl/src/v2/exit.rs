//! How an etcdctl v2 command fails: its exit codes
//! (`ctlv2/command/error.go`) and the lines it prints on stderr.

use std::process::ExitCode;

use super::client::Error;

pub const EXIT_BAD_ARGS: u8 = 1;
pub const EXIT_BAD_CONNECTION: u8 = 2;
pub const EXIT_SERVER_ERROR: u8 = 4;
pub const EXIT_CLUSTER_NOT_HEALTHY: u8 = 5;

/// etcdctl's `handleError`: `Error:  <err>` on stderr (and a cluster
/// error's detail), and the exit code.
pub fn handle_error(code: u8, err: &Error) -> ExitCode {
    eprintln!("Error:  {}", err.text());
    if let Some(detail) = err.detail() {
        eprintln!("{detail}");
    }
    ExitCode::from(code)
}

/// `handleError` with a plain message (argument errors).
pub fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("Error:  {msg}");
    ExitCode::from(code)
}

/// A member command's own error: the message alone, exit 1.
pub fn member_fail(msg: &str) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(EXIT_BAD_ARGS)
}
