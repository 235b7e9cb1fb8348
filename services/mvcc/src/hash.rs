//! `HashKV`: a checksum of the keyspace's history up to a revision, so that
//! operators (and `etcdctl endpoint hashkv`) can check that members which
//! applied the same log hold the same data.
//!
//! Computed as etcd 3.4's `store.HashByRev` computes it, so a Concord
//! member and an etcd member that applied the same writes print the same
//! hash: CRC-32C (Castagnoli) of the key bucket's name, then of each row of
//! the key bucket of the backend (the revision as bolt key, the
//! `mvccpb.KeyValue` as value: [`crate::bbolt::key_bucket_rows`]) in bolt's
//! key order, up to `revision`. A row at or below the last compaction
//! counts only if it is what a read at `revision` sees of its key
//! (`kvindex.Keep(revision)`), so members that compacted at different times
//! agree; when nothing is kept, etcd counts them all, and so does this.

use std::collections::HashSet;

use crate::bbolt::{key_bucket_rows, KEY_BUCKET};
use crate::error::{Error, Result};
use crate::key_index::Revision;
use crate::store::Keyspace;

impl Keyspace {
    /// The hash of the history up to `revision` (0: the current one) and
    /// the compaction revision; etcd's errors for a revision compacted
    /// away (at or below the compaction) or not yet written.
    pub fn hash_kv(&self, revision: i64) -> Result<(u32, i64)> {
        if revision > 0 && revision <= self.compact_revision {
            return Err(Error::Compacted);
        }
        if revision > self.revision {
            return Err(Error::FutureRev);
        }
        let upto = if revision <= 0 {
            self.revision
        } else {
            revision
        };
        // kvindex.Keep(upto): each key's last change at or below `upto`,
        // unless that change removed it.
        let keep: HashSet<Revision> = self
            .keys
            .values()
            .filter_map(|h| h.entries().iter().rev().find(|e| e.rev.main <= upto))
            .filter(|e| e.kv.is_some())
            .map(|e| e.rev)
            .collect();
        let mut crc = crc32c::crc32c(KEY_BUCKET);
        for (rev, key, value) in key_bucket_rows(self) {
            if rev.main > upto {
                continue;
            }
            if rev.main <= self.compact_revision && !keep.is_empty() && !keep.contains(&rev) {
                continue;
            }
            crc = crc32c::crc32c_append(crc, &key);
            crc = crc32c::crc32c_append(crc, &value);
        }
        Ok((crc, self.compact_revision))
    }
}
