//! The [`Keyspace`]: revisions, puts, deletes and compaction (etcd's
//! `mvcc/kvstore*.go` and `applierV3backend.Put`/`DeleteRange`/`Compaction`).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::key_index::{KeyHistory, Revision};
use crate::lease::Leases;
use crate::range::KeySpan;
use crate::types::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, Event,
    KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader,
};

/// The settings every member must share (they decide answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// The smallest lease TTL granted, in seconds; etcd's is
    /// `ceil(3/2 * election ticks * heartbeat)`, 2 with its defaults
    /// (`--election-timeout 1000 --heartbeat-interval 100`).
    pub min_lease_ttl: i64,
    /// etcd's `--max-txn-ops` (128).
    pub max_txn_ops: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_lease_ttl: 2,
            max_txn_ops: 128,
        }
    }
}

/// What a write answered, and the changes it made, in order (for watchers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied<T> {
    pub response: T,
    pub events: Vec<Event>,
}

/// The v3 keyspace of one member: every key's history back to the last
/// compaction, the revision counters and the leases.
///
/// Every method is deterministic: members applying the same calls in the
/// same order (with the same `now`s) hold equal keyspaces and answer alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyspace {
    pub(crate) config: Config,
    /// The revision of the last write; 1 for an empty keyspace.
    pub(crate) revision: i64,
    /// The last compaction's revision; -1 before any (etcd's
    /// `compactMainRev`).
    pub(crate) compact_revision: i64,
    pub(crate) keys: BTreeMap<Vec<u8>, KeyHistory>,
    /// Every change at or after `compact_revision`, by revision: the index
    /// watchers catch up from. Derived from `keys`.
    pub(crate) log: BTreeMap<Revision, Vec<u8>>,
    pub(crate) leases: Leases,
    /// The histories' bytes (`size.rs`), not serialised.
    pub(crate) size: u64,
    /// Active alarms, by member (`alarm.rs`); not in the keyspace's
    /// serialised form (the member keeps them beside it).
    pub(crate) alarms: std::collections::BTreeSet<crate::alarm::Alarm>,
    /// Users, roles and permissions (`auth.rs`).
    pub(crate) auth: crate::auth::AuthStore,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace::new(Config::default())
    }
}

/// The state of one write (a put, a delete, a txn or a lease revoke): all
/// its changes share the main revision `begin + 1`.
pub(crate) struct Writer {
    begin: i64,
    changes: i64,
    events: Vec<Event>,
}

impl Writer {
    /// The revision a read inside this write sees (etcd's
    /// `storeTxnWrite.Range`).
    pub(crate) fn read_rev(&self) -> i64 {
        if self.changes > 0 {
            self.begin + 1
        } else {
            self.begin
        }
    }

    fn next(&mut self) -> Revision {
        let rev = Revision {
            main: self.begin + 1,
            sub: self.changes,
        };
        self.changes += 1;
        rev
    }
}

