//! etcd's Go v2 client (`go.etcd.io/etcd/client`, as etcdctl 3.4 uses it),
//! re-done: the same endpoint handling, requests, fail-over and errors.
//!
//! - Endpoints are shuffled when set (`SetEndpoints`), so the order of a
//!   command's attempts, like etcdctl's, is random.
//! - `sync` (`Sync`) lists the members (`GET /v2/members`) and, when their
//!   client URLs differ from the endpoints, uses them (shuffled) instead.
//! - A request (`Do`) tries the endpoints in turn from the last one that
//!   answered; connection failures, header timeouts and 5xx answers move on
//!   to the next, and when all failed the error is a cluster error listing
//!   each. "One-shot" requests (delete, create) stop at the first failure.
//! - Deadlines: `--timeout` bounds each attempt until the response headers
//!   (not for `wait=true`), `--total-timeout` the command's context (except
//!   watches), and the dial the smaller of 30s and `--total-timeout`.

use std::time::{Duration, Instant};

use concord_store::go;
use serde::Deserialize;
use serde_json::Value;

use crate::http::{self, encode_values, parse_url, Deadlines, TransportError, Url};

/// Why a call failed; `text` is Go's `err.Error()`.
#[derive(Debug, Clone)]
pub enum Error {
    /// `client.ClusterError`: every endpoint failed; one text each, with
    /// whether etcdctl counts it as a connection error.
    Cluster(Vec<(String, bool)>),
    /// `client.ErrNoEndpoints`.
    NoEndpoints,
    /// A single error (a one-shot request's, the context's, a parse error).
    Raw { text: String, connection: bool },
}

impl Error {
    fn raw(text: impl Into<String>) -> Error {
        Error::Raw {
            text: text.into(),
            connection: false,
        }
    }

    fn deadline() -> Error {
        // context.DeadlineExceeded is a net.Error with Timeout() == true.
        Error::Raw {
            text: "context deadline exceeded".into(),
            connection: true,
        }
    }

    /// Go's `Error()`.
    pub fn text(&self) -> String {
        match self {
            Error::Cluster(errs) => {
                let mut s = String::from("client: etcd cluster is unavailable or misconfigured");
                for (i, (e, _)) in errs.iter().enumerate() {
                    s.push_str(&format!("; error #{i}: {e}\n"));
                }
                s
            }
            Error::NoEndpoints => "client: no endpoints available".into(),
            Error::Raw { text, .. } => text.clone(),
        }
    }

    /// `ClusterError.Detail()`, which etcdctl's `handleError` adds.
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::Cluster(errs) => Some(
                errs.iter()
                    .enumerate()
                    .map(|(i, (e, _))| format!("error #{i}: {e}\n"))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// `client.ErrEmptyBody`, which a watcher retries.
    pub fn is_empty_body(&self) -> bool {
        matches!(self, Error::Raw { text, .. } if text == EMPTY_BODY)
    }

    /// etcdctl's `isConnectionError`.
    pub fn is_connection(&self) -> bool {
        match self {
            Error::Cluster(errs) => errs.iter().all(|(_, c)| *c),
            Error::NoEndpoints => false,
            Error::Raw { connection, .. } => *connection,
        }
    }
}

const EMPTY_BODY: &str = "client: response body is empty";

/// A keys answer: the event JSON and the `X-Etcd-Index` header.
pub struct KeysResponse {
    pub body: Value,
    pub index: u64,
}

impl KeysResponse {
    pub fn node_is_dir(&self) -> bool {
        self.body["node"]["dir"].as_bool().unwrap_or(false)
    }
    pub fn node_key(&self) -> &str {
        self.body["node"]["key"].as_str().unwrap_or("")
    }
    pub fn node_modified_index(&self) -> u64 {
        self.body["node"]["modifiedIndex"].as_u64().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "peerURLs", default)]
    pub peer_urls: Vec<String>,
    #[serde(rename = "clientURLs", default)]
    pub client_urls: Vec<String>,
}

/// Where a request goes, relative to an endpoint.
enum Target {
    /// `/v2/keys<key>`, canonicalised.
    Keys(String),
    /// `/v2/members[/<suffix>]`, joined.
    Members(String),
}

/// One request as the Go client's `httpAction`s build it.
pub struct Action {
    method: &'static str,
    target: Target,
    query: String,
    content_type: Option<&'static str>,
    /// `None`: no body (GET, DELETE); `Some("")` is printed as `-d ""`.
    body: Option<String>,
}

