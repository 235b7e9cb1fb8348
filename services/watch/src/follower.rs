//! The watch tier's follower: feeds a [`WatchHub`] from the committed
//! events of the consensus members, one member at a time.
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
}

/// Follows the members of `endpoints` forever, publishing into `hub`;
/// `ready` turns true once the hub has a starting index from consensus.
pub async fn follow(hub: Arc<WatchHub>, endpoints: Endpoints, ready: watch::Sender<bool>) {
    // The last store index applied to the hub; None until the first Reset.
    let mut last: Option<u64> = None;
    // The member streamed from last, and the ones known down (one line per
    // outage in the log, not one per attempt).
    let mut following: Option<usize> = None;
    let mut down = vec![false; endpoints.urls().len()];
    let mut failures_in_a_row = 0usize;
    loop {
        let (i, channel) = endpoints.current();
        let url = endpoints.urls()[i].clone();
        let start = match last {
            None => Start::Now,
            Some(l) => Start::After(l),
        };
        // A member that takes the connection but never answers counts as
        // unreachable (a broken stream later is caught by HTTP/2 pings).
        let subscribed =
            match tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribe(channel, start)).await {
                Ok(r) => r,
                Err(_) => Err(Status::deadline_exceeded("no answer in time").into()),
            };
        let mut stream = match subscribed {
            Ok(s) => s,
            Err(e) => {
                if !std::mem::replace(&mut down[i], true) {
                    warn!("consensus member {url} cannot be reached: {e}");
                }
                endpoints.failed(i);
                failures_in_a_row += 1;
                let pause = if failures_in_a_row.is_multiple_of(down.len()) {
                    ROUND_PAUSE
                } else {
                    NEXT_MEMBER_PAUSE
                };
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        failures_in_a_row = 0;
        down[i] = false;
        if following != Some(i) {
            match last {
                Some(l) => info!("following committed events from {url} after index {l}"),
                None => info!("following committed events from {url} from its current index"),
            }
            following = Some(i);
        }
        let mut applied = 0u64;
        let ended = loop {
            match stream.next().await {
                Some(Ok(Committed::Reset(index))) => {
                    if let Some(l) = last {
                        warn!(
                            "{url} no longer holds the events after index {l}: \
                             watch history restarts at {index}, current watchers are cleared"
                        );
                    }
                    hub.reset(index);
                    last = Some(index);
                    ready.send_replace(true);
                }
                Some(Ok(Committed::Event(e))) => {
                    let Some(l) = last else {
                        warn!("{url} sent an event before its starting index; dropping its stream");
                        break Ended::OutOfOrder;
                    };
                    if e.etcd_index != l + 1 {
                        warn!(
                            "{url} sent index {} after {l} ({}): dropping its stream, \
                             subscribing again after {l}",
                            e.etcd_index,
                            if e.etcd_index > l {
                                "a gap"
                            } else {
                                "a duplicate"
                            }
                        );
                        break Ended::OutOfOrder;
                    }
                    hub.publish(e);
                    last = Some(l + 1);
                }
                Some(Err(e)) => {
                    warn!("lost the committed events stream from {url}: {e}");
                    break Ended::Failed;
                }
                None => {
                    if let Some(l) = last {
                        info!("{url} ended the events stream; subscribing again after {l}");
                    }
                    break Ended::Resubscribe;
                }
            }
            applied += 1;
        };
        match ended {
            Ended::Failed => {
                endpoints.failed(i);
                down[i] = true;
                tokio::time::sleep(NEXT_MEMBER_PAUSE).await;
            }
            Ended::OutOfOrder => {
                endpoints.failed(i);
                tokio::time::sleep(NEXT_MEMBER_PAUSE).await;
            }
            Ended::Resubscribe if applied == 0 => tokio::time::sleep(ROUND_PAUSE).await,
            Ended::Resubscribe => {}
        }
    }
}
