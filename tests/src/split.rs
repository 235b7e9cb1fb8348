//! The split deployment as real processes on 127.0.0.1, for the tests:
//! three `concord-consensus` members, `concord-watch` replicas and two
//! `concord-gateway`s, optionally with an event bus (NATS); every process
//! killed when the [`Split`] is dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::request;
use crate::{concord_bin, free_port, Response, READY_TIMEOUT};

/// What to start besides the three members and two gateways.
#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// Watch replicas (each gateway lists them all).
    pub watches: usize,
    /// A NATS URL given to the members and watch replicas.
    pub event_bus_url: Option<String>,
    /// Run member `i` with group id `base + i` (needs root), so that
    /// iptables' owner match can tell its connections apart on the shared
    /// loopback (the fault tests' partitions).
    pub member_gids: Option<u32>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            watches: 2,
            event_bus_url: None,
            member_gids: None,
        }
    }
}

/// How a process of the split was started, to start it again.
struct Spec {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    gid: Option<u32>,
}

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// One split cluster at a time: seven processes per test on 2 cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn bin(name: &str) -> PathBuf {
    concord_bin().with_file_name(name)
}

/// The processes of one split cluster, killed when dropped.
pub struct Split {
    pub dir: tempfile::TempDir,
    pub procs: Vec<(String, Child)>,
    specs: Vec<Spec>,
    pub consensus_clients: Vec<u16>,
    /// The members' peer ports ("c1".."c3" in order).
    pub peer_ports: Vec<u16>,
    pub watch_ports: Vec<u16>,
    pub gateway_ports: Vec<u16>,
}

