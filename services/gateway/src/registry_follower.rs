//! The consensus members of a gateway taken from the member registry
//! (`concord_discovery_client::members`) instead of `--consensus-endpoints`: the
//! gateway is given only the discovery URL its cluster was bootstrapped
//! with, attaches to the members the cluster's leader published there,
//! and follows member adds and removals without a restart: when the set of
//! members' client URLs changes, the next calls go to the new set (the
//! gRPC clients are rebuilt; calls in flight finish on the old ones).
//! While the discovery service is down the gateway keeps the members it
//! knows, and moves between them on failures as ever.
//!
//! [`FollowedWatch`] is the watch replicas announced there, for a gateway
//! given no `--watch-endpoints`.
//!
//! Read-your-writes across a change of the set: the highest store index
//! answered is carried over (watches), the raft index floor of reads is
//! not (a read right after a membership change may be served by a member
//! that has not applied the client's last write yet; etcd's v2 proxy gives
//! no more).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use concord_api::{
    ApiError, Cluster, Kv, KvResponse, LeaderStats, LeaderTransferError, Member, MembershipError,
    RaftPosition, RaftStats, ReadRequest, SelfStats, Watch, WatchRequest, Watcher,
};
use concord_discovery_client::members::{follow_watch, member_urls};
use concord_rpc::cluster_grpc::{GrpcCluster, GrpcRaftStats};
use concord_rpc::endpoints::Endpoints;
use concord_rpc::kv_grpc::GrpcKv;
use concord_rpc::watch_grpc::GrpcWatch;
use concord_store::{Command, StoreStats};
use tokio::sync::watch;
use tracing::{info, warn};

/// The gRPC clients for one set of members.
struct Parts {
    urls: Vec<String>,
    kv: GrpcKv,
    cluster: GrpcCluster,
    stats: GrpcRaftStats,
}

impl Parts {
    async fn connect(urls: &[String], timeout: Duration) -> anyhow::Result<Parts> {
        let endpoints = Endpoints::new(urls)?;
        let cluster = GrpcCluster::connect(endpoints.clone(), timeout).await?;
        Ok(Parts {
            urls: urls.to_vec(),
            kv: GrpcKv::new(endpoints.clone()),
            stats: GrpcRaftStats::new(endpoints),
            cluster,
        })
    }
}

/// Runs `apply` on `target` with each new set of URLs the registry lists,
/// in the background, until the registry follower stops or `target` is
/// dropped (the task holds it only while applying a change).
fn on_each_change<T, F, Fut>(mut rx: watch::Receiver<Vec<String>>, target: &Arc<T>, apply: F)
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>, Vec<String>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let weak = Arc::downgrade(target);
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let urls = rx.borrow_and_update().clone();
            let Some(target) = weak.upgrade() else {
                return;
            };
            apply(target, urls).await;
        }
    });
}

/// `Kv`, `Cluster` and `RaftStats` over the members the registry lists.
pub struct FollowedConsensus {
    parts: RwLock<Arc<Parts>>,
    /// The members' client URLs as the registry lists them.
    members: watch::Receiver<Vec<String>>,
    /// The highest store index answered to a write, across sets.
    answered_store: AtomicU64,
}

