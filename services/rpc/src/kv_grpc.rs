//! The KV contract over gRPC, both ends: [`KvService`] serves any
//! `concord_api::Kv` (a consensus member) on the wire, and [`GrpcKv`] is a
//! `concord_api::Kv` for a gateway that talks to consensus members.
//!
//! Read-your-writes across processes: [`GrpcKv`] remembers the highest raft
//! index and store index it answered a write with, sends the raft index as
//! the floor of every read (the member waits until it has applied it) and
//! hands the store index to watches ([`Kv::answered_store_index`]), instead
//! of relying on one member's memory.
//!
//! Writes go straight to the leader when one of the endpoints is the
//! leader's client URL (asked of a member at most once a second): a
//! follower would forward them, one more hop. Without a known leader, or
//! when the leader cannot be reached, they go to the member in use. Each
//! write carries a request ID, so one whose member died or was cut off
//! under it is sent again to the next member and still applies once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use concord_api::{ApiError, Kv, KvResponse, RaftPosition, ReadRequest, RequestIds, StoreSnapshot};
use concord_store::{Command, StoreStats};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::call_stream::{serve_calls, CallStream, Exchange};
use crate::cluster::cluster_client::ClusterClient;
use crate::codec;
use crate::endpoints::{never_sent, Endpoints, ROUND_PAUSE};
use crate::kv::{self as pk, kv_client::KvClient, kv_server};

/// How long a gateway waits for a member's answer; longer than a member's
/// own request timeout (5 s + 2 election timeouts), so that the member's
/// answer (etcd's "request timed out") is what the client sees.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a gateway holds a write through a dead member or an election
/// before it gives up: a member's own request timeout with etcd's default
/// election timeout (5 s + 2 x 1 s), as etcd holds a write.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(7);

/// Pause before a write is sent again after a member answered that it has
/// no leader (it already waited for one; this only keeps a gateway from
/// spinning on a member that answers at once).
const NO_LEADER_PAUSE: Duration = Duration::from_millis(50);

/// Serves a `Kv` (a consensus member) over gRPC.
pub struct KvService {
    kv: Arc<dyn Kv>,
}

impl KvService {
    pub fn new(kv: Arc<dyn Kv>) -> KvService {
        KvService { kv }
    }

    /// The tonic service, ready to be added to a server.
    pub fn server(kv: Arc<dyn Kv>) -> kv_server::KvServer<KvService> {
        kv_server::KvServer::new(KvService::new(kv))
    }
}

fn reply(r: Result<KvResponse, ApiError>) -> pk::KvReply {
    match r {
        Ok(r) => pk::KvReply {
            result: Some(pk::kv_reply::Result::Event(codec::event_to_proto(&r.event))),
            raft: Some(codec::raft_to_proto(r.raft)),
        },
        Err(e) => pk::KvReply {
            result: Some(pk::kv_reply::Result::Error(codec::api_error_to_proto(&e))),
            raft: None,
        },
    }
}

/// Nodes per [`pk::SnapshotChunk`] (well under gRPC's 4 MB message limit
/// for keys of a few hundred bytes).
const SNAPSHOT_CHUNK: usize = 2048;

type SnapshotStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pk::SnapshotChunk, Status>> + Send>>;

type WriteAnswers =
    tokio_stream::wrappers::UnboundedReceiverStream<Result<pk::WriteAnswer, Status>>;

/// kv.proto's `Writes`, the gateway's call stream to a member.
pub struct KvWrites;

impl Exchange for KvWrites {
    type Client = KvClient<Channel>;
    type Call = pk::WriteCall;
    type Answer = pk::WriteAnswer;

    async fn open(
        mut client: KvClient<Channel>,
        calls: tokio_stream::wrappers::UnboundedReceiverStream<pk::WriteCall>,
    ) -> Result<tonic::Streaming<pk::WriteAnswer>, Status> {
        Ok(client.writes(calls).await?.into_inner())
    }

    fn answer_id(answer: &pk::WriteAnswer) -> u64 {
        answer.id
    }
}

#[tonic::async_trait]
impl kv_server::Kv for KvService {
    type SnapshotStream = SnapshotStream;
    type WritesStream = WriteAnswers;

