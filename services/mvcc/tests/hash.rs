//! `HashKV` as etcd 3.4.23 computes it: the hashes below were printed by
//! `etcdctl endpoint hashkv -w json` against an etcd 3.4.23 member after
//! the same writes (one `etcdctl` command per step; the lease ID is the one
//! etcd granted).

mod support;

use concord_mvcc::*;
use support::*;

fn compact(ks: &mut Keyspace, revision: i64) {
    ks.compact(&CompactionRequest {
        revision,
        physical: false,
    })
    .unwrap();
}

#[test]
fn hash_kv_is_etcds() {
    let mut ks = Keyspace::default();
    put(&mut ks, "a", "1"); // 2
    put(&mut ks, "b", "2"); // 3
    assert_eq!(ks.hash_kv(0), Ok((1827592406, -1)));
    put(&mut ks, "a", "3"); // 4
    ks.delete_range(&del_req("b", "")).unwrap(); // 5
    assert_eq!(ks.hash_kv(0), Ok((1125682900, -1)));
    assert_eq!(ks.hash_kv(3), Ok((1827592406, -1)));
    ks.txn(&TxnRequest {
        success: vec![op_put("c", "x"), op_put("d", "y")],
        ..Default::default()
    })
    .unwrap(); // 6
    assert_eq!(ks.hash_kv(0), Ok((1848509990, -1)));
    let lease = ks
        .lease_grant(
            &LeaseGrantRequest {
                ttl: 100,
                id: 0x694da2519c04750a,
            },
            0,
        )
        .unwrap();
    ks.put(&PutRequest {
        lease: lease.id,
        ..put_req("e", "z")
    })
    .unwrap(); // 7
    assert_eq!(ks.hash_kv(0), Ok((407722192, -1)));
    // Members that compacted and members that did not agree.
    compact(&mut ks, 5);
    assert_eq!(ks.hash_kv(0), Ok((2661542676, 5)));
    assert_eq!(ks.hash_kv(6), Ok((1950345710, 5)));
    put(&mut ks, "b", "again"); // 8
    ks.delete_range(&del_req("a", "")).unwrap(); // 9
    assert_eq!(ks.hash_kv(0), Ok((1654507316, 5)));
    compact(&mut ks, 9);
    assert_eq!(ks.hash_kv(0), Ok((3006869859, 9)));
}

#[test]
fn hash_kv_refuses_revisions_compacted_or_to_come() {
    let mut ks = Keyspace::default();
    for v in ["1", "2", "3"] {
        put(&mut ks, "a", v); // 2, 3, 4
    }
    compact(&mut ks, 3);
    // etcd: at or below the compaction, ErrCompacted; above the current
    // revision, ErrFutureRev.
    assert_eq!(ks.hash_kv(3), Err(Error::Compacted));
    assert_eq!(ks.hash_kv(2), Err(Error::Compacted));
    assert_eq!(ks.hash_kv(5), Err(Error::FutureRev));
    assert!(ks.hash_kv(4).is_ok());
}
