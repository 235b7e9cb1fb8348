//! The v3 keyspace contract on a member: writes through the same raft log
//! and batches as the v2 store's, ranges answered from the applied
//! keyspace (after a read index unless serializable), watchers on the
//! member's [`V3Watchers`](crate::v3_watchers::V3Watchers).

use concord_api::v3::{
    mvcc, Access, KeyspaceV3, V3Answer, V3HashKv, V3Header, V3Status, V3WatchSpec, V3Watcher,
};

use super::*;

impl Consensus {
    fn v3_header(&self, revision: i64, raft_term: u64) -> V3Header {
        V3Header {
            cluster_id: self.identity.cluster_id,
            member_id: self.identity.member_id,
            revision,
            raft_term,
        }
    }

    /// A read of the applied keyspace: linearizable (a read index first),
    /// or serializable (what this member applied, including every write it
    /// answered).
    async fn v3_read<T>(
        &self,
        linearizable: bool,
        read: impl FnOnce(&mvcc::Keyspace) -> mvcc::Result<T>,
    ) -> Result<V3Answer<T>, ApiError> {
        if linearizable {
            self.linearizable_barrier(self.request_timeout()).await?;
        } else {
            self.caught_up().await?;
        }
        let keyspace = self.shared.keyspace.read();
        Ok(V3Answer {
            header: self.v3_header(keyspace.revision(), self.term.load(Ordering::Acquire)),
            result: read(&keyspace),
        })
    }

    /// A write as it is (a client's already carries its user), named by
    /// `id` (0: named here).
    pub(super) async fn write_once_unchecked(
        &self,
        cmd: mvcc::Command,
        id: RequestId,
    ) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        let id = if id == 0 { self.request_ids.next() } else { id };
        let (res, raft) = self.propose(Write::V3(cmd), id).await?;
        // As for v2 writes: answered once committed; local reads wait for
        // the local apply (`caught_up`).
        self.answered_index.fetch_max(raft.index, Ordering::AcqRel);
        let result = res
            .v3
            .ok_or_else(|| ApiError::Internal("v3 write produced no result".into()))?;
        Ok(V3Answer {
            header: self.v3_header(res.revision, raft.term),
            result,
        })
    }

    /// Bytes the keyspace takes serialised (kept as it changes, so cheap):
    /// what the quota is checked against (etcd's `dbSize` is its bolt
    /// file's).
    fn v3_size(&self) -> i64 {
        self.shared.keyspace.read().size() as i64
    }

    /// The active alarms as etcd's `Status.errors` words them (Go's text
    /// form of an `AlarmMember`).
    fn v3_alarm_texts(&self) -> Vec<String> {
        self.shared
            .keyspace
            .read()
            .alarms()
            .iter()
            .map(|a| format!("memberID:{} alarm:{} ", a.member_id, a.alarm.name()))
            .collect()
    }
}

#[async_trait]
impl KeyspaceV3 for Consensus {
    async fn write(&self, cmd: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        // Named here, where the write enters the cluster (as a v2 write).
        KeyspaceV3::write_once(self, cmd, self.request_ids.next()).await
    }

    /// The request-ID machinery of v2 writes: a write already applied
    /// under `id` is answered with its first result, not applied again.
    async fn write_once(
        &self,
        cmd: mvcc::Command,
        id: RequestId,
    ) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        // Hashed before anything else sees it (the wrapping included).
        let cmd = super::passwords::hash_passwords(cmd).await?;
        match self.as_caller(cmd).await {
            Ok(cmd) => self.write_once_unchecked(cmd, id).await,
            Err(e) => Ok(self.refused(e)),
        }
    }

    async fn range(
        &self,
        req: mvcc::RangeRequest,
    ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
        if let Err(e) = self.check_read(&req.key, &req.range_end).await {
            return Ok(self.refused(e));
        }
        self.v3_read(!req.serializable, |ks| ks.range(&req)).await
    }

    async fn lease_time_to_live(
        &self,
        req: mvcc::LeaseTimeToLiveRequest,
    ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
        // etcd asks the leader's lessor: linearizable.
        let now = now_nanos();
        self.v3_read(true, |ks| Ok(ks.lease_time_to_live(&req, now)))
            .await
    }

    async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
        self.v3_read(true, |ks| Ok(ks.lease_leases())).await
    }

    async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
        // A watch "from now" after this client's own write starts after it.
        self.caught_up().await?;
        Ok(self.shared.v3_watchers.watch(spec))
    }

    async fn status(&self) -> Result<V3Status, ApiError> {
        let (leader, last_log, committed, term) = {
            let m = self.raft.metrics().borrow().clone();
            (
                m.current_leader.unwrap_or(0),
                m.last_log_index.unwrap_or(0),
                m.last_applied.map_or(0, |l| l.index),
                m.current_term,
            )
        };
        let revision = self.shared.keyspace.read().revision();
        let size = self.v3_size();
        Ok(V3Status {
            header: self.v3_header(revision, term),
            version: concord_api::ETCD_SERVER_VERSION.into(),
            db_size: size,
            db_size_in_use: size,
            leader,
            raft_index: last_log.max(committed),
            raft_term: term,
            raft_applied_index: self.shared.applied_index(),
            errors: self.v3_alarm_texts(),
            is_learner: false,
        })
    }

    async fn hash_kv(&self, revision: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
        self.v3_read(false, |ks| {
            let (hash, compact_revision) = ks.hash_kv(revision)?;
            Ok(V3HashKv {
                hash,
                compact_revision,
            })
        })
        .await
    }

    async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
        // etcd's snapshot is its bolt file: `etcdctl snapshot status` reads
        // it as one; the `concord` bucket in it is what a restore reads.
        let keyspace = self.shared.keyspace.read();
        mvcc::bbolt::write(&keyspace, self.shared.applied_index())
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    fn header(&self) -> V3Header {
        self.v3_header(
            self.shared.keyspace.read().revision(),
            self.term.load(Ordering::Acquire),
        )
    }
    async fn authenticate(
        &self,
        name: String,
        password: String,
    ) -> Result<V3Answer<String>, ApiError> {
        self.authenticate_user(name, password).await
    }

    async fn authorize(&self, access: Access) -> Result<Result<(), mvcc::Error>, ApiError> {
        Ok(self.check_access(access).await)
    }
}
