//! The history watchers catch up from (etcd's `watchableStore` sync over
//! `treeIndex.RangeSince`): every change since a revision, in revision order.

use crate::key_index::{Entry, KeyHistory, Revision};
use crate::range::KeySpan;
use crate::store::Keyspace;
use crate::types::{Event, EventType, KeyValue};

/// What the history holds from a start revision on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// The changes, oldest first, each with its `prev_kv` as etcd's watch
    /// gives it: none for a put creating the key, otherwise the key at the
    /// revision before if not compacted. A whole revision is never split.
    Events(Vec<Event>),
    /// The start is below the last compaction: etcd cancels such a watch
    /// with this `compact_revision`.
    Compacted { compact_revision: i64 },
}

impl Keyspace {
    /// The event of the change of `key` at `rev`, as a watcher sees it.
    pub(crate) fn event_at(&self, key: &[u8], rev: Revision) -> Option<Event> {
        let history = self.keys.get(key)?;
        let entry = history.change_at(rev)?;
        let (kind, kv) = match &entry.kv {
            Some(kv) => (EventType::Put, kv.clone()),
            None => (
                EventType::Delete,
                KeyValue {
                    key: key.to_vec(),
                    mod_revision: rev.main,
                    ..Default::default()
                },
            ),
        };
        let prev_kv = self.prev_kv(history, entry).cloned();
        Some(Event { kind, kv, prev_kv })
    }

    /// An event's `prev_kv` as etcd 3.4's watch fills it: none for a put
    /// creating the key (version 1); otherwise the key read at the revision
    /// before the change, if that is not compacted. (A txn that deletes a
    /// key from-key and puts it back yields both events, the put without
    /// `prev_kv`.)
    pub(crate) fn prev_kv<'s>(
        &'s self,
        history: &'s KeyHistory,
        entry: &Entry,
    ) -> Option<&'s KeyValue> {
        let creates = entry.kv.as_ref().is_some_and(|kv| kv.version == 1);
        let before = entry.rev.main - 1;
        if creates || before < self.compact_revision {
            None
        } else {
            history.get(before)
        }
    }

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
            let Some(event) = self.event_at(k, *rev) else {
                continue;
            };
            events.push(event);
            last_main = rev.main;
        }
        History::Events(events)
    }
}
