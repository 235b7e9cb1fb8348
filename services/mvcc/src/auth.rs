//! etcd 3.4's v3 auth store (`auth/store.go`, `auth/range_perm_cache.go`)
//! as data: users, roles, key permissions, the enabled flag and the auth
//! revision, changed only by replicated [`AuthRequest`]s applied in log
//! order, and the permission checks made with them.
//!
//! Pure as the rest of the crate: passwords arrive already hashed (bcrypt,
//! by the member that proposes the change) and are checked by the member
//! that serves `Authenticate`, with [`AuthStore::password_hash`]; tokens and
//! their expiry belong to the member too. Rules and errors are etcd's,
//! recorded from etcd 3.4.23 with etcdctl (see the tests):
//! - the `root` user needs the `root` role for auth to be enabled (etcdctl
//!   adds the role and grants it when the server says it is missing);
//! - the `root` role may be granted before it is added, and holds every
//!   permission;
//! - while auth is enabled, neither `root` nor its `root` role can be
//!   deleted or revoked ("invalid auth management");
//! - granting a permission on a key range a role already has replaces its
//!   type; permissions stay sorted by key;
//! - a range is permitted when the union of the user's permitted ranges
//!   covers it, a single key when one of them holds it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The user and role every cluster with auth enabled has.
pub const ROOT: &str = "root";

/// etcd's `authpb.Permission.Type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PermType {
    #[default]
    Read,
    Write,
    ReadWrite,
}

impl PermType {
    /// From the protocol's number (`READ` 0, `WRITE` 1, `READWRITE` 2).
    pub fn from_code(code: i32) -> Option<PermType> {
        match code {
            0 => Some(PermType::Read),
            1 => Some(PermType::Write),
            2 => Some(PermType::ReadWrite),
            _ => None,
        }
    }

    /// The protocol's number.
    pub fn code(self) -> i32 {
        match self {
            PermType::Read => 0,
            PermType::Write => 1,
            PermType::ReadWrite => 2,
        }
    }

    fn allows(self, wanted: PermType) -> bool {
        self == PermType::ReadWrite || self == wanted
    }
}

/// One key permission of a role: a key, or `[key, range_end)` (a
/// `range_end` of `"\0"`: every key from `key` on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Permission {
    pub perm_type: PermType,
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
}

/// A user: its password's bcrypt hash (`None` for a user added with
/// `no_password`, which cannot authenticate) and its roles, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
}

/// A role and its key permissions, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// An `Auth` service request, replicated through the raft log as etcd
/// 3.4 replicates every one of them (its gets and lists too). A password is
/// the bcrypt hash of the client's once proposed: the member where the
/// request enters the cluster hashes it, so the log never holds it in
/// clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthRequest {
    Enable,
    Disable,
    UserAdd {
        name: String,
        /// `None`: added with `no_password`.
        password: Option<String>,
    },
    UserGet {
        name: String,
    },
    UserList,
    UserDelete {
        name: String,
    },
    UserChangePassword {
        name: String,
        password: String,
    },
    UserGrantRole {
        user: String,
        role: String,
    },
    UserRevokeRole {
        name: String,
        role: String,
    },
    RoleAdd {
        name: String,
    },
    RoleGet {
        role: String,
    },
    RoleList,
    RoleDelete {
        role: String,
    },
    RoleGrantPermission {
        name: String,
        permission: Permission,
    },
    RoleRevokePermission {
        role: String,
        key: Vec<u8>,
        range_end: Vec<u8>,
    },
    /// etcd's `InternalAuthenticateRequest`: the password was checked by
    /// the member the client asked; every member, applying it, gives the
    /// user the token made of `token_prefix` and the entry's raft index.
    Authenticate {
        name: String,
        token_prefix: String,
    },
}

