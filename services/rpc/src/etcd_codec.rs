//! etcd's protobuf messages ⇄ the keyspace's types ([`concord_api::v3::mvcc`]),
//! both ways, in one copy: requests to the keyspace and its answers back to
//! protobuf for the v3 services (concord-v3rpc), and the other way for a
//! gateway calling a member's v3 services ([`crate::keyspace_grpc`]). Field
//! for field: the keyspace's types are named after etcd's protos, so
//! each conversion is a copy. Enum numbers a client sends that etcd's protos
//! do not define become the default, as Go's `switch` without a matching
//! case leaves them.

use crate::etcd::authpb;
use crate::etcd::etcdserverpb as pb;
use crate::etcd::mvccpb;
use concord_api::v3::mvcc;

// ---- requests: protobuf to keyspace ----

pub fn range_request(r: pb::RangeRequest) -> mvcc::RangeRequest {
    use pb::range_request::{SortOrder, SortTarget};
    mvcc::RangeRequest {
        key: r.key,
        range_end: r.range_end,
        limit: r.limit,
        revision: r.revision,
        sort_order: match SortOrder::try_from(r.sort_order) {
            Ok(SortOrder::Ascend) => mvcc::SortOrder::Ascend,
            Ok(SortOrder::Descend) => mvcc::SortOrder::Descend,
            _ => mvcc::SortOrder::None,
        },
        sort_target: match SortTarget::try_from(r.sort_target) {
            Ok(SortTarget::Version) => mvcc::SortTarget::Version,
            Ok(SortTarget::Create) => mvcc::SortTarget::Create,
            Ok(SortTarget::Mod) => mvcc::SortTarget::Mod,
            Ok(SortTarget::Value) => mvcc::SortTarget::Value,
            _ => mvcc::SortTarget::Key,
        },
        serializable: r.serializable,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    }
}

pub fn put_request(r: pb::PutRequest) -> mvcc::PutRequest {
    mvcc::PutRequest {
        key: r.key,
        value: r.value,
        lease: r.lease,
        prev_kv: r.prev_kv,
        ignore_value: r.ignore_value,
        ignore_lease: r.ignore_lease,
    }
}

pub fn delete_range_request(r: pb::DeleteRangeRequest) -> mvcc::DeleteRangeRequest {
    mvcc::DeleteRangeRequest {
        key: r.key,
        range_end: r.range_end,
        prev_kv: r.prev_kv,
    }
}

fn compare(c: pb::Compare) -> mvcc::Compare {
    use pb::compare::{CompareResult, CompareTarget, TargetUnion};
    mvcc::Compare {
        result: match CompareResult::try_from(c.result) {
            Ok(CompareResult::Greater) => mvcc::CompareResult::Greater,
            Ok(CompareResult::Less) => mvcc::CompareResult::Less,
            Ok(CompareResult::NotEqual) => mvcc::CompareResult::NotEqual,
            _ => mvcc::CompareResult::Equal,
        },
        target: match CompareTarget::try_from(c.target) {
            Ok(CompareTarget::Create) => mvcc::CompareTarget::Create,
            Ok(CompareTarget::Mod) => mvcc::CompareTarget::Mod,
            Ok(CompareTarget::Value) => mvcc::CompareTarget::Value,
            Ok(CompareTarget::Lease) => mvcc::CompareTarget::Lease,
            _ => mvcc::CompareTarget::Version,
        },
        key: c.key,
        range_end: c.range_end,
        target_union: c.target_union.map(|t| match t {
            TargetUnion::Version(v) => mvcc::compare::TargetUnion::Version(v),
            TargetUnion::CreateRevision(v) => mvcc::compare::TargetUnion::CreateRevision(v),
            TargetUnion::ModRevision(v) => mvcc::compare::TargetUnion::ModRevision(v),
            TargetUnion::Value(v) => mvcc::compare::TargetUnion::Value(v),
            TargetUnion::Lease(v) => mvcc::compare::TargetUnion::Lease(v),
        }),
    }
}

fn request_op(op: pb::RequestOp) -> mvcc::RequestOp {
    use mvcc::request_op::Request as M;
    use pb::request_op::Request as P;
    mvcc::RequestOp {
        request: op.request.map(|r| match r {
            P::RequestRange(r) => M::RequestRange(range_request(r)),
            P::RequestPut(r) => M::RequestPut(put_request(r)),
            P::RequestDeleteRange(r) => M::RequestDeleteRange(delete_range_request(r)),
            P::RequestTxn(r) => M::RequestTxn(txn_request(r)),
        }),
    }
}

