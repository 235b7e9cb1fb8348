//! The watcher table and event history behind [`WatchHub`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use concord_api::{ApiError, EventSink, Watch, WatchRequest, Watcher};
use concord_store::{Action, Event, EventHistory};
use parking_lot::Mutex;
use tokio::sync::mpsc;

/// etcd keeps the last 1000 events (`newWatchHub(1000)`).
pub const HISTORY_CAPACITY: usize = 1000;
/// etcd gives each watcher a 100-event buffer; a watcher that falls further
/// behind is dropped and its stream closes.
pub const WATCHER_BUFFER: usize = 100;

struct Entry {
    recursive: bool,
    stream: bool,
    since_index: u64,
    tx: mpsc::Sender<Arc<Event>>,
}

struct Inner {
    history: EventHistory,
    /// The store index of the last published event.
    current_index: u64,
    /// Watchers by the (clean) path they watch.
    watchers: HashMap<String, Vec<Entry>>,
    /// Registrations since the last sweep of closed watchers.
    registrations_since_sweep: usize,
}

/// Fan-out of committed events to watchers, with etcd's history window.
pub struct WatchHub {
    inner: Mutex<Inner>,
    watcher_count: AtomicU64,
    /// The current index, for watches that must wait until the hub has
    /// seen a given index (`WatchRequest::after_index`).
    index_seen: tokio::sync::watch::Sender<u64>,
}

/// How long a watch waits for the hub to reach its `after_index`.
const CATCH_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl WatchHub {
    /// A hub whose store is at `store_index` (history starts empty).
    pub fn new(store_index: u64) -> Self {
        WatchHub {
            inner: Mutex::new(Inner {
                history: EventHistory::new(HISTORY_CAPACITY),
                current_index: store_index,
                watchers: HashMap::new(),
                registrations_since_sweep: 0,
            }),
            watcher_count: AtomicU64::new(0),
            index_seen: tokio::sync::watch::channel(store_index).0,
        }
    }

    /// Waits until the hub has seen store index `index`.
    async fn seen(&self, index: u64) -> Result<(), ApiError> {
        let mut rx = self.index_seen.subscribe();
        tokio::time::timeout(CATCH_UP_TIMEOUT, rx.wait_for(|i| *i >= index))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|_| ())
            .ok_or_else(|| ApiError::Internal("etcdserver: request timed out".into()))
    }

    /// The store index of the last event seen.
    pub fn current_index(&self) -> u64 {
        self.inner.lock().current_index
    }

    fn recount(&self, inner: &Inner) {
        let n: usize = inner.watchers.values().map(Vec::len).sum();
        self.watcher_count.store(n as u64, Ordering::Relaxed);
    }
}

/// True if `key` has a path component below `watch_path` that starts with
/// `_` (hidden keys are not shown to recursive watchers of a parent).
fn hidden_below(watch_path: &str, key: &str) -> bool {
    let rest = if watch_path == "/" {
        key
    } else {
        match key.strip_prefix(watch_path) {
            Some(r) => r,
            None => return false,
        }
    };
    rest.split('/').any(|c| c.starts_with('_'))
}

/// Every ancestor of `key`, root first, ending with `key` itself.
fn ancestors(key: &str) -> impl Iterator<Item = &str> {
    let root = std::iter::once("/");
    let rest = key
        .char_indices()
        .filter(|&(i, c)| c == '/' && i > 0)
        .map(move |(i, _)| &key[..i])
        .chain(std::iter::once(key).filter(|k| *k != "/"));
    root.chain(rest)
}

impl Inner {
    /// Delivers `event` to the watchers at `path`. `exact` is true when
    /// `path` is the event's own key; `deleted` when the event removed a
    /// directory above the watched path.
    fn notify_path(&mut self, path: &str, event: &Arc<Event>, exact: bool, deleted: bool) {
        let Some(list) = self.watchers.get_mut(path) else {
            return;
        };
        list.retain_mut(|w| {
            if w.tx.is_closed() {
                return false;
            }
            let interested = w.recursive || exact || deleted;
            if !interested || event.index() < w.since_index {
                return true;
            }
            if w.recursive && !exact && !deleted && hidden_below(path, &event.node.key) {
                return true;
            }
            match w.tx.try_send(event.clone()) {
                // A one-shot watcher is done after its event.
                Ok(()) => w.stream,
                // Full (fell 100 events behind) or gone: drop it, which
                // closes the client's stream as etcd does.
                Err(_) => false,
            }
        });
        if list.is_empty() {
            self.watchers.remove(path);
        }
    }

