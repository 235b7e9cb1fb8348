//! # The containers, end to end: `compose.yaml` and the three-host layout
//!
//! Runs the images of `docker/build-images` (built here first when one is
//! missing) with Docker Compose v2, as the README tells a user to:
//!
//! - `compose_cluster`: the split deployment of `compose.yaml` (3
//!   `concord-consensus` members, `concord-watch`, `concord-gateway`s behind
//!   the haproxy front), its front published on a free 127.0.0.1 port
//!   (`CONCORD_FRONT_ADDR`) under a project name of its own. `etcdctl member
//!   list` inside node1 shows 3 members; put and get through the front;
//!   `ETCDCTL_API=3 etcdctl put foo bar` and `get foo` inside node1 (v3,
//!   through the front, as etcd's walkthrough), and etcdctl 3.4 through the
//!   front from the host; the
//!   leader is removed with `etcdctl member remove` and another is elected;
//!   the removed member, started again on its old volume, exits with etcd's
//!   "permanently removed"; after `etcdctl member add` and `docker volume
//!   rm` it rejoins as a new member and has the data; 3 gateways serve the
//!   same key, v2 and v3; the front answers every request while a gateway is killed
//!   and while the gateways are scaled back to 1; node3 is killed and writes
//!   through the front go on; `docker compose down -v` leaves no container,
//!   network or volume.
//! - `discovery_profile`: compose.yaml's `discovery` profile (its env
//!   file): node1..node3 bootstrap by the token concord-discovery makes at
//!   start-up (their logs say so), serve through the front, and node4 joins
//!   by `member add` and start; `down -v` leaves nothing.
//! - `nats_profile`: the `nats` profile: the leader publishes to the
//!   nats-server container, the watch service follows the bus, and a watch
//!   through the front is woken by a write.
//! - `compose_faults`: the fault suite (`concord_tests::faults`) through
//!   the front of compose.yaml with 2 gateways: the leader's container
//!   killed, paused, disconnected from the network, every member killed,
//!   a gateway and the watch replica killed; before it, 20 writes right
//!   after a leader kill must all be answered. Then the same on etcd 3.4
//!   in containers behind the same front, for the figures beside.
//! - `three_hosts`: `deploy/three-hosts/` with each "host" on its own
//!   loopback address (127.0.0.2-4, host networking): the members bootstrap
//!   by those addresses alone and serve.
//!
//! Without a Docker engine (`docker info`) or Compose v2 (`docker compose
//! version`) each test prints why it is SKIPPED and passes. Every wait is a
//! poll with a generous deadline; each project is taken down (`down -v`)
//! when its guard drops, also when the test fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concord_tests::cluster::request;
use concord_tests::faults::{run_faults, Cut, Deployment};
use concord_tests::{form_encode, free_port, Response};

/// The images `compose.yaml` and the three-host layout use.
const IMAGES: [&str; 7] = [
    "concord",
    "consensus",
    "gateway",
    "watch",
    "front",
    "discovery",
    "nats",
];
/// Building the static binaries and the images from scratch (2 cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// One docker command (`up` waits for the members' health).
const DOCKER_TIMEOUT: Duration = Duration::from_secs(300);
/// A cluster becoming healthy, a leader elected, a member catching up.
const READY: Duration = Duration::from_secs(180);

/// The repository (compose.yaml, docker/, deploy/).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// Runs a command to its end (killed after `timeout`), capturing both
/// outputs.
fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Why containers cannot run here (no engine, no Compose v2), if so.
fn docker_missing() -> Option<String> {
    let ok = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(&["info"]) {
        return Some("no Docker engine answers `docker info`".into());
    }
    if !ok(&["compose", "version"]) {
        return Some("`docker compose version` fails (Compose v2 missing)".into());
    }
    None
}

