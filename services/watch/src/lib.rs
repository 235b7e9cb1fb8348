//! # concord-watch: the watch fan-out
//!
//! One ordered stream of committed events in, many watchers out. The
//! [`WatchHub`] keeps etcd's global history of the last 1000 events (so
//! `waitIndex` can replay, or fail with errorCode 401 once history has moved
//! on) and a table of live watchers keyed by the path they watch, so an event
//! costs one lookup per ancestor of its key, not one per watcher.
//!
//! The hub is an [`EventSink`] (the state machine publishes into it, in index
//! order) and a [`Watch`] (the gateway registers watchers on it). The embedded
//! server wires the two in-process; the split watch service feeds it from the
//! consensus event stream.

//!
//! [`EventLog`] is the other end, on a consensus member of the split
//! deployment: its recent committed events, served as "everything after
//! index N" to the watch services that feed their hubs from it.

//!
//! [`follower`] feeds a hub from the consensus members' committed events
//! over gRPC; the `concord-watch` binary (`main.rs`) serves it to the
//! gateways. With an event bus configured, [`bus`] carries the committed
//! events through NATS JetStream instead (published by the leader, gaps
//! filled over gRPC). The same follower keeps a gateway's read replica
//! (`concord-gateway`'s `read_replica`).
//!
//! For v3, [`v3_watchers`] is etcd's `watchableStore` over a keyspace
//! history (the member's keyspace, or the tier's window), and [`v3_tier`]
//! the tier's: a window of the members' recent revisions, followed with
//! one whole-keyspace watch, that the binary serves etcd's `Watch` from.

pub mod bus;
mod event_log;
pub mod follower;
mod hub;
pub mod v3_tier;
pub mod v3_watchers;

pub use event_log::{EventLog, EVENT_LOG_CAPACITY, SUBSCRIBER_BUFFER};
pub use hub::{WatchHub, HISTORY_CAPACITY, WATCHER_BUFFER};
