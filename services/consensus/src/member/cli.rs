//! The command line shared by `concord` and `concord-consensus`: flags,
//! `--help`, `--version`, logging set-up, one line per fatal error.

use std::collections::BTreeMap;
use std::process::ExitCode;

use super::server::ClientFace;
use super::{config, help, server, ETCD_COMPAT_VERSION};

/// Runs a member serving `face` with the process's arguments and
/// environment.
pub fn main(face: &dyn ClientFace) -> ExitCode {
    let given = match config::parse_flags(std::env::args()) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if given.flags.help {
        print!("{}", help::text());
        return ExitCode::SUCCESS;
    }
    if given.flags.version.as_deref().is_some_and(|v| v != "false") {
        println!("concord Version: {}", env!("CARGO_PKG_VERSION"));
        println!("etcd API Version: 2 (compatible with etcd {ETCD_COMPAT_VERSION} --enable-v2)");
        println!(
            "Rust OS/Arch: {}/{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        return ExitCode::SUCCESS;
    }
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let cfg = match config::layered(&given, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("concord: {e}");
            return ExitCode::from(1);
        }
    };
    concord_process::init_logging(&cfg.name, &cfg.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            fatal(&format!("cannot start the runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(server::run(cfg, face)) {
        Ok(()) => ExitCode::SUCCESS,
        // Discovery logged its failure in etcd's lines already.
        Err(e) if e.is::<super::discovery_bootstrap::Reported>() => ExitCode::from(1),
        Err(e) => {
            fatal(&one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// One line for a fatal error once logging is set up: the log's ERROR line
/// (with the time and the member's name), or `concord: ...` where the log
/// filter would hide it.
fn fatal(msg: &str) {
    if tracing::enabled!(tracing::Level::ERROR) {
        tracing::error!("{msg}");
    } else {
        eprintln!("concord: {msg}");
    }
}

/// The error and its causes as `a: b: c`, leaving out a cause whose text
/// the line already holds (an error that prints its source itself).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
