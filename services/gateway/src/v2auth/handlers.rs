//! `/v2/auth/*` (etcd's `v2http/client_auth.go`): `enable`, `users`,
//! `users/NAME`, `roles`, `roles/NAME`, each checked for root access first,
//! answered with etcd's JSON and statuses.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::access::{has_root_access, has_write_root_access};
use super::error::AuthError;
use super::store::AuthStore;
use super::types::{Permissions, Role, User};
use crate::error::not_found;
use crate::keys::MAX_FORM_BYTES;
use crate::response::{allow, json_response, with_cluster_id};
use crate::GatewayState;

/// Serves `path` if it is one of etcd's auth paths (`/v2/auth/...`).
pub(crate) async fn route(st: GatewayState, req: Request, path: &str) -> Response {
    let Some(sub) = path.strip_prefix("/v2/auth") else {
        return not_found();
    };
    let req = read_body(req).await;
    match sub {
        "/enable" => enable_disable(st, req).await,
        "/users" => base_users(st, req).await,
        "/roles" => base_roles(st, req).await,
        s if s.starts_with("/users/") || s.starts_with("/roles/") => {
            // etcd splits the cleaned sub-path: "/users" lists, "/users/NAME"
            // is one, anything deeper is refused.
            let pieces: Vec<&str> = s.trim_end_matches('/').split('/').collect();
            match (pieces[1], pieces.len()) {
                ("users", 2) => base_users(st, req).await,
                ("roles", 2) => base_roles(st, req).await,
                ("users", 3) => for_user(st, req, pieces[2].to_string()).await,
                ("roles", 3) => for_role(st, req, pieces[2].to_string()).await,
                _ => AuthError::request("Invalid path").into_response(),
            }
        }
        _ => not_found(),
    }
}

/// The request with its body read off the connection first: answering
/// (a refusal, say) with a body still unread makes the kernel reset the
/// connection, and the client may lose the answer.
pub(crate) async fn read_body(req: Request) -> Request {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .unwrap_or_default();
    Request::from_parts(parts, Body::from(bytes))
}

/// The body etcd's `json.Encoder` writes: the value and a newline.
fn encoded<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let mut b = serde_json::to_vec(value).unwrap_or_default();
    b.push(b'\n');
    json_response(status, b)
}

/// The first JSON value of the body, as Go's `json.Decoder` reads it.
async fn decode_body<T: DeserializeOwned>(body: Body) -> Result<T, AuthError> {
    let invalid = || AuthError::request("Invalid JSON in request body.");
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| invalid())?;
    serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<T>()
        .next()
        .ok_or_else(invalid)?
        .map_err(|_| invalid())
}

/// Runs `f` once the caller passed `check`; the answer carries the cluster
/// ID as etcd sets it after the check.
async fn answered<F>(st: &GatewayState, allowed: bool, f: F) -> Response
where
    F: std::future::Future<Output = Result<Response, AuthError>>,
{
    if !allowed {
        return AuthError::NoCredentials.into_response();
    }
    let r = f.await.unwrap_or_else(AuthError::into_response);
    with_cluster_id(r, st)
}

async fn enable_disable(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET", "PUT", "DELETE"]) {
        return r;
    }
    let sec = AuthStore::new(st.kv.clone());
    let method = req.method().clone();
    let ok = has_write_root_access(&sec, &method, req.headers()).await;
    answered(&st, ok, async {
        match method {
            Method::PUT => sec.enable().await?,
            Method::DELETE => sec.disable().await?,
            _ => {
                #[derive(Serialize)]
                struct Enabled {
                    enabled: bool,
                }
                let enabled = sec.enabled().await;
                return Ok(encoded(StatusCode::OK, &Enabled { enabled }));
            }
        }
        Ok(json_response(StatusCode::OK, Vec::new()))
    })
    .await
}

/// A user as etcd lists it: the name and its roles in full.
#[derive(Serialize)]
struct UserWithRoles {
    user: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<Role>,
}

