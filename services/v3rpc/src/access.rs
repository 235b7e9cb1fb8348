//! The checks a service makes itself before serving a call that needs the
//! root role once auth is enabled (etcd's `authMaintenanceServer` and
//! `checkMembershipOperationPermission`); what reads and writes need is
//! checked by the keyspace.

use concord_api::v3::{Access, KeyspaceV3};
use tonic::Status;

use super::error::status;

/// Refuses the call unless its caller has the root role.
pub(crate) async fn require_admin(keyspace: &dyn KeyspaceV3) -> Result<(), Status> {
    keyspace
        .authorize(Access::Admin)
        .await
        .map_err(status)?
        .map_err(status)
}