impl Action {
    fn url(&self, ep: &Url) -> Url {
        let mut u = ep.clone();
        u.path = match &self.target {
            Target::Keys(key) => {
                let key = if key.is_empty() || key.starts_with('/') {
                    key.clone()
                } else {
                    format!("/{key}")
                };
                go::clean_url_path(&format!("{}/v2/keys{key}", ep.path))
            }
            Target::Members(suffix) => {
                let p = go::join(&ep.path, "/v2/members");
                if suffix.is_empty() {
                    p
                } else {
                    go::join(&p, suffix)
                }
            }
        };
        if !self.query.is_empty() {
            u.query = self.query.clone();
        } else if matches!(self.target, Target::Keys(_)) {
            u.query.clear();
        }
        u
    }

    fn is_wait(&self) -> bool {
        self.query.split('&').any(|kv| kv == "wait=true")
    }

    /// `getAction`.
    pub fn get(key: &str, recursive: bool, sorted: bool, quorum: bool) -> Action {
        Action {
            method: "GET",
            target: Target::Keys(key.into()),
            query: encode_values(&[
                ("recursive", recursive.to_string()),
                ("sorted", sorted.to_string()),
                ("quorum", quorum.to_string()),
            ]),
            content_type: None,
            body: None,
        }
    }

    /// `waitAction`.
    pub fn wait(key: &str, wait_index: u64, recursive: bool) -> Action {
        Action {
            method: "GET",
            target: Target::Keys(key.into()),
            query: encode_values(&[
                ("wait", "true".into()),
                ("waitIndex", wait_index.to_string()),
                ("recursive", recursive.to_string()),
            ]),
            content_type: None,
            body: None,
        }
    }

    /// `setAction`.
    pub fn set(key: &str, value: &str, o: &SetOptions) -> Action {
        let mut params: Vec<(&str, String)> = Vec::new();
        let mut form: Vec<(&str, String)> = Vec::new();
        if o.dir {
            params.push(("dir", "true".into()));
        } else {
            if !o.prev_value.is_empty() {
                params.push(("prevValue", o.prev_value.clone()));
            }
            form.push(("value", value.into()));
        }
        if o.prev_index != 0 {
            params.push(("prevIndex", o.prev_index.to_string()));
        }
        if let Some(p) = o.prev_exist {
            params.push(("prevExist", p.into()));
        }
        if o.ttl > 0 {
            form.push(("ttl", o.ttl.to_string()));
        }
        Action {
            method: "PUT",
            target: Target::Keys(key.into()),
            query: encode_values(&params),
            content_type: Some("application/x-www-form-urlencoded"),
            body: Some(encode_values(&form)),
        }
    }

    /// `deleteAction`.
    pub fn delete(
        key: &str,
        prev_value: &str,
        prev_index: u64,
        dir: bool,
        recursive: bool,
    ) -> Action {
        let mut params: Vec<(&str, String)> = Vec::new();
        if !prev_value.is_empty() {
            params.push(("prevValue", prev_value.into()));
        }
        if prev_index != 0 {
            params.push(("prevIndex", prev_index.to_string()));
        }
        if dir {
            params.push(("dir", "true".into()));
        }
        if recursive {
            params.push(("recursive", "true".into()));
        }
        Action {
            method: "DELETE",
            target: Target::Keys(key.into()),
            query: encode_values(&params),
            content_type: Some("application/x-www-form-urlencoded"),
            body: None,
        }
    }

    /// `createInOrderAction`.
    pub fn create_in_order(dir: &str, value: &str, ttl: u64) -> Action {
        let mut form = vec![("value", value.to_string())];
        if ttl > 0 {
            form.push(("ttl", ttl.to_string()));
        }
        Action {
            method: "POST",
            target: Target::Keys(dir.into()),
            query: String::new(),
            content_type: Some("application/x-www-form-urlencoded"),
            body: Some(encode_values(&form)),
        }
    }

    fn members(method: &'static str, suffix: &str, body: Option<String>) -> Action {
        Action {
            method,
            target: Target::Members(suffix.into()),
            query: String::new(),
            content_type: body.as_ref().map(|_| "application/json"),
            body,
        }
    }
}

/// `client.SetOptions`, as etcdctl fills it.
#[derive(Default)]
pub struct SetOptions {
    pub prev_value: String,
    pub prev_index: u64,
    /// `"true"` / `"false"`; `None` is `PrevIgnore`.
    pub prev_exist: Option<&'static str>,
    pub ttl: u64,
    pub dir: bool,
}

