//! Publishes a consensus member's committed events to the bus while the
//! member leads.
//!
//! Only the leader publishes, so the members' load does not grow with the
//! number of watch replicas. A leader (new, or reconnected) starts after
//! the index of the stream's last message: its event log holds the recent
//! committed events, so a leader change leaves no gap (an old leader that
//! has not noticed yet may publish the same indices for a moment: the
//! message ID, the index, makes JetStream drop the second copy). Should the
//! log no longer hold the events after the stream's last index, they are
//! skipped here and the watch replicas fill that gap from a member over
//! gRPC, as they fill any other.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use concord_api::{Committed, EventSource};
use futures_util::stream::{FuturesOrdered, StreamExt};
use prost::Message;
use tracing::{info, warn};

use super::{connect, message_index, BusError, Names, INDEX_HEADER};

/// How often leadership is checked.
const LEADERSHIP_POLL: Duration = Duration::from_millis(100);
/// Publishes awaiting JetStream's ack at most (a pipeline, not one round
/// trip per event).
const IN_FLIGHT: usize = 512;
/// Pause before connecting again after the bus failed.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Publishes `events` to the bus at `url` whenever `leading()` holds, for
/// ever (run it as a task; abort it to stop).
pub async fn run(
    url: String,
    cluster_id: String,
    events: Arc<dyn EventSource>,
    leading: impl Fn() -> bool + Send + Sync + 'static,
) {
    let names = Names::new(&cluster_id);
    let mut reported_down = false;
    loop {
        while !leading() {
            tokio::time::sleep(LEADERSHIP_POLL).await;
        }
        match publish_while_leading(&url, &names, &events, &leading).await {
            Ok(()) => {
                info!("no longer the leader: stopped publishing events to the bus {url}");
                reported_down = false;
            }
            Err(e) => {
                if !std::mem::replace(&mut reported_down, true) {
                    warn!("cannot publish events to the bus {url}: {e}; retrying");
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// One publishing session: returns Ok when leadership is lost, Err when the
/// bus fails.
async fn publish_while_leading(
    url: &str,
    names: &Names,
    events: &Arc<dyn EventSource>,
    leading: &(impl Fn() -> bool + Send + Sync),
) -> Result<(), BusError> {
    let client = connect(url).await?;
    let js = jetstream::new(client);
    let mut stream = js
        .get_or_create_stream(names.stream_config())
        .await
        .map_err(|e| BusError::from("stream", e))?;
    let last_seq = stream
        .info()
        .await
        .map_err(|e| BusError::from("stream info", e))?
        .state
        .last_sequence;
    let mut last = if last_seq == 0 {
        None
    } else {
        let m = stream
            .get_raw_message(last_seq)
            .await
            .map_err(|e| BusError::from("last message", e))?;
        Some(
            message_index(Some(&m.headers))
                .ok_or_else(|| BusError(format!("message {last_seq} has no {INDEX_HEADER}")))?,
        )
    };
    info!(
        "leader: publishing committed events to the bus {url} (stream {}) after index {}",
        names.stream,
        last.map_or("now".to_string(), |l| l.to_string())
    );
    let mut rx = match last {
        Some(l) => events.subscribe(l),
        None => events.subscribe_from_now(),
    };
    let mut acks = FuturesOrdered::new();
    let mut tick = tokio::time::interval(LEADERSHIP_POLL);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if !leading() {
                    // What was sent is still acked (or dropped as a copy).
                    while let Some(r) = acks.next().await {
                        ack_result(r)?;
                    }
                    return Ok(());
                }
            }
            Some(r) = acks.next(), if !acks.is_empty() => ack_result(r)?,
            c = rx.recv(), if acks.len() < IN_FLIGHT => match c {
                Some(Committed::Event(e)) => {
                    if last.is_some_and(|l| e.etcd_index <= l) {
                        continue;
                    }
                    let index = e.etcd_index;
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(INDEX_HEADER, index.to_string().as_str());
                    headers.insert(
                        "Nats-Msg-Id",
                        format!("{}-{index}", names.cluster_id).as_str(),
                    );
                    let payload = concord_rpc::codec::event_to_proto(&e).encode_to_vec();
                    let ack = js
                        .publish_with_headers(names.subject.clone(), headers, payload.into())
                        .await
                        .map_err(|e| BusError::from("publish", e))?;
                    acks.push_back(std::future::IntoFuture::into_future(ack));
                    last = Some(index);
                }
                // The log no longer holds what follows `last`: the replicas
                // fill the gap from consensus; go on from the log's index.
                Some(Committed::Reset(index)) => last = Some(index),
                // The log dropped this subscriber (it fell behind): again
                // from the last index published.
                None => {
                    rx = match last {
                        Some(l) => events.subscribe(l),
                        None => events.subscribe_from_now(),
                    };
                }
            },
        }
    }
}

fn ack_result(
    r: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
) -> Result<(), BusError> {
    r.map(|_| ()).map_err(|e| BusError::from("publish ack", e))
}
