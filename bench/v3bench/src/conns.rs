//! HTTP/2 connections and how clients share them.
//!
//! Each tonic `Channel` made by `Endpoint::connect` is one HTTP/2
//! connection; a client is pinned to one, and many clients' requests are
//! multiplexed on it as etcd's Go clients multiplex theirs.
//!
//! Default: min(clients, 8) connections. One connection for 256 clients
//! would measure one TCP stream's framing (and, on a server that reads a
//! connection on one task, one core) rather than the server; one
//! connection per client is not what v3 clients do (clientv3 shares one
//! connection among all its callers) and 256 connections measure accept and
//! per-connection overhead. Eight is enough to spread over every core of
//! this machine and of either server, and keeps 8-32 streams per connection
//! at 64-256 clients, as a few application processes sharing a cluster
//! would. etcd's own `benchmark` takes `--conns` and `--clients` for the
//! same reason; `--conns` here overrides the default.

use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

/// Connections for `clients` clients over `endpoints` endpoints: `asked`
/// if given, else min(clients, 8); with several endpoints, rounded up to a
/// multiple of their count (down when there are not enough clients; none
/// when there are fewer clients than endpoints) so that every member gets
/// the same share of the load.
pub fn count(asked: usize, clients: usize, endpoints: usize) -> usize {
    if asked > 0 {
        return asked;
    }
    let n = clients.clamp(1, 8);
    if endpoints > 1 && clients >= endpoints {
        let up = n.div_ceil(endpoints) * endpoints;
        // No connection without a client on it.
        if up <= clients {
            up
        } else {
            n / endpoints * endpoints
        }
    } else {
        n
    }
}

/// `n` connections, connection i to endpoint i mod len.
pub async fn connect(endpoints: &[String], n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let url = &endpoints[i % endpoints.len()];
        let ch = Endpoint::from_shared(url.clone())
            .with_context(|| format!("bad endpoint {url}"))?
            .tcp_nodelay(true)
            // Flow-control windows sized by measured bandwidth-delay, as
            // grpc-go (etcd's clients) does: a fixed 64 KiB window would
            // throttle a stream carrying a watch fan-out.
            .http2_adaptive_window(true)
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("connecting to {url}"))?;
        out.push(ch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn default_connections() {
        assert_eq!(count(0, 1, 1), 1);
        assert_eq!(count(0, 64, 1), 8);
        assert_eq!(count(0, 256, 1), 8);
        assert_eq!(count(0, 1, 3), 1);
        assert_eq!(count(0, 64, 3), 9);
        assert_eq!(count(0, 4, 3), 3);
        assert_eq!(count(0, 7, 3), 6);
        assert_eq!(count(5, 256, 3), 5);
    }
}
