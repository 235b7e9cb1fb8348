//! Txn, each expectation as etcd 3.4.23 answered it
//! (`curl 127.0.0.1:23799/v3/kv/txn -d '{...}'`, etcd's JSON gateway).

mod support;

use concord_mvcc::compare::TargetUnion;
use concord_mvcc::response_op::Response;
use concord_mvcc::*;
use support::*;

fn txn(success: Vec<RequestOp>) -> TxnRequest {
    TxnRequest {
        success,
        ..Default::default()
    }
}

fn puts(prefix: &str, n: usize) -> Vec<RequestOp> {
    (1..=n)
        .map(|i| op_put(&format!("{prefix}{i}"), "v"))
        .collect()
}

#[test]
fn at_most_128_operations() {
    let mut ks = Keyspace::default();
    // 129 puts -> InvalidArgument "etcdserver: too many operations in txn request"
    let e = ks.txn(&txn(puts("k", 129))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "etcdserver: too many operations in txn request"
    );
    assert_eq!(e.code().number(), 3);
    // 128 puts -> revision 2, every response_put at revision 2
    let r = ks.txn(&txn(puts("k", 128))).unwrap();
    assert_eq!(r.response.header.revision, 2);
    assert_eq!(r.events.len(), 128);
    assert!(r.response.responses.iter().all(|op| matches!(
        &op.response,
        Some(Response::ResponsePut(p)) if p.header.revision == 2
    )));
    assert_eq!(ks.revision(), 2);
    // events in op order, sub-revisions of one revision
    assert_eq!(s(&r.events[9].kv.key), "k10");
}

#[test]
fn a_nested_txn_gets_what_is_left_of_the_budget() {
    let mut ks = Keyspace::default();
    // 100 puts + a nested txn of 29 -> too many operations
    let mut ops = puts("o", 100);
    ops.push(op_txn(txn(puts("n", 29))));
    assert_eq!(ks.txn(&txn(ops)).unwrap_err(), Error::TooManyOps);
    // 99 puts + a nested txn of 28 -> ok
    let mut ops = puts("o", 99);
    ops.push(op_txn(txn(puts("n", 28))));
    assert!(ks.txn(&txn(ops)).is_ok());
}

#[test]
fn duplicate_keys() {
    let dup = |t: TxnRequest| {
        let mut ks = Keyspace::default();
        put(&mut ks, "b", "1");
        ks.txn(&t)
            .map(|r| r.response.header.revision)
            .map_err(|e| e.to_string())
    };
    let e = Err("etcdserver: duplicate key given in txn request".to_string());
    // two puts of x
    assert_eq!(dup(txn(vec![op_put("x", "1"), op_put("x", "2")])), e);
    // ... in the failure branch, not taken, still refused
    assert_eq!(
        dup(TxnRequest {
            failure: vec![op_put("x", "1"), op_put("x", "2")],
            ..Default::default()
        }),
        e
    );
    // put x and delete [a, z)
    assert_eq!(dup(txn(vec![op_put("x", "1"), op_del("a", "z")])), e);
    // put x and a nested txn putting x
    assert_eq!(
        dup(txn(vec![
            op_put("x", "1"),
            op_txn(txn(vec![op_put("x", "2")]))
        ])),
        e
    );
    // a nested delete [a, c) and an outer put b; and the reverse
    assert_eq!(
        dup(txn(vec![
            op_txn(txn(vec![op_del("a", "c")])),
            op_put("b", "9")
        ])),
        e
    );
    assert_eq!(
        dup(txn(vec![
            op_del("a", "c"),
            op_txn(txn(vec![op_put("b", "9")]))
        ])),
        e
    );
    // two nested txns putting b (then of one, else of the other)
    let else_b = TxnRequest {
        failure: vec![op_put("b", "8")],
        ..Default::default()
    };
    assert_eq!(
        dup(txn(vec![
            op_txn(txn(vec![op_put("b", "9")])),
            op_txn(else_b.clone())
        ])),
        e
    );
    // delete b and a nested else putting b
    assert_eq!(dup(txn(vec![op_del("b", ""), op_txn(else_b)])), e);
    // allowed: then and else of one nested txn putting the same key -> revision 3
    let both = TxnRequest {
        success: vec![op_put("x", "2")],
        failure: vec![op_put("x", "3")],
        ..Default::default()
    };
    assert_eq!(dup(txn(vec![op_txn(both)])), Ok(3));
    // allowed: overlapping deletes
    assert_eq!(dup(txn(vec![op_del("a", "z"), op_del("b", "")])), Ok(3));
    // allowed: a from-key delete ("\0") and a put (etcd's check misses it)
    assert_eq!(dup(txn(vec![op_del("a", "\0"), op_put("b", "9")])), Ok(3));
    // allowed: a delete [c, a) (empty) and put b; delete a and put b; delete [a, b) and put b
    assert_eq!(dup(txn(vec![op_del("c", "a"), op_put("b", "9")])), Ok(3));
    assert_eq!(dup(txn(vec![op_del("a", ""), op_put("b", "9")])), Ok(3));
    assert_eq!(dup(txn(vec![op_del("a", "b"), op_put("b", "9")])), Ok(3));
}

