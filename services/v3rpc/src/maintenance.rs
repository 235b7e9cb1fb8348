//! etcd's `Maintenance` service (v3rpc's `maintenance.go`): `Status`,
//! `Alarm`, `HashKV`, `Hash`, `Defragment`, `MoveLeader` and the `Snapshot`
//! stream.
//!
//! Alarms are the keyspace's (raised by the quota or by hand, replicated
//! through the raft log, as etcd's alarm store). Where Concord differs by
//! nature: `Hash` is
//! the keyspace's checksum (etcd hashes its bolt file, whose bytes Concord
//! does not have), equal on members that applied the same log; defragmenting
//! has nothing to do; `MoveLeader` hands leadership over as etcd's raft
//! does (the member's `Cluster::move_leader`); the
//! snapshot is the keyspace as a bolt database file, streamed as etcd
//! streams its database (32 KiB chunks, then the SHA-256 of the whole),
//! padded to whole 512-byte sectors as etcdctl expects of a bolt file.

use std::pin::Pin;
use std::sync::Arc;

use concord_api::v3::KeyspaceV3;
use concord_rpc::etcd::etcdserverpb as pb;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::error::{status, V3Error};
use super::header::{header, with_revision};

/// An alarm type of the protocol as the keyspace names it.
fn alarm_type(t: i32) -> Result<concord_api::v3::mvcc::AlarmType, Status> {
    use concord_api::v3::mvcc::AlarmType;
    Ok(match pb::AlarmType::try_from(t) {
        Ok(pb::AlarmType::None) => AlarmType::None,
        Ok(pb::AlarmType::Nospace) => AlarmType::NoSpace,
        Ok(pb::AlarmType::Corrupt) => AlarmType::Corrupt,
        Err(_) => return Err(Status::invalid_argument("unknown alarm type")),
    })
}

/// etcd's `snapshotSendBufferSize`.
pub const SNAPSHOT_CHUNK_BYTES: usize = 32 * 1024;

/// The `Maintenance` service.
pub struct MaintenanceService {
    keyspace: Arc<dyn KeyspaceV3>,
    cluster: Arc<dyn concord_api::Cluster>,
}

impl MaintenanceService {
    pub fn new(keyspace: Arc<dyn KeyspaceV3>, cluster: Arc<dyn concord_api::Cluster>) -> Self {
        MaintenanceService { keyspace, cluster }
    }
}

/// etcdctl's `snapshot save` takes a download for complete only if its
/// length is whole 512-byte sectors plus the 32-byte checksum (a bolt file
/// is whole pages).
pub const SNAPSHOT_SECTOR_BYTES: usize = 512;

/// The messages of a snapshot stream: the blob padded with NUL bytes to
/// whole sectors, in chunks, each with the bytes still to come, then one
/// with the SHA-256 of what was sent (what etcd 3.4's `snapshot restore`
/// checks). Whoever restores strips the padding (the blob's format knows
/// its own end).
pub fn snapshot_messages(blob: &[u8]) -> Vec<pb::SnapshotResponse> {
    let padded_len = blob.len().div_ceil(SNAPSHOT_SECTOR_BYTES) * SNAPSHOT_SECTOR_BYTES;
    let mut padded = blob.to_vec();
    padded.resize(padded_len, 0);
    let blob = &padded[..];
    let mut out = Vec::with_capacity(blob.len() / SNAPSHOT_CHUNK_BYTES + 2);
    let mut sent = 0;
    for chunk in blob.chunks(SNAPSHOT_CHUNK_BYTES) {
        sent += chunk.len();
        out.push(pb::SnapshotResponse {
            header: None,
            remaining_bytes: (blob.len() - sent) as u64,
            blob: chunk.to_vec(),
        });
    }
    out.push(pb::SnapshotResponse {
        header: None,
        remaining_bytes: 0,
        blob: Sha256::digest(blob).to_vec(),
    });
    out
}

