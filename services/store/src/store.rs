//! The v2 store: a tree of nodes, the global index, the TTL schedule.

use crate::{Command, Error, Event, StoreStats, UnixNanos};

/// What applying one command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A client write: its event, or the v2 error it failed with.
    Write(Result<Event, Error>),
    /// [`Command::ExpireKeys`]: one `expire` event per expired node, in order.
    Expired(Vec<Event>),
}

/// A snapshot could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode store snapshot: {0}")]
pub struct RecoverError(pub String);

/// The etcd v2 store.
#[derive(Debug)]
pub struct Store {}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store: the root directory only, index 0.
    pub fn new() -> Self {
        todo!()
    }

    /// The global store index (`X-Etcd-Index`).
    pub fn index(&self) -> u64 {
        todo!()
    }

    /// GET: the node at `key` (and its children; all descendants if
    /// `recursive`; children in key order if `sorted`). `now` sets `ttl`.
    pub fn get(&self, key: &str, recursive: bool, sorted: bool, now: UnixNanos) -> Result<Event, Error> {
        let _ = (key, recursive, sorted, now);
        todo!()
    }

    /// Applies one replicated command proposed at time `now`.
    pub fn apply(&mut self, cmd: &Command, now: UnixNanos) -> Applied {
        let _ = (cmd, now);
        todo!()
    }

    /// The earliest expiry time of any node, if any node has a TTL.
    pub fn next_expiry(&self) -> Option<UnixNanos> {
        todo!()
    }

    /// The operation counters (`watchers` left at 0).
    pub fn stats(&self) -> StoreStats {
        todo!()
    }

    /// Serialises the whole store (tree, index, TTLs) for a snapshot.
    pub fn save(&self) -> Vec<u8> {
        todo!()
    }

    /// Rebuilds a store from [`Store::save`]'s output.
    pub fn recover(data: &[u8]) -> Result<Store, RecoverError> {
        let _ = data;
        todo!()
    }
}
