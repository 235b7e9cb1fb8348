//! # concord: the all-in-one Concord server
//!
//! One process with consensus (openraft + SQLite), the v2 gateway and the
//! watch fan-out, wired in-process through the same traits
//! (`concord_api::{Kv, Watch, Cluster}`) that the split services implement
//! over gRPC. It takes etcd's flags ([`config`]), so `concord` can stand in
//! for `etcd --enable-v2` in scripts and walkthroughs.
//!
//! - `config.rs`: flags, environment and YAML, layered into `ServerConfig`;
//! - `server.rs`: starting the parts, serving the client URLs, shutdown.

mod config;
mod server;

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Parser;

/// The etcd release whose v2 API Concord speaks.
pub const ETCD_COMPAT_VERSION: &str = "3.4.23";

fn main() -> ExitCode {
    let args = config::normalize_args(std::env::args());
    let flags = match config::Flags::try_parse_from(args) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if flags.version.as_deref().is_some_and(|v| v != "false") {
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
    let cfg = match config::layered(&flags, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("concord: {e}");
            return ExitCode::from(1);
        }
    };
    server::init_logging(&cfg.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("concord: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(server::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("concord: {e:#}");
            ExitCode::from(1)
        }
    }
}
