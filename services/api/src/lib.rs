//! # concord-api: the contracts between Concord's services
//!
//! Each boundary of the architecture is one trait here:
//! - [`Kv`]: writes (through consensus) and reads of the v2 store;
//! - [`Watch`]: long-poll and streaming watches over committed events;
//! - [`Cluster`]: the member registry and leadership;
//! - [`RaftStats`]: one member's raft statistics;
//! - [`v3::KeyspaceV3`]: the etcd v3 keyspace (KV, watch, leases, status).
//!
//! The embedded `concord` server implements them in-process; the split
//! services implement the same traits over gRPC. The gateway only ever sees
//! `Arc<dyn Kv>`, `Arc<dyn Watch>`, `Arc<dyn Cluster>` and `Arc<dyn RaftStats>`.

use std::sync::Arc;

use async_trait::async_trait;
use concord_store::{Command, Event, NodeExtern, StoreStats, UnixNanos};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub mod caller;
pub mod v3;

/// The etcd release whose answers Concord reproduces (`/version`, v3
/// `Status`).
pub const ETCD_SERVER_VERSION: &str = "3.4.23";
/// The cluster version etcd 3.4 reports.
pub const ETCD_CLUSTER_VERSION: &str = "3.4.0";

/// Why a KV, watch or cluster call failed. Serializable, because a member
/// forwards requests to the leader and relays its answer.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
pub enum ApiError {
    /// The store refused the operation (a v2 errorCode).
    #[error(transparent)]
    Store(#[from] concord_store::Error),
    /// There is no leader right now (errorCode 301 / 503 depending on the endpoint).
    #[error("no leader: {0}")]
    NoLeader(String),
    /// The proposal timed out or consensus failed (errorCode 300).
    #[error("raft internal error: {0}")]
    Internal(String),
    /// The member is shutting down.
    #[error("server is stopping")]
    Stopping,
}

/// Raft position reported with every answer (`X-Raft-Index`, `X-Raft-Term`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftPosition {
    pub index: u64,
    pub term: u64,
}

/// A store answer together with the raft position it was produced at.
#[derive(Debug, Clone)]
pub struct KvResponse {
    pub event: Event,
    pub raft: RaftPosition,
}

/// The wall clock as the store takes it (Unix nanoseconds): the time a
/// write is proposed at, or a read's `ttl` is computed against.
pub fn now_nanos() -> UnixNanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A member's whole store at one store index (every node, hidden ones
/// included, parents first: `Store::nodes`), which a gateway's read replica
/// loads before following the committed events after `store_index`.
#[derive(Debug, Clone, Default)]
pub struct StoreSnapshot {
    pub store_index: u64,
    pub nodes: Vec<NodeExtern>,
}

/// Names one client write across retries: the same ID sent again (to
/// another member, after a leader change) is applied at most once, and
/// answered with the first apply's result. Whoever first takes a write in
/// (a gateway, or the member a client reached) picks it: a random 64-bit
/// origin in the high half, a sequence number in the low half. 0 is none.
pub type RequestId = u128;

