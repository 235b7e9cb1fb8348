//! [`EventLog`]: a consensus member's recent committed events, served as
//! "everything after store index N" to the watch tier.
//!
//! The state machine publishes into it in index order (it is the member's
//! [`EventSink`] in the split deployment); each subscriber gets a replay of
//! the events it missed, then the new ones. A subscriber that falls more
//! than its buffer behind is dropped (its stream ends) and subscribes
//! again from the last index it saw, replayed from the log: a slow watch
//! service never holds up the member.

use std::collections::VecDeque;
use std::sync::Arc;

use concord_api::{Committed, EventSink, EventSource};
use concord_store::Event;
use parking_lot::Mutex;
use tokio::sync::mpsc;

/// Events kept for subscribers that reconnect (10 times etcd's watch
/// history, so a watch service that reconnects loses none of it).
pub const EVENT_LOG_CAPACITY: usize = 10_000;
/// How far a subscriber may fall behind before it is dropped.
pub const SUBSCRIBER_BUFFER: usize = 4096;

struct Inner {
    events: VecDeque<Arc<Event>>,
    /// The store index of the last event (or of the last reset).
    current: u64,
    subscribers: Vec<Subscriber>,
}

struct Subscriber {
    tx: mpsc::Sender<Committed>,
    /// Events up to this index are not sent: a subscriber that saw more
    /// than this member has applied yet (it followed a member further
    /// ahead) waits for this one to catch up instead of seeing an event
    /// twice.
    skip_to: u64,
}

/// A member's recent committed events and their live subscribers.
pub struct EventLog {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl EventLog {
    /// An empty log whose store is at `store_index`.
    pub fn new(store_index: u64) -> EventLog {
        Self::with_capacity(store_index, EVENT_LOG_CAPACITY)
    }

    pub fn with_capacity(store_index: u64, capacity: usize) -> EventLog {
        EventLog {
            inner: Mutex::new(Inner {
                events: VecDeque::new(),
                current: store_index,
                subscribers: Vec::new(),
            }),
            capacity: capacity.max(1),
        }
    }
}

impl EventSink for EventLog {
    fn publish(&self, event: Arc<Event>) {
        let mut inner = self.inner.lock();
        inner.current = inner.current.max(event.etcd_index);
        if inner.events.len() == self.capacity {
            inner.events.pop_front();
        }
        inner.events.push_back(event.clone());
        // Full or gone: dropped; a full one resubscribes from its index.
        inner.subscribers.retain(|s| {
            event.etcd_index <= s.skip_to || s.tx.try_send(Committed::Event(event.clone())).is_ok()
        });
    }

    fn reset(&self, store_index: u64) {
        let mut inner = self.inner.lock();
        inner.events.clear();
        inner.current = store_index;
        inner.subscribers.retain_mut(|s| {
            s.skip_to = 0;
            s.tx.try_send(Committed::Reset(store_index)).is_ok()
        });
    }
}

impl EventSource for EventLog {
    fn subscribe(&self, after_index: u64) -> mpsc::Receiver<Committed> {
        let mut inner = self.inner.lock();
        let first = inner.events.front().map(|e| e.etcd_index);
        let replay: Vec<Committed> = if after_index >= inner.current {
            Vec::new()
        } else if first.is_some_and(|f| f <= after_index + 1) {
            inner
                .events
                .iter()
                .filter(|e| e.etcd_index > after_index)
                .map(|e| Committed::Event(e.clone()))
                .collect()
        } else {
            // The events right after `after_index` are gone: the
            // subscriber restarts its history from here.
            vec![Committed::Reset(inner.current)]
        };
        let skip_to = after_index.max(inner.current);
        add_subscriber(&mut inner, replay, skip_to)
    }

    fn subscribe_from_now(&self) -> mpsc::Receiver<Committed> {
        let mut inner = self.inner.lock();
        let current = inner.current;
        add_subscriber(&mut inner, vec![Committed::Reset(current)], current)
    }
}

/// Registers a subscriber that first gets `replay`, then the events above
/// `skip_to` (called under the log's lock, so nothing falls in between).
fn add_subscriber(
    inner: &mut Inner,
    replay: Vec<Committed>,
    skip_to: u64,
) -> mpsc::Receiver<Committed> {
    let (tx, rx) = mpsc::channel(replay.len() + SUBSCRIBER_BUFFER);
    for c in replay {
        // The channel has room for the whole replay.
        let _ = tx.try_send(c);
    }
    inner.subscribers.push(Subscriber { tx, skip_to });
    rx
}
