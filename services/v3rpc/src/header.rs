//! etcd's `ResponseHeader` from the contract's [`V3Header`] (etcd's
//! `v3rpc/header.go`): the cluster, the answering member, the raft term, and
//! the keyspace revision the answer was produced at.

use concord_api::v3::V3Header;
use concord_rpc::etcd::etcdserverpb::ResponseHeader;

/// The header of an answer produced at `h`.
pub fn header(h: V3Header) -> ResponseHeader {
    ResponseHeader {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: h.revision,
        raft_term: h.raft_term,
    }
}

/// The header of an answer whose keyspace response carries its own
/// revision (etcd's `header.fill`: the response's revision, the current one
/// if it has none).
pub fn with_revision(h: V3Header, revision: i64) -> ResponseHeader {
    ResponseHeader {
        revision: if revision == 0 { h.revision } else { revision },
        ..header(h)
    }
}

/// The header etcd's `Cluster` service answers with: no revision.
pub fn without_revision(h: V3Header) -> ResponseHeader {
    ResponseHeader {
        revision: 0,
        ..header(h)
    }
}
