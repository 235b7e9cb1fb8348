//! A gateway's v3 read replica: a copy of the members' v3 keyspace at its
//! latest revision, kept current from a watch of the whole keyspace, that
//! answers serializable `Range`s without a gRPC round trip.
//!
//! etcd answers a serializable range (`RangeRequest.serializable`,
//! `etcdctl get --consistency=s`) from whichever member gets it, without
//! asking the leader, so the answer may lag the leader's; a gateway's
//! replica is one more such copy. [`KeyspaceReplica`] wraps the gateway's
//! keyspace over the members (`GrpcKeyspace`) and sends it everything
//! else: writes, linearizable ranges, ranges at an older revision, leases,
//! watches, maintenance.
//!
//! Start: the members' keyspace as `Maintenance.Snapshot` streams it
//! (restored with [`mvcc::Keyspace::from_bbolt`], its history compacted
//! away at once, [`mvcc::Replica`]), then the members' watch of every key
//! ("\0" to "\0") from the revision after it, applied revision by
//! revision (`GrpcKeyspace` resumes the watch on the next member with no
//! gap and no duplicate when one goes away). A revision that does not fit,
//! a compacted answer (the members no longer hold the revisions the replica
//! needs) or a watch that ends makes it load the keyspace again; until it
//! is loaded, serializable ranges go to the members.
//!
//! Read-your-writes through one gateway holds as with the v2 replica: a
//! range waits until the replica has applied the newest revision this
//! gateway saw a member answer with (its writes among them), up to
//! [`CATCH_UP_WAIT`], and goes to the members when it does not get there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_api::v3::{
    mvcc, Access, KeyspaceV3, V3Answer, V3HashKv, V3Header, V3Status, V3WatchItem, V3WatchSpec,
    V3Watcher,
};
use concord_api::{caller, ApiError, RequestId};
use parking_lot::RwLock;
use tokio::sync::watch;
use tracing::{info, warn};

/// How long a serializable range waits for the replica to reach the
/// newest revision the gateway saw before it asks the members instead.
const CATCH_UP_WAIT: Duration = Duration::from_secs(1);
/// Pause before loading the keyspace again after a failure.
const RELOAD_PAUSE: Duration = Duration::from_millis(500);

