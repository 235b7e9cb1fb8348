//! The v3 API on three members of real processes, through etcdctl 3.4:
//! writes sent to any member (followers forward them to the leader), read
//! linearizably and serializably on the others, a watch on a third member
//! seeing them in order, and writes acknowledged before a leader's kill -9
//! still there after it. Each scenario runs on concord, or on etcd 3.4 with
//! `CLUSTER_BIN=etcd` (how it was checked against the reference).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use concord_tests::cluster::{Cluster, Flavor};
use concord_tests::which;

fn etcdctl() -> Option<PathBuf> {
    let found = which("etcdctl");
    if found.is_none() {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
    }
    found
}

/// `ETCDCTL_API=3 etcdctl --endpoints <member i> args...`: stdout, or the
/// failure's stderr.
fn ctl(bin: &PathBuf, c: &Cluster, i: usize, args: &[&str]) -> Result<String, String> {
    let out = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .args(["--endpoints", &c.members[i].client_url()])
        .args(["--command-timeout", "15s"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("etcdctl runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// [`ctl`], asked again (for up to a minute) while the cluster elects a
/// leader or the member is not yet connected to its peers.
fn ctl_ok(bin: &PathBuf, c: &Cluster, i: usize, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match ctl(bin, c, i, args) {
            Ok(out) => return out,
            Err(e) if Instant::now() < deadline => {
                eprintln!("etcdctl {args:?} on member {i}: {e}; again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("etcdctl {args:?} on member {i}: {e}"),
        }
    }
}

fn v3_writes_on_any_member_are_read_and_watched_everywhere_on(flavor: Flavor) {
    let Some(bin) = etcdctl() else { return };
    let Some(mut c) = Cluster::start(flavor, 3) else {
        return;
    };
    c.wait_ready();
    let leader = c.leader();
    let followers = c.followers(leader);
    // A watch on the leader from the first revision: every write, in order.
    let mut watch = Command::new(&bin)
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &c.members[leader].client_url()])
        .args(["watch", "--prefix", "k", "--rev", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcdctl watch runs");
    let n = 30;
    for j in 0..n {
        let on = followers[j % followers.len()];
        assert_eq!(
            ctl_ok(
                &bin,
                &c,
                on,
                &["put", &format!("k{j:02}"), &format!("v{j}")]
            ),
            "OK\n"
        );
    }
    // Linearizable on a follower, serializable on the other.
    let all = ctl_ok(
        &bin,
        &c,
        followers[0],
        &["get", "--prefix", "k", "--keys-only"],
    );
    assert_eq!(all.split_whitespace().count(), n, "{all}");
    let last = ctl_ok(
        &bin,
        &c,
        followers[1],
        &["get", &format!("k{:02}", n - 1), "--consistency", "s"],
    );
    assert_eq!(last, format!("k{:02}\nv{}\n", n - 1, n - 1));
    // A txn on a follower: compare-and-swap through the leader.
    let txn = Command::new(&bin)
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &c.members[followers[0]].client_url(), "txn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"value(\"k00\") = \"v0\"\n\nput k00 swapped\n\n\n")?;
            child.wait_with_output()
        })
        .expect("etcdctl txn");
    assert_eq!(String::from_utf8_lossy(&txn.stdout), "SUCCESS\n\nOK\n");

    // Acknowledged writes survive the leader's kill -9.
    c.kill9(leader);
    let _ = watch.kill();
    let watched = watch.wait_with_output().expect("watch output");
    let text = String::from_utf8_lossy(&watched.stdout);
    let keys: Vec<&str> = text.lines().filter(|l| l.starts_with('k')).collect();
    let want: Vec<String> = (0..n)
        .map(|j| format!("k{j:02}"))
        .chain(["k00".into()])
        .collect();
    assert_eq!(
        keys, want,
        "the watch saw every write once, in order:\n{text}"
    );
    let survivor = followers[0];
    assert_eq!(
        ctl_ok(&bin, &c, survivor, &["put", "after", "kill"]),
        "OK\n"
    );
    let k00 = ctl_ok(
        &bin,
        &c,
        followers[1],
        &["get", "k00", "--print-value-only"],
    );
    assert_eq!(k00, "swapped\n");
    let keys = ctl_ok(&bin, &c, survivor, &["get", "--prefix", "k", "--keys-only"]);
    assert_eq!(keys.split_whitespace().count(), n, "{keys}");
}

#[test]
fn v3_writes_on_any_member_are_read_and_watched_everywhere() {
    v3_writes_on_any_member_are_read_and_watched_everywhere_on(Flavor::from_env());
}
