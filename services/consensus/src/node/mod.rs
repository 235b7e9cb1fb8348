//! The [`Consensus`] handle: starts raft on a data dir (bootstrapping a new
//! cluster, or joining an existing one by asking its members who we are),
//! serves the peer protocol, and implements the `Kv` and `Cluster`
//! contracts on top of raft: writes and membership changes go to the leader
//! (forwarded by any other member), default reads are local, quorum reads
//! use the leader's read index.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use concord_api::{
    ApiError, Cluster, EventSink, Kv, KvResponse, LeaderInfo, LeaderStats, Member, MembershipError,
    RaftPosition, ReadRequest, SelfStats,
};
use concord_rpc::peer::peer_server::PeerServer;
use concord_store::time::format_rfc3339_nano;
use concord_store::{Command, StoreStats, UnixNanos};
use openraft::error::{ClientWriteError, RaftError};
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{Config, ServerState, SnapshotPolicy, Vote};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

mod data_dir;
mod identity;
mod membership;

use identity::{join_identity, load_or_create_identity, save_identity, Identity};
use membership::publish_attributes;

use crate::ids::hex;
use crate::log_store::SqliteLogStore;
use crate::network::{NetContext, PeerConn, PeerError, PeerNetwork, MAX_MESSAGE_BYTES};
use crate::peer_server::PeerService;
use crate::peer_stats::PeerStats;
use crate::state_machine::{Shared, StateMachine};
use crate::types::{CommandResult, LeaderReply, LeaderRequest, MemberNode, Proposal, Raft};

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

/// A write waiting for its batch, and where its answer goes.
struct PendingWrite {
    command: Command,
    /// How many members forwarded it already.
    hops: u8,
    reply: oneshot::Sender<WriteResult>,
}

type WriteResult = Result<(CommandResult, RaftPosition), ApiError>;

/// Where a linearizable read learns the read index it must wait for.
type ReadIndexWaiter = oneshot::Sender<Result<u64, ApiError>>;

/// Most commands in one raft entry.
const MAX_BATCH: usize = 4096;

/// Most raft entries proposed by this member and not yet applied. One:
/// measured, more entries in flight only made batches (group commits)
/// smaller, since openraft 0.9's core flushes one entry at a time anyway
/// (single member: 9.5k instead of 19k puts/s at 16 clients).
const MAX_IN_FLIGHT: usize = 1;

/// Most forwards of one request (follower -> leader, and once more if
/// leadership moved meanwhile).
const MAX_HOPS: u8 = 2;

/// etcd's HealthInterval: a peer that has answered for this long is "active".
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

