//! etcdctl's v3 half (`ETCDCTL_API=3` or unset, etcdctl 3.4's `ctlv3`):
//! the command line (`cli/`), the global flags (`globals.rs`), etcd's Go
//! v3 client on tonic (`client/`), the commands (`command/`), the `-w`
//! writers (`printer/`), Go's ways of writing values (`go_text.rs`) and
//! the exit codes (`exit.rs`).

mod cli;
mod client;
mod command;
mod exit;
mod globals;
mod go_text;
mod printer;

use std::io::Write;
use std::process::ExitCode;

use cli::{usage::usage, Stop};
use exit::EXIT_ERROR;

/// etcdctl v3's `Start`: parse, then run the command.
pub fn main(argv: &[String]) -> ExitCode {
    let parsed = match cli::parse(argv) {
        Ok(p) => p,
        Err(Stop::Help(path)) => {
            print!("{}", usage(&path));
            return ExitCode::SUCCESS;
        }
        Err(Stop::Flag(path, err)) => {
            // cobra: the error and the usage (etcdctl's usage function
            // writes to stdout), then etcdctl's own `Error:` line.
            eprintln!("Error: {err}");
            print!("{}", usage(&path));
            let _ = std::io::stdout().flush();
            eprintln!();
            eprintln!("Error: {err}");
            return ExitCode::from(EXIT_ERROR);
        }
        Err(Stop::UnknownCommand(err)) => {
            eprintln!("Error: {err}");
            eprintln!("Run 'etcdctl --help' for usage.");
            eprintln!("Error: {err}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match command::run(parsed) {
        Ok(()) => {
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(fail) => fail.exit(),
    }
}
