//! The [`Consensus`] handle: starts raft on a data dir (bootstrapping a new
//! cluster, or joining an existing one by asking its members who we are),
//! serves the peer protocol, and implements the `Kv` and `Cluster`
//! contracts on top of raft. One concern per file:
//!
//! - `data_dir.rs`: what a data dir must hold before raft starts on it;
//! - `startup.rs`: raft's settings, bootstrapping, the peer servers;
//! - `identity.rs`: who this member is (IDs, written once);
//! - `batching.rs`: group commit of writes, forwarded in batches;
//! - `forward.rs`: getting a request to the leader through elections;
//! - `read_index.rs`: linearizable (quorum) reads;
//! - `membership.rs`: member changes with etcd's checks, publishing;
//! - `leadership.rs`: leadership log lines; `expiry.rs`: the SYNC ticker;
//! - `compactor.rs`: the leader's auto-compaction; `quota.rs`: the
//!   backend quota (the NOSPACE alarm);
//! - `kv.rs`, `cluster.rs`, `v3.rs`: the contracts (v2 keys, cluster, v3
//!   keyspace).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use concord_api::{
    ApiError, Cluster, EventSink, KnownLeader, Kv, KvResponse, LeaderStats, LeaderTransferError,
    Member, MembershipError, RaftPosition, RaftRole, RaftStats, ReadRequest, RequestId, RequestIds,
    SelfStats, StoreSnapshot,
};
use concord_rpc::peer::peer_server::PeerServer;
use concord_store::{Command, StoreStats, UnixNanos};
use openraft::error::{ClientWriteError, RaftError};
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{Config, ServerState, SnapshotPolicy, Vote};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

mod auth;
mod batching;
mod cluster;
mod compactor;
mod data_dir;
mod expiry;
mod forward;
mod identity;
mod kv;
mod leadership;
mod membership;
mod passwords;
mod peer_server;
mod quota;
mod read_index;
mod restore;
mod startup;
mod transfer;
mod v3;

pub use compactor::{AutoCompaction, AutoCompactionError, REVISION_INTERVAL};
pub use quota::{effective_quota, DEFAULT_QUOTA_BYTES, MAX_QUOTA_BYTES};
pub use restore::{go_os_error, RestoreConfig, RestoreError, RestorePlan, Restored};

use batching::{propose_batches, PendingWrite, MAX_BATCH};
use expiry::expire_keys;
use forward::Forwarded;
use leadership::watch_leadership;
use read_index::{read_index_rounds, ReadIndexWaiter};
use startup::{bootstrap, keep_own_vote_uncommitted, raft_config, serve_peers};

use identity::{join_identity, load_or_create_identity, save_identity, Identity};
use membership::{probe_removed, publish_attributes};
use peer_server::PeerService;

use crate::ids::hex;
use crate::log_store::SqliteLogStore;
use crate::network::{NetContext, PeerConn, PeerError, PeerNetwork, MAX_MESSAGE_BYTES};
use crate::peer_stats::PeerStats;
use crate::state_machine::{Shared, StateMachine};
use crate::types::{CommandResult, LeaderReply, LeaderRequest, MemberNode, Proposal, Raft, Write};

/// How a member starts (etcd's flags, already parsed).
#[derive(Debug, Clone)]
pub struct ConsensusConfig {
    pub name: String,
    pub data_dir: PathBuf,
    /// name -> peer URLs of the initial members.
    pub initial_cluster: Vec<(String, Vec<String>)>,
    pub initial_cluster_token: String,
    pub advertise_client_urls: Vec<String>,
    pub initial_advertise_peer_urls: Vec<String>,
    pub snapshot_count: u64,
    pub heartbeat_interval_ms: u64,
    pub election_timeout_ms: u64,
    /// `--initial-cluster-state existing`: join a running cluster (after
    /// `member add`) instead of bootstrapping one.
    pub join_existing: bool,
    /// `--strict-reconfig-check`: refuse membership changes that would
    /// leave the cluster without a quorum of started, connected members.
    pub strict_reconfig_check: bool,
}

/// Why a member could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    #[error("couldn't find local name {0:?} in the initial cluster configuration")]
    NotInInitialCluster(String),
    #[error("cannot use data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the raft log {path}: {message}")]
    LogOpen { path: String, message: String },
    /// A data dir that is neither new nor complete (see `data_dir`).
    #[error("{file}: {problem}. Refusing to start on a damaged data dir. For a member of a multi-member cluster: remove it (`concordctl member remove <id>` on a healthy member), wipe its data dir, add it back (`member add`) and start it with --initial-cluster-state existing; for a single-member cluster: restore the data dir from a backup")]
    DamagedDataDir { file: String, problem: String },
    #[error("raft storage: {0}")]
    Storage(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("cannot fetch cluster info from peer urls: {0}")]
    Join(String),
    #[error("cannot serve the peer URLs: {0}")]
    PeerServer(String),
}

