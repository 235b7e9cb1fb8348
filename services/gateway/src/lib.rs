//! # concord-gateway: the etcd v2 REST API
//!
//! A stateless HTTP face over the service contracts: it parses requests
//! exactly as etcd 3.4's `v2http` does, turns them into store commands,
//! reads or watches, and answers with etcd's JSON, headers and statuses. It
//! holds no keys, so any number of gateways can run.
//!
//! - `lib.rs`: routing (Go `ServeMux` behaviour: clean-path redirects, 404s,
//!   405 with `Allow`), the keys handler, members, stats, version, health;
//! - [`params`]: the form and `/v2/keys` parameter parsing;
//! - [`error`]: the one place where errors become etcd's JSON;
//! - [`stats`]: etcd's presentation of a member's raft statistics;
//! - [`advertise`]: the client URLs a gateway reports for the members.

// Handlers return a ready `Response` as their error: it is built once and
// sent at once, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod advertise;
pub mod error;
pub mod params;
pub mod stats;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use concord_api::{
    ApiError, Cluster, Kv, MembershipError, RaftStats, ReadRequest, Watch, WatchRequest,
};
use concord_store::{go, Command, Event};
use futures_util::stream;

use crate::error::{http_error, method_not_allowed, not_found, v2_error, GatewayError};
use crate::params::{Form, KeyParams};

/// The etcd release whose answers the gateway reproduces.
pub const ETCD_SERVER_VERSION: &str = "3.4.23";
/// The cluster version etcd 3.4 reports.
pub const ETCD_CLUSTER_VERSION: &str = "3.4.0";
/// Go's `ParseForm` reads at most 10 MiB of form body.
pub const MAX_FORM_BYTES: usize = 10 << 20;
/// Member requests are JSON; anything larger than this is not a member.
const MAX_JSON_BYTES: usize = 1 << 20;

/// What the gateway talks to.
#[derive(Clone)]
pub struct GatewayState {
    pub kv: Arc<dyn Kv>,
    pub watch: Arc<dyn Watch>,
    pub cluster: Arc<dyn Cluster>,
    pub stats: Arc<dyn RaftStats>,
}

/// The whole v2 API as one axum router.
pub fn router(state: GatewayState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(JSON));
    r
}

/// etcd wraps every client handler in a CORS handler: permissive headers
/// on every answer, and an empty 200 for any `OPTIONS` request.
async fn dispatch(State(st): State<GatewayState>, req: Request) -> Response {
    let mut r = if req.method() == Method::OPTIONS {
        // Go's server refuses a bad escape in the path before etcd's CORS
        // handler sees the request (an unclean path is not redirected).
        match go::path_unescape(req.uri().path()) {
            Some(_) => Response::new(Body::empty()),
            None => bad_request(),
        }
    } else {
        route(st, req).await
    };
    let h = r.headers_mut();
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("accept, content-type, authorization"),
    );
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"),
    );
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

/// Go's server's answer to a request line it cannot parse.
fn bad_request() -> Response {
    (StatusCode::BAD_REQUEST, "400 Bad Request").into_response()
}

/// The decoded request path, or Go's answer to a path it does not serve:
/// 400 for a bad escape, a redirect for an unclean path (`//`, `..`).
fn checked_path(req: &Request) -> Result<String, Response> {
    let raw_path = req.uri().path().to_string();
    let Some(path) = go::path_unescape(&raw_path) else {
        return Err(bad_request());
    };
    let cleaned = go::clean_url_path(&path);
    if cleaned != path {
        // Go's ServeMux answers unclean paths with a redirect.
        let mut loc = cleaned.clone();
        if let Some(q) = req.uri().query() {
            loc.push('?');
            loc.push_str(q);
        }
        let body = if req.method() == Method::GET {
            format!("<a href=\"{loc}\">Moved Permanently</a>.\n\n")
        } else {
            String::new()
        };
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
        r.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&loc) {
            r.headers_mut().insert("location", v);
        }
        return Err(r);
    }
    Ok(path)
}

