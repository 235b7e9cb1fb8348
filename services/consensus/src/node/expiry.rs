//! etcd's SYNC: the leader proposes the expiry of due keys every 500 ms
//! (expiry is a replicated command, never a timer on each replica), and
//! the revocation of expired v3 leases (etcd's lessor checks every 500 ms
//! too); a new leader first extends every lease by an election timeout,
//! as etcd's lessor `Promote` does, so clients have time to find it.

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
            if let Err(e) = n.propose(Write::V2(Command::ExpireKeys), 0).await {
                warn!("cannot propose key expiry: {e}");
            }
        }
        let expired = n.shared.keyspace.read().expired_leases(now);
        if !expired.is_empty() && n.is_leader() {
            n.revoke_leases(expired).await;
        }
    }
}

impl Consensus {
    /// Proposes the revocation of expired leases, in one batch.
    async fn revoke_leases(&self, ids: Vec<i64>) {
        let mut waiting = Vec::with_capacity(ids.len());
        for id in ids {
            let revoke = concord_mvcc::Command::LeaseRevoke { id };
            waiting.push(self.enqueue(Write::V3(revoke), 0, 0).await);
        }
        for w in waiting {
            let result = match w {
                Ok(rx) => rx.await.unwrap_or(Err(ApiError::Stopping)),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                warn!("cannot propose lease expiry: {e}");
                return;
            }
        }
    }

    /// On becoming leader: every lease lives at least one more election
    /// timeout from now (the proposal's time).
    pub(super) async fn promote_leases(&self) {
        if self.shared.keyspace.read().leases().iter().next().is_none() {
            return;
        }
        let promote = concord_mvcc::Command::LeasePromote {
            now: 0,
            extend_nanos: self.election_timeout.as_nanos() as i64,
        };
        if let Err(e) = self.propose(Write::V3(promote), 0).await {
            warn!("cannot extend the leases after the election: {e}");
        }
    }
}
