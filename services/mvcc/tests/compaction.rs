//! Compaction and the history watchers catch up from, each expectation as
//! etcd 3.4.23 answered it (`curl 127.0.0.1:23799/v3/kv/compaction`,
//! `etcdctl watch --rev N ... -w json`).

mod support;

use concord_mvcc::*;
use support::*;

fn compact(ks: &mut Keyspace, revision: i64) -> Result<CompactionResponse> {
    ks.compact(&CompactionRequest {
        revision,
        physical: false,
    })
}

fn at(ks: &Keyspace, k: &str, end: &str, revision: i64) -> Result<RangeResponse> {
    let mut r = range_req(k, end);
    r.revision = revision;
    ks.range(&r)
}

#[test]
fn compaction_on_a_fresh_keyspace() {
    // a fresh etcd: compact 0 -> ok, at revision 1; again -> compacted;
    // compact 1 -> ok; again -> compacted; range at 1 -> ok; compact 2 -> future
    let mut ks = Keyspace::default();
    assert_eq!(compact(&mut ks, 0).unwrap().header.revision, 1);
    assert_eq!(compact(&mut ks, 0).unwrap_err(), Error::Compacted);
    compact(&mut ks, 1).unwrap();
    let e = compact(&mut ks, 1).unwrap_err();
    assert_eq!(
        (e.to_string(), e.code().number()),
        (
            "etcdserver: mvcc: required revision has been compacted".into(),
            11
        )
    );
    assert!(at(&ks, "a", "", 1).is_ok());
    assert_eq!(compact(&mut ks, 2).unwrap_err(), Error::FutureRev);
}

#[test]
fn compaction_keeps_what_reads_at_or_after_it_need() {
    let mut ks = session();
    for _ in 0..8 {
        put(&mut ks, "z", "filler");
    }
    assert_eq!(ks.revision(), 19);
    let before: Vec<_> = (10..=19)
        .map(|r| at(&ks, "\0", "\0", r).unwrap().kvs)
        .collect();
    // compaction {"revision":1000} -> future revision
    assert_eq!(compact(&mut ks, 1000).unwrap_err(), Error::FutureRev);
    // {"revision":10} -> ok, header at the current revision (19)
    assert_eq!(compact(&mut ks, 10).unwrap().header.revision, 19);
    assert_eq!(ks.compact_revision(), 10);
    // 10 again, 9, 0 -> compacted
    for r in [10, 9, 0, -5] {
        assert_eq!(compact(&mut ks, r).unwrap_err(), Error::Compacted);
    }
    // range at 9 -> compacted (count_only too); at 10 -> a=1 c8 m10 v2
    assert_eq!(at(&ks, "a", "", 9).unwrap_err(), Error::Compacted);
    let mut r = range_req("a", "");
    r.revision = 5;
    r.count_only = true;
    assert_eq!(ks.range(&r).unwrap_err(), Error::Compacted);
    assert_eq!(
        at(&ks, "a", "", 10).unwrap().kvs,
        vec![kv("a", "1", 8, 10, 2)]
    );
    // every read from 10 on is unchanged
    let after: Vec<_> = (10..=19)
        .map(|r| at(&ks, "\0", "\0", r).unwrap().kvs)
        .collect();
    assert_eq!(before, after);
    // a txn range at 5 -> compacted
    let t = TxnRequest {
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestRange(RangeRequest {
                key: b("a"),
                revision: 5,
                ..Default::default()
            })),
        }],
        ..Default::default()
    };
    assert_eq!(ks.txn(&t).unwrap_err(), Error::Compacted);
    // a key deleted before the compaction is gone; put again it starts over
    ks.delete_range(&del_req("z", "")).unwrap();
    compact(&mut ks, 20).unwrap();
    put(&mut ks, "z", "again");
    assert_eq!(get(&ks, "z"), Some(kv("z", "again", 21, 21, 1)));
}

