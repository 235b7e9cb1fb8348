//! `snapshot save`, `snapshot status` and `snapshot restore` end to end:
//! a Concord's keyspace (history, a deleted key, a key on a lease) saved
//! with `concordctl snapshot save`, its status printed as etcdctl 3.4
//! prints it for the same file, restored with `concordctl snapshot
//! restore` (lines and errors as etcdctl's), and a `concord` started on
//! the restored data dir as a new cluster holding the same keys, with the
//! same revisions, the lease and the next revision for the next write.
//! Also: a snapshot saved from etcd 3.4 itself (its status, and restored
//! into a concord holding etcd's keys and revisions), and three members
//! restored from one file forming one cluster.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use concord_tests::etcdctl_v3::concordctl_bin;
use concord_tests::{concord_bin, free_port, http, output_bounded, which, Server};
use serde_json::Value;

/// One CLI run: exit code, stdout, stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_in(bin: &Path, cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(cwd).env("ETCDCTL_API", "3");
    let out = output_bounded(cmd, Duration::from_secs(60));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A run against `port`, which must succeed.
fn ok(bin: &Path, port: u16, args: &[&str]) -> String {
    let ep = format!("--endpoints=127.0.0.1:{port}");
    let mut all = vec![ep.as_str()];
    all.extend_from_slice(args);
    let r = run_in(bin, Path::new("."), &all);
    assert_eq!(r.code, 0, "{} {args:?}: {r:?}", bin.display());
    r.stdout
}

