//! `role add|delete|get|list|grant-permission|revoke-permission`
//! (`role_command.go`): permissions on a key, a range `[key, end)`, a
//! prefix (`--prefix`) or every key from one on (`--from-key`, the end
//! `\0`); an empty key stands for the whole key space as etcd's interval
//! tree needs it (`\0`, and the end `\0` with either flag). etcdctl gives
//! these calls no deadline (`context.TODO()`).

use concord_rpc::etcd::authpb::{permission::Type as PermType, Permission};
use concord_rpc::etcd::etcdserverpb::{
    AuthRoleAddRequest, AuthRoleDeleteRequest, AuthRoleGetRequest, AuthRoleGrantPermissionRequest,
    AuthRoleListRequest, AuthRoleRevokePermissionRequest,
};

use super::prefix_end;
use crate::v3::cli::Parsed;
use crate::v3::client::{self, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::v3::globals::session;
use crate::v3::go_text::lossy;
use crate::v3::printer;

fn one_arg(p: &Parsed, what: &str) -> Result<String, Fail> {
    match p.args.as_slice() {
        [name] => Ok(name.clone()),
        _ => Err(Fail::new(
            EXIT_BAD_ARGS,
            format!("role {what} command requires role name as its argument"),
        )),
    }
}

/// clientv3's `StrToPermissionType`: the type's name in any case.
fn perm_type(s: &str) -> Result<PermType, Fail> {
    PermType::from_str_name(&s.to_uppercase())
        .ok_or_else(|| Fail::new(EXIT_BAD_ARGS, format!("invalid permission type: {s}")))
}

const EXCLUSIVE: &str = "--from-key and --prefix flags are mutually exclusive";

/// etcdctl's `permRange`: the key and range end of `<key> [endkey]`.
fn perm_range(p: &Parsed, args: &[String]) -> Result<(Vec<u8>, Vec<u8>), Fail> {
    let prefix = p.bool("prefix");
    let from_key = p.bool("from-key");
    let bad = |t: &str| Fail::new(EXIT_BAD_ARGS, t);
    let key = args[0].as_bytes().to_vec();
    if key.is_empty() {
        if prefix && from_key {
            return Err(bad(EXCLUSIVE));
        }
        let end = if prefix || from_key { vec![0] } else { vec![] };
        return Ok((vec![0], end));
    }
    let end = match (args.len(), prefix, from_key) {
        (1, true, true) => return Err(bad(EXCLUSIVE)),
        (1, true, false) => prefix_end(&key),
        (1, false, true) => vec![0],
        (1, false, false) => vec![],
        (_, true, _) => return Err(bad("unexpected endkey argument with --prefix flag")),
        (_, _, true) => return Err(bad("unexpected endkey argument with --from-key flag")),
        _ => args[1].as_bytes().to_vec(),
    };
    Ok((key, end))
}

pub fn add(mut p: Parsed) -> Outcome {
    let name = one_arg(&p, "add")?;
    let s = session(&mut p)?;
    let req = AuthRoleAddRequest { name: name.clone() };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).role_add(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        format!("Role {name} created\n"),
        resp.header.as_ref(),
        &resp,
    )
}

pub fn delete(mut p: Parsed) -> Outcome {
    let name = one_arg(&p, "delete")?;
    let s = session(&mut p)?;
    let req = AuthRoleDeleteRequest { role: name.clone() };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).role_delete(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        format!("Role {name} deleted\n"),
        resp.header.as_ref(),
        &resp,
    )
}

pub fn get(mut p: Parsed) -> Outcome {
    let name = one_arg(&p, "get")?;
    let s = session(&mut p)?;
    let req = AuthRoleGetRequest { role: name.clone() };
    let resp = s
        .client
        .unary(None, Retry::Repeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).role_get(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::role_get(s.writer, &name, &resp)
}

pub fn list(mut p: Parsed) -> Outcome {
    if !p.args.is_empty() {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "role list command requires no arguments",
        ));
    }
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(None, Retry::Repeatable, |ch| async move {
            client::auth(ch).role_list(AuthRoleListRequest {}).await
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::role_list(s.writer, &resp)
}

pub fn grant_permission(mut p: Parsed) -> Outcome {
    if p.args.len() < 3 {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "role grant command requires role name, permission type, and key [endkey] as its argument",
        ));
    }
    let name = p.args[0].clone();
    let perm_type = perm_type(&p.args[1])?;
    let (key, range_end) = perm_range(&p, &p.args[2..])?;
    let s = session(&mut p)?;
    let req = AuthRoleGrantPermissionRequest {
        name: name.clone(),
        perm: Some(Permission {
            perm_type: perm_type as i32,
            key,
            range_end,
        }),
    };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).role_grant_permission(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        format!("Role {name} updated\n"),
        resp.header.as_ref(),
        &resp,
    )
}

pub fn revoke_permission(mut p: Parsed) -> Outcome {
    if p.args.len() < 2 {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "role revoke-permission command requires role name and key [endkey] as its argument",
        ));
    }
    let name = p.args[0].clone();
    // etcdctl names the key as typed (args[1]), the end as sent.
    let typed_key = p.args[1].clone();
    let (key, range_end) = perm_range(&p, &p.args[1..])?;
    let s = session(&mut p)?;
    let req = AuthRoleRevokePermissionRequest {
        role: name.clone(),
        key,
        range_end: range_end.clone(),
    };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).role_revoke_permission(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    let text = if range_end.is_empty() {
        format!("Permission of key {typed_key} is revoked from role {name}\n")
    } else if range_end != b"\0" {
        format!(
            "Permission of range [{typed_key}, {}) is revoked from role {name}\n",
            lossy(&range_end)
        )
    } else {
        format!("Permission of range [{typed_key}, <open ended> is revoked from role {name}\n")
    };
    printer::auth_done(s.writer, text, resp.header.as_ref(), &resp)
}
