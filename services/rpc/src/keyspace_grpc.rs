//! The v3 keyspace contract over gRPC: [`GrpcKeyspace`] is a
//! `concord_api::v3::KeyspaceV3` for a gateway, calling etcd's own v3
//! services (`rpc.proto`: `KV`, `Lease`, `Watch`, `Maintenance`) that
//! concord-consensus serves on its contract listener, so the gateway's v3
//! services answer from the cluster exactly as a member's do.
//!
//! The members are [`Endpoints`], used one at a time as for the v2 `Kv`
//! ([`crate::kv_grpc::GrpcKv`]). Every write carries a request ID in the
//! `concord-request-id` metadata ([`REQUEST_ID_METADATA`]), which the
//! member's v3 services hand to `KeyspaceV3::write_once`: a write whose
//! member died or was cut off under it is sent again, with the same ID,
//! to the next member, and still applies at most once.
//!
//! Answers are decoded back into the keyspace's types
//! ([`crate::etcd_codec`]); a member's error is the keyspace's
//! ([`mvcc::Error`], recognised by etcd's text, as clients recognise it)
//! or the contract's ([`ApiError`]: no leader, timed out, unreachable).
//! Watches are the member's `Watch` streams, resumed on the next member
//! after the last revision delivered when a member goes away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use concord_api::v3::{
    mvcc, Access, KeyspaceV3, V3Answer, V3HashKv, V3Header, V3Status, V3WatchControl, V3WatchItem,
    V3WatchSpec, V3Watcher,
};
use concord_api::{ApiError, RequestId, RequestIds};
use tokio::sync::mpsc;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::caller_grpc::forward_caller;
use crate::endpoints::{never_sent, Endpoints, ROUND_PAUSE};
use crate::etcd::etcdserverpb as pb;
use crate::etcd::etcdserverpb::{
    kv_client::KvClient, lease_client::LeaseClient, maintenance_client::MaintenanceClient,
    watch_client::WatchClient,
};
use crate::etcd_codec as codec;
use crate::kv_grpc::{CALL_TIMEOUT, WRITE_TIMEOUT};

/// The gRPC metadata key naming a v3 write (32 hex digits, the
/// [`RequestId`]); a write without it is named by the member.
pub const REQUEST_ID_METADATA: &str = "concord-request-id";

/// Pause before a write is sent again after a member answered that it has
/// no leader (it already waited for one).
const NO_LEADER_PAUSE: Duration = Duration::from_millis(50);

/// Pause before a watch is opened again on the next member.
const WATCH_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How many items a watcher may have waiting.
const WATCH_BUFFER: usize = 64;

/// `request` with `id` in its metadata.
pub fn with_request_id<T>(message: T, id: RequestId) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(v) = MetadataValue::try_from(format!("{id:032x}")) {
        request.metadata_mut().insert(REQUEST_ID_METADATA, v);
    }
    request
}

/// The request ID a call carries (0: none, or not one).
pub fn request_id_of(metadata: &MetadataMap) -> RequestId {
    metadata
        .get(REQUEST_ID_METADATA)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| RequestId::from_str_radix(s, 16).ok())
        .unwrap_or(0)
}

/// What a failed call means.
enum Failure {
    /// The keyspace refused the request.
    Keyspace(mvcc::Error),
    /// The member answered: no leader, or stopping; the same write may be
    /// sent again once a leader is known.
    NoLeader(ApiError),
    /// The member answered that the outcome is unknown.
    TimedOut,
    /// Any other answer of the member.
    Answer(ApiError),
    /// No answer: the member is gone, cut off, or was never reached.
    Transport(Status),
}

fn failure(s: Status) -> Failure {
    let text = s.message();
    if let Some(e) = codec::keyspace_error_from_text(text) {
        return Failure::Keyspace(e);
    }
    match text {
        "etcdserver: no leader" => Failure::NoLeader(ApiError::NoLeader(text.into())),
        "etcdserver: server stopped" => Failure::NoLeader(ApiError::Stopping),
        "etcdserver: request timed out" => Failure::TimedOut,
        _ if text.starts_with("etcdserver: ") => Failure::Answer(ApiError::Internal(text.into())),
        _ if matches!(
            s.code(),
            Code::Unavailable | Code::Cancelled | Code::Unknown | Code::DeadlineExceeded
        ) =>
        {
            Failure::Transport(s)
        }
        _ => Failure::Answer(ApiError::Internal(text.into())),
    }
}

