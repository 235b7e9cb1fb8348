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
//! `https://` URLs are spoken over rustls, and a Basic auth user is sent
//! with every request, as the process's [`Security`] says.
//!
//! The three deadlines of etcdctl's v2 client are kept apart: the dial
//! timeout, the per-request header timeout (`--timeout`) and the
//! whole-command context (`--total-timeout`).

mod dial;
mod exchange;
mod go_net;
mod traced;
mod url;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use concord_store::go;

pub use url::{encode_values, parse_url, Url};

/// What every exchange of the process uses: etcdctl v2 builds one
/// transport (TLS files) and one user for the whole command, and every
/// path to the server (sync, keys, members, health) goes through
/// [`round_trip`], so they are set once, before the first request.
#[derive(Clone, Default)]
pub struct Security {
    /// For `https://` URLs.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `--username`'s name and password.
    pub basic_auth: Option<(String, String)>,
}

static SECURITY: OnceLock<Security> = OnceLock::new();

/// Sets the process's [`Security`] (the first call wins).
pub fn set_security(s: Security) {
    let _ = SECURITY.set(s);
}

fn security() -> Security {
    SECURITY.get().cloned().unwrap_or_default()
}

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
        "http" | "https" => {}
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread::JoinHandle;
    use std::time::Duration;

    use super::*;

    /// A one-connection server: reads the request head (and `body_len`
    /// more bytes), answers `answer` (none: holds the connection until the
    /// client gives up), and returns what it read.
    fn serve_once(answer: Option<&'static [u8]>, body_len: usize) -> (Url, JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = parse_url(&format!("http://{}/v2/keys/a", l.local_addr().unwrap())).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            let complete = |got: &[u8]| {
                got.windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .is_some_and(|p| got.len() >= p + 4 + body_len)
            };
            while !complete(&got) {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            match answer {
                Some(a) => s.write_all(a).unwrap(),
                // Held open until the client closes it.
                None => while matches!(s.read(&mut buf), Ok(n) if n > 0) {},
            }
            got
        });
        (url, server)
    }

    fn within(d: Duration) -> Deadlines {
        let limit = Instant::now() + d;
        Deadlines::client_timeout(limit, limit)
    }

    #[test]
    fn requests_are_written_as_gos_client_writes_them() {
        let (url, server) = serve_once(Some(b"HTTP/1.1 204 No Content\r\n\r\n"), 0);
        let req = Request {
            method: "PUT",
            url: &url,
            content_type: Some("application/x-www-form-urlencoded"),
            body: Some(b""),
        };
        let resp = round_trip(&req, within(Duration::from_secs(10))).unwrap();
        assert_eq!(resp.status, 204);
        let want = format!(
            "PUT /v2/keys/a HTTP/1.1\r\nHost: {}\r\nUser-Agent: Go-http-client/1.1\r\n\
             Content-Length: 0\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Connection: close\r\n\r\n",
            url.host
        );
        assert_eq!(String::from_utf8(server.join().unwrap()).unwrap(), want);
    }

    #[test]
    fn chunked_and_close_delimited_bodies_are_read_whole() {
        let chunked: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Etcd-Index: 4\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (url, server) = serve_once(Some(chunked), 0);
        let resp = round_trip(&Request::get(&url), within(Duration::from_secs(10))).unwrap();
        assert_eq!(
            (resp.body.as_slice(), resp.header("x-etcd-index")),
            (&b"abcde"[..], Some("4"))
        );
        server.join().unwrap();
        let (url, server) = serve_once(Some(b"HTTP/1.1 200 OK\r\n\r\nuntil close"), 0);
        let resp = round_trip(&Request::get(&url), within(Duration::from_secs(10))).unwrap();
        assert_eq!(resp.body, b"until close");
        server.join().unwrap();
    }

    #[test]
    fn failures_are_worded_as_go() {
        let (url, server) = serve_once(Some(b""), 0);
        match round_trip(&Request::get(&url), within(Duration::from_secs(10))) {
            Err(TransportError::Other { text, connection }) => {
                assert_eq!((text.as_str(), connection), ("EOF", false))
            }
            other => panic!("{other:?}"),
        }
        server.join().unwrap();
        let (url, server) = serve_once(
            Some(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"),
            0,
        );
        match round_trip(&Request::get(&url), within(Duration::from_secs(10))) {
            Err(TransportError::Other { text, .. }) => assert_eq!(text, "unexpected EOF"),
            other => panic!("{other:?}"),
        }
        server.join().unwrap();
        // Nothing listens on a port just released.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = parse_url(&format!("http://127.0.0.1:{port}")).unwrap();
        match round_trip(&Request::get(&url), within(Duration::from_secs(10))) {
            Err(TransportError::Other { text, connection }) => {
                assert_eq!(
                    text,
                    format!("dial tcp 127.0.0.1:{port}: connect: connection refused")
                );
                assert!(connection);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_header_timeout_and_the_context_are_told_apart() {
        let (url, server) = serve_once(None, 0);
        let now = Instant::now();
        let d = Deadlines {
            dial: Some(now + Duration::from_secs(10)),
            header: Some(now + Duration::from_millis(200)),
            context: Some(now + Duration::from_secs(10)),
        };
        let got = round_trip(&Request::get(&url), d);
        assert!(matches!(got, Err(TransportError::HeaderTimeout)), "{got:?}");
        server.join().unwrap();
        let (url, server) = serve_once(None, 0);
        let got = round_trip(&Request::get(&url), within(Duration::from_millis(200)));
        assert!(matches!(got, Err(TransportError::Deadline)), "{got:?}");
        server.join().unwrap();
    }
}
