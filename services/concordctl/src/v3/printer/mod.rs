//! etcdctl 3.4's writers (`-w`, `ctlv3/command/printer*.go`): which
//! writer prints what, and the ones a writer lacks. `simple.rs`,
//! `json.rs`, `fields.rs`, `table.rs` and `protobuf.rs` hold each
//! writer's texts; this module routes each response to them as etcdctl's
//! printer types embed one another (a writer that lacks a response fails
//! with `<writer> not supported as output format`, exit 4).

pub mod fields;
pub mod json;
pub mod protobuf;
pub mod simple;
pub mod table;

use concord_rpc::etcd::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberAddResponse,
    MemberListResponse, MemberPromoteResponse, MemberRemoveResponse, MemberUpdateResponse,
    MoveLeaderResponse, PutResponse, RangeResponse, StatusResponse, TxnResponse, WatchResponse,
};

use concord_rpc::etcd::etcdserverpb::{
    AuthRoleGetResponse, AuthRoleListResponse, AuthUserGetResponse, AuthUserListResponse,
    ResponseHeader,
};
use prost::Message;

use crate::v3::exit::{Fail, Outcome, EXIT_BAD_FEATURE};

/// The `-w` writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Simple { hex: bool, value_only: bool },
    Json,
    Fields,
    Protobuf,
    Table,
}

impl Writer {
    /// etcdctl's `NewPrinter`; `None` for a name it does not know.
    pub fn parse(name: &str, hex: bool) -> Option<Writer> {
        Some(match name {
            "simple" => Writer::Simple {
                hex,
                value_only: false,
            },
            "json" => Writer::Json,
            "fields" => Writer::Fields,
            "protobuf" => Writer::Protobuf,
            "table" => Writer::Table,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Writer::Simple { .. } => "simple",
            Writer::Json => "json",
            Writer::Fields => "fields",
            Writer::Protobuf => "protobuf",
            Writer::Table => "table",
        }
    }
}

/// `printerUnsupported`: the writer has no text for this response.
fn unsupported(w: Writer) -> Outcome {
    Err(Fail::new(
        EXIT_BAD_FEATURE,
        format!("{} not supported as output format", w.name()),
    ))
}

/// `endpoint health`'s row (`epHealth`).
#[derive(Debug, Clone)]
pub struct EpHealth {
    pub ep: String,
    pub health: bool,
    pub took: String,
    pub error: String,
}

/// `endpoint status`'s row (`epStatus`).
#[derive(Debug, Clone)]
pub struct EpStatus {
    pub ep: String,
    pub resp: StatusResponse,
}

/// `endpoint hashkv`'s row (`epHashKV`).
#[derive(Debug, Clone)]
pub struct EpHashKv {
    pub ep: String,
    pub resp: HashKvResponse,
}

/// `snapshot status`'s result (clientv3's `snapshot.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbStatus {
    pub hash: u32,
    pub revision: i64,
    pub total_key: i64,
    pub total_size: i64,
}

fn out(text: String) -> Outcome {
    print!("{text}");
    Ok(())
}

