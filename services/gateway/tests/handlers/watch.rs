//! `/v2/keys?wait=true`: long polls from now and from a `waitIndex`,
//! recursive and not, every action, streams, and a history cleared, as
//! etcd 3.4.23 answered them on a fresh member (index 3). A watch's
//! `X-Etcd-Index` is the index when it started.

use crate::fakes::Fixture;

/// A waitIndex the history holds: the first change of the key at or after
/// it, at once. (The fakes' history starts at 3, etcd's at 1 with its own
/// members' writes, so no waitIndex below 4 is asked.)
#[tokio::test]
async fn a_wait_index_in_history_answers_at_once() {
    let fx = Fixture::new();
    fx.form("PUT", "/v2/keys/w", "value=0").await;
    fx.form("PUT", "/v2/keys/other", "value=0").await;
    fx.form("PUT", "/v2/keys/w", "value=1").await;
    let w = fx.watch("/v2/keys/w?wait=true&waitIndex=4").await;
    w.head.is(200, 6, "").raft(7);
    assert_eq!(
        w.event().await,
        r#"{"action":"set","node":{"key":"/w","value":"0","modifiedIndex":4,"createdIndex":4}}"#
    );
    let w = fx.watch("/v2/keys/w?wait=true&waitIndex=5").await;
    w.head.is(200, 6, "").raft(7);
    assert_eq!(
        w.event().await,
        r#"{"action":"set","node":{"key":"/w","value":"1","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/w","value":"0","modifiedIndex":4,"createdIndex":4}}"#
    );
}

/// A long poll from now: the watch, the store index it starts at, the
/// writes made while it waits, and the one event it gets.
type Poll<'a> = (&'a str, u64, &'a [(&'a str, &'a str, &'a str)], &'a str);

