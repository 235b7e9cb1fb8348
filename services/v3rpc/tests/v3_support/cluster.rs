//! `LocalCluster`: the member registry of a one-member cluster in memory,
//! with etcd's refusals (a peer URL taken, an unknown member), for the
//! `Cluster` service's tests.

use std::sync::Mutex;

use async_trait::async_trait;
use concord_api::{ApiError, Cluster, LeaderTransferError, Member, MembershipError};

use super::keyspace::{CLUSTER_ID, MEMBER_ID};

pub struct LocalCluster {
    members: Mutex<Vec<Member>>,
    next_id: Mutex<u64>,
}

impl LocalCluster {
    /// One member, "default", at `client_url`.
    pub fn new(client_url: &str) -> Self {
        LocalCluster {
            members: Mutex::new(vec![Member {
                id: format!("{MEMBER_ID:x}"),
                name: "default".into(),
                peer_urls: vec!["http://localhost:2380".into()],
                client_urls: vec![client_url.to_string()],
            }]),
            next_id: Mutex::new(0x1000),
        }
    }
}

fn find(members: &[Member], id: u64) -> Option<usize> {
    members
        .iter()
        .position(|m| u64::from_str_radix(&m.id, 16).ok() == Some(id))
}

#[async_trait]
impl Cluster for LocalCluster {
    fn cluster_id(&self) -> String {
        format!("{CLUSTER_ID:x}")
    }

    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        Ok(self.members.lock().unwrap().clone())
    }

    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        Ok(self.members.lock().unwrap().first().cloned())
    }

    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        let mut members = self.members.lock().unwrap();
        if members
            .iter()
            .any(|m| m.peer_urls.iter().any(|u| peer_urls.contains(u)))
        {
            return Err(MembershipError::PeerUrlExists);
        }
        let mut next = self.next_id.lock().unwrap();
        *next += 1;
        let m = Member {
            id: format!("{:x}", *next),
            name: String::new(),
            peer_urls,
            client_urls: Vec::new(),
        };
        members.push(m.clone());
        Ok(m)
    }

    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        let mut members = self.members.lock().unwrap();
        let i = find(&members, id).ok_or(MembershipError::NotFound(format!("{id:x}")))?;
        members.remove(i);
        Ok(())
    }

    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError> {
        let mut members = self.members.lock().unwrap();
        let i = find(&members, id).ok_or(MembershipError::NotFound(format!("{id:x}")))?;
        members[i].peer_urls = peer_urls;
        Ok(())
    }

    async fn healthy(&self) -> bool {
        true
    }

    /// The first member leads, and leadership stays there: moving it to
    /// itself succeeds, to a stranger is refused.
    async fn move_leader(&self, target: u64) -> Result<(), LeaderTransferError> {
        let members = self.members.lock().unwrap();
        match find(&members, target) {
            Some(0) => Ok(()),
            Some(_) => Err(LeaderTransferError::NotCapable),
            None => Err(LeaderTransferError::BadTransferee),
        }
    }
}
