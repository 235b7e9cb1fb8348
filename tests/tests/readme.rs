//! # The README's shell blocks, pasted in order into one shell
//!
//! `README.md` is read at test time and its ```` ```sh ```` blocks are run
//! with `bash`, in README order, as a newcomer pastes them from the
//! repository's root: the quick-start server in a terminal of its own, and
//! every other block into ONE second shell, so that what a block leaves in
//! the shell (an exported variable, a function, a background process) is
//! there for the next one. The answers are checked, so the README cannot
//! drift from the code; and after every block the test fails if
//!
//! - a process the block started is still running (the shell's process
//!   group holds nothing but the shell),
//! - a file was left behind or changed (`git status --porcelain --ignored
//!   --untracked-files=all` differs from before; only the quick start's
//!   `default.etcd/`, kept for its next start, may stay),
//! - an `ETCD*` or `CONCORD*` variable is left exported in the shell.
//!
//! ## Which blocks run
//!
//! A ```` ```sh ```` block is skipped when the line right before its fence is
//! a marker `<!-- readme-test: skip (why) -->` (the build/test commands, the
//! examples for hosts at 10.0.0.x, the blocks that need Docker or
//! nats-server). Fences with another info string (```` ```text ````, ...)
//! are never run. Every other ```` ```sh ```` block must be one this test
//! knows, by its `## ` heading and its place under it, each with its checks:
//!
//! - **Quick start**: the server command, run in the background (the test
//!   stops it with Ctrl-C, as the README tells the user to, before the
//!   cluster block);
//! - **A walk through the v2 API**: every curl's answer (etcd's JSON:
//!   action, key, value, prevNode, errorCode, members, stats, health,
//!   version);
//! - **concordctl**: the exact lines etcdctl 3.4 (`ETCDCTL_API=2`) prints
//!   for these commands, indexes and IDs aside;
//! - **The v3 API (etcdctl)**: etcdctl 3.4's v3 `put`, `get` and `member
//!   list` lines, and the v2 store without the v3 key;
//! - **A three-member cluster**: the members, the forwarded write, the member
//!   removed and re-added with a new ID, ending with the three members listed
//!   by the re-added node3 and the key readable there;
//! - **Discovery**, first block: three members bootstrapped by a token of
//!   `concord-discovery`, and their registrations; second block: the
//!   stateless tiers (watch, gateway) given nothing but the discovery URL,
//!   a write through the gateway and `concordctl` (syncing) reading it;
//! - **Split services**: `scripts/split-local` in the background, a write
//!   and a read through the two gateways, the members listed with the
//!   gateways' advertised URLs, and `concordctl` without `--no-sync`
//!   reading through a gateway.
//!
//! ## The copy it runs in, and what is rewritten
//!
//! The blocks run in a fresh git repository holding the files they use
//! (`README.md`, `.gitignore`, `scripts/split-local`), committed, with
//! `target/release` a link to the binaries cargo built for this test (the
//! checkout itself may be in use, and other tests run at the same time).
//! Mechanically, and nothing else differs from the README:
//!
//! - each README port ([`README_PORTS`]), as a whole number, becomes a free
//!   port (the same one in every block and in `scripts/split-local`, whose
//!   ports are written out once for this), so the test runs beside others;
//! - the quick start's leading `cargo build --release --workspace && ` is
//!   dropped (cargo built the workspace to run this test), and its default
//!   URLs, which appear nowhere in its text, are moved to the free ports
//!   through etcd's `ETCD_*` environment variables.
//!
//! The shells run without the caller's `ETCD*`/`CONCORD*` variables, each
//! in a process group of its own, killed with the group at the end, also
//! when the test fails. Each block has a deadline; waits are polls, no
//! fixed sleeps.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The marker that skips the ```` ```sh ```` block right after it.
const SKIP_MARKER: &str = "<!-- readme-test: skip";

/// The ports the README (and `scripts/split-local`) uses; each is
/// replaced by a free one.
const README_PORTS: [u16; 18] = [
    2379, 2380, 2479, 2480, 2579, 2580, // the quick start, the cluster, the split's members
    2382, 12379, 12380, 22379, 22380, 32379, 32380, // discovery
    2679, 2680, 2779, // the split's gateways and watch
    2879, 2880, // the member restored from a snapshot
];

/// The files of the checkout the blocks use.
const CHECKOUT_FILES: [&str; 3] = ["README.md", ".gitignore", "scripts/split-local"];

/// What `cargo` already did before this test runs.
const BUILD_PREFIX: &str = "cargo build --release --workspace && ";

/// Deadlines, generous for a busy 2-core machine.
const SERVER_READY: Duration = Duration::from_secs(90);
const SHORT_BLOCK: Duration = Duration::from_secs(120);
const CLUSTER_BLOCK: Duration = Duration::from_secs(300);
const STOP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    QuickStart,
    WalkThrough,
    Ctl,
    V3,
    Restore,
    Cluster,
    Discovery,
    DiscoveryTiers,
    Split,
}

