//! etcdctl's `member` commands (`member_commands.go`): arguments are
//! checked before the client is built; their errors are printed bare,
//! with exit code 1.

use std::process::ExitCode;

use concord_store::go;

use super::util::must_new_client;
use crate::v2::cli::MemberCmd;
use crate::v2::client::{Client, Error, Member};
use crate::v2::exit::{member_fail, EXIT_BAD_ARGS};
use crate::v2::flags::Globals;

/// A member command's failed request: its text alone.
fn fatal(e: Error) -> ExitCode {
    member_fail(&e.text())
}

pub fn run(g: &Globals, action: MemberCmd) -> Result<(), ExitCode> {
    match action {
        MemberCmd::List { args } => {
            if !args.is_empty() {
                return Err(member_fail("No arguments accepted"));
            }
            list(&mut must_new_client(g, true)?)
        }
        MemberCmd::Add { args } => {
            let [name, url] = <[String; 2]>::try_from(args)
                .map_err(|_| member_fail("Provide a name and a single member peerURL"))?;
            add(&mut must_new_client(g, true)?, &name, &url)
        }
        MemberCmd::Remove { args } => {
            let [id] = <[String; 1]>::try_from(args)
                .map_err(|_| member_fail("Provide a single member ID"))?;
            remove(&mut must_new_client(g, true)?, &id)
        }
        MemberCmd::Update { args } => {
            let [id, urls] = <[String; 2]>::try_from(args).map_err(|_| {
                member_fail("Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)")
            })?;
            update(&mut must_new_client(g, true)?, &id, &urls)
        }
    }
}

/// `member list`: one line a member, the leader marked.
fn list(c: &mut Client) -> Result<(), ExitCode> {
    let ctx = c.total_context();
    let members = c.members(ctx).map_err(fatal)?;
    let leader = c.leader(ctx).map_err(|e| {
        eprintln!("Failed to get leader:  {}", e.text());
        ExitCode::from(EXIT_BAD_ARGS)
    })?;
    for m in members {
        if m.name.is_empty() {
            println!("{}[unstarted]: peerURLs={}", m.id, m.peer_urls.join(","));
        } else {
            println!(
                "{}: name={} peerURLs={} clientURLs={} isLeader={}",
                m.id,
                m.name,
                m.peer_urls.join(","),
                m.client_urls.join(","),
                m.id == leader.id
            );
        }
    }
    Ok(())
}

/// `member add`: the new member, then the `ETCD_*` settings it starts with.
fn add(c: &mut Client, name: &str, url: &str) -> Result<(), ExitCode> {
    let ctx = c.total_context();
    let added = c.add_member(ctx, url).map_err(fatal)?;
    println!("Added member named {name} with ID {} to cluster", added.id);
    let members = c.members(ctx).map_err(fatal)?;
    let mut conf = Vec::new();
    for m in members {
        for u in &m.peer_urls {
            let n = if m.id == added.id { name } else { &m.name };
            conf.push(format!("{n}={u}"));
        }
    }
    println!();
    println!("ETCD_NAME={}", go::quote(name));
    println!("ETCD_INITIAL_CLUSTER={}", go::quote(&conf.join(",")));
    println!("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
    Ok(())
}

/// remove's check of the ID against the members (a member *named* so gets
/// a hint); `true` when a member has that ID.
fn id_is_known(members: &[Member], id: &str) -> bool {
    let mut found = false;
    for m in members {
        if m.id == id {
            found = true;
        }
        if m.name == id {
            eprintln!(
                "Found a member named {}; if this is correct, please use its ID, eg:\n\tetcdctl member remove {}",
                m.name, m.id
            );
            eprintln!("For more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n");
        }
    }
    found
}

/// `member remove`: only an ID the cluster knows.
fn remove(c: &mut Client, id: &str) -> Result<(), ExitCode> {
    let ctx = c.total_context();
    let members = c.members(ctx).map_err(|e| {
        member_fail(&format!(
            "Error while verifying ID against known members: {}",
            e.text()
        ))
    })?;
    if !id_is_known(&members, id) {
        return Err(member_fail(&format!(
            "Couldn't find a member in the cluster with an ID of {id}."
        )));
    }
    c.remove_member(ctx, id).map_err(|e| {
        eprint!(
            "Received an error trying to remove member {id}: {}",
            e.text()
        );
        ExitCode::from(EXIT_BAD_ARGS)
    })?;
    println!("Removed member {id} from cluster");
    Ok(())
}

/// `member update`: the member's new peer URLs.
fn update(c: &mut Client, id: &str, urls: &str) -> Result<(), ExitCode> {
    let ctx = c.total_context();
    let list: Vec<&str> = urls.split(',').collect();
    c.update_member(ctx, id, &list).map_err(fatal)?;
    println!("Updated member with ID {id} in cluster");
    Ok(())
}