impl Drop for Split {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn urls(ports: &[u16]) -> String {
    ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Split {
    pub fn spawn(&mut self, name: &str, program: &Path, args: &[String]) {
        self.spawn_as(name, program, args, None);
    }

    /// Starts a process named `name` (its log: `<name>.log`, appended to
    /// across restarts), with group id `gid` if given.
    pub fn spawn_as(&mut self, name: &str, program: &Path, args: &[String], gid: Option<u32>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{name}.log")))
            .unwrap();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null());
        if let Some(gid) = gid {
            use std::os::unix::process::CommandExt;
            cmd.gid(gid);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        self.procs.retain(|(n, _)| n != name);
        self.procs.push((name.to_string(), child));
        self.specs.retain(|s| s.name != name);
        self.specs.push(Spec {
            name: name.to_string(),
            program: program.to_path_buf(),
            args: args.to_vec(),
            gid,
        });
    }

    /// Starts process `name` again as it was started (its old process
    /// must be gone: see [`Split::kill9`]).
    pub fn respawn(&mut self, name: &str) {
        let spec = self
            .specs
            .iter()
            .find(|s| s.name == name)
            .expect("no such process");
        let (program, args, gid) = (spec.program.clone(), spec.args.clone(), spec.gid);
        self.spawn_as(name, &program, &args, gid);
    }

    pub fn kill9(&mut self, name: &str) {
        let (_, c) = self
            .procs
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("no such process");
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Sends `sig` (`-STOP`, `-CONT`, ...) to process `name`.
    pub fn signal(&self, name: &str, sig: &str) {
        let (_, c) = self
            .procs
            .iter()
            .find(|(n, _)| n == name)
            .expect("no such process");
        let ok = Command::new("kill")
            .args([sig, &c.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {name} failed");
    }

    /// The member that leads, as gateway `g` reports it
    /// (`/v2/members/leader`): "c1".."c3", or `None` while it knows none.
    pub fn leader_via(&self, g: usize) -> Option<String> {
        let r = request(
            self.gateway_ports[g],
            "GET",
            "/v2/members/leader",
            None,
            b"",
            Duration::from_secs(5),
        )
        .ok()?;
        if r.status != 200 {
            return None;
        }
        r.json()["name"].as_str().map(str::to_string)
    }

    /// The consensus member that logged "became leader" at the highest
    /// term ("c1".."c3").
    pub fn leader(&self) -> Option<String> {
        let mut best: Option<(u64, String)> = None;
        for i in 1..=3 {
            let name = format!("c{i}");
            let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                .unwrap_or_default();
            for line in text.lines() {
                let Some(rest) = line.split("became leader at term ").nth(1) else {
                    continue;
                };
                let term: u64 = rest.trim().parse().unwrap_or(0);
                if best.as_ref().is_none_or(|(t, _)| term > *t) {
                    best = Some((term, name.clone()));
                }
            }
        }
        best.map(|(_, n)| n)
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.procs {
            let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                .unwrap_or_default();
            out.push_str(&format!("--- {name} ---\n{text}\n"));
        }
        out
    }

    /// Three members, two watch replicas, two gateways.
    pub fn start() -> Split {
        Split::start_with(SplitOptions::default())
    }

    pub fn start_with(options: SplitOptions) -> Split {
        let mut s = Split {
            dir: tempfile::tempdir().unwrap(),
            procs: Vec::new(),
            specs: Vec::new(),
            consensus_clients: (0..3).map(|_| free_port()).collect(),
            peer_ports: (0..3).map(|_| free_port()).collect(),
            watch_ports: (0..options.watches).map(|_| free_port()).collect(),
            gateway_ports: (0..2).map(|_| free_port()).collect(),
        };
        let peers = s.peer_ports.clone();
        let cluster = (0..3)
            .map(|i| format!("c{}=http://127.0.0.1:{}", i + 1, peers[i]))
            .collect::<Vec<_>>()
            .join(",");
        for (i, peer_port) in peers.iter().enumerate() {
            let client = format!("http://127.0.0.1:{}", s.consensus_clients[i]);
            let peer = format!("http://127.0.0.1:{peer_port}");
            let data = s.dir.path().join(format!("c{}.data", i + 1));
            let args: Vec<String> = vec![
                "--name".into(),
                format!("c{}", i + 1),
                "--data-dir".into(),
                data.display().to_string(),
                "--listen-client-urls".into(),
                client.clone(),
                "--advertise-client-urls".into(),
                client,
                "--listen-peer-urls".into(),
                peer.clone(),
                "--initial-advertise-peer-urls".into(),
                peer,
                "--initial-cluster".into(),
                cluster.clone(),
            ];
            let mut args = args;
            if let Some(bus) = &options.event_bus_url {
                args.extend(["--event-bus-url".to_string(), bus.clone()]);
            }
            let gid = options.member_gids.map(|base| base + i as u32);
            s.spawn_as(
                &format!("c{}", i + 1),
                &bin("concord-consensus"),
                &args,
                gid,
            );
        }
        let consensus = urls(&s.consensus_clients);
        for i in 0..options.watches {
            s.start_watch(i, &options);
        }
        for i in 0..2 {
            // The gateways list the watch replicas in different orders.
            let mut watches = s.watch_ports.clone();
            if i == 1 {
                watches.reverse();
            }
            let args = vec![
                "--name".into(),
                format!("g{}", i + 1),
                "--listen-client-urls".into(),
                format!("http://127.0.0.1:{}", s.gateway_ports[i]),
                "--consensus-endpoints".into(),
                consensus.clone(),
                "--watch-endpoints".into(),
                urls(&watches),
            ];
            s.spawn(&format!("g{}", i + 1), &bin("concord-gateway"), &args);
        }
        for g in 0..2 {
            s.wait_healthy(g);
        }
        s
    }

    /// Starts watch replica `i` ("w<i+1>") on its port.
    pub fn start_watch(&mut self, i: usize, options: &SplitOptions) {
        let mut args = vec![
            "--name".into(),
            format!("w{}", i + 1),
            "--listen-url".into(),
            format!("http://127.0.0.1:{}", self.watch_ports[i]),
            "--consensus-endpoints".into(),
            urls(&self.consensus_clients),
        ];
        if let Some(bus) = &options.event_bus_url {
            args.extend(["--event-bus-url".to_string(), bus.clone()]);
        }
        self.spawn(&format!("w{}", i + 1), &bin("concord-watch"), &args);
    }

    pub fn wait_healthy(&mut self, g: usize) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let r = request(self.gateway_ports[g], "GET", "/health", None, b"", TIMEOUT);
            if r.is_ok_and(|r| r.status == 200) {
                return;
            }
            let exited = self
                .procs
                .iter_mut()
                .find_map(|(name, c)| Some((name.clone(), c.try_wait().ok()??)));
            if let Some((name, st)) = exited {
                panic!("{name} exited with {st}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "gateway g{} not healthy:\n{}",
                g + 1,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn req(&self, g: usize, method: &str, path: &str, body: &str) -> Response {
        let ct = (!body.is_empty()).then_some("application/x-www-form-urlencoded");
        request(
            self.gateway_ports[g],
            method,
            path,
            ct,
            body.as_bytes(),
            TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{method} {path} via g{}: {e}\n{}", g + 1, self.logs()))
    }

    pub fn put(&self, g: usize, key: &str, value: &str) -> Response {
        self.req(
            g,
            "PUT",
            &format!("/v2/keys/{key}"),
            &format!("value={value}"),
        )
    }
}

/// Reads a `stream=true` watch until the key `zz-end` shows up or `limit`
/// passes; the modifiedIndex of every event.
pub fn stream_indexes_until(port: u16, path: &str, limit: Duration) -> Vec<u64> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + limit;
    while !text.contains("zz-end") && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => text.push_str(&String::from_utf8_lossy(&buf[..k])),
        }
    }
    // Only the events' nodes: a write here never replaces a key, so no
    // event has a prevNode.
    text.match_indices("\"modifiedIndex\":")
        .filter_map(|(i, m)| {
            let rest = &text[i + m.len()..];
            let end = rest.find(|c: char| !c.is_ascii_digit())?;
            rest[..end].parse().ok()
        })
        .collect()
}

/// A recursive `stream=true` watcher on `/load` on every gateway, and four
/// writers putting `writes` new keys under `/load` through both gateways in
/// turn: what a test of "every event exactly once, in order" disturbs
/// (kills a leader, restarts the bus) while it runs.
pub struct LoadUnderWatch {
    watchers: Vec<std::thread::JoinHandle<Vec<u64>>>,
    writers: Vec<std::thread::JoinHandle<()>>,
    /// The store index of every acknowledged write.
    acked: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
}

/// The store index a write answered with.
pub fn index_of(r: &Response) -> u64 {
    r.json()["node"]["modifiedIndex"].as_u64().unwrap()
}

impl LoadUnderWatch {
    /// Starts the watchers (from the index after a first write) and the
    /// writers; the watchers read for at most `watch_for`.
    pub fn start(s: &Split, writes: usize, watch_for: Duration) -> LoadUnderWatch {
        let start = index_of(&s.put(0, "load0/start", "x"));
        let path = format!(
            "/v2/keys/load?wait=true&recursive=true&stream=true&waitIndex={}",
            start + 1
        );
        let watchers = s
            .gateway_ports
            .iter()
            .map(|&port| {
                let path = path.clone();
                std::thread::spawn(move || stream_indexes_until(port, &path, watch_for))
            })
            .collect();
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writers = (0..4)
            .map(|w| {
                let ports = s.gateway_ports.clone();
                let acked = acked.clone();
                std::thread::spawn(move || {
                    for i in (w..writes).step_by(4) {
                        let body = format!("value=v{i}");
                        let r = request(
                            ports[i % ports.len()],
                            "PUT",
                            &format!("/v2/keys/load/k{i}"),
                            Some("application/x-www-form-urlencoded"),
                            body.as_bytes(),
                            TIMEOUT,
                        );
                        if let Ok(r) = r {
                            if r.status == 201 {
                                acked.lock().unwrap().push(index_of(&r));
                            }
                        }
                    }
                })
            })
            .collect();
        LoadUnderWatch {
            watchers,
            writers,
            acked,
        }
    }

    /// Waits until `n` writes were acknowledged (at most `limit`).
    pub fn wait_acked(&self, n: usize, s: &Split, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.acked.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "writes too slow:\n{}", s.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the writers, writes the end marker, and checks that every
    /// watcher saw, up to the marker, each event once in index order, every
    /// acknowledged write among them, and the same events as the others.
    /// Returns (writes acknowledged, events each watcher saw).
    pub fn finish(self, s: &Split) -> (usize, usize) {
        for w in self.writers {
            w.join().unwrap();
        }
        let last = index_of(&s.put(0, "load/zz-end", "end"));
        let mut acked = self.acked.lock().unwrap().clone();
        acked.sort_unstable();
        let mut seen_by = Vec::new();
        for w in self.watchers {
            let seen = w.join().unwrap();
            let upto: Vec<u64> = seen.iter().copied().filter(|i| *i <= last).collect();
            assert!(
                upto.windows(2).all(|p| p[0] < p[1]),
                "out of order or twice"
            );
            assert_eq!(
                upto.last(),
                Some(&last),
                "the stream ended early at {:?}\n{}",
                upto.last(),
                s.logs()
            );
            let missing: Vec<u64> = acked
                .iter()
                .copied()
                .filter(|i| upto.binary_search(i).is_err())
                .collect();
            assert!(
                missing.is_empty(),
                "acknowledged writes not seen: {:?}",
                &missing[..missing.len().min(10)]
            );
            seen_by.push(upto);
        }
        assert!(
            seen_by.windows(2).all(|p| p[0] == p[1]),
            "the gateways' watchers saw different events"
        );
        (acked.len(), seen_by[0].len())
    }
}
