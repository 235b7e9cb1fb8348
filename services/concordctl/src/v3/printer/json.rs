//! The `json` writer (`printer_json.go`): Go's `encoding/json` of the
//! response structs etcdctl holds. For etcd's protobuf structs that is
//! their gogoproto tags (`cluster_id`, `kvs`, `prev_kv`, `peerURLs`),
//! every field `omitempty`, bytes in base64, enums as numbers, a oneof as
//! `{"Response":{"ResponsePut":{...}}}`; clientv3's own lease structs
//! lift the header's fields to the top and name theirs `ID`, `TTL`, `id`,
//! `ttl`, `granted-ttl`; the watch response is clientv3's
//! (`Header`, `Events`, ...). Fields come in struct order, strings with
//! Go's HTML-safe escaping.

use concord_rpc::etcd::etcdserverpb::{
    response_op::Response, AlarmResponse, AuthRoleGetResponse, DeleteRangeResponse,
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeResponse,
    LeaseTimeToLiveResponse, Member, MemberAddResponse, MoveLeaderResponse, PutResponse,
    RangeResponse, ResponseHeader, TxnResponse, WatchResponse,
};
use concord_rpc::etcd::mvccpb::{Event, KeyValue};

use super::{EpHashKv, EpHealth, EpStatus};

/// One JSON object being written, in field order.
struct Obj {
    buf: String,
    any: bool,
}

impl Obj {
    fn new() -> Obj {
        Obj {
            buf: String::from("{"),
            any: false,
        }
    }

    fn raw(mut self, key: &str, value: String) -> Obj {
        if self.any {
            self.buf.push(',');
        }
        self.any = true;
        self.buf.push_str(&quote(key));
        self.buf.push(':');
        self.buf.push_str(&value);
        self
    }

    /// An `omitempty` field: left out when `value` is `None`.
    fn opt(self, key: &str, value: Option<String>) -> Obj {
        match value {
            Some(v) => self.raw(key, v),
            None => self,
        }
    }

    fn int(self, key: &str, v: impl Into<i128>) -> Obj {
        let v = v.into();
        self.opt(key, (v != 0).then(|| v.to_string()))
    }

    fn boolean(self, key: &str, v: bool) -> Obj {
        self.opt(key, v.then(|| "true".to_string()))
    }

    fn bytes(self, key: &str, v: &[u8]) -> Obj {
        self.opt(key, (!v.is_empty()).then(|| quote(&base64(v))))
    }

    fn string(self, key: &str, v: &str) -> Obj {
        self.opt(key, (!v.is_empty()).then(|| quote(v)))
    }

    fn list<T>(self, key: &str, items: &[T], each: impl Fn(&T) -> String) -> Obj {
        self.opt(key, (!items.is_empty()).then(|| array(items, each)))
    }

    /// The header's fields lifted into this object (an embedded pointer).
    fn header_fields(self, h: Option<&ResponseHeader>) -> Obj {
        match h {
            Some(h) => self
                .int("cluster_id", h.cluster_id)
                .int("member_id", h.member_id)
                .int("revision", h.revision)
                .int("raft_term", h.raft_term),
            None => self,
        }
    }

    fn header(self, h: Option<&ResponseHeader>) -> Obj {
        self.opt("header", h.map(header))
    }

