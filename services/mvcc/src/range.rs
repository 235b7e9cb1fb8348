//! Reading the keyspace: key ranges and the `Range` call (etcd's
//! `applierV3backend.Range` over `storeTxnRead.rangeKeys`).

use std::cmp::Ordering;
use std::ops::Bound;

use crate::error::{Error, Result};
use crate::key_index::KeyHistory;
use crate::store::Keyspace;
use crate::types::{KeyValue, RangeRequest, RangeResponse, ResponseHeader, SortOrder, SortTarget};

/// The keys a `key` / `range_end` pair names, by etcd's conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpan<'a> {
    /// `range_end` empty: the key alone.
    Single(&'a [u8]),
    /// `range_end` `"\0"`: every key at or after the key.
    From(&'a [u8]),
    /// `[key, range_end)`; nothing when `range_end <= key`.
    Between(&'a [u8], &'a [u8]),
}

type Bounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

impl<'a> KeySpan<'a> {
    pub fn new(key: &'a [u8], range_end: &'a [u8]) -> Self {
        match range_end {
            [] => KeySpan::Single(key),
            [0] => KeySpan::From(key),
            end => KeySpan::Between(key, end),
        }
    }

    pub fn contains(&self, k: &[u8]) -> bool {
        match *self {
            KeySpan::Single(key) => k == key,
            KeySpan::From(key) => k >= key,
            KeySpan::Between(key, end) => k >= key && k < end,
        }
    }

    fn bounds(&self) -> Option<Bounds<'a>> {
        match *self {
            KeySpan::Single(key) => Some((Bound::Included(key), Bound::Included(key))),
            KeySpan::From(key) => Some((Bound::Included(key), Bound::Unbounded)),
            KeySpan::Between(key, end) if end > key => {
                Some((Bound::Included(key), Bound::Excluded(end)))
            }
            KeySpan::Between(..) => None,
        }
    }
}

impl Keyspace {
    /// The histories of the keys in `span`, in key order.
    pub(crate) fn histories<'s>(
        &'s self,
        span: KeySpan<'_>,
    ) -> impl Iterator<Item = (&'s Vec<u8>, &'s KeyHistory)> + 's {
        span.bounds()
            .map(|b| self.keys.range::<[u8], _>(b))
            .into_iter()
            .flatten()
    }

    /// The key-values in `span` as of revision `at`, in key order.
    pub(crate) fn kvs_at<'s>(
        &'s self,
        span: KeySpan<'_>,
        at: i64,
    ) -> impl Iterator<Item = &'s KeyValue> + 's {
        self.histories(span).filter_map(move |(_, h)| h.get(at))
    }

    /// `Range` as seen by a reader whose current revision is `current`
    /// (the keyspace's, or a txn's after its own writes).
    pub(crate) fn range_at(&self, req: &RangeRequest, current: i64) -> Result<RangeResponse> {
        if req.revision > current {
            return Err(Error::FutureRev);
        }
        let at = if req.revision <= 0 {
            current
        } else {
            req.revision
        };
        if at < self.compact_revision {
            return Err(Error::Compacted);
        }
        let span = KeySpan::new(&req.key, &req.range_end);
        let header = ResponseHeader::at(current);
        if req.count_only {
            let count = self.kvs_at(span, at).count();
            return Ok(RangeResponse {
                header,
                count: count as i64,
                ..Default::default()
            });
        }

        let filtered = req.min_mod_revision != 0
            || req.max_mod_revision != 0
            || req.min_create_revision != 0
            || req.max_create_revision != 0;
        // As etcd: without sort or filters, read limit + 1 in key order (the
        // extra one tells `more`); otherwise read all, then sort and cut.
        let read_cap = if req.sort_order != SortOrder::None || filtered || req.limit <= 0 {
            usize::MAX
        } else {
            usize::try_from(req.limit)
                .unwrap_or(usize::MAX)
                .saturating_add(1)
        };
        let mut count: i64 = 0;
        let mut kvs = Vec::new();
        for kv in self.kvs_at(span, at) {
            count += 1;
            if kvs.len() < read_cap {
                kvs.push(kv.clone());
            }
        }

        kvs.retain(|kv| {
            (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
                && (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
                && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
                && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
        });

        let order = match (req.sort_order, req.sort_target) {
            (SortOrder::None, SortTarget::Key) => SortOrder::None,
            (SortOrder::None, _) => SortOrder::Ascend,
            (order, _) => order,
        };
        let by = |a: &KeyValue, b: &KeyValue| -> Ordering {
            match req.sort_target {
                SortTarget::Key => a.key.cmp(&b.key),
                SortTarget::Version => a.version.cmp(&b.version),
                SortTarget::Create => a.create_revision.cmp(&b.create_revision),
                SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
                SortTarget::Value => a.value.cmp(&b.value),
            }
        };
        // Stable, so ties stay in key order, as etcd's sort leaves them for
        // up to 12 results (its insertion sort); beyond that Go's order of
        // ties is its pdqsort's.
        match order {
            SortOrder::None => {}
            SortOrder::Ascend => kvs.sort_by(by),
            SortOrder::Descend => kvs.sort_by(|a, b| by(b, a)),
        }

        let mut more = false;
        if req.limit > 0 {
            let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
            if kvs.len() > limit {
                kvs.truncate(limit);
                more = true;
            }
        }
        if req.keys_only {
            for kv in &mut kvs {
                kv.value = Vec::new();
            }
        }
        Ok(RangeResponse {
            header,
            kvs,
            more,
            count,
        })
    }
}
