//! etcdctl's v2 commands (`ctlv2/command/*.go`), one file per kind: the
//! keys commands (`keys.rs`), the watches (`watch.rs`), `member.rs`,
//! `cluster_health.rs`; `util.rs` is what they share.

mod cluster_health;
mod keys;
mod member;
mod util;
mod watch;

use std::process::ExitCode;

use super::cli::{Cmd, KeysCmd};
use super::client::{Action, Client, SetOptions};
use super::flags::Globals;
use super::output::Format;

/// Runs one command; `Err` carries a failure's exit code, its message
/// already printed.
pub fn run(g: &Globals, cmd: Cmd) -> Result<ExitCode, ExitCode> {
    match cmd {
        Cmd::Keys(cmd) => {
            let mut c = util::must_new_client(g, true)?;
            keys_command(&mut c, cmd, &g.format).map(|()| ExitCode::SUCCESS)
        }
        Cmd::Member { action } => member::run(g, action).map(|()| ExitCode::SUCCESS),
        Cmd::ClusterHealth { forever } => Ok(cluster_health::run(g, forever)),
        Cmd::Probe { grpc, url } => Ok(crate::probe::run(&url, grpc, g.timeout)),
    }
}

/// A keys command on the (synced) client.
fn keys_command(c: &mut Client, cmd: KeysCmd, f: &Format) -> Result<(), ExitCode> {
    let set = |prev_exist, ttl: u64| SetOptions {
        prev_exist,
        ttl,
        ..Default::default()
    };
    match cmd {
        KeysCmd::Get { key, sort, quorum } => keys::get(c, key, sort, quorum, f),
        KeysCmd::Set {
            key,
            value,
            ttl,
            swap_with_value,
            swap_with_index,
        } => {
            let o = SetOptions {
                prev_value: swap_with_value,
                prev_index: swap_with_index,
                ..set(None, ttl.ttl)
            };
            keys::write_value(c, key, value, |k, v| Action::set(k, v, &o), false, f)
        }
        KeysCmd::Mk {
            key,
            value,
            in_order: true,
            ttl,
        } => {
            let act = |dir: &str, v: &str| Action::create_in_order(dir, v, ttl.ttl);
            keys::write_value(c, key, value, act, false, f)
        }
        // A create is one-shot: no fail-over after a failure.
        KeysCmd::Mk {
            key, value, ttl, ..
        } => {
            let o = set(Some("false"), ttl.ttl);
            keys::write_value(c, key, value, |k, v| Action::set(k, v, &o), true, f)
        }
        KeysCmd::Update { key, value, ttl } => {
            let o = set(Some("true"), ttl.ttl);
            keys::write_value(c, key, value, |k, v| Action::set(k, v, &o), false, f)
        }
        KeysCmd::Mkdir { key, ttl } => keys::dir(c, key, ttl.ttl, Some("false"), f),
        KeysCmd::Setdir { key, ttl } => keys::dir(c, key, ttl.ttl, None, f),
        KeysCmd::Updatedir { key, ttl } => keys::dir(c, key, ttl.ttl, Some("true"), f),
        KeysCmd::Rm {
            key,
            dir,
            recursive,
            with_value,
            with_index,
        } => {
            let act = |k: &str| Action::delete(k, &with_value, with_index, dir, recursive);
            keys::remove(c, key, act, f)
        }
        KeysCmd::Rmdir { key } => {
            keys::remove(c, key, |k| Action::delete(k, "", 0, true, false), f)
        }
        KeysCmd::Ls {
            key,
            sort,
            recursive,
            p,
            quorum,
        } => keys::ls(c, key, recursive, sort, quorum, p, f),
        KeysCmd::Watch {
            key,
            forever,
            after_index,
            recursive,
        } => watch::watch(c, key, forever, after_index, recursive, f),
        KeysCmd::ExecWatch {
            after_index,
            recursive,
            args,
        } => watch::exec_watch(c, after_index, recursive, args),
    }
}
