//! The cluster contracts over gRPC, both ends: [`ClusterService`] and
//! [`RaftStatsService`] serve a consensus member's `concord_api::Cluster`
//! and `concord_api::RaftStats`; [`GrpcCluster`] and [`GrpcRaftStats`]
//! implement them for a gateway. Member changes are sent to another
//! member only if they surely did not reach the first; lookups and stats
//! move on from a member that cannot be reached. `/v2/stats/self` and
//! `/v2/stats/leader` answer for the member the gateway is attached to, as
//! etcd's v2 proxy does.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_api::{
    ApiError, Cluster, LeaderStats, LeaderTransferError, Member, MembershipError, RaftStats,
    SelfStats,
};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::cluster::raft_stats_client::RaftStatsClient;
use crate::cluster::{
    self as pc, cluster_client::ClusterClient, cluster_server, raft_stats_server,
};
use crate::codec;
use crate::endpoints::{BadEndpoint, Endpoints};
use crate::kv::Empty;
use crate::kv_grpc::CALL_TIMEOUT;

/// Serves a `Cluster` (a consensus member) over gRPC.
pub struct ClusterService {
    cluster: Arc<dyn Cluster>,
}

impl ClusterService {
    pub fn server(cluster: Arc<dyn Cluster>) -> cluster_server::ClusterServer<ClusterService> {
        cluster_server::ClusterServer::new(ClusterService { cluster })
    }
}

fn change(r: Result<Option<Member>, MembershipError>) -> pc::MemberChangeReply {
    match r {
        Ok(m) => pc::MemberChangeReply {
            member: m.as_ref().map(codec::member_to_proto),
            error: None,
        },
        Err(e) => pc::MemberChangeReply {
            member: None,
            error: Some(codec::membership_error_to_proto(&e)),
        },
    }
}

#[tonic::async_trait]
impl cluster_server::Cluster for ClusterService {
    async fn members(&self, _: Request<Empty>) -> Result<Response<pc::MembersReply>, Status> {
        let cluster_id = self.cluster.cluster_id();
        Ok(Response::new(match self.cluster.members().await {
            Ok(ms) => pc::MembersReply {
                cluster_id,
                members: ms.iter().map(codec::member_to_proto).collect(),
                error: None,
            },
            Err(e) => pc::MembersReply {
                cluster_id,
                members: Vec::new(),
                error: Some(codec::api_error_to_proto(&e)),
            },
        }))
    }

    async fn leader(&self, _: Request<Empty>) -> Result<Response<pc::LeaderReply>, Status> {
        Ok(Response::new(match self.cluster.leader().await {
            Ok(l) => pc::LeaderReply {
                leader: l.as_ref().map(codec::member_to_proto),
                error: None,
            },
            Err(e) => pc::LeaderReply {
                leader: None,
                error: Some(codec::api_error_to_proto(&e)),
            },
        }))
    }

    async fn add_member(
        &self,
        req: Request<pc::AddMemberRequest>,
    ) -> Result<Response<pc::MemberChangeReply>, Status> {
        let urls = req.into_inner().peer_urls;
        Ok(Response::new(change(
            self.cluster.add_member(urls).await.map(Some),
        )))
    }

    async fn remove_member(
        &self,
        req: Request<pc::MemberId>,
    ) -> Result<Response<pc::MemberChangeReply>, Status> {
        let id = req.into_inner().id;
        Ok(Response::new(change(
            self.cluster.remove_member(id).await.map(|()| None),
        )))
    }

    async fn update_member(
        &self,
        req: Request<pc::UpdateMemberRequest>,
    ) -> Result<Response<pc::MemberChangeReply>, Status> {
        let r = req.into_inner();
        Ok(Response::new(change(
            self.cluster
                .update_member(r.id, r.peer_urls)
                .await
                .map(|()| None),
        )))
    }

    async fn health(&self, _: Request<Empty>) -> Result<Response<pc::HealthReply>, Status> {
        Ok(Response::new(pc::HealthReply {
            healthy: self.cluster.healthy().await,
        }))
    }

