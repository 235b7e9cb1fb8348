//! Shorthands for the tests: requests from strings, and the keyspace of the
//! etcd 3.4 session the expected values were read from.
#![allow(dead_code)]

use concord_mvcc::*;

pub fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

pub fn s(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

pub fn put_req(k: &str, v: &str) -> PutRequest {
    PutRequest {
        key: b(k),
        value: b(v),
        ..Default::default()
    }
}

/// A put that must succeed; returns its response revision.
pub fn put(ks: &mut Keyspace, k: &str, v: &str) -> i64 {
    ks.put(&put_req(k, v)).unwrap().response.header.revision
}

pub fn del_req(k: &str, end: &str) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: b(k),
        range_end: b(end),
        prev_kv: false,
    }
}

pub fn range_req(k: &str, end: &str) -> RangeRequest {
    RangeRequest {
        key: b(k),
        range_end: b(end),
        ..Default::default()
    }
}

pub fn get(ks: &Keyspace, k: &str) -> Option<KeyValue> {
    ks.range(&range_req(k, "")).unwrap().kvs.into_iter().next()
}

pub fn kv(k: &str, v: &str, create: i64, modr: i64, version: i64) -> KeyValue {
    KeyValue {
        key: b(k),
        create_revision: create,
        mod_revision: modr,
        version,
        value: b(v),
        lease: 0,
    }
}

pub fn keys(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter().map(|kv| s(&kv.key)).collect()
}

pub fn op_put(k: &str, v: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(put_req(k, v))),
    }
}

pub fn op_del(k: &str, end: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(del_req(k, end))),
    }
}

pub fn op_range(k: &str, end: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(range_req(k, end))),
    }
}

pub fn op_txn(t: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestTxn(t)),
    }
}

pub fn cmp(
    target: CompareTarget,
    result: CompareResult,
    k: &str,
    u: compare::TargetUnion,
) -> Compare {
    Compare {
        result,
        target,
        key: b(k),
        range_end: Vec::new(),
        target_union: Some(u),
    }
}

/// The keyspace after the first commands of the etcd 3.4 session
/// (`etcdctl put foo bar; put foo bar2; del foo; del foo; put foo x;
/// del --prefix ""; put b 2; put a 3; put c 1; put a 1; put d 0`), at
/// revision 11: a=1 (c8 m10 v2), b=2 (7), c=1 (9), d=0 (11).
pub fn session() -> Keyspace {
    let mut ks = Keyspace::default();
    put(&mut ks, "foo", "bar");
    put(&mut ks, "foo", "bar2");
    ks.delete_range(&del_req("foo", "")).unwrap();
    ks.delete_range(&del_req("foo", "")).unwrap();
    put(&mut ks, "foo", "x");
    ks.delete_range(&del_req("\0", "\0")).unwrap();
    for (k, v) in [("b", "2"), ("a", "3"), ("c", "1"), ("a", "1"), ("d", "0")] {
        put(&mut ks, k, v);
    }
    assert_eq!(ks.revision(), 11);
    ks
}
