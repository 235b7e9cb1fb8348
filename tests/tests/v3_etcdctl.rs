//! etcdctl 3.4 speaking v3 (`ETCDCTL_API=3`, gRPC) to Concord and to etcd
//! 3.4: the same script against a fresh single member of each, outputs and
//! exit codes compared after masking what differs by nature (ports, member,
//! cluster and lease IDs, raft terms, timings). The walkthrough's
//! `ETCDCTL_API=3 etcdctl put foo bar` is its first line.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use concord_tests::{which, Server};

/// A command line and what it reads on stdin (for `txn`).
struct Step(&'static [&'static str], &'static str);

const SCRIPT: &[Step] = &[
    Step(&["put", "foo", "bar"], ""),
    Step(&["get", "foo"], ""),
    Step(&["put", "foo", "baz", "--prev-kv"], ""),
    Step(&["get", "foo", "-w", "json"], ""),
    Step(&["get", "foo", "-w", "fields"], ""),
    Step(&["get", "foo", "--rev", "2"], ""),
    Step(&["put", "a", "1"], ""),
    Step(&["put", "b", "2"], ""),
    Step(&["put", "c", "3"], ""),
    Step(&["get", "a", "--from-key"], ""),
    Step(&["get", "a", "--from-key", "--keys-only"], ""),
    Step(&["get", "a", "--from-key", "--limit", "2"], ""),
    Step(
        &["get", "a", "--from-key", "--limit", "2", "-w", "json"],
        "",
    ),
    Step(&["get", "a", "c"], ""),
    Step(&["get", "--prefix", ""], ""),
    Step(
        &[
            "get",
            "a",
            "--from-key",
            "--sort-by=MODIFY",
            "--order=DESCEND",
        ],
        "",
    ),
    Step(
        &["get", "a", "--from-key", "--count-only", "-w", "json"],
        "",
    ),
    Step(&["get", "nokey"], ""),
    Step(&["get", "nokey", "-w", "json"], ""),
    Step(&["del", "nokey"], ""),
    Step(&["del", "a"], ""),
    Step(&["del", "b", "--prev-kv"], ""),
    Step(&["del", "c", "--prefix"], ""),
    Step(
        &["txn"],
        "value(\"foo\") = \"baz\"\n\nput foo qux\nget foo\n\nput foo nope\n\n",
    ),
    Step(
        &["txn"],
        "mod(\"foo\") < \"2\"\n\nput foo nope\n\nget foo\n\n",
    ),
    Step(
        &["txn", "-w", "json"],
        "version(\"foo\") = \"3\"\n\ndel foo\n\n\n",
    ),
    Step(&["put", "foo", "again"], ""),
    Step(&["get", "foo", "-w", "json"], ""),
    Step(&["put", "", "x"], ""),
    Step(&["compaction", "3"], ""),
    Step(&["get", "foo", "--rev", "2"], ""),
    Step(&["compaction", "1"], ""),
    Step(&["compaction", "100"], ""),
    Step(&["member", "list"], ""),
    Step(&["member", "list", "-w", "table"], ""),
    Step(&["endpoint", "health"], ""),
    Step(&["alarm", "list"], ""),
    Step(&["defrag"], ""),
    Step(&["lease", "list"], ""),
    Step(&["lease", "grant", "100"], ""),
    Step(&["lease", "list"], ""),
    Step(&["lease", "revoke", "1"], ""),
    Step(&["lease", "timetolive", "1"], ""),
    Step(&["lease", "grant", "-5"], ""),
];

const RUN_LIMIT: Duration = Duration::from_secs(30);

/// Replaces the runs of 12 or more hex digits with at least one letter or
/// more than 12 characters (member, cluster and lease IDs), the values
/// of JSON keys that differ by nature, ports and timings.
fn normalise(text: &str, server: &Server) -> String {
    let mut t = text
        .replace(&server.client_port.to_string(), "CLIENT_PORT")
        .replace(&server.peer_port.to_string(), "PEER_PORT");
    for key in ["cluster_id", "member_id", "raft_term", "ID", "id"] {
        t = mask_json_number(&t, key);
    }
    // etcd's single member elects itself at term 2 (its bootstrap entries
    // are at term 1), Concord's at term 1.
    t = mask_between(&t, "\"RaftTerm\" : ", "\n", "N");
    // The client's own log lines: their time and client UUID.
    t = mask_between(&t, "\"ts\":\"", "\"", "TIME");
    t = mask_between(&t, "endpoint://client-", "/", "UUID");
    if let Some(i) = t.find("took = ") {
        let end = t[i..].find('\n').map_or(t.len(), |e| i + e);
        t.replace_range(i..end, "took = TIME");
    }
    let mut out = String::new();
    let mut word = String::new();
    for c in t.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            word.push(c);
            continue;
        }
        let id_like =
            word.len() >= 12 && word.chars().any(|c| c.is_ascii_alphabetic()) || word.len() > 12;
        out.push_str(if id_like { "HEXID" } else { &word });
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Every `start...end` becomes `start<with>end`.
fn mask_between(text: &str, start: &str, end: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(start) {
        let from = i + start.len();
        let Some(len) = rest[from..].find(end) else {
            break;
        };
        out.push_str(&rest[..from]);
        out.push_str(with);
        rest = &rest[from + len..];
    }
    out.push_str(rest);
    out
}

/// `"key":123` becomes `"key":N`.
fn mask_json_number(text: &str, key: &str) -> String {
    let pat = format!("\"{key}\":");
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(&pat) {
        let start = i + pat.len();
        out.push_str(&rest[..start]);
        let digits = rest[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len() - start);
        out.push_str(if digits > 0 { "N" } else { "" });
        rest = &rest[start + digits..];
    }
    out.push_str(rest);
    out
}

fn run_script(etcdctl: &Path, server: &Server) -> Vec<String> {
    let endpoint = format!("http://127.0.0.1:{}", server.client_port);
    SCRIPT
        .iter()
        .map(|Step(args, stdin)| {
            let mut cmd = Command::new(etcdctl);
            cmd.env("ETCDCTL_API", "3")
                .env_remove("ETCDCTL_ENDPOINTS")
                .args(["--endpoints", &endpoint])
                .args(*args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("etcdctl runs");
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.as_bytes()).unwrap();
            drop(input);
            let out = bounded(child);
            normalise(
                &format!(
                    "$ {}\n{}{}[exit {}]",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    out.status.code().unwrap_or(-1)
                ),
                server,
            )
        })
        .collect()
}

/// Waits for `child` at most [`RUN_LIMIT`], killing it after that.
fn bounded(mut child: std::process::Child) -> std::process::Output {
    let deadline = std::time::Instant::now() + RUN_LIMIT;
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

#[test]
fn etcdctl_v3_prints_the_same_against_concord_as_against_etcd() {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl (etcd 3.4) is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(mut etcd) = Server::etcd("default", &dir.path().join("etcd")) else {
        eprintln!("skipped: etcd 3.4 is not installed");
        return;
    };
    let want = run_script(&etcdctl, &etcd);
    etcd.kill9();
    let mut concord = Server::concord("default", &dir.path().join("concord"));
    let got = run_script(&etcdctl, &concord);
    concord.kill9();
    let diffs: Vec<String> = want
        .iter()
        .zip(&got)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("--- etcd 3.4\n{a}\n+++ concord\n{b}"))
        .collect();
    assert!(
        diffs.is_empty(),
        "{} of {} commands differ:\n{}",
        diffs.len(),
        SCRIPT.len(),
        diffs.join("\n")
    );
}