/// What an [`AuthRequest`] answers besides its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthResponse {
    /// Changes answer nothing more.
    Done,
    /// `UserGet`: the user's roles.
    Roles(Vec<String>),
    /// `UserList`, `RoleList`: the names, sorted.
    Names(Vec<String>),
    /// `RoleGet`: the role's permissions.
    Permissions(Vec<Permission>),
    /// `Authenticate`: the token's prefix (the member applying it adds the
    /// raft index).
    Token(String),
}

/// The auth store of a keyspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthStore {
    enabled: bool,
    /// etcd's auth revision: moves with every change of users or roles.
    revision: u64,
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Role>,
}

impl Default for AuthStore {
    fn default() -> Self {
        AuthStore {
            enabled: false,
            revision: 1,
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
        }
    }
}

impl AuthStore {
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The auth revision (tokens and permission checks carry it).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Applies one request, in log order.
    pub fn apply(&mut self, request: &AuthRequest) -> Result<AuthResponse> {
        use AuthResponse::{Done, Names, Permissions, Roles};
        Ok(match request {
            AuthRequest::Enable => self.enable().map(|()| Done)?,
            AuthRequest::Disable => {
                self.enabled = false;
                Done
            }
            AuthRequest::UserAdd { name, password } => {
                self.user_add(name, password.clone()).map(|()| Done)?
            }
            AuthRequest::UserGet { name } => Roles(self.user(name)?.roles.clone()),
            AuthRequest::UserList => Names(self.user_names()),
            AuthRequest::UserDelete { name } => self.user_delete(name).map(|()| Done)?,
            AuthRequest::UserChangePassword { name, password } => {
                let user = self.users.get_mut(name).ok_or(Error::UserNotFound)?;
                user.password_hash = Some(password.clone());
                self.revision += 1;
                Done
            }
            AuthRequest::UserGrantRole { user, role } => {
                self.user_grant_role(user, role).map(|()| Done)?
            }
            AuthRequest::UserRevokeRole { name, role } => {
                self.user_revoke_role(name, role).map(|()| Done)?
            }
            AuthRequest::RoleAdd { name } => self.role_add(name).map(|()| Done)?,
            AuthRequest::RoleGet { role } => Permissions(self.role(role)?.permissions.clone()),
            AuthRequest::RoleList => Names(self.role_names()),
            AuthRequest::RoleDelete { role } => self.role_delete(role).map(|()| Done)?,
            AuthRequest::RoleGrantPermission { name, permission } => self
                .role_grant_permission(name, permission)
                .map(|()| Done)?,
            AuthRequest::RoleRevokePermission {
                role,
                key,
                range_end,
            } => self
                .role_revoke_permission(role, key, range_end)
                .map(|()| Done)?,
            AuthRequest::Authenticate { name, token_prefix } => {
                self.password_hash(name)?;
                AuthResponse::Token(token_prefix.clone())
            }
        })
    }

    fn enable(&mut self) -> Result<()> {
        if self.enabled {
            return Ok(());
        }
        let root = self.users.get(ROOT).ok_or(Error::RootUserNotExist)?;
        if !has_root_role(root) {
            return Err(Error::RootRoleNotExist);
        }
        self.enabled = true;
        Ok(())
    }

    fn user_add(&mut self, name: &str, password_hash: Option<String>) -> Result<()> {
        if name.is_empty() {
            return Err(Error::UserEmpty);
        }
        if self.users.contains_key(name) {
            return Err(Error::UserAlreadyExist);
        }
        self.users.insert(
            name.to_string(),
            User {
                name: name.to_string(),
                password_hash,
                roles: Vec::new(),
            },
        );
        self.revision += 1;
        Ok(())
    }

    fn user_delete(&mut self, name: &str) -> Result<()> {
        if self.enabled && name == ROOT {
            return Err(Error::InvalidAuthMgmt);
        }
        self.users.remove(name).ok_or(Error::UserNotFound)?;
        self.revision += 1;
        Ok(())
    }

