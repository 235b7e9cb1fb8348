//! Random puts, deletes, txns and compactions against a simple model: the
//! whole key-value map at every revision. After every step the keyspace
//! must answer reads at any revision as the model's map at that revision
//! (or refuse it as compacted), replay its history from any start into the
//! current map, and survive a snapshot round trip unchanged.

mod support;

use std::collections::BTreeMap;

use concord_mvcc::compare::TargetUnion;
use concord_mvcc::*;
use support::*;

/// xorshift64*: a small deterministic generator, seeded per run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

type Map = BTreeMap<Vec<u8>, KeyValue>;

struct Model {
    /// `states[r]`: the map at revision r (`states[0]` unused).
    states: Vec<Map>,
    compact: i64,
}

impl Model {
    fn rev(&self) -> i64 {
        self.states.len() as i64 - 1
    }
    fn now(&self) -> &Map {
        self.states.last().unwrap()
    }
}

fn in_span(k: &[u8], key: &[u8], end: &[u8]) -> bool {
    match end {
        [] => k == key,
        [0] => k >= key,
        _ => k >= key && k < end,
    }
}

/// Applies a put to `map` at revision `rev`.
fn model_put(map: &mut Map, key: &[u8], value: Vec<u8>, rev: i64) {
    let (create, version) = match map.get(key) {
        Some(old) => (old.create_revision, old.version + 1),
        None => (rev, 1),
    };
    map.insert(
        key.to_vec(),
        KeyValue {
            key: key.to_vec(),
            create_revision: create,
            mod_revision: rev,
            version,
            value,
            lease: 0,
        },
    );
}

fn model_compare(map: &Map, c: &Compare) -> bool {
    let kvs: Vec<&KeyValue> = map
        .values()
        .filter(|kv| in_span(&kv.key, &c.key, &c.range_end))
        .collect();
    let one = |kv: &KeyValue| {
        let ord = match (&c.target, &c.target_union) {
            (CompareTarget::Value, Some(TargetUnion::Value(v))) => kv.value.cmp(v),
            (CompareTarget::Version, Some(TargetUnion::Version(v))) => kv.version.cmp(v),
            (CompareTarget::Create, Some(TargetUnion::CreateRevision(v))) => {
                kv.create_revision.cmp(v)
            }
            (CompareTarget::Mod, Some(TargetUnion::ModRevision(v))) => kv.mod_revision.cmp(v),
            _ => unreachable!("the generator pairs target and union"),
        };
        match c.result {
            CompareResult::Equal => ord.is_eq(),
            CompareResult::NotEqual => ord.is_ne(),
            CompareResult::Greater => ord.is_gt(),
            CompareResult::Less => ord.is_lt(),
        }
    };
    if kvs.is_empty() {
        return c.target != CompareTarget::Value && one(&KeyValue::default());
    }
    kvs.into_iter().all(one)
}

fn random_key(rng: &mut Rng) -> &'static str {
    KEYS[rng.below(KEYS.len() as u64) as usize]
}

/// A key range: a single key, [k, k2), or from k on.
fn random_span(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let k = b(random_key(rng));
    match rng.below(3) {
        0 => (k, vec![]),
        1 => (k, b(random_key(rng))),
        _ => (k, vec![0]),
    }
}

fn random_compare(rng: &mut Rng, rev: i64) -> Compare {
    let (key, range_end) = random_span(rng);
    let n = rng.below(rev as u64 + 2) as i64;
    let (target, union) = match rng.below(4) {
        0 => (
            CompareTarget::Value,
            TargetUnion::Value(b(&rng.below(3).to_string())),
        ),
        1 => (CompareTarget::Version, TargetUnion::Version(n % 4)),
        2 => (CompareTarget::Create, TargetUnion::CreateRevision(n)),
        _ => (CompareTarget::Mod, TargetUnion::ModRevision(n)),
    };
    let result = [
        CompareResult::Equal,
        CompareResult::NotEqual,
        CompareResult::Greater,
        CompareResult::Less,
    ][rng.below(4) as usize];
    Compare {
        result,
        target,
        key,
        range_end,
        target_union: Some(union),
    }
}

/// A branch: puts and single-key deletes of keys no other op of the txn
/// (nested ones included) writes, from-key deletes, ranges and, above
/// `depth` 0, nested txns, so etcd's duplicate check passes.
fn random_branch(
    rng: &mut Rng,
    used: &mut Vec<&'static str>,
    rev: i64,
    depth: u32,
) -> Vec<RequestOp> {
    let mut ops = Vec::new();
    for _ in 0..rng.below(4) {
        let k = random_key(rng);
        let op = match rng.below(5) {
            0 | 1 if !used.contains(&k) => {
                used.push(k);
                op_put(k, &rng.below(3).to_string())
            }
            2 if !used.contains(&k) => {
                used.push(k);
                op_del(k, "")
            }
            3 if rng.chance(30) => op_del(k, "\0"),
            4 if depth > 0 => op_txn(random_txn(rng, used, rev, depth - 1)),
            _ => {
                let (key, range_end) = random_span(rng);
                RequestOp {
                    request: Some(request_op::Request::RequestRange(RangeRequest {
                        key,
                        range_end,
                        ..Default::default()
                    })),
                }
            }
        };
        ops.push(op);
    }
    ops
}

