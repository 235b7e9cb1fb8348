//! The v3 requests, responses and records, as plain Rust.
//!
//! Field names follow etcd 3.4's `api/etcdserverpb/rpc.proto` and
//! `api/mvccpb/kv.proto` (as prost would name them: `TTL` is `ttl`, `ID` is
//! `id`), and a `oneof` is an `Option` of an enum in a module named after its
//! message, so the codec between these and the generated protobuf types maps
//! field for field. The only header field this crate fills is `revision`;
//! cluster id, member id and raft term are the server's.

use serde::{Deserialize, Serialize};

/// The response header as far as the keyspace knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResponseHeader {
    /// The keyspace revision the response was answered at. Zero in the
    /// response of a nested txn, as etcd leaves it.
    pub revision: i64,
}

impl ResponseHeader {
    pub(crate) fn at(revision: i64) -> Self {
        ResponseHeader { revision }
    }
}

/// `mvccpb.KeyValue`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: Vec<u8>,
    /// The revision of the put that created this generation of the key.
    pub create_revision: i64,
    /// The revision of the last change of the key.
    pub mod_revision: i64,
    /// Puts since the key was (re)created; 1 after the creating put.
    pub version: i64,
    pub value: Vec<u8>,
    /// The lease attached to the key, 0 for none.
    pub lease: i64,
}

/// `mvccpb.Event.EventType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[default]
    Put,
    Delete,
}

/// `mvccpb.Event`: one change of one key. For a delete, `kv` holds only the
/// key and `mod_revision` (the delete's revision), as etcd's watch sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// Proto field `type`.
    pub kind: EventType,
    pub kv: KeyValue,
    /// The key's value before this change, when that is still held (not
    /// compacted) and the key existed.
    pub prev_kv: Option<KeyValue>,
}

/// `RangeRequest.SortOrder`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortOrder {
    #[default]
    None,
    Ascend,
    Descend,
}

/// `RangeRequest.SortTarget`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortTarget {
    #[default]
    Key,
    Version,
    Create,
    Mod,
    Value,
}

/// `RangeRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RangeRequest {
    pub key: Vec<u8>,
    /// Empty: `key` alone; `"\0"`: every key >= `key`; otherwise `[key, range_end)`.
    pub range_end: Vec<u8>,
    /// At most this many kvs; 0 or negative: no limit.
    pub limit: i64,
    /// Read at this revision; 0 or negative: the current one.
    pub revision: i64,
    pub sort_order: SortOrder,
    pub sort_target: SortTarget,
    /// Linearizable or not is the server's concern; ignored here.
    pub serializable: bool,
    pub keys_only: bool,
    pub count_only: bool,
    pub min_mod_revision: i64,
    pub max_mod_revision: i64,
    pub min_create_revision: i64,
    pub max_create_revision: i64,
}

/// `RangeResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RangeResponse {
    pub header: ResponseHeader,
    pub kvs: Vec<KeyValue>,
    pub more: bool,
    /// Keys in the range at the revision read, before the min/max filters
    /// and the limit.
    pub count: i64,
}

/// `PutRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PutRequest {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub lease: i64,
    pub prev_kv: bool,
    pub ignore_value: bool,
    pub ignore_lease: bool,
}

/// `PutResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PutResponse {
    pub header: ResponseHeader,
    pub prev_kv: Option<KeyValue>,
}

/// `DeleteRangeRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub prev_kv: bool,
}

/// `DeleteRangeResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeleteRangeResponse {
    pub header: ResponseHeader,
    pub deleted: i64,
    pub prev_kvs: Vec<KeyValue>,
}

/// `Compare.CompareResult`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompareResult {
    #[default]
    Equal,
    Greater,
    Less,
    NotEqual,
}

/// `Compare.CompareTarget`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompareTarget {
    #[default]
    Version,
    Create,
    Mod,
    Value,
    Lease,
}

/// The `oneof target_union` of `Compare`.
pub mod compare {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum TargetUnion {
        Version(i64),
        CreateRevision(i64),
        ModRevision(i64),
        Value(Vec<u8>),
        Lease(i64),
    }
}

/// `Compare`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Compare {
    pub result: CompareResult,
    pub target: CompareTarget,
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    /// The value compared against; a variant other than `target`'s (or none)
    /// compares against 0 / the empty value, as etcd does.
    pub target_union: Option<compare::TargetUnion>,
}

/// The `oneof request` of `RequestOp`.
pub mod request_op {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum Request {
        RequestRange(super::RangeRequest),
        RequestPut(super::PutRequest),
        RequestDeleteRange(super::DeleteRangeRequest),
        RequestTxn(super::TxnRequest),
    }
}

/// `RequestOp`. `request: None` is an empty op, which etcd refuses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestOp {
    pub request: Option<request_op::Request>,
}

/// The `oneof response` of `ResponseOp`.
pub mod response_op {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum Response {
        ResponseRange(super::RangeResponse),
        ResponsePut(super::PutResponse),
        ResponseDeleteRange(super::DeleteRangeResponse),
        ResponseTxn(super::TxnResponse),
    }
}

/// `ResponseOp`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResponseOp {
    pub response: Option<response_op::Response>,
}

/// `TxnRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<RequestOp>,
    pub failure: Vec<RequestOp>,
}

/// `TxnResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxnResponse {
    pub header: ResponseHeader,
    pub succeeded: bool,
    pub responses: Vec<ResponseOp>,
}

/// `CompactionRequest`. `physical` (wait until the compaction is on disk) is
/// the server's concern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CompactionRequest {
    pub revision: i64,
    pub physical: bool,
}

/// `CompactionResponse`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CompactionResponse {
    pub header: ResponseHeader,
}

/// `LeaseGrantRequest`. `id` 0 lets the keyspace choose one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseGrantRequest {
    pub ttl: i64,
    pub id: i64,
}

/// `LeaseGrantResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseGrantResponse {
    pub header: ResponseHeader,
    pub id: i64,
    /// The TTL granted: the one asked for, raised to the minimum.
    pub ttl: i64,
    pub error: String,
}

/// `LeaseRevokeRequest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseRevokeRequest {
    pub id: i64,
}

/// `LeaseRevokeResponse`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseRevokeResponse {
    pub header: ResponseHeader,
}

/// `LeaseKeepAliveRequest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseKeepAliveRequest {
    pub id: i64,
}

/// `LeaseKeepAliveResponse`. etcd answers a keep-alive of an unknown lease
/// with `ttl` 0 rather than an error; [`crate::Keyspace::lease_keep_alive`]
/// returns the error and the server answers as etcd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseKeepAliveResponse {
    pub header: ResponseHeader,
    pub id: i64,
    pub ttl: i64,
}

/// `LeaseTimeToLiveRequest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseTimeToLiveRequest {
    pub id: i64,
    pub keys: bool,
}

/// `LeaseTimeToLiveResponse`. An unknown lease is `ttl` -1, as etcd answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseTimeToLiveResponse {
    pub header: ResponseHeader,
    pub id: i64,
    /// Whole seconds left (truncated), -1 for an unknown lease.
    pub ttl: i64,
    pub granted_ttl: i64,
    /// The attached keys, in key order, when asked for.
    pub keys: Vec<Vec<u8>>,
}

/// `LeaseStatus`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseStatus {
    pub id: i64,
}

/// `LeaseLeasesResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseLeasesResponse {
    pub header: ResponseHeader,
    /// Every lease, by id (etcd's order is its map's, i.e. random).
    pub leases: Vec<LeaseStatus>,
}
