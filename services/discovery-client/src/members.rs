//! The member registry on the discovery service: where a cluster
//! bootstrapped by a token says who its members are and who leads, for
//! the stateless tiers (gateways, watch services) to follow.
//!
//! The leader of the cluster writes one key under the token,
//! `<discovery URL>/_cluster`: a JSON [`ClusterView`] (cluster ID, leader,
//! health, and every member as `/v2/members` lists it: ID, name, peer and
//! client URLs), with a TTL of [`VIEW_TTL`], rewritten at once when the
//! view changes and every [`REFRESH`] otherwise. So member adds, removals
//! and leader changes show within about a second, and a cluster that is
//! gone (no leader for [`VIEW_TTL`]) leaves no stale view behind. The key
//! is hidden (`_` prefix), so a member bootstrapping by the same token
//! (etcd's protocol lists and watches the token) never sees it, nor does
//! etcd's.
//!
//! [`follow`] is the reader's side: the current view, then each change by
//! a `wait=true` long poll; while the service cannot be reached it keeps
//! the last view it had and tries again every second. [`member_urls`] is
//! the same registry as a list of client URLs, for the gateways' and
//! concord-watch's followers.

use std::time::Duration;

use anyhow::Context;
use concord_api::Member;
use hyper::Method;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::client::{Discovery, DiscoveryError, Failure};

/// The key under the token.
pub const VIEW_KEY: &str = "_cluster";
/// How long a view lives unless the leader rewrites it.
pub const VIEW_TTL: Duration = Duration::from_secs(30);
/// How often the leader rewrites an unchanged view.
pub const REFRESH: Duration = Duration::from_secs(10);
/// Pause before a reader tries the service again.
const RETRY: Duration = Duration::from_secs(1);

/// The cluster as its leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    #[serde(rename = "clusterID")]
    pub cluster_id: String,
    /// The leader's member ID in hex.
    pub leader: String,
    /// The leader's quorum check (`/health`).
    pub healthy: bool,
    pub members: Vec<Member>,
}

impl ClusterView {
    /// The members' client URLs, in member order.
    pub fn client_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .flat_map(|m| m.client_urls.iter().cloned())
            .collect()
    }

    /// The leader's client URLs first, then the others'.
    pub fn client_urls_leader_first(&self) -> Vec<String> {
        let mut ms: Vec<&Member> = self.members.iter().collect();
        ms.sort_by_key(|m| m.id != self.leader);
        ms.iter()
            .flat_map(|m| m.client_urls.iter().cloned())
            .collect()
    }
}

fn key(d: &Discovery) -> String {
    format!("{}/{VIEW_KEY}", d.target.token_path)
}

fn failure(e: Failure) -> DiscoveryError {
    match e {
        Failure::Cluster(detail) => DiscoveryError::Unavailable(detail),
        Failure::Remote(e) => DiscoveryError::Remote(e),
        Failure::InvalidJson => DiscoveryError::BadDiscoveryEndpoint,
    }
}

/// Writes `view` under the discovery URL with [`VIEW_TTL`].
pub async fn publish(url: &str, proxy: &str, view: &ClusterView) -> Result<(), DiscoveryError> {
    let d = Discovery::new(url, proxy, 0)?;
    let value = serde_json::to_string(view).unwrap_or_default();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("value", &value)
        .append_pair("ttl", &VIEW_TTL.as_secs().to_string())
        .finish();
    d.request(
        Method::PUT,
        &key(&d),
        Some(body),
        Some(Duration::from_secs(5)),
    )
    .await
    .map(|_| ())
    .map_err(failure)
}

/// The current view, `None` if no leader has published one (or it
/// expired); with the index to watch from.
pub async fn fetch(url: &str, proxy: &str) -> Result<(Option<ClusterView>, u64), DiscoveryError> {
    fetch_with(&Discovery::new(url, proxy, 0)?).await
}

fn parse(value: Option<&str>) -> Option<ClusterView> {
    value.and_then(|v| serde_json::from_str(v).ok())
}

