//! The v3 keyspace on a single member with a real data dir: writes through
//! the raft log, revisions apart from the v2 store's index, durability
//! across restarts (from the log, and from a snapshot plus the log), the
//! watchers' order through catch-up, and lease expiry by the leader.

use std::sync::Arc;
use std::time::Duration;

use concord_api::v3::{mvcc, KeyspaceV3, V3WatchItem, V3WatchSpec};
use concord_api::Kv;
use concord_consensus::{Consensus, ConsensusConfig};
use concord_store::Command;

mod support;

use support::{config, Recorder};

async fn start(cfg: ConsensusConfig) -> Arc<Consensus> {
    Consensus::start(cfg, Arc::new(Recorder::default()), Vec::new())
        .await
        .unwrap()
}

/// A v3 write, retried while the member is still electing itself.
async fn write(c: &Consensus, cmd: mvcc::Command) -> (i64, mvcc::Outcome) {
    for _ in 0..400 {
        match KeyspaceV3::write(c, cmd.clone()).await {
            Ok(a) => return (a.header.revision, a.result.expect("keyspace error")),
            Err(concord_api::ApiError::NoLeader(_)) => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    panic!("no leader after 10 s");
}

fn put(key: &str, value: &str) -> mvcc::Command {
    mvcc::Command::Put(mvcc::PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    })
}

async fn get(c: &Consensus, key: &str, revision: i64) -> Vec<mvcc::KeyValue> {
    let answer = KeyspaceV3::range(
        c,
        mvcc::RangeRequest {
            key: key.into(),
            revision,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    answer.result.unwrap().kvs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_writes_are_replicated_apart_from_v2_and_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    // A snapshot every 20 entries: the second restart loads one.
    let c = start(config(dir.path(), 20)).await;
    let (rev, _) = write(&c, put("foo", "bar")).await;
    assert_eq!(rev, 2, "an empty keyspace is at revision 1");
    // A v2 write moves the store index, not the revision.
    let v2 = Kv::write(
        &*c,
        Command::Set {
            key: "/foo".into(),
            dir: false,
            value: "v2".into(),
            ttl: None,
            refresh: false,
        },
    )
    .await
    .unwrap();
    assert!(v2.event.etcd_index >= 1);
    let (rev, _) = write(&c, put("foo", "baz")).await;
    assert_eq!(rev, 3);
    let kvs = get(&c, "foo", 0).await;
    assert_eq!(kvs.len(), 1);
    assert_eq!(
        (
            kvs[0].value.as_slice(),
            kvs[0].create_revision,
            kvs[0].mod_revision,
            kvs[0].version
        ),
        (&b"baz"[..], 2, 3, 2)
    );
    assert_eq!(get(&c, "foo", 2).await[0].value, b"bar");
    c.shutdown().await;
    drop(c);

    // Restart: from the log.
    let c = start(config(dir.path(), 20)).await;
    for i in 0..40 {
        write(&c, put(&format!("k{i}"), "v")).await;
    }
    assert_eq!(get(&c, "foo", 0).await[0].value, b"baz");
    c.shutdown().await;
    drop(c);

    // Restart: from a snapshot (taken meanwhile) plus the log.
    let snaps = std::fs::read_dir(dir.path().join("member/snap"))
        .unwrap()
        .count();
    assert!(snaps > 0, "a snapshot was taken");
    let c = start(config(dir.path(), 20)).await;
    let (rev, _) = write(&c, put("foo", "qux")).await;
    assert_eq!(rev, 44);
    assert_eq!(get(&c, "foo", 3).await[0].value, b"baz", "history kept");
    assert_eq!(get(&c, "k39", 0).await.len(), 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_get_every_change_in_order_even_when_behind() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(dir.path(), 10_000)).await;
    write(&c, put("a", "0")).await;
    // One watcher from the start (history first), one from now that does
    // not read until 1000 changes were made (far more than its queue).
    let mut from_start = KeyspaceV3::watch(
        &*c,
        V3WatchSpec {
            key: b"a".to_vec(),
            range_end: b"b".to_vec(),
            start_revision: 1,
        },
    )
    .await
    .unwrap();
    let mut late = KeyspaceV3::watch(
        &*c,
        V3WatchSpec {
            key: b"a".to_vec(),
            range_end: b"b".to_vec(),
            start_revision: 0,
        },
    )
    .await
    .unwrap();
    let writes = 1000;
    let mut pending = Vec::new();
    for i in 1..=writes {
        let c = c.clone();
        pending.push(tokio::spawn(async move {
            write(&c, put(&format!("a{}", i % 7), &i.to_string())).await
        }));
    }
    for p in pending {
        p.await.unwrap();
    }
    let last = c.header().revision;
    assert_eq!(last, 2 + writes);
    for (watcher, first) in [(&mut from_start, 2), (&mut late, 3)] {
        let mut next = first;
        while next <= last {
            let item = tokio::time::timeout(Duration::from_secs(20), watcher.items.recv())
                .await
                .expect("events keep coming")
                .expect("watcher open");
            let V3WatchItem::Events { events, .. } = item else {
                panic!("unexpected {item:?}");
            };
            for e in events {
                assert_eq!(e.kv.mod_revision, next, "no gap, no duplicate");
                next += 1;
            }
        }
    }
    // A progress report comes after everything delivered.
    late.control.request_progress();
    let item = tokio::time::timeout(Duration::from_secs(10), late.items.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item, V3WatchItem::Progress { revision: last });
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_revokes_expired_leases_and_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(dir.path(), 10_000)).await;
    let (_, granted) = write(
        &c,
        mvcc::Command::LeaseGrant {
            request: mvcc::LeaseGrantRequest { ttl: 1, id: 0 },
            now: 0,
        },
    )
    .await;
    let mvcc::Outcome::LeaseGrant(granted) = granted else {
        panic!("{granted:?}")
    };
    assert_eq!(
        granted.ttl, 2,
        "etcd's minimum TTL with its default timeouts"
    );
    write(
        &c,
        mvcc::Command::Put(mvcc::PutRequest {
            key: b"leased".to_vec(),
            value: b"v".to_vec(),
            lease: granted.id,
            ..Default::default()
        }),
    )
    .await;
    let mut watcher = KeyspaceV3::watch(
        &*c,
        V3WatchSpec {
            key: b"leased".to_vec(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let item = tokio::time::timeout(Duration::from_secs(15), watcher.items.recv())
        .await
        .expect("the lease expires")
        .unwrap();
    let V3WatchItem::Events { events, .. } = item else {
        panic!("{item:?}")
    };
    assert_eq!(events[0].kind, mvcc::EventType::Delete);
    assert!(get(&c, "leased", 0).await.is_empty());
    let ttl = KeyspaceV3::lease_time_to_live(
        &*c,
        mvcc::LeaseTimeToLiveRequest {
            id: granted.id,
            keys: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(ttl.result.unwrap().ttl, -1, "gone, as etcd answers");
    c.shutdown().await;
}