/// Builds the images with docker/build-images unless all are present
/// (`.ci/run` builds them before the tests). One build per test process.
fn ensure_images() {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if *built {
        return;
    }
    let missing: Vec<&str> = IMAGES
        .iter()
        .copied()
        .filter(|i| {
            !Command::new("docker")
                .args(["image", "inspect", &format!("concord/{i}:latest")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("compose: images missing ({missing:?}): running docker/build-images");
        let start = Instant::now();
        let out = run(
            Command::new(root().join("docker/build-images")).current_dir(root()),
            BUILD_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "docker/build-images failed:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        eprintln!("compose: images built in {:?}", start.elapsed());
    }
    *built = true;
}

/// A unique prefix for this test process's compose projects.
fn project_prefix() -> String {
    format!("concordtest{}", std::process::id())
}

/// One compose project: its name, files and variables. `down -v` when
/// dropped.
struct Project {
    name: String,
    file: PathBuf,
    env_file: Option<PathBuf>,
    vars: Mutex<Vec<(String, String)>>,
}

impl Project {
    fn new(name: String, file: PathBuf, env_file: Option<PathBuf>) -> Project {
        Project {
            name,
            file,
            env_file,
            vars: Mutex::new(Vec::new()),
        }
    }

    /// Sets a variable for every later compose command.
    fn set_var(&self, k: &str, v: &str) {
        let mut vars = self.vars.lock().unwrap();
        vars.retain(|(key, _)| key != k);
        vars.push((k.to_string(), v.to_string()));
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.current_dir(root())
            .arg("compose")
            .arg("-p")
            .arg(&self.name);
        c.arg("-f").arg(&self.file);
        if let Some(e) = &self.env_file {
            c.arg("--env-file").arg(e);
        }
        c.args(args);
        for (k, v) in self.vars.lock().unwrap().iter() {
            c.env(k, v);
        }
        c
    }

    /// `docker compose ARGS`, whatever its outcome.
    fn try_compose(&self, args: &[&str]) -> Output {
        run(&mut self.command(args), DOCKER_TIMEOUT)
    }

    /// `docker compose ARGS`, which must succeed; its stdout.
    fn compose(&self, args: &[&str]) -> String {
        let out = self.try_compose(args);
        assert!(
            out.status.success(),
            "docker compose {args:?} failed:\n{}\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr),
            self.logs()
        );
        text(&out.stdout)
    }

    /// `etcdctl ARGS` inside a service's container: (exit ok, stdout+stderr).
    fn etcdctl(&self, service: &str, args: &[&str]) -> (bool, String) {
        let mut full = vec!["exec", "-T", service, "etcdctl"];
        full.extend_from_slice(args);
        let out = self.try_compose(&full);
        (out.status.success(), text(&out.stdout) + &text(&out.stderr))
    }

    /// `ETCDCTL_API=3 etcdctl ARGS` inside a service's container (the
    /// images say `ETCDCTL_API=2`, as etcd 3.3's behaved).
    fn etcdctl_v3(&self, service: &str, args: &[&str]) -> (bool, String) {
        let mut full = vec!["exec", "-T", "-e", "ETCDCTL_API=3", service, "etcdctl"];
        full.extend_from_slice(args);
        let out = self.try_compose(&full);
        (out.status.success(), text(&out.stdout) + &text(&out.stderr))
    }

    /// The tail of every service's log, for failure messages.
    fn logs(&self) -> String {
        let out = self.try_compose(&["logs", "--no-color", "--tail", "40"]);
        format!("--- logs of {} ---\n{}", self.name, text(&out.stdout))
    }

    /// The IDs of a service's containers (running or not).
    fn containers(&self, service: &str) -> Vec<String> {
        self.compose(&["ps", "-a", "-q", service])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// What is left of this project in the engine: containers, networks,
    /// volumes (by compose's project label).
    fn leftovers(&self) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let mut left = Vec::new();
        for (kind, args) in [
            ("container", vec!["ps", "-a", "-q", "--filter", &label]),
            ("network", vec!["network", "ls", "-q", "--filter", &label]),
            ("volume", vec!["volume", "ls", "-q", "--filter", &label]),
        ] {
            let out = run(Command::new("docker").args(&args), DOCKER_TIMEOUT);
            left.extend(
                text(&out.stdout)
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| format!("{kind} {l}")),
            );
        }
        left
    }

    /// `docker compose down -v`: nothing may be left behind.
    fn down(&self) {
        self.down_with(&[]);
    }

    /// `docker compose OPTIONS down -v` (OPTIONS: more profiles, for
    /// services started by name from a profile that is off).
    fn down_with(&self, options: &[&str]) {
        let mut args = options.to_vec();
        args.extend(["down", "-v", "--remove-orphans", "--timeout", "10"]);
        self.compose(&args);
        let left = self.leftovers();
        assert!(
            left.is_empty(),
            "docker compose down -v left {left:?} behind"
        );
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let out = self.try_compose(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
        if !out.status.success() {
            eprintln!(
                "compose: cleaning up {} failed: {}",
                self.name,
                text(&out.stderr)
            );
        }
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` (and `context`)
/// after `timeout`.
fn wait_for<T>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<Response> {
    let ct = (!body.is_empty()).then_some("application/x-www-form-urlencoded");
    request(
        port,
        method,
        path,
        ct,
        body.as_bytes(),
        Duration::from_secs(10),
    )
}

fn put(port: u16, key: &str, value: &str) -> std::io::Result<Response> {
    http(
        port,
        "PUT",
        &format!("/v2/keys/{key}"),
        &format!("value={}", form_encode(value)),
    )
}

/// The value of a key read through `port`, if it answers 200.
fn get_value(port: u16, key: &str) -> Option<String> {
    let r = http(port, "GET", &format!("/v2/keys/{key}"), "").ok()?;
    if r.status != 200 {
        return None;
    }
    r.json()["node"]["value"].as_str().map(String::from)
}

/// One line of `etcdctl member list`:
/// `<id>: name=<n> peerURLs=<u> clientURLs=<u> isLeader=<b>`.
#[derive(Debug, Clone)]
struct MemberLine {
    id: String,
    name: String,
    leader: bool,
}

fn parse_members(out: &str) -> Vec<MemberLine> {
    out.lines()
        .filter_map(|l| {
            let (id, rest) = l.split_once(": ")?;
            let field = |k: &str| {
                rest.split_whitespace()
                    .find_map(|f| f.strip_prefix(&format!("{k}=")).map(String::from))
            };
            Some(MemberLine {
                id: id.trim().to_string(),
                name: field("name")?,
                leader: field("isLeader")? == "true",
            })
        })
        .collect()
}

/// `etcdctl member list` in `service` until `ok` holds for its members.
fn wait_members(
    p: &Project,
    service: &str,
    what: &str,
    ok: impl Fn(&[MemberLine]) -> bool,
) -> Vec<MemberLine> {
    wait_for(
        what,
        READY,
        || p.logs(),
        || {
            let (success, out) = p.etcdctl(service, &["member", "list"]);
            let members = parse_members(&out);
            (success && ok(&members)).then_some(members)
        },
    )
}

/// A reader that GETs a key through the front as fast as it answers,
/// counting answers and remembering each failure.
struct Reader {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    /// Failures are stamped with the time since `t0` (the steps' clock).
    fn start(port: u16, key: &str, value: &str, t0: Instant) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let (s, o, f) = (stop.clone(), ok.clone(), failures.clone());
        let (key, value) = (key.to_string(), value.to_string());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match http(port, "GET", &format!("/v2/keys/{key}"), "") {
                    Ok(r) if r.status == 200 && r.json()["node"]["value"] == value.as_str() => {
                        o.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => f.lock().unwrap().push(format!(
                        "[{:.1?}] status {}: {}",
                        t0.elapsed(),
                        r.status,
                        r.text()
                    )),
                    Err(e) => f
                        .lock()
                        .unwrap()
                        .push(format!("[{:.1?}] {e}", t0.elapsed())),
                }
            }
        });
        Reader {
            stop,
            ok,
            failures,
            handle: Some(handle),
        }
    }

    fn answered(&self) -> usize {
        self.ok.load(Ordering::Relaxed)
    }

    /// Waits until `n` more requests have been answered.
    fn wait_more(&self, n: usize) {
        let target = self.answered() + n;
        wait_for(
            &format!("{n} more answers through the front"),
            READY,
            || format!("failures: {:?}", self.failures.lock().unwrap()),
            || (self.answered() >= target).then_some(()),
        );
    }

    /// Stops the reader: (answers, failures).
    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let failures = self.failures.lock().unwrap().clone();
        (self.answered(), failures)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The running containers of a service that docker reports healthy.
fn healthy(p: &Project, service: &str) -> usize {
    p.containers(service)
        .iter()
        .filter(|id| {
            let out = run(
                Command::new("docker").args([
                    "inspect",
                    "-f",
                    "{{.State.Running}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                    id,
                ]),
                DOCKER_TIMEOUT,
            );
            text(&out.stdout).trim() == "true healthy"
        })
        .count()
}

#[test]
fn compose_cluster() {
    if let Some(why) = docker_missing() {
        eprintln!("compose_cluster: SKIPPED: {why}; the container tests need a Docker engine and Compose v2 (.ci/run sets them up)");
        return;
    }
    ensure_images();
    let started = Instant::now();
    let p = Project::new(
        format!("{}split", project_prefix()),
        root().join("compose.yaml"),
        None,
    );
    let front = free_port();
    p.set_var("CONCORD_FRONT_ADDR", &format!("127.0.0.1:{front}"));
    p.set_var("CONCORD_CLUSTER_TOKEN", &p.name);
    let step = |what: &str| eprintln!("compose [{:>5.1?}] {what}", started.elapsed());

    step("docker compose up -d");
    p.compose(&["up", "-d"]);
    wait_for(
        "the front's /health",
        READY,
        || p.logs(),
        || {
            http(front, "GET", "/health", "")
                .ok()
                .filter(|r| r.status == 200)
        },
    );

    step("etcdctl member list inside node1");
    let members = wait_members(&p, "node1", "3 members, one leader", |m| {
        m.len() == 3 && m.iter().filter(|x| x.leader).count() == 1
    });
    let mut names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["node1", "node2", "node3"], "{members:?}");

    step("put and get through the front");
    let r = put(front, "compose", "hello containers").unwrap();
    assert!(r.status == 200 || r.status == 201, "{}", r.text());
    assert_eq!(
        get_value(front, "compose").as_deref(),
        Some("hello containers")
    );

    step("the walkthrough's v3 commands inside node1, and etcdctl 3.4 through the front");
    assert_eq!(
        p.etcdctl_v3("node1", &["put", "foo", "bar"]),
        (true, "OK\n".to_string())
    );
    assert_eq!(
        p.etcdctl_v3("node1", &["get", "foo"]),
        (true, "foo\nbar\n".to_string())
    );
    // The v2 keyspace is another: the v3 put is not at /v2/keys/foo.
    assert_eq!(get_value(front, "foo"), None);
    if let Some(etcdctl) = concord_tests::which("etcdctl") {
        let out = run(
            Command::new(&etcdctl)
                .env("ETCDCTL_API", "3")
                .env_remove("ETCDCTL_ENDPOINTS")
                .args(["--endpoints", &format!("127.0.0.1:{front}"), "get", "foo"]),
            DOCKER_TIMEOUT,
        );
        assert_eq!(
            (text(&out.stdout), out.status.success()),
            ("foo\nbar\n".to_string(), true),
            "etcdctl 3.4 through the front: {}",
            text(&out.stderr)
        );
    }

    step("the leader removed with etcdctl member remove");
    let leader = members.iter().find(|m| m.leader).unwrap().clone();
    let other = members.iter().find(|m| !m.leader).unwrap().name.clone();
    // Refused (etcd's strict reconfig check) until every member has been
    // connected for 5 s: retried.
    wait_for(
        "etcdctl member remove of the leader",
        READY,
        || p.logs(),
        || {
            let (ok, out) = p.etcdctl(&other, &["member", "remove", &leader.id]);
            (ok && out.contains("Removed member")).then_some(())
        },
    );
    let gone = &leader.name;
    let container = p
        .containers(gone)
        .pop()
        .expect("the removed member's container");
    wait_for(
        "the removed member's container to exit",
        READY,
        || p.logs(),
        || {
            let out = run(
                Command::new("docker").args(["inspect", "-f", "{{.State.Running}}", &container]),
                DOCKER_TIMEOUT,
            );
            (text(&out.stdout).trim() == "false").then_some(())
        },
    );
    let members = wait_members(&p, &other, "2 members and a new leader", |m| {
        m.len() == 2 && m.iter().any(|x| x.leader) && m.iter().all(|x| &x.name != gone)
    });
    let new_leader = members.iter().find(|m| m.leader).unwrap();
    assert_ne!(&new_leader.name, gone);
    wait_for(
        "a write through the front after the leader left",
        READY,
        || p.logs(),
        || {
            put(front, "after-remove", "still here")
                .ok()
                .filter(|r| r.status == 200 || r.status == 201)
        },
    );

    step("the removed member restarted on its old volume");
    let count = |s: &str| s.matches("permanently removed").count();
    let before = count(&p.compose(&["logs", "--no-color", gone]));
    p.compose(&["start", gone]);
    // It stops again, saying why (etcd 3.4 too logs it and stops, exit
    // code 0).
    wait_for(
        "the removed member to stop again with \"permanently removed\"",
        READY,
        || p.logs(),
        || {
            let out = run(
                Command::new("docker").args(["inspect", "-f", "{{.State.Running}}", &container]),
                DOCKER_TIMEOUT,
            );
            let after = count(&p.compose(&["logs", "--no-color", gone]));
            (text(&out.stdout).trim() == "false" && after > before).then_some(())
        },
    );

    step("member add, docker volume rm, start: it rejoins");
    let peer_url = format!("http://{gone}:2380");
    wait_for(
        "etcdctl member add",
        READY,
        || p.logs(),
        || {
            let (ok, out) = p.etcdctl(&other, &["member", "add", gone, &peer_url]);
            (ok && out.contains("Added member")).then_some(())
        },
    );
    p.compose(&["rm", "-f", "-s", gone]);
    let volume = format!("{}_{gone}-data", p.name);
    let out = run(
        Command::new("docker").args(["volume", "rm", &volume]),
        DOCKER_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "docker volume rm: {}",
        text(&out.stderr)
    );
    p.set_var(&format!("{}_STATE", gone.to_uppercase()), "existing");
    p.compose(&["up", "-d", gone]);
    wait_members(&p, &other, "the re-added member started", |m| {
        m.len() == 3 && m.iter().any(|x| &x.name == gone) && m.iter().any(|x| x.leader)
    });
    // A gateway attached to the re-added member alone reads from its store:
    // the data arrived there.
    let probe_gw = format!("{}-probe-gateway", p.name);
    p.compose(&[
        "run",
        "-d",
        "--no-deps",
        "--name",
        &probe_gw,
        "-e",
        &format!("CONCORD_CONSENSUS_ENDPOINTS=http://{gone}:2379"),
        "gateway",
    ]);
    let on_member = wait_for(
        "the key on the re-added member",
        READY,
        || p.logs(),
        || {
            let out = run(
                Command::new("docker").args([
                    "exec",
                    &probe_gw,
                    "etcdctl",
                    "--no-sync",
                    "get",
                    "compose",
                ]),
                DOCKER_TIMEOUT,
            );
            out.status.success().then(|| text(&out.stdout))
        },
    );
    assert_eq!(on_member.trim(), "hello containers");
    run(
        Command::new("docker").args(["rm", "-f", &probe_gw]),
        DOCKER_TIMEOUT,
    );

    step("docker compose up -d --scale gateway=3");
    p.compose(&["up", "-d", "--scale", "gateway=3"]);
    wait_for(
        "3 healthy gateways",
        READY,
        || p.logs(),
        || (healthy(&p, "gateway") == 3).then_some(()),
    );
    let gateways = p.containers("gateway");
    assert_eq!(gateways.len(), 3);
    for g in &gateways {
        let out = run(
            Command::new("docker").args(["exec", g, "etcdctl", "--no-sync", "get", "compose"]),
            DOCKER_TIMEOUT,
        );
        assert_eq!(
            text(&out.stdout).trim(),
            "hello containers",
            "gateway {g}: {}",
            text(&out.stderr)
        );
    }
    // And the v3 keyspace through each gateway's own client URL (the
    // image's ETCDCTL_ENDPOINTS).
    for g in &gateways {
        let out = run(
            Command::new("docker").args([
                "exec",
                "-e",
                "ETCDCTL_API=3",
                g,
                "etcdctl",
                "get",
                "foo",
                "--print-value-only",
            ]),
            DOCKER_TIMEOUT,
        );
        assert_eq!(
            text(&out.stdout),
            "bar\n",
            "v3 get through gateway {g}: {}",
            text(&out.stderr)
        );
    }

    step("the front answers while a gateway is killed");
    let reader = Reader::start(front, "compose", "hello containers", started);
    reader.wait_more(20);
    let out = run(
        Command::new("docker").args(["kill", &gateways[1]]),
        DOCKER_TIMEOUT,
    );
    assert!(out.status.success(), "docker kill: {}", text(&out.stderr));
    // Reads go on for a while after the kill (an observation window, not
    // a wait for anything): long enough for the front's health checks
    // (every second, down after three failures) and Docker's DNS to drop the
    // killed replica. Every answer meanwhile must be right.
    let killed_at = Instant::now();
    while killed_at.elapsed() < Duration::from_secs(5) {
        reader.wait_more(20);
    }

    step("docker compose up -d --scale gateway=1");
    p.compose(&["up", "-d", "--scale", "gateway=1"]);
    reader.wait_more(300);
    let (answered, failures) = reader.finish();
    assert!(
        failures.is_empty(),
        "the front failed {} of {} requests while a gateway was killed and the gateways scaled down: {:?}",
        failures.len(),
        answered + failures.len(),
        &failures[..failures.len().min(10)]
    );
    eprintln!("compose: {answered} reads through the front, none failed");
    wait_for(
        "1 gateway",
        READY,
        || p.logs(),
        || (p.containers("gateway").len() == 1).then_some(()),
    );

    step("node3 killed; writes through the front go on");
    p.compose(&["kill", "node3"]);
    for i in 0..20 {
        let key = format!("after-kill-{i}");
        let value = format!("v{i}");
        wait_for(
            &format!("write {i} through the front without node3"),
            READY,
            || p.logs(),
            || {
                put(front, &key, &value)
                    .ok()
                    .filter(|r| r.status == 200 || r.status == 201)
            },
        );
        assert_eq!(get_value(front, &key).as_deref(), Some(value.as_str()));
    }

    step("docker compose down -v");
    p.down();
    step("done");
}

/// Brings up compose.yaml with one of its profiles' env files, the front on
/// a free port; returns the project and the port.
fn profile_project(suffix: &str, env_file: &str) -> (Project, u16) {
    let p = Project::new(
        format!("{}{suffix}", project_prefix()),
        root().join("compose.yaml"),
        Some(root().join(env_file)),
    );
    let front = free_port();
    p.set_var("CONCORD_FRONT_ADDR", &format!("127.0.0.1:{front}"));
    p.compose(&["up", "-d"]);
    wait_for(
        "the front's /health",
        READY,
        || p.logs(),
        || {
            http(front, "GET", "/health", "")
                .ok()
                .filter(|r| r.status == 200)
        },
    );
    (p, front)
}

#[test]
fn discovery_profile() {
    if let Some(why) = docker_missing() {
        eprintln!("discovery_profile: SKIPPED: {why}; the container tests need a Docker engine and Compose v2 (.ci/run sets them up)");
        return;
    }
    ensure_images();
    let (p, front) = profile_project("disc", "config/compose/discovery.env");
    let members = wait_members(&p, "node1", "3 members, one leader", |m| {
        m.len() == 3 && m.iter().filter(|x| x.leader).count() == 1
    });
    let mut names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["node1", "node2", "node3"], "{members:?}");
    // By the token, not by --initial-cluster.
    let log = p.compose(&["logs", "--no-color", "node1"]);
    assert!(
        log.contains("discovery: found 3 needed peer(s)"),
        "node1 did not bootstrap by discovery:\n{log}"
    );
    let r = put(front, "by-token", "yes").unwrap();
    assert!(r.status == 200 || r.status == 201, "{}", r.text());

    // A fourth member: member add, then start.
    wait_for(
        "etcdctl member add node4",
        READY,
        || p.logs(),
        || {
            let (ok, out) = p.etcdctl("node1", &["member", "add", "node4", "http://node4:2380"]);
            (ok && out.contains("Added member named node4")).then_some(())
        },
    );
    p.compose(&["up", "-d", "node4"]);
    wait_members(&p, "node1", "node4 started as a fourth member", |m| {
        m.len() == 4 && m.iter().any(|x| x.name == "node4")
    });
    wait_for(
        "the data on node4",
        READY,
        || p.logs(),
        || {
            let (ok, out) = p.etcdctl("node4", &["get", "/by-token"]);
            (ok && out.trim() == "yes").then_some(())
        },
    );
    // node4's profile is off: `down` names it, with the env file's (a
    // --profile replaces COMPOSE_PROFILES), as the README does.
    p.down_with(&["--profile", "discovery", "--profile", "node4"]);
}

#[test]
fn nats_profile() {
    if let Some(why) = docker_missing() {
        eprintln!("nats_profile: SKIPPED: {why}; the container tests need a Docker engine and Compose v2 (.ci/run sets them up)");
        return;
    }
    ensure_images();
    let (p, front) = profile_project("nats", "config/compose/nats.env");
    wait_for(
        "the watch service on the bus",
        READY,
        || p.logs(),
        || {
            p.compose(&["logs", "--no-color", "watch"])
                .contains("following committed events on the bus nats://nats:4222")
                .then_some(())
        },
    );
    wait_for(
        "a leader publishing to the bus",
        READY,
        || p.logs(),
        || {
            p.compose(&["logs", "--no-color", "node1", "node2", "node3"])
                .contains("leader: publishing committed events to the bus nats://nats:4222")
                .then_some(())
        },
    );
    let r = put(front, "bus", "first").unwrap();
    assert!(r.status == 200 || r.status == 201, "{}", r.text());
    let index = r.json()["node"]["modifiedIndex"].as_u64().unwrap();
    // The next write wakes a watch from the one after it (no race: the
    // watch starts from an index, not from now).
    let waiter = std::thread::spawn(move || {
        http(
            front,
            "GET",
            &format!("/v2/keys/bus?wait=true&waitIndex={}", index + 1),
            "",
        )
    });
    let r = put(front, "bus", "second").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let woke = waiter.join().unwrap().unwrap();
    assert_eq!(woke.status, 200, "{}", woke.text());
    assert_eq!(woke.json()["node"]["value"], "second", "{}", woke.text());
    p.down();
}

#[test]
fn three_hosts() {
    if let Some(why) = docker_missing() {
        eprintln!("three_hosts: SKIPPED: {why}; the container tests need a Docker engine and Compose v2 (.ci/run sets them up)");
        return;
    }
    ensure_images();
    let started = Instant::now();
    let dir = root().join("deploy/three-hosts");
    let hosts: Vec<Project> = (1..=3)
        .map(|i| {
            Project::new(
                format!("{}host{i}", project_prefix()),
                dir.join("compose.yaml"),
                Some(dir.join(format!("host{i}.env"))),
            )
        })
        .collect();
    // The env files' addresses, on free ports (the env files' 2379 and 2380
    // may be taken on this machine), with a token of this run's own.
    let (client_port, peer_port) = (free_port(), free_port());
    let cluster = (1..=3)
        .map(|i| format!("node{i}=http://127.0.0.{}:{peer_port}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    let token = format!("{}three", project_prefix());
    for h in &hosts {
        h.set_var("CLIENT_PORT", &client_port.to_string());
        h.set_var("PEER_PORT", &peer_port.to_string());
        h.set_var("CLUSTER", &cluster);
        h.set_var("CLUSTER_TOKEN", &token);
    }
    let step = |what: &str| eprintln!("three-hosts [{:>5.1?}] {what}", started.elapsed());

    step("docker compose up -d on each host");
    for h in &hosts {
        h.compose(&["up", "-d"]);
    }
    let context = || {
        hosts
            .iter()
            .map(|h| h.logs())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let client = |i: usize| format!("127.0.0.{}", i + 2);
    for i in 0..3 {
        wait_for(
            &format!("member {} healthy on {}", i + 1, client(i)),
            READY,
            context,
            || {
                raw_get(&client(i), client_port, "/health")
                    .filter(|(status, body)| *status == 200 && body.contains("true"))
            },
        );
    }

    step("etcdctl member list inside host 1's container");
    let members = wait_members(&hosts[0], "concord", "3 members, one leader", |m| {
        m.len() == 3 && m.iter().filter(|x| x.leader).count() == 1
    });
    let (_, out) = hosts[0].etcdctl("concord", &["member", "list"]);
    for i in 0..3 {
        assert!(
            out.contains(&format!("peerURLs=http://{}:{peer_port}", client(i))),
            "members advertise their host's address: {out}"
        );
    }
    assert_eq!(members.len(), 3);

    step("a write on host 1, read on hosts 2 and 3");
    let (ok, out) = hosts[0].etcdctl("concord", &["set", "/walkthrough", "three hosts"]);
    assert!(ok, "etcdctl set: {out}");
    for h in &hosts[1..] {
        let value = wait_for("the key on every host", READY, context, || {
            let (ok, out) = h.etcdctl("concord", &["get", "/walkthrough"]);
            ok.then_some(out)
        });
        assert_eq!(value.trim(), "three hosts");
    }
    for i in 1..3 {
        let (status, body) = raw_get(&client(i), client_port, "/v2/keys/walkthrough").expect("GET");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("three hosts"), "{body}");
    }

    step("docker compose down -v on each host");
    for h in &hosts {
        h.down();
    }
    step("done");
}

/// A GET to `addr:port` (a loopback address other than 127.0.0.1):
/// (status, body).
fn raw_get(addr: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    use std::net::{SocketAddr, TcpStream};
    let sa: SocketAddr = format!("{addr}:{port}").parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let raw = text(&raw);
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A deployment in containers for the fault suite: its members (services
/// `members`), the clients on the front's published port.
struct Containers<'a> {
    p: &'a Project,
    port: u16,
    members: Vec<&'static str>,
    /// Containers killed -9 and started again as the deployment's own
    /// faults (one of two gateways, the watch replica), with a label.
    extras: Vec<(&'static str, String)>,
}

impl Containers<'_> {
    fn docker(&self, args: &[&str]) {
        let out = run(Command::new("docker").args(args), DOCKER_TIMEOUT);
        assert!(
            out.status.success(),
            "docker {args:?}: {}\n{}",
            text(&out.stderr),
            self.p.logs()
        );
    }

    /// The one container of member `i`.
    fn container(&self, i: usize) -> String {
        self.p.containers(self.members[i])[0].clone()
    }
}

impl Deployment for Containers<'_> {
    fn client_ports(&self) -> Vec<u16> {
        vec![self.port]
    }
    fn wait_ready(&mut self) {
        let port = self.port;
        wait_for(
            "the front's /health",
            READY,
            || self.p.logs(),
            || {
                http(port, "GET", "/health", "")
                    .ok()
                    .filter(|r| r.status == 200)
            },
        );
        self.leader();
    }
    fn leader(&mut self) -> usize {
        let (port, members) = (self.port, self.members.clone());
        wait_for(
            "a leader named through the front",
            READY,
            || self.p.logs(),
            || {
                let r = http(port, "GET", "/v2/members/leader", "").ok()?;
                let name = r.json()["name"].as_str()?.to_string();
                members.iter().position(|m| *m == name)
            },
        )
    }
    fn member_name(&self, i: usize) -> String {
        self.members[i].to_string()
    }
    fn members(&self) -> usize {
        self.members.len()
    }
    fn kill9(&mut self, i: usize) {
        self.docker(&["kill", &self.container(i)]);
    }
    fn restart(&mut self, i: usize) {
        self.docker(&["start", &self.container(i)]);
        self.wait_ready();
    }
    fn stop(&mut self, i: usize) {
        self.docker(&["pause", &self.container(i)]);
    }
    fn cont(&mut self, i: usize) {
        self.docker(&["unpause", &self.container(i)]);
    }
    fn kill9_all(&mut self) {
        let ids: Vec<String> = (0..self.members.len()).map(|i| self.container(i)).collect();
        let mut args = vec!["kill"];
        args.extend(ids.iter().map(String::as_str));
        self.docker(&args);
    }
    fn start_all(&mut self) {
        let ids: Vec<String> = (0..self.members.len()).map(|i| self.container(i)).collect();
        let mut args = vec!["start"];
        args.extend(ids.iter().map(String::as_str));
        self.docker(&args);
    }
    /// `docker network disconnect`: the member's address stops answering
    /// (no RST), as a host cut off the network; connected again with its
    /// service name as alias (Docker's DNS).
    fn cut(&mut self, i: usize) -> Result<Cut, String> {
        let network = format!("{}_default", self.p.name);
        let container = self.container(i);
        self.docker(&["network", "disconnect", &network, &container]);
        let alias = self.members[i].to_string();
        Ok(Cut::new(move || {
            let out = run(
                Command::new("docker").args([
                    "network", "connect", "--alias", &alias, &network, &container,
                ]),
                DOCKER_TIMEOUT,
            );
            if !out.status.success() {
                eprintln!("docker network connect {alias}: {}", text(&out.stderr));
            }
        }))
    }
    fn pause_words(&self) -> &'static str {
        "paused (docker pause)"
    }
    fn cut_words(&self) -> &'static str {
        "cut off (network disconnect)"
    }
    fn extra_faults(&self) -> Vec<&'static str> {
        self.extras.iter().map(|(what, _)| *what).collect()
    }
    fn play(&mut self, what: &str, undo: bool) {
        let Some((_, id)) = self.extras.iter().find(|(w, _)| *w == what) else {
            return;
        };
        let id = id.clone();
        self.docker(&[if undo { "start" } else { "kill" }, &id]);
    }
    fn log_tails(&self, _n: usize) -> String {
        self.p.logs()
    }
}

/// The leader's container killed, then 20 writes in a row through the
/// front, each with a 5 s client timeout: how each ended (status, or the
/// client's error) and how long it took. The leader is started again.
fn writes_after_a_leader_kill(d: &mut Containers) -> Vec<(String, Duration)> {
    let l = d.leader();
    d.kill9(l);
    let mut out = Vec::new();
    for i in 0..20 {
        let started = Instant::now();
        let r = request(
            d.port,
            "PUT",
            &format!("/v2/keys/after-kill/{i}"),
            Some("application/x-www-form-urlencoded"),
            b"value=x",
            Duration::from_secs(5),
        );
        let what = match r {
            Ok(r) if r.status == 200 || r.status == 201 => r.status.to_string(),
            Ok(r) => format!("{} {}", r.status, r.text().trim()),
            Err(e) => format!("no answer: {e}"),
        };
        out.push((what, started.elapsed()));
    }
    d.restart(l);
    out
}

fn report_writes(label: &str, writes: &[(String, Duration)]) -> usize {
    let ok = writes
        .iter()
        .filter(|(w, _)| w == "200" || w == "201")
        .count();
    let times: Vec<String> = writes
        .iter()
        .map(|(_, t)| format!("{:.2}", t.as_secs_f64()))
        .collect();
    eprintln!(
        "{label}: leader's container killed, 20 writes in a row (5 s client timeout): {ok} answered 200/201; seconds each: {}",
        times.join(" ")
    );
    for (w, _) in writes.iter().filter(|(w, _)| w != "200" && w != "201") {
        eprintln!("  {label}: {w}");
    }
    ok
}

/// The fault suite through the compose deployment's front (2 gateways):
/// the leader's container killed (`docker kill`), paused (`docker
/// pause`), cut off (`docker network disconnect`), every member killed,
/// then one gateway and the watch replica killed; first, the check
/// that 20 writes right after a leader kill are all answered. Then the same
/// on etcd 3.4 in containers behind the same front
/// (`bench/containers/etcd-compose.yaml`; skipped without etcd), printed
/// beside it.
#[test]
fn compose_faults() {
    if let Some(why) = docker_missing() {
        eprintln!("compose_faults: SKIPPED: {why}; the container tests need a Docker engine and Compose v2 (.ci/run sets them up)");
        return;
    }
    ensure_images();
    let p = Project::new(
        format!("{}faults", project_prefix()),
        root().join("compose.yaml"),
        None,
    );
    let port = free_port();
    p.set_var("CONCORD_FRONT_ADDR", &format!("127.0.0.1:{port}"));
    p.set_var("CONCORD_CLUSTER_TOKEN", &p.name);
    p.compose(&["up", "-d", "--scale", "gateway=2"]);
    let mut d = Containers {
        p: &p,
        port,
        members: vec!["node1", "node2", "node3"],
        extras: Vec::new(),
    };
    d.wait_ready();
    let gateways = p.containers("gateway");
    assert_eq!(gateways.len(), 2, "{gateways:?}");
    d.extras = vec![
        ("a gateway", gateways[0].clone()),
        ("the watch replica", p.containers("watch")[0].clone()),
    ];
    let writes = writes_after_a_leader_kill(&mut d);
    let ok = report_writes("concord compose", &writes);
    run_faults(&mut d, "concord compose (2 gateways)");
    drop(d);
    p.down();
    assert_eq!(ok, 20, "writes after a leader kill: {writes:?}");

    // etcd 3.4 in containers, the same faults, for the figures beside.
    if concord_tests::which("etcd").is_none() {
        eprintln!("compose_faults: etcd 3.4 side skipped: etcd is not installed");
        return;
    }
    let out = run(
        Command::new(root().join("bench/containers/etcd-image")).current_dir(root()),
        BUILD_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "bench/containers/etcd-image: {}",
        text(&out.stderr)
    );
    let e = Project::new(
        format!("{}etcdfaults", project_prefix()),
        root().join("bench/containers/etcd-compose.yaml"),
        None,
    );
    let port = free_port();
    e.set_var("CONCORD_FRONT_ADDR", &format!("127.0.0.1:{port}"));
    e.compose(&["up", "-d"]);
    let mut d = Containers {
        p: &e,
        port,
        members: vec!["etcd1", "etcd2", "etcd3"],
        extras: Vec::new(),
    };
    d.wait_ready();
    let writes = writes_after_a_leader_kill(&mut d);
    report_writes("etcd 3.4 compose", &writes);
    run_faults(&mut d, "etcd 3.4 compose");
    drop(d);
    e.down();
}
