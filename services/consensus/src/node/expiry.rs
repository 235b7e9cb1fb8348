//! etcd's SYNC: the leader proposes the expiry of due keys every 500 ms
//! (expiry is a replicated command, never a timer on each replica).

use super::*;

/// etcd's SYNC: the leader proposes expiry of due keys every 500 ms.
pub(super) async fn expire_keys(node: std::sync::Weak<Consensus>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(n) = node.upgrade() else { return };
        let now = now_nanos();
        let due = n
            .shared
            .store
            .read()
            .next_expiry()
            .is_some_and(|t| t <= now);
        if due && n.is_leader() {
            if let Err(e) = n.propose(Command::ExpireKeys, 0).await {
                warn!("cannot propose key expiry: {e}");
            }
        }
    }
}
