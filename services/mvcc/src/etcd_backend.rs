//! A keyspace rebuilt from etcd's own backend: the bolt file an etcd 3.4
//! member keeps (`member/snap/db`) and `etcdctl snapshot save` stores. This
//! is what lets `snapshot restore` take a file saved from etcd, so a
//! cluster moves from etcd to Concord with its data, revisions included.
//!
//! Read as etcd's `store.restore` reads it: every row of the `key` bucket
//! (a revision, `t`-marked for a tombstone, then the `mvccpb.KeyValue`) is
//! one change of its key; the current revision is the last row's, or the
//! compaction's if that is later; `finishedCompactRev` in `meta` is the
//! compaction, and a compaction scheduled but not finished is finished
//! here (etcd resumes it on start). The `lease` bucket's leases come back
//! with the keys whose latest value names them, and no clock: they expire
//! only once a leader promotes them (etcd's lessor recovers them "forever"
//! until `Promote`). etcd's other buckets (members, auth, alarms) are not
//! the keyspace's.

use std::collections::BTreeMap;

use crate::bbolt::{BboltError, Reader, KEY_BUCKET, LEASE_BUCKET, META_BUCKET};
use crate::key_index::{Entry, KeyHistory, Revision};
use crate::store::{Config, Keyspace};
use crate::types::{CompactionRequest, KeyValue};

impl Keyspace {
    /// The keyspace of an etcd backend file (see the module doc).
    pub fn from_etcd_backend(bytes: &[u8]) -> Result<Keyspace, BboltError> {
        let db = Reader::new(bytes)?;
        let mut histories: BTreeMap<Vec<u8>, Vec<Entry>> = BTreeMap::new();
        let mut last = 0i64;
        for (k, v) in db.entries(KEY_BUCKET)? {
            let rev = revision_of(k).ok_or_else(|| bad("a key bucket row's revision", k))?;
            let kv = decode_key_value(v).ok_or_else(|| bad("a key bucket row's value", k))?;
            let tombstone = k.len() == 18 && k[17] == b't';
            last = last.max(rev.main);
            let key = kv.key.clone();
            histories.entry(key).or_default().push(Entry {
                rev,
                kv: (!tombstone).then_some(kv),
            });
        }
        let mark = |name: &[u8]| -> Result<Option<i64>, BboltError> {
            match db.get(META_BUCKET, name) {
                Ok(v) => revision_of(v)
                    .map(|r| Some(r.main))
                    .ok_or_else(|| bad("a compaction mark", name)),
                Err(BboltError::NoKey { .. } | BboltError::NoBucket(_)) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let finished = mark(b"finishedCompactRev")?;
        let scheduled = mark(b"scheduledCompactRev")?;

        let mut ks = Keyspace::new(Config::default());
        match db.entries(LEASE_BUCKET) {
            Ok(rows) => {
                for (k, v) in rows {
                    let (id, ttl) = decode_lease(v).ok_or_else(|| bad("a lease", k))?;
                    ks.leases.restore(id, ttl);
                }
            }
            Err(BboltError::NoBucket(_)) => {}
            Err(e) => return Err(e),
        }
        ks.compact_revision = finished.unwrap_or(-1);
        ks.revision = last.max(ks.compact_revision).max(1);
        for (key, mut entries) in histories {
            entries.sort_by_key(|e| e.rev);
            for e in &entries {
                if e.rev.main >= ks.compact_revision {
                    ks.log.insert(e.rev, key.clone());
                }
            }
            // A key's latest value names its lease; a lease the file does
            // not hold is not attached (etcd warns and goes on).
            if let Some(kv) = entries.last().and_then(|e| e.kv.as_ref()) {
                ks.leases.attach(kv.lease, &key);
            }
            ks.keys.insert(key, KeyHistory::from_entries(entries));
        }
        ks.recount_size();
        if let Some(at) = scheduled.filter(|&s| s > ks.compact_revision) {
            ks.compact(&CompactionRequest {
                revision: at,
                physical: true,
            })
            .map_err(|e| BboltError::Decode(format!("finishing the compaction at {at}: {e}")))?;
        }
        Ok(ks)
    }
}

fn bad(what: &str, key: &[u8]) -> BboltError {
    BboltError::Decode(format!("{what} does not decode (key {key:02x?})"))
}

/// etcd's `bytesToRev`: 8 bytes big-endian main, `_`, 8 bytes sub (and a
/// `t` after a tombstone's).
fn revision_of(k: &[u8]) -> Option<Revision> {
    if k.len() < 17 || k[8] != b'_' {
        return None;
    }
    Some(Revision {
        main: i64::from_be_bytes(k[0..8].try_into().ok()?),
        sub: i64::from_be_bytes(k[9..17].try_into().ok()?),
    })
}

/// Protobuf fields of a message: (number, varint or bytes).
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn fields(mut b: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let tag = varint(&mut b)?;
        let field = match tag & 7 {
            0 => Field::Varint(varint(&mut b)?),
            2 => {
                let len = usize::try_from(varint(&mut b)?).ok()?;
                let (bytes, rest) = (b.get(..len)?, b.get(len..)?);
                b = rest;
                Field::Bytes(bytes)
            }
            _ => return None,
        };
        out.push((tag >> 3, field));
    }
    Some(out)
}

fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// `mvccpb.KeyValue`.
fn decode_key_value(b: &[u8]) -> Option<KeyValue> {
    let mut kv = KeyValue::default();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => kv.key = x.to_vec(),
            (2, Field::Varint(x)) => kv.create_revision = x as i64,
            (3, Field::Varint(x)) => kv.mod_revision = x as i64,
            (4, Field::Varint(x)) => kv.version = x as i64,
            (5, Field::Bytes(x)) => kv.value = x.to_vec(),
            (6, Field::Varint(x)) => kv.lease = x as i64,
            _ => {}
        }
    }
    Some(kv)
}

/// `leasepb.Lease`: its ID and granted TTL (`RemainingTTL`, a checkpoint,
/// is not kept: the lease starts over at its TTL, as etcd's recovered
/// leases do without checkpointing).
fn decode_lease(b: &[u8]) -> Option<(i64, i64)> {
    let (mut id, mut ttl) = (0, 0);
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Varint(x)) => id = x as i64,
            (2, Field::Varint(x)) => ttl = x as i64,
            _ => {}
        }
    }
    Some((id, ttl))
}
