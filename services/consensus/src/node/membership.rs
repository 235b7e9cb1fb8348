//! Runtime membership on the leader: `/v2/members` add, remove and update,
//! each member publishing its name and client URLs, and etcd's
//! `--strict-reconfig-check` rules (`mayAddMember`, `mayRemoveMember`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use concord_api::{Member, MembershipError};
use openraft::error::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::ChangeMembers;
use tracing::{info, warn};

use super::{now_nanos, Consensus, HEALTH_INTERVAL};
use crate::ids::{self, hex, url_list};
use crate::types::{LeaderReply, LeaderRequest, MemberNode};

impl Consensus {
    /// Runs a membership change on the leader, waiting out a change still
    /// in progress (openraft allows one at a time, as etcd does).
    async fn change_membership(
        &self,
        change: ChangeMembers<u64, MemberNode>,
    ) -> Result<(), MembershipError> {
        let deadline = tokio::time::Instant::now() + self.request_timeout();
        // One change at a time: wait for the last one to be applied first.
        let mut metrics = self.raft.metrics();
        let _ = tokio::time::timeout_at(deadline, async {
            loop {
                {
                    let m = metrics.borrow_and_update();
                    if m.membership_config.log_id() <= &m.last_applied {
                        return;
                    }
                }
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        loop {
            let attempt = tokio::time::timeout_at(
                deadline,
                self.raft.change_membership(change.clone(), false),
            )
            .await
            .map_err(|_| MembershipError::Internal("etcdserver: request timed out".into()))?;
            match attempt {
                Ok(_) => return Ok(()),
                Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
                    ChangeMembershipError::InProgress(_),
                ))) if tokio::time::Instant::now() < deadline => {
                    // Retry interval while the previous change commits.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(MembershipError::Internal(e.to_string())),
            }
        }
    }

    fn active(&self, id: u64) -> bool {
        id == self.member_id() || self.net.stats.active_for(id, HEALTH_INTERVAL)
    }

    /// etcd's `mayAddMember` (with --strict-reconfig-check).
    fn may_add_member(&self) -> Result<(), MembershipError> {
        if !self.strict_reconfig_check {
            return Ok(());
        }
        let voters = self.voters();
        let members = voters.len() + 1;
        let started = voters.iter().filter(|(_, n)| !n.name.is_empty()).count();
        if !(started == 1 && members == 2) && started < members / 2 + 1 {
            return Err(MembershipError::NotEnoughStarted);
        }
        if !voters.iter().all(|(id, _)| self.active(*id)) {
            return Err(MembershipError::Unhealthy);
        }
        Ok(())
    }

    /// etcd's `mayRemoveMember` (with --strict-reconfig-check).
    fn may_remove_member(&self, id: u64) -> Result<(), MembershipError> {
        if !self.strict_reconfig_check {
            return Ok(());
        }
        let voters = self.voters();
        let rest: Vec<_> = voters.iter().filter(|(v, _)| *v != id).collect();
        let started = rest.iter().filter(|(_, n)| !n.name.is_empty()).count();
        if started < rest.len() / 2 + 1 {
            return Err(MembershipError::NotEnoughStarted);
        }
        // A member that is down is not part of the active quorum.
        if id != self.member_id() && !self.net.stats.connected(id) {
            return Ok(());
        }
        let active = voters.iter().filter(|(v, _)| self.active(*v)).count();
        if active.saturating_sub(1) < 1 + (voters.len() - 1) / 2 {
            return Err(MembershipError::Unhealthy);
        }
        Ok(())
    }

    pub(super) async fn leader_add_member(
        &self,
        peer_urls: Vec<String>,
    ) -> Result<Member, MembershipError> {
        // etcd's order: the strict check before proposing, then (when the
        // change applies) removed ID, existing ID, peer URL in use.
        self.may_add_member()?;
        let members = self.member_nodes();
        let secs = now_nanos() / 1_000_000_000;
        let id = ids::member_id(&peer_urls, &self.identity.cluster_token, Some(secs));
        if self.is_removed(id) {
            return Err(MembershipError::IdRemoved);
        }
        if members.iter().any(|(m, _)| *m == id) {
            return Err(MembershipError::IdExists);
        }
        if members
            .iter()
            .any(|(_, n)| n.peer_urls.iter().any(|u| peer_urls.contains(u)))
        {
            return Err(MembershipError::PeerUrlExists);
        }
        let node = MemberNode {
            name: String::new(),
            peer_urls,
            client_urls: Vec::new(),
        };
        info!(
            "adding member {} {:?} to cluster {}",
            hex(id),
            node.peer_urls,
            hex(self.identity.cluster_id)
        );
        // A voter at once: the new member counts toward quorum while it is
        // still unstarted, as in etcd.
        self.change_membership(ChangeMembers::AddVoters(BTreeMap::from([(
            id,
            node.clone(),
        )])))
        .await?;
        Ok(Self::member_of(id, &node))
    }

    fn not_found(&self, id: u64) -> MembershipError {
        if self.is_removed(id) {
            MembershipError::Removed(format!("{id:x}"))
        } else {
            MembershipError::NotFound(format!("{id:x}"))
        }
    }

    pub(super) async fn leader_remove_member(&self, id: u64) -> Result<(), MembershipError> {
        if !self.member_nodes().iter().any(|(m, _)| *m == id) {
            return Err(self.not_found(id));
        }
        self.may_remove_member(id)?;
        info!(
            "removing member {} from cluster {}",
            hex(id),
            hex(self.identity.cluster_id)
        );
        self.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])))
            .await
    }

    pub(super) async fn leader_update_member(
        &self,
        id: u64,
        peer_urls: Vec<String>,
    ) -> Result<(), MembershipError> {
        let members = self.member_nodes();
        let Some((_, node)) = members.iter().find(|(m, _)| *m == id) else {
            return Err(self.not_found(id));
        };
        if members
            .iter()
            .any(|(m, n)| *m != id && n.peer_urls.iter().any(|u| peer_urls.contains(u)))
        {
            return Err(MembershipError::PeerUrlExists);
        }
        let node = MemberNode {
            peer_urls,
            ..node.clone()
        };
        self.change_membership(ChangeMembers::SetNodes(BTreeMap::from([(id, node)])))
            .await
    }

    pub(super) async fn leader_publish(
        &self,
        id: u64,
        name: String,
        client_urls: Vec<String>,
    ) -> Result<(), MembershipError> {
        let members = self.member_nodes();
        let Some((_, node)) = members.iter().find(|(m, _)| *m == id) else {
            return Err(self.not_found(id));
        };
        if node.name == name && node.client_urls == client_urls {
            return Ok(());
        }
        let node = MemberNode {
            name,
            client_urls,
            peer_urls: node.peer_urls.clone(),
        };
        self.change_membership(ChangeMembers::SetNodes(BTreeMap::from([(id, node)])))
            .await
    }
}

