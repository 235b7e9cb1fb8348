//! `concord-consensus`: a cluster member without the v2 HTTP API. It takes
//! the same flags as `concord` (etcd's) and serves, on its client URLs, the
//! KV, cluster and committed-events gRPC contracts (`proto/`) to
//! `concord-gateway` and `concord-watch`; its peer URLs speak the raft
//! protocol as `concord`'s do.

use concord_consensus::member::{cli, contracts::Contracts};

fn main() -> std::process::ExitCode {
    cli::main(&Contracts::new())
}
