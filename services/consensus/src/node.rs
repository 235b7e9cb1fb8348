//! The [`Consensus`] handle: starts raft on a data dir and implements the
//! `Kv` and `Cluster` contracts on top of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use concord_api::{
    ApiError, Cluster, EventSink, Kv, KvResponse, LeaderInfo, LeaderStats, Member, MembershipError,
    RaftPosition, ReadRequest, SelfStats,
};
use concord_store::time::format_rfc3339_nano;
use concord_store::{Command, StoreStats, UnixNanos};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{Config, ServerState, SnapshotPolicy};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::ids::{self, hex};
use crate::log_store::SqliteLogStore;
use crate::network::PeerNetwork;
use crate::state_machine::{Shared, StateMachine};
use crate::types::{CommandResult, MemberNode, Proposal, Raft};

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
    #[error("cannot open the raft log: {0}")]
    Log(#[from] rusqlite::Error),
    #[error("raft storage: {0}")]
    Storage(String),
    #[error("raft: {0}")]
    Raft(String),
}

/// Who this member is; written once, at bootstrap, like etcd's WAL
/// metadata. On restart it is what counts; the initial-cluster flags are
/// ignored, as etcd ignores them once it has a data dir.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Identity {
    name: String,
    member_id: u64,
    cluster_id: u64,
    /// The membership raft is initialized with (until it has been).
    #[serde(default)]
    initial_members: BTreeMap<u64, MemberNode>,
}

fn data_dir_err(path: &Path) -> impl FnOnce(std::io::Error) -> ConsensusError + '_ {
    move |source| ConsensusError::DataDir {
        path: path.display().to_string(),
        source,
    }
}

