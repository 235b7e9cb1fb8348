//! The v3 API's contract: what the v3 gRPC services (etcd's `KV`, `Watch`,
//! `Lease`, `Maintenance`) need from whoever holds the v3 keyspace.
//!
//! The keyspace itself, its requests, answers and errors are
//! [`concord_mvcc`]'s (re-exported here as [`mvcc`]). The member implements
//! [`KeyspaceV3`] in-process (its writes go through the raft log); the
//! split's gateways implement it over gRPC to concord-consensus. The v3
//! services see only `Arc<dyn KeyspaceV3>` (and [`crate::Cluster`] for the
//! `Cluster` service), so they serve the same answers in both deployments.

use async_trait::async_trait;
pub use concord_mvcc as mvcc;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::ApiError;

/// What etcd's `ResponseHeader` carries: the revision is the keyspace's,
/// the rest is the answering member's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V3Header {
    pub cluster_id: u64,
    pub member_id: u64,
    /// The keyspace revision the answer was produced at.
    pub revision: i64,
    pub raft_term: u64,
}

/// A keyspace answer: the result, or the keyspace's error (etcd's text and
/// gRPC code, [`mvcc::Error`]), and the header it was produced at.
#[derive(Debug, Clone)]
pub struct V3Answer<T> {
    pub header: V3Header,
    pub result: Result<T, mvcc::Error>,
}

/// `Maintenance.Status` as the member answering knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V3Status {
    pub header: V3Header,
    /// The etcd version Concord answers as (`/version`'s `etcdserver`).
    pub version: String,
    /// Bytes the member's keyspace takes on disk (`dbSize`).
    pub db_size: i64,
    /// Bytes of that in use (`dbSizeInUse`).
    pub db_size_in_use: i64,
    /// The leader's member ID, 0 when there is none.
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub raft_applied_index: u64,
    /// Active alarms as etcd words them (`memberID:... alarm:NOSPACE`).
    pub errors: Vec<String>,
    pub is_learner: bool,
}

/// `Maintenance.HashKV`'s answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V3HashKv {
    pub hash: u32,
    pub compact_revision: i64,
}

/// Which changes a watcher wants: keys in `[key, range_end)` with etcd's
/// conventions (empty `range_end`: the key alone; `"\0"`: from `key` on),
/// from `start_revision` (0 or less: from the next revision on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V3WatchSpec {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub start_revision: i64,
}

/// What a watcher receives, in revision order, with no gap and no
/// duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V3WatchItem {
    /// The changes of one or more whole revisions, oldest first; each event
    /// carries its `prev_kv` where etcd's watch would give one (the service
    /// drops it unless the watcher asked for it). `revision` is the
    /// response header's: the write's own for a watcher in step with the
    /// writes, the keyspace's current one for changes read from the history
    /// (as etcd's synced and unsynced watchers answer).
    Events {
        revision: i64,
        events: Vec<mvcc::Event>,
    },
    /// The start revision is below the last compaction: etcd cancels the
    /// watch with this `compact_revision`. Nothing follows.
    Compacted { compact_revision: i64 },
    /// The answer to [`V3WatchControl::request_progress`]: every change up
    /// to `revision` has been delivered before this item.
    Progress { revision: i64 },
}

/// The other direction of a watcher.
pub trait V3WatchControl: Send + Sync + 'static {
    /// Asks for a [`V3WatchItem::Progress`] in the watcher's stream, after
    /// everything it has been sent so far.
    fn request_progress(&self);
}

/// A watcher: dropping it cancels it.
pub struct V3Watcher {
    pub items: mpsc::Receiver<V3WatchItem>,
    pub control: Box<dyn V3WatchControl>,
}

/// What a request served without the log needs to be allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Reading `[key, range_end)` (a watch).
    Read { key: Vec<u8>, range_end: Vec<u8> },
    /// The root role (etcd's `IsAdminPermitted`): membership changes,
    /// snapshots, hashes, defragmentation.
    Admin,
}

/// The v3 keyspace of a member (or of the cluster, through a gateway).
#[async_trait]
pub trait KeyspaceV3: Send + Sync + 'static {
    /// A replicated write (`Put`, `DeleteRange`, `Txn`, `Compaction`,
    /// `LeaseGrant`, `LeaseRevoke`, `LeaseKeepAlive`), answered once a
    /// majority has it and the member answering has applied it. The times
    /// inside lease commands are stamped by the proposer: whatever the
    /// caller put there is replaced.
    async fn write(&self, cmd: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError>;
    /// [`KeyspaceV3::write`] of a write named by `id` (0: none): applied
    /// at most once however often it is sent, so a caller that does not
    /// know whether an attempt reached consensus (a gateway whose member
    /// died under it) may send it again.
    async fn write_once(
        &self,
        cmd: mvcc::Command,
        _id: crate::RequestId,
    ) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        self.write(cmd).await
    }
    /// `Range`: linearizable unless `req.serializable`, which answers from
    /// this member's (or replica's) applied state.
    async fn range(
        &self,
        req: mvcc::RangeRequest,
    ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError>;
    async fn lease_time_to_live(
        &self,
        req: mvcc::LeaseTimeToLiveRequest,
    ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError>;
    async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError>;
    /// A watcher over a key range: history first (from the start
    /// revision), then every new change.
    async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError>;
    async fn status(&self) -> Result<V3Status, ApiError>;
    /// `HashKV`: a hash of the keyspace's history up to `revision` (0: the
    /// current one), equal on every member that applied the same log.
    async fn hash_kv(&self, revision: i64) -> Result<V3Answer<V3HashKv>, ApiError>;
    /// The whole keyspace as one blob (`Maintenance.Snapshot`), in
    /// Concord's own format.
    async fn snapshot(&self) -> Result<Vec<u8>, ApiError>;
    /// The current header (the ids, the raft term, the current revision).
    fn header(&self) -> V3Header;
    /// `Authenticate`: `password` checked against `name`'s, then a token
    /// given through the log (every member knows it).
    async fn authenticate(
        &self,
        name: String,
        password: String,
    ) -> Result<V3Answer<String>, ApiError>;
    /// The auth checks made where a request is served rather than where it
    /// is applied, for the request's caller ([`crate::caller::current`]):
    /// a watch's range, and the calls that need the root role.
    async fn authorize(&self, access: Access) -> Result<Result<(), mvcc::Error>, ApiError>;
    /// `Maintenance.Alarm`: list (`AlarmAction::Get`, `AlarmType::None`
    /// for every type), raise or disarm a member's alarm. A replicated
    /// write, as in etcd (even the listing goes through the log): every
    /// member holds the same alarms, and under NOSPACE every member
    /// refuses puts, txns with puts and lease grants
    /// ([`mvcc::Error::NoSpace`]). The answer lists the alarms listed,
    /// raised (unless active already) or disarmed (if they were active).
    async fn alarm(
        &self,
        request: mvcc::AlarmRequest,
    ) -> Result<V3Answer<mvcc::AlarmResponse>, ApiError> {
        let answer = self.write(mvcc::Command::Alarm(request)).await?;
        let result = match answer.result {
            Ok(mvcc::Outcome::Alarm(resp)) => Ok(resp),
            Ok(other) => {
                return Err(ApiError::Internal(format!(
                    "an alarm request answered {other:?}"
                )))
            }
            Err(e) => Err(e),
        };
        Ok(V3Answer {
            header: answer.header,
            result,
        })
    }
}