#[test]
fn malformed_ops() {
    let mut ks = Keyspace::default();
    // an empty op {} -> "etcdserver: key not found"
    let e = ks.txn(&txn(vec![RequestOp::default()])).unwrap_err();
    assert_eq!(e.to_string(), "etcdserver: key not found");
    // a compare with an empty key -> "etcdserver: key is not provided"
    let t = TxnRequest {
        compare: vec![Compare::default()],
        ..Default::default()
    };
    assert_eq!(ks.txn(&t).unwrap_err(), Error::EmptyKey);
    // a put with an empty key -> "etcdserver: key is not provided"
    assert_eq!(
        ks.txn(&txn(vec![op_put("", "v")])).unwrap_err(),
        Error::EmptyKey
    );
    assert_eq!(ks.revision(), 1);
}

#[test]
fn compares_on_missing_keys() {
    let mut ks = Keyspace::default();
    let ok = |ks: &mut Keyspace, c: Compare| {
        ks.txn(&TxnRequest {
            compare: vec![c],
            ..Default::default()
        })
        .unwrap()
        .response
        .succeeded
    };
    use CompareResult::*;
    use CompareTarget::*;
    // VALUE == "" on a missing key -> false; VALUE != "x" -> false too
    assert!(!ok(
        &mut ks,
        cmp(Value, Equal, "nokey", TargetUnion::Value(vec![]))
    ));
    assert!(!ok(
        &mut ks,
        cmp(Value, NotEqual, "nokey", TargetUnion::Value(b("x")))
    ));
    // VERSION == 0, LEASE == 0, CREATE == 0 -> true
    assert!(ok(
        &mut ks,
        cmp(Version, Equal, "nokey", TargetUnion::Version(0))
    ));
    assert!(ok(
        &mut ks,
        cmp(Lease, Equal, "nokey", TargetUnion::Lease(0))
    ));
    assert!(ok(
        &mut ks,
        cmp(Create, Equal, "nokey", TargetUnion::CreateRevision(0))
    ));
    assert_eq!(ks.revision(), 1);
}

