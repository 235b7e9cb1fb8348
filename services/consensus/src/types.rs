//! The raft type configuration: what is proposed, what comes back.

use std::io::Cursor;

use concord_store::{Command, Error, Event, UnixNanos};
use serde::{Deserialize, Serialize};

/// A write as it travels through raft: the command and the time it was
/// proposed at (the only clock reading; every replica applies this time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub command: Command,
    pub now: UnixNanos,
}

/// What applying one entry produced, returned to the proposer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    /// The event (or v2 error) of a client write; `None` for internal entries.
    pub result: Option<Result<Event, Error>>,
    /// The store index after the entry (the event's `X-Etcd-Index`).
    pub store_index: u64,
}

/// A member as raft knows it: etcd's member attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberNode {
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
}

openraft::declare_raft_types!(
    /// Concord's raft types.
    pub TypeConfig:
        D = Proposal,
        R = Reply,
        NodeId = u64,
        Node = MemberNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<u64>;
pub type StorageError = openraft::StorageError<u64>;
pub type StoredMembership = openraft::StoredMembership<u64, MemberNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, MemberNode>;
