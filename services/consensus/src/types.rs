//! The raft type configuration: what is proposed, what comes back.

use std::io::Cursor;

use concord_api::{
    ApiError, LeaderTransferError, Member, MembershipError, RaftPosition, RequestId,
};
use concord_mvcc as mvcc;
use concord_store::{Command, Error, Event, UnixNanos};
use serde::{Deserialize, Serialize};

/// One client write: to the v2 store or to the v3 keyspace. Both travel in
/// the same raft log (etcd 3.4 keeps both behind one raft group too), and
/// only the raft index and term are shared between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    V2(Command),
    V3(mvcc::Command),
}

/// What a v3 write answered: the keyspace's outcome or its error.
pub type V3Result = Result<mvcc::Outcome, mvcc::Error>;

/// One raft entry's worth of writes: the commands that arrived together
/// (group commit: openraft appends and fsyncs one entry at a time, so
/// concurrent writes share an entry) and the time they were proposed at
/// (the only clock reading; every replica applies this time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub commands: Vec<Command>,
    pub now: UnixNanos,
    /// The [`RequestId`] of each command (0: none, as for key expiry),
    /// applied at most once (`applied_requests.rs`). Empty in entries
    /// written before request IDs existed.
    #[serde(default)]
    pub ids: Vec<RequestId>,
    /// The v3 writes, applied after `commands`; their IDs follow the v2
    /// commands' in `ids`. Absent in entries written before the v3 API.
    #[serde(default)]
    pub v3: Vec<mvcc::Command>,
}

/// What one command of a proposal produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CommandResult {
    /// The event (or v2 error) of a client write; `None` for key expiry.
    pub result: Option<Result<Event, Error>>,
    /// The store index after the command (the event's `X-Etcd-Index`).
    pub store_index: u64,
    /// A v3 write's answer (`None` for v2 commands).
    #[serde(default)]
    pub v3: Option<V3Result>,
    /// The v3 keyspace revision after the command.
    #[serde(default)]
    pub revision: i64,
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

/// A request only the leader can serve. The member that receives it from a
/// client forwards it over the peer protocol (`Forward`), so clients may
/// talk to any member, as with etcd.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LeaderRequest {
    /// Client writes, proposed in the leader's next batch. `hops` counts
    /// forwards, so two members that disagree on who leads (briefly, during
    /// an election) cannot bounce a write between them forever.
    Write {
        commands: Vec<Command>,
        hops: u8,
        /// Each command's [`RequestId`]: a forward whose outcome is unknown
        /// (the leader died or was cut off under it) is sent again, to the
        /// next leader, and still applied at most once.
        #[serde(default)]
        ids: Vec<RequestId>,
        /// The v3 writes, after `commands` (their IDs after theirs).
        #[serde(default)]
        v3: Vec<mvcc::Command>,
    },
    /// The leader confirms it still leads and returns its commit index
    /// (raft's read index), for a linearizable read on a follower.
    ReadIndex,
    AddMember {
        peer_urls: Vec<String>,
    },
    RemoveMember {
        id: u64,
    },
    UpdateMember {
        id: u64,
        peer_urls: Vec<String>,
    },
    /// A member publishes its name and client URLs once it runs, as etcd
    /// members publish their attributes.
    Publish {
        id: u64,
        name: String,
        client_urls: Vec<String>,
    },
    /// etcd's `MoveLeader`: hand leadership to the voter `target`.
    MoveLeader {
        target: u64,
    },
}

/// The leader's answer to a [`LeaderRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LeaderReply {
    Writes(Vec<Result<(CommandResult, RaftPosition), ApiError>>),
    ReadIndex(Result<u64, ApiError>),
    Member(Result<Member, MembershipError>),
    Done(Result<(), MembershipError>),
    Moved(Result<(), LeaderTransferError>),
}

/// What a member answers to `Membership`: enough for a new member to find
/// its own ID and the cluster's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipInfo {
    pub cluster_id: u64,
    pub members: Vec<(u64, MemberNode)>,
}
