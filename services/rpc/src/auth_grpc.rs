//! The gateway's half of the auth store: an [`mvcc::AuthRequest`] sent to a
//! member as etcd's own `Auth` call (as etcd's grpc-proxy forwards it),
//! the password in clear over that hop, hashed by the member, where the
//! request enters the log. The member's errors come back as its status,
//! recognised by their text as every keyspace error is.

use concord_api::v3::mvcc::{AuthRequest as R, AuthResponse};
use concord_api::RequestId;
use tonic::transport::Channel;
use tonic::Status;

use crate::etcd::authpb;
use crate::etcd::etcdserverpb::{self as pb, auth_client::AuthClient};
use crate::etcd_codec as codec;
use crate::keyspace_grpc::with_request_id;

/// Sends `request` through `ch`: the answer's header and what it says.
pub async fn send_auth(
    ch: Channel,
    request: R,
    id: RequestId,
) -> Result<(Option<pb::ResponseHeader>, AuthResponse), Status> {
    use AuthResponse::{Done, Names, Permissions, Roles};
    let mut c = AuthClient::with_interceptor(ch, crate::caller_grpc::forward_caller);
    Ok(match request {
        // A member's own entry, made where `Authenticate` is served
        // (`KeyspaceV3::authenticate`), never a client's request.
        R::Authenticate { .. } => {
            return Err(Status::invalid_argument(
                "an Authenticate entry is made by the member, not sent",
            ))
        }
        R::Enable => (
            c.auth_enable(with_request_id(pb::AuthEnableRequest {}, id))
                .await?
                .into_inner()
                .header,
            Done,
        ),
        R::Disable => (
            c.auth_disable(with_request_id(pb::AuthDisableRequest {}, id))
                .await?
                .into_inner()
                .header,
            Done,
        ),
        R::UserAdd { name, password } => {
            let r = pb::AuthUserAddRequest {
                name,
                options: Some(authpb::UserAddOptions {
                    no_password: password.is_none(),
                }),
                password: password.unwrap_or_default(),
            };
            (
                c.user_add(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::UserGet { name } => {
            let r = c
                .user_get(with_request_id(pb::AuthUserGetRequest { name }, id))
                .await?
                .into_inner();
            (r.header, Roles(r.roles))
        }
        R::UserList => {
            let r = c
                .user_list(with_request_id(pb::AuthUserListRequest {}, id))
                .await?
                .into_inner();
            (r.header, Names(r.users))
        }
        R::UserDelete { name } => {
            let r = pb::AuthUserDeleteRequest { name };
            (
                c.user_delete(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::UserChangePassword { name, password } => {
            let r = pb::AuthUserChangePasswordRequest { name, password };
            (
                c.user_change_password(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::UserGrantRole { user, role } => {
            let r = pb::AuthUserGrantRoleRequest { user, role };
            (
                c.user_grant_role(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::UserRevokeRole { name, role } => {
            let r = pb::AuthUserRevokeRoleRequest { name, role };
            (
                c.user_revoke_role(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::RoleAdd { name } => {
            let r = pb::AuthRoleAddRequest { name };
            (
                c.role_add(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::RoleGet { role } => {
            let r = c
                .role_get(with_request_id(pb::AuthRoleGetRequest { role }, id))
                .await?
                .into_inner();
            let perms = r.perm.into_iter().map(codec::permission_from_pb).collect();
            (r.header, Permissions(perms))
        }
        R::RoleList => {
            let r = c
                .role_list(with_request_id(pb::AuthRoleListRequest {}, id))
                .await?
                .into_inner();
            (r.header, Names(r.roles))
        }
        R::RoleDelete { role } => {
            let r = pb::AuthRoleDeleteRequest { role };
            (
                c.role_delete(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::RoleGrantPermission { name, permission } => {
            let r = pb::AuthRoleGrantPermissionRequest {
                name,
                perm: Some(codec::permission_to_pb(&permission)),
            };
            (
                c.role_grant_permission(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
        R::RoleRevokePermission {
            role,
            key,
            range_end,
        } => {
            let r = pb::AuthRoleRevokePermissionRequest {
                role,
                key,
                range_end,
            };
            (
                c.role_revoke_permission(with_request_id(r, id))
                    .await?
                    .into_inner()
                    .header,
                Done,
            )
        }
    })
}

/// etcd's `Auth.Authenticate`, sent to a member: its header and the token.
pub async fn authenticate(
    ch: Channel,
    name: String,
    password: String,
) -> Result<(Option<pb::ResponseHeader>, String), Status> {
    let r = AuthClient::with_interceptor(ch, crate::caller_grpc::forward_caller)
        .authenticate(pb::AuthenticateRequest { name, password })
        .await?
        .into_inner();
    Ok((r.header, r.token))
}

/// Whether the caller may do what needs the root role, asked of a member
/// the way etcd answers it: `UserList` is refused to anyone else.
pub async fn check_admin(ch: Channel) -> Result<Option<pb::ResponseHeader>, Status> {
    let r = AuthClient::with_interceptor(ch, crate::caller_grpc::forward_caller)
        .user_list(pb::AuthUserListRequest {})
        .await?
        .into_inner();
    Ok(r.header)
}
