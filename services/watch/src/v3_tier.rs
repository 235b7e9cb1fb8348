//! The watch tier's v3 hub: etcd's `Watch` served from concord-watch
//! instead of the members, so the v3 watch fan-out grows with watch
//! replicas, not members.
//!
//! [`follow_members`] follows the members' keyspace with one
//! whole-keyspace watch (`GrpcKeyspace`, which resumes on the next member
//! from the next revision) and applies each revision to a [`V3Window`]:
//! the last [`WINDOW_REVISIONS`] revisions' changes (fewer when they
//! weigh more than [`WINDOW_BYTES`]). The member's own hub,
//! [`V3Watchers`], runs over that window: watchers in step are handed each
//! revision as it arrives, the others catch up from the window.
//!
//! [`V3Tier`] is the `KeyspaceV3` the tier's `Watch` service (concord-v3rpc)
//! runs over. What the window cannot answer goes to the members, so every
//! answer is still the members' own: a start revision older than the
//! window (or one the members compacted away), a watcher that fell so far
//! behind that the window moved past it, and every watch before the window
//! has started are relayed to a member's watch from the watcher's next
//! revision. A compacted answer therefore only ever comes from the
//! members' real compaction.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concord_api::v3::mvcc::{self, Event, History, KeySpan};
use concord_api::v3::{
    Access, KeyspaceV3, V3Answer, V3HashKv, V3Header, V3Status, V3WatchControl, V3WatchItem,
    V3WatchSpec, V3Watcher,
};
use concord_api::ApiError;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::v3_watchers::{V3Watchers, WatchHistory};

/// Revisions of changes the window holds (about 10,000 writes: a watcher
/// may start that far back, or fall that far behind, before it is relayed
/// to the members).
pub const WINDOW_REVISIONS: usize = 10_000;

/// Bytes of keys and values (previous values included) the window holds
/// at most: large values make it shorter rather than the replica larger
/// (10,000 revisions of 1.5 MiB puts would be 30 GiB).
pub const WINDOW_BYTES: usize = 64 << 20;

/// Items queued per watcher between the hub (or the relay) and the
/// watcher's stream.
const WATCHER_QUEUE: usize = 64;

/// Pause before the members are asked again after a failure.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The members' recent revisions: every change of revisions
/// `first..=revision`, in order.
#[derive(Debug, Default)]
pub struct V3Window {
    /// The oldest revision held (`revision + 1` while none is).
    first: i64,
    revision: i64,
    revisions: VecDeque<(i64, Vec<Event>)>,
    capacity: usize,
    max_bytes: usize,
    /// Bytes of keys and values held.
    bytes: usize,
}

/// What a revision's changes weigh in the window.
fn weight(events: &[Event]) -> usize {
    events
        .iter()
        .map(|e| {
            let prev = e
                .prev_kv
                .as_ref()
                .map_or(0, |p| p.key.len() + p.value.len());
            e.kv.key.len() + e.kv.value.len() + prev
        })
        .sum()
}

/// Why a revision could not be added to the window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("revision {got} does not follow the window's revision {revision}")]
    OutOfOrder { revision: i64, got: i64 },
    #[error("revision {0} came with no changes")]
    NoEvents(i64),
}

impl V3Window {
    /// An empty window whose next revision is `after + 1`, holding at
    /// most `capacity` revisions and `max_bytes` of keys and values (the
    /// last revision always).
    pub fn new(after: i64, capacity: usize, max_bytes: usize) -> V3Window {
        V3Window {
            first: after + 1,
            revision: after,
            revisions: VecDeque::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
        }
    }

    /// The oldest revision held (`revision() + 1` while empty).
    pub fn first(&self) -> i64 {
        self.first
    }

    /// Adds the changes of the revision after the last one, dropping the
    /// oldest revision once over capacity.
    pub fn push(&mut self, revision: i64, events: Vec<Event>) -> Result<(), WindowError> {
        if revision != self.revision + 1 {
            return Err(WindowError::OutOfOrder {
                revision: self.revision,
                got: revision,
            });
        }
        if events.is_empty() {
            return Err(WindowError::NoEvents(revision));
        }
        self.bytes += weight(&events);
        self.revisions.push_back((revision, events));
        self.revision = revision;
        while self.revisions.len() > self.capacity
            || (self.bytes > self.max_bytes && self.revisions.len() > 1)
        {
            if let Some((_, old)) = self.revisions.pop_front() {
                self.bytes -= weight(&old);
            }
        }
        self.first = self.revisions.front().map_or(revision + 1, |r| r.0);
        Ok(())
    }
}