/// A source of [`RequestId`]s unique to this process.
pub struct RequestIds {
    origin: u64,
    next: std::sync::atomic::AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

impl RequestIds {
    /// A random origin: std's `RandomState` is seeded from the operating
    /// system's randomness once per process.
    pub fn new() -> RequestIds {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_i64(now_nanos());
        RequestIds {
            origin: h.finish() | 1,
            next: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The next ID (never 0).
    pub fn next(&self) -> RequestId {
        let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (u128::from(self.origin) << 64) | u128::from(seq)
    }
}

/// A v2 GET.
#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    pub key: String,
    pub recursive: bool,
    pub sorted: bool,
    /// Linearizable read (`quorum=true`).
    pub quorum: bool,
}

/// Keys: writes go through consensus, reads are served locally unless quorum.
#[async_trait]
pub trait Kv: Send + Sync + 'static {
    /// Proposes a write and waits until it is committed and applied.
    async fn write(&self, cmd: Command) -> Result<KvResponse, ApiError>;
    /// [`Kv::write`] of a write named by `id` (0: none): applied at most
    /// once however often it is sent, so a caller that does not know
    /// whether an attempt reached consensus may send it again.
    async fn write_once(&self, cmd: Command, _id: RequestId) -> Result<KvResponse, ApiError> {
        self.write(cmd).await
    }
    /// Reads the store; includes every write this member has answered.
    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError>;
    /// Waits until this member has applied every write it has already
    /// answered, so that what a client reads or watches here next includes
    /// its own writes (etcd answers a write only after the local apply).
    async fn caught_up(&self) -> Result<(), ApiError> {
        Ok(())
    }
    /// The current store index (`X-Etcd-Index` for errors raised before the store).
    fn store_index(&self) -> u64;
    /// The current raft position.
    fn raft_position(&self) -> RaftPosition;
    /// The highest store index this `Kv` answered a write with: a watch
    /// "from now" through the same gateway must start after it, so that a
    /// client watching after its own write does not see that write again
    /// (kept by the caller, never looked up remotely; 0 where the watch
    /// tier shares the member's memory and [`Kv::caught_up`] covers it).
    fn answered_store_index(&self) -> u64 {
        0
    }
    /// Waits until this member has applied raft index `raft_index` (a
    /// remote caller's read-your-writes floor).
    async fn wait_applied(&self, _raft_index: u64) -> Result<(), ApiError> {
        Ok(())
    }
    /// The store's counters (without `watchers`).
    async fn store_stats(&self) -> Result<StoreStats, ApiError>;
    /// The whole store at its current index (a member's; a `Kv` that holds
    /// no store answers an error).
    async fn snapshot(&self) -> Result<StoreSnapshot, ApiError> {
        Err(ApiError::Internal("this Kv holds no store".into()))
    }
}

/// A registered watch: the store index when it started, and its events.
/// The channel closes when the watcher is dropped by the hub (for example
/// because it fell more than its buffer behind).
pub struct Watcher {
    pub start_index: u64,
    pub events: mpsc::Receiver<Arc<Event>>,
}

/// A v2 watch (`wait=true`).
#[derive(Debug, Clone, Default)]
pub struct WatchRequest {
    pub key: String,
    pub recursive: bool,
    pub stream: bool,
    /// `waitIndex`; `None` means "from the next index".
    pub since_index: Option<u64>,
    /// "Now" is at least this store index: a watch tier that has not seen
    /// it yet waits for it before registering (read-your-writes across
    /// processes; see [`Kv::answered_store_index`]).
    pub after_index: u64,
}

/// Watches over committed events.
#[async_trait]
pub trait Watch: Send + Sync + 'static {
    async fn watch(&self, req: WatchRequest) -> Result<Watcher, ApiError>;
    /// Number of active watchers (for `/v2/stats/store`).
    async fn watcher_count(&self) -> Result<u64, ApiError>;
}

/// A member as `/v2/members` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Lowercase hex without leading zeros, as etcd prints IDs.
    pub id: String,
    pub name: String,
    #[serde(rename = "peerURLs")]
    pub peer_urls: Vec<String>,
    #[serde(rename = "clientURLs")]
    pub client_urls: Vec<String>,
}

/// A member's raft role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftRole {
    #[default]
    Follower,
    Candidate,
    Leader,
}

/// The leader a member knows, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownLeader {
    pub id: u64,
    /// When this member first saw it lead (the member's clock).
    pub since: UnixNanos,
    /// How long it has led, as the member measures it (so that a reader on
    /// another host with another clock need not subtract times).
    pub uptime_nanos: i64,
}

/// One member's raft statistics, as data; the gateway renders them as
/// etcd's `/v2/stats/self` (hex IDs, "StateLeader", RFC 3339 times, Go
/// durations).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfStats {
    pub name: String,
    pub id: u64,
    pub role: RaftRole,
    pub start_time: UnixNanos,
    pub leader: Option<KnownLeader>,
    pub recv_append_request_cnt: u64,
    pub send_append_request_cnt: u64,
}