    fn user_grant_role(&mut self, user: &str, role: &str) -> Result<()> {
        if !self.users.contains_key(user) {
            return Err(Error::UserNotFound);
        }
        if role != ROOT && !self.roles.contains_key(role) {
            return Err(Error::RoleNotFound);
        }
        let u = self.users.get_mut(user).expect("checked above");
        if let Err(at) = u.roles.binary_search_by(|r| r.as_str().cmp(role)) {
            u.roles.insert(at, role.to_string());
            self.revision += 1;
        }
        // Granted already: etcd ignores it and answers success.
        Ok(())
    }

    fn user_revoke_role(&mut self, name: &str, role: &str) -> Result<()> {
        if self.enabled && name == ROOT && role == ROOT {
            return Err(Error::InvalidAuthMgmt);
        }
        let user = self.users.get_mut(name).ok_or(Error::UserNotFound)?;
        let at = user
            .roles
            .binary_search_by(|r| r.as_str().cmp(role))
            .map_err(|_| Error::RoleNotGranted)?;
        user.roles.remove(at);
        self.revision += 1;
        Ok(())
    }

    fn role_add(&mut self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::RoleEmpty);
        }
        if self.roles.contains_key(name) {
            return Err(Error::RoleAlreadyExist);
        }
        self.roles.insert(
            name.to_string(),
            Role {
                name: name.to_string(),
                permissions: Vec::new(),
            },
        );
        self.revision += 1;
        Ok(())
    }

    fn role_delete(&mut self, role: &str) -> Result<()> {
        if self.enabled && role == ROOT {
            return Err(Error::InvalidAuthMgmt);
        }
        self.roles.remove(role).ok_or(Error::RoleNotFound)?;
        // The users that had it lose it.
        for user in self.users.values_mut() {
            user.roles.retain(|r| r != role);
        }
        self.revision += 1;
        Ok(())
    }

    fn role_grant_permission(&mut self, name: &str, permission: &Permission) -> Result<()> {
        let role = self.roles.get_mut(name).ok_or(Error::RoleNotFound)?;
        let perms = &mut role.permissions;
        let at = perms.partition_point(|p| p.key < permission.key);
        match perms.get_mut(at) {
            Some(p) if p.key == permission.key && p.range_end == permission.range_end => {
                p.perm_type = permission.perm_type;
            }
            _ => perms.insert(at, permission.clone()),
        }
        self.revision += 1;
        Ok(())
    }

    fn role_revoke_permission(&mut self, role: &str, key: &[u8], range_end: &[u8]) -> Result<()> {
        let r = self.roles.get_mut(role).ok_or(Error::RoleNotFound)?;
        let at = r
            .permissions
            .iter()
            .position(|p| p.key == key && p.range_end == range_end)
            .ok_or(Error::PermissionNotGranted)?;
        r.permissions.remove(at);
        self.revision += 1;
        Ok(())
    }

    /// `UserGet`.
    pub fn user(&self, name: &str) -> Result<&User> {
        self.users.get(name).ok_or(Error::UserNotFound)
    }

    /// `UserList`: the names, sorted.
    pub fn user_names(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    /// `RoleGet`.
    pub fn role(&self, name: &str) -> Result<&Role> {
        self.roles.get(name).ok_or(Error::RoleNotFound)
    }

    /// `RoleList`: the names, sorted.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.keys().cloned().collect()
    }

    /// The stored bcrypt hash of `name`'s password, for the member that
    /// checks an `Authenticate`: auth must be enabled and the user must
    /// exist and have a password, else etcd's "authentication failed".
    pub fn password_hash(&self, name: &str) -> Result<&str> {
        if !self.enabled {
            return Err(Error::AuthNotEnabled);
        }
        self.users
            .get(name)
            .and_then(|u| u.password_hash.as_deref())
            .ok_or(Error::AuthFailed)
    }

    /// etcd's `isOpPermitted`: may `user` read or write `[key, range_end)`
    /// (`range_end` empty: the key alone; `"\0"`: from `key` on)?
    pub fn check_permitted(
        &self,
        user: &str,
        key: &[u8],
        range_end: &[u8],
        wanted: PermType,
    ) -> Result<()> {
        let Some(u) = self.known_user(user)? else {
            return Ok(());
        };
        if has_root_role(u) {
            return Ok(());
        }
        let granted: Vec<Span> = u
            .roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .flat_map(|r| &r.permissions)
            .filter(|p| p.perm_type.allows(wanted))
            .map(|p| Span::of(&p.key, &p.range_end))
            .collect();
        if Span::of(key, range_end).covered_by(granted) {
            Ok(())
        } else {
            Err(Error::PermissionDenied)
        }
    }

    /// etcd's `IsAdminPermitted`: user and role management, auth disable,
    /// membership and the like need the root role.
    pub fn check_admin(&self, user: &str) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if user.is_empty() {
            return Err(Error::UserEmpty);
        }
        match self.users.get(user) {
            None => Err(Error::UserNotFound),
            Some(u) if !has_root_role(u) => Err(Error::PermissionDenied),
            Some(_) => Ok(()),
        }
    }

    /// etcd's `HasRole`: has `user` been granted `role`?
    pub fn has_role(&self, user: &str, role: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| u.roles.iter().any(|r| r == role))
    }

    /// `None` when auth is disabled (everything is permitted); else the
    /// user, who must be named and exist.
    fn known_user(&self, user: &str) -> Result<Option<&User>> {
        if !self.enabled {
            return Ok(None);
        }
        if user.is_empty() {
            return Err(Error::UserEmpty);
        }
        self.users
            .get(user)
            .map(Some)
            .ok_or(Error::PermissionDenied)
    }
}

