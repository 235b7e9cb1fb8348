//! A read replica of a keyspace: a copy kept equal to another keyspace's
//! latest state by applying that keyspace's watch events, revision by
//! revision, so that it answers `Range` at the latest revision exactly as
//! the keyspace it follows (a split gateway answers serializable ranges
//! from one, as etcd answers them from whichever member gets them).
//!
//! The events are applied as carried: a put's key-value (its
//! `create_revision`, `mod_revision`, `version`, `lease`) is written as is,
//! a delete drops the key. Nothing is recomputed, so the replica cannot
//! drift from its source by a rule applied differently; each change is
//! still checked against what the replica holds (a put continues the key's
//! generation or starts one, a delete finds the key), and an event that
//! does not fit is a [`ReplicationError`]: the caller loads the keyspace
//! again.
//!
//! Memory stays bounded by the live keys: the replica keeps no history.
//! It is, after every revision, the keyspace it follows compacted at that
//! revision (each key's latest put, deleted keys gone, the watch index
//! holding only the latest revision's changes), which is all a range at
//! the latest revision reads. A range at an older revision is refused as
//! compacted and a later one as a future revision: the caller asks the
//! keyspace itself. Leases are not replicated (grants and renewals are not
//! events); a key's `lease` field is, which is all `Range` answers.

use crate::error::Result;
use crate::key_index::{Entry, KeyHistory, Revision};
use crate::lease::Leases;
use crate::size;
use crate::store::Keyspace;
use crate::types::{Event, EventType, KeyValue, RangeRequest, RangeResponse};

/// Why a replica could not apply a revision. The replica is left part
/// applied: drop it and load the keyspace again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    /// Revisions must come one after the other: every revision of a
    /// keyspace changes at least one key, so a whole-keyspace watch has
    /// events for each.
    #[error("revision {got} does not follow the replica's revision {revision}")]
    OutOfOrder { revision: i64, got: i64 },
    #[error("revision {0} came with no events")]
    NoEvents(i64),
    #[error("an event of revision {revision} is a change at revision {event}")]
    WrongRevision { revision: i64, event: i64 },
    /// A put that neither starts the key (version 1, created now) nor
    /// continues the generation the replica holds, or a delete of a key
    /// the replica does not hold.
    #[error("the change of key {key:?} at revision {revision} does not fit the replica's copy")]
    Diverged { key: String, revision: i64 },
}

/// A keyspace kept at another's latest state from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    ks: Keyspace,
}

impl Replica {
    /// A replica starting from `source` (a member's keyspace, as a snapshot
    /// restores it): its history is compacted away at once and its leases
    /// dropped (the replica would not see them change).
    pub fn new(mut source: Keyspace) -> Replica {
        if source.compact_revision < source.revision {
            let at = crate::types::CompactionRequest {
                revision: source.revision,
                physical: false,
            };
            // Cannot fail: `at` is above the last compaction and not past
            // the current revision.
            let _ = source.compact(&at);
        }
        source.leases = Leases::default();
        Replica { ks: source }
    }

    /// The revision of the last change applied.
    pub fn revision(&self) -> i64 {
        self.ks.revision
    }

    /// Keys that exist now.
    pub fn key_count(&self) -> usize {
        self.ks.keys.len()
    }

