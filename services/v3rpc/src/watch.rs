//! etcd's `Watch` service (v3rpc's `watch.go`): one bidirectional stream
//! carrying any number of watchers.
//!
//! One task per stream does what etcd's `recvLoop` and `sendLoop` share:
//! - create: etcd's key and range conventions (an empty key is `"\0"`, a
//!   range end `"\0"` is "from the key on"), the watch id (auto, counting
//!   from 0 and skipping ids in use, or the client's own; etcd's errors for
//!   an empty range and a duplicate id, answered created and canceled with
//!   watch id -1), the start revision (0: the next one), `prev_kv`, the
//!   `NOPUT`/`NODELETE` filters, `progress_notify` and `fragment`. The
//!   created answer goes out before any event of its watcher;
//! - cancel: answered canceled for a watcher of this stream, ignored
//!   otherwise;
//! - events: in revision order as the keyspace delivers them, filtered, with
//!   `prev_kv` only where asked; a response with every event filtered out is
//!   not sent; a fragmenting watcher's large responses are split as etcd
//!   splits them;
//! - a compacted start revision: created, then canceled with
//!   `compact_revision` (header revision 0, as etcd's);
//! - progress: a watcher with `progress_notify` gets an empty response at
//!   each interval in which it was sent no event (etcd: every 10 minutes,
//!   plus up to a tenth of that at random per stream);
//!   a progress request is answered with watch id -1 once every watcher of
//!   the stream has confirmed that all its changes up to the answered
//!   revision were sent (right away, at the current revision, if none).
//!
//! The client closing its side ends nothing (etcd keeps sending until the
//! stream is gone); the stream going away cancels every watcher.

use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use concord_api::v3::{mvcc, Access, KeyspaceV3, V3WatchControl, V3WatchItem, V3WatchSpec};
use concord_rpc::etcd::etcdserverpb as pb;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt, StreamMap};
use tonic::{Request, Response, Status, Streaming};

use super::codec;
use super::error::V3Error;
use super::header::header;
use super::Limits;

/// etcd's `clientv3.InvalidWatchID`: answers that belong to no watcher.
const INVALID_WATCH_ID: i64 = -1;

/// mvcc's errors for a watcher that cannot be created.
const ERR_EMPTY_RANGE: &str = "mvcc: watcher range is empty";
const ERR_DUPLICATE_ID: &str = "mvcc: duplicate watch ID provided on the WatchStream";

/// etcd's `minWatchProgressInterval`: a shorter interval is raised to it.
const MIN_PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// How many answers may wait for a slow client before the stream's task
/// waits too (the keyspace then holds its watchers' changes).
const OUT_BUFFER: usize = 64;

/// The `Watch` service over a keyspace.
pub struct WatchService {
    keyspace: Arc<dyn KeyspaceV3>,
    limits: Limits,
    progress_interval: Duration,
}

