//! The v2 store, operation by operation, as etcd's v2store tests check it:
//! events, indices, errors with their causes, TTLs, hidden and in-order keys.

use concord_store::{Action, Applied, Command, ErrorCode, Event, EventHistory, Store};
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn set(key: &str, value: &str) -> Command {
    Command::Set {
        key: key.into(),
        dir: false,
        value: value.into(),
        ttl: None,
        refresh: false,
    }
}
fn set_ttl(key: &str, value: &str, ttl: u64) -> Command {
    Command::Set {
        key: key.into(),
        dir: false,
        value: value.into(),
        ttl: Some(ttl),
        refresh: false,
    }
}
fn mkdir(key: &str) -> Command {
    Command::Set {
        key: key.into(),
        dir: true,
        value: String::new(),
        ttl: None,
        refresh: false,
    }
}
fn ok(s: &mut Store, c: Command) -> Event {
    match s.apply(&c, T0) {
        Applied::Write(Ok(e)) => e,
        other => panic!("{c:?} failed: {other:?}"),
    }
}
fn fail(s: &mut Store, c: Command) -> concord_store::Error {
    match s.apply(&c, T0) {
        Applied::Write(Err(e)) => e,
        other => panic!("{c:?} should fail: {other:?}"),
    }
}

#[test]
fn set_then_get_and_overwrite() {
    let mut s = Store::new();
    let e = ok(&mut s, set("/foo", "bar"));
    assert_eq!(
        (e.action, e.node.key.as_str(), e.node.value.as_deref()),
        (Action::Set, "/foo", Some("bar"))
    );
    assert_eq!(
        (e.node.created_index, e.node.modified_index, e.etcd_index),
        (1, 1, 1)
    );
    assert!(e.prev_node.is_none() && e.is_created());
    let e = ok(&mut s, set("/foo", "baz"));
    assert_eq!(e.node.created_index, 2, "set makes a new node");
    assert_eq!(e.prev_node.as_ref().unwrap().value.as_deref(), Some("bar"));
    assert!(!e.is_created());
    let g = s.get("/foo", false, false, T0).unwrap();
    assert_eq!(
        (g.action, g.node.value.as_deref(), g.etcd_index),
        (Action::Get, Some("baz"), 2)
    );
    assert_eq!(
        serde_json::to_string(&g).unwrap(),
        r#"{"action":"get","node":{"key":"/foo","value":"baz","modifiedIndex":2,"createdIndex":2}}"#
    );
}

#[test]
fn missing_keys_and_files_in_the_way() {
    let mut s = Store::new();
    ok(&mut s, set("/a/b", "1"));
    let e = s.get("/a/x/y", false, false, T0).unwrap_err();
    assert_eq!(
        (e.code, e.cause.as_str(), e.index),
        (ErrorCode::KeyNotFound, "/a/x", 1)
    );
    let e = s.get("/a/b/c", false, false, T0).unwrap_err();
    assert_eq!((e.code, e.cause.as_str()), (ErrorCode::NotDir, "/a/b"));
    let e = fail(&mut s, set("/a/b/c", "1"));
    assert_eq!((e.code, e.cause.as_str()), (ErrorCode::NotDir, "/a/b"));
    assert_eq!(s.index(), 1, "failed writes do not consume an index");
}

#[test]
fn directories_list_sorted_and_recursive_and_hide_underscores() {
    let mut s = Store::new();
    ok(&mut s, set("/d/b", "2"));
    ok(&mut s, set("/d/a", "1"));
    ok(&mut s, set("/d/_hidden", "h"));
    ok(&mut s, set("/d/sub/x", "3"));
    let g = s.get("/d", false, true, T0).unwrap();
    assert!(g.node.dir);
    let keys: Vec<_> = g.node.nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys, ["/d/a", "/d/b", "/d/sub"]);
    assert!(
        g.node.nodes[2].nodes.is_empty(),
        "non-recursive lists one level"
    );
    let g = s.get("/d", true, true, T0).unwrap();
    assert_eq!(g.node.nodes[2].nodes[0].key, "/d/sub/x");
    assert_eq!(
        s.get("/d/_hidden", false, false, T0)
            .unwrap()
            .node
            .value
            .as_deref(),
        Some("h")
    );
    // Auto-created directory got the index of the write that made it.
    assert_eq!(g.node.created_index, 1);
    let root = s.get("/", false, false, T0).unwrap();
    assert_eq!(root.node.key, "", "the root has no key");
}

