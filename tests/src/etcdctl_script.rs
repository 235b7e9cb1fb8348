//! etcdctl 3.4 scripts run the same against etcd and against Concord
//! (a member, or a split's gateway), for the tests that compare them.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest one command of a script may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

pub const ROOT: &str = "--user=root:rootpw";
pub const ALICE: &str = "--user=alice:apw";

/// Auth enabled: who may do what.
pub const ENFORCED: &[(&[&str], &str)] = &[
    (&["user", "add", "root:rootpw"], ""),
    (&["auth", "enable"], ""),
    (&["get", "foo"], ""),
    (&["--user=root:wrong", "get", "foo"], ""),
    (&[ROOT, "put", "foo", "bar"], ""),
    (&[ROOT, "get", "foo"], ""),
    (&[ROOT, "user", "add", "alice:apw"], ""),
    (&[ROOT, "role", "add", "r"], ""),
    (
        &[
            ROOT,
            "role",
            "grant-permission",
            "r",
            "readwrite",
            "--prefix",
            "app/",
        ],
        "",
    ),
    (&[ROOT, "role", "grant-permission", "r", "write", "w"], ""),
    (&[ROOT, "user", "grant-role", "alice", "r"], ""),
    (&[ALICE, "put", "app/x", "1"], ""),
    (&[ALICE, "get", "app/x"], ""),
    (&[ALICE, "get", "--prefix", "app/"], ""),
    (&[ALICE, "get", "foo"], ""),
    (&[ALICE, "put", "foo", "2"], ""),
    (&[ALICE, "put", "w", "1"], ""),
    (&[ALICE, "get", "w"], ""),
    (&[ALICE, "put", "--prev-kv", "w", "2"], ""),
    (&[ALICE, "del", "--prefix", "app/"], ""),
    (&[ALICE, "del", "foo"], ""),
    (&[ALICE, "user", "list"], ""),
    (&[ALICE, "user", "get", "alice"], ""),
    (&[ALICE, "user", "get", "root"], ""),
    (&[ALICE, "role", "get", "r"], ""),
    (&[ALICE, "role", "get", "root"], ""),
    (&[ALICE, "role", "add", "r2"], ""),
    (&[ALICE, "auth", "disable"], ""),
    (
        &[ALICE, "txn", "--interactive=false"],
        "value(\"app/y\") = \"\"\n\nput app/y 1\n\nput w 3\n\n",
    ),
    (
        &[ALICE, "txn", "--interactive=false"],
        "value(\"foo\") = \"bar\"\n\nput app/z 1\n\n\n",
    ),
    (&[ALICE, "watch", "foo"], ""),
    (&[ROOT, "user", "revoke-role", "alice", "r"], ""),
    (&[ALICE, "get", "app/y"], ""),
    (&[ROOT, "user", "delete", "alice"], ""),
    (&[ALICE, "get", "app/y"], ""),
    (&[ROOT, "auth", "disable"], ""),
    (&["get", "foo"], ""),
];

/// Each command's exit code and output (stdout then stderr, without
/// clientv3's retry warnings, which carry times and client IDs).
pub fn run(script: &[(&[&str], &str)], etcdctl: &Path, port: u16) -> Vec<String> {
    script
        .iter()
        .map(|(args, stdin)| {
            let mut child = Command::new(etcdctl)
                .env("ETCDCTL_API", "3")
                .env_remove("ETCDCTL_ENDPOINTS")
                .arg(format!("--endpoints=127.0.0.1:{port}"))
                .args(*args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("etcdctl runs");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            // A command that should have ended (a watch the server should
            // cancel) is ended after a generous bound: its output shows it.
            let deadline = Instant::now() + RUN_LIMIT;
            while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let out = child.wait_with_output().expect("etcdctl output");
            let stderr: String = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.contains("retry_interceptor"))
                .map(|l| format!("{l}\n"))
                .collect();
            format!(
                "$ {}\n{}{}rc={}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                stderr,
                out.status.code().unwrap_or(-1)
            )
        })
        .collect()
}
