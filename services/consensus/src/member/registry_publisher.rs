//! A member's part in the member registry (`concord_discovery_client::members`):
//! while this member leads, it writes the cluster's view (members with
//! their peer and client URLs, the leader, health) under the discovery URL
//! it was started with, at once when the view changes and every 10 s
//! otherwise, so that gateways and watch services started with only the
//! discovery URL can follow member adds, removals and leader changes.
//! A new leader takes over within a second of its election. A leader that
//! does not know the discovery URL (a member that joined later by `member
//! add`, without `--discovery`) publishes nothing: then the followers that
//! know it stand in, each writing the view once the published one has
//! named another leader or other members for [`STAND_IN_GRACE`] (they
//! check it every second). The service being down costs nothing but a log
//! line: the cluster does not depend on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_api::Cluster;
use concord_discovery_client::members::{fetch, publish, ClusterView, REFRESH};
use tracing::{info, warn};

/// How often the member looks at its view.
const TICK: Duration = Duration::from_secs(1);
/// How long a follower lets a published view stay out of date (wrong
/// leader, other members, or gone) before it writes the view itself; long
/// enough for a leader that publishes to have done so.
const STAND_IN_GRACE: Duration = Duration::from_secs(3);

/// Runs until the task is aborted.
pub async fn run(url: String, proxy: String, my_id: u64, cluster: Arc<dyn Cluster>) {
    let me = format!("{my_id:x}");
    let mut last: Option<(ClusterView, Instant)> = None;
    let mut failing = false;
    // Since when the published view has been out of date (as a follower).
    let mut stale_since: Option<Instant> = None;
    // The leader stood in for last, and when.
    let mut stood_in: Option<(String, Instant)> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let leader = match cluster.leader().await {
            Ok(Some(l)) => l,
            _ => continue,
        };
        let Ok(members) = cluster.members().await else {
            continue;
        };
        if leader.id != me {
            last = None;
            let up_to_date = match fetch(&url, &proxy).await {
                Ok((view, _)) => {
                    view.is_some_and(|v| v.leader == leader.id && v.members == members)
                }
                // The service is down: nothing to stand in for.
                Err(_) => true,
            };
            // Having stood in for this leader, keep its view alive (TTL).
            let refresh = stood_in
                .as_ref()
                .is_some_and(|(l, at)| *l == leader.id && at.elapsed() >= REFRESH);
            if up_to_date && !refresh {
                stale_since = None;
                continue;
            }
            if !up_to_date
                && stale_since.get_or_insert_with(Instant::now).elapsed() < STAND_IN_GRACE
            {
                continue;
            }
            stale_since = None;
            stood_in = Some((leader.id.clone(), Instant::now()));
            let view = ClusterView {
                cluster_id: cluster.cluster_id(),
                leader: leader.id.clone(),
                healthy: cluster.healthy().await,
                members,
            };
            match publish(&url, &proxy, &view).await {
                Ok(()) if !refresh => info!(
                    "published the member registry to {url} for leader {} (it does not publish): {} member(s)",
                    leader.id,
                    view.members.len()
                ),
                Ok(()) => {}
                Err(e) => warn!("cannot publish the member registry to {url}: {e}"),
            }
            continue;
        }
        stale_since = None;
        stood_in = None;
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
