//! `auth enable|disable` (`auth_command.go`). `enable` adds what etcd
//! requires first when it is missing: on "root role does not exist" it
//! adds the role `root`, grants it to the user `root`, and asks again, as
//! etcdctl 3.4 does (the user `root` itself is the operator's to add).

use concord_rpc::etcd::etcdserverpb::{
    AuthDisableRequest, AuthEnableRequest, AuthRoleAddRequest, AuthUserGrantRoleRequest,
};

use crate::v3::cli::Parsed;
use crate::v3::client::{self, CallError, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::v3::globals::{session, Session};

/// etcd's `ErrRootRoleNotExist`, which `enable` answers by adding it.
const ROOT_ROLE_MISSING: &str = "etcdserver: root user does not have root role";

fn no_args(p: &Parsed, what: &str) -> Result<(), Fail> {
    if p.args.is_empty() {
        return Ok(());
    }
    Err(Fail::new(
        EXIT_BAD_ARGS,
        format!("auth {what} command does not accept any arguments"),
    ))
}

fn enable_once(s: &Session) -> Result<(), CallError> {
    s.client
        .unary(
            Some(s.command_timeout),
            Retry::NonRepeatable,
            |ch| async move { client::auth(ch).auth_enable(AuthEnableRequest {}).await },
        )
        .map(|_| ())
}

/// The root role added and granted to root (etcdctl's loop body).
fn add_root_role(s: &Session) -> Result<(), CallError> {
    s.client.unary(
        Some(s.command_timeout),
        Retry::NonRepeatable,
        |ch| async move {
            let req = AuthRoleAddRequest {
                name: "root".into(),
            };
            client::auth(ch).role_add(req).await
        },
    )?;
    s.client.unary(
        Some(s.command_timeout),
        Retry::NonRepeatable,
        |ch| async move {
            let req = AuthUserGrantRoleRequest {
                user: "root".into(),
                role: "root".into(),
            };
            client::auth(ch).user_grant_role(req).await
        },
    )?;
    Ok(())
}

pub fn enable(mut p: Parsed) -> Outcome {
    no_args(&p, "enable")?;
    let s = session(&mut p)?;
    // etcdctl loops while the root role was missing and then added; the
    // command's one deadline bounds every call of the loop.
    loop {
        match enable_once(&s) {
            Ok(()) => break,
            Err(e) if e.status.message() == ROOT_ROLE_MISSING => {
                add_root_role(&s).map_err(|e| Fail::new(EXIT_ERROR, e.text()))?
            }
            Err(e) => return Err(Fail::new(EXIT_ERROR, e.text())),
        }
    }
    println!("Authentication Enabled");
    Ok(())
}

pub fn disable(mut p: Parsed) -> Outcome {
    no_args(&p, "disable")?;
    let s = session(&mut p)?;
    s.client
        .unary(
            Some(s.command_timeout),
            Retry::NonRepeatable,
            |ch| async move { client::auth(ch).auth_disable(AuthDisableRequest {}).await },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    println!("Authentication Disabled");
    Ok(())
}
