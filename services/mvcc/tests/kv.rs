//! Put, DeleteRange and Range, each expectation as etcd 3.4.23 answered it
//! (`ETCDCTL_API=3 etcdctl --endpoints 127.0.0.1:23799 ... -w json`, or its
//! JSON gateway `curl 127.0.0.1:23799/v3/kv/...` for fields etcdctl has no
//! flag for).

mod support;

use concord_mvcc::*;
use support::*;

#[test]
fn an_empty_keyspace_is_at_revision_1() {
    // etcdctl get foo -w json -> "revision":1, no kvs
    let ks = Keyspace::default();
    let r = ks.range(&range_req("foo", "")).unwrap();
    assert_eq!(r.header.revision, 1);
    assert!(r.kvs.is_empty());
    assert_eq!(r.count, 0);
}

#[test]
fn revisions_versions_and_tombstones() {
    let mut ks = Keyspace::default();
    // etcdctl put foo bar -> revision 2; get foo -> c2 m2 v1
    assert_eq!(put(&mut ks, "foo", "bar"), 2);
    assert_eq!(get(&ks, "foo"), Some(kv("foo", "bar", 2, 2, 1)));
    // put foo bar2 -> revision 3
    assert_eq!(put(&mut ks, "foo", "bar2"), 3);
    // del foo -> revision 4, deleted 1
    let d = ks.delete_range(&del_req("foo", "")).unwrap();
    assert_eq!((d.response.header.revision, d.response.deleted), (4, 1));
    // del foo again -> revision 4, nothing deleted, no new revision
    let d = ks.delete_range(&del_req("foo", "")).unwrap();
    assert_eq!((d.response.header.revision, d.response.deleted), (4, 0));
    assert!(d.events.is_empty());
    assert_eq!(ks.revision(), 4);
    // put foo x -> revision 5; the version starts over: c5 m5 v1
    assert_eq!(put(&mut ks, "foo", "x"), 5);
    assert_eq!(get(&ks, "foo"), Some(kv("foo", "x", 5, 5, 1)));
    // get foo --rev 3 -> bar2 c2 m3 v2, header revision 5
    let at = |rev| {
        let mut r = range_req("foo", "");
        r.revision = rev;
        ks.range(&r).unwrap()
    };
    assert_eq!(at(3).kvs, vec![kv("foo", "bar2", 2, 3, 2)]);
    assert_eq!(at(3).header.revision, 5);
    // --rev 2 -> bar c2 m2 v1; --rev 4 -> nothing
    assert_eq!(at(2).kvs, vec![kv("foo", "bar", 2, 2, 1)]);
    assert!(at(4).kvs.is_empty());
    // negative revision (curl /v3/kv/range revision:-5) -> current
    assert_eq!(at(-5).kvs, vec![kv("foo", "x", 5, 5, 1)]);
}

#[test]
fn a_future_revision_is_refused() {
    // etcdctl get foo --rev 99 -> OutOfRange "etcdserver: mvcc: required revision is a future revision"
    let mut ks = Keyspace::default();
    put(&mut ks, "foo", "bar");
    let mut r = range_req("foo", "");
    r.revision = 99;
    let err = ks.range(&r).unwrap_err();
    assert_eq!(err, Error::FutureRev);
    assert_eq!(
        err.to_string(),
        "etcdserver: mvcc: required revision is a future revision"
    );
    assert_eq!(err.code(), GrpcCode::OutOfRange);
    assert_eq!(err.code().number(), 11);
}

#[test]
fn an_empty_key_is_refused() {
    // etcdctl get "" / put "" v / del "" -> InvalidArgument "etcdserver: key is not provided"
    let mut ks = Keyspace::default();
    let e = ks.range(&range_req("", "")).unwrap_err();
    assert_eq!(e.to_string(), "etcdserver: key is not provided");
    assert_eq!(e.code().number(), 3);
    assert_eq!(ks.put(&put_req("", "v")).unwrap_err(), Error::EmptyKey);
    assert_eq!(
        ks.delete_range(&del_req("", "")).unwrap_err(),
        Error::EmptyKey
    );
    assert_eq!(ks.revision(), 1);
}

