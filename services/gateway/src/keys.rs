//! `/v2/keys` (etcd's `keysHandler`): the form and parameters, the write
//! each method and parameter set is (as etcd's `apply_v2.go` dispatches),
//! reads, and long-poll and streaming watches, answered with etcd's JSON
//! and `X-Etcd-Index`/`X-Raft-*` headers.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use concord_api::{ReadRequest, WatchRequest};
use concord_store::{go, Command, Event};
use futures_util::stream;

use crate::error::GatewayError;
use crate::params::{Form, KeyParams};
use crate::response::{allow, json_response, with_cluster_id, JSON};
use crate::v2auth::{has_key_prefix_access, AuthStore};
use crate::GatewayState;

/// Go's `ParseForm` reads at most 10 MiB of form body.
pub const MAX_FORM_BYTES: usize = 10 << 20;

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

pub(crate) async fn keys(st: GatewayState, req: Request, key: String) -> Response {
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
    let http_method = req.method().clone();
    let headers = req.headers().clone();
    // etcd checks access on the URL path after "/v2/keys" (empty for
    // "/v2/keys" itself), not on the cleaned key.
    let auth_key = go::path_unescape(req.uri().path())
        .and_then(|p| p.strip_prefix("/v2/keys").map(str::to_string))
        .unwrap_or_else(|| key.clone());
    let form = read_form(req).await?;
    // Parsed with the real method (etcd refuses wait=true on HEAD), then
    // HEAD is served as GET without a body.
    let p = KeyParams::parse(&form, &method)?;
    // As etcd: once the request parsed, before it is served.
    let sec = AuthStore::new(st.kv.clone());
    if !has_key_prefix_access(&sec, &http_method, &headers, &auth_key, p.recursive).await {
        return Err(concord_store::Error::new(
            concord_store::ErrorCode::Unauthorized,
            "Insufficient credentials",
            0,
        )
        .into());
    }
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