impl WatchService {
    pub fn new(keyspace: Arc<dyn KeyspaceV3>, limits: Limits, progress_interval: Duration) -> Self {
        WatchService {
            keyspace,
            limits,
            progress_interval,
        }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl pb::watch_server::Watch for WatchService {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<Streaming<pb::WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let inbound = request.into_inner();
        let (out, rx) = mpsc::channel(OUT_BUFFER);
        let session = Session {
            keyspace: self.keyspace.clone(),
            limits: self.limits,
            out,
            watchers: HashMap::new(),
            items: StreamMap::new(),
            next_id: 0,
            broadcast: None,
        };
        // The session is the stream's; its watches are its caller's.
        let caller = concord_api::caller::current();
        tokio::spawn(concord_api::caller::scope_if(
            caller,
            session.run(inbound, self.progress_interval),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Why a watcher was asked for its progress (answers come back in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProgressAsk {
    /// The periodic notification of a `progress_notify` watcher.
    Interval,
    /// A client's progress request for the whole stream.
    Request,
}

/// One watcher of the stream.
struct Watcher {
    /// `None` once the keyspace ended it (compacted): etcd keeps such a
    /// watcher's id taken until it is canceled.
    control: Option<Box<dyn V3WatchControl>>,
    prev_kv: bool,
    fragment: bool,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    /// etcd's `progress[id]`: no event was sent since the last interval.
    progress_due: bool,
    asked: VecDeque<ProgressAsk>,
}

/// A client's progress request waiting for the stream's watchers.
struct Broadcast {
    waiting: HashSet<i64>,
    revision: i64,
    /// Requests to answer when it completes (requests that came meanwhile
    /// share its answer).
    answers: usize,
}

/// What a watcher's channel yields: an item, or `None` once it closed.
type ItemStream = Pin<Box<dyn Stream<Item = Option<V3WatchItem>> + Send + Sync>>;

struct Session {
    keyspace: Arc<dyn KeyspaceV3>,
    limits: Limits,
    out: mpsc::Sender<Result<pb::WatchResponse, Status>>,
    watchers: HashMap<i64, Watcher>,
    items: StreamMap<i64, ItemStream>,
    next_id: i64,
    broadcast: Option<Broadcast>,
}

/// The stream ends: the client is gone.
struct Gone;

impl Session {
    async fn run(mut self, mut inbound: Streaming<pb::WatchRequest>, progress_interval: Duration) {
        let progress_interval = with_jitter(progress_interval.max(MIN_PROGRESS_INTERVAL));
        let start = tokio::time::Instant::now() + progress_interval;
        let mut ticker = tokio::time::interval_at(start, progress_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reading = true;
        loop {
            let step = tokio::select! {
                req = inbound.message(), if reading => match req {
                    Ok(Some(req)) => self.request(req).await,
                    // The client closed its side: keep sending.
                    Ok(None) => {
                        reading = false;
                        Ok(())
                    }
                    Err(e) => {
                        tracing::debug!("watch stream receive failed: {e}");
                        Err(Gone)
                    }
                },
                Some((id, item)) = self.items.next(), if !self.items.is_empty() => {
                    self.item(id, item).await
                }
                _ = ticker.tick() => {
                    self.interval();
                    Ok(())
                }
                _ = self.out.closed() => Err(Gone),
            };
            if step.is_err() {
                return;
            }
        }
    }

    async fn send(&self, resp: pb::WatchResponse) -> Result<(), Gone> {
        self.out.send(Ok(resp)).await.map_err(|_| Gone)
    }

    /// A header from the keyspace's current one, at `revision`.
    fn header_at(&self, revision: i64) -> Option<pb::ResponseHeader> {
        let mut h = self.keyspace.header();
        h.revision = revision;
        Some(header(h))
    }

    async fn request(&mut self, req: pb::WatchRequest) -> Result<(), Gone> {
        use pb::watch_request::RequestUnion;
        if let Err(e) = self.limits.check_received(&req) {
            let _ = self.out.send(Err(e)).await;
            return Err(Gone);
        }
        match req.request_union {
            Some(RequestUnion::CreateRequest(c)) => self.create(c).await,
            Some(RequestUnion::CancelRequest(c)) => self.cancel(c.watch_id).await,
            Some(RequestUnion::ProgressRequest(_)) => self.progress_request().await,
            // etcd ignores what it does not know rather than end the stream.
            None => Ok(()),
        }
    }

    /// Why the caller may not watch (etcd's `isWatchPermitted`), as the
    /// cancel reason etcd gives.
    async fn refusal(&self, access: Access) -> Option<String> {
        use mvcc::Error as E;
        // etcd words these as grpc-go prints its `ErrGRPC*` statuses.
        let grpc = |code: &str, e: E| format!("rpc error: code = {code} desc = {e}");
        match self.keyspace.authorize(access).await {
            Ok(Ok(())) => None,
            Ok(Err(E::InvalidAuthToken)) => Some(grpc("Unauthenticated", E::InvalidAuthToken)),
            Ok(Err(e @ (E::AuthOldRevision | E::UserEmpty))) => Some(grpc("InvalidArgument", e)),
            Ok(Err(_)) => Some(grpc("PermissionDenied", E::PermissionDenied)),
            Err(e) => Some(V3Error::from(e).to_string()),
        }
    }

    async fn create(&mut self, c: pb::WatchCreateRequest) -> Result<(), Gone> {
        use pb::watch_create_request::FilterType;
        let key = if c.key.is_empty() { vec![0] } else { c.key };
        let from_key = c.range_end == [0];
        let current = self.keyspace.header().revision;
        let refused = |reason: &str| pb::WatchResponse {
            header: None,
            watch_id: INVALID_WATCH_ID,
            created: true,
            canceled: true,
            cancel_reason: reason.to_string(),
            ..Default::default()
        };
        let access = Access::Read {
            key: key.clone(),
            range_end: c.range_end.clone(),
        };
        if let Some(reason) = self.refusal(access).await {
            let r = pb::WatchResponse {
                header: self.header_at(current),
                ..refused(&reason)
            };
            return self.send(r).await;
        }
        if !c.range_end.is_empty() && !from_key && key >= c.range_end {
            let r = pb::WatchResponse {
                header: self.header_at(current),
                ..refused(ERR_EMPTY_RANGE)
            };
            return self.send(r).await;
        }
        let id = if c.watch_id == 0 {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id += 1;
            self.next_id - 1
        } else if self.watchers.contains_key(&c.watch_id) {
            let r = pb::WatchResponse {
                header: self.header_at(current),
                ..refused(ERR_DUPLICATE_ID)
            };
            return self.send(r).await;
        } else {
            c.watch_id
        };
        let spec = V3WatchSpec {
            key,
            range_end: c.range_end,
            start_revision: if c.start_revision == 0 {
                current + 1
            } else {
                c.start_revision
            },
        };
        let watcher = match self.keyspace.watch(spec).await {
            Ok(w) => w,
            Err(e) => {
                let reason = V3Error::from(e).to_string();
                let r = pb::WatchResponse {
                    header: self.header_at(current),
                    ..refused(&reason)
                };
                return self.send(r).await;
            }
        };
        let filters: Vec<_> = c
            .filters
            .iter()
            .filter_map(|f| FilterType::try_from(*f).ok())
            .collect();
        self.watchers.insert(
            id,
            Watcher {
                control: Some(watcher.control),
                prev_kv: c.prev_kv,
                fragment: c.fragment,
                no_put: filters.contains(&FilterType::Noput),
                no_delete: filters.contains(&FilterType::Nodelete),
                progress_notify: c.progress_notify,
                progress_due: true,
                asked: VecDeque::new(),
            },
        );
        let items = ReceiverStream::new(watcher.items)
            .map(Some)
            .chain(tokio_stream::once(None));
        self.items.insert(id, Box::pin(items));
        self.send(pb::WatchResponse {
            header: self.header_at(current),
            watch_id: id,
            created: true,
            ..Default::default()
        })
        .await
    }

    async fn cancel(&mut self, id: i64) -> Result<(), Gone> {
        if self.watchers.remove(&id).is_none() {
            return Ok(());
        }
        self.items.remove(&id);
        self.forget_in_broadcast(id).await?;
        let current = self.keyspace.header().revision;
        self.send(pb::WatchResponse {
            header: self.header_at(current),
            watch_id: id,
            canceled: true,
            ..Default::default()
        })
        .await
    }

    /// A client's progress request: every live watcher is asked, and the
    /// answer goes out once all have confirmed.
    async fn progress_request(&mut self) -> Result<(), Gone> {
        if let Some(b) = &mut self.broadcast {
            b.answers += 1;
            return Ok(());
        }
        let mut waiting = HashSet::new();
        for (id, w) in &mut self.watchers {
            if let Some(control) = &w.control {
                control.request_progress();
                w.asked.push_back(ProgressAsk::Request);
                waiting.insert(*id);
            }
        }
        self.broadcast = Some(Broadcast {
            waiting,
            revision: i64::MAX,
            answers: 1,
        });
        self.finish_broadcast().await
    }

    /// A watcher that will not answer a pending progress request any more.
    async fn forget_in_broadcast(&mut self, id: i64) -> Result<(), Gone> {
        if let Some(b) = &mut self.broadcast {
            b.waiting.remove(&id);
        }
        self.finish_broadcast().await
    }

    async fn finish_broadcast(&mut self) -> Result<(), Gone> {
        let done = self
            .broadcast
            .as_ref()
            .is_some_and(|b| b.waiting.is_empty());
        if !done {
            return Ok(());
        }
        let Some(b) = self.broadcast.take() else {
            return Ok(());
        };
        let revision = if b.revision == i64::MAX {
            self.keyspace.header().revision
        } else {
            b.revision
        };
        for _ in 0..b.answers {
            self.send(pb::WatchResponse {
                header: self.header_at(revision),
                watch_id: INVALID_WATCH_ID,
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    /// The progress interval: etcd asks every `progress_notify` watcher that
    /// was sent nothing since the last one.
    fn interval(&mut self) {
        for w in self.watchers.values_mut() {
            if !w.progress_notify {
                continue;
            }
            if w.progress_due {
                if let Some(control) = &w.control {
                    control.request_progress();
                    w.asked.push_back(ProgressAsk::Interval);
                }
            }
            w.progress_due = true;
        }
    }

    async fn item(&mut self, id: i64, item: Option<V3WatchItem>) -> Result<(), Gone> {
        match item {
            Some(V3WatchItem::Events { revision, events }) => {
                self.events(id, revision, events).await
            }
            Some(V3WatchItem::Compacted { compact_revision }) => {
                if let Some(w) = self.watchers.get_mut(&id) {
                    w.control = None;
                }
                self.send(pb::WatchResponse {
                    header: self.header_at(0),
                    watch_id: id,
                    compact_revision,
                    canceled: true,
                    ..Default::default()
                })
                .await?;
                self.forget_in_broadcast(id).await
            }
            Some(V3WatchItem::Progress { revision }) => {
                let ask = self
                    .watchers
                    .get_mut(&id)
                    .and_then(|w| w.asked.pop_front())
                    .unwrap_or(ProgressAsk::Interval);
                match ask {
                    ProgressAsk::Interval => {
                        self.send(pb::WatchResponse {
                            header: self.header_at(revision),
                            watch_id: id,
                            ..Default::default()
                        })
                        .await
                    }
                    ProgressAsk::Request => {
                        if let Some(b) = &mut self.broadcast {
                            if b.waiting.remove(&id) {
                                b.revision = b.revision.min(revision);
                            }
                        }
                        self.finish_broadcast().await
                    }
                }
            }
            // The keyspace ended the watcher on its own (the member is
            // going away): the client learns it is canceled.
            None => {
                let live = self
                    .watchers
                    .get_mut(&id)
                    .is_some_and(|w| w.control.take().is_some());
                if !live {
                    return Ok(());
                }
                let current = self.keyspace.header().revision;
                self.send(pb::WatchResponse {
                    header: self.header_at(current),
                    watch_id: id,
                    canceled: true,
                    cancel_reason: V3Error::Stopped.to_string(),
                    ..Default::default()
                })
                .await?;
                self.forget_in_broadcast(id).await
            }
        }
    }

    async fn events(
        &mut self,
        id: i64,
        revision: i64,
        events: Vec<mvcc::Event>,
    ) -> Result<(), Gone> {
        let Some(w) = self.watchers.get_mut(&id) else {
            return Ok(());
        };
        let kept: Vec<_> = events
            .into_iter()
            .filter(|e| match e.kind {
                mvcc::EventType::Put => !w.no_put,
                mvcc::EventType::Delete => !w.no_delete,
            })
            .map(|e| codec::event(e, w.prev_kv))
            .collect();
        // etcd sends nothing when every event was filtered out.
        if kept.is_empty() {
            return Ok(());
        }
        if w.progress_notify {
            w.progress_due = false;
        }
        let fragment = w.fragment;
        let resp = pb::WatchResponse {
            header: self.header_at(revision),
            watch_id: id,
            events: kept,
            ..Default::default()
        };
        if fragment {
            for part in fragments(resp, self.limits.max_received()) {
                self.send(part).await?;
            }
            Ok(())
        } else {
            self.send(resp).await
        }
    }
}

/// etcd's `GetProgressReportInterval`: the interval plus up to a tenth of
/// it at random, so that streams opened together (a client restarting) do
/// not all notify at once.
fn with_jitter(interval: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let tenth = interval.as_nanos() / 10;
    if tenth == 0 {
        return interval;
    }
    // RandomState is seeded at random per instance: randomness enough here.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    interval + Duration::from_nanos((u128::from(random) % tenth) as u64)
}

/// etcd's `sendFragments`: a response at or above `max_bytes` with more
/// than one event is split into responses of as many events as fit (at
/// least one each), all but the last marked `fragment`.
pub fn fragments(resp: pb::WatchResponse, max_bytes: usize) -> Vec<pb::WatchResponse> {
    if resp.encoded_len() < max_bytes || resp.events.len() < 2 {
        return vec![resp];
    }
    let mut out = Vec::new();
    let mut events = resp.events.clone().into_iter().peekable();
    let template = pb::WatchResponse {
        events: Vec::new(),
        fragment: true,
        ..resp
    };
    while events.peek().is_some() {
        let mut cur = template.clone();
        while let Some(e) = events.peek() {
            cur.events.push(e.clone());
            if cur.events.len() > 1 && cur.encoded_len() >= max_bytes {
                cur.events.pop();
                break;
            }
            events.next();
        }
        if events.peek().is_none() {
            cur.fragment = false;
        }
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_rpc::etcd::mvccpb;

    fn put(key: &str, value_len: usize) -> mvccpb::Event {
        mvccpb::Event {
            kv: Some(mvccpb::KeyValue {
                key: key.as_bytes().to_vec(),
                value: vec![b'x'; value_len],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        let base = Duration::from_secs(600);
        for _ in 0..100 {
            let i = with_jitter(base);
            assert!(i >= base && i < base + Duration::from_secs(60), "{i:?}");
        }
        assert_eq!(with_jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn fragments_split_as_etcd() {
        let resp = pb::WatchResponse {
            watch_id: 3,
            events: (0..5).map(|i| put(&format!("k{i}"), 100)).collect(),
            ..Default::default()
        };
        // Small enough: one response, not a fragment.
        let one = fragments(resp.clone(), 10_000);
        assert_eq!(one.len(), 1);
        assert!(!one[0].fragment);
        // Room for two events per response: 2, 2, 1.
        let two = resp.events[..2]
            .iter()
            .map(|e| e.encoded_len() + 2)
            .sum::<usize>()
            + 10;
        let parts = fragments(resp.clone(), two);
        let sizes: Vec<_> = parts.iter().map(|p| p.events.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(
            parts.iter().map(|p| p.fragment).collect::<Vec<_>>(),
            [true, true, false]
        );
        assert!(parts.iter().all(|p| p.watch_id == 3));
        let keys: Vec<_> = parts.iter().flat_map(|p| p.events.clone()).collect();
        assert_eq!(keys, resp.events);
        // An event larger than the limit still goes, alone.
        let big = fragments(resp.clone(), 1);
        assert_eq!(big.len(), 5);
    }
}
