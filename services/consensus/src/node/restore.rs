//! `snapshot restore`: a new member's data dir made from a v3 snapshot
//! file (what `Maintenance.Snapshot` streams and `etcdctl snapshot save`
//! stores), as etcd 3.4's `clientv3/snapshot` `Restore` makes one.
//!
//! What etcd's restore keeps, this keeps: the v3 keyspace whole (revision,
//! every key's create/mod revision and version, the history and the
//! compaction point), and the leases, whose clocks stop until the new
//! cluster's first leader gives each its full TTL again (etcd's lessor
//! recovers them with a "forever" expiry until `Promote`). What it drops,
//! this drops: the old cluster's membership (the flags give the new one)
//! and the v2 store (etcd's restore writes a v2 store holding only the new
//! membership; Concord keeps membership in raft, so the v2 store is empty),
//! and the writes remembered by request ID.
//!
//! The data dir is what a member that installed a snapshot holds
//! (`data_dir.rs`), identical on every member restored with the same
//! flags, so they start as one cluster:
//! - `member/identity.json`: the member and cluster IDs of the flags
//!   (etcd's, from the peer URLs and `--initial-cluster-token`);
//! - `member/snap/<term>-<index>.snap`: the state machine at log id
//!   (term 1, index = the number of members, as etcd's restore commits one
//!   entry per member), with the new membership;
//! - `member/raft.db`: the log, empty and purged up to that log id, and a
//!   vote in term 1 (etcd's restored hard state: term 1, the first
//!   member's vote), so the first election is in term 2.
//!
//! A file saved from Concord carries the whole keyspace in its `concord`
//! bucket; one saved from etcd is read from etcd's own buckets (key, lease,
//! meta: `Keyspace::from_etcd_backend`), so an etcd cluster's data moves to
//! Concord with its revisions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use concord_mvcc::{bbolt::BboltError, Keyspace};
use concord_store::Store;
use openraft::storage::RaftLogStorage;
use openraft::{CommittedLeaderId, Vote};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::data_dir::{IDENTITY_FILE, RAFT_LOG_FILE, SNAPSHOT_DIR};
use super::identity::{save_identity, Identity};
use crate::applied_requests::AppliedRequests;
use crate::ids;
use crate::log_store::SqliteLogStore;
use crate::types::{LogId, MemberNode, SnapshotMeta, StoredMembership};

/// etcd's snapshots end in the sha256 of what precedes it, the whole
/// padded to 512 bytes (`snapshot save` checks the same).
const SHA256_SIZE: usize = 32;

/// `etcdctl snapshot restore`'s settings.
#[derive(Debug, Clone)]
pub struct RestoreConfig {
    pub snapshot_path: PathBuf,
    pub name: String,
    pub data_dir: PathBuf,
    /// name -> peer URLs.
    pub initial_cluster: Vec<(String, Vec<String>)>,
    pub initial_cluster_token: String,
    pub initial_advertise_peer_urls: Vec<String>,
    pub skip_hash_check: bool,
}

/// Why a restore failed; etcd's words where etcd has them.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// `--name`, `--initial-cluster` or `--initial-advertise-peer-urls`
    /// refused by the member's own bootstrap checks.
    #[error("{0}")]
    Flags(String),
    #[error("data-dir {0:?} exists")]
    DataDirExists(String),
    #[error("open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("snapshot missing hash but --skip-hash-check=false")]
    MissingHash,
    #[error("expected sha256 {}, got {}", go_bytes(.expected), go_bytes(.got))]
    HashMismatch { expected: Vec<u8>, got: Vec<u8> },
    #[error("{path}: {source}")]
    Snapshot { path: String, source: BboltError },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the raft log {path}: {message}")]
    RaftLog { path: String, message: String },
}

/// Go's `%v` of a byte slice: `[38 90 42]`.
fn go_bytes(b: &[u8]) -> String {
    let parts: Vec<String> = b.iter().map(u8::to_string).collect();
    format!("[{}]", parts.join(" "))
}

