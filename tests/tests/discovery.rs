//! Bootstrap by discovery token (etcd's v2 discovery protocol) with real
//! processes on 127.0.0.1, both ways with real etcd 3.4:
//!
//! - 3 concord members through `concord-discovery` (IDs registered as
//!   etcd computes them; a restarted member does not register again; a 4th
//!   member is turned away with etcd's "discovery: cluster is full" under
//!   `--discovery-fallback exit`, and serves as a v2 proxy by default);
//! - 3 concord members through a single `concord` as the discovery backend;
//! - 3 etcd 3.4 members through `concord-discovery`;
//! - 3 concord members through an etcd 3.4 backend;
//! - `concord-discovery` killed -9 after 2 of 3 registrations and
//!   restarted: nothing lost, the bootstrap completes.
//!
//! The etcd cases are skipped, with a message, where `etcd` is not on
//! PATH. Every wait is a poll with a generous deadline; every child is
//! killed when its guard drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use concord_tests::{concord_bin, free_port, http, which, Response, Server, READY_TIMEOUT};
use serde_json::Value;

/// One discovery test at a time: each runs 4-5 servers on 2 cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A child process killed (-9) when dropped, with its log file.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    client_port: u16,
}

impl Proc {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit on its own.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Polls `path` until it answers 200, failing if the process exits.
    fn wait_ok(&mut self, path: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}:\n{}", self.name, self.log_text());
            }
            if let Ok(r) = http(self.client_port, "GET", path, None, b"") {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{} not ready after {READY_TIMEOUT:?}:\n{}",
            self.name,
            self.log_text()
        );
    }

    /// Polls the log until it holds `text`.
    fn wait_log(&mut self, text: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.log_text().contains(text) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before logging {text:?}:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} never logged {text:?}:\n{}", self.name, self.log_text());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A running `concord-discovery`.
struct Discovery {
    proc: Proc,
    data_dir: PathBuf,
}

impl Discovery {
    fn start(dir: &Path) -> Discovery {
        Self::start_on(dir, free_port(), &dir.join("discovery.data"))
    }

    fn start_on(dir: &Path, port: u16, data_dir: &Path) -> Discovery {
        Self::start_with(dir, port, data_dir, &[])
    }

