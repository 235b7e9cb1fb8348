//! # Cluster: real multi-member clusters of concord or etcd 3.4
//!
//! Owns the harness for the cluster tests (`tests/tests/cluster.rs`): it
//! starts N members of one binary on free 127.0.0.1 ports, each with its own
//! data dir and log file, forms them with etcd's flags, and then plays the
//! faults the tests need: kill -9, SIGSTOP/SIGCONT, restart on the same data
//! dir and ports, wiping a data dir, joining with
//! `--initial-cluster-state existing`. Every wait is a poll with a generous
//! deadline ([`READY_TIMEOUT`]); nothing synchronises on a fixed sleep.
//!
//! The same code drives `concord` and etcd 3.4 (`etcd --enable-v2=true`),
//! so each test can be checked against the reference first:
//! `CLUSTER_BIN=etcd` selects etcd for [`Flavor::from_env`]; `CONCORD_BIN`
//! names the concord binary (see [`crate::concord_bin`]). `CLUSTER_KEEP=1`
//! keeps the data dirs and logs of every cluster for a post-mortem.
//!
//! Cluster tests run one at a time (a process-wide lock held by each
//! [`Cluster`]): five members of a slow binary per test, several tests at
//! once, would starve a 2-core machine into spurious elections.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{concord_bin, form_encode, free_port, parse_response, which, Response, READY_TIMEOUT};

/// One client request gets this long; a write without an answer by then was
/// not acknowledged.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Requests made while polling get this long, so that a stopped member
/// delays a poll round by at most this.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause between two rounds of a poll.
const POLL: Duration = Duration::from_millis(100);

/// Held by every live [`Cluster`]: one cluster at a time per test binary.
static SERIAL: Mutex<()> = Mutex::new(());

/// Makes `--initial-cluster-token` unique per cluster within this process.
static TOKENS: AtomicU64 = AtomicU64::new(0);

/// Which server binary a cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Concord,
    /// etcd 3.4 from PATH, with `--enable-v2=true`.
    Etcd,
}

impl Flavor {
    /// `CLUSTER_BIN=etcd` selects etcd; unset or `concord`: concord.
    pub fn from_env() -> Flavor {
        match std::env::var("CLUSTER_BIN").as_deref() {
            Err(_) | Ok("") | Ok("concord") => Flavor::Concord,
            Ok("etcd") => Flavor::Etcd,
            Ok(other) => panic!("CLUSTER_BIN={other}: expected `concord` or `etcd`"),
        }
    }

    /// The binary, or `None` when etcd is wanted but not installed.
    pub fn bin(self) -> Option<PathBuf> {
        match self {
            Flavor::Concord => Some(concord_bin()),
            Flavor::Etcd => which("etcd"),
        }
    }
}

/// Flags shared by every member of a cluster.
#[derive(Clone, Debug)]
pub struct Options {
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    /// More flags for every member, e.g. `--snapshot-count 50`.
    pub extra: Vec<String>,
    /// Run member `i` with group id `gid_base + i` (needs root), so that
    /// iptables' owner match can tell its connections apart from the other
    /// members' on the shared loopback. `None`: the test's own group.
    pub gid_base: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            heartbeat_ms: 100,
            election_ms: 1000,
            extra: Vec::new(),
            gid_base: None,
        }
    }
}

impl Options {
    /// Adds flags for every member.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Member `i` runs with group id `base + i` (see [`Options::gid_base`]).
    pub fn member_gids(mut self, base: u32) -> Self {
        self.gid_base = Some(base);
        self
    }
}

/// One member: its identity on disk and on the network, and its process.
pub struct Member {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub data_dir: PathBuf,
    /// stdout and stderr of the current process; each start gets a new file,
    /// so a test can tell what one particular start said.
    pub log: PathBuf,
    /// `--initial-cluster-state` of the next start.
    pub initial_state: String,
    /// `--initial-cluster` of the next start.
    pub initial_cluster: String,
    child: Option<Child>,
    stopped: bool,
    starts: u32,
}