fn random_txn(rng: &mut Rng, used: &mut Vec<&'static str>, rev: i64, depth: u32) -> TxnRequest {
    TxnRequest {
        compare: (0..rng.below(3))
            .map(|_| random_compare(rng, rev))
            .collect(),
        success: random_branch(rng, used, rev, depth),
        failure: random_branch(rng, used, rev, depth),
    }
}

/// Runs a txn on the model's `map` at revision `rev`: its compares against
/// `before` (the map before the txn, as etcd decides every branch first);
/// true if it wrote.
fn model_txn(before: &Map, map: &mut Map, t: &TxnRequest, rev: i64) -> bool {
    let succeeded = t.compare.iter().all(|c| model_compare(before, c));
    let ops = if succeeded { &t.success } else { &t.failure };
    let mut wrote = false;
    for op in ops {
        match &op.request {
            Some(request_op::Request::RequestPut(p)) => {
                model_put(map, &p.key, p.value.clone(), rev);
                wrote = true;
            }
            Some(request_op::Request::RequestDeleteRange(d)) => {
                let before = map.len();
                map.retain(|k, _| !in_span(k, &d.key, &d.range_end));
                wrote |= map.len() != before;
            }
            Some(request_op::Request::RequestTxn(nested)) => {
                wrote |= model_txn(before, map, nested, rev);
            }
            _ => {}
        }
    }
    wrote
}

