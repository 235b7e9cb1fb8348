//! A small HTTP/1.1 client over `std::net`, plus the bits of Go's `net/url`
//! that decide what etcdctl's requests (and its `--debug` cURL lines) look
//! like (`path.Clean`, unescaping and `ParseDuration` are
//! `concord_store::go`'s).
//!
//! Written by hand rather than with an HTTP crate so that every failure can
//! be worded as Go's `net/http` words it (`dial tcp 127.0.0.1:1: connect:
//! connection refused`) and so that the three deadlines of etcdctl's v2
//! client are kept apart: the dial timeout, the per-request header timeout
//! (`--timeout`) and the whole-command context (`--total-timeout`).

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use concord_store::go;

/// A URL as Go's `url.Parse` splits the forms etcdctl meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    /// `localhost:2379` parses as scheme `localhost`, opaque `2379`.
    pub opaque: String,
    /// `host:port` (brackets kept for IPv6).
    pub host: String,
    /// Unescaped path.
    pub path: String,
    /// Already encoded query, without `?`.
    pub query: String,
}

/// Go's `url.Parse`, for the forms endpoint lists contain. The error is
/// worded as Go's (`parse "127.0.0.1:2379": first path segment in URL
/// cannot contain colon`).
pub fn parse_url(raw: &str) -> Result<Url, String> {
    let fail = |why: &str| Err(format!("parse {}: {why}", go::quote(raw)));
    if raw.chars().any(|c| c < ' ' || c == '\x7f') {
        return fail("net/url: invalid control character in URL");
    }
    // The fragment is not part of a request.
    let no_frag = raw.split('#').next().unwrap_or("");
    let (scheme, rest) = match get_scheme(no_frag) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let scheme = scheme.to_ascii_lowercase();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_string()),
        None => (rest, String::new()),
    };
    let mut url = Url {
        scheme,
        opaque: String::new(),
        host: String::new(),
        path: String::new(),
        query,
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_string();
            return Ok(url);
        }
        let first = rest.split('/').next().unwrap_or("");
        if first.contains(':') {
            return fail("first path segment in URL cannot contain colon");
        }
    }
    let rest = if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        // Credentials in the URL are not used by etcdctl's v2 client.
        url.host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, h)| h)
            .to_string();
        &after[end..]
    } else {
        rest
    };
    url.path = match go::path_unescape(rest) {
        Some(p) => p,
        None => return fail("invalid URL escape"),
    };
    Ok(url)
}

/// Go's `getScheme`.
fn get_scheme(raw: &str) -> Result<(&str, &str), &'static str> {
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            ':' => {
                if i == 0 {
                    return Err("missing protocol scheme");
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

impl std::fmt::Display for Url {
    /// Go's `URL.String()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        if !self.scheme.is_empty() {
            s.push_str(&self.scheme);
            s.push(':');
        }
        if !self.opaque.is_empty() {
            s.push_str(&self.opaque);
        } else {
            if (!self.scheme.is_empty() || !self.host.is_empty())
                && (!self.host.is_empty() || !self.path.is_empty())
            {
                s.push_str("//");
                s.push_str(&self.host);
            }
            let p = escape_path(&self.path);
            if !p.is_empty() && !p.starts_with('/') && !self.host.is_empty() {
                s.push('/');
            }
            s.push_str(&p);
        }
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(&self.query);
        }
        f.write_str(&s)
    }
}