    async fn writes(
        &self,
        req: Request<tonic::Streaming<pk::WriteCall>>,
    ) -> Result<Response<WriteAnswers>, Status> {
        let kv = self.kv.clone();
        Ok(Response::new(serve_calls(
            req.into_inner(),
            move |call: pk::WriteCall| {
                let kv = kv.clone();
                async move {
                    let id = codec::request_id_from_proto(call.request_id);
                    let result = match call.command.map(codec::command_from_proto) {
                        Some(Ok(command)) if id != 0 => kv.write_once(command, id).await,
                        Some(Ok(command)) => kv.write(command).await,
                        Some(Err(e)) => Err(ApiError::Internal(e.to_string())),
                        None => Err(ApiError::Internal("malformed message: no command".into())),
                    };
                    pk::WriteAnswer {
                        id: call.id,
                        reply: Some(reply(result)),
                    }
                }
            },
        )))
    }

    async fn snapshot(&self, _: Request<pk::Empty>) -> Result<Response<SnapshotStream>, Status> {
        let snap = self
            .kv
            .snapshot()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let index = snap.store_index;
        let mut chunks: Vec<pk::SnapshotChunk> = snap
            .nodes
            .chunks(SNAPSHOT_CHUNK)
            .map(|c| pk::SnapshotChunk {
                store_index: index,
                nodes: c.iter().map(codec::node_to_proto).collect(),
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(pk::SnapshotChunk {
                store_index: index,
                nodes: Vec::new(),
            });
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(
            chunks.into_iter().map(Ok),
        ))))
    }

    async fn write(&self, req: Request<pk::WriteRequest>) -> Result<Response<pk::KvReply>, Status> {
        let req = req.into_inner();
        let id = codec::request_id_from_proto(req.request_id);
        let Some(command) = req.command else {
            return Err(Status::invalid_argument("no command"));
        };
        let command = codec::command_from_proto(command)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(Response::new(reply(if id != 0 {
            self.kv.write_once(command, id).await
        } else {
            self.kv.write(command).await
        })))
    }

    async fn read(&self, req: Request<pk::ReadRequest>) -> Result<Response<pk::KvReply>, Status> {
        let r = req.into_inner();
        if r.min_index > 0 {
            if let Err(e) = self.kv.wait_applied(r.min_index).await {
                return Ok(Response::new(reply(Err(e))));
            }
        }
        let read = ReadRequest {
            key: r.key,
            recursive: r.recursive,
            sorted: r.sorted,
            quorum: r.quorum,
        };
        Ok(Response::new(reply(self.kv.read(read).await)))
    }

    async fn store_stats(
        &self,
        _: Request<pk::Empty>,
    ) -> Result<Response<pk::StoreStatsReply>, Status> {
        Ok(Response::new(match self.kv.store_stats().await {
            Ok(s) => pk::StoreStatsReply {
                stats: Some(codec::store_stats_to_proto(&s)),
                error: None,
            },
            Err(e) => pk::StoreStatsReply {
                stats: None,
                error: Some(codec::api_error_to_proto(&e)),
            },
        }))
    }

    async fn position(&self, _: Request<pk::Empty>) -> Result<Response<pk::PositionReply>, Status> {
        Ok(Response::new(pk::PositionReply {
            store_index: self.kv.store_index(),
            raft: Some(codec::raft_to_proto(self.kv.raft_position())),
        }))
    }
}

/// How often a gateway asks which endpoint leads.
const LEADER_REFRESH: Duration = Duration::from_secs(1);

/// Which endpoint leads, as last asked.
#[derive(Default)]
struct LeaderHint {
    index: Option<usize>,
    asked: Option<Instant>,
}

/// A `Kv` whose writes and reads go to consensus members over gRPC.
pub struct GrpcKv {
    endpoints: Endpoints,
    /// One write stream per endpoint.
    writes: Arc<[CallStream<KvWrites>]>,
    leader: Arc<parking_lot::Mutex<LeaderHint>>,
    /// Highest raft index / store index this client answered a write with.
    answered_raft: AtomicU64,
    answered_store: AtomicU64,
    /// The last position a member reported (for headers of answers that do
    /// not come from the store).
    last_store: AtomicU64,
    last_raft: parking_lot::Mutex<RaftPosition>,
    /// Names every write, so that one whose first attempt's fate is
    /// unknown can be sent again (to another member) and still apply once.
    request_ids: RequestIds,
}

/// etcd's answer to a request whose outcome is unknown.
fn request_timed_out() -> ApiError {
    ApiError::Internal("etcdserver: request timed out".into())
}

