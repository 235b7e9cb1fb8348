//! `user add|delete|get|list|passwd|grant-role|revoke-role`
//! (`user_command.go`): a password from `name:password`,
//! `--new-user-password`, stdin (`--interactive=false`, one word as Go's
//! `Scanf("%s")` reads it) or asked twice on the terminal; `get --detail`
//! prints each granted role as `role get` does. etcdctl gives these calls
//! no deadline (`context.TODO()`).

use std::io::BufRead;

use concord_rpc::etcd::authpb::UserAddOptions;
use concord_rpc::etcd::etcdserverpb::{
    AuthRoleGetRequest, AuthUserAddRequest, AuthUserChangePasswordRequest, AuthUserDeleteRequest,
    AuthUserGetRequest, AuthUserGrantRoleRequest, AuthUserListRequest, AuthUserRevokeRoleRequest,
};

use crate::prompt;
use crate::v3::cli::Parsed;
use crate::v3::client::{self, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::v3::globals::session;
use crate::v3::printer;

fn one_arg(p: &Parsed, what: &str) -> Result<String, Fail> {
    match p.args.as_slice() {
        [name] => Ok(name.clone()),
        _ => Err(Fail::new(
            EXIT_BAD_ARGS,
            format!("user {what} command requires user name as its argument"),
        )),
    }
}

fn two_args(p: &Parsed, text: &str) -> Result<(String, String), Fail> {
    match p.args.as_slice() {
        [user, role] => Ok((user.clone(), role.clone())),
        _ => Err(Fail::new(EXIT_BAD_ARGS, text)),
    }
}

/// Go's `fmt.Scanf("%s")` on stdin: the first word of the first line
/// (nothing when the line is empty).
fn scan_word() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim_start_matches([' ', '\t'])
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("")
        .to_string()
}

/// etcdctl's `readPasswordInteractive`: asked twice, both the same.
fn ask_twice(name: &str) -> Result<String, Fail> {
    let failed =
        |e: prompt::PromptError| Fail::new(EXIT_BAD_ARGS, format!("failed to ask password: {e}"));
    let first = prompt::ask(&format!("Password of {name}: ")).map_err(failed)?;
    if first.is_empty() {
        return Err(Fail::new(EXIT_BAD_ARGS, "empty password"));
    }
    let second = prompt::ask(&format!("Type password of {name} again for confirmation: "))
        .map_err(failed)?;
    if first != second {
        return Err(Fail::new(EXIT_BAD_ARGS, "given passwords are different"));
    }
    Ok(first)
}

fn password(p: &Parsed, name: &str) -> Result<String, Fail> {
    if p.bool("interactive") {
        ask_twice(name)
    } else {
        Ok(scan_word())
    }
}

pub fn add(mut p: Parsed) -> Outcome {
    let [arg] = p.args.as_slice() else {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "user add command requires user name as its argument",
        ));
    };
    let arg = arg.clone();
    let no_password = p.bool("no-password");
    let (user, password) = if no_password {
        (arg, String::new())
    } else if !p.string("new-user-password").is_empty() {
        (arg, p.string("new-user-password"))
    } else {
        match arg.split_once(':') {
            None => {
                let pw = password(&p, &arg)?;
                (arg, pw)
            }
            Some(("", _)) => {
                return Err(Fail::new(EXIT_BAD_ARGS, "empty user name is not allowed"))
            }
            Some((u, pw)) => (u.to_string(), pw.to_string()),
        }
    };
    let s = session(&mut p)?;
    let req = AuthUserAddRequest {
        name: user.clone(),
        password,
        options: Some(UserAddOptions { no_password }),
    };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).user_add(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        format!("User {user} created\n"),
        resp.header.as_ref(),
        &resp,
    )
}

pub fn delete(mut p: Parsed) -> Outcome {
    let name = one_arg(&p, "delete")?;
    let s = session(&mut p)?;
    let req = AuthUserDeleteRequest { name: name.clone() };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).user_delete(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        format!("User {name} deleted\n"),
        resp.header.as_ref(),
        &resp,
    )
}

pub fn get(mut p: Parsed) -> Outcome {
    let name = one_arg(&p, "get")?;
    let detail = p.bool("detail");
    let s = session(&mut p)?;
    let req = AuthUserGetRequest { name: name.clone() };
    let resp = s
        .client
        .unary(None, Retry::Repeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).user_get(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    if !detail {
        return printer::user_get(s.writer, &name, &resp);
    }
    // etcdctl prints this line itself, whatever the writer.
    println!("User: {name}");
    for role in &resp.roles {
        println!();
        let req = AuthRoleGetRequest { role: role.clone() };
        let r = s
            .client
            .unary(None, Retry::Repeatable, |ch| {
                let r = req.clone();
                async move { client::auth(ch).role_get(r).await }
            })
            .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
        printer::role_get(s.writer, role, &r)?;
    }
    Ok(())
}

pub fn list(mut p: Parsed) -> Outcome {
    if !p.args.is_empty() {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "user list command requires no arguments",
        ));
    }
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(None, Retry::Repeatable, |ch| async move {
            client::auth(ch).user_list(AuthUserListRequest {}).await
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::user_list(s.writer, &resp)
}

pub fn passwd(mut p: Parsed) -> Outcome {
    let name = one_arg(&p, "passwd")?;
    let password = password(&p, &name)?;
    let s = session(&mut p)?;
    let req = AuthUserChangePasswordRequest { name, password };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).user_change_password(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        "Password updated\n".into(),
        resp.header.as_ref(),
        &resp,
    )
}

pub fn grant_role(mut p: Parsed) -> Outcome {
    let (user, role) = two_args(
        &p,
        "user grant command requires user name and role name as its argument",
    )?;
    let s = session(&mut p)?;
    let req = AuthUserGrantRoleRequest {
        user: user.clone(),
        role: role.clone(),
    };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).user_grant_role(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        format!("Role {role} is granted to user {user}\n"),
        resp.header.as_ref(),
        &resp,
    )
}

pub fn revoke_role(mut p: Parsed) -> Outcome {
    let (user, role) = two_args(
        &p,
        "user revoke-role requires user name and role name as its argument",
    )?;
    let s = session(&mut p)?;
    let req = AuthUserRevokeRoleRequest {
        name: user.clone(),
        role: role.clone(),
    };
    let resp = s
        .client
        .unary(None, Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::auth(ch).user_revoke_role(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::auth_done(
        s.writer,
        format!("Role {role} is revoked from user {user}\n"),
        resp.header.as_ref(),
        &resp,
    )
}
