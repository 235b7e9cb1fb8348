//! The v2 auth store (etcd's `v2auth.store`): users, roles and the
//! `enabled` flag as JSON entries of the v2 store's internal `/2`
//! namespace, read and written through `Kv` (so through the raft log and
//! into the store's snapshots, on every member). Passwords are bcrypt-hashed
//! here, where the request enters, before any command is proposed.

use std::sync::Arc;

use axum::http::StatusCode;
use concord_api::{ApiError, Kv, ReadRequest};
use concord_store::internal::internal_key;
use concord_store::{Command, ErrorCode, Event};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::AuthError;
use super::types::{
    attach_root_role, full_access_role, Role, User, GUEST_ROLE, ROOT_ROLE, ROOT_USER,
};

/// etcd's `bcrypt.DefaultCost`.
const BCRYPT_COST: u32 = 10;

pub struct AuthStore {
    kv: Arc<dyn Kv>,
}

fn not_found(e: &ApiError) -> bool {
    matches!(e, ApiError::Store(s) if s.code == ErrorCode::KeyNotFound)
}

fn exists(e: &ApiError) -> bool {
    matches!(e, ApiError::Store(s) if s.code == ErrorCode::NodeExist)
}

fn decode<T: DeserializeOwned>(ev: &Event) -> Result<T, AuthError> {
    let v = ev.node.value.as_deref().unwrap_or_default();
    serde_json::from_str(v).map_err(|e| AuthError::Corrupt(format!("{}: {e}", ev.node.key)))
}

/// Hashes as etcd does (bcrypt, cost 10, Go's `$2a$` prefix), off the
/// async workers: one hash takes tens of milliseconds.
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        bcrypt::hash_with_result(password, BCRYPT_COST)
            .map(|h| h.format_for_version(bcrypt::Version::TwoA))
    })
    .await
    .map_err(|e| AuthError::Hash(e.to_string()))?
    .map_err(|e| AuthError::Hash(e.to_string()))
}