/// Go's wording of an OS error (`no such file or directory`), as
/// etcdctl prints it (concordctl's snapshot commands use it too).
pub fn go_os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A restore whose flags were checked: the IDs are known and the data
/// dir does not exist yet. [`RestorePlan::write`] reads the snapshot and
/// writes the data dir.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    cfg: RestoreConfig,
    member_id: u64,
    cluster_id: u64,
    members: BTreeMap<u64, MemberNode>,
}

/// What a restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub revision: i64,
    pub keys: usize,
    pub leases: usize,
}

impl RestorePlan {
    /// etcd's checks before anything is written: the member's bootstrap
    /// checks on the flags, then a data dir that must not exist.
    pub fn new(cfg: RestoreConfig) -> Result<RestorePlan, RestoreError> {
        use crate::member::server::{check_advertised_peer_urls, check_initial_cluster};
        let flags = |e: anyhow::Error| RestoreError::Flags(e.to_string());
        check_initial_cluster(&cfg.name, &cfg.initial_cluster).map_err(flags)?;
        check_advertised_peer_urls(
            &cfg.name,
            &cfg.initial_cluster,
            &cfg.initial_advertise_peer_urls,
        )
        .map_err(flags)?;
        // The IDs a member bootstrapping with these flags computes.
        let mut members = BTreeMap::new();
        for (name, urls) in &cfg.initial_cluster {
            let id = ids::member_id(urls, &cfg.initial_cluster_token, None);
            members.insert(
                id,
                MemberNode {
                    name: name.clone(),
                    peer_urls: urls.clone(),
                    client_urls: Vec::new(),
                },
            );
        }
        let member_id = members
            .iter()
            .find(|(_, n)| n.name == cfg.name)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                RestoreError::Flags(format!(
                    "couldn't find local name {:?} in the initial cluster configuration",
                    cfg.name
                ))
            })?;
        let ids_list: Vec<u64> = members.keys().copied().collect();
        let cluster_id = ids::cluster_id(&ids_list);
        // Anything there, even an empty dir, is refused, as etcd does.
        if std::fs::symlink_metadata(&cfg.data_dir).is_ok() {
            return Err(RestoreError::DataDirExists(
                cfg.data_dir.display().to_string(),
            ));
        }
        Ok(RestorePlan {
            cfg,
            member_id,
            cluster_id,
            members,
        })
    }

    pub fn member_id(&self) -> u64 {
        self.member_id
    }

    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// The new cluster's members, by ID.
    pub fn members(&self) -> &BTreeMap<u64, MemberNode> {
        &self.members
    }

    /// Reads and checks the snapshot, then writes the data dir (removed
    /// again if writing it fails half-way).
    pub async fn write(&self) -> Result<Restored, RestoreError> {
        let mut keyspace = self.read_keyspace()?;
        // etcd's restored lessor keeps every lease "forever" until the
        // first leader's Promote gives each its full TTL from then; the
        // new leader's promotion here does the same (node/expiry.rs).
        keyspace.lease_promote(i64::MAX, 0);
        let restored = Restored {
            revision: keyspace.revision(),
            keys: keyspace.key_count(),
            leases: keyspace.leases().iter().count(),
        };
        let dir = &self.cfg.data_dir;
        let written = self.write_dir(&keyspace).await;
        if written.is_err() {
            // Ours alone: `new` saw nothing there.
            let _ = std::fs::remove_dir_all(dir);
        }
        written.map(|()| restored)
    }

    /// The snapshot's keyspace, after etcd's hash check.
    fn read_keyspace(&self) -> Result<Keyspace, RestoreError> {
        let path = self.cfg.snapshot_path.display().to_string();
        let data = std::fs::read(&self.cfg.snapshot_path).map_err(|e| RestoreError::Open {
            path: path.clone(),
            reason: go_os_error(&e),
        })?;
        let has_hash = data.len() % 512 == SHA256_SIZE;
        if has_hash && !self.cfg.skip_hash_check {
            let (body, expected) = data.split_at(data.len() - SHA256_SIZE);
            let got = Sha256::digest(body);
            if got.as_slice() != expected {
                return Err(RestoreError::HashMismatch {
                    expected: expected.to_vec(),
                    got: got.to_vec(),
                });
            }
        } else if !has_hash && !self.cfg.skip_hash_check {
            return Err(RestoreError::MissingHash);
        }
        Keyspace::from_bbolt(&data).map_err(|source| RestoreError::Snapshot { path, source })
    }

    async fn write_dir(&self, keyspace: &Keyspace) -> Result<(), RestoreError> {
        let member_dir = self.cfg.data_dir.join("member");
        let snap_dir = member_dir.join(SNAPSHOT_DIR);
        for dir in [&self.cfg.data_dir, &member_dir, &snap_dir] {
            create_private_dir(dir)?;
        }

        // One entry per member, committed in term 1 by the lowest ID,
        // as etcd's restore commits one ConfChange per member.
        let first = *self.members.keys().next().expect("at least this member");
        let log_id = LogId::new(CommittedLeaderId::new(1, first), self.members.len() as u64);
        let membership = openraft::Membership::from(self.members.clone());
        let meta = SnapshotMeta {
            last_log_id: Some(log_id),
            last_membership: StoredMembership::new(Some(log_id), membership),
            snapshot_id: format!("1-{}", log_id.index),
        };
        write_snapshot(&snap_dir, meta, keyspace)?;

        let log_path = member_dir.join(RAFT_LOG_FILE);
        let log_err = |message: String| RestoreError::RaftLog {
            path: log_path.display().to_string(),
            message,
        };
        let mut log = SqliteLogStore::open(&log_path).map_err(|e| log_err(e.to_string()))?;
        log.save_vote(&Vote::new(1, first))
            .await
            .map_err(|e| log_err(e.to_string()))?;
        log.purge(log_id)
            .await
            .map_err(|e| log_err(e.to_string()))?;
        log.save_committed(Some(log_id))
            .await
            .map_err(|e| log_err(e.to_string()))?;
        log.flush().await.map_err(|e| log_err(e.to_string()))?;
        drop(log);

        // Last: a dir without its identity is a new member's, never one
        // that looks complete with half its files.
        let identity = Identity {
            name: self.cfg.name.clone(),
            member_id: self.member_id,
            cluster_id: self.cluster_id,
            initial_members: self.members.clone(),
            has_raft_state: true,
            cluster_token: self.cfg.initial_cluster_token.clone(),
        };
        save_identity(&identity, &member_dir.join(IDENTITY_FILE)).map_err(|e| RestoreError::Write {
            path: member_dir.join(IDENTITY_FILE).display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })
    }
}