#[test]
fn compares_over_a_range() {
    let mut ks = Keyspace::default();
    put(&mut ks, "p1", "5");
    put(&mut ks, "p2", "7");
    let mut c = cmp(
        CompareTarget::Value,
        CompareResult::Greater,
        "p1",
        TargetUnion::Value(b("4")),
    );
    c.range_end = b("p9");
    let run = |ks: &mut Keyspace, c: &Compare| {
        ks.txn(&TxnRequest {
            compare: vec![c.clone()],
            ..Default::default()
        })
        .unwrap()
        .response
        .succeeded
    };
    // [p1, p9) value > "4" -> succeeded; > "6" -> not (p1 is 5)
    assert!(run(&mut ks, &c));
    c.target_union = Some(TargetUnion::Value(b("6")));
    assert!(!run(&mut ks, &c));
    // a target union of another kind compares against 0 / ""
    let c = Compare {
        target: CompareTarget::Version,
        result: CompareResult::Greater,
        key: b("p1"),
        target_union: Some(TargetUnion::Lease(100)),
        ..Default::default()
    };
    assert!(run(&mut ks, &c));
}

#[test]
fn reads_inside_a_txn_see_its_writes() {
    let mut ks = Keyspace::default();
    put(&mut ks, "p1", "5");
    let rev = ks.revision();
    // compare MOD(p1) < 100, success [put p3 a, range p3, delete zz]
    // -> revision +1; put, range (sees p3, c=m=rev+1) and delete (nothing) all at rev+1
    let t = TxnRequest {
        compare: vec![cmp(
            CompareTarget::Mod,
            CompareResult::Less,
            "p1",
            TargetUnion::ModRevision(100),
        )],
        success: vec![op_put("p3", "a"), op_range("p3", ""), op_del("zz", "")],
        failure: vec![],
    };
    let r = ks.txn(&t).unwrap().response;
    assert!(r.succeeded);
    assert_eq!(r.header.revision, rev + 1);
    let Some(Response::ResponseRange(range)) = &r.responses[1].response else {
        panic!("range response expected")
    };
    assert_eq!(range.kvs, vec![kv("p3", "a", rev + 1, rev + 1, 1)]);
    assert_eq!(range.header.revision, rev + 1);
    let Some(Response::ResponseDeleteRange(d)) = &r.responses[2].response else {
        panic!("delete response expected")
    };
    assert_eq!((d.deleted, d.header.revision), (0, rev + 1));
    // a read-only txn -> no new revision, range header at the current one
    let r = ks.txn(&txn(vec![op_range("p3", "")])).unwrap().response;
    assert_eq!(r.header.revision, rev + 1);
    assert_eq!(ks.revision(), rev + 1);
    // a txn deleting nothing -> no new revision, the delete answered at the current one
    let r = ks.txn(&txn(vec![op_del("zz", "")])).unwrap();
    assert_eq!(r.response.header.revision, rev + 1);
    assert!(r.events.is_empty());
    let Some(Response::ResponseDeleteRange(d)) = &r.response.responses[0].response else {
        panic!("delete response expected")
    };
    assert_eq!(d.header.revision, rev + 1);
}

#[test]
fn the_failure_branch() {
    let mut ks = Keyspace::default();
    put(&mut ks, "p1", "5");
    // compare VERSION(p1) == 5 fails; failure [range p1] -> succeeded false, the range answered
    let t = TxnRequest {
        compare: vec![cmp(
            CompareTarget::Version,
            CompareResult::Equal,
            "p1",
            TargetUnion::Version(5),
        )],
        success: vec![op_put("never", "x")],
        failure: vec![op_range("p1", "")],
    };
    let r = ks.txn(&t).unwrap().response;
    assert!(!r.succeeded);
    assert_eq!(r.responses.len(), 1);
    assert!(matches!(&r.responses[0].response, Some(Response::ResponseRange(x)) if x.count == 1));
    assert_eq!(ks.revision(), 2);
}

