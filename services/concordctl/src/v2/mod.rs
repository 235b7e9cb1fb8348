//! etcdctl's v2 half (`ETCDCTL_API=2`, etcdctl 3.4's `ctlv2`): the command
//! line (`cli.rs`, `flags.rs`), the commands (`command/`), etcd's Go v2
//! client over HTTP (`client/`), the printers (`output.rs`) and the exit
//! codes (`exit.rs`).

mod cli;
mod client;

pub(crate) use client::new_urls;
mod command;
mod exit;
mod flags;
mod output;

use std::process::ExitCode;

use clap::Parser;

use cli::Cli;
use exit::EXIT_BAD_ARGS;
use flags::Globals;

/// etcdctl v2's `main`: parse, then run the command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_BAD_ARGS } else { 0 });
        }
    };
    let g = match Globals::from_cli(&cli) {
        Ok(g) => g,
        Err(code) => return code,
    };
    match command::run(&g, cli.command) {
        Ok(code) | Err(code) => code,
    }
}