pub fn get(w: Writer, r: &RangeResponse) -> Outcome {
    match w {
        Writer::Simple { hex, value_only } => out(simple::get(r, hex, value_only)),
        Writer::Json => out(json::line(json::range(r))),
        Writer::Fields => out(fields::get(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => unsupported(w),
    }
}

pub fn put(w: Writer, r: &PutResponse) -> Outcome {
    match w {
        Writer::Simple { hex, value_only } => out(simple::put(r, hex, value_only)),
        Writer::Json => out(json::line(json::put(r))),
        Writer::Fields => out(fields::put(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => unsupported(w),
    }
}

pub fn del(w: Writer, r: &DeleteRangeResponse) -> Outcome {
    match w {
        Writer::Simple { hex, value_only } => out(simple::del(r, hex, value_only)),
        Writer::Json => out(json::line(json::del(r))),
        Writer::Fields => out(fields::del(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => unsupported(w),
    }
}

pub fn txn(w: Writer, r: &TxnResponse) -> Outcome {
    match w {
        Writer::Simple { hex, value_only } => out(simple::txn(r, hex, value_only)),
        Writer::Json => out(json::line(json::txn(r))),
        Writer::Fields => out(fields::txn(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => unsupported(w),
    }
}

pub fn watch(w: Writer, r: &WatchResponse) -> Outcome {
    match w {
        Writer::Simple { hex, value_only } => out(simple::watch(r, hex, value_only)),
        Writer::Json => out(json::line(json::watch(r))),
        Writer::Fields => out(fields::watch(r)),
        Writer::Protobuf => protobuf::print_watch(r),
        Writer::Table => unsupported(w),
    }
}

pub fn grant(w: Writer, r: &LeaseGrantResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::grant(r)),
        Writer::Json => out(json::line(json::grant(r))),
        Writer::Fields => out(fields::grant(r)),
        Writer::Protobuf => protobuf::print_header(r.header.as_ref()),
        Writer::Table => unsupported(w),
    }
}

pub fn revoke(w: Writer, id: i64, r: &LeaseRevokeResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::revoke(id)),
        Writer::Json => out(json::line(json::revoke(r))),
        Writer::Fields => out(fields::revoke(r)),
        Writer::Protobuf => protobuf::not_a_message("etcdserverpb.LeaseRevokeResponse"),
        Writer::Table => unsupported(w),
    }
}

pub fn keep_alive(w: Writer, r: &LeaseKeepAliveResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::keep_alive(r)),
        Writer::Json => out(json::line(json::keep_alive(r))),
        Writer::Fields => out(fields::keep_alive(r)),
        Writer::Protobuf => protobuf::print_header(r.header.as_ref()),
        Writer::Table => unsupported(w),
    }
}

pub fn time_to_live(w: Writer, r: &LeaseTimeToLiveResponse, keys: bool) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::time_to_live(r, keys)),
        Writer::Json => out(json::line(json::time_to_live(r))),
        Writer::Fields => out(fields::time_to_live(r)),
        Writer::Protobuf => protobuf::print_header(r.header.as_ref()),
        Writer::Table => unsupported(w),
    }
}

pub fn leases(w: Writer, r: &LeaseLeasesResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::leases(r)),
        Writer::Json => out(json::line(json::leases(r))),
        Writer::Fields => out(fields::leases(r)),
        Writer::Protobuf => protobuf::print_header(r.header.as_ref()),
        Writer::Table => unsupported(w),
    }
}

pub fn member_add(w: Writer, r: &MemberAddResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::member_add(r)),
        Writer::Json => out(json::line(json::member_add(r))),
        Writer::Protobuf => protobuf::print(r),
        Writer::Fields | Writer::Table => unsupported(w),
    }
}

pub fn member_remove(w: Writer, id: u64, r: &MemberRemoveResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::member_changed(
            id,
            "removed from",
            r.header.as_ref(),
        )),
        Writer::Json => out(json::line(json::members_changed(
            r.header.as_ref(),
            &r.members,
        ))),
        Writer::Protobuf => protobuf::print(r),
        Writer::Fields | Writer::Table => unsupported(w),
    }
}

pub fn member_update(w: Writer, id: u64, r: &MemberUpdateResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::member_changed(id, "updated in", r.header.as_ref())),
        Writer::Json => out(json::line(json::members_changed(
            r.header.as_ref(),
            &r.members,
        ))),
        Writer::Protobuf => protobuf::print(r),
        Writer::Fields | Writer::Table => unsupported(w),
    }
}

/// etcdctl's non-simple writers lack `MemberPromote` (it would crash on
/// a nil printer); the JSON and protobuf ones print the response here.
pub fn member_promote(w: Writer, id: u64, r: &MemberPromoteResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::member_changed(id, "promoted in", r.header.as_ref())),
        Writer::Json => out(json::line(json::members_changed(
            r.header.as_ref(),
            &r.members,
        ))),
        Writer::Protobuf => protobuf::print(r),
        Writer::Fields | Writer::Table => unsupported(w),
    }
}

/// etcdctl's JSON and protobuf writers print the response, which carries
/// no header (`{}`, nothing); the fields and table ones have no
/// `MoveLeader` (refused after the move).
pub fn move_leader(w: Writer, leader: u64, target: u64, r: &MoveLeaderResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(format!(
            "Leadership transferred from {leader:x} to {target:x}\n"
        )),
        Writer::Json => out(json::line(json::move_leader(r))),
        Writer::Protobuf => protobuf::print(r),
        Writer::Fields | Writer::Table => unsupported(w),
    }
}