/// Go's `url.PathEscape`-like escaping of a whole path (`encodePath`).
pub fn escape_path(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode()`: sorted by key.
pub fn encode_values(pairs: &[(&str, String)]) -> String {
    let mut v: Vec<&(&str, String)> = pairs.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v.iter()
        .map(|(k, val)| format!("{}={}", query_escape(k), query_escape(val)))
        .collect::<Vec<_>>()
        .join("&")
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

/// Go's `syscall.Errno` texts for what connecting and reading return.
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(111) => "connection refused".into(),
        Some(104) => "connection reset by peer".into(),
        Some(101) => "network is unreachable".into(),
        Some(113) => "no route to host".into(),
        Some(110) => "connection timed out".into(),
        Some(13) => "permission denied".into(),
        Some(99) => "cannot assign requested address".into(),
        Some(32) => "broken pipe".into(),
        _ => {
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
    }
}

/// The first `nameserver` of `/etc/resolv.conf`, as Go names it in a
/// failed lookup.
fn nameserver() -> String {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("nameserver")).then(|| w.next().map(String::from))?
            })
        })
        .map(|ns| match ns.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{ns}]:53"),
            _ => format!("{ns}:53"),
        })
        .unwrap_or_else(|| "127.0.0.1:53".into())
}

fn host_port(url: &Url) -> (String, u16) {
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

/// Dials like Go's `net.Dialer`: resolves, then tries the addresses
/// (IPv4 first) until one connects; the first failure is reported.
fn dial(
    url: &Url,
    deadline: Option<Instant>,
    caller: Option<Instant>,
) -> Result<TcpStream, TransportError> {
    let (host, port) = host_port(url);
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match (host.as_str(), port).to_socket_addrs() {
            Ok(a) => {
                let mut v: Vec<SocketAddr> = a.collect();
                v.sort_by_key(|a| a.is_ipv6());
                v
            }
            Err(_) => Vec::new(),
        },
    };
    if addrs.is_empty() {
        return Err(TransportError::Other {
            text: format!("dial tcp: lookup {host} on {}: no such host", nameserver()),
            connection: true,
        });
    }
    let limit = earliest(deadline, caller);
    let mut first: Option<TransportError> = None;
    for addr in &addrs {
        let res = match limit {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    Err(io::Error::from(io::ErrorKind::TimedOut))
                } else {
                    TcpStream::connect_timeout(addr, d - now)
                }
            }
            None => TcpStream::connect(addr),
        };
        match res {
            Ok(s) => return Ok(s),
            Err(e) => {
                let timed_out = matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                );
                let err = if timed_out && expired(caller) {
                    // The header timeout or the context ran out first.
                    TransportError::HeaderTimeout
                } else if timed_out {
                    TransportError::Other {
                        text: format!("dial tcp {addr}: i/o timeout"),
                        connection: true,
                    }
                } else {
                    TransportError::Other {
                        text: format!("dial tcp {addr}: connect: {}", errno_text(&e)),
                        connection: true,
                    }
                };
                if matches!(err, TransportError::HeaderTimeout) {
                    return Err(err);
                }
                first.get_or_insert(err);
            }
        }
    }
    Err(first.unwrap_or(TransportError::HeaderTimeout))
}

/// Reads into `buf` until something arrives, EOF, an error or `deadline`.
fn read_until(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<usize, Option<io::Error>> {
    loop {
        match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(None);
                }
                let _ = stream.set_read_timeout(Some((d - now).max(Duration::from_millis(1))));
            }
            None => {
                let _ = stream.set_read_timeout(None);
            }
        }
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(Some(e)),
        }
    }
}

/// One HTTP/1.1 exchange (`Connection: close`).
pub fn round_trip(req: &Request, d: Deadlines) -> Result<Response, TransportError> {
    match req.url.scheme.as_str() {
        "http" => {}
        "https" => {
            return Err(TransportError::Other {
                text: "unsupported protocol scheme \"https\" (concordctl speaks plain http only)"
                    .into(),
                connection: false,
            })
        }
        s => {
            return Err(TransportError::Other {
                text: format!("unsupported protocol scheme {}", go::quote(s)),
                connection: false,
            })
        }
    }
    if req.url.host.is_empty() {
        return Err(TransportError::Other {
            text: "http: no Host in request URL".into(),
            connection: false,
        });
    }
    // Until the headers, the earlier of the header timeout and the context.
    let head_limit = earliest(d.header, d.context);
    if expired(d.context) {
        return Err(TransportError::Deadline);
    }
    let on_head_timeout = || {
        if expired(d.context) {
            TransportError::Deadline
        } else {
            TransportError::HeaderTimeout
        }
    };
    let mut stream = match dial(req.url, d.dial, head_limit) {
        Ok(s) => s,
        Err(TransportError::HeaderTimeout) => return Err(on_head_timeout()),
        Err(e) => return Err(e),
    };
    let _ = stream.set_nodelay(true);
    let local = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let remote = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let op_err = |op: &str, e: &io::Error| TransportError::Other {
        text: format!("{op} tcp {local}->{remote}: {op}: {}", errno_text(e)),
        connection: op == "read",
    };

    let mut target = escape_path(&req.url.path);
    if !target.starts_with('/') {
        target.insert(0, '/');
    }
    if !req.url.query.is_empty() {
        target.push('?');
        target.push_str(&req.url.query);
    }
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Go-http-client/1.1\r\n",
        req.method, req.url.host
    );
    if let Some(body) = req.body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if let Some(ct) = req.content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut out = head.into_bytes();
    if let Some(body) = req.body {
        out.extend_from_slice(body);
    }
    if let Some(limit) = head_limit {
        let left = limit.saturating_duration_since(Instant::now());
        let _ = stream.set_write_timeout(Some(left.max(Duration::from_millis(1))));
    }
    if let Err(e) = stream.write_all(&out) {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            return Err(on_head_timeout());
        }
        return Err(op_err("write", &e));
    }

    // Headers.
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        match read_until(&mut stream, &mut chunk, head_limit) {
            Ok(0) => {
                return Err(TransportError::Other {
                    text: if buf.is_empty() {
                        "EOF".into()
                    } else {
                        "unexpected EOF".into()
                    },
                    connection: false,
                })
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(None) => return Err(on_head_timeout()),
            Err(Some(e)) => return Err(op_err("read", &e)),
        }
    };
    let head_text = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = match status_line.split(' ').nth(1).and_then(|s| s.parse().ok()) {
        Some(s) => s,
        None => {
            return Err(TransportError::Other {
                text: format!("malformed HTTP response {}", go::quote(status_line)),
                connection: false,
            })
        }
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let mut rest = buf.split_off(header_end + 4);

    // Body, bounded by the context only.
    let body_err = |e: Option<io::Error>| match e {
        None => TransportError::Deadline,
        Some(e) => op_err("read", &e),
    };
    let mut more = |stream: &mut TcpStream, rest: &mut Vec<u8>| -> Result<bool, TransportError> {
        match read_until(stream, &mut chunk, d.context) {
            Ok(0) => Ok(false),
            Ok(n) => {
                rest.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) => Err(body_err(e)),
        }
    };
    let unexpected_eof = || TransportError::Other {
        text: "unexpected EOF".into(),
        connection: false,
    };
    if req.method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    let chunked = resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        let mut pos = 0;
        loop {
            let line_end = loop {
                if let Some(p) = rest[pos..].windows(2).position(|w| w == b"\r\n") {
                    break pos + p;
                }
                if !more(&mut stream, &mut rest)? {
                    return Err(unexpected_eof());
                }
            };
            let size_text = String::from_utf8_lossy(&rest[pos..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| TransportError::Other {
                    text: "malformed chunked encoding".into(),
                    connection: false,
                })?;
            let data_start = line_end + 2;
            if size == 0 {
                break;
            }
            while rest.len() < data_start + size + 2 {
                if !more(&mut stream, &mut rest)? {
                    return Err(unexpected_eof());
                }
            }
            resp.body
                .extend_from_slice(&rest[data_start..data_start + size]);
            pos = data_start + size + 2;
        }
    } else if let Some(len) = resp
        .header("Content-Length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while rest.len() < len {
            if !more(&mut stream, &mut rest)? {
                return Err(unexpected_eof());
            }
        }
        rest.truncate(len);
        resp.body = rest;
    } else {
        while more(&mut stream, &mut rest)? {}
        resp.body = rest;
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_as_go_does() {
        let u = parse_url("http://127.0.0.1:2379/").unwrap();
        assert_eq!(u.host, "127.0.0.1:2379");
        assert_eq!(u.to_string(), "http://127.0.0.1:2379/");
        assert_eq!(
            parse_url("127.0.0.1:2379").unwrap_err(),
            "parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon"
        );
        let u = parse_url("localhost:2379").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.opaque.as_str()),
            ("localhost", "2379")
        );
        assert_eq!(u.to_string(), "localhost:2379");
        let mut u = parse_url("myhost").unwrap();
        u.scheme = "http".into();
        assert_eq!(u.to_string(), "http://myhost");
        let mut u = parse_url("http://h:1").unwrap();
        u.path = "/v2/keys/a b/c?d#e%f+g".into();
        assert_eq!(u.to_string(), "http://h:1/v2/keys/a%20b/c%3Fd%23e%25f+g");
    }

    #[test]
    fn values_encode_sorted_with_query_escaping() {
        let v = [("value", "a&b=c/d é".to_string()), ("ttl", "5".to_string())];
        assert_eq!(encode_values(&v), "ttl=5&value=a%26b%3Dc%2Fd+%C3%A9");
    }
}
