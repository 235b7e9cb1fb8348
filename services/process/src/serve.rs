//! Serving until stopped, in one copy for every HTTP face of Concord (the
//! gateway's and the all-in-one's v2 API, the proxy a member becomes): an
//! axum router on each listener, HTTP/1.1 and HTTP/2 over cleartext with
//! prior knowledge (h2c) on the same one, told apart by a connection's
//! first bytes, so that gRPC can share the client URLs with the v2 API. On
//! an https:// URL the listener serves TLS ([`crate::tls`]) and the
//! protocol is the one ALPN negotiated (`h2` or `http/1.1`), as etcd serves
//! both on one TLS port. Servers of other kinds (tonic's) stop with the
//! same signal ([`Serving::stopped`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// A bound listener and, for an https:// URL, the TLS it serves.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl From<TcpListener> for Listener {
    fn from(tcp: TcpListener) -> Self {
        Listener { tcp, tls: None }
    }
}

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The servers of one process, stopped together.
pub struct Serving {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Default for Serving {
    fn default() -> Self {
        Self::new()
    }
}

impl Serving {
    pub fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// Serves `app` on `listener` (HTTP/1.1 and h2c, or both over TLS)
    /// until [`Self::stop`].
    pub fn http(&mut self, listener: impl Into<Listener>, app: Router) {
        let stopped = self.stopped();
        self.tasks
            .push(tokio::spawn(accept_until(listener.into(), app, stopped)));
    }

    /// Serves `app` on each of `listeners`.
    pub fn http_all<L: Into<Listener>>(&mut self, listeners: Vec<L>, app: &Router) {
        for l in listeners {
            self.http(l, app.clone());
        }
    }

    /// Runs another server, given [`Self::stopped`] as its shutdown signal.
    pub fn spawn<F>(&mut self, server: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks.push(tokio::spawn(server));
    }

    /// Resolves once [`Self::stop`] is called.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }

    /// Stops accepting and waits for the requests in flight, at most
    /// `grace` for each server: long-poll watches never finish on their
    /// own, so they are cut then.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(grace, task).await;
        }
    }
}

/// HTTP/2's client preface: a connection that starts with it speaks h2c
/// with prior knowledge (gRPC), any other speaks HTTP/1.1.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Accepts until `stopped`, then lets the connections finish what they
/// serve (HTTP/1.1 closes after the answer in flight, HTTP/2 sends GOAWAY).
/// axum's own `serve` would do (its auto builder reads the preface into a
/// rewinding reader and serves HTTP/1.1 with upgrades); a plain HTTP/1.1
/// connection served directly answered ~15 % more v2 GETs at 256 clients
/// on the single worker thread (BENCHMARKS.md, issue 19).
async fn accept_until(
    listener: Listener,
    app: Router,
    stopped: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let Listener { tcp: listener, tls } = listener;
    let tls = tls.map(TlsAcceptor::from);
    if let Ok(addr) = listener.local_addr() {
        if tls.is_some() {
            tracing::info!("serving client traffic securely on {addr}");
        }
    }
    let graceful = GracefulShutdown::new();
    tokio::pin!(stopped);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: the listener
                    // stays, as axum's does, after a pause.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        // TCP_NODELAY: HTTP/2 writes a gRPC answer as several frames, and
        // without it the last one waits for the client's delayed ACK
        // (measured: a v3 Range at 1 client took 44 ms instead of 0.3 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        match &tls {
            Some(acceptor) => tokio::spawn(serve_tls(
                tcp,
                peer,
                acceptor.clone(),
                app.clone(),
                graceful.watcher(),
            )),
            None => tokio::spawn(serve_connection(tcp, app.clone(), graceful.watcher())),
        };
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one connection in the protocol its first bytes show.
async fn serve_connection(tcp: TcpStream, app: Router, watcher: Watcher) {
    let mut first = [0u8; H2_PREFACE.len()];
    let seen = match tcp.peek(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(n) => &first[..n],
    };
    let service = TowerToHyperService::new(app);
    let io = TokioIo::new(tcp);
    let served: Result<(), Box<dyn std::error::Error + Send + Sync>> =
        if !H2_PREFACE.starts_with(seen) {
            watcher
                .watch(http1::Builder::new().serve_connection(io, service))
                .await
                .map_err(Into::into)
        } else if seen.len() == H2_PREFACE.len() {
            watcher
                .watch(http2::Builder::new(TokioExecutor::new()).serve_connection(io, service))
                .await
                .map_err(Into::into)
        } else {
            // The preface arrived in pieces: the auto builder reads it whole.
            let builder = auto::Builder::new(TokioExecutor::new());
            watcher.watch(builder.serve_connection(io, service)).await
        };
    if let Err(e) = served {
        tracing::debug!("connection ended: {e}");
    }
}