impl WatchHistory for V3Window {
    fn revision(&self) -> i64 {
        self.revision
    }

    /// `Compacted` (with the revision before the oldest held) for a start
    /// older than the window: [`V3Tier`] relays such a watcher to the
    /// members, who give the real answer.
    fn events_since(&self, key: &[u8], range_end: &[u8], start: i64, limit: usize) -> History {
        if start > 0 && start < self.first {
            return History::Compacted {
                compact_revision: self.first - 1,
            };
        }
        let mut events = Vec::new();
        if start <= 0 || start > self.revision {
            return History::Events(events);
        }
        let span = KeySpan::new(key, range_end);
        let skip = (start - self.first) as usize;
        for (_, changes) in self.revisions.iter().skip(skip) {
            if limit > 0 && events.len() >= limit {
                break;
            }
            events.extend(changes.iter().filter(|e| span.contains(&e.kv.key)).cloned());
        }
        History::Events(events)
    }
}

/// The tier's v3 keyspace: watches from the window (or relayed), anything
/// else to the members.
pub struct V3Tier {
    /// The members (`GrpcKeyspace` in the binary).
    members: Arc<dyn KeyspaceV3>,
    window: Arc<RwLock<V3Window>>,
    hub: Arc<V3Watchers<V3Window>>,
    /// False until the window follows the members: watches are relayed.
    ready: Mutex<bool>,
}

impl V3Tier {
    pub fn new(members: Arc<dyn KeyspaceV3>) -> Arc<V3Tier> {
        V3Tier::with_window(members, WINDOW_REVISIONS, WINDOW_BYTES)
    }

    /// A tier whose window holds at most `revisions` revisions and
    /// `bytes` of keys and values.
    pub fn with_window(
        members: Arc<dyn KeyspaceV3>,
        revisions: usize,
        bytes: usize,
    ) -> Arc<V3Tier> {
        let window = Arc::new(RwLock::new(V3Window::new(0, revisions, bytes)));
        Arc::new(V3Tier {
            members,
            hub: V3Watchers::new(window.clone()),
            window,
            ready: Mutex::new(false),
        })
    }

    /// The window's revision, 0 before it follows the members.
    pub fn revision(&self) -> i64 {
        if *self.ready.lock() {
            self.window.read().revision
        } else {
            0
        }
    }

    /// Number of watchers served from the window.
    pub fn watcher_count(&self) -> usize {
        self.hub.len()
    }

    /// Starts the window again after `revision` (the first start, or after
    /// the follower lost its place): every watcher catches up from it, or
    /// is relayed to the members when it needs what the window lost.
    fn restart(&self, revision: i64) {
        let mut window = self.window.write();
        *window = V3Window::new(revision, window.capacity, window.max_bytes);
        *self.ready.lock() = true;
        drop(window);
        self.hub.restore();
    }

    /// Adds one revision and hands it to the watchers in step (under the
    /// window's write lock, as a member publishes under its keyspace's).
    fn apply(&self, revision: i64, events: Vec<Event>) -> Result<(), WindowError> {
        let mut window = self.window.write();
        window.push(revision, events)?;
        let (_, changes) = window.revisions.back().expect("just pushed");
        self.hub.publish(revision, changes);
        Ok(())
    }

    /// A watcher relayed to the members from `spec.start_revision`.
    async fn relay(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
        self.members.watch(spec).await
    }

    /// Whether the members compacted past `revision` (a watch from it
    /// must then be answered by them): a count-only range of one key at
    /// that revision, which a member refuses as compacted exactly when
    /// its watch would cancel. Asked (each time: a compaction may come at
    /// any moment) only of watches starting at a revision the window
    /// already holds; a member that cannot be asked counts as "yes", so
    /// the relay gives the answer.
    async fn compacted_at(&self, revision: i64) -> bool {
        let probe = mvcc::RangeRequest {
            key: vec![0],
            revision,
            // Linearizable: a compaction already answered counts.
            count_only: true,
            ..Default::default()
        };
        match self.members.range(probe).await {
            Ok(a) => matches!(a.result, Err(mvcc::Error::Compacted)),
            Err(_) => true,
        }
    }
}

