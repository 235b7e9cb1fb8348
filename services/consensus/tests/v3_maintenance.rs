//! The member's own maintenance of the v3 keyspace, on a single member with
//! a real data dir: auto-compaction (revision and periodic modes, proposed
//! by the leader through the raft log) and the backend quota (the NOSPACE
//! alarm: raised at the quota, refusing puts, kept across restarts,
//! disarmed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use concord_api::v3::{mvcc, KeyspaceV3};
use concord_api::EventSink;
use concord_consensus::node::AutoCompaction;
use concord_consensus::{Consensus, ConsensusConfig};
use concord_mvcc::{Alarm, AlarmAction, AlarmRequest, AlarmType};
use concord_store::Event;

/// Drops the v2 events: these tests write only to the v3 keyspace.
struct NoEvents;

impl EventSink for NoEvents {
    fn publish(&self, _event: Arc<Event>) {}
    fn reset(&self, _store_index: u64) {}
}

/// A lone member `n1` on `dir` (its peer URL is never dialled),
/// snapshotting every `snapshot_count` entries.
fn config(dir: &std::path::Path, snapshot_count: u64) -> ConsensusConfig {
    ConsensusConfig {
        name: "n1".into(),
        data_dir: dir.to_path_buf(),
        initial_cluster: vec![("n1".into(), vec!["http://127.0.0.1:1".into()])],
        initial_cluster_token: "maintenance".into(),
        advertise_client_urls: vec!["http://127.0.0.1:2".into()],
        initial_advertise_peer_urls: vec!["http://127.0.0.1:1".into()],
        snapshot_count,
        heartbeat_interval_ms: 50,
        election_timeout_ms: 300,
        join_existing: false,
        strict_reconfig_check: true,
    }
}

async fn start(dir: &std::path::Path) -> Arc<Consensus> {
    start_snapshotting(dir, 10_000).await
}

async fn start_snapshotting(dir: &std::path::Path, snapshot_count: u64) -> Arc<Consensus> {
    Consensus::start(config(dir, snapshot_count), Arc::new(NoEvents), Vec::new())
        .await
        .unwrap()
}