/// Each write a watcher from now sees, in the order etcd's recording made
/// them: its key's set, a write below a recursive watch, a directory's
/// deletion (not the change below it, for a watch that is not recursive),
/// compare-and-swap, delete, create.
#[rustfmt::skip]
const FROM_NOW: &[Poll] = &[
    ("/v2/keys/w?wait=true", 5, &[("PUT", "/v2/keys/w", "value=1")], r#"{"action":"set","node":{"key":"/w","value":"1","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/w","value":"0","modifiedIndex":4,"createdIndex":4}}"#),
    ("/v2/keys/dir?wait=true&recursive=true", 6, &[("PUT", "/v2/keys/dir/x/y", "value=1")], r#"{"action":"set","node":{"key":"/dir/x/y","value":"1","modifiedIndex":7,"createdIndex":7}}"#),
    ("/v2/keys/dir?wait=true", 7, &[("PUT", "/v2/keys/dir/x/z", "value=1"), ("DELETE", "/v2/keys/dir?recursive=true", "")], r#"{"action":"delete","node":{"key":"/dir","dir":true,"modifiedIndex":9,"createdIndex":7},"prevNode":{"key":"/dir","dir":true,"modifiedIndex":7,"createdIndex":7}}"#),
    ("/v2/keys/w?wait=true", 9, &[("PUT", "/v2/keys/w", "value=2&prevValue=1")], r#"{"action":"compareAndSwap","node":{"key":"/w","value":"2","modifiedIndex":10,"createdIndex":6},"prevNode":{"key":"/w","value":"1","modifiedIndex":6,"createdIndex":6}}"#),
    ("/v2/keys/w?wait=true", 10, &[("DELETE", "/v2/keys/w", "")], r#"{"action":"delete","node":{"key":"/w","modifiedIndex":11,"createdIndex":6},"prevNode":{"key":"/w","value":"2","modifiedIndex":10,"createdIndex":6}}"#),
    ("/v2/keys/w?wait=true", 11, &[("PUT", "/v2/keys/w", "value=3&prevExist=false")], r#"{"action":"create","node":{"key":"/w","value":"3","modifiedIndex":12,"createdIndex":12}}"#),
];

#[tokio::test]
async fn a_watch_from_now_gets_the_next_change_of_its_key() {
    let fx = Fixture::new();
    fx.form("PUT", "/v2/keys/w", "value=0").await;
    fx.form("PUT", "/v2/keys/other", "value=0").await;
    for &(uri, start, writes, event) in FROM_NOW {
        let w = fx.watch(uri).await;
        w.head.is(200, start, "").raft(start + 1);
        for &(method, key, form) in writes {
            fx.form(method, key, form).await;
        }
        assert_eq!(w.event().await, event, "{uri}");
    }

    // A key's watcher hears its parent's deletion.
    fx.form("PUT", "/v2/keys/par/child", "value=1").await;
    let w = fx.watch("/v2/keys/par/child?wait=true").await;
    w.head.is(200, 13, "");
    fx.form("DELETE", "/v2/keys/par?recursive=true", "").await;
    assert_eq!(
        w.event().await,
        r#"{"action":"delete","node":{"key":"/par","dir":true,"modifiedIndex":14,"createdIndex":13},"prevNode":{"key":"/par","dir":true,"modifiedIndex":13,"createdIndex":13}}"#
    );

    // A waitIndex ahead of the store: the first change at or after it.
    let w = fx.watch("/v2/keys/w?wait=true&waitIndex=100").await;
    w.head.is(200, 14, "").raft(15);
    fx.form("PUT", "/v2/keys/w", "value=4").await;
    for i in 0..90 {
        fx.form("PUT", "/v2/keys/fill", &format!("value={i}")).await;
    }
    fx.form("PUT", "/v2/keys/w", "value=5").await;
    assert_eq!(
        w.event().await,
        r#"{"action":"set","node":{"key":"/w","value":"5","modifiedIndex":106,"createdIndex":106},"prevNode":{"key":"/w","value":"4","modifiedIndex":15,"createdIndex":15}}"#
    );
}

/// `stream=true`: every change of the key, one line each, and the watch
/// stays open.
#[tokio::test]
async fn a_stream_gets_every_change() {
    let fx = Fixture::new();
    let mut w = fx.watch("/v2/keys/s?wait=true&stream=true").await;
    w.head.is(200, 3, "").raft(4);
    fx.form("PUT", "/v2/keys/s", "value=1").await;
    fx.form("PUT", "/v2/keys/other", "value=1").await;
    fx.form("PUT", "/v2/keys/s", "value=2").await;
    assert_eq!(
        w.next().await.unwrap(),
        r#"{"action":"set","node":{"key":"/s","value":"1","modifiedIndex":4,"createdIndex":4}}"#
    );
    assert_eq!(
        w.next().await.unwrap(),
        r#"{"action":"set","node":{"key":"/s","value":"2","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/s","value":"1","modifiedIndex":4,"createdIndex":4}}"#
    );
    // Still open: it counts as a watcher.
    let stats = fx.get("/v2/stats/store").await.body;
    assert!(stats.ends_with(r#""watchers":1}"#), "{stats}");
}

/// etcd keeps the last 1000 events: an older waitIndex is errorCode 401.
#[tokio::test]
async fn a_wait_index_older_than_the_history_is_401() {
    let fx = Fixture::new();
    fx.form("PUT", "/v2/keys/s", "value=1").await;
    fx.form("PUT", "/v2/keys/other", "value=1").await;
    fx.form("PUT", "/v2/keys/s", "value=2").await;
    for i in 0..1000 {
        fx.form("PUT", "/v2/keys/fill", &format!("value={i}")).await;
    }
    fx.get("/v2/keys/s?wait=true&waitIndex=4").await.is(
        400,
        1006,
        r#"{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [7/4]","index":1006}"#,
    );
    fx.get("/v2/keys/s?wait=true&waitIndex=6").await.is(
        400,
        1006,
        r#"{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [7/6]","index":1006}"#,
    );
    let w = fx.watch("/v2/keys/fill?wait=true&waitIndex=7").await;
    w.head.is(200, 1006, "");
    assert_eq!(
        w.event().await,
        r#"{"action":"set","node":{"key":"/fill","value":"0","modifiedIndex":7,"createdIndex":7}}"#
    );
}
