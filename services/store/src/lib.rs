//! # concord-store: the etcd v2 store as a pure library
//!
//! This crate owns the data model of Concord: the tree of keys and
//! directories that etcd's v2 API exposes, with TTLs, compare-and-swap,
//! in-order keys, hidden keys and etcd's error codes. It does no I/O and
//! never reads a clock: every call takes the time it happens at, so every
//! replica that applies the same [`Command`] at the same time gets the same
//! result. Key expiry is itself a command ([`Command::ExpireKeys`]).
//!
//! Layout:
//! - [`store`]: the [`Store`] (the whole contract, one method per operation),
//!   over its tree of nodes (`node.rs`) and its TTL schedule (`ttl_index.rs`,
//!   etcd's `ttl_key_heap.go`);
//! - [`command`]: the replicated write commands;
//! - [`event`]: the [`Event`] / [`NodeExtern`] answers, serialised as etcd's JSON;
//! - [`history`]: the last 1000 events, for `waitIndex` watches;
//! - [`internal`]: etcd's `/2` namespace (v2 auth), beside the key tree;
//! - [`replica`]: a store rebuilt from another's nodes and events (a
//!   gateway's read replica);
//! - [`stats`]: the counters of `/v2/stats/store`;
//! - [`error`]: every v2 errorCode with its message and HTTP status;
//! - [`time`]: Unix-nanosecond time and RFC 3339 formatting;
//! - [`go`]: Go's `path.Clean`, URL unescaping, `ParseDuration` and
//!   `ParseBool`, shared by every service that must read input as etcd does.

pub mod command;
pub mod error;
pub mod event;
pub mod go;
pub mod history;
pub mod internal;
mod node;
pub mod replica;
pub mod stats;
pub mod store;
pub mod time;
mod ttl_index;

pub use command::Command;
pub use error::{Error, ErrorCode};
pub use event::{Action, Event, NodeExtern};
pub use history::EventHistory;
pub use replica::ReplayError;
pub use stats::StoreStats;
pub use store::{Applied, RecoverError, Store};
pub use time::UnixNanos;
