//! Everything a v2 auth request can fail with, and the one place those
//! failures become etcd's answers (`v2http`'s `writeError`/`writeNoAuth`).

use axum::http::StatusCode;
use axum::response::Response;
use concord_api::ApiError;

use crate::error::{http_error, v2_error, GatewayError};

/// A v2 auth failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// etcd's `v2auth.Error` (`authErr`): the message carries etcd's
    /// `auth: ` prefix.
    #[error("auth: {message}")]
    Auth { status: StatusCode, message: String },
    /// A request etcd's handler refuses itself (`httptypes.HTTPError`).
    #[error("{message}")]
    Request { status: StatusCode, message: String },
    /// No or wrong credentials (etcd's `writeNoAuth`).
    #[error("Insufficient credentials")]
    NoCredentials,
    /// An entry in the internal namespace does not read as etcd's JSON.
    #[error("internal auth data: {0}")]
    Corrupt(String),
    /// Hashing a password failed.
    #[error("hashing a password: {0}")]
    Hash(String),
    /// The store or consensus refused or failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl AuthError {
    pub(crate) fn auth(status: StatusCode, message: impl Into<String>) -> Self {
        AuthError::Auth {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn request(message: impl Into<String>) -> Self {
        AuthError::Request {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// etcd's answer: `{"message": ...}` for its own errors, the v2 error
    /// JSON for a store error, 500 for the rest.
    pub(crate) fn into_response(self) -> Response {
        match self {
            AuthError::Auth { status, message } => http_error(status, &format!("auth: {message}")),
            AuthError::Request { status, message } => http_error(status, &message),
            AuthError::NoCredentials => {
                http_error(StatusCode::UNAUTHORIZED, "Insufficient credentials")
            }
            AuthError::Api(e) => v2_error(GatewayError::Api(e)),
            e @ (AuthError::Corrupt(_) | AuthError::Hash(_)) => {
                tracing::warn!("v2 auth: {e}");
                http_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}