/// The client's settings: etcdctl's global flags.
pub struct Config {
    pub endpoints: Vec<String>,
    /// `--timeout`; zero: none.
    pub header_timeout: Duration,
    /// `--total-timeout`.
    pub total_timeout: Duration,
    /// `--debug`: print each request as a cURL command on stderr.
    pub debug: bool,
}

pub struct Client {
    endpoints: Vec<Url>,
    pinned: usize,
    header_timeout: Duration,
    total_timeout: Duration,
    pub debug: bool,
    rng: u64,
}

/// etcdctl's `getEndpoints`: each endpoint parsed, `http` when it has no
/// scheme, and printed back as Go prints a URL.
pub fn normalise_endpoints(eps: &[String]) -> Result<Vec<String>, String> {
    eps.iter()
        .map(|ep| {
            let mut u = parse_url(ep)?;
            if u.scheme.is_empty() {
                u.scheme = "http".into();
            }
            Ok(u.to_string())
        })
        .collect()
}

/// Go's `http.StatusText` for the 5xx codes.
fn status_text(code: u16) -> &'static str {
    match code {
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

/// `json.Marshal` escapes `<`, `>` and `&` in strings.
fn go_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// etcd's `types.NewURLs`: validated and sorted peer URLs.
pub fn new_urls(strs: &[&str]) -> Result<Vec<String>, String> {
    if strs.is_empty() {
        return Err("no valid URLs given".into());
    }
    let mut out = Vec::new();
    for s in strs {
        let s = s.trim();
        let u = parse_url(s)?;
        if !matches!(u.scheme.as_str(), "http" | "https" | "unix" | "unixs") {
            return Err(format!(
                "URL scheme must be http, https, unix, or unixs: {s}"
            ));
        }
        let host_port_ok = if let Some(rest) = u.host.strip_prefix('[') {
            rest.split_once(']')
                .is_some_and(|(_, tail)| tail.starts_with(':') && !tail[1..].contains(':'))
        } else {
            u.host
                .split_once(':')
                .is_some_and(|(_, port)| !port.contains(':'))
        };
        if !host_port_ok {
            return Err(format!(
                "URL address does not have the form \"host:port\": {s}"
            ));
        }
        if !u.path.is_empty() {
            return Err(format!("URL must not contain a path: {s}"));
        }
        out.push(u.to_string());
    }
    out.sort();
    Ok(out)
}

fn json_error(body: &[u8]) -> Error {
    // What Go's encoding/json says, for the cases seen in practice.
    let trimmed = String::from_utf8_lossy(body);
    let t = trimmed.trim_start();
    match t.chars().next() {
        None => Error::raw("unexpected end of JSON input"),
        Some(c) => Error::raw(format!(
            "invalid character {} looking for beginning of value",
            go_char(c)
        )),
    }
}

/// Go's `%q` of a rune, as encoding/json quotes it in errors.
fn go_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '\\' => "'\\\\'".into(),
        c if c.is_control() => {
            let q = go::quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
        c => format!("'{c}'"),
    }
}

impl Client {
    /// etcdctl's `newClient`: `Err` is the text etcdctl prints before
    /// exiting with 1.
    pub fn new(cfg: Config) -> Result<Client, String> {
        let eps = normalise_endpoints(&cfg.endpoints)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut c = Client {
            endpoints: Vec::new(),
            pinned: 0,
            header_timeout: cfg.header_timeout,
            total_timeout: cfg.total_timeout,
            debug: cfg.debug,
            rng: nanos ^ (u64::from(std::process::id()) << 32) | 1,
        };
        c.set_endpoints(&eps).map_err(|e| e.text())?;
        Ok(c)
    }

    fn next_rand(&mut self, n: usize) -> usize {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    /// Go's `shuffleEndpoints`.
    fn shuffle(&mut self, eps: Vec<Url>) -> Vec<Url> {
        let n = eps.len();
        let mut p = vec![0usize; n];
        for i in 0..n {
            let j = self.next_rand(i + 1);
            p[i] = p[j];
            p[j] = i;
        }
        p.iter().map(|&k| eps[k].clone()).collect()
    }

    fn parse_endpoints(eps: &[String]) -> Result<Vec<Url>, Error> {
        if eps.is_empty() {
            return Err(Error::NoEndpoints);
        }
        eps.iter()
            .map(|e| parse_url(e).map_err(Error::raw))
            .collect()
    }

    fn set_endpoints(&mut self, eps: &[String]) -> Result<(), Error> {
        let neps = Self::parse_endpoints(eps)?;
        self.endpoints = self.shuffle(neps);
        self.pinned = 0;
        Ok(())
    }

    /// The endpoints in the order requests try them.
    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints.iter().map(|u| u.to_string()).collect()
    }

