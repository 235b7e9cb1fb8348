//! # concord: the all-in-one member
//!
//! The `concord` binary is one process with the consensus member
//! (`concord-consensus`'s library: etcd's flags, discovery bootstrap,
//! member registry, raft), the v2 gateway's router (`concord-gateway`'s
//! library) and the watch fan-out (`concord-watch`'s hub), wired
//! in-process through the same traits (`concord_api::{Kv, Watch,
//! Cluster}`) that the split services implement over gRPC, so `concord`
//! can stand in for `etcd --enable-v2` in scripts and walkthroughs.
//!
//! - `lib.rs`: the all-in-one's face of the member ([`AllInOne`]), its
//!   client URLs' router in one place ([`client_router`]);
//! - `proxy.rs`: the v2 proxy a member beyond the discovery token's size
//!   becomes (`--discovery-fallback proxy`, etcd's default).
//!
//! The split's processes have rooms of their own: `concord-consensus` in
//! `services/consensus`, `concord-gateway` in `services/gateway`,
//! `concord-watch` in `services/watch`, `concord-discovery` in
//! `services/discovery`.

pub mod proxy;

use std::sync::Arc;

use concord_api::v3::KeyspaceV3;
use concord_api::{Cluster, EventSink, Kv, RaftStats, Watch};
use concord_consensus::member::config::ServerConfig;
use concord_consensus::member::server::{ClientFace, ProxyFallback};
use concord_consensus::Consensus;
use concord_gateway::GatewayState;
use concord_process::serve::{Listener, Serving};
use concord_watch::WatchHub;
use tokio::task::JoinHandle;

/// The all-in-one's client URLs: the etcd v2 API over the member and the
/// watch hub of this process, and the v3 gRPC API over the member's
/// keyspace, on the same listeners (by content type, as etcd serves them).
pub fn client_router(member: &Arc<Consensus>, hub: Arc<WatchHub>) -> axum::Router {
    let kv: Arc<dyn Kv> = member.clone();
    let cluster: Arc<dyn Cluster> = member.clone();
    let stats: Arc<dyn RaftStats> = member.clone();
    let watch: Arc<dyn Watch> = hub;
    let v2 = concord_gateway::router(GatewayState {
        kv,
        watch,
        cluster: cluster.clone(),
        stats,
    });
    let keyspace: Arc<dyn KeyspaceV3> = member.clone();
    let v3 = concord_v3rpc::routes(keyspace, cluster);
    concord_gateway::grpc_or_http(v3, v2)
}

/// The member as `concord` runs it: its committed events go to the watch
/// hub in this process, its client URLs serve [`client_router`], and a
/// member beyond the discovery token's size serves the v2 proxy.
pub struct AllInOne {
    hub: Arc<WatchHub>,
    proxy: proxy::V2Proxy,
}

impl Default for AllInOne {
    fn default() -> Self {
        Self::new()
    }
}

impl AllInOne {
    pub fn new() -> Self {
        Self {
            hub: Arc::new(WatchHub::new(0)),
            proxy: proxy::V2Proxy,
        }
    }
}

impl ClientFace for AllInOne {
    fn name(&self) -> &'static str {
        "concord"
    }

    fn api(&self) -> &'static str {
        "etcd v2 API"
    }

    fn sink(&self) -> Arc<dyn EventSink> {
        self.hub.clone()
    }

    fn serve(
        &self,
        _cfg: &ServerConfig,
        member: &Arc<Consensus>,
        listeners: Vec<Listener>,
        serving: &mut Serving,
    ) -> Vec<JoinHandle<()>> {
        serving.http_all(listeners, &client_router(member, self.hub.clone()));
        Vec::new()
    }

    fn proxy(&self) -> Option<&dyn ProxyFallback> {
        Some(&self.proxy)
    }
}