/// etcd's `CheckPassword`.
pub async fn check_password(user: &User, password: String) -> bool {
    let hash = user.password.clone();
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

impl AuthStore {
    pub fn new(kv: Arc<dyn Kv>) -> Self {
        AuthStore { kv }
    }

    async fn read(&self, path: &str, quorum: bool) -> Result<Event, ApiError> {
        let r = self
            .kv
            .read(ReadRequest {
                key: internal_key(path),
                recursive: false,
                sorted: true,
                quorum,
            })
            .await?;
        Ok(r.event)
    }

    /// etcd's `setResource`: a create (prevExist=false) or an update
    /// (prevExist=true) of `/2{res}` with `value` as JSON.
    async fn put<T: Serialize>(&self, res: &str, value: &T, update: bool) -> Result<(), ApiError> {
        let key = internal_key(&format!("/2{res}"));
        let value = serde_json::to_string(value).unwrap_or_default();
        let cmd = if update {
            Command::Update {
                key,
                value,
                ttl: None,
                refresh: false,
            }
        } else {
            Command::Create {
                key,
                dir: false,
                value,
                unique: false,
                ttl: None,
            }
        };
        self.kv.write(cmd).await.map(|_| ())
    }

    async fn delete(&self, res: &str) -> Result<(), ApiError> {
        let cmd = Command::Delete {
            key: internal_key(&format!("/2{res}")),
            dir: false,
            recursive: false,
        };
        self.kv.write(cmd).await.map(|_| ())
    }

    /// The last path component of each entry below `/2{dir}`, sorted.
    async fn names(&self, dir: &str) -> Result<Vec<String>, AuthError> {
        match self.read(&format!("/2{dir}"), false).await {
            Ok(ev) => {
                let mut names: Vec<String> = ev
                    .node
                    .nodes
                    .iter()
                    .map(|n| n.key.rsplit('/').next().unwrap_or_default().to_string())
                    .collect();
                names.sort();
                Ok(names)
            }
            Err(e) if not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// etcd's `AuthEnabled`: anything but a readable `true` is off.
    pub async fn enabled(&self) -> bool {
        match self.read("/2/enabled", false).await {
            Ok(ev) => decode::<bool>(&ev).unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn all_users(&self) -> Result<Vec<String>, AuthError> {
        self.names("/users").await
    }

    pub async fn all_roles(&self) -> Result<Vec<String>, AuthError> {
        let mut names = self.names("/roles").await?;
        names.push(ROOT_ROLE.to_string());
        names.sort();
        Ok(names)
    }

    pub async fn get_user(&self, name: &str, quorum: bool) -> Result<User, AuthError> {
        match self.read(&format!("/2/users/{name}"), quorum).await {
            Ok(ev) => {
                let u: User = decode(&ev)?;
                Ok(if u.user == ROOT_USER {
                    attach_root_role(u)
                } else {
                    u
                })
            }
            Err(e) if not_found(&e) => Err(AuthError::auth(
                StatusCode::NOT_FOUND,
                format!("User {name} does not exist."),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_role(&self, name: &str, quorum: bool) -> Result<Role, AuthError> {
        if name == ROOT_ROLE {
            return Ok(full_access_role(ROOT_ROLE));
        }
        match self.read(&format!("/2/roles/{name}"), quorum).await {
            Ok(ev) => decode(&ev),
            Err(e) if not_found(&e) => Err(AuthError::auth(
                StatusCode::NOT_FOUND,
                format!("Role {name} does not exist."),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// etcd's `CreateOrUpdateUser`: an update when the user exists.
    pub async fn create_or_update_user(&self, user: User) -> Result<(User, bool), AuthError> {
        if self.get_user(&user.user, true).await.is_ok() {
            return Ok((self.update_user(user).await?, false));
        }
        Ok((self.create_user(user).await?, true))
    }

    pub async fn create_user(&self, mut user: User) -> Result<User, AuthError> {
        if user.user == ROOT_USER {
            user = attach_root_role(user);
        }
        if user.password.is_empty() {
            return Err(AuthError::auth(
                StatusCode::BAD_REQUEST,
                format!("Cannot create user {} with an empty password", user.user),
            ));
        }
        user.password = hash_password(std::mem::take(&mut user.password)).await?;
        match self
            .put(&format!("/users/{}", user.user), &user, false)
            .await
        {
            Ok(()) => Ok(user),
            Err(e) if exists(&e) => Err(AuthError::auth(
                StatusCode::CONFLICT,
                format!("User {} already exists.", user.user),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_user(&self, user: User) -> Result<User, AuthError> {
        // A missing user fails here with getUser's "does not exist." (etcd
        // checks for the store's error afterwards, which never comes).
        let old = self.get_user(&user.user, true).await?;
        let hash = match user.password.is_empty() {
            true => None,
            false => Some(hash_password(user.password.clone()).await?),
        };
        let new = old.merge(&user, hash)?;
        if new == old {
            return Err(AuthError::auth(
                StatusCode::BAD_REQUEST,
                "User not updated. Use grant/revoke/password to update the user.",
            ));
        }
        self.put(&format!("/users/{}", user.user), &new, true)
            .await?;
        Ok(new)
    }

    pub async fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        if name == ROOT_USER && self.enabled().await {
            return Err(AuthError::auth(
                StatusCode::FORBIDDEN,
                "Cannot delete root user while auth is enabled.",
            ));
        }
        match self.delete(&format!("/users/{name}")).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Err(AuthError::auth(
                StatusCode::NOT_FOUND,
                format!("User {name} does not exist"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    fn root_role_refused(name: &str) -> AuthError {
        AuthError::auth(
            StatusCode::FORBIDDEN,
            format!("Cannot modify role {name}: is root role."),
        )
    }

    pub async fn create_role(&self, role: &Role) -> Result<(), AuthError> {
        if role.role == ROOT_ROLE {
            return Err(Self::root_role_refused(&role.role));
        }
        match self
            .put(&format!("/roles/{}", role.role), role, false)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if exists(&e) => Err(AuthError::auth(
                StatusCode::CONFLICT,
                format!("Role {} already exists.", role.role),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_role(&self, name: &str) -> Result<(), AuthError> {
        if name == ROOT_ROLE {
            return Err(Self::root_role_refused(name));
        }
        match self.delete(&format!("/roles/{name}")).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Err(AuthError::auth(
                StatusCode::NOT_FOUND,
                format!("Role {name} doesn't exist."),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_role(&self, role: &Role) -> Result<Role, AuthError> {
        if role.role == ROOT_ROLE {
            return Err(Self::root_role_refused(&role.role));
        }
        let old = self.get_role(&role.role, true).await?;
        let new = old.merge(role)?;
        if new == old {
            return Err(AuthError::auth(
                StatusCode::BAD_REQUEST,
                "Role not updated. Use grant/revoke to update the role.",
            ));
        }
        self.put(&format!("/roles/{}", role.role), &new, true)
            .await?;
        Ok(new)
    }

    /// etcd's `EnableAuth`: needs the root user; creates the guest role
    /// with full access when there is none.
    pub async fn enable(&self) -> Result<(), AuthError> {
        if self.enabled().await {
            return Err(AuthError::auth(StatusCode::CONFLICT, "already enabled"));
        }
        if self.get_user(ROOT_USER, true).await.is_err() {
            return Err(AuthError::auth(
                StatusCode::CONFLICT,
                "No root user available, please create one",
            ));
        }
        if self.get_role(GUEST_ROLE, true).await.is_err() {
            self.create_role(&full_access_role(GUEST_ROLE)).await?;
        }
        self.set_enabled(true).await
    }

    pub async fn disable(&self) -> Result<(), AuthError> {
        if !self.enabled().await {
            return Err(AuthError::auth(StatusCode::CONFLICT, "already disabled"));
        }
        self.set_enabled(false).await
    }

    async fn set_enabled(&self, on: bool) -> Result<(), AuthError> {
        let cmd = Command::Set {
            key: internal_key("/2/enabled"),
            dir: false,
            value: on.to_string(),
            ttl: None,
            refresh: false,
        };
        self.kv.write(cmd).await?;
        Ok(())
    }
}