async fn route(st: GatewayState, req: Request) -> Response {
    let path = match checked_path(&req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match path.as_str() {
        "/v2/keys" => keys(st, req, "/".to_string()).await,
        p if p.starts_with("/v2/keys/") => {
            let key = p["/v2/keys".len()..].to_string();
            keys(st, req, key).await
        }
        "/v2/members" => members(st, req, "").await,
        p if p.starts_with("/v2/members/") => {
            let rest = p["/v2/members/".len()..].to_string();
            members(st, req, &rest).await
        }
        "/v2/machines" => machines(st, req).await,
        "/v2/stats/self" => stats_self(st, req).await,
        "/v2/stats/store" => stats_store(st, req).await,
        "/v2/stats/leader" => stats_leader(st, req).await,
        "/version" => version(req),
        "/health" => health(st, req).await,
        _ => not_found(),
    }
}

fn allow(req: &Request, methods: &[&str]) -> Option<Response> {
    if methods.iter().any(|m| req.method().as_str() == *m) {
        None
    } else {
        Some(method_not_allowed(&methods.join(",")))
    }
}

fn with_cluster_id(mut r: Response, st: &GatewayState) -> Response {
    if let Ok(v) = HeaderValue::from_str(&st.cluster.cluster_id()) {
        r.headers_mut().insert("x-etcd-cluster-id", v);
    }
    r
}

/// Reads the form body of PUT/POST (Go parses it only for a form content
/// type) with Go's 10 MiB limit.
async fn read_form(req: Request) -> Result<Form, GatewayError> {
    let (parts, body) = req.into_parts();
    let is_form = matches!(parts.method, Method::PUT | Method::POST | Method::PATCH)
        && parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
            .unwrap_or(false);
    let body_text = if is_form {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| GatewayError::form("http: POST too large"))?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        // Not a form etcd reads, but read off the connection all the same:
        // answering with a body still unread makes the kernel reset the
        // connection, and the client may lose the answer.
        let _ = axum::body::to_bytes(body, MAX_FORM_BYTES).await;
        None
    };
    Form::parse(body_text.as_deref(), parts.uri.query()).map_err(GatewayError::form)
}

async fn keys(st: GatewayState, req: Request, key: String) -> Response {
    if let Some(r) = allow(&req, &["HEAD", "GET", "PUT", "POST", "DELETE"]) {
        return r;
    }
    let method = req.method().clone();
    let head = method == Method::HEAD;
    let r = match keys_inner(&st, req, key).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let mut r = with_cluster_id(r, &st);
    if head {
        *r.body_mut() = Body::empty();
    }
    r
}

async fn keys_inner(
    st: &GatewayState,
    req: Request,
    key: String,
) -> Result<Response, GatewayError> {
    let method = req.method().as_str().to_string();
    let form = read_form(req).await?;
    // Parsed with the real method (etcd refuses wait=true on HEAD), then
    // HEAD is served as GET without a body.
    let p = KeyParams::parse(&form, &method)?;
    let m = if method == "HEAD" {
        "GET"
    } else {
        method.as_str()
    };
    if m == "GET" && p.wait {
        return watch(st, key, &p).await;
    }
    let resp = match m {
        "GET" => {
            st.kv
                .read(ReadRequest {
                    key,
                    recursive: p.recursive,
                    sorted: p.sorted,
                    quorum: p.quorum,
                })
                .await?
        }
        _ => st.kv.write(command_for(m, key, &p)).await?,
    };
    Ok(event_response(
        resp.event,
        resp.raft.index,
        resp.raft.term,
        p.no_value_on_success,
    ))
}

