//! # concord-gateway: the etcd v2 REST API
//!
//! A stateless HTTP face over the service contracts: it parses requests
//! exactly as etcd 3.4's `v2http` does, turns them into store commands,
//! reads or watches, and answers with etcd's JSON, headers and statuses. It
//! holds no keys, so any number of gateways can run.
//!
//! - `lib.rs`: routing (Go `ServeMux` behaviour: clean-path redirects, 404s,
//!   405 with `Allow`) and etcd's CORS wrapper, then one file per resource
//!   as etcd's `v2http` keeps them apart: [`keys`] (`/v2/keys`, long-poll
//!   and streaming watches), [`members`] (`/v2/members`), [`stats`]
//!   (`/v2/stats/*`), [`base`] (`/v2/machines`, `/version`, `/health`) and
//!   `v2auth` (`/v2/auth/*` and the permission checks on `/v2/keys`);
//! - `response.rs`: the content types, `Allow` and cluster ID headers every
//!   handler answers with;
//! - [`params`]: the form and `/v2/keys` parameter parsing;
//! - [`error`]: the one place where errors become etcd's JSON;
//! - [`stats`]: etcd's presentation of a member's raft statistics;
//! - the gateway process around the router: [`read_replica`] (its copy of
//!   the store for plain GETs), [`keyspace_replica`] (its copy of the v3
//!   keyspace for serializable ranges), [`registry_follower`] (its members and watch
//!   replicas taken from the member registry), and the `concord-gateway`
//!   binary (`main.rs`).
//! - [`advertise`]: the client URLs a gateway reports for the members.
//! - [`grpc_or_http`]: the v2 router and the v3 gRPC services (crate
//!   `concord-v3rpc`) on one listener, dispatched by content type.

// Handlers return a ready `Response` as their error: it is built once and
// sent at once, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod advertise;
pub mod base;
pub mod error;
mod grpc_or_http;
pub mod keys;
pub mod keyspace_replica;
pub mod members;
pub mod params;
pub mod read_replica;
pub mod registry_follower;
mod response;
pub mod stats;
mod v2auth;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use concord_api::{Cluster, Kv, RaftStats, Watch};
use concord_store::go;

pub use base::{ETCD_CLUSTER_VERSION, ETCD_SERVER_VERSION};
pub use keys::MAX_FORM_BYTES;

use crate::error::not_found;
pub use crate::grpc_or_http::grpc_or_http;

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
    for (name, value) in CORS_HEADERS {
        r.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    r
}

/// etcd's CORS headers (its `cors.go` with no `--cors` list: any origin),
/// in one copy: the v2 API sets them on every answer, and the v2 proxy adds
/// them again on top of the member's.
pub const CORS_HEADERS: [(&str, &str); 3] = [
    (
        "access-control-allow-headers",
        "accept, content-type, authorization",
    ),
    (
        "access-control-allow-methods",
        "POST, GET, OPTIONS, PUT, DELETE",
    ),
    ("access-control-allow-origin", "*"),
];

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
        "/v2/keys" => keys::keys(st, req, "/".to_string()).await,
        p if p.starts_with("/v2/keys/") => {
            let key = p["/v2/keys".len()..].to_string();
            keys::keys(st, req, key).await
        }
        "/v2/members" => members::members(st, req, "").await,
        p if p.starts_with("/v2/members/") => {
            let rest = p["/v2/members/".len()..].to_string();
            members::members(st, req, &rest).await
        }
        "/v2/machines" => base::machines(st, req).await,
        "/v2/stats/self" => stats::stats_self(st, req).await,
        "/v2/stats/store" => stats::stats_store(st, req).await,
        "/v2/stats/leader" => stats::stats_leader(st, req).await,
        p if p.starts_with("/v2/auth/") || p == "/v2/auth" => v2auth::route(st, req, p).await,
        "/version" => base::version(req),
        "/health" => base::health(st, req).await,
        _ => not_found(),
    }
}
