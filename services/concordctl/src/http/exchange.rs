//! One request and its answer on hyper's HTTP/1.1 connection API, within
//! the three deadlines, with hyper's failures worded as Go's `net/http`.
//!
//! The request is written as Go's client writes it: `Host`,
//! `User-Agent: Go-http-client/1.1`, `Content-Length` whenever there is a
//! body (`Content-Length: 0` for `-d ""`), `Content-Type`, and
//! `Connection: close`, with Go's header capitalisation.
//!
//! One case hyper cannot send as Go does: a request target with bytes the
//! `http` crate refuses in a URI (a space in an endpoint's query). Go
//! writes it as given; here the request fails before dialing, with the
//! `http` crate's text.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;

use concord_store::go;

use super::dial::{self, dial};
use super::go_net::errno_text;
use super::traced::{Io, Trace, Traced};
use super::{earliest, expired, security, Deadlines, Request, Response, TransportError};

/// Which part of the answer was awaited when the exchange failed: Go
/// words the same failure differently before and after the headers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Body,
}

/// The connection's ends, as Go's `*net.OpError` names them.
struct Ends {
    local: String,
    remote: String,
}

/// `fut`, unless `limit` comes first (`None`).
async fn within<F: Future>(limit: Option<Instant>, fut: F) -> Option<F::Output> {
    match limit {
        Some(d) => tokio::time::timeout_at(d.into(), fut).await.ok(),
        None => Some(fut.await),
    }
}

/// The request as Go's client writes it.
fn build(req: &Request) -> Result<hyper::Request<Full<Bytes>>, TransportError> {
    let mut b = hyper::Request::builder()
        .method(req.method)
        .uri(req.url.request_target())
        .header(HOST, req.url.host.as_str())
        .header(USER_AGENT, "Go-http-client/1.1");
    if let Some(body) = req.body {
        // Set even when 0: hyper leaves an empty body's length out.
        b = b.header(CONTENT_LENGTH, body.len());
    }
    if let Some(ct) = req.content_type {
        b = b.header(CONTENT_TYPE, ct);
    }
    if let Some((name, password)) = security().basic_auth {
        // Go's `SetBasicAuth`.
        let creds = base64(format!("{name}:{password}").as_bytes());
        b = b.header(AUTHORIZATION, format!("Basic {creds}"));
    }
    let body = Full::new(Bytes::copy_from_slice(req.body.unwrap_or_default()));
    b.header(CONNECTION, "close")
        .body(body)
        .map_err(|e| TransportError::other(e.to_string()))
}

/// Go's error for a failed exchange, from what the socket did (`trace`)
/// and what hyper says.
fn go_error(e: &hyper::Error, trace: &Trace, phase: Phase, ends: &Ends) -> TransportError {
    if let Some((op, io)) = &trace.failed {
        if io.raw_os_error().is_none() {
            // A TLS failure (the server's alert, a bad record): Go's
            // crypto/tls error, which etcdctl does not count as a
            // connection error.
            return TransportError::other(io.to_string());
        }
        return TransportError::Other {
            text: format!(
                "{op} tcp {}->{}: {op}: {}",
                ends.local,
                ends.remote,
                errno_text(io)
            ),
            connection: *op == "read",
        };
    }
    let body_io = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let text = match phase {
        Phase::Head if e.is_parse() => {
            format!(
                "malformed HTTP response {}",
                go::quote(&trace.status_line())
            )
        }
        Phase::Head if trace.read == 0 => "EOF".into(),
        Phase::Head => "unexpected EOF".into(),
        Phase::Body
            if matches!(
                body_io,
                Some(std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput)
            ) =>
        {
            "malformed chunked encoding".into()
        }
        Phase::Body => "unexpected EOF".into(),
    };
    TransportError::other(text)
}

