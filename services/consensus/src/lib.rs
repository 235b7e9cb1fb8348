//! # concord-consensus: the replicated v2 store
//!
//! This crate owns Concord's data: one raft group (openraft 0.9) whose state
//! machine is the pure v2 store of `concord-store`.
//!
//! - [`types`]: the raft type configuration, proposals and replies;
//! - [`log_store`]: the raft log, vote, committed and last purged log ids
//!   in `<data-dir>/member/raft.db` (SQLite, WAL, `synchronous=FULL`), written
//!   by one thread: one transaction, one fsync per batch of appends; the
//!   log tail is cached in memory so the raft core never waits on SQLite;
//! - [`state_machine`]: applies committed commands to the store, publishes
//!   events to the [`concord_api::EventSink`], and writes snapshots
//!   (`<data-dir>/member/snap/<term>-<index>.snap`) that hold the applied log
//!   id and membership with the state they describe;
//! - [`applied_requests`]: the results of recent writes by request ID, so a
//!   write sent again after an unknown outcome is applied at most once;
//! - [`network`]: the raft transport between members (gRPC, `proto/peer.proto`),
//!   client side: raft messages, requests forwarded to the leader, and the
//!   membership lookup of a joining member;
//! - [`call_stream`]: the long-lived gRPC stream per peer that carries
//!   appends, votes and forwarded requests (one HTTP/2 frame per message);
//! - [`peer_stats`]: per-peer latency and counts (`/v2/stats/leader`,
//!   `/v2/stats/self`);
//! - [`ids`]: member and cluster IDs computed as etcd computes them;
//! - [`member`]: the member as a process (etcd's flags, `--help`,
//!   discovery bootstrap, the member registry, serving the client URLs),
//!   run by this crate's `concord-consensus` binary (`main.rs`) and by the
//!   all-in-one `concord`;
//! - [`node`]: the [`Consensus`] handle that starts it all (bootstrapping a
//!   fresh data dir or joining a running cluster, `node/identity.rs`:
//!   `<data-dir>/member/identity.json` holding the member and cluster IDs;
//!   `node/membership.rs`: membership changes on the leader;
//!   `node/peer_server.rs`: the peer protocol served on the peer URLs,
//!   refusing members of other clusters and removed members),
//!   batches concurrent writes into one raft entry (forwarding them to the
//!   leader from any other member), runs the leader's key-expiry ticker,
//!   changes membership with etcd's safety checks and implements the `Kv`
//!   and `Cluster` contracts.

// openraft's `StorageError` is what its traits return; our helpers return
// it too rather than boxing and unboxing at every call.
#![allow(clippy::result_large_err)]

pub mod applied_requests;
pub mod call_stream;
pub mod ids;
pub mod log_store;
pub mod member;
pub mod network;
pub mod node;
pub mod peer_stats;
pub mod simple_tokens;
pub mod state_machine;
pub mod tls_transport;
pub mod types;
pub mod v3_watchers;

pub use node::{Consensus, ConsensusConfig, ConsensusError};
pub use types::{MemberNode, TypeConfig};
