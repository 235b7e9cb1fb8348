//! `LocalKeyspace`: the keyspace contract (`KeyspaceV3`) over one in-process
//! `concord_mvcc::Keyspace` behind a mutex, as a member would serve it with
//! consensus taken away. Watchers are fed from the history: each has a pump
//! task that sends what `events_since` holds from its next revision, woken
//! by every write, so that it delivers in revision order with no gap and no
//! duplicate and catches up after falling behind. Its first answer is the
//! whole history from the start revision in one item at the current
//! revision, then one item per revision (what etcd's unsynced and synced
//! watchers send). Expired leases are revoked by a ticker, as a leader
//! proposes them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use concord_api::v3::mvcc::{self, Keyspace};
use concord_api::v3::{
    KeyspaceV3, V3Answer, V3HashKv, V3Header, V3Status, V3WatchControl, V3WatchItem, V3WatchSpec,
    V3Watcher,
};
use concord_api::{now_nanos, ApiError};
use tokio::sync::{mpsc, watch, Notify};

/// The ids every answer carries.
pub const CLUSTER_ID: u64 = 0xc0c0_2020;
pub const MEMBER_ID: u64 = 0x8e9e_05c5_2164_694d;
pub const RAFT_TERM: u64 = 2;

pub struct LocalKeyspace {
    shared: Arc<Shared>,
}

/// What the keyspace and its watchers' pumps share.
struct Shared {
    ks: Mutex<Inner>,
    /// The current revision, for the watchers' pumps.
    revision: watch::Sender<i64>,
}

struct Inner {
    ks: Keyspace,
    /// Writes applied (the raft index a member would report).
    applied: u64,
}

impl LocalKeyspace {
    /// An empty keyspace (revision 1) and its lease expiry ticker.
    pub fn new() -> Arc<Self> {
        let (revision, _) = watch::channel(1);
        let shared = Arc::new(Shared {
            ks: Mutex::new(Inner {
                ks: Keyspace::default(),
                applied: 0,
            }),
            revision,
        });
        let weak = Arc::downgrade(&shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                shared.expire_leases();
            }
        });
        Arc::new(LocalKeyspace { shared })
    }

    fn header_at(revision: i64) -> V3Header {
        V3Header {
            cluster_id: CLUSTER_ID,
            member_id: MEMBER_ID,
            revision,
            raft_term: RAFT_TERM,
        }
    }
}

impl Shared {
    fn expire_leases(&self) {
        let revision = {
            let mut inner = self.ks.lock().unwrap();
            for id in inner.ks.expired_leases(now_nanos()) {
                let _ = inner.ks.lease_revoke(id);
                inner.applied += 1;
            }
            inner.ks.revision()
        };
        self.revision
            .send_if_modified(|r| std::mem::replace(r, revision) != revision);
    }

    fn revision(&self) -> i64 {
        self.ks.lock().unwrap().ks.revision()
    }
}

impl LocalKeyspace {
    fn answer<T>(&self, f: impl FnOnce(&Keyspace) -> Result<T, mvcc::Error>) -> V3Answer<T> {
        let inner = self.shared.ks.lock().unwrap();
        V3Answer {
            header: LocalKeyspace::header_at(inner.ks.revision()),
            result: f(&inner.ks),
        }
    }
}