/// `/v2/stats/leader`, served by the leader only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LeaderStats {
    pub leader: String,
    pub followers: std::collections::BTreeMap<String, FollowerStats>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FollowerStats {
    pub latency: LatencyStats,
    pub counts: CountStats,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LatencyStats {
    pub current: f64,
    pub average: f64,
    #[serde(rename = "standardDeviation")]
    pub standard_deviation: f64,
    pub minimum: f64,
    pub maximum: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CountStats {
    pub fail: u64,
    pub success: u64,
}

/// Why a membership change was refused (mapped to etcd's HTTP answers).
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
pub enum MembershipError {
    /// 404 "No such member: <id>".
    #[error("No such member: {0}")]
    NotFound(String),
    /// 410 "Member permanently removed: <id>".
    #[error("Member permanently removed: {0}")]
    Removed(String),
    #[error("membership: ID exists")]
    IdExists,
    /// A new member would get the ID of a removed one (same peer URLs,
    /// same second); etcd answers a plain 500.
    #[error("membership: ID removed")]
    IdRemoved,
    #[error("membership: peerURL exists")]
    PeerUrlExists,
    /// The change would leave the cluster without a quorum of connected
    /// members (etcd's `--strict-reconfig-check`).
    #[error("etcdserver: unhealthy cluster")]
    Unhealthy,
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStarted,
    #[error("{0}")]
    Internal(String),
}

/// Why a leadership transfer (`MoveLeader`) failed, in etcd's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum LeaderTransferError {
    /// The member asked is not the leader.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// The target is not a voting member.
    #[error("etcdserver: bad leader transferee")]
    BadTransferee,
    /// The target did not take over in time.
    #[error("etcdserver: request timed out, leader transfer took too long")]
    TimedOut,
    /// This registry has no raft to move leadership in.
    #[error("etcdserver: not capable")]
    NotCapable,
    #[error("{0}")]
    Internal(String),
}

/// The member registry: members, leadership, member changes, health.
#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// The cluster ID in hex, as etcd prints it (`X-Etcd-Cluster-ID`).
    fn cluster_id(&self) -> String;
    async fn members(&self) -> Result<Vec<Member>, ApiError>;
    /// The leader, if there is one.
    async fn leader(&self) -> Result<Option<Member>, ApiError>;
    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError>;
    async fn remove_member(&self, id: u64) -> Result<(), MembershipError>;
    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError>;
    /// True if there is a leader and a quorum read succeeds.
    async fn healthy(&self) -> bool;
    /// Moves leadership to the voting member `target` (etcd's
    /// `MoveLeader`), answered once `target` leads. The default is for
    /// registries without a raft of their own (discovery's, test doubles).
    async fn move_leader(&self, _target: u64) -> Result<(), LeaderTransferError> {
        Err(LeaderTransferError::NotCapable)
    }
}

/// One member's raft statistics (`/v2/stats/self`, `/v2/stats/leader`):
/// always of the member answering, unlike the registry, which every member
/// answers alike.
#[async_trait]
pub trait RaftStats: Send + Sync + 'static {
    async fn self_stats(&self) -> Result<SelfStats, ApiError>;
    /// `None` when this member is not the leader.
    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError>;
}

/// Where the state machine delivers committed events, in index order.
///
/// In the embedded server this is the watch hub itself; in the split
/// deployment it is the gRPC event stream that watch services follow.
pub trait EventSink: Send + Sync + 'static {
    /// One applied event (every store index advance produces exactly one),
    /// called in index order while the store is locked, so that a watcher
    /// registered "from now" can never miss or double-see an event.
    fn publish(&self, event: Arc<Event>);
    /// The store was replaced wholesale (snapshot install) at `store_index`:
    /// history is gone and current watchers must be cleared (etcd's 400).
    fn reset(&self, store_index: u64);
}

/// One committed change as the watch tier receives it.
#[derive(Debug, Clone)]
pub enum Committed {
    /// The next event, in store index order.
    Event(Arc<Event>),
    /// The store was replaced (or the events after the subscriber's index
    /// are no longer held): history restarts at this store index.
    Reset(u64),
}

/// A member's committed events, "everything after store index N", for the
/// watch tier (served over gRPC by concord-consensus).
pub trait EventSource: Send + Sync + 'static {
    /// The events with a store index above `after_index`, then each new
    /// one as it is applied; a [`Committed::Reset`] first if the events
    /// right after `after_index` are no longer held. The channel closes if
    /// the subscriber falls too far behind (it subscribes again from the
    /// last index it saw).
    fn subscribe(&self, after_index: u64) -> mpsc::Receiver<Committed>;
    /// Every event from now on, after a [`Committed::Reset`] at the current
    /// store index (a subscriber with no history of its own starts here).
    fn subscribe_from_now(&self) -> mpsc::Receiver<Committed>;
}