    fn sweep_closed(&mut self) {
        self.watchers.retain(|_, list| {
            list.retain(|w| !w.tx.is_closed());
            !list.is_empty()
        });
        self.registrations_since_sweep = 0;
    }
}

impl EventSink for WatchHub {
    fn publish(&self, event: Arc<Event>) {
        let mut inner = self.inner.lock();
        inner.current_index = inner.current_index.max(event.etcd_index);
        self.index_seen.send_replace(inner.current_index);
        inner.history.add(event.clone());
        if event.refresh {
            // A TTL refresh is kept in history (as etcd's `watcherHub.add`)
            // but never delivered to watchers.
            return;
        }
        if inner.watchers.is_empty() {
            return;
        }
        let key = event.node.key.clone();
        for path in ancestors(&key) {
            inner.notify_path(path, &event, path == key, false);
        }
        // Removing a directory also ends the watches on what was inside it.
        let removes = matches!(
            event.action,
            Action::Delete | Action::Expire | Action::CompareAndDelete
        );
        if removes && event.node.dir {
            let prefix = if key == "/" {
                "/".to_string()
            } else {
                format!("{key}/")
            };
            let below: Vec<String> = inner
                .watchers
                .keys()
                .filter(|p| p.starts_with(&prefix))
                .cloned()
                .collect();
            for path in below {
                inner.notify_path(&path, &event, false, true);
            }
        }
        self.recount(&inner);
    }

    fn reset(&self, store_index: u64) {
        let mut inner = self.inner.lock();
        inner.history = EventHistory::new(HISTORY_CAPACITY);
        inner.current_index = store_index;
        self.index_seen.send_replace(store_index);
        // Dropping the senders closes every watcher's stream.
        inner.watchers.clear();
        self.recount(&inner);
    }
}

#[async_trait]
impl Watch for WatchHub {
    async fn watch(&self, req: WatchRequest) -> Result<Watcher, ApiError> {
        if req.after_index > *self.index_seen.borrow() {
            self.seen(req.after_index).await?;
        }
        let mut inner = self.inner.lock();
        let start_index = inner.current_index;
        let since = match req.since_index {
            Some(i) if i > 0 => i,
            _ => start_index + 1,
        };
        let (tx, rx) = mpsc::channel(if req.stream { WATCHER_BUFFER } else { 1 });
        let mut since_index = since;
        if since <= start_index {
            let scanned = inner
                .history
                .scan(&req.key, req.recursive, since)
                .map_err(|mut e| {
                    e.index = start_index;
                    e
                })?;
            if let Some(event) = scanned {
                since_index = event.index() + 1;
                // The channel is fresh, so this cannot fail.
                let _ = tx.try_send(event);
                if !req.stream {
                    return Ok(Watcher {
                        start_index,
                        events: rx,
                    });
                }
            }
        }
        inner.registrations_since_sweep += 1;
        if inner.registrations_since_sweep > 4096 {
            inner.sweep_closed();
        }
        inner.watchers.entry(req.key).or_default().push(Entry {
            recursive: req.recursive,
            stream: req.stream,
            since_index,
            tx,
        });
        self.recount(&inner);
        Ok(Watcher {
            start_index,
            events: rx,
        })
    }

    async fn watcher_count(&self) -> Result<u64, ApiError> {
        let mut inner = self.inner.lock();
        inner.sweep_closed();
        self.recount(&inner);
        Ok(self.watcher_count.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_of_a_key() {
        let v: Vec<&str> = ancestors("/a/b/c").collect();
        assert_eq!(v, vec!["/", "/a", "/a/b", "/a/b/c"]);
        let v: Vec<&str> = ancestors("/").collect();
        assert_eq!(v, vec!["/"]);
    }

    #[test]
    fn hidden_detection() {
        assert!(hidden_below("/a", "/a/_h"));
        assert!(hidden_below("/", "/_h/x"));
        assert!(!hidden_below("/a", "/a/b"));
        assert!(!hidden_below("/_a", "/_a/b"));
    }
}
