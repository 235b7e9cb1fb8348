//! The replicated write commands. Every replica applies the same command,
//! with the same proposal time, to the same result.

use serde::{Deserialize, Serialize};

/// One write to the store, as etcd's `apply_v2.go` dispatches it.
///
/// `ttl` is in seconds; `None` means the node never expires. The absolute
/// expiry is `now + ttl`, where `now` is the proposal time that travels with
/// the command (see [`crate::Store::apply`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// PUT without preconditions (action `set`); `refresh` keeps the value.
    Set {
        key: String,
        dir: bool,
        value: String,
        ttl: Option<u64>,
        refresh: bool,
    },
    /// PUT with prevExist=false (action `create`), or POST (`unique`: an
    /// in-order key named after the new index inside `key`).
    Create {
        key: String,
        dir: bool,
        value: String,
        unique: bool,
        ttl: Option<u64>,
    },
    /// PUT with prevExist=true (action `update`).
    Update {
        key: String,
        value: String,
        ttl: Option<u64>,
        refresh: bool,
    },
    /// PUT with prevValue and/or prevIndex (action `compareAndSwap`).
    /// An empty `prev_value` or a zero `prev_index` is not compared.
    CompareAndSwap {
        key: String,
        prev_value: String,
        prev_index: u64,
        value: String,
        ttl: Option<u64>,
        refresh: bool,
    },
    /// DELETE (action `delete`).
    Delete {
        key: String,
        dir: bool,
        recursive: bool,
    },
    /// DELETE with prevValue and/or prevIndex (action `compareAndDelete`).
    CompareAndDelete {
        key: String,
        prev_value: String,
        prev_index: u64,
    },
    /// Expire every node whose expiry is at or before the command's time
    /// (etcd's SYNC). Proposed by the leader only.
    ExpireKeys,
}

impl Command {
    /// The key a client write names (`None` for [`Command::ExpireKeys`]).
    pub fn key(&self) -> Option<&str> {
        match self {
            Command::Set { key, .. }
            | Command::Create { key, .. }
            | Command::Update { key, .. }
            | Command::CompareAndSwap { key, .. }
            | Command::Delete { key, .. }
            | Command::CompareAndDelete { key, .. } => Some(key),
            Command::ExpireKeys => None,
        }
    }
}