/// Runs `work` while driving the connection `conn` it needs; a connection
/// that ended is dropped at once, which fails what still waits on it.
async fn drive<C, W>(conn: C, work: W) -> W::Output
where
    C: Future,
    W: Future,
{
    let mut conn = Some(Box::pin(conn));
    let mut work = std::pin::pin!(work);
    loop {
        let Some(c) = conn.as_mut() else {
            return work.await;
        };
        tokio::select! {
            biased;
            out = &mut work => return out,
            _ = c => conn = None,
        }
    }
}

/// The answer as concordctl's commands read it.
fn response(head: hyper::http::response::Parts, body: Vec<u8>) -> Response {
    let headers = head
        .headers
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).trim().to_string();
            (k.as_str().to_string(), v)
        })
        .collect();
    Response {
        status: head.status.as_u16(),
        headers,
        body,
    }
}

/// A hyper connection on a freshly dialed, traced socket, and its ends.
async fn connect(
    req: &Request<'_>,
    d: Deadlines,
    head_limit: Option<Instant>,
) -> Result<(Connection, Arc<Mutex<Trace>>, Ends), TransportError> {
    let stream = dial(req.url, d.dial, head_limit).await?;
    let _ = stream.set_nodelay(true);
    let addr = |a: std::io::Result<std::net::SocketAddr>| a.map(|a| a.to_string());
    let ends = Ends {
        local: addr(stream.local_addr()).unwrap_or_default(),
        remote: addr(stream.peer_addr()).unwrap_or_default(),
    };
    let io: Box<dyn Io> = match (req.url.scheme.as_str(), security().tls) {
        ("https", Some(config)) => {
            let (host, _) = dial::host_port(req.url);
            let name = crate::tls::server_name(&host)
                .ok_or_else(|| TransportError::other(format!("invalid server name {host}")))?;
            let handshake = tokio_rustls::TlsConnector::from(config).connect(name, stream);
            match within(head_limit, handshake).await {
                None => return Err(TransportError::HeaderTimeout),
                Some(Err(e)) => return Err(TransportError::other(e.to_string())),
                Some(Ok(tls)) => Box::new(tls),
            }
        }
        _ => Box::new(stream),
    };
    let (io, trace) = Traced::new(io);
    let conn = http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| TransportError::other(e.to_string()))?;
    Ok((conn, trace, ends))
}

/// hyper's two halves of one connection.
type Connection = (
    http1::SendRequest<Full<Bytes>>,
    http1::Connection<TokioIo<Traced>, Full<Bytes>>,
);

/// The whole exchange: dial, request, headers within the earlier of the
/// header timeout and the context, body within the context.
pub async fn exchange(req: &Request<'_>, d: Deadlines) -> Result<Response, TransportError> {
    let head_limit = earliest(d.header, d.context);
    let on_head_timeout = || {
        if expired(d.context) {
            TransportError::Deadline
        } else {
            TransportError::HeaderTimeout
        }
    };
    if expired(d.context) {
        return Err(TransportError::Deadline);
    }
    let request = build(req)?;
    let ((mut sender, conn), trace, ends) = match connect(req, d, head_limit).await {
        Ok(c) => c,
        Err(TransportError::HeaderTimeout) => return Err(on_head_timeout()),
        Err(e) => return Err(e),
    };
    let failed = |e: &hyper::Error, phase| {
        let t = trace.lock().unwrap_or_else(|p| p.into_inner());
        go_error(e, &t, phase, &ends)
    };
    let work = async {
        let answer = match within(head_limit, sender.send_request(request)).await {
            None => return Err(on_head_timeout()),
            Some(Err(e)) => return Err(failed(&e, Phase::Head)),
            Some(Ok(a)) => a,
        };
        let (head, body) = answer.into_parts();
        match within(d.context, body.collect()).await {
            None => Err(TransportError::Deadline),
            Some(Err(e)) => Err(failed(&e, Phase::Body)),
            Some(Ok(b)) => Ok(response(head, b.to_bytes().to_vec())),
        }
    };
    drive(conn, work).await
}

/// Standard base64 with padding (Go's `base64.StdEncoding`).
fn base64(b: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
