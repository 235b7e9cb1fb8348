//! concordctl against etcdctl 3.4 (`ETCDCTL_API=2`) on a real 3-member
//! cluster: `member list`, `member add`, `member remove`, `member update`
//! and `cluster-health` print the same, with the same exit codes.
//!
//! Read-only commands run with both CLIs on the same state and are compared
//! byte for byte. A change is made once with each CLI from the same state:
//! etcdctl adds a member and removes it, then concordctl adds one the same
//! way and removes it; etcdctl removes one started follower, concordctl the
//! other. Only what must differ is replaced: the new member's peer URL
//! (`NEW_PEER`) and the ID the cluster gives it (`NEW_ID`; with it, its
//! place in `ETCD_INITIAL_CLUSTER`, whose entries are compared sorted), and
//! which follower was removed.
//!
//! Run against a concord cluster and against an etcd 3.4 cluster; skipped
//! when etcdctl (or, for the second, etcd) is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use concord_tests::cluster::{Cluster, Flavor};
use concord_tests::{free_port, which, READY_TIMEOUT};

/// One CLI run may take this long before it is killed.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn concordctl_bin() -> PathBuf {
    let bin = concord_tests::concord_bin().with_file_name("concordctl");
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

/// Runs `bin --endpoints <endpoints> <args>`: `$ args`, stdout, stderr and
/// the exit code (-1 when killed after [`RUN_LIMIT`]).
fn run(bin: &Path, endpoints: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(bin);
    cmd.env("ETCDCTL_API", "2")
        .env_remove("ETCDCTL_ENDPOINTS")
        .env_remove("ETCDCTL_ENDPOINT")
        .env_remove("ETCDCTL_PEERS")
        .args(["--endpoints", endpoints])
        .args(args);
    let out = concord_tests::output_bounded(cmd, RUN_LIMIT);
    format!(
        "$ {}\n{}{}[exit {}]",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

/// The comparisons made so far and those that differed.
struct Check {
    etcdctl: PathBuf,
    concordctl: PathBuf,
    compared: usize,
    diffs: Vec<String>,
}

impl Check {
    fn same(&mut self, what: &str, want: &str, got: &str) {
        self.compared += 1;
        if want != got {
            self.diffs.push(format!(
                "{what}:\n--- etcdctl\n{want}\n+++ concordctl\n{got}"
            ));
        }
    }

    /// Both CLIs on the same state: byte for byte.
    fn both(&mut self, endpoints: &str, args: &[&str]) {
        let want = run(&self.etcdctl, endpoints, args);
        let got = run(&self.concordctl, endpoints, args);
        self.same(
            &format!("`{}` on the same state", args.join(" ")),
            &want,
            &got,
        );
    }

    fn assert_none(&self) {
        assert!(
            self.diffs.is_empty(),
            "{} of {} comparisons differ:\n{}",
            self.diffs.len(),
            self.compared,
            self.diffs.join("\n")
        );
    }
}

/// The ID in `Added member named <name> with ID <id> to cluster`.
fn added_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Added member named "))
        .and_then(|l| l.split(" with ID ").nth(1))
        .and_then(|l| l.strip_suffix(" to cluster"))
        .unwrap_or_else(|| panic!("no member added:\n{out}"))
        .to_string()
}

/// `member add`'s output with the new ID replaced and the entries of
/// `ETCD_INITIAL_CLUSTER` sorted (their order follows the member IDs).
fn normalise_add(out: &str, id: &str) -> String {
    out.lines()
        .map(|l| {
            let l = l.replace(id, "NEW_ID");
            match l
                .strip_prefix("ETCD_INITIAL_CLUSTER=\"")
                .and_then(|v| v.strip_suffix('"'))
            {
                Some(v) => {
                    let mut parts: Vec<&str> = v.split(',').collect();
                    parts.sort_unstable();
                    format!("ETCD_INITIAL_CLUSTER=\"{}\" (sorted)", parts.join(","))
                }
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls until each member in `on` lists `n` members in `/v2/members`
/// (a change is applied by the others a moment after the answer).
fn wait_count(c: &Cluster, on: &[usize], n: usize) {
    let deadline = Instant::now() + READY_TIMEOUT;
    for &i in on {
        loop {
            let count = c
                .request(i, "GET", "/v2/members", None, b"")
                .ok()
                .filter(|r| r.status == 200)
                .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
                .and_then(|v| v["members"].as_array().map(Vec::len));
            if count == Some(n) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} lists {count:?} members, not {n}, after {READY_TIMEOUT:?}",
                c.members[i].name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn scenario(flavor: Flavor) {
    let Some(etcdctl) = which("etcdctl") else {
        eprintln!("skipped: etcdctl is not installed (apt-get install etcd-client)");
        return;
    };
    let Some(mut c) = Cluster::start(flavor, 3) else {
        return;
    };
    for i in 0..3 {
        c.wait_members(i, 3);
    }
    let mut check = Check {
        etcdctl: etcdctl.clone(),
        concordctl: concordctl_bin(),
        compared: 0,
        diffs: Vec::new(),
    };
    let all: String = c
        .members
        .iter()
        .map(|m| m.client_url())
        .collect::<Vec<_>>()
        .join(",");
    // A dead endpoint first: the sync (or the request) fails over.
    let dead_first = format!("http://127.0.0.1:1,{}", c.members[0].client_url());

    // The cluster as formed.
    for eps in [all.as_str(), dead_first.as_str()] {
        check.both(eps, &["member", "list"]);
        check.both(eps, &["--no-sync", "member", "list"]);
        check.both(eps, &["cluster-health"]);
        check.both(eps, &["--no-sync", "cluster-health"]);
    }
    check.both(&all, &["member", "remove", "m1"]);
    check.both(&all, &["member", "remove", "abc"]);
    check.both(&all, &["member", "add", "m4", "notaurl"]);
    check.both(&all, &["member", "add", "m4"]);
    check.both(&all, &["member", "update", "abc", "http://127.0.0.1:9"]);
    // Updating a member to its own peer URL changes nothing: same state.
    let id2 = c.member_id(1);
    check.both(&all, &["member", "update", &id2, &c.members[1].peer_url()]);

    // etcdctl adds a member (not started: it stays unpublished) ... Both
    // servers refuse a new member until the peers have been connected for
    // a while (etcd's strict reconfiguration check, which concord copies),
    // so the first add is retried; a refused add changes nothing.
    let peer4 = format!("http://127.0.0.1:{}", free_port());
    let deadline = Instant::now() + READY_TIMEOUT;
    let add_a = loop {
        let out = run(&etcdctl, &all, &["member", "add", "m4", &peer4]);
        if out.ends_with("[exit 0]") || Instant::now() >= deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let id_a = added_id(&add_a);
    wait_count(&c, &[0, 1, 2], 4);
    check.both(&all, &["member", "list"]);
    check.both(&all, &["cluster-health"]);
    // Refusals come from every member; with one endpoint and no sync the
    // order of the attempts (random, as etcdctl's) does not show.
    let one = c.members[0].client_url();
    check.both(&one, &["--no-sync", "member", "add", "m5", &peer4]);
    check.both(
        &one,
        &["--no-sync", "member", "add", "m5", &c.members[0].peer_url()],
    );
    // ... and removes it;
    let rm_a = run(&etcdctl, &all, &["member", "remove", &id_a]);
    wait_count(&c, &[0, 1, 2], 3);
    // concordctl does the same from the same state, with another peer URL
    // (the ID of an added member hashes its peer URLs and the time in
    // seconds: the same URL again within the second would get the same,
    // removed, ID).
    let peer5 = format!("http://127.0.0.1:{}", free_port());
    let add_b = run(&check.concordctl, &all, &["member", "add", "m4", &peer5]);
    let id_b = added_id(&add_b);
    check.same(
        "member add",
        &normalise_add(&add_a.replace(&peer4, "NEW_PEER"), &id_a),
        &normalise_add(&add_b.replace(&peer5, "NEW_PEER"), &id_b),
    );
    wait_count(&c, &[0, 1, 2], 4);
    check.both(&all, &["member", "list"]);
    check.both(&all, &["cluster-health"]);
    let rm_b = run(&check.concordctl, &all, &["member", "remove", &id_b]);
    check.same(
        "member remove (unstarted member)",
        &rm_a.replace(&id_a, "NEW_ID"),
        &rm_b.replace(&id_b, "NEW_ID"),
    );
    wait_count(&c, &[0, 1, 2], 3);
    check.both(&all, &["member", "list"]);

    // Removing started members: etcdctl one follower, concordctl the
    // other, through the leader.
    let leader = c.leader();
    let followers = c.followers(leader);
    let via = c.members[leader].client_url();
    let (f1, f2) = (c.member_id(followers[0]), c.member_id(followers[1]));
    let rm_a = run(&etcdctl, &via, &["member", "remove", &f1]);
    wait_count(&c, &[leader], 2);
    let rm_b = run(&check.concordctl, &via, &["member", "remove", &f2]);
    wait_count(&c, &[leader], 1);
    check.same(
        "member remove (started follower)",
        &rm_a.replace(&f1, "FOLLOWER_ID"),
        &rm_b.replace(&f2, "FOLLOWER_ID"),
    );
    assert!(
        rm_a.ends_with("[exit 0]"),
        "etcdctl did not remove:\n{rm_a}"
    );
    check.both(&via, &["member", "list"]);
    check.both(&via, &["cluster-health"]);
    check.assert_none();
}

#[test]
fn member_commands_match_etcdctl_against_concord() {
    scenario(Flavor::Concord);
}

#[test]
fn member_commands_match_etcdctl_against_etcd() {
    scenario(Flavor::Etcd);
}
