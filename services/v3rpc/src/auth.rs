//! etcd's `Auth` service (v3rpc's `auth.go` over `auth/store.go`): users,
//! roles and key permissions, kept in the keyspace's auth store
//! ([`mvcc::AuthStore`]) through the raft log, as etcd 3.4 keeps them
//! (every request, reads included, is a replicated write; passwords are
//! hashed where the request enters the cluster).
//!
//! `Authenticate` checks the password on the member and gives a simple
//! token through the log; who may make each request is checked where it
//! is applied (`mvcc::auth_check`) with the caller the token names.

use std::sync::Arc;

use concord_api::v3::{mvcc, KeyspaceV3};
use concord_rpc::etcd::{authpb, etcdserverpb as pb};
use concord_rpc::etcd_codec as codec;
use tonic::{Request, Response, Status};

use super::error::status;
use super::header::header;

/// The `Auth` service over a keyspace's auth store.
pub struct AuthService {
    keyspace: Arc<dyn KeyspaceV3>,
}

impl AuthService {
    pub fn new(keyspace: Arc<dyn KeyspaceV3>) -> Self {
        AuthService { keyspace }
    }

    /// Runs one auth request through the log: its header and answer.
    async fn auth(
        &self,
        request: mvcc::AuthRequest,
    ) -> Result<(Option<pb::ResponseHeader>, mvcc::AuthResponse), Status> {
        let answer = self
            .keyspace
            .write(mvcc::Command::Auth(request))
            .await
            .map_err(status)?;
        match answer.result {
            Ok(mvcc::Outcome::Auth(r)) => Ok((Some(header(answer.header)), r)),
            Ok(other) => Err(Status::internal(format!(
                "an auth request answered {other:?}"
            ))),
            Err(e) => Err(status(e)),
        }
    }

    /// [`Self::auth`] for a request that answers nothing but its header.
    async fn change(
        &self,
        request: mvcc::AuthRequest,
    ) -> Result<Option<pb::ResponseHeader>, Status> {
        self.auth(request).await.map(|(h, _)| h)
    }
}

type Answer<T> = Result<Response<T>, Status>;

fn names(r: mvcc::AuthResponse) -> Vec<String> {
    match r {
        mvcc::AuthResponse::Names(n) | mvcc::AuthResponse::Roles(n) => n,
        _ => Vec::new(),
    }
}

#[tonic::async_trait]
impl pb::auth_server::Auth for AuthService {
    async fn auth_enable(
        &self,
        _r: Request<pb::AuthEnableRequest>,
    ) -> Answer<pb::AuthEnableResponse> {
        let header = self.change(mvcc::AuthRequest::Enable).await?;
        Ok(Response::new(pb::AuthEnableResponse { header }))
    }

    async fn auth_disable(
        &self,
        _r: Request<pb::AuthDisableRequest>,
    ) -> Answer<pb::AuthDisableResponse> {
        let header = self.change(mvcc::AuthRequest::Disable).await?;
        Ok(Response::new(pb::AuthDisableResponse { header }))
    }

    async fn authenticate(
        &self,
        r: Request<pb::AuthenticateRequest>,
    ) -> Answer<pb::AuthenticateResponse> {
        let r = r.into_inner();
        let answer = self
            .keyspace
            .authenticate(r.name, r.password)
            .await
            .map_err(status)?;
        let token = answer.result.map_err(status)?;
        Ok(Response::new(pb::AuthenticateResponse {
            header: Some(header(answer.header)),
            token,
        }))
    }

    async fn user_add(
        &self,
        r: Request<pb::AuthUserAddRequest>,
    ) -> Answer<pb::AuthUserAddResponse> {
        let r = r.into_inner();
        let no_password = r.options.is_some_and(|o| o.no_password);
        let header = self
            .change(mvcc::AuthRequest::UserAdd {
                name: r.name,
                password: (!no_password).then_some(r.password),
            })
            .await?;
        Ok(Response::new(pb::AuthUserAddResponse { header }))
    }

    async fn user_get(
        &self,
        r: Request<pb::AuthUserGetRequest>,
    ) -> Answer<pb::AuthUserGetResponse> {
        let name = r.into_inner().name;
        let (header, r) = self.auth(mvcc::AuthRequest::UserGet { name }).await?;
        Ok(Response::new(pb::AuthUserGetResponse {
            header,
            roles: names(r),
        }))
    }

    async fn user_list(
        &self,
        _r: Request<pb::AuthUserListRequest>,
    ) -> Answer<pb::AuthUserListResponse> {
        let (header, r) = self.auth(mvcc::AuthRequest::UserList).await?;
        Ok(Response::new(pb::AuthUserListResponse {
            header,
            users: names(r),
        }))
    }