    fn end(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

fn array<T>(items: &[T], each: impl Fn(&T) -> String) -> String {
    let parts: Vec<String> = items.iter().map(each).collect();
    format!("[{}]", parts.join(","))
}

/// `printJSON`'s line.
pub fn line(json: String) -> String {
    format!("{json}\n")
}

/// Go's JSON string: `"`, `\`, controls, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Standard base64 with padding, as `encoding/json` writes `[]byte`.
pub fn base64(b: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn header(h: &ResponseHeader) -> String {
    Obj::new().header_fields(Some(h)).end()
}

fn kv(k: &KeyValue) -> String {
    Obj::new()
        .bytes("key", &k.key)
        .int("create_revision", k.create_revision)
        .int("mod_revision", k.mod_revision)
        .int("version", k.version)
        .bytes("value", &k.value)
        .int("lease", k.lease)
        .end()
}

fn event(e: &Event) -> String {
    Obj::new()
        .int("type", e.r#type)
        .opt("kv", e.kv.as_ref().map(kv))
        .opt("prev_kv", e.prev_kv.as_ref().map(kv))
        .end()
}

fn member(m: &Member) -> String {
    Obj::new()
        .int("ID", m.id)
        .string("name", &m.name)
        .list("peerURLs", &m.peer_ur_ls, |u| quote(u))
        .list("clientURLs", &m.client_ur_ls, |u| quote(u))
        .boolean("isLearner", m.is_learner)
        .end()
}

pub fn range(r: &RangeResponse) -> String {
    Obj::new()
        .header(r.header.as_ref())
        .list("kvs", &r.kvs, kv)
        .boolean("more", r.more)
        .int("count", r.count)
        .end()
}

pub fn put(r: &PutResponse) -> String {
    Obj::new()
        .header(r.header.as_ref())
        .opt("prev_kv", r.prev_kv.as_ref().map(kv))
        .end()
}

pub fn del(r: &DeleteRangeResponse) -> String {
    Obj::new()
        .header(r.header.as_ref())
        .int("deleted", r.deleted)
        .list("prev_kvs", &r.prev_kvs, kv)
        .end()
}

pub fn txn(r: &TxnResponse) -> String {
    Obj::new()
        .header(r.header.as_ref())
        .boolean("succeeded", r.succeeded)
        .list("responses", &r.responses, |op| {
            let inner = match &op.response {
                Some(Response::ResponseRange(g)) => Obj::new().raw("ResponseRange", range(g)).end(),
                Some(Response::ResponsePut(p)) => Obj::new().raw("ResponsePut", put(p)).end(),
                Some(Response::ResponseDeleteRange(d)) => {
                    Obj::new().raw("ResponseDeleteRange", del(d)).end()
                }
                Some(Response::ResponseTxn(t)) => Obj::new().raw("ResponseTxn", txn(t)).end(),
                None => "null".to_string(),
            };
            Obj::new().raw("Response", inner).end()
        })
        .end()
}

/// clientv3's `WatchResponse`: its exported fields, untagged.
pub fn watch(r: &WatchResponse) -> String {
    // clientv3 always makes the event slice, so none is `[]`.
    Obj::new()
        .raw("Header", header(&r.header.unwrap_or_default()))
        .raw("Events", array(&r.events, event))
        .raw("CompactRevision", r.compact_revision.to_string())
        .raw("Canceled", r.canceled.to_string())
        .raw("Created", r.created.to_string())
        .end()
}

pub fn grant(r: &LeaseGrantResponse) -> String {
    Obj::new()
        .header_fields(r.header.as_ref())
        .raw("ID", r.id.to_string())
        .raw("TTL", r.ttl.to_string())
        .raw("Error", quote(&r.error))
        .end()
}

pub fn revoke(r: &LeaseRevokeResponse) -> String {
    Obj::new().header(r.header.as_ref()).end()
}

pub fn keep_alive(r: &LeaseKeepAliveResponse) -> String {
    Obj::new()
        .header_fields(r.header.as_ref())
        .raw("ID", r.id.to_string())
        .raw("TTL", r.ttl.to_string())
        .end()
}

pub fn time_to_live(r: &LeaseTimeToLiveResponse) -> String {
    let keys = if r.keys.is_empty() {
        "null".to_string()
    } else {
        array(&r.keys, |k| quote(&base64(k)))
    };
    Obj::new()
        .header_fields(r.header.as_ref())
        .raw("id", r.id.to_string())
        .raw("ttl", r.ttl.to_string())
        .raw("granted-ttl", r.granted_ttl.to_string())
        .raw("keys", keys)
        .end()
}

pub fn leases(r: &LeaseLeasesResponse) -> String {
    Obj::new()
        .header_fields(r.header.as_ref())
        .raw(
            "leases",
            array(&r.leases, |l| Obj::new().raw("id", l.id.to_string()).end()),
        )
        .end()
}

pub fn member_add(r: &MemberAddResponse) -> String {
    Obj::new()
        .header(r.header.as_ref())
        .opt("member", r.member.as_ref().map(member))
        .list("members", &r.members, member)
        .end()
}

/// The member list, remove and update responses: header and members.
pub fn members_changed(h: Option<&ResponseHeader>, members: &[Member]) -> String {
    Obj::new().header(h).list("members", members, member).end()
}

pub fn move_leader(r: &MoveLeaderResponse) -> String {
    Obj::new().header(r.header.as_ref()).end()
}

pub fn alarm(r: &AlarmResponse) -> String {
    Obj::new()
        .header(r.header.as_ref())
        .list("alarms", &r.alarms, |a| {
            Obj::new()
                .int("memberID", a.member_id)
                .int("alarm", a.alarm)
                .end()
        })
        .end()
}

pub fn endpoint_health(rows: &[EpHealth]) -> String {
    array(rows, |h| {
        Obj::new()
            .raw("endpoint", quote(&h.ep))
            .raw("health", h.health.to_string())
            .raw("took", quote(&h.took))
            .string("error", &h.error)
            .end()
    })
}

pub fn endpoint_status(rows: &[EpStatus]) -> String {
    array(rows, |s| {
        let r = &s.resp;
        let status = Obj::new()
            .header(r.header.as_ref())
            .string("version", &r.version)
            .int("dbSize", r.db_size)
            .int("leader", r.leader)
            .int("raftIndex", r.raft_index)
            .int("raftTerm", r.raft_term)
            .int("raftAppliedIndex", r.raft_applied_index)
            .list("errors", &r.errors, |e| quote(e))
            .int("dbSizeInUse", r.db_size_in_use)
            .boolean("isLearner", r.is_learner)
            .end();
        Obj::new()
            .raw("Endpoint", quote(&s.ep))
            .raw("Status", status)
            .end()
    })
}

pub fn endpoint_hashkv(rows: &[EpHashKv]) -> String {
    array(rows, |h| {
        let r = &h.resp;
        let hash = Obj::new()
            .header(r.header.as_ref())
            .int("hash", r.hash)
            .int("compact_revision", r.compact_revision)
            .end();
        Obj::new()
            .raw("Endpoint", quote(&h.ep))
            .raw("HashKV", hash)
            .end()
    })
}

/// `snapshot.Status` as `encoding/json` writes it.
pub fn db_status(s: &super::DbStatus) -> String {
    format!(
        "{{\"hash\":{},\"revision\":{},\"totalKey\":{},\"totalSize\":{}}}",
        s.hash, s.revision, s.total_key, s.total_size
    )
}

/// An auth response that carries its header alone (`AuthUserAddResponse`
/// and the others etcdctl prints no field of).
pub fn auth_header(h: Option<&ResponseHeader>) -> String {
    Obj::new().header(h).end()
}

/// `AuthRoleGetResponse`: the header and `authpb.Permission`s
/// (`permType` as a number, left out for `READ`, which is zero).
pub fn role_get(r: &AuthRoleGetResponse) -> String {
    Obj::new()
        .header(r.header.as_ref())
        .list("perm", &r.perm, |p| {
            Obj::new()
                .int("permType", p.perm_type)
                .bytes("key", &p.key)
                .bytes("range_end", &p.range_end)
                .end()
        })
        .end()
}

/// A response with a header and a list of names (`roles`, `users`).
pub fn names(h: Option<&ResponseHeader>, key: &str, names: &[String]) -> String {
    Obj::new().header(h).list(key, names, |n| quote(n)).end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_go() {
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"again"), "YWdhaW4=");
    }

    #[test]
    fn strings_html_safe() {
        assert_eq!(quote("<a&\"\n"), "\"\\u003ca\\u0026\\\"\\n\"");
    }
}
