//! The `KV` service against etcd 3.4: ranges with every option, puts,
//! deletes, txns (nested, compares, etcd's checks), compaction, and etcd's
//! errors and size limits, step for step the same answers.

mod v3_support;

use concord_rpc::etcd::etcdserverpb::{
    compare, range_request, request_op, CompactionRequest, Compare, DeleteRangeRequest,
    LeaseGrantRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use v3_support::{both, masked, Clients, Outcome};

fn put(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

fn get(key: &str) -> RangeRequest {
    RangeRequest {
        key: key.into(),
        ..Default::default()
    }
}

fn op_put(key: &str, value: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(put(key, value))),
    }
}

fn op_get(key: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(get(key))),
    }
}

fn value_is(key: &str, value: &str) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Value as i32,
        key: key.into(),
        target_union: Some(compare::TargetUnion::Value(value.into())),
        ..Default::default()
    }
}

async fn kv_scenario(c: Clients) -> Vec<Outcome> {
    let mut kv = c.kv.clone();
    let mut out = Vec::new();
    // An empty keyspace is at revision 1.
    out.push(masked(kv.range(get("foo")).await));
    out.push(masked(kv.put(put("foo", "bar")).await));
    out.push(masked(
        kv.put(PutRequest {
            prev_kv: true,
            ..put("foo", "baz")
        })
        .await,
    ));
    for k in ["a", "b", "c", "d", "e"] {
        out.push(masked(kv.put(put(&format!("p/{k}"), k)).await));
    }
    out.push(masked(kv.range(get("foo")).await));
    // Prefix, limit, sort, keys only, count only, revision, filters.
    let prefix = |extra: RangeRequest| RangeRequest {
        key: "p/".into(),
        range_end: "p0".into(),
        ..extra
    };
    out.push(masked(kv.range(prefix(Default::default())).await));
    out.push(masked(
        kv.range(prefix(RangeRequest {
            limit: 2,
            sort_order: range_request::SortOrder::Descend as i32,
            sort_target: range_request::SortTarget::Key as i32,
            ..Default::default()
        }))
        .await,
    ));
    out.push(masked(
        kv.range(prefix(RangeRequest {
            keys_only: true,
            ..Default::default()
        }))
        .await,
    ));
    out.push(masked(
        kv.range(prefix(RangeRequest {
            count_only: true,
            ..Default::default()
        }))
        .await,
    ));
    out.push(masked(
        kv.range(prefix(RangeRequest {
            revision: 5,
            ..Default::default()
        }))
        .await,
    ));
    out.push(masked(
        kv.range(prefix(RangeRequest {
            min_mod_revision: 6,
            max_create_revision: 7,
            ..Default::default()
        }))
        .await,
    ));
    // From-key.
    out.push(masked(
        kv.range(RangeRequest {
            key: "p/d".into(),
            range_end: vec![0],
            ..Default::default()
        })
        .await,
    ));
    // Delete with prev_kv, and a delete of nothing.
    out.push(masked(
        kv.delete_range(DeleteRangeRequest {
            key: "p/a".into(),
            range_end: "p/c".into(),
            prev_kv: true,
        })
        .await,
    ));
    out.push(masked(
        kv.delete_range(DeleteRangeRequest {
            key: "nothing".into(),
            ..Default::default()
        })
        .await,
    ));
    // Txns: compare on value, both branches, a nested txn.
    out.push(masked(
        kv.txn(TxnRequest {
            compare: vec![value_is("foo", "baz")],
            success: vec![op_put("t1", "yes"), op_get("foo")],
            failure: vec![op_put("t1", "no")],
        })
        .await,
    ));
    out.push(masked(
        kv.txn(TxnRequest {
            compare: vec![value_is("foo", "nope")],
            success: vec![op_put("t2", "yes")],
            failure: vec![RequestOp {
                request: Some(request_op::Request::RequestTxn(TxnRequest {
                    compare: vec![Compare {
                        result: compare::CompareResult::Greater as i32,
                        target: compare::CompareTarget::Version as i32,
                        key: "foo".into(),
                        target_union: Some(compare::TargetUnion::Version(1)),
                        ..Default::default()
                    }],
                    success: vec![op_put("t2", "nested"), op_get("t1")],
                    failure: vec![],
                })),
            }],
        })
        .await,
    ));
    out.push(masked(kv.range(get("t2")).await));
    // Compares on create and mod revisions, lease, over a range, and a
    // serializable read.
    let cmp = |target, result, key: &str, range_end: &str, value| Compare {
        result: result as i32,
        target: target as i32,
        key: key.into(),
        range_end: range_end.into(),
        target_union: Some(value),
    };
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    for c in [
        cmp(T::Create, R::Equal, "foo", "", U::CreateRevision(2)),
        cmp(T::Mod, R::Less, "p/", "p0", U::ModRevision(8)),
        cmp(T::Mod, R::Greater, "p/", "p0", U::ModRevision(6)),
        cmp(T::Lease, R::Equal, "foo", "", U::Lease(0)),
        cmp(T::Version, R::NotEqual, "missing", "", U::Version(0)),
        cmp(T::Value, R::Greater, "p/", "p0", U::Value("a".into())),
    ] {
        out.push(masked(
            kv.txn(TxnRequest {
                compare: vec![c],
                success: vec![op_get("foo")],
                failure: vec![],
            })
            .await,
        ));
    }
    out.push(masked(
        kv.range(RangeRequest {
            serializable: true,
            ..get("foo")
        })
        .await,
    ));
    // etcd's checks and errors.
    out.push(masked(kv.put(put("", "v")).await));
    out.push(masked(
        kv.put(PutRequest {
            ignore_value: true,
            ..put("foo", "v")
        })
        .await,
    ));
    out.push(masked(
        kv.put(PutRequest {
            ignore_lease: true,
            lease: 5,
            ..put("foo", "")
        })
        .await,
    ));
    out.push(masked(
        kv.put(PutRequest {
            ignore_value: true,
            ..put("missing", "")
        })
        .await,
    ));
    out.push(masked(
        kv.put(PutRequest {
            lease: 12345,
            ..put("foo", "v")
        })
        .await,
    ));
    out.push(masked(kv.range(get("")).await));
    out.push(masked(
        kv.range(RangeRequest {
            revision: 1000,
            ..get("foo")
        })
        .await,
    ));
    out.push(masked(
        kv.txn(TxnRequest {
            success: vec![op_put("dup", "1"), op_put("dup", "2")],
            ..Default::default()
        })
        .await,
    ));
    out.push(masked(
        kv.txn(TxnRequest {
            success: (0..129).map(|i| op_put(&format!("k{i}"), "v")).collect(),
            ..Default::default()
        })
        .await,
    ));
    out.push(masked(
        kv.txn(TxnRequest {
            success: vec![RequestOp { request: None }],
            ..Default::default()
        })
        .await,
    ));
    // A key with a lease (explicit id, so that it compares).
    out.push(masked(
        c.lease
            .clone()
            .lease_grant(LeaseGrantRequest { ttl: 60, id: 77 })
            .await,
    ));
    out.push(masked(
        kv.put(PutRequest {
            lease: 77,
            ..put("leased", "v")
        })
        .await,
    ));
    out.push(masked(
        kv.put(PutRequest {
            ignore_value: true,
            ignore_lease: true,
            ..put("leased", "")
        })
        .await,
    ));
    out.push(masked(kv.range(get("leased")).await));
    // Compaction: then the past is gone, the future refused.
    out.push(masked(
        kv.compact(CompactionRequest {
            revision: 5,
            physical: false,
        })
        .await,
    ));
    out.push(masked(
        kv.range(RangeRequest {
            revision: 4,
            ..get("foo")
        })
        .await,
    ));
    out.push(masked(
        kv.range(RangeRequest {
            revision: 5,
            ..get("foo")
        })
        .await,
    ));
    out.push(masked(
        kv.compact(CompactionRequest {
            revision: 5,
            physical: true,
        })
        .await,
    ));
    out.push(masked(
        kv.compact(CompactionRequest {
            revision: 100,
            physical: false,
        })
        .await,
    ));
    out
}

