//! What every handler answers with: etcd's content types, Go's 405 with
//! `Allow`, and the `X-Etcd-Cluster-Id` header.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use crate::error::method_not_allowed;
use crate::GatewayState;

pub(crate) const JSON: &str = "application/json";
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(JSON));
    r
}

pub(crate) fn allow(req: &Request, methods: &[&str]) -> Option<Response> {
    if methods.iter().any(|m| req.method().as_str() == *m) {
        None
    } else {
        Some(method_not_allowed(&methods.join(",")))
    }
}

pub(crate) fn with_cluster_id(mut r: Response, st: &GatewayState) -> Response {
    if let Ok(v) = HeaderValue::from_str(&st.cluster.cluster_id()) {
        r.headers_mut().insert("x-etcd-cluster-id", v);
    }
    r
}