    async fn user_delete(
        &self,
        r: Request<pb::AuthUserDeleteRequest>,
    ) -> Answer<pb::AuthUserDeleteResponse> {
        let name = r.into_inner().name;
        let header = self.change(mvcc::AuthRequest::UserDelete { name }).await?;
        Ok(Response::new(pb::AuthUserDeleteResponse { header }))
    }

    async fn user_change_password(
        &self,
        r: Request<pb::AuthUserChangePasswordRequest>,
    ) -> Answer<pb::AuthUserChangePasswordResponse> {
        let r = r.into_inner();
        let header = self
            .change(mvcc::AuthRequest::UserChangePassword {
                name: r.name,
                password: r.password,
            })
            .await?;
        Ok(Response::new(pb::AuthUserChangePasswordResponse { header }))
    }

    async fn user_grant_role(
        &self,
        r: Request<pb::AuthUserGrantRoleRequest>,
    ) -> Answer<pb::AuthUserGrantRoleResponse> {
        let r = r.into_inner();
        let header = self
            .change(mvcc::AuthRequest::UserGrantRole {
                user: r.user,
                role: r.role,
            })
            .await?;
        Ok(Response::new(pb::AuthUserGrantRoleResponse { header }))
    }

    async fn user_revoke_role(
        &self,
        r: Request<pb::AuthUserRevokeRoleRequest>,
    ) -> Answer<pb::AuthUserRevokeRoleResponse> {
        let r = r.into_inner();
        let header = self
            .change(mvcc::AuthRequest::UserRevokeRole {
                name: r.name,
                role: r.role,
            })
            .await?;
        Ok(Response::new(pb::AuthUserRevokeRoleResponse { header }))
    }

    async fn role_add(
        &self,
        r: Request<pb::AuthRoleAddRequest>,
    ) -> Answer<pb::AuthRoleAddResponse> {
        let name = r.into_inner().name;
        let header = self.change(mvcc::AuthRequest::RoleAdd { name }).await?;
        Ok(Response::new(pb::AuthRoleAddResponse { header }))
    }

    async fn role_get(
        &self,
        r: Request<pb::AuthRoleGetRequest>,
    ) -> Answer<pb::AuthRoleGetResponse> {
        let role = r.into_inner().role;
        let (header, r) = self.auth(mvcc::AuthRequest::RoleGet { role }).await?;
        let perm = match r {
            mvcc::AuthResponse::Permissions(p) => p.iter().map(codec::permission_to_pb).collect(),
            _ => Vec::new(),
        };
        Ok(Response::new(pb::AuthRoleGetResponse { header, perm }))
    }

    async fn role_list(
        &self,
        _r: Request<pb::AuthRoleListRequest>,
    ) -> Answer<pb::AuthRoleListResponse> {
        let (header, r) = self.auth(mvcc::AuthRequest::RoleList).await?;
        Ok(Response::new(pb::AuthRoleListResponse {
            header,
            roles: names(r),
        }))
    }

    async fn role_delete(
        &self,
        r: Request<pb::AuthRoleDeleteRequest>,
    ) -> Answer<pb::AuthRoleDeleteResponse> {
        let role = r.into_inner().role;
        let header = self.change(mvcc::AuthRequest::RoleDelete { role }).await?;
        Ok(Response::new(pb::AuthRoleDeleteResponse { header }))
    }

    async fn role_grant_permission(
        &self,
        r: Request<pb::AuthRoleGrantPermissionRequest>,
    ) -> Answer<pb::AuthRoleGrantPermissionResponse> {
        let r = r.into_inner();
        // etcd dereferences the permission unchecked (a nil one crashes
        // its apply); an absent one is refused here instead.
        let perm: authpb::Permission = r
            .perm
            .ok_or_else(|| Status::invalid_argument("etcdserver: permission is not provided"))?;
        let header = self
            .change(mvcc::AuthRequest::RoleGrantPermission {
                name: r.name,
                permission: codec::permission_from_pb(perm),
            })
            .await?;
        Ok(Response::new(pb::AuthRoleGrantPermissionResponse {
            header,
        }))
    }

    async fn role_revoke_permission(
        &self,
        r: Request<pb::AuthRoleRevokePermissionRequest>,
    ) -> Answer<pb::AuthRoleRevokePermissionResponse> {
        let r = r.into_inner();
        let header = self
            .change(mvcc::AuthRequest::RoleRevokePermission {
                role: r.role,
                key: r.key,
                range_end: r.range_end,
            })
            .await?;
        Ok(Response::new(pb::AuthRoleRevokePermissionResponse {
            header,
        }))
    }
}