/// A v3 write, retried while the member is still electing itself.
async fn write(c: &Consensus, cmd: mvcc::Command) -> mvcc::Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match KeyspaceV3::write(c, cmd.clone()).await {
            Ok(a) => return a.result.map(|_| a.header.revision),
            Err(concord_api::ApiError::NoLeader(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

fn put(key: &str, value: &str) -> mvcc::Command {
    mvcc::Command::Put(mvcc::PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    })
}

/// The keyspace's last compaction (-1 before any), as `HashKV` reports it.
async fn compacted_at(c: &Consensus) -> i64 {
    let answer = KeyspaceV3::hash_kv(c, 0).await.unwrap();
    answer.result.unwrap().compact_revision
}

/// Polls until the last compaction is at `want`.
async fn wait_compacted(c: &Consensus, want: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let at = compacted_at(c).await;
        if at == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "compacted at {at}, not {want}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_mode_compacts_to_current_minus_retention() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    for i in 0..20 {
        write(&c, put(&format!("k{i}"), "v")).await.unwrap();
    }
    assert_eq!(c.header().revision, 21);
    assert_eq!(compacted_at(&c).await, -1, "nothing compacts by default");
    c.start_auto_compaction(AutoCompaction::Revision {
        retention: 5,
        interval: Duration::from_millis(100),
    });
    wait_compacted(&c, 16, Duration::from_secs(10)).await;
    // History after the compaction is still there; before it, gone.
    let range = |revision| mvcc::RangeRequest {
        key: b"k19".to_vec(),
        revision,
        ..Default::default()
    };
    let kept = KeyspaceV3::range(&*c, range(16)).await.unwrap().result;
    assert!(kept.is_ok(), "{kept:?}");
    let gone = KeyspaceV3::range(&*c, range(15)).await.unwrap().result;
    assert_eq!(gone.unwrap_err(), mvcc::Error::Compacted);
    // More writes: compacted again, to the new current - retention.
    for i in 0..3 {
        write(&c, put(&format!("k{i}"), "w")).await.unwrap();
    }
    wait_compacted(&c, 19, Duration::from_secs(10)).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_mode_compacts_to_the_revision_of_retention_ago() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    for i in 0..10 {
        write(&c, put(&format!("k{i}"), "v")).await.unwrap();
    }
    let started = Instant::now();
    c.start_auto_compaction(AutoCompaction::Periodic(Duration::from_secs(2)));
    // The first compaction comes once the retention has passed, at the
    // revision sampled then (nothing was written since).
    wait_compacted(&c, 11, Duration::from_secs(15)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "compacted after {:?}, before the retention passed",
        started.elapsed()
    );
    // Written now, then kept for the retention: compacted later, to it.
    let rev = write(&c, put("later", "v")).await.unwrap();
    wait_compacted(&c, rev, Duration::from_secs(15)).await;
    c.shutdown().await;
}

async fn alarms(c: &Consensus, action: AlarmAction, member_id: u64) -> Vec<Alarm> {
    let request = AlarmRequest {
        action,
        member_id,
        alarm: if action == AlarmAction::Get {
            AlarmType::None
        } else {
            AlarmType::NoSpace
        },
    };
    let answer = KeyspaceV3::alarm(c, request).await.unwrap();
    answer.result.unwrap().alarms
}

fn delete(key: &str) -> mvcc::Command {
    mvcc::Command::DeleteRange(mvcc::DeleteRangeRequest {
        key: key.into(),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_raises_nospace_which_refuses_puts_until_disarmed() {
    let dir = tempfile::tempdir().unwrap();
    // A snapshot every 5 entries: the restart below loads one taken
    // after the alarm.
    let c = start_snapshotting(dir.path(), 5).await;
    let me = c.member_id();
    c.start_quota(20_000);
    let value = "x".repeat(1000);
    // Puts go through until the leader saw the keyspace outgrow the quota
    // and the alarm was applied.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut written = 0;
    let refused = loop {
        match write(&c, put(&format!("k{written}"), &value)).await {
            Ok(_) => written += 1,
            Err(e) => break e,
        }
        assert!(
            Instant::now() < deadline,
            "never refused after {written} puts"
        );
    };
    assert!(
        written >= 19,
        "refused after {written} puts, before the quota"
    );
    assert_eq!(refused, mvcc::Error::NoSpace);
    assert_eq!(
        refused.to_string(),
        "etcdserver: mvcc: database space exceeded"
    );
    assert_eq!(refused.code(), mvcc::GrpcCode::ResourceExhausted);
    let nospace = Alarm {
        member_id: me,
        alarm: AlarmType::NoSpace,
    };
    assert_eq!(alarms(&c, AlarmAction::Get, 0).await, vec![nospace]);
    // Lease grants are refused too; deletes are not.
    let grant = mvcc::Command::LeaseGrant {
        request: mvcc::LeaseGrantRequest { ttl: 60, id: 0 },
        now: 0,
    };
    assert_eq!(write(&c, grant).await.unwrap_err(), mvcc::Error::NoSpace);
    for i in 0..written {
        write(&c, delete(&format!("k{i}"))).await.unwrap();
    }
    c.shutdown().await;
    drop(c);

    // The alarm is replicated state: still there after a restart (from a
    // snapshot and the log), with no quota watching.
    let snaps = std::fs::read_dir(dir.path().join("member/snap"))
        .unwrap()
        .count();
    assert!(snaps > 0, "a snapshot was taken");
    let c = start_snapshotting(dir.path(), 5).await;
    assert_eq!(
        write(&c, put("after", "restart")).await.unwrap_err(),
        mvcc::Error::NoSpace
    );
    assert_eq!(alarms(&c, AlarmAction::Get, 0).await, vec![nospace]);
    // Compaction frees the space, disarming lifts the alarm.
    let now = c.header().revision;
    write(
        &c,
        mvcc::Command::Compaction(mvcc::CompactionRequest {
            revision: now,
            physical: false,
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        alarms(&c, AlarmAction::Deactivate, me).await,
        vec![nospace],
        "the answer lists what was disarmed"
    );
    assert_eq!(alarms(&c, AlarmAction::Get, 0).await, vec![]);
    c.start_quota(20_000);
    write(&c, put("after", "disarm")).await.unwrap();
    c.shutdown().await;
}
