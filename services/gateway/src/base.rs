//! The small resources: `/v2/machines` (etcd's `machinesHandler`),
//! `/version` and `/health` (etcd's `etcdhttp` base handlers).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{go_http_error, GatewayError};
use crate::response::{allow, json_response, TEXT};
use crate::GatewayState;

pub use concord_api::{ETCD_CLUSTER_VERSION, ETCD_SERVER_VERSION};

pub(crate) async fn machines(st: GatewayState, req: Request) -> Response {
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

pub(crate) fn version(req: Request) -> Response {
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

pub(crate) async fn health(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    if !st.cluster.healthy().await {
        // etcd answers with `http.Error`.
        return go_http_error(StatusCode::SERVICE_UNAVAILABLE, "{\"health\":\"false\"}");
    }
    let mut r = Response::new(Body::from("{\"health\":\"true\"}"));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(TEXT));
    r
}
