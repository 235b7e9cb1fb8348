//! The caller's side of a call stream: one long-lived bidirectional gRPC
//! stream carries many calls, each as one HTTP/2 DATA frame, answered by id
//! in any order. Members use it for raft appends, votes and forwards
//! (peer.proto's `Calls`), gateways for writes (kv.proto's `Writes`).
//!
//! A unary gRPC call opens an HTTP/2 stream with its own headers, data and
//! trailers (two writes on the caller, header encoding on both sides, a
//! task per call on the server): at one message per client request, the
//! per-message cost bounds the latency and the CPU of every write.
//!
//! The stream is opened on first use and again after it broke: when it
//! ends, every call still waiting on it fails with the stream's status
//! (exactly as a unary call on a broken connection would), and the next call
//! opens a new one. A call that times out (or is dropped) before its answer
//! ends the stream as well: the server is stuck or gone, and calls queued
//! behind a stalled HTTP/2 stream must not pile up; the others waiting on it
//! fail at once and the next call starts afresh (as each timed-out unary
//! call reset its own stream).

// Calls fail with tonic's `Status`, whatever it weighs, as unary calls do.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Status, Streaming};

/// How the message of a call that was never handed to a stream starts:
/// such a call can be sent again without risk of applying it twice.
pub const NOT_SENT: &str = "not sent: ";

/// One kind of call stream: how it is opened and how answers name calls.
pub trait Exchange: Send + Sync + 'static {
    /// The generated gRPC client the stream is opened on.
    type Client: Clone + Send + 'static;
    type Call: Send + 'static;
    type Answer: Send + 'static;
    /// Opens the stream on `client`, sending `calls` on it.
    fn open(
        client: Self::Client,
        calls: UnboundedReceiverStream<Self::Call>,
    ) -> impl Future<Output = Result<Streaming<Self::Answer>, Status>> + Send;
    /// The id of the call `answer` answers.
    fn answer_id(answer: &Self::Answer) -> u64;
}

type Waiter<A> = oneshot::Sender<Result<A, Status>>;

/// What the callers and the answer reader of one stream share.
struct Pending<A> {
    /// Calls waiting for their answers; `None` once the stream ended.
    waiters: Mutex<Option<HashMap<u64, Waiter<A>>>>,
    /// The task reading answers (stopped when a call gives up).
    reader: Mutex<Option<tokio::task::AbortHandle>>,
}

impl<A> Pending<A> {
    /// Ends the stream: waiters fail, the reader stops, later calls reopen.
    fn end(&self) {
        self.waiters.lock().take();
        if let Some(r) = self.reader.lock().take() {
            r.abort();
        }
    }
}

/// One open stream.
struct Open<E: Exchange> {
    calls: mpsc::UnboundedSender<E::Call>,
    pending: Arc<Pending<E::Answer>>,
}

/// The stream of calls to one server (shared by the clones of a connection).
pub struct CallStream<E: Exchange> {
    open: Mutex<Option<Open<E>>>,
    next_id: AtomicU64,
}

impl<E: Exchange> Default for CallStream<E> {
    fn default() -> Self {
        CallStream {
            open: Mutex::new(None),
            next_id: AtomicU64::new(0),
        }
    }
}

/// Ends the stream when a call is dropped before its answer came.
struct GiveUp<'a, A> {
    pending: &'a Pending<A>,
    id: u64,
}

impl<A> Drop for GiveUp<'_, A> {
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

fn ended(what: &str) -> Status {
    Status::unavailable(format!("{NOT_SENT}{what}"))
}

impl<E: Exchange> CallStream<E> {
    /// Sends the call `make(id)` and waits for its answer.
    pub async fn call(
        &self,
        client: &E::Client,
        make: impl FnOnce(u64) -> E::Call,
    ) -> Result<E::Answer, Status> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let pending = {
            let mut open = self.open.lock();
            let alive = open
                .as_ref()
                .is_some_and(|o| o.pending.waiters.lock().is_some());
            if !alive {
                *open = Some(start::<E>(client.clone()));
            }
            let Some(o) = open.as_ref() else {
                return Err(ended("no stream to the server"));
            };
            match o.pending.waiters.lock().as_mut() {
                Some(map) => map.insert(id, tx),
                None => return Err(ended("the stream to the server ended")),
            };
            if o.calls.send(make(id)).is_err() {
                return Err(ended("the stream to the server ended"));
            }
            o.pending.clone()
        };
        let give_up = GiveUp {
            pending: &pending,
            id,
        };
        let answer = rx
            .await
            .unwrap_or_else(|_| Err(Status::unavailable("the stream to the server ended")));
        // Answered (or failed with the stream): nothing to give up.
        std::mem::forget(give_up);
        answer
    }
}

/// The server's side: serves each call of `calls` on its own task with
/// `serve`, and streams the answers back in the order they are ready. Ends
/// when the caller closes the stream or the connection breaks; calls still
/// being served then answer into a closed channel (as a unary call whose
/// caller went away).
pub fn serve_calls<C, A, F, Fut>(
    mut calls: Streaming<C>,
    serve: F,
) -> UnboundedReceiverStream<Result<A, Status>>
where
    C: Send + 'static,
    A: Send + 'static,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = A> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(call)) = calls.message().await {
            let (answer, tx) = (serve(call), tx.clone());
            tokio::spawn(async move {
                let _ = tx.send(Ok(answer.await));
            });
        }
    });
    UnboundedReceiverStream::new(rx)
}

/// Opens a stream; a task hands its answers to the waiting calls.
fn start<E: Exchange>(client: E::Client) -> Open<E> {
    let (calls, rx) = mpsc::unbounded_channel();
    let pending = Arc::new(Pending {
        waiters: Mutex::new(Some(HashMap::new())),
        reader: Mutex::new(None),
    });
    let waiting = pending.clone();
    let reader = tokio::spawn(async move {
        let ended = match E::open(client, UnboundedReceiverStream::new(rx)).await {
            Ok(mut answers) => loop {
                match answers.message().await {
                    Ok(Some(a)) => {
                        let waiter = waiting
                            .waiters
                            .lock()
                            .as_mut()
                            .and_then(|m| m.remove(&E::answer_id(&a)));
                        if let Some(w) = waiter {
                            let _ = w.send(Ok(a));
                        }
                    }
                    Ok(None) => break Status::unavailable("the server closed the stream"),
                    Err(s) => break s,
                }
            },
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