/// etcd's answer to a request whose outcome is unknown.
fn request_timed_out() -> ApiError {
    ApiError::Internal("etcdserver: request timed out".into())
}

fn unreachable(s: &Status) -> ApiError {
    if s.code() == Code::DeadlineExceeded {
        request_timed_out()
    } else {
        ApiError::Internal(format!("no consensus member answered: {}", s.message()))
    }
}

fn v3_header(h: Option<&pb::ResponseHeader>) -> V3Header {
    h.map_or_else(V3Header::default, |h| V3Header {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: h.revision,
        raft_term: h.raft_term,
    })
}

/// A `KeyspaceV3` whose calls go to consensus members over etcd's v3 gRPC
/// services.
pub struct GrpcKeyspace {
    endpoints: Endpoints,
    request_ids: RequestIds,
    /// The newest header a member answered with.
    last_header: Arc<parking_lot::Mutex<V3Header>>,
}

impl GrpcKeyspace {
    pub fn new(endpoints: Endpoints) -> GrpcKeyspace {
        GrpcKeyspace {
            endpoints,
            request_ids: RequestIds::new(),
            last_header: Arc::default(),
        }
    }

    fn seen(&self, h: V3Header) {
        remember(&self.last_header, h);
    }

    /// A call without effect (or none but the first one's when sent again):
    /// sent to the member in use, and to the next ones
    /// while none can be reached, up to [`CALL_TIMEOUT`].
    async fn read<P, T, F, Fut>(
        &self,
        call: F,
        decode: impl FnOnce(P) -> (Option<pb::ResponseHeader>, T),
    ) -> Result<V3Answer<T>, ApiError>
    where
        F: FnMut(Channel) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<P>, Status>>,
    {
        match self.endpoints.call(true, CALL_TIMEOUT, call).await {
            Ok(reply) => {
                let (header, value) = decode(reply.into_inner());
                let header = v3_header(header.as_ref());
                self.seen(header);
                Ok(V3Answer {
                    header,
                    result: Ok(value),
                })
            }
            Err(s) => self.refused(s),
        }
    }

    /// A failed call as the contract answers it.
    fn refused<T>(&self, s: Status) -> Result<V3Answer<T>, ApiError> {
        match failure(s) {
            Failure::Keyspace(e) => Ok(V3Answer {
                header: self.header(),
                result: Err(e),
            }),
            Failure::NoLeader(e) | Failure::Answer(e) => Err(e),
            Failure::TimedOut => Err(request_timed_out()),
            Failure::Transport(s) => Err(unreachable(&s)),
        }
    }
}

fn remember(last: &parking_lot::Mutex<V3Header>, h: V3Header) {
    let mut last = last.lock();
    if h.revision >= last.revision || h.raft_term > last.raft_term {
        *last = h;
    }
}

