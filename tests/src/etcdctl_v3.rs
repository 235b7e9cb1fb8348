//! The etcdctl v3 parity script (issue 20's etcdctl cases, issue 21's
//! concordctl): command lines (with stdin for `txn`) run one after the
//! other against a fresh single member, each printed as `$ args`, its
//! stdout, its stderr and `[exit N]`, then masked of what differs by
//! nature (ports, member, cluster and lease IDs, raft terms, timings).
//! `tests/v3_etcdctl.rs` runs it with etcd's etcdctl against etcd 3.4 and
//! Concord; `tests/concordctl_v3.rs` with etcdctl and concordctl.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Server;

/// A command line, what it reads on stdin (for `txn`), and when it is
/// killed in milliseconds (0: at [`RUN_LIMIT`]), for `watch`es that run
/// until stopped.
pub struct Step(pub &'static [&'static str], pub &'static str, pub u64);

pub const SCRIPT: &[Step] = &[
    Step(&["put", "foo", "bar"], "", 0),
    Step(&["get", "foo"], "", 0),
    Step(&["put", "foo", "baz", "--prev-kv"], "", 0),
    Step(&["get", "foo", "-w", "json"], "", 0),
    Step(&["get", "foo", "-w", "fields"], "", 0),
    Step(&["get", "foo", "--rev", "2"], "", 0),
    Step(&["put", "a", "1"], "", 0),
    Step(&["put", "b", "2"], "", 0),
    Step(&["put", "c", "3"], "", 0),
    Step(&["get", "a", "--from-key"], "", 0),
    Step(&["get", "a", "--from-key", "--keys-only"], "", 0),
    Step(&["get", "a", "--from-key", "--limit", "2"], "", 0),
    Step(
        &["get", "a", "--from-key", "--limit", "2", "-w", "json"],
        "",
        0,
    ),
    Step(&["get", "a", "c"], "", 0),
    Step(&["get", "--prefix", ""], "", 0),
    Step(
        &[
            "get",
            "a",
            "--from-key",
            "--sort-by=MODIFY",
            "--order=DESCEND",
        ],
        "",
        0,
    ),
    Step(
        &["get", "a", "--from-key", "--count-only", "-w", "json"],
        "",
        0,
    ),
    Step(&["get", "nokey"], "", 0),
    Step(&["get", "nokey", "-w", "json"], "", 0),
    Step(&["del", "nokey"], "", 0),
    Step(&["del", "a"], "", 0),
    Step(&["del", "b", "--prev-kv"], "", 0),
    Step(&["del", "c", "--prefix"], "", 0),
    Step(
        &["txn"],
        "value(\"foo\") = \"baz\"\n\nput foo qux\nget foo\n\nput foo nope\n\n",
        0,
    ),
    Step(
        &["txn"],
        "mod(\"foo\") < \"2\"\n\nput foo nope\n\nget foo\n\n",
        0,
    ),
    Step(
        &["txn", "-w", "json"],
        "version(\"foo\") = \"3\"\n\ndel foo\n\n\n",
        0,
    ),
    Step(&["put", "foo", "again"], "", 0),
    Step(&["get", "foo", "-w", "json"], "", 0),
    // The history of foo from revision 2, with the previous values; the
    // watch runs until it is killed.
    Step(&["watch", "--rev", "2", "foo", "--prev-kv"], "", 3000),
    // The same as JSON: a history answer's header carries the current
    // revision, not the events'.
    Step(&["watch", "--rev", "2", "foo", "-w", "json"], "", 3000),
    Step(&["put", "", "x"], "", 0),
    Step(&["compaction", "3"], "", 0),
    Step(&["get", "foo", "--rev", "2"], "", 0),
    // A watch from a compacted revision: canceled by the server, exit 5.
    Step(&["watch", "--rev", "1", "foo"], "", 0),
    Step(&["compaction", "1"], "", 0),
    Step(&["compaction", "100"], "", 0),
    Step(&["member", "list"], "", 0),
    Step(&["member", "list", "-w", "table"], "", 0),
    Step(&["endpoint", "health"], "", 0),
    Step(&["endpoint", "status", "-w", "table"], "", 0),
    Step(&["member", "list", "-w", "json"], "", 0),
    Step(&["alarm", "list", "-w", "json"], "", 0),
    Step(&["alarm", "list"], "", 0),
    Step(&["defrag"], "", 0),
    Step(&["lease", "list"], "", 0),
    Step(&["lease", "grant", "100"], "", 0),
    Step(&["lease", "list"], "", 0),
    Step(&["lease", "revoke", "1"], "", 0),
    Step(&["lease", "timetolive", "1"], "", 0),
    Step(&["lease", "grant", "-5"], "", 0),
    Step(&["lease", "keep-alive", "--once", "1"], "", 0),
    Step(&["lease", "grant"], "", 0),
    Step(&["snapshot", "save", SNAPSHOT_FILE], "", 0),
    // The command line alone: errors, exit codes, usage.
    Step(&["get"], "", 0),
    Step(&["nosuch"], "", 0),
    Step(&["get", "foo", "-w", "bogus"], "", 0),
    Step(&["get", "foo", "-w", "table"], "", 0),
    Step(&["member"], "", 0),
    Step(&["version"], "", 0),
];