/// A running member.
pub struct Consensus {
    raft: Raft,
    /// The raft log's handle, to write what is pending when stopping.
    log: SqliteLogStore,
    shared: Arc<Shared>,
    net: Arc<NetContext>,
    identity: Identity,
    /// Name and client URLs this member publishes to the cluster.
    advertise_client_urls: Vec<String>,
    start_time: UnixNanos,
    /// Term, and when this member last saw a leader elected (for stats).
    term: AtomicU64,
    leader_since: Mutex<Option<(u64, UnixNanos)>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Writes waiting to be proposed (see [`propose_batches`]).
    proposals: mpsc::Sender<PendingWrite>,
    /// Names the writes clients hand this member without one.
    request_ids: RequestIds,
    /// Linearizable reads waiting for the next read-index round (see
    /// [`read_index_rounds`]).
    read_index_waiters: mpsc::Sender<ReadIndexWaiter>,
    election_timeout: Duration,
    strict_reconfig_check: bool,
    /// Members of other clusters already reported.
    mismatch_reported: Mutex<HashSet<u64>>,
    /// Highest raft index of a write this member answered (forwarded writes
    /// are answered once committed, possibly before the local apply); local
    /// reads and watches wait until it is applied (read-your-writes).
    answered_index: AtomicU64,
    /// True once the cluster knows this member's name and client URLs;
    /// like etcd, the member reports itself healthy only after that.
    published: std::sync::atomic::AtomicBool,
}

/// etcd's HealthInterval: a peer that has answered for this long is "active".
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

use concord_api::now_nanos;

