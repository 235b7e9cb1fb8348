//! The v3 watchers over one keyspace history (etcd's `watchableStore`):
//! each change applied to it goes to the watchers whose range it touches,
//! in revision order, with no gap and no duplicate. A member runs it over
//! its keyspace (concord-consensus's state machine), concord-watch over its
//! window of the members' recent revisions ([`crate::v3_tier`]): anything
//! that is a [`WatchHistory`].
//!
//! A watcher is *synced* while it is handed each change as it is applied
//! (under the keyspace's write lock, so nothing can slip between its
//! history and its first live change). One that falls behind (its queue is
//! full), one that starts at an old revision, and every watcher after a
//! snapshot replaced the keyspace, is *unsynced*: a task of its own feeds
//! it from the history ([`WatchHistory::events_since`]) as its
//! queue drains, and syncs it again once it has caught up. A slow watcher
//! is never dropped and never slows the apply path down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use concord_api::v3::mvcc::{Event, History, KeySpan, Keyspace};
use concord_api::v3::{V3WatchControl, V3WatchItem, V3WatchSpec, V3Watcher};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Items queued per watcher before it falls back to catching up.
const QUEUE: usize = 256;

/// Most events read from the history per catch-up step (whole revisions).
const CATCH_UP_EVENTS: usize = 1000;

/// What the watchers are fed from: the changes by revision, as far back
/// as it holds them. Changes are applied (and [`V3Watchers::publish`]ed)
/// under its write lock.
pub trait WatchHistory: Send + Sync + 'static {
    /// The revision of the last change applied.
    fn revision(&self) -> i64;
    /// The changes of keys in `[key, range_end)` at revisions `>= start`,
    /// at most `limit` (0: all) but whole revisions; `Compacted` when
    /// `start` is older than what is held.
    fn events_since(&self, key: &[u8], range_end: &[u8], start: i64, limit: usize) -> History;
}

impl WatchHistory for Keyspace {
    fn revision(&self) -> i64 {
        Keyspace::revision(self)
    }
    fn events_since(&self, key: &[u8], range_end: &[u8], start: i64, limit: usize) -> History {
        Keyspace::events_since(self, key, range_end, start, limit)
    }
}

/// Every v3 watcher of one history (a member's keyspace by default).
pub struct V3Watchers<H: WatchHistory = Keyspace> {
    keyspace: Arc<RwLock<H>>,
    watchers: Mutex<HashMap<u64, Watcher>>,
    next_id: AtomicU64,
    me: Weak<V3Watchers<H>>,
}

struct Watcher {
    key: Vec<u8>,
    range_end: Vec<u8>,
    tx: mpsc::Sender<V3WatchItem>,
    /// The first revision this watcher has not been given yet.
    next_rev: i64,
    synced: bool,
    /// A progress report asked for while unsynced: sent once synced.
    progress_pending: bool,
}

impl Watcher {
    fn wants(&self, e: &Event) -> bool {
        KeySpan::new(&self.key, &self.range_end).contains(&e.kv.key)
    }
}

impl<H: WatchHistory> V3Watchers<H> {
    pub fn new(keyspace: Arc<RwLock<H>>) -> Arc<V3Watchers<H>> {
        Arc::new_cyclic(|me| V3Watchers {
            keyspace,
            watchers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            me: me.clone(),
        })
    }

    /// Number of watchers.
    pub fn len(&self) -> usize {
        self.watchers.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new watcher: from `spec.start_revision`, or from the next revision.
    pub fn watch(&self, spec: V3WatchSpec) -> V3Watcher {
        let (tx, items) = mpsc::channel(QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Under the keyspace's read lock: no change is applied meanwhile,
        // so "synced from current + 1" cannot miss one.
        let keyspace = self.keyspace.read();
        let current = keyspace.revision();
        let next_rev = if spec.start_revision <= 0 {
            current + 1
        } else {
            spec.start_revision
        };
        let synced = next_rev > current;
        self.watchers.lock().insert(
            id,
            Watcher {
                key: spec.key,
                range_end: spec.range_end,
                tx,
                next_rev,
                synced,
                progress_pending: false,
            },
        );
        drop(keyspace);
        if !synced {
            self.spawn_catch_up(id);
        }
        V3Watcher {
            items,
            control: Box::new(Handle {
                hub: self.me.clone(),
                id,
            }),
        }
    }

    /// The changes of one applied write at `revision`; called by the state
    /// machine while it holds the keyspace's write lock.
    pub fn publish(&self, revision: i64, events: &[Event]) {
        let mut behind = Vec::new();
        {
            let mut watchers = self.watchers.lock();
            let mut gone = Vec::new();
            for (id, w) in watchers.iter_mut() {
                if !w.synced || revision < w.next_rev {
                    continue;
                }
                let mine: Vec<Event> = events.iter().filter(|e| w.wants(e)).cloned().collect();
                if !mine.is_empty() {
                    match w.tx.try_send(V3WatchItem::Events {
                        revision,
                        events: mine,
                    }) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            // Not given this revision: the history will.
                            w.synced = false;
                            behind.push(*id);
                            continue;
                        }
                        Err(TrySendError::Closed(_)) => {
                            gone.push(*id);
                            continue;
                        }
                    }
                }
                w.next_rev = revision + 1;
            }
            for id in gone {
                watchers.remove(&id);
            }
        }
        for id in behind {
            self.spawn_catch_up(id);
        }
    }

