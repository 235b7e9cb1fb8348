//! The `fields` writer (`printer_fields.go`): one `"Name" : value` line
//! per field, strings quoted as Go's `%q`, the header first.

use std::fmt::Write;

use concord_rpc::etcd::authpb::permission::Type;
use concord_rpc::etcd::etcdserverpb::{
    response_op::Response, AlarmResponse, AlarmType, AuthRoleGetResponse, AuthRoleListResponse,
    DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberListResponse, PutResponse, RangeResponse,
    ResponseHeader, TxnResponse, WatchResponse,
};
use concord_rpc::etcd::mvccpb::KeyValue;
use concord_store::go;

use super::simple::event_type;
use super::{EpHashKv, EpHealth, EpStatus};
use crate::v3::go_text::quote_bytes;

fn kv(out: &mut String, pfx: &str, k: &KeyValue) {
    let _ = writeln!(out, "\"{pfx}Key\" : {}", quote_bytes(&k.key));
    let _ = writeln!(out, "\"{pfx}CreateRevision\" : {}", k.create_revision);
    let _ = writeln!(out, "\"{pfx}ModRevision\" : {}", k.mod_revision);
    let _ = writeln!(out, "\"{pfx}Version\" : {}", k.version);
    let _ = writeln!(out, "\"{pfx}Value\" : {}", quote_bytes(&k.value));
    let _ = writeln!(out, "\"{pfx}Lease\" : {}", k.lease);
}

/// The header's four lines (a missing header reads as zeros; etcdctl
/// would crash on it, which no etcd server causes).
fn hdr(out: &mut String, h: Option<&ResponseHeader>) {
    let h = h.cloned().unwrap_or_default();
    let _ = writeln!(out, "\"ClusterID\" : {}", h.cluster_id);
    let _ = writeln!(out, "\"MemberID\" : {}", h.member_id);
    let _ = writeln!(out, "\"Revision\" : {}", h.revision);
    let _ = writeln!(out, "\"RaftTerm\" : {}", h.raft_term);
}

pub fn del(r: &DeleteRangeResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    let _ = writeln!(out, "\"Deleted\" : {}", r.deleted);
    for k in &r.prev_kvs {
        kv(&mut out, "Prev", k);
    }
    out
}

pub fn get(r: &RangeResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    for k in &r.kvs {
        kv(&mut out, "", k);
    }
    let _ = writeln!(out, "\"More\" : {}", r.more);
    let _ = writeln!(out, "\"Count\" : {}", r.count);
    out
}

pub fn put(r: &PutResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    if let Some(prev) = &r.prev_kv {
        kv(&mut out, "Prev", prev);
    }
    out
}

pub fn txn(r: &TxnResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    let _ = writeln!(out, "\"Succeeded\" : {}", r.succeeded);
    for op in &r.responses {
        match &op.response {
            Some(Response::ResponseDeleteRange(d)) => out.push_str(&del(d)),
            Some(Response::ResponsePut(p)) => out.push_str(&put(p)),
            Some(Response::ResponseRange(g)) => out.push_str(&get(g)),
            Some(Response::ResponseTxn(t)) => {
                let _ = writeln!(out, "\"Unknown\" : {}", go::quote(&format!("{t:?}")));
            }
            None => {
                let _ = writeln!(out, "\"Unknown\" : \"<nil>\"");
            }
        }
    }
    out
}

