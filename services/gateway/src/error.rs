//! The one place where errors become etcd's answers: the v2 error JSON
//! (`{"errorCode","message","cause","index"}` + newline, with
//! `X-Etcd-Index`), the members API's `{"message"}` and Go's plain-text 404
//! and 405.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use concord_api::ApiError;
use concord_store::{Error, ErrorCode};

/// Everything a keys request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Api(ApiError),
}

impl GatewayError {
    /// errorCode 210 (Invalid POST form) with Go's parse error as cause.
    pub fn form(cause: impl Into<String>) -> Self {
        GatewayError::Api(ApiError::Store(Error::new(
            ErrorCode::InvalidForm,
            cause,
            0,
        )))
    }
}

/// Renders a keys error as etcd does.
pub fn v2_error(e: GatewayError) -> Response {
    let GatewayError::Api(api) = e;
    let err = match api {
        ApiError::Store(e) => e,
        ApiError::NoLeader(m) => Error::new(ErrorCode::RaftInternal, m, 0),
        ApiError::Internal(m) => Error::new(ErrorCode::RaftInternal, m, 0),
        ApiError::Stopping => Error::new(ErrorCode::RaftInternal, "etcdserver: server stopped", 0),
    };
    // A struct, not `json!`, to keep etcd's field order.
    #[derive(serde::Serialize)]
    struct V2ErrorBody<'a> {
        #[serde(rename = "errorCode")]
        error_code: u32,
        message: &'a str,
        cause: &'a str,
        index: u64,
    }
    let body = V2ErrorBody {
        error_code: err.code.code(),
        message: err.code.message(),
        cause: &err.cause,
        index: err.index,
    };
    let mut b = serde_json::to_vec(&body).unwrap_or_default();
    b.push(b'\n');
    let mut r = Response::new(Body::from(b));
    *r.status_mut() =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert("x-etcd-index", HeaderValue::from(err.index));
    r
}

/// The members API's errors: `{"message":"..."}`.
pub fn http_error(status: StatusCode, message: &str) -> Response {
    #[derive(serde::Serialize)]
    struct MessageBody<'a> {
        message: &'a str,
    }
    let b = serde_json::to_vec(&MessageBody { message }).unwrap_or_default();
    let mut r = Response::new(Body::from(b));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// Go's `http.Error`: the text and a newline, as plain text not to be
/// sniffed.
pub fn go_http_error(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Go's `http.Error(w, "Method Not Allowed", 405)` with the `Allow` header.
pub fn method_not_allowed(allow: &str) -> Response {
    let mut r = go_http_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    if let Ok(v) = HeaderValue::from_str(allow) {
        r.headers_mut().insert("allow", v);
    }
    r
}

/// Go's `http.NotFound`.
pub fn not_found() -> Response {
    go_http_error(StatusCode::NOT_FOUND, "404 page not found")
}

/// An approximation of Go's `encoding/json` syntax error text for the
/// common cases (the first unexpected character).
pub fn go_json_error(e: &serde_json::Error, input: &[u8]) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    if e.is_syntax() {
        // Find the byte serde stopped at.
        let line_start: usize = input
            .split(|b| *b == b'\n')
            .take(e.line().saturating_sub(1))
            .map(|l| l.len() + 1)
            .sum();
        let pos = line_start + e.column().saturating_sub(1);
        if let Some(c) = input.get(pos) {
            let ctx = if input[..pos].iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
            {
                "looking for beginning of object key string"
            } else {
                "looking for beginning of value"
            };
            return format!("invalid character '{}' {ctx}", *c as char);
        }
    }
    format!("json: {e}")
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
