//! `member add|remove|update|list` (`member_command.go`). `add` also
//! prints, with the `simple` writer, the `ETCD_*` lines the new member
//! starts with.

use concord_rpc::etcd::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
    MemberUpdateRequest,
};
use concord_store::go;

use crate::v3::cli::Parsed;
use crate::v3::client::{self, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::v3::globals::session;
use crate::v3::go_text::parse_hex_u64;
use crate::v3::printer::{self, Writer};

/// A member ID argument in hex.
fn member_id(p: &Parsed) -> Result<u64, Fail> {
    let [arg] = p.args.as_slice() else {
        return Err(Fail::new(EXIT_BAD_ARGS, "member ID is not provided"));
    };
    parse_hex_u64(arg).map_err(|why| {
        Fail::new(
            EXIT_BAD_ARGS,
            format!("bad member ID arg ({why}), expecting ID in Hex"),
        )
    })
}

fn peer_urls(p: &Parsed) -> Result<Vec<String>, Fail> {
    let urls = p.string("peer-urls");
    if urls.is_empty() {
        return Err(Fail::new(EXIT_BAD_ARGS, "member peer urls not provided"));
    }
    Ok(urls.split(',').map(String::from).collect())
}

pub fn add(mut p: Parsed) -> Outcome {
    let name = match p.args.as_slice() {
        [] => return Err(Fail::new(EXIT_BAD_ARGS, "member name not provided")),
        [name] => name.clone(),
        args => {
            let mut ev = String::from("too many arguments");
            for s in args {
                if s.to_lowercase().starts_with("http") {
                    ev.push_str(&format!(", did you mean --peer-urls={s}"));
                }
            }
            return Err(Fail::new(EXIT_BAD_ARGS, ev));
        }
    };
    let urls = peer_urls(&p)?;
    let is_learner = p.bool("learner");
    let s = session(&mut p)?;
    let req = MemberAddRequest {
        peer_ur_ls: urls,
        is_learner,
    };
    let resp = s
        .client
        .unary(Some(s.command_timeout), Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::cluster(ch).member_add(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::member_add(s.writer, &resp)?;
    if matches!(s.writer, Writer::Simple { .. }) {
        let new_id = resp.member.as_ref().map_or(0, |m| m.id);
        let mut conf = Vec::new();
        for m in &resp.members {
            let n = if m.id == new_id { &name } else { &m.name };
            for u in &m.peer_ur_ls {
                conf.push(format!("{n}={u}"));
            }
        }
        println!();
        println!("ETCD_NAME={}", go::quote(&name));
        println!("ETCD_INITIAL_CLUSTER={}", go::quote(&conf.join(",")));
        println!(
            "ETCD_INITIAL_ADVERTISE_PEER_URLS={}",
            go::quote(&p.string("peer-urls"))
        );
        println!("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
    }
    Ok(())
}

pub fn remove(mut p: Parsed) -> Outcome {
    let id = member_id(&p)?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(
            Some(s.command_timeout),
            Retry::NonRepeatable,
            |ch| async move {
                client::cluster(ch)
                    .member_remove(MemberRemoveRequest { id })
                    .await
            },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::member_remove(s.writer, id, &resp)
}

pub fn update(mut p: Parsed) -> Outcome {
    let id = member_id(&p)?;
    let urls = peer_urls(&p)?;
    let s = session(&mut p)?;
    let req = MemberUpdateRequest {
        id,
        peer_ur_ls: urls,
    };
    let resp = s
        .client
        .unary(Some(s.command_timeout), Retry::NonRepeatable, |ch| {
            let r = req.clone();
            async move { client::cluster(ch).member_update(r).await }
        })
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::member_update(s.writer, id, &resp)
}

pub fn list(mut p: Parsed) -> Outcome {
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(
            Some(s.command_timeout),
            Retry::Repeatable,
            |ch| async move { client::cluster(ch).member_list(MemberListRequest {}).await },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::member_list(s.writer, &resp)
}

pub fn promote(mut p: Parsed) -> Outcome {
    let id = member_id(&p)?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(
            Some(s.command_timeout),
            Retry::NonRepeatable,
            |ch| async move {
                client::cluster(ch)
                    .member_promote(MemberPromoteRequest { id })
                    .await
            },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::member_promote(s.writer, id, &resp)
}
