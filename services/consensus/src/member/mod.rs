//! The consensus member as a process: what `concord-consensus` (this
//! crate's binary) and the all-in-one `concord` (which adds the v2 API in
//! the same process) run. Both take etcd's flags, so either can stand in
//! for `etcd` in scripts and walkthroughs.
//!
//! - `config.rs`: flags, environment and YAML, layered into `ServerConfig`;
//! - `help.rs`: `--help`; `unsupported.rs`: the etcd flags not supported
//!   yet, listed there and refused;
//! - `cli.rs`: the command line both member binaries share;
//! - `server.rs`: starting the parts, serving the client URLs through the
//!   binary's [`server::ClientFace`], shutdown;
//! - `contracts.rs`: `concord-consensus`'s face: the KV, cluster and
//!   committed-events gRPC contracts, and the event bus;
//! - `discovery_bootstrap.rs`: `--discovery` (etcd's v2 discovery
//!   protocol) before consensus starts; `proxy_cluster.rs`: the record of
//!   the v2 proxy a member beyond the token's size becomes (the proxy itself
//!   is the all-in-one's, in `concord`);
//! - `tls.rs`: the TLS of https:// client and peer URLs, from the flags;
//! - `registry_publisher.rs`: the leader's view of the members, published
//!   under the discovery URL for gateways and watch services.

pub mod cli;
pub mod config;
pub mod contracts;
pub mod discovery_bootstrap;
pub mod help;
pub mod proxy_cluster;
pub mod registry_publisher;
pub mod server;
pub mod tls;
pub mod unsupported;

/// The etcd release whose v2 API Concord speaks.
pub const ETCD_COMPAT_VERSION: &str = "3.4.23";