impl Member {
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// A process was started and has not exited (it may be stopped).
    pub fn is_alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The process id of the current process, if one was started.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Alive and not SIGSTOPped: it can answer requests.
    pub fn is_serving(&mut self) -> bool {
        !self.stopped && self.is_alive()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("no process").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid} failed");
    }
}

/// N members of one binary, killed (all of them) when dropped.
pub struct Cluster {
    pub flavor: Flavor,
    pub members: Vec<Member>,
    bin: PathBuf,
    options: Options,
    token: String,
    dir: Option<tempfile::TempDir>,
    // Last: released only after Drop has killed the members.
    _serial: MutexGuard<'static, ()>,
}

impl Cluster {
    /// Starts `n` members with default options and waits for a leader.
    /// `None` when the flavor is etcd and etcd is not installed.
    pub fn start(flavor: Flavor, n: usize) -> Option<Cluster> {
        Self::start_with(flavor, n, Options::default())
    }

    /// Starts `n` members (`--initial-cluster-state new`, a token unique to
    /// this cluster) and waits until all are healthy and a leader is known.
    pub fn start_with(flavor: Flavor, n: usize, options: Options) -> Option<Cluster> {
        let Some(bin) = flavor.bin() else {
            eprintln!("skipped: etcd is not installed");
            return None;
        };
        // A panicking test poisons the lock; the next one may still run.
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::Builder::new()
            .prefix("concord-cluster-")
            .tempdir()
            .expect("tempdir");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let token = format!(
            "test-{}-{}-{nanos}",
            std::process::id(),
            TOKENS.fetch_add(1, Ordering::Relaxed)
        );
        let ports: Vec<u16> = (0..2 * n).map(|_| free_port()).collect();
        let mut members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("m{}", i + 1),
                client_port: ports[2 * i],
                peer_port: ports[2 * i + 1],
                data_dir: dir.path().join(format!("m{}.data", i + 1)),
                log: PathBuf::new(),
                initial_state: "new".into(),
                initial_cluster: String::new(),
                child: None,
                stopped: false,
                starts: 0,
            })
            .collect();
        let initial = initial_cluster_of(&members);
        for m in &mut members {
            m.initial_cluster = initial.clone();
        }
        let mut c = Cluster {
            flavor,
            members,
            bin,
            options,
            token,
            dir: Some(dir),
            _serial: serial,
        };
        // All first, then wait: no member is healthy before a quorum is up.
        for i in 0..n {
            c.spawn(i);
        }
        c.wait_ready();
        Some(c)
    }

    /// The temp dir holding every data dir and log.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    /// `name=peerURL,...` of every member in `members`.
    pub fn initial_cluster(&self) -> String {
        initial_cluster_of(&self.members)
    }

    /// Starts member `i`'s process with its current flags; does not wait.
    pub fn spawn(&mut self, i: usize) {
        let log_dir = self.dir().to_path_buf();
        let m = &mut self.members[i];
        assert!(!m.is_alive(), "{} is still running", m.name);
        m.starts += 1;
        m.log = log_dir.join(format!("{}.{}.log", m.name, m.starts));
        let log = fs::File::create(&m.log).expect("log file");
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &m.client_url()])
            .args(["--advertise-client-urls", &m.client_url()])
            .args(["--listen-peer-urls", &m.peer_url()])
            .args(["--initial-advertise-peer-urls", &m.peer_url()])
            .args(["--initial-cluster", &m.initial_cluster])
            .args(["--initial-cluster-state", &m.initial_state])
            .args(["--initial-cluster-token", &self.token])
            .args([
                "--heartbeat-interval",
                &self.options.heartbeat_ms.to_string(),
            ])
            .args(["--election-timeout", &self.options.election_ms.to_string()])
            .args(&self.options.extra);
        if self.flavor == Flavor::Etcd {
            cmd.arg("--enable-v2=true");
        }
        if let Some(base) = self.options.gid_base {
            use std::os::unix::process::CommandExt;
            cmd.gid(base + i as u32);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        m.child = Some(child);
        m.stopped = false;
    }

    /// Waits until member `i` answers `/health` with 200.
    pub fn wait_member_ready(&mut self, i: usize) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let exited = match &mut self.members[i].child {
                Some(c) => c.try_wait().ok().flatten(),
                None => panic!("{} was never started", self.members[i].name),
            };
            let name = &self.members[i].name;
            if let Some(status) = exited {
                panic!(
                    "{name} exited with {status} while starting:\n{}",
                    self.log_text(i)
                );
            }
            let port = self.members[i].client_port;
            let r = request(port, "GET", "/health", None, b"", PROBE_TIMEOUT);
            if r.is_ok_and(|r| r.status == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} not healthy after {READY_TIMEOUT:?}:\n{}",
                self.log_text(i)
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until every serving member is healthy and they agree on a leader.
    pub fn wait_ready(&mut self) {
        for i in self.serving() {
            self.wait_member_ready(i);
        }
        self.leader();
    }

    /// Indices of the members that are alive and not stopped.
    pub fn serving(&mut self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].is_serving())
            .collect()
    }

    /// `/v2/stats/self` of member `i` (short timeout: used while polling).
    pub fn stats_self(&self, i: usize) -> io::Result<Value> {
        let r = request(
            self.members[i].client_port,
            "GET",
            "/v2/stats/self",
            None,
            b"",
            PROBE_TIMEOUT,
        )?;
        if r.status != 200 {
            return Err(io::Error::other(format!("stats/self: {}", r.status)));
        }
        serde_json::from_slice(&r.body).map_err(io::Error::other)
    }

    /// The member id (hex, as `/v2/members` shows it) of member `i`.
    pub fn member_id(&self, i: usize) -> String {
        let s = self
            .stats_self(i)
            .unwrap_or_else(|e| panic!("stats/self of {}: {e}", self.members[i].name));
        s["id"].as_str().expect("stats/self id").to_string()
    }

    /// One look: the serving member that every serving member's
    /// `/v2/stats/self` agrees is the leader (exactly one says
    /// `StateLeader`, and all name it in `leaderInfo.leader`).
    pub fn try_leader(&mut self) -> Option<usize> {
        let serving = self.serving();
        let mut stats = Vec::new();
        for &i in &serving {
            stats.push((i, self.stats_self(i).ok()?));
        }
        let leaders: Vec<&(usize, Value)> = stats
            .iter()
            .filter(|(_, s)| s["state"] == "StateLeader")
            .collect();
        let [(leader, leader_stats)] = leaders[..] else {
            return None;
        };
        let id = &leader_stats["id"];
        stats
            .iter()
            .all(|(_, s)| &s["leaderInfo"]["leader"] == id)
            .then_some(*leader)
    }

    /// Polls until the serving members agree on a leader; its index.
    pub fn leader(&mut self) -> usize {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(l) = self.try_leader() {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader after {READY_TIMEOUT:?}:\n{}",
                self.all_log_tails(30)
            );
            std::thread::sleep(POLL);
        }
    }

    /// Serving members other than the leader.
    pub fn followers(&mut self, leader: usize) -> Vec<usize> {
        self.serving()
            .into_iter()
            .filter(|&i| i != leader)
            .collect()
    }

    /// Polls member `i`'s `GET /v2/members` until it lists `n` members, all
    /// with a name and client URLs (a member publishes them through raft
    /// once started, so another member may apply that a moment later); the
    /// list.
    pub fn wait_members(&self, i: usize, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let body = self.get(i, "/v2/members").json();
            let list = body["members"].as_array().cloned().unwrap_or_default();
            let published = |m: &Value| {
                m["name"].as_str().is_some_and(|s| !s.is_empty())
                    && m["clientURLs"].as_array().is_some_and(|u| !u.is_empty())
            };
            if list.len() == n && list.iter().all(published) {
                return list;
            }
            assert!(
                Instant::now() < deadline,
                "{} does not list {n} published members after {READY_TIMEOUT:?}: {body}",
                self.members[i].name
            );
            std::thread::sleep(POLL);
        }
    }

    /// kill -9 member `i` and reap it.
    pub fn kill9(&mut self, i: usize) {
        let m = &mut self.members[i];
        if let Some(c) = &mut m.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        m.stopped = false;
    }

    /// kill -9 every member that is running (stopped ones too) at once, then
    /// reaps them all.
    pub fn kill9_all(&mut self) {
        for m in &mut self.members {
            if let Some(c) = &mut m.child {
                let _ = c.kill();
            }
        }
        for m in &mut self.members {
            if let Some(c) = &mut m.child {
                let _ = c.wait();
            }
            m.stopped = false;
        }
    }

    /// The options every member was started with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// SIGSTOP member `i`: it holds its sockets but answers nothing.
    pub fn stop(&mut self, i: usize) {
        self.members[i].signal("-STOP");
        self.members[i].stopped = true;
    }

    /// SIGCONT member `i`.
    pub fn cont(&mut self, i: usize) {
        self.members[i].signal("-CONT");
        self.members[i].stopped = false;
    }

    /// Starts member `i` again with its flags (same data dir and ports) and
    /// waits until it is healthy.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_member_ready(i);
    }

    /// Polls until member `i`'s process exits on its own; `None` if it is
    /// still running after `timeout`.
    pub fn wait_exit(&mut self, i: usize, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.members[i].child.as_mut().expect("no process");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Removes member `i`'s data dir (its process must be gone).
    pub fn wipe_data_dir(&mut self, i: usize) {
        let m = &mut self.members[i];
        assert!(!m.is_alive(), "{} is still running", m.name);
        if m.data_dir.exists() {
            fs::remove_dir_all(&m.data_dir).expect("remove data dir");
        }
    }

    /// Starts member `i` as a new member of the running cluster
    /// (`--initial-cluster-state existing` with `initial_cluster`) on its
    /// ports and data dir, and waits until it is healthy. The member must
    /// have been added with `POST /v2/members` first.
    pub fn join(&mut self, i: usize, initial_cluster: &str) {
        let m = &mut self.members[i];
        m.initial_state = "existing".into();
        m.initial_cluster = initial_cluster.to_string();
        self.restart(i);
    }

    /// What member `i`'s current (or last) process wrote.
    pub fn log_text(&self, i: usize) -> String {
        fs::read_to_string(&self.members[i].log).unwrap_or_default()
    }

    /// The last `n` lines of every member's current log, for failure messages.
    pub fn all_log_tails(&self, n: usize) -> String {
        let mut out = String::new();
        for (i, m) in self.members.iter().enumerate() {
            let text = self.log_text(i);
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {} ({}) ---\n", m.name, m.log.display()));
            for l in &lines[lines.len().saturating_sub(n)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// One request to member `i` ([`REQUEST_TIMEOUT`]).
    pub fn request(
        &self,
        i: usize,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> io::Result<Response> {
        let port = self.members[i].client_port;
        request(port, method, path, content_type, body, REQUEST_TIMEOUT)
    }

    /// GET `path` on member `i`; panics if it does not answer.
    pub fn get(&self, i: usize, path: &str) -> Response {
        self.request(i, "GET", path, None, b"")
            .unwrap_or_else(|e| panic!("GET {path} on {}: {e}", self.members[i].name))
    }

    /// One attempt: `PUT /v2/keys/<key>` with `value` on member `i`.
    pub fn put(&self, i: usize, key: &str, value: &str) -> io::Result<Response> {
        let body = format!("value={}", form_encode(value));
        self.request(
            i,
            "PUT",
            &format!("/v2/keys/{key}"),
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
    }

    /// Writes `key` until a member acknowledges it (200/201), starting with
    /// member `first` and moving on to the next serving member after an
    /// error; the member that acknowledged. Panics after [`READY_TIMEOUT`].
    pub fn put_acked(&mut self, first: usize, key: &str, value: &str) -> usize {
        let n = self.members.len();
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::new();
        let mut i = first % n;
        loop {
            if self.members[i].is_serving() {
                match self.put(i, key, value) {
                    Ok(r) if r.status == 200 || r.status == 201 => return i,
                    Ok(r) => last = format!("{}: {} {}", self.members[i].name, r.status, r.text()),
                    Err(e) => last = format!("{}: {e}", self.members[i].name),
                }
            }
            assert!(
                Instant::now() < deadline,
                "write {key} not acknowledged after {READY_TIMEOUT:?}; last: {last}\n{}",
                self.all_log_tails(30)
            );
            i = (i + 1) % n;
            // A pause after each round over the members, not after each try.
            if i == first % n {
                std::thread::sleep(POLL);
            }
        }
    }

    /// The value of `key` read on member `i` (`quorum`: `?quorum=true`, a
    /// linearizable read; otherwise the member's local state); `None` for 404.
    pub fn read(&self, i: usize, key: &str, quorum: bool) -> io::Result<Option<String>> {
        let q = if quorum { "?quorum=true" } else { "" };
        let r = self.request(i, "GET", &format!("/v2/keys/{key}{q}"), None, b"")?;
        match r.status {
            200 => Ok(r.json()["node"]["value"].as_str().map(str::to_string)),
            404 => Ok(None),
            s => Err(io::Error::other(format!("GET {key}: {s} {}", r.text()))),
        }
    }

    /// Polls member `i`'s local read of `key` until it is `value`.
    pub fn wait_value(&self, i: usize, key: &str, value: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let got = self.read(i, key, false);
            if matches!(&got, Ok(Some(v)) if v == value) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{key} on {} is {got:?}, not {value:?}, after {READY_TIMEOUT:?}:\n{}",
                self.members[i].name,
                self.all_log_tails(30)
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Say what the members said before the evidence is deleted.
        if std::thread::panicking() {
            eprintln!("cluster logs at failure:\n{}", self.all_log_tails(40));
        }
        for m in &mut self.members {
            if let Some(c) = &mut m.child {
                if m.stopped && matches!(c.try_wait(), Ok(None)) {
                    let _ = Command::new("kill")
                        .args(["-CONT", &c.id().to_string()])
                        .status();
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if std::env::var_os("CLUSTER_KEEP").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("cluster kept in {}", dir.keep().display());
            }
        }
    }
}

fn initial_cluster_of(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why [`request_sent`] got no answer.
#[derive(Debug)]
pub enum SendError {
    /// Connecting failed (refused, or timed out): nothing was sent.
    NotSent(io::Error),
    /// The connection failed or timed out after the request may have been
    /// sent: its outcome is unknown.
    Lost(io::Error),
}

/// [`request`], telling a request that never left (the connection was
/// refused or not accepted in time) from one whose outcome is unknown.
pub fn request_sent(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, SendError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(SendError::NotSent)?;
    let lost = SendError::Lost;
    s.set_read_timeout(Some(timeout)).map_err(lost)?;
    s.set_write_timeout(Some(timeout)).map_err(lost)?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(std::str::from_utf8(body).unwrap_or(""));
    // One write: request line, headers and (text) body together.
    s.write_all(req.as_bytes()).map_err(lost)?;
    if std::str::from_utf8(body).is_err() {
        s.write_all(body).map_err(lost)?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(lost)?;
    parse_response(&raw, method == "HEAD").map_err(lost)
}

/// One HTTP/1.1 request (`Connection: close`) with a deadline for connecting,
/// sending and each read, so that a stopped server yields an error instead
/// of a hang.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("Content-Type", ct))
        .into_iter()
        .collect();
    request_with_headers(port, method, path, &headers, body, timeout)
}

/// [`request`] with any request headers (`Authorization`, `Content-Type`).
pub fn request_with_headers(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
}