/// Publishes this member's name and client URLs to the cluster once it
/// runs (etcd's `publish`), so `/v2/members` everywhere shows them.
pub(super) async fn publish_attributes(node: std::sync::Weak<Consensus>) {
    let mut metrics = match node.upgrade() {
        Some(n) => n.raft.metrics(),
        None => return,
    };
    loop {
        let Some(n) = node.upgrade() else { return };
        let me = n.member_id();
        let current = n.member_nodes().into_iter().find(|(id, _)| *id == me);
        match current {
            Some((_, m))
                if m.name == n.identity.name && m.client_urls == n.advertise_client_urls =>
            {
                n.published.store(true, Ordering::Release);
                info!(
                    "published {{Name:{} ClientURLs:{}}} to cluster {}",
                    n.identity.name,
                    url_list(&n.advertise_client_urls),
                    hex(n.identity.cluster_id)
                );
                return;
            }
            Some(_) if n.leader_id().is_some() => {
                let req = LeaderRequest::Publish {
                    id: me,
                    name: n.identity.name.clone(),
                    client_urls: n.advertise_client_urls.clone(),
                };
                match n.membership_request(req).await {
                    Ok(LeaderReply::Done(Ok(()))) => {}
                    Ok(other) => warn!("cannot publish member attributes: {other:?}"),
                    Err(e) => warn!("cannot publish member attributes: {e}"),
                }
            }
            _ => {}
        }
        drop(n);
        // Check again when raft's view changes, or after a while.
        let _ = tokio::time::timeout(Duration::from_millis(500), metrics.changed()).await;
    }
}

/// How often a member outside its own membership asks its peers.
const REMOVED_PROBE_EVERY: Duration = Duration::from_secs(2);

/// A member whose own log's membership leaves it out never campaigns and
/// is never contacted, so it would run on forever: the case of a member
/// killed right after it appended its own removal, before the commit of
/// that entry reached its disk. Like etcd's peers answering a removed
/// member's messages, it asks the members it knows (the peer Membership
/// call); one that has it in its removed set answers "permanently
/// removed", and the member stops as etcd's does. A new member that has
/// not received the membership yet is not removed anywhere: nothing
/// happens.
pub(super) async fn probe_removed(node: std::sync::Weak<Consensus>) {
    loop {
        tokio::time::sleep(REMOVED_PROBE_EVERY).await;
        let Some(n) = node.upgrade() else {
            return;
        };
        let me = n.identity.member_id;
        let peers: Vec<(u64, MemberNode)> = {
            let m = n.raft.metrics();
            let m = m.borrow();
            let membership = m.membership_config.membership();
            if membership.get_node(&me).is_some() {
                continue;
            }
            membership
                .nodes()
                .map(|(id, node)| (*id, node.clone()))
                .collect()
        };
        for (id, peer) in peers {
            let Ok(conn) = n.net.conn(&peer) else {
                continue;
            };
            if let Err(e) = conn.membership(REMOVED_PROBE_EVERY).await {
                // Marks this member removed when that is the answer.
                n.net.observe(id, &e);
            }
        }
    }
}
