//! How an etcdctl v3 command fails (`ctlv3/command/error.go`): its exit
//! codes, and `ExitWithError`'s `Error: <err>` line on stderr.

use std::io::Write;
use std::process::ExitCode;

pub const EXIT_ERROR: u8 = 1;
pub const EXIT_BAD_CONNECTION: u8 = 2;
pub const EXIT_INVALID_INPUT: u8 = 3;
pub const EXIT_BAD_FEATURE: u8 = 4;
pub const EXIT_INTERRUPTED: u8 = 5;
pub const EXIT_BAD_ARGS: u8 = 128;

/// A command's failure: the exit code and the error text etcdctl prints
/// after `Error: ` (none when the command printed its own lines).
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub text: Option<String>,
}

impl Fail {
    pub fn new(code: u8, text: impl Into<String>) -> Fail {
        Fail {
            code,
            text: Some(text.into()),
        }
    }

    /// An exit with `code` and nothing more printed.
    pub fn silent(code: u8) -> Fail {
        Fail { code, text: None }
    }

    /// `ExitWithError`: prints the error (stdout flushed first, so the two
    /// streams keep their order on a terminal) and gives the exit code.
    pub fn exit(self) -> ExitCode {
        let _ = std::io::stdout().flush();
        if let Some(text) = self.text {
            eprintln!("Error: {text}");
        }
        ExitCode::from(self.code)
    }
}

/// A command's outcome.
pub type Outcome = Result<(), Fail>;
