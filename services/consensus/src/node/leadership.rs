//! Leadership changes in etcd's words ("elected leader", "lost leader",
//! "became leader at term") and the term kept for response headers.

use super::*;

/// Logs leadership changes in etcd's words and keeps the term for headers.
pub(super) async fn watch_leadership(
    node: std::sync::Weak<Consensus>,
    mut metrics: tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, MemberNode>>,
) {
    let mut last_leader: Option<u64> = None;
    loop {
        let (term, leader, me) = {
            let m = metrics.borrow_and_update();
            (m.current_term, m.current_leader, m.id)
        };
        let Some(n) = node.upgrade() else { return };
        n.term.store(term, Ordering::Release);
        if leader != last_leader {
            if let Some(l) = leader {
                if l == me {
                    info!("{} became leader at term {}", hex(me), term);
                    let n = n.clone();
                    tokio::spawn(async move { n.promote_leases().await });
                }
            }
            *n.leader_since.lock() = leader.map(|l| (l, now_nanos()));
            // The lines of etcd's raft node loop (raft/node.go).
            match (last_leader, leader) {
                (None, Some(l)) => info!(
                    "raft.node: {} elected leader {} at term {}",
                    hex(me),
                    hex(l),
                    term
                ),
                (Some(old), Some(l)) => info!(
                    "raft.node: {} changed leader from {} to {} at term {}",
                    hex(me),
                    hex(old),
                    hex(l),
                    term
                ),
                (Some(old), None) => info!(
                    "raft.node: {} lost leader {} at term {}",
                    hex(me),
                    hex(old),
                    term
                ),
                (None, None) => {}
            }
            last_leader = leader;
        }
        drop(n);
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
