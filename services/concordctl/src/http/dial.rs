//! Connecting as Go's `net.Dialer` does, failing in its words: the host
//! resolved (IPv4 addresses first), each address tried until one
//! connects, the first failure reported (`dial tcp 127.0.0.1:1: connect:
//! connection refused`, `dial tcp 10.0.0.1:80: i/o timeout`, `dial tcp:
//! lookup nohost on 127.0.0.53:53: no such host`).
//!
//! The socket is opened here rather than by a hyper connector so that the
//! failure can name the address tried and tell the dial timeout from the
//! caller's deadline, which etcdctl words differently.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Instant;

use tokio::net::TcpStream;

use super::go_net::{errno_text, nameserver};
use super::{earliest, expired, TransportError, Url};

/// `host` and `port` of the URL's authority (the scheme's port when none).
pub fn host_port(url: &Url) -> (String, u16) {
    let default = if url.scheme == "https" { 443 } else { 80 };
    let h = &url.host;
    if let Some(rest) = h.strip_prefix('[') {
        if let Some((ip, tail)) = rest.split_once(']') {
            let port = tail
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default);
            return (ip.to_string(), port);
        }
    }
    match h.rsplit_once(':') {
        Some((host, p)) if !host.contains(':') => (host.to_string(), p.parse().unwrap_or(default)),
        _ => (h.clone(), default),
    }
}

/// The addresses to try, IPv4 first; empty when the name does not resolve.
fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match (host, port).to_socket_addrs() {
            Ok(a) => {
                let mut v: Vec<SocketAddr> = a.collect();
                v.sort_by_key(|a| a.is_ipv6());
                v
            }
            Err(_) => Vec::new(),
        },
    }
}

/// One address, bounded by `limit`; `Err(None)` when `limit` ran out.
async fn connect(addr: SocketAddr, limit: Option<Instant>) -> Result<TcpStream, Option<io::Error>> {
    match limit {
        Some(d) if expired(Some(d)) => Err(None),
        Some(d) => {
            let at = tokio::time::Instant::from_std(d);
            match tokio::time::timeout_at(at, TcpStream::connect(addr)).await {
                Ok(r) => r.map_err(Some),
                Err(_) => Err(None),
            }
        }
        None => TcpStream::connect(addr).await.map_err(Some),
    }
}

/// Connects to the URL's host within the dial `deadline`; when `caller`
/// (the header timeout or the context) runs out first, the answer is
/// [`TransportError::HeaderTimeout`], for the caller to word.
pub async fn dial(
    url: &Url,
    deadline: Option<Instant>,
    caller: Option<Instant>,
) -> Result<TcpStream, TransportError> {
    let (host, port) = host_port(url);
    let addrs = resolve(&host, port);
    if addrs.is_empty() {
        return Err(TransportError::Other {
            text: format!("dial tcp: lookup {host} on {}: no such host", nameserver()),
            connection: true,
        });
    }
    let limit = earliest(deadline, caller);
    let mut first: Option<TransportError> = None;
    for addr in addrs {
        let err = match connect(addr, limit).await {
            Ok(s) => return Ok(s),
            // The header timeout or the context ran out first.
            Err(None) if expired(caller) => return Err(TransportError::HeaderTimeout),
            Err(None) => format!("dial tcp {addr}: i/o timeout"),
            Err(Some(e)) if e.kind() == io::ErrorKind::TimedOut && expired(caller) => {
                return Err(TransportError::HeaderTimeout)
            }
            Err(Some(e)) if e.kind() == io::ErrorKind::TimedOut => {
                format!("dial tcp {addr}: i/o timeout")
            }
            Err(Some(e)) => format!("dial tcp {addr}: connect: {}", errno_text(&e)),
        };
        first.get_or_insert(TransportError::Other {
            text: err,
            connection: true,
        });
    }
    Err(first.unwrap_or(TransportError::HeaderTimeout))
}
