//! The etcd v3 API through the split's gateways: etcdctl 3.4
//! (`ETCDCTL_API=3`) against `concord-gateway`s, which serve etcd's v3
//! services over the members' own (concord-consensus serves them on its
//! contract listener). Put, get, del, txn, watch, lease and member list
//! through a gateway; two gateways serve the same keyspace; writes through a
//! gateway while the leader member is killed -9 all answer, each applied
//! once (the gateway sends a write again with its request ID); a
//! serializable get answered by the gateway's v3 read replica, with the
//! latest value, while every member is stopped (SIGSTOP); v3 watches
//! served by the watch tier (stalled while its replicas are stopped,
//! resumed across them with no gap or duplicate, history older than a
//! replica's window and compactions answered by the members, progress);
//! auth enabled through a gateway answers as etcd 3.4 (the gateway forwards
//! each client's token; its replica and watch tier ask the members), and
//! a watch is refused to a user without read permission.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use concord_tests::etcdctl_script::{self, ENFORCED, ROOT};
use concord_tests::split::{serial, Split, TIMEOUT};
use concord_tests::{output_bounded, which};

/// How long one etcdctl run may take (a write held through an election
/// included).
const RUN_LIMIT: Duration = Duration::from_secs(30);

fn etcdctl_command(port: u16, args: &[&str]) -> Option<Command> {
    let etcdctl = which("etcdctl")?;
    let mut cmd = Command::new(etcdctl);
    cmd.env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .arg(format!("--endpoints=http://127.0.0.1:{port}"))
        .arg("--command-timeout=20s")
        .args(args);
    Some(cmd)
}

