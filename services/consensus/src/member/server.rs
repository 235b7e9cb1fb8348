//! Starting a member's parts, serving its client URLs (through the
//! binary's [`ClientFace`]), clean shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use concord_api::{Cluster, EventSink};
use concord_process::net::{is_https, tls_listen_addr};
use concord_process::serve::{Listener, Serving};
use concord_process::shutdown_signal;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::config::{ClusterState, ServerConfig};
use crate::{Consensus, ConsensusConfig};

/// How long a stop waits for requests in flight: long-poll watches never
/// finish on their own, so they are cut then.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What a member binary serves on its client URLs: the part in which
/// `concord-consensus` ([`super::contracts`]) and the all-in-one `concord`
/// (the v2 API, in the `concord` crate) differ.
pub trait ClientFace: Send + Sync {
    /// The binary's name, for the start line.
    fn name(&self) -> &'static str;
    /// What its client URLs serve, for the start line.
    fn api(&self) -> &'static str;
    /// Where the member delivers its committed events.
    fn sink(&self) -> Arc<dyn EventSink>;
    /// Serves the client URLs with the started member (on `serving`, which
    /// stops them); returns the tasks that run beside them, ended after.
    fn serve(
        &self,
        cfg: &ServerConfig,
        member: &Arc<Consensus>,
        listeners: Vec<Listener>,
        serving: &mut Serving,
    ) -> Vec<JoinHandle<()>>;
    /// The v2 proxy a member beyond the discovery token's size becomes
    /// (`--discovery-fallback proxy`), if this binary has one.
    fn proxy(&self) -> Option<&dyn ProxyFallback>;
}

/// etcd's v2 proxy, run instead of a member.
#[async_trait::async_trait]
pub trait ProxyFallback: Send + Sync {
    /// Serves the proxy to the members at `peer_urls` on `listeners` until
    /// SIGTERM/SIGINT (`from_file`: read from the data dir's record).
    async fn run(
        &self,
        cfg: &ServerConfig,
        peer_urls: Vec<String>,
        from_file: bool,
        listeners: Vec<Listener>,
    ) -> anyhow::Result<()>;
}

/// Runs the member until SIGTERM or SIGINT.
pub async fn run(mut cfg: ServerConfig, face: &dyn ClientFace) -> anyhow::Result<()> {
    info!(
        name = %cfg.name,
        data_dir = %cfg.data_dir.display(),
        "starting {} {} ({})",
        face.name(),
        env!("CARGO_PKG_VERSION"),
        face.api()
    );
    debug!("effective configuration: {cfg:?}");
    // Bootstrap by discovery token (--discovery): fills in the initial
    // cluster, or makes this process a v2 proxy (discovery_bootstrap.rs).
    let start = super::discovery_bootstrap::prepare(&mut cfg, face.proxy().is_some()).await?;
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
    // TLS first: a missing certificate stops the start as in etcd.
    let provider = super::tls::provider(&cfg)?;
    let client_tls = super::tls::client(&cfg, &provider)?;
    let peer_tls = super::tls::peer(&cfg, &provider)?;
    // Bind the client URLs first, so a port clash is reported before any
    // state is created.
    let mut listeners = Vec::new();
    for url in &cfg.listen_client_urls {
        let addr = tls_listen_addr(url)?;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for clients on {url}"))?;
        info!("listening for client requests on {url}");
        listeners.push(Listener {
            tcp: l,
            tls: client_tls.clone().filter(|_| is_https(url)),
        });
    }

    if let super::discovery_bootstrap::Start::Proxy {
        peer_urls,
        from_file,
    } = start
    {
        // (prepare() offers a proxy only to a binary that has one.)
        let Some(proxy) = face.proxy() else {
            return Err(anyhow!("{} has no v2 proxy", face.name()));
        };
        return proxy.run(&cfg, peer_urls, from_file, listeners).await;
    }

    if let Some(tls) = peer_tls {
        crate::tls_transport::set_peer_tls(tls);
    }
    let mut peer_listeners = Vec::new();
    for url in &cfg.listen_peer_urls {
        let addr = tls_listen_addr(url)?;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for peers on {url}"))?;
        info!("listening for peers on {url}");
        peer_listeners.push(l);
    }

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
    let consensus = Consensus::start(consensus_cfg, face.sink(), peer_listeners)
        .await
        .context("cannot start consensus")?;
    consensus.start_auto_compaction(cfg.auto_compaction);
    consensus.start_quota(cfg.quota_backend_bytes);
    consensus.set_auth_token_ttl(cfg.auth_token_ttl);
    let cluster: Arc<dyn Cluster> = consensus.clone();
    // The member registry (registry_publisher.rs): while this member leads,
    // it publishes the members under the discovery URL it was started with.
    let publisher = cfg.discovery.clone().map(|url| {
        tokio::spawn(super::registry_publisher::run(
            url,
            cfg.discovery_proxy.clone(),
            consensus.member_id(),
            cluster.clone(),
        ))
    });

    let mut serving = Serving::new();
    let beside = face.serve(&cfg, &consensus, listeners, &mut serving);

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
    for task in beside {
        task.abort();
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
