//! The caller's side of the `Calls` stream: one long-lived bidirectional
//! gRPC stream per peer connection carries raft appends, votes and
//! forwarded requests, each as one HTTP/2 DATA frame, answered by id.
//!
//! A unary gRPC call opens an HTTP/2 stream with its own headers, data and
//! trailers (two writes on the caller, header encoding on both sides, a
//! task per call on the server); at one write per client request the
//! leader makes four such calls (two appends, two commit notices), so the
//! per-message cost bounds the latency and the CPU of every write.
//!
//! The stream is opened on first use and again after it broke: when it
//! ends, every call still waiting on it fails with the stream's status
//! (exactly as a unary call on a broken connection would), and the next call
//! opens a new one. A call that times out (or is dropped) before its answer
//! ends the stream as well: the peer is stuck or gone, and calls queued
//! behind a stalled HTTP/2 stream must not pile up; the others waiting on it
//! fail at once and the next call starts afresh (as each timed-out unary
//! call reset its own stream).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use concord_rpc::peer::peer_client::PeerClient;
use concord_rpc::peer::{Answer, Call, Envelope, Method};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};

type Waiter = oneshot::Sender<Result<Envelope, Status>>;

/// How the message of a call that was never handed to a stream starts:
/// such a call can be sent again without risk of applying it twice.
pub const NOT_SENT: &str = "not sent: ";

/// What the callers and the answer reader of one stream share.
#[derive(Default)]
struct Pending {
    /// Calls waiting for their answers; `None` once the stream ended.
    waiters: Mutex<Option<HashMap<u64, Waiter>>>,
    /// The task reading answers (stopped when a call gives up).
    reader: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Pending {
    /// Ends the stream: waiters fail, the reader stops, later calls reopen.
    fn end(&self) {
        self.waiters.lock().take();
        if let Some(r) = self.reader.lock().take() {
            r.abort();
        }
    }
}

/// One open stream.
struct Open {
    calls: mpsc::UnboundedSender<Call>,
    pending: Arc<Pending>,
}

/// The stream of calls to one peer (shared by the clones of a connection).
#[derive(Default)]
pub struct CallStream {
    open: Mutex<Option<Open>>,
    next_id: AtomicU64,
}

/// Ends the stream when a call is dropped before its answer came.
struct GiveUp<'a> {
    pending: &'a Pending,
    id: u64,
}

impl Drop for GiveUp<'_> {
    fn drop(&mut self) {
        let unanswered = self
            .pending
            .waiters
            .lock()
            .as_mut()
            .is_some_and(|m| m.remove(&self.id).is_some());
        if unanswered {
            self.pending.end();
        }
    }
}

fn into_result(a: Answer) -> Result<Envelope, Status> {
    if a.code == 0 {
        Ok(a.envelope.unwrap_or_default())
    } else {
        Err(Status::new(Code::from_i32(a.code), a.message))
    }
}

impl CallStream {
    /// Sends one call and waits for its answer.
    pub async fn call(
        &self,
        client: &PeerClient<Channel>,
        method: Method,
        envelope: Envelope,
    ) -> Result<Envelope, Status> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let pending = {
            let mut open = self.open.lock();
            let alive = open
                .as_ref()
                .is_some_and(|o| o.pending.waiters.lock().is_some());
            if !alive {
                *open = Some(start(client.clone()));
            }
            let Some(o) = open.as_ref() else {
                return Err(Status::unavailable(format!(
                    "{NOT_SENT}no stream to the peer"
                )));
            };
            match o.pending.waiters.lock().as_mut() {
                Some(map) => map.insert(id, tx),
                None => {
                    return Err(Status::unavailable(format!(
                        "{NOT_SENT}the stream to the peer ended"
                    )))
                }
            };
            let call = Call {
                id,
                method: method as i32,
                envelope: Some(envelope),
            };
            if o.calls.send(call).is_err() {
                return Err(Status::unavailable(format!(
                    "{NOT_SENT}the stream to the peer ended"
                )));
            }
            o.pending.clone()
        };
        let give_up = GiveUp {
            pending: &pending,
            id,
        };
        let answer = rx
            .await
            .unwrap_or_else(|_| Err(Status::unavailable("the stream to the peer ended")));
        // Answered (or failed with the stream): nothing to give up.
        std::mem::forget(give_up);
        answer
    }
}

/// Opens a stream; a task hands its answers to the waiting calls.
fn start(mut client: PeerClient<Channel>) -> Open {
    let (calls, rx) = mpsc::unbounded_channel();
    let pending = Arc::new(Pending {
        waiters: Mutex::new(Some(HashMap::new())),
        reader: Mutex::new(None),
    });
    let waiting = pending.clone();
    let reader = tokio::spawn(async move {
        let ended = match client.calls(UnboundedReceiverStream::new(rx)).await {
            Ok(resp) => {
                let mut answers = resp.into_inner();
                loop {
                    match answers.message().await {
                        Ok(Some(a)) => {
                            let waiter = waiting
                                .waiters
                                .lock()
                                .as_mut()
                                .and_then(|m| m.remove(&a.id));
                            if let Some(w) = waiter {
                                let _ = w.send(into_result(a));
                            }
                        }
                        Ok(None) => break Status::unavailable("the peer closed the stream"),
                        Err(s) => break s,
                    }
                }
            }
            Err(s) => s,
        };
        // Whoever still waits gets the stream's fate; later calls reopen.
        let left = waiting.waiters.lock().take();
        for (_, w) in left.into_iter().flatten() {
            let _ = w.send(Err(ended.clone()));
        }
    });
    *pending.reader.lock() = Some(reader.abort_handle());
    Open { calls, pending }
}
