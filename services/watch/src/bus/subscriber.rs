//! A watch replica's feed from the bus.
//!
//! Events are applied only in index order, each once ([`GrpcFollower::offer`]
//! checks every index against the last applied): a message at or below the
//! last index is a copy and skipped; one above the next index means events
//! are missing (bus lag, a lost message, a stream trimmed by its limits, a
//! nats-server restart), and they are fetched from a consensus member over
//! gRPC before the message is applied. When no message has come for a
//! while, a member is asked for its index, so a publisher that stalled (a
//! leader without the bus, a partitioned one) cannot hold watchers back.
//! While the bus is down the replica follows a member over gRPC, as it does
//! without a bus, and goes back to the bus once it answers again, reading
//! from where it left it (copies skipped).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::DeliverPolicy};
use concord_rpc::endpoints::Endpoints;
use futures_util::StreamExt;
use prost::Message;
use tokio::sync::watch;
use tracing::{info, warn};

use super::{connect, message_index, BusError, Names};
use crate::follower::{Fit, GrpcFollower};
use crate::WatchHub;

/// Events a replica that starts replays from the bus into its history.
const CATCH_UP: u64 = 1000;
/// Quiet time on the bus after which a member is asked for its index.
const QUIET: Duration = Duration::from_millis(500);
/// How often the bus is tried again while following over gRPC.
const RETRY_BUS: Duration = Duration::from_secs(1);
/// How long a gap may take to fill from consensus before the bus is
/// dropped for the gRPC stream.
const GAP_FILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Feeds `hub` from the bus at `url`, gaps and outages covered by the
/// consensus members of `endpoints`; `ready` as in [`crate::follower::follow`].
pub async fn follow(
    hub: Arc<WatchHub>,
    endpoints: Endpoints,
    ready: watch::Sender<bool>,
    url: String,
) {
    follow_with(GrpcFollower::new(hub, endpoints, ready), url).await
}

/// [`follow`] with a follower built by the caller (see
/// [`GrpcFollower::following_members`]).
pub async fn follow_with(mut f: GrpcFollower, url: String) {
    let cluster_id = loop {
        match concord_rpc::cluster_grpc::GrpcCluster::connect(
            f.endpoints().clone(),
            Duration::from_secs(60),
        )
        .await
        {
            Ok(c) => break concord_api::Cluster::cluster_id(&c),
            Err(e) => warn!("{e}; trying again"),
        }
    };
    let names = Names::new(&cluster_id);
    // The next stream sequence to read (where the bus was left).
    let mut resume: Option<u64> = None;
    let mut reported_down = false;
    loop {
        match follow_bus(&url, &names, &mut f, &mut resume).await {
            Ok(never) => match never {},
            Err(e) => {
                if !std::mem::replace(&mut reported_down, true) {
                    warn!("{e}: following consensus over gRPC until the bus {url} is back");
                }
            }
        }
        // The gRPC stream meanwhile; the bus tried again every RETRY_BUS.
        let mut retry = tokio::time::interval(RETRY_BUS);
        retry.tick().await;
        loop {
            tokio::select! {
                _ = f.follow(|_| false) => unreachable!("follows for ever"),
                _ = retry.tick() => {}
            }
            if bus_answers(&url).await {
                info!("the bus {url} answers again: following it");
                reported_down = false;
                break;
            }
        }
    }
}

enum Never {}

async fn bus_answers(url: &str) -> bool {
    match connect(url).await {
        Ok(c) => {
            let _ = c.drain().await;
            true
        }
        Err(_) => false,
    }
}