/// etcd's `apply_v2.go` dispatch from method and parameters to a command.
fn command_for(method: &str, key: String, p: &KeyParams) -> Command {
    let value = p.value.clone();
    match method {
        "POST" => Command::Create {
            key,
            dir: p.dir,
            value,
            unique: true,
            ttl: p.ttl,
        },
        "DELETE" => {
            if !p.prev_value.is_empty() || p.prev_index > 0 {
                Command::CompareAndDelete {
                    key,
                    prev_value: p.prev_value.clone(),
                    prev_index: p.prev_index,
                }
            } else {
                Command::Delete {
                    key,
                    dir: p.dir,
                    recursive: p.recursive,
                }
            }
        }
        _ => match (p.prev_exist, p.prev_index > 0 || !p.prev_value.is_empty()) {
            (Some(false), _) => Command::Create {
                key,
                dir: p.dir,
                value,
                unique: false,
                ttl: p.ttl,
            },
            (Some(true), false) => Command::Update {
                key,
                value,
                ttl: p.ttl,
                refresh: p.refresh,
            },
            // A condition, with or without prevExist=true.
            (_, true) => Command::CompareAndSwap {
                key,
                prev_value: p.prev_value.clone(),
                prev_index: p.prev_index,
                value,
                ttl: p.ttl,
                refresh: p.refresh,
            },
            (None, false) => Command::Set {
                key,
                dir: p.dir,
                value,
                ttl: p.ttl,
                refresh: p.refresh,
            },
        },
    }
}

fn event_json(ev: &Event) -> Vec<u8> {
    let mut b = serde_json::to_vec(ev).unwrap_or_default();
    b.push(b'\n');
    b
}

fn set_raft_headers(h: &mut HeaderMap, etcd_index: u64, raft_index: u64, raft_term: u64) {
    h.insert("x-etcd-index", HeaderValue::from(etcd_index));
    h.insert("x-raft-index", HeaderValue::from(raft_index));
    h.insert("x-raft-term", HeaderValue::from(raft_term));
}

fn event_response(ev: Event, raft_index: u64, raft_term: u64, no_value: bool) -> Response {
    use concord_store::Action::*;
    let status = if ev.is_created() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = if no_value && matches!(ev.action, Set | CompareAndSwap | Create | Update) {
        #[derive(serde::Serialize)]
        struct ActionOnly {
            action: concord_store::Action,
        }
        let mut b = serde_json::to_vec(&ActionOnly { action: ev.action }).unwrap_or_default();
        b.push(b'\n');
        b
    } else {
        event_json(&ev)
    };
    let mut r = json_response(status, body);
    set_raft_headers(r.headers_mut(), ev.etcd_index, raft_index, raft_term);
    r
}

/// A long poll (`wait=true`): headers at once, then one event (or, with
/// `stream=true`, every event) as it happens.
async fn watch(st: &GatewayState, key: String, p: &KeyParams) -> Result<Response, GatewayError> {
    // A watch from "now" must not report a write this member answered.
    st.kv.caught_up().await?;
    let w = st
        .watch
        .watch(WatchRequest {
            key: go::clean_rooted(&key),
            recursive: p.recursive,
            stream: p.stream,
            since_index: if p.wait_index == 0 {
                None
            } else {
                Some(p.wait_index)
            },
            after_index: st.kv.answered_store_index(),
        })
        .await?;
    let raft = st.kv.raft_position();
    let start = w.start_index;
    let stream_mode = p.stream;
    let body = stream::unfold((w.events, false), move |(mut rx, done)| async move {
        if done {
            return None;
        }
        let ev = rx.recv().await?;
        let mut ev = (*ev).clone();
        ev.etcd_index = start;
        let chunk: Result<Bytes, std::io::Error> = Ok(Bytes::from(event_json(&ev)));
        Some((chunk, (rx, !stream_mode)))
    });
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(JSON));
    set_raft_headers(r.headers_mut(), start, raft.index, raft.term);
    Ok(r)
}

