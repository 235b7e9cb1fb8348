//! A member's bootstrap by `--discovery` (etcd's v2 discovery protocol):
//! what to do before consensus starts, decided from the data dir, the
//! flags and the discovery service's answer.
//!
//! - The data dir already holds a member: the token is ignored (etcd's
//!   warning); the member restarts from its data and never registers again.
//! - It holds a proxy's `proxy/cluster` file: the process is a proxy again.
//! - Otherwise, with `--discovery`: the member registers its ID (computed
//!   as etcd does, from its peer URLs and the discovery URL as the cluster
//!   token) and `name=peerURL`, waits for the token's size of members, and
//!   bootstraps with the first `size` registrations as its initial cluster
//!   and the discovery URL as its initial cluster token, as etcd does, so
//!   that the member and cluster IDs are the ones etcd would compute.
//!   A member beyond `size` serves as a v2 proxy to the cluster
//!   (`--discovery-fallback proxy`, the default; `concord` only) or stops
//!   with "discovery: cluster is full" (`exit`).
//!
//! Failures are logged with etcd's lines (its words, its order) and end the
//! start with [`Reported`], which the command line does not print again.

use concord_discovery_client::client::{self, DiscoveryError};
use tracing::{error, info, warn};

use super::config::{parse_initial_cluster, ClusterState, DiscoveryFallback, ServerConfig};
use super::proxy_cluster::load_proxy_cluster;
use crate::ids::member_id;

/// How the process starts once discovery (if any) has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// As a member (bootstrapping with the configuration's initial
    /// cluster, which discovery may have filled in, or restarting).
    Member,
    /// As a v2 proxy to the members at these peer URLs.
    Proxy {
        peer_urls: Vec<String>,
        /// Read from the data dir's `proxy/cluster` (a restarted proxy).
        from_file: bool,
    },
}

/// Discovery failed; the reasons are already in the log, in etcd's words.
#[derive(Debug, thiserror::Error)]
#[error("discovery failed: {0}")]
pub struct Reported(pub DiscoveryError);

/// Runs discovery if the configuration and the data dir call for it;
/// fills in `cfg.initial_cluster` and `cfg.initial_cluster_token` for a
/// bootstrap by discovery. `can_proxy`: the binary has a v2 proxy to fall
/// back to (`concord`; `concord-consensus` serves no v2 API).
pub async fn prepare(cfg: &mut ServerConfig, can_proxy: bool) -> anyhow::Result<Start> {
    let member_dir = cfg.data_dir.join("member");
    if member_dir.join("identity.json").exists() {
        if cfg.discovery.is_some() {
            warn!(
                "discovery token ignored since a cluster has already been initialized. Valid log found at {:?}",
                member_dir.join("raft.db").display().to_string()
            );
        }
        return Ok(Start::Member);
    }
    if can_proxy {
        if let Some(peer_urls) = load_proxy_cluster(&cfg.data_dir)? {
            return Ok(Start::Proxy {
                peer_urls,
                from_file: true,
            });
        }
    }
    let Some(url) = cfg.discovery.clone() else {
        return Ok(Start::Member);
    };
    if cfg.initial_cluster_state == ClusterState::Existing {
        // etcd joins an existing cluster through --initial-cluster, never
        // through a discovery token.
        return Ok(Start::Member);
    }
    info!("discovery URL= {url}");
    let id = member_id(&cfg.initial_advertise_peer_urls, &url, None);
    let me = client::member_config(&cfg.name, &cfg.initial_advertise_peer_urls);
    match client::join_cluster(&url, &cfg.discovery_proxy, id, &me).await {
        Ok(cluster) => {
            let initial = parse_initial_cluster(&cluster)?;
            let mut seen = std::collections::BTreeSet::new();
            if initial
                .iter()
                .flat_map(|(_, urls)| urls)
                .any(|u| !seen.insert(u.clone()))
            {
                let mut pairs: Vec<&str> = cluster.split(',').collect();
                pairs.sort_unstable();
                return Err(anyhow::anyhow!(
                    "discovery cluster {} has duplicate url",
                    pairs.join(",")
                ));
            }
            cfg.initial_cluster = initial;
            // etcd: with discovery, the cluster token is the discovery URL
            // (so are the member and cluster IDs derived from it).
            cfg.initial_cluster_token = url;
            Ok(Start::Member)
        }
        Err(DiscoveryError::FullCluster)
            if cfg.discovery_fallback == DiscoveryFallback::Proxy && can_proxy =>
        {
            info!("discovery cluster full, falling back to proxy");
            match client::get_cluster(&url, &cfg.discovery_proxy).await {
                Ok(cluster) => {
                    let mut peer_urls: Vec<String> = parse_initial_cluster(&cluster)?
                        .into_iter()
                        .flat_map(|(_, urls)| urls)
                        .collect();
                    peer_urls.sort();
                    Ok(Start::Proxy {
                        peer_urls,
                        from_file: false,
                    })
                }
                Err(e) => Err(report(cfg, &url, e)),
            }
        }
        Err(DiscoveryError::FullCluster) if cfg.discovery_fallback == DiscoveryFallback::Proxy => {
            error!(
                "failed to join discovery cluster ({})",
                DiscoveryError::FullCluster
            );
            info!(
                "concord-consensus cannot fall back to a v2 proxy (it serves no v2 API): \
                 start a concord-gateway for clients instead, or give --discovery-fallback exit"
            );
            Err(Reported(DiscoveryError::FullCluster).into())
        }
        Err(e) => Err(report(cfg, &url, e)),
    }
}

