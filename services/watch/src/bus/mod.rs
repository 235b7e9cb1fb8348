//! The optional event bus: committed events through NATS JetStream, so
//! that any number of watch replicas read them from the bus instead of each
//! holding a stream from a consensus member.
//!
//! - [`publisher`]: runs on every consensus member and publishes while that
//!   member leads, resuming after the bus's last message (dedup by index).
//! - [`subscriber`]: a watch replica's feed from the bus, with every gap
//!   (lag, a lost or trimmed message, a nats-server restart) filled from a
//!   consensus member over gRPC, and the gRPC stream as the fallback while
//!   the bus is down.
//!
//! On the wire: one JetStream stream per cluster, `CONCORD_EVENTS_<cluster
//! ID>`, subject `concord.events.<cluster ID>`; one message per event, its
//! payload the protobuf `concord.store.Event` (proto/store.proto, the same
//! wire form as the gRPC Events service), header `Concord-Index` the store
//! index and `Nats-Msg-Id` `<cluster ID>-<index>`, so that a republish of
//! an index (two leaders for a moment, a publisher restarting) is dropped
//! by JetStream's duplicate window rather than delivered twice.

pub mod publisher;
pub mod subscriber;

use std::time::Duration;

/// How long JetStream remembers message IDs to drop a republished index.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Messages kept in the stream (a late replica catches up from the last
/// 1000; the rest is slack for replicas that lag).
pub const STREAM_MAX_MESSAGES: i64 = 100_000;
/// The header holding the event's store index.
pub const INDEX_HEADER: &str = "Concord-Index";
/// How long a connect to nats-server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The stream and subject of one cluster's events.
#[derive(Debug, Clone)]
pub struct Names {
    pub cluster_id: String,
    pub stream: String,
    pub subject: String,
}

impl Names {
    pub fn new(cluster_id: &str) -> Names {
        Names {
            cluster_id: cluster_id.to_string(),
            stream: format!("CONCORD_EVENTS_{cluster_id}"),
            subject: format!("concord.events.{cluster_id}"),
        }
    }

    /// The stream's configuration (created by whichever side comes first).
    pub fn stream_config(&self) -> async_nats::jetstream::stream::Config {
        async_nats::jetstream::stream::Config {
            name: self.stream.clone(),
            subjects: vec![self.subject.clone()],
            duplicate_window: DUPLICATE_WINDOW,
            max_messages: STREAM_MAX_MESSAGES,
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        }
    }
}

/// A connection to nats-server that fails fast (the callers fall back to
/// gRPC and retry on their own) and does not buffer while disconnected.
pub async fn connect(url: &str) -> Result<async_nats::Client, BusError> {
    async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| BusError(format!("cannot connect to {url}: {e}")))
}

/// The store index a bus message carries.
pub fn message_index(headers: Option<&async_nats::HeaderMap>) -> Option<u64> {
    headers?.get(INDEX_HEADER)?.as_str().parse().ok()
}

/// The bus failed (unreachable, an error from JetStream, a bad message).
#[derive(Debug, thiserror::Error)]
#[error("event bus: {0}")]
pub struct BusError(pub String);

impl BusError {
    pub fn from(what: &str, e: impl std::fmt::Display) -> BusError {
        BusError(format!("{what}: {e}"))
    }
}
