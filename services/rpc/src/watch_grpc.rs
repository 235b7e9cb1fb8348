//! The watch service on the wire (proto/watch.proto): a watch replica
//! serves its hub as [`WatchService`], and a gateway uses any number of
//! replicas through [`GrpcWatch`], which implements the same
//! [`concord_api::Watch`] trait as the in-process hub.
//!
//! A watch is sent again to another replica only until it has started
//! (the replica answered `Started`): before that nothing was registered,
//! so nothing can be seen twice. After it, a broken stream only closes the
//! watcher's channel; the gateway answers its client from there, never
//! with a wrong or duplicated event.

// tonic's streams carry `Result<_, Status>`, whatever Status weighs.
#![allow(clippy::result_large_err)]

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use concord_api::{ApiError, Watch, WatchRequest, Watcher};
use concord_store::Event;
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt};
use tonic::codec::{BufferSettings, Codec, ProstCodec};
use tonic::codegen::{http, Body, BoxFuture, Service, StdError};
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

use crate::codec::{
    api_error_from_proto, api_error_to_proto, event_from_proto, event_to_proto,
    watch_request_from_proto, watch_request_to_proto,
};
use crate::endpoints::Endpoints;
use crate::kv::Empty;
use crate::watch::watch_client::WatchClient;
use crate::watch::watch_reply::Kind;
use crate::watch::watch_server::{Watch as WatchRpc, WatchServer};
use crate::watch::{Started, WatchReply, WatcherCountReply};

/// A streaming watcher's buffer on the gateway's side, as the hub's
/// (etcd's 100 events); a long poll needs room for its one event.
const STREAM_BUFFER: usize = 100;
/// Events relayed from the hub to one gRPC watch stream ahead of the wire.
const RELAY_BUFFER: usize = 4096;
/// How long a watch may take to start, over every replica tried (the hub
/// itself waits up to 5 s for a gateway's `after_index`).
const START_TIMEOUT: Duration = Duration::from_secs(10);
const COUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves a watch hub to the gateways.
pub struct WatchService {
    watch: Arc<dyn Watch>,
    /// False while the replica has not yet caught up with consensus: it
    /// then answers Unavailable, so a gateway tries another replica.
    ready: Option<tokio::sync::watch::Receiver<bool>>,
}

impl WatchService {
    pub fn new(watch: Arc<dyn Watch>) -> WatchService {
        WatchService { watch, ready: None }
    }

    /// Refuses watches (Unavailable) while `ready` holds false.
    pub fn with_readiness(mut self, ready: tokio::sync::watch::Receiver<bool>) -> WatchService {
        self.ready = Some(ready);
        self
    }

    /// The tonic service over `watch`, ready for `Server::add_service`.
    pub fn server(watch: Arc<dyn Watch>) -> LeanWatchServer {
        WatchService::new(watch).into_server()
    }