    /// The history was replaced (a snapshot installed, a window started
    /// again; it is already in place): every watcher catches up from the
    /// new history (or learns that its next revision is no longer held).
    pub fn restore(&self) {
        let ids: Vec<u64> = {
            let mut watchers = self.watchers.lock();
            for w in watchers.values_mut() {
                w.synced = false;
            }
            watchers.keys().copied().collect()
        };
        for id in ids {
            self.spawn_catch_up(id);
        }
    }

    fn spawn_catch_up(&self, id: u64) {
        let hub = self.me.clone();
        tokio::spawn(async move {
            while let Some(hub) = hub.upgrade() {
                let Some(tx) = hub.watchers.lock().get(&id).map(|w| w.tx.clone()) else {
                    return;
                };
                // Wait for room without holding any lock.
                if tx.reserve().await.is_err() {
                    hub.watchers.lock().remove(&id);
                    return;
                }
                if hub.catch_up_step(id) {
                    return;
                }
            }
        });
    }

    /// Gives watcher `id` what its queue can take from the history; true
    /// once it is synced (or gone).
    fn catch_up_step(&self, id: u64) -> bool {
        let keyspace = self.keyspace.read();
        let mut watchers = self.watchers.lock();
        let Some(w) = watchers.get_mut(&id) else {
            return true;
        };
        if w.synced {
            return true;
        }
        loop {
            match keyspace.events_since(&w.key, &w.range_end, w.next_rev, CATCH_UP_EVENTS) {
                History::Compacted { compact_revision } => {
                    // etcd cancels such a watcher; nothing follows.
                    let _ = w.tx.try_send(V3WatchItem::Compacted { compact_revision });
                    watchers.remove(&id);
                    return true;
                }
                History::Events(events) if events.is_empty() => {
                    let current = keyspace.revision();
                    w.next_rev = w.next_rev.max(current + 1);
                    w.synced = true;
                    if w.progress_pending
                        && w.tx
                            .try_send(V3WatchItem::Progress { revision: current })
                            .is_ok()
                    {
                        w.progress_pending = false;
                    }
                    return true;
                }
                History::Events(events) => {
                    let last = events.last().map_or(w.next_rev, |e| e.kv.mod_revision);
                    // etcd's unsynced watchers answer with the store's
                    // current revision in the header, not the events' own.
                    match w.tx.try_send(V3WatchItem::Events {
                        revision: keyspace.revision(),
                        events,
                    }) {
                        Ok(()) => w.next_rev = last + 1,
                        Err(TrySendError::Full(_)) => return false,
                        Err(TrySendError::Closed(_)) => {
                            watchers.remove(&id);
                            return true;
                        }
                    }
                }
            }
        }
    }

    fn request_progress(&self, id: u64) {
        let keyspace = self.keyspace.read();
        let mut watchers = self.watchers.lock();
        let Some(w) = watchers.get_mut(&id) else {
            return;
        };
        if w.synced {
            let item = V3WatchItem::Progress {
                revision: keyspace.revision(),
            };
            if let Err(TrySendError::Full(_)) = w.tx.try_send(item) {
                w.synced = false;
                w.progress_pending = true;
                drop(watchers);
                drop(keyspace);
                self.spawn_catch_up(id);
            }
        } else {
            w.progress_pending = true;
        }
    }
}

/// A watcher's handle: progress requests; dropping it cancels the watcher.
struct Handle<H: WatchHistory> {
    hub: Weak<V3Watchers<H>>,
    id: u64,
}

impl<H: WatchHistory> V3WatchControl for Handle<H> {
    fn request_progress(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.request_progress(self.id);
        }
    }
}

impl<H: WatchHistory> Drop for Handle<H> {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.watchers.lock().remove(&self.id);
        }
    }
}
