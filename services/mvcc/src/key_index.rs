//! One key's history: every put and delete it went through, in revision
//! order (etcd's `keyIndex` and the revisions it points to, in one).
//!
//! A delete is a tombstone entry; the entries from a put after a tombstone on
//! are the key's next generation (etcd's `generation`), so `create_revision`
//! and `version` start over there.

use serde::{Deserialize, Serialize};

use crate::types::KeyValue;

/// A revision: `main` is the keyspace revision of the write, `sub` the
/// change's position inside it (a txn or lease revoke makes several).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

/// One change of a key: a put (`kv` is the key-value as written) or a
/// delete (`kv: None`, a tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub rev: Revision,
    pub kv: Option<KeyValue>,
}

/// The changes of one key, oldest first, back to the last compaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHistory {
    entries: Vec<Entry>,
}

impl KeyHistory {
    pub(crate) fn from_entries(entries: Vec<Entry>) -> Self {
        KeyHistory { entries }
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index of the last entry at or before main revision `at`.
    fn index_at(&self, at: i64) -> Option<usize> {
        self.entries
            .partition_point(|e| e.rev.main <= at)
            .checked_sub(1)
    }

    /// The key-value as of revision `at`, if the key existed then.
    pub(crate) fn get(&self, at: i64) -> Option<&KeyValue> {
        self.index_at(at).and_then(|i| self.entries[i].kv.as_ref())
    }

    /// The key-value now, if the key exists.
    pub(crate) fn latest(&self) -> Option<&KeyValue> {
        self.entries.last().and_then(|e| e.kv.as_ref())
    }

    /// Records a put at `rev` and returns the key-value written.
    pub(crate) fn put(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        lease: i64,
        rev: Revision,
    ) -> KeyValue {
        let (create_revision, version) = match self.latest() {
            Some(prev) => (prev.create_revision, prev.version.saturating_add(1)),
            None => (rev.main, 1),
        };
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision,
            mod_revision: rev.main,
            version,
            value,
            lease,
        };
        self.entries.push(Entry {
            rev,
            kv: Some(kv.clone()),
        });
        kv
    }

    /// Records a delete at `rev` (the caller checked the key exists).
    pub(crate) fn tombstone(&mut self, rev: Revision) {
        self.entries.push(Entry { rev, kv: None });
    }

    /// The entry written at `rev`, if still held.
    pub(crate) fn change_at(&self, rev: Revision) -> Option<&Entry> {
        let i = self.entries.binary_search_by(|e| e.rev.cmp(&rev)).ok()?;
        Some(&self.entries[i])
    }

    /// Drops what a compaction at `at` makes unreadable: every entry before
    /// the last one at or before `at`, and that one too if it is a delete
    /// (even one at `at` itself, as etcd 3.4.23's `keyIndex.compact`
    /// "remove any tombstone" does, so a watch from `at` does not see it).
    /// Returns the revisions dropped at `at` itself, which the watch index
    /// holds.
    pub(crate) fn compact(&mut self, at: i64) -> Vec<Revision> {
        let Some(keep) = self.index_at(at) else {
            return Vec::new();
        };
        let cut = if self.entries[keep].kv.is_none() {
            keep + 1
        } else {
            keep
        };
        self.entries
            .drain(..cut)
            .filter(|e| e.rev.main == at)
            .map(|e| e.rev)
            .collect()
    }
}