    async fn move_leader(
        &self,
        req: Request<pc::MemberId>,
    ) -> Result<Response<pc::MoveLeaderReply>, Status> {
        let target = req.into_inner().id;
        let error = self
            .cluster
            .move_leader(target)
            .await
            .err()
            .map(|e| codec::transfer_error_to_proto(&e));
        Ok(Response::new(pc::MoveLeaderReply { error }))
    }
}

/// Serves a member's `RaftStats` over gRPC.
pub struct RaftStatsService {
    stats: Arc<dyn RaftStats>,
}

impl RaftStatsService {
    pub fn server(
        stats: Arc<dyn RaftStats>,
    ) -> raft_stats_server::RaftStatsServer<RaftStatsService> {
        raft_stats_server::RaftStatsServer::new(RaftStatsService { stats })
    }
}

#[tonic::async_trait]
impl raft_stats_server::RaftStats for RaftStatsService {
    async fn self_stats(&self, _: Request<Empty>) -> Result<Response<pc::SelfStatsReply>, Status> {
        let s = self
            .stats
            .self_stats()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(codec::self_stats_to_proto(&s)))
    }

    async fn leader_stats(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<pc::LeaderStatsReply>, Status> {
        let s = self
            .stats
            .leader_stats()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(pc::LeaderStatsReply {
            stats: s.as_ref().map(codec::leader_stats_to_proto),
        }))
    }
}

/// A `Cluster` served by consensus members over gRPC.
pub struct GrpcCluster {
    endpoints: Endpoints,
    cluster_id: String,
}

fn unreachable(s: Status) -> ApiError {
    ApiError::Internal(format!("no consensus member answered: {}", s.message()))
}

/// A call without effect (a lookup, stats) on the member in use, sent to
/// the next one while a member cannot be reached, until `timeout`.
async fn lookup<T, F, Fut>(endpoints: &Endpoints, timeout: Duration, call: F) -> Result<T, Status>
where
    F: Fn(Channel) -> Fut,
    Fut: Future<Output = Result<Response<T>, Status>>,
{
    endpoints
        .call(true, timeout, |ch| {
            let answer = call(ch);
            async move { answer.await.map(Response::into_inner) }
        })
        .await
}

impl GrpcCluster {
    /// Connects to the members and learns the cluster ID (fixed for the
    /// cluster's life), trying each member until `timeout`.
    pub async fn connect(
        endpoints: Endpoints,
        timeout: Duration,
    ) -> Result<GrpcCluster, ConnectError> {
        let reply = lookup(&endpoints, timeout, |ch| async move {
            ClusterClient::new(ch).members(Empty {}).await
        })
        .await
        .map_err(|s| ConnectError(s.message().to_string()))?;
        Ok(GrpcCluster {
            endpoints,
            cluster_id: reply.cluster_id,
        })
    }

    async fn change(
        &self,
        call: impl Fn(ClusterClient<tonic::transport::Channel>) -> ChangeFuture + Send + Sync,
    ) -> Result<Option<Member>, MembershipError> {
        let reply = self
            .endpoints
            .call(false, CALL_TIMEOUT, |ch| call(ClusterClient::new(ch)))
            .await
            .map_err(|s| MembershipError::Internal(s.message().to_string()))?;
        match reply.error {
            Some(e) => Err(codec::membership_error_from_proto(e)),
            None => Ok(reply.member.map(codec::member_from_proto)),
        }
    }
}

type ChangeFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<pc::MemberChangeReply, Status>> + Send>,
>;

/// No consensus member could be reached at start-up.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach a consensus member: {0}")]
pub struct ConnectError(String);

impl From<BadEndpoint> for ConnectError {
    fn from(e: BadEndpoint) -> ConnectError {
        ConnectError(e.to_string())
    }
}

#[async_trait]
impl Cluster for GrpcCluster {
    fn cluster_id(&self) -> String {
        self.cluster_id.clone()
    }

