//! # concord: Concord's members, all-in-one or consensus-only
//!
//! The `concord` binary is one process with consensus (openraft + SQLite),
//! the v2 gateway and the watch fan-out, wired in-process through the same
//! traits (`concord_api::{Kv, Watch, Cluster}`) that the split services
//! implement over gRPC. `concord-consensus` is the same member without the
//! v2 HTTP API: it serves the KV, cluster and committed-events contracts on
//! its client URLs to gateways and watch services. Both take etcd's flags
//! ([`config`]), so `concord` can stand in for `etcd --enable-v2` in
//! scripts and walkthroughs.
//!
//! - `config.rs`: flags, environment and YAML, layered into `ServerConfig`;
//! - `help.rs`: `--help`, and the etcd flags not supported yet;
//! - `server.rs`: starting the parts, serving the client URLs, shutdown;
//! - `discovery_bootstrap.rs`: `--discovery` (etcd's v2 discovery
//!   protocol) before consensus starts; `proxy.rs`: the v2 proxy a member
//!   beyond the token's size becomes (`--discovery-fallback proxy`);
//!   `registry_publisher.rs`: the leader's view of the members, published
//!   under the discovery URL for gateways and watch services (which
//!   follow it: `concord-gateway`'s `registry_follower.rs`);
//! - `cli.rs`: the command line both member binaries share.
//!
//! The split's other processes have rooms of their own: `concord-gateway`
//! in `services/gateway`, `concord-watch` in `services/watch`,
//! `concord-discovery` in `services/discovery`.

pub mod cli;
pub mod config;
pub mod discovery_bootstrap;
pub mod help;
pub mod proxy;
pub mod registry_publisher;
pub mod server;

/// The etcd release whose v2 API Concord speaks.
pub const ETCD_COMPAT_VERSION: &str = "3.4.23";
