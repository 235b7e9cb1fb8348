//! # concordctl: etcdctl's commands for Concord
//!
//! Chooses its API as etcdctl 3.4 does, from `ETCDCTL_API`: unset, empty
//! or `3` gives the v3 commands over gRPC (`v3/`), `2` the v2 commands
//! over HTTP (`v2/`), anything else `unsupported API version <v>` (exit
//! code 1). The variable is then removed, as etcdctl removes it, so that
//! neither half reads it as one of its own `ETCDCTL_*` settings.
//!
//! - `v3/`: etcdctl's v3 half (`ctlv3`): cobra's command line, clientv3
//!   on tonic, the `simple`, `json`, `fields`, `protobuf` and `table`
//!   writers, etcdctl's errors, exit codes and log lines;
//! - `v2/`: etcdctl's v2 half (`ctlv2`): the v2 HTTP API with etcdctl's
//!   output formats, errors, exit codes and `--debug` cURL lines, syncing
//!   the member list first as etcdctl does;
//! - `http/`: the HTTP/1.1 client on hyper, worded as Go's `net/http`, and
//!   Go's URL rules (the v2 half's transport);
//! - `runtime.rs`: the current-thread tokio runtime the I/O runs on;
//! - `tls.rs`: the client side of TLS (rustls, ring), for both halves;
//! - `prompt.rs`: asking for a password as etcdctl does, for both halves;
//! - `probe.rs`: Concord's own container healthcheck (hidden), answered
//!   whatever `ETCDCTL_API` says, as the images' healthchecks call
//!   `concordctl probe` without it.

mod http;
mod probe;
mod prompt;
mod runtime;
mod tls;
mod v2;
mod v3;

use std::process::ExitCode;

fn main() -> ExitCode {
    let api = std::env::var_os("ETCDCTL_API");
    // Before any thread starts, so nothing reads the environment meanwhile.
    std::env::remove_var("ETCDCTL_API");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("probe") {
        return v2::main();
    }
    match api.as_ref().map(|v| v.to_string_lossy()) {
        None => v3::main(&args),
        Some(v) if v.is_empty() || v == "3" => v3::main(&args),
        Some(v) if v == "2" => v2::main(),
        Some(v) => {
            eprintln!("unsupported API version {v}");
            ExitCode::from(1)
        }
    }
}