pub fn txn_request(r: pb::TxnRequest) -> mvcc::TxnRequest {
    mvcc::TxnRequest {
        compare: r.compare.into_iter().map(compare).collect(),
        success: r.success.into_iter().map(request_op).collect(),
        failure: r.failure.into_iter().map(request_op).collect(),
    }
}

// ---- responses: keyspace to protobuf ----
//
// The headers made here carry the revision only; the services fill the
// cluster, member and term of a top-level answer (etcd fills only those,
// and leaves the headers inside a txn's responses with their revision).

fn inner_header(h: mvcc::ResponseHeader) -> Option<pb::ResponseHeader> {
    Some(pb::ResponseHeader {
        revision: h.revision,
        ..Default::default()
    })
}

pub fn key_value(kv: mvcc::KeyValue) -> mvccpb::KeyValue {
    mvccpb::KeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

/// An event; its `prev_kv` only if `with_prev_kv` (the watcher asked).
pub fn event(e: mvcc::Event, with_prev_kv: bool) -> mvccpb::Event {
    mvccpb::Event {
        r#type: match e.kind {
            mvcc::EventType::Put => mvccpb::event::EventType::Put,
            mvcc::EventType::Delete => mvccpb::event::EventType::Delete,
        } as i32,
        kv: Some(key_value(e.kv)),
        prev_kv: if with_prev_kv {
            e.prev_kv.map(key_value)
        } else {
            None
        },
    }
}

pub fn range_response(r: mvcc::RangeResponse) -> pb::RangeResponse {
    pb::RangeResponse {
        header: inner_header(r.header),
        kvs: r.kvs.into_iter().map(key_value).collect(),
        more: r.more,
        count: r.count,
    }
}

pub fn put_response(r: mvcc::PutResponse) -> pb::PutResponse {
    pb::PutResponse {
        header: inner_header(r.header),
        prev_kv: r.prev_kv.map(key_value),
    }
}

pub fn delete_range_response(r: mvcc::DeleteRangeResponse) -> pb::DeleteRangeResponse {
    pb::DeleteRangeResponse {
        header: inner_header(r.header),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(key_value).collect(),
    }
}

fn response_op(op: mvcc::ResponseOp) -> pb::ResponseOp {
    use mvcc::response_op::Response as M;
    use pb::response_op::Response as P;
    pb::ResponseOp {
        response: op.response.map(|r| match r {
            M::ResponseRange(r) => P::ResponseRange(range_response(r)),
            M::ResponsePut(r) => P::ResponsePut(put_response(r)),
            M::ResponseDeleteRange(r) => P::ResponseDeleteRange(delete_range_response(r)),
            M::ResponseTxn(r) => P::ResponseTxn(txn_response(r)),
        }),
    }
}

pub fn txn_response(r: mvcc::TxnResponse) -> pb::TxnResponse {
    pb::TxnResponse {
        header: inner_header(r.header),
        succeeded: r.succeeded,
        responses: r.responses.into_iter().map(response_op).collect(),
    }
}

pub fn lease_grant_response(r: mvcc::LeaseGrantResponse) -> pb::LeaseGrantResponse {
    pb::LeaseGrantResponse {
        header: inner_header(r.header),
        id: r.id,
        ttl: r.ttl,
        error: r.error,
    }
}

pub fn lease_time_to_live_response(
    r: mvcc::LeaseTimeToLiveResponse,
) -> pb::LeaseTimeToLiveResponse {
    pb::LeaseTimeToLiveResponse {
        header: inner_header(r.header),
        id: r.id,
        ttl: r.ttl,
        granted_ttl: r.granted_ttl,
        keys: r.keys,
    }
}

pub fn lease_leases_response(r: mvcc::LeaseLeasesResponse) -> pb::LeaseLeasesResponse {
    pb::LeaseLeasesResponse {
        header: inner_header(r.header),
        leases: r
            .leases
            .into_iter()
            .map(|l| pb::LeaseStatus { id: l.id })
            .collect(),
    }
}

// ---- the other way, for a gateway calling a member's v3 services ----
//
// Requests: keyspace to protobuf.

