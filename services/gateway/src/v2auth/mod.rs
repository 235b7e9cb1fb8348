//! etcd 3.4's v2 auth: `/v2/auth/*` and the permission checks on
//! `/v2/keys`. `types.rs` holds etcd's records and their merge rules,
//! `store.rs` keeps them in the v2 store's internal `/2` namespace through
//! `Kv` (so through the raft log), `access.rs` decides who may do what,
//! `handlers.rs` serves the endpoints, and `error.rs` turns every failure
//! into etcd's answer once.

mod access;
mod error;
mod handlers;
mod store;
mod types;

pub(crate) use access::{has_key_prefix_access, has_write_root_access};
pub(crate) use handlers::{read_body, route};
pub(crate) use store::AuthStore;

/// etcd's `writeNoAuth`: 401 `{"message":"Insufficient credentials"}`.
pub(crate) fn no_credentials() -> axum::response::Response {
    error::AuthError::NoCredentials.into_response()
}