    /// A context with `--total-timeout` (etcdctl's `contextWithTotalTimeout`).
    pub fn total_context(&self) -> Option<Instant> {
        Some(Instant::now() + self.total_timeout)
    }

    /// `Sync`: the members' client URLs become the endpoints.
    pub fn sync(&mut self, ctx: Option<Instant>) -> Result<(), Error> {
        let ms = self.members(ctx)?;
        let eps: Vec<String> = ms.iter().flat_map(|m| m.client_urls.clone()).collect();
        let neps = Self::parse_endpoints(&eps)?;
        let mut left: Vec<String> = self.endpoints();
        let mut right: Vec<String> = neps.iter().map(|u| u.to_string()).collect();
        left.sort();
        right.sort();
        if left == right {
            return Ok(());
        }
        self.endpoints = self.shuffle(neps);
        self.pinned = 0;
        Ok(())
    }

    /// One attempt against one endpoint, following redirects
    /// (`redirectFollowingHTTPClient` over `simpleHTTPClient`).
    fn attempt(
        &self,
        ep: &Url,
        act: &Action,
        ctx: Option<Instant>,
    ) -> Result<http::Response, (String, bool, bool)> {
        // (text, connection error, context error)
        let mut url = act.url(ep);
        for hop in 0..100 {
            if hop > 10 {
                return Err(("client: too many redirects".into(), false, false));
            }
            if self.debug {
                let mut line = format!("cURL Command: curl -X {} {url}", act.method);
                if let Some(b) = &act.body {
                    line.push_str(&format!(" -d {}", go::quote(b)));
                }
                eprintln!("{line}");
            }
            let now = Instant::now();
            let header = (!act.is_wait() && !self.header_timeout.is_zero())
                .then(|| now + self.header_timeout);
            let dial_timeout = if self.total_timeout.is_zero() {
                Duration::from_secs(30)
            } else {
                self.total_timeout.min(Duration::from_secs(30))
            };
            let req = http::Request {
                method: act.method,
                url: &url,
                content_type: act.content_type,
                body: act.body.as_deref().map(str::as_bytes),
            };
            let d = Deadlines {
                dial: Some(now + dial_timeout),
                header,
                context: ctx,
            };
            let resp = match http::round_trip(&req, d) {
                Ok(r) => r,
                Err(TransportError::Deadline) => {
                    return Err(("context deadline exceeded".into(), true, true))
                }
                Err(TransportError::HeaderTimeout) => {
                    return Err((
                        format!("client: endpoint {ep} exceeded header timeout"),
                        false,
                        false,
                    ))
                }
                Err(TransportError::Other { text, connection }) => {
                    return Err((text, connection, false))
                }
            };
            if resp.status / 100 == 3 {
                let Some(loc) = resp.header("Location") else {
                    return Err(("location header not set".into(), false, false));
                };
                url = parse_url(loc).map_err(|_| {
                    (
                        format!("location header not valid URL: {loc}"),
                        false,
                        false,
                    )
                })?;
                continue;
            }
            return Ok(resp);
        }
        Err(("client: too many redirect checks".into(), false, false))
    }

    /// `httpClusterClient.Do`.
    pub fn call(
        &mut self,
        act: &Action,
        ctx: Option<Instant>,
        one_shot: bool,
    ) -> Result<http::Response, Error> {
        let n = self.endpoints.len();
        if n == 0 {
            return Err(Error::NoEndpoints);
        }
        let eps = self.endpoints.clone();
        let pinned = self.pinned;
        let mut errs: Vec<(String, bool)> = Vec::new();
        for i in pinned..pinned + n {
            let k = i % n;
            let failed = match self.attempt(&eps[k], act, ctx) {
                Err((text, conn, is_ctx)) => {
                    if is_ctx {
                        return Err(Error::deadline());
                    }
                    errs.push((text.clone(), conn));
                    Some((text, conn))
                }
                Ok(resp) if resp.status / 100 == 5 => {
                    let text = match resp.status {
                        500 | 503 => format!("client: etcd member {} has no leader", eps[k]),
                        s => format!(
                            "client: etcd member {} returns server error [{}]",
                            eps[k],
                            status_text(s)
                        ),
                    };
                    errs.push((text, false));
                    // Go returns cerr.Errors[0] for a one-shot request.
                    Some(errs[0].clone())
                }
                Ok(resp) => {
                    if k != pinned {
                        self.pinned = k;
                    }
                    return Ok(resp);
                }
            };
            if let Some((text, connection)) = failed {
                if one_shot {
                    self.pinned = (k + 1) % n;
                    return Err(Error::Raw { text, connection });
                }
            }
        }
        Err(Error::Cluster(errs))
    }

