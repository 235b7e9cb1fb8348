//! The raft transport between members: gRPC (the `Peer` service of
//! `proto/peer.proto`) on each member's peer URL.
//!
//! Every message travels in an envelope with the sender's cluster and member
//! IDs; the payload is the openraft message itself, bincode-encoded. A peer
//! that answers "removed" tells this member it was removed from the cluster
//! (etcd's HTTP 410 between peers); a peer of another cluster is refused
//! and reported, on both sides. Connections are HTTP/2 channels, one per
//! peer URL, shared by raft replication and forwarded client requests;
//! appends, votes and forwards ride one long-lived stream on it
//! ([`crate::call_stream`]), snapshots and the membership lookup are unary.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_rpc::peer::peer_client::PeerClient as GrpcClient;
use concord_rpc::peer::{Envelope, Method};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tracing::error;

use crate::call_stream::{CallStream, NOT_SENT};
use crate::ids::hex;
use crate::peer_stats::PeerStats;
use crate::state_machine::Shared;
use crate::types::{LeaderReply, LeaderRequest, MemberNode, MembershipInfo, TypeConfig};
use concord_rpc::endpoints::never_sent;

/// Largest gRPC message between members (a batch of entries, a snapshot chunk).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// What a peer answers to traffic from a removed member (etcd's 410).
pub const REMOVED_STATUS: &str = "the member has been permanently removed from the cluster";
/// What a peer answers to traffic from another cluster.
pub const CLUSTER_MISMATCH_STATUS: &str = "request cluster ID mismatch";

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The call may or may not have reached the peer (it timed out, or
    /// the connection broke after it was sent).
    #[error("peer {url} unreachable: {message}")]
    Unreachable { url: String, message: String },
    /// The call surely never reached the peer (no connection could be
    /// made, or it was never handed to one): sending it again is safe.
    #[error("peer {url} unreachable (request not sent): {message}")]
    Undelivered { url: String, message: String },
    #[error("peer {url}: {message}")]
    Failed { url: String, message: String },
    #[error("peer {url} refused this member: it was removed from the cluster")]
    Removed { url: String },
    #[error("peer {url} belongs to another cluster: {message}")]
    ClusterMismatch { url: String, message: String },
    #[error("cannot encode or decode a peer message: {0}")]
    Codec(#[from] bincode::Error),
    #[error("cannot encode or decode a forwarded request: {0}")]
    Json(#[from] serde_json::Error),
}

impl PeerError {
    fn from_status(url: &str, s: Status) -> PeerError {
        let url = url.to_string();
        let message = s.message().to_string();
        match s.code() {
            Code::PermissionDenied if message == REMOVED_STATUS => PeerError::Removed { url },
            Code::FailedPrecondition if message.starts_with(CLUSTER_MISMATCH_STATUS) => {
                PeerError::ClusterMismatch { url, message }
            }
            Code::Unavailable if never_sent(&s) => PeerError::Undelivered {
                url,
                message: format!("{message}: {}", innermost_cause(&s)),
            },
            Code::Unavailable if message.starts_with(NOT_SENT) => {
                PeerError::Undelivered { url, message }
            }
            Code::Unavailable | Code::Unknown => PeerError::Unreachable { url, message },
            _ => PeerError::Failed { url, message },
        }
    }
}

/// The innermost cause under a status (tonic and hyper wrap the same
/// connect error three times; the last one says why).
fn innermost_cause(s: &Status) -> String {
    let mut last = None;
    let mut next = std::error::Error::source(s);
    while let Some(e) = next {
        last = Some(e.to_string());
        next = e.source();
    }
    last.unwrap_or_default()
}

/// A connection to one peer URL, usable outside raft (forwarding, joining).
#[derive(Clone)]
pub struct PeerConn {
    url: String,
    client: GrpcClient<Channel>,
    /// Appends, votes and forwards travel on one long-lived stream.
    stream: Arc<CallStream>,
    cluster_id: u64,
    me: u64,
}

fn endpoint(url: &str) -> Result<Endpoint, PeerError> {
    Endpoint::from_shared(url.to_string())
        .map(concord_rpc::keepalive::client)
        .map_err(|e| PeerError::Failed {
            url: url.to_string(),
            message: e.to_string(),
        })
}

impl PeerConn {
    /// A lazily connected channel to `url` (connects on first use).
    pub fn new(url: &str, cluster_id: u64, me: u64) -> Result<PeerConn, PeerError> {
        let endpoint = endpoint(url)?;
        // https:// peer URLs are dialled with the member's peer TLS.
        let channel = if concord_process::net::is_https(url) {
            let tls = crate::tls_transport::peer_tls().ok_or_else(|| PeerError::Failed {
                url: url.to_string(),
                message: "an https:// peer URL needs peer TLS (--peer-cert-file and --peer-key-file, or --peer-auto-tls)".into(),
            })?;
            endpoint.connect_with_connector_lazy(crate::tls_transport::TlsConnector {
                config: tls.client.clone(),
            })
        } else {
            endpoint.connect_lazy()
        };
        let client = GrpcClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(PeerConn {
            url: url.to_string(),
            client,
            stream: Arc::default(),
            cluster_id,
            me,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One call; the payload is already encoded.
    async fn call_raw(
        &self,
        kind: Rpc,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, PeerError> {
        let env = Envelope {
            cluster_id: self.cluster_id,
            from: self.me,
            payload,
        };
        let mut c = self.client.clone();
        let stream = &self.stream;
        let fut = async move {
            match kind {
                Rpc::Append => stream.call(&c, Method::AppendEntries, env).await,
                Rpc::Vote => stream.call(&c, Method::Vote, env).await,
                Rpc::Forward => stream.call(&c, Method::Forward, env).await,
                Rpc::TimeoutNow => stream.call(&c, Method::TimeoutNow, env).await,
                // Snapshot chunks are big (they would hold up the stream);
                // a joining member may not know the cluster ID yet.
                Rpc::Snapshot => c.install_snapshot(env).await.map(|r| r.into_inner()),
                Rpc::Membership => c.membership(env).await.map(|r| r.into_inner()),
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Err(PeerError::Unreachable {
                url: self.url.clone(),
                message: format!("no answer within {timeout:?}"),
            }),
            Ok(Err(s)) => Err(PeerError::from_status(&self.url, s)),
            Ok(Ok(r)) => Ok(r.payload),
        }
    }

    /// One call of `kind`, encoded as its kind is (see [`Rpc::encode`]).
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        kind: Rpc,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, PeerError> {
        let reply = self.call_raw(kind, kind.encode(req)?, timeout).await?;
        kind.decode(&reply)
    }

    /// Sends a request that only the leader serves.
    pub async fn forward(
        &self,
        req: &LeaderRequest,
        timeout: Duration,
    ) -> Result<LeaderReply, PeerError> {
        self.call(Rpc::Forward, req, timeout).await
    }

    /// Tells the peer to campaign at once: this member, its leader, hands
    /// leadership over to it (raft's TimeoutNow).
    pub async fn timeout_now(&self, timeout: Duration) -> Result<(), PeerError> {
        self.call_raw(Rpc::TimeoutNow, Vec::new(), timeout)
            .await
            .map(|_| ())
    }

    /// Asks for the members and the cluster ID.
    pub async fn membership(&self, timeout: Duration) -> Result<MembershipInfo, PeerError> {
        self.call(Rpc::Membership, &(), timeout).await
    }
}

#[derive(Clone, Copy)]
enum Rpc {
    Append,
    Vote,
    Snapshot,
    Forward,
    Membership,
    TimeoutNow,
}

impl Rpc {
    /// Raft messages travel as bincode, compact and exact for openraft's
    /// types; requests for the leader and membership lookups as JSON,
    /// because the store's events use serde attributes (skipped empty
    /// fields) that only a self-describing format reads back.
    fn is_json(self) -> bool {
        matches!(self, Rpc::Forward | Rpc::Membership)
    }

    fn encode<T: Serialize>(self, v: &T) -> Result<Vec<u8>, PeerError> {
        Ok(if self.is_json() {
            serde_json::to_vec(v)?
        } else {
            bincode::serialize(v)?
        })
    }

    fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, PeerError> {
        Ok(if self.is_json() {
            serde_json::from_slice(bytes)?
        } else {
            bincode::deserialize(bytes)?
        })
    }
}

/// What every peer client shares: who we are, the counters, connections.
pub struct NetContext {
    pub shared: Arc<Shared>,
    pub stats: Arc<PeerStats>,
    conns: Mutex<HashMap<String, PeerConn>>,
    /// Peers already reported as belonging to another cluster.
    mismatch_reported: Mutex<std::collections::HashSet<String>>,
}

impl NetContext {
    pub fn new(shared: Arc<Shared>, stats: Arc<PeerStats>) -> Arc<NetContext> {
        Arc::new(NetContext {
            shared,
            stats,
            conns: Mutex::new(HashMap::new()),
            mismatch_reported: Mutex::new(Default::default()),
        })
    }

    /// The (shared) connection to a member's first peer URL.
    pub fn conn(&self, node: &MemberNode) -> Result<PeerConn, PeerError> {
        let url = node.peer_urls.first().ok_or_else(|| PeerError::Failed {
            url: String::new(),
            message: format!("member {:?} has no peer URL", node.name),
        })?;
        let mut conns = self.conns.lock();
        if let Some(c) = conns.get(url) {
            return Ok(c.clone());
        }
        let c = PeerConn::new(url, self.shared.cluster_id, self.shared.me)?;
        conns.insert(url.clone(), c.clone());
        Ok(c)
    }

    /// Acts on what a failed call says about this member.
    pub fn observe(&self, target: u64, e: &PeerError) {
        match e {
            PeerError::Removed { .. } => self.shared.mark_removed_self(),
            PeerError::ClusterMismatch { url, message }
                if self.mismatch_reported.lock().insert(url.clone()) =>
            {
                error!(
                    "request sent to member {} ({url}) was ignored: {message}",
                    hex(target)
                );
            }
            _ => {}
        }
    }
}

/// Creates one client per peer (openraft's network factory).
#[derive(Clone)]
pub struct PeerNetwork {
    pub ctx: Arc<NetContext>,
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = RaftPeer;

    async fn new_client(&mut self, target: u64, node: &MemberNode) -> RaftPeer {
        RaftPeer {
            target,
            conn: self.ctx.conn(node),
            ctx: self.ctx.clone(),
        }
    }
}

/// openraft's client for one peer.
pub struct RaftPeer {
    target: u64,
    conn: Result<PeerConn, PeerError>,
    ctx: Arc<NetContext>,
}

type RpcResult<T, E> = Result<T, RPCError<u64, MemberNode, E>>;

impl RaftPeer {
    async fn send<Req, Resp, E>(
        &mut self,
        kind: Rpc,
        req: &Req,
        ttl: Duration,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let conn = match &self.conn {
            Ok(c) => c.clone(),
            Err(e) => return Err(RPCError::Unreachable(Unreachable::new(e))),
        };
        let started = Instant::now();
        let res: Result<Result<Resp, E>, PeerError> = conn.call(kind, req, ttl).await;
        let outcome: Result<(), &dyn std::fmt::Display> = match &res {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(e),
        };
        match kind {
            Rpc::Append => self
                .ctx
                .stats
                .append_sent(self.target, started.elapsed(), outcome),
            _ => self.ctx.stats.called(self.target, outcome),
        }
        match res {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            Err(e) => {
                self.ctx.observe(self.target, &e);
                // The failure itself was logged with the peer's state above.
                match e {
                    PeerError::Unreachable { .. } | PeerError::Undelivered { .. } => {
                        Err(RPCError::Unreachable(Unreachable::new(&e)))
                    }
                    e => Err(RPCError::Network(NetworkError::new(&e))),
                }
            }
        }
    }
}

impl RaftNetwork<TypeConfig> for RaftPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>, RaftError<u64>> {
        self.send(Rpc::Append, &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>> {
        self.send(Rpc::Snapshot, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<u64>, RaftError<u64>> {
        self.send(Rpc::Vote, &rpc, option.hard_ttl()).await
    }
}
