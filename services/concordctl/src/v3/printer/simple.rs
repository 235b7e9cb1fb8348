//! The `simple` writer, etcdctl's default (`printer_simple.go`): keys and
//! values on lines of their own (`--hex` as `\x..` escapes), `OK`,
//! counts, and the lease, member and endpoint sentences.

use std::fmt::Write;

use concord_rpc::etcd::authpb::{permission::Type as PermType, Permission};
use concord_rpc::etcd::etcdserverpb::{
    response_op::Response, AlarmResponse, AlarmType, AuthRoleGetResponse, AuthUserGetResponse,
    DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseTimeToLiveResponse, MemberAddResponse, MemberListResponse, PutResponse, RangeResponse,
    ResponseHeader, TxnResponse, WatchResponse,
};
use concord_rpc::etcd::mvccpb::{event::EventType, KeyValue};

use super::{table, EpHashKv, EpHealth, EpStatus};
use crate::v3::command::prefix_end;
use crate::v3::go_text::lossy;

/// `printKV`: the key (unless `value_only`) and the value, each a line.
fn kv(out: &mut String, kv: &KeyValue, hex: bool, value_only: bool) {
    let (k, v) = if hex {
        (hex_bytes(&kv.key), hex_bytes(&kv.value))
    } else {
        (lossy(&kv.key), lossy(&kv.value))
    };
    if !value_only {
        let _ = writeln!(out, "{k}");
    }
    let _ = writeln!(out, "{v}");
}

/// `--hex`: every byte as `\xNN`.
fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|byte| format!("\\x{byte:02x}")).collect()
}

pub fn get(r: &RangeResponse, hex: bool, value_only: bool) -> String {
    let mut out = String::new();
    for k in &r.kvs {
        kv(&mut out, k, hex, value_only);
    }
    out
}

pub fn put(r: &PutResponse, hex: bool, value_only: bool) -> String {
    let mut out = String::from("OK\n");
    if let Some(prev) = &r.prev_kv {
        kv(&mut out, prev, hex, value_only);
    }
    out
}

pub fn del(r: &DeleteRangeResponse, hex: bool, value_only: bool) -> String {
    let mut out = format!("{}\n", r.deleted);
    for k in &r.prev_kvs {
        kv(&mut out, k, hex, value_only);
    }
    out
}

pub fn txn(r: &TxnResponse, hex: bool, value_only: bool) -> String {
    let mut out = String::from(if r.succeeded {
        "SUCCESS\n"
    } else {
        "FAILURE\n"
    });
    for op in &r.responses {
        out.push('\n');
        match &op.response {
            Some(Response::ResponseDeleteRange(d)) => out.push_str(&del(d, hex, value_only)),
            Some(Response::ResponsePut(p)) => out.push_str(&put(p, hex, value_only)),
            Some(Response::ResponseRange(g)) => out.push_str(&get(g, hex, value_only)),
            // etcdctl prints a nested txn's response with Go's %+v.
            Some(Response::ResponseTxn(t)) => {
                let _ = writeln!(out, "unexpected response {t:?}");
            }
            None => out.push_str("unexpected response response:<nil>\n"),
        }
    }
    out
}