pub fn range_request_to_pb(r: mvcc::RangeRequest) -> pb::RangeRequest {
    use pb::range_request::{SortOrder, SortTarget};
    pb::RangeRequest {
        key: r.key,
        range_end: r.range_end,
        limit: r.limit,
        revision: r.revision,
        sort_order: match r.sort_order {
            mvcc::SortOrder::None => SortOrder::None,
            mvcc::SortOrder::Ascend => SortOrder::Ascend,
            mvcc::SortOrder::Descend => SortOrder::Descend,
        } as i32,
        sort_target: match r.sort_target {
            mvcc::SortTarget::Key => SortTarget::Key,
            mvcc::SortTarget::Version => SortTarget::Version,
            mvcc::SortTarget::Create => SortTarget::Create,
            mvcc::SortTarget::Mod => SortTarget::Mod,
            mvcc::SortTarget::Value => SortTarget::Value,
        } as i32,
        serializable: r.serializable,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    }
}

pub fn put_request_to_pb(r: mvcc::PutRequest) -> pb::PutRequest {
    pb::PutRequest {
        key: r.key,
        value: r.value,
        lease: r.lease,
        prev_kv: r.prev_kv,
        ignore_value: r.ignore_value,
        ignore_lease: r.ignore_lease,
    }
}

pub fn delete_range_request_to_pb(r: mvcc::DeleteRangeRequest) -> pb::DeleteRangeRequest {
    pb::DeleteRangeRequest {
        key: r.key,
        range_end: r.range_end,
        prev_kv: r.prev_kv,
    }
}

fn compare_to_pb(c: mvcc::Compare) -> pb::Compare {
    use pb::compare::{CompareResult, CompareTarget, TargetUnion};
    pb::Compare {
        result: match c.result {
            mvcc::CompareResult::Equal => CompareResult::Equal,
            mvcc::CompareResult::Greater => CompareResult::Greater,
            mvcc::CompareResult::Less => CompareResult::Less,
            mvcc::CompareResult::NotEqual => CompareResult::NotEqual,
        } as i32,
        target: match c.target {
            mvcc::CompareTarget::Version => CompareTarget::Version,
            mvcc::CompareTarget::Create => CompareTarget::Create,
            mvcc::CompareTarget::Mod => CompareTarget::Mod,
            mvcc::CompareTarget::Value => CompareTarget::Value,
            mvcc::CompareTarget::Lease => CompareTarget::Lease,
        } as i32,
        key: c.key,
        range_end: c.range_end,
        target_union: c.target_union.map(|t| match t {
            mvcc::compare::TargetUnion::Version(v) => TargetUnion::Version(v),
            mvcc::compare::TargetUnion::CreateRevision(v) => TargetUnion::CreateRevision(v),
            mvcc::compare::TargetUnion::ModRevision(v) => TargetUnion::ModRevision(v),
            mvcc::compare::TargetUnion::Value(v) => TargetUnion::Value(v),
            mvcc::compare::TargetUnion::Lease(v) => TargetUnion::Lease(v),
        }),
    }
}

fn request_op_to_pb(op: mvcc::RequestOp) -> pb::RequestOp {
    use mvcc::request_op::Request as M;
    use pb::request_op::Request as P;
    pb::RequestOp {
        request: op.request.map(|r| match r {
            M::RequestRange(r) => P::RequestRange(range_request_to_pb(r)),
            M::RequestPut(r) => P::RequestPut(put_request_to_pb(r)),
            M::RequestDeleteRange(r) => P::RequestDeleteRange(delete_range_request_to_pb(r)),
            M::RequestTxn(r) => P::RequestTxn(txn_request_to_pb(r)),
        }),
    }
}

pub fn txn_request_to_pb(r: mvcc::TxnRequest) -> pb::TxnRequest {
    pb::TxnRequest {
        compare: r.compare.into_iter().map(compare_to_pb).collect(),
        success: r.success.into_iter().map(request_op_to_pb).collect(),
        failure: r.failure.into_iter().map(request_op_to_pb).collect(),
    }
}

// Responses: protobuf to keyspace (a missing header is revision 0).

fn header_from_pb(h: Option<pb::ResponseHeader>) -> mvcc::ResponseHeader {
    mvcc::ResponseHeader {
        revision: h.map_or(0, |h| h.revision),
    }
}