/// etcd's `checkPutRequest`.
pub fn validate_put(req: &PutRequest) -> Result<()> {
    if req.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

/// etcd's `checkRangeRequest`.
pub fn validate_range(req: &RangeRequest) -> Result<()> {
    if req.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(())
}

/// etcd's `checkDeleteRequest`.
pub fn validate_delete(req: &DeleteRangeRequest) -> Result<()> {
    if req.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(())
}

impl Keyspace {
    /// An empty keyspace, at revision 1.
    pub fn new(config: Config) -> Self {
        Keyspace {
            config,
            revision: 1,
            compact_revision: -1,
            keys: BTreeMap::new(),
            log: BTreeMap::new(),
            leases: Leases::default(),
            size: 0,
            alarms: Default::default(),
            auth: Default::default(),
        }
    }

    /// The auth store (users, roles, permissions).
    pub fn auth(&self) -> &crate::auth::AuthStore {
        &self.auth
    }

    pub fn config(&self) -> Config {
        self.config
    }

    /// Changes the shared settings (all members at the same point in the
    /// log).
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// The current revision.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The last compaction's revision, -1 if none: reads and watches below
    /// it are refused.
    pub fn compact_revision(&self) -> i64 {
        self.compact_revision
    }

    /// Keys that exist now.
    pub fn key_count(&self) -> usize {
        self.keys.values().filter(|h| h.latest().is_some()).count()
    }

    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// `Range` (a read: nothing changes).
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        validate_range(req)?;
        self.range_at(req, self.revision)
    }

    /// `Put`.
    pub fn put(&mut self, req: &PutRequest) -> Result<Applied<PutResponse>> {
        validate_put(req)?;
        if req.lease != 0 && !self.leases.contains(req.lease) {
            return Err(Error::LeaseNotFound);
        }
        if (req.ignore_value || req.ignore_lease) && self.current(&req.key).is_none() {
            return Err(Error::KeyNotFound);
        }
        let mut w = self.writer();
        let response = self.put_op(&mut w, req);
        Ok(self.finish(w, response))
    }

    /// `DeleteRange`.
    pub fn delete_range(
        &mut self,
        req: &DeleteRangeRequest,
    ) -> Result<Applied<DeleteRangeResponse>> {
        validate_delete(req)?;
        let mut w = self.writer();
        let response = self.delete_op(&mut w, req);
        Ok(self.finish(w, response))
    }

    /// `Compact`: forgets what no read at or after `revision` needs.
    pub fn compact(&mut self, req: &CompactionRequest) -> Result<CompactionResponse> {
        let at = req.revision;
        if at <= self.compact_revision {
            return Err(Error::Compacted);
        }
        if at > self.revision {
            return Err(Error::FutureRev);
        }
        self.compact_revision = at;
        let mut dropped_at = Vec::new();
        self.keys.retain(|_, h| {
            dropped_at.extend(h.compact(at));
            !h.is_empty()
        });
        self.log = self.log.split_off(&Revision { main: at, sub: 0 });
        for rev in dropped_at {
            self.log.remove(&rev);
        }
        self.recount_size();
        Ok(CompactionResponse {
            header: ResponseHeader::at(self.revision),
        })
    }

    fn current(&self, key: &[u8]) -> Option<&KeyValue> {
        self.keys.get(key).and_then(|h| h.latest())
    }

    pub(crate) fn writer(&self) -> Writer {
        Writer {
            begin: self.revision,
            changes: 0,
            events: Vec::new(),
        }
    }

    /// Ends a write: one more revision if it changed anything.
    pub(crate) fn finish<T>(&mut self, w: Writer, response: T) -> Applied<T> {
        if w.changes > 0 {
            self.revision = w.begin + 1;
        }
        Applied {
            response,
            events: w.events,
        }
    }

    /// A put inside a write (etcd's `applierV3backend.Put` with a txn); the
    /// caller checked the request.
    pub(crate) fn put_op(&mut self, w: &mut Writer, req: &PutRequest) -> PutResponse {
        let prev = if req.ignore_value || req.ignore_lease || req.prev_kv {
            self.current(&req.key).cloned()
        } else {
            None
        };
        // A key the checks saw can be gone by now only through a from-key
        // delete earlier in the same txn (etcd 3.4 crashes there); this
        // writes the request as given instead.
        let value = match (&prev, req.ignore_value) {
            (Some(p), true) => p.value.clone(),
            _ => req.value.clone(),
        };
        let lease = match (&prev, req.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => req.lease,
        };
        self.write_put(w, &req.key, value, lease);
        PutResponse {
            header: ResponseHeader::at(w.begin + 1),
            prev_kv: if req.prev_kv { prev } else { None },
        }
    }

    /// A delete inside a write (etcd's `applierV3backend.DeleteRange`).
    pub(crate) fn delete_op(
        &mut self,
        w: &mut Writer,
        req: &DeleteRangeRequest,
    ) -> DeleteRangeResponse {
        let span = KeySpan::new(&req.key, &req.range_end);
        let at = w.read_rev();
        let doomed: Vec<KeyValue> = self.kvs_at(span, at).cloned().collect();
        for kv in &doomed {
            self.write_delete(w, kv);
        }
        let revision = if w.changes > 0 { w.begin + 1 } else { w.begin };
        DeleteRangeResponse {
            header: ResponseHeader::at(revision),
            deleted: doomed.len() as i64,
            prev_kvs: if req.prev_kv { doomed } else { Vec::new() },
        }
    }

    /// Records a put of `key` and moves its lease attachment.
    pub(crate) fn write_put(&mut self, w: &mut Writer, key: &[u8], value: Vec<u8>, lease: i64) {
        let rev = w.next();
        if !self.keys.contains_key(key) {
            self.size += crate::size::key_bytes(key);
        }
        self.size += crate::size::put_bytes(key, &value);
        let history = self.keys.entry(key.to_vec()).or_default();
        let old_lease = history.latest().map_or(0, |p| p.lease);
        history.put(key, value, lease, rev);
        if old_lease != 0 {
            self.leases.detach(old_lease, key);
        }
        if lease != 0 {
            self.leases.attach(lease, key);
        }
        self.log.insert(rev, key.to_vec());
        self.record(w, key, rev);
    }

    /// Adds the event of the change at `rev` to the write's.
    fn record(&self, w: &mut Writer, key: &[u8], rev: Revision) {
        w.events.extend(self.event_at(key, rev));
    }

    /// Records a delete of the existing key-value `prev`.
    pub(crate) fn write_delete(&mut self, w: &mut Writer, prev: &KeyValue) {
        let rev = w.next();
        if let Some(history) = self.keys.get_mut(&prev.key) {
            history.tombstone(rev);
            self.size += crate::size::TOMBSTONE_BYTES;
        }
        if prev.lease != 0 {
            self.leases.detach(prev.lease, &prev.key);
        }
        self.log.insert(rev, prev.key.clone());
        self.record(w, &prev.key, rev);
    }
}
