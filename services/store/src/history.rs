//! The watch history: the last N events across all keys (etcd keeps 1000),
//! scanned as etcd's `EventHistory.scan` does.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::{Action, Error, ErrorCode, Event};

/// A ring of the most recent events, scanned by `waitIndex` watches.
#[derive(Debug, Clone)]
pub struct EventHistory {
    capacity: usize,
    events: VecDeque<Arc<Event>>,
}

impl EventHistory {
    pub fn new(capacity: usize) -> Self {
        EventHistory {
            capacity: capacity.max(1),
            events: VecDeque::with_capacity(capacity.max(1)),
        }
    }

    /// Records an event (events arrive in index order).
    pub fn add(&mut self, event: Arc<Event>) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// The first event at or after `index` that a watcher on `key`
    /// (`recursive` or not) would see; `Ok(None)` if none happened yet;
    /// errorCode 401 if `index` is older than the history holds. The error's
    /// index is left at 0 for the caller to fill with the store index.
    pub fn scan(
        &self,
        key: &str,
        recursive: bool,
        index: u64,
    ) -> Result<Option<Arc<Event>>, Error> {
        let start = self.start_index();
        if index < start {
            return Err(Error::new(
                ErrorCode::EventIndexCleared,
                format!("the requested history has been cleared [{start}/{index}]"),
                0,
            ));
        }
        if index > self.last_index() {
            return Ok(None);
        }
        let prefix = if key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        let from = self.events.partition_point(|e| e.index() < index);
        for e in self.events.iter().skip(from) {
            if e.refresh {
                continue;
            }
            let mut ok = e.node.key == key || (recursive && e.node.key.starts_with(&prefix));
            // Deleting or expiring a directory also ends watches below it.
            if matches!(e.action, Action::Delete | Action::Expire) {
                if let Some(prev) = &e.prev_node {
                    if prev.dir && key.starts_with(&prev.key) {
                        ok = true;
                    }
                }
            }
            if ok {
                return Ok(Some(e.clone()));
            }
        }
        Ok(None)
    }

    /// Index of the oldest event held (0 when empty).
    pub fn start_index(&self) -> u64 {
        self.events.front().map_or(0, |e| e.index())
    }

    /// Index of the newest event held (0 when empty).
    pub fn last_index(&self) -> u64 {
        self.events.back().map_or(0, |e| e.index())
    }
}