    /// A `/v2/keys` call and `unmarshalHTTPResponse`; a v2 error becomes
    /// `100: Key not found (/a) [12]`.
    pub fn keys(
        &mut self,
        act: &Action,
        ctx: Option<Instant>,
        one_shot: bool,
    ) -> Result<KeysResponse, Error> {
        let resp = self.call(act, ctx, one_shot)?;
        keys_response(&resp)
    }

    /// `httpMembersAPI.List`.
    pub fn members(&mut self, ctx: Option<Instant>) -> Result<Vec<Member>, Error> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            members: Option<Vec<Member>>,
        }
        let resp = self.call(&Action::members("GET", "", None), ctx, false)?;
        if resp.status != 200 {
            return Err(Error::raw(format!(
                "unexpected status code {}",
                resp.status
            )));
        }
        let l: List = serde_json::from_slice(&resp.body).map_err(|_| json_error(&resp.body))?;
        Ok(l.members.unwrap_or_default())
    }

    /// `httpMembersAPI.Leader`.
    pub fn leader(&mut self, ctx: Option<Instant>) -> Result<Member, Error> {
        let resp = self.call(&Action::members("GET", "leader", None), ctx, false)?;
        if resp.status != 200 {
            return Err(Error::raw(format!(
                "unexpected status code {}",
                resp.status
            )));
        }
        serde_json::from_slice(&resp.body).map_err(|_| json_error(&resp.body))
    }

    fn member_message(body: &[u8]) -> Error {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => Error::raw(v["message"].as_str().unwrap_or("")),
            Err(_) => json_error(body),
        }
    }

    /// `httpMembersAPI.Add`.
    pub fn add_member(&mut self, ctx: Option<Instant>, peer_url: &str) -> Result<Member, Error> {
        let urls = new_urls(&[peer_url]).map_err(Error::raw)?;
        let body = go_json(&serde_json::json!({ "peerURLs": urls }));
        let resp = self.call(&Action::members("POST", "", Some(body)), ctx, false)?;
        match resp.status {
            201 => serde_json::from_slice(&resp.body).map_err(|_| json_error(&resp.body)),
            409 => Err(Self::member_message(&resp.body)),
            s => Err(Error::raw(format!("unexpected status code {s}"))),
        }
    }

    /// `httpMembersAPI.Remove`.
    pub fn remove_member(&mut self, ctx: Option<Instant>, id: &str) -> Result<(), Error> {
        let resp = self.call(&Action::members("DELETE", id, None), ctx, false)?;
        match resp.status {
            204 | 410 => Ok(()),
            s => Err(Error::raw(format!("unexpected status code {s}"))),
        }
    }

    /// `httpMembersAPI.Update`.
    pub fn update_member(
        &mut self,
        ctx: Option<Instant>,
        id: &str,
        urls: &[&str],
    ) -> Result<(), Error> {
        let urls = new_urls(urls).map_err(Error::raw)?;
        let body = go_json(&serde_json::json!({ "peerURLs": urls }));
        let resp = self.call(&Action::members("PUT", id, Some(body)), ctx, false)?;
        match resp.status {
            204 => Ok(()),
            404 | 409 => Err(Self::member_message(&resp.body)),
            s => Err(Error::raw(format!("unexpected status code {s}"))),
        }
    }

    /// cluster-health's plain `http.Client` GET of `<url>/health` (no cURL
    /// line; dial timeout as the client's). Unlike etcdctl, whose request
    /// has no deadline and hangs on a stopped member, the whole request is
    /// bounded by `--total-timeout`, failing as Go's `Client.Timeout` does.
    pub fn health(&self, url: &str) -> Result<Vec<u8>, String> {
        let full = format!("{url}/health");
        let wrap = |e: String| format!("Get {}: {e}", go::quote(&full));
        let u = parse_url(&full).map_err(&wrap)?;
        let now = Instant::now();
        let dial = if self.total_timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            self.total_timeout.min(Duration::from_secs(30))
        };
        let limit = now + self.total_timeout.max(Duration::from_millis(1));
        let req = http::Request {
            method: "GET",
            url: &u,
            content_type: None,
            body: None,
        };
        let d = Deadlines {
            dial: Some(now + dial),
            header: Some(limit),
            context: Some(limit),
        };
        match http::round_trip(&req, d) {
            Ok(r) => Ok(r.body),
            Err(TransportError::HeaderTimeout) | Err(TransportError::Deadline) => Err(wrap(
                "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into(),
            )),
            Err(TransportError::Other { text, .. }) => Err(wrap(text)),
        }
    }
}