    async fn members(&self) -> Result<Vec<Member>, ApiError> {
        let reply = lookup(&self.endpoints, CALL_TIMEOUT, |ch| async move {
            ClusterClient::new(ch).members(Empty {}).await
        })
        .await
        .map_err(unreachable)?;
        match reply.error {
            Some(e) => Err(codec::api_error_from_proto(e)),
            None => Ok(reply
                .members
                .into_iter()
                .map(codec::member_from_proto)
                .collect()),
        }
    }

    async fn leader(&self) -> Result<Option<Member>, ApiError> {
        let reply = lookup(&self.endpoints, CALL_TIMEOUT, |ch| async move {
            ClusterClient::new(ch).leader(Empty {}).await
        })
        .await
        .map_err(unreachable)?;
        match reply.error {
            Some(e) => Err(codec::api_error_from_proto(e)),
            None => Ok(reply.leader.map(codec::member_from_proto)),
        }
    }

    async fn add_member(&self, peer_urls: Vec<String>) -> Result<Member, MembershipError> {
        let req = pc::AddMemberRequest { peer_urls };
        let added = self
            .change(move |mut c| {
                let req = req.clone();
                Box::pin(async move { c.add_member(req).await.map(Response::into_inner) })
            })
            .await?;
        added.ok_or_else(|| MembershipError::Internal("malformed message: no member".into()))
    }

    async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        self.change(move |mut c| {
            Box::pin(async move {
                c.remove_member(pc::MemberId { id })
                    .await
                    .map(Response::into_inner)
            })
        })
        .await
        .map(|_| ())
    }

    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError> {
        let req = pc::UpdateMemberRequest { id, peer_urls };
        self.change(move |mut c| {
            let req = req.clone();
            Box::pin(async move { c.update_member(req).await.map(Response::into_inner) })
        })
        .await
        .map(|_| ())
    }

    async fn healthy(&self) -> bool {
        let reply = lookup(&self.endpoints, CALL_TIMEOUT, |ch| async move {
            ClusterClient::new(ch).health(Empty {}).await
        })
        .await;
        reply.is_ok_and(|r| r.healthy)
    }

    /// Sent to one member, which hands it to the leader. Not sent again
    /// after an unknown outcome: the transfer may be under way.
    async fn move_leader(&self, target: u64) -> Result<(), LeaderTransferError> {
        let reply = self
            .endpoints
            .call(false, CALL_TIMEOUT, |ch| async move {
                ClusterClient::new(ch)
                    .move_leader(pc::MemberId { id: target })
                    .await
                    .map(Response::into_inner)
            })
            .await
            .map_err(|s| LeaderTransferError::Internal(s.message().to_string()))?;
        match reply.error {
            Some(e) => Err(codec::transfer_error_from_proto(e)),
            None => Ok(()),
        }
    }
}

/// The `RaftStats` of the member a gateway is attached to (the one its
/// endpoints use now), as etcd's v2 proxy answers for its member.
pub struct GrpcRaftStats {
    endpoints: Endpoints,
}

impl GrpcRaftStats {
    pub fn new(endpoints: Endpoints) -> GrpcRaftStats {
        GrpcRaftStats { endpoints }
    }
}

#[async_trait]
impl RaftStats for GrpcRaftStats {
    async fn self_stats(&self) -> Result<SelfStats, ApiError> {
        let reply = lookup(&self.endpoints, CALL_TIMEOUT, |ch| async move {
            RaftStatsClient::new(ch).self_stats(Empty {}).await
        })
        .await
        .map_err(unreachable)?;
        Ok(codec::self_stats_from_proto(reply))
    }

    async fn leader_stats(&self) -> Result<Option<LeaderStats>, ApiError> {
        let reply = lookup(&self.endpoints, CALL_TIMEOUT, |ch| async move {
            RaftStatsClient::new(ch).leader_stats(Empty {}).await
        })
        .await
        .map_err(unreachable)?;
        Ok(reply.stats.map(codec::leader_stats_from_proto))
    }
}