#[test]
fn watch_history_after_a_compaction() {
    let mut ks = session();
    // a txn of three puts at 12, then p1 twice
    let t = TxnRequest {
        success: vec![op_put("k1", "v"), op_put("k2", "v"), op_put("k10", "v")],
        ..Default::default()
    };
    ks.txn(&t).unwrap();
    put(&mut ks, "p1", "5");
    put(&mut ks, "p1", "5");
    compact(&mut ks, 10).unwrap();
    // watch --rev 5 a -> canceled, CompactRevision 10
    assert_eq!(
        ks.events_since(b"a", b"", 5, 0),
        History::Compacted {
            compact_revision: 10
        }
    );
    // watch --rev 10 --prev-kv --prefix "" -> a@10 without prev_kv (compacted),
    // d@11, then the txn's puts in op order (k1, k2, k10) at 12, ...
    let History::Events(ev) = ks.events_since(b"\0", b"\0", 10, 0) else {
        panic!("events expected")
    };
    assert_eq!(ev[0].kv, kv("a", "1", 8, 10, 2));
    assert_eq!(ev[0].prev_kv, None);
    assert_eq!(ev[1].kv, kv("d", "0", 11, 11, 1));
    assert_eq!(
        keys(&ev[2..5].iter().map(|e| e.kv.clone()).collect::<Vec<_>>()),
        vec!["k1", "k2", "k10"]
    );
    // watch --rev 14 --prev-kv p1 -> p1 c13 m14 v2 with prev_kv c13 m13 v1
    let History::Events(ev) = ks.events_since(b"p1", b"", 14, 0) else {
        panic!("events expected")
    };
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kv, kv("p1", "5", 13, 14, 2));
    assert_eq!(ev[0].prev_kv, Some(kv("p1", "5", 13, 13, 1)));
    // a limit cuts between revisions, never inside one
    let History::Events(ev) = ks.events_since(b"\0", b"\0", 12, 1) else {
        panic!("events expected")
    };
    assert_eq!(ev.len(), 3);
    // from now on: nothing yet; 0 means "from now"
    assert_eq!(ks.events_since(b"a", b"\0", 15, 0), History::Events(vec![]));
    assert_eq!(ks.events_since(b"a", b"\0", 0, 0), History::Events(vec![]));
}

#[test]
fn deletes_at_the_compaction_revision_are_compacted_away() {
    // etcdctl put v/a 1 (45); txn {put v/e 1, del v/ .. "\0"} -> 46;
    // watch --rev 46 --prefix v/ -> PUT v/e, DELETE v/a, DELETE v/e (all at 46);
    // etcdctl compact 46; watch --rev 46 --prefix v/ -> nothing at 46
    // (a put v/z at 47 is the first event it shows)
    let mut ks = Keyspace::default();
    put(&mut ks, "v/a", "1");
    let t = TxnRequest {
        success: vec![op_put("v/e", "1"), op_del("v/", "\0")],
        ..Default::default()
    };
    ks.txn(&t).unwrap();
    let History::Events(ev) = ks.events_since(b"v/", b"v0", 3, 0) else {
        panic!("events expected")
    };
    let kinds: Vec<_> = ev.iter().map(|e| (e.kind, s(&e.kv.key))).collect();
    assert_eq!(
        kinds,
        vec![
            (EventType::Put, "v/e".to_string()),
            (EventType::Delete, "v/a".to_string()),
            (EventType::Delete, "v/e".to_string())
        ]
    );
    compact(&mut ks, 3).unwrap();
    assert_eq!(ks.events_since(b"v/", b"v0", 3, 0), History::Events(vec![]));
    put(&mut ks, "v/z", "1");
    let History::Events(ev) = ks.events_since(b"v/", b"v0", 3, 0) else {
        panic!("events expected")
    };
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kv, kv("v/z", "1", 4, 4, 1));
    assert!(get(&ks, "v/a").is_none());
}

#[test]
fn a_txn_deleting_from_key_and_putting_back() {
    // etcdctl put w/b 1 (41); put w/c 1 (42); txn {del w/ .. "\0", put w/b 2} -> 43;
    // watch --rev 43 --prev-kv --prefix w/ -> DELETE w/b (prev w/b@41),
    // DELETE w/c (prev w/c@42), PUT w/b c43 m43 v1 without prev_kv
    let mut ks = Keyspace::default();
    put(&mut ks, "w/b", "1");
    put(&mut ks, "w/c", "1");
    let t = TxnRequest {
        success: vec![op_del("w/", "\0"), op_put("w/b", "2")],
        ..Default::default()
    };
    let applied = ks.txn(&t).unwrap();
    assert_eq!(applied.response.header.revision, 4);
    let History::Events(ev) = ks.events_since(b"w/", b"w0", 4, 0) else {
        panic!("events expected")
    };
    assert_eq!(ev, applied.events);
    let kinds: Vec<_> = ev.iter().map(|e| (e.kind, s(&e.kv.key))).collect();
    assert_eq!(
        kinds,
        vec![
            (EventType::Delete, "w/b".to_string()),
            (EventType::Delete, "w/c".to_string()),
            (EventType::Put, "w/b".to_string())
        ]
    );
    assert_eq!(ev[0].prev_kv, Some(kv("w/b", "1", 2, 2, 1)));
    assert_eq!(ev[1].prev_kv, Some(kv("w/c", "1", 3, 3, 1)));
    assert_eq!(ev[2].kv, kv("w/b", "2", 4, 4, 1));
    assert_eq!(ev[2].prev_kv, None);
}