#[test]
fn create_update_and_root_is_read_only() {
    let mut s = Store::new();
    let c = |key: &str| Command::Create {
        key: key.into(),
        dir: false,
        value: "v".into(),
        unique: false,
        ttl: None,
    };
    let e = ok(&mut s, c("/k"));
    assert_eq!(e.action, Action::Create);
    let e = fail(&mut s, c("/k"));
    assert_eq!(
        (e.code, e.cause.as_str(), e.index),
        (ErrorCode::NodeExist, "/k", 1)
    );
    let u = |key: &str, v: &str| Command::Update {
        key: key.into(),
        value: v.into(),
        ttl: None,
        refresh: false,
    };
    let e = ok(&mut s, u("/k", "w"));
    assert_eq!(
        (e.action, e.node.created_index, e.node.modified_index),
        (Action::Update, 1, 2)
    );
    assert_eq!(fail(&mut s, u("/nope", "w")).code, ErrorCode::KeyNotFound);
    assert_eq!(fail(&mut s, set("/", "x")).code, ErrorCode::RootReadOnly);
    assert_eq!(
        fail(
            &mut s,
            Command::Delete {
                key: "/".into(),
                dir: true,
                recursive: true
            }
        )
        .cause,
        "/"
    );
    ok(&mut s, mkdir("/dir"));
    assert_eq!(fail(&mut s, set("/dir", "x")).code, ErrorCode::NotFile);
}

#[test]
fn in_order_keys_are_named_after_the_index() {
    let mut s = Store::new();
    ok(&mut s, set("/other", "x"));
    let post = Command::Create {
        key: "/q".into(),
        dir: false,
        value: "job".into(),
        unique: true,
        ttl: None,
    };
    let e = ok(&mut s, post.clone());
    assert_eq!(e.node.key, "/q/00000000000000000002");
    let e = ok(&mut s, post);
    assert_eq!(e.node.key, "/q/00000000000000000003");
}

#[test]
fn compare_and_swap_and_delete() {
    let mut s = Store::new();
    ok(&mut s, set("/k", "one"));
    let cas = |pv: &str, pi: u64| Command::CompareAndSwap {
        key: "/k".into(),
        prev_value: pv.into(),
        prev_index: pi,
        value: "two".into(),
        ttl: None,
        refresh: false,
    };
    assert_eq!(fail(&mut s, cas("nope", 0)).cause, "[nope != one]");
    assert_eq!(fail(&mut s, cas("", 7)).cause, "[7 != 1]");
    assert_eq!(fail(&mut s, cas("nope", 7)).cause, "[nope != one] [7 != 1]");
    let e = ok(&mut s, cas("one", 1));
    assert_eq!(
        (e.action, e.node.value.as_deref(), e.node.created_index),
        (Action::CompareAndSwap, Some("two"), 1)
    );
    ok(&mut s, mkdir("/d"));
    let e = fail(
        &mut s,
        Command::CompareAndSwap {
            key: "/d".into(),
            prev_value: "x".into(),
            prev_index: 0,
            value: "y".into(),
            ttl: None,
            refresh: false,
        },
    );
    assert_eq!(e.code, ErrorCode::NotFile);
    let cad = |pv: &str| Command::CompareAndDelete {
        key: "/k".into(),
        prev_value: pv.into(),
        prev_index: 0,
    };
    assert_eq!(fail(&mut s, cad("one")).code, ErrorCode::TestFailed);
    let e = ok(&mut s, cad("two"));
    assert_eq!(e.action, Action::CompareAndDelete);
    assert!(e.node.value.is_none());
    assert_eq!(
        s.get("/k", false, false, T0).unwrap_err().code,
        ErrorCode::KeyNotFound
    );
    let st = s.stats();
    assert_eq!(
        (
            st.compare_and_swap_fail,
            st.compare_and_swap_success,
            st.compare_and_delete_fail,
            st.compare_and_delete_success
        ),
        (4, 1, 1, 1)
    );
}

#[test]
fn delete_rules_for_directories() {
    let mut s = Store::new();
    ok(&mut s, set("/d/a", "1"));
    let del = |dir, recursive| Command::Delete {
        key: "/d".into(),
        dir,
        recursive,
    };
    assert_eq!(fail(&mut s, del(false, false)).code, ErrorCode::NotFile);
    assert_eq!(fail(&mut s, del(true, false)).code, ErrorCode::DirNotEmpty);
    let e = ok(&mut s, del(false, true));
    assert!(e.node.dir && e.prev_node.as_ref().unwrap().dir);
    assert_eq!(s.get("/d/a", false, false, T0).unwrap_err().cause, "/d");
}

