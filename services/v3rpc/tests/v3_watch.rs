//! The `Watch` service: a stream with several watchers (etcd's watch ids,
//! duplicate ids, empty ranges), events in order with prev_kv and filters,
//! cancel, progress requests, history and a compacted start revision,
//! compared with etcd 3.4 step for step; then ordering under many writes,
//! progress notifications and fragments on Concord alone.

mod v3_support;

use std::time::Duration;

use concord_rpc::etcd::etcdserverpb::{
    watch_create_request::FilterType, CompactionRequest, DeleteRangeRequest, PutRequest,
    WatchCreateRequest, WatchResponse,
};
use concord_v3rpc::V3Options;
use v3_support::server::TestServer;
use v3_support::watch::WatchStream;
use v3_support::{both, compare::mask, Clients, Outcome};

fn shown(r: &WatchResponse) -> Outcome {
    mask(&format!("{r:?}"))
}

async fn put(c: &Clients, key: &str, value: &str) {
    c.kv.clone()
        .put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })
        .await
        .expect("put");
}

fn create(key: &str, range_end: &str) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.into(),
        range_end: range_end.into(),
        ..Default::default()
    }
}

async fn watch_scenario(c: Clients) -> Vec<Outcome> {
    let mut out = Vec::new();
    put(&c, "foo", "1").await; // revision 2
    let mut w = WatchStream::open(&c).await;
    // Auto ids count from 0; a client's own id; its duplicate; an empty range.
    w.create(create("foo", "")).await;
    out.push(shown(&w.next().await));
    w.create(WatchCreateRequest {
        prev_kv: true,
        ..create("p/", "p0")
    })
    .await;
    out.push(shown(&w.next().await));
    w.create(WatchCreateRequest {
        watch_id: 7,
        filters: vec![FilterType::Noput as i32],
        ..create("x", "")
    })
    .await;
    out.push(shown(&w.next().await));
    w.create(WatchCreateRequest {
        watch_id: 7,
        ..create("y", "")
    })
    .await;
    out.push(shown(&w.next().await));
    w.create(create("b", "a")).await;
    out.push(shown(&w.next().await));
    // Events, one response per revision, prev_kv where asked.
    put(&c, "foo", "2").await; // 3
    out.push(shown(&w.next().await));
    put(&c, "p/a", "1").await; // 4
    out.push(shown(&w.next().await));
    put(&c, "p/a", "2").await; // 5
    out.push(shown(&w.next().await));
    // A filtered put sends nothing; the delete after it is the next answer.
    put(&c, "x", "1").await; // 6
    c.kv.clone()
        .delete_range(DeleteRangeRequest {
            key: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap(); // 7
    out.push(shown(&w.next().await));
    w.progress().await;
    out.push(shown(&w.next().await));
    // Cancel one, and an unknown id (ignored).
    w.cancel(0).await;
    out.push(shown(&w.next().await));
    w.cancel(99).await;
    put(&c, "foo", "3").await; // 8, watched by nobody now
                               // From history: both changes of foo in one response at the current
                               // revision; the next auto id skips none in use.
    w.create(WatchCreateRequest {
        start_revision: 3,
        ..create("foo", "")
    })
    .await;
    out.push(shown(&w.next().await));
    out.push(shown(&w.next().await));
    // A compacted start: created, then canceled with compact_revision.
    c.kv.clone()
        .compact(CompactionRequest {
            revision: 5,
            physical: true,
        })
        .await
        .unwrap();
    w.create(WatchCreateRequest {
        start_revision: 3,
        ..create("p/", "p0")
    })
    .await;
    out.push(shown(&w.next().await));
    out.push(shown(&w.next().await));
    // From-key watcher sees a later put; NODELETE filter keeps it.
    w.create(WatchCreateRequest {
        filters: vec![FilterType::Nodelete as i32],
        ..create("q", "\0")
    })
    .await;
    out.push(shown(&w.next().await));
    put(&c, "zz", "1").await; // 9
    out.push(shown(&w.next().await));
    out
}

#[tokio::test]
async fn watch_answers_as_etcd() {
    let out = both(watch_scenario).await;
    assert!(out[0].contains("watch_id: 0, created: true"), "{}", out[0]);
    assert!(out[2].contains("watch_id: 7, created: true"), "{}", out[2]);
    assert!(
        out[3].contains("mvcc: duplicate watch ID provided on the WatchStream"),
        "{}",
        out[3]
    );
    assert!(out[9].contains("watch_id: -1"), "progress: {}", out[9]);
    assert!(out[14].contains("compact_revision: 5"), "{}", out[14]);
}

/// The first `n` events a watcher receives, following every response.
async fn collect_events(w: &mut WatchStream, n: usize) -> Vec<i64> {
    let mut revs = Vec::new();
    while revs.len() < n {
        let r = w.next().await;
        assert!(!r.canceled, "{r:?}");
        revs.extend(r.events.iter().map(|e| e.kv.as_ref().unwrap().mod_revision));
    }
    revs
}

/// Many writes while the client does not read: every event arrives once,
/// in revision order, for each of several watchers on one stream.
#[tokio::test]
async fn events_in_order_without_gap_or_duplicate() {
    let server = TestServer::start().await;
    let c = Clients::connect(&server.endpoint()).await;
    let mut w = WatchStream::open(&c).await;
    w.create(create("k/", "k0")).await;
    w.create(WatchCreateRequest {
        prev_kv: true,
        ..create("k/", "k0")
    })
    .await;
    for _ in 0..2 {
        assert!(w.next().await.created);
    }
    const N: usize = 600;
    for i in 0..N {
        put(&c, &format!("k/{}", i % 7), &i.to_string()).await;
    }
    let mut per_watcher: [Vec<i64>; 2] = Default::default();
    while per_watcher.iter().any(|v| v.len() < N) {
        let r = w.next().await;
        per_watcher[r.watch_id as usize]
            .extend(r.events.iter().map(|e| e.kv.as_ref().unwrap().mod_revision));
    }
    let expected: Vec<i64> = (2..2 + N as i64).collect();
    assert_eq!(per_watcher[0], expected);
    assert_eq!(per_watcher[1], expected);
}

/// `progress_notify`: an empty response at each interval without events.
#[tokio::test]
async fn progress_notify_at_the_interval() {
    let server = TestServer::start_with(V3Options {
        progress_notify_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let c = Clients::connect(&server.endpoint()).await;
    put(&c, "a", "1").await;
    let mut w = WatchStream::open(&c).await;
    w.create(WatchCreateRequest {
        progress_notify: true,
        ..create("a", "")
    })
    .await;
    assert!(w.next().await.created);
    let r = w.next_within(5).await;
    assert!(r.events.is_empty() && !r.canceled, "{r:?}");
    assert_eq!(r.watch_id, 0);
    assert_eq!(r.header.unwrap().revision, 2);
    put(&c, "a", "2").await;
    // Progress notifications may precede it, but the event comes, in order.
    assert_eq!(collect_events(&mut w, 1).await, [3]);
}

/// A fragmenting watcher's catch-up larger than the receive limit arrives
/// in fragments; one that does not fragment gets it whole.
#[tokio::test]
async fn large_responses_fragment_when_asked() {
    let server = TestServer::start_with(V3Options {
        max_request_bytes: 4096,
        ..Default::default()
    })
    .await;
    let c = Clients::connect(&server.endpoint()).await;
    // 600 KB of history: more than the receive limit (4096 + 512 KiB) that
    // a response is measured against.
    for i in 0..200 {
        put(&c, &format!("f/{i:03}"), &"v".repeat(3000)).await;
    }
    let mut w = WatchStream::open(&c).await;
    w.create(WatchCreateRequest {
        start_revision: 2,
        fragment: true,
        ..create("f/", "f0")
    })
    .await;
    assert!(w.next().await.created);
    let mut parts = Vec::new();
    loop {
        let r = w.next().await;
        let more = r.fragment;
        parts.push(r.events.len());
        if !more {
            break;
        }
    }
    assert!(parts.len() > 1, "{parts:?}");
    assert_eq!(parts.iter().sum::<usize>(), 200);
    w.create(WatchCreateRequest {
        start_revision: 2,
        ..create("f/", "f0")
    })
    .await;
    assert!(w.next().await.created);
    let whole = w.next().await;
    assert!(!whole.fragment);
    assert_eq!(whole.events.len(), 200);
}