/// zap's `"ts":<seconds>` masked: the only field two runs differ in.
fn mask_ts(text: &str) -> String {
    text.lines()
        .map(|l| match (l.find("\"ts\":"), l.find(",\"caller\"")) {
            (Some(a), Some(b)) if a < b => format!("{}\"ts\":T{}", &l[..a], &l[b..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The same writes on any server: history, a tombstone, a lease.
fn write_keys(ctl: &Path, port: u16) -> String {
    ok(ctl, port, &["put", "foo", "bar"]);
    ok(ctl, port, &["put", "foo", "bar2"]);
    ok(ctl, port, &["put", "a", "1"]);
    let grant = ok(ctl, port, &["lease", "grant", "600"]);
    // "lease 694d7a2b4b5a7a04 granted with TTL(600s)"
    let lease = grant
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_string();
    ok(ctl, port, &["put", "--lease", &lease, "leased", "v"]);
    ok(ctl, port, &["del", "a"]);
    ok(ctl, port, &["put", "b", "x"]);
    lease
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `get --prefix "" -w json` against `port`.
fn all_keys(ctl: &Path, port: u16) -> Value {
    json(&ok(ctl, port, &["get", "--prefix", "", "-w", "json"]))
}

/// `snapshot status` in every writer, concordctl's against etcdctl's.
fn assert_status_parity(ctl: &Path, etcdctl: &Path, file: &Path) {
    let file = file.to_str().unwrap();
    for w in ["simple", "table", "json", "fields", "protobuf"] {
        let args = ["snapshot", "status", file, "-w", w];
        let want = run_in(etcdctl, Path::new("."), &args);
        let got = run_in(ctl, Path::new("."), &args);
        assert_eq!(got, want, "snapshot status -w {w} of {file}");
    }
}

#[test]
fn a_concord_snapshot_is_saved_read_and_restored_into_a_new_cluster() {
    let ctl = concordctl_bin();
    let dir = tempfile::tempdir().unwrap();
    let src = Server::concord("src", &dir.path().join("src"));
    let lease = write_keys(&ctl, src.client_port);
    let before = all_keys(&ctl, src.client_port);
    assert_eq!(before["header"]["revision"], 7);

    let file = dir.path().join("snap.db");
    let saved = ok(
        &ctl,
        src.client_port,
        &["snapshot", "save", file.to_str().unwrap()],
    );
    assert_eq!(saved, format!("Snapshot saved at {}\n", file.display()));

    // concordctl's status of the file: the revision of the last change,
    // and every figure as etcdctl 3.4 computes it on the same file.
    let status = run_in(
        &ctl,
        dir.path(),
        &["snapshot", "status", "snap.db", "-w", "json"],
    );
    assert_eq!(status.code, 0, "{status:?}");
    let s = json(&status.stdout);
    assert_eq!(s["revision"], 7);
    // key 6 revisions, lease 1, meta 1 (consistent_index), concord 1.
    assert_eq!(s["totalKey"], 9);
    let etcdctl = which("etcdctl");
    match &etcdctl {
        Some(etcdctl) => assert_status_parity(&ctl, etcdctl, &file),
        None => eprintln!("status parity skipped: etcdctl (etcd 3.4) is not installed"),
    }

    // Restored as etcdctl restores: the same lines (but the time) and,
    // on a second run into the same dir or from a missing file, the
    // same errors and exit codes.
    let (client, peer) = (free_port(), free_port());
    let peer_url = format!("http://127.0.0.1:{peer}");
    let cluster = format!("r={peer_url}");
    let abs = file.to_str().unwrap();
    let restore = |bin: &Path, cwd: &Path, snapshot: &str| {
        run_in(
            bin,
            cwd,
            &[
                "snapshot",
                "restore",
                snapshot,
                "--name",
                "r",
                "--data-dir",
                "restored",
                "--initial-cluster",
                &cluster,
                "--initial-advertise-peer-urls",
                &peer_url,
                "--initial-cluster-token",
                "restored-token",
            ],
        )
    };
    let ours = dir.path().join("concordctl");
    std::fs::create_dir(&ours).unwrap();
    let got = restore(&ctl, &ours, abs);
    assert_eq!(got.code, 0, "{got:?}");
    assert_eq!(got.stdout, "");
    let lines: Vec<&str> = got.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", got.stderr);
    assert!(
        lines[0].contains("\"msg\":\"restoring snapshot\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("\"msg\":\"added member\""),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(&format!("\"added-peer-peer-urls\":[\"{peer_url}\"]")),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("\"msg\":\"restored snapshot\""),
        "{}",
        lines[2]
    );
    let again = restore(&ctl, &ours, abs);
    assert_eq!(
        (again.code, again.stderr.as_str()),
        (1, "Error: data-dir \"restored\" exists\n")
    );
    // A fresh dir: the data dir check comes first.
    let fresh = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let missing = restore(&ctl, &fresh("concordctl-missing"), "nofile");
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .ends_with("Error: open nofile: no such file or directory\n"),
        "{missing:?}"
    );
    if let Some(etcdctl) = &etcdctl {
        let theirs = dir.path().join("etcdctl");
        std::fs::create_dir(&theirs).unwrap();
        let theirs_missing = fresh("etcdctl-missing");
        for (snapshot, step) in [(abs, "restore"), (abs, "again"), ("nofile", "missing")] {
            let cwd = if step == "missing" {
                &theirs_missing
            } else {
                &theirs
            };
            let want = restore(etcdctl, cwd, snapshot);
            let got = match step {
                "restore" => got.clone(),
                "again" => again.clone(),
                _ => missing.clone(),
            };
            assert_eq!(
                (got.code, got.stdout.as_str(), mask_ts(&got.stderr)),
                (want.code, want.stdout.as_str(), mask_ts(&want.stderr)),
                "snapshot restore ({step}): concordctl, then etcdctl"
            );
        }
    }

    // A concord on the restored dir: a new cluster (the flags' IDs), the
    // same keys with the same revisions, the lease with its keys, and
    // the next revision for the next write.
    drop(src);
    let restored = Server::restart_concord("r", &ours.join("restored"), client, peer);
    let after = all_keys(&ctl, restored.client_port);
    assert_eq!(after["kvs"], before["kvs"]);
    assert_eq!(after["count"], before["count"]);
    assert_eq!(after["header"]["revision"], before["header"]["revision"]);
    assert_ne!(
        after["header"]["cluster_id"],
        before["header"]["cluster_id"]
    );
    let ttl = ok(
        &ctl,
        restored.client_port,
        &["lease", "timetolive", &lease, "--keys"],
    );
    assert!(
        ttl.starts_with(&format!("lease {lease} granted with TTL(600s), remaining(")),
        "{ttl}"
    );
    assert!(ttl.ends_with("attached keys([leased])\n"), "{ttl}");
    let put = json(&ok(
        &ctl,
        restored.client_port,
        &["put", "new", "1", "-w", "json"],
    ));
    assert_eq!(put["header"]["revision"], 8);
    let new = json(&ok(
        &ctl,
        restored.client_port,
        &["get", "new", "-w", "json"],
    ));
    assert_eq!(new["kvs"][0]["create_revision"], 8);
}

#[test]
fn an_etcd_snapshot_is_read_and_restored_as_etcdctl_does() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let ctl = concordctl_bin();
    let dir = tempfile::tempdir().unwrap();
    let Some(etcd) = Server::etcd("default", &dir.path().join("etcd")) else {
        eprintln!("skipped: etcd 3.4 is not installed");
        return;
    };
    let lease = write_keys(&ctl, etcd.client_port);
    let file = dir.path().join("etcd.db");
    ok(
        &etcdctl,
        etcd.client_port,
        &["snapshot", "save", file.to_str().unwrap()],
    );
    assert_status_parity(&ctl, &etcdctl, &file);
    let s = json(
        &run_in(
            &ctl,
            Path::new("."),
            &["snapshot", "status", file.to_str().unwrap(), "-w", "json"],
        )
        .stdout,
    );
    assert_eq!(s["revision"], 7);
    // Errors as etcdctl's: no argument, a missing file, a directory, a
    // file that is no database.
    let junk = dir.path().join("etcd.log");
    for args in [
        vec!["snapshot", "status"],
        vec!["snapshot", "status", "nofile"],
        vec!["snapshot", "status", dir.path().to_str().unwrap()],
        vec!["snapshot", "status", junk.to_str().unwrap()],
    ] {
        let want = run_in(&etcdctl, Path::new("."), &args);
        let got = run_in(&ctl, Path::new("."), &args);
        assert_eq!(got, want, "{args:?}");
    }
    // An etcd file restores too (etcd's data moved to Concord, as
    // `etcdctl snapshot restore` would into a new etcd): the lines etcdctl
    // prints for it, then a concord on the restored dir holding the keys
    // with etcd's revisions, the lease with its key, and the next revision
    // for the next write.
    let before = all_keys(&ctl, etcd.client_port);
    let (client, peer) = (free_port(), free_port());
    let cluster = format!("r=http://127.0.0.1:{peer}");
    let restore = |bin: &Path, cwd: &Path| {
        run_in(
            bin,
            cwd,
            &[
                "snapshot",
                "restore",
                file.to_str().unwrap(),
                "--name",
                "r",
                "--data-dir",
                "restored",
                "--initial-cluster",
                &cluster,
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
            ],
        )
    };
    let (ours, theirs) = (dir.path().join("concordctl"), dir.path().join("etcdctl"));
    std::fs::create_dir(&ours).unwrap();
    std::fs::create_dir(&theirs).unwrap();
    let (got, want) = (restore(&ctl, &ours), restore(&etcdctl, &theirs));
    assert_eq!(
        (got.code, got.stdout.as_str(), mask_ts(&got.stderr)),
        (want.code, want.stdout.as_str(), mask_ts(&want.stderr)),
        "snapshot restore of etcd's file: concordctl, then etcdctl"
    );
    drop(etcd);
    let restored = Server::restart_concord("r", &ours.join("restored"), client, peer);
    let after = all_keys(&ctl, restored.client_port);
    assert_eq!(after["kvs"], before["kvs"]);
    assert_eq!(after["count"], before["count"]);
    assert_eq!(after["header"]["revision"], before["header"]["revision"]);
    let ttl = ok(
        &ctl,
        restored.client_port,
        &["lease", "timetolive", &lease, "--keys"],
    );
    assert!(
        ttl.starts_with(&format!("lease {lease} granted with TTL(600s), remaining(")),
        "{ttl}"
    );
    assert!(ttl.ends_with("attached keys([leased])\n"), "{ttl}");
    let put = json(&ok(
        &ctl,
        restored.client_port,
        &["put", "new", "1", "-w", "json"],
    ));
    assert_eq!(put["header"]["revision"], 8);
}

/// A concord member started with a cluster's flags, killed when dropped.
struct Member {
    child: Child,
    client: u16,
    log: PathBuf,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn three_members_restored_from_one_file_form_one_cluster() {
    let ctl = concordctl_bin();
    let dir = tempfile::tempdir().unwrap();
    let src = Server::concord("src", &dir.path().join("src"));
    write_keys(&ctl, src.client_port);
    let before = all_keys(&ctl, src.client_port);
    let file = dir.path().join("snap.db");
    ok(
        &ctl,
        src.client_port,
        &["snapshot", "save", file.to_str().unwrap()],
    );
    drop(src);

    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let cluster = ports
        .iter()
        .enumerate()
        .map(|(i, (_, p))| format!("m{i}=http://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut members = Vec::new();
    for (i, (client, peer)) in ports.iter().enumerate() {
        let name = format!("m{i}");
        let data = dir.path().join(&name);
        let peer_url = format!("http://127.0.0.1:{peer}");
        let r = run_in(
            &ctl,
            Path::new("."),
            &[
                "snapshot",
                "restore",
                file.to_str().unwrap(),
                "--name",
                &name,
                "--data-dir",
                data.to_str().unwrap(),
                "--initial-cluster",
                &cluster,
                "--initial-advertise-peer-urls",
                &peer_url,
                "--initial-cluster-token",
                "three",
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
        // One "added member" line per member.
        assert_eq!(r.stderr.matches("\"msg\":\"added member\"").count(), 3);
        let client_url = format!("http://127.0.0.1:{client}");
        let log = data.with_extension("log");
        let child = Command::new(concord_bin())
            .args(["--name", &name, "--data-dir", data.to_str().unwrap()])
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &cluster])
            .args(["--initial-cluster-token", "three"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start concord");
        members.push(Member {
            child,
            client: *client,
            log,
        });
    }
    let deadline = Instant::now() + concord_tests::READY_TIMEOUT;
    for m in &members {
        loop {
            let healthy =
                http(m.client, "GET", "/health", None, b"").is_ok_and(|r| r.status == 200);
            if healthy {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "member not healthy: {}",
                std::fs::read_to_string(&m.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // One cluster, one keyspace on every member, and a write through one
    // member seen by the others at the next revision.
    let views: Vec<Value> = members.iter().map(|m| all_keys(&ctl, m.client)).collect();
    for v in &views {
        assert_eq!(v["kvs"], before["kvs"]);
        assert_eq!(v["header"]["revision"], before["header"]["revision"]);
        assert_eq!(v["header"]["cluster_id"], views[0]["header"]["cluster_id"]);
    }
    let list = ok(&ctl, members[0].client, &["member", "list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    ok(&ctl, members[1].client, &["put", "after", "restore"]);
    for m in &members {
        let got = json(&ok(&ctl, m.client, &["get", "after", "-w", "json"]));
        assert_eq!(got["kvs"][0]["mod_revision"], 8, "member on {}", m.client);
    }
}

#[test]
fn restore_refuses_the_flags_etcdctl_refuses_in_its_words() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let ctl = concordctl_bin();
    let dir = tempfile::tempdir().unwrap();
    // The flags are checked before the file is read: no file needed.
    for flags in [
        &["--name", "x"][..],
        &["--initial-cluster", "foo"],
        &["--initial-cluster", "default=http://localhost"],
        &["--initial-cluster", "default=http://localhost:2380/x"],
        &["--initial-advertise-peer-urls", "foo"],
        &[
            "--initial-cluster",
            "a=http://127.0.0.1:1,b=http://127.0.0.1:1",
            "--name",
            "a",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:1",
        ],
        &[],
    ] {
        let mut args = vec!["snapshot", "restore", "nofile", "--data-dir", "d"];
        args.extend_from_slice(flags);
        let want = run_in(&etcdctl, dir.path(), &args);
        let got = run_in(&ctl, dir.path(), &args);
        assert_eq!(
            (got.code, got.stdout, mask_ts(&got.stderr)),
            (want.code, want.stdout, mask_ts(&want.stderr)),
            "{flags:?}"
        );
        assert!(!dir.path().join("d").exists(), "{flags:?}");
    }
}
