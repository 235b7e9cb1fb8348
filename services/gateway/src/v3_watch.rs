//! The gateway's v3 keyspace with its watches through the watch tier:
//! [`WatchTier`] sends `watch` to the concord-watch replicas' etcd `Watch`
//! service (a [`GrpcKeyspace`] over the watch endpoints, which resumes on
//! the next replica from the revision after the last one delivered) and
//! everything else to the keyspace it wraps (the members, or the read
//! replica in front of them). The watch fan-out then grows with watch
//! replicas, not members, as the v2 watches' does.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use concord_api::v3::{
    mvcc, Access, KeyspaceV3, V3Answer, V3HashKv, V3Header, V3Status, V3WatchSpec, V3Watcher,
};
use concord_api::{ApiError, RequestId};
use concord_discovery_client::members::follow_watch;
use concord_rpc::endpoints::Endpoints;
use concord_rpc::keyspace_grpc::GrpcKeyspace;
use tracing::{info, warn};

/// A `KeyspaceV3` whose watches go to the watch tier.
pub struct WatchTier {
    inner: Arc<dyn KeyspaceV3>,
    /// The watch replicas (replaced when the member registry's list
    /// changes; watches in flight finish on the old set).
    tier: RwLock<Arc<GrpcKeyspace>>,
}

impl WatchTier {
    /// Watches to the replicas at `urls`.
    pub fn fixed(inner: Arc<dyn KeyspaceV3>, urls: &[String]) -> anyhow::Result<Arc<WatchTier>> {
        Ok(Arc::new(WatchTier {
            inner,
            tier: RwLock::new(Arc::new(GrpcKeyspace::new(Endpoints::new(urls)?))),
        }))
    }

    /// Watches to the replicas announced under `discovery_url` (waiting
    /// up to `timeout` for the first), followed as the list changes.
    pub async fn followed(
        inner: Arc<dyn KeyspaceV3>,
        discovery_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Arc<WatchTier>> {
        let mut rx = follow_watch(discovery_url, "")?;
        let urls = tokio::time::timeout(timeout, rx.wait_for(|u| !u.is_empty()))
            .await
            .with_context(|| {
                format!("no watch replica announced under {discovery_url} after {timeout:?}")
            })?
            .context("the member registry follower stopped")?
            .clone();
        let me = WatchTier::fixed(inner, &urls)?;
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            let mut known = urls;
            while rx.changed().await.is_ok() {
                let urls = rx.borrow_and_update().clone();
                let Some(me) = weak.upgrade() else { return };
                // None announced (all gone, or the registry down): keep
                // the last set.
                if urls.is_empty() || urls == known {
                    continue;
                }
                match Endpoints::new(&urls) {
                    Ok(e) => {
                        *me.tier.write().unwrap_or_else(|p| p.into_inner()) =
                            Arc::new(GrpcKeyspace::new(e));
                        info!("member registry: v3 watches now through {urls:?}");
                        known = urls;
                    }
                    Err(e) => warn!("member registry lists watch replicas {urls:?}: {e}"),
                }
            }
        });
        Ok(me)
    }

    fn tier(&self) -> Arc<GrpcKeyspace> {
        self.tier.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl KeyspaceV3 for WatchTier {
    async fn authenticate(
        &self,
        name: String,
        password: String,
    ) -> Result<V3Answer<String>, ApiError> {
        self.inner.authenticate(name, password).await
    }

    async fn authorize(&self, access: Access) -> Result<Result<(), mvcc::Error>, ApiError> {
        self.inner.authorize(access).await
    }

    async fn write(&self, cmd: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        self.inner.write(cmd).await
    }

    async fn write_once(
        &self,
        cmd: mvcc::Command,
        id: RequestId,
    ) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        self.inner.write_once(cmd, id).await
    }

    async fn range(
        &self,
        req: mvcc::RangeRequest,
    ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
        self.inner.range(req).await
    }

    async fn lease_time_to_live(
        &self,
        req: mvcc::LeaseTimeToLiveRequest,
    ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
        self.inner.lease_time_to_live(req).await
    }

    async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
        self.inner.lease_leases().await
    }

    async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
        self.tier().watch(spec).await
    }

    async fn status(&self) -> Result<V3Status, ApiError> {
        self.inner.status().await
    }

    async fn hash_kv(&self, revision: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
        self.inner.hash_kv(revision).await
    }

    async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
        self.inner.snapshot().await
    }

    /// The members' header, at the newest revision either the members or
    /// the watch tier answered with.
    fn header(&self) -> V3Header {
        let mut h = self.inner.header();
        h.revision = h.revision.max(self.tier().header().revision);
        h
    }

    async fn alarm(
        &self,
        request: mvcc::AlarmRequest,
    ) -> Result<V3Answer<mvcc::AlarmResponse>, ApiError> {
        self.inner.alarm(request).await
    }
}