/// Go's `types.NewURLs` checks on member peer URLs.
fn check_urls(urls: &[String]) -> Result<Vec<String>, String> {
    if urls.is_empty() {
        return Err("no valid URLs given".into());
    }
    let mut out = Vec::new();
    for u in urls {
        let u = u.trim();
        let (scheme, rest) = match u.split_once("://") {
            Some((s, r)) => (s, r),
            None => ("", u),
        };
        if !matches!(scheme, "http" | "https" | "unix" | "unixs") {
            return Err(format!(
                "URL scheme must be http, https, unix, or unixs: {u}"
            ));
        }
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        match host.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() || p.parse::<u16>().is_ok() => {}
            _ => {
                return Err(format!(
                    "URL address does not have the form \"host:port\": {u}"
                ))
            }
        }
        if !path.is_empty() {
            return Err(format!("URL must not contain a path: {u}"));
        }
        out.push(u.to_string());
    }
    out.sort();
    Ok(out)
}

#[derive(serde::Deserialize)]
struct PeerUrlsBody {
    #[serde(rename = "peerURLs", default)]
    peer_urls: Option<Vec<String>>,
}

async fn read_member_body(req: Request) -> Result<Vec<String>, Response> {
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ct = match ct.find(';') {
        Some(i) => ct[..i].trim().to_lowercase(),
        None => ct,
    };
    if ct != "application/json" {
        return Err(http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Bad Content-Type {ct}, accept application/json"),
        ));
    }
    let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BYTES)
        .await
        .map_err(|e| http_error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let body: PeerUrlsBody = serde_json::from_slice(&bytes)
        .map_err(|e| http_error(StatusCode::BAD_REQUEST, &error::go_json_error(&e, &bytes)))?;
    check_urls(&body.peer_urls.unwrap_or_default())
        .map_err(|e| http_error(StatusCode::BAD_REQUEST, &e))
}

fn membership_error(e: MembershipError) -> Response {
    let status = match e {
        MembershipError::NotFound(_) => StatusCode::NOT_FOUND,
        MembershipError::Removed(_) => StatusCode::GONE,
        MembershipError::IdExists | MembershipError::PeerUrlExists => StatusCode::CONFLICT,
        MembershipError::Unhealthy
        | MembershipError::NotEnoughStarted
        | MembershipError::IdRemoved => {
            // etcd logs these and answers a plain 500.
            tracing::warn!("v2 response error: {e}");
            return http_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
        MembershipError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    http_error(status, &e.to_string())
}

fn parse_member_id(s: &str) -> Result<u64, Response> {
    u64::from_str_radix(s, 16)
        .map_err(|_| http_error(StatusCode::NOT_FOUND, &format!("No such member: {s}")))
}

async fn members(st: GatewayState, req: Request, rest: &str) -> Response {
    if let Some(r) = allow(&req, &["GET", "POST", "DELETE", "PUT"]) {
        return r;
    }
    let r = match *req.method() {
        Method::GET => match rest {
            "" => match st.cluster.members().await {
                Ok(ms) => {
                    // A struct, not `json!`, to keep etcd's field order.
                    #[derive(serde::Serialize)]
                    struct Members {
                        members: Vec<concord_api::Member>,
                    }
                    let mut b = serde_json::to_vec(&Members { members: ms }).unwrap_or_default();
                    b.push(b'\n');
                    json_response(StatusCode::OK, b)
                }
                Err(e) => GatewayError::from(e).into_response(),
            },
            "leader" => match st.cluster.leader().await {
                Ok(Some(m)) => {
                    let mut b = serde_json::to_vec(&m).unwrap_or_default();
                    b.push(b'\n');
                    json_response(StatusCode::OK, b)
                }
                _ => http_error(StatusCode::SERVICE_UNAVAILABLE, "During election"),
            },
            _ => http_error(StatusCode::NOT_FOUND, "Not found"),
        },
        Method::POST => match read_member_body(req).await {
            Err(r) => r,
            Ok(urls) => match st.cluster.add_member(urls).await {
                Ok(m) => {
                    let mut b = serde_json::to_vec(&m).unwrap_or_default();
                    b.push(b'\n');
                    json_response(StatusCode::CREATED, b)
                }
                Err(e) => membership_error(e),
            },
        },
        Method::DELETE => {
            if rest.is_empty() {
                return with_cluster_id(method_not_allowed("GET,POST,DELETE,PUT"), &st);
            }
            match parse_member_id(rest) {
                Err(r) => r,
                Ok(id) => match st.cluster.remove_member(id).await {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => membership_error(e),
                },
            }
        }
        _ => {
            if rest.is_empty() {
                return with_cluster_id(method_not_allowed("GET,POST,DELETE,PUT"), &st);
            }
            match parse_member_id(rest) {
                Err(r) => r,
                Ok(id) => match read_member_body(req).await {
                    Err(r) => r,
                    Ok(urls) => match st.cluster.update_member(id, urls).await {
                        Ok(()) => StatusCode::NO_CONTENT.into_response(),
                        Err(e) => membership_error(e),
                    },
                },
            }
        }
    };
    with_cluster_id(r, &st)
}

async fn machines(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET", "HEAD"]) {
        return r;
    }
    let mut urls: Vec<String> = match st.cluster.members().await {
        Ok(ms) => ms.into_iter().flat_map(|m| m.client_urls).collect(),
        Err(e) => return GatewayError::from(e).into_response(),
    };
    urls.sort();
    let mut r = Response::new(Body::from(urls.join(", ")));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(TEXT));
    r
}

