//! The history watchers catch up from (etcd's `watchableStore` sync over
//! `treeIndex.RangeSince`): every change since a revision, in revision order.

use crate::key_index::Revision;
use crate::range::KeySpan;
use crate::store::Keyspace;
use crate::types::{Event, EventType, KeyValue};

/// What the history holds from a start revision on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// The changes, oldest first, each with the value it replaced when that
    /// is still held. A whole revision is never split.
    Events(Vec<Event>),
    /// The start is below the last compaction: etcd cancels such a watch
    /// with this `compact_revision`.
    Compacted { compact_revision: i64 },
}

impl Keyspace {
    /// The changes of keys in `[key, range_end)` (etcd's conventions) at
    /// revisions `>= start`, at most `limit` of them (0: all) but always
    /// whole revisions. A `start` of 0 or less, or past the current
    /// revision, has no changes yet.
    pub fn events_since(&self, key: &[u8], range_end: &[u8], start: i64, limit: usize) -> History {
        if start > 0 && start < self.compact_revision {
            return History::Compacted {
                compact_revision: self.compact_revision,
            };
        }
        let mut events: Vec<Event> = Vec::new();
        if start <= 0 {
            return History::Events(events);
        }
        let span = KeySpan::new(key, range_end);
        let mut last_main = 0;
        for (rev, k) in self.log.range(
            Revision {
                main: start,
                sub: 0,
            }..,
        ) {
            if !span.contains(k) {
                continue;
            }
            if limit > 0 && events.len() >= limit && rev.main != last_main {
                break;
            }
            let Some((entry, prev)) = self.keys.get(k).and_then(|h| h.change_at(*rev)) else {
                continue;
            };
            let (kind, kv) = match &entry.kv {
                Some(kv) => (EventType::Put, kv.clone()),
                None => (
                    EventType::Delete,
                    KeyValue {
                        key: k.clone(),
                        mod_revision: rev.main,
                        ..Default::default()
                    },
                ),
            };
            events.push(Event {
                kind,
                kv,
                prev_kv: prev.cloned(),
            });
            last_main = rev.main;
        }
        History::Events(events)
    }
}
