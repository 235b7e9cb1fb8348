//! The caller's side of the peer `Calls` stream against a real gRPC server
//! on 127.0.0.1 (a scripted `Peer` service): answers matched by id in any
//! order, error statuses carried back, one stream for many calls, a call
//! that gives up ends the stream and the next call opens a new one, and
//! calls work again once a restarted peer listens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concord_consensus::call_stream::CallStream;
use concord_rpc::peer::peer_client::PeerClient;
use concord_rpc::peer::peer_server::{Peer, PeerServer};
use concord_rpc::peer::{Answer, Call, Envelope, Method};
use tokio::sync::{mpsc, Notify};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status, Streaming};

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(20);

/// A peer that answers each streamed call as its payload says:
/// `echo:X` -> X; `fail` -> PermissionDenied; `hold` -> answered only after
/// a `release` call; `never` -> never answered.
#[derive(Clone, Default)]
struct ScriptedPeer {
    streams: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    release: Arc<Notify>,
}

fn env(payload: &str) -> Envelope {
    Envelope {
        cluster_id: 1,
        from: 2,
        payload: payload.as_bytes().to_vec(),
    }
}

#[tonic::async_trait]
impl Peer for ScriptedPeer {
    async fn append_entries(&self, _: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        Err(Status::unimplemented("unary"))
    }
    async fn vote(&self, _: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        Err(Status::unimplemented("unary"))
    }
    async fn install_snapshot(&self, _: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        Err(Status::unimplemented("unary"))
    }
    async fn forward(&self, _: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        Err(Status::unimplemented("unary"))
    }
    async fn membership(&self, _: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        Err(Status::unimplemented("unary"))
    }
    async fn timeout_now(&self, _: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        Err(Status::unimplemented("unary"))
    }

    type CallsStream = UnboundedReceiverStream<Result<Answer, Status>>;

    async fn calls(
        &self,
        req: Request<Streaming<Call>>,
    ) -> Result<Response<Self::CallsStream>, Status> {
        self.streams.fetch_add(1, Ordering::SeqCst);
        let mut calls = req.into_inner();
        let (tx, rx) = mpsc::unbounded_channel();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(call)) = calls.message().await {
                me.calls.fetch_add(1, Ordering::SeqCst);
                let me = me.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let payload = call.envelope.unwrap_or_default().payload;
                    let text = String::from_utf8(payload).unwrap();
                    let ok = |p: &str| Answer {
                        id: call.id,
                        code: 0,
                        message: String::new(),
                        envelope: Some(env(p)),
                    };
                    let answer = if let Some(x) = text.strip_prefix("echo:") {
                        ok(x)
                    } else if text == "fail" {
                        Answer {
                            id: call.id,
                            code: Code::PermissionDenied as i32,
                            message: "removed".into(),
                            envelope: None,
                        }
                    } else if text == "hold" {
                        me.release.notified().await;
                        ok("held")
                    } else if text == "release" {
                        me.release.notify_one();
                        ok("released")
                    } else {
                        std::future::pending::<()>().await;
                        unreachable!()
                    };
                    let _ = tx.send(Ok(answer));
                });
            }
        });
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }
}

/// A peer served on its own runtime: dropping it closes the listener and
/// every connection at once, as a killed process would.
struct Server(Option<tokio::runtime::Runtime>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn serve(peer: ScriptedPeer, listener: std::net::TcpListener) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let _ = tonic::transport::Server::builder()
            .add_service(PeerServer::new(peer))
            .serve_with_incoming(incoming)
            .await;
    });
    Server(Some(rt))
}

/// Binds 127.0.0.1:`port` (0: any), retrying while a stopped server's
/// socket is still being closed.
async fn listen(port: u16) -> std::net::TcpListener {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match std::net::TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => return l,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "bind {port}: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

fn client(port: u16) -> PeerClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(1))
        .connect_lazy();
    PeerClient::new(channel)
}

async fn call(s: &CallStream, c: &PeerClient<Channel>, payload: &str) -> Result<String, Status> {
    tokio::time::timeout(PATIENCE, s.call(c, Method::Forward, env(payload)))
        .await
        .expect("no answer in time")
        .map(|e| String::from_utf8(e.payload).unwrap())
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A scripted peer on a free port, a client of it and a call stream.
struct Setup {
    port: u16,
    peer: ScriptedPeer,
    server: Server,
    client: PeerClient<Channel>,
    stream: Arc<CallStream>,
}

async fn setup() -> Setup {
    let listener = listen(0).await;
    let port = listener.local_addr().unwrap().port();
    let peer = ScriptedPeer::default();
    let server = serve(peer.clone(), listener);
    Setup {
        port,
        peer,
        server,
        client: client(port),
        stream: Arc::new(CallStream::default()),
    }
}

/// Starts a call on its own task and waits until the peer has it (its
/// `n`th call).
async fn in_flight(
    t: &Setup,
    payload: &'static str,
    n: usize,
) -> tokio::task::JoinHandle<Result<String, Status>> {
    let (s, c) = (t.stream.clone(), t.client.clone());
    let task = tokio::spawn(async move { call(&s, &c, payload).await });
    until("the call reached the peer", || {
        t.peer.calls.load(Ordering::SeqCst) == n
    })
    .await;
    task
}

#[tokio::test]
async fn answers_by_id_in_any_order_on_one_stream() {
    let t = setup().await;
    let (s, c, peer) = (&t.stream, &t.client, &t.peer);

    assert_eq!(call(s, c, "echo:a").await.unwrap(), "a");
    // `hold` is answered only after `release`, which is sent after it.
    let held = in_flight(&t, "hold", 2).await;
    assert_eq!(call(s, c, "release").await.unwrap(), "released");
    assert_eq!(held.await.unwrap().unwrap(), "held");

    let err = call(s, c, "fail").await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "removed");
    assert_eq!(call(s, c, "echo:b").await.unwrap(), "b");
    assert_eq!(peer.streams.load(Ordering::SeqCst), 1, "one stream for all");
}

#[tokio::test]
async fn a_call_that_gives_up_ends_the_stream() {
    let t = setup().await;
    let (s, c, peer) = (&t.stream, &t.client, &t.peer);

    assert_eq!(call(s, c, "echo:a").await.unwrap(), "a");
    // Another call waits on the same stream while one gives up.
    let waiting = in_flight(&t, "never", 2).await;
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        s.call(c, Method::Forward, env("never")),
    )
    .await;
    assert!(gave_up.is_err(), "a never-answered call cannot succeed");
    let err = waiting.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    // The next call opens a new stream and is answered.
    assert_eq!(call(s, c, "echo:b").await.unwrap(), "b");
    assert_eq!(peer.streams.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn calls_work_again_after_the_peer_restarts() {
    let mut t = setup().await;
    let port = t.port;
    assert_eq!(call(&t.stream, &t.client, "echo:a").await.unwrap(), "a");

    // A call in flight when the peer goes away fails instead of hanging.
    let waiting = in_flight(&t, "never", 2).await;
    drop(std::mem::replace(&mut t.server, Server(None)));
    let err = waiting.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled
        ),
        "{err:?}"
    );

    // The same port serves again: calls get through (the first ones may
    // still fail while the channel reconnects).
    let second = ScriptedPeer::default();
    t.server = serve(second.clone(), listen(port).await);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match call(&t.stream, &t.client, "echo:b").await {
            Ok(b) => {
                assert_eq!(b, "b");
                break;
            }
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never recovered: {e:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(second.streams.load(Ordering::SeqCst) >= 1);
}
