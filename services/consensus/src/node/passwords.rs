//! Passwords hashed where an auth request enters the cluster (etcd 3.4
//! hashes them with bcrypt, cost 10, before they are stored): the raft
//! log, snapshots and the other members only ever see the hash.

use concord_api::v3::mvcc::{AuthRequest, Command};
use concord_api::ApiError;

/// etcd's default `--bcrypt-cost`.
const BCRYPT_COST: u32 = 10;

/// `cmd` with any password in it replaced by its bcrypt hash.
pub(super) async fn hash_passwords(cmd: Command) -> Result<Command, ApiError> {
    Ok(match cmd {
        Command::Auth(AuthRequest::UserAdd {
            name,
            password: Some(password),
        }) => Command::Auth(AuthRequest::UserAdd {
            name,
            password: Some(hash(password).await?),
        }),
        Command::Auth(AuthRequest::UserChangePassword { name, password }) => {
            Command::Auth(AuthRequest::UserChangePassword {
                name,
                password: hash(password).await?,
            })
        }
        other => other,
    })
}

/// bcrypt takes tens of milliseconds of CPU: off the async threads.
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("cannot hash the password: {e}")))
}