/// etcdctl's stdout for `args` through the gateway on `port`; panics with
/// its stderr if it fails.
fn etcdctl(port: u16, args: &[&str]) -> String {
    let cmd = etcdctl_command(port, args).expect("etcdctl");
    let out = output_bounded(cmd, RUN_LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "etcdctl {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `etcdctl txn` with `script` on its stdin.
fn etcdctl_txn(port: u16, script: &str) -> String {
    let mut cmd = etcdctl_command(port, &["txn"]).expect("etcdctl");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcdctl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "etcdctl txn failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A running `etcdctl watch`, its output lines as they come.
struct Watching {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watching {
    fn start(port: u16, args: &[&str]) -> Watching {
        let mut cmd = etcdctl_command(port, args).expect("etcdctl");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcdctl runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watching { child, lines }
    }

    /// The next `n` lines (panics if they do not come in time).
    fn next(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                self.lines
                    .recv_timeout(TIMEOUT)
                    .expect("the watch printed nothing in time")
            })
            .collect()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `"revision":N` of etcdctl's JSON output.
fn json_number(text: &str, key: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("etcdctl's JSON");
    let found = match key {
        "revision" => &v["header"]["revision"],
        "version" => &v["kvs"][0]["version"],
        "count" => &v["count"],
        _ => unreachable!("{key}"),
    };
    found.as_i64().unwrap_or(0)
}

#[test]
fn etcdctl_v3_through_the_split_gateways() {
    if which("etcdctl").is_none() {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    }
    let _one = serial();
    let s = Split::start();
    let (g1, g2) = (s.gateway_ports[0], s.gateway_ports[1]);

    // Put through one gateway, read through the other.
    assert_eq!(etcdctl(g1, &["put", "foo", "bar"]), "OK\n");
    assert_eq!(etcdctl(g2, &["get", "foo"]), "foo\nbar\n");
    assert_eq!(etcdctl(g2, &["put", "foo2", "baz"]), "OK\n");
    assert_eq!(
        etcdctl(g1, &["get", "foo", "--prefix"]),
        "foo\nbar\nfoo2\nbaz\n"
    );
    assert_eq!(
        etcdctl(g1, &["get", "foo", "--prefix", "--consistency=s"]),
        "foo\nbar\nfoo2\nbaz\n"
    );
    assert_eq!(etcdctl(g2, &["del", "foo2"]), "1\n");
    assert_eq!(etcdctl(g1, &["get", "foo2"]), "");

    // A txn: compare, then the success branch.
    let txn = etcdctl_txn(
        g2,
        "value(\"foo\") = \"bar\"\n\nput foo qux\n\nput nope x\n\n",
    );
    assert_eq!(txn, "SUCCESS\n\nOK\n");
    assert_eq!(etcdctl(g1, &["get", "foo", "--print-value-only"]), "qux\n");

    // Watch through g2 from a past revision (history), then a live change
    // written through g1.
    let rev = json_number(&etcdctl(g1, &["get", "foo", "-w", "json"]), "revision");
    let w = Watching::start(g2, &["watch", "foo", &format!("--rev={rev}")]);
    assert_eq!(w.next(3), ["PUT", "foo", "qux"]);
    assert_eq!(etcdctl(g1, &["put", "foo", "live"]), "OK\n");
    assert_eq!(w.next(3), ["PUT", "foo", "live"]);
    drop(w);

    // A lease: granted through g1, a key attached through g2, revoked.
    let granted = etcdctl(g1, &["lease", "grant", "60"]);
    let id = granted
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("lease grant printed {granted:?}"))
        .to_string();
    assert_eq!(granted, format!("lease {id} granted with TTL(60s)\n"));
    assert_eq!(
        etcdctl(g2, &["put", "leased", "v", &format!("--lease={id}")]),
        "OK\n"
    );
    let ttl = etcdctl(g1, &["lease", "timetolive", &id, "--keys"]);
    assert!(
        ttl.starts_with(&format!("lease {id} granted with TTL(60s), remaining(")),
        "{ttl}"
    );
    assert!(ttl.ends_with("attached keys([leased])\n"), "{ttl}");
    let kept = etcdctl(g2, &["lease", "keep-alive", "--once", &id]);
    assert!(
        kept.starts_with(&format!("lease {id} keepalived with TTL(")),
        "{kept}"
    );
    assert_eq!(
        etcdctl(g1, &["lease", "list"]),
        format!("found 1 leases\n{id}\n")
    );
    assert_eq!(
        etcdctl(g2, &["lease", "revoke", &id]),
        format!("lease {id} revoked\n")
    );
    assert_eq!(etcdctl(g1, &["get", "leased"]), "");

    // The members, as etcd lists them.
    let members = etcdctl(g2, &["member", "list"]);
    assert_eq!(members.lines().count(), 3, "{members}");
    for name in ["c1", "c2", "c3"] {
        assert!(
            members
                .lines()
                .any(|l| l.contains(&format!(", started, {name}, "))),
            "{members}"
        );
    }
}

#[test]
fn v3_writes_through_a_gateway_survive_the_leader_kill_applied_once() {
    if which("etcdctl").is_none() {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    }
    let _one = serial();
    let mut s = Split::start();
    let g1 = s.gateway_ports[0];
    assert_eq!(etcdctl(g1, &["put", "k-warm", "v"]), "OK\n");

    // Writes one after the other through g1; the leader is killed once the
    // third is answered, while the next ones are being sent.
    const WRITES: usize = 12;
    let (acked, answers) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        for i in 0..WRITES {
            let out = etcdctl(g1, &["put", &format!("k{i:02}"), &format!("v{i}")]);
            acked.send((i, out)).unwrap();
        }
    });
    for _ in 0..3 {
        let (i, out) = answers.recv_timeout(TIMEOUT).expect("a write answered");
        assert_eq!(out, "OK\n", "write {i}");
    }
    let leader = s.leader().expect("no leader logged");
    s.kill9(&leader);
    for _ in 3..WRITES {
        let (i, out) = answers
            .recv_timeout(RUN_LIMIT)
            .unwrap_or_else(|_| panic!("a write went unanswered:\n{}", s.logs()));
        assert_eq!(out, "OK\n", "write {i}");
    }
    writer.join().unwrap();

    // Each applied once: version 1, and one revision per write.
    let g2 = s.gateway_ports[1];
    for i in 0..WRITES {
        let got = etcdctl(g2, &["get", &format!("k{i:02}"), "-w", "json"]);
        assert_eq!(json_number(&got, "version"), 1, "k{i:02}: {got}");
    }
    let all = etcdctl(g2, &["get", "k", "--prefix", "-w", "json"]);
    assert_eq!(json_number(&all, "count"), WRITES as i64 + 1, "{all}");
    let warm = json_number(&etcdctl(g2, &["get", "k-warm", "-w", "json"]), "revision");
    let first = etcdctl(g2, &["get", "k00", "-w", "json"]);
    let last = etcdctl(g2, &["get", &format!("k{:02}", WRITES - 1), "-w", "json"]);
    let mod_rev = |t: &str| {
        let v: serde_json::Value = serde_json::from_str(t.trim()).unwrap();
        v["kvs"][0]["mod_revision"].as_i64().unwrap()
    };
    assert_eq!(
        mod_rev(&last) - mod_rev(&first),
        WRITES as i64 - 1,
        "a write applied twice or lost:\n{first}\n{last}"
    );
    assert_eq!(warm, mod_rev(&last), "{warm}");
}

/// etcdctl through the gateway on `port`, bounded by `limit`: its stdout
/// if it succeeded, None if it failed or did not answer in time.
fn etcdctl_within(port: u16, args: &[&str], limit: Duration) -> Option<String> {
    let cmd = etcdctl_command(port, args).expect("etcdctl");
    let out = output_bounded(cmd, limit);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// Polls a serializable get of `key` through `port` until it prints
/// `value`, and returns its JSON answer.
fn serializable_until(port: u16, key: &str, value: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let out = etcdctl(port, &["get", key, "--consistency=s", "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("etcdctl's JSON");
        // etcdctl's JSON prints values in base64.
        let got = v["kvs"][0]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if got == base64(value) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a serializable get of {key} never saw {value:?}: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn base64(s: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The gateway's v3 read replica: serializable ranges are answered from the
/// gateway's own copy of the keyspace (header revision the members'), so
/// they still answer, with the latest value, while every consensus member
/// is stopped; linearizable ones need a member and do not.
#[test]
fn serializable_ranges_are_answered_by_the_gateways_replica() {
    if which("etcdctl").is_none() {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    }
    let _one = serial();
    let s = Split::start();
    let g1 = s.gateway_ports[0];

    // Several revisions: puts, an overwrite, a delete and a txn of two
    // changes, all written through g1.
    assert_eq!(etcdctl(g1, &["put", "rr/a", "1"]), "OK\n");
    assert_eq!(etcdctl(g1, &["put", "rr/b", "2"]), "OK\n");
    assert_eq!(etcdctl(g1, &["put", "rr/a", "3"]), "OK\n");
    assert_eq!(etcdctl(g1, &["del", "rr/b"]), "1\n");
    let txn = etcdctl_txn(g1, "\nput rr/c 4\nput rr/a latest\n\n\n");
    assert_eq!(txn, "SUCCESS\n\nOK\n\nOK\n");

    // The replica catches up: the serializable answer is the linearizable
    // one, header revision and key-values alike.
    let seen = serializable_until(g1, "rr/a", "latest");
    let linear: serde_json::Value =
        serde_json::from_str(etcdctl(g1, &["get", "rr/a", "-w", "json"]).trim()).unwrap();
    assert_eq!(seen["kvs"], linear["kvs"]);
    assert_eq!(
        seen["header"]["revision"], linear["header"]["revision"],
        "{seen}\n{linear}"
    );
    assert_eq!(seen["header"]["cluster_id"], linear["header"]["cluster_id"]);
    assert_eq!(
        etcdctl(g1, &["get", "rr/", "--prefix", "--consistency=s"]),
        "rr/a\nlatest\nrr/c\n4\n"
    );

    // Every member stopped: the replica still answers, the members cannot.
    for c in ["c1", "c2", "c3"] {
        s.signal(c, "-STOP");
    }
    let serializable = etcdctl_within(
        g1,
        &["get", "rr/a", "--consistency=s", "--command-timeout=5s"],
        Duration::from_secs(15),
    );
    let linearizable = etcdctl_within(
        g1,
        &["get", "rr/a", "--command-timeout=3s"],
        Duration::from_secs(15),
    );
    for c in ["c1", "c2", "c3"] {
        s.signal(c, "-CONT");
    }
    assert_eq!(
        serializable.as_deref(),
        Some("rr/a\nlatest\n"),
        "the serializable get did not answer from the replica:\n{}",
        s.logs()
    );
    assert_eq!(
        linearizable, None,
        "a linearizable get answered with every member stopped"
    );

    // The members back: writes and linearizable reads go on, and the
    // replica follows.
    assert_eq!(etcdctl(g1, &["put", "rr/a", "after"]), "OK\n");
    serializable_until(g1, "rr/a", "after");
}

/// The Maintenance service through the gateways, each answer the members'
/// own: status, HashKV (etcd's hash for the same writes, so the members
/// behind both gateways hold etcd's history), alarms, defragment, a
/// snapshot `etcdctl snapshot status` reads, and a compaction HashKV sees.
#[test]
fn maintenance_through_the_gateways() {
    if which("etcdctl").is_none() {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    }
    let _one = serial();
    let s = Split::start();
    let (g1, g2) = (s.gateway_ports[0], s.gateway_ports[1]);
    assert_eq!(etcdctl(g1, &["put", "a", "1"]), "OK\n");
    assert_eq!(etcdctl(g2, &["put", "b", "2"]), "OK\n");

    let json = |text: &str| -> serde_json::Value {
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let status = json(&etcdctl(g1, &["endpoint", "status", "-w", "json"]));
    let st = &status[0]["Status"];
    assert_eq!(st["version"], "3.4.23", "{status}");
    assert_eq!(st["header"]["revision"], 3, "{status}");
    assert_ne!(st["leader"].as_u64().unwrap_or(0), 0, "{status}");
    assert!(st["raftIndex"].as_u64().unwrap_or(0) > 0, "{status}");

    // etcd 3.4.23 prints this hash after `put a 1`, `put b 2`.
    const ETCD_HASH: u64 = 1827592406;
    for g in [g1, g2] {
        let h = json(&etcdctl(g, &["endpoint", "hashkv", "-w", "json"]));
        assert_eq!(h[0]["HashKV"]["hash"], ETCD_HASH, "{h}");
        assert_eq!(h[0]["HashKV"]["compact_revision"], -1, "{h}");
    }

    assert_eq!(etcdctl(g2, &["alarm", "list"]), "");
    assert_eq!(
        etcdctl(g1, &["defrag"]),
        format!("Finished defragmenting etcd member[http://127.0.0.1:{g1}]\n")
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let file = file.to_str().unwrap();
    assert_eq!(
        etcdctl(g2, &["snapshot", "save", file]),
        format!("Snapshot saved at {file}\n")
    );
    let snap = json(&etcdctl(g1, &["snapshot", "status", file, "-w", "json"]));
    assert_eq!(snap["revision"], 3, "{snap}");

    assert_eq!(etcdctl(g1, &["compaction", "3"]), "compacted revision 3\n");
    let h = json(&etcdctl(g2, &["endpoint", "hashkv", "-w", "json"]));
    assert_eq!(h[0]["HashKV"]["hash"], ETCD_HASH, "{h}");
    assert_eq!(h[0]["HashKV"]["compact_revision"], 3, "{h}");
}

/// `etcdctl watch -i` through the gateway on `port`: the commands in
/// `script` on its stdin, one a line, the stdin kept open; its output lines
/// as they come.
fn interactive_watch(port: u16, script: &str) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = etcdctl_command(port, &["watch", "-i"]).expect("etcdctl");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcdctl runs");
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, lines)
}

/// v3 watches go through the watch tier (`concord-watch`), not the
/// members: a watch through g1 stalls while every watch replica is stopped
/// (SIGSTOP; the members still take writes) and gets the change once they
/// go on; with one replica killed -9 (then the other), it resumes on the
/// other replica from the next revision, each change once and in order; a
/// watch from before a replica's window (one started after the writes) is
/// relayed to the members, who give the whole history; a watch from a
/// revision the members compacted gets etcd's compacted cancel even while
/// the replica's window holds that revision; a progress request (`watch
/// -i`, `progress`) answers the revision of the last change delivered.
#[test]
fn v3_watches_are_served_by_the_watch_tier() {
    if which("etcdctl").is_none() {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    }
    let _one = serial();
    let mut s = Split::start();
    let g1 = s.gateway_ports[0];
    let first = json_number(
        &etcdctl(g1, &["put", "wt/a", "1", "-w", "json"]),
        "revision",
    );

    let w = Watching::start(g1, &["watch", "wt/", "--prefix"]);
    // Until the watch is created, a put may come before it: put until
    // one is seen.
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        assert_eq!(etcdctl(g1, &["put", "wt/sync", "x"]), "OK\n");
        if w.lines.recv_timeout(Duration::from_secs(1)).is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watch never started"
        );
    }
    // The rest of the sync put(s).
    while w.lines.recv_timeout(Duration::from_millis(500)).is_ok() {}

    // Every watch replica stopped: the write is taken, the watch stalls.
    for r in ["w1", "w2"] {
        s.signal(r, "-STOP");
    }
    assert_eq!(etcdctl(g1, &["put", "wt/a", "2"]), "OK\n");
    let stalled = w.lines.recv_timeout(Duration::from_secs(2));
    for r in ["w1", "w2"] {
        s.signal(r, "-CONT");
    }
    assert!(
        stalled.is_err(),
        "the watch went on with every watch replica stopped: {stalled:?}"
    );
    assert_eq!(w.next(3), ["PUT", "wt/a", "2"]);

    // g1 lists w1 first: killed, the watch resumes on w2; w1 back and w2
    // killed, on w1. Each change once, in order, none lost.
    s.kill9("w1");
    for v in ["3", "4"] {
        assert_eq!(etcdctl(g1, &["put", "wt/a", v]), "OK\n");
        assert_eq!(w.next(3), ["PUT", "wt/a", v], "{}", s.logs());
    }
    s.respawn("w1");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while s.logs().matches("following the members' keyspace").count() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "w1 never followed the members:\n{}",
            s.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.kill9("w2");
    for v in ["5", "6"] {
        assert_eq!(etcdctl(g1, &["put", "wt/a", v]), "OK\n");
        assert_eq!(w.next(3), ["PUT", "wt/a", v], "{}", s.logs());
    }
    assert_eq!(etcdctl(g1, &["put", "wt/end", "x"]), "OK\n");
    assert_eq!(w.next(3), ["PUT", "wt/end", "x"], "a change came twice");
    drop(w);

    // From the first write: older than w1's window (it started after
    // it), so the members answer, with every change since.
    let old = Watching::start(g1, &["watch", "wt/a", &format!("--rev={first}")]);
    for v in ["1", "2", "3", "4", "5", "6"] {
        assert_eq!(old.next(3), ["PUT", "wt/a", v], "{}", s.logs());
    }
    drop(old);

    // A compaction inside w1's window: the members' answer, etcd's cancel.
    let r7 = json_number(
        &etcdctl(g1, &["put", "wt/b", "7", "-w", "json"]),
        "revision",
    );
    assert_eq!(etcdctl(g1, &["put", "wt/b", "8"]), "OK\n");
    assert_eq!(
        etcdctl(g1, &["compaction", &(r7 + 1).to_string()]),
        format!("compacted revision {}\n", r7 + 1)
    );
    let cmd = etcdctl_command(g1, &["watch", "wt/b", &format!("--rev={r7}")]).unwrap();
    let out = output_bounded(cmd, RUN_LIMIT);
    assert_eq!(out.status.code(), Some(5), "{out:?}\n{}", s.logs());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "watch was canceled (etcdserver: mvcc: required revision has been compacted)\n\
         Error: watch is canceled by the server\n"
    );
    // From the compaction on, the window answers.
    let kept = Watching::start(g1, &["watch", "wt/b", &format!("--rev={}", r7 + 1)]);
    assert_eq!(kept.next(3), ["PUT", "wt/b", "8"]);
    drop(kept);

    // Progress: after the change delivered, at its revision.
    let (mut child, lines) = interactive_watch(g1, "watch wt/c\n");
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    let mut last = 0;
    while seen.len() < 3 {
        if seen.is_empty() {
            last = json_number(
                &etcdctl(g1, &["put", "wt/c", "9", "-w", "json"]),
                "revision",
            );
        }
        if let Ok(l) = lines.recv_timeout(Duration::from_secs(1)) {
            seen.push(l);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watch never started"
        );
    }
    assert_eq!(seen[..3], ["PUT", "wt/c", "9"]);
    // Any further sync puts delivered first.
    while let Ok(l) = lines.recv_timeout(Duration::from_millis(500)) {
        assert!(["PUT", "wt/c", "9"].contains(&l.as_str()), "{l}");
    }
    let current = json_number(&etcdctl(g1, &["get", "wt/c", "-w", "json"]), "revision");
    assert!(current >= last);
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"progress\n")
        .unwrap();
    assert_eq!(
        lines.recv_timeout(TIMEOUT).ok(),
        Some(format!("progress notify: {current}"))
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// `endpoint status` through the gateway on `port`: (the answering
/// member's ID, the leader's ID).
fn member_and_leader(port: u16) -> (u64, u64) {
    let text = etcdctl(port, &["endpoint", "status", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("etcdctl's JSON");
    let st = &v[0]["Status"];
    (
        st["header"]["member_id"].as_u64().unwrap_or(0),
        st["leader"].as_u64().unwrap_or(0),
    )
}

/// `MoveLeader` through a gateway: served when the member behind it leads
/// (as etcdctl finds the leader by `endpoint status`), refused with
/// etcdctl's "no leader endpoint given" when it does not; and through the
/// consensus members' own `Cluster.MoveLeader`, which any member hands to
/// the leader.
#[test]
fn move_leader_through_a_gateway() {
    use concord_rpc::cluster::{cluster_client::ClusterClient, MemberId};
    if which("etcdctl").is_none() {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    }
    let _one = serial();
    let s = Split::start();
    let g1 = s.gateway_ports[0];
    assert_eq!(etcdctl(g1, &["put", "a", "1"]), "OK\n");
    // The gateways ask the first member that answers: c1.
    let (c1, leader) = member_and_leader(g1);
    assert_ne!(leader, 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Leadership to c1, asked of the last member (a follower, or the
    // leader itself): it hands the request to the leader.
    let last = *s.consensus_clients.last().unwrap();
    let reply = rt.block_on(async {
        let mut c = ClusterClient::connect(format!("http://127.0.0.1:{last}"))
            .await
            .expect("consensus member");
        c.move_leader(MemberId { id: c1 })
            .await
            .expect("MoveLeader")
    });
    assert_eq!(reply.into_inner().error, None);
    assert_eq!(member_and_leader(g1), (c1, c1));

    // Now through the gateway, to another member.
    let members = etcdctl(g1, &["member", "list", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(members.trim()).unwrap();
    let other = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["ID"].as_u64())
        .find(|&id| id != c1)
        .expect("another member");
    assert_eq!(
        etcdctl(g1, &["move-leader", &format!("{other:x}")]),
        format!("Leadership transferred from {c1:x} to {other:x}\n")
    );
    assert_eq!(member_and_leader(g1), (c1, other));
    // c1 no longer leads: etcdctl finds no leader among the endpoints.
    let cmd = etcdctl_command(g1, &["move-leader", &format!("{c1:x}")]).expect("etcdctl");
    let out = output_bounded(cmd, RUN_LIMIT);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Error: no leader endpoint given at [http://127.0.0.1:{g1}]\n")
    );
    // Writes go on under the new leader.
    assert_eq!(etcdctl(g1, &["put", "b", "2"]), "OK\n");
}

#[test]
fn auth_through_a_gateway_answers_as_etcd() {
    let Some(etcdctl_bin) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = concord_tests::Server::etcd("e", &dir.path().join("e")) else {
        eprintln!("skipped: etcd is not installed");
        return;
    };
    etcd.wait_ready();
    let _one = serial();
    let s = Split::start();
    let g1 = s.gateway_ports[0];
    // The script stops short of its last `auth disable`, to check the
    // replica and the watch tier with auth on.
    let script = &ENFORCED[..ENFORCED.len() - 2];
    let want = etcdctl_script::run(script, &etcdctl_bin, etcd.client_port);
    let got = etcdctl_script::run(script, &etcdctl_bin, g1);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w);
    }
    assert!(want[14].contains("permission denied"), "{}", want[14]);
    // A serializable read answered by the other gateway's replica is
    // checked as well.
    let g2 = s.gateway_ports[1];
    let serializable = |user: &str| etcdctl(g2, &[user, "get", "foo", "--consistency=s"]);
    assert_eq!(serializable(ROOT), "foo\nbar\n");
    let refused = etcdctl_within(g2, &["get", "foo", "--consistency=s"], RUN_LIMIT);
    assert_eq!(refused, None, "an anonymous read is refused");
    // A watch root may make is served by the watch tier.
    let w = Watching::start(g2, &[ROOT, "watch", "w"]);
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        assert_eq!(etcdctl(g1, &[ROOT, "put", "w", "seen"]), "OK\n");
        if w.lines.recv_timeout(Duration::from_secs(1)).is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watch never started"
        );
    }
}