    /// This service as a tonic service, ready for `Server::add_service`.
    pub fn into_server(self) -> LeanWatchServer {
        let service = Arc::new(self);
        LeanWatchServer {
            generated: WatchServer::new(ArcWatchService(service.clone())),
            service,
        }
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<WatchReply, Status>> + Send>>;

fn reply(kind: Kind) -> Result<WatchReply, Status> {
    Ok(WatchReply { kind: Some(kind) })
}

#[tonic::async_trait]
impl WatchRpc for WatchService {
    type WatchStream = ReplyStream;

    async fn watch(
        &self,
        request: Request<crate::watch::WatchRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        if let Some(ready) = &self.ready {
            if !*ready.borrow() {
                return Err(Status::unavailable(
                    "this watch service has not caught up with consensus yet",
                ));
            }
        }
        let req = watch_request_from_proto(request.into_inner());
        let stream = req.stream;
        let stream: ReplyStream = match self.watch.watch(req).await {
            Ok(w) => {
                let started = Started {
                    start_index: w.start_index,
                };
                // Ends when the hub drops the watcher (a long poll after its
                // event, a stream that fell behind, a reset); a gateway that
                // goes away drops this stream and so the hub's receiver.
                // Between the hub and the wire, a stream gets room for a
                // burst (a replica catching up from another member publishes
                // many events at once): etcd's rule, dropping a watcher 100
                // events behind, is kept where the client is, at the
                // gateway, not at this internal hop.
                let from_hub = if stream {
                    let mut from_hub = w.events;
                    let (tx, rx) = tokio::sync::mpsc::channel(RELAY_BUFFER);
                    tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                e = from_hub.recv() => {
                                    let Some(e) = e else { return };
                                    if tx.send(e).await.is_err() {
                                        return;
                                    }
                                }
                                // The gateway went away: drop the hub's
                                // watcher now, not at the next event.
                                _ = tx.closed() => return,
                            }
                        }
                    });
                    rx
                } else {
                    w.events
                };
                let events = tokio_stream::wrappers::ReceiverStream::new(from_hub)
                    .map(|e| reply(Kind::Event(event_to_proto(&e))));
                Box::pin(tokio_stream::once(reply(Kind::Started(started))).chain(events))
            }
            Err(e) => Box::pin(tokio_stream::once(reply(Kind::Error(api_error_to_proto(
                &e,
            ))))),
        };
        Ok(Response::new(stream))
    }

    async fn watcher_count(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<WatcherCountReply>, Status> {
        let count = self
            .watch
            .watcher_count()
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(WatcherCountReply { count }))
    }
}

// --- lean buffers for long-lived watch streams ----------------------------
//
// tonic gives every call an 8 KiB encode (server) and decode (client)
// buffer that lives as long as the stream; a watch stream carries a few
// small messages over minutes, and there are tens of thousands of them.
// The Watch rpc therefore runs with small buffers (they grow for a large
// event), on both ends; everything else is the generated code's.

/// Buffers of a watch stream: 256 bytes to start.
fn lean_buffers() -> BufferSettings {
    BufferSettings::new(256, 32 * 1024)
}

/// Prost encoding with [`lean_buffers`].
struct LeanCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for LeanCodec<T, U> {
    fn default() -> Self {
        LeanCodec(PhantomData)
    }
}

impl<T, U> Codec for LeanCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = <ProstCodec<T, U> as Codec>::Decoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(lean_buffers())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(lean_buffers())
    }
}

const WATCH_PATH: &str = "/concord.watch.Watch/Watch";

/// The Watch rpc of [`WatchService`] as a tonic server-streaming method.
struct WatchMethod(Arc<WatchService>);

impl tonic::server::ServerStreamingService<crate::watch::WatchRequest> for WatchMethod {
    type Response = WatchReply;
    type ResponseStream = ReplyStream;
    type Future = BoxFuture<Response<ReplyStream>, Status>;

    fn call(&mut self, request: Request<crate::watch::WatchRequest>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move { WatchRpc::watch(&*service, request).await })
    }
}

/// The Watch service for `Server::add_service`: the generated server, but
/// with [`LeanCodec`] for the Watch rpc.
#[derive(Clone)]
pub struct LeanWatchServer {
    service: Arc<WatchService>,
    generated: WatchServer<ArcWatchService>,
}

/// [`WatchService`] shared between the generated server (WatcherCount)
/// and the lean Watch method.
#[derive(Clone)]
pub struct ArcWatchService(Arc<WatchService>);

#[tonic::async_trait]
impl WatchRpc for ArcWatchService {
    type WatchStream = ReplyStream;

    async fn watch(
        &self,
        request: Request<crate::watch::WatchRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        WatchRpc::watch(&*self.0, request).await
    }

