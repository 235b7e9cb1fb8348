//! Asking for a password as etcdctl does (bgentry/speakeasy's `Ask`): the
//! prompt on stdout, echo turned off (`stty -echo`) while stdin is read, the line
//! read from stdin up to its newline, then a newline on stdout.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

/// Why no password could be read.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("{0}")]
    Read(#[from] std::io::Error),
}

/// `stty` on stdin, as speakeasy runs it: with the process's own streams,
/// so that, when stdin is no terminal, stty's complaint reaches stderr as
/// it does under etcdctl.
fn stty(arg: &str) {
    let _ = Command::new("stty")
        .arg(arg)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status();
}

/// Prints `prompt`, reads one line without echo, prints the newline the
/// user's Enter did not show.
pub fn ask(prompt: &str) -> Result<String, PromptError> {
    let mut out = std::io::stdout();
    print!("{prompt}");
    let _ = out.flush();
    stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    stty("echo");
    println!();
    read?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}