#[test]
fn ranges_by_etcd_conventions() {
    let ks = session();
    // etcdctl get --from-key "" (key "\0", range_end "\0") -> a b c d, count 4
    let all = ks.range(&range_req("\0", "\0")).unwrap();
    assert_eq!(
        all.kvs,
        vec![
            kv("a", "1", 8, 10, 2),
            kv("b", "2", 7, 7, 1),
            kv("c", "1", 9, 9, 1),
            kv("d", "0", 11, 11, 1),
        ]
    );
    assert_eq!((all.count, all.more, all.header.revision), (4, false, 11));
    // key c, range_end "\0" -> c d, count 2
    let from_c = ks.range(&range_req("c", "\0")).unwrap();
    assert_eq!(
        (keys(&from_c.kvs), from_c.count),
        (vec!["c".into(), "d".into()], 2)
    );
    // etcdctl get c a (range_end before key) -> nothing, count 0
    let none = ks.range(&range_req("c", "a")).unwrap();
    assert_eq!((none.kvs.len(), none.count), (0, 0));
    // key == range_end: nothing either
    assert_eq!(ks.range(&range_req("c", "c")).unwrap().count, 0);
    // get a e --rev 9 -> a=3 (c8 m8 v1), b, c; count 3; header 11
    let mut r = range_req("a", "e");
    r.revision = 9;
    let past = ks.range(&r).unwrap();
    assert_eq!(past.kvs[0], kv("a", "3", 8, 8, 1));
    assert_eq!(
        (past.kvs.len(), past.count, past.header.revision),
        (3, 3, 11)
    );
}

#[test]
fn limit_more_count_keys_only_count_only() {
    let ks = session();
    // get a e --limit 2 -> a b, more, count 4
    let mut r = range_req("a", "e");
    r.limit = 2;
    let got = ks.range(&r).unwrap();
    assert_eq!(
        (keys(&got.kvs), got.more, got.count),
        (vec!["a".into(), "b".into()], true, 4)
    );
    // count_only with limit 1 -> count 4, no kvs, no more
    r.limit = 1;
    r.count_only = true;
    let got = ks.range(&r).unwrap();
    assert_eq!((got.kvs.len(), got.more, got.count), (0, false, 4));
    // keys_only -> every kv without its value
    let mut r = range_req("a", "e");
    r.keys_only = true;
    let got = ks.range(&r).unwrap();
    assert_eq!(got.kvs.len(), 4);
    assert!(got.kvs.iter().all(|kv| kv.value.is_empty()));
    assert_eq!(got.kvs[0].version, 2);
    // limit i64::MAX and limit -1 -> everything, no more
    for limit in [i64::MAX, -1] {
        r.limit = limit;
        let got = ks.range(&r).unwrap();
        assert_eq!((got.kvs.len(), got.more, got.count), (4, false, 4));
    }
}

fn sorted(ks: &Keyspace, target: SortTarget, order: SortOrder, limit: i64) -> RangeResponse {
    let mut r = range_req("a", "e");
    r.sort_target = target;
    r.sort_order = order;
    r.limit = limit;
    ks.range(&r).unwrap()
}

fn ks_of(r: &RangeResponse) -> Vec<String> {
    keys(&r.kvs)
}

