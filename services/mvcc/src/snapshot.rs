//! The whole keyspace as serde data: what a raft snapshot carries.
//!
//! Serialized: the settings, the revision counters, every key's history,
//! the leases and the auth store. The watch index is rebuilt from the histories on restore.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::auth::AuthStore;
use crate::key_index::{Entry, KeyHistory};
use crate::lease::Leases;
use crate::store::{Config, Keyspace};

#[derive(Serialize)]
struct SnapshotRef<'a> {
    config: Config,
    revision: i64,
    compact_revision: i64,
    keys: Vec<KeyRef<'a>>,
    leases: &'a Leases,
    auth: &'a AuthStore,
}

#[derive(Serialize)]
struct KeyRef<'a> {
    key: &'a Vec<u8>,
    entries: &'a [Entry],
}

#[derive(Deserialize)]
struct Snapshot {
    config: Config,
    revision: i64,
    compact_revision: i64,
    keys: Vec<KeyOwned>,
    leases: Leases,
    auth: AuthStore,
}

#[derive(Deserialize)]
struct KeyOwned {
    key: Vec<u8>,
    entries: Vec<Entry>,
}

impl Serialize for Keyspace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SnapshotRef {
            config: self.config,
            revision: self.revision,
            compact_revision: self.compact_revision,
            keys: self
                .keys
                .iter()
                .map(|(key, h)| KeyRef {
                    key,
                    entries: h.entries(),
                })
                .collect(),
            leases: &self.leases,
            auth: &self.auth,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Keyspace {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let snap = Snapshot::deserialize(deserializer)?;
        let mut ks = Keyspace::new(snap.config);
        ks.revision = snap.revision;
        ks.compact_revision = snap.compact_revision;
        ks.leases = snap.leases;
        ks.auth = snap.auth;
        for KeyOwned { key, mut entries } in snap.keys {
            entries.sort_by_key(|e| e.rev);
            for e in &entries {
                if e.rev.main >= ks.compact_revision {
                    ks.log.insert(e.rev, key.clone());
                }
            }
            if !entries.is_empty() {
                ks.keys.insert(key, KeyHistory::from_entries(entries));
            }
        }
        ks.recount_size();
        Ok(ks)
    }
}
