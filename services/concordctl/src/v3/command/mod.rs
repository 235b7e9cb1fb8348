//! etcdctl's v3 commands, one file per group: `kv.rs` (get, put, del),
//! `txn.rs`, `watch.rs`, `lease.rs`, `member.rs`, `endpoint.rs`,
//! `maintenance.rs` (compaction, defrag, alarm), `move_leader.rs`,
//! `snapshot.rs` (save),
//! `snapshot_status.rs`, `snapshot_restore.rs`, `auth.rs` (enable,
//! disable), `user.rs`, `role.rs`, and `version` here.

mod auth;
mod endpoint;
mod kv;
mod lease;
mod maintenance;
mod member;
mod move_leader;
mod role;
mod snapshot;
mod snapshot_restore;
mod snapshot_status;
mod txn;
mod user;
mod watch;

pub use kv::prefix_end;

use crate::v3::cli::usage::{API_VERSION, VERSION};
use crate::v3::cli::Parsed;
use crate::v3::exit::Outcome;

use concord_consensus::node::go_os_error;

/// Runs the parsed command (the parser only yields runnable ones).
pub fn run(p: Parsed) -> Outcome {
    let names: Vec<&str> = p.path[1..].iter().map(|c| c.name).collect();
    match names.as_slice() {
        ["get"] => kv::get(p),
        ["put"] => kv::put(p),
        ["del"] => kv::del(p),
        ["txn"] => txn::run(p),
        ["watch"] => watch::run(p),
        ["compaction"] => maintenance::compaction(p),
        ["defrag"] => maintenance::defrag(p),
        ["move-leader"] => move_leader::run(p),
        ["alarm", "list"] => maintenance::alarm_list(p),
        ["alarm", "disarm"] => maintenance::alarm_disarm(p),
        ["endpoint", "health"] => endpoint::health(p),
        ["endpoint", "status"] => endpoint::status(p),
        ["endpoint", "hashkv"] => endpoint::hashkv(p),
        ["lease", "grant"] => lease::grant(p),
        ["lease", "revoke"] => lease::revoke(p),
        ["lease", "timetolive"] => lease::time_to_live(p),
        ["lease", "list"] => lease::list(p),
        ["lease", "keep-alive"] => lease::keep_alive(p),
        ["member", "add"] => member::add(p),
        ["member", "remove"] => member::remove(p),
        ["member", "update"] => member::update(p),
        ["member", "list"] => member::list(p),
        ["member", "promote"] => member::promote(p),
        ["snapshot", "save"] => snapshot::save(p),
        ["snapshot", "status"] => snapshot_status::status(p),
        ["snapshot", "restore"] => snapshot_restore::restore(p),
        ["auth", "enable"] => auth::enable(p),
        ["auth", "disable"] => auth::disable(p),
        ["user", "add"] => user::add(p),
        ["user", "delete"] => user::delete(p),
        ["user", "get"] => user::get(p),
        ["user", "list"] => user::list(p),
        ["user", "passwd"] => user::passwd(p),
        ["user", "grant-role"] => user::grant_role(p),
        ["user", "revoke-role"] => user::revoke_role(p),
        ["role", "add"] => role::add(p),
        ["role", "delete"] => role::delete(p),
        ["role", "get"] => role::get(p),
        ["role", "list"] => role::list(p),
        ["role", "grant-permission"] => role::grant_permission(p),
        ["role", "revoke-permission"] => role::revoke_permission(p),
        ["version"] => {
            println!("etcdctl version: {VERSION}");
            println!("API version: {API_VERSION}");
            Ok(())
        }
        other => unreachable!("command {other:?} is in the table but not here"),
    }
}
