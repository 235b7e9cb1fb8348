//! The raft type configuration: what is proposed, what comes back.

use std::io::Cursor;

use concord_store::{Command, Error, Event, UnixNanos};
use serde::{Deserialize, Serialize};

/// One raft entry's worth of writes: the commands that arrived together
/// (group commit: openraft appends and fsyncs one entry at a time, so
/// concurrent writes share an entry) and the time they were proposed at
/// (the only clock reading; every replica applies this time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub commands: Vec<Command>,
    pub now: UnixNanos,
}

/// What one command of a proposal produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CommandResult {
    /// The event (or v2 error) of a client write; `None` for key expiry.
    pub result: Option<Result<Event, Error>>,
    /// The store index after the command (the event's `X-Etcd-Index`).
    pub store_index: u64,
}

/// What applying one entry produced: a result per command, in order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    pub results: Vec<CommandResult>,
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