#[test]
fn sorting() {
    let ks = session();
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // get a e --sort-by=VALUE (order NONE -> ASCEND for a target other than KEY) -> d a c b
    assert_eq!(
        ks_of(&sorted(&ks, SortTarget::Value, SortOrder::None, 0)),
        v(&["d", "a", "c", "b"])
    );
    // --sort-by=VALUE --order=DESCEND --limit 2 -> b a, more
    let r = sorted(&ks, SortTarget::Value, SortOrder::Descend, 2);
    assert_eq!((ks_of(&r), r.more, r.count), (v(&["b", "a"]), true, 4));
    // --order=DESCEND -> d c b a
    assert_eq!(
        ks_of(&sorted(&ks, SortTarget::Key, SortOrder::Descend, 0)),
        v(&["d", "c", "b", "a"])
    );
    // --sort-by=MODIFY --order=ASCEND -> b c a d
    assert_eq!(
        ks_of(&sorted(&ks, SortTarget::Mod, SortOrder::Ascend, 0)),
        v(&["b", "c", "a", "d"])
    );
    // --sort-by=CREATE --order=DESCEND -> d c a b
    assert_eq!(
        ks_of(&sorted(&ks, SortTarget::Create, SortOrder::Descend, 0)),
        v(&["d", "c", "a", "b"])
    );
    // --sort-by=VERSION --order=DESCEND -> a b c d (ties keep key order)
    assert_eq!(
        ks_of(&sorted(&ks, SortTarget::Version, SortOrder::Descend, 0)),
        v(&["a", "b", "c", "d"])
    );
    // sort_target CREATE, order NONE (curl) -> b a c d
    assert_eq!(
        ks_of(&sorted(&ks, SortTarget::Create, SortOrder::None, 0)),
        v(&["b", "a", "c", "d"])
    );
    // sort_order DESCEND, limit 1 -> d, more, count 4
    let r = sorted(&ks, SortTarget::Key, SortOrder::Descend, 1);
    assert_eq!((ks_of(&r), r.more, r.count), (v(&["d"]), true, 4));
    // sort_target VALUE, order NONE, limit 1 -> a: etcd reads limit+1 keys in
    // key order (a, b) before sorting, since the order asked is NONE
    let r = sorted(&ks, SortTarget::Value, SortOrder::None, 1);
    assert_eq!((ks_of(&r), r.more, r.count), (v(&["a"]), true, 4));
    // ... while order ASCEND reads everything first -> d
    let r = sorted(&ks, SortTarget::Value, SortOrder::Ascend, 1);
    assert_eq!((ks_of(&r), r.more, r.count), (v(&["d"]), true, 4));
}

#[test]
fn min_max_filters_keep_the_unfiltered_count() {
    let ks = session();
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let with = |f: &dyn Fn(&mut RangeRequest)| {
        let mut r = range_req("a", "e");
        f(&mut r);
        ks.range(&r).unwrap()
    };
    // min_mod_revision 9 -> a c d, count 4
    let r = with(&|r| r.min_mod_revision = 9);
    assert_eq!((ks_of(&r), r.count), (v(&["a", "c", "d"]), 4));
    // max_create_revision 8, limit 1 -> a, more, count 4
    let r = with(&|r| {
        r.max_create_revision = 8;
        r.limit = 1
    });
    assert_eq!((ks_of(&r), r.more, r.count), (v(&["a"]), true, 4));
    // min_create_revision 9 -> c d
    assert_eq!(ks_of(&with(&|r| r.min_create_revision = 9)), v(&["c", "d"]));
    // max_mod_revision 9 -> b c
    assert_eq!(ks_of(&with(&|r| r.max_mod_revision = 9)), v(&["b", "c"]));
}

#[test]
fn put_prev_kv_ignore_value_ignore_lease() {
    let mut ks = Keyspace::default();
    let code3 = |e: Error| (e.to_string(), e.code().number());
    // curl /v3/kv/put {key:nokey, ignore_value:true} -> "etcdserver: key not found" (code 3)
    let mut p = put_req("nokey", "");
    p.ignore_value = true;
    assert_eq!(
        code3(ks.put(&p).unwrap_err()),
        ("etcdserver: key not found".into(), 3)
    );
    // ignore_value with a value -> "etcdserver: value is provided"
    p.value = b("v");
    assert_eq!(
        code3(ks.put(&p).unwrap_err()),
        ("etcdserver: value is provided".into(), 3)
    );
    // ignore_lease with lease 5 -> "etcdserver: lease is provided"
    let mut p = put_req("nokey", "");
    p.ignore_lease = true;
    p.lease = 5;
    assert_eq!(
        code3(ks.put(&p).unwrap_err()),
        ("etcdserver: lease is provided".into(), 3)
    );
    // ignore_lease on a missing key -> key not found
    p.lease = 0;
    assert_eq!(ks.put(&p).unwrap_err(), Error::KeyNotFound);
    // lease 12345 unknown -> NotFound "etcdserver: requested lease not found"
    let mut p = put_req("nokey", "v");
    p.lease = 12345;
    let e = ks.put(&p).unwrap_err();
    assert_eq!(
        (e.to_string(), e.code()),
        (
            "etcdserver: requested lease not found".into(),
            GrpcCode::NotFound
        )
    );
    assert_eq!(ks.revision(), 1);
    // put p1 5; put {p1, ignore_value, prev_kv} -> prev_kv p1=5 c2 m2 v1; p1=5 c2 m3 v2
    put(&mut ks, "p1", "5");
    let mut p = put_req("p1", "");
    p.ignore_value = true;
    p.prev_kv = true;
    let r = ks.put(&p).unwrap();
    assert_eq!(r.response.prev_kv, Some(kv("p1", "5", 2, 2, 1)));
    assert_eq!(r.response.header.revision, 3);
    assert_eq!(get(&ks, "p1"), Some(kv("p1", "5", 2, 3, 2)));
    // the put's event carries the previous value
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].kind, EventType::Put);
    assert_eq!(r.events[0].prev_kv, Some(kv("p1", "5", 2, 2, 1)));
}

