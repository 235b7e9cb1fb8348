//! The `Lease` service against etcd 3.4: grants (etcd's minimum TTL, an id
//! taken, a TTL too large), keys under a lease, `LeaseTimeToLive` with its
//! keys, `LeaseLeases`, the `LeaseKeepAlive` stream (an unknown lease
//! answered with TTL 0) and revocation deleting the keys; then expiry
//! deleting a key, seen by a watcher.

mod v3_support;

use concord_rpc::etcd::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseLeasesRequest, LeaseRevokeRequest,
    LeaseTimeToLiveRequest, PutRequest, RangeRequest, WatchCreateRequest,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use v3_support::server::TestServer;
use v3_support::watch::WatchStream;
use v3_support::{both, compare::mask, masked, Clients, Outcome};

async fn lease_scenario(c: Clients) -> Vec<Outcome> {
    let mut lease = c.lease.clone();
    let mut kv = c.kv.clone();
    let mut out = Vec::new();
    let grant = |ttl, id| LeaseGrantRequest { ttl, id };
    out.push(masked(lease.lease_grant(grant(1, 100)).await));
    out.push(masked(lease.lease_grant(grant(5, 100)).await));
    out.push(masked(lease.lease_grant(grant(9_000_000_001, 101)).await));
    out.push(masked(lease.lease_grant(grant(60, 200)).await));
    for k in ["k2", "k1"] {
        out.push(masked(
            kv.put(PutRequest {
                key: k.into(),
                value: "v".into(),
                lease: 200,
                ..Default::default()
            })
            .await,
        ));
    }
    // The seconds left depend on when the call lands: shown as a range;
    // etcd lists the keys in its map's (random) order: sorted here.
    let mut ttl = lease
        .lease_time_to_live(LeaseTimeToLiveRequest {
            id: 200,
            keys: true,
        })
        .await
        .unwrap()
        .into_inner();
    ttl.keys.sort();
    out.push(format!(
        "id {} granted {} keys {:?} ttl in 58..=60: {}",
        ttl.id,
        ttl.granted_ttl,
        ttl.keys,
        (58..=60).contains(&ttl.ttl)
    ));
    out.push(masked(
        lease
            .lease_time_to_live(LeaseTimeToLiveRequest {
                id: 999,
                keys: true,
            })
            .await,
    ));
    let mut ids: Vec<i64> = lease
        .lease_leases(LeaseLeasesRequest {})
        .await
        .unwrap()
        .into_inner()
        .leases
        .iter()
        .map(|l| l.id)
        .collect();
    ids.sort();
    out.push(format!("leases {ids:?}"));
    // The keep-alive stream: a known lease, an unknown one.
    let (tx, rx) = mpsc::channel(4);
    let call = tokio::spawn({
        let mut lease = lease.clone();
        async move { lease.lease_keep_alive(ReceiverStream::new(rx)).await }
    });
    tx.send(LeaseKeepAliveRequest { id: 200 }).await.unwrap();
    let mut answers = call.await.unwrap().expect("keep-alive stream").into_inner();
    out.push(mask(&format!("{:?}", answers.message().await.unwrap())));
    tx.send(LeaseKeepAliveRequest { id: 999 }).await.unwrap();
    out.push(mask(&format!("{:?}", answers.message().await.unwrap())));
    drop(tx);
    out.push(format!(
        "after close: {:?}",
        answers.message().await.map(|m| m.is_none())
    ));
    // Revoking deletes the keys, in one revision.
    out.push(masked(
        lease.lease_revoke(LeaseRevokeRequest { id: 200 }).await,
    ));
    out.push(masked(
        kv.range(RangeRequest {
            key: "k".into(),
            range_end: "l".into(),
            ..Default::default()
        })
        .await,
    ));
    out.push(masked(
        lease.lease_revoke(LeaseRevokeRequest { id: 200 }).await,
    ));
    out.push(masked(
        kv.put(PutRequest {
            key: "k3".into(),
            lease: 200,
            ..Default::default()
        })
        .await,
    ));
    out
}

#[tokio::test]
async fn leases_answer_as_etcd() {
    let out = both(lease_scenario).await;
    assert!(out[0].contains("ttl: 2,"), "minimum TTL: {}", out[0]);
    assert_eq!(
        out[1],
        "error FailedPrecondition: etcdserver: lease already exists"
    );
    assert_eq!(out[2], "error OutOfRange: etcdserver: too large lease TTL");
    assert!(out[6].contains("[107, 49], [107, 50]"), "keys: {}", out[6]);
    assert!(out[6].ends_with("true"), "{}", out[6]);
    assert!(out[7].contains("ttl: -1"), "{}", out[7]);
    assert_eq!(out[8], "leases [100, 200]");
    assert!(out[9].contains("ttl: 60"), "{}", out[9]);
    assert!(out[10].contains("ttl: 0"), "{}", out[10]);
    assert!(out[13].contains("kvs: []"), "{}", out[13]);
    assert_eq!(
        out[14],
        "error NotFound: etcdserver: requested lease not found"
    );
}

/// A lease that is not kept alive expires, and its key is deleted (a
/// watcher sees the delete).
#[tokio::test]
async fn expiry_deletes_the_keys() {
    let server = TestServer::start().await;
    let c = Clients::connect(&server.endpoint()).await;
    let granted = c
        .lease
        .clone()
        .lease_grant(LeaseGrantRequest { ttl: 2, id: 0 })
        .await
        .unwrap()
        .into_inner();
    assert!(granted.id > 0);
    c.kv.clone()
        .put(PutRequest {
            key: "eph".into(),
            value: "v".into(),
            lease: granted.id,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut w = WatchStream::open(&c).await;
    w.create(WatchCreateRequest {
        key: "eph".into(),
        ..Default::default()
    })
    .await;
    assert!(w.next().await.created);
    let deleted = w.next_within(6).await;
    assert_eq!(deleted.events.len(), 1);
    assert_eq!(deleted.events[0].r#type, 1, "a delete: {deleted:?}");
    let ttl = c
        .lease
        .clone()
        .lease_time_to_live(LeaseTimeToLiveRequest {
            id: granted.id,
            keys: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ttl.ttl, -1);
}
