//! Starting a member's parts, serving its client URLs, clean shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use concord_api::{Cluster, EventSink, EventSource, Kv, RaftStats, Watch};
use concord_consensus::{Consensus, ConsensusConfig};
use concord_gateway::GatewayState;
use concord_rpc::cluster_grpc::{ClusterService, RaftStatsService};
use concord_rpc::events_grpc::EventsService;
use concord_rpc::kv_grpc::KvService;
use concord_watch::{EventLog, WatchHub};
use tokio::net::TcpListener;
use tracing::{debug, info};

use concord_process::serve::Serving;
use concord_process::{listen_addr, shutdown_signal};

use crate::config::{ClusterState, Role, ServerConfig};

/// How long a stop waits for requests in flight: long-poll watches never
/// finish on their own, so they are cut then.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// Runs the member until SIGTERM or SIGINT.
pub async fn run(mut cfg: ServerConfig, role: Role) -> anyhow::Result<()> {
    let what = match role {
        Role::AllInOne => "concord",
        Role::Consensus => "concord-consensus",
    };
    let api = match role {
        Role::AllInOne => "etcd v2 API",
        Role::Consensus => "gRPC KV, cluster and events contracts",
    };
    info!(
        name = %cfg.name,
        data_dir = %cfg.data_dir.display(),
        "starting {what} {} ({api})",
        env!("CARGO_PKG_VERSION")
    );
    debug!("effective configuration: {cfg:?}");
    // Bootstrap by discovery token (--discovery): fills in the initial
    // cluster, or makes this process a v2 proxy (discovery_bootstrap.rs).
    let start = crate::discovery_bootstrap::prepare(&mut cfg, role).await?;
    // etcd checks the initial cluster only where the member has no state
    // yet (no WAL); Concord's mark of a started member is its identity.
    if !cfg.data_dir.join("member").join("identity.json").exists() {
        check_initial_cluster(&cfg.name, &cfg.initial_cluster)?;
        if cfg.initial_cluster_state == ClusterState::New {
            check_advertised_peer_urls(
                &cfg.name,
                &cfg.initial_cluster,
                &cfg.initial_advertise_peer_urls,
            )?;
        }
    }
    // Bind the client URLs first, so a port clash is reported before any
    // state is created.
    let mut listeners = Vec::new();
    for url in &cfg.listen_client_urls {
        let addr = listen_addr(url)?;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for clients on {url}"))?;
        info!("listening for client requests on {url}");
        listeners.push(l);
    }

    if let crate::discovery_bootstrap::Start::Proxy {
        peer_urls,
        from_file,
    } = start
    {
        return crate::proxy::run(&cfg, peer_urls, from_file, listeners).await;
    }

    let mut peer_listeners = Vec::new();
    for url in &cfg.listen_peer_urls {
        let addr = listen_addr(url)?;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for peers on {url}"))?;
        info!("listening for peers on {url}");
        peer_listeners.push(l);
    }

    // Committed events go to the watch hub in this process, or to the log
    // that watch services follow.
    let hub = Arc::new(WatchHub::new(0));
    let log = Arc::new(EventLog::new(0));
    let sink: Arc<dyn EventSink> = match role {
        Role::AllInOne => hub.clone(),
        Role::Consensus => log.clone(),
    };
    let consensus_cfg = ConsensusConfig {
        name: cfg.name.clone(),
        data_dir: cfg.data_dir.clone(),
        initial_cluster: cfg.initial_cluster.clone(),
        initial_cluster_token: cfg.initial_cluster_token.clone(),
        advertise_client_urls: cfg.advertise_client_urls.clone(),
        initial_advertise_peer_urls: cfg.initial_advertise_peer_urls.clone(),
        snapshot_count: cfg.snapshot_count,
        heartbeat_interval_ms: cfg.heartbeat_interval_ms,
        election_timeout_ms: cfg.election_timeout_ms,
        join_existing: cfg.initial_cluster_state == ClusterState::Existing,
        strict_reconfig_check: cfg.strict_reconfig_check,
    };
    let consensus = Consensus::start(consensus_cfg, sink, peer_listeners)
        .await
        .context("cannot start consensus")?;
    let kv: Arc<dyn Kv> = consensus.clone();
    let cluster: Arc<dyn Cluster> = consensus.clone();
    let stats: Arc<dyn RaftStats> = consensus.clone();
    // The event bus: while this member leads, it publishes the committed
    // events for the watch replicas (concord-consensus; the all-in-one
    // member feeds its own hub).
    let bus_publisher = match (&cfg.event_bus_url, role) {
        (Some(url), Role::Consensus) => {
            let leader = consensus.clone();
            Some(tokio::spawn(concord_watch::bus::publisher::run(
                url.clone(),
                cluster.cluster_id(),
                log.clone(),
                move || leader.is_leader(),
            )))
        }
        _ => None,
    };
    // The member registry (registry_publisher.rs): while this member leads,
    // it publishes the members under the discovery URL it was started with.
    let publisher = cfg.discovery.clone().map(|url| {
        tokio::spawn(crate::registry_publisher::run(
            url,
            cfg.discovery_proxy.clone(),
            consensus.member_id(),
            cluster.clone(),
        ))
    });

    let mut serving = Serving::new();
    match role {
        Role::AllInOne => {
            let watch: Arc<dyn Watch> = hub;
            let app = concord_gateway::router(GatewayState {
                kv,
                watch,
                cluster,
                stats,
            });
            serving.http_all(listeners, &app);
        }
        Role::Consensus => {
            for l in listeners {
                let events: Arc<dyn EventSource> = log.clone();
                let grpc = concord_rpc::keepalive::server()
                    .add_service(KvService::server(kv.clone()))
                    .add_service(ClusterService::server(cluster.clone()))
                    .add_service(RaftStatsService::server(stats.clone()))
                    .add_service(EventsService::server(events))
                    .add_service(concord_rpc::health::service());
                let incoming =
                    tonic::transport::server::TcpIncoming::from(l).with_nodelay(Some(true));
                let stopped = serving.stopped();
                serving.spawn(async move {
                    grpc.serve_with_incoming_shutdown(incoming, stopped)
                        .await
                        .map_err(anyhow::Error::from)
                });
            }
        }
    }

    let mut removed = consensus.removed_signal();
    tokio::select! {
        _ = shutdown_signal() => info!("received a stop signal, shutting down"),
        // etcd exits once it learns it was removed from the cluster.
        _ = removed.wait_for(|r| *r) => info!("removed from the cluster, shutting down"),
    }
    if let Some(p) = publisher {
        p.abort();
    }
    serving.stop(STOP_GRACE).await;
    if let Some(p) = bus_publisher {
        p.abort();
    }
    consensus.shutdown().await;
    info!("concord stopped");
    Ok(())
}