fn check(ks: &Keyspace, m: &Model, rng: &mut Rng) {
    assert_eq!(ks.revision(), m.rev());
    assert_eq!(ks.compact_revision(), m.compact);
    // reads at a few revisions, the current one always
    let mut revs = vec![0];
    for _ in 0..3 {
        revs.push(1 + rng.below(m.rev() as u64) as i64);
    }
    for r in revs {
        let got = ks.range(&RangeRequest {
            key: vec![0],
            range_end: vec![0],
            revision: r,
            ..Default::default()
        });
        let at = if r == 0 { m.rev() } else { r };
        if at < m.compact {
            assert_eq!(got.unwrap_err(), Error::Compacted);
            continue;
        }
        let want: Vec<KeyValue> = m.states[at as usize].values().cloned().collect();
        let got = got.unwrap();
        assert_eq!(got.kvs, want, "range at {at}");
        assert_eq!(got.count, want.len() as i64);
        // a random sub-range with a limit agrees too
        let (key, range_end) = random_span(rng);
        let limit = rng.below(4) as i64;
        let got = ks
            .range(&RangeRequest {
                key: key.clone(),
                range_end: range_end.clone(),
                revision: r,
                limit,
                ..Default::default()
            })
            .unwrap();
        let all: Vec<&KeyValue> = m.states[at as usize]
            .values()
            .filter(|kv| in_span(&kv.key, &key, &range_end))
            .collect();
        assert_eq!(got.count, all.len() as i64);
        let shown = if limit > 0 {
            all.len().min(limit as usize)
        } else {
            all.len()
        };
        assert_eq!(got.kvs.iter().collect::<Vec<_>>(), all[..shown].to_vec());
        assert_eq!(got.more, shown < all.len());
    }
    // the history from a random start replays into the current map
    let start = 1 + rng.below(m.rev() as u64 + 1) as i64;
    match ks.events_since(&[0], &[0], start, 0) {
        History::Compacted { compact_revision } => {
            assert!(start < m.compact);
            assert_eq!(compact_revision, m.compact);
        }
        History::Events(events) => {
            assert!(start >= m.compact);
            // From the compaction revision itself the history holds no
            // deletes at it (etcd drops those tombstones), so replay from
            // the map at that revision, after checking its puts.
            let from = if start == m.compact { start } else { start - 1 };
            let mut map = m.states[from as usize].clone();
            let (at_start, events): (Vec<Event>, Vec<Event>) = events
                .into_iter()
                .partition(|e| start == m.compact && e.kv.mod_revision == start);
            for e in at_start {
                assert_eq!(e.kind, EventType::Put);
                assert_eq!(map.get(&e.kv.key), Some(&e.kv));
            }
            let mut last = 0;
            for e in events {
                assert!(e.kv.mod_revision >= start && e.kv.mod_revision >= last);
                last = e.kv.mod_revision;
                let before = &m.states[(last - 1) as usize];
                let want_prev = match e.kind {
                    EventType::Put if e.kv.version == 1 => None,
                    _ if last - 1 < m.compact => None,
                    _ => before.get(&e.kv.key).cloned(),
                };
                assert_eq!(e.prev_kv, want_prev, "prev_kv of {e:?}");
                match e.kind {
                    EventType::Put => map.insert(e.kv.key.clone(), e.kv),
                    EventType::Delete => map.remove(&e.kv.key),
                };
            }
            assert_eq!(&map, m.now());
        }
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = Rng(seed | 1);
    let mut ks = Keyspace::default();
    let mut m = Model {
        states: vec![Map::new(), Map::new()],
        compact: -1,
    };
    for step in 0..steps {
        let rev = m.rev();
        match rng.below(10) {
            0..=3 => {
                let k = random_key(&mut rng);
                let mut p = put_req(k, &rng.below(3).to_string());
                p.prev_kv = rng.chance(50);
                if rng.chance(10) {
                    p.ignore_value = true;
                    p.value.clear();
                }
                let got = ks.put(&p);
                let old = m.now().get(&p.key).cloned();
                if p.ignore_value && old.is_none() {
                    assert_eq!(got.unwrap_err(), Error::KeyNotFound);
                } else {
                    let got = got.unwrap();
                    let value = if p.ignore_value {
                        old.clone().unwrap().value
                    } else {
                        p.value.clone()
                    };
                    let mut map = m.now().clone();
                    model_put(&mut map, &p.key, value, rev + 1);
                    assert_eq!(got.response.header.revision, rev + 1);
                    assert_eq!(got.response.prev_kv, if p.prev_kv { old } else { None });
                    assert_eq!(got.events.len(), 1);
                    m.states.push(map);
                }
            }
            4 | 5 => {
                let (key, range_end) = random_span(&mut rng);
                let got = ks
                    .delete_range(&DeleteRangeRequest {
                        key: key.clone(),
                        range_end: range_end.clone(),
                        prev_kv: true,
                    })
                    .unwrap();
                let mut map = m.now().clone();
                let gone: Vec<KeyValue> = map
                    .values()
                    .filter(|kv| in_span(&kv.key, &key, &range_end))
                    .cloned()
                    .collect();
                map.retain(|k, _| !in_span(k, &key, &range_end));
                assert_eq!(got.response.prev_kvs, gone);
                assert_eq!(got.events.len(), gone.len());
                if !gone.is_empty() {
                    m.states.push(map);
                }
            }
            6..=8 => {
                let t = random_txn(&mut rng, &mut Vec::new(), rev, 2);
                let succeeded = t.compare.iter().all(|c| model_compare(m.now(), c));
                let got = ks.txn(&t).unwrap().response;
                assert_eq!(got.succeeded, succeeded, "{t:?}");
                let mut map = m.now().clone();
                let wrote = model_txn(m.now(), &mut map, &t, rev + 1);
                assert_eq!(got.header.revision, if wrote { rev + 1 } else { rev });
                if wrote {
                    m.states.push(map);
                }
            }
            _ => {
                let r = m.compact.max(0) + rng.below((rev - m.compact.max(0)) as u64 + 2) as i64;
                let got = ks.compact(&CompactionRequest {
                    revision: r,
                    physical: false,
                });
                if r <= m.compact {
                    assert_eq!(got.unwrap_err(), Error::Compacted);
                } else if r > rev {
                    assert_eq!(got.unwrap_err(), Error::FutureRev);
                } else {
                    got.unwrap();
                    m.compact = r;
                }
            }
        }
        check(&ks, &m, &mut rng);
        if step % 25 == 24 {
            // a snapshot round trip (JSON, then bincode) changes nothing,
            // and the run goes on with the restored keyspace
            let json = serde_json::to_vec(&ks).unwrap();
            let restored: Keyspace = serde_json::from_slice(&json).unwrap();
            assert_eq!(restored, ks);
            let bin = bincode::serialize(&restored).unwrap();
            ks = bincode::deserialize(&bin).unwrap();
            assert_eq!(restored, ks);
        }
    }
}

#[test]
fn random_histories_match_the_model() {
    for seed in 1..=40u64 {
        run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 300);
    }
}

#[test]
fn a_snapshot_with_leases_and_compaction_restores_equal() {
    let mut ks = session();
    ks.lease_grant(&LeaseGrantRequest { ttl: 30, id: 7 }, 1_000)
        .unwrap();
    let mut p = put_req("leased", "v");
    p.lease = 7;
    ks.put(&p).unwrap();
    ks.compact(&CompactionRequest {
        revision: 9,
        physical: false,
    })
    .unwrap();
    let json = serde_json::to_string(&ks).unwrap();
    let mut restored: Keyspace = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, ks);
    // and both go on alike
    let a = ks.lease_revoke(7).unwrap();
    let b_ = restored.lease_revoke(7).unwrap();
    assert_eq!(a, b_);
    assert_eq!(restored, ks);
    assert_eq!(
        restored.events_since(b"\0", b"\0", 9, 0),
        ks.events_since(b"\0", b"\0", 9, 0)
    );
}