impl FollowedConsensus {
    fn current(&self) -> Arc<Parts> {
        self.parts.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The members' client URLs, changing as the registry does.
    pub fn members(&self) -> watch::Receiver<Vec<String>> {
        self.members.clone()
    }

    /// Attaches to the members published under `discovery_url` (waiting
    /// up to `timeout` for a view and a member that answers), then follows
    /// the registry in the background.
    pub async fn attach(
        discovery_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Arc<FollowedConsensus>> {
        let mut rx = member_urls(discovery_url, timeout).await?;
        let urls = rx.borrow_and_update().clone();
        let parts = Parts::connect(&urls, timeout).await?;
        info!(
            "attached to cluster {} through the member registry at {discovery_url}: consensus endpoints {urls:?}",
            parts.cluster.cluster_id()
        );
        let me = Arc::new(FollowedConsensus {
            parts: RwLock::new(Arc::new(parts)),
            members: rx.clone(),
            answered_store: AtomicU64::new(0),
        });
        on_each_change(rx, &me, |me, urls| async move {
            match Parts::connect(&urls, Duration::from_secs(10)).await {
                Ok(p) => {
                    let old = me.current();
                    me.answered_store
                        .fetch_max(old.kv.answered_store_index(), Ordering::AcqRel);
                    *me.parts.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(p);
                    info!("member registry: consensus endpoints now {urls:?}");
                }
                Err(e) => warn!(
                    "member registry lists {urls:?}, but none answers ({e:#}); keeping {:?}",
                    me.current().urls
                ),
            }
        });
        Ok(me)
    }
}

#[async_trait]
impl Kv for FollowedConsensus {
    async fn write(&self, cmd: Command) -> Result<KvResponse, ApiError> {
        self.current().kv.write(cmd).await
    }
    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        self.current().kv.read(req).await
    }
    async fn caught_up(&self) -> Result<(), ApiError> {
        self.current().kv.caught_up().await
    }
    fn store_index(&self) -> u64 {
        self.current().kv.store_index()
    }
    fn raft_position(&self) -> RaftPosition {
        self.current().kv.raft_position()
    }
    fn answered_store_index(&self) -> u64 {
        self.current()
            .kv
            .answered_store_index()
            .max(self.answered_store.load(Ordering::Acquire))
    }
    async fn wait_applied(&self, raft_index: u64) -> Result<(), ApiError> {
        self.current().kv.wait_applied(raft_index).await
    }
    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        self.current().kv.store_stats().await
    }
}

#[async_trait]
impl Cluster for FollowedConsensus {
    fn cluster_id(&self) -> String {
        self.current().cluster.cluster_id()
    }
    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        self.current().cluster.members().await
    }
    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        self.current().cluster.leader().await
    }
    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        self.current().cluster.add_member(peer_urls).await
    }
    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        self.current().cluster.remove_member(id).await
    }
    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError> {
        self.current().cluster.update_member(id, peer_urls).await
    }
    async fn healthy(&self) -> bool {
        self.current().cluster.healthy().await
    }
    async fn move_leader(&self, target: u64) -> Result<(), LeaderTransferError> {
        self.current().cluster.move_leader(target).await
    }
}

#[async_trait]
impl RaftStats for FollowedConsensus {
    async fn self_stats(&self) -> Result<SelfStats, ApiError> {
        self.current().stats.self_stats().await
    }
    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError> {
        self.current().stats.leader_stats().await
    }
}

/// `Watch` over the watch replicas announced in the member registry
/// (`concord-watch --discovery`): a gateway given only the discovery URL
/// needs no `--watch-endpoints`. When the set of replicas changes, new
/// watches go to the new set (watches in flight finish on the old one);
/// while none is announced (all gone, or the service down) the last set is
/// kept.
pub struct FollowedWatch {
    current: RwLock<Arc<(Vec<String>, GrpcWatch)>>,
}

impl FollowedWatch {
    fn current(&self) -> Arc<(Vec<String>, GrpcWatch)> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits up to `timeout` for a replica announced under
    /// `discovery_url`, then follows the announcements.
    pub async fn attach(
        discovery_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Arc<FollowedWatch>> {
        let mut rx = follow_watch(discovery_url, "")?;
        let urls = tokio::time::timeout(timeout, rx.wait_for(|u| !u.is_empty()))
            .await
            .with_context(|| {
                format!("no watch replica announced under {discovery_url} after {timeout:?}")
            })?
            .context("the member registry follower stopped")?
            .clone();
        info!("watch replicas {urls:?} from the member registry at {discovery_url}");
        let me = Arc::new(FollowedWatch {
            current: RwLock::new(Arc::new((
                urls.clone(),
                GrpcWatch::new(Endpoints::new(&urls)?),
            ))),
        });
        on_each_change(rx, &me, |me, urls| async move {
            if urls.is_empty() || urls == me.current().0 {
                return;
            }
            match Endpoints::new(&urls) {
                Ok(e) => {
                    *me.current.write().unwrap_or_else(|p| p.into_inner()) =
                        Arc::new((urls.clone(), GrpcWatch::new(e)));
                    info!("member registry: watch replicas now {urls:?}");
                }
                Err(e) => warn!("member registry lists watch replicas {urls:?}: {e}"),
            }
        });
        Ok(me)
    }
}

#[async_trait]
impl Watch for FollowedWatch {
    async fn watch(&self, req: WatchRequest) -> Result<Watcher, ApiError> {
        self.current().1.watch(req).await
    }
    async fn watcher_count(&self) -> Result<u64, ApiError> {
        self.current().1.watcher_count().await
    }
}
