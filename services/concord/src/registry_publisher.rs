//! A member's part in the member registry (`concord_discovery::members`):
//! while this member leads, it writes the cluster's view (members with
//! their peer and client URLs, the leader, health) under the discovery URL
//! it was started with, at once when the view changes and every 10 s
//! otherwise, so that gateways and watch services started with only the
//! discovery URL can follow member adds, removals and leader changes.
//! Followers write nothing; a new leader takes over within a second of its
//! election. The service being down costs nothing but a log line: the
//! cluster does not depend on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_api::Cluster;
use concord_discovery::members::{publish, ClusterView, REFRESH};
use tracing::{info, warn};

/// How often the member looks at its view.
const TICK: Duration = Duration::from_secs(1);

/// Runs until the task is aborted.
pub async fn run(url: String, proxy: String, my_id: u64, cluster: Arc<dyn Cluster>) {
    let me = format!("{my_id:x}");
    let mut last: Option<(ClusterView, Instant)> = None;
    let mut failing = false;
    loop {
        tokio::time::sleep(TICK).await;
        let leader = match cluster.leader().await {
            Ok(Some(l)) => l,
            _ => continue,
        };
        if leader.id != me {
            last = None;
            continue;
        }
        let Ok(members) = cluster.members().await else {
            continue;
        };
        let view = ClusterView {
            cluster_id: cluster.cluster_id(),
            leader: me.clone(),
            healthy: cluster.healthy().await,
            members,
        };
        let due = match &last {
            Some((v, at)) => *v != view || at.elapsed() >= REFRESH,
            None => true,
        };
        if !due {
            continue;
        }
        match publish(&url, &proxy, &view).await {
            Ok(()) => {
                if failing || last.as_ref().is_none_or(|(v, _)| v.members != view.members) {
                    info!(
                        "published the member registry to {url}: {} member(s), leader {me}",
                        view.members.len()
                    );
                }
                failing = false;
                last = Some((view, Instant::now()));
            }
            Err(e) => {
                if !failing {
                    warn!("cannot publish the member registry to {url}: {e} (retrying)");
                }
                failing = true;
            }
        }
    }
}
