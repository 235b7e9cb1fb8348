//! Who a v3 request comes from, on the member (etcd's `AuthInfoFromCtx`
//! and `Authenticate` in `v3_server.go`): the caller's token
//! ([`concord_api::caller`]) resolved to a user and the auth revision, a
//! client's write wrapped with them (checked where it is applied, on every
//! member: `mvcc::auth_check`), and the checks made where a request is
//! served.

use concord_api::caller;
use concord_api::v3::{mvcc, Access, V3Answer};

use super::*;
use crate::simple_tokens::SimpleTokens;

/// Who sent a request: its user ("" when no token came) and the auth
/// revision it was resolved at (0: none).
pub(super) struct AuthInfo {
    pub user: String,
    pub revision: u64,
}

impl Consensus {
    /// `--auth-token-ttl`.
    pub fn set_auth_token_ttl(&self, ttl: std::time::Duration) {
        self.shared.tokens.set_ttl(ttl);
    }

    /// The caller of the request being handled: `None` for the member's
    /// own requests; an unknown or expired token is refused.
    pub(super) async fn auth_info(&self) -> Result<Option<AuthInfo>, mvcc::Error> {
        let Some(c) = caller::current() else {
            return Ok(None);
        };
        let Some(token) = c.token else {
            return Ok(Some(AuthInfo {
                user: String::new(),
                revision: 0,
            }));
        };
        // A token given by an entry this member has not applied yet is
        // waited for (etcd's `isValidSimpleToken`).
        let index = SimpleTokens::index_of(&token).ok_or(mvcc::Error::InvalidAuthToken)?;
        if !self
            .shared
            .wait_applied(index, self.request_timeout())
            .await
        {
            return Err(mvcc::Error::InvalidAuthToken);
        }
        let user = self
            .shared
            .tokens
            .user_of(&token)
            .ok_or(mvcc::Error::InvalidAuthToken)?;
        let revision = self.shared.keyspace.read().auth().revision();
        Ok(Some(AuthInfo { user, revision }))
    }

    /// A client's write, carrying who sent it; the member's own as it is.
    pub(super) async fn as_caller(&self, cmd: mvcc::Command) -> Result<mvcc::Command, mvcc::Error> {
        Ok(match self.auth_info().await? {
            None => cmd,
            Some(info) => mvcc::Command::AsUser {
                user: info.user,
                auth_revision: info.revision,
                command: Box::new(cmd),
            },
        })
    }

    /// May the caller read `[key, range_end)` (checked where it is
    /// served, as etcd's `doSerialize`)?
    pub(super) async fn check_read(&self, key: &[u8], range_end: &[u8]) -> Result<(), mvcc::Error> {
        match self.auth_info().await? {
            None => Ok(()),
            Some(info) => {
                self.shared
                    .keyspace
                    .read()
                    .check_range(&info.user, info.revision, key, range_end)
            }
        }
    }

    pub(super) async fn check_access(&self, access: Access) -> Result<(), mvcc::Error> {
        match access {
            Access::Read { key, range_end } => self.check_read(&key, &range_end).await,
            Access::Admin => match self.auth_info().await? {
                None => Ok(()),
                Some(info) => self.shared.keyspace.read().check_admin(&info.user),
            },
        }
    }

    /// etcd's `Authenticate`: the password checked here (bcrypt, off the
    /// async threads), the token given through the log; checked again if
    /// the auth store changed meanwhile.
    pub(super) async fn authenticate_user(
        &self,
        name: String,
        password: String,
    ) -> Result<V3Answer<String>, ApiError> {
        self.linearizable_barrier(self.request_timeout()).await?;
        loop {
            let checked = {
                let ks = self.shared.keyspace.read();
                let auth = ks.auth();
                auth.password_hash(&name)
                    .map(|h| (h.to_string(), auth.revision()))
            };
            let (hash, checked_revision) = match checked {
                Ok(c) => c,
                Err(e) => return Ok(self.refused(e)),
            };
            let pw = password.clone();
            let matches =
                tokio::task::spawn_blocking(move || bcrypt::verify(pw, &hash).unwrap_or(false))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
            if !matches {
                tracing::warn!("invalid authentication was requested (user {name})");
                return Ok(self.refused(mvcc::Error::AuthFailed));
            }
            let cmd = mvcc::Command::Auth(mvcc::AuthRequest::Authenticate {
                name: name.clone(),
                token_prefix: SimpleTokens::prefix(),
            });
            let answer = self.write_once_unchecked(cmd, 0).await?;
            let token = match answer.result {
                Ok(mvcc::Outcome::Auth(mvcc::AuthResponse::Token(t))) => t,
                Ok(other) => {
                    return Err(ApiError::Internal(format!(
                        "authenticate answered {other:?}"
                    )))
                }
                Err(e) => return Ok(self.refused(e)),
            };
            if self.shared.keyspace.read().auth().revision() == checked_revision {
                return Ok(V3Answer {
                    header: answer.header,
                    result: Ok(token),
                });
            }
            tracing::info!("revision when password checked became stale; retrying");
        }
    }

    /// An answer refusing with `e`, at the current header.
    pub(super) fn refused<T>(&self, e: mvcc::Error) -> V3Answer<T> {
        V3Answer {
            header: concord_api::v3::KeyspaceV3::header(self),
            result: Err(e),
        }
    }
}