/// A failed call: the member's own error, or the transport's as etcd's
/// errorCode 300.
fn transport(s: Status) -> ApiError {
    if s.code() == tonic::Code::DeadlineExceeded {
        ApiError::Internal("etcdserver: request timed out".into())
    } else {
        ApiError::Internal(format!("no consensus member answered: {}", s.message()))
    }
}

/// The endpoint whose URL is one of the leader's client URLs, as the
/// member in use reports the leader (None: no leader, or one that is not
/// among the endpoints, as behind a proxy).
async fn ask_leader(endpoints: &Endpoints) -> Option<usize> {
    let mut client = ClusterClient::new(endpoints.current().1);
    let call = client.leader(pk::Empty {});
    let reply = tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .ok()?
        .ok()?
        .into_inner();
    let leader = reply.leader?;
    leader
        .client_urls
        .iter()
        .find_map(|u| endpoints.position(u))
}

/// Where the member behind `channel` is: its store index and raft position.
pub async fn fetch_position(channel: Channel) -> Result<(u64, RaftPosition), ApiError> {
    let reply = tokio::time::timeout(CALL_TIMEOUT, KvClient::new(channel).position(pk::Empty {}))
        .await
        .map_err(|_| ApiError::Internal("etcdserver: request timed out".into()))?
        .map_err(transport)?
        .into_inner();
    Ok((reply.store_index, codec::raft_from_proto(reply.raft)))
}

/// The whole store of the member behind `channel` (its Snapshot stream).
pub async fn fetch_snapshot(channel: Channel) -> Result<StoreSnapshot, ApiError> {
    let mut stream =
        tokio::time::timeout(CALL_TIMEOUT, KvClient::new(channel).snapshot(pk::Empty {}))
            .await
            .map_err(|_| ApiError::Internal("etcdserver: request timed out".into()))?
            .map_err(transport)?
            .into_inner();
    let mut snap = StoreSnapshot::default();
    let mut first = true;
    while let Some(chunk) = stream.message().await.map_err(transport)? {
        if !first && chunk.store_index != snap.store_index {
            return Err(ApiError::Internal(
                "malformed message: the snapshot changed index".into(),
            ));
        }
        first = false;
        snap.store_index = chunk.store_index;
        snap.nodes
            .extend(chunk.nodes.into_iter().map(codec::node_from_proto));
    }
    if first {
        return Err(ApiError::Internal(
            "malformed message: an empty snapshot".into(),
        ));
    }
    Ok(snap)
}

impl GrpcKv {
    pub fn new(endpoints: Endpoints) -> GrpcKv {
        GrpcKv {
            writes: (0..endpoints.urls().len())
                .map(|_| CallStream::default())
                .collect(),
            endpoints,
            leader: Arc::default(),
            answered_raft: AtomicU64::new(0),
            answered_store: AtomicU64::new(0),
            last_store: AtomicU64::new(0),
            last_raft: parking_lot::Mutex::new(RaftPosition::default()),
            request_ids: RequestIds::new(),
        }
    }

    /// The leader's endpoint, if known; asks again (in the background)
    /// when the answer is older than [`LEADER_REFRESH`].
    fn leader_endpoint(&self) -> Option<usize> {
        let mut hint = self.leader.lock();
        if hint.asked.is_none_or(|t| t.elapsed() >= LEADER_REFRESH) {
            hint.asked = Some(Instant::now());
            let (endpoints, leader) = (self.endpoints.clone(), self.leader.clone());
            tokio::spawn(async move {
                let index = ask_leader(&endpoints).await;
                leader.lock().index = index;
            });
        }
        hint.index
    }

    /// Sends one write on endpoint `i`'s stream.
    async fn send_write(
        &self,
        i: usize,
        command: &pk::WriteRequest,
    ) -> Result<pk::KvReply, Status> {
        let client = KvClient::new(self.endpoints.channel_at(i));
        let (command, request_id) = (command.command.clone(), command.request_id);
        let answer = self.writes[i % self.writes.len()]
            .call(&client, |id| pk::WriteCall {
                id,
                command,
                request_id,
            })
            .await?;
        answer
            .reply
            .ok_or_else(|| Status::internal("malformed message: no reply"))
    }

    fn seen(&self, r: &KvResponse) {
        self.last_store
            .fetch_max(r.event.etcd_index, Ordering::AcqRel);
        let mut last = self.last_raft.lock();
        if r.raft.index >= last.index {
            *last = r.raft;
        }
    }

