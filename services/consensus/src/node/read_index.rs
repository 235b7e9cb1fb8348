//! Linearizable reads: read-index rounds shared by every quorum read that
//! arrived before a round starts, asked of the leader (again, of the next
//! leader, if the one asked no longer leads).

use super::*;

impl Consensus {
    /// The leader's read index: confirms leadership with a quorum and
    /// returns the index a linearizable read must wait for.
    pub(super) async fn leader_read_index(&self) -> Result<u64, ApiError> {
        match tokio::time::timeout(self.request_timeout(), self.raft.get_read_log_id()).await {
            Ok(Ok((read, _applied))) => Ok(read.map_or(0, |l| l.index)),
            Ok(Err(e)) => Err(ApiError::NoLeader(e.to_string())),
            Err(_) => Err(request_timed_out()),
        }
    }

    /// Waits until this member has applied everything committed before now
    /// (read index, asked of the leader): a read after this is linearizable.
    pub(super) async fn linearizable_barrier(&self, timeout: Duration) -> Result<(), ApiError> {
        let (tx, rx) = oneshot::channel();
        self.read_index_waiters
            .send(tx)
            .await
            .map_err(|_| ApiError::Stopping)?;
        let index = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r?,
            Ok(Err(_)) => return Err(ApiError::Stopping),
            Err(_) => return Err(request_timed_out()),
        };
        self.shared
            .wait_applied(index, timeout)
            .await
            .then_some(())
            .ok_or_else(request_timed_out)
    }
}

/// Read-index rounds, as etcd batches them: every quorum read that arrived
/// before a round starts shares that round's one request to the leader (one
/// leadership confirmation by a quorum), instead of one each. A read that
/// arrives during a round waits for the next, which starts after it: the
/// index it gets is at least the commit index at its arrival.
pub(super) async fn read_index_rounds(
    node: std::sync::Weak<Consensus>,
    mut queue: mpsc::Receiver<ReadIndexWaiter>,
) {
    let mut waiters = Vec::new();
    while queue.recv_many(&mut waiters, MAX_BATCH * 4).await > 0 {
        let Some(n) = node.upgrade() else { return };
        let deadline = Instant::now() + n.request_timeout();
        let result = loop {
            let ask = n.to_leader(LeaderRequest::ReadIndex);
            let r = match tokio::time::timeout_at(deadline.into(), ask).await {
                Ok(Ok(LeaderReply::ReadIndex(r))) => r,
                Ok(Ok(_)) => Err(ApiError::Internal(
                    "unexpected answer from the leader".into(),
                )),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(request_timed_out()),
            };
            // The member asked was not (or no longer) the leader: a read
            // index has no effect, so ask again, of the next leader.
            match r {
                Err(ApiError::NoLeader(_)) if Instant::now() < deadline => {
                    let asked = n.leader_id().unwrap_or(0);
                    n.wait_leader_moved(asked, deadline).await;
                }
                r => break r,
            }
        };
        drop(n);
        for w in waiters.drain(..) {
            let _ = w.send(result.clone());
        }
    }
}

/// Where a linearizable read learns the read index it must wait for.
pub(super) type ReadIndexWaiter = oneshot::Sender<Result<u64, ApiError>>;
