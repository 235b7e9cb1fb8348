//! The watch hub's delivery rules, as etcd's watcher hub applies them.

use std::sync::Arc;

use concord_api::{EventSink, Watch};
use concord_store::{Action, ErrorCode};
use concord_watch::{WatchHub, WATCHER_BUFFER};

mod support;
use support::{ev, req};

#[tokio::test]
async fn watch_from_now_gets_the_next_change_only() {
    let hub = WatchHub::new(10);
    let mut w = hub.watch(req("/a", false, false, None)).await.unwrap();
    assert_eq!(w.start_index, 10);
    assert_eq!(hub.watcher_count().await.unwrap(), 1);
    hub.publish(ev(Action::Set, "/b", 11, false));
    assert!(w.events.try_recv().is_err(), "other key delivered");
    hub.publish(ev(Action::Set, "/a", 12, false));
    assert_eq!(w.events.recv().await.unwrap().index(), 12);
    // One-shot: the hub dropped it, so the channel is closed.
    assert!(w.events.recv().await.is_none());
    assert_eq!(hub.watcher_count().await.unwrap(), 0);
}

#[tokio::test]
async fn recursive_watch_sees_children_but_not_hidden_ones() {
    let hub = WatchHub::new(0);
    let mut rec = hub.watch(req("/d", true, true, None)).await.unwrap();
    let mut plain = hub.watch(req("/d", false, true, None)).await.unwrap();
    let mut hidden = hub.watch(req("/d/_h", false, false, None)).await.unwrap();
    hub.publish(ev(Action::Set, "/d/_h", 1, false));
    hub.publish(ev(Action::Set, "/d/x/y", 2, false));
    assert_eq!(rec.events.recv().await.unwrap().node.key, "/d/x/y");
    assert!(plain.events.try_recv().is_err());
    assert_eq!(hidden.events.recv().await.unwrap().node.key, "/d/_h");
}

#[tokio::test]
async fn deleting_a_directory_ends_watches_below_it() {
    let hub = WatchHub::new(0);
    let mut below = hub.watch(req("/d/x/y", false, false, None)).await.unwrap();
    let mut beside = hub.watch(req("/e", false, false, None)).await.unwrap();
    hub.publish(ev(Action::Delete, "/d", 1, true));
    let e = below.events.recv().await.unwrap();
    assert_eq!((e.action, e.node.key.as_str()), (Action::Delete, "/d"));
    assert!(beside.events.try_recv().is_err());
}

#[tokio::test]
async fn wait_index_replays_history_and_401s_when_cleared() {
    let hub = WatchHub::new(0);
    for i in 1..=1500u64 {
        hub.publish(ev(Action::Set, &format!("/k{}", i % 3), i, false));
    }
    let mut w = hub
        .watch(req("/k1", false, false, Some(1400)))
        .await
        .unwrap();
    assert_eq!(w.start_index, 1500);
    assert_eq!(w.events.recv().await.unwrap().index(), 1402);
    let err = match hub.watch(req("/k1", false, false, Some(3))).await {
        Err(concord_api::ApiError::Store(e)) => e,
        other => panic!("expected 401, got {:?}", other.map(|w| w.start_index)),
    };
    assert_eq!(err.code, ErrorCode::EventIndexCleared);
    assert_eq!(err.cause, "the requested history has been cleared [501/3]");
    // A future waitIndex waits.
    let mut f = hub
        .watch(req("/k2", false, false, Some(1600)))
        .await
        .unwrap();
    hub.publish(ev(Action::Set, "/k2", 1501, false));
    assert!(f.events.try_recv().is_err());
}

#[tokio::test]
async fn refresh_is_invisible_and_slow_stream_is_dropped() {
    let hub = WatchHub::new(0);
    let mut s = hub.watch(req("/r", false, true, None)).await.unwrap();
    let mut refresh = (*ev(Action::Set, "/r", 1, false)).clone();
    refresh.refresh = true;
    hub.publish(Arc::new(refresh));
    assert!(s.events.try_recv().is_err(), "refresh delivered");
    assert_eq!(hub.current_index(), 1);
    // Never read: after WATCHER_BUFFER events the watcher is dropped.
    for i in 0..(WATCHER_BUFFER as u64 + 5) {
        hub.publish(ev(Action::Set, "/r", i + 2, false));
    }
    let mut got = 0;
    while s.events.recv().await.is_some() {
        got += 1;
    }
    assert_eq!(got, WATCHER_BUFFER);
}

#[tokio::test]
async fn reset_closes_watchers() {
    let hub = WatchHub::new(0);
    let mut w = hub.watch(req("/a", true, true, None)).await.unwrap();
    hub.reset(500);
    assert!(w.events.recv().await.is_none());
    assert_eq!(hub.current_index(), 500);
}