    /// `Range` at the latest revision (`revision` 0 or the replica's);
    /// another revision is refused as etcd refuses it after a compaction at
    /// the replica's revision ([`crate::Error::Compacted`] below it,
    /// [`crate::Error::FutureRev`] above).
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        self.ks.range(req)
    }

    /// Applies every change of `revision` (all of its events, in the order
    /// the keyspace made them: a txn's several changes share a revision).
    pub fn apply(
        &mut self,
        revision: i64,
        events: &[Event],
    ) -> std::result::Result<(), ReplicationError> {
        if revision != self.ks.revision + 1 {
            return Err(ReplicationError::OutOfOrder {
                revision: self.ks.revision,
                got: revision,
            });
        }
        if events.is_empty() {
            return Err(ReplicationError::NoEvents(revision));
        }
        // Compacting at `revision` drops every older entry of the watch
        // index; the previous revision's changes are all it held.
        self.ks.log.clear();
        for (sub, e) in events.iter().enumerate() {
            if e.kv.mod_revision != revision {
                return Err(ReplicationError::WrongRevision {
                    revision,
                    event: e.kv.mod_revision,
                });
            }
            let rev = Revision {
                main: revision,
                sub: sub as i64,
            };
            match e.kind {
                EventType::Put => self.put(rev, &e.kv)?,
                EventType::Delete => self.delete(rev, &e.kv.key)?,
            }
        }
        self.ks.revision = revision;
        self.ks.compact_revision = revision;
        Ok(())
    }

    /// Writes `kv` as the key's only entry.
    fn put(&mut self, rev: Revision, kv: &KeyValue) -> std::result::Result<(), ReplicationError> {
        let fits = match self.ks.keys.get(&kv.key).and_then(KeyHistory::latest) {
            None => kv.version == 1 && kv.create_revision == rev.main,
            Some(p) => {
                kv.create_revision == p.create_revision && kv.version == p.version.saturating_add(1)
            }
        };
        if !fits {
            return Err(diverged(&kv.key, rev));
        }
        self.forget(&kv.key, rev.main);
        self.ks.size += size::key_bytes(&kv.key) + size::put_bytes(&kv.key, &kv.value);
        let entry = Entry {
            rev,
            kv: Some(kv.clone()),
        };
        self.ks
            .keys
            .insert(kv.key.clone(), KeyHistory::from_entries(vec![entry]));
        self.ks.log.insert(rev, kv.key.clone());
        Ok(())
    }

    /// Drops a key (a compaction at the delete's revision drops its
    /// tombstone with it).
    fn delete(&mut self, rev: Revision, key: &[u8]) -> std::result::Result<(), ReplicationError> {
        if self.ks.keys.get(key).and_then(KeyHistory::latest).is_none() {
            return Err(diverged(key, rev));
        }
        self.forget(key, rev.main);
        Ok(())
    }

    /// Removes the key's entry, its bytes and, if it was written earlier in
    /// revision `main`, its place in the watch index.
    fn forget(&mut self, key: &[u8], main: i64) {
        let Some(old) = self.ks.keys.remove(key) else {
            return;
        };
        for e in old.entries() {
            if e.rev.main == main {
                self.ks.log.remove(&e.rev);
            }
            self.ks.size -= match &e.kv {
                Some(kv) => size::put_bytes(&kv.key, &kv.value),
                None => size::TOMBSTONE_BYTES,
            };
        }
        self.ks.size -= size::key_bytes(key);
    }
}