/// Follows the bus until it fails.
async fn follow_bus(
    url: &str,
    names: &Names,
    f: &mut GrpcFollower,
    resume: &mut Option<u64>,
) -> Result<Never, BusError> {
    let client = connect(url).await?;
    let js = jetstream::new(client.clone());
    let mut stream = js
        .get_or_create_stream(names.stream_config())
        .await
        .map_err(|e| BusError::from("stream", e))?;
    let state = stream
        .info()
        .await
        .map_err(|e| BusError::from("stream info", e))?
        .state
        .clone();
    let recent = state
        .last_sequence
        .saturating_sub(CATCH_UP - 1)
        .max(state.first_sequence);
    let start = match *resume {
        // Where the bus was left, if the stream still has it (a stream
        // made anew restarts its sequences: read its recent part, copies
        // skipped).
        Some(r) if r >= state.first_sequence && r <= state.last_sequence + 1 => r,
        _ => recent,
    };
    if f.last().is_none() {
        if state.messages > 0 {
            // A replica that starts replays the bus's recent events into
            // its history (so waitIndex can reach back).
            let first = stream
                .get_raw_message(start)
                .await
                .map_err(|e| BusError::from("first message", e))?;
            let index = message_index(Some(&first.headers))
                .ok_or_else(|| BusError(format!("message {start} has no index")))?;
            f.reset(index - 1);
            info!("catching up from the bus {url}: history from index {index}");
        } else {
            // An empty stream: the starting index comes from consensus.
            f.follow(|last| last.is_some()).await;
        }
    }
    let policy = if state.last_sequence == 0 {
        DeliverPolicy::All
    } else {
        DeliverPolicy::ByStartSequence {
            start_sequence: start.max(1),
        }
    };
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: names.subject.clone(),
            deliver_policy: policy,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::from("consumer", e))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| BusError::from("messages", e))?;
    info!(
        "following committed events on the bus {url} (stream {}) after index {}",
        names.stream,
        f.last().unwrap_or(0)
    );
    let mut heard = Instant::now();
    let mut received = 0u64;
    let mut tick = tokio::time::interval(QUIET);
    loop {
        tokio::select! {
            m = messages.next() => {
                let m = match m {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Err(BusError::from("messages", e)),
                    None => return Err(BusError("the consumer ended".into())),
                };
                heard = Instant::now();
                if let Ok(info) = m.info() {
                    *resume = Some(info.stream_sequence + 1);
                }
                let Some(index) = message_index(m.headers.as_ref()) else {
                    warn!("a message without an index on the bus: skipped");
                    continue;
                };
                let event = concord_rpc::store::Event::decode(m.payload.clone())
                    .map_err(|e| BusError::from("message", e))
                    .and_then(|e| {
                        concord_rpc::codec::event_from_proto(e).map_err(|e| BusError::from("message", e))
                    });
                let event = match event {
                    Ok(e) if e.etcd_index == index => Arc::new(e),
                    // Whatever is wrong with it, consensus has the event.
                    _ => {
                        warn!("message with index {index} on the bus unreadable: taking it from consensus");
                        fill_from_consensus(f, index).await?;
                        continue;
                    }
                };
                received += 1;
                if received.is_multiple_of(crate::follower::YIELD_EVERY) {
                    tokio::task::yield_now().await;
                }
                if f.offer(event.clone()) == Fit::Gap {
                    let from = f.last().unwrap_or(0);
                    fill_from_consensus(f, index - 1).await?;
                    info!("events {}..{} missing on the bus: taken from consensus", from + 1, index - 1);
                    f.offer(event);
                }
            }
            _ = tick.tick() => {
                if client.connection_state() != async_nats::connection::State::Connected {
                    return Err(BusError("disconnected".into()));
                }
                if heard.elapsed() >= QUIET {
                    // Quiet bus: does consensus have more?
                    if let Some(index) = member_index(f.endpoints()).await {
                        if let Some(l) = f.last().filter(|l| index > *l) {
                            fill_from_consensus(f, index).await?;
                            info!("the bus lags: events {}..{index} taken from consensus", l + 1);
                        }
                    }
                }
            }
        }
    }
}

/// Applies the events up to `target` from a consensus member over gRPC.
async fn fill_from_consensus(f: &mut GrpcFollower, target: u64) -> Result<(), BusError> {
    tokio::time::timeout(
        GAP_FILL_TIMEOUT,
        f.follow(|last| last.is_some_and(|l| l >= target)),
    )
    .await
    .map_err(|_| {
        BusError(format!(
            "consensus did not give the events up to {target} in time"
        ))
    })
}

/// The store index of a member that answers.
async fn member_index(endpoints: &Endpoints) -> Option<u64> {
    let reply = endpoints
        .call(true, Duration::from_secs(2), |channel| async move {
            concord_rpc::kv::kv_client::KvClient::new(channel)
                .position(concord_rpc::kv::Empty {})
                .await
        })
        .await
        .ok()?;
    Some(reply.into_inner().store_index)
}