/// Reads the identity of an existing data dir, or computes it from the
/// flags (etcd's IDs) and writes it durably (temp file, fsync, rename).
fn load_or_create_identity(cfg: &ConsensusConfig, path: &Path) -> Result<Identity, ConsensusError> {
    if path.exists() {
        let bytes = std::fs::read(path).map_err(data_dir_err(path))?;
        return serde_json::from_slice(&bytes).map_err(|e| ConsensusError::Storage(e.to_string()));
    }
    let mut initial = BTreeMap::new();
    for (name, urls) in &cfg.initial_cluster {
        let id = ids::member_id(urls, &cfg.initial_cluster_token, None);
        let client_urls = if *name == cfg.name {
            cfg.advertise_client_urls.clone()
        } else {
            Vec::new()
        };
        initial.insert(
            id,
            MemberNode {
                name: name.clone(),
                peer_urls: urls.clone(),
                client_urls,
            },
        );
    }
    let me = initial
        .iter()
        .find(|(_, n)| n.name == cfg.name)
        .map(|(id, _)| *id)
        .ok_or_else(|| ConsensusError::NotInInitialCluster(cfg.name.clone()))?;
    let ids_list: Vec<u64> = initial.keys().copied().collect();
    let identity = Identity {
        name: cfg.name.clone(),
        member_id: me,
        cluster_id: ids::cluster_id(&ids_list),
        initial_members: initial,
    };
    let bytes =
        serde_json::to_vec(&identity).map_err(|e| ConsensusError::Storage(e.to_string()))?;
    write_durably(path, &bytes).map_err(data_dir_err(path))?;
    Ok(identity)
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// A running member.
pub struct Consensus {
    raft: Raft,
    shared: Arc<Shared>,
    identity: Identity,
    start_time: UnixNanos,
    /// Term, and when this member last saw a leader elected (for stats).
    term: AtomicU64,
    leader_since: Mutex<Option<(u64, UnixNanos)>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Writes waiting to be proposed (see [`propose_batches`]).
    proposals: mpsc::Sender<PendingWrite>,
}

/// A write waiting for its batch, and where its answer goes.
struct PendingWrite {
    command: Command,
    reply: oneshot::Sender<Result<(CommandResult, RaftPosition), ApiError>>,
}

/// Most commands in one raft entry.
const MAX_BATCH: usize = 4096;

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
    /// Opens the data dir (bootstrapping it on first start) and starts raft.
    pub async fn start(
        cfg: ConsensusConfig,
        sink: Arc<dyn EventSink>,
    ) -> Result<Arc<Self>, ConsensusError> {
        let member_dir = cfg.data_dir.join("member");
        std::fs::create_dir_all(&member_dir).map_err(|source| ConsensusError::DataDir {
            path: member_dir.display().to_string(),
            source,
        })?;
        let identity = load_or_create_identity(&cfg, &member_dir.join("identity.json"))?;
        info!(
            "member {} (name {:?}) of cluster {}",
            hex(identity.member_id),
            identity.name,
            hex(identity.cluster_id)
        );

        let log = SqliteLogStore::open(&member_dir.join("raft.db"))?;
        let (sm, shared) = StateMachine::open(member_dir.join("snap"), sink)
            .map_err(|e| ConsensusError::Storage(e.to_string()))?;
        let config = Config {
            cluster_name: hex(identity.cluster_id),
            heartbeat_interval: cfg.heartbeat_interval_ms,
            election_timeout_min: cfg.election_timeout_ms,
            election_timeout_max: cfg.election_timeout_ms * 2,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_count.max(1)),
            // Like etcd's 5000 catch-up entries kept after a snapshot.
            max_in_snapshot_log_to_keep: 5000,
            max_payload_entries: 4096,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| ConsensusError::Raft(e.to_string()))?,
        );
        let raft = Raft::new(identity.member_id, config, PeerNetwork, log, sm)
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        // Asked of raft, not of the identity file: a crash between writing
        // the identity and initializing must not leave a member that never
        // bootstraps.
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        if !initialized {
            info!(
                "bootstrapping cluster {} with {} member(s)",
                hex(identity.cluster_id),
                identity.initial_members.len()
            );
            raft.initialize(identity.initial_members.clone())
                .await
                .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        }
        let (proposals, queue) = mpsc::channel(MAX_BATCH * 4);
        let batcher = tokio::spawn(propose_batches(raft.clone(), queue));
        let node = Arc::new(Consensus {
            proposals,
            raft,
            shared,
            identity,
            start_time: now_nanos(),
            term: AtomicU64::new(0),
            leader_since: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
        });
        let watcher = tokio::spawn(watch_leadership(Arc::downgrade(&node), node.raft.metrics()));
        let expirer = tokio::spawn(expire_keys(Arc::downgrade(&node)));
        node.tasks.lock().extend([watcher, expirer, batcher]);
        Ok(node)
    }

    /// This member's ID.
    pub fn member_id(&self) -> u64 {
        self.identity.member_id
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

    /// Queues a write for the next batch and waits for its result.
    async fn propose(&self, command: Command) -> Result<(CommandResult, RaftPosition), ApiError> {
        let (reply, rx) = oneshot::channel();
        self.proposals
            .send(PendingWrite { command, reply })
            .await
            .map_err(|_| ApiError::Stopping)?;
        rx.await.map_err(|_| ApiError::Stopping)?
    }

    fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    fn member_of(id: u64, n: &MemberNode) -> Member {
        Member {
            id: hex(id),
            name: n.name.clone(),
            peer_urls: n.peer_urls.clone(),
            client_urls: n.client_urls.clone(),
        }
    }
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
            match leader {
                Some(l) => {
                    info!(
                        "raft.node: {} elected leader {} at term {}",
                        hex(me),
                        hex(l),
                        term
                    );
                    *n.leader_since.lock() = Some((l, now_nanos()));
                }
                None => {
                    info!("raft.node: {} lost leader at term {}", hex(me), term);
                    *n.leader_since.lock() = None;
                }
            }
            last_leader = leader;
        }
        drop(n);
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// Group commit: takes every write queued while the previous entry was
/// being made durable and proposes them as one raft entry, so N concurrent
/// writes cost one append and one fsync instead of N.
async fn propose_batches(raft: Raft, mut queue: mpsc::Receiver<PendingWrite>) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (commands, replies): (Vec<Command>, Vec<_>) =
            batch.drain(..).map(|p| (p.command, p.reply)).unzip();
        let proposal = Proposal {
            commands,
            now: now_nanos(),
        };
        match raft.client_write(proposal).await {
            Ok(resp) => {
                let raft_pos = RaftPosition {
                    index: resp.log_id.index,
                    term: resp.log_id.leader_id.term,
                };
                for (reply, result) in replies.into_iter().zip(resp.data.results) {
                    let _ = reply.send(Ok((result, raft_pos)));
                }
            }
            Err(e) => {
                let e = map_write_err(e);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
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
            self.raft
                .ensure_linearizable()
                .await
                .map_err(|e| ApiError::NoLeader(e.to_string()))?;
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

    fn store_index(&self) -> u64 {
        self.shared.store.read().index()
    }

    fn raft_position(&self) -> RaftPosition {
        RaftPosition {
            index: self.shared.applied_index.load(Ordering::Acquire),
            term: self.term.load(Ordering::Acquire),
        }
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        Ok(self.shared.store.read().stats())
    }
}

#[async_trait]
impl Cluster for Consensus {
    fn cluster_id(&self) -> String {
        hex(self.identity.cluster_id)
    }

    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        Ok(m.nodes().map(|(id, n)| Self::member_of(*id, n)).collect())
    }

    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        let (leader, m) = {
            let metrics = self.raft.metrics();
            let b = metrics.borrow();
            (b.current_leader, b.membership_config.clone())
        };
        Ok(leader.and_then(|l| m.membership().get_node(&l).map(|n| Self::member_of(l, n))))
    }

    async fn add_member(&self, _peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        Err(MembershipError::Internal(
            "runtime membership changes are not supported yet".into(),
        ))
    }

    async fn remove_member(&self, _id: u64) -> Result<(), MembershipError> {
        Err(MembershipError::Internal(
            "runtime membership changes are not supported yet".into(),
        ))
    }

    async fn update_member(
        &self,
        _id: u64,
        _peer_urls: Vec<String>,
    ) -> Result<(), MembershipError> {
        Err(MembershipError::Internal(
            "runtime membership changes are not supported yet".into(),
        ))
    }

    fn self_stats(&self) -> SelfStats {
        let (state, leader) = {
            let metrics = self.raft.metrics();
            let b = metrics.borrow();
            (b.state, b.current_leader)
        };
        let since = *self.leader_since.lock();
        let now = now_nanos();
        SelfStats {
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
            ..Default::default()
        }
    }

    fn leader_stats(&self) -> Option<LeaderStats> {
        if !self.is_leader() {
            return None;
        }
        Some(LeaderStats {
            leader: hex(self.identity.member_id),
            followers: BTreeMap::new(),
        })
    }

    async fn healthy(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(1), self.raft.ensure_linearizable()).await,
            Ok(Ok(_))
        )
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
