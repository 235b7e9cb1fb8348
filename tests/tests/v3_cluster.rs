//! The v3 API on three members of real processes, through etcdctl 3.4:
//! writes sent to any member (followers forward them to the leader), read
//! linearizably and serializably on the others, a watch on a third member
//! seeing them in order, and writes acknowledged before a leader's kill -9
//! still there after it; leadership moved around the members (`move-leader`)
//! while writes go on, none of them lost. Each scenario runs on concord, or on etcd 3.4 with
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
    ctl_at(bin, &c.members[i].client_url(), args)
}

/// [`ctl`] with `endpoints` (comma-separated) as given.
fn ctl_at(bin: &PathBuf, endpoints: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .args(["--endpoints", endpoints])
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

/// `etcdctl` with every member as an endpoint.
fn ctl_all(bin: &PathBuf, c: &Cluster, args: &[&str]) -> Result<String, String> {
    let eps: Vec<String> = c.members.iter().map(|m| m.client_url()).collect();
    ctl_at(bin, &eps.join(","), args)
}

fn v3_move_leader_hands_leadership_over_while_writes_go_on_on(flavor: Flavor) {
    let Some(bin) = etcdctl() else { return };
    let Some(mut c) = Cluster::start(flavor, 3) else {
        return;
    };
    c.wait_ready();
    let ids: Vec<String> = (0..3).map(|i| c.member_id(i)).collect();
    let eps: Vec<String> = c.members.iter().map(|m| m.client_url()).collect();

    // A writer through every endpoint while leadership moves: each
    // acknowledged write must be there afterwards.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (bin, eps, stop) = (bin.clone(), eps.join(","), stop.clone());
        std::thread::spawn(move || {
            let (mut acked, mut failed) = (Vec::new(), 0);
            let mut j = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("w{j:04}");
                let out = Command::new(&bin)
                    .env("ETCDCTL_API", "3")
                    .args(["--endpoints", &eps, "put", &key, "x"])
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .expect("etcdctl runs");
                if out.status.success() {
                    acked.push(key);
                } else {
                    failed += 1;
                }
                j += 1;
            }
            (acked, failed)
        })
    };

    // Around the ring twice: to each follower in turn.
    for round in 0..6 {
        let from = c.leader();
        let to = (from + 1 + round % 2) % 3;
        let out = ctl_all(&bin, &c, &["move-leader", &ids[to]])
            .unwrap_or_else(|e| panic!("move-leader {} (round {round}): {e}", ids[to]));
        assert_eq!(
            out,
            format!("Leadership transferred from {} to {}\n", ids[from], ids[to])
        );
        // The members agree on the new leader.
        assert_eq!(c.leader(), to, "round {round}");
    }
    // concordctl's move-leader, as etcdctl's.
    let concordctl = concord_tests::concord_bin().with_file_name("concordctl");
    let from = c.leader();
    let to = c.followers(from)[0];
    assert_eq!(
        ctl_all(&concordctl, &c, &["move-leader", &ids[to]]).unwrap(),
        format!("Leadership transferred from {} to {}\n", ids[from], ids[to])
    );
    assert_eq!(c.leader(), to);
    let leader = c.leader();
    // Moving it where it is: answered at once, nothing moves.
    assert_eq!(
        ctl_all(&bin, &c, &["move-leader", &ids[leader]]).unwrap(),
        format!(
            "Leadership transferred from {} to {}\n",
            ids[leader], ids[leader]
        )
    );
    // etcd's refusals: a stranger, and no leader among the endpoints.
    let stranger = ctl_all(&bin, &c, &["move-leader", "42"]).unwrap_err();
    assert!(
        stranger.ends_with("Error: etcdserver: bad leader transferee\n"),
        "{stranger}"
    );
    let follower = c.followers(leader)[0];
    let only_follower = ctl(&bin, &c, follower, &["move-leader", &ids[leader]]).unwrap_err();
    assert_eq!(
        only_follower,
        format!("Error: no leader endpoint given at [{}]\n", eps[follower])
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, failed) = writer.join().expect("writer");
    eprintln!(
        "{} writes acknowledged, {failed} failed, during the transfers",
        acked.len()
    );
    assert!(!acked.is_empty());
    for i in 0..3 {
        let keys = ctl_ok(&bin, &c, i, &["get", "--prefix", "w", "--keys-only"]);
        let have: std::collections::HashSet<&str> = keys.split_whitespace().collect();
        let lost: Vec<&String> = acked
            .iter()
            .filter(|k| !have.contains(k.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "member {i} lacks acknowledged writes {lost:?}"
        );
    }
}

#[test]
fn v3_move_leader_hands_leadership_over_while_writes_go_on() {
    v3_move_leader_hands_leadership_over_while_writes_go_on_on(Flavor::from_env());
}