    fn start_with(dir: &Path, port: u16, data_dir: &Path, extra: &[&str]) -> Discovery {
        let bin = concord_bin().with_file_name("concord-discovery");
        let log = dir.join(format!("discovery-{}.log", free_port()));
        let child = Command::new(&bin)
            .args(["--listen-url", &format!("http://127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut proc = Proc {
            name: "concord-discovery".into(),
            child,
            log,
            client_port: port,
        };
        proc.wait_ok("/health");
        Discovery {
            proc,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// `GET /new?size=N`: a fresh discovery URL.
    fn new_token(&self, size: usize) -> String {
        let r = http(
            self.proc.client_port,
            "GET",
            &format!("/new?size={size}"),
            None,
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let url = r.text();
        assert!(
            url.starts_with(&format!(
                "http://127.0.0.1:{}/v2/keys/_etcd/registry/",
                self.proc.client_port
            )),
            "{url}"
        );
        url
    }
}

/// The path part of a discovery URL (`/v2/keys/_etcd/registry/<token>`).
fn token_path(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    rest[rest.find('/').unwrap()..].to_string()
}

/// The registrations under a token: member ID (key) -> value.
fn registrations(port: u16, url: &str) -> Vec<(String, String)> {
    let r = http(
        port,
        "GET",
        &format!("{}?recursive=true&sorted=true", token_path(url)),
        None,
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    v["node"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|n| !n["key"].as_str().unwrap().ends_with("/_config"))
        .map(|n| {
            let key = n["key"].as_str().unwrap();
            (
                key.rsplit('/').next().unwrap().to_string(),
                n["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Starts a member (`bin`: concord or etcd) with `--discovery url`.
fn member(bin: &Path, dir: &Path, name: &str, url: &str, extra: &[&str]) -> Proc {
    member_on(bin, dir, name, url, free_port(), free_port(), extra)
}

fn member_on(
    bin: &Path,
    dir: &Path,
    name: &str,
    url: &str,
    client_port: u16,
    peer_port: u16,
    extra: &[&str],
) -> Proc {
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let log = dir.join(format!("{name}-{}.log", free_port()));
    let child = Command::new(bin)
        .args(["--name", name])
        .arg("--data-dir")
        .arg(dir.join(format!("{name}.etcd")))
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--discovery", url])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    Proc {
        name: name.to_string(),
        child,
        log,
        client_port,
    }
}

fn members_of(port: u16) -> Vec<Value> {
    let r = http(port, "GET", "/v2/members", None, b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["members"].as_array().cloned().unwrap_or_default()
}

/// Waits until every member is healthy, then checks that they form one
/// cluster of exactly these members (by name), whose IDs are the ones
/// registered under the token.
fn check_cluster(members: &mut [Proc], registered: &[(String, String)]) {
    for m in members.iter_mut() {
        m.wait_ok("/health");
    }
    let mut names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    names.sort();
    for m in members.iter() {
        let listed = members_of(m.client_port);
        let mut got: Vec<String> = listed
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        assert_eq!(got, names, "members seen by {}", m.name);
        let mut ids: Vec<&str> = listed.iter().map(|x| x["id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        let mut want: Vec<&str> = registered.iter().map(|(id, _)| id.as_str()).collect();
        want.sort_unstable();
        assert_eq!(ids, want, "member IDs are the registered IDs");
    }
    // One cluster: a write through one member reads back through another.
    let first = members[0].client_port;
    let last = members[members.len() - 1].client_port;
    let put = concord_tests::http(
        first,
        "PUT",
        "/v2/keys/discovered",
        Some("application/x-www-form-urlencoded"),
        b"value=yes",
    )
    .unwrap();
    assert!(put.status == 201 || put.status == 200, "{}", put.text());
    let index = put.header("x-etcd-index").unwrap().to_string();
    let got = wait_answer(
        last,
        &format!("/v2/keys/discovered?wait=true&waitIndex={index}"),
    );
    assert_eq!(got.json()["node"]["value"], "yes");
}

/// A GET that may have to wait (a watch from an index already reached
/// answers at once).
fn wait_answer(port: u16, path: &str) -> Response {
    let r = http(port, "GET", path, None, b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

fn etcd_or_skip(test: &str) -> Option<PathBuf> {
    let etcd = which("etcd");
    if etcd.is_none() {
        eprintln!("{test}: skipped: etcd 3.4 is not installed (apt-get install etcd-server)");
    }
    etcd
}

#[test]
fn concord_members_bootstrap_through_concord_discovery() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let disc = Discovery::start(dir.path());
    let url = disc.new_token(3);
    let bin = concord_bin();
    let mut ms: Vec<Proc> = ["d1", "d2", "d3"]
        .iter()
        .map(|n| member(&bin, dir.path(), n, &url, &[]))
        .collect();
    for m in &mut ms {
        m.wait_ok("/health");
    }
    let regs = registrations(disc.proc.client_port, &url);
    assert_eq!(regs.len(), 3, "{regs:?}");
    check_cluster(&mut ms, &regs);
    for m in &ms {
        let log = m.log_text();
        assert!(log.contains("discovery: found 3 needed peer(s)"), "{log}");
    }

    // A 4th member is beyond the size: turned away with etcd's words...
    let mut late = member(
        &bin,
        dir.path(),
        "d4",
        &url,
        &["--discovery-fallback", "exit"],
    );
    let status = late
        .wait_exit(READY_TIMEOUT)
        .expect("a member beyond size exits");
    assert_eq!(status.code(), Some(1));
    let log = late.log_text();
    assert!(
        log.contains("failed to join discovery cluster (discovery: cluster is full)"),
        "{log}"
    );
    assert!(
        log.contains("was used, but failed to bootstrap the cluster."),
        "{log}"
    );
    assert_eq!(registrations(disc.proc.client_port, &url).len(), 3);

    // ... or, by default, serves the v2 API as a proxy to the cluster.
    let mut proxy = member(&bin, dir.path(), "d5", &url, &[]);
    proxy.wait_ok("/health");
    proxy.wait_log("discovery cluster full, falling back to proxy");
    let put = http(
        proxy.client_port,
        "PUT",
        "/v2/keys/via-proxy",
        Some("application/x-www-form-urlencoded"),
        b"value=proxied",
    )
    .unwrap();
    assert_eq!(put.status, 201, "{}", put.text());
    let index = put.header("x-etcd-index").unwrap().to_string();
    let got = wait_answer(
        ms[1].client_port,
        &format!("/v2/keys/via-proxy?wait=true&waitIndex={index}"),
    );
    assert_eq!(got.json()["node"]["value"], "proxied");
    assert_eq!(members_of(proxy.client_port).len(), 3);
    let cfg = http(
        proxy.client_port,
        "GET",
        "/v2/config/local/proxy",
        None,
        b"",
    )
    .unwrap();
    assert_eq!(
        cfg.json()["endpoints"].as_array().unwrap().len(),
        3,
        "{}",
        cfg.text()
    );
    assert_eq!(registrations(disc.proc.client_port, &url).len(), 3);

    // A member restarted on its data dir does not register again.
    let port = ms[0].client_port;
    let peer = members_of(port).iter().find(|m| m["name"] == "d1").unwrap()["peerURLs"][0]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    ms[0].kill9();
    let mut again = member_on(&bin, dir.path(), "d1", &url, port, peer, &[]);
    again.wait_ok("/health");
    again.wait_log("discovery token ignored since a cluster has already been initialized");
    assert_eq!(registrations(disc.proc.client_port, &url).len(), 3);
}

/// Sets `token`'s size to 3 on `backend` (any v2 keys API), bootstraps
/// three concord members named `names` through it, and checks the
/// cluster they form against the registrations.
fn three_concords_through_backend(backend: &Server, dir: &Path, token: &str, names: [&str; 3]) {
    let put = backend.form(
        "PUT",
        &format!("/v2/keys/_etcd/registry/{token}/_config/size"),
        "value=3",
    );
    assert_eq!(put.status, 201, "{}", put.text());
    let url = format!(
        "http://127.0.0.1:{}/v2/keys/_etcd/registry/{token}",
        backend.client_port
    );
    let bin = concord_bin();
    let mut ms: Vec<Proc> = names
        .iter()
        .map(|n| member(&bin, dir, n, &url, &[]))
        .collect();
    for m in &mut ms {
        m.wait_ok("/health");
    }
    let regs = registrations(backend.client_port, &url);
    assert_eq!(regs.len(), 3, "{regs:?}");
    check_cluster(&mut ms, &regs);
}

#[test]
fn concord_members_bootstrap_through_a_single_concord() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let backend = Server::concord("backend", &dir.path().join("backend.etcd"));
    three_concords_through_backend(&backend, dir.path(), "tok1", ["c1", "c2", "c3"]);
}

#[test]
fn etcd_members_bootstrap_through_concord_discovery() {
    let Some(etcd) = etcd_or_skip("etcd_members_bootstrap_through_concord_discovery") else {
        return;
    };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let disc = Discovery::start(dir.path());
    let url = disc.new_token(3);
    let mut ms: Vec<Proc> = ["e1", "e2", "e3"]
        .iter()
        .map(|n| member(&etcd, dir.path(), n, &url, &["--enable-v2=true"]))
        .collect();
    for m in &mut ms {
        m.wait_ok("/health");
    }
    let regs = registrations(disc.proc.client_port, &url);
    assert_eq!(regs.len(), 3, "{regs:?}");
    check_cluster(&mut ms, &regs);
    for m in &ms {
        assert!(
            m.log_text().contains("found 3 needed peer(s)"),
            "{}",
            m.log_text()
        );
    }
    // A 4th etcd finds the token full, as concord-discovery answers it.
    let mut late = member(
        &etcd,
        dir.path(),
        "e4",
        &url,
        &["--enable-v2=true", "--discovery-fallback", "exit"],
    );
    let status = late
        .wait_exit(READY_TIMEOUT)
        .expect("etcd beyond size exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        late.log_text()
            .contains("failed to join discovery cluster (discovery: cluster is full)"),
        "{}",
        late.log_text()
    );
}

#[test]
fn concord_members_bootstrap_through_an_etcd_backend() {
    let Some(_) = etcd_or_skip("concord_members_bootstrap_through_an_etcd_backend") else {
        return;
    };
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let backend = Server::etcd("backend", &dir.path().join("backend.etcd")).unwrap();
    three_concords_through_backend(&backend, dir.path(), "tok2", ["x1", "x2", "x3"]);
}

#[test]
fn discovery_killed_mid_bootstrap_loses_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = dir.path().join("discovery.data");
    let mut disc = Discovery::start_on(dir.path(), port, &data);
    let url = disc.new_token(3);
    let bin = concord_bin();
    let mut ms = vec![
        member(&bin, dir.path(), "k1", &url, &[]),
        member(&bin, dir.path(), "k2", &url, &[]),
    ];
    // Both registered and waiting for the third.
    for m in &mut ms {
        m.wait_log("waiting for 1 more");
    }
    let before = registrations(port, &url);
    assert_eq!(before.len(), 2, "{before:?}");
    disc.proc.kill9();
    let disc = Discovery::start_on(dir.path(), port, &disc.data_dir);
    assert_eq!(
        registrations(port, &url),
        before,
        "registrations survive kill -9"
    );
    ms.push(member(&bin, dir.path(), "k3", &url, &[]));
    for m in &mut ms {
        m.wait_ok("/health");
    }
    let regs = registrations(disc.proc.client_port, &url);
    assert_eq!(regs.len(), 3, "{regs:?}");
    check_cluster(&mut ms, &regs);
}

/// The `_cluster` view the leader publishes under the token, once it
/// satisfies `want`.
fn wait_view(port: u16, url: &str, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let path = format!("{}/_cluster", token_path(url));
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(r) = http(port, "GET", &path, None, b"") {
            if r.status == 200 {
                let text = r.json()["node"]["value"].as_str().unwrap_or("").to_string();
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    if want(&v) {
                        return v;
                    }
                }
                last = text;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the member registry never showed {what}; last: {last}");
}

fn view_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_leader_publishes_the_member_registry() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let disc = Discovery::start(dir.path());
    let port = disc.proc.client_port;
    let url = disc.new_token(3);
    let bin = concord_bin();
    let mut ms: Vec<Proc> = ["g1", "g2", "g3"]
        .iter()
        .map(|n| member(&bin, dir.path(), n, &url, &[]))
        .collect();
    for m in &mut ms {
        m.wait_ok("/health");
    }
    let leader = wait_answer(ms[0].client_port, "/v2/members/leader").json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = wait_view(port, &url, "3 members and the leader", |v| {
        v["members"].as_array().unwrap().len() == 3 && v["leader"] == leader.as_str()
    });
    assert_eq!(v["healthy"], true);
    let three = view_ids(&v);
    let listed = members_of(ms[0].client_port);
    let mut ids: Vec<String> = listed
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(three, ids);
    for m in v["members"].as_array().unwrap() {
        assert_eq!(m["clientURLs"].as_array().unwrap().len(), 1, "{m}");
    }

    // A member added (not started) shows up; removed, it goes.
    let body = format!("{{\"peerURLs\":[\"http://127.0.0.1:{}\"]}}", free_port());
    let deadline = Instant::now() + READY_TIMEOUT;
    let added = loop {
        let r = http(
            ms[0].client_port,
            "POST",
            "/v2/members",
            Some("application/json"),
            body.as_bytes(),
        )
        .unwrap();
        if r.status == 201 {
            break r.json()["id"].as_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "member add refused: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    wait_view(port, &url, "the added member", |v| {
        view_ids(v).contains(&added)
    });
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let r = http(
            ms[0].client_port,
            "DELETE",
            &format!("/v2/members/{added}"),
            None,
            b"",
        )
        .unwrap();
        if r.status == 204 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "member remove refused: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_view(port, &url, "the member removed", |v| view_ids(v) == three);

    // The leader killed: the next leader publishes itself.
    let i = ms
        .iter()
        .position(|m| {
            members_of(m.client_port)
                .iter()
                .any(|x| x["id"] == leader.as_str() && x["name"] == m.name.as_str())
        })
        .unwrap();
    ms[i].kill9();
    let v = wait_view(port, &url, "a new leader", |v| {
        v["leader"] != leader.as_str() && !v["leader"].as_str().unwrap_or("").is_empty()
    });
    assert!(three.contains(&v["leader"].as_str().unwrap().to_string()));
}

/// Starts a helper binary (`concord-watch`, `concord-gateway`) whose
/// client port is `port`.
fn service(dir: &Path, name: &str, program: &str, port: u16, args: &[String]) -> Proc {
    let bin = concord_bin().with_file_name(program);
    let log = dir.join(format!("{name}-{}.log", free_port()));
    let child = Command::new(&bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    Proc {
        name: name.to_string(),
        child,
        log,
        client_port: port,
    }
}

#[test]
fn a_gateway_given_only_the_discovery_url_follows_member_changes() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let disc = Discovery::start(dir.path());
    let url = disc.new_token(3);
    let consensus = concord_bin().with_file_name("concord-consensus");
    let peers: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let clients: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut ms: Vec<Proc> = (0..3)
        .map(|i| {
            member_on(
                &consensus,
                dir.path(),
                &format!("s{}", i + 1),
                &url,
                clients[i],
                peers[i],
                &[],
            )
        })
        .collect();
    wait_view(disc.proc.client_port, &url, "3 members", |v| {
        v["members"].as_array().unwrap().len() == 3
            && v["members"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| !m["clientURLs"].as_array().unwrap().is_empty())
    });
    // concord-consensus serves no v2 API: beyond the size it exits even
    // under the default fallback (proxy).
    let mut late = member(&consensus, dir.path(), "s9", &url, &[]);
    let status = late.wait_exit(READY_TIMEOUT).expect("exits");
    assert_eq!(status.code(), Some(1));
    let log = late.log_text();
    assert!(
        log.contains("failed to join discovery cluster (discovery: cluster is full)")
            && log.contains("concord-consensus cannot fall back to a v2 proxy"),
        "{log}"
    );
    // The watch service too knows only the discovery URL (and announces
    // itself there for the gateway).
    let watch_port = free_port();
    let mut watch = service(
        dir.path(),
        "w1",
        "concord-watch",
        watch_port,
        &[
            "--listen-url".into(),
            format!("http://127.0.0.1:{watch_port}"),
            "--discovery".into(),
            url.clone(),
        ],
    );
    let gport = free_port();
    let mut gw = service(
        dir.path(),
        "g1",
        "concord-gateway",
        gport,
        &[
            "--name".into(),
            "g1".into(),
            "--listen-client-urls".into(),
            format!("http://127.0.0.1:{gport}"),
            "--discovery".into(),
            url.clone(),
        ],
    );
    gw.wait_ok("/health");
    gw.wait_log("attached to cluster");
    // No --watch-endpoints: the replica announced itself under the token.
    gw.wait_log(&format!(
        "watch replicas [\"http://127.0.0.1:{watch_port}\"]"
    ));
    let put = http(
        gport,
        "PUT",
        "/v2/keys/through-registry",
        Some("application/x-www-form-urlencoded"),
        b"value=1",
    )
    .unwrap();
    assert_eq!(put.status, 201, "{}", put.text());

    // A member added and started: the gateway's endpoints follow.
    let body = format!("{{\"peerURLs\":[\"http://127.0.0.1:{}\"]}}", peers[3]);
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let r = http(
            gport,
            "POST",
            "/v2/members",
            Some("application/json"),
            body.as_bytes(),
        )
        .unwrap();
        if r.status == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "member add refused: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let cluster = (0..4)
        .map(|i| format!("s{}=http://127.0.0.1:{}", i + 1, peers[i]))
        .collect::<Vec<_>>()
        .join(",");
    let client4 = format!("http://127.0.0.1:{}", clients[3]);
    let peer4 = format!("http://127.0.0.1:{}", peers[3]);
    let log4 = dir.path().join("s4.log");
    let s4 = Command::new(&consensus)
        .args(["--name", "s4"])
        .arg("--data-dir")
        .arg(dir.path().join("s4.etcd"))
        .args([
            "--listen-client-urls",
            &client4,
            "--advertise-client-urls",
            &client4,
        ])
        .args([
            "--listen-peer-urls",
            &peer4,
            "--initial-advertise-peer-urls",
            &peer4,
        ])
        .args([
            "--initial-cluster",
            &cluster,
            "--initial-cluster-state",
            "existing",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log4).unwrap())
        .spawn()
        .unwrap();
    ms.push(Proc {
        name: "s4".into(),
        child: s4,
        log: log4,
        client_port: clients[3],
    });
    gw.wait_log("consensus endpoints now");
    gw.wait_log(&client4);
    watch.wait_log("consensus members now");

    // A member removed: it leaves the gateway's endpoints.
    let id1 = members_of(gport)
        .iter()
        .find(|m| m["name"] == "s1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let r = http(gport, "DELETE", &format!("/v2/members/{id1}"), None, b"").unwrap();
        if r.status == 204 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "member remove refused: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let client1 = format!("http://127.0.0.1:{}", clients[0]);
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let last = gw
            .log_text()
            .lines()
            .rfind(|l| l.contains("consensus endpoints now"))
            .map(String::from)
            .unwrap_or_default();
        let watch_last = watch
            .log_text()
            .lines()
            .rfind(|l| l.contains("consensus members now"))
            .map(String::from)
            .unwrap_or_default();
        let followed = |l: &str| l.contains(&client4) && !l.contains(&client1);
        if followed(&last) && followed(&watch_last) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway or the watch service did not follow the removal:\n{}\n{}",
            gw.log_text(),
            watch.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let put = http(
        gport,
        "PUT",
        "/v2/keys/through-registry",
        Some("application/x-www-form-urlencoded"),
        b"value=2",
    )
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    // A second replica announces itself; the first stops (SIGTERM: it
    // withdraws): the gateway's watches go to the second.
    let watch2_port = free_port();
    let mut watch2 = service(
        dir.path(),
        "w2",
        "concord-watch",
        watch2_port,
        &[
            "--name".into(),
            "w2".into(),
            "--listen-url".into(),
            format!("http://127.0.0.1:{watch2_port}"),
            "--discovery".into(),
            url.clone(),
        ],
    );
    watch2.wait_log("announced this replica");
    gw.wait_log(&format!(
        "watch replicas now [\"http://127.0.0.1:{watch_port}\", \"http://127.0.0.1:{watch2_port}\"]"
    ));
    let term = Command::new("kill")
        .args(["-TERM", &watch.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    gw.wait_log(&format!(
        "watch replicas now [\"http://127.0.0.1:{watch2_port}\"]"
    ));
    // The second replica started after the write above: the next write.
    let put = http(
        gport,
        "PUT",
        "/v2/keys/through-registry",
        Some("application/x-www-form-urlencoded"),
        b"value=2",
    )
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    // The watch service has that write: a watch from its index through the
    // gateway gets it.
    let index = serde_json::from_str::<Value>(&put.text()).unwrap()["node"]["modifiedIndex"]
        .as_u64()
        .unwrap();
    let woke = http(
        gport,
        "GET",
        &format!("/v2/keys/through-registry?wait=true&waitIndex={index}"),
        None,
        b"",
    )
    .unwrap();
    assert_eq!(woke.status, 200, "{}", woke.text());
    assert!(woke.text().contains(r#""value":"2""#), "{}", woke.text());
}

#[test]
fn tokens_expire_after_the_token_ttl() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut disc = Discovery::start_with(
        dir.path(),
        port,
        &dir.path().join("discovery.data"),
        &["--token-ttl", "2s"],
    );
    let url = disc.new_token(3);
    let size = format!("{}/_config/size", token_path(&url));
    assert_eq!(http(port, "GET", &size, None, b"").unwrap().status, 200);
    disc.proc.wait_log("expired");
    let r = http(port, "GET", &size, None, b"").unwrap();
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["errorCode"], 100);
}