pub fn watch(r: &WatchResponse, hex: bool, value_only: bool) -> String {
    let mut out = String::new();
    for e in &r.events {
        let _ = writeln!(out, "{}", event_type(e.r#type));
        if let Some(prev) = &e.prev_kv {
            kv(&mut out, prev, hex, value_only);
        }
        if let Some(k) = &e.kv {
            kv(&mut out, k, hex, value_only);
        }
    }
    out
}

/// mvccpb's event type names.
pub fn event_type(t: i32) -> String {
    EventType::try_from(t)
        .map(|t| t.as_str_name().to_string())
        .unwrap_or_else(|_| t.to_string())
}

pub fn grant(r: &LeaseGrantResponse) -> String {
    format!("lease {:016x} granted with TTL({}s)\n", r.id, r.ttl)
}

pub fn revoke(id: i64) -> String {
    format!("lease {id:016x} revoked\n")
}

pub fn keep_alive(r: &LeaseKeepAliveResponse) -> String {
    format!("lease {:016x} keepalived with TTL({})\n", r.id, r.ttl)
}

pub fn time_to_live(r: &LeaseTimeToLiveResponse, keys: bool) -> String {
    if r.granted_ttl == 0 && r.ttl == -1 {
        return format!("lease {:016x} already expired\n", r.id);
    }
    let mut text = format!(
        "lease {:016x} granted with TTL({}s), remaining({}s)",
        r.id, r.granted_ttl, r.ttl
    );
    if keys {
        let ks: Vec<String> = r.keys.iter().map(|k| lossy(k)).collect();
        let _ = write!(text, ", attached keys([{}])", ks.join(" "));
    }
    text.push('\n');
    text
}

pub fn leases(r: &LeaseLeasesResponse) -> String {
    let mut out = format!("found {} leases\n", r.leases.len());
    for l in &r.leases {
        let _ = writeln!(out, "{:016x}", l.id);
    }
    out
}

/// `%+v` of an alarm member: its compact protobuf text.
pub fn alarm(r: &AlarmResponse) -> String {
    let mut out = String::new();
    for a in &r.alarms {
        let name = AlarmType::try_from(a.alarm)
            .map(|t| t.as_str_name().to_string())
            .unwrap_or_else(|_| a.alarm.to_string());
        let _ = writeln!(out, "memberID:{} alarm:{name} ", a.member_id);
    }
    out
}

pub fn member_add(r: &MemberAddResponse) -> String {
    format!(
        "Member {:16x} added to cluster {:16x}\n",
        r.member.as_ref().map_or(0, |m| m.id),
        r.header.as_ref().map_or(0, |h| h.cluster_id)
    )
}

/// `Member <id> removed from|updated in cluster <id>`.
pub fn member_changed(id: u64, verb: &str, h: Option<&ResponseHeader>) -> String {
    format!(
        "Member {id:16x} {verb} cluster {:16x}\n",
        h.map_or(0, |h| h.cluster_id)
    )
}

pub fn member_list(r: &MemberListResponse) -> String {
    table::member_rows(r)
        .iter()
        .map(|row| format!("{}\n", row.join(", ")))
        .collect()
}

/// On stderr, one line per endpoint.
pub fn endpoint_health(rows: &[EpHealth]) -> String {
    let mut out = String::new();
    for h in rows {
        if h.error.is_empty() {
            let _ = writeln!(
                out,
                "{} is healthy: successfully committed proposal: took = {}",
                h.ep, h.took
            );
        } else {
            let _ = writeln!(
                out,
                "{} is unhealthy: failed to commit proposal: {}",
                h.ep, h.error
            );
        }
    }
    out
}

pub fn endpoint_status(rows: &[EpStatus]) -> String {
    table::status_rows(rows)
        .iter()
        .map(|row| format!("{}\n", row.join(", ")))
        .collect()
}

pub fn endpoint_hashkv(rows: &[EpHashKv]) -> String {
    rows.iter()
        .map(|h| format!("{}, {}\n", h.ep, h.resp.hash))
        .collect()
}

/// `DBStatus`: `hash, revision, total keys, total size`.
pub fn db_status(s: &super::DbStatus) -> String {
    format!(
        "{:x}, {}, {}, {}\n",
        s.hash,
        s.revision,
        s.total_key,
        crate::v3::go_text::humanize_bytes(s.total_size.max(0) as u64)
    )
}

/// `RoleGet`: the keys a role may read, then those it may write; a range
/// as `[key, end)` (`<open ended>` for the end `\0`), noted as a prefix
/// when the end is the key's prefix end.
pub fn role_get(name: &str, r: &AuthRoleGetResponse) -> String {
    let mut out = format!("Role {name}\nKV Read:\n");
    let print = |out: &mut String, p: &Permission| {
        let key = lossy(&p.key);
        if p.range_end.is_empty() {
            let _ = writeln!(out, "\t{key}");
            return;
        }
        if p.range_end == b"\0" {
            let _ = write!(out, "\t[{key}, <open ended>");
        } else {
            let _ = write!(out, "\t[{key}, {})", lossy(&p.range_end));
        }
        if prefix_end(&p.key) == p.range_end {
            let _ = write!(out, " (prefix {key})");
        }
        out.push('\n');
    };
    let read = [PermType::Read as i32, PermType::Readwrite as i32];
    for p in r.perm.iter().filter(|p| read.contains(&p.perm_type)) {
        print(&mut out, p);
    }
    out.push_str("KV Write:\n");
    let write = [PermType::Write as i32, PermType::Readwrite as i32];
    for p in r.perm.iter().filter(|p| write.contains(&p.perm_type)) {
        print(&mut out, p);
    }
    out
}

/// `UserGet`: the name and the roles on one line.
pub fn user_get(name: &str, r: &AuthUserGetResponse) -> String {
    let mut out = format!("User: {name}\nRoles:");
    for role in &r.roles {
        let _ = write!(out, " {role}");
    }
    out.push('\n');
    out
}

/// `RoleList`, `UserList`: a name a line.
pub fn names(names: &[String]) -> String {
    names.iter().map(|n| format!("{n}\n")).collect()
}