    async fn watcher_count(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<WatcherCountReply>, Status> {
        WatchRpc::watcher_count(&*self.0, request).await
    }
}

impl NamedService for LeanWatchServer {
    const NAME: &'static str = <WatchServer<ArcWatchService> as NamedService>::NAME;
}

impl<B> Service<http::Request<B>> for LeanWatchServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != WATCH_PATH {
            return self.generated.call(req);
        }
        let method = WatchMethod(self.service.clone());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(LeanCodec::default());
            Ok(grpc.server_streaming(method, req).await)
        })
    }
}

/// [`Watch`] over the watch replicas of `endpoints`.
pub struct GrpcWatch {
    endpoints: Endpoints,
}

impl GrpcWatch {
    pub fn new(endpoints: Endpoints) -> GrpcWatch {
        GrpcWatch { endpoints }
    }
}

/// A failed call to the watch tier, as etcd's errorCode 300.
fn transport(s: Status) -> ApiError {
    if s.code() == tonic::Code::DeadlineExceeded {
        ApiError::Internal("etcdserver: request timed out".into())
    } else {
        ApiError::Internal(format!("no watch service answered: {}", s.message()))
    }
}

/// Forwards a started watch's events to its watcher until the stream ends
/// or breaks, or the watcher is dropped (which drops the stream, and so
/// the replica's registration).
async fn forward(mut stream: Streaming<WatchReply>, tx: mpsc::Sender<Arc<Event>>) {
    let mut last = 0u64;
    loop {
        let message = tokio::select! {
            m = stream.message() => m,
            _ = tx.closed() => return,
        };
        let e = match message {
            Ok(Some(WatchReply {
                kind: Some(Kind::Event(e)),
            })) => e,
            // The end, a broken stream, or a reply out of place: close the
            // watcher's channel rather than guess.
            _ => return,
        };
        let Ok(e) = event_from_proto(e) else { return };
        // A watcher's events come in index order; anything else would be a
        // duplicate.
        if e.etcd_index <= last {
            return;
        }
        last = e.etcd_index;
        if tx.send(Arc::new(e)).await.is_err() {
            return;
        }
    }
}

#[async_trait]
impl Watch for GrpcWatch {
    async fn watch(&self, req: WatchRequest) -> Result<Watcher, ApiError> {
        let request = watch_request_to_proto(&req);
        // Idempotent until Started: the call covers the first reply, so a
        // replica that dies before it is left for the next one.
        let opened = self
            .endpoints
            .call(true, START_TIMEOUT, |channel| {
                let request = request.clone();
                async move {
                    // The generated client's call, with LeanCodec.
                    let mut grpc =
                        tonic::client::Grpc::new(channel).max_decoding_message_size(usize::MAX);
                    grpc.ready()
                        .await
                        .map_err(|e| Status::unknown(format!("service was not ready: {e}")))?;
                    let path = http::uri::PathAndQuery::from_static(WATCH_PATH);
                    let mut stream = grpc
                        .server_streaming(Request::new(request), path, LeanCodec::default())
                        .await?
                        .into_inner();
                    match stream.message().await? {
                        Some(WatchReply {
                            kind: Some(Kind::Started(s)),
                        }) => Ok(Ok((s.start_index, stream))),
                        Some(WatchReply {
                            kind: Some(Kind::Error(e)),
                        }) => Ok(Err(api_error_from_proto(e))),
                        Some(_) => Err(Status::internal("watch: the first reply is not Started")),
                        None => Err(Status::unavailable(
                            "watch: the stream ended before it started",
                        )),
                    }
                }
            })
            .await
            .map_err(transport)?;
        let (start_index, stream) = opened?;
        let (tx, rx) = mpsc::channel(if req.stream { STREAM_BUFFER } else { 1 });
        tokio::spawn(forward(stream, tx));
        Ok(Watcher {
            start_index,
            events: rx,
        })
    }

    async fn watcher_count(&self) -> Result<u64, ApiError> {
        self.endpoints
            .call(true, COUNT_TIMEOUT, |channel| async move {
                let mut client = WatchClient::new(channel);
                Ok(client.watcher_count(Empty {}).await?.into_inner().count)
            })
            .await
            .map_err(transport)
    }
}