async fn stats_self(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    match st.stats.self_stats().await {
        Ok(s) => json_response(StatusCode::OK, stats::self_stats_json(&s)),
        Err(e) => GatewayError::from(e).into_response(),
    }
}

async fn stats_store(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    match st.kv.store_stats().await {
        Ok(mut s) => {
            s.watchers = match st.watch.watcher_count().await {
                Ok(n) => n,
                Err(e) => return GatewayError::from(e).into_response(),
            };
            json_response(StatusCode::OK, serde_json::to_vec(&s).unwrap_or_default())
        }
        Err(e) => GatewayError::from(e).into_response(),
    }
}

async fn stats_leader(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    match st.stats.leader_stats().await {
        Ok(Some(s)) => json_response(StatusCode::OK, serde_json::to_vec(&s).unwrap_or_default()),
        Ok(None) => http_error(StatusCode::FORBIDDEN, "not current leader"),
        Err(e) => GatewayError::from(e).into_response(),
    }
}

fn version(req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    #[derive(serde::Serialize)]
    struct Version {
        etcdserver: &'static str,
        etcdcluster: &'static str,
    }
    let b = serde_json::to_vec(&Version {
        etcdserver: ETCD_SERVER_VERSION,
        etcdcluster: ETCD_CLUSTER_VERSION,
    })
    .unwrap_or_default();
    json_response(StatusCode::OK, b)
}

async fn health(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    let ok = st.cluster.healthy().await;
    let (status, body) = if ok {
        (StatusCode::OK, "{\"health\":\"true\"}")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "{\"health\":\"false\"}\n")
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(TEXT));
    r
}

impl From<ApiError> for GatewayError {
    fn from(e: ApiError) -> Self {
        GatewayError::Api(e)
    }
}

impl From<concord_store::Error> for GatewayError {
    fn from(e: concord_store::Error) -> Self {
        GatewayError::Api(ApiError::Store(e))
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        v2_error(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_urls() {
        assert!(check_urls(&[]).is_err());
        assert!(check_urls(&["not a url".into()])
            .unwrap_err()
            .starts_with("URL scheme"));
        assert!(check_urls(&["http://10.0.0.1".into()])
            .unwrap_err()
            .contains("host:port"));
        assert!(check_urls(&["http://10.0.0.1:2380/x".into()])
            .unwrap_err()
            .contains("path"));
        assert_eq!(
            check_urls(&["http://10.0.0.1:2380".into()]).unwrap().len(),
            1
        );
    }
}
