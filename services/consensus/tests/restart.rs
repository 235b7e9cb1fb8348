//! A single member on a real data dir: writes are durable across restarts,
//! from the log alone and from a snapshot plus the log tail, and the leader
//! expires keys through the log.

use std::sync::Arc;
use std::time::Duration;

use concord_api::{Kv, ReadRequest};
use concord_consensus::{Consensus, ConsensusConfig};
use concord_store::Command;

mod support;

use support::{config, Recorder};

/// Starts the member on its own (no peers), its events going to `events`.
async fn start(cfg: ConsensusConfig, events: Arc<Recorder>) -> Arc<Consensus> {
    Consensus::start(cfg, events, Vec::new()).await.unwrap()
}

fn set(key: &str, value: &str, ttl: Option<u64>) -> Command {
    Command::Set {
        key: key.into(),
        dir: false,
        value: value.into(),
        ttl,
        refresh: false,
    }
}

async fn write_retrying(c: &Consensus, cmd: Command) -> u64 {
    // Right after start the member may still be electing itself.
    for _ in 0..200 {
        match c.write(cmd.clone()).await {
            Ok(r) => return r.event.etcd_index,
            Err(concord_api::ApiError::NoLeader(_)) => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    panic!("no leader after 5 s");
}

async fn value(c: &Consensus, key: &str) -> Option<String> {
    c.read(ReadRequest {
        key: key.into(),
        ..Default::default()
    })
    .await
    .ok()
    .and_then(|r| r.event.node.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_restart_from_log_and_from_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // A small snapshot count so that several snapshots are taken.
    let c = start(config(dir.path(), 50), Arc::default()).await;
    let mut last = 0;
    for i in 0..230 {
        last = write_retrying(&c, set(&format!("/k{i}"), &format!("v{i}"), None)).await;
    }
    c.shutdown().await;
    drop(c);
    assert!(
        std::fs::read_dir(dir.path().join("member/snap"))
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "snap")),
        "no snapshot taken"
    );

    let rec = Arc::new(Recorder::default());
    let c = start(config(dir.path(), 50), rec.clone()).await;
    // The committed tail is re-applied on start; wait for it.
    for _ in 0..200 {
        if c.store_index() >= last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(c.store_index(), last);
    for i in 0..230 {
        assert_eq!(
            value(&c, &format!("/k{i}")).await.as_deref(),
            Some(format!("v{i}").as_str())
        );
    }
    let next = write_retrying(&c, set("/after", "x", None)).await;
    assert_eq!(next, last + 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_expires_keys_through_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder::default());
    let c = start(config(dir.path(), 1000), rec.clone()).await;
    write_retrying(&c, set("/ttl", "v", Some(1))).await;
    for _ in 0..400 {
        if value(&c, "/ttl").await.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(value(&c, "/ttl").await, None, "key did not expire");
    let events = rec.events.lock().clone();
    assert_eq!(events.last().unwrap().action, concord_store::Action::Expire);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reapplies_the_committed_log_before_any_election() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(dir.path(), 100_000), Arc::default()).await;
    let mut last = 0;
    for i in 0..20 {
        last = write_retrying(&c, set(&format!("/k{i}"), "v", None)).await;
    }
    let applied = c.raft_position().index;
    // Let the lazily saved committed log id reach the disk.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.shutdown().await;
    drop(c);
    let db = rusqlite::Connection::open(dir.path().join("member/raft.db")).unwrap();
    let committed: Vec<u8> = db
        .query_row("SELECT value FROM meta WHERE key = 'committed'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let committed: openraft::LogId<u64> = serde_json::from_slice(&committed).unwrap();
    assert_eq!(committed.index, applied);
    drop(db);

    let c = start(config(dir.path(), 100_000), Arc::default()).await;
    // No waiting: the committed entries were applied during start.
    assert_eq!(c.store_index(), last);
    assert_eq!(value(&c, "/k19").await.as_deref(), Some("v"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_identity_and_ignores_initial_cluster_flags() {
    use concord_api::Cluster;
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(dir.path(), 100_000), Arc::default()).await;
    let (member, cluster) = (c.member_id(), c.cluster_id());
    write_retrying(&c, set("/a", "1", None)).await;
    c.shutdown().await;
    drop(c);

    let mut cfg = config(dir.path(), 100_000);
    cfg.initial_cluster_token = "another-token".into();
    cfg.initial_cluster = vec![("n1".into(), vec!["http://127.0.0.1:9".into()])];
    let c = start(cfg, Arc::default()).await;
    assert_eq!(c.member_id(), member);
    assert_eq!(c.cluster_id(), cluster);
    let members = c.members().await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].peer_urls, vec!["http://127.0.0.1:1".to_string()]);
    c.shutdown().await;
}

/// Replaces a stopped member's raft log with an empty one; returns the
/// member's folder.
async fn empty_raft_log(dir: &std::path::Path) -> std::path::PathBuf {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let member = dir.join("member");
    for f in ["raft.db", "raft.db-wal", "raft.db-shm"] {
        let _ = std::fs::remove_file(member.join(f));
    }
    drop(concord_consensus::log_store::SqliteLogStore::open(&member.join("raft.db")).unwrap());
    member
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstraps_when_a_crash_left_only_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(dir.path(), 100_000), Arc::default()).await;
    c.shutdown().await;
    drop(c);
    // As if the member died after creating its raft log and writing its
    // identity, before raft was initialized: an empty log, an identity
    // that does not say raft has state yet.
    let member = empty_raft_log(dir.path()).await;
    let path = member.join("identity.json");
    let mut identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(identity["has_raft_state"], true, "{identity}");
    identity["has_raft_state"] = false.into();
    std::fs::write(&path, identity.to_string()).unwrap();
    let c = start(config(dir.path(), 100_000), Arc::default()).await;
    assert_eq!(write_retrying(&c, set("/a", "1", None)).await, 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_raft_log_beside_a_started_identity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(dir.path(), 100_000), Arc::default()).await;
    assert_eq!(write_retrying(&c, set("/a", "1", None)).await, 1);
    c.shutdown().await;
    drop(c);
    empty_raft_log(dir.path()).await;
    let err = Consensus::start(
        config(dir.path(), 100_000),
        Arc::<Recorder>::default(),
        Vec::new(),
    )
    .await
    .err()
    .expect("started on an empty raft log");
    let text = err.to_string();
    assert!(
        text.contains("raft.db") && text.contains("no raft state"),
        "{text}"
    );
}

/// A write sent again with the same request ID (its first answer lost) is
/// applied once and answered alike, also after a restart that loaded the
/// table of applied IDs from a snapshot and the log tail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_sent_twice_with_one_request_id_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(config(dir.path(), 20), Arc::default()).await;
    write_retrying(&c, set("/warmup", "x", None)).await;
    let ids = concord_api::RequestIds::new();
    let (first_id, late_id) = (ids.next(), ids.next());
    let create = Command::Create {
        key: "/q".into(),
        dir: false,
        value: "job".into(),
        unique: true,
        ttl: None,
    };
    let first = c.write_once(create.clone(), first_id).await.unwrap();
    let again = c.write_once(create.clone(), first_id).await.unwrap();
    assert_eq!(first.event.node.key, again.event.node.key);
    assert_eq!(first.event.etcd_index, again.event.etcd_index);
    assert_eq!(c.store_index(), first.event.etcd_index, "applied twice");
    // Enough writes after it for a snapshot to hold the ID, then one more
    // named write in the log tail only.
    for i in 0..30 {
        write_retrying(&c, set(&format!("/k{i}"), "v", None)).await;
    }
    let late = c.write_once(create.clone(), late_id).await.unwrap();
    let index = c.store_index();
    c.shutdown().await;
    drop(c);

    let c = start(config(dir.path(), 20), Arc::default()).await;
    for _ in 0..200 {
        if c.store_index() >= index {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for (id, was) in [(first_id, &first), (late_id, &late)] {
        let mut again = None;
        for _ in 0..200 {
            match c.write_once(create.clone(), id).await {
                Ok(r) => {
                    again = Some(r);
                    break;
                }
                Err(concord_api::ApiError::NoLeader(_)) => {
                    tokio::time::sleep(Duration::from_millis(25)).await
                }
                Err(e) => panic!("write failed: {e}"),
            }
        }
        let again = again.expect("no leader after 5 s");
        assert_eq!(again.event.node.key, was.event.node.key);
        assert_eq!(again.event.etcd_index, was.event.etcd_index);
    }
    assert_eq!(c.store_index(), index, "a write was applied twice");
    // A new ID is a new write.
    let other = c.write_once(create, ids.next()).await.unwrap();
    assert_ne!(other.event.node.key, first.event.node.key);
    c.shutdown().await;
}
