//! [`EventLog`]: what a subscriber gets after an index, resets when the
//! events are no longer held, and dropping a subscriber that falls behind.

use concord_api::{Committed, EventSink, EventSource};
use concord_watch::{EventLog, SUBSCRIBER_BUFFER};
use tokio::sync::mpsc;

mod support;
use support::set;

fn indexes(rx: &mut mpsc::Receiver<Committed>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(c) = rx.try_recv() {
        out.push(match c {
            Committed::Event(e) => e.etcd_index.to_string(),
            Committed::Reset(i) => format!("reset {i}"),
        });
    }
    out
}

#[test]
fn a_subscriber_gets_what_it_missed_then_what_comes() {
    let log = EventLog::with_capacity(0, 5);
    for i in 1..=3 {
        log.publish(set("/k", i));
    }
    let mut rx = log.subscribe(1);
    log.publish(set("/k", 4));
    assert_eq!(indexes(&mut rx), ["2", "3", "4"]);
    let mut now = log.subscribe(4);
    log.publish(set("/k", 5));
    assert_eq!(indexes(&mut now), ["5"]);
}

#[test]
fn events_no_longer_held_start_with_a_reset() {
    let log = EventLog::with_capacity(0, 3);
    for i in 1..=6 {
        log.publish(set("/k", i));
    }
    // Held: 4, 5, 6. After 3 is complete; after 2 is not.
    assert_eq!(indexes(&mut log.subscribe(3)), ["4", "5", "6"]);
    assert_eq!(indexes(&mut log.subscribe(2)), ["reset 6"]);
    let mut rx = log.subscribe(6);
    log.reset(40);
    log.publish(set("/k", 41));
    assert_eq!(indexes(&mut rx), ["reset 40", "41"]);
}

#[test]
fn a_subscriber_that_falls_behind_is_dropped() {
    let log = EventLog::with_capacity(0, 10 * SUBSCRIBER_BUFFER);
    let mut rx = log.subscribe(0);
    for i in 1..=(SUBSCRIBER_BUFFER as u64 + 1) {
        log.publish(set("/k", i));
    }
    let got = indexes(&mut rx);
    assert_eq!(got.len(), SUBSCRIBER_BUFFER);
    // Its channel is closed; it resubscribes from its last index.
    assert!(rx.try_recv().is_err());
    let last = SUBSCRIBER_BUFFER as u64;
    assert_eq!(indexes(&mut log.subscribe(last)), [(last + 1).to_string()]);
}

#[test]
fn from_now_starts_with_a_reset_at_the_current_index() {
    let log = EventLog::with_capacity(0, 5);
    for i in 1..=3 {
        log.publish(set("/k", i));
    }
    let mut rx = log.subscribe_from_now();
    log.publish(set("/k", 4));
    assert_eq!(indexes(&mut rx), ["reset 3", "4"]);
}

#[test]
fn a_subscriber_ahead_of_the_member_waits_for_it() {
    // It saw up to 5 on another member; this one has applied 3.
    let log = EventLog::with_capacity(0, 10);
    for i in 1..=3 {
        log.publish(set("/k", i));
    }
    let mut rx = log.subscribe(5);
    for i in 4..=7 {
        log.publish(set("/k", i));
    }
    assert_eq!(indexes(&mut rx), ["6", "7"]);
}
