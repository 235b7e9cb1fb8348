//! `HashKV`: a checksum of the keyspace's history up to a revision, so that
//! operators (and `etcdctl endpoint hashkv`) can check that members which
//! applied the same log hold the same data.
//!
//! etcd hashes its bolt backend's keys and values with CRC-32; the bytes
//! differ from Concord's, so only members of one cluster compare equal.
//! Hashed, in key order: every change of every key in
//! `(compact_revision, revision]`, plus the one change each key keeps at the
//! compaction (what a read at the compaction revision still sees).

use crate::store::Keyspace;

impl Keyspace {
    /// The CRC-32 of the history up to `revision` (0: the current one) and
    /// the compaction revision it starts after.
    pub fn hash_kv(&self, revision: i64) -> (u32, i64) {
        let upto = if revision <= 0 {
            self.revision
        } else {
            revision
        };
        let mut hasher = crc32fast::Hasher::new();
        for (key, history) in &self.keys {
            for entry in history.entries() {
                if entry.rev.main > upto {
                    break;
                }
                hasher.update(key);
                hasher.update(&entry.rev.main.to_be_bytes());
                hasher.update(&entry.rev.sub.to_be_bytes());
                match &entry.kv {
                    Some(kv) => {
                        hasher.update(&kv.value);
                        hasher.update(&kv.create_revision.to_be_bytes());
                        hasher.update(&kv.version.to_be_bytes());
                        hasher.update(&kv.lease.to_be_bytes());
                    }
                    // A tombstone hashes as a marker only.
                    None => hasher.update(b"\0tombstone"),
                }
            }
        }
        (hasher.finalize(), self.compact_revision)
    }
}