/// Sends one write to the member behind `ch`.
async fn send_write(
    ch: Channel,
    cmd: &mvcc::Command,
    id: RequestId,
) -> Result<V3Answer<mvcc::Outcome>, Status> {
    fn applied<T>(response: T) -> mvcc::Applied<T> {
        mvcc::Applied {
            response,
            events: Vec::new(),
        }
    }
    let (header, outcome) = match cmd.clone() {
        mvcc::Command::Put(r) => {
            let r = KvClient::with_interceptor(ch, forward_caller)
                .put(with_request_id(codec::put_request_to_pb(r), id))
                .await?
                .into_inner();
            (
                r.header,
                mvcc::Outcome::Put(applied(codec::put_response_from_pb(r))),
            )
        }
        mvcc::Command::DeleteRange(r) => {
            let r = KvClient::with_interceptor(ch, forward_caller)
                .delete_range(with_request_id(codec::delete_range_request_to_pb(r), id))
                .await?
                .into_inner();
            (
                r.header,
                mvcc::Outcome::DeleteRange(applied(codec::delete_range_response_from_pb(r))),
            )
        }
        mvcc::Command::Txn(r) => {
            let r = KvClient::with_interceptor(ch, forward_caller)
                .txn(with_request_id(codec::txn_request_to_pb(r), id))
                .await?
                .into_inner();
            (
                r.header,
                mvcc::Outcome::Txn(applied(codec::txn_response_from_pb(r))),
            )
        }
        mvcc::Command::Compaction(r) => {
            let req = pb::CompactionRequest {
                revision: r.revision,
                physical: r.physical,
            };
            let r = KvClient::with_interceptor(ch, forward_caller)
                .compact(with_request_id(req, id))
                .await?
                .into_inner();
            (
                r.header,
                mvcc::Outcome::Compaction(codec::compaction_response_from_pb(r)),
            )
        }
        mvcc::Command::LeaseGrant { request, .. } => {
            let req = pb::LeaseGrantRequest {
                ttl: request.ttl,
                id: request.id,
            };
            let r = LeaseClient::with_interceptor(ch, forward_caller)
                .lease_grant(with_request_id(req, id))
                .await?
                .into_inner();
            (
                r.header,
                mvcc::Outcome::LeaseGrant(codec::lease_grant_response_from_pb(r)),
            )
        }
        mvcc::Command::LeaseRevoke { id: lease } => {
            let r = LeaseClient::with_interceptor(ch, forward_caller)
                .lease_revoke(with_request_id(pb::LeaseRevokeRequest { id: lease }, id))
                .await?
                .into_inner();
            (
                r.header,
                mvcc::Outcome::LeaseRevoke(applied(codec::lease_revoke_response_from_pb(r))),
            )
        }
        mvcc::Command::LeaseKeepAlive { id: lease, .. } => {
            // One renewal on a stream of its own; the member answers an
            // unknown lease with TTL 0, as etcd does.
            let one = tokio_stream::iter([pb::LeaseKeepAliveRequest { id: lease }]);
            let mut answers = LeaseClient::with_interceptor(ch, forward_caller)
                .lease_keep_alive(with_request_id(one, id))
                .await?
                .into_inner();
            let r = answers
                .message()
                .await?
                .ok_or_else(|| Status::unavailable("keep-alive stream closed"))?;
            if r.ttl <= 0 {
                return Ok(V3Answer {
                    header: v3_header(r.header.as_ref()),
                    result: Err(mvcc::Error::LeaseNotFound),
                });
            }
            (
                r.header,
                mvcc::Outcome::LeaseKeepAlive(codec::lease_keep_alive_response_from_pb(r)),
            )
        }
        mvcc::Command::Alarm(r) => {
            let req = pb::AlarmRequest {
                action: r.action as i32,
                member_id: r.member_id,
                alarm: r.alarm as i32,
            };
            let r = MaintenanceClient::with_interceptor(ch, forward_caller)
                .alarm(with_request_id(req, id))
                .await?
                .into_inner();
            let alarms = r
                .alarms
                .iter()
                .map(|a| mvcc::Alarm {
                    member_id: a.member_id,
                    alarm: mvcc::AlarmType::from_code(a.alarm),
                })
                .collect();
            let revision = r.header.as_ref().map_or(0, |h| h.revision);
            (
                r.header,
                mvcc::Outcome::Alarm(mvcc::AlarmResponse {
                    header: mvcc::ResponseHeader { revision },
                    alarms,
                }),
            )
        }
        mvcc::Command::Auth(r) => {
            let (header, r) = crate::auth_grpc::send_auth(ch, r, id).await?;
            (header, mvcc::Outcome::Auth(r))
        }
        // A leader's own writes (lease promotion), not a client's.
        other => {
            return Err(Status::invalid_argument(format!(
                "not a client's v3 write: {other:?}"
            )))
        }
    };
    Ok(V3Answer {
        header: v3_header(header.as_ref()),
        result: Ok(outcome),
    })
}