/// Why the replica stopped following and loads the keyspace again.
#[derive(Debug, thiserror::Error)]
enum Resync {
    #[error("cannot load the keyspace: {0}")]
    Load(#[from] ApiError),
    #[error("the keyspace snapshot does not restore: {0}")]
    Restore(#[from] mvcc::bbolt::BboltError),
    #[error("{0}")]
    Apply(#[from] mvcc::ReplicationError),
    #[error("the members no longer hold the revisions after {revision} (compacted at {compact_revision})")]
    Compacted {
        revision: i64,
        compact_revision: i64,
    },
    #[error("the members' watch ended")]
    WatchEnded,
}

/// What the follower task and the reads share.
struct Shared {
    /// None while (re)loading: serializable ranges go to the members.
    replica: RwLock<Option<mvcc::Replica>>,
    /// The revision applied (0 while loading), for ranges waiting on
    /// their floor.
    applied: watch::Sender<i64>,
}

impl Shared {
    fn drop_replica(&self) {
        *self.replica.write() = None;
        self.applied.send_replace(0);
    }
}

/// How long a serializable range waits for the members' auth check
/// before it falls back on what they last said.
const AUTH_CHECK_WAIT: Duration = Duration::from_millis(500);

/// A `KeyspaceV3` answering serializable ranges at the latest revision from
/// its replica and everything else from `inner` (the gateway's
/// `GrpcKeyspace`).
pub struct KeyspaceReplica {
    inner: Arc<dyn KeyspaceV3>,
    shared: Arc<Shared>,
    follower: tokio::task::AbortHandle,
    /// Whether the members last said auth is off (a check made for a
    /// caller without a token passed; one refused says it is on): what a
    /// token-less serializable range falls back on while they cannot be
    /// asked, so the replica still answers with every member stopped.
    auth_off: AtomicBool,
}

impl Drop for KeyspaceReplica {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl KeyspaceReplica {
    /// Starts loading and following `inner`'s keyspace in the background.
    pub fn start(inner: Arc<dyn KeyspaceV3>) -> Arc<KeyspaceReplica> {
        let shared = Arc::new(Shared {
            replica: RwLock::new(None),
            applied: watch::channel(0).0,
        });
        let follower = tokio::spawn(follow(inner.clone(), shared.clone())).abort_handle();
        Arc::new(KeyspaceReplica {
            inner,
            shared,
            follower,
            auth_off: AtomicBool::new(false),
        })
    }

    /// A range served here is checked here: asked of the members, unless
    /// they are slow to answer ([`AUTH_CHECK_WAIT`]) or cannot, and they
    /// last said auth is off, for a caller without a token.
    async fn check_read(
        &self,
        req: &mvcc::RangeRequest,
    ) -> Result<Result<(), mvcc::Error>, ApiError> {
        let access = Access::Read {
            key: req.key.clone(),
            range_end: req.range_end.clone(),
        };
        let tokenless = caller::current().is_none_or(|c| c.token.is_none());
        let known_off = || tokenless && self.auth_off.load(Ordering::Relaxed);
        let check = self.inner.authorize(access);
        tokio::pin!(check);
        let verdict = tokio::select! {
            v = &mut check => v,
            _ = tokio::time::sleep(AUTH_CHECK_WAIT), if known_off() => return Ok(Ok(())),
        };
        match verdict {
            Ok(answer) => {
                if tokenless {
                    self.auth_off.store(answer.is_ok(), Ordering::Relaxed);
                }
                Ok(answer)
            }
            Err(_) if known_off() => Ok(Ok(())),
            Err(e) => Err(e),
        }
    }

    /// The revision the replica has applied (None while loading).
    pub fn revision(&self) -> Option<i64> {
        self.shared
            .replica
            .read()
            .as_ref()
            .map(mvcc::Replica::revision)
    }

    /// A range from the replica once it holds `floor`; None if it cannot
    /// answer (not loaded, the members' ids not known yet, another
    /// revision asked for, or behind for longer than [`CATCH_UP_WAIT`]).
    async fn local_range(&self, req: &mvcc::RangeRequest) -> Option<V3Answer<mvcc::RangeResponse>> {
        let newest = self.inner.header();
        // The answer's ids and term are a member's: none answered yet.
        if newest.cluster_id == 0 {
            return None;
        }
        let floor = newest.revision;
        if *self.shared.applied.borrow() < floor {
            let mut rx = self.shared.applied.subscribe();
            tokio::time::timeout(CATCH_UP_WAIT, rx.wait_for(|r| *r >= floor))
                .await
                .ok()?
                .ok()?;
        }
        let guard = self.shared.replica.read();
        let replica = guard.as_ref().filter(|r| r.revision() >= floor)?;
        let revision = replica.revision();
        // An older revision is read where its history is kept; a later
        // one may be there already.
        if req.revision > 0 && req.revision != revision {
            return None;
        }
        let result = replica.range(req);
        drop(guard);
        Some(V3Answer {
            header: V3Header { revision, ..newest },
            result,
        })
    }
}

/// Loads the keyspace, follows its changes, and starts over whenever they
/// do not fit or stop coming; for ever.
async fn follow(inner: Arc<dyn KeyspaceV3>, shared: Arc<Shared>) {
    let mut failing = false;
    loop {
        let err = match load_and_follow(inner.as_ref(), &shared).await {
            Ok(never) => match never {},
            Err(e) => e,
        };
        shared.drop_replica();
        match &err {
            // Expected while the members are down: said once, then quiet
            // until a load succeeds.
            Resync::Load(_) if failing => {}
            Resync::Load(_) => {
                failing = true;
                warn!("v3 read replica: {err}; serializable ranges go to the members meanwhile");
            }
            _ => {
                failing = false;
                warn!("v3 read replica: {err}; loading the keyspace again");
            }
        }
        tokio::time::sleep(RELOAD_PAUSE).await;
    }
}

/// One load of the keyspace and the watch after it, until something does
/// not fit.
async fn load_and_follow(
    inner: &dyn KeyspaceV3,
    shared: &Shared,
) -> Result<std::convert::Infallible, Resync> {
    let blob = inner.snapshot().await?;
    let replica = mvcc::Replica::new(mvcc::Keyspace::from_bbolt(&blob)?);
    let mut revision = replica.revision();
    let keys = replica.key_count();
    let mut watcher = inner
        .watch(V3WatchSpec {
            key: b"\0".to_vec(),
            range_end: b"\0".to_vec(),
            start_revision: revision + 1,
        })
        .await?;
    *shared.replica.write() = Some(replica);
    shared.applied.send_replace(revision);
    info!(
        "v3 read replica: loaded {keys} keys at revision {revision} ({} bytes), following its changes",
        blob.len()
    );
    drop(blob);
    loop {
        match watcher.items.recv().await {
            Some(V3WatchItem::Events { events, .. }) => {
                let mut guard = shared.replica.write();
                let Some(replica) = guard.as_mut() else {
                    return Err(Resync::WatchEnded);
                };
                // One call per revision: a response may carry several.
                for changes in events.chunk_by(|a, b| a.kv.mod_revision == b.kv.mod_revision) {
                    replica.apply(changes[0].kv.mod_revision, changes)?;
                }
                revision = replica.revision();
                drop(guard);
                shared.applied.send_replace(revision);
            }
            Some(V3WatchItem::Progress { .. }) => {}
            Some(V3WatchItem::Compacted { compact_revision }) => {
                return Err(Resync::Compacted {
                    revision,
                    compact_revision,
                })
            }
            None => return Err(Resync::WatchEnded),
        }
    }
}

#[async_trait]
impl KeyspaceV3 for KeyspaceReplica {
    async fn authenticate(
        &self,
        name: String,
        password: String,
    ) -> Result<V3Answer<String>, ApiError> {
        self.inner.authenticate(name, password).await
    }

    async fn authorize(&self, access: Access) -> Result<Result<(), mvcc::Error>, ApiError> {
        self.inner.authorize(access).await
    }

    async fn write(&self, cmd: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        self.inner.write(cmd).await
    }

    async fn write_once(
        &self,
        cmd: mvcc::Command,
        id: RequestId,
    ) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        self.inner.write_once(cmd, id).await
    }

    async fn range(
        &self,
        req: mvcc::RangeRequest,
    ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
        if req.serializable {
            if let Err(e) = self.check_read(&req).await? {
                return Ok(V3Answer {
                    header: self.inner.header(),
                    result: Err(e),
                });
            }
            if let Some(answer) = self.local_range(&req).await {
                return Ok(answer);
            }
        }
        self.inner.range(req).await
    }

    async fn lease_time_to_live(
        &self,
        req: mvcc::LeaseTimeToLiveRequest,
    ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
        self.inner.lease_time_to_live(req).await
    }

    async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
        self.inner.lease_leases().await
    }

    async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
        self.inner.watch(spec).await
    }

    async fn status(&self) -> Result<V3Status, ApiError> {
        self.inner.status().await
    }

    async fn hash_kv(&self, revision: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
        self.inner.hash_kv(revision).await
    }

    async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
        self.inner.snapshot().await
    }

