//! The keyspace's size, kept as it changes: what the quota
//! (`--quota-backend-bytes`) compares, cheap enough to ask after every
//! write. It counts the keys' histories as a snapshot serialises them
//! (bincode: lengths as 8 bytes, numbers fixed-width); the leases, a few
//! bytes each, are left out. Puts and deletes add their entries; a
//! compaction and a restore count everything again (both walk every key
//! anyway).

use crate::key_index::KeyHistory;
use crate::store::Keyspace;

/// The settings and counters ahead of the keys in a snapshot.
const HEADER: u64 = 64;
/// A key in the key list: its length, its entries' count.
const KEY: u64 = 16;
/// An entry: its revision (main, sub), the put-or-delete tag.
const ENTRY: u64 = 17;
/// A put's key-value: two lengths and four numbers.
const KV: u64 = 48;

/// The bytes of a put's entry of `key` with `value`.
pub(crate) fn put_bytes(key: &[u8], value: &[u8]) -> u64 {
    ENTRY + KV + (key.len() + value.len()) as u64
}

/// The bytes of a delete's entry (a tombstone).
pub(crate) const TOMBSTONE_BYTES: u64 = ENTRY;

/// The bytes of a new key in the key list.
pub(crate) fn key_bytes(key: &[u8]) -> u64 {
    KEY + key.len() as u64
}

fn history_bytes(key: &[u8], history: &KeyHistory) -> u64 {
    history
        .entries()
        .iter()
        .map(|e| match &e.kv {
            Some(kv) => put_bytes(&kv.key, &kv.value),
            None => TOMBSTONE_BYTES,
        })
        .sum::<u64>()
        + key_bytes(key)
}

impl Keyspace {
    /// About the bytes a snapshot of the keyspace takes (etcd's backend
    /// size, for the quota).
    pub fn size(&self) -> u64 {
        HEADER + self.size
    }

    /// Counts every key's history again.
    pub(crate) fn recount_size(&mut self) {
        self.size = self.keys.iter().map(|(k, h)| history_bytes(k, h)).sum();
    }
}

#[cfg(test)]
mod tests {
    use crate::{CompactionRequest, Config, DeleteRangeRequest, Keyspace, PutRequest};

    fn serialized(ks: &Keyspace) -> u64 {
        bincode::serialized_size(ks).unwrap()
    }

    #[test]
    fn follows_the_serialised_size_through_writes_and_compaction() {
        let mut ks = Keyspace::new(Config::default());
        for i in 0..50 {
            ks.put(&PutRequest {
                key: format!("key{}", i % 10).into(),
                value: vec![b'x'; i * 10],
                ..Default::default()
            })
            .unwrap();
        }
        ks.delete_range(&DeleteRangeRequest {
            key: b"key1".to_vec(),
            ..Default::default()
        })
        .unwrap();
        let exact = serialized(&ks);
        assert!(ks.size().abs_diff(exact) <= 64, "{} vs {exact}", ks.size());
        let before = ks.size();
        ks.compact(&CompactionRequest {
            revision: ks.revision(),
            physical: false,
        })
        .unwrap();
        assert!(ks.size() < before / 2, "compaction frees: {}", ks.size());
        let exact = serialized(&ks);
        assert!(ks.size().abs_diff(exact) <= 64, "{} vs {exact}", ks.size());
        let restored: Keyspace = bincode::deserialize(&bincode::serialize(&ks).unwrap()).unwrap();
        assert_eq!(restored.size(), ks.size());
    }
}
