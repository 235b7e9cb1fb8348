//! The v3 watchers of one member (etcd's `watchableStore`): each change the
//! state machine applies to the keyspace goes to the watchers whose range
//! it touches, in revision order, with no gap and no duplicate.
//!
//! A watcher is *synced* while it is handed each change as it is applied
//! (under the keyspace's write lock, so nothing can slip between its
//! history and its first live change). One that falls behind (its queue is
//! full), one that starts at an old revision, and every watcher after a
//! snapshot replaced the keyspace, is *unsynced*: a task of its own feeds
//! it from the keyspace's history ([`Keyspace::events_since`]) as its
//! queue drains, and syncs it again once it has caught up. A slow watcher
//! is never dropped and never slows the apply path down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use concord_api::v3::{V3WatchControl, V3WatchItem, V3WatchSpec, V3Watcher};
use concord_mvcc::{Event, History, KeySpan, Keyspace};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Items queued per watcher before it falls back to catching up.
const QUEUE: usize = 256;

/// Most events read from the history per catch-up step (whole revisions).
const CATCH_UP_EVENTS: usize = 1000;

/// Every v3 watcher of this member.
pub struct V3Watchers {
    keyspace: Arc<RwLock<Keyspace>>,
    watchers: Mutex<HashMap<u64, Watcher>>,
    next_id: AtomicU64,
    me: Weak<V3Watchers>,
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

impl V3Watchers {
    pub fn new(keyspace: Arc<RwLock<Keyspace>>) -> Arc<V3Watchers> {
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

    /// The keyspace was replaced by a snapshot (it is already in place):
    /// every watcher catches up from the new history (or learns that its
    /// next revision was compacted away).
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
struct Handle {
    hub: Weak<V3Watchers>,
    id: u64,
}

impl V3WatchControl for Handle {
    fn request_progress(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.request_progress(self.id);
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.watchers.lock().remove(&self.id);
        }
    }
}
