//! Getting a request to the leader: waiting for one to be elected, and
//! sending again a forward that surely never reached it (to the same member
//! or to the next leader), so an election delays a request rather than
//! failing it; only an unknown outcome answers "request timed out".

use super::*;

impl Consensus {
    /// The leader, waiting up to `timeout` for one to be elected.
    pub(super) async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let mut metrics = self.raft.metrics();
        let found = tokio::time::timeout(timeout, async {
            loop {
                if let Some(l) = metrics.borrow_and_update().current_leader {
                    return Some(l);
                }
                if metrics.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        found.ok().flatten()
    }

    /// A connection to the leader (which is another member).
    pub(super) fn conn_to(&self, leader: u64) -> Result<PeerConn, ApiError> {
        let node = self
            .member_nodes()
            .into_iter()
            .find(|(id, _)| *id == leader)
            .map(|(_, n)| n)
            .ok_or_else(|| ApiError::NoLeader(format!("leader {} is unknown", hex(leader))))?;
        self.net
            .conn(&node)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Sends a request to the leader: served here if this member leads,
    /// forwarded otherwise (see [`Self::forward`]).
    pub(super) async fn to_leader(&self, req: LeaderRequest) -> Result<LeaderReply, ApiError> {
        let deadline = Instant::now() + self.request_timeout();
        match self.forward(req, None, deadline).await? {
            Forwarded::Answered(reply) => Ok(reply),
            Forwarded::Mine(req) => Ok(self.serve_forwarded(req).await),
        }
    }

    /// Delivers `req` to the leader (`first`, or the one elected next),
    /// waiting for a leader while there is none, until `deadline`. A request
    /// that surely never reached the leader (no connection could be made:
    /// it died, or is cut off) is sent again, to the same member or to the
    /// next leader: an election delays it, it does not fail it. A read
    /// index (no effect) is asked again after any failure. Comes back with
    /// the request if this member leads meanwhile.
    pub(super) async fn forward(
        &self,
        req: LeaderRequest,
        first: Option<u64>,
        deadline: Instant,
    ) -> Result<Forwarded, ApiError> {
        // A read index has no effect, and writes carry request IDs (applied
        // at most once): both may be sent again after an unknown outcome.
        let idempotent = match &req {
            LeaderRequest::ReadIndex => true,
            LeaderRequest::Write {
                commands, ids, v3, ..
            } => ids.len() == commands.len() + v3.len() && ids.iter().all(|&id| id != 0),
            _ => false,
        };
        let mut leader = first;
        loop {
            let now = Instant::now();
            let l = match leader.take() {
                Some(l) => l,
                None => self
                    .wait_for_leader(deadline.saturating_duration_since(now))
                    .await
                    .ok_or_else(|| ApiError::NoLeader("etcdserver: no leader".into()))?,
            };
            if l == self.member_id() {
                return Ok(Forwarded::Mine(req));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(request_timed_out());
            }
            let conn = self.conn_to(l)?;
            let attempt = conn.forward(&req, left);
            let e = if idempotent {
                // A leader that stops answering (paused, cut off) is
                // replaced by an election before this member's connection
                // to it gives up: once another leader is known, the same
                // request goes to it (applied at most once) instead of
                // waiting for the old one's PING timeout.
                tokio::select! {
                    r = attempt => match r {
                        Ok(reply) => return Ok(Forwarded::Answered(reply)),
                        Err(e) => e,
                    },
                    new = self.leader_other_than(l) => {
                        debug!(
                            "leader moved from {} to {} while a forward was in flight: sending it again",
                            hex(l),
                            hex(new)
                        );
                        leader = Some(new);
                        continue;
                    }
                }
            } else {
                match attempt.await {
                    Ok(reply) => return Ok(Forwarded::Answered(reply)),
                    Err(e) => e,
                }
            };
            let again = match &e {
                PeerError::Undelivered { .. } => true,
                PeerError::Unreachable { .. } => idempotent,
                _ => false,
            };
            if !again || Instant::now() >= deadline {
                return Err(forward_err(l, e));
            }
            debug!("forward to {} not delivered, sending again: {e}", hex(l));
            self.wait_leader_moved(l, deadline).await;
        }
    }

    /// The next leader other than `from`, once one is known (pending
    /// forever while none is, or when raft stops).
    async fn leader_other_than(&self, from: u64) -> u64 {
        let mut metrics = self.raft.metrics();
        loop {
            if let Some(l) = metrics.borrow_and_update().current_leader {
                if l != from {
                    return l;
                }
            }
            if metrics.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Waits, at most a short pause, for the leader to be another than
    /// `from` (a dead leader is known dead only after an election timeout).
    pub(super) async fn wait_leader_moved(&self, from: u64, deadline: Instant) {
        let pause = (self.election_timeout / 10).max(Duration::from_millis(20));
        let until = deadline.min(Instant::now() + pause);
        let mut metrics = self.raft.metrics();
        let _ = tokio::time::timeout_at(until.into(), async {
            while metrics.borrow_and_update().current_leader == Some(from) {
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// Serves a request sent to the leader (by a client of this member or
    /// forwarded by another member).
    pub(crate) async fn serve_forwarded(&self, req: LeaderRequest) -> LeaderReply {
        match req {
            LeaderRequest::Write {
                commands,
                hops,
                ids,
                v3,
            } => {
                let mut waiting = Vec::with_capacity(commands.len() + v3.len());
                let ids = ids.into_iter().chain(std::iter::repeat(0));
                let writes = commands
                    .into_iter()
                    .map(Write::V2)
                    .chain(v3.into_iter().map(Write::V3));
                for (write, id) in writes.zip(ids) {
                    waiting.push(self.enqueue(write, id, hops).await);
                }
                let mut results = Vec::with_capacity(waiting.len());
                for w in waiting {
                    results.push(match w {
                        Ok(rx) => rx.await.unwrap_or(Err(ApiError::Stopping)),
                        Err(e) => Err(e),
                    });
                }
                LeaderReply::Writes(results)
            }
            LeaderRequest::ReadIndex => LeaderReply::ReadIndex(self.leader_read_index().await),
            LeaderRequest::AddMember { peer_urls } => {
                LeaderReply::Member(self.leader_add_member(peer_urls).await)
            }
            LeaderRequest::RemoveMember { id } => {
                LeaderReply::Done(self.leader_remove_member(id).await)
            }
            LeaderRequest::UpdateMember { id, peer_urls } => {
                LeaderReply::Done(self.leader_update_member(id, peer_urls).await)
            }
            LeaderRequest::Publish {
                id,
                name,
                client_urls,
            } => LeaderReply::Done(self.leader_publish(id, name, client_urls).await),
            LeaderRequest::MoveLeader { target } => {
                LeaderReply::Moved(self.leader_transfer(target).await)
            }
        }
    }

    /// Sends a membership request to the leader.
    pub(super) async fn membership_request(
        &self,
        req: LeaderRequest,
    ) -> Result<LeaderReply, MembershipError> {
        self.to_leader(req).await.map_err(|e| match e {
            ApiError::NoLeader(_) => MembershipError::Internal("etcdserver: no leader".into()),
            e => MembershipError::Internal(e.to_string()),
        })
    }
}

/// What a failed forward tells the client. Only a request that may have
/// reached the leader gets etcd's "request timed out": its outcome is
/// unknown (it may still apply).
pub(super) fn forward_err(leader: u64, e: PeerError) -> ApiError {
    match e {
        PeerError::Unreachable { .. } => {
            debug!("forward to {}: outcome unknown: {e}", hex(leader));
            request_timed_out()
        }
        PeerError::Undelivered { .. } => {
            ApiError::NoLeader(format!("leader {} unreachable: {e}", hex(leader)))
        }
        e => ApiError::Internal(e.to_string()),
    }
}

/// Where [`Consensus::forward`] left a request.
pub(super) enum Forwarded {
    /// The leader answered.
    Answered(LeaderReply),
    /// This member leads now: serve it here.
    Mine(LeaderRequest),
}