#[test]
fn delete_range_with_prev_kv() {
    let mut ks = session();
    // etcdctl put q/a 1; put q/b 2; put q/c 3 (revisions 36-38), then
    // del --prev-kv q/a q/c -> revision 39, deleted 2, prev_kvs q/a q/b; here
    // the same on a b c
    let mut d = del_req("a", "c");
    d.prev_kv = true;
    let r = ks.delete_range(&d).unwrap();
    assert_eq!(r.response.deleted, 2);
    assert_eq!(r.response.header.revision, 12);
    assert_eq!(
        keys(&r.response.prev_kvs),
        vec!["a".to_string(), "b".to_string()]
    );
    // one revision, two delete events: kv is the key and mod_revision only
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.events[0].kind, EventType::Delete);
    assert_eq!(
        r.events[0].kv,
        KeyValue {
            key: b("a"),
            mod_revision: 12,
            ..Default::default()
        }
    );
    assert_eq!(r.events[0].prev_kv, Some(kv("a", "1", 8, 10, 2)));
    // del q/c -> revision 40, deleted 1, no prev_kvs
    let r = ks.delete_range(&del_req("c", "")).unwrap();
    assert!(r.response.prev_kvs.is_empty());
    assert_eq!((r.response.deleted, r.response.header.revision), (1, 13));
}

#[test]
fn odd_inputs_do_not_panic() {
    let mut ks = session();
    let mut r = range_req("\u{ff}", "\0");
    r.limit = i64::MIN;
    r.revision = i64::MIN;
    r.min_mod_revision = i64::MAX;
    assert!(ks.range(&r).is_ok());
    r.revision = i64::MAX;
    assert_eq!(ks.range(&r).unwrap_err(), Error::FutureRev);
    assert!(ks.range(&range_req("z", "a")).is_ok());
    assert!(ks.delete_range(&del_req("z", "a")).is_ok());
    assert!(ks.delete_range(&del_req("\0", "")).is_ok());
    assert_eq!(ks.revision(), 11);
    let huge = vec![0xffu8; 100_000];
    let mut p = put_req("k", "");
    p.key = huge.clone();
    assert!(ks.put(&p).is_ok());
    assert_eq!(
        ks.range(&RangeRequest {
            key: huge,
            ..Default::default()
        })
        .unwrap()
        .count,
        1
    );
}

/// Two keyspaces that applied the same writes hash alike; a different
/// value, or a later revision, hashes differently.
#[test]
fn hash_kv_follows_the_history() {
    let put = |ks: &mut Keyspace, k: &str, v: &str| {
        ks.put(&PutRequest {
            key: k.into(),
            value: v.into(),
            ..Default::default()
        })
        .unwrap();
    };
    let mut a = Keyspace::default();
    let mut b = Keyspace::default();
    for ks in [&mut a, &mut b] {
        put(ks, "foo", "bar");
        put(ks, "foo", "baz");
    }
    assert_eq!(a.hash_kv(0), b.hash_kv(0));
    let at_two = a.hash_kv(2).unwrap();
    put(&mut b, "foo", "qux");
    assert_ne!(a.hash_kv(0), b.hash_kv(0));
    // History up to revision 2 is the same in both.
    assert_eq!(at_two, b.hash_kv(2).unwrap());
    assert_eq!(at_two.1, -1);
}
