//! Who may do what once v2 auth is on (etcd's `hasRootAccess`,
//! `hasWriteRootAccess`, `hasKeyPrefixAccess`, `hasGuestAccess`): HTTP
//! Basic credentials checked against the stored bcrypt hash, then the
//! user's roles (the guest role's without credentials).

use axum::http::{HeaderMap, Method};
use base64::Engine;

use super::store::{check_password, AuthStore};
use super::types::{User, GUEST_ROLE, ROOT_ROLE};

/// Go's `Request.BasicAuth`: `None` when absent or malformed.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The user the credentials name, if the password is theirs.
async fn authenticated(sec: &AuthStore, headers: &HeaderMap) -> Option<User> {
    let (name, password) = basic_auth(headers)?;
    let user = sec.get_user(&name, false).await.ok()?;
    if !check_password(&user, password).await {
        tracing::warn!("auth: incorrect password for user: {name}.");
        return None;
    }
    Some(user)
}

/// etcd's `hasRootAccess`: anyone while auth is off, else a user holding
/// the root role.
pub async fn has_root_access(sec: &AuthStore, headers: &HeaderMap) -> bool {
    if !sec.enabled().await {
        return true;
    }
    authenticated(sec, headers)
        .await
        .is_some_and(|u| u.roles.unwrap_or_default().iter().any(|r| r == ROOT_ROLE))
}

/// etcd's `hasWriteRootAccess`: reads are open to all.
pub async fn has_write_root_access(sec: &AuthStore, method: &Method, headers: &HeaderMap) -> bool {
    *method == Method::GET || *method == Method::HEAD || has_root_access(sec, headers).await
}

/// etcd's `hasKeyPrefixAccess` for a `/v2/keys` request on `key` (the URL
/// path after `/v2/keys`, as etcd takes it: empty for `/v2/keys` itself).
pub async fn has_key_prefix_access(
    sec: &AuthStore,
    method: &Method,
    headers: &HeaderMap,
    key: &str,
    recursive: bool,
) -> bool {
    if !sec.enabled().await {
        return true;
    }
    let write = *method != Method::GET && *method != Method::HEAD;
    if !headers.contains_key("authorization") {
        // No credentials: the guest role's access, never recursive.
        return match sec.get_role(GUEST_ROLE, false).await {
            Ok(role) => role.has_key_access(key, write),
            Err(_) => false,
        };
    }
    let Some(user) = authenticated(sec, headers).await else {
        return false;
    };
    for name in user.roles.unwrap_or_default() {
        let Ok(role) = sec.get_role(&name, false).await else {
            continue;
        };
        let ok = if recursive {
            role.has_recursive_access(key, write)
        } else {
            role.has_key_access(key, write)
        };
        if ok {
            return true;
        }
    }
    tracing::warn!("auth: invalid access for user {} on key {key}.", user.user);
    false
}
