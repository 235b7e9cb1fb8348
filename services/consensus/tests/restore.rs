//! `snapshot restore` round trip in one process: a member's keyspace
//! (history, a deletion, a compaction, a lease) taken as
//! `Maintenance.Snapshot` streams it, restored with [`RestorePlan`] into a
//! new data dir, and a member started there with the restore's flags:
//! a new cluster (the flags' IDs) holding the same keyspace (same ranges,
//! same HashKV at the same revision, the compaction kept, the lease with
//! its keys), whose next write takes the next revision.

use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_api::v3::{mvcc, KeyspaceV3};
use concord_api::EventSink;
use concord_consensus::node::{RestoreConfig, RestorePlan};
use concord_consensus::{Consensus, ConsensusConfig};
use concord_store::Event;
use sha2::{Digest, Sha256};

struct NoEvents;

impl EventSink for NoEvents {
    fn publish(&self, _event: Arc<Event>) {}
    fn reset(&self, _store_index: u64) {}
}

/// A lone member `name` on `dir` (its peer URL is never dialled).
fn config(dir: &std::path::Path, name: &str, token: &str) -> ConsensusConfig {
    ConsensusConfig {
        name: name.into(),
        data_dir: dir.to_path_buf(),
        initial_cluster: vec![(name.into(), vec!["http://127.0.0.1:1".into()])],
        initial_cluster_token: token.into(),
        advertise_client_urls: vec!["http://127.0.0.1:2".into()],
        initial_advertise_peer_urls: vec!["http://127.0.0.1:1".into()],
        snapshot_count: 10_000,
        heartbeat_interval_ms: 50,
        election_timeout_ms: 300,
        join_existing: false,
        strict_reconfig_check: true,
    }
}

/// A v3 write, retried while the member is still electing itself.
async fn write(c: &Consensus, cmd: mvcc::Command) -> mvcc::Outcome {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match KeyspaceV3::write(c, cmd.clone()).await {
            Ok(a) => return a.result.expect("write applied"),
            Err(concord_api::ApiError::NoLeader(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

fn put(key: &str, value: &str, lease: i64) -> mvcc::Command {
    mvcc::Command::Put(mvcc::PutRequest {
        key: key.into(),
        value: value.into(),
        lease,
        ..Default::default()
    })
}

async fn everything(c: &Consensus) -> Vec<mvcc::KeyValue> {
    let req = mvcc::RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    let answer = KeyspaceV3::range(c, req).await.unwrap();
    answer.result.unwrap().kvs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_member_starts_a_new_cluster_with_the_same_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let src = Consensus::start(
        config(&dir.path().join("src"), "src", "src-token"),
        Arc::new(NoEvents),
        Vec::new(),
    )
    .await
    .unwrap();
    let grant = mvcc::Command::LeaseGrant {
        request: mvcc::LeaseGrantRequest { ttl: 600, id: 42 },
        now: 0,
    };
    write(&src, grant).await;
    for (k, v, lease) in [("a", "1", 0), ("b", "2", 42), ("a", "3", 0), ("c", "4", 0)] {
        write(&src, put(k, v, lease)).await;
    }
    let del = mvcc::Command::DeleteRange(mvcc::DeleteRangeRequest {
        key: b"c".to_vec(),
        ..Default::default()
    });
    write(&src, del).await;
    let compact = mvcc::Command::Compaction(mvcc::CompactionRequest {
        revision: 3,
        physical: false,
    });
    write(&src, compact).await;
    let revision = src.header().revision;
    assert_eq!(revision, 6);
    let kvs = everything(&src).await;
    let hash = KeyspaceV3::hash_kv(&*src, 0).await.unwrap().result.unwrap();

    // As `etcdctl snapshot save` stores it: padded, its sha256 appended.
    let mut image = KeyspaceV3::snapshot(&*src).await.unwrap();
    src.shutdown().await;
    image.resize(image.len().div_ceil(512) * 512, 0);
    let digest = Sha256::digest(&image);
    image.extend_from_slice(&digest);
    let file = dir.path().join("snap.db");
    std::fs::write(&file, &image).unwrap();

    let target = dir.path().join("restored");
    let plan = RestorePlan::new(RestoreConfig {
        snapshot_path: file,
        name: "r".into(),
        data_dir: target.clone(),
        initial_cluster: vec![("r".into(), vec!["http://127.0.0.1:1".into()])],
        initial_cluster_token: "restored".into(),
        initial_advertise_peer_urls: vec!["http://127.0.0.1:1".into()],
        skip_hash_check: false,
    })
    .unwrap();
    let restored = plan.write().await.unwrap();
    assert_eq!(restored.revision, revision);

    let r = Consensus::start(
        config(&target, "r", "restored"),
        Arc::new(NoEvents),
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.cluster_id_raw(), plan.cluster_id());
    assert_eq!(r.member_id(), plan.member_id());
    assert_eq!(r.header().revision, revision);
    assert_eq!(everything(&r).await, kvs);
    let again = KeyspaceV3::hash_kv(&*r, 0).await.unwrap().result.unwrap();
    assert_eq!(again, hash, "HashKV (and the compaction) as before");
    let ttl =
        KeyspaceV3::lease_time_to_live(&*r, mvcc::LeaseTimeToLiveRequest { id: 42, keys: true })
            .await
            .unwrap()
            .result
            .unwrap();
    assert_eq!(ttl.granted_ttl, 600);
    assert_eq!(ttl.keys, vec![b"b".to_vec()]);
    // The next write: the next revision, in the restored cluster.
    write(&r, put("d", "5", 0)).await;
    assert_eq!(r.header().revision, revision + 1);
    r.shutdown().await;
}
