//! A watch stream as a test drives it: requests in, responses out, each
//! wait bounded. The call is made in a task of its own: etcd (grpc-go)
//! sends the response headers only with its first answer, so the client
//! must be able to send its first request before the call returns.

use std::time::Duration;

use concord_rpc::etcd::etcdserverpb::{
    watch_request::RequestUnion, WatchCancelRequest, WatchCreateRequest, WatchProgressRequest,
    WatchRequest, WatchResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use super::server::Clients;

type Call =
    tokio::task::JoinHandle<Result<tonic::Response<Streaming<WatchResponse>>, tonic::Status>>;

pub struct WatchStream {
    requests: mpsc::Sender<WatchRequest>,
    call: Option<Call>,
    responses: Option<Streaming<WatchResponse>>,
}

impl WatchStream {
    pub async fn open(c: &Clients) -> WatchStream {
        let (requests, rx) = mpsc::channel(16);
        let mut client = c.watch.clone();
        let call = tokio::spawn(async move { client.watch(ReceiverStream::new(rx)).await });
        WatchStream {
            requests,
            call: Some(call),
            responses: None,
        }
    }

    pub async fn send(&self, r: RequestUnion) {
        self.requests
            .send(WatchRequest {
                request_union: Some(r),
            })
            .await
            .expect("watch stream open");
    }

    pub async fn create(&self, c: WatchCreateRequest) {
        self.send(RequestUnion::CreateRequest(c)).await;
    }

    pub async fn cancel(&self, watch_id: i64) {
        self.send(RequestUnion::CancelRequest(WatchCancelRequest { watch_id }))
            .await;
    }

    pub async fn progress(&self) {
        self.send(RequestUnion::ProgressRequest(WatchProgressRequest {}))
            .await;
    }

    /// The next response, within `secs` seconds.
    pub async fn next_within(&mut self, secs: u64) -> WatchResponse {
        let limit = Duration::from_secs(secs);
        if let Some(call) = self.call.take() {
            let started = tokio::time::timeout(limit, call)
                .await
                .expect("the watch call answered in time")
                .expect("watch call task");
            self.responses = Some(started.expect("watch stream").into_inner());
        }
        let responses = self.responses.as_mut().expect("watch stream started");
        tokio::time::timeout(limit, responses.message())
            .await
            .expect("a watch response in time")
            .expect("watch stream failed")
            .expect("watch stream ended")
    }

    pub async fn next(&mut self) -> WatchResponse {
        self.next_within(10).await
    }
}
