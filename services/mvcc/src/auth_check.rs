//! etcd 3.4's `authApplierV3` (`etcdserver/apply_auth.go`): a client's
//! command ([`Command::AsUser`]) is checked against its user's permissions
//! where it is applied, on every member alike, so that a permission revoked
//! while the command was in flight is seen (its auth revision is then
//! older than the store's: "revision of auth store is old", and the client
//! authenticates again).
//!
//! Reads are checked where they are served, with [`Keyspace::check_range`].
//! Unlike etcd 3.4, a transaction nested in a transaction is checked too.

use crate::auth::{AuthRequest, PermType};
use crate::command::{Command, Outcome};
use crate::error::{Error, Result};
use crate::request_op::Request;
use crate::store::Keyspace;
use crate::{RequestOp, TxnRequest};

impl Keyspace {
    /// Applies `user`'s command, checked first when auth is enabled.
    pub fn apply_as(
        &mut self,
        user: &str,
        auth_revision: u64,
        command: &Command,
    ) -> Result<Outcome> {
        if self.auth.is_enabled() {
            Checker {
                ks: self,
                user,
                auth_revision,
            }
            .command(command)?;
        }
        self.apply(command)
    }

    /// etcd's `IsRangePermitted`: may `user` (who authenticated at
    /// `auth_revision`; 0 and an empty name: nobody did) read
    /// `[key, range_end)`?
    pub fn check_range(
        &self,
        user: &str,
        auth_revision: u64,
        key: &[u8],
        range_end: &[u8],
    ) -> Result<()> {
        Checker {
            ks: self,
            user,
            auth_revision,
        }
        .op(key, range_end, PermType::Read)
    }

    /// etcd's `IsAdminPermitted`: user and role management, auth disable,
    /// membership changes, snapshots and hashes need the root role.
    pub fn check_admin(&self, user: &str) -> Result<()> {
        self.auth.check_admin(user)
    }
}

/// One command's checks, for one user.
struct Checker<'a> {
    ks: &'a Keyspace,
    user: &'a str,
    auth_revision: u64,
}

impl Checker<'_> {
    fn command(&self, command: &Command) -> Result<()> {
        match command {
            Command::Put(r) => {
                self.op(&r.key, &[], PermType::Write)?;
                self.lease_puts(r.lease)?;
                if r.prev_kv {
                    self.op(&r.key, &[], PermType::Read)?;
                }
                Ok(())
            }
            Command::DeleteRange(r) => {
                self.op(&r.key, &r.range_end, PermType::Write)?;
                if r.prev_kv {
                    self.op(&r.key, &r.range_end, PermType::Read)?;
                }
                Ok(())
            }
            Command::Txn(t) => self.txn(t),
            Command::LeaseRevoke { id } => self.lease_puts(*id),
            Command::Auth(r) => self.auth(r),
            Command::AsUser { command, .. } => self.command(command),
            // etcd 3.4 checks nothing for compaction, lease grants and
            // keep-alives, and alarms.
            Command::Compaction(_)
            | Command::LeaseGrant { .. }
            | Command::LeaseKeepAlive { .. }
            | Command::LeasePromote { .. }
            | Command::Alarm(_) => Ok(()),
        }
    }

    /// etcd's `needAdminPermission`, and the two reads a user may make of
    /// itself: its own user and the roles it has.
    fn auth(&self, r: &AuthRequest) -> Result<()> {
        let admin = || self.ks.auth.check_admin(self.user);
        match r {
            AuthRequest::UserGet { name } => match admin() {
                Err(e) if *name != self.user => Err(e),
                _ => Ok(()),
            },
            AuthRequest::RoleGet { role } => match admin() {
                Err(e) if !self.ks.auth.has_role(self.user, role) => Err(e),
                _ => Ok(()),
            },
            AuthRequest::Authenticate { .. } => Ok(()),
            _ => admin(),
        }
    }

    fn txn(&self, t: &TxnRequest) -> Result<()> {
        for c in &t.compare {
            self.op(&c.key, &c.range_end, PermType::Read)?;
        }
        self.ops(&t.success)?;
        self.ops(&t.failure)
    }

    fn ops(&self, ops: &[RequestOp]) -> Result<()> {
        for op in ops {
            match &op.request {
                Some(Request::RequestRange(r)) => self.op(&r.key, &r.range_end, PermType::Read)?,
                Some(Request::RequestPut(r)) => self.op(&r.key, &[], PermType::Write)?,
                Some(Request::RequestDeleteRange(r)) => {
                    if r.prev_kv {
                        self.op(&r.key, &r.range_end, PermType::Read)?;
                    }
                    self.op(&r.key, &r.range_end, PermType::Write)?;
                }
                Some(Request::RequestTxn(t)) => self.txn(t)?,
                None => {}
            }
        }
        Ok(())
    }

    /// etcd's `checkLeasePuts`: whoever attaches a key to a lease, or
    /// revokes it, must be allowed to write every key on it (the root
    /// role is).
    fn lease_puts(&self, lease: i64) -> Result<()> {
        let Some(l) = self.ks.leases.get(lease) else {
            return Ok(());
        };
        if self.ks.auth.check_admin(self.user).is_ok() {
            return Ok(());
        }
        l.keys
            .iter()
            .try_for_each(|k| self.op(k, &[], PermType::Write))
    }

    /// etcd's `isOpPermitted`.
    fn op(&self, key: &[u8], range_end: &[u8], wanted: PermType) -> Result<()> {
        let auth = &self.ks.auth;
        if !auth.is_enabled() {
            return Ok(());
        }
        if self.auth_revision == 0 {
            return Err(Error::UserEmpty);
        }
        if self.auth_revision < auth.revision() {
            return Err(Error::AuthOldRevision);
        }
        auth.check_permitted(self.user, key, range_end, wanted)
    }
}
