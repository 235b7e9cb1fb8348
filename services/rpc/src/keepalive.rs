//! How every gRPC connection between Concord's processes (gateway to
//! member, watch replica to member, member to member) notices a peer that
//! stops answering without closing the connection: a killed container, a
//! host that lost power, a network cut by a firewall that drops packets.
//! Such a peer sends no RST, so without pings a call on an open connection
//! waits for its whole timeout and the connection is never given up.
//!
//! Both ends send an HTTP/2 PING after [`PING_INTERVAL`] without a frame
//! from the other side (also while no call is open) and close the
//! connection when no answer came within [`PING_TIMEOUT`]: a dead peer is
//! noticed within about 1.5 s, the calls waiting on it fail, and the next
//! call connects afresh (within [`CONNECT_TIMEOUT`], or fails as never
//! sent, so it goes to another member at once).

use std::time::Duration;

use tonic::transport::{Endpoint, Server};

/// Quiet time on a connection after which a PING is sent.
pub const PING_INTERVAL: Duration = Duration::from_millis(500);
/// How long a PING may go unanswered before the connection is closed: well
/// above a loaded member's scheduling delays (the PING is answered by the
/// connection's task, not by the service), well below a request timeout.
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a new connection may take to be accepted.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A client endpoint with Concord's connect timeout, PINGs and
/// TCP_NODELAY (without it small answers wait for delayed ACKs, 40 ms).
pub fn client(endpoint: Endpoint) -> Endpoint {
    endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT)
        .keep_alive_while_idle(true)
}

/// A gRPC server that PINGs its clients likewise, so a dead gateway's or
/// replica's streams (watches, event subscriptions) are let go of too.
pub fn server() -> Server {
    Server::builder()
        .http2_keepalive_interval(Some(PING_INTERVAL))
        .http2_keepalive_timeout(Some(PING_TIMEOUT))
}