fn has_root_role(user: &User) -> bool {
    user.roles.iter().any(|r| r == ROOT)
}

/// A key range as etcd's interval tree holds it: `[start, end)`, a single
/// key being `[key, key + "\0")`, `end == None` unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
}

impl Span {
    fn of(key: &[u8], range_end: &[u8]) -> Span {
        let end = match range_end {
            [] => {
                let mut next = key.to_vec();
                next.push(0);
                Some(next)
            }
            [0] => None,
            end => Some(end.to_vec()),
        };
        Span {
            start: key.to_vec(),
            end,
        }
    }

    /// Whether the union of `spans` covers this one.
    fn covered_by(&self, mut spans: Vec<Span>) -> bool {
        spans.sort_by(|a, b| a.start.cmp(&b.start));
        // Everything below `reached` (and from `self.start`) is covered.
        let mut reached = self.start.clone();
        for s in spans {
            if s.start > reached {
                break;
            }
            match s.end {
                None => return true,
                Some(end) if end > reached => reached = end,
                Some(_) => {}
            }
            if self.end.as_ref().is_some_and(|e| &reached >= e) {
                return true;
            }
        }
        self.end.as_ref().is_some_and(|e| &reached >= e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(t: PermType, key: &str, end: &str) -> Permission {
        Permission {
            perm_type: t,
            key: key.into(),
            range_end: end.into(),
        }
    }

    fn add_user(s: &mut AuthStore, name: &str) -> Result<()> {
        s.apply(&AuthRequest::UserAdd {
            name: name.into(),
            password: Some(format!("hash-of-{name}")),
        })
        .map(|_| ())
    }

    fn grant(s: &mut AuthStore, user: &str, role: &str) -> Result<()> {
        s.apply(&AuthRequest::UserGrantRole {
            user: user.into(),
            role: role.into(),
        })
        .map(|_| ())
    }

    /// The store of the etcd 3.4.23 session in the module doc: alice with
    /// role r1 (readwrite then write on `foo`, read on the prefix `pre/`,
    /// write from `z` on), root with the root role, auth enabled.
    fn recorded() -> AuthStore {
        let mut s = AuthStore::default();
        add_user(&mut s, "alice").unwrap();
        assert_eq!(add_user(&mut s, "alice"), Err(Error::UserAlreadyExist));
        s.apply(&AuthRequest::UserAdd {
            name: "bob".into(),
            password: None,
        })
        .unwrap();
        s.apply(&AuthRequest::RoleAdd { name: "r1".into() })
            .unwrap();
        assert_eq!(
            s.apply(&AuthRequest::RoleAdd { name: "r1".into() }),
            Err(Error::RoleAlreadyExist)
        );
        for p in [
            perm(PermType::ReadWrite, "foo", ""),
            perm(PermType::Read, "pre/", "pre0"),
            perm(PermType::Write, "z", "\0"),
            perm(PermType::Write, "foo", ""),
        ] {
            s.apply(&AuthRequest::RoleGrantPermission {
                name: "r1".into(),
                permission: p,
            })
            .unwrap();
        }
        grant(&mut s, "alice", "r1").unwrap();
        grant(&mut s, "alice", "r1").unwrap();
        assert_eq!(grant(&mut s, "alice", "nosuch"), Err(Error::RoleNotFound));
        grant(&mut s, "alice", "root").unwrap();
        let revoke = |s: &mut AuthStore| {
            s.apply(&AuthRequest::UserRevokeRole {
                name: "alice".into(),
                role: "root".into(),
            })
        };
        revoke(&mut s).unwrap();
        assert_eq!(revoke(&mut s), Err(Error::RoleNotGranted));
        assert_eq!(
            s.apply(&AuthRequest::RoleRevokePermission {
                role: "r1".into(),
                key: b"z".to_vec(),
                range_end: Vec::new(),
            }),
            Err(Error::PermissionNotGranted)
        );
        assert_eq!(s.apply(&AuthRequest::Enable), Err(Error::RootUserNotExist));
        add_user(&mut s, "root").unwrap();
        assert_eq!(s.apply(&AuthRequest::Enable), Err(Error::RootRoleNotExist));
        // What etcdctl's `auth enable` does on that answer.
        s.apply(&AuthRequest::RoleAdd {
            name: "root".into(),
        })
        .unwrap();
        grant(&mut s, "root", "root").unwrap();
        s.apply(&AuthRequest::Enable).unwrap();
        s
    }

    #[test]
    fn users_and_roles_as_etcd_keeps_them() {
        let s = recorded();
        assert_eq!(s.user_names(), ["alice", "bob", "root"]);
        assert_eq!(s.user("alice").unwrap().roles, ["r1"]);
        assert_eq!(s.user("carol"), Err(Error::UserNotFound));
        // Re-granting `foo` replaced its type; sorted by key.
        assert_eq!(
            s.role("r1").unwrap().permissions,
            [
                perm(PermType::Write, "foo", ""),
                perm(PermType::Read, "pre/", "pre0"),
                perm(PermType::Write, "z", "\0"),
            ]
        );
        assert_eq!(s.role_names(), ["r1", "root"]);
        assert_eq!(s.role("root").unwrap().permissions, []);
        assert_eq!(s.role("nosuch"), Err(Error::RoleNotFound));
        assert_eq!(s.password_hash("alice"), Ok("hash-of-alice"));
        assert_eq!(s.password_hash("bob"), Err(Error::AuthFailed));
        assert_eq!(s.password_hash("nobody"), Err(Error::AuthFailed));
        assert_eq!(
            AuthStore::default().password_hash("alice"),
            Err(Error::AuthNotEnabled)
        );
    }

    /// The checks of the etcd session: alice may put `foo` but not read
    /// it, read under `pre/` but not `p*`, write and delete `zz` but not
    /// read it, and manage nothing.
    #[test]
    fn permissions_as_etcd_checks_them() {
        let s = recorded();
        let check = |user: &str, key: &str, end: &str, t| {
            s.check_permitted(user, key.as_bytes(), end.as_bytes(), t)
        };
        assert_eq!(check("", "foo", "", PermType::Write), Err(Error::UserEmpty));
        assert_eq!(check("alice", "foo", "", PermType::Write), Ok(()));
        assert_eq!(
            check("alice", "foo", "", PermType::Read),
            Err(Error::PermissionDenied)
        );
        assert_eq!(
            check("alice", "pre/x", "", PermType::Write),
            Err(Error::PermissionDenied)
        );
        assert_eq!(check("alice", "pre/x", "", PermType::Read), Ok(()));
        assert_eq!(check("alice", "pre/", "pre0", PermType::Read), Ok(()));
        assert_eq!(
            check("alice", "p", "q", PermType::Read),
            Err(Error::PermissionDenied)
        );
        assert_eq!(check("alice", "zz", "", PermType::Write), Ok(()));
        assert_eq!(check("alice", "zz", "\0", PermType::Write), Ok(()));
        assert_eq!(
            check("alice", "zz", "", PermType::Read),
            Err(Error::PermissionDenied)
        );
        assert_eq!(check("root", "anything", "\0", PermType::Read), Ok(()));
        assert_eq!(
            check("mallory", "foo", "", PermType::Write),
            Err(Error::PermissionDenied)
        );
        assert_eq!(s.check_admin("alice"), Err(Error::PermissionDenied));
        assert_eq!(s.check_admin("root"), Ok(()));
        // Disabled: everything, by anyone.
        let mut off = s.clone();
        off.apply(&AuthRequest::Disable).unwrap();
        assert_eq!(off.check_admin(""), Ok(()));
        assert_eq!(off.check_permitted("", b"foo", b"", PermType::Read), Ok(()));
    }

    #[test]
    fn root_is_kept_while_enabled() {
        let mut s = recorded();
        let before = s.revision();
        for c in [
            AuthRequest::UserDelete {
                name: "root".into(),
            },
            AuthRequest::RoleDelete {
                role: "root".into(),
            },
            AuthRequest::UserRevokeRole {
                name: "root".into(),
                role: "root".into(),
            },
        ] {
            assert_eq!(s.apply(&c), Err(Error::InvalidAuthMgmt), "{c:?}");
        }
        assert_eq!(s.revision(), before);
        // Deleting a role takes it from its users.
        s.apply(&AuthRequest::RoleDelete { role: "r1".into() })
            .unwrap();
        assert_eq!(s.user("alice").unwrap().roles, Vec::<String>::new());
        assert_eq!(s.revision(), before + 1);
        s.apply(&AuthRequest::UserDelete {
            name: "alice".into(),
        })
        .unwrap();
        assert_eq!(
            s.apply(&AuthRequest::UserDelete {
                name: "alice".into()
            }),
            Err(Error::UserNotFound)
        );
        s.apply(&AuthRequest::Disable).unwrap();
        s.apply(&AuthRequest::UserDelete {
            name: "root".into(),
        })
        .unwrap();
    }

    #[test]
    fn empty_names_are_refused() {
        let mut s = AuthStore::default();
        assert_eq!(add_user(&mut s, ""), Err(Error::UserEmpty));
        assert_eq!(
            s.apply(&AuthRequest::RoleAdd {
                name: String::new()
            }),
            Err(Error::RoleEmpty)
        );
    }

    #[test]
    fn spans_cover_as_intervals_do() {
        let spans = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, e)| Span::of(k.as_bytes(), e.as_bytes()))
                .collect::<Vec<_>>()
        };
        // Two adjacent ranges cover their union, a gap breaks it.
        assert!(Span::of(b"a", b"c").covered_by(spans(&[("a", "b"), ("b", "c")])));
        assert!(!Span::of(b"a", b"c").covered_by(spans(&[("a", "b"), ("b\0", "c")])));
        // A single key covers itself and nothing more.
        assert!(Span::of(b"k", b"").covered_by(spans(&[("k", "")])));
        assert!(!Span::of(b"k", b"l").covered_by(spans(&[("k", "")])));
        // Unbounded on either side.
        assert!(Span::of(b"m", b"\0").covered_by(spans(&[("a", "\0")])));
        assert!(!Span::of(b"a", b"\0").covered_by(spans(&[("a", "z")])));
        assert!(!Span::of(b"a", b"b").covered_by(Vec::new()));
    }
}