#[async_trait]
impl KeyspaceV3 for GrpcKeyspace {
    async fn authenticate(
        &self,
        name: String,
        password: String,
    ) -> Result<V3Answer<String>, ApiError> {
        self.read(
            |ch| {
                let (name, password) = (name.clone(), password.clone());
                async move {
                    crate::auth_grpc::authenticate(ch, name, password)
                        .await
                        .map(tonic::Response::new)
                }
            },
            |r| r,
        )
        .await
    }

    /// Asked of the member: a count-only serializable range of the watched
    /// keys (refused as the watch would be), or the root-only `UserList`.
    async fn authorize(&self, access: Access) -> Result<Result<(), mvcc::Error>, ApiError> {
        let answer = match access {
            Access::Read { key, range_end } => {
                let req = pb::RangeRequest {
                    key,
                    range_end,
                    limit: 1,
                    serializable: true,
                    count_only: true,
                    ..Default::default()
                };
                self.read(
                    |ch| {
                        let req = req.clone();
                        async move {
                            KvClient::with_interceptor(ch, forward_caller)
                                .range(req)
                                .await
                        }
                    },
                    |r: pb::RangeResponse| (r.header, ()),
                )
                .await?
            }
            Access::Admin => {
                self.read(
                    |ch| async move {
                        crate::auth_grpc::check_admin(ch)
                            .await
                            .map(tonic::Response::new)
                    },
                    |h| (h, ()),
                )
                .await?
            }
        };
        Ok(answer.result)
    }

    async fn write(&self, cmd: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        self.write_once(cmd, self.request_ids.next()).await
    }