#[test]
fn ttl_fields_expiry_refresh_and_removal() {
    let mut s = Store::new();
    let e = ok(&mut s, set_ttl("/t", "v", 10));
    assert_eq!(e.node.ttl, 10);
    assert_eq!(e.node.expiration, Some(T0 + 10 * SEC));
    // ttl is rounded up against the time of the read.
    assert_eq!(
        s.get("/t", false, false, T0 + 3 * SEC + 1)
            .unwrap()
            .node
            .ttl,
        7
    );
    assert_eq!(s.next_expiry(), Some(T0 + 10 * SEC));
    // refresh keeps the value, moves the expiry, and is marked for watchers.
    let r = Command::Update {
        key: "/t".into(),
        value: String::new(),
        ttl: Some(20),
        refresh: true,
    };
    let e = ok(&mut s, r);
    assert!(e.refresh);
    assert_eq!(e.node.value.as_deref(), Some("v"));
    assert_eq!(s.next_expiry(), Some(T0 + 20 * SEC));
    // Nothing expires before its time.
    match s.apply(&Command::ExpireKeys, T0 + 19 * SEC) {
        Applied::Expired(v) => assert!(v.is_empty()),
        other => panic!("{other:?}"),
    }
    let before = s.index();
    match s.apply(&Command::ExpireKeys, T0 + 20 * SEC) {
        Applied::Expired(v) => {
            assert_eq!(v.len(), 1);
            assert_eq!(
                (v[0].action, v[0].node.key.as_str(), v[0].etcd_index),
                (Action::Expire, "/t", before + 1)
            );
            assert_eq!(v[0].prev_node.as_ref().unwrap().value.as_deref(), Some("v"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.stats().expire_count, 1);
    assert_eq!(s.next_expiry(), None);
    // ttl= with prevExist=true removes the TTL.
    ok(&mut s, set_ttl("/p", "v", 5));
    ok(
        &mut s,
        Command::Update {
            key: "/p".into(),
            value: "v".into(),
            ttl: None,
            refresh: false,
        },
    );
    assert_eq!(s.next_expiry(), None);
    assert_eq!(s.get("/p", false, false, T0).unwrap().node.ttl, 0);
    // A refresh of a missing key fails.
    let e = fail(
        &mut s,
        Command::Set {
            key: "/missing".into(),
            dir: false,
            value: String::new(),
            ttl: Some(5),
            refresh: true,
        },
    );
    assert_eq!(e.code, ErrorCode::KeyNotFound);
}

#[test]
fn expiring_a_directory_removes_its_children() {
    let mut s = Store::new();
    ok(
        &mut s,
        Command::Set {
            key: "/d".into(),
            dir: true,
            value: String::new(),
            ttl: Some(1),
            refresh: false,
        },
    );
    ok(&mut s, set_ttl("/d/a", "1", 100));
    match s.apply(&Command::ExpireKeys, T0 + SEC) {
        Applied::Expired(v) => assert_eq!(v.len(), 1, "one event for the directory"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.next_expiry(), None, "the child's TTL went with it");
}

#[test]
fn save_and_recover_round_trip() {
    let mut s = Store::new();
    for i in 0..100 {
        ok(&mut s, set(&format!("/k/{i}"), &format!("v{i}")));
    }
    ok(&mut s, set_ttl("/t", "x", 30));
    let r = Store::recover(&s.save()).unwrap();
    assert_eq!(r.index(), s.index());
    assert_eq!(r.next_expiry(), s.next_expiry());
    assert_eq!(
        r.get("/k", true, true, T0).unwrap(),
        s.get("/k", true, true, T0).unwrap()
    );
    assert!(Store::recover(b"garbage").is_err());
}

#[test]
fn history_scan_and_cleared_window() {
    let mut s = Store::new();
    let mut h = EventHistory::new(5);
    for i in 0..8 {
        h.add(Arc::new(ok(&mut s, set(&format!("/w/{}", i % 2), "v"))));
    }
    assert_eq!((h.start_index(), h.last_index()), (4, 8));
    let e = h.scan("/w/0", false, 4).unwrap().unwrap();
    assert_eq!(e.index(), 5);
    let e = h.scan("/w", true, 6).unwrap().unwrap();
    assert_eq!(e.index(), 6);
    assert!(h.scan("/w/1", false, 9).unwrap().is_none());
    let err = h.scan("/w/0", false, 2).unwrap_err();
    assert_eq!(
        (err.code, err.cause.as_str()),
        (
            ErrorCode::EventIndexCleared,
            "the requested history has been cleared [4/2]"
        )
    );
}

#[test]
fn bad_paths_are_cleaned() {
    let mut s = Store::new();
    let e = ok(&mut s, set("a//b/./c/../d/", "v"));
    assert_eq!(e.node.key, "/a/b/d");
}
