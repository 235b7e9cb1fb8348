//! etcd's `Auth` service as etcd 3.4 answers it with authentication
//! disabled and no user or role ever added (v3rpc's `auth.go` over
//! `auth/store.go`): `Authenticate` is refused as not enabled, enabling
//! needs a root user that does not exist, disabling succeeds, lists are
//! empty and every user or role named is not found. Adding a user or a role
//! (which etcd would store) waits for the security issue and is answered
//! as unimplemented, so the store stays empty and the rest stays true.

use std::sync::Arc;

use concord_api::v3::KeyspaceV3;
use concord_rpc::etcd::etcdserverpb as pb;
use tonic::{Request, Response, Status};

use super::error::{status, V3Error};
use super::header::header;

/// The `Auth` service of a cluster with authentication disabled.
pub struct AuthService {
    keyspace: Arc<dyn KeyspaceV3>,
}

impl AuthService {
    pub fn new(keyspace: Arc<dyn KeyspaceV3>) -> Self {
        AuthService { keyspace }
    }

    fn header(&self) -> Option<pb::ResponseHeader> {
        Some(header(self.keyspace.header()))
    }
}

const NOT_YET: &str = "concord: users and roles come with the security issue";

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::auth_server::Auth for AuthService {
    async fn auth_enable(
        &self,
        _r: Request<pb::AuthEnableRequest>,
    ) -> Answer<pb::AuthEnableResponse> {
        Err(status(V3Error::RootUserNotExist))
    }

    async fn auth_disable(
        &self,
        _r: Request<pb::AuthDisableRequest>,
    ) -> Answer<pb::AuthDisableResponse> {
        Ok(Response::new(pb::AuthDisableResponse {
            header: self.header(),
        }))
    }

    async fn authenticate(
        &self,
        _r: Request<pb::AuthenticateRequest>,
    ) -> Answer<pb::AuthenticateResponse> {
        Err(status(V3Error::AuthNotEnabled))
    }

    async fn user_add(
        &self,
        r: Request<pb::AuthUserAddRequest>,
    ) -> Answer<pb::AuthUserAddResponse> {
        if r.get_ref().name.is_empty() {
            return Err(status(V3Error::UserEmpty));
        }
        Err(status(V3Error::Unsupported(NOT_YET)))
    }

    async fn user_get(
        &self,
        _r: Request<pb::AuthUserGetRequest>,
    ) -> Answer<pb::AuthUserGetResponse> {
        Err(status(V3Error::UserNotFound))
    }

    async fn user_list(
        &self,
        _r: Request<pb::AuthUserListRequest>,
    ) -> Answer<pb::AuthUserListResponse> {
        Ok(Response::new(pb::AuthUserListResponse {
            header: self.header(),
            users: Vec::new(),
        }))
    }

    async fn user_delete(
        &self,
        _r: Request<pb::AuthUserDeleteRequest>,
    ) -> Answer<pb::AuthUserDeleteResponse> {
        Err(status(V3Error::UserNotFound))
    }

    async fn user_change_password(
        &self,
        _r: Request<pb::AuthUserChangePasswordRequest>,
    ) -> Answer<pb::AuthUserChangePasswordResponse> {
        Err(status(V3Error::UserNotFound))
    }

    async fn user_grant_role(
        &self,
        _r: Request<pb::AuthUserGrantRoleRequest>,
    ) -> Answer<pb::AuthUserGrantRoleResponse> {
        Err(status(V3Error::UserNotFound))
    }

    async fn user_revoke_role(
        &self,
        _r: Request<pb::AuthUserRevokeRoleRequest>,
    ) -> Answer<pb::AuthUserRevokeRoleResponse> {
        Err(status(V3Error::UserNotFound))
    }

    async fn role_add(
        &self,
        r: Request<pb::AuthRoleAddRequest>,
    ) -> Answer<pb::AuthRoleAddResponse> {
        if r.get_ref().name.is_empty() {
            return Err(status(V3Error::RoleEmpty));
        }
        Err(status(V3Error::Unsupported(NOT_YET)))
    }

    async fn role_get(
        &self,
        _r: Request<pb::AuthRoleGetRequest>,
    ) -> Answer<pb::AuthRoleGetResponse> {
        Err(status(V3Error::RoleNotFound))
    }

    async fn role_list(
        &self,
        _r: Request<pb::AuthRoleListRequest>,
    ) -> Answer<pb::AuthRoleListResponse> {
        Ok(Response::new(pb::AuthRoleListResponse {
            header: self.header(),
            roles: Vec::new(),
        }))
    }

    async fn role_delete(
        &self,
        _r: Request<pb::AuthRoleDeleteRequest>,
    ) -> Answer<pb::AuthRoleDeleteResponse> {
        Err(status(V3Error::RoleNotFound))
    }

    async fn role_grant_permission(
        &self,
        _r: Request<pb::AuthRoleGrantPermissionRequest>,
    ) -> Answer<pb::AuthRoleGrantPermissionResponse> {
        Err(status(V3Error::RoleNotFound))
    }

    async fn role_revoke_permission(
        &self,
        _r: Request<pb::AuthRoleRevokePermissionRequest>,
    ) -> Answer<pb::AuthRoleRevokePermissionResponse> {
        Err(status(V3Error::RoleNotFound))
    }
}