impl Role {
    /// The `n`th runnable block (from 0) under `## heading`.
    fn of(heading: &str, n: usize) -> Option<Role> {
        Some(match (heading, n) {
            ("Quick start", 0) => Role::QuickStart,
            ("A walk through the v2 API", 0) => Role::WalkThrough,
            ("concordctl", 0) => Role::Ctl,
            ("The v3 API (etcdctl)", 0) => Role::V3,
            ("The v3 API (etcdctl)", 1) => Role::Restore,
            ("A three-member cluster", 0) => Role::Cluster,
            ("Discovery", 0) => Role::Discovery,
            ("Discovery", 1) => Role::DiscoveryTiers,
            ("Split services", 0) => Role::Split,
            _ => return None,
        })
    }

    fn deadline(self) -> Duration {
        match self {
            Role::QuickStart | Role::WalkThrough | Role::Ctl | Role::V3 => SHORT_BLOCK,
            // A member started, waited for and stopped.
            _ => CLUSTER_BLOCK,
        }
    }
}

#[derive(Debug)]
struct Block {
    role: Role,
    /// 1-based line of the opening fence, for messages.
    line: usize,
    text: String,
}

fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("README.md")
}

/// The runnable ```` ```sh ```` blocks of `readme`, in order.
fn runnable_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut heading = String::new();
    let mut under_heading: HashMap<String, usize> = HashMap::new();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(h) = line.strip_prefix("## ") {
            heading = h.trim().to_string();
        }
        if let Some(info) = line.strip_prefix("```") {
            let start = i;
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim_end() == "```")
                .unwrap_or_else(|| panic!("README.md:{}: unclosed fence", start + 1));
            let skipped = start > 0 && lines[start - 1].trim_start().starts_with(SKIP_MARKER);
            if info.trim() == "sh" && !skipped {
                let n = under_heading.get(&heading).copied().unwrap_or(0);
                under_heading.insert(heading.clone(), n + 1);
                let role = Role::of(&heading, n).unwrap_or_else(|| {
                    panic!(
                        "README.md:{}: runnable sh block #{} under '## {heading}', which this \
                         test does not know: mark it with `{SKIP_MARKER} (why) -->` or add its \
                         checks to tests/tests/readme.rs",
                        start + 1,
                        n + 1
                    )
                });
                blocks.push(Block {
                    role,
                    line: start + 1,
                    text: lines[start + 1..end].join("\n") + "\n",
                });
            }
            i = end + 1;
            continue;
        }
        i += 1;
    }
    blocks
}