/// Follows the view under `url`: the receiver holds the latest view (the
/// last one known while the service is unreachable or the view expired).
/// The task ends when every receiver is dropped.
pub fn follow(
    url: &str,
    proxy: &str,
) -> Result<watch::Receiver<Option<ClusterView>>, DiscoveryError> {
    let d = Discovery::new(url, proxy, 0)?;
    let (tx, rx) = watch::channel(None);
    let url = url.to_string();
    tokio::spawn(async move {
        let mut next: Option<u64> = None;
        loop {
            if tx.is_closed() {
                return;
            }
            let Some(wait_index) = next else {
                match fetch_with(&d).await {
                    Ok((view, index)) => {
                        if view.is_some() {
                            update(&tx, view, &url);
                        }
                        next = Some(index + 1);
                    }
                    Err(e) => {
                        warn!("member registry {url}: {e}; keeping the last members known");
                        tokio::time::sleep(RETRY).await;
                    }
                }
                continue;
            };
            let watch = format!("{}?wait=true&waitIndex={wait_index}", key(&d));
            let answer = tokio::select! {
                a = d.request(Method::GET, &watch, None, None) => a,
                _ = tx.closed() => return,
            };
            match answer {
                Ok(a) => {
                    next = Some(a.node.modified_index + 1);
                    // An expired or deleted view keeps the last one.
                    if let Some(view) = parse(a.node.value.as_deref()) {
                        update(&tx, Some(view), &url);
                    }
                }
                // 401: the history moved on; read the view afresh.
                Err(Failure::Remote(_)) => next = None,
                Err(e) => {
                    warn!(
                        "member registry {url}: {}; keeping the last members known",
                        failure(e)
                    );
                    next = None;
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    });
    Ok(rx)
}

/// The members' client URLs (the leader's first) as published under
/// `discovery_url`: waits up to `timeout` for a first view, then the
/// receiver changes whenever the set of URLs does (not on a leader change
/// alone). While the discovery service is down it keeps the last set.
pub async fn member_urls(
    discovery_url: &str,
    timeout: Duration,
) -> anyhow::Result<watch::Receiver<Vec<String>>> {
    let mut views = follow(discovery_url, "")?;
    let view = tokio::time::timeout(timeout, views.wait_for(|v| v.is_some()))
        .await
        .with_context(|| format!("no member registry under {discovery_url} after {timeout:?}"))?
        .context("the member registry follower stopped")?
        .clone()
        .context("no member registry")?;
    let (tx, rx) = watch::channel(view.client_urls_leader_first());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = views.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
            }
            let Some(view) = views.borrow_and_update().clone() else {
                continue;
            };
            let urls = view.client_urls_leader_first();
            tx.send_if_modified(|cur| {
                let changed = !urls.is_empty() && sorted(&urls) != sorted(cur);
                if changed {
                    *cur = urls;
                }
                changed
            });
        }
    });
    Ok(rx)
}

fn sorted(urls: &[String]) -> Vec<String> {
    let mut v = urls.to_vec();
    v.sort();
    v
}

async fn fetch_with(d: &Discovery) -> Result<(Option<ClusterView>, u64), DiscoveryError> {
    match d
        .request(Method::GET, &key(d), None, Some(Duration::from_secs(5)))
        .await
    {
        Ok(a) => Ok((parse(a.node.value.as_deref()), a.index)),
        Err(Failure::Remote(e)) if e.code == 100 => Ok((None, e.index)),
        Err(e) => Err(failure(e)),
    }
}

fn update(tx: &watch::Sender<Option<ClusterView>>, view: Option<ClusterView>, url: &str) {
    tx.send_if_modified(|cur| {
        if *cur == view {
            return false;
        }
        if let Some(v) = &view {
            let names: Vec<&str> = v.members.iter().map(|m| m.name.as_str()).collect();
            match cur {
                None => info!(
                    "member registry {url}: cluster {} with {} member(s) {names:?}, leader {}",
                    v.cluster_id,
                    v.members.len(),
                    v.leader
                ),
                Some(_) => info!(
                    "member registry {url}: now {} member(s) {names:?}, leader {}",
                    v.members.len(),
                    v.leader
                ),
            }
        } else {
            debug!("member registry {url}: no view");
        }
        *cur = view;
        true
    });
}

