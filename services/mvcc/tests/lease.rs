//! Leases, each expectation as etcd 3.4.23 (default flags: minimum TTL 2 s)
//! answered it (`curl 127.0.0.1:23799/v3/lease/...`, `/v3/kv/lease/...`).

mod support;

use concord_mvcc::*;
use support::*;

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SEC;

fn grant(ks: &mut Keyspace, id: i64, ttl: i64) -> Result<LeaseGrantResponse> {
    ks.lease_grant(&LeaseGrantRequest { ttl, id }, T0)
}

fn put_leased(ks: &mut Keyspace, k: &str, lease: i64) -> Result<Applied<PutResponse>> {
    let mut p = put_req(k, "v");
    p.lease = lease;
    ks.put(&p)
}

#[test]
fn grant_ttls_and_ids() {
    let mut ks = Keyspace::default();
    // {"TTL":1,"ID":100} -> TTL 2 (the minimum), header at the current revision
    let r = grant(&mut ks, 100, 1).unwrap();
    assert_eq!((r.id, r.ttl, r.header.revision), (100, 2, 1));
    // again -> FailedPrecondition "etcdserver: lease already exists"
    let e = grant(&mut ks, 100, 60).unwrap_err();
    assert_eq!(
        (e.to_string(), e.code().number()),
        ("etcdserver: lease already exists".into(), 9)
    );
    // TTL 9000000001 -> OutOfRange "etcdserver: too large lease TTL"; 9000000000 is fine
    let e = grant(&mut ks, 101, 9_000_000_001).unwrap_err();
    assert_eq!(
        (e.to_string(), e.code().number()),
        ("etcdserver: too large lease TTL".into(), 11)
    );
    assert_eq!(
        grant(&mut ks, 102, MAX_LEASE_TTL).unwrap().ttl,
        9_000_000_000
    );
    // TTL 0 and -5 -> 2; ID -7 is taken as given
    assert_eq!(grant(&mut ks, 103, 0).unwrap().ttl, 2);
    assert_eq!(grant(&mut ks, 104, -5).unwrap().ttl, 2);
    assert_eq!(grant(&mut ks, -7, 60).unwrap().id, -7);
    // ID 0: one is chosen, positive, the same on every member
    let mut other = ks.clone();
    let a = grant(&mut ks, 0, 60).unwrap().id;
    assert!(a > 0);
    assert_eq!(grant(&mut other, 0, 60).unwrap().id, a);
    assert_ne!(grant(&mut ks, 0, 60).unwrap().id, a);
    // granting writes no revision
    assert_eq!(ks.revision(), 1);
    // LeaseLeases: every lease (by id here; etcd's order is random)
    let ids: Vec<i64> = ks.lease_leases().leases.iter().map(|l| l.id).collect();
    assert_eq!(ids.len(), 7);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(ids.contains(&-7) && ids.contains(&100));
}

#[test]
fn keys_time_to_live_keep_alive_revoke() {
    let mut ks = Keyspace::default();
    grant(&mut ks, 200, 60).unwrap();
    // put lk2 and lk1 with lease 200 -> revisions 2, 3
    put_leased(&mut ks, "lk2", 200).unwrap();
    put_leased(&mut ks, "lk1", 200).unwrap();
    assert_eq!(get(&ks, "lk1").unwrap().lease, 200);
    // timetolive {"ID":200,"keys":true} a moment later -> TTL 59, grantedTTL 60, keys [lk1, lk2]
    let t = ks.lease_time_to_live(
        &LeaseTimeToLiveRequest {
            id: 200,
            keys: true,
        },
        T0 + SEC / 2,
    );
    assert_eq!((t.ttl, t.granted_ttl), (59, 60));
    assert_eq!(t.keys, vec![b("lk1"), b("lk2")]);
    assert_eq!(t.header.revision, 3);
    // timetolive of an unknown lease -> TTL -1, no error
    let t = ks.lease_time_to_live(
        &LeaseTimeToLiveRequest {
            id: 999,
            keys: true,
        },
        T0,
    );
    assert_eq!((t.id, t.ttl, t.granted_ttl, t.keys.len()), (999, -1, 0, 0));
    // keepalive {"ID":200} -> TTL 60
    assert_eq!(ks.lease_keep_alive(200, T0 + 30 * SEC).unwrap().ttl, 60);
    let t = ks.lease_time_to_live(
        &LeaseTimeToLiveRequest {
            id: 200,
            keys: false,
        },
        T0 + 30 * SEC,
    );
    assert_eq!((t.ttl, t.keys.len()), (60, 0));
    // keepalive of an unknown lease: etcd answers TTL 0; here the error
    assert_eq!(
        ks.lease_keep_alive(999, T0).unwrap_err(),
        Error::LeaseNotFound
    );
    // revoke {"ID":200} -> revision 4: both keys deleted in one revision, in key order
    let r = ks.lease_revoke(200).unwrap();
    assert_eq!(r.response.header.revision, 4);
    assert_eq!(ks.revision(), 4);
    assert_eq!(r.events.len(), 2);
    assert_eq!(s(&r.events[0].kv.key), "lk1");
    assert_eq!(r.events[0].kv.mod_revision, 4);
    assert_eq!(r.events[0].prev_kv.as_ref().unwrap().lease, 200);
    assert!(ks.range(&range_req("lk", "lz")).unwrap().kvs.is_empty());
    // revoke again -> NotFound "etcdserver: requested lease not found"
    let e = ks.lease_revoke(200).unwrap_err();
    assert_eq!(
        (e.to_string(), e.code().number()),
        ("etcdserver: requested lease not found".into(), 5)
    );
    // revoking a lease without keys writes no revision
    grant(&mut ks, 102, 60).unwrap();
    assert_eq!(ks.lease_revoke(102).unwrap().response.header.revision, 4);
    assert_eq!(ks.revision(), 4);
}