impl Consensus {
    /// Opens the data dir (bootstrapping or joining on first start), starts
    /// raft and serves the peer protocol on `peer_listeners`.
    pub async fn start(
        cfg: ConsensusConfig,
        sink: Arc<dyn EventSink>,
        peer_listeners: Vec<tokio::net::TcpListener>,
    ) -> Result<Arc<Self>, ConsensusError> {
        let member_dir = cfg.data_dir.join("member");
        std::fs::create_dir_all(&member_dir).map_err(|source| ConsensusError::DataDir {
            path: member_dir.display().to_string(),
            source,
        })?;
        // Checked before anything opens (and so creates) the files.
        let found = data_dir::inspect(&member_dir)?;
        // The raft log is created before the identity is written: a first
        // start that stops in between leaves an empty log and no identity,
        // which is still a new member (see data_dir).
        let log_path = member_dir.join(data_dir::RAFT_LOG_FILE);
        let mut log = SqliteLogStore::open(&log_path).map_err(|e| ConsensusError::LogOpen {
            path: log_path.display().to_string(),
            message: e.to_string(),
        })?;
        let identity_path = member_dir.join(data_dir::IDENTITY_FILE);
        let identity = if found == data_dir::Found::New && cfg.join_existing {
            join_identity(&cfg, &identity_path).await?
        } else {
            load_or_create_identity(&cfg, &identity_path)?
        };
        info!(
            "member {} (name {:?}) of cluster {}",
            hex(identity.member_id),
            identity.name,
            hex(identity.cluster_id)
        );

        let snap_dir = member_dir.join(data_dir::SNAPSHOT_DIR);
        let (mut sm, shared) = StateMachine::open(
            snap_dir.clone(),
            sink,
            identity.member_id,
            identity.cluster_id,
        )
        .map_err(|e| ConsensusError::DamagedDataDir {
            file: snap_dir.display().to_string(),
            problem: e.to_string(),
        })?;
        let storage_err = |e: openraft::StorageError<u64>| ConsensusError::LogOpen {
            path: log_path.display().to_string(),
            message: e.to_string(),
        };
        let vote = log.read_vote().await.map_err(storage_err)?;
        let log_state = log.get_log_state().await.map_err(storage_err)?;
        let (snapshot, _) = sm.applied_state().await.map_err(storage_err)?;
        data_dir::check_opened(
            &member_dir,
            found,
            identity.has_raft_state,
            vote.as_ref(),
            &log_state,
            snapshot,
        )?;
        keep_own_vote_uncommitted(&mut log, vote, identity.member_id)
            .await
            .map_err(storage_err)?;
        let net = NetContext::new(shared.clone(), Arc::new(PeerStats::default()));
        let config = raft_config(&cfg, identity.cluster_id)?;
        let network = PeerNetwork { ctx: net.clone() };
        let log_handle = log.clone();
        let raft = Raft::new(identity.member_id, config, network, log, sm)
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        let identity = bootstrap(&raft, identity, &identity_path).await?;
        let (proposals, queue) = mpsc::channel(MAX_BATCH * 4);
        let (read_index_waiters, read_queue) = mpsc::channel(MAX_BATCH * 4);
        let node = Arc::new(Consensus {
            proposals,
            request_ids: RequestIds::new(),
            read_index_waiters,
            raft,
            shared,
            net,
            identity,
            advertise_client_urls: cfg.advertise_client_urls.clone(),
            start_time: now_nanos(),
            term: AtomicU64::new(0),
            leader_since: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            log: log_handle,
            election_timeout: Duration::from_millis(cfg.election_timeout_ms),
            strict_reconfig_check: cfg.strict_reconfig_check,
            mismatch_reported: Mutex::new(HashSet::new()),
            answered_index: AtomicU64::new(0),
            published: std::sync::atomic::AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&node);
        let mut tasks = serve_peers(&weak, peer_listeners);
        tasks.push(tokio::spawn(propose_batches(weak.clone(), queue)));
        tasks.push(tokio::spawn(read_index_rounds(weak.clone(), read_queue)));
        tasks.push(tokio::spawn(watch_leadership(
            weak.clone(),
            node.raft.metrics(),
        )));
        tasks.push(tokio::spawn(expire_keys(weak.clone())));
        tasks.push(tokio::spawn(probe_removed(weak.clone())));
        tasks.push(tokio::spawn(publish_attributes(weak)));
        node.tasks.lock().extend(tasks);
        Ok(node)
    }

    /// Starts the leader's auto-compaction (`--auto-compaction-mode`,
    /// `--auto-compaction-retention`); stopped with the member.
    pub fn start_auto_compaction(self: &Arc<Self>, mode: AutoCompaction) {
        if mode == AutoCompaction::Off {
            return;
        }
        let task = tokio::spawn(compactor::auto_compact(Arc::downgrade(self), mode));
        self.tasks.lock().push(task);
    }

    /// Starts watching the backend quota (`--quota-backend-bytes`: 0 for
    /// etcd's default, negative for none); stopped with the member.
    pub fn start_quota(self: &Arc<Self>, quota_backend_bytes: i64) {
        let Some(quota) = effective_quota(quota_backend_bytes) else {
            return;
        };
        let task = tokio::spawn(quota::watch_quota(Arc::downgrade(self), quota));
        self.tasks.lock().push(task);
    }

    /// This member's ID.
    pub fn member_id(&self) -> u64 {
        self.identity.member_id
    }

    /// The cluster ID as a number.
    pub fn cluster_id_raw(&self) -> u64 {
        self.identity.cluster_id
    }

    pub(crate) fn raft(&self) -> &Raft {
        &self.raft
    }

    pub(crate) fn stats(&self) -> &PeerStats {
        &self.net.stats
    }

    /// True if `id` was removed from the cluster.
    pub fn is_removed(&self, id: u64) -> bool {
        self.shared.removed.read().contains(&id)
    }

    /// Becomes true once this member learns it was removed from the
    /// cluster; the process should then stop (etcd exits).
    pub fn removed_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.removed_self.subscribe()
    }

    pub(crate) fn report_cluster_mismatch(&self, from: u64, their_cluster: u64) {
        if self.mismatch_reported.lock().insert(from) {
            error!(
                "rejected traffic from member {} of cluster {}: request cluster ID mismatch (local cluster {})",
                hex(from),
                hex(their_cluster),
                hex(self.identity.cluster_id)
            );
        }
    }

    /// The members as raft knows them.
    pub fn member_nodes(&self) -> Vec<(u64, MemberNode)> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.nodes().map(|(id, n)| (*id, n.clone())).collect()
    }

    fn voters(&self) -> Vec<(u64, MemberNode)> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        let membership = m.membership();
        membership
            .voter_ids()
            .filter_map(|id| membership.get_node(&id).map(|n| (id, n.clone())))
            .collect()
    }

    /// Stops raft and the background tasks.
    pub async fn shutdown(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            warn!("raft shutdown: {e}");
        }
        // The committed id is written lazily; a member that applied its own
        // removal must replay it on restart (and stop again, as etcd does).
        if let Err(e) = self.log.flush().await {
            warn!("raft log flush: {e}");
        }
    }

    /// How long a client request may wait (etcd: 5 s + 2 election timeouts).
    fn request_timeout(&self) -> Duration {
        Duration::from_secs(5) + 2 * self.election_timeout
    }

    fn leader_id(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// True while this member leads.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }
}

/// etcd's answer when a request did not complete in time.
fn request_timed_out() -> ApiError {
    ApiError::Internal("etcdserver: request timed out".into())
}