/// The directory under the token where watch replicas announce themselves
/// (hidden, as the view is): one key per replica, its gRPC URL as value.
pub const WATCH_DIR: &str = "_watch";

fn watch_dir(d: &Discovery) -> String {
    format!("{}/{WATCH_DIR}", d.target.token_path)
}

/// The key of the replica reachable at `watch_url` (its URL, made a key).
fn watch_key(d: &Discovery, watch_url: &str) -> String {
    let name: String = watch_url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{}/{name}", watch_dir(d))
}

/// Announces the watch replica reachable at `watch_url` under the token
/// for [`VIEW_TTL`] (rewritten every [`REFRESH`] by the replica).
pub async fn announce_watch(url: &str, proxy: &str, watch_url: &str) -> Result<(), DiscoveryError> {
    let d = Discovery::new(url, proxy, 0)?;
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("value", watch_url)
        .append_pair("ttl", &VIEW_TTL.as_secs().to_string())
        .finish();
    d.request(
        Method::PUT,
        &watch_key(&d, watch_url),
        Some(body),
        Some(Duration::from_secs(5)),
    )
    .await
    .map(|_| ())
    .map_err(failure)
}

/// Withdraws the replica's announcement (a replica stopping).
pub async fn withdraw_watch(url: &str, proxy: &str, watch_url: &str) -> Result<(), DiscoveryError> {
    let d = Discovery::new(url, proxy, 0)?;
    d.request(
        Method::DELETE,
        &watch_key(&d, watch_url),
        None,
        Some(Duration::from_secs(2)),
    )
    .await
    .map(|_| ())
    .map_err(failure)
}

/// The watch replicas announced now (sorted URLs), with the index to watch
/// from.
async fn list_watch(d: &Discovery) -> Result<(Vec<String>, u64), DiscoveryError> {
    match d
        .request(
            Method::GET,
            &format!("{}?recursive=true", watch_dir(d)),
            None,
            Some(Duration::from_secs(5)),
        )
        .await
    {
        Ok(a) => {
            let mut urls: Vec<String> = a.node.nodes.into_iter().filter_map(|n| n.value).collect();
            urls.sort();
            urls.dedup();
            Ok((urls, a.index))
        }
        Err(Failure::Remote(e)) if e.code == 100 => Ok((Vec::new(), e.index)),
        Err(e) => Err(failure(e)),
    }
}

/// Follows the watch replicas announced under `url`: the receiver holds
/// their URLs (the last list known while the service is unreachable). The
/// task ends when every receiver is dropped.
pub fn follow_watch(
    url: &str,
    proxy: &str,
) -> Result<watch::Receiver<Vec<String>>, DiscoveryError> {
    let d = Discovery::new(url, proxy, 0)?;
    let (tx, rx) = watch::channel(Vec::new());
    let url = url.to_string();
    tokio::spawn(async move {
        loop {
            if tx.is_closed() {
                return;
            }
            let next = match list_watch(&d).await {
                Ok((urls, index)) => {
                    tx.send_if_modified(|cur| {
                        if *cur == urls {
                            return false;
                        }
                        info!("member registry {url}: watch replicas {urls:?}");
                        *cur = urls;
                        true
                    });
                    index + 1
                }
                Err(e) => {
                    warn!("member registry {url}: {e}; keeping the watch replicas known");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            // Any change under the directory (an announcement, its expiry,
            // a withdrawal): list it again.
            let wait = format!(
                "{}?wait=true&recursive=true&waitIndex={next}",
                watch_dir(&d)
            );
            let answer = tokio::select! {
                a = d.request(Method::GET, &wait, None, None) => a,
                _ = tx.closed() => return,
            };
            if let Err(e) = answer {
                if !matches!(e, Failure::Remote(_)) {
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    });
    Ok(rx)
}