/// etcd's `VerifyBootstrap` / `VerifyJoinExisting` checks, in its order and
/// words: the local name must be in the initial cluster, and no peer URL may
/// appear twice.
pub fn check_initial_cluster(name: &str, cluster: &[(String, Vec<String>)]) -> anyhow::Result<()> {
    if !cluster.iter().any(|(n, _)| n == name) {
        return Err(anyhow!(
            "couldn't find local name {name:?} in the initial cluster configuration"
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    if cluster
        .iter()
        .flat_map(|(_, urls)| urls)
        .any(|u| !seen.insert(u.as_str()))
    {
        // etcd prints the map as sorted `name=url` pairs.
        let mut pairs: Vec<String> = cluster
            .iter()
            .flat_map(|(n, urls)| urls.iter().map(move |u| format!("{n}={u}")))
            .collect();
        pairs.sort();
        return Err(anyhow!(
            "initial cluster {} has duplicate url",
            pairs.join(",")
        ));
    }
    Ok(())
}

/// etcd's `advertiseMatchesCluster` (bootstrap only): this member's URLs in
/// `--initial-cluster` must be its `--initial-advertise-peer-urls`, or the
/// others would reach it nowhere. In etcd's words.
pub fn check_advertised_peer_urls(
    name: &str,
    cluster: &[(String, Vec<String>)],
    advertised: &[String],
) -> anyhow::Result<()> {
    let mut initial: Vec<&str> = cluster
        .iter()
        .filter(|(n, _)| n == name)
        .flat_map(|(_, urls)| urls.iter().map(String::as_str))
        .collect();
    let mut ap: Vec<&str> = advertised.iter().map(String::as_str).collect();
    initial.sort_unstable();
    ap.sort_unstable();
    // etcd compares the URLs once resolved: `localhost` is 127.0.0.1.
    let resolved = |urls: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = urls
            .iter()
            .map(|u| u.replacen("://localhost:", "://127.0.0.1:", 1))
            .collect();
        v.sort_unstable();
        v
    };
    if resolved(&initial) == resolved(&ap) {
        return Ok(());
    }
    let missing: Vec<String> = initial
        .iter()
        .filter(|u| !ap.contains(u))
        .map(|u| format!("{name}={u}"))
        .collect();
    if !missing.is_empty() {
        return Err(anyhow!(
            "--initial-cluster has {} but missing from --initial-advertise-peer-urls={} (resolved urls: {:?} != {:?})",
            missing.join(","),
            ap.join(","),
            ap.join(","),
            initial.join(",")
        ));
    }
    let extra: Vec<&str> = ap
        .iter()
        .copied()
        .filter(|u| !initial.contains(u))
        .collect();
    Err(anyhow!(
        "--initial-advertise-peer-urls has {} but missing from --initial-cluster={}",
        extra.join(","),
        ap.iter()
            .map(|u| format!("{name}={u}"))
            .collect::<Vec<_>>()
            .join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_cluster_checks_are_etcds() {
        let c = |s: &[(&str, &str)]| -> Vec<(String, Vec<String>)> {
            s.iter()
                .map(|(n, u)| (n.to_string(), vec![u.to_string()]))
                .collect()
        };
        let ok = c(&[("a", "http://1:2380"), ("b", "http://2:2380")]);
        assert!(check_initial_cluster("a", &ok).is_ok());
        assert_eq!(
            check_initial_cluster("x", &ok).unwrap_err().to_string(),
            "couldn't find local name \"x\" in the initial cluster configuration"
        );
        let urls = |v: &[&str]| v.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert!(check_advertised_peer_urls("a", &ok, &urls(&["http://1:2380"])).is_ok());
        let local = c(&[("a", "http://127.0.0.1:2380")]);
        assert!(check_advertised_peer_urls("a", &local, &urls(&["http://localhost:2380"])).is_ok());
        assert_eq!(
            check_advertised_peer_urls("a", &ok, &urls(&["http://9:2380"]))
                .unwrap_err()
                .to_string(),
            "--initial-cluster has a=http://1:2380 but missing from \
             --initial-advertise-peer-urls=http://9:2380 \
             (resolved urls: \"http://9:2380\" != \"http://1:2380\")"
        );
        let dup = c(&[("b", "http://1:2380"), ("a", "http://1:2380")]);
        assert_eq!(
            check_initial_cluster("a", &dup).unwrap_err().to_string(),
            "initial cluster a=http://1:2380,b=http://1:2380 has duplicate url"
        );
    }
}
