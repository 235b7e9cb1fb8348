//! etcd's `Lease` service (v3rpc's `lease.go`): `LeaseGrant`,
//! `LeaseRevoke`, the `LeaseKeepAlive` stream, `LeaseTimeToLive` and
//! `LeaseLeases`.

use std::pin::Pin;
use std::sync::Arc;

use concord_api::v3::{mvcc, KeyspaceV3};
use concord_rpc::etcd::etcdserverpb as pb;
use concord_rpc::keyspace_grpc::request_id_of;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::codec;
use super::error::status;
use super::header::{header, with_revision};
use super::kv::unexpected_outcome;
use super::Limits;

/// The `Lease` service over a keyspace.
pub struct LeaseService {
    keyspace: Arc<dyn KeyspaceV3>,
    limits: Limits,
}

impl LeaseService {
    pub fn new(keyspace: Arc<dyn KeyspaceV3>, limits: Limits) -> Self {
        LeaseService { keyspace, limits }
    }
}

/// One keep-alive as etcd answers it: the header taken before the renewal
/// (so its revision is not after the lease's possible revocation), and an
/// unknown lease answered with TTL 0 instead of an error.
async fn keep_alive(
    keyspace: &dyn KeyspaceV3,
    id: i64,
) -> Result<pb::LeaseKeepAliveResponse, Status> {
    let before = header(keyspace.header());
    let answer = keyspace
        .write(mvcc::Command::LeaseKeepAlive { id, now: 0 })
        .await
        .map_err(status)?;
    let ttl = match answer.result {
        Ok(mvcc::Outcome::LeaseKeepAlive(resp)) => resp.ttl,
        Ok(other) => return Err(unexpected_outcome(other)),
        Err(mvcc::Error::LeaseNotFound) => 0,
        Err(e) => return Err(status(e)),
    };
    Ok(pb::LeaseKeepAliveResponse {
        header: Some(before),
        id,
        ttl,
    })
}

type KeepAliveStream =
    Pin<Box<dyn Stream<Item = Result<pb::LeaseKeepAliveResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl pb::lease_server::Lease for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<pb::LeaseGrantRequest>,
    ) -> Result<Response<pb::LeaseGrantResponse>, Status> {
        let id = request_id_of(request.metadata());
        let req = request.into_inner();
        let cmd = mvcc::Command::LeaseGrant {
            request: mvcc::LeaseGrantRequest {
                ttl: req.ttl,
                id: req.id,
            },
            now: 0,
        };
        let answer = self.keyspace.write_once(cmd, id).await.map_err(status)?;
        match answer.result.map_err(status)? {
            mvcc::Outcome::LeaseGrant(resp) => {
                let revision = resp.header.revision;
                let mut out = codec::lease_grant_response(resp);
                out.header = Some(with_revision(answer.header, revision));
                Ok(Response::new(out))
            }
            other => Err(unexpected_outcome(other)),
        }
    }

    async fn lease_revoke(
        &self,
        request: Request<pb::LeaseRevokeRequest>,
    ) -> Result<Response<pb::LeaseRevokeResponse>, Status> {
        let request_id = request_id_of(request.metadata());
        let id = request.into_inner().id;
        let answer = self
            .keyspace
            .write_once(mvcc::Command::LeaseRevoke { id }, request_id)
            .await
            .map_err(status)?;
        match answer.result.map_err(status)? {
            mvcc::Outcome::LeaseRevoke(applied) => Ok(Response::new(pb::LeaseRevokeResponse {
                header: Some(with_revision(
                    answer.header,
                    applied.response.header.revision,
                )),
            })),
            other => Err(unexpected_outcome(other)),
        }
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut inbound = request.into_inner();
        let keyspace = self.keyspace.clone();
        let limits = self.limits;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let req = match inbound.message().await {
                    Ok(Some(req)) => req,
                    // The client closed its side, or went away.
                    Ok(None) | Err(_) => return,
                };
                let answer = match limits.check_received(&req) {
                    Ok(()) => keep_alive(keyspace.as_ref(), req.id).await,
                    Err(e) => Err(e),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<pb::LeaseTimeToLiveRequest>,
    ) -> Result<Response<pb::LeaseTimeToLiveResponse>, Status> {
        let req = request.into_inner();
        let answer = self
            .keyspace
            .lease_time_to_live(mvcc::LeaseTimeToLiveRequest {
                id: req.id,
                keys: req.keys,
            })
            .await
            .map_err(status)?;
        let resp = answer.result.map_err(status)?;
        let revision = resp.header.revision;
        let mut out = codec::lease_time_to_live_response(resp);
        out.header = Some(with_revision(answer.header, revision));
        Ok(Response::new(out))
    }

    async fn lease_leases(
        &self,
        _request: Request<pb::LeaseLeasesRequest>,
    ) -> Result<Response<pb::LeaseLeasesResponse>, Status> {
        let answer = self.keyspace.lease_leases().await.map_err(status)?;
        let resp = answer.result.map_err(status)?;
        let revision = resp.header.revision;
        let mut out = codec::lease_leases_response(resp);
        out.header = Some(with_revision(answer.header, revision));
        Ok(Response::new(out))
    }
}
