//! The watch tier's follower: feeds an [`EventSink`] (a [`WatchHub`], or
//! `concord-gateway`'s read replica) from the committed events of the
//! consensus members, one member at a time.
//!
//! It subscribes "after the last index the hub has seen" to the member in
//! use and applies what arrives only if each event's index is exactly the
//! last one plus one: a gap or a duplicate drops the stream and it
//! subscribes again from the last index (on the next member), so a resume on another member
//! (after a disconnect, a leader change, a member that dies) never loses or
//! repeats an event. A fresh follower starts "from now" (the member's
//! current index), not with the member's whole recent history.

use std::sync::Arc;
use std::time::Duration;

use concord_api::{Committed, EventSink};
use concord_rpc::endpoints::Endpoints;
use concord_rpc::events_grpc::{subscribe, Start};
use tokio::sync::watch;
use tonic::Status;
use tracing::{info, warn};

use crate::WatchHub;

/// Pause before trying the next member after one failed.
const NEXT_MEMBER_PAUSE: Duration = Duration::from_millis(50);
/// Pause once every member has failed in a row (or a member ended a
/// stream without giving anything), so a cluster that is down is not
/// hammered.
const ROUND_PAUSE: Duration = Duration::from_millis(500);
/// Events applied in a row before the follower lets other tasks run.
pub const YIELD_EVERY: u64 = 16;
/// How long a member may take to start a subscription.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How one subscription ended.
enum Ended {
    /// The member is unreachable or the stream broke: try the next one.
    Failed,
    /// The member ended the stream (this follower fell behind, or the
    /// member is stopping): subscribe again.
    Resubscribe,
    /// The member sent an index out of order (a gap or a duplicate): the
    /// stream is dropped and the next member asked from the last index
    /// (with one member, the same one again).
    OutOfOrder,
    /// The member registry lists other members: subscribe again, after
    /// the last index, to one of them.
    MembersChanged,
}

/// Follows the members of `endpoints` forever, publishing into `hub`;
/// `ready` turns true once the hub has a starting index from consensus.
pub async fn follow(hub: Arc<WatchHub>, endpoints: Endpoints, ready: watch::Sender<bool>) {
    follow_with(GrpcFollower::new(hub, endpoints, ready)).await;
}

/// [`follow`] with a follower built by the caller (see
/// [`GrpcFollower::following_members`]).
pub async fn follow_with(mut follower: GrpcFollower) {
    follower.follow(|_| false).await;
}

/// What feeding the hub has reached, and the consensus members' state, kept
/// across the follower's rounds (and across switches between the event bus
/// and the gRPC stream, which share it).
pub struct GrpcFollower {
    hub: Arc<dyn EventSink>,
    endpoints: Endpoints,
    ready: watch::Sender<bool>,
    /// The last store index applied to the hub; None until the first Reset.
    last: Option<u64>,
    /// The member streamed from last, and the ones known down (one line
    /// per outage in the log, not one per attempt).
    following: Option<usize>,
    down: Vec<bool>,
    failures_in_a_row: usize,
    /// The members' client URLs when they come from the member registry
    /// (they replace `endpoints` whenever they change).
    members: Option<watch::Receiver<Vec<String>>>,
}

/// Where an event falls against the hub's last index.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    /// The next one: applied.
    Applied,
    /// At or below the last index: already applied, skipped.
    Duplicate,
    /// Above the next index: not applied; the events in between are
    /// missing.
    Gap,
}

impl GrpcFollower {
    pub fn new(hub: Arc<dyn EventSink>, endpoints: Endpoints, ready: watch::Sender<bool>) -> Self {
        let down = vec![false; endpoints.urls().len()];
        GrpcFollower {
            hub,
            endpoints,
            ready,
            last: None,
            following: None,
            down,
            failures_in_a_row: 0,
            members: None,
        }
    }

    /// Starts after store index `index` (the sink already holds
    /// everything up to it) instead of from the member's current index.
    pub fn starting_after(mut self, index: u64) -> Self {
        self.last = Some(index);
        self
    }

    /// Takes the members from `members` (the member registry) from now on:
    /// each change replaces the endpoints before the next subscription.
    pub fn following_members(mut self, members: watch::Receiver<Vec<String>>) -> Self {
        self.members = Some(members);
        self
    }

    /// Picks up a change of the members, if any.
    fn refresh_members(&mut self) {
        let Some(rx) = &mut self.members else {
            return;
        };
        let urls = rx.borrow_and_update().clone();
        let sorted = |u: &[String]| {
            let mut v = u.to_vec();
            v.sort();
            v
        };
        if urls.is_empty() || sorted(&urls) == sorted(self.endpoints.urls()) {
            return;
        }
        match Endpoints::new(&urls) {
            Ok(e) => {
                info!("consensus members now {urls:?} (member registry)");
                self.down = vec![false; urls.len()];
                self.endpoints = e;
                self.following = None;
                self.failures_in_a_row = 0;
            }
            Err(e) => warn!("the member registry lists {urls:?}: {e}; keeping the members known"),
        }
    }

