//! concordctl's HTTP client: one HTTP/1.1 exchange per request (etcd's v2
//! client closes nothing early and keeps no pool worth having for one
//! command), on hyper, with every failure worded as Go's `net/http` words
//! it, since etcdctl prints those words.
//!
//! - `url.rs`: Go's `net/url` (parsing endpoints, printing and escaping);
//! - `dial.rs`: connecting as Go's dialer, with its errors;
//! - `exchange.rs`: the request on hyper's connection API, the three
//!   deadlines, and hyper's errors turned into Go's;
//! - `traced.rs`: the socket under hyper, recording what Go's wording
//!   depends on; `go_net.rs`: Go's texts for errnos and the resolver.
//!
//! The three deadlines of etcdctl's v2 client are kept apart: the dial
//! timeout, the per-request header timeout (`--timeout`) and the
//! whole-command context (`--total-timeout`).

mod dial;
mod exchange;
mod go_net;
mod traced;
mod url;

use std::time::Instant;

use concord_store::go;

pub use url::{encode_values, parse_url, Url};

/// Why a round trip failed, in Go's words.
#[derive(Debug, Clone)]
pub enum TransportError {
    /// `--timeout` (or the dial timeout's caller deadline) ran out before
    /// the response headers arrived.
    HeaderTimeout,
    /// The command's context (`--total-timeout`) ran out.
    Deadline,
    /// Anything else; `connection` says whether etcdctl's
    /// `isConnectionError` counts it (a dial or read `*net.OpError`).
    Other { text: String, connection: bool },
}

impl TransportError {
    /// A failure etcdctl does not count as a connection error.
    pub fn other(text: impl Into<String>) -> TransportError {
        TransportError::Other {
            text: text.into(),
            connection: false,
        }
    }
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub content_type: Option<&'a str>,
    pub body: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// A plain GET.
    pub fn get(url: &'a Url) -> Request<'a> {
        Request {
            method: "GET",
            url,
            content_type: None,
            body: None,
        }
    }
}

/// The deadlines of one round trip.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// Connecting must finish by then (Go's `net.Dialer.Timeout`).
    pub dial: Option<Instant>,
    /// The response headers must have arrived by then.
    pub header: Option<Instant>,
    /// The whole exchange, body included, must end by then.
    pub context: Option<Instant>,
}

impl Deadlines {
    /// Dialing by `dial`, everything else by `limit` (Go's
    /// `http.Client.Timeout` over a dialer's own timeout).
    pub fn client_timeout(dial: Instant, limit: Instant) -> Deadlines {
        Deadlines {
            dial: Some(dial),
            header: Some(limit),
            context: Some(limit),
        }
    }
}

fn expired(d: Option<Instant>) -> bool {
    d.is_some_and(|d| Instant::now() >= d)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// What Go's `Transport` refuses before dialing, in its words.
fn check_target(url: &Url) -> Result<(), TransportError> {
    match url.scheme.as_str() {
        "http" => {}
        "https" => {
            return Err(TransportError::other(
                "unsupported protocol scheme \"https\" (concordctl speaks plain http only)",
            ))
        }
        s => {
            return Err(TransportError::other(format!(
                "unsupported protocol scheme {}",
                go::quote(s)
            )))
        }
    }
    if url.host.is_empty() {
        return Err(TransportError::other("http: no Host in request URL"));
    }
    Ok(())
}

/// One HTTP/1.1 exchange (`Connection: close`), within the deadlines.
pub fn round_trip(req: &Request, d: Deadlines) -> Result<Response, TransportError> {
    check_target(req.url)?;
    crate::runtime::block_on(exchange::exchange(req, d)).unwrap_or_else(|why| {
        Err(TransportError::Other {
            text: why,
            connection: false,
        })
    })
}