    /// Sends the write to the member in use and holds it, up to
    /// [`WRITE_TIMEOUT`], through a member that cannot be reached or dies
    /// under it and through an election (the same request ID each time,
    /// so it applies at most once). Only a write that may have been
    /// applied but whose answer never came answers "request timed out".
    async fn write_once(
        &self,
        cmd: mvcc::Command,
        id: RequestId,
    ) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        let id = if id == 0 { self.request_ids.next() } else { id };
        let deadline = Instant::now() + WRITE_TIMEOUT;
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
            let (i, ch) = self.endpoints.current();
            let status = match tokio::time::timeout(left, send_write(ch, &cmd, id)).await {
                Err(_) => return Err(request_timed_out()),
                Ok(Ok(answer)) => {
                    self.seen(answer.header);
                    return Ok(answer);
                }
                Ok(Err(status)) => status,
            };
            match failure(status) {
                Failure::Keyspace(e) => {
                    return Ok(V3Answer {
                        header: self.header(),
                        result: Err(e),
                    })
                }
                Failure::Answer(e) => return Err(e),
                // Not proposed, or proposed by a leader that lost its
                // place: the same ID again once a leader is known.
                Failure::NoLeader(e) => {
                    maybe_sent = true;
                    last = Some(e);
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(NO_LEADER_PAUSE.min(left)).await;
                }
                Failure::TimedOut => {
                    maybe_sent = true;
                    last = Some(request_timed_out());
                }
                Failure::Transport(status) => {
                    maybe_sent |= !never_sent(&status);
                    last = Some(unreachable(&status));
                    self.endpoints.failed(i);
                    failures += 1;
                    if failures.is_multiple_of(self.endpoints.urls().len()) {
                        let left = deadline.saturating_duration_since(Instant::now());
                        tokio::time::sleep(ROUND_PAUSE.min(left)).await;
                    }
                }
            }
        }
    }

    async fn range(
        &self,
        req: mvcc::RangeRequest,
    ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
        let req = codec::range_request_to_pb(req);
        self.read(
            |ch| {
                let req = req.clone();
                async move {
                    KvClient::with_interceptor(ch, forward_caller)
                        .range(req)
                        .await
                }
            },
            |r: pb::RangeResponse| (r.header, codec::range_response_from_pb(r)),
        )
        .await
    }

    async fn lease_time_to_live(
        &self,
        req: mvcc::LeaseTimeToLiveRequest,
    ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
        let req = pb::LeaseTimeToLiveRequest {
            id: req.id,
            keys: req.keys,
        };
        self.read(
            |ch| async move {
                LeaseClient::with_interceptor(ch, forward_caller)
                    .lease_time_to_live(req)
                    .await
            },
            |r: pb::LeaseTimeToLiveResponse| {
                (r.header, codec::lease_time_to_live_response_from_pb(r))
            },
        )
        .await
    }

    async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
        self.read(
            |ch| async move {
                LeaseClient::with_interceptor(ch, forward_caller)
                    .lease_leases(pb::LeaseLeasesRequest {})
                    .await
            },
            |r: pb::LeaseLeasesResponse| (r.header, codec::lease_leases_response_from_pb(r)),
        )
        .await
    }

    /// The member's `Maintenance.Alarm` (a replicated write there when it
    /// raises or disarms; listing changes nothing, so it is sent again
    /// freely, and so are the others: raising or disarming twice is as
    /// once).
    async fn alarm(
        &self,
        request: mvcc::AlarmRequest,
    ) -> Result<V3Answer<mvcc::AlarmResponse>, ApiError> {
        let req = codec::alarm_request_to_pb(request);
        self.read(
            |ch| async move {
                MaintenanceClient::with_interceptor(ch, forward_caller)
                    .alarm(req)
                    .await
            },
            |r: pb::AlarmResponse| (r.header, codec::alarm_response_from_pb(r)),
        )
        .await
    }

    async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
        let (items, rx) = mpsc::channel(WATCH_BUFFER);
        let (progress, asked) = mpsc::unbounded_channel();
        tokio::spawn(follow(
            self.endpoints.clone(),
            spec,
            items,
            asked,
            self.last_header.clone(),
        ));
        Ok(V3Watcher {
            items: rx,
            control: Box::new(WatchControl(progress)),
        })
    }

    async fn status(&self) -> Result<V3Status, ApiError> {
        let reply = self
            .endpoints
            .call(true, CALL_TIMEOUT, |ch| async move {
                MaintenanceClient::with_interceptor(ch, forward_caller)
                    .status(pb::StatusRequest {})
                    .await
            })
            .await;
        match reply {
            Ok(r) => {
                let r = r.into_inner();
                let header = v3_header(r.header.as_ref());
                self.seen(header);
                Ok(V3Status {
                    header,
                    version: r.version,
                    db_size: r.db_size,
                    db_size_in_use: r.db_size_in_use,
                    leader: r.leader,
                    raft_index: r.raft_index,
                    raft_term: r.raft_term,
                    raft_applied_index: r.raft_applied_index,
                    // The member adds "no leader" itself when there is
                    // none; the gateway's service adds it again.
                    errors: r
                        .errors
                        .into_iter()
                        .filter(|e| e != "etcdserver: no leader")
                        .collect(),
                    is_learner: r.is_learner,
                })
            }
            Err(s) => self.refused(s).map(|_: V3Answer<()>| V3Status::default()),
        }
    }

    async fn hash_kv(&self, revision: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
        self.read(
            |ch| async move {
                MaintenanceClient::with_interceptor(ch, forward_caller)
                    .hash_kv(pb::HashKvRequest { revision })
                    .await
            },
            |r: pb::HashKvResponse| {
                (
                    r.header,
                    V3HashKv {
                        hash: r.hash,
                        compact_revision: r.compact_revision,
                    },
                )
            },
        )
        .await
    }

    /// The member's snapshot stream reassembled: its blob (padded to whole
    /// sectors, which the blob's format ignores), without the checksum
    /// that ends the stream (the gateway's service sends its own).
    async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
        let (_, ch) = self.endpoints.current();
        let fetch = async move {
            let mut stream = MaintenanceClient::with_interceptor(ch, forward_caller)
                .snapshot(pb::SnapshotRequest {})
                .await?
                .into_inner();
            let mut parts: Vec<Vec<u8>> = Vec::new();
            while let Some(m) = stream.message().await? {
                parts.push(m.blob);
            }
            Ok::<_, Status>(parts)
        };
        let mut parts = match tokio::time::timeout(CALL_TIMEOUT, fetch).await {
            Err(_) => return Err(request_timed_out()),
            Ok(Err(s)) => return self.refused(s).map(|_: V3Answer<()>| Vec::new()),
            Ok(Ok(parts)) => parts,
        };
        if parts.pop().is_none() {
            return Err(ApiError::Internal(
                "malformed message: an empty snapshot stream".into(),
            ));
        }
        Ok(parts.concat())
    }

    fn header(&self) -> V3Header {
        *self.last_header.lock()
    }
}