pub fn member_list(w: Writer, r: &MemberListResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::member_list(r)),
        Writer::Json => out(json::line(json::members_changed(
            r.header.as_ref(),
            &r.members,
        ))),
        Writer::Fields => out(fields::member_list(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => out(table::member_list(r)),
    }
}

pub fn endpoint_health(w: Writer, rows: &[EpHealth]) -> Outcome {
    match w {
        Writer::Simple { .. } => {
            eprint!("{}", simple::endpoint_health(rows));
            Ok(())
        }
        Writer::Json => out(json::line(json::endpoint_health(rows))),
        Writer::Fields => out(fields::endpoint_health(rows)),
        Writer::Table => out(table::endpoint_health(rows)),
        Writer::Protobuf => unsupported(w),
    }
}

pub fn endpoint_status(w: Writer, rows: &[EpStatus]) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::endpoint_status(rows)),
        Writer::Json => out(json::line(json::endpoint_status(rows))),
        Writer::Fields => out(fields::endpoint_status(rows)),
        Writer::Table => out(table::endpoint_status(rows)),
        Writer::Protobuf => unsupported(w),
    }
}

pub fn endpoint_hashkv(w: Writer, rows: &[EpHashKv]) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::endpoint_hashkv(rows)),
        Writer::Json => out(json::line(json::endpoint_hashkv(rows))),
        Writer::Fields => out(fields::endpoint_hashkv(rows)),
        Writer::Table => out(table::endpoint_hashkv(rows)),
        Writer::Protobuf => unsupported(w),
    }
}

pub fn alarm(w: Writer, r: &AlarmResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::alarm(r)),
        Writer::Json => out(json::line(json::alarm(r))),
        Writer::Fields => out(fields::alarm(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => unsupported(w),
    }
}

pub fn db_status(w: Writer, s: &DbStatus) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::db_status(s)),
        Writer::Json => out(json::line(json::db_status(s))),
        Writer::Fields => out(fields::db_status(s)),
        Writer::Table => out(table::db_status(s)),
        Writer::Protobuf => unsupported(w),
    }
}

/// An auth response etcdctl prints no field of (user and role add,
/// delete, grant, revoke, passwd): the simple writer's sentence, the
/// header for `json` and `fields`, the message for `protobuf`.
pub fn auth_done(
    w: Writer,
    simple: String,
    header: Option<&ResponseHeader>,
    msg: &impl Message,
) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple),
        Writer::Json => out(json::line(json::auth_header(header))),
        Writer::Fields => out(fields::auth_header(header)),
        Writer::Protobuf => protobuf::print(msg),
        Writer::Table => unsupported(w),
    }
}

pub fn role_get(w: Writer, name: &str, r: &AuthRoleGetResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::role_get(name, r)),
        Writer::Json => out(json::line(json::role_get(r))),
        Writer::Fields => out(fields::role_get(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => unsupported(w),
    }
}

pub fn role_list(w: Writer, r: &AuthRoleListResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::names(&r.roles)),
        Writer::Json => out(json::line(json::names(
            r.header.as_ref(),
            "roles",
            &r.roles,
        ))),
        Writer::Fields => out(fields::role_list(r)),
        Writer::Protobuf => protobuf::print(r),
        Writer::Table => unsupported(w),
    }
}

/// `UserGet` (the fields writer has none: etcdctl says it is unsupported).
pub fn user_get(w: Writer, name: &str, r: &AuthUserGetResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::user_get(name, r)),
        Writer::Json => out(json::line(json::names(
            r.header.as_ref(),
            "roles",
            &r.roles,
        ))),
        Writer::Protobuf => protobuf::print(r),
        Writer::Fields | Writer::Table => unsupported(w),
    }
}

/// `UserList` (none in the fields writer either).
pub fn user_list(w: Writer, r: &AuthUserListResponse) -> Outcome {
    match w {
        Writer::Simple { .. } => out(simple::names(&r.users)),
        Writer::Json => out(json::line(json::names(
            r.header.as_ref(),
            "users",
            &r.users,
        ))),
        Writer::Protobuf => protobuf::print(r),
        Writer::Fields | Writer::Table => unsupported(w),
    }
}