/// TLS's record type of a handshake: the first byte a TLS client sends.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Serves one TLS connection in the protocol ALPN chose. A refused
/// handshake is logged as etcd logs it and the connection closed without
/// an answer, as etcd closes it (plain HTTP gets no reply either).
async fn serve_tls(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    watcher: Watcher,
) {
    let reject = |why: &str| {
        tracing::info!("rejected connection from \"{peer}\" (error {why:?}, ServerName \"\")");
    };
    let mut first = [0u8; 1];
    match tcp.peek(&mut first).await {
        Ok(1) if first[0] == TLS_HANDSHAKE_RECORD => {}
        Ok(0) | Err(_) => return,
        Ok(_) => {
            // Go gives up without an alert. What the client sent is read
            // first, so the close is a clean FIN (curl: "Empty reply from
            // server", as from etcd) rather than a reset.
            reject("tls: first record does not look like a TLS handshake");
            let mut tcp = tcp;
            let mut sent = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut sent)).await;
            let _ = tcp.shutdown().await;
            return;
        }
    }
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return reject(&crate::tls::handshake_error_text(&e)),
        Err(_) => return reject("tls: handshake timed out"),
    };
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let service = TowerToHyperService::new(app);
    let io = TokioIo::new(tls);
    let served: Result<(), Box<dyn std::error::Error + Send + Sync>> = match alpn.as_deref() {
        Some(b"h2") => watcher
            .watch(http2::Builder::new(TokioExecutor::new()).serve_connection(io, service))
            .await
            .map_err(Into::into),
        Some(b"http/1.1") => watcher
            .watch(http1::Builder::new().serve_connection(io, service))
            .await
            .map_err(Into::into),
        // No ALPN: the first bytes tell, as on a plain listener.
        _ => {
            let builder = auto::Builder::new(TokioExecutor::new());
            watcher.watch(builder.serve_connection(io, service)).await
        }
    };
    if let Err(e) = served {
        tracing::debug!("connection ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    use super::*;

    async fn get_version(addr: std::net::SocketAddr, h2: bool) -> (hyper::Version, String) {
        let io = TokioIo::new(tokio::net::TcpStream::connect(addr).await.unwrap());
        let req = || {
            hyper::Request::get(format!("http://{addr}/v"))
                .body(Empty::<bytes::Bytes>::new())
                .unwrap()
        };
        let resp = if h2 {
            let (mut s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            tokio::spawn(conn);
            s.send_request(req()).await.unwrap()
        } else {
            let (mut s, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            s.send_request(req()).await.unwrap()
        };
        let version = resp.version();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (version, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn serves_http1_and_h2c_on_one_listener_until_stopped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut serving = Serving::new();
        serving.http(listener, Router::new().route("/v", get(|| async { "ok" })));
        assert_eq!(
            get_version(addr, false).await,
            (hyper::Version::HTTP_11, "ok".into())
        );
        assert_eq!(
            get_version(addr, true).await,
            (hyper::Version::HTTP_2, "ok".into())
        );
        serving.stop(Duration::from_secs(5)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
