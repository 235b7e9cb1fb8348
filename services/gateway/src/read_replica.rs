//! A gateway's read replica: a copy of a member's store, kept current from
//! the members' committed events, that serves the gateway's plain
//! (non-quorum) GETs without a gRPC round trip.
//!
//! etcd serves a plain GET from the local store of whichever member gets
//! it, which may lag the leader; a gateway's replica is one more such copy.
//! It loads a member's nodes ([`Kv::snapshot`]), then applies the committed
//! events after that index in order (the same [`GrpcFollower`] as the watch
//! tier: resumed on another member with no gap and no duplicate). Events the
//! snapshot already holds are skipped; an event that does not fit, or a
//! member that no longer holds the events after the replica's index, makes
//! it load the store again. Read-your-writes holds as before: a read waits
//! until the replica has applied the highest index this gateway answered a
//! write with, and goes to the member when the replica is not loaded or
//! does not catch up in time. Writes, quorum reads and stats always go to
//! the member.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_api::{
    now_nanos, ApiError, EventSink, Kv, KvResponse, RaftPosition, ReadRequest, StoreSnapshot,
};
use concord_rpc::endpoints::Endpoints;
use concord_rpc::kv_grpc::{fetch_position, fetch_snapshot};
use concord_store::{Command, Event, Store, StoreStats};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tracing::{info, warn};

use concord_watch::follower::GrpcFollower;

/// How long a read waits for the replica to reach the gateway's last
/// answered write before it asks the member instead.
const CATCH_UP_WAIT: Duration = Duration::from_secs(1);
/// Pause before loading the store again after a failure.
const RELOAD_PAUSE: Duration = Duration::from_millis(500);
/// How often the raft position for `X-Raft-Index`/`X-Raft-Term` is asked
/// of the member (the replica's reads do not carry one).
const POSITION_EVERY: Duration = Duration::from_secs(1);

/// The replica's store and what it has applied; the follower's sink.
struct Replica {
    /// None while (re)loading: reads go to the member.
    store: RwLock<Option<Store>>,
    /// The store index applied, for reads waiting on their floor.
    applied: watch::Sender<u64>,
    /// Set when the store must be loaded again.
    stale: AtomicBool,
    /// The member's raft position, asked every [`POSITION_EVERY`] of the
    /// members the store was last loaded from.
    raft: Mutex<RaftPosition>,
    members: Mutex<Endpoints>,
    /// GETs answered here, added to the member's `/v2/stats/store`.
    gets_success: AtomicU64,
    gets_fail: AtomicU64,
}

impl Replica {
    fn drop_store(&self, why: &str) {
        if self.store.write().take().is_some() {
            warn!("read replica: {why}; loading the store again");
        }
        self.stale.store(true, Ordering::Release);
    }
}

impl EventSink for Replica {
    fn publish(&self, e: Arc<Event>) {
        let mut guard = self.store.write();
        let Some(store) = guard.as_mut() else {
            return;
        };
        // The snapshot may already hold the first events after the index
        // the follower started from.
        if e.etcd_index <= store.index() {
            return;
        }
        if let Err(err) = store.apply_event(&e) {
            drop(guard);
            self.drop_store(&err.to_string());
            return;
        }
        drop(guard);
        self.applied.send_replace(e.etcd_index);
    }

    fn reset(&self, store_index: u64) {
        self.drop_store(&format!(
            "the member no longer holds the events it needs (history restarts at {store_index})"
        ));
    }
}

/// A `Kv` that answers plain GETs from its replica and everything else
/// from `remote` (the gateway's gRPC `Kv`).
pub struct ReadReplica {
    remote: Arc<dyn Kv>,
    replica: Arc<Replica>,
}

impl ReadReplica {
    /// Starts loading and following the members of `endpoints` (or, with
    /// `members`, those the member registry lists) in the background.
    pub fn start(
        remote: Arc<dyn Kv>,
        endpoints: Endpoints,
        members: Option<watch::Receiver<Vec<String>>>,
    ) -> Arc<ReadReplica> {
        let replica = Arc::new(Replica {
            store: RwLock::new(None),
            applied: watch::channel(0).0,
            stale: AtomicBool::new(true),
            raft: Mutex::new(RaftPosition::default()),
            members: Mutex::new(endpoints.clone()),
            gets_success: AtomicU64::new(0),
            gets_fail: AtomicU64::new(0),
        });
        tokio::spawn(follow(replica.clone(), endpoints.clone(), members));
        tokio::spawn(ask_position(Arc::downgrade(&replica)));
        Arc::new(ReadReplica { remote, replica })
    }

    /// The store index the replica has applied (None while loading).
    pub fn applied(&self) -> Option<u64> {
        self.replica.store.read().as_ref().map(Store::index)
    }

