//! The committed-events service on the wire (proto/events.proto): a
//! consensus member serves its [`EventSource`] as [`EventsService`], and the
//! watch tier follows it with [`subscribe`], which yields [`Committed`]
//! items as the in-process source does.
//!
//! The stream carries what the source gives, in order; checking that the
//! indexes follow each other (no gap, no duplicate across a resume) is the
//! follower's job, which alone knows the last index it applied.

// tonic's streams carry `Result<_, Status>`, whatever Status weighs.
#![allow(clippy::result_large_err)]

use std::pin::Pin;
use std::sync::Arc;

use concord_api::{Committed, EventSource};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use crate::codec::{committed_from_proto, committed_to_proto, Malformed};
use crate::events::events_client::EventsClient;
use crate::events::events_server::{Events, EventsServer};
use crate::events::{EventsReply, SubscribeRequest};

/// Serves a member's committed events to watch services.
pub struct EventsService {
    source: Arc<dyn EventSource>,
}

impl EventsService {
    pub fn new(source: Arc<dyn EventSource>) -> EventsService {
        EventsService { source }
    }

    /// The tonic service, ready for `Server::add_service`.
    pub fn server(source: Arc<dyn EventSource>) -> EventsServer<EventsService> {
        EventsServer::new(EventsService::new(source))
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EventsReply, Status>> + Send>>;

#[tonic::async_trait]
impl Events for EventsService {
    type SubscribeStream = ReplyStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let req = request.into_inner();
        let rx = if req.from_now {
            self.source.subscribe_from_now()
        } else {
            self.source.subscribe(req.after_index)
        };
        // The stream ends when the source drops the subscriber (it fell
        // behind): the follower resubscribes from its last index. A caller
        // that goes away drops the stream, and with it the receiver, which
        // the source notices on its next publish.
        let stream =
            tokio_stream::wrappers::ReceiverStream::new(rx).map(|c| Ok(committed_to_proto(&c)));
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Every event with a store index above this one.
    After(u64),
    /// A [`Committed::Reset`] at the member's current index, then every
    /// new event.
    Now,
}

/// Why a subscription failed or its stream broke.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("events stream: {} ({:?})", .0.message(), .0.code())]
    Status(#[from] Status),
    #[error(transparent)]
    Malformed(#[from] Malformed),
}

/// A member's committed events, as received.
pub struct CommittedStream {
    inner: Streaming<EventsReply>,
}

impl CommittedStream {
    /// The next item; `None` when the member ended the stream (the
    /// subscriber fell behind, or the member is stopping).
    pub async fn next(&mut self) -> Option<Result<Committed, EventsError>> {
        match self.inner.message().await {
            Ok(Some(reply)) => Some(committed_from_proto(reply).map_err(EventsError::from)),
            Ok(None) => None,
            Err(s) => Some(Err(s.into())),
        }
    }
}

/// Subscribes to the committed events of the member behind `channel`.
pub async fn subscribe(channel: Channel, from: Start) -> Result<CommittedStream, EventsError> {
    let req = match from {
        Start::After(i) => SubscribeRequest {
            after_index: i,
            from_now: false,
        },
        Start::Now => SubscribeRequest {
            after_index: 0,
            from_now: true,
        },
    };
    let mut client = EventsClient::new(channel).max_decoding_message_size(usize::MAX);
    let inner = client.subscribe(req).await?.into_inner();
    Ok(CommittedStream { inner })
}