#[test]
fn nested_txns() {
    let mut ks = Keyspace::default();
    put(&mut ks, "p3", "a");
    // success [txn{compare VERSION(p3)==1, success [put p4 b]}, range p4]
    // -> revision 3; the nested response's header is empty (revision 0),
    // its put at 3; the outer range sees p4
    let inner = TxnRequest {
        compare: vec![cmp(
            CompareTarget::Version,
            CompareResult::Equal,
            "p3",
            TargetUnion::Version(1),
        )],
        success: vec![op_put("p4", "b")],
        failure: vec![],
    };
    let r = ks
        .txn(&txn(vec![op_txn(inner), op_range("p4", "")]))
        .unwrap()
        .response;
    assert_eq!(r.header.revision, 3);
    let Some(Response::ResponseTxn(n)) = &r.responses[0].response else {
        panic!("txn response expected")
    };
    assert_eq!(n.header.revision, 0);
    assert!(n.succeeded);
    assert!(
        matches!(&n.responses[0].response, Some(Response::ResponsePut(p)) if p.header.revision == 3)
    );
    assert!(
        matches!(&r.responses[1].response, Some(Response::ResponseRange(x)) if x.kvs == vec![kv("p4", "b", 3, 3, 1)])
    );
}

#[test]
fn ranges_inside_a_txn_check_their_revision_first() {
    let mut ks = Keyspace::default();
    put(&mut ks, "a", "1");
    let with_rev = |rev| {
        let mut r = range_req("a", "");
        r.revision = rev;
        txn(vec![
            op_put("b", "1"),
            RequestOp {
                request: Some(request_op::Request::RequestRange(r)),
            },
        ])
    };
    // revision 1000 -> "etcdserver: mvcc: required revision is a future revision", nothing written
    assert_eq!(ks.txn(&with_rev(1000)).unwrap_err(), Error::FutureRev);
    // the txn's own revision is a future one too, when checked
    assert_eq!(ks.txn(&with_rev(3)).unwrap_err(), Error::FutureRev);
    // revision -5 -> "etcdserver: mvcc: required revision has been compacted"
    // (below etcd's first revision -1 even with no compaction); -1 reads now
    assert_eq!(ks.txn(&with_rev(-5)).unwrap_err(), Error::Compacted);
    assert_eq!(ks.revision(), 2);
    assert!(ks.txn(&with_rev(-1)).is_ok());
    // after compacting at 3, revision 2 and -1 are refused
    ks.compact(&CompactionRequest {
        revision: 3,
        physical: false,
    })
    .unwrap();
    assert_eq!(
        ks.txn(&txn(vec![RequestOp {
            request: Some(request_op::Request::RequestRange(RangeRequest {
                key: b("a"),
                revision: -1,
                ..Default::default()
            }))
        }]))
        .unwrap_err(),
        Error::Compacted
    );
}

#[test]
fn a_put_with_an_unknown_lease_or_a_missing_key_to_ignore() {
    let mut ks = Keyspace::default();
    let mut p = put_req("x", "v");
    p.lease = 77;
    let op = RequestOp {
        request: Some(request_op::Request::RequestPut(p)),
    };
    assert_eq!(ks.txn(&txn(vec![op])).unwrap_err(), Error::LeaseNotFound);
    let mut p = put_req("x", "");
    p.ignore_value = true;
    let op = RequestOp {
        request: Some(request_op::Request::RequestPut(p)),
    };
    assert_eq!(ks.txn(&txn(vec![op])).unwrap_err(), Error::KeyNotFound);
    assert_eq!(ks.revision(), 1);
}

#[test]
fn a_from_key_delete_then_an_ignore_value_put_does_not_panic() {
    // etcd 3.4 lets this through its duplicate check and then panics while
    // applying; here the put writes the request as given.
    let mut ks = Keyspace::default();
    put(&mut ks, "b", "1");
    let mut p = put_req("b", "");
    p.ignore_value = true;
    let t = txn(vec![
        op_del("a", "\0"),
        RequestOp {
            request: Some(request_op::Request::RequestPut(p)),
        },
    ]);
    let r = ks.txn(&t).unwrap();
    assert_eq!(r.response.header.revision, 3);
    assert_eq!(get(&ks, "b"), Some(kv("b", "", 3, 3, 1)));
}
