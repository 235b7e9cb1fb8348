//! The `Cluster` and `RaftStats` contracts on a member: the member list,
//! the leader, member changes (sent to the leader), and this member's raft
//! statistics.

use super::*;

impl Consensus {
    pub(super) fn member_of(id: u64, n: &MemberNode) -> Member {
        Member {
            id: hex(id),
            name: n.name.clone(),
            peer_urls: n.peer_urls.clone(),
            client_urls: n.client_urls.clone(),
        }
    }
}

#[async_trait]
impl Cluster for Consensus {
    fn cluster_id(&self) -> String {
        hex(self.identity.cluster_id)
    }

    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        Ok(self
            .member_nodes()
            .iter()
            .map(|(id, n)| Self::member_of(*id, n))
            .collect())
    }

    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        let leader = self.leader_id();
        Ok(leader.and_then(|l| {
            self.member_nodes()
                .iter()
                .find(|(id, _)| *id == l)
                .map(|(id, n)| Self::member_of(*id, n))
        }))
    }

    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        match self
            .membership_request(LeaderRequest::AddMember { peer_urls })
            .await?
        {
            LeaderReply::Member(r) => r,
            other => Err(MembershipError::Internal(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        match self
            .membership_request(LeaderRequest::RemoveMember { id })
            .await?
        {
            LeaderReply::Done(r) => r,
            other => Err(MembershipError::Internal(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError> {
        match self
            .membership_request(LeaderRequest::UpdateMember { id, peer_urls })
            .await?
        {
            LeaderReply::Done(r) => r,
            other => Err(MembershipError::Internal(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    async fn healthy(&self) -> bool {
        let timeout = (2 * self.election_timeout).min(Duration::from_secs(5));
        if self.leader_id().is_none() || !self.published.load(Ordering::Acquire) {
            return false;
        }
        self.linearizable_barrier(timeout).await.is_ok()
    }

    async fn move_leader(&self, target: u64) -> Result<(), LeaderTransferError> {
        self.transfer_leadership(target).await
    }
}

#[async_trait]
impl RaftStats for Consensus {
    async fn self_stats(&self) -> Result<SelfStats, ApiError> {
        let (state, leader) = {
            let metrics = self.raft.metrics();
            let b = metrics.borrow();
            (b.state, b.current_leader)
        };
        let since = *self.leader_since.lock();
        let now = now_nanos();
        Ok(SelfStats {
            name: self.identity.name.clone(),
            id: self.identity.member_id,
            role: match state {
                ServerState::Leader => RaftRole::Leader,
                ServerState::Candidate => RaftRole::Candidate,
                _ => RaftRole::Follower,
            },
            start_time: self.start_time,
            leader: leader.and_then(|id| {
                since.map(|(_, t)| KnownLeader {
                    id,
                    since: t,
                    uptime_nanos: now - t,
                })
            }),
            recv_append_request_cnt: self.net.stats.received_appends(),
            send_append_request_cnt: self.net.stats.sent_appends(),
        })
    }

    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError> {
        if !self.is_leader() {
            return Ok(None);
        }
        let me = self.member_id();
        let followers: Vec<u64> = self
            .voters()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| *id != me)
            .collect();
        Ok(Some(LeaderStats {
            leader: hex(me),
            followers: self.net.stats.followers(&followers),
        }))
    }
}