fn diverged(key: &[u8], rev: Revision) -> ReplicationError {
    ReplicationError::Diverged {
        key: String::from_utf8_lossy(key).into_owned(),
        revision: rev.main,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{
        compare, request_op, Compare, CompareResult, CompareTarget, DeleteRangeRequest,
        LeaseGrantRequest, PutRequest, RequestOp, SortOrder, SortTarget, TxnRequest,
    };
    use crate::{Command, CompactionRequest, Config, Error, History, Outcome};

    fn put(key: &str, value: &str) -> Command {
        put_leased(key, value, 0)
    }

    fn put_leased(key: &str, value: &str, lease: i64) -> Command {
        Command::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            lease,
            ..Default::default()
        })
    }

    fn delete(key: &str, range_end: &str) -> Command {
        Command::DeleteRange(DeleteRangeRequest {
            key: key.into(),
            range_end: range_end.into(),
            prev_kv: false,
        })
    }

    fn op_put(key: &str, value: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.into(),
                value: value.into(),
                ..Default::default()
            })),
        }
    }

    fn op_delete(key: &str, range_end: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: key.into(),
                    range_end: range_end.into(),
                    prev_kv: false,
                },
            )),
        }
    }

    /// The events a write made, grouped as a watcher receives them.
    fn events_of(outcome: Outcome) -> Vec<Event> {
        match outcome {
            Outcome::Put(a) => a.events,
            Outcome::DeleteRange(a) => a.events,
            Outcome::Txn(a) => a.events,
            Outcome::LeaseRevoke(a) => a.events,
            _ => Vec::new(),
        }
    }

    /// Every range a client might send at the latest revision.
    fn ranges() -> Vec<RangeRequest> {
        let all = |f: fn(&mut RangeRequest)| {
            let mut r = RangeRequest {
                key: b"\0".to_vec(),
                range_end: b"\0".to_vec(),
                ..Default::default()
            };
            f(&mut r);
            r
        };
        vec![
            all(|_| {}),
            all(|r| r.limit = 2),
            all(|r| r.count_only = true),
            all(|r| r.keys_only = true),
            all(|r| {
                r.sort_order = SortOrder::Descend;
                r.sort_target = SortTarget::Mod;
            }),
            all(|r| r.min_create_revision = 3),
            RangeRequest {
                key: b"a".to_vec(),
                ..Default::default()
            },
            RangeRequest {
                key: b"b".to_vec(),
                range_end: b"c".to_vec(),
                ..Default::default()
            },
        ]
    }

    /// The replica answers every range as `member` does, and holds what
    /// `member` compacted at the same revision holds.
    fn assert_same(replica: &Replica, member: &Keyspace) {
        assert_eq!(replica.revision(), member.revision());
        for req in ranges() {
            assert_eq!(replica.range(&req), member.range(&req), "{req:?}");
            let at_rev = RangeRequest {
                revision: member.revision(),
                ..req.clone()
            };
            assert_eq!(replica.range(&at_rev), member.range(&at_rev), "{at_rev:?}");
        }
        let mut compacted = member.clone();
        if compacted.compact_revision() < compacted.revision() {
            compacted
                .compact(&CompactionRequest {
                    revision: member.revision(),
                    physical: false,
                })
                .unwrap();
        }
        assert_eq!(replica.ks.keys, compacted.keys);
        assert_eq!(replica.ks.log, compacted.log);
        assert_eq!(replica.ks.compact_revision, compacted.compact_revision);
        assert_eq!(replica.ks.size(), compacted.size());
    }

    /// A member's writes: puts, overwrites, deletes (single, ranged), txns
    /// with several changes at one revision (a from-key delete and a put
    /// of a deleted key back), leases and their revocation.
    fn writes(lease: i64) -> Vec<Command> {
        vec![
            put("a", "1"),
            put("b1", "x"),
            put("b2", "y"),
            put("a", "2"),
            delete("b1", ""),
            put("b1", "again"),
            Command::Txn(TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Equal,
                    target: CompareTarget::Value,
                    key: b"a".to_vec(),
                    range_end: Vec::new(),
                    target_union: Some(compare::TargetUnion::Value(b"2".to_vec())),
                }],
                success: vec![op_put("c", "3"), op_put("a", "4"), op_delete("b2", "")],
                failure: vec![],
            }),
            Command::Txn(TxnRequest {
                compare: vec![],
                success: vec![op_delete("c", "\0"), op_put("c", "back")],
                failure: vec![],
            }),
            Command::LeaseGrant {
                request: LeaseGrantRequest { ttl: 60, id: lease },
                now: 0,
            },
            put_leased("l1", "v", lease),
            put_leased("l2", "v", lease),
            put("l2", "unleased"),
            put_leased("l3", "v", lease),
            Command::LeaseRevoke { id: lease },
            delete("b", "c"),
            put("z", ""),
        ]
    }

    #[test]
    fn follows_a_member_write_by_write() {
        let mut member = Keyspace::new(Config::default());
        let mut replica = Replica::new(member.clone());
        assert_same(&replica, &member);
        for cmd in writes(7) {
            let events = events_of(member.apply(&cmd).unwrap());
            if !events.is_empty() {
                replica.apply(member.revision(), &events).unwrap();
            }
            assert_same(&replica, &member);
        }
        assert_eq!(replica.key_count(), member.key_count());
    }

    #[test]
    fn follows_a_member_from_its_snapshot_and_history() {
        // Started from a snapshot taken midway (history and leases in it),
        // then fed the history a watcher of the whole keyspace reads.
        let mut member = Keyspace::new(Config::default());
        let cmds = writes(9);
        let (first, rest) = cmds.split_at(10);
        for cmd in first {
            member.apply(cmd).unwrap();
        }
        let snapshot = crate::bbolt::write(&member, 1).unwrap();
        let mut replica = Replica::new(Keyspace::from_bbolt(&snapshot).unwrap());
        assert!(replica.ks.leases.iter().next().is_none());
        assert_same(&replica, &member);
        let from = member.revision() + 1;
        for cmd in rest {
            member.apply(cmd).unwrap();
        }
        let History::Events(events) = member.events_since(b"\0", b"\0", from, 0) else {
            panic!("compacted");
        };
        for revision in events.chunk_by(|a, b| a.kv.mod_revision == b.kv.mod_revision) {
            replica
                .apply(revision[0].kv.mod_revision, revision)
                .unwrap();
        }
        assert_same(&replica, &member);
        // The lease's keys went with it, as deletes at one revision.
        let leased = RangeRequest {
            key: b"l".to_vec(),
            range_end: b"m".to_vec(),
            ..Default::default()
        };
        assert_eq!(replica.range(&leased).unwrap().kvs.len(), 1);
    }

    #[test]
    fn keeps_no_history() {
        let mut member = Keyspace::new(Config::default());
        let mut replica = Replica::new(member.clone());
        for i in 0..1000 {
            let cmd = put(&format!("k{}", i % 10), &"v".repeat(100));
            let events = events_of(member.apply(&cmd).unwrap());
            replica.apply(member.revision(), &events).unwrap();
        }
        assert_eq!(replica.key_count(), 10);
        assert!(replica.ks.keys.values().all(|h| h.entries().len() == 1));
        assert_eq!(replica.ks.log.len(), 1);
        assert!(replica.ks.size() * 50 < member.size());
        // Only the latest revision is read here.
        let old = RangeRequest {
            key: b"k1".to_vec(),
            revision: 5,
            ..Default::default()
        };
        assert_eq!(replica.range(&old), Err(Error::Compacted));
        let future = RangeRequest {
            revision: member.revision() + 1,
            ..old
        };
        assert_eq!(replica.range(&future), Err(Error::FutureRev));
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let mut member = Keyspace::new(Config::default());
        let first = events_of(member.apply(&put("a", "1")).unwrap());
        let second = events_of(member.apply(&put("a", "2")).unwrap());
        let mut replica = Replica::new(Keyspace::new(Config::default()));
        // A gap: revision 3 before 2.
        assert_eq!(
            replica.apply(3, &second),
            Err(ReplicationError::OutOfOrder {
                revision: 1,
                got: 3
            })
        );
        assert_eq!(replica.apply(2, &[]), Err(ReplicationError::NoEvents(2)));
        assert!(matches!(
            replica.apply(2, &second),
            Err(ReplicationError::WrongRevision { .. })
        ));
        // A put continuing a generation the replica never saw.
        let mut fresh = Replica::new(Keyspace::new(Config::default()));
        let mut shifted = second.clone();
        shifted[0].kv.mod_revision = 2;
        assert!(matches!(
            fresh.apply(2, &shifted),
            Err(ReplicationError::Diverged { .. })
        ));
        // A delete of a key it does not hold.
        let mut fresh = Replica::new(Keyspace::new(Config::default()));
        let gone = Event {
            kind: EventType::Delete,
            kv: KeyValue {
                key: b"x".to_vec(),
                mod_revision: 2,
                ..Default::default()
            },
            prev_kv: None,
        };
        assert!(matches!(
            fresh.apply(2, &[gone]),
            Err(ReplicationError::Diverged { .. })
        ));
        replica.apply(2, &first).unwrap();
        replica.apply(3, &second).unwrap();
        assert_same(&replica, &member);
    }
}