    /// The last store index applied to the hub (None before the first).
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// The consensus members this follower calls (the registry's latest).
    pub fn endpoints(&mut self) -> &Endpoints {
        self.refresh_members();
        &self.endpoints
    }

    /// History restarts at `index` (the hub's watchers are cleared).
    pub fn reset(&mut self, index: u64) {
        self.hub.reset(index);
        self.last = Some(index);
        self.ready.send_replace(true);
    }

    /// Applies `e` if it is the next event; never applies one twice or out
    /// of order.
    pub fn offer(&mut self, e: Arc<concord_store::Event>) -> Fit {
        match self.last {
            Some(l) if e.etcd_index == l + 1 => {
                self.hub.publish(e);
                self.last = Some(l + 1);
                Fit::Applied
            }
            Some(l) if e.etcd_index <= l => Fit::Duplicate,
            _ => Fit::Gap,
        }
    }

    /// Follows the members over gRPC until `done(last index)` holds after
    /// an event or a reset (never, for `|_| false`). Cancel-safe: what was
    /// applied is recorded before each await.
    pub async fn follow(&mut self, mut done: impl FnMut(Option<u64>) -> bool) {
        loop {
            self.refresh_members();
            let (i, channel) = self.endpoints.current();
            let url = self.endpoints.urls()[i].clone();
            let start = match self.last {
                None => Start::Now,
                Some(l) => Start::After(l),
            };
            // A member that takes the connection but never answers counts
            // as unreachable (a broken stream later is caught by HTTP/2
            // pings).
            let subscribed =
                match tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribe(channel, start)).await {
                    Ok(r) => r,
                    Err(_) => Err(Status::deadline_exceeded("no answer in time").into()),
                };
            let mut stream = match subscribed {
                Ok(s) => s,
                Err(e) => {
                    if !std::mem::replace(&mut self.down[i], true) {
                        warn!("consensus member {url} cannot be reached: {e}");
                    }
                    self.endpoints.failed(i);
                    self.failures_in_a_row += 1;
                    let pause = if self.failures_in_a_row.is_multiple_of(self.down.len()) {
                        ROUND_PAUSE
                    } else {
                        NEXT_MEMBER_PAUSE
                    };
                    tokio::time::sleep(pause).await;
                    continue;
                }
            };
            self.failures_in_a_row = 0;
            self.down[i] = false;
            if self.following != Some(i) {
                match self.last {
                    Some(l) => info!("following committed events from {url} after index {l}"),
                    None => info!("following committed events from {url} from its current index"),
                }
                self.following = Some(i);
            }
            let mut applied = 0u64;
            let ended = loop {
                // A change of the members (registry) ends the stream: the
                // next round subscribes after the last index on the new set.
                let next = match &mut self.members {
                    Some(rx) => tokio::select! {
                        next = stream.next() => next,
                        _ = rx.changed() => break Ended::MembersChanged,
                    },
                    None => stream.next().await,
                };
                match next {
                    Some(Ok(Committed::Reset(index))) => {
                        if let Some(l) = self.last {
                            warn!(
                                "{url} no longer holds the events after index {l}: \
                                 watch history restarts at {index}, current watchers are cleared"
                            );
                        }
                        self.reset(index);
                    }
                    Some(Ok(Committed::Event(e))) => {
                        let Some(l) = self.last else {
                            warn!("{url} sent an event before its starting index; dropping its stream");
                            break Ended::OutOfOrder;
                        };
                        let index = e.etcd_index;
                        if self.offer(e) != Fit::Applied {
                            warn!(
                                "{url} sent index {index} after {l} ({}): dropping its stream, \
                                 subscribing again after {l}",
                                if index > l { "a gap" } else { "a duplicate" }
                            );
                            break Ended::OutOfOrder;
                        }
                    }
                    Some(Err(e)) => {
                        warn!("lost the committed events stream from {url}: {e}");
                        break Ended::Failed;
                    }
                    None => {
                        if let Some(l) = self.last {
                            info!("{url} ended the events stream; subscribing again after {l}");
                        }
                        break Ended::Resubscribe;
                    }
                }
                applied += 1;
                if done(self.last) {
                    return;
                }
                // A burst (a resume, a gap filled) must not outrun the
                // tasks that carry the hub's events to the gateways.
                if applied.is_multiple_of(YIELD_EVERY) {
                    tokio::task::yield_now().await;
                }
            };
            match ended {
                Ended::Failed => {
                    self.endpoints.failed(i);
                    self.down[i] = true;
                    tokio::time::sleep(NEXT_MEMBER_PAUSE).await;
                }
                Ended::OutOfOrder => {
                    self.endpoints.failed(i);
                    tokio::time::sleep(NEXT_MEMBER_PAUSE).await;
                }
                Ended::Resubscribe if applied == 0 => tokio::time::sleep(ROUND_PAUSE).await,
                Ended::Resubscribe | Ended::MembersChanged => {}
            }
        }
    }
}
