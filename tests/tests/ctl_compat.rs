//! concordctl against etcdctl 3.4 (`ETCDCTL_API=2`): the same script of
//! commands, each CLI against its own fresh server, outputs and exit codes
//! compared after replacing what must differ (ports, member IDs, times).
//! Run once against concord servers and once against etcd 3.4 servers.

use std::path::{Path, PathBuf};
use std::process::Command;

use concord_tests::{which, Server};

/// Global flags go before the command, as etcdctl's users write them.
const SCRIPT: &[&[&str]] = &[
    &["set", "/a", "1"],
    &["get", "/a"],
    &["get", "/nope"],
    &["mk", "/a", "2"],
    &["mk", "/b", "2"],
    &["mkdir", "/d"],
    &["mkdir", "/d"],
    &["setdir", "/sd"],
    &["updatedir", "/sd"],
    &["ls", "--sort"],
    &["ls", "--recursive", "-p", "--sort"],
    &["-o", "json", "get", "/a"],
    &["-o", "extended", "get", "/a"],
    &["update", "/a", "3"],
    &["update", "/missing", "1"],
    &["rm", "/a"],
    &["rm", "/d"],
    &["rmdir", "/d"],
    &["set", "/w", "x", "--swap-with-value", "y"],
    &["set", "/w", "x"],
    &["set", "/w", "y", "--swap-with-value", "x"],
    &["set", "/w", "z", "--swap-with-index", "1"],
    &["rm", "--with-value", "bad", "/w"],
    &["rm", "--with-value", "y", "/w"],
    &["mk", "--in-order", "/q", "job1"],
    &["mk", "--in-order", "/q", "job2"],
    &["ls", "--sort", "/q"],
    &["-o", "json", "ls", "--sort", "/q"],
    &["get", "/q"],
    &["rm", "/q"],
    &["rm", "--recursive", "/q"],
    &["set", "/t", "v", "--ttl", "100"],
    &["-o", "extended", "get", "/t"],
    &["-o", "json", "set", "/j", "1"],
    &["-o", "json", "rm", "/j"],
    &["-o", "extended", "set", "/x", "1"],
    &["-o", "extended", "rm", "/x"],
    &["-o", "extended", "mkdir", "/q2"],
    &["set", "/dir/sub/k", "v"],
    &["ls", "--recursive", "--sort", "/dir"],
    &["-o", "json", "get", "--sort", "/b"],
    &["rm", "--dir", "/dir/sub"],
    &["rm", "--recursive", "/dir"],
    &["ls", "/nothere"],
    &["member", "list"],
    &["cluster-health"],
];

fn concordctl_bin() -> PathBuf {
    let bin = concord_tests::concord_bin().with_file_name("concordctl");
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

/// Replaces what differs between two servers: ports, the member ID, times.
fn normalise(text: &str, server: &Server, member_id: &str) -> String {
    let mut t = text
        .replace(&server.client_port.to_string(), "CLIENT_PORT")
        .replace(&server.peer_port.to_string(), "PEER_PORT")
        .replace(member_id, "MEMBER_ID");
    // RFC 3339 expiration times.
    while let Some(i) = t.find("\"expiration\":\"") {
        let start = i + "\"expiration\":\"".len();
        let end = t[start..].find('"').map_or(t.len(), |e| start + e);
        t.replace_range(i..end + 1, "\"expiration\":TIME");
    }
    t
}

fn run_script(bin: &Path, server: &Server) -> Vec<String> {
    let endpoint = format!("http://127.0.0.1:{}", server.client_port);
    let id = server.request("GET", "/v2/members/leader").json()["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    SCRIPT
        .iter()
        .map(|args| {
            let out = Command::new(bin)
                .env("ETCDCTL_API", "2")
                .env_remove("ETCDCTL_ENDPOINTS")
                .args(["--endpoints", &endpoint])
                .args(*args)
                .output()
                .expect("run CLI");
            normalise(
                &format!(
                    "$ {}\n{}{}[exit {}]",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    out.status.code().unwrap_or(-1)
                ),
                server,
                &id,
            )
        })
        .collect()
}

fn compare(etcdctl: &[String], concordctl: &[String]) {
    let diffs: Vec<String> = etcdctl
        .iter()
        .zip(concordctl)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("--- etcdctl\n{a}\n+++ concordctl\n{b}"))
        .collect();
    assert!(
        diffs.is_empty(),
        "{} of {} commands differ:\n{}",
        diffs.len(),
        SCRIPT.len(),
        diffs.join("\n")
    );
}

/// A fresh server named `ctl`; ports (and so member IDs) are normalised.
fn fresh(kind: &str, dir: &Path, sub: &str) -> Server {
    match kind {
        "etcd" => Server::etcd("ctl", &dir.join(sub)).expect("etcd 3.4 must be installed"),
        _ => Server::concord("ctl", &dir.join(sub)),
    }
}

fn etcdctl() -> PathBuf {
    which("etcdctl").expect("etcdctl 3.4 must be installed (apt-get install etcd-client)")
}

#[test]
fn concordctl_matches_etcdctl_against_concord() {
    let dir = tempfile::tempdir().unwrap();
    let a = fresh("concord", dir.path(), "c1");
    let want = run_script(&etcdctl(), &a);
    let b = fresh("concord", dir.path(), "c2");
    let got = run_script(&concordctl_bin(), &b);
    compare(&want, &got);
}

#[test]
fn concordctl_matches_etcdctl_against_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let a = fresh("etcd", dir.path(), "e1");
    let want = run_script(&etcdctl(), &a);
    let b = fresh("etcd", dir.path(), "e2");
    let got = run_script(&concordctl_bin(), &b);
    compare(&want, &got);
}
