//! The peer protocol over TLS (`--peer-cert-file`, `--peer-auto-tls` with
//! https:// peer URLs), with tonic built without its own TLS: the server
//! side is an incoming stream of connections that finished their rustls
//! handshake ([`incoming`], also used for `concord-consensus`'s https://
//! client URLs), the client side a connector that dials TCP and then TLS
//! ([`TlsConnector`]). The rustls configs come from
//! `concord_process::tls`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use concord_process::tls::rustls::pki_types::ServerName;
use concord_process::tls::rustls::{ClientConfig, ServerConfig};
use concord_process::tls::tokio_rustls::{client, server, TlsAcceptor};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::http::Uri;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// A member's peer TLS: what its https:// peer URLs serve, and what it
/// dials the other members with.
#[derive(Clone)]
pub struct PeerTls {
    pub server: Arc<ServerConfig>,
    pub client: Arc<ClientConfig>,
}

/// The process's peer TLS, set once at start ([`set_peer_tls`]) before any
/// peer is served or dialled. One per process, as a member is one per
/// process; kept here rather than threaded through every caller of
/// `PeerConn::new` (raft's network, forwarding, the joining lookup).
static PEER_TLS: std::sync::OnceLock<PeerTls> = std::sync::OnceLock::new();

/// Sets the process's peer TLS (the first call wins).
pub fn set_peer_tls(tls: PeerTls) {
    let _ = PEER_TLS.set(tls);
}

/// The process's peer TLS, if `--peer-*` set one up.
pub fn peer_tls() -> Option<&'static PeerTls> {
    PEER_TLS.get()
}

/// How long a peer's TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A served connection: plain TCP, or TLS over it.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<server::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(t) => t,
            Conn::Tls(t) => t.get_ref().0,
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo {
            local_addr: self.tcp().local_addr().ok(),
            remote_addr: self.tcp().peer_addr().ok(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_read(cx, buf),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_write(cx, buf),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_flush(cx),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(t) => Pin::new(t).poll_shutdown(cx),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connections `listener` accepts, with TCP_NODELAY (small answers
/// would wait for delayed ACKs, 40 ms), through a TLS handshake when
/// `tls` is given. A refused handshake is logged as etcd logs it and
/// never reaches the server.
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            if tx.is_closed() {
                return;
            }
            let tx = tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let conn = match acceptor {
                    None => Conn::Plain(tcp),
                    Some(acceptor) => match handshake(&acceptor, tcp).await {
                        Ok(tls) => Conn::Tls(Box::new(tls)),
                        Err(why) => return rejected(peer, &why),
                    },
                };
                let _ = tx.send(Ok(conn)).await;
            });
        }
    });
    ReceiverStream::new(rx)
}

async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
) -> Result<server::TlsStream<TcpStream>, String> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(concord_process::tls::handshake_error_text(&e)),
        Err(_) => Err("tls: handshake timed out".into()),
    }
}

/// etcd's line for a connection refused in the handshake.
fn rejected(peer: SocketAddr, why: &str) {
    tracing::info!("rejected connection from \"{peer}\" (error {why:?}, ServerName \"\")");
}

/// Dials a peer URL: TCP (TCP_NODELAY), then TLS with the member's peer
/// client config, offering h2 (tonic's connect timeout covers both).
#[derive(Clone)]
pub struct TlsConnector {
    pub config: Arc<ClientConfig>,
}

impl tonic::codegen::Service<Uri> for TlsConnector {
    type Response = TokioIo<client::TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let config = self.config.clone();
        Box::pin(async move {
            let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, why.to_string());
            let host = uri.host().ok_or_else(|| bad("peer URL without a host"))?;
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(host).map_err(|e| bad(&e.to_string()))?;
            let tls = concord_process::tls::tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok(TokioIo::new(tls))
        })
    }
}