/// `unmarshalHTTPResponse` of the keys API.
fn keys_response(resp: &http::Response) -> Result<KeysResponse, Error> {
    const INVALID: &str =
        "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint";
    match resp.status {
        200 | 201 => {
            if resp.body.is_empty() {
                return Err(Error::raw(EMPTY_BODY));
            }
            let body: Value =
                serde_json::from_slice(&resp.body).map_err(|_| Error::raw(INVALID))?;
            let index = match resp.header("X-Etcd-Index") {
                Some(v) if !v.is_empty() => v.parse().map_err(|_| {
                    Error::raw(format!(
                        "strconv.ParseUint: parsing {}: invalid syntax",
                        go::quote(v)
                    ))
                })?,
                _ => 0,
            };
            Ok(KeysResponse { body, index })
        }
        _ => {
            let v: Value = serde_json::from_slice(&resp.body).map_err(|_| Error::raw(INVALID))?;
            if !(v.is_object() || v.is_null()) {
                return Err(Error::raw(INVALID));
            }
            Err(Error::raw(format!(
                "{}: {} ({}) [{}]",
                v["errorCode"].as_i64().unwrap_or(0),
                v["message"].as_str().unwrap_or(""),
                v["cause"].as_str().unwrap_or(""),
                v["index"].as_u64().unwrap_or(0)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_error_text_and_detail_are_gos() {
        let e = Error::Cluster(vec![("a".into(), true), ("b".into(), true)]);
        assert_eq!(
            e.text(),
            "client: etcd cluster is unavailable or misconfigured; error #0: a\n; error #1: b\n"
        );
        assert_eq!(e.detail().unwrap(), "error #0: a\nerror #1: b\n");
        assert!(e.is_connection());
        let e = Error::Cluster(vec![("a".into(), true), ("b".into(), false)]);
        assert!(!e.is_connection());
    }

    #[test]
    fn actions_build_etcdctls_urls() {
        let ep = parse_url("http://h:1").unwrap();
        let a = Action::get("a", false, true, false);
        assert_eq!(
            a.url(&ep).to_string(),
            "http://h:1/v2/keys/a?quorum=false&recursive=false&sorted=true"
        );
        let a = Action::set(
            "/d",
            "",
            &SetOptions {
                dir: true,
                prev_exist: Some("false"),
                ttl: 100,
                ..Default::default()
            },
        );
        assert_eq!(
            a.url(&ep).to_string(),
            "http://h:1/v2/keys/d?dir=true&prevExist=false"
        );
        assert_eq!(a.body.as_deref(), Some("ttl=100"));
        let a = Action::wait("/w", 0, true);
        assert!(a.is_wait());
        assert_eq!(
            a.url(&ep).to_string(),
            "http://h:1/v2/keys/w?recursive=true&wait=true&waitIndex=0"
        );
        let a = Action::members("DELETE", "abc", None);
        assert_eq!(a.url(&ep).to_string(), "http://h:1/v2/members/abc");
    }

    #[test]
    fn peer_urls_are_validated_and_sorted() {
        assert_eq!(
            new_urls(&["http://b:2", "http://a:1"]).unwrap(),
            vec!["http://a:1", "http://b:2"]
        );
        assert_eq!(
            new_urls(&["notaurl"]).unwrap_err(),
            "URL scheme must be http, https, unix, or unixs: notaurl"
        );
        assert_eq!(
            new_urls(&["http://a"]).unwrap_err(),
            "URL address does not have the form \"host:port\": http://a"
        );
        assert_eq!(
            new_urls(&["http://a:1/p"]).unwrap_err(),
            "URL must not contain a path: http://a:1/p"
        );
    }
}