fn create_private_dir(dir: &Path) -> Result<(), RestoreError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |source| RestoreError::Write {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    // etcd's data dirs are 0700.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)
}

/// The state machine's snapshot layout (`state_machine.rs`'s
/// `SnapshotState` and `SnapshotFile`, bincode): field for field the
/// same, which the tests check by opening the result with
/// `StateMachine::open`.
#[derive(Serialize)]
struct SnapshotState {
    removed: BTreeSet<u64>,
    store: Vec<u8>,
    requests: Vec<u8>,
    keyspace: Vec<u8>,
    alarms: Vec<concord_mvcc::Alarm>,
}

#[derive(Serialize)]
struct SnapshotFile {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

fn write_snapshot(dir: &Path, meta: SnapshotMeta, ks: &Keyspace) -> Result<(), RestoreError> {
    use std::io::Write;
    let encode = |e: bincode::Error| RestoreError::Write {
        path: dir.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    let state = SnapshotState {
        removed: BTreeSet::new(),
        store: Store::new().save(),
        requests: AppliedRequests::default().save(),
        keyspace: bincode::serialize(ks).map_err(encode)?,
        alarms: ks.alarms(),
    };
    let file = SnapshotFile {
        meta,
        data: bincode::serialize(&state).map_err(encode)?,
    };
    let bytes = bincode::serialize(&file).map_err(encode)?;
    let (term, index) = file
        .meta
        .last_log_id
        .map_or((0, 0), |l| (l.leader_id.term, l.index));
    let path = dir.join(format!("{term:016x}-{index:016x}.snap"));
    let err = |source| RestoreError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::File::create(&path).map_err(err)?;
    f.write_all(&bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_mvcc::{Command, LeaseGrantRequest, PutRequest, RangeRequest};

    /// The state machine's v2 events go nowhere: only the keyspace counts.
    struct NoEvents;

    impl concord_api::EventSink for NoEvents {
        fn publish(&self, _event: std::sync::Arc<concord_store::Event>) {}
        fn reset(&self, _store_index: u64) {}
    }

    fn cluster(n: usize) -> Vec<(String, Vec<String>)> {
        (1..=n)
            .map(|i| {
                (
                    format!("m{i}"),
                    vec![format!("http://127.0.0.1:{}", 2380 + i)],
                )
            })
            .collect()
    }

    fn config(dir: &Path, file: &Path, name: &str, n: usize) -> RestoreConfig {
        let i: usize = name[1..].parse().unwrap();
        RestoreConfig {
            snapshot_path: file.to_path_buf(),
            name: name.to_string(),
            data_dir: dir.join(name),
            initial_cluster: cluster(n),
            initial_cluster_token: "tok".into(),
            initial_advertise_peer_urls: vec![format!("http://127.0.0.1:{}", 2380 + i)],
            skip_hash_check: false,
        }
    }

    /// A keyspace with history, a deleted key and a lease, saved as
    /// `etcdctl snapshot save` stores it (padded, sha256 appended).
    fn snapshot_file(dir: &Path) -> (PathBuf, Keyspace) {
        let mut ks = Keyspace::default();
        let grant = LeaseGrantRequest { ttl: 60, id: 7 };
        ks.apply(&Command::LeaseGrant {
            request: grant,
            now: 1,
        })
        .unwrap();
        for (k, v, lease) in [("a", "1", 0), ("b", "2", 7), ("a", "3", 0)] {
            let put = PutRequest {
                key: k.into(),
                value: v.into(),
                lease,
                ..Default::default()
            };
            ks.apply(&Command::Put(put)).unwrap();
        }
        let mut image = concord_mvcc::bbolt::write(&ks, 5).unwrap();
        image.resize(image.len().div_ceil(512) * 512, 0);
        let digest = Sha256::digest(&image);
        image.extend_from_slice(&digest);
        let path = dir.join("snap.db");
        std::fs::write(&path, &image).unwrap();
        (path, ks)
    }

    fn all(ks: &Keyspace) -> Vec<concord_mvcc::KeyValue> {
        ks.range(&RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        })
        .unwrap()
        .kvs
    }

    #[tokio::test]
    async fn three_members_restore_one_state_their_state_machine_opens() {
        let tmp = tempfile::tempdir().unwrap();
        let (file, original) = snapshot_file(tmp.path());
        let mut snapshots = Vec::new();
        let mut cluster_ids = BTreeSet::new();
        for name in ["m1", "m2", "m3"] {
            let plan = RestorePlan::new(config(tmp.path(), &file, name, 3)).unwrap();
            cluster_ids.insert(plan.cluster_id());
            let restored = plan.write().await.unwrap();
            assert_eq!(restored.revision, original.revision());
            assert_eq!(restored.leases, 1);
            let member = tmp.path().join(name).join("member");
            let snap_dir = member.join(SNAPSHOT_DIR);
            let names: Vec<_> = std::fs::read_dir(&snap_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names.len(), 1);
            snapshots.push(std::fs::read(snap_dir.join(&names[0])).unwrap());
            // The state machine reads it back: the same keyspace, the new
            // membership, and the leases stopped until a leader promotes.
            let (mut sm, shared) = crate::state_machine::StateMachine::open(
                snap_dir,
                std::sync::Arc::new(NoEvents),
                plan.member_id(),
                plan.cluster_id(),
            )
            .unwrap();
            use openraft::storage::RaftStateMachine;
            let (applied, membership) = sm.applied_state().await.unwrap();
            assert_eq!(applied.map(|l| l.index), Some(3));
            assert_eq!(membership.membership().voter_ids().count(), 3);
            {
                let ks = shared.keyspace.read();
                assert_eq!(all(&ks), all(&original));
                assert_eq!(ks.revision(), original.revision());
                assert!(ks.expired_leases(i64::MAX - 1).is_empty());
            }
            // The raft log: the vote of term 1 and nothing after the
            // snapshot's log id.
            let mut log = SqliteLogStore::open(&member.join(RAFT_LOG_FILE)).unwrap();
            assert_eq!(
                log.read_vote().await.unwrap().map(|v| v.leader_id().term),
                Some(1)
            );
            let state = log.get_log_state().await.unwrap();
            assert_eq!(state.last_purged_log_id, applied);
            assert_eq!(state.last_log_id, applied);
        }
        assert_eq!(cluster_ids.len(), 1);
        assert!(snapshots.windows(2).all(|w| w[0] == w[1]));
    }

    #[tokio::test]
    async fn refusals_are_etcds() {
        let tmp = tempfile::tempdir().unwrap();
        let (file, _) = snapshot_file(tmp.path());
        let mut cfg = config(tmp.path(), &file, "m1", 1);
        cfg.name = "x".into();
        assert_eq!(
            RestorePlan::new(cfg).unwrap_err().to_string(),
            "couldn't find local name \"x\" in the initial cluster configuration"
        );
        let cfg = config(tmp.path(), &file, "m1", 1);
        std::fs::create_dir(&cfg.data_dir).unwrap();
        assert_eq!(
            RestorePlan::new(cfg.clone()).unwrap_err().to_string(),
            format!("data-dir {:?} exists", cfg.data_dir.display().to_string())
        );
        std::fs::remove_dir(&cfg.data_dir).unwrap();

        let mut missing = cfg.clone();
        missing.snapshot_path = tmp.path().join("nofile");
        let err = RestorePlan::new(missing)
            .unwrap()
            .write()
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "open {}: no such file or directory",
                tmp.path().join("nofile").display()
            )
        );
        assert!(!cfg.data_dir.exists());

        let bytes = std::fs::read(&file).unwrap();
        let unhashed = tmp.path().join("unhashed.db");
        std::fs::write(&unhashed, &bytes[..bytes.len() - SHA256_SIZE]).unwrap();
        let mut c = cfg.clone();
        c.snapshot_path = unhashed.clone();
        let err = RestorePlan::new(c.clone())
            .unwrap()
            .write()
            .await
            .unwrap_err();
        assert!(matches!(err, RestoreError::MissingHash), "{err}");
        c.skip_hash_check = true;
        RestorePlan::new(c).unwrap().write().await.unwrap();
        std::fs::remove_dir_all(&cfg.data_dir).unwrap();

        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let corrupt = tmp.path().join("corrupt.db");
        std::fs::write(&corrupt, &bad).unwrap();
        let mut c = cfg.clone();
        c.snapshot_path = corrupt;
        let err = RestorePlan::new(c).unwrap().write().await.unwrap_err();
        assert!(err.to_string().starts_with("expected sha256 ["), "{err}");
        assert!(!cfg.data_dir.exists());
    }
}
