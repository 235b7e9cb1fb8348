//! etcd's v2 auth records (`v2auth.User`, `Role`, `Permissions`) as they
//! are stored and sent, with their merge rules (grant/revoke) and key
//! pattern matching.
//!
//! `Option<Vec<_>>` stands for a Go slice that may be nil: etcd writes a
//! nil slice as `null` and an empty one as `[]`, and compares the two as
//! different when deciding whether an update changed anything.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::error::AuthError;

pub const ROOT_ROLE: &str = "root";
pub const GUEST_ROLE: &str = "guest";
pub const ROOT_USER: &str = "root";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[serde(default)]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoke: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub permissions: Permissions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Permissions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<Permissions>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    #[serde(default)]
    pub kv: RwPermission,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RwPermission {
    #[serde(default)]
    pub read: Option<Vec<String>>,
    #[serde(default)]
    pub write: Option<Vec<String>>,
}

fn slice(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

/// A role with full access to every key (etcd's `rootRole`/`guestRole`).
pub fn full_access_role(name: &str) -> Role {
    Role {
        role: name.to_string(),
        permissions: Permissions {
            kv: RwPermission {
                read: Some(vec!["/*".into()]),
                write: Some(vec!["/*".into()]),
            },
        },
        grant: None,
        revoke: None,
    }
}

/// The root user always holds the root role, stored or not.
pub fn attach_root_role(mut u: User) -> User {
    let roles = u.roles.get_or_insert_with(Vec::new);
    if !roles.iter().any(|r| r == ROOT_ROLE) {
        roles.push(ROOT_ROLE.to_string());
    }
    u
}

impl User {
    /// etcd's `User.merge`: `new`'s grants and revokes applied to the
    /// roles; the password (already hashed by the caller) replaced when
    /// one was given.
    pub fn merge(&self, new: &User, new_hash: Option<String>) -> Result<User, AuthError> {
        if self.user != new.user {
            return Err(AuthError::auth(
                StatusCode::CONFLICT,
                format!(
                    "Merging user data with conflicting usernames: {} {}",
                    self.user, new.user
                ),
            ));
        }
        let mut roles: BTreeSet<String> = slice(&self.roles).iter().cloned().collect();
        for g in &new.grant {
            if !roles.insert(g.clone()) {
                return Err(AuthError::auth(
                    StatusCode::CONFLICT,
                    format!("Granting duplicate role {g} for user {}", new.user),
                ));
            }
        }
        for r in &new.revoke {
            if !roles.remove(r) {
                return Err(AuthError::auth(
                    StatusCode::CONFLICT,
                    format!("Revoking ungranted role {r} for user {}", new.user),
                ));
            }
        }
        Ok(User {
            user: self.user.clone(),
            password: new_hash.unwrap_or_else(|| self.password.clone()),
            roles: Some(roles.into_iter().collect()),
            grant: Vec::new(),
            revoke: Vec::new(),
        })
    }
}

impl Permissions {
    /// etcd's `Permissions.IsEmpty` (a missing set counts as empty).
    pub fn is_empty(p: &Option<Permissions>) -> bool {
        p.as_ref()
            .is_none_or(|p| slice(&p.kv.read).is_empty() && slice(&p.kv.write).is_empty())
    }
}

fn granted(
    current: &Option<Vec<String>>,
    add: &Option<Vec<String>>,
    what: &str,
) -> Result<Option<Vec<String>>, AuthError> {
    let mut set: BTreeSet<String> = slice(current).iter().cloned().collect();
    for p in slice(add) {
        if !set.insert(p.clone()) {
            return Err(AuthError::auth(
                StatusCode::CONFLICT,
                format!("Granting duplicate {what} permission {p}"),
            ));
        }
    }
    Ok(Some(set.into_iter().collect()))
}

fn revoked(current: &Option<Vec<String>>, remove: &Option<Vec<String>>) -> Option<Vec<String>> {
    let mut set: BTreeSet<String> = slice(current).iter().cloned().collect();
    // etcd only logs a revoke of what was never granted.
    for p in slice(remove) {
        set.remove(p);
    }
    Some(set.into_iter().collect())
}

impl Role {
    /// etcd's `Role.merge`: `new`'s grant, then its revoke.
    pub fn merge(&self, new: &Role) -> Result<Role, AuthError> {
        if self.role != new.role {
            return Err(AuthError::auth(
                StatusCode::CONFLICT,
                format!(
                    "Merging role with conflicting names: {} {}",
                    self.role, new.role
                ),
            ));
        }
        let mut kv = self.permissions.kv.clone();
        if let Some(g) = &new.grant {
            kv = RwPermission {
                read: granted(&kv.read, &g.kv.read, "read")?,
                write: granted(&kv.write, &g.kv.write, "write")?,
            };
        }
        if let Some(r) = &new.revoke {
            kv = RwPermission {
                read: revoked(&kv.read, &r.kv.read),
                write: revoked(&kv.write, &r.kv.write),
            };
        }
        Ok(Role {
            role: self.role.clone(),
            permissions: Permissions { kv },
            grant: None,
            revoke: None,
        })
    }

    /// etcd's `HasKeyAccess`: a pattern ending in `*` is a prefix, any
    /// other must equal the key.
    pub fn has_key_access(&self, key: &str, write: bool) -> bool {
        self.role == ROOT_ROLE
            || self
                .patterns(write)
                .iter()
                .any(|p| match p.strip_suffix('*') {
                    Some(prefix) => key.starts_with(prefix),
                    None => key == p,
                })
    }

    /// etcd's `HasRecursiveAccess`: only prefix patterns grant a
    /// recursive request.
    pub fn has_recursive_access(&self, key: &str, write: bool) -> bool {
        self.role == ROOT_ROLE
            || self.patterns(write).iter().any(|p| {
                p.strip_suffix('*')
                    .is_some_and(|prefix| key.starts_with(prefix))
            })
    }

    fn patterns(&self, write: bool) -> &[String] {
        let kv = &self.permissions.kv;
        slice(if write { &kv.write } else { &kv.read })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_etcd() {
        let mut r = full_access_role("r");
        r.permissions.kv.read = Some(vec!["/a/*".into(), "/b".into()]);
        assert!(r.has_key_access("/a/x", false));
        assert!(r.has_key_access("/b", false));
        assert!(!r.has_key_access("/b/c", false));
        assert!(!r.has_recursive_access("/b", false));
        assert!(r.has_recursive_access("/a/", false));
        assert!(r.has_key_access("/anything", true));
    }

    #[test]
    fn user_merge_refuses_duplicates_and_ungranted() {
        let u = User {
            user: "u".into(),
            roles: Some(vec!["a".into()]),
            ..Default::default()
        };
        let grant = User {
            user: "u".into(),
            grant: vec!["a".into()],
            ..Default::default()
        };
        assert!(u.merge(&grant, None).is_err());
        let revoke = User {
            user: "u".into(),
            revoke: vec!["b".into()],
            ..Default::default()
        };
        assert!(u.merge(&revoke, None).is_err());
    }
}
