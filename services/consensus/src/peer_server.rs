//! The peer side of the transport: the `Peer` gRPC service on the peer URLs.
//!
//! Every message is admitted first: the sender must belong to this cluster
//! (else "request cluster ID mismatch", logged here and reported there) and
//! must not have been removed (else "removed", on which the sender stops
//! itself, as etcd's peers answer 410). Raft messages then go to openraft;
//! forwarded requests to the leader's code in [`crate::node`].

use std::sync::{Arc, Weak};

use concord_rpc::peer::peer_server::Peer;
use concord_rpc::peer::Envelope;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};
use tracing::warn;

use crate::ids::hex;
use crate::network::{CLUSTER_MISMATCH_STATUS, REMOVED_STATUS};
use crate::node::Consensus;
use crate::types::{LeaderRequest, MembershipInfo, TypeConfig};

/// Serves one member's peer URLs.
pub struct PeerService {
    pub node: Weak<Consensus>,
}

fn decode<T: DeserializeOwned>(env: &Envelope) -> Result<T, Status> {
    bincode::deserialize(&env.payload)
        .map_err(|e| Status::invalid_argument(format!("cannot decode the message: {e}")))
}

fn decode_json<T: DeserializeOwned>(env: &Envelope) -> Result<T, Status> {
    serde_json::from_slice(&env.payload)
        .map_err(|e| Status::invalid_argument(format!("cannot decode the request: {e}")))
}

/// Raft answers are bincode, requests for the leader JSON (see `network`).
fn reply<T: Serialize>(node: &Consensus, value: &T) -> Result<Response<Envelope>, Status> {
    let payload = bincode::serialize(value).map_err(|e| Status::internal(e.to_string()))?;
    envelope(node, payload)
}

fn reply_json<T: Serialize>(node: &Consensus, value: &T) -> Result<Response<Envelope>, Status> {
    let payload = serde_json::to_vec(value).map_err(|e| Status::internal(e.to_string()))?;
    envelope(node, payload)
}

fn envelope(node: &Consensus, payload: Vec<u8>) -> Result<Response<Envelope>, Status> {
    Ok(Response::new(Envelope {
        cluster_id: node.cluster_id_raw(),
        from: node.member_id(),
        payload,
    }))
}

impl PeerService {
    /// The running member, if the sender may talk to it.
    fn admit(&self, env: &Envelope, any_cluster: bool) -> Result<Arc<Consensus>, Status> {
        let node = self
            .node
            .upgrade()
            .ok_or_else(|| Status::unavailable("member is stopping"))?;
        let ours = node.cluster_id_raw();
        if !(any_cluster && env.cluster_id == 0) && env.cluster_id != ours {
            node.report_cluster_mismatch(env.from, env.cluster_id);
            return Err(Status::failed_precondition(format!(
                "{CLUSTER_MISMATCH_STATUS} (the receiving member is in cluster {}, the sender in {})",
                hex(ours),
                hex(env.cluster_id)
            )));
        }
        if node.is_removed(env.from) {
            warn!(
                "rejected a message from removed member {} (the member has been permanently removed from the cluster)",
                hex(env.from)
            );
            return Err(Status::permission_denied(REMOVED_STATUS));
        }
        Ok(node)
    }
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn append_entries(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let env = req.into_inner();
        let node = self.admit(&env, false)?;
        let rpc: AppendEntriesRequest<TypeConfig> = decode(&env)?;
        node.stats().append_received();
        let res = node.raft().append_entries(rpc).await;
        reply(&node, &res)
    }

    async fn vote(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let env = req.into_inner();
        let node = self.admit(&env, false)?;
        let rpc: VoteRequest<u64> = decode(&env)?;
        let res = node.raft().vote(rpc).await;
        reply(&node, &res)
    }

    async fn install_snapshot(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let env = req.into_inner();
        let node = self.admit(&env, false)?;
        let rpc: InstallSnapshotRequest<TypeConfig> = decode(&env)?;
        let res = node.raft().install_snapshot(rpc).await;
        reply(&node, &res)
    }

    async fn forward(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let env = req.into_inner();
        let node = self.admit(&env, false)?;
        let request: LeaderRequest = decode_json(&env)?;
        let answer = node.serve_forwarded(request).await;
        reply_json(&node, &answer)
    }

    async fn membership(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let env = req.into_inner();
        let node = self.admit(&env, true)?;
        let info = MembershipInfo {
            cluster_id: node.cluster_id_raw(),
            members: node.member_nodes(),
        };
        reply_json(&node, &info)
    }
}