#[async_trait]
impl KeyspaceV3 for LocalKeyspace {
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
        // The proposer stamps the times, as the member does.
        let now = now_nanos();
        let cmd = match cmd {
            mvcc::Command::LeaseGrant { request, .. } => mvcc::Command::LeaseGrant { request, now },
            mvcc::Command::LeaseKeepAlive { id, .. } => mvcc::Command::LeaseKeepAlive { id, now },
            other => other,
        };
        let (answer, revision) = {
            let mut inner = self.shared.ks.lock().unwrap();
            let result = inner.ks.apply(&cmd);
            inner.applied += 1;
            let revision = inner.ks.revision();
            (
                V3Answer {
                    header: Self::header_at(revision),
                    result,
                },
                revision,
            )
        };
        self.shared
            .revision
            .send_if_modified(|r| std::mem::replace(r, revision) != revision);
        Ok(answer)
    }

    async fn range(
        &self,
        req: mvcc::RangeRequest,
    ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
        Ok(self.answer(|ks| ks.range(&req)))
    }

    async fn lease_time_to_live(
        &self,
        req: mvcc::LeaseTimeToLiveRequest,
    ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
        Ok(self.answer(|ks| Ok(ks.lease_time_to_live(&req, now_nanos()))))
    }

    async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
        Ok(self.answer(|ks| Ok(ks.lease_leases())))
    }

    async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
        let (tx, items) = mpsc::channel(16);
        let progress = Arc::new(Progress::default());
        let pump = Pump {
            shared: self.shared.clone(),
            spec,
            tx,
            progress: progress.clone(),
            revision: self.shared.revision.subscribe(),
        };
        tokio::spawn(pump.run());
        Ok(V3Watcher {
            items,
            control: Box::new(Control(progress)),
        })
    }

    async fn status(&self) -> Result<V3Status, ApiError> {
        let inner = self.shared.ks.lock().unwrap();
        let size = serde_json::to_vec(&inner.ks).map_or(0, |b| b.len()) as i64;
        Ok(V3Status {
            header: Self::header_at(inner.ks.revision()),
            version: concord_api::ETCD_SERVER_VERSION.to_string(),
            db_size: size,
            db_size_in_use: size,
            leader: MEMBER_ID,
            raft_index: inner.applied,
            raft_term: RAFT_TERM,
            raft_applied_index: inner.applied,
            errors: Vec::new(),
            is_learner: false,
        })
    }

    async fn hash_kv(&self, revision: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
        Ok(self.answer(|ks| {
            let (hash, compact_revision) = ks.hash_kv(revision)?;
            Ok(V3HashKv {
                hash,
                compact_revision,
            })
        }))
    }

    async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
        let inner = self.shared.ks.lock().unwrap();
        serde_json::to_vec(&inner.ks).map_err(|e| ApiError::Internal(e.to_string()))
    }

    fn header(&self) -> V3Header {
        Self::header_at(self.shared.revision())
    }
}

/// A watcher's pending progress requests, and its pump's wake-up.
#[derive(Default)]
struct Progress {
    asked: AtomicUsize,
    wake: Notify,
}

struct Control(Arc<Progress>);

impl V3WatchControl for Control {
    fn request_progress(&self) {
        self.0.asked.fetch_add(1, Ordering::SeqCst);
        self.0.wake.notify_one();
    }
}

struct Pump {
    shared: Arc<Shared>,
    spec: V3WatchSpec,
    tx: mpsc::Sender<V3WatchItem>,
    progress: Arc<Progress>,
    revision: watch::Receiver<i64>,
}

impl Pump {
    async fn run(mut self) {
        let mut next = if self.spec.start_revision > 0 {
            self.spec.start_revision
        } else {
            self.shared.revision() + 1
        };
        let mut first = true;
        loop {
            let (history, current) = {
                let inner = self.shared.ks.lock().unwrap();
                (
                    inner
                        .ks
                        .events_since(&self.spec.key, &self.spec.range_end, next, 0),
                    inner.ks.revision(),
                )
            };
            let events = match history {
                mvcc::History::Compacted { compact_revision } => {
                    let _ = self
                        .tx
                        .send(V3WatchItem::Compacted { compact_revision })
                        .await;
                    return;
                }
                mvcc::History::Events(events) => events,
            };
            if first {
                if !events.is_empty() {
                    let item = V3WatchItem::Events {
                        revision: current,
                        events,
                    };
                    if self.tx.send(item).await.is_err() {
                        return;
                    }
                }
                first = false;
            } else {
                for group in by_revision(events) {
                    let revision = group[0].kv.mod_revision;
                    let item = V3WatchItem::Events {
                        revision,
                        events: group,
                    };
                    if self.tx.send(item).await.is_err() {
                        return;
                    }
                }
            }
            next = next.max(current + 1);
            let asked = self.progress.asked.swap(0, Ordering::SeqCst);
            for _ in 0..asked {
                let item = V3WatchItem::Progress { revision: current };
                if self.tx.send(item).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                changed = self.revision.changed() => if changed.is_err() { return },
                _ = self.progress.wake.notified() => {}
                _ = self.tx.closed() => return,
            }
        }
    }
}

/// Events split by the revision that made them, oldest first.
fn by_revision(events: Vec<mvcc::Event>) -> Vec<Vec<mvcc::Event>> {
    let mut out: Vec<Vec<mvcc::Event>> = Vec::new();
    for e in events {
        match out.last_mut() {
            Some(g) if g[0].kv.mod_revision == e.kv.mod_revision => g.push(e),
            _ => out.push(vec![e]),
        }
    }
    out
}
