//! # concordctl: etcdctl's commands for Concord
//!
//! Speaks the etcd v2 HTTP API to any endpoint (Concord or etcd) and prints
//! exactly what `ETCDCTL_API=2 etcdctl` 3.4 prints: the same output formats
//! (`-o simple|json|extended`), error lines (`Error:  100: Key not found
//! (/foo) [12]`), exit codes (1 bad arguments, 2 no endpoint reachable
//! while syncing, 4 a failed request, 5 an unhealthy cluster) and, with
//! `--debug`, the same cURL lines on stderr.
//!
//! Like etcdctl, every command but `cluster-health` first syncs the member
//! list from the endpoints (`GET /v2/members`) and then talks to the
//! members' client URLs (`--no-sync` keeps the given endpoints), trying
//! them in a random order with fail-over; `--timeout` bounds each request
//! until its response headers, `--total-timeout` each command step.
//!
//! - `v2/`: etcdctl's v2 half: its command line, commands, printers and
//!   etcd's Go v2 client (etcdctl's v3 half, on gRPC, will sit beside it);
//! - `http/`: the HTTP/1.1 client on hyper, worded as Go's `net/http`, and
//!   Go's URL rules;
//! - `runtime.rs`: the current-thread tokio runtime the I/O runs on;
//! - `probe.rs`: Concord's own container healthcheck (hidden).

mod http;
mod probe;
mod runtime;
mod v2;

use std::process::ExitCode;

fn main() -> ExitCode {
    v2::main()
}
