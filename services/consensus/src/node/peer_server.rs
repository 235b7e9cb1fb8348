//! The peer side of the transport: the `Peer` gRPC service on the peer URLs.
//!
//! Every message is admitted first: the sender must belong to this cluster
//! (else "request cluster ID mismatch", logged here and reported there) and
//! must not have been removed (else "removed", on which the sender stops
//! itself, as etcd's peers answer 410). Raft messages then go to openraft;
//! forwarded requests to the leader's code in [`super`].
//!
//! Raft appends, votes and forwarded requests usually arrive on the
//! long-lived `Calls` stream (see `network`); each call there is served
//! exactly as the unary method of the same name, on its own task, and
//! answered with the caller's id.

use std::sync::{Arc, Weak};

use concord_rpc::call_stream::serve_calls;
use concord_rpc::peer::peer_server::Peer;
use concord_rpc::peer::{Answer, Call, Envelope, Method};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::warn;

use super::Consensus;
use crate::ids::hex;
use crate::network::{CLUSTER_MISMATCH_STATUS, REMOVED_STATUS};
use crate::types::{LeaderRequest, MembershipInfo, TypeConfig};

/// Serves one member's peer URLs.
#[derive(Clone)]
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
fn reply<T: Serialize>(node: &Consensus, value: &T) -> Result<Envelope, Status> {
    let payload = bincode::serialize(value).map_err(|e| Status::internal(e.to_string()))?;
    envelope(node, payload)
}

fn reply_json<T: Serialize>(node: &Consensus, value: &T) -> Result<Envelope, Status> {
    let payload = serde_json::to_vec(value).map_err(|e| Status::internal(e.to_string()))?;
    envelope(node, payload)
}

fn envelope(node: &Consensus, payload: Vec<u8>) -> Result<Envelope, Status> {
    Ok(Envelope {
        cluster_id: node.cluster_id_raw(),
        from: node.member_id(),
        payload,
    })
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

impl PeerService {
    /// Serves one call, unary or streamed.
    async fn serve(&self, method: Method, env: Envelope) -> Result<Envelope, Status> {
        let node = self.admit(&env, false)?;
        match method {
            Method::AppendEntries => {
                let rpc: AppendEntriesRequest<TypeConfig> = decode(&env)?;
                node.stats().append_received();
                let res = node.raft().append_entries(rpc).await;
                reply(&node, &res)
            }
            Method::Vote => {
                let rpc: VoteRequest<u64> = decode(&env)?;
                let res = node.raft().vote(rpc).await;
                reply(&node, &res)
            }
            Method::Forward => {
                let request: LeaderRequest = decode_json(&env)?;
                let answer = node.serve_forwarded(request).await;
                reply_json(&node, &answer)
            }
            Method::TimeoutNow => {
                node.take_leadership(env.from).await?;
                envelope(&node, Vec::new())
            }
            Method::Unspecified => Err(Status::unimplemented("unknown peer method")),
        }
    }
}

/// How a served call is answered on the stream.
fn answer(id: u64, res: Result<Envelope, Status>) -> Answer {
    match res {
        Ok(env) => Answer {
            id,
            code: 0,
            message: String::new(),
            envelope: Some(env),
        },
        Err(s) => Answer {
            id,
            code: s.code() as i32,
            message: s.message().to_string(),
            envelope: None,
        },
    }
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn append_entries(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        self.serve(Method::AppendEntries, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn vote(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        self.serve(Method::Vote, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn install_snapshot(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let env = req.into_inner();
        let node = self.admit(&env, false)?;
        let rpc: InstallSnapshotRequest<TypeConfig> = decode(&env)?;
        let res = node.raft().install_snapshot(rpc).await;
        reply(&node, &res).map(Response::new)
    }

    async fn forward(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        self.serve(Method::Forward, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn timeout_now(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        self.serve(Method::TimeoutNow, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn membership(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let env = req.into_inner();
        let node = self.admit(&env, true)?;
        let info = MembershipInfo {
            cluster_id: node.cluster_id_raw(),
            members: node.member_nodes(),
        };
        reply_json(&node, &info).map(Response::new)
    }

    type CallsStream = UnboundedReceiverStream<Result<Answer, Status>>;

    async fn calls(
        &self,
        req: Request<Streaming<Call>>,
    ) -> Result<Response<Self::CallsStream>, Status> {
        let service = self.clone();
        Ok(Response::new(serve_calls(
            req.into_inner(),
            move |call: Call| {
                let service = service.clone();
                async move {
                    let method = Method::try_from(call.method).unwrap_or(Method::Unspecified);
                    let res = service
                        .serve(method, call.envelope.unwrap_or_default())
                        .await;
                    answer(call.id, res)
                }
            },
        )))
    }
}
