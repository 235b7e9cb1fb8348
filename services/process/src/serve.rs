//! Serving until stopped, in one copy for every HTTP face of Concord (the
//! gateway's and the all-in-one's v2 API, the proxy a member becomes): an
//! axum router on each listener, HTTP/1.1 and HTTP/2 over cleartext with
//! prior knowledge (h2c) on the same one (hyper-util's auto builder, which
//! `axum::serve` uses with axum's `http2` feature), so that gRPC can share
//! the client URLs with the v2 API. Servers of other kinds (tonic's) stop
//! with the same signal ([`Serving::stopped`]).

use std::future::Future;
use std::time::Duration;

use axum::serve::ListenerExt;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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

    /// Serves `app` on `listener` (HTTP/1.1 and h2c) until [`Self::stop`].
    pub fn http(&mut self, listener: TcpListener, app: Router) {
        let stopped = self.stopped();
        // TCP_NODELAY: HTTP/2 writes a gRPC answer as several frames, and
        // without it the last one waits for the client's delayed ACK
        // (measured: a v3 Range at 1 client took 44 ms instead of 0.3 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
        });
        self.tasks.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
                .map_err(anyhow::Error::from)
        }));
    }

    /// Serves `app` on each of `listeners`.
    pub fn http_all(&mut self, listeners: Vec<TcpListener>, app: &Router) {
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
