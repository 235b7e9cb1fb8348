//! Leadership transfer (etcd's `MoveLeader`), as etcd's raft makes it: the
//! leader waits until the transferee's log has caught up with its own, then
//! tells it to campaign at once (raft's TimeoutNow, the peer method of that
//! name); the transferee's vote requests say why, and the voters grant them
//! although the current leader's lease has not expired (the vendored
//! openraft's transfer patch). The leader answers once it sees the
//! transferee lead.
//!
//! Unlike etcd's, the leader keeps accepting proposals while it waits: an
//! entry appended after the transferee caught up makes the old leader (and
//! any voter that has it) refuse the transferee's vote by the log check, so
//! the campaign fails and is asked again, or the transfer times out. Raft's
//! safety is the same either way.

use std::time::Duration;

use tonic::Status;

use super::*;

/// How long the leader waits for the transferee to lead (etcdctl's
/// default command timeout; a client that waits less stops waiting first).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(5);

impl Consensus {
    /// On the leader: moves leadership to the voter `target`.
    pub(super) async fn leader_transfer(&self, target: u64) -> Result<(), LeaderTransferError> {
        let me = self.member_id();
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + TRANSFER_TIMEOUT;
        let mut metrics = self.raft.metrics();
        {
            let m = metrics.borrow_and_update();
            if m.current_leader != Some(me) {
                return Err(LeaderTransferError::NotLeader);
            }
            if !m
                .membership_config
                .membership()
                .voter_ids()
                .any(|id| id == target)
            {
                return Err(LeaderTransferError::BadTransferee);
            }
        }
        info!(
            "{} starts leadership transfer from {} to {}",
            hex(me),
            hex(me),
            hex(target)
        );
        let finished = || {
            info!(
                "{} finished leadership transfer from {} to {} (took {:?})",
                hex(me),
                hex(me),
                hex(target),
                started.elapsed()
            )
        };
        if target == me {
            finished();
            return Ok(());
        }
        let node = self
            .member_nodes()
            .into_iter()
            .find(|(id, _)| *id == target)
            .map(|(_, n)| n)
            .ok_or(LeaderTransferError::BadTransferee)?;
        let conn = self
            .net
            .conn(&node)
            .map_err(|e| LeaderTransferError::Internal(e.to_string()))?;
        info!(
            "{} [term {}] starts to transfer leadership to {}",
            hex(me),
            metrics.borrow().current_term,
            hex(target)
        );
        // A campaign that fails (a vote split, an entry appended meanwhile)
        // is asked for again after an election timeout, as etcd's raft
        // gives up a transfer after one.
        let mut asked: Option<tokio::time::Instant> = None;
        loop {
            let (leader, caught_up) = {
                let m = metrics.borrow_and_update();
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&target).cloned().flatten())
                    .map(|l| l.index);
                (m.current_leader, matched >= m.last_log_index)
            };
            if leader == Some(target) {
                finished();
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            let may_ask = asked.is_none_or(|at| now >= at + self.election_timeout);
            if leader == Some(me) && caught_up && may_ask {
                asked = Some(now);
                info!(
                    "{} sends MsgTimeoutNow to {} immediately as {} already has up-to-date log",
                    hex(me),
                    hex(target),
                    hex(target)
                );
                if let Err(e) = conn.timeout_now(self.election_timeout).await {
                    warn!("leadership transfer to {}: {e}", hex(target));
                }
                continue;
            }
            // Woken by raft's metrics (replication progress, a new leader),
            // and at least once per heartbeat to ask again.
            let wait = tokio::time::timeout_at(
                deadline.min(now + self.election_timeout / 4),
                metrics.changed(),
            )
            .await;
            if matches!(wait, Ok(Err(_))) {
                return Err(LeaderTransferError::Internal(
                    "etcdserver: server stopped".into(),
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(
                    "{} failed leadership transfer from {} to {}: leader transfer took too long",
                    hex(me),
                    hex(me),
                    hex(target)
                );
                return Err(LeaderTransferError::TimedOut);
            }
        }
    }

    /// On the transferee: the leader `from` hands leadership over; campaign
    /// at once.
    pub(crate) async fn take_leadership(&self, from: u64) -> Result<(), Status> {
        let (leader, term) = {
            let m = self.raft.metrics().borrow().clone();
            (m.current_leader, m.current_term)
        };
        if leader != Some(from) {
            return Err(Status::failed_precondition(format!(
                "{} is not this member's leader",
                hex(from)
            )));
        }
        info!(
            "{} [term {}] received MsgTimeoutNow from {} and starts an election to get leadership.",
            hex(self.member_id()),
            term,
            hex(from)
        );
        self.raft
            .trigger()
            .elect_for_transfer()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))
    }

    /// `MoveLeader` on any member: served by the leader.
    pub(super) async fn transfer_leadership(&self, target: u64) -> Result<(), LeaderTransferError> {
        match self.to_leader(LeaderRequest::MoveLeader { target }).await {
            Ok(LeaderReply::Moved(r)) => r,
            Ok(other) => Err(LeaderTransferError::Internal(format!(
                "unexpected answer {other:?}"
            ))),
            Err(ApiError::NoLeader(_)) => Err(LeaderTransferError::Internal(
                "etcdserver: no leader".into(),
            )),
            Err(e) => Err(LeaderTransferError::Internal(e.to_string())),
        }
    }
}