/// etcd's lines for a failed discovery (`etcdmain.startEtcdOrProxyV2`).
fn report(cfg: &ServerConfig, url: &str, e: DiscoveryError) -> anyhow::Error {
    match &e {
        DiscoveryError::DuplicateId => {
            error!(
                "member {:?} has previously registered with discovery service token ({url}).",
                cfg.name
            );
            error!(
                "But concord could not find valid cluster configuration in the given data dir ({}).",
                cfg.data_dir.display()
            );
            info!("Please check the given data dir path if the previous bootstrap succeeded");
            info!("or use a new discovery token if the previous bootstrap failed.");
        }
        DiscoveryError::DuplicateName => {
            error!(
                "member with duplicated name has registered with discovery service token({url})."
            );
            error!("please check (cURL) the discovery token for more information.");
            error!(
                "please do not reuse the discovery token and generate a new one to bootstrap the cluster."
            );
        }
        _ => {
            error!("failed to join discovery cluster ({e})");
            info!("discovery token {url} was used, but failed to bootstrap the cluster.");
            info!("please generate a new discovery token and try to bootstrap again.");
        }
    }
    Reported(e).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{cluster_id, hex};

    /// etcd 3.4.23, three members bootstrapped by `--discovery` through a
    /// v2 keys API (its log: "found self f74d1566babbe68a", "starting
    /// member f74d1566babbe68a in cluster 5d49b1f1b8ae8bc4"): the IDs are
    /// SHA-1 of the peer URLs and the discovery URL, as Concord's.
    #[test]
    fn ids_are_etcds_with_the_discovery_url_as_token() {
        let durl = "http://127.0.0.1:32999/v2/keys/_etcd/registry/tok1";
        let id = |port: u16| member_id(&[format!("http://127.0.0.1:{port}")], durl, None);
        assert_eq!(hex(id(31480)), "f74d1566babbe68a");
        assert_eq!(hex(id(32480)), "7bcaf2b0b792afaa");
        assert_eq!(hex(id(33480)), "854ffded9701168");
        assert_eq!(
            hex(cluster_id(&[id(31480), id(32480), id(33480)])),
            "5d49b1f1b8ae8bc4"
        );
    }
}