/// Follows the members' keyspace into `tier`'s window, for good: one
/// whole-keyspace watch from the members' current revision + 1, started
/// again (with a new window) when its revisions stop following on.
pub async fn follow_members(tier: Arc<V3Tier>) {
    loop {
        let start = match tier.members.status().await {
            Ok(s) => s.header.revision,
            Err(e) => {
                warn!("v3 watches: cannot ask the members for their revision: {e} (retrying)");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let spec = V3WatchSpec {
            key: vec![0],
            range_end: vec![0],
            start_revision: start + 1,
        };
        let mut watcher = match tier.members.watch(spec).await {
            Ok(w) => w,
            Err(e) => {
                warn!("v3 watches: cannot watch the members' keyspace: {e} (retrying)");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        tier.restart(start);
        info!(
            "v3 watches: following the members' keyspace from revision {} (window of {WINDOW_REVISIONS} revisions, {} MiB)",
            start + 1,
            WINDOW_BYTES >> 20
        );
        while let Some(item) = watcher.items.recv().await {
            match item {
                V3WatchItem::Events { events, .. } => {
                    if let Err(e) = apply_all(&tier, events) {
                        warn!("v3 watches: {e}; starting the window again");
                        break;
                    }
                }
                V3WatchItem::Compacted { compact_revision } => {
                    warn!("v3 watches: the members compacted past this replica's place (at {compact_revision}); starting the window again");
                    break;
                }
                V3WatchItem::Progress { .. } => {}
            }
        }
        tokio::time::sleep(RETRY_PAUSE / 10).await;
    }
}

/// Applies one watch answer's changes, revision by revision.
fn apply_all(tier: &V3Tier, events: Vec<Event>) -> Result<(), WindowError> {
    let mut changes: Vec<Event> = Vec::new();
    for e in events {
        if let Some(last) = changes.last() {
            if last.kv.mod_revision != e.kv.mod_revision {
                let revision = last.kv.mod_revision;
                tier.apply(revision, std::mem::take(&mut changes))?;
            }
        }
        changes.push(e);
    }
    if let Some(last) = changes.last() {
        let revision = last.kv.mod_revision;
        tier.apply(revision, changes)?;
    }
    Ok(())
}

#[async_trait]
impl KeyspaceV3 for V3Tier {
    async fn authenticate(
        &self,
        name: String,
        password: String,
    ) -> Result<V3Answer<String>, ApiError> {
        self.members.authenticate(name, password).await
    }

    /// The tier's clients are gateways, which asked the members before
    /// opening a client's watch here.
    async fn authorize(&self, _access: Access) -> Result<Result<(), mvcc::Error>, ApiError> {
        Ok(Ok(()))
    }

    async fn write(&self, cmd: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
        self.members.write(cmd).await
    }

    async fn range(
        &self,
        req: mvcc::RangeRequest,
    ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
        self.members.range(req).await
    }

    async fn lease_time_to_live(
        &self,
        req: mvcc::LeaseTimeToLiveRequest,
    ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
        self.members.lease_time_to_live(req).await
    }

    async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
        self.members.lease_leases().await
    }

    /// From the window when it holds the start (and the members have not
    /// compacted it away), relayed to the members otherwise; a watcher
    /// the window moves past is relayed from its next revision.
    async fn watch(&self, mut spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
        let (ready, current, first) = {
            let ready = *self.ready.lock();
            let w = self.window.read();
            (ready, w.revision, w.first)
        };
        if !ready {
            return self.relay(spec).await;
        }
        if spec.start_revision <= 0 {
            // "From now", made explicit so a relay knows where to start (a
            // revision applied meanwhile comes from the window).
            spec.start_revision = current + 1;
        } else if spec.start_revision <= current
            && (spec.start_revision < first || self.compacted_at(spec.start_revision).await)
        {
            return self.relay(spec).await;
        }
        let local = self.hub.watch(spec.clone());
        let (tx, items) = mpsc::channel(WATCHER_QUEUE);
        let control = Arc::new(Mutex::new(local.control));
        tokio::spawn(forward(
            self.members.clone(),
            spec,
            local.items,
            tx,
            control.clone(),
        ));
        Ok(V3Watcher {
            items,
            control: Box::new(SharedControl(control)),
        })
    }

    async fn status(&self) -> Result<V3Status, ApiError> {
        self.members.status().await
    }

    async fn hash_kv(&self, revision: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
        self.members.hash_kv(revision).await
    }

    async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
        self.members.snapshot().await
    }

    /// The members' ids and term, at the window's revision (what the
    /// watchers here have been given).
    fn header(&self) -> V3Header {
        let mut h = self.members.header();
        let revision = self.revision();
        if revision > 0 {
            h.revision = revision;
        }
        h
    }
}

/// The control of a watcher whose source may change (window, then relay).
struct SharedControl(Arc<Mutex<Box<dyn V3WatchControl>>>);

impl V3WatchControl for SharedControl {
    fn request_progress(&self) {
        self.0.lock().request_progress();
    }
}

/// Hands a window watcher's items on, and when the window no longer holds
/// its next revision, relays it to the members from there.
async fn forward(
    members: Arc<dyn KeyspaceV3>,
    spec: V3WatchSpec,
    mut items: mpsc::Receiver<V3WatchItem>,
    tx: mpsc::Sender<V3WatchItem>,
    control: Arc<Mutex<Box<dyn V3WatchControl>>>,
) {
    // The first revision not given to the watcher yet.
    let mut next = spec.start_revision;
    let mut relayed = false;
    loop {
        let item = tokio::select! {
            _ = tx.closed() => return,
            item = items.recv() => item,
        };
        let Some(item) = item else { return };
        match item {
            V3WatchItem::Compacted { .. } if !relayed => {
                // The window moved past this watcher: the members answer
                // from its next revision (a real compaction included).
                info!("v3 watches: a watcher at revision {next} is older than the window; relaying it to the members");
                let relay = V3WatchSpec {
                    start_revision: next,
                    ..spec.clone()
                };
                match members.watch(relay).await {
                    Ok(w) => {
                        items = w.items;
                        *control.lock() = w.control;
                        relayed = true;
                    }
                    // Dropping the watcher ends its stream: the client
                    // sees it end, as when a member goes away.
                    Err(e) => {
                        warn!("v3 watches: cannot relay a watcher to the members: {e}");
                        return;
                    }
                }
            }
            item => {
                match &item {
                    V3WatchItem::Events { events, .. } => {
                        if let Some(last) = events.last() {
                            next = last.kv.mod_revision + 1;
                        }
                    }
                    V3WatchItem::Progress { revision } => next = next.max(revision + 1),
                    V3WatchItem::Compacted { .. } => {}
                }
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_api::v3::mvcc::{EventType, KeyValue};

    fn put(key: &str, revision: i64) -> Event {
        Event {
            kind: EventType::Put,
            kv: KeyValue {
                key: key.as_bytes().to_vec(),
                create_revision: revision,
                mod_revision: revision,
                version: 1,
                value: b"v".to_vec(),
                lease: 0,
            },
            prev_kv: None,
        }
    }

    fn window(after: i64, revisions: i64, capacity: usize) -> V3Window {
        let mut w = V3Window::new(after, capacity, WINDOW_BYTES);
        for r in after + 1..=after + revisions {
            let key = if r % 2 == 0 { "a" } else { "b" };
            w.push(r, vec![put(key, r)]).unwrap();
        }
        w
    }

    fn revisions(h: History) -> Vec<i64> {
        match h {
            History::Events(e) => e.iter().map(|e| e.kv.mod_revision).collect(),
            History::Compacted { compact_revision } => vec![-compact_revision],
        }
    }

    #[test]
    fn the_window_keeps_the_last_revisions_in_order() {
        let w = window(10, 8, 5);
        assert_eq!((w.first(), w.revision()), (14, 18));
        assert_eq!(
            revisions(w.events_since(b"\0", b"\0", 14, 0)),
            vec![14, 15, 16, 17, 18]
        );
        assert_eq!(revisions(w.events_since(b"a", b"", 15, 0)), vec![16, 18]);
        // Older than the window: the tier relays it to the members.
        assert_eq!(revisions(w.events_since(b"\0", b"\0", 13, 0)), vec![-13]);
        assert_eq!(
            revisions(w.events_since(b"\0", b"\0", 19, 0)),
            Vec::<i64>::new()
        );
        assert_eq!(revisions(w.events_since(b"\0", b"\0", 14, 2)), vec![14, 15]);
    }

    #[test]
    fn the_window_is_bounded_in_bytes_too() {
        // "k" + "v" a put: 2 bytes; room for 3 revisions.
        let mut w = V3Window::new(0, 100, 6);
        for r in 1..=5 {
            w.push(r, vec![put("k", r)]).unwrap();
        }
        assert_eq!((w.first(), w.revision()), (3, 5));
        // One revision over the bound alone is still held.
        let mut big = put("k", 6);
        big.kv.value = vec![0; 100];
        w.push(6, vec![big]).unwrap();
        assert_eq!((w.first(), w.revision()), (6, 6));
    }

    #[test]
    fn the_window_refuses_a_revision_out_of_place() {
        let mut w = window(0, 3, 10);
        assert_eq!(
            w.push(5, vec![put("a", 5)]),
            Err(WindowError::OutOfOrder {
                revision: 3,
                got: 5
            })
        );
        assert_eq!(w.push(4, vec![]), Err(WindowError::NoEvents(4)));
    }

    /// A member in process: a real `concord-mvcc` keyspace and the
    /// member's own hub over it (as concord-consensus serves them), for
    /// what the tier asks of the members.
    struct Member {
        ks: Arc<RwLock<mvcc::Keyspace>>,
        hub: Arc<V3Watchers>,
    }

    impl Member {
        fn new() -> Arc<Member> {
            let ks = Arc::new(RwLock::new(mvcc::Keyspace::default()));
            Arc::new(Member {
                hub: V3Watchers::new(ks.clone()),
                ks,
            })
        }

        /// Applies `cmd` and hands its changes to the watchers under the
        /// keyspace's write lock, as the member's state machine does.
        fn apply(&self, cmd: mvcc::Command) -> i64 {
            let mut ks = self.ks.write();
            let events = match ks.apply(&cmd).unwrap() {
                mvcc::Outcome::Put(a) => a.events,
                _ => Vec::new(),
            };
            if !events.is_empty() {
                self.hub.publish(ks.revision(), &events);
            }
            ks.revision()
        }

        fn put(&self, key: &str, value: &str) -> i64 {
            self.apply(mvcc::Command::Put(mvcc::PutRequest {
                key: key.into(),
                value: value.into(),
                ..Default::default()
            }))
        }

        fn header(revision: i64) -> V3Header {
            V3Header {
                cluster_id: 7,
                member_id: 8,
                revision,
                raft_term: 9,
            }
        }
    }

    fn unused<T>() -> Result<T, ApiError> {
        Err(ApiError::Internal("not part of these tests".into()))
    }

    #[async_trait]
    impl KeyspaceV3 for Member {
        async fn authenticate(
            &self,
            _name: String,
            _password: String,
        ) -> Result<V3Answer<String>, ApiError> {
            Ok(V3Answer {
                header: self.header(),
                result: Err(mvcc::Error::AuthNotEnabled),
            })
        }

        async fn authorize(
            &self,
            _access: concord_api::v3::Access,
        ) -> Result<Result<(), mvcc::Error>, ApiError> {
            Ok(Ok(()))
        }

        async fn write(&self, _: mvcc::Command) -> Result<V3Answer<mvcc::Outcome>, ApiError> {
            unused()
        }
        async fn range(
            &self,
            req: mvcc::RangeRequest,
        ) -> Result<V3Answer<mvcc::RangeResponse>, ApiError> {
            let ks = self.ks.read();
            Ok(V3Answer {
                header: Member::header(ks.revision()),
                result: ks.range(&req),
            })
        }
        async fn lease_time_to_live(
            &self,
            _: mvcc::LeaseTimeToLiveRequest,
        ) -> Result<V3Answer<mvcc::LeaseTimeToLiveResponse>, ApiError> {
            unused()
        }
        async fn lease_leases(&self) -> Result<V3Answer<mvcc::LeaseLeasesResponse>, ApiError> {
            unused()
        }
        async fn watch(&self, spec: V3WatchSpec) -> Result<V3Watcher, ApiError> {
            Ok(self.hub.watch(spec))
        }
        async fn status(&self) -> Result<V3Status, ApiError> {
            Ok(V3Status {
                header: self.header(),
                ..Default::default()
            })
        }
        async fn hash_kv(&self, _: i64) -> Result<V3Answer<V3HashKv>, ApiError> {
            unused()
        }
        async fn snapshot(&self) -> Result<Vec<u8>, ApiError> {
            unused()
        }
        fn header(&self) -> V3Header {
            Member::header(self.ks.read().revision())
        }
    }

    /// The revisions of `n` events a watcher receives next (items of
    /// other kinds fail the test).
    async fn next_events(w: &mut V3Watcher, n: usize) -> Vec<i64> {
        let mut got = Vec::new();
        while got.len() < n {
            let item = tokio::time::timeout(Duration::from_secs(5), w.items.recv())
                .await
                .expect("an item in time")
                .expect("the watcher goes on");
            match item {
                V3WatchItem::Events { events, .. } => {
                    got.extend(events.iter().map(|e| e.kv.mod_revision))
                }
                other => panic!("{other:?} after {got:?}"),
            }
        }
        got
    }

    fn from(start_revision: i64) -> V3WatchSpec {
        V3WatchSpec {
            key: b"k".to_vec(),
            range_end: b"l".to_vec(),
            start_revision,
        }
    }

    /// What the window no longer (or never) held comes from the member:
    /// a start older than the window, a watcher the window moved past (the
    /// window started again), a start the member compacted.
    #[tokio::test]
    async fn the_tier_relays_what_its_window_does_not_hold() {
        let member = Member::new();
        member.put("k1", "a"); // revision 2, before the tier follows
        let tier = V3Tier::with_window(member.clone(), 3, WINDOW_BYTES);
        let follower = tokio::spawn(follow_members(tier.clone()));
        while tier.revision() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A live watcher, from the next revision.
        let mut live = tier.watch(from(0)).await.unwrap();
        for v in ["b", "c", "d", "e"] {
            member.put("k1", v); // revisions 3..=6
        }
        assert_eq!(next_events(&mut live, 4).await, vec![3, 4, 5, 6]);
        while tier.revision() < 6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(tier.window.read().first(), 4);
        // Before the window: from the member, the same changes.
        let mut old = tier.watch(from(2)).await.unwrap();
        assert_eq!(next_events(&mut old, 5).await, vec![2, 3, 4, 5, 6]);
        // Inside the window, and progress at the window's revision.
        let mut inside = tier.watch(from(5)).await.unwrap();
        assert_eq!(next_events(&mut inside, 2).await, vec![5, 6]);
        inside.control.request_progress();
        assert_eq!(
            inside.items.recv().await,
            Some(V3WatchItem::Progress { revision: 6 })
        );

        // The live watcher stops reading while 400 revisions go by: its
        // queues fill, it falls behind, the window (3 revisions) moves
        // past it, and it goes on from the member, each change once.
        for i in 0..400 {
            member.put("k2", &i.to_string()); // 7..=406
        }
        let expected: Vec<i64> = (7..=406).collect();
        assert_eq!(next_events(&mut live, 400).await, expected);

        // A compaction inside the window: the member's cancel.
        member.put("k3", "h"); // 407
        member.put("k3", "i"); // 408
        while tier.revision() < 408 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(tier.window.read().first(), 406);
        member.apply(mvcc::Command::Compaction(mvcc::CompactionRequest {
            revision: 408,
            physical: false,
        }));
        let mut compacted = tier.watch(from(407)).await.unwrap();
        assert_eq!(
            compacted.items.recv().await,
            Some(V3WatchItem::Compacted {
                compact_revision: 408
            })
        );
        // From the compaction on, the window's.
        let mut kept = tier.watch(from(408)).await.unwrap();
        assert_eq!(next_events(&mut kept, 1).await, vec![408]);
        assert_eq!(next_events(&mut live, 2).await, vec![407, 408]);
        follower.abort();
    }

    #[tokio::test]
    async fn watchers_over_the_window_get_every_revision_once() {
        let history = Arc::new(RwLock::new(window(0, 4, 100)));
        let hub = V3Watchers::new(history.clone());
        // One from the past (caught up from the window), one from now.
        let mut old = hub.watch(V3WatchSpec {
            key: b"\0".to_vec(),
            range_end: b"\0".to_vec(),
            start_revision: 2,
        });
        let mut new = hub.watch(V3WatchSpec {
            key: b"\0".to_vec(),
            range_end: b"\0".to_vec(),
            start_revision: 0,
        });
        for r in 5..=7 {
            let mut w = history.write();
            w.push(r, vec![put("k", r)]).unwrap();
            hub.publish(r, &w.revisions.back().unwrap().1);
        }
        let seen = |rx: &mut mpsc::Receiver<V3WatchItem>| {
            let mut got = Vec::new();
            while let Ok(V3WatchItem::Events { events, .. }) = rx.try_recv() {
                got.extend(events.iter().map(|e| e.kv.mod_revision));
            }
            got
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(seen(&mut old.items), vec![2, 3, 4, 5, 6, 7]);
        assert_eq!(seen(&mut new.items), vec![5, 6, 7]);
        new.control.request_progress();
        assert_eq!(
            new.items.try_recv().ok(),
            Some(V3WatchItem::Progress { revision: 7 })
        );
    }
}