fn now_nanos() -> UnixNanos {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Go's `time.Duration.String()`, as etcd prints `uptime`.
pub fn go_duration(nanos: i64) -> String {
    if nanos <= 0 {
        return "0s".into();
    }
    let secs_total = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (h, m, s) = (secs_total / 3600, (secs_total % 3600) / 60, secs_total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('s');
    out
}

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
        // openraft restores a member whose stored vote is a committed vote
        // for itself as leader at once, without asking anyone: a restarted
        // ex-leader would claim a term the cluster has left (two leaders in
        // /v2/stats/self) and, if it was removed meanwhile, never learn it.
        // Kept as an uncommitted vote (the same term, the same choice, so
        // no second vote in that term), it starts as a follower and leads
        // again only through an election.
        if let Some(v) = vote
            .filter(|v| v.is_committed() && v.leader_id().voted_for() == Some(identity.member_id))
        {
            log.save_vote(&Vote::new(v.leader_id().term, identity.member_id))
                .await
                .map_err(storage_err)?;
        }
        let net = NetContext::new(shared.clone(), Arc::new(PeerStats::default()));
        let config = Config {
            cluster_name: hex(identity.cluster_id),
            heartbeat_interval: cfg.heartbeat_interval_ms,
            // openraft 0.9 lets a follower that knows a leader stand for
            // election only after the leader lease (`election_timeout_max`)
            // plus a random timeout in [min, max). These bounds make the
            // lease one --election-timeout, as etcd's check-quorum lease
            // (voters ignore candidates while they hear from a leader), and
            // a follower stand 1.5-2 election timeouts after the leader's
            // last message (etcd: 1-2; with [et, 2et) it was 3-4).
            election_timeout_min: (cfg.election_timeout_ms / 2).max(cfg.heartbeat_interval_ms + 1),
            election_timeout_max: cfg.election_timeout_ms.max(cfg.heartbeat_interval_ms + 2),
            install_snapshot_timeout: (cfg.election_timeout_ms * 10).max(10_000),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_count.max(1)),
            // Like etcd's 5000 catch-up entries kept after a snapshot.
            max_in_snapshot_log_to_keep: 5000.min(cfg.snapshot_count),
            max_payload_entries: 4096,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| ConsensusError::Raft(e.to_string()))?,
        );
        let network = PeerNetwork { ctx: net.clone() };
        let raft = Raft::new(identity.member_id, config, network, log, sm)
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        // Asked of raft, not of the identity file: a crash between writing
        // the identity and initializing must not leave a member that never
        // bootstraps. A joining member has no initial members: the leader
        // brings it the log.
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        if !initialized && !identity.initial_members.is_empty() {
            info!(
                "bootstrapping cluster {} with {} member(s)",
                hex(identity.cluster_id),
                identity.initial_members.len()
            );
            raft.initialize(identity.initial_members.clone())
                .await
                .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        }
        // Recorded once raft has state (at bootstrap, or on the first
        // restart of a member that joined and received the log).
        let mut identity = identity;
        if !identity.has_raft_state && (initialized || !identity.initial_members.is_empty()) {
            identity.has_raft_state = true;
            save_identity(&identity, &identity_path)?;
        }
        // A lone voter restarted on its data dir need not wait an election
        // timeout to lead again (etcd advances its election ticks likewise).
        let voters: Vec<u64> = raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        if initialized && voters == [identity.member_id] {
            if let Err(e) = raft.trigger().elect().await {
                warn!("could not start an election at once: {e}");
            }
        }
        let (proposals, queue) = mpsc::channel(MAX_BATCH * 4);
        let (read_index_waiters, read_queue) = mpsc::channel(MAX_BATCH * 4);
        let node = Arc::new(Consensus {
            proposals,
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
            election_timeout: Duration::from_millis(cfg.election_timeout_ms),
            strict_reconfig_check: cfg.strict_reconfig_check,
            mismatch_reported: Mutex::new(HashSet::new()),
            answered_index: AtomicU64::new(0),
            published: std::sync::atomic::AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&node);
        let mut tasks = Vec::new();
        for listener in peer_listeners {
            let service = PeerServer::new(PeerService { node: weak.clone() })
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES);
            // Without TCP_NODELAY small answers wait for delayed ACKs (40 ms).
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            tasks.push(tokio::spawn(async move {
                let served = tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming(incoming)
                    .await;
                if let Err(e) = served {
                    error!("peer server stopped: {e}");
                }
            }));
        }
        tasks.push(tokio::spawn(propose_batches(weak.clone(), queue)));
        tasks.push(tokio::spawn(read_index_rounds(weak.clone(), read_queue)));
        tasks.push(tokio::spawn(watch_leadership(
            weak.clone(),
            node.raft.metrics(),
        )));
        tasks.push(tokio::spawn(expire_keys(weak.clone())));
        tasks.push(tokio::spawn(publish_attributes(weak)));
        node.tasks.lock().extend(tasks);
        Ok(node)
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
    }

    /// How long a client request may wait (etcd: 5 s + 2 election timeouts).
    fn request_timeout(&self) -> Duration {
        Duration::from_secs(5) + 2 * self.election_timeout
    }

    fn leader_id(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The leader, waiting up to `timeout` for one to be elected.
    async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let mut metrics = self.raft.metrics();
        let found = tokio::time::timeout(timeout, async {
            loop {
                if let Some(l) = metrics.borrow_and_update().current_leader {
                    return Some(l);
                }
                if metrics.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        found.ok().flatten()
    }

    /// A connection to the leader (which is another member).
    fn conn_to(&self, leader: u64) -> Result<PeerConn, ApiError> {
        let node = self
            .member_nodes()
            .into_iter()
            .find(|(id, _)| *id == leader)
            .map(|(_, n)| n)
            .ok_or_else(|| ApiError::NoLeader(format!("leader {} is unknown", hex(leader))))?;
        self.net
            .conn(&node)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Sends a request to the leader: served here if this member leads,
    /// forwarded otherwise (see [`Self::forward`]).
    async fn to_leader(&self, req: LeaderRequest) -> Result<LeaderReply, ApiError> {
        let deadline = Instant::now() + self.request_timeout();
        match self.forward(req, None, deadline).await? {
            Forwarded::Answered(reply) => Ok(reply),
            Forwarded::Mine(req) => Ok(self.serve_forwarded(req).await),
        }
    }

    /// Delivers `req` to the leader (`first`, or the one elected next),
    /// waiting for a leader while there is none, until `deadline`. A request
    /// that surely never reached the leader (no connection could be made:
    /// it died, or is cut off) is sent again, to the same member or to the
    /// next leader: an election delays it, it does not fail it. A read
    /// index (no effect) is asked again after any failure. Comes back with
    /// the request if this member leads meanwhile.
    async fn forward(
        &self,
        req: LeaderRequest,
        first: Option<u64>,
        deadline: Instant,
    ) -> Result<Forwarded, ApiError> {
        let idempotent = matches!(req, LeaderRequest::ReadIndex);
        let mut leader = first;
        loop {
            let now = Instant::now();
            let l = match leader.take() {
                Some(l) => l,
                None => self
                    .wait_for_leader(deadline.saturating_duration_since(now))
                    .await
                    .ok_or_else(|| ApiError::NoLeader("etcdserver: no leader".into()))?,
            };
            if l == self.member_id() {
                return Ok(Forwarded::Mine(req));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(request_timed_out());
            }
            let conn = self.conn_to(l)?;
            let e = match conn.forward(&req, left).await {
                Ok(reply) => return Ok(Forwarded::Answered(reply)),
                Err(e) => e,
            };
            let again = match &e {
                PeerError::Undelivered { .. } => true,
                PeerError::Unreachable { .. } => idempotent,
                _ => false,
            };
            if !again || Instant::now() >= deadline {
                return Err(forward_err(l, e));
            }
            debug!("forward to {} not delivered, sending again: {e}", hex(l));
            self.wait_leader_moved(l, deadline).await;
        }
    }

    /// Waits, at most a short pause, for the leader to be another than
    /// `from` (a dead leader is known dead only after an election timeout).
    async fn wait_leader_moved(&self, from: u64, deadline: Instant) {
        let pause = (self.election_timeout / 10).max(Duration::from_millis(20));
        let until = deadline.min(Instant::now() + pause);
        let mut metrics = self.raft.metrics();
        let _ = tokio::time::timeout_at(until.into(), async {
            while metrics.borrow_and_update().current_leader == Some(from) {
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// Serves a request sent to the leader (by a client of this member or
    /// forwarded by another member).
    pub(crate) async fn serve_forwarded(&self, req: LeaderRequest) -> LeaderReply {
        match req {
            LeaderRequest::Write { commands, hops } => {
                let mut waiting = Vec::with_capacity(commands.len());
                for command in commands {
                    waiting.push(self.enqueue(command, hops).await);
                }
                let mut results = Vec::with_capacity(waiting.len());
                for w in waiting {
                    results.push(match w {
                        Ok(rx) => rx.await.unwrap_or(Err(ApiError::Stopping)),
                        Err(e) => Err(e),
                    });
                }
                LeaderReply::Writes(results)
            }
            LeaderRequest::ReadIndex => LeaderReply::ReadIndex(self.leader_read_index().await),
            LeaderRequest::AddMember { peer_urls } => {
                LeaderReply::Member(self.leader_add_member(peer_urls).await)
            }
            LeaderRequest::RemoveMember { id } => {
                LeaderReply::Done(self.leader_remove_member(id).await)
            }
            LeaderRequest::UpdateMember { id, peer_urls } => {
                LeaderReply::Done(self.leader_update_member(id, peer_urls).await)
            }
            LeaderRequest::Publish {
                id,
                name,
                client_urls,
            } => LeaderReply::Done(self.leader_publish(id, name, client_urls).await),
        }
    }

    /// Queues a write for the next batch.
    async fn enqueue(
        &self,
        command: Command,
        hops: u8,
    ) -> Result<oneshot::Receiver<WriteResult>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.proposals
            .send(PendingWrite {
                command,
                hops,
                reply,
            })
            .await
            .map_err(|_| ApiError::Stopping)?;
        Ok(rx)
    }

    /// Queues a write for the next batch and waits for its result.
    async fn propose(&self, command: Command) -> WriteResult {
        self.enqueue(command, 0)
            .await?
            .await
            .map_err(|_| ApiError::Stopping)?
    }

    /// Proposes a batch as one raft entry (this member leads). The entry
    /// enters raft here, in queue order; its answer is awaited on another
    /// task that holds `permit`, so the next batch can be proposed while
    /// this one replicates (openraft's core waits for each local flush, so
    /// without this the local fsync of one entry and the replication of the
    /// previous one would never overlap).
    async fn commit_batch(&self, batch: Vec<PendingWrite>, permit: OwnedSemaphorePermit) {
        let (commands, replies): (Vec<Command>, Vec<_>) =
            batch.into_iter().map(|p| (p.command, p.reply)).unzip();
        let proposal = Proposal {
            commands,
            now: now_nanos(),
        };
        let answer = match self.raft.client_write_ff(proposal).await {
            Ok(rx) => rx,
            Err(fatal) => {
                for reply in replies {
                    let _ = reply.send(Err(ApiError::Internal(fatal.to_string())));
                }
                return;
            }
        };
        let timeout = self.request_timeout();
        tokio::spawn(async move {
            let outcome = tokio::time::timeout(timeout, answer).await;
            drop(permit);
            let results = match outcome {
                Ok(Ok(Ok(resp))) => {
                    let raft_pos = RaftPosition {
                        index: resp.log_id.index,
                        term: resp.log_id.leader_id.term,
                    };
                    for (reply, result) in replies.into_iter().zip(resp.data.results) {
                        let _ = reply.send(Ok((result, raft_pos)));
                    }
                    return;
                }
                Ok(Ok(Err(e))) => map_write_err(RaftError::APIError(e)),
                Ok(Err(_)) => ApiError::Stopping,
                Err(_) => request_timed_out(),
            };
            for reply in replies {
                let _ = reply.send(Err(results.clone()));
            }
        });
    }

    /// Sends a batch to the leader and hands out its answers; back to this
    /// member's queue if it leads by the time the batch could be delivered.
    async fn forward_batch(self: Arc<Self>, leader: u64, batch: Vec<PendingWrite>) {
        let hops = batch.iter().map(|p| p.hops).max().unwrap_or(0) + 1;
        let (commands, replies): (Vec<Command>, Vec<_>) =
            batch.into_iter().map(|p| (p.command, p.reply)).unzip();
        let req = LeaderRequest::Write { commands, hops };
        let deadline = Instant::now() + self.request_timeout();
        match self.forward(req, Some(leader), deadline).await {
            Ok(Forwarded::Answered(LeaderReply::Writes(results)))
                if results.len() == replies.len() =>
            {
                for (reply, r) in replies.into_iter().zip(results) {
                    let _ = reply.send(r);
                }
            }
            Ok(Forwarded::Mine(LeaderRequest::Write { commands, hops })) => {
                for (command, reply) in commands.into_iter().zip(replies) {
                    let requeued = PendingWrite {
                        command,
                        hops: hops - 1,
                        reply,
                    };
                    if let Err(mpsc::error::SendError(p)) = self.proposals.send(requeued).await {
                        let _ = p.reply.send(Err(ApiError::Stopping));
                    }
                }
            }
            Ok(_) => {
                for reply in replies {
                    let _ = reply.send(Err(ApiError::Internal(
                        "unexpected answer from the leader".into(),
                    )));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// The leader's read index: confirms leadership with a quorum and
    /// returns the index a linearizable read must wait for.
    async fn leader_read_index(&self) -> Result<u64, ApiError> {
        match tokio::time::timeout(self.request_timeout(), self.raft.get_read_log_id()).await {
            Ok(Ok((read, _applied))) => Ok(read.map_or(0, |l| l.index)),
            Ok(Err(e)) => Err(ApiError::NoLeader(e.to_string())),
            Err(_) => Err(request_timed_out()),
        }
    }

    /// Waits until this member has applied everything committed before now
    /// (read index, asked of the leader): a read after this is linearizable.
    async fn linearizable_barrier(&self, timeout: Duration) -> Result<(), ApiError> {
        let (tx, rx) = oneshot::channel();
        self.read_index_waiters
            .send(tx)
            .await
            .map_err(|_| ApiError::Stopping)?;
        let index = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r?,
            Ok(Err(_)) => return Err(ApiError::Stopping),
            Err(_) => return Err(request_timed_out()),
        };
        self.shared
            .wait_applied(index, timeout)
            .await
            .then_some(())
            .ok_or_else(request_timed_out)
    }

    fn member_of(id: u64, n: &MemberNode) -> Member {
        Member {
            id: hex(id),
            name: n.name.clone(),
            peer_urls: n.peer_urls.clone(),
            client_urls: n.client_urls.clone(),
        }
    }

    /// Sends a membership request to the leader.
    async fn membership_request(&self, req: LeaderRequest) -> Result<LeaderReply, MembershipError> {
        self.to_leader(req).await.map_err(|e| match e {
            ApiError::NoLeader(_) => MembershipError::Internal("etcdserver: no leader".into()),
            e => MembershipError::Internal(e.to_string()),
        })
    }
}

/// What a failed forward tells the client. Only a request that may have
/// reached the leader gets etcd's "request timed out": its outcome is
/// unknown (it may still apply).
fn forward_err(leader: u64, e: PeerError) -> ApiError {
    match e {
        PeerError::Unreachable { .. } => {
            debug!("forward to {}: outcome unknown: {e}", hex(leader));
            request_timed_out()
        }
        PeerError::Undelivered { .. } => {
            ApiError::NoLeader(format!("leader {} unreachable: {e}", hex(leader)))
        }
        e => ApiError::Internal(e.to_string()),
    }
}

/// Where [`Consensus::forward`] left a request.
enum Forwarded {
    /// The leader answered.
    Answered(LeaderReply),
    /// This member leads now: serve it here.
    Mine(LeaderRequest),
}

/// Logs leadership changes in etcd's words and keeps the term for headers.
async fn watch_leadership(
    node: std::sync::Weak<Consensus>,
    mut metrics: tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, MemberNode>>,
) {
    let mut last_leader: Option<u64> = None;
    loop {
        let (term, leader, me) = {
            let m = metrics.borrow_and_update();
            (m.current_term, m.current_leader, m.id)
        };
        let Some(n) = node.upgrade() else { return };
        n.term.store(term, Ordering::Release);
        if leader != last_leader {
            if let Some(l) = leader {
                if l == me {
                    info!("{} became leader at term {}", hex(me), term);
                }
            }
            *n.leader_since.lock() = leader.map(|l| (l, now_nanos()));
            // The lines of etcd's raft node loop (raft/node.go).
            match (last_leader, leader) {
                (None, Some(l)) => info!(
                    "raft.node: {} elected leader {} at term {}",
                    hex(me),
                    hex(l),
                    term
                ),
                (Some(old), Some(l)) => info!(
                    "raft.node: {} changed leader from {} to {} at term {}",
                    hex(me),
                    hex(old),
                    hex(l),
                    term
                ),
                (Some(old), None) => info!(
                    "raft.node: {} lost leader {} at term {}",
                    hex(me),
                    hex(old),
                    term
                ),
                (None, None) => {}
            }
            last_leader = leader;
        }
        drop(n);
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// Group commit: takes every write queued while earlier entries were being
/// made durable and proposes them as one raft entry, so N concurrent writes
/// cost one append and one fsync instead of N. Up to [`MAX_IN_FLIGHT`]
/// entries are in flight at once (see [`Consensus::commit_batch`]). On a
/// follower the batch goes to the leader in one forward, without waiting
/// for the answer (the leader batches again).
async fn propose_batches(
    node: std::sync::Weak<Consensus>,
    mut queue: mpsc::Receiver<PendingWrite>,
) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut batch = Vec::new();
    loop {
        // While every permit is out, writes queue up into a bigger batch.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let Some(n) = node.upgrade() else { return };
        let items: Vec<PendingWrite> = std::mem::take(&mut batch);
        match n.wait_for_leader(n.request_timeout()).await {
            Some(l) if l == n.member_id() => n.commit_batch(items, permit).await,
            Some(l) => {
                let (bounced, items): (Vec<_>, Vec<_>) =
                    items.into_iter().partition(|p| p.hops >= MAX_HOPS);
                for p in bounced {
                    let _ = p
                        .reply
                        .send(Err(ApiError::NoLeader("leader changed".into())));
                }
                if !items.is_empty() {
                    tokio::spawn(n.clone().forward_batch(l, items));
                }
            }
            None => {
                for p in items {
                    let _ = p
                        .reply
                        .send(Err(ApiError::NoLeader("etcdserver: no leader".into())));
                }
            }
        }
    }
}

/// Read-index rounds, as etcd batches them: every quorum read that arrived
/// before a round starts shares that round's one request to the leader (one
/// leadership confirmation by a quorum), instead of one each. A read that
/// arrives during a round waits for the next, which starts after it: the
/// index it gets is at least the commit index at its arrival.
async fn read_index_rounds(
    node: std::sync::Weak<Consensus>,
    mut queue: mpsc::Receiver<ReadIndexWaiter>,
) {
    let mut waiters = Vec::new();
    while queue.recv_many(&mut waiters, MAX_BATCH * 4).await > 0 {
        let Some(n) = node.upgrade() else { return };
        let deadline = Instant::now() + n.request_timeout();
        let result = loop {
            let ask = n.to_leader(LeaderRequest::ReadIndex);
            let r = match tokio::time::timeout_at(deadline.into(), ask).await {
                Ok(Ok(LeaderReply::ReadIndex(r))) => r,
                Ok(Ok(_)) => Err(ApiError::Internal(
                    "unexpected answer from the leader".into(),
                )),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(request_timed_out()),
            };
            // The member asked was not (or no longer) the leader: a read
            // index has no effect, so ask again, of the next leader.
            match r {
                Err(ApiError::NoLeader(_)) if Instant::now() < deadline => {
                    let asked = n.leader_id().unwrap_or(0);
                    n.wait_leader_moved(asked, deadline).await;
                }
                r => break r,
            }
        };
        drop(n);
        for w in waiters.drain(..) {
            let _ = w.send(result.clone());
        }
    }
}

/// etcd's SYNC: the leader proposes expiry of due keys every 500 ms.
async fn expire_keys(node: std::sync::Weak<Consensus>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(n) = node.upgrade() else { return };
        let now = now_nanos();
        let due = n
            .shared
            .store
            .read()
            .next_expiry()
            .is_some_and(|t| t <= now);
        if due && n.is_leader() {
            if let Err(e) = n.propose(Command::ExpireKeys).await {
                warn!("cannot propose key expiry: {e}");
            }
        }
    }
}

/// etcd's answer when a request did not complete in time.
fn request_timed_out() -> ApiError {
    ApiError::Internal("etcdserver: request timed out".into())
}

fn map_write_err(e: RaftError<u64, ClientWriteError<u64, MemberNode>>) -> ApiError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            ApiError::NoLeader(match f.leader_id {
                Some(l) => format!("leader is {}", hex(l)),
                None => "no leader".into(),
            })
        }
        RaftError::APIError(e) => ApiError::Internal(e.to_string()),
        RaftError::Fatal(e) => ApiError::Internal(e.to_string()),
    }
}

#[async_trait]
impl Kv for Consensus {
    async fn write(&self, command: Command) -> Result<KvResponse, ApiError> {
        let (res, raft) = self.propose(command).await?;
        // The write is committed (the leader applied it). A forwarded write
        // is answered now rather than after this member's apply, which needs
        // one more round trip from the leader (openraft sends the new commit
        // index only after this member's append answer); read-your-writes is
        // kept by making local reads and watches wait for it (`caught_up`).
        self.answered_index.fetch_max(raft.index, Ordering::AcqRel);
        match res.result {
            Some(Ok(mut event)) => {
                event.etcd_index = res.store_index;
                Ok(KvResponse { event, raft })
            }
            Some(Err(e)) => Err(ApiError::Store(e)),
            None => Err(ApiError::Internal("write produced no result".into())),
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        if req.quorum {
            self.linearizable_barrier(self.request_timeout()).await?;
        } else {
            self.caught_up().await?;
        }
        let event =
            self.shared
                .store
                .read()
                .get(&req.key, req.recursive, req.sorted, now_nanos())?;
        Ok(KvResponse {
            event,
            raft: self.raft_position(),
        })
    }

    async fn caught_up(&self) -> Result<(), ApiError> {
        let answered = self.answered_index.load(Ordering::Acquire);
        self.shared
            .wait_applied(answered, self.request_timeout())
            .await
            .then_some(())
            .ok_or_else(request_timed_out)
    }

    fn store_index(&self) -> u64 {
        self.shared.store.read().index()
    }

    async fn wait_applied(&self, raft_index: u64) -> Result<(), ApiError> {
        self.shared
            .wait_applied(raft_index, self.request_timeout())
            .await
            .then_some(())
            .ok_or_else(request_timed_out)
    }

    fn raft_position(&self) -> RaftPosition {
        RaftPosition {
            index: self.shared.applied_index(),
            term: self.term.load(Ordering::Acquire),
        }
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        // A local read like any other: it counts the writes this member
        // already answered (a follower answers before its own apply).
        self.caught_up().await?;
        Ok(self.shared.store.read().stats())
    }
}

#[async_trait]
impl Cluster for Consensus {
    fn cluster_id(&self) -> String {
        hex(self.identity.cluster_id)
    }

    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        Ok(self
            .member_nodes()
            .iter()
            .map(|(id, n)| Self::member_of(*id, n))
            .collect())
    }

    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        let leader = self.leader_id();
        Ok(leader.and_then(|l| {
            self.member_nodes()
                .iter()
                .find(|(id, _)| *id == l)
                .map(|(id, n)| Self::member_of(*id, n))
        }))
    }

    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        match self
            .membership_request(LeaderRequest::AddMember { peer_urls })
            .await?
        {
            LeaderReply::Member(r) => r,
            other => Err(MembershipError::Internal(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        match self
            .membership_request(LeaderRequest::RemoveMember { id })
            .await?
        {
            LeaderReply::Done(r) => r,
            other => Err(MembershipError::Internal(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError> {
        match self
            .membership_request(LeaderRequest::UpdateMember { id, peer_urls })
            .await?
        {
            LeaderReply::Done(r) => r,
            other => Err(MembershipError::Internal(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    async fn self_stats(&self) -> Result<SelfStats, ApiError> {
        let (state, leader) = {
            let metrics = self.raft.metrics();
            let b = metrics.borrow();
            (b.state, b.current_leader)
        };
        let since = *self.leader_since.lock();
        let now = now_nanos();
        Ok(SelfStats {
            name: self.identity.name.clone(),
            id: hex(self.identity.member_id),
            state: match state {
                ServerState::Leader => "StateLeader",
                ServerState::Candidate => "StateCandidate",
                _ => "StateFollower",
            }
            .into(),
            start_time: format_rfc3339_nano(self.start_time),
            leader_info: LeaderInfo {
                leader: leader.map(hex).unwrap_or_default(),
                uptime: since.map(|(_, t)| go_duration(now - t)).unwrap_or_default(),
                start_time: since
                    .map(|(_, t)| format_rfc3339_nano(t))
                    .unwrap_or_default(),
            },
            recv_append_request_cnt: self.net.stats.received_appends(),
            send_append_request_cnt: self.net.stats.sent_appends(),
            ..Default::default()
        })
    }

    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError> {
        if !self.is_leader() {
            return Ok(None);
        }
        let me = self.member_id();
        let followers: Vec<u64> = self
            .voters()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| *id != me)
            .collect();
        Ok(Some(LeaderStats {
            leader: hex(me),
            followers: self.net.stats.followers(&followers),
        }))
    }

    async fn healthy(&self) -> bool {
        let timeout = (2 * self.election_timeout).min(Duration::from_secs(5));
        if self.leader_id().is_none() || !self.published.load(Ordering::Acquire) {
            return false;
        }
        self.linearizable_barrier(timeout).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(2_826_385_412), "2.826385412s");
        assert_eq!(go_duration(62_500_000_000), "1m2.5s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration(0), "0s");
    }
}
