//! `concord-consensus`'s face: on its client URLs, the KV, cluster and
//! committed-events gRPC contracts (`proto/`) for `concord-gateway` and
//! `concord-watch`, and etcd's own v3 services (`rpc.proto`, concord-v3rpc
//! over the member's keyspace, exactly as the all-in-one serves them) for
//! the gateways' v3 API, its committed events kept in an [`EventLog`] for the
//! watch tier to follow; with `--event-bus-url`, while this member leads,
//! the events published on the bus too.

use std::sync::Arc;

use concord_api::v3::KeyspaceV3;
use concord_api::{Cluster, EventSink, EventSource, Kv, RaftStats};
use concord_process::serve::{Listener, Serving};
use concord_rpc::cluster_grpc::{ClusterService, RaftStatsService};
use concord_rpc::events_grpc::EventsService;
use concord_rpc::kv_grpc::KvService;
use concord_watch::EventLog;
use tokio::task::JoinHandle;

use super::config::ServerConfig;
use super::server::{ClientFace, ProxyFallback};
use crate::Consensus;

/// The gRPC contracts, over the member's [`EventLog`].
pub struct Contracts {
    log: Arc<EventLog>,
}

impl Default for Contracts {
    fn default() -> Self {
        Self::new()
    }
}

impl Contracts {
    pub fn new() -> Self {
        Self {
            log: Arc::new(EventLog::new(0)),
        }
    }
}

impl ClientFace for Contracts {
    fn name(&self) -> &'static str {
        "concord-consensus"
    }

    fn api(&self) -> &'static str {
        "gRPC KV, cluster, events and etcd v3 contracts"
    }

    fn sink(&self) -> Arc<dyn EventSink> {
        self.log.clone()
    }

    fn serve(
        &self,
        cfg: &ServerConfig,
        member: &Arc<Consensus>,
        listeners: Vec<Listener>,
        serving: &mut Serving,
    ) -> Vec<JoinHandle<()>> {
        let kv: Arc<dyn Kv> = member.clone();
        let cluster: Arc<dyn Cluster> = member.clone();
        let stats: Arc<dyn RaftStats> = member.clone();
        for l in listeners {
            let events: Arc<dyn EventSource> = self.log.clone();
            let keyspace: Arc<dyn KeyspaceV3> = member.clone();
            let v3 = concord_v3rpc::services(keyspace, cluster.clone(), Default::default());
            let grpc = concord_rpc::keepalive::server()
                .add_routes(v3)
                .add_service(KvService::server(kv.clone()))
                .add_service(ClusterService::server(cluster.clone()))
                .add_service(RaftStatsService::server(stats.clone()))
                .add_service(EventsService::server(events))
                .add_service(concord_rpc::health::service());
            let incoming = crate::tls_transport::incoming(l.tcp, l.tls);
            let stopped = serving.stopped();
            serving.spawn(async move {
                grpc.serve_with_incoming_shutdown(incoming, stopped)
                    .await
                    .map_err(anyhow::Error::from)
            });
        }
        // The event bus: while this member leads, it publishes the
        // committed events for the watch replicas.
        let bus = cfg.event_bus_url.clone().map(|url| {
            let leader = member.clone();
            tokio::spawn(concord_watch::bus::publisher::run(
                url,
                cluster.cluster_id(),
                self.log.clone(),
                move || leader.is_leader(),
            ))
        });
        bus.into_iter().collect()
    }

    fn proxy(&self) -> Option<&dyn ProxyFallback> {
        None
    }
}