/// Stands for a fresh file in a temporary directory (`snapshot save`).
pub const SNAPSHOT_FILE: &str = "SNAPSHOT_FILE";

/// How long a step may run before it is killed.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// `concordctl`: `$CONCORDCTL_BIN` if set, else the one built next to
/// `concord` (see [`crate::concord_bin`]).
pub fn concordctl_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CONCORDCTL_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.exists(), "CONCORDCTL_BIN={} not found", bin.display());
        return bin;
    }
    let bin = crate::concord_bin().with_file_name("concordctl");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build --release -p concordctl)",
        bin.display()
    );
    bin
}

/// Replaces the runs of 12 or more hex digits with at least one letter or
/// more than 12 characters (member, cluster and lease IDs), the values
/// of JSON keys that differ by nature, ports and timings.
pub fn normalise(text: &str, server: &Server) -> String {
    let mut t = text
        .replace(&server.client_port.to_string(), "CLIENT_PORT")
        .replace(&server.peer_port.to_string(), "PEER_PORT");
    for key in ["cluster_id", "member_id", "raft_term", "ID", "id"] {
        t = mask_json_number(&t, key);
    }
    // etcd's single member elects itself at term 2 (its bootstrap entries
    // are at term 1), Concord's at term 1.
    t = mask_between(&t, "\"RaftTerm\" : ", "\n", "N");
    // The client's own log lines: their time and client UUID; the
    // snapshot's size and how long it took.
    t = mask_between(&t, "\"ts\":\"", "\"", "TIME");
    t = mask_between(&t, "\"ts\":", ",", "TIME");
    t = mask_between(&t, "\"took\":", "}", "TIME");
    t = mask_between(&t, "\"size\":\"", "\"", "SIZE");
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
    mask_tables(&out, out.starts_with("$ endpoint status"))
}

/// Tables lose their borders and padding, which follow the widths of
/// what they hold (a member ID is 15 or 16 hex digits). With `status`,
/// `endpoint status`'s rows (comma-separated, or a table) lose the
/// database size, raft term and indexes too, which differ by nature.
fn mask_tables(text: &str, status: bool) -> String {
    const MASKED: [usize; 4] = [3, 6, 7, 8];
    text.lines()
        .map(|line| {
            if line.starts_with('+') {
                return "+".to_string();
            }
            if let Some(row) = line.strip_prefix('|') {
                let mut cells: Vec<String> = row.split('|').map(|c| c.trim().to_string()).collect();
                if status && line.contains("CLIENT_PORT") {
                    for i in MASKED {
                        if let Some(c) = cells.get_mut(i) {
                            *c = "N".into();
                        }
                    }
                }
                return format!("|{}", cells.join("|"));
            }
            if status && line.starts_with("http://") {
                let mut cells: Vec<&str> = line.split(", ").collect();
                for i in MASKED {
                    if let Some(c) = cells.get_mut(i) {
                        *c = "N";
                    }
                }
                return cells.join(", ");
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
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

/// Runs [`SCRIPT`] with `ctl` (etcdctl or concordctl, `ETCDCTL_API=3`)
/// against `server`: one masked transcript per step.
pub fn run_script(ctl: &Path, server: &Server) -> Vec<String> {
    let endpoint = format!("http://127.0.0.1:{}", server.client_port);
    let files = tempfile::tempdir().expect("a temporary directory");
    let snapshot = files.path().join("snapshot.db").display().to_string();
    SCRIPT
        .iter()
        .map(|Step(args, stdin, kill_after)| {
            let args: Vec<&str> = args
                .iter()
                .map(|a| {
                    if *a == SNAPSHOT_FILE {
                        snapshot.as_str()
                    } else {
                        a
                    }
                })
                .collect();
            let mut cmd = Command::new(ctl);
            cmd.env("ETCDCTL_API", "3")
                .env_remove("ETCDCTL_ENDPOINTS")
                .args(["--endpoints", &endpoint])
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("the client runs");
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.as_bytes()).unwrap();
            drop(input);
            let limit = match kill_after {
                0 => RUN_LIMIT,
                ms => Duration::from_millis(*ms),
            };
            let out = bounded(child, limit);
            let transcript = format!(
                "$ {}\n{}{}[exit {}]",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                out.status.code().unwrap_or(-1)
            );
            normalise(&transcript.replace(&snapshot, SNAPSHOT_FILE), server)
        })
        .collect()
}

/// Waits for `child` at most `limit`, killing it after that.
fn bounded(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

/// The steps whose transcripts differ, as `--- want` / `+++ got` pairs.
pub fn differences(
    want: &[String],
    got: &[String],
    want_name: &str,
    got_name: &str,
) -> Vec<String> {
    want.iter()
        .zip(got)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("--- {want_name}\n{a}\n+++ {got_name}\n{b}"))
        .collect()
}
