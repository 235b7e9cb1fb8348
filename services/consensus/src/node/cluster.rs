//! The `Cluster` contract on a member: the member list, the leader, member
//! changes (sent to the leader) and this member's raft statistics.

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

/// Go's `time.Duration.String()`, as etcd prints `uptime`.
pub fn go_duration(nanos: i64) -> String {
    if nanos <= 0 {
        return "0s".into();
    }
    let secs_total = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (h, m, s) = (secs_total / 3600, (secs_total % 3600) / 60, secs_total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('s');
    out
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
            id: hex(self.identity.member_id),
            state: match state {
                ServerState::Leader => "StateLeader",
                ServerState::Candidate => "StateCandidate",
                _ => "StateFollower",
            }
            .into(),
            start_time: format_rfc3339_nano(self.start_time),
            leader_info: LeaderInfo {
                leader: leader.map(hex).unwrap_or_default(),
                uptime: since.map(|(_, t)| go_duration(now - t)).unwrap_or_default(),
                start_time: since
                    .map(|(_, t)| format_rfc3339_nano(t))
                    .unwrap_or_default(),
            },
            recv_append_request_cnt: self.net.stats.received_appends(),
            send_append_request_cnt: self.net.stats.sent_appends(),
            ..Default::default()
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

    async fn healthy(&self) -> bool {
        let timeout = (2 * self.election_timeout).min(Duration::from_secs(5));
        if self.leader_id().is_none() || !self.published.load(Ordering::Acquire) {
            return false;
        }
        self.linearizable_barrier(timeout).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(2_826_385_412), "2.826385412s");
        assert_eq!(go_duration(62_500_000_000), "1m2.5s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration(0), "0s");
    }
}
