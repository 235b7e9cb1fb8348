//! The event bus with real processes: a real nats-server (JetStream), three
//! `concord-consensus` members publishing through it, three `concord-watch`
//! replicas reading from it, two gateways. Stream watchers see every event
//! once, in order, through a leader kill and a nats-server restart; a late
//! replica catches up from the bus; with the bus gone for good, watches go
//! on over gRPC. Skipped, with a message, where nats-server is missing
//! (`apt-get install nats-server`; `.ci/run` installs it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use concord_tests::cluster::request;
use concord_tests::free_port;
use concord_tests::split::{
    bin, index_of, serial, urls, LoadUnderWatch, Split, SplitOptions, TIMEOUT,
};

/// A nats-server with JetStream on a free 127.0.0.1 port, its store kept
/// across restarts; killed when dropped.
struct Nats {
    program: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl Nats {
    fn start() -> Option<Nats> {
        let program = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .or_else(|| {
                Command::new("which")
                    .arg("nats-server")
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            });
        let Some(program) = program else {
            eprintln!("SKIPPED: no nats-server (apt-get install nats-server)");
            return None;
        };
        let mut n = Nats {
            program,
            port: free_port(),
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        n.run();
        Some(n)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let log = std::fs::File::create(self.store.path().join("nats.log")).unwrap();
        let child = Command::new(&self.program)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path().join("js"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until every log named has a line containing `text`.
fn wait_logged(s: &Split, names: &[&str], text: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = names.iter().all(|n| {
            std::fs::read_to_string(s.dir.path().join(format!("{n}.log")))
                .is_ok_and(|t| t.contains(text))
        });
        if all {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{names:?} never logged {text:?}:\n{}",
            s.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until some member logs that it publishes to the bus.
fn wait_publishing(s: &Split) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(1..=3).any(|i| {
        std::fs::read_to_string(s.dir.path().join(format!("c{i}.log")))
            .is_ok_and(|t| t.contains("publishing committed events to the bus"))
    }) {
        assert!(
            Instant::now() < deadline,
            "no member publishes:\n{}",
            s.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn stream_watchers_see_every_event_once_through_a_leader_kill_and_a_bus_restart() {
    let _one = serial();
    let Some(mut nats) = Nats::start() else {
        return;
    };
    let mut s = Split::start_with(SplitOptions {
        watches: 3,
        event_bus_url: Some(nats.url()),
        ..SplitOptions::default()
    });
    const WRITES: usize = 10_000;
    wait_publishing(&s);
    // A first event, before the replicas are asked to be on the bus.
    s.put(0, "load0/ready", "x");
    wait_logged(&s, &["w1", "w2", "w3"], "on the bus");
    let load = LoadUnderWatch::start(&s, WRITES, Duration::from_secs(300));
    // A third of the writes in: the leader is killed -9.
    load.wait_acked(WRITES / 3, &s, Duration::from_secs(180));
    let leader = s.leader().expect("no leader logged");
    s.kill9(&leader);
    // Two thirds in: nats-server restarts (same store).
    load.wait_acked(2 * WRITES / 3, &s, Duration::from_secs(180));
    nats.kill();
    nats.run();
    let (acked, seen) = load.finish(&s);
    // The replicas went back to the bus after its restart.
    wait_logged(&s, &["w1", "w2", "w3"], "answers again: following it");
    eprintln!(
        "{acked} writes acknowledged of {WRITES}, leader {leader} killed, nats-server restarted; \
         {seen} events seen by each watcher"
    );
}

#[test]
fn a_late_replica_catches_up_from_the_bus_and_watches_survive_its_loss() {
    let _one = serial();
    let Some(mut nats) = Nats::start() else {
        return;
    };
    let options = SplitOptions {
        watches: 1,
        event_bus_url: Some(nats.url()),
        ..SplitOptions::default()
    };
    let mut s = Split::start_with(options.clone());
    wait_publishing(&s);
    wait_logged(&s, &["w1"], "on the bus");
    let mut indexes = Vec::new();
    for i in 0..300 {
        indexes.push(index_of(&s.put(
            i % 2,
            &format!("late/k{i}"),
            &format!("v{i}"),
        )));
    }
    // A replica started now, and a gateway that knows only it.
    s.watch_ports.push(free_port());
    s.start_watch(1, &options);
    wait_logged(&s, &["w2"], "catching up from the bus");
    let gport = free_port();
    let args = vec![
        "--name".to_string(),
        "g3".into(),
        "--listen-client-urls".into(),
        format!("http://127.0.0.1:{gport}"),
        "--consensus-endpoints".into(),
        urls(&s.consensus_clients),
        "--watch-endpoints".into(),
        format!("http://127.0.0.1:{}", s.watch_ports[1]),
    ];
    s.spawn("g3", &bin("concord-gateway"), &args);
    s.gateway_ports.push(gport);
    s.wait_healthy(2);
    // waitIndex replays from the late replica's history, which came from
    // the bus.
    for (i, want) in indexes.iter().enumerate().step_by(37) {
        let r = s.req(
            2,
            "GET",
            &format!("/v2/keys/late/k{i}?wait=true&waitIndex={want}"),
            "",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(index_of(&r), *want);
    }
    // The bus gone for good: watches go on over gRPC.
    nats.kill();
    wait_logged(&s, &["w1", "w2"], "following consensus over gRPC");
    let mut last = *indexes.last().unwrap();
    for round in 0..20 {
        let key = format!("late/after{round}");
        let g = s.gateway_ports[2];
        // From the next index on: the write is found whether the watch
        // is registered before or after it.
        let waiter = std::thread::spawn(move || {
            request(
                g,
                "GET",
                &format!("/v2/keys/{key}?wait=true&waitIndex={}", last + 1),
                None,
                b"",
                TIMEOUT,
            )
        });
        let written = index_of(&s.put(round % 2, &format!("late/after{round}"), "x"));
        last = written;
        let r = waiter.join().unwrap().expect("watch answered");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(index_of(&r), written);
    }
}