pub fn watch(r: &WatchResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, Some(&r.header.unwrap_or_default()));
    for e in &r.events {
        let _ = writeln!(out, "\"Type\" : {}", event_type(e.r#type));
        if let Some(prev) = &e.prev_kv {
            kv(&mut out, "Prev", prev);
        }
        if let Some(k) = &e.kv {
            kv(&mut out, "", k);
        }
    }
    out
}

pub fn grant(r: &LeaseGrantResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    let _ = writeln!(out, "\"ID\" : {}", r.id);
    let _ = writeln!(out, "\"TTL\" : {}", r.ttl);
    out
}

pub fn revoke(r: &LeaseRevokeResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    out
}

pub fn keep_alive(r: &LeaseKeepAliveResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    let _ = writeln!(out, "\"ID\" : {}", r.id);
    let _ = writeln!(out, "\"TTL\" : {}", r.ttl);
    out
}

pub fn time_to_live(r: &LeaseTimeToLiveResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    let _ = writeln!(out, "\"ID\" : {}", r.id);
    let _ = writeln!(out, "\"TTL\" : {}", r.ttl);
    let _ = writeln!(out, "\"GrantedTTL\" : {}", r.granted_ttl);
    for k in &r.keys {
        let _ = writeln!(out, "\"Key\" : {}", quote_bytes(k));
    }
    out
}

pub fn leases(r: &LeaseLeasesResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    for l in &r.leases {
        let _ = writeln!(out, "\"ID\" : {}", l.id);
    }
    out
}

pub fn member_list(r: &MemberListResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    for m in &r.members {
        let _ = writeln!(out, "\"ID\" : {}", m.id);
        let _ = writeln!(out, "\"Name\" : {}", go::quote(&m.name));
        for u in &m.peer_ur_ls {
            let _ = writeln!(out, "\"PeerURL\" : {}", go::quote(u));
        }
        for u in &m.client_ur_ls {
            let _ = writeln!(out, "\"ClientURL\" : {}", go::quote(u));
        }
        let _ = writeln!(out, "\"IsLearner\" : {}", m.is_learner);
        out.push('\n');
    }
    out
}

pub fn endpoint_health(rows: &[EpHealth]) -> String {
    let mut out = String::new();
    for h in rows {
        let _ = writeln!(out, "\"Endpoint\" : {}", go::quote(&h.ep));
        let _ = writeln!(out, "\"Health\" : {}", h.health);
        let _ = writeln!(out, "\"Took\" : {}", h.took);
        let _ = writeln!(out, "\"Error\" : {}", h.error);
        out.push('\n');
    }
    out
}

pub fn endpoint_status(rows: &[EpStatus]) -> String {
    let mut out = String::new();
    for s in rows {
        let r = &s.resp;
        hdr(&mut out, r.header.as_ref());
        let _ = writeln!(out, "\"Version\" : {}", go::quote(&r.version));
        let _ = writeln!(out, "\"DBSize\" : {}", r.db_size);
        let _ = writeln!(out, "\"Leader\" : {}", r.leader);
        let _ = writeln!(out, "\"IsLearner\" : {}", r.is_learner);
        let _ = writeln!(out, "\"RaftIndex\" : {}", r.raft_index);
        let _ = writeln!(out, "\"RaftTerm\" : {}", r.raft_term);
        let _ = writeln!(out, "\"RaftAppliedIndex\" : {}", r.raft_applied_index);
        let _ = writeln!(out, "\"Errors\" : [{}]", r.errors.join(" "));
        let _ = writeln!(out, "\"Endpoint\" : {}", go::quote(&s.ep));
        out.push('\n');
    }
    out
}

pub fn endpoint_hashkv(rows: &[EpHashKv]) -> String {
    let mut out = String::new();
    for h in rows {
        hdr(&mut out, h.resp.header.as_ref());
        let _ = writeln!(out, "\"Endpoint\" : {}", go::quote(&h.ep));
        let _ = writeln!(out, "\"Hash\" : {}", h.resp.hash);
        out.push('\n');
    }
    out
}

pub fn alarm(r: &AlarmResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    for a in &r.alarms {
        let name = AlarmType::try_from(a.alarm)
            .map(|t| t.as_str_name().to_string())
            .unwrap_or_else(|_| a.alarm.to_string());
        let _ = writeln!(out, "\"MemberID\" : {}", a.member_id);
        let _ = writeln!(out, "\"AlarmType\" : {name}");
        out.push('\n');
    }
    out
}

pub fn db_status(s: &super::DbStatus) -> String {
    format!(
        "\"Hash\" : {}\n\"Revision\" : {}\n\"Keys\" : {}\n\"Size\" : {}\n",
        s.hash, s.revision, s.total_key, s.total_size
    )
}

/// An auth response printed as its header alone.
pub fn auth_header(h: Option<&ResponseHeader>) -> String {
    let mut out = String::new();
    hdr(&mut out, h);
    out
}

/// `RoleGet`: the header, then each permission's type, key and range end
/// (`fmt.Println` puts two spaces after the `PermType` colon).
pub fn role_get(r: &AuthRoleGetResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    for p in &r.perm {
        let _ = writeln!(out, "\"PermType\" :  {}", perm_type_name(p.perm_type));
        let _ = writeln!(out, "\"Key\" : {}", quote_bytes(&p.key));
        let _ = writeln!(out, "\"RangeEnd\" : {}", quote_bytes(&p.range_end));
    }
    out
}

/// `RoleList`: the header, then the names on one line.
pub fn role_list(r: &AuthRoleListResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, r.header.as_ref());
    out.push_str("\"Roles\" :");
    for role in &r.roles {
        let _ = write!(out, " {}", go::quote(role));
    }
    out.push('\n');
    out
}

/// gogoproto's name of a permission type (its number when unknown).
fn perm_type_name(t: i32) -> String {
    match Type::try_from(t) {
        Ok(t) => t.as_str_name().to_string(),
        Err(_) => t.to_string(),
    }
}