    fn answer(&self, reply: pk::KvReply) -> Result<KvResponse, ApiError> {
        let raft = codec::raft_from_proto(reply.raft);
        match reply.result {
            Some(pk::kv_reply::Result::Event(e)) => {
                let r = KvResponse {
                    event: codec::event_from_proto(e)?,
                    raft,
                };
                self.seen(&r);
                Ok(r)
            }
            Some(pk::kv_reply::Result::Error(e)) => Err(codec::api_error_from_proto(e)),
            None => Err(ApiError::Internal("malformed message: no result".into())),
        }
    }
}

#[async_trait]
impl Kv for GrpcKv {
    /// Sends the write to the leader's endpoint (or the member in use) and
    /// holds it, up to [`WRITE_TIMEOUT`], through whatever stops it from
    /// being applied: a member that cannot be reached or dies under it (the
    /// same request ID goes to the next member, so it applies at most
    /// once), a member that has no leader yet (sent again once one is
    /// elected). Only a write that may have been applied but whose answer
    /// never came answers etcd's "request timed out".
    async fn write(&self, cmd: Command) -> Result<KvResponse, ApiError> {
        let req = pk::WriteRequest {
            command: Some(codec::command_to_proto(&cmd)),
            request_id: codec::request_id_to_proto(self.request_ids.next()),
        };
        let deadline = Instant::now() + WRITE_TIMEOUT;
        // Whether an attempt may have reached a member (then the outcome
        // is unknown if none answers), and the last failure.
        let mut maybe_sent = false;
        let mut last: Option<ApiError> = None;
        let mut failures = 0usize;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(match last {
                    Some(e) if !maybe_sent => e,
                    _ => request_timed_out(),
                });
            }
            let leader = self.leader_endpoint();
            let i = leader.unwrap_or_else(|| self.endpoints.current().0);
            let status = match tokio::time::timeout(left, self.send_write(i, &req)).await {
                Err(_) => return Err(request_timed_out()),
                Ok(Ok(reply)) => match self.answer(reply) {
                    Ok(r) => {
                        self.answered_raft.fetch_max(r.raft.index, Ordering::AcqRel);
                        self.answered_store
                            .fetch_max(r.event.etcd_index, Ordering::AcqRel);
                        return Ok(r);
                    }
                    // Not proposed, or proposed by a leader that lost its
                    // place: the same ID again once a leader is known.
                    Err(e @ (ApiError::NoLeader(_) | ApiError::Stopping)) => {
                        maybe_sent = true;
                        last = Some(e);
                        let left = deadline.saturating_duration_since(Instant::now());
                        tokio::time::sleep(NO_LEADER_PAUSE.min(left)).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
                Ok(Err(status)) => status,
            };
            // No answer from this member: gone, cut off, or never reached.
            maybe_sent |= !never_sent(&status);
            last = Some(transport(status));
            if leader.is_some() {
                self.leader.lock().index = None;
            }
            self.endpoints.failed(i);
            failures += 1;
            if failures.is_multiple_of(self.endpoints.urls().len()) {
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(ROUND_PAUSE.min(left)).await;
            }
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        let req = pk::ReadRequest {
            key: req.key,
            recursive: req.recursive,
            sorted: req.sorted,
            quorum: req.quorum,
            min_index: self.answered_raft.load(Ordering::Acquire),
        };
        let reply = self
            .endpoints
            .call(true, CALL_TIMEOUT, |ch| {
                let req = req.clone();
                async move { KvClient::new(ch).read(req).await.map(Response::into_inner) }
            })
            .await
            .map_err(transport)?;
        self.answer(reply)
    }

    fn store_index(&self) -> u64 {
        self.last_store.load(Ordering::Acquire)
    }

    fn raft_position(&self) -> RaftPosition {
        *self.last_raft.lock()
    }

    fn answered_store_index(&self) -> u64 {
        self.answered_store.load(Ordering::Acquire)
    }

    async fn snapshot(&self) -> Result<StoreSnapshot, ApiError> {
        fetch_snapshot(self.endpoints.current().1).await
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        let reply = self
            .endpoints
            .call(true, CALL_TIMEOUT, |ch| async move {
                KvClient::new(ch)
                    .store_stats(pk::Empty {})
                    .await
                    .map(Response::into_inner)
            })
            .await
            .map_err(transport)?;
        match (reply.stats, reply.error) {
            (_, Some(e)) => Err(codec::api_error_from_proto(e)),
            (Some(s), None) => Ok(codec::store_stats_from_proto(s)),
            (None, None) => Err(ApiError::Internal("malformed message: no stats".into())),
        }
    }
}
