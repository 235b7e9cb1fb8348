//! How the v3 client reaches an endpoint, as clientv3 3.4 picks the
//! transport for it (`dialWithBalancerCreds`, `processCreds`): `http://`
//! is plain TCP whatever the flags say; `https://` is TLS, with the flags'
//! configuration or, without one, the system's roots; an endpoint without
//! a scheme is TLS only when the flags set TLS up. The connector hands
//! tonic a TCP stream, wrapped in rustls when TLS applies, so that
//! `--insecure-skip-tls-verify` and the client certificate are ours to
//! set (tonic's own TLS cannot skip verification).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tonic::codegen::http::Uri;

/// A byte stream tonic can speak HTTP/2 over: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Dials one endpoint: `addr` (host:port), with TLS when `tls` is set.
#[derive(Clone)]
pub struct Connector {
    pub addr: String,
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Box<dyn Io>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect(&this.addr).await?;
            tcp.set_nodelay(true)?;
            let io: Box<dyn Io> = match this.tls {
                None => Box::new(tcp),
                Some((config, name)) => {
                    let tls = tokio_rustls::TlsConnector::from(config)
                        .connect(name, tcp)
                        .await?;
                    Box::new(tls)
                }
            };
            Ok(TokioIo::new(io))
        })
    }
}

/// The scheme of an endpoint (`""` when it has none), lower-cased.
pub fn scheme(endpoint: &str) -> String {
    endpoint
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default()
}