    fn header(&self) -> V3Header {
        self.inner.header()
    }

    async fn alarm(
        &self,
        request: mvcc::AlarmRequest,
    ) -> Result<V3Answer<mvcc::AlarmResponse>, ApiError> {
        self.inner.alarm(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use concord_api::v3::V3WatchControl;
    use tokio::sync::mpsc;

    /// A member's keyspace in process (the contract as the member serves
    /// it: real `concord-mvcc`, its snapshot a real bolt file, watchers fed
    /// the history then each write), counting the ranges it answers.
    #[derive(Default)]
    struct Member {
        ks: parking_lot::Mutex<mvcc::Keyspace>,
        watchers: parking_lot::Mutex<Vec<mpsc::Sender<V3WatchItem>>>,
        ranges: AtomicUsize,
    }

    struct NoProgress;
    impl V3WatchControl for NoProgress {
        fn request_progress(&self) {}
    }

    impl Member {
        fn header_at(revision: i64) -> V3Header {
            V3Header {
                cluster_id: 7,
                member_id: 8,
                revision,
                raft_term: 9,
            }
        }

        async fn put(&self, key: &str, value: &str) {
            let cmd = mvcc::Command::Put(mvcc::PutRequest {
                key: key.into(),
                value: value.into(),
                ..Default::default()
            });
            self.write(cmd).await.unwrap().result.unwrap();
        }

        /// Sends every watcher `item` (as a member would send a
        /// cancellation or a broken revision) and forgets them.
        async fn end_watches_with(&self, item: V3WatchItem) {
            let watchers = std::mem::take(&mut *self.watchers.lock());
            for w in watchers {
                let _ = w.send(item.clone()).await;
            }
        }
    }

    fn unused<T>() -> Result<T, ApiError> {
        Err(ApiError::Internal("not part of these tests".into()))
    }

    #[async_trait]
    impl KeyspaceV3 for Member {
        async fn authenticate(
            &self,
            _name: String,
            _password: String,
        ) -> Result<V3Answer<String>, ApiError> {
            Ok(V3Answer {
                header: self.header(),
                result: Err(mvcc::Error::AuthNotEnabled),
            })
        }

        async fn authorize(
            &self,
            _access: concord_api::v3::Access,
        ) -> Result<Result<(), mvcc::Error>, ApiError> {
            Ok(Ok(()))
        }

        async fn write(&self, cmd: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
            // The watchers as of this write, taken under the keyspace's
            // lock: one registered after it has the write in its history.
            let (outcome, revision, watchers) = {
                let mut ks = self.ks.lock();
                let outcome = ks.apply(&cmd);
                (outcome, ks.revision(), self.watchers.lock().clone())
            };
            let events = match &outcome {
                Ok(mvcc::Outcome::Put(a)) => a.events.clone(),
                Ok(mvcc::Outcome::DeleteRange(a)) => a.events.clone(),
                Ok(mvcc::Outcome::Txn(a)) => a.events.clone(),
                _ => Vec::new(),
            };
            if !events.is_empty() {
                for w in watchers {
                    let item = V3WatchItem::Events {
                        revision,
                        events: events.clone(),
                    };
                    let _ = w.send(item).await;
                }
            }
            Ok(V3Answer {
                header: Member::header_at(revision),
                result: outcome,
            })
        }

        async fn range(
            &self,
            req: mvcc::RangeRequest,
        ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
            self.ranges.fetch_add(1, Ordering::SeqCst);
            let ks = self.ks.lock();
            Ok(V3Answer {
                header: Member::header_at(ks.revision()),
                result: ks.range(&req),
            })
        }

        async fn lease_time_to_live(
            &self,
            _req: mvcc::LeaseTimeToLiveRequest,
        ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
            unused()
        }

        async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
            unused()
        }

        async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
            let (tx, rx) = mpsc::channel(1024);
            // The history and the registration under one lock: no change
            // between them is missed.
            let ks = self.ks.lock();
            match ks.events_since(&spec.key, &spec.range_end, spec.start_revision, 0) {
                mvcc::History::Events(events) if events.is_empty() => {}
                mvcc::History::Events(events) => {
                    let revision = ks.revision();
                    tx.try_send(V3WatchItem::Events { revision, events })
                        .unwrap();
                }
                mvcc::History::Compacted { compact_revision } => {
                    tx.try_send(V3WatchItem::Compacted { compact_revision })
                        .unwrap();
                }
            }
            self.watchers.lock().push(tx);
            Ok(V3Watcher {
                items: rx,
                control: Box::new(NoProgress),
            })
        }

        async fn status(&self) -> Result<V3Status, ApiError> {
            unused()
        }

        async fn hash_kv(&self, _revision: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
            unused()
        }

        async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
            mvcc::bbolt::write(&self.ks.lock(), 1).map_err(|e| ApiError::Internal(e.to_string()))
        }