/// Asks the member's stream for a progress notification.
struct WatchControl(mpsc::UnboundedSender<()>);

impl V3WatchControl for WatchControl {
    fn request_progress(&self) {
        let _ = self.0.send(());
    }
}

/// Why one member's watch stream ended.
enum StreamEnd {
    /// The watcher was dropped, or the member ended the watch for good.
    Done,
    /// The member went away: open it again on the next one.
    Lost(usize),
}

/// Follows a watch on the members, one after the other, from the revision
/// after the last one delivered, until the watcher is dropped.
async fn follow(
    endpoints: Endpoints,
    spec: V3WatchSpec,
    items: mpsc::Sender<V3WatchItem>,
    mut asked: mpsc::UnboundedReceiver<()>,
    last_header: Arc<parking_lot::Mutex<V3Header>>,
) {
    // The next revision the watcher needs (0: from whatever is next).
    let mut next = spec.start_revision.max(0);
    loop {
        let (i, ch) = endpoints.current();
        match watch_on(ch, i, &spec, &mut next, &items, &mut asked, &last_header).await {
            StreamEnd::Done => return,
            StreamEnd::Lost(i) => {
                endpoints.failed(i);
                tokio::select! {
                    _ = items.closed() => return,
                    _ = tokio::time::sleep(WATCH_RETRY_PAUSE) => {}
                }
            }
        }
    }
}

/// One member's watch stream for `spec` from `next`.
async fn watch_on(
    ch: Channel,
    i: usize,
    spec: &V3WatchSpec,
    next: &mut i64,
    items: &mpsc::Sender<V3WatchItem>,
    asked: &mut mpsc::UnboundedReceiver<()>,
    last_header: &parking_lot::Mutex<V3Header>,
) -> StreamEnd {
    use pb::watch_request::RequestUnion;
    let (requests, outgoing) = mpsc::unbounded_channel();
    let create = pb::WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(pb::WatchCreateRequest {
            key: spec.key.clone(),
            range_end: spec.range_end.clone(),
            start_revision: *next,
            // The contract's events carry prev_kv; the gateway's service
            // drops it unless its watcher asked.
            prev_kv: true,
            ..Default::default()
        })),
    };
    if requests.send(create).is_err() {
        return StreamEnd::Done;
    }
    let opened = WatchClient::with_interceptor(ch, forward_caller)
        .watch(tokio_stream::wrappers::UnboundedReceiverStream::new(
            outgoing,
        ))
        .await;
    let mut answers = match opened {
        Ok(a) => a.into_inner(),
        Err(_) => return StreamEnd::Lost(i),
    };
    loop {
        let answer = tokio::select! {
            _ = items.closed() => return StreamEnd::Done,
            Some(()) = asked.recv() => {
                let progress = pb::WatchRequest {
                    request_union: Some(RequestUnion::ProgressRequest(
                        pb::WatchProgressRequest {},
                    )),
                };
                let _ = requests.send(progress);
                continue;
            }
            answer = answers.message() => answer,
        };
        let r = match answer {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return StreamEnd::Lost(i),
        };
        let header = v3_header(r.header.as_ref());
        remember(last_header, header);
        if r.canceled {
            if r.compact_revision > 0 {
                let _ = items
                    .send(V3WatchItem::Compacted {
                        compact_revision: r.compact_revision,
                    })
                    .await;
            }
            return StreamEnd::Done;
        }
        if r.created {
            if *next == 0 {
                // "From now": now is the revision the member created it at.
                *next = header.revision + 1;
            }
            continue;
        }
        let item = if r.events.is_empty() {
            V3WatchItem::Progress {
                revision: header.revision,
            }
        } else {
            let events: Vec<mvcc::Event> = r.events.into_iter().map(codec::event_from_pb).collect();
            if let Some(last) = events.last() {
                *next = last.kv.mod_revision + 1;
            }
            V3WatchItem::Events {
                revision: header.revision,
                events,
            }
        };
        if items.send(item).await.is_err() {
            return StreamEnd::Done;
        }
    }
}