/// Replaces every README port that stands as a whole number in `text`.
fn rewrite_ports(text: &str, ports: &HashMap<u16, u16>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match digits.parse::<u16>().ok().and_then(|p| ports.get(&p)) {
            Some(free) if !digits.starts_with('0') => out.push_str(&free.to_string()),
            _ => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// A fresh git repository at `dir` holding [`CHECKOUT_FILES`] (ports
/// rewritten), committed, with `target/release` linked to `bin_dir`.
fn make_checkout(dir: &Path, ports: &HashMap<u16, u16>, bin_dir: &Path) {
    let root = readme_path().parent().expect("root").to_path_buf();
    for f in CHECKOUT_FILES {
        let text = std::fs::read_to_string(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::write(&to, rewrite_ports(&text, ports)).expect("write");
        let mode = std::fs::metadata(root.join(f)).expect("stat").permissions();
        std::fs::set_permissions(&to, mode).expect("chmod");
    }
    std::fs::create_dir_all(dir.join("target")).expect("mkdir target");
    std::os::unix::fs::symlink(bin_dir, dir.join("target/release")).expect("link target/release");
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &[
            "-c",
            "user.name=readme",
            "-c",
            "user.email=readme@localhost",
            "commit",
            "-q",
            "-m",
            "the README's files",
        ],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }
}

/// `git status` of the checkout, ignored and untracked files one by one.
fn git_status(dir: &Path) -> Vec<String> {
    let out = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ])
        .current_dir(dir)
        .output()
        .expect("git status");
    assert!(out.status.success(), "git status: {out:?}");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// One block run by bash in a process group of its own; the whole group is
/// killed when dropped.
struct Run {
    name: String,
    child: Child,
    pgid: i32,
    out: PathBuf,
    err: PathBuf,
    status: Option<ExitStatus>,
}

impl Run {
    /// Runs `script`; with `None`, a shell that reads its commands from a
    /// pipe (see [`Shell`]).
    fn start(
        name: &str,
        script: Option<&str>,
        cwd: &Path,
        scripts: &Path,
        env: &[(&str, String)],
    ) -> Run {
        let out = scripts.join(format!("{name}.out"));
        let err = scripts.join(format!("{name}.err"));
        let mut cmd = Command::new("bash");
        cmd.arg("--noprofile").arg("--norc");
        match script {
            Some(script) => {
                let file = scripts.join(format!("{name}.sh"));
                std::fs::write(&file, script).expect("write script");
                cmd.arg(&file).stdin(Stdio::null());
            }
            None => {
                cmd.stdin(Stdio::piped());
            }
        }
        cmd.current_dir(cwd)
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .process_group(0);
        for (k, _) in std::env::vars() {
            if k.starts_with("ETCD") || k.starts_with("CONCORD") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start bash");
        let pgid = child.id() as i32;
        Run {
            name: name.to_string(),
            child,
            pgid,
            out,
            err,
            status: None,
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Its stdout, stderr and the tail of each `*.log` in `cwd`, for messages.
    fn report(&self, cwd: &Path) -> String {
        let mut s = format!(
            "--- {} stdout:\n{}\n--- {} stderr:\n{}",
            self.name,
            self.stdout(),
            self.name,
            tail(&std::fs::read_to_string(&self.err).unwrap_or_default(), 60)
        );
        let mut logs: Vec<PathBuf> = [cwd.to_path_buf(), cwd.join("split.local")]
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            s += &format!("\n--- {}:\n{}", log.display(), tail(&text, 40));
        }
        s
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits for bash to exit; on the deadline, kills the group and fails.
    fn finish(&mut self, limit: Duration, cwd: &Path) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() >= deadline {
                self.kill(libc_sig::KILL);
                panic!(
                    "README block '{}' still running after {limit:?}\n{}",
                    self.name,
                    self.report(cwd)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{}", self.pgid)])
            .stderr(Stdio::null())
            .status();
    }

    /// Whether any process of the group is still alive (zombies included).
    fn group_alive(&self) -> bool {
        Command::new("kill")
            .args(["-0", "--", &format!("-{}", self.pgid)])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.kill(libc_sig::KILL);
        let _ = self.child.wait();
    }
}

/// The second terminal: one bash that every block is pasted into, in
/// order, so that what a block leaves in the shell is there for the next.
struct Shell {
    run: Run,
    stdin: ChildStdin,
    scripts: PathBuf,
    pasted: usize,
}

/// What one pasted block did.
struct Pasted {
    /// What it printed on stdout.
    out: String,
    /// The exit status of its last command.
    status: i32,
    /// The `ETCD*`/`CONCORD*` variables exported in the shell after it.
    exported: String,
}

const DONE: &str = "@@readme-block-done";

impl Shell {
    fn start(cwd: &Path, scripts: &Path) -> Shell {
        let mut run = Run::start("shell", None, cwd, scripts, &[]);
        let stdin = run.child.stdin.take().expect("the shell's stdin");
        Shell {
            run,
            stdin,
            scripts: scripts.to_path_buf(),
            pasted: 0,
        }
    }

    /// Pastes `text` (block `name`) and waits up to `limit` for it to
    /// finish. The block reads its commands from a file (`source`), with
    /// its stdin empty, as a paste would not feed a command the lines
    /// after it; then a marker line tells the test it is done.
    fn paste(&mut self, name: &str, text: &str, limit: Duration, cwd: &Path) -> Pasted {
        self.pasted += 1;
        let n = self.pasted;
        let file = self.scripts.join(format!("{n:02}-{name}.sh"));
        std::fs::write(&file, text).expect("write block");
        let from = self.run.stdout().len();
        let line = format!(
            "source '{}' </dev/null; __s=$?; __e=$(env | grep -E '^(ETCD|CONCORD)' | cut -d= -f1 | \
             tr '\\n' ' '); printf '\\n{DONE} {n} %s [%s]\\n' \"$__s\" \"$__e\"\n",
            file.display()
        );
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("paste '{name}': {e}\n{}", self.run.report(cwd)));
        let marker = format!("\n{DONE} {n} ");
        let deadline = Instant::now() + limit;
        loop {
            let all = self.run.stdout();
            if let Some(at) = all.get(from..).and_then(|o| o.find(&marker)) {
                if let Some(end) = all[from + at + marker.len()..].find('\n') {
                    let rest = &all[from + at + marker.len()..][..end];
                    let (status, exported) = rest.split_once(' ').unwrap_or((rest, ""));
                    return Pasted {
                        out: all[from..from + at].to_string(),
                        status: status.parse().unwrap_or(-1),
                        exported: exported
                            .trim_matches(|c| c == '[' || c == ']')
                            .trim()
                            .to_string(),
                    };
                }
            }
            if let Some(status) = self.run.exited() {
                panic!(
                    "the shell exited ({status}) in block '{name}'\n{}",
                    self.run.report(cwd)
                );
            }
            if Instant::now() >= deadline {
                self.run.kill(libc_sig::KILL);
                panic!(
                    "README block '{name}' still running after {limit:?}\n{}",
                    self.run.report(cwd)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The processes of the shell's group other than the shell, polled
    /// until there are none or [`STOP`] passes (a process the block killed
    /// and waited for is gone at once; this is for the ones it did not).
    fn leftover_processes(&self) -> Vec<String> {
        let deadline = Instant::now() + STOP;
        loop {
            let out = Command::new("pgrep")
                .args(["-a", "-g", &self.run.pgid.to_string()])
                .output()
                .expect("pgrep");
            let others: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| {
                    l.split_whitespace().next() != Some(&self.run.pgid.to_string()) && !l.is_empty()
                })
                .collect();
            if others.is_empty() || Instant::now() >= deadline {
                return others;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

mod libc_sig {
    pub const KILL: &str = "-KILL";
    pub const INT: &str = "-INT";
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The JSON values a block printed, in order (curl prints bodies back to
/// back, with or without a newline between them).
fn json_values(out: &str, run: &Run, cwd: &Path) -> Vec<Value> {
    serde_json::Deserializer::from_str(out)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| {
            panic!(
                "a README block printed something that is not JSON ({e}):\n{out}\n{}",
                run.report(cwd)
            )
        })
}

/// Polls `/health` on `port` until it answers 200, failing if `run` exits.
fn wait_healthy(run: &mut Run, port: u16, cwd: &Path) {
    let deadline = Instant::now() + SERVER_READY;
    loop {
        if let Some(status) = run.exited() {
            panic!(
                "README block '{}' exited ({status}) before its server was healthy\n{}",
                run.name,
                run.report(cwd)
            );
        }
        if let Ok(r) = concord_tests::http(port, "GET", "/health", None, b"") {
            if r.status == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the quick-start server is not healthy after {SERVER_READY:?}\n{}",
            run.report(cwd)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node<'a>(v: &'a Value, field: &str) -> &'a Value {
    &v["node"][field]
}

/// Asserts `cond` about the `i`th answer of a block, showing all of them.
macro_rules! check {
    ($answers:expr, $i:expr, $cond:expr) => {
        assert!(
            $cond,
            "answer #{} of the block: {}\nall answers:\n{}",
            $i,
            stringify!($cond),
            $answers
                .iter()
                .enumerate()
                .map(|(i, v)| format!("#{i}: {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
}

/// What the walk-through learned that the next blocks check against.
struct Learned {
    member_id: String,
    queue_keys: Vec<String>,
    last_index: u64,
}

fn check_walk_through(a: &[Value], client: u16, peer: u16) -> Learned {
    assert_eq!(
        a.len(),
        25,
        "the walk-through prints one answer per curl (25): {a:#?}"
    );
    // keys
    check!(
        a,
        0,
        a[0]["action"] == "set" && node(&a[0], "key") == "/message"
    );
    check!(a, 0, node(&a[0], "value") == "Hello world");
    check!(
        a,
        1,
        a[1]["action"] == "get" && node(&a[1], "value") == "Hello world"
    );
    check!(
        a,
        2,
        a[2]["action"] == "set" && node(&a[2], "value") == "Hello etcd"
    );
    check!(a, 2, a[2]["prevNode"]["value"] == "Hello world");
    check!(
        a,
        3,
        a[3]["action"] == "delete" && node(&a[3], "key") == "/message"
    );
    check!(a, 3, a[3]["prevNode"]["value"] == "Hello etcd");
    // TTL
    check!(
        a,
        4,
        a[4]["action"] == "set" && node(&a[4], "value") == "bar"
    );
    check!(
        a,
        4,
        node(&a[4], "ttl") == 5 && node(&a[4], "expiration").is_string()
    );
    check!(
        a,
        5,
        a[5]["action"] == "get" && node(&a[5], "value") == "bar"
    );
    // compare-and-swap, create-only
    check!(
        a,
        6,
        a[6]["action"] == "set" && node(&a[6], "value") == "one"
    );
    check!(a, 6, node(&a[6], "ttl").is_null());
    check!(
        a,
        7,
        a[7]["action"] == "compareAndSwap" && node(&a[7], "value") == "two"
    );
    check!(a, 7, a[7]["prevNode"]["value"] == "one");
    check!(
        a,
        8,
        a[8]["errorCode"] == 105 && a[8]["message"] == "Key already exists"
    );
    check!(a, 8, a[8]["cause"] == "/foo");
    // the watch and the PUT, in either order: the same event
    let cas_index = node(&a[7], "modifiedIndex").as_u64().unwrap_or(0);
    for i in [9, 10] {
        check!(
            a,
            i,
            a[i]["action"] == "set" && node(&a[i], "value") == "changed"
        );
        check!(a, i, a[i]["prevNode"]["value"] == "two");
        check!(
            a,
            i,
            node(&a[i], "modifiedIndex").as_u64() > Some(cas_index)
        );
    }
    check!(a, 10, a[9] == a[10]);
    // directories
    check!(
        a,
        11,
        a[11]["action"] == "set" && node(&a[11], "dir") == true
    );
    check!(a, 11, node(&a[11], "key") == "/dir");
    check!(
        a,
        12,
        a[12]["action"] == "set" && node(&a[12], "key") == "/dir/a"
    );
    check!(a, 12, node(&a[12], "value") == "1");
    check!(
        a,
        13,
        a[13]["action"] == "get" && node(&a[13], "dir") == true
    );
    let listed = node(&a[13], "nodes");
    check!(a, 13, listed.as_array().map(Vec::len) == Some(1));
    check!(
        a,
        13,
        listed[0]["key"] == "/dir/a" && listed[0]["value"] == "1"
    );
    check!(
        a,
        14,
        a[14]["action"] == "delete" && node(&a[14], "key") == "/dir"
    );
    check!(a, 14, node(&a[14], "dir") == true);
    // in-order keys
    let mut queue_keys = Vec::new();
    for (i, job) in [(15, "Job1"), (16, "Job2")] {
        check!(
            a,
            i,
            a[i]["action"] == "create" && node(&a[i], "value") == job
        );
        let key = node(&a[i], "key").as_str().unwrap_or("");
        check!(
            a,
            i,
            key.starts_with("/queue/") && key.len() == "/queue/".len() + 20
        );
        queue_keys.push(key.to_string());
    }
    check!(a, 16, queue_keys[0] < queue_keys[1]);
    let listed = node(&a[17], "nodes");
    check!(
        a,
        17,
        a[17]["action"] == "get" && node(&a[17], "key") == "/queue"
    );
    check!(a, 17, listed.as_array().map(Vec::len) == Some(2));
    check!(
        a,
        17,
        listed[0]["key"] == queue_keys[0] && listed[0]["value"] == "Job1"
    );
    check!(
        a,
        17,
        listed[1]["key"] == queue_keys[1] && listed[1]["value"] == "Job2"
    );
    // members, stats, health, version
    let members = a[18]["members"].as_array().cloned().unwrap_or_default();
    check!(a, 18, members.len() == 1 && members[0]["name"] == "default");
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    check!(
        a,
        18,
        members[0]["clientURLs"] == serde_json::json!([client_url])
    );
    check!(
        a,
        18,
        members[0]["peerURLs"] == serde_json::json!([peer_url])
    );
    let member_id = members[0]["id"].as_str().unwrap_or("").to_string();
    check!(a, 19, a[19] == members[0]);
    check!(
        a,
        20,
        a[20]["name"] == "default" && a[20]["id"] == member_id.as_str()
    );
    check!(a, 20, a[20]["state"] == "StateLeader");
    check!(a, 20, a[20]["leaderInfo"]["leader"] == member_id.as_str());
    check!(a, 21, a[21]["compareAndSwapSuccess"].as_u64() >= Some(1));
    check!(a, 21, a[21]["createSuccess"].as_u64() >= Some(2));
    check!(a, 21, a[21]["setsFail"].is_u64() && a[21]["watchers"] == 0);
    check!(a, 22, a[22]["leader"] == member_id.as_str());
    check!(a, 22, a[22]["followers"] == serde_json::json!({}));
    check!(a, 23, a[23] == serde_json::json!({"health": "true"}));
    let server = a[24]["etcdserver"].as_str().unwrap_or("");
    check!(
        a,
        24,
        server.starts_with("3.4.") && a[24]["etcdcluster"] == "3.4.0"
    );
    Learned {
        member_id,
        queue_keys,
        last_index: node(&a[17], "modifiedIndex")
            .as_u64()
            .max(node(&a[16], "modifiedIndex").as_u64())
            .unwrap_or(0),
    }
}

/// The concordctl block's output, compared line by line with what etcdctl
/// 3.4 prints for the same commands on the same store (checked against
/// `ETCDCTL_API=2 etcdctl` by hand; `ctl_compat.rs` compares the two
/// programs command by command). Index numbers are checked to be one new
/// write's index.
fn check_ctl(out: &str, learned: &Learned, client: u16, peer: u16) {
    let lines: Vec<&str> = out.lines().collect();
    let index_of = |prefix: &str| -> u64 {
        let line = lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line in the concordctl output:\n{out}"));
        line[prefix.len()..]
            .parse()
            .unwrap_or_else(|_| panic!("bad '{line}' in the concordctl output:\n{out}"))
    };
    let index = index_of("Index: ");
    assert!(
        index > learned.last_index,
        "`set /foo bar` after the walk-through should be a new write (index {index} <= {}):\n{out}",
        learned.last_index
    );
    let expected = [
        "bar".to_string(),
        "Key: /foo".to_string(),
        format!("Created-Index: {index}"),
        format!("Modified-Index: {index}"),
        "TTL: 0".to_string(),
        format!("Index: {index}"),
        String::new(),
        "bar".to_string(),
        "/foo".to_string(),
        "/queue/".to_string(),
        learned.queue_keys[0].clone(),
        learned.queue_keys[1].clone(),
        format!(
            "{}: name=default peerURLs=http://127.0.0.1:{peer} \
             clientURLs=http://127.0.0.1:{client} isLeader=true",
            learned.member_id
        ),
        format!(
            "member {} is healthy: got healthy result from http://127.0.0.1:{client}",
            learned.member_id
        ),
        "cluster is healthy".to_string(),
    ];
    assert_eq!(lines, expected, "the concordctl block's output\n{out}");
}

/// The v3 block: what etcdctl 3.4 prints against etcd 3.4 for the same
/// commands (`v3_etcdctl.rs` compares the two servers command by command),
/// and the v2 store without the v3 key.
fn check_v3(out: &str, learned: &Learned, client: u16, peer: u16) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "the v3 block's output\n{out}");
    let expected = [
        "OK".to_string(),
        "greeting".to_string(),
        "hello".to_string(),
        format!(
            "{}, started, default, http://127.0.0.1:{peer}, http://127.0.0.1:{client}, false",
            learned.member_id
        ),
    ];
    assert_eq!(lines[..4], expected, "the v3 block's output\n{out}");
    let v2: Value = serde_json::from_str(lines[4]).expect("the v2 answer is JSON");
    assert_eq!(
        v2["errorCode"], 100,
        "the v3 key is not in the v2 store\n{out}"
    );
    assert_eq!(v2["cause"], "/greeting", "{out}");
}

/// The backup block: the snapshot saved, its status table, then the v3
/// block's key read back from a new member restored from it (a new
/// cluster, the same revisions).
fn check_restore(out: &str, learned: &Learned) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "the restore block's output\n{out}");
    assert_eq!(lines[0], "Snapshot saved at backup.db", "{out}");
    assert_eq!(
        lines[2], "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |",
        "{out}"
    );
    let row: Vec<&str> = lines[4].split('|').map(str::trim).collect();
    assert_eq!(
        row[2], "2",
        "the snapshot is at the v3 block's revision\n{out}"
    );
    let got: Value = serde_json::from_str(lines[6]).expect("get -w json prints JSON");
    let kv = &got["kvs"][0];
    // "greeting" = "hello", written at revision 2 by the v3 block.
    assert_eq!(kv["key"], "Z3JlZXRpbmc=", "{out}");
    assert_eq!(kv["value"], "aGVsbG8=", "{out}");
    assert_eq!(kv["create_revision"], 2, "{out}");
    assert_eq!(got["header"]["revision"], 2, "{out}");
    assert_ne!(
        got["header"]["member_id"].as_u64(),
        u64::from_str_radix(&learned.member_id, 16).ok(),
        "the restored member is a new one\n{out}"
    );
}

fn check_cluster(a: &[Value], ports: &HashMap<u16, u16>) {
    let url = |p: u16| format!("http://127.0.0.1:{}", ports[&p]);
    assert_eq!(
        a.len(),
        7,
        "the cluster block prints 7 answers (members, PUT, GET, stats, member add, \
         members, GET): {a:#?}"
    );
    let names = member_urls;
    let expected: Vec<(String, Value, Value)> = [(1, 2379, 2380), (2, 2479, 2480), (3, 2579, 2580)]
        .into_iter()
        .map(|(i, c, p)| {
            (
                format!("node{i}"),
                serde_json::json!([url(p)]),
                serde_json::json!([url(c)]),
            )
        })
        .collect();
    check!(a, 0, names(&a[0]) == expected);
    let old_id = a[0]["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "node3"))
        .map(|m| m["id"].clone())
        .unwrap_or(Value::Null);
    check!(
        a,
        1,
        a[1]["action"] == "set" && node(&a[1], "key") == "/hello"
    );
    check!(a, 1, node(&a[1], "value") == "world");
    check!(
        a,
        2,
        a[2]["action"] == "get" && node(&a[2], "value") == "world"
    );
    let leader_stats = a[3]["followers"].as_object().map(|f| f.len()) == Some(2);
    check!(
        a,
        3,
        leader_stats || a[3] == serde_json::json!({"message": "not current leader"})
    );
    // member add: the new ID, no name or client URLs yet
    check!(a, 4, a[4]["peerURLs"] == serde_json::json!([url(2580)]));
    check!(
        a,
        4,
        a[4]["name"] == "" && a[4]["clientURLs"] == serde_json::json!([])
    );
    let new_id = a[4]["id"].clone();
    check!(a, 4, new_id.is_string() && new_id != old_id);
    // the re-added node3 lists three members, itself with the new ID
    check!(a, 5, names(&a[5]) == expected);
    let node3 = a[5]["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "node3"))
        .map(|m| m["id"].clone());
    check!(a, 5, node3 == Some(new_id.clone()));
    check!(
        a,
        6,
        a[6]["action"] == "get" && node(&a[6], "value") == "world"
    );
}

/// The members in a `/v2/members` answer: (name, peer URLs, client URLs),
/// sorted by name.
fn member_urls(v: &Value) -> Vec<(String, Value, Value)> {
    let mut m: Vec<(String, Value, Value)> = v["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or("").to_string(),
                m["peerURLs"].clone(),
                m["clientURLs"].clone(),
            )
        })
        .collect();
    m.sort_by(|x, y| x.0.cmp(&y.0));
    m
}

/// The discovery block: the three members, and their registrations under
/// the token (`<id>` = `name=peerURL`; the token's `_config` is hidden).
fn check_discovery(a: &[Value], ports: &HashMap<u16, u16>) {
    let url = |p: u16| format!("http://127.0.0.1:{}", ports[&p]);
    assert_eq!(
        a.len(),
        2,
        "the discovery block prints 2 answers (members, registrations): {a:#?}"
    );
    let expected: Vec<(String, Value, Value)> =
        [(1, 12379, 12380), (2, 22379, 22380), (3, 32379, 32380)]
            .into_iter()
            .map(|(i, c, p)| {
                (
                    format!("node{i}"),
                    serde_json::json!([url(p)]),
                    serde_json::json!([url(c)]),
                )
            })
            .collect();
    check!(a, 0, member_urls(&a[0]) == expected);
    let ids: HashMap<String, String> = a[0]["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["id"].as_str().unwrap_or("").to_string(),
                m["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let token_key = node(&a[1], "key").as_str().unwrap_or("");
    check!(
        a,
        1,
        a[1]["action"] == "get" && token_key.starts_with("/_etcd/registry/")
    );
    let mut registered: Vec<(String, String)> = node(&a[1], "nodes")
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let key = n["key"].as_str().unwrap_or("");
            let id = key.rsplit('/').next().unwrap_or("");
            (
                ids.get(id)
                    .cloned()
                    .unwrap_or_else(|| format!("unknown id {id}")),
                n["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    registered.sort();
    let expected: Vec<(String, String)> = [(1, 12380), (2, 22380), (3, 32380)]
        .into_iter()
        .map(|(i, p)| (format!("node{i}"), format!("node{i}={}", url(p))))
        .collect();
    check!(a, 1, registered == expected);
}

/// The stateless tiers by the discovery URL: the write through the
/// gateway, then concordctl (which syncs the member list first) reading it.
fn check_tiers(out: &str) {
    let mut values = serde_json::Deserializer::from_str(out).into_iter::<Value>();
    let put = values
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("the tiers block prints the PUT's answer first:\n{out}"));
    let rest = &out[values.byte_offset()..];
    assert!(
        put["action"] == "set" && node(&put, "value") == "discovered",
        "the PUT through the gateway: {put}"
    );
    assert_eq!(
        rest.trim(),
        "discovered",
        "concordctl through the gateway, after syncing:\n{out}"
    );
}

/// The split block: split-local's own lines, the three curls' answers
/// (one JSON per line), concordctl's `split`.
fn check_split(out: &str, ports: &HashMap<u16, u16>) {
    let (json, text): (Vec<&str>, Vec<&str>) = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .partition(|l| l.starts_with('{'));
    let a: Vec<Value> = json
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{out}")))
        .collect();
    assert_eq!(a.len(), 3, "the split block prints 3 answers:\n{out}");
    check!(
        a,
        0,
        a[0]["action"] == "set" && node(&a[0], "value") == "split"
    );
    check!(
        a,
        1,
        a[1]["action"] == "get" && node(&a[1], "value") == "split"
    );
    let gateways = serde_json::json!([
        format!("http://127.0.0.1:{}", ports[&2679]),
        format!("http://127.0.0.1:{}", ports[&2779]),
    ]);
    let members = member_urls(&a[2]);
    check!(a, 2, members.len() == 3);
    check!(
        a,
        2,
        members.iter().all(|(_, _, client)| *client == gateways)
    );
    assert!(
        text.contains(&"split"),
        "concordctl without --no-sync through a gateway prints the value:\n{out}"
    );
    assert!(
        text.contains(&"split-local: stopped"),
        "split-local stops everything it started:\n{out}"
    );
}

/// Fails if `pasted` left the shell unfit for the next block: a process
/// still running, a file behind, an `ETCD*`/`CONCORD*` variable exported.
fn check_clean(shell: &Shell, name: &str, pasted: &Pasted, cwd: &Path, before: &[String]) {
    assert_eq!(
        pasted.status,
        0,
        "README block '{name}' ended with status {}\n{}",
        pasted.status,
        shell.run.report(cwd)
    );
    assert!(
        pasted.exported.is_empty(),
        "README block '{name}' leaves `{}` exported in the shell (it would change what the \
         next blocks do)",
        pasted.exported
    );
    let left = shell.leftover_processes();
    assert!(
        left.is_empty(),
        "README block '{name}' leaves processes running:\n{}\n{}",
        left.join("\n"),
        shell.run.report(cwd)
    );
    let now: Vec<String> = git_status(cwd)
        .into_iter()
        .filter(|l| !l.starts_with("!! default.etcd/"))
        .collect();
    assert_eq!(
        now,
        before,
        "README block '{name}' leaves files behind or changed (git status --porcelain \
         --ignored; only the quick start's default.etcd/ may stay)\n{}",
        shell.run.report(cwd)
    );
}

#[test]
fn readme_blocks_work_when_pasted_in_order() {
    let readme = std::fs::read_to_string(readme_path()).expect("README.md");
    let blocks = runnable_blocks(&readme);
    let roles: Vec<Role> = blocks.iter().map(|b| b.role).collect();
    assert_eq!(
        roles,
        [
            Role::QuickStart,
            Role::WalkThrough,
            Role::Ctl,
            Role::V3,
            Role::Restore,
            Role::Cluster,
            Role::Discovery,
            Role::DiscoveryTiers,
            Role::Split,
        ],
        "the README's runnable sh blocks, in order (the walk-through and concordctl \
         need the quick-start server, the others need it stopped)"
    );

    let bin_dir = concord_tests::concord_bin()
        .parent()
        .expect("bin dir")
        .to_path_buf();
    for b in [
        "concordctl",
        "concord-discovery",
        "concord-consensus",
        "concord-watch",
        "concord-gateway",
    ] {
        assert!(
            bin_dir.join(b).exists(),
            "{b} not built next to concord (cargo build --release --workspace)"
        );
    }
    let ports: HashMap<u16, u16> = README_PORTS
        .iter()
        .map(|&p| (p, concord_tests::free_port()))
        .collect();
    let (client, peer) = (ports[&2379], ports[&2380]);
    let home = tempfile::tempdir().expect("tempdir");
    let scripts = tempfile::tempdir().expect("tempdir");
    let cwd = home.path();
    make_checkout(cwd, &ports, &bin_dir);
    let before = git_status(cwd);

    // Quick start: the server, in a terminal of its own.
    let quick = &blocks[0];
    let text = quick.text.trim_end();
    assert!(
        text.starts_with(BUILD_PREFIX) && !text.contains('\n'),
        "README.md:{}: the quick start is `{BUILD_PREFIX}<start the server>` on one line: {text}",
        quick.line
    );
    let script = rewrite_ports(&text[BUILD_PREFIX.len()..], &ports) + "\n";
    let defaults = [
        (
            "ETCD_LISTEN_CLIENT_URLS",
            format!("http://127.0.0.1:{client}"),
        ),
        (
            "ETCD_ADVERTISE_CLIENT_URLS",
            format!("http://127.0.0.1:{client}"),
        ),
        ("ETCD_LISTEN_PEER_URLS", format!("http://127.0.0.1:{peer}")),
        (
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
            format!("http://127.0.0.1:{peer}"),
        ),
        (
            "ETCD_INITIAL_CLUSTER",
            format!("default=http://127.0.0.1:{peer}"),
        ),
    ];
    let mut server = Run::start("quick-start", Some(&script), cwd, scripts.path(), &defaults);
    wait_healthy(&mut server, client, cwd);
    assert!(
        cwd.join("default.etcd").is_dir(),
        "the quick-start server keeps its data in ./default.etcd"
    );

    // Every other block, pasted in order into a second terminal (each
    // role is there once: the order was checked above).
    let mut shell = Shell::start(cwd, scripts.path());
    let paste = |shell: &mut Shell, role: Role| -> Pasted {
        let b = blocks
            .iter()
            .find(|b| b.role == role)
            .expect("checked above");
        let name = format!("{:?}", b.role);
        let pasted = shell.paste(
            &name,
            &rewrite_ports(&b.text, &ports),
            b.role.deadline(),
            cwd,
        );
        check_clean(shell, &name, &pasted, cwd, &before);
        pasted
    };

    let pasted = paste(&mut shell, Role::WalkThrough);
    let answers = json_values(&pasted.out, &shell.run, cwd);
    let learned = check_walk_through(&answers, client, peer);

    let pasted = paste(&mut shell, Role::Ctl);
    check_ctl(&pasted.out, &learned, client, peer);

    let pasted = paste(&mut shell, Role::V3);
    check_v3(&pasted.out, &learned, client, peer);

    let pasted = paste(&mut shell, Role::Restore);
    check_restore(&pasted.out, &learned);

    // "First stop the quick-start server (Ctrl-C in its terminal)".
    server.kill(libc_sig::INT);
    let status = server.finish(STOP, cwd);
    assert!(
        !server.group_alive() || wait_group_gone(&server),
        "the quick-start server still runs after Ctrl-C ({status})\n{}",
        server.report(cwd)
    );
    drop(server);

    let pasted = paste(&mut shell, Role::Cluster);
    check_cluster(&json_values(&pasted.out, &shell.run, cwd), &ports);

    let pasted = paste(&mut shell, Role::Discovery);
    check_discovery(&json_values(&pasted.out, &shell.run, cwd), &ports);

    let pasted = paste(&mut shell, Role::DiscoveryTiers);
    check_tiers(&pasted.out);

    let pasted = paste(&mut shell, Role::Split);
    check_split(&pasted.out, &ports);
}

/// Polls until no process of `run`'s group is left (orphans are reaped by
/// init shortly after they exit).
fn wait_group_gone(run: &Run) -> bool {
    let deadline = Instant::now() + STOP;
    while Instant::now() < deadline {
        if !run.group_alive() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn ports_are_rewritten_as_whole_numbers_only() {
    let ports: HashMap<u16, u16> = [(2379, 31001), (2380, 31002)].into_iter().collect();
    assert_eq!(
        rewrite_ports(
            "curl http://127.0.0.1:2379/x; for c in 2379 23790 12379; do :; done 2>>$1.log -p 2380",
            &ports
        ),
        "curl http://127.0.0.1:31001/x; for c in 31001 23790 12379; do :; done 2>>$1.log -p 31002"
    );
}

#[test]
fn skip_marker_and_other_fences_are_not_run() {
    let readme = "## Quick start\n\n```sh\ncargo build --release --workspace && x\n```\n\n\
                  <!-- readme-test: skip (tests) -->\n```sh\ncargo test\n```\n\n\
                  ## Recovering\n\n```text\nnot run\n```\n";
    let blocks = runnable_blocks(readme);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(blocks[0].role, Role::QuickStart);
    assert_eq!(blocks[0].line, 3);
    assert_eq!(blocks[0].text, "cargo build --release --workspace && x\n");
}