    /// A GET from the replica, once it holds `floor`; None if it cannot
    /// answer (not loaded, or behind for longer than [`CATCH_UP_WAIT`]).
    async fn local_read(
        &self,
        req: &ReadRequest,
        floor: u64,
    ) -> Option<Result<KvResponse, ApiError>> {
        if self.replica.store.read().is_none() {
            return None;
        }
        if *self.replica.applied.borrow() < floor {
            let mut rx = self.replica.applied.subscribe();
            tokio::time::timeout(CATCH_UP_WAIT, rx.wait_for(|i| *i >= floor))
                .await
                .ok()?
                .ok()?;
        }
        let result = {
            let guard = self.replica.store.read();
            let store = guard.as_ref().filter(|s| s.index() >= floor)?;
            store.get(&req.key, req.recursive, req.sorted, now_nanos())
        };
        let counter = match &result {
            Ok(_) => &self.replica.gets_success,
            Err(_) => &self.replica.gets_fail,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Some(match result {
            Ok(event) => Ok(KvResponse {
                event,
                raft: self.raft_position(),
            }),
            Err(e) => Err(ApiError::Store(e)),
        })
    }
}

/// Loads the store, follows the events after it, and loads it again
/// whenever the follower reports it stale; for ever.
async fn follow(
    replica: Arc<Replica>,
    endpoints: Endpoints,
    members: Option<watch::Receiver<Vec<String>>>,
) {
    let (ready, _) = watch::channel(false);
    let mut follower = GrpcFollower::new(replica.clone(), endpoints, ready.clone());
    if let Some(m) = members.clone() {
        follower = follower.following_members(m);
    }
    let mut failing = false;
    loop {
        let endpoints = follower.endpoints().clone();
        let (i, channel) = endpoints.current();
        let url = endpoints.urls()[i].clone();
        let loaded = match fetch_snapshot(channel).await {
            Ok(StoreSnapshot { store_index, nodes }) => Store::from_nodes(store_index, &nodes)
                .map(|s| (s, nodes.len()))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let (store, count) = match loaded {
            Ok(l) => l,
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    warn!("read replica: cannot load the store from {url}: {e}");
                }
                endpoints.failed(i);
                tokio::time::sleep(RELOAD_PAUSE).await;
                continue;
            }
        };
        failing = false;
        let index = store.index();
        *replica.store.write() = Some(store);
        *replica.members.lock() = endpoints.clone();
        replica.stale.store(false, Ordering::Release);
        replica.applied.send_replace(index);
        info!("read replica: loaded {count} nodes at store index {index} from {url}");
        follower =
            GrpcFollower::new(replica.clone(), endpoints, ready.clone()).starting_after(index);
        if let Some(m) = members.clone() {
            follower = follower.following_members(m);
        }
        let stale = replica.clone();
        follower
            .follow(move |_| stale.stale.load(Ordering::Acquire))
            .await;
    }
}

/// Keeps the replica's raft position current while the replica lives.
async fn ask_position(replica: std::sync::Weak<Replica>) {
    let mut tick = tokio::time::interval(POSITION_EVERY);
    loop {
        tick.tick().await;
        let Some(replica) = replica.upgrade() else {
            return;
        };
        let channel = replica.members.lock().current().1;
        if let Ok((_, raft)) = fetch_position(channel).await {
            let mut cur = replica.raft.lock();
            if raft.index >= cur.index {
                *cur = raft;
            }
        }
    }
}

#[async_trait]
impl Kv for ReadReplica {
    async fn write(&self, cmd: Command) -> Result<KvResponse, ApiError> {
        self.remote.write(cmd).await
    }

    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        // The replica follows watch events, and internal (v2 auth) writes
        // make none: their reads go to the members.
        if !req.quorum && !concord_store::internal::is_internal(&req.key) {
            let floor = self.remote.answered_store_index();
            if let Some(answer) = self.local_read(&req, floor).await {
                return answer;
            }
        }
        self.remote.read(req).await
    }

    async fn caught_up(&self) -> Result<(), ApiError> {
        self.remote.caught_up().await
    }

    fn store_index(&self) -> u64 {
        self.remote
            .store_index()
            .max(*self.replica.applied.borrow())
    }

    fn raft_position(&self) -> RaftPosition {
        let remote = self.remote.raft_position();
        let local = *self.replica.raft.lock();
        if local.index > remote.index {
            local
        } else {
            remote
        }
    }

    fn answered_store_index(&self) -> u64 {
        self.remote.answered_store_index()
    }

    async fn wait_applied(&self, raft_index: u64) -> Result<(), ApiError> {
        self.remote.wait_applied(raft_index).await
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        let mut stats = self.remote.store_stats().await?;
        stats.gets_success += self.replica.gets_success.load(Ordering::Relaxed);
        stats.gets_fail += self.replica.gets_fail.load(Ordering::Relaxed);
        Ok(stats)
    }

    async fn snapshot(&self) -> Result<StoreSnapshot, ApiError> {
        self.remote.snapshot().await
    }
}