#[test]
fn a_put_moves_the_key_between_leases() {
    let mut ks = Keyspace::default();
    grant(&mut ks, 300, 600).unwrap();
    put_leased(&mut ks, "m1", 300).unwrap();
    put_leased(&mut ks, "m2", 300).unwrap();
    // put m1 w (no lease) detaches m1; put m2 w with ignore_lease keeps m2's lease
    put(&mut ks, "m1", "w");
    let mut p = put_req("m2", "w");
    p.ignore_lease = true;
    ks.put(&p).unwrap();
    // timetolive 300 keys -> [m2]; m1 has no lease, m2 lease 300
    let t = ks.lease_time_to_live(
        &LeaseTimeToLiveRequest {
            id: 300,
            keys: true,
        },
        T0,
    );
    assert_eq!(t.keys, vec![b("m2")]);
    assert_eq!(get(&ks, "m1").unwrap().lease, 0);
    assert_eq!(get(&ks, "m2").unwrap().lease, 300);
    // a deleted key leaves its lease
    ks.delete_range(&del_req("m2", "")).unwrap();
    let t = ks.lease_time_to_live(
        &LeaseTimeToLiveRequest {
            id: 300,
            keys: true,
        },
        T0,
    );
    assert!(t.keys.is_empty());
    // so revoking it now deletes nothing: no revision
    let rev = ks.revision();
    assert!(ks.lease_revoke(300).unwrap().events.is_empty());
    assert_eq!(ks.revision(), rev);
}

#[test]
fn expiry_is_data_from_the_callers_now() {
    let mut ks = Keyspace::default();
    grant(&mut ks, 1, 10).unwrap();
    grant(&mut ks, 2, 5).unwrap();
    assert!(ks.expired_leases(T0 + 4 * SEC).is_empty());
    // soonest first
    assert_eq!(ks.expired_leases(T0 + 5 * SEC), vec![2]);
    assert_eq!(ks.expired_leases(T0 + 10 * SEC), vec![2, 1]);
    // a keep-alive at T0+8 pushes lease 2 to T0+13
    ks.lease_keep_alive(2, T0 + 8 * SEC).unwrap();
    assert_eq!(ks.expired_leases(T0 + 12 * SEC), vec![1]);
    // a promotion at T0+20 with 1 s extension: every lease gets its TTL again
    ks.lease_promote(T0 + 20 * SEC, SEC);
    assert!(ks.expired_leases(T0 + 25 * SEC).is_empty());
    assert_eq!(ks.expired_leases(T0 + 26 * SEC), vec![2]);
    // an expired lease not yet revoked counts down past zero, truncated
    let t = ks.lease_time_to_live(
        &LeaseTimeToLiveRequest { id: 2, keys: false },
        T0 + 28 * SEC,
    );
    assert_eq!(t.ttl, -2);
    // a huge TTL and time do not overflow
    grant(&mut ks, 3, MAX_LEASE_TTL).unwrap();
    ks.lease_keep_alive(3, i64::MAX).unwrap();
    assert!(!ks.expired_leases(i64::MAX - 1).contains(&3));
}