type SnapshotStream =
    Pin<Box<dyn Stream<Item = Result<pb::SnapshotResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl pb::maintenance_server::Maintenance for MaintenanceService {
    async fn alarm(
        &self,
        request: Request<pb::AlarmRequest>,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        use concord_api::v3::mvcc;
        use pb::alarm_request::AlarmAction;
        let req = request.into_inner();
        let action = match AlarmAction::try_from(req.action) {
            Ok(AlarmAction::Get) => mvcc::AlarmAction::Get,
            Ok(AlarmAction::Activate) => mvcc::AlarmAction::Activate,
            Ok(AlarmAction::Deactivate) => mvcc::AlarmAction::Deactivate,
            Err(_) => return Err(Status::invalid_argument("unknown alarm action")),
        };
        let alarm = alarm_type(req.alarm)?;
        // etcd 3.4 stops on raising "no alarm" (its backend refuses the
        // empty key); refused here instead.
        if action == mvcc::AlarmAction::Activate && alarm == mvcc::AlarmType::None {
            return Err(Status::invalid_argument("alarm type NONE cannot be raised"));
        }
        let answer = self
            .keyspace
            .alarm(mvcc::AlarmRequest {
                action,
                member_id: req.member_id,
                alarm,
            })
            .await
            .map_err(status)?;
        let alarms = answer.result.map_err(status)?.alarms;
        // etcd's answer carries no header.
        Ok(Response::new(pb::AlarmResponse {
            header: None,
            alarms: alarms
                .into_iter()
                .map(|a| pb::AlarmMember {
                    member_id: a.member_id,
                    alarm: match a.alarm {
                        mvcc::AlarmType::None => pb::AlarmType::None,
                        mvcc::AlarmType::NoSpace => pb::AlarmType::Nospace,
                        mvcc::AlarmType::Corrupt => pb::AlarmType::Corrupt,
                    } as i32,
                })
                .collect(),
        }))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let s = self.keyspace.status().await.map_err(status)?;
        let mut errors = Vec::new();
        if s.leader == 0 {
            errors.push("etcdserver: no leader".to_string());
        }
        errors.extend(s.errors);
        Ok(Response::new(pb::StatusResponse {
            header: Some(header(s.header)),
            version: s.version,
            db_size: s.db_size,
            leader: s.leader,
            raft_index: s.raft_index,
            raft_term: s.raft_term,
            raft_applied_index: s.raft_applied_index,
            errors,
            db_size_in_use: s.db_size_in_use,
            is_learner: s.is_learner,
        }))
    }

    async fn defragment(
        &self,
        _request: Request<pb::DefragmentRequest>,
    ) -> Result<Response<pb::DefragmentResponse>, Status> {
        super::access::require_admin(self.keyspace.as_ref()).await?;
        // etcd's answer carries no header.
        Ok(Response::new(pb::DefragmentResponse { header: None }))
    }

    async fn hash(
        &self,
        _request: Request<pb::HashRequest>,
    ) -> Result<Response<pb::HashResponse>, Status> {
        super::access::require_admin(self.keyspace.as_ref()).await?;
        let answer = self.keyspace.hash_kv(0).await.map_err(status)?;
        let h = answer.result.map_err(status)?;
        Ok(Response::new(pb::HashResponse {
            header: Some(header(answer.header)),
            hash: h.hash,
        }))
    }

    async fn hash_kv(
        &self,
        request: Request<pb::HashKvRequest>,
    ) -> Result<Response<pb::HashKvResponse>, Status> {
        super::access::require_admin(self.keyspace.as_ref()).await?;
        let revision = request.into_inner().revision;
        let answer = self.keyspace.hash_kv(revision).await.map_err(status)?;
        let h = answer.result.map_err(status)?;
        Ok(Response::new(pb::HashKvResponse {
            header: Some(with_revision(answer.header, 0)),
            hash: h.hash,
            compact_revision: h.compact_revision,
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        _request: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        super::access::require_admin(self.keyspace.as_ref()).await?;
        let blob = self.keyspace.snapshot().await.map_err(status)?;
        tracing::info!(
            total_bytes = blob.len(),
            "sending keyspace snapshot to client"
        );
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for msg in snapshot_messages(&blob) {
                if tx.send(Ok(msg)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn move_leader(
        &self,
        request: Request<pb::MoveLeaderRequest>,
    ) -> Result<Response<pb::MoveLeaderResponse>, Status> {
        let target = request.into_inner().target_id;
        // etcd's maintenance server: only the leader moves leadership.
        let s = self.keyspace.status().await.map_err(status)?;
        if s.leader == 0 || s.leader != s.header.member_id {
            return Err(status(V3Error::NotLeader));
        }
        // etcd answers with no header, whether it moved or was there.
        self.cluster.move_leader(target).await.map_err(status)?;
        Ok(Response::new(pb::MoveLeaderResponse { header: None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_chunks_then_sha256() {
        let blob: Vec<u8> = (0..SNAPSHOT_CHUNK_BYTES * 2 + 10)
            .map(|i| i as u8)
            .collect();
        let msgs = snapshot_messages(&blob);
        assert_eq!(msgs.len(), 4);
        // Padded to whole sectors: the last chunk is one sector.
        assert_eq!(msgs[0].remaining_bytes, (SNAPSHOT_CHUNK_BYTES + 512) as u64);
        assert_eq!(msgs[2].blob.len(), 512);
        assert_eq!(msgs[2].remaining_bytes, 0);
        let joined: Vec<u8> = msgs[..3].iter().flat_map(|m| m.blob.clone()).collect();
        assert_eq!(&joined[..blob.len()], &blob[..]);
        assert!(joined[blob.len()..].iter().all(|b| *b == 0));
        assert_eq!(msgs[3].blob, Sha256::digest(&joined).to_vec());
        // etcdctl's completeness check: sectors plus the checksum.
        let total: usize = msgs.iter().map(|m| m.blob.len()).sum();
        assert_eq!(total % 512, 32);
        // An empty blob is the checksum alone.
        assert_eq!(snapshot_messages(&[]).len(), 1);
    }
}
