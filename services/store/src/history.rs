//! The watch history: the last N events across all keys (etcd keeps 1000).

use std::sync::Arc;

use crate::{Error, Event};

/// A ring of the most recent events, scanned by `waitIndex` watches.
#[derive(Debug, Clone)]
pub struct EventHistory {
    _capacity: usize,
}

impl EventHistory {
    pub fn new(capacity: usize) -> Self {
        let _ = capacity;
        todo!()
    }

    /// Records an event (events arrive in index order).
    pub fn add(&mut self, event: Arc<Event>) {
        let _ = event;
        todo!()
    }

    /// The first event at or after `index` that a watcher on `key`
    /// (`recursive` or not) would see; `Ok(None)` if none happened yet;
    /// errorCode 401 if `index` is older than the history holds.
    pub fn scan(&self, key: &str, recursive: bool, index: u64) -> Result<Option<Arc<Event>>, Error> {
        let _ = (key, recursive, index);
        todo!()
    }

    /// Index of the oldest event held (0 when empty).
    pub fn start_index(&self) -> u64 {
        todo!()
    }

    /// Index of the newest event held (0 when empty).
    pub fn last_index(&self) -> u64 {
        todo!()
    }
}
