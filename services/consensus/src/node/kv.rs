//! The `Kv` contract on a member: writes through raft, local reads that
//! include every write this member answered, quorum reads by read index.

use super::*;

#[async_trait]
impl Kv for Consensus {
    async fn write(&self, command: Command) -> Result<KvResponse, ApiError> {
        // Named here, where the write enters the cluster, so that a forward
        // to a leader that dies under it can be sent to the next one.
        self.write_once(command, self.request_ids.next()).await
    }

    async fn write_once(&self, command: Command, id: RequestId) -> Result<KvResponse, ApiError> {
        let (res, raft) = self.propose(Write::V2(command), id).await?;
        // The write is committed (the leader applied it). A forwarded write
        // is answered now rather than after this member's apply, which needs
        // one more round trip from the leader (openraft sends the new commit
        // index only after this member's append answer); read-your-writes is
        // kept by making local reads and watches wait for it (`caught_up`).
        self.answered_index.fetch_max(raft.index, Ordering::AcqRel);
        match res.result {
            Some(Ok(mut event)) => {
                event.etcd_index = res.store_index;
                Ok(KvResponse { event, raft })
            }
            Some(Err(e)) => Err(ApiError::Store(e)),
            None => Err(ApiError::Internal("write produced no result".into())),
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<KvResponse, ApiError> {
        if req.quorum {
            self.linearizable_barrier(self.request_timeout()).await?;
        } else {
            self.caught_up().await?;
        }
        let event =
            self.shared
                .store
                .read()
                .get(&req.key, req.recursive, req.sorted, now_nanos())?;
        Ok(KvResponse {
            event,
            raft: self.raft_position(),
        })
    }

    async fn caught_up(&self) -> Result<(), ApiError> {
        let answered = self.answered_index.load(Ordering::Acquire);
        self.shared
            .wait_applied(answered, self.request_timeout())
            .await
            .then_some(())
            .ok_or_else(request_timed_out)
    }

    fn store_index(&self) -> u64 {
        self.shared.store.read().index()
    }

    async fn wait_applied(&self, raft_index: u64) -> Result<(), ApiError> {
        self.shared
            .wait_applied(raft_index, self.request_timeout())
            .await
            .then_some(())
            .ok_or_else(request_timed_out)
    }

    fn raft_position(&self) -> RaftPosition {
        RaftPosition {
            index: self.shared.applied_index(),
            term: self.term.load(Ordering::Acquire),
        }
    }

    async fn store_stats(&self) -> Result<StoreStats, ApiError> {
        // A local read like any other: it counts the writes this member
        // already answered (a follower answers before its own apply).
        self.caught_up().await?;
        Ok(self.shared.store.read().stats())
    }

    async fn snapshot(&self) -> Result<StoreSnapshot, ApiError> {
        let store = self.shared.store.read();
        Ok(StoreSnapshot {
            store_index: store.index(),
            nodes: store.nodes(),
        })
    }
}