        fn header(&self) -> V3Header {
            Member::header_at(self.ks.lock().revision())
        }
    }

    fn get(key: &str, serializable: bool, revision: i64) -> mvcc::RangeRequest {
        mvcc::RangeRequest {
            key: key.into(),
            serializable,
            revision,
            ..Default::default()
        }
    }

    async fn loaded_at(replica: &KeyspaceReplica, revision: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while replica.revision() != Some(revision) {
            assert!(
                Instant::now() < deadline,
                "the replica is at {:?}, not {revision}",
                replica.revision()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn serializable_ranges_are_answered_here_the_rest_by_the_members() {
        let member = Arc::new(Member::default());
        member.put("a", "1").await;
        member.put("a", "2").await;
        let replica = KeyspaceReplica::start(member.clone());
        loaded_at(&replica, 3).await;

        // Followed: a write's change is read here, as the member reads it.
        member.put("b", "x").await;
        let local = replica.range(get("b", true, 0)).await.unwrap();
        assert_eq!(member.ranges.load(Ordering::SeqCst), 0);
        let remote = member.range(get("b", false, 0)).await.unwrap();
        assert_eq!(local.result, remote.result);
        assert_eq!(local.header, remote.header);
        assert_eq!(local.header.revision, 4);
        assert_eq!(
            replica.range(get("", true, 0)).await.unwrap().result,
            Err(mvcc::Error::EmptyKey)
        );
        let before = member.ranges.load(Ordering::SeqCst);

        // Linearizable, or at an older revision: the member's.
        replica.range(get("a", false, 0)).await.unwrap();
        let old = replica.range(get("a", true, 2)).await.unwrap();
        assert_eq!(old.result.unwrap().kvs[0].value, b"1");
        assert_eq!(member.ranges.load(Ordering::SeqCst), before + 2);
        // At the replica's own revision: here.
        replica.range(get("a", true, 4)).await.unwrap();
        assert_eq!(member.ranges.load(Ordering::SeqCst), before + 2);
    }

    #[tokio::test]
    async fn loads_again_after_a_compacted_answer_or_a_change_that_does_not_fit() {
        let member = Arc::new(Member::default());
        member.put("a", "1").await;
        let replica = KeyspaceReplica::start(member.clone());
        loaded_at(&replica, 2).await;

        // The members no longer hold what the replica needs: it loads the
        // keyspace again, meanwhile the members answer.
        member
            .end_watches_with(V3WatchItem::Compacted {
                compact_revision: 5,
            })
            .await;
        member.put("a", "2").await;
        loaded_at(&replica, 3).await;
        let got = replica.range(get("a", true, 0)).await.unwrap();
        assert_eq!(got.result.unwrap().kvs[0].value, b"2");

        // A revision out of place (one skipped).
        let skipped = mvcc::Event {
            kind: mvcc::EventType::Put,
            kv: mvcc::KeyValue {
                key: b"z".to_vec(),
                create_revision: 9,
                mod_revision: 9,
                version: 1,
                ..Default::default()
            },
            prev_kv: None,
        };
        member
            .end_watches_with(V3WatchItem::Events {
                revision: 9,
                events: vec![skipped],
            })
            .await;
        member.put("c", "3").await;
        loaded_at(&replica, 4).await;
        let ranges = member.ranges.load(Ordering::SeqCst);
        let got = replica.range(get("z", true, 0)).await.unwrap();
        assert_eq!(got.result.unwrap().count, 0);
        assert_eq!(member.ranges.load(Ordering::SeqCst), ranges);
    }
}
