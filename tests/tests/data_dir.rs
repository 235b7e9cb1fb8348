//! A damaged data dir is refused, never replaced: a member whose raft log,
//! identity or snapshot was lost or truncated stops at start-up with one
//! message naming the file and the way back, and serves nothing (before,
//! a raft.db truncated to 0 bytes bootstrapped an empty cluster over the
//! member's data).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use concord_tests::{concord_bin, free_port, output_bounded, Server};

/// What every refusal says after naming the file.
const REFUSED: &str = "Refusing to start on a damaged data dir";

/// A single member with `n` keys written, then killed -9.
fn member_with_keys(root: &Path, n: usize, extra: &[&str]) -> (PathBuf, Vec<String>) {
    let data = root.join("m.etcd");
    let s = if extra.is_empty() {
        Server::concord("m", &data)
    } else {
        Server::concord_with("m", &data, extra)
    };
    let mut keys = Vec::new();
    for i in 0..n {
        let r = s.form("PUT", &format!("/v2/keys/k{i}"), &format!("value=v{i}"));
        assert!(
            r.status == 201 || r.status == 200,
            "{} {}",
            r.status,
            r.text()
        );
        keys.push(format!("k{i}"));
    }
    let mut s = s;
    s.kill9();
    (data, keys)
}

/// Starts a member on `data` that must refuse to start; its stderr.
fn refused_start(data: &Path) -> String {
    let (client, peer) = (free_port(), free_port());
    let mut cmd = Command::new(concord_bin());
    cmd.args(["--name", "m"])
        .arg("--data-dir")
        .arg(data)
        .args([
            "--listen-client-urls",
            &format!("http://127.0.0.1:{client}"),
        ])
        .args([
            "--advertise-client-urls",
            &format!("http://127.0.0.1:{client}"),
        ])
        .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args([
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
        ])
        .args(["--initial-cluster", &format!("m=http://127.0.0.1:{peer}")]);
    let out = output_bounded(cmd, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && out.status.code().is_some(),
        "started (or hung) on a damaged data dir: {:?}\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("bootstrapping cluster"),
        "bootstrapped over existing data:\n{stderr}"
    );
    assert!(stderr.contains(REFUSED), "no {REFUSED:?} in:\n{stderr}");
    stderr
}

fn member_file(data: &Path, name: &str) -> PathBuf {
    data.join("member").join(name)
}

fn snapshots(data: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(member_file(data, "snap"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn raft_log_truncated_to_zero_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = member_with_keys(dir.path(), 20, &[]);
    let db = member_file(&data, "raft.db");
    for f in ["raft.db-wal", "raft.db-shm"] {
        let _ = std::fs::remove_file(member_file(&data, f));
    }
    std::fs::File::create(&db).unwrap().set_len(0).unwrap();
    let err = refused_start(&data);
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn missing_raft_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = member_with_keys(dir.path(), 5, &[]);
    for f in ["raft.db", "raft.db-wal", "raft.db-shm"] {
        let _ = std::fs::remove_file(member_file(&data, f));
    }
    let err = refused_start(&data);
    let db = member_file(&data, "raft.db");
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("missing"), "{err}");
}

/// The SQLite write-ahead log holds the entries of a member killed -9;
/// losing it must not turn the member into a new, empty one.
#[test]
fn lost_write_ahead_log_never_bootstraps_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let (data, keys) = member_with_keys(dir.path(), 20, &[]);
    let wal = member_file(&data, "raft.db-wal");
    assert!(wal.exists(), "no {} after kill -9", wal.display());
    std::fs::remove_file(&wal).unwrap();
    let _ = std::fs::remove_file(member_file(&data, "raft.db-shm"));
    let err = refused_start(&data);
    assert!(err.contains("raft.db"), "{err}");
    assert!(err.contains("no raft state"), "{err}");
    assert!(!keys.is_empty());
}

#[test]
fn unreadable_identity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = member_with_keys(dir.path(), 5, &[]);
    let identity = member_file(&data, "identity.json");
    std::fs::write(&identity, b"").unwrap();
    let err = refused_start(&data);
    assert!(err.contains(&identity.display().to_string()), "{err}");
    assert!(err.contains("identity is unreadable"), "{err}");
}

#[test]
fn corrupt_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = member_with_keys(dir.path(), 60, &["--snapshot-count", "10"]);
    let snaps = snapshots(&data);
    let newest = snaps.last().expect("no snapshot after 60 writes");
    let len = std::fs::metadata(newest).unwrap().len();
    std::fs::write(newest, vec![0xFFu8; len as usize]).unwrap();
    let err = refused_start(&data);
    assert!(err.contains("snap"), "{err}");
}

#[test]
fn compacted_log_without_its_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = member_with_keys(dir.path(), 60, &["--snapshot-count", "10"]);
    let snaps = snapshots(&data);
    assert!(!snaps.is_empty(), "no snapshot after 60 writes");
    for s in snaps {
        std::fs::remove_file(s).unwrap();
    }
    let err = refused_start(&data);
    assert!(err.contains("snapshot it needs is missing"), "{err}");
}

/// The refusals are about damage only: a clean restart still works, with
/// every key (and a restart after snapshots and compaction as well).
#[test]
fn intact_data_dir_restarts_with_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (data, keys) = member_with_keys(dir.path(), 60, &["--snapshot-count", "10"]);
    let s = Server::restart_concord("m", &data, free_port(), free_port());
    for k in keys {
        let r = s.request("GET", &format!("/v2/keys/{k}"));
        assert_eq!(r.status, 200, "{k} lost: {}", r.text());
    }
}