async fn base_users(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    let sec = AuthStore::new(st.kv.clone());
    let ok = has_root_access(&sec, req.headers()).await;
    answered(&st, ok, async {
        let mut users = Vec::new();
        for name in sec.all_users().await? {
            let u = sec.get_user(&name, false).await?;
            let mut roles = Vec::new();
            for r in u.roles.unwrap_or_default() {
                // A role deleted since it was granted is left out.
                if let Ok(role) = sec.get_role(&r, false).await {
                    roles.push(role);
                }
            }
            users.push(UserWithRoles {
                user: u.user,
                roles,
            });
        }
        #[derive(Serialize)]
        struct Users {
            users: Option<Vec<UserWithRoles>>,
        }
        let users = (!users.is_empty()).then_some(users);
        Ok(encoded(StatusCode::OK, &Users { users }))
    })
    .await
}

async fn for_user(st: GatewayState, req: Request, name: String) -> Response {
    if let Some(r) = allow(&req, &["GET", "PUT", "DELETE"]) {
        return r;
    }
    let sec = AuthStore::new(st.kv.clone());
    let ok = has_root_access(&sec, req.headers()).await;
    let method = req.method().clone();
    let body = req.into_body();
    answered(&st, ok, async {
        match method {
            Method::GET => {
                let u = sec.get_user(&name, false).await?;
                let mut roles = Vec::new();
                for r in u.roles.unwrap_or_default() {
                    roles.push(sec.get_role(&r, false).await?);
                }
                Ok(encoded(
                    StatusCode::OK,
                    &UserWithRoles {
                        user: u.user,
                        roles,
                    },
                ))
            }
            Method::PUT => {
                let u: User = decode_body(body).await?;
                if u.user != name {
                    return Err(AuthError::request(
                        "User JSON name does not match the name in the URL",
                    ));
                }
                let has_roles = u.roles.as_ref().is_some_and(|r| !r.is_empty());
                let (mut out, created) = if u.grant.is_empty() && u.revoke.is_empty() {
                    if has_roles {
                        (sec.create_user(u).await?, false)
                    } else {
                        // Only a password: a create or an update, whichever
                        // applies.
                        sec.create_or_update_user(u).await?
                    }
                } else {
                    if has_roles {
                        return Err(AuthError::request(
                            "User JSON contains both roles and grant/revoke",
                        ));
                    }
                    (sec.update_user(u).await?, false)
                };
                out.password.clear();
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(encoded(status, &out))
            }
            _ => {
                sec.delete_user(&name).await?;
                Ok(json_response(StatusCode::OK, Vec::new()))
            }
        }
    })
    .await
}

async fn base_roles(st: GatewayState, req: Request) -> Response {
    if let Some(r) = allow(&req, &["GET"]) {
        return r;
    }
    let sec = AuthStore::new(st.kv.clone());
    let ok = has_root_access(&sec, req.headers()).await;
    answered(&st, ok, async {
        let mut roles = Vec::new();
        for name in sec.all_roles().await? {
            roles.push(sec.get_role(&name, false).await?);
        }
        #[derive(Serialize)]
        struct Roles {
            roles: Vec<Role>,
        }
        Ok(encoded(StatusCode::OK, &Roles { roles }))
    })
    .await
}

async fn for_role(st: GatewayState, req: Request, name: String) -> Response {
    if let Some(r) = allow(&req, &["GET", "PUT", "DELETE"]) {
        return r;
    }
    let sec = AuthStore::new(st.kv.clone());
    let ok = has_root_access(&sec, req.headers()).await;
    let method = req.method().clone();
    let body = req.into_body();
    answered(&st, ok, async {
        match method {
            Method::GET => Ok(encoded(StatusCode::OK, &sec.get_role(&name, false).await?)),
            Method::PUT => {
                let r: Role = decode_body(body).await?;
                if r.role != name {
                    return Err(AuthError::request(
                        "Role JSON name does not match the name in the URL",
                    ));
                }
                if Permissions::is_empty(&r.grant) && Permissions::is_empty(&r.revoke) {
                    sec.create_role(&r).await?;
                    // etcd answers with the role as it was sent.
                    return Ok(encoded(StatusCode::CREATED, &r));
                }
                if !Permissions::is_empty(&Some(r.permissions.clone())) {
                    return Err(AuthError::request(
                        "Role JSON contains both permissions and grant/revoke",
                    ));
                }
                Ok(encoded(StatusCode::OK, &sec.update_role(&r).await?))
            }
            _ => {
                sec.delete_role(&name).await?;
                Ok(json_response(StatusCode::OK, Vec::new()))
            }
        }
    })
    .await
}