pub fn key_value_from_pb(kv: mvccpb::KeyValue) -> mvcc::KeyValue {
    mvcc::KeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

/// An event; one without a key-value (which etcd never sends) has an
/// empty one.
pub fn event_from_pb(e: mvccpb::Event) -> mvcc::Event {
    mvcc::Event {
        kind: match mvccpb::event::EventType::try_from(e.r#type) {
            Ok(mvccpb::event::EventType::Delete) => mvcc::EventType::Delete,
            _ => mvcc::EventType::Put,
        },
        kv: e.kv.map(key_value_from_pb).unwrap_or_default(),
        prev_kv: e.prev_kv.map(key_value_from_pb),
    }
}

pub fn range_response_from_pb(r: pb::RangeResponse) -> mvcc::RangeResponse {
    mvcc::RangeResponse {
        header: header_from_pb(r.header),
        kvs: r.kvs.into_iter().map(key_value_from_pb).collect(),
        more: r.more,
        count: r.count,
    }
}

pub fn put_response_from_pb(r: pb::PutResponse) -> mvcc::PutResponse {
    mvcc::PutResponse {
        header: header_from_pb(r.header),
        prev_kv: r.prev_kv.map(key_value_from_pb),
    }
}

pub fn delete_range_response_from_pb(r: pb::DeleteRangeResponse) -> mvcc::DeleteRangeResponse {
    mvcc::DeleteRangeResponse {
        header: header_from_pb(r.header),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(key_value_from_pb).collect(),
    }
}

fn response_op_from_pb(op: pb::ResponseOp) -> mvcc::ResponseOp {
    use mvcc::response_op::Response as M;
    use pb::response_op::Response as P;
    mvcc::ResponseOp {
        response: op.response.map(|r| match r {
            P::ResponseRange(r) => M::ResponseRange(range_response_from_pb(r)),
            P::ResponsePut(r) => M::ResponsePut(put_response_from_pb(r)),
            P::ResponseDeleteRange(r) => M::ResponseDeleteRange(delete_range_response_from_pb(r)),
            P::ResponseTxn(r) => M::ResponseTxn(txn_response_from_pb(r)),
        }),
    }
}

pub fn txn_response_from_pb(r: pb::TxnResponse) -> mvcc::TxnResponse {
    mvcc::TxnResponse {
        header: header_from_pb(r.header),
        succeeded: r.succeeded,
        responses: r.responses.into_iter().map(response_op_from_pb).collect(),
    }
}

pub fn compaction_response_from_pb(r: pb::CompactionResponse) -> mvcc::CompactionResponse {
    mvcc::CompactionResponse {
        header: header_from_pb(r.header),
    }
}

pub fn lease_grant_response_from_pb(r: pb::LeaseGrantResponse) -> mvcc::LeaseGrantResponse {
    mvcc::LeaseGrantResponse {
        header: header_from_pb(r.header),
        id: r.id,
        ttl: r.ttl,
        error: r.error,
    }
}

pub fn lease_revoke_response_from_pb(r: pb::LeaseRevokeResponse) -> mvcc::LeaseRevokeResponse {
    mvcc::LeaseRevokeResponse {
        header: header_from_pb(r.header),
    }
}

pub fn lease_keep_alive_response_from_pb(
    r: pb::LeaseKeepAliveResponse,
) -> mvcc::LeaseKeepAliveResponse {
    mvcc::LeaseKeepAliveResponse {
        header: header_from_pb(r.header),
        id: r.id,
        ttl: r.ttl,
    }
}

pub fn lease_time_to_live_response_from_pb(
    r: pb::LeaseTimeToLiveResponse,
) -> mvcc::LeaseTimeToLiveResponse {
    mvcc::LeaseTimeToLiveResponse {
        header: header_from_pb(r.header),
        id: r.id,
        ttl: r.ttl,
        granted_ttl: r.granted_ttl,
        keys: r.keys,
    }
}

pub fn lease_leases_response_from_pb(r: pb::LeaseLeasesResponse) -> mvcc::LeaseLeasesResponse {
    mvcc::LeaseLeasesResponse {
        header: header_from_pb(r.header),
        leases: r
            .leases
            .into_iter()
            .map(|l| mvcc::LeaseStatus { id: l.id })
            .collect(),
    }
}

/// An `Alarm` request, to a member's `Maintenance` service.
pub fn alarm_request_to_pb(r: mvcc::AlarmRequest) -> pb::AlarmRequest {
    use pb::alarm_request::AlarmAction;
    pb::AlarmRequest {
        action: match r.action {
            mvcc::AlarmAction::Get => AlarmAction::Get,
            mvcc::AlarmAction::Activate => AlarmAction::Activate,
            mvcc::AlarmAction::Deactivate => AlarmAction::Deactivate,
        } as i32,
        member_id: r.member_id,
        alarm: alarm_type_to_pb(r.alarm) as i32,
    }
}

fn alarm_type_to_pb(t: mvcc::AlarmType) -> pb::AlarmType {
    match t {
        mvcc::AlarmType::None => pb::AlarmType::None,
        mvcc::AlarmType::NoSpace => pb::AlarmType::Nospace,
        mvcc::AlarmType::Corrupt => pb::AlarmType::Corrupt,
    }
}

/// A member's `Alarm` answer (an alarm type etcd's protos do not define is
/// none).
pub fn alarm_response_from_pb(r: pb::AlarmResponse) -> mvcc::AlarmResponse {
    mvcc::AlarmResponse {
        header: header_from_pb(r.header),
        alarms: r
            .alarms
            .into_iter()
            .map(|a| mvcc::Alarm {
                member_id: a.member_id,
                alarm: match pb::AlarmType::try_from(a.alarm) {
                    Ok(pb::AlarmType::Nospace) => mvcc::AlarmType::NoSpace,
                    Ok(pb::AlarmType::Corrupt) => mvcc::AlarmType::Corrupt,
                    _ => mvcc::AlarmType::None,
                },
            })
            .collect(),
    }
}

/// A role's key permission as etcd's `authpb.Permission`.
pub fn permission_to_pb(p: &mvcc::Permission) -> authpb::Permission {
    authpb::Permission {
        perm_type: p.perm_type.code(),
        key: p.key.clone(),
        range_end: p.range_end.clone(),
    }
}

/// etcd's `authpb.Permission` as the auth store keeps it (a type number
/// outside the enum is kept as READ).
pub fn permission_from_pb(p: authpb::Permission) -> mvcc::Permission {
    mvcc::Permission {
        perm_type: mvcc::PermType::from_code(p.perm_type).unwrap_or_default(),
        key: p.key,
        range_end: p.range_end,
    }
}

/// The keyspace's error whose text (etcd's, which clients match) a member
/// answered with, if it is one.
pub fn keyspace_error_from_text(text: &str) -> Option<mvcc::Error> {
    use mvcc::Error as E;
    [
        E::EmptyKey,
        E::KeyNotFound,
        E::ValueProvided,
        E::LeaseProvided,
        E::TooManyOps,
        E::DuplicateKey,
        E::Compacted,
        E::FutureRev,
        E::NoSpace,
        E::LeaseNotFound,
        E::LeaseExist,
        E::LeaseTtlTooLarge,
        E::RootUserNotExist,
        E::RootRoleNotExist,
        E::UserAlreadyExist,
        E::UserEmpty,
        E::UserNotFound,
        E::RoleAlreadyExist,
        E::RoleNotFound,
        E::RoleEmpty,
        E::AuthFailed,
        E::PermissionDenied,
        E::RoleNotGranted,
        E::PermissionNotGranted,
        E::AuthNotEnabled,
        E::InvalidAuthToken,
        E::InvalidAuthMgmt,
    ]
    .into_iter()
    .find(|e| e.to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A nested txn survives the trip with every field in place.
    #[test]
    fn txn_request_field_for_field() {
        use pb::compare::TargetUnion;
        let p = pb::TxnRequest {
            compare: vec![pb::Compare {
                result: pb::compare::CompareResult::Less as i32,
                target: pb::compare::CompareTarget::Mod as i32,
                key: b"k".to_vec(),
                range_end: b"l".to_vec(),
                target_union: Some(TargetUnion::ModRevision(7)),
            }],
            success: vec![pb::RequestOp {
                request: Some(pb::request_op::Request::RequestTxn(pb::TxnRequest {
                    failure: vec![pb::RequestOp {
                        request: Some(pb::request_op::Request::RequestPut(pb::PutRequest {
                            key: b"a".to_vec(),
                            value: b"v".to_vec(),
                            lease: 9,
                            prev_kv: true,
                            ignore_value: false,
                            ignore_lease: true,
                        })),
                    }],
                    ..Default::default()
                })),
            }],
            failure: vec![pb::RequestOp { request: None }],
        };
        let m = txn_request(p);
        assert_eq!(m.compare[0].result, mvcc::CompareResult::Less);
        assert_eq!(m.compare[0].target, mvcc::CompareTarget::Mod);
        assert_eq!(
            m.compare[0].target_union,
            Some(mvcc::compare::TargetUnion::ModRevision(7))
        );
        let Some(mvcc::request_op::Request::RequestTxn(inner)) = &m.success[0].request else {
            panic!("nested txn lost: {m:?}");
        };
        let Some(mvcc::request_op::Request::RequestPut(put)) = &inner.failure[0].request else {
            panic!("nested put lost: {inner:?}");
        };
        assert_eq!((put.lease, put.prev_kv, put.ignore_lease), (9, true, true));
        assert!(m.failure[0].request.is_none());
    }

    #[test]
    fn events_keep_prev_kv_only_when_asked() {
        let e = mvcc::Event {
            kind: mvcc::EventType::Delete,
            kv: mvcc::KeyValue {
                key: b"k".to_vec(),
                mod_revision: 5,
                ..Default::default()
            },
            prev_kv: Some(mvcc::KeyValue {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            }),
        };
        let with = event(e.clone(), true);
        assert_eq!(with.r#type, 1);
        assert_eq!(with.prev_kv.unwrap().value, b"v");
        assert!(event(e, false).prev_kv.is_none());
    }
    /// A nested txn goes to the member and back unchanged.
    #[test]
    fn txn_request_round_trip() {
        use pb::compare::TargetUnion;
        let p = pb::TxnRequest {
            compare: vec![pb::Compare {
                result: pb::compare::CompareResult::NotEqual as i32,
                target: pb::compare::CompareTarget::Lease as i32,
                key: b"k".to_vec(),
                range_end: b"l".to_vec(),
                target_union: Some(TargetUnion::Lease(3)),
            }],
            success: vec![pb::RequestOp {
                request: Some(pb::request_op::Request::RequestRange(pb::RangeRequest {
                    key: b"a".to_vec(),
                    sort_order: pb::range_request::SortOrder::Descend as i32,
                    sort_target: pb::range_request::SortTarget::Mod as i32,
                    limit: 4,
                    serializable: true,
                    ..Default::default()
                })),
            }],
            failure: vec![pb::RequestOp {
                request: Some(pb::request_op::Request::RequestDeleteRange(
                    pb::DeleteRangeRequest {
                        key: b"d".to_vec(),
                        range_end: vec![0],
                        prev_kv: true,
                    },
                )),
            }],
        };
        assert_eq!(txn_request_to_pb(txn_request(p.clone())), p);
    }

    /// A txn answer comes back from the member as the keyspace made it.
    #[test]
    fn txn_response_round_trip() {
        let kv = mvcc::KeyValue {
            key: b"k".to_vec(),
            create_revision: 2,
            mod_revision: 3,
            version: 2,
            value: b"v".to_vec(),
            lease: 7,
        };
        let m = mvcc::TxnResponse {
            header: mvcc::ResponseHeader { revision: 9 },
            succeeded: true,
            responses: vec![
                mvcc::ResponseOp {
                    response: Some(mvcc::response_op::Response::ResponseRange(
                        mvcc::RangeResponse {
                            header: mvcc::ResponseHeader { revision: 9 },
                            kvs: vec![kv.clone()],
                            more: true,
                            count: 5,
                        },
                    )),
                },
                mvcc::ResponseOp {
                    response: Some(mvcc::response_op::Response::ResponsePut(
                        mvcc::PutResponse {
                            header: mvcc::ResponseHeader { revision: 9 },
                            prev_kv: Some(kv),
                        },
                    )),
                },
            ],
        };
        assert_eq!(txn_response_from_pb(txn_response(m.clone())), m);
    }

    /// Every keyspace error is recognised by its text, and nothing else is.
    #[test]
    fn keyspace_errors_by_text() {
        for e in [
            mvcc::Error::KeyNotFound,
            mvcc::Error::Compacted,
            mvcc::Error::FutureRev,
            mvcc::Error::LeaseNotFound,
            mvcc::Error::LeaseTtlTooLarge,
            mvcc::Error::PermissionDenied,
            mvcc::Error::InvalidAuthMgmt,
        ] {
            assert_eq!(keyspace_error_from_text(&e.to_string()), Some(e));
        }
        assert_eq!(keyspace_error_from_text("etcdserver: no leader"), None);
    }
}