#[tokio::test]
async fn kv_answers_as_etcd() {
    let out = both(kv_scenario).await;
    // Checks of our own, so that the test means something without etcd.
    assert!(out[0].contains("revision: 1,"), "{}", out[0]);
    assert!(
        out[2].contains("value: [98, 97, 114]"),
        "prev_kv bar: {}",
        out[2]
    );
    let errors: Vec<_> = out.iter().filter(|o| o.starts_with("error")).collect();
    assert!(errors
        .iter()
        .any(|e| e.as_str() == "error InvalidArgument: etcdserver: key is not provided"));
    assert!(errors.iter().any(|e| e.as_str()
        == "error OutOfRange: etcdserver: mvcc: required revision has been compacted"));
    assert!(errors
        .iter()
        .any(|e| e.as_str()
            == "error InvalidArgument: etcdserver: duplicate key given in txn request"));
}

async fn size_scenario(c: Clients) -> Vec<Outcome> {
    let mut kv = c.kv.clone();
    // Just under etcd's --max-request-bytes, just over it, and over the
    // gRPC receive limit (1.5 MiB + 512 KiB).
    let near = vec![b'x'; 1024 * 1024 + 512 * 1024 - 64];
    let over = vec![b'x'; 1024 * 1024 + 512 * 1024 + 1];
    let huge = vec![b'x'; 2 * 1024 * 1024 + 10];
    let mut out = Vec::new();
    for value in [near, over, huge] {
        out.push(masked(
            kv.put(PutRequest {
                key: "big".into(),
                value,
                ..Default::default()
            })
            .await,
        ));
    }
    out
}

#[tokio::test]
async fn request_size_limits_as_etcd() {
    let out = both(size_scenario).await;
    assert!(out[0].starts_with("PutResponse"), "{}", out[0]);
    assert_eq!(
        out[1],
        "error InvalidArgument: etcdserver: request is too large"
    );
    assert!(
        out[2].starts_with("error ResourceExhausted: grpc: received message larger than max ("),
        "{}",
        out[2]
    );
}
