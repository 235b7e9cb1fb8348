//! etcd's `KV` service (v3rpc's `key.go`): `Range`, `Put`, `DeleteRange`,
//! `Txn` and `Compact`, checked as etcd checks them, then handed to the
//! keyspace contract.

use std::sync::Arc;

use concord_api::v3::{mvcc, KeyspaceV3, V3Answer};
use concord_api::RequestId;
use concord_rpc::etcd::etcdserverpb as pb;
use concord_rpc::keyspace_grpc::request_id_of;
use tonic::{Request, Response, Status};

use super::codec;
use super::error::status;
use super::header::with_revision;
use super::Limits;

/// The `KV` service over a keyspace.
pub struct KvService {
    keyspace: Arc<dyn KeyspaceV3>,
    limits: Limits,
}

impl KvService {
    pub fn new(keyspace: Arc<dyn KeyspaceV3>, limits: Limits) -> Self {
        KvService { keyspace, limits }
    }

    /// Sends a write through the keyspace, named by the request ID the
    /// caller gave (a gateway's `concord-request-id`; 0: none, the
    /// keyspace names it).
    async fn write(
        &self,
        cmd: mvcc::Command,
        id: RequestId,
    ) -> Result<V3Answer<mvcc::Outcome>, Status> {
        self.keyspace.write_once(cmd, id).await.map_err(status)
    }
}

/// The outcome a command of one kind must have; anything else is the
/// member's bug, answered as an internal error rather than a panic.
fn unexpected(o: mvcc::Outcome) -> Status {
    tracing::error!("v3: unexpected outcome {o:?}");
    Status::internal("etcdserver: unexpected outcome")
}

#[tonic::async_trait]
impl pb::kv_server::Kv for KvService {
    async fn range(
        &self,
        request: Request<pb::RangeRequest>,
    ) -> Result<Response<pb::RangeResponse>, Status> {
        let req = request.into_inner();
        self.limits.check_received(&req)?;
        let req = codec::range_request(req);
        mvcc::validate_range(&req).map_err(status)?;
        let answer = self.keyspace.range(req).await.map_err(status)?;
        let resp = answer.result.map_err(status)?;
        let revision = resp.header.revision;
        let mut out = codec::range_response(resp);
        out.header = Some(with_revision(answer.header, revision));
        Ok(Response::new(out))
    }

    async fn put(
        &self,
        request: Request<pb::PutRequest>,
    ) -> Result<Response<pb::PutResponse>, Status> {
        let id = request_id_of(request.metadata());
        let req = request.into_inner();
        self.limits.check_received(&req)?;
        let size = prost::Message::encoded_len(&req);
        let req = codec::put_request(req);
        mvcc::validate_put(&req).map_err(status)?;
        self.limits.check_proposal(size)?;
        let answer = self.write(mvcc::Command::Put(req), id).await?;
        match answer.result.map_err(status)? {
            mvcc::Outcome::Put(applied) => {
                let revision = applied.response.header.revision;
                let mut out = codec::put_response(applied.response);
                out.header = Some(with_revision(answer.header, revision));
                Ok(Response::new(out))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn delete_range(
        &self,
        request: Request<pb::DeleteRangeRequest>,
    ) -> Result<Response<pb::DeleteRangeResponse>, Status> {
        let id = request_id_of(request.metadata());
        let req = request.into_inner();
        self.limits.check_received(&req)?;
        let size = prost::Message::encoded_len(&req);
        let req = codec::delete_range_request(req);
        mvcc::validate_delete(&req).map_err(status)?;
        self.limits.check_proposal(size)?;
        let answer = self.write(mvcc::Command::DeleteRange(req), id).await?;
        match answer.result.map_err(status)? {
            mvcc::Outcome::DeleteRange(applied) => {
                let revision = applied.response.header.revision;
                let mut out = codec::delete_range_response(applied.response);
                out.header = Some(with_revision(answer.header, revision));
                Ok(Response::new(out))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn txn(
        &self,
        request: Request<pb::TxnRequest>,
    ) -> Result<Response<pb::TxnResponse>, Status> {
        let id = request_id_of(request.metadata());
        let req = request.into_inner();
        self.limits.check_received(&req)?;
        let size = prost::Message::encoded_len(&req);
        let req = codec::txn_request(req);
        mvcc::validate_txn(&req, self.limits.max_txn_ops).map_err(status)?;
        self.limits.check_proposal(size)?;
        let answer = self.write(mvcc::Command::Txn(req), id).await?;
        match answer.result.map_err(status)? {
            mvcc::Outcome::Txn(applied) => {
                let revision = applied.response.header.revision;
                let mut out = codec::txn_response(applied.response);
                out.header = Some(with_revision(answer.header, revision));
                Ok(Response::new(out))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn compact(
        &self,
        request: Request<pb::CompactionRequest>,
    ) -> Result<Response<pb::CompactionResponse>, Status> {
        let id = request_id_of(request.metadata());
        let req = request.into_inner();
        let cmd = mvcc::Command::Compaction(mvcc::CompactionRequest {
            revision: req.revision,
            physical: req.physical,
        });
        let answer = self.write(cmd, id).await?;
        match answer.result.map_err(status)? {
            mvcc::Outcome::Compaction(resp) => Ok(Response::new(pb::CompactionResponse {
                header: Some(with_revision(answer.header, resp.header.revision)),
            })),
            other => Err(unexpected(other)),
        }
    }
}

/// For the other services: a write whose outcome is not the expected one.
pub(crate) fn unexpected_outcome(o: mvcc::Outcome) -> Status {
    unexpected(o)
}
