//! The watch tier over real sockets and processes: consensus members are
//! played by [`EventLog`]s served by the real gRPC Events service on
//! 127.0.0.1 (each on its own runtime, so stopping one closes its
//! connections as a dying member would); the `concord-watch` binary runs
//! as a child process; watches arrive through [`GrpcWatch`] as a gateway's
//! would.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concord_api::{ApiError, EventSink, EventSource, Watch, Watcher};
use concord_rpc::endpoints::Endpoints;
use concord_rpc::events_grpc::EventsService;
use concord_rpc::watch_grpc::GrpcWatch;
use concord_store::{ErrorCode, Event};
use concord_watch::EventLog;
use tonic::transport::server::TcpIncoming;

mod support;
use support::{req, set};

const DEADLINE: Duration = Duration::from_secs(20);

/// A consensus member as the watch tier sees it: an event log behind the
/// gRPC Events service.
struct Member {
    log: Arc<EventLog>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Member {
    fn start(store_index: u64) -> Member {
        let log = Arc::new(EventLog::new(store_index));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let source: Arc<dyn EventSource> = log.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let server = tonic::transport::Server::builder()
                    .add_service(EventsService::server(source))
                    .serve_with_incoming(TcpIncoming::from(listener));
                tokio::select! {
                    r = server => r.unwrap(),
                    _ = stopped => {}
                }
            });
            // Dropping the runtime ends its connection tasks: the member
            // is gone, mid-stream.
            drop(rt);
        });
        Member {
            log,
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn publish(&self, key: &str, index: u64) {
        self.log.publish(set(key, index));
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `concord-watch` child process, killed when dropped.
struct WatchProc {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl WatchProc {
    fn start(members: &[&str]) -> WatchProc {
        WatchProc::start_with(&[
            "--listen-url",
            "http://127.0.0.1:0",
            "--consensus-endpoints",
            &members.join(","),
            "--log-level",
            "info",
        ])
    }

    fn start_with(args: &[&str]) -> WatchProc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_concord-watch"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("concord-watch starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("serving watches on ").nth(1) {
                    let url = rest.split(',').next().unwrap().to_string();
                    let _ = url_tx.send(url);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let url = match url_rx.recv_timeout(DEADLINE) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("concord-watch did not log its URL");
            }
        };
        WatchProc { child, url, log }
    }

    fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(text))
    }

    /// Polls the log for `text`: the line is written before the events go
    /// out, but read from the child's stderr by another thread, which may
    /// lag on a busy machine.
    fn wait_logged(&self, text: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if self.logged(text) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    fn rss_kb(&self) -> u64 {
        rss_kb(&format!("/proc/{}/status", self.child.id()))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WatchProc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn rss_kb(status: &str) -> u64 {
    std::fs::read_to_string(status)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn grpc_watch(urls: &[&str]) -> GrpcWatch {
    let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
    GrpcWatch::new(Endpoints::new(&urls).unwrap())
}

/// Waits until the watch tier is serving and has seen `index` (a watch
/// is refused until it follows consensus, and waits for `after_index`).
async fn synced(watch: &GrpcWatch, index: u64) {
    let mut probe = req("/sync-probe", false, false, None);
    probe.after_index = index;
    let w = watch.watch(probe).await.expect("the watch tier serves");
    assert!(w.start_index >= index);
}

async fn poll_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next(w: &mut Watcher) -> Option<Arc<Event>> {
    tokio::time::timeout(DEADLINE, w.events.recv())
        .await
        .expect("an event or the end of the watch in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_and_stream_watches_get_the_right_events() {
    let member = Member::start(100);
    let tier = WatchProc::start(&[&member.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 100).await;

    let mut poll = watch.watch(req("/a", false, false, None)).await.unwrap();
    let mut stream = watch.watch(req("/d", true, true, None)).await.unwrap();
    assert_eq!((poll.start_index, stream.start_index), (100, 100));
    member.publish("/b", 101);
    member.publish("/a", 102);
    member.publish("/d/x", 103);
    member.publish("/d/y", 104);
    member.publish("/a", 105);
    member.publish("/d/_hidden", 106);
    member.publish("/d", 107);

    let e = next(&mut poll).await.unwrap();
    assert_eq!((e.node.key.as_str(), e.etcd_index), ("/a", 102));
    assert_eq!(e.node.value.as_deref(), Some("v102"));
    assert!(
        next(&mut poll).await.is_none(),
        "a long poll ends after one event"
    );
    let got: Vec<u64> = [
        next(&mut stream).await,
        next(&mut stream).await,
        next(&mut stream).await,
    ]
    .into_iter()
    .map(|e| e.unwrap().etcd_index)
    .collect();
    assert_eq!(got, [103, 104, 107]);
    assert!(stream.events.try_recv().is_err());

    // after_index: a watch "from now" starts no earlier than the index a
    // gateway answered a write with.
    let mut after = req("/a", false, false, None);
    after.after_index = 107;
    let w = watch.watch(after).await.unwrap();
    assert_eq!(w.start_index, 107);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_index_replays_history_and_401s_below_the_window() {
    let member = Member::start(0);
    let tier = WatchProc::start(&[&member.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 0).await;
    for i in 1..=1500u64 {
        member.publish(&format!("/k{}", i % 3), i);
    }
    synced(&watch, 1500).await;

    let mut w = watch
        .watch(req("/k1", false, false, Some(1400)))
        .await
        .unwrap();
    assert_eq!(w.start_index, 1500);
    assert_eq!(next(&mut w).await.unwrap().etcd_index, 1402);
    assert!(next(&mut w).await.is_none());

    // A recursive stream from history: the first event at or after 1498
    // (as etcd's hub, one from history), then the new ones.
    let mut s = watch.watch(req("/", true, true, Some(1498))).await.unwrap();
    assert_eq!(next(&mut s).await.unwrap().etcd_index, 1498);
    member.publish("/k1", 1501);
    assert_eq!(next(&mut s).await.unwrap().etcd_index, 1501);

    let err = match watch.watch(req("/k1", false, false, Some(3))).await {
        Err(ApiError::Store(e)) => e,
        Err(other) => panic!("expected 401, got {other}"),
        Ok(w) => panic!("expected 401, got a watcher at {}", w.start_index),
    };
    assert_eq!(err.code, ErrorCode::EventIndexCleared);
    assert_eq!(err.cause, "the requested history has been cleared [502/3]");
    assert_eq!(err.index, 1501);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_resumes_on_another_member_with_no_gap_and_no_duplicate() {
    // Two members of one cluster: the same events at the same indexes,
    // the second lagging behind the first when the first dies.
    let mut first = Member::start(100);
    let second = Member::start(100);
    let tier = WatchProc::start(&[&first.url, &second.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 100).await;
    let mut all = watch.watch(req("/", true, true, None)).await.unwrap();

    let mut seen = Vec::new();
    for i in 101..=200u64 {
        first.publish(&format!("/x/{i}"), i);
        if i <= 150 {
            second.publish(&format!("/x/{i}"), i);
        }
        if i % 50 == 0 {
            // Read as we go: a stream watcher 100 events behind is
            // dropped, as etcd's is.
            while seen.last() != Some(&i) {
                seen.push(next(&mut all).await.expect("stream open").etcd_index);
            }
        }
    }
    first.stop();
    for i in 151..=400u64 {
        second.publish(&format!("/x/{i}"), i);
        if i % 50 == 0 && i > 200 {
            while seen.last() != Some(&i) {
                seen.push(next(&mut all).await.expect("stream open").etcd_index);
            }
        }
    }
    let expected: Vec<u64> = (101..=400).collect();
    assert_eq!(seen, expected);
    assert!(all.events.try_recv().is_err(), "an event too many");
    for line in tier.log.lock().unwrap().iter() {
        println!("concord-watch: {line}");
    }
    assert!(tier.wait_logged(&format!("following committed events from {}", second.url)));
    assert!(tier.wait_logged(&format!("following committed events from {}", first.url)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_from_a_member_is_never_passed_on() {
    // The first member skips index 102; the second has every event.
    let first = Member::start(100);
    let second = Member::start(100);
    let tier = WatchProc::start(&[&first.url, &second.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 100).await;
    let mut all = watch.watch(req("/", true, true, None)).await.unwrap();
    for i in [101, 103, 104] {
        first.publish(&format!("/g/{i}"), i);
    }
    for i in 101..=104 {
        second.publish(&format!("/g/{i}"), i);
    }
    for i in 101..=104 {
        assert_eq!(next(&mut all).await.unwrap().etcd_index, i);
    }
    assert!(tier.wait_logged("sent index 103 after 101 (a gap)"));
    assert!(tier.wait_logged(&format!(
        "following committed events from {} after index 101",
        second.url
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_reaches_the_hub_whole() {
    // More than a subscriber's buffer at once: if the member drops the
    // follower for falling behind, it resumes from its last index.
    let member = Member::start(0);
    let tier = WatchProc::start(&[&member.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 0).await;
    let n = 3 * concord_watch::SUBSCRIBER_BUFFER as u64;
    for i in 1..=n {
        member.publish(&format!("/burst/{}", i % 10), i);
    }
    // The hub only moves to index i after i - 1.
    synced(&watch, n).await;
    let mut w = watch
        .watch(req("/burst", true, true, Some(n - 999)))
        .await
        .unwrap();
    assert_eq!(next(&mut w).await.unwrap().etcd_index, n - 999);
    let resumed = tier
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("subscribing again"))
        .count();
    println!("burst of {n} events: the follower resubscribed {resumed} times");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_count_follows_registrations_and_departures() {
    let member = Member::start(7);
    let tier = WatchProc::start(&[&member.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 7).await;
    poll_until("the probe to leave", || async {
        watch.watcher_count().await.unwrap() == 0
    })
    .await;
    let mut watchers = Vec::new();
    for k in ["/a", "/b", "/c"] {
        watchers.push(watch.watch(req(k, false, false, None)).await.unwrap());
    }
    assert_eq!(watch.watcher_count().await.unwrap(), 3);
    member.publish("/a", 8);
    assert_eq!(next(&mut watchers[0]).await.unwrap().etcd_index, 8);
    poll_until("2 watchers", || async {
        watch.watcher_count().await.unwrap() == 2
    })
    .await;
    // A gateway whose client went away drops its watcher: the replica's
    // registration goes with it.
    watchers.clear();
    poll_until("0 watchers", || async {
        watch.watcher_count().await.unwrap() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_moves_to_another_watch_replica() {
    let member = Member::start(0);
    let mut one = WatchProc::start(&[&member.url]);
    let two = WatchProc::start(&[&member.url]);
    // Both follow consensus before the gateway uses them (one that does
    // not yet would be passed over, and the watch below start on two).
    synced(&grpc_watch(&[&one.url]), 0).await;
    synced(&grpc_watch(&[&two.url]), 0).await;
    let watch = grpc_watch(&[&one.url, &two.url]);
    let mut waiting = watch.watch(req("/a", false, false, None)).await.unwrap();
    one.kill();
    // The watch that had started on the dead replica ends without an
    // event; the gateway answers its client from there.
    assert!(next(&mut waiting).await.is_none());
    // New watches start on the other replica.
    let mut w = watch.watch(req("/a", false, false, None)).await.unwrap();
    member.publish("/a", 1);
    assert_eq!(next(&mut w).await.unwrap().etcd_index, 1);
    assert!(next(&mut w).await.is_none());
    drop(two);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_does_not_follow_consensus_yet_is_passed_over() {
    // Nothing listens on this port: the first replica never gets a
    // starting index, so it refuses watches (Unavailable).
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", nobody.local_addr().unwrap());
    drop(nobody);
    let member = Member::start(30);
    let lost = WatchProc::start(&[&nowhere]);
    let fine = WatchProc::start(&[&member.url]);
    let watch = grpc_watch(&[&lost.url, &fine.url]);
    synced(&watch, 30).await;
    let mut w = watch.watch(req("/a", false, false, None)).await.unwrap();
    assert_eq!(w.start_index, 30);
    member.publish("/a", 31);
    assert_eq!(next(&mut w).await.unwrap().etcd_index, 31);
    poll_until("a warning about the member", || async {
        lost.logged(&format!("consensus member {nowhere} cannot be reached"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_from_consensus_clears_the_watchers() {
    let member = Member::start(10);
    let tier = WatchProc::start(&[&member.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 10).await;
    member.publish("/a", 11);
    synced(&watch, 11).await;
    let mut waiting = watch.watch(req("/b", true, true, None)).await.unwrap();
    // A snapshot replaced the member's store.
    member.log.reset(500);
    assert!(next(&mut waiting).await.is_none(), "watchers are cleared");
    synced(&watch, 500).await;
    let mut w = watch.watch(req("/a", false, false, None)).await.unwrap();
    assert_eq!(w.start_index, 500);
    member.publish("/a", 501);
    assert_eq!(next(&mut w).await.unwrap().etcd_index, 501);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_gives_the_settings_flags_override() {
    let member = Member::start(3);
    let path = std::env::temp_dir().join(format!("concord-watch-test-{}.yaml", std::process::id()));
    std::fs::write(
        &path,
        format!(
            "listen-url: http://127.0.0.1:1\nconsensus-endpoints:\n  - {}\nlog-level: info\n",
            member.url
        ),
    )
    .unwrap();
    // The flag wins over the file's (unusable) listen URL.
    let tier = WatchProc::start_with(&[
        "--config-file",
        path.to_str().unwrap(),
        "--listen-url",
        "http://127.0.0.1:0",
    ]);
    std::fs::remove_file(&path).unwrap();
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 3).await;
    assert!(tier.wait_logged(&format!("following consensus at {}", member.url)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_it_cleanly() {
    let member = Member::start(0);
    let mut tier = WatchProc::start(&[&member.url]);
    let watch = grpc_watch(&[&tier.url]);
    synced(&watch, 0).await;
    let _waiting = watch.watch(req("/a", false, false, None)).await.unwrap();
    let pid = tier.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = tier.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    assert!(tier.wait_logged("received a stop signal, shutting down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_long_poll_watchers_on_one_replica() {
    const N: u64 = 10_000;
    let member = Member::start(0);
    let tier = WatchProc::start(&[&member.url]);
    let watch = Arc::new(grpc_watch(&[&tier.url]));
    synced(&watch, 0).await;
    let rss_before = tier.rss_kb();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let watch = watch.clone();
        tasks.spawn(async move {
            let w = watch
                .watch(req(&format!("/w/{i}"), false, false, None))
                .await;
            (i, w)
        });
    }
    let mut watchers: Vec<Option<Watcher>> = (0..N).map(|_| None).collect();
    while let Some(r) = tasks.join_next().await {
        let (i, w) = r.unwrap();
        match w {
            Ok(w) => watchers[i as usize] = Some(w),
            Err(e) => {
                eprintln!("{:?} {i}: {e}", started.elapsed());
                for l in tier.log.lock().unwrap().iter() {
                    eprintln!("{l}");
                }
                panic!();
            }
        }
    }
    let registered = started.elapsed();
    poll_until("10,000 watchers", || async {
        watch.watcher_count().await.unwrap() == N
    })
    .await;
    let rss_held = tier.rss_kb();

    let started = Instant::now();
    for i in 0..N {
        member.publish(&format!("/w/{i}"), i + 1);
    }
    for (i, w) in watchers.iter_mut().enumerate() {
        let w = w.as_mut().unwrap();
        let e = next(w).await.expect("its event");
        assert_eq!(e.node.key, format!("/w/{i}"));
        assert_eq!(e.etcd_index, i as u64 + 1);
        assert!(next(w).await.is_none(), "one event per long poll");
    }
    let delivered = started.elapsed();
    println!(
        "10,000 long-poll watchers through GrpcWatch: registered in {registered:?}; \
         10,000 events delivered in {delivered:?}; concord-watch VmRSS {rss_before} kB idle, \
         {rss_held} kB holding them; test process (gateway side) VmRSS {} kB",
        rss_kb("/proc/self/status")
    );
    assert_eq!(watch.watcher_count().await.unwrap(), 0);
}
