//! The writes as data: what consensus replicates and every member applies
//! in log order with [`Keyspace::apply`].

use serde::{Deserialize, Serialize};

use crate::alarm::{AlarmRequest, AlarmResponse};
use crate::auth::{AuthRequest, AuthResponse};
use crate::error::Result;
use crate::store::{Applied, Keyspace};
use crate::types::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseRevokeResponse, PutRequest,
    PutResponse, TxnRequest, TxnResponse,
};

/// One replicated write. Times are Unix nanoseconds stamped by the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compaction(CompactionRequest),
    LeaseGrant {
        request: LeaseGrantRequest,
        now: i64,
    },
    /// A client's revoke, or the leader's for an expired lease.
    LeaseRevoke {
        id: i64,
    },
    LeaseKeepAlive {
        id: i64,
        now: i64,
    },
    /// A new leader's refresh of every lease.
    LeasePromote {
        now: i64,
        extend_nanos: i64,
    },
    /// `Alarm`: list, raise or disarm (through the log, as in etcd).
    Alarm(AlarmRequest),
    /// An `Auth` service request (through the log, as in etcd 3.4).
    Auth(AuthRequest),
    /// A client's command with who sent it (etcd's request header
    /// `username` and `auth_revision`): checked against the user's
    /// permissions where it is applied, as etcd's `authApplierV3` does
    /// (`auth_check.rs`). The member's own commands are not wrapped.
    AsUser {
        user: String,
        auth_revision: u64,
        command: Box<Command>,
    },
}

/// What a [`Command`] answered (serde: a member relays the leader's answer
/// to a forwarded write, and remembers answers by request ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Put(Applied<PutResponse>),
    DeleteRange(Applied<DeleteRangeResponse>),
    Txn(Applied<TxnResponse>),
    Compaction(CompactionResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(Applied<LeaseRevokeResponse>),
    LeaseKeepAlive(LeaseKeepAliveResponse),
    LeasePromote,
    Alarm(AlarmResponse),
    Auth(AuthResponse),
}

impl Keyspace {
    /// Applies one replicated write.
    pub fn apply(&mut self, command: &Command) -> Result<Outcome> {
        self.check_space(command)?;
        Ok(match command {
            Command::Put(r) => Outcome::Put(self.put(r)?),
            Command::DeleteRange(r) => Outcome::DeleteRange(self.delete_range(r)?),
            Command::Txn(r) => Outcome::Txn(self.txn(r)?),
            Command::Compaction(r) => Outcome::Compaction(self.compact(r)?),
            Command::LeaseGrant { request, now } => {
                Outcome::LeaseGrant(self.lease_grant(request, *now)?)
            }
            Command::LeaseRevoke { id } => Outcome::LeaseRevoke(self.lease_revoke(*id)?),
            Command::LeaseKeepAlive { id, now } => {
                Outcome::LeaseKeepAlive(self.lease_keep_alive(*id, *now)?)
            }
            Command::LeasePromote { now, extend_nanos } => {
                self.lease_promote(*now, *extend_nanos);
                Outcome::LeasePromote
            }
            Command::Alarm(r) => Outcome::Alarm(self.alarm(r)),
            Command::Auth(r) => Outcome::Auth(self.auth.apply(r)?),
            Command::AsUser {
                user,
                auth_revision,
                command,
            } => return self.apply_as(user, *auth_revision, command),
        })
    }
}
